/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page-table walker (ptwalk.c) and its two clients' interface: the
 * fork scan (ptwalk.c, called from probes.c) and the inspector
 * (inspect.c).
 */
#ifndef _COWTRACE_PTWALK_H
#define _COWTRACE_PTWALK_H

#include <linux/mm_types.h>
#include <linux/types.h>
#include <asm/pgtable_types.h>

enum ct_leaf {
	CT_LEAF_PMD,		/* a present huge PMD; page is its head */
	CT_LEAF_PMD_NONPRESENT,	/* a swap or migration PMD entry */
	CT_LEAF_PUD,		/* a 1 GiB leaf */
};

struct ct_walk_ops {
	/* Every PTE that is not none, present or not. */
	void (*pte)(struct vm_area_struct *vma, unsigned long addr, pte_t pte,
		    void *priv);
	/* Every leaf above the PTE level. */
	void (*leaf)(struct vm_area_struct *vma, unsigned long addr,
		     enum ct_leaf level, struct page *page, void *priv);
};

/*
 * Call @ops for every entry of @vma's page tables; the caller keeps the
 * tables alive (see ptwalk.c).
 */
void ct_walk_vma(struct vm_area_struct *vma, const struct ct_walk_ops *ops,
		 void *priv);

struct ct_fork_scan {
	u64 first;	/* anon pages now mapped twice: 1 -> 2 */
	u64 again;	/* anon pages now mapped 3+ times: n -> n+1 */
	u64 copied;	/* anon pages exclusive to the child: copied */
};

/* Add what fork did to the anonymous pages of @dst_vma to @res. */
void ct_scan_fork_vma(struct vm_area_struct *dst_vma,
		      struct ct_fork_scan *res);

#endif /* _COWTRACE_PTWALK_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table walks, for the fork-time scan and the inspector.
 *
 * The kernel's walk_page_range() and pte_offset_map_lock() are not
 * exported to modules, so cowtrace reads the x86_64 page tables itself,
 * each entry once (READ_ONCE), PTE tables under RCU (6.12 frees them by
 * RCU).  Callers hold what keeps the VMA's tables from being freed: the
 * mmap lock (the inspector), or dup_mmap()'s write locks on both mms
 * (the fork scan, from the return probe of copy_page_range()).
 *
 * The fork scan: for every present anonymous page the child now maps,
 * its mapcount tells what fork did to it: 2 means it was private before
 * (1 -> 2), more means it was already shared (n -> n+1), and an exclusive
 * page of mapcount 1 in the child is one fork had to copy (pinned pages
 * are copied, not shared).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>

#include "compat.h"
#include "cowtrace.h"

static void ct_walk_ptes(struct vm_area_struct *vma, pmd_t pmd,
			 unsigned long addr, unsigned long end,
			 const struct ct_walk_ops *ops, void *priv)
{
	pte_t *ptep;
	pte_t pte;

	rcu_read_lock();
	ptep = (pte_t *)pmd_page_vaddr(pmd) + pte_index(addr);
	for (; addr < end; addr += PAGE_SIZE, ptep++) {
		pte = READ_ONCE(*ptep);
		if (!pte_none(pte))
			ops->pte(vma, addr, pte, priv);
	}
	rcu_read_unlock();
}

void ct_walk_vma(struct vm_area_struct *vma, const struct ct_walk_ops *ops,
		 void *priv)
{
	unsigned long addr = vma->vm_start, next;
	struct mm_struct *mm = vma->vm_mm;
	pgd_t *pgdp;
	p4d_t *p4dp;
	pud_t *pudp;
	pmd_t pmd;

	for (; addr < vma->vm_end; addr = next) {
		next = pmd_addr_end(addr, vma->vm_end);
		pgdp = pgd_offset(mm, addr);
		if (pgd_none(READ_ONCE(*pgdp)) || pgd_bad(READ_ONCE(*pgdp)))
			continue;
		p4dp = p4d_offset(pgdp, addr);
		if (p4d_none(READ_ONCE(*p4dp)) || p4d_bad(READ_ONCE(*p4dp)))
			continue;
		pudp = pud_offset(p4dp, addr);
		if (pud_none(READ_ONCE(*pudp)))
			continue;
		if (pud_bad(READ_ONCE(*pudp))) {
			/* A 1 GiB leaf (only hugetlb maps those). */
			ops->leaf(vma, addr, CT_LEAF_PUD, NULL, priv);
			continue;
		}
		pmd = READ_ONCE(*pmd_offset(pudp, addr));
		if (pmd_none(pmd))
			continue;
		if (!pmd_present(pmd)) {
			ops->leaf(vma, addr, CT_LEAF_PMD_NONPRESENT, NULL, priv);
			continue;
		}
		if (pmd_trans_huge(pmd)) {
			ops->leaf(vma, addr, CT_LEAF_PMD, pmd_page(pmd), priv);
			continue;
		}
		if (!pmd_bad(pmd))
			ct_walk_ptes(vma, pmd, addr, next, ops, priv);
	}
}

/* ---- fork scan ---------------------------------------------------------- */

static void ct_scan_page(struct page *page, unsigned int nr,
			 struct ct_fork_scan *res)
{
	unsigned int mc = ct_page_mapcount(page);

	if (!PageAnon(page))
		return;
	if (mc >= 3)
		res->again += nr;
	else if (mc == 2)
		res->first += nr;
	else
		res->copied += nr;
}

static void ct_scan_pte(struct vm_area_struct *vma, unsigned long addr,
			pte_t pte, void *priv)
{
	unsigned long pfn = pte_pfn(pte);

	if (pte_present(pte) && !is_zero_pfn(pfn) && pfn_valid(pfn))
		ct_scan_page(pfn_to_page(pfn), 1, priv);
}

static void ct_scan_leaf(struct vm_area_struct *vma, unsigned long addr,
			 enum ct_leaf level, struct page *page, void *priv)
{
	/* A THP; the huge zero page is not anonymous and is skipped. */
	if (level == CT_LEAF_PMD)
		ct_scan_page(page, HPAGE_PMD_NR, priv);
}

static const struct ct_walk_ops ct_scan_ops = {
	.pte = ct_scan_pte,
	.leaf = ct_scan_leaf,
};

void ct_scan_fork_vma(struct vm_area_struct *vma, struct ct_fork_scan *res)
{
	if (is_vm_hugetlb_page(vma) || !vma->anon_vma)
		return;
	ct_walk_vma(vma, &ct_scan_ops, res);
}

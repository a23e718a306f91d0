// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table walks, for the fork-time scan and the inspector.
 *
 * The kernel's walk_page_range() and pte_offset_map_lock() are not
 * exported to modules, so cowtrace reads the x86_64 page tables itself,
 * each entry once (READ_ONCE(), ptep_get()), PTE tables under RCU (6.12
 * frees them by RCU).  Callers hold what keeps the VMA's tables from
 * being freed: the mmap lock (the inspector), or dup_mmap()'s write locks
 * on both mms (the fork scan, from the return probe of
 * copy_page_range()).  A walk costs one read per entry of every
 * populated table of the VMA, up to 512 PTEs per 2 MiB mapped; it is not
 * bounded, and the fork scan runs it with preemption disabled (it is off
 * unless fork_scan=1; Documentation/cowtrace.rst says so).
 *
 * The fork scan: for every present anonymous page the child now maps,
 * its mapcount tells what fork did to it: 2 means it was private before
 * (1 -> 2), more means it was already shared (n -> n+1), and an exclusive
 * page of mapcount 1 in the child is one fork had to copy (pinned pages
 * are copied, not shared).
 */
#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/kprobes.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>

#include "compat.h"
#include "cowtrace.h"
#include "ptwalk.h"

static void ct_walk_ptes(struct vm_area_struct *vma, pmd_t pmd,
			 unsigned long addr, unsigned long end,
			 const struct ct_walk_ops *ops, void *priv)
{
	pte_t *ptep;
	pte_t pte;

	rcu_read_lock();
	ptep = (pte_t *)pmd_page_vaddr(pmd) + pte_index(addr);
	for (; addr < end; addr += PAGE_SIZE, ptep++) {
		pte = ptep_get(ptep);
		if (!pte_none(pte))
			ops->pte(vma, addr, pte, priv);
	}
	rcu_read_unlock();
}

NOKPROBE_SYMBOL(ct_walk_ptes);

/*
 * Each level's entry is read once into a local, and the next level is
 * found from that local (the *_offset_lockless() helpers, as GUP-fast
 * does), never from a second read of the table.  An empty entry skips
 * its whole range; a leaf is told by pud_leaf()/pmd_leaf(), and a *_bad()
 * entry (corrupt, or not a table) is skipped, never taken for a leaf.
 */
void ct_walk_vma(struct vm_area_struct *vma, const struct ct_walk_ops *ops,
		 void *priv)
{
	unsigned long addr, next, end = vma->vm_end;
	pgd_t *pgdp, pgd;
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;

	for (addr = vma->vm_start; addr < end; addr = next) {
		pgdp = pgd_offset(vma->vm_mm, addr);
		pgd = READ_ONCE(*pgdp);
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgd) || pgd_bad(pgd))
			continue;
		p4dp = p4d_offset_lockless(pgdp, pgd, addr);
		p4d = READ_ONCE(*p4dp);
		next = p4d_addr_end(addr, end);
		if (p4d_none(p4d) || p4d_bad(p4d))
			continue;
		pudp = pud_offset_lockless(p4dp, p4d, addr);
		pud = READ_ONCE(*pudp);
		next = pud_addr_end(addr, end);
		if (pud_none(pud))
			continue;
		if (pud_leaf(pud)) {
			/* A 1 GiB leaf (only hugetlb maps those). */
			ops->leaf(vma, addr, CT_LEAF_PUD, NULL, priv);
			continue;
		}
		if (pud_bad(pud))
			continue;
		pmdp = pmd_offset_lockless(pudp, pud, addr);
		pmd = READ_ONCE(*pmdp);
		next = pmd_addr_end(addr, end);
		if (pmd_none(pmd))
			continue;
		if (!pmd_present(pmd)) {
			ops->leaf(vma, addr, CT_LEAF_PMD_NONPRESENT, NULL, priv);
			continue;
		}
		if (pmd_leaf(pmd)) {
			ops->leaf(vma, addr, CT_LEAF_PMD, pmd_page(pmd), priv);
			continue;
		}
		if (!pmd_bad(pmd))
			ct_walk_ptes(vma, pmd, addr, next, ops, priv);
	}
}

NOKPROBE_SYMBOL(ct_walk_vma);

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

NOKPROBE_SYMBOL(ct_scan_page);

static void ct_scan_pte(struct vm_area_struct *vma, unsigned long addr,
			pte_t pte, void *priv)
{
	unsigned long pfn = pte_pfn(pte);

	if (pte_present(pte) && !is_zero_pfn(pfn) && pfn_valid(pfn))
		ct_scan_page(pfn_to_page(pfn), 1, priv);
}

NOKPROBE_SYMBOL(ct_scan_pte);

static void ct_scan_leaf(struct vm_area_struct *vma, unsigned long addr,
			 enum ct_leaf level, struct page *page, void *priv)
{
	/* A THP; the huge zero page is not anonymous and is skipped. */
	if (level == CT_LEAF_PMD)
		ct_scan_page(page, HPAGE_PMD_NR, priv);
}

NOKPROBE_SYMBOL(ct_scan_leaf);

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

NOKPROBE_SYMBOL(ct_scan_fork_vma);

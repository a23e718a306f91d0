// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table walk of a child's VMA right after fork copied it.
 *
 * Called from the return probe of copy_page_range() while dup_mmap()
 * holds the mmap lock of both parent and child for writing, so the
 * child's page tables cannot be freed or changed by a fault; entries are
 * read once each (READ_ONCE) and, being in a preemption-disabled probe,
 * under RCU for page tables that are freed by RCU.  For every present
 * anonymous page the child now maps, the page's mapcount tells what fork
 * did to it: 2 means it was private before (1 -> 2), more means it was
 * already shared (n -> n+1), and an exclusive page of mapcount 1 in the
 * child is one fork had to copy (pinned pages are copied, not shared).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/pgtable.h>

#include "compat.h"
#include "cowtrace.h"

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

static void ct_scan_pte_range(pmd_t pmd, unsigned long addr,
			      unsigned long end, struct ct_fork_scan *res)
{
	pte_t *ptep = (pte_t *)pmd_page_vaddr(pmd) + pte_index(addr);
	unsigned long pfn;
	pte_t pte;

	for (; addr < end; addr += PAGE_SIZE, ptep++) {
		pte = READ_ONCE(*ptep);
		if (!pte_present(pte))
			continue;
		pfn = pte_pfn(pte);
		if (is_zero_pfn(pfn) || !pfn_valid(pfn))
			continue;
		ct_scan_page(pfn_to_page(pfn), 1, res);
	}
}

void ct_scan_fork_vma(struct vm_area_struct *vma, struct ct_fork_scan *res)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr = vma->vm_start, next;
	pgd_t *pgdp;
	p4d_t *p4dp;
	pud_t *pudp;
	pmd_t *pmdp, pmd;

	if (is_vm_hugetlb_page(vma) || !vma->anon_vma)
		return;
	for (; addr < vma->vm_end; addr = next) {
		next = pmd_addr_end(addr, vma->vm_end);
		pgdp = pgd_offset(mm, addr);
		if (pgd_none(READ_ONCE(*pgdp)) || pgd_bad(READ_ONCE(*pgdp)))
			continue;
		p4dp = p4d_offset(pgdp, addr);
		if (p4d_none(READ_ONCE(*p4dp)) || p4d_bad(READ_ONCE(*p4dp)))
			continue;
		pudp = pud_offset(p4dp, addr);
		/* A huge PUD is "bad" as a table: skipped (no anon PUDs). */
		if (pud_none(READ_ONCE(*pudp)) || pud_bad(READ_ONCE(*pudp)))
			continue;
		pmdp = pmd_offset(pudp, addr);
		pmd = READ_ONCE(*pmdp);
		if (pmd_none(pmd) || !pmd_present(pmd))
			continue;
		if (pmd_trans_huge(pmd)) {
			/* The huge zero page is not anonymous: skipped. */
			ct_scan_page(pmd_page(pmd), HPAGE_PMD_NR, res);
			continue;
		}
		if (pmd_bad(pmd))
			continue;
		ct_scan_pte_range(pmd, addr, next, res);
	}
}

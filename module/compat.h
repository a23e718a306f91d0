/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels cowtrace supports (6.1 and 6.12 LTS),
 * kept in one place.  An out-of-tree module that spans kernel versions
 * has to branch on LINUX_VERSION_CODE; it does so here only (and
 * `make style` tells checkpatch so for this file alone).
 */
#ifndef _COWTRACE_COMPAT_H
#define _COWTRACE_COMPAT_H

#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/percpu_counter.h>
#include <linux/ptrace.h>
#include <linux/version.h>

/* The range built and tested (Debian's 6.1 and 6.12 LTS); beyond it, stop. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "cowtrace supports Linux 6.1 to 6.12 (the range it is tested on)"
#endif

/* Its hooks are ftrace_ops and kprobes (Debian's kernels have both). */
#if !IS_ENABLED(CONFIG_DYNAMIC_FTRACE) || !IS_ENABLED(CONFIG_KPROBES)
#error "cowtrace needs a kernel with CONFIG_DYNAMIC_FTRACE and CONFIG_KPROBES"
#endif

/*
 * Argument @n of a function an ftrace callback hooks, from the registers
 * ftrace saved for the call (6.1's struct ftrace_regs is a pt_regs; 6.12
 * has accessors for it).
 */
#ifdef ftrace_regs_get_argument
#define ct_fregs_arg(fregs, n)	ftrace_regs_get_argument(fregs, n)
#else
#define ct_fregs_arg(fregs, n)	regs_get_kernel_argument(&(fregs)->regs, n)
#endif

/* Exact anonymous RSS of @mm (6.2 made rss_stat a percpu_counter). */
static inline u64 ct_mm_anon_pages(struct mm_struct *mm)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	return percpu_counter_sum_positive(&mm->rss_stat[MM_ANONPAGES]);
#else
	long v = atomic_long_read(&mm->rss_stat.count[MM_ANONPAGES]);

	return v > 0 ? v : 0;
#endif
}

/* How many page-table entries map @page (6.12 dropped page_mapcount()). */
static inline unsigned int ct_page_mapcount(struct page *page)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct folio *folio = page_folio(page);

	if (!folio_test_large(folio))
		return folio_mapcount(folio);
	return atomic_read(&page->_mapcount) + 1 +
	       folio_entire_mapcount(folio);
#else
	return page_mapcount(page);
#endif
}

/* The faulting VMA and fault flags at entry to hugetlb_wp(). */
static inline void ct_hugetlb_wp_args(struct pt_regs *regs,
				      struct vm_area_struct **vma,
				      unsigned long *address,
				      unsigned int *flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	/* hugetlb_wp(struct vm_fault *vmf) */
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);

	*vma = vmf->vma;
	*address = vmf->address;
	*flags = vmf->flags;
#else
	/* hugetlb_wp(mm, vma, address, ptep, flags, pagecache_page, ptl) */
	*vma = (struct vm_area_struct *)regs_get_kernel_argument(regs, 1);
	*address = regs_get_kernel_argument(regs, 2);
	*flags = regs_get_kernel_argument(regs, 4);
#endif
}

/*
 * Did finish_fault() map the private copy vmf->cow_page?  From 6.12 it
 * returns 0 if and only if it set the PTE.  Older kernels also return 0
 * when the PMD became a huge one under them (pmd_devmap_trans_unstable);
 * there the copy is known installed by being an anonymous page now
 * (do_set_pte() added its rmap).
 */
static inline bool ct_finish_fault_installed(struct vm_fault *vmf,
					     vm_fault_t ret)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	return !ret;
#else
	return !ret && folio_test_anon(page_folio(vmf->cow_page));
#endif
}

/*
 * The inode a user sees for a mapped file, the one /proc/PID/maps shows:
 * from 6.8 a stacking file system's (overlayfs) mapping holds a backing
 * file, and maps shows the user's inode; before, it shows the real one.
 */
static inline const struct inode *ct_user_inode(const struct file *file)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return file_user_inode(file);
#else
	return file_inode(file);
#endif
}

#endif /* _COWTRACE_COMPAT_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table inspector: a live process's real COW state, VMA by VMA.
 *
 * Write "<pid>" (or "<pid> vma <address>") to the inspect file; each read
 * of it then walks that process's VMAs and x86_64 page tables and reports
 * what /proc/PID/pagemap cannot say: which present pages are armed for
 * COW (write bit clear in a writable private VMA, page mapped more than
 * once), which are private and writable, which are write-protected but
 * exclusive (the next write reuses them), zero-page, THP and hugetlb
 * mappings, swap entries, and a mapcount histogram.
 *
 * The walk holds a reference on the mm and its mmap lock for reading;
 * page tables are read once per entry, PTE tables under RCU (6.12 frees
 * them by RCU).  Nothing is copied to user space while a lock is held:
 * seq_file fills a kernel buffer.  No kernel pointer or page frame
 * number is printed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>

#include "compat.h"
#include "cowtrace.h"

#define CT_MC_BUCKETS	6	/* mapcount 1, 2, 3, 4, 5-8, 9+ */
#define CT_LIST_MAX	4096	/* per-page lines at most */

enum ct_pg {
	CT_PG_PRESENT,
	CT_PG_COW_ARMED,
	CT_PG_PRIVATE_RW,
	CT_PG_WP_EXCLUSIVE,
	CT_PG_ZERO,
	CT_PG_THP,
	CT_PG_HUGETLB,
	CT_PG_SWAP,
	CT_NR_PG
};

static const char *const ct_pg_names[CT_NR_PG] = {
	[CT_PG_PRESENT] = "present",
	[CT_PG_COW_ARMED] = "cow_armed",
	[CT_PG_PRIVATE_RW] = "private_rw",
	[CT_PG_WP_EXCLUSIVE] = "wp_exclusive",
	[CT_PG_ZERO] = "zero",
	[CT_PG_THP] = "thp_pmd",
	[CT_PG_HUGETLB] = "hugetlb",
	[CT_PG_SWAP] = "swap",
};

static_assert(ARRAY_SIZE(ct_pg_names) == CT_NR_PG);

struct ct_tally {
	u64 n[CT_NR_PG];
	u64 mc[CT_MC_BUCKETS];
};

/* The target, set by a write; read by every reader. */
static DEFINE_MUTEX(ct_inspect_mutex);
static pid_t ct_target_pid;
static unsigned long ct_target_vma;	/* 0: no per-page listing */

static unsigned int ct_mc_bucket(unsigned int mc)
{
	if (mc <= 4)
		return mc ? mc - 1 : 0;
	return mc <= 8 ? 4 : 5;
}

static const char *ct_vma_kind(struct vm_area_struct *vma)
{
	if (is_vm_hugetlb_page(vma))
		return "hugetlb";
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE))
		return "shared";
	if (vma->vm_start <= vma->vm_mm->start_stack &&
	    vma->vm_end >= vma->vm_mm->start_stack)
		return "stack";
	if (vma->vm_start <= vma->vm_mm->brk &&
	    vma->vm_end >= vma->vm_mm->start_brk)
		return "heap";
	if (vma->vm_file)
		return "file-private";
	return "anon";
}

/* Classify one present small page mapped by @pte in @vma. */
static void ct_tally_pte(struct seq_file *m, struct vm_area_struct *vma,
			 unsigned long addr, pte_t pte, struct ct_tally *t,
			 unsigned int *listed)
{
	bool cow_vma = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
	unsigned long pfn = pte_pfn(pte);
	unsigned int mc = 0;

	t->n[CT_PG_PRESENT]++;
	if (is_zero_pfn(pfn)) {
		t->n[CT_PG_ZERO]++;
	} else if (pfn_valid(pfn)) {
		struct page *page = pfn_to_page(pfn);

		mc = ct_page_mapcount(page);
		t->mc[ct_mc_bucket(mc)]++;
		if (PageAnon(page) && cow_vma) {
			if (pte_write(pte))
				t->n[CT_PG_PRIVATE_RW]++;
			else if (mc > 1)
				t->n[CT_PG_COW_ARMED]++;
			else
				t->n[CT_PG_WP_EXCLUSIVE]++;
		}
	}
	if (listed && *listed < CT_LIST_MAX) {
		seq_printf(m, "  %lx %c%c%c%c %u\n", addr,
			   'P', pte_write(pte) ? 'W' : '-',
			   pte_dirty(pte) ? 'D' : '-',
			   pte_young(pte) ? 'A' : '-', mc);
		(*listed)++;
	}
}

static void ct_walk_pmd(struct seq_file *m, struct vm_area_struct *vma,
			pmd_t pmd, unsigned long addr, unsigned long end,
			struct ct_tally *t, unsigned int *listed)
{
	pte_t *ptep;
	pte_t pte;

	rcu_read_lock();
	ptep = (pte_t *)pmd_page_vaddr(pmd) + pte_index(addr);
	for (; addr < end; addr += PAGE_SIZE, ptep++) {
		pte = READ_ONCE(*ptep);
		if (pte_none(pte))
			continue;
		if (!pte_present(pte)) {
			t->n[CT_PG_SWAP]++;
			continue;
		}
		ct_tally_pte(m, vma, addr, pte, t, listed);
	}
	rcu_read_unlock();
}

static void ct_walk_vma(struct seq_file *m, struct vm_area_struct *vma,
			struct ct_tally *t, unsigned int *listed)
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
			/* A 1 GiB leaf: only hugetlb maps those. */
			if (is_vm_hugetlb_page(vma))
				t->n[CT_PG_HUGETLB]++;
			continue;
		}
		pmd = READ_ONCE(*pmd_offset(pudp, addr));
		if (pmd_none(pmd))
			continue;
		if (!pmd_present(pmd)) {
			t->n[CT_PG_SWAP]++;
			continue;
		}
		if (pmd_trans_huge(pmd)) {
			t->n[is_vm_hugetlb_page(vma) ? CT_PG_HUGETLB : CT_PG_THP]++;
			continue;
		}
		if (pmd_bad(pmd))
			continue;
		ct_walk_pmd(m, vma, pmd, addr, next, t, listed);
	}
}

static void ct_print_tally(struct seq_file *m, const struct ct_tally *t)
{
	int i;

	for (i = 0; i < CT_NR_PG; i++)
		seq_printf(m, " %llu", t->n[i]);
	for (i = 0; i < CT_MC_BUCKETS; i++)
		seq_printf(m, " %llu", t->mc[i]);
	seq_putc(m, '\n');
}

static int inspect_show(struct seq_file *m, void *v)
{
	struct ct_tally total = { 0 };
	struct vm_area_struct *vma;
	struct task_struct *task;
	unsigned long list_addr;
	struct mm_struct *mm;
	unsigned int listed;
	pid_t pid;
	int i, err = 0;

	mutex_lock(&ct_inspect_mutex);
	pid = ct_target_pid;
	list_addr = ct_target_vma;
	mutex_unlock(&ct_inspect_mutex);
	if (!pid) {
		seq_puts(m, "write a pid to this file first\n");
		return 0;
	}
	task = get_pid_task(find_get_pid(pid), PIDTYPE_TGID);
	if (!task)
		return -ESRCH;
	mm = (task->flags & PF_KTHREAD) ? NULL : get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return -ESRCH;
	if (mmap_read_lock_killable(mm)) {
		mmput(mm);
		return -EINTR;
	}
	seq_printf(m, "pid: %d\n", pid);
	seq_puts(m, "start end perms kind");
	for (i = 0; i < CT_NR_PG; i++)
		seq_printf(m, " %s", ct_pg_names[i]);
	seq_puts(m, " mc1 mc2 mc3 mc4 mc5-8 mc9+\n");
	{
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma) {
			struct ct_tally t = { 0 };
			bool list = list_addr >= vma->vm_start &&
				    list_addr < vma->vm_end;

			listed = 0;
			if (list)
				seq_puts(m, "# pages: address flags mapcount\n");
			ct_walk_vma(m, vma, &t, list ? &listed : NULL);
			if (list && listed == CT_LIST_MAX)
				seq_printf(m, "# listing stopped at %u pages\n",
					   CT_LIST_MAX);
			seq_printf(m, "%lx %lx %c%c%c%c %s", vma->vm_start,
				   vma->vm_end,
				   vma->vm_flags & VM_READ ? 'r' : '-',
				   vma->vm_flags & VM_WRITE ? 'w' : '-',
				   vma->vm_flags & VM_EXEC ? 'x' : '-',
				   vma->vm_flags & VM_MAYSHARE ? 's' : 'p',
				   ct_vma_kind(vma));
			ct_print_tally(m, &t);
			for (i = 0; i < CT_NR_PG; i++)
				total.n[i] += t.n[i];
			for (i = 0; i < CT_MC_BUCKETS; i++)
				total.mc[i] += t.mc[i];
		}
	}
	mmap_read_unlock(mm);
	/* The target exited while we walked: its report is not a state. */
	if (atomic_read(&mm->mm_users) == 1)
		err = -ESRCH;
	mmput(mm);
	if (err)
		return err;
	seq_puts(m, "total - - -");
	ct_print_tally(m, &total);
	return 0;
}

static int inspect_open(struct inode *inode, struct file *file)
{
	return single_open(file, inspect_show, NULL);
}

/* "<pid>" or "<pid> vma <hex address>". */
static ssize_t inspect_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	unsigned long addr = 0;
	struct task_struct *task;
	char buf[64], *arg;
	bool kthread;
	int pid;

	if (*ppos)
		return -EINVAL;
	if (count >= sizeof(buf))
		return -E2BIG;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (strlen(buf) != count)
		return -EINVAL;
	arg = strstrip(buf);
	if (strchr(arg, ' ')) {
		char *rest = strchr(arg, ' ');

		*rest++ = '\0';
		rest = skip_spaces(rest);
		if (strncmp(rest, "vma ", 4) ||
		    kstrtoul(skip_spaces(rest + 4), 16, &addr))
			return -EINVAL;
	}
	if (kstrtoint(arg, 10, &pid) || pid <= 0)
		return -EINVAL;
	task = get_pid_task(find_get_pid(pid), PIDTYPE_TGID);
	if (!task)
		return -ESRCH;
	kthread = (task->flags & PF_KTHREAD) || !task->mm;
	put_task_struct(task);
	if (kthread)
		return -EINVAL;
	mutex_lock(&ct_inspect_mutex);
	ct_target_pid = pid;
	ct_target_vma = addr;
	mutex_unlock(&ct_inspect_mutex);
	*ppos += count;
	return count;
}

const struct file_operations ct_inspect_fops = {
	.owner = THIS_MODULE,
	.open = inspect_open,
	.read = seq_read,
	.write = inspect_write,
	.llseek = seq_lseek,
	.release = single_release,
};

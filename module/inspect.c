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
 * inspect_show() takes a reference on the mm and its mmap lock for
 * reading, then walks each VMA with ptwalk.c.  Nothing is copied to user
 * space while a lock is held: seq_file fills a kernel buffer.  No kernel pointer or page frame
 * number is printed.
 */
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
#include "ptwalk.h"

#define CT_LIST_MAX	4096	/* per-page lines at most */

/* The mapcount histogram's buckets: each holds mapcounts up to @max. */
static const struct {
	unsigned int max;
	const char *name;
} ct_mc_buckets[] = {
	{ 1, "mc1" }, { 2, "mc2" }, { 3, "mc3" }, { 4, "mc4" },
	{ 8, "mc5-8" }, { UINT_MAX, "mc9+" },
};

#define CT_MC_BUCKETS	ARRAY_SIZE(ct_mc_buckets)

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
	unsigned int b = 0;

	while (mc > ct_mc_buckets[b].max)
		b++;
	return b;
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

/* One VMA's walk: where to print, what to count. */
struct ct_inspect_walk {
	struct seq_file *m;
	struct ct_tally t;
	unsigned int listed;
	bool list;
};

/* Classify one PTE of @vma (not none). */
static void ct_inspect_pte(struct vm_area_struct *vma, unsigned long addr,
			   pte_t pte, void *priv)
{
	bool cow_vma = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
	struct ct_inspect_walk *w = priv;
	struct ct_tally *t = &w->t;
	unsigned long pfn = pte_pfn(pte);
	unsigned int mc = 0;

	if (!pte_present(pte)) {
		t->n[CT_PG_SWAP]++;
		return;
	}
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
	if (w->list && w->listed < CT_LIST_MAX) {
		seq_printf(w->m, "  %lx %c%c%c%c %u\n", addr,
			   'P', pte_write(pte) ? 'W' : '-',
			   pte_dirty(pte) ? 'D' : '-',
			   pte_young(pte) ? 'A' : '-', mc);
		w->listed++;
	}
}

static void ct_inspect_leaf(struct vm_area_struct *vma, unsigned long addr,
			    enum ct_leaf level, struct page *page, void *priv)
{
	struct ct_tally *t = &((struct ct_inspect_walk *)priv)->t;

	if (level == CT_LEAF_PMD_NONPRESENT)
		t->n[CT_PG_SWAP]++;
	else if (is_vm_hugetlb_page(vma))
		t->n[CT_PG_HUGETLB]++;
	else if (level == CT_LEAF_PMD)
		t->n[CT_PG_THP]++;
}

static const struct ct_walk_ops ct_inspect_ops = {
	.pte = ct_inspect_pte,
	.leaf = ct_inspect_leaf,
};

static void ct_tally_add(struct ct_tally *sum, const struct ct_tally *t)
{
	int i;

	for (i = 0; i < CT_NR_PG; i++)
		sum->n[i] += t->n[i];
	for (i = 0; i < CT_MC_BUCKETS; i++)
		sum->mc[i] += t->mc[i];
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

/*
 * One VMA's row (preceded by its pages' lines if @list_addr is in it),
 * added to @total.
 */
static void ct_inspect_vma(struct seq_file *m, struct vm_area_struct *vma,
			   unsigned long list_addr, struct ct_tally *total)
{
	struct ct_inspect_walk w = {
		.m = m,
		.list = list_addr >= vma->vm_start && list_addr < vma->vm_end,
	};

	if (w.list)
		seq_puts(m, "# pages: address flags mapcount\n");
	ct_walk_vma(vma, &ct_inspect_ops, &w);
	if (w.listed == CT_LIST_MAX)
		seq_printf(m, "# listing stopped at %u pages\n", CT_LIST_MAX);
	seq_printf(m, "%lx %lx %c%c%c%c %s", vma->vm_start, vma->vm_end,
		   vma->vm_flags & VM_READ ? 'r' : '-',
		   vma->vm_flags & VM_WRITE ? 'w' : '-',
		   vma->vm_flags & VM_EXEC ? 'x' : '-',
		   vma->vm_flags & VM_MAYSHARE ? 's' : 'p',
		   ct_vma_kind(vma));
	ct_print_tally(m, &w.t);
	ct_tally_add(total, &w.t);
}

/* Every VMA of @mm, whose mmap lock is held. */
static void ct_inspect_vmas(struct seq_file *m, struct mm_struct *mm,
			    unsigned long list_addr, struct ct_tally *total)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	for_each_vma(vmi, vma)
		ct_inspect_vma(m, vma, list_addr, total);
}

/*
 * The process @pid (its thread-group leader), referenced; or NULL.  The
 * pid is one of the initial pid namespace, the numbering procs prints and
 * the filter uses, whatever namespace the writer is in.
 */
static struct task_struct *ct_get_task(pid_t pid)
{
	struct task_struct *task;

	rcu_read_lock();
	task = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_TGID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	return task;
}

static int inspect_show(struct seq_file *m, void *v)
{
	struct ct_tally total = { 0 };

	struct task_struct *task;
	unsigned long list_addr;
	struct mm_struct *mm;
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
	task = ct_get_task(pid);
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
	for (i = 0; i < CT_MC_BUCKETS; i++)
		seq_printf(m, " %s", ct_mc_buckets[i].name);
	seq_putc(m, '\n');
	ct_inspect_vmas(m, mm, list_addr, &total);
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
	char buf[64], *arg, *rest;
	bool kthread;
	size_t n;
	int pid;

	arg = ct_copy_cmd(ubuf, count, ppos, buf, sizeof(buf));
	if (IS_ERR(arg))
		return PTR_ERR(arg);
	rest = strchr(arg, ' ');
	if (rest) {
		*rest++ = '\0';
		rest = skip_spaces(rest);
		n = str_has_prefix(rest, "vma ");
		if (!n || kstrtoul(skip_spaces(rest + n), 16, &addr))
			return -EINVAL;
	}
	if (kstrtoint(arg, 10, &pid) || pid <= 0)
		return -EINVAL;
	task = ct_get_task(pid);
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

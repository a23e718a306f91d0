// SPDX-License-Identifier: GPL-2.0
/*
 * Probes: where cowtrace sees fork and the copy-on-write fault path.
 *
 * The kernel has no COW tracepoint, so the fault path is observed with
 * kprobes and kretprobes whose symbols are chosen at load, from the
 * candidates below, by what the running kernel has:
 *
 *   role         6.1                          6.12
 *   wp_fault     do_wp_page (kretprobe)       do_wp_page (kretprobe)
 *   copy_path    wp_page_copy                 vma_alloc_folio_noprof
 *                                             (wp_page_copy is inlined)
 *   commit       page_add_new_anon_rmap       folio_add_new_anon_rmap
 *   file_fault   finish_fault (kretprobe)     finish_fault (kretprobe)
 *   thp_fault    do_huge_pmd_wp_page (kret)   do_huge_pmd_wp_page (kret)
 *   thp_reuse    pmdp_set_access_flags        pmdp_set_access_flags
 *   hugetlb      hugetlb_wp (kretprobe)       hugetlb_wp (kretprobe)
 *   hugetlb_cmt  hugepage_add_new_anon_rmap   hugetlb_add_new_anon_rmap
 *   fork_scan    copy_page_range (kretprobe)  copy_page_range (kretprobe)
 *   fork, exit   sched_process_fork / sched_process_exit tracepoints
 *
 * The outcome of a fault is what the kernel did, not a prediction: the
 * return probe of the fault handler decides from what happened inside it,
 * as seen by the inner probes while the same task was in the handler.
 * A copy is counted only when the new page was installed (the commit
 * probe fired); a copy that lost the race against another fault on the
 * same page is a cow_race.  Zero fill, anonymous copy and file copy are
 * told apart by the old PTE at entry, read under the page-table lock that
 * do_wp_page is entered with.
 *
 * Handlers run in atomic context: they take no lock that sleeps and
 * allocate nothing.  Time is read with the NMI-safe
 * ktime_get_mono_fast_ns(): a probe that fires through int3 runs in an
 * NMI-like context, where ktime_get_ns()'s seqcount could spin on the
 * timekeeper's own write (lockdep reported it on the debug kernel).
 * A task's in-flight fault lives in a slot of a fixed table indexed by a
 * hash of the task pointer, claimed with cmpxchg.
 */
#include <linux/mm.h>
#include <linux/hash.h>
#include <linux/hugetlb.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/tracepoint.h>

#include "compat.h"
#include "cowtrace.h"
#include "ptwalk.h"

bool ct_enabled = true;

/* ---- per-task in-flight fault context ---------------------------------- */

enum ct_ctx_kind { CT_CTX_WP = 1, CT_CTX_FILE, CT_CTX_THP, CT_CTX_HUGETLB };
enum ct_old { CT_OLD_ANON, CT_OLD_ZERO, CT_OLD_FILE };

struct ct_ctx {
	struct task_struct *task;	/* owner; NULL when free */
	u64 t0;
	u64 huge_size;
	unsigned int mapcount;
	unsigned int refcount;
	u8 kind;
	u8 old;
	bool unshare;
	bool shared_vma;
	bool copy_path;
	bool committed;
	bool thp_reused;
	bool thp_zero;
};

#define CT_CTX_BITS	10
#define CT_CTX_SLOTS	BIT(CT_CTX_BITS)
#define CT_CTX_PROBES	4	/* slots tried from the hash; then missed */

static struct ct_ctx ct_ctx_table[CT_CTX_SLOTS];

static struct ct_ctx *ct_ctx_claim(u8 kind)
{
	unsigned int h = hash_ptr(current, CT_CTX_BITS), i;
	struct ct_ctx *c;

	for (i = 0; i < CT_CTX_PROBES; i++) {
		c = &ct_ctx_table[(h + i) & (CT_CTX_SLOTS - 1)];
		if (READ_ONCE(c->task) || cmpxchg(&c->task, NULL, current))
			continue;
		c->kind = kind;
		c->t0 = ktime_get_mono_fast_ns();
		c->huge_size = 0;
		c->mapcount = 0;
		c->refcount = 0;
		c->old = CT_OLD_ANON;
		c->unshare = false;
		c->shared_vma = false;
		c->copy_path = false;
		c->committed = false;
		c->thp_reused = false;
		c->thp_zero = false;
		return c;
	}
	ct_note_ctx_full();
	return NULL;
}

NOKPROBE_SYMBOL(ct_ctx_claim);

/*
 * The current task's in-flight fault, or NULL.  Called for every hit of
 * the inner probes, most of them outside any tracked fault: it reads at
 * most CT_CTX_PROBES slots.
 */
static struct ct_ctx *ct_ctx_mine(void)
{
	unsigned int h = hash_ptr(current, CT_CTX_BITS), i;
	struct ct_ctx *c;

	for (i = 0; i < CT_CTX_PROBES; i++) {
		c = &ct_ctx_table[(h + i) & (CT_CTX_SLOTS - 1)];
		if (READ_ONCE(c->task) == current)
			return c;
	}
	return NULL;
}

NOKPROBE_SYMBOL(ct_ctx_mine);

static struct ct_ctx *ct_ctx_find(u8 kind)
{
	struct ct_ctx *c = ct_ctx_mine();

	return c && c->kind == kind ? c : NULL;
}

NOKPROBE_SYMBOL(ct_ctx_find);

static void ct_ctx_release(struct ct_ctx *c)
{
	/* The slot's fields are read; only now may another task claim it. */
	smp_store_release(&c->task, NULL);
}

/* Is @current's event to be counted? */
static bool ct_wanted(void)
{
	return READ_ONCE(ct_enabled) && current->mm &&
	       ct_filter_match(current);
}

NOKPROBE_SYMBOL(ct_wanted);

/* ---- probes table ------------------------------------------------------ */

enum ct_role {
	CT_P_WP,
	CT_P_COPY_PATH,
	CT_P_COMMIT,
	CT_P_FILE,
	CT_P_THP,
	CT_P_THP_REUSE,
	CT_P_HUGETLB,
	CT_P_HUGETLB_COMMIT,
	CT_P_FORK_SCAN,
	CT_P_TP_FORK,
	CT_P_TP_EXIT,
	CT_NR_PROBES
};

struct ct_probe {
	const char *role;
	const char *const syms[3];
	bool is_ret;
	bool is_tp;
	kprobe_pre_handler_t pre;
	kretprobe_handler_t entry;
	kretprobe_handler_t ret;
	size_t data_size;
	void *tp_func;
	/* state */
	struct kretprobe rp;		/* rp.kp used alone for plain kprobes */
	struct tracepoint *tp;
	const char *attached;
	int err;
};

struct ct_hits {
	u64 n[CT_NR_PROBES];
};

static DEFINE_PER_CPU(struct ct_hits, ct_hits);

static inline void ct_hit(enum ct_role r)
{
	this_cpu_inc(ct_hits.n[r]);
}

/* ---- write-protect fault (do_wp_page) ---------------------------------- */

static int ct_wp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	unsigned long pfn;
	struct ct_ctx *c;

	ct_hit(CT_P_WP);
	if (!ct_wanted())
		return 1;
	c = ct_ctx_claim(CT_CTX_WP);
	if (!c)
		return 1;
	c->unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	c->shared_vma = vmf->vma->vm_flags & (VM_SHARED | VM_MAYSHARE);
	pfn = pte_pfn(vmf->orig_pte);
	if (is_zero_pfn(pfn)) {
		c->old = CT_OLD_ZERO;
	} else if (pfn_valid(pfn)) {
		struct page *page = pfn_to_page(pfn);
		struct folio *folio = page_folio(page);

		c->old = folio_test_anon(folio) ? CT_OLD_ANON : CT_OLD_FILE;
		c->mapcount = ct_page_mapcount(page);
		c->refcount = folio_ref_count(folio);
	} else {
		c->old = CT_OLD_FILE;
	}
	return 0;
}

NOKPROBE_SYMBOL(ct_wp_entry);

static void ct_wp_outcome(struct ct_ctx *c, vm_fault_t ret,
			  struct ct_proc *p)
{
	enum ct_outcome o;

	if (c->committed) {
		if (c->unshare) {
			ct_account(p, CT_UNSHARES, 1);
			ct_account(p, CT_BYTES_COPIED, PAGE_SIZE);
			o = CT_OUT_COPY;
		} else if (c->old == CT_OLD_ZERO) {
			ct_account(p, CT_ZERO_FILLS, 1);
			o = CT_OUT_ZERO_FILL;
		} else if (c->old == CT_OLD_FILE) {
			ct_account(p, CT_FILE_COPIES, 1);
			ct_account(p, CT_BYTES_COPIED, PAGE_SIZE);
			o = CT_OUT_FILE_COPY;
		} else {
			ct_account(p, CT_COPIES, 1);
			ct_account(p, CT_BYTES_COPIED, PAGE_SIZE);
			o = CT_OUT_COPY;
		}
	} else if (ret & (VM_FAULT_ERROR | VM_FAULT_RETRY | VM_FAULT_NOPAGE)) {
		return;
	} else if (c->copy_path) {
		ct_account(p, CT_COW_RACES, 1);
		o = CT_OUT_RACE;
	} else if (c->unshare) {
		return;
	} else if (c->shared_vma) {
		ct_account(p, CT_SHARED_WRITES, 1);
		o = CT_OUT_SHARED_WRITE;
	} else {
		ct_account(p, CT_REUSES, 1);
		o = CT_OUT_REUSE;
	}
	ct_hist_add(o, c->mapcount, c->refcount,
		    ktime_get_mono_fast_ns() - c->t0);
}

NOKPROBE_SYMBOL(ct_wp_outcome);

static int ct_wp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_WP);

	if (!c)
		return 0;
	ct_wp_outcome(c, (__force vm_fault_t)regs_return_value(regs),
		      ct_proc_current());
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_wp_ret);

/* Inside do_wp_page: the copy path was entered (a page is allocated). */
static int ct_copy_path_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_WP);

	ct_hit(CT_P_COPY_PATH);
	if (c)
		c->copy_path = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_copy_path_pre);

/* A new anonymous page was mapped: in a tracked fault, the copy landed. */
static int ct_commit_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_mine();

	ct_hit(CT_P_COMMIT);
	if (c && (c->kind == CT_CTX_WP || c->kind == CT_CTX_FILE))
		c->committed = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_commit_pre);

/* ---- first write to a private file page (do_cow_fault -> finish_fault) -- */

static int ct_file_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);

	ct_hit(CT_P_FILE);
	if (!(vmf->flags & FAULT_FLAG_WRITE) ||
	    (vmf->vma->vm_flags & VM_SHARED) || !ct_wanted())
		return 1;
	return ct_ctx_claim(CT_CTX_FILE) ? 0 : 1;
}

NOKPROBE_SYMBOL(ct_file_entry);

static int ct_file_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_FILE);
	struct ct_proc *p;

	if (!c)
		return 0;
	if (c->committed) {
		p = ct_proc_current();
		ct_account(p, CT_FILE_COPIES, 1);
		ct_account(p, CT_BYTES_COPIED, PAGE_SIZE);
	}
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_file_ret);

/* ---- transparent huge page PMD write fault ----------------------------- */

static int ct_thp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	struct ct_ctx *c;

	ct_hit(CT_P_THP);
	if (!ct_wanted())
		return 1;
	c = ct_ctx_claim(CT_CTX_THP);
	if (!c)
		return 1;
	c->unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	/* The huge zero page is not anonymous: its fallback is no split. */
	c->thp_zero = !PageAnon(pmd_page(vmf->orig_pmd));
	return 0;
}

NOKPROBE_SYMBOL(ct_thp_entry);

static int ct_thp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_THP);
	vm_fault_t ret = (__force vm_fault_t)regs_return_value(regs);

	if (!c)
		return 0;
	if ((ret & VM_FAULT_FALLBACK) && !c->thp_zero)
		ct_account(ct_proc_current(), CT_THP_SPLITS, 1);
	else if (c->thp_reused && !c->unshare)
		ct_account(ct_proc_current(), CT_THP_REUSES, 1);
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_thp_ret);

static int ct_thp_reuse_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_THP);

	ct_hit(CT_P_THP_REUSE);
	if (c)
		c->thp_reused = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_thp_reuse_pre);

/* ---- hugetlb COW ------------------------------------------------------- */

static int ct_hugetlb_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_area_struct *vma;
	unsigned int flags;
	struct ct_ctx *c;

	ct_hugetlb_wp_args(regs, &vma, &flags);
	ct_hit(CT_P_HUGETLB);
	if (!ct_wanted())
		return 1;
	c = ct_ctx_claim(CT_CTX_HUGETLB);
	if (!c)
		return 1;
	c->unshare = flags & FAULT_FLAG_UNSHARE;
	c->huge_size = vma_kernel_pagesize(vma);
	return 0;
}

NOKPROBE_SYMBOL(ct_hugetlb_entry);

static int ct_hugetlb_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_HUGETLB);
	struct ct_proc *p;

	if (!c)
		return 0;
	if (c->committed) {
		p = ct_proc_current();
		ct_account(p, c->unshare ? CT_UNSHARES : CT_HUGETLB_COPIES, 1);
		ct_account(p, CT_BYTES_COPIED, c->huge_size);
	}
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_hugetlb_ret);

static int ct_hugetlb_commit_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_HUGETLB);

	ct_hit(CT_P_HUGETLB_COMMIT);
	if (c)
		c->committed = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_hugetlb_commit_pre);

/* ---- fork-time page-table scan (optional) ------------------------------ */

static int ct_scan_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	ct_hit(CT_P_FORK_SCAN);
	if (!READ_ONCE(ct_fork_scan) || !ct_wanted())
		return 1;
	*(struct vm_area_struct **)ri->data =
		(struct vm_area_struct *)regs_get_kernel_argument(regs, 0);
	return 0;
}

NOKPROBE_SYMBOL(ct_scan_entry);

static int ct_scan_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_area_struct *dst = *(struct vm_area_struct **)ri->data;
	struct ct_fork_scan res = { 0 };
	struct ct_proc *p;

	if (regs_return_value(regs))
		return 0;
	ct_scan_fork_vma(dst, &res);
	if (!res.first && !res.again && !res.copied)
		return 0;
	p = ct_proc_current();
	ct_account(p, CT_SHARED_FIRST, res.first);
	ct_account(p, CT_SHARED_AGAIN, res.again);
	ct_account(p, CT_FORK_COPIES, res.copied);
	return 0;
}

NOKPROBE_SYMBOL(ct_scan_ret);

/* ---- fork and exit tracepoints ----------------------------------------- */

static void ct_tp_fork(void *data, struct task_struct *parent,
		       struct task_struct *child)
{
	struct ct_proc *pp;
	u64 shared;

	ct_hit(CT_P_TP_FORK);
	/* Threads, vfork and kernel threads share the mm or have none. */
	if (!child->mm || child->mm == parent->mm)
		return;
	if (!READ_ONCE(ct_enabled) || !ct_filter_match(parent))
		return;
	shared = ct_mm_anon_pages(child->mm);
	pp = ct_proc_of(parent);
	/* The child's entry, from its birth, with what it inherited. */
	ct_proc_of_child(child, shared);
	ct_account(pp, CT_FORKS, 1);
	ct_account(pp, CT_SHARED, shared);
}

static void ct_tp_exit(void *data, struct task_struct *task)
{
	ct_hit(CT_P_TP_EXIT);
	ct_proc_exit(task);
}

/* ---- the table --------------------------------------------------------- */

static struct ct_probe ct_probes[CT_NR_PROBES] = {
	[CT_P_WP] = {
		.role = "wp_fault", .syms = { "do_wp_page" }, .is_ret = true,
		.entry = ct_wp_entry, .ret = ct_wp_ret,
	},
	[CT_P_COPY_PATH] = {
		.role = "copy_path",
		.syms = { "wp_page_copy", "vma_alloc_folio_noprof",
			  "vma_alloc_folio" },
		.pre = ct_copy_path_pre,
	},
	[CT_P_COMMIT] = {
		.role = "commit",
		.syms = { "folio_add_new_anon_rmap", "page_add_new_anon_rmap" },
		.pre = ct_commit_pre,
	},
	[CT_P_FILE] = {
		.role = "file_fault", .syms = { "finish_fault" }, .is_ret = true,
		.entry = ct_file_entry, .ret = ct_file_ret,
	},
	[CT_P_THP] = {
		.role = "thp_fault", .syms = { "do_huge_pmd_wp_page" },
		.is_ret = true, .entry = ct_thp_entry, .ret = ct_thp_ret,
	},
	[CT_P_THP_REUSE] = {
		.role = "thp_reuse", .syms = { "pmdp_set_access_flags" },
		.pre = ct_thp_reuse_pre,
	},
	[CT_P_HUGETLB] = {
		.role = "hugetlb_fault", .syms = { "hugetlb_wp" }, .is_ret = true,
		.entry = ct_hugetlb_entry, .ret = ct_hugetlb_ret,
	},
	[CT_P_HUGETLB_COMMIT] = {
		.role = "hugetlb_commit",
		.syms = { "hugetlb_add_new_anon_rmap",
			  "hugepage_add_new_anon_rmap" },
		.pre = ct_hugetlb_commit_pre,
	},
	[CT_P_FORK_SCAN] = {
		.role = "fork_scan", .syms = { "copy_page_range" },
		.is_ret = true, .entry = ct_scan_entry, .ret = ct_scan_ret,
		.data_size = sizeof(struct vm_area_struct *),
	},
	[CT_P_TP_FORK] = {
		.role = "fork", .syms = { "sched_process_fork" }, .is_tp = true,
		.tp_func = ct_tp_fork,
	},
	[CT_P_TP_EXIT] = {
		.role = "exit", .syms = { "sched_process_exit" }, .is_tp = true,
		.tp_func = ct_tp_exit,
	},
};

/* Which probes each counter needs. */
static const unsigned long ct_needs[CT_NR_COUNTERS] = {
	[CT_FORKS] = BIT(CT_P_TP_FORK) | BIT(CT_P_TP_EXIT),
	[CT_SHARED] = BIT(CT_P_TP_FORK) | BIT(CT_P_TP_EXIT),
	[CT_COPIES] = BIT(CT_P_WP) | BIT(CT_P_COMMIT),
	[CT_REUSES] = BIT(CT_P_WP) | BIT(CT_P_COMMIT) | BIT(CT_P_COPY_PATH),
	[CT_ZERO_FILLS] = BIT(CT_P_WP) | BIT(CT_P_COMMIT),
	[CT_FILE_COPIES] = BIT(CT_P_WP) | BIT(CT_P_COMMIT) | BIT(CT_P_FILE),
	[CT_SHARED_WRITES] = BIT(CT_P_WP),
	[CT_THP_REUSES] = BIT(CT_P_THP) | BIT(CT_P_THP_REUSE),
	[CT_THP_SPLITS] = BIT(CT_P_THP),
	[CT_HUGETLB_COPIES] = BIT(CT_P_HUGETLB) | BIT(CT_P_HUGETLB_COMMIT),
	[CT_UNSHARES] = BIT(CT_P_WP) | BIT(CT_P_COMMIT),
	[CT_BYTES_COPIED] = BIT(CT_P_WP) | BIT(CT_P_COMMIT) | BIT(CT_P_FILE) |
			    BIT(CT_P_HUGETLB) | BIT(CT_P_HUGETLB_COMMIT),
	[CT_COW_RACES] = BIT(CT_P_WP) | BIT(CT_P_COMMIT) | BIT(CT_P_COPY_PATH),
	[CT_SHARED_FIRST] = BIT(CT_P_FORK_SCAN),
	[CT_SHARED_AGAIN] = BIT(CT_P_FORK_SCAN),
	[CT_FORK_COPIES] = BIT(CT_P_FORK_SCAN),
};

enum ct_counter_state ct_counter_state(enum ct_counter c)
{
	unsigned long need = ct_needs[c];
	int r;

	for (r = 0; r < CT_NR_PROBES; r++)
		if ((need & BIT(r)) && !ct_probes[r].attached)
			return CT_UNSUPPORTED;
	if ((need & BIT(CT_P_FORK_SCAN)) && !READ_ONCE(ct_fork_scan))
		return CT_OFF;
	return CT_COUNTED;
}

static void ct_find_tp(struct tracepoint *tp, void *priv)
{
	struct ct_probe *pr = priv;

	if (!strcmp(tp->name, pr->syms[0]))
		pr->tp = tp;
}

static int ct_attach(struct ct_probe *pr)
{
	int i, err = -ENOENT;

	if (pr->is_tp) {
		for_each_kernel_tracepoint(ct_find_tp, pr);
		if (!pr->tp)
			return -ENOENT;
		err = tracepoint_probe_register(pr->tp, pr->tp_func, NULL);
		if (!err)
			pr->attached = pr->syms[0];
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(pr->syms) && pr->syms[i]; i++) {
		memset(&pr->rp, 0, sizeof(pr->rp));
		pr->rp.kp.symbol_name = pr->syms[i];
		if (pr->is_ret) {
			pr->rp.entry_handler = pr->entry;
			pr->rp.handler = pr->ret;
			pr->rp.data_size = pr->data_size;
			pr->rp.maxactive = max_t(int, 64, 8 * num_possible_cpus());
			err = register_kretprobe(&pr->rp);
		} else {
			pr->rp.kp.pre_handler = pr->pre;
			err = register_kprobe(&pr->rp.kp);
		}
		if (!err) {
			pr->attached = pr->syms[i];
			return 0;
		}
	}
	return err;
}

static void ct_detach(struct ct_probe *pr)
{
	if (!pr->attached)
		return;
	if (pr->is_tp)
		tracepoint_probe_unregister(pr->tp, pr->tp_func, NULL);
	else if (pr->is_ret)
		unregister_kretprobe(&pr->rp);
	else
		unregister_kprobe(&pr->rp.kp);
	pr->attached = NULL;
}

int ct_probes_init(void)
{
	int r, n = 0;

	for (r = 0; r < CT_NR_PROBES; r++) {
		ct_probes[r].err = ct_attach(&ct_probes[r]);
		if (ct_probes[r].err)
			pr_info("probe %s: none of its symbols could be attached (%d); its counters read unsupported\n",
				ct_probes[r].role, ct_probes[r].err);
		else
			n++;
	}
	if (!n) {
		pr_err("no probe could be attached\n");
		return -ENOENT;
	}
	return 0;
}

void ct_probes_exit(void)
{
	int r;

	WRITE_ONCE(ct_enabled, false);
	for (r = CT_NR_PROBES - 1; r >= 0; r--)
		ct_detach(&ct_probes[r]);
	tracepoint_synchronize_unregister();
}

u64 ct_probes_missed(void)
{
	u64 sum = 0;
	int r;

	for (r = 0; r < CT_NR_PROBES; r++) {
		if (!ct_probes[r].attached || ct_probes[r].is_tp)
			continue;
		sum += ct_probes[r].rp.kp.nmissed;
		if (ct_probes[r].is_ret)
			sum += ct_probes[r].rp.nmissed;
	}
	return sum;
}

void ct_show_probes(struct seq_file *m)
{
	int r, cpu;

	seq_puts(m, "role           symbol                      mechanism   status     hits       nmissed\n");
	for (r = 0; r < CT_NR_PROBES; r++) {
		struct ct_probe *pr = &ct_probes[r];
		const char *mech = pr->is_tp ? "tracepoint" :
				   pr->is_ret ? "kretprobe" : "kprobe";
		u64 hits = 0, missed = 0;

		for_each_possible_cpu(cpu)
			hits += per_cpu(ct_hits, cpu).n[r];
		if (pr->attached && !pr->is_tp)
			missed = pr->rp.kp.nmissed +
				 (pr->is_ret ? pr->rp.nmissed : 0);
		seq_printf(m, "%-14s %-27s %-11s %-10s %-10llu %llu\n",
			   pr->role, pr->attached ? pr->attached : pr->syms[0],
			   mech, pr->attached ? "attached" : "missing",
			   hits, missed);
	}
}

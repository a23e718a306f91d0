// SPDX-License-Identifier: GPL-2.0
/*
 * Probes: where cowtrace sees fork and the copy-on-write fault path.
 *
 * The kernel has no COW tracepoint, so the fault path is observed with
 * hooks whose symbols are chosen at load, from the candidates below, by
 * what the running kernel has.  On these kernels every hooked function
 * starts with an ftrace site: the entry hooks are plain ftrace callbacks
 * (ftrace_hooks=1, the default; where one cannot be registered, or with
 * ftrace_hooks=0, an entry kprobe runs the same handler), the return
 * hooks kretprobes.  A write-protect fault is seen by one entry hook and
 * one hook at the point where the kernel commits to an outcome, told
 * apart by the caller of that point (its return address lies in a
 * function whose range is resolved at load); no return probe is needed:
 *
 *   role         function (6.1 / 6.12)        caller that makes it count
 *   wp_entry     do_wp_page                   -
 *   commit       ptep_clear_flush             wp_page_copy (6.1),
 *                                             do_wp_page (6.12), hugetlb_wp
 *   reuse        ptep_set_access_flags        wp_page_reuse[.constprop.N],
 *                                             finish_mkwrite_fault[.isra.N]
 *   race         __folio_put                  wp_page_copy / do_wp_page
 *   file_fault   finish_fault (kretprobe)
 *   thp_fault    do_huge_pmd_wp_page (kretprobe)
 *   thp_reuse    pmdp_set_access_flags        do_huge_pmd_wp_page
 *   hugetlb      hugetlb_wp (kretprobe)
 *   fork_scan    copy_page_range (kretprobe), attached only while
 *                fork_scan=1
 *   fork, exit   sched_process_fork / sched_process_exit tracepoints
 *
 * The entry hook records the old PTE's page under the page-table lock
 * that do_wp_page() is entered with; the commit hook counts a copy, zero
 * fill, file copy or unshare when the old PTE is cleared for the new
 * page (nothing can fail after that); the reuse hook counts a reuse or a
 * shared write when the PTE is made writable; the race hook counts a
 * copy that lost the PTE recheck when the new, uptodate, never-mapped
 * folio is freed by the fault itself.  A fault that fails or is retried
 * reaches none of them and counts nothing.
 *
 * If any of these cannot be attached, or a caller's range cannot be
 * resolved, the write-protect fault falls back to the older plan, which
 * is exact too but costs more (a kretprobe on do_wp_page and two inner
 * kprobes: the copy path and the new anonymous page's rmap), as it does
 * with the parameter legacy_probes=1; `probes` shows which is in use.
 *
 * Handlers run in atomic context: they take no lock that sleeps and
 * allocate nothing.  Every function on a handler's path, here and in
 * procs.c, stats.c, filter.c, ptwalk.c and trace.c, is marked
 * NOKPROBE_SYMBOL: no kprobe can be placed inside a handler (the
 * kernel's own trace-event code, reached from trace_cow_fault() when an
 * event is enabled, is the tracing core's).  Time is read with ct_clock(),
 * the TSC (or the NMI-safe ktime_get_mono_fast_ns()): a probe that fires
 * through int3 runs in an NMI-like context, where ktime_get_ns()'s
 * seqcount could spin on the timekeeper's own write (lockdep reported it
 * on the debug kernel).
 * A task's in-flight fault lives in a slot of a fixed table indexed by a
 * hash of the task pointer, claimed with cmpxchg.  Not in a kretprobe's
 * per-instance ri->data: the plain kprobes at the commit points (and the
 * older plan's inner kprobes) must find that state too, and they are
 * given no kretprobe instance.
 */
#include <linux/mm.h>
#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/hugetlb.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/tracepoint.h>

#include "compat.h"
#include "cowtrace.h"
#include "ptwalk.h"
#include "cowtrace_trace.h"

bool ct_enabled = true;

static bool ct_legacy;
module_param_named(legacy_probes, ct_legacy, bool, 0400);
MODULE_PARM_DESC(legacy_probes, "Observe write faults with the older, costlier kretprobe plan (default off)");

static bool ct_ftrace_hooks = true;
module_param_named(ftrace_hooks, ct_ftrace_hooks, bool, 0400);
MODULE_PARM_DESC(ftrace_hooks, "Run the entry hooks as plain ftrace callbacks (default on; off: as kprobes, which cost more)");

static bool ct_shadow;
module_param_named(shadow, ct_shadow, bool, 0400);
MODULE_PARM_DESC(shadow, "Also run the older plan, counting apart, and show both in probes (a check; default off)");

/* ---- per-task in-flight fault context ---------------------------------- */

enum ct_ctx_kind { CT_CTX_WP = 1, CT_CTX_WP_OLD, CT_CTX_THP, CT_CTX_HUGETLB };
enum ct_old { CT_OLD_ANON, CT_OLD_ZERO, CT_OLD_FILE };

/* A fault's own state, reset whole when its slot is claimed. */
struct ct_fault {
	u64 t0;
	u64 huge_size;
	struct vm_area_struct *vma;
	unsigned long address;
	struct folio *old_folio;
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
	bool ksm;
};

struct ct_ctx {
	struct task_struct *task;	/* owner; NULL when free */
	struct ct_fault f;
};

#define CT_CTX_BITS	10
#define CT_CTX_SLOTS	BIT(CT_CTX_BITS)
#define CT_CTX_PROBES	4	/* slots tried from the hash; then missed */

static struct ct_ctx ct_ctx_table[CT_CTX_SLOTS];

static __always_inline void ct_ctx_init(struct ct_ctx *c, u8 kind)
{
	/* Whole: a field added later cannot be left from the last fault. */
	c->f = (struct ct_fault){
		.kind = kind,
		.t0 = ct_clock(),
		.old = CT_OLD_ANON,
	};
}

static notrace struct ct_ctx *ct_ctx_claim(u8 kind)
{
	unsigned int h = hash_ptr(current, CT_CTX_BITS), i;
	struct ct_ctx *c;

	for (i = 0; i < CT_CTX_PROBES; i++) {
		c = &ct_ctx_table[(h + i) & (CT_CTX_SLOTS - 1)];
		if (READ_ONCE(c->task) || cmpxchg(&c->task, NULL, current))
			continue;
		ct_ctx_init(c, kind);
		return c;
	}
	ct_note_ctx_full();
	return NULL;
}

NOKPROBE_SYMBOL(ct_ctx_claim);

/*
 * The current task's in-flight fault of @kind (0: any), or NULL.  Called
 * for every hit of the inner probes, most of them outside any tracked
 * fault: it reads at most CT_CTX_PROBES slots.  Only the owner reads a
 * slot's kind, so it needs no ordering.
 */
static __always_inline struct ct_ctx *ct_ctx_find(u8 kind)
{
	unsigned int h = hash_ptr(current, CT_CTX_BITS), i;
	struct ct_ctx *c = &ct_ctx_table[h];

	/* The home slot, where ct_ctx_take() nearly always put it. */
	if (READ_ONCE(c->task) == current && (!kind || c->f.kind == kind))
		return c;
	for (i = 1; i < CT_CTX_PROBES; i++) {
		c = &ct_ctx_table[(h + i) & (CT_CTX_SLOTS - 1)];
		if (READ_ONCE(c->task) == current && (!kind || c->f.kind == kind))
			return c;
	}
	return NULL;
}

/*
 * ct_ctx_take() past the home slot: in one pass, the slot a fault of
 * @kind left (one that failed or was retried counted nothing), reset,
 * or else a free one.  A slot the task left further on stays its own
 * until it is taken again or the task exits; lookups find the home
 * slot first.
 */
static noinline notrace struct ct_ctx *ct_ctx_take_slow(unsigned int h, u8 kind)
{
	struct ct_ctx *c, *free = NULL;
	struct task_struct *t;
	unsigned int i;

	for (i = 0; i < CT_CTX_PROBES; i++) {
		c = &ct_ctx_table[(h + i) & (CT_CTX_SLOTS - 1)];
		t = READ_ONCE(c->task);
		if (t == current && c->f.kind == kind) {
			ct_ctx_init(c, kind);
			return c;
		}
		if (!t && !free)
			free = c;
	}
	if (free && !cmpxchg(&free->task, NULL, current)) {
		ct_ctx_init(free, kind);
		return free;
	}
	return ct_ctx_claim(kind);
}

NOKPROBE_SYMBOL(ct_ctx_take_slow);

/*
 * A slot for @current's new fault of @kind: its home slot, nearly always
 * its own or free, inline; the rest out of line.
 */
static __always_inline struct ct_ctx *ct_ctx_take(u8 kind)
{
	unsigned int h = hash_ptr(current, CT_CTX_BITS);
	struct ct_ctx *c = &ct_ctx_table[h];
	struct task_struct *t = READ_ONCE(c->task);

	if ((t == current && c->f.kind == kind) ||
	    (!t && !cmpxchg(&c->task, NULL, current))) {
		ct_ctx_init(c, kind);
		return c;
	}
	return ct_ctx_take_slow(h, kind);
}

static __always_inline void ct_ctx_release(struct ct_ctx *c)
{
	/* The slot's fields are read; only now may another task claim it. */
	smp_store_release(&c->task, NULL);
}

/* Is @current's event to be counted? */
static __always_inline bool ct_wanted(void)
{
	return READ_ONCE(ct_enabled) && current->mm &&
	       ct_filter_pass(current);
}

/* ---- caller ranges ----------------------------------------------------- */

/*
 * A function whose calls to a hooked function mark an outcome.  Its range
 * is resolved at load from the first candidate name the kernel has
 * (compilers clone static functions with such suffixes).
 */
struct ct_range {
	const char *const names[4];
	unsigned long start;
	unsigned long end;
	const char *found;
};

enum ct_caller {
	CT_R_DO_WP_PAGE,
	CT_R_WP_PAGE_COPY,
	CT_R_WP_PAGE_REUSE,
	CT_R_FINISH_MKWRITE,
	CT_R_HUGETLB_WP,
	CT_R_THP_WP,
	CT_NR_RANGES
};

static struct ct_range ct_ranges[CT_NR_RANGES] = {
	[CT_R_DO_WP_PAGE] = { .names = { "do_wp_page" } },
	[CT_R_WP_PAGE_COPY] = { .names = { "wp_page_copy",
					   "wp_page_copy.constprop.0",
					   "wp_page_copy.isra.0" } },
	[CT_R_WP_PAGE_REUSE] = { .names = { "wp_page_reuse",
					    "wp_page_reuse.constprop.0",
					    "wp_page_reuse.isra.0" } },
	[CT_R_FINISH_MKWRITE] = { .names = { "finish_mkwrite_fault",
					     "finish_mkwrite_fault.isra.0",
					     "finish_mkwrite_fault.constprop.0" } },
	[CT_R_HUGETLB_WP] = { .names = { "hugetlb_wp" } },
	[CT_R_THP_WP] = { .names = { "do_huge_pmd_wp_page" } },
};

/*
 * Address and size of @name: a kprobe registered disabled (nothing is
 * armed) gives the address, sprint_symbol() the offset and size;
 * kallsyms_lookup_name() is not exported.
 */
static int ct_resolve(struct ct_range *r)
{
	char buf[KSYM_SYMBOL_LEN], *p;
	unsigned long off, size;
	struct kprobe kp;
	int i, err;

	for (i = 0; i < ARRAY_SIZE(r->names) && r->names[i]; i++) {
		memset(&kp, 0, sizeof(kp));
		kp.symbol_name = r->names[i];
		kp.flags = KPROBE_FLAG_DISABLED;
		err = register_kprobe(&kp);
		if (err)
			continue;
		sprint_symbol(buf, (unsigned long)kp.addr);
		unregister_kprobe(&kp);
		p = strchr(buf, '+');
		if (!p || sscanf(p, "+%lx/%lx", &off, &size) != 2 ||
		    strncmp(buf, r->names[i], p - buf) ||
		    strlen(r->names[i]) != p - buf)
			continue;
		r->start = (unsigned long)kp.addr - off;
		r->end = r->start + size;
		r->found = r->names[i];
		return 0;
	}
	return -ENOENT;
}

static inline bool ct_in(enum ct_caller i, unsigned long ip)
{
	return ip - ct_ranges[i].start < ct_ranges[i].end - ct_ranges[i].start;
}

/* The return address into the caller, at a function's entry. */
static inline unsigned long ct_parent(struct pt_regs *regs)
{
	return *(unsigned long *)kernel_stack_pointer(regs);
}

/* The function that holds the copy (inlined into do_wp_page on 6.12). */
static inline bool ct_in_cow(unsigned long ip)
{
	return ct_in(CT_R_WP_PAGE_COPY, ip) || ct_in(CT_R_DO_WP_PAGE, ip);
}

/* ---- probes table ------------------------------------------------------ */

enum ct_role {
	CT_P_WP_ENTRY,
	CT_P_COMMIT,
	CT_P_REUSE,
	CT_P_RACE,
	CT_P_WP_LEGACY,
	CT_P_COPY_PATH,
	CT_P_NEW_ANON,
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

enum ct_mech { CT_M_KPROBE, CT_M_CALLER, CT_M_KRETPROBE, CT_M_TP };

static const char *const ct_mech_names[] = {
	[CT_M_KPROBE] = "kprobe",
	[CT_M_CALLER] = "kprobe+caller",
	[CT_M_KRETPROBE] = "kretprobe",
	[CT_M_TP] = "tracepoint",
};

/* The same, for an entry hook that runs as an ftrace callback. */
static const char *const ct_ftrace_mech_names[] = {
	[CT_M_KPROBE] = "ftrace",
	[CT_M_CALLER] = "ftrace+caller",
};

/* Which plan a probe belongs to. */
enum ct_plan_of { CT_ALWAYS, CT_NEW, CT_OLD, CT_ON_DEMAND };

/* An entry hook's body: the hooked function's first two arguments and its return address. */
typedef void (*ct_hook_t)(unsigned long arg0, unsigned long arg1,
			  unsigned long parent);

struct ct_probe {
	const char *role;
	const char *const syms[3];
	u8 mech;
	u8 plan;
	ct_hook_t hook;			/* an entry hook, by ftrace or kprobe */
	ftrace_func_t ffunc;		/* its ftrace callback */
	kprobe_pre_handler_t pre;	/* a kprobe alone */
	kretprobe_handler_t entry;
	kretprobe_handler_t ret;
	size_t data_size;
	void *tp_func;
	/* state */
	struct kretprobe rp;		/* rp.kp used alone for plain kprobes */
	struct tracepoint *tp;
	struct ftrace_ops fops;
	bool via_ftrace;		/* hook runs from fops, not rp.kp */
	bool fregistered;		/* fops is registered (armed) */
	const char *attached;
	const char *found;		/* the symbol, even while detached */
};

/*
 * The two front ends of an entry hook.  By default a plain ftrace
 * callback: the mechanism under a kprobe on ftrace, without the kprobe's
 * full register save, its lookup of the probe by address and its per-CPU
 * state; the arguments are in the registers ftrace saves for a call and
 * parent_ip is the return address.  Each hook has a callback of its own
 * (CT_FTRACE_CALLBACK()), which calls it directly: no indirect call.
 *
 * It runs with preemption disabled, as a kprobe handler does, and
 * without ftrace's recursion lock (ftrace_test_recursion_trylock(), a
 * third of the callback's cost): such an ops must guard itself only
 * against its own re-entry, and there is none.  No handler calls, itself
 * or through anything it calls, any of the functions hooked here
 * (do_wp_page, ptep_clear_flush, ptep_set_access_flags, __folio_put,
 * pmdp_set_access_flags); the one run that can nest in another on a CPU
 * is a run from an interrupt (__folio_put in a softirq), a run of its own
 * that the handlers are written for: they change per-CPU counters with
 * single instructions and a task's own slots only, and take
 * ct_table_lock with interrupts off.  So no run is ever refused, and an
 * ftrace hook has no missed count.
 */
static __always_inline void ct_ftrace_run(unsigned long ip,
					  unsigned long parent_ip,
					  struct ftrace_ops *op,
					  struct ftrace_regs *fregs,
					  ct_hook_t hook)
{
	preempt_disable_notrace();
	hook(ct_fregs_arg(fregs, 0), ct_fregs_arg(fregs, 1), parent_ip);
	preempt_enable_notrace();
}

#define CT_FTRACE_CALLBACK(hook)					\
static notrace void hook##_ftrace(unsigned long ip, unsigned long parent_ip, \
				  struct ftrace_ops *op,		\
				  struct ftrace_regs *fregs)		\
{									\
	ct_ftrace_run(ip, parent_ip, op, fregs, hook);			\
}									\
NOKPROBE_SYMBOL(hook##_ftrace)

/* The fallback, and ftrace_hooks=0: a kprobe (on ftrace) at the entry. */
static int ct_kprobe_entry(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_probe *pr = container_of(kp, struct ct_probe, rp.kp);

	pr->hook(regs_get_kernel_argument(regs, 0),
		 regs_get_kernel_argument(regs, 1), ct_parent(regs));
	return 0;
}

NOKPROBE_SYMBOL(ct_kprobe_entry);

/*
 * Handler runs, one increment each: those in a process being counted,
 * and the others (the hits column is their sum).
 */
struct ct_hits {
	u64 other[CT_NR_PROBES];
	u64 tracked[CT_NR_PROBES];
};

static DEFINE_PER_CPU(struct ct_hits, ct_hits);

/*
 * Count a handler run of role @r; true if @current's events are to be
 * counted.  A run in interrupt context is counted in hits only: it is
 * no part of the interrupted process's fault.
 */
static __always_inline bool ct_hit(enum ct_role r)
{
	bool wanted = ct_wanted();

	if (wanted && in_task())
		this_cpu_inc(ct_hits.tracked[r]);
	else
		this_cpu_inc(ct_hits.other[r]);
	return wanted;
}

/*
 * An entry handler's start: the run counted in role @r's hits and, for
 * a task whose events are counted, a slot claimed for a fault of @kind.
 * NULL: not counted, or no free slot.
 */
static struct ct_ctx *ct_fault_begin(enum ct_role r, u8 kind)
{
	return ct_hit(r) ? ct_ctx_claim(kind) : NULL;
}

NOKPROBE_SYMBOL(ct_fault_begin);

/*
 * A later handler of the same fault (an inner probe, a return handler):
 * the run counted in role @r's hits, and @current's fault of @kind in
 * flight, or NULL.
 */
static struct ct_ctx *ct_fault_find(enum ct_role r, u8 kind)
{
	ct_hit(r);
	return ct_ctx_find(kind);
}

NOKPROBE_SYMBOL(ct_fault_find);

/* ---- write-protect fault: shared by both plans ------------------------- */

/* With shadow=1, each plan's write-fault outcomes, counted apart. */
enum ct_shadow_out {
	CT_S_COPY, CT_S_ZERO_FILL, CT_S_FILE_COPY, CT_S_UNSHARE, CT_S_REUSE,
	CT_S_SHARED_WRITE, CT_S_RACE, CT_NR_SHADOW
};

static const char *const ct_shadow_names[CT_NR_SHADOW] = {
	"copies", "zero_fills", "file_copies", "unshares", "reuses",
	"shared_writes", "cow_races",
};

struct ct_shadow_ctr {
	u64 n[2][CT_NR_SHADOW];		/* [0] default plan, [1] older plan */
};

static DEFINE_PER_CPU(struct ct_shadow_ctr, ct_shadow_ctr);

/*
 * Note outcome @o of fault @c for the shadow comparison; true if it is
 * the shadowing older plan's, which counts nothing else.
 */
static __always_inline bool ct_shadowed(struct ct_ctx *c, enum ct_shadow_out o)
{
	bool old = c->f.kind == CT_CTX_WP_OLD;

	if (likely(!READ_ONCE(ct_shadow)))
		return false;
	this_cpu_inc(ct_shadow_ctr.n[old][o]);
	return old;
}

/* Record the old PTE's page; do_wp_page() holds the page-table lock. */
static __always_inline void ct_wp_record(struct ct_ctx *c, struct vm_fault *vmf)
{
	unsigned long pfn;

	c->f.vma = vmf->vma;
	c->f.address = vmf->address;
	c->f.unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	c->f.shared_vma = vmf->vma->vm_flags & (VM_SHARED | VM_MAYSHARE);
	pfn = pte_pfn(vmf->orig_pte);
	/*
	 * As vm_normal_page() decides for do_wp_page(): a special PTE (the
	 * zero page, a PFN map) has no page of its own; any other maps one.
	 */
	if (is_zero_pfn(pfn)) {
		c->f.old = CT_OLD_ZERO;
	} else if (!pte_special(vmf->orig_pte)) {
		struct page *page = pfn_to_page(pfn);
		struct folio *folio = page_folio(page);

		c->f.old_folio = folio;
		c->f.old = folio_test_anon(folio) ? CT_OLD_ANON : CT_OLD_FILE;
		c->f.ksm = folio_test_ksm(folio);
		c->f.mapcount = ct_page_mapcount(page);
		c->f.refcount = folio_ref_count(folio);
	} else {
		c->f.old = CT_OLD_FILE;
	}
}

/* An old page's count for a trace event: -1 if there was no page (zero page). */
static inline int ct_known(const struct ct_ctx *c, unsigned int n)
{
	return c->f.old_folio ? (int)n : -1;
}

/*
 * The trace event of a write fault's outcome, out of line: its arguments
 * are worked out only while the event is enabled.
 */
static noinline notrace void ct_wp_trace(struct ct_ctx *c, enum ct_ev ev, u64 bytes)
{
	trace_cow_fault(c->f.vma, c->f.address, ev, bytes,
			ct_known(c, c->f.mapcount), ct_known(c, c->f.refcount),
			c->f.t0);
}

NOKPROBE_SYMBOL(ct_wp_trace);

/* The new page was installed: count what kind of copy it was. */
static __always_inline void ct_wp_count_commit(struct ct_ctx *c)
{
	enum ct_counter ctr = CT_COPIES;
	enum ct_outcome o = CT_OUT_COPY;
	enum ct_ev ev = CT_EV_COPY;
	u64 bytes = PAGE_SIZE;

	if (c->f.unshare) {
		ctr = CT_UNSHARES;
		ev = CT_EV_UNSHARE;
	} else if (c->f.old == CT_OLD_ZERO) {
		ctr = CT_ZERO_FILLS;
		o = CT_OUT_ZERO_FILL;
		ev = CT_EV_ZERO_FILL;
		bytes = 0;
	} else if (c->f.old == CT_OLD_FILE) {
		ctr = CT_FILE_COPIES;
		o = CT_OUT_FILE_COPY;
		ev = CT_EV_FILE_COPY;
	}
	if (ct_shadowed(c, c->f.unshare ? CT_S_UNSHARE :
			   c->f.old == CT_OLD_ZERO ? CT_S_ZERO_FILL :
			   c->f.old == CT_OLD_FILE ? CT_S_FILE_COPY : CT_S_COPY))
		return;
	/*
	 * do_wp_page() never reuses a KSM page, and counts cow_ksm in
	 * /proc/vmstat before each copy of one: this copy is also one.
	 */
	if (unlikely(c->f.ksm))
		ct_account(ct_proc_current(), CT_KSM_COPIES, 1);
	ct_count_fault(ctr, o, c->f.mapcount, c->f.refcount, c->f.t0);
	if (trace_cow_fault_enabled())
		ct_wp_trace(c, ev, bytes);
}

/* The PTE was made writable in place (never for an unshare). */
static __always_inline void ct_wp_count_reuse(struct ct_ctx *c)
{
	bool shared = c->f.shared_vma;

	if (ct_shadowed(c, shared ? CT_S_SHARED_WRITE : CT_S_REUSE))
		return;
	ct_count_fault(shared ? CT_SHARED_WRITES : CT_REUSES,
		       shared ? CT_OUT_SHARED_WRITE : CT_OUT_REUSE,
		       c->f.mapcount, c->f.refcount, c->f.t0);
	if (trace_cow_fault_enabled())
		ct_wp_trace(c, shared ? CT_EV_SHARED_WRITE : CT_EV_REUSE, 0);
}

static notrace void ct_wp_count_race(struct ct_ctx *c)
{
	if (ct_shadowed(c, CT_S_RACE))
		return;
	ct_count_fault(CT_COW_RACES, CT_OUT_RACE, c->f.mapcount,
		       c->f.refcount, c->f.t0);
	if (trace_cow_fault_enabled())
		ct_wp_trace(c, CT_EV_RACE, 0);
}

NOKPROBE_SYMBOL(ct_wp_count_race);

/* ---- write-protect fault: entry and commit-point hooks ----------------- */

/* do_wp_page(vmf) */
static notrace void ct_wp_entry_hook(unsigned long arg0, unsigned long arg1,
				     unsigned long parent)
{
	struct vm_fault *vmf = (struct vm_fault *)arg0;
	struct ct_ctx *c;

	if (!ct_hit(CT_P_WP_ENTRY))
		return;
	c = ct_ctx_take(CT_CTX_WP);
	if (c)
		ct_wp_record(c, vmf);
}

NOKPROBE_SYMBOL(ct_wp_entry_hook);
CT_FTRACE_CALLBACK(ct_wp_entry_hook);

/* The fault of @current at (@vma, @address) that do_wp_page() entered. */
static __always_inline struct ct_ctx *ct_wp_mine(struct vm_area_struct *vma,
						 unsigned long address)
{
	struct ct_ctx *c = ct_ctx_find(CT_CTX_WP);

	return c && c->f.vma == vma && c->f.address == address ? c : NULL;
}

/* ptep_clear_flush(vma, address, ptep): the old PTE goes, a copy lands. */
static notrace void ct_commit_hook(unsigned long arg0, unsigned long address,
				   unsigned long parent)
{
	struct vm_area_struct *vma = (struct vm_area_struct *)arg0;
	struct ct_ctx *c;

	if (!ct_hit(CT_P_COMMIT))
		return;
	if (ct_in_cow(parent)) {
		c = ct_wp_mine(vma, address);
		if (c) {
			ct_wp_count_commit(c);
			ct_ctx_release(c);
		}
	} else if (ct_in(CT_R_HUGETLB_WP, parent)) {
		c = ct_ctx_find(CT_CTX_HUGETLB);
		if (c)
			c->f.committed = true;
	}
}

NOKPROBE_SYMBOL(ct_commit_hook);
CT_FTRACE_CALLBACK(ct_commit_hook);

/* ptep_set_access_flags(vma, address, ...): the PTE is made writable. */
static notrace void ct_reuse_hook(unsigned long arg0, unsigned long address,
				  unsigned long parent)
{
	struct ct_ctx *c;

	if (!ct_hit(CT_P_REUSE))
		return;
	if (!ct_in(CT_R_WP_PAGE_REUSE, parent) &&
	    !ct_in(CT_R_FINISH_MKWRITE, parent))
		return;
	c = ct_wp_mine((struct vm_area_struct *)arg0, address);
	if (!c)
		return;
	if (!c->f.unshare)
		ct_wp_count_reuse(c);
	ct_ctx_release(c);
}

NOKPROBE_SYMBOL(ct_reuse_hook);
CT_FTRACE_CALLBACK(ct_reuse_hook);

/*
 * __folio_put(folio) called by the copy path: the new folio is freed
 * without having been mapped.  It is uptodate only if it was allocated,
 * charged and filled, so only when it lost the PTE recheck to another
 * fault; a failed allocation, charge or copy frees it before that.
 */
static notrace void ct_race_hook(unsigned long arg0, unsigned long arg1,
				 unsigned long parent)
{
	struct folio *folio = (struct folio *)arg0;
	struct ct_ctx *c;

	if (!ct_hit(CT_P_RACE) || !ct_in_cow(parent))
		return;
	c = ct_ctx_find(CT_CTX_WP);
	if (!c || folio == c->f.old_folio || folio_test_large(folio) ||
	    READ_ONCE(folio->mapping) || !folio_test_uptodate(folio))
		return;
	ct_wp_count_race(c);
	ct_ctx_release(c);
}

NOKPROBE_SYMBOL(ct_race_hook);
CT_FTRACE_CALLBACK(ct_race_hook);

/*
 * ---- write-protect fault: the older plan (legacy_probes=1, fallback) ---
 *
 * A kretprobe entry handler that returns 1 tells kprobes not to run the
 * return handler for this call: a task not counted, or no free slot.
 */

static int ct_wp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	struct ct_ctx *c;

	c = ct_fault_begin(CT_P_WP_LEGACY, CT_CTX_WP_OLD);
	if (!c)
		return 1;
	ct_wp_record(c, vmf);
	return 0;
}

NOKPROBE_SYMBOL(ct_wp_entry);

static void ct_wp_outcome(struct ct_ctx *c, vm_fault_t ret)
{
	if (c->f.committed)
		ct_wp_count_commit(c);
	else if (ret & (VM_FAULT_ERROR | VM_FAULT_RETRY | VM_FAULT_NOPAGE))
		return;
	else if (c->f.copy_path)
		ct_wp_count_race(c);
	else if (!c->f.unshare)
		ct_wp_count_reuse(c);
}

NOKPROBE_SYMBOL(ct_wp_outcome);

static int ct_wp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_ctx *c;

	c = ct_fault_find(CT_P_WP_LEGACY, CT_CTX_WP_OLD);
	if (!c)
		return 0;
	ct_wp_outcome(c, (__force vm_fault_t)regs_return_value(regs));
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_wp_ret);

/* Inside do_wp_page: the copy path was entered (a page is allocated). */
static int ct_copy_path_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c;

	c = ct_fault_find(CT_P_COPY_PATH, CT_CTX_WP_OLD);
	if (c)
		c->f.copy_path = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_copy_path_pre);

/* A new anonymous page was mapped: in a tracked fault, the copy landed. */
static int ct_new_anon_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c;

	c = ct_fault_find(CT_P_NEW_ANON, CT_CTX_WP_OLD);
	if (c)
		c->f.committed = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_new_anon_pre);

/* ---- first write to a private file page (do_cow_fault -> finish_fault) -- */

/* What the file hook keeps from entry to return. */
struct ct_file_data {
	struct vm_fault *vmf;
	u64 t0;
};

static int ct_file_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	struct ct_file_data *d = (struct ct_file_data *)ri->data;

	if (!ct_hit(CT_P_FILE) || !(vmf->flags & FAULT_FLAG_WRITE) ||
	    (vmf->vma->vm_flags & VM_SHARED) || !vmf->cow_page)
		return 1;
	d->vmf = vmf;
	d->t0 = trace_cow_fault_enabled() ? ct_clock() : 0;
	return 0;
}

NOKPROBE_SYMBOL(ct_file_entry);

static int ct_file_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_file_data *d = (struct ct_file_data *)ri->data;
	struct vm_fault *vmf = d->vmf;
	vm_fault_t ret = (__force vm_fault_t)regs_return_value(regs);
	struct ct_proc *p;

	ct_hit(CT_P_FILE);
	if (!ct_finish_fault_installed(vmf, ret))
		return 0;
	p = ct_proc_current();
	ct_account(p, CT_FILE_COPIES, 1);
	ct_account(p, CT_BYTES_COPIED, PAGE_SIZE);
	/* The start is that of finish_fault(), after the file page's read. */
	trace_cow_fault(vmf->vma, vmf->address, CT_EV_FILE_COPY, PAGE_SIZE,
			-1, -1, d->t0);
	return 0;
}

NOKPROBE_SYMBOL(ct_file_ret);

/* ---- transparent huge page PMD write fault ----------------------------- */

static int ct_thp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	struct ct_ctx *c;

	c = ct_fault_begin(CT_P_THP, CT_CTX_THP);
	if (!c)
		return 1;
	c->f.unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	c->f.vma = vmf->vma;
	c->f.address = vmf->address;
	/* The huge zero page is not anonymous: its fallback is no split. */
	c->f.thp_zero = !PageAnon(pmd_page(vmf->orig_pmd));
	return 0;
}

NOKPROBE_SYMBOL(ct_thp_entry);

static int ct_thp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	vm_fault_t ret = (__force vm_fault_t)regs_return_value(regs);
	struct ct_ctx *c;

	c = ct_fault_find(CT_P_THP, CT_CTX_THP);
	if (!c)
		return 0;
	if ((ret & VM_FAULT_FALLBACK) && !c->f.thp_zero) {
		ct_account(ct_proc_current(), CT_THP_SPLITS, 1);
		trace_cow_fault(c->f.vma, c->f.address, CT_EV_THP_SPLIT, 0, -1, -1,
				c->f.t0);
	} else if (c->f.thp_reused && !c->f.unshare) {
		ct_account(ct_proc_current(), CT_THP_REUSES, 1);
		trace_cow_fault(c->f.vma, c->f.address, CT_EV_THP_REUSE, 0, -1, -1,
				c->f.t0);
	}
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_thp_ret);

static notrace void ct_thp_reuse_hook(unsigned long arg0, unsigned long arg1,
				      unsigned long parent)
{
	struct ct_ctx *c;

	if (!ct_hit(CT_P_THP_REUSE) || !ct_in(CT_R_THP_WP, parent))
		return;
	c = ct_ctx_find(CT_CTX_THP);
	if (c)
		c->f.thp_reused = true;
}

NOKPROBE_SYMBOL(ct_thp_reuse_hook);
CT_FTRACE_CALLBACK(ct_thp_reuse_hook);

/* ---- hugetlb COW ------------------------------------------------------- */

static int ct_hugetlb_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_area_struct *vma;
	unsigned long address;
	unsigned int flags;
	struct ct_ctx *c;

	ct_hugetlb_wp_args(regs, &vma, &address, &flags);
	c = ct_fault_begin(CT_P_HUGETLB, CT_CTX_HUGETLB);
	if (!c)
		return 1;
	c->f.unshare = flags & FAULT_FLAG_UNSHARE;
	c->f.huge_size = vma_kernel_pagesize(vma);
	c->f.vma = vma;
	/* The huge page's start (6.12 passes only that). */
	c->f.address = address & ~(c->f.huge_size - 1);
	return 0;
}

NOKPROBE_SYMBOL(ct_hugetlb_entry);

static int ct_hugetlb_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ct_ctx *c;
	struct ct_proc *p;

	c = ct_fault_find(CT_P_HUGETLB, CT_CTX_HUGETLB);
	if (!c)
		return 0;
	if (c->f.committed) {
		p = ct_proc_current();
		ct_account(p, c->f.unshare ? CT_UNSHARES : CT_HUGETLB_COPIES, 1);
		ct_account(p, CT_BYTES_COPIED, c->f.huge_size);
		trace_cow_fault(c->f.vma, c->f.address,
				c->f.unshare ? CT_EV_UNSHARE : CT_EV_HUGETLB_COPY,
				c->f.huge_size, -1, -1, c->f.t0);
	}
	ct_ctx_release(c);
	return 0;
}

NOKPROBE_SYMBOL(ct_hugetlb_ret);

/* The older plan's hugetlb commit, where the commit hook is missing. */
static int ct_hugetlb_commit_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct ct_ctx *c;

	c = ct_fault_find(CT_P_HUGETLB_COMMIT, CT_CTX_HUGETLB);
	if (c)
		c->f.committed = true;
	return 0;
}

NOKPROBE_SYMBOL(ct_hugetlb_commit_pre);

/* ---- fork-time page-table scan (attached while fork_scan=1) ------------ */

static int ct_scan_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (!ct_hit(CT_P_FORK_SCAN) || !READ_ONCE(ct_fork_scan))
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

	ct_hit(CT_P_FORK_SCAN);
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

	/* Threads, vfork and kernel threads share the mm or have none. */
	if (!child->mm || child->mm == parent->mm ||
	    !READ_ONCE(ct_enabled) || !ct_filter_match(parent)) {
		this_cpu_inc(ct_hits.other[CT_P_TP_FORK]);
		return;
	}
	this_cpu_inc(ct_hits.tracked[CT_P_TP_FORK]);
	shared = ct_mm_anon_pages(child->mm);
	pp = ct_proc_of(parent);
	/* The child's entry, from its birth, with what it inherited. */
	ct_proc_of_child(child, shared);
	ct_account(pp, CT_FORKS, 1);
	ct_account(pp, CT_SHARED, shared);
	trace_cow_fork(parent, child, shared);
}

static void ct_tp_exit(void *data, struct task_struct *task)
{
	struct ct_ctx *c;

	ct_hit(CT_P_TP_EXIT);
	/* Slots a failed or retried fault left behind. */
	if (task == current)
		while ((c = ct_ctx_find(0)))
			ct_ctx_release(c);
	ct_proc_exit(task);
}

/* ---- the table --------------------------------------------------------- */

static struct ct_probe ct_probes[CT_NR_PROBES] = {
	[CT_P_WP_ENTRY] = {
		.role = "wp_entry", .syms = { "do_wp_page" },
		.mech = CT_M_KPROBE, .plan = CT_NEW, .hook = ct_wp_entry_hook,
		.ffunc = ct_wp_entry_hook_ftrace,
	},
	[CT_P_COMMIT] = {
		.role = "commit", .syms = { "ptep_clear_flush" },
		.mech = CT_M_CALLER, .plan = CT_NEW, .hook = ct_commit_hook,
		.ffunc = ct_commit_hook_ftrace,
	},
	[CT_P_REUSE] = {
		.role = "reuse", .syms = { "ptep_set_access_flags" },
		.mech = CT_M_CALLER, .plan = CT_NEW, .hook = ct_reuse_hook,
		.ffunc = ct_reuse_hook_ftrace,
	},
	[CT_P_RACE] = {
		.role = "race", .syms = { "__folio_put" },
		.mech = CT_M_CALLER, .plan = CT_NEW, .hook = ct_race_hook,
		.ffunc = ct_race_hook_ftrace,
	},
	[CT_P_WP_LEGACY] = {
		.role = "wp_fault", .syms = { "do_wp_page" },
		.mech = CT_M_KRETPROBE, .plan = CT_OLD,
		.entry = ct_wp_entry, .ret = ct_wp_ret,
	},
	[CT_P_COPY_PATH] = {
		.role = "copy_path",
		.syms = { "wp_page_copy", "vma_alloc_folio_noprof",
			  "vma_alloc_folio" },
		.mech = CT_M_KPROBE, .plan = CT_OLD, .pre = ct_copy_path_pre,
	},
	[CT_P_NEW_ANON] = {
		.role = "new_anon",
		.syms = { "folio_add_new_anon_rmap", "page_add_new_anon_rmap" },
		.mech = CT_M_KPROBE, .plan = CT_OLD, .pre = ct_new_anon_pre,
	},
	[CT_P_FILE] = {
		.role = "file_fault", .syms = { "finish_fault" },
		.mech = CT_M_KRETPROBE, .entry = ct_file_entry,
		.ret = ct_file_ret, .data_size = sizeof(struct ct_file_data),
	},
	[CT_P_THP] = {
		.role = "thp_fault", .syms = { "do_huge_pmd_wp_page" },
		.mech = CT_M_KRETPROBE, .entry = ct_thp_entry,
		.ret = ct_thp_ret,
	},
	[CT_P_THP_REUSE] = {
		.role = "thp_reuse", .syms = { "pmdp_set_access_flags" },
		.mech = CT_M_CALLER, .hook = ct_thp_reuse_hook,
		.ffunc = ct_thp_reuse_hook_ftrace,
	},
	[CT_P_HUGETLB] = {
		.role = "hugetlb_fault", .syms = { "hugetlb_wp" },
		.mech = CT_M_KRETPROBE, .entry = ct_hugetlb_entry,
		.ret = ct_hugetlb_ret,
	},
	[CT_P_HUGETLB_COMMIT] = {
		.role = "hugetlb_commit",
		.syms = { "hugetlb_add_new_anon_rmap",
			  "hugepage_add_new_anon_rmap" },
		.mech = CT_M_KPROBE, .plan = CT_OLD,
		.pre = ct_hugetlb_commit_pre,
	},
	[CT_P_FORK_SCAN] = {
		.role = "fork_scan", .syms = { "copy_page_range" },
		.mech = CT_M_KRETPROBE, .plan = CT_ON_DEMAND,
		.entry = ct_scan_entry, .ret = ct_scan_ret,
		.data_size = sizeof(struct vm_area_struct *),
	},
	[CT_P_TP_FORK] = {
		.role = "fork", .syms = { "sched_process_fork" },
		.mech = CT_M_TP, .tp_func = ct_tp_fork,
	},
	[CT_P_TP_EXIT] = {
		.role = "exit", .syms = { "sched_process_exit" },
		.mech = CT_M_TP, .tp_func = ct_tp_exit,
	},
};

/* The plan the write-protect fault is observed with. */
static bool ct_new_plan;
/* hugetlb copies commit through the commit hook (else the older kprobe). */
static bool ct_hugetlb_by_commit;
/* Serialises fork_scan's attach and detach with load and unload. */
static DEFINE_MUTEX(ct_probes_mutex);
static bool ct_probes_live;
/* The fault-path hooks are disarmed ("disable"). */
static bool ct_disarmed;

static bool ct_has(enum ct_role r)
{
	return ct_probes[r].attached;
}

/* Whether the write-protect fault is observed at all. */
static bool ct_wp_ok(void)
{
	return ct_new_plan || (ct_has(CT_P_WP_LEGACY) &&
			       ct_has(CT_P_NEW_ANON));
}

/* Can this kernel's probes count @c at all (fork_scan aside)? */
static bool ct_counter_supported(enum ct_counter c)
{
	switch (c) {
	case CT_FORKS:
	case CT_SHARED:
		return ct_has(CT_P_TP_FORK) && ct_has(CT_P_TP_EXIT);
	case CT_COPIES:
	case CT_ZERO_FILLS:
	case CT_UNSHARES:
	case CT_SHARED_WRITES:
		return ct_wp_ok();
	case CT_KSM_COPIES:
		/* No KSM, no KSM page, and no cow_ksm in /proc/vmstat. */
		return IS_ENABLED(CONFIG_KSM) && ct_wp_ok();
	case CT_REUSES:
	case CT_COW_RACES:
		return ct_wp_ok() && (ct_new_plan || ct_has(CT_P_COPY_PATH));
	case CT_FILE_COPIES:
	case CT_BYTES_COPIED:
		return ct_wp_ok() && ct_has(CT_P_FILE);
	case CT_THP_REUSES:
		return ct_has(CT_P_THP) && ct_has(CT_P_THP_REUSE);
	case CT_THP_SPLITS:
		return ct_has(CT_P_THP);
	case CT_HUGETLB_COPIES:
		return ct_has(CT_P_HUGETLB) &&
		       (ct_hugetlb_by_commit || ct_has(CT_P_HUGETLB_COMMIT));
	case CT_SHARED_FIRST:
	case CT_SHARED_AGAIN:
	case CT_FORK_COPIES:
		return ct_probes[CT_P_FORK_SCAN].found;
	default:
		return false;
	}
}

enum ct_counter_state ct_counter_state(enum ct_counter c)
{
	if (!ct_counter_supported(c))
		return CT_UNSUPPORTED;
	switch (c) {
	case CT_SHARED_FIRST:
	case CT_SHARED_AGAIN:
	case CT_FORK_COPIES:
		return READ_ONCE(ct_fork_scan) ? CT_COUNTED : CT_OFF;
	default:
		return CT_COUNTED;
	}
}

static void ct_find_tp(struct tracepoint *tp, void *priv)
{
	struct ct_probe *pr = priv;

	if (!strcmp(tp->name, pr->syms[0]))
		pr->tp = tp;
}

/*
 * An entry hook as an ftrace callback on @sym: the filter names the one
 * function (ftrace_set_filter() fails if none matches, and an ops with
 * no filter would trace every function: it is never registered then).
 */
static int ct_attach_ftrace(struct ct_probe *pr, const char *sym)
{
	char buf[KSYM_NAME_LEN];
	int err;

	memset(&pr->fops, 0, sizeof(pr->fops));
	pr->fops.func = pr->ffunc;
	strscpy(buf, sym, sizeof(buf));
	err = ftrace_set_filter(&pr->fops, (unsigned char *)buf, strlen(buf), 1);
	if (!err)
		err = register_ftrace_function(&pr->fops);
	if (err) {
		ftrace_free_filter(&pr->fops);
		return err;
	}
	pr->via_ftrace = true;
	pr->fregistered = true;
	return 0;
}

/* A kprobe at the entry; @ferr: why the ftrace callback could not be. */
static int ct_attach_kprobe(struct ct_probe *pr, int ferr)
{
	int err;

	pr->rp.kp.pre_handler = pr->hook ? ct_kprobe_entry : pr->pre;
	err = register_kprobe(&pr->rp.kp);
	/* The fallback, said only when it is what runs. */
	if (!err && ferr)
		pr_info("probe %s: no ftrace callback on %s (%d); a kprobe instead\n",
			pr->role, pr->rp.kp.symbol_name, ferr);
	return err;
}

static int ct_attach(struct ct_probe *pr)
{
	int i, ferr, err = -ENOENT;

	if (pr->mech == CT_M_TP) {
		for_each_kernel_tracepoint(ct_find_tp, pr);
		if (!pr->tp)
			return -ENOENT;
		err = tracepoint_probe_register(pr->tp, pr->tp_func, NULL);
		if (err)
			return err;
		pr->found = pr->syms[0];
		pr->attached = pr->found;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(pr->syms) && pr->syms[i]; i++) {
		memset(&pr->rp, 0, sizeof(pr->rp));
		pr->rp.kp.symbol_name = pr->syms[i];
		if (pr->mech == CT_M_KRETPROBE) {
			pr->rp.entry_handler = pr->entry;
			pr->rp.handler = pr->ret;
			pr->rp.data_size = pr->data_size;
			/*
			 * Instances in flight at once: a task is in one such
			 * call at a time, but tasks preempted or sleeping inside
			 * it (PREEMPT_RT's sleeping locks) hold theirs, so 8 per
			 * CPU, 64 at least on small machines.  A shortfall is
			 * not silent: probes shows it as nmissed.
			 */
			pr->rp.maxactive = max_t(int, 64, 8 * num_possible_cpus());
			err = register_kretprobe(&pr->rp);
		} else if (pr->hook && ct_ftrace_hooks) {
			ferr = ct_attach_ftrace(pr, pr->syms[i]);
			err = ferr ? ct_attach_kprobe(pr, ferr) : 0;
		} else {
			err = ct_attach_kprobe(pr, 0);
		}
		if (!err) {
			pr->found = pr->syms[i];
			pr->attached = pr->found;
			return 0;
		}
	}
	return err;
}

static void ct_detach(struct ct_probe *pr)
{
	if (!pr->attached)
		return;
	if (pr->mech == CT_M_TP) {
		tracepoint_probe_unregister(pr->tp, pr->tp_func, NULL);
	} else if (pr->via_ftrace) {
		/* Returns once no callback runs any more. */
		if (pr->fregistered)
			unregister_ftrace_function(&pr->fops);
		ftrace_free_filter(&pr->fops);
		pr->via_ftrace = false;
		pr->fregistered = false;
	} else if (pr->mech == CT_M_KRETPROBE) {
		unregister_kretprobe(&pr->rp);
	} else {
		unregister_kprobe(&pr->rp.kp);
	}
	pr->attached = NULL;
}

static void ct_attach_role(enum ct_role r)
{
	struct ct_probe *pr = &ct_probes[r];
	int err = ct_attach(pr);

	if (err)
		pr_info("probe %s: none of its symbols could be attached (%d); its counters read unsupported\n",
			pr->role, err);
}

/* The entry and commit-point hooks, with their callers' ranges. */
static bool ct_attach_new_plan(void)
{
	static const enum ct_role roles[] = {
		CT_P_COMMIT, CT_P_REUSE, CT_P_RACE, CT_P_WP_ENTRY,
	};
	int i;

	for (i = 0; i < CT_NR_RANGES; i++)
		ct_resolve(&ct_ranges[i]);
	if (!ct_ranges[CT_R_DO_WP_PAGE].found ||
	    (!ct_ranges[CT_R_WP_PAGE_REUSE].found &&
	     !ct_ranges[CT_R_FINISH_MKWRITE].found)) {
		pr_info("write faults: a caller could not be resolved; using the kretprobe plan\n");
		return false;
	}
	/* The entry last: the others must be in place when it counts. */
	for (i = 0; i < ARRAY_SIZE(roles); i++) {
		ct_attach_role(roles[i]);
		if (!ct_has(roles[i])) {
			while (--i >= 0)
				ct_detach(&ct_probes[roles[i]]);
			pr_info("write faults: using the kretprobe plan\n");
			return false;
		}
	}
	return true;
}

int ct_probes_init(void)
{
	int r, n = 0;

	mutex_lock(&ct_probes_mutex);
	ct_new_plan = !ct_legacy && ct_attach_new_plan();
	/* Nothing to compare: the older plan is the only one. */
	if (!ct_new_plan)
		ct_shadow = false;
	ct_hugetlb_by_commit = ct_new_plan && ct_ranges[CT_R_HUGETLB_WP].found;
	for (r = 0; r < CT_NR_PROBES; r++) {
		struct ct_probe *pr = &ct_probes[r];

		/* With shadow=1 the older plan runs too, but for hugetlb. */
		if (pr->plan == CT_NEW ||
		    (pr->plan == CT_OLD && ct_new_plan &&
		     (r == CT_P_HUGETLB_COMMIT ? ct_hugetlb_by_commit :
		      !ct_shadow)))
			continue;
		ct_attach_role(r);
		/* Found now, attached only while fork_scan=1. */
		if (pr->plan == CT_ON_DEMAND && !READ_ONCE(ct_fork_scan))
			ct_detach(pr);
	}
	for (r = 0; r < CT_NR_PROBES; r++)
		n += !!ct_probes[r].found;
	ct_probes_live = n;
	mutex_unlock(&ct_probes_mutex);
	if (!n) {
		pr_err("no probe could be attached\n");
		return -ENOENT;
	}
	return 0;
}

/* fork_scan's set operation: attach or detach the scan's kretprobe. */
int ct_probes_set_fork_scan(bool on)
{
	struct ct_probe *pr = &ct_probes[CT_P_FORK_SCAN];
	int err = 0;

	mutex_lock(&ct_probes_mutex);
	if (ct_probes_live && on && !pr->attached) {
		err = ct_attach(pr);
		if (!err && ct_disarmed)
			disable_kprobe(&pr->rp.kp);
	} else if (ct_probes_live && !on && pr->attached) {
		WRITE_ONCE(ct_fork_scan, false);
		ct_detach(pr);
	}
	if (!err)
		WRITE_ONCE(ct_fork_scan, on);
	mutex_unlock(&ct_probes_mutex);
	return err;
}

/* A hook on the fault path, disarmed while counting is disabled. */
static bool ct_disarmable(const struct ct_probe *pr)
{
	return pr->attached && pr->mech != CT_M_TP;
}

/* Arm a fault-path hook again, or disarm it. */
static int ct_arm(struct ct_probe *pr)
{
	int err;

	if (!pr->via_ftrace)
		return enable_kprobe(&pr->rp.kp);
	if (pr->fregistered)
		return 0;
	err = register_ftrace_function(&pr->fops);
	pr->fregistered = !err;
	return err;
}

static void ct_disarm(struct ct_probe *pr)
{
	if (!pr->via_ftrace) {
		disable_kprobe(&pr->rp.kp);
	} else if (pr->fregistered) {
		unregister_ftrace_function(&pr->fops);
		pr->fregistered = false;
	}
}

/*
 * control's "enable" and "disable".  Disabled, the fault-path hooks are
 * disarmed (an ftrace callback is unregistered, its filter kept;
 * disable_kprobe(): a kprobe on ftrace leaves its function's ftrace site
 * once none is armed there), so a disabled cowtrace costs the fault path
 * nothing; the fork and exit tracepoints stay, keeping
 * the table's rows in step with the processes.  Arming goes from the
 * innermost hooks to the entry (the last role armed is wp_entry, role
 * 0), disarming the other way, as at load and unload.
 */
int ct_probes_set_enabled(bool on)
{
	int r, err = 0;

	mutex_lock(&ct_probes_mutex);
	if (!ct_probes_live || ct_disarmed == !on)
		goto out;
	if (on) {
		for (r = CT_NR_PROBES - 1; r >= 0; r--)
			if (ct_disarmable(&ct_probes[r]))
				err = err ?: ct_arm(&ct_probes[r]);
		if (err) {
			/* Leave it disabled, whole. */
			for (r = 0; r < CT_NR_PROBES; r++)
				if (ct_disarmable(&ct_probes[r]))
					ct_disarm(&ct_probes[r]);
			goto out;
		}
		ct_disarmed = false;
		WRITE_ONCE(ct_enabled, true);
	} else {
		WRITE_ONCE(ct_enabled, false);
		for (r = 0; r < CT_NR_PROBES; r++)
			if (ct_disarmable(&ct_probes[r]))
				ct_disarm(&ct_probes[r]);
		ct_disarmed = true;
	}
out:
	mutex_unlock(&ct_probes_mutex);
	return err;
}

void ct_probes_exit(void)
{
	int r;

	mutex_lock(&ct_probes_mutex);
	ct_probes_live = false;
	WRITE_ONCE(ct_enabled, false);
	for (r = CT_NR_PROBES - 1; r >= 0; r--)
		ct_detach(&ct_probes[r]);
	mutex_unlock(&ct_probes_mutex);
	tracepoint_synchronize_unregister();
}

static u64 ct_probe_missed(struct ct_probe *pr)
{
	if (!pr->attached || pr->mech == CT_M_TP)
		return 0;
	if (pr->via_ftrace)
		return 0;
	return pr->rp.kp.nmissed +
	       (pr->mech == CT_M_KRETPROBE ? pr->rp.nmissed : 0);
}

u64 ct_probes_missed(void)
{
	u64 sum = 0;
	int r;

	for (r = 0; r < CT_NR_PROBES; r++)
		sum += ct_probe_missed(&ct_probes[r]);
	return sum;
}

static const char *ct_status(enum ct_role r)
{
	struct ct_probe *pr = &ct_probes[r];

	if (pr->attached)
		return ct_disarmed && ct_disarmable(pr) ? "disarmed" : "attached";
	if (pr->plan == CT_ON_DEMAND && pr->found)
		return "off";
	if ((pr->plan == CT_NEW && !ct_new_plan) ||
	    (pr->plan == CT_OLD && ct_new_plan))
		return "unused";
	return "missing";
}

void ct_show_probes(struct seq_file *m)
{
	int r, cpu;

	seq_puts(m, "role           symbol                      mechanism      status     hits       tracked    nmissed\n");
	for (r = 0; r < CT_NR_PROBES; r++) {
		struct ct_probe *pr = &ct_probes[r];
		u64 hits = 0, tracked = 0;

		for_each_possible_cpu(cpu) {
			tracked += per_cpu(ct_hits, cpu).tracked[r];
			hits += per_cpu(ct_hits, cpu).other[r];
		}
		hits += tracked;
		seq_printf(m, "%-14s %-27s %-14s %-10s %-10llu %-10llu %llu\n",
			   pr->role, pr->found ? pr->found : pr->syms[0],
			   pr->via_ftrace ? ct_ftrace_mech_names[pr->mech] :
			   ct_mech_names[pr->mech], ct_status(r),
			   hits, tracked, ct_probe_missed(pr));
	}
	if (!ct_shadow)
		return;
	seq_puts(m, "\nshadow         default    legacy\n");
	for (r = 0; r < CT_NR_SHADOW; r++) {
		u64 n[2] = { 0, 0 };

		for_each_possible_cpu(cpu) {
			n[0] += per_cpu(ct_shadow_ctr, cpu).n[0][r];
			n[1] += per_cpu(ct_shadow_ctr, cpu).n[1][r];
		}
		seq_printf(m, "%-14s %-10llu %llu\n", ct_shadow_names[r],
			   n[0], n[1]);
	}
}

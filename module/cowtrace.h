/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowtrace - per-process copy-on-write accounting.
 *
 * Shared definitions of the module's parts: load, unload and parameters
 * (main.c), counters and histograms (stats.c), the process table
 * (procs.c), the filter (filter.c), probes and fault classification
 * (probes.c), the page-table walker and fork scan (ptwalk.c, ptwalk.h),
 * the page-table inspector (inspect.c), the debugfs interface
 * (debugfs.c) and the cowtrace:* trace events (trace.c,
 * cowtrace_trace.h).  Kernel-version differences are in compat.h alone.
 */
#ifndef _COWTRACE_H
#define _COWTRACE_H

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <asm/tsc.h>

/*
 * The counters kept per process and globally.  One definition here, one
 * name in ct_counter_names[] (stats.c), one place each is incremented
 * (probes.c), one line of documentation (Documentation/cowtrace.rst).
 */
enum ct_counter {
	CT_FORKS,		/* fork/clone without CLONE_VM */
	CT_SHARED,		/* anon pages mapped into children at fork */
	CT_COPIES,		/* write fault copied an anonymous page */
	CT_REUSES,		/* write fault reused an exclusive anon page */
	CT_ZERO_FILLS,		/* write fault replaced the shared zero page */
	CT_FILE_COPIES,		/* write made a private copy of a file page */
	CT_SHARED_WRITES,	/* write fault on a MAP_SHARED mapping */
	CT_THP_REUSES,		/* write to a THP PMD reused the huge page */
	CT_THP_SPLITS,		/* write to a shared THP PMD split it */
	CT_HUGETLB_COPIES,	/* COW of a hugetlb page */
	CT_UNSHARES,		/* FAULT_FLAG_UNSHARE copies (R/O pins) */
	CT_BYTES_COPIED,	/* bytes copied by all of the above */
	CT_COW_RACES,		/* copy prepared, another fault won */
	CT_SHARED_FIRST,	/* fork scan: page mapcount went 1 -> 2 */
	CT_SHARED_AGAIN,	/* fork scan: page mapcount went n -> n+1 */
	CT_FORK_COPIES,		/* fork scan: anon pages copied at fork */
	CT_KSM_COPIES,		/* copies and unshares of a KSM page */
	CT_NR_COUNTERS
};

extern const char *const ct_counter_names[CT_NR_COUNTERS];

/* Outcomes of a COW fault, for the mapcount and latency histograms. */
enum ct_outcome {
	CT_OUT_COPY,
	CT_OUT_REUSE,
	CT_OUT_ZERO_FILL,
	CT_OUT_FILE_COPY,
	CT_OUT_SHARED_WRITE,
	CT_OUT_RACE,
	CT_NR_OUTCOMES
};

extern const char *const ct_outcome_names[CT_NR_OUTCOMES];

/*
 * What a cowtrace:cow_fault trace event reports (trace.c): one per
 * counted outcome, emitted where its counter is incremented.
 */
enum ct_ev {
	CT_EV_COPY,
	CT_EV_REUSE,
	CT_EV_ZERO_FILL,
	CT_EV_FILE_COPY,
	CT_EV_SHARED_WRITE,
	CT_EV_RACE,
	CT_EV_UNSHARE,
	CT_EV_THP_SPLIT,
	CT_EV_THP_REUSE,
	CT_EV_HUGETLB_COPY,
};

/* The kind of memory a cow_fault event's address lies in. */
enum ct_mem {
	CT_MEM_HEAP,		/* the brk heap */
	CT_MEM_STACK,		/* the main thread's stack */
	CT_MEM_ANON,		/* any other private anonymous mapping */
	CT_MEM_FILE,		/* a private mapping of a file */
	CT_MEM_SHARED,		/* a shared mapping (file or shmem) */
};

#define CT_HIST_MAX	16	/* mapcount/refcount values 0..15, 16 = 16+ */
#define CT_LAT_BUCKETS	40	/* log2(ns) buckets */

/* State of a process table entry. */
enum ct_proc_state {
	CT_PROC_FREE,
	CT_PROC_ALIVE,
	CT_PROC_EXITED,
};

/* A process table entry (procs.c); others only hold pointers to it. */
struct ct_proc;

/* Snapshot of one entry, for printing. */
struct ct_proc_view {
	pid_t tgid;
	pid_t ppid;
	enum ct_proc_state state;
	char comm[TASK_COMM_LEN];
	u64 inherited;
	u64 ctr[CT_NR_COUNTERS];
};

/* main.c: module parameters */
#define CT_MAX_PROCS_MIN	16
#define CT_MAX_PROCS_MAX	1048576		/* 1 << 20 */
extern unsigned int ct_max_procs;
extern unsigned int ct_max_exited;
extern bool ct_fork_scan;

/*
 * The fault-latency clock, read twice per event: the TSC, in a few
 * instructions (ktime_get_mono_fast_ns() cost about 55 a read under
 * instruction counting, a fifth of a COW copy's hook cost).  Only
 * differences of two reads are used: ct_since_ns() makes one
 * nanoseconds at the frequency the kernel calibrated (tsc_khz), and 0
 * if the reads are out of order (a task that moved between CPUs whose
 * TSCs are not in step).  Without a calibrated TSC it is the NMI-safe
 * ktime_get_mono_fast_ns().
 */
extern bool ct_clock_tsc;
extern u32 ct_tsc_mult, ct_tsc_shift;

static __always_inline u64 ct_clock(void)
{
	if (likely(ct_clock_tsc))
		return rdtsc();
	return ktime_get_mono_fast_ns();
}

static __always_inline u64 ct_since_ns(u64 t0)
{
	s64 d = ct_clock() - t0;

	if (d <= 0)
		return 0;
	return ct_clock_tsc ? mul_u64_u32_shr(d, ct_tsc_mult, ct_tsc_shift) : d;
}

/* stats.c */
int ct_stats_init(void);
void ct_stats_exit(void);
void ct_stats_reset(void);
u64 ct_stats_read(enum ct_counter c);
void ct_account(struct ct_proc *p, enum ct_counter c, u64 n);
void ct_count_fault(enum ct_counter c, enum ct_outcome o,
		    unsigned int mapcount, unsigned int refcount, u64 t0);
void ct_note_dropped(void);
/*
 * A fault found no free slot in probes.c's in-flight table, so it was
 * not classified: counted apart, and shown in stats' "missed" with the
 * kprobes' own nmissed.
 */
void ct_note_ctx_full(void);
u64 ct_dropped(void);
u64 ct_ctx_full(void);
void ct_show_mapcount(struct seq_file *m);
void ct_show_latency(struct seq_file *m);

/* procs.c */
int ct_procs_init(void);
void ct_procs_exit(void);
struct ct_proc *ct_proc_current(void);
struct ct_proc *ct_proc_of(struct task_struct *task);
struct ct_proc *ct_proc_of_child(struct task_struct *child, u64 inherited);
void ct_proc_exit(struct task_struct *task);
void ct_procs_reset(void);
void ct_proc_add(struct ct_proc *p, enum ct_counter c, u64 n);
void ct_proc_count_fault(enum ct_counter c, u64 bytes);
bool ct_proc_view(unsigned int idx, struct ct_proc_view *v);
unsigned int ct_procs_alive(void);
unsigned int ct_procs_exited(void);
u64 ct_procs_evicted(void);

/* filter.c */
#define CT_FILTER_PATH_MAX	256	/* a cgroup path, with its NUL */
bool ct_filter_match(struct task_struct *task);
extern bool ct_filtering;

/* ct_filter_match(), without a call while no filter is set. */
static __always_inline bool ct_filter_pass(struct task_struct *task)
{
	return !READ_ONCE(ct_filtering) || ct_filter_match(task);
}

int ct_filter_set(const char *spec);
void ct_filter_show(struct seq_file *m);
void ct_filter_exit(void);

/* probes.c */
extern bool ct_enabled;
int ct_probes_init(void);
void ct_probes_exit(void);
/* How a counter reads: a number, "off" (fork_scan=0) or "unsupported". */
enum ct_counter_state {
	CT_COUNTED,
	CT_OFF,			/* needs the fork scan, which is off */
	CT_UNSUPPORTED,		/* needs a probe this kernel lacks */
};

enum ct_counter_state ct_counter_state(enum ct_counter c);
int ct_probes_set_fork_scan(bool on);
int ct_probes_set_enabled(bool on);
u64 ct_probes_missed(void);
void ct_show_probes(struct seq_file *m);

/* trace.c: what a cow_fault trace event says of the memory */
struct vm_area_struct;
struct ct_mem_info {
	u32 mem;		/* enum ct_mem */
	u32 dev;		/* the file's device (dev_t), 0 if none */
	u64 ino;		/* the file's inode number, 0 if none */
	u64 offset;		/* byte offset in the file, 0 if none */
	u64 start, end;		/* the mapping: [vm_start, vm_end) */
};

void ct_trace_mem(struct vm_area_struct *vma, unsigned long address,
		  struct ct_mem_info *mi);
int ct_trace_reg(void);
void ct_trace_unreg(void);

/* inspect.c */
extern const struct file_operations ct_inspect_fops;

/*
 * Commands written to control and inspect.  The longest is "filter
 * cgroup " with the longest path (CT_FILTER_PATH_MAX - 1 bytes) and
 * echo's newline: CT_CMD_MAX holds it and its NUL (the two NULs counted
 * by sizeof and CT_FILTER_PATH_MAX make room for the newline and the NUL).
 * A longer write is refused with E2BIG.
 */
#define CT_CMD_MAX	(sizeof("filter cgroup ") + CT_FILTER_PATH_MAX)

/*
 * Copy a command written to one of our files: one whole write from
 * offset 0, shorter than @size, no NUL inside; returns it stripped, or
 * an ERR_PTR (-EINVAL, -E2BIG, -EFAULT).
 */
static inline char *ct_copy_cmd(const char __user *ubuf, size_t count,
				loff_t *ppos, char *buf, size_t size)
{
	if (*ppos)
		return ERR_PTR(-EINVAL);
	if (count >= size)
		return ERR_PTR(-E2BIG);
	if (copy_from_user(buf, ubuf, count))
		return ERR_PTR(-EFAULT);
	buf[count] = '\0';
	if (strlen(buf) != count)
		return ERR_PTR(-EINVAL);
	return strstrip(buf);
}

/* debugfs.c */
int ct_debugfs_init(void);
void ct_debugfs_exit(void);

#endif /* _COWTRACE_H */

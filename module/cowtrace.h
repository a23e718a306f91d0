/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowtrace - per-process copy-on-write accounting.
 *
 * Shared definitions of the module's parts: counters (stats.c), the
 * process table (procs.c), probes (probes.c), the fork-time page-table
 * scan (ptwalk.c) and the debugfs interface (debugfs.c).
 */
#ifndef _COWTRACE_H
#define _COWTRACE_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/types.h>
#include <asm/pgtable_types.h>

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

#define CT_HIST_MAX	16	/* mapcount/refcount values 0..15, 16 = 16+ */
#define CT_LAT_BUCKETS	40	/* log2(ns) buckets */

/* State of a process table entry. */
enum ct_proc_state {
	CT_PROC_FREE,
	CT_PROC_ALIVE,
	CT_PROC_EXITED,
};

struct ct_proc {
	struct hlist_node hnode;	/* live table, by tgid (RCU) */
	struct list_head lnode;		/* free list or exited FIFO */
	unsigned long exit_gp;		/* RCU state when it left the table */
	u64 seq;			/* creation order */
	u64 start_time;			/* leader's start time: identity */
	pid_t tgid;
	pid_t ppid;
	int state;
	char comm[TASK_COMM_LEN];
	u64 inherited;			/* anon pages shared at its birth */
	atomic64_t ctr[CT_NR_COUNTERS];
};

/* Snapshot of one entry, for printing. */
struct ct_proc_view {
	pid_t tgid;
	pid_t ppid;
	int state;
	char comm[TASK_COMM_LEN];
	u64 inherited;
	u64 ctr[CT_NR_COUNTERS];
};

/* main.c: module parameters */
extern unsigned int ct_max_procs;
extern unsigned int ct_max_exited;
extern bool ct_fork_scan;

/* stats.c */
int ct_stats_init(void);
void ct_stats_exit(void);
void ct_stats_reset(void);
u64 ct_stats_read(enum ct_counter c);
void ct_account(struct ct_proc *p, enum ct_counter c, u64 n);
void ct_hist_add(enum ct_outcome o, unsigned int mapcount,
		 unsigned int refcount, u64 ns);
void ct_note_dropped(void);
void ct_note_missed(void);
u64 ct_dropped(void);
u64 ct_missed_own(void);
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
bool ct_proc_view(unsigned int idx, struct ct_proc_view *v);
unsigned int ct_procs_count(int state);
u64 ct_procs_evicted(void);
bool ct_filter_match(struct task_struct *task);
int ct_filter_set(const char *spec);
void ct_filter_show(struct seq_file *m);

/* probes.c */
extern bool ct_enabled;
int ct_probes_init(void);
void ct_probes_exit(void);
bool ct_counter_supported(enum ct_counter c);
int ct_probes_set_fork_scan(bool on);
u64 ct_probes_missed(void);
void ct_show_probes(struct seq_file *m);

/* ptwalk.c */
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

void ct_walk_vma(struct vm_area_struct *vma, const struct ct_walk_ops *ops,
		 void *priv);

struct ct_fork_scan {
	u64 first;	/* anon pages now mapped twice: 1 -> 2 */
	u64 again;	/* anon pages now mapped 3+ times: n -> n+1 */
	u64 copied;	/* anon pages exclusive to the child: copied */
};

void ct_scan_fork_vma(struct vm_area_struct *dst_vma,
		      struct ct_fork_scan *res);

/* inspect.c */
extern const struct file_operations ct_inspect_fops;

/* debugfs.c */
char *ct_copy_cmd(const char __user *ubuf, size_t count, loff_t *ppos,
		  char *buf, size_t size);
int ct_debugfs_init(void);
void ct_debugfs_exit(void);

#endif /* _COWTRACE_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * The process table: one entry per process (thread group), from a pool
 * preallocated at load.
 *
 * Live processes are found by tgid in a hash table that the probes read
 * under RCU (their handlers run with preemption disabled, and an RCU
 * grace period waits for such sections too), so the fault path takes no
 * lock.  What they dereference with rcu_dereference() (a task's parent
 * and cgroup) they read inside rcu_read_lock(), as lockdep expects.
 * Entries are added at fork, or at a process's first event if it
 * predates the module, and leave the hash when the process exits.
 * Exited entries stay readable in a FIFO; beyond max_exited the oldest
 * is reused, but only once an RCU grace period has passed since it left
 * the hash, so no probe can still hold it.  When no entry can be had the
 * event is counted globally and in "dropped".  Changes to the table take
 * ct_table_lock, a raw spinlock (never sleeps, also on PREEMPT_RT); they
 * happen at fork, exit and first event, never per fault.
 */
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/pid_namespace.h>
#include <linux/rculist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "cowtrace.h"

struct ct_proc {
	struct hlist_node hnode;	/* live table, by tgid (RCU) */
	struct list_head lnode;		/* free list or exited FIFO */
	unsigned long exit_gp;		/* RCU state when it left the table */
	u64 start_time;			/* leader's start time: identity */
	pid_t tgid;
	pid_t ppid;
	enum ct_proc_state state;
	char comm[TASK_COMM_LEN];
	u64 inherited;			/* anon pages shared at its birth */
	atomic64_t ctr[CT_NR_COUNTERS];
};

static struct ct_proc *ct_pool;
static struct hlist_head *ct_hash;
static unsigned int ct_hash_bits;
static LIST_HEAD(ct_free);
static LIST_HEAD(ct_exited);
static unsigned int ct_nr_alive;
static unsigned int ct_nr_exited;
static DEFINE_RAW_SPINLOCK(ct_table_lock);

int ct_procs_init(void)
{
	unsigned int i;

	ct_hash_bits = ilog2(roundup_pow_of_two(ct_max_procs));
	ct_pool = vcalloc(ct_max_procs, sizeof(*ct_pool));
	ct_hash = vcalloc(1U << ct_hash_bits, sizeof(*ct_hash));
	if (!ct_pool || !ct_hash) {
		vfree(ct_pool);
		vfree(ct_hash);
		return -ENOMEM;
	}
	for (i = 0; i < (1U << ct_hash_bits); i++)
		INIT_HLIST_HEAD(&ct_hash[i]);
	for (i = 0; i < ct_max_procs; i++)
		list_add_tail(&ct_pool[i].lnode, &ct_free);
	return 0;
}

void ct_procs_exit(void)
{
	vfree(ct_hash);
	vfree(ct_pool);
}

static __always_inline struct hlist_head *ct_bucket(pid_t tgid)
{
	return &ct_hash[hash_32((u32)tgid, ct_hash_bits)];
}

static __always_inline struct ct_proc *ct_lookup(struct task_struct *leader)
{
	struct ct_proc *p;

	hlist_for_each_entry_rcu(p, ct_bucket(leader->tgid), hnode) {
		if (READ_ONCE(p->tgid) == leader->tgid &&
		    READ_ONCE(p->start_time) == leader->start_time)
			return p;
	}
	return NULL;
}

/*
 * Exited entries evicted to make room: their counts stay in the global
 * stats but leave the per-process table.  Table lock held to change.
 */
static u64 ct_nr_evicted;

/* Take a free entry, or reuse the oldest exited one.  Table lock held. */
static struct ct_proc *ct_take_entry(void)
{
	struct ct_proc *p;

	p = list_first_entry_or_null(&ct_free, struct ct_proc, lnode);
	if (!p) {
		p = list_first_entry_or_null(&ct_exited, struct ct_proc, lnode);
		if (!p || !poll_state_synchronize_rcu(p->exit_gp))
			return NULL;
		ct_nr_exited--;
		WRITE_ONCE(ct_nr_evicted, ct_nr_evicted + 1);
	}
	list_del_init(&p->lnode);
	return p;
}

NOKPROBE_SYMBOL(ct_take_entry);

/* Keep at most max_exited exited entries.  Table lock held. */
static void ct_trim_exited(void)
{
	struct ct_proc *p;

	while (ct_nr_exited > READ_ONCE(ct_max_exited)) {
		p = list_first_entry(&ct_exited, struct ct_proc, lnode);
		if (!poll_state_synchronize_rcu(p->exit_gp))
			break;
		list_move_tail(&p->lnode, &ct_free);
		WRITE_ONCE(p->state, CT_PROC_FREE);
		ct_nr_exited--;
		WRITE_ONCE(ct_nr_evicted, ct_nr_evicted + 1);
	}
}

NOKPROBE_SYMBOL(ct_trim_exited);

/* The name as the task has it: procs escapes it when it prints it. */
static void ct_comm(char *dst, struct task_struct *task)
{
	strscpy(dst, task->comm, TASK_COMM_LEN);
}

NOKPROBE_SYMBOL(ct_comm);

/*
 * Find or create the entry of @task's process; a new entry starts with
 * @inherited shared pages, set before it becomes visible.  Atomic context.
 */
static notrace struct ct_proc *ct_proc_find(struct task_struct *task, u64 inherited)
{
	struct task_struct *leader = task->group_leader;
	struct ct_proc *p;
	unsigned long flags;
	int i;

	p = ct_lookup(leader);
	if (likely(p))
		return p;

	raw_spin_lock_irqsave(&ct_table_lock, flags);
	p = ct_lookup(leader);
	if (p)
		goto out;
	p = ct_take_entry();
	if (!p) {
		ct_note_dropped();
		goto out;
	}
	p->tgid = leader->tgid;
	p->start_time = leader->start_time;
	rcu_read_lock();
	p->ppid = task_tgid_nr(rcu_dereference(leader->real_parent));
	rcu_read_unlock();
	ct_comm(p->comm, leader);
	p->inherited = inherited;
	for (i = 0; i < CT_NR_COUNTERS; i++)
		atomic64_set(&p->ctr[i], 0);
	WRITE_ONCE(p->state, CT_PROC_ALIVE);
	hlist_add_head_rcu(&p->hnode, ct_bucket(p->tgid));
	ct_nr_alive++;
out:
	raw_spin_unlock_irqrestore(&ct_table_lock, flags);
	return p;
}

NOKPROBE_SYMBOL(ct_proc_find);

struct ct_proc *ct_proc_of(struct task_struct *task)
{
	return ct_proc_find(task, 0);
}

NOKPROBE_SYMBOL(ct_proc_of);

/*
 * The entry of a child process, born with @inherited shared pages, at
 * the fork tracepoint.  The child has not run yet and only a process's
 * own events (or its fork) create its entry, so this one is new.
 */
struct ct_proc *ct_proc_of_child(struct task_struct *child, u64 inherited)
{
	return ct_proc_find(child, inherited);
}

NOKPROBE_SYMBOL(ct_proc_of_child);

/* Add @n to @p's counter @c (ct_account()).  Atomic context. */
notrace void ct_proc_add(struct ct_proc *p, enum ct_counter c, u64 n)
{
	atomic64_add(n, &p->ctr[c]);
}

NOKPROBE_SYMBOL(ct_proc_add);

/* The hot path's lookup: the entry exists but at a process's first event. */
static __always_inline struct ct_proc *ct_proc_here(void)
{
	struct ct_proc *p = ct_lookup(current->group_leader);

	return likely(p) ? p : ct_proc_find(current, 0);
}

notrace struct ct_proc *ct_proc_current(void)
{
	return ct_proc_here();
}

NOKPROBE_SYMBOL(ct_proc_current);

/*
 * A fault's outcome (ct_count_fault()): 1 to the current process's
 * counter @c, and @bytes copied.
 */
notrace void ct_proc_count_fault(enum ct_counter c, u64 bytes)
{
	struct ct_proc *p = ct_proc_here();

	if (!p)
		return;
	atomic64_inc(&p->ctr[c]);
	if (bytes)
		atomic64_add(bytes, &p->ctr[CT_BYTES_COPIED]);
}

NOKPROBE_SYMBOL(ct_proc_count_fault);

/* @task exits; when it is the last thread, its process leaves the table. */
void ct_proc_exit(struct task_struct *task)
{
	struct ct_proc *p;
	unsigned long flags;

	if (atomic_read(&task->signal->live))
		return;
	raw_spin_lock_irqsave(&ct_table_lock, flags);
	p = ct_lookup(task->group_leader);
	if (p) {
		ct_comm(p->comm, task->group_leader);
		hlist_del_init_rcu(&p->hnode);
		WRITE_ONCE(p->state, CT_PROC_EXITED);
		p->exit_gp = get_state_synchronize_rcu();
		list_add_tail(&p->lnode, &ct_exited);
		ct_nr_alive--;
		ct_nr_exited++;
	}
	ct_trim_exited();
	raw_spin_unlock_irqrestore(&ct_table_lock, flags);
}

void ct_procs_reset(void)
{
	unsigned long flags;
	unsigned int i;
	int c;

	raw_spin_lock_irqsave(&ct_table_lock, flags);
	WRITE_ONCE(ct_nr_evicted, 0);
	for (i = 0; i < ct_max_procs; i++) {
		ct_pool[i].inherited = 0;
		for (c = 0; c < CT_NR_COUNTERS; c++)
			atomic64_set(&ct_pool[i].ctr[c], 0);
	}
	raw_spin_unlock_irqrestore(&ct_table_lock, flags);
}

u64 ct_procs_evicted(void)
{
	return READ_ONCE(ct_nr_evicted);
}

unsigned int ct_procs_alive(void)
{
	return READ_ONCE(ct_nr_alive);
}

unsigned int ct_procs_exited(void)
{
	return READ_ONCE(ct_nr_exited);
}

/* Refresh the comm of a live process (exec and prctl change it). */
static void ct_refresh_comm(struct ct_proc_view *v, u64 start_time)
{
	struct task_struct *task;

	rcu_read_lock();
	task = pid_task(find_pid_ns(v->tgid, &init_pid_ns), PIDTYPE_TGID);
	if (task && task->start_time == start_time)
		ct_comm(v->comm, task);
	rcu_read_unlock();
}

/*
 * Copy entry @idx for printing; false if it is not in use.  A free slot
 * is skipped without the table lock, so reading a large, mostly empty
 * table does not contend with fork and exit; a slot in use is copied
 * under the lock, whole.
 */
bool ct_proc_view(unsigned int idx, struct ct_proc_view *v)
{
	struct ct_proc *p;
	unsigned long flags;
	u64 start_time;
	int c;

	if (idx >= ct_max_procs)
		return false;
	p = &ct_pool[idx];
	if (READ_ONCE(p->state) == CT_PROC_FREE)
		return false;
	raw_spin_lock_irqsave(&ct_table_lock, flags);
	v->state = p->state;
	v->tgid = p->tgid;
	v->ppid = p->ppid;
	start_time = p->start_time;
	v->inherited = p->inherited;
	memcpy(v->comm, p->comm, sizeof(v->comm));
	for (c = 0; c < CT_NR_COUNTERS; c++)
		v->ctr[c] = atomic64_read(&p->ctr[c]);
	raw_spin_unlock_irqrestore(&ct_table_lock, flags);
	if (v->state == CT_PROC_FREE)
		return false;
	if (v->state == CT_PROC_ALIVE)
		ct_refresh_comm(v, start_time);
	return true;
}

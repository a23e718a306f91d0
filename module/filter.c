// SPDX-License-Identifier: GPL-2.0
/*
 * The filter: which processes are counted (control's "filter ...").
 *
 * The filter is one immutable object, published with RCU.  A probe
 * handler (atomic context) loads the pointer once, inside
 * rcu_read_lock(), and decides with that object alone, so every event is
 * judged by the old filter or by the new one, whole: never by a mix of
 * the two, and never by "everything" in between.  "none" (count
 * everything) is a filter object like the others, static and never
 * freed, so the pointer is never NULL.  A change builds the new object
 * first (looking the cgroup up may sleep), swaps the pointer under
 * ct_filter_mutex and hands the old object to call_rcu(): only after a
 * grace period (which also waits out handlers that run with preemption
 * disabled) is its cgroup reference dropped and the object freed.
 */
#include <linux/cgroup.h>
#include <linux/kprobes.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "cowtrace.h"

enum ct_filter_kind {
	CT_FILTER_NONE,		/* everything */
	CT_FILTER_PID,		/* a process and its descendants */
	CT_FILTER_CGROUP,	/* a cgroup v2 directory and those below it */
	CT_NR_FILTER_KINDS
};

/* Each kind's word, in the commands that set it and in control's text. */
static const char *const ct_filter_words[CT_NR_FILTER_KINDS] = {
	[CT_FILTER_NONE] = "none",
	[CT_FILTER_PID] = "pid",
	[CT_FILTER_CGROUP] = "cgroup",
};

static_assert(ARRAY_SIZE(ct_filter_words) == CT_NR_FILTER_KINDS);

struct ct_filter {
	enum ct_filter_kind kind;
	pid_t pid;		/* PID: a tgid in the initial pid namespace */
	struct cgroup *cgrp;	/* CGROUP: holds a reference */
	struct rcu_head rcu;	/* freed after a grace period */
	char path[];		/* CGROUP: as written, below the cgroup2 root */
};

static struct ct_filter ct_filter_all = { .kind = CT_FILTER_NONE };
static struct ct_filter __rcu *ct_filter = RCU_INITIALIZER(&ct_filter_all);

/*
 * Is a filter set?  Read first by ct_filter_pass(), on every hook run, so
 * that with no filter nothing is read under RCU.  It is written after the
 * pointer: a reader that still sees false while a filter is being set
 * acts as one that still saw the old filter, as a reader that loaded the
 * pointer just before the change does.
 */
bool ct_filtering;
static DEFINE_MUTEX(ct_filter_mutex);

/* Is @task, or one of its ancestors, the process @tgid?  Under RCU. */
static bool ct_in_subtree(struct task_struct *task, pid_t tgid)
{
	struct task_struct *t;

	for (t = task; t->pid; t = rcu_dereference(t->real_parent)) {
		if (t->tgid == tgid)
			return true;
		if (t == rcu_dereference(t->real_parent))
			break;
	}
	return false;
}

NOKPROBE_SYMBOL(ct_in_subtree);

/* Does @task pass the filter?  Atomic context: probes and fork. */
bool ct_filter_match(struct task_struct *task)
{
	const struct ct_filter *f;
	bool match;

	rcu_read_lock();
	f = rcu_dereference(ct_filter);
	switch (f->kind) {
	case CT_FILTER_PID:
		match = ct_in_subtree(task, f->pid);
		break;
	case CT_FILTER_CGROUP:
		match = cgroup_is_descendant(task_dfl_cgroup(task), f->cgrp);
		break;
	default:
		match = true;
	}
	rcu_read_unlock();
	return match;
}

NOKPROBE_SYMBOL(ct_filter_match);

static void ct_filter_free(struct ct_filter *f)
{
	if (f == &ct_filter_all)
		return;
	if (f->cgrp)
		cgroup_put(f->cgrp);
	kfree(f);
}

/* A replaced filter, once no handler can still hold it (softirq). */
static void ct_filter_free_rcu(struct rcu_head *head)
{
	ct_filter_free(container_of(head, struct ct_filter, rcu));
}

/* The argument of "<@kind's word> <argument>", or NULL if not that kind. */
static const char *ct_filter_arg(const char *spec, enum ct_filter_kind kind)
{
	size_t n = str_has_prefix(spec, ct_filter_words[kind]);

	return n && spec[n] == ' ' ? skip_spaces(spec + n) : NULL;
}

/* The filter @spec describes, newly allocated (but "none"), or ERR_PTR. */
static struct ct_filter *ct_filter_parse(const char *spec)
{
	struct ct_filter *f;
	const char *arg;
	size_t len;
	int pid;

	if (!strcmp(spec, ct_filter_words[CT_FILTER_NONE]))
		return &ct_filter_all;
	arg = ct_filter_arg(spec, CT_FILTER_PID);
	if (arg) {
		if (kstrtoint(arg, 10, &pid) || pid <= 0)
			return ERR_PTR(-EINVAL);
		f = kzalloc(sizeof(*f), GFP_KERNEL);
		if (!f)
			return ERR_PTR(-ENOMEM);
		f->kind = CT_FILTER_PID;
		f->pid = pid;
		return f;
	}
	arg = ct_filter_arg(spec, CT_FILTER_CGROUP);
	if (!arg)
		return ERR_PTR(-EINVAL);
	len = strlen(arg);
	if (*arg != '/' || len >= CT_FILTER_PATH_MAX)
		return ERR_PTR(-EINVAL);
	f = kzalloc(struct_size(f, path, len + 1), GFP_KERNEL);
	if (!f)
		return ERR_PTR(-ENOMEM);
	f->cgrp = cgroup_get_from_path(arg);
	if (IS_ERR(f->cgrp)) {
		int err = PTR_ERR(f->cgrp);

		kfree(f);
		return ERR_PTR(err);
	}
	f->kind = CT_FILTER_CGROUP;
	memcpy(f->path, arg, len + 1);
	return f;
}

/*
 * "none", "pid <pid>" or "cgroup </path/below/the/cgroup2/root>".  From
 * the moment the pointer is replaced every new event is judged by the new
 * filter; the old one is freed after a grace period (call_rcu), so a
 * write does not wait for one: 2,000 changes from four threads take
 * seconds under emulation, not a grace period each.
 */
int ct_filter_set(const char *spec)
{
	struct ct_filter *new = ct_filter_parse(spec), *old;

	if (IS_ERR(new))
		return PTR_ERR(new);
	mutex_lock(&ct_filter_mutex);
	old = rcu_replace_pointer(ct_filter, new,
				  lockdep_is_held(&ct_filter_mutex));
	WRITE_ONCE(ct_filtering, new != &ct_filter_all);
	mutex_unlock(&ct_filter_mutex);
	if (old != &ct_filter_all)
		call_rcu(&old->rcu, ct_filter_free_rcu);
	return 0;
}

/* The filter in the words that set it; a path's \n and \ octal-escaped. */
void ct_filter_show(struct seq_file *m)
{
	const struct ct_filter *f;

	mutex_lock(&ct_filter_mutex);
	f = rcu_dereference_protected(ct_filter,
				      lockdep_is_held(&ct_filter_mutex));
	seq_puts(m, ct_filter_words[f->kind]);
	if (f->kind == CT_FILTER_PID) {
		seq_printf(m, " %d", f->pid);
	} else if (f->kind == CT_FILTER_CGROUP) {
		seq_putc(m, ' ');
		seq_escape(m, f->path, "\n\\");
	}
	seq_putc(m, '\n');
	mutex_unlock(&ct_filter_mutex);
}

/*
 * At unload, once no handler can run: back to "none", the old one freed,
 * and every filter still waiting for its grace period freed before the
 * module's text goes.
 */
void ct_filter_exit(void)
{
	ct_filter_free(rcu_replace_pointer(ct_filter, &ct_filter_all, true));
	WRITE_ONCE(ct_filtering, false);
	rcu_barrier();
}

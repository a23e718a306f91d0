/* SPDX-License-Identifier: GPL-2.0 */
/* cowstat --where (where.c): COW faults by process and memory region. */
#ifndef _COWSTAT_WHERE_H
#define _COWSTAT_WHERE_H

#include <stddef.h>

#define WHERE_REGION_MAX 512

struct where_row {
	long pid;
	char comm[32];
	char region[WHERE_REGION_MAX];	/* a path, [heap], "anon 0x..-0x.." */
	const char *kind;		/* heap stack anon file shared */
	unsigned long long copies;	/* copy, file_copy, unshare, hugetlb_copy */
	unsigned long long bytes;
	unsigned long long zero_fills;
	unsigned long long reuses;	/* reuse, shared_write, thp_reuse */
	unsigned long long other;	/* race, thp_split */
};

#define WHERE_FUNC_MAX 256
#define WHERE_FRAMES 8		/* FTRACE_STACK_ENTRIES: the user stack's depth */

/*
 * --call-graph: COW faults by process, the user function that wrote and
 * the region it wrote in.
 */
struct where_func {
	long pid;
	char comm[32];
	char function[WHERE_FUNC_MAX];	/* a symbol, OBJECT+0xOFF, [unknown] */
	char object[WHERE_FUNC_MAX];	/* the file's name, or "" */
	char region[WHERE_REGION_MAX];	/* as in struct where_row */
	unsigned long long copies, bytes, zero_fills, reuses, other;
};

/*
 * --call-graph --folded: a user stack, outermost frame first, and last
 * the region written.
 */
struct where_stack {
	char comm[32];
	int nframes;
	char frames[WHERE_FRAMES + 1][WHERE_REGION_MAX];
	unsigned long long count;	/* copies and zero fills */
};

/*
 * 0, or -errno: tracefs or cowtrace's events are not there.  With
 * @callgraph, each event's user stack is recorded too (the instance's
 * userstacktrace option).
 */
int where_start(int callgraph);
void where_drain(void);
void where_stop(void);
/* Sorted by bytes; @lost: events the ring buffer overwrote. */
const struct where_row *where_rows(size_t *n, unsigned long long *lost);
/* Sorted by bytes, then copies; @nostack: faults that came without a stack. */
const struct where_func *where_funcs(size_t *n, unsigned long long *nostack);
/* Sorted by count. */
const struct where_stack *where_stacks(size_t *n);

#endif /* _COWSTAT_WHERE_H */

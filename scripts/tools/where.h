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

/* 0, or -errno: tracefs or cowtrace's events are not there. */
int where_start(void);
void where_drain(void);
void where_stop(void);
/* Sorted by bytes; @lost: events the ring buffer overwrote. */
const struct where_row *where_rows(size_t *n, unsigned long long *lost);

#endif /* _COWSTAT_WHERE_H */

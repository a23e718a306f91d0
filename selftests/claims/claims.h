/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scenarios that settle the claims listed in claims.c (claims[], C1..C15)
 * with cowtrace's numbers.  Each scenario runs quiescent puppet processes,
 * measures, checks the numbers against the kernel's behaviour (struct
 * claim_check) and states a verdict computed from those checks.  Used by
 * selftests/claims/claims_test.c (which asserts the numbers) and by the demo
 * (selftests/claims/demo.c, which narrates them).  cowtrace must be loaded,
 * with fork_scan=1 for C1.
 */
#ifndef _COWTRACE_CLAIMS_H
#define _COWTRACE_CLAIMS_H

enum claim_verdict { V_HOLDS, V_REFUTED, V_PARTLY, V_SKIPPED, V_ERROR };

/*
 * One number a scenario measured and the range [lo, hi] the kernel's
 * behaviour puts it in.  A scenario's verdict is computed from its
 * checks: the claims test asserts each of them, the demo names the ones
 * that fail.  The expectation is written once, in claims.c.
 */
struct claim_check {
	const char *what;
	long long got;
	long long lo;
	long long hi;
};

#define CLAIM_CHECKS 10

struct claim {
	const char *id;
	const char *text;
	enum claim_verdict verdict;
	char measured[1024];
	char why[768];
	struct claim_check check[CLAIM_CHECKS];
	int nr_checks;
	int failed;		/* checks whose number is out of range */
	/* The scenario's numbers, for tests: one member per claim. */
	union {
		struct {
			long long shared;	/* pages the fork shared */
			long long inherited;	/* the child's inherited */
			long long first;	/* of which mapcount 1 -> 2 */
			long long again;	/* of which already shared */
			long long fork_copies;	/* pages the fork copied */
			long long rss_pages;	/* the parent's anonymous pages before */
			long long rss_after;	/* ... and after the fork */
		} c1;
		struct {
			long long child_copies;	/* the child's copies */
			long long parent_copies;	/* the parent's copies */
			long long child_bytes;	/* the child's bytes copied */
			long long child_other;	/* the child's reuses and zero fills */
		} c2;
		struct {
			long long both_small;	/* copies of child and parent, 1 MiB parent */
			long long both_large;	/* ... 64 MiB parent */
			long long child_small;	/* the child's copies, 1 MiB parent */
			long long child_large;	/* ... 64 MiB parent */
		} c3;
		struct {
			long long copies;	/* the parent's copies */
			long long pss_kb;	/* the pair's anonymous Pss growth, KiB */
			long long written;	/* pages written */
		} c4;
		struct {
			long long copied_kb;	/* KiB the child copied */
			long long vmrss_kb;	/* its VmRSS growth, KiB */
			long long child_dirty_kb;	/* its Private_Dirty growth, KiB */
			long long parent_dirty_kb;	/* the parent's Private_Dirty growth, KiB */
			long long pss_kb;	/* the pair's anonymous Pss growth, KiB */
		} c5;
		struct {
			long long file_copies;	/* file copies */
			long long unchanged;	/* 1 if the file is unchanged */
			long long anon_events;	/* anonymous copies and zero fills */
		} c6;
		struct {
			long long not_shared;	/* pages the second fork shared fewer */
			long long excluded;	/* pages wiped or not forked */
			long long wiped_copies;	/* the child's copies in the wiped range */
		} c7;
		struct {
			long long copies;	/* the child's copies */
			long long vfork_forks;	/* forks a vfork() counted */
			long long vfork_shared;	/* pages a vfork() shared */
			long long dirty_kb;	/* the child's Private_Dirty growth, KiB */
			long long pss_kb;	/* the pair's anonymous Pss growth, KiB */
			long long copied_kb;	/* KiB the child copied */
		} c8;
		/* C9: writers in turn: child 1, the parent, child 2, child 3. */
		struct {
			long long copies;
			long long reuses;
		} c9[4];
		struct {
			long long reuses;	/* the parent's reuses */
			long long copies;	/* the parent's copies */
		} c10;
		struct {
			long long copies;
			long long reuses;
			long long hist_copies;	/* mapcount table: at mc 1, refcount >= 2 */
		} c11;
		struct {
			long long events;	/* COW events of the reads */
			long long then_copies;	/* copies of one write afterwards */
		} c12;
		struct {
			long long thp_splits;	/* THP: PMD splits */
			long long thp_copies;	/* THP: copies */
			long long thp_bytes;	/* THP: bytes copied */
			long long hugetlb_copies;	/* hugetlb: copies */
			long long hugetlb_bytes;	/* hugetlb: bytes copied */
			long long anon_huge_kb;	/* THP: the parent's AnonHugePages, kB */
		} c13;
		struct {
			long long copies;	/* the child's copies */
		} c14;
		struct {
			long long zero_fills;	/* zero fills */
			long long copies;	/* copies */
			long long bytes;	/* bytes copied */
		} c15;
	};
};

typedef void (*claim_fn)(struct claim *c);

struct claim_entry {
	const char *id;
	const char *text;
	claim_fn run;
};

/* Run claim @e into @c (cleared first). */
void claim_run(const struct claim_entry *e, struct claim *c);

extern const struct claim_entry claims[];
extern const int nr_claims;

const char *claim_verdict_name(enum claim_verdict v);

/* Whether check @k's number is in its range. */
static inline int claim_check_ok(const struct claim_check *k)
{
	return k->got >= k->lo && k->got <= k->hi;
}

#endif /* _COWTRACE_CLAIMS_H */

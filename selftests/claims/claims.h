/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scenarios that settle the claims of shared/seed-claims.md (C1..C15)
 * with cowtrace's numbers.  Each scenario runs quiescent puppet processes,
 * measures, and states a verdict computed from the measurement.  Used by
 * selftests/claims/claims_test.c (which asserts the numbers) and by the demo
 * (selftests/claims/demo.c, which narrates them).  cowtrace must be loaded,
 * with fork_scan=1 for C1.
 */
#ifndef _COWTRACE_CLAIMS_H
#define _COWTRACE_CLAIMS_H

enum claim_verdict { V_HOLDS, V_REFUTED, V_PARTLY, V_SKIPPED, V_ERROR };

struct claim {
	const char *id;
	const char *text;
	enum claim_verdict verdict;
	char measured[1024];
	char why[512];
	long long v[16];	/* the scenario's numbers, for tests */
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

#endif /* _COWTRACE_CLAIMS_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * One test per claim of claims.c's list: each runs the claim's scenario
 * (selftests/claims/claims.c) with cowtrace loaded and asserts each of
 * the scenario's checks (the exact numbers the kernel really produces)
 * and the verdict computed from them.  Where a claim is wrong,
 * the test's name says what the kernel does instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "claims.h"
#include "cowtrace_test.h"

static const struct claim_entry *find(const char *id)
{
	int i;

	for (i = 0; i < nr_claims; i++)
		if (!strcmp(claims[i].id, id))
			return &claims[i];
	return NULL;
}

FIXTURE(claim) {
	struct claim c;
};

FIXTURE_SETUP(claim)
{
	ASSERT_EQ(0, ct_load("fork_scan=1"));
}

FIXTURE_TEARDOWN(claim)
{
	EXPECT_EQ(0, ct_unload());
}

/*
 * Run claim @id; log what was measured; assert each of its checks whose
 * name starts with @part ("" for all), then its verdict.  The numbers
 * expected are the scenario's own (claims.c): written once.
 */
static void run_claim(struct __test_metadata *_metadata, struct claim *c,
		      const char *id, const char *part, enum claim_verdict want)
{
	const struct claim_check *k;
	int i, checked = 0;

	claim_run(find(id), c);
	TH_LOG("%s: %s", id, c->measured);
	TH_LOG("%s: %s %s", id, claim_verdict_name(c->verdict), c->why);
	for (i = 0; i < c->nr_checks; i++) {
		k = &c->check[i];
		if (strncmp(k->what, part, strlen(part)))
			continue;
		checked++;
		EXPECT_TRUE(claim_check_ok(k))
			TH_LOG("%s: %lld, expected %lld..%lld", k->what, k->got, k->lo, k->hi);
	}
	EXPECT_LT(0, checked) TH_LOG("%s: no check of '%s' was made", id, part);
	EXPECT_STREQ(claim_verdict_name(want), claim_verdict_name(c->verdict));
}

#define RUN(id, part, want) run_claim(_metadata, &self->c, (id), (part), (want))

TEST_F(claim, c1_fork_shares_every_page_copies_none)
{
	RUN("C1", "", V_HOLDS);
}

TEST_F(claim, c2_writer_copies_one_page_per_write)
{
	RUN("C2", "", V_HOLDS);
}

/*
 * Ranges, not equality: which side copies a page both touch after fork
 * is a race (see claims.c); the size of the parent is not.  The child's
 * own pre-exec writes are copies: at least one, the positive control.
 */
TEST_F(claim, c3_fork_exec_copies_few_pages_whatever_the_size)
{
	RUN("C3", "", V_HOLDS);
}

TEST_F(claim, c4_extra_memory_is_written_pages)
{
	RUN("C4", "", V_HOLDS);
}

TEST_F(claim, c5_vmrss_does_not_grow_private_dirty_and_pss_do)
{
	RUN("C5", "", V_PARTLY);
}

TEST_F(claim, c6_private_file_write_copies_file_unchanged)
{
	RUN("C6", "", V_HOLDS);
}

TEST_F(claim, c7_wipeonfork_dontfork_not_shared)
{
	RUN("C7", "", V_HOLDS);
}

TEST_F(claim, c8_full_write_copies_all_vfork_nothing)
{
	RUN("C8", "", V_HOLDS);
}

/* In turn: child 1, the parent, child 2 copy; child 3, the last sharer, reuses. */
TEST_F(claim, c9_writers_copy_last_sharer_reuses)
{
	RUN("C9", "", V_HOLDS);
}

TEST_F(claim, c10_refuted_original_not_made_writable_it_faults_and_reuses)
{
	RUN("C10", "", V_REFUTED);
}

TEST_F(claim, c11_refuted_refcount_decides_copy_at_mapcount_1)
{
	RUN("C11", "", V_REFUTED);
	/* The filter selects the parent alone while it writes. */
	EXPECT_EQ(self->c.c11.copies, self->c.c11.hist_copies);
}

/* Reads count nothing; then one write, one copy: the positive control. */
TEST_F(claim, c12_reads_never_cow)
{
	RUN("C12", "", V_HOLDS);
}

TEST_F(claim, c13_thp_splits_and_copies_4k)
{
	if (!ct_have_thp())
		SKIP(return, "no transparent huge pages in this kernel (PREEMPT_RT)");
	RUN("C13", "THP: ", V_PARTLY);
}

/* The verdict needs THP too: without it (PREEMPT_RT) it is "skipped". */
TEST_F(claim, c13_hugetlb_copies_2m)
{
	RUN("C13", "hugetlb: ", ct_have_thp() ? V_PARTLY : V_SKIPPED);
}

TEST_F(claim, c14_write_heavy_copies_everything)
{
	RUN("C14", "", V_HOLDS);
}

TEST_F(claim, c15_zero_page_write_is_zero_fill)
{
	RUN("C15", "", V_HOLDS);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * One test per claim of shared/seed-claims.md: each runs the claim's
 * scenario (selftests/claims/claims.c) with cowtrace loaded and asserts the
 * exact numbers the kernel really produces.  Where a claim is wrong,
 * the test's name says what the kernel does instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "claims.h"
#include "cowtrace_test.h"

#define N 256
#define K 16

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

/* Run claim @id; log what was measured and the verdict. */
#define RUN(claim_id) do {						\
	const char *_id = (claim_id);					\
									\
	claim_run(find(_id), &self->c);					\
	TH_LOG("%s: %s", _id, self->c.measured);			\
	TH_LOG("%s: %s %s", _id, claim_verdict_name(self->c.verdict),	\
	       self->c.why);						\
	ASSERT_NE(V_ERROR, self->c.verdict);				\
} while (0)

TEST_F(claim, c1_fork_shares_every_page_copies_none)
{
	RUN("C1");
	EXPECT_EQ(0, self->c.v[4]);			/* fork_copies */
	EXPECT_LE(N, self->c.v[0]);			/* shared */
	EXPECT_EQ(self->c.v[0], self->c.v[1]);		/* child inherited */
	EXPECT_EQ(self->c.v[0], self->c.v[2] + self->c.v[3]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c2_writer_copies_one_page_per_write)
{
	RUN("C2");
	EXPECT_EQ(K, self->c.v[0]);
	EXPECT_EQ(0, self->c.v[1]);
	EXPECT_EQ(K * 4096, self->c.v[2]);
	EXPECT_EQ(0, self->c.v[3]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c3_fork_exec_copies_few_pages_whatever_the_size)
{
	RUN("C3");
	/* Bounds, not equality: which side copies a page both touch after
	 * fork is a race (see claims.c); the size of the parent is not.
	 */
	EXPECT_GE(9, self->c.v[2]);		/* child, 1 MiB parent */
	EXPECT_GE(9, self->c.v[3]);		/* child, 64 MiB parent */
	/* The positive control: the child's own pre-exec writes are copies. */
	EXPECT_LE(1, self->c.v[2]);
	EXPECT_LE(1, self->c.v[3]);
	EXPECT_LE(self->c.v[2], self->c.v[0]);	/* child and parent */
	EXPECT_LE(self->c.v[3], self->c.v[1]);
	EXPECT_GE(3, llabs(self->c.v[2] - self->c.v[3]));
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c4_extra_memory_is_written_pages)
{
	RUN("C4");
	EXPECT_EQ(self->c.v[2], self->c.v[0]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c5_vmrss_does_not_grow_private_dirty_and_pss_do)
{
	RUN("C5");
	EXPECT_EQ(K * 4, self->c.v[0]);		/* KiB copied */
	EXPECT_EQ(0, self->c.v[1]);			/* child VmRSS */
	EXPECT_EQ(K * 4, self->c.v[2]);		/* child Private_Dirty */
	EXPECT_EQ(K * 4, self->c.v[3]);		/* parent Private_Dirty */
	EXPECT_EQ(V_PARTLY, self->c.verdict);
}

TEST_F(claim, c6_private_file_write_copies_file_unchanged)
{
	RUN("C6");
	EXPECT_EQ(K, self->c.v[0]);
	EXPECT_EQ(1, self->c.v[1]);
	EXPECT_EQ(0, self->c.v[2]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c7_wipeonfork_dontfork_not_shared)
{
	RUN("C7");
	EXPECT_EQ(self->c.v[1], self->c.v[0]);
	EXPECT_EQ(0, self->c.v[2]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c8_full_write_copies_all_vfork_nothing)
{
	RUN("C8");
	EXPECT_EQ(N, self->c.v[0]);
	EXPECT_EQ(0, self->c.v[1]);
	EXPECT_EQ(0, self->c.v[2]);
	/* smaps agrees to the KiB: the writer's copies are private, dirty. */
	EXPECT_EQ(N * 4, self->c.v[5]);
	EXPECT_EQ(N * 4, self->c.v[3]);
	EXPECT_EQ(N * 4, self->c.v[4]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c9_writers_copy_last_sharer_reuses)
{
	RUN("C9");
	EXPECT_EQ(K, self->c.v[0]);		/* child 1 copies */
	EXPECT_EQ(K, self->c.v[2]);		/* parent copies */
	EXPECT_EQ(K, self->c.v[4]);		/* child 2 copies */
	EXPECT_EQ(0, self->c.v[6]);		/* child 3 copies ... */
	EXPECT_EQ(K, self->c.v[7]);		/* ... it reuses */
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c10_refuted_original_not_made_writable_it_faults_and_reuses)
{
	RUN("C10");
	EXPECT_EQ(K, self->c.v[0]);
	EXPECT_EQ(0, self->c.v[1]);
	EXPECT_EQ(V_REFUTED, self->c.verdict);
}

TEST_F(claim, c11_refuted_refcount_decides_copy_at_mapcount_1)
{
	RUN("C11");
	EXPECT_EQ(K, self->c.v[0]);
	EXPECT_EQ(K, self->c.v[1]);
	/* Nothing else in the guest copies pages at mapcount 1. */
	EXPECT_EQ(K, self->c.v[2]);
	EXPECT_EQ(V_REFUTED, self->c.verdict);
}

TEST_F(claim, c12_reads_never_cow)
{
	RUN("C12");
	EXPECT_EQ(0, self->c.v[0]);
	EXPECT_EQ(1, self->c.v[1]);		/* then one write, one copy */
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c13_thp_splits_and_copies_4k)
{
	RUN("C13");
	if (!ct_have_thp())
		SKIP(return, "no transparent huge pages in this kernel (PREEMPT_RT)");
	ASSERT_LE(2048, self->c.v[6]) TH_LOG("the kernel gave no THP");
	EXPECT_EQ(1, self->c.v[0]);			/* thp_splits */
	EXPECT_EQ(1, self->c.v[1]);			/* copies */
	EXPECT_EQ(4096, self->c.v[2]);			/* bytes_copied */
	EXPECT_EQ(V_PARTLY, self->c.verdict);
}

TEST_F(claim, c13_hugetlb_copies_2m)
{
	RUN("C13");
	EXPECT_EQ(1, self->c.v[3]);			/* hugetlb_copies */
	EXPECT_EQ(2 << 20, self->c.v[4]);		/* bytes_copied */
}

TEST_F(claim, c14_write_heavy_copies_everything)
{
	RUN("C14");
	EXPECT_EQ(N, self->c.v[0]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c15_zero_page_write_is_zero_fill)
{
	RUN("C15");
	EXPECT_EQ(K, self->c.v[0]);
	EXPECT_EQ(0, self->c.v[1]);
	EXPECT_EQ(0, self->c.v[2]);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_HARNESS_MAIN

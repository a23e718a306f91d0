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
	EXPECT_EQ(0, self->c.c1.fork_copies);
	EXPECT_LE(N, self->c.c1.shared);
	/* The parent's anonymous pages, before and after: no double count. */
	EXPECT_LE(self->c.c1.rss_pages, self->c.c1.shared);
	EXPECT_GE(self->c.c1.rss_after, self->c.c1.shared);
	EXPECT_EQ(self->c.c1.shared, self->c.c1.inherited);
	EXPECT_EQ(self->c.c1.shared, self->c.c1.first + self->c.c1.again);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c2_writer_copies_one_page_per_write)
{
	RUN("C2");
	EXPECT_EQ(K, self->c.c2.child_copies);
	EXPECT_EQ(0, self->c.c2.parent_copies);
	EXPECT_EQ(K * 4096, self->c.c2.child_bytes);
	EXPECT_EQ(0, self->c.c2.child_other);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c3_fork_exec_copies_few_pages_whatever_the_size)
{
	RUN("C3");
	/* Bounds, not equality: which side copies a page both touch after
	 * fork is a race (see claims.c); the size of the parent is not.
	 */
	EXPECT_GE(9, self->c.c3.child_small);
	EXPECT_GE(9, self->c.c3.child_large);
	/* The positive control: the child's own pre-exec writes are copies. */
	EXPECT_LE(1, self->c.c3.child_small);
	EXPECT_LE(1, self->c.c3.child_large);
	EXPECT_LE(self->c.c3.child_small, self->c.c3.both_small);
	EXPECT_LE(self->c.c3.child_large, self->c.c3.both_large);
	EXPECT_GE(3, llabs(self->c.c3.child_small - self->c.c3.child_large));
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c4_extra_memory_is_written_pages)
{
	RUN("C4");
	EXPECT_EQ(self->c.c4.written, self->c.c4.copies);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c5_vmrss_does_not_grow_private_dirty_and_pss_do)
{
	RUN("C5");
	EXPECT_EQ(K * 4, self->c.c5.copied_kb);
	EXPECT_EQ(0, self->c.c5.vmrss_kb);
	EXPECT_EQ(K * 4, self->c.c5.child_dirty_kb);
	EXPECT_EQ(K * 4, self->c.c5.parent_dirty_kb);
	EXPECT_EQ(V_PARTLY, self->c.verdict);
}

TEST_F(claim, c6_private_file_write_copies_file_unchanged)
{
	RUN("C6");
	EXPECT_EQ(K, self->c.c6.file_copies);
	EXPECT_EQ(1, self->c.c6.unchanged);
	EXPECT_EQ(0, self->c.c6.anon_events);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c7_wipeonfork_dontfork_not_shared)
{
	RUN("C7");
	EXPECT_EQ(self->c.c7.excluded, self->c.c7.not_shared);
	EXPECT_EQ(0, self->c.c7.wiped_copies);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c8_full_write_copies_all_vfork_nothing)
{
	RUN("C8");
	EXPECT_EQ(N, self->c.c8.copies);
	EXPECT_EQ(0, self->c.c8.vfork_forks);
	EXPECT_EQ(0, self->c.c8.vfork_shared);
	/* smaps agrees to the KiB: the writer's copies are private, dirty. */
	EXPECT_EQ(N * 4, self->c.c8.copied_kb);
	EXPECT_EQ(N * 4, self->c.c8.dirty_kb);
	EXPECT_EQ(N * 4, self->c.c8.pss_kb);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c9_writers_copy_last_sharer_reuses)
{
	RUN("C9");
	/* In turn: child 1, the parent, child 2 copy; child 3 reuses. */
	EXPECT_EQ(K, self->c.c9[0].copies);
	EXPECT_EQ(K, self->c.c9[1].copies);
	EXPECT_EQ(K, self->c.c9[2].copies);
	EXPECT_EQ(0, self->c.c9[3].copies);		/* child 3, the last sharer, */
	EXPECT_EQ(K, self->c.c9[3].reuses);		/* reuses */
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c10_refuted_original_not_made_writable_it_faults_and_reuses)
{
	RUN("C10");
	EXPECT_EQ(K, self->c.c10.reuses);
	EXPECT_EQ(0, self->c.c10.copies);
	EXPECT_EQ(V_REFUTED, self->c.verdict);
}

TEST_F(claim, c11_refuted_refcount_decides_copy_at_mapcount_1)
{
	RUN("C11");
	EXPECT_EQ(K, self->c.c11.copies);
	EXPECT_EQ(K, self->c.c11.reuses);
	/* Nothing else in the guest copies pages at mapcount 1. */
	EXPECT_EQ(K, self->c.c11.hist_copies);
	EXPECT_EQ(V_REFUTED, self->c.verdict);
}

TEST_F(claim, c12_reads_never_cow)
{
	RUN("C12");
	EXPECT_EQ(0, self->c.c12.events);
	EXPECT_EQ(1, self->c.c12.then_copies);		/* then one write, one copy */
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c13_thp_splits_and_copies_4k)
{
	RUN("C13");
	if (!ct_have_thp())
		SKIP(return, "no transparent huge pages in this kernel (PREEMPT_RT)");
	ASSERT_LE(2048, self->c.c13.anon_huge_kb) TH_LOG("the kernel gave no THP");
	EXPECT_EQ(1, self->c.c13.thp_splits);
	EXPECT_EQ(1, self->c.c13.thp_copies);
	EXPECT_EQ(4096, self->c.c13.thp_bytes);
	EXPECT_EQ(V_PARTLY, self->c.verdict);
}

TEST_F(claim, c13_hugetlb_copies_2m)
{
	RUN("C13");
	EXPECT_EQ(1, self->c.c13.hugetlb_copies);
	EXPECT_EQ(2 << 20, self->c.c13.hugetlb_bytes);
}

TEST_F(claim, c14_write_heavy_copies_everything)
{
	RUN("C14");
	EXPECT_EQ(N, self->c.c14.copies);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_F(claim, c15_zero_page_write_is_zero_fill)
{
	RUN("C15");
	EXPECT_EQ(K, self->c.c15.zero_fills);
	EXPECT_EQ(0, self->c.c15.copies);
	EXPECT_EQ(0, self->c.c15.bytes);
	EXPECT_EQ(V_HOLDS, self->c.verdict);
}

TEST_HARNESS_MAIN

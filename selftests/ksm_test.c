// SPDX-License-Identifier: GPL-2.0
/*
 * KSM (issue 17, item 2): pages merged by ksmd, then written after a
 * fork.  do_wp_page() never reuses a KSM page (6.1 jumps to its copy
 * path on folio_test_ksm(); 6.12's wp_can_reuse_anon_folio() refuses
 * it) and counts cow_ksm in /proc/vmstat before each such copy, so
 * every write to a merged page is a copy, in whichever process writes,
 * and cowtrace's ksm_copies must move with cow_ksm exactly.
 *
 * The writers are puppets (they do nothing the test did not ask for);
 * ksmd is stopped (run=0, merged pages kept) once the pages are merged,
 * so that it merges nothing else while the test measures.  The pages are
 * all zero but one byte (ct_touch writes 0): KSM's use_zero_pages is set
 * to 0 so they merge into a KSM page, not into the zero page.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64		/* merged pages */
#define K 16
#define KSM "/sys/kernel/mm/ksm/"

static const char *const ksm_knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "use_zero_pages",
};

FIXTURE(ksm) {
	struct ct_setting knob[ARRAY_SIZE(ksm_knobs)];
	struct ct_puppet pp[2];
	bool started;
};

FIXTURE_SETUP(ksm)
{
	char path[128];
	size_t i;

	if (access(KSM "run", F_OK))
		SKIP(return, "no KSM in this kernel");
	for (i = 0; i < ARRAY_SIZE(ksm_knobs); i++) {
		snprintf(path, sizeof(path), KSM "%s", ksm_knobs[i]);
		/* use_zero_pages is 4.14 and later: both kernels have it. */
		ASSERT_EQ(0, ct_setting_save(&self->knob[i], path)) TH_LOG("%s", path);
	}
	ASSERT_EQ(0, ct_load(""));
}

FIXTURE_TEARDOWN(ksm)
{
	int i;

	/* The child first; a puppet never started is not asked. */
	if (self->started && self->pp[1].pid > 0)
		ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	if (self->started)
		ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
	/* Unmerge what is left, then put every setting back, run last. */
	ct_write_file(KSM "run", "2");
	for (i = ARRAY_SIZE(ksm_knobs) - 1; i >= 0; i--)
		EXPECT_EQ(0, ct_setting_restore(&self->knob[i])) TH_LOG("%s", ksm_knobs[i]);
	EXPECT_EQ(0, ct_unload());
}

static unsigned long long d(const struct ct_row *a, const struct ct_row *b,
			    enum ct_col c)
{
	return b->v[c] - a->v[c];
}

/* No counter but copies, bytes_copied and ksm_copies moved. */
static bool only_copies(const struct ct_row *a, const struct ct_row *b)
{
	int c = ct_first_moved(a->v, b->v, 1UL << C_COPIES |
			       1UL << C_BYTES_COPIED | 1UL << C_KSM_COPIES);

	if (c >= 0)
		fprintf(stderr, "# %s moved by %llu\n", ct_col_names[c],
			b->v[c] - a->v[c]);
	return c < 0;
}

/*
 * Pages [0, N) of a 2N-page region are mergeable and merged; [N, 2N)
 * hold the same bytes but are not mergeable: the control, whose copies
 * are copies and not KSM copies.
 */
TEST_F_TIMEOUT(ksm, merged_pages_copied_on_every_write, 900)
{
	long long cow0, cow1, cow2, cow3, merged = -1;
	struct ct_row pa, pb, pc, ca, cb, cc;
	size_t ps = ct_page_size();
	char *buf = ct_map_anon(2 * N, false);
	pid_t parent, child;
	char path[64];
	int i;

	ASSERT_NE(NULL, buf);
	if (ct_vmstat("cow_ksm") < 0) {
		/* Then the kernel has no KSM page to copy either. */
		EXPECT_EQ(CT_UNSET, (unsigned long long)ct_stat("ksm_copies"));
		SKIP(return, "no cow_ksm in /proc/vmstat");
	}
	ASSERT_NE(CT_UNSET, (unsigned long long)ct_stat("ksm_copies"));
	ct_puppets_init(self->pp, 2, buf);
	parent = ct_puppet_start(&self->pp[0]);
	ASSERT_LT(0, parent);
	self->started = true;
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, 2 * N));
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_MADVISE, 0, N, MADV_MERGEABLE));

	ASSERT_EQ(0, ct_write_file(KSM "use_zero_pages", "0"));
	ASSERT_EQ(0, ct_write_file(KSM "pages_to_scan", "4096"));
	ASSERT_EQ(0, ct_write_file(KSM "sleep_millisecs", "10"));
	ASSERT_EQ(0, ct_write_file(KSM "run", "1"));
	/*
	 * Wait for ksmd: a page is merged on its second scan at the
	 * earliest (its checksum must not change between two).  No time
	 * goal: the bound is only there to end a test that cannot pass.
	 */
	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", parent);
	for (i = 0; i < 6000; i++) {
		merged = ct_file_field(path, NULL);
		if (merged >= N)
			break;
		usleep(100 * 1000);
	}
	ASSERT_EQ(N, merged) TH_LOG("ksmd merged %lld of %d pages", merged, N);
	/* Stopped, merged pages kept: ksmd merges nothing else from here. */
	ASSERT_EQ(0, ct_write_file(KSM "run", "0"));
	EXPECT_LE(1, ct_file_field(KSM "pages_shared", NULL));
	EXPECT_LE(N - 1, ct_file_field(KSM "pages_sharing", NULL));

	child = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, ct_proc(parent, &pa));
	ASSERT_EQ(0, ct_proc_or_zero(child, &ca));

	/* The child writes K merged pages: K copies, all of KSM pages. */
	cow0 = ct_vmstat("cow_ksm");
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, K));
	cow1 = ct_vmstat("cow_ksm");
	ASSERT_EQ(0, ct_proc(parent, &pb));
	ASSERT_EQ(0, ct_proc(child, &cb));
	TH_LOG("child: cow_ksm +%lld, copies +%llu, ksm_copies +%llu",
	       cow1 - cow0, d(&ca, &cb, C_COPIES), d(&ca, &cb, C_KSM_COPIES));
	EXPECT_EQ(K, cow1 - cow0);
	EXPECT_EQ(K, d(&ca, &cb, C_COPIES));
	EXPECT_EQ(K, d(&ca, &cb, C_KSM_COPIES));
	EXPECT_EQ(K * ps, d(&ca, &cb, C_BYTES_COPIED));
	EXPECT_TRUE(only_copies(&ca, &cb));
	EXPECT_TRUE(only_copies(&pa, &pb));
	EXPECT_EQ(0, d(&pa, &pb, C_COPIES));

	/*
	 * The parent writes the same K pages and K more: still mapped to
	 * the KSM page, they are copied again, never reused, though the
	 * first K are no longer mapped by the child.
	 */
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, 2 * K));
	cow2 = ct_vmstat("cow_ksm");
	ASSERT_EQ(0, ct_proc(parent, &pc));
	ASSERT_EQ(0, ct_proc(child, &cc));
	TH_LOG("parent: cow_ksm +%lld, copies +%llu, ksm_copies +%llu",
	       cow2 - cow1, d(&pb, &pc, C_COPIES), d(&pb, &pc, C_KSM_COPIES));
	EXPECT_EQ(2 * K, cow2 - cow1);
	EXPECT_EQ(2 * K, d(&pb, &pc, C_COPIES));
	EXPECT_EQ(2 * K, d(&pb, &pc, C_KSM_COPIES));
	EXPECT_EQ(0, d(&pb, &pc, C_REUSES));
	EXPECT_TRUE(only_copies(&pb, &pc));
	EXPECT_TRUE(only_copies(&cb, &cc));

	/*
	 * The control: the child writes K pages of the unmerged half,
	 * shared with the parent by the fork: K copies, no KSM copy.
	 */
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, N, N + K));
	cow3 = ct_vmstat("cow_ksm");
	ASSERT_EQ(0, ct_proc(child, &cb));
	TH_LOG("control: cow_ksm +%lld, copies +%llu, ksm_copies +%llu",
	       cow3 - cow2, d(&cc, &cb, C_COPIES), d(&cc, &cb, C_KSM_COPIES));
	EXPECT_EQ(0, cow3 - cow2);
	EXPECT_EQ(K, d(&cc, &cb, C_COPIES));
	EXPECT_EQ(0, d(&cc, &cb, C_KSM_COPIES));
	EXPECT_TRUE(only_copies(&cc, &cb));
}

TEST_HARNESS_MAIN

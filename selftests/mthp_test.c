// SPDX-License-Identifier: GPL-2.0
/*
 * mTHP (issue 17, item 6): anonymous large folios smaller than a PMD
 * (hugepages-16kB up to hugepages-1024kB, 6.8 and later) are mapped by
 * PTEs, so their write-protect faults are do_wp_page()'s, one page at a
 * time.  On 6.12 wp_can_reuse_anon_folio() never reuses a page of a
 * large folio that is not marked exclusive: after a fork, each write to
 * such a page copies that one page (4 KiB), in the child and in the
 * parent alike, even when the other process no longer maps it.  A small
 * folio left mapped once is reused.  6.1 has no mTHP (only PMD THP):
 * the test skips there, and on PREEMPT_RT kernels (no THP at all).
 *
 * The test counts, from /proc/PID/pagemap and /proc/kpageflags, how
 * many of the parent's pages are in large folios (L of N) right before
 * it writes them, and asserts the parent copies exactly L and reuses
 * N - L; pgreuse moves with cowtrace's reuses.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define THP "/sys/kernel/mm/transparent_hugepage"
#define N 256			/* 1 MiB of 4 KiB pages */
#define ALIGN (2UL << 20)	/* a PMD: room for every mTHP size */
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

FIXTURE(mthp) {
	struct ct_thp_settings thp;
	struct ct_puppet pp[2];
	bool started;
	int sizes;		/* mTHP sizes set to always */
};

FIXTURE_SETUP(mthp)
{
	char path[192];
	int kb;

	if (!ct_have_thp())
		SKIP(return, "no THP in this kernel (PREEMPT_RT)");
	if (access(THP "/hugepages-16kB/enabled", F_OK))
		SKIP(return, "no mTHP in this kernel (before 6.8)");
	ct_thp_save(&self->thp);
	/* PMD THP off: the region is mapped by PTEs only. */
	ASSERT_EQ(0, ct_write_file(THP "/enabled", "never"));
	for (kb = 16; kb <= 1024; kb *= 2) {
		snprintf(path, sizeof(path), THP "/hugepages-%dkB/enabled", kb);
		if (access(path, F_OK))
			continue;
		ASSERT_EQ(0, ct_write_file(path, "always")) TH_LOG("%s", path);
		self->sizes++;
	}
	snprintf(path, sizeof(path), THP "/hugepages-%lukB/enabled", ALIGN >> 10);
	if (!access(path, F_OK))
		ASSERT_EQ(0, ct_write_file(path, "never"));
	ASSERT_EQ(0, ct_load(""));
}

FIXTURE_TEARDOWN(mthp)
{
	/* The child first; a puppet never started is not asked. */
	if (self->started && self->pp[1].pid > 0)
		ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	if (self->started)
		ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
	EXPECT_EQ(0, ct_thp_restore(&self->thp));
	EXPECT_EQ(0, ct_unload());
}

/* How many of @pid's pages [p, p + n pages) are in large folios. */
static int large_pages(pid_t pid, const char *p, int n)
{
	size_t ps = ct_page_size();
	int pm, kf, i, large = 0;
	unsigned long long e, f;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm = open(path, O_RDONLY);
	kf = open("/proc/kpageflags", O_RDONLY);
	if (pm < 0 || kf < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (pread(pm, &e, 8, ((uintptr_t)p / ps + i) * 8) != 8 ||
		    !(e >> 63) || !(e & ((1ULL << 55) - 1)))
			break;
		if (pread(kf, &f, 8, (e & ((1ULL << 55) - 1)) * 8) != 8)
			break;
		large += !!(f & (1ULL << KPF_COMPOUND_HEAD |
				 1ULL << KPF_COMPOUND_TAIL));
	}
	close(pm);
	close(kf);
	return i == n ? large : -1;
}

static unsigned long long d(const struct ct_row *a, const struct ct_row *b,
			    enum ct_col c)
{
	return b->v[c] - a->v[c];
}

static bool others_zero(const struct ct_row *a, const struct ct_row *b)
{
	int c = ct_first_moved(a->v, b->v, 1UL << C_COPIES |
			       1UL << C_BYTES_COPIED | 1UL << C_REUSES);

	if (c >= 0)
		fprintf(stderr, "# %s moved by %llu\n", ct_col_names[c],
			b->v[c] - a->v[c]);
	return c < 0;
}

TEST_F_TIMEOUT(mthp, pte_mapped_large_folio_copied_per_page, 600)
{
	struct ct_row pa, pb, pc, ca, cb;
	size_t ps = ct_page_size();
	long long g0, g1, s0, s1;
	int large0, large1;
	pid_t parent, child;
	char *raw, *buf;

	ASSERT_LT(0, self->sizes);
	raw = mmap(NULL, 2 * ALIGN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	buf = (char *)(((uintptr_t)raw + ALIGN - 1) & ~(ALIGN - 1));
	ct_puppets_init(self->pp, 2, buf);
	parent = ct_puppet_start(&self->pp[0]);
	ASSERT_LT(0, parent);
	self->started = true;
	ct_warm();
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));
	large0 = large_pages(parent, buf, N);
	TH_LOG("%d of %d pages in large folios after the first writes", large0, N);
	/* The positive control: the region is in large folios. */
	ASSERT_LT(0, large0);

	child = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, ct_proc(parent, &pa));
	ASSERT_EQ(0, ct_proc(child, &ca));
	/* The child writes every page: each one is copied, 4 KiB each. */
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, N));
	ASSERT_EQ(0, ct_proc(parent, &pb));
	ASSERT_EQ(0, ct_proc(child, &cb));
	EXPECT_EQ(N, d(&ca, &cb, C_COPIES));
	EXPECT_EQ(N * ps, d(&ca, &cb, C_BYTES_COPIED));
	EXPECT_EQ(0, d(&ca, &cb, C_THP_SPLITS));
	EXPECT_TRUE(others_zero(&ca, &cb));
	EXPECT_TRUE(others_zero(&pa, &pb));
	EXPECT_EQ(0, d(&pa, &pb, C_COPIES));

	/*
	 * The parent's pages are now mapped once each: a page of a large
	 * folio is still copied, a small folio's page reused.
	 */
	large1 = large_pages(parent, buf, N);
	g0 = ct_vmstat("pgreuse");
	s0 = ct_stat("reuses") + ct_stat("shared_writes");
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));
	g1 = ct_vmstat("pgreuse");
	s1 = ct_stat("reuses") + ct_stat("shared_writes");
	ASSERT_EQ(0, ct_proc(parent, &pc));
	TH_LOG("parent: %d pages large: copies +%llu, reuses +%llu, pgreuse +%lld",
	       large1, d(&pb, &pc, C_COPIES), d(&pb, &pc, C_REUSES), g1 - g0);
	EXPECT_LT(0, large1);
	EXPECT_EQ(large1, d(&pb, &pc, C_COPIES));
	EXPECT_EQ(N - large1, d(&pb, &pc, C_REUSES));
	EXPECT_EQ(g1 - g0, s1 - s0);
	EXPECT_TRUE(others_zero(&pb, &pc));
}

TEST_HARNESS_MAIN

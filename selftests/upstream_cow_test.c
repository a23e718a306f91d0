// SPDX-License-Identifier: GPL-2.0
/*
 * Upstream conformance: the kernel's own COW selftest
 * (tools/testing/selftests/mm/cow.c from Debian's linux-source-6.12,
 * built into build/mmcow/cow) must give the same result, test by test,
 * with cowtrace loaded as without it: cowtrace observes, never changes
 * what the kernel does.  With it loaded, the run must also have been
 * counted (copies, reuses and THP/hugetlb activity are non-zero).  Where
 * the kernel has the gup_test device (CONFIG_GUP_TEST: the debug kernel
 * of `make check-debug`), its read-only-pin cases run, none skipped, and
 * their unshares are counted (non-zero; unshare_test counts them
 * exactly); without it every one of them is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define COW_BIN "build/mmcow/cow"
#define MAX_RESULTS 4096

struct results {
	int n;
	int plan;			/* N of the plan line "1..N"; -1 if none */
	int not_ok;
	int status;			/* the binary's wait status */
	char *line[MAX_RESULTS];	/* "ok|not ok <desc> [# SKIP|XFAIL]" */
};

/* Run the upstream test; keep each result line without its number. */
static int run_cow(struct results *r)
{
	char buf[1024];
	FILE *f = popen(COW_BIN " 2>&1", "r");

	if (!f)
		return -errno;
	r->n = 0;
	r->plan = -1;
	r->not_ok = 0;
	while (fgets(buf, sizeof(buf), f) && r->n < MAX_RESULTS) {
		char *p = buf, *rest;
		const char *status;

		if (!strncmp(p, "1..", 3)) {
			r->plan = atoi(p + 3);
			continue;
		}
		if (!strncmp(p, "ok ", 3)) {
			status = "ok";
			p += 3;
		} else if (!strncmp(p, "not ok ", 7)) {
			status = "not ok";
			p += 7;
			r->not_ok++;
		} else {
			continue;
		}
		strtol(p, &rest, 10);		/* drop the test number */
		buf[strcspn(buf, "\n")] = '\0';
		if (asprintf(&r->line[r->n++], "%s%s", status, rest) < 0)
			return -ENOMEM;
	}
	r->status = pclose(f);
	return r->status == -1 ? -errno : 0;
}

/*
 * The upstream binary reserves nothing itself: it needs free hugetlb
 * pages, and it changes THP's settings (restoring them only if it ends
 * well).  Both are saved here and put back in the teardown.
 */
FIXTURE(upstream) {
	struct ct_setting hugepages;
	struct ct_thp_settings thp;
};

FIXTURE_SETUP(upstream)
{
	ASSERT_EQ(0, ct_setting_save(&self->hugepages, "/proc/sys/vm/nr_hugepages"));
	ct_thp_save(&self->thp);
	ASSERT_EQ(0, ct_write_file("/proc/sys/vm/nr_hugepages", "4"));
}

FIXTURE_TEARDOWN(upstream)
{
	EXPECT_EQ(0, ct_thp_restore(&self->thp));
	EXPECT_EQ(0, ct_setting_restore(&self->hugepages));
	if (ct_loaded())
		EXPECT_EQ(0, ct_unload());
}

/* A run is whole: exited by itself, its status as its results say, all planned results. */
static void check_run(struct __test_metadata *_metadata, const char *name,
		      const struct results *r)
{
	EXPECT_TRUE(WIFEXITED(r->status)) TH_LOG("%s: wait status %#x", name, r->status);
	EXPECT_EQ(r->not_ok ? 1 : 0, WEXITSTATUS(r->status)) TH_LOG("%s", name);
	EXPECT_LT(0, r->n) TH_LOG("%s", name);
	EXPECT_EQ(r->plan, r->n) TH_LOG("%s: plan 1..%d", name, r->plan);
}

TEST_F_TIMEOUT(upstream, same_results_with_and_without_cowtrace, 600)
{
	static struct results without, with;
	long long copies, reuses, unshares, thp_splits, hugetlb_copies;
	bool gup = access("/sys/kernel/debug/gup_test", F_OK) == 0;
	int i, diffs = 0, no_gup = 0;

	ASSERT_EQ(0, access(COW_BIN, X_OK)) TH_LOG("%s not built", COW_BIN);
	if (ct_loaded())
		ASSERT_EQ(0, ct_unload());
	ASSERT_EQ(0, run_cow(&without));
	check_run(_metadata, "without cowtrace", &without);

	ASSERT_EQ(0, ct_load(""));
	ASSERT_EQ(0, run_cow(&with));
	copies = ct_stat("copies");
	reuses = ct_stat("reuses");
	unshares = ct_stat("unshares");
	thp_splits = ct_stat("thp_splits");
	hugetlb_copies = ct_stat("hugetlb_copies");
	TH_LOG("upstream cow: %d results, %d not ok", with.n, with.not_ok);
	TH_LOG("counted: copies %lld reuses %lld unshares %lld", copies, reuses,
	       unshares);
	TH_LOG("counted: thp_splits %lld thp_reuses %lld hugetlb_copies %lld",
	       thp_splits, ct_stat("thp_reuses"), hugetlb_copies);
	ASSERT_EQ(0, ct_unload());
	check_run(_metadata, "with cowtrace", &with);

	ASSERT_EQ(without.n, with.n);
	EXPECT_EQ(without.status, with.status);
	for (i = 0; i < without.n && i < with.n; i++) {
		if (strcmp(without.line[i], with.line[i])) {
			diffs++;
			TH_LOG("without: %s", without.line[i]);
			TH_LOG("with:    %s", with.line[i]);
		}
	}
	EXPECT_EQ(0, diffs);
	for (i = 0; i < with.n; i++)
		no_gup += !!strstr(with.line[i], "gup_test not available");
	TH_LOG("gup_test %s: %d cases skipped for want of it", gup ? "present" : "absent",
	       no_gup);
	if (gup) {
		EXPECT_EQ(0, no_gup);
		EXPECT_LT(0, unshares);
	} else {
		EXPECT_LT(0, no_gup);
	}
	EXPECT_LT(0, copies);
	EXPECT_LT(0, reuses);
	/* Its hugetlb cases write shared huge pages: each a whole-page copy. */
	EXPECT_LT(0, hugetlb_copies);
	/* Its THP cases write shared PMDs (no THP under PREEMPT_RT: unsupported). */
	EXPECT_TRUE(ct_have_thp() ? thp_splits > 0 : thp_splits == (long long)CT_UNSET)
		TH_LOG("thp_splits %lld", thp_splits);
}

TEST_HARNESS_MAIN

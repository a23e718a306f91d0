// SPDX-License-Identifier: GPL-2.0
/*
 * Upstream conformance: the kernel's own COW selftest
 * (tools/testing/selftests/mm/cow.c from Debian's linux-source-6.12,
 * built into build/mmcow/cow) must give the same result, test by test,
 * with cowtrace loaded as without it: cowtrace observes, never changes
 * what the kernel does.  With it loaded, the run must also have been
 * counted (copies, reuses and THP/hugetlb activity are non-zero).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define COW_BIN "build/mmcow/cow"
#define MAX_RESULTS 4096

struct results {
	int n;
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
	while (fgets(buf, sizeof(buf), f) && r->n < MAX_RESULTS) {
		char *p = buf, *rest;
		const char *status;

		if (!strncmp(p, "ok ", 3)) {
			status = "ok";
			p += 3;
		} else if (!strncmp(p, "not ok ", 7)) {
			status = "not ok";
			p += 7;
		} else {
			continue;
		}
		strtol(p, &rest, 10);		/* drop the test number */
		buf[strcspn(buf, "\n")] = '\0';
		if (asprintf(&r->line[r->n++], "%s%s", status, rest) < 0)
			return -ENOMEM;
	}
	return pclose(f) == -1 ? -errno : 0;
}

static void set_hugepages(const char *n)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");

	if (f) {
		fputs(n, f);
		fclose(f);
	}
}

TEST(same_results_with_and_without_cowtrace)
{
	static struct results without, with;
	long long copies, reuses;
	int i, diffs = 0;

	if (access(COW_BIN, X_OK))
		SKIP(return, "%s not built", COW_BIN);
	set_hugepages("4");
	if (ct_loaded())
		ASSERT_EQ(0, ct_unload());
	ASSERT_EQ(0, run_cow(&without));
	ASSERT_LT(0, without.n);

	ASSERT_EQ(0, ct_load(""));
	ASSERT_EQ(0, run_cow(&with));
	copies = ct_stat("copies");
	reuses = ct_stat("reuses");
	TH_LOG("upstream cow: %d results", with.n);
	TH_LOG("counted: copies %lld reuses %lld unshares %lld", copies, reuses,
	       ct_stat("unshares"));
	TH_LOG("counted: thp_splits %lld hugetlb_copies %lld",
	       ct_stat("thp_splits"), ct_stat("hugetlb_copies"));
	ASSERT_EQ(0, ct_unload());

	ASSERT_EQ(without.n, with.n);
	for (i = 0; i < without.n && i < with.n; i++) {
		if (strcmp(without.line[i], with.line[i])) {
			diffs++;
			TH_LOG("without: %s", without.line[i]);
			TH_LOG("with:    %s", with.line[i]);
		}
	}
	EXPECT_EQ(0, diffs);
	EXPECT_LT(0, copies);
	EXPECT_LT(0, reuses);
}

TEST_HARNESS_MAIN

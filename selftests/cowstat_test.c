// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat: exact output for a known scenario (a child copies K pages,
 * its parent then reuses them, counted from a reset), in each format;
 * and clear errors when cowtrace cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64
#define K 16
#define COWSTAT "build/cowstat"

/* Run a shell command; its stdout (and stderr) into @out. */
static int run(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	return pclose(f);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

FIXTURE(cowstat) {
	struct ct_puppet pp[2];
	pid_t parent, child;
};

/* Parent writes N pages, forks; from a reset the child copies K pages
 * and the parent reuses them.
 */
FIXTURE_SETUP(cowstat)
{
	char *buf = ct_map_anon(N, false);
	char cmd[64];

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, ct_load(""));
	ct_puppets_init(self->pp, 2, buf);
	self->parent = ct_puppet_start(&self->pp[0]);
	ASSERT_LT(0, self->parent);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));
	self->child = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, self->child);
	snprintf(cmd, sizeof(cmd), "filter pid %d", self->parent);
	ASSERT_EQ(0, ct_control(cmd));
	ASSERT_EQ(0, ct_control("reset"));
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, K));
}

FIXTURE_TEARDOWN(cowstat)
{
	ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
	EXPECT_EQ(0, ct_unload());
}

TEST_F(cowstat, table_sorted_by_copies_with_units)
{
	char out[4096], want[4096], cmd[128];
	/* Without THP (PREEMPT_RT) the module reads it "unsupported". */
	const char *thp = ct_have_thp() ? "0" : "-";

	snprintf(cmd, sizeof(cmd), COWSTAT " -p %d -c", self->parent);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	snprintf(want, sizeof(want),
		 "%7s %7s %-15s %-6s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n"
		 "%7d %7d %-15s %-6s %7d %7d %7d %7d %7d %7d %7d %7s %7d %7s\n"
		 "%7d %7d %-15s %-6s %7d %7d %7d %7d %7d %7d %7d %7s %7d %7s\n",
		 "PID", "PPID", "COMM", "STATE", "FORKS", "SHARED", "COPIES",
		 "REUSES", "ZERO", "FILE", "SHWR", "THPSPL", "HUGE", "COPIED",
		 self->child, self->parent, "cowstat_test", "alive",
		 0, 0, K, 0, 0, 0, 0, thp, 0, "64Ki",
		 self->parent, getpid(), "cowstat_test", "alive",
		 0, 0, 0, K, 0, 0, 0, thp, 0, "0");
	EXPECT_STREQ(want, out);

	snprintf(cmd, sizeof(cmd), COWSTAT " -r -s reuses -n 1 -p %d -c",
		 self->parent);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	/* The header and one row: the parent, which reused K pages. */
	EXPECT_EQ(2, count_lines(out));
	EXPECT_EQ(self->parent, atoi(strchr(out, '\n') + 1));
}

TEST_F(cowstat, json_for_machines)
{
	char out[4096], want[1024], cmd[128];

	snprintf(cmd, sizeof(cmd), COWSTAT " --json -p %d", self->child);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	snprintf(want, sizeof(want), "{\"procs\": [{\"pid\": %d, \"ppid\": %d, ",
		 self->child, self->parent);
	strcat(want, "\"comm\": \"cowstat_test\", \"state\": \"alive\", ");
	strcat(want, "\"forks\": 0, \"shared\": 0, \"copies\": 16, \"reuses\": 0, ");
	strcat(want, "\"zero_fills\": 0, \"file_copies\": 0, \"shared_writes\": 0, ");
	strcat(want, ct_have_thp() ? "\"thp_splits\": 0, " : "\"thp_splits\": null, ");
	strcat(want, "\"hugetlb_copies\": 0, ");
	strcat(want, "\"bytes_copied\": 65536}]}\n");
	EXPECT_STREQ(want, out);
}

TEST_F(cowstat, prometheus_format)
{
	char out[65536], cmd[128], line[160];

	snprintf(cmd, sizeof(cmd), COWSTAT " --prometheus -p %d -c", self->parent);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "# TYPE cowtrace_copies_total counter\n"));
	EXPECT_NE(NULL, strstr(out, "cowtrace_copies_total 16\n"));
	EXPECT_NE(NULL, strstr(out, "cowtrace_reuses_total 16\n"));
	snprintf(line, sizeof(line),
		 "cowtrace_process_copies_total{pid=\"%d\",comm=\"cowstat_test\"} %d\n",
		 self->child, K);
	EXPECT_NE(NULL, strstr(out, line));
	if (access("/usr/bin/promtool", X_OK))
		SKIP(return, "promtool is not installed (Debian package prometheus)");
	snprintf(cmd, sizeof(cmd), COWSTAT " --prometheus | promtool check metrics 2>&1");
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

TEST_F(cowstat, deltas_per_interval)
{
	char out[8192], cmd[128];
	char *second;

	/* Two reports one second apart: nothing happened in between. */
	snprintf(cmd, sizeof(cmd), COWSTAT " -r -p %d 1 2", self->child);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	second = strstr(out, "\n\n");
	ASSERT_NE(NULL, second);
	EXPECT_NE(NULL, strstr(out, " 65536\n"));
	EXPECT_EQ(NULL, strstr(second, " 65536\n"));
}

TEST(clear_errors)
{
	char out[1024];

	if (ct_loaded())
		ASSERT_EQ(0, ct_unload());
	EXPECT_EQ(2 << 8, run(COWSTAT " 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "the cowtrace module is not loaded")) TH_LOG("%s", out);
	ASSERT_EQ(0, ct_load(""));
	EXPECT_EQ(2 << 8, run("setpriv --reuid=65534 --regid=65534 --clear-groups "
			      COWSTAT " 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "root-only")) TH_LOG("%s", out);
	EXPECT_EQ(2 << 8, run("unshare -m sh -c 'umount /sys/kernel/debug && "
			      COWSTAT "' 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "debugfs is not mounted")) TH_LOG("%s", out);
	EXPECT_EQ(0, ct_unload());
}

TEST_HARNESS_MAIN

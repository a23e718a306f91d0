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
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64
#define K 16
#define COWSTAT "build/cowstat"
#define PROMTOOL "/usr/bin/promtool"
#define PYTHON "/usr/bin/python3"

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
}

/* promtool's check on its own: it skips before asserting anything. */
TEST_F(cowstat, promtool_accepts)
{
	char out[65536];

	if (access(PROMTOOL, X_OK))
		SKIP(return, "promtool is not installed (Debian package prometheus)");
	EXPECT_EQ(0, run(COWSTAT " --prometheus | " PROMTOOL " check metrics 2>&1",
			 out, sizeof(out))) TH_LOG("%s", out);
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

/*
 * Names any user can give a process (prctl(PR_SET_NAME), at most 15
 * bytes): quotes, backslashes, braces, '=' and bytes >= 0x80, valid
 * UTF-8 or not.  Whatever of them the module keeps in procs, cowstat's
 * JSON and Prometheus output must parse, and decode to what procs shows
 * (bytes that are not UTF-8 as U+FFFD).
 */
static const char *const odd_names[] = {
	"q\"uo\\te",
	"a{b}=c,d\"",
	"\xc3\xa9t\xc3\xa9",		/* "été" in UTF-8 */
	"bad\xff\xfe\x80",		/* not UTF-8 */
	"end\\",
};

#define NNAMES ARRAY_SIZE(odd_names)

/*
 * The checker, run by python3: argv[1] is json or prom, then pid:HEX
 * pairs, HEX the comm procs shows.  Strict UTF-8 decoding of the whole
 * output; exit 0 when every pid's decoded comm is the expected one.
 */
static const char checker[] =
	"import json, re, sys\n"
	"text = sys.stdin.buffer.read().decode('utf-8')\n"
	"got = {}\n"
	"if sys.argv[1] == 'json':\n"
	"    for p in json.loads(text)['procs']:\n"
	"        got[p['pid']] = p['comm']\n"
	"else:\n"
	"    lab = re.compile(r'^cowtrace_process_copies_total\\{pid=\"(\\d+)\",comm=\"((?:[^\"\\\\\\n]|\\\\.)*)\"[,}]', re.M)\n"
	"    for m in lab.finditer(text):\n"
	"        got[int(m[1])] = re.sub(r'\\\\(.)', lambda e: '\\n' if e[1] == 'n' else e[1], m[2])\n"
	"bad = 0\n"
	"for a in sys.argv[2:]:\n"
	"    pid, hexcomm = a.split(':')\n"
	"    want = bytes.fromhex(hexcomm).decode('utf-8', 'replace')\n"
	"    if sys.argv[1] == 'prom':\n"
	"        want = ''.join('\\ufffd' if (ord(c) < 32 and c != '\\n') or c == '\\x7f' else c for c in want)\n"
	"    if got.get(int(pid)) != want:\n"
	"        print('pid', pid, 'got', ascii(got.get(int(pid))), 'want', ascii(want))\n"
	"        bad = 1\n"
	"sys.exit(bad)\n";

FIXTURE(names) {
	pid_t pid[NNAMES];
	int quit[2];
	char script[64];
	char args[NNAMES * 48];
};

FIXTURE_SETUP(names)
{
	char *buf = ct_map_anon(NNAMES, false);
	size_t i, ps = ct_page_size();
	struct ct_row row;
	int ready[2], fd;
	char *a;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, ct_load(""));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(self->quit));
	memset(buf, 1, NNAMES * ps);
	for (i = 0; i < NNAMES; i++) {
		self->pid[i] = fork();
		ASSERT_LE(0, self->pid[i]);
		if (!self->pid[i]) {
			char c;

			close(self->quit[1]);
			prctl(PR_SET_NAME, odd_names[i]);
			buf[i * ps] = 2;	/* a copy: the process has a row */
			ct_send(ready[1]);
			_exit(read(self->quit[0], &c, 1) != 0);
		}
	}
	close(self->quit[0]);
	close(ready[1]);
	for (i = 0; i < NNAMES; i++)
		ct_recv(ready[0]);
	close(ready[0]);
	/* What procs shows for each: the round trip's expected value. */
	for (i = 0, a = self->args; i < NNAMES; i++) {
		const unsigned char *c;

		ASSERT_EQ(0, ct_proc(self->pid[i], &row));
		ASSERT_TRUE(row.found);
		TH_LOG("procs keeps %s as %s", odd_names[i], row.comm);
		a += sprintf(a, " %d:", self->pid[i]);
		for (c = (const unsigned char *)row.comm; *c; c++)
			a += sprintf(a, "%02x", *c);
	}
	snprintf(self->script, sizeof(self->script), "/tmp/cowstat_check.XXXXXX");
	fd = mkstemp(self->script);
	ASSERT_LE(0, fd);
	ASSERT_EQ(strlen(checker), write(fd, checker, strlen(checker)));
	close(fd);
}

FIXTURE_TEARDOWN(names)
{
	size_t i;

	close(self->quit[1]);
	for (i = 0; i < NNAMES; i++)
		waitpid(self->pid[i], NULL, 0);
	unlink(self->script);
	EXPECT_EQ(0, ct_unload());
}

TEST_F(names, json_parses_and_round_trips)
{
	char cmd[1024], out[4096];

	if (access(PYTHON, X_OK))
		SKIP(return, "no %s to parse JSON", PYTHON);
	snprintf(cmd, sizeof(cmd), COWSTAT " --json -p %d -c | " PYTHON " %s json%s 2>&1",
		 getpid(), self->script, self->args);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

TEST_F(names, prometheus_round_trips)
{
	char cmd[1024], out[4096];

	if (access(PYTHON, X_OK))
		SKIP(return, "no %s to parse the output", PYTHON);
	snprintf(cmd, sizeof(cmd), COWSTAT " --prometheus --top 100 -p %d -c | "
		 PYTHON " %s prom%s 2>&1", getpid(), self->script, self->args);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

TEST_F(names, promtool_accepts)
{
	char cmd[256], out[65536];

	if (access(PROMTOOL, X_OK))
		SKIP(return, "promtool is not installed (Debian package prometheus)");
	snprintf(cmd, sizeof(cmd), COWSTAT " --prometheus --top 100 -p %d -c | "
		 PROMTOOL " check metrics 2>&1", getpid());
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

/* The table: every named process on a line of its own, no control byte. */
TEST_F(names, table_has_no_control_bytes)
{
	char cmd[128], out[8192], line[32];
	const unsigned char *c;
	size_t i;

	snprintf(cmd, sizeof(cmd), COWSTAT " -p %d -c", getpid());
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	for (i = 0; i < NNAMES; i++) {
		snprintf(line, sizeof(line), "\n%7d %7d ", self->pid[i], getpid());
		EXPECT_NE(NULL, strstr(out, line)) TH_LOG("%s", out);
	}
	for (c = (const unsigned char *)out; *c; c++)
		if (*c < 0x20 && *c != '\n')
			break;
	EXPECT_EQ('\0', *c) TH_LOG("control byte 0x%02x in the table", *c);
}

/*
 * Bytes the module does not pass today (controls, DEL, bytes >= 0x80,
 * valid UTF-8 or not), in a synthesized procs file: every format still
 * escapes them.
 */
static const char *const synth_comms[] = {
	"ctl\x01\x1f\x7f", "tab\tcr\r", "\xc3\xa9t\xc3\xa9", "bad\xff\xfe\x80",
	"q\"uo\\te", "\xed\xa0\x80surrogate", "\xc0\xafoverlong",
};

#define SYNTH_PROM COWSTAT " --procs %s/procs --stats %s/stats --prometheus"

FIXTURE(synth) {
	char dir[32];
	char args[1024];
};

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

FIXTURE_SETUP(synth)
{
	char procs[1024], *p = procs, *a = self->args;
	const unsigned char *c;
	size_t i;

	snprintf(self->dir, sizeof(self->dir), "/tmp/cowstat_synth.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	p += sprintf(p, "pid ppid comm state copies\n");
	for (i = 0; i < ARRAY_SIZE(synth_comms); i++) {
		p += sprintf(p, "%zu 1 %s alive %zu\n", 100 + i, synth_comms[i], i);
		a += sprintf(a, " %zu:", 100 + i);
		for (c = (const unsigned char *)synth_comms[i]; *c; c++)
			a += sprintf(a, "%02x", *c);
	}
	put_file(self->dir, "procs", procs);
	put_file(self->dir, "stats", "copies: 21\nenabled: 1\n");
	put_file(self->dir, "check.py", checker);
}

FIXTURE_TEARDOWN(synth)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	EXPECT_EQ(0, system(cmd));
}

TEST_F(synth, table)
{
	char cmd[128], out[8192];
	const unsigned char *c;

	snprintf(cmd, sizeof(cmd), COWSTAT " --procs %s/procs", self->dir);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	EXPECT_EQ(ARRAY_SIZE(synth_comms) + 1, count_lines(out));
	for (c = (const unsigned char *)out; *c; c++)
		if ((*c < 0x20 && *c != '\n') || *c == 0x7f || *c == 0xff)
			break;
	EXPECT_EQ('\0', *c) TH_LOG("byte 0x%02x in the table", *c);
	EXPECT_NE(NULL, strstr(out, " ctl\\x01\\x1f\\x7f ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " tab\\x09cr\\x0d ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " bad\\xff\\xfe\\x80 ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " q\"uo\\\\te ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " \xc3\xa9t\xc3\xa9 ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " \\xed\\xa0\\x80surrogate ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " \\xc0\\xafoverlong ")) TH_LOG("%s", out);
}

TEST_F(synth, json_and_prometheus_round_trip)
{
	char cmd[1536], out[8192];

	if (access(PYTHON, X_OK))
		SKIP(return, "no %s to parse the output", PYTHON);
	snprintf(cmd, sizeof(cmd), COWSTAT " --procs %s/procs --json | " PYTHON
		 " %s/check.py json%s 2>&1", self->dir, self->dir, self->args);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
	snprintf(cmd, sizeof(cmd), SYNTH_PROM " | " PYTHON " %s/check.py prom%s 2>&1",
		 self->dir, self->dir, self->dir, self->args);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

TEST_F(synth, promtool_accepts)
{
	char cmd[256], out[8192];

	if (access(PROMTOOL, X_OK))
		SKIP(return, "promtool is not installed (Debian package prometheus)");
	snprintf(cmd, sizeof(cmd), SYNTH_PROM " | " PROMTOOL " check metrics 2>&1",
		 self->dir, self->dir);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
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

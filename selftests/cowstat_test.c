// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat: exact output for a known scenario (a child copies K pages,
 * its parent then reuses them, counted from a reset), in each format;
 * and clear errors when cowtrace cannot be read.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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
TEST_F_TIMEOUT(cowstat, promtool_accepts, 120)
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

TEST_F(cowstat, deltas_per_fractional_interval)
{
	char out[8192], cmd[128];
	const char *second, *h;
	int reports = 0;

	/* Three reports 100 ms apart: only the first has the copies. */
	snprintf(cmd, sizeof(cmd), COWSTAT " -r -p %d 0.1 3", self->child);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	for (h = out; (h = strstr(h, " PPID COMM ")); h++)
		reports++;
	EXPECT_EQ(3, reports) TH_LOG("%s", out);
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
	"sp ace\nnl\tx\x7f",	/* space, newline, tab, DEL */
	"",			/* no name at all */
};

/* Each of odd_names as procs prints it (Documentation/cowtrace.rst). */
static const char *const odd_names_in_procs[] = {
	"q\"uo\\134te",
	"a{b}=c,d\"",
	"\\303\\251t\\303\\251",
	"bad\\377\\376\\200",
	"end\\134",
	"sp\\040ace\\012nl\\011x\\177",
	"\\000",
};

#define NNAMES ARRAY_SIZE(odd_names)
static_assert(ARRAY_SIZE(odd_names_in_procs) == NNAMES, "one procs form per name");

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

TEST_F_TIMEOUT(names, json_parses_and_round_trips, 120)
{
	char cmd[1024], out[4096];

	if (access(PYTHON, X_OK))
		SKIP(return, "no %s to parse JSON", PYTHON);
	snprintf(cmd, sizeof(cmd), COWSTAT " --json -p %d -c | " PYTHON " %s json%s 2>&1",
		 getpid(), self->script, self->args);
	TH_LOG("pid:comm as procs shows it, in hex:%s", self->args);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

TEST_F_TIMEOUT(names, prometheus_round_trips, 120)
{
	char cmd[1024], out[4096];

	if (access(PYTHON, X_OK))
		SKIP(return, "no %s to parse the output", PYTHON);
	snprintf(cmd, sizeof(cmd), COWSTAT " --prometheus --top 100 -p %d -c | "
		 PYTHON " %s prom%s 2>&1", getpid(), self->script, self->args);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

TEST_F_TIMEOUT(names, promtool_accepts, 120)
{
	char cmd[256], out[65536];

	if (access(PROMTOOL, X_OK))
		SKIP(return, "promtool is not installed (Debian package prometheus)");
	snprintf(cmd, sizeof(cmd), COWSTAT " --prometheus --top 100 -p %d -c | "
		 PROMTOOL " check metrics 2>&1", getpid());
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

/*
 * The module's own escaping: each name is one field of its procs row,
 * exactly its escaped form, and a row has as many fields as the header.
 */
TEST_F_TIMEOUT(names, procs_prints_each_name_as_one_escaped_field, 120)
{
	char *text = ct_slurp("procs", NULL), *line, *save, *tok, *fsave;
	int header = 0, seen[NNAMES] = { 0 }, n;
	size_t i;

	ASSERT_NE(NULL, text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *field[64];
		long pid;

		for (n = 0, tok = strtok_r(line, " ", &fsave); tok && n < 64;
		     tok = strtok_r(NULL, " ", &fsave))
			field[n++] = tok;
		if (!header) {
			header = n;
			ASSERT_STREQ("comm", field[2]);
			continue;
		}
		EXPECT_EQ(header, n) TH_LOG("row of pid %s", field[0]);
		pid = strtol(field[0], NULL, 10);
		for (i = 0; i < NNAMES; i++) {
			if (pid != self->pid[i])
				continue;
			seen[i]++;
			EXPECT_STREQ(odd_names_in_procs[i], field[2]);
		}
	}
	for (i = 0; i < NNAMES; i++)
		EXPECT_EQ(1, seen[i]) TH_LOG("rows of the name %zu", i);
	free(text);
}

/* And the parser of the test library reads each name back, byte for byte. */
TEST_F_TIMEOUT(names, procs_names_read_back, 120)
{
	struct ct_row row;
	size_t i;

	for (i = 0; i < NNAMES; i++) {
		ASSERT_EQ(0, ct_proc(self->pid[i], &row));
		EXPECT_STREQ(odd_names[i], row.comm);
	}
}

/* The table: every named process on a line of its own, no control byte. */
TEST_F_TIMEOUT(names, table_has_no_control_bytes, 120)
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
 * Raw bytes (controls, DEL, bytes >= 0x80, valid UTF-8 or not) in a
 * synthesized procs file, unescaped: cowstat takes a field's bytes as
 * they are (but for \ooo escapes), and every format still escapes them.
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

TEST_F_TIMEOUT(synth, table, 120)
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

TEST_F_TIMEOUT(synth, json_and_prometheus_round_trip, 120)
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

TEST_F_TIMEOUT(synth, promtool_accepts, 120)
{
	char cmd[256], out[8192];

	if (access(PROMTOOL, X_OK))
		SKIP(return, "promtool is not installed (Debian package prometheus)");
	snprintf(cmd, sizeof(cmd), SYNTH_PROM " | " PROMTOOL " check metrics 2>&1",
		 self->dir, self->dir);
	EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
}

/*
 * cowstat -- CMD.  The command is this binary again, with
 * COWSTAT_WORKLOAD set: it writes N pages, forks a child that copies K
 * of them, waits for it and exits with status 7.
 */
#define WORKLOAD_STATUS 7

__attribute__((constructor)) static void workload(void)
{
	char *buf;
	pid_t pid;
	int st;

	if (!getenv("COWSTAT_WORKLOAD"))
		return;
	buf = ct_map_anon(N, true);
	if (!buf)
		_exit(100);
	pid = fork();
	if (!pid) {
		ct_touch(buf, K * ct_page_size(), ct_page_size());
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || st)
		_exit(101);
	_exit(WORKLOAD_STATUS);
}

/* The number after "@key": in @s, or -1. */
static long long jnum(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = s ? strstr(s, pat) : NULL;
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* The JSON object of process @pid in @s. */
static const char *jproc(const char *s, long pid)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "{\"pid\": %ld, ", pid);
	return strstr(s, pat);
}

/* The filter line of control, after "filter: ", with its newline. */
static const char *filter_now(void)
{
	const char *c = ct_read_file("control");
	static char line[512];

	c = c ? strstr(c, "filter: ") : NULL;
	if (!c)
		return "?";
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(c + 8, "\n") + 1, c + 8);
	return line;
}

static const char *self_exe(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	path[n > 0 ? n : 0] = '\0';
	return path;
}

/* The command tests: no setup of their own, slower under TCG. */
FIXTURE(cmd) {
	int unused;
};

FIXTURE_SETUP(cmd)
{
}

FIXTURE_TEARDOWN(cmd)
{
}

TEST_F_TIMEOUT(cmd, counts_its_tree, 120)
{
	static const char *const fields[] = {
		"forks", "shared", "copies", "reuses", "zero_fills",
		"file_copies", "shared_writes", "hugetlb_copies", "bytes_copied",
	};
	char cmd[4200], out[16384];
	const char *obj, *child, *total;
	long cmd_pid, child_pid;
	struct ct_row row;
	size_t i;
	int n;

	ASSERT_EQ(0, ct_load(""));
	snprintf(cmd, sizeof(cmd), "COWSTAT_WORKLOAD=1 " COWSTAT " --json -- %s 2>&1",
		 self_exe());
	EXPECT_EQ(WORKLOAD_STATUS << 8, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
	EXPECT_STREQ("none\n", filter_now());
	cmd_pid = jnum(out, "pid");
	ASSERT_LT(0, cmd_pid) TH_LOG("%s", out);
	EXPECT_EQ(WORKLOAD_STATUS, jnum(out, "exit_status"));
	obj = jproc(out, cmd_pid);
	ASSERT_NE(NULL, obj) TH_LOG("%s", out);
	/* The command and its child: nothing else is in the tree. */
	total = strstr(out, "\"total\": {");
	ASSERT_NE(NULL, total);
	EXPECT_EQ(2, jnum(total, "procs")) TH_LOG("%s", out);
	child = strstr(out, "{\"pid\": ");
	if (child && jnum(child, "pid") == cmd_pid)
		child = strstr(child + 1, "{\"pid\": ");
	ASSERT_NE(NULL, child);
	child_pid = jnum(child, "pid");
	EXPECT_EQ(cmd_pid, jnum(child, "ppid"));
	/* The child is new: cowstat shows what procs has for it, exactly. */
	ASSERT_EQ(0, ct_proc(child_pid, &row));
	ASSERT_TRUE(row.found);
	EXPECT_STREQ("exited", row.state);
	EXPECT_LE(K, jnum(child, "copies"));	/* the positive control */
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		long long sum;

		for (n = 0; n < C_NCOLS && strcmp(ct_col_names[n], fields[i]); n++)
			;
		ASSERT_LT(n, C_NCOLS);
		EXPECT_EQ((long long)row.v[n], jnum(child, fields[i])) TH_LOG("%s", fields[i]);
		/* The total is the sum of the rows. */
		sum = jnum(child, fields[i]) + jnum(obj, fields[i]);
		EXPECT_EQ(sum, jnum(total, fields[i])) TH_LOG("%s", fields[i]);
	}
	EXPECT_EQ(1, jnum(obj, "forks"));
	EXPECT_EQ(0, ct_unload());
}

/* Exit statuses as a shell's; the summary says how the command ended. */
TEST_F_TIMEOUT(cmd, status, 120)
{
	char out[8192], path[] = "/tmp/cowstat_noexec.XXXXXX";
	int fd;

	ASSERT_EQ(0, ct_load(""));
	EXPECT_EQ(127 << 8, run(COWSTAT " -- /nonexistent/cmd 2>&1", out, sizeof(out)));
	EXPECT_STREQ("cowstat: /nonexistent/cmd: No such file or directory\n", out);
	EXPECT_STREQ("none\n", filter_now());
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	snprintf(out, sizeof(out), COWSTAT " -- %s 2>&1", path);
	EXPECT_EQ(126 << 8, run(out, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "Permission denied")) TH_LOG("%s", out);
	unlink(path);
	EXPECT_EQ((128 + SIGTERM) << 8,
		  run(COWSTAT " -- sh -c 'kill -TERM $$' 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, " was killed by signal 15 ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\n  total       1 processes ")) TH_LOG("%s", out);
	EXPECT_EQ(0, run(COWSTAT " -- true 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, " exited with status 0\n")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "table was full")) TH_LOG("%s", out);
	EXPECT_EQ(3 << 8, run(COWSTAT " -o /dev/null -- sh -c 'exit 3' 2>&1", out, sizeof(out)));
	EXPECT_STREQ("", out);
	EXPECT_STREQ("none\n", filter_now());
	EXPECT_EQ(0, ct_unload());
}

/* Another user's filter is left alone, and the command does not run. */
TEST_F_TIMEOUT(cmd, refuses_a_filter_in_use, 120)
{
	char out[4096], want[64];

	ASSERT_EQ(0, ct_load(""));
	snprintf(want, sizeof(want), "filter pid %d", getpid());
	ASSERT_EQ(0, ct_control(want));
	unlink("/tmp/cowstat_ran");
	EXPECT_EQ(125 << 8, run(COWSTAT " -- touch /tmp/cowstat_ran 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "the filter is in use (filter: pid ")) TH_LOG("%s", out);
	EXPECT_EQ(-1, access("/tmp/cowstat_ran", F_OK));
	snprintf(want, sizeof(want), "pid %d\n", getpid());
	EXPECT_STREQ(want, filter_now());
	EXPECT_EQ(0, ct_unload());
}

/* Ctrl-C: SIGINT to the group; the summary is printed, the filter put back. */
TEST_F_TIMEOUT(cmd, interrupted, 120)
{
	char outfile[] = "/tmp/cowstat_int.XXXXXX", want[64], comm[64];
	const char *text;
	pid_t cs;
	int st, fd, i;

	ASSERT_EQ(0, ct_load(""));
	fd = mkstemp(outfile);
	ASSERT_LE(0, fd);
	close(fd);
	cs = fork();
	ASSERT_LE(0, cs);
	if (!cs) {
		setpgid(0, 0);
		execl(COWSTAT, COWSTAT, "-o", outfile, "--", "sleep", "1000", NULL);
		_exit(99);
	}
	setpgid(cs, cs);
	/* Wait until the command runs: the filter is set and sleep exec'd. */
	for (i = 0; i < 600000; i++) {
		const char *f = filter_now();
		char path[64];
		FILE *c;

		comm[0] = '\0';
		if (!strncmp(f, "pid ", 4)) {
			snprintf(path, sizeof(path), "/proc/%d/comm", atoi(f + 4));
			c = fopen(path, "r");
			if (c) {
				if (!fgets(comm, sizeof(comm), c))
					comm[0] = '\0';
				fclose(c);
			}
		}
		if (!strcmp(comm, "sleep\n"))
			break;
		usleep(1000);
	}
	ASSERT_STREQ("sleep\n", comm);
	ASSERT_EQ(0, kill(-cs, SIGINT));
	ASSERT_EQ(cs, waitpid(cs, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(128 + SIGINT, WEXITSTATUS(st));
	EXPECT_STREQ("none\n", filter_now());
	text = ct_read_file(outfile);
	ASSERT_NE(NULL, text);
	snprintf(want, sizeof(want), " was killed by signal %d ", SIGINT);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\n  total ")) TH_LOG("%s", text);
	unlink(outfile);
	EXPECT_EQ(0, ct_unload());
}

#define HUNDRED_CHILDREN "'i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done'"

/* A table too small for the tree: cowstat says processes may be missing. */
TEST_F_TIMEOUT(cmd, table_full, 300)
{
	char out[16384];

	ASSERT_EQ(0, ct_load("max_exited=2"));
	EXPECT_EQ(0, run(COWSTAT " -o /dev/null -- sh -c " HUNDRED_CHILDREN " 2>&1",
			 out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "cowstat: the table was full (dropped + evicted: "))
		TH_LOG("%s", out);
	EXPECT_LT(0, ct_stat("evicted"));
	EXPECT_EQ(0, ct_unload());
}

/* Bad input and clear errors: no setup; module loads are slow on RT. */
FIXTURE(errors) {
	int unused;
};

FIXTURE_SETUP(errors)
{
}

FIXTURE_TEARDOWN(errors)
{
}

TEST_F_TIMEOUT(errors, bad_input, 120)
{
	char out[4096];

	EXPECT_EQ(2 << 8, run(COWSTAT " --bogus 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "usage: cowstat")) TH_LOG("%s", out);
	EXPECT_EQ(2 << 8, run(COWSTAT " -n 3x 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "-n: not a number")) TH_LOG("%s", out);
	EXPECT_EQ(2 << 8, run(COWSTAT " -s nosuch 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "unknown column 'nosuch'")) TH_LOG("%s", out);
	EXPECT_EQ(2 << 8, run(COWSTAT " 0 2>&1", out, sizeof(out)));
	EXPECT_EQ(2 << 8, run(COWSTAT " 0.001 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "INTERVAL: not seconds")) TH_LOG("%s", out);
	EXPECT_EQ(2 << 8, run(COWSTAT " 0.5x 2>&1", out, sizeof(out)));
	EXPECT_EQ(2 << 8, run(COWSTAT " 1 2 3 2>&1", out, sizeof(out)));
	EXPECT_EQ(2 << 8, run(COWSTAT " -- 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "no command after --")) TH_LOG("%s", out);
	EXPECT_EQ(2 << 8, run(COWSTAT " -p 1 -- true 2>&1", out, sizeof(out)));
	EXPECT_EQ(2 << 8, run(COWSTAT " --json --prometheus 2>&1", out, sizeof(out)));
	EXPECT_EQ(0, run(COWSTAT " --help", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "usage: cowstat")) TH_LOG("%s", out);
}

/* Move @pid into the cgroup2 group @name (created). */
static int move_to_cgroup(const char *name, pid_t pid)
{
	char path[128], num[16];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	snprintf(num, sizeof(num), "%d", pid);
	ok = write(fd, num, strlen(num)) > 0;
	close(fd);
	return ok ? 0 : -1;
}

/* Back to the root group, and the groups removed. */
static void cgroups_cleanup(pid_t a, pid_t b)
{
	int fd = open("/sys/fs/cgroup/cgroup.procs", O_WRONLY);
	char num[16];

	if (fd >= 0) {
		snprintf(num, sizeof(num), "%d", a);
		if (write(fd, num, strlen(num)) < 0)
			perror("cgroup.procs");
		snprintf(num, sizeof(num), "%d", b);
		if (write(fd, num, strlen(num)) < 0)
			perror("cgroup.procs");
		close(fd);
	}
	rmdir("/sys/fs/cgroup/cowstat-a");
	rmdir("/sys/fs/cgroup/cowstat-b");
}

/*
 * The child (K copies) in cgroup cowstat-a, the parent (K reuses) in
 * cowstat-b: sums per cgroup, in each format, and the bound.
 */
TEST_F_TIMEOUT(cowstat, by_cgroup, 120)
{
	char out[65536], cmd[192], want[512];
	const char *obj;

	if (access("/sys/fs/cgroup/cgroup.procs", W_OK))
		SKIP(return, "no writable cgroup2 hierarchy at /sys/fs/cgroup");
	ASSERT_EQ(0, move_to_cgroup("cowstat-a", self->child));
	ASSERT_EQ(0, move_to_cgroup("cowstat-b", self->parent));

	snprintf(cmd, sizeof(cmd), COWSTAT " -r -g -p %d -c", self->parent);
	EXPECT_EQ(0, run(cmd, out, sizeof(out)));
	snprintf(want, sizeof(want),
		 "%7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s CGROUP\n"
		 "%7d %7d %7d %7d %7d %7d %7d %7d %7s %7d %7d /cowstat-a\n"
		 "%7d %7d %7d %7d %7d %7d %7d %7d %7s %7d %7d /cowstat-b\n",
		 "PROCS", "FORKS", "SHARED", "COPIES", "REUSES", "ZERO", "FILE",
		 "SHWR", "THPSPL", "HUGE", "COPIED",
		 1, 0, 0, K, 0, 0, 0, 0, ct_have_thp() ? "0" : "-", 0, K * (int)ct_page_size(),
		 1, 0, 0, 0, K, 0, 0, 0, ct_have_thp() ? "0" : "-", 0, 0);
	EXPECT_STREQ(want, out);

	snprintf(cmd, sizeof(cmd), COWSTAT " -g --json --max-cgroups 1 -p %d -c",
		 self->parent);
	EXPECT_EQ(0, run(cmd, out, sizeof(out)));
	/* The bound: cowstat-a first (by copies), cowstat-b folded into other. */
	obj = strstr(out, "{\"cgroups\": [{\"cgroup\": \"/cowstat-a\", \"procs\": 1, ");
	ASSERT_NE(NULL, obj) TH_LOG("%s", out);
	EXPECT_EQ(K, jnum(obj, "copies"));
	EXPECT_EQ(0, jnum(obj, "reuses"));
	obj = strstr(obj, "}, {\"cgroup\": \"other\", \"procs\": 1, ");
	ASSERT_NE(NULL, obj) TH_LOG("%s", out);
	EXPECT_EQ(0, jnum(obj, "copies"));
	EXPECT_EQ(K, jnum(obj, "reuses"));
	/* Nothing after other. */
	EXPECT_EQ(NULL, strstr(obj + strlen("}, {\"cgroup\""), "\"cgroup\": "))
		TH_LOG("%s", out);

	snprintf(cmd, sizeof(cmd), COWSTAT " -g --prometheus --max-cgroups 1 -p %d -c",
		 self->parent);
	EXPECT_EQ(0, run(cmd, out, sizeof(out)));
	snprintf(want, sizeof(want),
		 "\ncowtrace_process_copies_total{pid=\"%d\",comm=\"%s\",cgroup=\"%s\"} %d\n",
		 self->child, "cowstat_test", "/cowstat-a", K);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	snprintf(want, sizeof(want),
		 "\ncowtrace_process_reuses_total{pid=\"%d\",comm=\"%s\",cgroup=\"%s\"} %d\n",
		 self->parent, "cowstat_test", "other", K);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\ncowtrace_cgroup_copies_total{cgroup=\"/cowstat-a\"} 16\n"
			       "cowtrace_cgroup_copies_total{cgroup=\"other\"} 0\n"))
		TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "cowstat-b")) TH_LOG("%s", out);
	if (!access(PROMTOOL, X_OK)) {
		snprintf(cmd, sizeof(cmd), COWSTAT " -g --prometheus --max-cgroups 1 | "
			 PROMTOOL " check metrics 2>&1");
		EXPECT_EQ(0, run(cmd, out, sizeof(out))) TH_LOG("%s", out);
	}
	cgroups_cleanup(self->child, self->parent);
}

/*
 * --by-cgroup over rows with one counter: a live process's cgroup from
 * /proc, an exited one "unknown", counters absent stay "-".
 */
TEST_F_TIMEOUT(synth, by_cgroup, 120)
{
	char procs[256], cmd[256], out[4096], want[1600], cg[600] = "";
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[600];

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(cg, sizeof(cg), "%s", line + 3);
		}
	fclose(f);
	if (!cg[0])
		SKIP(return, "no cgroup2 line in /proc/self/cgroup");
	snprintf(procs, sizeof(procs),
		 "pid ppid comm state copies\n%d 1 me alive 5\n99999999 1 gone exited 3\n",
		 getpid());
	put_file(self->dir, "cg.procs", procs);
	snprintf(cmd, sizeof(cmd), COWSTAT " -g --procs %s/cg.procs", self->dir);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	snprintf(want, sizeof(want),
		 "%7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s CGROUP\n"
		 "%7d %7s %7s %7d %7s %7s %7s %7s %7s %7s %7s %s\n"
		 "%7d %7s %7s %7d %7s %7s %7s %7s %7s %7s %7s unknown\n",
		 "PROCS", "FORKS", "SHARED", "COPIES", "REUSES", "ZERO", "FILE",
		 "SHWR", "THPSPL", "HUGE", "COPIED",
		 1, "-", "-", 5, "-", "-", "-", "-", "-", "-", "-", cg,
		 1, "-", "-", 3, "-", "-", "-", "-", "-", "-", "-");
	EXPECT_STREQ(want, out);
}

/* No row cap: 70,000 rows (more than the old 65,536), the top one last. */
TEST_F_TIMEOUT(synth, no_row_cap, 300)
{
	const char *dir = self->dir;
	const int rows = 70000;
	char cmd[128], out[4096];
	FILE *f;
	int i;

	snprintf(cmd, sizeof(cmd), "%s/procs", dir);
	f = fopen(cmd, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "pid ppid comm state copies reuses\n");
	for (i = 0; i < rows; i++)
		fprintf(f, "%d 1 p%d %s %d %d\n", rows - i, i, i % 2 ? "alive" : "exited",
			i, i % 7);
	fclose(f);
	snprintf(cmd, sizeof(cmd), COWSTAT " --procs %s/procs | wc -l", dir);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	EXPECT_EQ(rows + 1, atoi(out));
	/* The top 2 by copies, and by reuses (ties by pid). */
	snprintf(cmd, sizeof(cmd), COWSTAT " -n 2 --json --procs %s/procs", dir);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	EXPECT_EQ(1, jnum(out, "pid")) TH_LOG("%s", out);
	EXPECT_EQ(rows - 1, jnum(out, "copies"));
	EXPECT_EQ(2, jnum(strstr(out, "}, {"), "pid")) TH_LOG("%s", out);
	snprintf(cmd, sizeof(cmd), COWSTAT " -n 2 -s reuses --json --procs %s/procs", dir);
	ASSERT_EQ(0, run(cmd, out, sizeof(out)));
	/* reuses 6 at i = 6, 13, ...: the smallest pids are rows - i, largest i. */
	EXPECT_EQ(rows - (rows - 1 - (rows - 1 - 6) % 7), jnum(out, "pid")) TH_LOG("%s", out);
	EXPECT_EQ(6, jnum(out, "reuses"));
}

TEST_F_TIMEOUT(errors, clear_errors, 120)
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
	/* With a command: the same errors, status 125, the command not run. */
	EXPECT_EQ(125 << 8, run("setpriv --reuid=65534 --regid=65534 --clear-groups "
				COWSTAT " -- true 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "root-only")) TH_LOG("%s", out);
	EXPECT_EQ(0, ct_unload());
	EXPECT_EQ(125 << 8, run(COWSTAT " -- true 2>&1", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "the cowtrace module is not loaded")) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN

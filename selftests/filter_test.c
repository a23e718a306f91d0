// SPDX-License-Identifier: GPL-2.0
/*
 * Filter selftests: a change of the filter never counts a process that
 * neither the old nor the new filter selects.
 *
 * The filter is one object published with RCU (module/filter.c): every
 * probe sees the old filter or the new one, whole.  The scenario is the
 * one that found the defect: two idle selected processes A and B, a
 * cgroup holding only A, an unselected tree that keeps forking children
 * which write 64 shared pages each, and thousands of writes to control
 * that switch between "pid A", "pid B" and "cgroup <A's>" while it runs.
 * The module used to publish "no filter" (count everything) in the
 * middle of each change, for a whole RCU grace period on a change to a
 * cgroup; the tree was counted for about 100,000 copies.  Nothing may be
 * counted at all: A and B do nothing, and nothing else is selected.  As
 * the positive control, the same tree under "filter pid <its own>" is
 * counted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define CGROUP		"/cowtrace-filter-test"
#define CGROUP_DIR	"/sys/fs/cgroup" CGROUP
#define PAGES		64	/* shared pages each child of the tree writes */
#define CHANGES		3000	/* filter changes in the storm, at least */
#define STORM_ROUNDS	10	/* children the tree forks during it, at least */
#define CONTROL_ROUNDS	4	/* children forked for the positive control */

/* Shared between the observer and the writer tree's root. */
struct tree {
	int stop;		/* observer: end the storm */
	int rounds;		/* writer: children forked and reaped */
	int extra;		/* observer: fork this many more, then done */
	int done;		/* writer: the extra ones are reaped */
};

FIXTURE(filter) {
	pid_t a, b, w;		/* idle A and B, the writer tree's root */
	int hold[2];		/* A and B wait on it; closed to release them */
	bool cgroup;		/* CGROUP_DIR made by this test */
	struct tree *t;
};

FIXTURE_SETUP(filter)
{
	/* Room for every child of the storm, were it (wrongly) counted. */
	ASSERT_EQ(0, ct_load("max_procs=65536 max_exited=65536"));
	ASSERT_EQ(0, pipe(self->hold));
	self->t = mmap(NULL, sizeof(*self->t), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->t);
}

/*
 * In the parent, so that it also runs when the test timed out or failed:
 * the processes go, then the cgroup (it cannot be removed while A is in
 * it, and A may still be exiting), then the module.
 */
FIXTURE_TEARDOWN_PARENT(filter)
{
	int i;

	if (self->a > 0)
		kill(self->a, SIGKILL);
	if (self->b > 0)
		kill(self->b, SIGKILL);
	if (self->w > 0) {
		kill(-self->w, SIGKILL);
		kill(self->w, SIGKILL);
	}
	if (self->cgroup) {
		for (i = 0; i < 10000 && rmdir(CGROUP_DIR) && errno == EBUSY; i++)
			usleep(1000);
		EXPECT_NE(0, access(CGROUP_DIR, F_OK)) TH_LOG("%s left behind", CGROUP_DIR);
	}
	EXPECT_EQ(0, ct_unload());
}

/* A process that warms up, reports ready and waits, doing nothing. */
static pid_t idle_child(int hold, int ready)
{
	pid_t pid = fork();
	char c;

	if (pid)
		return pid;
	ct_warm();
	ct_send(ready);
	if (read(hold, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

/* Fork a child that writes the @PAGES pages of @buf, and reap it. */
static void tree_round(char *buf)
{
	size_t ps = ct_page_size();
	pid_t pid = fork();

	if (pid == 0) {
		ct_touch(buf, PAGES * ps, ps);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		_exit(1);
}

/* The writer tree's root: fork until stopped, then do the extra rounds. */
static pid_t writer_tree(struct tree *t, int ready)
{
	pid_t pid = fork();
	char *buf;
	int i;

	if (pid)
		return pid;
	setpgid(0, 0);		/* one process group: the teardown kills it */
	buf = ct_map_anon(PAGES, true);
	if (!buf)
		_exit(1);
	ct_send(ready);
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		tree_round(buf);
		__atomic_add_fetch(&t->rounds, 1, __ATOMIC_RELEASE);
	}
	while (!__atomic_load_n(&t->extra, __ATOMIC_ACQUIRE))
		usleep(1000);
	for (i = 0; i < t->extra; i++)
		tree_round(buf);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	pause();
	_exit(0);
}

/* What the rows of @root and its children add up to, per column. */
struct sum {
	int rows;
	unsigned long long inherited;
	unsigned long long v[C_NCOLS];
};

static int tree_sum(pid_t root, struct sum *s)
{
	static char copy[256 << 10];
	const char *text = ct_read_file("procs");
	char *save, *line, *tok, *tsave;
	int map[64], ncols, col;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (!text)
		return -1;
	len = strlen(text);
	if (len >= sizeof(copy))
		return -1;
	memcpy(copy, text, len + 1);
	line = strtok_r(copy, "\n", &save);
	if (!line)
		return -1;
	ncols = ct_procs_header(line, map, ARRAY_SIZE(map));
	while ((line = strtok_r(NULL, "\n", &save))) {
		unsigned long long v[C_NCOLS] = { 0 }, inherited = 0;
		long pid = 0, ppid = 0;

		col = 0;
		for (tok = strtok_r(line, " ", &tsave); tok && col < ncols;
		     tok = strtok_r(NULL, " ", &tsave), col++) {
			if (map[col] == CT_COL_PID)
				pid = strtol(tok, NULL, 10);
			else if (map[col] == CT_COL_PPID)
				ppid = strtol(tok, NULL, 10);
			else if (map[col] == CT_COL_INHERITED)
				inherited = ct_value(tok);
			else if (map[col] >= 0 && map[col] < C_NCOLS)
				v[map[col]] = ct_value(tok);
		}
		if (pid != root && ppid != root)
			continue;
		s->rows++;
		s->inherited += inherited;
		for (col = 0; col < C_NCOLS; col++)
			if (v[col] != CT_UNSET)
				s->v[col] += v[col];
	}
	return 0;
}

/* Every global counter, CT_UNSET for off or unsupported. */
static void stats(unsigned long long *v)
{
	int c;

	for (c = 0; c < C_NCOLS; c++)
		v[c] = ct_stat(ct_col_names[c]);
}

static int wait_rounds(struct tree *t, int n)
{
	int i;

	for (i = 0; i < 120000; i++) {
		if (__atomic_load_n(&t->rounds, __ATOMIC_ACQUIRE) >= n)
			return 0;
		usleep(1000);
	}
	return -1;
}

TEST_F_TIMEOUT(filter, changes_never_count_unselected, 600)
{
	unsigned long long before[C_NCOLS], after[C_NCOLS];
	char cmds[3][64];
	int i, changes, rounds, ready[2];
	struct sum s, c;

	if (mkdir(CGROUP_DIR, 0755))
		SKIP(return, "cannot create cgroup %s: %s", CGROUP_DIR, strerror(errno));
	self->cgroup = true;
	ASSERT_EQ(0, pipe(ready));
	self->a = idle_child(self->hold[0], ready[1]);
	ASSERT_LT(0, self->a);
	self->b = idle_child(self->hold[0], ready[1]);
	ASSERT_LT(0, self->b);
	ct_recv(ready[0]);
	ct_recv(ready[0]);
	snprintf(cmds[0], sizeof(cmds[0]), "%d", self->a);
	ASSERT_EQ(0, ct_write_file(CGROUP_DIR "/cgroup.procs", cmds[0]));
	snprintf(cmds[0], sizeof(cmds[0]), "filter pid %d", self->a);
	snprintf(cmds[1], sizeof(cmds[1]), "filter pid %d", self->b);
	snprintf(cmds[2], sizeof(cmds[2]), "filter cgroup %s", CGROUP);
	ASSERT_EQ(0, ct_control(cmds[0]));

	/* From here on only A's subtree, B's or the cgroup is selected. */
	stats(before);
	self->w = writer_tree(self->t, ready[1]);
	ASSERT_LT(0, self->w);
	ct_recv(ready[0]);
	ASSERT_EQ(0, wait_rounds(self->t, 1));
	rounds = __atomic_load_n(&self->t->rounds, __ATOMIC_ACQUIRE);
	for (changes = 0; changes < CHANGES ||
	     __atomic_load_n(&self->t->rounds, __ATOMIC_ACQUIRE) < rounds + STORM_ROUNDS;
	     changes++)
		ASSERT_EQ(0, ct_control(cmds[changes % 3]))
			TH_LOG("change %d: %s", changes, cmds[changes % 3]);
	__atomic_store_n(&self->t->stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, ct_control(cmds[0]));
	rounds = __atomic_load_n(&self->t->rounds, __ATOMIC_ACQUIRE);
	stats(after);
	ASSERT_EQ(0, tree_sum(self->w, &s));
	TH_LOG("%d filter changes while the tree forked %d children", changes, rounds);
	TH_LOG("tree: %d rows, forks %llu copies %llu reuses %llu; global copies %llu",
	       s.rows, s.v[C_FORKS], s.v[C_COPIES], s.v[C_REUSES],
	       after[C_COPIES] - before[C_COPIES]);
	for (i = 0; i < C_NCOLS; i++) {
		EXPECT_EQ(0, s.v[i]) TH_LOG("the tree's %s", ct_col_names[i]);
		if (before[i] != CT_UNSET)
			EXPECT_EQ(0, after[i] - before[i])
				TH_LOG("global %s", ct_col_names[i]);
	}
	EXPECT_EQ(0, s.inherited);
	EXPECT_EQ(0, ct_stat("dropped"));
	EXPECT_EQ(0, ct_stat("evicted"));

	/* Positive control: the same tree, selected, is counted. */
	snprintf(cmds[0], sizeof(cmds[0]), "filter pid %d", self->w);
	ASSERT_EQ(0, ct_control(cmds[0]));
	__atomic_store_n(&self->t->extra, CONTROL_ROUNDS, __ATOMIC_RELEASE);
	for (i = 0; i < 120000 && !__atomic_load_n(&self->t->done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	ASSERT_TRUE(__atomic_load_n(&self->t->done, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, tree_sum(self->w, &c));
	TH_LOG("control: %d rows, forks %llu copies %llu", c.rows - s.rows,
	       c.v[C_FORKS] - s.v[C_FORKS], c.v[C_COPIES] - s.v[C_COPIES]);
	EXPECT_EQ(CONTROL_ROUNDS, c.v[C_FORKS] - s.v[C_FORKS]);
	EXPECT_LE(CONTROL_ROUNDS * PAGES, c.v[C_COPIES] - s.v[C_COPIES]);
	EXPECT_EQ(0, ct_control("filter none"));
}

/* Reading control shows the filter in the words that set it. */
TEST_F(filter, control_shows_filter_as_written)
{
	char cmd[64], want[80];
	const char *text;

	if (mkdir(CGROUP_DIR, 0755))
		SKIP(return, "cannot create cgroup %s: %s", CGROUP_DIR, strerror(errno));
	self->cgroup = true;
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nfilter: none\n"));

	snprintf(cmd, sizeof(cmd), "filter pid %d", getpid());
	ASSERT_EQ(0, ct_control(cmd));
	snprintf(want, sizeof(want), "\nfilter: pid %d\n", getpid());
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("%s", text);

	ASSERT_EQ(0, ct_control("filter   cgroup   " CGROUP "\n"));
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nfilter: cgroup " CGROUP "\n")) TH_LOG("%s", text);

	/* A refused change keeps the filter. */
	EXPECT_EQ(-ENOENT, ct_control("filter cgroup /cowtrace-no-such-cgroup"));
	EXPECT_EQ(-EINVAL, ct_control("filter pid 0"));
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nfilter: cgroup " CGROUP "\n")) TH_LOG("%s", text);

	ASSERT_EQ(0, ct_control("filter none"));
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nfilter: none\n"));
}

/*
 * The longest command fits: "filter cgroup " with a 255-byte path and a
 * newline (270 bytes) reaches the lookup (no such cgroup), a 256-byte
 * path is refused as too long, and one byte more than the longest
 * command is E2BIG (Documentation/cowtrace.rst, control).
 */
TEST_F(filter, longest_command_fits)
{
	const char *text;
	char cmd[512];
	int n;

	n = snprintf(cmd, sizeof(cmd), "filter cgroup /%0254d\n", 0);
	ASSERT_EQ(270, n);
	EXPECT_EQ(-ENOENT, ct_control(cmd));
	n = snprintf(cmd, sizeof(cmd), "filter cgroup /%0255d", 0);
	ASSERT_EQ(270, n);
	EXPECT_EQ(-EINVAL, ct_control(cmd));
	n = snprintf(cmd, sizeof(cmd), "filter cgroup /%0255d\n", 0);
	ASSERT_EQ(271, n);
	EXPECT_EQ(-E2BIG, ct_control(cmd));
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nfilter: none\n"));
}

TEST_HARNESS_MAIN

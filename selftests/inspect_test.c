// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table inspector selftests: the inspect file's per-VMA numbers
 * for quiescent puppet processes, asserted exactly, and cross-checked
 * against /proc/PID/smaps where both measure the same thing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64
#define K 16

enum {
	I_PRESENT, I_COW_ARMED, I_PRIVATE_RW, I_WP_EXCLUSIVE, I_ZERO, I_THP,
	I_HUGETLB, I_SWAP, I_MC1, I_MC2, I_NCOLS
};

struct vma_row {
	unsigned long start, end;
	char kind[32];
	long long v[I_NCOLS];
};

/* The row of @pid's VMA that contains @addr. */
static int inspect_vma(pid_t pid, const void *addr, struct vma_row *r)
{
	unsigned long a = (unsigned long)addr;
	char cmd[32], perms[8];
	const char *text, *p;

	snprintf(cmd, sizeof(cmd), "%d", pid);
	if (ct_write_file("inspect", cmd))
		return -errno;
	text = ct_read_file("inspect");
	if (!text)
		return -errno;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		memset(r, 0, sizeof(*r));
		if (sscanf(p, "%lx %lx %7s %31s %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
			   &r->start, &r->end, perms, r->kind,
			   &r->v[0], &r->v[1], &r->v[2], &r->v[3], &r->v[4],
			   &r->v[5], &r->v[6], &r->v[7], &r->v[8], &r->v[9]) == 14 &&
		    r->start <= a && a < r->end)
			return 0;
	}
	return -ENOENT;
}

/* Per-page listing of @pid's VMA at @addr: lines, and how many writable. */
static int inspect_pages(pid_t pid, const void *addr, int *writable)
{
	const char *text, *p;
	char cmd[64];
	int lines = 0;

	snprintf(cmd, sizeof(cmd), "%d vma %lx", pid, (unsigned long)addr);
	if (ct_write_file("inspect", cmd))
		return -1;
	text = ct_read_file("inspect");
	*writable = 0;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long a;
		char flags[8];
		int mc;

		if (p[0] != ' ' || p[1] != ' ' ||
		    sscanf(p, "%lx %7s %d", &a, flags, &mc) != 3)
			continue;
		lines++;
		*writable += flags[1] == 'W';
	}
	return lines;
}

/* "Key: N kB" of the smaps entry of @pid's VMA starting at @start. */
static long long smaps_kb(pid_t pid, unsigned long start, const char *key)
{
	char path[64], line[256];
	unsigned long s, e;
	int in = 0;
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			in = s == start;
			continue;
		}
		if (in && !strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == ':') {
			v = strtoll(line + strlen(key) + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

FIXTURE(inspect) {
	struct ct_puppet pp[2];
};

FIXTURE_SETUP(inspect)
{
	ASSERT_EQ(0, ct_load(""));
}

FIXTURE_TEARDOWN(inspect)
{
	EXPECT_EQ(0, ct_unload());
}

TEST_F(inspect, fork_arms_cow_then_writes_split_it)
{
	char *buf = ct_map_anon(N, false);
	struct vma_row p, c;
	pid_t parent, child;
	int writable;

	ASSERT_NE(NULL, buf);
	ct_puppets_init(self->pp, 2, buf);
	parent = ct_puppet_start(&self->pp[0]);
	ASSERT_LT(0, parent);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));

	ASSERT_EQ(0, inspect_vma(parent, buf, &p));
	EXPECT_EQ(N, p.v[I_PRESENT]);
	EXPECT_EQ(N, p.v[I_PRIVATE_RW]);
	EXPECT_EQ(0, p.v[I_COW_ARMED]);
	EXPECT_EQ(N, p.v[I_MC1]);
	EXPECT_EQ(N * 4, smaps_kb(parent, p.start, "Rss"));
	EXPECT_EQ(N * 4, smaps_kb(parent, p.start, "Anonymous"));

	child = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, inspect_vma(parent, buf, &p));
	ASSERT_EQ(0, inspect_vma(child, buf, &c));
	EXPECT_EQ(N, p.v[I_COW_ARMED]);
	EXPECT_EQ(N, c.v[I_COW_ARMED]);
	EXPECT_EQ(N, p.v[I_MC2]);
	EXPECT_EQ(0, p.v[I_PRIVATE_RW]);
	EXPECT_EQ(N * 4, smaps_kb(child, c.start, "Shared_Dirty"));

	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, inspect_vma(parent, buf, &p));
	ASSERT_EQ(0, inspect_vma(child, buf, &c));
	EXPECT_EQ(K, c.v[I_PRIVATE_RW]);
	EXPECT_EQ(N - K, c.v[I_COW_ARMED]);
	EXPECT_EQ(K, p.v[I_WP_EXCLUSIVE]);
	EXPECT_EQ(N - K, p.v[I_COW_ARMED]);
	EXPECT_EQ(K * 4, smaps_kb(child, c.start, "Private_Dirty"));
	EXPECT_EQ(K * 4, smaps_kb(parent, p.start, "Private_Dirty"));
	EXPECT_EQ(N, inspect_pages(child, buf, &writable));
	EXPECT_EQ(K, writable);

	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, inspect_vma(parent, buf, &p));
	EXPECT_EQ(K, p.v[I_PRIVATE_RW]);
	EXPECT_EQ(0, p.v[I_WP_EXCLUSIVE]);

	ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
}

TEST_F(inspect, zero_page_mappings)
{
	char *buf = ct_map_anon(N, false);
	struct vma_row r;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ct_puppets_init(self->pp, 1, buf);
	pid = ct_puppet_start(&self->pp[0]);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_READ, 0, K));
	ASSERT_EQ(0, inspect_vma(pid, buf, &r));
	EXPECT_EQ(K, r.v[I_PRESENT]);
	EXPECT_EQ(K, r.v[I_ZERO]);
	EXPECT_EQ(0, r.v[I_PRIVATE_RW] + r.v[I_COW_ARMED]);
	ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
}

TEST_F(inspect, thp_pmd_then_split_by_cow)
{
	size_t pmd = 2UL << 20;
	char *raw = mmap(NULL, 2 * pmd, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *buf;
	struct vma_row p, c;
	pid_t parent, child;

	ASSERT_NE(MAP_FAILED, raw);
	if (!ct_have_thp()) {
		munmap(raw, 2 * pmd);
		SKIP(return, "the kernel has no transparent huge pages (as on PREEMPT_RT)");
	}
	buf = (char *)(((unsigned long)raw + pmd - 1) & ~(pmd - 1));
	ASSERT_EQ(0, madvise(buf, pmd, MADV_HUGEPAGE));
	ct_puppets_init(self->pp, 2, buf);
	parent = ct_puppet_start(&self->pp[0]);
	ASSERT_LT(0, parent);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, 512));
	ASSERT_EQ(0, inspect_vma(parent, buf, &p));
	if (p.v[I_THP] != 1) {
		ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
		SKIP(return, "no transparent huge page was allocated");
	}
	EXPECT_EQ(0, p.v[I_PRESENT]);
	EXPECT_EQ(2048, smaps_kb(parent, p.start, "AnonHugePages"));

	child = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, 1));
	ASSERT_EQ(0, inspect_vma(child, buf, &c));
	ASSERT_EQ(0, inspect_vma(parent, buf, &p));
	/* The child's PMD was split: 512 PTEs, one of them its copy. */
	EXPECT_EQ(0, c.v[I_THP]);
	EXPECT_EQ(512, c.v[I_PRESENT]);
	EXPECT_EQ(1, c.v[I_PRIVATE_RW]);
	EXPECT_EQ(511, c.v[I_COW_ARMED]);
	/* The parent still maps the huge page with its PMD. */
	EXPECT_EQ(1, p.v[I_THP]);
	ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
}

TEST_F(inspect, refuses_bad_targets)
{
	char big[100];

	EXPECT_EQ(-EINVAL, ct_write_file("inspect", "0"));
	EXPECT_EQ(-EINVAL, ct_write_file("inspect", "-1"));
	EXPECT_EQ(-EINVAL, ct_write_file("inspect", "abc"));
	EXPECT_EQ(-EINVAL, ct_write_file("inspect", "1 vma zz"));
	EXPECT_EQ(-EINVAL, ct_write_file("inspect", "2"));		/* kthreadd */
	EXPECT_EQ(-ESRCH, ct_write_file("inspect", "4000000"));
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(-E2BIG, ct_write_file("inspect", big));
}

/* A process that exits after being chosen: reads fail with ESRCH, no crash. */
TEST_F(inspect, target_gone_after_chosen_fails_reads)
{
	char cmd[32];
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	snprintf(cmd, sizeof(cmd), "%d", pid);
	ASSERT_EQ(0, ct_write_file("inspect", cmd));
	ASSERT_NE(NULL, ct_read_file("inspect"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	EXPECT_EQ(NULL, ct_read_file("inspect"));
	EXPECT_EQ(ESRCH, errno);
}

/*
 * pid 1 is a user process like any other (here the guest's init, on a
 * real machine systemd): a complete report, its own pid in the header.
 */
TEST_F(inspect, init_reported_like_any_process)
{
	const char *text;

	ASSERT_EQ(0, ct_write_file("inspect", "1"));
	text = ct_read_file("inspect");
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, strncmp(text, "pid: 1\n", 7));
	EXPECT_NE(NULL, strstr(text, "\ntotal - - - "));
}

/* What a process in a new pid namespace got from inspect. */
struct ns_view {
	int global_err;		/* writing the target's global pid */
	int global_header;	/* the report's "pid:" is that pid */
	long long global_present;	/* present pages of its mapping */
	int one_err;		/* writing "1", the writer's own pid there */
	int one_header;		/* the report's "pid:" is 1 */
	int one_is_self;	/* ... and it shows the writer's mapping */
};

static bool header_is(pid_t pid)
{
	const char *text = ct_read_file("inspect");
	char want[32];

	snprintf(want, sizeof(want), "pid: %d\n", pid);
	return text && !strncmp(text, want, strlen(want));
}

/*
 * inspect takes pids of the initial pid namespace, as procs prints them
 * and the filter takes them, also from inside another namespace: the
 * target's global pid gives the target's report there, and "1", which in
 * the new namespace is the writer itself, is the global init, not the
 * writer.  Target T maps 37 pages, the writer 29 (mapped after the fork,
 * so neither has the other's).
 */
TEST_F(inspect, pids_are_those_of_the_initial_namespace)
{
	struct ns_view *nv = mmap(NULL, sizeof(*nv), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int to_t[2], from_t[2], status;
	pid_t target, outer;
	char *tbuf;

	ASSERT_NE(MAP_FAILED, nv);
	ASSERT_EQ(0, pipe(to_t));
	ASSERT_EQ(0, pipe(from_t));
	target = fork();
	ASSERT_LE(0, target);
	if (target == 0) {
		char *m = ct_map_anon(37, true), c;

		if (!m || write(from_t[1], &m, sizeof(m)) != sizeof(m))
			_exit(1);
		if (read(to_t[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(sizeof(tbuf), read(from_t[0], &tbuf, sizeof(tbuf)));

	outer = fork();
	ASSERT_LE(0, outer);
	if (outer == 0) {
		pid_t inner;

		if (unshare(CLONE_NEWPID))
			_exit(2);
		inner = fork();
		if (inner < 0)
			_exit(3);
		if (inner == 0) {
			/* pid 1 of the new namespace */
			char *own = ct_map_anon(29, true), cmd[32];
			struct vma_row r;

			if (!own || getpid() != 1)
				_exit(4);
			nv->global_err = inspect_vma(target, tbuf, &r);
			nv->global_present = r.v[I_PRESENT];
			nv->global_header = header_is(target);
			snprintf(cmd, sizeof(cmd), "%d", 1);
			nv->one_err = ct_write_file("inspect", cmd);
			nv->one_header = header_is(1);
			nv->one_is_self = inspect_vma(1, own, &r) == 0 &&
					  r.start == (unsigned long)own &&
					  r.v[I_PRESENT] == 29;
			_exit(0);
		}
		if (waitpid(inner, &status, 0) != inner)
			_exit(5);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 6);
	}
	ASSERT_EQ(outer, waitpid(outer, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, nv->global_err);
	EXPECT_TRUE(nv->global_header);
	EXPECT_EQ(37, nv->global_present);
	EXPECT_EQ(0, nv->one_err);
	EXPECT_TRUE(nv->one_header);
	EXPECT_FALSE(nv->one_is_self);
	ASSERT_EQ(1, write(to_t[1], "q", 1));
	ASSERT_EQ(target, waitpid(target, NULL, 0));
	munmap(nv, sizeof(*nv));
}

/*
 * A target with 64 Ki small pages in one VMA: each read of inspect walks
 * for a while, and its report (one line a VMA) fits seq_file's first
 * buffer, so each read is one walk, not several.
 */
#define MANY_PAGES 65536

/* How a read of inspect ended, and when, against the target's exit. */
enum { PH_LIVE, PH_KILLED, PH_REAPED };

struct mid_walk {
	pid_t pid;
	int phase;		/* PH_*, written by the killer */
	int stop;
	int complete;		/* reads that returned a whole report */
	int esrch;		/* reads that failed with ESRCH */
	int straddled;		/* walks begun live, ended after the reap */
	int straddled_esrch;	/* ... of which failed with ESRCH */
	int walked_esrch;	/* ... and walked (hits: see target_exits_mid_walk) */
	long long walk_ns;	/* CPU time of the shortest complete read */
	long long esrch_ns;	/* CPU time of the longest straddling ESRCH */
	int bad;		/* anything else: partial, other errno */
	char why[128];
	char buf[64 << 10];	/* the reader's: a report is a few KiB */
};

static long long thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * One read of inspect: 1 complete, 0 ESRCH, -1 anything else.  *@walked
 * is the phase when the first read() returned, *@cpu_ns the reader
 * thread's CPU time in it: the lookup, the walk and the report.
 */
static int read_inspect(struct mid_walk *mw, int *walked, long long *cpu_ns)
{
	size_t cap = sizeof(mw->buf) - 1, got = 0;
	char want[32];
	ssize_t n;
	int fd, err;

	fd = ct_open("inspect", O_RDONLY);
	if (fd < 0) {
		snprintf(mw->why, sizeof(mw->why), "open: %s", strerror(-fd));
		return -1;
	}
	/* The first read() is the walk; later ones copy out its output. */
	*cpu_ns = thread_cpu_ns();
	n = read(fd, mw->buf, cap);
	err = errno;
	*cpu_ns = thread_cpu_ns() - *cpu_ns;
	*walked = __atomic_load_n(&mw->phase, __ATOMIC_ACQUIRE);
	errno = err;
	while (n > 0) {
		got += n;
		n = got < cap ? read(fd, mw->buf + got, cap - got) : 0;
	}
	err = errno;
	close(fd);
	mw->buf[got] = '\0';
	if (n < 0 && err == ESRCH && got == 0)
		return 0;
	if (n < 0) {
		snprintf(mw->why, sizeof(mw->why), "read after %zu bytes: %s",
			 got, strerror(err));
		return -1;
	}
	snprintf(want, sizeof(want), "pid: %d\n", mw->pid);
	if (got == cap || strncmp(mw->buf, want, strlen(want)) ||
	    !strstr(mw->buf, "\ntotal - - - ")) {
		snprintf(mw->why, sizeof(mw->why), "partial report: %zu bytes", got);
		return -1;
	}
	return 1;
}

static void *mid_walk_reader(void *arg)
{
	struct mid_walk *mw = arg;

	while (!__atomic_load_n(&mw->stop, __ATOMIC_ACQUIRE)) {
		int before = __atomic_load_n(&mw->phase, __ATOMIC_ACQUIRE);
		long long ns;
		int after;
		int r = read_inspect(mw, &after, &ns);

		if (r < 0) {
			__atomic_store_n(&mw->bad, 1, __ATOMIC_RELEASE);
			break;
		}
		if (r && (!mw->walk_ns || ns < mw->walk_ns))
			mw->walk_ns = ns;
		if (r)
			__atomic_add_fetch(&mw->complete, 1, __ATOMIC_RELEASE);
		else
			__atomic_add_fetch(&mw->esrch, 1, __ATOMIC_RELEASE);
		if (before == PH_LIVE && after == PH_REAPED) {
			mw->straddled++;
			mw->straddled_esrch += !r;
			if (!r && ns > mw->esrch_ns)
				mw->esrch_ns = ns;
			/*
			 * It walked: at least half the CPU time of a whole
			 * walk (two completed before the kill).  A lookup that
			 * found the target gone costs microseconds.
			 */
			mw->walked_esrch += !r && mw->walk_ns && 2 * ns >= mw->walk_ns;
		}
	}
	return NULL;
}

/*
 * The target dies while a read walks its page tables.  The walk holds
 * the mm, so it finishes on intact tables, then sees it held the last
 * user and fails the read with ESRCH rather than report a dead process
 * (and its mmput() tears the address space down, in the reader).  Every
 * read is a whole report or ESRCH: nothing partial, no other error.
 *
 * A hit is a read that began before the kill, ended after the reap,
 * failed with ESRCH, and took at least half the reader's CPU time of a
 * whole walk measured in the same trial: so it found the target and
 * walked, and the ESRCH came from the last-user check after the walk.
 * An ESRCH from the lookup itself (the target already gone when the
 * read began in the kernel) costs microseconds and is not a hit.  Tried
 * until a hit, 20 times at most: a trial misses when the walk ends
 * before the reap.  A module without its last-user check prints the
 * dead process instead: no trial can hit (tried: 0 hits in 20 trials).
 */
TEST_F_TIMEOUT(inspect, target_exits_mid_walk, 300)
{
	int trial, straddled = 0, esrch = 0, hits = 0;

	for (trial = 0; trial < 20 && !hits; trial++) {
		struct mid_walk mw = { 0 };
		char cmd[32], c;
		pthread_t th;
		int pfd[2];

		ASSERT_EQ(0, pipe(pfd));
		mw.pid = fork();
		ASSERT_LE(0, mw.pid);
		if (mw.pid == 0) {
			/* Written, and in small pages where there is THP. */
			char *m = ct_map_anon(MANY_PAGES, true);

			if (!m)
				_exit(1);
			if (write(pfd[1], "r", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(pfd[1]);
		ASSERT_EQ(1, read(pfd[0], &c, 1));
		close(pfd[0]);
		snprintf(cmd, sizeof(cmd), "%d", mw.pid);
		ASSERT_EQ(0, ct_write_file("inspect", cmd));
		ASSERT_EQ(0, pthread_create(&th, NULL, mid_walk_reader, &mw));
		/*
		 * Let two whole reads through, then kill mid-read.  The waits
		 * are for conditions; the harness timeout bounds them.
		 */
		while (__atomic_load_n(&mw.complete, __ATOMIC_ACQUIRE) < 2 &&
		       !__atomic_load_n(&mw.bad, __ATOMIC_ACQUIRE))
			usleep(100);
		__atomic_store_n(&mw.phase, PH_KILLED, __ATOMIC_RELEASE);
		ASSERT_EQ(0, kill(mw.pid, SIGKILL));
		ASSERT_EQ(mw.pid, waitpid(mw.pid, NULL, 0));
		__atomic_store_n(&mw.phase, PH_REAPED, __ATOMIC_RELEASE);
		/* Reads after the reap: ESRCH, two of them at least. */
		while (__atomic_load_n(&mw.esrch, __ATOMIC_ACQUIRE) < 2 &&
		       !__atomic_load_n(&mw.bad, __ATOMIC_ACQUIRE))
			usleep(100);
		__atomic_store_n(&mw.stop, 1, __ATOMIC_RELEASE);
		ASSERT_EQ(0, pthread_join(th, NULL));
		ASSERT_EQ(0, mw.bad) TH_LOG("trial %d: %s", trial, mw.why);
		EXPECT_LE(2, mw.complete);
		EXPECT_LE(2, mw.esrch);
		straddled += mw.straddled;
		esrch += mw.straddled_esrch;
		hits += mw.walked_esrch;
		TH_LOG("trial %d: whole walk %lld us CPU, straddling ESRCH %lld us",
		       trial, mw.walk_ns / 1000, mw.esrch_ns / 1000);
	}
	TH_LOG("%d trials, %d reads spanned the exit, %d failed with ESRCH, %d after a walk",
	       trial, straddled, esrch, hits);
	EXPECT_LE(1, hits);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Core accounting selftests: each scenario makes a known number of
 * copy-on-write events happen in known processes and asserts cowtrace's
 * per-process counters moved by exactly that much.
 *
 * Every process warms up (ct_warm) after fork() before the first
 * measurement, so its own stack and buffers cause no fault inside the
 * measured window; measurements are deltas between two reads of the
 * procs table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64
#define K 16

/* Write the rows once now, so writing them later faults nothing. */
#define WARM_ROWS(...) do {						\
	struct ct_row *_rows[] = { __VA_ARGS__ };			\
	for (size_t _i = 0; _i < ARRAY_SIZE(_rows); _i++)		\
		memset(_rows[_i], 0, sizeof(*_rows[_i]));		\
} while (0)

static unsigned long long delta(const struct ct_row *a, const struct ct_row *b,
				enum ct_col c)
{
	return b->v[c] - a->v[c];
}

/* All counters other than those in @allowed moved by zero. */
static int others_zero(const struct ct_row *a, const struct ct_row *b,
		       unsigned long allowed)
{
	int c = ct_first_moved(a->v, b->v, allowed);

	if (c >= 0)
		fprintf(stderr, "# %s moved by %llu\n", ct_col_names[c],
			b->v[c] - a->v[c]);
	return c < 0;
}

/*
 * Anonymous pages @pid maps, counted by a page-table walk
 * (/proc/PID/smaps_rollup "Anonymous"): exact, where RssAnon lags on 6.1
 * (per-thread RSS caches); -1 if unreadable.
 */
static long long rss_anon_pages(pid_t pid)
{
	long long kb = ct_rollup_kb(pid, "Anonymous");

	return kb < 0 ? -1 : kb * 1024 / (long long)ct_page_size();
}

/*
 * p2c carries "go" bytes, bye "exit" bytes, c2p "ready"/"done" bytes.
 * With several children, go and exit must not share a pipe: a fast
 * child would take a slower one's "go" as its "exit".
 */
FIXTURE(cow) {
	int p2c[2];
	int c2p[2];
	int bye[2];
};

FIXTURE_SETUP(cow)
{
	ASSERT_EQ(0, ct_load(""));
	ASSERT_EQ(0, pipe(self->p2c));
	ASSERT_EQ(0, pipe(self->c2p));
	ASSERT_EQ(0, pipe(self->bye));
}

FIXTURE_TEARDOWN(cow)
{
	EXPECT_EQ(0, ct_unload());
}

/*
 * C2/C10: the child writes K of N shared pages: the child copies K pages
 * (K * 4096 bytes), the parent nothing.  Then the parent writes the same
 * K pages: its originals are now mapped once, so it reuses them without
 * a copy (the kernel does not flip the PTE eagerly; the parent takes a
 * write fault that reuses the page).  Parent and child are puppets: they
 * do nothing else inside the measured windows.
 */
TEST_F(cow, child_copies_parent_reuses)
{
	struct ct_row pa, pb, pc, ca, cb, cc;
	size_t ps = ct_page_size();
	char *buf = ct_map_anon(N, false);	/* populated by the parent */
	struct ct_puppet pp[2];
	long long rss0, rss1;
	pid_t parent, child;

	ASSERT_NE(NULL, buf);
	ct_puppets_init(pp, 2, buf);
	parent = ct_puppet_start(&pp[0]);
	ASSERT_LT(0, parent);
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, N));
	rss0 = rss_anon_pages(parent);
	child = ct_puppet_do(&pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	rss1 = rss_anon_pages(parent);
	ASSERT_EQ(0, ct_proc(parent, &pa));
	ASSERT_EQ(0, ct_proc(child, &ca));
	EXPECT_EQ(parent, ca.ppid);
	EXPECT_EQ(1, pa.v[C_FORKS]);
	EXPECT_EQ(pa.v[C_SHARED], ca.inherited);
	/*
	 * Shared is the child's anonymous RSS at fork: the parent's
	 * anonymous pages, counted just before and just after the fork (the puppet faults nothing
	 * else in between but the fork's own writes).  Not just >= N: a
	 * double count would pass that.
	 */
	EXPECT_LE(N, rss0);
	EXPECT_LE(rss0, (long long)ca.inherited);
	EXPECT_GE(rss1, (long long)ca.inherited);

	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, ct_proc(parent, &pb));
	ASSERT_EQ(0, ct_proc(child, &cb));
	EXPECT_EQ(K, delta(&ca, &cb, C_COPIES));
	EXPECT_EQ(K * ps, delta(&ca, &cb, C_BYTES_COPIED));
	EXPECT_TRUE(others_zero(&ca, &cb, 1UL << C_COPIES | 1UL << C_BYTES_COPIED));
	EXPECT_TRUE(others_zero(&pa, &pb, 0));

	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, ct_proc(parent, &pc));
	ASSERT_EQ(0, ct_proc(child, &cc));
	EXPECT_EQ(K, delta(&pb, &pc, C_REUSES));
	EXPECT_TRUE(others_zero(&pb, &pc, 1UL << C_REUSES));
	EXPECT_TRUE(others_zero(&cb, &cc, 0));

	ct_puppet_do(&pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&pp[0], CT_OP_QUIT, 0, 0);
	ASSERT_EQ(0, ct_proc(child, &cb));
	EXPECT_STREQ("exited", cb.state);
}

/* C15: anonymous memory only read maps the zero page; writes zero-fill. */
TEST_F(cow, zero_page_write_is_zero_fill)
{
	size_t ps = ct_page_size(), i;
	char *buf = ct_map_anon(N, false);
	struct ct_row a, b;

	ASSERT_NE(NULL, buf);
	ct_load_bytes(buf, K * ps, ps);
	ct_warm();
	WARM_ROWS(&a, &b);
	ct_proc_or_zero(getpid(), &a);
	for (i = 0; i < K; i++)
		buf[i * ps] = 1;
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_EQ(K, delta(&a, &b, C_ZERO_FILLS));
	EXPECT_EQ(0, delta(&a, &b, C_COPIES));
	EXPECT_EQ(0, delta(&a, &b, C_BYTES_COPIED));
	EXPECT_TRUE(others_zero(&a, &b, 1UL << C_ZERO_FILLS));
}

/*
 * C6: writes to a MAP_PRIVATE file mapping make private copies, both on
 * a first write (do_cow_fault) and after a read mapped the page-cache
 * page (do_wp_page); the file itself never changes.
 */
TEST_F(cow, private_file_write_copies)
{
	size_t ps = ct_page_size(), i, len = N * ps;
	char path[] = "/tmp/cowtrace-file-XXXXXX";
	char *file = malloc(len), *back = malloc(len), *map;
	struct ct_row a, b;
	unsigned long sum;
	int fd;

	ASSERT_NE(NULL, file);
	ASSERT_NE(NULL, back);
	for (i = 0; i < len; i++)
		file[i] = (char)(i * 7 + 1);
	sum = ct_checksum(file, len);
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)len, write(fd, file, len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* Pages 32..39 read first: mapped read-only from the page cache. */
	ct_load_bytes(map + 32 * ps, 8 * ps, ps);
	ct_warm();
	WARM_ROWS(&a, &b);
	ct_proc_or_zero(getpid(), &a);
	for (i = 0; i < 8; i++)		/* first touch is a write */
		map[i * ps] = 'x';
	for (i = 32; i < 40; i++)	/* read, then write */
		map[i * ps] = 'y';
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_EQ(16, delta(&a, &b, C_FILE_COPIES));
	EXPECT_EQ(16 * ps, delta(&a, &b, C_BYTES_COPIED));
	EXPECT_TRUE(others_zero(&a, &b, 1UL << C_FILE_COPIES | 1UL << C_BYTES_COPIED));
	EXPECT_EQ('x', map[0]);
	EXPECT_EQ('y', map[32 * ps]);
	ASSERT_EQ((ssize_t)len, pread(fd, back, len, 0));
	EXPECT_EQ(sum, ct_checksum(back, len));
	munmap(map, len);
	close(fd);
	unlink(path);
	free(file);
	free(back);
}

/*
 * Write faults on MAP_SHARED memory are not copy-on-write: counted as
 * shared_writes, never as copies.  Clearing soft-dirty bits write-protects
 * the shared mapping, so each next write is a write-notify fault.
 */
TEST_F(cow, shared_mapping_writes_are_not_cow)
{
	size_t ps = ct_page_size(), i, len = N * ps;
	struct ct_row a, b;
	char *map;
	int fd, cr;

	fd = memfd_create("cowtrace-shared", 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 1, len);
	cr = open("/proc/self/clear_refs", O_WRONLY);
	ASSERT_LE(0, cr);
	ASSERT_EQ(1, write(cr, "4", 1));
	close(cr);
	ct_warm();
	WARM_ROWS(&a, &b);
	ct_proc_or_zero(getpid(), &a);
	for (i = 0; i < K; i++)
		map[i * ps] = 2;
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_EQ(K, delta(&a, &b, C_SHARED_WRITES));
	EXPECT_EQ(0, delta(&a, &b, C_COPIES));
	EXPECT_TRUE(others_zero(&a, &b, 1UL << C_SHARED_WRITES));
	munmap(map, len);
	close(fd);
}

/*
 * C8: vfork() and posix_spawn() share the mm: no fork is counted and
 * nothing is shared.  A plain fork() afterwards is the control: it is.
 */
TEST_F(cow, vfork_and_spawn_share_nothing)
{
	static char *const argv[] = { "true", NULL };
	long long rss0, rss1;
	struct ct_row a, b;
	pid_t pid;
	int status;

	ASSERT_NE(NULL, ct_map_anon(N, true));
	ct_warm();
	WARM_ROWS(&a, &b);
	ct_proc_or_zero(getpid(), &a);
	pid = vfork();
	if (pid == 0)
		_exit(0);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, posix_spawnp(&pid, "true", NULL, NULL, argv, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	ct_proc_or_zero(getpid(), &b);
	EXPECT_EQ(0, delta(&a, &b, C_FORKS));
	EXPECT_EQ(0, delta(&a, &b, C_SHARED));
	EXPECT_EQ(0, delta(&a, &b, C_COPIES));

	rss0 = rss_anon_pages(getpid());
	pid = fork();
	if (pid == 0)
		_exit(0);
	rss1 = rss_anon_pages(getpid());
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_EQ(1, delta(&a, &b, C_FORKS));
	/* Our anonymous RSS at the fork, bracketed (see child_copies_parent_reuses). */
	EXPECT_LE(N, rss0);
	EXPECT_LE(rss0, (long long)delta(&a, &b, C_SHARED));
	EXPECT_GE(rss1, (long long)delta(&a, &b, C_SHARED));
}

/* Two threads of a child write each shared page at the same moment. */
#define RACE_PAGES 256

struct racer {
	char *buf;
	pthread_barrier_t *bar;
	int id;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	size_t ps = ct_page_size(), i;
	char stack[64 * 1024];

	ct_touch(stack, sizeof(stack), 256);
	pthread_barrier_wait(r->bar);	/* warmed up */
	pthread_barrier_wait(r->bar);	/* measured window starts */
	for (i = 0; i < RACE_PAGES; i++) {
		pthread_barrier_wait(r->bar);
		r->buf[i * ps + r->id] = 1;
	}
	pthread_barrier_wait(r->bar);
	return NULL;
}

/*
 * Two threads of a child write each of 256 shared pages together: each
 * page is copied once, whichever thread wins (no double count).  Whether
 * they raced is left to cow_races_are_counted.
 */
TEST_F_TIMEOUT(cow, racing_threads_count_one_copy_per_page, 300)
{
	char *buf = ct_map_anon(RACE_PAGES, true);
	struct ct_row a, b;
	pid_t pid;
	int status;

	ASSERT_NE(NULL, buf);
	ct_warm();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pthread_barrier_t bar;
		struct racer r[2];
		pthread_t t[2];
		int i;

		pthread_barrier_init(&bar, NULL, 3);
		for (i = 0; i < 2; i++) {
			r[i] = (struct racer){ .buf = buf, .bar = &bar, .id = i };
			pthread_create(&t[i], NULL, racer_main, &r[i]);
		}
		pthread_barrier_wait(&bar);
		ct_warm();
		ct_send(self->c2p[1]);
		ct_recv(self->p2c[0]);
		pthread_barrier_wait(&bar);
		for (i = 0; i < RACE_PAGES; i++)
			pthread_barrier_wait(&bar);
		pthread_barrier_wait(&bar);
		ct_send(self->c2p[1]);
		ct_recv(self->p2c[0]);
		_exit(0);
	}
	ct_warm();
	WARM_ROWS(&a, &b);
	ct_recv(self->c2p[0]);
	ASSERT_EQ(0, ct_proc(pid, &a));
	ct_send(self->p2c[1]);
	ct_recv(self->c2p[0]);
	ASSERT_EQ(0, ct_proc(pid, &b));
	ct_send(self->p2c[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(RACE_PAGES, delta(&a, &b, C_COPIES));
	EXPECT_EQ(RACE_PAGES * ct_page_size(), delta(&a, &b, C_BYTES_COPIED));
	TH_LOG("cow_races=%llu reuses=%llu", delta(&a, &b, C_COW_RACES),
	       delta(&a, &b, C_REUSES));
}

/*
 * cow_races: two threads of a child, pinned to two CPUs and released
 * together from one spinning barrier, write the same shared page: both
 * take the copy path, one installs its copy, the other's is thrown away
 * (a race).  Over many trials, each a fresh fork of fresh pages, at
 * least one race must be counted (the classification works), and every
 * trial stays exact: one copy per page, at most one race per page (two
 * writers), nothing else.  Tried until a race, RACE_TRIALS at most.
 */
#define RACE_TRIALS 40
#define RACE_TRIAL_PAGES 64

struct race_ctl {
	char *buf;
	int ready;
	int start;
	int arrived;	/* both threads add one per page */
	int done;
};

static void race_spin_until(int *v, int n)
{
	while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < n)
		__builtin_ia32_pause();
}

static struct race_ctl *race_ctl;

static void *race_thread(void *arg)
{
	long id = (long)arg;
	size_t ps = ct_page_size(), i;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(id, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(3);
	ct_warm_stack();
	__atomic_add_fetch(&race_ctl->ready, 1, __ATOMIC_RELEASE);
	race_spin_until(&race_ctl->start, 1);
	for (i = 0; i < RACE_TRIAL_PAGES; i++) {
		__atomic_add_fetch(&race_ctl->arrived, 1, __ATOMIC_ACQ_REL);
		race_spin_until(&race_ctl->arrived, 2 * (int)(i + 1));
		race_ctl->buf[i * ps + id * 64] = 1;
	}
	__atomic_add_fetch(&race_ctl->done, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

TEST_F_TIMEOUT(cow, cow_races_are_counted, 600)
{
	size_t ps = ct_page_size();
	long long races = 0;
	int trial;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "two CPUs needed for two threads to fault at once");
	if (ct_stat("cow_races") == (long long)CT_UNSET)
		SKIP(return, "cow_races unsupported on this kernel");
	for (trial = 0; trial < RACE_TRIALS && !races; trial++) {
		char *buf = ct_map_anon(RACE_TRIAL_PAGES, true);
		struct ct_row a, b;
		unsigned long long r;
		pid_t pid;
		int status;

		ASSERT_NE(NULL, buf);
		ct_warm();
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			pthread_t t[2];
			long i;

			ct_warm();
			race_ctl = mmap(NULL, ps, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (race_ctl == MAP_FAILED)
				_exit(2);
			memset(race_ctl, 0, sizeof(*race_ctl));
			race_ctl->buf = buf;
			for (i = 0; i < 2; i++)
				if (pthread_create(&t[i], NULL, race_thread, (void *)i))
					_exit(2);
			while (__atomic_load_n(&race_ctl->ready, __ATOMIC_ACQUIRE) < 2)
				usleep(1000);
			ct_warm();
			ct_send(self->c2p[1]);
			ct_recv(self->p2c[0]);
			__atomic_store_n(&race_ctl->start, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&race_ctl->done, __ATOMIC_ACQUIRE) < 2)
				usleep(1000);
			ct_send(self->c2p[1]);
			ct_recv(self->p2c[0]);
			_exit(0);
		}
		ct_warm();
		WARM_ROWS(&a, &b);
		ct_recv(self->c2p[0]);
		ASSERT_EQ(0, ct_proc(pid, &a));
		ct_send(self->p2c[1]);
		ct_recv(self->c2p[0]);
		ASSERT_EQ(0, ct_proc(pid, &b));
		ct_send(self->p2c[1]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, status);
		munmap(buf, RACE_TRIAL_PAGES * ps);
		r = delta(&a, &b, C_COW_RACES);
		EXPECT_EQ(RACE_TRIAL_PAGES, delta(&a, &b, C_COPIES)) TH_LOG("trial %d", trial);
		EXPECT_EQ(RACE_TRIAL_PAGES * ps, delta(&a, &b, C_BYTES_COPIED));
		EXPECT_GE(RACE_TRIAL_PAGES, r);
		EXPECT_TRUE(others_zero(&a, &b, 1UL << C_COPIES |
					1UL << C_BYTES_COPIED | 1UL << C_COW_RACES));
		races += r;
	}
	TH_LOG("%d trials of %d pages: %lld cow_races", trial, RACE_TRIAL_PAGES, races);
	EXPECT_LE(1, races);
}

/*
 * A full table: with room for 16 processes and the filter on this test's
 * subtree, the 5 children that get no entry have their events counted
 * globally and in "dropped", each one.
 */
TEST_F_TIMEOUT(cow, table_overflow_counts_dropped, 300)
{
	char *buf = ct_map_anon(N, true), cmd[64];
	long long da, db, ga, gb;
	size_t ps = ct_page_size(), i;
	pid_t pids[20];
	struct ct_row r;
	int c, with_entry = 0;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, ct_load("max_procs=16"));
	snprintf(cmd, sizeof(cmd), "filter pid %d", getpid());
	ASSERT_EQ(0, ct_control(cmd));
	ct_warm();
	for (c = 0; c < 20; c++) {
		pids[c] = fork();
		ASSERT_LE(0, pids[c]);
		if (pids[c] == 0) {
			ct_warm();
			ct_send(self->c2p[1]);
			ct_recv(self->p2c[0]);
			for (i = 0; i < K; i++)
				buf[i * ps] = 2;
			ct_send(self->c2p[1]);
			ct_recv(self->bye[0]);
			_exit(0);
		}
	}
	for (c = 0; c < 20; c++)
		ct_recv(self->c2p[0]);
	for (c = 0; c < 20; c++)
		with_entry += ct_proc(pids[c], &r) == 0;
	EXPECT_EQ(15, with_entry);
	EXPECT_EQ(16, ct_stat("procs_alive"));
	da = ct_stat("dropped");
	ga = ct_stat("copies");
	for (c = 0; c < 20; c++)
		ct_send(self->p2c[1]);
	for (c = 0; c < 20; c++)
		ct_recv(self->c2p[0]);
	db = ct_stat("dropped");
	gb = ct_stat("copies");
	EXPECT_EQ(20 * K, gb - ga);
	EXPECT_EQ(5 * K, db - da);
	for (c = 0; c < 20; c++)
		ct_send(self->bye[1]);
	for (c = 0; c < 20; c++)
		waitpid(pids[c], NULL, 0);
}

/*
 * Exited processes stay readable, marked exited, until more than
 * max_exited have exited; then the oldest go first.  An entry is reused
 * only after an RCU grace period, so trimming may lag by an exit or two:
 * keep forking short-lived children until it has caught up.
 */
TEST_F_TIMEOUT(cow, exited_entries_evicted_oldest_first, 120)
{
	pid_t pids[64];
	struct ct_row r;
	char cmd[64];
	int n = 0, i, status;

	ASSERT_EQ(0, ct_load("max_exited=3"));
	snprintf(cmd, sizeof(cmd), "filter pid %d", getpid());
	ASSERT_EQ(0, ct_control(cmd));
	ct_warm();
	do {
		pids[n] = fork();
		ASSERT_LE(0, pids[n]);
		if (pids[n] == 0)
			_exit(0);
		ASSERT_EQ(pids[n], waitpid(pids[n], &status, 0));
		n++;
	} while (n < 6 || (ct_stat("procs_exited") != 3 && n < 64));
	EXPECT_EQ(3, ct_stat("procs_exited"));
	for (i = 0; i < n; i++) {
		int present = ct_proc(pids[i], &r) == 0;

		EXPECT_EQ(i >= n - 3, present) TH_LOG("child %d of %d", i, n);
		if (present)
			EXPECT_STREQ("exited", r.state);
	}
}

/* "disable" stops counting; "enable" starts it again. */
TEST_F(cow, disable_stops_counting)
{
	size_t ps = ct_page_size();
	char *buf = ct_map_anon(N, false);
	struct ct_row a, b;
	const char *text;

	ASSERT_NE(NULL, buf);
	ct_warm();
	WARM_ROWS(&a, &b);
	ASSERT_EQ(0, ct_control("disable"));
	text = ct_read_file("control");
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "enabled: 0"));
	ct_proc_or_zero(getpid(), &a);
	ct_load_bytes(buf, K * ps, ps);		/* zero page mapped ... */
	ct_touch(buf, K * ps, ps);		/* ... zero fills, not counted */
	ASSERT_EQ(0, ct_control("enable"));
	ct_proc_or_zero(getpid(), &b);
	EXPECT_TRUE(others_zero(&a, &b, 0));
	ct_load_bytes(buf + K * ps, K * ps, ps);
	ct_touch(buf + K * ps, K * ps, ps);	/* counted again */
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_EQ(K, delta(&a, &b, C_ZERO_FILLS));
}

/* "reset" zeroes every counter, in procs and in stats. */
TEST_F(cow, reset_zeroes_counters)
{
	size_t ps = ct_page_size();
	char *buf = ct_map_anon(N, false);
	struct ct_row b;
	int c;

	ASSERT_NE(NULL, buf);
	ct_warm();
	ct_load_bytes(buf, K * ps, ps);		/* zero page mapped ... */
	ct_touch(buf, K * ps, ps);		/* ... K zero fills ... */
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_LE(K, b.v[C_ZERO_FILLS]);	/* ... counted, to be reset */
	EXPECT_LE(K, ct_stat("zero_fills"));
	ASSERT_EQ(0, ct_control("reset"));
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	for (c = 0; c < C_NCOLS; c++) {
		const char *name = ct_col_names[c];

		if (b.v[c] != CT_UNSET)
			EXPECT_EQ(0, b.v[c]) TH_LOG("%s", name);
	}
	EXPECT_EQ(0, ct_stat("zero_fills"));
	EXPECT_EQ(0, ct_stat("copies"));
	EXPECT_EQ(0, ct_stat("reuses"));
}

/* A child that waits, writes K shared pages, reports, waits to exit. */
static pid_t writer_child(char *buf, int p2c, int c2p, int bye)
{
	size_t ps = ct_page_size(), i;
	pid_t pid = fork();

	if (pid)
		return pid;
	ct_warm();
	ct_send(c2p);
	ct_recv(p2c);
	for (i = 0; i < K; i++)
		buf[i * ps] = 2;
	ct_send(c2p);
	ct_recv(bye);
	_exit(0);
}

/*
 * The filter, by pid and by cgroup: two children write K shared pages
 * each; the filter selects the first (by its pid, or by moving it into
 * the variant's cgroup): only it is counted.  The pipes are as in the
 * cow fixture.
 */
FIXTURE(cow_filter) {
	int p2c[2];
	int c2p[2];
	int bye[2];
	pid_t writers[2];	/* the children, killed in teardown */
	char cgroup[128];	/* the cgroup created, removed in teardown */
};

FIXTURE_VARIANT(cow_filter) {
	const char *cgroup;	/* NULL: filter by pid */
};

FIXTURE_VARIANT_ADD(cow_filter, pid) {
	.cgroup = NULL,
};

FIXTURE_VARIANT_ADD(cow_filter, cgroup) {
	.cgroup = "/cowtrace-selftest",
};

FIXTURE_SETUP(cow_filter)
{
	ASSERT_EQ(0, ct_load(""));
	ASSERT_EQ(0, pipe(self->p2c));
	ASSERT_EQ(0, pipe(self->c2p));
	ASSERT_EQ(0, pipe(self->bye));
	if (variant->cgroup) {
		snprintf(self->cgroup, sizeof(self->cgroup), "/sys/fs/cgroup%s",
			 variant->cgroup);
		rmdir(self->cgroup);	/* an empty one left by an older run */
		ASSERT_EQ(0, mkdir(self->cgroup, 0755))
			TH_LOG("mkdir %s: %s", self->cgroup, strerror(errno));
	}
}

FIXTURE_TEARDOWN(cow_filter)
{
	int i;

	/* After a failed assertion too: leave no process or cgroup behind. */
	for (i = 0; i < 2; i++) {
		if (self->writers[i] > 0) {
			kill(self->writers[i], SIGKILL);
			waitpid(self->writers[i], NULL, 0);
		}
	}
	if (self->cgroup[0])
		EXPECT_EQ(0, rmdir(self->cgroup)) TH_LOG("rmdir %s", self->cgroup);
	EXPECT_EQ(0, ct_unload());
}

TEST_F(cow_filter, only_the_selected_writer_is_counted)
{
	char *buf = ct_map_anon(N, true), cmd[128], procs[192];
	struct ct_row a1, b1, a2, b2;
	pid_t c1, c2;
	int fd;

	ASSERT_NE(NULL, buf);
	ct_warm();
	c1 = writer_child(buf, self->p2c[0], self->c2p[1], self->bye[0]);
	self->writers[0] = c1;
	c2 = writer_child(buf, self->p2c[0], self->c2p[1], self->bye[0]);
	self->writers[1] = c2;
	ct_warm();
	WARM_ROWS(&a1, &b1, &a2, &b2);
	ct_recv(self->c2p[0]);
	ct_recv(self->c2p[0]);
	if (variant->cgroup) {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", self->cgroup);
		fd = open(procs, O_WRONLY);
		ASSERT_LE(0, fd);
		snprintf(cmd, sizeof(cmd), "%d", c1);
		ASSERT_LT(0, write(fd, cmd, strlen(cmd)));
		close(fd);
		snprintf(cmd, sizeof(cmd), "filter cgroup %s", variant->cgroup);
	} else {
		snprintf(cmd, sizeof(cmd), "filter pid %d", c1);
	}
	ASSERT_EQ(0, ct_control(cmd));
	ASSERT_EQ(0, ct_proc(c1, &a1));
	ASSERT_EQ(0, ct_proc(c2, &a2));
	ct_send(self->p2c[1]);
	ct_send(self->p2c[1]);
	ct_recv(self->c2p[0]);
	ct_recv(self->c2p[0]);
	ASSERT_EQ(0, ct_proc(c1, &b1));
	ASSERT_EQ(0, ct_proc(c2, &b2));
	EXPECT_EQ(K, delta(&a1, &b1, C_COPIES));
	EXPECT_EQ(0, delta(&a2, &b2, C_COPIES));
	ct_send(self->bye[1]);
	ct_send(self->bye[1]);
	waitpid(c1, NULL, 0);
	waitpid(c2, NULL, 0);
	self->writers[0] = 0;
	self->writers[1] = 0;
	EXPECT_EQ(0, ct_control("filter none"));
}

/* No cowtrace file can be opened by an unprivileged user. */
TEST_F(cow, unprivileged_user_is_refused)
{
	static const char *const files[] = {
		CT_DIR "/stats", CT_DIR "/procs", CT_DIR "/mapcount",
		CT_DIR "/latency", CT_DIR "/probes", CT_DIR "/control",
		CT_DIR "/inspect", CT_PARAM "max_procs", CT_PARAM "max_exited",
		CT_PARAM "fork_scan",
	};
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		size_t i;
		int bad = 0;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			int fd = open(files[i], O_RDONLY);

			if (fd >= 0 || errno != EACCES)
				bad++;
			fd = open(files[i], O_WRONLY);
			if (fd >= 0 || errno != EACCES)
				bad++;
		}
		_exit(bad ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN

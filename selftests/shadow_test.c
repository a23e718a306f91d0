// SPDX-License-Identifier: GPL-2.0
/*
 * The default probe plan against the older one, side by side: with
 * shadow=1 the module runs both and counts each plan's write-fault
 * outcomes apart (the older plan's only there), shown at the end of the
 * probes file.  Under racing threads (many lost races) and a fork and
 * write storm, every outcome must count the same in both.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define RACE_PAGES 256
#define RACE_ROUNDS 4
#define STORM_WORKERS 4
#define STORM_ROUNDS 40
#define STORM_PAGES 64
#define NOUT 7

static const char *const outcomes[NOUT] = {
	"copies", "zero_fills", "file_copies", "unshares", "reuses",
	"shared_writes", "cow_races",
};

/* The shadow section of probes: per outcome, default and older plan. */
static int read_shadow(unsigned long long v[NOUT][2])
{
	const char *text = ct_read_file("probes"), *p;
	char name[32];
	unsigned long long a, b;
	int i, found = 0;

	p = text ? strstr(text, "\nshadow ") : NULL;
	if (!p)
		return -1;
	for (p = strchr(p + 1, '\n'); p && *++p; p = strchr(p, '\n')) {
		if (sscanf(p, "%31s %llu %llu", name, &a, &b) != 3)
			return -1;
		for (i = 0; i < NOUT; i++)
			if (!strcmp(name, outcomes[i])) {
				v[i][0] = a;
				v[i][1] = b;
				found++;
			}
	}
	return found == NOUT ? 0 : -1;
}

struct racer {
	char *buf;
	pthread_barrier_t *bar;
	int id;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	size_t ps = ct_page_size(), i;

	for (i = 0; i < RACE_PAGES; i++) {
		pthread_barrier_wait(r->bar);
		r->buf[i * ps + r->id] = 1;
	}
	return NULL;
}

/* A child whose two threads write each shared page at the same time. */
static int race_round(char *buf)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		pthread_barrier_t bar;
		struct racer r[2];
		pthread_t t[2];
		int i;

		pthread_barrier_init(&bar, NULL, 2);
		for (i = 0; i < 2; i++) {
			r[i] = (struct racer){ .buf = buf, .bar = &bar, .id = i };
			pthread_create(&t[i], NULL, racer_main, &r[i]);
		}
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || status)
		return -1;
	return 0;
}

/* Forks, copies, reuses, zero fills, file copies and shared writes. */
static void storm_worker(void)
{
	size_t ps = ct_page_size(), len = STORM_PAGES * ps;
	char *anon, *priv, *shared;
	int r, fd, cr, status;
	pid_t pid;

	static char page[4096];

	/* In the page cache, so that reads map the file's pages. */
	fd = memfd_create("cowtrace-shadow", 0);
	if (fd < 0)
		_exit(1);
	for (r = 0; r < STORM_PAGES; r++)
		if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
			_exit(1);
	for (r = 0; r < STORM_ROUNDS; r++) {
		anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		priv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			    fd, 0);
		shared = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, 0);
		if (anon == MAP_FAILED || priv == MAP_FAILED ||
		    shared == MAP_FAILED)
			_exit(2);
		madvise(anon, len, MADV_NOHUGEPAGE);
		ct_load_bytes(anon, len / 2, ps);	/* zero page ... */
		ct_touch(anon, len, ps);		/* ... zero fills */
		ct_load_bytes(priv, len / 2, ps);	/* file pages ... */
		ct_touch(priv, len, ps);		/* ... file copies */
		ct_touch(shared, len, ps);
		cr = open("/proc/self/clear_refs", O_WRONLY);
		if (cr < 0 || write(cr, "4", 1) != 1)
			_exit(3);
		close(cr);
		ct_touch(shared, len, ps);		/* shared writes */
		pid = fork();
		if (pid < 0)
			_exit(4);
		if (pid == 0) {
			ct_touch(anon, len / 2, ps);	/* copies */
			_exit(0);
		}
		ct_touch(anon + len / 2, len / 2, ps);	/* copies or reuses */
		if (waitpid(pid, &status, 0) != pid || status)
			_exit(5);
		ct_touch(anon, len / 2, ps);		/* reuses */
		munmap(anon, len);
		munmap(priv, len);
		munmap(shared, len);
	}
	_exit(0);
}

FIXTURE(shadow) {
	int unused;
};

FIXTURE_SETUP(shadow)
{
	ASSERT_EQ(0, ct_load("shadow=1"));
}

FIXTURE_TEARDOWN(shadow)
{
	EXPECT_EQ(0, ct_unload());
}

static void expect_same(struct __test_metadata *_metadata,
			unsigned long long a[NOUT][2],
			unsigned long long b[NOUT][2])
{
	int i;

	for (i = 0; i < NOUT; i++) {
		TH_LOG("%s: default %llu older %llu", outcomes[i],
		       b[i][0] - a[i][0], b[i][1] - a[i][1]);
		EXPECT_EQ(b[i][1] - a[i][1], b[i][0] - a[i][0]);
	}
}

TEST_F_TIMEOUT(shadow, racing_threads, 600)
{
	unsigned long long a[NOUT][2], b[NOUT][2];
	char *buf = ct_map_anon(RACE_PAGES, true);
	int i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, read_shadow(a));
	for (i = 0; i < RACE_ROUNDS; i++)
		ASSERT_EQ(0, race_round(buf));
	ASSERT_EQ(0, read_shadow(b));
	expect_same(_metadata, a, b);
	/* Positive control: the copies were seen. */
	EXPECT_LE(RACE_ROUNDS * RACE_PAGES, b[0][0] - a[0][0]);
}

TEST_F_TIMEOUT(shadow, fork_and_write_storm, 900)
{
	unsigned long long a[NOUT][2], b[NOUT][2];
	int i, status;
	pid_t pid[STORM_WORKERS];

	ASSERT_EQ(0, read_shadow(a));
	for (i = 0; i < STORM_WORKERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0)
			storm_worker();
	}
	for (i = 0; i < STORM_WORKERS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_EQ(0, status);
	}
	ASSERT_EQ(0, read_shadow(b));
	expect_same(_metadata, a, b);
	/* Positive controls: each kind of outcome happened. */
	for (i = 0; i < NOUT; i++)
		if (strcmp(outcomes[i], "unshares") &&
		    strcmp(outcomes[i], "cow_races"))
			EXPECT_LT(0, b[i][0] - a[i][0]);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Swap (issue 17, item 3): anonymous pages swapped out to a zram swap
 * device of the test's own (MADV_PAGEOUT), before and after a fork,
 * then written by either side.  What do_swap_page() does decides what
 * cowtrace may count:
 *
 * - An exclusive swap entry (the page was exclusive when swapped out,
 *   or it is the last reference to the entry and the swap cache can be
 *   dropped): the page is mapped writable by the swap-in fault itself.
 *   No write-protect fault follows: nothing is counted, and pgreuse does
 *   not move either.
 * - A swap entry the fork shared (swap count 2): the swap-in maps the
 *   page read-only from the swap cache and, for a write, calls
 *   do_wp_page(), which cannot reuse it (the other process still holds
 *   the entry): a copy.
 *
 * Every window asserts the process's counters exactly, and the kernel's
 * own pgreuse against cowtrace's reuses + shared_writes (the stats
 * totals, read back to back with /proc/vmstat).  smaps_rollup's Swap
 * shows the pages were out, and came back in.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define N 64
#define K 16

FIXTURE(swap) {
	char dev[32];
	int id;
	bool on;
	bool zram_loaded;	/* the test loaded zram: it unloads it */
	struct ct_puppet pp[2];
	bool started;
	cpu_set_t cpus;		/* the affinity before the test's pin */
	bool pinned;
};

FIXTURE_SETUP(swap)
{
	char cmd[64];

	self->id = -1;
	/*
	 * One CPU for the test and its puppets (forked after this, they
	 * inherit it).  A page faulted in waits in its CPU's LRU batch
	 * until that CPU drains it, and MADV_PAGEOUT drains only the
	 * batch of the CPU it runs on: a puppet that faulted its pages on
	 * one CPU and asked for the page-out on another left a batch's
	 * worth (up to 14 pages on 6.1) out of reach for as long as the
	 * other CPU idled: 52 of 64 out, ten times over, on 6.1 in CI.
	 */
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(self->cpus), &self->cpus));
	{
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
		self->pinned = true;
	}
	/* A device of the test's own. */
	self->id = ct_zram_add("32M", &self->zram_loaded);
	ASSERT_LE(0, self->id) TH_LOG("zram: %s", strerror(-self->id));
	snprintf(self->dev, sizeof(self->dev), "/dev/zram%d", self->id);
	snprintf(cmd, sizeof(cmd), "mkswap %s >/dev/null", self->dev);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, swapon(self->dev, 0)) TH_LOG("swapon: %s", strerror(errno));
	self->on = true;
	ASSERT_EQ(0, ct_load(""));
}

FIXTURE_TEARDOWN(swap)
{
	/* The child first; a puppet never started is not asked. */
	if (self->started && self->pp[1].pid > 0)
		ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	if (self->started)
		ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
	EXPECT_EQ(0, ct_unload());
	if (self->on)
		EXPECT_EQ(0, swapoff(self->dev)) TH_LOG("swapoff: %s", strerror(errno));
	if (self->id >= 0)
		EXPECT_EQ(0, ct_zram_remove(self->id, self->zram_loaded));
	if (self->pinned)
		EXPECT_EQ(0, sched_setaffinity(0, sizeof(self->cpus), &self->cpus));
}

/* Pages of @pid out on swap (smaps_rollup's Swap). */
static long long swapped(pid_t pid)
{
	long long kb = ct_rollup_kb(pid, "Swap");

	return kb < 0 ? -1 : kb * 1024 / (long long)ct_page_size();
}

/*
 * The puppet's N pages swapped out, the precondition of each scenario:
 * MADV_PAGEOUT leaves a page it cannot isolate at that moment (locked,
 * or still in another CPU's LRU batch, which the pin in the fixture's
 * setup rules out), so it is asked again, a few times, until all are out.  No
 * fault is taken and no counter moves meanwhile.  Returns the pages out.
 */
static long long page_out(struct ct_puppet *pp, pid_t pid)
{
	long long out = -1;
	int i;

	for (i = 0; i < 10; i++) {
		if (ct_puppet_do(pp, CT_OP_MADVISE, 0, N, MADV_PAGEOUT))
			return -1;
		out = swapped(pid);
		if (out == N)
			break;
		fprintf(stderr, "# MADV_PAGEOUT: %lld of %d out, again\n", out, N);
		usleep(100000);
	}
	return out;
}

/* A window: both processes' rows, and the pgreuse witness. */
struct snap {
	struct ct_row r[2];
	long long pgreuse;
	long long reuses;	/* stats: reuses + shared_writes */
};

static void take(struct snap *s, pid_t *pids, int n)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->pgreuse = ct_vmstat("pgreuse");
	s->reuses = ct_stat("reuses") + ct_stat("shared_writes");
	for (i = 0; i < n; i++)
		ct_proc_or_zero(pids[i], &s->r[i]);
}

static unsigned long long d(const struct snap *a, const struct snap *b,
			    int who, enum ct_col c)
{
	return b->r[who].v[c] - a->r[who].v[c];
}

/* Process @who's copies and reuses moved by exactly @copies, @reuses. */
static bool exact(const struct snap *a, const struct snap *b, int who,
		  unsigned long long copies, unsigned long long reuses,
		  const char *what)
{
	int c = ct_first_moved(a->r[who].v, b->r[who].v, 1UL << C_COPIES |
			       1UL << C_BYTES_COPIED | 1UL << C_REUSES);
	bool ok = c < 0 && d(a, b, who, C_COPIES) == copies &&
		  d(a, b, who, C_REUSES) == reuses &&
		  d(a, b, who, C_BYTES_COPIED) == copies * ct_page_size() &&
		  b->pgreuse - a->pgreuse == b->reuses - a->reuses;

	fprintf(stderr, "# %s: copies +%llu reuses +%llu (expected %llu, %llu); ",
		what, d(a, b, who, C_COPIES), d(a, b, who, C_REUSES), copies,
		reuses);
	fprintf(stderr, "pgreuse +%lld, reuses+shared_writes +%lld%s%s\n",
		b->pgreuse - a->pgreuse, b->reuses - a->reuses,
		c >= 0 ? "; moved: " : "", c >= 0 ? ct_col_names[c] : "");
	return ok;
}

static pid_t start(struct _test_data_swap *self, char *buf)
{
	pid_t pid;

	ct_puppets_init(self->pp, 2, buf);
	pid = ct_puppet_start(&self->pp[0]);
	self->started = pid > 0;
	/* The observer is shared with the puppet too: nothing of its own. */
	ct_warm();
	return pid;
}

/*
 * Exclusive entries, no fork: a write swaps the page in writable (no
 * write fault); a read swaps it in, and the write after it is what the
 * kernel made of the read: on 6.1 a read-only exclusive page (the
 * write reuses it, pgreuse counts it), on kernels that map an exclusive
 * page writable on a read fault too (6.12) no fault at all.
 */
TEST_F_TIMEOUT(swap, exclusive_entries_swap_in_writable, 600)
{
	char *buf = ct_map_anon(N, false);
	struct snap a, b, c;
	long long reuse;
	pid_t pids[1];

	ASSERT_NE(NULL, buf);
	pids[0] = start(self, buf);
	ASSERT_LT(0, pids[0]);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));
	ASSERT_EQ(N, page_out(&self->pp[0], pids[0]));

	take(&a, pids, 1);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, K));
	take(&b, pids, 1);
	EXPECT_EQ(N - K, swapped(pids[0]));
	EXPECT_TRUE(exact(&a, &b, 0, 0, 0, "exclusive, written"));

	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_READ, K, 2 * K));
	EXPECT_EQ(N - 2 * K, swapped(pids[0]));
	take(&b, pids, 1);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, K, 2 * K));
	take(&c, pids, 1);
	reuse = c.pgreuse - b.pgreuse;
	/* The kernel's own count says which; cowtrace must say the same. */
	EXPECT_TRUE(reuse == 0 || reuse == K) TH_LOG("pgreuse +%lld", reuse);
	EXPECT_TRUE(exact(&b, &c, 0, 0, reuse, "exclusive, read then written"));
}

/*
 * Swapped out before the fork: both processes hold each swap entry.
 * The first to write a page copies it (the swap cache page stays for
 * the other's entry); the second then holds the last reference, the
 * swap cache is dropped and the page mapped writable: no fault.
 */
TEST_F_TIMEOUT(swap, shared_entries_first_writer_copies, 600)
{
	char *buf = ct_map_anon(N, false);
	struct snap a, b, c, e;
	pid_t pids[2];

	ASSERT_NE(NULL, buf);
	pids[0] = start(self, buf);
	ASSERT_LT(0, pids[0]);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));
	ASSERT_EQ(N, page_out(&self->pp[0], pids[0]));
	pids[1] = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, pids[1]);
	ASSERT_EQ(N, swapped(pids[1]));

	take(&a, pids, 2);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, K));
	take(&b, pids, 2);
	EXPECT_EQ(N - K, swapped(pids[1]));
	EXPECT_TRUE(exact(&a, &b, 1, K, 0, "shared entry, child first"));
	EXPECT_TRUE(exact(&a, &b, 0, 0, 0, "shared entry, child first (parent)"));

	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, K));
	take(&c, pids, 2);
	EXPECT_EQ(N - K, swapped(pids[0]));
	EXPECT_TRUE(exact(&b, &c, 0, 0, 0, "last entry, parent second"));

	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, K, 2 * K));
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, K, 2 * K));
	take(&e, pids, 2);
	EXPECT_TRUE(exact(&c, &e, 0, K, 0, "shared entry, parent first"));
	EXPECT_TRUE(exact(&c, &e, 1, 0, 0, "last entry, child second"));
}

/*
 * Swapped out after the fork: pages still shared by it are not paged
 * out (MADV_PAGEOUT leaves pages other processes map); those the child
 * copied are the parent's alone.  Written by the parent: swapped in
 * writable, no fault; the pages still shared and resident: copies.
 */
TEST_F_TIMEOUT(swap, swapped_after_fork, 600)
{
	char *buf = ct_map_anon(N, false);
	struct snap a, b, c;
	pid_t pids[2];

	ASSERT_NE(NULL, buf);
	pids[0] = start(self, buf);
	ASSERT_LT(0, pids[0]);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, N));
	pids[1] = ct_puppet_do(&self->pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, pids[1]);
	take(&a, pids, 2);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[1], CT_OP_WRITE, 0, K));
	take(&b, pids, 2);
	EXPECT_TRUE(exact(&a, &b, 1, K, 0, "after fork, child copies"));
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_MADVISE, 0, N, MADV_PAGEOUT));
	EXPECT_EQ(K, swapped(pids[0]));
	EXPECT_EQ(0, swapped(pids[1]));

	take(&b, pids, 2);
	ASSERT_EQ(0, ct_puppet_do(&self->pp[0], CT_OP_WRITE, 0, 2 * K));
	take(&c, pids, 2);
	EXPECT_EQ(0, swapped(pids[0]));
	EXPECT_TRUE(exact(&b, &c, 0, K, 0, "parent: K swapped in, K shared"));
}

TEST_HARNESS_MAIN

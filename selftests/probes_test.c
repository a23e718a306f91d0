// SPDX-License-Identifier: GPL-2.0
/*
 * Hook runs per event, exactly: the probes file's "tracked" column counts
 * each handler run in a process being counted (the filter selects one
 * puppet, or this test's own process for the mappings it makes itself),
 * and every measured window holds only the faults the test asked for.
 * For the default plan:
 *   COW copy, zero fill, file copy in do_wp_page: 2 (wp_entry + commit)
 *   reuse, shared write: 2 (wp_entry + reuse)
 *   private file copy (do_cow_fault): 2 (file_fault entry + return)
 *   first-touch anonymous write, read of the zero page, read of cached
 *   file pages: 0
 * and, for comparison, the older plan (legacy_probes=1): 4 per copy and
 * zero fill, 2 per reuse, 1 or 2 per first touch.  Each count of hook
 * runs comes with the counter it pays for, so a window where no hook ran
 * because nothing was counted fails too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64
#define K 16
#define MAX_ROLES 32

struct hits {
	int n;
	char role[MAX_ROLES][32];
	char mech[MAX_ROLES][32];
	char sym[MAX_ROLES][64];
	char status[MAX_ROLES][16];
	unsigned long long tracked[MAX_ROLES];
	unsigned long long all[MAX_ROLES];	/* the hits column: any process */
};

static int read_hits(struct hits *h)
{
	const char *text = ct_read_file("probes"), *p;
	unsigned long long hits;

	if (!text)
		return -1;
	memset(h, 0, sizeof(*h));
	p = strchr(text, '\n');		/* the header */
	for (; p && *++p && *p != '\n' && h->n < MAX_ROLES; p = strchr(p, '\n')) {
		if (sscanf(p, "%31s %63s %31s %15s %llu %llu", h->role[h->n],
			   h->sym[h->n], h->mech[h->n], h->status[h->n], &hits,
			   &h->tracked[h->n]) != 6)
			return -1;
		h->all[h->n] = hits;
		h->n++;
	}
	return h->n ? 0 : -1;
}

static unsigned long long role_delta(const struct hits *a,
				     const struct hits *b, const char *role)
{
	int i;

	for (i = 0; i < b->n; i++)
		if (!strcmp(b->role[i], role))
			return b->tracked[i] - a->tracked[i];
	return ~0ULL;
}

/* Runs of every hook on the fault path (all but the tracepoints). */
static unsigned long long fault_delta(const struct hits *a,
				      const struct hits *b)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->mech[i], "tracepoint"))
			sum += b->tracked[i] - a->tracked[i];
	return sum;
}

/*
 * The older plan's copy-path probe is wp_page_copy on 6.1; on 6.12 it is
 * the page allocation, which first touches and do_cow_fault also run.
 */
static bool legacy_copy_path_is_wp_page_copy(const struct hits *h)
{
	int i;

	for (i = 0; i < h->n; i++)
		if (!strcmp(h->role[i], "copy_path"))
			return !strcmp(h->sym[i], "wp_page_copy");
	return false;
}

static void log_delta(const struct hits *a, const struct hits *b,
		      const char *what)
{
	int i;

	fprintf(stderr, "# %s:", what);
	for (i = 0; i < b->n; i++)
		if (b->tracked[i] != a->tracked[i])
			fprintf(stderr, " %s=%llu", b->role[i],
				b->tracked[i] - a->tracked[i]);
	fprintf(stderr, "\n");
}

static unsigned long long delta(const struct ct_row *a, const struct ct_row *b,
				enum ct_col c)
{
	return b->v[c] - a->v[c];
}

static void snap(pid_t pid, struct ct_row *row)
{
	if (ct_proc(pid, row) == -ENOENT)
		memset(row, 0, sizeof(*row));
}

FIXTURE(probes) {
	bool legacy;
};

FIXTURE_VARIANT(probes) {
	const char *params;
	bool legacy;
	const char *entry_mech;	/* wp_entry's mechanism; its "+caller" for the commit points */
};

FIXTURE_VARIANT_ADD(probes, new_plan) {
	.params = "",
	.legacy = false,
	.entry_mech = "ftrace",
};

/* The same hooks as kprobes: the fallback, which must count the same. */
FIXTURE_VARIANT_ADD(probes, new_plan_kprobes) {
	.params = "ftrace_hooks=0",
	.legacy = false,
	.entry_mech = "kprobe",
};

FIXTURE_VARIANT_ADD(probes, legacy_plan) {
	.params = "legacy_probes=1",
	.legacy = true,
};

FIXTURE_SETUP(probes)
{
	static const char *const callers[] = { "commit", "reuse", "race" };
	char mech[40];
	struct hits h;
	size_t i;
	int j;

	ASSERT_EQ(0, ct_load(variant->params));
	self->legacy = variant->legacy;
	ASSERT_EQ(0, read_hits(&h));
	/* The plan asked for is the one in use (row 0: wp_entry). */
	ASSERT_STREQ("wp_entry", h.role[0]);
	ASSERT_STREQ(variant->legacy ? "unused" : "attached", h.status[0]);
	if (variant->legacy)
		return;
	/* Each entry hook runs by the mechanism asked for, none other. */
	ASSERT_STREQ(variant->entry_mech, h.mech[0]);
	snprintf(mech, sizeof(mech), "%s+caller", variant->entry_mech);
	for (i = 0; i < ARRAY_SIZE(callers); i++)
		for (j = 0; j < h.n; j++)
			if (!strcmp(h.role[j], callers[i]))
				EXPECT_STREQ(mech, h.mech[j]) TH_LOG("%s", callers[i]);
}

FIXTURE_TEARDOWN(probes)
{
	EXPECT_EQ(0, ct_unload());
}

/*
 * First touch, copy, reuse and read, in puppets: the parent writes N
 * fresh pages (first touch), forks; the child writes K of them (copies),
 * reads N (no fault: already mapped), then the parent writes K (reuses).
 */
TEST_F(probes, copy_reuse_first_touch)
{
	char *buf = ct_map_anon(N, false);
	struct ct_row pa, pb, ca, cb;
	struct ct_puppet pp[2];
	struct hits a, b;
	pid_t parent, child;
	char cmd[64];
	bool six_one;

	ASSERT_NE(NULL, buf);
	ct_puppets_init(pp, 2, buf);
	parent = ct_puppet_start(&pp[0]);
	ASSERT_LT(0, parent);
	snprintf(cmd, sizeof(cmd), "filter pid %d", parent);
	ASSERT_EQ(0, ct_control(cmd));

	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, N));
	ASSERT_EQ(0, read_hits(&b));
	log_delta(&a, &b, "first touch x64");
	if (!self->legacy) {
		EXPECT_EQ(0, fault_delta(&a, &b));
	} else {
		/* 6.1: the rmap kprobe; 6.12: and the allocation's. */
		six_one = legacy_copy_path_is_wp_page_copy(&b);
		EXPECT_EQ((six_one ? 1 : 2) * N, fault_delta(&a, &b));
	}

	child = ct_puppet_do(&pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	snap(child, &ca);
	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, read_hits(&b));
	ASSERT_EQ(0, ct_proc(child, &cb));
	log_delta(&a, &b, "copy x16");
	ASSERT_EQ(K, delta(&ca, &cb, C_COPIES));
	if (!self->legacy) {
		EXPECT_EQ(K, role_delta(&a, &b, "wp_entry"));
		EXPECT_EQ(K, role_delta(&a, &b, "commit"));
		EXPECT_EQ(2 * K, fault_delta(&a, &b));
	} else {
		/* kretprobe entry and return, copy path, new anon rmap */
		EXPECT_EQ(4 * K, fault_delta(&a, &b));
	}

	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_READ, 0, N));
	ASSERT_EQ(0, read_hits(&b));
	EXPECT_EQ(0, fault_delta(&a, &b));

	snap(parent, &pa);
	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, read_hits(&b));
	ASSERT_EQ(0, ct_proc(parent, &pb));
	log_delta(&a, &b, "reuse x16");
	ASSERT_EQ(K, delta(&pa, &pb, C_REUSES));
	if (!self->legacy) {
		EXPECT_EQ(K, role_delta(&a, &b, "wp_entry"));
		EXPECT_EQ(K, role_delta(&a, &b, "reuse"));
	}
	EXPECT_EQ(2 * K, fault_delta(&a, &b));

	ct_puppet_do(&pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&pp[0], CT_OP_QUIT, 0, 0);
	EXPECT_EQ(0, ct_control("filter none"));
}

/* Reads of fresh memory map the zero page (0 runs); writes zero-fill. */
TEST_F(probes, zero_page_read_then_fill)
{
	char *buf = ct_map_anon(N, false);
	struct ct_puppet pp[1];
	struct ct_row ra, rb;
	struct hits a, b;
	pid_t pid;
	char cmd[64];

	ASSERT_NE(NULL, buf);
	ct_puppets_init(pp, 1, buf);
	pid = ct_puppet_start(&pp[0]);
	ASSERT_LT(0, pid);
	snprintf(cmd, sizeof(cmd), "filter pid %d", pid);
	ASSERT_EQ(0, ct_control(cmd));

	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_READ, 0, K));
	ASSERT_EQ(0, read_hits(&b));
	EXPECT_EQ(0, fault_delta(&a, &b));

	snap(pid, &ra);
	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, read_hits(&b));
	ASSERT_EQ(0, ct_proc(pid, &rb));
	log_delta(&a, &b, "zero fill x16");
	ASSERT_EQ(K, delta(&ra, &rb, C_ZERO_FILLS));
	EXPECT_EQ((self->legacy ? 4 : 2) * K, fault_delta(&a, &b));

	ct_puppet_do(&pp[0], CT_OP_QUIT, 0, 0);
	EXPECT_EQ(0, ct_control("filter none"));
}

/* A memfd of N pages, in the page cache (written with write()). */
static int cached_memfd(size_t len)
{
	static char page[1 << 16];
	int fd = memfd_create("cowtrace-probes", 0);
	size_t done;

	if (fd < 0)
		return -1;
	memset(page, 7, sizeof(page));
	for (done = 0; done < len; done += sizeof(page))
		if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
			return -1;
	return fd;
}

/*
 * Private file pages, in this test's own process: a first write copies
 * in do_cow_fault (finish_fault's 2 runs); reads map cached pages by
 * fault-around (0 runs); a write after a read copies in do_wp_page (2).
 */
TEST_F(probes, private_file_copies)
{
	size_t ps = ct_page_size(), len = N * ps, i;
	struct ct_row ra, rb;
	struct hits a, b;
	char cmd[64], *map;
	int fd;

	fd = cached_memfd(len);
	ASSERT_LE(0, fd);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	snprintf(cmd, sizeof(cmd), "filter pid %d", getpid());
	ASSERT_EQ(0, ct_control(cmd));
	ct_warm();
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	read_hits(&a);
	read_hits(&b);

	snap(getpid(), &ra);
	ASSERT_EQ(0, read_hits(&a));
	for (i = 0; i < K; i++)
		map[i * ps] = 1;
	ASSERT_EQ(0, read_hits(&b));
	ASSERT_EQ(0, ct_proc(getpid(), &rb));
	log_delta(&a, &b, "do_cow_fault x16");
	ASSERT_EQ(K, delta(&ra, &rb, C_FILE_COPIES));
	EXPECT_EQ(2 * K, role_delta(&a, &b, "file_fault"));
	if (!self->legacy) {
		EXPECT_EQ(2 * K, fault_delta(&a, &b));
	} else {
		/* and the rmap, and on 6.12 the allocation */
		EXPECT_EQ((legacy_copy_path_is_wp_page_copy(&b) ? 3 : 4) * K,
			  fault_delta(&a, &b));
	}

	ASSERT_EQ(0, read_hits(&a));
	ct_load_bytes(map + (N - K) * ps, K * ps, ps);
	ASSERT_EQ(0, read_hits(&b));
	log_delta(&a, &b, "read x16");
	EXPECT_EQ(0, fault_delta(&a, &b));

	snap(getpid(), &ra);
	ASSERT_EQ(0, read_hits(&a));
	for (i = N - K; i < N; i++)
		map[i * ps] = 1;
	ASSERT_EQ(0, read_hits(&b));
	ASSERT_EQ(0, ct_proc(getpid(), &rb));
	log_delta(&a, &b, "do_wp_page file copy x16");
	ASSERT_EQ(K, delta(&ra, &rb, C_FILE_COPIES));
	EXPECT_EQ((self->legacy ? 4 : 2) * K, fault_delta(&a, &b));

	munmap(map, len);
	close(fd);
	EXPECT_EQ(0, ct_control("filter none"));
}

/*
 * Shared writes: clearing soft-dirty bits write-protects a shared
 * mapping, so each next write is a write-notify fault that makes the
 * PTE writable in place (2 runs in the new plan, as in the old).
 */
TEST_F(probes, shared_writes)
{
	size_t ps = ct_page_size(), len = N * ps, i;
	struct ct_row ra, rb;
	struct hits a, b;
	char cmd[64], *map;
	int fd, cr;

	fd = cached_memfd(len);
	ASSERT_LE(0, fd);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 1, len);
	cr = open("/proc/self/clear_refs", O_WRONLY);
	ASSERT_LE(0, cr);
	ASSERT_EQ(1, write(cr, "4", 1));
	close(cr);
	snprintf(cmd, sizeof(cmd), "filter pid %d", getpid());
	ASSERT_EQ(0, ct_control(cmd));
	ct_warm();
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	read_hits(&a);
	read_hits(&b);

	snap(getpid(), &ra);
	ASSERT_EQ(0, read_hits(&a));
	for (i = 0; i < K; i++)
		map[i * ps] = 2;
	ASSERT_EQ(0, read_hits(&b));
	ASSERT_EQ(0, ct_proc(getpid(), &rb));
	log_delta(&a, &b, "shared write x16");
	ASSERT_EQ(K, delta(&ra, &rb, C_SHARED_WRITES));
	EXPECT_EQ(2 * K, fault_delta(&a, &b));
	if (!self->legacy)
		EXPECT_EQ(K, role_delta(&a, &b, "reuse"));

	munmap(map, len);
	close(fd);
	EXPECT_EQ(0, ct_control("filter none"));
}

/*
 * "disable" disarms every hook on the fault path: while disabled, a
 * child's K copies run no handler at all (the hits column, which counts
 * every process, does not move) and the roles read "disarmed"; once
 * enabled again, K more copies are counted with K wp_entry runs (the
 * positive control).
 */
TEST_F(probes, disable_disarms_the_fault_path)
{
	char *buf = ct_map_anon(N, false);
	unsigned long long moved = 0;
	struct ct_row ca, cb;
	struct ct_puppet pp[2];
	struct hits a, b;
	pid_t parent, child;
	int i, disarmed = 0;

	ASSERT_NE(NULL, buf);
	ct_puppets_init(pp, 2, buf);
	parent = ct_puppet_start(&pp[0]);
	ASSERT_LT(0, parent);
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, N));
	child = ct_puppet_do(&pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	snap(child, &ca);

	ASSERT_EQ(0, ct_control("disable"));
	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, read_hits(&b));
	for (i = 0; i < b.n; i++) {
		if (!strcmp(b.mech[i], "tracepoint") || strcmp(b.status[i], "disarmed"))
			continue;
		disarmed++;
		moved += b.all[i] - a.all[i];
	}
	ASSERT_EQ(0, ct_proc(child, &cb));
	EXPECT_EQ(0, delta(&ca, &cb, C_COPIES));
	EXPECT_EQ(0, moved);
	/* wp_entry, commit, reuse, race, file, THP and hugetlb, or the older plan's. */
	EXPECT_LE(5, disarmed);
	for (i = 0; i < b.n; i++)
		if (strcmp(b.mech[i], "tracepoint"))
			EXPECT_STRNE("attached", b.status[i]);

	ASSERT_EQ(0, ct_control("enable"));
	ASSERT_EQ(0, read_hits(&a));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, K, 2 * K));
	ASSERT_EQ(0, read_hits(&b));
	snap(child, &ca);
	EXPECT_EQ(K, delta(&cb, &ca, C_COPIES));
	if (!self->legacy)
		EXPECT_EQ(K, role_delta(&a, &b, "wp_entry"));
	for (i = 0; i < b.n; i++)
		EXPECT_STRNE("disarmed", b.status[i]);
	ct_puppet_do(&pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&pp[0], CT_OP_QUIT, 0, 0);
}

/* The fork-scan probe is attached only while fork_scan is 1. */
TEST_F(probes, fork_scan_attached_only_while_on)
{
	const char *text;

	text = ct_read_file("probes");
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, strstr(text, "fork_scan "));
	EXPECT_NE(NULL, strstr(strstr(text, "fork_scan "), " off "));
	ASSERT_EQ(0, ct_write_file(CT_PARAM "fork_scan", "1"));
	text = ct_read_file("probes");
	EXPECT_NE(NULL, strstr(strstr(text, "fork_scan "), " attached "));
	ASSERT_EQ(0, ct_write_file(CT_PARAM "fork_scan", "0"));
	text = ct_read_file("probes");
	EXPECT_NE(NULL, strstr(strstr(text, "fork_scan "), " off "));
}

TEST_HARNESS_MAIN

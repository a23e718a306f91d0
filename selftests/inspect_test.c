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
#include <sys/mman.h>
#include <sys/wait.h>
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

/* Write @cmd to inspect; 0 or -errno. */
static int inspect_set(const char *cmd)
{
	int fd = open(CT_DIR "/inspect", O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, cmd, strlen(cmd)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The row of @pid's VMA that contains @addr. */
static int inspect_vma(pid_t pid, const void *addr, struct vma_row *r)
{
	unsigned long a = (unsigned long)addr;
	char cmd[32], perms[8];
	const char *text, *p;

	snprintf(cmd, sizeof(cmd), "%d", pid);
	if (inspect_set(cmd))
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
	if (inspect_set(cmd))
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
	char cmd[32], big[100];
	pid_t pid;

	EXPECT_EQ(-EINVAL, inspect_set("0"));
	EXPECT_EQ(-EINVAL, inspect_set("-1"));
	EXPECT_EQ(-EINVAL, inspect_set("abc"));
	EXPECT_EQ(-EINVAL, inspect_set("1 vma zz"));
	EXPECT_EQ(-EINVAL, inspect_set("2"));		/* kthreadd */
	EXPECT_EQ(-ESRCH, inspect_set("4000000"));
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(-E2BIG, inspect_set(big));

	/* A process that exits after being chosen: reads fail, no crash. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	snprintf(cmd, sizeof(cmd), "%d", pid);
	ASSERT_EQ(0, inspect_set(cmd));
	ASSERT_NE(NULL, ct_read_file("inspect"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	EXPECT_EQ(NULL, ct_read_file("inspect"));
	EXPECT_EQ(ESRCH, errno);
}

TEST_HARNESS_MAIN

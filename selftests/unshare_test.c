// SPDX-License-Identifier: GPL-2.0
/*
 * Unshare faults (issue 17, item 7), taken by a real read-only pin: an
 * O_DIRECT write from anonymous memory that a fork shares.  The block
 * layer takes the user pages of a direct write with
 * iov_iter_extract_pages(), FOLL_PIN without FOLL_WRITE, since 6.5:
 * GUP must not pin a shared anonymous page read-only (the pin would see
 * a later copy-on-write replace it), so it first faults it with
 * FAULT_FLAG_UNSHARE, and do_wp_page() gives the writer a copy of its
 * own, mapped read-only.  Older kernels (6.1) took the same pages with
 * a plain reference (FOLL_GET): no unshare.
 *
 * The kernel's own witness is the child's smaps: each page the parent
 * unshared leaves the child's old page mapped by the child alone, so its
 * Private_Dirty grows by a page.  Then the parent writes the same pages:
 * a page it unshared is its own (a reuse, pgreuse witnesses it), a page
 * it did not is still shared (a copy): the positive control on both
 * kernels.  The device is a zram disk of the test's own; both probe
 * plans are run.
 *
 * The upstream mm/cow tests take the same path through the kernel's
 * gup_test device (CONFIG_GUP_TEST, in the debug kernel of `make
 * check-debug`, not in Debian's): a longterm read-only pin,
 * pin_user_pages() and pin_user_pages_fast() (which refuses a page that
 * must be unshared and falls back to the first), unshares on every
 * kernel.  Without the device that test is skipped (an expected skip on
 * Debian's kernels, see scripts/check; not in check-debug).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64
#define K 16

FIXTURE(unshare) {
	int id;
	bool zram_loaded;
	int fd;
	struct ct_puppet pp[2];
	bool started;
};

/* Both plans count unshares: the default one and legacy_probes=1. */
FIXTURE_VARIANT(unshare) {
	const char *params;
};

FIXTURE_VARIANT_ADD(unshare, default_plan) {
	.params = "",
};

FIXTURE_VARIANT_ADD(unshare, legacy_plan) {
	.params = "legacy_probes=1",
};

FIXTURE_SETUP(unshare)
{
	char dev[32];

	self->fd = -1;
	self->id = ct_zram_add("16M", &self->zram_loaded);
	ASSERT_LE(0, self->id) TH_LOG("zram: %s", strerror(-self->id));
	snprintf(dev, sizeof(dev), "/dev/zram%d", self->id);
	/* Opened here: the puppets, forked later, inherit it. */
	self->fd = open(dev, O_WRONLY | O_DIRECT);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", dev, strerror(errno));
	/*
	 * pwrite() bound now: the binary binds lazily, and the puppet's
	 * first call would write its GOT slot, a page the fork shares (one
	 * copy more, seen in the child's Private_Dirty too).
	 */
	ASSERT_EQ(0, pwrite(self->fd, dev, 0, 0));
	ASSERT_EQ(0, ct_load(variant->params));
}

FIXTURE_TEARDOWN(unshare)
{
	if (self->started && self->pp[1].pid > 0)
		ct_puppet_do(&self->pp[1], CT_OP_QUIT, 0, 0);
	if (self->started)
		ct_puppet_do(&self->pp[0], CT_OP_QUIT, 0, 0);
	EXPECT_EQ(0, ct_unload());
	if (self->fd >= 0)
		close(self->fd);
	if (self->id >= 0)
		EXPECT_EQ(0, ct_zram_remove(self->id, self->zram_loaded));
}

/* @pid's Private_Dirty, in pages. */
static long long private_dirty(pid_t pid)
{
	long long kb = ct_rollup_kb(pid, "Private_Dirty");

	return kb < 0 ? -1 : kb * 1024 / (long long)ct_page_size();
}

static unsigned long long d(const struct ct_row *a, const struct ct_row *b,
			    enum ct_col c)
{
	return b->v[c] - a->v[c];
}

/*
 * The parent puppet (its child forked, both sharing pages [0, N)) pins
 * or writes out pages [@at, @at + K) with @op on @fd, then writes them:
 * @want unshares, each witnessed by the child's Private_Dirty, then
 * @want reuses (pgreuse) and K - @want copies.
 */
static void unshare_then_write(struct __test_metadata *_metadata,
			       struct ct_puppet *pp, pid_t child, int at,
			       enum ct_op op, int fd, unsigned long long want)
{
	pid_t parent = pp[0].pid;
	struct ct_row pa, pb, pc, ca, cb;
	long long dirty_a, dirty_b, reuse_a, reuse_b;
	size_t ps = ct_page_size();
	long ret, ok = op == CT_OP_PWRITE ? (long)(K * ps) : 0;
	int moved;

	ASSERT_EQ(0, ct_proc_or_zero(parent, &pa));
	ASSERT_EQ(0, ct_proc_or_zero(child, &ca));
	dirty_a = private_dirty(child);
	ret = ct_puppet_do(&pp[0], op, at, at + K, fd);
	ASSERT_EQ(ok, ret) TH_LOG("%c: %s", op, strerror((int)-ret));
	ASSERT_EQ(0, ct_proc_or_zero(parent, &pb));
	dirty_b = private_dirty(child);
	TH_LOG("%s of %d shared pages: unshares +%llu (expected %llu), %s +%lld pages",
	       op == CT_OP_PWRITE ? "direct write" :
	       op == CT_OP_PIN ? "R/O longterm pin" : "R/O longterm pin (fast)",
	       K, d(&pa, &pb, C_UNSHARES), want, "the child's Private_Dirty",
	       dirty_b - dirty_a);
	EXPECT_EQ(want, d(&pa, &pb, C_UNSHARES));
	EXPECT_EQ((long long)d(&pa, &pb, C_UNSHARES), dirty_b - dirty_a);
	EXPECT_EQ(want * ps, d(&pa, &pb, C_BYTES_COPIED));
	moved = ct_first_moved(pa.v, pb.v, 1UL << C_UNSHARES | 1UL << C_BYTES_COPIED);
	EXPECT_EQ(-1, moved) TH_LOG("moved: %s", ct_col_names[moved]);

	/* The parent writes them: its own now (reuse), or still shared (copy). */
	reuse_a = ct_vmstat("pgreuse");
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, at, at + K));
	reuse_b = ct_vmstat("pgreuse");
	ASSERT_EQ(0, ct_proc_or_zero(parent, &pc));
	TH_LOG("then written: copies +%llu reuses +%llu (pgreuse +%lld)",
	       d(&pb, &pc, C_COPIES), d(&pb, &pc, C_REUSES), reuse_b - reuse_a);
	EXPECT_EQ(K - want, d(&pb, &pc, C_COPIES));
	EXPECT_EQ(want, d(&pb, &pc, C_REUSES));
	EXPECT_EQ((long long)want, reuse_b - reuse_a);
	moved = ct_first_moved(pb.v, pc.v, 1UL << C_COPIES | 1UL << C_REUSES |
			       1UL << C_BYTES_COPIED);
	EXPECT_EQ(-1, moved) TH_LOG("moved: %s", ct_col_names[moved]);

	/* The child did nothing, and nothing was counted for it. */
	ASSERT_EQ(0, ct_proc_or_zero(child, &cb));
	moved = ct_first_moved(ca.v, cb.v, 0);
	EXPECT_EQ(-1, moved) TH_LOG("child moved: %s", ct_col_names[moved]);
}

/*
 * Puppet 0 (@started once it runs) writes pages [0, N) of @buf, then
 * forks puppet 1; returns its pid, or -1.
 */
static pid_t share(struct ct_puppet *pp, bool *started, char *buf)
{
	ct_puppets_init(pp, 2, buf);
	*started = ct_puppet_start(&pp[0]) > 0;
	if (!*started)
		return -1;
	ct_warm();
	if (ct_puppet_do(&pp[0], CT_OP_WRITE, 0, N))
		return -1;
	return ct_puppet_do(&pp[0], CT_OP_FORK, 1, 0);
}

TEST_F_TIMEOUT(unshare, direct_write_from_fork_shared_memory, 300)
{
	char *buf = ct_map_anon(N, false);
	pid_t child;

	ASSERT_NE(NULL, buf);
	child = share(self->pp, &self->started, buf);
	ASSERT_LT(0, child);
	unshare_then_write(_metadata, self->pp, child, 0, CT_OP_PWRITE, self->fd,
			   ct_kernel_at_least(6, 5) ? K : 0);
}

#define GUP_TEST "/sys/kernel/debug/gup_test"

TEST_F_TIMEOUT(unshare, longterm_ro_pin_of_fork_shared_memory, 300)
{
	char *buf = ct_map_anon(N, false);
	struct stat st;
	pid_t child;
	int fd;

	if (stat(GUP_TEST, &st))
		SKIP(return, "no %s: this kernel has no CONFIG_GUP_TEST", GUP_TEST);
	fd = open(GUP_TEST, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", GUP_TEST, strerror(errno));
	/*
	 * ioctl() bound now, before the puppets are forked (as pwrite() in
	 * the setup): the first call through the lazily bound PLT writes
	 * its GOT slot, a page the fork shares: the parent's one copy more.
	 */
	ASSERT_EQ(-1, ioctl(-1, 0));
	ASSERT_NE(NULL, buf);
	child = share(self->pp, &self->started, buf);
	ASSERT_LT(0, child);
	unshare_then_write(_metadata, self->pp, child, 0, CT_OP_PIN, fd, K);
	unshare_then_write(_metadata, self->pp, child, K, CT_OP_PIN_FAST, fd, K);
	close(fd);
}

TEST_HARNESS_MAIN

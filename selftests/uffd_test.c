// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd write-protect (issue 17 item 4): a write to a page under
 * UFFDIO_WRITEPROTECT is handed to user space, and that fault is no
 * copy-on-write: cowtrace counts nothing for it.  Once the handler lifts
 * the protection (UFFDIO_WRITEPROTECT with mode 0, which wakes the
 * writer), the write is counted as what the kernel then does:
 *
 *   - a page only this process maps (anonymous-exclusive): either the
 *     kernel makes the PTE writable as it lifts the protection (6.12:
 *     MM_CP_TRY_CHANGE_WRITABLE) and the write takes no fault, or it
 *     faults and reuses the page; whichever it is, the kernel's own
 *     pgreuse moves with cowtrace's reuses, and a plain reuse of the same
 *     pages afterwards (a fork whose child exits) is the positive control;
 *   - a page shared with a child since fork(): the write copies it, one
 *     copy per page, and the child's page stays.
 *
 * A writer thread takes the faults; the main thread is the handler.  The
 * handler reads the process's row while the writer waits in the handed-
 * over fault, and again when the write is done.
 *
 * As root userfaultfd(2) is open to this test whatever
 * vm.unprivileged_userfaultfd says (it only limits processes without
 * CAP_SYS_PTRACE); the value is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 32		/* pages of the region */
#define K 8		/* pages written under protection */

static long long vm_pgreuse(void)
{
	static char buf[16384];
	char *p;
	ssize_t n;
	int fd = open("/proc/vmstat", O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\npgreuse ");
	return p ? strtoll(p + 9, NULL, 10) : -1;
}

struct writer {
	char *buf;
	int go[2];	/* page numbers to write, one byte each */
	int done[2];	/* one byte per page written */
	pthread_t thread;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char i;

	ct_warm_rseq();
	for (;;) {
		if (read(w->go[0], &i, 1) != 1 || i == 0xff)
			return NULL;
		w->buf[i * ct_page_size()] = 0x77;
		ct_send(w->done[1]);
	}
}

FIXTURE(uffd) {
	int uffd;
	struct writer w;
	pid_t child;
	char *buf;
};

FIXTURE_SETUP(uffd)
{
	struct uffdio_api api = { .api = UFFD_API };
	char text[32] = "";
	int fd;

	self->uffd = -1;
	ASSERT_EQ(0, ct_load(""));
	fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY);
	if (fd >= 0) {
		if (read(fd, text, sizeof(text) - 1) < 0)
			text[0] = '\0';
		close(fd);
	}
	TH_LOG("vm.unprivileged_userfaultfd = %.*s (root: not needed)",
	       (int)strcspn(text, "\n"), text);
	self->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, self->uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_API, &api)) TH_LOG("UFFDIO_API: %s", strerror(errno));
	self->buf = ct_map_anon(N, true);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, pipe(self->w.go));
	ASSERT_EQ(0, pipe(self->w.done));
	self->w.buf = self->buf;
}

FIXTURE_TEARDOWN(uffd)
{
	unsigned char stop = 0xff;

	if (self->w.thread) {
		if (write(self->w.go[1], &stop, 1) == 1)
			pthread_join(self->w.thread, NULL);
	}
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->uffd >= 0)
		close(self->uffd);
	EXPECT_EQ(0, ct_unload());
}

/* Register the region for write-protect faults and protect all of it. */
static int protect_all(struct _test_data_uffd *self)
{
	size_t len = N * ct_page_size();
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)self->buf, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = { .start = (unsigned long)self->buf, .len = len },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	if (ioctl(self->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)))
		return -EOPNOTSUPP;
	if (ioctl(self->uffd, UFFDIO_WRITEPROTECT, &wp))
		return -errno;
	return 0;
}

/* The next message: a write-protect fault at @addr; 0 or -1. */
static int wait_wp_fault(int uffd, unsigned long addr)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, -1) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -1;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
	    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) ||
	    (msg.arg.pagefault.address & ~(ct_page_size() - 1)) != addr)
		return -1;
	return 0;
}

/* Lift the protection of one page; the writer is woken. */
static int unprotect(int uffd, unsigned long addr)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = addr, .len = ct_page_size() },
		.mode = 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/*
 * K protected writes by the writer thread.  For each: nothing counted
 * while the fault waits in user space; then the write, counted per
 * @copies_each / reuses (pgreuse decides which, for reuses).  Returns
 * through @reuses and @pgreuse the sums over the K writes.
 */
static void protected_writes(struct __test_metadata *_metadata,
			     struct _test_data_uffd *self,
			     unsigned long long copies_each,
			     unsigned long long *reuses, long long *pgreuse)
{
	size_t ps = ct_page_size();
	struct ct_row a, b, c;
	unsigned char i;
	long long v0, v1;
	int moved;

	*reuses = 0;
	*pgreuse = 0;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	vm_pgreuse();		/* its buffer, written before the measurements */
	ct_warm();
	for (i = 0; i < K; i++) {
		unsigned long addr = (unsigned long)self->buf + i * ps;

		ASSERT_EQ(0, ct_proc_or_zero(getpid(), &a));
		ASSERT_EQ(1, write(self->w.go[1], &i, 1));
		ASSERT_EQ(0, wait_wp_fault(self->uffd, addr)) TH_LOG("page %u", i);
		/* The writer waits in handle_userfault(): nothing counted. */
		ASSERT_EQ(0, ct_proc_or_zero(getpid(), &b));
		moved = ct_first_moved(a.v, b.v, 0);
		EXPECT_EQ(-1, moved)
			TH_LOG("page %u: %s moved by %llu while the fault was in user space",
			       i, ct_col_names[moved], b.v[moved] - a.v[moved]);
		v0 = vm_pgreuse();
		ASSERT_EQ(0, unprotect(self->uffd, addr));
		ct_recv(self->w.done[0]);
		v1 = vm_pgreuse();
		ASSERT_EQ(0, ct_proc_or_zero(getpid(), &c));
		EXPECT_EQ(copies_each, c.v[C_COPIES] - b.v[C_COPIES]) TH_LOG("page %u", i);
		EXPECT_EQ(copies_each * ps, c.v[C_BYTES_COPIED] - b.v[C_BYTES_COPIED]);
		moved = ct_first_moved(b.v, c.v, 1UL << C_COPIES |
				       1UL << C_BYTES_COPIED | 1UL << C_REUSES);
		EXPECT_EQ(-1, moved) TH_LOG("page %u: %s moved", i, ct_col_names[moved]);
		*reuses += c.v[C_REUSES] - b.v[C_REUSES];
		*pgreuse += v1 - v0;
	}
}

/*
 * Pages only this process maps.  The kernel's pgreuse says whether the
 * write after the protection faulted into a reuse; cowtrace's reuses
 * equal it page by page.  Then the positive control: a fork whose child
 * exits at once leaves the same pages exclusive but read-only, and
 * writing them is a reuse each, counted and in pgreuse.
 */
TEST_F_TIMEOUT(uffd, exclusive_write_after_unprotect, 120)
{
	size_t ps = ct_page_size();
	unsigned long long reuses;
	struct ct_row a, b;
	long long pg, v0, v1;
	pid_t pid;
	int i;

	ASSERT_EQ(0, protect_all(self));
	ASSERT_EQ(0, pthread_create(&self->w.thread, NULL, writer_main, &self->w));
	protected_writes(_metadata, self, 0, &reuses, &pg);
	TH_LOG("%d protected writes of exclusive pages: reuses %llu, pgreuse %lld",
	       K, reuses, pg);
	EXPECT_EQ((unsigned long long)pg, reuses);
	EXPECT_TRUE(reuses == 0 || reuses == K);

	/* The positive control: the same pages, reused after a fork. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	vm_pgreuse();
	ct_warm();
	ASSERT_EQ(0, ct_proc(getpid(), &a));
	v0 = vm_pgreuse();
	for (i = 0; i < K; i++)
		self->buf[i * ps] = 0x78;
	v1 = vm_pgreuse();
	ASSERT_EQ(0, ct_proc(getpid(), &b));
	EXPECT_EQ(K, b.v[C_REUSES] - a.v[C_REUSES]);
	EXPECT_EQ(K, v1 - v0);
	EXPECT_EQ(0, b.v[C_COPIES] - a.v[C_COPIES]);
}

/*
 * Pages shared with a child since fork(): the protected write is handed
 * over and counts nothing; after the protection is lifted it copies,
 * one copy per page, no reuse.  The child's pages keep their bytes.
 */
TEST_F_TIMEOUT(uffd, shared_write_after_unprotect_copies, 120)
{
	size_t ps = ct_page_size();
	unsigned long long reuses;
	int p2c[2], c2p[2], i;
	struct ct_row ca, cb;
	long long pg;

	ASSERT_EQ(0, pipe(p2c));
	ASSERT_EQ(0, pipe(c2p));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child) {
		char bad = 0;

		ct_warm();
		ct_send(c2p[1]);
		ct_recv(p2c[0]);
		for (i = 0; i < N; i++)
			bad |= self->buf[i * ps] != 0x5a;
		_exit(bad ? 1 : 0);
	}
	ct_recv(c2p[0]);
	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	ASSERT_EQ(0, ct_proc_or_zero(self->child, &ca));
	/* Registered after the fork: the child's mapping has no uffd context. */
	ASSERT_EQ(0, protect_all(self));
	ASSERT_EQ(0, pthread_create(&self->w.thread, NULL, writer_main, &self->w));
	protected_writes(_metadata, self, 1, &reuses, &pg);
	TH_LOG("%d protected writes of shared pages: copies %d, reuses %llu, pgreuse %lld",
	       K, K, reuses, pg);
	EXPECT_EQ(0, reuses);
	EXPECT_EQ(0, pg);
	ASSERT_EQ(0, ct_proc(self->child, &cb));
	EXPECT_EQ(-1, ct_first_moved(ca.v, cb.v, 0)) TH_LOG("the child counted something");
	ct_send(p2c[1]);
	ASSERT_EQ(self->child, waitpid(self->child, &i, 0));
	self->child = 0;
	EXPECT_TRUE(WIFEXITED(i) && WEXITSTATUS(i) == 0);
}

TEST_HARNESS_MAIN

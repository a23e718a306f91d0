// SPDX-License-Identifier: GPL-2.0
/*
 * cowbench: the workloads of the cowtrace overhead benchmark
 * (scripts/bench/cowtrace-bench runs them; Documentation/bench.rst has the
 * results).  Each run prints one JSON object on stdout:
 *
 *   {"workload": "cow", "param": 16, "value": 11535.9,
 *    "unit": "ns/page", "ops": 4096, "wall": 19810.2}
 *
 * value is what the run measured per operation on CLOCK_MONOTONIC, ops
 * how many operations it timed, wall the same span per operation on the
 * wall clock (see below).  Workloads:
 *
 *   cow MIB REPS      a parent touches MIB of anonymous memory and forks;
 *                     the child writes every page (one COW copy each).
 *                     ns per page written, over REPS forks.
 *   touch MIB REPS    write every page of fresh anonymous memory (a
 *                     first-touch fault each, no COW).  ns per page.
 *   zero MIB REPS     read every page of fresh anonymous memory (maps the
 *                     zero page), then write every page (a zero fill
 *                     each).  ns per page written.
 *   file MIB REPS     write every page of a MAP_PRIVATE mapping of a file
 *                     already in the page cache (a private file copy
 *                     each).  ns per page written.
 *   fork MIB REPS     a parent with MIB of touched anonymous memory forks
 *                     REPS times; the child waits until the parent has
 *                     read the clock, then exits.  Median fork() time in
 *                     the parent, in microseconds.
 *   spawn N           fork + exec of a program that exits at once, N
 *                     times.  Microseconds per spawn.
 *   threads MIB REPS  as cow, but two threads of the child write disjoint
 *                     halves at once.  ns per page written.
 *   nop               exit 0 (the program spawn executes).
 *
 * Anonymous memory is madvised MADV_NOHUGEPAGE so every workload runs on
 * 4 KiB pages whatever the THP setting.
 *
 * The wall clock: with COWBENCH_WALLCLOCK=FILE, a file on a filesystem
 * served by another machine (the test bed's 9p export, see
 * scripts/bench/run-guests), each wall-clock reading writes a byte to
 * FILE and reads back its modification time, which the host's
 * filesystem set from the host's clock.  That is the wall time of a
 * guest whose own clock runs on instructions (vm-run -i).  Without it,
 * wall is CLOCK_MONOTONIC too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

typedef unsigned long long u64;

static void die(const char *what)
{
	fprintf(stderr, "cowbench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int wall_fd = -1;

/* Wall-clock time in ns: the host's, through COWBENCH_WALLCLOCK. */
static u64 wall_ns(void)
{
	struct stat st;

	if (wall_fd < 0)
		return now_ns();
	if (pwrite(wall_fd, "", 1, 0) != 1 || fstat(wall_fd, &st))
		die("wall clock file");
	return (u64)st.st_mtim.tv_sec * 1000000000ULL + st.st_mtim.tv_nsec;
}

static void wall_open(void)
{
	const char *path = getenv("COWBENCH_WALLCLOCK");

	if (!path || !*path)
		return;
	wall_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (wall_fd < 0)
		die(path);
}

/* value and wall per operation, in unit. */
static void report(const char *workload, unsigned long param, double value,
		   const char *unit, unsigned long ops, double wall)
{
	printf("{\"workload\": \"%s\", \"param\": %lu, ", workload, param);
	printf("\"value\": %.3f, \"unit\": \"%s\", \"ops\": %lu, ",
	       value, unit, ops);
	printf("\"wall\": %.3f}\n", wall);
}

/* Anonymous private memory, 4 KiB pages, every page written. */
static char *anon(size_t len, int touch)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (madvise(p, len, MADV_NOHUGEPAGE))
		die("madvise");
	if (touch)
		for (size_t off = 0; off < len; off += PAGE)
			p[off] = 1;
	return p;
}

static void write_pages(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = 2;
}

static void wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "cowbench: child failed (status %#x)\n", status);
		exit(2);
	}
}

struct half {
	char *p;
	size_t len;
	pthread_barrier_t *start;
};

static void *writer(void *arg)
{
	struct half *h = arg;

	pthread_barrier_wait(h->start);
	write_pages(h->p, h->len);
	return NULL;
}

/*
 * The child of cow and threads: write every page (with two threads if
 * asked) and send the time it took through the pipe.
 */
static void cow_child(char *p, size_t len, int threads, int fd)
{
	u64 w0 = wall_ns(), t0, dt[2];

	if (threads) {
		pthread_barrier_t start;
		pthread_t tid[2];
		struct half h[2] = {
			{ p, len / 2, &start },
			{ p + len / 2, len - len / 2, &start },
		};

		pthread_barrier_init(&start, NULL, 3);
		for (int i = 0; i < 2; i++)
			if (pthread_create(&tid[i], NULL, writer, &h[i]))
				_exit(3);
		t0 = now_ns();
		pthread_barrier_wait(&start);
		for (int i = 0; i < 2; i++)
			pthread_join(tid[i], NULL);
	} else {
		t0 = now_ns();
		write_pages(p, len);
	}
	dt[0] = now_ns() - t0;
	dt[1] = wall_ns() - w0;
	if (write(fd, dt, sizeof(dt)) != sizeof(dt))
		_exit(4);
	_exit(0);
}

static void bench_cow(const char *name, unsigned long mib, unsigned long reps,
		      int threads)
{
	size_t len = mib << 20, ops = reps * (len / PAGE);
	u64 total = 0, wall = 0;
	int fds[2];

	if (pipe(fds))
		die("pipe");
	for (unsigned long r = 0; r < reps; r++) {
		char *p = anon(len, 1);
		u64 dt[2];
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid)
			cow_child(p, len, threads, fds[1]);
		if (read(fds[0], dt, sizeof(dt)) != sizeof(dt))
			die("read");
		wait_child(pid);
		total += dt[0];
		wall += dt[1];
		munmap(p, len);
	}
	report(name, mib, (double)total / ops, "ns/page", ops,
	       (double)wall / ops);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void bench_fork(unsigned long mib, unsigned long reps)
{
	size_t len = mib << 20;
	u64 *t = calloc(2 * reps, sizeof(*t)), *w = t + reps;
	char *p = anon(len, 1);

	if (!t)
		die("calloc");
	for (unsigned long r = 0; r < reps; r++) {
		int go[2];
		u64 w0, t0;
		pid_t pid;
		char c;

		/*
		 * The child must not exit inside the window: the scheduler
		 * may run it before the parent returns from fork() (6.12's
		 * EEVDF often does, 6.1's CFS does not), and its exit,
		 * which frees MIB of page tables, then counted in the
		 * parent's fork (a third more at 256 MiB on 6.12, in some
		 * runs and not others).  It waits for the parent to close
		 * the pipe.
		 */
		if (pipe(go))
			die("pipe");
		w0 = wall_ns();
		t0 = now_ns();
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			close(go[1]);
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		t[r] = now_ns() - t0;
		w[r] = wall_ns() - w0;
		close(go[0]);
		close(go[1]);
		wait_child(pid);
	}
	qsort(t, reps, sizeof(*t), cmp_u64);
	qsort(w, reps, sizeof(*w), cmp_u64);
	report("fork", mib, t[reps / 2] / 1000.0, "us", reps, w[reps / 2] / 1000.0);
	munmap(p, len);
	free(t);
}

static void bench_spawn(unsigned long n)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *argv[3], *envp[1] = { NULL };
	u64 t0, w0;

	if (len < 0)
		die("readlink /proc/self/exe");
	self[len] = 0;
	argv[0] = self;
	argv[1] = "nop";
	argv[2] = NULL;
	w0 = wall_ns();
	t0 = now_ns();

	for (unsigned long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			execve(self, argv, envp);
			_exit(5);
		}
		wait_child(pid);
	}
	t0 = now_ns() - t0;
	report("spawn", n, t0 / 1000.0 / n, "us", n,
	       (wall_ns() - w0) / 1000.0 / n);
}

/* zero (read each page first: a zero-page mapping) or touch (do not). */
static void bench_fresh(const char *name, unsigned long mib,
			unsigned long reps, int read_first)
{
	size_t len = mib << 20, ops = reps * (len / PAGE);
	u64 total = 0, wall = 0;
	char sink = 0;

	for (unsigned long r = 0; r < reps; r++) {
		char *p = anon(len, 0);
		u64 t0, w0;

		if (read_first)
			for (size_t off = 0; off < len; off += PAGE)
				sink += p[off];
		w0 = wall_ns();
		t0 = now_ns();
		write_pages(p, len);
		total += now_ns() - t0;
		wall += wall_ns() - w0;
		munmap(p, len);
	}
	asm volatile("" : : "r"(sink));
	report(name, mib, (double)total / ops, "ns/page", ops,
	       (double)wall / ops);
}

static void bench_file(unsigned long mib, unsigned long reps)
{
	size_t len = mib << 20, ops = reps * (len / PAGE);
	char path[] = "/tmp/cowbench.XXXXXX";
	u64 total = 0, wall = 0;
	char sink = 0;
	char *buf = calloc(1, 1 << 20);
	int fd = mkstemp(path);

	if (fd < 0 || !buf)
		die("mkstemp");
	unlink(path);
	memset(buf, 7, 1 << 20);
	for (unsigned long i = 0; i < mib; i++)
		if (write(fd, buf, 1 << 20) != 1 << 20)
			die("write");
	free(buf);
	for (unsigned long r = 0; r < reps; r++) {
		char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		u64 t0, w0;

		/* The file's pages are in the page cache before timing. */
		if (p == MAP_FAILED)
			die("mmap");
		for (size_t off = 0; off < len; off += PAGE)
			sink += p[off];
		munmap(p, len);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			die("mmap");
		w0 = wall_ns();
		t0 = now_ns();
		write_pages(p, len);
		total += now_ns() - t0;
		wall += wall_ns() - w0;
		munmap(p, len);
	}
	asm volatile("" : : "r"(sink));
	close(fd);
	report("file", mib, (double)total / ops, "ns/page", ops,
	       (double)wall / ops);
}

static unsigned long arg(int argc, char **argv, int i)
{
	char *end;
	unsigned long v;

	if (i >= argc)
		goto usage;
	errno = 0;
	v = strtoul(argv[i], &end, 10);
	if (errno || *end || !v || v > (1UL << 20))
		goto usage;
	return v;
usage:
	fprintf(stderr, "usage: cowbench cow|threads|touch|zero|file|fork MIB REPS\n"
		"       cowbench spawn N | nop\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(w, "nop"))
		return 0;
	wall_open();
	if (!strcmp(w, "cow"))
		bench_cow("cow", arg(argc, argv, 2), arg(argc, argv, 3), 0);
	else if (!strcmp(w, "threads"))
		bench_cow("threads", arg(argc, argv, 2), arg(argc, argv, 3), 1);
	else if (!strcmp(w, "fork"))
		bench_fork(arg(argc, argv, 2), arg(argc, argv, 3));
	else if (!strcmp(w, "spawn"))
		bench_spawn(arg(argc, argv, 2));
	else if (!strcmp(w, "touch"))
		bench_fresh("touch", arg(argc, argv, 2), arg(argc, argv, 3), 0);
	else if (!strcmp(w, "zero"))
		bench_fresh("zero", arg(argc, argv, 2), arg(argc, argv, 3), 1);
	else if (!strcmp(w, "file"))
		bench_file(arg(argc, argv, 2), arg(argc, argv, 3));
	else
		arg(0, argv, 1);
	return 0;
}

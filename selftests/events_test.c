// SPDX-License-Identifier: GPL-2.0
/*
 * Trace-event selftests: cowtrace:cow_fault and cowtrace:cow_fork, and
 * the tools that consume them.
 *
 * The module emits an event where it increments the matching counter,
 * so over a window in which only the selected processes run, the events
 * of each outcome equal that counter's change, exactly; bytes and the
 * pages shared at fork too.  The window is that of a process tree the
 * module's filter selects, started after the events are enabled and
 * reaped before they are read.  The scenarios are the claims' (every
 * outcome the kernel can produce without special hardware), and the
 * field tests make each kind of memory fault in a known place.
 *
 * The consumers are run as users run them: tracefs itself (an instance,
 * an event filter by pid, a hist trigger keyed by pid and outcome),
 * bpftrace on tracepoint:cowtrace:cow_fault, perf record -g, and
 * trace-cmd record / report.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "claims.h"
#include "cowtrace_test.h"

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCES	TRACEFS "/instances/"
#define N		32	/* pages per region in the field tests */
#define K		16	/* pages the helper's named function writes */

#define HELPER_ENV	"COWTRACE_EVENTS_HELPER"
#define HELPER_STATUS	7

/* cow_fault's outcomes, in the module's order, and their counters. */
static const struct {
	const char *name;
	enum ct_col col;
} outcomes[] = {
	{ "copy", C_COPIES },
	{ "reuse", C_REUSES },
	{ "zero_fill", C_ZERO_FILLS },
	{ "file_copy", C_FILE_COPIES },
	{ "shared_write", C_SHARED_WRITES },
	{ "race", C_COW_RACES },
	{ "unshare", C_UNSHARES },
	{ "thp_split", C_THP_SPLITS },
	{ "thp_reuse", C_THP_REUSES },
	{ "hugetlb_copy", C_HUGETLB_COPIES },
};

#define NR_OUT ARRAY_SIZE(outcomes)

static int outcome_index(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NR_OUT; i++)
		if (strlen(outcomes[i].name) == len &&
		    !strncmp(outcomes[i].name, name, len))
			return i;
	return -1;
}

/* ---- tracefs ------------------------------------------------------------ */

static int tracefs_ready(void)
{
	if (!access(TRACEFS "/events", F_OK))
		return 0;
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL))
		return -errno;
	return access(TRACEFS "/events", F_OK) ? -errno : 0;
}

/* ct_write_file(), but O_TRUNC: a tracefs "trace" file opened so is cleared. */
static int write_path(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* An instance of the tracing buffer, private to this test. */
struct inst {
	char dir[128];
};

static int inst_path(const struct inst *in, const char *rel, char *path,
		     size_t size)
{
	return snprintf(path, size, "%s/%s", in->dir, rel) < (int)size ? 0 : -1;
}

static int inst_write(const struct inst *in, const char *rel, const char *text)
{
	char path[256];

	if (inst_path(in, rel, path, sizeof(path)))
		return -ENAMETOOLONG;
	return write_path(path, text);
}

static char *inst_read(const struct inst *in, const char *rel)
{
	char path[256];

	if (inst_path(in, rel, path, sizeof(path)))
		return NULL;
	return ct_slurp(path, NULL);
}

/*
 * Make instance @name, its buffer @kb KiB per CPU; with @on, cowtrace's
 * events enabled in it.
 */
static int inst_make(struct inst *in, const char *name, int kb, bool on)
{
	char num[32];
	int ret;

	snprintf(in->dir, sizeof(in->dir), INSTANCES "%s", name);
	rmdir(in->dir);
	if (mkdir(in->dir, 0700))
		return -errno;
	snprintf(num, sizeof(num), "%d", kb);
	ret = inst_write(in, "buffer_size_kb", num);
	if (!ret && on)
		ret = inst_write(in, "events/cowtrace/enable", "1");
	return ret;
}

static int inst_off(struct inst *in)
{
	if (!in->dir[0])
		return 0;
	return inst_write(in, "events/cowtrace/enable", "0");
}

static int inst_remove(struct inst *in)
{
	int ret = 0;

	if (!in->dir[0])
		return 0;
	inst_write(in, "events/cowtrace/cow_fault/trigger",
		   "!hist:keys=common_pid,outcome:vals=bytes");
	inst_off(in);
	if (rmdir(in->dir))
		ret = -errno;
	in->dir[0] = '\0';
	return ret;
}

/* Events the instance lost (the "overrun" of every CPU's stats). */
static long long inst_lost(const struct inst *in)
{
	long long lost = 0;
	char rel[64], *text, *p;
	int cpu;

	for (cpu = 0; cpu < 256; cpu++) {
		snprintf(rel, sizeof(rel), "per_cpu/cpu%d/stats", cpu);
		text = inst_read(in, rel);
		if (!text)
			break;
		p = strstr(text, "overrun:");
		if (p)
			lost += strtoll(p + 8, NULL, 10);
		free(text);
	}
	return cpu ? lost : -1;
}

/* ---- parsing events ------------------------------------------------------ */

struct fault_ev {
	long pid;
	unsigned long address;
	int outcome;
	unsigned long long bytes;
	int mapcount;
	int refcount;
	char mem[16];
	unsigned int major, minor;
	unsigned long long ino, offset;
};

/* The "field=" value after @p in @line, or NULL. */
static const char *field(const char *line, const char *name)
{
	const char *p = strstr(line, name);

	return p ? p + strlen(name) : NULL;
}

/* The pid of a trace line ("   comm-PID   [CPU] ..."). */
static long line_pid(const char *line, const char *ev)
{
	const char *p = ev;

	while (p > line && p[-1] != '[')
		p--;
	/* back over "[" and the spaces before it, then the digits */
	if (p == line)
		return -1;
	p--;
	while (p > line && p[-1] == ' ')
		p--;
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return strtol(p, NULL, 10);
}

static int parse_fault(const char *line, struct fault_ev *e)
{
	const char *ev = strstr(line, " cow_fault: "), *o;
	size_t len;

	if (!ev)
		return -1;
	memset(e, 0, sizeof(*e));
	e->pid = line_pid(line, ev);
	o = field(ev, "outcome=");
	if (!o)
		return -1;
	len = strcspn(o, "\n ");
	e->outcome = outcome_index(o, len);
	if (e->outcome < 0 ||
	    sscanf(field(ev, "address="), "%lx", &e->address) != 1 ||
	    sscanf(field(ev, "bytes="), "%llu", &e->bytes) != 1 ||
	    sscanf(field(ev, "mapcount="), "%d", &e->mapcount) != 1 ||
	    sscanf(field(ev, "refcount="), "%d", &e->refcount) != 1 ||
	    sscanf(field(ev, "mem="), "%15s", e->mem) != 1 ||
	    sscanf(field(ev, "dev="), "%u:%u", &e->major, &e->minor) != 2 ||
	    sscanf(field(ev, "ino="), "%llu", &e->ino) != 1 ||
	    sscanf(field(ev, "offset="), "%llu", &e->offset) != 1)
		return -1;
	return 0;
}

/* What a buffer's text holds, summed. */
struct tally {
	unsigned long long n[NR_OUT];
	unsigned long long bytes;
	unsigned long long forks, shared;
	unsigned long long bad;		/* lines that did not parse */
};

/*
 * Add the events of @text to @t; with @pid > 0 only that process's.
 * cow_fork lines count for their parent.
 */
static void tally(const char *text, long pid, struct tally *t)
{
	const char *line, *next;
	struct fault_ev e;
	long ppid;

	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (*line == '#')
			continue;
		if (strstr(line, " cow_fault: ") && strstr(line, " cow_fault: ") < next) {
			if (parse_fault(line, &e)) {
				t->bad++;
				continue;
			}
			if (pid > 0 && e.pid != pid)
				continue;
			t->n[e.outcome]++;
			t->bytes += e.bytes;
		} else if (strstr(line, " cow_fork: ") && strstr(line, " cow_fork: ") < next) {
			const char *f = strstr(line, " cow_fork: ");

			const char *v = field(f, "parent_tgid=");
			char *end;

			ppid = v ? strtol(v, &end, 10) : 0;
			if (!v || end == v) {
				t->bad++;
				continue;
			}
			if (pid > 0 && ppid != pid)
				continue;
			t->forks++;
			t->shared += strtoull(field(f, "shared="), NULL, 10);
		}
	}
}

/* ---- scenarios ------------------------------------------------------------ */

/*
 * An instance whose cow_fault event run_selected() filters by the new
 * process's pid, then enables.
 */
static struct inst *filter_inst;
/* The new process's row once filter_inst records it, before it runs. */
static struct ct_row filter_row;
/*
 * Called once the module's filter selects the new process alone (it is
 * blocked), before it runs: nothing is counted in between.
 */
static void (*on_selected)(void);

/*
 * Run @fn in a new process that the module's filter selects from its
 * start: it waits until the filter is set, then runs, and is reaped.
 */
static pid_t run_selected(void (*fn)(void *), void *arg, int *status)
{
	int go[2];
	char cmd[64], c;
	pid_t pid;

	if (pipe(go))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		fn(arg);
		_exit(0);
	}
	close(go[0]);
	snprintf(cmd, sizeof(cmd), "common_pid == %d", pid);
	if (filter_inst &&
	    (inst_write(filter_inst, "events/cowtrace/cow_fault/filter", cmd) ||
	     inst_write(filter_inst, "events/cowtrace/cow_fault/enable", "1"))) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "filter pid %d", pid);
	if (ct_control(cmd) || (filter_inst && ct_proc(pid, &filter_row))) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (on_selected)
		on_selected();
	c = 'g';
	if (write(go[1], &c, 1) != 1)
		kill(pid, SIGKILL);
	close(go[1]);
	if (waitpid(pid, status, 0) != pid)
		return -1;
	return pid;
}

#define THP_SIZE	(2UL << 20)
#define RACE_PAGES	256
#define RACE_TRIALS	40

/*
 * A THP written after its only sharer exited: the parent's write
 * reuses the huge page (thp_reuse).
 */
static void thp_reuse(void)
{
	char *raw = mmap(NULL, 2 * THP_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;
	pid_t pid;

	if (raw == MAP_FAILED)
		_exit(3);
	p = (char *)(((unsigned long)raw + THP_SIZE - 1) & ~(THP_SIZE - 1));
	madvise(p, THP_SIZE, MADV_HUGEPAGE);
	ct_touch(p, THP_SIZE, ct_page_size());
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		_exit(3);
	ct_touch(p, 1, 1);
	munmap(raw, 2 * THP_SIZE);
}

struct racer {
	char *buf;
	int arrived;		/* both threads add one per page */
	long id;
};

/* Pinned to a CPU each, the two threads meet before every page. */
static void *racer(void *arg)
{
	struct racer *r = arg;
	struct racer *shared = r - r->id;
	size_t ps = ct_page_size(), i;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(r->id, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (i = 0; i < RACE_PAGES; i++) {
		__atomic_add_fetch(&shared->arrived, 1, __ATOMIC_ACQ_REL);
		while (__atomic_load_n(&shared->arrived, __ATOMIC_ACQUIRE) < 2 * (int)(i + 1))
			__builtin_ia32_pause();
		__atomic_store_n(&r->buf[i * ps + r->id * 64], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Two threads of a child write the same shared pages at once, until a
 * copy lost the race to the other thread's (cow_races moved): trials
 * are bounded; the test says if none raced.
 */
static void races(void)
{
	long long before = ct_stat("cow_races");
	int trial;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || before == (long long)CT_UNSET)
		return;
	for (trial = 0; trial < RACE_TRIALS && ct_stat("cow_races") == before; trial++) {
		char *buf = ct_map_anon(RACE_PAGES, true);
		pid_t pid;

		if (!buf)
			_exit(4);
		pid = fork();
		if (pid == 0) {
			struct racer r[2] = { { buf, 0, 0 }, { buf, 0, 1 } };
			pthread_t t[2];

			pthread_create(&t[0], NULL, racer, &r[0]);
			pthread_create(&t[1], NULL, racer, &r[1]);
			pthread_join(t[0], NULL);
			pthread_join(t[1], NULL);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			_exit(4);
		munmap(buf, RACE_PAGES * ct_page_size());
	}
}

/*
 * 16 pages a fork shares written with O_DIRECT to a zram disk: since 6.5
 * the block layer pins them read-only, and each is unshared first
 * (Documentation/cowtrace.rst, "KSM, swap, unshare and mTHP").  Skipped
 * without zram.
 */
static void unshares(void)
{
	size_t len = 16 * ct_page_size();
	char *buf = ct_map_anon(16, true), dev[32];
	int id, fd, go[2];
	bool loaded;
	pid_t pid;

	if (!buf || pipe(go))
		_exit(5);
	id = ct_zram_add("16M", &loaded);
	if (id < 0)
		return;
	snprintf(dev, sizeof(dev), "/dev/zram%d", id);
	fd = open(dev, O_WRONLY | O_DIRECT);
	pid = fd < 0 ? -1 : fork();
	if (pid == 0) {
		ct_recv(go[0]);
		_exit(0);
	}
	if (pid < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len)
		_exit(5);
	ct_send(go[1]);
	if (waitpid(pid, NULL, 0) != pid)
		_exit(5);
	close(fd);
	close(go[0]);
	close(go[1]);
	munmap(buf, len);
	if (ct_zram_remove(id, loaded))
		_exit(5);
}

/* Every claim's scenario, one after the other; a THP reuse; races; unshares. */
static void all_claims(void *arg)
{
	static struct claim c;
	int i;

	for (i = 0; i < nr_claims; i++) {
		claim_run(&claims[i], &c);
		/* A claim's verdict is the claims test's matter, not this one's. */
		fprintf(stderr, "# %s: %s\n", claims[i].id,
			claim_verdict_name(c.verdict));
	}
	if (ct_have_thp())
		thp_reuse();
	races();
	unshares();
}

static void read_totals(unsigned long long *v)
{
	int i;

	for (i = 0; i < C_NCOLS; i++)
		v[i] = ct_stat(ct_col_names[i]);
}

/* ---- the field tests' workload ------------------------------------------ */

enum region { R_HEAP, R_STACK, R_ANON, R_ZERO, R_FILE, R_FILE_RW, R_SHARED, NR_REGIONS };

/* Where each region lies: written by the selected process, read after. */
struct layout {
	unsigned long start[NR_REGIONS];
	unsigned int major, minor;	/* the file of R_FILE, R_FILE_RW, */
	unsigned long long ino;		/* as /proc/self/maps shows it */
	pid_t writer;			/* the child that writes the shared ones */
	char marker[160];		/* the instance's trace_marker */
	int fail;
};

static const char *const region_mem[NR_REGIONS] = {
	[R_HEAP] = "heap", [R_STACK] = "stack", [R_ANON] = "anon",
	[R_ZERO] = "anon", [R_FILE] = "file", [R_FILE_RW] = "file",
	[R_SHARED] = "shared",
};

/* Pages into the file that R_FILE_RW maps from (its file offset). */
#define FILE_RW_PGOFF	N

static void touch_pages(char *p)
{
	ct_touch(p, N * ct_page_size(), ct_page_size());
}

static void read_pages(char *p)
{
	ct_load_bytes(p, N * ct_page_size(), ct_page_size());
}

static char *page_align(char *p)
{
	size_t ps = ct_page_size();

	return (char *)(((unsigned long)p + ps - 1) & ~(ps - 1));
}

/* The device and inode /proc/self/maps shows for the mapping at @addr. */
static int maps_file_id(const char *addr, struct layout *l)
{
	char *text = ct_slurp("/proc/self/maps", NULL), *line;
	unsigned long start;
	int ret = -1;

	if (!text)
		return -1;
	for (line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (sscanf(line, "%lx-%*x %*s %*x %x:%x %llu", &start, &l->major,
			   &l->minor, &l->ino) == 4 && start == (unsigned long)addr) {
			ret = 0;
			break;
		}
	}
	free(text);
	return ret;
}

/*
 * Heap, stack and anonymous pages touched, then written by a child (N
 * copies each, in the child); fresh anonymous pages read then written
 * (N zero fills); a private file mapping written (N file copies on
 * first write) and another read, then written (N file copies of the
 * mapped page); a shared mapping write-protected by clearing soft-dirty
 * bits, then written (N shared writes).
 */
static void field_workload(void *arg)
{
	struct layout *l = arg;
	size_t ps = ct_page_size();
	/* Two pages of margin above: this frame's own variables. */
	char stack_buf[(N + 3) * 4096];
	char path[] = "/tmp/cowtrace-events-XXXXXX";
	char *heap, *stack, *anon, *zero, *file, *file_rw, *shared;
	pid_t pid;
	int fd;

	heap = page_align(sbrk((N + 1) * ps));
	stack = page_align(stack_buf);
	anon = ct_map_anon(N, false);
	zero = ct_map_anon(N, false);
	shared = mmap(NULL, N * ps, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = mkstemp(path);
	if (heap == (char *)-1 || !anon || !zero || shared == MAP_FAILED ||
	    fd < 0 || ftruncate(fd, 2 * N * ps))
		goto fail;
	unlink(path);
	file = mmap(NULL, N * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	file_rw = mmap(NULL, N * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		       FILE_RW_PGOFF * ps);
	if (file == MAP_FAILED || file_rw == MAP_FAILED)
		goto fail;
	l->start[R_HEAP] = (unsigned long)heap;
	l->start[R_STACK] = (unsigned long)stack;
	l->start[R_ANON] = (unsigned long)anon;
	l->start[R_ZERO] = (unsigned long)zero;
	l->start[R_FILE] = (unsigned long)file;
	l->start[R_FILE_RW] = (unsigned long)file_rw;
	l->start[R_SHARED] = (unsigned long)shared;
	if (maps_file_id(file, l))
		goto fail;
	touch_pages(heap);
	touch_pages(stack);
	touch_pages(anon);
	touch_pages(shared);
	/* What came before (copies of pages ancestors shared) is not checked. */
	if (write_path(l->marker, "cowtrace-events: fork"))
		goto fail;
	/* The child writes the pages it shares with this process. */
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		touch_pages(heap);
		touch_pages(stack);
		touch_pages(anon);
		_exit(0);
	}
	l->writer = pid;
	if (waitpid(pid, NULL, 0) != pid)
		goto fail;
	read_pages(zero);
	touch_pages(zero);
	touch_pages(file);
	read_pages(file_rw);
	touch_pages(file_rw);
	fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0 || write(fd, "4", 1) != 1)
		goto fail;
	close(fd);
	touch_pages(shared);
	return;
fail:
	l->fail = 1;
}

/* ---- the helper: a program with a named function that copies ------------ */

/*
 * Writes @n pages of @buf itself (no helper call): the copies perf must
 * attribute to it.  Called through a pointer the compiler cannot see
 * through (a global that is not const), so it is never inlined.
 */
void cowtrace_events_write_pages(char *buf, size_t n);
void (*cowtrace_events_writer)(char *buf, size_t n) = cowtrace_events_write_pages;

void cowtrace_events_write_pages(char *buf, size_t n)
{
	size_t ps = ct_page_size(), i;

	for (i = 0; i < n; i++) {
		buf[i * ps] = 3;
		asm volatile("" : : "r"(buf) : "memory");
	}
}

/*
 * Run as a command (HELPER_ENV set): a parent maps and touches 2K
 * pages and forks; the child writes K of them in
 * cowtrace_events_write_pages() and K more inline, then exits; the parent
 * prints the child's pid.
 */
static void __attribute__((constructor)) helper(void)
{
	size_t ps = ct_page_size(), i;
	char *buf;
	pid_t pid;

	if (!getenv(HELPER_ENV))
		return;
	/* Guard pages around it, so it merges with no neighbour. */
	buf = mmap(NULL, (2 * K + 2) * ps, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(1);
	buf += ps;
	if (mprotect(buf, 2 * K * ps, PROT_READ | PROT_WRITE))
		_exit(1);
	/* 4 KiB pages (EINVAL without THP, as on PREEMPT_RT: already so). */
	madvise(buf, 2 * K * ps, MADV_NOHUGEPAGE);
	ct_touch(buf, 2 * K * ps, ps);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid == 0) {
		cowtrace_events_writer(buf, K);
		for (i = K; i < 2 * K; i++) {
			buf[i * ps] = 4;
			asm volatile("" : : "r"(buf) : "memory");
		}
		_exit(0);
	}
	if (waitpid(pid, NULL, 0) != pid)
		_exit(1);
	printf("%d\n", pid);
	fflush(stdout);
	_exit(HELPER_STATUS);
}

static const char *self_exe(void)
{
	static char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len <= 0)
		return NULL;
	exe[len] = '\0';
	return exe;
}

/*
 * Run the shell command @cmd (the helper reachable as $HELPER), its
 * stdout into @out; the exit status.
 */
static int run_sh(const char *cmd, char *out, size_t size)
{
	size_t len = 0;
	FILE *f;
	int status;

	if (setenv("HELPER", self_exe(), 1))
		return -1;
	fprintf(stderr, "# $ %s\n", cmd);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (len + 1 < size && fgets(out + len, size - len, f))
		len += strlen(out + len);
	out[len] = '\0';
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the tests ----------------------------------------------------------- */

FIXTURE(events) {
	struct inst a, b;
};

FIXTURE_SETUP(events)
{
	char msg[128];

	/* Which test a kernel report in the guest's log belongs to. */
	snprintf(msg, sizeof(msg), "events_test: %s\n", _metadata->name);
	write_path("/dev/kmsg", msg);
	ASSERT_EQ(0, tracefs_ready());
	ASSERT_EQ(0, ct_load("fork_scan=1"));
}

FIXTURE_TEARDOWN(events)
{
	EXPECT_EQ(0, inst_remove(&self->a));
	EXPECT_EQ(0, inst_remove(&self->b));
	ct_control("filter none");
	EXPECT_EQ(0, ct_unload());
	/* Nothing of the module's is left in tracefs. */
	EXPECT_NE(0, access(TRACEFS "/events/cowtrace", F_OK));
}

/* Log and check one outcome: events == counter change. */
static void check_equal(struct __test_metadata *_metadata, const char *what,
			unsigned long long events, unsigned long long counted)
{
	if (counted == CT_UNSET) {
		/* Unsupported on this kernel: no event may say otherwise. */
		TH_LOG("%-14s events %llu, counter unsupported", what, events);
		EXPECT_EQ(0, events) TH_LOG("%s: events of an unsupported outcome", what);
		return;
	}
	TH_LOG("%-14s events %llu, counter change %llu", what, events, counted);
	EXPECT_EQ(counted, events) TH_LOG("%s: events and counter differ", what);
}

/*
 * Every claim's scenario under the filter; per outcome, the events in
 * the buffer equal the counter's change; bytes and fork figures too.
 * The positive controls: the scenarios copy, reuse, zero-fill, copy
 * file pages, split THPs and (where huge pages can be reserved) copy
 * hugetlb pages; those counters must have moved.
 */
static struct inst *totals_inst;
static unsigned long long totals_before[C_NCOLS];

/* The window opens: the events on, the counters read. */
static void open_window(void)
{
	if (inst_write(totals_inst, "events/cowtrace/enable", "1"))
		fprintf(stderr, "# cannot enable the events\n");
	read_totals(totals_before);
}

TEST_F_TIMEOUT(events, per_outcome_equal_counters, 900)
{
	unsigned long long *before = totals_before, after[C_NCOLS], d[C_NCOLS];
	struct tally t = { 0 };
	char *text;
	size_t i;
	int status;

	ASSERT_EQ(0, inst_make(&self->a, "cowtrace-events-test", 65536, false));
	totals_inst = &self->a;
	on_selected = open_window;
	ASSERT_LT(0, run_selected(all_claims, NULL, &status));
	on_selected = NULL;
	/* The filter still selects the reaped tree alone: nothing moves. */
	ASSERT_EQ(0, inst_off(&self->a));
	read_totals(after);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < C_NCOLS; i++)
		d[i] = after[i] == CT_UNSET || before[i] == CT_UNSET ?
		       CT_UNSET : after[i] - before[i];
	ASSERT_EQ(0, inst_lost(&self->a)) TH_LOG("the buffer overran");
	text = inst_read(&self->a, "trace");
	ASSERT_NE(NULL, text);
	tally(text, 0, &t);
	free(text);
	EXPECT_EQ(0, t.bad);
	for (i = 0; i < NR_OUT; i++)
		check_equal(_metadata, outcomes[i].name, t.n[i],
			    d[outcomes[i].col]);
	check_equal(_metadata, "bytes", t.bytes, d[C_BYTES_COPIED]);
	check_equal(_metadata, "forks", t.forks, d[C_FORKS]);
	check_equal(_metadata, "shared", t.shared, d[C_SHARED]);
	EXPECT_LT(0, d[C_COPIES]);
	EXPECT_LT(0, d[C_REUSES]);
	EXPECT_LT(0, d[C_ZERO_FILLS]);
	EXPECT_LT(0, d[C_FILE_COPIES]);
	EXPECT_LT(0, d[C_FORKS]);
	if (ct_have_thp()) {
		EXPECT_LT(0, d[C_THP_SPLITS]);
		EXPECT_LT(0, d[C_THP_REUSES]);
	}
	if (ct_kernel_at_least(6, 5))
		EXPECT_LT(0, d[C_UNSHARES]);
	/* Races are provoked, in bounded trials; two vCPUs make them likely. */
	if (d[C_COW_RACES] != CT_UNSET && sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		EXPECT_LT(0, d[C_COW_RACES]);
}

/*
 * Each kind of memory, faulted in a known place: every event's address,
 * outcome, bytes, kind of memory and file identity, page by page.
 */
TEST_F_TIMEOUT(events, fields, 300)
{
	struct layout *l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	static const int want_out[NR_REGIONS] = {
		[R_HEAP] = 0, [R_STACK] = 0, [R_ANON] = 0, [R_ZERO] = 2,
		[R_FILE] = 3, [R_FILE_RW] = 3, [R_SHARED] = 4,
	};
	unsigned char seen[NR_REGIONS][N] = { { 0 } };
	size_t ps = ct_page_size();
	const char *line, *next;
	struct fault_ev e;
	int status, r, pg;
	char *text;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, l);
	ASSERT_EQ(0, inst_make(&self->a, "cowtrace-events-test", 8192, true));
	ASSERT_EQ(0, inst_path(&self->a, "trace_marker", l->marker, sizeof(l->marker)));
	pid = run_selected(field_workload, l, &status);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, inst_off(&self->a));
	ASSERT_EQ(0, l->fail);
	text = inst_read(&self->a, "trace");
	ASSERT_NE(NULL, text);
	line = strstr(text, "cowtrace-events: fork");
	ASSERT_NE(NULL, line);
	for (; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (*line == '#' || parse_fault(line, &e))
			continue;
		for (r = 0; r < NR_REGIONS; r++)
			if (e.address >= l->start[r] &&
			    e.address < l->start[r] + N * ps)
				break;
		if (r == NR_REGIONS)
			continue;	/* the processes' own stack, libc ... */
		pg = (e.address - l->start[r]) / ps;
		seen[r][pg]++;
		EXPECT_EQ(r == R_HEAP || r == R_STACK || r == R_ANON ?
			  l->writer : pid, e.pid) TH_LOG("region %d page %d", r, pg);
		EXPECT_EQ(want_out[r], e.outcome) TH_LOG("region %d page %d", r, pg);
		EXPECT_STREQ(region_mem[r], e.mem) TH_LOG("region %d page %d", r, pg);
		EXPECT_EQ(want_out[r] == 0 || want_out[r] == 3 ? ps : 0, e.bytes);
		if (want_out[r] == 0) {
			/* The writer and its parent map it. */
			EXPECT_EQ(2, e.mapcount) TH_LOG("region %d page %d", r, pg);
			EXPECT_LE(2, e.refcount) TH_LOG("region %d page %d", r, pg);
		} else if (r == R_ZERO || r == R_FILE) {
			/* No old page (the zero page), or a hook that sees none. */
			EXPECT_EQ(-1, e.mapcount) TH_LOG("region %d page %d", r, pg);
			EXPECT_EQ(-1, e.refcount) TH_LOG("region %d page %d", r, pg);
		} else {
			EXPECT_LE(1, e.mapcount) TH_LOG("region %d page %d", r, pg);
		}
		if (r == R_FILE || r == R_FILE_RW) {
			EXPECT_EQ(l->major, e.major);
			EXPECT_EQ(l->minor, e.minor);
			EXPECT_EQ(l->ino, e.ino);
			EXPECT_EQ(((r == R_FILE_RW ? FILE_RW_PGOFF : 0) + pg) * ps,
				  e.offset);
		} else if (r != R_SHARED) {
			EXPECT_EQ(0, e.major + e.minor + e.ino + e.offset);
		}
	}
	free(text);
	for (r = 0; r < NR_REGIONS; r++) {
		int once = 0;

		for (pg = 0; pg < N; pg++)
			once += seen[r][pg] == 1;
		TH_LOG("region %d (%s): %d of %d pages with one event",
		       r, region_mem[r], once, N);
		EXPECT_EQ(N, once);
	}
	munmap(l, sizeof(*l));
}

/* The writer of run_two: K copies in one of two children. */
static void two_children(void *arg)
{
	pid_t *kids = arg;
	size_t ps = ct_page_size();
	char *buf = ct_map_anon(K, true);
	int i, j;

	if (!buf)
		_exit(1);
	pid_t pid;

	for (i = 0; i < 2; i++) {
		pid = fork();
		if (pid == 0) {
			for (j = 0; j < K; j++)
				buf[j * ps] = 5;
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			_exit(1);
		kids[i] = pid;
	}
}

/*
 * tracefs's own event filter: in one instance "common_pid == ROOT" (the
 * selected process, which forks two children that copy K pages each),
 * in another none, the positive control of the same run: the first
 * holds ROOT's events alone, as many per outcome as ROOT's counters
 * moved; the second also each child's, as many as its counters moved.
 */
TEST_F(events, tracefs_pid_filter)
{
	pid_t *kids = mmap(NULL, 2 * sizeof(pid_t), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct tally only = { 0 }, root = { 0 }, kid[2];
	struct ct_row rr, rk[2];
	int status, k;
	char *text;
	size_t i;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, kids);
	memset(kid, 0, sizeof(kid));
	ASSERT_EQ(0, inst_make(&self->a, "cowtrace-events-all", 4096, true));
	ASSERT_EQ(0, inst_make(&self->b, "cowtrace-events-pid", 4096, false));
	filter_inst = &self->b;
	pid = run_selected(two_children, kids, &status);
	filter_inst = NULL;
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, inst_off(&self->a));
	ASSERT_EQ(0, inst_off(&self->b));
	ASSERT_EQ(0, ct_proc(pid, &rr));
	text = inst_read(&self->b, "trace");
	ASSERT_NE(NULL, text);
	tally(text, 0, &only);
	free(text);
	text = inst_read(&self->a, "trace");
	ASSERT_NE(NULL, text);
	tally(text, pid, &root);
	for (k = 0; k < 2; k++) {
		tally(text, kids[k], &kid[k]);
		ASSERT_EQ(0, ct_proc(kids[k], &rk[k]));
		EXPECT_LE(K, rk[k].v[C_COPIES]);
		for (i = 0; i < NR_OUT; i++)
			check_equal(_metadata, outcomes[i].name, kid[k].n[i],
				    rk[k].v[outcomes[i].col]);
	}
	free(text);
	/*
	 * ROOT faulted before it blocked, before the instance was enabled:
	 * its row is compared from the point the instance records it on.
	 */
	for (i = 0; i < NR_OUT; i++) {
		enum ct_col c = outcomes[i].col;

		check_equal(_metadata, outcomes[i].name, only.n[i],
			    rr.v[c] == CT_UNSET ? CT_UNSET : rr.v[c] - filter_row.v[c]);
		EXPECT_LE(only.n[i], root.n[i]);
	}
	EXPECT_EQ(0, only.forks);	/* cow_fork is not enabled there */
	EXPECT_EQ(2, root.forks);
	munmap(kids, 2 * sizeof(pid_t));
}

/* A hist trigger keyed by pid and outcome: its totals are the counters'. */
TEST_F(events, hist_trigger)
{
	pid_t *kids = mmap(NULL, 2 * sizeof(pid_t), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long long hits[2][NR_OUT] = { { 0 } }, bytes[2] = { 0 };
	const char *line, *next;
	struct ct_row row[2];
	int status, k, pid, out;
	unsigned long long hc, by;
	char *text;
	size_t i;

	ASSERT_NE(MAP_FAILED, kids);
	ASSERT_EQ(0, inst_make(&self->a, "cowtrace-events-hist", 1024, true));
	ASSERT_EQ(0, inst_write(&self->a, "events/cowtrace/cow_fault/trigger",
				"hist:keys=common_pid,outcome:vals=bytes"));
	ASSERT_LT(0, run_selected(two_children, kids, &status));
	ASSERT_EQ(0, inst_off(&self->a));
	text = inst_read(&self->a, "events/cowtrace/cow_fault/hist");
	ASSERT_NE(NULL, text);
	fprintf(stderr, "%s", text);
	/* { common_pid:        123, outcome:          0 } hitcount:  16  bytes:  65536 */
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (sscanf(line, "{ common_pid: %d, outcome: %d } hitcount: %llu bytes: %llu",
			   &pid, &out, &hc, &by) != 4)
			continue;
		for (k = 0; k < 2; k++) {
			if (pid != kids[k] || out < 0 || out >= (int)NR_OUT)
				continue;
			hits[k][out] += hc;
			bytes[k] += by;
		}
	}
	free(text);
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, ct_proc(kids[k], &row[k]));
		EXPECT_LE(K, row[k].v[C_COPIES]);
		for (i = 0; i < NR_OUT; i++)
			check_equal(_metadata, outcomes[i].name, hits[k][i],
				    row[k].v[outcomes[i].col]);
		EXPECT_EQ(row[k].v[C_BYTES_COPIED], bytes[k]);
	}
	munmap(kids, 2 * sizeof(pid_t));
}

/*
 * The helper's child, born while the consumer was tracing: its whole
 * life is in both.  @ev[i] are the consumer's events per outcome.
 */
static void check_child(struct __test_metadata *_metadata, pid_t child,
			const unsigned long long *ev)
{
	struct ct_row row;
	size_t i;

	ASSERT_EQ(0, ct_proc(child, &row));
	EXPECT_LE(2 * K, row.v[C_COPIES]);
	for (i = 0; i < NR_OUT; i++)
		check_equal(_metadata, outcomes[i].name, ev[i],
			    row.v[outcomes[i].col]);
}

/* bpftrace on the tracepoint, aggregated by outcome, equals the counters. */
TEST_F_TIMEOUT(events, bpftrace, 300)
{
	static char out[64 << 10];
	unsigned long long ev[NR_OUT] = { 0 };
	char cmd[1024];
	const char *p;
	pid_t child;
	int o, st;

	/*
	 * The helper is started by bpftrace (-c), so its child is born
	 * with the probe attached; @out[pid, outcome] is printed at exit.
	 */
	snprintf(cmd, sizeof(cmd),
		 "%s=1 bpftrace -q -c \"$HELPER\" -e 'tracepoint:cowtrace:cow_fault { @out[pid, args->outcome] = count(); }' 2>&1",
		 HELPER_ENV);
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	EXPECT_EQ(0, st);
	/* The helper printed its child's pid first, then bpftrace its map. */
	child = strtol(out, NULL, 10);
	ASSERT_LT(0, child);
	for (p = out; (p = strstr(p, "@out[")); p++) {
		long pid;
		unsigned long long n;

		if (sscanf(p, "@out[%ld, %d]: %llu", &pid, &o, &n) != 3)
			continue;
		if (pid == child && o >= 0 && o < (int)NR_OUT)
			ev[o] += n;
	}
	check_child(_metadata, child, ev);
}

/*
 * perf record -g: exactly K copy events have the helper's named function
 * as their first user-space frame; the other K copies of the child were
 * made inline in its caller.
 */
TEST_F_TIMEOUT(events, perf_record_callgraph, 300)
{
	static char out[1 << 20];
	unsigned long long ev[NR_OUT] = { 0 }, named = 0, named_other = 0;
	const char *line, *next, *o;
	char cmd[1024], dir[] = "/tmp/cowtrace-perf-XXXXXX";
	long pid, cur = -1;
	int cur_out = -1, st;
	pid_t child;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && %s=1 perf record -q -e cowtrace:cow_fault -g -o perf.data -- \"$HELPER\" 2>&1",
		 dir, HELPER_ENV);
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	EXPECT_EQ(HELPER_STATUS, st);
	child = strtol(out, NULL, 10);
	ASSERT_LT(0, child);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && perf script -i perf.data -F pid,event,trace,ip,sym 2>&1; rm -rf %s",
		 dir, dir);
	ASSERT_EQ(0, run_sh(cmd, out, sizeof(out)));
	/*
	 * A sample: "  PID cowtrace:cow_fault: address=... outcome=copy ..."
	 * then its call chain, one frame a line, kernel frames first; the
	 * first frame in the helper's own code is the writer.
	 */
	for (line = out; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (strstr(line, "cowtrace:cow_fault:") &&
		    strstr(line, "cowtrace:cow_fault:") < next) {
			pid = strtol(line, NULL, 10);
			o = strstr(line, "outcome=");
			cur = pid;
			cur_out = o ? outcome_index(o + 8, strcspn(o + 8, "\n ")) : -1;
			if (pid == child && cur_out >= 0)
				ev[cur_out]++;
			continue;
		}
		if (cur == child && strstr(line, "cowtrace_events_write_pages") &&
		    strstr(line, "cowtrace_events_write_pages") < next) {
			if (cur_out == 0)
				named++;
			else
				named_other++;
			cur = -1;	/* one frame per sample */
		}
	}
	TH_LOG("copies attributed to cowtrace_events_write_pages: %llu", named);
	EXPECT_EQ(K, named);
	EXPECT_EQ(0, named_other);
	check_child(_metadata, child, ev);
}

/* trace-cmd record / report on the helper and its child (-F -c). */
TEST_F_TIMEOUT(events, trace_cmd, 300)
{
	static char out[1 << 20];
	unsigned long long ev[NR_OUT] = { 0 };
	const char *line, *next;
	char cmd[1024], dir[] = "/tmp/cowtrace-tcmd-XXXXXX";
	struct fault_ev e;
	pid_t child;
	int st;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && %s=1 trace-cmd record -q -e cowtrace:cow_fault -F -c -o trace.dat \"$HELPER\" 2>/dev/null",
		 dir, HELPER_ENV);
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	EXPECT_EQ(0, st);
	child = strtol(out, NULL, 10);
	ASSERT_LT(0, child);
	snprintf(cmd, sizeof(cmd), "cd %s && trace-cmd report -i trace.dat 2>&1; rm -rf %s",
		 dir, dir);
	ASSERT_EQ(0, run_sh(cmd, out, sizeof(out)));
	for (line = out; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (!parse_fault(line, &e) && e.pid == child) {
			ev[e.outcome]++;
			fprintf(stderr, "# %.*s", (int)(next - line), line);
		}
	}
	check_child(_metadata, child, ev);
}

/* The events are the module's: gone once it is unloaded, back with it. */
TEST_F(events, gone_after_unload)
{
	EXPECT_EQ(0, access(TRACEFS "/events/cowtrace/cow_fault/format", F_OK));
	EXPECT_EQ(0, access(TRACEFS "/events/cowtrace/cow_fork/format", F_OK));
	ASSERT_EQ(0, ct_unload());
	EXPECT_NE(0, access(TRACEFS "/events/cowtrace", F_OK));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, ct_load(""));
	EXPECT_EQ(0, access(TRACEFS "/events/cowtrace/cow_fault/format", F_OK));
}

/* build/cowstat of the tree this test was built in. */
static const char *cowstat_path(void)
{
	static char path[PATH_MAX + 16];
	const char *exe = self_exe();
	const char *p = exe ? strstr(exe, "/build/selftests/") : NULL;

	if (!p)
		return "build/cowstat";
	snprintf(path, sizeof(path), "%.*s/build/cowstat", (int)(p - exe), exe);
	return path;
}

/*
 * cowstat -w -- CMD: the helper's child copied its 2K-page anonymous
 * mapping's pages, K in the named function and K inline: one region of
 * that size with exactly 2K copies and 2K pages of bytes; the child's
 * regions sum to its procs row (copies, zero fills, bytes), which
 * cowstat prints beside them.  --folded gives the same region as a
 * stack with its count.
 */
TEST_F_TIMEOUT(events, cowstat_where, 300)
{
	static char out[1 << 16];
	char cmd[2048], json[] = "/tmp/cowstat-where-XXXXXX";
	int fd, st;

	fd = mkstemp(json);
	ASSERT_LE(0, fd);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "%s=1 %s -w --json -o %s -- \"$HELPER\"; python3 -c '\n"
		 "import json, sys\n"
		 "r = json.load(open(sys.argv[1]))\n"
		 "child = [p for p in r[\"procs\"] if p[\"pid\"] != r[\"pid\"]][0]\n"
		 "mine = [w for w in r[\"where\"] if w[\"pid\"] == child[\"pid\"]]\n"
		 "big = [w for w in mine if w[\"kind\"] == \"anon\" and w[\"copies\"] == %d]\n"
		 "if not big: print(\"# no region of 32 copies:\", child, mine); sys.exit(1)\n"
		 "lo, hi = big[0][\"region\"].split()[1].split(\"-\")\n"
		 "print(len(big), (int(hi, 16) - int(lo, 16)) // %zu, big[0][\"bytes_copied\"],\n"
		 "      sum(w[\"copies\"] for w in mine), child[\"copies\"] + child[\"file_copies\"],\n"
		 "      sum(w[\"zero_fills\"] for w in mine), child[\"zero_fills\"],\n"
		 "      sum(w[\"bytes_copied\"] for w in mine), child[\"bytes_copied\"], r[\"where_lost\"])\n"
		 "' %s; rm -f %s",
		 HELPER_ENV, cowstat_path(), json, 2 * K, ct_page_size(), json, json);
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	ASSERT_EQ(0, st);
	{
		unsigned long long v[10];
		/* The helper's pid line first, then python's figures. */
		const char *line = strchr(out, '\n');

		ASSERT_NE(NULL, line);
		char *end = (char *)line + 1;
		int k;

		for (k = 0; k < 10; k++) {
			const char *from = end;

			v[k] = strtoull(from, &end, 10);
			ASSERT_NE(from, end) TH_LOG("figure %d missing", k);
		}
		EXPECT_EQ(1, v[0]);		/* one such region */
		EXPECT_EQ(2 * K, v[1]);		/* the size of the mapping */
		EXPECT_EQ(2 * K * ct_page_size(), v[2]);
		EXPECT_EQ(v[4], v[3]);		/* copies: regions = counters */
		EXPECT_EQ(v[6], v[5]);		/* zero fills */
		EXPECT_EQ(v[8], v[7]);		/* bytes */
		EXPECT_EQ(0, v[9]);		/* nothing lost */
	}
	snprintf(cmd, sizeof(cmd), "%s=1 %s --folded -o /dev/stdout -- \"$HELPER\"",
		 HELPER_ENV, cowstat_path());
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	EXPECT_EQ(HELPER_STATUS, st);
	snprintf(cmd, sizeof(cmd), ";anon;anon 0x");
	EXPECT_NE(NULL, strstr(out, cmd));
	{
		/* events_test;anon;anon 0xS-0xE 2K, the mapping of 2K pages */
		const char *p = out;
		int found = 0;

		while ((p = strstr(p, ";anon;anon 0x"))) {
			unsigned long lo, hi;
			unsigned int n;

			if (sscanf(p, ";anon;anon 0x%lx-0x%lx %u", &lo, &hi, &n) == 3 &&
			    (hi - lo) / ct_page_size() == 2 * K && n == 2 * K)
				found++;
			p++;
		}
		EXPECT_EQ(1, found);
	}
}

/*
 * cowstat -G -- CMD: the user function that wrote each copy.  The
 * helper's child made K copies in cowtrace_events_write_pages() and K
 * inline in helper() (this binary is built with frame pointers) in its
 * 2K-page mapping: the function table gives exactly K to each in that
 * region (a stack page may be copied by either too, wherever ASLR puts
 * the page boundary), and the child's functions sum to its procs row;
 * every fault came with its user stack.  With --folded, the stacks that
 * end helper;cowtrace_events_write_pages;REGION (that mapping) count
 * exactly K copies.
 */
TEST_F_TIMEOUT(events, cowstat_call_graph, 300)
{
	static char out[1 << 16];
	char cmd[2048], json[] = "/tmp/cowstat-cg-XXXXXX";
	unsigned long long v[7];
	const char *line, *p;
	char *end;
	int fd, st, k;
	unsigned long long named = 0;

	fd = mkstemp(json);
	ASSERT_LE(0, fd);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "%s=1 %s -G --json -o %s -- \"$HELPER\"; python3 -c '\n"
		 "import json, sys\n"
		 "r = json.load(open(sys.argv[1]))\n"
		 "child = [p for p in r[\"procs\"] if p[\"pid\"] != r[\"pid\"]][0]\n"
		 "mine = [f for f in r[\"functions\"] if f[\"pid\"] == child[\"pid\"]]\n"
		 "for f in mine: print(\"#\", f)\n"
		 "big = [w[\"region\"] for w in r[\"where\"] if w[\"pid\"] == child[\"pid\"] and w[\"copies\"] == %d]\n"
		 "def by(name, key=\"copies\"): return sum(f[key] for f in mine\n"
		 "    if f[\"function\"] == name and f[\"region\"] in big)\n"
		 "print(by(\"cowtrace_events_write_pages\"), by(\"helper\"),\n"
		 "      by(\"cowtrace_events_write_pages\", \"bytes_copied\"),\n"
		 "      sum(f[\"copies\"] for f in mine), child[\"copies\"] + child[\"file_copies\"],\n"
		 "      r[\"functions_without_stack\"], r[\"where_lost\"])\n"
		 "' %s; rm -f %s",
		 HELPER_ENV, cowstat_path(), json, 2 * K, json, json);
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	ASSERT_EQ(0, st);
	/* The helper's pid line, python's "#" lines, then the figures. */
	for (line = out; line && (*line == '#' || line == out); ) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	ASSERT_NE(NULL, line);
	end = (char *)line;
	for (k = 0; k < 7; k++) {
		const char *from = end;

		v[k] = strtoull(from, &end, 10);
		ASSERT_NE(from, end) TH_LOG("figure %d missing", k);
	}
	EXPECT_EQ(K, v[0]);			/* the named function */
	EXPECT_EQ(K, v[1]);			/* inline in its caller */
	EXPECT_EQ(K * ct_page_size(), v[2]);
	EXPECT_EQ(v[4], v[3]);			/* functions = counters */
	EXPECT_EQ(0, v[5]);			/* every fault had a stack */
	EXPECT_EQ(0, v[6]);			/* nothing lost */

	snprintf(cmd, sizeof(cmd), "%s=1 %s -G --folded -o /dev/stdout -- \"$HELPER\"",
		 HELPER_ENV, cowstat_path());
	st = run_sh(cmd, out, sizeof(out));
	fprintf(stderr, "%s", out);
	EXPECT_EQ(HELPER_STATUS, st);
	/* ...;helper;cowtrace_events_write_pages;anon 0xS-0xE K: the mapping */
	for (p = out; (p = strstr(p, ";helper;cowtrace_events_write_pages;anon 0x")); p++) {
		unsigned long lo, hi;
		unsigned int n;

		if (sscanf(p, ";helper;cowtrace_events_write_pages;anon 0x%lx-0x%lx %u",
			   &lo, &hi, &n) == 3 && (hi - lo) / ct_page_size() == 2 * K)
			named += n;
	}
	EXPECT_EQ(K, named);
}

/*
 * While an event is in use the module stays: rmmod is refused (in use:
 * EWOULDBLOCK from delete_module(O_NONBLOCK)),
 * for an enabled event and for a hist trigger left on one, and allowed
 * once they are gone (the control).  A trigger left on a module's event
 * at unload makes 6.12 warn (kernel/tracepoint.c), which is why.
 */
TEST_F(events, unload_refused_while_in_use)
{
	ASSERT_EQ(0, inst_make(&self->a, "cowtrace-events-busy", 64, true));
	EXPECT_EQ(-EWOULDBLOCK, ct_unload());
	EXPECT_TRUE(ct_loaded());
	ASSERT_EQ(0, inst_off(&self->a));
	ASSERT_EQ(0, inst_write(&self->a, "events/cowtrace/cow_fault/trigger",
				"hist:keys=common_pid,outcome:vals=bytes"));
	EXPECT_EQ(-EWOULDBLOCK, ct_unload());
	EXPECT_TRUE(ct_loaded());
	ASSERT_EQ(0, inst_remove(&self->a));
	ASSERT_EQ(0, ct_unload());
	EXPECT_FALSE(ct_loaded());
	ASSERT_EQ(0, ct_load(""));
}

TEST_HARNESS_MAIN

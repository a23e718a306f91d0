// SPDX-License-Identifier: GPL-2.0
/*
 * Load and unload cowtrace at least 200 times while four threads
 * fork-storm (two-level trees, every process writing shared pages) and
 * until at least 20,000 processes were forked.  After every unload no
 * probe is left in kprobes/list and no cowtrace file or module object
 * remains; afterwards the kernel's slab, vmalloc and per-CPU usage are
 * back where they were after the first cycles (warm caches), within the
 * tolerances below, and the kernel log is clean (selftests/testbed/vm-run).
 *
 * scripts/check runs this in its own guest boot under single-threaded
 * TCG (vm-run -A tcg,thread=single): under qemu's multi-threaded TCG,
 * removing any ftrace-based kprobe from a function other vCPUs are
 * running can execute a stale int3 (the kernel's own
 * samples/kprobes/kprobe_example crashes the same way); see
 * Documentation/cowtrace.rst, "Unloading under load".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define WORKERS		4
#define MIN_CYCLES	200
#define MIN_FORKS	20000
#define WARM_CYCLES	20
/* A leak of one pool, debugfs file or probe per cycle exceeds these. */
#define TOL_VMALLOC_KIB	256
#define TOL_PERCPU_KIB	64
#define TOL_SLAB_KIB	1024

static int stop;	/* __atomic: the workers poll it */
static long forks_done;
static pthread_mutex_t forks_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fork trees two levels deep; each process writes a few shared pages. */
static void *fork_storm(void *arg)
{
	char *buf = ct_map_anon(16, true);

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		pid_t pid = fork();

		if (pid == 0) {
			ct_touch(buf, 4 * 4096, 4096);
			if (fork() == 0) {
				ct_touch(buf, 8 * 4096, 4096);
				_exit(0);
			}
			wait(NULL);
			_exit(0);
		}
		if (pid > 0) {
			waitpid(pid, NULL, 0);
			pthread_mutex_lock(&forks_lock);
			forks_done += 2;
			pthread_mutex_unlock(&forks_lock);
		}
	}
	return NULL;
}

static long forks_now(void)
{
	long n;

	pthread_mutex_lock(&forks_lock);
	n = forks_done;
	pthread_mutex_unlock(&forks_lock);
	return n;
}

static void storm(pthread_t *t, bool start)
{
	int i;

	if (start) {
		__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
		for (i = 0; i < WORKERS; i++)
			pthread_create(&t[i], NULL, fork_storm, NULL);
		return;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
}

struct mem {
	long slab, vmalloc, percpu;
};

static long meminfo(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Memory with the caches dropped and no storm running. */
static struct mem measure(void)
{
	struct mem m;
	char *text;
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");

	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	text = ct_slurp("/proc/meminfo", NULL);
	m.slab = text ? meminfo(text, "\nSlab:") : -1;
	m.vmalloc = text ? meminfo(text, "\nVmallocUsed:") : -1;
	m.percpu = text ? meminfo(text, "\nPercpu:") : -1;
	free(text);
	return m;
}

/* One cycle: load, read every file, unload; nothing may remain. */
static int cycle(long n, const char *probes_before)
{
	char *list;
	int i, ret;

	ret = ct_load(n % 2 ? "fork_scan=1" : "");
	if (ret)
		return ret;
	ct_read_file("procs");
	ct_read_file("stats");
	ct_read_file("probes");
	/* A forked child may hold an open cowtrace file a moment. */
	for (i = 0; i < 1000 && (ret = ct_unload()) == -EAGAIN; i++)
		usleep(10000);
	if (ret)
		return ret;
	if (ct_loaded() || !access(CT_DIR, F_OK) ||
	    !access("/sys/module/cowtrace", F_OK))
		return -EEXIST;
	list = ct_slurp("/sys/kernel/debug/kprobes/list", NULL);
	ret = list && !strcmp(list, probes_before) ? 0 : -EBUSY;
	free(list);
	return ret;
}

FIXTURE(unload) {
	char unused;
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

TEST_F_TIMEOUT(unload, load_unload_under_fork_storm, 3600)
{
	pthread_t t[WORKERS];
	struct mem warm, end;
	char *before;
	long n = 0;

	if (ct_loaded())
		ASSERT_EQ(0, ct_unload());
	before = ct_slurp("/sys/kernel/debug/kprobes/list", NULL);
	ASSERT_NE(NULL, before);

	storm(t, true);
	for (; n < WARM_CYCLES; n++)
		ASSERT_EQ(0, cycle(n, before)) TH_LOG("cycle %ld", n);
	storm(t, false);
	warm = measure();

	storm(t, true);
	for (; n < MIN_CYCLES || forks_now() < MIN_FORKS; n++)
		ASSERT_EQ(0, cycle(n, before)) TH_LOG("cycle %ld", n);
	storm(t, false);
	end = measure();

	TH_LOG("%ld load/unload cycles, %ld processes forked", n, forks_now());
	TH_LOG("KiB after cycle %d -> after cycle %ld: Slab %ld -> %ld,",
	       WARM_CYCLES, n, warm.slab, end.slab);
	TH_LOG("VmallocUsed %ld -> %ld, Percpu %ld -> %ld",
	       warm.vmalloc, end.vmalloc, warm.percpu, end.percpu);
	EXPECT_LE(MIN_CYCLES, n);
	EXPECT_LE(MIN_FORKS, forks_now());
	ASSERT_LT(0, warm.slab);
	ASSERT_LT(0, warm.vmalloc);
	ASSERT_LT(0, warm.percpu);
	EXPECT_GE(TOL_SLAB_KIB, end.slab - warm.slab);
	EXPECT_GE(TOL_VMALLOC_KIB, end.vmalloc - warm.vmalloc);
	EXPECT_GE(TOL_PERCPU_KIB, end.percpu - warm.percpu);
	free(before);
}

TEST_HARNESS_MAIN

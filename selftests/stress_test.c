// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: cowtrace's accounting under load, in the guest, on each kernel.
 *
 * Loaded once with a table large enough to drop and evict nothing, the
 * module watches, all at the same time:
 *
 *  - a fork storm: two workers fork trees six levels deep, two children
 *    per node (at least 20,000 forks).  Every node gets a unique comm
 *    ("cts<serial>"), writes pid % 7 + 1 pages its ancestors share with
 *    it, and every 16th moves itself to another cgroup; every 8th leaf
 *    starts two threads writing shared pages and exits (exit_group) while
 *    they are in their write faults;
 *  - batches of verified processes, forked by the observer: chains five
 *    processes deep that each write pid % 7 + 1 shared pages and change
 *    comm and cgroup between two snapshots of procs; a multithreaded
 *    process whose threads, pinned to every CPU, write the same shared
 *    pages; and a multithreaded process that exits while its threads are
 *    writing.  Every one of them warms up (stack, rseq area) before the
 *    first snapshot, so the difference between the snapshots is exactly
 *    what it was told to do;
 *  - a reader thread sampling stats and procs all along.
 *
 * Then: the sum over procs equals stats for every counter, nothing was
 * dropped or missed, no counter went backwards or past 2^62, each storm
 * node's row has its own pid, parent, comm and exact fork count, each
 * parent's "shared" equals its children's "inherited", and every
 * verified process got exactly its own copies.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "kselftest.h"
#include "cowtrace_test.h"

#define WORKERS		2
#define DEPTH		6	/* levels of nodes below a worker */
#define FAN		2	/* children per node */
#define TREES		80	/* per worker */
/* Nodes at each level of a tree, FAN^level; a tree has DEPTH levels (8 at most). */
enum { LEVEL1 = FAN, LEVEL2 = LEVEL1 * FAN, LEVEL3 = LEVEL2 * FAN, LEVEL4 = LEVEL3 * FAN,
	LEVEL5 = LEVEL4 * FAN, LEVEL6 = LEVEL5 * FAN, LEVEL7 = LEVEL6 * FAN,
	LEVEL8 = LEVEL7 * FAN };
/* Forks of one tree: FAN + FAN^2 + ... + FAN^DEPTH. */
#define TREE_FORKS	(LEVEL1 + (DEPTH >= 2 ? LEVEL2 : 0) + (DEPTH >= 3 ? LEVEL3 : 0) + \
			 (DEPTH >= 4 ? LEVEL4 : 0) + (DEPTH >= 5 ? LEVEL5 : 0) + \
			 (DEPTH >= 6 ? LEVEL6 : 0) + (DEPTH >= 7 ? LEVEL7 : 0) + \
			 (DEPTH >= 8 ? LEVEL8 : 0))
#define LEVEL_DEPTH	(DEPTH == 1 ? LEVEL1 : DEPTH == 2 ? LEVEL2 : DEPTH == 3 ? LEVEL3 : \
			 DEPTH == 4 ? LEVEL4 : DEPTH == 5 ? LEVEL5 : DEPTH == 6 ? LEVEL6 : \
			 DEPTH == 7 ? LEVEL7 : LEVEL8)
static_assert(DEPTH >= 1 && DEPTH <= 8, "TREE_FORKS sums 8 levels at most");
static_assert(TREE_FORKS * (FAN - 1) == FAN * (LEVEL_DEPTH - 1),
	      "TREE_FORKS is the geometric series FAN (FAN^DEPTH - 1) / (FAN - 1)");
#define MIN_FORKS	20000
#define MAX_RECS	(WORKERS * (1 + TREES * TREE_FORKS))
#define REGION		64	/* pages of a worker's region */
#define MF_EVERY	8	/* every 8th leaf exits mid-fault */
#define MF_FIRST	8	/* its threads write pages MF_FIRST.. */
#define CG_EVERY	16	/* every 16th node changes cgroup */
/*
 * A node's own incidental copies (stack, libc data after fork), at most:
 * measured 15 on 6.12 and 14 on 6.1 over 20,162 nodes each (the
 * "copies beyond the pages written" line), plus a margin of 9 for the
 * tail of that distribution.  It bounds incidental copies, not double
 * counting: a node that wrote 7 pages and was counted twice for them
 * (14, plus up to 15 incidental) can stay under 7 + SLACK.  Double
 * counting is what the verified batches catch, exactly.
 */
#define SLACK		24

#define BATCHES		8	/* spread over the storm */
#define CHAINS		4
#define CHAIN_DEPTH	5
#define NV		(CHAINS * CHAIN_DEPTH + 2)	/* + MT + MF */
#define V_MT		(NV - 2)
#define V_MF		(NV - 1)
#define MT_PAGES	128
#define MF_PAGES	256
#define MF_TRIGGER	16
#define MAX_CPUS	64

#define WRAP_LIMIT	0x4000000000000000ULL	/* 2^62 */
#define TIMEOUT_MS	(300 * 1000)

/* The TAP results main() reports, in order: the plan is their number. */
enum {
	R_LOADED, R_STORM, R_STORM_ROWS, R_STORM_SHARED, R_STORM_COPIES,
	R_CHAINS, R_SAME_PAGE, R_MID_FAULT, R_EXITED_ROWS, R_MONOTONIC,
	R_NOT_AHEAD, R_NOTHING_LOST, R_SUMS, R_ENTRIES, R_UNLOADS,
	PLAN
};

enum { S_ALIVE, S_EXITED, S_OTHER };

/* One storm node, written by the node itself. */
struct rec {
	int pid;
	int ppid;
	int parent;	/* serial of the parent node; -1 for a worker */
	int level;	/* 0 for a worker */
	int forks;
	int pages;
	int mid_fault;
};

/* One verified process of the current batch. */
struct vproc {
	int pid;
	int ppid;
	int pages;
	int next;	/* chain: index of its child, or -1 */
};

/* MAP_SHARED: every process of the test writes here. */
struct shm {
	long forks;		/* successful fork() calls */
	long errors;		/* failures inside children */
	long cg_moves;
	int nrec;
	long mf_claimed;
	long mf_done;
	struct vproc v[NV];
	struct rec rec[MAX_RECS];
};

struct row {
	int pid;
	int ppid;
	int state;
	char comm[16];
	unsigned long long inherited;
	unsigned long long v[C_NCOLS];
};

struct table {
	char *text;
	size_t len;
	struct row *rows;
	size_t n;
	size_t rcap;
	int *order;		/* row indices sorted by pid */
};

struct stats {
	unsigned long long v[C_NCOLS];
	unsigned long long procs;
	unsigned long long alive;
	unsigned long long exited;
	unsigned long long dropped;
	unsigned long long missed;
	unsigned long long evicted;
	bool ok;
};

/* What the reader thread saw. */
struct reader {
	pthread_t thread;
	int stop;
	long stats_samples;
	long procs_samples;
	long compared;
	long backwards;
	long wrapped;
	long ahead;
	long shrunk;
	long errors;
	char first[512];
};

/* The batch being run; children only read it. */
struct batch {
	int index;
	int ready[2];
	int go[2];
	int done[2];
	int quit[2];
	char *chain_region;
	char *mt_region;
	char *mf_region;
};

static struct shm *sh;
static struct batch cur;
static size_t ps;
static int ncpus;
static int cpus[MAX_CPUS];
static bool cg_ok;
static const char *const cg_dir[2] = {
	"/sys/fs/cgroup/cowtrace-stress-a", "/sys/fs/cgroup/cowtrace-stress-b",
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void child_error(void)
{
	__atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
}

static pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid > 0)
		__atomic_add_fetch(&sh->forks, 1, __ATOMIC_SEQ_CST);
	return pid;
}

static void set_comm(const char *prefix, int a, int b)
{
	char name[16];

	if (b < 0)
		snprintf(name, sizeof(name), "%s%d", prefix, a);
	else
		snprintf(name, sizeof(name), "%s%d.%d", prefix, a, b);
	if (prctl(PR_SET_NAME, name))
		child_error();
}

/* Move the calling process to cgroup @which ("0" means the writer). */
static void cg_move(int which)
{
	char path[128];
	int fd;

	if (!cg_ok)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir[which]);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		child_error();
	else
		__atomic_add_fetch(&sh->cg_moves, 1, __ATOMIC_RELAXED);
	if (fd >= 0)
		close(fd);
}

/*
 * Make every page this process may touch later its own: 64 KiB of stack
 * below the caller, and the rseq area the kernel writes on return to
 * user space after the task was switched out.
 */
static void warm(void)
{
	ct_warm_stack();
	ct_warm_rseq();
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		child_error();
}

/* ---- the storm ---------------------------------------------------------- */

struct leaf {
	char *region;
	int fd[2];
	int next;
	int done;
};

static void *leaf_writer(void *arg)
{
	struct leaf *l = arg;
	int i;

	for (;;) {
		i = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
		if (i >= REGION - MF_FIRST)
			return NULL;
		l->region[(MF_FIRST + i) * ps] = 1;
		if (__atomic_add_fetch(&l->done, 1, __ATOMIC_RELAXED) == 4)
			ct_send(l->fd[1]);
	}
}

/* Start two writers; exit the whole process once they are under way. */
static __noreturn void leaf_mid_fault_exit(char *region)
{
	struct leaf l = { .region = region };
	pthread_t t[2];
	int i;

	if (pipe(l.fd)) {
		child_error();
		_exit(1);
	}
	for (i = 0; i < 2; i++) {
		if (pthread_create(&t[i], NULL, leaf_writer, &l)) {
			child_error();
			_exit(1);
		}
	}
	ct_recv(l.fd[0]);
	_exit(0);
}

static __noreturn void node(char *region, int parent, int level)
{
	int serial = __atomic_fetch_add(&sh->nrec, 1, __ATOMIC_SEQ_CST);
	struct rec *r;
	pid_t pid;
	int i;

	if (serial >= MAX_RECS) {
		child_error();
		_exit(1);
	}
	r = &sh->rec[serial];
	r->pid = getpid();
	r->ppid = getppid();
	r->parent = parent;
	r->level = level;
	set_comm("cts", serial, -1);
	r->pages = getpid() % 7 + 1;
	ct_touch(region, r->pages * ps, ps);
	if (serial % CG_EVERY == 0)
		cg_move(serial / CG_EVERY % 2);
	if (level == DEPTH) {
		if (serial % MF_EVERY == 0) {
			r->mid_fault = 1;
			leaf_mid_fault_exit(region);
		}
		_exit(0);
	}
	for (i = 0; i < FAN; i++) {
		pid = xfork();
		if (pid == 0)
			node(region, serial, level + 1);
		if (pid < 0)
			child_error();
		else
			r->forks++;
	}
	while (wait(NULL) > 0)
		;
	_exit(0);
}

/*
 * A worker: TREES trees, one after the other.  Worker 0 reports each tree
 * done on @progress, so that the observer spreads its batches over the
 * storm.
 */
static __noreturn void worker(int w, int progress)
{
	int serial = __atomic_fetch_add(&sh->nrec, 1, __ATOMIC_SEQ_CST);
	struct rec *r = &sh->rec[serial];
	char *region = ct_map_anon(REGION, true);
	int t, i;
	pid_t pid;

	r->pid = getpid();
	r->ppid = getppid();
	r->parent = -1;
	set_comm("cts", serial, -1);
	if (!region) {
		child_error();
		_exit(1);
	}
	for (t = 0; t < TREES; t++) {
		for (i = 0; i < FAN; i++) {
			pid = xfork();
			if (pid == 0)
				node(region, serial, 1);
			if (pid < 0)
				child_error();
			else
				r->forks++;
		}
		while (wait(NULL) > 0)
			;
		if (w == 0)
			ct_send(progress);
	}
	_exit(0);
}

/* ---- reading cowtrace's files ------------------------------------------- */

static int slurp(const char *name, struct table *t)
{
	free(t->text);
	t->text = ct_slurp(name, &t->len);
	return t->text ? 0 : -errno;
}

static int read_stats(struct stats *s)
{
	static const char *const extra[] = {
		"procs", "procs_alive", "procs_exited", "dropped", "missed",
		"evicted",
	};
	unsigned long long *dst[] = {
		&s->procs, &s->alive, &s->exited, &s->dropped, &s->missed,
		&s->evicted,
	};
	struct table t = { 0 };
	char *line, *save, *val;
	int i, found = 0;

	memset(s, 0, sizeof(*s));
	if (slurp("stats", &t)) {
		free(t.text);
		return -1;
	}
	for (line = strtok_r(t.text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		val = strchr(line, ':');
		if (!val)
			continue;
		*val++ = '\0';
		while (*val == ' ')
			val++;
		for (i = 0; i < C_NCOLS; i++) {
			if (!strcmp(line, ct_col_names[i])) {
				s->v[i] = ct_value(val);
				found++;
			}
		}
		for (i = 0; i < (int)ARRAY_SIZE(extra); i++) {
			if (!strcmp(line, extra[i])) {
				*dst[i] = ct_value(val);
				found++;
			}
		}
	}
	free(t.text);
	s->ok = found == C_NCOLS + (int)ARRAY_SIZE(extra);
	return s->ok ? 0 : -1;
}

static const struct table *sort_table;

static int by_pid(const void *a, const void *b)
{
	const struct row *x = &sort_table->rows[*(const int *)a];
	const struct row *y = &sort_table->rows[*(const int *)b];

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Read and parse procs; rows in table order, t->order by pid. */
static int read_procs(struct table *t)
{
	int map[64], ncols;
	char *line, *save;
	struct ct_row cr;
	struct row *r;

	t->n = 0;
	if (slurp("procs", t))
		return -1;
	line = strtok_r(t->text, "\n", &save);
	if (!line)
		return -1;
	ncols = ct_procs_header(line, map, ARRAY_SIZE(map));
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (t->n == t->rcap) {
			t->rcap = t->rcap ? t->rcap * 2 : 32768;
			t->rows = realloc(t->rows, t->rcap * sizeof(*t->rows));
			t->order = realloc(t->order, t->rcap * sizeof(*t->order));
			if (!t->rows || !t->order)
				exit(2);
		}
		r = &t->rows[t->n];
		ct_parse_row(line, map, ncols, &cr);
		r->pid = cr.pid;
		r->ppid = cr.ppid;
		snprintf(r->comm, sizeof(r->comm), "%.15s", cr.comm);
		r->state = !strcmp(cr.state, "alive") ? S_ALIVE :
			   !strcmp(cr.state, "exited") ? S_EXITED : S_OTHER;
		r->inherited = cr.inherited;
		memcpy(r->v, cr.v, sizeof(r->v));
		t->order[t->n] = t->n;
		t->n++;
	}
	sort_table = t;
	qsort(t->order, t->n, sizeof(*t->order), by_pid);
	return 0;
}

/* The row of process @pid whose comm is @comm; NULL unless exactly one. */
static const struct row *find_row(const struct table *t, int pid,
				  const char *comm)
{
	const struct row *found = NULL;
	size_t lo = 0, hi = t->n, i;

	while (lo < hi) {	/* first row with this pid */
		size_t mid = (lo + hi) / 2;

		if (t->rows[t->order[mid]].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < t->n && t->rows[t->order[i]].pid == pid; i++) {
		const struct row *r = &t->rows[t->order[i]];

		if (strcmp(r->comm, comm))
			continue;
		if (found)
			return NULL;
		found = r;
	}
	return found;
}

static void table_free(struct table *t)
{
	free(t->text);
	free(t->rows);
	free(t->order);
	memset(t, 0, sizeof(*t));
}

/* ---- the reader thread ---------------------------------------------------- */

static void note(struct reader *rd, const char *fmt, const char *what,
		 long long a, long long b)
{
	if (!rd->first[0])
		snprintf(rd->first, sizeof(rd->first), fmt, what, a, b);
}

static void check_stats(struct reader *rd, const struct stats *a,
			const struct stats *b)
{
	int c;

	for (c = 0; c < C_NCOLS; c++) {
		if (b->v[c] == CT_UNSET)
			continue;
		if (b->v[c] >= WRAP_LIMIT) {
			rd->wrapped++;
			note(rd, "stats %s = %lld (%lld)", ct_col_names[c], b->v[c], 0);
		}
		if (a->v[c] != CT_UNSET && b->v[c] < a->v[c]) {
			rd->backwards++;
			note(rd, "stats %s went from %lld to %lld", ct_col_names[c],
			     a->v[c], b->v[c]);
		}
	}
	if (b->dropped < a->dropped || b->missed < a->missed ||
	    b->procs < a->procs || b->exited < a->exited) {
		rd->backwards++;
		note(rd, "stats %s went backwards (%lld entries, before %lld)",
		     "procs/exited/dropped/missed", b->procs, a->procs);
	}
}

/*
 * The same entry in two snapshots: ppid never changes, exited stays
 * exited, inherited never changes (it is set before the entry is
 * published).
 */
static void check_row(struct reader *rd, const struct row *x,
		      const struct row *y)
{
	if (x->ppid != y->ppid) {
		rd->backwards++;
		note(rd, "procs %s of pid %lld changed to %lld", "ppid", x->pid, y->ppid);
	}
	if (x->state == S_EXITED && y->state != S_EXITED) {
		rd->backwards++;
		note(rd, "procs %s of pid %lld: exited, then %lld", "state", x->pid,
		     y->state);
	}
	if (x->inherited == y->inherited)
		return;
	rd->backwards++;
	note(rd, "procs %s of pid %lld changed to %lld", "inherited", x->pid,
	     y->inherited);
}

/* Rows of a pid that is in both tables exactly once are the same entry. */
static void check_procs(struct reader *rd, const struct table *a,
			const struct table *b)
{
	size_t i = 0, j = 0, ni, nj;
	const struct row *x, *y;
	int c;

	if (b->n < a->n) {
		rd->shrunk++;
		note(rd, "%s: %lld rows after %lld", "procs shrank", b->n, a->n);
	}
	while (i < a->n && j < b->n) {
		x = &a->rows[a->order[i]];
		y = &b->rows[b->order[j]];
		if (x->pid != y->pid) {
			if (x->pid < y->pid)
				i++;
			else
				j++;
			continue;
		}
		for (ni = i + 1; ni < a->n && a->rows[a->order[ni]].pid == x->pid; ni++)
			;
		for (nj = j + 1; nj < b->n && b->rows[b->order[nj]].pid == y->pid; nj++)
			;
		if (ni - i == 1 && nj - j == 1) {
			rd->compared++;
			check_row(rd, x, y);
			for (c = 0; c < C_NCOLS; c++) {
				if (x->v[c] == CT_UNSET || y->v[c] == CT_UNSET)
					continue;
				if (y->v[c] < x->v[c]) {
					rd->backwards++;
					note(rd, "procs %s of pid %lld went backwards (to %lld)",
					     ct_col_names[c], x->pid, y->v[c]);
				}
			}
		}
		i = ni;
		j = nj;
	}
}

/* Every value below 2^62; the sum over procs never ahead of stats after. */
static void check_snapshot(struct reader *rd, const struct table *t,
			   const struct stats *after)
{
	unsigned long long sum[C_NCOLS] = { 0 };
	size_t i;
	int c;

	for (i = 0; i < t->n; i++) {
		for (c = 0; c < C_NCOLS; c++) {
			unsigned long long v = t->rows[i].v[c];

			if (v == CT_UNSET)
				continue;
			if (v >= WRAP_LIMIT) {
				rd->wrapped++;
				note(rd, "procs %s = %lld (pid %lld)", ct_col_names[c],
				     v, t->rows[i].pid);
			}
			sum[c] += v;
		}
	}
	for (c = 0; c < C_NCOLS; c++) {
		if (after->v[c] == CT_UNSET)
			continue;
		if (sum[c] > after->v[c]) {
			rd->ahead++;
			note(rd, "sum of procs %s %lld > stats %lld read after",
			     ct_col_names[c], sum[c], after->v[c]);
		}
	}
}

static void *reader_main(void *arg)
{
	struct table tabs[2] = { 0 };
	struct stats s[2];
	struct timespec pace = { 0, 300 * 1000 * 1000 };
	struct reader *rd = arg;
	int cur_t = 0, cur_s = 0, k;
	bool have_t = false;

	if (read_stats(&s[0])) {
		rd->errors++;
		return NULL;
	}
	while (!__atomic_load_n(&rd->stop, __ATOMIC_ACQUIRE)) {
		for (k = 0; k < 8; k++) {
			if (read_stats(&s[!cur_s])) {
				rd->errors++;
				continue;
			}
			check_stats(rd, &s[cur_s], &s[!cur_s]);
			cur_s = !cur_s;
			rd->stats_samples++;
		}
		if (read_procs(&tabs[!cur_t]) || read_stats(&s[!cur_s])) {
			rd->errors++;
			continue;
		}
		check_stats(rd, &s[cur_s], &s[!cur_s]);
		cur_s = !cur_s;
		rd->stats_samples++;
		check_snapshot(rd, &tabs[!cur_t], &s[cur_s]);
		if (have_t)
			check_procs(rd, &tabs[cur_t], &tabs[!cur_t]);
		cur_t = !cur_t;
		have_t = true;
		rd->procs_samples++;
		/* Pace, not synchronise: leave the CPUs to the storm a while. */
		nanosleep(&pace, NULL);
	}
	table_free(&tabs[0]);
	table_free(&tabs[1]);
	return NULL;
}

/* ---- verified batches ------------------------------------------------------ */

static __noreturn void chain_proc(int idx)
{
	struct vproc *v = &sh->v[idx];
	bool last = (idx + 1) % CHAIN_DEPTH == 0;
	pid_t next = 0;

	if (!last) {
		next = xfork();
		if (next == 0)
			chain_proc(idx + 1);
		if (next < 0) {
			child_error();
			_exit(1);
		}
	}
	v->pid = getpid();
	v->ppid = getppid();
	v->pages = getpid() % 7 + 1;
	v->next = last ? -1 : idx + 1;
	set_comm("cta", cur.index, idx);
	cg_move(0);
	warm();
	ct_send(cur.ready[1]);
	ct_recv(cur.go[0]);
	/* Measured: exactly v->pages copies, nothing else. */
	ct_touch(cur.chain_region, v->pages * ps, ps);
	set_comm("ctb", cur.index, idx);
	cg_move(1);
	ct_send(cur.done[1]);
	ct_recv(cur.quit[0]);
	if (next > 0)
		waitpid(next, NULL, 0);
	_exit(0);
}

struct mt {
	int up[2];
	int tgo[2];
	int tdone[2];
	int never[2];
	int left;
	int arrived;
	int nthreads;
	char *region;
	int pages;
	bool mid_fault;
};

struct mt_arg {
	struct mt *m;
	int cpu;
};

/* All threads write the same pages, in the same order. */
static void mt_write(struct mt *m)
{
	int i;

	/* Start together, so that the threads' faults overlap. */
	__atomic_add_fetch(&m->arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&m->arrived, __ATOMIC_ACQUIRE) < m->nthreads)
		sched_yield();
	for (i = 0; i < m->pages; i++)
		m->region[i * ps] = (char)i;
	if (__atomic_sub_fetch(&m->left, 1, __ATOMIC_ACQ_REL) == 0)
		ct_send(m->tdone[1]);
}

/* Each thread claims the next page; the process exits mid-way. */
static void mf_write(struct mt *m)
{
	long i;

	for (;;) {
		i = __atomic_fetch_add(&sh->mf_claimed, 1, __ATOMIC_SEQ_CST);
		if (i >= m->pages)
			return;
		m->region[i * ps] = 1;
		if (__atomic_add_fetch(&sh->mf_done, 1, __ATOMIC_SEQ_CST) == MF_TRIGGER)
			ct_send(m->tdone[1]);
	}
}

static void *mt_thread(void *arg)
{
	struct mt_arg *a = arg;
	struct mt *m = a->m;

	pin(a->cpu);
	warm();
	ct_send(m->up[1]);
	ct_recv(m->tgo[0]);
	if (m->mid_fault)
		mf_write(m);
	else
		mt_write(m);
	ct_recv(m->never[0]);	/* until the process exits */
	return NULL;
}

static __noreturn void mt_proc(int idx)
{
	struct mt_arg args[2 * MAX_CPUS];
	struct vproc *v = &sh->v[idx];
	pthread_t t[2 * MAX_CPUS];
	struct mt m = { 0 };
	int i;

	m.mid_fault = idx == V_MF;
	m.region = m.mid_fault ? cur.mf_region : cur.mt_region;
	m.pages = m.mid_fault ? MF_PAGES : MT_PAGES;
	m.nthreads = m.mid_fault ? ncpus : 2 * ncpus;
	m.left = m.nthreads;
	v->pid = getpid();
	v->ppid = getppid();
	v->pages = m.pages;
	v->next = -1;
	set_comm(m.mid_fault ? "ctf" : "ctm", cur.index, -1);
	if (pipe(m.up) || pipe(m.tgo) || pipe(m.tdone) || pipe(m.never)) {
		child_error();
		_exit(1);
	}
	warm();
	for (i = 0; i < m.nthreads; i++) {
		args[i].m = &m;
		args[i].cpu = cpus[i % ncpus];
		if (pthread_create(&t[i], NULL, mt_thread, &args[i])) {
			child_error();
			_exit(1);
		}
	}
	for (i = 0; i < m.nthreads; i++)
		ct_recv(m.up[0]);
	ct_send(cur.ready[1]);
	ct_recv(cur.go[0]);
	for (i = 0; i < m.nthreads; i++)
		ct_send(m.tgo[1]);
	ct_recv(m.tdone[0]);
	if (m.mid_fault)
		_exit(0);	/* exit_group with the writers in their faults */
	ct_send(cur.done[1]);
	ct_recv(cur.quit[0]);
	_exit(0);
}

/* Receive @n one-byte messages; how many came before the timeout. */
static int recv_n(int fd, int n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];
	int got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&p, 1, TIMEOUT_MS) != 1)
			break;
		r = read(fd, buf, n - got < (int)sizeof(buf) ? n - got : (int)sizeof(buf));
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

static void send_n(int fd, int n)
{
	while (n-- > 0)
		ct_send(fd);
}

static const char *vcomm(int batch, int idx, bool after)
{
	static char name[16];

	if (idx == V_MT)
		snprintf(name, sizeof(name), "ctm%d", batch);
	else if (idx == V_MF)
		snprintf(name, sizeof(name), "ctf%d", batch);
	else
		snprintf(name, sizeof(name), "%s%d.%d", after ? "ctb" : "cta",
			 batch, idx);
	return name;
}

/* Results of the verified batches, for the TAP lines. */
struct vres {
	long chain_ok, chain_bad;
	long mt_ok, mt_bad, mt_races;
	long mf_ok, mf_bad, mf_inflight;
	long exited_ok, exited_bad;
	long lost;
};

static __printf(2, 3) void vfail(long *bad, const char *fmt, ...)
{
	va_list ap;

	(*bad)++;
	if (*bad > 5)
		return;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* The first counter not in @allowed that moved from @a to @b; -1 if none. */
static int moved_others(const struct row *a, const struct row *b,
			unsigned long allowed)
{
	return ct_first_moved(a->v, b->v, allowed);
}

static const char *moved_name(int c)
{
	return c >= 0 ? ct_col_names[c] : "nothing else";
}

static unsigned long long d(const struct row *a, const struct row *b, int c)
{
	return b->v[c] - a->v[c];
}

/* The rows of the previous batch: exited, counters as they were in S2. */
static void check_exited(const struct table *t, int batch, const int *pids,
			 const struct row *s2, struct vres *res)
{
	const struct row *r;
	int i, c;

	for (i = 0; i < NV; i++) {
		if (!pids[i])
			continue;
		r = find_row(t, pids[i], vcomm(batch, i, true));
		if (!r || r->state != S_EXITED) {
			vfail(&res->exited_bad, "batch %d: %s (pid %d) not found exited",
			      batch, vcomm(batch, i, true), pids[i]);
			continue;
		}
		c = moved_others(&s2[i], r, 0);
		if (c >= 0)
			vfail(&res->exited_bad,
			      "batch %d: pid %d %s moved after its work (%llu -> %llu)",
			      batch, pids[i], ct_col_names[c], s2[i].v[c], r->v[c]);
		else
			res->exited_ok++;
	}
}

static void kill_batch(pid_t *heads, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (heads[i] > 0) {
			kill(heads[i], SIGKILL);
			waitpid(heads[i], NULL, 0);
		}
	}
}

static int run_batch(int b, struct table *snap, int *prev_batch, int *prev_pids,
		     struct row *prev_s2, struct vres *res)
{
	pid_t heads[CHAINS + 2];
	struct row s1[NV], s2[NV];
	const struct row *r, *rn;
	siginfo_t info;
	long claimed, done;
	int i, c, nheads = 0;

	memset(&cur, 0, sizeof(cur));
	cur.index = b;
	if (pipe(cur.ready) || pipe(cur.go) || pipe(cur.done) || pipe(cur.quit))
		return -1;
	cur.chain_region = ct_map_anon(8, true);
	cur.mt_region = ct_map_anon(MT_PAGES, true);
	cur.mf_region = ct_map_anon(MF_PAGES, true);
	if (!cur.chain_region || !cur.mt_region || !cur.mf_region)
		return -1;
	memset(sh->v, 0, sizeof(sh->v));
	sh->mf_claimed = 0;
	sh->mf_done = 0;
	fflush(stdout);
	for (i = 0; i < CHAINS + 2; i++) {
		pid_t pid = xfork();

		if (pid == 0) {
			if (i < CHAINS)
				chain_proc(i * CHAIN_DEPTH);
			mt_proc(i == CHAINS ? V_MT : V_MF);
		}
		if (pid < 0) {
			kill_batch(heads, nheads);
			return -1;
		}
		heads[nheads++] = pid;
	}
	if (recv_n(cur.ready[0], NV) != NV) {
		printf("# batch %d: not every process got ready\n", b);
		kill_batch(heads, nheads);
		return -1;
	}

	/* S1: also the previous batch's "after exit" snapshot. */
	if (read_procs(snap))
		return -1;
	if (*prev_batch >= 0)
		check_exited(snap, *prev_batch, prev_pids, prev_s2, res);
	for (i = 0; i < NV; i++) {
		r = find_row(snap, sh->v[i].pid, vcomm(b, i, false));
		if (!r || r->state != S_ALIVE || r->ppid != sh->v[i].ppid) {
			printf("# batch %d: no live row for %s (pid %d)\n", b,
			       vcomm(b, i, false), sh->v[i].pid);
			kill_batch(heads, nheads);
			return -1;
		}
		s1[i] = *r;
	}
	for (i = 0; i < CHAINS * CHAIN_DEPTH; i++) {
		struct vproc *v = &sh->v[i];

		if (v->next < 0) {
			if (s1[i].v[C_FORKS] != 0)
				vfail(&res->chain_bad, "batch %d: %d forks %llu, expected 0",
				      b, v->pid, s1[i].v[C_FORKS]);
			continue;
		}
		rn = &s1[v->next];
		if (s1[i].v[C_FORKS] != 1 || rn->ppid != v->pid ||
		    rn->inherited == 0 || s1[i].v[C_SHARED] != rn->inherited)
			vfail(&res->chain_bad,
			      "batch %d: pid %d forks %llu shared %llu, child %d ppid %d inherited %llu",
			      b, v->pid, s1[i].v[C_FORKS], s1[i].v[C_SHARED],
			      rn->pid, rn->ppid, rn->inherited);
	}

	send_n(cur.go[1], NV);
	if (recv_n(cur.done[0], NV - 1) != NV - 1 ||
	    waitid(P_PID, heads[CHAINS + 1], &info, WEXITED | WNOWAIT)) {
		printf("# batch %d: not every process got done\n", b);
		kill_batch(heads, nheads);
		return -1;
	}
	claimed = sh->mf_claimed < MF_PAGES ? sh->mf_claimed : MF_PAGES;
	done = sh->mf_done;

	/* S2: each process did exactly what it was told, under its pid. */
	if (read_procs(snap))
		return -1;
	for (i = 0; i < NV; i++) {
		r = find_row(snap, sh->v[i].pid, vcomm(b, i, true));
		if (!r) {
			vfail(i < V_MT ? &res->chain_bad : i == V_MT ? &res->mt_bad : &res->mf_bad,
			      "batch %d: no row for %s (pid %d)", b, vcomm(b, i, true),
			      sh->v[i].pid);
			memset(&s2[i], 0, sizeof(s2[i]));
			continue;
		}
		s2[i] = *r;
		if (i < V_MT) {
			c = moved_others(&s1[i], r, 1UL << C_COPIES | 1UL << C_BYTES_COPIED);
			if (r->state != S_ALIVE || d(&s1[i], r, C_COPIES) != sh->v[i].pages ||
			    d(&s1[i], r, C_BYTES_COPIED) != sh->v[i].pages * ps || c >= 0)
				vfail(&res->chain_bad,
				      "batch %d: pid %d wrote %d pages: copies +%llu bytes_copied +%llu, %s moved",
				      b, r->pid, sh->v[i].pages, d(&s1[i], r, C_COPIES),
				      d(&s1[i], r, C_BYTES_COPIED), moved_name(c));
			else
				res->chain_ok++;
		} else if (i == V_MT) {
			c = moved_others(&s1[i], r, 1UL << C_COPIES | 1UL << C_BYTES_COPIED |
					 1UL << C_COW_RACES);
			if (r->state != S_ALIVE || d(&s1[i], r, C_COPIES) != MT_PAGES ||
			    d(&s1[i], r, C_BYTES_COPIED) != MT_PAGES * ps || c >= 0)
				vfail(&res->mt_bad,
				      "batch %d: %d threads wrote the same %d pages: copies +%llu cow_races +%llu, %s moved",
				      b, 2 * ncpus, MT_PAGES, d(&s1[i], r, C_COPIES),
				      d(&s1[i], r, C_COW_RACES), moved_name(c));
			else
				res->mt_ok++;
			if (r->v[C_COW_RACES] != CT_UNSET)
				res->mt_races += d(&s1[i], r, C_COW_RACES);
		} else {
			unsigned long long copies = d(&s1[i], r, C_COPIES);

			c = moved_others(&s1[i], r, 1UL << C_COPIES | 1UL << C_BYTES_COPIED);
			if (r->state != S_EXITED || copies < (unsigned long long)done ||
			    copies > (unsigned long long)claimed ||
			    d(&s1[i], r, C_BYTES_COPIED) != copies * ps || c >= 0)
				vfail(&res->mf_bad,
				      "batch %d: exited mid-fault: copies +%llu, %ld pages done, %ld claimed, %s moved",
				      b, copies, done, claimed, moved_name(c));
			else
				res->mf_ok++;
			res->mf_inflight += claimed - done;
		}
	}

	send_n(cur.quit[1], NV - 1);
	for (i = 0; i < nheads; i++)
		waitpid(heads[i], NULL, 0);
	for (i = 0; i < NV; i++)
		prev_pids[i] = sh->v[i].pid;
	memcpy(prev_s2, s2, sizeof(s2));
	*prev_batch = b;
	close(cur.ready[0]);
	close(cur.ready[1]);
	close(cur.go[0]);
	close(cur.go[1]);
	close(cur.done[0]);
	close(cur.done[1]);
	close(cur.quit[0]);
	close(cur.quit[1]);
	munmap(cur.chain_region, 8 * ps);
	munmap(cur.mt_region, MT_PAGES * ps);
	munmap(cur.mf_region, MF_PAGES * ps);
	return 0;
}

/* ---- setup ----------------------------------------------------------------- */

static void cg_setup(void)
{
	struct statfs sf;
	int i;

	if (statfs("/sys/fs/cgroup", &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL)) {
			ksft_print_msg("no cgroup2 at /sys/fs/cgroup: %s\n", strerror(errno));
			return;
		}
	}
	for (i = 0; i < 2; i++) {
		if (mkdir(cg_dir[i], 0755) && errno != EEXIST) {
			ksft_print_msg("mkdir %s: %s\n", cg_dir[i], strerror(errno));
			return;
		}
	}
	cg_ok = true;
}

static void cpus_setup(void)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set))
		CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE && ncpus < MAX_CPUS; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
	if (!ncpus)
		cpus[ncpus++] = 0;
}

/* Read stats, procs, stats until the two stats agree. */
static int final_snapshot(struct table *t, struct stats *s)
{
	struct stats s2;
	int i;

	for (i = 0; i < 20; i++) {
		if (read_stats(s) || read_procs(t) || read_stats(&s2))
			return -1;
		if (!memcmp(s->v, s2.v, sizeof(s->v)) && s->procs == s2.procs &&
		    s->alive == s2.alive && s->exited == s2.exited)
			return 0;
	}
	return -1;
}

struct storm_check {
	long bad_attr;
	long bad_shared;
	long bad_copies;
	long slack_max;
};

static void check_storm(const struct table *t, long nrec, struct storm_check *sc)
{
	unsigned long long *kids = calloc(nrec, sizeof(*kids));
	int *seen = calloc(nrec, sizeof(*seen));
	const struct row *r;
	struct rec *rec;
	char comm[24];		/* "cts" and a serial below MAX_RECS fit 16 */
	long i, serial;

	if (!seen || !kids)
		ksft_exit_fail_msg("calloc\n");
	for (i = 0; i < (long)t->n; i++) {
		r = &t->rows[i];
		if (strncmp(r->comm, "cts", 3) || !r->comm[3])
			continue;
		serial = strtol(r->comm + 3, NULL, 10);
		if (serial >= 0 && serial < nrec)
			seen[serial]++;
	}
	for (i = 0; i < nrec; i++) {
		rec = &sh->rec[i];
		snprintf(comm, sizeof(comm), "cts%ld", i);
		r = find_row(t, rec->pid, comm);
		if (!r || seen[i] != 1 || r->ppid != rec->ppid || r->state != S_EXITED ||
		    r->v[C_FORKS] != (unsigned long long)rec->forks ||
		    (rec->level > 0 && r->inherited == 0)) {
			if (sc->bad_attr++ < 5)
				ksft_print_msg("%s pid %d: %d rows, ppid %d/%d forks %llu/%d\n",
					       comm, rec->pid, seen[i], r ? r->ppid : -1,
					       rec->ppid, r ? r->v[C_FORKS] : 0ULL, rec->forks);
			continue;
		}
		if (rec->parent >= 0)
			kids[rec->parent] += r->inherited;
		/* A worker forks TREES * FAN times: its copies are not bounded. */
		if (!rec->level)
			continue;
		if (r->v[C_COPIES] < (unsigned long long)rec->pages ||
		    (!rec->mid_fault && r->v[C_COPIES] > (unsigned long long)rec->pages + SLACK)) {
			if (sc->bad_copies++ < 5)
				ksft_print_msg("node %s pid %d wrote %d pages, copies %llu\n",
					       comm, rec->pid, rec->pages, r->v[C_COPIES]);
		} else if (!rec->mid_fault &&
			   (long)(r->v[C_COPIES] - rec->pages) > sc->slack_max) {
			sc->slack_max = r->v[C_COPIES] - rec->pages;
		}
	}
	for (i = 0; i < nrec && !sc->bad_attr; i++) {
		snprintf(comm, sizeof(comm), "cts%ld", i);
		r = find_row(t, sh->rec[i].pid, comm);
		if (r && r->v[C_SHARED] != kids[i] && sc->bad_shared++ < 5)
			ksft_print_msg("node %s: shared %llu, its children inherited %llu\n",
				       comm, r->v[C_SHARED], kids[i]);
	}
	free(seen);
	free(kids);
}

/* Per row: bytes_copied is a page per copy, file copy and unshare. */
static long bad_bytes(const struct table *t)
{
	static const int paged[] = { C_COPIES, C_FILE_COPIES, C_UNSHARES };
	unsigned long long pages;
	const struct row *r;
	long bad = 0;
	size_t i, k;

	for (i = 0; i < t->n; i++) {
		r = &t->rows[i];
		if (r->v[C_BYTES_COPIED] == CT_UNSET ||
		    (r->v[C_HUGETLB_COPIES] && r->v[C_HUGETLB_COPIES] != CT_UNSET))
			continue;
		pages = 0;
		for (k = 0; k < ARRAY_SIZE(paged); k++)
			if (r->v[paged[k]] != CT_UNSET)
				pages += r->v[paged[k]];
		if (r->v[C_BYTES_COPIED] != pages * ps && bad++ < 5)
			ksft_print_msg("pid %d: bytes_copied %llu for %llu pages copied\n",
				       r->pid, r->v[C_BYTES_COPIED], pages);
	}
	return bad;
}

/* ---- the test -------------------------------------------------------------- */

/*
 * One run: what the steps below share.  Each check_*() step reports its
 * TAP results (the R_* enum, in order); the others set up, run and tear
 * down.
 */
struct run {
	double t0;
	double t_storm;
	int status;		/* 0 if every worker exited 0 */
	pid_t workers[WORKERS];
	struct stats start;	/* stats before the storm */
	struct stats fin;	/* ... and once disabled at the end */
	struct table snap;	/* the batches' snapshots */
	struct table t;		/* the final procs table */
	struct reader rd;
	struct vres res;
	struct row prev_s2[NV];	/* the previous batch as its S2 saw it */
	int prev_pids[NV];
	int prev_batch;
	long nrec;		/* storm records written */
	long storm_forks;
	long mid_fault;
};

static const char params[] = "max_procs=65536 max_exited=65536 fork_scan=1";

/* Load the module once, map the shared records, make the cgroups. */
static void check_setup(struct run *run)
{
	int err;

	ps = ct_page_size();
	cpus_setup();
	run->t0 = now();
	run->prev_batch = -1;
	err = ct_load(params);
	if (err)
		ksft_exit_fail_msg("cannot load the module (%s): %s\n", params,
				   strerror(-err));
	ksft_test_result_pass("module loaded once: %s\n", params);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	cg_setup();
	if (read_stats(&run->start))
		ksft_exit_fail_msg("cannot read stats\n");
}

/*
 * The storm, then the reader, then the verified batches spread over the
 * storm; wait for the workers, stop the reader, and freeze the numbers
 * (nothing is counted once disabled) in a final snapshot.
 */
static void run_storm_and_batches(struct run *run)
{
	int progress[2], trees_seen = 0, w;
	long i;

	if (pipe(progress))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	for (w = 0; w < WORKERS; w++) {
		run->workers[w] = xfork();
		if (run->workers[w] == 0)
			worker(w, progress[1]);
		if (run->workers[w] < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	}
	if (pthread_create(&run->rd.thread, NULL, reader_main, &run->rd))
		ksft_exit_fail_msg("pthread_create failed\n");
	for (i = 0; i < BATCHES; i++) {
		/* Batch i starts once worker 0 is i / BATCHES through. */
		trees_seen += recv_n(progress[0], i * TREES / BATCHES - trees_seen);
		if (run_batch(i, &run->snap, &run->prev_batch, run->prev_pids,
			      run->prev_s2, &run->res))
			run->res.lost++;
	}
	ksft_print_msg("time: %.1f s for the verified batches\n", now() - run->t0);
	run->status = 0;
	for (w = 0; w < WORKERS; w++) {
		int st;

		if (waitpid(run->workers[w], &st, 0) != run->workers[w] ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			run->status = -1;
	}
	run->t_storm = now() - run->t0;
	__atomic_store_n(&run->rd.stop, 1, __ATOMIC_RELEASE);
	pthread_join(run->rd.thread, NULL);

	if (ct_control("disable") || final_snapshot(&run->t, &run->fin))
		ksft_exit_fail_msg("cannot take a final snapshot\n");
	if (run->prev_batch >= 0)
		check_exited(&run->t, run->prev_batch, run->prev_pids,
			     run->prev_s2, &run->res);
	run->nrec = sh->nrec < MAX_RECS ? sh->nrec : MAX_RECS;
	for (i = 0; i < run->nrec; i++) {
		run->storm_forks += sh->rec[i].forks;
		run->mid_fault += sh->rec[i].mid_fault;
	}
}

/* R_STORM: every process of the storm did its part. */
static void check_storm_ran(const struct run *run)
{
	const struct stats *fin = &run->fin;

	ksft_print_msg("forks done: %ld (storm %ld, verification %ld)\n",
		       sh->forks, run->storm_forks, sh->forks - run->storm_forks);
	ksft_print_msg("storm: %d workers x %d trees, %d levels deep, %d children per node\n",
		       WORKERS, TREES, DEPTH, FAN);
	ksft_print_msg("storm nodes %ld, %ld exited mid-fault; %ld cgroup moves; %ld errors\n",
		       run->nrec, run->mid_fault, sh->cg_moves, sh->errors);
	ksft_print_msg("reader: %ld stats and %ld procs samples, %ld rows compared\n",
		       run->rd.stats_samples, run->rd.procs_samples, run->rd.compared);
	ksft_print_msg("final: %zu rows (%llu alive, %llu exited)\n", run->t.n,
		       fin->alive, fin->exited);
	ksft_print_msg("final: copies %llu, cow_races %llu, forks %llu, shared %llu\n",
		       fin->v[C_COPIES], fin->v[C_COW_RACES], fin->v[C_FORKS],
		       fin->v[C_SHARED]);
	ksft_print_msg("time: %.1f s for the storm and the batches\n", run->t_storm);
	ksft_test_result(run->status == 0 && sh->errors == 0 &&
			 run->storm_forks >= MIN_FORKS && run->nrec == MAX_RECS &&
			 run->storm_forks == WORKERS * TREES * TREE_FORKS,
			 "fork storm: %ld forks in trees %d levels deep, every process did its part\n",
			 run->storm_forks, DEPTH);
}

/* R_STORM_ROWS, R_STORM_SHARED, R_STORM_COPIES: each node's own row. */
static void check_storm_rows(const struct run *run)
{
	struct storm_check sc = { 0 };

	check_storm(&run->t, run->nrec, &sc);
	ksft_print_msg("storm nodes: copies beyond the pages written at most %ld\n",
		       sc.slack_max);
	ksft_test_result(!sc.bad_attr && run->nrec > 0,
			 "storm: each of %ld nodes has one row with its pid, ppid, comm and exact forks (%ld wrong)\n",
			 run->nrec, sc.bad_attr);
	ksft_test_result(!sc.bad_attr && !sc.bad_shared,
			 "storm: each parent's shared equals its children's inherited (%ld wrong)\n",
			 sc.bad_shared);
	ksft_test_result(!sc.bad_copies,
			 "storm: each node's copies cover the pages it wrote, at most %d more (%ld wrong)\n",
			 SLACK, sc.bad_copies);
}

/* R_CHAINS, R_SAME_PAGE, R_MID_FAULT, R_EXITED_ROWS: the verified batches. */
static void check_verified(const struct run *run)
{
	const struct vres *res = &run->res;

	ksft_print_msg("verified: %ld chain processes, %ld same-page writers (%ld cow_races)\n",
		       res->chain_ok, res->mt_ok, res->mt_races);
	ksft_print_msg("verified: %ld mid-fault exits (%ld faults in flight at exit)\n",
		       res->mf_ok, res->mf_inflight);
	ksft_test_result(!res->lost && !res->chain_bad &&
			 res->chain_ok == BATCHES * CHAINS * CHAIN_DEPTH,
			 "verified: %d processes in chains %d deep, changing comm and cgroup, got exactly their own copies (%ld wrong)\n",
			 BATCHES * CHAINS * CHAIN_DEPTH, CHAIN_DEPTH, res->chain_bad);
	ksft_test_result(!res->lost && !res->mt_bad && res->mt_ok == BATCHES,
			 "verified: %d threads on %d CPUs writing the same %d pages: copies == %d exactly (%ld wrong)\n",
			 2 * ncpus, ncpus, MT_PAGES, MT_PAGES, res->mt_bad);
	ksft_test_result(!res->lost && !res->mf_bad && res->mf_ok == BATCHES,
			 "verified: processes exiting mid-fault: pages done <= copies <= pages claimed (%ld wrong)\n",
			 res->mf_bad);
	ksft_test_result(!res->lost && !res->exited_bad && res->exited_ok == BATCHES * NV,
			 "verified: exited rows keep their last comm and counts (%ld wrong)\n",
			 res->exited_bad);
}

/* R_MONOTONIC, R_NOT_AHEAD: what the reader thread saw all along. */
static void check_reader(const struct run *run)
{
	const struct reader *rd = &run->rd;

	if (rd->first[0])
		ksft_print_msg("reader: first problem: %s\n", rd->first);
	ksft_test_result(!rd->backwards && !rd->wrapped && !rd->shrunk && !rd->errors &&
			 rd->procs_samples >= 2,
			 "no counter went backwards or reached 2^62 in %ld stats and %ld procs samples (%ld backwards, %ld wrapped)\n",
			 rd->stats_samples, rd->procs_samples, rd->backwards, rd->wrapped);
	ksft_test_result(!rd->ahead && rd->procs_samples >= 2,
			 "the sum over procs was never ahead of stats (%ld times)\n", rd->ahead);
}

/* R_NOTHING_LOST: the table was large enough for everything. */
static void check_nothing_lost(const struct run *run)
{
	const struct stats *fin = &run->fin;

	ksft_print_msg("dropped %llu, missed %llu, evicted %llu\n", fin->dropped,
		       fin->missed, fin->evicted);
	ksft_test_result(fin->ok && fin->dropped == 0 && fin->missed == 0 &&
			 fin->evicted == 0,
			 "nothing dropped, missed or evicted\n");
}

/* R_SUMS: per counter, the sum over the final procs table equals stats. */
static void check_sums(const struct run *run)
{
	unsigned long long sum[C_NCOLS] = { 0 }, inherited = 0;
	const struct stats *fin = &run->fin;
	const struct table *t = &run->t;
	bool sums_ok = true;
	size_t i;
	int c;

	for (i = 0; i < t->n; i++) {
		for (c = 0; c < C_NCOLS; c++)
			if (t->rows[i].v[c] != CT_UNSET)
				sum[c] += t->rows[i].v[c];
		inherited += t->rows[i].inherited;
	}
	for (c = 0; c < C_NCOLS; c++) {
		if (fin->v[c] == CT_UNSET) {
			for (i = 0; i < t->n; i++)
				if (t->rows[i].v[c] != CT_UNSET)
					break;
			if (i < t->n) {
				ksft_print_msg("%s: stats unsupported/off, a row has a value\n",
					       ct_col_names[c]);
				sums_ok = false;
			}
			continue;
		}
		if (sum[c] != fin->v[c] || fin->v[c] >= WRAP_LIMIT) {
			ksft_print_msg("%s: sum over procs %llu, stats %llu\n",
				       ct_col_names[c], sum[c], fin->v[c]);
			sums_ok = false;
		}
	}
	if (inherited != fin->v[C_SHARED]) {
		ksft_print_msg("sum of inherited %llu, stats shared %llu\n",
			       inherited, fin->v[C_SHARED]);
		sums_ok = false;
	}
	if (bad_bytes(t))
		sums_ok = false;
	ksft_test_result(sums_ok && t->n > (size_t)MIN_FORKS,
			 "the sum over %zu procs rows equals stats for every counter (inherited sums to shared, bytes_copied per row matches)\n",
			 t->n);
}

/* R_ENTRIES: one entry per process; every fork made one, which exited. */
static void check_entries(const struct run *run)
{
	const struct stats *fin = &run->fin, *start = &run->start;
	const struct table *t = &run->t;
	long alive_rows = 0, exited_rows = 0;
	const struct row *r;
	size_t i;

	for (i = 0; i < t->n; i++) {
		r = &t->rows[i];
		if (r->state == S_ALIVE)
			alive_rows++;
		else if (r->state == S_EXITED)
			exited_rows++;
	}
	for (i = 0; i < t->n; i++) {
		r = &t->rows[i];
		if (r->state == S_ALIVE && kill(r->pid, 0) && errno == ESRCH) {
			ksft_print_msg("pid %d (%s) is alive in procs but does not exist\n",
				       r->pid, r->comm);
			alive_rows = -1;
			break;
		}
	}
	ksft_print_msg("entries: %llu exited at start, %llu now; forks counted %llu since start\n",
		       start->exited, fin->exited, fin->v[C_FORKS] - start->v[C_FORKS]);
	ksft_test_result(alive_rows == (long)fin->alive && exited_rows == (long)fin->exited &&
			 fin->procs == t->n &&
			 fin->exited - start->exited == (unsigned long long)sh->forks &&
			 fin->v[C_FORKS] - start->v[C_FORKS] == (unsigned long long)sh->forks,
			 "one exited entry and one counted fork per fork done (%ld), no stale live entry\n",
			 sh->forks);
}

/* R_UNLOADS: counting back on, the cgroups removed, the module unloads. */
static void check_teardown(struct run *run)
{
	int w, err;

	ct_control("enable");
	for (w = 0; w < 2 && cg_ok; w++)
		if (rmdir(cg_dir[w]))
			ksft_print_msg("rmdir %s: %s\n", cg_dir[w], strerror(errno));
	table_free(&run->t);
	table_free(&run->snap);
	err = ct_unload();
	ksft_test_result(err == 0, "module unloads (%s)\n", strerror(-err));
	ksft_print_msg("total time %.1f s\n", now() - run->t0);
}

int main(void)
{
	static struct run run;

	ksft_print_header();
	ksft_set_plan(PLAN);
	check_setup(&run);		/* R_LOADED */
	run_storm_and_batches(&run);
	check_storm_ran(&run);		/* R_STORM */
	check_storm_rows(&run);		/* R_STORM_ROWS .. R_STORM_COPIES */
	check_verified(&run);		/* R_CHAINS .. R_EXITED_ROWS */
	check_reader(&run);		/* R_MONOTONIC, R_NOT_AHEAD */
	check_nothing_lost(&run);	/* R_NOTHING_LOST */
	check_sums(&run);		/* R_SUMS */
	check_entries(&run);		/* R_ENTRIES */
	check_teardown(&run);		/* R_UNLOADS */
	ksft_finished();
}

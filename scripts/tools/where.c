// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat --where: which memory a command's COW faults wrote.
 *
 * The module's cowtrace:cow_fault events (Documentation/events.rst) are
 * recorded into a tracefs instance of cowstat's own and read with
 * Debian's libtracefs and libtraceevent, every 100 ms while the command
 * runs and once more when it ends.  Each event's address is placed in
 * its process's memory map (/proc/PID/maps, read at that drain, and at
 * every later drain while the process lives): the heap, the stack, each
 * anonymous mapping, each file by path.  A process that exited before
 * its first drain has no map: its events are placed by their kind of
 * memory alone (and files by device and inode).
 *
 * With --call-graph the instance's userstacktrace option is on: the
 * kernel follows each event with a user_stack entry (ftrace's own
 * event: the user IP, then up to 7 return addresses found by walking
 * frame pointers), on the same CPU.  Each frame is named from the
 * process's executable mappings, read at the drain (usym.c); a process
 * that exited before any drain is named from its parent's mappings,
 * which are its own unless it called exec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tracefs.h>
#include <event-parse.h>

#include "usym.h"
#include "where.h"

/* cow_fault's outcome and mem numbers (module/cowtrace.h). */
enum {
	EV_COPY, EV_REUSE, EV_ZERO_FILL, EV_FILE_COPY, EV_SHARED_WRITE,
	EV_RACE, EV_UNSHARE, EV_THP_SPLIT, EV_THP_REUSE, EV_HUGETLB_COPY,
};

enum { MEM_HEAP, MEM_STACK, MEM_ANON, MEM_FILE, MEM_SHARED, NR_MEM };

static const char *const mem_names[NR_MEM] = {
	"heap", "stack", "anon", "file", "shared",
};

static struct tracefs_instance *inst;
static struct tep_handle *tep;
static struct tep_event *ev_fault, *ev_fork, *ev_ustack;
static struct tep_format_field *ustack_caller;
static int callgraph;
static struct where_func *funcs;
static size_t nfuncs, funcs_cap;
static struct where_stack *stacks;
static size_t nstacks, stacks_cap;
static unsigned long long nostack;
static struct where_row *rows;
static size_t nrows, cap;
static unsigned long long lost_events;

/* A drain's records, copied out of the ring buffer. */
struct rec {
	int fork;
	long pid;		/* the faulting task; for a fork, the child */
	long parent;		/* for a fork */
	unsigned long long outcome, bytes, mem, dev, ino, start, end;
	int cpu;
	int nframes;		/* -1: no user stack came with it */
	unsigned long long frames[WHERE_FRAMES];
};

static struct rec *recs;
static size_t nrecs, recs_cap;
/* Per CPU, the last record read (1-based; 0: none): its stack follows. */
static size_t *last_rec;
static int nr_cpus;

/* A file's path by its device and inode, from maps that were read. */
struct file_name {
	unsigned int major, minor;
	unsigned long long ino;
	char path[WHERE_REGION_MAX];
};

static struct file_name *files;
static size_t nfiles;

/* Process names, and parents from cow_fork. */
struct who {
	long pid, parent;
	unsigned int drain;	/* read at this drain already */
	int gone;		/* its /proc entry was gone: not read again */
	char comm[32];
	struct usym_maps *maps;	/* --call-graph: as last read */
};

static unsigned int drains;

static struct who *whos;
static size_t nwhos;

static struct who *who_of(long pid)
{
	struct who *w;
	size_t i;

	for (i = 0; i < nwhos; i++)
		if (whos[i].pid == pid)
			return &whos[i];
	w = realloc(whos, (nwhos + 1) * sizeof(*whos));
	if (!w)
		return NULL;
	whos = w;
	w = &whos[nwhos++];
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	snprintf(w->comm, sizeof(w->comm), "?");
	return w;
}

static void learn_file(unsigned int major, unsigned int minor,
		       unsigned long long ino, const char *path)
{
	struct file_name *f;
	size_t i;

	for (i = 0; i < nfiles; i++)
		if (files[i].ino == ino && files[i].major == major &&
		    files[i].minor == minor)
			return;
	f = realloc(files, (nfiles + 1) * sizeof(*files));
	if (!f)
		return;
	files = f;
	f = &files[nfiles++];
	f->major = major;
	f->minor = minor;
	f->ino = ino;
	snprintf(f->path, sizeof(f->path), "%s", path);
}

/* Read @pid's comm and the files its maps name, while it exists. */
static void learn_pid(long pid)
{
	char path[64], line[WHERE_REGION_MAX + 128];
	unsigned long long ino;
	unsigned int major, minor;
	struct who *w = who_of(pid);
	FILE *f;
	int off;

	if (!w || w->gone || w->drain == drains)
		return;
	w->drain = drains;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(w->comm, sizeof(w->comm), f))
			w->comm[strcspn(w->comm, "\n")] = '\0';
		fclose(f);
	}
	if (callgraph) {
		struct usym_maps *m = usym_maps_read(pid);

		if (m) {
			usym_maps_free(w->maps);
			w->maps = m;
		}
	}
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	f = fopen(path, "r");
	if (!f) {
		/* Exited: what was read before stays, its last known map. */
		w->gone = 1;
		return;
	}
	/* start-end perms offset major:minor inode path */
	while (fgets(line, sizeof(line), f)) {
		off = 0;
		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %llu %n", &major, &minor,
			   &ino, &off) != 3 || !ino || !off)
			continue;
		line[strcspn(line, "\n")] = '\0';
		learn_file(major, minor, ino, line + off);
	}
	fclose(f);
}

static const char *file_path(unsigned long long dev, unsigned long long ino)
{
	size_t i;

	for (i = 0; i < nfiles; i++)
		if (files[i].ino == ino && files[i].major == dev >> 20 &&
		    files[i].minor == (dev & 0xfffff))
			return files[i].path;
	return NULL;
}

static struct where_row *row_for(long pid, const char *region, const char *kind)
{
	struct who *w = who_of(pid);
	struct where_row *r;
	size_t i;

	for (i = 0; i < nrows; i++)
		if (rows[i].pid == pid && !strcmp(rows[i].region, region))
			return &rows[i];
	if (nrows == cap) {
		r = realloc(rows, (cap ? 2 * cap : 64) * sizeof(*rows));
		if (!r)
			return NULL;
		rows = r;
		cap = cap ? 2 * cap : 64;
	}
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	/* Gone before its name was read: a child has its parent's until exec. */
	if (w && !strcmp(w->comm, "?") && w->parent)
		w = who_of(w->parent);
	snprintf(r->comm, sizeof(r->comm), "%s", w ? w->comm : "?");
	snprintf(r->region, sizeof(r->region), "%s", region);
	r->kind = kind;
	return r;
}

/* 0: a copy, 1: a zero fill, 2: a reuse, 3: other (race, THP split). */
static int outcome_class(unsigned long long outcome)
{
	switch (outcome) {
	case EV_COPY:
	case EV_FILE_COPY:
	case EV_UNSHARE:
	case EV_HUGETLB_COPY:
		return 0;
	case EV_ZERO_FILL:
		return 1;
	case EV_REUSE:
	case EV_SHARED_WRITE:
	case EV_THP_REUSE:
		return 2;
	default:
		return 3;
	}
}

/* Add fault @e to a row's counts. */
static void tally(const struct rec *e, unsigned long long *copies,
		  unsigned long long *zero_fills, unsigned long long *reuses,
		  unsigned long long *other, unsigned long long *bytes)
{
	unsigned long long *c[] = { copies, zero_fills, reuses, other };

	(*c[outcome_class(e->outcome)])++;
	*bytes += e->bytes;
}

static struct where_func *func_for(const struct where_row *r,
				   const char *name, const char *obj)
{
	struct where_func *f;
	size_t i;

	for (i = 0; i < nfuncs; i++)
		if (funcs[i].pid == r->pid && !strcmp(funcs[i].function, name) &&
		    !strcmp(funcs[i].object, obj) &&
		    !strcmp(funcs[i].region, r->region))
			return &funcs[i];
	if (nfuncs == funcs_cap) {
		f = realloc(funcs, (funcs_cap ? 2 * funcs_cap : 64) * sizeof(*funcs));
		if (!f)
			return NULL;
		funcs = f;
		funcs_cap = funcs_cap ? 2 * funcs_cap : 64;
	}
	f = &funcs[nfuncs++];
	memset(f, 0, sizeof(*f));
	f->pid = r->pid;
	snprintf(f->comm, sizeof(f->comm), "%s", r->comm);
	snprintf(f->function, sizeof(f->function), "%s", name);
	snprintf(f->object, sizeof(f->object), "%s", obj);
	snprintf(f->region, sizeof(f->region), "%s", r->region);
	return f;
}

static void stack_add(const char *comm, char (*frames)[WHERE_REGION_MAX], int n)
{
	struct where_stack *st;
	size_t i;
	int k;

	for (i = 0; i < nstacks; i++) {
		if (stacks[i].nframes != n || strcmp(stacks[i].comm, comm))
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(stacks[i].frames[k], frames[k]))
				break;
		if (k == n) {
			stacks[i].count++;
			return;
		}
	}
	if (nstacks == stacks_cap) {
		st = realloc(stacks, (stacks_cap ? 2 * stacks_cap : 64) * sizeof(*stacks));
		if (!st)
			return;
		stacks = st;
		stacks_cap = stacks_cap ? 2 * stacks_cap : 64;
	}
	st = &stacks[nstacks++];
	memset(st, 0, sizeof(*st));
	snprintf(st->comm, sizeof(st->comm), "%s", comm);
	st->nframes = n;
	for (k = 0; k < n; k++)
		memcpy(st->frames[k], frames[k], WHERE_REGION_MAX);
	st->count = 1;
}

/* The maps to name @pid's frames with: its own, else its parent's. */
static const struct usym_maps *maps_of(long pid)
{
	struct who *w = who_of(pid);

	if (w && !w->maps && w->parent)
		w = who_of(w->parent);
	return w ? w->maps : NULL;
}

/*
 * --call-graph: the fault @e of row @r, by the function that wrote
 * (the first frame: the user IP itself) and the region, and for
 * --folded by its whole stack.  Return addresses are named by the byte before them, the call.
 */
static void count_stack(const struct rec *e, const struct where_row *r)
{
	static char frames[WHERE_FRAMES + 1][WHERE_REGION_MAX];
	char obj[WHERE_FUNC_MAX], name[WHERE_FUNC_MAX];
	const struct usym_maps *m = maps_of(e->pid);
	struct where_func *f;
	int k, n = e->nframes;

	if (n <= 0) {
		nostack++;
		snprintf(name, sizeof(name), "[no stack]");
		obj[0] = '\0';
		n = 0;
	} else {
		usym_name(m, e->frames[0], name, sizeof(name), obj, sizeof(obj));
	}
	f = func_for(r, name, obj);
	if (f)
		tally(e, &f->copies, &f->zero_fills, &f->reuses, &f->other, &f->bytes);
	if (outcome_class(e->outcome) > 1)
		return;
	/* Outermost first: frames[n - 1 - k] is the k-th frame from the top. */
	if (!n)
		snprintf(frames[0], WHERE_REGION_MAX, "%s", name);
	for (k = 0; k < n; k++)
		usym_name(m, k ? e->frames[k] - 1 : e->frames[k],
			  frames[n - 1 - k], WHERE_REGION_MAX, obj, sizeof(obj));
	n = n ? n : 1;
	snprintf(frames[n], WHERE_REGION_MAX, "%s", r->region);
	stack_add(r->comm, frames, n + 1);
}

static void count(const struct rec *e)
{
	char region[WHERE_REGION_MAX];
	const char *kind = e->mem < NR_MEM ? mem_names[e->mem] : "?", *path;
	struct where_row *r;

	switch (e->mem) {
	case MEM_HEAP:
		snprintf(region, sizeof(region), "[heap]");
		break;
	case MEM_STACK:
		snprintf(region, sizeof(region), "[stack]");
		break;
	case MEM_FILE:
	case MEM_SHARED:
		path = file_path(e->dev, e->ino);
		if (path)
			snprintf(region, sizeof(region), "%s", path);
		else
			snprintf(region, sizeof(region), "dev %llu:%llu ino %llu",
				 e->dev >> 20, e->dev & 0xfffff, e->ino);
		break;
	default:
		snprintf(region, sizeof(region), "anon 0x%llx-0x%llx",
			 e->start, e->end);
	}
	r = row_for(e->pid, region, kind);
	if (!r)
		return;
	tally(e, &r->copies, &r->zero_fills, &r->reuses, &r->other, &r->bytes);
	if (callgraph)
		count_stack(e, r);
}

static unsigned long long field(struct tep_event *ev, struct tep_record *rec,
				const char *name)
{
	unsigned long long v = 0;

	tep_get_field_val(NULL, ev, name, rec, &v, 0);
	return v;
}

static int on_event(struct tep_event *event, struct tep_record *rec,
		    int cpu, void *ctx)
{
	struct rec *e;
	size_t last = cpu >= 0 && cpu < nr_cpus ? last_rec[cpu] : 0;

	(void)ctx;
	if (cpu >= 0 && cpu < nr_cpus)
		last_rec[cpu] = 0;
	if (ev_ustack && event->id == ev_ustack->id) {
		const unsigned char *data = rec->data;
		int k, n = ustack_caller->size / 8;
		unsigned long long ip;

		/* The stack of the event just before it on this CPU, same task. */
		e = last ? &recs[last - 1] : NULL;
		if (!e || e->fork || e->nframes >= 0 ||
		    tep_data_pid(tep, rec) != e->pid)
			return 0;
		e->nframes = 0;
		for (k = 0; k < n && k < WHERE_FRAMES; k++) {
			ip = tep_read_number(tep, data + ustack_caller->offset + 8 * k, 8);
			if (!ip || ip == ~0ULL)
				break;
			e->frames[e->nframes++] = ip;
		}
		return 0;
	}
	if (event->id != ev_fault->id && event->id != ev_fork->id)
		return 0;
	if (nrecs == recs_cap) {
		e = realloc(recs, (recs_cap ? 2 * recs_cap : 4096) * sizeof(*recs));
		if (!e)
			return -1;
		recs = e;
		recs_cap = recs_cap ? 2 * recs_cap : 4096;
	}
	e = &recs[nrecs++];
	memset(e, 0, sizeof(*e));
	e->nframes = -1;
	e->cpu = cpu;
	if (cpu >= 0 && cpu < nr_cpus)
		last_rec[cpu] = nrecs;
	if (event->id == ev_fork->id) {
		e->fork = 1;
		e->parent = field(event, rec, "parent_tgid");
		e->pid = field(event, rec, "child_tgid");
		return 0;
	}
	e->pid = tep_data_pid(tep, rec);
	e->outcome = field(event, rec, "outcome");
	e->bytes = field(event, rec, "bytes");
	e->mem = field(event, rec, "mem");
	e->dev = field(event, rec, "dev");
	e->ino = field(event, rec, "ino");
	e->start = field(event, rec, "vm_start");
	e->end = field(event, rec, "vm_end");
	return 0;
}

int where_start(int with_stacks)
{
	static const char *const systems[] = { "cowtrace", "ftrace", NULL };
	char name[64];

	callgraph = with_stacks;
	nr_cpus = 8192;		/* NR_CPUS at most */
	last_rec = calloc(nr_cpus, sizeof(*last_rec));
	if (!last_rec)
		return -ENOMEM;
	snprintf(name, sizeof(name), "cowstat-%d", (int)getpid());
	inst = tracefs_instance_create(name);
	if (!inst)
		return -errno ?: -ENOENT;
	/* 8 MiB a CPU, drained every 100 ms; the stacks before the events. */
	if (tracefs_instance_file_write(inst, "buffer_size_kb", "8192") < 0 ||
	    (callgraph && tracefs_option_enable(inst, TRACEFS_OPTION_USERSTACKTRACE)) ||
	    tracefs_event_enable(inst, "cowtrace", "cow_fault") ||
	    tracefs_event_enable(inst, "cowtrace", "cow_fork")) {
		where_stop();
		return -ENOENT;
	}
	tep = tracefs_local_events_system(NULL, systems);
	ev_fault = tep ? tep_find_event_by_name(tep, "cowtrace", "cow_fault") : NULL;
	ev_fork = tep ? tep_find_event_by_name(tep, "cowtrace", "cow_fork") : NULL;
	if (callgraph) {
		ev_ustack = tep ? tep_find_event_by_name(tep, "ftrace", "user_stack") : NULL;
		ustack_caller = ev_ustack ? tep_find_field(ev_ustack, "caller") : NULL;
	}
	if (!ev_fault || !ev_fork ||
	    (callgraph && (!ustack_caller || ustack_caller->size < 8))) {
		where_stop();
		return -ENOENT;
	}
	return 0;
}

/*
 * Read what the buffer holds, then learn the names of the processes and
 * files it names (their maps, while they exist; cowstat's own too, for
 * the libraries everyone maps), then count: each fault by the file's
 * path where some map named it.
 */
void where_drain(void)
{
	struct who *w;
	size_t i;

	if (!inst)
		return;
	nrecs = 0;
	drains++;
	/* A stack split from its event by the drain cannot be paired. */
	memset(last_rec, 0, nr_cpus * sizeof(*last_rec));
	tracefs_iterate_raw_events(tep, inst, NULL, 0, on_event, NULL);
	learn_pid(getpid());
	/*
	 * Every process seen so far, read again while it lives: a process
	 * that maps, unmaps or execs between drains is placed by its map
	 * as of this drain, and one that exits before the next keeps the
	 * map it had at most one drain before it died.
	 */
	for (i = 0; i < nwhos; i++)
		learn_pid(whos[i].pid);
	for (i = 0; i < nrecs; i++) {
		if (recs[i].fork) {
			w = who_of(recs[i].pid);
			if (w)
				w->parent = recs[i].parent;
			learn_pid(recs[i].parent);
		}
		learn_pid(recs[i].pid);
	}
	for (i = 0; i < nrecs; i++)
		if (!recs[i].fork)
			count(&recs[i]);
}

/* Events the buffer lost (its CPUs' "overrun"). */
static unsigned long long overruns(void)
{
	unsigned long long sum = 0;
	char file[64], *text, *p;
	int cpu;

	for (cpu = 0; cpu < 4096; cpu++) {
		snprintf(file, sizeof(file), "per_cpu/cpu%d/stats", cpu);
		if (!tracefs_file_exists(inst, file))
			break;
		text = tracefs_instance_file_read(inst, file, NULL);
		p = text ? strstr(text, "overrun:") : NULL;
		if (p)
			sum += strtoull(p + 8, NULL, 10);
		free(text);
	}
	return sum;
}

void where_stop(void)
{
	if (!inst)
		return;
	tracefs_event_disable(inst, "cowtrace", NULL);
	where_drain();
	lost_events = overruns();
	tracefs_instance_destroy(inst);
	tracefs_instance_free(inst);
	inst = NULL;
	usym_exit();
	if (tep)
		tep_free(tep);
	tep = NULL;
	ev_fault = NULL;
	ev_ustack = NULL;
	ustack_caller = NULL;
	free(last_rec);
	last_rec = NULL;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct where_row *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->copies + x->zero_fills != y->copies + y->zero_fills)
		return x->copies + x->zero_fills < y->copies + y->zero_fills ? 1 : -1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->region, y->region);
}

static int cmp_funcs(const void *a, const void *b)
{
	const struct where_func *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->copies + x->zero_fills != y->copies + y->zero_fills)
		return x->copies + x->zero_fills < y->copies + y->zero_fills ? 1 : -1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (strcmp(x->function, y->function))
		return strcmp(x->function, y->function);
	return strcmp(x->region, y->region);
}

const struct where_func *where_funcs(size_t *n, unsigned long long *no_stack)
{
	if (funcs)
		qsort(funcs, nfuncs, sizeof(*funcs), cmp_funcs);
	*n = nfuncs;
	*no_stack = nostack;
	return funcs;
}

static int cmp_stacks(const void *a, const void *b)
{
	const struct where_stack *x = a, *y = b;

	int k, c;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	c = strcmp(x->comm, y->comm);
	for (k = 0; !c && k < x->nframes && k < y->nframes; k++)
		c = strcmp(x->frames[k], y->frames[k]);
	return c ? c : x->nframes - y->nframes;
}

const struct where_stack *where_stacks(size_t *n)
{
	if (stacks)
		qsort(stacks, nstacks, sizeof(*stacks), cmp_stacks);
	*n = nstacks;
	return stacks;
}

const struct where_row *where_rows(size_t *n, unsigned long long *lost)
{
	if (rows)
		qsort(rows, nrows, sizeof(*rows), cmp_rows);
	*n = nrows;
	*lost = lost_events;
	return rows;
}

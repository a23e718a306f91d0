// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat --where: which memory a command's COW faults wrote.
 *
 * The module's cowtrace:cow_fault events (Documentation/events.rst) are
 * recorded into a tracefs instance of cowstat's own and read with
 * Debian's libtracefs and libtraceevent, every 100 ms while the command
 * runs and once more when it ends.  Each event's address is placed in
 * its process's memory map (/proc/PID/maps, read at that drain): the
 * heap, the stack, each anonymous mapping, each file by path.  A
 * process that exited before a drain has no map left: its events are
 * placed by their kind of memory alone (and files by device and inode).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tracefs.h>
#include <event-parse.h>

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
static struct tep_event *ev_fault, *ev_fork;
static struct where_row *rows;
static size_t nrows, cap;
static unsigned long long lost_events;

/* A drain's records, copied out of the ring buffer. */
struct rec {
	int fork;
	long pid;		/* the faulting task; for a fork, the child */
	long parent;		/* for a fork */
	unsigned long long outcome, bytes, mem, dev, ino, start, end;
};

static struct rec *recs;
static size_t nrecs, recs_cap;

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
	char comm[32];
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

	if (!w || w->drain == drains)
		return;
	w->drain = drains;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(w->comm, sizeof(w->comm), f))
			w->comm[strcspn(w->comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return;
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
	switch (e->outcome) {
	case EV_COPY:
	case EV_FILE_COPY:
	case EV_UNSHARE:
	case EV_HUGETLB_COPY:
		r->copies++;
		break;
	case EV_ZERO_FILL:
		r->zero_fills++;
		break;
	case EV_REUSE:
	case EV_SHARED_WRITE:
	case EV_THP_REUSE:
		r->reuses++;
		break;
	default:
		r->other++;
	}
	r->bytes += e->bytes;
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

	(void)cpu;
	(void)ctx;
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

int where_start(void)
{
	static const char *const systems[] = { "cowtrace", NULL };
	char name[64];

	snprintf(name, sizeof(name), "cowstat-%d", (int)getpid());
	inst = tracefs_instance_create(name);
	if (!inst)
		return -errno ?: -ENOENT;
	/* 8 MiB a CPU, drained every 100 ms. */
	if (tracefs_instance_file_write(inst, "buffer_size_kb", "8192") < 0 ||
	    tracefs_event_enable(inst, "cowtrace", "cow_fault") ||
	    tracefs_event_enable(inst, "cowtrace", "cow_fork")) {
		where_stop();
		return -ENOENT;
	}
	tep = tracefs_local_events_system(NULL, systems);
	ev_fault = tep ? tep_find_event_by_name(tep, "cowtrace", "cow_fault") : NULL;
	ev_fork = tep ? tep_find_event_by_name(tep, "cowtrace", "cow_fork") : NULL;
	if (!ev_fault || !ev_fork) {
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
	tracefs_iterate_raw_events(tep, inst, NULL, 0, on_event, NULL);
	learn_pid(getpid());
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
	if (tep)
		tep_free(tep);
	tep = NULL;
	ev_fault = NULL;
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

const struct where_row *where_rows(size_t *n, unsigned long long *lost)
{
	if (rows)
		qsort(rows, nrows, sizeof(*rows), cmp_rows);
	*n = nrows;
	*lost = lost_events;
	return rows;
}

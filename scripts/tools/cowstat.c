// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat - cowtrace's per-process copy-on-write table, like vmstat/top.
 *
 *   cowstat [options] [INTERVAL [COUNT]]
 *
 * Reads /sys/kernel/debug/cowtrace/{procs,stats}; prints the processes
 * sorted by copies (or -s COLUMN), then, every INTERVAL seconds, what
 * changed in that interval.  --json and --prometheus print for machines.
 * See cowstat(1) and Documentation/cowtrace.rst ("cowstat").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "where.h"

#define DEBUGFS "/sys/kernel/debug"
#define CT_DIR DEBUGFS "/cowtrace"
#define DEBUGFS_MAGIC 0x64626720
#define MAX_COLS 64
#define COMM_MAX 64	/* the kernel's 16, with room for escapes */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The counters cowstat shows, in order; bytes_copied gets human units. */
enum counter {
	K_FORKS, K_SHARED, K_COPIES, K_REUSES, K_ZERO_FILLS, K_FILE_COPIES,
	K_SHARED_WRITES, K_THP_SPLITS, K_HUGETLB_COPIES, K_BYTES_COPIED,
	NSHOWN
};

static const char *const shown[NSHOWN] = {
	[K_FORKS] = "forks", [K_SHARED] = "shared", [K_COPIES] = "copies",
	[K_REUSES] = "reuses", [K_ZERO_FILLS] = "zero_fills",
	[K_FILE_COPIES] = "file_copies", [K_SHARED_WRITES] = "shared_writes",
	[K_THP_SPLITS] = "thp_splits", [K_HUGETLB_COPIES] = "hugetlb_copies",
	[K_BYTES_COPIED] = "bytes_copied",
};

static const char *const short_names[NSHOWN] = {
	"FORKS", "SHARED", "COPIES", "REUSES", "ZERO", "FILE", "SHWR",
	"THPSPL", "HUGE", "COPIED",
};

/* What a column of the procs header holds, besides a counter. */
enum field {
	F_SKIP,		/* a column cowstat does not show */
	F_PID, F_PPID, F_COMM, F_STATE,
	F_START,	/* process start time: identity across pid reuse */
	F_COUNTER,	/* one of shown[] */
};

struct col {
	enum field field;
	enum counter counter;	/* for F_COUNTER */
};

enum pstate { P_OTHER, P_ALIVE, P_EXITED };

/* How a row relates to the previous read (for deltas). */
enum prev_rel { R_NEW, R_WAS_ALIVE, R_WAS_EXITED };

enum { CG_UNKNOWN = -1, CG_UNREAD = -2 };	/* struct proc's cg */

struct proc {
	long pid;
	long ppid;
	unsigned long long start;	/* 0 when procs has no start column */
	enum pstate pstate;
	enum prev_rel rel;
	int cg;			/* index in cgs[], or CG_UNREAD/CG_UNKNOWN */
	char comm[COMM_MAX];
	char state[16];
	long long v[NSHOWN];	/* as read; -1: off or unsupported */
	long long d[NSHOWN];	/* shown: v, or v minus the previous read */
};

struct table {
	size_t n, cap;
	struct proc *p;		/* sorted by (pid, start) */
};

static struct {
	const char *sort;
	long pid;
	int children;
	int json;
	int prom;
	int prom_top;
	int by_cgroup;
	int max_cgroups;
	int raw;
	int rows;
	int new_only;	/* hide rows that were exited in the first read */
	const char *procs_file;
	const char *stats_file;
	int where;	/* -w: by memory region, from the trace events */
	int folded;	/* --folded: the regions as folded stacks */
	int callgraph;	/* -G: by user function, from the events' user stacks */
} opt = {
	.sort = "copies", .prom_top = 20, .max_cgroups = 20,
	.procs_file = CT_DIR "/procs", .stats_file = CT_DIR "/stats",
};

static int sort_col;
static FILE *out;
static int fail_status = 2;	/* cowstat's own errors; 125 with a command */
static pid_t cmd_pid;		/* the command of cowstat -- CMD */
static int filter_owned;	/* cowstat set "filter pid cmd_pid" */
static void restore_filter(void);

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "cowstat: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	restore_filter();
	exit(fail_status);
}

/* Say precisely why the cowtrace files cannot be read. */
static void check_access(void)
{
	struct statfs fs;

	if (access(CT_DIR "/procs", R_OK) == 0)
		return;
	if (geteuid() != 0)
		die("%s: permission denied: cowtrace's files are root-only (run as root)",
		    CT_DIR);
	if (statfs(DEBUGFS, &fs) || (unsigned long)fs.f_type != DEBUGFS_MAGIC)
		die("debugfs is not mounted at %s (mount -t debugfs none /sys/kernel/debug)",
		    DEBUGFS);
	if (access(CT_DIR, F_OK))
		die("%s is missing: the cowtrace module is not loaded (modprobe cowtrace)",
		    CT_DIR);
	die("cannot read %s/procs", CT_DIR);
}

/*
 * Escaping: every string cowstat prints goes through put_str().
 *
 * Names come from the kernel (comm, cgroup paths) and any user can set
 * them, so they may hold any byte but NUL.  Bytes that are not UTF-8
 * are printed as U+FFFD (the replacement character) in JSON and
 * Prometheus, whose text must be UTF-8, and as \xHH in the table.
 */
enum fmt { FMT_TABLE, FMT_TEXT, FMT_JSON, FMT_PROM };

/* For people (\xHH escapes), not for parsers. */
static int human_fmt(enum fmt fmt)
{
	return fmt == FMT_TABLE || fmt == FMT_TEXT;
}

/* Length of the valid UTF-8 sequence at @s (RFC 3629), 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
	int n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * Print @str escaped for @fmt, without quotes; returns the number of
 * characters printed (for column alignment).
 *   FMT_JSON:  RFC 8259: quote, backslash, newline, tab and CR as
 *              backslash escapes, the other C0 controls and DEL as \u00XX.
 *   FMT_PROM:  the text exposition format's label value: backslash,
 *              quote and newline as backslash escapes; other control
 *              characters as U+FFFD (the format has no escape for them
 *              and they break line-based readers).
 *   FMT_TABLE: \\, and \xHH for controls, space and DEL, so a row stays
 *              one line of space-separated fields.
 *   FMT_TEXT:  as FMT_TABLE, spaces kept (messages).
 */
static int put_str(FILE *f, const char *str, enum fmt fmt)
{
	const unsigned char *s = (const unsigned char *)str;
	int cols = 0, n;

	for (; *s; s += n) {
		n = utf8_len(s);
		if (!n) {
			n = 1;
			if (human_fmt(fmt))
				cols += fprintf(f, "\\x%02x", *s);
			else
				cols += fputs("\xef\xbf\xbd", f) >= 0;
		} else if (n > 1) {
			cols += fwrite(s, 1, n, f) > 0;
		} else if (*s == '\\' || (*s == '"' && !human_fmt(fmt))) {
			cols += fprintf(f, "\\%c", *s);
		} else if (*s == '\n' && !human_fmt(fmt)) {
			cols += fprintf(f, "\\n");
		} else if (*s < 0x20 || *s == 0x7f ||
			   (*s == ' ' && fmt == FMT_TABLE)) {
			if (fmt == FMT_JSON && *s == '\t')
				cols += fprintf(f, "\\t");
			else if (fmt == FMT_JSON && *s == '\r')
				cols += fprintf(f, "\\r");
			else if (fmt == FMT_JSON)
				cols += fprintf(f, "\\u%04x", *s);
			else if (fmt == FMT_PROM)
				cols += fputs("\xef\xbf\xbd", f) >= 0;
			else
				cols += fprintf(f, "\\x%02x", *s);
		} else {
			cols += fputc(*s, f) != EOF;
		}
	}
	return cols;
}

/* A JSON string or a Prometheus label value, in double quotes. */
static void put_quoted(FILE *f, const char *s, enum fmt fmt)
{
	fputc('"', f);
	put_str(f, s, fmt);
	fputc('"', f);
}

/* A table cell: @s escaped, padded on the right to @width. */
static void put_cell(FILE *f, const char *s, int width)
{
	int cols = put_str(f, s, FMT_TABLE);

	fprintf(f, "%*s", cols < width ? width - cols : 0, "");
}

static long long value(const char *tok)
{
	if (!strcmp(tok, "off") || !strcmp(tok, "unsupported"))
		return -1;
	return strtoll(tok, NULL, 10);
}

/* Map the procs header's columns; returns how many. */
static int parse_header(char *line, struct col *map)
{
	static const struct { const char *name; enum field field; } fields[] = {
		{ "pid", F_PID }, { "ppid", F_PPID }, { "comm", F_COMM },
		{ "state", F_STATE }, { "start", F_START },
		{ "start_time", F_START },
	};
	char *tok, *save;
	int ncols = 0, have_pid = 0;
	size_t i;

	for (tok = strtok_r(line, " ", &save); tok && ncols < MAX_COLS;
	     tok = strtok_r(NULL, " ", &save), ncols++) {
		map[ncols].field = F_SKIP;
		for (i = 0; i < NSHOWN; i++)
			if (!strcmp(tok, shown[i])) {
				map[ncols].field = F_COUNTER;
				map[ncols].counter = i;
			}
		for (i = 0; i < ARRAY_SIZE(fields); i++)
			if (!strcmp(tok, fields[i].name))
				map[ncols].field = fields[i].field;
		have_pid |= map[ncols].field == F_PID;
	}
	if (!have_pid)
		die("%s: no pid column in the header: not a cowtrace procs file",
		    opt.procs_file);
	return ncols;
}

/*
 * The name procs' comm field @field stands for (the module prints each
 * space, control, byte above '~' and backslash as \ooo, three octal
 * digits, and the empty name as \000), into @dst of @len bytes.
 */
static void unescape_comm(char *dst, size_t len, const char *field)
{
	const char *f = field;
	size_t n = 0;

	while (*f && n + 1 < len) {
		if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' &&
		    f[2] >= '0' && f[2] <= '7' && f[3] >= '0' && f[3] <= '7') {
			dst[n] = (char)((f[1] - '0') << 6 | (f[2] - '0') << 3 | (f[3] - '0'));
			f += 4;
			if (!dst[n])
				continue;
		} else {
			dst[n] = *f++;
		}
		n++;
	}
	dst[n] = '\0';
}

static void parse_row(char *line, const struct col *map, int ncols,
		      struct proc *p)
{
	char *tok, *save;
	int c, k;

	memset(p, 0, sizeof(*p));
	p->cg = CG_UNREAD;
	for (k = 0; k < NSHOWN; k++)
		p->v[k] = -1;
	for (tok = strtok_r(line, " ", &save), c = 0; tok && c < ncols;
	     tok = strtok_r(NULL, " ", &save), c++) {
		switch (map[c].field) {
		case F_PID:
			p->pid = strtol(tok, NULL, 10);
			break;
		case F_PPID:
			p->ppid = strtol(tok, NULL, 10);
			break;
		case F_COMM:
			unescape_comm(p->comm, sizeof(p->comm), tok);
			break;
		case F_STATE:
			snprintf(p->state, sizeof(p->state), "%s", tok);
			p->pstate = !strcmp(tok, "alive") ? P_ALIVE :
				    !strcmp(tok, "exited") ? P_EXITED : P_OTHER;
			break;
		case F_START:
			p->start = strtoull(tok, NULL, 10);
			break;
		case F_COUNTER:
			p->v[map[c].counter] = value(tok);
			break;
		case F_SKIP:
			break;
		}
	}
	memcpy(p->d, p->v, sizeof(p->d));
}

static int cmp_key(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/*
 * Sort @t by key: the keys alone (24 bytes each, sorted in place), then
 * the rows moved once, cycle by cycle.
 */
struct key {
	long pid;
	unsigned long long start;
	size_t idx;
};

static int cmp_keys(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void sort_table(struct table *t)
{
	struct key *k = malloc((t->n + 1) * sizeof(*k));
	size_t i, j, src;
	struct proc tmp;

	if (!k)
		die("out of memory%s", "");
	for (i = 0; i < t->n; i++)
		k[i] = (struct key){ t->p[i].pid, t->p[i].start, i };
	qsort(k, t->n, sizeof(*k), cmp_keys);
	/* Row j is to take row k[j].idx; done when k[j].idx == j. */
	for (i = 0; i < t->n; i++) {
		if (k[i].idx == i)
			continue;
		tmp = t->p[i];
		for (j = i; (src = k[j].idx) != i; j = src) {
			t->p[j] = t->p[src];
			k[j].idx = j;
		}
		t->p[j] = tmp;
		k[j].idx = j;
	}
	free(k);
}

/* Read the whole procs table, as many rows as it has, sorted by key. */
static void read_table(struct table *t)
{
	FILE *f = fopen(opt.procs_file, "r");
	struct col map[MAX_COLS];
	char *line = NULL;
	size_t len = 0;
	int ncols;

	if (!f)
		die("cannot read %s", opt.procs_file);
	t->n = 0;
	if (getline(&line, &len, f) < 0)
		die("%s is empty", opt.procs_file);
	line[strcspn(line, "\n")] = '\0';
	ncols = parse_header(line, map);
	while (getline(&line, &len, f) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 4096;
			t->p = realloc(t->p, t->cap * sizeof(*t->p));
			if (!t->p)
				die("out of memory reading %s", opt.procs_file);
		}
		parse_row(line, map, ncols, &t->p[t->n++]);
	}
	free(line);
	fclose(f);
	sort_table(t);
}

/*
 * Can @c (read now) be the same process as @p (read before)?  Same key,
 * and an exited process never comes back alive.
 */
static int same_proc(const struct proc *c, const struct proc *p)
{
	return !cmp_key(c, p) && !(p->pstate == P_EXITED && c->pstate == P_ALIVE);
}

static int unchanged(const struct proc *c, const struct proc *p)
{
	return !memcmp(c->v, p->v, sizeof(c->v)) && !strcmp(c->comm, p->comm);
}

/*
 * Show @cur as deltas against @prev.  Both are sorted by key (pid, and
 * start time when procs has it); one merge pass pairs each row of @cur
 * with the row of @prev that is the same process.  Without a start
 * time, one pid can have several rows (exited processes whose pid was
 * reused, and the live one): within a pid, a row that did not change
 * is paired first, then the rest in order, and a row that was exited
 * never pairs with a live one.  Unpaired rows are new: shown whole.
 */
static void subtract(struct table *cur, const struct table *prev)
{
	char *used = calloc(prev->n + 1, 1);
	size_t i, j = 0, je, b;
	int k;

	if (!used)
		die("out of memory%s", "");
	for (i = 0; i < cur->n; i++) {
		struct proc *c = &cur->p[i];
		const struct proc *match = NULL;

		for (; j < prev->n && cmp_key(&prev->p[j], c) < 0; j++)
			;
		for (je = j; je < prev->n && !cmp_key(&prev->p[je], c); je++)
			;
		for (b = j; b < je && !match; b++)
			if (!used[b] && same_proc(c, &prev->p[b]) &&
			    unchanged(c, &prev->p[b]))
				match = &prev->p[b];
		for (b = j; b < je && !match; b++)
			if (!used[b] && same_proc(c, &prev->p[b]))
				match = &prev->p[b];
		c->rel = R_NEW;
		if (!match)
			continue;
		used[match - prev->p] = 1;
		c->rel = match->pstate == P_EXITED ? R_WAS_EXITED : R_WAS_ALIVE;
		/* An exited process keeps the cgroup it was last seen in. */
		if (c->pstate != P_ALIVE && match->cg >= 0)
			c->cg = match->cg;
		for (k = 0; k < NSHOWN; k++)
			if (c->v[k] >= 0 && match->v[k] >= 0)
				c->d[k] = c->v[k] - match->v[k];
	}
	free(used);
}

/* The row of process @pid in @t (the live one if several), or NULL. */
static const struct proc *find_pid(const struct table *t, long pid)
{
	size_t lo = 0, hi = t->n, m;
	const struct proc *best = NULL;

	while (lo < hi) {
		m = lo + (hi - lo) / 2;
		if (t->p[m].pid < pid)
			lo = m + 1;
		else
			hi = m;
	}
	for (; lo < t->n && t->p[lo].pid == pid; lo++)
		if (!best || t->p[lo].pstate == P_ALIVE)
			best = &t->p[lo];
	return best;
}

/* Is @p process @root, or (with @children) one of its descendants? */
static int in_tree(const struct table *t, const struct proc *p, long root,
		   int children)
{
	long pid = p->pid;
	int hops = 0;

	while (pid > 0 && hops++ < 64) {
		const struct proc *q;

		if (pid == root)
			return 1;
		if (!children)
			return 0;
		q = hops == 1 ? p : find_pid(t, pid);
		if (!q)
			return 0;
		pid = q->ppid;
	}
	return 0;
}

static int selected(const struct table *t, const struct proc *p)
{
	if (opt.new_only && p->rel == R_WAS_EXITED)
		return 0;
	return !opt.pid || in_tree(t, p, opt.pid, opt.children);
}

static int cmp_shown(const void *a, const void *b)
{
	const struct proc *x = *(const struct proc *const *)a;
	const struct proc *y = *(const struct proc *const *)b;

	if (x->d[sort_col] != y->d[sort_col])
		return x->d[sort_col] < y->d[sort_col] ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * The selected rows, in display order; returns how many.  With @limit,
 * only the first @limit are sorted (the others follow in no order): a
 * refresh that shows the top 20 of a million rows costs one pass.
 */
static size_t display_order(const struct table *t, const struct proc ***out,
			    size_t limit)
{
	const struct proc **v = malloc((t->n + 1) * sizeof(*v)), *e;
	size_t i, n = 0, lo, hi, m;

	if (!v)
		die("out of memory%s", "");
	for (i = 0; i < t->n; i++)
		if (selected(t, &t->p[i]))
			v[n++] = &t->p[i];
	if (!limit || limit >= n) {
		qsort(v, n, sizeof(*v), cmp_shown);
		*out = v;
		return n;
	}
	qsort(v, limit, sizeof(*v), cmp_shown);
	for (i = limit; i < n; i++) {
		if (cmp_shown(&v[i], &v[limit - 1]) >= 0)
			continue;
		/* Insert v[i] into the sorted top; the last goes to i. */
		e = v[i];
		v[i] = v[limit - 1];
		for (lo = 0, hi = limit - 1; lo < hi;) {
			m = lo + (hi - lo) / 2;
			if (cmp_shown(&v[m], &e) <= 0)
				lo = m + 1;
			else
				hi = m;
		}
		memmove(&v[lo + 1], &v[lo], (limit - 1 - lo) * sizeof(*v));
		v[lo] = e;
	}
	*out = v;
	return n;
}

static void human(char *buf, size_t len, long long v)
{
	static const char *const unit[] = { "Ki", "Mi", "Gi", "Ti" };
	double d = v;
	int u = -1;

	if (v < 1024 || opt.raw) {
		snprintf(buf, len, "%lld", v);
		return;
	}
	while (d >= 1024 && u < 3) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, d < 10 ? "%.1f%s" : "%.0f%s", d, unit[u]);
}

static void print_value(FILE *f, int col, long long v, int width)
{
	char buf[32];

	if (v < 0)
		snprintf(buf, sizeof(buf), "-");
	else if (col == K_BYTES_COPIED)
		human(buf, sizeof(buf), v);
	else
		snprintf(buf, sizeof(buf), "%lld", v);
	fprintf(f, " %*s", width, buf);
}

static void table_header(void)
{
	int k;

	fprintf(out, "%7s %7s %-15s %-6s", "PID", "PPID", "COMM", "STATE");
	for (k = 0; k < NSHOWN; k++)
		fprintf(out, " %7s", short_names[k]);
	fprintf(out, "\n");
}

static void table_row(const struct proc *p)
{
	int k;

	fprintf(out, "%7ld %7ld ", p->pid, p->ppid);
	put_cell(out, p->comm, 15);
	fputc(' ', out);
	put_cell(out, p->state, 6);
	for (k = 0; k < NSHOWN; k++)
		print_value(out, k, p->d[k], 7);
	fprintf(out, "\n");
}

static void print_table(const struct table *t)
{
	const struct proc **v;
	size_t i, n = display_order(t, &v, opt.rows);

	table_header();
	for (i = 0; i < n && (!opt.rows || i < (size_t)opt.rows); i++)
		table_row(v[i]);
	free(v);
}

/* The counters of @d as JSON members, after others. */
static void json_counters(const long long *d)
{
	int k;

	for (k = 0; k < NSHOWN; k++) {
		fprintf(out, ", \"%s\": ", shown[k]);
		if (d[k] < 0)
			fprintf(out, "null");
		else
			fprintf(out, "%lld", d[k]);
	}
}

static void json_procs(const struct proc *const *v, size_t n)
{
	size_t i;

	fprintf(out, "\"procs\": [");
	for (i = 0; i < n && (!opt.rows || i < (size_t)opt.rows); i++) {
		fprintf(out, "%s{\"pid\": %ld, \"ppid\": %ld, \"comm\": ",
			i ? ", " : "", v[i]->pid, v[i]->ppid);
		put_quoted(out, v[i]->comm, FMT_JSON);
		fprintf(out, ", \"state\": ");
		put_quoted(out, v[i]->state, FMT_JSON);
		json_counters(v[i]->d);
		fprintf(out, "}");
	}
	fprintf(out, "]");
}

static void print_json(const struct table *t)
{
	const struct proc **v;
	size_t n = display_order(t, &v, opt.rows);

	fprintf(out, "{");
	json_procs(v, n);
	fprintf(out, "}\n");
	free(v);
}

/*
 * Cgroups.  procs has no cgroup column: a live process's cgroup is read
 * from /proc/PID/cgroup (the cgroup2 "0::" line), when an output needs
 * it.  An exited process keeps the cgroup an earlier report of this
 * cowstat saw it in (interval mode); otherwise it is "unknown".  Paths
 * are interned: a row holds an index in cgs[].
 */
struct cgroup_sum {
	char *path;
	size_t procs;
	long long d[NSHOWN];
};

static struct cgroup_sum *cgs;
static size_t ncgs, cgs_cap;
static int *cg_hash;		/* open addressing: index + 1, 0 empty */
static size_t cg_hash_cap;

static size_t hash_str(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static void cg_zero(struct cgroup_sum *s, char *path)
{
	int k;

	s->path = path;
	s->procs = 0;
	for (k = 0; k < NSHOWN; k++)
		s->d[k] = -1;
}

static int cg_intern(const char *path)
{
	size_t i, h;

	if (2 * (ncgs + 1) > cg_hash_cap) {
		free(cg_hash);
		cg_hash_cap = cg_hash_cap ? 2 * cg_hash_cap : 256;
		cg_hash = calloc(cg_hash_cap, sizeof(*cg_hash));
		if (!cg_hash)
			die("out of memory%s", "");
		for (i = 0; i < ncgs; i++) {
			for (h = hash_str(cgs[i].path) & (cg_hash_cap - 1); cg_hash[h];
			     h = (h + 1) & (cg_hash_cap - 1))
				;
			cg_hash[h] = i + 1;
		}
	}
	for (h = hash_str(path) & (cg_hash_cap - 1); cg_hash[h];
	     h = (h + 1) & (cg_hash_cap - 1))
		if (!strcmp(cgs[cg_hash[h] - 1].path, path))
			return cg_hash[h] - 1;
	if (ncgs == cgs_cap) {
		cgs_cap = cgs_cap ? 2 * cgs_cap : 64;
		cgs = realloc(cgs, cgs_cap * sizeof(*cgs));
		if (!cgs)
			die("out of memory%s", "");
	}
	cg_zero(&cgs[ncgs], strdup(path));
	if (!cgs[ncgs].path)
		die("out of memory%s", "");
	cg_hash[h] = ncgs + 1;
	return ncgs++;
}

/* The cgroup of row @p (read once per report for a live process). */
static int cgroup_of(struct proc *p)
{
	char path[64], *line = NULL;
	size_t len = 0;
	FILE *f;

	if (p->cg != CG_UNREAD)
		return p->cg;
	p->cg = CG_UNKNOWN;
	if (p->pstate != P_ALIVE)
		return p->cg;
	snprintf(path, sizeof(path), "/proc/%ld/cgroup", p->pid);
	f = fopen(path, "r");
	if (!f)
		return p->cg;	/* it exited since procs was read */
	while (getline(&line, &len, f) >= 0)
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			p->cg = cg_intern(line + 3);
			break;
		}
	free(line);
	fclose(f);
	return p->cg;
}

static int cmp_cgroup(const void *a, const void *b)
{
	const struct cgroup_sum *x = *(const struct cgroup_sum *const *)a;
	const struct cgroup_sum *y = *(const struct cgroup_sum *const *)b;

	if (x->d[sort_col] != y->d[sort_col])
		return x->d[sort_col] < y->d[sort_col] ? 1 : -1;
	return strcmp(x->path, y->path);
}

/* The label of a cgroup once aggregated (see cgroup_groups()). */
static const char *cg_label(int cg)
{
	return cg < 0 ? "unknown" : cgs[cg].procs == (size_t)-1 ? "other" :
	       cgs[cg].path;
}

/* Add counters @d of @procs processes; -1 (unsupported) adds nothing. */
static void cg_add(struct cgroup_sum *s, const long long *d, size_t procs)
{
	int k;

	s->procs += procs;
	for (k = 0; k < NSHOWN; k++)
		if (d[k] >= 0)
			s->d[k] = (s->d[k] < 0 ? 0 : s->d[k]) + d[k];
}

/*
 * Sum the shown rows per cgroup.  The top --max-cgroups by the sort
 * column are kept (0: all), the rest summed as "other", processes of no
 * known cgroup as "unknown": at most max_cgroups + 2 groups.  Returns
 * them sorted (other, then unknown, last); a cgroup folded into other
 * is marked procs == -1 for cg_label().
 */
static size_t cgroup_groups(const struct proc *const *v, size_t n,
			    struct cgroup_sum ***out_groups,
			    struct cgroup_sum *other, struct cgroup_sum *unknown)
{
	struct cgroup_sum **g;
	size_t i, ng = 0;

	for (i = 0; i < ncgs; i++)
		cg_zero(&cgs[i], cgs[i].path);
	cg_zero(other, (char *)"other");
	cg_zero(unknown, (char *)"unknown");
	for (i = 0; i < n; i++) {
		int cg = cgroup_of((struct proc *)v[i]);

		cg_add(cg < 0 ? unknown : &cgs[cg], v[i]->d, 1);
	}
	g = malloc((ncgs + 2) * sizeof(*g));
	if (!g)
		die("out of memory%s", "");
	for (i = 0; i < ncgs; i++)
		if (cgs[i].procs)
			g[ng++] = &cgs[i];
	qsort(g, ng, sizeof(*g), cmp_cgroup);
	if (opt.max_cgroups && ng > (size_t)opt.max_cgroups) {
		for (i = opt.max_cgroups; i < ng; i++) {
			cg_add(other, g[i]->d, g[i]->procs);
			g[i]->procs = (size_t)-1;
		}
		ng = opt.max_cgroups;
	}
	if (other->procs)
		g[ng++] = other;
	if (unknown->procs)
		g[ng++] = unknown;
	*out_groups = g;
	return ng;
}

static void print_cgroups(const struct table *t)
{
	struct cgroup_sum **g, other, unknown;
	const struct proc **v;
	size_t n = display_order(t, &v, 1), ng, i;
	int k;

	ng = cgroup_groups(v, n, &g, &other, &unknown);
	if (opt.json) {
		fprintf(out, "{\"cgroups\": [");
		for (i = 0; i < ng; i++) {
			fprintf(out, "%s{\"cgroup\": ", i ? ", " : "");
			put_quoted(out, g[i]->path, FMT_JSON);
			fprintf(out, ", \"procs\": %zu", g[i]->procs);
			json_counters(g[i]->d);
			fprintf(out, "}");
		}
		fprintf(out, "]}\n");
	} else {
		fprintf(out, "%7s", "PROCS");
		for (k = 0; k < NSHOWN; k++)
			fprintf(out, " %7s", short_names[k]);
		fprintf(out, " CGROUP\n");
		for (i = 0; i < ng; i++) {
			fprintf(out, "%7zu", g[i]->procs);
			for (k = 0; k < NSHOWN; k++)
				print_value(out, k, g[i]->d[k], 7);
			fputc(' ', out);
			put_str(out, g[i]->path, FMT_TABLE);
			fputc('\n', out);
		}
	}
	free(g);
	free(v);
}

/* A Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int metric_name(const char *s)
{
	const char *c;

	for (c = s; *c; c++)
		if (!(*c == '_' || *c == ':' || (*c >= 'a' && *c <= 'z') ||
		      (*c >= 'A' && *c <= 'Z') || (c > s && *c >= '0' && *c <= '9')))
			return 0;
	return c > s;
}

/* Prometheus text format: global counters, and the top processes. */
static void print_prometheus(const struct table *t)
{
	FILE *f = fopen(opt.stats_file, "r");
	char *line = NULL, *colon, *val;
	const struct proc **v;
	size_t len = 0, i, n, rows;
	struct cgroup_sum **g = NULL, other, unknown;
	const char *kind, *suffix;
	size_t ng = 0;
	int k;

	if (!f)
		die("cannot read %s", opt.stats_file);
	while (getline(&line, &len, f) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		val = colon + 1 + strspn(colon + 1, " ");
		if (!metric_name(line) || !*val || val[strspn(val, "0123456789")])
			continue;	/* off, unsupported, or not a number */
		kind = !strncmp(line, "procs", 5) || !strcmp(line, "enabled") ?
		       "gauge" : "counter";
		suffix = *kind == 'c' ? "_total" : "";
		fprintf(out, "# HELP cowtrace_%s%s cowtrace stats: %s.\n", line,
			suffix, line);
		fprintf(out, "# TYPE cowtrace_%s%s %s\n", line, suffix, kind);
		fprintf(out, "cowtrace_%s%s %s\n", line, suffix, val);
	}
	free(line);
	fclose(f);
	n = display_order(t, &v, opt.prom_top);
	if (opt.by_cgroup)
		ng = cgroup_groups(v, n, &g, &other, &unknown);
	for (k = 0; k < NSHOWN; k++) {
		fprintf(out, "# HELP cowtrace_process_%s_total cowtrace per process: %s",
			shown[k], shown[k]);
		fprintf(out, " (top %d processes by %s).\n", opt.prom_top, opt.sort);
		fprintf(out, "# TYPE cowtrace_process_%s_total counter\n", shown[k]);
		for (i = 0, rows = 0; i < n && rows < (size_t)opt.prom_top; i++) {
			if (v[i]->d[k] < 0)
				continue;
			rows++;
			fprintf(out, "cowtrace_process_%s_total{pid=\"%ld\",comm=",
				shown[k], v[i]->pid);
			put_quoted(out, v[i]->comm, FMT_PROM);
			if (opt.by_cgroup) {
				fprintf(out, ",cgroup=");
				put_quoted(out, cg_label(v[i]->cg), FMT_PROM);
			}
			fprintf(out, "} %lld\n", v[i]->d[k]);
		}
	}
	for (k = 0; opt.by_cgroup && k < NSHOWN; k++) {
		fprintf(out, "# HELP cowtrace_cgroup_%s_total cowtrace per cgroup: %s",
			shown[k], shown[k]);
		fprintf(out, " (top %d cgroups by %s, then other).\n",
			opt.max_cgroups, opt.sort);
		fprintf(out, "# TYPE cowtrace_cgroup_%s_total counter\n", shown[k]);
		for (i = 0; i < ng; i++) {
			if (g[i]->d[k] < 0)
				continue;
			fprintf(out, "cowtrace_cgroup_%s_total{cgroup=", shown[k]);
			put_quoted(out, g[i]->path, FMT_PROM);
			fprintf(out, "} %lld\n", g[i]->d[k]);
		}
	}
	if (opt.by_cgroup) {
		fprintf(out, "# HELP cowtrace_cgroup_procs %s.\n",
			"cowtrace per cgroup: processes in the table");
		fprintf(out, "# TYPE cowtrace_cgroup_procs gauge\n");
		for (i = 0; i < ng; i++) {
			fprintf(out, "cowtrace_cgroup_procs{cgroup=");
			put_quoted(out, g[i]->path, FMT_PROM);
			fprintf(out, "} %zu\n", g[i]->procs);
		}
		free(g);
	}
	free(v);
}

/*
 * cowstat -- CMD [ARG...]: count CMD's process tree from its start.
 *
 * The child is forked and waits on a pipe; cowstat sets "filter pid
 * CHILD" (so the module counts the child and its descendants only),
 * reads the table, then lets the child exec CMD.  When CMD exits, the
 * table read again minus the first read is the tree's COW.  Global
 * counters are never reset: other users keep theirs.
 */
#define CMD_FAIL 125	/* cowstat itself failed, as env(1) and timeout(1) */

/* The value of "@key: " in the control file, in @buf. */
static int control_get(const char *key, char *buf, size_t len)
{
	FILE *f = fopen(CT_DIR "/control", "r");
	char line[512];
	size_t kl = strlen(key);
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line + kl + 1 + (line[kl + 1] == ' '));
			found = 1;
		}
	fclose(f);
	return found;
}

static int control_put(const char *cmd)
{
	int fd = open(CT_DIR "/control", O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, cmd, strlen(cmd)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Put the filter back to none, unless someone changed it meanwhile. */
static void restore_filter(void)
{
	char filter[320], mine[32];
	int e;

	if (!filter_owned)
		return;
	filter_owned = 0;
	snprintf(mine, sizeof(mine), "pid %d", (int)cmd_pid);
	if (control_get("filter", filter, sizeof(filter)) && strcmp(filter, mine)) {
		fprintf(stderr, "cowstat: the filter changed during the run (filter: ");
		put_str(stderr, filter, FMT_TEXT);
		fprintf(stderr, "): left as it is\n");
		return;
	}
	e = control_put("filter none");
	if (e)
		fprintf(stderr, "cowstat: cannot restore 'filter none': %s\n",
			strerror(-e));
}

/*
 * SIGINT and SIGQUIT come from the terminal to the whole foreground
 * group, the command included: cowstat waits for it, as a shell does.
 * SIGTERM and SIGHUP are sent to cowstat alone: passed on.
 */
static void on_signal(int sig)
{
	if ((sig == SIGTERM || sig == SIGHUP) && cmd_pid > 0)
		kill(cmd_pid, sig);
}

static const int cmd_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
static struct sigaction saved_sa[ARRAY_SIZE(cmd_signals)];

/* Catch the signals (keeping what they did), or put them back. */
static void catch_signals(int catch)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(cmd_signals); i++)
		if (catch)
			sigaction(cmd_signals[i], &sa, &saved_sa[i]);
		else
			sigaction(cmd_signals[i], &saved_sa[i], NULL);
}

/* The child: wait to be released, then exec; report exec's errno. */
static void cmd_child(char **argv, int go, int err)
{
	char c;
	int e;

	catch_signals(0);
	if (read(go, &c, 1) != 1)
		_exit(CMD_FAIL);	/* cowstat went away */
	close(go);
	execvp(argv[0], argv);
	e = errno;
	if (write(err, &e, sizeof(e)) < 0)
		_exit(CMD_FAIL);
	_exit(e == ENOENT ? 127 : 126);
}

/* The sum of the shown rows, as a row. */
static void cmd_total(const struct proc *const *v, size_t n, struct proc *t)
{
	size_t i;
	int k;

	memset(t, 0, sizeof(*t));
	for (k = 0; k < NSHOWN; k++) {
		t->d[k] = -1;
		for (i = 0; i < n; i++)
			if (v[i]->d[k] >= 0)
				t->d[k] = (t->d[k] < 0 ? 0 : t->d[k]) + v[i]->d[k];
	}
}

/* A frame of a folded stack: as FMT_TEXT, and ';' (the separator) as \x3b. */
static void put_frame(FILE *f, const char *s)
{
	char buf[WHERE_REGION_MAX];
	const char *semi;

	while ((semi = strchr(s, ';'))) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(semi - s), s);
		put_str(f, buf, FMT_TEXT);
		fputs("\\x3b", f);
		s = semi + 1;
	}
	put_str(f, s, FMT_TEXT);
}

/*
 * cowstat --call-graph's report: copies by the user function that wrote
 * (a table, or JSON's "functions"), or with --folded the user stacks of
 * the copies and zero fills, outermost frame first, for flame graphs.
 */
static void funcs_report(enum fmt fmt)
{
	unsigned long long nostack;
	size_t n, i;
	const struct where_func *f = where_funcs(&n, &nostack);
	const struct where_stack *st;
	int k;

	if (nostack)
		fprintf(stderr, "cowstat: %llu faults came without a user stack: %s\n",
			nostack, "named [no stack]");
	if (opt.folded) {
		st = where_stacks(&n);
		for (i = 0; i < n; i++) {
			put_frame(out, st[i].comm);
			for (k = 0; k < st[i].nframes; k++) {
				fputc(';', out);
				put_frame(out, st[i].frames[k]);
			}
			fprintf(out, " %llu\n", st[i].count);
		}
		return;
	}
	if (fmt == FMT_JSON) {
		fprintf(out, ", \"functions\": [");
		for (i = 0; i < n; i++) {
			fprintf(out, "%s{\"pid\": %ld, \"comm\": ", i ? ", " : "", f[i].pid);
			put_quoted(out, f[i].comm, FMT_JSON);
			fprintf(out, ", \"function\": ");
			put_quoted(out, f[i].function, FMT_JSON);
			fprintf(out, ", \"object\": ");
			put_quoted(out, f[i].object, FMT_JSON);
			fprintf(out, ", \"region\": ");
			put_quoted(out, f[i].region, FMT_JSON);
			fprintf(out, ", \"copies\": %llu, \"bytes_copied\": %llu",
				f[i].copies, f[i].bytes);
			fprintf(out, ", \"zero_fills\": %llu, \"reuses\": %llu, \"other\": %llu}",
				f[i].zero_fills, f[i].reuses, f[i].other);
		}
		fprintf(out, "], \"functions_without_stack\": %llu", nostack);
		return;
	}
	fprintf(out, "\n%7s %-15s %7s %7s %7s %7s  %s\n", "PID", "COMM",
		"COPIES", "COPIED", "ZERO", "REUSES", "FUNCTION (OBJECT) -> REGION");
	for (i = 0; i < n && (!opt.rows || i < (size_t)opt.rows); i++) {
		fprintf(out, "%7ld ", f[i].pid);
		put_cell(out, f[i].comm, 15);
		print_value(out, K_COPIES, f[i].copies, 7);
		print_value(out, K_BYTES_COPIED, f[i].bytes, 7);
		print_value(out, K_ZERO_FILLS, f[i].zero_fills, 7);
		print_value(out, K_REUSES, f[i].reuses, 7);
		fprintf(out, "  ");
		put_str(out, f[i].function, FMT_TEXT);
		if (*f[i].object) {
			fprintf(out, " (");
			put_str(out, f[i].object, FMT_TEXT);
			fprintf(out, ")");
		}
		fprintf(out, " -> ");
		put_str(out, f[i].region, FMT_TEXT);
		fprintf(out, "\n");
	}
}

/* cowstat --where's report: the rows of where.c, in @fmt. */
static void where_report(enum fmt fmt)
{
	unsigned long long lost;
	size_t n, i;
	const struct where_row *r = where_rows(&n, &lost);

	if (lost)
		fprintf(stderr, "cowstat: the trace buffer lost %llu events: %s\n",
			lost, "the regions are incomplete");
	if (opt.callgraph) {
		funcs_report(fmt);
		if (opt.folded)
			return;
	}
	if (opt.folded) {
		/* comm;kind;region copies+zero_fills, for flame-graph tools */
		for (i = 0; i < n; i++) {
			if (!r[i].copies && !r[i].zero_fills)
				continue;
			put_frame(out, r[i].comm);
			fputc(';', out);
			put_frame(out, r[i].kind);
			fputc(';', out);
			put_frame(out, r[i].region);
			fprintf(out, " %llu\n", r[i].copies + r[i].zero_fills);
		}
		return;
	}
	if (fmt == FMT_JSON) {
		fprintf(out, ", \"where\": [");
		for (i = 0; i < n; i++) {
			fprintf(out, "%s{\"pid\": %ld, \"comm\": ", i ? ", " : "", r[i].pid);
			put_quoted(out, r[i].comm, FMT_JSON);
			fprintf(out, ", \"kind\": ");
			put_quoted(out, r[i].kind, FMT_JSON);
			fprintf(out, ", \"region\": ");
			put_quoted(out, r[i].region, FMT_JSON);
			fprintf(out, ", \"copies\": %llu, \"bytes_copied\": %llu",
				r[i].copies, r[i].bytes);
			fprintf(out, ", \"zero_fills\": %llu, \"reuses\": %llu, \"other\": %llu}",
				r[i].zero_fills, r[i].reuses, r[i].other);
		}
		fprintf(out, "], \"where_lost\": %llu", lost);
		return;
	}
	fprintf(out, "\n%7s %-15s %-6s %7s %7s %7s %7s  %s\n", "PID", "COMM",
		"KIND", "COPIES", "COPIED", "ZERO", "REUSES", "REGION");
	for (i = 0; i < n && (!opt.rows || i < (size_t)opt.rows); i++) {
		fprintf(out, "%7ld ", r[i].pid);
		put_cell(out, r[i].comm, 15);
		fprintf(out, " %-6s", r[i].kind);
		print_value(out, K_COPIES, r[i].copies, 7);
		print_value(out, K_BYTES_COPIED, r[i].bytes, 7);
		print_value(out, K_ZERO_FILLS, r[i].zero_fills, 7);
		print_value(out, K_REUSES, r[i].reuses, 7);
		fprintf(out, "  ");
		put_str(out, r[i].region, FMT_TEXT);
		fprintf(out, "\n");
	}
}

static void cmd_report(char **argv, int status, const struct table *t)
{
	const struct proc **v;
	size_t n = display_order(t, &v, opt.rows), i;
	struct proc total;
	int k;

	cmd_total(v, n, &total);
	if (opt.json) {
		fprintf(out, "{\"command\": [");
		for (i = 0; argv[i]; i++) {
			fprintf(out, "%s", i ? ", " : "");
			put_quoted(out, argv[i], FMT_JSON);
		}
		fprintf(out, "], \"pid\": %d, \"exit_status\": ", (int)cmd_pid);
		if (WIFSIGNALED(status))
			fprintf(out, "null, \"signal\": %d, ", WTERMSIG(status));
		else
			fprintf(out, "%d, \"signal\": null, ", WEXITSTATUS(status));
		json_procs(v, n);
		fprintf(out, ", \"total\": {\"procs\": %zu", n);
		json_counters(total.d);
		fprintf(out, "}");
		if (opt.where)
			where_report(FMT_JSON);
		fprintf(out, "}\n");
	} else if (opt.folded) {
		where_report(FMT_TEXT);
	} else {
		fprintf(out, "cowstat:");
		for (i = 0; argv[i]; i++) {
			int q = !*argv[i] || strpbrk(argv[i], " \t'\"\\$`;&|<>()*?[]#~");

			fprintf(out, q ? " '" : " ");
			put_str(out, argv[i], FMT_TEXT);
			fprintf(out, q ? "'" : "");
		}
		fprintf(out, " (pid %d) ", (int)cmd_pid);
		if (WIFSIGNALED(status))
			fprintf(out, "was killed by signal %d (%s)\n",
				WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			fprintf(out, "exited with status %d\n", WEXITSTATUS(status));
		table_header();
		for (i = 0; i < n && (!opt.rows || i < (size_t)opt.rows); i++)
			table_row(v[i]);
		fprintf(out, "%7s %7zu %-15s %-6s", "total", n, "processes", "");
		for (k = 0; k < NSHOWN; k++)
			print_value(out, k, total.d[k], 7);
		fprintf(out, "\n");
		if (opt.where)
			where_report(FMT_TEXT);
	}
	fflush(out);
	free(v);
}

/* The value of "@name: N" in the stats file, or -1. */
static long long stats_get(const char *name)
{
	FILE *f = fopen(opt.stats_file, "r");
	size_t nl = strlen(name);
	long long v = -1;
	char line[256];

	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, nl) && line[nl] == ':')
			v = strtoll(line + nl + 1, NULL, 10);
	fclose(f);
	return v;
}

static int run_command(char **argv)
{
	struct table before = { 0 }, after = { 0 };
	long long lost[2];
	int go[2], err[2], status, e, n;
	char filter[320], mine[64];

	check_access();
	if (!control_get("filter", filter, sizeof(filter)))
		die("cannot read %s/control", CT_DIR);
	if (strcmp(filter, "none")) {
		fprintf(stderr, "cowstat: the filter is in use (filter: ");
		put_str(stderr, filter, FMT_TEXT);
		fprintf(stderr, "): someone else uses cowtrace; %s\n",
			"cowstat -- CMD will not overwrite it");
		fprintf(stderr, "cowstat: when they are done: echo 'filter none' > %s/control\n",
			CT_DIR);
		exit(fail_status);
	}
	if (control_get("enabled", mine, sizeof(mine)) && !strcmp(mine, "0"))
		die("cowtrace is disabled: nothing would be counted (echo enable > %s/control)",
		    CT_DIR);
	if (pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	catch_signals(1);
	cmd_pid = fork();
	if (cmd_pid < 0)
		die("fork: %s", strerror(errno));
	if (!cmd_pid)
		cmd_child(argv, go[0], err[1]);
	close(go[0]);
	close(err[1]);

	snprintf(mine, sizeof(mine), "filter pid %d", (int)cmd_pid);
	e = control_put(mine);
	filter_owned = !e;
	if (e) {
		kill(cmd_pid, SIGKILL);
		waitpid(cmd_pid, NULL, 0);
		die("cannot set the filter: %s", strerror(-e));
	}
	read_table(&before);
	lost[0] = stats_get("dropped") + stats_get("evicted");
	/* The command is selected and waits: its first fault is recorded. */
	e = opt.where ? where_start(opt.callgraph) : 0;
	if (e) {
		kill(cmd_pid, SIGKILL);
		waitpid(cmd_pid, NULL, 0);
		if (opt.callgraph)
			die("--call-graph: cannot record cowtrace's events with user stacks%s",
			    " (tracefs events/cowtrace, events/ftrace/user_stack, options/userstacktrace)");
		die("--where: cannot record cowtrace's trace events (tracefs events/cowtrace): %s",
		    strerror(-e));
	}
	if (write(go[1], "x", 1) != 1)
		kill(cmd_pid, SIGKILL);
	close(go[1]);

	/* EOF: exec succeeded (or the child died first). */
	do
		n = read(err[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(err[0]);
	for (;;) {
		pid_t w = waitpid(cmd_pid, &status, opt.where ? WNOHANG : 0);

		if (w == cmd_pid)
			break;
		if (w < 0 && errno != EINTR)
			die("waitpid: %s", strerror(errno));
		if (w == 0) {
			/* Drained every 100 ms: maps are read while they exist. */
			where_drain();
			usleep(100000);
		}
	}
	where_stop();
	if (n != sizeof(e)) {
		read_table(&after);
		lost[1] = stats_get("dropped") + stats_get("evicted");
		if (lost[1] != lost[0])
			fprintf(stderr, "cowstat: %s (dropped + evicted: %lld): %s\n",
				"the table was full", lost[1] - lost[0],
				"processes may be missing (raise max_procs or max_exited)");
	}

	restore_filter();
	if (n == sizeof(e)) {
		fprintf(stderr, "cowstat: ");
		put_str(stderr, argv[0], FMT_TEXT);
		fprintf(stderr, ": %s\n", strerror(e));
		free(before.p);
		return e == ENOENT ? 127 : 126;
	}
	subtract(&after, &before);
	opt.pid = cmd_pid;
	opt.children = 1;
	opt.new_only = 1;
	cmd_report(argv, status, &after);
	free(before.p);
	free(after.p);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static const char *const help[] = {
	"usage: cowstat [-s COLUMN] [-n ROWS] [-p PID [-c]] [-r] [-g [--max-cgroups N]]",
	"               [--json | --prometheus [--top N]] [-o FILE] [INTERVAL [COUNT]]",
	"       cowstat [-s COLUMN] [-n ROWS] [-r] [--json] [-o FILE] -- CMD [ARG...]",
	"       cowstat -w [-G] [-r] [--json | --folded] [-o FILE] -- CMD [ARG...]",
	"  -s COLUMN     sort by this counter (default copies): forks shared copies",
	"                reuses zero_fills file_copies shared_writes thp_splits",
	"                hugetlb_copies bytes_copied",
	"  -n ROWS       print at most ROWS processes",
	"  -p PID        only this process; with -c, its descendants too",
	"  -r            raw numbers (no Ki/Mi units)",
	"  --json        one JSON object per report",
	"  --prometheus  Prometheus text format: global counters and, per",
	"                process, the top N (--top, default 20) by the sort column",
	"  -g, --by-cgroup  sum per cgroup (with --prometheus: a cgroup label",
	"                and cowtrace_cgroup_* series); the top N cgroups",
	"                (--max-cgroups, default 20, 0 for all), the rest as other",
	"  --procs FILE  read this procs table instead of cowtrace's (testing)",
	"  --stats FILE  read this stats file instead of cowtrace's (testing)",
	"  -h, --help    this help",
	"  -o FILE       write to FILE (with a command, the default is stderr)",
	"  INTERVAL      seconds between reports (0.1: 100 ms); after the first,",
	"                per interval",
	"  -- CMD        run CMD, count its process tree from its start; print",
	"                it when CMD ends; exit with CMD's status",
	"  -w, --where   with a command: also which memory (heap, stack, each",
	"                anonymous mapping, each file) each process's COW wrote,",
	"                from cowtrace's trace events",
	"  -G, --call-graph  with a command: also which user function wrote",
	"                each copy (the faulting instruction's), from the user",
	"                stack the kernel records with each event (frame",
	"                pointers, 8 frames at most)",
	"  --folded      with a command: those regions as folded stacks",
	"                (comm;kind;region COUNT) for flame-graph tools; with",
	"                -G the user stacks and the region written",
	"                (comm;outermost;...;writer;region COUNT)",
	"See cowstat(1).",
};

static void usage(FILE *f, int status)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(help); i++)
		fprintf(f, "%s\n", help[i]);
	exit(status);
}

/* A whole decimal number in [min, max], or a usage error naming @what. */
static long parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "cowstat: %s: not a number in [%ld, %ld]: '%s'\n",
			what, min, max, s);
		usage(stderr, 2);
	}
	return v;
}

/*
 * INTERVAL: seconds, a decimal fraction allowed (0.1), from 0.01 to a
 * day; returned in milliseconds.
 */
static long parse_interval(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.01 && v <= 86400)) {
		fprintf(stderr, "cowstat: INTERVAL: not seconds in [0.01, 86400]: '%s'\n", s);
		usage(stderr, 2);
	}
	return (long)(v * 1000 + 0.5);
}

int main(int argc, char **argv)
{
	enum { O_PROCS = 256, O_STATS, O_MAXCG, O_FOLDED };
	char **cmd = NULL;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "top", required_argument, NULL, 't' },
		{ "by-cgroup", no_argument, NULL, 'g' },
		{ "max-cgroups", required_argument, NULL, O_MAXCG },
		{ "procs", required_argument, NULL, O_PROCS },
		{ "stats", required_argument, NULL, O_STATS },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "where", no_argument, NULL, 'w' },
		{ "folded", no_argument, NULL, O_FOLDED },
		{ "call-graph", no_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	struct table cur = { 0 }, prev = { 0 }, swap;
	int c, interval = 0, count = 1, report, custom = 0;

	for (c = 1; c < argc; c++)
		if (!strcmp(argv[c], "--")) {
			cmd = argv + c + 1;
			argc = c;
			break;
		}
	while ((c = getopt_long(argc, argv, "s:n:p:cgro:hwG", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.sort = optarg;
			break;
		case 'n':
			opt.rows = parse_num(optarg, 1, INT_MAX, "-n");
			break;
		case 'p':
			opt.pid = parse_num(optarg, 1, INT_MAX, "-p");
			break;
		case 'c':
			opt.children = 1;
			break;
		case 'r':
			opt.raw = 1;
			break;
		case 'j':
			opt.json = 1;
			break;
		case 'P':
			opt.prom = 1;
			break;
		case 'g':
			opt.by_cgroup = 1;
			break;
		case O_MAXCG:
			opt.max_cgroups = parse_num(optarg, 0, INT_MAX, "--max-cgroups");
			break;
		case 't':
			opt.prom_top = parse_num(optarg, 1, INT_MAX, "--top");
			break;
		case O_PROCS:
			opt.procs_file = optarg;
			custom = 1;
			break;
		case O_STATS:
			opt.stats_file = optarg;
			custom = 1;
			break;
		case 'o':
			out = fopen(optarg, "w");
			if (!out)
				die("cannot write %s", optarg);
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case 'w':
			opt.where = 1;
			break;
		case 'G':
			opt.where = 1;
			opt.callgraph = 1;
			break;
		case O_FOLDED:
			opt.where = 1;
			opt.folded = 1;
			break;
		default:
			usage(stderr, 2);
		}
	}
	for (sort_col = 0; sort_col < NSHOWN; sort_col++)
		if (!strcmp(shown[sort_col], opt.sort))
			break;
	if (sort_col == NSHOWN)
		die("unknown column '%s' for -s", opt.sort);
	if (opt.json && opt.prom)
		die("--json and --prometheus exclude each other%s", "");
	if (opt.where && !cmd)
		die("--where, --call-graph and --folded go with a command%s",
		    " (cowstat -w -- CMD)");
	if (opt.folded && opt.json)
		die("--folded and --json exclude each other%s", "");
	if (cmd) {
		if (!*cmd)
			die("no command after --%s", "");
		if (optind < argc)
			die("INTERVAL and COUNT do not go with a command ('%s')", argv[optind]);
		if (opt.pid || opt.prom || opt.by_cgroup || custom)
			die("%s do not go with a command",
			    "-p, --prometheus, --by-cgroup, --procs and --stats");
		if (!out)
			out = stderr;
		fail_status = CMD_FAIL;
		return run_command(cmd);
	}
	if (!out)
		out = stdout;
	if (optind < argc) {
		interval = parse_interval(argv[optind++]);
		count = optind < argc ?
			parse_num(argv[optind++], 1, INT_MAX, "COUNT") : -1;
	}
	if (optind < argc)
		die("unexpected argument '%s' (a command goes after --)",
		    argv[optind]);
	if (!custom)
		check_access();
	for (report = 0; count < 0 || report < count; report++) {
		if (report) {
			struct timespec ts = { interval / 1000,
					       interval % 1000 * 1000000L };

			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
		read_table(&cur);
		if (report)
			subtract(&cur, &prev);
		if (opt.json && !opt.by_cgroup)
			print_json(&cur);
		else if (opt.prom)
			print_prometheus(&cur);
		else if (opt.by_cgroup)
			print_cgroups(&cur);
		else
			print_table(&cur);
		if (interval && !opt.json && !opt.prom)
			fprintf(out, "\n");
		fflush(out);
		swap = prev;
		prev = cur;
		cur = swap;
	}
	free(cur.p);
	free(prev.p);
	return 0;
}

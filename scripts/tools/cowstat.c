// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat - cowtrace's per-process copy-on-write table, like vmstat/top.
 *
 *   cowstat [options] [INTERVAL [COUNT]]
 *
 * Reads /sys/kernel/debug/cowtrace/{procs,stats}; prints the processes
 * sorted by copies (or -s COLUMN), then, every INTERVAL seconds, what
 * changed in that interval.  --json and --prometheus print for machines.
 * See Documentation/cowtrace.rst ("cowstat").
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#define DEBUGFS "/sys/kernel/debug"
#define CT_DIR DEBUGFS "/cowtrace"
#define DEBUGFS_MAGIC 0x64626720
#define MAX_COLS 32
#define MAX_PROCS 65536

/* The counters cowstat shows, in order; bytes_copied gets human units. */
static const char *const shown[] = {
	"forks", "shared", "copies", "reuses", "zero_fills", "file_copies",
	"shared_writes", "thp_splits", "hugetlb_copies", "bytes_copied",
};

static const char *const short_names[] = {
	"FORKS", "SHARED", "COPIES", "REUSES", "ZERO", "FILE", "SHWR",
	"THPSPL", "HUGE", "COPIED",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NSHOWN ARRAY_SIZE(shown)

struct proc {
	long pid;
	long ppid;
	char comm[32];
	char state[16];
	long long v[NSHOWN];	/* -1: off or unsupported */
};

struct table {
	int n;
	struct proc *p;
};

static struct {
	const char *sort;
	long pid;
	int children;
	int json;
	int prom;
	int prom_top;
	int raw;
	int rows;
} opt = { .sort = "copies", .prom_top = 20, .rows = 0 };

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "cowstat: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
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
		die("%s is missing: the cowtrace module is not loaded (insmod module/cowtrace.ko)",
		    CT_DIR);
	die("cannot read %s/procs", CT_DIR);
}

static char *slurp(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f || !buf)
		die("cannot read %s", path);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory reading %s", path);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static long long value(const char *tok)
{
	if (!strcmp(tok, "off") || !strcmp(tok, "unsupported"))
		return -1;
	return strtoll(tok, NULL, 10);
}

static void read_table(struct table *t)
{
	char *text = slurp(CT_DIR "/procs"), *save, *line, *tok, *tsave;
	int map[MAX_COLS], ncols = 0, i;

	t->n = 0;
	t->p = calloc(MAX_PROCS, sizeof(*t->p));
	if (!t->p)
		die("out of memory%s", "");
	line = strtok_r(text, "\n", &save);
	for (tok = line ? strtok_r(line, " ", &tsave) : NULL;
	     tok && ncols < MAX_COLS; tok = strtok_r(NULL, " ", &tsave)) {
		map[ncols] = -1;
		for (i = 0; i < (int)NSHOWN; i++)
			if (!strcmp(tok, shown[i]))
				map[ncols] = i;
		if (!strcmp(tok, "pid"))
			map[ncols] = 100;
		if (!strcmp(tok, "ppid"))
			map[ncols] = 101;
		if (!strcmp(tok, "comm"))
			map[ncols] = 102;
		if (!strcmp(tok, "state"))
			map[ncols] = 103;
		ncols++;
	}
	while ((line = strtok_r(NULL, "\n", &save)) && t->n < MAX_PROCS) {
		struct proc *p = &t->p[t->n++];
		int c = 0;

		for (tok = strtok_r(line, " ", &tsave); tok && c < ncols;
		     tok = strtok_r(NULL, " ", &tsave), c++) {
			if (map[c] == 100)
				p->pid = strtol(tok, NULL, 10);
			else if (map[c] == 101)
				p->ppid = strtol(tok, NULL, 10);
			else if (map[c] == 102)
				snprintf(p->comm, sizeof(p->comm), "%s", tok);
			else if (map[c] == 103)
				snprintf(p->state, sizeof(p->state), "%s", tok);
			else if (map[c] >= 0)
				p->v[map[c]] = value(tok);
		}
	}
	free(text);
}

static int sort_col;

static int cmp(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	if (x->v[sort_col] != y->v[sort_col])
		return x->v[sort_col] < y->v[sort_col] ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Is @p the selected process, or (with -c) one of its descendants? */
static int selected(const struct table *t, const struct proc *p)
{
	long pid = p->pid;
	int hops = 0, i;

	if (!opt.pid)
		return 1;
	while (pid > 0 && hops++ < 64) {
		if (pid == opt.pid)
			return 1;
		if (!opt.children)
			return 0;
		for (i = 0; i < t->n && t->p[i].pid != pid; i++)
			;
		if (i == t->n)
			return 0;
		pid = t->p[i].ppid;
	}
	return 0;
}

/* Values as deltas against @prev (the same process, by pid and comm). */
static void subtract(struct table *cur, const struct table *prev)
{
	int i, j, k;

	for (i = 0; i < cur->n; i++)
		for (j = 0; j < prev->n; j++) {
			if (prev->p[j].pid != cur->p[i].pid)
				continue;
			for (k = 0; k < (int)NSHOWN; k++)
				if (cur->p[i].v[k] >= 0)
					cur->p[i].v[k] -= prev->p[j].v[k];
			break;
		}
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
	else if (!strcmp(shown[col], "bytes_copied"))
		human(buf, sizeof(buf), v);
	else
		snprintf(buf, sizeof(buf), "%lld", v);
	fprintf(f, " %*s", width, buf);
}

static void print_table(const struct table *t)
{
	int i, k, rows = 0;

	printf("%7s %7s %-15s %-6s", "PID", "PPID", "COMM", "STATE");
	for (k = 0; k < (int)NSHOWN; k++)
		printf(" %7s", short_names[k]);
	printf("\n");
	for (i = 0; i < t->n; i++) {
		const struct proc *p = &t->p[i];

		if (!selected(t, p))
			continue;
		if (opt.rows && rows++ >= opt.rows)
			break;
		printf("%7ld %7ld %-15s %-6s", p->pid, p->ppid, p->comm,
		       p->state);
		for (k = 0; k < (int)NSHOWN; k++)
			print_value(stdout, k, p->v[k], 7);
		printf("\n");
	}
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct table *t)
{
	int i, k, first = 1;

	printf("{\"procs\": [");
	for (i = 0; i < t->n; i++) {
		const struct proc *p = &t->p[i];

		if (!selected(t, p))
			continue;
		printf("%s{\"pid\": %ld, \"ppid\": %ld, \"comm\": ",
		       first ? "" : ", ", p->pid, p->ppid);
		json_string(p->comm);
		printf(", \"state\": ");
		json_string(p->state);
		for (k = 0; k < (int)NSHOWN; k++) {
			printf(", \"%s\": ", shown[k]);
			if (p->v[k] < 0)
				printf("null");
			else
				printf("%lld", p->v[k]);
		}
		printf("}");
		first = 0;
	}
	printf("]}\n");
}

/* Prometheus text format: global counters, and the top processes. */
static void print_prometheus(const struct table *t)
{
	char *stats = slurp(CT_DIR "/stats"), *save, *line;
	int i, k, rows;

	for (line = strtok_r(stats, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		const char *kind;

		if (!colon || !strcmp(colon + 2, "off") ||
		    !strcmp(colon + 2, "unsupported"))
			continue;
		*colon = '\0';
		kind = !strncmp(line, "procs", 5) || !strcmp(line, "enabled") ?
		       "gauge" : "counter";
		printf("# HELP cowtrace_%s%s cowtrace stats: %s.\n", line,
		       *kind == 'c' ? "_total" : "", line);
		printf("# TYPE cowtrace_%s%s %s\n", line,
		       *kind == 'c' ? "_total" : "", kind);
		printf("cowtrace_%s%s %s\n", line, *kind == 'c' ? "_total" : "",
		       colon + 2);
	}
	free(stats);
	for (k = 0; k < (int)NSHOWN; k++) {
		printf("# HELP cowtrace_process_%s_total cowtrace per process: %s",
		       shown[k], shown[k]);
		printf(" (top %d processes by %s).\n", opt.prom_top, opt.sort);
		printf("# TYPE cowtrace_process_%s_total counter\n", shown[k]);
		for (i = 0, rows = 0; i < t->n && rows < opt.prom_top; i++) {
			const struct proc *p = &t->p[i];

			if (!selected(t, p) || p->v[k] < 0)
				continue;
			rows++;
			printf("cowtrace_process_%s_total{pid=\"%ld\",comm=\"%s\"} %lld\n",
			       shown[k], p->pid, p->comm, p->v[k]);
		}
	}
}

static const char *const help[] = {
	"cowstat [-s COLUMN] [-n ROWS] [-p PID [-c]] [-r] [--json | --prometheus [--top N]]",
	"        [INTERVAL [COUNT]]",
	"  -s COLUMN     sort by this counter (default copies): forks shared copies",
	"                reuses zero_fills file_copies shared_writes thp_splits",
	"                hugetlb_copies bytes_copied",
	"  -n ROWS       print at most ROWS processes",
	"  -p PID        only this process; with -c, its descendants too",
	"  -r            raw numbers (no Ki/Mi units)",
	"  --json        one JSON object per report",
	"  --prometheus  Prometheus text format: global counters and, per",
	"                process, the top N (--top, default 20) by the sort column",
	"  INTERVAL      seconds between reports; after the first, per interval",
};

static void print_help(void)
{
	size_t i;

	fputs("usage: ", stderr);
	for (i = 0; i < ARRAY_SIZE(help); i++)
		fprintf(stderr, "%s\n", help[i]);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct table cur, prev = { 0 };
	int c, interval = 0, count = 1, report;

	while ((c = getopt_long(argc, argv, "s:n:p:crh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.sort = optarg;
			break;
		case 'n':
			opt.rows = atoi(optarg);
			break;
		case 'p':
			opt.pid = atol(optarg);
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
		case 't':
			opt.prom_top = atoi(optarg);
			break;
		default:
			print_help();
		}
	}
	for (sort_col = 0; sort_col < (int)NSHOWN; sort_col++)
		if (!strcmp(shown[sort_col], opt.sort))
			break;
	if (sort_col == (int)NSHOWN)
		die("unknown column '%s' for -s", opt.sort);
	if (optind < argc) {
		interval = atoi(argv[optind++]);
		count = optind < argc ? atoi(argv[optind++]) : -1;
		if (interval <= 0)
			print_help();
	}
	check_access();
	for (report = 0; count < 0 || report < count; report++) {
		if (report)
			sleep(interval);
		read_table(&cur);
		if (report) {
			struct table snap = { .n = cur.n };

			snap.p = malloc(cur.n * sizeof(*cur.p));
			memcpy(snap.p, cur.p, cur.n * sizeof(*cur.p));
			subtract(&cur, &prev);
			free(prev.p);
			prev = snap;
		} else {
			prev.n = cur.n;
			prev.p = malloc(cur.n * sizeof(*cur.p));
			memcpy(prev.p, cur.p, cur.n * sizeof(*cur.p));
		}
		qsort(cur.p, cur.n, sizeof(*cur.p), cmp);
		if (opt.json)
			print_json(&cur);
		else if (opt.prom)
			print_prometheus(&cur);
		else
			print_table(&cur);
		if (interval && !opt.json && !opt.prom)
			printf("\n");
		fflush(stdout);
		free(cur.p);
	}
	free(prev.p);
	return 0;
}

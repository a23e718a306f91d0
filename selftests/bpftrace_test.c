// SPDX-License-Identifier: GPL-2.0
/*
 * bpftrace selftests: scripts/tools/cowtrace-bpf, cowtrace redone in bpftrace
 * for machines where the module cannot be loaded, must count what the
 * module counts.  Both run at once on the same scenario; for each of the
 * scenario's processes, every counter the bpftrace table has must equal
 * the module's counter moved over the same window, exactly.
 *
 * The window: the module's rows are read, then the wrapper starts and
 * says "cowtrace-bpf: attached" once every probe is in place; the
 * scenario runs in puppets (processes that do nothing else); the rows
 * are read again, then the wrapper is stopped and prints its table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define N 64		/* pages the parent writes before it forks */
#define K 16		/* pages written after the fork */
#define Z 16		/* pages first read (zero page), then written */
#define F 8		/* private file pages, per way of copying them */
#define ZBASE N		/* anonymous pages never touched before the fork */
#define FBASE (N + Z)	/* the file mapping */
#define PAGES (N + Z + 2 * F)

#define HELPER_ENV "COWTRACE_BPF_HELPER"
#define HELPER_STATUS 7

/* The wrapper's stdout, whole. */
static char bt_out[64 << 10];

struct bt_run {
	pid_t pid;
	int out;
	FILE *err;
};

/* $COWTRACE_BPF, or scripts/tools/cowtrace-bpf of the tree this test was built in. */
static const char *bt_wrapper(void)
{
	static char path[PATH_MAX + 32];
	const char *env = getenv("COWTRACE_BPF");
	char exe[PATH_MAX], *slash;
	ssize_t len;

	if (env)
		return env;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return "scripts/tools/cowtrace-bpf";
	exe[len] = '\0';
	/* build/selftests/bpftrace_test -> scripts/tools/cowtrace-bpf */
	slash = strstr(exe, "/build/selftests/");
	if (!slash)
		return "scripts/tools/cowtrace-bpf";
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/scripts/tools/cowtrace-bpf", exe);
	return path;
}

static bool have_bpftrace(void)
{
	return system("command -v bpftrace >/dev/null 2>&1") == 0;
}

/* Start the wrapper with @args (NULL-terminated, after argv[0]). */
static int bt_spawn(struct bt_run *r, const char *const args[])
{
	const char *argv[16] = { bt_wrapper() };
	int out[2], err[2];
	size_t i;

	for (i = 0; args[i] && i + 2 < ARRAY_SIZE(argv); i++)
		argv[i + 1] = args[i];
	if (pipe(out) || pipe(err))
		return -errno;
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	r->out = out[0];
	r->err = fdopen(err[0], "r");
	return r->err ? 0 : -errno;
}

/*
 * Start the wrapper and wait until it says every probe is attached.
 * Its stderr is passed on.
 */
static int bt_start(struct bt_run *r, const char *const args[])
{
	char line[512];
	int ret = bt_spawn(r, args);

	if (ret)
		return ret;
	while (fgets(line, sizeof(line), r->err)) {
		fprintf(stderr, "# %s", line);
		if (!strncmp(line, "cowtrace-bpf: attached", 22))
			return 0;
	}
	return -EIO;
}

/*
 * Wait for the wrapper to end (after @sig if not 0), its stdout read
 * into bt_out; its exit status.
 */
static int bt_finish(struct bt_run *r, int sig)
{
	size_t len = 0;
	char line[512];
	ssize_t n;
	int status;

	if (sig)
		kill(r->pid, sig);
	while ((n = read(r->out, bt_out + len, sizeof(bt_out) - 1 - len)) > 0)
		len += n;
	bt_out[len] = '\0';
	close(r->out);
	if (r->err) {
		while (fgets(line, sizeof(line), r->err))
			fprintf(stderr, "# %s", line);
		fclose(r->err);
		r->err = NULL;
	}
	if (waitpid(r->pid, &status, 0) != r->pid)
		return -1;
	r->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The table in bt_out, as TAP diagnostics. */
static void log_table(void)
{
	const char *p, *nl;

	fprintf(stderr, "# bpftrace table:\n");
	for (p = bt_out; *p; p = nl + 1) {
		nl = strchrnul(p, '\n');
		fprintf(stderr, "#   %.*s\n", (int)(nl - p), p);
		if (!*nl)
			break;
	}
}

/*
 * The row of @pid in a table "pid <counter> ..." (header first), into
 * @v by the module's column numbers; @cols gets a bit per column the
 * table has.  A process the table does not list had no event: zeros.
 */
static int bt_row(const char *table, pid_t pid, unsigned long long *v,
		  unsigned long *cols)
{
	char *copy = strdup(table), *line, *save;
	int map[C_NCOLS + 1], ncols, col, err = 0;
	struct ct_row r;

	memset(v, 0, C_NCOLS * sizeof(*v));
	*cols = 0;
	if (!copy)
		return -ENOMEM;
	line = strtok_r(copy, "\n", &save);
	ncols = line ? ct_procs_header(line, map, ARRAY_SIZE(map)) : 0;
	if (!ncols || map[0] != CT_COL_PID) {
		free(copy);
		return -EINVAL;
	}
	for (col = 1; col < ncols; col++)
		if (map[col] >= 0 && map[col] < C_NCOLS)
			*cols |= 1UL << map[col];
	while ((line = strtok_r(NULL, "\n", &save))) {
		int got = ct_parse_row(line, map, ncols, &r);

		if (r.pid != pid)
			continue;
		if (got < ncols) {
			err = -EINVAL;
			break;
		}
		memcpy(v, r.v, C_NCOLS * sizeof(*v));
	}
	free(copy);
	return err;
}

/*
 * The counters bpftrace has for @pid equal the module's moved from @a to
 * @b, each of them.  Unless @want is NULL, the module's moved by exactly
 * @want[column] too.
 */
static void check_proc(struct __test_metadata *_metadata, const char *who,
		       pid_t pid, const struct ct_row *a, const struct ct_row *b,
		       const unsigned long long *want)
{
	unsigned long long bt[C_NCOLS], mod;
	unsigned long cols;
	int c;

	ASSERT_EQ(0, bt_row(bt_out, pid, bt, &cols));
	ASSERT_TRUE(cols & (1UL << C_COPIES));
	ASSERT_TRUE(cols & (1UL << C_REUSES));
	ASSERT_TRUE(cols & (1UL << C_ZERO_FILLS));
	for (c = 0; c < C_NCOLS; c++) {
		if (!(cols & (1UL << c)))
			continue;
		if (a->v[c] == CT_UNSET || b->v[c] == CT_UNSET)
			continue;
		mod = b->v[c] - a->v[c];
		TH_LOG("%s %d %s: module %llu bpftrace %llu", who, pid,
		       ct_col_names[c], mod, bt[c]);
		EXPECT_EQ(mod, bt[c]);
		if (want)
			EXPECT_EQ(want[c], mod);
	}
}

/* A private mapping of a temporary file of @pages pages at @addr. */
static int map_file_at(char *addr, size_t pages)
{
	char path[] = "/tmp/cowtrace-bpf-XXXXXX";
	size_t ps = ct_page_size(), i;
	char *page = malloc(ps);
	void *map;
	int fd;

	if (!page)
		return -ENOMEM;
	fd = mkstemp(path);
	if (fd < 0) {
		free(page);
		return -errno;
	}
	unlink(path);
	for (i = 0; i < pages; i++) {
		memset(page, (int)('a' + i), ps);
		if (write(fd, page, ps) != (ssize_t)ps)
			break;
	}
	free(page);
	map = i < pages ? MAP_FAILED :
	      mmap(addr, pages * ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_FIXED, fd, 0);
	close(fd);
	return map == MAP_FAILED ? -EIO : 0;
}

FIXTURE(bpf) {
	char *buf;
	struct bt_run run;	/* the wrapper, while it runs */
	struct ct_puppet pp[2];
};

FIXTURE_SETUP(bpf)
{
	if (!have_bpftrace())
		SKIP(return, "bpftrace is not installed");
	/* The .bt programs cast to kernel structures: bpftrace reads them from BTF. */
	if (access("/sys/kernel/btf/vmlinux", F_OK))
		SKIP(return, "the kernel has no BTF (no debug info, as in the debug kernel)");
	ASSERT_EQ(0, ct_load(""));
	self->buf = ct_map_anon(PAGES, false);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, map_file_at(self->buf + FBASE * ct_page_size(), 2 * F));
}

/* After a failed assertion, leave no wrapper, bpftrace or puppet behind. */
FIXTURE_TEARDOWN(bpf)
{
	size_t i;

	if (self->run.pid > 0)
		bt_finish(&self->run, SIGTERM);
	for (i = 0; i < ARRAY_SIZE(self->pp); i++)
		if (self->pp[i].pid > 0)
			kill(self->pp[i].pid, SIGKILL);
	if (self->pp[0].pid > 0)
		waitpid(self->pp[0].pid, NULL, 0);
	if (ct_loaded())
		EXPECT_EQ(0, ct_unload());
}

/*
 * Parent and child share N written pages.  The child writes K of them
 * (K copies), the parent the same K (K reuses); the parent writes K
 * others (K copies), the child those (K reuses).  Each reads Z untouched
 * pages (the zero page) and writes them (Z zero fills).  The child reads
 * F pages of a private file mapping and writes them (F file copies in
 * do_wp_page) and writes F more it never read (F file copies in
 * do_cow_fault).  bpftrace must see exactly what the module sees.
 */
TEST_F_TIMEOUT(bpf, counts_equal_module, 240)
{
	char self_pid[16];
	const char *const args[] = { "-p", self_pid, NULL };
	unsigned long long pwant[C_NCOLS] = { 0 }, cwant[C_NCOLS] = { 0 };
	struct ct_row pa, pb, ca, cb;
	struct ct_puppet *pp = self->pp;
	pid_t parent, child;

	ct_puppets_init(pp, ARRAY_SIZE(self->pp), self->buf);
	parent = ct_puppet_start(&pp[0]);
	ASSERT_LT(0, parent);
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, N));
	child = ct_puppet_do(&pp[0], CT_OP_FORK, 1, 0);
	ASSERT_LT(0, child);
	ct_proc_or_zero(parent, &pa);
	ct_proc_or_zero(child, &ca);

	/* The subtree of this process: both puppets. */
	snprintf(self_pid, sizeof(self_pid), "%d", getpid());
	ASSERT_EQ(0, bt_start(&self->run, args));

	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, 0, K));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, K, 2 * K));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, K, 2 * K));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_READ, ZBASE, ZBASE + Z));
	ASSERT_EQ(0, ct_puppet_do(&pp[0], CT_OP_WRITE, ZBASE, ZBASE + Z));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_READ, ZBASE, ZBASE + Z));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, ZBASE, ZBASE + Z));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_READ, FBASE, FBASE + F));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, FBASE, FBASE + F));
	ASSERT_EQ(0, ct_puppet_do(&pp[1], CT_OP_WRITE, FBASE + F, FBASE + 2 * F));

	ct_proc_or_zero(parent, &pb);
	ct_proc_or_zero(child, &cb);
	/* Without a command, SIGTERM (or SIGINT) ends the trace: status 0. */
	EXPECT_EQ(0, bt_finish(&self->run, SIGTERM));
	log_table();

	pwant[C_COPIES] = K;
	pwant[C_REUSES] = K;
	pwant[C_ZERO_FILLS] = Z;
	cwant[C_COPIES] = K;
	cwant[C_REUSES] = K;
	cwant[C_ZERO_FILLS] = Z;
	cwant[C_FILE_COPIES] = 2 * F;
	/* Everything else: no shared write, race or unshare. */
	check_proc(_metadata, "parent", parent, &pa, &pb, pwant);
	check_proc(_metadata, "child", child, &ca, &cb, cwant);

	ct_puppet_do(&pp[1], CT_OP_QUIT, 0, 0);
	ct_puppet_do(&pp[0], CT_OP_QUIT, 0, 0);
	pp[0].pid = 0;
	pp[1].pid = 0;
}

/*
 * The helper, run by the wrapper as its command (this program again,
 * with HELPER_ENV set): forks a child that writes K pages shared with
 * it, prints the child's pid and exits with HELPER_STATUS.
 */
static void __attribute__((constructor)) helper(void)
{
	size_t ps = ct_page_size(), i;
	char *buf;
	pid_t pid;

	if (!getenv(HELPER_ENV))
		return;
	buf = ct_map_anon(N, true);
	if (!buf)
		_exit(1);
	ct_warm();
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid == 0) {
		for (i = 0; i < K; i++)
			buf[i * ps] = 2;
		_exit(0);
	}
	if (waitpid(pid, NULL, 0) != pid)
		_exit(1);
	printf("%d\n", pid);
	fflush(stdout);
	_exit(HELPER_STATUS);
}

/*
 * With a command, the wrapper traces the command's subtree from its
 * start and exits with the command's status.  The helper's child was
 * born after every probe was attached: both count its whole life.
 */
TEST_F_TIMEOUT(bpf, command_mode, 240)
{
	char exe[PATH_MAX], table[] = "/tmp/cowtrace-bpf-table-XXXXXX";
	const char *const args[] = { "-o", table, "--", exe, NULL };
	struct ct_row zero, row;
	ssize_t len;
	pid_t child;
	int fd;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, len);
	exe[len] = '\0';
	fd = mkstemp(table);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, setenv(HELPER_ENV, "1", 1));
	ASSERT_EQ(0, bt_start(&self->run, args));
	unsetenv(HELPER_ENV);
	EXPECT_EQ(HELPER_STATUS, bt_finish(&self->run, 0));
	child = strtol(bt_out, NULL, 10);
	ASSERT_LT(0, child);
	fd = open(table, O_RDONLY);
	ASSERT_LE(0, fd);
	len = read(fd, bt_out, sizeof(bt_out) - 1);
	close(fd);
	unlink(table);
	ASSERT_LT(0, len);
	bt_out[len] = '\0';
	log_table();
	ASSERT_EQ(0, ct_proc(child, &row));
	EXPECT_LE(K, row.v[C_COPIES]);
	memset(&zero, 0, sizeof(zero));
	check_proc(_metadata, "child", child, &zero, &row, NULL);
}

/* The symbol the module attached for @role (its probes file). */
static int module_symbol(const char *role, char *sym, size_t size)
{
	const char *text = ct_read_file("probes"), *p;
	char r[64], s[128], mech[32], status[32];

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, "%63s %127s %31s %31s", r, s, mech, status) != 4)
			continue;
		if (!strcmp(r, role) && !strcmp(status, "attached")) {
			snprintf(sym, size, "%s", s);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The program the wrapper picks by the kernel's symbols probes what the
 * module's older plan (legacy_probes=1) attaches to: the fault, copy-path
 * and new-anon-rmap symbols.  The module's default plan hooks the same
 * do_wp_page at entry.
 */
TEST_F(bpf, picks_the_module_probe_points)
{
	static const struct { const char *role, *kind; } points[] = {
		{ "wp_fault", "kretprobe" },
		{ "copy_path", "kprobe" },
		{ "new_anon", "kprobe" },
		{ "file_fault", "kretprobe" },
	};
	static const char *const args[] = { "-n", NULL };
	char sym[128], probe[192];
	const char *prog = bt_out;
	size_t i;

	ASSERT_EQ(0, bt_spawn(&self->run, args));
	ASSERT_EQ(0, bt_finish(&self->run, 0));
	/* -n prints the filled-in template: no placeholder is left. */
	ASSERT_NE(NULL, strstr(prog, "\nkprobe:do_wp_page\n"));
	EXPECT_EQ(NULL, strstr(prog, "@COPY_PATH@"));
	EXPECT_EQ(NULL, strstr(prog, "@COMMIT@"));
	ASSERT_EQ(0, module_symbol("wp_entry", sym, sizeof(sym)));
	EXPECT_STREQ("do_wp_page", sym);
	ASSERT_EQ(0, ct_load("legacy_probes=1"));
	for (i = 0; i < ARRAY_SIZE(points); i++) {
		ASSERT_EQ(0, module_symbol(points[i].role, sym, sizeof(sym)));
		snprintf(probe, sizeof(probe), "\n%s:%s\n", points[i].kind, sym);
		EXPECT_NE(NULL, strstr(prog, probe)) TH_LOG("no %s", probe + 1);
	}
}

TEST_HARNESS_MAIN

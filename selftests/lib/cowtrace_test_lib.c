// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by cowtrace's selftests (see cowtrace_test.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include "cowtrace_test.h"
/* PIN_LONGTERM_TEST_*: from linux-source (build/linux-source-*, as kselftest's). */
#include <../../../mm/gup_test.h>

const char *const ct_col_names[C_NCOLS] = {
	"forks", "shared", "copies", "reuses", "zero_fills", "file_copies",
	"shared_writes", "thp_reuses", "thp_splits", "hugetlb_copies",
	"unshares", "bytes_copied", "cow_races", "shared_first",
	"shared_again", "fork_copies", "ksm_copies",
};

#define CT_PUPPET_TIMEOUT_MS (120 * 1000)

static char ct_buf[256 << 10];
static char ct_copy[sizeof(ct_buf)];

unsigned long ct_checksum(const char *p, size_t len)
{
	unsigned long h = 5381;
	size_t i;

	for (i = 0; i < len; i++)
		h = h * 33 + (unsigned char)p[i];
	return h;
}

size_t ct_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

bool ct_have_thp(void)
{
	return access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
}

int ct_setting_save(struct ct_setting *s, const char *path)
{
	char buf[256], *b, *e;
	ssize_t n;
	int fd;

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	b = strchr(buf, '[');
	e = b ? strchr(b, ']') : NULL;
	if (b && e) {
		b++;
		*e = '\0';
	} else {
		b = buf;
		b[strcspn(b, "\n")] = '\0';
	}
	snprintf(s->value, sizeof(s->value), "%.*s", (int)sizeof(s->value) - 1, b);
	s->saved = true;
	return 0;
}

int ct_setting_restore(struct ct_setting *s)
{
	if (!s->saved)
		return 0;
	s->saved = false;
	return ct_write_file(s->path, s->value);
}

void ct_thp_save(struct ct_thp_settings *t)
{
	static const char *const top[] = { "enabled", "defrag" };
	const char *dir = "/sys/kernel/mm/transparent_hugepage";
	char path[192];
	struct dirent *d;
	DIR *dp;
	size_t i;

	t->n = 0;
	if (!ct_have_thp())
		return;
	for (i = 0; i < ARRAY_SIZE(top); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, top[i]);
		if (!ct_setting_save(&t->s[t->n], path))
			t->n++;
	}
	/* Each size's own "enabled" (6.8 and later: hugepages-<size>kB). */
	dp = opendir(dir);
	while (dp && (d = readdir(dp)) && t->n < CT_THP_SETTINGS) {
		if (strncmp(d->d_name, "hugepages-", 10))
			continue;
		snprintf(path, sizeof(path), "%s/%.64s/enabled", dir, d->d_name);
		if (!ct_setting_save(&t->s[t->n], path))
			t->n++;
	}
	if (dp)
		closedir(dp);
}

int ct_thp_restore(struct ct_thp_settings *t)
{
	int i, err, ret = 0;

	for (i = 0; i < t->n; i++) {
		err = ct_setting_restore(&t->s[i]);
		if (err && !ret)
			ret = err;
	}
	t->n = 0;
	return ret;
}

static const char *ct_module_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("COWTRACE_KO");
	struct utsname u;

	if (env)
		return env;
	uname(&u);
	snprintf(path, sizeof(path), "build/%s/module/cowtrace.ko", u.release);
	return path;
}

long long ct_file_field(const char *path, const char *name)
{
	char buf[16384], *p;
	size_t len = name ? strlen(name) : 0;
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	if (!name)
		return got ? strtoll(buf, NULL, 10) : -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, len) && (p[len] == ':' || p[len] == ' '))
			return strtoll(p + len + 1, NULL, 10);
	return -1;
}

long long ct_rollup_kb(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	return ct_file_field(path, name);
}

long long ct_vmstat(const char *name)
{
	return ct_file_field("/proc/vmstat", name);
}

bool ct_loaded(void)
{
	return access("/sys/module/cowtrace", F_OK) == 0;
}

/*
 * "name: N" (stats, control) or "name N" (vmstat) at a line start in
 * @text; -1 if absent or not a number.
 */
static long long ct_witness_field(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *p;

	long long v;
	char *end;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, len) || (p[len] != ':' && p[len] != ' '))
			continue;
		v = strtoll(p + len + 1, &end, 10);
		/* "unsupported" or "off" is no number. */
		return end == p + len + 1 ? -1 : v;
	}
	return -1;
}

/* Read @path into @buf (NUL-terminated); no allocation. */
static void ct_witness_read(const char *path, char *buf, size_t cap)
{
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY);

	buf[0] = 0;
	if (fd < 0)
		return;
	while (len < (ssize_t)cap - 1) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = 0;
	close(fd);
}

/* ct_witness_mark()'s buffers; ct_warm() writes them too. */
static struct {
	char ctl[4096], ctl2[4096], st[8192], vm[16384], vm2[16384];
} ct_wb;
static pthread_mutex_t ct_wb_lock = PTHREAD_MUTEX_INITIALIZER;

void ct_witness_mark(char kind)
{
	char *ctl = ct_wb.ctl, *ctl2 = ct_wb.ctl2, *st = ct_wb.st;
	char *vm = ct_wb.vm, *vm2 = ct_wb.vm2;
	const char *out = getenv("COWTRACE_WITNESS");
	unsigned long long ino = 0;
	int fd, n, tries = 0;
	bool stable;
	struct stat sb;
	char line[256];

	if (!out || !*out)
		return;
	/* One mark at a time: the buffers are shared by the threads. */
	pthread_mutex_lock(&ct_wb_lock);
	/* Written before the reads, so the reads fault nothing in. */
	memset(&ct_wb, 1, sizeof(ct_wb));
	memset(line, 1, sizeof(line));
	if (!stat("/sys/module/cowtrace", &sb))
		ino = sb.st_ino;
	/*
	 * The snapshot: pgreuse, the module's counters, pgreuse again, with
	 * control read around them.  Taken again while another process's
	 * reuse falls between the two pgreuse reads (a few times, then
	 * marked unstable: 0 in STABLE, and the span is left out).  A reuse
	 * is counted at its hook a few instructions before the kernel's
	 * count_vm_event(PGREUSE); a fault preempted in between (PREEMPT_RT
	 * preempts at the PTE unlock) would be in the counters and not yet
	 * in pgreuse.  Yielding before the second read lets such a fault
	 * finish, so that its pgreuse falls between the reads and the
	 * snapshot is taken again.  (A pause of 10 ms instead left most
	 * marks unstable: some process reuses a page every few ms.)
	 */
	do {
		ct_witness_read(CT_DIR "/control", ctl, sizeof(ct_wb.ctl));
		ct_witness_read("/proc/vmstat", vm, sizeof(ct_wb.vm));
		ct_witness_read(CT_DIR "/stats", st, sizeof(ct_wb.st));
		sched_yield();
		sched_yield();
		ct_witness_read("/proc/vmstat", vm2, sizeof(ct_wb.vm2));
		ct_witness_read(CT_DIR "/control", ctl2, sizeof(ct_wb.ctl2));
		stable = ct_witness_field(vm, "pgreuse") == ct_witness_field(vm2, "pgreuse") &&
			 ct_witness_field(ctl, "changes") == ct_witness_field(ctl2, "changes");
	} while (!stable && ++tries < 20);
	n = snprintf(line, sizeof(line), "%c %llu %d %lld %d %lld %lld %lld %lld\n",
		     kind, ino, stable, ct_witness_field(ctl, "enabled"),
		     !!strstr(ctl, "filter: none\n"),
		     ct_witness_field(ctl, "changes"),
		     ct_witness_field(vm, "pgreuse"),
		     ct_witness_field(st, "reuses"),
		     ct_witness_field(st, "shared_writes"));
	fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, n) != n)
			n = -1;
		close(fd);
	}
	pthread_mutex_unlock(&ct_wb_lock);
}

int ct_unload(void)
{
	ct_witness_mark('c');
	if (syscall(SYS_delete_module, "cowtrace", O_NONBLOCK))
		return -errno;
	return 0;
}

int ct_load(const char *params)
{
	int fd, ret;

	if (ct_loaded())
		ct_unload();
	fd = open(ct_module_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0);
	ret = ret ? -errno : 0;
	close(fd);
	if (!ret)
		ct_witness_mark('o');
	return ret;
}

int ct_open(const char *name, int flags)
{
	char path[256];
	int fd;

	if (name[0] != '/') {
		snprintf(path, sizeof(path), CT_DIR "/%s", name);
		name = path;
	}
	fd = open(name, flags);
	return fd < 0 ? -errno : fd;
}

/*
 * The one file reader: read @name into *@buf (*@cap bytes), growing it
 * with realloc() if @grow, else stopping at its end.  The length read,
 * or -errno (the read's, not close()'s).
 */
static ssize_t ct_read_all(const char *name, char **buf, size_t *cap, bool grow)
{
	ssize_t n, len = 0;
	int fd = ct_open(name, O_RDONLY);

	if (fd < 0)
		return fd;
	for (;;) {
		if (grow && *cap - len < 4096) {
			size_t want = *cap ? *cap * 2 : 64 << 10;
			char *more = realloc(*buf, want);

			if (!more) {
				close(fd);
				return -ENOMEM;
			}
			*buf = more;
			*cap = want;
		}
		n = read(fd, *buf + len, *cap - 1 - len);
		if (n <= 0)
			break;
		len += n;
	}
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	(*buf)[len] = '\0';
	return len;
}

const char *ct_read_file(const char *name)
{
	char *buf = ct_buf;
	size_t cap = sizeof(ct_buf);
	ssize_t n = ct_read_all(name, &buf, &cap, false);

	if (n < 0) {
		errno = (int)-n;
		return NULL;
	}
	return ct_buf;
}

char *ct_slurp(const char *name, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = ct_read_all(name, &buf, &cap, true);

	if (n < 0) {
		free(buf);
		errno = (int)-n;
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

unsigned long long ct_value(const char *tok)
{
	if (!strcmp(tok, "off") || !strcmp(tok, "unsupported"))
		return CT_UNSET;
	return strtoull(tok, NULL, 10);
}

int ct_procs_header(char *line, int *map, int max)
{
	static const char *const other[] = {
		[CT_COL_PID - CT_COL_PID] = "pid",
		[CT_COL_PPID - CT_COL_PID] = "ppid",
		[CT_COL_COMM - CT_COL_PID] = "comm",
		[CT_COL_STATE - CT_COL_PID] = "state",
		[CT_COL_INHERITED - CT_COL_PID] = "inherited",
	};
	char *tok, *save;
	int n = 0, i;

	for (tok = strtok_r(line, " ", &save); tok && n < max;
	     tok = strtok_r(NULL, " ", &save), n++) {
		map[n] = CT_COL_OTHER;
		for (i = 0; i < C_NCOLS; i++)
			if (!strcmp(tok, ct_col_names[i]))
				map[n] = i;
		for (i = 0; i < (int)ARRAY_SIZE(other); i++)
			if (!strcmp(tok, other[i]))
				map[n] = CT_COL_PID + i;
	}
	return n;
}

int ct_first_moved(const unsigned long long *a, const unsigned long long *b,
		   unsigned long allowed)
{
	int c;

	for (c = 0; c < C_NCOLS; c++) {
		if (allowed & (1UL << c))
			continue;
		if (a[c] == CT_UNSET || b[c] == CT_UNSET)
			continue;
		if (a[c] != b[c])
			return c;
	}
	return -1;
}

void ct_unescape_comm(char *dst, size_t len, const char *field)
{
	const char *f = field;
	size_t n = 0;

	while (*f && n + 1 < len) {
		if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' &&
		    f[2] >= '0' && f[2] <= '7' && f[3] >= '0' && f[3] <= '7') {
			dst[n] = (char)((f[1] - '0') << 6 | (f[2] - '0') << 3 | (f[3] - '0'));
			f += 4;
			if (!dst[n])	/* \000: the empty name */
				continue;
		} else {
			dst[n] = *f++;
		}
		n++;
	}
	dst[n] = '\0';
}

int ct_parse_row(char *line, const int *map, int ncols, struct ct_row *r)
{
	char *tok, *save;
	int col = 0;

	memset(r, 0, sizeof(*r));
	r->found = true;
	for (tok = strtok_r(line, " ", &save); tok && col < ncols;
	     tok = strtok_r(NULL, " ", &save), col++) {
		switch (map[col]) {
		case CT_COL_OTHER:
			break;
		case CT_COL_PID:
			r->pid = strtol(tok, NULL, 10);
			break;
		case CT_COL_PPID:
			r->ppid = strtol(tok, NULL, 10);
			break;
		case CT_COL_COMM:
			ct_unescape_comm(r->comm, sizeof(r->comm), tok);
			break;
		case CT_COL_STATE:
			snprintf(r->state, sizeof(r->state), "%s", tok);
			break;
		case CT_COL_INHERITED:
			r->inherited = ct_value(tok);
			break;
		default:
			r->v[map[col]] = ct_value(tok);
		}
	}
	return col;
}

int ct_proc(pid_t pid, struct ct_row *row)
{
	int map[64], ncols;
	const char *text = ct_read_file("procs");
	char *save, *line;

	memset(row, 0, sizeof(*row));
	if (!text)
		return -errno;
	memcpy(ct_copy, text, strlen(text) + 1);
	line = strtok_r(ct_copy, "\n", &save);
	if (!line)
		return -EINVAL;
	ncols = ct_procs_header(line, map, ARRAY_SIZE(map));
	while ((line = strtok_r(NULL, "\n", &save))) {
		struct ct_row r;

		ct_parse_row(line, map, ncols, &r);
		if (r.pid != pid)
			continue;
		/* Prefer the live entry over an exited one of a reused pid. */
		if (!row->found || !strcmp(r.state, "alive"))
			*row = r;
	}
	return row->found ? 0 : -ENOENT;
}

int ct_proc_or_zero(pid_t pid, struct ct_row *row)
{
	int err = ct_proc(pid, row);

	if (err == -ENOENT) {
		memset(row, 0, sizeof(*row));
		return 0;
	}
	return err;
}

long long ct_stat(const char *name)
{
	const char *text = ct_read_file("stats");
	size_t len = strlen(name);
	const char *p;

	if (!text)
		return -1;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, name, len) && p[len] == ':') {
			p += len + 1;
			while (*p == ' ')
				p++;
			if (!strncmp(p, "off", 3) || !strncmp(p, "unsupported", 11))
				return (long long)CT_UNSET;
			return strtoll(p, NULL, 10);
		}
	}
	return -1;
}

int ct_write_file(const char *name, const char *text)
{
	int fd = ct_open(name, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

int ct_control(const char *cmd)
{
	int ret;

	ct_witness_mark('c');
	ret = ct_write_file("control", cmd);
	ct_witness_mark('o');
	return ret;
}

void ct_touch(char *p, size_t len, size_t step)
{
	size_t i;

	for (i = 0; i < len; i += step)
		p[i] = (char)i;
	/* Keep the compiler from dropping or merging the stores. */
	asm volatile("" : : "r"(p) : "memory");
}

void ct_load_bytes(const char *p, size_t len, size_t step)
{
	size_t i;
	char sum = 0;

	for (i = 0; i < len; i += step) {
		asm volatile("" : : : "memory");
		sum += p[i];
	}
	asm volatile("" : : "r"(sum));
}

void ct_warm_stack(void)
{
	char stack[64 * 1024];

	ct_touch(stack, sizeof(stack), 256);
}

/*
 * The kernel writes the thread's rseq area (glibc registers one in the
 * TLS) on the first return to user space after each context switch: in
 * a forked process that write is a COW fault of its own, at a time the
 * test does not choose (a reuse after a reset when the other process
 * copied the page first).  Write it now: rseq_cs is 0 outside a
 * restartable sequence, and glibc runs none.
 */
void ct_warm_rseq(void)
{
	if (__rseq_size) {
		struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() +
						  __rseq_offset);

		__atomic_store_n(&rs->rseq_cs, 0, __ATOMIC_RELAXED);
	}
}

void ct_warm(void)
{
	char stack[64 * 1024];
	struct ct_row row;

	ct_touch(stack, sizeof(stack), 256);
	ct_warm_rseq();
	memset(ct_buf, 0, sizeof(ct_buf));
	memset(ct_copy, 0, sizeof(ct_copy));
	memset(&ct_wb, 0, sizeof(ct_wb));
	ct_proc(getpid(), &row);
	ct_stat("copies");
}

void ct_send(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		_exit(90);
}

void ct_recv(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(91);
}

bool ct_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma, mi;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static int ct_zram_hot_add(const char *disksize)
{
	char path[128], id[16];
	ssize_t n;
	int fd, ret;

	fd = open("/sys/class/zram-control/hot_add", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, id, sizeof(id) - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (n <= 0)
		return ret ?: -EIO;
	id[n] = '\0';
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", atoi(id));
	ret = ct_write_file(path, disksize);
	if (ret) {
		ct_zram_remove(atoi(id), false);
		return ret;
	}
	return atoi(id);
}

int ct_zram_add(const char *disksize, bool *loaded)
{
	int id;

	*loaded = false;
	if (access("/sys/class/zram-control", F_OK)) {
		if (system("modprobe zram num_devices=0"))
			return -ENODEV;
		*loaded = true;
	}
	id = ct_zram_hot_add(disksize);
	/* Nothing of it is left on failure. */
	if (id < 0 && *loaded && !system("modprobe -r zram"))
		*loaded = false;
	return id;
}

int ct_zram_remove(int id, bool loaded)
{
	char path[128], num[16];
	int ret;

	snprintf(path, sizeof(path), "/sys/block/zram%d/reset", id);
	ret = ct_write_file(path, "1");
	snprintf(num, sizeof(num), "%d", id);
	ret = ct_write_file("/sys/class/zram-control/hot_remove", num) ?: ret;
	if (loaded && system("modprobe -r zram"))
		ret = ret ?: -EBUSY;
	return ret;
}

char *ct_map_anon(size_t pages, bool touch)
{
	size_t len = pages * ct_page_size();
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	if (touch)
		memset(p, 0x5a, len);
	return p;
}

struct ct_msg {
	long op;
	long a;
	long b;
	long c;
};

static struct ct_puppet *ct_puppets;
static int ct_nr_puppets;
static char *ct_puppet_buf;

void ct_puppets_init(struct ct_puppet *p, int n, char *buf)
{
	int i;

	for (i = 0; i < n; i++) {
		if (pipe(p[i].cmd) || pipe(p[i].ack))
			_exit(93);
		p[i].pid = 0;
	}
	ct_puppets = p;
	ct_nr_puppets = n;
	ct_puppet_buf = buf;
}

static void ct_reply(struct ct_puppet *p, long v)
{
	if (write(p->ack[1], &v, sizeof(v)) != sizeof(v))
		_exit(94);
}

static void ct_puppet_run(struct ct_puppet *p);

static void ct_puppet_loop(struct ct_puppet *p)
{
	size_t ps = ct_page_size();
	struct ct_msg m;
	long ret;
	pid_t pid;

	ct_warm();
	memset(&m, 0, sizeof(m));
	ct_reply(p, 0);
	for (;;) {
		if (read(p->cmd[0], &m, sizeof(m)) != sizeof(m))
			_exit(95);
		ret = 0;
		switch (m.op) {
		case CT_OP_WRITE:
			ct_touch(ct_puppet_buf + m.a * ps, (m.b - m.a) * ps, ps);
			break;
		case CT_OP_READ:
			ct_load_bytes(ct_puppet_buf + m.a * ps, (m.b - m.a) * ps, ps);
			break;
		case CT_OP_FORK:
			pid = fork();
			if (pid == 0)
				ct_puppet_run(&ct_puppets[m.a]);
			ct_puppets[m.a].pid = pid;
			/* Wait for the child's "ready" before answering. */
			if (read(ct_puppets[m.a].ack[0], &ret, sizeof(ret)) != sizeof(ret))
				_exit(96);
			/* Our stack and buffers are shared now: make them ours. */
			ct_warm();
			ret = pid;
			break;
		case CT_OP_MADVISE:
			ret = madvise(ct_puppet_buf + m.a * ps, (m.b - m.a) * ps, m.c) ? -errno : 0;
			break;
		case CT_OP_FORK_EXEC:
			pid = fork();
			if (pid == 0) {
				execlp("true", "true", (char *)NULL);
				_exit(127);
			}
			waitpid(pid, NULL, 0);
			ret = pid;
			break;
		case CT_OP_VFORK:
			pid = vfork();
			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
			ret = pid;
			break;
		case CT_OP_VMSPLICE: {
			struct iovec iov = {
				.iov_base = ct_puppet_buf + m.a * ps,
				.iov_len = (m.b - m.a) * ps,
			};
			int fds[2];

			/* The pipe keeps a reference to each page. */
			if (pipe(fds) || fcntl(fds[1], F_SETPIPE_SZ, (int)iov.iov_len) < 0)
				ret = -errno;
			else
				ret = vmsplice(fds[1], &iov, 1, 0);
			break;
		}
		case CT_OP_PWRITE:
			ret = pwrite(m.c, ct_puppet_buf + m.a * ps, (m.b - m.a) * ps, 0);
			ret = ret < 0 ? -errno : ret;
			break;
		case CT_OP_PIN:
		case CT_OP_PIN_FAST: {
			struct pin_longterm_test args = {
				.addr = (uintptr_t)(ct_puppet_buf + m.a * ps),
				.size = (m.b - m.a) * ps,
				.flags = m.op == CT_OP_PIN_FAST ?
					 PIN_LONGTERM_TEST_FLAG_USE_FAST : 0,
			};

			ret = ioctl(m.c, PIN_LONGTERM_TEST_START, &args) ? -errno : 0;
			if (!ret && ioctl(m.c, PIN_LONGTERM_TEST_STOP))
				ret = -errno;
			break;
		}
		case CT_OP_QUIT:
			while (wait(NULL) > 0)
				;
			_exit(0);
		}
		ct_reply(p, ret);
	}
}

static void ct_puppet_run(struct ct_puppet *p)
{
	ct_puppet_loop(p);
	_exit(97);
}

pid_t ct_puppet_start(struct ct_puppet *p)
{
	long ready;
	pid_t pid = fork();

	if (pid < 0)
		return pid;
	if (pid == 0)
		ct_puppet_run(p);
	p->pid = pid;
	if (read(p->ack[0], &ready, sizeof(ready)) != sizeof(ready))
		return -1;
	return pid;
}

/*
 * Wait until @pid, a puppet forked by another puppet (so not a child the
 * observer can wait for), has exited: a zombie or gone.  A zombie has
 * already dropped its memory, so its pages are no longer mapped by it.
 */
static void ct_wait_exited(pid_t pid)
{
	char path[64], buf[512], *s;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (i = 0; i < CT_PUPPET_TIMEOUT_MS; i++) {
		FILE *f = fopen(path, "r");
		size_t n;

		if (!f)
			return;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		s = strrchr(buf, ')');
		if (!s || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X')
			return;
		usleep(1000);
	}
	fprintf(stderr, "# puppet %d did not exit\n", pid);
}

long ct_puppet_cmd(struct ct_puppet *p, enum ct_op op, long a, long b, long c)
{
	struct ct_msg m = { .op = op, .a = a, .b = b, .c = c };
	struct pollfd pfd = { .fd = p->ack[0], .events = POLLIN };
	long ret;

	if (write(p->cmd[1], &m, sizeof(m)) != sizeof(m))
		return -1;
	if (op == CT_OP_QUIT) {
		if (waitpid(p->pid, NULL, 0) < 0 && errno == ECHILD)
			ct_wait_exited(p->pid);
		return 0;
	}
	/* A puppet that died (a signal) must not hang the observer. */
	if (poll(&pfd, 1, CT_PUPPET_TIMEOUT_MS) != 1 ||
	    read(p->ack[0], &ret, sizeof(ret)) != sizeof(ret)) {
		fprintf(stderr, "# puppet %d did not answer op '%c'\n",
			p->pid, (int)op);
		return -1;
	}
	if (op == CT_OP_FORK)
		ct_puppets[a].pid = ret;
	return ret;
}

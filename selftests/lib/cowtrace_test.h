/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by cowtrace's selftests: load and unload the module,
 * read its debugfs files, and synchronise parent and child over pipes.
 */
#ifndef _COWTRACE_TEST_H
#define _COWTRACE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CT_DIR "/sys/kernel/debug/cowtrace"
#define CT_PARAM "/sys/module/cowtrace/parameters/"
#define CT_UNSET (~0ULL)	/* "off" or "unsupported" in a file */

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

enum ct_col {
	C_FORKS, C_SHARED, C_COPIES, C_REUSES, C_ZERO_FILLS, C_FILE_COPIES,
	C_SHARED_WRITES, C_THP_REUSES, C_THP_SPLITS, C_HUGETLB_COPIES,
	C_UNSHARES, C_BYTES_COPIED, C_COW_RACES, C_SHARED_FIRST,
	C_SHARED_AGAIN, C_FORK_COPIES, C_KSM_COPIES, C_NCOLS
};

extern const char *const ct_col_names[C_NCOLS];

struct ct_row {
	bool found;
	long pid;
	long ppid;
	char comm[32];
	char state[16];
	unsigned long long inherited;
	unsigned long long v[C_NCOLS];
};

/* Load the module with @params ("" for none); unload it first if loaded. */
int ct_load(const char *params);
/* Unload; 0 on success. */
int ct_unload(void);
bool ct_loaded(void);

/* Read the row of process @pid (the live one if several) into @row. */
int ct_proc(pid_t pid, struct ct_row *row);
/*
 * ct_proc(), but a process without a row reads all zero: a process
 * appears in procs at its first event.  0, or ct_proc()'s other errors.
 */
int ct_proc_or_zero(pid_t pid, struct ct_row *row);
/* Value of "name: value" in stats; CT_UNSET if off/unsupported, -1 absent. */
long long ct_stat(const char *name);
/* Write @cmd to the control file; 0 or -errno. */
int ct_control(const char *cmd);
/* The counter @name of /proc/vmstat ("cow_ksm", "pgreuse"); -1 if absent. */
long long ct_vmstat(const char *name);
/*
 * The field @name of a "name: value" file (/proc/PID/smaps_rollup, say),
 * or the number a one-line file holds when @name is NULL; -1 if absent.
 */
long long ct_file_field(const char *path, const char *name);
/* A "Name:  N kB" field of /proc/@pid/smaps_rollup, in kB; -1 if absent. */
long long ct_rollup_kb(pid_t pid, const char *name);
/*
 * The pgreuse witness (issue 17): with COWTRACE_WITNESS set to a file,
 * append one line "KIND INO STABLE ENABLED UNFILTERED CHANGES PGREUSE
 * REUSES SHARED_WRITES" (KIND 'o' opens a span, 'c' closes one; INO of
 * /sys/module/cowtrace, 0 if not loaded; CHANGES from control; STABLE 0
 * when no snapshot without a reuse in between was had; -1 for what could
 * not be read), /proc/vmstat and stats read back to back.  ct_load(),
 * ct_unload() and ct_control() call it; selftests/witness.c sums spans.
 */
void ct_witness_mark(char kind);
/*
 * In these four, @name is a file of cowtrace's debugfs directory, or an
 * absolute path (a module parameter, say).
 */
/*
 * Read a whole file into a static buffer (256 KiB; one thread at a
 * time: threads use ct_slurp()); NULL and errno on error.
 */
const char *ct_read_file(const char *name);
/*
 * Read a whole file of any size into a buffer of its own (malloc(), the
 * caller frees it), NUL-terminated; its length in *@len unless NULL.
 * NULL and errno on error.
 */
char *ct_slurp(const char *name, size_t *len);
/* open() the file @name; a descriptor or -errno. */
int ct_open(const char *name, int flags);
/* One write() of the string @text to the file @name; 0 or -errno. */
int ct_write_file(const char *name, const char *text);
/* A counter's value as printed: CT_UNSET for "off" and "unsupported". */
unsigned long long ct_value(const char *tok);

/* What ct_procs_header() maps a procs column to, besides a counter. */
enum {
	CT_COL_OTHER = -1,	/* a column this test suite does not know */
	CT_COL_PID = 100,
	CT_COL_PPID,
	CT_COL_COMM,
	CT_COL_STATE,
	CT_COL_INHERITED,
};

/*
 * Map the columns of procs' header @line (split in place) to counters
 * (enum ct_col) or CT_COL_*, whatever their order; returns how many.
 */
int ct_procs_header(char *line, int *map, int max);
/*
 * The name procs' comm field @field stands for, into @dst (@len bytes
 * with the NUL): each \ooo (three octal digits) is the byte it encodes,
 * \000 the empty name.
 */
void ct_unescape_comm(char *dst, size_t len, const char *field);
/*
 * Parse the row @line (split in place) of a table whose header
 * ct_procs_header() mapped to @map (@ncols columns) into @row, cleared
 * first, found set.  Returns how many fields it read: fewer than @ncols
 * for a short row.
 */
int ct_parse_row(char *line, const int *map, int ncols, struct ct_row *row);
/*
 * The first counter not in the mask @allowed whose value differs from
 * @a to @b (arrays of C_NCOLS; off or unsupported ones are skipped), or
 * -1 if none moved.
 */
int ct_first_moved(const unsigned long long *a, const unsigned long long *b,
		   unsigned long allowed);

/*
 * Touch the stack and the buffers the helpers use, so that what comes
 * after causes no copy-on-write fault of its own.  Call it in each
 * process after fork(), before the first measurement.
 */
void ct_warm(void);
/* Only the stack part of ct_warm(): 64 KiB below the caller. */
void ct_warm_stack(void);
/* Only the rseq part of ct_warm(), for each thread (see the library). */
void ct_warm_rseq(void);

/* Write (read) one byte every @step bytes of [p, p + len). */
void ct_touch(char *p, size_t len, size_t step);
void ct_load_bytes(const char *p, size_t len, size_t step);

/* Pipes: one byte messages. */
void ct_send(int fd);
void ct_recv(int fd);

/*
 * A zram block device of the test's own, @disksize bytes ("32M"): zram
 * loaded first (with no device of its own) if it was not, which sets
 * *@loaded.  Returns its number N (/dev/zramN), or -errno with nothing
 * of it left behind.
 */
int ct_zram_add(const char *disksize, bool *loaded);
/* Reset and remove zram device @id; unload zram if @loaded.  0 or -errno. */
int ct_zram_remove(int id, bool loaded);

/* Is the running kernel @major.@minor or later (uname)? */
bool ct_kernel_at_least(int major, int minor);

/* An anonymous private mapping of @pages pages, THP off, all written. */
char *ct_map_anon(size_t pages, bool touch);

size_t ct_page_size(void);

/*
 * Whether the kernel has transparent huge pages: PREEMPT_RT kernels do
 * not (TRANSPARENT_HUGEPAGE depends on !PREEMPT_RT), so their THP
 * counters read "unsupported".
 */
bool ct_have_thp(void);

/*
 * A global setting (a sysctl or sysfs file, e.g. /proc/sys/vm/nr_hugepages
 * or THP's "enabled"), saved before a test changes it and written back
 * in its teardown.  The value kept is the file's first line, or the word
 * in brackets for a choice file ("always [madvise] never").
 */
struct ct_setting {
	char path[192];
	char value[64];
	bool saved;
};

/* Save @path into @s; 0, or -errno (then restoring does nothing). */
int ct_setting_save(struct ct_setting *s, const char *path);
/* Write the saved value back; 0 (or nothing saved), or -errno. */
int ct_setting_restore(struct ct_setting *s);

/*
 * THP's global settings: enabled, defrag and each size's enabled; saved
 * and restored together.  Nothing is saved on a kernel without THP.
 */
#define CT_THP_SETTINGS 16
struct ct_thp_settings {
	struct ct_setting s[CT_THP_SETTINGS];
	int n;
};

void ct_thp_save(struct ct_thp_settings *t);
/* 0, or the first -errno of a failed write. */
int ct_thp_restore(struct ct_thp_settings *t);

/* djb2 hash of [p, p + len), to tell whether a file changed. */
unsigned long ct_checksum(const char *p, size_t len);

/*
 * Puppets: processes that do nothing but what the test tells them, so
 * that every fault they take inside a measured window is one the test
 * asked for.  The test (the observer) creates all puppets' pipes first;
 * the first puppet is forked by the observer, later ones by a puppet
 * ("fork" command), so they inherit its memory.
 */
struct ct_puppet {
	pid_t pid;
	int cmd[2];
	int ack[2];
};

enum ct_op {
	CT_OP_WRITE = 'W',	/* write one byte in pages [a, b) of the region */
	CT_OP_READ = 'R',	/* read pages [a, b) */
	CT_OP_FORK = 'F',	/* fork puppet number a; returns its pid */
	CT_OP_QUIT = 'Q',	/* reap children, exit */
	CT_OP_MADVISE = 'M',	/* madvise(pages [a, b), advice c) */
	CT_OP_FORK_EXEC = 'E',	/* fork a child that execs true; wait */
	CT_OP_VMSPLICE = 'V',	/* vmsplice pages [a, b) into a pipe kept */
	CT_OP_VFORK = 'v',	/* vfork() a child that exits at once */
	CT_OP_PWRITE = 'P',	/* pwrite() pages [a, b) to fd c at offset 0 */
	CT_OP_PIN = 'G',	/* R/O longterm pin, [a, b), gup_test fd c */
	CT_OP_PIN_FAST = 'g',	/* the same, pin_user_pages_fast() */
};

/* Set up @n puppets; the region they act on is @buf. */
void ct_puppets_init(struct ct_puppet *p, int n, char *buf);
/* Fork puppet 0 from the observer; returns its pid. */
pid_t ct_puppet_start(struct ct_puppet *p);
/*
 * ct_puppet_do(p, op, a, b[, c]): have puppet @p do @op with arguments
 * @a, @b and @c (0 when left out: only CT_OP_MADVISE, CT_OP_PWRITE and
 * the pins use it); returns its answer (a pid for CT_OP_FORK, bytes
 * written or -errno for CT_OP_PWRITE, 0 or -errno for a pin).
 */
long ct_puppet_cmd(struct ct_puppet *p, enum ct_op op, long a, long b, long c);
#define ct_puppet_do(p, op, a, b, ...) \
	ct_puppet_cmd((p), (op), (a), (b), __VA_ARGS__ + 0)

#ifdef TEST_HARNESS_MAIN
#include <stdlib.h>

/*
 * Slow guests (the debug kernel: KASAN, lockdep and kmemleak under TCG)
 * run every test several times slower than the timeouts written for the
 * Debian kernels: COWTRACE_TIMEOUT_SCALE=N multiplies each test's
 * timeout by N.  Replaces the harness's main() to do it before the run.
 */
static inline void ct_scale_timeouts(void)
{
	const char *s = getenv("COWTRACE_TIMEOUT_SCALE");
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	int n = s ? atoi(s) : 1;

	if (n <= 1)
		return;
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= n;
}

static inline int ct_harness_run(int argc, char **argv)
{
	ct_scale_timeouts();
	return test_harness_run(argc, argv);
}

#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN \
	int main(int argc, char **argv) \
	{ \
		exit(ct_harness_run(argc, argv)); \
	}
#endif /* TEST_HARNESS_MAIN */

#endif /* _COWTRACE_TEST_H */

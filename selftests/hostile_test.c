// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input to cowtrace's writable files (control, inspect, and the
 * parameters max_exited and fork_scan): empty, oversized, binary,
 * negative, huge, non-numeric, partial, concurrent and random writes each
 * fail with a clear errno and change nothing; good writes still work
 * afterwards.  And no file shows a kernel pointer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

#define FUZZ_WRITES 10000

/* Seek to @off, then write() @len bytes of @buf to @file (ct_open()); 0 or -errno. */
static int write_at(const char *file, const void *buf, size_t len, off_t off)
{
	int fd = ct_open(file, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return fd;
	if (off && lseek(fd, off, SEEK_SET) != off) {
		close(fd);
		return -errno;
	}
	n = write(fd, buf, len) < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static const char *state(void)
{
	static char copy[256];
	const char *text = ct_read_file("control");

	char *changes;

	snprintf(copy, sizeof(copy), "%s", text ? text : "(unreadable)");
	/* Without the count of accepted commands, which good ones move. */
	changes = strstr(copy, "changes: ");
	if (changes)
		*changes = '\0';
	return copy;
}

/* The inspect file's first line: its target ("pid: N"), or that it has none. */
static const char *inspect_state(void)
{
	static char line[128];
	const char *text = ct_read_file("inspect");

	if (!text)
		snprintf(line, sizeof(line), "(unreadable: %s)", strerror(errno));
	else
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(text, "\n"), text);
	return line;
}

FIXTURE(hostile) {
	char before[256];
};

FIXTURE_SETUP(hostile)
{
	ASSERT_EQ(0, ct_load(""));
	snprintf(self->before, sizeof(self->before), "%s", state());
}

FIXTURE_TEARDOWN(hostile)
{
	EXPECT_EQ(0, ct_unload());
}

TEST_F(hostile, bad_writes_fail_and_change_nothing)
{
	static const struct { const char *file, *text; int err; } bad[] = {
		{ "control", "", -EINVAL },
		{ "control", "\n", -EINVAL },
		{ "control", "enable now", -EINVAL },
		{ "control", "filter", -EINVAL },
		{ "control", "filter pid", -EINVAL },
		{ "control", "filter pid -1", -EINVAL },
		{ "control", "filter pid 0", -EINVAL },
		{ "control", "filter pid 99999999999999999999", -EINVAL },
		{ "control", "filter pid 12abc", -EINVAL },
		{ "control", "filter cgroup", -EINVAL },
		{ "control", "filter cgroup nope", -EINVAL },
		{ "control", "RESET", -EINVAL },
		{ "control", "bogus", -EINVAL },
		{ "control", "filter pid -3", -EINVAL },
		{ "control", "filter pid x", -EINVAL },
		{ "control", "filter cgroup relative", -EINVAL },
		{ "control", "filter cgroup /no-such-cgroup", -ENOENT },
		{ "inspect", "", -EINVAL },
		{ "inspect", "-5", -EINVAL },
		{ "inspect", "0", -EINVAL },
		{ "inspect", "99999999999999999999", -EINVAL },
		{ "inspect", "1 vma", -EINVAL },
		{ "inspect", "1 vmb 1000", -EINVAL },
		{ "inspect", "2", -EINVAL },
	};
	static char big[64 * 1024];
	char bin[32], target[32], inspect_before[128];
	size_t i;

	/* A target first: a bad write taken for a pid would change it. */
	snprintf(target, sizeof(target), "%d", getpid());
	ASSERT_EQ(0, ct_write_file("inspect", target));
	snprintf(inspect_before, sizeof(inspect_before), "%s", inspect_state());
	snprintf(target, sizeof(target), "pid: %d", getpid());
	ASSERT_STREQ(target, inspect_before);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *name = bad[i].text;
		size_t len = strlen(name);

		EXPECT_EQ(bad[i].err, write_at(bad[i].file, name, len, 0))
			TH_LOG("%s <- '%s'", bad[i].file, name);
	}
	memset(big, 'a', sizeof(big));
	EXPECT_EQ(-E2BIG, write_at("control", big, sizeof(big), 0));
	EXPECT_EQ(-E2BIG, write_at("inspect", big, sizeof(big), 0));
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 37 + 1);
	bin[5] = '\0';		/* an embedded NUL */
	EXPECT_EQ(-EINVAL, write_at("control", bin, sizeof(bin), 0));
	EXPECT_EQ(-EINVAL, write_at("inspect", bin, sizeof(bin), 0));
	/* A write that does not start at offset 0 is a partial command. */
	EXPECT_EQ(-EINVAL, write_at("control", "enable", 6, 3));
	EXPECT_EQ(-EINVAL, write_at("inspect", "1", 1, 1));
	EXPECT_STREQ(self->before, state());
	EXPECT_STREQ(inspect_before, inspect_state());
}

/* The good writes that bad_writes_fail_and_change_nothing is measured against. */
TEST_F(hostile, good_writes_take_effect)
{
	EXPECT_STREQ("write a pid to this file first", inspect_state());
	EXPECT_EQ(0, ct_control("disable"));
	EXPECT_NE(NULL, strstr(state(), "enabled: 0"));
	EXPECT_EQ(0, ct_control("enable"));
	EXPECT_EQ(0, write_at("inspect", "1", 1, 0));
	EXPECT_STREQ("pid: 1", inspect_state());
	EXPECT_STREQ(self->before, state());
}

static void *hammer(void *arg)
{
	long id = (long)arg;
	int i;

	for (i = 0; i < 500; i++) {
		ct_control(i % 2 ? "enable" : "reset");
		ct_control(id % 2 ? "filter none" : "filter pid 1");
		write_at("inspect", "1", 1, 0);
		free(ct_slurp("procs", NULL));	/* ct_read_file() is one thread's */
	}
	return NULL;
}

TEST_F(hostile, concurrent_commands_leave_consistent_state)
{
	pthread_t t[4];
	long i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer, (void *)i));
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(0, ct_control("filter none"));
	ASSERT_EQ(0, ct_control("enable"));
	EXPECT_STREQ(self->before, state());
}

/* Random writes: only the valid commands may succeed. */
TEST_F(hostile, random_writes_accept_only_valid_commands)
{
	static const char alphabet[] = "abcdefilnprstuvgmoy 0123456789-/\n\t\x01\xff";
	unsigned int seed = 12345, ok = 0, i;
	regex_t control_re, inspect_re;
	char buf[81];

	/* What each file accepts, as documented. */
	ASSERT_EQ(0, regcomp(&control_re,
			     "^[[:space:]]*(enable|disable|reset|filter[[:space:]]+(none|pid[[:space:]]+[0-9]+|cgroup[[:space:]]+/.*))[[:space:]]*$",
			     REG_EXTENDED));
	ASSERT_EQ(0, regcomp(&inspect_re,
			     "^[[:space:]]*[0-9]+( +vma[[:space:]]+[0-9a-fA-F]+)?[[:space:]]*$",
			     REG_EXTENDED));

	for (i = 0; i < FUZZ_WRITES; i++) {
		size_t len = rand_r(&seed) % sizeof(buf), j;
		const char *file = rand_r(&seed) % 2 ? "control" : "inspect";
		int err;

		for (j = 0; j < len; j++)
			buf[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		err = write_at(file, buf, len, 0);
		buf[len] = '\0';
		if (!err) {
			ok++;
			EXPECT_EQ(0, regexec(*file == 'c' ? &control_re : &inspect_re,
					     buf, 0, NULL, 0))
				TH_LOG("accepted: %s <- '%s'", file, buf);
		} else if (err != -EINVAL && err != -E2BIG && err != -ESRCH &&
			 err != -ENOENT)
			EXPECT_EQ(-EINVAL, err) TH_LOG("%s: %.*s", file, (int)len, buf);
	}
	TH_LOG("%u random writes, %u accepted (all valid commands)", FUZZ_WRITES, ok);
	regfree(&control_re);
	regfree(&inspect_re);
	ASSERT_EQ(0, ct_control("filter none"));
	ASSERT_EQ(0, ct_control("enable"));
	EXPECT_STREQ(self->before, state());
}

/* The first line of the file at @path, without its newline. */
static const char *first_line(const char *path)
{
	static char line[64];
	const char *text = ct_read_file(path);

	if (!text)
		text = "(unreadable)";
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(text, "\n"), text);
	return line;
}

/*
 * The writable parameters go through the kernel's own parsers
 * (kstrtouint, kstrtobool): what they refuse fails with EINVAL, or
 * ERANGE beyond 32 bits, and leaves the value as it was.  An empty
 * write() never reaches them: sysfs returns 0 for it, changing nothing.
 */
TEST_F(hostile, module_parameters_refuse_bad_values)
{
	static const struct { const char *param, *text; int err; } bad[] = {
		{ "max_exited", "", 0 },
		{ "max_exited", "\n", -EINVAL },
		{ "max_exited", "abc", -EINVAL },
		{ "max_exited", "-1", -EINVAL },
		{ "max_exited", "1.5", -EINVAL },
		{ "max_exited", "12abc", -EINVAL },
		{ "max_exited", "4294967296", -ERANGE },
		{ "max_exited", "99999999999999999999", -ERANGE },
		{ "fork_scan", "", 0 },
		{ "fork_scan", "maybe", -EINVAL },
		{ "fork_scan", "2", -EINVAL },
		{ "fork_scan", "-1", -EINVAL },
		{ "fork_scan", "abc", -EINVAL },
	};
	static const char *const params[] = { "max_exited", "fork_scan" };
	static char big[64 * 1024];
	char path[128], was[2][64], bin[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(params); i++) {
		snprintf(path, sizeof(path), CT_PARAM "%s", params[i]);
		snprintf(was[i], sizeof(was[i]), "%s", first_line(path));
	}
	ASSERT_STREQ("1024", was[0]);
	ASSERT_STREQ("N", was[1]);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(path, sizeof(path), CT_PARAM "%s", bad[i].param);
		EXPECT_EQ(bad[i].err, write_at(path, bad[i].text,
					       strlen(bad[i].text), 0))
			TH_LOG("%s <- '%s'", bad[i].param, bad[i].text);
	}
	memset(big, '7', sizeof(big));
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 37 + 1);
	bin[5] = '\0';		/* an embedded NUL */
	for (i = 0; i < ARRAY_SIZE(params); i++) {
		snprintf(path, sizeof(path), CT_PARAM "%s", params[i]);
		EXPECT_EQ(-EINVAL, write_at(path, bin, sizeof(bin), 0))
			TH_LOG("%s <- binary", params[i]);
		EXPECT_EQ(i ? -EINVAL : -ERANGE, write_at(path, big, sizeof(big), 0))
			TH_LOG("%s <- 64 KiB", params[i]);
		EXPECT_STREQ(was[i], first_line(path));
	}
	EXPECT_STREQ(self->before, state());
}

/* Good values take effect (and are put back). */
TEST_F(hostile, module_parameters_take_good_values)
{
	EXPECT_STREQ("1024", first_line(CT_PARAM "max_exited"));
	EXPECT_STREQ("N", first_line(CT_PARAM "fork_scan"));
	EXPECT_EQ(0, write_at(CT_PARAM "max_exited", "7\n", 2, 0));
	EXPECT_STREQ("7", first_line(CT_PARAM "max_exited"));
	EXPECT_EQ(0, write_at(CT_PARAM "fork_scan", "1", 1, 0));
	EXPECT_STREQ("Y", first_line(CT_PARAM "fork_scan"));
	EXPECT_EQ(0, write_at(CT_PARAM "max_exited", "1024", 4, 0));
	EXPECT_STREQ("1024", first_line(CT_PARAM "max_exited"));
	EXPECT_EQ(0, write_at(CT_PARAM "fork_scan", "N", 1, 0));
	EXPECT_STREQ("N", first_line(CT_PARAM "fork_scan"));
}

TEST_F(hostile, no_kernel_pointer_in_any_file)
{
	static const char *const files[] = {
		"stats", "procs", "mapcount", "latency", "probes", "control",
		"inspect",
	};
	regex_t re;
	size_t i;

	ASSERT_EQ(0, write_at("inspect", "1 vma 400000", 12, 0));
	ASSERT_EQ(0, regcomp(&re, "ffff[89a-f][0-9a-f]{11}", REG_EXTENDED | REG_ICASE));
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		const char *text = ct_read_file(files[i]);

		ASSERT_NE(NULL, text);
		EXPECT_NE(0, regexec(&re, text, 0, NULL, 0)) TH_LOG("%s", files[i]);
	}
	regfree(&re);
}

TEST_HARNESS_MAIN

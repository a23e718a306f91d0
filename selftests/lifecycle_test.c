// SPDX-License-Identifier: GPL-2.0
/*
 * Test-bed selftests: the module loads, its debugfs directory appears
 * with the documented files and modes, and unloading it leaves nothing
 * behind (no file, no directory, no registered kprobe); its version is
 * dkms.conf's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowtrace_test.h"

FIXTURE(lifecycle) {
};

FIXTURE_SETUP(lifecycle)
{
}

/* After a failed assertion too: leave the module unloaded. */
FIXTURE_TEARDOWN(lifecycle)
{
	if (ct_loaded())
		EXPECT_EQ(0, ct_unload());
}

TEST_F(lifecycle, load_creates_debugfs)
{
	static const struct { const char *name; mode_t mode; } files[] = {
		{ "stats", 0400 }, { "procs", 0400 }, { "mapcount", 0400 },
		{ "latency", 0400 }, { "probes", 0400 }, { "control", 0600 },
		{ "inspect", 0600 },
	};
	struct stat st;
	size_t i;

	if (ct_loaded())
		ASSERT_EQ(0, ct_unload());
	ASSERT_NE(0, access(CT_DIR, F_OK));
	ASSERT_EQ(0, ct_load(""));
	ASSERT_EQ(0, access("/sys/module/cowtrace", F_OK));
	ASSERT_EQ(0, stat(CT_DIR, &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		char path[128];

		snprintf(path, sizeof(path), CT_DIR "/%s", files[i].name);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s missing", path);
		EXPECT_EQ(files[i].mode, st.st_mode & 07777)
			TH_LOG("%s has mode %o", path, st.st_mode & 07777);
		EXPECT_EQ(0, st.st_uid);
	}
	ASSERT_EQ(0, ct_unload());
}

#define KPROBES_LIST	"/sys/kernel/debug/kprobes/list"
#define TRACEFS		"/sys/kernel/tracing"
/* Every function with an ftrace callback, and whose callback it is. */
#define FTRACE_LIST	TRACEFS "/enabled_functions"

/*
 * The module's hooks are in the kernel's own lists while it is loaded
 * (its kretprobes in kprobes/list, its ftrace callbacks, by name, in
 * enabled_functions) and both lists are as before once it is unloaded.
 */
TEST_F(lifecycle, unload_leaves_nothing)
{
	char *before, *after, *fbefore, *fafter;

	if (ct_loaded())
		ASSERT_EQ(0, ct_unload());
	if (access(TRACEFS "/events", F_OK))
		ASSERT_EQ(0, mount("nodev", TRACEFS, "tracefs", 0, NULL));
	before = ct_slurp(KPROBES_LIST, NULL);
	ASSERT_NE(NULL, before);
	fbefore = ct_slurp(FTRACE_LIST, NULL);
	ASSERT_NE(NULL, fbefore);
	ASSERT_EQ(0, ct_load(""));
	after = ct_slurp(KPROBES_LIST, NULL);
	ASSERT_NE(NULL, after);
	fafter = ct_slurp(FTRACE_LIST, NULL);
	ASSERT_NE(NULL, fafter);
	/* The module attached its kretprobes and its ftrace callbacks ... */
	EXPECT_NE(NULL, strstr(after, "finish_fault"));
	EXPECT_NE(NULL, strstr(fafter, "do_wp_page"));
	EXPECT_NE(NULL, strstr(fafter, "ct_wp_entry_hook_ftrace+0x0/")) TH_LOG("%s", fafter);
	EXPECT_NE(NULL, strstr(fafter, "ct_commit_hook_ftrace+0x0/")) TH_LOG("%s", fafter);
	ASSERT_EQ(0, ct_unload());
	free(after);
	free(fafter);
	after = ct_slurp(KPROBES_LIST, NULL);
	ASSERT_NE(NULL, after);
	fafter = ct_slurp(FTRACE_LIST, NULL);
	ASSERT_NE(NULL, fafter);
	/* ... and took every one of them away. */
	EXPECT_STREQ(before, after);
	EXPECT_STREQ(fbefore, fafter);
	EXPECT_EQ(NULL, strstr(fafter, "cowtrace"));
	EXPECT_NE(0, access(CT_DIR, F_OK));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_NE(0, access("/sys/module/cowtrace", F_OK));
	free(before);
	free(after);
	free(fbefore);
	free(fafter);
}

/*
 * The module's version is dkms.conf's PACKAGE_VERSION, the one place it
 * is written (module/Kbuild reads it); the tests run from the top of the
 * tree.
 */
TEST(version_is_dkms_conf_version)
{
	char line[256], want[64] = "", *text;
	FILE *f = fopen("dkms.conf", "r");

	ASSERT_NE(NULL, f) TH_LOG("dkms.conf: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PACKAGE_VERSION=\"%63[^\"]\"", want) == 1)
			break;
	fclose(f);
	ASSERT_NE(0, want[0]) TH_LOG("no PACKAGE_VERSION in dkms.conf");
	ASSERT_EQ(0, ct_load(""));
	text = ct_slurp("/sys/module/cowtrace/version", NULL);
	ASSERT_NE(NULL, text);
	text[strcspn(text, "\n")] = '\0';
	EXPECT_STREQ(want, text);
	free(text);
	ASSERT_EQ(0, ct_unload());
}

/* Each cycle registers and removes every probe: seconds under TCG. */
TEST_F_TIMEOUT(lifecycle, reload_cycles, 300)
{
	int i;

	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, ct_load(""));
		ASSERT_EQ(0, ct_unload());
	}
	EXPECT_NE(0, access(CT_DIR, F_OK));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * cowtrace_bug_test - commits one real bug at load, chosen by bug=:
 *
 *   kasan    reads one byte past a 16-byte kmalloc() object
 *   ubsan    shifts an int by 40
 *   lockdep  takes two mutexes in both orders (no deadlock, one thread)
 *   sleep    takes a mutex with preemption disabled, as a probe handler
 *            that took a sleeping lock would
 *   leak     allocates 128 bytes and forgets the pointer
 *
 * Used only by scripts/check-debug on the debug kernel, to prove that
 * each checker reports and that selftests/testbed/vm-run fails the run when it
 * does.  Never installed; never loaded by the ordinary selftests.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "the bug to commit: kasan, ubsan, lockdep, sleep or leak");

static DEFINE_MUTEX(ct_bug_a);
static DEFINE_MUTEX(ct_bug_b);

static void ct_bug_kasan(void)
{
	char *p = kmalloc(16, GFP_KERNEL);
	size_t i = 16;

	if (!p)
		return;
	OPTIMIZER_HIDE_VAR(i);
	pr_info("read past the object: %d\n", READ_ONCE(p[i]));
	kfree(p);
}

static void ct_bug_ubsan(void)
{
	int shift = 40, one = 1;

	OPTIMIZER_HIDE_VAR(shift);
	pr_info("1 << 40 = %d\n", one << shift);
}

static void ct_bug_lockdep(void)
{
	mutex_lock(&ct_bug_a);
	mutex_lock(&ct_bug_b);
	mutex_unlock(&ct_bug_b);
	mutex_unlock(&ct_bug_a);

	mutex_lock(&ct_bug_b);
	mutex_lock(&ct_bug_a);
	mutex_unlock(&ct_bug_a);
	mutex_unlock(&ct_bug_b);
}

static void ct_bug_sleep(void)
{
	preempt_disable();
	mutex_lock(&ct_bug_a);
	mutex_unlock(&ct_bug_a);
	preempt_enable();
}

static void ct_bug_leak(void)
{
	char *p = kmalloc(128, GFP_KERNEL);

	if (!p)
		return;
	memset(p, 0x5a, 128);
	/* Keep the stores: kmemleak's report shows them (5a 5a ...). */
	barrier_data(p);
	pr_info("leaked 128 bytes\n");
}

static int __init cowtrace_bug_test_init(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} bugs[] = {
		{ "kasan", ct_bug_kasan },
		{ "ubsan", ct_bug_ubsan },
		{ "lockdep", ct_bug_lockdep },
		{ "sleep", ct_bug_sleep },
		{ "leak", ct_bug_leak },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bugs); i++) {
		if (strcmp(bug, bugs[i].name))
			continue;
		pr_info("committing bug %s on purpose\n", bug);
		bugs[i].fn();
		return 0;
	}
	pr_err("unknown bug '%s'\n", bug);
	return -EINVAL;
}

static void __exit cowtrace_bug_test_exit(void)
{
}

module_init(cowtrace_bug_test_init);
module_exit(cowtrace_bug_test_exit);
MODULE_DESCRIPTION("cowtrace test bed: commits a chosen bug at load");
MODULE_LICENSE("GPL");

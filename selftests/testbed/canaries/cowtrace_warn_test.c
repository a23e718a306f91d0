// SPDX-License-Identifier: GPL-2.0
/*
 * cowtrace_warn_test - hits WARN_ON_ONCE(1) at load.
 *
 * Used only by the test bed's negative check: loading it must make
 * selftests/testbed/vm-run fail (the guests boot with panic_on_warn=1).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/module.h>

static int __init cowtrace_warn_test_init(void)
{
	pr_info("about to warn on purpose\n");
	WARN_ON_ONCE(1);
	return 0;
}

static void __exit cowtrace_warn_test_exit(void)
{
}

module_init(cowtrace_warn_test_init);
module_exit(cowtrace_warn_test_exit);
MODULE_DESCRIPTION("cowtrace test bed: warns at load");
MODULE_LICENSE("GPL");

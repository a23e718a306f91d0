// SPDX-License-Identifier: GPL-2.0
/*
 * cowtrace - make copy-on-write visible, per process.
 *
 * Counts, per process, the pages fork() shares, the copy-on-write faults
 * that copy or reuse a page, zero-page fills, private copies of file
 * pages, huge-page COW, and the mapcount/refcount that decided each
 * fault, from kprobes on fork and the write-fault path.  Results are in
 * /sys/kernel/debug/cowtrace/; see Documentation/cowtrace.rst.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/stringify.h>

#include "cowtrace.h"

unsigned int ct_max_procs = 4096;
module_param_named(max_procs, ct_max_procs, uint, 0400);
MODULE_PARM_DESC(max_procs, "Process table capacity, alive and exited (default 4096, "
		 __stringify(CT_MAX_PROCS_MIN) ".." __stringify(CT_MAX_PROCS_MAX) ")");

unsigned int ct_max_exited = 1024;
module_param_named(max_exited, ct_max_exited, uint, 0600);
MODULE_PARM_DESC(max_exited, "Exited processes kept readable before the oldest is evicted (default 1024)");

bool ct_fork_scan;

/* Attaches the fork-scan probe when set to 1, detaches it when set to 0. */
static int ct_fork_scan_set(const char *val, const struct kernel_param *kp)
{
	struct kernel_param tmp = *kp;
	bool on;
	int err;

	tmp.arg = &on;
	err = param_set_bool(val, &tmp);
	if (err)
		return err;
	return ct_probes_set_fork_scan(on);
}

static const struct kernel_param_ops ct_fork_scan_ops = {
	.set = ct_fork_scan_set,
	.get = param_get_bool,
};

module_param_cb(fork_scan, &ct_fork_scan_ops, &ct_fork_scan, 0600);
MODULE_PARM_DESC(fork_scan, "Walk each child's page tables at fork to count mapcount transitions (default off)");

static int __init cowtrace_init(void)
{
	int err;

	if (ct_max_procs < CT_MAX_PROCS_MIN || ct_max_procs > CT_MAX_PROCS_MAX) {
		pr_err("max_procs=%u is out of range %u..%u\n", ct_max_procs,
		       CT_MAX_PROCS_MIN, CT_MAX_PROCS_MAX);
		return -EINVAL;
	}
	err = ct_stats_init();
	if (err)
		return err;
	err = ct_procs_init();
	if (err)
		goto free_stats;
	err = ct_probes_init();
	if (err)
		goto free_procs;
	err = ct_debugfs_init();
	if (err)
		goto detach_probes;
	pr_info("loaded: %u process slots\n", ct_max_procs);
	return 0;

detach_probes:
	ct_probes_exit();
free_procs:
	ct_procs_exit();
free_stats:
	ct_stats_exit();
	return err;
}

static void __exit cowtrace_exit(void)
{
	ct_debugfs_exit();
	ct_probes_exit();
	/* Handlers ran with preemption disabled: wait them out. */
	synchronize_rcu();
	ct_filter_exit();
	ct_procs_exit();
	ct_stats_exit();
	pr_info("unloaded\n");
}

module_init(cowtrace_init);
module_exit(cowtrace_exit);
MODULE_DESCRIPTION("Per-process copy-on-write accounting from fork and the COW fault path");
MODULE_LICENSE("GPL");
MODULE_VERSION(CT_VERSION);

// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs interface: /sys/kernel/debug/cowtrace/.
 *
 *   stats     name: value, one per line (global counters and health)
 *   procs     per-process table, a header row then one row per process
 *   mapcount  old page's mapcount and refcount at each copy/reuse fault
 *   latency   log2 histogram of COW fault handling time, per outcome
 *   probes    each probe point: symbol, mechanism, status, hits, nmissed
 *   control   read: state; write: enable, disable, reset, filter ...
 *   inspect   write a pid, read its page-table COW state (inspect.c)
 *
 * All files are root-only.  Documented in Documentation/cowtrace.rst.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "cowtrace.h"

static struct dentry *ct_dir;

/*
 * Accepted control commands since load: a reader that sees the same
 * number twice knows that no enable, disable, reset or filter change
 * came in between (the pgreuse witness of the selftests relies on it).
 */
static atomic64_t ct_changes = ATOMIC64_INIT(0);

/*
 * A counter's value; "off" while its probe is off and it counted nothing
 * (what it counted before it was turned off stays visible).
 */
static void ct_print_counter(struct seq_file *m, enum ct_counter c, u64 v)
{
	switch (ct_counter_state(c)) {
	case CT_UNSUPPORTED:
		seq_puts(m, "unsupported");
		break;
	case CT_OFF:
		if (!v) {
			seq_puts(m, "off");
			break;
		}
		fallthrough;
	case CT_COUNTED:
		seq_printf(m, "%llu", v);
	}
}

static int stats_show(struct seq_file *m, void *v)
{
	int c;

	for (c = 0; c < CT_NR_COUNTERS; c++) {
		seq_printf(m, "%s: ", ct_counter_names[c]);
		ct_print_counter(m, c, ct_stats_read(c));
		seq_putc(m, '\n');
	}
	seq_printf(m, "procs: %u\n", ct_procs_alive() + ct_procs_exited());
	seq_printf(m, "procs_alive: %u\n", ct_procs_alive());
	seq_printf(m, "procs_exited: %u\n", ct_procs_exited());
	seq_printf(m, "evicted: %llu\n", ct_procs_evicted());
	seq_printf(m, "dropped: %llu\n", ct_dropped());
	seq_printf(m, "missed: %llu\n", ct_ctx_full() + ct_probes_missed());
	seq_printf(m, "enabled: %d\n", READ_ONCE(ct_enabled));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* procs: position 0 is the header, position n the table's slot n-1. */
static void *procs_from(struct seq_file *m, loff_t *pos)
{
	for (; *pos - 1 < ct_max_procs; ++*pos)
		if (ct_proc_view(*pos - 1, m->private))
			return m->private;
	return NULL;
}

static void *procs_start(struct seq_file *m, loff_t *pos)
{
	return *pos ? procs_from(m, pos) : SEQ_START_TOKEN;
}

static void *procs_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return procs_from(m, pos);
}

static void procs_stop(struct seq_file *m, void *v)
{
}

/*
 * A process name as one field of procs: a name is any bytes but NUL,
 * chosen by its process, so each byte that is a space or a control,
 * above '~' or a backslash is printed as a backslash and three octal
 * digits (\040 for a space, as in /proc/mounts), and the empty name as
 * \000.  Every other byte is itself: the field is never empty, holds no
 * space, and reads back to the name byte for byte.
 */
static void ct_seq_comm(struct seq_file *m, const char *comm)
{
	const unsigned char *c = (const unsigned char *)comm;

	if (!*c)
		seq_puts(m, "\\000");
	for (; *c; c++) {
		if (*c <= ' ' || *c > '~' || *c == '\\')
			seq_printf(m, "\\%03o", *c);
		else
			seq_putc(m, *c);
	}
}

static int procs_show(struct seq_file *m, void *v)
{
	static const char *const state[] = {
		[CT_PROC_FREE] = "free",
		[CT_PROC_ALIVE] = "alive",
		[CT_PROC_EXITED] = "exited",
	};
	struct ct_proc_view *pv = v;
	int c;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "pid ppid comm state inherited");
		for (c = 0; c < CT_NR_COUNTERS; c++)
			seq_printf(m, " %s", ct_counter_names[c]);
		seq_putc(m, '\n');
		return 0;
	}
	seq_printf(m, "%d %d ", pv->tgid, pv->ppid);
	ct_seq_comm(m, pv->comm);
	seq_printf(m, " %s %llu", state[pv->state], pv->inherited);
	for (c = 0; c < CT_NR_COUNTERS; c++) {
		seq_putc(m, ' ');
		ct_print_counter(m, c, pv->ctr[c]);
	}
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations procs_sops = {
	.start = procs_start,
	.next = procs_next,
	.stop = procs_stop,
	.show = procs_show,
};

static int procs_open(struct inode *inode, struct file *file)
{
	return seq_open_private(file, &procs_sops, sizeof(struct ct_proc_view));
}

static const struct file_operations procs_fops = {
	.owner = THIS_MODULE,
	.open = procs_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = seq_release_private,
};

static int mapcount_show(struct seq_file *m, void *v)
{
	ct_show_mapcount(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mapcount);

static int latency_show(struct seq_file *m, void *v)
{
	ct_show_latency(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(latency);

static int probes_show(struct seq_file *m, void *v)
{
	ct_show_probes(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(probes);

static int control_show(struct seq_file *m, void *v)
{
	seq_printf(m, "enabled: %d\n", READ_ONCE(ct_enabled));
	seq_puts(m, "filter: ");
	ct_filter_show(m);
	seq_printf(m, "changes: %lld\n", (long long)atomic64_read(&ct_changes));
	return 0;
}

static int control_open(struct inode *inode, struct file *file)
{
	return single_open(file, control_show, NULL);
}

static int ct_cmd_enable(char *arg)
{
	return ct_probes_set_enabled(true);
}

static int ct_cmd_disable(char *arg)
{
	return ct_probes_set_enabled(false);
}

static int ct_cmd_reset(char *arg)
{
	ct_stats_reset();
	ct_procs_reset();
	return 0;
}

static int ct_cmd_filter(char *arg)
{
	return ct_filter_set(arg);
}

/*
 * control's commands, one per write: "enable", "disable", "reset",
 * "filter none", "filter pid <pid>", "filter cgroup <path>".  A word
 * ending in a space takes the rest of the line (leading spaces skipped)
 * as its argument; any other is the whole command.
 */
static const struct ct_cmd {
	const char *word;
	int (*run)(char *arg);	/* 0 or -errno */
} ct_cmds[] = {
	{ "enable", ct_cmd_enable },
	{ "disable", ct_cmd_disable },
	{ "reset", ct_cmd_reset },
	{ "filter ", ct_cmd_filter },
};

/*
 * One command a write.  Anything else is -EINVAL and changes nothing; a
 * write longer than the buffer is -E2BIG.
 */
static ssize_t control_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	const struct ct_cmd *c;
	char buf[CT_CMD_MAX];
	char *cmd;
	size_t n;
	int err;

	cmd = ct_copy_cmd(ubuf, count, ppos, buf, sizeof(buf));
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	for (c = ct_cmds; c < ct_cmds + ARRAY_SIZE(ct_cmds); c++) {
		n = strlen(c->word);
		if (c->word[n - 1] == ' ' ? !strncmp(cmd, c->word, n) :
		    !strcmp(cmd, c->word))
			break;
	}
	if (c == ct_cmds + ARRAY_SIZE(ct_cmds))
		return -EINVAL;
	err = c->run(skip_spaces(cmd + n));
	if (err)
		return err;
	atomic64_inc(&ct_changes);
	*ppos += count;
	return count;
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.open = control_open,
	.read = seq_read,
	.write = control_write,
	.llseek = seq_lseek,
	.release = single_release,
};

int ct_debugfs_init(void)
{
	/*
	 * Unlike most users of debugfs, fail the load without the directory:
	 * its files are all cowtrace shows, a module loaded without them
	 * would count for no one.  The files themselves are not checked
	 * (debugfs_create_file() failing once the directory exists means no
	 * memory, and the file is then just absent).
	 */
	ct_dir = debugfs_create_dir("cowtrace", NULL);
	if (IS_ERR(ct_dir))
		return PTR_ERR(ct_dir);
	debugfs_create_file("stats", 0400, ct_dir, NULL, &stats_fops);
	debugfs_create_file("procs", 0400, ct_dir, NULL, &procs_fops);
	debugfs_create_file("mapcount", 0400, ct_dir, NULL, &mapcount_fops);
	debugfs_create_file("latency", 0400, ct_dir, NULL, &latency_fops);
	debugfs_create_file("probes", 0400, ct_dir, NULL, &probes_fops);
	debugfs_create_file("control", 0600, ct_dir, NULL, &control_fops);
	debugfs_create_file("inspect", 0600, ct_dir, NULL, &ct_inspect_fops);
	return 0;
}

void ct_debugfs_exit(void)
{
	debugfs_remove_recursive(ct_dir);
}

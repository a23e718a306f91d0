// SPDX-License-Identifier: GPL-2.0
/*
 * Global counters and histograms of cowtrace.
 *
 * Every event is counted once, by ct_account(), into a per-CPU global
 * counter and into the process's entry; the global value is the sum over
 * CPUs.  The mapcount/refcount and latency histograms are per-CPU too, so
 * the fault path never shares a cache line with another CPU.
 */
#include <linux/build_bug.h>
#include <linux/clocksource.h>
#include <linux/log2.h>
#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/stddef.h>

#include "cowtrace.h"

const char *const ct_counter_names[CT_NR_COUNTERS] = {
	[CT_FORKS] = "forks",
	[CT_SHARED] = "shared",
	[CT_COPIES] = "copies",
	[CT_REUSES] = "reuses",
	[CT_ZERO_FILLS] = "zero_fills",
	[CT_FILE_COPIES] = "file_copies",
	[CT_SHARED_WRITES] = "shared_writes",
	[CT_THP_REUSES] = "thp_reuses",
	[CT_THP_SPLITS] = "thp_splits",
	[CT_HUGETLB_COPIES] = "hugetlb_copies",
	[CT_UNSHARES] = "unshares",
	[CT_BYTES_COPIED] = "bytes_copied",
	[CT_COW_RACES] = "cow_races",
	[CT_SHARED_FIRST] = "shared_first",
	[CT_SHARED_AGAIN] = "shared_again",
	[CT_FORK_COPIES] = "fork_copies",
	[CT_KSM_COPIES] = "ksm_copies",
};

static_assert(ARRAY_SIZE(ct_counter_names) == CT_NR_COUNTERS);

const char *const ct_outcome_names[CT_NR_OUTCOMES] = {
	[CT_OUT_COPY] = "copy",
	[CT_OUT_REUSE] = "reuse",
	[CT_OUT_ZERO_FILL] = "zero_fill",
	[CT_OUT_FILE_COPY] = "file_copy",
	[CT_OUT_SHARED_WRITE] = "shared_write",
	[CT_OUT_RACE] = "race",
};

static_assert(ARRAY_SIZE(ct_outcome_names) == CT_NR_OUTCOMES);

struct ct_cpu_stats {
	u64 ctr[CT_NR_COUNTERS];
	u64 dropped;		/* ct_note_dropped() */
	u64 ctx_full;		/* ct_note_ctx_full() */
	u64 mapcount[CT_NR_OUTCOMES][CT_HIST_MAX + 1][CT_HIST_MAX + 1];
	u64 latency[CT_NR_OUTCOMES][CT_LAT_BUCKETS];
};

static struct ct_cpu_stats __percpu *ct_cpu;

bool ct_clock_tsc;
u32 ct_tsc_mult, ct_tsc_shift;

int ct_stats_init(void)
{
	/* TSC cycles to ns, exact to 1 part in 2^32 over ten minutes. */
	if (boot_cpu_has(X86_FEATURE_TSC) && tsc_khz) {
		clocks_calc_mult_shift(&ct_tsc_mult, &ct_tsc_shift, tsc_khz,
				       NSEC_PER_MSEC, 600 * MSEC_PER_SEC);
		ct_clock_tsc = true;
	}
	ct_cpu = alloc_percpu(struct ct_cpu_stats);
	return ct_cpu ? 0 : -ENOMEM;
}

void ct_stats_exit(void)
{
	free_percpu(ct_cpu);
}

void ct_stats_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(ct_cpu, cpu), 0, sizeof(struct ct_cpu_stats));
}

/* The sum over CPUs of the u64 at offset @off of struct ct_cpu_stats. */
static u64 ct_sum(size_t off)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*(u64 *)((char *)per_cpu_ptr(ct_cpu, cpu) + off));
	return sum;
}

#define CT_SUM(field)	ct_sum(offsetof(struct ct_cpu_stats, field))

u64 ct_stats_read(enum ct_counter c)
{
	return CT_SUM(ctr[c]);
}

/* The one place where a counter is incremented: globally and for @p. */
notrace void ct_account(struct ct_proc *p, enum ct_counter c, u64 n)
{
	this_cpu_add(ct_cpu->ctr[c], n);
	if (p)
		ct_proc_add(p, c, n);
}

NOKPROBE_SYMBOL(ct_account);

/*
 * A write fault's outcome @o, in one call from the fault path, the
 * fault started at ct_clock() @t0: counter @c, globally and for the
 * current process (as ct_account() does), the page copied if it was a
 * copy of any kind (an unshare too), and the histograms.  Five
 * arguments, all in registers.
 */
notrace void ct_count_fault(enum ct_counter c, enum ct_outcome o,
			    unsigned int mapcount, unsigned int refcount,
			    u64 t0)
{
	u64 ns = ct_since_ns(t0);
	unsigned int b = ns ? ilog2(ns) : 0;
	u64 bytes = o == CT_OUT_COPY || o == CT_OUT_FILE_COPY ? PAGE_SIZE : 0;

	mapcount = min_t(unsigned int, mapcount, CT_HIST_MAX);
	refcount = min_t(unsigned int, refcount, CT_HIST_MAX);
	b = min_t(unsigned int, b, CT_LAT_BUCKETS - 1);
	this_cpu_inc(ct_cpu->ctr[c]);
	if (bytes)
		this_cpu_add(ct_cpu->ctr[CT_BYTES_COPIED], bytes);
	this_cpu_inc(ct_cpu->mapcount[o][mapcount][refcount]);
	this_cpu_inc(ct_cpu->latency[o][b]);
	ct_proc_count_fault(c, bytes);
}

NOKPROBE_SYMBOL(ct_count_fault);

void ct_note_dropped(void)
{
	this_cpu_inc(ct_cpu->dropped);
}

NOKPROBE_SYMBOL(ct_note_dropped);

void ct_note_ctx_full(void)
{
	this_cpu_inc(ct_cpu->ctx_full);
}

NOKPROBE_SYMBOL(ct_note_ctx_full);

u64 ct_dropped(void)
{
	return CT_SUM(dropped);
}

u64 ct_ctx_full(void)
{
	return CT_SUM(ctx_full);
}

static void ct_print_value(struct seq_file *m, unsigned int v)
{
	if (v == CT_HIST_MAX)
		seq_printf(m, " %7u+", v);
	else
		seq_printf(m, " %8u", v);
}

/* Only the copy and reuse decisions are made from mapcount/refcount. */
void ct_show_mapcount(struct seq_file *m)
{
	static const enum ct_outcome shown[] = { CT_OUT_COPY, CT_OUT_REUSE };
	unsigned int i, mc, rc;

	seq_puts(m, "outcome  mapcount refcount   faults\n");
	for (i = 0; i < ARRAY_SIZE(shown); i++) {
		for (mc = 0; mc <= CT_HIST_MAX; mc++) {
			for (rc = 0; rc <= CT_HIST_MAX; rc++) {
				u64 n = CT_SUM(mapcount[shown[i]][mc][rc]);

				if (!n)
					continue;
				seq_printf(m, "%-8s", ct_outcome_names[shown[i]]);
				ct_print_value(m, mc);
				ct_print_value(m, rc);
				seq_printf(m, " %8llu\n", n);
			}
		}
	}
}

void ct_show_latency(struct seq_file *m)
{
	unsigned int o, b;

	seq_puts(m, "outcome      from_ns    to_ns        faults\n");
	for (o = 0; o < CT_NR_OUTCOMES; o++) {
		for (b = 0; b < CT_LAT_BUCKETS; b++) {
			u64 n = CT_SUM(latency[o][b]);

			if (!n)
				continue;
			seq_printf(m, "%-12s %-10llu %-12llu %llu\n",
				   ct_outcome_names[o],
				   b ? 1ULL << b : 0ULL, (2ULL << b) - 1, n);
		}
	}
}

// SPDX-License-Identifier: GPL-2.0
/*
 * witness: the kernel's pgreuse witness over one selftest binary's run
 * (issue 17 item 1).  selftests/testbed/guest-tests runs
 *   witness mark o   before the binary, witness mark c   after it,
 * with COWTRACE_WITNESS naming one file per binary, in which the test
 * library's ct_load(), ct_unload() and ct_control() add their own marks
 * (ct_witness_mark()).  Then
 *   witness check NAME
 * takes every span from an 'o' mark to the next mark when that one is a
 * 'c' mark of the same module instance (inode of /sys/module/cowtrace),
 * both snapshots stable, enabled, no filter, and the same number of
 * accepted control commands ("changes" in control): then nothing was
 * reset, filtered or disabled in between, and every anonymous or
 * shared-mapping reuse the kernel counted in /proc/vmstat pgreuse must be
 * one cowtrace counted in reuses or shared_writes.  It prints one TAP
 * line: ok when the summed changes are equal, over at least one span
 * (none is a failure: the witness saw nothing), with the figures; every
 * span with a mismatch is printed as a diagnostic line.  Spans left out
 * (module unloaded, disabled, filtered, reset, reloaded, or unstable)
 * are counted in the line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtrace_test.h"

struct mark {
	char kind;
	unsigned long long ino;
	long long stable, enabled, unfiltered, changes;
	long long pgreuse, reuses, shared_writes;
};

static bool counting(const struct mark *m)
{
	return m->ino && m->stable == 1 && m->enabled == 1 &&
	       m->unfiltered == 1 && m->changes >= 0 && m->pgreuse >= 0 &&
	       m->reuses >= 0 && m->shared_writes >= 0;
}

int main(int argc, char **argv)
{
	long long pg = 0, rs = 0, sw = 0, cw, d_pg, d_cw;
	int spans = 0, left = 0, bad = 0, n = 0;
	const char *file = getenv("COWTRACE_WITNESS");
	struct mark prev, cur;
	FILE *f;

	if (argc == 3 && !strcmp(argv[1], "mark")) {
		ct_witness_mark(argv[2][0]);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "check") || !file) {
		fprintf(stderr, "usage: COWTRACE_WITNESS=FILE witness mark o|c | check NAME\n");
		return 2;
	}
	f = fopen(file, "r");
	if (!f) {
		printf("not ok 1 pgreuse_witness_%s # no marks in %s\n", argv[2], file);
		return 1;
	}
	while (fscanf(f, " %c %llu %lld %lld %lld %lld %lld %lld %lld", &cur.kind,
		      &cur.ino, &cur.stable, &cur.enabled, &cur.unfiltered,
		      &cur.changes, &cur.pgreuse, &cur.reuses,
		      &cur.shared_writes) == 9) {
		if (n++ && prev.kind == 'o' && prev.ino) {
			if (cur.kind == 'c' && cur.ino == prev.ino &&
			    counting(&prev) && counting(&cur) &&
			    cur.changes == prev.changes) {
				spans++;
				d_pg = cur.pgreuse - prev.pgreuse;
				d_cw = cur.reuses - prev.reuses +
				       cur.shared_writes - prev.shared_writes;
				pg += d_pg;
				rs += cur.reuses - prev.reuses;
				sw += cur.shared_writes - prev.shared_writes;
				if (d_pg != d_cw) {
					bad++;
					printf("# %s: span %d (marks %d-%d): ",
					       argv[2], spans, n - 1, n);
					printf("pgreuse +%lld, reuses + shared_writes +%lld\n",
					       d_pg, d_cw);
				}
			} else {
				left++;
			}
		}
		prev = cur;
	}
	fclose(f);
	cw = rs + sw;
	/*
	 * No span with the module loaded at all (a test that skipped before
	 * loading it, a script that loads it without the test library's
	 * marks): nothing to witness, and no result to count.
	 */
	if (!spans && !left && !bad) {
		printf("# pgreuse_witness_%s: no span of its %d marks had the module loaded\n",
		       argv[2], n);
		return 0;
	}
	printf("%s 1 pgreuse_witness_%s # pgreuse +%lld, ",
	       !bad && pg == cw && spans ? "ok" : "not ok", argv[2], pg);
	printf("reuses +%lld + shared_writes +%lld = +%lld, over %d spans ",
	       rs, sw, cw, spans);
	printf("(%d with a difference; %d left out: unloaded, disabled, ", bad, left);
	printf("filtered, reset, reloaded or unstable), %d marks\n", n);
	return !bad && pg == cw && spans ? 0 : 1;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * cowdemo: a narrated walk through the claims commonly made about fork()
 * and copy-on-write, each settled by a scenario measured with cowtrace:
 * what the claim says, what cowtrace measured, and the verdict.  Needs
 * root and cowtrace loaded (with fork_scan=1 for the first claim); runs
 * the same on a real machine and in the test bed (make demo).
 *
 *   cowdemo [--tsv] [CLAIM...]   e.g. cowdemo C2 C13; default: all
 *
 * --tsv prints one line per claim instead, "claim<TAB>id<TAB>verdict<TAB>
 * claim<TAB>measured<TAB>why", for scripts/docs/claims-doc.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "cowtrace_test.h"

static void wrap(const char *prefix, const char *text)
{
	const int width = 76;
	int col = printf("%s", prefix);
	const char *p = text;

	while (*p) {
		const char *sp = strchr(p, ' ');
		int len = sp ? (int)(sp - p) : (int)strlen(p);

		if (col + len + 1 > width && col > (int)strlen(prefix))
			col = printf("\n%*s", (int)strlen(prefix), "") - 1;
		col += printf("%s%.*s", col > (int)strlen(prefix) ? " " : "", len, p);
		p += len;
		while (*p == ' ')
			p++;
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	int counts[V_ERROR + 1] = { 0 };
	struct claim c;
	const char *text;
	int i, j, tsv = 0;

	if (argc > 1 && !strcmp(argv[1], "--tsv")) {
		tsv = 1;
		argv++;
		argc--;
	}

	if (geteuid() != 0) {
		fprintf(stderr, "cowdemo: must run as root (it reads /sys/kernel/debug)\n");
		return 2;
	}
	if (access(CT_DIR "/stats", R_OK)) {
		fprintf(stderr, "cowdemo: cowtrace is not loaded (%s missing)\n",
			CT_DIR "/stats");
		fprintf(stderr, "cowdemo: load it first: insmod cowtrace.ko fork_scan=1\n");
		return 2;
	}
	if (!tsv) {
		printf("cowtrace demo: what fork() and copy-on-write really do\n");
		printf("Every number below was measured just now by cowtrace, in processes\n");
		printf("that did nothing but what each scenario asks.\n");
	}
	for (i = 0; i < nr_claims; i++) {
		int wanted = argc < 2;

		for (j = 1; j < argc; j++)
			wanted |= !strcasecmp(argv[j], claims[i].id);
		if (!wanted)
			continue;
		claim_run(&claims[i], &c);
		counts[c.verdict]++;
		if (tsv) {
			printf("claim\t%s\t%s\t%s\t%s\t%s\n", c.id,
			       claim_verdict_name(c.verdict), c.text, c.measured,
			       c.why);
			continue;
		}
		printf("\n%s  %s\n", c.id, claim_verdict_name(c.verdict));
		wrap("    claim:    ", c.text);
		wrap("    measured: ", c.measured);
		if (c.why[0])
			wrap("    verdict:  ", c.why);
	}
	if (tsv)
		return counts[V_ERROR] ? 1 : 0;
	printf("\n%d hold, %d refuted, %d partly, %d skipped, %d errors\n",
	       counts[V_HOLDS], counts[V_REFUTED], counts[V_PARTLY],
	       counts[V_SKIPPED], counts[V_ERROR]);
	text = ct_read_file("stats");
	if (text)
		printf("\n/sys/kernel/debug/cowtrace/stats:\n%s", text);
	text = ct_read_file("procs");
	if (text) {
		const char *p = text;
		int lines = 0;

		printf("\n/sys/kernel/debug/cowtrace/procs (first 25 rows):\n");
		while (*p && lines < 26) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);

			printf("%.*s\n", len, p);
			lines++;
			p += len + (nl ? 1 : 0);
		}
	}
	return counts[V_ERROR] ? 1 : 0;
}

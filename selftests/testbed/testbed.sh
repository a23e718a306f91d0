# SPDX-License-Identifier: GPL-2.0
# What the test bed shares between vm-run and check-debug (sourced).

# Kernel log lines that fail a test-bed run: bugs, warnings, oopses,
# sanitizer reports (KASAN, UBSAN, KFENCE), lockdep ("WARNING: possible
# circular locking ...", "BUG: Invalid wait context"), sleeping in
# atomic context ("BUG: sleeping function called from invalid context"),
# kmemleak finding leaks or giving up, lockups and RCU stalls.
# An extended regular expression for grep -E.
CT_REPORT_PATTERN='BUG:|WARNING:|Oops|Call Trace|kernel BUG at|KFENCE:|KASAN:|UBSAN:'
CT_REPORT_PATTERN+='|kmemleak:.*new suspected|unreferenced object 0x|Kernel memory leak detector disabled'
CT_REPORT_PATTERN+='|detected stalls|soft lockup|hard LOCKUP|Kernel panic'

# ct_kernel_reports LOG: the lines of LOG that match CT_REPORT_PATTERN, as
# grep -n prints them; status 0 when there is one.  The one exception is
# the "Call Trace:" of an OOM kill's report (from "invoked oom-killer:"
# to the end of its stack, "</TASK>"), which dump_header() prints for
# every kill: a memory-cgroup OOM is what selftests/memcg_test.c makes
# happen.  Anything else in that report (a BUG: or WARNING: line) still
# counts, and so does a Call Trace outside it.
ct_kernel_reports() {
	CT_PAT=$CT_REPORT_PATTERN awk '
		/invoked oom-killer:/ { oom = 1 }
		$0 ~ ENVIRON["CT_PAT"] && !(oom && /Call Trace/) { print NR ":" $0; n++ }
		/<\/TASK>/ { oom = 0 }
		END { exit n ? 0 : 1 }' "$1"
}

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

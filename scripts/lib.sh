# SPDX-License-Identifier: GPL-2.0
# Shared helpers for cowtrace's host-side scripts (sourced, not run).
# shellcheck shell=bash

ct_die() {
	echo "cowtrace: $*" >&2
	exit 2
}

# Installed kernels that have both an image and headers, one per line.
ct_installed_kernels() {
	local img v
	for img in /boot/vmlinuz-*; do
		[ -e "$img" ] || continue
		v=${img#/boot/vmlinuz-}
		[ -d "/lib/modules/$v/build" ] && echo "$v"
	done | sort -V
}

# ct_resolve_kernel SEL: print the installed kernel version that SEL names.
# SEL is a full version (6.12.117+deb12-amd64), a line (6.1, 6.12) or a
# line with a flavour (6.12-rt).  A line picks the newest installed
# non-rt kernel of that line; nothing is hard-coded.
ct_resolve_kernel() {
	local sel=$1 line flavour v best=""
	if [ -e "/boot/vmlinuz-$sel" ]; then
		echo "$sel"
		return 0
	fi
	case $sel in
	*-rt) line=${sel%-rt}; flavour=rt ;;
	*) line=$sel; flavour=plain ;;
	esac
	for v in $(ct_installed_kernels); do
		case $v in
		"$line".*|"$line"-*) ;;
		*) continue ;;
		esac
		# "6.1" must not match "6.12...": the character after the
		# line must end the major.minor number.
		case ${v#"$line"} in
		.[0-9]*-*|-*) ;;
		*) continue ;;
		esac
		case $v in
		*-rt-*) [ "$flavour" = rt ] || continue ;;
		*) [ "$flavour" = plain ] || continue ;;
		esac
		best=$v
	done
	[ -n "$best" ] || return 1
	echo "$best"
}

# ct_result ok|fail NAME: print one TAP-like line and count it in the
# caller's pass and fail (and failed_names, the names of the failures).
ct_result() {
	if [ "$1" = ok ]; then
		pass=$((pass + 1))
		echo "ok - $2"
	else
		fail=$((fail + 1))
		failed_names+=("$2")
		echo "not ok - $2"
	fi
}

# ct_warning_free MAKE-ARGS...: build, printing the output; fails on a
# failed build or on any compiler, modpost or sparse warning.
ct_warning_free() {
	local out rc
	out=$(make --no-print-directory "$@" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] || return 1
	! echo "$out" | grep -E 'warning:|error:|WARNING:'
}

# ct_tap_tally TAP [EXPECTED-SKIP...]: count the numbered results of the
# TAP file (kselftest lines "ok N name", "ok N name # SKIP why", "not ok
# N name").  Sets tap_pass (passes, skips not included), tap_skip
# (expected skips), tap_fail (failures, plus every skip of a test not
# named in the list) and tap_failed (one line per failure, with its
# name; an unexpected skip reads "unexpected skip: name # SKIP why").
ct_tap_tally() {
	local tap=$1 line rest name e expected
	shift
	tap_pass=0
	tap_skip=0
	tap_fail=0
	tap_failed=()
	[ -f "$tap" ] || return 0
	while IFS= read -r line; do
		case $line in
		"not ok "[0-9]*)
			tap_fail=$((tap_fail + 1))
			tap_failed+=("$line")
			;;
		"ok "[0-9]*" # SKIP"*)
			rest=${line#ok [0-9]* }
			name=${rest%% # SKIP*}
			expected=
			for e in "$@"; do
				[ "$e" = "$name" ] && expected=1
			done
			if [ -n "$expected" ]; then
				tap_skip=$((tap_skip + 1))
			else
				tap_fail=$((tap_fail + 1))
				tap_failed+=("unexpected skip: $rest")
			fi
			;;
		"ok "[0-9]*)
			tap_pass=$((tap_pass + 1))
			;;
		esac
	done <"$tap"
}

# SPDX-License-Identifier: GPL-2.0
# Shared helpers for cowtrace's host-side scripts (sourced, not run).

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

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the test VM around COMMAND when the kernel has kmemleak (the
# debug kernel of make check-debug); run.sh puts it in front of COMMAND.
#
#   kmemleak.sh COMMAND [ARGS...]
#
# Forgets what boot and module loading left unreferenced (kmemleak's
# early-boot false positives), runs COMMAND, then scans twice and copies
# every object still unreferenced into the kernel log as
# "kmemleak-report: ..." lines, which run.sh counts as a kernel problem.
# Exits with COMMAND's status.
set -u

km=/sys/kernel/debug/kmemleak
# kmemleak reports only objects at least this old (MSECS_MIN_AGE, 5 s).
readonly MIN_AGE=6

kmemleak() {
	echo "$1" >"$km" 2>/dev/null
}

report() {
	local line n
	n=$(grep -c '^unreferenced object' "$km" 2>/dev/null)
	echo "# kmemleak: ${n:-0} unreferenced objects after the run"
	[ "${n:-0}" = 0 ] && return
	# The report is long; /dev/kmsg drops lines past a burst otherwise.
	echo on >/proc/sys/kernel/printk_devkmsg 2>/dev/null
	while IFS= read -r line; do
		printf 'kmemleak-report: %s\n' "$line" >/dev/kmsg
	done <"$km"
}

if [ ! -w "$km" ] || ! kmemleak scan; then
	echo "# kmemleak: not active in this kernel, not checked"
	exec "$@"
fi
kmemleak clear
"$@"
status=$?
sleep "$MIN_AGE"
kmemleak scan
kmemleak scan
report
exit "$status"

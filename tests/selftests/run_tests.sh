#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the vhost-mem selftests, one program after the other, and exit
# non-zero if any of them failed.  Each program prints KTAP through the
# kselftest harness; here that output is nested (prefixed with "# ") under
# one KTAP line per program, as the kernel's kselftest runner does.
#
#   run_tests.sh [-b BUILD_DIR] [-t SECONDS] [TEST...]
#
# BUILD_DIR defaults to build/selftests at the top of the tree.  Without
# TEST arguments every *_test program there runs: lib_test and device_test
# first (if the basics are broken nothing else means much), then the rest in
# name order.  -t limits each program's run time (default 3600 s; the
# harness also limits each test case).  Exit status: 0 if none failed
# (skips count as passes), 1 otherwise.

set -u

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../../build/selftests"
limit=3600

while getopts "b:t:h" opt; do
	case "$opt" in
	b) build=$OPTARG ;;
	t) limit=$OPTARG ;;
	*)
		sed -n '4,17s/^# \{0,1\}//p' "$0"
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))

if [ ! -d "$build" ]; then
	echo "run_tests.sh: no build directory $build (run make first)" >&2
	exit 2
fi
build=$(cd "$build" && pwd)

tests=()
if [ $# -gt 0 ]; then
	tests=("$@")
else
	for first in lib_test device_test; do
		[ -x "$build/$first" ] && tests+=("$first")
	done
	for prog in "$build"/*_test; do
		[ -x "$prog" ] || continue
		name=$(basename "$prog")
		case "$name" in
		lib_test|device_test) ;;
		*) tests+=("$name") ;;
		esac
	done
fi

if [ ${#tests[@]} -eq 0 ]; then
	echo "run_tests.sh: no *_test programs in $build" >&2
	exit 2
fi

echo "TAP version 13"
echo "1..${#tests[@]}"
pass=0
fail=0
skip=0
n=0
for name in "${tests[@]}"; do
	n=$((n + 1))
	prog="$build/$name"
	echo "# selftests: vhost-mem: $name"
	if [ ! -x "$prog" ]; then
		echo "# $prog: not found"
		rc=127
	else
		timeout --foreground -k 10 "$limit" "$prog" 2>&1 |
			sed -u 's/^/# /'
		rc=${PIPESTATUS[0]}
	fi
	case $rc in
	0)
		echo "ok $n selftests: vhost-mem: $name"
		pass=$((pass + 1))
		;;
	4)
		echo "ok $n selftests: vhost-mem: $name # SKIP"
		skip=$((skip + 1))
		;;
	124)
		echo "not ok $n selftests: vhost-mem: $name # TIMEOUT $limit seconds"
		fail=$((fail + 1))
		;;
	*)
		echo "not ok $n selftests: vhost-mem: $name # exit=$rc"
		fail=$((fail + 1))
		;;
	esac
done

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail -eq 0 ]

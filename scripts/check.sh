#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: host unit tests, then the kselftests in a VM on each kernel
# series, then (with 6.12 among the series) the end-to-end test of QEMU
# with vhost=on and a real 6.12 guest (tests/e2e).  Prints every TAP line
# and closes with "N passed, N failed" (and ", N skipped"); exits non-zero
# on any failure or untested kernel.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
series=${*:-6.1 6.12}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
failures=0

# A stage that does not even produce TAP (a build error, a VM that did not
# boot) is one failed test, so the total can never look green.
stage() {	# name command...
	local name=$1 out=$log/$1.out rc
	shift
	echo "# === $name"
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if ! grep -Eq '^(# )?(not )?ok [0-9]+' "$out"; then
		echo "not ok - $name: no test ran (exit $rc)" | tee -a "$out"
	elif [ "$rc" != 0 ] && ! grep -Eq '^not ok [0-9]+' "$out"; then
		echo "not ok - $name: exit $rc" | tee -a "$out"
	fi
}

# The TCG test VM now and then stops for good (tests/e2e/README.md, "Hangs
# of the test VM"): a VM stage that timed out runs once more, the hung
# attempt's lines kept as comments, which the tally does not count.
vm_retrying() {	# tests/vm/run.sh arguments...
	local out rc try
	out=$(mktemp -p "$log")
	for try in 1 2; do
		tests/vm/run.sh "$@" >"$out" 2>&1
		rc=$?
		[ "$rc" = 124 ] && [ "$try" = 1 ] || break
		sed 's/^/# hung attempt: /' "$out"
		echo "# the test VM timed out; once more"
	done
	cat "$out"
	return "$rc"
}

# Counts test cases: the kselftest runner nests each program's cases behind
# "# "; a program's own result line counts only when its cases do not
# already say it (a crash, a timeout, a program that never started).
tally() {
	awk '
	function leaf(line) {
		if (line ~ /# SKIP/) skip++
		else if (line ~ /^not ok/) { fail++; sec_fail++ }
		else pass++
		sec_n++
	}
	/^# selftests: /			{ sec_n = 0; sec_fail = 0; next }
	/^# (not )?ok [0-9]+/			{ sub(/^# /, ""); leaf($0); next }
	/^(not )?ok [0-9]+ selftests: /	{
		if ($0 ~ /^not ok/ && !sec_fail) fail++
		else if ($0 !~ /^not ok/ && !sec_n) leaf($0)
		next
	}
	/^(not )?ok [0-9]+/			{ leaf($0); next }
	/^not ok - /				{ fail++ }
	END { printf "%d passed, %d failed, %d skipped\n", pass, fail, skip }
	' "$log"/*.out
}

scripts/setup.sh $series >&2 || exit 1
make -s modules KVER= >&2 || failures=1
make -s selftests >&2 || failures=1
# The patched QEMU of the end-to-end test: its build dependencies, a
# deb-src entry and Debian's source on a first run (scripts/setup-qemu.sh).
e2e=
case " $series " in *" 6.12 "*) e2e=6.12 ;; esac
[ -z "$e2e" ] || make -s qemu >&2 || failures=1

stage style scripts/checkpatch.sh
stage unit make -s unit
for s in $series; do
	stage "vm-$s" vm_retrying --series "$s" -- tests/selftests/run_tests.sh
	# Hard protection's vCPU hold, with the vCPUs and the worker on two
	# CPUs (with one, 6.1 never lets the vCPU run inside the window).
	stage "vm-smp-$s" vm_retrying --series "$s" --cpus 2 --timeout 600 -- \
		tests/selftests/run_tests.sh protect_test vcpu_hold_test
done
# Only the 6.12 guest in a 6.12 test VM: with 6.1 as either, nested boots
# hang the TCG test VM too often for every run (tests/e2e/README.md);
# make e2e runs both guests.
[ -z "$e2e" ] || stage e2e tests/e2e/run.sh "$e2e"

[ "$failures" = 0 ] || echo "not ok - build failed" | tee "$log/build.out"
summary=$(tally)
echo "$summary"
case $summary in *" 0 failed,"*) exit 0 ;; *) exit 1 ;; esac

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

# stage and tally, shared with scripts/check-debug.sh.
# shellcheck source=scripts/check-lib.sh
. "$top/scripts/check-lib.sh"

# shellcheck disable=SC2086 # a list of series
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
# Each series' selftests on one CPU, side by side; then all of them again
# with four vCPUs making every guest access (VMT_VCPUS, tests/selftests/
# README.md) on two CPUs: the vCPUs, the vhost worker and the VMM's
# threads (lifecycle_test's owners racing the worker) really run at once
# (with one CPU, 6.1 never lets a vCPU run inside hard protection's window).
# The TCG test VM now and then stops for good (tests/e2e/README.md, "Hangs
# of the test VM"): a VM that hung boots once more, the hung attempt's
# lines kept as comments, which the tally does not count.
for s in $series; do
	stage_start "vm-$s" tests/vm/run.sh --retries 1 --series "$s" -- \
		tests/selftests/run_tests.sh
done
stages_wait
for s in $series; do
	stage_start "vm-smp-$s" tests/vm/run.sh --retries 1 --series "$s" --cpus 2 --timeout 1800 -- \
		env VMT_VCPUS=4 tests/selftests/run_tests.sh
done
stages_wait
# Only the 6.12 guest in a 6.12 test VM: with 6.1 as either, nested boots
# hang the TCG test VM too often for every run (tests/e2e/README.md);
# make e2e runs both guests.
[ -z "$e2e" ] || stage e2e tests/e2e/run.sh "$e2e"

[ "$failures" = 0 ] || echo "not ok - build failed" | tee "$log/build.out"
summary=$(tally)
echo "$summary"
case $summary in *" 0 failed,"*) exit 0 ;; *) exit 1 ;; esac

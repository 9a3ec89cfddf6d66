#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-debug: every selftest program and the end-to-end scenario on
# the debug kernel (scripts/build-debug-kernel.sh: KASAN, lockdep,
# DEBUG_ATOMIC_SLEEP, kmemleak, list and object debugging).  Any report
# of those checkers fails the run, even where every test case passed
# (tests/vm/run.sh's status 123).  Closes with "N passed, N failed,
# N skipped" like make check and exits non-zero on any failure.
#
#   scripts/check-debug.sh [--no-e2e]
#
# VHOST_MEM_DEBUG_TIMEOUT: the selftest VM's limit in seconds (default
# 7200); the e2e scenario takes VHOST_MEM_E2E_TIMEOUT (default 1800 here).
# VHOST_MEM_FUZZ_SECONDS: fuzz_test's time (default 300 here, 24 in make
# check); VHOST_MEM_FUZZ_SEED replays a failed run.
#
# Measured on the 2-core development machine: the first kernel build
# 2600-2900 CPU seconds (69 minutes of wall time under nice 10 with other
# work on the machine, about 25 on idle cores), a cached one 16 s; the
# module 30 s.  The test VM boots to COMMAND in 84 s (6 s stock) and the
# four kmemleak scans around COMMAND take about 110 s; the selftests run
# several times slower than on the stock kernel.  Too long for make check:
# run it before a kernel change is called done.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
readonly SERIES=6.12-debug
readonly VM_TIMEOUT=${VHOST_MEM_DEBUG_TIMEOUT:-7200}
# KASAN's shadow takes an eighth of the guest's memory.
readonly VM_MEM=6G
e2e=1
[ "${1:-}" != --no-e2e ] || e2e=
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
failures=0

# shellcheck source=scripts/check-lib.sh
. "$top/scripts/check-lib.sh"

timed() {	# label command...
	local label=$1 t0=$SECONDS rc=0
	shift
	"$@" || rc=$?
	echo "# check-debug: $label took $((SECONDS - t0)) s (exit $rc)"
	return "$rc"
}

build() {
	timed "the debug kernel" scripts/build-debug-kernel.sh >&2 || return 1
	timed "vhost_mem.ko" scripts/build-module.sh "$SERIES" >&2 || return 1
	timed "the selftests" make -s selftests >&2 || return 1
}

if build; then
	# The device's waits get three times the default (10 s): everything
	# in this kernel is slower.  The fuzzer gets longer than in make
	# check: this kernel's checkers see what it stirs up.
	stage "vm-$SERIES" timed "the selftests' VM" tests/vm/run.sh --retries 1 --series "$SERIES" \
		--mem "$VM_MEM" --timeout "$VM_TIMEOUT" -- \
		env VMT_TIMEOUT_MS=30000 \
		VHOST_MEM_FUZZ_SECONDS="${VHOST_MEM_FUZZ_SECONDS:-300}" \
		tests/selftests/run_tests.sh
	# The nested guest runs the stock 6.12 kernel; the test VM (the
	# module, KVM, vhost) runs the debug kernel, so the nested boot too
	# is slower (100 s, a reset and boot more than the default 180 s),
	# its console may be silent for longer than 60 s, and a guest with
	# pinned memory needs more than 20 s to unplug what it can.
	[ -z "$e2e" ] || VHOST_MEM_E2E_TIMEOUT=${VHOST_MEM_E2E_TIMEOUT:-1800} \
		VHOST_MEM_E2E_BOOT_TIMEOUT=${VHOST_MEM_E2E_BOOT_TIMEOUT:-600} \
		VHOST_MEM_E2E_SILENCE=${VHOST_MEM_E2E_SILENCE:-180} \
		VHOST_MEM_E2E_STUCK_WAIT=${VHOST_MEM_E2E_STUCK_WAIT:-120} \
		stage "e2e-$SERIES" timed "the e2e scenario" \
		tests/e2e/run.sh "6.12@$SERIES"
else
	failures=1
fi

[ "$failures" = 0 ] || echo "not ok - build failed" | tee "$log/build.out"
summary=$(tally)
echo "$summary"
case $summary in *" 0 failed,"*) exit 0 ;; *) exit 1 ;; esac

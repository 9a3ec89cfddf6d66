#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of tests/vm/run.sh on every kernel series (or those given):
#   tests/vm/selftest.sh [6.1] [6.12]
# Every run goes through setsid with stdin from /dev/null, as in CI (no
# terminal).  Prints TAP; exits non-zero if a check failed.  About 2
# minutes per series, half of it the time-limit and hang checks.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runner=$here/run.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vm-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

# vm SERIES ARGS...: run.sh without a terminal; stdout to $tmp/out, stderr
# to $tmp/err, exit status to $rc.
vm() {
	local series=$1; shift
	setsid -w "$runner" --series "$series" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

check() {	# description condition...
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what (status $rc)"
		sed 's/^/#   out: /' "$tmp/out" | tail -n 20
		sed 's/^/#   err: /' "$tmp/err" | tail -n 20
		failed=$((failed + 1))
	fi
}

is() { [ "$1" = "$2" ]; }
has() { grep -qF -- "$2" "$1"; }
timed_out() {	# seconds-taken
	is "$rc" 124 && has "$tmp/err" "vm: guest timed out after 30 s" && [ "$1" -lt 45 ]
}
hung() {	# seconds-taken
	is "$rc" 124 && has "$tmp/err" "vm: guest hung: no console output and no heartbeat for 20 s" &&
		[ "$1" -lt 90 ]
}
died() { is "$rc" 125 && has "$tmp/err" "vm: guest exited without a result"; }

# All processes below $1 (run.sh -> setpriv/timeout -> QEMU).
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# Kills QEMU with SIGKILL once COMMAND has started: the guest can report
# nothing, and run.sh must say so rather than hang or pass.
kill_qemu_test() {
	local series=$1 pid p i
	setsid -w "$runner" --series "$series" -- sh -c 'echo ready; sleep 100' \
		</dev/null >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		has "$tmp/out" ready && break
		sleep 0.2
	done
	for p in $(descendants "$pid"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] && kill -9 "$p"
	done
	wait "$pid"
	rc=$?
}

# A test VM that hangs in its first boot, silent as in TCG's nested-SVM
# hang, and boots from then on: its marker file says it hung once.
write_qemu_hanging_once() {
	cat >"$tmp/qemu-hanging-once" <<EOT
#!/bin/sh
[ -e "$tmp/hung-once" ] || { : >"$tmp/hung-once"; exec sleep 300; }
exec ${VHOST_MEM_VM_QEMU:-qemu-system-x86_64} "\$@"
EOT
	chmod +x "$tmp/qemu-hanging-once"
	rm -f "$tmp/hung-once"
}

retried() {
	is "$rc" 0 && has "$tmp/out" "# hung attempt: vm: guest hung" &&
		has "$tmp/out" "# vm: attempt 1 of 3 hung (status 124); once more" &&
		is "$(grep -vc '^#' "$tmp/out")" 1 && is "$(tail -n1 "$tmp/out")" passed
}

retried_on_75() {
	is "$rc" 75 && is "$(head -n1 "$tmp/out")" "# hung attempt: try" &&
		has "$tmp/out" "# vm: attempt 1 of 2 hung (status 75); once more" &&
		is "$(grep -vc '^#' "$tmp/out")" 1 && is "$(tail -n1 "$tmp/out")" try
}

retry_tests() {
	local s=$1
	write_qemu_hanging_once
	VHOST_MEM_VM_SILENCE=20 VHOST_MEM_VM_QEMU=$tmp/qemu-hanging-once \
		vm "$s" --retries 2 -- echo passed
	check "$s: --retries boots again after a hang" retried

	vm "$s" --retries 1 --hung-status 75 -- sh -c 'echo try; exit 75'
	check "$s: --hung-status 75 retries a COMMAND that exits 75" retried_on_75

	vm "$s" --retries 2 --hung-status 75 -- sh -c 'echo once; exit 3'
	check "$s: --retries runs a failing COMMAND once" is "$rc/$(cat "$tmp/out")" 3/once
}

selftest_series() {
	local s=$1 t0
	echo "# series $s"
	vm "$s" -- true
	check "$s: true exits 0" is "$rc" 0

	vm "$s" -- sh -c 'exit 3'
	check "$s: exit 3 comes back as 3" is "$rc" 3

	# shellcheck disable=SC2016 # expanded in the guest
	vm "$s" -- sh -c 'echo "out $VHOST_MEM_SERIES $VHOST_MEM_KVER"; echo err >&2; printf tail'
	check "$s: output comes through" is "$(cat "$tmp/out")" \
		"out $s $(uname_of "$s")
err
tail"

	vm "$s" -- python3 -c 'import fcntl, os
fd = fcntl.ioctl(os.open("/dev/kvm", os.O_RDWR), 0xAE01, 0)  # KVM_CREATE_VM
print("vm fd", fd)
assert fd >= 0'
	check "$s: KVM_CREATE_VM works in the guest" has "$tmp/out" "vm fd "

	vm "$s" -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at selftest.c:1 vm_selftest+0x0/0x1" >/dev/kmsg'
	check "$s: a kernel WARNING fails the run" is "$rc" 123

	vm "$s" -- no-such-command-for-vm-selftest
	check "$s: a missing command exits 127" is "$rc" 127

	t0=$SECONDS
	vm "$s" --timeout 30 -- sleep 300
	check "$s: the time limit ends the run" timed_out $((SECONDS - t0))

	# A quiet COMMAND is no hang while the heartbeat goes on; a guest
	# without one (its heartbeat killed: PID 1's children named init) is.
	VHOST_MEM_VM_SILENCE=20 vm "$s" -- sleep 40
	check "$s: a quiet command outlives the watchdog" is "$rc" 0
	t0=$SECONDS
	VHOST_MEM_VM_SILENCE=20 vm "$s" -- sh -c 'pkill -P 1 -x init; sleep 300'
	check "$s: the watchdog ends a silent guest" hung $((SECONDS - t0))

	kill_qemu_test "$s"
	check "$s: a killed QEMU is reported" died

	retry_tests "$s"
}

uname_of() {
	bash "$here/../../scripts/setup.sh" --env "$1" | sed -n 's/^KVER=//p'
}

series=("$@")
[ ${#series[@]} -gt 0 ] || series=(6.1 6.12)
for s in "${series[@]}"; do
	selftest_series "$s"
done
echo "1..$n"
[ "$failed" = 0 ] || { echo "# $failed of $n checks failed"; exit 1; }

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make e2e: the end-to-end test.  For each kernel series, boots the test VM
# (tests/vm/run.sh) and runs scenario.py in it: the patched QEMU with
# -accel kvm boots that series' kernel as a nested guest with the stock
# virtio_mem driver, once with vhost=on and once with QEMU's own device.
# Prints TAP ("1..N" last) and exits non-zero on any failure.
#
#   tests/e2e/run.sh [GUEST[@VM]]...    default: 6.1 6.12
#
# GUEST is the nested guest's kernel series, VM the test VM's (the kernel
# the module and KVM run on), 6.12 unless given: a 6.1 test VM hangs for
# good in one nested boot of a few (README.md), so "6.1" means a 6.1 guest
# in a 6.12 test VM, "6.1@6.1" the 6.1 test VM.
#
# Needs what make qemu, make tools and make modules build; run.sh builds
# them first (a no-op when they are current).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
series=${*:-6.1 6.12}
readonly DEFAULT_VM=6.12
# Per series: two guests, a boot and a restore each, and the resizes
# (about 4 minutes under TCG on the development machine, a reset included).
readonly VM_TIMEOUT=${VHOST_MEM_E2E_TIMEOUT:-420}
# Now and then TCG's emulation of nested SVM stops a nested boot or reboot
# for good, with either device: the whole test VM (its vCPU halted, no
# timer firing; run.sh's status 124) or only the nested guest (its console
# silent, scenario.py's status 75).  Such a series runs again, up to three
# times in all (tests/vm/run.sh --retries).
readonly RETRIES=2 EXIT_HUNG=75

n=0
failed=0

tap() {	# ok|not ok, description
	n=$((n + 1))
	printf '%s %d - %s\n' "$1" "$n" "$2"
	[ "$1" = ok ] || failed=$((failed + 1))
}

prepare() {
	cd "$top" || return 1
	make -s qemu >&2 || { echo "# make qemu failed"; return 1; }
	make -s tools >&2 || { echo "# make tools failed"; return 1; }
	make -s modules KVER= >&2 || { echo "# make modules failed"; return 1; }
	qemu=$(scripts/setup-qemu.sh --path) || return 1
	ctl=$top/build/tools/vhost-mem-ctl/vhost-mem-ctl
	[ -x "$ctl" ] || { echo "# no $ctl"; return 1; }
}

# A series in the test VM, booted again when it hung: the last attempt's
# lines (after those of the hung ones) into $out, run.sh's status as the
# last line.
scenario() {	# guest-series vm-series kernel initrd out
	tests/vm/run.sh --series "$2" --mem 4G --timeout "$VM_TIMEOUT" \
		--retries "$RETRIES" --hung-status "$EXIT_HUNG" -- \
		tests/e2e/scenario.py --series "$1" --qemu "$qemu" \
		--kernel "$3" --initrd "$4" --ctl "$ctl" >"$5" 2>&1
	echo "@@status $?" >>"$5"
}

# Numbers scenario.py's "ok - ..." lines; a run that ends without them, or
# with a status its lines do not explain, is a failure of its own.
run_series() {	# GUEST[@VM]
	local s=${1%@*} vm=$DEFAULT_VM kernel initrd vmkernel line status=none
	local t0=$SECONDS seen=0 bad=0 out
	[[ $1 != *@* ]] || vm=${1#*@}
	kernel=$(bash scripts/setup.sh --env "$s" | sed -n 's/^VMLINUZ=//p')
	vmkernel=$(bash scripts/setup.sh --env "$vm" | sed -n 's/^VMLINUZ=//p')
	{ [ -n "$kernel" ] && [ -n "$vmkernel" ]; } ||
		{ tap "not ok" "$1: series $s or $vm is not set up"; return; }
	initrd=$(tests/e2e/mkinitramfs.sh "$s") ||
		{ tap "not ok" "$s: building the guest's initramfs"; return; }
	echo "# === $s (guest: $(basename "$kernel"), test VM: $(basename "$vmkernel"))"
	out=$(mktemp)
	scenario "$s" "$vm" "$kernel" "$initrd" "$out"
	while IFS= read -r line; do
		case $line in
		"ok - "*) tap ok "${line#ok - }"; seen=$((seen + 1)) ;;
		"not ok - "*) tap "not ok" "${line#not ok - }"; seen=$((seen + 1)); bad=1 ;;
		"@@status "*) status=${line#@@status } ;;
		"#"*) printf '%s\n' "$line" ;;
		*) printf '# %s\n' "$line" ;;
		esac
	done <"$out"
	rm -f "$out"
	if [ "$seen" = 0 ]; then
		tap "not ok" "$s: the scenario did not run (status $status)"
	elif [ "$status" != 0 ] && [ "$bad" = 0 ]; then
		tap "not ok" "$s: the test VM ended with status $status"
	fi
	echo "# $s: $((SECONDS - t0)) s"
}

main() {
	local s
	if ! prepare; then
		tap "not ok" "e2e: building QEMU, the tools or the module"
	else
		for s in $series; do
			run_series "$s"
		done
	fi
	echo "1..$n"
	[ "$failed" = 0 ]
}

main

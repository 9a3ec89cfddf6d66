#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make e2e: the end-to-end test.  For each kernel series, boots the test VM
# (tests/vm/run.sh) and runs scenario.py in it: the patched QEMU with
# -accel kvm boots the same kernel as a nested guest with the stock
# virtio_mem driver, once with vhost=on and once with QEMU's own device.
# Prints TAP ("1..N" last) and exits non-zero on any failure.
#
#   tests/e2e/run.sh [6.1] [6.12]
#
# Needs what make qemu, make tools and make modules build; run.sh builds
# them first (a no-op when they are current).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
series=${*:-6.1 6.12}
# Per series: two guests, two boots each, and the resizes (about 2.5 min
# under TCG on the development machine); the limit leaves room for a slow one.
readonly VM_TIMEOUT=${VHOST_MEM_E2E_TIMEOUT:-600}

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

# Numbers scenario.py's "ok - ..." lines; a run that ends without them, or
# with a status its lines do not explain, is a failure of its own.
run_series() {
	local s=$1 kernel initrd line status=none t0=$SECONDS seen=0 bad=0
	kernel=$(bash scripts/setup.sh --env "$s" | sed -n 's/^VMLINUZ=//p')
	initrd=$(tests/e2e/mkinitramfs.sh "$s") ||
		{ tap "not ok" "$s: building the guest's initramfs"; return; }
	echo "# === $s (test VM: $(basename "$kernel"))"
	while IFS= read -r line; do
		case $line in
		"ok - "*) tap ok "${line#ok - }"; seen=$((seen + 1)) ;;
		"not ok - "*) tap "not ok" "${line#not ok - }"; seen=$((seen + 1)); bad=1 ;;
		"@@status "*) status=${line#@@status } ;;
		"#"*) printf '%s\n' "$line" ;;
		*) printf '# %s\n' "$line" ;;
		esac
	done < <(tests/vm/run.sh --series "$s" --mem 4G --timeout "$VM_TIMEOUT" -- \
		tests/e2e/scenario.py --series "$s" --qemu "$qemu" \
		--kernel "$kernel" --initrd "$initrd" --ctl "$ctl" 2>&1; echo "@@status $?")
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

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage 2 of the test VM: runs chrooted into the host's root (read-only 9p),
# so everything here is the host's own kmod, bash and the project's tests.
# Loads the kernel modules every test needs, then becomes COMMAND.
#
#   guest.sh JOB      JOB: bash fragment written by run.sh (VM_CWD, VM_ARGV,
#                     the environment to export)
#
# init.sh passes VM_MARK and VHOST_MEM_{MODROOT,KVER,SERIES}.  Anything that
# fails before COMMAND starts exits 125 with a "vm:" line; run.sh reports a
# status without the "<mark> start" line as a failed set-up.
set -u

die() {
	printf 'vm: %s\n' "$*" >&2
	exit 125
}

modprobe_or_die() {
	modprobe -d "$VHOST_MEM_MODROOT" -S "$VHOST_MEM_KVER" "$1" ||
		die "modprobe $1 failed (kernel $VHOST_MEM_KVER, modules under $VHOST_MEM_MODROOT)"
}

load_modules() {
	local m updates=$VHOST_MEM_MODROOT/lib/modules/$VHOST_MEM_KVER/updates
	for m in kvm kvm_amd vhost; do
		modprobe_or_die "$m"
	done
	# The build stages the project's module here (and runs depmod).
	if [ -e "$updates/vhost_mem.ko" ] || [ -e "$updates/vhost_mem.ko.xz" ]; then
		modprobe_or_die vhost_mem
	fi
}

main() {
	local job=$1 mark=$VM_MARK
	load_modules
	unset VM_MARK
	# shellcheck source=/dev/null
	. "$job" || die "cannot read the job file $job"
	cd -- "$VM_CWD" || die "cannot enter $VM_CWD in the guest (the host's /tmp, /run, /dev, /proc and /sys are not shared)"
	printf '%s start\n' "$mark"
	exec -- "${VM_ARGV[@]}"
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: from a fresh Debian 12 machine (as root), sets everything up,
# boots the test VM with the module, and in it starts QEMU with a
# vhost-mem-backed virtio-mem device and a Linux guest, which it resizes up
# and down with vhost-mem-ctl while showing the guest's memory and the
# device's status (tests/e2e/demo.py).  Plain output, no terminal needed.
#
#   scripts/demo.sh              on Linux 6.12 (the test VM's and the guest's)
#   VHOST_MEM_DEMO_SERIES=6.1 scripts/demo.sh
#
# The first run downloads and builds for a while (kernels, QEMU: about 10
# minutes); later runs take a couple of minutes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
series=${VHOST_MEM_DEMO_SERIES:-6.12}

say() { printf 'demo: %s\n' "$*"; }

cd "$top"
say "setting up: Debian packages and Linux $series (scripts/setup.sh)"
scripts/setup.sh "$series"
say "building the module (make modules KVER=$series)"
make -s modules KVER="$series"
say "building vhost-mem-ctl (make tools)"
make -s tools
say "building QEMU with tools/qemu/patches (make qemu; the first time takes minutes)"
make -s qemu
qemu=$(scripts/setup-qemu.sh --path)
kernel=$(scripts/setup.sh --env "$series" | sed -n 's/^VMLINUZ=//p')
initrd=$(tests/e2e/mkinitramfs.sh "$series")

say "booting the test VM (Linux $series under TCG, nested KVM, vhost_mem loaded)"
exec tests/vm/run.sh --series "$series" --mem 4G --timeout 600 -- \
	tests/e2e/demo.py --qemu "$qemu" --kernel "$kernel" --initrd "$initrd" \
	--ctl "$top/build/tools/vhost-mem-ctl/vhost-mem-ctl"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Unpacks QEMU 10.0 from bookworm-backports into .cache/vm-qemu/VERSION/ and
# prints the path of a qemu-system-x86_64 wrapper that runs it with its own
# firmware and modules, for VHOST_MEM_VM_QEMU (tests/vm/run.sh).  Nothing
# is installed: the binary runs on Debian 12's own libraries.
#
#   scripts/setup-vm-qemu.sh
#
# Why: the test VM's nested guests hang now and then in QEMU 7.2's TCG
# emulation of nested SVM (tests/e2e/README.md); QEMU 10.0's did not.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VHOST_MEM_CACHE:-$top/.cache}
readonly SUITE=bookworm-backports
readonly PACKAGES="qemu-system-x86 qemu-system-common qemu-system-data seabios"

log() { printf 'setup-vm-qemu: %s\n' "$*" >&2; }
die() { printf 'setup-vm-qemu: error: %s\n' "$*" >&2; exit 1; }

version=$("$top/scripts/apt-suite.sh" "$SUITE" version qemu-system-x86)
[ -n "$version" ] || die "no qemu-system-x86 in $SUITE"
dir=$cache/vm-qemu/${version//[:~+]/_}
wrapper=$dir/qemu-system-x86_64

if [ ! -x "$wrapper" ] || [ ! -x "$dir/root/usr/bin/qemu-system-x86_64" ]; then
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp/root"
	# shellcheck disable=SC2086 # one word per package
	debs=$("$top/scripts/apt-suite.sh" "$SUITE" download $PACKAGES) ||
		die "cannot download $PACKAGES from $SUITE"
	for deb in $debs; do
		dpkg-deb -x "$deb" "$dir.tmp/root" || die "cannot unpack $deb"
	done
	root=$dir/root
	cat >"$dir.tmp/qemu-system-x86_64" <<EOF
#!/bin/sh
# QEMU $version from $SUITE, unpacked by scripts/setup-vm-qemu.sh.
export QEMU_MODULE_DIR=$root/usr/lib/x86_64-linux-gnu/qemu
exec $root/usr/bin/qemu-system-x86_64 -L $root/usr/share/qemu \\
	-L $root/usr/share/seabios "\$@"
EOF
	chmod +x "$dir.tmp/qemu-system-x86_64"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	log "QEMU $version in $dir"
fi
"$wrapper" --version | grep -q "version 10\." ||
	die "$wrapper does not run: $("$wrapper" --version 2>&1 | head -n1)"
echo "$wrapper"

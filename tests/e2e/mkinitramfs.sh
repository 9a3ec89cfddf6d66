#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the initramfs of the end-to-end test's nested guest for one kernel
# series and prints its path: busybox-static, the virtio modules the guest
# needs (virtio_pci and virtio_mem with their dependencies, from the
# kernel's modules.dep; built-ins skipped, .ko.xz decompressed), the static
# vmem-agent and guest/init.  Cached in .cache/e2e/<KVER>/ under a key of
# all of its inputs.
#
#   tests/e2e/mkinitramfs.sh 6.1|6.12
set -euo pipefail

readonly MODULES="virtio_pci virtio_mem"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
series=${1:?usage: mkinitramfs.sh 6.1|6.12}

lib_name=e2e
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

KVER='' KROOT=''
{ load_series_env "$series" KVER KROOT && [ -n "$KVER" ]; } ||
	die "kernel series $series is not set up (scripts/setup.sh $series)"
moddir=$KROOT/lib/modules/$KVER
[ -f "$moddir/modules.dep" ] || die "no $moddir/modules.dep"
stage=''

main() {
	local out=$top/.cache/e2e/$KVER agent=$top/build/e2e/vmem-agent key cpio

	mkdir -p "$out" "$(dirname "$agent")"
	if [ ! -x "$agent" ] || [ "$here/guest/agent.c" -nt "$agent" ]; then
		gcc -static -O2 -Wall -Wextra -Werror -o "$agent.tmp" "$here/guest/agent.c" ||
			die "building vmem-agent failed"
		mv "$agent.tmp" "$agent"
	fi
	# shellcheck disable=SC2086 # a list of names
	resolve_modules "$moddir" $MODULES
	key=$({
		printf '%s\n' "$KVER" "$MODULES" "${module_order[@]}"
		stat -Lc '%s %Y' /bin/busybox "$moddir/modules.dep"
		cat "$here/guest/init" "$agent"
	} | sha256sum | cut -c1-16)
	cpio=$out/initramfs-$key.cpio
	if [ ! -f "$cpio" ]; then
		stage=$(mktemp -d "$out/stage.XXXXXX")
		trap 'rm -rf "$stage" "$cpio.tmp"' EXIT
		mkdir -p "$stage"/{bin,lib/modules,proc,sys,dev,tmp}
		cp /bin/busybox "$stage/bin/busybox"
		cp "$agent" "$stage/bin/vmem-agent"
		install -m 0755 "$here/guest/init" "$stage/init"
		stage_modules "$moddir" "$stage"
		(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
			cpio -o -H newc -R 0:0 --quiet) >"$cpio.tmp"
		mv "$cpio.tmp" "$cpio"
		rm -rf "$stage"
		trap - EXIT
		find "$out" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${cpio##*/}" -delete
	fi
	echo "$cpio"
}

main

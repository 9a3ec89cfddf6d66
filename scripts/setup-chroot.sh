#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Makes (once) a Debian chroot in .cache/chroot/SUITE/ with the compiler and
# tools that kbuild needs for external modules, and prints its path.  The
# kernels of a newer Debian are built with a newer gcc than Debian 12 has
# (7.x: gcc-14), and their kbuild helpers need that release's libc.
#
#   scripts/setup-chroot.sh SUITE
#
# scripts/build-module.sh builds in it with scripts/in-chroot.sh.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# The real path: env files name the chroot, other checkouts share the cache.
cache=$(readlink -f "${VHOST_MEM_CACHE:-$top/.cache}")
# External modules: compiler, make, objtool's and resolve_btfids' libraries,
# pahole for module BTF (and the layout guard), decompressors for modules.
readonly PACKAGES="gcc-14 make libc6-dev libelf1t64 libssl3t64 dwarves xz-utils zstd kmod"

log() { printf 'setup-chroot: %s\n' "$*" >&2; }
die() { printf 'setup-chroot: error: %s\n' "$*" >&2; exit 1; }

suite=${1:?usage: setup-chroot.sh SUITE}
case $suite in *[!a-z0-9-]*) die "bad suite name: $suite" ;; esac
dir=$cache/chroot/$suite

# The machine's Debian mirror (as scripts/apt-suite.sh uses).
mirror() {
	local uri
	uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources |
		awk '!/security/ { print $2; exit }')
	echo "${uri:-http://deb.debian.org/debian}"
}

need_debootstrap() {
	command -v debootstrap >/dev/null && return
	[ "$(id -u)" = 0 ] || die "need root to install debootstrap"
	log "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends debootstrap >/dev/null ||
		die "apt-get install debootstrap failed"
}

# Built aside and renamed into place: a half-made chroot is never used.
make_chroot() {
	local tmp t0=$SECONDS
	need_debootstrap
	mkdir -p "$cache/chroot"
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	chmod 755 "$tmp"
	log "debootstrap $suite into $dir ($PACKAGES)"
	debootstrap --variant=minbase --include="${PACKAGES// /,}" \
		"$suite" "$tmp" "$(mirror)" >"$tmp.log" 2>&1 ||
		{ tail -n 20 "$tmp.log" >&2; die "debootstrap $suite failed (log: $tmp.log)"; }
	rm -rf "$tmp/var/cache/apt/archives/"*.deb
	echo "$PACKAGES" >"$tmp/.vhost-mem-packages"
	mv "$tmp" "$dir"
	rm -f "$tmp.log"
	log "$suite chroot made in $((SECONDS - t0)) s"
}

if [ ! -f "$dir/.vhost-mem-packages" ]; then
	make_chroot
elif [ "$(cat "$dir/.vhost-mem-packages")" != "$PACKAGES" ]; then
	die "$dir was made with other packages; move it aside to remake it"
fi
echo "$dir"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds Debian 12's QEMU with vhost-mem's patch series (tools/qemu/patches)
# into .cache/qemu/build/qemu-system-x86_64.  Idempotent: a rerun with
# unchanged patches builds nothing.
#
#   scripts/setup-qemu.sh          set up and build (make qemu)
#   scripts/setup-qemu.sh --path   print the binary's path; fails if the
#                                  build is missing or older than the patches
#
# The QEMU version is resolved at set-up time: the source package of the
# qemu-system-x86 that Debian offers (7.2 in bookworm), fetched with
# `apt-get source` (a deb-src entry is added if there is none), so the
# tree carries Debian's own patches too.  .cache/qemu/<version>/src is a git
# repository: its first commit is Debian's tree, and `git am` applies our
# series on top, so each patch must apply as git-format-patch output.  The
# uapi header is copied in from uapi/linux/ (one source of truth), and the
# build is out of tree in .cache/qemu/build; ninja recompiles only what the
# patches touch.
set -euo pipefail

# Only what the test guests need: the x86 machine types, KVM, the kernel's
# vhost backends.  No TCG, no UI, no block drivers beyond the built-ins.
CONFIGURE_ARGS=(
	--target-list=x86_64-softmmu
	--without-default-features
	--enable-kvm --disable-tcg
	--enable-vhost-kernel --enable-vhost-net
	--enable-fdt=system
	--disable-docs --disable-werror --disable-debug-info
)
BUILD_DEPS="git dpkg-dev build-essential pkg-config python3 python3-venv
	ninja-build meson libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev
	qemu-system-data seabios"
SOURCES_FILE=/etc/apt/sources.list.d/vhost-mem-deb-src.sources

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VHOST_MEM_CACHE:-$top/.cache}/qemu
patches=$top/tools/qemu/patches
build=$cache/build

lib_name=setup-qemu
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

# The source version behind Debian's qemu-system-x86 (a binNMU such as
# 1:7.2+dfsg-7+deb12u18+b3 names its source in "Source: qemu (VERSION)").
qemu_source_version() {
	local fields source version
	fields=$(apt-cache show --no-all-versions qemu-system-x86 2>/dev/null) || true
	if [ -z "$fields" ]; then
		apt_update_once
		fields=$(apt-cache show --no-all-versions qemu-system-x86 2>/dev/null) ||
			die "no qemu-system-x86 in the package sources"
	fi
	source=$(awk '$1 == "Source:" { print; exit }' <<<"$fields")
	version=$(awk '$1 == "Version:" { print $2; exit }' <<<"$fields")
	if [[ $source =~ \((.*)\) ]]; then
		version=${BASH_REMATCH[1]}
	fi
	[ -n "$version" ] || die "cannot tell qemu-system-x86's version"
	echo "$version"
}

have_source() {	# version
	local versions
	versions=$(apt-cache showsrc qemu 2>/dev/null) || return 1
	grep -qxF "Version: $1" <<<"$versions"
}

# A deb-src twin of every Debian "deb" entry of the system's sources, in a
# file of our own; nothing is written when the source is reachable already.
ensure_deb_src() {
	local version=$1
	have_source "$version" && return
	if [ ! -f "$SOURCES_FILE" ]; then
		need_root "add a deb-src entry ($SOURCES_FILE)"
		log "adding $SOURCES_FILE"
		cat >"$SOURCES_FILE.tmp" <<'EOT'
# Added by vhost-mem's scripts/setup-qemu.sh: the source of Debian's QEMU.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
		mv "$SOURCES_FILE.tmp" "$SOURCES_FILE"
	fi
	apt_update_again
	have_source "$version" || die "no source package qemu=$version in the package sources"
}

# .cache/qemu/<version>/src: Debian's tree (Debian's patches applied) as the
# first commit of a git repository.  apt-get source runs in a scratch
# directory that is renamed into place, so an interrupted run starts over.
fetch_source() {
	local version=$1 dir=$2 tmp
	[ -d "$dir/.git" ] && git -C "$dir" rev-parse -q --verify refs/tags/debian-tree >/dev/null &&
		return
	ensure_deb_src "$version"
	log "apt-get source qemu=$version"
	rm -rf "$dir" "$dir.tmp"
	tmp=$dir.tmp
	mkdir -p "$tmp"
	(cd "$tmp" && apt-get source -qq -o APT::Sandbox::User=root "qemu=$version" >/dev/null 2>&1) ||
		die "apt-get source qemu=$version failed"
	local tree
	tree=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n1)
	if [ -z "$tree" ] || [ ! -f "$tree/VERSION" ]; then
		die "apt-get source left no QEMU tree in $tmp"
	fi
	log "recording Debian's tree ($(cat "$tree/VERSION")) in git"
	git -C "$tree" init -q
	git -C "$tree" add -A -f .
	git_id -C "$tree" commit -q --no-verify -m "qemu $version as Debian ships it"
	git -C "$tree" tag debian-tree
	mv "$tree" "$dir"
	rm -rf "$tmp"
}

git_id() {
	git -c user.name="vhost-mem setup" -c user.email=setup@vhost-mem.invalid \
		-c commit.gpgsign=false "$@"
}

# Everything the build depends on besides Debian's tree.
build_key() {
	local version=$1
	{
		echo "$version"
		printf '%s\n' "${CONFIGURE_ARGS[@]}"
		cat "$top/uapi/linux/vhost_mem.h"
		for p in "${series[@]}"; do
			basename "$p"
			cat "$p"
		done
	} | sha256sum | cut -c1-16
}

list_series() {
	series=()
	[ -d "$patches" ] || return 0
	local p
	for p in "$patches"/*.patch; do
		[ -e "$p" ] && series+=("$p")
	done
}

# The tree's commits, as the patches they export to (blank lines aside:
# --stdout separates the mails with one).
exported() {	# SRC
	git -C "$1" format-patch --zero-commit --no-signature --stdout \
		debian-tree | grep -v '^$'
}

# Work on the series happens in this tree (commit, then git format-patch
# into tools/qemu/patches): never throw away commits or changes that are
# not in the patches yet.
check_tree() {
	local src=$1 applied
	applied=$(cat "$cache/applied-head" 2>/dev/null) || return 0
	if { [ "$(git -C "$src" rev-parse HEAD)" != "$applied" ] &&
	     ! cmp -s <(exported "$src") <(cat "${series[@]}" | grep -v '^$'); } ||
	   [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
		die "$src has commits or changes that are not in tools/qemu/patches: export them (see tools/qemu/README.md) or drop them (git -C $src reset --hard $applied)"
	fi
}

# Debian's tree plus our series, as commits; the uapi headers on top.
apply_series() {
	local src=$1 p
	check_tree "$src"
	git -C "$src" am --abort >/dev/null 2>&1 || true
	git -C "$src" reset -q --hard refs/tags/debian-tree --
	git -C "$src" clean -q -fdx
	for p in "${series[@]}"; do
		git_id -C "$src" am -q --committer-date-is-author-date "$p" ||
			die "$(basename "$p") does not apply to QEMU $(cat "$src/VERSION") (see git -C $src am --show-current-patch)"
	done
	git -C "$src" rev-parse HEAD >"$cache/applied-head"
	log "applied ${#series[@]} patches"
	# Not part of any commit: a patch made in this tree must not carry it.
	install -m 0644 "$top/uapi/linux/vhost_mem.h" "$src/linux-headers/linux/vhost_mem.h"
	grep -qx 'linux-headers/linux/vhost_mem.h' "$src/.git/info/exclude" 2>/dev/null ||
		echo 'linux-headers/linux/vhost_mem.h' >>"$src/.git/info/exclude"
}

build_qemu() {
	local src=$1 key=$2 stamp=$build/.vhost-mem-key
	if [ ! -f "$build/build.ninja" ] ||
	   [ "$(cat "$build/.configure-args" 2>/dev/null)" != "${CONFIGURE_ARGS[*]} $src" ]; then
		log "configuring in $build"
		rm -rf "$build"
		mkdir -p "$build"
		(cd "$build" && "$src/configure" "${CONFIGURE_ARGS[@]}") >"$cache/configure.log" 2>&1 ||
			die "configure failed; see $cache/configure.log"
		echo "${CONFIGURE_ARGS[*]} $src" >"$build/.configure-args"
	fi
	log "building (ninja -C $build qemu-system-x86_64)"
	local t0=$SECONDS
	ninja -C "$build" qemu-system-x86_64 >"$cache/build.log" 2>&1 ||
		{ tail -n 40 "$cache/build.log" >&2; die "build failed; see $cache/build.log"; }
	echo "$key" >"$stamp"
	log "built $build/qemu-system-x86_64 in $((SECONDS - t0)) s"
}

main() {
	local version src key print=
	case ${1:-} in
	--path) print=1 ;;
	'') ;;
	*) die "usage: scripts/setup-qemu.sh [--path]" ;;
	esac
	list_series
	if [ -n "$print" ]; then
		# Without apt: what was built last, if it is still current.
		version=$(cat "$cache/version" 2>/dev/null) || die "QEMU is not set up: run make qemu"
		if [ "$(cat "$build/.vhost-mem-key" 2>/dev/null)" != "$(build_key "$version")" ] ||
		   [ ! -x "$build/qemu-system-x86_64" ]; then
			die "the patched QEMU is missing or out of date: run make qemu"
		fi
		echo "$build/qemu-system-x86_64"
		return
	fi
	# shellcheck disable=SC2086 # a list of names
	apt_install $BUILD_DEPS
	version=$(qemu_source_version)
	src=$cache/${version#*:}/src
	mkdir -p "$cache"
	fetch_source "$version" "$src"
	echo "$version" >"$cache/version"
	key=$(build_key "$version")
	if [ "$(cat "$build/.vhost-mem-key" 2>/dev/null)" = "$key" ] &&
	   [ -x "$build/qemu-system-x86_64" ]; then
		log "QEMU $version with ${#series[@]} patches is up to date"
		return
	fi
	apply_series "$src"
	build_qemu "$src" "$key"
}

main "$@"

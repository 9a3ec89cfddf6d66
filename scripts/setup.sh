#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepares this machine and the download cache for building and testing
# vhost-mem.  Idempotent: a second run installs and downloads nothing.
#
#   scripts/setup.sh            host packages + every supported kernel series
#   scripts/setup.sh 6.12       host packages + one series
#   scripts/setup.sh --env 6.1  print the series' environment (KVER, KDIR, ...)
#
# Per series it resolves, at set-up time, the newest version Debian offers of
# linux-source-<series>, then takes the image, headers, headers-common and
# kbuild packages of exactly that version, so that the vhost.h we build with
# always matches the vhost.ko we run with.
set -euo pipefail

SERIES_ALL="6.1 6.12"
# The last three are the linters of scripts/checkpatch.sh.
HOST_PACKAGES="gcc-12 make qemu-system-x86 busybox-static kmod cpio xz-utils
	dwarves libelf1 libssl3 libnl-genl-3-dev liburing-dev meson ninja-build
	pkg-config python3 shellcheck python3-pyflakes python3-pycodestyle"

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VHOST_MEM_CACHE:-$top/.cache}

lib_name=setup
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

candidate_version() {
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'
}

pkg_field() {	# pkg version field
	apt-cache show "$1=$2" 2>/dev/null | awk -v f="$3:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }'
}

# The generic amd64 headers package built from the same source as $2.
headers_package() {
	local series=$1 version=$2 p
	for p in $(apt-cache search --names-only \
		"^linux-headers-${series//./\\.}[.0-9]*(-[0-9]+|\\+deb[0-9]+)-amd64\$" |
		cut -d' ' -f1); do
		[ "$(pkg_field "$p" "$version" Version)" = "$version" ] && { echo "$p"; return; }
	done
	return 0
}

resolve_series() {
	local series=$1 version hdr
	version=$(candidate_version "linux-source-$series")
	if [ -z "$version" ] || [ "$version" = "(none)" ]; then
		apt_update_once
		version=$(candidate_version "linux-source-$series")
	fi
	{ [ -n "$version" ] && [ "$version" != "(none)" ]; } ||
		die "no linux-source-$series in the package sources"
	hdr=$(headers_package "$series" "$version")
	[ -n "$hdr" ] || die "no linux-headers-*-amd64 of version $version"
	echo "$version ${hdr#linux-headers-}"
}

# The signed image is published some days after the unsigned one of the
# same build (same vmlinuz and modules): take whichever has the version.
image_package() {	# kver version
	local p
	for p in "linux-image-$1" "linux-image-$1-unsigned"; do
		[ "$(pkg_field "$p" "$2" Version)" = "$2" ] && { echo "$p"; return; }
	done
	die "no linux-image-$1 (signed or unsigned) of version $2"
}

# Only what the build and the tests need, never the whole tree; from
# 6.12 also the YNL generator and CLI with the netlink schemas and specs
# (scripts/ynl-gen.sh).
extract_source() {
	local series=$1 deb=$2 dst=$3 p=linux-source-$1 ynl=()
	[ "$series" != 6.12 ] || ynl=("$p/tools/net/ynl" "$p/Documentation/netlink")
	mkdir -p "$dst.tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$p.tar.xz" |
		tar -xJ -C "$dst.tmp" --strip-components=1 \
			"$p/drivers/vhost/vhost.h" "$p/drivers/vhost/vhost.c" \
			"$p/tools/testing/selftests/kselftest_harness.h" \
			"$p/tools/testing/selftests/kselftest.h" \
			"$p/scripts/checkpatch.pl" "$p/scripts/spelling.txt" \
			"$p/scripts/const_structs.checkpatch" "$p/scripts/kernel-doc" \
			"${ynl[@]}" ||
		die "extracting from $deb failed"
	mv "$dst.tmp" "$dst"
}

# The series is set up already for the version Debian offers now: one
# apt-cache call instead of the headers search of resolve_series.
series_is_current() {	# series dir
	local version
	version=$(candidate_version "linux-source-$1")
	[ -n "$version" ] && [ -f "$2/env" ] &&
		grep -qx "VERSION=$version" "$2/env"
}

setup_series() {
	local series=$1 dir=$cache/kernel/$1 version kver kbuild common stamp image
	series_is_current "$series" "$dir" && return
	read -r version kver < <(resolve_series "$series")
	stamp=$dir/$kver.env
	if [ -f "$stamp" ]; then
		ln -sfn "$kver.env" "$dir/env"
		return
	fi
	log "$series: $kver ($version)"
	common=$(pkg_field "linux-headers-$kver" "$version" Depends |
		tr ',' '\n' | grep -o 'linux-headers-[^ ]*-common' | head -n1)
	kbuild=$(pkg_field "linux-headers-$kver" "$version" Depends |
		tr ',' '\n' | grep -o 'linux-kbuild-[^ ]*' | head -n1)
	{ [ -n "$common" ] && [ -n "$kbuild" ]; } || die "cannot find headers dependencies of $kver"
	image=$(image_package "$kver" "$version")

	rm -rf "${dir:?}/$kver"
	apt_download "$dir/$kver/debs" "$image=$version" \
		"linux-headers-$kver=$version" "$common=$version" \
		"$kbuild=$version" "linux-source-$series=$version"
	local d root=$dir/$kver/root
	for d in "$dir/$kver"/debs/linux-{image,headers,kbuild}-*.deb; do
		dpkg-deb -x "$d" "$root"
	done
	# The headers' Makefile includes the -common tree by absolute path.
	sed -i "s|^include /usr/src/|include $root/usr/src/|" \
		"$root/usr/src/linux-headers-$kver/Makefile"
	extract_source "$series" "$dir/$kver"/debs/linux-source-*.deb "$dir/$kver/src"
	# Only the kernel's own modules are needed from now on.
	rm -f "$dir/$kver"/debs/linux-source-*.deb
	depmod -b "$root" "$kver"

	cat >"$stamp.tmp" <<EOT
SERIES=$series
VERSION=$version
KVER=$kver
KROOT=$root
KDIR=$root/usr/src/linux-headers-$kver
VMLINUZ=$root/boot/vmlinuz-$kver
KSRC=$dir/$kver/src
EOT
	mv "$stamp.tmp" "$stamp"
	ln -sfn "$kver.env" "$dir/env"
}

main() {
	local series
	if [ "${1:-}" = --env ]; then
		[ -n "${2:-}" ] || die "--env needs a series ($SERIES_ALL)"
		cat "$cache/kernel/$2/env" 2>/dev/null ||
			die "series $2 is not set up: run scripts/setup.sh $2"
		return
	fi
	for series in "$@"; do
		case " $SERIES_ALL " in
		*" $series "*) ;;
		*) die "unknown kernel series '$series' (supported: $SERIES_ALL)" ;;
		esac
	done
	# shellcheck disable=SC2086 # a list of names
	apt_install $HOST_PACKAGES
	# shellcheck disable=SC2086 # the default, a list of series
	[ $# -gt 0 ] || set -- $SERIES_ALL
	for series in "$@"; do
		setup_series "$series"
	done
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepares this machine and the download cache for building and testing
# vhost-mem.  Idempotent: a second run installs and downloads nothing.
#
#   scripts/setup.sh            host packages + every supported kernel series
#   scripts/setup.sh 6.12       host packages + one series (or 7.3)
#   scripts/setup.sh --env 6.1  print the series' environment (KVER, KDIR, ...)
#
# Per series it resolves, at set-up time, the newest version Debian offers of
# linux-source-<series>, then takes the image, headers, headers-common and
# kbuild packages of exactly that version, so that the vhost.h we build with
# always matches the vhost.ko we run with.
#
# A series of a newer Debian release (7.3: trixie-backports) comes from its
# own suite (scripts/apt-suite.sh), and its modules are built in a chroot of
# that release (scripts/setup-chroot.sh): its kbuild wants that release's
# gcc and libc.  Its env names the chroot as CHROOT.
set -euo pipefail

# The series make and make check build and test.
SERIES_ALL="6.1 6.12"
# Also set up on request, not yet in SERIES_ALL: the module builds for
# 7.3, but make check does not test it yet (issue 15).
SERIES_KNOWN="$SERIES_ALL 7.3"
# The last three are the linters of scripts/checkpatch.sh.
HOST_PACKAGES="gcc-12 make qemu-system-x86 busybox-static kmod cpio xz-utils
	dwarves libelf1 libssl3 libnl-genl-3-dev liburing-dev meson ninja-build
	pkg-config python3 shellcheck python3-pyflakes python3-pycodestyle"

top=$(cd "$(dirname "$0")/.." && pwd)
# The real path: the env files name it, and other checkouts share the cache.
cache=$(readlink -f "${VHOST_MEM_CACHE:-$top/.cache}")
# The Debian suite of the series being set up, empty for the machine's own.
suite=

lib_name=setup
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

# The Debian suite a series comes from, if not the machine's own sources.
series_suite() {
	case $1 in
	7.3) echo trixie-backports ;;
	esac
}

# apt-cache on the machine's sources or on $suite's.
acache() {
	if [ -n "$suite" ]; then
		"$top/scripts/apt-suite.sh" "$suite" cache "$@"
	else
		apt-cache "$@"
	fi
}

candidate_version() {
	acache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'
}

pkg_field() {	# pkg version field
	acache show "$1=$2" 2>/dev/null | awk -v f="$3:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }'
}

# The generic amd64 headers package built from the same source as $2.
headers_package() {
	local series=$1 version=$2 p
	for p in $(acache search --names-only \
		"^linux-headers-${series//./\\.}[.0-9]*(-[0-9]+|\\+deb[0-9]+)-amd64\$" |
		cut -d' ' -f1); do
		[ "$(pkg_field "$p" "$version" Version)" = "$version" ] && { echo "$p"; return; }
	done
	return 0
}

# From the machine's sources, or from $suite's.
download() {	# dir pkg=version...
	local dir=$1 deb
	if [ -z "$suite" ]; then
		apt_download "$@"
		return
	fi
	shift
	mkdir -p "$dir"
	# Linked from the suite's own cache, which keeps its copies.
	for deb in $("$top/scripts/apt-suite.sh" "$suite" download "$@"); do
		ln -f "$deb" "$dir/" || die "cannot link $deb into $dir"
	done
}

resolve_series() {
	local series=$1 version hdr
	version=$(candidate_version "linux-source-$series")
	if [ -z "$suite" ] && { [ -z "$version" ] || [ "$version" = "(none)" ]; }; then
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

# From 7.x Debian's image package only depends on the packages with the
# kernel (linux-binary-*), its modules and its config (linux-base-*).
image_parts() {	# image kver version
	local deps p
	deps=$(pkg_field "$1" "$3" Depends | tr ',' '\n' | awk '{ print $1 }')
	for p in "linux-binary-$2" "linux-modules-$2" "linux-base-$2"; do
		! grep -qxF "$p" <<<"$deps" || echo "$p=$3"
	done
}

# The chroot a newer release's series is built in (none for our own).
series_chroot() {
	local release=${suite%-backports} own
	own=$(sed -n "s/^VERSION_CODENAME=//p" /etc/os-release)
	if [ -n "$suite" ] && [ "$release" != "$own" ]; then
		"$top/scripts/setup-chroot.sh" "$release"
	fi
}

# In /boot up to 6.x, next to the modules in 7.x packages.
vmlinuz() {	# root kver
	if [ -f "$1/boot/vmlinuz-$2" ]; then
		echo "$1/boot/vmlinuz-$2"
	else
		echo "$1/lib/modules/$2/vmlinuz"
	fi
}

# From trixie on, the packages install modules in /usr/lib/modules; the
# tests and depmod -b look in ROOT/lib/modules.
usr_lib_modules() {	# root
	if [ -d "$1/usr/lib/modules" ] && [ ! -e "$1/lib" ]; then
		ln -s usr/lib "$1/lib"
	fi
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
	local chroot parts
	suite=$(series_suite "$series")
	chroot=$(series_chroot)
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
	parts=$(image_parts "$image" "$kver" "$version")

	rm -rf "${dir:?}/$kver"
	# shellcheck disable=SC2086 # one word per package
	download "$dir/$kver/debs" "$image=$version" $parts \
		"linux-headers-$kver=$version" "$common=$version" \
		"$kbuild=$version" "linux-source-$series=$version"
	local d root=$dir/$kver/root
	for d in "$dir/$kver"/debs/linux-{image,binary,modules,base,headers,kbuild}-*.deb; do
		[ ! -f "$d" ] || dpkg-deb -x "$d" "$root"
	done
	usr_lib_modules "$root"
	# The headers' Makefile names the -common tree (and from 7.x its
	# own output directory) by absolute path.
	sed -i "s@^\(include \|KBUILD_OUTPUT=\)/usr/src/@\1$root/usr/src/@" \
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
VMLINUZ=$(vmlinuz "$root" "$kver")
KSRC=$dir/$kver/src
CHROOT=$chroot
EOT
	mv "$stamp.tmp" "$stamp"
	ln -sfn "$kver.env" "$dir/env"
}

main() {
	local series
	if [ "${1:-}" = --env ]; then
		[ -n "${2:-}" ] || die "--env needs a series ($SERIES_KNOWN)"
		cat "$cache/kernel/$2/env" 2>/dev/null ||
			die "series $2 is not set up: run scripts/setup.sh $2"
		return
	fi
	for series in "$@"; do
		case " $SERIES_KNOWN " in
		*" $series "*) ;;
		*) die "unknown kernel series '$series' (known: $SERIES_KNOWN)" ;;
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

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs COMMAND in a chroot made by scripts/setup-chroot.sh, in the current
# directory, with host directories bind-mounted at their own paths: every
# path on the command line means the same inside as outside.  The mounts
# live in a private mount namespace, so they go away with COMMAND, however
# it ends, and builds running side by side do not see each other's.
#
#   scripts/in-chroot.sh ROOT DIR[:DIR...] COMMAND [ARGS...]
set -euo pipefail

die() { printf 'in-chroot: error: %s\n' "$*" >&2; exit 125; }

[ "${1:-}" = --inside ] ||
	exec unshare --mount --propagation private -- "$0" --inside "$@"
shift
[ $# -ge 3 ] || die "usage: $0 ROOT DIR[:DIR...] COMMAND [ARGS...]"
root=$1 dirs=$2
shift 2
[ -x "$root/usr/bin/env" ] || die "$root is no chroot (scripts/setup-chroot.sh)"

bind_dirs() {
	local d
	IFS=: read -ra d <<<"$dirs"
	for d in "${d[@]}"; do
		[ -d "$d" ] || die "no directory $d"
		mkdir -p "$root$d"
		mount --bind "$d" "$root$d" || die "cannot bind $d"
	done
}

bind_dirs
mount -t proc proc "$root/proc" || die "cannot mount proc"
mount --rbind /dev "$root/dev" || die "cannot bind /dev"
# Only the release's own programs: no host PATH entries or variables.
# shellcheck disable=SC2016 # expanded by the inner shell
exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/tmp LC_ALL=C.UTF-8 /bin/sh -c 'cd "$1" && shift && exec "$@"' \
	sh "$PWD" "$@"

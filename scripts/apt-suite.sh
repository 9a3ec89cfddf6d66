#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Downloads packages from another Debian suite than the machine's own
# (bookworm-backports, trixie, ...) without touching the machine's apt
# configuration: the suite gets its own sources list and package lists
# under .cache/apt/SUITE/, and the .debs land in .cache/apt/SUITE/debs/.
#
#   scripts/apt-suite.sh SUITE version PKG      print PKG's version there
#   scripts/apt-suite.sh SUITE download PKG[=VERSION]...
#                                               download (cached), print paths
#   scripts/apt-suite.sh SUITE cache ARGS...    apt-cache ARGS on the suite
#
# The lists are fetched once a day at most; set VHOST_MEM_APT_REFRESH=1 to
# fetch them now.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VHOST_MEM_CACHE:-$top/.cache}

log() { printf 'apt-suite: %s\n' "$*" >&2; }
die() { printf 'apt-suite: error: %s\n' "$*" >&2; exit 1; }

[ $# -ge 3 ] || die "usage: $0 SUITE version|download|cache ARGS..."
suite=$1 action=$2
shift 2
case $suite in *[!a-z0-9-]*) die "bad suite name: $suite" ;; esac
dir=$cache/apt/$suite
opts=(-o "Dir::Etc::sourcelist=$dir/sources.list"
      -o "Dir::Etc::sourceparts=-"
      -o "Dir::State::Lists=$dir/lists"
      -o "Dir::Cache=$dir/cache"
      -o "APT::Sandbox::User=root"
      -o "APT::Default-Release=$suite")

# The machine's Debian mirror, so that the suite comes from the same place.
mirror() {
	local uri
	uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources |
		awk '!/security/ { print $2; exit }')
	echo "${uri:-http://deb.debian.org/debian}"
}

update_lists() {
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"
	echo "deb $(mirror) $suite main" >"$dir/sources.list"
	if [ -z "${VHOST_MEM_APT_REFRESH:-}" ] &&
	   [ -n "$(find "$dir/lists" -maxdepth 1 -name '*_Packages*' -mtime -1)" ]; then
		return
	fi
	log "apt-get update ($suite)"
	apt-get "${opts[@]}" update -qq >/dev/null 2>&1 ||
		die "apt-get update of $suite failed"
}

version_of() {
	apt-cache "${opts[@]}" policy "$1" 2>/dev/null |
		awk '/Candidate:/ { print $2 }'
}

# The cached .deb of one version: pkg_version_arch.deb.
cached_deb() {	# pkg version
	local f
	for f in "$dir/debs/${1}_${2//:/%3a}_"*.deb; do
		[ -f "$f" ] && echo "$f" && return
	done
	return 1
}

download() {
	local p v file
	for p in "$@"; do
		case $p in
		*=*) v=${p#*=} p=${p%%=*} ;;
		*) v=$(version_of "$p") ;;
		esac
		case $v in ''|'(none)') die "$p: not in $suite" ;; esac
		if ! file=$(cached_deb "$p" "$v"); then
			log "downloading $p $v ($suite)"
			(cd "$dir/debs" &&
			 apt-get "${opts[@]}" download -qq "$p=$v" >/dev/null 2>&1) ||
				die "apt-get download $p=$v failed"
			file=$(cached_deb "$p" "$v") || die "$p $v: no .deb after download"
		fi
		echo "$file"
	done
}

update_lists
case $action in
version) version_of "$1" ;;
download) download "$@" ;;
cache) apt-cache "${opts[@]}" "$@" ;;
*) die "unknown action: $action" ;;
esac

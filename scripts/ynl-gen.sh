#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Generates the netlink code of the family from its spec with the kernel's
# own YNL generator (tools/net/ynl/ynl-gen-c.py of linux-source-6.12):
#
#   Documentation/netlink/specs/vhost_mem.yaml
#     -> kernel/netlink-gen.c, kernel/netlink-gen.h   (policies, ops, family)
#     -> uapi/linux/vhost_mem_netlink.h               (the uapi header)
#
#   scripts/ynl-gen.sh            rewrite the files that differ
#   scripts/ynl-gen.sh --check    change nothing; print a diff and exit 1
#                                 if a committed file differs
#   scripts/ynl-gen.sh --env      print YNL_TREE and YNL_PYTHONPATH (the
#                                 generator's tree and the Python modules it
#                                 and tools/net/ynl/cli.py need)
#
# Everything comes from Debian's package registry: the generator's part of
# linux-source-6.12, the version that scripts/setup.sh resolved (its
# extraction has it, else it is fetched into .cache/ynl/ once), and
# python3-yaml and python3-jsonschema (into .cache/ynl/, unless Debian's
# python3 has them).  A warm cache needs no network.
#
# The generator looks for the kernel tree's root, a directory with a
# MAINTAINERS file, upwards from the spec and loops for ever without one (it
# only wants the spec's path relative to that root for a comment).  So the
# spec is run from a scratch tree that has one, with the protocol's schema
# at Documentation/netlink/, where the generator validates the spec against it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VHOST_MEM_CACHE:-$top/.cache}/ynl
SERIES=6.12
SPEC=Documentation/netlink/specs/vhost_mem.yaml
# Debian's interpreter, whatever else is first in PATH.
PYTHON=/usr/bin/python3
PY_PACKAGES=(python3-yaml python3-jsonschema python3-attr python3-pyrsistent)

lib_name=ynl-gen
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

# The version of linux-source-6.12 that the rest of the build uses, and
# its extracted part (KSRC), which has the generator if scripts/setup.sh
# set the series up since it extracts it.
source_version() {
	local v
	v=$(sed -n 's/^VERSION=//p' <<<"$series_env")
	[ -n "$v" ] || v=$(apt-cache policy "linux-source-$SERIES" 2>/dev/null |
		awk '/Candidate:/ { print $2 }')
	{ [ -n "$v" ] && [ "$v" != "(none)" ]; } ||
		die "no linux-source-$SERIES in the package sources (run scripts/setup.sh $SERIES)"
	echo "$v"
}

# tools/net/ynl and the netlink schemas and specs of linux-source-$SERIES.
fetch_tree() {
	local version=$1 dir=$2 p=linux-source-$SERIES tmp
	[ -f "$dir/.done" ] && return
	log "fetching tools/net/ynl from $p $version (once)"
	rm -rf "$dir"
	tmp=$(mktemp -d "$cache/fetch.XXXXXX")
	(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root \
		"$p=$version" >/dev/null) || { rm -rf "$tmp"; die "apt-get download $p=$version failed"; }
	mkdir -p "$tmp/tree"
	dpkg-deb --fsys-tarfile "$tmp"/"$p"_*.deb | tar -xO "./usr/src/$p.tar.xz" |
		tar -xJ -C "$tmp/tree" --strip-components=1 \
			"$p/tools/net/ynl" "$p/Documentation/netlink" ||
		{ rm -rf "$tmp"; die "extracting tools/net/ynl from $p failed"; }
	mv "$tmp/tree" "$dir"
	rm -rf "$tmp"
	touch "$dir/.done"
}

# Sets YNL_PYTHONPATH: empty if Debian's python3 has the modules already,
# else python3-yaml and python3-jsonschema unpacked into the cache.
find_python_modules() {
	local dir=$cache/python debs p
	YNL_PYTHONPATH=
	[ -x "$PYTHON" ] || die "$PYTHON is missing (apt-get install python3)"
	"$PYTHON" -c 'import yaml, jsonschema' 2>/dev/null && return
	YNL_PYTHONPATH=$dir/root/usr/lib/python3/dist-packages
	if [ ! -f "$dir/.done" ]; then
		log "fetching ${PY_PACKAGES[*]} (once)"
		rm -rf "$dir"
		debs=$dir/debs
		mkdir -p "$debs"
		(cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root \
			"${PY_PACKAGES[@]}" >/dev/null) ||
			die "apt-get download ${PY_PACKAGES[*]} failed"
		for p in "$debs"/*.deb; do
			dpkg-deb -x "$p" "$dir/root"
		done
		touch "$dir/.done"
	fi
	PYTHONPATH=$YNL_PYTHONPATH "$PYTHON" -c 'import yaml, jsonschema' ||
		die "python3 cannot import yaml and jsonschema from $YNL_PYTHONPATH"
}

# generate OUTDIR: the three files, as the spec makes them now.
generate() {
	local out=$1 scratch=$1/tree m
	mkdir -p "$scratch/Documentation/netlink/specs"
	: >"$scratch/MAINTAINERS"
	cp "$YNL_TREE/Documentation/netlink/genetlink.yaml" "$scratch/Documentation/netlink/"
	cp "$top/$SPEC" "$scratch/$SPEC"
	# mode, kind, file
	for m in kernel:source:netlink-gen.c kernel:header:netlink-gen.h \
		uapi:header:vhost_mem_netlink.h; do
		IFS=: read -r -a m <<<"$m"
		PYTHONPATH=$YNL_PYTHONPATH timeout 60 "$PYTHON" \
			"$YNL_TREE/tools/net/ynl/ynl-gen-c.py" --spec "$scratch/$SPEC" \
			--mode "${m[0]}" "--${m[1]}" -o "$out/${m[2]}" ||
			die "ynl-gen-c.py --mode ${m[0]} --${m[1]} failed (exit $?)"
	done
}

main() {
	local check='' env='' version f dst rc=0
	case ${1:-} in
	--check) check=1 ;;
	--env) env=1 ;;
	"") ;;
	*) die "usage: $0 [--check | --env]" ;;
	esac
	series_env=$("$top/scripts/setup.sh" --env "$SERIES" 2>/dev/null) || series_env=
	YNL_TREE=$(sed -n 's/^KSRC=//p' <<<"$series_env")
	if [ ! -f "$YNL_TREE/tools/net/ynl/ynl-gen-c.py" ]; then
		mkdir -p "$cache"
		version=$(source_version)
		YNL_TREE=$cache/linux-source-$version
		fetch_tree "$version" "$YNL_TREE"
	fi
	find_python_modules
	if [ -n "$env" ]; then
		printf 'YNL_TREE=%s\nYNL_PYTHONPATH=%s\n' "$YNL_TREE" "$YNL_PYTHONPATH"
		return
	fi

	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	generate "$out"
	for f in netlink-gen.c netlink-gen.h vhost_mem_netlink.h; do
		case $f in
		netlink-gen.*) dst=kernel/$f ;;
		*) dst=uapi/linux/$f ;;
		esac
		cmp -s "$out/$f" "$top/$dst" && continue
		if [ -n "$check" ]; then
			log "$dst differs from what $SPEC generates (run scripts/ynl-gen.sh):"
			diff -u --label "$dst" --label "$dst (generated)" \
				"$top/$dst" "$out/$f" || true
			rc=1
		else
			cp "$out/$f" "$top/$dst"
			log "wrote $dst"
		fi
	done
	return $rc
}

main "$@"

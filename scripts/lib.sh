# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the project's scripts share: their messages, Debian packages, a
# kernel series' set-up, and the modules of an initramfs.  The script that
# sources it sets lib_name, the prefix of its messages ("setup: ..."), and
# may set lib_die_status, die's exit status (default 1).

lib_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '%s: %s\n' "${lib_name:?}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${lib_name:?}" "$*" >&2; exit "${lib_die_status:-1}"; }

need_root() {	# what for
	[ "$(id -u)" = 0 ] || die "need root to $*"
}

lib_apt_updated=
apt_update_once() {
	[ -z "$lib_apt_updated" ] || return 0
	log "apt-get update"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	lib_apt_updated=1
}

# After a change of the package sources.
apt_update_again() {
	lib_apt_updated=
	apt_update_once
}

# Prints those of the Debian packages that are not installed.
missing_packages() {	# package...
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || echo "$p"
	done
}

# Installs the packages that are missing; a no-op (and no root needed)
# when none is.  The lock timeout lets set-ups started side by side wait
# for each other.
apt_install() {	# package...
	local missing
	mapfile -t missing < <(missing_packages "$@")
	[ ${#missing[@]} -gt 0 ] || return 0
	need_root "install ${missing[*]}"
	apt_update_once
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-o DPkg::Lock::Timeout=600 --no-install-recommends \
		"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# Downloads .debs of exact versions into DIR (as root too: no sandbox user).
apt_download() {	# dir package=version...
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$@" >/dev/null) ||
		die "apt-get download $* failed"
}

# Sets the named variables (KVER, KROOT, ...) from a kernel series' set-up
# (scripts/setup.sh --env), read as data rather than eval'ed; fails if the
# series is not set up.
load_series_env() {	# series name...
	local env key value name
	env=$(bash "$lib_top/scripts/setup.sh" --env "$1" 2>/dev/null) || return 1
	shift
	while IFS='=' read -r key value; do
		for name in "$@"; do
			[ "$key" != "$name" ] || printf -v "$key" '%s' "$value"
		done
	done <<<"$env"
}

# Sets mod to the module name of a .ko path (kvm-amd.ko.xz -> kvm_amd);
# no subshell, as it runs for every line of modules.dep.
modname() {
	mod=${1##*/}
	mod=${mod%%.ko*}
	mod=${mod//-/_}
}

lib_visit_module() {
	local name=$1 d
	[ -z "${lib_seen[$name]:-}" ] || return 0
	lib_seen[$name]=1
	if [ -z "${lib_dep_path[$name]:-}" ]; then
		[ -n "${lib_builtin[$name]:-}" ] ||
			die "module $name is neither in $lib_moddir/modules.dep nor built in"
		return 0
	fi
	for d in ${lib_dep_list[$name]}; do
		modname "$d"
		lib_visit_module "$mod"
	done
	module_order+=("${lib_dep_path[$name]}")
}

# Sets module_order to the paths (relative to MODDIR) of the modules and
# of everything they depend on, each after its dependencies, from
# modules.dep; built-in modules are left out.
resolve_modules() {	# moddir module...
	local line m
	declare -gA lib_dep_path=() lib_dep_list=() lib_builtin=() lib_seen=()
	lib_moddir=$1
	shift
	module_order=()
	while IFS= read -r line; do
		modname "${line%%:*}"
		lib_dep_path[$mod]=${line%%:*}
		lib_dep_list[$mod]=${line#*:}
	done <"$lib_moddir/modules.dep"
	while IFS= read -r line; do
		modname "$line"
		lib_builtin[$mod]=1
	done <"$lib_moddir/modules.builtin"
	for m in "$@"; do
		lib_visit_module "$m"
	done
}

# Copies module_order into an initramfs tree's lib/modules, decompressed
# (busybox insmod cannot read .ko.xz), with their load order in
# lib/modules/order.
stage_modules() {	# moddir stage-dir
	local m dst=$2/lib/modules
	mkdir -p "$dst"
	: >"$dst/order"
	for m in "${module_order[@]}"; do
		case $m in
		*.xz) xz -dc "$1/$m" >"$dst/$(basename "$m" .xz)" ;;
		*) cp "$1/$m" "$dst/" ;;
		esac
		basename "$m" .xz >>"$dst/order"
	done
}

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the debug kernel of make check-debug: Debian's 6.12 source (the
# same version as the 6.12 series of scripts/setup.sh) with KASAN, lockdep,
# DEBUG_ATOMIC_SLEEP, kmemleak, list and object debugging, configured with
# no more than the test VM uses.  Everything lives in .cache/debug-kernel/<version>/;
# a second run with the same version and this script unchanged builds
# nothing.  It then registers the kernel as the series "6.12-debug", so
# that tests/vm/run.sh --series 6.12-debug and scripts/build-module.sh
# 6.12-debug use it like any other series (setup.sh --env 6.12-debug).
#
#   scripts/build-debug-kernel.sh     build (if needed) and register
#
# The first build costs about 2600-2900 CPU seconds (some 25 minutes on
# two idle cores; 69 under nice 10 on the shared machine); make runs
# under nice, as other work shares the machine.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# Resolved: the series file must not name a worktree whose .cache is a link.
cache=$(realpath -m "${VHOST_MEM_CACHE:-$top/.cache}")
readonly BASE_SERIES=6.12 SERIES=6.12-debug LOCALVERSION=-vhostmem-debug
readonly BUILD_PACKAGES="bc flex bison libelf-dev libssl-dev dwarves gcc-12 make"
jobs=${VHOST_MEM_DEBUG_JOBS:-$(($(nproc) + 1))}

lib_name=debug-kernel
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
now() { date +%s; }
took() { log "$1 took $(($(now) - $2)) s"; }
# CPU seconds of the finished children of this script: wall time on a
# shared machine says little about how long the build takes elsewhere.
children_cpu() { awk '{ print int(($16 + $17) / 100) }' "/proc/$$/stat"; }

# VERSION and KVER of the stock 6.12 series: its version is the source we
# build.
load_base_env() {
	local key value
	"$top/scripts/setup.sh" "$BASE_SERIES" >&2 || die "setup.sh $BASE_SERIES failed"
	while IFS='=' read -r key value; do
		case $key in
		VERSION) version=$value ;;
		KVER) base_kver=$value ;;
		esac
	done < <("$top/scripts/setup.sh" --env "$BASE_SERIES")
	[ -n "${version:-}" ] || die "no VERSION for series $BASE_SERIES"
	dir=$cache/debug-kernel/${version//\~/_}
	src=$dir/src obj=$dir/obj root=$dir/root
}

# The whole tree, once; the .deb goes, the tree stays.
get_source() {
	local t0 deb p=linux-source-$BASE_SERIES
	[ -f "$src/Makefile" ] && return
	t0=$(now)
	log "downloading and extracting $p $version"
	rm -rf "$src.tmp" "$dir/debs"
	mkdir -p "$src.tmp" "$dir/debs"
	apt_download "$dir/debs" "$p=$version"
	deb=$(echo "$dir"/debs/"$p"_*.deb)
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$p.tar.xz" |
		tar -xJ -C "$src.tmp" --strip-components=1 || die "extracting $deb failed"
	mv "$src.tmp" "$src"
	rm -rf "$dir/debs"
	took "source download and extraction" "$t0"
}

kmake() {
	nice -n 10 make -C "$src" O="$obj" CC=gcc-12 HOSTCC=gcc-12 "$@"
}

# Options given as NAME=VALUE (y, n, or a quoted string).
set_options() {
	local o name value args=()
	for o in "$@"; do
		name=${o%%=*} value=${o#*=}
		case $value in
		y) args+=(--enable "$name") ;;
		n) args+=(--disable "$name") ;;
		\"*) value=${value#\"}; args+=(--set-str "$name" "${value%\"}") ;;
		*) args+=(--set-val "$name" "$value") ;;
		esac
	done
	"$src/scripts/config" --file "$obj/.config" "${args[@]}"
}

# The test VM's kernel from allnoconfig up: boot under QEMU (ACPI for
# power-off, PCI, virtio, 8250 console), the host's root over 9p, what
# guest.sh, the selftests (memfd, hugetlbfs, THP, memcg, io_uring, user,
# pid and net namespaces, generic netlink) and the e2e QEMU use, and KVM
# and vhost as modules like Debian's.  Debian's own config, even reduced with
# localmodconfig, builds some 1600 objects: at 9 a minute on the shared
# two cores under nice, three hours.
readonly VM_OPTIONS=(
	64BIT=y SMP=y NR_CPUS=8 HZ_250=y PREEMPT_VOLUNTARY=y NO_HZ_IDLE=y
	HIGH_RES_TIMERS=y CPU_SUP_AMD=y CPU_SUP_INTEL=y
	HYPERVISOR_GUEST=y PARAVIRT=y KVM_GUEST=y
	PCI=y PCI_MSI=y ACPI=y
	MULTIUSER=y SYSVIPC=y FHANDLE=y POSIX_TIMERS=y PRINTK=y PRINTK_TIME=y BUG=y
	FUTEX=y EPOLL=y SIGNALFD=y TIMERFD=y EVENTFD=y SHMEM=y AIO=y IO_URING=y
	ADVISE_SYSCALLS=y MEMBARRIER=y FILE_LOCKING=y INOTIFY_USER=y
	USERFAULTFD=y CROSS_MEMORY_ATTACH=y SECCOMP=y KALLSYMS=y MAGIC_SYSRQ=y
	CGROUPS=y MEMCG=y NAMESPACES=y NET_NS=y USER_NS=y PID_NS=y
	TRANSPARENT_HUGEPAGE=y COMPACTION=y MIGRATION=y
	BLK_DEV_INITRD=y DEVTMPFS=y PROC_FS=y PROC_SYSCTL=y SYSFS=y TMPFS=y
	HUGETLBFS=y HUGETLB_PAGE=y DEBUG_FS=y BINFMT_ELF=y BINFMT_SCRIPT=y
	TTY=y UNIX98_PTYS=y SERIAL_8250=y SERIAL_8250_CONSOLE=y
	NET=y UNIX=y INET=y
	VIRTIO_MENU=y VIRTIO_PCI=y
	NET_9P=m NET_9P_VIRTIO=m NETWORK_FILESYSTEMS=y 9P_FS=m
	MODULES=y MODULE_UNLOAD=y MODVERSIONS=y
	VIRTUALIZATION=y KVM=m KVM_AMD=m KVM_SMM=y
	VHOST_MENU=y VHOST=m VSOCKETS=m VHOST_VSOCK=m
	DEBUG_KERNEL=y
)

# The checkers, and what would get in their way.
readonly DEBUG_OPTIONS=(
	LOCALVERSION="\"$LOCALVERSION\"" LOCALVERSION_AUTO=n
	KASAN=y KASAN_GENERIC=y KASAN_INLINE=y KASAN_VMALLOC=y
	PROVE_LOCKING=y DEBUG_ATOMIC_SLEEP=y
	DEBUG_KMEMLEAK=y DEBUG_KMEMLEAK_DEFAULT_OFF=n DEBUG_KMEMLEAK_AUTO_SCAN=n
	DEBUG_KMEMLEAK_MEM_POOL_SIZE=16000
	DEBUG_LIST=y DEBUG_VM=y
	DEBUG_OBJECTS=y DEBUG_OBJECTS_FREE=y DEBUG_OBJECTS_TIMERS=y
	DEBUG_OBJECTS_WORK=y DEBUG_OBJECTS_RCU_HEAD=y
	DEBUG_INFO_NONE=y KFENCE=n WERROR=n
)

# An allnoconfig fragment ("CONFIG_X=y") of VM_OPTIONS and DEBUG_OPTIONS.
write_fragment() {
	local o
	for o in "${VM_OPTIONS[@]}" "${DEBUG_OPTIONS[@]}"; do
		case ${o#*=} in
		n) echo "# CONFIG_${o%%=*} is not set" ;;
		*) echo "CONFIG_$o" ;;
		esac
	done
}

configure() {
	local t0 frag=$dir/config-fragment
	t0=$(now)
	log "configuring (allnoconfig, what the test VM needs, the checkers)"
	mkdir -p "$obj"
	write_fragment >"$frag"
	kmake -s KCONFIG_ALLCONFIG="$frag" allnoconfig >"$dir/config.log" 2>&1 ||
		{ cat "$dir/config.log" >&2; die "allnoconfig failed"; }
	check_config
	log "$(grep -c '=y$' "$obj/.config") options built in, $(grep -c '=m$' "$obj/.config") modules"
	took "configuration" "$t0"
}

# Every option asked for must have taken (a missing dependency drops one
# silently).
check_config() {
	local o bad=
	for o in "${VM_OPTIONS[@]}" "${DEBUG_OPTIONS[@]}"; do
		case ${o#*=} in
		n) ! grep -q "^CONFIG_${o%%=*}=" "$obj/.config" || { log "CONFIG_${o%%=*} is set"; bad=1; } ;;
		*) grep -qxF "CONFIG_$o" "$obj/.config" || { log "CONFIG_$o did not take"; bad=1; } ;;
		esac
	done
	[ -z "$bad" ] || die "the debug config lacks what it was asked for"
}

build() {
	local t0 cpu0
	t0=$(now) cpu0=$(children_cpu)
	log "building with $jobs jobs, nice 10 (log: $dir/build.log)"
	kmake -j"$jobs" bzImage modules >"$dir/build.log" 2>&1 ||
		{ tail -n 60 "$dir/build.log" >&2; die "kernel build failed"; }
	took "kernel build ($(($(children_cpu) - cpu0)) CPU seconds)" "$t0"
}

install_kernel() {
	kver=$(kmake -s kernelrelease)
	[ "$kver" != "$base_kver" ] || die "debug kernel release equals $base_kver"
	rm -rf "$root"
	mkdir -p "$root/boot"
	kmake -s INSTALL_MOD_PATH="$root" INSTALL_MOD_STRIP=1 modules_install \
		>"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "modules_install failed"; }
	cp "$obj/arch/x86/boot/bzImage" "$root/boot/vmlinuz-$kver"
	cp "$obj/.config" "$root/boot/config-$kver"
	depmod -b "$root" "$kver"
}

# Same keys as setup.sh's series files; KDIR is the build tree itself.
register() {
	local d=$cache/kernel/$SERIES
	mkdir -p "$d"
	cat >"$d/$kver.env.tmp" <<EOT
SERIES=$SERIES
VERSION=$version
KVER=$kver
KROOT=$root
KDIR=$obj
VMLINUZ=$root/boot/vmlinuz-$kver
KSRC=$src
EOT
	mv "$d/$kver.env.tmp" "$d/$kver.env"
	ln -sfn "$kver.env" "$d/env"
}

# The build is current while the version and what this script asks of
# the config are unchanged.
build_key() {
	{
		echo "$version"
		printf '%s\n' "${VM_OPTIONS[@]}" "${DEBUG_OPTIONS[@]}"
	} | sha256sum | cut -c1-16
}

main() {
	local key stamp
	# shellcheck disable=SC2086 # a list of names
	apt_install $BUILD_PACKAGES
	load_base_env
	key=$(build_key)
	stamp=$dir/built-$key
	if [ -f "$stamp" ] && [ -f "$cache/kernel/$SERIES/env" ]; then
		kver=$(cat "$stamp")
		log "$kver is current"
		register
		return
	fi
	get_source
	configure
	build
	install_kernel
	rm -f "$dir"/built-*
	echo "$kver" >"$stamp"
	register
	log "$kver ready: tests/vm/run.sh --series $SERIES"
}

main "$@"

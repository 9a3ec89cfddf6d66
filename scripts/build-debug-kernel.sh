#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the debug kernel of make check-debug: Debian's 6.12 source (the
# same version as the 6.12 series of scripts/setup.sh) with KASAN, lockdep,
# DEBUG_ATOMIC_SLEEP, kmemleak, list and object debugging, reduced to what
# the test VM loads.  Everything lives in .cache/debug-kernel/<version>/;
# a second run with the same version and this script unchanged builds
# nothing.  It then registers the kernel as the series "6.12-debug", so
# that tests/vm/run.sh --series 6.12-debug and scripts/build-module.sh
# 6.12-debug use it like any other series (setup.sh --env 6.12-debug).
#
#   scripts/build-debug-kernel.sh     build (if needed) and register
#
# Takes 20 to 40 minutes on two cores the first time; runs make under
# nice, as other work shares the machine.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VHOST_MEM_CACHE:-$top/.cache}
readonly BASE_SERIES=6.12 SERIES=6.12-debug LOCALVERSION=-vhostmem-debug
readonly BUILD_PACKAGES="bc flex bison libelf-dev libssl-dev dwarves gcc-12 make"
# What the test VM loads (tests/vm/run.sh, guest.sh, the selftests and the
# e2e scenario): localmodconfig keeps these modules and drops every other.
readonly VM_MODULES="9p 9pnet 9pnet_virtio netfs virtio_pci virtio_pci_legacy_dev
	virtio_pci_modern_dev kvm kvm_amd irqbypass vhost vhost_iotlb
	vhost_vsock vmw_vsock_virtio_transport_common vsock"
jobs=${VHOST_MEM_DEBUG_JOBS:-$(($(nproc) + 1))}

log() { printf 'debug-kernel: %s\n' "$*" >&2; }
die() { printf 'debug-kernel: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
took() { log "$1 took $(($(now) - $2)) s"; }

install_build_packages() {
	local missing=() p
	for p in $BUILD_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
	log "installing ${missing[*]}"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-o DPkg::Lock::Timeout=600 --no-install-recommends \
		"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# VERSION, KVER, KROOT ... of the stock 6.12 series: its version is the
# source we build, its config the one we start from.
load_base_env() {
	local key value
	"$top/scripts/setup.sh" "$BASE_SERIES" >&2 || die "setup.sh $BASE_SERIES failed"
	while IFS='=' read -r key value; do
		case $key in
		VERSION) version=$value ;;
		KVER) base_kver=$value ;;
		KROOT) base_root=$value ;;
		esac
	done < <("$top/scripts/setup.sh" --env "$BASE_SERIES")
	[ -n "${version:-}" ] || die "no VERSION for series $BASE_SERIES"
	base_config=$base_root/boot/config-$base_kver
	[ -f "$base_config" ] || die "no $base_config"
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
	(cd "$dir/debs" && apt-get download -qq -o APT::Sandbox::User=root "$p=$version" \
		>/dev/null) || die "apt-get download $p=$version failed"
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

# The checkers, and what they need or what gets in their way.
readonly DEBUG_OPTIONS=(
	LOCALVERSION="\"$LOCALVERSION\"" LOCALVERSION_AUTO=n
	KASAN=y KASAN_GENERIC=y KASAN_INLINE=y KASAN_OUTLINE=n KASAN_VMALLOC=y
	KFENCE=n
	PROVE_LOCKING=y DEBUG_ATOMIC_SLEEP=y
	DEBUG_KMEMLEAK=y DEBUG_KMEMLEAK_DEFAULT_OFF=n DEBUG_KMEMLEAK_AUTO_SCAN=n
	DEBUG_KMEMLEAK_MEM_POOL_SIZE=16000
	DEBUG_LIST=y DEBUG_VM=y
	DEBUG_OBJECTS=y DEBUG_OBJECTS_FREE=y DEBUG_OBJECTS_TIMERS=y
	DEBUG_OBJECTS_WORK=y DEBUG_OBJECTS_RCU_HEAD=y
	MODVERSIONS=y
	DEBUG_INFO_NONE=y DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=n DEBUG_INFO_DWARF5=n
	DEBUG_INFO_DWARF4=n DEBUG_INFO_BTF=n
	MODULE_SIG=n MODULE_COMPRESS=n MODULE_COMPRESS_XZ=n
	SYSTEM_TRUSTED_KEYS='""' SYSTEM_REVOCATION_KEYS='""'
	WERROR=n
)

# Built-in parts of Debian's config that the test VM never uses: every
# object less counts, KASAN and lockdep make each one slower to build.
readonly TRIM_OPTIONS=(
	XEN=n HYPERV=n JAILHOUSE_GUEST=n ACRN_GUEST=n INTEL_TDX_GUEST=n
	AMD_MEM_ENCRYPT=n KVM_XEN=n KVM_HYPERV=n KVM_AMD_SEV=n CRYPTO_DEV_CCP=n
	X86_SGX=n X86_MCE=n IA32_EMULATION=n X86_X32_ABI=n EFI=n
	KEXEC=n KEXEC_FILE=n CRASH_DUMP=n LIVEPATCH=n HIBERNATION=n SUSPEND=n
	CPU_FREQ=n EDAC=n IOMMU_SUPPORT=n PCCARD=n
	AUDIT=n KPROBES=n FTRACE=n FUNCTION_TRACER=n BLK_DEV_IO_TRACE=n
	SECURITY=n KEYS=n IMA=n EVM=n CRYPTO_FIPS=n
	BPF_SYSCALL=n BPF_JIT=n NETFILTER=n IPV6=n NET_SCHED=n XDP_SOCKETS=n
	IP_ADVANCED_ROUTER=n IP_MROUTE=n IP_MULTICAST=n IP_PNP=n NET_SWITCHDEV=n
	NETLABEL=n DCB=n MPTCP=n TLS=n XFRM_USER=n NET_KEY=n INET_DIAG=n
	BRIDGE=n VLAN_8021Q=n ATM=n CAN=n BT=n NFC=n WIRELESS=n RFKILL=n
	ETHERNET=n WLAN=n
	MD=n BLK_DEV_INTEGRITY=n BLK_DEV_ZONED=n BLK_DEV_THROTTLING=n
	ATA=n SCSI=n QUOTA=n DAMON=n
	DRM=n FB=n VT=n AGP=n SOUND=n MEDIA_SUPPORT=n USB_SUPPORT=n INPUT=n HID=n
	I2C=n SPI=n PPS=n PTP_1588_CLOCK=n HWMON=n ACPI_THERMAL=n THERMAL=n
	WATCHDOG=n REGULATOR=n
	FUSE_FS=n ZSWAP=n TASKSTATS=n PSI=n PROFILING=n PM_DEBUG=n ENERGY_MODEL=n
	ACPI_APEI=n ACPI_HMAT=n ACPI_DOCK=n ACPI_TABLE_UPGRADE=n ACPI_PCI_SLOT=n
	ACPI_EC_DEBUGFS=n ACPI_HOTPLUG_MEMORY=n HOTPLUG_PCI=n PCIEPORTBUS=n
	PCI_IOV=n PCI_PRI=n PCI_PASID=n TCG_TPM=n SERIAL_8250_DW=n
	SERIAL_8250_MID=n SERIAL_8250_EXTENDED=n SERIAL_DEV_BUS=n
	SERIAL_NONSTANDARD=n GPIOLIB=n POWER_SUPPLY=n NEW_LEDS=n ACCESSIBILITY=n
	DMADEVICES=n STAGING=n X86_PLATFORM_DEVICES=n MAILBOX=n PM_DEVFREQ=n
	NVMEM=n
)

configure() {
	local t0 lsmod=$dir/vm-modules
	t0=$(now)
	log "configuring (Debian's config, reduced, with the checkers)"
	mkdir -p "$obj"
	cp "$base_config" "$obj/.config"
	set_options "${DEBUG_OPTIONS[@]}"
	kmake -s olddefconfig >/dev/null
	# shellcheck disable=SC2086 # one name a line
	printf '%s\n' $VM_MODULES >"$lsmod"
	kmake -s LSMOD="$lsmod" localmodconfig >"$dir/localmodconfig.log" 2>&1 ||
		{ cat "$dir/localmodconfig.log" >&2; die "localmodconfig failed"; }
	# localmodconfig may have turned some back to Debian's values.
	set_options "${DEBUG_OPTIONS[@]}" "${TRIM_OPTIONS[@]}"
	kmake -s olddefconfig >/dev/null
	check_config
	log "$(grep -c '=y$' "$obj/.config") options built in, $(grep -c '=m$' "$obj/.config") modules"
	took "configuration" "$t0"
}

# What make check-debug promises must really be in the config.
check_config() {
	local o
	for o in KASAN KASAN_GENERIC PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK \
		DEBUG_LIST MODVERSIONS; do
		grep -q "^CONFIG_$o=y" "$obj/.config" || die "CONFIG_$o is not set in the debug config"
	done
	for o in VHOST KVM KVM_AMD NET_9P_VIRTIO 9P_FS; do
		grep -Eq "^CONFIG_$o=[ym]" "$obj/.config" || die "CONFIG_$o is missing from the debug config"
	done
}

build() {
	local t0
	t0=$(now)
	log "building with $jobs jobs, nice 10 (log: $dir/build.log)"
	kmake -j"$jobs" bzImage modules >"$dir/build.log" 2>&1 ||
		{ tail -n 60 "$dir/build.log" >&2; die "kernel build failed"; }
	took "kernel build" "$t0"
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

# The build is current while the version, Debian's config and what this
# script asks of the config are unchanged.
build_key() {
	{
		echo "$version"
		printf '%s\n' "${DEBUG_OPTIONS[@]}" "${TRIM_OPTIONS[@]}" "$VM_MODULES"
		cat "$base_config"
	} | sha256sum | cut -c1-16
}

main() {
	local key stamp
	install_build_packages
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

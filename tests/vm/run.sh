#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs a command inside a QEMU (TCG) virtual machine booting one of the
# project's Debian kernels, with the host's root shared read-only, so that
# host-built programs can load and exercise kernel modules.  See README.md.
#
#   tests/vm/run.sh [--series 6.1|6.12|7.3|6.12-debug] [--timeout SECONDS]
#                   [--mem SIZE] [--cpus N] [--retries N [--hung-status S]]
#                   [--keep] [--verbose] -- COMMAND [ARGS...]
#
# 6.12-debug is the KASAN/lockdep/kmemleak kernel that
# scripts/build-debug-kernel.sh builds; on a kernel with kmemleak, COMMAND
# runs under kmemleak.sh, which logs what it leaked as a kernel problem.
#
# --retries N boots the VM again, up to N more times, when an attempt hung
# (status 124) or COMMAND exited with status S, which it uses to say that
# what it drives hung (TCG's nested-SVM hang, tests/e2e/README.md); each
# attempt's output is then held until it ends, and a hung one's is printed
# as "# hung attempt: " lines.
#
# Exit status: COMMAND's own (the last attempt's), or
#   2    usage error
#   123  COMMAND succeeded but the kernel logged an oops/BUG/WARNING/panic
#   124  the time limit (--timeout, default 600 s) expired, or the guest
#        hung: nothing on its console and no heartbeat for
#        VHOST_MEM_VM_SILENCE seconds (default 90)
#   125  the VM could not be set up, or the guest died without a result
set -euo pipefail

readonly EX_USAGE=2 EX_KERNEL=123 EX_TIMEOUT=124 EX_VM=125

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
readonly here top

# What stage 1 needs to mount the host's root; dependencies and built-ins
# are resolved per kernel from modules.dep and modules.builtin.
readonly BOOT_MODULES="virtio_pci 9pnet_virtio 9p"
# The host tree does not change under a test, so let the guest cache it:
# it makes starting python3 and friends several times faster.
readonly NINEP_CACHE=loose
# Lines of the kernel log that fail a run (a warning must not go unnoticed).
# The debug kernel's checkers mostly print under BUG: or WARNING: as well;
# their own headlines are listed so that none depends on that.
readonly KERNEL_PROBLEMS='Oops|Kernel panic|kernel BUG at|BUG:|WARNING:|general protection fault|UBSAN:|Unable to handle kernel|INFO: task .* blocked for more than|rcu: INFO: .*stall|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|list_(add|del) corruption|refcount_t: |ODEBUG: |kmemleak-report: '

series=6.1	# --series; the kernel's own variables come from setup.sh --env
SERIES='' KVER='' KROOT='' VMLINUZ=''
kmemleak=	# set when the kernel has kmemleak: COMMAND runs under kmemleak.sh
timeout=600
# TCG's nested SVM now and then stops the guest for good (its vCPU halted,
# no timer firing: tests/e2e/README.md).  The guest writes a heartbeat
# every 5 s; a guest silent this long has hung, long before --timeout.
silence=${VHOST_MEM_VM_SILENCE:-90}
mem=4G
cpus=1
retries=0
hung_status=
# The QEMU that runs the test VM (a command: it may be a wrapper that adds
# its own -L firmware directories).
vm_qemu=${VHOST_MEM_VM_QEMU:-qemu-system-x86_64}
keep=
verbose=
run=
build_dir=
vm_pid=
relay_pid=
watchdog_pid=
held=		# --retries: the attempt's output, until it ends
result=		# run.sh's exit status

lib_name=vm lib_die_status=$EX_VM
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

usage() {
	cat >&2 <<'EOT'
usage: tests/vm/run.sh [--series 6.1|6.12|7.3|6.12-debug] [--timeout SECONDS]
                       [--mem SIZE] [--cpus N] [--retries N [--hung-status S]]
                       [--keep] [--verbose] -- COMMAND [ARGS...]
EOT
	exit "$EX_USAGE"
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--series|--timeout|--mem|--cpus|--retries|--hung-status)
			[ $# -ge 2 ] || { log "$1 needs a value"; usage; } ;;
		esac
		case $1 in
		--series) series=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--mem) mem=$2; shift ;;
		--cpus) cpus=$2; shift ;;
		--retries) retries=$2; shift ;;
		--hung-status) hung_status=$2; shift ;;
		--keep) keep=1 ;;
		--verbose|-v) verbose=1 ;;
		--) shift; break ;;
		-h|--help) usage ;;
		*) log "unknown option '$1'"; usage ;;
		esac
		shift
	done
	[ $# -gt 0 ] || { log "no COMMAND given"; usage; }
	[[ $timeout =~ ^[1-9][0-9]*$ ]] || { log "--timeout needs whole seconds"; usage; }
	[[ $cpus =~ ^[1-9][0-9]?$ ]] || { log "--cpus needs a number of CPUs"; usage; }
	[[ $retries =~ ^[0-9]$ ]] || { log "--retries needs a number from 0 to 9"; usage; }
	{ [[ $hung_status =~ ^([1-9][0-9]{0,2})?$ ]] && [ "${hung_status:-0}" -lt 256 ]; } ||
		{ log "--hung-status needs an exit status"; usage; }
	argv=("$@")
}

# SERIES, VERSION, KVER, KROOT, KDIR, VMLINUZ, KSRC from the set-up cache,
# read as data rather than eval'ed.
load_kernel_env() {
	load_series_env "$series" SERIES KVER KROOT VMLINUZ ||
		die "kernel series $series is not available (run scripts/setup.sh $series)"
	[ -f "${VMLINUZ:-}" ] || die "no kernel image $VMLINUZ (run scripts/setup.sh $series)"
	moddir=$KROOT/lib/modules/$KVER
	[ -f "$moddir/modules.dep" ] || die "no $moddir/modules.dep (run scripts/setup.sh $series)"
	! grep -qx 'CONFIG_DEBUG_KMEMLEAK=y' "$KROOT/boot/config-$KVER" 2>/dev/null ||
		kmemleak=1
}

# Where the guest's modprobe finds the kernel's modules and ours: this
# tree's build (scripts/build-module.sh), or the kernel's alone.
modroot() {
	local root=$top/build/$KVER/modroot
	if [ -f "$root/lib/modules/$KVER/modules.dep" ]; then
		echo "$root"
	else
		echo "$KROOT"
	fi
}

# Everything the initramfs depends on; a change of any of them rebuilds it.
# The kernel image stands for its modules: modules.dep itself changes with
# every depmod that stages vhost_mem.ko, which does not concern 9p.
initramfs_key() {
	{
		printf '%s\n' "$KVER" "$KROOT" "$SERIES" "$BOOT_MODULES" "$NINEP_CACHE" "$here" "$(modroot)"
		stat -Lc '%n %s %Y' /bin/busybox "$VMLINUZ"
		cat "$here/init.sh"
	} | sha256sum | cut -c1-16
}

# .cache/vm/<KVER>/initramfs-<key>.cpio: busybox, the 9p modules
# (decompressed, since busybox insmod cannot read .ko.xz) with their load
# order, /etc/vm.env and init.sh.  Built aside and renamed into place, so
# runners started in parallel never see half a file.
build_initramfs() {
	local dir=$top/.cache/vm/$KVER key stage
	key=$(initramfs_key)
	initrd=$dir/initramfs-$key.cpio
	[ -f "$initrd" ] && return 0
	log "building the initramfs for $KVER"
	mkdir -p "$dir"
	build_dir=$(mktemp -d "$dir/build.XXXXXX")
	stage=$build_dir
	mkdir -p "$stage"/{bin,etc,lib/modules,proc,sys,dev,host}
	cp /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$here/init.sh" "$stage/init"
	# shellcheck disable=SC2086 # a list of names
	resolve_modules "$moddir" $BOOT_MODULES
	stage_modules "$moddir" "$stage"
	{
		printf 'VM_MODROOT=%q\n' "$(modroot)"
		printf 'VM_KVER=%q\n' "$KVER"
		printf 'VM_SERIES=%q\n' "$SERIES"
		printf 'VM_GUEST=%q\n' "$here/guest.sh"
		printf 'VM_9P_CACHE=%q\n' "$NINEP_CACHE"
	} >"$stage/etc/vm.env"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$stage.cpio"
	mv -f "$stage.cpio" "$initrd"
	rm -rf "$stage"
	build_dir=
	# Stale builds for this kernel: not those of the last hour, which
	# another checkout sharing the cache may be about to boot.
	find "$dir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${initrd##*/}" \
		-mmin +60 -delete
}

# The job for guest.sh: where and what to run, and the environment to pass.
# The host's environment is not copied wholesale (it names host paths the
# guest may not have); VHOST_MEM_* variables are, so tests can be tuned.
write_job() {
	local v
	{
		printf 'VM_CWD=%q\n' "$PWD"
		printf 'VM_ARGV=('
		[ -z "$kmemleak" ] || printf ' %q' "$here/kmemleak.sh"
		printf ' %q' "${argv[@]}"
		printf ' )\n'
		printf 'export PATH=%q\n' "$PATH"
		for v in LANG LC_ALL TZ; do
			[ -z "${!v:-}" ] || printf 'export %s=%q\n' "$v" "${!v}"
		done
		printf 'export PYTHONDONTWRITEBYTECODE=1\n'
		for v in $(compgen -v VHOST_MEM_); do
			case $v in
			VHOST_MEM_MODROOT|VHOST_MEM_KVER|VHOST_MEM_SERIES) ;;
			*) printf 'export %s=%q\n' "$v" "${!v}" ;;
			esac
		done
	} >"$run/job"
	# Directories the guest must see even where it mounts fresh tmpfs
	# (a clone under /tmp, as a CI may make): one raw path per line.
	printf '%s\n' "$top" "$PWD" >"$run/keep"
}

make_run_dir() {
	run=$(mktemp -d "${TMPDIR:-/tmp}/vhost-mem-vm.XXXXXX")
	# The path goes on the kernel command line and into QEMU options.
	[[ $run =~ ^[A-Za-z0-9_./+-]+$ ]] || die "unusable temporary directory '$run' (set TMPDIR)"
	: >"$run/output"
	: >"$run/console.log"
	: >"$run/heartbeat"
}

start_vm() {
	local cmdline accel=tcg
	# Multi-threaded TCG runs several CPUs at once, and then Linux's code
	# patching (an int3 first, the new bytes after) now and then meets a
	# CPU that still runs the old translation: "Oops: int3" in __schedule,
	# seen in a 6.12 boot and a 6.1 selftest run.  One TCG thread running
	# the CPUs in turn keeps that apart; the guest still has two CPUs.
	[ "$cpus" = 1 ] || accel=tcg,thread=single
	mark=vhost-mem-vm-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	cmdline="console=ttyS0 panic=-1 vmrun=$run vmmark=$mark"
	t_start=$EPOCHREALTIME
	# timeout(1) bounds the whole run and passes a TERM on to QEMU; setpriv
	# sends it that TERM should this script die without running its traps
	# (SIGKILL), so that no QEMU outlives its runner.
	setpriv --pdeathsig TERM timeout -k 10 "$timeout" "$vm_qemu" \
		-accel "$accel" -cpu max,phys-bits=46 -smp "$cpus" -m "$mem" \
		-nodefaults -no-reboot -display none \
		-kernel "$VMLINUZ" -initrd "$initrd" -append "$cmdline" \
		-serial "file:$run/console.log" -serial "file:$run/output" \
		-serial "file:$run/heartbeat" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		</dev/null >"$run/qemu.log" 2>&1 &
	vm_pid=$!
	# tail exits once timeout (hence QEMU) is gone, after a last read.
	tail -c +1 -s 0.1 -f --pid="$vm_pid" "$run/output" | relay_output &
	relay_pid=$!
	watchdog &
	watchdog_pid=$!
}

# Ends the VM (as timeout(1) would) once console, output and heartbeat
# have all stood still for $silence seconds.
watchdog() {
	local size last=-1 since=$SECONDS
	while kill -0 "$vm_pid" 2>/dev/null; do
		size=$(stat -c %s "$run/console.log" "$run/output" "$run/heartbeat" 2>/dev/null | tr '\n' ' ')
		if [ "$size" != "$last" ]; then
			last=$size since=$SECONDS
		elif [ $((SECONDS - since)) -ge "$silence" ]; then
			echo "$silence" >"$run/hung"
			kill -TERM "$vm_pid" 2>/dev/null
			return
		fi
		sleep 5
	done
}

# Copies COMMAND's output to stdout and takes the protocol lines out of it:
# "<mark> start" (guest.sh is about to exec COMMAND) and "<mark> exit N".
# A mark can follow output that lacked its final newline.
relay_output() {
	local line
	# A reader that went away (run.sh | head) must not cost the status.
	trap '' PIPE
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//$'\r'/}
		case $line in
		*"$mark start")
			line=${line%"$mark start"}
			echo "$EPOCHREALTIME" >"$run/started" ;;
		*"$mark exit "*)
			echo "${line##*"$mark exit "}" >"$run/status"
			line=${line%"$mark exit "*} ;;
		*)
			printf '%s\n' "$line" 2>/dev/null || true
			continue ;;
		esac
		[ -z "$line" ] || printf '%s\n' "$line" 2>/dev/null || true
	done
}

wait_vm() {
	vm_rc=0
	wait "$vm_pid" || vm_rc=$?
	vm_pid=
	wait "$relay_pid" || true
	relay_pid=
	kill "$watchdog_pid" 2>/dev/null || true
	wait "$watchdog_pid" 2>/dev/null || true
	watchdog_pid=
	t_end=$EPOCHREALTIME
}

# The kernel log from the moment stage 2 began (module loads included).
kernel_log_of_run() {
	sed -n '/vhost-mem-vm: begin/,$p' "$run/console.log" | tr -d '\r'
}

# Each problem line of the whole kernel log (boot included: both kernels
# boot without any) with what the kernel printed around it, at most 200 lines.
kernel_problems() {
	tr -d '\r' <"$run/console.log" | grep -E -B3 -A40 "$KERNEL_PROBLEMS" | head -n 200
}

# Why the guest ended badly: the kernel's complaints if it made any, else the
# end of its log (unless --verbose printed all of it already).
show_kernel_log() {
	local problems
	problems=$(kernel_problems)
	if [ -n "$problems" ]; then
		log "the kernel reported problems ($1):"
		printf '%s\n' "$problems" >&2
	elif [ -z "$verbose" ]; then
		log "last lines of the kernel log ($1):"
		tr -d '\r' <"$run/console.log" | tail -n 80 >&2
	fi
}

show_timing() {
	local boot=- cmd=-
	if [ -f "$run/started" ]; then
		boot=$(elapsed "$t_start" "$(cat "$run/started")")
		cmd=$(elapsed "$(cat "$run/started")" "$t_end")
	fi
	log "timing: boot to command ${boot} s, command and power-off ${cmd} s, total $(elapsed "$t_start" "$t_end") s"
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Turns what the guest left behind into run.sh's exit status.
verdict() {
	local status
	if [ -n "$verbose" ]; then
		log "kernel log:"
		tr -d '\r' <"$run/console.log" >&2
		show_timing
	fi
	if [ -f "$run/hung" ]; then
		show_kernel_log "hung"
		log "guest hung: no console output and no heartbeat for $silence s"
		return "$EX_TIMEOUT"
	fi
	if [ "$vm_rc" = 124 ]; then
		show_kernel_log "timed out"
		log "guest timed out after $timeout s"
		return "$EX_TIMEOUT"
	fi
	status=$(cat "$run/status" 2>/dev/null) || true
	if ! [[ $status =~ ^[0-9]+$ ]]; then
		[ ! -s "$run/qemu.log" ] || { log "QEMU said:"; cat "$run/qemu.log" >&2; }
		show_kernel_log "no result"
		log "guest exited without a result (QEMU status $vm_rc)"
		return "$EX_VM"
	fi
	if [ ! -f "$run/started" ]; then
		show_kernel_log "set-up failed"
		log "guest set-up failed before COMMAND started (status $status)"
		return "$EX_VM"
	fi
	if [ -n "$(kernel_problems)" ]; then
		show_kernel_log "COMMAND exited with status $status"
		log "failing the run: the kernel logged an oops/BUG/WARNING"
		[ "$status" != 0 ] || status=$EX_KERNEL
		return "$status"
	fi
	if [ "$status" != 0 ] && [ -z "$verbose" ]; then
		log "COMMAND exited with status $status; kernel log since set-up:"
		kernel_log_of_run | tail -n 80 >&2
	fi
	return "$status"
}

# stop_vm, cleanup and on_signal run from traps.
# shellcheck disable=SC2317
stop_vm() {
	if [ -n "$vm_pid" ]; then
		kill -TERM "$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
	fi
	if [ -n "$relay_pid" ]; then
		wait "$relay_pid" 2>/dev/null || true
	fi
	[ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
}

# shellcheck disable=SC2317
cleanup() {
	stop_vm
	[ -z "$build_dir" ] || rm -rf "$build_dir" "$build_dir.cpio"
	[ -z "$held" ] || rm -rf "$held"
	drop_run_dir
}

drop_run_dir() {
	[ -n "$run" ] || return 0
	if [ -n "$keep" ]; then
		log "kept $run (console.log, output, qemu.log, job)"
	else
		rm -rf "$run"
	fi
	run=
}

# shellcheck disable=SC2317
on_signal() {	# name exit-status
	log "interrupted by SIG$1, stopping the guest"
	trap - INT TERM HUP
	cleanup
	trap - EXIT
	exit "$2"
}

# One boot of the VM running COMMAND, up to the guest's end.
boot_once() {
	make_run_dir
	write_job
	start_vm
	wait_vm
}

# The attempt hung (the watchdog or the time limit ended it), or COMMAND
# said that what it drives did.
hung() {	# status
	[ "$1" = "$EX_TIMEOUT" ] || { [ -n "$hung_status" ] && [ "$1" = "$hung_status" ]; }
}

# Attempts with their output held, so that a hung one's output can be
# told apart from the rest: as "# hung attempt: " lines, the comments of
# TAP.  COMMAND's output then goes to stdout, run.sh's to stderr, as when
# it streams.  Not called where a failure is handled (cmd || ...): that
# would turn errexit off in the boots.
run_retrying() {
	local try
	held=$(mktemp -d "${TMPDIR:-/tmp}/vhost-mem-vm-held.XXXXXX")
	for ((try = 1; ; try++)); do
		boot_once >"$held/out" 2>"$held/err"
		result=0
		verdict >>"$held/out" 2>>"$held/err" || result=$?
		{ [ "$try" -le "$retries" ] && hung "$result"; } || break
		sed 's/^/# hung attempt: /' "$held/out" "$held/err"
		echo "# vm: attempt $try of $((retries + 1)) hung (status $result); once more"
		drop_run_dir
	done
	cat "$held/out"
	cat "$held/err" >&2
}

main() {
	parse_args "$@"
	trap cleanup EXIT
	trap 'on_signal INT 130' INT
	trap 'on_signal TERM 143' TERM
	trap 'on_signal HUP 129' HUP
	load_kernel_env
	build_initramfs
	result=0
	if [ "$retries" -gt 0 ]; then
		run_retrying
	else
		boot_once
		verdict || result=$?
	fi
	exit "$result"
}

main "$@"

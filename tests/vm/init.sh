#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
#
# /init of the test VM's initramfs (stage 1, busybox, PID 1).  run.sh builds
# the initramfs around it; see README.md.
#
# It loads the modules needed for 9p, mounts the host's root at /host, makes
# that tree usable as a root (proc, sys, dev, tmpfs ...), then runs guest.sh
# (stage 2) chrooted into /host with its output on ttyS1, the port run.sh
# relays.  Whatever happens, it ends by writing "<mark> exit <status>" to
# ttyS1 and powering off: the host reads the status from that line, and a
# guest that never writes it has died.

/bin/busybox --install -s /bin
export PATH=/bin

out=/dev/ttyS1		# COMMAND's output; ttyS0 is the kernel console
mark=
run=

say() {			# to the output port and the kernel log
	echo "vm: $*" >"$out"
	echo "vm: $*" >/dev/kmsg
}

# tcsetattr(TCSADRAIN) returns only once the UART has sent everything:
# without it, output still queued in the tty would be lost at power-off.
drain() {
	stty -F "$out" raw -echo 2>/dev/null
}

finish() {
	echo "vhost-mem-vm: end status=$1" >/dev/kmsg
	# Leftovers of COMMAND (daemons) must not write after the status line.
	kill -9 -1 2>/dev/null
	drain
	echo "$mark exit $1" >"$out"
	drain
	poweroff -f
	echo o >/proc/sysrq-trigger	# poweroff -f does not return; if it does ...
	sleep 3600
}

fail() {
	say "$*"
	finish 125
}

# run.sh's watchdog takes a guest silent on every port for a hung one: this
# speaks up on ttyS2 while COMMAND runs quietly.  finish() ends it.
heartbeat() {
	while :; do
		echo . >/dev/ttyS2
		sleep 5
	done
}

mount_basics() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
}

parse_cmdline() {
	read -r cmdline </proc/cmdline
	for arg in $cmdline; do
		case $arg in
		vmmark=*) mark=${arg#vmmark=} ;;
		vmrun=*) run=${arg#vmrun=} ;;
		esac
	done
}

load_modules() {
	while read -r m; do
		insmod "/lib/modules/$m" || fail "insmod $m failed"
	done </lib/modules/order
}

# The probe of the 9p virtio channel normally completes inside insmod; the
# retry only covers an asynchronous probe.
mount_host() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=512000,cache=$VM_9P_CACHE" \
			host /host 2>/dev/null && return 0
		sleep 0.2
	done
	fail "cannot mount the host's root over 9p"
}

# The project and the working directory stay visible if they live under a
# directory that prepare_root() covers: bind them aside, then back.
hold_kept_dirs() {
	n=0
	while read -r dir; do
		case $dir in
		/tmp | /tmp/* | /run | /run/* | /var/tmp | /var/tmp/*) ;;
		*) continue ;;
		esac
		n=$((n + 1))
		mkdir -p "/kept/$n"
		mount -o bind "/host$dir" "/kept/$n" || fail "cannot keep $dir visible"
		echo "$dir" >"/kept/$n.path"
	done </job/keep
}

restore_kept_dirs() {
	for held in /kept/*.path; do
		[ -f "$held" ] || continue
		read -r dir <"$held"
		mkdir -p "/host$dir"
		mount -o bind "${held%.path}" "/host$dir" || fail "cannot keep $dir visible"
	done
}

# A writable, complete root on top of the read-only host tree.  The host's
# /tmp and /run become invisible, so the job is copied out first.
prepare_root() {
	mkdir -p /job
	cp "/host$run/job" /job/job || fail "cannot read the job file /host$run/job"
	cp "/host$run/keep" /job/keep || fail "cannot read /host$run/keep"
	hold_kept_dirs
	mount -t proc proc /host/proc
	mount -t sysfs sysfs /host/sys
	mount -t devtmpfs devtmpfs /host/dev
	mount -t tmpfs -o mode=1777 tmpfs /host/tmp
	mount -t tmpfs -o mode=0755 tmpfs /host/run
	mount -t tmpfs -o mode=1777 tmpfs /host/var/tmp 2>/dev/null
	mkdir -p /host/dev/pts /host/dev/shm /host/dev/hugepages /host/run/vm
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
	ln -sf pts/ptmx /host/dev/ptmx
	mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
	mount -t hugetlbfs hugetlbfs /host/dev/hugepages
	mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
	mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
	ln -sf /proc/self/fd /host/dev/fd
	ln -sf /proc/self/fd/0 /host/dev/stdin
	ln -sf /proc/self/fd/1 /host/dev/stdout
	ln -sf /proc/self/fd/2 /host/dev/stderr
	cp /job/job /host/run/vm/job
	restore_kept_dirs
	mkdir -m 0700 /host/tmp/home
	hostname vm
	ip link set lo up 2>/dev/null
}

mount_basics
heartbeat 2>/dev/null &
# ttyS1 starts in cooked mode, which would turn "\n" into "\r\n".
drain
# shellcheck source=/dev/null
. /etc/vm.env
parse_cmdline
if [ -z "$mark" ] || [ -z "$run" ]; then
	fail "vmmark= or vmrun= missing on the kernel command line"
fi
load_modules
mount_host
prepare_root

echo "vhost-mem-vm: begin" >/dev/kmsg
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp/home TERM=dumb \
	VM_MARK="$mark" VHOST_MEM_MODROOT="$VM_MODROOT" \
	VHOST_MEM_KVER="$VM_KVER" VHOST_MEM_SERIES="$VM_SERIES" \
	chroot /host /bin/bash "$VM_GUEST" /run/vm/job \
	</dev/null >"$out" 2>&1
finish $?

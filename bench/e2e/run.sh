#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-e2e: the issue-6 benchmark.  In the test VM (6 GiB, for a
# 2 GiB plug), the nested guest of tests/e2e is resized 0 -> 2 GiB and
# 2 GiB -> 256 MiB, alternately with QEMU's own virtio-mem (vhost=off) and
# with vhost=on (bench/e2e/resize.py); bench/e2e/report.py turns the results
# into a table and a chart under bench/results/.  See bench/README.md.
#
#   bench/e2e/run.sh [SERIES...] [-- RESIZE_OPTIONS...]
#
# SERIES defaults to 6.12 (a 6.1 test VM hangs in most nested boots under
# TCG, tests/e2e/README.md); RESIZE_OPTIONS go to resize.py (e.g.
# --rounds 5).  Exits non-zero if a series could not be measured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
readonly here top
readonly results=$top/bench/results
readonly begin_mark=@@vhost-mem-bench-e2e-json-begin
readonly end_mark=@@vhost-mem-bench-e2e-json-end
# Three rounds of two guests: about 5 minutes per series under TCG.
readonly vm_timeout=900
# The TCG test VM hangs for good in a nested boot now and then
# (tests/e2e/README.md): a series whose VM timed out runs once more
# (tests/vm/run.sh --retries).
readonly retries=1

lib_name=bench-e2e
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

# Inside the VM: the benchmark, then its JSON between two marks (the
# guest's root is read-only; its /tmp goes away with the VM).  resize.py
# imports the nested guest's helpers from tests/e2e/vmem_e2e.py.
in_vm() {
	local json=/tmp/vhost-mem-bench-e2e.json rc=0
	PYTHONPATH=$top/tests/e2e${PYTHONPATH:+:$PYTHONPATH} \
		"$here/resize.py" --out "$json" "$@" || rc=$?
	if [ "$rc" = 0 ]; then
		echo "$begin_mark"
		cat "$json"
		echo
		echo "$end_mark"
	fi
	exit "$rc"
}

# The chart's only dependency, for this target alone: CI never draws.
need_gnuplot() {
	command -v gnuplot >/dev/null && return
	# A subshell: its die is no failure of the benchmark.
	(apt_install gnuplot-nox) || log "no gnuplot (apt-get install gnuplot-nox): no chart"
}

main() {
	local series=() opts=() s stamp log json kernel initrd qemu ctl
	local failed=0 done_json=() rc

	while [ $# -gt 0 ]; do
		case $1 in
		--in-vm) shift; in_vm "$@" ;;
		--) shift; opts=("$@"); break ;;
		-h|--help)
			sed -n '3,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
			exit 0 ;;
		*) series+=("$1") ;;
		esac
		shift
	done
	[ ${#series[@]} -gt 0 ] || series=(6.12)

	cd "$top"
	log "building QEMU, the tools and the module"
	make -s qemu tools
	for s in "${series[@]}"; do
		make -s modules KVER="$s"
	done
	qemu=$(scripts/setup-qemu.sh --path)
	ctl=$top/build/tools/vhost-mem-ctl/vhost-mem-ctl
	need_gnuplot

	mkdir -p "$results"
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	for s in "${series[@]}"; do
		log=$results/$stamp-e2e-$s.log
		json=$results/$stamp-e2e-$s.json
		kernel=$(bash scripts/setup.sh --env "$s" | sed -n 's/^VMLINUZ=//p')
		initrd=$(tests/e2e/mkinitramfs.sh "$s")
		log "running on $s (log: ${log#"$top"/})"
		rc=0
		tests/vm/run.sh --series "$s" --mem 6G --timeout "$vm_timeout" \
			--retries "$retries" -- \
			bench/e2e/run.sh --in-vm --series "$s" --qemu "$qemu" \
			--kernel "$kernel" --initrd "$initrd" --ctl "$ctl" \
			${opts[@]+"${opts[@]}"} >"$log" 2>&1 || rc=$?
		if [ "$rc" != 0 ]; then
			tail -n 40 "$log" >&2
			log "the benchmark failed on $s"
			failed=1
			continue
		fi
		# The console may glue the end mark to the JSON's last line.
		sed -n "/^$begin_mark\$/,/$end_mark/{/^$begin_mark\$/d;s/$end_mark.*//;p}" \
			"$log" >"$json"
		if ! python3 -m json.tool "$json" >/dev/null 2>&1; then
			log "no valid JSON from the run on $s"
			failed=1
			continue
		fi
		rm -f "$log"
		done_json+=("$json")
	done
	if [ ${#done_json[@]} -gt 0 ]; then
		python3 "$here/report.py" --out "$results/$stamp-e2e" "${done_json[@]}"
	fi
	return "$failed"
}

main "$@"

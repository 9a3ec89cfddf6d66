#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The issue-3 benchmark on each kernel series: builds the module and the
# benchmark, runs the benchmark in the test VM (tests/vm/run.sh) and keeps
# what it printed and its JSON under bench/results/.  See bench/README.md.
#
#   bench/run.sh [SERIES...] [-- BENCH_OPTIONS...]
#
# SERIES defaults to "6.1 6.12"; BENCH_OPTIONS go to vhost_mem_bench
# (default: -t).  Exits non-zero if a series could not be measured.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly top
readonly prog=build/bench/vhost_mem_bench
readonly results=$top/bench/results
readonly begin_mark=@@vhost-mem-bench-json-begin
readonly end_mark=@@vhost-mem-bench-json-end
# The benchmark takes about 3 minutes per kernel; a loaded host may double it.
readonly vm_timeout=900

lib_name=bench
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

# Inside the VM: run the benchmark, then print its JSON between two marks
# (the guest's root is read-only; its /tmp goes away with the VM).
in_vm() {
	local json=/tmp/vhost-mem-bench.json rc=0
	"$top/$prog" -o "$json" "$@" || rc=$?
	if [ "$rc" = 0 ]; then
		echo "$begin_mark"
		cat "$json"
		echo "$end_mark"
	fi
	exit "$rc"
}

# A few lines per series: what the table says about the goal.
summary() {	# json...
	python3 - "$@" <<'EOT'
import json, sys

for path in sys.argv[1:]:
    with open(path) as f:
        r = json.load(f)
    env, rows = r["env"], r["rows"]
    print(f"{env['kernel']}: {r['wall_s']:.0f} s (p50 per request; goal: ratio <= "
          f"{r['params']['goal_ratio']:.2f})")
    for row in rows:
        k = row["kernel"]["lat_us"]["p50"]
        w = row[row["best_raw"]]["lat_us"]["p50"]
        ratio = row["ratio_p50"]
        verdict = "-" if ratio is None else ("ok" if row["within_goal"] else "over")
        mib = row["chunk_size"] >> 20
        chunk = f"{mib >> 10}G" if mib >= 1024 else f"{mib}M"
        print("  {:5} {:>3} {:>2} {:6} {:6}  kernel {:9.1f} us  best raw {:9.1f} us  "
              "ratio {:>5}  {:>+8.1f} us  {}".format(
                  row["backing"], chunk, row["nb_blocks"], row["op"], row["mode"],
                  k, w, "-" if ratio is None else f"{ratio:.2f}",
                  row["extra_us_p50"], verdict))
    n = r["null"]
    print("  fixed cost (no host work): single {:.1f} us, batched {:.1f} us per request".format(
        n["single"]["lat_us"]["p50"], n["batch"]["lat_us"]["p50"]))
EOT
}

main() {
	local series=() opts=(-t) s stamp log json txt failed=0 done_json=()

	while [ $# -gt 0 ]; do
		case $1 in
		--in-vm) shift; in_vm "$@" ;;
		--) shift; opts=("$@"); break ;;
		-h|--help)
			sed -n '3,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
			exit 0 ;;
		*) series+=("$1") ;;
		esac
		shift
	done
	[ ${#series[@]} -gt 0 ] || series=(6.1 6.12)

	cd "$top"
	log "building the module and the benchmark"
	for s in "${series[@]}"; do
		make -s KVER="$s" modules
	done
	make -s -C bench

	mkdir -p "$results"
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	for s in "${series[@]}"; do
		log=$results/$stamp-$s.log
		json=$results/$stamp-$s.json
		txt=$results/$stamp-$s.txt
		log "running on $s (log: ${log#"$top"/})"
		if ! tests/vm/run.sh --series "$s" --timeout "$vm_timeout" -- \
			bench/run.sh --in-vm "${opts[@]}" | tee "$log"; then
			log "the benchmark failed on $s"
			failed=1
			continue
		fi
		sed -n "/^$begin_mark\$/,/^$end_mark\$/p" "$log" | sed '1d;$d' >"$json"
		sed "/^$begin_mark\$/,/^$end_mark\$/d" "$log" >"$txt"
		if ! python3 -m json.tool "$json" >/dev/null 2>&1; then
			log "no valid JSON from the run on $s"
			failed=1
			continue
		fi
		rm -f "$log"
		done_json+=("$json")
		log "results: ${txt#"$top"/}, ${json#"$top"/}"
	done
	if [ ${#done_json[@]} -gt 0 ]; then
		summary "${done_json[@]}" | tee "$results/$stamp-summary.txt"
	fi
	return "$failed"
}

main "$@"

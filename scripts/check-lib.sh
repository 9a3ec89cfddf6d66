# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What scripts/check.sh and scripts/check-debug.sh share: stages that keep
# their output in $log/<name>.out, and the tally over them that ends with
# "N passed, N failed, N skipped".  The caller sets log (a directory) and
# runs from the top of the tree.
# shellcheck disable=SC2154 # log is the caller's

# A stage that does not even produce TAP (a build error, a VM that did not
# boot) is one failed test, so the total can never look green.
stage() {	# name command...
	local name=$1 out=$log/$1.out rc
	shift
	echo "# === $name"
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if ! grep -Eq '^(# )?(not )?ok [0-9]+' "$out"; then
		echo "not ok - $name: no test ran (exit $rc)" | tee -a "$out"
	elif [ "$rc" != 0 ] && ! grep -Eq '^not ok [0-9]+' "$out"; then
		echo "not ok - $name: exit $rc" | tee -a "$out"
	fi
}

# Stages side by side: each test VM is one TCG thread, so two fill the two
# cores of the machine CI runs on.  stage_start runs a stage in the
# background; stages_wait waits for all and prints their output in the
# order they were started.
bg_stages=()
bg_pids=()
stage_start() {	# name command...
	stage "$@" >"$log/$1.bg" 2>&1 &
	bg_stages+=("$1")
	bg_pids+=($!)
}

stages_wait() {
	local i
	for i in "${!bg_pids[@]}"; do
		wait "${bg_pids[$i]}"
		cat "$log/${bg_stages[$i]}.bg"
		rm -f "$log/${bg_stages[$i]}.bg"
	done
	bg_stages=()
	bg_pids=()
}

# Counts test cases: the kselftest runner nests each program's cases behind
# "# "; a program's own result line counts only when its cases do not
# already say it (a crash, a timeout, a program that never started).
tally() {
	awk '
	function leaf(line) {
		if (line ~ /# SKIP/) skip++
		else if (line ~ /^not ok/) { fail++; sec_fail++ }
		else pass++
		sec_n++
	}
	/^# selftests: /			{ sec_n = 0; sec_fail = 0; next }
	/^# (not )?ok [0-9]+/			{ sub(/^# /, ""); leaf($0); next }
	/^(not )?ok [0-9]+ selftests: /	{
		if ($0 ~ /^not ok/ && !sec_fail) fail++
		else if ($0 !~ /^not ok/ && !sec_n) leaf($0)
		next
	}
	/^(not )?ok [0-9]+/			{ leaf($0); next }
	/^not ok - /				{ fail++ }
	END { printf "%d passed, %d failed, %d skipped\n", pass, fail, skip }
	' "$log"/*.out
}

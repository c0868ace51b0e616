#!/usr/bin/env bash
# Runs the unit suites (TAP from C) and the integration suite (TAP from
# node), and ends with the line "N passed, N failed". A suite that exits
# non-zero without reporting a failure counts as one failure.
# usage: tests/run.sh BUILD_DIR BINARY|- [unit|integ]
# WRAP, if set, is put before each unit binary (e.g. valgrind).
set -u
build=$1 bin=$2 which=${3:-all}
cd "$(dirname "$0")/.." || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT

suite() {
	local name=$1; shift
	echo "# suite $name"
	"$@" 2>&1 | tee -a "$log"
	local st=${PIPESTATUS[0]}
	if [ "$st" -ne 0 ] && ! grep -q '^not ok' <<<"$(sed -n "/^# suite $name\$/,\$p" "$log")"; then
		echo "not ok - suite $name exited with status $st" | tee -a "$log"
	fi
}

if [ "$which" != integ ]; then
	for t in "$build"/test_*; do
		[ -x "$t" ] || continue
		echo "# suite $(basename "$t")" >>"$log"
		suite "$(basename "$t")" ${WRAP:-} "$t"
	done
fi
if [ "$which" != unit ]; then
	echo "# suite integ" >>"$log"
	CLERKSYNC_BIN=$(realpath "$bin") suite integ node tests/integ/run.mjs
fi

# A skipped test is reported as skipped, never as passed.
skipped=$(grep -c '^ok .*# *SKIP' "$log")
passed=$(( $(grep -c '^ok ' "$log") - skipped ))
failed=$(grep -c '^not ok' "$log")
if [ "$skipped" -gt 0 ]; then
	grep '^ok .*# *SKIP' "$log" | sed 's/^/# skipped: /'
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

#!/usr/bin/env bash
# Runs test suites that speak TAP and ends with "N passed, N failed" (and
# ", N skipped" when any test was skipped; a skip never counts as passed).
# A suite that exits non-zero without reporting a failure counts as one.
#
# usage: tests/run.sh BUILD_DIR BINARY SUITE...
#   SUITE: unit integ hostile sim soak backfill cluster php fuzz release
# env:   WRAP          put before each unit binary (e.g. valgrind)
#        CLERKSYNC_WRAP put before each run of BINARY by the node suites
#        TAP_LOG       append to this file and print no summary (check.sh)
#        FUZZ_SECONDS  seconds per fuzz target (default 10)
set -u
build=$1 bin=$2
shift 2
cd "$(dirname "$0")/.." || exit 2
if [ -n "${TAP_LOG:-}" ]; then
	log=$TAP_LOG own=0
else
	log=$(mktemp) own=1
	trap 'rm -f "$log"' EXIT
fi
tag=${TAP_TAG:-}

suite() {
	local name=$1; shift
	local part
	part=$(mktemp)
	echo "# suite $tag$name"
	"$@" 2>&1 | tee "$part"
	local st=${PIPESTATUS[0]}
	sed "s#^\(not ok\|ok\)\( [0-9]*\)\? \?-\?#\1 - $tag$name:#" "$part" |
	    grep -E '^(not )?ok' >>"$log"
	if [ "$st" -ne 0 ] && ! grep -q '^not ok' "$part"; then
		echo "not ok - $tag$name: exited with status $st" | tee -a "$log"
	fi
	rm -f "$part"
}

export CLERKSYNC_BIN
CLERKSYNC_BIN=$(realpath "$bin")
for s in "$@"; do
	case $s in
	unit)
		for t in "$build"/test_*; do
			[ -x "$t" ] || continue
			suite "$(basename "$t")" ${WRAP:-} "$t"
		done ;;
	integ)	suite integ node tests/integ/run.mjs ;;
	hostile) suite hostile node tests/integ/hostile.mjs ;;
	sim)	suite sim node tests/sim/run.mjs
		suite races node tests/sim/races.mjs ;;
	backfill) suite backfill node tests/backfill/run.mjs
		suite pull node tests/backfill/pull.mjs ;;
	php)	suite php node tests/php/run.mjs
		suite status node tests/php/status.mjs ;;
	cluster) suite cluster-smoke node tests/cluster/smoke.mjs
		suite cluster-states node tests/cluster/states.mjs
		suite cluster node tests/cluster/run.mjs ;;
	soak)	suite soak node tests/sim/soak.mjs --requests 5000 ;;
	release) suite release node tests/release/run.mjs ;;
	fuzz)	suite fuzz bash tests/fuzz/run.sh "${FUZZ_SECONDS:-10}" ;;
	*)	echo "not ok - unknown suite $s" | tee -a "$log" ;;
	esac
done

[ "$own" -eq 1 ] || exit 0
exec bash tests/summary.sh "$log"

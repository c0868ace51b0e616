#!/usr/bin/env bash
# The closing line of a run from its TAP log: "N passed, N failed", with
# ", N skipped" when a test was skipped. Exit 0 only if nothing failed.
log=$1
skipped=$(grep -c '^ok .*# *SKIP' "$log")
passed=$(( $(grep -c '^ok ' "$log") - skipped ))
failed=$(grep -c '^not ok' "$log")
grep '^not ok' "$log" | sed 's/^/# failed: /'
grep '^ok .*# *SKIP' "$log" | sed 's/^/# skipped: /'
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

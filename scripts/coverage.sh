#!/bin/sh
# Lines covered per module, from the .gcda files that a --coverage build
# (make coverage) left in BUILD after the suites ran.
# usage: coverage.sh BUILD MODULE...
set -eu
build=$1
shift
printf '%-10s %6s %6s %7s\n' module lines hit covered
total=0 hit=0
for m in "$@" main; do
	[ -f "$build/$m.gcda" ] || { printf '%-10s  (not run)\n' "$m"; continue; }
	line=$(gcov -n -o "$build" "src/$m.c" 2>/dev/null |
	    awk -v f="src/$m.c" '$0 == "File '\''" f "'\''" { on = 1; next }
		on && /^Lines executed:/ { sub(/^Lines executed:/, ""); print; exit }')
	pct=${line%%%*}
	n=${line##* of }
	h=$(awk -v p="$pct" -v n="$n" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')
	printf '%-10s %6d %6d %6.1f%%\n' "$m" "$n" "$h" "$pct"
	total=$((total + n))
	hit=$((hit + h))
done
awk -v h="$hit" -v t="$total" 'BEGIN { printf "%-10s %6d %6d %6.1f%%\n", "total", t, h, t ? 100 * h / t : 0 }'

#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ against the modules in src/
# (clang, -fsanitize=fuzzer-no-link,address,undefined), seeds their corpora
# from tests/fixtures, runs each for SECONDS, then replays the known
# crashers in tests/fuzz/crashers/<target>/ as regression cases. Prints TAP
# ("ok N - fuzz_x ran S s, R runs") and exits non-zero on any crash.
#
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]     (default 30 s each, all)
# env:   CC (default clang), FUZZ_OUT (default build/fuzz),
#        CLERKSYNC_FUZZ_SKIP=nul_cut,private,coherent (see fuzz_event.c)
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-30}
shift $(( $# > 0 ? 1 : 0 ))
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
targets=${*:-fuzz_sig fuzz_event fuzz_json fuzz_config}
out=${FUZZ_OUT:-build/fuzz}
cc=${CC:-clang}
n=0 failed=0

tap() { # ok|not-ok message
	n=$((n + 1))
	if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

if ! command -v "$cc" >/dev/null; then
	tap not-ok "$cc not found (apt-get install clang)"
	echo "1..$n"; exit 1
fi
echo "# $($cc --version | head -1)"
mkdir -p "$out/obj" "$out/corpus" "$out/crashes" || exit 2

pkgs="libcjson libmariadb libcrypto"
pkg_cflags=$(pkg-config --cflags $pkgs libcurl) || exit 2
pkg_libs="$(pkg-config --libs $pkgs) -lfcgi -lm"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -DCLERKSYNC_VERSION=\"fuzz\" -Isrc $pkg_cflags -Wall -Wextra"

# The modules: the Makefile's list, which holds neither main.c nor
# launch.c (programs of their own).
modules=$(make -s --no-print-directory print-MODULES) || exit 2
objs=()
build_ok=1
for m in $modules; do
	src="src/$m.c"
	o="$out/obj/$m.o"
	if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ "$(ls src/*.h | xargs -I{} find {} -newer "$o" | head -1)" ]; then
		$cc $cflags $san -fsanitize=fuzzer-no-link -c -o "$o" "$src" 2>"$out/obj/$m.err" || {
			build_ok=0; cat "$out/obj/$m.err" >&2; }
	fi
	objs+=("$o")
done
# The embedded schema, when the tree has one (as the Makefile builds it).
if [ -f scripts/embed-schema.sh ]; then
	sh scripts/embed-schema.sh $(make -s --no-print-directory print-SCHEMA) >"$out/obj/schema.c.new" &&
		{ cmp -s "$out/obj/schema.c.new" "$out/obj/schema.c" || mv "$out/obj/schema.c.new" "$out/obj/schema.c"; }
	rm -f "$out/obj/schema.c.new"
	if [ ! -e "$out/obj/schema.o" ] || [ "$out/obj/schema.c" -nt "$out/obj/schema.o" ]; then
		$cc $cflags $san -fsanitize=fuzzer-no-link -c -o "$out/obj/schema.o" "$out/obj/schema.c" || build_ok=0
	fi
	objs+=("$out/obj/schema.o")
fi
for t in $targets; do
	$cc $cflags $san -fsanitize=fuzzer -o "$out/$t" "tests/fuzz/$t.c" "${objs[@]}" $pkg_libs 2>"$out/$t.build.err" || {
		build_ok=0; cat "$out/$t.build.err" >&2; }
done
if [ $build_ok -ne 1 ]; then
	tap not-ok "build the fuzz targets (see above)"
	echo "1..$n"; exit 1
fi
tap ok "build $targets with $cc"

if command -v node >/dev/null; then
	node tests/fuzz/seed.mjs "$out/corpus" || tap not-ok "seed corpora"
else
	echo "# node not found: seeding fuzz_json from the fixtures only"
	mkdir -p "$out/corpus/fuzz_json" && cp tests/fixtures/clerk/*.json "$out/corpus/fuzz_json/"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in $targets; do
	dict=
	case $t in
	fuzz_event|fuzz_json) dict=-dict=tests/fuzz/json.dict ;;
	fuzz_config) dict=-dict=tests/fuzz/config.dict ;;
	esac
	mkdir -p "$out/corpus/$t"
	log="$out/$t.log"
	start=$(date +%s)
	"$out/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -artifact_prefix="$out/crashes/$t-" $dict "$out/corpus/$t" >"$log" 2>&1
	st=$?
	took=$(( $(date +%s) - start ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	[ -z "$runs" ] && runs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#')
	rate=$(( took > 0 ? ${runs:-0} / took : ${runs:-0} ))
	if [ $st -eq 0 ]; then
		tap ok "$t ran $took s, ${runs:-0} runs"
		echo "# $t: ${rate} runs/s, corpus $(ls "$out/corpus/$t" | wc -l) inputs"
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		tap not-ok "$t crashed after $took s, ${runs:-?} runs: ${art:-see $log}"
		grep -m1 -E '^fuzz_[a-z]+: |ERROR: |runtime error:' "$log" | sed 's/^/#   /'
		[ -n "$art" ] && echo "#   reproduce: $out/$t $art"
	fi
done

# Known crashers stay as regression cases until fixed (every check on,
# whatever CLERKSYNC_FUZZ_SKIP says).
for t in $targets; do
	for f in tests/fuzz/crashers/"$t"/*; do
		[ -f "$f" ] || continue
		if env -u CLERKSYNC_FUZZ_SKIP "$out/$t" -artifact_prefix="$out/crashes/replay-" "$f" >"$out/replay.log" 2>&1; then
			tap ok "$t regression $(basename "$f")"
		else
			tap not-ok "$t regression $(basename "$f") still fails"
			grep -m1 -E '^fuzz_[a-z]+: |ERROR: |runtime error:' "$out/replay.log" | sed 's/^/#   /'
		fi
	done
done

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]

#!/usr/bin/env bash
# clerksync benchmark: `make bench`, or `bash bench/run.sh [BIN]`.
# N=20000 by default; BENCH_QUICK=1 for a smoke test (N=2000). See
# bench/run.mjs for the other knobs and BENCHMARKS.md for the figures.
# SPDX-License-Identifier: ISC
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

bin=${1:-${CLERKSYNC_BIN:-cgi-bin/clerksync.fcgi}}
missing=()
for t in node wrk valgrind callgrind_annotate lighttpd spawn-fcgi mariadbd \
    mariadb-install-db mariadb cc pkg-config getconf; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
pkg-config --exists libmariadb 2>/dev/null || missing+=("libmariadb (pkg-config)")
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: missing: ${missing[*]}" >&2
	echo "bench: apt-get install wrk valgrind lighttpd spawn-fcgi mariadb-server mariadb-client libmariadb-dev gcc pkg-config nodejs npm" >&2
	exit 2
fi
if [ ! -x "$bin" ]; then
	echo "bench: $bin not found: run make first" >&2
	exit 2
fi
if [ ! -d tests/node_modules ]; then
	npm ci --prefix tests --no-audit --no-fund --loglevel=error
fi
exec node bench/run.mjs "$bin"

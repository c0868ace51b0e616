#!/usr/bin/env bash
# Every test, as CI runs it (make check): the release build through all
# suites, the ASan+UBSan build through unit, integration, backfill and php
# (the PHP helper and status), the static build through integration, the
# release tarball, valgrind
# over unit and hostile input, and each fuzz target briefly. One TAP log,
# one closing line "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export TAP_LOG=$log
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"

TAP_TAG= bash tests/run.sh build/release build/release/clerksync.fcgi \
    unit integ hostile sim soak backfill cluster php

if make -s VARIANT=asan OPT='-O1 -g' bins >/dev/null; then
	TAP_TAG=asan/ bash tests/run.sh build/asan build/asan/clerksync.fcgi \
	    unit integ backfill php
else
	echo "not ok - asan: build failed" | tee -a "$log"
fi

# The static build (make static) through the integration suite.
if make -s static >/dev/null; then
	TAP_TAG=static/ bash tests/run.sh build/static build/static/clerksync.fcgi \
	    integ
else
	echo "not ok - static: build failed" | tee -a "$log"
fi

# The release tarball (make release) in an empty chroot and under Apache.
if make -s release >/dev/null; then
	TAP_TAG= bash tests/run.sh build/release build/release/clerksync.fcgi \
	    release
else
	echo "not ok - release: make release failed" | tee -a "$log"
fi

mkdir -p build/valgrind
TAP_TAG=valgrind/ WRAP="$vg" \
    CLERKSYNC_WRAP="$vg --log-file=$PWD/build/valgrind/vg.%p" \
    bash tests/run.sh build/release build/release/clerksync.fcgi unit hostile

TAP_TAG= bash tests/run.sh build/release build/release/clerksync.fcgi fuzz

bash tests/summary.sh "$log"

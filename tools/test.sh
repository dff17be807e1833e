#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, builds, runs every test.
# Usage: tools/test.sh [extra `swift test` arguments, e.g. --filter DNSBLTests]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-test-deps.sh
swift build --build-tests
# The allocation gate on the answer path counts mallocs per thread through this interposer.
mkdir -p .build
cc -O2 -shared -fPIC -o .build/libmalloc-count.so tools/malloc-count.c
LD_PRELOAD="$PWD/.build/libmalloc-count.so" swift test --skip-build "$@" 2>&1 | tee .build/test-output.txt || failed=$?
# Prints the number of skipped tests; fails if one skipped for anything but a missing optional tool.
tools/check-skips.sh .build/test-output.txt
[ -z "${failed:-}" ] || exit "$failed"
# A bounded soak (mixed load, store replaced every 5 s, corrupt candidates): fails on any wrong
# answer, a dead server or an fd leak. SOAK_SECONDS=0 skips it; only with the whole suite.
if [ $# -eq 0 ] && [ "${SOAK_SECONDS:-60}" != "0" ]; then
  tools/soak.sh --seconds "${SOAK_SECONDS:-60}"
fi

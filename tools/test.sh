#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, builds, runs every test.
# Usage: tools/test.sh [extra `swift test` arguments, e.g. --filter DNSBLTests]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build --build-tests
# The allocation gate on the answer path counts mallocs per thread through this interposer.
mkdir -p .build
cc -O2 -shared -fPIC -o .build/libmalloc-count.so tools/malloc-count.c
LD_PRELOAD="$PWD/.build/libmalloc-count.so" swift test --skip-build "$@"

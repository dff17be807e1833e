#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, builds, runs every test.
# Usage: tools/test.sh [extra `swift test` arguments, e.g. --filter DNSBLTests]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"

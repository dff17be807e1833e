#!/usr/bin/env bash
# Quick start: installs what the build needs (tools/install-build-deps.sh: no other DNS daemons),
# builds prefixbl (release) and serves the bundled zones/ on 127.0.0.1:5300 and [::1]:5300 (UDP and TCP). Extra arguments go to `prefixbl serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-build-deps.sh
swift build -c release --product prefixbl
exec .build/release/prefixbl serve \
  bl.example:ip4set:zones/bl.example.ip4set \
  bl.example:ip6trie:zones/bl.example.ip6trie \
  "$@"

#!/usr/bin/env bash
# Rewrites the store seeds (tools/fuzz/seeds/store/*.store) with the current store format: run it
# whenever the format version changes (an old-version seed no longer opens, and the seed replay
# test in ServerTests says so).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${PREFIXBL_BIN:-.build/debug/prefixbl}
out=tools/fuzz/seeds/store
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$bin" compile bl.example:ip4set:zones/bl.example.ip4set bl.example:ip6trie:zones/bl.example.ip6trie -o "$out/bundled.store"
"$bin" compile bl.example:ip4set:zones/bl.example.ip4set -o "$out/bundled-v4.store"
long=$(printf 'x%.0s' $(seq 1 400)); short=$(printf 'y%.0s' $(seq 1 200))
printf ':127.0.0.2:%s $\n2001:db8::/32\n' "$long" > "$tmp/a.txt"
printf ':127.0.0.3:%s $\n2001:db8:5::/48\n' "$short" > "$tmp/b.txt"
"$bin" compile "bl.example:ip6trie:$tmp/a.txt" "bl.example:ip6trie:$tmp/b.txt" -o "$out/c7-v6.store"

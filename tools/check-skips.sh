#!/usr/bin/env bash
# Reads the output of `swift test` and counts the skipped tests. Swift Testing prints one line
# per skipped test, `➜ Test NAME skipped: "REASON"` (`… skipped.` without a reason), and for a
# skipped suite a `➜ Suite NAME skipped: …` line before those of its tests. A test may skip only because an optional external tool is missing, and its
# reason must say so and name the tool; any other skip hides a regression, so it fails the run.
# Usage: tools/check-skips.sh FILE   (exit 0: every skip allowed; 1: some were not; 2: usage)
set -euo pipefail
[ $# -eq 1 ] && [ -r "$1" ] || { echo "usage: $0 SWIFT-TEST-OUTPUT" >&2; exit 2; }

# The optional tools a test may lack (peers it starts, clients it runs), matched as whole words.
tools='dig|kdig|delv|drill|ldns-[a-z0-9-]+|rbldnsd|unbound|nsd|knotd|named|valgrind|systemd-socket-activate|taskset|chrt'
word="(^|[^A-Za-z0-9_.-])($tools)([^A-Za-z0-9_-]|$)"
absent='not installed|is missing|not found'

total=0 allowed=0 bad=()
while IFS= read -r line; do
  [[ $line =~ ^([^ ]+\ )?Test\  ]] && counted=1 || counted=0
  total=$((total + counted))
  reason=""
  [[ $line =~ skipped:\ \"(.*)\"$ ]] && reason=${BASH_REMATCH[1]}
  if [[ -n $reason ]] && grep -qE "$word" <<<"$reason" && grep -qE "$absent" <<<"$reason"; then
    allowed=$((allowed + counted))
  else
    bad+=("$line")
  fi
done < <(grep -E '(Test|Suite) .+ skipped(: ".*"|\.)$' "$1" || true)

echo "skipped: $total tests ($allowed for a missing optional tool)"
if [ ${#bad[@]} -gt 0 ]; then
  echo "skipped for a reason that is not a missing optional tool (a regression must fail, not skip):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi

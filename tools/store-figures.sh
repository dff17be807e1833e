#!/usr/bin/env bash
# Prints the store figures table (markdown): bytes per range, lookups/s at 1k…10M ranges,
# open + full validation of a 10M-range store, encode throughput, and the compile of a large
# generated IPv6 set under /usr/bin/time -v (seconds, peak RSS).
#   tools/store-figures.sh            # 100M-prefix compile
#   SCALE=30000000 tools/store-figures.sh
# Needs a release build of tools/bench (done here) and ~12 GB of free memory for 100M.
set -euo pipefail
cd "$(dirname "$0")/bench"
swift build -c release --product store-figures >&2
bin=.build/release/store-figures
"$bin"
scale="${SCALE:-100000000}"
out="${TMPDIR:-/tmp}/prefixbl-scale-$scale.pfxbl"
echo
echo "## Scale: compile of $scale generated mixed IPv6 prefixes (generation included in RSS)"
log=$(mktemp)
if /usr/bin/time -v "$bin" compile "$scale" "$out" 2>"$log"; then
  awk -F': ' '/Elapsed \(wall clock\)/ {print "| wall clock | " $2 " |"} /Maximum resident set size/ {printf "| peak RSS | %.2f GiB |\n", $2/1048576} /User time/ {print "| user s | " $2 " |"} /System time/ {print "| system s | " $2 " |"}' "$log"
  ls -l "$out" | awk '{printf "| store file | %.2f GiB |\n", $5/1073741824}'
else
  echo "compile of $scale failed:"; tail -5 "$log"
fi
rm -f "$out" "$log"

#!/usr/bin/env bash
# Builds one libFuzzer target and runs it for a while, resuming from its saved corpus.
# Usage: tools/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags]
#   TARGET   wire | source | store
#   SECONDS  run time, default 300
# Corpus:    tools/fuzz/corpus/TARGET   (grows across runs; not in git)
# Seeds:     tools/fuzz/seeds/TARGET    (in git; read every run, never written)
# Crashes:   tools/fuzz/crashes/TARGET  (crash-*, leak-*, timeout-* inputs; not in git)
# Log:       tools/fuzz/logs/TARGET-<UTC time>.log
# A crash input becomes a regression test (see Sources/DNSBLServer/DNSBLServer.docc/Robustness.md).
set -euo pipefail
cd "$(dirname "$0")/fuzz"
target="${1:?usage: tools/fuzz.sh wire|source|store [SECONDS] [libFuzzer flags]}"
seconds="${2:-300}"
shift; [ $# -gt 0 ] && shift
case "$target" in
  wire) product=FuzzWire ;;
  source) product=FuzzSource ;;
  store) product=FuzzStore ;;
  *) echo "unknown target '$target' (wire, source, store)" >&2; exit 2 ;;
esac
swift build -c release --product "$product" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | { grep -v "Cannot export local symbol" || true; } >&2
bin="$(swift build -c release --show-bin-path)/$product"
mkdir -p "corpus/$target" "crashes/$target" logs "seeds/$target"
log="logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "fuzzing $target for $seconds s; log $log" >&2
export SWIFT_BACKTRACE=enable=no  # the Swift backtracer trips ASan; libFuzzer prints the stack
set +e
"$bin" "corpus/$target" "seeds/$target" \
  -max_total_time="$seconds" -artifact_prefix="crashes/$target/" -max_len=4096 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@" >"$log" 2>&1
rc=$?
set -e
grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|.*invariant broken)" "$log" >&2 || true
echo "exit $rc; corpus $(ls "corpus/$target" | wc -l) inputs; crashes $(ls "crashes/$target" | wc -l)" >&2
exit $rc

#!/usr/bin/env bash
# validate-loadgen.sh — checks tools/loadgen against dnsperf on the same server at rates
# dnsperf reaches: both must see the same answered qps and loss, similar latency, and the
# server must spend the same CPU per answer whichever generator drives it.
#
# usage: tools/validate-loadgen.sh [--runs N] [--rates "50000 100000"] [--secs S] [--work DIR]
#                                  [--port P] [-- SERVER COMMAND...]
# Default server: rbldnsd with the 1M IPv6 + 1M IPv4 set of tools/gen-data.py, pinned to core
# 0; the generators run on core 1, one after the other. Bounded: runs × rates × 3 × secs
# (default 3 × 2 × 3 × 5 s ≈ 90 s) plus the data load.
set -uo pipefail
RUNS=3 RATES="50000 100000" SECS=5 WORK=${PREFIXBL_BENCH_DIR:-/tmp/prefixbl-bench} PORT=5393
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift ;;
        --rates) RATES=$2; shift ;;
        --secs) SECS=$2; shift ;;
        --work) WORK=$2; shift ;;
        --port) PORT=$2; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA=$WORK/data
mkdir -p "$WORK"
python3 "$ROOT/tools/gen-data.py" --out "$DATA" || exit 1
chmod -R a+rX "$WORK"
cc -O2 -Wall -o "$WORK/loadgen" "$ROOT/tools/loadgen.c" || exit 1
Q=$DATA/queries-mix.txt
CLK=$(getconf CLK_TCK)
if [ $# -gt 0 ]; then
    cmd=("$@")
else
    cmd=(rbldnsd -n -a -b "127.0.0.1/$PORT" -u rbldns -w "$DATA" bl.example:ip6trie:v6.ip6trie bl.example:ip4set:v4.ip4set)
fi
echo "server: ${cmd[*]}  (load $(cut -d' ' -f1-3 /proc/loadavg))"
taskset -c 0 "${cmd[@]}" > "$WORK/validate-server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
timeout 40 taskset -c 1 "$WORK/loadgen" -p "$PORT" -d "$DATA/probe-v4.txt" -P 2 -l 30 -q >/dev/null ||
    { echo "server did not answer"; exit 1; }
ticks() { local s; s=$(cat "/proc/$1/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }

printf '%-8s %-22s %9s %8s %9s %9s %9s %10s\n' rate generator answered lost% avg_us p50_us p99_us srv_us/q
for r in $(seq "$RUNS"); do
    for rate in $RATES; do
        c0=$(ticks $PID)
        out=$(timeout $((SECS + 20)) taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -Q "$rate" -l "$SECS" -c 8 2>&1)
        c1=$(ticks $PID)
        done=$(echo "$out" | sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p')
        lost=$(echo "$out" | sed -n 's/^ *Queries lost: *[0-9]* (\([0-9.]*\)%).*/\1/p')
        qps=$(echo "$out" | sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p')
        avg=$(echo "$out" | sed -n 's/^ *Average Latency (s): *\([0-9.]*\).*/\1/p')
        printf '%-8s %-22s %9.0f %8s %9.0f %9s %9s %10.2f\n' "$rate" "dnsperf -q 100" "$qps" "$lost" \
            "$(echo "$avg * 1000000" | bc -l)" - - "$(echo "($c1-$c0)*1000000/$CLK/$done" | bc -l)"
        for mode in "-w 100" ""; do
            c0=$(ticks $PID)
            out=$(timeout $((SECS + 20)) taskset -c 1 "$WORK/loadgen" -p "$PORT" -d "$Q" -Q "$rate" $mode -l "$SECS" -q)
            c1=$(ticks $PID)
            f() { echo "$out" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
            label="loadgen ${mode:-open loop}"
            printf '%-8s %-22s %9.0f %8s %9s %9s %9s %10.2f\n' "$rate" "$label" "$(f qps)" "$(f loss_pct)" "$(f mean_us)" \
                "$(f p50_us)" "$(f p99_us)" "$(echo "($c1-$c0)*1000000/$CLK/$(f answered)" | bc -l)"
        done
    done
done
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"

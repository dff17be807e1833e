#!/usr/bin/env bash
# dnssec-cost.sh — what signing costs `prefixbl serve` (issue 12): server CPU per answer with
# DO=1 against DO=0 at a fixed dnsperf rate, first-signature latency, signatures per second per
# core, memory for signatures, and start → first signed answer with the 1M IPv6 + 1M IPv4 set.
#
# usage: tools/dnssec-cost.sh [--prefixbl BIN] [--runs N] [--rate QPS] [--seconds S]
#                             [--work DIR] [--no-rate-tool] [--no-start] [--queries mix|rotating]
#
#   --prefixbl BIN  the binary to measure (default .build/release/prefixbl; nothing is built
#                   for it, so a merged build can be measured with the same script)
#   --runs N        DO=0/DO=1 measurement pairs, alternating (default 3; medians printed)
#   --rate QPS      dnsperf -Q (default 50000)
#   --seconds S     dnsperf -l per measurement (default 5)
#   --work DIR      data, keys, logs, results (default /tmp/prefixbl-dnssec-cost; the
#                   generated data is kept there and reused)
#   --no-rate-tool  skip tools/dnssec-rate.sh (it builds the DNSSEC module in release mode)
#   --no-start      skip the start → first signed answer runs
#   --queries Q     the query list: mix (default, the generator's queries-mix.txt: random
#                   addresses, almost every one in an NSEC gap of its own) or rotating (bots
#                   rotating addresses: 200,000 distinct names, random addresses inside 1,200
#                   listed and unlisted IPv6 and IPv4 prefixes of the set, tools/dnssec-cost.py
#                   rotating; written to the data directory once)
#
# Data: tools/gen-data.py (1M IPv6 + 1M IPv4 lines, zone bl.example, seeded, as
# compare-rbldnsd.sh uses), compiled once into a store; a KSK and a ZSK (ECDSAP256SHA256) made
# with ldns-keygen. Queries: the generator's queries-mix.txt (listed, excluded, just-outside and
# random addresses of both families).
# Measurements (server pinned to core 0 with taskset, load on core 1):
#   cpu/answer     server utime+stime (/proc/PID/stat) ÷ answers dnsperf got, dnsperf -e
#                  (EDNS, DO=0) against dnsperf -D (DO=1) on the same signed server, same
#                  queries; a warm-up DO=1 pass first fills the signature cache (made
#                  --dnssec-signature-cache 2000000 so nothing is evicted), and is reported as
#                  the cold figure. Ratio of the medians.
#   first-signature latency  DO=1 round trip (one query at a time) for 300 names never asked
#                  (new RRsets) against the same names again; and tools/dnssec-rate.sh.
#   signatures/s   a server with --dnssec-signature-cache 1 (every RRset signed anew: that
#                  setting also turns the finished DO=1 answers off, which would otherwise
#                  serve repeated answers without signing) loaded with DO=1 queries:
#                  signatures made (its metric) ÷ server CPU seconds; and
#                  tools/dnssec-rate.sh (the signing primitive alone, one core).
#   memory         VmRSS after a DO=0 pass (store pages touched) and after the DO=1 passes
#                  (signature cache full); the difference ÷ cached RRsets (its metric).
#   start          start → first DO=1 answer carrying an RRSIG, --store and source specs
#                  (compiled at start), signed and unsigned (first answer at all), median of 3.
#                  tools/start-cost.sh measures start (DO=1, DO=0) and reload in more detail,
#                  with memory, and compares two binaries in one run.
# Every command is appended to WORK/commands.log; results to WORK/results.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PBL="$ROOT/.build/release/prefixbl" RUNS=3 RATE=50000 SECS=5 WORK=/tmp/prefixbl-dnssec-cost RATE_TOOL=1 START=1 QUERIES=mix
while [ $# -gt 0 ]; do
    case "$1" in
        --prefixbl) PBL=$(realpath "$2"); shift ;;
        --runs) RUNS=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --seconds) SECS=$2; shift ;;
        --work) WORK=$2; shift ;;
        --no-rate-tool) RATE_TOOL=0 ;;
        --no-start) START=0 ;;
        --queries) QUERIES=$2; shift ;;
        -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for tool in dnsperf ldns-keygen taskset python3; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ -x "$PBL" ] || { echo "no prefixbl binary at $PBL (swift build -c release, or --prefixbl)" >&2; exit 1; }
RES=$WORK/results.tsv
. "$ROOT/tools/lib/cost-setup.sh"
CLK=$(getconf CLK_TCK)
ticks() { local s; s=$(cat "/proc/$1/stat") || { echo 0; return; }; s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }

log "binary: $PBL ($("$PBL" --version 2>/dev/null | head -1)); load: $(cut -d' ' -f1-3 /proc/loadavg)"
cost_setup "$PBL"
Q=$DATA/queries-mix.txt
if [ "$QUERIES" = rotating ]; then
    Q=$DATA/queries-rotating.txt
    [ -s "$Q" ] || run python3 "$HELP" rotating "$DATA" "$Q" || exit 1
elif [ "$QUERIES" != mix ]; then
    echo "--queries: mix or rotating" >&2; exit 2
fi

SRV_PID="" PORT="" MPORT=""
start_serve() { # extra args...: a signed server on core 0 with metrics
    PORT=$(free_port) MPORT=$(free_port)
    local cmd=("$PBL" serve --listen "127.0.0.1:$PORT" --metrics "127.0.0.1:$MPORT" --store "$WORK/zone.pfxbl" "$@")
    printf 'taskset -c 0 %s\n' "${cmd[*]}" >> "$CMDLOG"
    taskset -c 0 "${cmd[@]}" > "serve-$PORT.log" 2>&1 &
    SRV_PID=$!
    for _ in $(seq 600); do grep -qs " serving" "serve-$PORT.log" && break; sleep 0.1; done
    grep -q " serving" "serve-$PORT.log" || { log "serve did not start: $(tail -5 "serve-$PORT.log")"; exit 1; }
    grep -o "DNSSEC view from the [a-z]*" "serve-$PORT.log" | head -1 >&2
}
stop_serve() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap stop_serve EXIT
metric() { python3 "$HELP" metric "http://127.0.0.1:$MPORT/metrics" "$1"; }

# dnsperf_pass FLAG → sets CPU_US (server µs per answer), DONE, QPS, LOST
dnsperf_pass() {
    local c0 c1 out
    c0=$(ticks "$SRV_PID")
    out=$(run timeout $((SECS + 30)) taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -Q "$RATE" -l "$SECS" -c 8 "$1" 2>&1)
    c1=$(ticks "$SRV_PID")
    DONE=$(echo "$out" | sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p')
    LOST=$(echo "$out" | sed -n 's/^ *Queries lost: *[0-9]* (\([0-9.]*\)%).*/\1/p')
    QPS=$(echo "$out" | sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p')
    CPU_US=$(python3 -c "print(round(($c1-$c0)*1e6/$CLK/max(1,${DONE:-0}),2))")
}

# ---------------------------------------------------------------- CPU per answer, memory
log "cpu/answer: dnsperf -Q $RATE -l $SECS, DO=0 (-e) against DO=1 (-D), $RUNS runs"
start_serve "${KEYS[@]}" --dnssec-signature-cache 2000000
dnsperf_pass -e   # touches the store pages a DO=0 answer reads
RSS0=$(rss "$SRV_PID")
dnsperf_pass -D   # warm-up: fills the signature cache
rec "cold_do1_cpu_us_per_answer" "$CPU_US"
rec "cold_do1_answered_qps" "${QPS%.*}"
rec "cold_do1_signatures_made" "$(metric prefixbl_dnssec_signatures_made_total)"
D0=() D1=() Q0=() Q1=() L1=()
for r in $(seq "$RUNS"); do
    dnsperf_pass -e; D0+=("$CPU_US"); Q0+=("${QPS%.*}")
    log "run $r DO=0: $CPU_US µs/answer, $QPS answered/s, lost $LOST%"
    dnsperf_pass -D; D1+=("$CPU_US"); Q1+=("${QPS%.*}"); L1+=("$LOST")
    log "run $r DO=1: $CPU_US µs/answer, $QPS answered/s, lost $LOST%"
done
M0=$(median "${D0[@]}") M1=$(median "${D1[@]}")
rec "do0_cpu_us_per_answer" "$M0 (runs: ${D0[*]}; answered/s ${Q0[*]})"
rec "do1_cpu_us_per_answer" "$M1 (runs: ${D1[*]}; answered/s ${Q1[*]}; lost % ${L1[*]})"
rec "do1_do0_ratio" "$(python3 -c "print(round($M1/$M0,2))")"
RRSETS=$(metric 'prefixbl_dnssec_signature_cache_rrsets')
RSS1=$(rss "$SRV_PID")
rec "signature_cache_rrsets" "$RRSETS"
rec "rss_kib_do0_pass" "$RSS0"
rec "rss_kib_cache_full" "$RSS1"
rec "bytes_per_cached_rrset" "$(python3 -c "print(round(($RSS1-$RSS0)*1024/max(1,$RRSETS)))")"
rec "signatures_made_total" "$(metric prefixbl_dnssec_signatures_made_total)"
stop_serve

# ---------------------------------------------------------------- first-signature latency
start_serve "${KEYS[@]}"
run python3 "$HELP" latency "$PORT" "$Q" 300 > latency.txt
rec "do1_latency_first_vs_cached" "$(cat latency.txt) (median µs, 300 names, $(metric prefixbl_dnssec_signatures_made_total) signatures made)"
stop_serve

# ---------------------------------------------------------------- signatures per second per core
# A cache of 1: no signature kept, no finished answer kept or served (DNSSEC.md, the options).
start_serve "${KEYS[@]}" --dnssec-signature-cache 1
s0=$(metric prefixbl_dnssec_signatures_made_total)
dnsperf_pass -D
s1=$(metric prefixbl_dnssec_signatures_made_total)
c=$(python3 -c "print(round(${CPU_US}*${DONE:-0}/1e6,3))")
rec "server_signatures_per_cpu_second" "$(python3 -c "print(round(($s1-$s0)/max(0.001,$c)))") ($((s1 - s0)) signatures in $c CPU s, every RRset signed anew, $DONE answers)"
stop_serve
if [ "$RATE_TOOL" = 1 ]; then
    (cd "$ROOT" && run tools/dnssec-rate.sh 5) > rate.txt 2>&1 || log "tools/dnssec-rate.sh failed: $(tail -3 rate.txt)"
    sed 's/^/    /' rate.txt >&2
    rec "dnssec_rate_tool" "$(tr '\n' ';' < rate.txt)"
fi

# ---------------------------------------------------------------- start → first signed answer
if [ "$START" = 1 ]; then
    for what in store specs; do
        for mode in signed unsigned; do
            ms=()
            for r in 1 2 3; do
                p=$(free_port)
                src=(--store "$WORK/zone.pfxbl")
                [ "$what" = specs ] && src=("bl.example:ip6trie:$DATA/v6.ip6trie" "bl.example:ip4set:$DATA/v4.ip4set")
                k=(); [ "$mode" = signed ] && k=("${KEYS[@]}")
                out=$(run python3 "$HELP" ttfa 0 "$PROBE" -- "$PBL" serve --listen "127.0.0.1:$p" "${src[@]}" "${k[@]}")
                log "start ($what, $mode) run $r: $out"
                ms+=("$(echo "$out" | sed -n 's/.*ttfa_ms=\([0-9.]*\).*/\1/p')")
            done
            rec "start_to_first_${mode}_answer_ms_$what" "$(median "${ms[@]}") (runs: ${ms[*]})"
        done
    done
fi

echo
echo "results ($PBL; $RATE qps; medians of $RUNS): $RES"
column -t -s $'\t' "$RES"

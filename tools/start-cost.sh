#!/usr/bin/env bash
# start-cost.sh — how long `prefixbl serve --store` takes to answer after a start and a reload,
# signed and unsigned, with the 1M IPv6 + 1M IPv4 set (issue 12, "time from start to the first
# signed answer"), and the memory it holds.
#
# usage: tools/start-cost.sh [--prefixbl BIN]... [--runs N] [--reloads N] [--work DIR] [--cpus LIST]
#
#   --prefixbl BIN  a binary to measure (default .build/release/prefixbl); give it twice (say
#                   main's and a branch's) to compare them in one run, runs alternating
#   --runs N        starts per binary and mode (default 3; medians printed)
#   --reloads N     SIGHUP reloads per reload run (default 3; one reload run per binary and mode)
#   --work DIR      data, keys, logs, results (default /tmp/prefixbl-dnssec-cost, shared with
#                   tools/dnssec-cost.sh: the generated data is kept there and reused)
#   --cpus LIST     taskset CPU list for the server (default 0)
#
# Data as tools/dnssec-cost.sh: tools/gen-data.py (1M IPv6 + 1M IPv4 lines, zone bl.example),
# compiled once into WORK/zone.pfxbl, a KSK and a ZSK (ECDSAP256SHA256) made with ldns-keygen.
# Measurements (tools/dnssec-cost.py):
#   start   start → first answer to an A query for a listed IPv6 name, polled every 2 ms:
#           signed DO=1 (the answer carries an RRSIG), signed DO=0, unsigned DO=0; the
#           server's VmRSS at that answer.
#   reload  after the first answer, SIGHUP N times (each after the previous "reloaded" line)
#           while one client asks DO=1 (signed) one query at a time: the log's total-ms per
#           reload, the longest time between two answers meanwhile, queries unanswered for 1 s,
#           VmRSS after the reloads and the peak (VmHWM).
# Every command is appended to WORK/commands.log; results to WORK/start-results.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BINS=() RUNS=3 RELOADS=3 WORK=/tmp/prefixbl-dnssec-cost CPUS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefixbl) BINS+=("$(realpath "$2")"); shift ;;
        --runs) RUNS=$2; shift ;;
        --reloads) RELOADS=$2; shift ;;
        --work) WORK=$2; shift ;;
        --cpus) CPUS=$2; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#BINS[@]} -gt 0 ] || BINS=("$ROOT/.build/release/prefixbl")
for tool in ldns-keygen taskset python3; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
for b in "${BINS[@]}"; do
    [ -x "$b" ] || { echo "no prefixbl binary at $b (swift build -c release --product prefixbl)" >&2; exit 1; }
done
RES=$WORK/start-results.tsv
. "$ROOT/tools/lib/cost-setup.sh"
field() { echo "$2" | sed -n "s/.*$1=\([0-9.,n/a]*\).*/\1/p"; }

log "load: $(cut -d' ' -f1-3 /proc/loadavg)"
cost_setup "${BINS[0]}"

declare -A MS RSS
for r in $(seq "$RUNS"); do
    for b in "${!BINS[@]}"; do
        for mode in signed-do1 signed-do0 unsigned; do
            k=() d=()
            [ "$mode" != unsigned ] && k=("${KEYS[@]}")
            [ "$mode" != signed-do1 ] && d=(--do 0)
            out=$(run python3 "$HELP" ttfa "$CPUS" "$PROBE" "${d[@]}" -- "${BINS[$b]}" serve \
                --listen "127.0.0.1:$(free_port)" --store "$WORK/zone.pfxbl" "${k[@]}")
            log "bin $b start $mode run $r: $out"
            MS[$b,$mode]+=" $(field ttfa_ms "$out")"
            RSS[$b,$mode]+=" $(field rss_kib "$out")"
        done
    done
done
for b in "${!BINS[@]}"; do
    rec "bin$b" "${BINS[$b]} ($("${BINS[$b]}" --version 2>/dev/null | head -1))"
    for mode in signed-do1 signed-do0 unsigned; do
        # shellcheck disable=SC2086
        rec "bin${b}_start_to_first_answer_ms_$mode" "$(median ${MS[$b,$mode]}) (runs:${MS[$b,$mode]})"
        # shellcheck disable=SC2086
        rec "bin${b}_rss_kib_at_first_answer_$mode" "$(median ${RSS[$b,$mode]}) (runs:${RSS[$b,$mode]})"
    done
done
for b in "${!BINS[@]}"; do
    for mode in signed unsigned; do
        k=()
        [ "$mode" = signed ] && k=("${KEYS[@]}")
        out=$(run timeout 900 python3 "$HELP" reload "$CPUS" "$PROBE" "$RELOADS" -- "${BINS[$b]}" serve \
            --listen "127.0.0.1:$(free_port)" --store "$WORK/zone.pfxbl" "${k[@]}")
        log "bin $b reload $mode: $out"
        ms=$(field reload_ms "$out")
        rec "bin${b}_reload_ms_$mode" "$(median ${ms//,/ }) (reloads: $ms; longest gap between answers meanwhile $(field max_gap_ms "$out") ms, unanswered $(field unanswered "$out"))"
        rec "bin${b}_rss_kib_after_reloads_$mode" "$(field rss_kib "$out") (peak $(field hwm_kib "$out"))"
    done
done
echo
echo "results: $RES"
column -t -s $'\t' "$RES"

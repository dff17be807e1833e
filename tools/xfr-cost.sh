#!/usr/bin/env bash
# xfr-cost.sh — what a zone transfer of a large zone costs `prefixbl serve` (issue 12 point 6),
# signed and unsigned, against the peer path `prefixbl export` → `ldns-signzone` → NSD, in one run.
#
# usage: tools/xfr-cost.sh [--prefixbl BIN] [--work DIR] [--cap SECONDS] [--rss-cap KIB]
#                          [--no-unsigned] [--no-signed] [--no-peer] [--verify] [--ixfr-versions N]
#
#   --prefixbl BIN    the serve binary (default .build/release/prefixbl; nothing is built)
#   --work DIR        data and keys (default /tmp/prefixbl-dnssec-cost: tools/dnssec-cost.sh's
#                     work directory — run that once to make zone.pfxbl (1M IPv6 + 1M IPv4 from
#                     tools/gen-data.py, compiled) and keys.txt (ldns-keygen KSK + ZSK,
#                     ECDSAP256SHA256)); results go to DIR/xfr-*
#   --cap SECONDS     give up on one transfer after this long (default 600)
#   --rss-cap KIB     stop serve when its RSS passes this (default 8000000, ~8 GB)
#   --verify          ldns-verify-zone the signed AXFR as received (dig's text; long at 1M+1M)
#   --ixfr-versions N passed to serve (default: serve's own, 4)
#
# Per serve mode (unsigned; signed with the two keys): serve --store zone.pfxbl on loopback
# with --allow-transfer 127.0.0.1, first answer awaited, then one AXFR over TCP by a small
# Python client (tools/xfr-cost.py) that prints the time from the request to the first response
# byte and to the closing SOA, messages, records and bytes. serve's VmRSS is sampled every
# 0.5 s (peak printed; VmHWM at the end); the run stops at --cap or --rss-cap.
# Peer path: /usr/bin/time -v of `prefixbl export` (unsigned master file), of `ldns-signzone`
# (NSEC, the same keys) and of NSD loading it (nsd-checkzone's peak RSS), then NSD serving the
# signed file on loopback: the same AXFR client against it. Every command goes to
# DIR/xfr-commands.log; a summary table to standard output and DIR/xfr-results.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PBL="$ROOT/.build/release/prefixbl" WORK=/tmp/prefixbl-dnssec-cost CAP=600 RSSCAP=8000000
UNSIGNED=1 SIGNED=1 PEER=1 VERIFY=0 IXFRV=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefixbl) PBL=$(realpath "$2"); shift ;;
        --work) WORK=$2; shift ;;
        --cap) CAP=$2; shift ;;
        --rss-cap) RSSCAP=$2; shift ;;
        --no-unsigned) UNSIGNED=0 ;;
        --no-signed) SIGNED=0 ;;
        --no-peer) PEER=0 ;;
        --verify) VERIFY=1 ;;
        --ixfr-versions) IXFRV=$2; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 64 ;;
    esac
    shift
done
[ -f "$WORK/zone.pfxbl" ] && [ -f "$WORK/keys.txt" ] || {
    echo "no $WORK/zone.pfxbl or keys.txt: run tools/dnssec-cost.sh --work $WORK --no-rate-tool once" >&2; exit 66; }
KEYS=(); for k in $(cat "$WORK/keys.txt"); do KEYS+=(--dnssec-key "$WORK/$k"); done
KSK=$(awk '{print $1}' "$WORK/keys.txt")
RES="$WORK/xfr-results.tsv"; LOG="$WORK/xfr-commands.log"
: >"$RES"
run() { echo "$*" >>"$LOG"; "$@"; }
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" | tee -a "$RES"; }

# serve MODE: start serve, one AXFR, RSS sampled.
serve_xfr() {
    local mode=$1; shift
    local port=$((20000 + RANDOM % 20000)) log="$WORK/xfr-serve-$mode.log" out="$WORK/xfr-$mode.txt"
    local extra=(); [ -n "$IXFRV" ] && extra=(--ixfr-versions "$IXFRV")
    echo "$PBL serve --listen 127.0.0.1:$port --store $WORK/zone.pfxbl --allow-transfer 127.0.0.1 ${extra[*]} $*" >>"$LOG"
    local t0; t0=$(date +%s.%N)
    "$PBL" serve --listen 127.0.0.1:$port --store "$WORK/zone.pfxbl" --allow-transfer 127.0.0.1 "${extra[@]}" "$@" >"$log" 2>&1 &
    local pid=$!
    until dig -p $port @127.0.0.1 +short +time=1 +tries=1 bl.example SOA 2>/dev/null | grep -q .; do
        sleep 0.1; kill -0 $pid 2>/dev/null || { echo "serve ($mode) exited" >&2; cat "$log" >&2; return 1; }
    done
    result "$mode" "start → first answer s" "$(echo "$(date +%s.%N) - $t0" | bc)"
    # RSS sampler (KiB), stops serve past the RSS cap.
    ( peak=0; while kill -0 $pid 2>/dev/null; do
          r=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null); r=${r:-0}
          [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$WORK/xfr-$mode.peak"
          if [ "$r" -gt "$RSSCAP" ]; then echo "RSS $r KiB past the cap: serve stopped" >>"$WORK/xfr-$mode.peak.note"; kill $pid; fi
          sleep 0.5
      done ) &
    local sampler=$!
    rm -f "$WORK/xfr-$mode.peak.note"
    local keep=(); [ "$VERIFY" = 1 ] && [ "$mode" = signed ] && keep=(--keep "$WORK/xfr-$mode.wire")
    run timeout "$CAP" python3 "$ROOT/tools/xfr-cost.py" "${keep[@]}" 127.0.0.1 "$port" bl.example >"$out" 2>&1
    local rc=$?
    [ $rc = 124 ] && echo "timed out after $CAP s" >>"$out"
    cat "$out" | sed "s/^/  $mode: /"
    result "$mode" "first byte s" "$(awk '/^first_byte/ {print $2}' "$out")"
    result "$mode" "complete s" "$(awk '/^complete/ {print $2}' "$out")"
    result "$mode" "records" "$(awk '/^records/ {print $2}' "$out")"
    result "$mode" "bytes" "$(awk '/^bytes/ {print $2}' "$out")"
    result "$mode" "serve VmHWM KiB" "$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null)"
    kill $pid 2>/dev/null; wait $pid 2>/dev/null; kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
    result "$mode" "serve peak VmRSS KiB (sampled)" "$(cat "$WORK/xfr-$mode.peak" 2>/dev/null)"
    [ -f "$WORK/xfr-$mode.peak.note" ] && cat "$WORK/xfr-$mode.peak.note"
    grep -E 'transfer prebuilt|signed zone built|zone transfer' "$log" | cut -c1-400 | sed "s/^/  $mode log: /"
    if [ "$VERIFY" = 1 ] && [ "$mode" = signed ] && [ -s "$WORK/xfr-$mode.wire" ]; then
        python3 "$ROOT/tools/xfr-cost.py" --text "$WORK/xfr-$mode.wire" >"$WORK/xfr-$mode.zone"
        result "$mode" "ldns-verify-zone" "$(run ldns-verify-zone -k "$WORK/$KSK.key" "$WORK/xfr-$mode.zone" 2>&1 | tail -1)"
    fi
}

[ "$UNSIGNED" = 1 ] && serve_xfr unsigned
[ "$SIGNED" = 1 ] && serve_xfr signed "${KEYS[@]}"

if [ "$PEER" = 1 ]; then
    tv() {  # label, command…: wall seconds and peak RSS from /usr/bin/time -v
        local label=$1; shift
        echo "$*" >>"$LOG"
        /usr/bin/time -v "$@" 2>"$WORK/xfr-time.txt" >/dev/null
        result peer "$label wall s" "$(awk -F': ' '/Elapsed/ {print $2}' "$WORK/xfr-time.txt")"
        result peer "$label max RSS KiB" "$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/xfr-time.txt")"
    }
    tv "prefixbl export" "$PBL" export "$WORK/zone.pfxbl" --zone bl.example -o "$WORK/xfr-export.zone"
    ( cd "$WORK" && tv "ldns-signzone" ldns-signzone -f "$WORK/xfr-export.signed" "$WORK/xfr-export.zone" $(cat "$WORK/keys.txt") )
    tv "nsd-checkzone" nsd-checkzone bl.example "$WORK/xfr-export.signed"
    nport=$((20000 + RANDOM % 20000)); nd="$WORK/xfr-nsd"; rm -rf "$nd"; mkdir -p "$nd"
    cat >"$nd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$nport
    zonesdir: "$WORK"
    database: ""
    pidfile: "$nd/nsd.pid"
    xfrdfile: "$nd/xfrd.state"
    zonelistfile: "$nd/zone.list"
    logfile: "$nd/nsd.log"
    username: ""
    server-count: 1
remote-control:
    control-enable: no
zone:
    name: bl.example
    zonefile: "$WORK/xfr-export.signed"
    provide-xfr: 127.0.0.1 NOKEY
EOF
    t0=$(date +%s.%N)
    echo "nsd -d -c $nd/nsd.conf" >>"$LOG"
    nsd -d -c "$nd/nsd.conf" >"$nd/out" 2>&1 &
    npid=$!
    until dig -p $nport @127.0.0.1 +short +time=1 +tries=1 bl.example SOA 2>/dev/null | grep -q .; do
        sleep 0.2; kill -0 $npid 2>/dev/null || { echo "nsd exited" >&2; cat "$nd/out" "$nd/nsd.log" >&2; break; }
    done
    result peer "nsd start → first answer s" "$(echo "$(date +%s.%N) - $t0" | bc)"
    run timeout "$CAP" python3 "$ROOT/tools/xfr-cost.py" 127.0.0.1 "$nport" bl.example >"$WORK/xfr-nsd.txt" 2>&1
    sed 's/^/  nsd: /' "$WORK/xfr-nsd.txt"
    result peer "nsd AXFR first byte s" "$(awk '/^first_byte/ {print $2}' "$WORK/xfr-nsd.txt")"
    result peer "nsd AXFR complete s" "$(awk '/^complete/ {print $2}' "$WORK/xfr-nsd.txt")"
    result peer "nsd AXFR records" "$(awk '/^records/ {print $2}' "$WORK/xfr-nsd.txt")"
    result peer "nsd VmHWM KiB" "$(awk '/VmHWM/ {s += $2} END {print s}' $(pgrep -P $npid | sed 's|.*|/proc/&/status|') /proc/$npid/status 2>/dev/null)"
    kill $npid 2>/dev/null; wait $npid 2>/dev/null
fi
echo "results: $RES"

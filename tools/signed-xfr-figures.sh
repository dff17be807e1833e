#!/usr/bin/env bash
# Signed zone transfer figures: AXFR size and time of a signed zone, then the IXFR after a
# one-line change (RRs and bytes) and the signatures that reload made.
#   tools/signed-xfr-figures.sh SPEC…      (PREFIXBL_BIN: default .build/release/prefixbl)
# SPEC is serve's ZONE:TYPE:FILE for zone bl.example (several specs unite into the zone). Keys:
# an ECDSA KSK and an ECDSA ZSK from ldns-keygen. The files are copied; the one-line change
# adds the listing 2a00:1450:4001::/48 (or 100.64.1.0/24 to an ip4set) to the first spec's file
# and raises the serial ($SOA … 0 …: the newest file's modification time). Prints dig's XFR
# size, wall seconds and serve's CPU seconds per transfer, serve's `signed zone built` log
# lines, the IXFR's RR count and bytes, and ldns-verify-zone on the AXFR. Loopback only.
set -euo pipefail
bin=${PREFIXBL_BIN:-.build/release/prefixbl}
[ $# -ge 1 ] || { echo "usage: $0 SPEC…" >&2; exit 64; }
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
specs=(); first=""
i=0
for spec in "$@"; do
  zone=${spec%%:*}; rest=${spec#*:}; type=${rest%%:*}; file=${rest#*:}
  { echo '$SOA 3600 ns1.bl.example hostmaster.example.org 0 3600 600 604800 300'; echo '$NS 3600 ns1.bl.example'
    grep -v -e '^\$SOA' -e '^\$NS' "$file"; } >"$work/src$i.txt"
  touch -d '2026-01-01 00:00:00' "$work/src$i.txt"
  specs+=("$zone:$type:$work/src$i.txt")
  [ -z "$first" ] && first="$type"
  i=$((i + 1))
done
ksk=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 -k bl.example)
zsk=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 bl.example)
port=$((20000 + RANDOM % 20000))
"$bin" serve --listen 127.0.0.1:$port --threads 2 --allow-transfer 127.0.0.1 --check-interval 0.5 \
    --settle-delay 0.2 --force --dnssec-key "$work/$ksk" --dnssec-key "$work/$zsk" "${specs[@]}" >"$work/log" 2>&1 &
pid=$!
until grep -q ' serving' "$work/log"; do sleep 0.2; kill -0 $pid; done
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
hz=$(getconf CLK_TCK)
xfr() {  # label, output file, dig args…
    local label=$1 file=$2; shift 2
    local c0 t0 t1 c1
    c0=$(cpu); t0=$(date +%s.%N)
    dig -p $port @127.0.0.1 +tcp +time=300 +nocmd bl.example "$@" >"$file"
    t1=$(date +%s.%N); c1=$(cpu)
    printf '%-10s %8s RRs  %6.2f s wall  %6.2f s serve CPU  %s\n' "$label" \
        "$(grep -c -v -e '^;' -e '^$' "$file" || true)" "$(echo "$t1 - $t0" | bc)" \
        "$(echo "($c1 - $c0) / $hz" | bc -l)" "$(grep -o 'XFR size.*' "$file" || true)"
}
serial() { dig -p $port @127.0.0.1 +short bl.example SOA | awk '{print $3}'; }
s1=$(serial)
xfr "AXFR" "$work/axfr1" AXFR
xfr "AXFR again" "$work/axfr1b" AXFR
grep -v -e '^;' "$work/axfr1" | sed '$d' >"$work/axfr1.zone"
echo "ldns-verify-zone (AXFR): $(ldns-verify-zone -k "$work/$ksk.key" "$work/axfr1.zone" 2>&1 | tail -1)"
if [ "$first" = ip4set ]; then echo "100.64.1.0/24" >>"$work/src0.txt"; else echo "2a00:1450:4001::/48" >>"$work/src0.txt"; fi
until [ "$(serial)" != "$s1" ]; do sleep 0.2; done
until [ "$(grep -c 'signed zone built for transfer' "$work/log")" -ge 2 ]; do sleep 0.1; done
xfr "IXFR=$s1" "$work/ixfr" IXFR=$s1
grep 'signed zone built for transfer' "$work/log" | grep -o 'owners=.*took=[^ ]* [a-z]*'
grep 'zone transfer' "$work/log" | grep -o 'qtype=[A-Z]*\|ixfr=[a-z]*\|bytes=[0-9]*' | paste -sd' '
echo "IXFR types: $(grep -v -e '^;' -e '^$' "$work/ixfr" | awk '{print $4}' | sort | uniq -c | tr -s ' \n' ' ')"
grep VmHWM /proc/$pid/status

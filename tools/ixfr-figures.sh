#!/usr/bin/env bash
# IXFR against AXFR for a change of N listing lines (default 100) in a source file:
#   tools/ixfr-figures.sh FILE [N]        (PREFIXBL_BIN: default .build/release/prefixbl)
# Serves FILE (serial 1) as bl.example with transfers allowed, takes an AXFR (this keeps
# version 1), replaces the file by one without N seeded-random listing lines (serial 2), waits
# for the reload, then asks IXFR=1 twice (first: export of version 2 + difference; second:
# cached) and AXFR once more. Prints dig's XFR size, wall seconds and the CPU seconds serve spent
# on each request (utime+stime from /proc), the prebuild of version 2 after the reload, then
# serve's peak RSS.
set -euo pipefail
bin=${PREFIXBL_BIN:-.build/release/prefixbl}
src=$1; n=${2:-100}
work=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$src" "$work" "$n" <<'PY'
import random, sys
src, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l for l in open(src) if not l.startswith(('$SOA', '$NS'))]
head = "$SOA 3600 ns1.example.net hostmaster.example.net %d 600 300 86400 300\n$NS 3600 ns1.example.net\n"
data = [i for i, l in enumerate(lines) if l.strip() and l[0] not in '#:$!']
random.seed(1)
drop = set(random.sample(data, n))
open(work + '/v1.txt', 'w').write(head % 1 + ''.join(lines))
open(work + '/v2.txt', 'w').write(head % 2 + ''.join(l for i, l in enumerate(lines) if i not in drop))
PY
cp "$work/v1.txt" "$work/zone.txt"; : >"$work/log"
port=$((20000 + RANDOM % 20000))
"$bin" serve --listen 127.0.0.1:$port --threads 2 --allow-transfer 127.0.0.1 --check-interval 0.5 \
    --settle-delay 0.2 --force bl.example:ip6trie:"$work/zone.txt" >"$work/log" 2>&1 &
pid=$!
until grep -q ' serving' "$work/log"; do sleep 0.2; kill -0 $pid; done
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
hz=$(getconf CLK_TCK)
xfr() {  # label, dig args…
    local label=$1; shift
    local c0 t0 t1 c1 out
    c0=$(cpu); t0=$(date +%s.%N)
    out=$(dig -p $port @127.0.0.1 +tcp +time=300 +nocmd bl.example "$@")
    t1=$(date +%s.%N); c1=$(cpu)
    size=$(grep 'XFR size' <<<"$out" || true)
    out=$(grep -c -v -e '^;' -e '^$' <<<"$out" || true)
    printf '%-14s %8s lines  %6.2f s wall  %6.2f s serve CPU  %s\n' "$label" "$out" \
        "$(echo "$t1 - $t0" | bc)" "$(echo "($c1 - $c0) / $hz" | bc -l)" "$size"
}
xfr "AXFR v1" AXFR
mv "$work/v2.txt" "$work/zone.txt"
until dig -p $port @127.0.0.1 +short bl.example SOA | grep -q ' 2 600 '; do sleep 0.2; done
# The reload prebuilds version 2's transfer (version 1 was transferred); the IXFR that a NOTIFY
# triggers arrives during that build and waits for it. Measured here after it, so the IXFR
# figures are the difference alone; the prebuild is reported separately.
c0=$(cpu); t0=$(date +%s.%N)
until grep -q 'transfer prebuilt' "$work/log"; do sleep 0.05; done
printf '%-14s %6.2f s wall  %6.2f s serve CPU  (%s)\n' "prebuild v2" "$(echo "$(date +%s.%N) - $t0" | bc)" \
    "$(echo "($(cpu) - $c0) / $hz" | bc -l)" "$(grep -o 'took=[^ ]* [a-z]*' "$work/log")"
xfr "IXFR=1 first" IXFR=1
xfr "IXFR=1 cached" IXFR=1
xfr "AXFR v2" AXFR
grep 'zone transfer' "$work/log" | grep -o 'qtype=[A-Z]*\|ixfr=[a-z]*\|bytes=[0-9]*' | paste -sd' ' 
grep VmHWM /proc/$pid/status

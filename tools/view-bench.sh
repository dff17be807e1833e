#!/usr/bin/env bash
# Cost of StoreZoneView.prove (the signed view's NSEC neighbours, DNSBL.docc/SignedView.md) on
# a real store: ns per proof, allocations per proof, and callgrind instructions per proof.
#
# Usage: tools/view-bench.sh STORE [NAMES]
#   STORE  a store file (`prefixbl compile ... -o STORE`); its first zone is measured
#   NAMES  names per round (default 20000; half listed addresses, half random ones)
# Builds DNSWire, PrefixStore and DNSBL with swiftc -O -wmo into /tmp (no SwiftPM build), then
# runs the benchmark plain, with tools/malloc-count.c preloaded, and under callgrind with
# collection toggled on StoreZoneView.prove. Needs swiftc, cc, valgrind, objcopy.
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:?store file}; n=${2:-20000}
b=$(mktemp -d)
trap 'rm -rf "$b"' EXIT
lib() {  # module name, extra flags…
    local m=$1; shift
    swiftc -O -wmo -parse-as-library -module-name "$m" -emit-module -emit-module-path "$b/$m.swiftmodule" \
        -emit-library -static -o "$b/lib$m.a" -I "$b" "$@" Sources/"$m"/*.swift
}
lib DNSWire
lib PrefixStore -I Sources/CZlib
lib DNSBL -I Sources/CZlib
swiftc -O -wmo -I "$b" -I Sources/CZlib -o "$b/view-bench" tools/view-bench/main.swift \
    -L "$b" -lDNSBL -lPrefixStore -lDNSWire -lz
cc -O2 -shared -fPIC -o "$b/libcount.so" tools/malloc-count.c
echo "== time"
"$b/view-bench" "$store" "$n" 5
echo "== allocations"
LD_PRELOAD="$b/libcount.so" "$b/view-bench" "$store" "$n" 1 | grep allocations
echo "== callgrind (instructions per proof)"
objcopy --strip-debug "$b/view-bench" "$b/vb"
calls=$((n / 10))
valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*StoreZoneView*prove*' \
    --callgrind-out-file="$b/cg.out" "$b/vb" "$store" "$calls" 1 >/dev/null 2>"$b/cg.log"
ir=$(grep -E '^(summary|totals):' "$b/cg.out" | head -1 | awk '{print $2}')
echo "Ir $ir over $calls proofs: $((ir / calls)) instructions per proof"

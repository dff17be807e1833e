#!/usr/bin/env bash
# Signing speed of the DNSSEC module: signatures per second on one core and first-signature
# latency, ECDSAP256SHA256 and ED25519, from a release build of the module alone (the main
# package has no DNSSEC product, so the driver is linked against the module's objects).
# Usage: tools/dnssec-rate.sh [seconds per algorithm, default 5]
#        tools/dnssec-rate.sh --callgrind   (instructions per signature, 1000 signatures each)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --target DNSSEC >/dev/null
bin=$(swift build -c release --show-bin-path)
objs=$(find "$bin"/{DNSSEC,DNSWire,Crypto,CryptoBoringWrapper,CCryptoBoringSSL,CCryptoBoringSSLShims}.build -name '*.o' 2>/dev/null)
mkdir -p .build/dnssec-rate
swiftc -O -module-name dnssec_rate -I "$bin/Modules" -I "$bin" \
  tools/dnssec-rate/main.swift $objs -lstdc++ -o .build/dnssec-rate/dnssec-rate
if [ "${1:-}" = "--callgrind" ]; then
  # valgrind cannot read the Swift debug info: measure a stripped copy.
  strip -o .build/dnssec-rate/dnssec-rate-stripped .build/dnssec-rate/dnssec-rate
  for alg in 13 15; do
    counts=()
    for n in 0 1000; do
      valgrind --tool=callgrind --callgrind-out-file=/dev/null .build/dnssec-rate/dnssec-rate-stripped --count $n $alg \
        2>.build/dnssec-rate/cg.log >/dev/null
      counts+=("$(sed -n 's/.*Collected : *//p' .build/dnssec-rate/cg.log)")
    done
    echo "algorithm $alg: $(( (counts[1] - counts[0]) / 1000 )) instructions per signature (callgrind, 1000 signatures)"
  done
else
  .build/dnssec-rate/dnssec-rate "${1:-5}"
fi

#!/usr/bin/env bash
# Signing speed of the DNSSEC module: signatures per second on one core and first-signature
# latency, ECDSAP256SHA256 and ED25519, from a release build of the module alone (the main
# package has no DNSSEC product, so the driver is linked against the module's objects).
# Usage: tools/dnssec-rate.sh [seconds per algorithm, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --target DNSSEC >/dev/null
bin=$(swift build -c release --show-bin-path)
objs=$(find "$bin"/{DNSSEC,DNSWire,Crypto,CryptoBoringWrapper,CCryptoBoringSSL,CCryptoBoringSSLShims}.build -name '*.o' 2>/dev/null)
mkdir -p .build/dnssec-rate
swiftc -O -module-name dnssec_rate -I "$bin/Modules" -I "$bin" \
  tools/dnssec-rate/main.swift $objs -lstdc++ -o .build/dnssec-rate/dnssec-rate
.build/dnssec-rate/dnssec-rate "${1:-5}"

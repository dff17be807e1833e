#!/usr/bin/env bash
# Cost of background re-signing (ZoneSigner.resignDue, DNSBLDaemon/Resigning.swift): RRsets per
# second, CPU per RRset, the idle once-a-second round, and the jitter's spread, from a release
# build of the DNSBL module (linked against its objects, as tools/dnssec-rate.sh does).
# Usage: tools/resign-bench.sh [cached RRsets, default 10000]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --target DNSBL >/dev/null
bin=$(swift build -c release --show-bin-path)
objs=$(find "$bin"/{DNSBL,PrefixStore,DNSWire,DNSSEC,Crypto,CryptoBoringWrapper,CCryptoBoringSSL,CCryptoBoringSSLShims}.build -name '*.o' 2>/dev/null)
mkdir -p .build/resign-bench
swiftc -O -module-name resign_bench -I "$bin/Modules" -I "$bin" -I Sources/CZlib \
  tools/resign-bench/main.swift $objs -lstdc++ -lz -o .build/resign-bench/resign-bench
.build/resign-bench/resign-bench "${1:-10000}"

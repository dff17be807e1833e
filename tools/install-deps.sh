#!/usr/bin/env bash
# Installs, with Debian's apt, what building, serving and testing prefixbl need:
#   libldns-dev, zlib1g-dev, pkg-config  — build (libldns is our DNS library, zlib reads .gz input)
#   dnsutils (dig), knot-dnsutils (kdig)   — end-to-end tests talk to the server like operators do
#   unbound                                 — the QNAME-minimisation end-to-end test (RFC 8020, case C2)
#   rbldnsd, dnsperf                        — differential tests (tools/differential) and side-by-side benchmarks
#   nsd, knot, bind9                        — standard secondaries fed by AXFR/IXFR/NOTIFY with TSIG (zone transfer tests;
#                                             the tests run their own instances on loopback ports)
#   systemd                                 — systemd-socket-activate, for the socket-activation tests
# Already-installed packages are skipped, so a second run costs nothing.
set -euo pipefail
want=(libldns-dev zlib1g-dev pkg-config dnsutils knot-dnsutils unbound rbldnsd dnsperf ldnsutils nsd knot bind9 systemd)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

#!/usr/bin/env bash
# Installs, with Debian's apt, what the tests need besides the build dependencies: the peers the
# tests run (each started by the test itself on its own loopback port) and the package tools.
#   dnsutils (dig), knot-dnsutils (kdig), ldnsutils — end-to-end tests talk to the server like operators do
#   unbound                                 — the QNAME-minimisation end-to-end test (case C2)
#   rbldnsd, dnsperf                        — differential tests (tools/differential) and side-by-side benchmarks
#   nsd, knot, bind9                        — standard secondaries fed by AXFR/IXFR/NOTIFY with TSIG
#   systemd                                 — systemd-socket-activate, for the socket-activation tests
#   lintian, dpkg-dev                       — tools/package-deb.sh and tools/test-deb.sh
# Usage: tools/install-test-deps.sh [PACKAGE…]   (default: all of the above)
#
# These packages are name servers: installed plainly, their maintainer scripts would start them
# on port 53 and Unbound's resolvconf hook could change the host's resolver. So during the
# install a policy-rc.d refuses every service start (exit 101; an existing policy-rc.d is put
# back afterwards), and where systemd runs (PID 1) the units of the daemons not yet installed
# are masked, so that they do not start at boot either. Daemons already installed are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(dnsutils knot-dnsutils ldnsutils unbound rbldnsd dnsperf nsd knot bind9 systemd lintian dpkg-dev)
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"

# The units each daemon package would start.
units_of() {
  case "$1" in
    bind9) echo named.service named-resolvconf.service ;;
    knot) echo knot.service ;;
    nsd) echo nsd.service ;;
    unbound) echo unbound.service unbound-resolvconf.service ;;
    rbldnsd) echo rbldnsd.service rbldnsd.socket ;;
  esac
}
# systemd is PID 1 (sd_booted(3), the test debhelper's scripts use).
if [ -d /run/systemd/system ]; then
  mask=()
  for p in "${peers[@]}"; do
    for u in $(units_of "$p"); do
      [ -e "/lib/systemd/system/$u" ] || [ -e "/usr/lib/systemd/system/$u" ] || mask+=("$u")
    done
  done
  if [ ${#mask[@]} -gt 0 ]; then
    echo "masking (the tests start their own instances): ${mask[*]}" >&2
    $sudo systemctl mask "${mask[@]}" >&2
  fi
fi

policy=/usr/sbin/policy-rc.d saved=/usr/sbin/policy-rc.d.prefixbl-saved
# A run interrupted before its restore left its own policy-rc.d and the saved one: put that back first.
if [ -e "$saved" ]; then $sudo mv "$saved" "$policy"; fi
if [ -e "$policy" ]; then $sudo mv "$policy" "$saved"; fi
restore() {
  $sudo rm -f "$policy"
  if [ -e "$saved" ]; then $sudo mv "$saved" "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\n# tools/install-test-deps.sh: no service starts while the test peers install.\nexit 101\n' \
  | $sudo tee "$policy" >/dev/null
$sudo chmod 755 "$policy"
tools/install-build-deps.sh "${peers[@]}"

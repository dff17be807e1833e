#!/usr/bin/env bash
# Installs, with Debian's apt, what building and serving prefixbl need, and nothing else:
#   libldns-dev, zlib1g-dev, pkg-config  — libldns is our DNS library, zlib reads .gz input
# Extra package names given as arguments are installed in the same apt run (tools/package-deb.sh
# adds its tools; tools/install-test-deps.sh adds the test peers, with their services held back).
# Already-installed packages are skipped, so a second run costs nothing.
set -euo pipefail
want=(libldns-dev zlib1g-dev pkg-config "$@")
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

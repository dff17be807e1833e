#!/usr/bin/env bash
# The Debian package test, as an operator would meet the package (CI runs it after the suite):
# builds the .deb (tools/package-deb.sh), runs lintian (fails on errors), installs it with dpkg,
# checks with ldd that the installed binary loads nothing from the Swift toolchain, runs
# /usr/sbin/prefixbl serve with an environment free of the toolchain (env -i, a plain PATH, no
# LD_LIBRARY_PATH) on the bundled zones/ on a loopback port, queries it with dig and the installed
# `prefixbl query`, then purges the package and checks what is left.
# Prints the figures: .deb size, installed size, dpkg -i to the first answer, lintian's output.
# Usage: tools/test-deb.sh [--skip-build]   (passed to tools/package-deb.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools/install-test-deps.sh dnsutils lintian dpkg-dev

fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok: $*"; }
bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

work=$(mktemp -d /tmp/prefixbl-test-deb.XXXXXX)
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

t=$(date +%s)
deb=$(tools/package-deb.sh "$@" | tail -1)
echo "package built in $(($(date +%s) - t)) s: $deb"
echo "deb size: $(stat -c %s "$deb") bytes; Installed-Size: $(dpkg-deb -f "$deb" Installed-Size) KiB"
echo "Depends: $(dpkg-deb -f "$deb" Depends)"

# lintian: errors fail the test; warnings, information, pedantic tags and the overridden tags
# (O:, justified in tools/deb/lintian-overrides) are printed for the record.
lintian --display-info --pedantic --show-overrides "$deb" >"$work/lintian" 2>&1 || true
echo "lintian (tags; the overrides' reasons are in tools/deb/lintian-overrides):"
grep -v '^N:' "$work/lintian" | sed 's/^/  /' || true
check "lintian reports no error" bash -c "! grep -q '^E:' '$work/lintian'"

# A clean slate, then the install timed up to the first answer.
dpkg --purge prefixbl >/dev/null 2>&1 || true
start=$(date +%s%N)
dpkg -i "$deb"
installed=$(date +%s%N)
check "dpkg -i leaves the package installed" bash -c "dpkg-query -W -f='\${Status}' prefixbl | grep -q 'install ok installed'"

toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
ldd /usr/sbin/prefixbl | tee "$work/ldd"
check "ldd: nothing from the Swift toolchain ($toolchain)" bash -c "! grep -qF '$toolchain' '$work/ldd'"
check "ldd: no libswift*, libFoundation*, libdispatch, libBlocksRuntime" \
  bash -c "! grep -qE 'libswift|libFoundation|libdispatch|libBlocksRuntime|lib_FoundationICU' '$work/ldd'"
check "ldd: every library found" bash -c "! grep -q 'not found' '$work/ldd'"

# Serve the bundled zones from the installed binary, toolchain-free; retry on a taken port.
clean_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent LANG=C.UTF-8)
for attempt in 1 2 3 4 5; do
  launched=$(date +%s%N)
  port=$((20000 + RANDOM % 20000))
  "${clean_env[@]}" /usr/sbin/prefixbl serve --listen "127.0.0.1:$port" \
    "bl.example:ip4set:$root/zones/bl.example.ip4set" "bl.example:ip6trie:$root/zones/bl.example.ip6trie" \
    >"$work/serve.log" 2>&1 &
  server=$!
  answer=""
  for _ in $(seq 200); do
    answer=$(dig @127.0.0.1 -p "$port" +short +time=1 +tries=1 2.0.0.127.bl.example A 2>/dev/null \
      | grep -E '^[0-9.]+$' || true)
    [ -z "$answer" ] || break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
  done
  [ -z "$answer" ] || break
  wait "$server" 2>/dev/null || true; server=""
  echo "serve on port $port did not answer (attempt $attempt):"; cat "$work/serve.log"
done
end=$(date +%s%N)
check "dig 2.0.0.127.bl.example A: 127.0.0.2 (got '$answer')" test "$answer" = 127.0.0.2
echo "dpkg -i to the first answer: $(((end - start) / 1000000)) ms (dpkg -i $(((installed - start) / 1000000)) ms, serve start to the first answer $(((end - launched) / 1000000)) ms)"

if [ -n "$server" ]; then
  q() { dig @127.0.0.1 -p "$port" +time=2 +tries=2 "$@"; }
  txt=$(q +short 2.0.0.127.bl.example TXT)
  check "TXT of 2.0.0.127.bl.example names the test entry (got $txt)" grep -q "Test entry" <<<"$txt"
  v6=5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.b.d.0.1.0.0.2.bl.example
  check "2001:db8:abcd::5 (in 2001:db8:abcc::/47) is listed: 127.0.0.2" test "$(q +short $v6 A)" = 127.0.0.2
  check "1.0.0.127.bl.example is NXDOMAIN" grep -q "status: NXDOMAIN" <<<"$(q 1.0.0.127.bl.example A)"
  check "the empty non-terminal d.c.b.a.8.b.d.0.1.0.0.2.bl.example is NOERROR (NODATA)" \
    grep -q "status: NOERROR" <<<"$(q d.c.b.a.8.b.d.0.1.0.0.2.bl.example A)"
  set +e
  "${clean_env[@]}" /usr/sbin/prefixbl query 2001:db8:abcd::5 --zone bl.example --server "127.0.0.1:$port" >"$work/query"; rc=$?
  set -e
  check "installed prefixbl query: 2001:db8:abcd::5 listed (exit 0, got $rc)" test "$rc" = 0
  check "prefixbl query prints the verdict 'listed: 127.0.0.2'" grep -q "^listed: 127.0.0.2" "$work/query"
  set +e
  "${clean_env[@]}" /usr/sbin/prefixbl query 127.0.0.1 --zone bl.example --server "127.0.0.1:$port" >"$work/query"; rc=$?
  set -e
  check "installed prefixbl query: 127.0.0.1 not listed (exit 1, got $rc)" test "$rc" = 1
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  echo "serve log:"; sed 's/^/  /' "$work/serve.log"
  check "the start log line names the version" \
    bash -c "grep 'prefixbl starting' '$work/serve.log' | grep -qF 'version=$("${clean_env[@]}" /usr/sbin/prefixbl --version)'"
fi

# The package version is the checkout's (a --skip-build binary may be older: not compared then).
if [ "${1:-}" != --skip-build ]; then
  check "prefixbl --version is $(tools/version.sh)" test "$("${clean_env[@]}" /usr/sbin/prefixbl --version)" = "$(tools/version.sh)"
fi
check "the system user prefixbl exists" getent passwd prefixbl
check "prefixbl.service is enabled (symlink in multi-user.target.wants)" \
  test -L /etc/systemd/system/multi-user.target.wants/prefixbl.service
check "prefixbl.socket is not enabled" test ! -e /etc/systemd/system/sockets.target.wants/prefixbl.socket
check "/etc/default/prefixbl is a conffile" grep -q /etc/default/prefixbl /var/lib/dpkg/info/prefixbl.conffiles
check "the unit's ExecCondition refuses the empty ZONES of /etc/default/prefixbl" \
  bash -c 'set -a; . /etc/default/prefixbl; ! /bin/sh -c "test -n \"\$ZONES\""'
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify accepts the units" \
    systemd-analyze verify /lib/systemd/system/prefixbl.service /lib/systemd/system/prefixbl.socket
fi
for page in man8/prefixbl.8 man1/prefixbl-compile.1 man1/prefixbl-query.1 man8/prefixbl-serve.8 man8/prefixbl-rbldnsd.8; do
  check "man page $page.gz" test -s "/usr/share/man/$page.gz"
done
check "man prefixbl-serve renders, naming --listen" bash -c "MANWIDTH=80 man -l /usr/share/man/man8/prefixbl-serve.8.gz 2>/dev/null | grep -q -- --listen"
check "the bash completion loads and completes subcommands" bash -c \
  '. /usr/share/bash-completion/completions/prefixbl && COMP_WORDS=(prefixbl se) COMP_CWORD=1 && _prefixbl >/dev/null 2>&1; printf "%s\n" "${COMPREPLY[@]}" | grep -qx serve'
check "zsh and fish completions" test -s /usr/share/zsh/vendor-completions/_prefixbl -a -s /usr/share/fish/vendor_completions.d/prefixbl.fish
check "DocC articles under /usr/share/doc/prefixbl" bash -c 'ls /usr/share/doc/prefixbl/DNSBLServer/ | grep -q "^Operations.md"'

# Purge: nothing of the package is left but the system user (kept, as Debian does).
dpkg --purge prefixbl
left=$(ls -d /usr/sbin/prefixbl /etc/default/prefixbl /lib/systemd/system/prefixbl.* \
  /etc/systemd/system/*/prefixbl.* /usr/share/doc/prefixbl /usr/share/man/man*/prefixbl* \
  /usr/share/bash-completion/completions/prefixbl /var/log/prefixbl /var/lib/prefixbl \
  /var/lib/systemd/deb-systemd-helper-enabled/*prefixbl* 2>/dev/null || true)
check "purge leaves no file of the package (left: ${left:-none})" test -z "$left"
check "purge: dpkg knows nothing of prefixbl" bash -c "! dpkg-query -W prefixbl >/dev/null 2>&1"
check "purge keeps the system user prefixbl (Debian practice)" getent passwd prefixbl

echo "package test: $passes checks ok, $fails failed"
[ "$fails" = 0 ]

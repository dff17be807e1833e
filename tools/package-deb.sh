#!/usr/bin/env bash
# Builds the Debian package prefixbl_<version>_amd64.deb into .build-deb/deb/ (prints its path last).
# The Swift runtime and Foundation are linked statically (--static-swift-stdlib), so the package
# installs on Debian 12 without the Swift toolchain; Depends: is computed by dpkg-shlibdeps from
# what the binary really loads (libc6, libldns3, zlib1g, …). No debhelper: the package's files
# are in tools/deb/ (units, /etc/default/prefixbl, maintainer scripts) and assembled here.
# It builds in its own directory, .build-deb (the flags differ from a plain release build, and
# SwiftPM recompiles everything when they change: 7 min here), so .build/release is left alone.
# Usage: tools/package-deb.sh [--skip-build]   (--skip-build: package .build-deb/release/prefixbl as is)
# Environment: DEB_MAINTAINER (default below), DEB_REVISION (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools/install-build-deps.sh dpkg-dev patchelf python3

upstream=$(tools/version.sh --debian)
version=$upstream-${DEB_REVISION:-1}
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-prefixbl maintainers <prefixbl@bl.example>}
# Reproducible timestamps (man pages, changelog, archive members): the commit's time.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

export PREFIXBL_SCRATCH=.build-deb
if [ "${1:-}" != --skip-build ]; then
  # --static-swift-stdlib links the Swift runtime, Foundation and Dispatch statically on Linux
  # (checked with ldd below). -z now: the GOT read-only after start (lintian: bindnow).
  swift build -c release --static-swift-stdlib -Xlinker -z -Xlinker now --product prefixbl \
    --scratch-path "$PREFIXBL_SCRATCH" >&2
fi
bin=$PREFIXBL_SCRATCH/release/prefixbl
swiftlib=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/lib
if ldd "$bin" | grep -F "$swiftlib"; then
  echo "package-deb: $bin loads libraries from the Swift toolchain ($swiftlib)" >&2; exit 1
fi

work=$PREFIXBL_SCRATCH/deb
stage=$work/prefixbl_${version}_$arch
rm -rf "$stage"; mkdir -p "$stage/DEBIAN"
doc=$stage/usr/share/doc/prefixbl

# The binary, stripped as dh_strip does; no RUNPATH (SwiftPM sets $ORIGIN, for libraries beside
# the binary; there are none).
install -D -m 0755 "$bin" "$stage/usr/sbin/prefixbl"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/prefixbl"
if readelf -d "$stage/usr/sbin/prefixbl" | grep -qE 'R(UN)?PATH'; then
  patchelf --remove-rpath "$stage/usr/sbin/prefixbl"
fi
run() { "$stage/usr/sbin/prefixbl" "$@"; }

# systemd units and the configuration (a conffile).
install -D -m 0644 tools/deb/prefixbl.service "$stage/lib/systemd/system/prefixbl.service"
install -D -m 0644 tools/deb/prefixbl.socket "$stage/lib/systemd/system/prefixbl.socket"
install -D -m 0644 tools/deb/default "$stage/etc/default/prefixbl"
echo /etc/default/prefixbl >"$stage/DEBIAN/conffiles"
install -m 0755 tools/deb/postinst tools/deb/prerm tools/deb/postrm "$stage/DEBIAN/"

# Man pages from the ArgumentParser definitions, one per subcommand: section 8 for prefixbl
# itself (it is in /usr/sbin) and the daemon entry points (serve, rbldnsd), section 1 for the rest.
tools/deb/man-pages.sh "$stage/usr/sbin/prefixbl" "$stage/usr/share/man"

# Shell completions, where Debian's bash-completion, zsh and fish look.
install -d "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
  "$stage/usr/share/fish/vendor_completions.d"
# (bash's is sourced, not run: no #! line)
run --generate-completion-script bash | sed '1{/^#!/d}' >"$stage/usr/share/bash-completion/completions/prefixbl"
run --generate-completion-script zsh >"$stage/usr/share/zsh/vendor-completions/_prefixbl"
run --generate-completion-script fish >"$stage/usr/share/fish/vendor_completions.d/prefixbl.fish"

# Documentation: the README and the DocC articles as markdown, one folder per catalog.
install -D -m 0644 README.md "$doc/README.md"
for catalog in Sources/*/*.docc; do
  name=$(basename "$catalog" .docc)
  find "$catalog" -name '*.md' | sort | while read -r f; do
    install -D -m 0644 "$f" "$doc/$name/${f#"$catalog"/}"
  done
done
install -m 0644 tools/deb/README.Debian "$doc/README.Debian"
tools/deb/copyright.sh >"$doc/copyright"
{
  printf 'prefixbl (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Built from %s (git describe: %s).\n\n' \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(tools/version.sh)"
  printf ' -- %s  %s\n' "$maintainer" "$(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} >"$doc/changelog.Debian"
# As dh_compress: changelogs always, other documents over 4 KiB.
gzip -9n "$doc/changelog.Debian"
find "$doc" -type f -size +4k ! -name '*.gz' ! -name copyright -exec gzip -9n {} +

# Each override there is justified in a comment.
if grep -q '^[^#]' tools/deb/lintian-overrides 2>/dev/null; then
  install -D -m 0644 tools/deb/lintian-overrides "$stage/usr/share/lintian/overrides/prefixbl"
fi

# Depends: from the binary's shared-library needs (dpkg-shlibdeps wants a debian/control).
mkdir -p "$work/shlibs/debian"
printf 'Source: prefixbl\n\nPackage: prefixbl\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$root/$stage/usr/sbin/prefixbl" | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

installed=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: prefixbl
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed
Depends: $shlibs, adduser
Section: net
Priority: optional
Description: aggregating DNS blocklist (DNSBL) server for IPv6 and IPv4
 prefixbl answers DNSBL queries (RFC 5782) by prefix: an address inside a
 listed IPv6 /64, /56, /48 or any other prefix is listed, and exclusions
 punch holes. It reads rbldnsd's data files and zone:type:file specs and
 answers like rbldnsd, over UDP and TCP, with EDNS0, truncation and reloads
 without a pause; it can feed standard secondaries by AXFR and IXFR.
 .
 The prefixbl command also compiles listings into a memory-mapped prefix
 store, checks and dumps them, and queries a DNSBL server for an address.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=$work/prefixbl_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$root/$deb"

#!/usr/bin/env bash
# Writes the man pages of BINARY into MANDIR/man1 and MANDIR/man8, gzipped (-9n), one page per
# subcommand, from its ArgumentParser definitions: swift-argument-parser's own generate-manual
# tool (the one its `generate-manual` plugin runs) reads `BINARY --experimental-dump-help`.
# The tool is built from the resolved argument-parser checkout on its own; the plugin would
# rebuild the whole package without --static-swift-stdlib first (measured: 7 min, and it
# replaced the static binary). prefixbl(8) itself (it is in /usr/sbin) and serve and rbldnsd,
# the daemon entry points, go to section 8, the other subcommands to section 1. Pages are named prefixbl-SUBCOMMAND, as Debian names git-commit(1).
# Usage: tools/deb/man-pages.sh BINARY MANDIR
set -euo pipefail
bin=$(readlink -f "$1") mandir=$2
cd "$(dirname "$0")/../.."
scratch=${PREFIXBL_SCRATCH:-.build}   # the build directory whose checkouts to use
parser=$scratch/checkouts/swift-argument-parser
[ -d "$parser" ] || swift package resolve --scratch-path "$scratch"
swift build --package-path "$parser" --scratch-path "$scratch/generate-manual" -c release --product generate-manual >&2
tool=$scratch/generate-manual/release/generate-manual
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
daemons="serve rbldnsd"   # and the root page

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for section in 1 8; do
  mkdir -p "$tmp/$section"
  "$tool" "$bin" --multi-page --section "$section" --date "$date" -o "$tmp/$section" >&2
done
install -d "$mandir/man1" "$mandir/man8"
for page in "$tmp"/1/*.1; do
  name=$(basename "$page" .1)           # prefixbl or prefixbl.SUBCOMMAND
  sub=${name#prefixbl}; sub=${sub#.}
  [ "$sub" != help ] || continue         # `prefixbl help` only repeats the pages
  section=1; case " $daemons " in *" $sub "*) section=8 ;; esac; [ -n "$sub" ] || section=8
  out=$mandir/man$section/${name//./-}.$section
  # prefixbl.SUB -> prefixbl-SUB in titles and cross references, daemons' references to section 8,
  # the command as typed (prefixbl SUB) in the synopsis, no reference to the help page, and a
  # paragraph break (.Pp) for an empty line of a discussion (man warns about empty lines).
  sed -e '/^\.Xr prefixbl\.help /d' -e 's/^$/.Pp/' \
      -e 's/^\(\.Dt PREFIXBL\)\./\1-/' \
      -e 's/^\(\.Xr prefixbl\)\./\1-/' \
      -e 's/^\.Nm "prefixbl \([a-z0-9-]*\)"$/.Nm "prefixbl-\1"/' \
      -e "s/^\.Nm\$/.Nm \"prefixbl${sub:+ $sub}\"/" \
      "$tmp/$section/$name.$section" >"$out"
  for d in $daemons; do sed -i "s/^\.Xr prefixbl-$d 1/.Xr prefixbl-$d 8/" "$out"; done
  sed -i 's/^\.Xr prefixbl 1/.Xr prefixbl 8/' "$out"
  gzip -9n "$out"
done

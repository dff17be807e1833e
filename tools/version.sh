#!/bin/sh
# prefixbl's version, from `git describe` of the checkout (release tags are vX.Y.Z, annotated,
# on main; see README "Versions").
#   tools/version.sh               1.2.3 | 1.2.3-4-gabc1234 | 0.0.0+gabc1234 (no tag yet) | 0.0.0+unknown
#                                  (no git); "-dirty" / "+dirty" / ".dirty" appended for uncommitted changes
#   tools/version.sh --debian      the Debian package version: 1.2.3 | 1.2.3+git<UTC commit time>.4.abc1234
#                                  | 0.0.0~git<UTC commit time>.abc1234 (sorts below any release)
#   tools/version.sh --swift FILE  writes FILE, the Swift source `prefixbl --version` prints from,
#                                  only when its text changes (run by the VersionStamp build plugin)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd -P)
d="" stamp=""
# Only prefixbl's own repository: a source tree unpacked inside another one is "unknown".
if [ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" = "$root" ]; then
  d=$(git -C "$root" describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null) || d=""
  stamp=$(TZ=UTC git -C "$root" log -1 --format=%cd --date=format-local:%Y%m%d%H%M 2>/dev/null) || stamp=""
fi
dirty=""
case "$d" in *-dirty) dirty=1; d=${d%-dirty} ;; esac
tag="" count="" hash=""
case "$d" in
  "") ;;
  v[0-9]*-[0-9]*-g[0-9a-f]*)
    hash=${d##*-g}; rest=${d%-g*}; count=${rest##*-}; tag=${rest%-*}; tag=${tag#v} ;;
  v[0-9]*) tag=${d#v} ;;
  *) hash=$d ;;
esac

if [ -n "$tag" ] && [ -z "$hash" ]; then
  plain=$tag; debian=$tag; [ -z "$dirty" ] || { plain=$plain+dirty; debian=$debian+dirty; }
elif [ -n "$tag" ]; then
  plain=$tag-$count-g$hash; debian=$tag+git$stamp.$count.$hash
  [ -z "$dirty" ] || { plain=$plain-dirty; debian=$debian.dirty; }
elif [ -n "$hash" ]; then
  plain=0.0.0+g$hash; debian=0.0.0~git$stamp.$hash
  [ -z "$dirty" ] || { plain=$plain.dirty; debian=$debian.dirty; }
else
  plain=0.0.0+unknown; debian=0.0.0~unknown
fi

case "${1:-}" in
  "") echo "$plain" ;;
  --debian) echo "$debian" ;;
  --swift)
    text="// Generated at build time by tools/version.sh (git describe); not in git.
let prefixblVersion = \"$plain\""
    [ "$(cat "$2" 2>/dev/null)" = "$text" ] || { mkdir -p "$(dirname "$2")"; printf '%s\n' "$text" >"$2"; } ;;
  *) echo "usage: tools/version.sh [--debian | --swift FILE]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The module table: per Swift module under Sources/ (then per test target under Tests/), its
# Swift lines, files and the modules it imports (system modules Glibc, Darwin, Foundation,
# Dispatch and Synchronization left out).
# Usage: tools/module-table.sh [REV]   (default: the working tree; REV: any commit, e.g. 10e745d)
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-}"
list() {
  if [ -n "$rev" ]; then git ls-tree -r --name-only "$rev" -- "$top"; else git ls-files --cached --others --exclude-standard -- "$top"; fi
}
show() { if [ -n "$rev" ]; then git show "$rev:$1"; else cat "$1"; fi; }
for top in Sources Tests; do
  printf '%-18s %6s %5s  %s\n' "$top" lines files imports
  total_lines=0; total_files=0
  for module in $(list | grep '\.swift$' | cut -d/ -f2 | sort -u); do
    lines=0; files=0; imports=""
    for f in $(list | grep "^$top/$module/.*\.swift$"); do
      [ -n "$rev" ] || [ -f "$f" ] || continue
      text="$(show "$f")"
      lines=$((lines + $(printf '%s\n' "$text" | wc -l)))
      files=$((files + 1))
      imports="$imports $(printf '%s\n' "$text" | sed -n -E 's/^(@[A-Za-z_]+ )?((public|package|internal) )?import ([A-Za-z_0-9]+).*/\4/p' | tr '\n' ' ')"
    done
    imports="$(printf '%s\n' $imports | { grep -v -x -E 'Glibc|Darwin|Foundation|Dispatch|Synchronization' || true; } | sort -u | tr '\n' ' ')"
    printf '%-18s %6d %5d  %s\n' "$module" "$lines" "$files" "$imports"
    total_lines=$((total_lines + lines)); total_files=$((total_files + files))
  done
  printf '%-18s %6d %5d\n' total "$total_lines" "$total_files"
  echo
done

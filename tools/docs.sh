#!/usr/bin/env bash
# Builds the DocC catalog of every target that has one (Sources/T/T.docc), warnings as errors:
# a broken symbol or article link fails the run.
# Usage: tools/docs.sh [TARGET...]   (default: every target with a catalog)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in Sources/*/*.docc; do targets+=("$(basename "$(dirname "$d")")"); done
fi
out=.build/docs
mkdir -p "$out"
for t in "${targets[@]}"; do
  echo "docs: $t"
  swift package --allow-writing-to-directory "$out" generate-documentation --target "$t" \
    --output-path "$out/$t.doccarchive" --warnings-as-errors
done

#!/usr/bin/env bash
# Runs every fuzz target of tl/ one at a time for the given duration each (default 10m).
# Usage: scripts/fuzz-tl.sh [duration]   e.g. scripts/fuzz-tl.sh 30s
# New crashers land in tl/<pkg>/testdata/fuzz/<Target>/ (commit them: they become regression tests).
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-10m}"
targets=(
  "./tl/api FuzzAPIDecode"
  "./tl/api FuzzGzipPacked"
  "./tl/api FuzzEncodeLayer"
  "./tl/mt FuzzMTDecode"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "== $name ($pkg) for $dur"
  go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$dur"
done

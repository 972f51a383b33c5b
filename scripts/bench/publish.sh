#!/usr/bin/env bash
# Copy the last `make bench` run from bench/results/ (gitignored) to
# docs/bench/ (committed), where BENCHMARKS.md links the plots and tables.
# The numbers in BENCHMARKS.md itself are edited by hand from results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${OUT:-bench/results} dst=docs/bench
[ -f "$src/results.md" ] || { echo "no run in $src: make bench first" >&2; exit 1; }
mkdir -p "$dst"
cp "$src"/*.png "$src/results.md" "$src/runs.csv" "$src/summary.csv" "$src/meta.txt" "$dst/"
echo "copied to $dst: $(cd "$dst" && echo *)"

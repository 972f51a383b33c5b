#!/usr/bin/env bash
# demo.sh: the main job on the bundled loopback server: 2,000 URLs that
# each take 100 ms to answer, fetched on 100 threads, beside the time the
# same work takes one by one. Run by `make demo`; BUILD names the build
# directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
N=2000
LATENCY_MS=100
THREADS=100

for bin in fetchpool fp-testserver; do
  if [ ! -x "$BUILD/$bin" ]; then
    echo "demo: $BUILD/$bin is missing; run: make $BUILD/fetchpool $BUILD/fp-testserver" >&2
    exit 2
  fi
done

dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server prints "PORT RAWPORT" once it listens.
"$BUILD/fp-testserver" --latency-ms "$LATENCY_MS" >"$dir/ports" &
server_pid=$!
port=
for _ in $(seq 100); do
  if read -r port _ <"$dir/ports" 2>/dev/null && [ -n "$port" ]; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "demo: the test server did not start" >&2; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "demo: no port from the test server" >&2; exit 1; }

# Half the jobs fetch /hello, half /text/<i> (each answers its own number).
awk -v n="$N" -v base="http://127.0.0.1:$port" \
  'BEGIN { for (i = 0; i < n; i++) print (i % 2 ? base "/hello" : base "/text/" i) }' \
  >"$dir/urls.txt"

echo "fetchpool demo: $N URLs on a loopback server that answers each after $LATENCY_MS ms"
echo
echo "\$ fetchpool --threads $THREADS urls.txt -o records.jsonl"
status=0
"$BUILD/fetchpool" --threads "$THREADS" -o "$dir/records.jsonl" \
  --stats-json "$dir/stats.json" "$dir/urls.txt" || status=$?
echo

echo "first records (one JSON object per line, in completion order):"
head -n 2 "$dir/records.jsonl" | sed 's/^/  /'
echo

wall=$(sed -n 's/.*"wall_s":\([0-9.eE+-]*\).*/\1/p' "$dir/stats.json")
ok=$(grep -c '"ok":true' "$dir/records.jsonl" || true)
awk -v n="$N" -v ms="$LATENCY_MS" -v wall="$wall" -v t="$THREADS" -v ok="$ok" 'BEGIN {
  seq = n * ms / 1000
  printf "  one by one (computed, not run): %d x %d ms = %.0f s\n", n, ms, seq
  printf "  fetchpool, %d threads:          %.2f s for %d ok records, %.0fx faster\n", t, wall, ok, seq / wall
  printf "\n  (the seed use case: 10,000 requests at 1 s each take %.1f hours one by one;\n", 10000 / 3600
  printf "   at %d threads about %.0f s)\n", t, 10000 / t
}'
if [ "$status" -ne 0 ] || [ "$ok" -ne "$N" ]; then
  echo "demo: fetchpool exited with $status and $ok of $N records ok" >&2
  exit 1
fi

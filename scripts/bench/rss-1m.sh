#!/usr/bin/env bash
# Peak RSS of fetchpool on N URLs (default 1,000,000) at 64 threads against
# the loopback nginx, median of RUNS runs (default 3). Prints one line per
# run and a median line; the figure reported in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000} THREADS=${THREADS:-64} RUNS=${RUNS:-3} PORT=${PORT:-18080}
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'scripts/bench/nginx.sh stop "$dir"; rm -rf "$dir"' EXIT
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
make -s "$BUILD/fetchpool"
scripts/bench/nginx.sh start "$dir" "$PORT"
seq 0 $((N - 1)) | sed "s|^|http://127.0.0.1:$PORT/tiny/|" >"$dir/urls.txt"
rss=()
for r in $(seq "$RUNS"); do
  /usr/bin/time -f "%M %e" -o "$dir/time" "$BUILD/fetchpool" -t "$THREADS" -q --no-progress \
    --stats-json "$dir/stats.json" -o /dev/null "$dir/urls.txt" || true
  read -r kb secs <"$dir/time"
  ok=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$dir/stats.json")
  echo "run $r: $N URLs, $THREADS threads: $ok ok, peak RSS $((kb / 1024)) MiB ($kb KiB), wall ${secs} s, $(echo "$N / $secs" | bc) req/s"
  rss+=("$kb")
done
median=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "median peak RSS: $((median / 1024)) MiB ($median KiB) over $RUNS runs"

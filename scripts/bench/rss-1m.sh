#!/usr/bin/env bash
# Peak RSS of fetchpool on N URLs (default 1,000,000) at 64 threads against
# the loopback nginx, median of RUNS runs (default 3). Prints one line per
# run and a median line; the figure reported in BENCHMARKS.md.
# ENGINE=NAME adds --engine NAME (for builds that have more than one engine).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000} THREADS=${THREADS:-64} RUNS=${RUNS:-3} PORT=${PORT:-18080}
BUILD=${BUILD:-build} ENGINE=${ENGINE:-} TMO=${TMO:-600}
engine_opt=()
[ -n "$ENGINE" ] && engine_opt=(--engine "$ENGINE")
dir=$(mktemp -d)
trap 'scripts/bench/nginx.sh stop "$dir"; rm -rf "$dir"' EXIT
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
make -s "$BUILD/fetchpool"
scripts/bench/nginx.sh start "$dir" "$PORT"
seq 0 $((N - 1)) | sed "s|^|http://127.0.0.1:$PORT/tiny/|" >"$dir/urls.txt"
rss=()
for r in $(seq "$RUNS"); do
  rm -f "$dir/stats.json"
  /usr/bin/time -f "%M %e %U %S" -o "$dir/time" timeout -k 5 "$TMO" "$BUILD/fetchpool" "${engine_opt[@]}" -t "$THREADS" -q --no-progress \
    --stats-json "$dir/stats.json" -o /dev/null "$dir/urls.txt" || true
  # the last line: time puts "Command exited with non-zero status" before it
  read -r kb secs usr sys < <(tail -n 1 "$dir/time")
  ok=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$dir/stats.json" 2>/dev/null || true)
  echo "run $r: $N URLs, $THREADS threads: $ok ok, peak RSS $((kb / 1024)) MiB ($kb KiB), wall ${secs} s, $(echo "$N / $secs" | bc) req/s, cpu ${usr}+${sys} s"
  rss+=("$kb")
done
median=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "median peak RSS: $((median / 1024)) MiB ($median KiB) over $RUNS runs"

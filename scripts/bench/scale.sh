#!/usr/bin/env bash
# Scale-out benchmark: the same jobs through Redis Streams on 1, 2 and 4
# fetchpool workers against a latency-bound server (nginx, every response
# 100 ms late), so the limit is latency, not CPU: N workers of T threads
# should approach N x T / 0.1 s requests a second.
#   scripts/bench/scale.sh            (make bench-scale)
# Environment: BUILD [build], JOBS [4000], THREADS per worker [50],
#   WORKERS ["1 2 4"], RUNS [3], OUT [bench/results]
# Writes OUT/scale.csv (every run) and OUT/scale.md (medians).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build} JOBS=${JOBS:-4000} THREADS=${THREADS:-50}
WORKERS=${WORKERS:-"1 2 4"} RUNS=${RUNS:-3} OUT=${OUT:-bench/results}
fp=$BUILD/fetchpool
[ -x "$fp" ] || { echo "no $fp: make first" >&2; exit 1; }
command -v redis-server >/dev/null || scripts/install-deps.sh
mkdir -p "$OUT"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nport=$(free_port) rport=$(free_port)
redis_pid=""
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  scripts/bench/nginx.sh stop "$work/nginx" || true
  rm -rf "$work"
}
trap cleanup EXIT
scripts/bench/nginx.sh start "$work/nginx" "$nport"
# no persistence: this measures the workers, not the disk
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis="redis://127.0.0.1:$rport"
awk -v n="$JOBS" -v u="http://127.0.0.1:$nport/sleep/0.1" \
  'BEGIN { for (i = 0; i < n; i++) print u }' >"$work/jobs.txt"

echo "workers,threads,run,jobs,wall_s,req_per_s,ok" >"$OUT/scale.csv"
for n in $WORKERS; do
  for run in $(seq "$RUNS"); do
    redis-cli -p "$rport" flushall >/dev/null
    "$fp" enqueue -q --redis "$redis" --stream bench "$work/jobs.txt"
    start=$(date +%s.%N)
    pids=()
    for i in $(seq "$n"); do
      timeout 300 "$fp" worker -q --redis "$redis" --stream bench --consumer "w$i" \
        -t "$THREADS" --until-empty &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || echo "worker exited $?" >&2; done
    end=$(date +%s.%N)
    ok=$("$fp" results -q --redis "$redis" --stream bench | grep -c '"ok":true' || true)
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    rps=$(awk -v j="$JOBS" -v w="$wall" 'BEGIN { print j / w }')
    printf "%s,%s,%s,%s,%.3f,%.1f,%s\n" "$n" "$THREADS" "$run" "$JOBS" "$wall" "$rps" "$ok" |
      tee -a "$OUT/scale.csv"
  done
done

/usr/bin/python3 - "$OUT/scale.csv" "$JOBS" "$THREADS" >"$OUT/scale.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
jobs, threads = int(sys.argv[2]), int(sys.argv[3])
by = {}
for r in rows:
    by.setdefault(int(r["workers"]), []).append(r)
print(f"{jobs} jobs of 100 ms, {threads} threads per worker, medians of "
      f"{len(next(iter(by.values())))} runs\n")
print("| workers | wall s | req/s | ideal req/s | of ideal | speed-up vs 1 | ok records |")
print("|---|---|---|---|---|---|---|")
base = None
for n in sorted(by):
    wall = statistics.median(float(r["wall_s"]) for r in by[n])
    rps = jobs / wall
    ideal = n * threads / 0.1
    base = base or rps
    ok = min(int(r["ok"]) for r in by[n])
    print(f"| {n} | {wall:.2f} | {rps:,.0f} | {ideal:,.0f} | {rps / ideal:.2f} | "
          f"{rps / base:.2f}x | {ok} |")
EOF
cat "$OUT/scale.md"

#!/usr/bin/env bash
# Politeness and how many threads (issue 18): `make bench-politeness`.
#
# The eight targets of issue 18, each cell one fetchpool run with a time
# limit: fixed -t 4/16/64/256 against -t auto where it applies. Targets 1-7
# run against build/fp-testserver (its /cap and /cooldown routes; distinct
# hosts h1.test ... h8.test come from --resolve), a fresh server per run;
# target 8 against the bench nginx (scripts/bench/nginx.sh). Options the
# build lacks (-t auto, --max-threads, --per-host-rate, --no-host-cooldown)
# are probed by running one job with them; their cells say "n/a: option
# missing in this build". The runs themselves: scripts/bench/politeness.py.
#
# Settings (environment or make command line), defaults in brackets:
#   QUICK=1     sanity mode: -t 16 and 64 only, smaller job counts (~3 min)
#   THREADS     fixed thread counts ["4 16 64 256"; QUICK: "16 64"]
#               (target 6 adds 8 and 32, target 8 uses 64 and 500)
#   TARGETS     which targets ["1 2 3 4 5 6 7 8 9"]; 9 is three
#               `fetchpool worker`s through Redis against one API
#   ENGINES     fetchpool engines ["threads"; e.g. "threads multi hybrid"]
#   TMO         seconds before a run is killed [300; QUICK: 60]
#   BUDGET      seconds of measuring, after which cells are skipped and
#               marked so [5400; QUICK: 300]
#   BASE_FP     another build's fetchpool: target 8 runs its fixed cells
#               with it too (CPU per request of the fixed path)
#   OUT         output directory [bench/results-politeness]
#   BUILD       build directory [build]
# Writes OUT/results.md, runs.csv, hosts.csv, starts.csv, t6.csv,
# politeness.png (+ .gp), logs/ (each run's command, stderr, stats JSON)
# and jobs/ (each run's input).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/scripts/bench
BUILD=${BUILD:-build}
OUT=${OUT:-bench/results-politeness}
QUICK=${QUICK:-0}
case "$QUICK" in 0 | "" | no | false) QUICK=0 ;; *) QUICK=1 ;; esac
TARGETS=${TARGETS:-"1 2 3 4 5 6 7 8 9"}

log() { printf '[politeness %4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- dependencies (Debian packages, installed only when missing) -----------
need=()
[ -x /usr/bin/python3 ] || need+=(python3)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v curl >/dev/null || need+=(curl)
command -v redis-server >/dev/null || need+=(redis-server)
# shellcheck source=scripts/bench/lib.sh
. "$here/lib.sh"
install_missing ${need[@]+"${need[@]}"}
[ -x "$BUILD/fetchpool" ] || die "$BUILD/fetchpool not built (make first)"
[ -x "$BUILD/fp-testserver" ] || die "$BUILD/fp-testserver not built (make $BUILD/fp-testserver)"

# 256 threads and the server's connections need descriptors
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

mkdir -p "$OUT"
rm -rf "$OUT/logs" "$OUT/jobs"
rm -f "$OUT"/*.csv "$OUT"/*.md "$OUT"/*.png "$OUT"/*.gp
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)

# --- the bench nginx, for target 8 -------------------------------------------
tmp=$(mktemp -d /tmp/fetchpool-politeness.XXXXXX)
chmod 755 "$tmp"
nginx_started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ "$nginx_started" = 1 ] && "$here/nginx.sh" stop "$tmp/nginx" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM
NGINX_BASE=""
if grep -qw 8 <<<"$TARGETS"; then
  port=""
  for p in $(seq 18190 18389); do # first port with no listener
    if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then port=$p; break; fi
  done
  [ -n "$port" ] || die "no free port for nginx"
  "$here/nginx.sh" start "$tmp/nginx" "$port" || die "nginx did not start"
  nginx_started=1
  NGINX_BASE=http://127.0.0.1:$port
  log "nginx on $NGINX_BASE"
fi

log "running the targets ($TARGETS), quick=$QUICK, results in $OUT"
QUICK=$QUICK OUT=$OUT BUILD=$BUILD TARGETS=$TARGETS NGINX_BASE=$NGINX_BASE \
  /usr/bin/python3 "$here/politeness.py" 2>&1 | tee "$OUT/logs/politeness.log" >&2
cat "$OUT/results.md"

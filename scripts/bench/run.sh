#!/usr/bin/env bash
# The benchmark lab behind `make bench` (see BENCHMARKS.md).
#
# Starts nginx (Debian's nginx-light + echo module, one worker) on a free
# loopback port, runs every client on the same URL lists against it, and
# writes to bench/results/: runs.csv (every run), summary.csv and
# results.json (medians), results.md (tables), *.png (gnuplot) and logs/.
#
# Settings (environment or make command line), defaults in brackets:
#   QUICK=1          sanity mode: 1 run, 1-2 concurrencies, small counts (< 2 min)
#   RUNS             runs per cell [3; QUICK: 1]
#   ENGINES          fetchpool engines [threads, plus multi and hybrid when
#                    `fetchpool --help` lists them under --engine]
#   CLIENTS          restrict to these clients [all, see CLIENT NAMES below]
#   WORKLOADS        restrict to these workloads [tiny 100ms mixed 100k];
#                    WORKLOADS= (empty) runs none of them, e.g. for TLS only
#   CONC             concurrencies [1 8 64 512 2048; QUICK: 64]
#   LAT_CONC         concurrencies for 100ms [1 8 50 64 500 512 2048; QUICK: 50 500]
#   request counts   TINY_R BIG_R LAT_R LAT_MULT MIX_R MIX_MULT MIN_WAVES CAP_*: see
#                    req_count below and the table header of results.md
#   MEM_THREADS      memory sweep thread counts [64 1000 6000 10000; QUICK: 64 1000]
#   MEM=0, RSS1M=0   leave out the memory sweep / the 1,000,000-URL run
#   TMO              seconds before a client invocation is killed [300; QUICK: 60]
#   BUDGET           seconds of measuring (setup and installs not counted)
#                    after which remaining cells are skipped and marked so
#                    [1800; QUICK: 110]
#   OUT              output directory [bench/results]
#   TLS=0            leave out the HTTPS workloads: tls-tiny-h1, tls-tiny-h2,
#                    tls-100ms-h1, tls-100ms-h2 (TLS_WORKLOADS to pick some);
#                    h1 is an nginx port that speaks HTTP/1.1 only, h2 one
#                    that offers HTTP/2 (clients that cannot speak it use
#                    HTTP/1.1 there, and the protocol column says so)
#   TLS_CONC         their concurrencies [8 64 512; QUICK: 8 64]
#   TLS_TINY_R       requests of tls-tiny [10000; QUICK: 1000]; tls-100ms
#                    runs min(LAT_R, LAT_MULT N) as 100ms does
#   TLS_CLIENTS      their clients [the fetchpool engines, curl-parallel,
#                    curl-parallel-mux, py-threads, py-aiohttp,
#                    py-fetchpool-submit]
#   TLS_BUDGET       seconds of measuring for them, counted apart from BUDGET
#                    [2400; QUICK: 120]
#   TLS_KEY          key type of the CA and server certificate [ec:P-256;
#                    or rsa:2048]
#
# TLS workloads: clients verify nginx's certificate against a CA made at
# setup (--cacert); for each run the server's log is emptied, and then
# counted (tls.csv): TCP connections accepted (nginx's stub_status), those
# that carried requests, full TLS handshakes and resumed ones (per
# connection, $ssl_session_reused), the protocols ($server_protocol). A
# client whose build lacks an option the cell needs (fetchpool --http2, the
# Python binding's http_version) gets a row marked n/a, never a figure.
#
# Client names: fetchpool-ENGINE, curl-parallel, py-threads, py-aiohttp,
# py-aiohttp-chunked (100ms and mixed only), py-fetchpool-submit,
# py-fetchpool-all, py-fetchpool-async (the Python package: submit +
# as_completed, fetch_all, asyncio await pool.fetch), xargs-curl, wrk;
# TLS only: curl-parallel-mux (curl --parallel without
# --parallel-immediate: it waits to multiplex new transfers over an HTTP/2
# connection, CURLOPT_PIPEWAIT, instead of opening one per transfer).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/scripts/bench

QUICK=${QUICK:-0}
case "$QUICK" in 0 | "" | no | false) QUICK=0 ;; *) QUICK=1 ;; esac
if [ "$QUICK" = 1 ]; then
  # one concurrency for tiny and 100k and fewer xargs runs, so that every
  # workload, the memory sweep and the 1m run fit the budget
  RUNS=${RUNS:-1} CONC=${CONC:-"64"} LAT_CONC=${LAT_CONC:-"50 500"}
  TMO=${TMO:-60} BUDGET=${BUDGET:-110} WRK_D=${WRK_D:-1} MIN_WAVES=${MIN_WAVES:-1}
  TINY_R=${TINY_R:-5000} BIG_R=${BIG_R:-1000}
  LAT_R=${LAT_R:-500} LAT_MULT=${LAT_MULT:-10} MIX_R=${MIX_R:-500} MIX_MULT=${MIX_MULT:-5}
  # per-client caps (slow clients take a prefix of the same list)
  CAP_TINY_PYT=${CAP_TINY_PYT:-1000} CAP_TINY_AIO=${CAP_TINY_AIO:-2000}
  CAP_BIG_PYT=${CAP_BIG_PYT:-500} CAP_BIG_AIO=${CAP_BIG_AIO:-500} CAP_XARGS=${CAP_XARGS:-100}
  RSS1M_N=${RSS1M_N:-100000} MEM_THREADS=${MEM_THREADS:-"64 1000"}
  TLS_CONC=${TLS_CONC:-"8 64"} TLS_TINY_R=${TLS_TINY_R:-1000} TLS_BUDGET=${TLS_BUDGET:-120}
else
  RUNS=${RUNS:-3} CONC=${CONC:-"1 8 64 512 2048"} LAT_CONC=${LAT_CONC:-"1 8 50 64 500 512 2048"}
  TMO=${TMO:-300} BUDGET=${BUDGET:-1800} WRK_D=${WRK_D:-2} MIN_WAVES=${MIN_WAVES:-2}
  TINY_R=${TINY_R:-20000} BIG_R=${BIG_R:-5000}
  LAT_R=${LAT_R:-2000} LAT_MULT=${LAT_MULT:-20} MIX_R=${MIX_R:-2000} MIX_MULT=${MIX_MULT:-10}
  CAP_TINY_PYT=${CAP_TINY_PYT:-5000} CAP_TINY_AIO=${CAP_TINY_AIO:-10000}
  CAP_BIG_PYT=${CAP_BIG_PYT:-2000} CAP_BIG_AIO=${CAP_BIG_AIO:-2000} CAP_XARGS=${CAP_XARGS:-500}
  RSS1M_N=${RSS1M_N:-1000000}
  TLS_CONC=${TLS_CONC:-"8 64 512"} TLS_TINY_R=${TLS_TINY_R:-10000} TLS_BUDGET=${TLS_BUDGET:-2400}
fi
TLS=${TLS:-1}
TLS_WORKLOADS=${TLS_WORKLOADS:-"tls-tiny-h1 tls-tiny-h2 tls-100ms-h1 tls-100ms-h2"}
WORKLOADS=${WORKLOADS-"tiny 100ms mixed 100k"} # set and empty: none (e.g. TLS only)
MEM_THREADS=${MEM_THREADS:-"64 1000 6000 10000"}
MEM=${MEM:-1} RSS1M=${RSS1M:-1}
BUILD=${BUILD:-build}
OUT=${OUT:-bench/results}
FP=$root/$BUILD/fetchpool
CURL_CAP=300 # curl's MAX_PARALLEL: larger --parallel-max values are cut to 300

log() { printf '[bench %4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- dependencies (Debian packages, installed only when missing) -----------
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v curl >/dev/null || need+=(curl)
command -v wrk >/dev/null || need+=(wrk)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/python3 ] || need+=(python3)
/usr/bin/python3 -c 'import requests' 2>/dev/null || need+=(python3-requests)
/usr/bin/python3 -c 'import aiohttp' 2>/dev/null || need+=(python3-aiohttp)
/usr/bin/python3 -c 'import cffi' 2>/dev/null || need+=(python3-cffi)
# shellcheck source=scripts/bench/lib.sh
. "$here/lib.sh"
install_missing ${need[@]+"${need[@]}"}
[ -x "$FP" ] || die "$FP not built (run make first)"
# the py-fetchpool clients: the package from python/, on this build's library
export FETCHPOOL_LIBRARY=$root/$BUILD/libfetchpool.so.1
export PYTHONPATH=$root/python${PYTHONPATH:+:$PYTHONPATH}

# --- engines: threads, plus whatever --engine lists ------------------------
help=$("$FP" --help 2>&1 || true)
if [ -z "${ENGINES:-}" ]; then
  ENGINES=threads
  if grep -q -- '--engine' <<<"$help"; then
    ENGINES="threads multi"
    grep -qw hybrid <<<"$help" && ENGINES="$ENGINES hybrid"
  fi
fi
has_opt() { # fetchpool --help lists option $1 (whole, not as a prefix)
  grep -qE -- "(^|[[:space:],])$1([[:space:],=]|\$)" <<<"$help"
}
has_engine_opt=0
grep -q -- '--engine' <<<"$help" && has_engine_opt=1
fp_clients=""
for e in $ENGINES; do fp_clients="$fp_clients fetchpool-$e"; done
ALL_CLIENTS="$fp_clients curl-parallel py-threads py-aiohttp py-aiohttp-chunked"
ALL_CLIENTS="$ALL_CLIENTS py-fetchpool-submit py-fetchpool-all py-fetchpool-async xargs-curl wrk"
CLIENTS=${CLIENTS:-$ALL_CLIENTS}
TLS_CLIENTS=${TLS_CLIENTS:-"$fp_clients curl-parallel curl-parallel-mux py-threads py-aiohttp py-fetchpool-submit"}

# --- limits ----------------------------------------------------------------
# 10,000 threads need 10,000 sockets; root may raise the hard limit.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

# --- output, scratch, nginx --------------------------------------------------
mkdir -p "$OUT"
rm -rf "$OUT/logs" "$OUT/lists" "$OUT/plotdata"
rm -f "$OUT"/*.csv "$OUT"/*.json "$OUT"/*.md "$OUT"/*.png "$OUT"/*.gp "$OUT"/meta.txt
mkdir -p "$OUT/logs" "$OUT/lists"
OUT=$(cd "$OUT" && pwd)
lists=$OUT/lists
tmp=$(mktemp -d /tmp/fetchpool-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers (user nobody) read $tmp/nginx/100k.bin
srv=$tmp/nginx
cur_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$cur_pid" ] && kill -TERM "$cur_pid" 2>/dev/null || true
  "$here/nginx.sh" stop "$srv" 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

free_port() { # first port from $1 with no listener, at most 200 tries
  local p=$1 i
  for i in $(seq 200); do
    if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
    p=$((p + 1))
  done
  return 1
}
PORT=${PORT:-$(free_port 18090)} || die "no free port"
tls_ports=()
if [ "$TLS" = 1 ]; then
  H1PORT=$(free_port $((PORT + 10))) || die "no free port"
  H2PORT=$(free_port $((H1PORT + 1))) || die "no free port"
  tls_ports=("$H1PORT" "$H2PORT")
fi
"$here/nginx.sh" start "$srv" "$PORT" "${tls_ports[@]}" || die "nginx did not start"
base=http://127.0.0.1:$PORT
log "nginx on $base; engines: $ENGINES; quick=$QUICK runs=$RUNS; ulimit -n $NOFILE"
# The budget is for measuring: installing packages on a fresh machine (36 s
# seen) must not crowd the last workloads out of a quick run.
log "setup done; the time budget of $BUDGET s starts now"
SECONDS=0

# --- meta --------------------------------------------------------------------
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "quick=$QUICK"
  echo "runs=$RUNS"
  echo "engines=$ENGINES"
  echo "clients=$CLIENTS"
  echo "workloads=$WORKLOADS"
  echo "conc=$CONC"
  echo "lat_conc=$LAT_CONC"
  echo "mem_threads=$MEM_THREADS"
  echo "tiny_r=$TINY_R"
  echo "big_r=$BIG_R"
  echo "lat_r=$LAT_R"
  echo "lat_mult=$LAT_MULT"
  echo "mix_r=$MIX_R"
  echo "mix_mult=$MIX_MULT"
  echo "min_waves=$MIN_WAVES"
  echo "caps_tiny=py-threads:$CAP_TINY_PYT py-aiohttp:$CAP_TINY_AIO"
  echo "caps_100k=py-threads:$CAP_BIG_PYT py-aiohttp:$CAP_BIG_AIO"
  echo "cap_xargs=$CAP_XARGS"
  echo "wrk_duration_s=$WRK_D"
  echo "timeout_s=$TMO"
  echo "budget_s=$BUDGET"
  echo "rss1m_n=$RSS1M_N"
  echo "nofile=$NOFILE"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "nproc=$(nproc)"
  echo "mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "gcc=$(gcc --version 2>/dev/null | head -n 1)"
  echo "fetchpool=$("$FP" --version 2>&1 | head -n 1)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "nginx=$(nginx -v 2>&1) (nginx-light $(pkgver nginx-light), echo module $(pkgver libnginx-mod-http-echo))"
  echo "curl=$(curl --version | head -n 1)"
  echo "python=$(/usr/bin/python3 --version 2>&1) (/usr/bin/python3)"
  echo "requests=$(/usr/bin/python3 -c 'import requests; print(requests.__version__)')"
  echo "aiohttp=$(/usr/bin/python3 -c 'import aiohttp; print(aiohttp.__version__)')"
  echo "wrk=$(wrk -v 2>&1 | head -n 1 | sed 's/ *Copyright.*//') (package $(pkgver wrk))"
  echo "gnuplot=$(gnuplot --version)"
  echo "tls=$TLS"
  echo "tls_workloads=$TLS_WORKLOADS"
  echo "tls_conc=$TLS_CONC"
  echo "tls_tiny_r=$TLS_TINY_R"
  echo "tls_clients=$TLS_CLIENTS"
  echo "tls_budget_s=$TLS_BUDGET"
  echo "tls_key=${TLS_KEY:-ec:P-256}"
  echo "openssl=$(openssl version 2>&1)"
  echo "fetchpool_tls_options=$(for o in --cacert --http1.1 --http2; do has_opt "$o" && printf '%s ' "$o"; done)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

# --- URL lists -----------------------------------------------------------------
maxn=1
for n in $CONC $LAT_CONC $MEM_THREADS $TLS_CONC; do [ "$n" -gt "$maxn" ] && maxn=$n; done
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
max() { if [ "$1" -gt "$2" ]; then echo "$1"; else echo "$2"; fi; }

# master lists, every client gets a prefix of the same file
master() { # workload -> path of its master list
  local wl=$1 f=$lists/$1.txt len
  if [ ! -f "$f" ]; then
    case "$wl" in
    tiny) len=$(max "$TINY_R" $((2 * maxn)))
      yes "$base/tiny" | head -n "$len" >"$f" ;;
    100k) len=$(max "$BIG_R" $((2 * maxn)))
      yes "$base/100k" | head -n "$len" >"$f" ;;
    100ms) len=$(max "$LAT_R" $((2 * maxn)))
      yes "$base/sleep/0.1" | head -n "$len" >"$f" ;;
    mixed) len=$(max "$MIX_R" $((2 * maxn)))
      # deterministic spread 10 ms .. 1 s, log-uniform: d = 0.01 * 100^u with
      # u = frac(i * golden ratio), so every prefix is spread the same way
      awk -v n="$len" -v b="$base" 'BEGIN {
        for (i = 1; i <= n; i++) { u = i * 0.6180339887498949; u -= int(u)
          printf "%s/sleep/%.3f\n", b, 0.01 * 100 ^ u } }' >"$f" ;;
    mem) len=$((2 * maxn))
      yes "$base/sleep/1" | head -n "$len" >"$f" ;;
    tls-tiny-*) len=$(max "$TLS_TINY_R" $((2 * maxn)))
      yes "$(tls_base "$wl")/tiny" | head -n "$len" >"$f" ;;
    tls-100ms-*) len=$(max "$LAT_R" $((2 * maxn)))
      yes "$(tls_base "$wl")/sleep/0.1" | head -n "$len" >"$f" ;;
    esac
  fi
  echo "$f"
}
tls_base() { # TLS workload -> its server's base URL (h1: HTTP/1.1 only)
  case "$1" in
  *-h1) echo "https://127.0.0.1:$H1PORT" ;;
  *) echo "https://127.0.0.1:$H2PORT" ;;
  esac
}
prefix() { # workload R -> list of the first R URLs
  local f=$lists/$1-$2.txt
  [ -f "$f" ] || head -n "$2" "$(master "$1")" >"$f"
  echo "$f"
}

req_count() { # workload client N -> R
  # R = the workload's count, cut by the client's cap (slow clients), and at
  # least MIN_WAVES x N so every slot is used (xargs-curl: at least N; it
  # starts one process per URL and is held to CAP_XARGS URLs)
  local wl=$1 c=$2 n=$3 r cap="" waves=$MIN_WAVES
  case "$wl" in
  tiny) r=$TINY_R
    case "$c" in py-threads) cap=$CAP_TINY_PYT ;; py-aiohttp*) cap=$CAP_TINY_AIO ;; esac ;;
  100k) r=$BIG_R
    case "$c" in py-threads) cap=$CAP_BIG_PYT ;; py-aiohttp*) cap=$CAP_BIG_AIO ;; esac ;;
  100ms) r=$(min "$LAT_R" $((LAT_MULT * n))) ;;
  mixed) r=$(min "$MIX_R" $((MIX_MULT * n))) ;;
  mem) r=$((2 * n)) waves=2 ;;
  tls-tiny-*) r=$TLS_TINY_R
    case "$c" in py-threads) cap=$CAP_TINY_PYT ;; py-aiohttp*) cap=$CAP_TINY_AIO ;; esac ;;
  tls-100ms-*) r=$(min "$LAT_R" $((LAT_MULT * n))) ;;
  esac
  if [ "$c" = xargs-curl ]; then cap=$CAP_XARGS waves=1; fi
  [ -n "$cap" ] && r=$(min "$r" "$cap")
  max "$r" $((waves * n))
}

# --- one measured invocation ------------------------------------------------
CSV=$OUT/runs.csv
echo "workload,client,n,eff_n,run,r,done,ok,wall_s,time_e,user_s,sys_s,rss_kb,rc,load1,status,note" >"$CSV"
row() { # fields... (note last, quoted)
  local IFS=,
  local fields=("$@")
  local note=${fields[-1]}
  unset 'fields[-1]'
  echo "${fields[*]},\"${note//\"/\'}\"" >>"$CSV"
}
load1() { cut -d' ' -f1 /proc/loadavg; }

# run "$@" under timeout and /usr/bin/time; sets rc wall_s time_e user_s sys_s
# rss_kb, and csw_v csw_i: the voluntary and involuntary context switches of
# the client and the children it waited for (GNU time's %w and %c)
measure() {
  local out=$1 err=$2 t0 t1 line
  shift 2
  rm -f "$tmp/time"
  t0=${EPOCHREALTIME/./}
  timeout -k 5 "$TMO" /usr/bin/time -f '%e %U %S %M %w %c' -o "$tmp/time" "$@" >"$out" 2>"$err" </dev/null &
  cur_pid=$!
  rc=0
  wait "$cur_pid" || rc=$?
  cur_pid=""
  t1=${EPOCHREALTIME/./}
  wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e6}')
  line=$(tail -n 1 "$tmp/time" 2>/dev/null || true)
  if [[ "$line" =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+\ [0-9]+\ [0-9]+\ [0-9]+$ ]]; then
    read -r time_e user_s sys_s rss_kb csw_v csw_i <<<"$line"
  else
    time_e="" user_s="" sys_s="" rss_kb="" csw_v="" csw_i=""
  fi
}

# the TLS workloads have a budget of their own, counted from tls_t0
tls_t0=0
budget_left() { # [workload]
  case "${1:-}" in
  tls-*) [ $((SECONDS - tls_t0)) -lt "$TLS_BUDGET" ] ;;
  *) [ "$SECONDS" -lt "$BUDGET" ] ;;
  esac
}

# --- TLS: options per client, and what the server saw -------------------------
TLS_CSV=$OUT/tls.csv
echo "workload,client,n,run,accepted,conns,full_hs,resumed_hs,requests,protocols,tls_versions,csw_v,csw_i" >"$TLS_CSV"
py_http_version=""
tls_missing() { # client http-version -> the option this build lacks, or nothing
  case "$1" in
  fetchpool-*)
    if ! has_opt --cacert; then
      echo "fetchpool --cacert"
    elif [ "$2" = 2 ] && ! has_opt --http2; then
      echo "fetchpool --http2"
    fi ;;
  py-fetchpool-*)
    if [ "$2" = 2 ]; then
      if [ -z "$py_http_version" ]; then
        py_http_version=no
        /usr/bin/python3 -c 'import inspect, sys, fetchpool
sys.exit(0 if "http_version" in inspect.signature(fetchpool.Pool).parameters else 1)' 2>/dev/null &&
          py_http_version=yes
      fi
      [ "$py_http_version" = yes ] || echo "fetchpool.Pool(http_version=)"
    fi ;;
  esac
  return 0
}
accepts() { # connections nginx has accepted so far (this request's included)
  curl -s --max-time 5 "$base/nginx-status" | awk 'NR == 3 {print $1}'
}
tls_count() { # workload client N run accepts-before accepts-after: a row of tls.csv
  local acc=""
  # the second status request's own connection is not the client's
  [ -n "$5" ] && [ -n "$6" ] && acc=$(($6 - $5 - 1))
  # per connection ($1) its first line says whether its handshake was a
  # full one (".") or resumed a session ("r")
  awk -v pre="$1,$2,$3,$4,$acc" -v cv="${csw_v:-}" -v ci="${csw_i:-}" '
    !($1 in seen) { seen[$1] = 1; conns++; if ($2 == "r") res++; else full++ }
    { if (!($3 in proto)) { proto[$3] = 1; p = p (p == "" ? "" : "+") $3 }
      if (!($4 in vers)) { vers[$4] = 1; v = v (v == "" ? "" : "+") $4 }; reqs++ }
    END { printf "%s,%d,%d,%d,%d,%s,%s,%s,%s\n", pre, conns, full, res, reqs, p, v, cv, ci }' \
    "$srv/tls.log" >>"$TLS_CSV"
}

cell() { # workload client N run
  local wl=$1 c=$2 n=$3 run=$4 r eff note=${CELL_NOTE:-} uf ndone ok status ld
  local out=$tmp/out err=$tmp/err name="$1-$2-$3-$4"
  r=$(req_count "$wl" "$c" "$n")
  eff=$(min "$n" "$r")
  ld=$(load1)
  if ! budget_left "$wl"; then
    local b=$BUDGET
    [[ "$wl" == tls-* ]] && b="TLS_BUDGET $TLS_BUDGET"
    row "$wl" "$c" "$n" "$eff" "$run" "$r" "" "" "" "" "" "" "" "" "$ld" skipped \
      "not run: time budget of ${b} s used up"
    return 0
  fi
  # TLS: the CA for every client, the HTTP version asked where the client
  # has a way to ask (the h1 port offers HTTP/1.1 only in any case)
  local tls=0 http="" tlsopt=() pyenv=() na acc0=""
  if [[ "$wl" == tls-* ]]; then
    tls=1 http=1.1
    [[ "$wl" == *-h2 ]] && http=2
    na=$(tls_missing "$c" "$http")
    if [ -n "$na" ]; then
      row "$wl" "$c" "$n" "$eff" "$run" "$r" "" "" "" "" "" "" "" "" "$ld" n/a \
        "n/a: option missing in this build: $na"
      log "$wl $c N=$n run $run: n/a ($na missing in this build)"
      return 0
    fi
    case "$c" in
    fetchpool-*)
      tlsopt=(--cacert "$srv/ca.pem")
      if [ "$http" = 2 ]; then tlsopt+=(--http2); elif has_opt --http1.1; then tlsopt+=(--http1.1); fi ;;
    curl-parallel*) tlsopt=(--cacert "$srv/ca.pem" "--http$http") ;;
    py-*) pyenv=(env "FP_BENCH_CACERT=$srv/ca.pem" "FP_BENCH_HTTP=$http") ;;
    esac
  fi
  uf=$(prefix "$wl" "$r")
  rm -f "$tmp/stats.json"
  if [ "$tls" = 1 ]; then
    : >"$srv/tls.log"
    acc0=$(accepts)
  fi
  case "$c" in
  fetchpool-*)
    local eopt=()
    [ "$has_engine_opt" = 1 ] && eopt=(--engine "${c#fetchpool-}")
    if [ "$n" -gt 10000 ]; then
      row "$wl" "$c" "$n" "$eff" "$run" "$r" "" "" "" "" "" "" "" "" "$ld" skipped "not run: --threads is limited to 10000"
      return 0
    fi
    measure "$out" "$err" "$FP" "${eopt[@]}" "${tlsopt[@]}" -t "$n" -q --no-progress --stats-json "$tmp/stats.json" \
      -o /dev/null "$uf"
    ok=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$tmp/stats.json" 2>/dev/null || true)
    ndone=$(sed -n 's/.*"jobs":\([0-9]*\).*/\1/p' "$tmp/stats.json" 2>/dev/null || true) ;;
  curl-parallel | curl-parallel-mux)
    local imm=(--parallel-immediate)
    [ "$c" = curl-parallel-mux ] && imm=()
    [ -f "$uf.curl" ] || awk '{print "url = " $0; print "output = /dev/null"}' "$uf" >"$uf.curl"
    if [ "$n" -gt "$CURL_CAP" ]; then
      eff=$(min "$CURL_CAP" "$r")
      note="curl cuts --parallel-max $n to $CURL_CAP"
    fi
    measure "$out" "$err" curl -s --no-progress-meter --parallel "${imm[@]}" --parallel-max "$n" \
      "${tlsopt[@]}" -w '%{http_code}\n' -K "$uf.curl"
    ok=$(grep -c '^200$' "$out" || true)
    ndone=$(grep -c . "$out" || true) ;;
  py-threads | py-aiohttp | py-aiohttp-chunked | py-fetchpool-*)
    case "$c" in
    py-threads) measure "$out" "$err" "${pyenv[@]}" /usr/bin/python3 "$here/py_threads.py" "$n" "$uf" ;;
    py-aiohttp) measure "$out" "$err" "${pyenv[@]}" /usr/bin/python3 "$here/py_aiohttp.py" pool "$n" "$uf" ;;
    py-fetchpool-*)
      if [ "$n" -gt 10000 ]; then
        row "$wl" "$c" "$n" "$eff" "$run" "$r" "" "" "" "" "" "" "" "" "$ld" skipped "not run: threads is limited to 10000"
        return 0
      fi
      measure "$out" "$err" "${pyenv[@]}" /usr/bin/python3 "$here/py_fetchpool.py" "${c#py-fetchpool-}" "$n" "$uf" ;;
    *) measure "$out" "$err" /usr/bin/python3 "$here/py_aiohttp.py" chunked "$n" "$uf" ;;
    esac
    ok=$(awk '$1 == "ok" {print $2}' "$out")
    ndone=$(awk '$1 == "ok" {print $4}' "$out") ;;
  xargs-curl)
    # one curl process per URL: no keep-alive possible; /usr/bin/time's peak
    # RSS is that of the largest single process (see BENCHMARKS.md)
    measure "$out" "$err" bash -c 'xargs -P "$1" -n 1 curl -s -o /dev/null -w "%{http_code}\n" <"$2" |
      grep -c "^200$"; exit "${PIPESTATUS[0]}"' xargs-curl "$n" "$uf"
    ok=$(head -n 1 "$out")
    ndone=$r ;;
  wrk)
    local th url wopt=()
    th=$(min 2 "$n")
    case "$wl" in
    tiny) url=$base/tiny ;;
    100k) url=$base/100k ;;
    100ms) url=$base/sleep/0.1 ;;
    mixed)
      url=$base/
      [ -f "$uf.paths" ] || sed "s|^$base||" "$uf" >"$uf.paths"
      wopt=(-s "$here/wrk-paths.lua")
      export FP_WRK_PATHS=$uf.paths ;;
    *) return 0 ;;
    esac
    eff=$n
    measure "$out" "$err" wrk -t "$th" -c "$n" -d "${WRK_D}s" --timeout 10s "${wopt[@]}" "$url"
    ndone=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$out")
    local dur non2xx errs
    dur=$(sed -n 's/^ *[0-9]* requests in \([0-9.]*[a-z]*\),.*/\1/p' "$out")
    case "$dur" in
    *ms) dur=$(awk -v v="${dur%ms}" 'BEGIN {print v / 1000}') ;;
    *us) dur=$(awk -v v="${dur%us}" 'BEGIN {print v / 1e6}') ;;
    *m) dur=$(awk -v v="${dur%m}" 'BEGIN {print v * 60}') ;;
    *s) dur=${dur%s} ;;
    esac
    non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")
    errs=$(sed -n 's/^ *Socket errors: *//p' "$out")
    ok=$(( ${ndone:-0} - ${non2xx:-0} ))
    # fixed duration: wall = wrk's measured duration, r = length of the list it cycles
    [ -n "$errs" ] && note="${note:+$note; }socket errors: $errs"
    [ -n "$dur" ] && wall_s=$dur ;;
  esac
  if [ "$tls" = 1 ]; then
    tls_count "$wl" "$c" "$n" "$run" "$acc0" "$(accepts)"
    cp "$srv/tls.log" "$OUT/logs/$name.tls.log"
  fi
  status=ok
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    status=timeout note="${note:+$note; }killed after ${TMO} s"
  elif [ "$rc" != 0 ]; then
    status=failed note="${note:+$note; }exit status $rc, ${ok:-0} of $r ok"
  elif [ "$c" != wrk ] && [ "${ok:-0}" != "$r" ]; then
    status=failed note="${note:+$note; }${ok:-0} of $r ok"
  elif [ "$c" = wrk ] && [ -z "${ndone:-}" ]; then
    status=failed note="${note:+$note; }no wrk report"
  elif [ "$c" = wrk ] && [ "$ok" != "$ndone" ]; then
    status=failed note="${note:+$note; }$((ndone - ok)) of $ndone responses not 2xx/3xx"
  fi
  if [ "$status" != ok ] && [ -f "$tmp/stats.json" ]; then
    # fetchpool: which errors (connect, timeout, ...) and how many
    local kinds
    kinds=$(grep -o '"errors":{[^}]*}' "$tmp/stats.json" || true)
    [ -n "$kinds" ] && note="$note; $kinds"
    cp "$tmp/stats.json" "$OUT/logs/$name.stats.json"
  fi
  if [ "$status" != ok ] || [ -s "$err" ]; then
    cp "$err" "$OUT/logs/$name.stderr"
    head -c 4000 "$out" >"$OUT/logs/$name.stdout" || true
  fi
  row "$wl" "$c" "$n" "$eff" "$run" "$r" "${ndone:-}" "${ok:-}" "$wall_s" "$time_e" "$user_s" "$sys_s" \
    "$rss_kb" "$rc" "$ld" "$status" "$note"
  log "$wl $c N=$n run $run: R=$r ok=${ok:-?} wall=${wall_s}s rss=${rss_kb:-?}KiB $status"
}

clients_for() { # workload -> clients that run it
  local c
  for c in $CLIENTS; do
    case "$c" in
    py-aiohttp-chunked) case "$1" in 100ms | mixed) echo "$c" ;; esac ;;
    *) echo "$c" ;;
    esac
  done
}

# --- the matrix: runs outermost, so drift in machine load hits every client alike
for run in $(seq "$RUNS"); do
  for wl in $WORKLOADS; do
    ns=$CONC
    [ "$wl" = 100ms ] && ns=$LAT_CONC
    for n in $ns; do
      for c in $(clients_for "$wl"); do
        cell "$wl" "$c" "$n" "$run"
      done
    done
  done
done

# --- memory sweep: fetchpool with every thread busy (/sleep/1, R = 2 x N) ---
if [ "$MEM" = 1 ]; then
  for run in $(seq "$RUNS"); do
    for n in $MEM_THREADS; do
      for c in $fp_clients; do
        # measured: a threads-engine worker holds 3 descriptors (its connection
        # and the socketpair of the multi handle libcurl keeps in each easy
        # handle); past the hard limit fetchpool runs as many workers as fit
        # (and warns: logs/), so the cell is slower, not failed
        CELL_NOTE=""
        [ "$c" = fetchpool-threads ] && [ $((3 * n + 67)) -gt "$NOFILE" ] &&
          CELL_NOTE="ulimit -n is $NOFILE (the hard limit here): fetchpool runs only the workers 3 descriptors each allow"
        cell mem "$c" "$n" "$run"
        CELL_NOTE=""
      done
    done
  done
fi

# --- 1,000,000 URLs at 64 threads: scripts/bench/rss-1m.sh --------------------
if [ "$RSS1M" = 1 ]; then
  for c in $fp_clients; do
    e=${c#fetchpool-}
    if ! budget_left; then
      row 1m "$c" 64 64 1 "$RSS1M_N" "" "" "" "" "" "" "" "" "$(load1)" skipped \
        "not run: time budget of ${BUDGET} s used up"
      continue
    fi
    p2=$(free_port $((PORT + 1))) || die "no free port"
    eng=""
    [ "$has_engine_opt" = 1 ] && eng=$e
    ld=$(load1)
    rc=0
    N=$RSS1M_N THREADS=64 RUNS=$RUNS PORT=$p2 BUILD=$BUILD ENGINE=$eng TMO=$TMO \
      timeout -k 5 $((TMO * RUNS + 120)) "$here/rss-1m.sh" >"$OUT/logs/rss-1m-$e.log" 2>&1 || rc=$?
    # "run 1: 1000000 URLs, 64 threads: 1000000 ok, peak RSS 15 MiB (16128 KiB), wall 26.78 s, ..., cpu U+S s"
    got=0
    while IFS= read -r l; do
      got=1
      rr=$(sed -n 's/^run \([0-9]*\):.*/\1/p' <<<"$l")
      ok=$(sed -n 's/.*threads: \([0-9]*\) ok.*/\1/p' <<<"$l")
      kb=$(sed -n 's/.*(\([0-9]*\) KiB).*/\1/p' <<<"$l")
      w=$(sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' <<<"$l")
      us=$(sed -n 's/.*cpu \([0-9.]*\)+[0-9.]* s.*/\1/p' <<<"$l")
      sy=$(sed -n 's/.*cpu [0-9.]*+\([0-9.]*\) s.*/\1/p' <<<"$l")
      st=ok
      [ "$ok" = "$RSS1M_N" ] || st=failed
      row 1m "$c" 64 64 "$rr" "$RSS1M_N" "$RSS1M_N" "$ok" "$w" "$w" "$us" "$sy" "$kb" "$rc" "$ld" "$st" \
        "scripts/bench/rss-1m.sh, distinct /tiny/i URLs"
      log "1m $c run $rr: ok=$ok rss=${kb}KiB wall=${w}s $st"
    done < <(grep '^run ' "$OUT/logs/rss-1m-$e.log" || true)
    [ "$got" = 1 ] || row 1m "$c" 64 64 1 "$RSS1M_N" "" "" "" "" "" "" "" "$rc" "$ld" failed \
      "rss-1m.sh exited $rc; see logs/rss-1m-$e.log"
  done
fi

# --- HTTPS: tiny and 100 ms, HTTP/1.1 and HTTP/2 ports, runs outermost -------
if [ "$TLS" = 1 ]; then
  tls_t0=$SECONDS
  log "TLS workloads; their budget of $TLS_BUDGET s starts now"
  for run in $(seq "$RUNS"); do
    for wl in $TLS_WORKLOADS; do
      for n in $TLS_CONC; do
        for c in $TLS_CLIENTS; do
          cell "$wl" "$c" "$n" "$run"
        done
      done
    done
  done
fi

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
echo "elapsed_s=$SECONDS" >>"$OUT/meta.txt"
"$here/nginx.sh" stop "$srv"
log "matrix done in ${SECONDS} s; writing tables and plots"
/usr/bin/python3 "$here/report.py" "$OUT"
log "done in ${SECONDS} s: $OUT/results.md"

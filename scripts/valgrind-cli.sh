#!/usr/bin/env bash
# valgrind-cli.sh: the fetchpool program under valgrind memcheck (leaks are
# errors), on the bundled loopback test server: retries on the thread
# engine, --ordered --body, the multi and hybrid engines, --save,
# --resume, bad input lines, and SIGINT mid-run (once: grace then abort;
# twice: abort at once). Each case checks the exit status and the records
# and fails on any valgrind report. Run by `make valgrind` after the test
# suite; BUILD names the build directory (default build), CASE_TIMEOUT
# bounds each run in seconds (default 180). Prints one line per case and
# "valgrind-cli: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

BUILD=${BUILD:-build}
CASE_TIMEOUT=${CASE_TIMEOUT:-180}
# shellcheck disable=SC2054 # the commas are valgrind's
VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full
          --errors-for-leak-kinds=definite,indirect,possible
          --show-leak-kinds=definite,indirect,possible --suppressions=scripts/valgrind.supp)
FP="$BUILD/fetchpool"

for bin in "$FP" "$BUILD/fp-testserver"; do
  if [ ! -x "$bin" ]; then
    echo "valgrind-cli: $bin is missing; run: make $BUILD/fetchpool $BUILD/fp-testserver" >&2
    exit 2
  fi
done
command -v valgrind >/dev/null || { echo "valgrind-cli: valgrind is not installed" >&2; exit 2; }

dir=$(mktemp -d)
server_pid=
bg_pid=
cleanup() {
  for p in $bg_pid $server_pid; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s, at most SECONDS
wait_for() {
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    "${@:2}" && return 0
    sleep 0.1
  done
  return 1
}

# alive PID: the process runs (a zombie, not yet reaped, does not count)
alive() {
  local state=Z
  read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null
  [ "$state" != Z ]
}
gone() { ! alive "$1"; }

# verdict NAME: fail when the run of case NAME timed out or valgrind
# reported anything (a report goes to $dir/NAME.vg; exit 99 is valgrind's)
verdict() {
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "did not end in time (exit $rc); stderr:"
    cat "$dir/$1.err"
    return 1
  fi
  if [ "$rc" -eq 99 ] || [ -s "$dir/$1.vg" ]; then
    echo "valgrind reported errors (exit $rc):"
    cat "$dir/$1.vg"
    return 1
  fi
}

# vg NAME ARGS...: run fetchpool ARGS under valgrind, bounded, standard
# output to $dir/NAME.out and error to $dir/NAME.err; sets rc and run
vg() {
  local name=$1
  shift
  run=$name rc=0
  timeout -k 10 "$CASE_TIMEOUT" "${VALGRIND[@]}" --log-file="$dir/$name.vg" "$FP" "$@" \
    >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
  verdict "$name"
}

# vg_bg NAME ARGS...: the same in the background, with SIGINT and SIGTERM
# at their defaults (a background job of a script starts with SIGINT
# ignored, and fetchpool keeps an ignored signal ignored); sets bg_pid
vg_bg() {
  local name=$1
  shift
  run=$name
  env --default-signal=INT,TERM "${VALGRIND[@]}" --log-file="$dir/$name.vg" "$FP" "$@" \
    >"$dir/$name.out" 2>"$dir/$name.err" &
  bg_pid=$!
}

# reap NAME SECONDS: wait at most SECONDS for the background run to end
# (then kill it); sets rc
reap() {
  rc=0
  if ! wait_for "$2" gone "$bg_pid"; then
    kill -KILL "$bg_pid" 2>/dev/null
    wait "$bg_pid" 2>/dev/null
    bg_pid=
    rc=124
  else
    wait "$bg_pid" || rc=$?
    bg_pid=
  fi
  verdict "$1"
}

want_rc() { # want_rc N: the exit status of the last run was N
  [ "$rc" -eq "$1" ] && return 0
  echo "exit status $rc, expected $1; stderr of $run:"
  cat "$dir/$run.err"
  return 1
}

# has FILE INDEX STRING...: FILE holds one record of job INDEX, and it
# contains every STRING
has() {
  local file=$1 index=$2 line s
  shift 2
  line=$(grep "^{\"index\":$index," "$file")
  if [ -z "$line" ] || [ "$(grep -c "^{\"index\":$index," "$file")" -ne 1 ]; then
    echo "expected one record of job $index in $(basename "$file"), got:"
    echo "${line:-(none)}"
    return 1
  fi
  for s in "$@"; do
    [[ $line == *"$s"* ]] || { echo "record of job $index lacks $s: $line"; return 1; }
  done
}

# records FILE N: FILE has exactly N lines, each a whole record
records() {
  local n bad
  n=$(grep -c '' "$1")
  bad=$(grep -vc '^{"index":[0-9]*,.*}$' "$1")
  if [ "$n" -ne "$2" ] || [ "$bad" -ne 0 ] || { [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; }; then
    echo "expected $2 whole records in $(basename "$1"), got $n lines ($bad not records):"
    cat "$1"
    return 1
  fi
}

passed=0 failed=0
run_case() { # run_case NAME DESCRIPTION: run case_NAME, print one line
  name=$1
  if "case_$1" >"$dir/why" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $2"
  else
    failed=$((failed + 1))
    echo "FAIL $2"
    sed 's/^/    /' "$dir/why"
  fi
}

# ----------------------------------------------------------------- server

# The server prints "PORT RAWPORT" once it listens (RAWPORT: raw faults).
"$BUILD/fp-testserver" >"$dir/ports" &
server_pid=$!
port=
for _ in $(seq 100); do
  if read -r port raw <"$dir/ports" 2>/dev/null && [ -n "$port" ]; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "valgrind-cli: the test server did not start" >&2; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "valgrind-cli: no port from the test server" >&2; exit 1; }
H="http://127.0.0.1:$port"
R="http://127.0.0.1:$raw"

# ------------------------------------------------------------------ cases

# threads engine, --retries: one job ok on its 3rd attempt, one ok on its
# 2nd after a 429 with Retry-After, one 503 and one connection reset to
# the end of their retries
case_retries() {
  cat >"$dir/retries.in" <<EOF
$H/flaky/vg-retries?fail=2
$H/flaky/vg-retry-after?fail=1&status=429&retry_after=0
$H/status/503
$R/reset
EOF
  vg retries -t 4 --per-host 2 --retries 2 --retry-base 0.05 -q "$dir/retries.in" || return 1
  want_rc 1 &&
    records "$dir/retries.out" 4 &&
    has "$dir/retries.out" 0 '"ok":true' '"attempts":3' &&
    has "$dir/retries.out" 1 '"ok":true' '"attempts":2' &&
    has "$dir/retries.out" 2 '"status":503' '"code":"http"' '"attempts":3' &&
    has "$dir/retries.out" 3 '"code":"network"' '"attempts":3'
}

# --ordered --body (with --headers, --timings, --progress): the slow first
# job still comes first; text bodies as "body", binary as "body_base64"
case_ordered() {
  cat >"$dir/ordered.in" <<EOF
$H/delay/500
$H/utf8
$H/binary/300
$H/text/ordered
EOF
  vg ordered -t 4 --ordered --body --headers --timings --progress "$dir/ordered.in" || return 1
  want_rc 0 && records "$dir/ordered.out" 4 || return 1
  [ "$(sed 's/^{"index":\([0-9]*\),.*/\1/' "$dir/ordered.out" | tr '\n' ' ')" = "0 1 2 3 " ] ||
    { echo "records not in input order:"; cat "$dir/ordered.out"; return 1; }
  has "$dir/ordered.out" 0 '"body":"delayed 500"' '"timings":' '"headers":' &&
    has "$dir/ordered.out" 1 '"body":"h' &&
    has "$dir/ordered.out" 2 '"body_base64":' '"bytes":300' &&
    has "$dir/ordered.out" 3 '"body":"ordered"'
}

# an event-loop engine (ENGINE ARGS...) on gzip, redirects, a retry, a
# slow drip, a 404 and a per-job timeout given in a JSON line
engine_case() {
  local n=$1
  shift
  cat >"$dir/$n.in" <<EOF
$H/gzip
$H/redirect/3
$H/flaky/vg-$n?fail=1
$H/drip?bytes=5&interval_ms=20
$H/status/404
{"url": "$R/hang", "timeout": 1}
EOF
  vg "$n" "$@" -t 8 --retries 2 --retry-base 0.05 -q -o "$dir/$n.jsonl" "$dir/$n.in" || return 1
  want_rc 1 &&
    records "$dir/$n.jsonl" 6 &&
    has "$dir/$n.jsonl" 0 '"ok":true' '"bytes":1024' &&
    has "$dir/$n.jsonl" 1 '"ok":true' '/redirect/0"' &&
    has "$dir/$n.jsonl" 2 '"ok":true' '"attempts":2' &&
    has "$dir/$n.jsonl" 3 '"ok":true' '"bytes":5' &&
    has "$dir/$n.jsonl" 4 '"status":404' '"code":"http"' &&
    has "$dir/$n.jsonl" 5 '"code":"timeout"'
}
case_multi() { engine_case multi --engine multi --rate 50; }
case_hybrid() { engine_case hybrid --engine hybrid --loops 2 --per-host 3; }

# --save DIR: each body in DIR/INDEX.body, named in the record
case_save() {
  mkdir -p "$dir/saved"
  printf '%s\n' "$H/text/saved0" "$H/binary/300" "$H/bytes/100000" >"$dir/save.in"
  vg save -t 2 -q --save "$dir/saved" "$dir/save.in" || return 1
  want_rc 0 &&
    records "$dir/save.out" 3 &&
    has "$dir/save.out" 0 "\"saved\":\"$dir/saved/0.body\"" &&
    has "$dir/save.out" 2 "\"saved\":\"$dir/saved/2.body\"" || return 1
  if ! { [ "$(cat "$dir/saved/0.body")" = saved0 ] &&
         [ "$(wc -c <"$dir/saved/1.body")" -eq 300 ] &&
         [ "$(wc -c <"$dir/saved/2.body")" -eq 100000 ]; }; then
    echo "saved bodies:"; ls -l "$dir/saved"; return 1
  fi
}

# --resume: a first run (job 3 fails once), its output cut to jobs 0, 1
# and the failed 3 plus a torn line, then --resume --resume-failed runs
# 2, 4 and 3 again: every job ends with one ok record, all lines whole
case_resume() {
  local i
  for i in 0 1 2; do echo "$H/text/resume$i"; done >"$dir/resume.in"
  echo "$H/flaky/vg-resume?fail=1" >>"$dir/resume.in"
  echo "$H/text/resume4" >>"$dir/resume.in"
  vg resume1 -t 2 -q -o "$dir/resume.jsonl" "$dir/resume.in" || return 1
  want_rc 1 && records "$dir/resume.jsonl" 5 && has "$dir/resume.jsonl" 3 '"status":503' || return 1
  grep -E '^\{"index":(0|1|3),' "$dir/resume.jsonl" >"$dir/resume.cut"
  printf '{"index":2,"url":"ht' >>"$dir/resume.cut"
  mv "$dir/resume.cut" "$dir/resume.jsonl"
  vg resume --resume "$dir/resume.jsonl" --resume-failed -t 2 "$dir/resume.in" || return 1
  want_rc 0 && records "$dir/resume.jsonl" 6 || return 1
  for i in 0 1 2 3 4; do
    [ "$(grep -c "^{\"index\":$i,.*\"ok\":true" "$dir/resume.jsonl")" -eq 1 ] ||
      { echo "job $i has no single ok record:"; cat "$dir/resume.jsonl"; return 1; }
  done
  grep -q 'resumed: 2 jobs' "$dir/resume.err" || { echo "no skip count:"; cat "$dir/resume.err"; return 1; }
}

# bad lines on standard input: each an error record, the run goes on
case_invalid() {
  cat >"$dir/invalid.in" <<EOF
not a url
ftp://127.0.0.1/x
{"url": 
{"url": 5}
{"url": "$H/hello", "headers": {"X": "a\r\nb"}}
{"url": "$H/echo", "method": "POST", "body": "x", "id": 7}
EOF
  run=invalid rc=0
  timeout -k 10 "$CASE_TIMEOUT" "${VALGRIND[@]}" --log-file="$dir/invalid.vg" "$FP" -q - \
    <"$dir/invalid.in" >"$dir/invalid.out" 2>"$dir/invalid.err" || rc=$?
  verdict invalid || return 1
  want_rc 1 &&
    records "$dir/invalid.out" 6 &&
    has "$dir/invalid.out" 0 '"code":"invalid_url"' &&
    has "$dir/invalid.out" 1 '"code":"unsupported_protocol"' &&
    has "$dir/invalid.out" 2 '"code":"invalid_json"' &&
    has "$dir/invalid.out" 3 '"code":"invalid_url"' &&
    has "$dir/invalid.out" 4 '"code":"invalid_header"' &&
    has "$dir/invalid.out" 5 '"id":7' '"ok":true'
}

# sigint_input: 3 quick jobs, then 40 that take 5 s each, on 2 threads
sigint_input() {
  local i
  for i in 1 2 3; do echo "$H/hello"; done >"$dir/$1.in"
  for i in $(seq 40); do echo "$H/delay/5000"; done >>"$dir/$1.in"
}
three_done() { [ -s "$1" ] && [ "$(grep -c '' "$1")" -ge 3 ]; }
stopping() { grep -q 'reading no more jobs' "$1" 2>/dev/null; }

# one SIGINT once the quick jobs are done: queued jobs cancelled, the two
# in flight stopped when --grace 1 runs out, summary, exit 130
case_sigint() {
  sigint_input sigint
  vg_bg sigint -t 2 --grace 1 -o "$dir/sigint.jsonl" --stats-json "$dir/sigint.json" "$dir/sigint.in"
  wait_for 60 three_done "$dir/sigint.jsonl" || { echo "no 3 records within 60 s"; reap sigint 1; return 1; }
  kill -INT "$bg_pid"
  reap sigint "$CASE_TIMEOUT" || return 1
  local n
  n=$(grep -c '' "$dir/sigint.jsonl")
  want_rc 130 && records "$dir/sigint.jsonl" "$n" || return 1
  if ! { [ "$(grep -c '"ok":true' "$dir/sigint.jsonl")" -eq 3 ] &&
         [ "$(grep -c '"code":"cancelled"' "$dir/sigint.jsonl")" -eq $((n - 3)) ] &&
         [ "$n" -ge 5 ] &&
         grep -q '"interrupted":"SIGINT"' "$dir/sigint.json" &&
         grep -q 'grace period over' "$dir/sigint.err"; }; then
    echo "records:"; cat "$dir/sigint.jsonl"; echo "stderr:"; cat "$dir/sigint.err"; return 1
  fi
}

# two SIGINTs: the second stops the transfers at once, long before the
# 60 s of --grace
case_sigint2() {
  sigint_input sigint2
  vg_bg sigint2 -t 2 --grace 60 -o "$dir/sigint2.jsonl" "$dir/sigint2.in"
  wait_for 60 three_done "$dir/sigint2.jsonl" || { echo "no 3 records within 60 s"; reap sigint2 1; return 1; }
  kill -INT "$bg_pid"
  wait_for 30 stopping "$dir/sigint2.err" || { echo "no stop notice within 30 s"; reap sigint2 1; return 1; }
  local start=$SECONDS
  kill -INT "$bg_pid"
  reap sigint2 40 || return 1
  local n
  n=$(grep -c '' "$dir/sigint2.jsonl")
  want_rc 130 && records "$dir/sigint2.jsonl" "$n" || return 1
  if ! { [ "$(grep -c '"code":"cancelled"' "$dir/sigint2.jsonl")" -eq $((n - 3)) ] &&
         [ "$n" -ge 5 ] &&
         [ $((SECONDS - start)) -lt 30 ] &&
         ! grep -q 'grace period over' "$dir/sigint2.err"; }; then
    echo "took $((SECONDS - start)) s after the second SIGINT; records:"
    cat "$dir/sigint2.jsonl"; echo "stderr:"; cat "$dir/sigint2.err"; return 1
  fi
}

# batch-in: URL arguments with ranges among a FILE with a JSON body; CSV
# rows through templates, one missing a field; a dry run
case_batch_in() {
  echo "{\"url\":\"$H/echo\",\"method\":\"POST\",\"json\":{\"a\":[1]}}" >"$dir/bi.in"
  vg bi_urls -q --ordered "$H/text/[1-2]" "$dir/bi.in" "$H/status/{200,204}" || return 1
  want_rc 0 && records "$dir/bi_urls.out" 5 && has "$dir/bi_urls.out" 2 '/echo' &&
    has "$dir/bi_urls.out" 4 '"status":204' || return 1
  printf 'id,q\n1,"a,b"\n2,"x\ny"\n3\n' >"$dir/bi.csv"
  vg bi_csv -q --ordered --csv --template "$H/echo?q={q}" --body-template '{"q": "{q}"}' \
    -H 'X-Id: {id}' "$dir/bi.csv" || return 1
  want_rc 1 && records "$dir/bi_csv.out" 3 && has "$dir/bi_csv.out" 1 '"ok":true' &&
    has "$dir/bi_csv.out" 2 '"invalid_request"' || return 1
  vg bi_dry -q --dry-run -H 'Cookie: c=1' "http://u:p@127.0.0.1:1/[a-c]{x,y}" || return 1
  want_rc 0 && records "$dir/bi_dry.out" 6 && has "$dir/bi_dry.out" 5 '***@' 'Cookie: ***'
}

run_case retries "threads engine, --retries on flaky, 429, 503 and reset routes"
run_case ordered "--ordered --body --headers --timings --progress"
run_case multi   "--engine multi: gzip, redirects, retry, drip, 404, per-job timeout"
run_case hybrid  "--engine hybrid --loops 2, the same jobs"
run_case save    "--save DIR"
run_case resume  "--resume --resume-failed of a cut output with a torn line"
run_case invalid "bad lines on stdin: bad URLs, bad JSON, bad header"
run_case sigint  "SIGINT mid-run: cancelled records, grace, exit 130"
run_case sigint2 "SIGINT twice: transfers stopped at once, exit 130"
# batch-in
run_case batch_in "URL arguments with ranges, JSON bodies, CSV templates, --dry-run"

echo "valgrind-cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Run each libFuzzer harness given (build/fuzz/fuzz_NAME, from `make
# fuzz-build`) for FUZZ_SECONDS, one after the other, and print one
# "N passed, N failed" line (one count per harness).
#
# Each run starts from the committed seeds (tests/fuzz/corpus/NAME) and the
# regression inputs (tests/fuzz/regressions/NAME), read-only, and writes
# what it discovers to a scratch corpus under $FUZZ_BUILD/work/NAME, so the
# committed corpus never grows by itself. A crash, leak, timeout (-timeout,
# seconds per input) or memory blow-up (-rss_limit_mb) fails the harness;
# the input that did it is kept in $FUZZ_BUILD/artifacts/NAME/ and named
# below. To keep a crash as a regression test, copy that file to
# tests/fuzz/regressions/NAME/ (tests/test_fuzz replays it in `make test`).
set -u
cd "$(dirname "$0")/.." || exit 2
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build/fuzz}
passed=0 failed=0

for bin in "$@"; do
  name=${bin##*/fuzz_}
  work=$build/work/$name
  artifacts=$build/artifacts/$name
  log=$build/logs/$name.log
  rm -rf "$work" "$artifacts"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  opts=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "tests/fuzz/dict/$name.dict" ] && opts+=(-dict="tests/fuzz/dict/$name.dict")
  dirs=("$work" "tests/fuzz/corpus/$name")
  [ -d "tests/fuzz/regressions/$name" ] && dirs+=("tests/fuzz/regressions/$name")

  echo "== fuzz $name (${seconds} s)"
  "$bin" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$work" -type f | wc -l)
  crashes=$(find "$artifacts" -type f | wc -l)
  if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz_$name: ok, ${runs:-?} runs, $found new inputs in the scratch corpus"
  else
    failed=$((failed + 1))
    echo "fuzz_$name: FAILED (exit $rc) after ${runs:-?} runs; log: $log"
    grep -E 'ERROR|SUMMARY|fuzz contract broken|runtime error|Test unit written' "$log" | head -20
    find "$artifacts" -type f -exec echo "  crash input: {}" \;
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

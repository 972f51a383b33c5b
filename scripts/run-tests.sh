#!/usr/bin/env bash
# Run each test binary (optionally under $WRAP, e.g. valgrind), add up the
# cmocka results and print one "N passed, N failed" line.
set -u
passed=0 failed=0 broken=()
export FP_TEST_BUILD="${BUILD:-build}"
# Time bounds in tests stretch under tools that slow everything down.
if [ -n "${WRAP:-}" ]; then export FP_TEST_TIME_SCALE=6
elif [ -n "${SAN:-}" ]; then export FP_TEST_TIME_SCALE=2
fi
for t in "$@"; do
  name=$(basename "$t")
  log=$(mktemp)
  # shellcheck disable=SC2086
  timeout 600 ${WRAP:-} "$t" >"$log" 2>&1
  rc=$?
  cat "$log"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ $rc -ne 0 ] && [ -z "$f" ]; then
    # crashed, timed out, or a sanitizer/valgrind error without a failed test
    broken+=("$name(rc=$rc)")
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
[ ${#broken[@]} -gt 0 ] && echo "broken suites: ${broken[*]}"
echo "${SAN:+[$SAN] }${WRAP:+[valgrind] }"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

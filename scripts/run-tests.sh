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
# The Python package's pytest suite (python/tests) against this build's
# library and test server, its counts added to the others. Not under
# sanitizers or valgrind: a sanitized libfetchpool cannot be loaded into an
# unsanitized python (the sanitizer runtime must come first), and valgrind
# would run the whole interpreter; the C suites cover the library there.
if [ -d python/tests ]; then
  if [ -n "${SAN:-}${WRAP:-}" ]; then
    echo "python: pytest suite not run under ${SAN:+SAN=$SAN}${WRAP:+valgrind} (a sanitized or wrapped libfetchpool cannot be loaded into an unsanitized python)"
  else
    log=$(mktemp)
    FETCHPOOL_LIBRARY="$PWD/$FP_TEST_BUILD/libfetchpool.so.1" \
      timeout 600 /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests >"$log" 2>&1
    rc=$?
    cat "$log"
    summary=$(tail -n 1 "$log")
    p=$(grep -o '[0-9]* passed' <<<"$summary" | cut -d' ' -f1)
    f=$(grep -o '[0-9]* failed' <<<"$summary" | cut -d' ' -f1)
    e=$(grep -o '[0-9]* errors\?' <<<"$summary" | cut -d' ' -f1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0} + ${e:-0}))
    if [ $rc -eq 5 ]; then
      broken+=("pytest(no tests collected)")
      failed=$((failed + 1))
    elif [ $rc -ne 0 ] && [ $((${f:-0} + ${e:-0})) -eq 0 ]; then
      broken+=("pytest(rc=$rc)")
      failed=$((failed + 1))
    fi
    rm -f "$log"
  fi
fi
[ ${#broken[@]} -gt 0 ] && echo "broken suites: ${broken[*]}"
echo "${SAN:+[$SAN] }${WRAP:+[valgrind] }"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

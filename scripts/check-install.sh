#!/usr/bin/env bash
# Install into a temporary prefix, then build examples/producers.c against
# it with pkg-config alone and run it: 500 requests from 4 threads to the
# loopback test server must all succeed. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
prefix=$(mktemp -d)
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$prefix" "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() { # check NAME COMMAND...
  if "${@:2}" >"$work/out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $1"
  else
    failed=$((failed + 1)); echo "FAIL $1"; sed 's/^/    /' "$work/out"
  fi
}

make -s all "$BUILD/fp-testserver" >/dev/null
check "make install PREFIX" make -s install PREFIX="$prefix"
for f in include/fetchpool.h lib/libfetchpool.a lib/libfetchpool.so lib/libfetchpool.so.0 \
         lib/pkgconfig/fetchpool.pc bin/fetchpool share/man/man1/fetchpool.1; do
  check "installed $f" test -e "$prefix/$f"
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config knows fetchpool" pkg-config --exists fetchpool
# shellcheck disable=SC2046
check "compile with pkg-config" cc -Wall -Wextra -Werror -o "$work/producers" examples/producers.c \
  $(pkg-config --cflags --libs fetchpool) -pthread

"$BUILD/fp-testserver" >"$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cut -d' ' -f1 <"$work/port")
check "500 requests from 4 threads" env LD_LIBRARY_PATH="$prefix/lib" \
  timeout 60 "$work/producers" "http://127.0.0.1:$port/hello" 500
grep -q "^500 of 500 requests ok" "$work/out" || { failed=$((failed + 1)); echo "FAIL result count: $(cat "$work/out")"; }
check "man page renders" env MANPATH="$prefix/share/man" man -P cat fetchpool
check "make uninstall" make -s uninstall PREFIX="$prefix"
check "uninstall removed everything" test -z "$(find "$prefix" -type f)"
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Install into a temporary prefix, check the shared library's SONAME and
# exported symbols (scripts/fetchpool.sym), build
# every program in examples/ against the installed library with pkg-config
# alone and run them on the loopback test server: examples/producers.c
# (500 requests from 4 threads must all succeed) and examples/fetch_list.c
# (its lines in input order and its exit status). Then stage an install
# with DESTDIR=... PREFIX=/usr/local and uninstall it the same way.
# Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
SONAME=libfetchpool.so.1 # the ABI: change it only with a deliberate SOVERSION bump
prefix=$(mktemp -d)
dest=$(mktemp -d)
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$prefix" "$dest" "$work"
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

# Every file `make install` puts under PREFIX.
installed_files=(include/fetchpool.h lib/libfetchpool.a lib/libfetchpool.so lib/libfetchpool.so.1
                 "lib/libfetchpool.so.$VERSION" lib/pkgconfig/fetchpool.pc bin/fetchpool
                 share/man/man1/fetchpool.1)

# (outputs are read whole before grep: grep -q on a pipe could end it early)
has_soname() { # has_soname FILE: its dynamic section names SONAME
  local dyn
  dyn=$(readelf -d "$1") || return 1
  grep '(SONAME)' <<<"$dyn"
  grep -q "(SONAME).*\[$SONAME\]" <<<"$dyn"
}

links_installed_lib() { # links_installed_lib PROGRAM: needs SONAME, found in $prefix/lib
  local dyn libs
  dyn=$(readelf -d "$1") || return 1
  grep -q "(NEEDED).*\[$SONAME\]" <<<"$dyn" || { echo "$1 does not need $SONAME"; return 1; }
  libs=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$1") || return 1
  echo "$libs"
  grep -qF "$SONAME => $prefix/lib/$SONAME " <<<"$libs"
}

nothing_left() { # nothing_left DIR: no file or symlink remains under DIR
  local left
  left=$(find "$1" ! -type d)
  [ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}

# run_fetch_list WANT_RC EXPECTED URL...: run fetch_list (built against the
# installed library) on the URLs; its output, with the text after
# "error CODE" cut (libcurl's wording varies), must be EXPECTED and its exit
# status WANT_RC.
run_fetch_list() {
  local want_rc=$1 expected=$2 rc=0
  shift 2
  LD_LIBRARY_PATH="$prefix/lib" timeout 60 "$work/fetch_list" "$@" >"$work/fetch_list.out" 2>&1 || rc=$?
  sed 's/\( error [a-z_]*\): .*/\1/' "$work/fetch_list.out" | diff -u "$expected" - || return 1
  [ "$rc" -eq "$want_rc" ] || { echo "exit status $rc, expected $want_rc"; return 1; }
}

# The ABI: the library exports exactly the symbols of scripts/fetchpool.sym.
# A symbol may be added (update the file in the same commit); removing or
# renaming one breaks programs linked against libfetchpool.so.1.
exports_listed() {
  nm -D --defined-only "$1" | awk '{print $3}' | sort | diff -u scripts/fetchpool.sym -
}

make -s all "$BUILD/fp-testserver" >/dev/null
check "built library has SONAME $SONAME" has_soname "$BUILD/libfetchpool.so.$VERSION"
check "exports exactly scripts/fetchpool.sym" exports_listed "$BUILD/libfetchpool.so.$VERSION"

# ---- make install PREFIX=..., then use it as a consumer would
check "make install PREFIX" make -s install PREFIX="$prefix"
for f in "${installed_files[@]}"; do
  check "installed $f" test -e "$prefix/$f"
done
check "installed $SONAME is the library with that SONAME" has_soname "$prefix/lib/$SONAME"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config knows fetchpool" pkg-config --exists fetchpool
for src in examples/*.c; do
  name=$(basename "$src" .c)
  # shellcheck disable=SC2046
  check "compile $src with pkg-config" cc -Wall -Wextra -Werror -o "$work/$name" "$src" \
    $(pkg-config --cflags --libs fetchpool) -pthread
  check "$name links the installed $SONAME" links_installed_lib "$work/$name"
done

"$BUILD/fp-testserver" >"$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
read -r port raw_port <"$work/port"
check "test server started" test -n "${port:-}" -a -n "${raw_port:-}"
base="http://127.0.0.1:${port:-0}"

check "500 requests from 4 threads" env LD_LIBRARY_PATH="$prefix/lib" \
  timeout 60 "$work/producers" "$base/hello" 500
grep -q "^500 of 500 requests ok" "$work/out" || { failed=$((failed + 1)); echo "FAIL result count: $(cat "$work/out")"; }

# The slow first URL finishes last: its line must still come first.
cat >"$work/fetch_list.ok" <<EOF
$base/delay/300 200 11 bytes
$base/hello 200 5 bytes
$base/bytes/1000 200 1000 bytes
$base/status/404 404 10 bytes
EOF
check "fetch_list: in input order, exit 0" run_fetch_list 0 "$work/fetch_list.ok" \
  "$base/delay/300" "$base/hello" "$base/bytes/1000" "$base/status/404"
cat >"$work/fetch_list.err" <<EOF
http://127.0.0.1:${raw_port:-0}/reset error network
$base/text/abc 200 3 bytes
ftp://127.0.0.1/x error unsupported_protocol
EOF
check "fetch_list: transfer errors reported, exit 1" run_fetch_list 1 "$work/fetch_list.err" \
  "http://127.0.0.1:${raw_port:-0}/reset" "$base/text/abc" "ftp://127.0.0.1/x"

check "man page renders" env MANPATH="$prefix/share/man" man -P cat fetchpool
check "make uninstall" make -s uninstall PREFIX="$prefix"
check "uninstall removed everything" nothing_left "$prefix"

# ---- staged install: make install DESTDIR=... PREFIX=/usr/local
stage="$dest/usr/local"
outside=() # files of ours already in the real /usr/local: not ours to judge
for f in "${installed_files[@]}"; do [ -e "/usr/local/$f" ] && outside+=("$f"); done
wrote_outside() { # fail when the staged install created a file in the real /usr/local
  local f bad=0
  for f in "${installed_files[@]}"; do
    [[ " ${outside[*]} " == *" $f "* ]] && continue
    [ -e "/usr/local/$f" ] && { echo "written outside DESTDIR: /usr/local/$f"; bad=1; }
  done
  return $bad
}
pc_has_prefix() { # the .pc names the final prefix, not the staging directory
  cat "$stage/lib/pkgconfig/fetchpool.pc"
  grep -qx "prefix=/usr/local" "$stage/lib/pkgconfig/fetchpool.pc" &&
    grep -qx "libdir=/usr/local/lib" "$stage/lib/pkgconfig/fetchpool.pc" &&
    ! grep -qF "$dest" "$stage/lib/pkgconfig/fetchpool.pc"
}
links_stay_inside() { # relative symlinks, resolving to the staged library
  local l
  for l in libfetchpool.so "$SONAME"; do
    [ "$(readlink -f "$stage/lib/$l")" = "$stage/lib/libfetchpool.so.$VERSION" ] ||
      { echo "$l -> $(readlink "$stage/lib/$l")"; return 1; }
  done
}
check "make install DESTDIR PREFIX=/usr/local" make -s install DESTDIR="$dest" PREFIX=/usr/local
for f in "${installed_files[@]}"; do
  check "staged $f" test -e "$stage/$f"
done
check "staged install wrote nothing outside DESTDIR" wrote_outside
check "staged fetchpool.pc says prefix /usr/local" pc_has_prefix
check "staged library symlinks resolve inside DESTDIR" links_stay_inside
check "staged $SONAME has SONAME $SONAME" has_soname "$stage/lib/$SONAME"
check "make uninstall DESTDIR PREFIX=/usr/local" make -s uninstall DESTDIR="$dest" PREFIX=/usr/local
check "staged uninstall removed everything" nothing_left "$dest"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The walls of DESIGN.md, checked so they hold without anyone remembering
# them (run by `make lint`):
#   - only src/transfer.c and src/engine_multi.c include curl/curl.h;
#   - jansson.h only in the model (request, response, record), the CLI
#     and the tests: the public header only names json_t;
#   - the library (src/*.c) never includes the CLI, never prints, never exits;
#   - programs outside src/ (python/, examples/) see only the public header;
#   - the public header compiles alone and with jansson.h before or after
#     it, as C11 and as C++.
# Prints one line per broken wall and "walls: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
passed=0 failed=0
wall() { # wall NAME OFFENDERS: no offender means the wall holds
  if [ -z "$2" ]; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "wall broken: $1:"; echo "$2" | sed 's/^/    /'; fi
}
includes() { # includes HEADER-REGEX FILES...: the files that include it
  grep -lE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($1)[>\"]" "${@:2}" 2>/dev/null
}

lib=(src/*.c src/*.h)
wall "curl outside transfer.c and engine_multi.c" \
  "$(includes 'curl/curl\.h' "${lib[@]}" src/cli/*.c src/cli/*.h src/cli/stream/*.[ch] include/*.h |
     grep -vxE 'src/(transfer|engine_multi)\.c')"
wall "jansson outside the model and the CLI" \
  "$(includes 'jansson\.h' "${lib[@]}" include/*.h | grep -vxE 'src/(request|response|record)\.c')"
wall "the library includes the CLI" "$(includes '(cli/)?cli\.h|hiredis.*' "${lib[@]}")"
wall "the library prints or exits" \
  "$(grep -nE '\b(printf|fprintf|vfprintf|puts|fputs|perror|exit|_exit|abort)[[:space:]]*\(' \
     "${lib[@]}" | grep -v 'snprintf')"
# the library's room headers (src/*.h), by name: "queue.h" is ours,
# <sys/queue.h> is not
private=$(cd src && ls *.h | sed 's/\./\\./' | paste -sd'|')
outside=$(find python examples -name '*.c' -o -name '*.h' -o -name '*.py' 2>/dev/null)
wall "private headers used outside src/" \
  "$( [ -n "$outside" ] && grep -lE "\"(src/)?($private)\"|src/cli/|cli\.h" $outside)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
header_errors=""
for lang in c c++; do
  if [ "$lang" = c ]; then cc=${CC:-cc}; std=-std=c11; ext=c; else cc=${CXX:-g++}; std=-std=c++11; ext=cc; fi
  command -v "$cc" >/dev/null || { header_errors+="$lang: no compiler $cc"$'\n'; continue; }
  for order in alone before after; do
    case $order in
      alone)  printf '#include "fetchpool.h"\nint main(void){return fp_executor_new(0,0)!=0;}\n' ;;
      before) printf '#include <jansson.h>\n#include "fetchpool.h"\nint main(void){json_t*j=json_null();return fp_request_set_id(0,j);}\n' ;;
      after)  printf '#include "fetchpool.h"\n#include <jansson.h>\nint main(void){json_t*j=json_null();return fp_request_set_id(0,j);}\n' ;;
    esac >"$tmp/h.$ext"
    "$cc" $std -Wall -Wextra -Werror -Iinclude -fsyntax-only "$tmp/h.$ext" >"$tmp/err" 2>&1 ||
      header_errors+="$lang, $order: $(head -3 "$tmp/err")"$'\n'
  done
done
wall "the public header does not compile" "${header_errors%$'\n'}"

echo "walls: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

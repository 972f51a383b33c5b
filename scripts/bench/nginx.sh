#!/usr/bin/env bash
# Start (or stop) the benchmark nginx on loopback.
#   nginx.sh start DIR PORT   installs nginx-light + echo module if missing
#   nginx.sh stop DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=$1 dir=$2
case "$cmd" in
start)
  port=$3
  if ! command -v nginx >/dev/null || [ ! -e /usr/lib/nginx/modules/ngx_http_echo_module.so ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq nginx-light libnginx-mod-http-echo >/dev/null ||
      { $sudo apt-get update -qq && $sudo apt-get install -y -qq nginx-light libnginx-mod-http-echo >/dev/null; }
  fi
  mkdir -p "$dir"
  # workers run as nobody: they must be able to read 100k.bin (mktemp -d is 0700)
  chmod 755 "$dir"
  head -c 102400 /dev/zero | tr '\0' 'x' >"$dir/100k.bin"
  chmod 644 "$dir/100k.bin"
  sed -e "s|__PORT__|$port|" -e "s|__DIR__|$dir|" "$here/nginx.conf" >"$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon on;'
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/tiny" >/dev/null && exit 0; sleep 0.1; done
  echo "nginx did not start" >&2; exit 1 ;;
stop)
  if [ -f "$dir/nginx.pid" ]; then
    pid=$(cat "$dir/nginx.pid")
    kill "$pid" 2>/dev/null || true
    # wait (at most 5 s) for the master to exit, so the port is free again
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi ;;
esac

#!/usr/bin/env bash
# Start (or stop) the benchmark nginx on loopback.
#   nginx.sh start DIR PORT [H1PORT H2PORT]
#        installs nginx-light + echo module if missing; with H1PORT and
#        H2PORT also serves the same locations over HTTPS: HTTP/1.1 only on
#        H1PORT, HTTP/2 (ALPN h2, and http/1.1 for clients without it) on
#        H2PORT, with a CA and server certificate made here by openssl
#        (DIR/ca.pem is the CA clients give as --cacert; TLS_KEY picks the
#        key type [ec:P-256; or rsa:2048]); each request is logged to
#        DIR/tls.log (format "tls" of nginx.conf)
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
  sed -e "s|__DIR__|$dir|" "$here/nginx-locations.conf" >"$dir/locations.conf"
  rm -f "$dir/tls-servers.conf"
  if [ $# -ge 5 ]; then
    h1=$4 h2=$5
    command -v openssl >/dev/null || { echo "openssl is missing (apt-get install openssl)" >&2; exit 1; }
    key=${TLS_KEY:-ec:P-256}
    case "$key" in
    ec:*) kopt=(-newkey ec -pkeyopt "ec_paramgen_curve:${key#ec:}") ;;
    rsa:*) kopt=(-newkey "$key") ;;
    *) echo "TLS_KEY: expected ec:CURVE or rsa:BITS, not $key" >&2; exit 1 ;;
    esac
    # a CA, and a server certificate it signs for 127.0.0.1 (valid 30 days)
    openssl req -x509 -new -nodes "${kopt[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 30 \
      -subj "/CN=fetchpool bench CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -nodes "${kopt[@]}" -keyout "$dir/server.key" -out "$dir/server.csr" \
      -subj "/CN=127.0.0.1" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
      -out "$dir/server.pem" -days 30 -extfile "$dir/server.ext" 2>/dev/null
    chmod 644 "$dir/ca.pem" "$dir/server.pem"
    : >"$dir/tls.log"
    chmod 666 "$dir/tls.log"
    # TLS 1.3 as public servers negotiate it (Debian's nginx 1.22 leaves it
    # out by default), and both ways of resuming a session offered (a
    # session cache for ids, tickets), so that the counts show what the
    # client does
    for p in "$h1" "$h2"; do
      v2=""
      [ "$p" = "$h2" ] && v2=" http2"
      cat <<EOT
  server {
    listen 127.0.0.1:$p ssl$v2 backlog=4096 reuseport;
    ssl_certificate $dir/server.pem;
    ssl_certificate_key $dir/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:20m;
    ssl_session_tickets on;
    access_log $dir/tls.log tls;
    include $dir/locations.conf;
  }
EOT
    done >"$dir/tls-servers.conf"
  fi
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon on;'
  for _ in $(seq 50); do
    if curl -sf "http://127.0.0.1:$port/tiny" >/dev/null; then
      [ $# -lt 5 ] && exit 0
      curl -sf --cacert "$dir/ca.pem" "https://127.0.0.1:$4/tiny" >/dev/null &&
        curl -sf --cacert "$dir/ca.pem" --http2 "https://127.0.0.1:$5/tiny" >/dev/null && exit 0
    fi
    sleep 0.1
  done
  echo "nginx did not start" >&2; exit 1 ;;
stop)
  if [ -f "$dir/nginx.pid" ]; then
    pid=$(cat "$dir/nginx.pid")
    kill "$pid" 2>/dev/null || true
    # wait (at most 5 s) for the master to exit, so the port is free again
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi ;;
esac

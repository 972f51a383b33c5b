#!/usr/bin/env bash
# Install the Debian packages fetchpool needs to build and test, if missing.
# With the argument "fuzz", also clang and its libFuzzer runtime (make fuzz);
# with "python", what `make python` and the README's Python examples need
# (setuptools and wheel to build the package offline, requests and aiohttp
# for the patterns it is compared with).
set -euo pipefail

pkgs=(build-essential pkg-config libcurl4-openssl-dev libjansson-dev
      libcmocka-dev libmicrohttpd-dev zlib1g-dev libhiredis-dev redis-server
      valgrind curl openssl python3 man-db locales
      python3-cffi python3-pytest python3-venv
      nginx tinyproxy microsocks)  # test_net's servers (it starts its own)
if [ "${1:-}" = fuzz ]; then pkgs+=(clang libclang-rt-14-dev); fi
if [ "${1:-}" = python ]; then
  pkgs+=(python3-setuptools python3-wheel python3-requests python3-aiohttp)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt run (unattended upgrades, another build).
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

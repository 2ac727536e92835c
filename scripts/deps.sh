#!/usr/bin/env bash
# Installs the Debian packages ringfork needs that are missing. Usage: scripts/deps.sh build|test|bench
set -euo pipefail
what=${1:-build}
pkgs=(cmake ninja-build make g++ pkg-config liburing-dev libfmt-dev libboost-test-dev libtomlplusplus-dev python3)
case "$what" in
  build) ;;
  test) pkgs+=(clang libclang-rt-14-dev curl wrk nodejs util-linux mount slowhttptest systemd prometheus chromium) ;;
  bench) pkgs+=(wrk nginx-light h2o nodejs gcc util-linux apache2-utils) ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

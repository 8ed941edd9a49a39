#!/usr/bin/env bash
# deps.sh [--test]: install the Debian packages libapi needs to build (and, with --test, to run
# its whole test suite: Criterion, curl (with CA certificates, to fetch the OpenAPI 3.1 schema),
# clang's libFuzzer, and chromium, which renders the /docs page headless in test_openapi).
# Installs only what is missing.
set -euo pipefail
pkgs=(gcc make cmake pkg-config libc6-dev libevent-dev libjansson-dev libssl-dev zlib1g-dev
  libpcre2-dev libcrypt-dev)
if [[ ${1:-} == --test ]]; then
  pkgs+=(libcriterion-dev curl ca-certificates openssl clang libclang-rt-14-dev clang-format
    binutils chromium)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -ne 0 ]] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

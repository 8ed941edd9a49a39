#!/usr/bin/env bash
# install-test.sh BUILD_DIR: install BUILD_DIR into a temporary prefix, then build examples/hello.c
# out of the tree twice — with `pkg-config --cflags --libs libapi` and with find_package(libapi) —
# start each and check its answer over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
prefix=$(mktemp -d)
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$prefix" "$work"; true' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name libapi.pc)")/..
export PKG_CONFIG_PATH=$libdir/pkgconfig LD_LIBRARY_PATH=$libdir
ls "$prefix/include/libapi/api.h" "$libdir"/libapi.so.* "$libdir"/libapi.a >/dev/null
# the command-line program is installed and works on its own
echo '{"type":"integer"}' >"$work/s.json"
echo 5 | "$prefix/bin/libapi" schema validate "$work/s.json" -
if echo '"x"' | "$prefix/bin/libapi" schema validate "$work/s.json" - >/dev/null; then
  echo "libapi schema validate accepted an invalid document"
  exit 1
fi

try() { # binary: start it on a free port, GET /, expect the greeting
  local port=$((20000 + RANDOM % 20000))
  API_PORT=$port API_WORKERS=1 "$1" 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  local body
  body=$(curl -s "http://127.0.0.1:$port/hello/Ada?greeting=Hi")
  local doc
  doc=$(curl -s "http://127.0.0.1:$port/openapi.json")
  kill -TERM $pid
  local rc=0
  wait $pid || rc=$?
  pid=
  [[ $body == '{"data":{"message":"Hi, Ada!"}}' ]] || { echo "unexpected answer: $body"; cat "$work/server.log"; return 1; }
  [[ $doc == '{"openapi":"3.1.0",'* ]] || { echo "unexpected /openapi.json: $doc"; return 1; }
  [[ $rc == 0 ]] || { echo "server exited with $rc after SIGTERM"; return 1; }
}

cc -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -o "$work/hello-pc" examples/hello.c $(pkg-config --cflags --libs libapi)
try "$work/hello-pc"
echo "pkg-config build: ok"

mkdir -p "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(hello_consumer C)
find_package(libapi REQUIRED)
add_executable(hello $PWD/examples/hello.c)
target_link_libraries(hello PRIVATE libapi::libapi)
CMAKE
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm/build" >/dev/null
try "$work/cm/build/hello"
echo "find_package build: ok"

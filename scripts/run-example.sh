#!/usr/bin/env bash
# run-example.sh [NAME]: install what is missing, build, and run examples/NAME.c (default: hello)
# on API_HOST:API_PORT (default 127.0.0.1:8080) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-hello}
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLIBAPI_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target "$name" >/dev/null
exec "build/examples/$name"

#!/usr/bin/env bash
# fuzz.sh [SECONDS]: build every fuzz/fuzz_*.c with clang's libFuzzer and run each on its seed
# corpus for SECONDS (default 60). Fails if any target finds a crash, leak or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
CC=clang cmake -S . -B build-fuzz -DLIBAPI_BUILD_FUZZ=ON -DLIBAPI_BUILD_TESTS=OFF \
  -DLIBAPI_BUILD_EXAMPLES=OFF -DLIBAPI_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLIBAPI_SANITIZE=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p build-fuzz/artifacts
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus=fuzz/corpus/${name#fuzz_}
  work=build-fuzz/corpus-${name#fuzz_}
  mkdir -p "$work"
  echo "fuzz: $name for ${secs}s"
  rc=0
  build-fuzz/fuzz/"$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 "$work" "$corpus" \
    >"build-fuzz/$name.log" 2>&1 || rc=$?
  grep -E '^stat::number_of_executed_units|^stat::peak_rss|ERROR|SUMMARY' "build-fuzz/$name.log" || true
  if ((rc != 0)); then
    tail -n 40 "build-fuzz/$name.log"
    echo "fuzz: $name failed (see build-fuzz/artifacts/)"
    exit 1
  fi
done

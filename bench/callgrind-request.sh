#!/usr/bin/env bash
# callgrind-request.sh BUILD_DIR [SERVER_ARGS...]: instructions per request of bench_server, a
# figure that is repeatable where wall-clock times are not. Serves N and then 3N keep-alive
# GET /users/42 on one connection (curl) under valgrind --tool=callgrind and prints
# (I(3N) - I(N)) / 2N, which cancels start-up and shutdown. Example:
#   bench/callgrind-request.sh build --stack --access-log /tmp/access.log
set -euo pipefail
build=${1:?usage: callgrind-request.sh BUILD_DIR [bench_server args...]}
shift
n=${N:-1000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install -y valgrind)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { # count, server args... -> total instructions
  local count=$1 port=$((20000 + RANDOM % 20000))
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/out.$count" "$build/bench/bench_server" \
    --port "$port" --workers 1 "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s "localhost:$port/json" >/dev/null && break; sleep 0.2; done
  local urls=()
  for _ in $(seq "$count"); do urls+=("localhost:$port/users/42"); done
  curl -s "${urls[@]}" >/dev/null
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  awk '/^(summary|totals):/ {print $2; exit}' "$work/out.$count"
}
a=$(run "$n" "$@")
b=$(run $((3 * n)) "$@")
echo "instructions/request $(((b - a) / (2 * n)))"

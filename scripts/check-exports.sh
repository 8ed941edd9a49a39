#!/usr/bin/env bash
# check-exports.sh LIB.so INCLUDE_DIR: the dynamic symbols LIB.so defines must be exactly the
# functions declared LIBAPI_EXTERN in the public headers (jansson's check-exports, in spirit).
set -euo pipefail
lib=$1 inc=$2
declared=$(cat "$inc"/*.h | tr '\n' ' ' | grep -oE 'LIBAPI_EXTERN[^;(]*\(' |
  grep -oE 'api_[A-Za-z0-9_]+ *\($' | tr -d ' (' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
if [[ "$declared" != "$exported" ]]; then
  echo "exported symbols differ from the declared API (< declared only, > exported only):"
  diff <(echo "$declared") <(echo "$exported") || true
  exit 1
fi
echo "check-exports: $(wc -l <<<"$exported") symbols, all declared, nothing else exported"

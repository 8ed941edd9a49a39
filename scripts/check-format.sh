#!/usr/bin/env bash
# check-format.sh: every C source and header in the repository is formatted as .clang-format says
# (clang-format 14, Debian 12's). Lists the files that are not; run `clang-format -i` on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# The source folders, not git ls-files: CI may run on an exported tree without git.
mapfile -t files < <(find bench cli examples fuzz include src tests -type f \( -name '*.c' -o -name '*.h' \) |
  grep -v '^src/schema/metaschemas.c$' | sort)
if ((${#files[@]} < 100)); then
  echo "check-format: found only ${#files[@]} C files: run from a full source tree" >&2
  exit 1
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'not clang-formatted: %s\n' "${bad[@]}"
  exit 1
fi
echo "${#files[@]} files formatted"

#!/usr/bin/env bash
# check-headers.sh CC INCLUDE_DIR GENERATED_INCLUDE_DIR: every public header compiles on its own,
# warning-free, as C11 with -pedantic (libgit2's headertest, in spirit).
set -euo pipefail
cc=$1 inc=$2 gen=$3
fail=0
for h in "$inc"/libapi/*.h; do
  name=libapi/$(basename "$h")
  if ! echo "#include <$name>" | "$cc" -std=c11 -pedantic -Wall -Wextra -Werror \
      -I"$inc" -I"$gen" $(pkg-config --cflags jansson) -fsyntax-only -x c -; then
    echo "FAIL: $name does not compile alone"
    fail=1
  fi
done
((fail == 0)) && echo "check-headers: every header compiles alone under -std=c11 -pedantic"
exit $fail

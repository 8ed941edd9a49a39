#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite the way CI does:
#   0. download the official OpenAPI 3.1 schema (test_openapi checks the generated document with it)
#   1. warnings-as-errors build + every test (unit, integration over loopback, exports, headers)
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. install into a temporary prefix; build examples/hello.c out of the tree with pkg-config and
#      with CMake's find_package(libapi); start it and send it a request
#   4. every libFuzzer target for FUZZ_SECONDS (default 20) each
#   5. every C file is clang-formatted
# Prints a closing line "summary: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-20}
passed=0 failed=0
stage() { # name, command...
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    echo "=== $name: ok"
    return 0
  fi
  echo "=== $name: FAILED"
  return 1
}
count_ctest() { # log file: add its pass/fail counts
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$1" | tail -n 1)
  if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[1]))
    passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  else
    failed=$((failed + 1))
  fi
}

scripts/deps.sh --test || { echo "summary: 0 passed, 1 failed"; exit 1; }

suite() { # build dir, extra cmake args...
  local dir=$1
  shift
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DLIBAPI_WERROR=ON "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; return 1; }
  (cd "$dir" && ctest --output-on-failure -j"$jobs") 2>&1 | tee "$dir/ctest.log"
  return "${PIPESTATUS[0]}"
}

# test_openapi validates the generated document against the official OpenAPI 3.1 schema, which is
# downloaded (it skips that one check, saying so, without it; here its absence fails the run).
openapi_schema() {
  scripts/fetch-openapi-schema.sh build && mkdir -p build-asan &&
    cp build/openapi-3.1-schema.json build-asan/
}
if stage "fetch the official OpenAPI 3.1 schema" openapi_schema; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
stage "build and test" suite build
count_ctest build/ctest.log
# Criterion runs tests in forked children and does not fail a test over a sanitizer report, so
# reports go to files and any file fails the stage.
sanitized() {
  rm -rf build-asan/reports && mkdir -p build-asan/reports
  ASAN_OPTIONS=log_path=$root/build-asan/reports/asan:detect_leaks=1 \
    LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=log_path=$root/build-asan/reports/ubsan:print_stacktrace=1 \
    suite build-asan -DLIBAPI_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DLIBAPI_BUILD_BENCH=OFF || return 1
  if compgen -G "build-asan/reports/*" >/dev/null; then
    echo "sanitizer reports:"
    head -n 60 build-asan/reports/*
    return 1
  fi
}
if stage "build and test under ASan+UBSan" sanitized; then
  count_ctest build-asan/ctest.log
else
  count_ctest build-asan/ctest.log
  ((failed += 1))
fi

if stage "install and build the example out of the tree" scripts/install-test.sh build; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
if stage "fuzz each target for ${fuzz_seconds}s" scripts/fuzz.sh "$fuzz_seconds"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
if stage "formatting" scripts/check-format.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
echo "summary: $passed passed, $failed failed"
((failed == 0))

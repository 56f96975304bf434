#!/usr/bin/env bash
# Installs every dependency, builds wsbroker twice (release, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test in both:
# cmocka unit tests, the broker lifecycle, conformance, pub/sub and stress
# tests, and the interop tests with real third-party clients (Python
# websockets, Node ws, headless Chromium). A third build with ThreadSanitizer
# runs the concurrency stress test. Then each libFuzzer target runs for
# FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
tools/install-deps.sh --test

run_suite() { # build-dir, ctest label regex ('' for all), extra cmake flags...
    local dir=$1 labels=$2
    shift 2
    echo "== build $dir"
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    echo "== test $dir"
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" ${labels:+-L "$labels"} | tee "$dir/ctest.log"
    local n
    n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.log")
    passed=$((passed + ${n:-0}))
}

passed=0

run_suite build/release '' -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build/asan '' -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSB_SANITIZE=ON
# ThreadSanitizer, built with clang (GCC's TSan skips the memcpy it expands
# inline, so it missed races clang reports): the suites whose brokers run
# several workers exchanging messages, conformance, and the unit tests (the
# mailbox's two-thread test). Not pubsub/tls: pubsub's RSS bounds don't hold
# under TSan's shadow memory. Its own directory: switching an existing
# build/tsan from gcc to clang makes cmake drop its cache, -DWSB_TSAN=ON too.
TSAN_OPTIONS=halt_on_error=1 \
    run_suite build/tsan-clang 'stress|auth|ops|broker|clients|conformance|unit' -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DWSB_TSAN=ON -DCMAKE_C_COMPILER=clang

echo "== fuzz"
tools/fuzz.sh "${FUZZ_SECONDS:-60}"
passed=$((passed + $(ls build/fuzz/tests/fuzz/fuzz_* | wc -l)))
echo "tools/test.sh: $passed passed, 0 failed"

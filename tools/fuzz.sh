#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
#   tools/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Seeds come from tests/fuzz/corpus/<name>/; the growing corpus is kept in
# build/fuzz/corpus/<name>/ so repeated runs start where the last one ended.
# Exits non-zero if any target finds a crash, a leak or a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cmake -S . -B build/fuzz -DWSB_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/fuzz -j"$(nproc)" >/dev/null
status=0
for target in build/fuzz/tests/fuzz/fuzz_*; do
    [ -x "$target" ] || continue
    name=$(basename "$target")
    seeds="tests/fuzz/corpus/${name#fuzz_}"
    corpus="build/fuzz/corpus/${name#fuzz_}"
    artifacts="build/fuzz/artifacts/$name/"
    mkdir -p "$corpus" "$artifacts"
    echo "fuzz: $name for ${seconds}s"
    if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" "$seeds" \
            > "build/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name FAILED; see build/fuzz/$name.log and $artifacts"
        tail -n 40 "build/fuzz/$name.log"
        status=1
    else
        grep -E '^stat::number_of_executed_units|^Done ' "build/fuzz/$name.log" | tr '\n' ' '
        echo
    fi
done
exit $status

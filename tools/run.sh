#!/usr/bin/env bash
# Installs the build dependencies, builds wsbroker (release) and starts it.
# With no arguments it runs on its embedded defaults (ws://127.0.0.1:8080);
# any arguments are passed to wsbroker (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DWSB_BENCH=OFF >/dev/null
cmake --build build/release --target wsbroker -j"$(nproc)" >/dev/null
exec build/release/broker/wsbroker "$@"

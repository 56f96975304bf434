#!/usr/bin/env bash
# Installs every Debian package wsbroker needs to build, test and benchmark.
# Idempotent: packages already present are skipped, apt-get update runs at most
# once per machine boot (or when a package is missing from the lists).
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
            liburing-dev libwolfssl-dev libjemalloc-dev libmsgpack-dev
            libbenchmark-dev libcmocka-dev)
test_pkgs=(python3 python3-websockets python3-msgpack chromium nodejs openssl)
test_pkgs+=(systemd)  # systemd-analyze: verifies tools/systemd/wsbroker.service (tests/ops)
# bench (tests/bench, bench/compare.sh): plots, and the peer brokers it measures
test_pkgs+=(gnuplot-nox nats-server mosquitto)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node may come from Debian (nodejs + npm) or from a vendor package that
# bundles npm; only ask for Debian's npm when no npm is on PATH.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    echo "install-deps: installing ${missing[*]}" >&2
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

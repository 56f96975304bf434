#!/bin/sh
# Install the Node interop tests' npm dependencies (ws, playwright-core) into
# tests/interop/node/node_modules, but only when they are missing or older
# than package.json / package-lock.json. Never downloads a browser: the tests
# use Debian's /usr/bin/chromium.
#
# Run by ctest as the fixture-setup test interop.node_deps; safe to run by
# hand and safe to run twice at once (flock).
set -eu

cd "$(dirname "$0")"

stale() {
    stamp=node_modules/.package-lock.json     # npm writes it after every install
    [ -f "$stamp" ] || return 0
    [ -f node_modules/ws/package.json ] || return 0
    [ -f node_modules/playwright-core/package.json ] || return 0
    [ package.json -nt "$stamp" ] && return 0
    [ package-lock.json -nt "$stamp" ] && return 0
    return 1
}

install() {
    if ! stale; then
        echo "ensure-deps: node_modules is up to date"
        return 0
    fi
    echo "ensure-deps: installing npm dependencies in $(pwd)"
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --loglevel=error
    fi
}

if command -v flock >/dev/null 2>&1; then
    # Serialise concurrent runs; the lock lives outside the source tree,
    # keyed by this directory's path.
    lock="${TMPDIR:-/tmp}/wsb-ensure-deps-$(pwd | cksum | cut -d' ' -f1).lock"
    exec 9>"$lock"
    flock -w 600 9
fi
install

#!/usr/bin/env bash
# scaling.sh - delivered messages per second against the broker's worker
# count: starts wsbroker with --workers W for each W in WORKERS, runs the
# same closed-loop wsbroker-bench scenario against each, and writes one CSV
# row per run plus a plot (bench/scaling.gp) of delivered/s against W, with
# the line a perfectly linear broker would follow from W = 1.
#
#   bench/scaling.sh [BUILD_DIR] [OUT_DIR]
#       BUILD_DIR  a Release build with wsbroker and wsbroker-bench
#                  (default build/release)
#       OUT_DIR    where scaling.csv, runs.csv, table.md, scaling.png and
#                  environment.txt go, and under runs/ every run's JSON and
#                  logs (default bench/results/scaling-YYYYmmdd-HHMMSS)
#   Environment: WORKERS (the worker counts, each at most the CPU count;
#   default: those of 1 2 4 8 12 16 that fit, and the CPU count), SCENARIO (fanout, default: one topic, SUBSCRIBERS subscribers;
#   or market: 100 symbols, MD_SUBSCRIBERS subscribers on 10 each, Zipf 1.0),
#   SUBSCRIBERS (default 1000), MD_SUBSCRIBERS (default 100), RATE
#   (publishes/s; default 0: closed loop, the most the pair delivers), DURATION (s,
#   default 10), WARMUP (s, default 1), REPEAT (runs per worker count, default
#   1; the table and plot take the median), BENCH_THREADS (the generator's
#   subscriber threads, default 4), INFLIGHT (default 4096: the publisher's
#   confirm window, wide enough that the broker's CPU, not the round trip,
#   bounds a closed loop on many cores), PIN (1: broker on CPUs 0..W-1 and
#   the generator on the others while W < the CPU count; default 0: unpinned).
#
# What it measures is the broker and this generator on one machine: past
# half the CPUs they compete for cores, which the plot shows as a bend.
# Broker CPU is utime+stime from /proc/PID/stat around each run. Each broker
# is stopped (its PID only) before the next starts.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
OUT=${2:-$ROOT/bench/results/scaling-$(date -u +%Y%m%d-%H%M%S)}
SCENARIO=${SCENARIO:-fanout}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
MD_SUBSCRIBERS=${MD_SUBSCRIBERS:-100}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-1}
BENCH_THREADS=${BENCH_THREADS:-4}
INFLIGHT=${INFLIGHT:-4096}
RATE=${RATE:-0}
PIN=${PIN:-0}
BENCH=$BUILD/bench/wsbroker-bench/wsbroker-bench
WSBROKER=$BUILD/broker/wsbroker
CPUS=$(nproc)
if [ -z "${WORKERS:-}" ]; then
    WORKERS=$(printf '%s\n' 1 2 4 8 12 16 "$CPUS" | awk -v n="$CPUS" '$1 <= n' | sort -nu | tr '\n' ' ')
fi

# shellcheck source=run_lib.sh
source "$ROOT/bench/run_lib.sh"
die() { echo "scaling.sh: $*" >&2; exit 1; }
for f in "$BENCH" "$WSBROKER"; do
    [ -x "$f" ] || die "$f is missing: cmake --build $BUILD --target wsbroker-bench wsbroker"
done
for w in $WORKERS; do
    [[ $w =~ ^[1-9][0-9]*$ ]] || die "WORKERS must list positive integers, not '$w'"
    [ "$w" -le "$CPUS" ] || die "WORKERS: $w is over this machine's $CPUS CPUs"
done
need_count REPEAT "$REPEAT"
need_count BENCH_THREADS "$BENCH_THREADS"
need_count INFLIGHT "$INFLIGHT"
[[ $RATE =~ ^[0-9]+$ ]] || die "RATE must be a whole number of publishes/s, not '$RATE'"
case $SCENARIO in
fanout) ARGS=(fanout --subscribers "$SUBSCRIBERS" --size 64 --topics 1) ;;
market) ARGS=(market --topics 100 --subscribers "$MD_SUBSCRIBERS" --symbols-per-sub 10 --zipf 1.0 --size 64) ;;
*) die "SCENARIO must be fanout or market, not '$SCENARIO'" ;;
esac
ARGS+=(--drain 5 --threads "$BENCH_THREADS" --inflight "$INFLIGHT" --duration "$DURATION" --warmup "$WARMUP"
       --rate "$RATE")
mkdir -p "$OUT/runs"
raise_file_limit

BROKER_PID=
cleanup() { [ -z "$BROKER_PID" ] || { kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }; }
trap cleanup EXIT


{
    host_lines
    echo "wsbroker: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "settings: WORKERS=\"$WORKERS\" SCENARIO=$SCENARIO SUBSCRIBERS=$SUBSCRIBERS MD_SUBSCRIBERS=$MD_SUBSCRIBERS RATE=$RATE DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT BENCH_THREADS=$BENCH_THREADS INFLIGHT=$INFLIGHT PIN=$PIN"
    echo "generator: ${ARGS[*]}"
} >"$OUT/environment.txt"

echo "workers,round,exit,delivered_per_s,published_per_s,p50_ms,p99_ms,gaps,broker_cpu_s" >"$OUT/runs.csv"
for round in $(seq "$REPEAT"); do
    for w in $WORKERS; do
        on_broker=(); on_bench=()
        if [ "$PIN" = 1 ] && [ "$w" -lt "$CPUS" ]; then
            on_broker=(taskset -c "0-$((w - 1))")
            on_bench=(taskset -c "$w-$((CPUS - 1))")
        fi
        tag="runs/w$w.r$round"
        "${on_broker[@]}" "$WSBROKER" --listen 127.0.0.1:0 --workers "$w" 2>"$OUT/$tag.log" &
        BROKER_PID=$!
        port=$(listening_port "$OUT/$tag.log")
        echo "scaling.sh: round $round of $REPEAT: $w workers" >&2
        before=$(cpu_ticks "$BROKER_PID")
        rc=0
        "${on_bench[@]}" "$BENCH" "${ARGS[@]}" --url "ws://127.0.0.1:$port/v1" --json \
            >"$OUT/$tag.json" 2>"$OUT/$tag.err" || rc=$?
        after=$(cpu_ticks "$BROKER_PID")
        kill -TERM "$BROKER_PID"
        wait "$BROKER_PID" || die "wsbroker --workers $w exited with $? (see $OUT/$tag.log)"
        BROKER_PID=
        /usr/bin/python3 - "$OUT/$tag.json" "$w" "$round" "$rc" "$(( after - before ))" >>"$OUT/runs.csv" <<'PY'
import json, sys
path, w, rnd, rc, ticks = sys.argv[1:]
try:
    j = json.load(open(path))
except ValueError:
    j = {}
lat = j.get("latency_us", {})
print(",".join(str(v) for v in (
    w, rnd, rc, j.get("delivered_per_s", 0), j.get("published_per_s", 0),
    lat.get("p50", 0) / 1000, lat.get("p99", 0) / 1000,
    j.get("delivery", {}).get("gap_msgs", 0), int(ticks) / 100)))
PY
    done
done

# The median run per worker count: scaling.csv (for the plot) and table.md.
/usr/bin/python3 - "$OUT" <<'PY'
import csv, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/runs.csv")))
by = {}
for r in rows:
    by.setdefault(int(r["workers"]), []).append(r)
base = None
with open(f"{out}/scaling.csv", "w") as f, open(f"{out}/table.md", "w") as t:
    f.write("workers,delivered_per_s,linear_per_s,speedup,p99_ms,broker_cpu_s\n")
    t.write("| workers | delivered/s (median) | speedup over 1 worker | p99 ms | broker CPU s | runs |\n")
    t.write("|---|---|---|---|---|---|\n")
    for w in sorted(by):
        runs = sorted(by[w], key=lambda r: float(r["delivered_per_s"]))
        m = runs[len(runs) // 2]
        d = float(m["delivered_per_s"])
        if base is None:
            base = (w, d)
        linear = base[1] * w / base[0]
        speedup = d / base[1] if base[1] else 0
        f.write(f"{w},{d:.1f},{linear:.1f},{speedup:.3f},{m['p99_ms']},{m['broker_cpu_s']}\n")
        bad = [r for r in runs if r["exit"] != "0" or r["gaps"] != "0"]
        t.write(f"| {w} | {d:,.0f} | {speedup:.2f} | {float(m['p99_ms']):.2f} | {m['broker_cpu_s']} | "
                f"{len(runs)}{' (' + str(len(bad)) + ' with exit != 0 or gaps)' if bad else ''} |\n")
print(open(f"{out}/table.md").read(), end="")
PY
if command -v gnuplot >/dev/null; then
    gnuplot -e "csv='$OUT/scaling.csv'; png='$OUT/scaling.png'; title='wsbroker $SCENARIO, $CPUS CPUs'" \
        "$ROOT/bench/scaling.gp"
fi

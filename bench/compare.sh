#!/usr/bin/env bash
# compare.sh - runs the same wsbroker-bench scenarios against wsbroker,
# nats-server (NATS over WebSocket) and mosquitto (MQTT over WebSocket), all
# on loopback on this machine, and prints one table of ratios. Also runs the
# fan-out against bench/broadcast_reference (--adapter raw): the ceiling of
# the load generator itself.
#
#   bench/compare.sh [BUILD_DIR] [OUT_DIR]
#       BUILD_DIR  a Release build with wsbroker-bench and broadcast_reference
#                  (default build/release)
#       OUT_DIR    where every run's JSON, CSV and PNG and the table go
#                  (default bench/results/compare-YYYYmmdd-HHMMSS)
#   Environment: DURATION (s, default 10), WARMUP (s, default 1),
#   SUBSCRIBERS (default 1000), RATE (publishes/s for the fixed-rate runs,
#   default 200), MD_RATE (market data, default 1000), MD_SUBSCRIBERS (market
#   data subscribers, each on MD_SYMBOLS of the 100 symbols; defaults 100 and 10),
#   WSB_WORKERS (default 2), ONLY (run only scenarios whose name contains it),
#   REPEAT (rounds, default 1: every scenario runs once per round, and the
#   table gives each goal's ratio as the median over the rounds, with its range),
#   BROKER_CPUS and BENCH_CPUS (taskset CPU lists: every broker on the first,
#   the generator on the second, so they do not share cores; default: unpinned),
#   BENCH_THREADS (the generator's subscriber threads, --threads, for every
#   broker alike; default 1), INFLIGHT (wsbroker's publisher: unconfirmed
#   publishes, --inflight; default 256. The peers' publishers have no
#   confirms and are bounded only by TCP back-pressure).
#
# Settings, the same for every broker: one publisher, 64-byte payloads, QoS 0
# / acks off / no confirms on the peers (wsbroker publishes with confirm, its
# protocol's only bounded publish), no persistence, default slow-consumer
# limits. Runs alternate brokers within each scenario so they share the
# machine's state. Broker CPU is utime+stime from /proc/PID/stat around each
# run. Each broker is started once and stopped at the end (its PID only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
OUT=${2:-$ROOT/bench/results/compare-$(date -u +%Y%m%d-%H%M%S)}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-200}
MD_RATE=${MD_RATE:-1000}
MD_SUBSCRIBERS=${MD_SUBSCRIBERS:-100}
MD_SYMBOLS=${MD_SYMBOLS:-10}
WSB_WORKERS=${WSB_WORKERS:-2}
REPEAT=${REPEAT:-1}
BROKER_CPUS=${BROKER_CPUS:-}
BENCH_CPUS=${BENCH_CPUS:-}
ONLY=${ONLY:-}
BENCH_THREADS=${BENCH_THREADS:-1}
INFLIGHT=${INFLIGHT:-256}
BENCH=$BUILD/bench/wsbroker-bench/wsbroker-bench
REFERENCE=$BUILD/bench/broadcast_reference
WSBROKER=$BUILD/broker/wsbroker

# shellcheck source=run_lib.sh
source "$ROOT/bench/run_lib.sh"
die() { echo "compare.sh: $*" >&2; exit 1; }
for f in "$BENCH" "$REFERENCE" "$WSBROKER"; do
    [ -x "$f" ] || die "$f is missing: cmake --build $BUILD --target wsbroker-bench broadcast_reference wsbroker"
done
command -v nats-server >/dev/null || die "nats-server is missing (tools/install-deps.sh --test)"
command -v mosquitto >/dev/null || die "mosquitto is missing (tools/install-deps.sh --test)"
need_count REPEAT "$REPEAT"
need_count BENCH_THREADS "$BENCH_THREADS"
need_count INFLIGHT "$INFLIGHT"
ON_BROKER_CPUS=(); ON_BENCH_CPUS=()
[ -z "$BROKER_CPUS" ] || ON_BROKER_CPUS=(taskset -c "$BROKER_CPUS")
[ -z "$BENCH_CPUS" ] || ON_BENCH_CPUS=(taskset -c "$BENCH_CPUS")
mkdir -p "$OUT"
rm -f "$OUT"/*.r[0-9]*.* # rounds of an earlier run into the same directory
raise_file_limit

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait until something listens on 127.0.0.1:$1
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on port $1"
}

# --- start the brokers -------------------------------------------------------
"${ON_BROKER_CPUS[@]}" "$WSBROKER" --listen 127.0.0.1:0 --workers "$WSB_WORKERS" 2>"$OUT/wsbroker.log" &
WSB_PID=$!; PIDS+=("$WSB_PID")
WSB_PORT=$(listening_port "$OUT/wsbroker.log")

NATS_PORT=$(free_port); NATS_WS=$(free_port)
cat >"$OUT/nats.conf" <<CONF
listen: 127.0.0.1:$NATS_PORT
websocket { listen: "127.0.0.1:$NATS_WS", no_tls: true }
CONF
"${ON_BROKER_CPUS[@]}" nats-server -c "$OUT/nats.conf" 2>"$OUT/nats.log" &
NATS_PID=$!; PIDS+=("$NATS_PID")
wait_port "$NATS_WS"

# mosquitto 2.0.11 (Debian) starts its websockets listener only next to a
# plain MQTT one ("Unable to start any listening sockets" otherwise).
MQTT_PORT=$(free_port); MQTT_WS=$(free_port)
cat >"$OUT/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
listener $MQTT_WS 127.0.0.1
protocol websockets
allow_anonymous true
persistence false
CONF
"${ON_BROKER_CPUS[@]}" mosquitto -c "$OUT/mosquitto.conf" 2>"$OUT/mosquitto.log" &
MQTT_PID=$!; PIDS+=("$MQTT_PID")
wait_port "$MQTT_WS"

"${ON_BROKER_CPUS[@]}" "$REFERENCE" --listen 127.0.0.1:0 2>"$OUT/reference.log" &
REF_PID=$!; PIDS+=("$REF_PID")
REF_PORT=$(listening_port "$OUT/reference.log")

declare -A URL=([wsbroker]=ws://127.0.0.1:$WSB_PORT/v1 [nats]=ws://127.0.0.1:$NATS_WS/
                [mqtt]=ws://127.0.0.1:$MQTT_WS/ [raw]=ws://127.0.0.1:$REF_PORT/)
declare -A PID=([wsbroker]=$WSB_PID [nats]=$NATS_PID [mqtt]=$MQTT_PID [raw]=$REF_PID)
{
    host_lines
    echo "wsbroker: --workers $WSB_WORKERS, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "nats-server: $(nats-server --version)"
    echo "mosquitto: $(mosquitto -h 2>&1 | head -1)"
    echo "settings: DURATION=$DURATION WARMUP=$WARMUP SUBSCRIBERS=$SUBSCRIBERS RATE=$RATE MD_RATE=$MD_RATE MD_SUBSCRIBERS=$MD_SUBSCRIBERS MD_SYMBOLS=$MD_SYMBOLS REPEAT=$REPEAT BROKER_CPUS=$BROKER_CPUS BENCH_CPUS=$BENCH_CPUS BENCH_THREADS=$BENCH_THREADS INFLIGHT=$INFLIGHT"
} >"$OUT/environment.txt"

# run NAME TARGET SCENARIO ARGS...: one run, its JSON in $OUT/NAME.TARGET.json
# (round 1) or $OUT/NAME.TARGET.rROUND.json
ROUND=1
run() {
    local name=$1 target=$2 scenario=$3; shift 3
    [ -z "$ONLY" ] || [[ "$name" == *"$ONLY"* ]] || return 0
    local adapter=$target
    [ "$target" = wsbroker ] && adapter=wsbroker
    local tag="$name.$target" before after rc=0
    [ "$ROUND" -eq 1 ] || tag="$tag.r$ROUND"
    before=$(cpu_ticks "${PID[$target]}")
    echo "compare.sh: round $ROUND of $REPEAT: $name on $target" >&2
    "${ON_BENCH_CPUS[@]}" "$BENCH" "$scenario" --adapter "$adapter" --url "${URL[$target]}" --duration "$DURATION" \
        --warmup "$WARMUP" --json --csv "$OUT/$tag.csv" "$@" \
        >"$OUT/$tag.json" 2>"$OUT/$tag.err" || rc=$?
    after=$(cpu_ticks "${PID[$target]}")
    echo "{\"name\":\"$name\",\"target\":\"$target\",\"round\":$ROUND,\"exit\":$rc,\"broker_cpu_s\":$(( after - before ))e-2}" \
        >"$OUT/$tag.meta.json"
    if command -v gnuplot >/dev/null && [ -s "$OUT/$tag.csv" ]; then
        gnuplot -e "csv='$OUT/$tag.csv'; png='$OUT/$tag.png'; title='$name on $target (round $ROUND)'" \
            "$ROOT/bench/plot.gp" 2>/dev/null || true
    fi
}

FAN=(--subscribers "$SUBSCRIBERS" --size 64 --topics 1 --drain 5 --threads "$BENCH_THREADS"
     --inflight "$INFLIGHT")
MD=(--topics 100 --subscribers "$MD_SUBSCRIBERS" --symbols-per-sub "$MD_SYMBOLS" --zipf 1.0 --size 64
    --drain 5 --threads "$BENCH_THREADS" --inflight "$INFLIGHT")
for ROUND in $(seq "$REPEAT"); do
    for t in wsbroker nats mqtt raw; do run fanout-closed "$t" fanout "${FAN[@]}"; done
    for t in wsbroker nats mqtt; do run fanout-rate "$t" fanout "${FAN[@]}" --rate "$RATE"; done
    for t in wsbroker nats mqtt; do run market-closed "$t" market "${MD[@]}"; done
    for t in wsbroker nats mqtt; do run market-rate "$t" market "${MD[@]}" --rate "$MD_RATE"; done
    for ack in none manual; do
        run "acks-$ack-closed" wsbroker fanout "${FAN[@]}" --ack "$ack"
        run "acks-$ack-rate" wsbroker fanout "${FAN[@]}" --ack "$ack" --rate "$RATE"
    done
done

/usr/bin/python3 "$ROOT/bench/compare_table.py" "$OUT" | tee "$OUT/table.md"

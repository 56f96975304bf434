#!/usr/bin/env bash
# The "generator not the bottleneck" check, before (epoll) and after (io_uring)
# the engine change, alternating: fan-out 1 -> 1000 subscribers, 64-byte
# payloads, closed loop, against bench/broadcast_reference (--adapter raw) and
# against wsbroker (--workers 2); then the same against broadcast_reference at a
# fixed 2000 publishes/s (2 M deliveries/s), where both deliver the same and the
# subscriber thread's CPU share says what each engine costs.
#   bench/results/engine-1/run.sh OLD_BENCH NEW_BENCH BUILD_DIR OUT_DIR [ROUNDS]
set -euo pipefail
OLD=$1 NEW=$2 BUILD=$3 OUT=$4 ROUNDS=${5:-3}
mkdir -p "$OUT"
"$BUILD/bench/broadcast_reference" --listen 127.0.0.1:0 2>"$OUT/reference.log" & REF=$!
"$BUILD/broker/wsbroker" --listen 127.0.0.1:0 --workers 2 2>"$OUT/wsbroker.log" & WSB=$!
trap 'kill $REF $WSB' EXIT
sleep 0.5
port() { grep -o 'listening on ws://127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://'; }
RP=$(port "$OUT/reference.log"); WP=$(port "$OUT/wsbroker.log")
for r in $(seq "$ROUNDS"); do
  for v in old new; do
    b=$OLD; [ $v = new ] && b=$NEW
    "$b" fanout --adapter raw --url ws://127.0.0.1:$RP/ --subscribers 1000 --size 64 --topics 1 \
        --duration 5 --warmup 1 --drain 5 --json >"$OUT/raw.$v.$r.json" 2>"$OUT/raw.$v.$r.err" || true
    "$b" fanout --url ws://127.0.0.1:$WP/v1 --subscribers 1000 --size 64 --topics 1 \
        --duration 5 --warmup 1 --drain 5 --json >"$OUT/wsbroker.$v.$r.json" 2>"$OUT/wsbroker.$v.$r.err" || true
    "$b" fanout --adapter raw --url ws://127.0.0.1:$RP/ --subscribers 1000 --size 64 --topics 1 \
        --rate 2000 --duration 5 --warmup 1 --drain 5 --json >"$OUT/raw-rate.$v.$r.json" 2>"$OUT/raw-rate.$v.$r.err" || true
  done
done

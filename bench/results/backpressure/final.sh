#!/bin/bash
# Alternating closed-loop fan-out: base (2dda589), this branch with back-pressure on / off, nats-server.
cd /work/wt/perf
BENCH=build/release/bench/wsbroker-bench/wsbroker-bench
summ() { python3 -c "import json;d=json.load(open('$1'));print('deliv/s', int(d['delivered_per_s']), 'pub/s', int(d['published_per_s']), 'p50_ms', int(d['latency_us']['p50']/1000), 'p99_ms', int(d['latency_us']['p99']/1000), 'gapenv', d['delivery']['gap_envelopes'], 'gapmsgs', d['delivery']['gap_msgs'], 'missing', d['delivery']['missing'], 'dups', d['delivery']['duplicates'], 'reord', d['delivery']['reorders'], 'errors', sum(d['errors'].values()))"; }
wsb() { # NAME BINARY ARGS...
  local name=$1 bin=$2; shift 2
  local log=$(mktemp)
  $bin --listen 127.0.0.1:0 --workers 2 "$@" 2>$log &
  local pid=$!
  for i in $(seq 50); do grep -q "listening on" $log && break; sleep 0.1; done
  local port=$(grep -o "listening on [^ ]*" $log | head -1 | sed 's/.*://')
  $BENCH fanout --url ws://127.0.0.1:$port/v1 --subscribers 1000 --size 64 --topics 1 --drain 5 --duration 10 --warmup 1 --json > $OUT/$name.json 2>$OUT/$name.err
  curl -s http://127.0.0.1:$port/metrics > $OUT/$name.metrics
  kill $pid; wait $pid 2>/dev/null; rm -f $log
  echo "$name load=$(cut -d' ' -f1 /proc/loadavg) $(summ $OUT/$name.json) holds=$(grep '^wsbroker_publisher_holds_total' $OUT/$name.metrics | awk '{s+=$2} END {print s+0}')"
}
nats() { # NAME
  local name=$1 p1=$((20000 + RANDOM % 10000)) p2=$((30000 + RANDOM % 10000))
  printf 'listen: 127.0.0.1:%s\nwebsocket { listen: "127.0.0.1:%s", no_tls: true }\n' $p1 $p2 > $OUT/nats.conf
  nats-server -c $OUT/nats.conf 2>$OUT/nats.log &
  local pid=$!; sleep 1
  $BENCH fanout --adapter nats --url ws://127.0.0.1:$p2/ --subscribers 1000 --size 64 --topics 1 --drain 5 --duration 10 --warmup 1 --json > $OUT/$name.json 2>$OUT/$name.err
  kill $pid; wait $pid 2>/dev/null
  echo "$name load=$(cut -d' ' -f1 /proc/loadavg) $(summ $OUT/$name.json)"
}
OUT=${OUT:-/tmp/perfab/final}; mkdir -p $OUT
for r in 1 2; do
  wsb base$r /tmp/perfbase/build/broker/wsbroker
  wsb on$r build/release/broker/wsbroker
  wsb off$r build/release/broker/wsbroker --publisher-backpressure off
  nats nats$r
done

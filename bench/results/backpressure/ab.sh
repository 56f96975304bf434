#!/bin/bash
# ab.sh BROKER_BIN on|off DURATION OUTJSON [broker args...]: one fanout-closed run
B=$1; BP=$2; D=${3:-10}; OUT=$4; shift 4
LOG=$(mktemp)
$B --listen 127.0.0.1:0 --workers 2 --publisher-backpressure $BP "$@" 2>$LOG &
PID=$!
for i in $(seq 50); do grep -q "listening on" $LOG && break; sleep 0.1; done
PORT=$(grep -o "listening on [^ ]*" $LOG | head -1 | sed 's/.*://')
/work/wt/perf/build/release/bench/wsbroker-bench/wsbroker-bench fanout --url ws://127.0.0.1:$PORT/v1 \
  --subscribers 1000 --size 64 --topics 1 --drain 5 --duration $D --warmup 1 --json > $OUT 2>$OUT.err
curl -s http://127.0.0.1:$PORT/metrics | grep -E "^wsbroker_(publisher_holds|drops|gap_notices|deliveries|published)" | sed 's/{worker="[0-9]*"/{/' | awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort > $OUT.metrics
kill $PID; wait $PID 2>/dev/null
rm -f $LOG

#!/usr/bin/env python3
"""Concurrency stress test: publishers and subscribers on every worker.

Starts the broker with 4 workers (so topics have different owners and
messages cross between workers through the SPSC rings), connects
subscribers and publishers to all of them at once, publishes concurrently
to every topic, and checks that every subscriber receives every message of
every topic it subscribed to, in order, with no gap and no duplicate.
Built with -DWSB_TSAN=ON it is the ThreadSanitizer test (tools/test.sh):
the broker's stderr must then hold no ThreadSanitizer report.

Run: /usr/bin/python3 tests/stress/test_stress.py --broker PATH [--messages N]
"""

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from broker import Broker, broker_path  # noqa: E402

import msgpack  # noqa: E402
import websockets  # noqa: E402

TOPICS = [f"stress.t{i}" for i in range(8)]
SUBSCRIBERS = 8
PUBLISHERS = 4
DEADLINE_S = 240


async def session(url, name):
    ws = await websockets.connect(url, subprotocols=["wsbroker.v1"], max_size=None,
                                  ping_interval=None)
    await ws.send(msgpack.packb({"op": "hello", "v": 1, "name": name}))
    welcome = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["op"] == "welcome", welcome
    return ws


async def subscriber(url, index, expected_per_topic, ready):
    ws = await session(url, f"sub{index}")
    # Half subscribe topic by topic, half with one pattern.
    if index % 2 == 0:
        for i, topic in enumerate(TOPICS):
            await ws.send(msgpack.packb({"op": "sub", "id": i, "topic": topic}))
        waiting = len(TOPICS)
    else:
        await ws.send(msgpack.packb({"op": "sub", "id": 99, "topic": "stress.>"}))
        waiting = 1  # the pattern-level `subscribed` (no match yet: no topic exists)
    while waiting:
        env = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 30))
        assert env["op"] == "subscribed", env
        waiting -= 1
    ready.set_result(None)
    next_seq = {t: 1 for t in TOPICS}
    total = expected_per_topic * len(TOPICS)
    got = 0
    while got < total:
        env = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 60))
        if env["op"] == "subscribed":
            continue
        assert env["op"] == "msg", f"sub{index}: unexpected {env}"
        topic, seq = env["topic"], env["seq"]
        assert seq == next_seq[topic], f"sub{index} {topic}: seq {seq}, expected {next_seq[topic]}"
        next_seq[topic] += 1
        got += 1
    await ws.close()
    return got


async def publisher(url, index, per_topic):
    ws = await session(url, f"pub{index}")
    msg_id = 0
    for n in range(per_topic):
        for topic in TOPICS:
            msg_id += 1
            last = n == per_topic - 1
            await ws.send(msgpack.packb({"op": "pub", "topic": topic, "id": msg_id,
                                         "confirm": last, "data": [index, n]}))
    confirms = 0
    while confirms < len(TOPICS):
        env = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 60))
        assert env["op"] == "confirm", env
        confirms += 1
    await ws.close()


async def run(url, per_publisher_per_topic):
    loop = asyncio.get_running_loop()
    readies = [loop.create_future() for _ in range(SUBSCRIBERS)]
    expected = per_publisher_per_topic * PUBLISHERS
    subs = [asyncio.create_task(subscriber(url, i, expected, readies[i]))
            for i in range(SUBSCRIBERS)]
    await asyncio.wait_for(asyncio.gather(*readies), 60)
    await asyncio.gather(*(publisher(url, i, per_publisher_per_topic) for i in range(PUBLISHERS)))
    counts = await asyncio.gather(*subs)
    return sum(counts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker")
    ap.add_argument("--messages", type=int, default=400,
                    help="messages per publisher per topic (default 400)")
    args = ap.parse_args()
    start = time.monotonic()
    failed = 0
    try:
        # Subscribers here are Python, slower than the broker: a slow-consumer
        # limit large enough that no policy kicks in, so every message counts.
        with Broker(broker_path(args.broker),
                    ["--workers", "4", "--slow-consumer-bytes", str(256 << 20)]) as b:
            delivered = asyncio.run(asyncio.wait_for(run(b.url_for("/v1"), args.messages),
                                                     DEADLINE_S))
        published = args.messages * PUBLISHERS * len(TOPICS)
        print(f"stress: {published} published, {delivered} delivered in order to "
              f"{SUBSCRIBERS} subscribers over {len(TOPICS)} topics and 4 workers "
              f"in {time.monotonic() - start:.1f} s")
    except Exception as e:  # noqa: BLE001 - report any failure as the test's
        print(f"FAIL: {type(e).__name__}: {e}")
        failed = 1
    print(f"{1 - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())

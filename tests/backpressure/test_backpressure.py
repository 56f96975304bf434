#!/usr/bin/python3
"""Publisher back-pressure (docs/protocol.md 4.4, 4.6) against the real broker.

Three properties, each with real sockets, a real broker (--workers 2) and
bounded in count and time:

  * A publisher that writes far faster than its subscribers read is slowed
    by the broker (it stops reading the publisher's socket) instead of
    fanning out and dropping: every subscriber that keeps reading gets every
    message, in order, without a gap, and the broker reports holds
    (wsbroker_publisher_holds_total). With --publisher-backpressure off the
    same run ends in gaps; run it by hand with `--broker-arg
    --publisher-backpressure --broker-arg off` to watch this test fail.
  * The same with manual-ack subscribers: what waits behind their windows
    counts as their backlog, so the publisher is held rather than the
    waiting queues overflowing into drops.
  * One subscriber that stops reading does not stall the publisher: the
    publisher gets every confirm, the subscribers that read get every
    message, and the stalled one gets its slow-consumer policy (drop: a gap
    notice once it reads again).

The clients are tests/pubsub's: V1 (websockets + msgpack, envelopes by hand)
and StalledSubscriber (a bare socket with a tiny receive buffer).

    /usr/bin/python3 tests/backpressure/test_backpressure.py --broker build/x/broker/wsbroker

Prints `N passed, N failed` last and exits non-zero on any failure.
"""

import argparse
import asyncio
import logging
import os
import socket
import struct
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "pubsub"))

from broker import broker_path, http_get, start_broker  # noqa: E402

try:
    import msgpack  # noqa: F401  (test_pubsub needs it too; say so plainly here)
    import websockets  # noqa: F401
except ImportError:  # pragma: no cover - environment problem
    sys.exit("test_backpressure: needs python3-websockets and python3-msgpack; run with "
             "/usr/bin/python3, not " + sys.executable)

import test_pubsub as pubsub  # noqa: E402  (V1, StalledSubscriber, pack, UPGRADE)

BROKER = None
BROKER_ARGS = []
WORKERS = ["--workers", "2"]
RUN_LIMIT_S = 120          # each test as a whole
DATA = 1024                # bytes of data per publish (the stalled test)


def start(args):
    return start_broker(BROKER, [*WORKERS, *args, *BROKER_ARGS])


def metric_by_worker(broker, name):
    """A counter on /metrics: {worker: value} (labels other than worker summed)."""
    status, _, body = http_get(broker.host, broker.port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    values = {}
    for line in body.decode().splitlines():
        if line.startswith(name + "{"):
            worker = line.split('worker="', 1)[1].split('"', 1)[0]
            values[worker] = values.get(worker, 0) + int(float(line.rsplit(" ", 1)[1]))
    return values


def metric_sum(broker, name):
    """The sum over workers of a counter on /metrics."""
    return sum(metric_by_worker(broker, name).values())


def zero_masked_frame(payload):
    """A client binary frame masked with the all-zero key (legal, and the
    payload stays as it is), so megabytes of publishes are built fast."""
    n = len(payload)
    if n < 126:
        head = bytes([0x82, 0x80 | n])
    elif n < 65536:
        head = bytes([0x82, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", n)
    return head + b"\0\0\0\0" + payload


class RawPublisher:
    """A bare-socket /v1 publisher that writes a whole burst at once."""

    def __init__(self, broker):
        self.sock = socket.create_connection((broker.host, broker.port), timeout=30)
        self.sock.sendall(pubsub.UPGRADE)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("broker closed during the upgrade")
            buf += data
        assert buf.startswith(b"HTTP/1.1 101"), f"upgrade refused: {buf[:80]!r}"
        self.sock.sendall(zero_masked_frame(pubsub.pack({"op": "hello", "v": 1})))

    def burst(self, topic, count, size):
        """Publishes 1..count (the value in the data's first 8 bytes) with
        `size` bytes of data, fire and forget, as fast as the socket takes
        them. Blocking."""
        pad = b"x" * (size - 8)
        blob = b"".join(
            zero_masked_frame(pubsub.pack({"op": "pub", "topic": topic,
                                             "data": struct.pack("!Q", i) + pad}))
            for i in range(1, count + 1))
        self.sock.sendall(blob)

    def close(self):
        self.sock.close()


async def read_stream(sub, topic, count, limit_s, ack_every=0):
    """Reads until seq `count` of topic: (seqs seen, gap envelopes,
    redeliveries). With ack_every, a manual-ack subscription: a cumulative
    ack every ack_every messages; redeliveries are counted, not listed."""
    seqs, gaps, redelivered = [], [], 0
    deadline = time.monotonic() + limit_s
    while not seqs or seqs[-1] < count:
        env = await sub.recv(max(0.01, deadline - time.monotonic()))
        if env.get("op") == "msg" and env.get("topic") == topic:
            if env.get("re"):
                redelivered += 1
                continue
            seqs.append(env["seq"])
            if ack_every and (env["seq"] % ack_every == 0 or env["seq"] == count):
                await sub.send({"op": "ack", "topic": topic, "seq": env["seq"]})
        elif env.get("op") == "gap":
            gaps.append(env)
            if env.get("to", 0) >= count:
                break
    return seqs, gaps, redelivered


def in_thread(fn, *args):
    return asyncio.get_running_loop().run_in_executor(None, fn, *args)


class BackpressureTest(unittest.IsolatedAsyncioTestCase):

    async def slowed_not_gapped(self, broker_args, sub_fields, ack_every, label):
        """A RawPublisher bursts 5000 x 4 KiB at 4 subscribers (sub_fields
        in their `sub`): each must get every message in order, without a
        gap, and the broker must have held the publisher, dropping nothing.
        Small receive buffers and rings bound what the broker takes in
        between two looks at the backlog (backlog.h). The subscribers are
        held at 512 KiB of backlog and dropped past 8 MiB: room for them not
        to read in step (one event loop drives them all). The messages run
        to 20 MiB per subscriber, more than sockets and queues hold. Python
        readers empty megabytes of socket buffers slowly, so a hold may last
        longer than the default publisher-hold-max of 1 s."""
        topic, count, size, nsubs = "bp." + label.split()[0], 5000, 4096, 4
        with start(["--recv-buffers", "8", "--recv-buffer-size", "4096",
                    "--xring-entries", "64", "--slow-consumer-bytes", str(8 << 20),
                    "--publisher-hold-max", "10000", *broker_args]) as b:
            subs = [await pubsub.V1.open(b) for _ in range(nsubs)]
            for s in subs:
                await s.send({"op": "sub", "id": 1, "topic": topic, "policy": "drop",
                              **sub_fields})
                await s.expect("subscribed")
            pub = await in_thread(RawPublisher, b)
            try:
                writing = in_thread(pub.burst, topic, count, size)
                results = await asyncio.wait_for(
                    asyncio.gather(*(read_stream(s, topic, count, RUN_LIMIT_S, ack_every)
                                     for s in subs)),
                    RUN_LIMIT_S)
                await asyncio.wait_for(writing, RUN_LIMIT_S)
            finally:
                pub.close()
            holds = metric_sum(b, "wsbroker_publisher_holds_total")
            drops = metric_sum(b, "wsbroker_drops_total")
            redelivered = sum(r for _, _, r in results)
            print(f"  {count} x {size} B to {nsubs} {label}: {holds} publisher holds, "
                  f"{drops} drops, {redelivered} redeliveries", flush=True)
            for i, (seqs, gaps, _) in enumerate(results):
                self.assertEqual(gaps, [], f"subscriber {i} got gap notices")
                self.assertEqual(seqs, list(range(1, count + 1)),
                                 f"subscriber {i}: not every message, in order")
            self.assertGreater(holds, 0, "the publisher was never held")
            self.assertEqual(drops, 0)
            for s in subs:
                await s.close()

    async def test_fast_publisher_is_slowed_not_gapped(self):
        await self.slowed_not_gapped([], {}, 0, "fast subscribers")

    async def test_manual_ack_subscribers_slow_the_publisher(self):
        # With manual acks, messages wait in the broker behind each full
        # window, not in the connection's queue. They count toward the
        # subscriber's backlog all the same (backlog.h): the publisher is held
        # instead of the waiting queues running past sub-queue into drops.
        # Without that, this run ends in gap notices (as it did before c4f9b22).
        await self.slowed_not_gapped(["--sub-queue", "500"], {"ack": "manual", "window": 64}, 16,
                                     "acks manual subscribers (window 64, sub-queue 500)")

    async def test_one_stalled_subscriber_does_not_stall_the_publisher(self):
        topic, count, nsubs = "bp.stalled", 4000, 3
        with start([]) as b:
            stalled = await in_thread(pubsub.StalledSubscriber, b, topic, "drop")
            self.assertEqual(stalled.subscribed.get("op"), "subscribed")
            subs = [await pubsub.V1.open(b) for _ in range(nsubs)]
            for s in subs:
                await s.send({"op": "sub", "id": 1, "topic": topic})
                await s.expect("subscribed")
            pub = await pubsub.V1.open(b)
            pad = b"x" * (DATA - 8)

            async def publish_all():
                """Every publish with a confirm, up to 256 unconfirmed."""
                confirmed, sent = 0, 0
                while confirmed < count:
                    while sent < count and sent - confirmed < 256:
                        sent += 1
                        await pub.send({"op": "pub", "id": sent, "confirm": True,
                                        "topic": topic,
                                        "data": struct.pack("!Q", sent) + pad})
                    env = await pub.recv(RUN_LIMIT_S)
                    self.assertEqual(env.get("op"), "confirm", f"publisher got {env!r}")
                    confirmed += 1
                return confirmed

            confirmed, *results = await asyncio.wait_for(
                asyncio.gather(publish_all(),
                               *(read_stream(s, topic, count, RUN_LIMIT_S) for s in subs)),
                RUN_LIMIT_S)
            self.assertEqual(confirmed, count)
            for i, (seqs, gaps, _) in enumerate(results):
                self.assertEqual(gaps, [], f"reading subscriber {i} got gap notices")
                self.assertEqual(seqs, list(range(1, count + 1)))
            # The stalled one now reads: what fitted, then a gap for the rest.
            envs, close = await in_thread(stalled.read_all)
            stalled.close()
            self.assertIsNone(close, "policy drop must not close the connection")
            got = [e["seq"] for e in envs if e.get("op") == "msg"]
            gaps = [e for e in envs if e.get("op") == "gap"]
            self.assertTrue(gaps, f"no gap notice after {len(got)} messages")
            self.assertLess(len(got), count)
            dropped = metric_sum(b, "wsbroker_drops_total")
            print(f"  stalled subscriber: {len(got)} messages, gaps "
                  f"{[(g['from'], g['to']) for g in gaps]}; broker drops {dropped}; "
                  f"publisher holds {metric_sum(b, 'wsbroker_publisher_holds_total')}",
                  flush=True)
            self.assertGreater(dropped, 0)
            await pub.close()
            for s in subs:
                await s.close()


def main():
    global BROKER, BROKER_ARGS
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    ap.add_argument("--broker-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every broker started (repeat)")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    BROKER_ARGS = args.broker_arg
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    print(f"broker {BROKER} {' '.join(WORKERS + BROKER_ARGS)}", flush=True)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    passed, failed, skipped = pubsub.summarize(prog.result)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or not prog.result.wasSuccessful() else 0)


if __name__ == "__main__":
    main()

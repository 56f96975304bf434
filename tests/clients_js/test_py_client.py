#!/usr/bin/python3
"""The Python client (tools/wsbroker_client.py) where tests/pubsub does not
already prove it. tests/pubsub/test_pubsub.py covers publish/subscribe,
confirms, manual-ack retransmission, the publisher's resend after a drop and
an iterator subscription's resume; this file adds:

  * a handler (callback) subscription through a forced disconnect: every
    seq once, in order, exact topic and pattern;
  * manual ack across a forced disconnect: what was delivered and not acked
    comes again (redelivered=True), what was acked does not (at-least-once);
  * subscribe and publish while a reconnect is in progress: taken once, no
    `already_subscribed` error;
  * the md_subscriber example's --quotes output for md-feed quotes;
  * clear failures: an unreachable broker, a non-ws URL, a bad topic.

    /usr/bin/python3 tests/clients_js/test_py_client.py --broker build/release/broker/wsbroker
"""

import argparse
import asyncio
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from broker import Broker, broker_path  # noqa: E402
from wsbroker_client import BrokerError, Client, PublishRejected  # noqa: E402

BROKER = None
WAIT_S = 20.0


async def until(pred, what, timeout=WAIT_S):
    """Polls pred() until true; fails the test after timeout seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


class TestPythonClient(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(BROKER, ["--workers", "2"]).start()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            await asyncio.wait_for(c.close(), 10)

    async def client(self, name, **kw):
        c = await Client.connect(self.broker.url_for("/v1"), name=name, max_retries=10, **kw)
        self.clients.append(c)
        return c

    def topic(self, stem):
        TestPythonClient.n += 1
        return f"py.{stem}.{os.getpid()}.{TestPythonClient.n}"

    def assert_every_seq_once(self, seqs, n, what):
        self.assertEqual(len(seqs) - len(set(seqs)), 0, f"{what}: duplicates")
        self.assertEqual(seqs, list(range(1, n + 1)), f"{what}: not 1..{n} in order")

    async def test_handler_subscription_resumes_after_a_forced_disconnect(self):
        t = self.topic("handler")
        stem = self.topic("handler-pattern")
        sub = await self.client("py-handler-sub")
        pub = await self.client("py-handler-pub")
        exact, wild = [], []
        await sub.subscribe(t, lambda m: exact.append(m.seq))
        await sub.subscribe(f"{stem}.*", lambda m: wild.append(m.seq))
        n = 2000

        async def publish_all():
            for i in range(1, n + 1):
                await pub.publish(t, i, confirm=(i % 50 == 0))
                await pub.publish(f"{stem}.x", i, confirm=(i % 50 == 0))

        pushing = asyncio.ensure_future(publish_all())
        await until(lambda: len(exact) >= 300, "the stream to start")
        sub.drop_connection()
        at_drop = len(exact)
        await pushing
        await until(lambda: len(exact) >= n and len(wild) >= n, "every message")
        await asyncio.sleep(0.3)                   # a duplicate would arrive now
        self.assertLess(at_drop, n, "the drop happened mid-stream")
        self.assert_every_seq_once(exact, n, "exact topic")
        self.assert_every_seq_once(wild, n, "pattern")
        self.assertEqual(sub.reconnects, 1)
        self.assertEqual(sub.gaps, [])

    async def test_manual_ack_is_at_least_once_across_a_reconnect(self):
        t = self.topic("ack-resume")
        c = await self.client("py-ack-resume")
        pub = await self.client("py-ack-resume-pub")
        got = []
        await c.subscribe(t, got.append, ack="manual")
        for i in range(1, 6):
            await pub.publish(t, i, confirm=True)
        await until(lambda: len(got) >= 5, "five messages")
        await c.ack(t, 3)
        await c.ping()                             # the ack is in
        c.drop_connection()
        await until(lambda: {4, 5} <= {m.seq for m in got if m.redelivered},
                    "seqs 4 and 5 again after the reconnect")
        await pub.publish(t, 6, confirm=True)
        await until(lambda: any(m.seq == 6 for m in got), "seq 6")
        self.assertEqual([m.seq for m in got if not m.redelivered], [1, 2, 3, 4, 5, 6])
        again = sorted({m.seq for m in got if m.redelivered})
        self.assertTrue(all(s > 3 for s in again), f"acked messages came again: {again}")
        await c.ack(t, 6)

    async def test_subscribe_and_publish_while_reconnecting(self):
        t = self.topic("during-reconnect")
        c = await self.client("py-during")
        got = []
        c.drop_connection()
        # The reconnect takes a loopback round trip: watch every loop turn.
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while c.connected and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0)
        self.assertFalse(c.connected, "the drop was not noticed")
        sub = asyncio.ensure_future(c.subscribe(t, lambda m: got.append(m.seq)))
        seq = asyncio.ensure_future(c.publish(t, "x", confirm=True))
        await asyncio.wait_for(sub, WAIT_S)
        self.assertEqual(await asyncio.wait_for(seq, WAIT_S), 1)
        await c.publish(t, "y", confirm=True)
        await until(lambda: 2 in got, "seq 2")
        await c.ping()
        self.assertEqual(c.errors, [])
        self.assertEqual(c.reconnects, 1)
        self.assertEqual(len(got), len(set(got)), f"duplicates: {got}")

    async def test_md_subscriber_example_prints_quotes(self):
        example = os.path.join(HERE, "..", "..", "tools", "examples", "md_subscriber.py")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, example, "--url", self.broker.url_for("/v1"), "--pattern",
            "md.PYQ.>", "--quotes", "--count", "4", "--duration", "20",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            first = await asyncio.wait_for(proc.stdout.readline(), WAIT_S)
            self.assertEqual(first.decode().strip(), "subscribed to md.PYQ.>")
            pub = await self.client("py-quotes-pub")
            for i in range(3):
                await pub.publish("md.PYQ.AAPL", {
                    "sym": "AAPL", "bid": 189.1 + i, "ask": 189.12 + i, "last": 189.11 + i,
                    "bsz": 100, "asz": 200, "lsz": 300, "t": time.time_ns() // 1000}, confirm=True)
            await pub.publish("md.PYQ.other", {"not": "a quote"}, confirm=True)
            out, err = await asyncio.wait_for(proc.communicate(), WAIT_S)
        finally:
            if proc.returncode is None:
                proc.kill()                        # the process we started
                await proc.wait()
        self.assertEqual(proc.returncode, 0, err.decode())
        lines = out.decode().splitlines()
        quotes = sorted(x for x in lines if x.startswith("AAPL "))
        self.assertEqual(len(quotes), 3, lines)
        for i, line in enumerate(quotes):
            self.assertRegex(line, rf"^AAPL #{i + 1} bid {189.1 + i:.2f} x 100 ask "
                                   rf"{189.12 + i:.2f} x 200 last {189.11 + i:.2f} x 300 "
                                   r"latency -?\d+\.\d ms$")
        self.assertIn("md.PYQ.other 1 {'not': 'a quote'}", lines)

    async def test_unreachable_broker_fails_at_connect(self):
        with self.assertRaises(OSError):
            await asyncio.wait_for(Client.connect("ws://127.0.0.1:1/v1", name="nobody"), 10)

    async def test_bad_url_fails_at_connect(self):
        with self.assertRaises(Exception) as cm:
            await asyncio.wait_for(Client.connect("http://127.0.0.1:1/v1"), 10)
        self.assertIn("http://127.0.0.1:1/v1", str(cm.exception))

    async def test_bad_topic_is_an_error_with_its_code(self):
        c = await self.client("py-bad-topic")
        with self.assertRaises(PublishRejected) as cm:
            await c.publish("md.>", 1, confirm=True)
        self.assertEqual(cm.exception.code, 7)
        with self.assertRaises(BrokerError) as cm:
            await c.subscribe("bad..pattern")
        self.assertEqual(cm.exception.code, 7)
        self.assertEqual(await c.publish(self.topic("after"), 1, confirm=True), 1)


def main():
    global BROKER
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

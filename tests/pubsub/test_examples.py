#!/usr/bin/python3
"""The example programs in tools/examples/, run against the real broker.

hello_request_reply.py must print the broker-relayed greeting; md_subscriber.py
must print every market-data message it is sent, in order, as `TOPIC SEQ DATA`.

    /usr/bin/python3 tests/pubsub/test_examples.py --broker build/x/broker/wsbroker

Prints `N passed, N failed` last and exits non-zero on any failure.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
EXAMPLES = os.path.join(TOOLS, "examples")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, TOOLS)

from broker import broker_path, start_broker  # noqa: E402
from wsbroker_client import Client  # noqa: E402

PYTHON = "/usr/bin/python3"
BROKER = None
BROKER_ARGS = []
RUN_TIMEOUT_S = 30


def example(name):
    return os.path.join(EXAMPLES, name)


class TestExamples(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.broker = start_broker(BROKER, ["--workers", "2", *BROKER_ARGS])
        cls.url = cls.broker.url_for("/v1")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def run_example(self, *args):
        return subprocess.run([PYTHON, *args], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)

    def test_hello_request_reply(self):
        r = self.run_example(example("hello_request_reply.py"), "--url", self.url,
                             "--name", "Ada Lovelace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("requester: Hello, Ada Lovelace!", r.stdout.splitlines(), r.stdout)

    def test_hello_with_separate_responder(self):
        responder = subprocess.Popen(
            [PYTHON, example("hello_request_reply.py"), "--url", self.url,
             "--role", "responder", "--timeout", "20"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(responder.stdout.readline().strip(),
                             "responder: listening on hello.request")
            for name in ("Grace", "Linus"):
                r = self.run_example(example("hello_request_reply.py"), "--url", self.url,
                                     "--role", "requester", "--name", name)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), f"requester: Hello, {name}!")
        finally:
            responder.terminate()                       # the PID we started
            responder.communicate(timeout=10)

    def test_md_subscriber_prints_the_stream(self):
        sub = subprocess.Popen(
            [PYTHON, example("md_subscriber.py"), "--url", self.url, "--pattern", "md.>",
             "--count", "30", "--duration", "20"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(sub.stdout.readline().strip(), "subscribed to md.>")
            ticks = [(f"md.{sym}", {"sym": sym, "bid": 100 + i, "ask": 101 + i})
                     for i in range(10) for sym in ("AAPL", "MSFT", "NASDAQ.GOOG")]

            async def publish():
                c = await Client.connect(self.url, name="md-feed")
                for topic, tick in ticks:
                    await c.publish(topic, tick, confirm=True)
                await c.close()

            asyncio.run(publish())
            out, err = sub.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            if sub.poll() is None:
                sub.kill()                              # the PID we started
                sub.communicate(timeout=10)
        self.assertEqual(sub.returncode, 0, err)
        lines = out.splitlines()
        expected, seqs = [], {}
        for topic, tick in ticks:
            seqs[topic] = seqs.get(topic, 0) + 1
            expected.append(f"{topic} {seqs[topic]} {tick!r}")
        # Order is promised per topic only.
        for topic in seqs:
            self.assertEqual([x for x in lines if x.startswith(topic + " ")],
                             [x for x in expected if x.startswith(topic + " ")])


def main():
    global BROKER, BROKER_ARGS
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    ap.add_argument("--broker-arg", action="append", default=[], metavar="ARG")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    BROKER_ARGS = args.broker_arg
    t0 = time.monotonic()
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    r = prog.result
    failed = len({t.id() for t, _ in r.failures + r.errors})
    passed = r.testsRun - failed - len(r.skipped)
    print(f"({time.monotonic() - t0:.1f} s)")
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(0 if r.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

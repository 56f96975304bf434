#!/usr/bin/python3
"""The C client library (tools/client) against the real broker.

Runs each scenario of client_check (pub/sub, confirm, ack, forced
disconnect + resume of a topic and of a pattern) over ws://, and pub/sub
and resume again over wss:// with the dev CA, on one broker with a plain
and a TLS listener. The broker must exit cleanly afterwards.

    /usr/bin/python3 tests/clients/test_c_client.py --broker B --check C

Prints `N passed, N failed` last and exits non-zero on any failure.
"""

import argparse
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from broker import dev_ca, start_broker  # noqa: E402

BROKER = None
CHECK = None
RUN_TIMEOUT_S = 60


class TestCClient(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ca = dev_ca()
        cls.broker = start_broker(BROKER, ["--workers", "2"], tls=cls.ca.tls())
        cls.ws = cls.broker.url_for("/v1", tls=False)
        cls.wss = cls.broker.url_for("/v1", tls=True)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def check(self, url, scenario, *extra):
        r = subprocess.run([CHECK, url, scenario, *extra], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT_S)
        print(f"  {scenario} {url.split(':')[0]}: {r.stdout.strip()}", file=sys.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("ok: "), r.stdout)

    def test_1_pubsub(self):
        self.check(self.ws, "pubsub")

    def test_2_confirm(self):
        self.check(self.ws, "confirm")

    def test_3_ack(self):
        self.check(self.ws, "ack")

    def test_4_resume_topic(self):
        self.check(self.ws, "resume")

    def test_5_resume_pattern(self):
        self.check(self.ws, "resume-pattern")

    def test_6_wss(self):
        # a fresh broker: the scenarios' topics start at seq 1
        b = start_broker(BROKER, ["--workers", "2"], tls=self.ca.tls())
        try:
            wss = b.url_for("/v1", tls=True)
            self.check(wss, "pubsub", self.ca.ca)
            self.check(wss, "resume", self.ca.ca)
        finally:
            b.stop()


def main():
    global BROKER, CHECK
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", required=True)
    p.add_argument("--check", required=True)
    args, rest = p.parse_known_args()
    BROKER, CHECK = args.broker, args.check
    result = unittest.main(argv=[sys.argv[0], "-v", *rest], exit=False).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)


if __name__ == "__main__":
    main()

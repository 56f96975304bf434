#!/usr/bin/python3
"""wsbroker-pub, wsbroker-sub, md-feed and the C example against the real broker.

Round trips pub -> sub (JSON, strings, raw msgpack through a pipe, a file),
resume with --from, --ack, md-feed's data contract, and for every tool the
exit codes and error text of bad arguments, a bad URL, a refused connection,
a TLS failure (wss:// to the plain port, and an untrusted CA), and a timeout.

    /usr/bin/python3 tests/clients/test_cli.py --broker B --tools DIR

Prints `N passed, N failed` last and exits non-zero on any failure.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from broker import dev_ca, start_broker  # noqa: E402

BROKER = None
TOOLS = None
RUN_TIMEOUT_S = 60
EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_CONNECT, EXIT_TLS, EXIT_TIMEOUT = range(6)


def tool(name):
    return os.path.join(TOOLS, name)


def run(name, *args, stdin=None, text=True):
    return subprocess.run([tool(name), *args], input=stdin, capture_output=True, text=text,
                          timeout=RUN_TIMEOUT_S)


def refused_port():
    """A local port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TestCli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ca = dev_ca()
        cls.broker = start_broker(BROKER, ["--workers", "2"], tls=cls.ca.tls())
        cls.url = cls.broker.url_for("/v1", tls=False)
        cls.wss = cls.broker.url_for("/v1", tls=True)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def start_sub(self, *args):
        p = subprocess.Popen([tool("wsbroker-sub"), "--url", self.url, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def pub(self, *args, stdin=None):
        r = run("wsbroker-pub", "--url", self.url, *args, stdin=stdin)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        return r

    def sub(self, *args, text=True):
        r = run("wsbroker-sub", "--url", self.url, "--timeout", "10", *args, text=text)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        return r

    # --- round trips ---------------------------------------------------------

    def test_round_trip_json(self):
        docs = ['{"a":1,"b":[true,null,"x"]}', '-5', '1.5', '"caf\u00e9"', '{}']
        self.pub("-t", "cli.rt", "-m", docs[0])
        self.pub("-t", "cli.rt", "--stdin", stdin="\n".join(docs[1:]) + "\n")
        r = self.sub("-t", "cli.rt", "--from", "0", "-n", "5", "-v")
        lines = r.stdout.splitlines()
        self.assertEqual(lines, [f"cli.rt {i + 1} {d}" for i, d in enumerate(docs)])

    def test_live_subscription_sees_publish(self):
        p = self.start_sub("-t", "cli.live.>", "-n", "3", "--timeout", "10")
        time.sleep(0.5)  # let it subscribe; a late subscriber would wait for the timeout
        r = self.pub("-t", "cli.live.x", "-m", "hello", "--format", "string", "--count", "3",
                     "--confirm")
        self.assertEqual(r.stdout.split(), ["cli.live.x", "1", "cli.live.x", "2",
                                            "cli.live.x", "3"])
        out, err = p.communicate(timeout=RUN_TIMEOUT_S)
        self.assertEqual(p.returncode, EXIT_OK, err)
        self.assertEqual(out.decode().splitlines(), ['"hello"'] * 3)

    def test_raw_pipe_and_file(self):
        values = [{"k": i, "bin": bytes([i]), "f": i / 2} for i in range(5)]
        with tempfile.NamedTemporaryFile(suffix=".mp", delete=False) as f:
            for v in values:
                f.write(msgpack.packb(v, use_bin_type=True))
        self.addCleanup(os.unlink, f.name)
        self.pub("-t", "cli.raw.a", "--file", f.name, "--format", "raw")
        r = self.sub("-t", "cli.raw.a", "--from", "0", "-n", "5", "--format", "raw", text=False)
        up = msgpack.Unpacker(raw=False)
        up.feed(r.stdout)
        self.assertEqual(list(up), values)
        # sub --format raw | pub --format raw --stdin: byte for byte
        sub = subprocess.Popen([tool("wsbroker-sub"), "--url", self.url, "-t", "cli.raw.a",
                                "--from", "0", "-n", "5", "--format", "raw", "--timeout", "10"],
                               stdout=subprocess.PIPE)
        r = subprocess.run([tool("wsbroker-pub"), "--url", self.url, "-t", "cli.raw.b",
                            "--stdin", "--format", "raw"], stdin=sub.stdout,
                           capture_output=True, timeout=RUN_TIMEOUT_S)
        sub.stdout.close()
        self.assertEqual(sub.wait(timeout=RUN_TIMEOUT_S), EXIT_OK)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        r2 = self.sub("-t", "cli.raw.b", "--from", "0", "-n", "5", "--format", "raw", text=False)
        self.assertEqual(r2.stdout, b"".join(msgpack.packb(v, use_bin_type=True)
                                             for v in values))

    def test_resume_from(self):
        self.pub("-t", "cli.from", "-m", "1", "--count", "10")
        r = self.sub("-t", "cli.from", "--from", "7", "-n", "3", "-v")
        self.assertEqual([ln.split()[1] for ln in r.stdout.splitlines()], ["8", "9", "10"])

    def test_ack_mode(self):
        # window 2 with --ack: all 6 arrive only because each is acked after it is
        # written (without acks the broker holds 4 back and -n 6 times out: exit 5)
        self.pub("-t", "cli.ack", "-m", "7", "--count", "6")
        r = self.sub("-t", "cli.ack", "--from", "0", "--ack", "--window", "2", "-n", "6", "-v")
        self.assertEqual([ln.split()[1] for ln in r.stdout.splitlines()],
                         ["1", "2", "3", "4", "5", "6"])

    def test_wss_round_trip(self):
        r = run("wsbroker-pub", "--url", self.wss, "--ca", self.ca.ca, "-t", "cli.tls",
                "-m", '{"s":1}', "--confirm")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        r = run("wsbroker-sub", "--url", self.wss, "--ca", self.ca.ca, "-t", "cli.tls",
                "--from", "0", "-n", "1", "--timeout", "10")
        self.assertEqual((r.returncode, r.stdout), (EXIT_OK, '{"s":1}\n'), r.stderr)

    # --- md-feed and the example ------------------------------------------------

    def test_md_feed_contract(self):
        r = run("md-feed", "--url", self.url, "--symbols", "3", "--rate", "500", "--count",
                "60", "--burst", "3", "--seed", "7", "--prefix", "mdt.", "-q")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        seen = {}
        for sym in ("SYM000", "SYM001", "SYM002"):
            s = run("wsbroker-sub", "--url", self.url, "-t", "mdt." + sym, "--from", "0",
                    "--timeout", "1", "--format", "raw", text=False)
            self.assertEqual(s.returncode, EXIT_OK)
            up = msgpack.Unpacker(raw=False)
            up.feed(s.stdout)
            seen[sym] = list(up)
        self.assertEqual(sum(len(v) for v in seen.values()), 60)
        now_us = time.time() * 1e6
        for sym, quotes in seen.items():
            self.assertTrue(quotes, sym)
            for q in quotes:
                self.assertEqual(set(q), {"sym", "bid", "ask", "last", "bsz", "asz", "lsz", "t"})
                self.assertEqual(q["sym"], sym)
                for k in ("bid", "ask", "last"):
                    self.assertIsInstance(q[k], float)
                for k in ("bsz", "asz", "lsz", "t"):
                    self.assertIsInstance(q[k], int)
                    self.assertGreaterEqual(q[k], 0)
                self.assertLess(q["bid"], q["ask"])
                self.assertLess(abs(now_us - q["t"]), 60e6)  # wall clock, microseconds

    def test_md_feed_errors(self):
        r = run("md-feed", "--url", self.url, "--rate", "fast")
        self.assertEqual(r.returncode, EXIT_USAGE)
        self.assertIn("--rate: 'fast' is not a number", r.stderr)
        r = run("md-feed", "--url", self.url, "--prefix", "bad..", "--count", "1")
        self.assertEqual(r.returncode, EXIT_USAGE)
        self.assertIn("does not make valid topics", r.stderr)

    def test_example_md_latency(self):
        p = subprocess.Popen([os.path.join(TOOLS, "example_md_latency"), self.url, "mdx.>", "5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        time.sleep(0.5)
        r = run("md-feed", "--url", self.url, "--prefix", "mdx.", "--symbols", "2", "--rate",
                "50", "--count", "20", "-q")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        out, err = p.communicate(timeout=RUN_TIMEOUT_S)
        self.assertEqual(p.returncode, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        for ln in lines:
            self.assertRegex(ln, r"^mdx\.SYM00[01] +seq \d+ +SYM00[01] bid [\d.]+ ask [\d.]+ "
                                 r"latency -?\d+ us$")

    # --- errors and exit codes --------------------------------------------------

    def test_help(self):
        for name in ("wsbroker-pub", "wsbroker-sub", "md-feed"):
            r = run(name, "--help")
            self.assertEqual(r.returncode, EXIT_OK, name)
            self.assertIn("usage:", r.stdout)
            self.assertIn("exit codes:", r.stdout)

    def expect_error(self, r, code, *texts):
        self.assertEqual(r.returncode, code, r.stderr)
        for t in texts:
            self.assertIn(t, r.stderr)
        self.assertEqual(r.stderr.count("\n") < 6, True, r.stderr)  # a message, not a dump

    def test_bad_arguments(self):
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-t", "x", "-m", "1", "--bogus"),
                          EXIT_USAGE, "unknown argument '--bogus'", "--help")
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-m", "1"),
                          EXIT_USAGE, "--topic is required")
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-t", "x"),
                          EXIT_USAGE, "exactly one of --message, --stdin and --file")
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-t", "a.*", "-m", "1"),
                          EXIT_USAGE, "bad topic 'a.*'", "pattern")
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-t", "x", "-m", "{bad"),
                          EXIT_USAGE, "not JSON", "--format string")
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-t", "x", "--stdin",
                              stdin='1\n[1,\n'), EXIT_USAGE, "stdin line 2: not JSON")
        self.expect_error(run("wsbroker-pub", "--url", self.url, "-t", "x", "--file",
                              "/nonexistent/f"), EXIT_USAGE, "cannot open /nonexistent/f")
        self.expect_error(run("wsbroker-sub", "--url", self.url, "-t", "a..b"),
                          EXIT_USAGE, "bad topic or pattern 'a..b'")
        self.expect_error(run("wsbroker-sub", "--url", self.url, "-t", "a", "--from", "-1"),
                          EXIT_USAGE, "--from: '-1' is not a whole number")
        self.expect_error(run("wsbroker-sub", "--url", self.url, "-t", "a", "--format", "xml"),
                          EXIT_USAGE, "--format must be json or raw")
        self.expect_error(run("wsbroker-sub", "-t", "a"), EXIT_USAGE, "--url is required")
        self.expect_error(run("wsbroker-sub", "--url"), EXIT_USAGE, "option --url needs a value")

    def test_bad_url(self):
        for url, text in [("http://127.0.0.1:1/v1", "does not start with ws:// or wss://"),
                          ("ws://", "no host in the URL"),
                          ("ws://127.0.0.1:99999/v1", "port in the URL is out of range"),
                          ("ws://127.0.0.1:12ab/v1", "port in the URL is not a number")]:
            for name in ("wsbroker-pub", "wsbroker-sub"):
                args = ["-m", "1"] if name == "wsbroker-pub" else []
                self.expect_error(run(name, "--url", url, "-t", "x", *args), EXIT_USAGE,
                                  f"bad URL '{url}'", text)
        self.expect_error(run("wsbroker-sub", "--url", "ws://no-such-host.invalid/v1", "-t", "x"),
                          EXIT_CONNECT, "cannot resolve no-such-host.invalid")
        self.expect_error(run("wsbroker-sub", "--url", self.url.replace("/v1", "/nope"),
                              "-t", "x"), EXIT_CONNECT, "refused: HTTP/1.1 404")

    def test_refused_connection(self):
        port = refused_port()
        for name, args in (("wsbroker-pub", ["-m", "1"]), ("wsbroker-sub", []),
                           ("md-feed", [])):
            if name != "md-feed":
                args = ["-t", "x", *args]
            self.expect_error(run(name, "--url", f"ws://127.0.0.1:{port}/v1", *args),
                              EXIT_CONNECT, f"cannot connect to 127.0.0.1:{port}",
                              "Connection refused")

    def test_tls_failures(self):
        plain_as_tls = self.url.replace("ws://", "wss://")
        self.expect_error(run("wsbroker-pub", "--url", plain_as_tls, "--ca", self.ca.ca,
                              "-t", "x", "-m", "1"), EXIT_TLS, "TLS with 127.0.0.1", "failed")
        self.expect_error(run("wsbroker-sub", "--url", self.wss, "--ca", self.ca.other_ca,
                              "-t", "x"), EXIT_TLS, "TLS with 127.0.0.1", "failed")
        self.expect_error(run("wsbroker-sub", "--url", self.wss, "--ca", "/nonexistent.pem",
                              "-t", "x"), EXIT_TLS, "cannot load CA certificates from "
                                                    "/nonexistent.pem")
        # no --ca: the system store does not know the dev CA
        self.expect_error(run("wsbroker-sub", "--url", self.wss, "-t", "x"), EXIT_TLS,
                          "TLS with 127.0.0.1", "failed")
        self.expect_error(run("wsbroker-sub", "--url", self.wss, "--ca", self.ca.ca,
                              "--cert", self.ca.client_cert, "-t", "x"),
                          EXIT_USAGE, "--cert and --key go together")

    def test_timeout(self):
        r = run("wsbroker-sub", "--url", self.url, "-t", "cli.quiet", "-n", "1",
                "--timeout", "0.5")
        self.expect_error(r, EXIT_TIMEOUT, "timed out after 0.5 s with 0 of 1 messages")
        r = run("wsbroker-sub", "--url", self.url, "-t", "cli.quiet", "--timeout", "0.3")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)  # no --count: the timeout just ends it


def main():
    global BROKER, TOOLS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", required=True)
    p.add_argument("--tools", required=True, help="the build's tools/ directory")
    args, rest = p.parse_known_args()
    BROKER, TOOLS = args.broker, args.tools
    result = unittest.main(argv=[sys.argv[0], "-v", *rest], exit=False).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)


if __name__ == "__main__":
    main()

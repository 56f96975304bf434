#!/usr/bin/python3
"""wss:// - wsbroker's TLS listener (wolfSSL in the io_uring workers), end to end.

Every test starts a real broker with `--listen-tls 127.0.0.1:0` and a dev CA
made by tools/dev-ca.sh (tests/lib/broker.py), and drives it with clients
nobody on the team wrote: Python's ssl (OpenSSL) under the `websockets`
library, `openssl s_client`, and the raw-socket client of the conformance
suite (tests/conformance/wsclient.py) where the test must control every byte.

  TestWssEcho        text/binary echo 0 B .. 1 MiB, ping, close codes; the plain
                     listener beside it; [::1]
  TestNegotiation    TLS 1.3 by default, TLS 1.2 when the client caps it, ALPN
                     http/1.1, `openssl s_client -brief`, session resumption
  TestMinVersion     --tls-min-version 1.3 refuses a TLS 1.2-only client
  TestClientCerts    --tls-verify-client --tls-ca: the CA's client certificate
                     is accepted; none, or another CA's, is refused
  TestBadInput       plaintext HTTP, garbage, a truncated ClientHello, silence
                     (--handshake-timeout 500), a bad record after the handshake:
                     each connection is closed, the broker keeps serving
  TestReload         SIGHUP: a renewed certificate (new serial) for new
                     connections, existing ones untouched; a broken file keeps
                     the last good certificate
  TestHandshakeLoop  N sequential full handshakes + upgrade + echo (--handshakes,
                     default 1000), reporting handshakes/s

Each broker must exit 0 on SIGTERM with no sanitizer report (checked when its
class ends). Run with Debian's interpreter (python3-websockets):

    /usr/bin/python3 tests/tls/test_tls.py --broker build/x/broker/wsbroker \\
        [--handshakes 1000] [--broker-arg=--workers --broker-arg=2] [-k NAME]

Prints `N passed, N failed` last and exits non-zero on any failure.
"""

import argparse
import asyncio
import logging
import os
import random
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))

from broker import Broker, broker_path, dev_ca, ipv6_loopback_available  # noqa: E402
from wsclient import OP_BINARY, OP_TEXT, CaseFailure, WsClient  # noqa: E402

try:
    import websockets
    import websockets.exceptions
except ImportError:  # pragma: no cover - environment problem, say so plainly
    sys.exit("test_tls: `import websockets` failed; run with /usr/bin/python3 "
             "(Debian python3-websockets), not " + sys.executable)

BROKER = None                     # path to wsbroker, set by main()
BROKER_ARGS = []                  # extra broker arguments, from --broker-arg
HANDSHAKES = 1000                 # TestHandshakeLoop's N, from --handshakes
HANDSHAKE_DEADLINE_S = 450.0      # ... and its time bound (CTest's TIMEOUT is 600 s)
CA = None                         # this process's DevCA, set by main()

SIZES = [0, 1, 125, 126, 65535, 65536, 1024 * 1024]
OPEN_TIMEOUT_S = 10
MSG_TIMEOUT_S = 30
CLOSE_WAIT_S = 5.0                # a bad connection must be closed within this
HANDSHAKE_TIMEOUT_MS = 500        # TestBadInput's --handshake-timeout
RELOAD_WAIT_S = 10.0              # SIGHUP until new connections see the new cert

TEXT_UNIT = "wsbroker é ß € ✓ 😀 𝄞 "
TEXT_UNIT_BYTES = len(TEXT_UNIT.encode())


def text_of_size(n):
    """A str whose UTF-8 encoding is exactly n bytes."""
    s = TEXT_UNIT * (n // TEXT_UNIT_BYTES)
    return s + "." * (n - len(s.encode()))


def binary_of_size(n, seed=None):
    return random.Random(n if seed is None else seed).randbytes(n)


def describe(data):
    kind = "text" if isinstance(data, str) else "binary"
    return f"{kind} {len(data.encode()) if isinstance(data, str) else len(data)} B"


def peer_serial(tls):
    """The serial of the certificate the server presented, as an int."""
    return int(tls.getpeercert()["serialNumber"], 16)


def file_serial(cert_path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", cert_path],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return int(out.strip().split("=", 1)[1], 16)


def client_hello(ctx, server_hostname="127.0.0.1"):
    """The bytes of a real ClientHello from ctx (TLS record(s), unsent)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def wait_closed(sock, timeout=CLOSE_WAIT_S):
    """Read (and drop) until the peer closes: ('eof' | 'reset', seconds, bytes
    received). Raises AssertionError if it is still open after timeout."""
    t0 = time.monotonic()
    got = b""
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            raise AssertionError(f"the broker did not close the connection within "
                                 f"{timeout:g} s (got {len(got)} B: {got[:32].hex()})")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return "reset", time.monotonic() - t0, got
        except ssl.SSLError as e:          # an alert on a TLS socket: closing
            return f"alert ({e.reason or e})", time.monotonic() - t0, got
        if not chunk:
            return "eof", time.monotonic() - t0, got
        got += chunk


def summarize(result):
    """(passed, failed, skipped) counting each test once, subtests folded in."""
    def test_id(t):
        return getattr(t, "test_case", t).id()

    real = (unittest.TestCase,)
    failed_tests = {test_id(t) for t, _ in result.failures + result.errors
                    if isinstance(getattr(t, "test_case", t), real)}
    failed_other = {t.id() for t, _ in result.failures + result.errors
                    if not isinstance(getattr(t, "test_case", t), real)}
    failed_tests |= {test_id(t) for t in result.unexpectedSuccesses}
    skipped = {test_id(t) for t, _ in result.skipped} - failed_tests
    skipped_run = {s for s in skipped if not s.startswith(("setUpClass", "setUpModule"))}
    passed = max(0, result.testsRun - len(failed_tests) - len(skipped_run))
    return passed, len(failed_tests) + len(failed_other), len(skipped)


class TlsBroker:
    """One broker per test class; its clean exit is checked in tearDownClass.

    tls(): the class's TlsConfig (default: the dev CA's server certificate,
    TLS listener only); broker_args: extra broker arguments.
    """

    broker_args = []
    listen = "127.0.0.1:0"

    @classmethod
    def tls(cls):
        return CA.tls(plain=False)

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(BROKER, [*BROKER_ARGS, *cls.broker_args], listen=cls.listen,
                            tls=cls.tls()).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def context(self, **kw):
        """A client SSLContext trusting the dev CA (see DevCA.client_context)."""
        return CA.client_context(**kw)

    def ws_client(self, ctx=None, path="/echo", **kw):
        """A raw-socket WsClient over TLS, upgraded."""
        b = self.broker
        return WsClient(b.tls_host, b.tls_port, path, timeout=10.0,
                        ssl_context=ctx or self.context(), **kw)

    def assert_serves(self, what="after that"):
        """A good client still gets a TLS handshake, an upgrade and an echo."""
        try:
            with self.ws_client() as c:
                c.send_frame(OP_TEXT, b"still serving?")
                c.expect_message(OP_TEXT, b"still serving?")
                c.close_normal()
        except (CaseFailure, OSError, EOFError) as e:
            self.fail(f"the broker no longer serves a good client {what}: {e!r}")


class TestWssEcho(TlsBroker, unittest.IsolatedAsyncioTestCase):
    """The websockets library over wss://, next to the plain listener."""

    @classmethod
    def tls(cls):
        return CA.tls(plain=True)

    def connect(self, path="/echo", ctx=None, tls=True, **kw):
        opts = dict(open_timeout=OPEN_TIMEOUT_S, close_timeout=10, ping_interval=None,
                    max_size=None, compression=None)
        if tls:
            opts["ssl"] = ctx or self.context()
        opts.update(kw)
        return websockets.connect(self.broker.url_for(path, tls=tls), **opts)

    async def assert_echo(self, ws, data):
        await asyncio.wait_for(ws.send(data), MSG_TIMEOUT_S)
        got = await asyncio.wait_for(ws.recv(), MSG_TIMEOUT_S)
        self.assertIs(type(got), type(data), f"sent {describe(data)}, got {type(got).__name__}")
        self.assertTrue(got == data, f"sent {describe(data)}, got back {describe(got)} "
                                     "with different content")

    async def test_text_sizes(self):
        async with self.connect() as ws:
            for n in SIZES:
                with self.subTest(size=n):
                    await self.assert_echo(ws, text_of_size(n))

    async def test_binary_sizes(self):
        async with self.connect() as ws:
            for n in SIZES:
                with self.subTest(size=n):
                    await self.assert_echo(ws, binary_of_size(n))

    async def test_interleaved_burst(self):
        # Many messages in flight at once: TLS records and WebSocket frames
        # cut at different places on both sides.
        msgs = [text_of_size(n) if i % 2 else binary_of_size(n, seed=i)
                for i, n in enumerate([3, 70000, 0, 125, 16385, 1, 65536, 200000] * 4)]
        async with self.connect() as ws:
            sender = asyncio.ensure_future(asyncio.gather(*(ws.send(m) for m in msgs)))
            try:
                for i, m in enumerate(msgs):
                    got = await asyncio.wait_for(ws.recv(), MSG_TIMEOUT_S)
                    self.assertTrue(got == m, f"message {i}: sent {describe(m)}, "
                                              f"got {describe(got)}")
                await asyncio.wait_for(sender, MSG_TIMEOUT_S)
            finally:
                sender.cancel()

    async def test_ping_gets_pong(self):
        async with self.connect() as ws:
            for payload in (b"tls-ping", b"", bytes(range(125))):
                pong = await ws.ping(payload)
                await asyncio.wait_for(pong, 10)

    async def test_close_codes_are_echoed(self):
        for code, reason in ((1000, "done"), (4000, "app code")):
            with self.subTest(code=code):
                async with self.connect() as ws:
                    await self.assert_echo(ws, "before close")
                    await asyncio.wait_for(ws.close(code, reason), 20)
                    self.assertEqual(ws.close_code, code,
                                     "broker's close frame code (1006 = none came)")

    async def test_plain_listener_beside_tls(self):
        async with self.connect(tls=False) as plain, self.connect() as tls:
            await self.assert_echo(plain, "over ws://")
            await self.assert_echo(tls, "over wss://")
            self.assertIsNone(plain.transport.get_extra_info("ssl_object"))
            self.assertIsNotNone(tls.transport.get_extra_info("ssl_object"))

    async def test_unknown_path_is_404_over_tls(self):
        rejected = tuple(getattr(websockets.exceptions, n)
                         for n in ("InvalidStatusCode", "InvalidStatus")
                         if hasattr(websockets.exceptions, n))
        with self.assertRaises(rejected) as cm:
            ws = await self.connect("/nope")
            await ws.close()
        code = getattr(cm.exception, "status_code", None) or cm.exception.response.status_code
        self.assertEqual(code, 404)

    async def test_ipv6_loopback(self):
        if not ipv6_loopback_available():
            self.skipTest("this machine has no IPv6 loopback ([::1] cannot be bound)")
        b6 = Broker(BROKER, BROKER_ARGS, listen="[::1]:0", tls=CA.tls(plain=False)).start()
        try:
            self.assertEqual(b6.tls_host, "::1")
            # Verified against the certificate's IP:::1 subjectAltName.
            async with websockets.connect(b6.url_for("/echo", tls=True), ssl=self.context(),
                                          open_timeout=OPEN_TIMEOUT_S, ping_interval=None,
                                          compression=None) as ws:
                await self.assert_echo(ws, "over wss://[::1]")
                await self.assert_echo(ws, binary_of_size(65536))
        finally:
            b6.stop()


class TestNegotiation(TlsBroker, unittest.TestCase):
    """What the TLS handshake settles: version, ALPN, resumption."""

    def test_tls13_by_default(self):
        with self.ws_client() as c:
            self.assertEqual(c.tls.version(), "TLSv1.3")
            c.send_frame(OP_TEXT, b"1.3")
            c.expect_message(OP_TEXT, b"1.3")
            c.close_normal()

    def test_tls12_when_the_client_caps_it(self):
        ctx = self.context(maximum_version=ssl.TLSVersion.TLSv1_2)
        with self.ws_client(ctx) as c:
            self.assertEqual(c.tls.version(), "TLSv1.2")
            c.send_frame(OP_BINARY, binary_of_size(70000))
            c.expect_message(OP_BINARY, binary_of_size(70000))
            c.close_normal()

    def test_alpn_http11_is_selected(self):
        for offer in (["http/1.1"], ["h2", "http/1.1"]):
            for cap in (None, ssl.TLSVersion.TLSv1_2):
                with self.subTest(offer=offer, max_version=cap):
                    ctx = self.context(alpn=offer, maximum_version=cap)
                    with self.ws_client(ctx) as c:
                        self.assertEqual(c.tls.selected_alpn_protocol(), "http/1.1")
                        c.send_frame(OP_TEXT, b"alpn")
                        c.expect_message(OP_TEXT, b"alpn")
                        c.close_normal()

    def test_chacha20_preferred_when_wolfssl_has_no_aesni(self):
        # The broker's default suite order puts ChaCha20-Poly1305 first when
        # its wolfSSL does AES in software (broker/tls.c, TLS_DEFAULT_CIPHERS),
        # even though this client lists AES-GCM first.
        with open("/usr/include/wolfssl/options.h") as f:
            aesni = "#define WOLFSSL_AESNI" in f.read()
        for cap in (None, ssl.TLSVersion.TLSv1_2):
            with self.subTest(max_version=cap):
                with self.ws_client(self.context(maximum_version=cap)) as c:
                    name = c.tls.cipher()[0]
                    if aesni:
                        self.assertIn("AES", name)
                    else:
                        self.assertIn("CHACHA20", name)
                    c.send_frame(OP_TEXT, b"cipher")
                    c.expect_message(OP_TEXT, b"cipher")
                    c.close_normal()

    def test_renegotiation_is_refused_with_an_alert(self):
        # TLS 1.2 client-initiated renegotiation (s_client's "R" command):
        # refused with a fatal alert, that connection only.
        lines_before = len(self.broker.stderr_lines())
        cmd = ["timeout", "20", "openssl", "s_client", "-connect",
               f"127.0.0.1:{self.broker.tls_port}", "-tls1_2", "-CAfile", CA.ca]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)                       # handshake done
            p.stdin.write(b"R\n")
            p.stdin.flush()
            time.sleep(1.0)
            p.stdin.close()
            out = p.stdout.read().decode("utf-8", "replace")
        finally:
            p.wait(timeout=30)
        self.assertIn("RENEGOTIATING", out, out)
        self.assertRegex(out, r"alert (unexpected message|handshake failure|no renegotiation)",
                         "no TLS alert before the close:\n" + out)
        self.assert_serves("after a renegotiation attempt")
        new = "".join(self.broker.stderr_lines()[lines_before:])
        self.assertIn("TLS read failed", new)

    def test_no_alpn_offered_still_works(self):
        with self.ws_client() as c:
            self.assertIsNone(c.tls.selected_alpn_protocol())
            c.send_frame(OP_TEXT, b"no alpn")
            c.expect_message(OP_TEXT, b"no alpn")
            c.close_normal()

    def s_client(self, *extra):
        """`openssl s_client -brief` against the TLS port; its output."""
        cmd = ["timeout", "20", "openssl", "s_client", "-connect",
               f"127.0.0.1:{self.broker.tls_port}", "-alpn", "http/1.1", "-brief",
               "-CAfile", CA.ca, "-verify_return_error", "-verify_ip", "127.0.0.1", *extra]
        # stdin is an empty pipe: s_client sees EOF and leaves after the handshake.
        r = subprocess.run(cmd, input=b"", capture_output=True, timeout=30)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 124, f"s_client hung:\n{out}")
        return out

    def test_openssl_s_client_brief(self):
        for flag, version in ((None, "TLSv1.3"), ("-tls1_2", "TLSv1.2")):
            with self.subTest(version=version):
                out = self.s_client(*([flag] if flag else []))
                self.assertIn("CONNECTION ESTABLISHED", out, out)
                self.assertIn(f"Protocol version: {version}", out, out)
                self.assertIn("Verification: OK", out, out)
        self.assert_serves("after s_client")

    def test_session_resumption(self):
        for cap in (None, ssl.TLSVersion.TLSv1_2):
            with self.subTest(max_version=cap):
                ctx = self.context(maximum_version=cap)
                with self.ws_client(ctx) as first:
                    # Reading the 101 and an echo also reads TLS 1.3's
                    # NewSessionTicket, which comes after the handshake.
                    first.send_frame(OP_TEXT, b"first")
                    first.expect_message(OP_TEXT, b"first")
                    session = first.tls.session
                    self.assertFalse(first.tls.session_reused)
                    first.close_normal()
                self.assertIsNotNone(session, "no session after the first connection")
                if first.tls.version() == "TLSv1.3":
                    self.assertTrue(session.has_ticket, "TLS 1.3 and no session ticket")
                with self.ws_client(ctx, ssl_session=session) as second:
                    self.assertTrue(second.tls.session_reused,
                                    f"{second.tls.version()} session not resumed")
                    second.send_frame(OP_TEXT, b"resumed")
                    second.expect_message(OP_TEXT, b"resumed")
                    second.close_normal()


class TestMinVersion(TlsBroker, unittest.TestCase):

    @classmethod
    def tls(cls):
        return CA.tls(plain=False, min_version="1.3")

    def test_tls12_only_client_is_refused(self):
        ctx = self.context(maximum_version=ssl.TLSVersion.TLSv1_2)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with self.ws_client(ctx):
                pass
        self.assert_serves("after refusing TLS 1.2")

    def test_tls13_client_is_accepted(self):
        with self.ws_client() as c:
            self.assertEqual(c.tls.version(), "TLSv1.3")
            c.close_normal()


class TestClientCerts(TlsBroker, unittest.TestCase):
    """--tls-verify-client --tls-ca: only the CA's client certificates get in."""

    @classmethod
    def tls(cls):
        return CA.tls(plain=False, verify_client=True)

    def good_context(self, **kw):
        return self.context(cert=CA.client_cert, key=CA.client_key, **kw)

    def assert_serves(self, what="after that"):
        try:
            with self.ws_client(self.good_context()) as c:
                c.send_frame(OP_TEXT, b"still serving?")
                c.expect_message(OP_TEXT, b"still serving?")
                c.close_normal()
        except (CaseFailure, OSError, EOFError) as e:
            self.fail(f"the broker no longer serves a good client {what}: {e!r}")

    def assert_refused(self, ctx):
        """No upgrade: the TLS handshake fails (TLS 1.2), or (TLS 1.3, where the
        client finishes first) the broker's alert or close comes before any 101."""
        try:
            c = self.ws_client(ctx)
        except ssl.SSLError as e:
            return f"alert: {e.reason or e}"
        except (ConnectionError, EOFError) as e:
            return f"closed: {e!r}"
        except CaseFailure as e:
            self.assertIn("connection closed during handshake", str(e))
            return "closed before the 101"
        c.close_socket()
        self.fail("upgraded without an acceptable client certificate")

    def test_client_with_the_ca_certificate_is_accepted(self):
        for cap in (None, ssl.TLSVersion.TLSv1_2):
            with self.subTest(max_version=cap):
                with self.ws_client(self.good_context(maximum_version=cap)) as c:
                    c.send_frame(OP_BINARY, binary_of_size(100000))
                    c.expect_message(OP_BINARY, binary_of_size(100000))
                    c.close_normal()

    def test_client_without_certificate_is_refused(self):
        for cap in (None, ssl.TLSVersion.TLSv1_2):
            with self.subTest(max_version=cap):
                how = self.assert_refused(self.context(maximum_version=cap))
                print(f"\n  no client cert, max {cap}: {how}", file=sys.stderr)
        self.assert_serves("after refusing a client without a certificate")

    def test_client_with_another_cas_certificate_is_refused(self):
        for cap in (None, ssl.TLSVersion.TLSv1_2):
            with self.subTest(max_version=cap):
                ctx = self.context(cert=CA.other_client_cert, key=CA.other_client_key,
                                   maximum_version=cap)
                how = self.assert_refused(ctx)
                print(f"\n  other CA's client cert, max {cap}: {how}", file=sys.stderr)
        self.assert_serves("after refusing another CA's client certificate")


class TestBadInput(TlsBroker, unittest.TestCase):
    """Whatever comes in on the TLS port, that connection is closed (within
    the handshake timeout at most), nothing else is disturbed, and the broker
    logs it at most once or twice, not once per byte."""

    broker_args = ["--handshake-timeout", str(HANDSHAKE_TIMEOUT_MS), "--workers", "2"]
    LOG_LINES_PER_BAD_CONNECTION = 2

    def bad(self, send, then="close", expect_within=CLOSE_WAIT_S):
        """Open a raw TCP connection to the TLS port, write `send` (bytes, or a
        function of the socket that may return the socket to go on with),
        then half-close ('close') or wait ('stall'); the broker must close it.
        Returns (how, seconds, bytes from broker)."""
        lines_before = len(self.broker.stderr_lines())
        with self.broker.connect_raw(timeout=10.0, tls=True) as s:
            if callable(send):
                s = send(s) or s
            elif send:
                s.sendall(send)
            with s:
                if then == "close":
                    s.shutdown(socket.SHUT_WR)
                how, secs, got = wait_closed(s, expect_within)
        self.assertNotIn(b"HTTP/1.1 101", got, "upgraded a connection that was not TLS")
        self.assert_serves()
        time.sleep(0.05)
        new = self.broker.stderr_lines()[lines_before:]
        self.assertLessEqual(len(new), self.LOG_LINES_PER_BAD_CONNECTION,
                             "log lines for one bad connection:\n" + "".join(new))
        print(f"\n  closed by broker: {how} after {secs * 1000:.0f} ms, {len(got)} B "
              f"from it ({got[:7].hex() or '-'}), {len(new)} log line(s)", file=sys.stderr)
        return how, secs, got

    def test_plaintext_http_request(self):
        # ws:// against the wss:// port: answered in plain HTTP, which that
        # client can read, naming the mistake.
        how, secs, got = self.bad(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n", then="stall")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:60])
        self.assertIn(b"use wss://", got)


    def test_random_garbage(self):
        for seed in range(3):
            with self.subTest(seed=seed):
                self.bad(random.Random(seed).randbytes(4096), then="stall")

    def test_garbage_then_close(self):
        self.bad(random.Random(7).randbytes(300), then="close")

    def test_oversized_record_header(self):
        # A handshake record announcing 65535 bytes (over TLS's 16 KiB + 2048).
        self.bad(b"\x16\x03\x01\xff\xff" + bytes(100), then="stall")

    def test_truncated_client_hello_then_close(self):
        hello = client_hello(self.context())
        self.bad(hello[:len(hello) // 2], then="close")

    def test_truncated_client_hello_then_stall(self):
        hello = client_hello(self.context())
        how, secs, _ = self.bad(hello[:len(hello) // 2], then="stall")
        self.assertLess(secs, HANDSHAKE_TIMEOUT_MS / 1000 + 3.0)

    def test_client_hello_byte_by_byte_then_stall(self):
        hello = client_hello(self.context())

        def dribble(s):
            for i in range(0, len(hello) - 1, 1):
                s.sendall(hello[i:i + 1])
                if i < 20:
                    time.sleep(0.005)
        self.bad(dribble, then="stall")

    def test_silent_client_is_dropped_at_the_handshake_timeout(self):
        how, secs, _ = self.bad(b"", then="stall")
        self.assertLess(secs, HANDSHAKE_TIMEOUT_MS / 1000 + 3.0,
                        f"closed after {secs:.2f} s with --handshake-timeout "
                        f"{HANDSHAKE_TIMEOUT_MS}")

    def test_tls_done_then_silence_is_dropped_at_the_handshake_timeout(self):
        # TLS completes, the WebSocket upgrade never comes.
        def tls_only(s):
            t = self.context().wrap_socket(s, server_hostname="127.0.0.1")
            return socket.socket(fileno=t.detach())    # TCP again, TLS state dropped
        how, secs, _ = self.bad(tls_only, then="stall")
        self.assertLess(secs, HANDSHAKE_TIMEOUT_MS / 1000 + 3.0)

    def test_garbage_record_after_handshake(self):
        # A well-formed application_data record whose ciphertext is noise: the
        # AEAD check fails; and a record of an unknown content type.
        for name, record in (("bad MAC", b"\x17\x03\x03\x00\x40" + bytes(range(64))),
                             ("content type 0x99", b"\x99\x03\x03\x00\x10" + bytes(16)),
                             ("plaintext frame", b"\x81\x85abcd" + b"hello")):
            with self.subTest(record=name):
                def upgraded_then_garbage(s):
                    t = self.context().wrap_socket(s, server_hostname="127.0.0.1")
                    t.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              b"Sec-WebSocket-Version: 13\r\n\r\n")
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = t.recv(4096)
                        if not chunk:
                            raise AssertionError("closed during the upgrade")
                        head += chunk
                    self.assertTrue(head.startswith(b"HTTP/1.1 101"), head[:40])
                    raw = socket.socket(fileno=t.detach())   # TCP again
                    raw.sendall(record)
                    return raw
                self.bad(upgraded_then_garbage, then="stall")

    def test_many_bad_connections_at_once(self):
        # 60 at once, of every kind; all closed, then the broker still serves.
        hello = client_hello(self.context())
        payloads = [b"", b"GET / HTTP/1.1\r\n\r\n", hello[:50], random.Random(1).randbytes(999),
                    b"\x16\x03\x01\x00\x05hello"]
        socks = []
        try:
            for i in range(60):
                s = self.broker.connect_raw(timeout=10.0, tls=True)
                socks.append(s)
                if payloads[i % len(payloads)]:
                    s.sendall(payloads[i % len(payloads)])
            for s in socks:
                wait_closed(s, HANDSHAKE_TIMEOUT_MS / 1000 + CLOSE_WAIT_S)
        finally:
            for s in socks:
                s.close()
        self.assert_serves("after 60 bad connections")


class TestReload(TlsBroker, unittest.TestCase):
    """SIGHUP reloads --tls-cert / --tls-key; connections already open stay."""

    broker_args = ["--workers", "2"]

    @classmethod
    def tls(cls):
        cls.ca = CA.copy()            # renewed in place; the shared CA stays as is
        return cls.ca.tls(plain=False)

    def new_connection_serial(self):
        with self.broker.connect_tls(self.context(), timeout=10.0) as t:
            return peer_serial(t)

    def wait_for_serial(self, want):
        """Connect until one sees `want` (bounded); then every worker must."""
        deadline = time.monotonic() + RELOAD_WAIT_S
        seen = None
        while time.monotonic() < deadline:
            seen = self.new_connection_serial()
            if seen == want:
                break
            time.sleep(0.05)
        self.assertEqual(seen, want, f"new connections still see serial {seen:x} "
                                     f"{RELOAD_WAIT_S:g} s after SIGHUP, want {want:x}")
        # Connections land on either worker (SO_REUSEPORT): all must have it.
        seen = {self.new_connection_serial() for _ in range(16)}
        self.assertEqual(seen, {want}, "some workers still present the old certificate")

    def test_sighup_renews_certificate_keeps_connections(self):
        old = file_serial(self.ca.server_cert)
        self.assertEqual(self.new_connection_serial(), old)
        with self.ws_client() as kept:
            self.assertEqual(peer_serial(kept.tls), old)
            kept.send_frame(OP_TEXT, b"before reload")
            kept.expect_message(OP_TEXT, b"before reload")

            self.ca.renew_server()
            new = file_serial(self.ca.server_cert)
            self.assertNotEqual(new, old, "dev-ca.sh --renew-server kept the serial")
            self.broker.reload()
            self.wait_for_serial(new)

            # The connection from before the reload: still there, still echoing.
            for n in (0, 125, 70000):
                kept.send_frame(OP_BINARY, binary_of_size(n))
                kept.expect_message(OP_BINARY, binary_of_size(n))
            kept.close_normal()
        self.assertIsNone(self.broker.proc.poll(), "broker exited after SIGHUP")

        # A broken certificate file: the reload fails, the last good one stays.
        with open(self.ca.server_cert, "rb") as f:
            good = f.read()
        tmp = self.ca.server_cert + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        os.replace(tmp, self.ca.server_cert)
        try:
            with self.ws_client() as kept:
                self.broker.reload()
                time.sleep(1.0)
                self.assertIsNone(self.broker.proc.poll(), "broker exited on a bad reload")
                self.assertEqual(self.new_connection_serial(), new,
                                 "a failed reload changed the certificate")
                kept.send_frame(OP_TEXT, b"after a bad reload")
                kept.expect_message(OP_TEXT, b"after a bad reload")
                kept.close_normal()
        finally:
            with open(tmp, "wb") as f:
                f.write(good)
            os.replace(tmp, self.ca.server_cert)
        self.assert_serves("after a failed reload")


class TestHandshakeLoop(TlsBroker, unittest.TestCase):
    """N sequential full TLS handshakes, each with an upgrade, one echo and a
    close handshake; no error allowed; handshakes/s reported."""

    def test_sequential_full_handshakes(self):
        ctx = self.context()
        t0 = time.monotonic()
        deadline = t0 + HANDSHAKE_DEADLINE_S
        done = 0
        for i in range(HANDSHAKES):
            if time.monotonic() > deadline:
                self.fail(f"only {done} of {HANDSHAKES} handshakes within "
                          f"{HANDSHAKE_DEADLINE_S:g} s")
            payload = f"handshake {i}".encode()
            try:
                with self.ws_client(ctx) as c:
                    if c.tls.session_reused:
                        self.fail(f"handshake {i} was a resumption, not a full handshake")
                    c.send_frame(OP_TEXT, payload)
                    c.expect_message(OP_TEXT, payload)
                    c.close_normal()
            except (CaseFailure, OSError, EOFError) as e:
                self.fail(f"handshake {i} of {HANDSHAKES} failed: {e!r}")
            done += 1
        secs = time.monotonic() - t0
        print(f"\n  {done} full TLS 1.3 handshakes + upgrade + echo + close in {secs:.1f} s: "
              f"{done / secs:.0f} handshakes/s", file=sys.stderr, flush=True)


def main():
    global BROKER, BROKER_ARGS, HANDSHAKES, HANDSHAKE_DEADLINE_S, CA
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    ap.add_argument("--broker-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every broker started (repeat; --broker-arg=--workers)")
    ap.add_argument("--handshakes", type=int, default=HANDSHAKES,
                    help=f"TestHandshakeLoop's sequential handshakes (default {HANDSHAKES})")
    ap.add_argument("--handshake-deadline", type=float, default=HANDSHAKE_DEADLINE_S,
                    help=f"seconds the handshake loop may take (default {HANDSHAKE_DEADLINE_S:g})")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    BROKER_ARGS = args.broker_arg
    HANDSHAKES = args.handshakes
    HANDSHAKE_DEADLINE_S = args.handshake_deadline
    CA = dev_ca()
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    print(f"websockets {websockets.__version__}, {ssl.OPENSSL_VERSION}, python "
          f"{sys.version.split()[0]}, broker {BROKER} {' '.join(BROKER_ARGS)}, "
          f"dev CA {CA.dir}", flush=True)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    passed, failed, skipped = summarize(prog.result)
    if skipped:
        print(f"{skipped} skipped (see reasons above)")
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or not prog.result.wasSuccessful() else 0)


if __name__ == "__main__":
    main()

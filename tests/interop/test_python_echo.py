#!/usr/bin/python3
"""Interop: the `websockets` library (Debian's python3-websockets, 10.x) against /echo.

A client nobody on the team wrote must see every message come back byte for
byte with the same type, at every frame-length boundary (0, 1, 125/126 for the
7-bit/16-bit length, 65535/65536 for the 16-bit/64-bit length) up to exactly
the default max message (16 MiB); fragmented sends come back as one message;
pings get pongs; closes are echoed; many connections at once stay separate;
bad requests get the right HTTP status before any upgrade.

Run with Debian's interpreter (the pyenv `python3` lacks the package):

    /usr/bin/python3 tests/interop/test_python_echo.py --broker build/x/broker/wsbroker \
        [--broker-arg=--workers --broker-arg=1] [-k NAME]

The broker path may also come from $WSB_BROKER. Prints `N passed, N failed`
last and exits non-zero on any failure.
"""

import argparse
import asyncio
import logging
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from broker import broker_path, ipv6_loopback_available, start_broker, start_broker_ipv6  # noqa: E402

try:
    import websockets
    import websockets.exceptions
except ImportError:  # pragma: no cover - environment problem, say so plainly
    sys.exit("test_python_echo: `import websockets` failed; run with /usr/bin/python3 "
             "(Debian python3-websockets), not " + sys.executable)

BROKER = None                     # path to wsbroker, set by main()
BROKER_ARGS = []                  # extra broker arguments for every broker, from --broker-arg

MAX_MESSAGE = 16 * 1024 * 1024    # the broker's default --max-message, accepted exactly
SIZES = [0, 1, 125, 126, 65535, 65536, 1024 * 1024, MAX_MESSAGE]

OPEN_TIMEOUT_S = 10
MSG_TIMEOUT_S = 60                # one echo of up to 16 MiB, also under ASan
PING_TIMEOUT_S = 10
CONCURRENT_CONNS = 20
CONCURRENT_MSGS = 100
CONCURRENT_TIMEOUT_S = 120

# Mixed 1-, 2-, 3- and 4-byte UTF-8 sequences, so the broker's UTF-8 check
# sees code points split across its reads.
TEXT_UNIT = "wsbroker é ß € ✓ 😀 𝄞 "
TEXT_UNIT_BYTES = len(TEXT_UNIT.encode())


def text_of_size(n):
    """A str whose UTF-8 encoding is exactly n bytes, mostly non-ASCII mix."""
    s = TEXT_UNIT * (n // TEXT_UNIT_BYTES)
    s += "." * (n - len(s.encode()))
    assert len(s.encode()) == n
    return s


def binary_of_size(n, seed=None):
    """n reproducible pseudo-random bytes (seeded by n unless told)."""
    return random.Random(n if seed is None else seed).randbytes(n)


def http_status(exc):
    """The HTTP status carried by a websockets handshake rejection."""
    code = getattr(exc, "status_code", None)            # InvalidStatusCode (10.x legacy)
    if code is None and getattr(exc, "response", None) is not None:
        code = exc.response.status_code                 # InvalidStatus (new API)
    return code


REJECTED = tuple(getattr(websockets.exceptions, name)
                 for name in ("InvalidStatusCode", "InvalidStatus")
                 if hasattr(websockets.exceptions, name))


def describe(data):
    kind = "text" if isinstance(data, str) else "binary"
    return f"{kind} {len(data.encode()) if isinstance(data, str) else len(data)} B"


class BrokerCase(unittest.IsolatedAsyncioTestCase):
    """One broker per test class; its clean exit is checked in tearDownClass."""

    broker_args = []
    start = staticmethod(start_broker)

    @classmethod
    def setUpClass(cls):
        cls.broker = cls.start(BROKER, [*BROKER_ARGS, *cls.broker_args])

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def connect(self, path="/echo", **kw):
        opts = dict(open_timeout=OPEN_TIMEOUT_S, close_timeout=10, ping_interval=None,
                    max_size=MAX_MESSAGE, compression=None)
        opts.update(kw)
        return websockets.connect(self.broker.url_for(path), **opts)

    async def recv(self, ws, timeout=MSG_TIMEOUT_S):
        return await asyncio.wait_for(ws.recv(), timeout)

    async def assert_echo(self, ws, data, sent=None):
        """Send data (or the fragments in `sent`), expect data back, same type."""
        await asyncio.wait_for(ws.send(data if sent is None else sent), MSG_TIMEOUT_S)
        got = await self.recv(ws)
        self.assertIs(type(got), type(data),
                      f"sent {describe(data)}, got back {type(got).__name__}")
        if got != data:
            self.fail(f"sent {describe(data)}, got back {describe(got)} "
                      f"with different content (first difference at index "
                      f"{next((i for i, (a, b) in enumerate(zip(got, data)) if a != b), min(len(got), len(data)))})")

    async def assert_closed_with(self, ws, code, reason=""):
        await asyncio.wait_for(ws.close(code, reason), 20)
        self.assertEqual(ws.close_code, code,
                         f"closed with {code}, broker's close frame had {ws.close_code} "
                         "(1006 = no close frame from the broker)")


class TestEcho(BrokerCase):

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

    async def test_sizes_each_on_a_fresh_connection(self):
        # The same boundaries as a connection's first message, when the
        # broker's buffers are still at their initial size.
        for n in SIZES:
            for data in (text_of_size(n), binary_of_size(n)):
                with self.subTest(message=describe(data)):
                    async with self.connect() as ws:
                        await self.assert_echo(ws, data)
                        await self.assert_closed_with(ws, 1000)

    async def test_text_and_binary_interleaved_keep_their_type(self):
        async with self.connect() as ws:
            msgs = [text_of_size(n) if i % 2 else binary_of_size(n)
                    for i, n in enumerate([3, 3, 0, 0, 200, 200, 70000, 70000])]
            for m in msgs:
                await asyncio.wait_for(ws.send(m), MSG_TIMEOUT_S)
            for i, m in enumerate(msgs):
                got = await self.recv(ws)
                self.assertEqual(got, m, f"message #{i} ({describe(m)}) came back as {describe(got)}")

    async def test_fragmented_text_is_echoed_as_one_message(self):
        parts = ["frag", "", "mented ", "é€😀𝄞", " text", ""]
        async with self.connect() as ws:
            await self.assert_echo(ws, "".join(parts), sent=parts)
            await self.assert_echo(ws, "after the fragmented one")

    async def test_fragmented_binary_from_async_iterator(self):
        data = binary_of_size(1024 * 1024 + 3, seed=7)
        cuts = [0, 1, 126, 65536, 65537, 500000, 1024 * 1024, len(data)]

        async def fragments():
            for a, b in zip(cuts, cuts[1:]):
                yield data[a:b]

        async with self.connect() as ws:
            await self.assert_echo(ws, data, sent=fragments())
            await self.assert_echo(ws, b"\x00after")

    async def test_fragmented_message_of_exactly_max_size(self):
        data = binary_of_size(MAX_MESSAGE, seed=16)
        step = 1024 * 1024
        async with self.connect() as ws:
            await self.assert_echo(ws, data,
                                   sent=(data[i:i + step] for i in range(0, len(data), step)))

    async def test_message_over_max_size_is_closed_with_1009(self):
        # One byte over --max-message: the broker closes with 1009 (and the
        # client must get that close frame, not a reset, even though it was
        # still sending when the broker decided).
        async with self.connect() as ws:
            await self.assert_echo(ws, "fine")
            try:
                await asyncio.wait_for(ws.send(binary_of_size(MAX_MESSAGE + 1)), MSG_TIMEOUT_S)
                got = await self.recv(ws)
                self.fail(f"a {MAX_MESSAGE + 1} B message was echoed ({describe(got)})")
            except websockets.ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), 20)
            self.assertEqual(ws.close_code, 1009,
                             f"close code {ws.close_code} (1006 = no close frame from the broker)")

    async def test_ping_gets_pong(self):
        async with self.connect() as ws:
            for payload in (b"ping-1", b"", b"\xff" * 125, None):
                with self.subTest(payload=None if payload is None else len(payload)):
                    waiter = await ws.ping(payload)
                    await asyncio.wait_for(waiter, PING_TIMEOUT_S)
            # Several pings in flight at once, then ordinary traffic still works.
            waiters = [await ws.ping(f"p{i}".encode()) for i in range(5)]
            await asyncio.wait_for(asyncio.gather(*waiters), PING_TIMEOUT_S)
            await self.assert_echo(ws, "still echoing")

    async def test_ping_between_messages(self):
        async with self.connect() as ws:
            await ws.send(binary_of_size(65536))
            waiter = await ws.ping(b"mid")
            await ws.send("second")
            self.assertEqual(await self.recv(ws), binary_of_size(65536))
            self.assertEqual(await self.recv(ws), "second")
            await asyncio.wait_for(waiter, PING_TIMEOUT_S)

    async def test_close_1000_with_reason(self):
        async with self.connect() as ws:
            await self.assert_echo(ws, "hello")
            await self.assert_closed_with(ws, 1000, "client is done, thanks")

    async def test_close_application_code(self):
        async with self.connect() as ws:
            await self.assert_closed_with(ws, 4000, "app-defined")

    async def test_close_without_any_message(self):
        async with self.connect() as ws:
            await self.assert_closed_with(ws, 1000)

    async def test_client_offering_permessage_deflate(self):
        # websockets offers permessage-deflate by default; whether or not the
        # broker accepts it, the echo must be intact.
        async with self.connect(compression="deflate") as ws:
            for n in (0, 126, 65536):
                await self.assert_echo(ws, text_of_size(n))
                await self.assert_echo(ws, binary_of_size(n))

    async def test_concurrent_connections(self):
        async def one_client(k):
            rng = random.Random(1000 + k)
            msgs = []
            for i in range(CONCURRENT_MSGS):
                n = rng.choice([0, 1, 17, 125, 126, 1000, 4096, 70000])
                tag = f"c{k}m{i}:"
                if i % 2:
                    msgs.append((tag + text_of_size(n)))
                else:
                    msgs.append(tag.encode() + binary_of_size(n, seed=k * 1000 + i))
            async with self.connect() as ws:
                async def sender():
                    for m in msgs:
                        await ws.send(m)

                send_task = asyncio.ensure_future(sender())
                try:
                    for i, m in enumerate(msgs):
                        got = await self.recv(ws)
                        if got != m:
                            raise AssertionError(f"connection {k}, message {i}: sent "
                                                 f"{describe(m)}, got {describe(got)} "
                                                 f"starting {got[:12]!r}")
                    await send_task
                finally:
                    send_task.cancel()
                await asyncio.wait_for(ws.close(1000), 20)
                if ws.close_code != 1000:
                    raise AssertionError(f"connection {k}: close code {ws.close_code}")
            return k

        done = await asyncio.wait_for(
            asyncio.gather(*(one_client(k) for k in range(CONCURRENT_CONNS))),
            CONCURRENT_TIMEOUT_S)
        self.assertEqual(sorted(done), list(range(CONCURRENT_CONNS)))


class TestHandshakeRejections(BrokerCase):

    async def test_unknown_path_is_404(self):
        for path in ("/", "/nope", "/echo/extra", "/echoo", "/ECHO"):
            with self.subTest(path=path):
                with self.assertRaises(REJECTED) as cm:
                    ws = await self.connect(path)
                    await ws.close()
                self.assertEqual(http_status(cm.exception), 404)

    def raw_request(self, request, limit=65536):
        """Send a hand-written request; the response head as (status, {header: value})."""
        with self.broker.connect_raw(timeout=10) as s:
            s.sendall(request.encode())
            buf = b""
            while b"\r\n\r\n" not in buf and len(buf) < limit:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        head = buf.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        self.assertTrue(len(parts) >= 2 and parts[0] == "HTTP/1.1",
                        f"not an HTTP/1.1 status line: {lines[0]!r} (response {buf[:200]!r})")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return int(parts[1]), headers

    def upgrade_request(self, path="/echo", version="13"):
        return (f"GET {path} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.broker.port}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: {version}\r\n"
                "\r\n")

    def test_bad_version_is_426_with_version_13(self):
        for version in ("12", "8", "14"):
            with self.subTest(version=version):
                status, headers = self.raw_request(self.upgrade_request(version=version))
                self.assertEqual(status, 426)
                offered = [v.strip() for value in headers.get("sec-websocket-version", [])
                           for v in value.split(",")]
                self.assertIn("13", offered,
                              f"426 must name the supported version; headers {headers}")

    def test_good_raw_handshake_is_101_with_rfc_accept(self):
        status, headers = self.raw_request(self.upgrade_request())
        self.assertEqual(status, 101)
        # The RFC 6455 section 1.3 example key and accept value.
        self.assertEqual(headers.get("sec-websocket-accept"), ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])


class TestShutdown(BrokerCase):
    """SIGTERM with a client connected: close 1001 to the client, then exit 0."""

    @classmethod
    def setUpClass(cls):
        cls.broker = None           # each test starts its own

    @classmethod
    def tearDownClass(cls):
        pass

    async def test_sigterm_sends_1001_and_exits_cleanly(self):
        self.broker = start_broker(BROKER, BROKER_ARGS)
        try:
            async with self.connect() as ws:
                await self.assert_echo(ws, "before shutdown")
                loop = asyncio.get_running_loop()
                stopping = loop.run_in_executor(None, self.broker.stop)
                await asyncio.wait_for(ws.wait_closed(), 30)
                self.assertEqual(ws.close_code, 1001)
                await asyncio.wait_for(stopping, 30)   # raises if exit != 0 / sanitizer
        finally:
            if self.broker.proc is not None:
                self.broker.stop(check=False)


class TestEchoIPv6(BrokerCase):
    start = staticmethod(start_broker_ipv6)

    @classmethod
    def setUpClass(cls):
        if not ipv6_loopback_available():
            raise unittest.SkipTest("this machine has no IPv6 loopback ([::1] cannot be bound)")
        super().setUpClass()

    async def test_echo_over_ipv6(self):
        self.assertTrue(self.broker.url.startswith("ws://[::1]:"), self.broker.url)
        async with self.connect() as ws:
            for n in (0, 1, 126, 65536, 1024 * 1024):
                with self.subTest(size=n):
                    await self.assert_echo(ws, text_of_size(n))
                    await self.assert_echo(ws, binary_of_size(n))
            waiter = await ws.ping(b"v6")
            await asyncio.wait_for(waiter, PING_TIMEOUT_S)
            await self.assert_closed_with(ws, 1000, "bye over v6")

    async def test_unknown_path_is_404_over_ipv6(self):
        with self.assertRaises(REJECTED) as cm:
            ws = await self.connect("/nope")
            await ws.close()
        self.assertEqual(http_status(cm.exception), 404)


def summarize(result):
    """(passed, failed, skipped) counting each test once, subtests folded in."""
    def test_id(t):
        return getattr(t, "test_case", t).id()   # _SubTest -> its parent test

    real = (unittest.TestCase,)
    failed_tests = {test_id(t) for t, _ in result.failures + result.errors
                    if isinstance(getattr(t, "test_case", t), real)}
    failed_other = {t.id() for t, _ in result.failures + result.errors
                    if not isinstance(getattr(t, "test_case", t), real)}  # setUpClass etc.
    failed_tests |= {test_id(t) for t in result.unexpectedSuccesses}
    skipped = {test_id(t) for t, _ in result.skipped} - failed_tests
    skipped_run = {s for s in skipped if not s.startswith(("setUpClass", "setUpModule"))}
    passed = max(0, result.testsRun - len(failed_tests) - len(skipped_run))
    return passed, len(failed_tests) + len(failed_other), len(skipped)


def main():
    global BROKER, BROKER_ARGS
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    ap.add_argument("--broker-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every broker started (repeat; --broker-arg=--workers)")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    BROKER_ARGS = args.broker_arg
    # IsolatedAsyncioTestCase runs the loop in debug mode, which logs every
    # slow callback (hashing 16 MiB counts); keep real errors only.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    print(f"websockets {websockets.__version__}, python {sys.version.split()[0]}, "
          f"broker {BROKER} {' '.join(BROKER_ARGS)}", flush=True)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    passed, failed, skipped = summarize(prog.result)
    if skipped:
        print(f"{skipped} skipped (see reasons above)")
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or not prog.result.wasSuccessful() else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Pub/sub on /v1 (docs/protocol.md), against the real broker with --workers 2.

Two kinds of client drive it: tools/wsbroker_client.py (the Python client
people copy) for fan-out, confirms, acks, resume, replay and snapshot; and
hand-written envelopes (`V1`, websockets + msgpack) or a bare socket
(`StalledSubscriber`) where the test must see exactly what the broker sends,
malformed input and slow consumers included. Every test is bounded in time.

Run with Debian's interpreter (python3-websockets, python3-msgpack):

    /usr/bin/python3 tests/pubsub/test_pubsub.py --broker build/x/broker/wsbroker [--tls] [-k NAME]

--tls runs every test over wss:// instead: each broker gets only a TLS
listener (a dev CA from tools/dev-ca.sh) and every client trusts that CA.

Prints `N passed, N failed` last and exits non-zero on any failure.
"""

import argparse
import asyncio
import logging
import os
import socket
import ssl
import struct
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

from broker import broker_path, dev_ca, start_broker  # noqa: E402
from bounded import bounded  # noqa: E402
from raw_ws import FrameReader, masked_frame  # noqa: E402

try:
    import msgpack
    import websockets
except ImportError:  # pragma: no cover - environment problem, say so plainly
    sys.exit("test_pubsub: needs python3-websockets and python3-msgpack; run with "
             "/usr/bin/python3, not " + sys.executable)

from wsbroker_client import BrokerError, Client, PublishRejected  # noqa: E402

BROKER = None                     # path to wsbroker, set by main()
BROKER_ARGS = []                  # extra arguments for every broker, from --broker-arg
WORKERS = ["--workers", "2"]      # so topics and subscribers live on different workers
TLS = None                        # --tls: the brokers' TlsConfig (TLS listener only)
TLS_CONTEXT = None                # --tls: the clients' ssl.SSLContext

RECV_TIMEOUT_S = 10               # one envelope that should come
QUIET_S = 0.5                     # how long "nothing more arrives" is watched
MAX_ENVELOPE = 1024 * 1024        # protocol.md default limits.max_envelope
RETENTION_DEFAULT = 10000         # protocol.md 4.3 default retained messages
RSS_LIMIT_KIB = 200 * 1024        # broker memory bound under slow consumers




def start(args):
    """A started broker: plain ws://, or with --tls a TLS listener only."""
    return start_broker(BROKER, [*WORKERS, *BROKER_ARGS, *args], tls=TLS)


def tls_kw():
    """websockets.connect / Client.connect keywords for this run's scheme."""
    return {"ssl": TLS_CONTEXT} if TLS_CONTEXT is not None else {}


def pack(env):
    return msgpack.packb(env, use_bin_type=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class V1:
    """A /v1 connection driven by hand: envelopes (or raw bytes) in and out."""

    def __init__(self, ws):
        self.ws = ws
        self.session = None
        self.welcome = None

    @classmethod
    async def open(cls, broker, hello=True, **hello_fields):
        ws = await websockets.connect(broker.url_for("/v1"), subprotocols=["wsbroker.v1"],
                                      compression=None, max_size=None, ping_interval=None,
                                      open_timeout=RECV_TIMEOUT_S, close_timeout=5,
                                      **tls_kw())
        self = cls(ws)
        if hello:
            await self.send({"op": "hello", "v": 1, "name": "test", **hello_fields})
            self.welcome = await self.expect("welcome")
            self.session = self.welcome["session"]
        return self

    async def send(self, env):
        """env: a dict (packed), bytes (sent as is, binary) or str (text)."""
        await self.ws.send(pack(env) if isinstance(env, dict) else env)

    async def recv(self, timeout=RECV_TIMEOUT_S):
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(raw, bytes), f"broker sent a text message: {raw!r}"
        env = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        assert isinstance(env, dict), f"broker sent a non-map: {env!r}"
        return env

    async def expect(self, op, timeout=RECV_TIMEOUT_S, **fields):
        """The next envelope, which must be `op` with these field values."""
        env = await self.recv(timeout)
        assert env.get("op") == op, f"expected {op} {fields or ''}, got {env!r}"
        for k, v in fields.items():
            assert env.get(k) == v, f"{op}.{k}: expected {v!r}, got {env!r}"
        return env

    async def until(self, op, timeout=RECV_TIMEOUT_S):
        """Envelopes up to and including the first `op`: (before, that one)."""
        before, deadline = [], time.monotonic() + timeout
        while True:
            env = await self.recv(max(0.01, deadline - time.monotonic()))
            if env.get("op") == op:
                return before, env
            before.append(env)

    async def sync(self, pid=999999):
        """Ping and collect everything before the pong (ordering barrier)."""
        await self.send({"op": "ping", "id": pid})
        before, _ = await self.until("pong")
        return before

    async def quiet(self, seconds=QUIET_S):
        """Everything that arrives within `seconds` (expected: nothing)."""
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got.append(await self.recv(max(0.01, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                break
        return got

    async def close(self):
        await self.ws.close()


UPGRADE = ("GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsbroker.v1\r\n\r\n").encode()


class StalledSubscriber(FrameReader):
    """A bare-socket subscriber with a tiny receive buffer that stops reading.

    Blocking calls; run them in an executor. read() resumes reading later.
    """

    def __init__(self, broker, topic, policy, rcvbuf=4096):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)   # before connect
        s.settimeout(RECV_TIMEOUT_S)
        s.connect((broker.host, broker.port))
        if TLS_CONTEXT is not None:
            # Blocking TLS socket: fine here, one thread reads and writes.
            s = TLS_CONTEXT.wrap_socket(s, server_hostname=broker.host)
        self.sock, self.buf = s, b""
        s.sendall(UPGRADE)
        while b"\r\n\r\n" not in self.buf:
            data = s.recv(4096)
            if not data:
                raise EOFError("broker closed during the upgrade")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"upgrade refused: {head[:80]!r}")
        self.send({"op": "hello", "v": 1, "name": f"stalled-{policy}"})
        assert self.next_envelope()[1]["op"] == "welcome"
        self.send({"op": "sub", "id": 1, "topic": topic, "policy": policy})
        self.subscribed = self.next_envelope()[1]

    def send(self, env):
        self.sock.sendall(masked_frame(0x2, pack(env)))

    def next_envelope(self):
        """('env', dict) or ('close', (code, reason)); answers pings."""
        while True:
            op, payload = self.read_frame()
            if op == 0x2:
                return "env", msgpack.unpackb(payload, raw=False, strict_map_key=False)
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return "close", (code, payload[2:].decode("utf-8", "replace"))
            if op == 0x9:
                self.sock.sendall(masked_frame(0xA, payload))

    def read_all(self, timeout=30.0, quiet=1.5):
        """Read until close, EOF, or `quiet` seconds of silence: (envs, close)."""
        envs, close = [], None
        deadline = time.monotonic() + timeout
        self.sock.settimeout(quiet)
        try:
            while time.monotonic() < deadline:
                kind, what = self.next_envelope()
                if kind == "close":
                    close = what
                    break
                envs.append(what)
        except (socket.timeout, EOFError, ConnectionResetError):
            pass
        return envs, close

    def close(self):
        self.sock.close()


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


class BrokerCase(unittest.IsolatedAsyncioTestCase):
    """One broker per test class (--workers 2); clean exit checked at the end."""

    broker_args = []

    @classmethod
    def setUpClass(cls):
        cls.broker = start(cls.broker_args)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    async def asyncSetUp(self):
        self._closers = []

    async def asyncTearDown(self):
        for close in reversed(self._closers):
            try:
                await asyncio.wait_for(close(), 10)
            except Exception:
                pass

    async def client(self, name="test", **kw):
        kw.setdefault("max_retries", 5)           # a dead broker fails fast
        kw.update(tls_kw())
        c = await Client.connect(self.broker.url_for("/v1"), name=name, **kw)
        self._closers.append(c.close)
        return c

    async def raw(self, **kw):
        v = await V1.open(self.broker, **kw)
        self._closers.append(v.close)
        return v

    def topic(self, stem):
        """A topic no other test uses."""
        BrokerCase._n = getattr(BrokerCase, "_n", 0) + 1
        return f"{stem}.{self.id().rsplit('.', 1)[-1].replace('_', '-')}.{BrokerCase._n}"


class TestFanOut(BrokerCase):
    """100,000 messages, 10 topics, 50 subscribers, 4 publisher connections."""

    TOPICS = 10
    # Python subscribers on a loaded 2-core machine can fall behind the
    # publishers: a slow-consumer limit far above the whole stream, so this
    # test checks delivery and order, not the drop policy.
    broker_args = ["--slow-consumer-bytes", str(256 << 20)]
    MESSAGES = 100_000
    PUBLISHERS = 4
    CONFIRM_EVERY = 100

    @bounded(120)
    async def test_every_subscriber_gets_every_message_in_order(self):
        stem = self.topic("load")
        topics = [f"{stem}.t{i}.x" for i in range(self.TOPICS)]
        # Per topic: 4 exact subscribers and one through a wildcard pattern,
        # each on its own connection.
        subs = []
        for i, t in enumerate(topics):
            for k in range(5):
                pattern = t if k < 4 else f"{stem}.t{i}.*"
                c = await self.client(f"sub-{i}-{k}")
                got = []
                s = await c.subscribe(pattern, got.append)
                subs.append((t, pattern, s, got))
        per_topic = self.MESSAGES // self.TOPICS
        per_pub = self.MESSAGES // self.PUBLISHERS

        async def publisher(p):
            c = await self.client(f"pub-{p}")
            for k in range(per_pub):
                confirm = (k + 1) % self.CONFIRM_EVERY == 0
                await c.publish(topics[k % self.TOPICS], [p, k], confirm=confirm)
            await c.ping()

        t0 = time.monotonic()
        await asyncio.gather(*(publisher(p) for p in range(self.PUBLISHERS)))
        t_pub = time.monotonic() - t0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(len(g) < per_topic for *_, g in subs):
            await asyncio.sleep(0.1)
        t_all = time.monotonic() - t0
        print(f"\n  fan-out: published {self.MESSAGES} in {t_pub:.1f} s, "
              f"all {len(subs)} subscribers complete after {t_all:.1f} s", file=sys.stderr)
        for t, pattern, s, got in subs:
            with self.subTest(subscriber=pattern):
                self.assertEqual(len(got), per_topic, f"{pattern}: {len(got)} of {per_topic}")
                self.assertTrue(all(m.topic == t for m in got))
                # The broker's seq, not the client's dedup: strictly consecutive
                # from the subscribed head + 1.
                head = s.heads[t]
                seqs = [m.seq for m in got]
                self.assertEqual(seqs, list(range(head + 1, head + 1 + per_topic)))
                # Each publisher's messages in the order it sent them.
                last = {}
                for m in got:
                    p, k = m.data
                    self.assertGreater(k, last.get(p, -1), f"publisher {p} reordered")
                    last[p] = k


class TestPublish(BrokerCase):

    @bounded(30)
    async def test_confirm_returns_seq_from_1_without_holes(self):
        t = self.topic("seq")
        a, b = await self.client("a"), await self.client("b")
        seqs = [await a.publish(t, i, confirm=True) for i in range(1, 21)]
        self.assertEqual(seqs, list(range(1, 21)))
        # Two publishers at once: together still 21..120, each seq once.
        both = await asyncio.gather(*(c.publish(t, i, confirm=True)
                                      for i in range(50) for c in (a, b)))
        self.assertEqual(sorted(both), list(range(21, 121)))
        msgs = await a.replay(t, 1)
        self.assertEqual([m.seq for m in msgs], list(range(1, 121)))

    @bounded(30)
    async def test_same_session_and_id_is_sequenced_once(self):
        t = self.topic("dedup")
        watcher = await self.raw()
        await watcher.send({"op": "sub", "id": 1, "topic": t})
        await watcher.expect("subscribed", head=0)
        pub = await self.raw()
        env = {"op": "pub", "topic": t, "data": "once", "id": 7, "confirm": True}
        await pub.send(env)
        await pub.expect("confirm", id=7, seq=1, topic=t)
        await pub.send(env)                                   # the same envelope again
        await pub.expect("confirm", id=7, seq=1, topic=t)
        # A new connection resuming the session: still the same (session, id).
        session = pub.session
        await pub.close()
        again = await self.raw(session=session)
        self.assertEqual(again.session, session, "welcome must echo the resumed session")
        await again.send(env)
        await again.expect("confirm", id=7, seq=1, topic=t)
        await again.send({**env, "id": 8, "data": "twice"})
        await again.expect("confirm", id=8, seq=2)
        # Another session with the same id is a different publish.
        other = await self.raw()
        await other.send(env)
        await other.expect("confirm", id=7, seq=3)
        # Pipelined: the retry sent before the first is confirmed.
        await other.send({**env, "id": 9, "data": "piped"})
        await other.send({**env, "id": 9, "data": "piped"})
        await other.expect("confirm", id=9, seq=4)
        await other.expect("confirm", id=9, seq=4)
        # The same id on another topic is another publish (4.4: session, id and topic).
        t2 = self.topic("dedup2")
        await other.send({**env, "topic": t2})
        await other.expect("confirm", id=7, seq=1, topic=t2)
        got = [e for e in await watcher.sync() if e["op"] == "msg"]
        got += [e for e in await watcher.quiet() if e["op"] == "msg"]
        self.assertEqual([(e["seq"], e["data"]) for e in got],
                         [(1, "once"), (2, "twice"), (3, "once"), (4, "piped")])

    @bounded(60)
    async def test_client_resends_unconfirmed_after_a_drop(self):
        # Confirms in flight when the connection drops are sent again with
        # the same ids after the reconnect; each is sequenced exactly once.
        t = self.topic("resend")
        c = await self.client("resender")
        n = 1000
        pubs = [asyncio.ensure_future(c.publish(t, i, confirm=True)) for i in range(n)]
        for _ in range(1000):                     # drop once some are confirmed
            if sum(p.done() for p in pubs) >= 50:
                break
            await asyncio.sleep(0.005)
        c.drop_connection()
        # These go into the dying connection or wait for the new one.
        pubs += [asyncio.ensure_future(c.publish(t, i, confirm=True)) for i in range(n, 2 * n)]
        n *= 2
        seqs = await asyncio.gather(*pubs)
        self.assertEqual(c.reconnects, 1)
        self.assertEqual(sorted(seqs), list(range(1, n + 1)))
        msgs = await c.replay(t, 1)
        self.assertEqual(sorted(m.data for m in msgs), list(range(n)))

    @bounded(20)
    async def test_rejects_raise(self):
        c = await self.client()
        for bad in ("a..b", "md.*", "md.>", ""):
            with self.subTest(topic=bad):
                with self.assertRaises(PublishRejected) as cm:
                    await c.publish(bad, 1, confirm=True)
                self.assertEqual(cm.exception.code, 7)
        self.assertGreater(await c.publish(self.topic("ok"), 1, confirm=True), 0)

    @bounded(20)
    async def test_confirmed_publish_failure_is_reject(self):
        # protocol.md 2.1: with confirm, the broker answers confirm or reject.
        v = await self.raw()
        for i, bad in enumerate(("a..b", "md.*")):
            with self.subTest(topic=bad):
                await v.send({"op": "pub", "topic": bad, "data": 1, "id": 40 + i,
                              "confirm": True})
                env = await v.recv()
                self.assertEqual({k: env.get(k) for k in ("op", "id", "code")},
                                 {"op": "reject", "id": 40 + i, "code": 7}, env)
                self.assertIsInstance(env.get("reason"), str)

    @bounded(20)
    async def test_error_names_the_request(self):
        v = await self.raw()
        await v.send({"op": "replay", "topic": "x.y", "from": 0, "id": 77})
        env = await v.expect("error", code=12, ref=77)
        self.assertEqual(env.get("ref_op"), "replay", env)


class TestManualAck(BrokerCase):

    @bounded(40)
    async def test_unacked_is_redelivered_with_backoff_until_acked(self):
        t = self.topic("ack")
        sub_c, pub_c = await self.client("acker"), await self.client("pub")
        sub = await sub_c.subscribe(t, ack="manual")
        await pub_c.publish(t, "m1", confirm=True)
        first = await sub.get(RECV_TIMEOUT_S)
        times = [time.monotonic()]
        self.assertEqual((first.seq, first.redelivered), (1, False))
        for _ in range(3):
            m = await sub.get(20)
            times.append(time.monotonic())
            self.assertEqual((m.seq, m.redelivered, m.data), (1, True, "m1"))
        gaps = [b - a for a, b in zip(times, times[1:])]
        print(f"\n  redelivery intervals: {', '.join(f'{g:.2f}' for g in gaps)} s",
              file=sys.stderr)
        self.assertGreater(gaps[0], 0.5, "first retransmission before the ack timeout")
        self.assertGreater(gaps[1], gaps[0] * 1.5, f"no backoff: {gaps}")
        self.assertGreater(gaps[2], gaps[1] * 1.5, f"no backoff: {gaps}")
        await sub_c.ack(t, 1)
        await pub_c.publish(t, "m2", confirm=True)
        m2 = await sub.get(RECV_TIMEOUT_S)
        self.assertEqual((m2.seq, m2.redelivered), (2, False))
        m2re = await sub.get(5)
        self.assertEqual((m2re.seq, m2re.redelivered), (2, True))
        await sub_c.ack(t, 2)
        # m1 would come back 8 s after the last one, m2 2 s after its first.
        with self.assertRaises(asyncio.TimeoutError):
            extra = await sub.get(3.5)
            self.fail(f"redelivered after ack: {extra}")

    @bounded(30)
    async def test_acks_are_per_topic_under_a_pattern(self):
        stem = self.topic("packs")
        sub_c, pub_c = await self.client("acker"), await self.client("pub")
        for leaf in ("a", "b"):
            await pub_c.publish(f"{stem}.{leaf}", "create", confirm=True)
        sub = await sub_c.subscribe(f"{stem}.*", ack="manual")
        for leaf in ("a", "b"):
            await pub_c.publish(f"{stem}.{leaf}", leaf, confirm=True)
        got = sorted((m.topic, m.seq) for m in [await sub.get(RECV_TIMEOUT_S) for _ in range(2)])
        self.assertEqual(got, [(f"{stem}.a", 2), (f"{stem}.b", 2)])
        await sub_c.ack(f"{stem}.a", 2)                 # only a
        re = await sub.get(5)
        self.assertEqual((re.topic, re.seq, re.redelivered), (f"{stem}.b", 2, True))
        await sub_c.ack(f"{stem}.b", 2)
        with self.assertRaises(asyncio.TimeoutError):
            extra = await sub.get(2.5)
            self.fail(f"redelivered after ack: {extra}")

    @bounded(30)
    async def test_window_limits_unacked(self):
        t = self.topic("window")
        sub_c, pub_c = await self.client("acker"), await self.client("pub")
        sub = await sub_c.subscribe(t, ack="manual", window=3)
        for i in range(1, 11):
            await pub_c.publish(t, i, confirm=True)
        got = [await sub.get(RECV_TIMEOUT_S) for _ in range(3)]
        self.assertEqual([m.seq for m in got], [1, 2, 3])
        await asyncio.sleep(0.3)
        early = sub.drain()
        self.assertEqual([m.seq for m in early if not m.redelivered], [],
                         "more than `window` unacked messages delivered")
        await sub_c.ack(t, 3)
        more = []
        while len(more) < 3:
            m = await sub.get(RECV_TIMEOUT_S)
            if not m.redelivered:
                more.append(m.seq)
        self.assertEqual(more, [4, 5, 6])


class TestResume(BrokerCase):

    @bounded(60)
    async def test_resume_mid_stream_no_gap_no_duplicate(self):
        t = self.topic("resume")
        pub_c = await self.client("pub")
        sub = await self.raw()
        await sub.send({"op": "sub", "id": 1, "topic": t})
        await sub.expect("subscribed", head=0)
        n = 2000

        async def publish_all():
            for i in range(1, n + 1):
                await pub_c.publish(t, i, confirm=(i % 100 == 0))

        pushing = asyncio.ensure_future(publish_all())
        last = 0
        while last < 500:
            env = await sub.expect("msg")
            self.assertEqual(env["seq"], last + 1)
            last = env["seq"]
        sub.ws.transport.abort()                              # mid-stream drop
        await asyncio.sleep(0.2)
        back = await self.raw(session=sub.session)
        await back.send({"op": "sub", "id": 2, "topic": t, "from": last})
        env = await back.expect("subscribed", id=2, topic=t, match=t)
        self.assertGreaterEqual(env["head"], last)
        await pushing
        while last < n:
            env = await back.recv()
            self.assertEqual(env["op"], "msg", f"after seq {last}: {env}")
            self.assertEqual((env["seq"], env["data"]), (last + 1, last + 1))
            last = env["seq"]
        self.assertEqual(await back.quiet(), [])

    @bounded(60)
    async def test_client_reconnects_and_resumes(self):
        t = self.topic("cresume")
        pattern = t.rsplit(".", 1)[0] + ".*"
        pub_c = await self.client("pub")
        gaps = []
        sub_c = await self.client("sub", on_gap=lambda *g: gaps.append(g))
        exact = await sub_c.subscribe(t)
        wild = await sub_c.subscribe(pattern)
        n = 3000

        async def publish_all():
            for i in range(1, n + 1):
                await pub_c.publish(t, i, confirm=(i % 50 == 0))

        pushing = asyncio.ensure_future(publish_all())
        got_exact, got_wild = [], []
        while len(got_exact) < 1000:
            got_exact.append(await exact.get(RECV_TIMEOUT_S))
        sub_c.drop_connection()
        await pushing
        while len(got_exact) < n:
            got_exact.append(await exact.get(RECV_TIMEOUT_S))
        while len(got_wild) < n:
            got_wild.append(await wild.get(RECV_TIMEOUT_S))
        self.assertEqual(sub_c.reconnects, 1)
        self.assertEqual([m.seq for m in got_exact], list(range(1, n + 1)))
        self.assertEqual([m.seq for m in got_wild], list(range(1, n + 1)))
        self.assertEqual(gaps, [])

    @bounded(120)
    async def test_resume_older_than_retention_gets_gap_first(self):
        t = self.topic("retention")
        pub_c = await self.client("pub")
        n = RETENTION_DEFAULT + 200
        for i in range(1, n + 1):
            await pub_c.publish(t, i, confirm=(i % 200 == 0 or i == n))
        sub = await self.raw()
        await sub.send({"op": "sub", "id": 1, "topic": t, "from": 5})
        env = await sub.expect("subscribed", head=n)
        oldest = env["oldest"]
        self.assertGreater(oldest, 6, f"retention kept everything: {env}")
        self.assertLessEqual(n - oldest + 1, RETENTION_DEFAULT)
        await sub.expect("gap", topic=t, **{"from": 6, "to": oldest - 1})
        first = await sub.expect("msg")
        self.assertEqual((first["seq"], first["data"]), (oldest, oldest))
        for seq in range(oldest + 1, n + 1):
            env = await sub.expect("msg")
            self.assertEqual(env["seq"], seq)
        self.assertEqual(await sub.quiet(), [])

    @bounded(20)
    async def test_from_past_head_starts_with_next(self):
        t = self.topic("pasthead")
        pub_c = await self.client("pub")
        for i in range(3):
            await pub_c.publish(t, i, confirm=True)
        sub = await self.raw()
        await sub.send({"op": "sub", "id": 1, "topic": t, "from": 100})
        await sub.expect("subscribed", head=3)
        self.assertEqual(await sub.sync(), [])
        await pub_c.publish(t, "next", confirm=True)
        await sub.expect("msg", seq=4, data="next")


class TestSeams(BrokerCase):
    """Subscribing while a topic is being published to: no loss, no duplicate."""

    @bounded(60)
    async def test_join_mid_stream_live_and_from(self):
        t = self.topic("seam")
        pub_c = await self.client("pub")
        n = 3000
        published = 0

        async def publish_all():
            nonlocal published
            for i in range(1, n + 1):
                await pub_c.publish(t, i, confirm=(i % 20 == 0))
                published = i

        pushing = asyncio.ensure_future(publish_all())
        joined = []
        for k in range(12):
            await asyncio.sleep(0.05)
            v = await self.raw()
            sub = {"op": "sub", "id": 1, "topic": t}
            if k % 2:
                sub["from"] = max(0, published - 100)      # history then live
            await v.send(sub)
            joined.append((v, sub.get("from"), await v.expect("subscribed")))
        await pushing
        for v, frm, subscribed in joined:
            with self.subTest(start=frm, head=subscribed["head"]):
                first = (frm if frm is not None else subscribed["head"]) + 1
                seqs = []
                while (seqs[-1] if seqs else first - 1) < n:
                    env = await v.expect("msg")
                    seqs.append(env["seq"])
                    self.assertEqual(env["data"], env["seq"])
                self.assertEqual(seqs, list(range(first, n + 1)))
                self.assertEqual(await v.quiet(0.2), [])

    @bounded(20)
    async def test_unsub_then_sub_again(self):
        t = self.topic("resub")
        c = await self.client("pub")
        v = await self.raw()
        for round_ in range(3):
            await v.send({"op": "sub", "id": 1, "topic": t})
            await v.expect("subscribed", head=round_)
            await c.publish(t, round_, confirm=True)
            await v.expect("msg", seq=round_ + 1)
            await v.send({"op": "unsub", "id": 2, "topic": t})
            self.assertEqual(await v.sync(), [])


class TestRetention(BrokerCase):
    """--retention rules: `small.>` keeps 100 messages, everything else the default."""

    broker_args = ["--retention", "small.> messages=100",
                   "--retention", "> messages=10000 bytes=67108864"]

    @bounded(30)
    async def test_resume_past_retention_gap_then_rest(self):
        t = self.topic("small")
        pub_c = await self.client("pub")
        for i in range(1, 251):
            await pub_c.publish(t, i, confirm=(i % 50 == 0))
        sub = await self.raw()
        await sub.send({"op": "sub", "id": 1, "topic": t, "from": 10})
        await sub.expect("subscribed", head=250, oldest=151)
        await sub.expect("gap", topic=t, **{"from": 11, "to": 150})
        for seq in range(151, 251):
            await sub.expect("msg", seq=seq, data=seq)
        # The client hands the gap to on_gap before the messages.
        events = []
        c = await self.client("gapped", on_gap=lambda *g: events.append(("gap", *g)))
        s = await c.subscribe(t, lambda m: events.append(m.seq), from_seq=100)
        await pub_c.publish(t, 251, confirm=True)
        for _ in range(100):
            if events and events[-1] == 251:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(events, [("gap", t, 101, 150)] + list(range(151, 252)))
        self.assertEqual(c.gaps, [(t, 101, 150)])
        self.assertEqual((s.head, s.oldest), (250, 151))
        # Replay of what is no longer retained: only the retained part.
        got = await c.replay(t, 140, 160)
        self.assertEqual([m.seq for m in got], list(range(152, 161)))   # 251 pushed 151 out

    @bounded(30)
    async def test_other_topics_keep_the_default(self):
        t = self.topic("big")
        c = await self.client()
        for i in range(1, 301):
            await c.publish(t, i, confirm=(i == 300))
        self.assertEqual(len(await c.replay(t, 1)), 300)


class TestReplayAndSnapshot(BrokerCase):

    @bounded(30)
    async def test_replay_range(self):
        t = self.topic("replay")
        c = await self.client()
        for i in range(1, 51):
            await c.publish(t, {"i": i}, confirm=(i == 50))
        got = await c.replay(t, 10, 20)
        self.assertEqual([(m.seq, m.data) for m in got], [(s, {"i": s}) for s in range(10, 21)])
        self.assertEqual([m.seq for m in await c.replay(t, 45)], list(range(45, 51)))
        raw = await self.raw()
        await raw.send({"op": "replay", "topic": t, "from": 49, "to": 50, "id": 4})
        msgs, done = await raw.until("replayed")
        self.assertEqual([e["seq"] for e in msgs], [49, 50])
        self.assertEqual({k: done.get(k) for k in ("id", "topic", "from", "to", "count")},
                         {"id": 4, "topic": t, "from": 49, "to": 50, "count": 2})
        for bad in ({"from": 0}, {"from": 5, "to": 4}):
            with self.subTest(range=bad):
                await raw.send({"op": "replay", "topic": t, "id": 5, **bad})
                await raw.expect("error", code=12, ref=5)

    @bounded(30)
    async def test_snapshot_delivers_latest_of_each_topic_first(self):
        stem = self.topic("snap")
        c = await self.client()
        for topic, n in ((f"{stem}.a", 3), (f"{stem}.b", 2), (f"{stem}.c", 1)):
            for i in range(1, n + 1):
                await c.publish(topic, f"{topic}#{i}", confirm=True)
        sub = await self.raw()
        await sub.send({"op": "sub", "id": 1, "topic": f"{stem}.*", "snapshot": True})
        envs = await sub.sync()
        heads = {e["match"]: e["head"] for e in envs if e["op"] == "subscribed" and e.get("match")}
        msgs = [e for e in envs if e["op"] == "msg"]
        # Cross-worker topics may announce after the pong: collect briefly.
        if len(msgs) < 3:
            more = await sub.quiet(1.0)
            heads.update({e["match"]: e["head"] for e in more
                          if e["op"] == "subscribed" and e.get("match")})
            msgs += [e for e in more if e["op"] == "msg"]
        self.assertEqual(heads, {f"{stem}.a": 3, f"{stem}.b": 2, f"{stem}.c": 1})
        self.assertEqual(sorted((e["topic"], e["seq"], e["data"]) for e in msgs),
                         [(f"{stem}.a", 3, f"{stem}.a#3"), (f"{stem}.b", 2, f"{stem}.b#2"),
                          (f"{stem}.c", 1, f"{stem}.c#1")])
        await c.publish(f"{stem}.a", "live", confirm=True)
        await sub.expect("msg", topic=f"{stem}.a", seq=4, data="live")
        # Through the client: snapshot then live.
        sc = await self.client("snap-client")
        s = await sc.subscribe(f"{stem}.b", snapshot=True)
        self.assertEqual((await s.get(RECV_TIMEOUT_S)).seq, 2)
        await c.publish(f"{stem}.b", "live", confirm=True)
        self.assertEqual((await s.get(RECV_TIMEOUT_S)).data, "live")


class TestSlowConsumers(BrokerCase):
    """A subscriber that stops reading while 50 MiB are published to it."""

    PAYLOAD = 4096
    COUNT = 12800                 # 50 MiB, far past slow-consumer-bytes (1 MiB)
    # The stalled reader starts reading only once all is published (about
    # 1 s, over 2 s on a loaded CI machine): under the disconnect policy the
    # close frame waits behind the queue until then, and the default 2 s
    # close-timeout would drop the connection first.
    broker_args = ["--close-timeout", "30000"]

    # A broker per test, so each RSS reading holds one topic's retention only.
    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.broker = start(self.broker_args)

    async def asyncTearDown(self):
        await super().asyncTearDown()
        self.broker.stop()

    async def push_while_stalled(self, policy):
        t = self.topic(f"slow-{policy}")
        loop = asyncio.get_running_loop()
        stalled = await loop.run_in_executor(
            None, StalledSubscriber, self.broker, t, policy)
        self._closers.append(lambda: loop.run_in_executor(None, stalled.close))
        self.assertEqual(stalled.subscribed.get("op"), "subscribed", stalled.subscribed)
        pub = await self.client(f"pub-{policy}")
        peak = rss_kib(self.broker.proc.pid)
        body = b"x" * (self.PAYLOAD - 16)
        t0 = time.monotonic()
        for i in range(1, self.COUNT + 1):
            await pub.publish(t, [i, body], confirm=(i % 100 == 0 or i == self.COUNT))
            if i % 1000 == 0:
                peak = max(peak, rss_kib(self.broker.proc.pid))
        peak = max(peak, rss_kib(self.broker.proc.pid))
        print(f"\n  {policy}: pushed {self.COUNT * self.PAYLOAD >> 20} MiB in "
              f"{time.monotonic() - t0:.1f} s, broker peak RSS {peak >> 10} MiB",
              file=sys.stderr)
        self.assertLess(peak, RSS_LIMIT_KIB, f"broker RSS {peak} KiB with a stalled reader")
        envs, close = await loop.run_in_executor(None, stalled.read_all)
        return t, envs, close

    @bounded(180)
    async def test_disconnect_policy_closes_1008(self):
        t, envs, close = await self.push_while_stalled("disconnect")
        self.assertIsNotNone(close, f"no close frame after {len(envs)} envelopes "
                             "(connection just dropped, or kept open)")
        self.assertEqual(close, (1008, "slow consumer"))
        self.assertLess(len(envs), self.COUNT)

    @bounded(180)
    async def test_drop_policy_reports_gap(self):
        t, envs, close = await self.push_while_stalled("drop")
        self.assertIsNone(close, f"closed {close} under the drop policy")
        seqs = [e["seq"] for e in envs if e["op"] == "msg"]
        gaps = [(e["from"], e["to"]) for e in envs if e["op"] == "gap"]
        self.assertTrue(gaps, f"no gap notice; {len(seqs)} messages arrived")
        self.assertEqual(seqs, sorted(seqs))
        covered = sorted(seqs + [s for a, b in gaps for s in range(a, b + 1)])
        self.assertEqual(covered, list(range(1, self.COUNT + 1)),
                         "delivered seqs plus gap ranges must be every seq exactly once")

    @bounded(180)
    async def test_conflate_policy_jumps_to_latest(self):
        t, envs, close = await self.push_while_stalled("conflate")
        self.assertIsNone(close, f"closed {close} under the conflate policy")
        msgs = [e for e in envs if e["op"] == "msg"]
        self.assertEqual([e for e in envs if e["op"] == "gap"], [], "conflate sends no gap")
        seqs = [e["seq"] for e in msgs]
        self.assertEqual(seqs, sorted(set(seqs)), "seqs must increase")
        self.assertLess(len(seqs), self.COUNT, "nothing was conflated")
        self.assertEqual(seqs[-1], self.COUNT, "the latest value must arrive")
        self.assertEqual(msgs[-1]["data"][0], self.COUNT)


class TestMalformed(BrokerCase):

    def cases(self):
        good_map = pack({"op": "ping", "id": 1})
        return [
            # (name, what is sent, expected code, expected ref or None)
            ("text message", "{\"op\":\"ping\"}", 2, None),
            ("not msgpack", b"\xc1\xc1\xc1", 1, None),
            ("msgpack non-map", pack([1, 2, 3]), 1, None),
            ("truncated map", good_map[:-1], 1, None),
            ("bytes after the map", good_map + b"\x01", 1, None),
            ("unknown op", pack({"op": "frobnicate", "id": 21}), 3, 21),
            ("op missing", pack({"id": 22}), 3, 22),
            ("missing field", pack({"op": "pub", "data": 1, "id": 23}), 4, 23),
            ("wrong type", pack({"op": "sub", "topic": "a.b", "window": "x", "id": 24}), 5, 24),
            ("wrong type of topic", pack({"op": "unsub", "topic": 5, "id": 25}), 5, 25),
            ("oversize envelope", pack({"op": "pub", "topic": "big", "id": 26,
                                        "data": b"x" * (MAX_ENVELOPE + 1)}), 6, None),
            ("bad topic", pack({"op": "pub", "topic": "a..b", "data": 1, "id": 27}), 7, 27),
            ("pattern in pub", pack({"op": "pub", "topic": "md.*", "data": 1, "id": 28}), 7, 28),
            ("pattern in replay", pack({"op": "replay", "topic": "md.>", "from": 1,
                                        "id": 29}), 7, 29),
            ("replay from 0", pack({"op": "replay", "topic": "md.x", "from": 0, "id": 30}),
             12, 30),
        ]

    @bounded(60)
    async def test_each_gets_its_error_and_the_broker_keeps_serving(self):
        other = await self.client("bystander")
        t = self.topic("bystander")
        for name, sent, code, ref in self.cases():
            with self.subTest(case=name):
                v = await self.raw()
                await v.send(sent)
                # A pub with an id is answered by reject (protocol.md 4.4), others by error.
                try:
                    req = msgpack.unpackb(sent) if isinstance(sent, bytes) else sent
                except Exception:  # noqa: BLE001 - malformed on purpose
                    req = None
                # (An oversize envelope is refused unread: error.)
                is_pub_with_id = (isinstance(req, dict) and req.get("op") == "pub" and "id" in req
                                  and code != 6)
                env = await v.expect("reject" if is_pub_with_id else "error", code=code)
                self.assertIsInstance(env.get("reason" if is_pub_with_id else "text"), str)
                if ref is not None:
                    self.assertEqual(env.get("id" if is_pub_with_id else "ref"), ref, env)
                await v.send({"op": "ping", "id": 99})                # still served
                await v.expect("pong", id=99)
                await v.close()
                self.assertGreater(await other.publish(t, name, confirm=True), 0)

    @bounded(60)
    async def test_too_many_errors_closes_1008(self):
        v = await self.raw()
        errors = 0
        for i in range(40):
            try:
                await v.send(pack({"op": "frobnicate", "id": i}))
                env = await v.recv()
            except websockets.ConnectionClosed:
                break
            self.assertEqual((env.get("op"), env.get("code")), ("error", 3), env)
            errors += 1
        await asyncio.wait_for(v.ws.wait_closed(), RECV_TIMEOUT_S)
        self.assertEqual((v.ws.close_code, v.ws.close_reason),
                         (1008, "too many protocol errors"))
        self.assertIn(errors, (16, 17), f"closed after {errors} error envelopes")
        # Errors on one connection do not count against another.
        w = await self.raw()
        for i in range(10):
            await w.send(pack({"op": "frobnicate", "id": i}))
            await w.expect("error", code=3)
        await w.send({"op": "ping", "id": 1})
        await w.expect("pong", id=1)


class TestSubscriptions(BrokerCase):

    @bounded(20)
    async def test_subscribed_carries_head_and_oldest(self):
        t = self.topic("heads")
        c = await self.client()
        v = await self.raw()
        await v.send({"op": "sub", "id": 1, "topic": t})
        await v.expect("subscribed", id=1, topic=t, match=t, head=0, oldest=1)
        for i in range(5):
            await c.publish(t, i, confirm=True)
        w = await self.raw()
        await w.send({"op": "sub", "id": 2, "topic": t})
        await w.expect("subscribed", id=2, topic=t, match=t, head=5, oldest=1)
        # A pattern: one subscribed per matching topic, `topic` as subscribed,
        # then one without match/head/oldest once every worker has it.
        pattern = t.rsplit(".", 1)[0] + ".*"
        await w.send({"op": "sub", "id": 3, "topic": pattern})
        await w.expect("subscribed", id=3, topic=pattern, match=t, head=5, oldest=1)
        done = await w.expect("subscribed", id=3, topic=pattern)
        self.assertEqual([k for k in ("match", "head", "oldest") if k in done], [],
                         f"the confirming subscribed must carry no match/head/oldest: {done}")
        # And one when a new matching topic appears, before its first msg.
        new = t.rsplit(".", 1)[0] + ".later"
        await c.publish(new, "first", confirm=True)
        envs = await w.sync()
        envs += await w.quiet()
        self.assertEqual([e["op"] for e in envs], ["subscribed", "msg"], envs)
        self.assertEqual({k: envs[0].get(k) for k in ("id", "topic", "match", "head")},
                         {"id": 3, "topic": pattern, "match": new, "head": 0})
        self.assertEqual((envs[1]["topic"], envs[1]["seq"]), (new, 1))

    @bounded(20)
    async def test_unsub_stops_delivery(self):
        t = self.topic("unsub")
        c = await self.client("pub")
        v = await self.raw()
        await v.send({"op": "sub", "id": 1, "topic": t})
        await v.expect("subscribed")
        await c.publish(t, 1, confirm=True)
        await v.expect("msg", seq=1)
        await v.send({"op": "unsub", "id": 2, "topic": t})
        self.assertEqual(await v.sync(), [])
        await c.publish(t, 2, confirm=True)
        self.assertEqual(await v.quiet(), [])
        # Through the client, too.
        sc = await self.client("sub")
        s = await sc.subscribe(t)
        await sc.unsubscribe(t)
        await c.publish(t, 3, confirm=True)
        await sc.ping()
        self.assertEqual([m async for m in s], [])       # ended, nothing delivered
        with self.assertRaises(EOFError):
            await s.get(QUIET_S)

    @bounded(20)
    async def test_request_errors(self):
        v = await self.raw()
        t = self.topic("errs")
        await v.send({"op": "unsub", "id": 1, "topic": t})
        await v.expect("error", code=8, ref=1)
        await v.send({"op": "sub", "id": 2, "topic": t})
        await v.expect("subscribed", id=2)
        await v.send({"op": "sub", "id": 3, "topic": t})
        await v.expect("error", code=13, ref=3)
        await v.send({"op": "hello", "v": 1})
        await v.expect("error", code=14)
        # Before hello.
        w = await self.raw(hello=False)
        await w.send({"op": "sub", "id": 4, "topic": t})
        await w.expect("error", code=10, ref=4)
        await w.send({"op": "hello", "v": 1})
        await w.expect("welcome", v=1)
        bad = await self.raw(hello=False)
        await bad.send({"op": "hello", "v": 2})
        await bad.expect("error", code=11)
        # Through the client: errors surface as exceptions of the request.
        c = await self.client()
        with self.assertRaises(BrokerError) as cm:
            await c.unsubscribe(self.topic("never"))
        self.assertEqual(cm.exception.code, 8)
        with self.assertRaises(BrokerError) as cm:
            await c.subscribe("a..b")
        self.assertEqual(cm.exception.code, 7)

    @bounded(20)
    async def test_welcome_limits(self):
        v = await self.raw()
        self.assertEqual(v.welcome.get("v"), 1)
        self.assertIsInstance(v.session, str)
        limits = v.welcome.get("limits", {})
        for key in ("max_envelope", "max_topic", "max_subscriptions", "max_window"):
            self.assertIsInstance(limits.get(key), int, f"limits.{key}: {limits}")
        self.assertEqual(limits["max_envelope"], MAX_ENVELOPE)


def main():
    global BROKER, BROKER_ARGS, TLS, TLS_CONTEXT
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    ap.add_argument("--broker-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every broker started (repeat)")
    ap.add_argument("--tls", action="store_true",
                    help="over wss:// (TLS listener only, dev CA from tools/dev-ca.sh)")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    BROKER_ARGS = args.broker_arg
    if args.tls:
        ca = dev_ca()
        TLS, TLS_CONTEXT = ca.tls(plain=False), ca.client_context()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    print(f"websockets {websockets.__version__}, msgpack {msgpack.version}, python "
          f"{sys.version.split()[0]}, broker {BROKER} {' '.join(WORKERS + BROKER_ARGS)}"
          f"{' over wss:// ' + ssl.OPENSSL_VERSION if TLS else ''}",
          flush=True)
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    passed, failed, skipped = summarize(prog.result)
    if skipped:
        print(f"{skipped} skipped (see reasons above)")
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or not prog.result.wasSuccessful() else 0)


if __name__ == "__main__":
    main()

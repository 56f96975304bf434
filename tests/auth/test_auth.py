#!/usr/bin/python3
"""Authentication, authorisation and abuse limits (docs/configuration.md,
docs/protocol.md section 7), against the real broker.

Tokens are made here by real tools, never copied from the broker's code:
HS256 JWTs with Python's stdlib hmac/hashlib, ES256 JWTs signed by the
`openssl` command line (key pair from `openssl ecparam`, DER signature
turned into JOSE's raw r||s), and a static token file. Clients are Python
websockets sending msgpack envelopes, so the test sees exactly what the
broker answers: HTTP statuses before the upgrade, error/reject codes, close
codes. Every test is bounded in time.

    /usr/bin/python3 tests/auth/test_auth.py --broker build/x/broker/wsbroker [-k NAME]
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from broker import broker_path, start_broker  # noqa: E402
from bounded import bounded  # noqa: E402

try:
    import msgpack
    import websockets
except ImportError:  # pragma: no cover - environment problem, say so plainly
    sys.exit("test_auth: needs python3-websockets and python3-msgpack; run with /usr/bin/python3")

BROKER = None
RECV_TIMEOUT_S = 10
NOT_PERMITTED, RATE_LIMITED, AUTH_FAILED = 15, 17, 18
SECRET = b"0123456789abcdef0123456789abcdef-test-secret"




# --- tokens -------------------------------------------------------------------

def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_input(header, claims):
    return (b64url(json.dumps(header).encode()) + "." +
            b64url(json.dumps(claims).encode()))


def hs256(claims, secret=SECRET, header=None):
    signing = jwt_input(header or {"alg": "HS256", "typ": "JWT"}, claims)
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(mac)


def der_to_raw(der):
    """An ECDSA DER signature (SEQUENCE of two INTEGERs) as raw r||s, 32+32."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += v.rjust(32, b"\x00")
        i += 2 + n
    return out


class EcKey:
    """A P-256 key pair made by the openssl command line."""

    def __init__(self, directory):
        self.key = os.path.join(directory, "es256.key")
        self.pub = os.path.join(directory, "es256.pub")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", self.key], check=True, capture_output=True, timeout=30)
        subprocess.run(["openssl", "ec", "-in", self.key, "-pubout", "-out", self.pub],
                       check=True, capture_output=True, timeout=30)

    def sign(self, claims, header=None):
        signing = jwt_input(header or {"alg": "ES256", "typ": "JWT"}, claims)
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing.encode(), check=True, capture_output=True,
                             timeout=30).stdout
        return signing + "." + b64url(der_to_raw(der))


# --- clients ------------------------------------------------------------------

def pack(env):
    return msgpack.packb(env, use_bin_type=True)


class Refused(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


class V1:
    """A /v1 connection driven by hand."""

    opened = []  # every connection, closed by Running before its broker stops

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 1

    @classmethod
    async def open(cls, broker, token=None, via="header", hello=True, hello_token=None):
        url, headers = broker.url_for("/v1"), {}
        if token is not None and via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None and via == "query":
            url += "?token=" + token
        try:
            ws = await websockets.connect(url, subprotocols=["wsbroker.v1"], compression=None,
                                          extra_headers=headers, ping_interval=None,
                                          open_timeout=RECV_TIMEOUT_S, close_timeout=5)
        except websockets.exceptions.InvalidStatusCode as e:
            raise Refused(e.status_code, "") from e
        self = cls(ws)
        cls.opened.append(self)
        if hello:
            env = {"op": "hello", "v": 1}
            if hello_token is not None:
                env["token"] = hello_token
            await self.send(env)
            await self.expect("welcome")
        return self

    async def send(self, env):
        await self.ws.send(pack(env))

    async def recv(self, timeout=RECV_TIMEOUT_S):
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return msgpack.unpackb(raw, raw=False)

    async def expect(self, op, **fields):
        env = await self.recv()
        assert env.get("op") == op, f"expected {op} {fields}, got {env!r}"
        for k, v in fields.items():
            assert env.get(k) == v, f"{op}.{k}: expected {v!r}, got {env!r}"
        return env

    async def sub(self, topic):
        """Subscribes; returns the decisive answer: an error, or the
        `subscribed` that completes it (for a pattern, the one without
        `match`, after one per matching topic)."""
        rid, self.next_id = self.next_id, self.next_id + 1
        await self.send({"op": "sub", "topic": topic, "id": rid})
        pattern = any(t in ("*", ">") for t in topic.split("."))
        while True:
            env = await self.recv()
            if env.get("op") == "error" or (env.get("op") == "subscribed" and
                                             (not pattern or "match" not in env)):
                return env

    async def pub(self, topic, data, confirm=True):
        rid, self.next_id = self.next_id, self.next_id + 1
        env = {"op": "pub", "topic": topic, "data": data}
        if confirm:
            env.update(id=rid, confirm=True)
        await self.send(env)
        return await self.recv() if confirm else None

    async def closed(self):
        """Waits for the broker's close; returns (code, reason)."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), RECV_TIMEOUT_S)
        except websockets.exceptions.ConnectionClosed as e:
            return e.code, e.reason

    async def close(self):
        await self.ws.close()


class Running:
    """`async with Running(broker)`: closes every V1 connection opened inside
    before the broker is stopped (and checked), so each test ends the same
    quiet way whatever it left open."""

    def __init__(self, broker):
        self.broker = broker

    async def __aenter__(self):
        V1.opened = []
        return self.broker

    async def __aexit__(self, exc_type, exc, tb):
        for c in V1.opened:
            try:
                await asyncio.wait_for(c.ws.close(), 5)
            except Exception:
                pass
        V1.opened = []
        await asyncio.sleep(0.2)
        return self.broker.__exit__(exc_type, exc, tb)


def http_refusal(broker, headers):
    """Sends an upgrade by hand; returns (status, body) of the refusal."""
    import socket
    s = socket.create_connection((broker.host, broker.port), timeout=RECV_TIMEOUT_S)
    try:
        req = ("GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
               "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")
        s.sendall(req.encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.decode("latin-1").partition("\r\n\r\n")
    return int(head.split()[1]), head, body.strip()


# --- the tests ----------------------------------------------------------------

class AuthTest(unittest.IsolatedAsyncioTestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="wsb-auth-")
        cls.ec = EcKey(cls.dir)
        cls.secret = os.path.join(cls.dir, "hs256.secret")
        with open(cls.secret, "wb") as f:
            f.write(SECRET + b"\n")
        cls.tokens = os.path.join(cls.dir, "tokens")
        with open(cls.tokens, "w") as f:
            f.write("# token rights\n"
                    "pub-md   pub=md.> sub=md.>\n"
                    "sub-news sub=news.*,md.AAPL\n"
                    "nothing\n")

    def broker(self, *args):
        return Running(start_broker(BROKER, ["--workers", "2", "--auth-tokens", self.tokens,
                                     "--jwt-hs256-secret", self.secret,
                                     "--jwt-es256-key", self.ec.pub, *args]))

    # token file: every permission kind

    @bounded(30)
    async def test_publish_allowed_and_denied(self):
        async with self.broker() as b:
            c = await V1.open(b, "pub-md")
            self.assertEqual((await c.pub("md.AAPL", 1))["op"], "confirm")
            r = await c.pub("news.x", 1)
            self.assertEqual((r["op"], r["code"]), ("reject", NOT_PERMITTED), r)
            await c.send({"op": "pub", "topic": "news.x", "data": 1})  # no id: error
            e = await c.expect("error", code=NOT_PERMITTED)
            self.assertEqual(e.get("ref_op"), "pub")
            r = await (await V1.open(b, "sub-news")).pub("news.x", 1)
            self.assertEqual((r["op"], r["code"]), ("reject", NOT_PERMITTED), r)

    @bounded(30)
    async def test_subscribe_exact_and_pattern(self):
        async with self.broker() as b:
            c = await V1.open(b, "sub-news")
            for topic, ok in [("news.eu", True), ("news.*", True), ("md.AAPL", True),
                              ("news.eu.x", False), ("news.>", False), ("md.*", False),
                              ("md.MSFT", False), (">", False)]:
                env = await c.sub(topic)
                if ok:
                    self.assertEqual(env["op"], "subscribed", (topic, env))
                else:
                    self.assertEqual((env["op"], env.get("code")), ("error", NOT_PERMITTED),
                                     (topic, env))
            c2 = await V1.open(b, "pub-md")
            for topic in ("md.*", "md.>", "md.*.AAPL", "md.NASDAQ.AAPL"):
                self.assertEqual((await c2.sub(topic))["op"], "subscribed", topic)
            for topic in (">", "*.AAPL", "md"):
                self.assertEqual((await c2.sub(topic)).get("code"), NOT_PERMITTED, topic)

    @bounded(30)
    async def test_replay_needs_subscribe_right(self):
        async with self.broker() as b:
            c = await V1.open(b, "sub-news")
            await c.send({"op": "replay", "topic": "md.MSFT", "from": 1, "id": 9})
            await c.expect("error", code=NOT_PERMITTED, ref=9)

    @bounded(30)
    async def test_token_with_no_rights(self):
        async with self.broker() as b:
            c = await V1.open(b, "nothing")
            self.assertEqual((await c.sub("md.AAPL")).get("code"), NOT_PERMITTED)
            self.assertEqual((await c.pub("md.AAPL", 1)).get("code"), NOT_PERMITTED)

    # anonymous access

    @bounded(30)
    async def test_anonymous_off_by_default(self):
        async with self.broker() as b:
            c = await V1.open(b, hello=False)
            await c.send({"op": "hello", "v": 1})
            await c.expect("error", code=AUTH_FAILED)
            self.assertEqual(await c.closed(), (1008, "authentication failed"))

    @bounded(30)
    async def test_anonymous_read(self):
        async with self.broker("--anonymous", "read") as b:
            c = await V1.open(b)
            self.assertEqual((await c.sub("anything.at.all"))["op"], "subscribed")
            self.assertEqual((await c.pub("md.AAPL", 1)).get("code"), NOT_PERMITTED)

    @bounded(30)
    async def test_development_mode(self):
        async with Running(start_broker(BROKER, ["--workers", "1"])) as b:
            self.assertTrue(b.wait_for_stderr("no authentication configured", 5))
            c = await V1.open(b, "ignored-token")
            self.assertEqual((await c.pub("x.y", 1))["op"], "confirm")

    # where the token comes from

    @bounded(30)
    async def test_token_sources(self):
        async with self.broker() as b:
            for via in ("header", "query"):
                c = await V1.open(b, "pub-md", via=via)
                self.assertEqual((await c.pub("md.X", 1))["op"], "confirm", via)
            c = await V1.open(b, hello_token="pub-md")
            self.assertEqual((await c.pub("md.X", 1))["op"], "confirm", "hello")
            # hello's token replaces the handshake's
            c = await V1.open(b, "pub-md", hello_token="sub-news")
            self.assertEqual((await c.pub("md.X", 1)).get("code"), NOT_PERMITTED)

    @bounded(30)
    async def test_bad_handshake_token_is_401(self):
        async with self.broker() as b:
            for via in ("header", "query"):
                with self.assertRaises(Refused) as cm:
                    await V1.open(b, "no-such-token", via=via)
                self.assertEqual(cm.exception.status, 401, via)
            status, head, body = await asyncio.to_thread(
                http_refusal, b, {"Authorization": "Bearer no-such-token"})
            self.assertEqual((status, body), (401, "unknown token"))
            self.assertIn("WWW-Authenticate: Bearer", head)
            status, _, body = await asyncio.to_thread(http_refusal, b, {"Authorization": "Basic x"})
            self.assertEqual(status, 401, body)

    @bounded(30)
    async def test_bad_hello_token_closes_1008(self):
        async with self.broker() as b:
            c = await V1.open(b, hello=False)
            await c.send({"op": "hello", "v": 1, "token": "no-such-token"})
            e = await c.expect("error", code=AUTH_FAILED)
            self.assertEqual(e["text"], "unknown token")
            self.assertEqual(await c.closed(), (1008, "authentication failed"))

    # JWT

    @bounded(60)
    async def test_jwt_hs256_and_es256(self):
        now = int(time.time())
        claims = {"sub": "user-7", "exp": now + 600, "pub": ["md.>"], "sub_": 1,
                  "iat": now}
        claims_grants = dict(claims, sub=["md.*"])
        async with self.broker() as b:
            for token in (hs256(claims_grants), self.ec.sign(claims_grants)):
                c = await V1.open(b, token)
                self.assertEqual((await c.pub("md.X.Y", 1))["op"], "confirm")
                self.assertEqual((await c.sub("md.X"))["op"], "subscribed")
                self.assertEqual((await c.sub("md.X.Y")).get("code"), NOT_PERMITTED)
            # a string "sub" is the JWT subject, not a grant
            c = await V1.open(b, hs256(claims))
            self.assertEqual((await c.sub("md.X")).get("code"), NOT_PERMITTED)
            # via hello and the query too
            c = await V1.open(b, hello_token=self.ec.sign(claims_grants))
            self.assertEqual((await c.pub("md.A", 1))["op"], "confirm")
            c = await V1.open(b, hs256(claims_grants), via="query")
            self.assertEqual((await c.pub("md.A", 1))["op"], "confirm")

    @bounded(60)
    async def test_jwt_refusals(self):
        now = int(time.time())
        good = {"exp": now + 600, "pub": ["md.>"]}
        other = EcKey(tempfile.mkdtemp(prefix="wsb-auth-other-"))
        forged = hs256(good)[:-2] + ("AA" if not hs256(good).endswith("AA") else "BA")
        cases = [
            (hs256(good, secret=b"another-secret-of-at-least-32-bytes!!"), "bad token signature"),
            (forged, None),
            (other.sign(good), "bad token signature"),
            (hs256({"exp": now - 10, "pub": ["md.>"]}), "token expired"),
            (self.ec.sign({"exp": now - 10}), "token expired"),
            (hs256({"nbf": now + 3600, "pub": ["md.>"]}), "token not yet valid (nbf)"),
            (hs256(good, header={"alg": "none"}), "token algorithm is not HS256 or ES256"),
            (hs256(good, header={"alg": "HS256", "crit": ["x"]}),
             "token header has 'crit' extensions"),
            (hs256({"pub": ["md..x"]}), "token grants an invalid topic pattern"),
            ("a.b.c", None),
        ]
        async with self.broker() as b:
            for token, reason in cases:
                status, _, body = await asyncio.to_thread(
                    http_refusal, b, {"Authorization": f"Bearer {token}"})
                self.assertEqual(status, 401, (token, body))
                if reason:
                    self.assertEqual(body, reason, token)
            # the same in hello: error 18, close 1008
            c = await V1.open(b, hello=False)
            await c.send({"op": "hello", "v": 1, "token": cases[3][0]})
            e = await c.expect("error", code=AUTH_FAILED)
            self.assertEqual(e["text"], "token expired")
            self.assertEqual((await c.closed())[0], 1008)

    @bounded(60)
    async def test_only_configured_algorithms(self):
        now = int(time.time())
        async with Running(start_broker(BROKER, ["--jwt-hs256-secret", self.secret])) as b:
            status, _, body = await asyncio.to_thread(
                http_refusal, b, {"Authorization": f"Bearer {self.ec.sign({'exp': now + 60})}"})
            self.assertEqual((status, body), (401, "token algorithm has no configured key"))

    @bounded(30)
    async def test_token_expiry_closes_open_connection(self):
        exp = int(time.time()) + 2
        async with self.broker() as b:
            c = await V1.open(b, hs256({"exp": exp, "sub": ["md.>"]}))
            self.assertEqual((await c.sub("md.X"))["op"], "subscribed")
            code, reason = await c.closed()
            self.assertEqual((code, reason), (1008, "token expired"))
            self.assertGreaterEqual(time.time(), exp)

    # limits

    @bounded(60)
    async def test_publish_rate_limit(self):
        async with self.broker("--publish-rate", "5", "--publish-burst", "5") as b:
            c = await V1.open(b, "pub-md")
            for i in range(30):
                await c.send({"op": "pub", "topic": "md.R", "data": i, "id": i + 1,
                              "confirm": True})
            answers = [await c.recv() for _ in range(30)]
            confirmed = [a for a in answers if a["op"] == "confirm"]
            limited = [a for a in answers if a["op"] == "reject"]
            self.assertEqual(len(confirmed) + len(limited), 30, answers)
            self.assertGreaterEqual(len(confirmed), 5)
            self.assertGreater(len(limited), 0, "no publish was rate limited")
            self.assertTrue(all(a["code"] == RATE_LIMITED for a in limited), limited)
            # without an id: an error envelope
            await c.send({"op": "pub", "topic": "md.R", "data": 0})
            await c.expect("error", code=RATE_LIMITED)
            # not counted as abuse (max-errors 16): the connection is still open;
            # the bucket refills at 5/s
            await asyncio.sleep(1.5)
            self.assertEqual((await c.pub("md.R", "again"))["op"], "confirm")

    @bounded(60)
    async def test_connections_per_ip(self):
        async with self.broker("--max-connections-per-ip", "3", "--anonymous", "read") as b:
            conns = [await V1.open(b) for _ in range(3)]
            with self.assertRaises(Refused) as cm:
                await V1.open(b)
            self.assertEqual(cm.exception.status, 429)
            self.assertTrue(b.wait_for_stderr(r"refused 127\.0\.0\.1:\d+: over "
                                              r"max-connections-per-ip 3", 5))
            # Idle sockets over the limit are refused at accept, before they
            # send a byte: they cannot pile up until the handshake timeout.
            idle = [b.connect_raw(5) for _ in range(20)]
            for s in idle:
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 429 "))
                s.close()
            await conns[0].close()
            deadline = time.monotonic() + 10
            while True:  # the count drops once the broker has closed its side
                try:
                    conns[0] = await V1.open(b)
                    break
                except Refused:
                    self.assertLess(time.monotonic(), deadline)
                    await asyncio.sleep(0.1)
            for c in conns:
                await c.close()

    # SIGHUP

    @bounded(60)
    async def test_sighup_changes_auth_for_new_connections(self):
        d = tempfile.mkdtemp(prefix="wsb-auth-hup-")
        tokens, conf = os.path.join(d, "tokens"), os.path.join(d, "wsbroker.conf")
        with open(tokens, "w") as f:
            f.write("old pub=md.> sub=md.>\n")
        with open(conf, "w") as f:
            f.write(f"auth-tokens = {tokens}\nworkers = 2\n")
        async with Running(start_broker(BROKER, ["--config", conf])) as b:
            sub = await V1.open(b, "old")
            self.assertEqual((await sub.sub("md.A"))["op"], "subscribed")
            with open(tokens, "w") as f:
                f.write("new pub=md.> sub=md.>\n")
            with open(conf, "a") as f:
                f.write("publish-rate = 1000\nworkers = 3\n")
            b.reload()
            self.assertTrue(b.wait_for_stderr("SIGHUP: configuration reloaded", 10),
                            b.stderr())
            self.assertTrue(b.wait_for_stderr("'workers' changed: needs a restart", 1))
            with self.assertRaises(Refused) as cm:
                await V1.open(b, "old")
            self.assertEqual(cm.exception.status, 401)
            pub = await V1.open(b, "new")
            self.assertEqual((await pub.pub("md.A", "after"))["op"], "confirm")
            # the connection made under the old rules is still there and served
            msg = await sub.expect("msg", topic="md.A")
            self.assertEqual(msg["data"], "after")
            # a config that does not parse: logged, the running one stays
            with open(conf, "a") as f:
                f.write("bogus-setting = 1\n")
            b.reload()
            self.assertTrue(b.wait_for_stderr(r"configuration not reloaded.*"
                                              r"unknown setting 'bogus-setting'", 10))
            self.assertEqual((await (await V1.open(b, "new")).pub("md.A", 2))["op"], "confirm")
            self.assertEqual((await sub.expect("msg", topic="md.A"))["data"], 2)


def stalled_subscriber(broker, topic):
    """A bare socket with a small receive buffer, subscribed to topic with no
    policy named, that then stops reading. Returns the socket."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(RECV_TIMEOUT_S)
    s.connect((broker.host, broker.port))
    s.sendall(b"GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    for env in ({"op": "hello", "v": 1}, {"op": "sub", "topic": topic, "id": 1}):
        body = pack(env)
        assert len(body) < 126
        s.sendall(bytes([0x82, 0x80 | len(body)]) + b"\0\0\0\0" + body)  # zero mask
    data = b""
    while b"subscribed" not in data:
        chunk = s.recv(4096)
        assert chunk, "broker closed the stalled subscriber early"
        data += chunk
    return s


def read_all(s, quiet_s=1.0, limit_s=20.0):
    """Everything the socket receives until it is quiet or closed (bounded)."""
    s.settimeout(quiet_s)
    data, deadline = b"", time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(1 << 20)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


class PolicyRuleTest(unittest.IsolatedAsyncioTestCase):
    """`policy = PATTERN disconnect` applies to subscriptions naming none."""

    @bounded(90)
    async def test_configured_default_policy(self):
        async with Running(start_broker(BROKER, ["--workers", "2", "--policy",
                                                 "slow.> disconnect",
                                                 "--slow-consumer-bytes", "4096"])) as b:
            slow = await asyncio.to_thread(stalled_subscriber, b, "slow.x")
            other = await asyncio.to_thread(stalled_subscriber, b, "other.x")
            p = await V1.open(b)
            blob = "x" * 8192
            for i in range(600):  # ~5 MB per topic: far past any socket buffer
                await p.send({"op": "pub", "topic": "slow.x", "data": blob})
                await p.send({"op": "pub", "topic": "other.x", "data": blob})
            await p.send({"op": "ping", "id": 1})
            await p.expect("pong", id=1)
            close_1008 = b"\x03\xf0slow consumer"
            got = await asyncio.to_thread(read_all, slow)
            self.assertTrue(close_1008 in got, "the 'slow.>' subscriber was not disconnected")
            got = await asyncio.to_thread(read_all, other)
            self.assertFalse(close_1008 in got, "the default policy (drop) disconnected")
            self.assertTrue(b"\xa3gap" in got, "the drop policy sent no gap")
            slow.close()
            other.close()


class ConfigErrorTest(unittest.TestCase):
    """Each bad setting: non-zero exit and a message naming the option."""

    def run_broker(self, *args):
        return subprocess.run([BROKER, *args], capture_output=True, text=True, timeout=30)

    def assert_error(self, args, *needles):
        r = self.run_broker(*args)
        self.assertNotEqual(r.returncode, 0, (args, r.stdout, r.stderr))
        for n in needles:
            self.assertIn(n, r.stderr, args)

    def test_option_errors(self):
        d = tempfile.mkdtemp(prefix="wsb-conf-")
        short = os.path.join(d, "short")
        with open(short, "w") as f:
            f.write("too-short\n")
        notpem = os.path.join(d, "notpem")
        with open(notpem, "w") as f:
            f.write("hello\n")
        badtok = os.path.join(d, "badtok")
        with open(badtok, "w") as f:
            f.write("ok sub=md.>\ndup sub=x\ndup pub=y\n")
        cases = [
            (["--listen", "0.0.0.0:0"], "--anonymous: a listener is not on a loopback"),
            (["--anonymous", "maybe"], "--anonymous: invalid value 'maybe'"),
            (["--anonymous", "off"], "--anonymous: 'off' with no authentication"),
            (["--auth-tokens", os.path.join(d, "missing")], "--auth-tokens: cannot open"),
            (["--auth-tokens", badtok], f"--auth-tokens: {badtok}:3: duplicate token"),
            (["--jwt-hs256-secret", short], "--jwt-hs256-secret:", "at least 32"),
            (["--jwt-es256-key", notpem], "--jwt-es256-key:", "not a PEM public key"),
            (["--jwt-es256-key", os.path.join(d, "missing")], "--jwt-es256-key: cannot open"),
            (["--max-connections-per-ip", "x"], "--max-connections-per-ip: invalid value"),
            (["--publish-rate", "-1"], "--publish-rate: invalid value"),
            (["--publish-burst", "3"], "--publish-burst: needs --publish-rate"),
            (["--policy", "md.> sometimes"], "--policy: invalid value", "unknown policy"),
            (["--policy", "md..x drop"], "--policy: invalid value", "topic pattern"),
        ]
        for args, *needles in cases:
            self.assert_error([*args, "--check-config"], *needles)
            self.assert_error(args, *needles)  # the same without --check-config

    def test_long_token_file_lines_are_whole_lines(self):
        # A line may legitimately be long (64 sub patterns of up to 255
        # bytes); it must be read whole. Read in 8 KiB pieces, its tail
        # became a token of its own with the line's last rights (review).
        d = tempfile.mkdtemp(prefix="wsb-conf-")
        patterns = ",".join(f"md.{'x' * 120}{i:04d}" for i in range(64))
        line = f"real-token sub={patterns} pub=>\n"
        self.assertGreater(len(line), 8192)
        tail = line[8191:].split()[0]
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write(line)
        r = self.run_broker("--auth-tokens", tokens, "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        b = start_broker(BROKER, ["--auth-tokens", tokens])
        try:
            for token, status in ((tail, b" 401 "), ("real-token", b" 101 ")):
                s = b.connect_raw(5)
                s.sendall(f"GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
                          .encode())
                self.assertIn(status, s.recv(4096).split(b"\r\n")[0] + b" ", token[:20])
                s.close()
        finally:
            b.stop()
        huge = os.path.join(d, "huge")
        with open(huge, "w") as f:
            f.write("t sub=" + "a" * 70000 + "\n")
        self.assert_error(["--auth-tokens", huge, "--check-config"],
                          f"--auth-tokens: {huge}:1: line longer than")

    def test_file_errors_name_file_and_line(self):
        d = tempfile.mkdtemp(prefix="wsb-conf-")
        conf = os.path.join(d, "wsbroker.conf")
        with open(conf, "w") as f:
            f.write("# comment\nworkers = 2\npolicy = md.> sometimes\n")
        self.assert_error(["--config", conf, "--check-config"], f"{conf}:3: policy")

    def test_check_config_ok_and_non_loopback_with_auth(self):
        r = self.run_broker("--listen", "0.0.0.0:0", "--jwt-hs256-secret",
                            AuthTest.secret, "--policy", "md.> conflate", "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)


def main():
    global BROKER
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    AuthTest.setUpClass()  # ConfigErrorTest uses its secret file too
    prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    r = prog.result
    print(f"{r.testsRun - len(r.failures) - len(r.errors)} passed, "
          f"{len(r.failures) + len(r.errors)} failed", flush=True)
    sys.exit(0 if r.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

"""wsbroker_client - an asyncio client for wsbroker's /v1 pub/sub protocol.

One module, built on `websockets` and `msgpack` only (Debian's
python3-websockets and python3-msgpack). It speaks docs/protocol.md: binary
WebSocket messages, one msgpack map each, subprotocol `wsbroker.v1`.

    import asyncio
    from wsbroker_client import Client, PublishRejected

    async def main():
        client = await Client.connect("ws://127.0.0.1:8080/v1", name="demo")

        # An async iterator of Message objects ...
        sub = await client.subscribe("md.>")
        # ... or a callback (plain function or coroutine), run in order.
        await client.subscribe("news.eu", lambda m: print(m.topic, m.seq, m.data))

        seq = await client.publish("md.AAPL", {"bid": 189.1}, confirm=True)
        await client.publish("md.AAPL", {"bid": 189.2})          # fire and forget

        async for m in sub:                 # m.topic m.seq m.ts m.data m.redelivered
            print(m.topic, m.seq, m.data)
            break

        old = await client.replay("md.AAPL", 1, 10)     # list of Message, by seq
        await client.unsubscribe("md.>")
        rtt = await client.ping()                        # seconds
        await client.close()

    asyncio.run(main())

API
  Client.connect(url, name=None, token=None, reconnect=True, *, session=None,
                 on_error=None, on_gap=None, request_timeout=30, max_retries=30,
                 ssl=None)
      Opens the connection, sends `hello`, waits for `welcome`. A URL without
      a path gets `/v1`. A wss:// URL speaks TLS, verified against `ssl` (an
      ssl.SSLContext, e.g. ssl.create_default_context(cafile="ca.crt")) or,
      without one, the system's CAs; reconnects use the same context. `client.session` and `client.limits` come from
      welcome. `session` resumes an earlier session (publish de-duplication).
  subscribe(topic_or_pattern, handler=None, from_seq=None, ack="none",
            window=None, snapshot=False, policy=None) -> Subscription
      Returns once the broker has taken the subscription (an exact topic's
      `subscribed`, or a pattern's confirming `subscribed` without `match`);
      sub.heads / sub.oldests hold what `subscribed` said per topic (for an
      exact topic also sub.head / sub.oldest). Without a
      handler, iterate the Subscription (`async for m in sub`, or
      `await sub.get(timeout)`); with one, the handler gets every Message.
  unsubscribe(topic)                  the exact string given to subscribe
  publish(topic, data, confirm=False) -> seq (confirm) or None
      Every publish carries a fresh, increasing client id. With confirm the
      call waits for `confirm` and raises PublishRejected(code, reason) on a
      `reject` (or an `error` about it).
  ack(topic, seq)                     cumulative, for ack="manual" subscriptions
  replay(topic, from_seq, to_seq=None) -> [Message]   retained messages, by seq
  ping() -> seconds;  close()
  client.gaps: every gap notice as (topic, from, to); client.errors: every
  error envelope that no request was waiting for (also given to on_error).

Errors: an `error` envelope whose `ref` names a request raises BrokerError
(code, text, op - the failed request's op, sent as `ref_op`) from that
request (PublishRejected for a publish); others go to on_error(BrokerError).
on_gap(topic, from, to) hears every gap notice.

Delivery, reconnect and de-duplication
  Each Subscription remembers, per topic, the last seq it handed over and
  drops anything at or below it, so duplicates by (topic, seq) never reach
  you. Retransmissions (`re: true`, manual ack) are the exception: they are
  handed over again, with redelivered=True, until acked. A manual-ack
  subscription is at-least-once across reconnects too: an exact topic
  resumes from the last seq acked (not the last seen), so what was delivered
  and not acked comes again, redelivered=True.
  When the connection drops (anything but close() by us) the client
  reconnects with exponential backoff (0.1 s doubling to 5 s, max_retries
  tries), sends `hello` with the same session, and subscribes everything
  again: an exact topic with from = the last seq seen; a pattern with
  from = 0, because protocol.md 4.3 applies `from` to every matching topic,
  including ones that first matched while we were away - so the broker
  resends what it retains and the per-topic memory drops what was seen
  (gap notices below what was seen are suppressed as well). Confirmed
  publishes, replays and pings still waiting are sent again with the same
  ids; the broker's (session, id) de-duplication makes the resend safe.
  Fire-and-forget publishes and acks are at most once.

Limits: queues inside the client are unbounded; a subscriber that never
reads its Subscription grows without bound. Use a handler, or read.
"""

import asyncio
import time
import urllib.parse

import msgpack
import websockets

SUBPROTOCOL = "wsbroker.v1"
PROTOCOL_VERSION = 1
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0

__all__ = ["Client", "Subscription", "Message", "BrokerError", "PublishRejected",
           "ConnectionLost"]


class BrokerError(Exception):
    """An `error` envelope: code (protocol.md section 5), text, op."""

    def __init__(self, code, text, op=None):
        super().__init__(f"error {code}: {text}" + (f" (op {op})" if op else ""))
        self.code, self.text, self.op = code, text, op


class PublishRejected(BrokerError):
    """A confirmed publish was not sequenced (`reject`, or an `error` about it)."""

    def __init__(self, code, reason):
        super().__init__(code, reason, "pub")
        self.reason = reason


class ConnectionLost(ConnectionError):
    """The connection is gone and will not come back (closed, or retries spent)."""


class Message:
    """One delivered message."""
    __slots__ = ("topic", "seq", "ts", "data", "redelivered")

    def __init__(self, topic, seq, ts, data, redelivered=False):
        self.topic, self.seq, self.ts, self.data = topic, seq, ts, data
        self.redelivered = redelivered

    def __repr__(self):
        re = " re" if self.redelivered else ""
        return f"Message({self.topic} #{self.seq}{re}: {self.data!r})"


def is_pattern(topic):
    """True for a pattern (protocol.md section 3): a `*` or `>` token."""
    return any(tok in ("*", ">") for tok in topic.split("."))


class Subscription:
    """One `sub`: an async iterator of Message, or a handler's feed.

    head / oldest: per matching topic, what `subscribed` said (dicts keyed by
    topic; for an exact topic also .head / .oldest as plain numbers).
    """

    def __init__(self, client, sub_id, topic, handler, from_seq, ack, window, snapshot,
                 policy):
        self.client, self.id, self.topic, self.handler = client, sub_id, topic, handler
        self.from_seq, self.ack, self.window = from_seq, ack, window
        self.snapshot, self.policy = snapshot, policy
        self.pattern = is_pattern(topic)
        self.heads, self.oldests = {}, {}
        self.last = {}            # topic -> last seq handed over (dedup and resume)
        self.start = {}           # topic -> seq before the first one this subscription wants
        self.ready = asyncio.get_running_loop().create_future()
        self.resume_from = from_seq   # `from` of the next sub envelope we send
        self._queue = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run_handler()) if handler else None
        self.closed = False

    @property
    def head(self):
        return self.heads.get(self.topic)

    @property
    def oldest(self):
        return self.oldests.get(self.topic)

    def envelope(self):
        env = {"op": "sub", "id": self.id, "topic": self.topic}
        if self.resume_from is not None:
            env["from"] = self.resume_from
        elif self.snapshot:
            env["snapshot"] = True
        if self.ack != "none":
            env["ack"] = self.ack
        if self.window is not None:
            env["window"] = self.window
        if self.policy is not None:
            env["policy"] = self.policy
        return env

    def attach(self, topic, head, oldest):
        """A `subscribed`: from here on, `topic`'s messages are ours."""
        self.heads[topic], self.oldests[topic] = head, oldest
        if topic in self.last:
            return                              # resumed: keep what we saw
        if self.resume_from is not None:
            start = min(self.resume_from, head)  # from past head: next one
        elif self.snapshot:
            start = min(oldest, head + 1) - 1    # the latest retained comes
        else:
            start = head
        self.start[topic] = self.last[topic] = start

    def offer(self, m):
        """Queue m unless it is a duplicate; True when it was queued."""
        last = self.last.get(m.topic)
        if last is None:
            return False                        # not attached to this topic (yet)
        if m.seq <= last:
            # Seen before: only a manual-ack subscription takes it again, as
            # a redelivery, while it is not acked (at-least-once, also
            # across a reconnect, which resumes from the last ack).
            if self.ack != "manual" or m.seq <= self.ack_floor(m.topic):
                return False
            if not m.redelivered:
                m = Message(m.topic, m.seq, m.ts, m.data, True)
        else:
            self.last[m.topic] = m.seq
        self._queue.put_nowait(m)
        return True

    def resume_point(self):
        """`from` for the sub sent after a reconnect (see the module docstring)."""
        if self.pattern:
            return 0 if self.ready.done() else self.resume_from
        if self.topic not in self.last:
            return self.resume_from
        if self.ack == "manual":
            return self.ack_floor(self.topic)
        return self.last[self.topic]

    def ack_floor(self, topic):
        """Seqs of topic at or below this need no (re)delivery: before the
        subscription started, or acked."""
        return max(self.start.get(topic, 0), self.client._acked.get(topic, 0))

    async def _run_handler(self):
        while True:
            m = await self._queue.get()
            if m is None:
                return
            try:
                r = self.handler(m)
                if asyncio.iscoroutine(r):
                    await r
            except Exception as e:  # a handler's bug must not kill delivery
                self.client._report(BrokerError(0, f"handler raised {e!r}"))

    def _end(self):
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._queue.empty() and self.closed:
            raise StopAsyncIteration
        m = await self._queue.get()
        if m is None:
            self._queue.put_nowait(None)        # stay ended for later readers
            raise StopAsyncIteration
        return m

    async def get(self, timeout=None):
        """The next Message; asyncio.TimeoutError after timeout seconds,
        EOFError once the subscription has ended (unsubscribe, close)."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except StopAsyncIteration:
            raise EOFError(f"subscription {self.topic!r} has ended") from None

    def pending(self):
        """How many messages were received and not yet read."""
        return self._queue.qsize()

    def drain(self):
        """Every message received and not yet read, without waiting."""
        got = []
        while not self._queue.empty():
            m = self._queue.get_nowait()
            if m is None:
                self._queue.put_nowait(None)
                break
            got.append(m)
        return got


class Client:
    """A wsbroker connection. Make one with `await Client.connect(...)`."""

    def __init__(self, url, name, token, reconnect, session, on_error, on_gap,
                 request_timeout, max_retries, connect_kw):
        parts = urllib.parse.urlsplit(url)
        if parts.path in ("", "/"):
            url = urllib.parse.urlunsplit(parts._replace(path="/v1"))
        self.url, self.name, self.token = url, name, token
        self.reconnect, self.session = reconnect, session
        self.on_error, self.on_gap = on_error, on_gap
        self.request_timeout, self.max_retries = request_timeout, max_retries
        self.connect_kw = connect_kw
        self.limits = {}
        self.gaps, self.errors = [], []
        self.reconnects = 0
        self._ws = None
        self._connected = asyncio.Event()
        self._closing = False
        self._next_id = 0
        self._subs = {}           # topic string -> Subscription, in subscribe order
        self._pending = {}        # request id -> (envelope or None, future)
        self._replays = {}        # request id -> (topic, from, to, {seq: Message})
        self._acked = {}          # topic -> highest seq we acked
        self._seen_floor = {}     # topic -> seqs every subscriber had at the last reconnect
        self._reader = None

    # --- connecting ---------------------------------------------------------

    @classmethod
    async def connect(cls, url, name=None, token=None, reconnect=True, *, session=None,
                      on_error=None, on_gap=None, request_timeout=30.0, max_retries=30,
                      ssl=None, **connect_kw):
        """Connect, hello, welcome. ssl: an SSLContext for a wss:// URL.
        Extra keywords go to websockets.connect."""
        if ssl is not None:
            if urllib.parse.urlsplit(url).scheme != "wss":
                raise ValueError(f"ssl= given for {url!r}: it needs a wss:// URL")
            connect_kw["ssl"] = ssl
        self = cls(url, name, token, reconnect, session, on_error, on_gap,
                   request_timeout, max_retries, connect_kw)
        await self._open()
        self._reader = asyncio.ensure_future(self._read_forever())
        return self

    async def _open(self):
        kw = dict(subprotocols=[SUBPROTOCOL], compression=None, max_size=None,
                  open_timeout=self.request_timeout, close_timeout=5)
        kw.update(self.connect_kw)
        ws = await websockets.connect(self.url, **kw)
        try:
            hello = {"op": "hello", "v": PROTOCOL_VERSION}
            for key in ("name", "token", "session"):
                if getattr(self, key) is not None:
                    hello[key] = getattr(self, key)
            await ws.send(pack(hello))
            env = unpack(await asyncio.wait_for(ws.recv(), self.request_timeout))
            if env.get("op") == "error":
                raise BrokerError(env.get("code"), env.get("text"), env.get("op"))
            if env.get("op") != "welcome":
                raise BrokerError(0, f"expected welcome, got {env!r}")
        except BaseException:
            await ws.close()
            raise
        self.session = env.get("session")
        self.limits = env.get("limits", {})
        self._ws = ws
        self._connected.set()

    async def _reopen(self):
        """Reconnect with backoff and restore subscriptions and requests."""
        delay = BACKOFF_FIRST_S
        for _ in range(self.max_retries):
            if self._closing:
                return False
            try:
                await self._open()
                break
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException,
                    BrokerError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        else:
            return False
        self.reconnects += 1
        self._seen_floor = {}
        for sub in self._subs.values():
            for topic, last in sub.last.items():
                self._seen_floor[topic] = min(last, self._seen_floor.get(topic, last))
        try:
            for sub in list(self._subs.values()):   # subscribe() may add one meanwhile
                sub.resume_from = sub.resume_point()
                await self._ws.send(pack(sub.envelope()))
            for rid in sorted(self._pending):
                env = self._pending[rid][0]
                if env is not None and env["op"] == "unsub":
                    self._resolve(rid, None)    # the new connection never had it
                elif env is not None:
                    await self._ws.send(pack(env))
        except websockets.ConnectionClosed:
            pass                                # the read loop will notice
        return True

    async def _read_forever(self):
        try:
            while True:
                try:
                    async for raw in self._ws:
                        self._dispatch(raw)
                except websockets.ConnectionClosed:
                    pass
                self._connected.clear()
                if self._closing or not self.reconnect or not await self._reopen():
                    return
        finally:
            self._shutdown(ConnectionLost(f"connection to {self.url} closed"))

    def _shutdown(self, exc):
        self._connected.clear()
        self._closing = True
        for _, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()
        for sub in self._subs.values():
            if not sub.ready.done():
                sub.ready.set_exception(exc)
            sub._end()

    async def close(self):
        """Close cleanly (1000); subscriptions' iterators end."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, self.request_timeout)
            except asyncio.TimeoutError:
                self._reader.cancel()
        # Handlers finish what was received (bounded), then stop.
        tasks = [s._task for s in self._subs.values() if s._task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.request_timeout)
            for t in late:
                t.cancel()

    @property
    def connected(self):
        """True while a connection is up (False while reconnecting)."""
        return self._connected.is_set()

    def drop_connection(self):
        """Abort the TCP connection, as a network failure would (for tests)."""
        if self._ws is not None:
            self._ws.transport.abort()

    # --- requests -----------------------------------------------------------

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    async def _send(self, env):
        """Send now, waiting (bounded) for a reconnect in progress."""
        if self._closing:
            raise ConnectionLost("client is closed")
        if not self._connected.is_set():
            try:
                await asyncio.wait_for(self._connected.wait(), self.request_timeout)
            except asyncio.TimeoutError:
                raise ConnectionLost("not connected") from None
        try:
            await self._ws.send(pack(env))
        except websockets.ConnectionClosed as e:
            raise ConnectionLost(str(e)) from e

    async def _request(self, env, resend=True):
        """Send env (which has an id) and wait for the answer naming that id.

        A request with resend is sent again after a reconnect; one sent while
        disconnected is simply left for the reconnect to send.
        """
        fut = asyncio.get_running_loop().create_future()
        self._pending[env["id"]] = (env if resend else None, fut)
        if self._connected.is_set():
            try:
                await self._ws.send(pack(env))
            except websockets.ConnectionClosed:
                if not resend or not self.reconnect:
                    self._pending.pop(env["id"], None)
                    raise ConnectionLost("connection closed") from None
        elif self._closing:
            self._pending.pop(env["id"], None)
            raise ConnectionLost("client is closed")
        try:
            return await asyncio.wait_for(fut, self.request_timeout)
        finally:
            self._pending.pop(env["id"], None)

    async def subscribe(self, topic, handler=None, from_seq=None, ack="none", window=None,
                        snapshot=False, policy=None):
        if topic in self._subs:
            raise BrokerError(13, f"already subscribed to {topic!r} on this client", "sub")
        sub = Subscription(self, self._new_id(), topic, handler, from_seq, ack, window,
                           snapshot, policy)
        if self._closing:
            raise ConnectionLost("client is closed")
        self._subs[topic] = sub
        try:
            if self._connected.is_set():
                await self._send(sub.envelope())
            # else: the reconnect in progress sends it with the others
            # shield: a timeout must not cancel ready, a reconnect still uses it
            await asyncio.wait_for(asyncio.shield(sub.ready), self.request_timeout)
        except BaseException:
            if self._subs.get(topic) is sub:
                del self._subs[topic]
            sub._end()
            if sub._task:
                sub._task.cancel()
            raise
        return sub

    async def unsubscribe(self, topic):
        sub = self._subs.pop(topic, None)
        rid = self._new_id()
        # No success reply exists: a pong after it means no error came.
        self._pending[rid] = ({"op": "unsub"}, asyncio.get_running_loop().create_future())
        try:
            await self._send({"op": "unsub", "topic": topic, "id": rid})
            await self._request({"op": "ping", "id": self._new_id()})
            fut = self._pending[rid][1]
            if fut.done():
                fut.result()
        finally:
            self._pending.pop(rid, None)
            if sub is not None:
                sub._end()

    async def publish(self, topic, data, confirm=False):
        env = {"op": "pub", "topic": topic, "data": data, "id": self._new_id()}
        if not confirm:
            await self._send(env)
            return None
        env["confirm"] = True
        return await self._request(env)

    async def ack(self, topic, seq):
        if seq > self._acked.get(topic, 0):
            self._acked[topic] = seq
        await self._send({"op": "ack", "topic": topic, "seq": seq})

    async def replay(self, topic, from_seq, to_seq=None):
        rid = self._new_id()
        env = {"op": "replay", "topic": topic, "from": from_seq, "id": rid}
        if to_seq is not None:
            env["to"] = to_seq
        self._replays[rid] = (topic, from_seq, to_seq, {})
        try:
            await self._request(env)
            got = self._replays[rid][3]
            return [got[s] for s in sorted(got)]
        finally:
            self._replays.pop(rid, None)

    async def ping(self):
        t0 = time.monotonic()
        await self._request({"op": "ping", "id": self._new_id()})
        return time.monotonic() - t0

    async def send_raw(self, env):
        """Send any envelope as is (tests, experiments)."""
        await self._send(env)

    # --- what the broker sends ----------------------------------------------

    def _dispatch(self, raw):
        try:
            env = unpack(raw)
            op = env["op"]
        except Exception as e:
            self._report(BrokerError(0, f"undecodable envelope from broker: {e!r}"))
            return
        handler = getattr(self, "_on_" + op, None) if isinstance(op, str) else None
        if handler is None:
            self._report(BrokerError(0, f"unexpected envelope from broker: {env!r}"))
        else:
            handler(env)

    def _resolve(self, rid, value, exc=None):
        entry = self._pending.get(rid)
        if entry is None or entry[1].done():
            return False
        if exc is not None:
            entry[1].set_exception(exc)
        else:
            entry[1].set_result(value)
        return True

    def _sub_by_id(self, rid):
        return next((s for s in self._subs.values() if s.id == rid), None)

    def _on_msg(self, env):
        m = Message(env["topic"], env["seq"], env.get("ts"), env.get("data"),
                    bool(env.get("re")))
        for topic, lo, hi, got in self._replays.values():
            if topic == m.topic and m.seq >= lo and (hi is None or m.seq <= hi):
                got.setdefault(m.seq, m)
        for sub in self._subs.values():
            sub.offer(m)                        # ignored unless sub is attached to m.topic

    def _on_subscribed(self, env):
        sub = self._sub_by_id(env.get("id"))
        if sub is None:
            sub = self._subs.get(env.get("topic"))
        if sub is None:
            return                              # unsubscribed meanwhile
        # One per matching topic; a pattern is also confirmed by one without
        # `match`, once every worker has it. An exact topic is taken when
        # its only `subscribed` comes.
        if env.get("match"):
            sub.attach(env["match"], env["head"], env["oldest"])
        if (not env.get("match") or not sub.pattern) and not sub.ready.done():
            sub.ready.set_result(None)

    def _on_confirm(self, env):
        self._resolve(env.get("id"), env["seq"])

    def _on_reject(self, env):
        exc = PublishRejected(env.get("code"), env.get("reason"))
        if not self._resolve(env.get("id"), None, exc):
            self._report(exc)

    def _on_replayed(self, env):
        self._resolve(env.get("id"), env)

    def _on_pong(self, env):
        self._resolve(env.get("id"), None)

    def _on_gap(self, env):
        topic, lo, hi = env["topic"], env["from"], env["to"]
        # A resumed pattern asks from 0: what every subscriber had is no gap.
        lo = max(lo, self._seen_floor.get(topic, 0) + 1)
        if lo > hi:
            return
        self.gaps.append((topic, lo, hi))
        if self.on_gap is not None:
            self.on_gap(topic, lo, hi)

    def _on_error(self, env):
        # The failed request's op travels as `ref_op` (`op` is "error").
        ref, op = env.get("ref"), env.get("ref_op")
        exc = BrokerError(env.get("code"), env.get("text"), op)
        request = self._pending.get(ref, (None,))[0]
        if request is not None and request.get("op") == "pub":
            exc = PublishRejected(exc.code, exc.text)
        if ref is not None and self._resolve(ref, None, exc):
            return
        sub = self._sub_by_id(ref) if ref is not None else None
        if sub is not None and not sub.ready.done():
            sub.ready.set_exception(exc)
            return
        self._report(exc)

    def _report(self, exc):
        self.errors.append(exc)
        if self.on_error is not None:
            self.on_error(exc)


def pack(env):
    return msgpack.packb(env, use_bin_type=True)


def unpack(raw):
    if isinstance(raw, str):
        raise ValueError("text message")
    env = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    if not isinstance(env, dict):
        raise ValueError("envelope is not a map")
    return env

"""A raw-socket RFC 6455 client that can say anything, including the wrong thing.

The conformance cases need to send frames no well-behaved library would:
reserved bits and opcodes, unmasked frames, control frames that are too long
or fragmented, frames split at every byte, half a message and then silence.
So this client writes the bytes itself and reads the broker's frames back
strictly: a frame from the server that breaks the RFC (masked, RSV set,
unknown opcode, fragmented or oversized control frame, a text message that
is not UTF-8) is itself a failure.

Every read is bounded by a deadline; nothing here can hang.

    c = WsClient(host, port)              # TCP connect + upgrade to /echo
    c.send_frame(OP_TEXT, b"hi")          # masked, FIN, RSV 0
    c.expect_message(OP_TEXT, b"hi")
    c.close_normal()                      # close 1000, echo, TCP FIN

Over TLS (wss://), pass an ssl.SSLContext: WsClient(host, port, ssl_context=ctx).
The TLS layer is a TlsSocket (below), which keeps the raw-socket behaviour the
cases rely on: one TLS record per write (so a chopped write still reaches the
broker as many small reads), dup() for a writer thread, shutdown() of the TCP
connection without a TLS close_notify.
"""

import base64
import hashlib
import os
import socket
import ssl
import struct
import threading
import time

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
OP_NAMES = {OP_CONT: "continuation", OP_TEXT: "text", OP_BINARY: "binary",
            OP_CLOSE: "close", OP_PING: "ping", OP_PONG: "pong"}

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Close codes the cases expect by name.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009

DEFAULT_TIMEOUT_S = 5.0
# Chopped writes sleep between chops so the broker sees partial frames in
# separate reads; bounded so a long chopped payload does not crawl.
CHOP_PAUSE_S = 0.0005
CHOP_PAUSE_MAX_CHOPS = 256


class CaseFailure(AssertionError):
    """The broker did not behave as the case requires; str() says how."""


class TimedOut(CaseFailure):
    pass


def mask_bytes(data, key):
    """XOR data with the 4-byte key, fast enough for 16 MiB payloads."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    x = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return x.to_bytes(n, "little")


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None):
    """The bytes of one frame. rsv is the 3-bit RSV1..RSV3 field (RSV1 = 4)."""
    payload = bytes(payload)
    n = len(payload)
    head = bytearray()
    head.append((0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF))
    mbit = 0x80 if mask else 0
    if n <= 125:
        head.append(mbit | n)
    elif n <= 0xFFFF:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return bytes(head) + key + mask_bytes(payload, key)


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


def utf8_ok(data):
    try:
        bytes(data).decode("utf-8", "strict")
        return True
    except UnicodeDecodeError:
        return False


def describe(data, limit=24):
    """Short hex rendering of a payload for failure messages."""
    data = bytes(data)
    if len(data) <= limit:
        return f"{len(data)} bytes {data.hex()}"
    return f"{len(data)} bytes {data[:limit].hex()}..."


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "payload")

    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def __repr__(self):
        name = OP_NAMES.get(self.opcode, f"opcode {self.opcode:#x}")
        return f"{name} frame (fin={int(self.fin)}, {describe(self.payload)})"


class Event:
    """What the client saw next: a whole data message, a control frame, or EOF."""
    __slots__ = ("kind", "opcode", "payload", "code", "reason")

    def __init__(self, kind, opcode=None, payload=b"", code=None, reason=b""):
        self.kind, self.opcode, self.payload = kind, opcode, payload
        self.code, self.reason = code, reason

    def __str__(self):
        if self.kind == "message":
            return f"{OP_NAMES[self.opcode]} message ({describe(self.payload)})"
        if self.kind == "close":
            return "close frame with " + (f"code {self.code}" if self.code is not None
                                          else "no code")
        if self.kind in ("ping", "pong"):
            return f"{self.kind} ({describe(self.payload)})"
        return self.kind  # "eof" / "reset"


class TlsSocket:
    """A TLS client connection over a TCP socket, with a socket's interface.

    The TLS state is an ssl.SSLObject over memory BIOs; every call into it is
    serialised by a lock, and the TCP I/O happens outside that lock, so one
    thread may read while another writes (send_background) - which an
    ssl.SSLSocket does not allow. Writes of the same connection keep their
    order (one write lock over encrypt-and-send). Records are written as
    they are made: a sendall() of n bytes is one or more TLS records and
    nothing else. A peer's EOF without close_notify reads as EOF (as
    suppress_ragged_eofs does for SSLSocket); a TLS alert raises ssl.SSLError.

    Ownership: the TlsSocket owns the TCP socket given to it; close() closes it.
    """

    READ_CHUNK = 1 << 16

    def __init__(self, sock, context, server_hostname=None, session=None):
        self.raw = sock
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._in, self._out, server_hostname=server_hostname,
                                    session=session)
        self._state = threading.Lock()     # the SSLObject and its BIOs
        self._send = threading.Lock()      # order of records on the wire
        self._eof = False
        self._handshake()

    def _handshake(self):
        deadline = None if self.raw.gettimeout() is None else \
            time.monotonic() + self.raw.gettimeout()
        while True:
            try:
                with self._state:
                    self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush(self.raw)
                if deadline is not None and time.monotonic() >= deadline:
                    raise socket.timeout("TLS handshake timed out")
                if not self._pull(self.raw):
                    raise ConnectionResetError("connection closed during the TLS handshake")
        self._flush(self.raw)

    def _flush(self, sock, wait=True):
        """Send whatever the SSLObject has produced (records, alerts).

        The reader calls this with wait=False: a writer blocked in sendall()
        (the broker is not reading until we read its echo) must not block the
        reader too; a writer sends the pending bytes with its next record.
        """
        if not self._send.acquire(blocking=wait):
            return
        try:
            with self._state:
                data = self._out.read()
            if data:
                sock.sendall(data)
        finally:
            self._send.release()

    def _pull(self, sock):
        """One TCP read into the TLS input; False on EOF."""
        data = sock.recv(self.READ_CHUNK)
        with self._state:
            if data:
                self._in.write(data)
            else:
                self._in.write_eof()
                self._eof = True
        return bool(data)

    # --- the socket interface WsClient uses ---------------------------------

    def sendall(self, data, sock=None):
        sock = sock or self.raw
        view = memoryview(data)
        with self._send:
            with self._state:
                self.tls.write(view)
                out = self._out.read()
            sock.sendall(out)

    def recv(self, n):
        while True:
            try:
                with self._state:
                    data = self.tls.read(n)
                self._flush(self.raw, wait=False)    # e.g. a KeyUpdate reply
                return data
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            if self._eof:
                return b""
            self._flush(self.raw, wait=False)
            self._pull(self.raw)

    def settimeout(self, t):
        self.raw.settimeout(t)

    def gettimeout(self):
        return self.raw.gettimeout()

    def setsockopt(self, *a):
        self.raw.setsockopt(*a)

    def shutdown(self, how):
        """TCP shutdown, no close_notify: the cases stop in the middle of things."""
        self.raw.shutdown(how)

    def close(self):
        self.raw.close()

    def dup(self):
        """A writer on this connection with its own TCP descriptor (and timeout)."""
        return _TlsWriter(self, self.raw.dup())

    # --- TLS facts ------------------------------------------------------------

    @property
    def session(self):
        return self.tls.session

    @property
    def session_reused(self):
        return self.tls.session_reused

    def version(self):
        return self.tls.version()

    def cipher(self):
        return self.tls.cipher()

    def selected_alpn_protocol(self):
        return self.tls.selected_alpn_protocol()

    def getpeercert(self, binary_form=False):
        return self.tls.getpeercert(binary_form)


class _TlsWriter:
    """TlsSocket.dup(): sendall() through the shared TLS state, on its own fd."""

    def __init__(self, owner, raw):
        self.owner, self.raw = owner, raw

    def sendall(self, data):
        self.owner.sendall(data, sock=self.raw)

    def settimeout(self, t):
        self.raw.settimeout(t)

    def gettimeout(self):
        return self.raw.gettimeout()

    def close(self):
        self.raw.close()


class WsClient:
    """One WebSocket connection to the broker, upgraded in the constructor."""

    def __init__(self, host, port, path="/echo", timeout=DEFAULT_TIMEOUT_S, early=b"",
                 ssl_context=None, server_hostname=None, ssl_session=None, headers=()):
        """early: bytes (frames) written in the same write as the upgrade request.
        ssl_context: speak TLS (wss://) first, checking the certificate against
        server_hostname (default: host); ssl_session resumes an earlier
        session (self.sock.session after a first connection).
        headers: extra (name, value) request headers."""
        self.timeout = timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            try:
                sock = TlsSocket(sock, ssl_context, server_hostname or host, ssl_session)
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self.tls = sock if ssl_context is not None else None
        self.extra_headers = "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.buf = bytearray()
        self.closed_sent = False
        self.partial = None  # (opcode, bytearray, frames) of a data message being read
        self.message_frames = 0  # how many frames the last whole message came in
        try:
            self._handshake(host, port, path, early)
        except BaseException:
            self.close_socket()       # a refused upgrade leaves no socket behind
            raise

    # --- connection --------------------------------------------------------

    def _handshake(self, host, port, path, early):
        key = base64.b64encode(os.urandom(16))
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key.decode()}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{self.extra_headers}\r\n").encode()
        self.sock.sendall(req + early)
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 16384:
                raise CaseFailure("handshake response over 16 KiB")
            if not self._fill(deadline):
                raise CaseFailure(f"connection closed during handshake: {bytes(self.buf)!r}")
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end]
        lines = head.split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise CaseFailure(f"handshake refused: {lines[0]!r}")
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        if fields.get("sec-websocket-accept") != want:
            raise CaseFailure(f"bad Sec-WebSocket-Accept {fields.get('sec-websocket-accept')!r}")

    def close_socket(self):
        """Close our side; shutdown() also stops a send_background() writer."""
        for step in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
            try:
                step()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_socket()
        return False

    # --- sending -----------------------------------------------------------

    def send_raw(self, data, chop=None, pause=None, sock=None):
        """Write data, in chops of `chop` bytes if given (one write per chop).

        A peer that already closed may reset us mid-write; that is not this
        function's business, the reads that follow report the close. A write
        that blocks for the whole timeout (the broker stopped reading) fails.
        sock: another descriptor of this connection (see send_background).
        """
        sock = sock or self.sock
        if sock is self.sock:
            sock.settimeout(self.timeout)
        try:
            if not chop:
                sock.sendall(data)
                return
            if pause is None:
                pause = CHOP_PAUSE_S if len(data) <= chop * CHOP_PAUSE_MAX_CHOPS else 0
            view = memoryview(data)
            for i in range(0, len(data), chop):
                sock.sendall(view[i:i + chop])
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except socket.timeout:
            raise CaseFailure(f"a write blocked for {sock.gettimeout():g} s: "
                              "the broker stopped reading") from None

    def send_background(self, data):
        """Write data from another thread (through a dup of the socket, so its
        timeout is its own) while this one reads. Returns the thread; join()
        it. A write error there is only remembered in thread.error."""
        dup = self.sock.dup()
        dup.settimeout(self.timeout)

        def write():
            try:
                self.send_raw(data, sock=dup)
            except CaseFailure as e:
                t.error = e
            finally:
                dup.close()
        t = threading.Thread(target=write, daemon=True)
        t.error = None
        t.start()
        return t

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True,
                   chop=None, sync=False):
        """Send one frame. sync: pause afterwards so it arrives in its own read."""
        self.send_raw(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask), chop)
        if sync:
            time.sleep(0.02)

    def send_message(self, opcode, payload, frag_size=None, chop=None):
        """A data message in one frame, or in fragments of frag_size bytes."""
        self.send_raw(encode_message(opcode, payload, frag_size), chop)

    def send_close(self, code=None, reason=b"", raw=None):
        self.closed_sent = True
        self.send_frame(OP_CLOSE, close_payload(code, reason) if raw is None else raw)

    # --- receiving ---------------------------------------------------------

    def _fill(self, deadline):
        """One recv into the buffer before deadline; False on EOF, raises on timeout."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimedOut("timed out waiting for the broker")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimedOut("timed out waiting for the broker") from None
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _need(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError
        return True

    def recv_frame(self, deadline):
        """The next frame, checked against RFC 6455's rules for a server."""
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF
        masked, n = bool(b1 & 0x80), b1 & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack_from("!H", self.buf, 2)[0]
            pos = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack_from("!Q", self.buf, 2)[0]
            pos = 10
        if masked:
            raise CaseFailure(f"server sent a masked frame (opcode {opcode:#x})")
        if rsv:
            raise CaseFailure(f"server sent a frame with RSV bits {rsv:#x}")
        if opcode not in OP_NAMES:
            raise CaseFailure(f"server sent reserved opcode {opcode:#x}")
        if opcode >= 8 and (n > 125 or not fin):
            raise CaseFailure(f"server sent a bad control frame (opcode {opcode:#x}, "
                              f"len {n}, fin {int(fin)})")
        if n > (64 << 20):
            raise CaseFailure(f"server announced a {n}-byte frame")
        self._need(pos + n, deadline)
        payload = bytes(self.buf[pos:pos + n])
        del self.buf[:pos + n]
        return Frame(fin, rsv, opcode, payload)

    def next_event(self, timeout=None):
        """The next message / control frame / 'eof' / 'reset', within timeout.

        Data frames are reassembled into messages (as Autobahn does), with
        the continuation rules checked.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                f = self.recv_frame(deadline)
            except EOFError:
                if self.buf:
                    raise CaseFailure(f"connection closed inside a frame "
                                      f"({len(self.buf)} bytes left over)")
                return Event("eof")
            except ConnectionResetError:
                return Event("reset")
            if f.opcode == OP_CLOSE:
                return self._close_event(f.payload)
            if f.opcode == OP_PING:
                return Event("ping", OP_PING, f.payload)
            if f.opcode == OP_PONG:
                return Event("pong", OP_PONG, f.payload)
            if f.opcode == OP_CONT:
                if self.partial is None:
                    raise CaseFailure("server sent a continuation frame with nothing to continue")
                self.partial[1].extend(f.payload)
                self.partial[2] += 1
            else:
                if self.partial is not None:
                    raise CaseFailure("server started a new message inside a fragmented one")
                self.partial = [f.opcode, bytearray(f.payload), 1]
            if f.fin:
                op, data, self.message_frames = self.partial
                self.partial = None
                data = bytes(data)
                if op == OP_TEXT and not utf8_ok(data):
                    raise CaseFailure(f"server sent a text message that is not UTF-8 "
                                      f"({describe(data)})")
                return Event("message", op, data)

    @staticmethod
    def _close_event(payload):
        if len(payload) == 0:
            return Event("close")
        if len(payload) == 1:
            raise CaseFailure("server sent a close frame with a 1-byte payload")
        code = struct.unpack("!H", payload[:2])[0]
        reason = payload[2:]
        if not utf8_ok(reason):
            raise CaseFailure(f"server sent a close reason that is not UTF-8 ({describe(reason)})")
        return Event("close", OP_CLOSE, payload, code, reason)

    # --- expectations ------------------------------------------------------

    def _next(self, timeout, expecting):
        """next_event(), with a timeout reported as what was being waited for."""
        wait = self.timeout if timeout is None else timeout
        try:
            return self.next_event(wait)
        except TimedOut:
            raise CaseFailure(f"expected {expecting}, got nothing within {wait:g} s") from None

    def expect_message(self, opcode, payload, timeout=None):
        ev = self._next(timeout, f"{OP_NAMES[opcode]} message ({describe(payload)})")
        if ev.kind != "message" or ev.opcode != opcode or ev.payload != payload:
            raise CaseFailure(f"expected {OP_NAMES[opcode]} message ({describe(payload)}), "
                              f"got {ev}" + _diff(ev, payload))

    def expect_pong(self, payload, timeout=None):
        ev = self._next(timeout, f"pong ({describe(payload)})")
        if ev.kind != "pong" or ev.payload != payload:
            raise CaseFailure(f"expected pong ({describe(payload)}), got {ev}")

    def expect_silence(self, duration):
        """Nothing at all arrives for duration seconds (and the TCP stays open)."""
        try:
            ev = self.next_event(duration)
        except TimedOut:
            return
        raise CaseFailure(f"expected nothing for {duration:g} s, got {ev}")

    def expect_tcp_close(self, timeout=None, allow_reset=False):
        """The broker closes TCP; no more frames come first."""
        ev = self._next(timeout, "the broker to close TCP after the close frame")
        if ev.kind == "eof" or (allow_reset and ev.kind == "reset"):
            return
        if ev.kind == "reset":
            raise CaseFailure("broker reset the TCP connection instead of closing it")
        raise CaseFailure(f"expected TCP close after the close handshake, got {ev}")

    def expect_fail(self, code, timeout=None, what="close", mid_frame=False):
        """The broker fails the connection: a close frame with `code`, then TCP close.

        The close is answered as a client should, with a close frame; but
        mid_frame (we stopped, or are still writing, inside a frame) answers
        with a TCP FIN instead, as a close frame cannot be sent there. A
        reset after the broker's close frame is accepted (Autobahn does not
        require a clean TCP close when failing).
        """
        codes = code if isinstance(code, (tuple, list, set)) else (code,)
        ev = self._next(timeout, f"{what} {_codes(codes)}")
        self.check_fail(ev, codes, what, mid_frame)

    def check_fail(self, ev, codes, what="close", mid_frame=False):
        """expect_fail() for an event already read."""
        if ev.kind != "close":
            raise CaseFailure(f"expected {what} {_codes(codes)}, got {ev}")
        if ev.code not in codes:
            got = ev.code if ev.code is not None else "a close frame without code"
            raise CaseFailure(f"expected {what} {_codes(codes)} got {got}"
                              + (f" (reason {ev.reason!r})" if ev.reason else ""))
        if mid_frame:
            try:
                self.sock.shutdown(socket.SHUT_WR)   # also stops send_background()
            except OSError:
                pass
        elif not self.closed_sent:
            self.send_close(ev.code)
        self.expect_tcp_close(allow_reset=True)

    def close_normal(self, code=CLOSE_NORMAL, reason=b"", expect_code=CLOSE_NORMAL,
                     timeout=None):
        """Client-initiated close: the broker echoes the code and closes TCP (FIN)."""
        self.send_close(code, reason)
        self.expect_close_reply(expect_code, timeout)

    def expect_close_reply(self, expect_code=CLOSE_NORMAL, timeout=None):
        """After our close: nothing but the broker's close (with expect_code), then FIN.

        expect_code None means an empty close (or 1000) is required.
        """
        ev = self._next(timeout, f"close reply {expect_code or '(empty or 1000)'}")
        if ev.kind != "close":
            raise CaseFailure(f"expected close reply {expect_code}, got {ev}")
        if expect_code is None:
            if ev.code not in (None, CLOSE_NORMAL):
                raise CaseFailure(f"expected empty close or 1000 got {ev.code}")
        elif ev.code != expect_code:
            got = ev.code if ev.code is not None else "a close frame without code"
            raise CaseFailure(f"expected close reply {expect_code} got {got}")
        self.expect_tcp_close()


def encode_message(opcode, payload, frag_size=None, mask=True):
    """The frames of one data message, as bytes."""
    if not frag_size or len(payload) <= frag_size:
        return encode_frame(opcode, payload, mask=mask)
    view = memoryview(payload)
    parts = []
    n = len(payload)
    for i in range(0, n, frag_size):
        last = i + frag_size >= n
        parts.append(encode_frame(opcode if i == 0 else OP_CONT, view[i:i + frag_size],
                                  fin=last, mask=mask))
    return b"".join(parts)


def _codes(codes):
    return "/".join(str(c) for c in codes)


def _diff(ev, want):
    if ev.kind != "message" or len(ev.payload) != len(want):
        return ""
    for i, (a, b) in enumerate(zip(ev.payload, want)):
        if a != b:
            return f"; first difference at byte {i}"
    return ""

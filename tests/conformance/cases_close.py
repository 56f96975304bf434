"""Autobahn 7.x: the closing handshake (RFC 6455 sections 5.5.1, 7.4).

A client-initiated close must be answered with a close frame (the client's
code echoed, or empty/1000 for an empty close) and then the broker closes
TCP. Frames after the client's close are ignored. A bad close payload fails
the connection with 1002 (bad length or code) or 1007 (reason not UTF-8).
"""

import time

from case import Case
from wsclient import (OP_CONT, OP_PING, OP_TEXT, CLOSE_INVALID_PAYLOAD, CLOSE_NORMAL,
                      CLOSE_PROTOCOL_ERROR, CaseFailure, close_payload, encode_frame)

VALID_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999)
# 7.9.1-7.9.9 in Autobahn's order.
INVALID_CODES = (0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999)
# Not in today's Autobahn: 1012-1014 are IANA-registered since RFC 6455 but
# not defined by it; this broker's rule (proto/ws_close.h) accepts only
# 1000-1003, 1007-1011 and 3000-4999, so they and 1015 must fail too.
UNDEFINED_CODES = (1012, 1013, 1014, 1015)
OUT_OF_RANGE_CODES = (5000, 65535)


def _text_then_close(connect):
    with connect() as c:
        c.send_frame(OP_TEXT, b"Hello World!")
        c.send_close(CLOSE_NORMAL)
        c.expect_message(OP_TEXT, b"Hello World!")
        c.expect_close_reply(CLOSE_NORMAL)


def _ignored_after_close(*frames):
    """Our close, then frames that must be ignored: only the close reply comes."""
    def run(connect):
        with connect() as c:
            c.send_raw(encode_frame(0x8, close_payload(CLOSE_NORMAL))
                       + b"".join(encode_frame(*f) for f in frames))
            c.closed_sent = True
            c.expect_close_reply(CLOSE_NORMAL)
    return run


def _close_inside_message(connect):
    """7.1.5: first fragment, close, second fragment: a clean close, no echo."""
    with connect() as c:
        c.send_raw(encode_frame(OP_TEXT, b"fragment1", fin=False)
                   + encode_frame(0x8, close_payload(CLOSE_NORMAL))
                   + encode_frame(OP_CONT, b"fragment2", fin=True))
        c.closed_sent = True
        c.expect_close_reply(CLOSE_NORMAL)


def _big_message_then_close(connect):
    """7.1.6 (informational in Autobahn): 256 KiB message, small message,
    close, ping. The broker may or may not echo the messages before the close
    reply; whatever it sends must be exact and end in close 1000 + TCP close."""
    big = (b"BAsd7&jh23" * (256 * 1024 // 10 + 1))[:256 * 1024]
    with connect() as c:
        c.send_raw(encode_frame(OP_TEXT, big) + encode_frame(OP_TEXT, b"Hello World!")
                   + encode_frame(0x8, close_payload(CLOSE_NORMAL)) + encode_frame(OP_PING))
        c.closed_sent = True
        ev = c.next_event()
        echoed = []
        while ev.kind == "message" and len(echoed) < 2:
            want = (big, b"Hello World!")[len(echoed)]
            if ev.payload != want:
                raise CaseFailure(f"echo {len(echoed) + 1} differs: {ev}")
            echoed.append(ev)
            ev = c.next_event()
        c.check_fail(ev, (CLOSE_NORMAL,), what="close reply")
        return f"informational: {len(echoed)} of 2 messages echoed before the close"


def _close(payload, expect, fail):
    """Send a close with this payload; expect the reply code (fail: a failure close)."""
    def run(connect):
        with connect() as c:
            c.send_close(raw=payload)
            if fail:
                c.expect_fail(expect)
            else:
                c.expect_close_reply(expect)
    return run


def _no_tcp_after_close(connect):
    """Not in Autobahn: after the close handshake the broker closes TCP even
    though we keep ours open and stay silent (it must not wait for us)."""
    with connect() as c:
        c.send_close(CLOSE_NORMAL)
        start = time.monotonic()
        c.expect_close_reply(CLOSE_NORMAL)
        took = time.monotonic() - start
        if took > 2.0:
            return f"TCP close took {took:.1f} s"


def cases():
    reason = b"Hello World!"
    out = [
        Case("7.1.1", "text message, then close", _text_then_close),
        Case("7.1.2", "close, then a second close", _ignored_after_close(
            (0x8, close_payload(CLOSE_NORMAL)))),
        Case("7.1.3", "close, then ping", _ignored_after_close((OP_PING, b"Hello World!"))),
        Case("7.1.4", "close, then text", _ignored_after_close((OP_TEXT, b"Hello World!"))),
        Case("7.1.5", "text fragment, close, last fragment", _close_inside_message),
        Case("7.1.6", "256 KiB message, message, close, ping", _big_message_then_close,
             weight=3),
        Case("7.3.1", "close without payload", _close(b"", None, False)),
        Case("7.3.2", "close with 1-byte payload", _close(b"\x03", CLOSE_PROTOCOL_ERROR, True)),
        Case("7.3.3", "close 1000 without reason", _close(close_payload(1000), 1000, False)),
        Case("7.3.4", "close 1000 with reason", _close(close_payload(1000, reason), 1000, False)),
        Case("7.3.5", "close 1000 with 123-byte reason",
             _close(close_payload(1000, b"*" * 123), 1000, False)),
        Case("7.3.6", "close 1000 with 124-byte reason (payload 126)",
             _close(close_payload(1000, b"*" * 124), CLOSE_PROTOCOL_ERROR, True)),
        Case("7.5.1", "close 1000 with invalid UTF-8 in the reason",
             _close(close_payload(1000, bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564")),
                    CLOSE_INVALID_PAYLOAD, True)),
        Case("7.x.1", "close; the broker closes TCP without waiting for the client",
             _no_tcp_after_close),
        Case("7.x.2", "close with multi-byte UTF-8 reason",
             _close(close_payload(1000, "κόσμε €".encode()), 1000, False)),
    ]
    for i, code in enumerate(VALID_CODES, 1):
        out.append(Case(f"7.7.{i}", f"close with valid code {code}",
                        _close(close_payload(code), code, False)))
    for i, code in enumerate(INVALID_CODES, 1):
        out.append(Case(f"7.9.{i}", f"close with invalid code {code}",
                        _close(close_payload(code), CLOSE_PROTOCOL_ERROR, True)))
    for code in UNDEFINED_CODES:
        out.append(Case(f"7.9.x/{code}", f"close with code {code} (not defined by RFC 6455)",
                        _close(close_payload(code), CLOSE_PROTOCOL_ERROR, True)))
    for i, code in enumerate(OUT_OF_RANGE_CODES, 1):
        out.append(Case(f"7.13.{i}", f"close with out-of-range code {code}",
                        _close(close_payload(code), CLOSE_PROTOCOL_ERROR, True)))
    return out

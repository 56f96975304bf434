"""Autobahn 2.x: pings and pongs (RFC 6455 section 5.5.2/5.5.3)."""

from case import Case
from wsclient import OP_PING, OP_PONG, CLOSE_PROTOCOL_ERROR, encode_frame

BINARY_SMALL = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"


def _ping(payload, chop=None):
    def run(connect):
        with connect() as c:
            c.send_raw(encode_frame(OP_PING, payload), chop)
            c.expect_pong(payload)
            c.close_normal()
    return run


def _ping_too_long(connect):
    with connect() as c:
        c.send_frame(OP_PING, b"\xfe" * 126)
        c.expect_fail(CLOSE_PROTOCOL_ERROR)


def _unsolicited_pong(payload):
    def run(connect):
        with connect() as c:
            c.send_frame(OP_PONG, payload)
            c.close_normal()   # nothing may come back before the close reply
    return run


def _pong_then_ping(connect):
    with connect() as c:
        c.send_frame(OP_PONG, b"unsolicited pong payload")
        c.send_frame(OP_PING, b"ping payload")
        c.expect_pong(b"ping payload")
        c.close_normal()


def _ten_pings(chop=None):
    def run(connect):
        pings = [f"payload-{i}".encode() for i in range(10)]
        with connect() as c:
            c.send_raw(b"".join(encode_frame(OP_PING, p) for p in pings), chop)
            for p in pings:
                c.expect_pong(p)
            c.close_normal()
    return run


def cases():
    return [
        Case("2.1", "ping without payload", _ping(b"")),
        Case("2.2", "ping with small text payload", _ping(b"Hello, world!")),
        Case("2.3", "ping with small binary payload", _ping(BINARY_SMALL)),
        Case("2.4", "ping with 125-byte binary payload", _ping(b"\xfe" * 125)),
        Case("2.5", "ping with 126-byte payload", _ping_too_long),
        Case("2.6", "ping with 125-byte payload, 1 byte per write",
             _ping(b"\xfe" * 125, chop=1)),
        Case("2.7", "unsolicited pong without payload", _unsolicited_pong(b"")),
        Case("2.8", "unsolicited pong with payload",
             _unsolicited_pong(b"unsolicited pong payload")),
        Case("2.9", "unsolicited pong, then ping", _pong_then_ping),
        Case("2.10", "10 pings in a row", _ten_pings()),
        Case("2.11", "10 pings in a row, 1 byte per write", _ten_pings(chop=1)),
    ]

"""Autobahn 1.x (framing: payload lengths at every length-encoding boundary)
and 10.x (a message the client auto-fragments), plus an unmasked client frame.
"""

import struct

from case import Case
from wsclient import (OP_BINARY, OP_PING, OP_TEXT, CLOSE_PROTOCOL_ERROR, CaseFailure,
                      encode_frame, mask_bytes)

LENGTHS = (0, 125, 126, 127, 128, 65535, 65536)


def _echo(opcode, length, chop=None):
    fill = b"*" if opcode == OP_TEXT else b"\xfe"
    payload = fill * length

    def run(connect):
        with connect() as c:
            c.send_raw(encode_frame(opcode, payload), chop)
            c.expect_message(opcode, payload)
            c.close_normal()
    return run


def _unmasked(connect):
    with connect() as c:
        c.send_frame(OP_TEXT, b"Hello, world!", mask=False)
        c.expect_fail(CLOSE_PROTOCOL_ERROR)


def _unmasked_after_valid(connect):
    with connect() as c:
        c.send_frame(OP_TEXT, b"first")
        c.send_frame(OP_BINARY, b"\x00\x01", mask=False)
        c.expect_message(OP_TEXT, b"first")
        c.expect_fail(CLOSE_PROTOCOL_ERROR)


def _length_msb_set(connect):
    """A 64-bit length with the most significant bit set (RFC 6455 5.2: it
    MUST be 0). Only the header and 4 payload bytes are sent."""
    key = b"\x01\x02\x03\x04"
    head = bytes((0x82, 0x80 | 127)) + struct.pack("!Q", (1 << 63) | 4) + key
    with connect() as c:
        c.send_raw(head + mask_bytes(b"abcd", key))
        c.expect_fail(CLOSE_PROTOCOL_ERROR, mid_frame=True)


def _pipelined(connect):
    """Frames in the same write as the upgrade request are not lost."""
    early = (encode_frame(OP_TEXT, b"right behind the request")
             + encode_frame(OP_PING, b"and a ping"))
    want = {("message", b"right behind the request"), ("pong", b"and a ping")}
    with connect(early=early) as c:
        # The RFC does not order a pong against the echo of an earlier message.
        got = [c.next_event() for _ in range(2)]
        if {(e.kind, e.payload) for e in got} != want:
            raise CaseFailure("expected the echo and the pong, got " + ", ".join(map(str, got)))
        c.close_normal()


def _one_frame_echo(connect):
    """docs/configuration.md: /echo sends the whole message as one frame."""
    payload = bytes(range(256)) * 40
    with connect() as c:
        c.send_message(OP_BINARY, payload, frag_size=100)
        c.expect_message(OP_BINARY, payload)
        if c.message_frames != 1:
            raise CaseFailure(f"echo came in {c.message_frames} frames, the contract says one")
        c.close_normal()


def _autofragmented(connect):
    payload = b"*" * 65536
    with connect() as c:
        c.send_message(OP_TEXT, payload, frag_size=1300)
        c.expect_message(OP_TEXT, payload)
        c.close_normal()


def cases():
    out = []
    for group, opcode, name in ((1, OP_TEXT, "text"), (2, OP_BINARY, "binary")):
        for i, n in enumerate(LENGTHS, 1):
            out.append(Case(f"1.{group}.{i}", f"{name} message, payload length {n}",
                            _echo(opcode, n), weight=1 + n // 16384))
            if n <= 128:
                out.append(Case(f"1.{group}.{i}/chop1",
                                f"{name} message, payload length {n}, 1 byte per write",
                                _echo(opcode, n, chop=1)))
        out.append(Case(f"1.{group}.8", f"{name} message, payload length 65536, "
                        "sent in chops of 997 bytes", _echo(opcode, 65536, chop=997), weight=4))
        out.append(Case(f"1.{group}.8/chop1", f"{name} message, payload length 65536, "
                        "1 byte per write", _echo(opcode, 65536, chop=1), weight=20))
    out.append(Case("1.x.1", "unmasked client text frame", _unmasked))
    out.append(Case("1.x.2", "valid text frame, then an unmasked binary frame",
                    _unmasked_after_valid))
    out.append(Case("1.x.3", "64-bit payload length with the top bit set", _length_msb_set))
    out.append(Case("1.x.4", "text and ping in the same write as the upgrade request",
                    _pipelined))
    out.append(Case("10.x.1", "echo of a message sent in 103 fragments is one frame "
                    "(broker contract)", _one_frame_echo))
    out.append(Case("10.1.1", "text message of 65536 bytes in fragments of 1300",
                    _autofragmented, weight=4))
    return out

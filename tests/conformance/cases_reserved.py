"""Autobahn 3.x (RSV bits without a negotiated extension) and 4.x (reserved
opcodes): the broker must fail the connection with 1002, after echoing any
valid message that came before the bad frame.
"""

from case import Case
from wsclient import (OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, CLOSE_NORMAL,
                      CLOSE_PROTOCOL_ERROR, close_payload, encode_frame)

HELLO = b"Hello, world!"


def _rsv_on(opcode, rsv, payload):
    def run(connect):
        with connect() as c:
            c.send_frame(opcode, payload, rsv=rsv)
            c.expect_fail(CLOSE_PROTOCOL_ERROR)
    return run


def _rsv_after_valid(rsv, mode):
    """Valid text, text with RSV set, ping: echo of the first, then 1002.

    mode: "bulk" (one write), "sync" (frame by frame, each in its own read),
    "chop1" (1 byte per write).
    """
    def run(connect):
        frames = [encode_frame(OP_TEXT, HELLO), encode_frame(OP_TEXT, HELLO, rsv=rsv),
                  encode_frame(OP_PING, b"")]
        with connect() as c:
            if mode == "sync":
                c.send_raw(frames[0])
                c.expect_message(OP_TEXT, HELLO)
                c.send_raw(frames[1])
                c.send_raw(frames[2])
            else:
                c.send_raw(b"".join(frames), chop=1 if mode == "chop1" else None)
                c.expect_message(OP_TEXT, HELLO)
            c.expect_fail(CLOSE_PROTOCOL_ERROR)
    return run


def _opcode(op, payload, after_valid):
    def run(connect):
        with connect() as c:
            if after_valid:
                c.send_frame(OP_TEXT, HELLO)
            c.send_frame(op, payload)
            if after_valid:
                c.send_frame(OP_PING, b"")
                c.expect_message(OP_TEXT, HELLO)
            c.expect_fail(CLOSE_PROTOCOL_ERROR)
    return run


def cases():
    # Autobahn's numbering: the 3-bit RSV field is 1..7 in cases 3.1..3.7
    # (field value 4 = RSV1, 2 = RSV2, 1 = RSV3).
    out = [
        Case("3.1", "RSV field 1 on a text frame", _rsv_on(OP_TEXT, 1, HELLO)),
        Case("3.2", "text, text with RSV field 2, ping (one write)", _rsv_after_valid(2, "bulk")),
        Case("3.3", "text, text with RSV field 3, ping (frame by frame)",
             _rsv_after_valid(3, "sync")),
        Case("3.4", "text, text with RSV field 4, ping (1 byte per write)",
             _rsv_after_valid(4, "chop1")),
        Case("3.5", "RSV field 5 on a binary frame",
             _rsv_on(OP_BINARY, 5, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")),
        Case("3.6", "RSV field 6 on a ping", _rsv_on(OP_PING, 6, HELLO)),
        Case("3.7", "RSV field 7 on a close",
             _rsv_on(OP_CLOSE, 7, close_payload(CLOSE_NORMAL))),
    ]
    # Each RSV bit alone on each data/control opcode that 3.x touches.
    for rsv, bit in ((4, 1), (2, 2), (1, 3)):
        for op, name, payload in ((OP_TEXT, "text", HELLO), (OP_BINARY, "binary", b"\x00\xff"),
                                  (OP_PING, "ping", HELLO)):
            out.append(Case(f"3.x.rsv{bit}.{name}", f"RSV{bit} alone on a {name} frame",
                            _rsv_on(op, rsv, payload)))
    payload = b"reserved opcode payload"
    for group, ops in ((1, (3, 4, 5, 6, 7)), (2, (0xB, 0xC, 0xD, 0xE, 0xF))):
        kind = "non-control" if group == 1 else "control"
        for i, op in enumerate(ops, 1):
            with_payload = i != 1
            after_valid = i >= 3
            title = f"reserved {kind} opcode {op}" + (" with payload" if with_payload else "")
            if after_valid:
                title = f"text, {title}, ping"
            out.append(Case(f"4.{group}.{i}", title,
                            _opcode(op, payload if with_payload else b"", after_valid)))
    return out

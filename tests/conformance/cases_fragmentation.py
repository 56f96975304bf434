"""Autobahn 5.x: fragmentation (RFC 6455 section 5.4).

Most cases come in three sending modes, as Autobahn's do:
  bulk  - all frames in one write;
  sync  - frame by frame, each arriving in its own read;
  chop1 - the whole byte stream 1 byte per write.
"""

import time

from case import Case
from wsclient import (OP_CONT, OP_PING, OP_PONG, OP_TEXT, CLOSE_PROTOCOL_ERROR,
                      encode_frame)

MODES = ("bulk", "sync", "chop1")


def _send(c, frames, mode):
    """frames: list of (opcode, payload, fin)."""
    raw = [encode_frame(op, p, fin=fin) for op, p, fin in frames]
    if mode == "bulk":
        c.send_raw(b"".join(raw))
    elif mode == "sync":
        for r in raw:
            c.send_raw(r)
            time.sleep(0.02)
    else:
        c.send_raw(b"".join(raw), chop=1)


def _fragmented_control(op):
    def run(connect):
        with connect() as c:
            _send(c, [(op, b"fragment1", False), (OP_CONT, b"fragment2", True)], "bulk")
            c.expect_fail(CLOSE_PROTOCOL_ERROR)
    return run


def _two_fragments(mode):
    def run(connect):
        with connect() as c:
            _send(c, [(OP_TEXT, b"fragment1", False), (OP_CONT, b"fragment2", True)], mode)
            c.expect_message(OP_TEXT, b"fragment1fragment2")
            c.close_normal()
    return run


def _ping_between(mode):
    def run(connect):
        with connect() as c:
            _send(c, [(OP_TEXT, b"fragment1", False), (OP_PING, b"ping payload", True),
                      (OP_CONT, b"fragment2", True)], mode)
            c.expect_pong(b"ping payload")
            c.expect_message(OP_TEXT, b"fragment1fragment2")
            c.close_normal()
    return run


def _nothing_to_continue(fin, mode):
    def run(connect):
        with connect() as c:
            _send(c, [(OP_CONT, b"non-continuation payload", fin),
                      (OP_TEXT, b"Hello, world!", True)], mode)
            c.expect_fail(CLOSE_PROTOCOL_ERROR)
    return run


def _case_5_15(connect):
    with connect() as c:
        _send(c, [(OP_TEXT, b"fragment1", False), (OP_CONT, b"fragment2", True),
                  (OP_CONT, b"fragment3", False), (OP_TEXT, b"fragment4", True)], "bulk")
        c.expect_message(OP_TEXT, b"fragment1fragment2")
        c.expect_fail(CLOSE_PROTOCOL_ERROR)


def _cont_text_cont_twice(first_fin):
    def run(connect):
        frames = [(OP_CONT, b"fragment1", first_fin), (OP_TEXT, b"fragment2", False),
                  (OP_CONT, b"fragment3", True)] * 2
        with connect() as c:
            _send(c, frames, "bulk")
            c.expect_fail(CLOSE_PROTOCOL_ERROR)
    return run


def _text_inside_text(connect):
    with connect() as c:
        _send(c, [(OP_TEXT, b"fragment1", False), (OP_TEXT, b"fragment2", True)], "bulk")
        c.expect_fail(CLOSE_PROTOCOL_ERROR)


def _pings_in_long_message(mode):
    """5.19/5.20: 5 fragments, a ping after the 2nd, 1 s pause, a ping before
    the last. The first pong must come before the message is complete."""
    def run(connect):
        frags = [b"fragment%d" % i for i in range(1, 6)]
        with connect() as c:
            _send(c, [(OP_TEXT, frags[0], False), (OP_CONT, frags[1], False),
                      (OP_PING, b"pongme 1!", True)], mode)
            c.expect_pong(b"pongme 1!", timeout=2.0)
            c.expect_silence(0.5)
            _send(c, [(OP_CONT, frags[2], False), (OP_CONT, frags[3], False),
                      (OP_PING, b"pongme 2!", True), (OP_CONT, frags[4], True)], mode)
            c.expect_pong(b"pongme 2!")
            c.expect_message(OP_TEXT, b"".join(frags))
            c.close_normal()
    return run


def _pong_between(connect):
    """Not in Autobahn: an unsolicited pong inside a fragmented message is legal
    and must change nothing."""
    with connect() as c:
        _send(c, [(OP_TEXT, b"fragment1", False), (OP_PONG, b"pong", True),
                  (OP_CONT, b"fragment2", True)], "bulk")
        c.expect_message(OP_TEXT, b"fragment1fragment2")
        c.close_normal()


def _many_text_fragments(mode):
    """Not in Autobahn: 10 fragments, three of them empty."""
    def run(connect):
        parts = [b"a", b"", b"bc", b"", b"def", b"ghij", b"", b"k", b"lm", b"n"]
        frames = [(OP_TEXT if i == 0 else OP_CONT, p, i == len(parts) - 1)
                  for i, p in enumerate(parts)]
        with connect() as c:
            _send(c, frames, mode)
            c.expect_message(OP_TEXT, b"".join(parts))
            c.close_normal()
    return run


def cases():
    out = [Case("5.1", "ping in 2 fragments", _fragmented_control(OP_PING)),
           Case("5.2", "pong in 2 fragments", _fragmented_control(OP_PONG))]
    names = {"bulk": "", "sync": " (frame by frame)", "chop1": " (1 byte per write)"}
    for i, m in enumerate(MODES):
        out.append(Case(f"5.{3 + i}", "text in 2 fragments" + names[m], _two_fragments(m)))
        out.append(Case(f"5.{6 + i}", "text in 2 fragments, ping in between" + names[m],
                        _ping_between(m)))
        out.append(Case(f"5.{9 + i}", "continuation (FIN) with nothing to continue, then text"
                        + names[m], _nothing_to_continue(True, m)))
        out.append(Case(f"5.{12 + i}", "continuation (no FIN) with nothing to continue, "
                        "then text" + names[m], _nothing_to_continue(False, m)))
        out.append(Case(f"5.x.many/{m}", "text in 10 fragments, 3 empty" + names[m],
                        _many_text_fragments(m)))
    out += [
        Case("5.15", "text in 2 fragments, then continuation with nothing to continue, "
             "then text", _case_5_15),
        Case("5.16", "2x: continuation (no FIN) with nothing to continue, text in 2 fragments",
             _cont_text_cont_twice(False)),
        Case("5.17", "2x: continuation (FIN) with nothing to continue, text in 2 fragments",
             _cont_text_cont_twice(True)),
        Case("5.18", "text fragment, then a new text frame before FIN", _text_inside_text),
        Case("5.19", "text in 5 fragments with 2 pings, pause in the middle",
             _pings_in_long_message("bulk"), weight=8),
        Case("5.20", "text in 5 fragments with 2 pings, pause in the middle (frame by frame)",
             _pings_in_long_message("sync"), weight=8),
        Case("5.x.pong", "text in 2 fragments, unsolicited pong in between", _pong_between),
    ]
    return out

"""Autobahn 9.x (big messages, many fragments, many messages) and the
message-size limit (RFC 6455 section 7.4.1: 1009).

A representative, bounded subset of 9.x: every size of 9.1/9.2 (up to the
broker's default 16 MiB limit), 4 MiB messages in fragments from 64 B to
4 MiB, 1 MiB messages in write chops from 64 B to 2 KiB, 1000 round trips
of small messages, and 1000 messages in one burst. The limit cases run
against a second broker started with --max-message 65536 ("limited"), plus
16 MiB + 1 against the default one.
"""

from case import Case
from wsclient import (OP_BINARY, OP_CONT, OP_PING, OP_TEXT, CLOSE_MESSAGE_TOO_BIG, CaseFailure,
                      encode_frame, encode_message)

KIB, MIB = 1024, 1024 * 1024
DEFAULT_LIMIT = 16 * MIB
SMALL_LIMIT = 64 * KIB            # the "limited" broker's --max-message
BIG_TIMEOUT_S = 60.0              # one read of a multi-MiB echo under ASan

_TEXT_UNIT = "Hello-µ@ßöäüàá-UTF-8!!-κόσμε-€-𝄞-".encode()
_BINARY_UNIT = bytes((i * 7 + 3) & 0xFF for i in range(251))


def payload(opcode, n):
    """n bytes that are valid UTF-8 for text (with multi-byte characters that
    fragment boundaries will cut), and a 251-byte cycle for binary, so a
    dropped or repeated chunk shows up in the comparison."""
    unit = _TEXT_UNIT if opcode == OP_TEXT else _BINARY_UNIT
    reps, rest = divmod(n, len(unit))
    return unit * reps + (b"*" * rest if opcode == OP_TEXT else unit[:rest])


def _name(opcode):
    return "text" if opcode == OP_TEXT else "binary"


def _size(n):
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else (
        f"{n // KIB} KiB" if n % KIB == 0 and n >= KIB else f"{n} B")


def _echo_big(opcode, n, frag=None, chop=None):
    def run(connect):
        data = payload(opcode, n)
        with connect(timeout=BIG_TIMEOUT_S) as c:
            raw = encode_message(opcode, data, frag)
            if chop:
                c.send_raw(raw, chop=chop, pause=0)
            else:
                t = c.send_background(raw)
            c.expect_message(opcode, data)
            if not chop:
                t.join(BIG_TIMEOUT_S)
            c.close_normal()
    return run


def _round_trips(opcode, n, count=1000):
    def run(connect):
        data = payload(opcode, n)
        frame = encode_frame(opcode, data)
        with connect() as c:
            for _ in range(count):
                c.send_raw(frame)
                c.expect_message(opcode, data)
            c.close_normal()
    return run


def _burst(opcode, n, count=1000):
    def run(connect):
        body = payload(opcode, n - 4)
        msgs = [b"%04d" % i + body for i in range(count)]     # numbered: order shows
        with connect(timeout=BIG_TIMEOUT_S) as c:
            t = c.send_background(b"".join(encode_frame(opcode, m) for m in msgs))
            for i, m in enumerate(msgs):
                try:
                    c.expect_message(opcode, m)
                except CaseFailure as e:
                    raise CaseFailure(f"message {i} of {count}: {e}") from None
            t.join(BIG_TIMEOUT_S)
            c.close_normal()
    return run


def _pings_between_fragments(opcode, n, frag):
    """Not in Autobahn: a ping after every fragment of a big message; every
    pong must come back before the echo (which needs the last fragment)."""
    def run(connect):
        data = payload(opcode, n)
        parts = [data[i:i + frag] for i in range(0, n, frag)]
        raw = b"".join(encode_frame(OP_CONT if i else opcode, p, fin=i == len(parts) - 1)
                       + (encode_frame(OP_PING, b"%d" % i) if i < len(parts) - 1 else b"")
                       for i, p in enumerate(parts))
        with connect(timeout=BIG_TIMEOUT_S) as c:
            t = c.send_background(raw)
            for i in range(len(parts) - 1):
                c.expect_pong(b"%d" % i)
            c.expect_message(opcode, data)
            t.join(BIG_TIMEOUT_S)
            c.close_normal()
    return run


def _over_limit(opcode, n, frag=None, send_all=True):
    """A message of n bytes (over the limit): close 1009.

    send_all=False sends only the start (the header, or the fragments up to
    just past the limit without FIN), so a broker that waits for the whole
    message before checking its size times out.
    """
    def run(connect):
        data = payload(opcode, n)
        with connect(timeout=BIG_TIMEOUT_S if send_all else 5.0) as c:
            if send_all:
                t = c.send_background(encode_message(opcode, data, frag))
            elif frag:
                parts = [data[i:i + frag] for i in range(0, n, frag)]
                c.send_raw(b"".join(encode_frame(OP_CONT if i else opcode, p, fin=False)
                                    for i, p in enumerate(parts)))
                t = None
            else:
                whole = encode_frame(opcode, data)
                c.send_raw(whole[:len(whole) - len(data) + 1024])
                t = None
            # Still inside a frame when we stopped (or are still writing): no
            # close reply is possible, only FIN. The fragment case stopped at
            # a frame boundary and replies normally.
            c.expect_fail(CLOSE_MESSAGE_TOO_BIG, mid_frame=send_all or not frag)
            if t:
                t.join(BIG_TIMEOUT_S)
    return run


def cases():
    out = []
    sizes = (64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB)
    frags = (64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB)
    chops = (64, 128, 256, 512, KIB, 2 * KIB)
    rtt_sizes = (0, 16, 64, 256, KIB, 4 * KIB)
    for g, opcode in ((0, OP_TEXT), (1, OP_BINARY)):
        nm = _name(opcode)
        for i, n in enumerate(sizes, 1):
            out.append(Case(f"9.{1 + g}.{i}", f"{nm} message of {_size(n)} in one frame",
                            _echo_big(opcode, n), weight=4 + n // (256 * KIB)))
        for i, f in enumerate(frags, 1):
            out.append(Case(f"9.{3 + g}.{i}", f"{nm} message of 4 MiB in fragments of {_size(f)}",
                            _echo_big(opcode, 4 * MIB, frag=f), weight=20 + 4 * MIB // f // 256))
        for i, ch in enumerate(chops, 1):
            out.append(Case(f"9.{5 + g}.{i}",
                            f"{nm} message of 1 MiB in write chops of {_size(ch)}",
                            _echo_big(opcode, MIB, chop=ch), weight=10 + MIB // ch // 256))
        for i, n in enumerate(rtt_sizes, 1):
            out.append(Case(f"9.{7 + g}.{i}", f"1000 {nm} messages of {_size(n)}, one at a time",
                            _round_trips(opcode, n), weight=30))
        out.append(Case(f"9.x.pings.{nm}", f"{nm} message of 4 MiB in 64 KiB fragments, "
                        "a ping after each", _pings_between_fragments(opcode, 4 * MIB, 64 * KIB),
                        weight=30))
        out.append(Case(f"9.x.burst.{nm}", f"1000 {nm} messages of 1 KiB in one burst",
                        _burst(opcode, KIB), weight=20))

        # The limit, default broker: 16 MiB is fine (9.1.6/9.2.6), one more byte is not.
        out.append(Case(f"9.x.limit.{nm}.1", f"{nm} message of 16 MiB + 1 in one frame",
                        _over_limit(opcode, DEFAULT_LIMIT + 1), weight=60))
        out.append(Case(f"9.x.limit.{nm}.2", f"{nm} message of 16 MiB + 1 in fragments of 4 MiB",
                        _over_limit(opcode, DEFAULT_LIMIT + 1, frag=4 * MIB), weight=60))
        # The limit, broker with --max-message 65536.
        lim = [
            ("3", f"{nm} message of exactly 64 KiB in one frame (limit 64 KiB)",
             _echo_big(opcode, SMALL_LIMIT)),
            ("4", f"{nm} message of exactly 64 KiB in fragments of 1000 (limit 64 KiB)",
             _echo_big(opcode, SMALL_LIMIT, frag=1000)),
            ("5", f"{nm} message of 64 KiB + 1 in one frame (limit 64 KiB)",
             _over_limit(opcode, SMALL_LIMIT + 1)),
            ("6", f"{nm} message of 64 KiB + 1 in fragments of 1000 (limit 64 KiB)",
             _over_limit(opcode, SMALL_LIMIT + 1, frag=1000)),
            ("7", f"{nm} frame announcing 1 MiB, only 1 KiB sent (limit 64 KiB): fail fast",
             _over_limit(opcode, MIB, send_all=False)),
            ("8", f"{nm} fragments past 64 KiB, no FIN (limit 64 KiB): fail fast",
             _over_limit(opcode, SMALL_LIMIT + 16 * KIB, frag=16 * KIB, send_all=False)),
        ]
        for sub, title, run in lim:
            out.append(Case(f"9.x.limit.{nm}.{sub}", title, run, broker="limited"))
    return out

"""Autobahn 6.x: UTF-8 handling in text messages (RFC 6455 section 8.1).

Valid text must be echoed byte for byte however it is fragmented; invalid
text must fail the connection with 1007, and *fast*: as soon as the broker
has the byte that no continuation can make valid, not only at message end.
The fail-fast checks send fragments up to that byte and no further, then
wait FAIL_FAST_S for the 1007.

Beyond Autobahn's cases, every vector of 6.5-6.23 is also sent
  /frag1    - as one-byte fragments (invalid ones: only up to the bad byte);
  /split@k  - as two fragments split after byte k, for every k.
"""

from case import Case
from utf8_vectors import KOSME, fail_offset, groups
from wsclient import (OP_CONT, OP_TEXT, CLOSE_INVALID_PAYLOAD, CaseFailure,
                      TimedOut, encode_frame)

FAIL_FAST_S = 2.0
HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()
INVALID_6_3 = KOSME + b"\xed\xa0\x80" + b"edited"


def _fragments(parts):
    """One text message from the byte strings in parts (one per frame)."""
    return b"".join(encode_frame(OP_TEXT if i == 0 else OP_CONT, p, fin=i == len(parts) - 1)
                    for i, p in enumerate(parts))


def _open_fragments(parts):
    """Frames for parts, none with FIN: the message stays open."""
    return b"".join(encode_frame(OP_TEXT if i == 0 else OP_CONT, p, fin=False)
                    for i, p in enumerate(parts))


def _finish(parts):
    """Continuation frames for parts; the last (or an empty one) has FIN."""
    parts = list(parts) or [b""]
    return b"".join(encode_frame(OP_CONT, p, fin=i == len(parts) - 1)
                    for i, p in enumerate(parts))


def _echoed(parts):
    def run(connect):
        with connect() as c:
            c.send_raw(_fragments(parts))
            c.expect_message(OP_TEXT, b"".join(parts))
            c.close_normal()
    return run


def _rejected(parts):
    """The whole message is sent; 1007 is expected (at the latest at its end)."""
    def run(connect):
        with connect() as c:
            c.send_raw(_fragments(parts))
            c.expect_fail(CLOSE_INVALID_PAYLOAD)
    return run


def _rejected_fast(sent, rest, bad_at):
    """sent: fragments (no FIN) that already hold the bad byte (offset bad_at);
    rest: the frames that would finish the message, sent only to diagnose a
    broker that waits for them."""
    def run(connect):
        with connect() as c:
            c.send_raw(_open_fragments(sent))
            try:
                ev = c.next_event(FAIL_FAST_S)
            except TimedOut:
                c.send_raw(rest)
                try:
                    late = c.next_event()
                except TimedOut:
                    late = "nothing"
                raise CaseFailure(
                    f"not fail-fast: no close within {FAIL_FAST_S:g} s of the fragment "
                    f"holding invalid byte {bad_at} (sent {b''.join(sent).hex()} unfinished); "
                    f"after the final fragment got {late}") from None
            c.check_fail(ev, (CLOSE_INVALID_PAYLOAD,))
    return run


def _vector_cases(cid, valid, v):
    """/frag1 and /split@k cases for one vector."""
    out = []
    name = f"{'valid' if valid else 'invalid'} {v[:16].hex()}{'...' if len(v) > 16 else ''}"
    bad = None if valid else fail_offset(v)
    octets = [v[i:i + 1] for i in range(len(v))]
    if len(v) > 1:
        if valid:
            run = _echoed(octets)
        elif bad is None:                         # only incomplete at the end
            run = _rejected(octets)
        else:
            run = _rejected_fast(octets[:bad + 1], _finish(octets[bad + 1:]), bad)
        out.append(Case(f"{cid}/frag1", f"{name} as 1-byte fragments", run))
    for k in range(1, len(v)):
        a, b = v[:k], v[k:]
        if valid:
            run = _echoed([a, b])
        elif bad is not None and bad < k:
            run = _rejected_fast([a], _finish([b]), bad)
        else:
            run = _rejected([a, b])
        out.append(Case(f"{cid}/split@{k}", f"{name} in 2 fragments split after byte {k}",
                        run))
    return out


def _case_6_4(part1, part2, part3, chops):
    """6.4.x: three parts, 1 s apart. Nothing may happen after part 1 (valid so
    far); part 2 holds the bad byte and must be rejected before part 3 is sent.

    chops=False: the parts are fragments; chops=True: pieces of one frame.
    Either way, failing only at part 3 is a FAIL here (Autobahn would call
    the one-frame case NON-STRICT; the broker validates partial frames).
    """
    def run(connect):
        total = part1 + part2 + part3
        if chops:
            whole = encode_frame(OP_TEXT, total)
            head = len(whole) - len(total)
            pieces = [whole[:head + len(part1)],
                      whole[head + len(part1):head + len(part1) + len(part2)],
                      whole[head + len(part1) + len(part2):]]
        else:
            pieces = [encode_frame(OP_TEXT, part1, fin=False),
                      encode_frame(OP_CONT, part2, fin=False),
                      encode_frame(OP_CONT, part3, fin=True)]
        with connect() as c:
            c.send_raw(pieces[0])
            c.expect_silence(1.0)
            c.send_raw(pieces[1])
            try:
                ev = c.next_event(1.0)
            except TimedOut:
                c.send_raw(pieces[2])
                try:
                    late = c.next_event()
                except TimedOut:
                    late = "nothing"
                raise CaseFailure("not fail-fast: no close within 1 s of the part "
                                  f"with the invalid byte; after the last got {late}") from None
            c.check_fail(ev, (CLOSE_INVALID_PAYLOAD,))
    return run


def cases():
    out = [
        Case("6.1.1", "empty text message", _echoed([b""])),
        Case("6.1.2", "text message in 3 empty fragments", _echoed([b"", b"", b""])),
        Case("6.1.3", "text message in 3 fragments, first and last empty",
             _echoed([b"", b"middle frame payload", b""])),
        Case("6.2.1", "valid UTF-8 in one frame", _echoed([HELLO_UTF8])),
        Case("6.2.2", "valid UTF-8 in 2 fragments split on a code point boundary",
             _echoed([HELLO_UTF8[:12], HELLO_UTF8[12:]])),
        Case("6.2.3", "valid UTF-8 in 1-byte fragments",
             _echoed([HELLO_UTF8[i:i + 1] for i in range(len(HELLO_UTF8))])),
        Case("6.2.4", "κόσμε in 1-byte fragments",
             _echoed([KOSME[i:i + 1] for i in range(len(KOSME))])),
        Case("6.3.1", "invalid UTF-8 (surrogate) in one frame", _rejected([INVALID_6_3])),
        Case("6.3.2", "invalid UTF-8 (surrogate) in 1-byte fragments",
             _rejected([INVALID_6_3[i:i + 1] for i in range(len(INVALID_6_3))])),
        Case("6.4.1", "fail fast: 3 fragments, the 2nd holds U+110000",
             _case_6_4(KOSME, b"\xf4\x90\x80\x80", b"edited", chops=False), weight=6),
        Case("6.4.2", "fail fast: 3 fragments, the invalid 2nd byte of F4 90 alone in the 2nd",
             _case_6_4(KOSME + b"\xf4", b"\x90", b"\x80\x80edited", chops=False), weight=6),
        Case("6.4.3", "fail fast: one frame in 3 chops, the 2nd holds U+110000",
             _case_6_4(KOSME, b"\xf4\x90\x80\x80", b"edited", chops=True), weight=6),
        Case("6.4.4", "fail fast: one frame in 3 chops, the invalid byte alone in the 2nd",
             _case_6_4(KOSME + b"\xf4", b"\x90", b"\x80\x80edited", chops=True), weight=6),
    ]
    out += _vector_cases("6.2.1", True, HELLO_UTF8)
    out += _vector_cases("6.3.1", False, INVALID_6_3)
    for gi, (title, vectors) in enumerate(groups(), 5):
        for vi, (valid, v) in enumerate(vectors, 1):
            cid = f"6.{gi}.{vi}"
            what = "valid" if valid else "invalid"
            out.append(Case(cid, f"{title}: {what} {v[:16].hex()}{'...' if len(v) > 16 else ''}"
                            " in one frame",
                            _echoed([v]) if valid else _rejected([v])))
            out += _vector_cases(cid, valid, v)
    return out

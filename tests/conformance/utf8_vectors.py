"""UTF-8 test vectors for the 6.x cases, and a reference validator.

The vectors follow Markus Kuhn's UTF-8 decoder stress test
(https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt) in the grouping
Autobahn uses for cases 6.5 to 6.23; each group is (title, [(valid, bytes)]).

fail_offset() is what makes the fail-fast checks possible: it gives the index
of the first byte after which no continuation could make the text valid,
which is exactly where a streaming validator (the broker's) must reject it.
"""

KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")          # "κόσμε"


def _second_byte_range(lead):
    """Allowed range of the byte after lead (RFC 3629 section 4), or None."""
    if 0xC2 <= lead <= 0xDF:
        return (0x80, 0xBF), 1
    if lead == 0xE0:
        return (0xA0, 0xBF), 2
    if 0xE1 <= lead <= 0xEC or 0xEE <= lead <= 0xEF:
        return (0x80, 0xBF), 2
    if lead == 0xED:
        return (0x80, 0x9F), 2
    if lead == 0xF0:
        return (0x90, 0xBF), 3
    if 0xF1 <= lead <= 0xF3:
        return (0x80, 0xBF), 3
    if lead == 0xF4:
        return (0x80, 0x8F), 3
    return None


def fail_offset(data):
    """Index of the first byte that makes data[:i+1] no prefix of valid UTF-8;
    None when every prefix could still be completed (or data is valid)."""
    need = 0          # continuation bytes still expected
    lo, hi = 0x80, 0xBF
    for i, b in enumerate(data):
        if need:
            if not lo <= b <= hi:
                return i
            need -= 1
            lo, hi = 0x80, 0xBF
            continue
        if b < 0x80:
            continue
        rule = _second_byte_range(b)
        if rule is None:
            return i
        (lo, hi), need = rule
    return None


def is_valid(data):
    """Complete, valid UTF-8 (the validator above, plus "ends on a code point")."""
    if fail_offset(data) is not None:
        return False
    try:
        bytes(data).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def groups():
    g = []
    g.append(("Some valid UTF-8 sequences", [
        (True, b"hello\x24world"), (True, b"hello\xc2\xa2world"),
        (True, b"hello\xe2\x82\xacworld"), (True, b"hello\xf0\xa4\xad\xa2world"),
        (True, KOSME)]))
    g.append(("All prefixes of a valid UTF-8 string with multi-byte code points",
              [(is_valid(KOSME[:i]), KOSME[:i]) for i in range(1, len(KOSME) + 1)]))
    g.append(("First possible sequence of a certain length", [
        (True, b"\x00"), (True, b"\xc2\x80"), (True, b"\xe0\xa0\x80"),
        (True, b"\xf0\x90\x80\x80")]))
    g.append(("First possible sequence length 5/6 (invalid code points)", [
        (False, b"\xf8\x88\x80\x80\x80"), (False, b"\xfc\x84\x80\x80\x80\x80")]))
    g.append(("Last possible sequence of a certain length", [
        (True, b"\x7f"), (True, b"\xdf\xbf"), (True, b"\xef\xbf\xbf"),
        (True, b"\xf4\x8f\xbf\xbf")]))
    g.append(("Last possible sequence length 4/5/6 (invalid code points)", [
        (False, b"\xf7\xbf\xbf\xbf"), (False, b"\xfb\xbf\xbf\xbf\xbf"),
        (False, b"\xfd\xbf\xbf\xbf\xbf\xbf")]))
    g.append(("Other boundary conditions", [
        (True, b"\xed\x9f\xbf"), (True, b"\xee\x80\x80"), (True, b"\xef\xbf\xbd"),
        (True, b"\xf4\x8f\xbf\xbf"), (False, b"\xf4\x90\x80\x80")]))
    cont = [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf",
            b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf",
            bytes(range(0x80, 0xBF))]
    g.append(("Unexpected continuation bytes", [(False, v) for v in cont]))
    lonely = []
    for lo, hi in ((0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD)):
        lonely.append((False, b"".join(bytes((b, 0x20)) for b in range(lo, hi))))
    g.append(("Lonely start characters", lonely))
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
               b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
               b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    g.append(("Sequences with last continuation byte missing", [(False, v) for v in missing]))
    g.append(("Concatenation of incomplete sequences", [(False, b"".join(missing))]))
    g.append(("Impossible bytes", [(False, b"\xfe"), (False, b"\xff"),
                                   (False, b"\xfe\xfe\xff\xff")]))
    g.append(("Examples of an overlong ASCII character", [
        (False, b"\xc0\xaf"), (False, b"\xe0\x80\xaf"), (False, b"\xf0\x80\x80\xaf"),
        (False, b"\xf8\x80\x80\x80\xaf"), (False, b"\xfc\x80\x80\x80\x80\xaf")]))
    g.append(("Maximum overlong sequences", [
        (False, b"\xc1\xbf"), (False, b"\xe0\x9f\xbf"), (False, b"\xf0\x8f\xbf\xbf"),
        (False, b"\xf8\x87\xbf\xbf\xbf"), (False, b"\xfc\x83\xbf\xbf\xbf\xbf")]))
    g.append(("Overlong representation of the NUL character", [
        (False, b"\xc0\x80"), (False, b"\xe0\x80\x80"), (False, b"\xf0\x80\x80\x80"),
        (False, b"\xf8\x80\x80\x80\x80"), (False, b"\xfc\x80\x80\x80\x80\x80")]))
    single = ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"]
    g.append(("Single UTF-16 surrogates", [(False, bytes.fromhex(h)) for h in single]))
    highs, lows = ["eda080", "edadbf", "edae80", "edafbf"], ["edb080", "edbfbf"]
    g.append(("Paired UTF-16 surrogates",
              [(False, bytes.fromhex(h + l)) for h in highs for l in lows]))
    nonchars = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for lead in (0xF0, 0xF1, 0xF2, 0xF3, 0xF4):
        for second in (0x8F, 0x9F, 0xAF, 0xBF):
            if lead == 0xF4 and second != 0x8F:
                continue                          # above U+10FFFF
            for last in (0xBE, 0xBF):
                seq = bytes((lead, second, 0xBF, last))
                if lead == 0xF0 and second == 0x8F:
                    continue                      # overlong
                nonchars.append(seq)
    g.append(("Non-character code points (valid UTF-8)", [(True, v) for v in nonchars]))
    g.append(("Unicode specials (i.e. replacement char)",
              [(True, bytes((0xEF, 0xBF, b))) for b in range(0xB9, 0xC0)]))
    # The expectations above are the vectors' documented ones; the reference
    # validator must agree with every one of them.
    for title, vs in g:
        for valid, v in vs:
            assert is_valid(v) == valid, (title, v.hex())
    return g

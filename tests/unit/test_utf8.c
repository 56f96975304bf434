/*
 * test_utf8.c - ws_utf8_feed against an independent reference: every code
 * point, every 1-3 byte sequence, the 4-byte leads, the classic invalid
 * vectors (overlongs, surrogates, > U+10FFFF, bad continuations), and each
 * of them split at every byte position, rejecting in the piece that holds
 * the first impossible byte and not before. Then the vector validator
 * against the DFA alone on random text, state for state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws_utf8.h"

/* Reference, written from RFC 3629's table of well-formed sequences: returns
 * the index of the first byte that cannot be part of valid UTF-8, or len;
 * *partial says whether the input ends inside a sequence. */
static size_t ref_first_invalid(const uint8_t *s, size_t len, bool *partial)
{
    *partial = false;
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        int n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            n = 1;
        } else if (b == 0xe0) {
            n = 2, lo = 0xa0;
        } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
            n = 2;
        } else if (b == 0xed) {
            n = 2, hi = 0x9f;
        } else if (b == 0xf0) {
            n = 3, lo = 0x90;
        } else if (b >= 0xf1 && b <= 0xf3) {
            n = 3;
        } else if (b == 0xf4) {
            n = 3, hi = 0x8f;
        } else {
            return i;
        }
        for (int k = 1; k <= n; k++) {
            if (i + k >= len) {
                *partial = true;
                return len;
            }
            uint8_t c = s[i + k];
            uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
            if (c < l || c > h)
                return i + k;
        }
        i += n + 1;
    }
    return len;
}

static uint32_t expected_state(const uint8_t *s, size_t len)
{
    bool partial;
    if (ref_first_invalid(s, len, &partial) < len)
        return WS_UTF8_REJECT;
    return partial ? 2 : WS_UTF8_ACCEPT; /* 2: "some partial state" */
}

static void assert_matches_reference(const uint8_t *s, size_t len)
{
    uint32_t got = ws_utf8_feed(WS_UTF8_ACCEPT, s, len);
    uint32_t want = expected_state(s, len);
    if (want == 2)
        assert_true(got != WS_UTF8_ACCEPT && got != WS_UTF8_REJECT);
    else
        assert_int_equal(got, want);
}

static size_t encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static void test_every_code_point(void **state)
{
    (void)state;
    uint8_t buf[4];
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        size_t n = encode(cp, buf);
        bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
        assert_int_equal(ws_utf8_valid(buf, n), !surrogate);
    }
    /* one past the top, encoded the same way */
    assert_false(ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
}

static void test_all_short_sequences(void **state)
{
    (void)state;
    uint8_t buf[4];
    for (unsigned a = 0; a < 256; a++) {
        buf[0] = (uint8_t)a;
        assert_matches_reference(buf, 1);
        for (unsigned b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            assert_matches_reference(buf, 2);
            if (a < 0xe0 || a > 0xef)
                continue;
            for (unsigned c = 0; c < 256; c++) {
                buf[2] = (uint8_t)c;
                assert_matches_reference(buf, 3);
            }
        }
    }
    /* 3-byte sequences of other leads, and the 4-byte leads */
    static const uint8_t edge[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (unsigned a = 0xc0; a < 256; a++) {
        buf[0] = (uint8_t)a;
        for (unsigned b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            for (size_t c = 0; c < sizeof(edge); c++) {
                buf[2] = edge[c];
                assert_matches_reference(buf, 3);
                for (size_t d = 0; d < sizeof(edge); d++) {
                    buf[3] = edge[d];
                    assert_matches_reference(buf, 4);
                }
            }
        }
    }
}

struct vector {
    const char *s;
    size_t len;
    bool valid;
};

#define V(lit, ok)                                                                                 \
    {                                                                                              \
        lit, sizeof(lit) - 1, ok                                                                   \
    }

static const struct vector vectors[] = {
    V("", true),
    V("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", true),
    V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true), /* kosme */
    V("\x00", true),
    V("\xc2\x80", true),         /* U+0080 */
    V("\xdf\xbf", true),         /* U+07FF */
    V("\xe0\xa0\x80", true),     /* U+0800 */
    V("\xed\x9f\xbf", true),     /* U+D7FF */
    V("\xee\x80\x80", true),     /* U+E000 */
    V("\xef\xbf\xbd", true),     /* U+FFFD */
    V("\xef\xbf\xbf", true),     /* U+FFFF */
    V("\xf0\x90\x80\x80", true), /* U+10000 */
    V("\xf4\x8f\xbf\xbf", true), /* U+10FFFF */
    V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", false),
    V("\x80", false), /* lone continuation */
    V("\xbf", false),
    V("\xc0\x80", false),                 /* overlong NUL */
    V("\xc1\xbf", false),                 /* overlong */
    V("\xe0\x80\x80", false),             /* overlong */
    V("\xe0\x9f\xbf", false),             /* overlong */
    V("\xf0\x80\x80\x80", false),         /* overlong */
    V("\xf0\x8f\xbf\xbf", false),         /* overlong */
    V("\xed\xa0\x80", false),             /* U+D800 */
    V("\xed\xbf\xbf", false),             /* U+DFFF */
    V("\xed\xa0\x80\xed\xb0\x80", false), /* surrogate pair */
    V("\xf4\x90\x80\x80", false),         /* U+110000 */
    V("\xf5\x80\x80\x80", false),
    V("\xf8\x88\x80\x80\x80", false),
    V("\xfe", false),
    V("\xff", false),
    V("\xc2\x41", false), /* bad continuation */
    V("\xe1\x80\x41", false),
    V("\xf1\x80\x80\x41", false),
    V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
      false),
    V("\xe1\xbd", false), /* truncated at the end */
    V("\xf0\x90\x80", false),
    V("\xc2", false),
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        assert_int_equal(ws_utf8_valid((const uint8_t *)v->s, v->len), v->valid);
        assert_matches_reference((const uint8_t *)v->s, v->len);
    }
}

/* Split s at every position: the first piece is rejected exactly when it
 * holds the first impossible byte; the second always ends it. */
static void check_splits(const uint8_t *s, size_t len)
{
    bool partial;
    size_t bad = ref_first_invalid(s, len, &partial);
    for (size_t cut = 0; cut <= len; cut++) {
        uint32_t st = ws_utf8_feed(WS_UTF8_ACCEPT, s, cut);
        assert_int_equal(st == WS_UTF8_REJECT, bad < cut);
        st = ws_utf8_feed(st, s + cut, len - cut);
        assert_int_equal(st, ws_utf8_feed(WS_UTF8_ACCEPT, s, len));
    }
    /* byte by byte: rejects at exactly the first impossible byte */
    uint32_t st = WS_UTF8_ACCEPT;
    for (size_t i = 0; i < len; i++) {
        st = ws_utf8_feed(st, s + i, 1);
        assert_int_equal(st == WS_UTF8_REJECT, i >= bad);
    }
}

static void test_vectors_split_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        check_splits((const uint8_t *)vectors[i].s, vectors[i].len);
}

static void test_long_text_fast_path(void **state)
{
    (void)state;
    /* ASCII runs long enough for the vector path, with a multi-byte code
     * point or a bad byte placed at every position, straddling blocks. */
    enum { N = 300 };
    uint8_t buf[N];
    static const char *inserts[] = {
        "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3\xa9", "\xff", "\xed\xa0\x80", "\x80", "\xe2\x82"};
    for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++) {
        size_t il = strlen(inserts[k]);
        for (size_t pos = 0; pos + il <= N; pos++) {
            memset(buf, 'a', N);
            memcpy(buf + pos, inserts[k], il);
            assert_matches_reference(buf, N);
            if (pos % 13 == 0)
                check_splits(buf, N);
        }
    }
    memset(buf, 'z', N);
    assert_true(ws_utf8_valid(buf, N));
    buf[N - 1] = 0x80;
    assert_false(ws_utf8_valid(buf, N));
}

static void test_random_text(void **state)
{
    (void)state;
    /* mostly valid mixed-width text with occasional corruption */
    enum { N = 1000 };
    uint8_t buf[N + 4];
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t n = 0;
        while (n < N) {
            seed = seed * 1103515245u + 12345u;
            uint32_t cp = (seed >> 8) % (round % 3 == 0 ? 0x80 : 0x110000);
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 'x';
            n += encode(cp, buf + n);
        }
        if (round % 2) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % n] = (uint8_t)(seed >> 24);
        }
        assert_matches_reference(buf, n);
    }
}

/* The vector validator (inputs of 64 bytes and more on x86 with SSSE3 or
 * AVX2) against the DFA alone. One byte per call never reaches the vectors,
 * so feeding byte by byte gives the DFA's state after every prefix; any
 * other way of feeding the same bytes, whole or in pieces, must end each
 * piece in exactly that state. */

static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13; /* xorshift32 */
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

enum text_kind {
    TEXT_VALID,   /* valid text (cut at len, so perhaps ending mid-sequence) */
    TEXT_FLIPPED, /* the same with one byte replaced at random */
    TEXT_RANDOM,  /* random bytes */
    TEXT_KINDS,
};

/* Code points of every width, in runs: long ASCII stretches (for the ASCII
 * skip), and 2-, 3- and 4-byte code points near the edges of their ranges
 * (E0 A0, ED 9F, F0 90, F4 8F) as often as in the middle. */
static uint32_t random_code_point(uint32_t ascii_percent)
{
    static const uint32_t edges[] = {0x80,    0x7ff,    0x800,    0xd7ff,  0xe000,
                                     0xfffd,  0xffff,   0x10000,  0x3ffff, 0x40000,
                                     0xfffff, 0x100000, 0x10ffff, 0xa9,    0x20ac};
    uint32_t r = rng() % 100;
    if (r < ascii_percent)
        return rng() % 0x80;
    if (r % 4 == 0)
        return edges[rng() % (sizeof(edges) / sizeof(edges[0]))];
    static const uint32_t top[] = {0x800, 0x10000, 0x110000};
    uint32_t cp = 0x80 + rng() % (top[rng() % 3] - 0x80);
    return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp;
}

static void make_text(uint8_t *buf, size_t len, enum text_kind kind)
{
    if (kind == TEXT_RANDOM) {
        /* half the time from the bytes that matter most: continuations and leads */
        bool high = rng() % 2;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(high ? 0x80 + rng() % 0x80 : rng());
        return;
    }
    uint32_t ascii_percent = (uint32_t[]){0, 30, 90, 99}[rng() % 4];
    uint8_t cp[4];
    size_t n = 0;
    while (n < len) {
        size_t k = encode(random_code_point(ascii_percent), cp);
        for (size_t j = 0; j < k && n < len; j++)
            buf[n++] = cp[j];
    }
    if (kind == TEXT_FLIPPED && len > 0)
        buf[rng() % len] = (uint8_t)rng();
}

/* Feeds s in the pieces that end at cuts[0..ncuts) and then len, each from
 * its own heap block of exactly its size (so ASan sees any read outside
 * it), checking the state after each against want[]. */
static void feed_pieces(const uint8_t *s, size_t len, const size_t *cuts, size_t ncuts,
                        const uint32_t *want)
{
    uint32_t st = WS_UTF8_ACCEPT;
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        uint8_t *piece = malloc(to - from + 1);
        assert_non_null(piece);
        memcpy(piece, s + from, to - from);
        st = ws_utf8_feed(st, piece, to - from);
        free(piece);
        assert_int_equal(st, want[to]);
        from = to;
    }
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void check_against_dfa(const uint8_t *s, size_t len, uint32_t *want)
{
    want[0] = WS_UTF8_ACCEPT;
    for (size_t i = 0; i < len; i++)
        want[i + 1] = ws_utf8_feed(want[i], s + i, 1);
    /* and the DFA against the independent reference */
    uint32_t ref = expected_state(s, len);
    if (ref == 2)
        assert_true(want[len] != WS_UTF8_ACCEPT && want[len] != WS_UTF8_REJECT);
    else
        assert_int_equal(want[len], ref);

    feed_pieces(s, len, NULL, 0, want);
    for (int round = 0; round < 3; round++) {
        size_t cuts[3], ncuts = 1 + rng() % 3;
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = rng() % (len + 1);
        qsort(cuts, ncuts, sizeof(cuts[0]), compare_size);
        feed_pieces(s, len, cuts, ncuts, want);
    }
}

static void test_vector_matches_dfa_short(void **state)
{
    (void)state;
    enum { MAX = 300 };
    uint8_t *buf = malloc(MAX);
    uint32_t *want = malloc((MAX + 1) * sizeof(*want));
    assert_non_null(buf);
    assert_non_null(want);
    for (size_t len = 0; len <= MAX; len++)
        for (int kind = 0; kind < TEXT_KINDS; kind++)
            for (int rep = 0; rep < 8; rep++) {
                make_text(buf, len, (enum text_kind)kind);
                check_against_dfa(buf, len, want);
            }
    free(want);
    free(buf);
}

static void test_vector_matches_dfa_64k(void **state)
{
    (void)state;
    enum { LEN = 64 * 1024 };
    uint8_t *buf = malloc(LEN);
    uint32_t *want = malloc((LEN + 1) * sizeof(*want));
    assert_non_null(buf);
    assert_non_null(want);
    for (int kind = 0; kind < TEXT_KINDS; kind++)
        for (int rep = 0; rep < 6; rep++) {
            size_t len = LEN - rng() % 8; /* end at various offsets in a block */
            make_text(buf, len, (enum text_kind)kind);
            check_against_dfa(buf, len, want);
        }
    free(want);
    free(buf);
}

/* One bad byte at every offset of a long valid text, for the block edges
 * and the tail that the vectors check again. */
static void test_vector_error_at_every_offset(void **state)
{
    (void)state;
    enum { LEN = 200 };
    uint8_t text[LEN], buf[LEN];
    uint32_t want[LEN + 1];
    static const uint8_t bad[] = {0x80, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 'a'};
    for (int rep = 0; rep < 4; rep++) {
        make_text(text, LEN, TEXT_VALID);
        for (size_t pos = 0; pos < LEN; pos++)
            for (size_t b = 0; b < sizeof(bad); b++) {
                memcpy(buf, text, LEN);
                buf[pos] = bad[b];
                check_against_dfa(buf, LEN, want);
            }
    }
}

static void test_reject_is_sticky(void **state)
{
    (void)state;
    uint32_t st = ws_utf8_feed(WS_UTF8_ACCEPT, (const uint8_t *)"\xff", 1);
    assert_int_equal(st, WS_UTF8_REJECT);
    assert_int_equal(ws_utf8_feed(st, (const uint8_t *)"abc", 3), WS_UTF8_REJECT);
    assert_int_equal(ws_utf8_feed(st, NULL, 0), WS_UTF8_REJECT);
    assert_int_equal(ws_utf8_feed(WS_UTF8_ACCEPT, NULL, 0), WS_UTF8_ACCEPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_all_short_sequences),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_vectors_split_everywhere),
        cmocka_unit_test(test_long_text_fast_path),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_reject_is_sticky),
        cmocka_unit_test(test_vector_matches_dfa_short),
        cmocka_unit_test(test_vector_matches_dfa_64k),
        cmocka_unit_test(test_vector_error_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

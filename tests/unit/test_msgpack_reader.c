/*
 * test_msgpack_reader.c - the zero-copy msgpack cursor: every format of the
 * msgpack spec (minimal and not), views that point into the input, the cursor
 * standing still on every failure, truncation at every byte, the 0xc1 byte,
 * and the nesting limit of mp_skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msgpack_reader.h"

/* One encoded value, its kind, and (for integers) its value. */
struct sample {
    const char *what;
    uint8_t bytes[40];
    size_t len;
    enum mp_kind kind;
    uint64_t num; /* uint value; str/bin: payload length; containers: count */
};

#define S(what, kind, num, ...)                                                                    \
    {                                                                                              \
        what, {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), kind, num                           \
    }

static const struct sample samples[] = {
    S("nil", MP_NIL, 0, 0xc0),
    S("false", MP_BOOL, 0, 0xc2),
    S("true", MP_BOOL, 1, 0xc3),
    S("posfixint 0", MP_UINT, 0, 0x00),
    S("posfixint 127", MP_UINT, 127, 0x7f),
    S("uint8", MP_UINT, 200, 0xcc, 200),
    S("uint8 non-minimal", MP_UINT, 5, 0xcc, 5),
    S("uint16", MP_UINT, 0x1234, 0xcd, 0x12, 0x34),
    S("uint16 non-minimal", MP_UINT, 1, 0xcd, 0x00, 0x01),
    S("uint32", MP_UINT, 0x12345678, 0xce, 0x12, 0x34, 0x56, 0x78),
    S("uint64 max", MP_UINT, UINT64_MAX, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    S("uint64 non-minimal", MP_UINT, 7, 0xcf, 0, 0, 0, 0, 0, 0, 0, 7),
    S("int8 positive", MP_UINT, 100, 0xd0, 100),
    S("int16 positive", MP_UINT, 0x7fff, 0xd1, 0x7f, 0xff),
    S("int32 positive", MP_UINT, 1, 0xd2, 0, 0, 0, 1),
    S("int64 positive", MP_UINT, INT64_MAX, 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    S("int8 negative", MP_NEGINT, 0, 0xd0, 0x80),
    S("int16 negative", MP_NEGINT, 0, 0xd1, 0xff, 0xff),
    S("int32 negative", MP_NEGINT, 0, 0xd2, 0x80, 0, 0, 0),
    S("int64 negative", MP_NEGINT, 0, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    S("negfixint", MP_NEGINT, 0, 0xe0),
    S("negfixint -1", MP_NEGINT, 0, 0xff),
    S("float32", MP_FLOAT, 0, 0xca, 0x3f, 0x80, 0, 0),
    S("float64", MP_FLOAT, 0, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0),
    S("fixstr empty", MP_STR, 0, 0xa0),
    S("fixstr", MP_STR, 3, 0xa3, 'a', 'b', 'c'),
    S("str8", MP_STR, 2, 0xd9, 2, 'h', 'i'),
    S("str16", MP_STR, 2, 0xda, 0, 2, 'h', 'i'),
    S("str32", MP_STR, 2, 0xdb, 0, 0, 0, 2, 'h', 'i'),
    S("bin8", MP_BIN, 1, 0xc4, 1, 0xff),
    S("bin16", MP_BIN, 0, 0xc5, 0, 0),
    S("bin32", MP_BIN, 3, 0xc6, 0, 0, 0, 3, 1, 2, 3),
    S("fixext1", MP_EXT, 0, 0xd4, 1, 0xaa),
    S("fixext2", MP_EXT, 0, 0xd5, 1, 0xaa, 0xbb),
    S("fixext4", MP_EXT, 0, 0xd6, 1, 1, 2, 3, 4),
    S("fixext8", MP_EXT, 0, 0xd7, 1, 1, 2, 3, 4, 5, 6, 7, 8),
    S("fixext16", MP_EXT, 0, 0xd8, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
    S("ext8", MP_EXT, 0, 0xc7, 2, 5, 0xaa, 0xbb),
    S("ext16", MP_EXT, 0, 0xc8, 0, 1, 5, 0xaa),
    S("ext32", MP_EXT, 0, 0xc9, 0, 0, 0, 0, 5),
    S("fixarray empty", MP_ARRAY, 0, 0x90),
    S("fixarray", MP_ARRAY, 2, 0x92, 1, 0xa1, 'x'),
    S("array16", MP_ARRAY, 1, 0xdc, 0, 1, 0xc0),
    S("array32", MP_ARRAY, 2, 0xdd, 0, 0, 0, 2, 0x90, 0x80),
    S("fixmap empty", MP_MAP, 0, 0x80),
    S("fixmap", MP_MAP, 1, 0x81, 0xa1, 'k', 0x92, 1, 2),
    S("map16", MP_MAP, 1, 0xde, 0, 1, 0xc0, 0xc3),
    S("map32", MP_MAP, 1, 0xdf, 0, 0, 0, 1, 0x81, 0x01, 0x02, 0xa0),
    S("nested", MP_ARRAY, 1, 0x91, 0x91, 0x91, 0x81, 0xa0, 0x91, 0x90),
};
#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

static void test_kinds_and_skip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const struct sample *s = &samples[i];
        struct mp_cursor c = mp_cursor_make(s->bytes, s->len);
        enum mp_kind kind;
        assert_int_equal(mp_peek_kind(&c, &kind), MP_OK);
        if (kind != s->kind)
            fail_msg("%s: kind %d, want %d", s->what, kind, s->kind);
        struct ws_str span;
        assert_int_equal(mp_skip(&c, MP_MAX_DEPTH, &span), MP_OK);
        assert_ptr_equal(span.ptr, (const char *)s->bytes);
        if (span.len != s->len)
            fail_msg("%s: skipped %zu bytes, want %zu", s->what, span.len, s->len);
        assert_true(mp_at_end(&c));
    }
}

static void test_typed_reads(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const struct sample *s = &samples[i];
        struct mp_cursor c = mp_cursor_make(s->bytes, s->len);
        uint64_t u = 0;
        bool b = false;
        uint32_t n = 0;
        struct ws_str str = {0};
        enum mp_status want;

        want = s->kind == MP_UINT ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_uint(&c, &u), want);
        if (want == MP_OK) {
            assert_true(u == s->num);
            c.pos = 0;
        }
        assert_int_equal(c.pos, 0);

        want = s->kind == MP_BOOL ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_bool(&c, &b), want);
        if (want == MP_OK) {
            assert_int_equal(b, s->num);
            assert_true(mp_at_end(&c));
            c.pos = 0;
        }

        want = s->kind == MP_NIL ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_nil(&c), want);
        c.pos = 0;

        want = s->kind == MP_STR ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_str(&c, &str), want);
        if (want == MP_OK) {
            assert_int_equal(str.len, s->num);
            assert_ptr_equal(str.ptr + str.len, (const char *)s->bytes + s->len);
            assert_true(mp_at_end(&c));
            c.pos = 0;
        }

        want = s->kind == MP_BIN ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_bin(&c, &str), want);
        if (want == MP_OK) {
            assert_int_equal(str.len, s->num);
            assert_ptr_equal(str.ptr + str.len, (const char *)s->bytes + s->len);
            c.pos = 0;
        }

        want = s->kind == MP_ARRAY ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_array(&c, &n), want);
        if (want == MP_OK) {
            assert_int_equal(n, s->num);
            c.pos = 0;
        }

        want = s->kind == MP_MAP ? MP_OK : MP_WRONG_TYPE;
        assert_int_equal(mp_read_map(&c, &n), want);
        if (want == MP_OK) {
            assert_int_equal(n, s->num);
            c.pos = 0;
        }
        assert_int_equal(c.pos, 0);
    }
}

/* Every proper prefix of every sample is truncated, for every read, and the
 * cursor stays put; reads never look past len (ASan would see it: the prefix
 * is copied to a buffer of exactly that size). */
static void test_truncation_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const struct sample *s = &samples[i];
        for (size_t cut = 0; cut < s->len; cut++) {
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, s->bytes, cut);
            struct mp_cursor c = mp_cursor_make(p, cut);
            struct ws_str v;
            enum mp_status st = mp_skip(&c, MP_MAX_DEPTH, &v);
            if (st != MP_TRUNCATED)
                fail_msg("%s cut at %zu: status %d", s->what, cut, st);
            assert_int_equal(c.pos, 0);
            uint64_t u;
            enum mp_status want = s->kind == MP_UINT ? MP_TRUNCATED : MP_WRONG_TYPE;
            if (cut == 0)
                want = MP_TRUNCATED;
            if (s->kind == MP_UINT || cut == 0)
                assert_int_equal(mp_read_uint(&c, &u), want);
            if (s->kind == MP_STR || cut == 0)
                assert_int_equal(mp_read_str(&c, &v), MP_TRUNCATED);
            assert_int_equal(c.pos, 0);
            free(p);
        }
    }
}

static void test_never_used_byte(void **state)
{
    (void)state;
    uint8_t bad[] = {0xc1};
    uint8_t inside[] = {0x92, 0x01, 0xc1};
    struct mp_cursor c = mp_cursor_make(bad, 1);
    enum mp_kind kind;
    assert_int_equal(mp_peek_kind(&c, &kind), MP_MALFORMED);
    assert_int_equal(mp_skip(&c, MP_MAX_DEPTH, NULL), MP_MALFORMED);
    uint64_t u;
    assert_int_equal(mp_read_uint(&c, &u), MP_MALFORMED);
    c = mp_cursor_make(inside, sizeof(inside));
    assert_int_equal(mp_skip(&c, MP_MAX_DEPTH, NULL), MP_MALFORMED);
    assert_int_equal(c.pos, 0);
}

/* n arrays nested: 0x91 0x91 ... 0xc0 (or 0x90 innermost, still a level). */
static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t buf[200];
    for (unsigned n = 1; n <= 70; n++) {
        memset(buf, 0x91, n - 1);
        buf[n - 1] = 0x90; /* the innermost, empty, counts too */
        struct mp_cursor c = mp_cursor_make(buf, n);
        enum mp_status want = n <= MP_MAX_DEPTH ? MP_OK : MP_TOO_DEEP;
        assert_int_equal(mp_skip(&c, MP_MAX_DEPTH, NULL), want);
        assert_int_equal(c.pos, want == MP_OK ? n : 0);
        c.pos = 0;
        assert_int_equal(mp_skip(&c, 5, NULL), n <= 5 ? MP_OK : MP_TOO_DEEP);
        c.pos = 0;
        /* a limit past the stack is clamped */
        assert_int_equal(mp_skip(&c, 1000, NULL), want);
    }
    /* maps count alike, for keys and values */
    uint8_t in_key[] = {0x81, 0x81, 0x01, 0x02, 0x03};
    uint8_t in_val[] = {0x81, 0x01, 0x81, 0x02, 0x03};
    struct mp_cursor c = mp_cursor_make(in_key, sizeof(in_key));
    assert_int_equal(mp_skip(&c, 1, NULL), MP_TOO_DEEP);
    assert_int_equal(mp_skip(&c, 2, NULL), MP_OK);
    c = mp_cursor_make(in_val, sizeof(in_val));
    assert_int_equal(mp_skip(&c, 1, NULL), MP_TOO_DEEP);
    assert_int_equal(mp_skip(&c, 2, NULL), MP_OK);
    /* scalars have depth 0 */
    uint8_t one[] = {0x01};
    c = mp_cursor_make(one, 1);
    assert_int_equal(mp_skip(&c, 0, NULL), MP_OK);
    /* wide but flat is fine at depth 1 */
    uint8_t wide[1 + 3 + 100];
    wide[0] = 0xdc;
    wide[1] = 0;
    wide[2] = 100;
    memset(wide + 3, 0x07, 100);
    c = mp_cursor_make(wide, 103);
    assert_int_equal(mp_skip(&c, 1, NULL), MP_OK);
    assert_int_equal(c.pos, 103);
}

/* Counts and lengths claiming far more than the input holds end quickly in
 * MP_TRUNCATED, without reading past the end. */
static void test_huge_claims(void **state)
{
    (void)state;
    uint8_t arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
    uint8_t str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    uint8_t bin[] = {0xc6, 0x80, 0x00, 0x00, 0x00};
    uint8_t ext[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t *all[] = {arr, map, str, bin, ext};
    size_t lens[] = {sizeof(arr), sizeof(map), sizeof(str), sizeof(bin), sizeof(ext)};
    for (size_t i = 0; i < 5; i++) {
        struct mp_cursor c = mp_cursor_make(all[i], lens[i]);
        assert_int_equal(mp_skip(&c, MP_MAX_DEPTH, NULL), MP_TRUNCATED);
        assert_int_equal(c.pos, 0);
    }
    struct mp_cursor c = mp_cursor_make(arr, sizeof(arr));
    uint32_t n;
    assert_int_equal(mp_read_array(&c, &n), MP_OK);
    assert_true(n == UINT32_MAX);
}

static void test_sequence_of_values(void **state)
{
    (void)state;
    /* {"a": [1, "xy"], "b": true} read piece by piece */
    uint8_t buf[] = {0x82, 0xa1, 'a', 0x92, 0x01, 0xa2, 'x', 'y', 0xa1, 'b', 0xc3};
    struct mp_cursor c = mp_cursor_make(buf, sizeof(buf));
    uint32_t n;
    struct ws_str s, span;
    uint64_t u;
    bool b;
    assert_int_equal(mp_read_map(&c, &n), MP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mp_read_str(&c, &s), MP_OK);
    assert_ptr_equal(s.ptr, (const char *)buf + 2);
    assert_int_equal(mp_skip(&c, 1, &span), MP_OK);
    assert_ptr_equal(span.ptr, (const char *)buf + 3);
    assert_int_equal(span.len, 5);
    c.pos = 3;
    assert_int_equal(mp_read_array(&c, &n), MP_OK);
    assert_int_equal(mp_read_uint(&c, &u), MP_OK);
    assert_int_equal(u, 1);
    assert_int_equal(mp_read_str(&c, &s), MP_OK);
    assert_memory_equal(s.ptr, "xy", 2);
    assert_int_equal(mp_read_str(&c, &s), MP_OK);
    assert_int_equal(mp_read_bool(&c, &b), MP_OK);
    assert_true(b);
    assert_true(mp_at_end(&c));
    assert_int_equal(mp_skip(&c, 1, NULL), MP_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_and_skip),        cmocka_unit_test(test_typed_reads),
        cmocka_unit_test(test_truncation_everywhere), cmocka_unit_test(test_never_used_byte),
        cmocka_unit_test(test_depth_limit),           cmocka_unit_test(test_huge_claims),
        cmocka_unit_test(test_sequence_of_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

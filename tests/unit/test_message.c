/*
 * test_message.c - every rule of ws_message_check / ws_message_check_header
 * with its close code, fragmentation and interleaved control frames, and
 * incremental UTF-8 across fragments failing on the right fragment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws_frame.h"
#include "ws_message.h"

static const struct ws_message_limits server = {
    .max_message = 1000, .allowed_rsv = 0, .require_mask = true};

static struct ws_frame frame(uint8_t opcode, bool fin, const void *payload, size_t len)
{
    struct ws_frame f = {.fin = fin, .opcode = opcode, .masked = true, .payload_len = len};
    f.payload = (uint8_t *)payload;
    return f;
}

/* Runs one frame through ws_message_check; returns the close code. */
static enum ws_close_code apply(struct ws_message_state *st, struct ws_frame f,
                                struct ws_message_verdict *v)
{
    const char *reason = "unset";
    struct ws_message_state before = *st;
    enum ws_close_code hdr = ws_message_check_header(st, &f, &server, &reason);
    assert_memory_equal(&before, st, sizeof(before));
    ws_message_check(st, &f, &server, v);
    if (hdr != WS_CLOSE_NONE) {
        /* the header verdict is the full verdict, with the same reason */
        assert_int_equal(v->fail, hdr);
        assert_string_equal(v->reason, reason);
    }
    if (v->fail != WS_CLOSE_NONE) {
        assert_non_null(v->reason);
        assert_memory_equal(&before, st, sizeof(before)); /* failure leaves st alone */
    }
    return v->fail;
}

static enum ws_close_code apply_one(uint8_t opcode, bool fin, const void *payload, size_t len)
{
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    return apply(&st, frame(opcode, fin, payload, len), &v);
}

static void test_single_frames(void **state)
{
    (void)state;
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, true, "Hello", 5), &v), WS_CLOSE_NONE);
    assert_true(v.message_start);
    assert_true(v.message_end);
    assert_int_equal(v.message_opcode, WS_OP_TEXT);
    assert_false(st.in_message);
    assert_int_equal(apply(&st, frame(WS_OP_BINARY, true, "\xff\x00", 2), &v), WS_CLOSE_NONE);
    assert_int_equal(v.message_opcode, WS_OP_BINARY);
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, true, "", 0), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_PING, true, "p", 1), &v), WS_CLOSE_NONE);
    assert_false(v.message_start);
    assert_false(v.message_end);
    assert_int_equal(apply(&st, frame(WS_OP_PONG, true, "", 0), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, "\x03\xe8", 2), &v), WS_CLOSE_NONE);
    assert_int_equal(v.close_code, 1000);
    assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, "", 0), &v), WS_CLOSE_NONE);
    assert_int_equal(v.close_code, WS_CLOSE_NO_STATUS);
}

static void test_fragments_with_interleaved_control(void **state)
{
    (void)state;
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, false, "Hel", 3), &v), WS_CLOSE_NONE);
    assert_true(v.message_start);
    assert_false(v.message_end);
    assert_true(st.in_message);
    assert_int_equal(st.size, 3);
    assert_int_equal(apply(&st, frame(WS_OP_PING, true, "", 0), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, false, "", 0), &v), WS_CLOSE_NONE);
    assert_false(v.message_start);
    assert_int_equal(v.message_opcode, WS_OP_TEXT);
    assert_int_equal(apply(&st, frame(WS_OP_PONG, true, "x", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, "lo", 2), &v), WS_CLOSE_NONE);
    assert_true(v.message_end);
    assert_int_equal(v.message_opcode, WS_OP_TEXT);
    assert_false(st.in_message);
    assert_int_equal(st.size, 0);

    /* binary, then a close in the middle of a fragmented message is fine */
    assert_int_equal(apply(&st, frame(WS_OP_BINARY, false, "\xff", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, false, "\xfe", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(v.message_opcode, WS_OP_BINARY);
    assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, "\x03\xe9", 2), &v), WS_CLOSE_NONE);
    assert_int_equal(v.close_code, 1001);
}

static void test_reserved_opcodes(void **state)
{
    (void)state;
    for (uint8_t op = 3; op <= 7; op++)
        assert_int_equal(apply_one(op, true, "", 0), WS_CLOSE_PROTOCOL_ERROR);
    for (uint8_t op = 0xb; op <= 0xf; op++)
        assert_int_equal(apply_one(op, true, "", 0), WS_CLOSE_PROTOCOL_ERROR);
    /* also inside a fragmented message */
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, false, "a", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(0xb, true, "", 0), &v), WS_CLOSE_PROTOCOL_ERROR);
    assert_string_equal(v.reason, "reserved opcode");
}

static void test_rsv_bits(void **state)
{
    (void)state;
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    for (uint8_t rsv = 1; rsv <= 7; rsv++) {
        struct ws_frame f = frame(WS_OP_TEXT, true, "a", 1);
        f.rsv = rsv;
        assert_int_equal(apply(&st, f, &v), WS_CLOSE_PROTOCOL_ERROR);
        f.opcode = WS_OP_PING;
        assert_int_equal(apply(&st, f, &v), WS_CLOSE_PROTOCOL_ERROR);
    }
    /* an extension that negotiated RSV1 */
    struct ws_message_limits deflate = server;
    deflate.allowed_rsv = 0x4;
    struct ws_frame f = frame(WS_OP_BINARY, true, "a", 1);
    f.rsv = 0x4;
    ws_message_check(&st, &f, &deflate, &v);
    assert_int_equal(v.fail, WS_CLOSE_NONE);
    f.rsv = 0x6;
    ws_message_check(&st, &f, &deflate, &v);
    assert_int_equal(v.fail, WS_CLOSE_PROTOCOL_ERROR);
}

static void test_masking(void **state)
{
    (void)state;
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    struct ws_frame f = frame(WS_OP_TEXT, true, "a", 1);
    f.masked = false;
    assert_int_equal(apply(&st, f, &v), WS_CLOSE_PROTOCOL_ERROR);
    assert_string_equal(v.reason, "unmasked client frame");
    f.opcode = WS_OP_PING;
    assert_int_equal(apply(&st, f, &v), WS_CLOSE_PROTOCOL_ERROR);
    /* a client reading server frames does not require masks */
    struct ws_message_limits client = server;
    client.require_mask = false;
    ws_message_check(&st, &f, &client, &v);
    assert_int_equal(v.fail, WS_CLOSE_NONE);
    f.masked = true;
    ws_message_check(&st, &f, &client, &v);
    assert_int_equal(v.fail, WS_CLOSE_NONE);
}

static void test_control_frame_rules(void **state)
{
    (void)state;
    static const uint8_t big[126] = {0x03, 0xe8};
    /* not FIN */
    assert_int_equal(apply_one(WS_OP_PING, false, "", 0), WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(apply_one(WS_OP_PONG, false, "", 0), WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(apply_one(WS_OP_CLOSE, false, "", 0), WS_CLOSE_PROTOCOL_ERROR);
    /* 125 is fine, 126 is not */
    assert_int_equal(apply_one(WS_OP_PING, true, big, 125), WS_CLOSE_NONE);
    assert_int_equal(apply_one(WS_OP_PING, true, big, 126), WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(apply_one(WS_OP_PONG, true, big, 126), WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(apply_one(WS_OP_CLOSE, true, big, 126), WS_CLOSE_PROTOCOL_ERROR);
    /* known from the header alone, before any payload */
    struct ws_message_state st;
    ws_message_init(&st);
    struct ws_frame f = frame(WS_OP_PING, true, NULL, 1u << 20);
    const char *reason;
    assert_int_equal(ws_message_check_header(&st, &f, &server, &reason), WS_CLOSE_PROTOCOL_ERROR);
    assert_string_equal(reason, "control frame over 125 bytes");
}

static void test_close_payload_rules(void **state)
{
    (void)state;
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, "\x03", 1), &v), WS_CLOSE_PROTOCOL_ERROR);
    static const char *bad_codes[] = {"\x00\x00", "\x03\xe7", "\x03\xec", "\x03\xed", "\x03\xee",
                                      "\x03\xf4", "\x03\xf7", "\x03\xf8", "\x04\x4c", "\x07\xd0",
                                      "\x0b\xb7", "\x13\x88", "\xff\xff"};
    for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++)
        assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, bad_codes[i], 2), &v),
                         WS_CLOSE_PROTOCOL_ERROR);
    static const char *good_codes[] = {"\x03\xe8", "\x03\xe9", "\x03\xea", "\x03\xeb", "\x03\xef",
                                       "\x03\xf0", "\x03\xf1", "\x03\xf2", "\x03\xf3", "\x0b\xb8",
                                       "\x0f\x9f", "\x0f\xa0", "\x13\x87"};
    for (size_t i = 0; i < sizeof(good_codes) / sizeof(good_codes[0]); i++) {
        assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, good_codes[i], 2), &v), WS_CLOSE_NONE);
        assert_int_equal(v.close_code, (uint8_t)good_codes[i][0] << 8 | (uint8_t)good_codes[i][1]);
    }
    assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, "\x03\xe8\xed\xa0\x80", 5), &v),
                     WS_CLOSE_INVALID_PAYLOAD);
    assert_int_equal(apply(&st, frame(WS_OP_CLOSE, true, "\x03\xe8\xce\xba", 4), &v),
                     WS_CLOSE_NONE);
}

static void test_fragmentation_rules(void **state)
{
    (void)state;
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    /* continuation with nothing open */
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, "a", 1), &v),
                     WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, false, "a", 1), &v),
                     WS_CLOSE_PROTOCOL_ERROR);
    /* a new data message inside an open one */
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, false, "a", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, true, "b", 1), &v), WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(apply(&st, frame(WS_OP_BINARY, false, "b", 1), &v), WS_CLOSE_PROTOCOL_ERROR);
    assert_string_equal(v.reason, "new message inside a fragmented one");
    /* after the message ends, a continuation is again an error */
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, "c", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, "d", 1), &v),
                     WS_CLOSE_PROTOCOL_ERROR);
    assert_string_equal(v.reason, "continuation without a message");
}

static void test_message_size(void **state)
{
    (void)state;
    static uint8_t buf[1001];
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    assert_int_equal(apply(&st, frame(WS_OP_BINARY, true, buf, 1000), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_BINARY, true, buf, 1001), &v),
                     WS_CLOSE_MESSAGE_TOO_BIG);
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, true, buf, 1001), &v), WS_CLOSE_MESSAGE_TOO_BIG);
    /* from the header alone: a huge length before any payload */
    struct ws_frame f = frame(WS_OP_BINARY, true, NULL, UINT64_MAX >> 1);
    const char *reason;
    assert_int_equal(ws_message_check_header(&st, &f, &server, &reason), WS_CLOSE_MESSAGE_TOO_BIG);
    /* summed across fragments: 600 + 400 fits, one more byte does not */
    assert_int_equal(apply(&st, frame(WS_OP_BINARY, false, buf, 600), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_PING, true, buf, 125), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, false, buf, 400), &v), WS_CLOSE_NONE);
    assert_int_equal(st.size, 1000);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, buf, 1), &v),
                     WS_CLOSE_MESSAGE_TOO_BIG);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, buf, 0), &v), WS_CLOSE_NONE);
    /* a new message starts counting from zero */
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, false, buf, 1000), &v), WS_CLOSE_NONE);
}

static void test_text_utf8(void **state)
{
    (void)state;
    assert_int_equal(apply_one(WS_OP_TEXT, true, "\xce\xba\xe1\xbd\xb9", 5), WS_CLOSE_NONE);
    assert_int_equal(apply_one(WS_OP_TEXT, true, "\xed\xa0\x80", 3), WS_CLOSE_INVALID_PAYLOAD);
    assert_int_equal(apply_one(WS_OP_TEXT, true, "\xc0\x80", 2), WS_CLOSE_INVALID_PAYLOAD);
    /* incomplete at FIN */
    assert_int_equal(apply_one(WS_OP_TEXT, true, "\xe1\xbd", 2), WS_CLOSE_INVALID_PAYLOAD);
    /* not incomplete while FIN is not set */
    assert_int_equal(apply_one(WS_OP_TEXT, false, "\xe1\xbd", 2), WS_CLOSE_NONE);
    /* binary is never validated */
    assert_int_equal(apply_one(WS_OP_BINARY, true, "\xed\xa0\x80", 3), WS_CLOSE_NONE);

    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    /* a code point split across fragments, with a ping in between */
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, false, "\xf0\x9f", 2), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_PING, true, "\xff", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, false, "\x98", 1), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, "\x80", 1), &v), WS_CLOSE_NONE);
    /* an incomplete sequence at the end of a fragmented message */
    assert_int_equal(apply(&st, frame(WS_OP_TEXT, false, "ab", 2), &v), WS_CLOSE_NONE);
    assert_int_equal(apply(&st, frame(WS_OP_CONTINUATION, true, "\xf0\x9f", 2), &v),
                     WS_CLOSE_INVALID_PAYLOAD);
    assert_string_equal(v.reason, "text ends inside a UTF-8 sequence");
}

/* Feeds text as fragments cut at the given points and returns the index of the
 * fragment that failed with 1007 (or nfrag when none did). */
static size_t fail_fragment(const char *s, size_t len, const size_t *cuts, size_t ncuts)
{
    struct ws_message_state st;
    struct ws_message_verdict v;
    ws_message_init(&st);
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        uint8_t op = i == 0 ? WS_OP_TEXT : WS_OP_CONTINUATION;
        if (apply(&st, frame(op, i == ncuts, s + from, to - from), &v) != WS_CLOSE_NONE) {
            assert_int_equal(v.fail, WS_CLOSE_INVALID_PAYLOAD);
            return i;
        }
        from = to;
    }
    return ncuts + 1;
}

static void test_utf8_fails_on_the_fragment_with_the_bad_byte(void **state)
{
    (void)state;
    /* Autobahn 6.x: "κόσμε" then a surrogate (ED A0 80), then "edited".
     * The first impossible byte is A0, at index 12. */
    static const char text[] =
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
    size_t len = sizeof(text) - 1, bad = 12;
    for (size_t a = 0; a <= len; a++) {
        size_t one[1] = {a};
        assert_int_equal(fail_fragment(text, len, one, 1), a > bad ? 0 : 1);
        for (size_t b = a; b <= len; b++) {
            size_t two[2] = {a, b};
            size_t want = a > bad ? 0 : b > bad ? 1 : 2;
            assert_int_equal(fail_fragment(text, len, two, 2), want);
        }
    }
    /* > U+10FFFF: F4 90 - the 90 is impossible */
    static const char big[] = "ab\xf4\x90\x80\x80z";
    for (size_t a = 0; a <= 7; a++) {
        size_t one[1] = {a};
        assert_int_equal(fail_fragment(big, 7, one, 1), a > 3 ? 0 : 1);
    }
    /* truncated at the very end: only the final fragment can tell */
    static const char trunc[] = "ab\xe2\x82";
    for (size_t a = 0; a <= 4; a++) {
        size_t one[1] = {a};
        assert_int_equal(fail_fragment(trunc, 4, one, 1), 1);
    }
    /* valid text never fails, wherever it is cut */
    static const char good[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf0\x9f\x98\x80";
    for (size_t a = 0; a <= sizeof(good) - 1; a++) {
        size_t one[1] = {a};
        assert_int_equal(fail_fragment(good, sizeof(good) - 1, one, 1), 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_frames),
        cmocka_unit_test(test_fragments_with_interleaved_control),
        cmocka_unit_test(test_reserved_opcodes),
        cmocka_unit_test(test_rsv_bits),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_control_frame_rules),
        cmocka_unit_test(test_close_payload_rules),
        cmocka_unit_test(test_fragmentation_rules),
        cmocka_unit_test(test_message_size),
        cmocka_unit_test(test_text_utf8),
        cmocka_unit_test(test_utf8_fails_on_the_fragment_with_the_bad_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

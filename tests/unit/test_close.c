/*
 * test_close.c - close codes (the Autobahn 7.7.x / 7.9.x sets), close
 * payload checking, and writing a close payload with a truncated reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws_close.h"
#include "ws_utf8.h"

static void test_valid_codes(void **state)
{
    (void)state;
    static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                     1010, 1011, 3000, 3999, 4000, 4999};
    static const uint16_t invalid[] = {0,    999,  1004, 1005, 1006, 1012, 1013, 1014,
                                       1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        assert_true(ws_close_code_is_valid(valid[i]));
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        assert_false(ws_close_code_is_valid(invalid[i]));
    /* and the whole range agrees with the stated rule */
    for (uint32_t c = 0; c <= 0xffff; c++) {
        int want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
        assert_int_equal(ws_close_code_is_valid((uint16_t)c), want);
    }
}

static void test_payload_check(void **state)
{
    (void)state;
    uint16_t code = 1;
    assert_int_equal(ws_close_payload_check(NULL, 0, &code), WS_CLOSE_NONE);
    assert_int_equal(code, WS_CLOSE_NO_STATUS);

    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03", 1, &code),
                     WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03\xe8", 2, &code), WS_CLOSE_NONE);
    assert_int_equal(code, 1000);
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x0f\xa0ok", 4, &code),
                     WS_CLOSE_NONE);
    assert_int_equal(code, 4000);
    /* reserved / unassigned codes */
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03\xed", 2, &code),
                     WS_CLOSE_PROTOCOL_ERROR); /* 1005 */
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03\xee", 2, &code),
                     WS_CLOSE_PROTOCOL_ERROR); /* 1006 */
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03\xf4", 2, &code),
                     WS_CLOSE_PROTOCOL_ERROR); /* 1012 */
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x00\x00", 2, &code),
                     WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\xff\xff", 2, &code),
                     WS_CLOSE_PROTOCOL_ERROR);
    /* reason must be UTF-8 (Autobahn 7.5.1) */
    assert_int_equal(ws_close_payload_check(
                         (const uint8_t *)"\x03\xe8\xce\xba\xe1\xbd\xb9\xed\xa0\x80", 10, &code),
                     WS_CLOSE_INVALID_PAYLOAD);
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03\xe8\xce", 3, &code),
                     WS_CLOSE_INVALID_PAYLOAD);
    assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03\xe8\xce\xba", 4, &code),
                     WS_CLOSE_NONE);
}

static void test_payload_write(void **state)
{
    (void)state;
    uint8_t out[125];
    assert_int_equal(ws_close_payload_write(out, 1000, NULL), 2);
    assert_memory_equal(out, "\x03\xe8", 2);
    assert_int_equal(ws_close_payload_write(out, 1009, "too big"), 9);
    assert_memory_equal(out, "\x03\xf1too big", 9);
    assert_int_equal(ws_close_payload_write(out, 4000, ""), 2);
    assert_memory_equal(out, "\x0f\xa0", 2);
    /* "no status" is an empty payload */
    assert_int_equal(ws_close_payload_write(out, WS_CLOSE_NO_STATUS, "x"), 0);
    assert_int_equal(ws_close_payload_write(out, WS_CLOSE_NONE, "x"), 0);
}

static void test_payload_write_truncates_on_boundary(void **state)
{
    (void)state;
    uint8_t out[125];
    char reason[300];
    uint16_t code;

    memset(reason, 'a', 200);
    reason[200] = '\0';
    assert_int_equal(ws_close_payload_write(out, 1001, reason), 125);
    assert_int_equal(ws_close_payload_check(out, 125, &code), WS_CLOSE_NONE);
    assert_int_equal(code, 1001);

    memset(reason, 'a', 123);
    reason[123] = '\0';
    assert_int_equal(ws_close_payload_write(out, 1001, reason), 125);

    /* a 2-, 3- and 4-byte code point straddling byte 123 is dropped whole */
    static const char *wide[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t w = 0; w < 3; w++) {
        size_t wl = strlen(wide[w]);
        for (size_t prefix = 115; prefix <= 123; prefix++) {
            memset(reason, 'a', prefix);
            memcpy(reason + prefix, wide[w], wl);
            memset(reason + prefix + wl, 'b', 10);
            reason[prefix + wl + 10] = '\0';
            size_t n = ws_close_payload_write(out, 1000, reason);
            assert_true(n <= 125);
            assert_true(ws_utf8_valid(out + 2, n - 2));
            /* the longest prefix that fits and ends on a code point boundary */
            size_t want = prefix + wl <= 123 ? 123 : prefix;
            assert_int_equal(n, 2 + want);
            assert_memory_equal(out + 2, reason, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_codes),
        cmocka_unit_test(test_payload_check),
        cmocka_unit_test(test_payload_write),
        cmocka_unit_test(test_payload_write_truncates_on_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

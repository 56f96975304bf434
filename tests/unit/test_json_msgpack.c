/*
 * test_json_msgpack.c - JSON <-> msgpack conversion (proto/json_msgpack.c)
 * to the byte: every JSON type to its shortest msgpack encoding, container
 * and string headers shrunk at their size boundaries, number edges, JSON
 * errors with their offsets, output-too-small, and msgpack -> JSON for
 * every msgpack type including bin, ext, integer keys, floats, hostile
 * nesting, truncation and trailing bytes; and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_msgpack.h"

static uint8_t mp[1 << 17];
static char text[1 << 17];

/* JSON -> msgpack must succeed with exactly these bytes. */
static void expect_mp(const char *json, const char *bytes, size_t n)
{
    struct jm_result r = json_to_msgpack(json, strlen(json), mp, sizeof mp);
    if (r.status != JM_OK)
        fail_msg("%s: %s at %zu", json, r.error, r.offset);
    assert_int_equal(r.len, n);
    assert_memory_equal(mp, bytes, n);
}

/* msgpack -> JSON must succeed with exactly this text. */
static void expect_json(const char *bytes, size_t n, const char *json)
{
    struct jm_result r = msgpack_to_json((const uint8_t *)bytes, n, text, sizeof text);
    if (r.status != JM_OK)
        fail_msg("%s: %s at %zu", json, r.error, r.offset);
    assert_int_equal(r.len, strlen(json));
    assert_memory_equal(text, json, r.len);
}

static void test_scalars(void **state)
{
    (void)state;
    expect_mp("null", "\xc0", 1);
    expect_mp(" true ", "\xc3", 1);
    expect_mp("false", "\xc2", 1);
    expect_mp("0", "\x00", 1);
    expect_mp("127", "\x7f", 1);
    expect_mp("128", "\xcc\x80", 2);
    expect_mp("65536", "\xce\x00\x01\x00\x00", 5);
    expect_mp("18446744073709551615", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    expect_mp("-1", "\xff", 1);
    expect_mp("-33", "\xd0\xdf", 2);
    expect_mp("-9223372036854775808", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9);
    expect_mp("1.5", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9);
    expect_mp("1e3", "\xcb\x40\x8f\x40\x00\x00\x00\x00\x00", 9);
    /* beyond 64 bits: a float */
    expect_mp("18446744073709551616", "\xcb\x43\xf0\x00\x00\x00\x00\x00\x00", 9);
    expect_mp("\"\"", "\xa0", 1);
    expect_mp("\"a\\u00e9\\n\"",
              "\xa4"
              "a\xc3\xa9\n",
              5);
    expect_mp("\"\\ud83d\\ude00\"", "\xa4\xf0\x9f\x98\x80", 5);
}

static void test_containers(void **state)
{
    (void)state;
    expect_mp("{}", "\x80", 1);
    expect_mp("[]", "\x90", 1);
    expect_mp("{\"a\":1,\"b\":[true,null]}",
              "\x82\xa1"
              "a\x01\xa1"
              "b\x92\xc3\xc0",
              9);
    expect_mp("[[[]],{\"k\":{}}]", "\x92\x91\x90\x81\xa1k\x80", 7);
}

/* Headers at their size boundaries: fix -> 16-bit -> 32-bit. */
static void test_header_sizes(void **state)
{
    (void)state;
    static char json[1 << 16];
    size_t n = 0;
    json[n++] = '[';
    for (int i = 0; i < 16; i++)
        n += (size_t)sprintf(json + n, "%s1", i ? "," : "");
    json[n++] = ']';
    json[n] = '\0';
    struct jm_result r = json_to_msgpack(json, n, mp, sizeof mp);
    assert_int_equal(r.status, JM_OK);
    assert_int_equal(r.len, 3 + 16);
    assert_memory_equal(mp, "\xdc\x00\x10\x01", 4);
    /* a string of 31, 32, 255, 256 and 65536 bytes */
    const size_t lens[] = {31, 32, 255, 256, 65536};
    const size_t hdr[] = {1, 2, 2, 3, 5};
    for (size_t k = 0; k < 5; k++) {
        static char big[70000];
        big[0] = '"';
        memset(big + 1, 'x', lens[k]);
        big[lens[k] + 1] = '"';
        r = json_to_msgpack(big, lens[k] + 2, mp, sizeof mp);
        assert_int_equal(r.status, JM_OK);
        assert_int_equal(r.len, hdr[k] + lens[k]);
        assert_int_equal(mp[hdr[k]], 'x');
        assert_int_equal(mp[r.len - 1], 'x');
    }
    /* an escaped string decodes shorter than its raw text: the header shrinks */
    static char esc[300];
    strcpy(esc, "\"");
    for (int i = 0; i < 40; i++)
        strcat(esc, "\\n");
    strcat(esc, "\"");
    r = json_to_msgpack(esc, strlen(esc), mp, sizeof mp);
    assert_int_equal(r.status, JM_OK);
    assert_int_equal(r.len, 2 + 40);
    assert_memory_equal(mp, "\xd9\x28\n\n", 4);
}

static void test_json_errors(void **state)
{
    (void)state;
    const char *bad[] = {"",        "{",    "[1,]", "{\"a\"}",    "tru", "1 2",
                         "\"\\x\"", "[1]x", "01",   "{\"a\":1,}", "nul"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jm_result r = json_to_msgpack(bad[i], strlen(bad[i]), mp, sizeof mp);
        if (r.status != JM_BAD_INPUT)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(r.error);
        assert_true(r.offset <= strlen(bad[i]));
    }
    struct jm_result r = json_to_msgpack("[1,2,x]", 7, mp, sizeof mp);
    assert_int_equal(r.status, JM_BAD_INPUT);
    assert_int_equal(r.offset, 5);
}

static void test_no_space(void **state)
{
    (void)state;
    const char *json = "{\"key\":\"a longer string value\",\"n\":[1,2,3]}";
    struct jm_result full = json_to_msgpack(json, strlen(json), mp, sizeof mp);
    assert_int_equal(full.status, JM_OK);
    for (size_t cap = 0; cap < full.len; cap++) {
        struct jm_result r = json_to_msgpack(json, strlen(json), mp, cap);
        assert_int_equal(r.status, JM_NO_SPACE);
    }
    full = json_to_msgpack(json, strlen(json), mp, sizeof mp); /* the loop wrote over mp */
    for (size_t cap = 0; cap < 10; cap++) {
        struct jm_result r = msgpack_to_json(mp, full.len, text, cap);
        assert_int_equal(r.status, JM_NO_SPACE);
    }
}

static void test_to_json_types(void **state)
{
    (void)state;
    expect_json("\xc0", 1, "null");
    expect_json("\xc3", 1, "true");
    expect_json("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, "18446744073709551615");
    expect_json("\xe0", 1, "-32");
    expect_json("\xd1\x80\x00", 3, "-32768");
    expect_json("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, "-9223372036854775808");
    expect_json("\xd2\x00\x00\x00\x05", 5, "5"); /* a non-negative int */
    expect_json("\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a", 9, "0.1");
    expect_json("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9, "1.0");
    expect_json("\xca\x3f\xc0\x00\x00", 5, "1.5");
    expect_json("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9, "null"); /* NaN */
    expect_json("\xa3q\"\x01", 4, "\"q\\\"\\u0001\"");
    expect_json("\xc4\x03\x01\x02\x03", 5, "{\"$bin\":\"AQID\"}");
    expect_json("\xd4\x05\xff", 3, "{\"$ext\":5,\"data\":\"/w==\"}");
    expect_json("\xc7\x02\xfe\x01\x02", 5, "{\"$ext\":-2,\"data\":\"AQI=\"}");
    expect_json("\x82\x01\xa1x\xff\x90", 6, "{\"1\":\"x\",\"-1\":[]}");
    expect_json("\x93\x80\x91\x90\xc2", 5, "[{},[[]],false]");
}

static void test_to_json_errors(void **state)
{
    (void)state;
    struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"", 0},         /* nothing */
        {"\xc1", 1},     /* never used */
        {"\x92\x01", 2}, /* array of 2 with 1 */
        {"\xa5"
         "abc",
         4},                                                  /* truncated str */
        {"\x81\x90\x01", 3},                                  /* array as a key */
        {"\x81\xcb\x00\x00\x00\x00\x00\x00\x00\x00\x01", 11}, /* float key */
        {"\x01\x02", 2},                                      /* bytes after the value */
        {"\xcb\x00\x00", 3},                                  /* truncated float */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jm_result r =
            msgpack_to_json((const uint8_t *)bad[i].bytes, bad[i].n, text, sizeof text);
        if (r.status != JM_BAD_INPUT)
            fail_msg("case %zu was accepted", i);
        assert_non_null(r.error);
    }
    /* nesting beyond MP_MAX_DEPTH (64) is refused, not recursed into */
    uint8_t deep[100];
    memset(deep, 0x91, sizeof deep);
    deep[99] = 0xc0;
    struct jm_result r = msgpack_to_json(deep, sizeof deep, text, sizeof text);
    assert_int_equal(r.status, JM_BAD_INPUT);
    assert_non_null(strstr(r.error, "deep"));
    r = msgpack_to_json(deep + 100 - 64, 64, text, sizeof text);
    assert_int_equal(r.status, JM_OK);
}

/* Canonical compact JSON survives JSON -> msgpack -> JSON unchanged. */
static void test_round_trip(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"sym\":\"SYM001\",\"bid\":101.25,\"ask\":101.5,\"bsz\":300,\"t\":1764045600123456}",
        "[null,true,false,0,-1,1.0e-7,\"\\u001f\",{\"a\":{\"b\":[[],{}]}}]",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "-9223372036854775807",
    };
    const char *expect[] = {
        "{\"sym\":\"SYM001\",\"bid\":101.25,\"ask\":101.5,\"bsz\":300,\"t\":1764045600123456}",
        "[null,true,false,0,-1,1e-07,\"\\u001f\",{\"a\":{\"b\":[[],{}]}}]",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "-9223372036854775807",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct jm_result r = json_to_msgpack(docs[i], strlen(docs[i]), mp, sizeof mp);
        assert_int_equal(r.status, JM_OK);
        r = msgpack_to_json(mp, r.len, text, sizeof text);
        assert_int_equal(r.status, JM_OK);
        text[r.len] = '\0';
        assert_string_equal(text, expect[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_header_sizes),   cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_no_space),       cmocka_unit_test(test_to_json_types),
        cmocka_unit_test(test_to_json_errors), cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

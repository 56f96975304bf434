/*
 * test_json_reader.c - the JSON pull reader against RFC 8259: token streams
 * for valid documents, a table of invalid ones (each must fail), string
 * decoding with escapes and surrogate pairs, number conversions at their
 * limits, and the string writer's escapes and round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_reader.h"

/* Reads the whole of text and writes one letter per token into out:
 * n t f # s k { } [ ] and E for the end; returns false on JSON_ERROR. */
static bool token_letters(const char *text, char *out, size_t cap)
{
    static const char letter[] = {
        [JSON_END] = 'E',         [JSON_NULL] = 'n',         [JSON_TRUE] = 't',
        [JSON_FALSE] = 'f',       [JSON_NUMBER] = '#',       [JSON_STRING] = 's',
        [JSON_KEY] = 'k',         [JSON_OBJECT_BEGIN] = '{', [JSON_OBJECT_END] = '}',
        [JSON_ARRAY_BEGIN] = '[', [JSON_ARRAY_END] = ']'};
    struct json_reader r;
    struct json_token t;
    json_reader_init(&r, text, strlen(text));
    size_t n = 0;
    for (;;) {
        enum json_token_type type = json_next(&r, &t);
        if (type == JSON_ERROR)
            return false;
        assert_true(n + 1 < cap);
        out[n++] = letter[type];
        if (type == JSON_END)
            break;
    }
    out[n] = '\0';
    return true;
}

static void expect_tokens(const char *text, const char *want)
{
    char got[256];
    if (!token_letters(text, got, sizeof(got)))
        fail_msg("%s: rejected", text);
    if (strcmp(got, want) != 0)
        fail_msg("%s: tokens %s, want %s", text, got, want);
}

static void test_valid_documents(void **state)
{
    (void)state;
    expect_tokens("null", "nE");
    expect_tokens(" true ", "tE");
    expect_tokens("false", "fE");
    expect_tokens("0", "#E");
    expect_tokens("-12.5e+3", "#E");
    expect_tokens("\"a\"", "sE");
    expect_tokens("[]", "[]E");
    expect_tokens("{}", "{}E");
    expect_tokens("[1,\"x\",null,[true,{}]]", "[#sn[t{}]]E");
    expect_tokens("{\"a\":1,\"b\":{\"c\":[false]},\"d\":\"e\"}", "{k#k{k[f]}ks}E");
    expect_tokens(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n", "{k[##]}E");
}

static void test_invalid_documents(void **state)
{
    (void)state;
    static const char *const invalid[] = {"",
                                          " ",
                                          "[",
                                          "]",
                                          "{",
                                          "}",
                                          "[1,]",
                                          "[,1]",
                                          "{\"a\"}",
                                          "{\"a\":}",
                                          "{\"a\" 1}",
                                          "{1:2}",
                                          "{,}",
                                          "[1 2]",
                                          "01",
                                          "1.",
                                          ".5",
                                          "1e",
                                          "1e+",
                                          "-",
                                          "+1",
                                          "tru",
                                          "truex",
                                          "nul",
                                          "[true false]",
                                          "\"abc",
                                          "\"\\x\"",
                                          "\"\\u12\"",
                                          "\"\\ud800\"",
                                          "\"\\udc00\"",
                                          "\"\\ud800\\u0041\"",
                                          "\"a\nb\"",
                                          "1 2",
                                          "{}{}",
                                          "\"\xc0\xaf\"",
                                          "\"\xed\xa0\x80\"",
                                          "\"\xf4\x90\x80\x80\"",
                                          "\"\xe2\x82\"",
                                          "NaN",
                                          "[1}",
                                          "{\"a\":1]"};
    char got[256];
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (token_letters(invalid[i], got, sizeof(got)))
            fail_msg("invalid document accepted: '%s' -> %s", invalid[i], got);
    }
}

static void test_error_names_problem_and_offset(void **state)
{
    (void)state;
    struct json_reader r;
    struct json_token t;
    const char *text = "[1, 2 x]";
    json_reader_init(&r, text, strlen(text));
    while (json_next(&r, &t) != JSON_ERROR)
        ;
    assert_non_null(r.error);
    assert_int_equal(r.error_offset, 6);
    /* Errors are sticky. */
    assert_int_equal(json_next(&r, &t), JSON_ERROR);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char deep[JSON_MAX_DEPTH * 2 + 3];
    char got[512];
    memset(deep, '[', JSON_MAX_DEPTH);
    memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    deep[JSON_MAX_DEPTH * 2] = '\0';
    assert_true(token_letters(deep, got, sizeof(got)));
    memset(deep, '[', JSON_MAX_DEPTH + 1);
    memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
    deep[JSON_MAX_DEPTH * 2 + 2] = '\0';
    assert_false(token_letters(deep, got, sizeof(got)));
}

static void test_string_decode(void **state)
{
    (void)state;
    const char *text =
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\xc3\xa9\"";
    struct json_reader r;
    struct json_token t;
    json_reader_init(&r, text, strlen(text));
    assert_int_equal(json_next(&r, &t), JSON_STRING);
    assert_true(t.escaped);
    char out[64];
    size_t n = json_string_decode(t.raw, out, sizeof(out));
    const char want[] = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
    assert_true(n <= t.raw.len);
    assert_int_equal(json_string_decode(t.raw, out, n - 1), SIZE_MAX);
    assert_true(json_string_eq(&t, want));
    assert_false(json_string_eq(&t, "a\"b"));
}

static void test_keys_and_skip(void **state)
{
    (void)state;
    const char *text = "{\"skip\":{\"x\":[1,{\"y\":2}]},\"w\\u0061nt\":7}";
    struct json_reader r;
    struct json_token t;
    json_reader_init(&r, text, strlen(text));
    assert_int_equal(json_next(&r, &t), JSON_OBJECT_BEGIN);
    assert_int_equal(json_next(&r, &t), JSON_KEY);
    assert_true(json_string_eq(&t, "skip"));
    assert_int_equal(json_next(&r, &t), JSON_OBJECT_BEGIN);
    assert_true(json_skip(&r, &t));
    assert_int_equal(json_next(&r, &t), JSON_KEY);
    assert_true(json_string_eq(&t, "want"));
    assert_int_equal(json_next(&r, &t), JSON_NUMBER);
    uint64_t v;
    assert_true(json_number_u64(t.raw, &v));
    assert_int_equal(v, 7);
    assert_int_equal(json_next(&r, &t), JSON_OBJECT_END);
    assert_int_equal(json_next(&r, &t), JSON_END);
}

static struct ws_str s(const char *text)
{
    return (struct ws_str){text, strlen(text)};
}

static void test_numbers(void **state)
{
    (void)state;
    uint64_t u;
    int64_t i;
    double d;
    assert_true(json_number_u64(s("18446744073709551615"), &u));
    assert_true(u == UINT64_MAX);
    assert_false(json_number_u64(s("18446744073709551616"), &u));
    assert_false(json_number_u64(s("-1"), &u));
    assert_false(json_number_u64(s("1.0"), &u));
    assert_false(json_number_u64(s("1e3"), &u));
    assert_true(json_number_i64(s("-9223372036854775808"), &i));
    assert_true(i == INT64_MIN);
    assert_false(json_number_i64(s("-9223372036854775809"), &i));
    assert_true(json_number_i64(s("9223372036854775807"), &i));
    assert_true(i == INT64_MAX);
    assert_false(json_number_i64(s("9223372036854775808"), &i));
    assert_true(json_number_double(s("-12.5e+3"), &d));
    assert_true(d == -12500.0);
    assert_false(json_number_double(s("1e999"), &d));
}

static void test_write_string(void **state)
{
    (void)state;
    char out[64];
    const char in[] = "a\"\\\n\x01\xc3\xa9\xff";
    size_t n = json_write_string(out, sizeof(out), in, sizeof(in) - 1);
    const char want[] = "\"a\\\"\\\\\\n\\u0001\xc3\xa9\xef\xbf\xbd\"";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
    /* Too small: the needed length, nothing written past cap. */
    memset(out, 'Z', sizeof(out));
    assert_int_equal(json_write_string(out, 4, in, sizeof(in) - 1), n);
    assert_int_equal(out[4], 'Z');
    /* What the writer writes, the reader reads back (valid UTF-8 input). */
    const char text[] = "tab\there \"q\" \xe2\x82\xac \x1f end";
    n = json_write_string(out, sizeof(out), text, sizeof(text) - 1);
    struct json_reader r;
    struct json_token t;
    json_reader_init(&r, out, n);
    assert_int_equal(json_next(&r, &t), JSON_STRING);
    char back[64];
    size_t m = json_string_decode(t.raw, back, sizeof(back));
    assert_int_equal(m, sizeof(text) - 1);
    assert_memory_equal(back, text, m);
    assert_int_equal(json_next(&r, &t), JSON_END);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_error_names_problem_and_offset),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_string_decode),
        cmocka_unit_test(test_keys_and_skip),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_write_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_topic.c - the topic grammar (docs/protocol.md section 3) as tables of
 * valid and invalid names, pattern matching with NATS semantics, and the
 * FNV-1a hash against known vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

static struct ws_str str_of(const char *s)
{
    return (struct ws_str){s, strlen(s)};
}

static void expect_kind(const char *s, size_t len, enum topic_kind want)
{
    enum topic_kind got = topic_classify((struct ws_str){s, len});
    if (got != want)
        fail_msg("topic_classify(\"%.*s\") = %d, want %d", (int)len, s, got, want);
}

static void test_classify_tables(void **state)
{
    (void)state;
    static const char *const exact[] = {
        "a", "md.AAPL", "md.NASDAQ.AAPL", "orders.eu-west.17", "!~", "a.b.c.d", "x#y", "A_b-c"};
    static const char *const pattern[] = {"*",   ">",      "md.*", "md.>",      "*.AAPL",
                                          "*.*", "md.*.>", "*.>",  "md.*.AAPL", "a.*.b.*.c"};
    static const char *const invalid[] = {"",    ".",   "a.",    ".a",     "a..b", "md*",
                                          "*md", "m*d", "md.>x", "md.>.a", ">.a",  "a>",
                                          ">>",  "**",  "a b",   "a.*.",   "..",   "md.> "};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        expect_kind(exact[i], strlen(exact[i]), TOPIC_EXACT);
    for (size_t i = 0; i < sizeof(pattern) / sizeof(pattern[0]); i++)
        expect_kind(pattern[i], strlen(pattern[i]), TOPIC_PATTERN);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        expect_kind(invalid[i], strlen(invalid[i]), TOPIC_INVALID);
    assert_int_equal(topic_classify((struct ws_str){NULL, 0}), TOPIC_INVALID);
}

static void test_classify_bytes(void **state)
{
    (void)state;
    /* every byte value alone, and inside a token */
    for (int b = 0; b < 256; b++) {
        char one[1] = {(char)b};
        char three[3] = {'a', (char)b, 'z'};
        enum topic_kind want_one = TOPIC_INVALID, want_three = TOPIC_INVALID;
        if (b >= 0x21 && b <= 0x7e && b != '.' && b != '*' && b != '>')
            want_one = want_three = TOPIC_EXACT;
        if (b == '*' || b == '>')
            want_one = TOPIC_PATTERN;
        if (b == '.')
            want_three = TOPIC_EXACT; /* "a.z": two tokens */
        expect_kind(one, 1, want_one);
        expect_kind(three, 3, want_three);
    }
    expect_kind("a\x20z", 3, TOPIC_INVALID);
    expect_kind("a\x7fz", 3, TOPIC_INVALID);
    expect_kind("a\x80z", 3, TOPIC_INVALID);
    expect_kind("a\0z", 3, TOPIC_INVALID);
}

static void test_classify_lengths(void **state)
{
    (void)state;
    char buf[300];
    memset(buf, 'x', sizeof(buf));
    expect_kind(buf, 255, TOPIC_EXACT);
    expect_kind(buf, 256, TOPIC_INVALID);
    buf[253] = '.';
    buf[254] = '>';
    expect_kind(buf, 255, TOPIC_PATTERN);
    expect_kind(buf, 256, TOPIC_INVALID);
}

static void test_classify_token_count(void **state)
{
    (void)state;
    char buf[128];
    /* "a.a.a...": n tokens take 2n - 1 bytes */
    for (size_t n = 1; n <= 40; n++) {
        for (size_t i = 0; i < n; i++) {
            buf[2 * i] = 'a';
            buf[2 * i + 1] = '.';
        }
        expect_kind(buf, 2 * n - 1, n <= 32 ? TOPIC_EXACT : TOPIC_INVALID);
        buf[2 * n - 2] = '>';
        expect_kind(buf, 2 * n - 1, n <= 32 ? TOPIC_PATTERN : TOPIC_INVALID);
    }
}

struct match_case {
    const char *pattern, *topic;
    bool match;
};

static void test_matches_table(void **state)
{
    (void)state;
    static const struct match_case cases[] = {
        {"md.*.AAPL", "md.NASDAQ.AAPL", true},
        {"md.*.AAPL", "md.AAPL", false},
        {"md.*.AAPL", "md.NASDAQ.MSFT", false},
        {"md.*.AAPL", "md.NASDAQ.AAPL.x", false},
        {"md.>", "md", false},
        {"md.>", "md.AAPL", true},
        {"md.>", "md.a.b", true},
        {"md.>", "mdx.a", false},
        {"md.>", "m", false},
        {"*", "md", true},
        {"*", "md.AAPL", false},
        {">", "md", true},
        {">", "md.AAPL.x", true},
        {"*.>", "md", false},
        {"*.>", "md.a", true},
        {"*.*", "a.b", true},
        {"*.*", "a", false},
        {"*.*", "a.b.c", false},
        {"md.*", "md.AAPL", true},
        {"md.*", "md", false},
        {"md.*.>", "md.a.b", true},
        {"md.*.>", "md.a", false},
        {"md.AAPL", "md.AAPL", true},
        {"md.AAPL", "md.AAPLX", false},
        {"md.AAPL", "md.AAP", false},
        {"md.AAPL", "md.AAPL.x", false},
        {"md.AAPL", "md", false},
        {"md.AAPL", "mx.AAPL", false},
        {"a.*.c", "a.bb.c", true},
        {"a.*.c", "a.b.cc", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct match_case *c = &cases[i];
        bool got = topic_matches(str_of(c->pattern), str_of(c->topic));
        if (got != c->match)
            fail_msg("topic_matches(\"%s\", \"%s\") = %d", c->pattern, c->topic, got);
    }
}

static void test_matches_views_not_terminated(void **state)
{
    (void)state;
    /* views into larger buffers: matching must stop at len */
    const char *buf = "md.AAPL.more";
    assert_true(topic_matches((struct ws_str){buf, 7}, (struct ws_str){buf, 7}));
    assert_false(topic_matches((struct ws_str){buf, 7}, (struct ws_str){buf, 12}));
    assert_true(topic_matches(str_of("md.*"), (struct ws_str){buf, 7}));
    assert_false(topic_matches(str_of("md.*"), (struct ws_str){buf, 12}));
}

static void test_hash(void **state)
{
    (void)state;
    /* FNV-1a 64 reference vectors */
    assert_true(topic_hash((struct ws_str){"", 0}) == 0xcbf29ce484222325ull);
    assert_true(topic_hash(str_of("a")) == 0xaf63dc4c8601ec8cull);
    assert_true(topic_hash(str_of("foobar")) == 0x85944171f73967e8ull);
    assert_true(topic_hash(str_of("md.AAPL")) == topic_hash(str_of("md.AAPL")));
    assert_true(topic_hash(str_of("md.AAPL")) != topic_hash(str_of("md.MSFT")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_tables),
        cmocka_unit_test(test_classify_bytes),
        cmocka_unit_test(test_classify_lengths),
        cmocka_unit_test(test_classify_token_count),
        cmocka_unit_test(test_matches_table),
        cmocka_unit_test(test_matches_views_not_terminated),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

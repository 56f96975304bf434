/*
 * test_auth_rights.c - authorisation decisions as tables: which requested
 * topics and patterns a granted pattern covers (topic_pattern_covers), the
 * publish and subscribe checks of broker/auth_rights.c, and the publish
 * token bucket's arithmetic at chosen instants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_rights.h"
#include "token_bucket.h"
#include "topic.h"

static struct ws_str str_of(const char *s)
{
    return (struct ws_str){s, strlen(s)};
}

struct cover_case {
    const char *outer, *inner;
    bool covers;
};

static void test_pattern_covers(void **state)
{
    (void)state;
    static const struct cover_case cases[] = {
        {">", "a", true},          {">", "a.b.c", true},         {">", "*", true},
        {">", ">", true},          {">", "*.>", true},           {"md.>", "md.a", true},
        {"md.>", "md.*", true},    {"md.>", "md.>", true},       {"md.>", "md.*.x", true},
        {"md.>", "md", false},     {"md.>", ">", false},         {"md.>", "*.a", false},
        {"md.*", "md.a", true},    {"md.*", "md.*", true},       {"md.*", "md.>", false},
        {"md.*", "md.a.b", false}, {"md.*", "md", false},        {"md.a", "md.a", true},
        {"md.a", "md.*", false},   {"md.a", "md.b", false},      {"md.a", "md.a.b", false},
        {"*.a", "x.a", true},      {"*.a", "*.a", true},         {"*.a", "*.*", false},
        {"*.>", "a.b", true},      {"*.>", "a", false},          {"*.>", "*.>", true},
        {"a.*.c", "a.b.c", true},  {"a.*.c", "a.*.c", true},     {"a.*.c", "a.>", false},
        {"a.>", "a.*.>", true},    {"a.*.>", "a.>", false},      {"ab", "a", false},
        {"a", "ab", false},        {"md.AAPL", "md.AAPL", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = topic_pattern_covers(str_of(cases[i].outer), str_of(cases[i].inner));
        if (got != cases[i].covers)
            fail_msg("covers(%s, %s) = %d, want %d", cases[i].outer, cases[i].inner, got,
                     cases[i].covers);
        /* what a pattern covers, it matches, for every exact topic */
        if (got && topic_classify(str_of(cases[i].inner)) == TOPIC_EXACT)
            assert_true(topic_matches(str_of(cases[i].outer), str_of(cases[i].inner)));
    }
}

static void test_rights(void **state)
{
    (void)state;
    const struct ws_str pub[] = {str_of("md.>")};
    const struct ws_str sub[] = {str_of("md.*"), str_of("news.eu")};
    struct auth_rights *r = auth_rights_build(pub, 1, sub, 2, 42);
    assert_non_null(r);
    assert_int_equal(r->expires, 42);
    assert_true(auth_may_publish(r, str_of("md.a.b")));
    assert_false(auth_may_publish(r, str_of("news.eu")));
    assert_true(auth_may_subscribe(r, str_of("md.a")));
    assert_true(auth_may_subscribe(r, str_of("md.*")));
    assert_true(auth_may_subscribe(r, str_of("news.eu")));
    assert_false(auth_may_subscribe(r, str_of("md.>")));
    assert_false(auth_may_subscribe(r, str_of("news.*")));
    struct auth_rights *copy = auth_rights_copy(r);
    auth_rights_free(r);
    assert_true(auth_may_subscribe(copy, str_of("news.eu"))); /* its own storage */
    auth_rights_free(copy);

    assert_true(auth_may_publish(&auth_rights_all, str_of("x")));
    assert_true(auth_may_subscribe(&auth_rights_all, str_of(">")));
    assert_false(auth_may_publish(&auth_rights_read, str_of("x")));
    assert_true(auth_may_subscribe(&auth_rights_read, str_of("a.*.>")));
    assert_false(auth_may_publish(NULL, str_of("x")));
    assert_false(auth_may_subscribe(NULL, str_of("x")));
    assert_ptr_equal(auth_rights_copy(&auth_rights_read), &auth_rights_read);
    auth_rights_free(&auth_rights_all); /* a no-op */
}

static void test_token_bucket(void **state)
{
    (void)state;
    struct token_bucket b = {0};
    /* rate 0: no limit */
    for (int i = 0; i < 1000; i++)
        assert_true(token_bucket_take(&b, 0, 0, 0));
    /* rate 10/s, burst 3: three at once, then one per 100 ms */
    b = (struct token_bucket){0};
    for (int i = 0; i < 3; i++)
        assert_true(token_bucket_take(&b, 10, 3, 1000));
    assert_false(token_bucket_take(&b, 10, 3, 1000));
    assert_false(token_bucket_take(&b, 10, 3, 1099));
    assert_true(token_bucket_take(&b, 10, 3, 1100));
    assert_false(token_bucket_take(&b, 10, 3, 1100));
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 3; i++)
        assert_true(token_bucket_take(&b, 10, 3, 60000));
    assert_false(token_bucket_take(&b, 10, 3, 60000));
    /* burst 0 means burst = rate */
    b = (struct token_bucket){0};
    for (int i = 0; i < 5; i++)
        assert_true(token_bucket_take(&b, 5, 0, 0));
    assert_false(token_bucket_take(&b, 5, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_covers),
        cmocka_unit_test(test_rights),
        cmocka_unit_test(test_token_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

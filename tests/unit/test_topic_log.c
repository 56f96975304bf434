/*
 * test_topic_log.c - a topic's retention ring (broker/topic_log.c) on its
 * own: consecutive seqs found by arithmetic across growth and wrap-around,
 * eviction of the oldest by count, by bytes (including one message larger
 * than the limit) and by age with explicit clocks, and the frame references
 * the log takes over and gives back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topic_log.h"

#define FRAMES 64

/* Frames with a known length; the test keeps one reference to each so it can
 * watch the log take and release its own. */
struct frames {
    struct outbuf *f[FRAMES + 1]; /* by seq */
};

static struct outbuf *frame_new(size_t len)
{
    struct outbuf *b = outbuf_alloc_shared(len);
    assert_non_null(b);
    b->len = len;
    return b;
}

static unsigned refs_of(struct outbuf *b)
{
    return atomic_load(&b->refs);
}

/* Appends seq with a frame of len bytes at now_ms, handing the log a reference. */
static void append(struct topic_log *log, struct frames *fr, uint64_t seq, size_t len,
                   uint64_t now_ms)
{
    fr->f[seq] = frame_new(len);
    assert_int_equal(topic_log_append(log, seq, now_ms, outbuf_ref(fr->f[seq])), 0);
}

static void frames_release(struct frames *fr)
{
    for (size_t i = 0; i <= FRAMES; i++) {
        if (fr->f[i]) {
            assert_int_equal(refs_of(fr->f[i]), 1); /* the log gave its reference back */
            outbuf_release(fr->f[i]);
        }
    }
}

/* The log holds exactly first..last, each with its own frame. */
static void expect_range(const struct topic_log *log, const struct frames *fr, uint64_t first,
                         uint64_t last)
{
    assert_int_equal(log->count, last - first + 1);
    assert_int_equal(topic_log_oldest(log, last), first);
    assert_null(topic_log_find(log, first - 1));
    assert_null(topic_log_find(log, last + 1));
    for (uint64_t seq = first; seq <= last; seq++) {
        const struct log_entry *e = topic_log_find(log, seq);
        if (e == NULL)
            fail_msg("seq %llu not found in %llu..%llu", (unsigned long long)seq,
                     (unsigned long long)first, (unsigned long long)last);
        assert_int_equal(e->seq, seq);
        assert_ptr_equal(e->frame, fr->f[seq]);
        assert_int_equal(refs_of(fr->f[seq]), 2);
    }
    const struct log_entry *newest = topic_log_newest(log);
    assert_non_null(newest);
    assert_int_equal(newest->seq, last);
}

static void test_empty(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 0, 0, 100};
    struct topic_log log;
    topic_log_init(&log, &rule);
    assert_int_equal(topic_log_oldest(&log, 0), 1);
    assert_int_equal(topic_log_oldest(&log, 7), 8); /* head + 1 when nothing is retained */
    assert_null(topic_log_find(&log, 0));
    assert_null(topic_log_find(&log, 1));
    assert_null(topic_log_newest(&log));
    topic_log_expire(&log, 1000000);
    assert_int_equal(log.count, 0);
    topic_log_destroy(&log);
}

static void test_append_find_through_growth(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 0, 0, 0}; /* unbounded */
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    for (uint64_t seq = 1; seq <= 40; seq++) { /* past the initial 16 slots, twice */
        append(&log, &fr, seq, 10 + seq, 0);
        expect_range(&log, &fr, 1, seq);
    }
    uint64_t bytes = 0;
    for (uint64_t seq = 1; seq <= 40; seq++)
        bytes += 10 + seq;
    assert_int_equal(log.bytes, bytes);
    topic_log_destroy(&log);
    frames_release(&fr);
}

static void test_evicts_by_count(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 5, 0, 0};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    for (uint64_t seq = 1; seq <= 5; seq++)
        append(&log, &fr, seq, 100, 0);
    expect_range(&log, &fr, 1, 5);
    /* each further append evicts exactly the oldest, wrapping the ring */
    for (uint64_t seq = 6; seq <= 37; seq++) {
        append(&log, &fr, seq, 100, 0);
        expect_range(&log, &fr, seq - 4, seq);
        assert_int_equal(refs_of(fr.f[seq - 5]), 1);
        assert_int_equal(log.bytes, 500);
    }
    topic_log_destroy(&log);
    frames_release(&fr);
}

static void test_evicts_by_bytes(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 0, 300, 0};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    for (uint64_t seq = 1; seq <= 3; seq++)
        append(&log, &fr, seq, 100, 0);
    expect_range(&log, &fr, 1, 3); /* exactly at the limit: all kept */
    assert_int_equal(log.bytes, 300);

    append(&log, &fr, 4, 100, 0);
    expect_range(&log, &fr, 2, 4);
    assert_int_equal(log.bytes, 300);

    append(&log, &fr, 5, 250, 0); /* 550 -> 450 -> 350 -> 250 */
    expect_range(&log, &fr, 5, 5);
    assert_int_equal(log.bytes, 250);

    append(&log, &fr, 6, 40, 0);
    expect_range(&log, &fr, 5, 6);
    assert_int_equal(log.bytes, 290);

    /* a message over the limit on its own is not retained at all */
    append(&log, &fr, 7, 301, 0);
    assert_int_equal(log.count, 0);
    assert_int_equal(log.bytes, 0);
    assert_int_equal(topic_log_oldest(&log, 7), 8);
    assert_null(topic_log_find(&log, 7));
    assert_null(topic_log_newest(&log));
    assert_int_equal(refs_of(fr.f[7]), 1);

    append(&log, &fr, 8, 10, 0); /* and the log goes on from there */
    expect_range(&log, &fr, 8, 8);
    topic_log_destroy(&log);
    frames_release(&fr);
}

static void test_count_and_bytes_together(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 4, 1000, 0};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    for (uint64_t seq = 1; seq <= 6; seq++)
        append(&log, &fr, seq, 100, 0);
    expect_range(&log, &fr, 3, 6); /* the count binds */
    /* the count makes room first (3 goes), then the bytes bind: 4 goes */
    append(&log, &fr, 7, 800, 0);
    expect_range(&log, &fr, 5, 7);
    assert_int_equal(log.bytes, 1000);
    topic_log_destroy(&log);
    frames_release(&fr);
}

static void test_expires_by_age(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 0, 0, 100};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    append(&log, &fr, 1, 10, 1000);
    append(&log, &fr, 2, 10, 1050);
    append(&log, &fr, 3, 10, 1100); /* seq 1 is exactly 100 ms old: kept */
    expect_range(&log, &fr, 1, 3);

    topic_log_expire(&log, 1100);
    expect_range(&log, &fr, 1, 3);
    topic_log_expire(&log, 1101); /* 101 ms old: gone */
    expect_range(&log, &fr, 2, 3);
    assert_int_equal(refs_of(fr.f[1]), 1);
    topic_log_expire(&log, 1150);
    expect_range(&log, &fr, 2, 3);
    topic_log_expire(&log, 1151);
    expect_range(&log, &fr, 3, 3);

    /* an append expires what is too old by its own clock */
    append(&log, &fr, 4, 10, 1300);
    expect_range(&log, &fr, 4, 4);
    assert_int_equal(log.bytes, 10);

    topic_log_expire(&log, 5000);
    assert_int_equal(log.count, 0);
    assert_int_equal(log.bytes, 0);
    assert_int_equal(topic_log_oldest(&log, 4), 5);
    topic_log_destroy(&log);
    frames_release(&fr);
}

static void test_no_age_limit_keeps_everything(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 0, 0, 0};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    append(&log, &fr, 1, 10, 0);
    append(&log, &fr, 2, 10, 1);
    topic_log_expire(&log, UINT64_MAX);
    expect_range(&log, &fr, 1, 2);
    topic_log_destroy(&log);
    frames_release(&fr);
}

static void test_destroy_releases_frames(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 10, 0, 0};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    for (uint64_t seq = 1; seq <= 20; seq++)
        append(&log, &fr, seq, 64, 0);
    expect_range(&log, &fr, 11, 20);
    topic_log_destroy(&log);
    assert_int_equal(log.count, 0);
    assert_null(log.entries);
    frames_release(&fr); /* asserts every frame is back to the test's reference */
}

/* A log may start at any seq (a topic whose earlier messages are gone). */
static void test_starts_at_any_seq(void **state)
{
    (void)state;
    struct retention_rule rule = {">", 3, 0, 0};
    struct topic_log log;
    struct frames fr = {0};
    topic_log_init(&log, &rule);
    for (uint64_t seq = 40; seq <= 44; seq++)
        append(&log, &fr, seq, 8, 0);
    expect_range(&log, &fr, 42, 44);
    assert_null(topic_log_find(&log, 1));
    assert_null(topic_log_find(&log, UINT64_MAX));
    topic_log_destroy(&log);
    frames_release(&fr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_append_find_through_growth),
        cmocka_unit_test(test_evicts_by_count),
        cmocka_unit_test(test_evicts_by_bytes),
        cmocka_unit_test(test_count_and_bytes_together),
        cmocka_unit_test(test_expires_by_age),
        cmocka_unit_test(test_no_age_limit_keeps_everything),
        cmocka_unit_test(test_destroy_releases_frames),
        cmocka_unit_test(test_starts_at_any_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

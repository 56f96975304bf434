/*
 * test_backlog.c - publisher back-pressure (broker/backlog.c, router.c,
 * delivery.c). First the pure decision, backlog_next(): when a worker's
 * fan-out counts as backlogged, the hysteresis that keeps reads from
 * flapping, and the floor that keeps one slow client from ever counting.
 * Then the real session/router/delivery code in the one-thread harness
 * (router_harness.h): subscribers that fall behind together hold the
 * publisher (its reads stop, nobody gets a gap) until they catch up; one
 * stuck subscriber gets its slow-consumer policy and holds nobody; stuck
 * subscribers hold it at most publisher-hold-max; and
 * --publisher-backpressure off turns it all off.
 */
#include "router_harness.h"

#include "backlog.h"

/* --- the decision ------------------------------------------------------------ */

static bool next(bool was, unsigned subscribers, unsigned behind, uint64_t overflow)
{
    struct backlog_sample s = {
        .subscribers = subscribers, .behind = behind, .overflow = overflow, .ring_slots = 64};
    return backlog_next(was, &s);
}

static void test_more_than_half_behind(void **state)
{
    (void)state;
    assert_false(next(false, 0, 0, 0));
    assert_false(next(false, 10, 5, 0)); /* half is not more than half */
    assert_true(next(false, 10, 6, 0));
    assert_true(next(false, 1000, 501, 0));
    assert_false(next(false, 1000, 500, 0));
}

static void test_one_slow_client_never_counts(void **state)
{
    (void)state;
    assert_int_equal(BACKLOG_MIN_BEHIND, 2);
    assert_false(next(false, 1, 1, 0)); /* the only subscriber, stuck */
    assert_false(next(true, 1, 1, 0));
    assert_true(next(false, 2, 2, 0));
    assert_true(next(false, 3, 2, 0));
}

static void test_off_only_when_halved(void **state)
{
    (void)state;
    /* on at more than 1/2, stays on down to more than 1/4 */
    assert_true(next(true, 100, 40, 0));
    assert_true(next(true, 100, 26, 0));
    assert_false(next(true, 100, 25, 0));
    assert_false(next(false, 100, 40, 0)); /* but 40% does not switch it on */
}

static void test_overflow_beyond_a_ring(void **state)
{
    (void)state;
    assert_false(next(false, 0, 0, 64)); /* a full ring's worth waits: fine */
    assert_true(next(false, 0, 0, 65));
    assert_true(next(true, 0, 0, 33)); /* on until under half a ring */
    assert_false(next(true, 0, 0, 32));
}

static void test_hold_is_limited(void **state)
{
    (void)state;
    struct backlog_state st = {0};
    struct backlog_sample all_behind = {.subscribers = 4, .behind = 4, .ring_slots = 64};
    struct backlog_sample none_behind = {.subscribers = 4, .ring_slots = 64};
    assert_true(backlog_update(&st, &all_behind, 1000, 100));
    assert_true(backlog_update(&st, &all_behind, 1099, 100));
    assert_false(backlog_update(&st, &all_behind, 1100, 100)); /* held 100 ms: enough */
    assert_false(backlog_update(&st, &all_behind, 1199, 100)); /* cooling down as long */
    assert_true(backlog_update(&st, &all_behind, 1200, 100));  /* a new hold */
    assert_int_equal(st.since_ms, 1200);
    assert_false(backlog_update(&st, &none_behind, 1250, 100));
    assert_true(backlog_update(&st, &all_behind, 1260, 100));
    assert_int_equal(st.since_ms, 1260);
}

static void test_behind_marks(void **state)
{
    (void)state;
    assert_int_equal(backlog_behind_bytes(1 << 20), 64 << 10);
    assert_int_equal(backlog_caught_up_bytes(1 << 20), 32 << 10);
}

/* --- the broker's sessions, in the harness -------------------------------------- */

#define FANOUT_SUBS 4
#define SLOW        (4 * BACKLOG_BEHIND_DIVISOR)
#define FITS        (SLOW + 1) /* slow with MORE than SLOW queued */

struct fan {
    struct h_client *pub;
    struct h_client *subs[FANOUT_SUBS];
    char topic[32];
    size_t frame;
};

/* A publisher on worker 1 and FANOUT_SUBS subscribers on worker 0, for a
 * topic owned by worker 1; slow-consumer-bytes is SLOW frames, so a
 * subscriber is behind with more than 4 frames queued and caught up with
 * fewer than 2, and slow past SLOW: FITS frames go out, then the policy. */
static void fan_setup(struct harness *h, struct fan *f)
{
    h_topic_owned(h, 1, "bp.", "", f->topic, sizeof(f->topic));
    f->frame = h_msg_wire_len(f->topic);
    h->cfg.slow_consumer_bytes = SLOW * f->frame;
    f->pub = h_client(h, 1);
    for (unsigned i = 0; i < FANOUT_SUBS; i++) {
        f->subs[i] = h_client(h, 0);
        h_sub(f->subs[i], f->topic);
        h_pump(h);
        EXPECT_SUBSCRIBED(f->subs[i], f->topic, f->topic, 0, 1);
    }
    assert_int_equal(h->workers[0].router.subscribers, FANOUT_SUBS);
}

static unsigned backlogged(struct harness *h)
{
    return atomic_load(&h->broker.backlogged_workers);
}

static void test_subscribers_behind_hold_the_publisher(void **state)
{
    struct harness *h = *state;
    struct fan f;
    fan_setup(h, &f);
    /* 5 frames queued to each: all behind, worker 0 backlogged */
    h_pub_range(f.pub, f.topic, 1, 5);
    assert_int_equal(h->workers[0].router.behind, FANOUT_SUBS);
    assert_true(h->workers[0].router.backlog.on);
    assert_int_equal(backlogged(h), 1);
    assert_false(f.pub->c->recv_held);

    /* the next publish is handled, and the publisher is read no more */
    h_pub_range(f.pub, f.topic, 6, 6);
    assert_true(f.pub->c->recv_held);
    assert_true(f.pub->c->recv_paused);
    assert_int_equal(metric_read(&h->workers[1].metrics.publisher_holds), 1);

    /* the subscribers read everything: no gap, no drop; the publisher is
     * read again */
    for (unsigned i = 0; i < FANOUT_SUBS; i++) {
        for (uint64_t seq = 1; seq <= 6; seq++)
            EXPECT_MSG(f.subs[i], f.topic, seq);
        EXPECT_NOTHING(f.subs[i]);
    }
    assert_int_equal(h->workers[0].router.behind, 0);
    h_pump(h);
    assert_int_equal(backlogged(h), 0);
    assert_false(f.pub->c->recv_held);
    assert_false(f.pub->c->recv_paused);
    assert_int_equal(metric_read(&h->workers[0].metrics.drops[DROP_SLOW_CONSUMER]), 0);
    h_pub_range(f.pub, f.topic, 7, 7);
    assert_false(f.pub->c->recv_held);
    for (unsigned i = 0; i < FANOUT_SUBS; i++)
        EXPECT_MSG(f.subs[i], f.topic, 7);
}

static void test_catching_up_halfway_keeps_the_hold(void **state)
{
    struct harness *h = *state;
    struct fan f;
    fan_setup(h, &f);
    h_pub_range(f.pub, f.topic, 1, 6);
    h_pub_range(f.pub, f.topic, 7, 7);
    assert_true(f.pub->c->recv_held);
    /* two of four catch up: half still behind, more than a quarter */
    for (unsigned i = 0; i < 2; i++)
        h_drain(f.subs[i]);
    h_pump(h);
    assert_int_equal(h->workers[0].router.behind, 2);
    assert_true(f.pub->c->recv_held);
    /* a third catches up: a quarter behind, the backlog has halved */
    h_drain(f.subs[2]);
    h_pump(h);
    assert_int_equal(backlogged(h), 0);
    assert_false(f.pub->c->recv_held);
}

static void test_one_stuck_subscriber_gets_its_policy(void **state)
{
    struct harness *h = *state;
    struct fan f;
    fan_setup(h, &f);
    /* subs[0] reads nothing; the others read after each publish */
    for (uint64_t seq = 1; seq <= FITS + 11; seq++) {
        h_pub_range(f.pub, f.topic, seq, seq);
        for (unsigned i = 1; i < FANOUT_SUBS; i++)
            EXPECT_MSG(f.subs[i], f.topic, seq);
        assert_false(f.pub->c->recv_held);
    }
    assert_int_equal(backlogged(h), 0);
    assert_int_equal(metric_read(&h->workers[1].metrics.publisher_holds), 0);
    /* the stuck one got FITS frames, then policy drop: a gap */
    for (uint64_t seq = 1; seq <= FITS; seq++)
        EXPECT_MSG(f.subs[0], f.topic, seq);
    EXPECT_GAP(f.subs[0], f.topic, FITS + 1, FITS + 11);
    EXPECT_NOTHING(f.subs[0]);
}

static void test_closing_subscribers_uncount(void **state)
{
    struct harness *h = *state;
    struct fan f;
    fan_setup(h, &f);
    h_pub_range(f.pub, f.topic, 1, 6);
    h_pub_range(f.pub, f.topic, 7, 7);
    assert_true(f.pub->c->recv_held);
    for (unsigned i = 0; i < FANOUT_SUBS; i++)
        conn_abort(f.subs[i]->c, NULL);
    h_pump(h);
    assert_int_equal(h->workers[0].router.subscribers, 0);
    assert_int_equal(h->workers[0].router.behind, 0);
    assert_int_equal(backlogged(h), 0);
    assert_false(f.pub->c->recv_held);
}

/* Subscribers that read nothing at all hold the publisher for
 * publisher-hold-max, then it is read again and their policy applies. */
static void test_stuck_subscribers_hold_at_most_hold_max(void **state)
{
    struct harness *h = *state;
    struct fan f;
    fan_setup(h, &f);
    h->cfg.publisher_hold_max_ms = 500;
    h_pub_range(f.pub, f.topic, 1, 5);
    h_pub_range(f.pub, f.topic, 6, 6);
    assert_true(f.pub->c->recv_held);
    h_set_time(h, H_START_MS + 499);
    h_pump(h);
    assert_true(f.pub->c->recv_held);
    h_set_time(h, H_START_MS + 500);
    h_pump(h);
    assert_false(f.pub->c->recv_held);
    assert_int_equal(backlogged(h), 0);
    /* read again: the stuck subscribers go past slow-consumer-bytes and no
     * longer count as behind; their policy (drop) applies */
    h_pub_range(f.pub, f.topic, 7, FITS + 3);
    assert_false(f.pub->c->recv_held);
    assert_int_equal(h->workers[0].router.behind, 0);
    for (unsigned i = 0; i < FANOUT_SUBS; i++) {
        for (uint64_t seq = 1; seq <= FITS; seq++)
            EXPECT_MSG(f.subs[i], f.topic, seq);
        EXPECT_GAP(f.subs[i], f.topic, FITS + 1, FITS + 3);
    }
    /* caught up, past the cool-down: the next backlog holds again */
    h_set_time(h, H_START_MS + 1000);
    h_pub_range(f.pub, f.topic, FITS + 4, FITS + 8);
    h_pub_range(f.pub, f.topic, FITS + 9, FITS + 9);
    assert_true(f.pub->c->recv_held);
}

static void test_option_off(void **state)
{
    struct harness *h = *state;
    struct fan f;
    fan_setup(h, &f);
    h->cfg.publisher_backpressure = false;
    h_pub_range(f.pub, f.topic, 1, FITS + 3);
    assert_int_equal(backlogged(h), 0);
    assert_false(f.pub->c->recv_held);
    for (unsigned i = 0; i < FANOUT_SUBS; i++) {
        for (uint64_t seq = 1; seq <= FITS; seq++)
            EXPECT_MSG(f.subs[i], f.topic, seq);
        EXPECT_GAP(f.subs[i], f.topic, FITS + 1, FITS + 3);
    }
}

int main(void)
{
#define T2(t) cmocka_unit_test_setup_teardown(t, h_setup2, h_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_than_half_behind),
        cmocka_unit_test(test_one_slow_client_never_counts),
        cmocka_unit_test(test_off_only_when_halved),
        cmocka_unit_test(test_overflow_beyond_a_ring),
        cmocka_unit_test(test_hold_is_limited),
        cmocka_unit_test(test_behind_marks),
        T2(test_subscribers_behind_hold_the_publisher),
        T2(test_catching_up_halfway_keeps_the_hold),
        T2(test_one_stuck_subscriber_gets_its_policy),
        T2(test_closing_subscribers_uncount),
        T2(test_stuck_subscribers_hold_at_most_hold_max),
        T2(test_option_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

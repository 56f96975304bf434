/*
 * test_mailbox.c - the worker-to-worker mailboxes (broker/mailbox.c),
 * single-threaded: FIFO order from one worker to another through a full
 * ring and its overflow (including sends made while overflow waits), a
 * worker's FIFO to itself, mailbox_pending, and who gets woken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailbox.h"

#define RING_ENTRIES 64 /* the smallest xring-entries: overflow comes quickly */

struct boxes {
    struct mailboxes all;
    struct mailbox_port port[3];
    unsigned workers;
};

static void boxes_init(struct boxes *b, unsigned workers)
{
    memset(b, 0, sizeof(*b));
    b->workers = workers;
    assert_int_equal(mailboxes_init(&b->all, workers, RING_ENTRIES), 0);
    for (unsigned i = 0; i < workers; i++)
        assert_int_equal(mailbox_port_init(&b->port[i], &b->all, i), 0);
}

static void boxes_destroy(struct boxes *b)
{
    for (unsigned i = 0; i < b->workers; i++)
        mailbox_port_destroy(&b->port[i]);
    mailboxes_destroy(&b->all);
}

static void send_numbered(struct mailbox_port *p, unsigned to, uint64_t n)
{
    struct xmsg m = {.kind = X_DELIVER, .u1 = n, .u2 = ~n};
    assert_int_equal(mailbox_send(p, to, &m), 0);
}

/* Receives everything available from `from`, checking it continues *next. */
static unsigned receive_in_order(struct mailbox_port *p, unsigned from, uint64_t *next)
{
    unsigned got = 0;
    struct xmsg m;
    while (mailbox_receive(p, from, &m)) {
        if (m.u1 != *next)
            fail_msg("worker %u from %u: got message %llu, want %llu", p->self, from,
                     (unsigned long long)m.u1, (unsigned long long)*next);
        assert_int_equal(m.kind, X_DELIVER);
        assert_int_equal(m.u2, ~*next);
        assert_int_equal(m.from_worker, 0); /* untouched: router_send stamps it */
        (*next)++;
        got++;
    }
    return got;
}

static void test_order_through_overflow(void **state)
{
    (void)state;
    struct boxes b;
    boxes_init(&b, 2);
    const uint64_t total = 1000;
    for (uint64_t i = 0; i < total; i++)
        send_numbered(&b.port[0], 1, i);
    /* the ring took what fits (every one of its slots), the rest waits */
    assert_int_equal(b.port[0].out[1].count, total - RING_ENTRIES);
    assert_true(mailbox_pending(&b.port[1]));
    assert_false(mailbox_pending(&b.port[0]));

    uint64_t next = 0;
    unsigned first = receive_in_order(&b.port[1], 0, &next);
    assert_int_equal(first, RING_ENTRIES);
    assert_false(mailbox_pending(&b.port[1])); /* overflow is the producer's */

    /* sends made while overflow waits queue behind it */
    uint64_t sent = total;
    for (int rounds = 0; next < total + 100; rounds++) {
        assert_true(rounds < 1000);
        if (sent < total + 100)
            send_numbered(&b.port[0], 1, sent++);
        bool left = mailbox_flush(&b.port[0]);
        assert_int_equal(left, b.port[0].out[1].count > 0);
        receive_in_order(&b.port[1], 0, &next);
    }
    assert_int_equal(next, total + 100);
    assert_false(mailbox_flush(&b.port[0]));
    assert_int_equal(b.port[0].out[1].count, 0);
    assert_false(mailbox_pending(&b.port[1]));
    struct xmsg m;
    assert_false(mailbox_receive(&b.port[1], 0, &m));
    boxes_destroy(&b);
}

static void test_self_fifo(void **state)
{
    (void)state;
    struct boxes b;
    boxes_init(&b, 2);
    assert_false(mailbox_pending(&b.port[0]));
    for (uint64_t i = 0; i < 600; i++) /* past the overflow's first 256 slots */
        send_numbered(&b.port[0], 0, i);
    assert_true(mailbox_pending(&b.port[0]));
    assert_false(mailbox_pending(&b.port[1]));
    assert_false(mailbox_flush(&b.port[0])); /* a FIFO to itself is not overflow */
    uint64_t next = 0;
    assert_int_equal(receive_in_order(&b.port[0], 0, &next), 600);
    assert_false(mailbox_pending(&b.port[0]));

    /* interleaved sends and receives keep order */
    next = 0;
    uint64_t sent = 0;
    for (int i = 0; i < 50; i++) {
        send_numbered(&b.port[0], 0, sent++);
        send_numbered(&b.port[0], 0, sent++);
        struct xmsg m;
        assert_true(mailbox_receive(&b.port[0], 0, &m));
        assert_int_equal(m.u1, next++);
    }
    receive_in_order(&b.port[0], 0, &next);
    assert_int_equal(next, 100);
    boxes_destroy(&b);
}

static void test_pending(void **state)
{
    (void)state;
    struct boxes b;
    boxes_init(&b, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_false(mailbox_pending(&b.port[i]));
    send_numbered(&b.port[2], 1, 7);
    assert_true(mailbox_pending(&b.port[1]));
    assert_false(mailbox_pending(&b.port[0]));
    assert_false(mailbox_pending(&b.port[2]));
    struct xmsg m;
    assert_false(mailbox_receive(&b.port[1], 0, &m)); /* not from 0 */
    assert_true(mailbox_receive(&b.port[1], 2, &m));
    assert_int_equal(m.u1, 7);
    assert_false(mailbox_pending(&b.port[1]));
    boxes_destroy(&b);
}

/* Each ordered pair has its own ring: 0->2 and 1->2 don't mix or block. */
static void test_rings_per_pair(void **state)
{
    (void)state;
    struct boxes b;
    boxes_init(&b, 3);
    for (uint64_t i = 0; i < 200; i++) {
        send_numbered(&b.port[0], 2, i);
        send_numbered(&b.port[1], 2, 1000 + i);
    }
    uint64_t next0 = 0, next1 = 1000;
    while (next0 < 200 || next1 < 1200) {
        receive_in_order(&b.port[2], 0, &next0);
        receive_in_order(&b.port[2], 1, &next1);
        mailbox_flush(&b.port[0]);
        mailbox_flush(&b.port[1]);
    }
    assert_false(mailbox_pending(&b.port[2]));
    boxes_destroy(&b);
}

struct woken {
    unsigned count[3];
};

static void record_wake(void *ctx, unsigned to)
{
    struct woken *w = ctx;
    assert_true(to < 3);
    w->count[to]++;
}

static void test_wake_targets(void **state)
{
    (void)state;
    struct boxes b;
    boxes_init(&b, 3);
    struct woken w = {{0}};
    mailbox_wake_targets(&b.port[0], record_wake, &w);
    assert_int_equal(w.count[0] + w.count[1] + w.count[2], 0);

    send_numbered(&b.port[0], 2, 1);
    send_numbered(&b.port[0], 2, 2);
    send_numbered(&b.port[0], 0, 3); /* to itself: never woken */
    mailbox_wake_targets(&b.port[0], record_wake, &w);
    assert_int_equal(w.count[0], 0);
    assert_int_equal(w.count[1], 0);
    assert_int_equal(w.count[2], 1);
    mailbox_wake_targets(&b.port[0], record_wake, &w); /* once per batch */
    assert_int_equal(w.count[2], 1);

    /* overflow moved into the ring by a flush wakes the target again */
    for (uint64_t i = 0; i < 3 * RING_ENTRIES; i++)
        send_numbered(&b.port[0], 1, i);
    mailbox_wake_targets(&b.port[0], record_wake, &w);
    assert_int_equal(w.count[1], 1);
    uint64_t next = 0;
    receive_in_order(&b.port[1], 0, &next);
    assert_true(mailbox_flush(&b.port[0]));
    mailbox_wake_targets(&b.port[0], record_wake, &w);
    assert_int_equal(w.count[1], 2);
    while (next < 3 * RING_ENTRIES) {
        receive_in_order(&b.port[1], 0, &next);
        mailbox_flush(&b.port[0]);
    }
    uint64_t self_next = 3;
    receive_in_order(&b.port[0], 0, &self_next);
    uint64_t two = 1;
    receive_in_order(&b.port[2], 0, &two);
    assert_int_equal(two, 3);
    boxes_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_through_overflow),
        cmocka_unit_test(test_self_fifo),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_rings_per_pair),
        cmocka_unit_test(test_wake_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_mailbox_threads.c - the worker-to-worker mailboxes (broker/mailbox.c)
 * between real threads, the way workers use them: each of two threads sends
 * the other a stream of messages that point at heap objects it has just
 * written with plain stores, and the receiver reads those objects and frees
 * them. Nothing but the ring orders the two threads (no eventfd, no idle
 * flag, no lock), and the ring is small so its slots are reused thousands of
 * times.
 *
 * In any build it checks order and content. Its real purpose is the
 * ThreadSanitizer build (tools/test.sh): there it fails on a report if the
 * ring's hand-over is not visible to TSan as release/acquire both ways -
 * slot written before it is published, slot read before it is given back.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mailbox.h"

#define RING_ENTRIES 64    /* the smallest xring-entries: slots are reused often */
#define MESSAGES     20000 /* per direction; bounded by TIME_LIMIT_S too */
#define TIME_LIMIT_S 60

/* What a message points at: written by the sender, read and freed by the
 * receiver (like a shared frame). */
struct payload {
    uint64_t n;
    uint64_t check[6];
};

struct side {
    struct mailbox_port port;
    unsigned peer;
    uint64_t to_send, to_receive;
    uint64_t sent, received;
    const char *error; /* first problem seen, NULL when all was well */
};

static uint64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

static int send_one(struct side *s)
{
    struct payload *p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    p->n = s->sent;
    for (unsigned i = 0; i < 6; i++)
        p->check[i] = s->sent * 31 + i;
    struct xmsg m = {.kind = X_DELIVER, .u1 = s->sent, .u2 = ~s->sent, .replay = p};
    if (mailbox_send(&s->port, s->peer, &m) != 0) {
        free(p);
        return -1;
    }
    s->sent++;
    return 0;
}

static bool receive_one(struct side *s)
{
    struct xmsg m;
    if (!mailbox_receive(&s->port, s->peer, &m))
        return false;
    struct payload *p = m.replay;
    uint64_t want = s->received;
    bool good = m.kind == X_DELIVER && m.u1 == want && m.u2 == ~want && p != NULL && p->n == want;
    for (unsigned i = 0; good && i < 6; i++)
        good = p->check[i] == want * 31 + i;
    if (!good && s->error == NULL)
        s->error = "a message arrived out of order or with the wrong content";
    free(p);
    s->received++;
    return true;
}

/* One "worker": sends in bursts (so the ring fills and overflow is used),
 * flushes, and drains what the peer sent, until both directions are done. */
static void *run_side(void *arg)
{
    struct side *s = arg;
    uint64_t deadline = now_s() + TIME_LIMIT_S;
    while (s->sent < s->to_send || s->received < s->to_receive || mailbox_flush(&s->port)) {
        for (unsigned i = 0; i < 100 && s->sent < s->to_send; i++)
            if (send_one(s) != 0) {
                s->error = "mailbox_send failed (out of memory)";
                return NULL;
            }
        mailbox_flush(&s->port);
        unsigned got = 0;
        while (got < 200 && receive_one(s))
            got++;
        if (got == 0)
            sched_yield();
        if (now_s() > deadline) {
            s->error = "time limit reached before every message arrived";
            return NULL;
        }
    }
    return NULL;
}

/* Runs two threads; worker i sends `counts[i]` messages to the other. */
static void exchange(const uint64_t counts[2])
{
    struct mailboxes all;
    assert_int_equal(mailboxes_init(&all, 2, RING_ENTRIES), 0);
    struct side sides[2];
    memset(sides, 0, sizeof(sides));
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(mailbox_port_init(&sides[i].port, &all, i), 0);
        sides[i].peer = 1 - i;
        sides[i].to_send = counts[i];
        sides[i].to_receive = counts[1 - i];
    }
    pthread_t threads[2];
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, run_side, &sides[i]), 0);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (unsigned i = 0; i < 2; i++) {
        if (sides[i].error != NULL)
            fail_msg("thread %u: %s", i, sides[i].error);
        assert_int_equal(sides[i].sent, counts[i]);
        assert_int_equal(sides[i].received, counts[1 - i]);
        mailbox_port_destroy(&sides[i].port);
    }
    mailboxes_destroy(&all);
}

/* Only 0 -> 1: the consumer never sends, so nothing but the ring itself
 * orders its reads of a slot before the producer's reuse of that slot. */
static void test_one_way(void **state)
{
    (void)state;
    exchange((const uint64_t[2]){MESSAGES, 0});
}

static void test_both_ways(void **state)
{
    (void)state;
    exchange((const uint64_t[2]){MESSAGES, MESSAGES});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_way),
        cmocka_unit_test(test_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

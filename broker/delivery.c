/*
 * delivery.c - per (subscription, topic) delivery on the subscriber's
 * worker (see delivery.h).
 *
 * The fast path - acks off, the connection keeping up - is one seq compare,
 * one queue-size compare and one reference taken on the shared frame. The
 * connection's queued bytes are the measure of a slow consumer: above
 * slow-consumer-bytes the subscription's policy applies, and the delivery is
 * "stalled" until the queue drains to half of that, when what was held back
 * (a gap notice, the conflated message, the waiting queue) goes out.
 */
#include "delivery.h"

#include <stdlib.h>
#include <string.h>

#include "backlog.h"
#include "conn.h"
#include "log.h"
#include "router.h"
#include "worker.h"

/* --- msg_ring: a FIFO of frame references -------------------------------- */

/* Fields, not a struct by value: a struct built on the stack and copied
 * into the slot stalls store forwarding on this per-delivery path. */
static int ring_push(struct msg_ring *q, struct outbuf *frame, uint64_t due_ms)
{
    if (q->count == q->capacity) {
        uint32_t capacity = q->capacity ? q->capacity * 2 : 16;
        struct pending_msg *items = malloc(sizeof(*items) * capacity);
        if (items == NULL)
            return -1;
        for (uint32_t i = 0; i < q->count; i++)
            items[i] = q->items[(q->head + i) & (q->capacity - 1)];
        free(q->items);
        q->items = items;
        q->capacity = capacity;
        q->head = 0;
    }
    struct pending_msg *m = &q->items[(q->head + q->count) & (q->capacity - 1)];
    m->frame = frame;
    m->due_ms = (uint32_t)due_ms;
    m->attempts = 0;
    q->count++;
    return 0;
}

/* An entry's due time in full: its low 32 bits are within 2^31 ms of now
 * (at most ack-backoff-max ahead; never left far behind, see
 * delivery_retransmit_due). */
static uint64_t pending_due(const struct pending_msg *m, uint64_t now_ms)
{
    return now_ms + (uint64_t)(int64_t)(int32_t)(m->due_ms - (uint32_t)now_ms);
}

static struct pending_msg *ring_front(struct msg_ring *q)
{
    return &q->items[q->head];
}

static struct pending_msg *ring_at(struct msg_ring *q, uint32_t i)
{
    return &q->items[(q->head + i) & (q->capacity - 1)];
}

/* Drops the front entry and hands its frame to the caller. */
static struct outbuf *ring_shift(struct msg_ring *q)
{
    struct outbuf *frame = q->items[q->head].frame;
    q->head = (q->head + 1) & (q->capacity - 1);
    q->count--;
    return frame;
}

/* Drops the front entry; its reference goes into batch (outbuf.h) when not
 * NULL: acks release the frames every subscriber of a topic holds, like
 * send completions. */
static void ring_pop(struct msg_ring *q, struct outbuf_release_batch *batch)
{
    outbuf_release_batched(batch, ring_shift(q));
}

static void ring_clear(struct msg_ring *q)
{
    while (q->count > 0)
        ring_pop(q, NULL);
    free(q->items);
    memset(q, 0, sizeof(*q));
}

/* --- the manual-ack queue behind a full window --------------------------- */

/* Its frames count toward the session's backlog (note_behind), as queued
 * bytes do: a subscriber that acks late is being served late. Each entry
 * holds the two references its send will need (the send queue's and the
 * unacked entry's), taken when it was offered: during a fan-out they are
 * prepaid, and moving into the window then touches no shared counter. */
static int waiting_push(struct delivery *d, struct outbuf *frame)
{
    if (ring_push(&d->waiting, frame, 0) != 0)
        return -1;
    d->sub->session->waiting_bytes += frame->len;
    return 0;
}

/* The front entry leaves the queue with its two references. */
static struct outbuf *waiting_shift(struct delivery *d)
{
    d->sub->session->waiting_bytes -= ring_front(&d->waiting)->frame->len;
    return ring_shift(&d->waiting);
}

/* The front entry is dropped (conflated, or the delivery is gone). */
static void waiting_pop(struct delivery *d)
{
    outbuf_release_n(waiting_shift(d), 2);
}

/* --- create / destroy ------------------------------------------------------ */

struct delivery *delivery_create(struct router *r, struct subscription *sub, struct topic *t,
                                 uint64_t head)
{
    struct local_topic *lt = router_local_topic(r, t, true);
    struct delivery *d = lt ? calloc(1, sizeof(*d)) : NULL;
    if (d == NULL) {
        if (lt && lt->deliveries == NULL)
            router_local_topic_drop(r, lt);
        return NULL;
    }
    d->sub = sub;
    d->lt = lt;
    if (sub->session->delivery_count++ == 0 && sub->session->conn)
        r->subscribers++; /* publisher back-pressure counts it (backlog.h) */
    /* Where delivery starts; anything older that arrives is a duplicate. */
    if (sub->has_from)
        d->next_seq = (sub->from < head ? sub->from : head) + 1;
    else if (sub->snapshot && head > 0)
        d->next_seq = head;
    else
        d->next_seq = head + 1;
    d->next_in_sub = sub->deliveries;
    sub->deliveries = d;
    d->next_in_topic = lt->deliveries;
    if (lt->deliveries)
        lt->deliveries->prev_in_topic = d;
    lt->deliveries = d;
    lt->count++;
    lt->manual += sub->ack == WSB_ACK_MANUAL;
    return d;
}

static void unstall(struct delivery *d)
{
    if (!d->stalled)
        return;
    struct session *s = d->sub->session;
    for (struct delivery **pp = &s->stalled; *pp; pp = &(*pp)->next_stalled) {
        if (*pp == d) {
            *pp = d->next_stalled;
            break;
        }
    }
    d->stalled = false;
}

void delivery_destroy(struct router *r, struct delivery *d)
{
    unstall(d);
    if (--d->sub->session->delivery_count == 0 && d->sub->session->conn)
        r->subscribers--;
    for (struct delivery **pp = &d->sub->deliveries; *pp; pp = &(*pp)->next_in_sub) {
        if (*pp == d) {
            *pp = d->next_in_sub;
            break;
        }
    }
    struct local_topic *lt = d->lt;
    if (d->prev_in_topic)
        d->prev_in_topic->next_in_topic = d->next_in_topic;
    else
        lt->deliveries = d->next_in_topic;
    if (d->next_in_topic)
        d->next_in_topic->prev_in_topic = d->prev_in_topic;
    lt->count--;
    lt->manual -= d->sub->ack == WSB_ACK_MANUAL;
    if (lt->deliveries == NULL)
        router_local_topic_drop(r, lt);
    if (d->conflated)
        outbuf_release(d->conflated);
    while (d->waiting.count > 0)
        waiting_pop(d);
    ring_clear(&d->unacked);
    ring_clear(&d->waiting);
    free(d);
}

struct delivery *subscription_delivery(struct subscription *sub, const struct topic *t)
{
    for (struct delivery *d = sub->deliveries; d; d = d->next_in_sub) {
        if (d->lt->key == t)
            return d;
    }
    return NULL;
}

/* --- helpers ---------------------------------------------------------------- */

static struct conn *delivery_conn(const struct delivery *d)
{
    return d->sub->session->conn;
}

static const struct broker_config *delivery_cfg(const struct delivery *d)
{
    return d->sub->session->worker->cfg;
}

static bool conn_is_slow(const struct delivery *d, const struct conn *c)
{
    return conn_queued_bytes(c) > delivery_cfg(d)->slow_consumer_bytes;
}

static void stall(struct delivery *d)
{
    if (d->stalled)
        return;
    struct session *s = d->sub->session;
    d->stalled = true;
    d->next_stalled = s->stalled;
    s->stalled = d;
}

/* Publisher back-pressure (backlog.h): counts the session as behind while
 * its backlog - its queue and what waits behind full manual-ack windows -
 * is between the behind mark and slow-consumer-bytes. */
static void note_behind(struct session *s, const struct conn *c)
{
    if (s->conn != c || c->state != CONN_OPEN)
        return;
    uint64_t queued = conn_queued_bytes(c) + s->waiting_bytes;
    uint64_t slow = s->worker->cfg->slow_consumer_bytes;
    bool behind = queued > backlog_behind_bytes(slow) && queued <= slow;
    if (behind == s->behind ||
        (!behind && queued > backlog_caught_up_bytes(slow) && queued <= slow))
        return; /* unchanged; or in between: caught up only below the lower mark */
    s->behind = behind;
    if (behind)
        s->worker->router.behind++;
    else
        s->worker->router.behind--;
}

static void note_gap(struct delivery *d, uint64_t seq)
{
    if (d->gap_from == 0)
        d->gap_from = seq;
    d->gap_to = seq;
}

static void announce_gap(struct delivery *d)
{
    if (d->gap_from == 0)
        return;
    session_send_gap(d->sub->session, d->lt->key, d->gap_from, d->gap_to);
    d->gap_from = d->gap_to = 0;
}

static uint64_t backoff_ms(const struct delivery *d, uint32_t attempts)
{
    const struct broker_config *cfg = delivery_cfg(d);
    uint64_t ms = cfg->ack_timeout_ms;
    for (uint32_t i = 0; i < attempts && ms < cfg->ack_backoff_max_ms; i++)
        ms *= 2;
    return ms < cfg->ack_backoff_max_ms ? ms : cfg->ack_backoff_max_ms;
}

/* n references to frame for c's queues: prepaid during a fan-out
 * (outbuf.h). */
static struct outbuf *take_frames(struct conn *c, struct outbuf *frame, uint32_t n)
{
    struct outbuf_prepaid *p = c->worker->router.prepaid_now;
    return p ? outbuf_refs_prepaid(p, frame, n) : outbuf_ref_n(frame, n);
}

static struct outbuf *take_frame(struct conn *c, struct outbuf *frame)
{
    return take_frames(c, frame, 1);
}

/* Manual ack: the two references a message needs, one for the send queue
 * and one for the unacked entry (prepaid together, local_topic_deliver). */
static struct outbuf *take_frame_twice(struct conn *c, struct outbuf *frame)
{
    return take_frames(c, frame, 2);
}

/* Manual ack: sends and remembers until acked; takes the caller's two
 * references to frame (take_frame_twice). */
static void send_tracked(struct delivery *d, struct conn *c, struct outbuf *frame)
{
    uint64_t due = c->worker->now_ms + backoff_ms(d, 0);
    if (d->unacked.count == 0 || due < d->unacked_due_ms)
        d->unacked_due_ms = due;
    if (ring_push(&d->unacked, frame, due) != 0) {
        outbuf_release_n(frame, 2);
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    metric_add(&c->worker->metrics.deliveries, 1);
    conn_send(c, frame);
}

/* Manual ack: moves waiting messages into the window while there is room,
 * each with the references it took when it was offered. */
static void pump_waiting(struct delivery *d, struct conn *c)
{
    while (d->waiting.count > 0 && d->unacked.count < d->sub->window && !conn_is_slow(d, c) &&
           c->state == CONN_OPEN)
        send_tracked(d, c, waiting_shift(d));
    if (d->waiting.count == 0)
        announce_gap(d);
}

/* --- the slow-consumer policies ---------------------------------------------- */

/* The subscription can't take frame now: apply its policy. */
static void hold_back(struct delivery *d, struct conn *c, struct outbuf *frame, uint64_t seq)
{
    switch (d->sub->policy) {
    case WSB_POLICY_DISCONNECT:
        log_debug("session %016llx: slow consumer on %s, disconnecting",
                  (unsigned long long)d->sub->session->id, d->lt->key->name);
        metric_add(&c->worker->metrics.slow_disconnects, 1);
        conn_close(c, WS_CLOSE_POLICY_VIOLATION, "slow consumer");
        return;
    case WSB_POLICY_DROP:
        metric_add(&c->worker->metrics.drops[DROP_SLOW_CONSUMER], 1);
        note_gap(d, seq);
        break;
    case WSB_POLICY_CONFLATE:
        if (d->sub->ack == WSB_ACK_MANUAL) {
            metric_add(&c->worker->metrics.drops[DROP_CONFLATED], d->waiting.count);
            while (d->waiting.count > 0) /* only the newest waits */
                waiting_pop(d);
            if (waiting_push(d, take_frame_twice(c, frame)) != 0)
                outbuf_release_n(frame, 2);
        } else {
            metric_add(&c->worker->metrics.drops[DROP_CONFLATED], d->conflated != NULL);
            if (d->conflated)
                outbuf_release(d->conflated);
            d->conflated = take_frame(c, frame);
        }
        break;
    }
    stall(d);
}

void delivery_offer(struct delivery *d, struct outbuf *frame, uint64_t seq, bool backfill)
{
    struct conn *c = delivery_conn(d);
    if (d->sub->closing || seq < d->next_seq || c == NULL || c->state != CONN_OPEN)
        return;
    d->next_seq = seq + 1;
    /* Backfill (resume, snapshot) is bounded by the topic's retention and is
     * what the subscriber asked for: the slow-consumer policy is for live
     * traffic only. */
    if (d->sub->ack == WSB_ACK_NONE) {
        if (backfill || (!d->stalled && !conn_is_slow(d, c))) {
            metric_add(&c->worker->metrics.deliveries, 1);
            conn_send(c, take_frame(c, frame));
        } else
            hold_back(d, c, frame, seq);
        note_behind(d->sub->session, c);
        return;
    }
    if (d->waiting.count == 0 && d->gap_from == 0 && d->unacked.count < d->sub->window &&
        !conn_is_slow(d, c)) {
        send_tracked(d, c, take_frame_twice(c, frame));
    } else if (d->gap_from == 0 && (backfill || d->waiting.count < delivery_cfg(d)->sub_queue)) {
        if (waiting_push(d, take_frame_twice(c, frame)) != 0) {
            outbuf_release_n(frame, 2);
            conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
            return;
        }
        if (conn_is_slow(d, c))
            stall(d);
    } else {
        hold_back(d, c, frame, seq);
    }
    note_behind(d->sub->session, c);
}

void local_topic_deliver(struct router *r, struct local_topic *lt, struct outbuf *const *frame,
                         const uint64_t *seq, const uint32_t *paid, unsigned n)
{
    /* The references the deliveries below take - one each, two with
     * manual acks (the send and the unacked entry) - were added by the
     * owner (fan_out), which counted the same attachments; only while a
     * subscription is on its way does the count differ, and then the
     * difference is one atomic add here. What is not taken (a stalled or
     * closing subscriber) goes back through the release batch. */
    for (unsigned k = 0; k < n; k++)
        outbuf_prepay_adopt(&r->prepaid[k], frame[k], paid[k], lt->count + lt->manual);
    /* Subscriber by subscriber, all n frames each: a subscriber's
     * delivery, session, connection and queue tails are read once per
     * batch, not once per message, and its queue entries are written in
     * a row. Each subscription still gets the topic's messages in order. */
    for (struct delivery *d = lt->deliveries; d; d = d->next_in_topic) {
        for (unsigned k = 0; k < n; k++) {
            r->prepaid_now = &r->prepaid[k];
            delivery_offer(d, frame[k], seq[k], false);
        }
    }
    r->prepaid_now = NULL;
    for (unsigned k = 0; k < n; k++)
        outbuf_prepay_settle_batched(&r->prepaid[k], &r->worker->release_batch);
}

void delivery_on_gap(struct delivery *d, uint64_t from, uint64_t to)
{
    if (d->sub->closing || delivery_conn(d) == NULL)
        return;
    session_send_gap(d->sub->session, d->lt->key, from, to);
    if (d->next_seq <= to)
        d->next_seq = to + 1;
}

/* --- manual acks --------------------------------------------------------------- */

void delivery_ack(struct delivery *d, uint64_t seq)
{
    while (d->unacked.count > 0 && ring_front(&d->unacked)->frame->seq <= seq)
        ring_pop(&d->unacked, &d->sub->session->worker->release_batch);
    struct conn *c = delivery_conn(d);
    if (c) {
        pump_waiting(d, c);
        note_behind(d->sub->session, c); /* what waited is queued, or gone */
    }
}

/* Scans the window only when its earliest due time has come: with acks
 * flowing, that is never. */
void delivery_retransmit_due(struct delivery *d, uint64_t now_ms)
{
    struct conn *c = delivery_conn(d);
    if (d->unacked.count == 0 || now_ms < d->unacked_due_ms)
        return;
    uint64_t earliest = UINT64_MAX;
    uint32_t i = 0;
    for (; i < d->unacked.count && c && c->state == CONN_OPEN; i++) {
        struct pending_msg *m = ring_at(&d->unacked, i);
        uint64_t due = pending_due(m, now_ms);
        if (due > now_ms || conn_is_slow(d, c)) {
            /* Due but held back by a slow connection: restamped, so that
             * its 32 bits never fall 2^31 ms behind the clock. */
            if (due <= now_ms)
                m->due_ms = (uint32_t)now_ms;
            earliest = due < earliest ? due : earliest;
            continue;
        }
        const uint8_t *envelope = outbuf_payload(m->frame);
        size_t len = m->frame->len - (size_t)(envelope - m->frame->data);
        struct outbuf *b = conn_alloc_outbuf(c, len + 8);
        size_t n = b ? wsb_msg_write_redelivery(outbuf_payload(b), b->capacity, envelope, len) : 0;
        if (n == 0) {
            if (b)
                outbuf_release(b);
            conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
            return;
        }
        outbuf_seal_frame(b, n, WS_OP_BINARY);
        metric_add(&c->worker->metrics.retransmits, 1);
        conn_send(c, b);
        m->attempts++;
        due = now_ms + backoff_ms(d, m->attempts);
        m->due_ms = (uint32_t)due;
        earliest = due < earliest ? due : earliest;
    }
    if (i == d->unacked.count) /* else the connection closed: look again next time */
        d->unacked_due_ms = earliest;
}

/* --- stalled deliveries --------------------------------------------------------- */

void delivery_resume_stalled(struct session *s)
{
    if (s->conn)
        note_behind(s, s->conn); /* caught up, perhaps */
    while (s->stalled && s->conn && s->conn->state == CONN_OPEN &&
           conn_queued_bytes(s->conn) < s->worker->cfg->slow_consumer_bytes / 2) {
        struct delivery *d = s->stalled;
        s->stalled = d->next_stalled;
        d->stalled = false;
        if (d->sub->closing)
            continue;
        if (d->sub->ack == WSB_ACK_MANUAL) {
            /* What still waits behind a full window moves on with the acks. */
            pump_waiting(d, s->conn);
            if (d->waiting.count > 0 && conn_is_slow(d, s->conn))
                stall(d);
            continue;
        }
        announce_gap(d);
        if (d->conflated) {
            metric_add(&s->worker->metrics.deliveries, 1);
            conn_send(s->conn, d->conflated);
            d->conflated = NULL;
        }
    }
}

void delivery_on_session_closed(struct session *s)
{
    /* No longer one of the worker's subscribers for back-pressure. */
    if (s->behind)
        s->worker->router.behind--;
    if (s->delivery_count > 0)
        s->worker->router.subscribers--;
    s->behind = false;
    while (s->stalled) {
        struct delivery *d = s->stalled;
        s->stalled = d->next_stalled;
        d->stalled = false;
    }
}

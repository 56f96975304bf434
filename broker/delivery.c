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
 *
 * With manual acks, a delivery that keeps up is "in step" with its topic's
 * sent log and writes nothing per message (below); the per-message rings
 * are for the rest.
 */
#include "delivery.h"

#include <stdlib.h>
#include <string.h>

#include "backlog.h"
#include "conn.h"
#include "log.h"
#include "msg_ring.h"
#include "router.h"
#include "worker.h"

/* --- the manual-ack queue behind a full window --------------------------- */

/* Its frames count toward the session's backlog (note_behind), as queued
 * bytes do: a subscriber that acks late is being served late. Each entry
 * holds the two references its send will need (the send queue's and the
 * unacked entry's), taken when it was offered: during a fan-out they are
 * prepaid, and moving into the window then touches no shared counter. */
static int waiting_push(struct delivery *d, struct outbuf *frame)
{
    if (msg_ring_push(&d->waiting, frame, 0) != 0)
        return -1;
    d->sub->session->waiting_bytes += frame->len;
    return 0;
}

/* The front entry leaves the queue with its two references. */
static struct outbuf *waiting_shift(struct delivery *d)
{
    d->sub->session->waiting_bytes -= msg_ring_front(&d->waiting)->frame->len;
    return msg_ring_shift(&d->waiting);
}

/* The front entry is dropped (conflated, or the delivery is gone). */
static void waiting_pop(struct delivery *d)
{
    outbuf_release_n(waiting_shift(d), 2);
}

static void fall_out_of_step(struct delivery *d, uint64_t offered_to);

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
    if (d->in_step)
        fall_out_of_step(d, d->next_seq); /* and then, like the rest, released below */
    if (lt->deliveries == NULL)
        router_local_topic_drop(r, lt);
    if (d->conflated)
        outbuf_release(d->conflated);
    while (d->waiting.count > 0)
        waiting_pop(d);
    msg_ring_clear(&d->unacked);
    msg_ring_clear(&d->waiting);
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

static uint64_t backoff_ms(const struct broker_config *cfg, uint32_t attempts)
{
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
    uint64_t due = c->worker->now_ms + backoff_ms(delivery_cfg(d), 0);
    if (d->unacked.count == 0 || due < d->unacked_due_ms)
        d->unacked_due_ms = due;
    if (msg_ring_push(&d->unacked, frame, due) != 0) {
        outbuf_release_n(frame, 2);
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    metric_add(&c->worker->metrics.deliveries, 1);
    conn_send(c, frame);
}

/* --- manual acks in step ------------------------------------------------------ */

/*
 * A manual-ack subscriber that keeps up is offered every message of its
 * topic in seq order and sends it at once, or, behind a full window, keeps
 * it waiting in order. What it has not acked is then a run of consecutive
 * seqs, and the frames of that run are the same for every such delivery of
 * the topic: they are kept once, in the local topic's sent log, with the
 * due time of a send at the moment of the offer, and the delivery - "in
 * step" - keeps three cursors (unacked_from, sent_to, next_seq) and, for
 * the messages it sent after they waited, a span per send (a run of those
 * sent together and their due time). A thousand subscribers each writing a
 * 16-byte entry per message and reading it back cost a quarter of the
 * broker's time. The references a waiting message's send will need are
 * banked on its log entry when it is offered (prepaid, like the others).
 *
 * Anything else - a full queue, a retransmission due, backfill, a gap, the
 * end of the delivery - first copies the delivery's run into its own rings
 * ("falls out of step") and the general path below takes over; once its
 * rings are empty, the next live message brings it back in step.
 *
 * The log needs from the oldest unacked message of any delivery in step
 * to the newest message. Finding that oldest one reads every delivery of
 * the topic, so the log is trimmed to it when full, and at each tick, so
 * that a topic gone quiet gives its frames back. A trim grows the array
 * while more than half of it is still needed and shrinks it when a
 * quarter is: it holds at most about twice what its slowest delivery in
 * step needs (its window, its sub-queue and a batch), and one tick after
 * all have acked, nothing. docs/ARCHITECTURE.md has the picture.
 *
 * A delivery in step sends in seq order and every send is due later than
 * the one before (a message is sent at its offer only when nothing waits
 * before it, and the log entry and the offer read the same clock): the
 * oldest unacked message is the first one due.
 */

static struct pending_msg *sent_at(struct local_topic *lt, uint64_t seq)
{
    return msg_ring_at(&lt->sent, (uint32_t)(seq - lt->sent_first));
}

static uint64_t sent_end(const struct local_topic *lt)
{
    return lt->sent_first + lt->sent.count;
}

/* The log's oldest entry goes, with the references banked on it. */
static void sent_log_pop(struct local_topic *lt, struct outbuf_release_batch *batch)
{
    struct pending_msg *m = msg_ring_front(&lt->sent);
    outbuf_release_batched_n(batch, m->frame, 1 + m->banked);
    msg_ring_shift(&lt->sent);
    lt->sent_first++;
}

static struct sent_span *span_at(struct span_ring *q, uint32_t i)
{
    return &q->items[(q->head + i) & (q->capacity - 1)];
}

/* count messages from `from` on were sent now, due at due_ms. */
static int span_note(struct span_ring *q, uint64_t from, uint32_t count, uint64_t due_ms)
{
    if (q->count > 0) {
        struct sent_span *last = span_at(q, q->count - 1);
        if (last->due_ms == (uint32_t)due_ms && last->from + last->count == from) {
            last->count += count;
            return 0;
        }
    }
    if (q->count == q->capacity) {
        void *items =
            ring_array_grow(q->items, sizeof(*q->items), &q->capacity, &q->head, q->count);
        if (items == NULL)
            return -1;
        q->items = items;
    }
    struct sent_span *span = span_at(q, q->count++);
    span->from = from;
    span->count = count;
    span->due_ms = (uint32_t)due_ms;
    return 0;
}

/* Forgets the spans wholly before seq (acked). */
static void span_forget_before(struct span_ring *q, uint64_t seq)
{
    while (q->count > 0 && span_at(q, 0)->from + span_at(q, 0)->count <= seq) {
        q->head = (q->head + 1) & (q->capacity - 1);
        q->count--;
    }
}

static void span_clear(struct span_ring *q)
{
    free(q->items);
    memset(q, 0, sizeof(*q));
}

/* The due time of the unacked message seq of a delivery in step: its
 * span's, or the log's. *span: where to start looking; spans are in seq
 * order, so a caller going up the seqs passes the same index along. */
static uint64_t due_in_step(struct delivery *d, uint64_t seq, uint32_t *span, uint64_t now_ms)
{
    struct span_ring *q = &d->spans;
    while (*span < q->count && span_at(q, *span)->from + span_at(q, *span)->count <= seq)
        ++*span;
    bool in_span = *span < q->count && span_at(q, *span)->from <= seq;
    return due_ms_in_full(in_span ? span_at(q, *span)->due_ms : sent_at(d->lt, seq)->due_ms,
                          now_ms);
}

/* The delivery's run moves into its own rings: the unacked each with a
 * reference of its own and its due time, and those that were offered
 * before offered_to and wait with the two references a waiting entry
 * holds, one of them the banked one. */
static void fall_out_of_step(struct delivery *d, uint64_t offered_to)
{
    struct conn *c = delivery_conn(d);
    uint64_t now_ms = d->sub->session->worker->now_ms;
    struct local_topic *lt = d->lt;
    uint32_t span = 0;
    d->in_step = false;
    lt->in_step--;
    d->unacked_due_ms = UINT64_MAX;
    bool failed = false;
    for (uint64_t seq = d->unacked_from; seq < offered_to; seq++) {
        struct pending_msg *m = sent_at(lt, seq);
        bool sent = seq < d->sent_to;
        uint64_t due = sent ? due_in_step(d, seq, &span, now_ms) : 0;
        if (!sent)
            m->banked--; /* the delivery's now */
        if (!failed && msg_ring_push(sent ? &d->unacked : &d->waiting, m->frame, due) == 0) {
            outbuf_ref(m->frame);
            d->unacked_due_ms = sent && due < d->unacked_due_ms ? due : d->unacked_due_ms;
            continue;
        }
        failed = true;
        if (!sent) {
            outbuf_release(m->frame); /* the log still holds its own */
            d->sub->session->waiting_bytes -= m->frame->len;
        }
    }
    span_clear(&d->spans);
    if (failed && c)
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
}

static void sent_log_drop_all(struct local_topic *lt, struct outbuf_release_batch *batch)
{
    for (struct delivery *d = lt->deliveries; d && lt->in_step > 0; d = d->next_in_topic) {
        if (d->in_step)
            fall_out_of_step(d, d->next_seq);
    }
    while (lt->sent.count > 0)
        sent_log_pop(lt, batch);
}

/* Drops what no delivery in step still needs, nor the batch being offered
 * (from batch_first on; sent_end when none), and shrinks the array if a
 * quarter of it is left. */
static void sent_log_trim(struct local_topic *lt, uint64_t batch_first,
                          struct outbuf_release_batch *batch)
{
    uint64_t keep_from = batch_first;
    for (struct delivery *d = lt->deliveries; d; d = d->next_in_topic) {
        if (d->in_step && d->unacked_from < keep_from)
            keep_from = d->unacked_from;
    }
    while (lt->sent_first < keep_from)
        sent_log_pop(lt, batch);
    uint32_t fit = 64; /* a power of two over twice what is left */
    while (fit < 2 * lt->sent.count)
        fit *= 2;
    if (lt->sent.capacity > 2 * fit)
        (void)msg_ring_resize(&lt->sent, fit); /* else it stays as it was */
}

/* A live message of the topic, before the batch it is part of (from
 * batch_first on) is offered to the deliveries: one reference from p.
 * Without the log (out of memory), every delivery takes the general path. */
static void sent_log_append(struct router *r, struct local_topic *lt, struct outbuf *frame,
                            uint64_t seq, uint64_t batch_first, struct outbuf_prepaid *p)
{
    struct outbuf_release_batch *batch = &r->worker->release_batch;
    if (lt->sent.count > 0 && seq != sent_end(lt))
        sent_log_drop_all(lt, batch); /* the run is broken */
    if (lt->sent.count > 0 && lt->sent.count == lt->sent.capacity) {
        sent_log_trim(lt, batch_first, batch);
        if (lt->sent.count > lt->sent.capacity / 2) /* room to grow into */
            (void)msg_ring_grow(&lt->sent);         /* else msg_ring_push tries again */
    }
    if (lt->sent.count == 0)
        lt->sent_first = seq;
    uint64_t due = r->worker->now_ms + backoff_ms(r->worker->cfg, 0);
    if (msg_ring_push(&lt->sent, outbuf_refs_prepaid(p, frame, 1), due) != 0) {
        outbuf_release_batched(batch, frame);
        sent_log_drop_all(lt, batch);
    }
}

void local_topic_on_tick(struct local_topic *lt, struct outbuf_release_batch *batch)
{
    if (lt->sent.count > 0)
        sent_log_trim(lt, sent_end(lt), batch);
}

void local_topic_clear(struct local_topic *lt)
{
    while (lt->sent.count > 0) /* with the banked references */
        sent_log_pop(lt, NULL);
    msg_ring_clear(&lt->sent);
}

/* Sends what waits while the window has room; the sends are one span. */
static void pump_in_step(struct delivery *d, struct conn *c)
{
    uint64_t from = d->sent_to;
    struct session *s = d->sub->session;
    while (d->sent_to < d->next_seq && d->sent_to - d->unacked_from < d->sub->window &&
           !conn_is_slow(d, c) && c->state == CONN_OPEN) {
        struct pending_msg *m = sent_at(d->lt, d->sent_to++);
        m->banked--;
        s->waiting_bytes -= m->frame->len;
        metric_add(&c->worker->metrics.deliveries, 1);
        conn_send(c, m->frame);
    }
    if (d->sent_to > from && span_note(&d->spans, from, (uint32_t)(d->sent_to - from),
                                       c->worker->now_ms + backoff_ms(delivery_cfg(d), 0)) != 0)
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
}

/* A live message for a manual-ack delivery in step, stepping in if it can
 * (nothing of its own pending, and the message in the log): sent, or kept
 * waiting. False: the general path applies. `expected`: the seq it was
 * due to get next. */
static bool offer_in_step(struct delivery *d, struct conn *c, struct outbuf *frame, uint64_t seq,
                          uint64_t expected)
{
    struct local_topic *lt = d->lt;
    if (d->in_step) {
        if (seq != expected)
            return false;
    } else {
        if (d->unacked.count > 0 || d->waiting.count > 0 || d->gap_from != 0 || d->stalled ||
            seq < lt->sent_first || seq >= sent_end(lt) || sent_at(lt, seq)->frame != frame)
            return false;
        d->in_step = true;
        lt->in_step++;
        d->unacked_from = d->sent_to = seq;
    }
    if (d->sent_to == seq && seq - d->unacked_from < d->sub->window && !conn_is_slow(d, c)) {
        d->sent_to = seq + 1;
        metric_add(&c->worker->metrics.deliveries, 1);
        conn_send(c, take_frame(c, frame));
        return true;
    }
    if (seq - d->sent_to >= delivery_cfg(d)->sub_queue)
        return false; /* the policy applies */
    take_frame(c, frame);
    sent_at(lt, seq)->banked++;
    d->sub->session->waiting_bytes += frame->len;
    if (conn_is_slow(d, c))
        stall(d);
    return true;
}

/* Manual ack: moves waiting messages into the window while there is room,
 * each with the references it took when it was offered. */
static void pump_waiting(struct delivery *d, struct conn *c)
{
    if (d->in_step) {
        pump_in_step(d, c);
    } else {
        while (d->waiting.count > 0 && d->unacked.count < d->sub->window && !conn_is_slow(d, c) &&
               c->state == CONN_OPEN)
            send_tracked(d, c, waiting_shift(d));
        if (d->waiting.count == 0)
            announce_gap(d);
    }
    /* Held back by the connection, not the window: the queue draining
     * (delivery_resume_stalled) sends the rest. */
    bool waits = d->in_step ? d->sent_to < d->next_seq : d->waiting.count > 0;
    if (waits && conn_is_slow(d, c))
        stall(d);
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
    if (d->sub->closing || c == NULL || c->state != CONN_OPEN) {
        if (d->in_step) /* as the rest of it, kept until the end */
            fall_out_of_step(d, d->next_seq);
        return;
    }
    if (seq < d->next_seq)
        return;
    uint64_t expected = d->next_seq;
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
    if (!backfill && offer_in_step(d, c, frame, seq, expected)) {
        note_behind(d->sub->session, c);
        return;
    }
    if (d->in_step) {
        fall_out_of_step(d, expected);
        if (c->state != CONN_OPEN) /* out of memory: closed */
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
     * difference is one atomic add here. Manual acks in step take one,
     * and the sent log one per message; only when no manual delivery takes
     * the in-step path for a frame does that one more overdraw the pool,
     * and the last taker then adds its own. What is not taken (a stalled or
     * closing subscriber, a delivery in step) goes back through the
     * release batch. */
    for (unsigned k = 0; k < n; k++)
        outbuf_prepay_adopt(&r->prepaid[k], frame[k], paid[k], lt->count + lt->manual);
    if (lt->in_step == 0 && lt->sent.count > 0) /* nothing in it is needed */
        sent_log_drop_all(lt, &r->worker->release_batch);
    for (unsigned k = 0; k < n && lt->manual > 0; k++)
        sent_log_append(r, lt, frame[k], seq[k], seq[0], &r->prepaid[k]);
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
    if (d->in_step)
        fall_out_of_step(d, d->next_seq);
    if (d->next_seq <= to)
        d->next_seq = to + 1;
}

/* --- manual acks --------------------------------------------------------------- */

void delivery_ack(struct delivery *d, uint64_t seq)
{
    if (d->in_step) {
        if (seq >= d->unacked_from) /* only what was sent */
            d->unacked_from = seq < d->sent_to ? seq + 1 : d->sent_to;
        span_forget_before(&d->spans, d->unacked_from);
    }
    while (d->unacked.count > 0 && msg_ring_front(&d->unacked)->frame->seq <= seq)
        msg_ring_pop(&d->unacked, &d->sub->session->worker->release_batch);
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
    if (d->in_step) {
        uint32_t span = 0;
        if (d->unacked_from == d->sent_to ||
            now_ms < due_in_step(d, d->unacked_from, &span, now_ms))
            return;
        fall_out_of_step(d, d->next_seq);
    }
    if (d->unacked.count == 0 || now_ms < d->unacked_due_ms)
        return;
    uint64_t earliest = UINT64_MAX;
    uint32_t i = 0;
    for (; i < d->unacked.count && c && c->state == CONN_OPEN; i++) {
        struct pending_msg *m = msg_ring_at(&d->unacked, i);
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
        due = now_ms + backoff_ms(delivery_cfg(d), m->attempts);
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

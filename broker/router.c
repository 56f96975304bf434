/*
 * router.c - the owner side (topics, sequencing, retention, attachments,
 * patterns) and the plumbing of the subscriber side (local topics, inbound
 * message dispatch). See router.h for the design and xmsg.h for the
 * lifetime of everything a message points to.
 *
 * Ordering: everything an owner sends a given worker travels through one
 * FIFO ring, and the owner handles one message at a time. So a subscriber's
 * worker sees X_ATTACH, then the replayed messages (X_DELIVER_ONE), then
 * live ones (X_DELIVER) with higher seqs: resume has no gap and no duplicate
 * at the seam, and each delivery's next_seq filters anything older.
 */
#include "router.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "dedup.h"
#include "log.h"
#include "delivery.h"
#include "session.h"
#include "topic.h"
#include "worker.h"
#include "ws_frame.h"

struct attachment {
    struct subscription *sub;
    unsigned worker;
    uint32_t takes; /* frame references its delivery takes per message */
};

struct pattern_reg {
    struct subscription *sub;
    unsigned worker;
    struct pattern_reg *next;
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct ws_str sub_topic(const struct subscription *sub)
{
    return (struct ws_str){sub->topic, sub->topic_len};
}

static struct ws_str topic_name(const struct topic *t)
{
    return (struct ws_str){t->name, t->name_len};
}

/* --- set-up ------------------------------------------------------------- */

int router_init(struct router *r, struct worker *w, struct mailboxes *boxes,
                atomic_uint_fast64_t *topic_total)
{
    memset(r, 0, sizeof(*r));
    r->worker = w;
    r->cfg = w->cfg;
    r->self = w->id;
    r->workers = boxes->workers;
    r->topic_total = topic_total;
    r->topic_buckets = 1024;
    r->local_buckets = 1024;
    r->topics = calloc(r->topic_buckets, sizeof(*r->topics));
    r->locals = calloc(r->local_buckets, sizeof(*r->locals));
    if (r->topics == NULL || r->locals == NULL)
        return -1;
    return mailbox_port_init(&r->port, boxes, r->self);
}

static void topic_free(struct topic *t)
{
    topic_log_destroy(&t->log);
    free(t->att);
    free(t->worker_takes);
    dedup_destroy(t->dedup);
    free(t->name);
    free(t);
}

void router_destroy(struct router *r)
{
    for (size_t i = 0; r->topics && i < r->topic_buckets; i++) {
        while (r->topics[i]) {
            struct topic *t = r->topics[i];
            r->topics[i] = t->hash_next;
            topic_free(t);
        }
    }
    while (r->patterns) {
        struct pattern_reg *p = r->patterns;
        r->patterns = p->next;
        free(p);
    }
    for (size_t i = 0; r->locals && i < r->local_buckets; i++) {
        while (r->locals[i]) {
            struct local_topic *lt = r->locals[i];
            r->locals[i] = lt->hash_next;
            local_topic_clear(lt);
            free(lt);
        }
    }
    free(r->topics);
    free(r->locals);
    mailbox_port_destroy(&r->port);
}

unsigned router_owner_of(const struct router *r, struct ws_str topic)
{
    return (unsigned)(topic_hash(topic) % r->workers);
}

/* --- sending ------------------------------------------------------------ */

/* Delivers m to worker `to` through its mailbox (this worker's own FIFO
 * when that is this worker: handled by the next router_poll, never nested). */
static void router_send(struct router *r, unsigned to, struct xmsg *m)
{
    m->from_worker = (uint16_t)r->self;
    if (mailbox_send(&r->port, to, m) != 0) {
        /* Out of memory for the overflow: the one failure a ring can't absorb. */
        log_error("worker %u: cannot queue a message for worker %u: out of memory", r->self, to);
        if (m->frame) /* an X_DELIVER carries u2 more (fan_out) */
            outbuf_release_n(m->frame, m->kind == X_DELIVER ? 1 + (uint32_t)m->u2 : 1);
    }
}

/* --- owner side: topics ------------------------------------------------- */

static void topics_grow(struct router *r)
{
    size_t buckets = r->topic_buckets * 2;
    struct topic **table = calloc(buckets, sizeof(*table));
    if (table == NULL)
        return; /* keep the longer chains */
    for (size_t i = 0; i < r->topic_buckets; i++) {
        while (r->topics[i]) {
            struct topic *t = r->topics[i];
            r->topics[i] = t->hash_next;
            size_t b = topic_hash(topic_name(t)) & (buckets - 1);
            t->hash_next = table[b];
            table[b] = t;
        }
    }
    free(r->topics);
    r->topics = table;
    r->topic_buckets = buckets;
}

static struct topic *topic_find(struct router *r, struct ws_str name)
{
    size_t b = topic_hash(name) & (r->topic_buckets - 1);
    for (struct topic *t = r->topics[b]; t; t = t->hash_next) {
        if (t->name_len == name.len && memcmp(t->name, name.ptr, name.len) == 0)
            return t;
    }
    return NULL;
}

static void attach(struct router *r, struct topic *t, struct subscription *sub, unsigned worker);

/* The topic, created (and matched against registered patterns) if new.
 * NULL at the max-topics limit or out of memory. */
static struct topic *topic_get(struct router *r, struct ws_str name)
{
    struct topic *t = topic_find(r, name);
    if (t)
        return t;
    if (atomic_fetch_add(r->topic_total, 1) >= r->cfg->max_topics) {
        atomic_fetch_sub(r->topic_total, 1);
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t)
        t->name = malloc(name.len + 1);
    if (t)
        t->worker_takes = calloc(r->workers, sizeof(*t->worker_takes));
    if (t == NULL || t->name == NULL || t->worker_takes == NULL) {
        if (t) {
            free(t->name);
            free(t->worker_takes);
            free(t);
        }
        atomic_fetch_sub(r->topic_total, 1);
        return NULL;
    }
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';
    t->name_len = name.len;
    topic_log_init(&t->log, config_retention_for(r->cfg, t->name, t->name_len));
    if (r->topic_count >= r->topic_buckets)
        topics_grow(r);
    size_t b = topic_hash(name) & (r->topic_buckets - 1);
    t->hash_next = r->topics[b];
    r->topics[b] = t;
    r->topic_count++;
    /* Patterns are matched once, when the topic appears - never per message. */
    for (struct pattern_reg *p = r->patterns; p; p = p->next) {
        if (topic_matches(sub_topic(p->sub), name))
            attach(r, t, p->sub, p->worker);
    }
    return t;
}

/* --- owner side: attaching subscriptions --------------------------------- */

static void send_to_sub(struct router *r, unsigned worker, enum xmsg_kind kind,
                        struct subscription *sub, struct topic *t, struct outbuf *frame,
                        uint64_t u1, uint64_t u2)
{
    struct xmsg m = {
        .kind = (uint8_t)kind, .sub = sub, .topic = t, .frame = frame, .u1 = u1, .u2 = u2};
    router_send(r, worker, &m);
}

/* Sends what a new attachment starts with: the resume replay (after a gap
 * notice if part of it is gone) or the snapshot. */
static void attach_backfill(struct router *r, struct topic *t, struct subscription *sub,
                            unsigned worker)
{
    uint64_t oldest = topic_log_oldest(&t->log, t->head);
    if (sub->has_from) {
        uint64_t first = sub->from + 1;
        if (sub->from >= t->head)
            return;
        if (first < oldest) {
            send_to_sub(r, worker, X_GAP, sub, t, NULL, first, oldest - 1);
            first = oldest;
        }
        for (uint64_t seq = first; seq <= t->head; seq++) {
            const struct log_entry *e = topic_log_find(&t->log, seq);
            if (e)
                send_to_sub(r, worker, X_DELIVER_ONE, sub, t, outbuf_ref(e->frame), seq, 0);
        }
    } else if (sub->snapshot) {
        const struct log_entry *e = topic_log_newest(&t->log);
        if (e)
            send_to_sub(r, worker, X_DELIVER_ONE, sub, t, outbuf_ref(e->frame), e->seq, 0);
    }
}

/* What a delivery of sub takes per message (local_topic_deliver). */
static uint32_t references_taken(const struct subscription *sub)
{
    return sub->ack == WSB_ACK_MANUAL ? 2 : 1;
}

static void attach(struct router *r, struct topic *t, struct subscription *sub, unsigned worker)
{
    if (t->att_count == t->att_cap) {
        unsigned cap = t->att_cap ? t->att_cap * 2 : 4;
        struct attachment *att = realloc(t->att, sizeof(*att) * cap);
        if (att == NULL) {
            log_error("worker %u: out of memory attaching to %s", r->self, t->name);
            return;
        }
        t->att = att;
        t->att_cap = cap;
    }
    uint32_t takes = references_taken(sub);
    t->att[t->att_count++] = (struct attachment){sub, worker, takes};
    t->worker_takes[worker] += takes;
    topic_log_expire(&t->log, r->worker->now_ms);
    send_to_sub(r, worker, X_ATTACH, sub, t, NULL, t->head, topic_log_oldest(&t->log, t->head));
    attach_backfill(r, t, sub, worker);
}

static void detach(struct topic *t, struct subscription *sub)
{
    for (unsigned i = 0; i < t->att_count;) {
        if (t->att[i].sub == sub) {
            t->worker_takes[t->att[i].worker] -= t->att[i].takes;
            t->att[i] = t->att[--t->att_count];
        } else {
            i++;
        }
    }
}

static void owner_on_subscribe(struct router *r, struct xmsg *m)
{
    struct subscription *sub = m->sub;
    unsigned worker = m->from_worker;
    if (!sub->pattern) {
        struct topic *t = topic_get(r, sub_topic(sub));
        if (t)
            attach(r, t, sub, worker);
        else /* X_ATTACH without a topic: refused */
            send_to_sub(r, worker, X_ATTACH, sub, NULL, NULL, 0, 0);
        return;
    }
    struct pattern_reg *p = malloc(sizeof(*p));
    if (p == NULL) {
        log_error("worker %u: out of memory registering pattern %s", r->self, sub->topic);
        return;
    }
    *p = (struct pattern_reg){sub, worker, r->patterns};
    r->patterns = p;
    for (size_t i = 0; i < r->topic_buckets; i++) {
        for (struct topic *t = r->topics[i]; t; t = t->hash_next) {
            if (topic_matches(sub_topic(sub), topic_name(t)))
                attach(r, t, sub, worker);
        }
    }
    send_to_sub(r, worker, X_REGISTERED, sub, NULL, NULL, 0, 0);
}

static void owner_on_unsubscribe(struct router *r, struct xmsg *m)
{
    struct subscription *sub = m->sub;
    if (!sub->pattern) {
        struct topic *t = topic_find(r, sub_topic(sub));
        if (t)
            detach(t, sub);
    } else {
        for (struct pattern_reg **pp = &r->patterns; *pp;) {
            if ((*pp)->sub == sub) {
                struct pattern_reg *dead = *pp;
                *pp = dead->next;
                free(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
        for (size_t i = 0; i < r->topic_buckets; i++) {
            for (struct topic *t = r->topics[i]; t; t = t->hash_next)
                detach(t, sub);
        }
    }
    send_to_sub(r, m->from_worker, X_UNSUBSCRIBED, sub, NULL, NULL, 0, 0);
}

/* --- owner side: publishing ---------------------------------------------- */

static void reply_confirm(struct router *r, struct xmsg *pub, struct topic *t, uint64_t seq,
                          enum wsb_err code)
{
    /* Without confirm the publisher holds no reference on the session, so
     * the answer (an error) names it by serial, looked up on arrival. */
    struct xmsg m = {.kind = X_CONFIRM,
                     .flags = pub->flags,
                     .topic = t,
                     .id = pub->id,
                     .u1 = seq,
                     .u2 = pub->u1,
                     .code = (uint16_t)code,
                     .session = (pub->flags & XMSG_CONFIRM) ? pub->session : NULL};
    router_send(r, pub->from_worker, &m);
}

/* Offers a sequenced frame to every worker with subscribers for t: one
 * X_DELIVER per worker whose attachments take references. The frame is
 * still in this worker's cache, so one atomic add here pays for every
 * reference the subscribers' workers will take (each X_DELIVER's own, and
 * u2 more for their deliveries), and those workers need not touch the
 * counter. */
static void fan_out(struct router *r, struct topic *t, struct outbuf *frame, uint64_t seq)
{
    uint32_t total = 0;
    for (unsigned w = 0; w < r->workers; w++)
        total += t->worker_takes[w] ? 1 + t->worker_takes[w] : 0;
    if (total == 0)
        return;
    outbuf_ref_n(frame, total);
    for (unsigned w = 0; w < r->workers; w++) {
        if (t->worker_takes[w] == 0)
            continue;
        struct xmsg m = {
            .kind = X_DELIVER, .topic = t, .frame = frame, .u1 = seq, .u2 = t->worker_takes[w]};
        router_send(r, w, &m);
    }
}

static void owner_on_publish(struct router *r, struct xmsg *m)
{
    uint8_t *envelope = outbuf_payload(m->frame);
    struct ws_str name = {(const char *)envelope + m->tmpl.topic_offset, m->tmpl.topic_len};
    struct topic *t = topic_get(r, name);
    if (t == NULL) {
        reply_confirm(r, m, NULL, 0, WSB_ERR_OVERLOADED);
        outbuf_release(m->frame);
        return;
    }
    if (m->flags & XMSG_HAS_ID) {
        if (t->dedup == NULL)
            t->dedup = dedup_create(); /* without memory, only de-duplication is lost */
        uint64_t seen = t->dedup ? dedup_lookup(t->dedup, m->u2, m->id) : 0;
        if (seen) { /* a retry: confirm again with the seq it already has */
            if (m->flags & XMSG_CONFIRM)
                reply_confirm(r, m, t, seen, WSB_OK);
            outbuf_release(m->frame);
            return;
        }
    }
    uint64_t seq = ++t->head;
    wsb_msg_stamp(envelope, &m->tmpl, seq, realtime_ns());
    m->frame->seq = seq;
    metric_add(&r->worker->metrics.published, 1);
    if (t->dedup && (m->flags & XMSG_HAS_ID))
        dedup_record(t->dedup, m->u2, m->id, seq);
    fan_out(r, t, m->frame, seq);
    topic_log_append(&t->log, seq, r->worker->now_ms, m->frame); /* takes m's reference */
    if (m->flags & XMSG_CONFIRM)
        reply_confirm(r, m, t, seq, WSB_OK);
}

static void owner_on_replay(struct router *r, struct xmsg *m)
{
    struct replay_req *req = m->replay;
    struct topic *t = topic_find(r, (struct ws_str){req->topic, req->topic_len});
    uint64_t count = 0;
    if (t) {
        topic_log_expire(&t->log, r->worker->now_ms);
        uint64_t to = req->to < t->head ? req->to : t->head;
        uint64_t oldest = topic_log_oldest(&t->log, t->head);
        uint64_t first = req->from;
        if (first <= to && first < oldest) {
            uint64_t last_gone = oldest - 1 < to ? oldest - 1 : to;
            struct xmsg g = {.kind = X_GAP,
                             .replay = req,
                             .session = req->session,
                             .topic = t,
                             .u1 = first,
                             .u2 = last_gone};
            router_send(r, m->from_worker, &g);
            first = last_gone + 1;
        }
        for (uint64_t seq = first; seq <= to; seq++) {
            const struct log_entry *e = topic_log_find(&t->log, seq);
            if (e == NULL)
                continue;
            struct xmsg f = {.kind = X_REPLAY_MSG,
                             .replay = req,
                             .session = req->session,
                             .frame = outbuf_ref(e->frame),
                             .u1 = seq};
            router_send(r, m->from_worker, &f);
            count++;
        }
    }
    struct xmsg done = {.kind = X_REPLAY_DONE,
                        .replay = req,
                        .session = req->session,
                        .u1 = count,
                        .u2 = t ? (req->to < t->head ? req->to : t->head) : 0};
    router_send(r, m->from_worker, &done);
}

/* --- subscriber side ------------------------------------------------------ */

static size_t local_bucket(const struct router *r, const struct topic *t)
{
    uintptr_t p = (uintptr_t)t;
    return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> 20) & (r->local_buckets - 1);
}

struct local_topic *router_local_topic(struct router *r, struct topic *t, bool create)
{
    size_t b = local_bucket(r, t);
    for (struct local_topic *lt = r->locals[b]; lt; lt = lt->hash_next) {
        if (lt->key == t)
            return lt;
    }
    if (!create)
        return NULL;
    struct local_topic *lt = calloc(1, sizeof(*lt));
    if (lt == NULL)
        return NULL;
    lt->key = t;
    lt->hash_next = r->locals[b];
    r->locals[b] = lt;
    r->local_count++;
    return lt;
}

void router_local_topic_drop(struct router *r, struct local_topic *lt)
{
    size_t b = local_bucket(r, lt->key);
    for (struct local_topic **pp = &r->locals[b]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == lt) {
            *pp = lt->hash_next;
            r->local_count--;
            local_topic_clear(lt);
            free(lt);
            return;
        }
    }
}

/* Offers the batched X_DELIVERs (router_poll) and drops their references
 * into the worker's release batch, where the same frames' send completions
 * go: one atomic subtract per frame per loop pass for all of them. */
static void subscriber_deliver_batch(struct router *r)
{
    struct deliver_batch *b = &r->batch;
    if (b->count == 0)
        return;
    struct local_topic *lt = router_local_topic(r, b->topic, false);
    if (lt)
        local_topic_deliver(r, lt, b->frame, b->seq, b->paid, b->count);
    /* Each X_DELIVER's own reference; and, with the subscriptions gone,
     * the ones the owner paid for them. */
    for (unsigned k = 0; k < b->count; k++)
        outbuf_release_batched_n(&r->worker->release_batch, b->frame[k], lt ? 1 : 1 + b->paid[k]);
    b->count = 0;
}

/* An X_DELIVER joins the batch; one of another topic, or a full batch,
 * offers the batch first. */
static void subscriber_on_deliver(struct router *r, struct xmsg *m)
{
    struct deliver_batch *b = &r->batch;
    if (b->count == ROUTER_DELIVER_BATCH || (b->count > 0 && b->topic != m->topic))
        subscriber_deliver_batch(r);
    b->topic = m->topic;
    b->frame[b->count] = m->frame;
    b->seq[b->count] = m->u1;
    b->paid[b->count] = (uint32_t)m->u2;
    b->count++;
}

static void subscriber_on_deliver_one(struct xmsg *m)
{
    struct delivery *d = m->sub->closing ? NULL : subscription_delivery(m->sub, m->topic);
    if (d)
        delivery_offer(d, m->frame, m->u1, true);
    outbuf_release(m->frame);
}

static void subscriber_on_gap(struct xmsg *m)
{
    if (m->replay) {
        session_on_replay_gap(m->session, m->topic, m->u1, m->u2);
        return;
    }
    struct delivery *d = m->sub->closing ? NULL : subscription_delivery(m->sub, m->topic);
    if (d)
        delivery_on_gap(d, m->u1, m->u2);
}

/* --- dispatch ------------------------------------------------------------- */

static void router_handle(struct router *r, struct xmsg *m)
{
    switch ((enum xmsg_kind)m->kind) {
    case X_PUBLISH:
        owner_on_publish(r, m);
        break;
    case X_SUBSCRIBE:
        owner_on_subscribe(r, m);
        break;
    case X_UNSUBSCRIBE:
        owner_on_unsubscribe(r, m);
        break;
    case X_REPLAY:
        owner_on_replay(r, m);
        break;
    case X_CONFIRM:
        if (m->flags & XMSG_CONFIRM)
            session_on_confirm(m->session, m->id, m->topic, m->u1, (enum wsb_err)m->code);
        else
            session_on_publish_error(r->worker, m->u2, m->flags & XMSG_HAS_ID, m->id,
                                     (enum wsb_err)m->code);
        break;
    case X_ATTACH:
        session_on_attach(m->sub, m->topic, m->u1, m->u2);
        break;
    case X_DELIVER:
        subscriber_on_deliver(r, m);
        break;
    case X_DELIVER_ONE:
        subscriber_on_deliver_one(m);
        break;
    case X_GAP:
        subscriber_on_gap(m);
        break;
    case X_REGISTERED:
        session_on_registered(m->sub);
        break;
    case X_UNSUBSCRIBED:
        session_on_unsubscribed(m->sub);
        break;
    case X_REPLAY_MSG:
        session_on_replay_frame(m->session, m->frame);
        outbuf_release(m->frame);
        break;
    case X_REPLAY_DONE:
        session_on_replay_done(m->session, m->replay, m->u2, m->u1);
        break;
    }
}

/* A bound per ring per poll, so one busy peer can't starve the sockets. */
#define POLL_BATCH 1024

void router_poll(struct router *r)
{
    for (unsigned from = 0; from < r->workers; from++) {
        struct xmsg m;
        for (unsigned n = 0; n < POLL_BATCH && mailbox_receive(&r->port, from, &m); n++) {
            if (m.kind != X_DELIVER)
                subscriber_deliver_batch(r); /* everything else in arrival order */
            router_handle(r, &m);
        }
        subscriber_deliver_batch(r);
    }
}

static void wake_worker(void *ctx, unsigned to)
{
    struct router *r = ctx;
    worker_wake_peer(r->worker, to);
}

/* --- publisher back-pressure (backlog.h) ---------------------------------- */

static atomic_uint *backlogged_workers(const struct router *r)
{
    return &r->worker->broker->backlogged_workers;
}

bool router_publishers_wait(const struct router *r)
{
    return r->cfg->publisher_backpressure &&
           atomic_load_explicit(backlogged_workers(r), memory_order_relaxed) != 0;
}

void router_hold_publisher(struct router *r, struct session *s)
{
    if (s->held || s->conn == NULL)
        return;
    s->held = true;
    s->next_held = r->held;
    r->held = s;
    metric_add(&r->worker->metrics.publisher_holds, 1);
    conn_hold_recv(s->conn, true);
}

void router_forget_publisher(struct router *r, struct session *s)
{
    if (!s->held)
        return;
    for (struct session **pp = &r->held; *pp; pp = &(*pp)->next_held) {
        if (*pp == s) {
            *pp = s->next_held;
            break;
        }
    }
    s->held = false;
}

/* Samples this worker's fan-out once per loop and updates its part of the
 * broker-wide signal. The last worker to stop being backlogged wakes the
 * others, whose held publishers may be read again. */
static void router_update_backlog(struct router *r)
{
    struct backlog_sample sample = {
        .subscribers = r->subscribers, .behind = r->behind, .ring_slots = r->cfg->xring_entries};
    for (unsigned to = 0; to < r->workers; to++) {
        if (to != r->self && r->port.out[to].count > sample.overflow)
            sample.overflow = r->port.out[to].count;
    }
    bool was = r->backlog.on;
    bool next =
        r->cfg->publisher_backpressure &&
        backlog_update(&r->backlog, &sample, r->worker->now_ms, r->cfg->publisher_hold_max_ms);
    r->backlog.on = next;
    if (next == was)
        return;
    if (next) {
        atomic_fetch_add(backlogged_workers(r), 1);
        return;
    }
    if (atomic_fetch_sub(backlogged_workers(r), 1) == 1) {
        for (unsigned to = 0; to < r->workers; to++) {
            if (to != r->self)
                worker_wake_peer(r->worker, to);
        }
    }
}

/* Reads held publishers again once no worker is backlogged. */
static void router_release_publishers(struct router *r)
{
    if (r->held == NULL || atomic_load(backlogged_workers(r)) != 0)
        return;
    while (r->held) {
        struct session *s = r->held;
        r->held = s->next_held;
        s->held = false;
        if (s->conn)
            conn_hold_recv(s->conn, false);
    }
}

void router_flush(struct router *r)
{
    mailbox_flush(&r->port);
    mailbox_wake_targets(&r->port, wake_worker, r);
    router_update_backlog(r);
    router_release_publishers(r);
}

bool router_busy(const struct router *r)
{
    /* Checked after the worker set `idle` (see mailbox.h): a worker that
     * clears the last backlog after that finds it idle and wakes it. */
    if (r->held && atomic_load(backlogged_workers(r)) == 0)
        return true;
    if (mailbox_pending(&r->port))
        return true;
    for (unsigned to = 0; to < r->workers; to++) {
        if (r->port.out[to].count > 0)
            return true;
    }
    return false;
}

void router_on_tick(struct router *r, uint64_t now_ms)
{
    for (size_t i = 0; i < r->topic_buckets; i++) {
        for (struct topic *t = r->topics[i]; t; t = t->hash_next)
            topic_log_expire(&t->log, now_ms);
    }
    for (size_t i = 0; i < r->local_buckets; i++) {
        for (struct local_topic *lt = r->locals[i]; lt; lt = lt->hash_next)
            local_topic_on_tick(lt, &r->worker->release_batch);
    }
}

/* --- requests from this worker's sessions --------------------------------- */

int router_publish(struct router *r, struct session *s, struct ws_str topic, struct ws_str data,
                   uint64_t id, unsigned flags)
{
    size_t len = wsb_msg_template_size(topic.len, data.len);
    struct outbuf *frame = outbuf_alloc_shared(len);
    if (frame == NULL)
        return -1;
    struct xmsg m = {.kind = X_PUBLISH,
                     .flags = (uint8_t)flags,
                     .session = s,
                     .frame = frame,
                     .id = id,
                     .u1 = s->serial,
                     .u2 = s->id};
    if (wsb_msg_template_write(outbuf_payload(frame), len, topic, data, &m.tmpl) != 0) {
        outbuf_release(frame);
        return -1;
    }
    outbuf_seal_frame(frame, m.tmpl.len, WS_OP_BINARY);
    if (flags & XMSG_CONFIRM)
        s->refs++; /* the confirm will come back to it */
    router_send(r, router_owner_of(r, topic), &m);
    return 0;
}

void router_subscribe(struct router *r, struct subscription *sub)
{
    struct xmsg m = {.kind = X_SUBSCRIBE, .sub = sub};
    if (!sub->pattern) {
        router_send(r, router_owner_of(r, sub_topic(sub)), &m);
        return;
    }
    sub->owners_registering = r->workers;
    for (unsigned w = 0; w < r->workers; w++) {
        struct xmsg each = m;
        router_send(r, w, &each);
    }
}

void router_unsubscribe(struct router *r, struct subscription *sub)
{
    sub->closing = true;
    sub->owners_pending = sub->pattern ? r->workers : 1;
    unsigned only = router_owner_of(r, sub_topic(sub));
    for (unsigned w = 0; w < r->workers; w++) {
        if (!sub->pattern && w != only)
            continue;
        struct xmsg m = {.kind = X_UNSUBSCRIBE, .sub = sub};
        router_send(r, w, &m);
    }
}

int router_replay(struct router *r, struct session *s, struct ws_str topic, uint64_t from,
                  uint64_t to, bool has_id, uint64_t id)
{
    struct replay_req *req = malloc(sizeof(*req) + topic.len + 1);
    if (req == NULL)
        return -1;
    *req = (struct replay_req){
        .session = s, .has_id = has_id, .id = id, .from = from, .to = to, .topic_len = topic.len};
    memcpy(req->topic, topic.ptr, topic.len);
    req->topic[topic.len] = '\0';
    s->refs++;
    struct xmsg m = {.kind = X_REPLAY, .replay = req, .session = s};
    router_send(r, router_owner_of(r, topic), &m);
    return 0;
}

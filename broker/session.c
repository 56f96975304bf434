/*
 * session.c - the /v1 endpoint: requests in, envelopes out (docs/protocol.md).
 *
 * Each request envelope is decoded by proto/ (zero-copy), checked against
 * the session's state, and turned into a router call; errors become `error`
 * envelopes at one place, session_error(), which also closes a connection
 * that keeps misbehaving. The subscriber side of delivery (windows, slow
 * consumers) is in delivery.c.
 */
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"
#include "conn.h"
#include "delivery.h"
#include "log.h"
#include "router.h"
#include "topic.h"
#include "worker.h"

static struct router *session_router(const struct session *s)
{
    return &s->worker->router;
}

/* --- lifetime ------------------------------------------------------------- */

static void session_unref(struct session *s)
{
    if (--s->refs == 0) {
        auth_rights_free(s->rights);
        free(s);
    }
}

static void subscription_free(struct subscription *sub)
{
    struct session *s = sub->session;
    for (struct subscription **pp = &s->subs; *pp; pp = &(*pp)->next) {
        if (*pp == sub) {
            *pp = sub->next;
            break;
        }
    }
    free(sub->topic);
    free(sub);
    session_unref(s);
}

/*
 * Stops delivery at once (closing deliveries take nothing more) and asks
 * every owner to forget the subscription. The deliveries themselves are
 * destroyed only when the owners have answered: this may run inside a loop
 * over a topic's deliveries (a slow consumer being disconnected), which must
 * not see them vanish.
 */
static void subscription_close(struct subscription *sub)
{
    struct session *s = sub->session;
    s->sub_count--;
    router_unsubscribe(session_router(s), sub);
}

/* --- sending envelopes -------------------------------------------------- */

/* A pooled buffer for an envelope of at most cap bytes, or NULL when the
 * connection is gone (or out of memory, which closes it). */
static struct outbuf *envelope_buf(struct session *s, size_t cap)
{
    if (s->conn == NULL)
        return NULL;
    struct outbuf *b = conn_alloc_outbuf(s->conn, cap);
    if (b == NULL)
        conn_close(s->conn, WS_CLOSE_INTERNAL_ERROR, "out of memory");
    return b;
}

static void envelope_send(struct session *s, struct outbuf *b, size_t len)
{
    if (len == 0) { /* cap was too small: a bug, never the client's fault */
        log_error("envelope did not fit its buffer");
        outbuf_release(b);
        return;
    }
    outbuf_seal_frame(b, len, WS_OP_BINARY);
    conn_send(s->conn, b);
}

/* Room for an envelope's fixed parts, plus the variable strings. */
#define ENVELOPE_SLACK 160

#define SEND_ENVELOPE(s, extra, encoder, ...)                                                      \
    do {                                                                                           \
        struct outbuf *b_ = envelope_buf((s), ENVELOPE_SLACK + (extra));                           \
        if (b_)                                                                                    \
            envelope_send((s), b_, encoder(outbuf_payload(b_), b_->capacity, __VA_ARGS__));        \
    } while (0)

static struct ws_str topic_str(const struct topic *t)
{
    return (struct ws_str){t->name, t->name_len};
}

void session_send_gap(struct session *s, const struct topic *t, uint64_t from, uint64_t to)
{
    SEND_ENVELOPE(s, t->name_len, wsb_encode_gap, topic_str(t), from, to);
    metric_add(&s->worker->metrics.gap_notices, s->conn != NULL);
}

/* Repeated abuse closes the connection (docs/protocol.md section 5). */
static void session_count_error(struct session *s)
{
    if (++s->errors >= s->worker->cfg->max_errors && s->conn)
        conn_close(s->conn, WS_CLOSE_POLICY_VIOLATION, "too many protocol errors");
}

/* Sends an error envelope without counting it as abuse. */
static void session_send_error(struct session *s, enum wsb_err code, const char *text, bool has_id,
                               uint64_t id, struct ws_str op)
{
    SEND_ENVELOPE(s, strlen(text) + op.len, wsb_encode_error, code, text, has_id, id, op);
    log_debug("session %016" PRIx64 ": error %d (%s): %s", s->id, (int)code, wsb_err_name(code),
              text);
}

/* The one place a request's failure is reported. */
static void session_error(struct session *s, enum wsb_err code, const char *text, bool has_id,
                          uint64_t id, struct ws_str op)
{
    session_send_error(s, code, text, has_id, id, op);
    session_count_error(s);
}

static void request_error(struct session *s, const struct wsb_request *req, enum wsb_err code,
                          const char *text)
{
    static const char *const op_names[] = {"",    "hello", "sub",    "unsub",
                                           "pub", "ack",   "replay", "ping"};
    const char *op = op_names[req->op];
    session_error(s, code, text, req->has_id, req->id, (struct ws_str){op, strlen(op)});
}

/* --- requests ------------------------------------------------------------- */

static int parse_session_id(struct ws_str text, uint64_t *out)
{
    if (text.len == 0 || text.len > 16)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < text.len; i++) {
        char ch = text.ptr[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static struct wsb_limits session_limits(const struct session *s)
{
    const struct broker_config *cfg = s->worker->cfg;
    return (struct wsb_limits){
        .max_envelope = cfg->max_envelope,
        .max_topic = WSB_TOPIC_MAX_BYTES,
        .max_subscriptions = cfg->max_subscriptions,
        .max_window = cfg->max_window,
    };
}

/* Refuses the client: error 18 and close 1008 (docs/protocol.md section 7). */
static void session_refuse(struct session *s, const struct wsb_request *req, const char *why)
{
    session_send_error(s, WSB_ERR_AUTH_FAILED, why, req->has_id, req->id,
                       (struct ws_str){"hello", 5});
    if (s->conn)
        conn_close(s->conn, WS_CLOSE_POLICY_VIOLATION, "authentication failed");
}

/* hello's token, when it has one, replaces what the handshake granted. */
static int session_authenticate(struct session *s, const struct wsb_request *req)
{
    if (ws_str_present(req->token)) {
        const struct auth_rules *rules = atomic_load(&s->worker->broker->auth);
        const char *why = NULL;
        const struct auth_rights *rights =
            rules ? auth_authenticate(rules, req->token, auth_now(), &why) : &auth_rights_all;
        if (rights == NULL) {
            session_refuse(s, req, why);
            return -1;
        }
        auth_rights_free(s->rights);
        s->rights = rights;
    }
    if (s->rights == NULL) {
        session_refuse(s, req, "a token is required (anonymous access is off)");
        return -1;
    }
    return 0;
}

static void on_hello(struct session *s, const struct wsb_request *req)
{
    if (s->hello_done) {
        request_error(s, req, WSB_ERR_DUPLICATE_HELLO, "hello was already sent");
        return;
    }
    if (ws_str_present(req->session) && parse_session_id(req->session, &s->id) != 0) {
        request_error(s, req, WSB_ERR_BAD_FIELD, "field 'session' is not a session id");
        return;
    }
    if (session_authenticate(s, req) != 0)
        return;
    s->hello_done = true;
    char id[17];
    snprintf(id, sizeof(id), "%016" PRIx64, s->id);
    struct wsb_limits limits = session_limits(s);
    SEND_ENVELOPE(s, 64, wsb_encode_welcome, (struct ws_str){id, 16}, &limits);
}

static struct subscription *session_find_sub(struct session *s, struct ws_str topic)
{
    for (struct subscription *sub = s->subs; sub; sub = sub->next) {
        if (!sub->closing && sub->topic_len == topic.len &&
            memcmp(sub->topic, topic.ptr, topic.len) == 0)
            return sub;
    }
    return NULL;
}

static void on_sub(struct session *s, const struct wsb_request *req)
{
    if (!auth_may_subscribe(s->rights, req->topic)) {
        request_error(s, req, WSB_ERR_NOT_PERMITTED, "not permitted to subscribe to this topic");
        return;
    }
    if (s->sub_count >= s->worker->cfg->max_subscriptions) {
        request_error(s, req, WSB_ERR_TOO_MANY_SUBSCRIPTIONS, "too many subscriptions");
        return;
    }
    if (session_find_sub(s, req->topic)) {
        request_error(s, req, WSB_ERR_ALREADY_SUBSCRIBED, "already subscribed to this topic");
        return;
    }
    struct subscription *sub = calloc(1, sizeof(*sub));
    char *topic = malloc(req->topic.len + 1);
    if (sub == NULL || topic == NULL) {
        free(sub);
        free(topic);
        request_error(s, req, WSB_ERR_OVERLOADED, "out of memory");
        return;
    }
    memcpy(topic, req->topic.ptr, req->topic.len);
    topic[req->topic.len] = '\0';
    *sub = (struct subscription){
        .session = s,
        .topic = topic,
        .topic_len = req->topic.len,
        .pattern = topic_classify(req->topic) == TOPIC_PATTERN,
        .has_id = req->has_id,
        .id = req->id,
        .has_from = req->has_from,
        .from = req->from,
        .snapshot = req->snapshot && !req->has_from,
        .ack = req->ack,
        .window = (uint32_t)req->window,
        .policy = req->has_policy ? req->policy : config_policy_for(s->worker->cfg, req->topic),
        .next = s->subs,
    };
    s->subs = sub;
    s->sub_count++;
    s->refs++;
    router_subscribe(session_router(s), sub);
}

static void on_unsub(struct session *s, const struct wsb_request *req)
{
    struct subscription *sub = session_find_sub(s, req->topic);
    if (sub == NULL) {
        request_error(s, req, WSB_ERR_NOT_SUBSCRIBED, "no subscription with this topic");
        return;
    }
    subscription_close(sub);
}

/* A refused publish: reject when it has an id (the publisher may be
 * waiting for a confirm), else error. */
static void refuse_publish(struct session *s, const struct wsb_request *req, enum wsb_err code,
                           const char *text, bool count)
{
    if (req->has_id)
        SEND_ENVELOPE(s, strlen(text), wsb_encode_reject, true, req->id, code, text);
    else
        session_send_error(s, code, text, false, 0, (struct ws_str){"pub", 3});
    if (count)
        session_count_error(s);
}

static void on_pub(struct session *s, const struct wsb_request *req)
{
    if (!auth_may_publish(s->rights, req->topic)) {
        refuse_publish(s, req, WSB_ERR_NOT_PERMITTED, "not permitted to publish to this topic",
                       true);
        return;
    }
    const struct broker_config *cfg = s->worker->cfg;
    if (!token_bucket_take(&s->publish_budget, cfg->publish_rate, cfg->publish_burst,
                           s->worker->now_ms)) {
        /* Not counted toward max-errors: a bursty publisher is not abusive. */
        refuse_publish(s, req, WSB_ERR_RATE_LIMITED, "over the publish rate limit", false);
        return;
    }
    unsigned flags = (req->confirm ? XMSG_CONFIRM : 0) | (req->has_id ? XMSG_HAS_ID : 0);
    if (router_publish(session_router(s), s, req->topic, req->data, req->id, flags) != 0)
        request_error(s, req, WSB_ERR_OVERLOADED, "out of memory");
    else if (router_publishers_wait(session_router(s)))
        router_hold_publisher(session_router(s), s); /* fan-out is behind: read no more */
}

static void on_ack(struct session *s, const struct wsb_request *req)
{
    for (struct subscription *sub = s->subs; sub; sub = sub->next) {
        if (sub->closing || sub->ack != WSB_ACK_MANUAL)
            continue;
        for (struct delivery *d = sub->deliveries; d; d = d->next_in_sub) {
            const struct topic *t = d->lt->key;
            if (t->name_len == req->topic.len && memcmp(t->name, req->topic.ptr, t->name_len) == 0)
                delivery_ack(d, req->seq);
        }
    }
}

static void on_replay(struct session *s, const struct wsb_request *req)
{
    if (!auth_may_subscribe(s->rights, req->topic)) {
        request_error(s, req, WSB_ERR_NOT_PERMITTED, "not permitted to read this topic");
        return;
    }
    uint64_t to = req->has_to ? req->to : UINT64_MAX;
    if (router_replay(session_router(s), s, req->topic, req->from, to, req->has_id, req->id) != 0)
        request_error(s, req, WSB_ERR_OVERLOADED, "out of memory");
}

static void on_request(struct session *s, const struct wsb_request *req)
{
    if (!s->hello_done && req->op != WSB_OP_HELLO) {
        request_error(s, req, WSB_ERR_HELLO_REQUIRED, "the first envelope must be hello");
        return;
    }
    switch (req->op) {
    case WSB_OP_HELLO:
        on_hello(s, req);
        return;
    case WSB_OP_SUB:
        on_sub(s, req);
        return;
    case WSB_OP_UNSUB:
        on_unsub(s, req);
        return;
    case WSB_OP_PUB:
        on_pub(s, req);
        return;
    case WSB_OP_ACK:
        on_ack(s, req);
        return;
    case WSB_OP_REPLAY:
        on_replay(s, req);
        return;
    case WSB_OP_PING:
        SEND_ENVELOPE(s, 0, wsb_encode_pong, req->has_id, req->id);
        return;
    }
}

/* --- the route ------------------------------------------------------------ */

static void pubsub_on_open(struct conn *c)
{
    struct session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    s->conn = c;
    s->worker = c->worker;
    s->refs = 1; /* the connection's */
    s->serial = ++c->worker->session_serial;
    /* The handshake's rights, taken over. A broker without auth rules (the
     * unit-test harnesses open connections without a handshake) allows all. */
    s->rights = c->rights;
    c->rights = NULL;
    if (s->rights == NULL && atomic_load(&c->worker->broker->auth) == NULL)
        s->rights = &auth_rights_all;
    if (getrandom(&s->id, sizeof(s->id), 0) != sizeof(s->id))
        s->id = (uint64_t)(uintptr_t)s ^ c->worker->now_ms;
    c->app = s;
}

static void pubsub_on_message(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct session *s = c->app;
    if (s == NULL)
        return;
    if (opcode == WS_OP_TEXT) {
        session_error(s, WSB_ERR_TEXT_MESSAGE, "envelopes are binary msgpack messages", false, 0,
                      (struct ws_str){NULL, 0});
        return;
    }
    struct wsb_limits limits = session_limits(s);
    struct wsb_request req;
    struct wsb_decode_error err;
    if (wsb_request_decode(payload, len, &limits, &req, &err) != WSB_OK) {
        if (ws_str_eq(err.op, "pub") && err.has_id) {
            /* A publish with an id is answered by confirm or reject. */
            SEND_ENVELOPE(s, strlen(err.text), wsb_encode_reject, true, err.id, err.code, err.text);
            session_count_error(s);
            return;
        }
        session_error(s, err.code, err.text, err.has_id, err.id, err.op);
        return;
    }
    on_request(s, &req);
}

static void pubsub_on_close(struct conn *c)
{
    struct session *s = c->app;
    if (s == NULL)
        return;
    c->app = NULL;
    s->conn = NULL;
    delivery_on_session_closed(s);
    router_forget_publisher(session_router(s), s);
    for (struct subscription *sub = s->subs; sub; sub = sub->next) {
        if (!sub->closing)
            subscription_close(sub);
    }
    session_unref(s);
}

static void pubsub_on_writable(struct conn *c)
{
    struct session *s = c->app;
    if (s)
        delivery_resume_stalled(s);
}

static void pubsub_on_tick(struct conn *c, uint64_t now_ms)
{
    struct session *s = c->app;
    if (s == NULL)
        return;
    if (s->rights && s->rights->expires != 0 && auth_now() >= s->rights->expires) {
        conn_close(c, WS_CLOSE_POLICY_VIOLATION, "token expired");
        return;
    }
    for (struct subscription *sub = s->subs; sub && s->conn; sub = sub->next) {
        if (sub->closing || sub->ack != WSB_ACK_MANUAL)
            continue;
        for (struct delivery *d = sub->deliveries; d && s->conn; d = d->next_in_sub)
            delivery_retransmit_due(d, now_ms);
    }
}

const struct route pubsub_route = {
    .path = "/v1",
    .subprotocol = WSB_SUBPROTOCOL,
    .auth = true,
    .on_open = pubsub_on_open,
    .on_message = pubsub_on_message,
    .on_close = pubsub_on_close,
    .on_writable = pubsub_on_writable,
    .on_tick = pubsub_on_tick,
};

/* --- answers from owners --------------------------------------------------- */

void session_on_confirm(struct session *s, uint64_t id, const struct topic *t, uint64_t seq,
                        enum wsb_err code)
{
    if (code != WSB_OK) {
        const char *reason = code == WSB_ERR_OVERLOADED ? "topic limit reached" : "rejected";
        SEND_ENVELOPE(s, strlen(reason), wsb_encode_reject, true, id, code, reason);
    } else {
        SEND_ENVELOPE(s, t->name_len, wsb_encode_confirm, id, topic_str(t), seq);
    }
    session_unref(s);
}

void session_on_publish_error(struct worker *w, uint64_t serial, bool has_id, uint64_t id,
                              enum wsb_err code)
{
    /* A rare path (a refused publish): a scan of the worker's connections. */
    for (struct conn *c = w->conns; c; c = c->next) {
        struct session *s = c->route == &pubsub_route ? c->app : NULL;
        if (s && s->serial == serial) {
            const char *text = code == WSB_ERR_OVERLOADED ? "topic limit reached" : "rejected";
            session_error(s, code, text, has_id, id, (struct ws_str){"pub", 3});
            return;
        }
    }
}

void session_on_attach(struct subscription *sub, struct topic *t, uint64_t head, uint64_t oldest)
{
    struct session *s = sub->session;
    if (sub->closing)
        return;
    if (t == NULL) {
        session_error(s, WSB_ERR_OVERLOADED, "topic limit reached", sub->has_id, sub->id,
                      (struct ws_str){"sub", 3});
        return;
    }
    if (delivery_create(session_router(s), sub, t, head) == NULL) {
        if (s->conn)
            conn_close(s->conn, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    SEND_ENVELOPE(s, sub->topic_len + t->name_len, wsb_encode_subscribed, sub->has_id, sub->id,
                  (struct ws_str){sub->topic, sub->topic_len}, topic_str(t), head, oldest);
}

void session_on_registered(struct subscription *sub)
{
    if (--sub->owners_registering > 0 || sub->closing)
        return;
    SEND_ENVELOPE(sub->session, sub->topic_len, wsb_encode_subscribed, sub->has_id, sub->id,
                  (struct ws_str){sub->topic, sub->topic_len}, (struct ws_str){NULL, 0}, 0, 0);
}

void session_on_unsubscribed(struct subscription *sub)
{
    if (--sub->owners_pending > 0)
        return;
    while (sub->deliveries)
        delivery_destroy(session_router(sub->session), sub->deliveries);
    subscription_free(sub);
}

void session_on_replay_frame(struct session *s, struct outbuf *frame)
{
    if (s->conn)
        conn_send(s->conn, outbuf_ref(frame));
}

void session_on_replay_gap(struct session *s, const struct topic *t, uint64_t from, uint64_t to)
{
    session_send_gap(s, t, from, to);
}

void session_on_replay_done(struct session *s, void *replay, uint64_t to, uint64_t count)
{
    struct replay_req *req = replay;
    SEND_ENVELOPE(s, req->topic_len, wsb_encode_replayed, req->has_id, req->id,
                  (struct ws_str){req->topic, req->topic_len}, req->from, to, count);
    free(req);
    session_unref(s);
}

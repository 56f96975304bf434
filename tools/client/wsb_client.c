/*
 * wsb_client.c - the client state machine (see wsb_client.h): session setup
 * (hello/welcome), WebSocket framing over the transport, envelope dispatch
 * to subscriptions, blocking request/answer waits, and reconnect + resume.
 *
 * Duplicates: a connection with several subscriptions matching one topic
 * receives each message once per subscription, and a `msg` does not say
 * which subscription it is for. So the client delivers each (topic, seq)
 * once, to every subscription whose topic or pattern matches, and drops any
 * later copy - including the copies a resume overlaps with (seq_table).
 *
 * Resume: an exact topic resumes from its last delivered seq (`from: S`
 * delivers seqs > S, docs/protocol.md 4.3). A pattern resumes from the
 * smallest last seq among the topics it has matched (the others' overlap is
 * dropped as duplicates); a topic first created while the client was away
 * is delivered from that point on, so its seqs at or below it are missed -
 * documented in docs/clients.md.
 */
#include "wsb_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "msgpack_reader.h"
#include "seq_table.h"
#include "topic.h"
#include "transport.h"
#include "ws_frame.h"
#include "ws_mask.h"

#define DEFAULT_TIMEOUT_MS       5000
#define DEFAULT_RECONNECT_MAX_MS 2000
#define RECONNECT_FIRST_MS       50
#define RX_CHUNK                 (64 * 1024)
#define FRAME_SLACK              1024 /* envelope bytes beyond max_envelope: the msg fields */
#define WS_CLOSE_NORMAL          1000

struct subscription {
    char *topic; /* owned */
    size_t topic_len;
    bool pattern;
    struct wsb_sub_options opt;
    wsb_message_fn fn;
    void *user;
    uint64_t id;   /* of the latest `sub` sent for it */
    bool has_from; /* what that `sub` asked for, for new topics' start */
    uint64_t from;
};

/* The one request a blocking call waits for. */
struct waiter {
    uint64_t id;
    bool pattern; /* a pattern `sub`: done at the `subscribed` without match */
    bool done;
    enum wsb_client_status st;
    uint64_t seq;
};

struct wsb_client {
    /* configuration, strings owned */
    char *url, *token, *name, *ca_file, *cert_file, *key_file;
    int timeout_ms, reconnect_max_ms, reconnect_give_up_ms;
    bool reconnect;
    wsb_notice_fn on_notice;
    void *notice_user;

    struct transport_target target;
    struct WOLFSSL_CTX *tls_ctx; /* shared by every reconnect; NULL for ws:// */
    struct transport tr;
    bool connected;
    uint64_t generation; /* bumped at every successful (re)connect */
    bool resuming;       /* inside reconnect: a loss there must not recurse */

    uint8_t *rx; /* received bytes not yet parsed into frames */
    size_t rx_len, rx_cap, rx_max;
    uint8_t *frag; /* a fragmented message being assembled */
    size_t frag_len, frag_cap;
    bool in_fragments;
    uint8_t *tx; /* one outgoing frame: header room, then the envelope */
    size_t tx_cap;

    char session[128];
    struct wsb_limits limits;
    bool welcomed;

    struct subscription *subs;
    size_t nsubs, subs_cap;
    struct seq_table seqs;
    uint64_t next_id;
    struct waiter wait;
    bool in_callback;
    bool closing; /* wsb_client_close: no more callbacks */
    uint64_t rng;

    struct wsb_client_stats stats;
    char err[512];
};

const char *wsb_client_status_name(enum wsb_client_status st)
{
    static const char *const names[] = {
        [WSB_CLIENT_OK] = "ok",
        [WSB_CLIENT_ERR_ARG] = "bad argument",
        [WSB_CLIENT_ERR_CONNECT] = "connect failed",
        [WSB_CLIENT_ERR_TLS] = "TLS failed",
        [WSB_CLIENT_ERR_TIMEOUT] = "timed out",
        [WSB_CLIENT_ERR_CLOSED] = "connection closed",
        [WSB_CLIENT_ERR_PROTOCOL] = "protocol error",
        [WSB_CLIENT_ERR_REJECTED] = "rejected by the broker",
        [WSB_CLIENT_ERR_NO_MEMORY] = "out of memory",
    };
    if ((unsigned)st >= sizeof names / sizeof names[0] || names[st] == NULL)
        return "unknown";
    return names[st];
}

static enum wsb_client_status fail(struct wsb_client *c, enum wsb_client_status st, const char *fmt,
                                   const char *arg)
{
    snprintf(c->err, sizeof c->err, fmt, arg);
    return st;
}

static void notify(struct wsb_client *c, const struct wsb_notice *n)
{
    if (c->on_notice == NULL)
        return;
    c->in_callback = true;
    c->on_notice(c->notice_user, n);
    c->in_callback = false;
}

static uint64_t deadline_after(int ms)
{
    return transport_now_ns() + (uint64_t)(ms < 0 ? 0 : ms) * 1000000ull;
}

/* ---- sending ------------------------------------------------------------ */

static void lose_connection(struct wsb_client *c, const char *why);

/* Sends one masked frame whose payload the caller wrote at c->tx +
 * WS_FRAME_MAX_HEADER. */
static enum wsb_client_status send_frame(struct wsb_client *c, uint8_t opcode, size_t len)
{
    if (!c->connected)
        return fail(c, WSB_CLIENT_ERR_CLOSED, "%s", "not connected");
    uint8_t *payload = c->tx + WS_FRAME_MAX_HEADER;
    uint64_t r = c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    uint8_t mask[4];
    memcpy(mask, &r, 4);
    size_t hlen = ws_frame_header_size(len, true);
    ws_frame_write_header(payload - hlen, len, opcode, true, mask);
    ws_unmask(payload, len, mask, 0);
    char why[256];
    enum wsb_client_status st = transport_send(&c->tr, payload - hlen, hlen + len,
                                               deadline_after(c->timeout_ms), why, sizeof why);
    if (st != WSB_CLIENT_OK) {
        lose_connection(c, why);
        return fail(c, st, "%s", why);
    }
    return WSB_CLIENT_OK;
}

static enum wsb_client_status send_request(struct wsb_client *c, const struct wsb_request *req)
{
    size_t n =
        wsb_request_encode(c->tx + WS_FRAME_MAX_HEADER, c->tx_cap - WS_FRAME_MAX_HEADER, req);
    if (n == 0)
        return fail(c, WSB_CLIENT_ERR_ARG, "%s", "the envelope is larger than the send buffer");
    if (c->welcomed && n > c->limits.max_envelope) {
        snprintf(c->err, sizeof c->err,
                 "the envelope (%zu bytes) exceeds the broker's "
                 "max_envelope (%llu bytes)",
                 n, (unsigned long long)c->limits.max_envelope);
        return WSB_CLIENT_ERR_ARG;
    }
    return send_frame(c, WS_OP_BINARY, n);
}

/* ---- receiving and dispatch --------------------------------------------- */

static void lose_connection(struct wsb_client *c, const char *why)
{
    if (!c->connected)
        return;
    transport_close(&c->tr);
    c->connected = false;
    c->rx_len = 0;
    c->in_fragments = false;
    c->frag_len = 0;
    snprintf(c->err, sizeof c->err, "%s", why);
    struct wsb_notice n = {.kind = WSB_NOTICE_DISCONNECTED, .text = why};
    notify(c, &n);
}

static struct subscription *sub_by_id(struct wsb_client *c, uint64_t id)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i].id == id)
            return &c->subs[i];
    return NULL;
}

/* Where delivery of a topic starts, given its subscribed.head (4.3). */
static uint64_t start_seq(const struct subscription *s, uint64_t head)
{
    if (s != NULL && s->has_from)
        return s->from < head ? s->from : head;
    if (s != NULL && s->opt.snapshot)
        return head > 0 ? head - 1 : 0;
    return head;
}

static void on_subscribed(struct wsb_client *c, const struct wsb_event *ev)
{
    struct subscription *s = ev->has_id ? sub_by_id(c, ev->id) : NULL;
    struct ws_str topic = ws_str_present(ev->match) ? ev->match : ev->topic;
    if (ws_str_present(ev->match)) {
        /* a new topic starts where the broker starts it; a known one keeps its
         * last seq, unless the application asked for another resume point */
        bool known = seq_table_find(&c->seqs, topic, false) != NULL;
        struct seq_entry *e = seq_table_find(&c->seqs, topic, true);
        if (e != NULL && (!known || (s != NULL && s->opt.has_from && !c->resuming)))
            e->last = start_seq(s, ev->head);
    }
    if (c->wait.id != 0 && ev->has_id && ev->id == c->wait.id &&
        (!c->wait.pattern || !ws_str_present(ev->match))) {
        c->wait.done = true;
        c->wait.st = WSB_CLIENT_OK;
    }
}

static void on_msg(struct wsb_client *c, const struct wsb_event *ev)
{
    if (c->closing)
        return;
    struct seq_entry *e = seq_table_find(&c->seqs, ev->topic, true);
    if (e == NULL)
        return; /* out of memory: the message cannot be tracked; drop it */
    if (ev->seq <= e->last) {
        c->stats.duplicates++;
        return;
    }
    e->last = ev->seq;
    struct wsb_message m = {
        .topic = e->topic,
        .topic_len = e->topic_len,
        .seq = ev->seq,
        .ts = ev->ts,
        .data = (const uint8_t *)ev->data.ptr,
        .data_len = ev->data.len,
        .redelivered = ev->redelivered,
    };
    c->in_callback = true;
    for (size_t i = 0; i < c->nsubs; i++) {
        struct subscription *s = &c->subs[i];
        if (!topic_matches((struct ws_str){s->topic, s->topic_len}, ev->topic))
            continue;
        c->stats.delivered++;
        s->fn(s->user, &m);
    }
    c->in_callback = false;
}

static void on_answer(struct wsb_client *c, uint64_t id, enum wsb_client_status st, uint64_t seq,
                      struct ws_str text, uint64_t code)
{
    if (c->wait.id == 0 || id != c->wait.id)
        return;
    c->wait.done = true;
    c->wait.st = st;
    c->wait.seq = seq;
    if (st != WSB_CLIENT_OK)
        snprintf(c->err, sizeof c->err, "refused by the broker: %.*s (code %llu, %s)",
                 (int)text.len, text.ptr ? text.ptr : "", (unsigned long long)code,
                 wsb_err_name((enum wsb_err)code));
}

static enum wsb_client_status on_envelope(struct wsb_client *c, const uint8_t *buf, size_t len)
{
    struct wsb_event ev;
    enum wsb_err err = wsb_event_decode(buf, len, &ev);
    if (err == WSB_ERR_UNKNOWN_OP)
        return WSB_CLIENT_OK; /* a later protocol version's op */
    if (err != WSB_OK)
        return fail(c, WSB_CLIENT_ERR_PROTOCOL, "unreadable envelope from the broker: %s",
                    wsb_err_name(err));
    switch (ev.kind) {
    case WSB_EV_WELCOME:
        snprintf(c->session, sizeof c->session, "%.*s", (int)ev.session.len, ev.session.ptr);
        c->limits = ev.limits;
        c->welcomed = true;
        break;
    case WSB_EV_SUBSCRIBED:
        on_subscribed(c, &ev);
        break;
    case WSB_EV_MSG:
        on_msg(c, &ev);
        break;
    case WSB_EV_CONFIRM:
        on_answer(c, ev.id, WSB_CLIENT_OK, ev.seq, ev.text, 0);
        break;
    case WSB_EV_REJECT:
        if (ev.has_id)
            on_answer(c, ev.id, WSB_CLIENT_ERR_REJECTED, 0, ev.text, ev.code);
        break;
    case WSB_EV_GAP: {
        char topic[WSB_TOPIC_MAX_BYTES + 1];
        snprintf(topic, sizeof topic, "%.*s", (int)ev.topic.len, ev.topic.ptr);
        c->stats.gaps++;
        struct wsb_notice n = {
            .kind = WSB_NOTICE_GAP, .topic = topic, .from = ev.from, .to = ev.to};
        notify(c, &n);
        break;
    }
    case WSB_EV_ERROR:
        if (ev.has_id && c->wait.id != 0 && ev.id == c->wait.id) {
            on_answer(c, ev.id, WSB_CLIENT_ERR_REJECTED, 0, ev.text, ev.code);
        } else {
            char text[512];
            snprintf(text, sizeof text, "%.*s", (int)ev.text.len, ev.text.ptr ? ev.text.ptr : "");
            struct wsb_notice n = {.kind = WSB_NOTICE_ERROR, .code = ev.code, .text = text};
            notify(c, &n);
        }
        break;
    case WSB_EV_PONG:
        if (ev.has_id)
            on_answer(c, ev.id, WSB_CLIENT_OK, 0, ev.text, 0);
        break;
    case WSB_EV_REPLAYED:
        break;
    }
    return WSB_CLIENT_OK;
}

static bool append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
    if (*len + n > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        while (ncap < *len + n)
            ncap *= 2;
        uint8_t *nb = realloc(*buf, ncap);
        if (nb == NULL)
            return false;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return true;
}

/* Handles one complete frame. Returns OK, or a status after which the
 * connection is gone (c->err says why). */
static enum wsb_client_status on_frame(struct wsb_client *c, const struct ws_frame *f)
{
    if (f->masked || f->rsv != 0)
        return fail(c, WSB_CLIENT_ERR_PROTOCOL, "%s", "the broker sent a masked or RSV frame");
    switch (f->opcode) {
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CONTINUATION:
        if ((f->opcode == WS_OP_CONTINUATION) != c->in_fragments)
            return fail(c, WSB_CLIENT_ERR_PROTOCOL, "%s", "the broker broke message fragmentation");
        if (f->fin && !c->in_fragments)
            return on_envelope(c, f->payload, f->payload_len);
        if (!append(&c->frag, &c->frag_len, &c->frag_cap, f->payload, f->payload_len))
            return fail(c, WSB_CLIENT_ERR_NO_MEMORY, "%s", "out of memory for a message");
        c->in_fragments = !f->fin;
        if (f->fin) {
            size_t n = c->frag_len;
            c->frag_len = 0;
            return on_envelope(c, c->frag, n);
        }
        return WSB_CLIENT_OK;
    case WS_OP_PING:
        memcpy(c->tx + WS_FRAME_MAX_HEADER, f->payload, f->payload_len);
        return send_frame(c, WS_OP_PONG, f->payload_len);
    case WS_OP_PONG:
        return WSB_CLIENT_OK;
    case WS_OP_CLOSE: {
        unsigned code = f->payload_len >= 2 ? (unsigned)(f->payload[0] << 8 | f->payload[1]) : 1005;
        char why[200];
        snprintf(why, sizeof why, "the broker closed the connection (%u%s%.*s)", code,
                 f->payload_len > 2 ? " " : "", (int)(f->payload_len > 2 ? f->payload_len - 2 : 0),
                 (const char *)f->payload + 2);
        uint8_t *p = c->tx + WS_FRAME_MAX_HEADER;
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        if (code != 1005)
            send_frame(c, WS_OP_CLOSE, 2);
        lose_connection(c, why);
        return WSB_CLIENT_ERR_CLOSED;
    }
    default:
        return fail(c, WSB_CLIENT_ERR_PROTOCOL, "%s", "the broker sent an unknown opcode");
    }
}

/* Parses and handles every complete frame in rx. */
static enum wsb_client_status drain_frames(struct wsb_client *c)
{
    size_t off = 0;
    enum wsb_client_status st = WSB_CLIENT_OK;
    while (c->connected && off < c->rx_len) {
        struct ws_frame f;
        ssize_t n = ws_frame_parse(c->rx + off, c->rx_len - off, &f);
        if (n == WS_FRAME_INCOMPLETE) {
            if (f.header_len != 0 && f.payload_len > c->rx_max)
                st = fail(c, WSB_CLIENT_ERR_PROTOCOL, "%s", "the broker sent an oversized frame");
            break;
        }
        if (n < 0) {
            st = fail(c, WSB_CLIENT_ERR_PROTOCOL, "%s", "the broker sent a malformed frame");
            break;
        }
        off += (size_t)n;
        st = on_frame(c, &f);
        if (st != WSB_CLIENT_OK)
            break;
    }
    if (!c->connected)
        return st == WSB_CLIENT_OK ? WSB_CLIENT_ERR_CLOSED : st;
    if (st != WSB_CLIENT_OK) {
        char why[sizeof c->err];
        snprintf(why, sizeof why, "%s", c->err);
        lose_connection(c, why);
        return st;
    }
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
    return WSB_CLIENT_OK;
}

/* One read (waiting until deadline) and its frames. OK also on a timeout:
 * *got says whether anything came. */
static enum wsb_client_status read_once(struct wsb_client *c, uint64_t deadline, bool *got)
{
    *got = false;
    if (c->rx_cap - c->rx_len < RX_CHUNK) {
        size_t ncap = c->rx_cap * 2;
        if (ncap > c->rx_max + RX_CHUNK * 2)
            ncap = c->rx_max + RX_CHUNK * 2;
        if (ncap <= c->rx_cap)
            return fail(c, WSB_CLIENT_ERR_PROTOCOL, "%s", "receive buffer full");
        uint8_t *nb = realloc(c->rx, ncap);
        if (nb == NULL)
            return fail(c, WSB_CLIENT_ERR_NO_MEMORY, "%s", "out of memory for the receive buffer");
        c->rx = nb;
        c->rx_cap = ncap;
    }
    char why[256];
    ssize_t n =
        transport_recv(&c->tr, c->rx + c->rx_len, c->rx_cap - c->rx_len, deadline, why, sizeof why);
    if (n < 0) {
        lose_connection(c, why);
        return WSB_CLIENT_ERR_CLOSED;
    }
    if (n == 0)
        return WSB_CLIENT_OK;
    *got = true;
    c->rx_len += (size_t)n;
    return drain_frames(c);
}

/* ---- sessions, reconnect, resume ---------------------------------------- */

static enum wsb_client_status reconnect(struct wsb_client *c);

/* Brings the connection back when it is gone (reconnect on). */
static enum wsb_client_status ensure_connected(struct wsb_client *c)
{
    if (c->connected)
        return WSB_CLIENT_OK;
    if (!c->reconnect || c->resuming)
        return WSB_CLIENT_ERR_CLOSED;
    return reconnect(c);
}

/* Reads until the waiter is done or the deadline passes. A connection lost
 * meanwhile is brought back when reconnect is on: *gen_changed then tells
 * the caller to re-send. */
static enum wsb_client_status wait_answer(struct wsb_client *c, uint64_t deadline)
{
    uint64_t gen = c->generation;
    while (!c->wait.done) {
        if (transport_now_ns() >= deadline)
            return fail(c, WSB_CLIENT_ERR_TIMEOUT, "%s", "no answer from the broker in time");
        bool got;
        enum wsb_client_status st =
            c->connected ? read_once(c, deadline, &got) : WSB_CLIENT_ERR_CLOSED;
        if (st == WSB_CLIENT_ERR_CLOSED || !c->connected) {
            st = ensure_connected(c);
            if (st != WSB_CLIENT_OK)
                return st;
        } else if (st != WSB_CLIENT_OK) {
            return st;
        }
        if (c->generation != gen)
            return WSB_CLIENT_ERR_CLOSED; /* reconnected: the caller re-sends */
    }
    return c->wait.st;
}

static void wait_for(struct wsb_client *c, uint64_t id, bool pattern)
{
    c->wait = (struct waiter){.id = id, .pattern = pattern};
}

/* Sends `sub` for s (from: resume point when it has one) and waits for it. */
static enum wsb_client_status send_sub(struct wsb_client *c, struct subscription *s, bool resume)
{
    s->id = ++c->next_id;
    s->has_from = s->opt.has_from;
    s->from = s->opt.from;
    if (resume) {
        uint64_t min = 0;
        if (s->pattern) {
            s->has_from = true;
            s->from =
                seq_table_min_matching(&c->seqs, (struct ws_str){s->topic, s->topic_len}, &min)
                    ? min
                    : (s->opt.has_from ? s->opt.from : 0);
        } else {
            struct seq_entry *e =
                seq_table_find(&c->seqs, (struct ws_str){s->topic, s->topic_len}, false);
            if (e != NULL) {
                s->has_from = true;
                s->from = e->last;
            }
        }
    }
    struct wsb_request req = {
        .op = WSB_OP_SUB,
        .has_id = true,
        .id = s->id,
        .topic = {s->topic, s->topic_len},
        .has_from = s->has_from,
        .from = s->from,
        .ack = s->opt.manual_ack ? WSB_ACK_MANUAL : WSB_ACK_NONE,
        .window = s->opt.window,
        .snapshot = s->opt.snapshot && !s->has_from,
        .policy = (enum wsb_policy)s->opt.policy,
    };
    wait_for(c, s->id, s->pattern);
    enum wsb_client_status st = send_request(c, &req);
    if (st == WSB_CLIENT_OK)
        st = wait_answer(c, deadline_after(c->timeout_ms));
    c->wait.id = 0;
    return st;
}

/* Connects, says hello (with the earlier session, if any), waits for welcome. */
static enum wsb_client_status open_session(struct wsb_client *c)
{
    char why[512];
    uint64_t deadline = deadline_after(c->timeout_ms);
    size_t extra = 0;
    enum wsb_client_status st = transport_open(&c->tr, &c->target, c->tls_ctx, c->token, deadline,
                                               c->rx, c->rx_cap, &extra, why, sizeof why);
    if (st != WSB_CLIENT_OK)
        return fail(c, st, "%s", why);
    c->connected = true;
    c->rx_len = extra;
    c->welcomed = false;
    struct wsb_request hello = {
        .op = WSB_OP_HELLO,
        .version = WSB_PROTOCOL_VERSION,
        .name = {c->name, c->name ? strlen(c->name) : 0},
        .token = {c->token, c->token ? strlen(c->token) : 0},
        .session = {c->session[0] ? c->session : NULL, strlen(c->session)},
    };
    st = send_request(c, &hello);
    while (st == WSB_CLIENT_OK && !c->welcomed) {
        bool got;
        if (transport_now_ns() >= deadline) {
            lose_connection(c, "no welcome from the broker in time");
            return fail(c, WSB_CLIENT_ERR_TIMEOUT, "%s", "no welcome from the broker in time");
        }
        st = read_once(c, deadline, &got);
    }
    if (st != WSB_CLIENT_OK)
        return st;
    size_t need = c->limits.max_envelope + WS_FRAME_MAX_HEADER;
    if (need > c->tx_cap) {
        uint8_t *nb = realloc(c->tx, need);
        if (nb == NULL)
            return fail(c, WSB_CLIENT_ERR_NO_MEMORY, "%s", "out of memory for the send buffer");
        c->tx = nb;
        c->tx_cap = need;
    }
    c->rx_max = c->limits.max_envelope + FRAME_SLACK + WS_FRAME_MAX_HEADER;
    c->generation++;
    return WSB_CLIENT_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static enum wsb_client_status reconnect(struct wsb_client *c)
{
    uint64_t started = transport_now_ns();
    int backoff = RECONNECT_FIRST_MS;
    c->resuming = true;
    for (;;) {
        enum wsb_client_status st = open_session(c);
        for (size_t i = 0; st == WSB_CLIENT_OK && i < c->nsubs; i++)
            st = send_sub(c, &c->subs[i], true);
        if (st == WSB_CLIENT_OK && c->connected) {
            c->resuming = false;
            c->stats.reconnects++;
            struct wsb_notice n = {.kind = WSB_NOTICE_RECONNECTED, .text = "reconnected"};
            notify(c, &n);
            return WSB_CLIENT_OK;
        }
        if (st == WSB_CLIENT_ERR_REJECTED || st == WSB_CLIENT_ERR_NO_MEMORY) {
            c->resuming = false;
            return st; /* a resubscription the broker refuses will not get better */
        }
        char why[sizeof c->err];
        snprintf(why, sizeof why, "%s", c->err);
        lose_connection(c, why);
        snprintf(c->err, sizeof c->err, "%s", why);
        if (c->reconnect_give_up_ms > 0 &&
            transport_now_ns() - started > (uint64_t)c->reconnect_give_up_ms * 1000000ull) {
            c->resuming = false;
            snprintf(c->err, sizeof c->err, "reconnect gave up: %.480s", why);
            return WSB_CLIENT_ERR_CLOSED;
        }
        sleep_ms(backoff);
        backoff = backoff * 2 > c->reconnect_max_ms ? c->reconnect_max_ms : backoff * 2;
    }
}

/* ---- public API ---------------------------------------------------------- */

static char *copy_str(const char *s, bool *oom)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = true;
    return d;
}

enum wsb_client_status wsb_client_connect(const struct wsb_client_config *cfg,
                                          struct wsb_client **out, char *why, size_t why_cap)
{
    char scratch[8];
    if (why == NULL) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    *out = NULL;
    struct wsb_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(why, why_cap, "out of memory");
        return WSB_CLIENT_ERR_NO_MEMORY;
    }
    c->tr.fd = -1;
    bool oom = false;
    c->url = copy_str(cfg->url, &oom);
    c->token = copy_str(cfg->token, &oom);
    c->name = copy_str(cfg->name, &oom);
    c->ca_file = copy_str(cfg->ca_file, &oom);
    c->cert_file = copy_str(cfg->cert_file, &oom);
    c->key_file = copy_str(cfg->key_file, &oom);
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->reconnect = cfg->reconnect;
    c->reconnect_max_ms =
        cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : DEFAULT_RECONNECT_MAX_MS;
    c->reconnect_give_up_ms = cfg->reconnect_give_up_ms;
    c->on_notice = cfg->on_notice;
    c->notice_user = cfg->notice_user;
    c->rng = transport_now_ns() ^ (uintptr_t)c;
    c->limits = (struct wsb_limits){WSB_DEFAULT_MAX_ENVELOPE, WSB_DEFAULT_MAX_TOPIC,
                                    WSB_DEFAULT_MAX_SUBSCRIPTIONS, WSB_DEFAULT_MAX_WINDOW};
    c->rx_max = WSB_DEFAULT_MAX_ENVELOPE + FRAME_SLACK + WS_FRAME_MAX_HEADER;
    c->rx_cap = RX_CHUNK * 2;
    c->rx = malloc(c->rx_cap);
    c->tx_cap = WSB_DEFAULT_MAX_ENVELOPE + WS_FRAME_MAX_HEADER;
    c->tx = malloc(c->tx_cap);
    enum wsb_client_status st = WSB_CLIENT_OK;
    if (oom || c->rx == NULL || c->tx == NULL) {
        st = fail(c, WSB_CLIENT_ERR_NO_MEMORY, "%s", "out of memory");
    } else if (c->name != NULL && strlen(c->name) > WSB_NAME_MAX_BYTES) {
        st = fail(c, WSB_CLIENT_ERR_ARG, "%s", "the client name is longer than 64 bytes");
    } else {
        st = transport_parse_url(&c->target, c->url, c->err, sizeof c->err);
    }
    if (st == WSB_CLIENT_OK && c->target.tls) {
        c->tls_ctx =
            transport_tls_ctx_new(c->ca_file, c->cert_file, c->key_file, c->err, sizeof c->err);
        if (c->tls_ctx == NULL)
            st = WSB_CLIENT_ERR_TLS;
    }
    if (st == WSB_CLIENT_OK)
        st = open_session(c);
    if (st != WSB_CLIENT_OK) {
        snprintf(why, why_cap, "%s", c->err);
        wsb_client_close(c);
        return st;
    }
    *out = c;
    return WSB_CLIENT_OK;
}

static enum wsb_client_status check_callable(struct wsb_client *c)
{
    if (c->in_callback)
        return fail(c, WSB_CLIENT_ERR_ARG, "%s", "a blocking call from inside a callback");
    return WSB_CLIENT_OK;
}

static enum wsb_client_status check_topic(struct wsb_client *c, const char *topic, bool pattern_ok)
{
    if (topic == NULL)
        return fail(c, WSB_CLIENT_ERR_ARG, "%s", "no topic given");
    enum topic_kind k = topic_classify((struct ws_str){topic, strlen(topic)});
    if (k == TOPIC_INVALID)
        return fail(c, WSB_CLIENT_ERR_ARG,
                    "bad topic '%s': tokens of printable ASCII separated by '.', at most "
                    "255 bytes (docs/protocol.md section 3)",
                    topic);
    if (k == TOPIC_PATTERN && !pattern_ok)
        return fail(c, WSB_CLIENT_ERR_ARG, "'%s' is a pattern; publishing needs a topic", topic);
    return WSB_CLIENT_OK;
}

enum wsb_client_status wsb_client_subscribe(struct wsb_client *c, const char *topic,
                                            const struct wsb_sub_options *opt,
                                            wsb_message_fn on_message, void *user)
{
    enum wsb_client_status st = check_callable(c);
    if (st == WSB_CLIENT_OK)
        st = check_topic(c, topic, true);
    if (st != WSB_CLIENT_OK)
        return st;
    if (on_message == NULL)
        return fail(c, WSB_CLIENT_ERR_ARG, "%s", "no message callback given");
    st = ensure_connected(c); /* before adding it: a reconnect resubscribes the list */
    if (st != WSB_CLIENT_OK)
        return st;
    if (c->nsubs == c->subs_cap) {
        size_t ncap = c->subs_cap ? c->subs_cap * 2 : 8;
        struct subscription *ns = realloc(c->subs, ncap * sizeof *ns);
        if (ns == NULL)
            return fail(c, WSB_CLIENT_ERR_NO_MEMORY, "%s", "out of memory");
        c->subs = ns;
        c->subs_cap = ncap;
    }
    struct subscription *s = &c->subs[c->nsubs];
    *s = (struct subscription){
        .topic = strdup(topic),
        .topic_len = strlen(topic),
        .pattern = topic_classify((struct ws_str){topic, strlen(topic)}) == TOPIC_PATTERN,
        .opt = opt ? *opt : (struct wsb_sub_options){0},
        .fn = on_message,
        .user = user,
    };
    if (s->topic == NULL)
        return fail(c, WSB_CLIENT_ERR_NO_MEMORY, "%s", "out of memory");
    c->nsubs++;
    uint64_t gen = c->generation;
    st = send_sub(c, s = &c->subs[c->nsubs - 1], false);
    if (st == WSB_CLIENT_ERR_CLOSED && c->connected && c->generation != gen)
        return WSB_CLIENT_OK; /* the reconnect's resume subscribed it */
    if (st != WSB_CLIENT_OK) {
        free(s->topic);
        c->nsubs--;
    }
    return st;
}

static enum wsb_client_status check_data(struct wsb_client *c, const uint8_t *data, size_t len)
{
    if (len == 0)
        return WSB_CLIENT_OK; /* published as nil */
    struct mp_cursor cur = mp_cursor_make(data, len);
    if (data == NULL || mp_skip(&cur, MP_MAX_DEPTH, NULL) != MP_OK || !mp_at_end(&cur))
        return fail(c, WSB_CLIENT_ERR_ARG, "%s", "the data is not exactly one msgpack value");
    return WSB_CLIENT_OK;
}

enum wsb_client_status wsb_client_publish(struct wsb_client *c, const char *topic,
                                          const uint8_t *data, size_t len)
{
    enum wsb_client_status st = check_topic(c, topic, false);
    if (st == WSB_CLIENT_OK)
        st = check_data(c, data, len);
    if (st == WSB_CLIENT_OK && !c->in_callback)
        st = ensure_connected(c);
    if (st != WSB_CLIENT_OK)
        return st;
    struct wsb_request req = {
        .op = WSB_OP_PUB,
        .topic = {topic, strlen(topic)},
        .data = {(const char *)data, len},
    };
    return send_request(c, &req);
}

enum wsb_client_status wsb_client_publish_confirm(struct wsb_client *c, const char *topic,
                                                  const uint8_t *data, size_t len, uint64_t *seq)
{
    enum wsb_client_status st = check_callable(c);
    if (st == WSB_CLIENT_OK)
        st = check_topic(c, topic, false);
    if (st == WSB_CLIENT_OK)
        st = check_data(c, data, len);
    if (st != WSB_CLIENT_OK)
        return st;
    struct wsb_request req = {
        .op = WSB_OP_PUB,
        .topic = {topic, strlen(topic)},
        .data = {(const char *)data, len},
        .has_id = true,
        .id = ++c->next_id,
        .confirm = true,
    };
    uint64_t deadline = deadline_after(c->timeout_ms);
    for (;;) {
        /* the same id under the same session after a reconnect: sequenced once (4.4) */
        st = ensure_connected(c);
        if (st != WSB_CLIENT_OK)
            break;
        wait_for(c, req.id, false);
        st = send_request(c, &req);
        if (st == WSB_CLIENT_OK)
            st = wait_answer(c, deadline);
        if (st != WSB_CLIENT_ERR_CLOSED || !c->reconnect || transport_now_ns() >= deadline)
            break;
    }
    if (st == WSB_CLIENT_OK && seq != NULL)
        *seq = c->wait.seq;
    c->wait.id = 0;
    return st;
}

enum wsb_client_status wsb_client_flush(struct wsb_client *c)
{
    enum wsb_client_status st = check_callable(c);
    if (st == WSB_CLIENT_OK)
        st = ensure_connected(c);
    if (st != WSB_CLIENT_OK)
        return st;
    struct wsb_request req = {.op = WSB_OP_PING, .has_id = true, .id = ++c->next_id};
    wait_for(c, req.id, false);
    st = send_request(c, &req);
    if (st == WSB_CLIENT_OK)
        st = wait_answer(c, deadline_after(c->timeout_ms));
    c->wait.id = 0;
    return st;
}

enum wsb_client_status wsb_client_ack(struct wsb_client *c, const char *topic, uint64_t seq)
{
    enum wsb_client_status st = check_topic(c, topic, false);
    if (st == WSB_CLIENT_OK && !c->in_callback)
        st = ensure_connected(c);
    if (st != WSB_CLIENT_OK)
        return st;
    struct wsb_request req = {.op = WSB_OP_ACK, .topic = {topic, strlen(topic)}, .seq = seq};
    return send_request(c, &req);
}

enum wsb_client_status wsb_client_poll(struct wsb_client *c, int timeout_ms)
{
    enum wsb_client_status st = check_callable(c);
    if (st != WSB_CLIENT_OK)
        return st;
    uint64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        st = ensure_connected(c);
        if (st != WSB_CLIENT_OK)
            return st;
        bool got;
        st = read_once(c, deadline, &got);
        if (st == WSB_CLIENT_ERR_CLOSED && c->reconnect)
            continue; /* reconnect and go on waiting */
        if (st != WSB_CLIENT_OK || got || transport_now_ns() >= deadline)
            return st;
    }
}

const char *wsb_client_last_error(const struct wsb_client *c)
{
    return c->err;
}

const char *wsb_client_session(const struct wsb_client *c)
{
    return c->session;
}

void wsb_client_stats(const struct wsb_client *c, struct wsb_client_stats *st)
{
    *st = c->stats;
}

void wsb_client_drop_connection(struct wsb_client *c)
{
    if (c->connected)
        transport_shutdown(&c->tr);
}

void wsb_client_close(struct wsb_client *c)
{
    if (c == NULL)
        return;
    if (c->connected && c->tx != NULL) {
        uint8_t *p = c->tx + WS_FRAME_MAX_HEADER;
        p[0] = WS_CLOSE_NORMAL >> 8;
        p[1] = WS_CLOSE_NORMAL & 0xff;
        if (send_frame(c, WS_OP_CLOSE, 2) == WSB_CLIENT_OK) {
            /* wait briefly for the broker's close so it sees a clean end */
            uint64_t deadline = deadline_after(200);
            bool got;
            c->on_notice = NULL;
            c->closing = true;
            while (c->connected && transport_now_ns() < deadline &&
                   read_once(c, deadline, &got) == WSB_CLIENT_OK)
                ;
        }
    }
    transport_close(&c->tr);
    transport_tls_ctx_free(c->tls_ctx);
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i].topic);
    free(c->subs);
    seq_table_free(&c->seqs);
    free(c->rx);
    free(c->frag);
    free(c->tx);
    free(c->url);
    free(c->token);
    free(c->name);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}

/*
 * router_harness.h - drives the real /v1 broker code (session, router,
 * delivery, topic logs, mailboxes) on one thread, without io_uring.
 *
 * A harness is a struct broker with 2 or 3 workers made by worker_init():
 * no thread and no ring (worker_start() is never called). A client is a conn
 * on one end of a socketpair, put straight into OPEN on the pubsub route.
 * Requests go in through pubsub_route.on_message(); what the broker sends is
 * never written to the socket (worker_flush() is never called), so frames
 * stay in conn->sendq until h_drain() copies them out and reports them sent
 * with conn_on_sent() - which releases them and runs on_writable, as a
 * completed sendmsg would. h_pump() stands in for the workers' loops: it
 * releases the sent frames, polls and flushes every router until no mailbox
 * holds anything.
 *
 * The configuration lives in the harness and the broker reads it through a
 * pointer, so a test may change limits after h_create(); retention rules
 * apply to topics created after the change.
 *
 * Expectations (EXPECT_*) take the client's next unread frame, draining the
 * send queue first, and fail at the caller's line.
 */
#ifndef WSB_ROUTER_HARNESS_H
#define WSB_ROUTER_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "envelope.h"
#include "mailbox.h"
#include "msg_template.h"
#include "router.h"
#include "session.h"
#include "worker.h"
#include "ws_frame.h"

#define H_MAX_WORKERS  3
#define H_MAX_CLIENTS  8
#define H_RING_ENTRIES 64 /* small, so the mailbox overflow paths run */
#define H_START_MS     1000000

/* One frame a client received, copied out of the send queue. */
struct h_frame {
    uint8_t opcode;
    size_t wire_len;  /* header + payload, as it was queued */
    uint8_t *payload; /* owned copy; ev's views point into it */
    size_t len;
    enum wsb_err decode; /* binary frames: wsb_event_decode's answer */
    struct wsb_event ev;
    uint16_t close_code; /* close frames */
    char close_reason[WS_CONTROL_MAX_PAYLOAD];
};

struct harness;

struct h_client {
    struct harness *h;
    struct conn *c;
    int peer_fd;
    unsigned worker;
    struct h_frame *frames;
    size_t count, cap;
    size_t seen; /* frames already taken by expectations */
    char session[17];
};

struct harness {
    struct broker_config cfg;
    struct broker broker;
    struct worker workers[H_MAX_WORKERS];
    unsigned nworkers;
    struct h_client clients[H_MAX_CLIENTS];
    unsigned nclients;
};

#define S(lit) ((struct ws_str){(lit), sizeof(lit) - 1})

static inline struct ws_str h_str(const char *s)
{
    return (struct ws_str){s, strlen(s)};
}

static inline void h_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static inline void h_fail(const char *file, int line, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    print_error("%s\n", text);
    _fail(file, line);
    abort(); /* not reached: _fail jumps back into cmocka */
}

/* --- set-up and tear-down ---------------------------------------------------- */

static inline struct harness *h_create(unsigned workers)
{
    assert_true(workers >= 1 && workers <= H_MAX_WORKERS);
    struct harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    config_init_defaults(&h->cfg);
    h->cfg.workers = workers;
    h->cfg.xring_entries = H_RING_ENTRIES;
    h->nworkers = workers;
    h->broker.cfg = &h->cfg;
    atomic_init(&h->broker.connections, 0);
    atomic_init(&h->broker.topics, 0);
    atomic_init(&h->broker.stopping, false);
    h->broker.workers = h->workers;
    assert_int_equal(mailboxes_init(&h->broker.mailboxes, workers, H_RING_ENTRIES), 0);
    static const int no_listeners[1] = {-1};
    for (unsigned i = 0; i < workers; i++) {
        assert_int_equal(worker_init(&h->workers[i], i, &h->broker, no_listeners, 0), 0);
        h->workers[i].now_ms = H_START_MS;
    }
    return h;
}

/* Polls and flushes every router until all mailboxes are empty. */
static inline void h_pump(struct harness *h)
{
    for (int round = 0; round < 100000; round++) {
        for (unsigned i = 0; i < h->nworkers; i++) {
            outbuf_release_flush(&h->workers[i].release_batch); /* as each loop pass does */
            router_poll(&h->workers[i].router);
            router_flush(&h->workers[i].router);
        }
        bool busy = false;
        for (unsigned i = 0; i < h->nworkers; i++)
            busy |= router_busy(&h->workers[i].router);
        if (!busy)
            return;
    }
    fail_msg("the routers never went quiet");
}

static inline void h_set_time(struct harness *h, uint64_t now_ms)
{
    for (unsigned i = 0; i < h->nworkers; i++)
        h->workers[i].now_ms = now_ms;
}

/* Closes every connection, lets the owners forget them, and frees it all:
 * leak-free only if the broker gave back every session, subscription,
 * delivery and outbuf. */
static inline void h_destroy(struct harness *h)
{
    for (unsigned i = 0; i < h->nclients; i++) {
        if (h->clients[i].c->state != CONN_DEAD)
            conn_abort(h->clients[i].c, NULL);
    }
    h_pump(h);
    for (unsigned i = 0; i < h->nclients; i++) {
        struct h_client *cl = &h->clients[i];
        assert_int_equal(cl->c->state, CONN_DEAD);
        assert_int_equal(cl->c->inflight, 0);
        assert_null(cl->c->app);
        conn_free(cl->c);
        close(cl->peer_fd);
        for (size_t f = 0; f < cl->count; f++)
            free(cl->frames[f].payload);
        free(cl->frames);
    }
    for (unsigned i = 0; i < h->nworkers; i++) {
        struct worker *w = &h->workers[i];
        assert_int_equal(w->router.local_count, 0); /* every delivery was destroyed */
        assert_int_equal(w->pool.allocated, 0);     /* every pooled outbuf came back */
        assert_null(w->conns);
    }
    assert_int_equal(atomic_load(&h->broker.connections), 0);
    for (unsigned i = 0; i < h->nworkers; i++)
        worker_destroy(&h->workers[i]);
    mailboxes_destroy(&h->broker.mailboxes);
    free(h);
}

/* cmocka fixtures: *state is the harness. */
static inline int h_setup2(void **state)
{
    *state = h_create(2);
    return 0;
}

static inline int h_setup3(void **state)
{
    *state = h_create(3);
    return 0;
}

static inline int h_teardown(void **state)
{
    h_destroy(*state);
    return 0;
}

/* --- clients ------------------------------------------------------------------- */

/* A connection on worker `worker`, upgraded to /v1 (hello not yet sent). */
static inline struct h_client *h_connect(struct harness *h, unsigned worker)
{
    assert_true(h->nclients < H_MAX_CLIENTS && worker < h->nworkers);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct h_client *cl = &h->clients[h->nclients++];
    memset(cl, 0, sizeof(*cl));
    cl->h = h;
    cl->worker = worker;
    cl->peer_fd = sv[1];
    atomic_fetch_add(&h->broker.connections, 1);
    cl->c = conn_create(&h->workers[worker], sv[0], NULL);
    assert_non_null(cl->c);
    cl->c->state = CONN_OPEN;
    cl->c->route = &pubsub_route;
    pubsub_route.on_open(cl->c);
    assert_non_null(cl->c->app);
    return cl;
}

static inline void h_send_raw(struct h_client *cl, uint8_t opcode, const uint8_t *buf, size_t len)
{
    pubsub_route.on_message(cl->c, opcode, buf, len);
}

/* Encodes req and hands it to the session as one binary message. */
static inline void h_send(struct h_client *cl, const struct wsb_request *req)
{
    size_t cap = 1024 + req->data.len + req->topic.len;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = wsb_request_encode(buf, cap, req);
    assert_true(len > 0);
    h_send_raw(cl, WS_OP_BINARY, buf, len);
    free(buf);
}

static inline void h_record(struct h_client *cl, const uint8_t *bytes, size_t len)
{
    size_t off = 0;
    while (off < len) {
        struct ws_frame f;
        ssize_t n = ws_frame_parse((uint8_t *)bytes + off, len - off, &f);
        if (n <= 0)
            fail_msg("the send queue holds a broken frame (%zd)", n);
        if (cl->count == cl->cap) {
            cl->cap = cl->cap ? cl->cap * 2 : 64;
            cl->frames = realloc(cl->frames, cl->cap * sizeof(*cl->frames));
            assert_non_null(cl->frames);
        }
        struct h_frame *fr = &cl->frames[cl->count++];
        memset(fr, 0, sizeof(*fr));
        fr->opcode = f.opcode;
        fr->wire_len = (size_t)n;
        fr->len = (size_t)f.payload_len;
        fr->payload = malloc(fr->len + 1);
        assert_non_null(fr->payload);
        memcpy(fr->payload, f.payload, fr->len);
        if (f.opcode == WS_OP_BINARY) {
            fr->decode = wsb_event_decode(fr->payload, fr->len, &fr->ev);
        } else if (f.opcode == WS_OP_CLOSE && fr->len >= 2) {
            fr->close_code = (uint16_t)(fr->payload[0] << 8 | fr->payload[1]);
            memcpy(fr->close_reason, fr->payload + 2, fr->len - 2);
        }
        off += (size_t)n;
    }
}

/* Takes up to max_entries whole send-queue entries as if the peer read them
 * (conn_on_sent, which may queue more through on_writable). */
static inline size_t h_read_entries(struct h_client *cl, size_t max_entries)
{
    struct send_queue *q = &cl->c->sendq;
    size_t before = cl->count;
    for (size_t i = 0; i < max_entries && q->count > 0; i++) {
        struct send_entry *e = &q->entries[q->head];
        size_t bytes = e->buf->len - e->offset;
        h_record(cl, e->buf->data + e->offset, bytes);
        conn_on_sent(cl->c, bytes);
    }
    return cl->count - before;
}

/* Reads everything queued, and what the broker queues in reaction. */
static inline size_t h_drain(struct h_client *cl)
{
    return h_read_entries(cl, SIZE_MAX);
}

/* --- describing and expecting frames ---------------------------------------------- */

static inline const char *h_kind_name(enum wsb_event_kind k)
{
    static const char *const names[] = {"?",      "welcome", "subscribed", "msg",   "confirm",
                                        "reject", "gap",     "replayed",   "error", "pong"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static inline void h_describe(const struct h_frame *f, char *out, size_t cap)
{
    const struct wsb_event *e = &f->ev;
    if (f->opcode == WS_OP_CLOSE) {
        snprintf(out, cap, "close %u '%s'", f->close_code, f->close_reason);
    } else if (f->opcode != WS_OP_BINARY) {
        snprintf(out, cap, "frame opcode %u", f->opcode);
    } else if (f->decode != WSB_OK) {
        snprintf(out, cap, "undecodable envelope (%s)", wsb_err_name(f->decode));
    } else {
        snprintf(out, cap,
                 "%s topic=%.*s match=%.*s seq=%llu re=%d head=%llu oldest=%llu from=%llu "
                 "to=%llu count=%llu code=%llu id=%s%llu text=%.*s",
                 h_kind_name(e->kind), (int)e->topic.len, e->topic.ptr ? e->topic.ptr : "",
                 (int)e->match.len, e->match.ptr ? e->match.ptr : "", (unsigned long long)e->seq,
                 e->redelivered, (unsigned long long)e->head, (unsigned long long)e->oldest,
                 (unsigned long long)e->from, (unsigned long long)e->to,
                 (unsigned long long)e->count, (unsigned long long)e->code, e->has_id ? "" : "-",
                 (unsigned long long)e->id, (int)e->text.len, e->text.ptr ? e->text.ptr : "");
    }
}

/* The client's next unread frame (draining first), or a failure. */
static inline const struct h_frame *h_next_frame(struct h_client *cl, const char *file, int line)
{
    h_drain(cl);
    if (cl->seen >= cl->count)
        h_fail(file, line, "client %u: expected another frame, got nothing", cl->c->fd);
    return &cl->frames[cl->seen++];
}

static inline const struct wsb_event *h_expect_event(struct h_client *cl, enum wsb_event_kind kind,
                                                     const char *file, int line)
{
    const struct h_frame *f = h_next_frame(cl, file, line);
    if (f->opcode != WS_OP_BINARY || f->decode != WSB_OK || f->ev.kind != kind) {
        char d[512];
        h_describe(f, d, sizeof(d));
        h_fail(file, line, "expected %s, got %s", h_kind_name(kind), d);
    }
    return &f->ev;
}

static inline const struct wsb_event *h_expect_msg(struct h_client *cl, const char *topic,
                                                   uint64_t seq, const char *file, int line)
{
    const struct wsb_event *e = h_expect_event(cl, WSB_EV_MSG, file, line);
    if (!ws_str_eq(e->topic, topic) || e->seq != seq)
        h_fail(file, line, "expected msg %s #%llu, got msg %.*s #%llu", topic,
               (unsigned long long)seq, (int)e->topic.len, e->topic.ptr,
               (unsigned long long)e->seq);
    return e;
}

static inline const struct wsb_event *h_expect_subscribed(struct h_client *cl, const char *topic,
                                                          const char *match, uint64_t head,
                                                          uint64_t oldest, const char *file,
                                                          int line)
{
    const struct wsb_event *e = h_expect_event(cl, WSB_EV_SUBSCRIBED, file, line);
    if (!ws_str_eq(e->topic, topic) || !ws_str_eq(e->match, match) || e->head != head ||
        e->oldest != oldest)
        h_fail(file, line,
               "expected subscribed %s match=%s head=%llu oldest=%llu, got %.*s match=%.*s "
               "head=%llu oldest=%llu",
               topic, match, (unsigned long long)head, (unsigned long long)oldest,
               (int)e->topic.len, e->topic.ptr, (int)e->match.len, e->match.ptr ? e->match.ptr : "",
               (unsigned long long)e->head, (unsigned long long)e->oldest);
    return e;
}

static inline void h_expect_gap(struct h_client *cl, const char *topic, uint64_t from, uint64_t to,
                                const char *file, int line)
{
    const struct wsb_event *e = h_expect_event(cl, WSB_EV_GAP, file, line);
    if (!ws_str_eq(e->topic, topic) || e->from != from || e->to != to)
        h_fail(file, line, "expected gap %s %llu..%llu, got gap %.*s %llu..%llu", topic,
               (unsigned long long)from, (unsigned long long)to, (int)e->topic.len, e->topic.ptr,
               (unsigned long long)e->from, (unsigned long long)e->to);
}

static inline const struct wsb_event *h_expect_error(struct h_client *cl, uint64_t code,
                                                     const char *file, int line)
{
    const struct wsb_event *e = h_expect_event(cl, WSB_EV_ERROR, file, line);
    if (e->code != code)
        h_fail(file, line, "expected error %llu, got error %llu '%.*s'", (unsigned long long)code,
               (unsigned long long)e->code, (int)e->text.len, e->text.ptr);
    return e;
}

static inline void h_expect_close(struct h_client *cl, uint16_t code, const char *reason,
                                  const char *file, int line)
{
    const struct h_frame *f = h_next_frame(cl, file, line);
    if (f->opcode != WS_OP_CLOSE || f->close_code != code || strcmp(f->close_reason, reason) != 0) {
        char d[512];
        h_describe(f, d, sizeof(d));
        h_fail(file, line, "expected close %u '%s', got %s", code, reason, d);
    }
}

static inline void h_expect_nothing(struct h_client *cl, const char *file, int line)
{
    h_drain(cl);
    if (cl->seen < cl->count) {
        char d[512];
        h_describe(&cl->frames[cl->seen], d, sizeof(d));
        h_fail(file, line, "expected nothing more, got %s (and %zu more)", d,
               cl->count - cl->seen - 1);
    }
}

#define EXPECT_EVENT(cl, kind)     h_expect_event((cl), (kind), __FILE__, __LINE__)
#define EXPECT_MSG(cl, topic, seq) h_expect_msg((cl), (topic), (seq), __FILE__, __LINE__)
#define EXPECT_SUBSCRIBED(cl, topic, match, head, oldest)                                          \
    h_expect_subscribed((cl), (topic), (match), (head), (oldest), __FILE__, __LINE__)
#define EXPECT_GAP(cl, topic, from, to)                                                            \
    h_expect_gap((cl), (topic), (from), (to), __FILE__, __LINE__)
#define EXPECT_ERROR(cl, code)         h_expect_error((cl), (code), __FILE__, __LINE__)
#define EXPECT_CLOSE(cl, code, reason) h_expect_close((cl), (code), (reason), __FILE__, __LINE__)
#define EXPECT_NOTHING(cl)             h_expect_nothing((cl), __FILE__, __LINE__)

/* --- requests ------------------------------------------------------------------- */

/* `data` values: a fixed-width msgpack uint64, so frames have one size. */
struct h_data {
    uint8_t bytes[9];
};

static inline struct ws_str h_data_u64(struct h_data *d, uint64_t v)
{
    d->bytes[0] = 0xcf;
    for (int i = 8; i >= 1; i--) {
        d->bytes[i] = (uint8_t)v;
        v >>= 8;
    }
    return (struct ws_str){(const char *)d->bytes, sizeof(d->bytes)};
}

/* The value a msg carries, as written by h_data_u64. */
static inline uint64_t h_msg_value(const struct wsb_event *e)
{
    assert_int_equal(e->data.len, 9);
    const uint8_t *p = (const uint8_t *)e->data.ptr;
    assert_int_equal(p[0], 0xcf);
    uint64_t v = 0;
    for (int i = 1; i <= 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The bytes one msg frame of topic with h_data_u64 data takes in a send queue. */
static inline size_t h_msg_wire_len(const char *topic)
{
    size_t envelope = wsb_msg_template_size(strlen(topic), 9);
    return envelope + ws_frame_header_size(envelope, false);
}

/* hello; expects welcome and remembers the session id. */
static inline void h_hello(struct h_client *cl)
{
    h_send(cl, &(struct wsb_request){.op = WSB_OP_HELLO, .version = 1});
    h_pump(cl->h);
    const struct wsb_event *e = h_expect_event(cl, WSB_EV_WELCOME, __FILE__, __LINE__);
    assert_int_equal(e->session.len, 16);
    memcpy(cl->session, e->session.ptr, 16);
    cl->session[16] = '\0';
}

/* A client on worker that has said hello. */
static inline struct h_client *h_client(struct harness *h, unsigned worker)
{
    struct h_client *cl = h_connect(h, worker);
    h_hello(cl);
    return cl;
}

static inline void h_pub(struct h_client *cl, const char *topic, uint64_t value)
{
    struct h_data d;
    h_send(cl, &(struct wsb_request){
                   .op = WSB_OP_PUB, .topic = h_str(topic), .data = h_data_u64(&d, value)});
}

static inline void h_pub_confirm(struct h_client *cl, const char *topic, uint64_t value,
                                 uint64_t id)
{
    struct h_data d;
    h_send(cl, &(struct wsb_request){.op = WSB_OP_PUB,
                                     .topic = h_str(topic),
                                     .data = h_data_u64(&d, value),
                                     .has_id = true,
                                     .id = id,
                                     .confirm = true});
}

/* Publishes values first..last to topic, one by one, and pumps. */
static inline void h_pub_range(struct h_client *cl, const char *topic, uint64_t first,
                               uint64_t last)
{
    for (uint64_t v = first; v <= last; v++)
        h_pub(cl, topic, v);
    h_pump(cl->h);
}

static inline void h_sub(struct h_client *cl, const char *topic)
{
    h_send(cl, &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(topic)});
}

static inline void h_ack(struct h_client *cl, const char *topic, uint64_t seq)
{
    h_send(cl, &(struct wsb_request){.op = WSB_OP_ACK, .topic = h_str(topic), .seq = seq});
}

/* A topic name prefix<n>suffix owned by worker `owner`, written to out. */
static inline const char *h_topic_owned(struct harness *h, unsigned owner, const char *prefix,
                                        const char *suffix, char *out, size_t cap)
{
    for (unsigned n = 0; n < 10000; n++) {
        snprintf(out, cap, "%s%u%s", prefix, n, suffix);
        if (router_owner_of(&h->workers[0].router, h_str(out)) == owner)
            return out;
    }
    fail_msg("no topic %s<n>%s is owned by worker %u", prefix, suffix, owner);
    return NULL;
}

#endif

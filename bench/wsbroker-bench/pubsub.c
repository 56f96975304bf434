/*
 * pubsub.c - wsbroker-bench's pub/sub scenarios on /v1 (fanout, fanin,
 * market, reliable, resume): fan-out throughput, end-to-end latency and
 * delivery checks. It grew out of bench/fanout_load.c.
 *
 *   wsbroker-bench fanout --url ws[s]://127.0.0.1:PORT/v1 --publishers P --subscribers S
 *               --topics T --size BYTES --rate MSGS_PER_S --duration S
 *               --warmup S [--ack none|manual] [--threads N] [--ca FILE] [--json] ...
 *
 * A wss:// URL runs every connection over TLS (wolfSSL's own I/O on a
 * non-blocking socket, readiness from the thread's io_uring: ring_loop.h);
 * --ca FILE verifies the broker against that CA, else its certificate is not
 * checked.
 *
 * Subscribers: S connections spread over N threads, each thread an io_uring
 * loop (ring_loop.h: multishot recv into provided buffers, ring sends) over
 * its share. Each sends hello and `sub` to topic i % T (ack none,
 * or manual: a cumulative ack every --ack-every messages or on an --ack-ms tick,
 * whichever comes first), and every `subscribed` must be in before anything
 * is published. Publishers: P connections on one more thread, publishing
 * round-robin over the T topics with confirm: true, so the number of
 * unconfirmed publishes per connection is bounded (--inflight).
 *
 * A publish's `data` is a msgpack bin of exactly --size bytes: its send time
 * (CLOCK_MONOTONIC ns, one clock for every thread of this process), the
 * publisher and its message number, then bytes of a fixed random pattern.
 * Subscribers decode every envelope, check the payload byte for byte, check
 * that each topic's seqs arrive strictly consecutively from `subscribed.head
 * + 1` (counting announced gaps, silent holes, duplicates, reorders and
 * retransmissions), and record receive time - send time in a log-linear
 * histogram per thread (bench/loadgen.h, the same as the echo scenario's). With --rate
 * (open loop) the send time is the time the publish was scheduled, not when
 * it went out, so a stalled broker is charged for the wait (no coordinated
 * omission); with --rate 0 (closed loop) it is the time it was written.
 *
 * Phases, each bounded: connect + handshake + hello/sub answered, ramp
 * (--ramp S with --rate: the open-loop rate rises linearly from 0 to --rate;
 * published and delivered, not counted: its latencies are excluded like the
 * warm-up's), warm-up (at the full rate; published and delivered, not counted), measurement, drain
 * (publishers stop; subscribers wait, at most --drain seconds, until they have seen every confirmed
 * seq), close (close 1000, wait for the broker's).
 *
 * Exit status: 0 for a clean run, 1 if any error or delivery fault (a silent
 * hole, duplicate, reorder, or delivery after a gap) was counted; announced
 * gaps (the slow-consumer policy allows them) and a tail still undelivered
 * when --drain ran out are reported but are not faults. 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "conn_io.h"
#include "loadgen.h"
#include "msg_template.h"
#include "mqtt_codec.h"
#include "nats_codec.h"
#include "scenario.h"
#include "series.h"
#include "zipf.h"
#include "ws_close.h"
#include "ws_frame.h"

/* Limits and defaults. */
#define DEFAULT_DURATION_S 10.0
#define DEFAULT_WARMUP_S   1.0
#define DEFAULT_DRAIN_S    5.0
#define DEFAULT_SIZE       64
#define DEFAULT_INFLIGHT   256 /* unconfirmed publishes per publisher */
#define DEFAULT_ACK_EVERY  64  /* manual acks: messages per cumulative ack */
#define DEFAULT_PREFIX     "fanout"
#define DEFAULT_ACK_MS     1 /* manual acks: the longest an ack waits */
#define MAX_ACK_MS         60000
#define DRAIN_CHECK_NS     NS_PER_MS /* how often the drain looks at progress */
#define LATE_SEND_NS       NS_PER_MS /* open loop: a send this late is counted */
#define MAX_DURATION_S     3600.0
#define MAX_DRAIN_S        600.0
#define MAX_SUBSCRIBERS    100000
#define MAX_PUBLISHERS     10000
#define MAX_TOPICS         100000
#define MAX_THREADS        256
#define MAX_INFLIGHT       65536
#define MAX_PREFIX         200
#define TOPIC_NAME_MAX     (MAX_PREFIX + 12) /* prefix, '.', index, NUL */
#define STAMP_BYTES        24                /* send time, publisher, message number, topic seq */
#define MIN_PAYLOAD        STAMP_BYTES
#define MAX_PAYLOAD        (1000u * 1000u) /* under the default max_envelope of 1 MiB */
#define MAX_BUFFER_BYTES   (1ull << 30)    /* all connections' buffers together */
#define JOIN_TIMEOUT_MS    10000 /* connect + handshake + welcome/subscribed, all of them */
#define CLOSE_TIMEOUT_MS   2000  /* wait for the broker's close reply */
#define REQUEST_ROOM       2048  /* the upgrade request */
#define ENVELOPE_ROOM      1024  /* hello, sub, ack: small envelopes */
#define SUB_OUT_BYTES      (REQUEST_ROOM + 4 * (ENVELOPE_ROOM + WS_FRAME_MAX_HEADER))
#define RECV_SLACK         32768       /* receive room beyond one whole frame */
#define PEER_RECV_ROOM     (64 * 1024) /* nats, mqtt: receive buffer (frames may be larger) */
#define CONTROL_ROOM       (2 * (WS_FRAME_MAX_HEADER + WS_CONTROL_MAX_PAYLOAD))
#define PATTERN_PERIOD     256   /* payload bytes start at pattern[msg % PERIOD] */
#define RING_BUFS_PER_CONN 4     /* the provided buffer ring: per connection of the thread, */
#define RING_BUFS_MIN      64    /* at least this many, */
#define RING_BUFS_MAX      4096  /* at most this many (a power of two), */
#define RING_BUF_BYTES     16384 /* of this size */
#define FD_SLACK           64    /* descriptors beyond one per connection */
#define TIMER_SLACK_NS     1ul
#define SEQ_WINDOW         4096 /* seqs behind the newest whose fate is remembered */
#define SEQ_WORDS          (SEQ_WINDOW / 64)
#define MAX_BIN_HEADER     5

enum err_kind {
    ERR_CONNECT,   /* TCP connect failed or timed out */
    ERR_HANDSHAKE, /* no valid 101 */
    ERR_JOIN,      /* no welcome / subscribed in time */
    ERR_PROTOCOL,  /* bad frame or envelope, unexpected op */
    ERR_CLOSED,    /* the broker closed or dropped the connection */
    ERR_BROKER,    /* an error or reject envelope */
    ERR_PAYLOAD,   /* a msg whose topic or data is not what was published */
    ERR_SEQUENCE,  /* confirms or gaps that contradict each other */
    ERR_KINDS
};
static const char *const err_names[ERR_KINDS] = {"connect", "handshake", "join",    "protocol",
                                                 "closed",  "broker",    "payload", "sequence"};

/* Whose protocol the run speaks (--adapter). Only wsbroker sequences and
 * confirms; for the others the publisher stamps each message with its
 * topic's next seq, so one publisher connection is allowed (seqs from two
 * connections could legitimately interleave out of order). */
enum adapter { ADAPTER_WSBROKER, ADAPTER_NATS, ADAPTER_MQTT, ADAPTER_RAW, ADAPTER_KINDS };
static const char *const adapter_names[ADAPTER_KINDS] = {"wsbroker", "nats", "mqtt", "raw"};

struct config {
    const char *url;
    enum adapter adapter;
    uint32_t publishers;
    uint32_t subscribers;
    uint32_t topics;
    uint32_t threads; /* subscriber threads; publishers get one more */
    size_t size;
    double rate; /* total publishes per second; 0: closed loop */
    double duration_s;
    double warmup_s;
    double ramp_s; /* open loop: seconds from 0 to --rate, before the warm-up */
    double drain_s;
    bool ack_manual;
    uint32_t ack_every;
    uint32_t ack_ms; /* manual acks: what is unacked goes out at this tick */
    uint32_t window; /* sub.window; 0: the broker's default */
    uint32_t inflight;
    const char *prefix;
    bool json;
    const char *ca;           /* --ca: CA file for wss:// */
    double zipf;              /* market data: Zipf exponent of symbol popularity; 0: round-robin */
    uint32_t symbols_per_sub; /* subscriptions per subscriber connection (distinct topics) */
    bool resume;              /* resume storm halfway through the measurement */
    const char *csv;          /* --csv FILE: time series */
    bool progress;            /* progress lines on stderr every second */
};

struct topic_name {
    char text[TOPIC_NAME_MAX];
    size_t len;
};

/* What the whole run shares. Written by main before the threads start or
 * between the two barrier waits, read-only for the threads after that -
 * except final_seq, written by the publisher thread before it sets
 * publish_done (release), read by subscribers after they see it (acquire). */
struct run {
    struct config cfg;
    struct target target;
    WOLFSSL_CTX *tls; /* wss:// only */
    struct topic_name *topics;
    uint8_t *pattern; /* size + PATTERN_PERIOD random bytes */
    uint8_t bin_header[MAX_BIN_HEADER];
    size_t bin_header_len; /* the msgpack bin header of a --size value */
    pthread_barrier_t barrier;
    bool abort;
    uint64_t t_start;    /* first publish */
    uint64_t ramp_ns;    /* --ramp: the rate rises from 0 over [t_start, t_start + ramp_ns) */
    uint64_t t_measure;  /* end of ramp + warm-up */
    uint64_t t_end;      /* end of measurement: publishing stops */
    uint64_t t_drain;    /* the latest a subscriber waits for the tail */
    uint64_t *final_seq; /* per topic: the highest confirmed seq, 0 if none */
    atomic_bool publish_done;
    atomic_uint workers_done;
    struct zipf zipf;          /* --zipf: symbol choices */
    uint64_t t_resume;         /* --resume: when the subscribers drop and reconnect */
    struct series_clock clock; /* --csv: interval of each sample */
};

enum role { ROLE_SUBSCRIBER, ROLE_PUBLISHER };

enum conn_state {
    CONN_CONNECTING,
    CONN_HANDSHAKING,
    CONN_JOINING, /* hello (and sub) sent, answers pending */
    CONN_READY,
    CONN_CLOSING,
    CONN_DONE
};

/* One connection's transport; owned by one worker, buffers allocated once. */
struct conn {
    struct conn_io io; /* socket, TLS, output and input buffers */
    enum conn_state state;
    bool welcomed;
    uint32_t subs_pending; /* subscriber: subscriptions not yet answered while joining */
    uint32_t index;        /* position within the worker's connections */
    uint8_t *stream; /* nats, mqtt: message payloads not yet parsed; their packets span frames */
    size_t stream_len;
    uint64_t stream_frame_left; /* nats, mqtt: payload bytes of a frame still to come */
    char key[HANDSHAKE_KEY_LEN + 1];
};

/*
 * A subscriber's view of its topic's sequence. next is one past the newest
 * seq accounted for (delivered, or announced lost by a gap); for the
 * SEQ_WINDOW seqs below next, two bitmaps (indexed seq % SEQ_WINDOW) say
 * which were delivered and which announced. A seq below next in neither is a
 * silent hole, counted in `missing` until a late delivery or a gap fills it.
 */
struct subscription {
    uint32_t topic;
    uint32_t conn; /* index of its connection within the worker */
    bool subscribed;
    bool ack_listed; /* on the worker's ack list */
    uint64_t start;  /* subscribed.head + 1: the first seq due */
    uint64_t next;
    uint64_t delivered[SEQ_WORDS];
    uint64_t announced[SEQ_WORDS];
    uint64_t ack_to;      /* manual: the newest seq delivered */
    uint64_t acked;       /* manual: the seq of the last ack sent */
    uint32_t unacked;     /* manual: deliveries since that ack */
    uint64_t received;    /* first deliveries, whole run */
    bool resuming;        /* --resume: reconnected, backfill not yet complete */
    uint64_t resume_head; /* subscribed.head on resubscribing: the backfill ends there */
};

struct publisher {
    uint64_t sent; /* publishes written; the next one's id is sent + 1 */
    uint32_t unconfirmed;
};

/* What a worker counts; summed over workers at the end. */
struct counters {
    uint64_t delivered;     /* first deliveries received in the measurement window */
    uint64_t delivered_all; /* first deliveries, warm-up and drain included */
    uint64_t gap_envelopes; /* `gap` envelopes */
    uint64_t gap_msgs;      /* seqs they named */
    uint64_t missing;       /* seqs skipped with no gap naming them (holes left at the end) */
    uint64_t duplicates;    /* a seq delivered again without re: true */
    uint64_t reorders;      /* a seq delivered after a later one */
    uint64_t redelivered;   /* msgs with re: true */
    uint64_t after_gap;     /* a seq delivered after a gap had named it */
    uint64_t undelivered;   /* confirmed seqs not yet seen when the drain ended */
    uint64_t acks;          /* ack envelopes sent */
    uint64_t published;     /* publishes due in the measurement window and sent */
    uint64_t published_all; /* publishes sent */
    uint64_t confirmed;     /* confirms received */
    uint64_t late_sends;    /* open loop: publishes sent over LATE_SEND_NS after due */
    uint64_t clean_closes;
    uint64_t resumes; /* --resume: subscriptions dropped and resubscribed */
};

struct worker {
    pthread_t tid;
    struct run *run;
    enum role role;
    uint32_t id;
    struct ring_loop loop;
    struct conn *conns;
    uint32_t nconns;
    uint32_t base;   /* run-wide number of conns[0], for messages */
    uint32_t open;   /* connections not yet CONN_DONE */
    uint32_t joined; /* connections that reached CONN_READY */
    struct subscription *subs;
    uint32_t *sub_topic; /* subs[i].topic, packed: conn_sub_named scans these */
    struct publisher *pubs;
    uint64_t *final_seq;       /* publisher: per topic, the highest confirmed seq */
    uint64_t *confirmed_count; /* publisher: per topic, confirms received */
    uint32_t *ack_list;        /* manual acks: subscriptions waiting for the tick */
    uint32_t ack_count;
    uint64_t next_ack_tick;
    uint64_t rng;
    uint8_t *scratch; /* one envelope being encoded */
    size_t scratch_cap;
    uint8_t *data; /* publisher: one data value (bin header + payload) */
    double slot_ns;
    uint64_t next_slot;
    struct hist hist;
    struct hist resume_hist; /* --resume: reconnect start to backfill complete */
    uint64_t resume_start;
    bool resumed;
    struct series series;            /* --csv: per-interval samples; owned */
    _Atomic uint64_t progress_count; /* deliveries or publishes so far, for the progress line */
    struct counters n;
    uint64_t cpu_ns, wall_ns; /* over the load phase (warm-up to end of drain) */
    uint64_t errors[ERR_KINDS];
    char first_error[256];
    char first_gap[160]; /* the first gap envelope, for reproducers */
};

static struct run g_run;

/* Subscriber connection c's subscriptions: symbols_per_sub of them, each on a
 * different topic, from w->subs[c->index * symbols_per_sub] on. */
static struct subscription *conn_subs(const struct worker *w, const struct conn *c)
{
    return &w->subs[(size_t)c->index * w->run->cfg.symbols_per_sub];
}

/* Whether n bytes at a and b are the same: word by word (the last word
 * overlapping), where memcmp is a call per delivered message for the bin
 * header, the topic name and the 40-byte payload pattern. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    if (n < 8) {
        uint8_t diff = 0;
        for (size_t i = 0; i < n; i++)
            diff |= p[i] ^ q[i];
        return diff == 0;
    }
    uint64_t x, y, diff = 0;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, p + i, 8);
        memcpy(&y, q + i, 8);
        diff |= x ^ y;
    }
    memcpy(&x, p + n - 8, 8);
    memcpy(&y, q + n - 8, 8);
    return (diff | (x ^ y)) == 0;
}

/* The subscription of c on the topic named `name`, or NULL. */
static struct subscription *conn_sub_named(const struct worker *w, const struct conn *c,
                                           struct ws_str name)
{
    /* Topic i is named "prefix.i": the number names the only candidate,
     * whose full name must then match. The topic numbers of c's
     * subscriptions sit together in sub_topic: a subscription is kilobytes
     * (its seq bitmaps), and comparing names per subscription was a
     * mispredicted branch and a cache miss each. */
    uint32_t n = 0, scale = 1;
    size_t i = name.len;
    while (i > 0 && name.ptr[i - 1] >= '0' && name.ptr[i - 1] <= '9' && name.len - i < 9) {
        n += (uint32_t)(name.ptr[i - 1] - '0') * scale;
        scale *= 10;
        i--;
    }
    if (i == name.len || n >= w->run->cfg.topics)
        return NULL;
    const struct topic_name *t = &w->run->topics[n];
    if (name.len != t->len || !same_bytes(name.ptr, t->text, t->len))
        return NULL;
    size_t first = (size_t)c->index * w->run->cfg.symbols_per_sub;
    const uint32_t *topic = &w->sub_topic[first];
    for (uint32_t j = 0; j < w->run->cfg.symbols_per_sub; j++) {
        if (topic[j] == n)
            return &w->subs[first + j];
    }
    return NULL;
}

/* All subscriptions of the worker: nconns * symbols_per_sub. */
static uint32_t worker_sub_count(const struct worker *w)
{
    return w->role == ROLE_SUBSCRIBER ? w->nconns * w->run->cfg.symbols_per_sub : 0;
}

/* ---- errors and connection plumbing ----------------------------------- */

static void note_error(struct worker *w, const struct conn *c, enum err_kind kind, const char *fmt,
                       va_list ap)
{
    w->errors[kind]++;
    if (w->first_error[0] != '\0')
        return;
    int n = snprintf(w->first_error, sizeof w->first_error, "%s error on %s %u: ", err_names[kind],
                     w->role == ROLE_PUBLISHER ? "publisher" : "subscriber", w->base + c->index);
    if (n > 0 && (size_t)n < sizeof w->first_error)
        vsnprintf(w->first_error + n, sizeof w->first_error - (size_t)n, fmt, ap);
}

/* Counts an error and goes on with the connection. */
__attribute__((format(printf, 4, 5))) static void
conn_error(struct worker *w, const struct conn *c, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_error(w, c, kind, fmt, ap);
    va_end(ap);
}

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->state == CONN_DONE)
        return;
    conn_io_close(&w->loop, &c->io);
    c->state = CONN_DONE;
    w->open--;
}

/* Counts an error and drops the connection. */
__attribute__((format(printf, 4, 5))) static void
conn_fail(struct worker *w, struct conn *c, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_error(w, c, kind, fmt, ap);
    va_end(ap);
    conn_close(w, c);
}

static void conn_on_send_error(struct worker *w, struct conn *c, int err)
{
    if (c->state == CONN_CLOSING)
        conn_close(w, c);
    else
        conn_fail(w, c, c->state == CONN_HANDSHAKING ? ERR_HANDSHAKE : ERR_CLOSED, "send: %s",
                  strerror(err));
}

static const struct conn_io_ops conn_ops; /* the transport's calls, defined with worker_poll */

static void conn_flush(struct worker *w, struct conn *c)
{
    conn_io_flush(&w->loop, &c->io, &conn_ops, w);
}

/* Queues one masked frame; false when the output buffer has no room. */
static bool conn_queue_frame(struct worker *w, struct conn *c, uint8_t opcode,
                             const uint8_t *payload, size_t len)
{
    uint8_t *dst = conn_io_reserve(&c->io, WS_FRAME_MAX_HEADER + len);
    if (dst == NULL)
        return false;
    uint32_t mask = (uint32_t)rng_next(&w->rng);
    c->io.out_len += ws_frame_encode_client(dst, c->io.out_cap - c->io.out_len, payload, len,
                                            opcode, true, (const uint8_t *)&mask);
    return true;
}

/* Encodes a request into the worker's scratch and queues it as one binary
 * message; false when the output buffer has no room. */
static bool conn_queue_request(struct worker *w, struct conn *c, const struct wsb_request *req)
{
    size_t n = wsb_request_encode(w->scratch, w->scratch_cap, req);
    return n > 0 && conn_queue_frame(w, c, WS_OP_BINARY, w->scratch, n);
}

static void conn_queue_close(struct worker *w, struct conn *c)
{
    uint8_t code[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
    conn_queue_frame(w, c, WS_OP_CLOSE, code, sizeof code);
    c->state = CONN_CLOSING;
}

/* ---- connect, handshake, join ----------------------------------------- */

static void conn_start_connect(struct worker *w, struct conn *c)
{
    const struct target *t = &w->run->target;
    c->state = CONN_CONNECTING;
    w->open++;
    int rc = conn_io_connect(&w->loop, &c->io, t, w->run->tls != NULL);
    if (rc < 0) {
        conn_fail(w, c, ERR_CONNECT, "connect: %s", strerror(-rc));
        return;
    }
    if (w->run->tls != NULL) {
        c->io.ssl = tls_conn_new(w->run->tls, c->io.sock.fd, t, w->run->cfg.ca != NULL);
        if (c->io.ssl == NULL)
            conn_fail(w, c, ERR_CONNECT, "cannot set up a TLS session");
    }
}

/* ws://: the ring's connect completed with res; wss://: the socket is ready
 * (res 0; its error is in SO_ERROR). */
static void conn_finish_connect(struct worker *w, struct conn *c, int res)
{
    int err = -res;
    socklen_t len = sizeof err;
    if (c->io.ssl != NULL && getsockopt(c->io.sock.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        conn_fail(w, c, ERR_CONNECT, "connect: %s", strerror(err));
        return;
    }
    if (c->io.ssl != NULL) { /* TLS first, still CONN_CONNECTING; every event comes back here */
        char why[160];
        switch (tls_connect_step(c->io.ssl, why, sizeof why)) {
        case TLS_STEP_WANT_READ:
            conn_io_want_write(&w->loop, &c->io, false);
            return;
        case TLS_STEP_WANT_WRITE:
            conn_io_want_write(&w->loop, &c->io, true);
            return;
        case TLS_STEP_FAILED:
            conn_fail(w, c, ERR_HANDSHAKE, "%s", why);
            return;
        case TLS_STEP_DONE:
            break;
        }
    }
    conn_io_connected(&w->loop, &c->io);
    c->io.out_off = 0;
    static const char *const subprotocols[ADAPTER_KINDS] = {
        [ADAPTER_WSBROKER] = WSB_SUBPROTOCOL, [ADAPTER_MQTT] = MQTT_SUBPROTOCOL};
    uint8_t raw[HANDSHAKE_KEY_BYTES];
    rng_fill(&w->rng, raw, sizeof raw);
    const struct target *t = &w->run->target;
    struct handshake_request req = {.host = t->host,
                                    .port = t->port,
                                    .path = t->path,
                                    .subprotocol = subprotocols[w->run->cfg.adapter]};
    c->io.out_len = handshake_write_request((char *)c->io.out, c->io.out_cap, &req, raw, c->key);
    c->state = CONN_HANDSHAKING;
    conn_flush(w, c);
}

/* After the 101: hello, and for a subscriber its sub right behind it (the
 * protocol allows pipelining; the broker answers in order). */
static void conn_ready(struct worker *w, struct conn *c)
{
    c->state = CONN_READY;
    w->joined++;
}

static bool conn_queue_bytes(struct worker *w, struct conn *c, const void *bytes, size_t len)
{
    return len > 0 && conn_queue_frame(w, c, WS_OP_BINARY, bytes, len);
}

/* A peer broker's join: NATS CONNECT (+ SUB) + PING, answered by PONG; MQTT
 * CONNECT (+ SUBSCRIBE), answered by CONNACK (+ SUBACK); raw: nothing to say,
 * ready at once. */
static void conn_join_peer(struct worker *w, struct conn *c)
{
    const struct run *run = w->run;
    bool sub = w->role == ROLE_SUBSCRIBER;
    uint32_t k = sub ? run->cfg.symbols_per_sub : 0;
    const struct subscription *subs = sub ? conn_subs(w, c) : NULL;
    char *text = (char *)w->scratch;
    uint8_t *bin = w->scratch;
    size_t cap = w->scratch_cap, n = 0;
    bool ok = true;
    c->state = CONN_JOINING;
    switch (run->cfg.adapter) {
    case ADAPTER_NATS: /* one PONG answers CONNECT and every SUB before it */
        n = nats_write_connect(text, cap);
        ok = conn_queue_bytes(w, c, text, n);
        for (uint32_t j = 0; ok && j < k; j++) {
            const struct topic_name *t = &run->topics[subs[j].topic];
            n = nats_write_sub(text, cap, t->text, t->len, c->index * k + j + 1);
            ok = conn_queue_bytes(w, c, text, n);
        }
        ok = ok && conn_queue_bytes(w, c, text, nats_write_ping(text, cap));
        break;
    case ADAPTER_MQTT: {
        char id[48];
        int idlen = snprintf(id, sizeof id, "wsb-%c%u-%u-%08x", sub ? 's' : 'p', w->id, c->index,
                             (unsigned)rng_next(&w->rng));
        n = mqtt_write_connect(bin, cap, id, (size_t)idlen);
        ok = conn_queue_bytes(w, c, bin, n);
        c->subs_pending = k; /* one SUBACK each */
        for (uint32_t j = 0; ok && j < k; j++) {
            const struct topic_name *t = &run->topics[subs[j].topic];
            n = mqtt_write_subscribe(bin, cap, (uint16_t)(j + 1), t->text, t->len);
            ok = conn_queue_bytes(w, c, bin, n);
        }
        break;
    }
    default: /* raw: one topic, one subscription */
        if (sub) {
            struct subscription *s = conn_subs(w, c);
            s->subscribed = true;
            s->start = s->next = 1;
        }
        conn_ready(w, c);
        break;
    }
    if (!ok)
        conn_fail(w, c, ERR_JOIN, "cannot encode the %s join", adapter_names[run->cfg.adapter]);
}

static void conn_join(struct worker *w, struct conn *c)
{
    if (w->run->cfg.adapter != ADAPTER_WSBROKER) {
        conn_join_peer(w, c);
        return;
    }
    const struct config *cfg = &w->run->cfg;
    struct wsb_request hello = {.op = WSB_OP_HELLO, .version = WSB_PROTOCOL_VERSION};
    bool ok = conn_queue_request(w, c, &hello);
    if (w->role == ROLE_SUBSCRIBER) {
        const struct subscription *subs = conn_subs(w, c);
        c->subs_pending = cfg->symbols_per_sub; /* one `subscribed` each */
        for (uint32_t j = 0; j < cfg->symbols_per_sub; j++) {
            const struct subscription *s = &subs[j];
            const struct topic_name *t = &w->run->topics[s->topic];
            struct wsb_request sub = {
                .op = WSB_OP_SUB,
                .topic = {t->text, t->len},
                .ack = cfg->ack_manual ? WSB_ACK_MANUAL : WSB_ACK_NONE,
                .window = cfg->window,
            };
            if (s->resuming) { /* exactly the seqs after the last one accounted for */
                sub.has_from = true;
                sub.from = s->next - 1;
            }
            ok = ok && conn_queue_request(w, c, &sub);
        }
    }
    if (!ok) {
        conn_fail(w, c, ERR_JOIN, "cannot encode hello/sub");
        return;
    }
    c->state = CONN_JOINING;
}

/* The 101 response at the start of bytes: its length once it is all here. */
static size_t conn_read_handshake(struct worker *w, struct conn *c, uint8_t *bytes, size_t len)
{
    struct handshake_response answer;
    enum handshake_answer a = handshake_read_response((const char *)bytes, len, c->key, &answer);
    if (a != HANDSHAKE_ACCEPTED) {
        if (a != HANDSHAKE_INCOMPLETE)
            conn_fail(w, c, ERR_HANDSHAKE, "%s", answer.error);
        return 0;
    }
    size_t head_len = answer.head_len;
    conn_join(w, c);
    return head_len;
}

/* ---- payload stamps --------------------------------------------------- */

/* The msgpack bin header for a value of `size` bytes. */
static size_t bin_header(uint8_t out[MAX_BIN_HEADER], size_t size)
{
    if (size <= UINT8_MAX) {
        out[0] = 0xc4;
        out[1] = (uint8_t)size;
        return 2;
    }
    if (size <= UINT16_MAX) {
        out[0] = 0xc5;
        out[1] = (uint8_t)(size >> 8);
        out[2] = (uint8_t)size;
        return 3;
    }
    out[0] = 0xc6;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(size >> (24 - 8 * i));
    return 5;
}

struct stamp {
    uint64_t sent_ns; /* CLOCK_MONOTONIC: when due (open loop) or written */
    uint32_t publisher;
    uint32_t number; /* the publisher's message number, low 32 bits */
    uint64_t seq;    /* peers (--adapter other than wsbroker): the topic's seq; else 0 */
};

static const uint8_t *pattern_at(const struct run *run, uint32_t number)
{
    return run->pattern + number % PATTERN_PERIOD;
}

/* Writes the data value of one publish into w->data; returns its length. */
static size_t data_write(struct worker *w, const struct stamp *s)
{
    const struct run *run = w->run;
    uint8_t *p = w->data + run->bin_header_len; /* the header was written at setup */
    memcpy(p, &s->sent_ns, 8);
    memcpy(p + 8, &s->publisher, 4);
    memcpy(p + 12, &s->number, 4);
    memcpy(p + 16, &s->seq, 8);
    memcpy(p + STAMP_BYTES, pattern_at(run, s->number), run->cfg.size - STAMP_BYTES);
    return run->bin_header_len + run->cfg.size;
}

/* Reads a msg's data value back; false when it is not exactly what some
 * publisher of this run sent. */
static bool data_read(const struct run *run, struct ws_str data, struct stamp *s)
{
    size_t hl = run->bin_header_len;
    if (data.len != hl + run->cfg.size || !same_bytes(data.ptr, run->bin_header, hl))
        return false;
    const uint8_t *p = (const uint8_t *)data.ptr + hl;
    memcpy(&s->sent_ns, p, 8);
    memcpy(&s->publisher, p + 8, 4);
    memcpy(&s->number, p + 12, 4);
    memcpy(&s->seq, p + 16, 8);
    return s->publisher < run->cfg.publishers && s->sent_ns >= run->t_start &&
           same_bytes(p + STAMP_BYTES, pattern_at(run, s->number), run->cfg.size - STAMP_BYTES);
}

/* ---- subscribers: sequence accounting --------------------------------- */

static bool bit_get(const uint64_t *map, uint64_t seq)
{
    return map[seq % SEQ_WINDOW / 64] >> (seq % 64) & 1;
}

static void bit_put(uint64_t *map, uint64_t seq, bool on)
{
    uint64_t bit = 1ull << (seq % 64);
    if (on)
        map[seq % SEQ_WINDOW / 64] |= bit;
    else
        map[seq % SEQ_WINDOW / 64] &= ~bit;
}

/* Moves next up to `upto`, marking the seqs passed over as delivered,
 * announced, or (both false) holes. */
static void track_advance(struct subscription *s, uint64_t upto, bool delivered, bool announced)
{
    uint64_t seq = s->next;
    if (upto - seq > SEQ_WINDOW)
        seq = upto - SEQ_WINDOW;
    for (; seq < upto; seq++) {
        bit_put(s->delivered, seq, delivered);
        bit_put(s->announced, seq, announced);
    }
    s->next = upto;
}

/* Whether seq, below next, is still within the remembered window. */
static bool track_remembers(const struct subscription *s, uint64_t seq)
{
    return seq >= s->start && s->next - seq <= SEQ_WINDOW;
}

/* Accounts a delivered seq. Returns true for a first delivery (to be
 * counted and timed), false for a repeat. */
static bool track_msg(struct worker *w, struct subscription *s, uint64_t seq, bool redelivered)
{
    if (seq >= s->next) {
        if (seq > s->next) { /* a hole below it, for now */
            w->n.missing += seq - s->next;
            track_advance(s, seq, false, false);
        }
        track_advance(s, seq + 1, true, false);
        return true;
    }
    if (!track_remembers(s, seq)) {
        /* before the subscription started, or too far back to tell */
        if (!redelivered)
            w->n.duplicates++;
        return false;
    }
    if (bit_get(s->delivered, seq)) {
        if (!redelivered)
            w->n.duplicates++;
        return false;
    }
    bit_put(s->delivered, seq, true);
    if (bit_get(s->announced, seq)) {
        w->n.after_gap++; /* named lost, then delivered after all */
        return false;
    }
    w->n.reorders++; /* a hole filled late */
    w->n.missing--;
    return true;
}

/* --resume: a resubscribed subscription is back once everything up to the
 * head it was told about is accounted for; the time since the subscribers
 * dropped goes into the resume histogram. */
static void sub_check_resumed(struct worker *w, struct subscription *s, uint64_t now)
{
    if (!s->resuming || !s->subscribed || s->next <= s->resume_head)
        return;
    s->resuming = false;
    hist_record(&w->resume_hist, now - w->resume_start);
}

static void sub_on_gap(struct worker *w, struct conn *c, const struct wsb_event *ev)
{
    struct subscription *s = conn_sub_named(w, c, ev->topic);
    if (s == NULL) {
        conn_error(w, c, ERR_PROTOCOL, "gap on topic '%.*s', not subscribed", (int)ev->topic.len,
                   ev->topic.ptr);
        return;
    }
    w->n.gap_envelopes++;
    if (ev->from > ev->to || ev->from < s->start) {
        conn_error(w, c, ERR_SEQUENCE, "gap %llu..%llu outside the subscription (from %llu)",
                   (unsigned long long)ev->from, (unsigned long long)ev->to,
                   (unsigned long long)s->start);
        return;
    }
    w->n.gap_msgs += ev->to - ev->from + 1;
    if (w->first_gap[0] == '\0')
        snprintf(w->first_gap, sizeof w->first_gap,
                 "subscriber %u got gap %llu..%llu after %llu first deliveries (next seq due %llu)",
                 w->base + c->index, (unsigned long long)ev->from, (unsigned long long)ev->to,
                 (unsigned long long)s->received, (unsigned long long)s->next);
    /* Seqs already passed: holes become announced; delivered ones contradict. */
    uint64_t below = ev->to + 1 < s->next ? ev->to + 1 : s->next;
    uint64_t first = ev->from;
    if (below > first && below - first > SEQ_WINDOW)
        first = below - SEQ_WINDOW;
    for (uint64_t seq = first; seq < below; seq++) {
        if (!track_remembers(s, seq) || bit_get(s->announced, seq))
            continue;
        if (bit_get(s->delivered, seq)) {
            conn_error(w, c, ERR_SEQUENCE, "gap %llu..%llu names seq %llu, already delivered",
                       (unsigned long long)ev->from, (unsigned long long)ev->to,
                       (unsigned long long)seq);
            continue;
        }
        bit_put(s->announced, seq, true);
        w->n.missing--;
    }
    if (ev->to >= s->next) {
        if (ev->from > s->next) {
            w->n.missing += ev->from - s->next;
            track_advance(s, ev->from, false, false);
        }
        track_advance(s, ev->to + 1, false, true);
    }
    sub_check_resumed(w, s, now_ns());
}

/* ---- subscribers: acks ------------------------------------------------ */

/* Sends a cumulative ack for everything delivered so far, if anything new
 * was; when the output buffer is full it stays pending for the next tick. */
static void sub_send_ack(struct worker *w, struct conn *c, struct subscription *s)
{
    if (s->ack_to <= s->acked || c->state != CONN_READY)
        return;
    const struct topic_name *t = &w->run->topics[s->topic];
    struct wsb_request ack = {.op = WSB_OP_ACK, .topic = {t->text, t->len}, .seq = s->ack_to};
    if (!conn_queue_request(w, c, &ack))
        return;
    s->acked = s->ack_to;
    s->unacked = 0;
    w->n.acks++;
}

/* Manual acks: every ack_every deliveries at once, else at the next tick. */
static void sub_note_delivery(struct worker *w, struct conn *c, struct subscription *s,
                              uint64_t seq)
{
    if (seq > s->ack_to)
        s->ack_to = seq;
    if (++s->unacked >= w->run->cfg.ack_every) {
        sub_send_ack(w, c, s);
        return;
    }
    if (!s->ack_listed) {
        s->ack_listed = true;
        w->ack_list[w->ack_count++] = (uint32_t)(s - w->subs);
    }
}

/* The --ack-ms tick: acks whatever is still unacknowledged. */
static void sub_ack_tick(struct worker *w)
{
    uint32_t count = w->ack_count;
    w->ack_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct subscription *s = &w->subs[w->ack_list[i]];
        struct conn *c = &w->conns[s->conn];
        s->ack_listed = false;
        if (c->state != CONN_READY)
            continue;
        sub_send_ack(w, c, s);
        if (s->ack_to > s->acked) { /* no room: try again next tick */
            s->ack_listed = true;
            w->ack_list[w->ack_count++] = w->ack_list[i];
        }
        conn_flush(w, c);
    }
}

/* ---- subscribers: envelopes ------------------------------------------- */

/* One message for subscriber c, whoever's protocol carried it. seq is the
 * broker's (wsbroker) or 0: then the publisher's stamp in the data has it. */
static void sub_on_delivery(struct worker *w, struct conn *c, struct ws_str topic,
                            struct ws_str data, uint64_t seq, bool redelivered, uint64_t now)
{
    const struct run *run = w->run;
    struct subscription *s = conn_sub_named(w, c, topic);
    if (s == NULL) {
        conn_error(w, c, ERR_PAYLOAD, "msg of topic '%.*s', not subscribed to it", (int)topic.len,
                   topic.ptr);
        return;
    }
    if (!s->subscribed) {
        conn_fail(w, c, ERR_PROTOCOL, "msg before subscribed");
        return;
    }
    struct stamp stamp;
    if (!data_read(run, data, &stamp)) {
        conn_error(w, c, ERR_PAYLOAD, "msg seq %llu: data is not what was published",
                   (unsigned long long)seq);
        return;
    }
    if (run->cfg.adapter != ADAPTER_WSBROKER)
        seq = stamp.seq;
    if (redelivered)
        w->n.redelivered++;
    if (run->cfg.ack_manual)
        sub_note_delivery(w, c, s, seq);
    bool first = track_msg(w, s, seq, redelivered);
    sub_check_resumed(w, s, now);
    if (!first)
        return;
    s->received++;
    w->n.delivered_all++;
    atomic_store_explicit(&w->progress_count, w->n.delivered_all, memory_order_relaxed);
    uint64_t latency = now > stamp.sent_ns ? now - stamp.sent_ns : 0;
    series_record(&w->series, &run->clock, now, latency);
    if (now >= run->t_measure && now < run->t_end)
        w->n.delivered++;
    if (stamp.sent_ns >= run->t_measure && stamp.sent_ns < run->t_end)
        hist_record(&w->hist, latency);
}

static void sub_on_msg(struct worker *w, struct conn *c, const struct wsb_event *ev, uint64_t now)
{
    sub_on_delivery(w, c, ev->topic, ev->data, ev->seq, ev->redelivered, now);
}

static void sub_on_subscribed(struct worker *w, struct conn *c, const struct wsb_event *ev)
{
    struct subscription *s = conn_sub_named(w, c, ev->match);
    if (s == NULL) {
        conn_fail(w, c, ERR_PROTOCOL, "subscribed to '%.*s', never asked for", (int)ev->match.len,
                  ev->match.ptr);
        return;
    }
    if (s->subscribed || !c->welcomed || c->subs_pending == 0) {
        conn_fail(w, c, ERR_PROTOCOL, "unexpected subscribed");
        return;
    }
    s->subscribed = true;
    if (s->resuming) { /* keep the accounting: the seam is checked like any seq */
        s->resume_head = ev->head;
        sub_check_resumed(w, s, now_ns());
    } else {
        s->start = s->next = ev->head + 1;
    }
    if (--c->subs_pending == 0)
        conn_ready(w, c);
}

static void sub_on_envelope(struct worker *w, struct conn *c, const struct wsb_event *ev,
                            uint64_t now)
{
    switch (ev->kind) {
    case WSB_EV_MSG:
        sub_on_msg(w, c, ev, now);
        break;
    case WSB_EV_GAP:
        sub_on_gap(w, c, ev);
        break;
    case WSB_EV_WELCOME:
        c->welcomed = true;
        break;
    case WSB_EV_SUBSCRIBED:
        sub_on_subscribed(w, c, ev);
        break;
    default:
        conn_error(w, c, ERR_PROTOCOL, "unexpected envelope (kind %d)", (int)ev->kind);
        break;
    }
}

/* ---- publishers ------------------------------------------------------- */

/* Message k of publisher p is publish number k * P + p of the run: due at
 * slot (k * P + p) in open loop, and sent to topic (k * P + p) % T. */
static uint64_t pub_global_number(const struct run *run, uint32_t p, uint64_t k)
{
    return k * run->cfg.publishers + p;
}

static uint32_t topic_of_publish(const struct run *run, uint64_t n);

/* wsbroker: a pub envelope with confirm: true and id k + 1. */
static bool pub_queue_envelope(struct worker *w, struct conn *c, const struct topic_name *t,
                               const struct stamp *stamp, uint64_t k)
{
    size_t len = data_write(w, stamp);
    struct wsb_request pub = {
        .op = WSB_OP_PUB,
        .topic = {t->text, t->len},
        .data = {(const char *)w->data, len},
        .has_id = true,
        .id = k + 1,
        .confirm = true,
    };
    if (!conn_queue_request(w, c, &pub))
        return false;
    w->pubs[c->index].unconfirmed++;
    return true;
}

/* A peer: NATS PUB, MQTT PUBLISH, or raw (the data alone). Nothing confirms
 * it, so the topic's final seq is the last one sent. */
static bool pub_queue_peer(struct worker *w, struct conn *c, const struct topic_name *t,
                           uint32_t topic, struct stamp *stamp)
{
    enum adapter adapter = w->run->cfg.adapter;
    stamp->seq = w->final_seq[topic] + 1;
    size_t len = data_write(w, stamp);
    bool ok;
    if (adapter == ADAPTER_NATS)
        ok = conn_queue_bytes(
            w, c, w->scratch,
            nats_write_pub(w->scratch, w->scratch_cap, t->text, t->len, w->data, len));
    else if (adapter == ADAPTER_MQTT)
        ok = conn_queue_bytes(
            w, c, w->scratch,
            mqtt_write_publish(w->scratch, w->scratch_cap, t->text, t->len, w->data, len));
    else
        ok = conn_queue_bytes(w, c, w->data, len);
    if (ok)
        w->final_seq[topic] = stamp->seq;
    return ok;
}

static bool pub_queue(struct worker *w, struct conn *c, uint64_t due, uint64_t now)
{
    const struct run *run = w->run;
    struct publisher *p = &w->pubs[c->index];
    uint64_t k = p->sent;
    uint32_t topic = topic_of_publish(run, pub_global_number(run, c->index, k));
    const struct topic_name *t = &run->topics[topic];
    struct stamp stamp = {.sent_ns = due, .publisher = c->index, .number = (uint32_t)k};
    bool queued = run->cfg.adapter == ADAPTER_WSBROKER ? pub_queue_envelope(w, c, t, &stamp, k)
                                                       : pub_queue_peer(w, c, t, topic, &stamp);
    if (!queued)
        return false;
    p->sent++;
    w->n.published_all++;
    atomic_store_explicit(&w->progress_count, w->n.published_all, memory_order_relaxed);
    series_record(&w->series, &run->clock, due, 0);
    if (due >= run->t_measure && due < run->t_end)
        w->n.published++;
    if (now - due > LATE_SEND_NS)
        w->n.late_sends++;
    return true;
}

/* The topic of publish number n of the run: round-robin, or for the
 * market-data scenario a Zipf choice (popular symbols publish more). */
static uint32_t topic_of_publish(const struct run *run, uint64_t n)
{
    if (run->cfg.zipf > 0)
        return zipf_pick(&run->zipf, n);
    return (uint32_t)(n % run->cfg.topics);
}

/* Open loop: when publisher p's message k is due. */
static uint64_t pub_due(const struct worker *w, uint32_t p, uint64_t k)
{
    double slot = (double)pub_global_number(w->run, p, k);
    return open_loop_due(w->run->t_start, w->slot_ns, w->run->ramp_ns, slot);
}

/* Publishes up to the unconfirmed limit (closed loop), or what is due under
 * that limit (open loop). */
static void pub_pump(struct worker *w, struct conn *c, uint64_t now)
{
    const struct config *cfg = &w->run->cfg;
    struct publisher *p = &w->pubs[c->index];
    if (c->state != CONN_READY || now >= w->run->t_end)
        return;
    while (p->unconfirmed < cfg->inflight) {
        uint64_t due = now;
        if (cfg->rate > 0) {
            due = pub_due(w, c->index, p->sent);
            if (due > now)
                break;
        }
        if (!pub_queue(w, c, due, now))
            break;
    }
}

static void pub_on_confirm(struct worker *w, struct conn *c, const struct wsb_event *ev)
{
    const struct run *run = w->run;
    struct publisher *p = &w->pubs[c->index];
    if (ev->id == 0 || ev->id > p->sent || p->unconfirmed == 0) {
        conn_fail(w, c, ERR_PROTOCOL, "confirm of id %llu, %llu sent, %u unconfirmed",
                  (unsigned long long)ev->id, (unsigned long long)p->sent, p->unconfirmed);
        return;
    }
    uint32_t topic = topic_of_publish(run, pub_global_number(run, c->index, ev->id - 1));
    const struct topic_name *t = &run->topics[topic];
    if (ev->topic.len != t->len || memcmp(ev->topic.ptr, t->text, t->len) != 0)
        conn_error(w, c, ERR_SEQUENCE, "confirm of id %llu names topic '%.*s', sent to '%s'",
                   (unsigned long long)ev->id, (int)ev->topic.len, ev->topic.ptr, t->text);
    else if (ev->seq > w->final_seq[topic])
        w->final_seq[topic] = ev->seq;
    w->confirmed_count[topic]++;
    p->unconfirmed--;
    w->n.confirmed++;
}

static void pub_on_envelope(struct worker *w, struct conn *c, const struct wsb_event *ev,
                            uint64_t now)
{
    (void)now;
    switch (ev->kind) {
    case WSB_EV_CONFIRM:
        pub_on_confirm(w, c, ev);
        break;
    case WSB_EV_WELCOME:
        c->welcomed = true;
        conn_ready(w, c);
        break;
    default:
        conn_error(w, c, ERR_PROTOCOL, "unexpected envelope (kind %d)", (int)ev->kind);
        break;
    }
}

/* ---- frames and envelopes --------------------------------------------- */

static void conn_on_envelope(struct worker *w, struct conn *c, const struct ws_frame *f,
                             uint64_t now)
{
    /* Nearly every envelope a subscriber gets is a `msg` in the broker's
     * own layout: read it without filling a whole wsb_event (a 216-byte
     * clear per message was an eighth of the generator's time). */
    struct wsb_msg_view mv;
    if (w->role == ROLE_SUBSCRIBER && c->state != CONN_CLOSING &&
        wsb_msg_template_parse(f->payload, (size_t)f->payload_len, &mv)) {
        sub_on_delivery(w, c, mv.topic, mv.data, mv.seq, mv.redelivered, now);
        return;
    }
    struct wsb_event ev;
    enum wsb_err rc = wsb_event_decode(f->payload, (size_t)f->payload_len, &ev);
    if (rc != WSB_OK) {
        conn_fail(w, c, ERR_PROTOCOL, "undecodable envelope: %s", wsb_err_name(rc));
        return;
    }
    if (c->state == CONN_CLOSING)
        return; /* late envelopes while closing are drained, not checked */
    if (ev.kind == WSB_EV_ERROR || ev.kind == WSB_EV_REJECT) {
        bool reject = ev.kind == WSB_EV_REJECT;
        conn_error(w, c, ERR_BROKER, "%s code %llu (%s): %.*s", reject ? "reject" : "error",
                   (unsigned long long)ev.code, wsb_err_name((enum wsb_err)ev.code),
                   (int)ev.text.len, ev.text.ptr);
        if (reject && w->role == ROLE_PUBLISHER && w->pubs[c->index].unconfirmed > 0)
            w->pubs[c->index].unconfirmed--;
        return;
    }
    if (ev.kind == WSB_EV_PONG)
        return;
    if (w->role == ROLE_SUBSCRIBER)
        sub_on_envelope(w, c, &ev, now);
    else
        pub_on_envelope(w, c, &ev, now);
}

static void conn_on_close_frame(struct worker *w, struct conn *c, const struct ws_frame *f)
{
    if (c->state == CONN_CLOSING) {
        w->n.clean_closes++;
        conn_close(w, c);
        return;
    }
    unsigned code = f->payload_len >= 2 ? (unsigned)f->payload[0] << 8 | f->payload[1] : 1005;
    int reason_len = f->payload_len > 2 ? (int)f->payload_len - 2 : 0;
    conn_fail(w, c, ERR_CLOSED, "broker sent close %u \"%.*s\"", code, reason_len,
              (const char *)f->payload + 2);
}

/* A peer's event: joins complete, messages delivered, PINGs answered. */
static void conn_on_peer_event(struct worker *w, struct conn *c, const struct peer_event *ev,
                               uint64_t now)
{
    bool sub = w->role == ROLE_SUBSCRIBER;
    bool joining = c->state == CONN_JOINING;
    char pong[16];
    switch (ev->kind) {
    case PEER_EV_PONG:       /* NATS: CONNECT (and SUB) processed */
    case PEER_EV_CONNECTED:  /* MQTT: a publisher is ready; a subscriber waits for SUBACK */
    case PEER_EV_SUBSCRIBED: /* MQTT */
        if (!joining || (ev->kind == PEER_EV_CONNECTED && sub))
            break;
        if (ev->kind == PEER_EV_SUBSCRIBED && c->subs_pending > 1) {
            c->subs_pending--; /* MQTT: one SUBACK per SUBSCRIBE */
            break;
        }
        c->subs_pending = 0;
        if (sub) {
            struct subscription *subs = conn_subs(w, c);
            for (uint32_t j = 0; j < w->run->cfg.symbols_per_sub; j++) {
                subs[j].subscribed = true;
                subs[j].start = subs[j].next = 1; /* the publisher stamps seqs from 1 */
            }
        }
        conn_ready(w, c);
        break;
    case PEER_EV_PING:
        conn_queue_bytes(w, c, pong, nats_write_pong(pong, sizeof pong));
        break;
    case PEER_EV_MSG:
        if (!sub) {
            conn_error(w, c, ERR_PROTOCOL, "a message to a publisher");
            break;
        }
        sub_on_delivery(w, c, (struct ws_str){ev->topic, ev->topic_len},
                        (struct ws_str){(const char *)ev->data, ev->data_len}, 0, false, now);
        break;
    case PEER_EV_REFUSED:
        conn_error(w, c, ERR_BROKER, "%.*s", (int)ev->text_len, ev->text);
        break;
    case PEER_EV_OTHER:
        break;
    }
}

/* The stream buffer holds a partial message (under in_cap) plus one chunk
 * of received bytes (a provided buffer, or at most in_cap from wss://). */
#define STREAM_CAP(c) (2 * (c)->io.in_cap)

static void conn_feed_peer_stream(struct worker *w, struct conn *c, const uint8_t *bytes,
                                  size_t len, uint64_t now);

/* A data frame from a peer. Raw: the frame is the message. NATS and MQTT:
 * the frames carry a byte stream whose messages may span frames, so it is
 * reassembled in c->stream and parsed from there. */
static void conn_on_peer_frame(struct worker *w, struct conn *c, const struct ws_frame *f,
                               uint64_t now)
{
    const struct run *run = w->run;
    if (c->state == CONN_CLOSING)
        return;
    if (run->cfg.adapter == ADAPTER_RAW) {
        if (w->role != ROLE_SUBSCRIBER)
            return;
        const struct topic_name *t = &run->topics[conn_subs(w, c)->topic];
        sub_on_delivery(w, c, (struct ws_str){t->text, t->len},
                        (struct ws_str){(const char *)f->payload, (size_t)f->payload_len}, 0, false,
                        now);
        return;
    }
    conn_feed_peer_stream(w, c, f->payload, (size_t)f->payload_len, now);
}

/* Appends bytes of a NATS or MQTT byte stream and handles every complete
 * message in it. Frames may be far larger than c->io.in (nats-server sends
 * hundreds of KiB in one), so their payloads arrive here piece by piece. */
static void conn_feed_peer_stream(struct worker *w, struct conn *c, const uint8_t *bytes,
                                  size_t len, uint64_t now)
{
    const struct run *run = w->run;
    if (len > STREAM_CAP(c) - c->stream_len) {
        conn_fail(w, c, ERR_PROTOCOL, "%s message over %zu bytes", adapter_names[run->cfg.adapter],
                  c->io.in_cap);
        return;
    }
    memcpy(c->stream + c->stream_len, bytes, len);
    c->stream_len += len;
    size_t off = 0;
    while (off < c->stream_len && c->state != CONN_DONE) {
        struct peer_event ev;
        ssize_t n = run->cfg.adapter == ADAPTER_NATS
                        ? nats_parse(c->stream + off, c->stream_len - off, &ev)
                        : mqtt_parse(c->stream + off, c->stream_len - off, &ev);
        if (n == PEER_INCOMPLETE)
            break;
        if (n < 0) {
            conn_fail(w, c, ERR_PROTOCOL, "malformed %s message from the broker",
                      adapter_names[run->cfg.adapter]);
            return;
        }
        conn_on_peer_event(w, c, &ev, now);
        off += (size_t)n;
    }
    if (c->state == CONN_DONE)
        return;
    memmove(c->stream, c->stream + off, c->stream_len - off);
    c->stream_len -= off;
}

static void conn_on_frame(struct worker *w, struct conn *c, const struct ws_frame *f, uint64_t now)
{
    if (f->rsv != 0 || f->masked || !f->fin) {
        conn_fail(w, c, ERR_PROTOCOL, "frame with rsv %u, masked %d, fin %d", f->rsv, f->masked,
                  f->fin);
        return;
    }
    switch (f->opcode) {
    case WS_OP_BINARY:
    case WS_OP_TEXT:
        if (w->run->cfg.adapter != ADAPTER_WSBROKER)
            conn_on_peer_frame(w, c, f, now);
        else if (f->opcode == WS_OP_BINARY)
            conn_on_envelope(w, c, f, now);
        else
            conn_fail(w, c, ERR_PROTOCOL, "a text message from wsbroker");
        break;
    case WS_OP_CLOSE:
        conn_on_close_frame(w, c, f);
        break;
    case WS_OP_PING:
        conn_queue_frame(w, c, WS_OP_PONG, f->payload, (size_t)f->payload_len);
        break;
    case WS_OP_PONG:
        break;
    default:
        conn_fail(w, c, ERR_PROTOCOL, "unexpected opcode 0x%x", f->opcode);
        break;
    }
}

/* The frames at the start of bytes: how many bytes the complete ones took. */
static size_t conn_read_frames(struct worker *w, struct conn *c, uint8_t *bytes, size_t len,
                               uint64_t now)
{
    size_t off = 0;
    bool streamed = w->run->cfg.adapter == ADAPTER_NATS || w->run->cfg.adapter == ADAPTER_MQTT;
    while (c->state >= CONN_JOINING && c->state <= CONN_CLOSING) {
        if (c->stream_frame_left > 0) { /* the rest of a large peer frame */
            size_t take = len - off;
            if (take > c->stream_frame_left)
                take = (size_t)c->stream_frame_left;
            if (take == 0)
                break;
            c->stream_frame_left -= take;
            if (c->state != CONN_CLOSING)
                conn_feed_peer_stream(w, c, bytes + off, take, now);
            off += take;
            continue;
        }
        struct ws_frame f;
        memset(&f, 0, sizeof f);
        ssize_t n = ws_frame_parse(bytes + off, len - off, &f);
        if (n == WS_FRAME_INCOMPLETE && streamed && f.header_len > 0 && f.fin && f.rsv == 0 &&
            !f.masked && (f.opcode == WS_OP_BINARY || f.opcode == WS_OP_TEXT)) {
            /* a peer's data frame not all here yet: take its payload as it comes */
            off += f.header_len;
            c->stream_frame_left = f.payload_len;
            continue;
        }
        if (n == WS_FRAME_INCOMPLETE) {
            if (f.header_len > 0 && !conn_io_await_frame(&c->io, f.header_len + f.payload_len))
                conn_fail(w, c, ERR_PROTOCOL, "frame of %llu bytes is over the buffer",
                          (unsigned long long)f.payload_len);
            break;
        }
        if (n < 0) {
            conn_fail(w, c, ERR_PROTOCOL, "malformed frame header");
            break;
        }
        conn_on_frame(w, c, &f, now);
        off += (size_t)n;
    }
    if (c->state == CONN_DONE)
        return off;
    if (w->role == ROLE_PUBLISHER)
        pub_pump(w, c, now);
    conn_flush(w, c);
    return off;
}

static void conn_on_eof(struct worker *w, struct conn *c, const char *why)
{
    switch (c->state) {
    case CONN_CONNECTING:
        conn_fail(w, c, ERR_CONNECT, "%s", why);
        break;
    case CONN_HANDSHAKING:
        conn_fail(w, c, ERR_HANDSHAKE, "%s before the 101 response", why);
        break;
    case CONN_JOINING:
    case CONN_READY:
        conn_fail(w, c, ERR_CLOSED, "%s without a close frame", why);
        break;
    default:
        conn_close(w, c); /* closing: the broker dropped TCP before its close */
        break;
    }
}

/* Parses received bytes: the 101 response, then frames (conn_io.h). */
static size_t conn_on_input(struct worker *w, struct conn *c, uint8_t *bytes, size_t len,
                            uint64_t now)
{
    size_t used = 0;
    if (c->state == CONN_HANDSHAKING) {
        used = conn_read_handshake(w, c, bytes, len);
        if (c->state != CONN_JOINING)
            return used;
        conn_flush(w, c);
        if (c->state == CONN_DONE)
            return used;
    }
    return used + conn_read_frames(w, c, bytes + used, len - used, now);
}

/* ---- worker ----------------------------------------------------------- */

/* ---- the transport's calls (conn_io.h) ---------------------------------- */

static struct conn_io *worker_io_of(void *ctx, uint32_t index)
{
    struct worker *w = ctx;
    return index < w->nconns ? &w->conns[index].io : NULL;
}

static void worker_on_connect(void *ctx, uint32_t index, int res)
{
    struct worker *w = ctx;
    conn_finish_connect(w, &w->conns[index], res);
}

static size_t worker_on_input(void *ctx, uint32_t index, uint8_t *bytes, size_t len, uint64_t now)
{
    struct worker *w = ctx;
    return conn_on_input(w, &w->conns[index], bytes, len, now);
}

static void worker_on_eof(void *ctx, uint32_t index, const char *why, bool overflow)
{
    struct worker *w = ctx;
    if (overflow)
        conn_fail(w, &w->conns[index], ERR_PROTOCOL, "%s", why);
    else
        conn_on_eof(w, &w->conns[index], why);
}

static void worker_on_send_error(void *ctx, uint32_t index, int err)
{
    struct worker *w = ctx;
    conn_on_send_error(w, &w->conns[index], err);
}

static const struct conn_io_ops conn_ops = {
    .io_of = worker_io_of,
    .on_connect = worker_on_connect,
    .on_input = worker_on_input,
    .on_eof = worker_on_eof,
    .on_send_error = worker_on_send_error,
};

/* Waits for and handles one batch of events; waits at most until `until`. */
static void worker_poll(struct worker *w, uint64_t until)
{
    conn_io_wait(&w->loop, until, &conn_ops, w);
}

/* Connects every connection and waits, bounded, for each to be welcomed
 * (and subscribed); what is not ready by then fails. */
static void worker_join_all(struct worker *w)
{
    uint64_t deadline = now_ns() + JOIN_TIMEOUT_MS * NS_PER_MS;
    for (uint32_t i = 0; i < w->nconns; i++)
        conn_start_connect(w, &w->conns[i]);
    while (w->joined < w->open && now_ns() < deadline)
        worker_poll(w, deadline);
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == CONN_CONNECTING && c->io.ssl != NULL)
            conn_fail(w, c, ERR_CONNECT, "no TCP connection and TLS handshake within %d ms",
                      JOIN_TIMEOUT_MS);
        else if (c->state == CONN_CONNECTING)
            conn_fail(w, c, ERR_CONNECT, "no TCP connection within %d ms", JOIN_TIMEOUT_MS);
        else if (c->state == CONN_HANDSHAKING)
            conn_fail(w, c, ERR_HANDSHAKE, "no complete response to the upgrade within %d ms",
                      JOIN_TIMEOUT_MS);
        else if (c->state == CONN_JOINING)
            conn_fail(w, c, ERR_JOIN, "no %s within %d ms", c->welcomed ? "subscribed" : "welcome",
                      JOIN_TIMEOUT_MS);
    }
}

/* Open loop: visits the send slots that came due (one publisher each). */
static uint64_t pub_visit_slots(struct worker *w, uint64_t now)
{
    for (;;) {
        uint64_t due =
            open_loop_due(w->run->t_start, w->slot_ns, w->run->ramp_ns, (double)w->next_slot);
        if (due > now)
            return due;
        struct conn *c = &w->conns[w->next_slot % w->nconns];
        pub_pump(w, c, now);
        if (c->state == CONN_READY)
            conn_flush(w, c);
        w->next_slot++;
    }
}

static uint32_t pub_unconfirmed(const struct worker *w)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->nconns; i++)
        if (w->conns[i].state == CONN_READY)
            n += w->pubs[i].unconfirmed;
    return n;
}

/* Closed loop against a peer, where nothing confirms: the limit is what the
 * socket takes. Writes to every ready publisher until its socket pushes back;
 * true while some publisher still had room. */
static bool pub_write_ahead(struct worker *w, uint64_t now)
{
    bool room = false;
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state != CONN_READY || conn_io_backed_up(&c->io))
            continue; /* not joined, or the socket has not taken the last batch */
        pub_pump(w, c, now);
        conn_flush(w, c);
        room = room || (c->state == CONN_READY && !conn_io_backed_up(&c->io));
    }
    return room;
}

/* Publishes until t_end, then waits (bounded) for the outstanding confirms
 * and hands the topics' final seqs to the subscribers. */
static void pub_run_load(struct worker *w)
{
    struct run *run = w->run;
    uint64_t now = now_ns();
    for (uint32_t i = 0; i < w->nconns; i++) {
        pub_pump(w, &w->conns[i], now);
        if (w->conns[i].state == CONN_READY)
            conn_flush(w, &w->conns[i]);
    }
    bool unpaced = run->cfg.rate == 0 && run->cfg.adapter != ADAPTER_WSBROKER;
    while (w->open > 0 && (now = now_ns()) < run->t_drain) {
        uint64_t until = run->t_drain;
        if (now < run->t_end) {
            until = run->t_end;
            if (run->cfg.rate > 0) {
                uint64_t due = pub_visit_slots(w, now);
                until = due < until ? due : until;
            } else if (unpaced && pub_write_ahead(w, now)) {
                until = now; /* room left: look at events, then write on */
            }
        } else if (pub_unconfirmed(w) == 0) {
            break;
        }
        worker_poll(w, until);
    }
    memcpy(run->final_seq, w->final_seq, run->cfg.topics * sizeof *run->final_seq);
    atomic_store_explicit(&run->publish_done, true, memory_order_release);
}

/* After publishing ended: true once every subscription has seen (or been
 * told it lost) every confirmed seq of its topic. */
static bool sub_all_caught_up(const struct worker *w)
{
    const uint64_t *final = w->run->final_seq;
    for (uint32_t i = 0; i < worker_sub_count(w); i++) {
        const struct subscription *s = &w->subs[i];
        if (w->conns[s->conn].state == CONN_READY && s->next <= final[s->topic])
            return false;
    }
    return true;
}

/* --resume: every ready subscriber drops its connection at once (no close
 * handshake, as when a network path fails) and reconnects at once, each
 * resubscribing with from = the last seq it accounted for. */
static void sub_resume_storm(struct worker *w, uint64_t now)
{
    w->resumed = true;
    w->resume_start = now;
    uint32_t k = w->run->cfg.symbols_per_sub;
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state != CONN_READY)
            continue;
        conn_close(w, c);
        c->io.in_len = c->io.out_off = c->io.out_len = 0;
        c->welcomed = false;
        struct subscription *subs = conn_subs(w, c);
        for (uint32_t j = 0; j < k; j++) {
            subs[j].subscribed = false;
            subs[j].resuming = true;
            w->n.resumes++;
        }
        w->joined--;
    }
    for (uint32_t i = 0; i < w->nconns; i++)
        if (conn_subs(w, &w->conns[i])->resuming)
            conn_start_connect(w, &w->conns[i]);
}

static void sub_run_load(struct worker *w)
{
    struct run *run = w->run;
    bool manual = run->cfg.ack_manual;
    uint64_t now = now_ns();
    uint64_t next_check = 0;
    uint64_t ack_tick_ns = (uint64_t)run->cfg.ack_ms * NS_PER_MS;
    w->next_ack_tick = now + ack_tick_ns;
    while (w->open > 0 && (now = now_ns()) < run->t_drain) {
        uint64_t until = run->t_drain;
        if (manual) {
            if (now >= w->next_ack_tick) {
                sub_ack_tick(w);
                w->next_ack_tick = now + ack_tick_ns;
            }
            until = w->next_ack_tick < until ? w->next_ack_tick : until;
        }
        if (now >= run->t_end) {
            if (now >= next_check) {
                if (atomic_load_explicit(&run->publish_done, memory_order_acquire) &&
                    sub_all_caught_up(w))
                    break;
                next_check = now + DRAIN_CHECK_NS;
            }
            until = next_check < until ? next_check : until;
        } else if (run->t_end < until) {
            until = run->t_end;
        }
        if (run->cfg.resume && !w->resumed) {
            if (now >= run->t_resume) {
                sub_resume_storm(w, now);
                continue;
            }
            until = run->t_resume < until ? run->t_resume : until;
        }
        worker_poll(w, until);
    }
    if (manual)
        sub_ack_tick(w);
}

/* What the drain did not bring: confirmed seqs never seen. */
static void sub_count_undelivered(struct worker *w)
{
    if (!atomic_load_explicit(&w->run->publish_done, memory_order_acquire))
        return;
    for (uint32_t i = 0; i < worker_sub_count(w); i++) {
        const struct subscription *s = &w->subs[i];
        uint64_t final = w->run->final_seq[s->topic];
        if (s->subscribed && final >= s->next)
            w->n.undelivered += final - s->next + 1;
    }
}

/* Sends close 1000 on every open connection and waits, bounded, for the
 * broker's close; whatever is still open then is just dropped. */
static void worker_close_all(struct worker *w)
{
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state != CONN_READY && c->state != CONN_JOINING)
            continue;
        conn_queue_close(w, c);
        conn_flush(w, c);
    }
    uint64_t deadline = now_ns() + CLOSE_TIMEOUT_MS * NS_PER_MS;
    while (w->open > 0 && now_ns() < deadline)
        worker_poll(w, deadline);
    for (uint32_t i = 0; i < w->nconns; i++)
        conn_close(w, &w->conns[i]);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    /* The default 50 us timer slack would make open-loop sends and ack
     * ticks late, and the lateness would be charged to the broker. */
    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS);
    worker_join_all(w);
    pthread_barrier_wait(&run->barrier); /* main checks the join results */
    pthread_barrier_wait(&run->barrier); /* main set the clock, or abort */
    if (!run->abort) {
        uint64_t cpu = thread_cpu_ns(), wall = now_ns();
        if (w->role == ROLE_PUBLISHER) {
            pub_run_load(w);
        } else {
            sub_run_load(w);
            sub_count_undelivered(w);
        }
        w->cpu_ns = thread_cpu_ns() - cpu;
        w->wall_ns = now_ns() - wall;
    } else if (w->role == ROLE_PUBLISHER) {
        atomic_store_explicit(&run->publish_done, true, memory_order_release);
    }
    worker_close_all(w);
    tls_thread_end();
    atomic_fetch_add(&run->workers_done, 1);
    return NULL;
}

/* ---- setup ------------------------------------------------------------ */

/* The largest pub envelope this run writes: the longest topic, the largest
 * id, the data value. */
static size_t pub_envelope_bound(const struct run *run, uint8_t *scratch, size_t cap)
{
    size_t longest = 0;
    for (uint32_t t = 0; t < run->cfg.topics; t++)
        if (run->topics[t].len > run->topics[longest].len)
            longest = t;
    struct wsb_request pub = {
        .op = WSB_OP_PUB,
        .topic = {run->topics[longest].text, run->topics[longest].len},
        .data = {(const char *)run->pattern, 0}, /* stands in for the bin value */
        .has_id = true,
        .id = UINT64_MAX,
        .confirm = true,
    };
    size_t data_len = run->bin_header_len + run->cfg.size;
    size_t n = wsb_request_encode(scratch, cap, &pub);
    return n == 0 ? 0 : n + data_len;
}

static size_t frame_bound(size_t payload)
{
    return payload + ws_frame_header_size(payload, true);
}

/* The largest envelope a connection receives: a msg of the longest topic. */
static size_t in_frame_bound(const struct run *run)
{
    size_t longest = 0;
    for (uint32_t t = 0; t < run->cfg.topics; t++)
        if (run->topics[t].len > longest)
            longest = run->topics[t].len;
    size_t msg = wsb_msg_size_bound(longest, run->bin_header_len + run->cfg.size);
    return msg + WS_FRAME_MAX_HEADER;
}

/* Subscriber number `sub` of the run (its connection is `conn` within its
 * worker) takes symbols_per_sub distinct topics: with --zipf, drawn without
 * replacement by Zipf popularity (a draw that repeats a topic is drawn again;
 * after many repeats the most popular topics not yet taken fill the rest), else
 * round-robin from sub on. The same subscriber gets the same topics in every
 * run. */
static void sub_pick_topics(const struct run *run, uint32_t sub, struct subscription *subs,
                            uint32_t conn)
{
    const struct config *cfg = &run->cfg;
    uint32_t k = cfg->symbols_per_sub;
    uint32_t taken = 0;
    uint64_t key = ~(uint64_t)sub;
    for (uint32_t tries = 0; cfg->zipf > 0 && taken < k && tries < 64 * k; tries++) {
        uint32_t topic = zipf_pick(&run->zipf, key);
        key = key * 6364136223846793005ull + 1442695040888963407ull; /* the next draw's key */
        bool dup = false;
        for (uint32_t j = 0; j < taken && !dup; j++)
            dup = subs[j].topic == topic;
        if (!dup)
            subs[taken++].topic = topic;
    }
    for (uint32_t topic = cfg->zipf > 0 ? 0 : sub % cfg->topics; taken < k;
         topic = (topic + 1) % cfg->topics) {
        bool dup = false;
        for (uint32_t j = 0; j < taken && !dup; j++)
            dup = subs[j].topic == topic;
        if (!dup)
            subs[taken++].topic = topic;
    }
    for (uint32_t j = 0; j < k; j++)
        subs[j].conn = conn;
}

static bool worker_init(struct worker *w, struct run *run, enum role role, uint32_t id,
                        uint32_t base, uint32_t nconns)
{
    const struct config *cfg = &run->cfg;
    memset(w, 0, sizeof *w);
    w->run = run;
    w->role = role;
    w->id = id;
    w->nconns = nconns;
    w->base = base;
    w->rng = rng_seed();
    w->conns = calloc(nconns, sizeof *w->conns);
    w->scratch_cap = ENVELOPE_ROOM + MAX_BIN_HEADER + cfg->size + TOPIC_NAME_MAX;
    w->scratch = malloc(w->scratch_cap);
    if (w->conns == NULL || w->scratch == NULL)
        return false;
    int rc = ring_loop_init(
        &w->loop, ring_buffer_count(nconns, RING_BUFS_PER_CONN, RING_BUFS_MIN, RING_BUFS_MAX),
        RING_BUF_BYTES);
    if (rc < 0) {
        fprintf(stderr, "wsbroker-bench: io_uring setup: %s\n", strerror(-rc));
        return false;
    }
    size_t out_cap = SUB_OUT_BYTES + CONTROL_ROOM;
    size_t in_cap = in_frame_bound(run) + RECV_SLACK;
    /* nats-server and mosquitto pack many messages into one frame (nats-server
     * hundreds of KiB): those payloads are parsed as they arrive, in reads of
     * up to this much */
    if (cfg->adapter == ADAPTER_NATS || cfg->adapter == ADAPTER_MQTT)
        in_cap = in_cap > PEER_RECV_ROOM ? in_cap : PEER_RECV_ROOM;
    if (role == ROLE_PUBLISHER) {
        w->pubs = calloc(nconns, sizeof *w->pubs);
        w->final_seq = calloc(cfg->topics, sizeof *w->final_seq);
        w->confirmed_count = calloc(cfg->topics, sizeof *w->confirmed_count);
        w->data = malloc(MAX_BIN_HEADER + cfg->size);
        if (w->pubs == NULL || w->final_seq == NULL || w->confirmed_count == NULL ||
            w->data == NULL)
            return false;
        memcpy(w->data, run->bin_header, run->bin_header_len);
        size_t pub_bytes = pub_envelope_bound(run, w->scratch, w->scratch_cap);
        if (pub_bytes == 0)
            return false;
        out_cap += (size_t)cfg->inflight * frame_bound(pub_bytes);
        if (cfg->rate > 0)
            w->slot_ns = (double)NS_PER_S / cfg->rate;
    } else {
        uint32_t k = cfg->symbols_per_sub;
        w->subs = calloc((size_t)nconns * k, sizeof *w->subs);
        w->sub_topic = calloc((size_t)nconns * k, sizeof *w->sub_topic);
        w->ack_list = calloc((size_t)nconns * k, sizeof *w->ack_list);
        if (w->subs == NULL || w->sub_topic == NULL || w->ack_list == NULL)
            return false;
        for (uint32_t i = 0; i < nconns; i++)
            sub_pick_topics(run, base + i, &w->subs[(size_t)i * k], i);
        for (size_t i = 0; i < (size_t)nconns * k; i++)
            w->sub_topic[i] = w->subs[i].topic;
    }
    if (cfg->csv != NULL && !series_init(&w->series, run->clock.count, role == ROLE_SUBSCRIBER))
        return false;
    for (uint32_t i = 0; i < nconns; i++) {
        struct conn *c = &w->conns[i];
        c->io.sock.fd = -1;
        c->io.sock.index = i;
        c->index = i;
        c->state = CONN_DONE;
        c->io.out_cap = out_cap;
        c->io.in_cap = in_cap;
        c->io.out = malloc(out_cap);
        c->io.in = malloc(in_cap);
        if (c->io.out == NULL || c->io.in == NULL)
            return false;
        if (cfg->adapter == ADAPTER_NATS || cfg->adapter == ADAPTER_MQTT) {
            c->stream = malloc(STREAM_CAP(c));
            if (c->stream == NULL)
                return false;
        }
    }
    return true;
}

static void worker_free(struct worker *w)
{
    for (uint32_t i = 0; w->conns != NULL && i < w->nconns; i++) {
        free(w->conns[i].io.out);
        free(w->conns[i].io.in);
        free(w->conns[i].stream);
    }
    free(w->conns);
    free(w->subs);
    free(w->sub_topic);
    series_free(&w->series);
    free(w->pubs);
    free(w->final_seq);
    free(w->confirmed_count);
    free(w->ack_list);
    free(w->scratch);
    free(w->data);
    ring_loop_free(&w->loop);
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: wsbroker-bench fanout|fanin|market|reliable|resume --url ws[s]://HOST:PORT/v1\n"
            "                   [--publishers P] [--subscribers S] [--topics T]\n"
            "                   [--size BYTES] [--rate MSGS_PER_S]\n"
            "                   [--duration S] [--warmup S] [--ack none|manual] [--threads N]\n"
            "                   [--json] [--ack-every K] [--ack-ms MS] [--window W]\n"
            "                   [--inflight K] [--drain S] [--prefix NAME] [--ca FILE]\n"
            "                   [--zipf S] [--resume]\n"
            "                   [--csv FILE] [--progress] [--ramp S] [--symbols-per-sub K]\n"
            "  --publishers   publisher connections, all on one thread (default 1)\n"
            "  --subscribers  subscriber connections; subscriber i takes topic i %% T, or K\n"
            "                 topics from there with --symbols-per-sub (default 1)\n"
            "  --topics       topics PREFIX.0 .. PREFIX.T-1, published round-robin (default 1)\n"
            "  --size         data bytes per publish, %d..%u (a %d-byte stamp, then a pattern)\n"
            "  --rate         open loop: total publishes per second; 0 (default): closed loop\n"
            "  --duration     measured seconds (default %.0f, at most %.0f)\n"
            "  --warmup       seconds published before measuring (default %.0f)\n"
            "  --ramp S       open loop: first raise the rate linearly from 0 to --rate over\n"
            "                 S seconds (before the warm-up; not measured, like it)\n"
            "  --drain        at most this long after publishing stops, wait for the tail\n"
            "                 (default %.0f)\n"
            "  --ack          subscriptions' ack mode (default none); manual acks go out\n"
            "                 every --ack-every messages (default %d) or after --ack-ms\n"
            "                 milliseconds (default %d), whichever comes first\n"
            "  --window       sub.window for manual acks (default: the broker's, %d)\n"
            "  --inflight     unconfirmed publishes per publisher (default %d)\n"
            "  --threads      subscriber threads (default 1); publishers get one more\n"
            "  --prefix       topic name prefix (default \"%s\")\n"
            "  --ca           wss://: verify the broker against this CA file (else unverified)\n"
            "  --zipf S       market data: subscriber i takes a symbol and each publish goes to\n"
            "                 a symbol, both chosen with Zipf(S) popularity (0: round-robin)\n"
            "  --symbols-per-sub K  each subscriber subscribes to K different topics (default 1;\n"
            "                 market: 10), with --zipf drawn without replacement by popularity\n"
            "  --resume       halfway through, every subscriber drops its connection and\n"
            "                 reconnects at once with sub.from = its last seq; reports the\n"
            "                 time until each has caught up\n"
            "  --csv FILE     per-second time series (bench/plot.gp draws it)\n"
            "  --progress     a progress line on stderr every second (default when stderr\n"
            "                 is a terminal)\n"
            "  --adapter A    whose protocol: wsbroker (default), nats (NATS over WebSocket),\n"
            "                 mqtt (MQTT 3.1.1 over WebSocket, QoS 0), raw (bare frames, for\n"
            "                 bench/broadcast_reference); peers take one publisher, which\n"
            "                 stamps per-topic seqs into the data\n"
            "  --json         one JSON object instead of the table\n",
            MIN_PAYLOAD, MAX_PAYLOAD, STAMP_BYTES, DEFAULT_DURATION_S, MAX_DURATION_S,
            DEFAULT_WARMUP_S, DEFAULT_DRAIN_S, DEFAULT_ACK_EVERY, DEFAULT_ACK_MS,
            WSB_DEFAULT_WINDOW, DEFAULT_INFLIGHT, DEFAULT_PREFIX);
}

__attribute__((format(printf, 1, 2), noreturn)) static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsbroker-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    usage(stderr);
    exit(2);
}

static double parse_number(const char *flag, const char *s, double lo, double hi)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        die_usage("%s: '%s' is not a number in [%g, %g]", flag, s, lo, hi);
    return v;
}

static void parse_args(struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"publishers", required_argument, NULL, 'p'},
        {"subscribers", required_argument, NULL, 's'},
        {"topics", required_argument, NULL, 'T'},
        {"size", required_argument, NULL, 'z'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"ramp", required_argument, NULL, 'M'},
        {"symbols-per-sub", required_argument, NULL, 'K'},
        {"drain", required_argument, NULL, 'D'},
        {"ack", required_argument, NULL, 'a'},
        {"ack-every", required_argument, NULL, 'e'},
        {"ack-ms", required_argument, NULL, 'E'},
        {"window", required_argument, NULL, 'W'},
        {"inflight", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"prefix", required_argument, NULL, 'P'},
        {"json", no_argument, NULL, 'j'},
        {"ca", required_argument, NULL, 'C'},
        {"zipf", required_argument, NULL, 'Z'},
        {"resume", no_argument, NULL, 'R'},
        {"csv", required_argument, NULL, 'V'},
        {"progress", no_argument, NULL, 'G'},
        {"adapter", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *cfg = (struct config){.publishers = 1,
                           .subscribers = 1,
                           .topics = 1,
                           .symbols_per_sub = 1,
                           .threads = 1,
                           .size = DEFAULT_SIZE,
                           .duration_s = DEFAULT_DURATION_S,
                           .warmup_s = DEFAULT_WARMUP_S,
                           .drain_s = DEFAULT_DRAIN_S,
                           .ack_every = DEFAULT_ACK_EVERY,
                           .ack_ms = DEFAULT_ACK_MS,
                           .inflight = DEFAULT_INFLIGHT,
                           .prefix = DEFAULT_PREFIX};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            cfg->url = optarg;
            break;
        case 'p':
            cfg->publishers = (uint32_t)parse_number("--publishers", optarg, 1, MAX_PUBLISHERS);
            break;
        case 's':
            cfg->subscribers = (uint32_t)parse_number("--subscribers", optarg, 1, MAX_SUBSCRIBERS);
            break;
        case 'T':
            cfg->topics = (uint32_t)parse_number("--topics", optarg, 1, MAX_TOPICS);
            break;
        case 'z':
            cfg->size = (size_t)parse_number("--size", optarg, MIN_PAYLOAD, MAX_PAYLOAD);
            break;
        case 'r':
            cfg->rate = parse_number("--rate", optarg, 0, 1e9);
            break;
        case 'd':
            cfg->duration_s = parse_number("--duration", optarg, 0.001, MAX_DURATION_S);
            break;
        case 'w':
            cfg->warmup_s = parse_number("--warmup", optarg, 0, MAX_DURATION_S);
            break;
        case 'K':
            cfg->symbols_per_sub =
                (uint32_t)parse_number("--symbols-per-sub", optarg, 1, MAX_TOPICS);
            break;
        case 'M':
            cfg->ramp_s = parse_number("--ramp", optarg, 0, MAX_DURATION_S);
            break;
        case 'D':
            cfg->drain_s = parse_number("--drain", optarg, 0, MAX_DRAIN_S);
            break;
        case 'a':
            if (strcmp(optarg, "manual") == 0)
                cfg->ack_manual = true;
            else if (strcmp(optarg, "none") != 0)
                die_usage("--ack: '%s' is neither none nor manual", optarg);
            break;
        case 'e':
            cfg->ack_every =
                (uint32_t)parse_number("--ack-every", optarg, 1, WSB_DEFAULT_MAX_WINDOW);
            break;
        case 'E':
            cfg->ack_ms = (uint32_t)parse_number("--ack-ms", optarg, 1, MAX_ACK_MS);
            break;
        case 'W':
            cfg->window = (uint32_t)parse_number("--window", optarg, 1, WSB_DEFAULT_MAX_WINDOW);
            break;
        case 'k':
            cfg->inflight = (uint32_t)parse_number("--inflight", optarg, 1, MAX_INFLIGHT);
            break;
        case 't':
            cfg->threads = (uint32_t)parse_number("--threads", optarg, 1, MAX_THREADS);
            break;
        case 'P':
            cfg->prefix = optarg;
            break;
        case 'j':
            cfg->json = true;
            break;
        case 'C':
            cfg->ca = optarg;
            break;
        case 'Z':
            cfg->zipf = parse_number("--zipf", optarg, 0, 10);
            break;
        case 'R':
            cfg->resume = true;
            break;
        case 'V':
            cfg->csv = optarg;
            break;
        case 'G':
            cfg->progress = true;
            break;
        case 'A': {
            int a = 0;
            while (a < ADAPTER_KINDS && strcmp(optarg, adapter_names[a]) != 0)
                a++;
            if (a == ADAPTER_KINDS)
                die_usage("--adapter: '%s' is not wsbroker, nats, mqtt or raw", optarg);
            cfg->adapter = (enum adapter)a;
            break;
        }
        case 'h':
            usage(stdout);
            exit(0);
        default:
            die_usage("bad option");
        }
    }
    if (optind < argc)
        die_usage("unexpected argument '%s'", argv[optind]);
    if (cfg->url == NULL)
        die_usage("--url is required");
    if (strlen(cfg->prefix) == 0 || strlen(cfg->prefix) > MAX_PREFIX)
        die_usage("--prefix: 1 to %d bytes", MAX_PREFIX);
    if (cfg->threads > cfg->subscribers)
        cfg->threads = cfg->subscribers;
    if (cfg->symbols_per_sub > cfg->topics)
        die_usage("--symbols-per-sub %u: more than the %u topics (each must be different)",
                  cfg->symbols_per_sub, cfg->topics);
    if (cfg->ramp_s > 0 && cfg->rate == 0)
        die_usage("--ramp needs --rate (a closed loop has no rate to ramp)");
    if (cfg->adapter != ADAPTER_WSBROKER) {
        const char *name = adapter_names[cfg->adapter];
        if (cfg->publishers != 1)
            die_usage("--adapter %s: one publisher (it stamps the per-topic seqs)", name);
        if (cfg->ack_manual || cfg->resume)
            die_usage("--adapter %s: manual acks and resume are wsbroker's", name);
        if (cfg->adapter == ADAPTER_RAW && cfg->topics != 1)
            die_usage("--adapter raw: one topic (the server broadcasts every frame)");
    }
    uint32_t window = cfg->window ? cfg->window : WSB_DEFAULT_WINDOW;
    if (cfg->ack_manual && cfg->ack_every > window)
        die_usage("--ack-every %u is over the window of %u: the broker would stall", cfg->ack_every,
                  window);
}

/* ---- report ----------------------------------------------------------- */

struct totals {
    struct hist resume_hist;
    struct hist hist;
    struct counters n;
    uint64_t sub_cpu_ns, sub_wall_ns, pub_cpu_ns, pub_wall_ns;
    uint64_t errors[ERR_KINDS];
    uint64_t error_sum;
    uint64_t faults;   /* delivery faults: the broker broke a promise */
    uint64_t expected; /* deliveries due: per subscription, its topic's confirmed seqs */
    const char *first_error;
    const char *first_gap;
};

static void totals_add(struct totals *t, const struct worker *w)
{
    const struct counters *n = &w->n;
    hist_merge(&t->hist, &w->hist);
    hist_merge(&t->resume_hist, &w->resume_hist);
    uint64_t *dst = (uint64_t *)&t->n;
    const uint64_t *src = (const uint64_t *)n;
    for (size_t i = 0; i < sizeof *n / sizeof(uint64_t); i++)
        dst[i] += src[i];
    if (w->role == ROLE_PUBLISHER) {
        t->pub_cpu_ns += w->cpu_ns;
        t->pub_wall_ns += w->wall_ns;
    } else {
        t->sub_cpu_ns += w->cpu_ns;
        t->sub_wall_ns += w->wall_ns;
    }
    for (int k = 0; k < ERR_KINDS; k++) {
        t->errors[k] += w->errors[k];
        t->error_sum += w->errors[k];
    }
    if (t->first_error == NULL && w->first_error[0] != '\0')
        t->first_error = w->first_error;
    if (t->first_gap == NULL && w->first_gap[0] != '\0')
        t->first_gap = w->first_gap;
}

/* Checks that the broker sequenced each topic without holes: the confirmed
 * seqs of a topic run from its head at subscribe time + 1 up to the final
 * one. Only meaningful when every publish was confirmed and each topic has
 * a subscriber that saw its head. */
static void check_sequencing(const struct run *run, const struct worker *subs, uint32_t nsub,
                             const struct worker *pub, struct totals *t)
{
    const struct config *cfg = &run->cfg;
    if (pub->n.confirmed != pub->n.published_all)
        return;
    bool *checked = calloc(cfg->topics, sizeof *checked);
    if (checked == NULL)
        return;
    /* each topic once, through the first subscriber on it that is subscribed */
    for (uint32_t i = 0; i < nsub; i++) {
        const struct worker *w = &subs[i];
        for (uint32_t j = 0; j < worker_sub_count(w); j++) {
            const struct subscription *s = &w->subs[j];
            uint32_t topic = s->topic;
            if (!s->subscribed || checked[topic])
                continue;
            checked[topic] = true;
            uint64_t count = pub->confirmed_count[topic];
            uint64_t final = pub->final_seq[topic];
            if (count > 0 && final - s->start + 1 != count) {
                t->errors[ERR_SEQUENCE]++;
                t->error_sum++;
                fprintf(stderr,
                        "wsbroker-bench: topic %s: %llu confirms, but seqs %llu..%llu were "
                        "assigned\n",
                        run->topics[topic].text, (unsigned long long)count,
                        (unsigned long long)s->start, (unsigned long long) final);
            }
        }
    }
    free(checked);
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static double cpu_pct(uint64_t cpu, uint64_t wall)
{
    return wall ? 100.0 * (double)cpu / (double)wall : 0.0;
}

static void print_mode(const struct config *cfg, FILE *to)
{
    if (cfg->rate > 0)
        fprintf(to, "open loop at %.0f publishes/s", cfg->rate);
    else
        fprintf(to, "closed loop");
    fprintf(to, ", inflight %u", cfg->inflight);
}

static void report_table(const struct config *cfg, const struct totals *t)
{
    const struct hist *h = &t->hist;
    const struct counters *n = &t->n;
    double pub_s = (double)n->published / cfg->duration_s;
    double del_s = (double)n->delivered / cfg->duration_s;
    printf(
        "wsbroker-bench %s (%s) %s: %u publishers -> %u subscribers on %u topics, %zu B, acks %s",
        bench_scenario, adapter_names[cfg->adapter], cfg->url, cfg->publishers, cfg->subscribers,
        cfg->topics, cfg->size, cfg->ack_manual ? "manual" : "none");
    if (cfg->ack_manual)
        printf(" (every %u or %u ms)", cfg->ack_every, cfg->ack_ms);
    printf(", ");
    print_mode(cfg, stdout);
    if (cfg->ramp_s > 0)
        printf(", %.1f s ramp", cfg->ramp_s);
    printf(", %.1f s (+%.1f s warm-up), %u+1 threads\n", cfg->duration_s, cfg->warmup_s,
           cfg->threads);
    printf("%12s %13s %9s %9s %9s %9s %9s %10s %9s %7s %7s\n", "published/s", "delivered/s", "MB/s",
           "p50 us", "p90 us", "p99 us", "p99.9 us", "p99.99 us", "max us", "errors", "faults");
    printf("%12.0f %13.0f %9.2f %9.1f %9.1f %9.1f %9.1f %10.1f %9.1f %7llu %7llu\n", pub_s, del_s,
           del_s * (double)cfg->size / 1e6, us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
           us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)), us(hist_percentile(h, 99.99)),
           us(h->max), (unsigned long long)t->error_sum, (unsigned long long)t->faults);
    if (cfg->resume) {
        const struct hist *r = &t->resume_hist;
        printf("resume storm: %llu subscribers dropped and resubscribed, %llu caught up; "
               "time to catch up p50 %.1f us, p99 %.1f us, max %.1f us\n",
               (unsigned long long)n->resumes, (unsigned long long)r->total,
               us(hist_percentile(r, 50)), us(hist_percentile(r, 99)), us(r->max));
    }
    printf("delivery: %llu of %llu due (%.2f%%); gaps %llu (%llu msgs); missing %llu; "
           "duplicates %llu; reorders %llu; after-gap %llu; redelivered %llu; undelivered at drain "
           "end %llu\n",
           (unsigned long long)n->delivered_all, (unsigned long long)t->expected,
           t->expected ? 100.0 * (double)n->delivered_all / (double)t->expected : 0.0,
           (unsigned long long)n->gap_envelopes, (unsigned long long)n->gap_msgs,
           (unsigned long long)n->missing, (unsigned long long)n->duplicates,
           (unsigned long long)n->reorders, (unsigned long long)n->after_gap,
           (unsigned long long)n->redelivered, (unsigned long long)n->undelivered);
    printf("publishes: %llu sent, %llu confirmed, %llu late; acks sent %llu\n",
           (unsigned long long)n->published_all, (unsigned long long)n->confirmed,
           (unsigned long long)n->late_sends, (unsigned long long)n->acks);
    printf("errors:");
    for (int k = 0; k < ERR_KINDS; k++)
        printf(" %s %llu", err_names[k], (unsigned long long)t->errors[k]);
    printf("; clean closes %llu/%u; client CPU: subscribers %.0f%%, publishers %.0f%% of a core\n",
           (unsigned long long)n->clean_closes, cfg->subscribers + cfg->publishers,
           cpu_pct(t->sub_cpu_ns, t->sub_wall_ns / cfg->threads),
           cpu_pct(t->pub_cpu_ns, t->pub_wall_ns));
}

static void report_json(const struct config *cfg, const struct totals *t)
{
    const struct hist *h = &t->hist;
    const struct counters *n = &t->n;
    double pub_s = (double)n->published / cfg->duration_s;
    double del_s = (double)n->delivered / cfg->duration_s;
    printf("{\"scenario\":\"%s\",\"url\":\"%s\",\"publishers\":%u,\"subscribers\":%u,\"topics\":%u,"
           "\"size\":%zu,"
           "\"ack\":\"%s\",\"ack_every\":%u,\"ack_ms\":%u,\"window\":%u,"
           "\"rate\":%.3f,\"inflight\":%u,"
           "\"threads\":%u,\"duration_s\":%.3f,\"warmup_s\":%.3f,\"ramp_s\":%.3f,",
           bench_scenario, cfg->url, cfg->publishers, cfg->subscribers, cfg->topics, cfg->size,
           cfg->ack_manual ? "manual" : "none", cfg->ack_every, cfg->ack_ms,
           cfg->window ? cfg->window : WSB_DEFAULT_WINDOW, cfg->rate, cfg->inflight, cfg->threads,
           cfg->duration_s, cfg->warmup_s, cfg->ramp_s);
    printf("\"published_per_s\":%.1f,\"delivered_per_s\":%.1f,\"mb_per_s\":%.3f,", pub_s, del_s,
           del_s * (double)cfg->size / 1e6);
    printf("\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,"
           "\"p99_99\":%.1f,\"max\":%.1f,\"mean\":%.1f,\"count\":%llu},",
           us(hist_percentile(h, 50)), us(hist_percentile(h, 90)), us(hist_percentile(h, 99)),
           us(hist_percentile(h, 99.9)), us(hist_percentile(h, 99.99)), us(h->max),
           hist_mean(h) / 1000.0, (unsigned long long)h->total);
    if (cfg->resume) {
        const struct hist *r = &t->resume_hist;
        printf("\"resume\":{\"dropped\":%llu,\"caught_up\":%llu,\"p50_us\":%.1f,"
               "\"p99_us\":%.1f,\"max_us\":%.1f},",
               (unsigned long long)n->resumes, (unsigned long long)r->total,
               us(hist_percentile(r, 50)), us(hist_percentile(r, 99)), us(r->max));
    }
    printf("\"zipf\":%.3f,\"symbols_per_sub\":%u,\"adapter\":\"%s\",", cfg->zipf,
           cfg->symbols_per_sub, adapter_names[cfg->adapter]);
    printf("\"delivery\":{\"due\":%llu,\"delivered\":%llu,\"gap_envelopes\":%llu,\"gap_msgs\":%llu,"
           "\"missing\":%llu,\"duplicates\":%llu,\"reorders\":%llu,\"after_gap\":%llu,"
           "\"redelivered\":%llu,\"undelivered\":%llu,\"faults\":%llu},",
           (unsigned long long)t->expected, (unsigned long long)n->delivered_all,
           (unsigned long long)n->gap_envelopes, (unsigned long long)n->gap_msgs,
           (unsigned long long)n->missing, (unsigned long long)n->duplicates,
           (unsigned long long)n->reorders, (unsigned long long)n->after_gap,
           (unsigned long long)n->redelivered, (unsigned long long)n->undelivered,
           (unsigned long long)t->faults);
    printf("\"publishes\":{\"sent\":%llu,\"confirmed\":%llu,\"late\":%llu},\"acks\":%llu,",
           (unsigned long long)n->published_all, (unsigned long long)n->confirmed,
           (unsigned long long)n->late_sends, (unsigned long long)n->acks);
    printf("\"errors\":{");
    for (int k = 0; k < ERR_KINDS; k++)
        printf("%s\"%s\":%llu", k ? "," : "", err_names[k], (unsigned long long)t->errors[k]);
    printf("},\"clean_closes\":%llu,\"sub_cpu_pct\":%.1f,\"pub_cpu_pct\":%.1f}\n",
           (unsigned long long)n->clean_closes,
           cpu_pct(t->sub_cpu_ns, t->sub_wall_ns / cfg->threads),
           cpu_pct(t->pub_cpu_ns, t->pub_wall_ns));
}

/* ---- main ------------------------------------------------------------- */

/* Between the barriers: abort if any connection failed to join, else start
 * the clock. */
static void start_or_abort(struct run *run, struct worker *workers, uint32_t count)
{
    uint64_t failed = 0;
    const char *first = NULL;
    for (uint32_t i = 0; i < count; i++) {
        for (int k = 0; k < ERR_KINDS; k++)
            failed += workers[i].errors[k];
        if (first == NULL && workers[i].first_error[0] != '\0')
            first = workers[i].first_error;
    }
    if (failed > 0) {
        fprintf(stderr, "wsbroker-bench: %llu connections to %s failed to join; first: %s\n",
                (unsigned long long)failed, run->cfg.url, first);
        run->abort = true;
        return;
    }
    run->t_start = now_ns();
    run->ramp_ns = (uint64_t)(run->cfg.ramp_s * NS_PER_S);
    run->t_measure = run->t_start + run->ramp_ns + (uint64_t)(run->cfg.warmup_s * NS_PER_S);
    run->t_end = run->t_measure + (uint64_t)(run->cfg.duration_s * NS_PER_S);
    run->t_drain = run->t_end + (uint64_t)(run->cfg.drain_s * NS_PER_S);
    run->t_resume = run->t_measure + (uint64_t)(run->cfg.duration_s * NS_PER_S / 2);
    run->clock.t0 = run->t_start;
    run->clock.t_measure = run->t_measure;
    run->clock.t_ramp_end = run->t_start + run->ramp_ns;
    run->clock.t_end = run->t_end;
}

static bool run_prepare(struct run *run)
{
    const struct config *cfg = &run->cfg;
    run->topics = calloc(cfg->topics, sizeof *run->topics);
    run->final_seq = calloc(cfg->topics, sizeof *run->final_seq);
    run->pattern = malloc(cfg->size + PATTERN_PERIOD);
    if (run->topics == NULL || run->final_seq == NULL || run->pattern == NULL)
        return false;
    for (uint32_t t = 0; t < cfg->topics; t++) {
        struct topic_name *name = &run->topics[t];
        int n = snprintf(name->text, sizeof name->text, "%s.%u", cfg->prefix, t);
        name->len = (size_t)n;
    }
    uint64_t rng = rng_seed();
    for (size_t i = 0; i < cfg->size + PATTERN_PERIOD; i++)
        run->pattern[i] = (uint8_t)(rng_next(&rng) >> 32);
    /* wsbroker carries the data as a msgpack bin; peers carry the bytes alone */
    run->bin_header_len =
        cfg->adapter == ADAPTER_WSBROKER ? bin_header(run->bin_header, cfg->size) : 0;
    atomic_init(&run->publish_done, false);
    atomic_init(&run->workers_done, 0);
    if (cfg->zipf > 0 && !zipf_init(&run->zipf, cfg->topics, cfg->zipf))
        return false;
    double span_s =
        cfg->ramp_s + cfg->warmup_s + cfg->duration_s + cfg->drain_s + CLOSE_TIMEOUT_MS / 1000.0;
    series_clock_init(&run->clock, 0, (uint64_t)(span_s * NS_PER_S), 0, 0);
    return true;
}

/* Until every thread is done: with --progress, one line a second on stderr. */
static void watch_progress(struct run *run, const struct worker *workers, uint32_t count)
{
    uint64_t next = now_ns() + NS_PER_S, last_pub = 0, last_del = 0;
    while (atomic_load(&run->workers_done) < count) {
        struct timespec nap = {.tv_nsec = 20 * (long)NS_PER_MS};
        nanosleep(&nap, NULL);
        uint64_t now = now_ns();
        if (!run->cfg.progress || now < next)
            continue;
        next += NS_PER_S;
        uint64_t pub = 0, del = 0;
        for (uint32_t i = 0; i < count; i++) {
            uint64_t v = atomic_load_explicit(&workers[i].progress_count, memory_order_relaxed);
            if (workers[i].role == ROLE_PUBLISHER)
                pub += v;
            else
                del += v;
        }
        const char *phase = now < run->t_start + run->ramp_ns ? "ramp"
                            : now < run->t_measure            ? "warm-up"
                            : now < run->t_end                ? "measure"
                                                              : "drain/close";
        fprintf(stderr,
                "wsbroker-bench: %6.1f s %-11s published %llu (+%llu), delivered %llu (+%llu)\n",
                (double)(now - run->t_start) / NS_PER_S, phase, (unsigned long long)pub,
                (unsigned long long)(pub - last_pub), (unsigned long long)del,
                (unsigned long long)(del - last_del));
        last_pub = pub;
        last_del = del;
    }
}

/* --csv: the merged time series of the run. */
static bool write_series(const struct run *run, const struct worker *workers, uint32_t nsub,
                         const struct worker *pub)
{
    FILE *out = fopen(run->cfg.csv, "w");
    if (out == NULL) {
        fprintf(stderr, "wsbroker-bench: --csv %s: %s\n", run->cfg.csv, strerror(errno));
        return false;
    }
    struct series *recv = calloc(nsub, sizeof *recv);
    bool ok = recv != NULL;
    for (uint32_t i = 0; ok && i < nsub; i++)
        recv[i] = workers[i].series;
    ok = ok && series_write_csv(out, &run->clock, &pub->series, recv, nsub, run->cfg.size);
    free(recv);
    if (fclose(out) != 0 || !ok) {
        fprintf(stderr, "wsbroker-bench: --csv %s: write failed\n", run->cfg.csv);
        return false;
    }
    return true;
}

int pubsub_main(int argc, char **argv)
{
    struct run *run = &g_run;
    parse_args(&run->cfg, argc, argv);
    if (isatty(STDERR_FILENO))
        run->cfg.progress = true;
    const struct config *cfg = &run->cfg;
    const char *why = target_parse_url(&run->target, cfg->url);
    if (why != NULL)
        die_usage("--url '%s': %s", cfg->url, why);
    why = target_resolve(&run->target);
    if (why != NULL) {
        fprintf(stderr, "wsbroker-bench: cannot resolve %s:%s: %s\n", run->target.host,
                run->target.port, why);
        return 1;
    }
    if (run->target.tls) {
        run->tls = tls_client_ctx_new("wsbroker-bench", cfg->ca);
        if (run->tls == NULL)
            return 1;
    } else if (cfg->ca != NULL) {
        fprintf(stderr, "wsbroker-bench: --ca is ignored for a ws:// URL\n");
    }
    rlim_t need = (rlim_t)cfg->subscribers + cfg->publishers + 2 * (cfg->threads + 1) + FD_SLACK;
    rlim_t hard = 0;
    if (!raise_fd_limit(need, &hard)) {
        fprintf(stderr,
                "wsbroker-bench: %u connections need %llu descriptors; the hard limit is %llu "
                "(raise ulimit -Hn)\n",
                cfg->subscribers + cfg->publishers, (unsigned long long)need,
                (unsigned long long)hard);
        return 1;
    }
    if (!run_prepare(run)) {
        fprintf(stderr, "wsbroker-bench: out of memory\n");
        return 1;
    }
    double buffers = (double)cfg->subscribers * (double)(in_frame_bound(run) + RECV_SLACK) +
                     (double)cfg->publishers * (double)cfg->inflight *
                         (double)frame_bound(cfg->size + TOPIC_NAME_MAX + ENVELOPE_ROOM);
    if (buffers > (double)MAX_BUFFER_BYTES)
        die_usage("connections x inflight x size need over %llu MiB of buffers",
                  MAX_BUFFER_BYTES >> 20);

    uint32_t count = cfg->threads + 1; /* subscriber threads, then the publisher thread */
    struct worker *workers = calloc(count, sizeof *workers);
    if (workers == NULL) {
        fprintf(stderr, "wsbroker-bench: out of memory\n");
        return 1;
    }
    for (uint32_t i = 0, base = 0; i < cfg->threads; i++) {
        uint32_t share = cfg->subscribers / cfg->threads + (i < cfg->subscribers % cfg->threads);
        if (!worker_init(&workers[i], run, ROLE_SUBSCRIBER, i, base, share)) {
            fprintf(stderr, "wsbroker-bench: cannot set up subscriber thread %u: out of memory\n",
                    i);
            return 1;
        }
        base += share;
    }
    struct worker *pub = &workers[cfg->threads];
    if (!worker_init(pub, run, ROLE_PUBLISHER, cfg->threads, 0, cfg->publishers)) {
        fprintf(stderr, "wsbroker-bench: cannot set up the publisher thread: out of memory\n");
        return 1;
    }
    pthread_barrier_init(&run->barrier, NULL, count + 1);
    for (uint32_t i = 0; i < count; i++) {
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "wsbroker-bench: cannot start thread %u\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&run->barrier);
    start_or_abort(run, workers, count);
    pthread_barrier_wait(&run->barrier);
    watch_progress(run, workers, count);

    struct totals *t = calloc(1, sizeof *t);
    for (uint32_t i = 0; i < count; i++) {
        pthread_join(workers[i].tid, NULL);
        if (t != NULL)
            totals_add(t, &workers[i]);
    }
    if (run->abort || t == NULL)
        return 1;
    for (uint32_t i = 0; i < cfg->threads; i++)
        for (uint32_t j = 0; j < worker_sub_count(&workers[i]); j++) {
            const struct subscription *s = &workers[i].subs[j];
            uint64_t final = run->final_seq[s->topic];
            if (s->subscribed && final >= s->start)
                t->expected += final - s->start + 1;
        }
    check_sequencing(run, workers, cfg->threads, pub, t);
    /* undelivered is reported, not a fault: the protocol sets no deadline,
     * and an overloaded broker's backlog (its queues plus the kernel's socket
     * buffers) can take longer than --drain to arrive. */
    t->faults = t->n.missing + t->n.duplicates + t->n.reorders + t->n.after_gap;
    if (cfg->csv != NULL && !write_series(run, workers, cfg->threads, pub))
        t->error_sum++;
    if (cfg->json)
        report_json(cfg, t);
    else
        report_table(cfg, t);
    if (t->first_error != NULL)
        fprintf(stderr, "wsbroker-bench: %s\n", t->first_error);
    if (t->first_gap != NULL)
        fprintf(stderr, "wsbroker-bench: first gap: %s\n", t->first_gap);
    int status = t->error_sum > 0 || t->faults > 0 ? 1 : 0;
    for (uint32_t i = 0; i < count; i++)
        worker_free(&workers[i]);
    free(workers);
    free(t);
    free(run->topics);
    free(run->final_seq);
    free(run->pattern);
    zipf_free(&run->zipf);
    tls_client_ctx_free(run->tls);
    return status;
}

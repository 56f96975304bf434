/*
 * echo.c - wsbroker-bench's echo and storm scenarios, against wsbroker's
 * /echo endpoint (or any echo server). It grew out of bench/echo_load.c.
 *
 *   wsbroker-bench echo --url ws[s]://127.0.0.1:PORT/echo --connections N --threads T
 *             --duration S --size BYTES [--warmup S] [--inflight K]
 *             [--rate MSGS_PER_S] [--ca FILE] [--handshakes H] [--json]
 *
 * A wss:// URL runs every connection over TLS (wolfSSL's own I/O on a
 * non-blocking socket, readiness from the thread's io_uring); --ca FILE
 * verifies the server against that CA, else the certificate is not checked.
 * --handshakes H replaces the echo load with a connection storm: H
 * connections, at most N open at once, each doing TCP connect + TLS (for
 * wss://) + upgrade and then closing at once; it reports handshakes per second
 * and the latency of each (connect() to 101).
 *
 * Opens N WebSocket connections, doing the opening handshake itself, spread
 * over T threads that each run their own io_uring loop over their share
 * (ring_loop.h: ring connects, multishot recv into provided buffers, ring sends). Each
 * connection keeps K masked binary messages in flight (closed loop: a new one
 * goes out when an echo comes back), or, with --rate, sends on a fixed
 * schedule (open loop) with at most K in flight.
 *
 * Every payload starts with a stamp (sequence number, intended send time)
 * followed by bytes from a fixed random pattern; an echo must carry back
 * exactly the bytes sent, in order. Round trips go into a log-linear histogram
 * per thread (128 sub-buckets per power of two, under 0.8% error; the one in
 * bench/loadgen.h, shared with the pub/sub scenarios), merged at the end. In open-loop mode a
 * message's latency counts from the time it was scheduled, not when it was actually written, so a
 * stalled server is charged for the wait (no coordinated omission).
 *
 * Phases: connect + handshake (every connection, bounded by a timeout; any
 * failure aborts the run), ramp (--ramp S with --rate: the open-loop rate
 * rises linearly from 0; sent but not recorded), warm-up (sent but not
 * recorded), measurement, and close (close frame 1000, then wait a bounded
 * time for the server's close).
 *
 * --csv FILE writes a per-second time series (sent and echoed, or for a storm
 * connections started and handshakes completed, with latency percentiles)
 * that bench/plot.gp draws; --progress prints a line a second on stderr.
 *
 * Exit status: 0 for a clean run, 1 if any error was counted, 2 on bad usage.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn_io.h"
#include "loadgen.h"
#include "scenario.h"
#include "series.h"
#include "ws_close.h"
#include "ws_frame.h"

/* Limits and defaults. */
#define DEFAULT_DURATION_S    10.0
#define DEFAULT_WARMUP_S      1.0
#define DEFAULT_INFLIGHT      1  /* closed loop: messages in flight per connection */
#define DEFAULT_RATE_INFLIGHT 64 /* open loop: the cap before sends are held back */
#define MAX_DURATION_S        3600.0
#define MAX_CONNECTIONS       100000
#define MAX_THREADS           256
#define MAX_INFLIGHT          4096
#define STAMP_BYTES           16 /* sequence number + intended send time */
#define MIN_PAYLOAD           STAMP_BYTES
#define MAX_PAYLOAD           (16u << 20)  /* the broker's default --max-message */
#define MAX_BUFFER_BYTES      (1ull << 30) /* all connections' buffers together */
#define CONNECT_TIMEOUT_MS    5000         /* TCP connect + opening handshake */
#define CLOSE_TIMEOUT_MS      2000         /* wait for the server's close reply */
#define STORM_SERIES_S        120.0        /* --csv of a storm: rows for this long */
#define RECV_SLACK            16384        /* receive room beyond one whole frame */
#define CONTROL_ROOM          (2 * (WS_FRAME_MAX_HEADER + WS_CONTROL_MAX_PAYLOAD))
#define PATTERN_PERIOD        256   /* payload bytes start at pattern[seq % PERIOD] */
#define RING_BUFS_PER_CONN    4     /* the provided buffer ring: per connection of the thread, */
#define RING_BUFS_MIN         64    /* at least this many, */
#define RING_BUFS_MAX         4096  /* at most this many (a power of two), */
#define RING_BUF_BYTES        16384 /* of this size */
#define FD_SLACK              64    /* descriptors beyond one per connection */
#define TIMER_SLACK_NS        1ul   /* see worker_main */

enum err_kind { ERR_CONNECT, ERR_HANDSHAKE, ERR_PROTOCOL, ERR_MISMATCH, ERR_CLOSED, ERR_KINDS };
static const char *const err_names[ERR_KINDS] = {"connect", "handshake", "protocol", "mismatch",
                                                 "closed"};

struct config {
    const char *url;
    uint32_t connections;
    uint32_t threads;
    double duration_s;
    double warmup_s;
    size_t size;
    uint32_t inflight;
    double rate; /* total messages per second; 0: closed loop */
    bool json;
    const char *ca;      /* --ca: CA file for wss:// */
    uint64_t handshakes; /* --handshakes: connection storm instead of echoes */
    double ramp_s;       /* open loop: seconds from 0 to --rate, before the warm-up */
    const char *csv;     /* --csv: time series file */
    bool progress;       /* --progress: a line a second on stderr */
};

/* What the whole run shares; written by main before the threads start or
 * between the two barrier waits, read-only for the threads after that. */
struct run {
    struct config cfg;
    struct target target; /* parsed and resolved --url */
    uint8_t *pattern;     /* size + PATTERN_PERIOD random bytes */
    WOLFSSL_CTX *tls;     /* wss:// only */
    pthread_barrier_t barrier;
    bool abort;
    uint64_t t_start;          /* first send */
    uint64_t ramp_ns;          /* --ramp: the rate rises from 0 over [t_start, t_start + ramp_ns) */
    uint64_t t_measure;        /* end of ramp + warm-up */
    struct series_clock clock; /* --csv intervals */
    _Atomic uint32_t workers_done; /* threads finished, for the progress loop */
    uint64_t t_end;                /* end of measurement */
};

enum conn_state { CONN_CONNECTING, CONN_HANDSHAKING, CONN_OPEN, CONN_CLOSING, CONN_DONE };

struct sent_msg {
    uint64_t seq;
    uint64_t intended_ns;
};

/* One connection; owned by one worker, buffers allocated once at setup. */
struct conn {
    struct conn_io io;   /* socket, TLS, output and input buffers */
    uint64_t started_ns; /* --handshakes: when connect() was called */
    enum conn_state state;
    uint32_t index;        /* position within the worker's connections */
    struct sent_msg *ring; /* messages in flight, oldest at ring_head */
    uint32_t ring_head, ring_count;
    uint64_t next_seq;
    char key[HANDSHAKE_KEY_LEN + 1];
};

struct worker {
    pthread_t tid;
    const struct run *run;
    struct ring_loop loop;
    struct conn *conns;
    uint32_t nconns;
    uint32_t base;      /* run-wide number of conns[0], for messages */
    uint32_t open;      /* connections not yet CONN_DONE */
    uint64_t rng;       /* xorshift state for masks and keys */
    uint8_t *scratch;   /* one plaintext payload */
    double slot_ns;     /* open loop: time between two of this worker's sends */
    uint64_t next_slot; /* open loop: the next send slot to visit */
    struct hist hist;   /* round trips in the measurement window */
    uint64_t msgs;      /* echoes counted in the measurement window */
    uint64_t clean_closes;
    uint64_t cpu_ns; /* this thread's CPU time over warm-up + measurement */
    uint64_t errors[ERR_KINDS];
    char first_error[256];
    uint64_t hs_left;               /* --handshakes: connections still to start */
    struct series sent;             /* --csv: sends (storm: connects) per interval; owned */
    struct series recv;             /* --csv: echoes (storm: 101s) and latencies; owned */
    _Atomic uint64_t progress_sent; /* for the progress line */
    _Atomic uint64_t progress_done;
};

static struct run g_run;

/* ---- connection plumbing ---------------------------------------------- */

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->state == CONN_DONE)
        return;
    conn_io_close(&w->loop, &c->io);
    c->state = CONN_DONE;
    w->open--;
}

static void conn_fail(struct worker *w, struct conn *c, enum err_kind kind, const char *fmt, ...)
{
    w->errors[kind]++;
    if (w->first_error[0] == '\0') {
        int n = snprintf(w->first_error, sizeof w->first_error,
                         "%s error on connection %u: ", err_names[kind], w->base + c->index);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof w->first_error)
            vsnprintf(w->first_error + n, sizeof w->first_error - (size_t)n, fmt, ap);
        va_end(ap);
    }
    conn_close(w, c);
}

static void conn_on_send_error(struct worker *w, struct conn *c, int err)
{
    if (c->state == CONN_CLOSING)
        conn_close(w, c);
    else
        conn_fail(w, c, c->state == CONN_OPEN ? ERR_CLOSED : ERR_HANDSHAKE, "send: %s",
                  strerror(err));
}

static const struct conn_io_ops conn_ops; /* the transport's calls, defined with worker_poll */

static void conn_flush(struct worker *w, struct conn *c)
{
    conn_io_flush(&w->loop, &c->io, &conn_ops, w);
}

static void conn_queue_control(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len,
                               uint64_t *rng)
{
    uint8_t *dst = conn_io_reserve(&c->io, WS_FRAME_MAX_HEADER + len);
    if (dst == NULL)
        return; /* only a flood of pings gets here; dropping a pong is harmless */
    uint32_t mask = (uint32_t)rng_next(rng);
    c->io.out_len += ws_frame_encode_client(dst, c->io.out_cap - c->io.out_len, payload, len,
                                            opcode, true, (const uint8_t *)&mask);
}

static void conn_queue_close(struct worker *w, struct conn *c)
{
    uint8_t code[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
    conn_queue_control(c, WS_OP_CLOSE, code, sizeof code, &w->rng);
    c->state = CONN_CLOSING;
}

/* ---- opening handshake ------------------------------------------------ */

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

static void conn_send_upgrade(struct worker *w, struct conn *c)
{
    uint8_t raw[HANDSHAKE_KEY_BYTES];
    rng_fill(&w->rng, raw, sizeof raw);
    c->io.out_off = 0;
    const struct target *t = &w->run->target;
    struct handshake_request req = {.host = t->host, .port = t->port, .path = t->path};
    c->io.out_len = handshake_write_request((char *)c->io.out, c->io.out_cap, &req, raw, c->key);
    c->state = CONN_HANDSHAKING;
    conn_flush(w, c);
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
    conn_send_upgrade(w, c);
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
    c->state = CONN_OPEN;
    if (w->run->cfg.handshakes > 0) { /* storm: count it, send close 1000, hang up */
        uint64_t now = now_ns();
        hist_record(&w->hist, now - c->started_ns);
        w->msgs++;
        series_record(&w->recv, &w->run->clock, now, now - c->started_ns);
        atomic_fetch_add_explicit(&w->progress_done, 1, memory_order_relaxed);
        conn_queue_close(w, c);
        conn_flush(w, c);
        conn_close(w, c);
    }
    return head_len;
}

/* ---- messages --------------------------------------------------------- */

static const uint8_t *pattern_at(const struct run *run, uint64_t seq)
{
    return run->pattern + seq % PATTERN_PERIOD;
}

static size_t frame_bytes(const struct config *cfg)
{
    return cfg->size + ws_frame_header_size(cfg->size, true);
}

/* Queues one message stamped with its intended send time. */
static bool conn_queue_message(struct worker *w, struct conn *c, uint64_t intended_ns)
{
    const struct run *run = w->run;
    size_t size = run->cfg.size;
    uint8_t *dst = conn_io_reserve(&c->io, frame_bytes(&run->cfg));
    if (dst == NULL)
        return false;
    uint64_t seq = c->next_seq++;
    memcpy(w->scratch, &seq, sizeof seq);
    memcpy(w->scratch + sizeof seq, &intended_ns, sizeof intended_ns);
    memcpy(w->scratch + STAMP_BYTES, pattern_at(run, seq), size - STAMP_BYTES);
    uint32_t mask = (uint32_t)rng_next(&w->rng);
    c->io.out_len += ws_frame_encode_client(dst, c->io.out_cap - c->io.out_len, w->scratch, size,
                                            WS_OP_BINARY, true, (const uint8_t *)&mask);
    struct sent_msg *m = &c->ring[(c->ring_head + c->ring_count) % run->cfg.inflight];
    m->seq = seq;
    m->intended_ns = intended_ns;
    c->ring_count++;
    series_record(&w->sent, &run->clock, intended_ns, 0);
    atomic_fetch_add_explicit(&w->progress_sent, 1, memory_order_relaxed);
    return true;
}

/* Open loop: when message k of connection j was due. Slots go round-robin
 * over the worker's connections, so each connection sends at rate/N. */
static uint64_t intended_time(const struct worker *w, const struct conn *c, uint64_t k)
{
    double slot = (double)k * w->nconns + c->index;
    return open_loop_due(w->run->t_start, w->slot_ns, w->run->ramp_ns, slot);
}

/* Tops the connection up to its in-flight limit (closed loop), or sends what
 * is due under that limit (open loop). */
static void conn_pump(struct worker *w, struct conn *c, uint64_t now)
{
    const struct config *cfg = &w->run->cfg;
    if (c->state != CONN_OPEN || now >= w->run->t_end)
        return;
    while (c->ring_count < cfg->inflight) {
        uint64_t intended = now;
        if (cfg->rate > 0) {
            intended = intended_time(w, c, c->next_seq);
            if (intended > now)
                break;
        }
        if (!conn_queue_message(w, c, intended))
            break;
    }
}

static void conn_on_echo(struct worker *w, struct conn *c, const struct ws_frame *f, uint64_t now)
{
    const struct run *run = w->run;
    if (c->state == CONN_CLOSING)
        return; /* late echoes while closing are drained, not checked */
    if (c->ring_count == 0) {
        conn_fail(w, c, ERR_PROTOCOL, "message with nothing in flight");
        return;
    }
    const struct sent_msg *m = &c->ring[c->ring_head];
    uint64_t seq, intended;
    if (f->payload_len != run->cfg.size) {
        conn_fail(w, c, ERR_MISMATCH, "echo of %llu bytes, sent %zu",
                  (unsigned long long)f->payload_len, run->cfg.size);
        return;
    }
    memcpy(&seq, f->payload, sizeof seq);
    memcpy(&intended, f->payload + sizeof seq, sizeof intended);
    if (seq != m->seq || intended != m->intended_ns ||
        memcmp(f->payload + STAMP_BYTES, pattern_at(run, seq), run->cfg.size - STAMP_BYTES) != 0) {
        conn_fail(w, c, ERR_MISMATCH, "echo of message %llu differs from what was sent",
                  (unsigned long long)m->seq);
        return;
    }
    if (intended >= run->t_measure && now <= run->t_end) {
        hist_record(&w->hist, now - intended);
        w->msgs++;
    }
    series_record(&w->recv, &run->clock, now, now > intended ? now - intended : 0);
    atomic_fetch_add_explicit(&w->progress_done, 1, memory_order_relaxed);
    c->ring_head = (c->ring_head + 1) % run->cfg.inflight;
    c->ring_count--;
}

static void conn_on_close_frame(struct worker *w, struct conn *c, const struct ws_frame *f)
{
    if (c->state == CONN_CLOSING) {
        w->clean_closes++;
        conn_close(w, c);
        return;
    }
    unsigned code = f->payload_len >= 2 ? (unsigned)f->payload[0] << 8 | f->payload[1] : 1005;
    int reason_len = f->payload_len > 2 ? (int)f->payload_len - 2 : 0;
    conn_fail(w, c, ERR_CLOSED, "server sent close %u \"%.*s\"", code, reason_len,
              (const char *)f->payload + 2);
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
        conn_on_echo(w, c, f, now);
        break;
    case WS_OP_CLOSE:
        conn_on_close_frame(w, c, f);
        break;
    case WS_OP_PING:
        conn_queue_control(c, WS_OP_PONG, f->payload, (size_t)f->payload_len, &w->rng);
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
    while (c->state == CONN_OPEN || c->state == CONN_CLOSING) {
        struct ws_frame f;
        memset(&f, 0, sizeof f);
        ssize_t n = ws_frame_parse(bytes + off, len - off, &f);
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
    conn_pump(w, c, now);
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
    case CONN_OPEN:
        conn_fail(w, c, ERR_CLOSED, "%s without a close frame", why);
        break;
    default:
        conn_close(w, c); /* closing: the server dropped TCP before its close */
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
        if (c->state != CONN_OPEN)
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

/* Fails the connections that did not open within CONNECT_TIMEOUT_MS. */
static void worker_fail_unopened(struct worker *w)
{
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == CONN_CONNECTING && c->io.ssl != NULL)
            conn_fail(w, c, ERR_CONNECT, "no TCP connection and TLS handshake within %d ms",
                      CONNECT_TIMEOUT_MS);
        else if (c->state == CONN_CONNECTING)
            conn_fail(w, c, ERR_CONNECT, "no TCP connection within %d ms", CONNECT_TIMEOUT_MS);
        else if (c->state == CONN_HANDSHAKING)
            conn_fail(w, c, ERR_HANDSHAKE, "no complete response to the upgrade within %d ms",
                      CONNECT_TIMEOUT_MS);
    }
}

static uint32_t worker_count_open(const struct worker *w)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->nconns; i++)
        n += w->conns[i].state == CONN_OPEN;
    return n;
}

static void worker_connect_all(struct worker *w)
{
    uint64_t deadline = now_ns() + CONNECT_TIMEOUT_MS * NS_PER_MS;
    for (uint32_t i = 0; i < w->nconns; i++)
        conn_start_connect(w, &w->conns[i]);
    while (worker_count_open(w) < w->open && now_ns() < deadline)
        worker_poll(w, deadline);
    worker_fail_unopened(w);
}

/* Open loop: visits the send slots that came due (one connection each). */
static uint64_t worker_visit_slots(struct worker *w, uint64_t now)
{
    for (;;) {
        uint64_t due =
            open_loop_due(w->run->t_start, w->slot_ns, w->run->ramp_ns, (double)w->next_slot);
        if (due > now)
            return due;
        struct conn *c = &w->conns[w->next_slot % w->nconns];
        conn_pump(w, c, now);
        if (c->state == CONN_OPEN)
            conn_flush(w, c);
        w->next_slot++;
    }
}

static void worker_run_load(struct worker *w)
{
    const struct run *run = w->run;
    uint64_t cpu_start = thread_cpu_ns();
    uint64_t now = now_ns();
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        conn_pump(w, c, now);
        if (c->state == CONN_OPEN)
            conn_flush(w, c);
    }
    while (w->open > 0 && (now = now_ns()) < run->t_end) {
        uint64_t until = run->t_end;
        if (run->cfg.rate > 0) {
            uint64_t due = worker_visit_slots(w, now);
            until = due < until ? due : until;
        }
        worker_poll(w, until);
    }
    w->cpu_ns = thread_cpu_ns() - cpu_start;
}

/* Sends close 1000 on every open connection and waits, bounded, for the
 * server's close; whatever is still open then is just dropped. */
static void worker_close_all(struct worker *w)
{
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state != CONN_OPEN)
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

/* --handshakes: keeps every slot busy with a fresh connection until this
 * worker's share has been started, then waits for the last ones. A slot
 * that has not reached its 101 within CONNECT_TIMEOUT_MS fails. */
static void worker_run_storm(struct worker *w)
{
    uint64_t cpu_start = thread_cpu_ns();
    for (;;) {
        uint64_t now = now_ns();
        for (uint32_t i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];
            if (c->state != CONN_DONE && now - c->started_ns > CONNECT_TIMEOUT_MS * NS_PER_MS)
                conn_fail(w, c, c->state == CONN_CONNECTING ? ERR_CONNECT : ERR_HANDSHAKE,
                          "no 101 within %d ms of connect()", CONNECT_TIMEOUT_MS);
            if (c->state == CONN_DONE && w->hs_left > 0) {
                w->hs_left--;
                c->io.in_len = c->io.out_off = c->io.out_len = 0;
                c->ring_head = c->ring_count = 0;
                c->started_ns = now_ns();
                series_record(&w->sent, &w->run->clock, c->started_ns, 0);
                atomic_fetch_add_explicit(&w->progress_sent, 1, memory_order_relaxed);
                conn_start_connect(w, c);
            }
        }
        if (w->open == 0)
            break;
        worker_poll(w, now_ns() + 100 * NS_PER_MS);
    }
    w->cpu_ns = thread_cpu_ns() - cpu_start;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* The default 50 us timer slack would make open-loop sends late, and
     * the lateness would be charged to the server. */
    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS);
    if (w->run->cfg.handshakes > 0) {
        pthread_barrier_wait(&g_run.barrier);
        pthread_barrier_wait(&g_run.barrier);
        worker_run_storm(w);
    } else {
        worker_connect_all(w);
        pthread_barrier_wait(&g_run.barrier); /* main checks the connect results */
        pthread_barrier_wait(&g_run.barrier); /* main set the clock, or abort */
        if (!g_run.abort)
            worker_run_load(w);
        worker_close_all(w);
    }
    tls_thread_end();
    atomic_fetch_add(&g_run.workers_done, 1);
    return NULL;
}

static bool worker_init(struct worker *w, const struct run *run, uint32_t base, uint32_t nconns)
{
    const struct config *cfg = &run->cfg;
    memset(w, 0, sizeof *w);
    w->run = run;
    w->nconns = nconns;
    w->base = base;
    w->rng = rng_seed();
    w->scratch = malloc(cfg->size);
    w->conns = calloc(nconns, sizeof *w->conns);
    if (w->scratch == NULL || w->conns == NULL)
        return false;
    int rc = ring_loop_init(
        &w->loop, ring_buffer_count(nconns, RING_BUFS_PER_CONN, RING_BUFS_MIN, RING_BUFS_MAX),
        RING_BUF_BYTES);
    if (rc < 0) {
        fprintf(stderr, "wsbroker-bench: io_uring setup: %s\n", strerror(-rc));
        return false;
    }
    if (cfg->rate > 0)
        w->slot_ns = (double)NS_PER_S * cfg->connections / (cfg->rate * nconns);
    size_t out_cap = cfg->inflight * frame_bytes(cfg) + CONTROL_ROOM + HANDSHAKE_MAX_RESPONSE;
    size_t in_cap = frame_bytes(cfg) + RECV_SLACK;
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
        c->ring = calloc(cfg->inflight, sizeof *c->ring);
        if (c->io.out == NULL || c->io.in == NULL || c->ring == NULL)
            return false;
    }
    return true;
}

static void worker_free(struct worker *w)
{
    for (uint32_t i = 0; w->conns != NULL && i < w->nconns; i++) {
        free(w->conns[i].io.out);
        free(w->conns[i].io.in);
        free(w->conns[i].ring);
    }
    free(w->conns);
    free(w->scratch);
    series_free(&w->sent);
    series_free(&w->recv);
    ring_loop_free(&w->loop);
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: wsbroker-bench echo|storm --url ws[s]://HOST:PORT/PATH --connections N "
            "--threads T\n"
            "                 --duration S --size BYTES [--warmup S] [--inflight K]\n"
            "                 [--rate MSGS_PER_S] [--ca FILE] [--handshakes H] [--json]\n"
            "                 [--ramp S] [--csv FILE] [--progress]\n"
            "  --duration   measured seconds (default %.0f, at most %.0f)\n"
            "  --warmup     seconds sent before measuring (default %.0f)\n"
            "  --size       payload bytes, %d..%u (a %d-byte stamp, then a pattern)\n"
            "  --inflight   messages in flight per connection (default %d closed loop,\n"
            "               %d with --rate)\n"
            "  --rate       open loop: total messages per second over all connections\n"
            "  --ca         wss://: verify the server against this CA file (else unverified)\n"
            "  --handshakes connection storm: H x (connect, TLS, upgrade, close), at most\n"
            "               --connections at once; reports handshakes/s and latency\n"
            "  --ramp S     open loop: first raise the rate linearly from 0 to --rate over\n"
            "               S seconds (before the warm-up; not measured, like it)\n"
            "  --csv FILE   per-second time series (bench/plot.gp draws it)\n"
            "  --progress   a progress line on stderr every second (default when stderr\n"
            "               is a terminal)\n"
            "  --json       one JSON object instead of the table\n",
            DEFAULT_DURATION_S, MAX_DURATION_S, DEFAULT_WARMUP_S, MIN_PAYLOAD, MAX_PAYLOAD,
            STAMP_BYTES, DEFAULT_INFLIGHT, DEFAULT_RATE_INFLIGHT);
}

static void die_usage(const char *fmt, ...)
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

static void parse_args(struct config *cfg, struct target *target, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"connections", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'w'},
        {"inflight", required_argument, NULL, 'k'},
        {"rate", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"ca", required_argument, NULL, 'a'},
        {"handshakes", required_argument, NULL, 'H'},
        {"ramp", required_argument, NULL, 'M'},
        {"csv", required_argument, NULL, 'V'},
        {"progress", no_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *cfg = (struct config){.connections = 1,
                           .threads = 1,
                           .duration_s = DEFAULT_DURATION_S,
                           .warmup_s = DEFAULT_WARMUP_S,
                           .size = 64};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            cfg->url = optarg;
            break;
        case 'c':
            cfg->connections = (uint32_t)parse_number("--connections", optarg, 1, MAX_CONNECTIONS);
            break;
        case 't':
            cfg->threads = (uint32_t)parse_number("--threads", optarg, 1, MAX_THREADS);
            break;
        case 'd':
            cfg->duration_s = parse_number("--duration", optarg, 0.001, MAX_DURATION_S);
            break;
        case 'w':
            cfg->warmup_s = parse_number("--warmup", optarg, 0, MAX_DURATION_S);
            break;
        case 's':
            cfg->size = (size_t)parse_number("--size", optarg, MIN_PAYLOAD, MAX_PAYLOAD);
            break;
        case 'k':
            cfg->inflight = (uint32_t)parse_number("--inflight", optarg, 1, MAX_INFLIGHT);
            break;
        case 'r':
            cfg->rate = parse_number("--rate", optarg, 0.001, 1e9);
            break;
        case 'j':
            cfg->json = true;
            break;
        case 'a':
            cfg->ca = optarg;
            break;
        case 'H':
            cfg->handshakes = (uint64_t)parse_number("--handshakes", optarg, 1, 1e12);
            break;
        case 'M':
            cfg->ramp_s = parse_number("--ramp", optarg, 0, MAX_DURATION_S);
            break;
        case 'V':
            cfg->csv = optarg;
            break;
        case 'G':
            cfg->progress = true;
            break;
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
    const char *why = target_parse_url(target, cfg->url);
    if (why != NULL)
        die_usage("--url '%s': %s", cfg->url, why);
    if (cfg->ramp_s > 0 && (cfg->rate == 0 || cfg->handshakes > 0))
        die_usage("--ramp needs --rate (a closed loop or a storm has no rate to ramp)");
    if (cfg->inflight == 0)
        cfg->inflight = cfg->rate > 0 ? DEFAULT_RATE_INFLIGHT : DEFAULT_INFLIGHT;
    if (cfg->threads > cfg->connections)
        cfg->threads = cfg->connections;
    size_t per_conn = cfg->inflight * frame_bytes(cfg) + frame_bytes(cfg) + RECV_SLACK;
    if ((double)per_conn * cfg->connections > (double)MAX_BUFFER_BYTES)
        die_usage("connections x inflight x size needs over %llu MiB of buffers",
                  MAX_BUFFER_BYTES >> 20);
}

/* ---- setup and report ------------------------------------------------- */

/* One descriptor per connection: raise the soft limit up to the hard one.
 * Only a hard limit that is too low stops the run; if getrlimit or setrlimit
 * fails, the run goes on and finds out at connect time. */
static void ensure_fd_limit(uint32_t connections, uint32_t threads)
{
    rlim_t need = (rlim_t)connections + threads + FD_SLACK;
    rlim_t hard = RLIM_INFINITY;
    if (raise_fd_limit(need, &hard) || hard >= need) /* RLIM_INFINITY is the largest */
        return;
    fprintf(
        stderr,
        "wsbroker-bench: %u connections need %llu descriptors; raise ulimit -n (hard limit %llu)\n",
        connections, (unsigned long long)need, (unsigned long long)hard);
    exit(1);
}

static uint8_t *make_pattern(size_t size)
{
    size_t len = size + PATTERN_PERIOD;
    uint8_t *p = malloc(len);
    uint64_t rng = rng_seed();
    for (size_t i = 0; p != NULL && i < len; i++)
        p[i] = (uint8_t)(rng_next(&rng) >> 32);
    return p;
}

struct totals {
    struct hist hist;
    uint64_t msgs;
    uint64_t clean_closes;
    uint64_t cpu_ns;
    uint64_t errors[ERR_KINDS];
    uint64_t error_sum;
    const char *first_error;
};

static void totals_add(struct totals *t, const struct worker *w)
{
    hist_merge(&t->hist, &w->hist);
    t->msgs += w->msgs;
    t->clean_closes += w->clean_closes;
    t->cpu_ns += w->cpu_ns;
    for (int k = 0; k < ERR_KINDS; k++) {
        t->errors[k] += w->errors[k];
        t->error_sum += w->errors[k];
    }
    if (t->first_error == NULL && w->first_error[0] != '\0')
        t->first_error = w->first_error;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

/* The generator's own CPU use, in percent of one core (all threads summed):
 * near 100 x threads means the generator, not the server, set the pace. */
static double client_cpu_pct(const struct config *cfg, const struct totals *t)
{
    return 100.0 * (double)t->cpu_ns / ((cfg->ramp_s + cfg->warmup_s + cfg->duration_s) * NS_PER_S);
}

static void report_table(const struct config *cfg, const struct totals *t)
{
    const struct hist *h = &t->hist;
    double msgs_s = (double)t->msgs / cfg->duration_s;
    printf("wsbroker-bench %s %s: %u connections, %u threads, %zu B payload, inflight %u, ",
           bench_scenario, cfg->url, cfg->connections, cfg->threads, cfg->size, cfg->inflight);
    if (cfg->rate > 0)
        printf("open loop at %.0f msgs/s", cfg->rate);
    else
        printf("closed loop");
    printf(", %.1f s (+%.1f s warm-up)\n", cfg->duration_s, cfg->warmup_s);
    printf("%11s %11s %9s %9s %9s %9s %9s %9s %7s\n", "connections", "msgs/s", "MB/s", "p50 us",
           "p90 us", "p99 us", "p99.9 us", "max us", "errors");
    printf("%11u %11.0f %9.2f %9.1f %9.1f %9.1f %9.1f %9.1f %7llu\n", cfg->connections, msgs_s,
           msgs_s * (double)cfg->size / 1e6, us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
           us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)), us(h->max),
           (unsigned long long)t->error_sum);
    printf("errors:");
    for (int k = 0; k < ERR_KINDS; k++)
        printf(" %s %llu", err_names[k], (unsigned long long)t->errors[k]);
    printf("; clean closes %llu/%u; client CPU %.0f%% of a core\n",
           (unsigned long long)t->clean_closes, cfg->connections, client_cpu_pct(cfg, t));
}

static void report_json(const struct config *cfg, const struct totals *t)
{
    const struct hist *h = &t->hist;
    double msgs_s = (double)t->msgs / cfg->duration_s;
    printf("{\"scenario\":\"%s\",\"url\":\"%s\",\"connections\":%u,\"threads\":%u,\"size\":%zu,"
           "\"inflight\":%u,"
           "\"rate\":%.3f,\"duration_s\":%.3f,\"warmup_s\":%.3f,\"ramp_s\":%.3f,"
           "\"messages\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,",
           bench_scenario, cfg->url, cfg->connections, cfg->threads, cfg->size, cfg->inflight,
           cfg->rate, cfg->duration_s, cfg->warmup_s, cfg->ramp_s, (unsigned long long)t->msgs,
           msgs_s, msgs_s * (double)cfg->size / 1e6);
    printf("\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f,"
           "\"mean\":%.1f},",
           us(hist_percentile(h, 50)), us(hist_percentile(h, 90)), us(hist_percentile(h, 99)),
           us(hist_percentile(h, 99.9)), us(h->max), hist_mean(h) / 1000.0);
    printf("\"errors\":{");
    for (int k = 0; k < ERR_KINDS; k++)
        printf("%s\"%s\":%llu", k ? "," : "", err_names[k], (unsigned long long)t->errors[k]);
    printf("},\"clean_closes\":%llu,\"client_cpu_pct\":%.1f}\n",
           (unsigned long long)t->clean_closes, client_cpu_pct(cfg, t));
}

/* --handshakes: msgs counts the upgrades completed, hist their latency. */
static void report_storm(const struct config *cfg, const struct totals *t, double wall_s)
{
    const struct hist *h = &t->hist;
    double rate = (double)t->msgs / wall_s;
    if (cfg->json) {
        printf("{\"scenario\":\"%s\",\"url\":\"%s\",\"handshakes\":%llu,\"completed\":%llu,"
               "\"parallel\":%u,"
               "\"threads\":%u,\"wall_s\":%.3f,\"handshakes_per_s\":%.1f,"
               "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,"
               "\"max\":%.1f,\"mean\":%.1f},\"errors\":%llu,\"client_cpu_pct\":%.1f}\n",
               bench_scenario, cfg->url, (unsigned long long)cfg->handshakes,
               (unsigned long long)t->msgs, cfg->connections, cfg->threads, wall_s, rate,
               us(hist_percentile(h, 50)), us(hist_percentile(h, 90)), us(hist_percentile(h, 99)),
               us(hist_percentile(h, 99.9)), us(h->max), hist_mean(h) / 1000.0,
               (unsigned long long)t->error_sum, 100.0 * (double)t->cpu_ns / (wall_s * NS_PER_S));
        return;
    }
    printf(
        "wsbroker-bench %s %s: connection storm, %llu x (connect%s + upgrade + close), %u at once, "
        "%u threads\n",
        bench_scenario, cfg->url, (unsigned long long)cfg->handshakes,
        strncmp(cfg->url, "wss", 3) ? "" : " + TLS", cfg->connections, cfg->threads);
    printf("%11s %9s %12s %9s %9s %9s %9s %9s %7s\n", "completed", "wall s", "handshakes/s",
           "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "errors");
    printf("%11llu %9.2f %12.0f %9.1f %9.1f %9.1f %9.1f %9.1f %7llu\n", (unsigned long long)t->msgs,
           wall_s, rate, us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
           us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)), us(h->max),
           (unsigned long long)t->error_sum);
    printf("errors:");
    for (int k = 0; k < ERR_KINDS; k++)
        printf(" %s %llu", err_names[k], (unsigned long long)t->errors[k]);
    printf("; client CPU %.0f%% of a core\n", 100.0 * (double)t->cpu_ns / (wall_s * NS_PER_S));
}

/* Between the barriers: abort if any connection failed, else start the clock. */
static void start_or_abort(struct run *run, struct worker *workers)
{
    uint64_t failed[ERR_KINDS] = {0};
    const char *first = NULL;
    for (uint32_t i = 0; i < run->cfg.threads; i++) {
        failed[ERR_CONNECT] += workers[i].errors[ERR_CONNECT];
        failed[ERR_HANDSHAKE] += workers[i].errors[ERR_HANDSHAKE];
        if (first == NULL && workers[i].first_error[0] != '\0')
            first = workers[i].first_error;
    }
    if (failed[ERR_CONNECT] + failed[ERR_HANDSHAKE] > 0) {
        fprintf(
            stderr,
            "wsbroker-bench: %llu of %u connections to %s failed (connect %llu, handshake %llu); "
            "first: %s\n",
            (unsigned long long)(failed[ERR_CONNECT] + failed[ERR_HANDSHAKE]), run->cfg.connections,
            run->cfg.url, (unsigned long long)failed[ERR_CONNECT],
            (unsigned long long)failed[ERR_HANDSHAKE], first);
        run->abort = true;
        return;
    }
    run->t_start = now_ns();
    run->ramp_ns = (uint64_t)(run->cfg.ramp_s * NS_PER_S);
    run->t_measure = run->t_start + run->ramp_ns + (uint64_t)(run->cfg.warmup_s * NS_PER_S);
    run->t_end = run->t_measure + (uint64_t)(run->cfg.duration_s * NS_PER_S);
    run->clock.t0 = run->t_start;
    run->clock.t_ramp_end = run->t_start + run->ramp_ns;
    run->clock.t_measure = run->cfg.handshakes > 0 ? run->t_start : run->t_measure;
    run->clock.t_end = run->cfg.handshakes > 0 ? run->t_start : run->t_end; /* storm: open-ended */
}

/* A line a second on stderr until every worker is done. */
static void watch_progress(struct run *run, const struct worker *workers)
{
    const struct config *cfg = &run->cfg;
    bool storm = cfg->handshakes > 0;
    uint64_t next = now_ns() + NS_PER_S, last_sent = 0, last_done = 0;
    while (atomic_load(&run->workers_done) < cfg->threads) {
        struct timespec nap = {.tv_nsec = 20 * (long)NS_PER_MS};
        nanosleep(&nap, NULL);
        uint64_t now = now_ns();
        if (!cfg->progress || run->abort || now < next)
            continue;
        next += NS_PER_S;
        uint64_t sent = 0, done = 0;
        for (uint32_t i = 0; i < cfg->threads; i++) {
            sent += atomic_load_explicit(&workers[i].progress_sent, memory_order_relaxed);
            done += atomic_load_explicit(&workers[i].progress_done, memory_order_relaxed);
        }
        const char *phase = storm                               ? "storm"
                            : now < run->t_start + run->ramp_ns ? "ramp"
                            : now < run->t_measure              ? "warm-up"
                            : now < run->t_end                  ? "measure"
                                                                : "close";
        fprintf(stderr, "wsbroker-bench: %6.1f s %-8s %s %llu (+%llu), %s %llu (+%llu)\n",
                (double)(now - run->t_start) / NS_PER_S, phase, storm ? "connects" : "sent",
                (unsigned long long)sent, (unsigned long long)(sent - last_sent),
                storm ? "handshakes" : "echoed", (unsigned long long)done,
                (unsigned long long)(done - last_done));
        last_sent = sent;
        last_done = done;
    }
}

/* --csv: the workers' sends summed into one series, their receipts side by side. */
static bool write_series(const struct run *run, const struct worker *workers)
{
    const struct config *cfg = &run->cfg;
    FILE *out = fopen(cfg->csv, "w");
    if (out == NULL) {
        fprintf(stderr, "wsbroker-bench: --csv %s: %s\n", cfg->csv, strerror(errno));
        return false;
    }
    struct series sent = {0};
    struct series *recv = calloc(cfg->threads, sizeof *recv);
    bool ok = recv != NULL && series_init(&sent, run->clock.count, false);
    for (uint32_t i = 0; ok && i < cfg->threads; i++) {
        recv[i] = workers[i].recv;
        for (uint32_t k = 0; k < sent.count; k++)
            sent.events[k] += workers[i].sent.events[k];
    }
    ok = ok && series_write_csv(out, &run->clock, &sent, recv, cfg->threads,
                                cfg->handshakes > 0 ? 0 : cfg->size);
    series_free(&sent);
    free(recv);
    if (fclose(out) != 0 || !ok) {
        fprintf(stderr, "wsbroker-bench: --csv %s: write failed\n", cfg->csv);
        return false;
    }
    return true;
}

int echo_main(int argc, char **argv)
{
    struct run *run = &g_run;
    parse_args(&run->cfg, &run->target, argc, argv);
    if (isatty(STDERR_FILENO))
        run->cfg.progress = true;
    const struct config *cfg = &run->cfg;
    /* a storm's length is not known: past STORM_SERIES_S its rows pile into the last one */
    double span_s = cfg->handshakes > 0
                        ? STORM_SERIES_S
                        : cfg->ramp_s + cfg->warmup_s + cfg->duration_s + CLOSE_TIMEOUT_MS / 1000.0;
    series_clock_init(&run->clock, 0, (uint64_t)(span_s * NS_PER_S), 0, 0);
    const char *why = target_resolve(&run->target);
    if (why != NULL) {
        fprintf(stderr, "wsbroker-bench: cannot resolve %s:%s: %s\n", run->target.host,
                run->target.port, why);
        return 1;
    }
    ensure_fd_limit(cfg->connections, cfg->threads);
    if (run->target.tls) {
        run->tls = tls_client_ctx_new("wsbroker-bench", cfg->ca);
        if (run->tls == NULL)
            return 1;
    } else if (cfg->ca != NULL) {
        fprintf(stderr, "wsbroker-bench: --ca is ignored for a ws:// URL\n");
    }
    run->pattern = make_pattern(cfg->size);
    struct worker *workers = calloc(cfg->threads, sizeof *workers);
    if (run->pattern == NULL || workers == NULL) {
        fprintf(stderr, "wsbroker-bench: out of memory\n");
        return 1;
    }
    for (uint32_t i = 0, base = 0; i < cfg->threads; i++) {
        uint32_t share = cfg->connections / cfg->threads + (i < cfg->connections % cfg->threads);
        if (!worker_init(&workers[i], run, base, share)) {
            fprintf(stderr,
                    "wsbroker-bench: cannot set up worker %u: out of memory or descriptors\n", i);
            return 1;
        }
        workers[i].hs_left = cfg->handshakes / cfg->threads + (i < cfg->handshakes % cfg->threads);
        if (cfg->csv != NULL && (!series_init(&workers[i].sent, run->clock.count, false) ||
                                 !series_init(&workers[i].recv, run->clock.count, true))) {
            fprintf(stderr, "wsbroker-bench: out of memory for the --csv series\n");
            return 1;
        }
        base += share;
    }
    pthread_barrier_init(&run->barrier, NULL, cfg->threads + 1);
    for (uint32_t i = 0; i < cfg->threads; i++)
        pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
    pthread_barrier_wait(&run->barrier);
    start_or_abort(run, workers);
    pthread_barrier_wait(&run->barrier);
    watch_progress(run, workers);

    struct totals *t = calloc(1, sizeof *t);
    for (uint32_t i = 0; i < cfg->threads; i++) {
        pthread_join(workers[i].tid, NULL);
        totals_add(t, &workers[i]);
    }
    if (run->abort)
        return 1;
    if (cfg->handshakes > 0)
        report_storm(cfg, t, (double)(now_ns() - run->t_start) / NS_PER_S);
    else if (cfg->json)
        report_json(cfg, t);
    else
        report_table(cfg, t);
    if (t->first_error != NULL)
        fprintf(stderr, "wsbroker-bench: %s\n", t->first_error);
    int status = t->error_sum > 0 ? 1 : 0;
    if (cfg->csv != NULL && !write_series(run, workers))
        status = 1;
    for (uint32_t i = 0; i < cfg->threads; i++)
        worker_free(&workers[i]);
    free(workers);
    free(t);
    free(run->pattern);
    tls_client_ctx_free(run->tls);
    return status;
}

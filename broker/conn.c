/*
 * conn.c - the per-connection WebSocket state machine (see conn.h).
 *
 * Receive path: the worker lends a receive buffer to conn_on_bytes(). When no
 * partial frame is pending, frames are parsed, unmasked and delivered straight
 * from that buffer (zero-copy); only the tail of an incomplete frame is copied
 * into c->rx to wait for the rest. Fragmented messages are reassembled in
 * c->msg; single-frame messages never are.
 *
 * Closing: every way out (close frame either way, protocol error, EOF, HTTP
 * refusal, timeouts) goes through CLOSING -> LINGER: the last frames are
 * flushed, FIN is sent, and unread input is drained until the peer's FIN, so
 * the kernel never answers with RST and the peer always reads our close frame.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "tls.h"
#include "worker.h"
#include "http_route.h"
#include "ws_handshake.h"
#include "ws_mask.h"
#include "ws_utf8.h"

/* Receive-side buffers above this size are freed once empty, so idle
 * connections hold little memory after a burst of large messages. */
#define CONN_KEEP_BUFFER_BYTES (64 * 1024)

struct conn *conn_create(struct worker *w, int fd, const struct sockaddr_storage *peer)
{
    /* On a cache line of its own: the hot fields are its first line. */
    size_t size = (sizeof(struct conn) + 63) & ~(size_t)63;
    struct conn *c = aligned_alloc(64, size);
    if (c == NULL)
        return NULL;
    memset(c, 0, size);
    c->worker = w;
    c->fd = fd;
    c->state = CONN_HANDSHAKE;
    if (peer)
        c->peer = *peer;
    send_queue_init(&c->sendq);
    send_queue_init(&c->tls_plain);
    c->send_iov = c->send_iov_inline;
    c->send_iov_cap = CONN_SEND_IOV_INLINE;
    ws_message_init(&c->msg_state);
    c->opened_ms = c->last_rx_ms = c->last_ping_ms = w->now_ms;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->conn_count++;
    return c;
}

void conn_free(struct conn *c)
{
    struct worker *w = c->worker;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->conn_count--;
    /* Only now: the kernel may read queued buffers until the last send completed. */
    send_queue_destroy(&c->sendq);
    send_queue_destroy(&c->tls_plain);
    if (c->send_iov != c->send_iov_inline)
        free(c->send_iov);
    tls_conn_free(c);
    auth_rights_free(c->rights); /* a route that opened took it (NULL) */
    free(c->rx);
    free(c->msg);
    free(c);
}

struct outbuf *conn_alloc_outbuf(struct conn *c, size_t payload_capacity)
{
    return outbuf_alloc(&c->worker->pool, payload_capacity);
}

static uint64_t conn_now(const struct conn *c)
{
    return c->worker->now_ms;
}

/* Grows *buf to hold need bytes (doubling). Returns -1 when out of memory. */
static int buffer_reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void buffer_trim(uint8_t **buf, size_t *cap, size_t len)
{
    if (len == 0 && *cap > CONN_KEEP_BUFFER_BYTES) {
        free(*buf);
        *buf = NULL;
        *cap = 0;
    }
}

void conn_send(struct conn *c, struct outbuf *b)
{
    if (c->state == CONN_OPEN)
        metrics_count_frame_out(&c->worker->metrics, b->data);
    if (c->ssl && !c->tls_failed && c->state != CONN_DEAD && c->state != CONN_LINGER) {
        /* Encrypted when the worker flushes, together with what else this
         * loop iteration sends to c (tls_conn_flush). */
        if (send_queue_push(&c->tls_plain, b) != 0) {
            conn_abort(c, "out of memory for the send queue");
            return;
        }
        worker_schedule_io(c->worker, c);
        return;
    }
    conn_queue_bytes(c, b);
}

void conn_queue_bytes(struct conn *c, struct outbuf *b)
{
    if (c->state == CONN_DEAD || c->state == CONN_LINGER) {
        outbuf_release(b);
        return;
    }
    if (send_queue_push(&c->sendq, b) != 0) {
        conn_abort(c, "out of memory for the send queue");
        return;
    }
    if (!c->recv_paused && c->sendq.bytes > c->worker->cfg->send_queue_bytes) {
        /* The peer is not reading what we send: stop reading what it sends. */
        c->recv_paused = true;
        log_debug("fd %d: send queue at %llu bytes, pausing reads", c->fd,
                  (unsigned long long)c->sendq.bytes);
    }
    worker_schedule_io(c->worker, c);
}

void conn_hold_recv(struct conn *c, bool hold)
{
    c->recv_held = hold;
    if (c->state != CONN_OPEN)
        return; /* closing connections keep draining input */
    c->recv_paused = hold || c->sendq.bytes > c->worker->cfg->send_queue_bytes;
    worker_schedule_io(c->worker, c);
}

static void conn_send_control(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct outbuf *b = conn_alloc_outbuf(c, len);
    if (b == NULL) {
        conn_abort(c, "out of memory");
        return;
    }
    if (len > 0)
        memcpy(outbuf_payload(b), payload, len);
    outbuf_seal_frame(b, len, opcode);
    conn_send(c, b);
}

/* Enters CLOSING: nothing more is read for the application; once the queue
 * is flushed, FIN goes out and the connection lingers for the peer's FIN. */
/* Tells the route, once, that the application is done with c. */
static void conn_leave_open(struct conn *c)
{
    if (c->route && !c->app_closed) {
        c->app_closed = true;
        if (c->route->on_close)
            c->route->on_close(c);
    }
}

static void conn_begin_closing(struct conn *c)
{
    conn_leave_open(c);
    if (c->state == CONN_DEAD || c->state == CONN_LINGER)
        return;
    c->state = CONN_CLOSING;
    c->deadline_ms = conn_now(c) + c->worker->cfg->close_timeout_ms;
    if (c->worker->stopping && c->worker->drain_deadline_ms < c->deadline_ms)
        c->deadline_ms = c->worker->drain_deadline_ms;
    c->recv_paused = false; /* keep draining input so close never turns into RST */
    c->msg_len = 0;
    buffer_trim(&c->msg, &c->msg_cap, 0);
    /* close_notify after the last frame. Encrypting may fail the connection
     * (tls_fail -> LINGER, or DEAD when out of memory): the state set here
     * comes first so such a failure is never overwritten by it. */
    if (c->ssl)
        tls_conn_shutdown(c);
    if (c->state == CONN_CLOSING)
        worker_schedule_io(c->worker, c);
}

static void conn_enter_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    if (c->peer_eof)
        conn_abort(c, NULL);
}

void conn_close(struct conn *c, enum ws_close_code code, const char *reason)
{
    if (c->state != CONN_OPEN)
        return;
    uint8_t payload[WS_CONTROL_MAX_PAYLOAD];
    size_t len = ws_close_payload_write(payload, (uint16_t)code, reason);
    log_debug("fd %d: closing with %d (%s)", c->fd, (int)code, reason ? reason : "");
    conn_send_control(c, WS_OP_CLOSE, payload, len);
    if (c->state != CONN_DEAD)
        conn_begin_closing(c);
}

void conn_refuse(struct conn *c, int status, const char *reason)
{
    if (c->state != CONN_HANDSHAKE)
        return;
    log_debug("fd %d: refusing upgrade: %d %s", c->fd, status, reason);
    metrics_count_refusal(&c->worker->metrics, status);
    struct outbuf *b = conn_alloc_outbuf(c, 512);
    if (b == NULL) {
        conn_abort(c, "out of memory");
        return;
    }
    b->data = outbuf_payload(b);
    b->len = ws_handshake_write_error((char *)b->data, b->capacity, status, reason);
    conn_send(c, b);
    if (c->state != CONN_DEAD)
        conn_begin_closing(c);
}

void conn_respond(struct conn *c, int status, const char *content_type, const void *body,
                  size_t len)
{
    if (c->state != CONN_HANDSHAKE)
        return;
    static const char extra[] = "Cache-Control: no-store\r\n";
    metric_add(&c->worker->metrics.http_requests, 1);
    struct outbuf *b = conn_alloc_outbuf(c, 512 + len); /* 512: room for the head */
    if (b == NULL) {
        conn_abort(c, "out of memory");
        return;
    }
    b->data = outbuf_payload(b);
    size_t head =
        ws_http_write_head((char *)b->data, b->capacity, status, content_type, extra, len);
    if (head == 0 || head + len > b->capacity) {
        outbuf_release(b);
        conn_abort(c, "HTTP reply head too large");
        return;
    }
    memcpy(b->data + head, body, len);
    b->len = head + len;
    conn_send(c, b);
    if (c->state != CONN_DEAD)
        conn_begin_closing(c);
}

void conn_end_after_flush(struct conn *c, const char *why)
{
    if (c->state == CONN_DEAD || c->state == CONN_LINGER)
        return;
    log_debug("fd %d: ending connection: %s", c->fd, why);
    if (c->state != CONN_CLOSING)
        conn_begin_closing(c);
    if (c->state == CONN_CLOSING && send_queue_empty(&c->sendq) && !c->send_inflight)
        conn_enter_linger(c);
}

void conn_abort(struct conn *c, const char *why)
{
    if (c->state == CONN_DEAD)
        return;
    if (why)
        log_debug("fd %d: dropping connection: %s", c->fd, why);
    /* shutdown() ends the outstanding multishot recv; close() alone would not,
     * because the ring holds its own reference to the socket. */
    conn_leave_open(c);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    c->fd = -1;
    c->state = CONN_DEAD;
    worker_conn_closed(c->worker, c);
}

/* --- receive path --------------------------------------------------------- */

static void conn_deliver(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    metric_add(&c->worker->metrics.messages_in, 1);
    c->route->on_message(c, opcode, payload, len);
}

static void conn_on_peer_close(struct conn *c, uint16_t code)
{
    /* Echo the peer's code (RFC 6455 5.5.1); an empty close gets an empty one. */
    uint8_t payload[2];
    size_t len = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        len = 2;
    }
    conn_send_control(c, WS_OP_CLOSE, payload, len);
    if (c->state != CONN_DEAD)
        conn_begin_closing(c);
}

/* Acts on one complete frame that passed the message rules. */
static void conn_on_frame(struct conn *c, const struct ws_frame *f,
                          const struct ws_message_verdict *v)
{
    switch (f->opcode) {
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CONTINUATION:
        if (v->message_start && v->message_end) {
            conn_deliver(c, v->message_opcode, f->payload, f->payload_len);
            return;
        }
        if (buffer_reserve(&c->msg, &c->msg_cap, c->msg_len + f->payload_len) != 0) {
            conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
            return;
        }
        if (f->payload_len > 0)
            memcpy(c->msg + c->msg_len, f->payload, f->payload_len);
        c->msg_len += f->payload_len;
        if (v->message_end) {
            conn_deliver(c, v->message_opcode, c->msg, c->msg_len);
            c->msg_len = 0;
            buffer_trim(&c->msg, &c->msg_cap, 0);
        }
        return;
    case WS_OP_PING:
        conn_send_control(c, WS_OP_PONG, f->payload, f->payload_len);
        return;
    case WS_OP_PONG:
        return; /* any input already counts as liveness */
    case WS_OP_CLOSE:
        conn_on_peer_close(c, v->close_code);
        return;
    }
}

/*
 * Text must fail at the first invalid byte (RFC 6455 8.1), even inside one
 * large frame that arrives in pieces: the payload bytes of the incomplete
 * frame that have arrived are unmasked in place and validated now, and
 * c->partial_done remembers how far, so neither is done twice.
 */
static void conn_check_partial_text(struct conn *c, const struct ws_frame *f, uint8_t *payload,
                                    size_t arrived)
{
    bool text = f->opcode == WS_OP_TEXT ||
                (f->opcode == WS_OP_CONTINUATION && c->msg_state.opcode == WS_OP_TEXT);
    if (!text || arrived <= c->partial_done)
        return;
    size_t done = c->partial_done;
    if (f->masked)
        ws_unmask(payload + done, arrived - done, f->mask, done);
    if (done == 0)
        c->partial_utf8 = f->opcode == WS_OP_TEXT ? WS_UTF8_ACCEPT : c->msg_state.utf8;
    c->partial_utf8 = ws_utf8_feed(c->partial_utf8, payload + done, arrived - done);
    c->partial_done = arrived;
    if (c->partial_utf8 == WS_UTF8_REJECT)
        conn_close(c, WS_CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in text message");
}

/* Parses and handles frames in buf; returns the bytes consumed. Stops at an
 * incomplete frame or when the connection leaves OPEN. */
static size_t conn_process_frames(struct conn *c, uint8_t *buf, size_t len)
{
    const struct ws_message_limits limits = {
        .max_message = c->worker->cfg->max_message,
        .allowed_rsv = 0,
        .require_mask = true,
    };
    size_t off = 0;
    while (off < len && c->state == CONN_OPEN) {
        struct ws_frame f;
        ssize_t n = ws_frame_parse(buf + off, len - off, &f);
        if (n == WS_FRAME_INVALID) {
            conn_close(c, WS_CLOSE_PROTOCOL_ERROR, "invalid frame length");
            break;
        }
        if (n == WS_FRAME_INCOMPLETE) {
            if (f.header_len == 0)
                break;
            const char *reason = NULL;
            enum ws_close_code code = ws_message_check_header(&c->msg_state, &f, &limits, &reason);
            if (code != WS_CLOSE_NONE)
                conn_close(c, code, reason);
            else
                conn_check_partial_text(c, &f, buf + off + f.header_len, len - off - f.header_len);
            break;
        }
        if (f.masked)
            ws_unmask(f.payload + c->partial_done, f.payload_len - c->partial_done, f.mask,
                      c->partial_done);
        c->partial_done = 0;
        struct ws_message_verdict v;
        ws_message_check(&c->msg_state, &f, &limits, &v);
        if (v.fail != WS_CLOSE_NONE) {
            conn_close(c, v.fail, v.reason);
            break;
        }
        off += (size_t)n;
        conn_on_frame(c, &f, &v);
    }
    return off;
}

static int conn_rx_append(struct conn *c, const uint8_t *data, size_t len)
{
    if (buffer_reserve(&c->rx, &c->rx_cap, c->rx_len + len) != 0)
        return -1;
    memcpy(c->rx + c->rx_len, data, len);
    c->rx_len += len;
    return 0;
}

static void conn_rx_consume(struct conn *c, size_t n)
{
    if (n >= c->rx_len) {
        c->rx_len = 0;
        buffer_trim(&c->rx, &c->rx_cap, 0);
        return;
    }
    memmove(c->rx, c->rx + n, c->rx_len - n);
    c->rx_len -= n;
}

/* Over max-connections-per-ip: refused, and logged at most once a second
 * per worker with a running count. */
static bool conn_over_ip_limit(struct conn *c, const struct broker_config *cfg)
{
    if (cfg->max_connections_per_ip == 0 || c->peer_connections <= cfg->max_connections_per_ip)
        return false;
    struct worker *w = c->worker;
    w->ip_refusals++;
    if (w->now_ms - w->ip_refusal_logged_ms >= 1000 || w->ip_refusal_logged_ms == 0) {
        char who[64];
        ip_format(&c->peer, who, sizeof(who));
        log_warn("worker %u: refused %s: over max-connections-per-ip %llu (%llu refusals so far "
                 "on this worker)",
                 w->id, who, (unsigned long long)cfg->max_connections_per_ip,
                 (unsigned long long)w->ip_refusals);
        w->ip_refusal_logged_ms = w->now_ms ? w->now_ms : 1;
    }
    return true;
}

/* Connections over max-connections that may still be accepted, so health
 * probes and the 503 itself get through at the limit. */
#define CONN_ACCEPT_HEADROOM 64

bool conn_refuse_at_accept(struct conn *c)
{
    const struct broker_config *cfg = c->worker->cfg;
    if (c->listener != NULL && c->listener->metrics)
        return false;
    int status;
    const char *why;
    if (conn_over_ip_limit(c, cfg)) {
        status = 429;
        why = "too many connections from this address";
    } else if (atomic_load_explicit(&c->worker->broker->connections, memory_order_relaxed) >
               cfg->max_connections + CONN_ACCEPT_HEADROOM) {
        status = 503;
        why = "connection limit reached";
    } else {
        return false;
    }
    if (c->listener != NULL && c->listener->tls)
        conn_abort(c, why); /* no TLS spoken yet: nothing readable to say */
    else
        conn_refuse(c, status, why);
    return true;
}

/*
 * The rights the upgrade request's token grants (or, with no token, what
 * anonymous clients may do), kept in c->rights for the route. A token that
 * is present but invalid, expired or not yet valid is refused with 401 and
 * the reason. Returns 0, or -1 when the connection was refused.
 */
static int conn_authenticate(struct conn *c, const struct ws_handshake_request *req)
{
    const struct auth_rules *rules = atomic_load(&c->worker->broker->auth);
    if (rules == NULL || rules->dev_mode) {
        c->rights = &auth_rights_all; /* development mode: tokens are not looked at */
        return 0;
    }
    char buf[JWT_MAX_TOKEN];
    struct ws_str token;
    const char *why = NULL;
    int found = auth_token_from_request(req, buf, sizeof(buf), &token, &why);
    if (found < 0) {
        conn_refuse(c, 401, why);
        return -1;
    }
    if (found == 0) {
        c->rights = auth_anonymous_rights(rules);
        return 0;
    }
    c->rights = auth_authenticate(rules, token, auth_now(), &why);
    if (c->rights == NULL) {
        log_debug("fd %d: handshake token refused: %s", c->fd, why);
        conn_refuse(c, strcmp(why, "out of memory") == 0 ? 503 : 401, why);
        return -1;
    }
    return 0;
}

static void conn_on_handshake_bytes(struct conn *c)
{
    const struct broker_config *cfg = c->worker->cfg;
    const struct ws_handshake_limits limits = {
        .max_bytes = cfg->max_handshake_bytes,
        .max_headers = WS_HANDSHAKE_DEFAULT_MAX_HEADERS,
    };
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    ssize_t n = ws_handshake_parse((const char *)c->rx, c->rx_len, &limits, &req, &err);
    if (n == WS_HANDSHAKE_INCOMPLETE)
        return;
    if (n == WS_HANDSHAKE_INVALID) {
        conn_refuse(c, err.status, err.reason);
        return;
    }
    if (!req.upgrade) {
        /* Plain HTTP: served even at the connection limit, so probes work. */
        const struct http_route *http = http_route_find(cfg, c->listener, req.path);
        if (http != NULL)
            http->serve(c, &req);
        else if (http_route_serves_websocket(c->listener) && route_find(cfg, req.path) != NULL)
            conn_refuse(c, 426, "this is a WebSocket endpoint: send an upgrade request");
        else
            conn_refuse(c, 404, "nothing at this path");
        return;
    }
    if (atomic_load_explicit(&c->worker->broker->connections, memory_order_relaxed) >
        cfg->max_connections) {
        conn_refuse(c, 503, "connection limit reached");
        return;
    }
    if (conn_over_ip_limit(c, cfg)) {
        conn_refuse(c, 429, "too many connections from this address");
        return;
    }
    const struct route *route =
        http_route_serves_websocket(c->listener) ? route_find(cfg, req.path) : NULL;
    if (route == NULL) {
        conn_refuse(c, 404, "no WebSocket endpoint at this path");
        return;
    }
    const char *subprotocol = NULL;
    if (route->subprotocol && ws_str_present(req.protocol)) {
        if (!ws_handshake_offers(req.protocol, route->subprotocol)) {
            conn_refuse(c, 400, "unsupported subprotocol");
            return;
        }
        subprotocol = route->subprotocol;
    }
    if (route->auth && conn_authenticate(c, &req) != 0)
        return;
    struct outbuf *b = conn_alloc_outbuf(c, 512);
    if (b == NULL) {
        conn_abort(c, "out of memory");
        return;
    }
    b->data = outbuf_payload(b);
    b->len = ws_handshake_write_accept((char *)b->data, b->capacity, &req, subprotocol);
    conn_send(c, b);
    if (c->state == CONN_DEAD)
        return;
    c->route = route;
    c->state = CONN_OPEN;
    if (route->on_open)
        route->on_open(c);
    if (c->state != CONN_OPEN)
        return;
    conn_rx_consume(c, (size_t)n);
    /* A client may send frames right behind its request. */
    if (c->rx_len > 0)
        conn_rx_consume(c, conn_process_frames(c, c->rx, c->rx_len));
}

void conn_on_bytes(struct conn *c, uint8_t *data, size_t len)
{
    c->last_rx_ms = conn_now(c);
    if (c->ssl)
        tls_conn_on_ciphertext(c, data, len);
    else
        conn_on_plaintext(c, data, len);
}

void conn_on_plaintext(struct conn *c, uint8_t *data, size_t len)
{
    switch (c->state) {
    case CONN_HANDSHAKE:
        if (conn_rx_append(c, data, len) != 0) {
            conn_abort(c, "out of memory");
            return;
        }
        conn_on_handshake_bytes(c);
        return;
    case CONN_OPEN:
        if (c->rx_len == 0) {
            size_t used = conn_process_frames(c, data, len);
            if (c->state == CONN_OPEN && used < len && conn_rx_append(c, data + used, len - used))
                conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        } else {
            if (conn_rx_append(c, data, len) != 0) {
                conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
                return;
            }
            conn_rx_consume(c, conn_process_frames(c, c->rx, c->rx_len));
        }
        if (c->state != CONN_OPEN)
            conn_rx_consume(c, c->rx_len);
        return;
    case CONN_CLOSING:
    case CONN_LINGER:
    case CONN_DEAD:
        return; /* draining: the application is done with this peer */
    }
}

void conn_on_eof(struct conn *c)
{
    c->peer_eof = true;
    switch (c->state) {
    case CONN_HANDSHAKE:
    case CONN_OPEN:
        /* Half-close: finish sending what is queued, then close. */
        conn_begin_closing(c);
        if (c->state == CONN_CLOSING && send_queue_empty(&c->sendq) && !c->send_inflight)
            conn_enter_linger(c);
        return;
    case CONN_CLOSING:
        return; /* linger starts once the queue is flushed */
    case CONN_LINGER:
        conn_abort(c, NULL);
        return;
    case CONN_DEAD:
        return;
    }
}

void conn_on_sent(struct conn *c, size_t sent)
{
    send_queue_consume(&c->sendq, sent, &c->worker->release_batch);
    if (c->recv_paused && !c->recv_held && c->state == CONN_OPEN &&
        c->sendq.bytes <= c->worker->cfg->send_queue_bytes / 2) {
        c->recv_paused = false;
        log_debug("fd %d: send queue drained, resuming reads", c->fd);
    }
    if (c->state == CONN_OPEN && c->route->on_writable &&
        c->sendq.bytes < c->worker->cfg->slow_consumer_bytes / 2)
        c->route->on_writable(c);
    if (c->state == CONN_CLOSING && send_queue_empty(&c->sendq))
        conn_enter_linger(c);
    if (c->state != CONN_DEAD)
        worker_schedule_io(c->worker, c);
}

void conn_on_tick(struct conn *c, uint64_t now_ms)
{
    const struct broker_config *cfg = c->worker->cfg;
    switch (c->state) {
    case CONN_HANDSHAKE:
        if (now_ms - c->opened_ms >= cfg->handshake_timeout_ms) {
            metric_add(&c->worker->metrics.refused[REFUSED_HANDSHAKE_TIMEOUT], 1);
            conn_abort(c, "handshake timeout");
        }
        return;
    case CONN_OPEN:
        if (now_ms - c->last_rx_ms >= cfg->idle_timeout_ms) {
            conn_close(c, WS_CLOSE_GOING_AWAY, "idle timeout");
        } else if (now_ms - c->last_rx_ms >= cfg->ping_interval_ms &&
                   now_ms - c->last_ping_ms >= cfg->ping_interval_ms) {
            c->last_ping_ms = now_ms;
            conn_send_control(c, WS_OP_PING, NULL, 0);
        }
        if (c->state == CONN_OPEN && c->route->on_tick)
            c->route->on_tick(c, now_ms);
        return;
    case CONN_CLOSING:
    case CONN_LINGER:
        if (now_ms >= c->deadline_ms)
            conn_abort(c, "close timeout");
        return;
    case CONN_DEAD:
        return;
    }
}

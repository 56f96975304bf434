/*
 * conn.h - one client connection: the WebSocket state machine between the
 * bytes a worker receives and the frames it sends.
 *
 * A connection belongs to exactly one worker for its whole life and is only
 * touched on that worker's thread. It owns its receive-side buffers (a
 * partial frame carried over between receives, and the reassembly buffer for
 * fragmented messages) and its send queue. All socket I/O is the worker's:
 * conn.c decides, worker.c submits.
 *
 * Lifecycle:
 *   HANDSHAKE --101--> OPEN --close sent/received, EOF, error--> CLOSING
 *   CLOSING --send queue flushed, FIN sent--> LINGER --peer EOF/timeout--> DEAD
 * A DEAD connection has no socket; its memory is freed once the last
 * io_uring operation that refers to it has completed.
 */
#ifndef WSB_CONN_H
#define WSB_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "outbuf.h"
#include "route.h"
#include "send_queue.h"
#include "ws_close.h"
#include "ws_message.h"

/* Frames gathered by one sendmsg: a connection starts with a few iovecs in
 * place and gets CONN_SEND_IOV_MAX on the heap the first time its queue is
 * deeper (a subscriber of a busy topic), so one sendmsg carries up to that
 * many frames - fewer syscalls and TCP segments per frame - while idle
 * connections stay small. */
#define CONN_SEND_IOV_INLINE 8
#define CONN_SEND_IOV_MAX    256

struct worker;

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING, CONN_LINGER, CONN_DEAD };

struct conn {
    /* What queueing one frame reads (conn_send, in every delivery of a
     * fan-out), in the first cache line: a worker's thousand subscribers
     * are a thousand cold connections per published message. */
    struct worker *worker;
    int fd;
    enum conn_state state;
    void *ssl; /* WOLFSSL * on a wss:// listener, else NULL */
    struct send_queue sendq;
    bool tls_failed;    /* a fatal TLS error: only its alert is still sent */
    bool recv_paused;   /* send queue over its limit, or held: not reading */
    bool on_flush_list; /* io_uring bookkeeping (worker.c) */

    const struct route *route;
    void *app;             /* the route's per-connection state (a session) */
    const uint8_t *tls_in; /* ciphertext being fed to wolfSSL (tls.c) */
    size_t tls_in_len;
    bool tls_seen_bytes; /* some ciphertext arrived already */
    bool app_closed;     /* route->on_close has run */

    /* io_uring bookkeeping (worker.c) */
    uint32_t inflight;    /* submitted operations not yet completed for good */
    bool recv_armed;      /* a multishot recv is outstanding */
    bool recv_held;       /* the route holds reads (publisher back-pressure) */
    bool recv_cancelling; /* a cancel for that recv is outstanding */
    bool send_inflight;   /* a send (or sendmsg) is outstanding */
    struct conn *flush_next;
    struct msghdr send_msg; /* the sendmsg in flight, when it carries more than one iovec */
    struct iovec *send_iov; /* send_iov_inline, or CONN_SEND_IOV_MAX of them */
    unsigned send_iov_cap;
    struct iovec send_iov_inline[CONN_SEND_IOV_INLINE];

    /* receive side */
    uint8_t *rx; /* bytes of an incomplete frame or handshake */
    size_t rx_len, rx_cap;
    uint8_t *msg; /* reassembly of a fragmented message */
    size_t msg_len, msg_cap;
    struct ws_message_state msg_state;
    size_t partial_done;   /* payload bytes of the frame at rx's start already unmasked */
    uint32_t partial_utf8; /* and, for text, their UTF-8 state */
    bool peer_eof;

    /* send side (sendq is at the top) */
    /* wss: frames waiting to be encrypted. They are gathered into records of
     * up to 16 KiB when the worker flushes (tls_conn_flush), so a burst of
     * small frames costs one record, not one each. */
    struct send_queue tls_plain;

    /* timers, in the worker's monotonic milliseconds */
    uint64_t opened_ms;
    uint64_t last_rx_ms;
    uint64_t last_ping_ms;
    uint64_t deadline_ms; /* CLOSING/LINGER: give up waiting for the peer */

    /* the worker's list of live connections */
    struct conn *prev, *next;
    struct sockaddr_storage peer;       /* from getpeername() at accept */
    const struct listen_addr *listener; /* accepted on (config-owned); NULL in unit tests */
    uint64_t peer_connections;          /* open connections from peer's IP, this one included */
    bool peer_counted;                  /* counted in the broker's ip_limit */
    /* What the handshake's token (or its absence) allows; handed to the
     * route's on_open, which takes it over (auth_rights_free). */
    const struct auth_rights *rights;
};

/* A new connection on fd, in HANDSHAKE. NULL when out of memory. */
struct conn *conn_create(struct worker *w, int fd, const struct sockaddr_storage *peer);

/* Feeds received bytes. data is a receive buffer the worker lends for the
 * duration of the call; it may be modified in place (unmasking). */
void conn_on_bytes(struct conn *c, uint8_t *data, size_t len);

/* Feeds plaintext (after TLS, or the received bytes of a plain connection);
 * data may be modified in place. */
void conn_on_plaintext(struct conn *c, uint8_t *data, size_t len);

/* Puts bytes that are ready for the socket (a plain frame, or TLS records)
 * on the send queue, taking over the reference. */
void conn_queue_bytes(struct conn *c, struct outbuf *b);

/* The peer closed its sending side (recv returned 0). */
void conn_on_eof(struct conn *c);

/* A send completed; sent bytes left the queue. Called by the worker. */
void conn_on_sent(struct conn *c, size_t sent);

/* Refuses the upgrade with an HTTP error reply, then closes (HANDSHAKE only). */
void conn_refuse(struct conn *c, int status, const char *reason);

/* Right after accept, before a byte is read: refuses c when merely
 * existing breaks a limit (max-connections-per-ip; max-connections plus a
 * small headroom for probes) - 429/503 on ws://, dropped on wss://. The
 * metrics listener is exempt. True when refused. */
bool conn_refuse_at_accept(struct conn *c);

/* Answers a plain HTTP request (state HANDSHAKE) with a complete reply -
 * status, content type, body (copied) - then closes the connection. */
void conn_respond(struct conn *c, int status, const char *content_type, const void *body,
                  size_t len);

/* Starts the closing handshake with code and reason (no-op unless OPEN). */
void conn_close(struct conn *c, enum ws_close_code code, const char *reason);

/* Drops the connection at once: socket shut down and closed, queues freed. */
void conn_abort(struct conn *c, const char *why);

/* Ends c without a WebSocket close frame: what is already queued (a TLS
 * alert) is still sent, then FIN, then the usual linger. */
void conn_end_after_flush(struct conn *c, const char *why);

/* Timers: handshake timeout, keepalive pings, idle timeout, close timeout. */
void conn_on_tick(struct conn *c, uint64_t now_ms);

/* Queues a sealed frame, taking over the caller's reference (encrypting it
 * on a TLS connection). */
void conn_send(struct conn *c, struct outbuf *b);

/* Stops (hold) or restarts reading from the peer on the route's behalf,
 * independently of the send-queue pause: a held connection is read again
 * only after conn_hold_recv(c, false). Bytes already received are still
 * handled. */
void conn_hold_recv(struct conn *c, bool hold);

/* An outbuf from this connection's worker pool. */
struct outbuf *conn_alloc_outbuf(struct conn *c, size_t payload_capacity);

/* Frees the memory of a DEAD connection with nothing in flight. */
void conn_free(struct conn *c);

/* Bytes waiting to go to the peer: queued frames, and on wss those not yet
 * encrypted. What the slow-consumer policy measures. */
static inline uint64_t conn_queued_bytes(const struct conn *c)
{
    /* tls_plain is empty without TLS: not read, it stays out of cache. */
    return c->ssl ? c->sendq.bytes + c->tls_plain.bytes : c->sendq.bytes;
}

#endif

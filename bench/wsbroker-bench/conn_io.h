/*
 * conn_io.h - one load-generator connection's byte transport, the part the
 * scenario families (echo.c, pubsub.c) share: its socket on the thread's
 * ring_loop (ws://) or wolfSSL over a non-blocking socket (wss://), an output
 * buffer drained by one ring send at a time (or by wolfSSL writes), and an
 * input buffer that holds back only what the scenario could not parse yet.
 *
 * ws:// input is parsed in place, in the ring's provided buffer: a receive
 * costs no copy unless it ends inside a message, and then only that message's
 * bytes are copied (into `in`) and completed from the next receive. wss://
 * input is decrypted into `in` and parsed there.
 *
 * The scenario owns its connections and embeds a struct conn_io in each; it
 * allocates in/out (and frees them) and keeps its own state machine. It hands
 * conn_io_wait a struct conn_io_ops: what to do when a connect completes, when
 * bytes are in `in`, when the stream ends, when a send fails. A connection
 * whose socket is closed (sock.fd < 0) gets no more calls.
 */
#ifndef WSB_BENCH_CONN_IO_H
#define WSB_BENCH_CONN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loadgen.h"
#include "ring_loop.h"

struct conn_io {
    struct ring_sock sock;
    WOLFSSL *ssl;    /* wss:// only; set by the scenario after conn_io_connect */
    bool connecting; /* until the scenario calls conn_io_connected (after TLS, if any) */
    bool want_write; /* wss://: the readiness poll waits for POLLOUT */
    uint8_t *out;    /* bytes queued for the socket: [out_off, out_len) */
    size_t out_off, out_len, out_cap;
    uint8_t *in; /* bytes received, held back unparsed: [0, in_len) */
    size_t in_len, in_cap;
    size_t in_need; /* set by on_input: how many bytes the first message it
                       left needs in all (0: not known yet) */
};

/* The scenario's reactions; ctx is what it passed to conn_io_wait (its
 * worker), index the connection's within it. */
struct conn_io_ops {
    struct conn_io *(*io_of)(void *ctx, uint32_t index);
    /* The connect completed with res (0 or -errno); wss://: called again on
     * every readiness event until conn_io_connected, to step the TLS handshake. */
    void (*on_connect)(void *ctx, uint32_t index, int res);
    /* Bytes received, lent for the call: handle every complete message from
     * the start, return how many bytes that took, and set io->in_need when
     * the first message left is known to need more. What is not taken comes
     * back, with what follows it, in a later call. */
    size_t (*on_input)(void *ctx, uint32_t index, uint8_t *bytes, size_t len, uint64_t now);
    /* The stream ended (why: what happened) or the input buffer filled up
     * with nothing parseable (overflow). */
    void (*on_eof)(void *ctx, uint32_t index, const char *why, bool overflow);
    /* A send failed with errno err. */
    void (*on_send_error)(void *ctx, uint32_t index, int err);
};

/* Starts connecting io's socket (ring_sock_connect) and marks it connecting. */
int conn_io_connect(struct ring_loop *l, struct conn_io *io, const struct target *t, bool tls);

/* The connect (and TLS handshake) is done: reads start. */
void conn_io_connected(struct ring_loop *l, struct conn_io *io);

/* Frees the TLS session (one close_notify attempt) and closes the socket. */
void conn_io_close(struct ring_loop *l, struct conn_io *io);

/* wss://: whether the readiness poll waits for POLLOUT too. */
void conn_io_want_write(struct ring_loop *l, struct conn_io *io, bool on);

/* Whether the socket has not taken the last output yet. */
bool conn_io_backed_up(const struct conn_io *io);

/* on_input met a frame whose header is here but not all of it (frame_len
 * bytes in all): notes in in_need what it waits for. False when the frame
 * can never fit the input buffer. */
bool conn_io_await_frame(struct conn_io *io, size_t frame_len);

/* Room for `need` more output bytes (compacting the buffer when no send is in
 * flight over it), or NULL. */
uint8_t *conn_io_reserve(struct conn_io *io, size_t need);

/* Sends what is queued: ws://, one ring send in flight at a time; wss://,
 * wolfSSL writes until the socket pushes back, then waits for POLLOUT. */
void conn_io_flush(struct ring_loop *l, struct conn_io *io, const struct conn_io_ops *ops,
                   void *ctx);

/* One round of the thread's loop: ring_loop_wait with every completion routed
 * through ops. */
void conn_io_wait(struct ring_loop *l, uint64_t until, const struct conn_io_ops *ops, void *ctx);

#endif

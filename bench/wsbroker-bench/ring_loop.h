/*
 * ring_loop.h - wsbroker-bench's event loop: one io_uring per load thread,
 * the same idioms as broker/worker.c. ws:// connections are connected,
 * read and written through the ring: IORING_OP_CONNECT, one multishot recv
 * per connection that draws from a provided buffer ring, one send in flight
 * per connection, every SQE submitted in a batch by the next ring_loop_wait
 * (until then a connection's send still takes what it queues next).
 * wss:// connections keep wolfSSL's own socket I/O on a non-blocking socket
 * and use the ring only for readiness (one-shot IORING_OP_POLL_ADD, re-armed
 * after each event), so wolfSSL needs no custom I/O callbacks here.
 *
 * Every operation's user_data carries the connection's index within its
 * thread, the connection's generation and an operation tag: a connection that
 * is closed and reopened (resume storm, connection storm) bumps its generation,
 * so completions of the previous socket's operations are recognised as stale.
 *
 * Ownership: the loop owns the ring and the receive buffers; the scenario owns
 * its connections and embeds a struct ring_sock in each. A receive completion
 * lends the scenario a pointer into a provided buffer, valid only during the
 * callback. A send's buffer belongs to the scenario but must stay untouched
 * (no memmove) while ring_sock.send_inflight is true.
 */
#ifndef WSB_BENCH_RING_LOOP_H
#define WSB_BENCH_RING_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum ring_op {
    RING_OP_IGNORE = 0, /* cancels, poll updates: nothing to do */
    RING_OP_CONNECT,
    RING_OP_RECV,
    RING_OP_SEND,
    RING_OP_POLL, /* wss:// readiness; res is the poll mask */
};

/* One connection's socket as the ring sees it; embedded in the scenario's conn. */
struct ring_sock {
    int fd;
    uint32_t index; /* within the thread: user_data's connection field */
    uint32_t gen;   /* bumped on close: older completions are stale */
    bool tls;       /* readiness polls instead of ring reads and writes */
    bool recv_armed;
    bool send_inflight;
    bool poll_armed;
    /* The send's SQE while it is still unsubmitted (send_batch ==
     * ring_loop.batch): a later ring_sock_send of more bytes from the same
     * start widens it instead of waiting for its completion. */
    struct io_uring_sqe *send_sqe;
    uint64_t send_batch;
    uint32_t poll_mask; /* what the armed poll waits for */
};

/* One completion, handed to the scenario. data/len: received bytes (RECV with
 * res > 0), lent for the callback only (which may parse them in place). */
struct ring_event {
    enum ring_op op;
    uint32_t index;
    int res;
    bool more; /* a multishot recv stays armed */
    uint8_t *data;
    size_t len;
};

struct ring_loop {
    struct io_uring ring;
    bool ring_ready;
    struct io_uring_buf_ring *buf_ring;
    uint8_t *buf_base;
    unsigned buf_count, buf_size, buf_returns;
    uint64_t ops;      /* operations submitted whose last completion has not come */
    uint64_t batch;    /* bumped at each submit: the SQEs since may still be edited */
    uint64_t recv_dry; /* multishot recvs ended by an empty buffer ring (ENOBUFS) */
};

/* How many receive buffers a thread with conns connections gets: per_conn
 * each, within [min, max], rounded up to a power of two. One buffer per
 * connection is too few: a multishot recv drains its socket into as many
 * buffers as it takes before the loop gets them back, and a dry ring ends the
 * recv (ENOBUFS), which costs a re-arm. */
unsigned ring_buffer_count(uint32_t conns, unsigned per_conn, unsigned min, unsigned max);

/* Sets up the ring and buf_count (a power of two) receive buffers of buf_size
 * bytes. Call it on the thread that will use the loop. Returns 0 or -errno. */
int ring_loop_init(struct ring_loop *l, unsigned buf_count, unsigned buf_size);

/* Ends every operation still in flight (bounded wait) and frees everything. */
void ring_loop_free(struct ring_loop *l);

/* Creates s's socket and starts connecting it to addr: through the ring for
 * ws://, a non-blocking connect() plus a POLLOUT poll for wss:// (tls).
 * Returns 0 or -errno (s->fd is then -1). */
int ring_sock_connect(struct ring_loop *l, struct ring_sock *s, const struct sockaddr *addr,
                      socklen_t addr_len, bool tls);

/* ws://: arms the multishot recv unless it is armed. */
void ring_sock_arm_recv(struct ring_loop *l, struct ring_sock *s);

/* ws://: sends [buf, buf + len) unless a send is in flight; the completion
 * says how much went. A send from the same buf that is not submitted yet
 * takes the whole len instead: what a thread queues for one connection while
 * handling one batch of completions (acks for several receives) leaves in
 * one write, one TCP segment, as a client that reads before it writes
 * would send it. */
void ring_sock_send(struct ring_loop *l, struct ring_sock *s, const void *buf, size_t len);

/* wss://: waits for POLLIN, plus POLLOUT when want_write; updates an armed
 * poll whose mask differs. */
void ring_sock_poll(struct ring_loop *l, struct ring_sock *s, bool want_write);

/* Shuts the socket down (which ends its ring operations) and closes it; their
 * completions arrive stale. */
void ring_sock_close(struct ring_loop *l, struct ring_sock *s);

/* The scenario's side of ring_loop_wait: its sock for an index, and what to
 * do with a completion of that sock's current socket. */
typedef struct ring_sock *ring_sock_fn(void *ctx, uint32_t index);
typedef void ring_event_fn(void *ctx, const struct ring_event *ev);

/* Submits what is queued, waits for completions until `until` (CLOCK_MONOTONIC
 * ns; no wait when it has passed), and calls on_event for each completion of a
 * current socket (stale ones are dropped, their buffers returned). A multishot
 * recv that ended while its socket is still open is re-armed. Returns the
 * number of completions seen. */
unsigned ring_loop_wait(struct ring_loop *l, uint64_t until, ring_sock_fn *sock_of,
                        ring_event_fn *on_event, void *ctx);

#endif

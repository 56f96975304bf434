/*
 * conn_io.c - a load-generator connection's byte transport over the
 * thread's ring_loop (see conn_io.h).
 */
#include "conn_io.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#define PEER_CLOSED "the other end closed the connection"

int conn_io_connect(struct ring_loop *l, struct conn_io *io, const struct target *t, bool tls)
{
    io->connecting = true;
    io->want_write = tls; /* wss://: the first poll waits for the connect */
    return ring_sock_connect(l, &io->sock, (const struct sockaddr *)&t->addr, t->addr_len, tls);
}

void conn_io_connected(struct ring_loop *l, struct conn_io *io)
{
    io->connecting = false;
    ring_sock_arm_recv(l, &io->sock);
}

void conn_io_close(struct ring_loop *l, struct conn_io *io)
{
    tls_conn_free(&io->ssl);
    ring_sock_close(l, &io->sock);
    io->want_write = false;
    io->connecting = false;
}

void conn_io_want_write(struct ring_loop *l, struct conn_io *io, bool on)
{
    io->want_write = on;
    ring_sock_poll(l, &io->sock, on);
}

bool conn_io_backed_up(const struct conn_io *io)
{
    return io->want_write || io->sock.send_inflight;
}

bool conn_io_await_frame(struct conn_io *io, size_t frame_len)
{
    if (frame_len > io->in_cap)
        return false;
    io->in_need = frame_len;
    return true;
}

uint8_t *conn_io_reserve(struct conn_io *io, size_t need)
{
    /* bytes under a send in flight must not move */
    if (io->out_cap - io->out_len < need && io->out_off > 0 && !io->sock.send_inflight) {
        memmove(io->out, io->out + io->out_off, io->out_len - io->out_off);
        io->out_len -= io->out_off;
        io->out_off = 0;
    }
    return io->out_cap - io->out_len >= need ? io->out + io->out_len : NULL;
}

void conn_io_flush(struct ring_loop *l, struct conn_io *io, const struct conn_io_ops *ops,
                   void *ctx)
{
    if (io->ssl == NULL) {
        if (io->out_off < io->out_len)
            ring_sock_send(l, &io->sock, io->out + io->out_off, io->out_len - io->out_off);
        return;
    }
    while (io->out_off < io->out_len) {
        ssize_t n = tls_send(io->ssl, io->out + io->out_off, io->out_len - io->out_off);
        if (n > 0) {
            io->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_io_want_write(l, io, true);
            return;
        } else {
            ops->on_send_error(ctx, io->sock.index, errno);
            return;
        }
    }
    io->out_off = io->out_len = 0;
    conn_io_want_write(l, io, false);
}

/* ws://: a ring send completed with res bytes taken (or -errno). */
static void conn_io_on_sent(struct ring_loop *l, struct conn_io *io, int res,
                            const struct conn_io_ops *ops, void *ctx)
{
    if (res < 0) {
        ops->on_send_error(ctx, io->sock.index, -res);
        return;
    }
    io->out_off += (size_t)res;
    if (io->out_off == io->out_len)
        io->out_off = io->out_len = 0;
    else
        conn_io_flush(l, io, ops, ctx);
}

/* The scenario parses [bytes, bytes + len): returns what it used. */
static size_t conn_io_parse(struct conn_io *io, uint8_t *bytes, size_t len,
                            const struct conn_io_ops *ops, void *ctx, uint64_t now)
{
    io->in_need = 0;
    return ops->on_input(ctx, io->sock.index, bytes, len, now);
}

/* Hands io->in to the scenario and keeps what it left. */
static void conn_io_parse_held(struct conn_io *io, const struct conn_io_ops *ops, void *ctx,
                               uint64_t now)
{
    size_t used = conn_io_parse(io, io->in, io->in_len, ops, ctx, now);
    if (io->sock.fd < 0 || used == 0)
        return;
    memmove(io->in, io->in + used, io->in_len - used);
    io->in_len -= used;
}

/* ws://: bytes the ring received, lent for this call. With nothing held back
 * they are parsed where they are and only an unfinished message's bytes are
 * kept; else the held-back message is completed first, copying only the
 * bytes it needs (all that fit while its size is unknown). */
static void conn_io_take(struct conn_io *io, uint8_t *bytes, size_t len,
                         const struct conn_io_ops *ops, void *ctx)
{
    uint64_t now = now_ns();
    while (len > 0 && io->sock.fd >= 0) {
        if (io->in_len == 0) {
            size_t used = conn_io_parse(io, bytes, len, ops, ctx, now);
            if (io->sock.fd < 0 || used == len)
                return;
            bytes += used;
            len -= used;
            if (len > io->in_cap) {
                ops->on_eof(ctx, io->sock.index, "receive buffer full", true);
                return;
            }
            memcpy(io->in, bytes, len);
            io->in_len = len;
            return;
        }
        size_t room = io->in_cap - io->in_len;
        size_t take = io->in_need > io->in_len ? io->in_need - io->in_len : room;
        take = take < room ? take : room;
        take = take < len ? take : len;
        if (take == 0) {
            ops->on_eof(ctx, io->sock.index, "receive buffer full", true);
            return;
        }
        memcpy(io->in + io->in_len, bytes, take);
        io->in_len += take;
        bytes += take;
        len -= take;
        if (io->in_len >= io->in_need)
            conn_io_parse_held(io, ops, ctx, now);
    }
}

/* wss://, on POLLIN: one wolfSSL_read yields at most one record, so it reads
 * on until wolfSSL wants the socket again, up to TLS_READ_BUDGET reads
 * (reading until WANT_READ without a bound lets one busy connection starve the
 * others: its socket keeps refilling), and past that only while wolfSSL still
 * holds received bytes, which a poll would not report. */
static void conn_io_read_tls(struct conn_io *io, const struct conn_io_ops *ops, void *ctx)
{
    unsigned budget = TLS_READ_BUDGET;
    do {
        if (io->in_len == io->in_cap)
            return; /* on_input failed anything that cannot fit */
        ssize_t n = tls_recv(io->ssl, io->in + io->in_len, io->in_cap - io->in_len);
        if (n == 0) {
            ops->on_eof(ctx, io->sock.index, PEER_CLOSED, false);
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                ops->on_eof(ctx, io->sock.index, strerror(errno), false);
            return;
        }
        io->in_len += (size_t)n;
        conn_io_parse_held(io, ops, ctx, now_ns());
    } while (io->sock.fd >= 0 && (--budget > 0 || tls_has_pending(io->ssl)));
}

/* wss://: the readiness poll fired with `events` (POLL*). */
static void conn_io_on_ready(struct ring_loop *l, struct conn_io *io, uint32_t events,
                             const struct conn_io_ops *ops, void *ctx)
{
    if (io->connecting) {
        ops->on_connect(ctx, io->sock.index, 0);
    } else {
        if (events & (POLLIN | POLLERR | POLLHUP))
            conn_io_read_tls(io, ops, ctx);
        if (io->sock.fd >= 0 && (events & POLLOUT))
            conn_io_flush(l, io, ops, ctx);
    }
    if (io->sock.fd >= 0)
        ring_sock_poll(l, &io->sock, io->want_write);
}

struct conn_io_round {
    struct ring_loop *loop;
    const struct conn_io_ops *ops;
    void *ctx;
};

static struct ring_sock *conn_io_sock_of(void *arg, uint32_t index)
{
    const struct conn_io_round *r = arg;
    struct conn_io *io = r->ops->io_of(r->ctx, index);
    return io != NULL ? &io->sock : NULL;
}

static void conn_io_on_event(void *arg, const struct ring_event *ev)
{
    const struct conn_io_round *r = arg;
    struct conn_io *io = r->ops->io_of(r->ctx, ev->index);
    if (io->sock.fd < 0)
        return;
    switch (ev->op) {
    case RING_OP_CONNECT:
        r->ops->on_connect(r->ctx, ev->index, ev->res);
        break;
    case RING_OP_RECV:
        if (ev->res == 0)
            r->ops->on_eof(r->ctx, ev->index, PEER_CLOSED, false);
        else if (ev->res < 0)
            r->ops->on_eof(r->ctx, ev->index, strerror(-ev->res), false);
        else
            conn_io_take(io, ev->data, ev->len, r->ops, r->ctx);
        break;
    case RING_OP_SEND:
        conn_io_on_sent(r->loop, io, ev->res, r->ops, r->ctx);
        break;
    case RING_OP_POLL:
        conn_io_on_ready(r->loop, io, ev->res < 0 ? POLLERR : (uint32_t)ev->res, r->ops, r->ctx);
        break;
    default:
        break;
    }
}

void conn_io_wait(struct ring_loop *l, uint64_t until, const struct conn_io_ops *ops, void *ctx)
{
    struct conn_io_round r = {.loop = l, .ops = ops, .ctx = ctx};
    ring_loop_wait(l, until, conn_io_sock_of, conn_io_on_event, &r);
}

/*
 * ring_loop.c - wsbroker-bench's per-thread io_uring event loop (see
 * ring_loop.h for what it owns and the user_data layout).
 */
#include "ring_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RING_ENTRIES    1024
#define RING_CQ_ENTRIES 16384
#define BUFFER_GROUP    0
#define OP_BITS         8u
#define GEN_BITS        24u
#define DRAIN_MS        1000 /* ring_loop_free: how long in-flight operations may take to end */

static uint64_t op_data(const struct ring_sock *s, enum ring_op op)
{
    return (uint64_t)s->index << 32 | (uint64_t)(s->gen & ((1u << GEN_BITS) - 1)) << OP_BITS | op;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every submit goes through these two: after one the kernel owns the SQEs
 * it took (their slots may be reused), and l->batch says so to
 * ring_sock_send. */
static void loop_submit(struct ring_loop *l)
{
    l->batch++;
    io_uring_submit(&l->ring);
}

static void loop_submit_and_wait(struct ring_loop *l, uint64_t wait_ns)
{
    struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ns / 1000000000u),
                                   .tv_nsec = (long long)(wait_ns % 1000000000u)};
    struct io_uring_cqe *cqe = NULL;
    l->batch++;
    io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
}

/* An SQE, submitting what is queued first if the submission ring is full. */
static struct io_uring_sqe *loop_sqe(struct ring_loop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    while (sqe == NULL) {
        loop_submit(l);
        sqe = io_uring_get_sqe(&l->ring);
    }
    l->ops++;
    return sqe;
}

static int loop_setup_buffers(struct ring_loop *l)
{
    size_t ring_bytes = l->buf_count * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    l->buf_ring = mem;
    l->buf_base = aligned_alloc(4096, (size_t)l->buf_count * l->buf_size);
    if (l->buf_base == NULL)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)mem,
        .ring_entries = l->buf_count,
        .bgid = BUFFER_GROUP,
    };
    int rc = io_uring_register_buf_ring(&l->ring, &reg, 0);
    if (rc != 0)
        return rc;
    io_uring_buf_ring_init(l->buf_ring);
    int mask = io_uring_buf_ring_mask(l->buf_count);
    for (unsigned i = 0; i < l->buf_count; i++)
        io_uring_buf_ring_add(l->buf_ring, l->buf_base + (size_t)i * l->buf_size, l->buf_size,
                              (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(l->buf_ring, (int)l->buf_count);
    return 0;
}

static void loop_return_buffer(struct ring_loop *l, unsigned bid)
{
    io_uring_buf_ring_add(l->buf_ring, l->buf_base + (size_t)bid * l->buf_size, l->buf_size,
                          (unsigned short)bid, io_uring_buf_ring_mask(l->buf_count),
                          (int)l->buf_returns++);
}

static void loop_publish_buffers(struct ring_loop *l)
{
    if (l->buf_returns > 0) {
        io_uring_buf_ring_advance(l->buf_ring, (int)l->buf_returns);
        l->buf_returns = 0;
    }
}

unsigned ring_buffer_count(uint32_t conns, unsigned per_conn, unsigned min, unsigned max)
{
    uint64_t want = (uint64_t)conns * per_conn;
    unsigned n = 1;
    while (n < want && n < max)
        n <<= 1;
    return n < min ? min : n;
}

int ring_loop_init(struct ring_loop *l, unsigned buf_count, unsigned buf_size)
{
    memset(l, 0, sizeof *l);
    l->buf_count = buf_count;
    l->buf_size = buf_size;
    struct io_uring_params params = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
        .cq_entries = RING_CQ_ENTRIES,
    };
    int rc = io_uring_queue_init_params(RING_ENTRIES, &l->ring, &params);
    if (rc == -EINVAL) { /* kernels before 5.19 */
        params =
            (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = RING_CQ_ENTRIES};
        rc = io_uring_queue_init_params(RING_ENTRIES, &l->ring, &params);
    }
    if (rc < 0)
        return rc;
    l->ring_ready = true;
    return loop_setup_buffers(l);
}

static struct ring_sock *no_sock(void *ctx, uint32_t index)
{
    (void)ctx;
    (void)index;
    return NULL;
}

void ring_loop_free(struct ring_loop *l)
{
    if (getenv("WSB_BENCH_RING_DEBUG") != NULL)
        fprintf(stderr, "ring_loop: %llu recv re-arms after the buffer ring ran dry\n",
                (unsigned long long)l->recv_dry);
    if (l->ring_ready) {
        uint64_t deadline = monotonic_ns() + DRAIN_MS * 1000000ull;
        while (l->ops > 0 && monotonic_ns() < deadline)
            ring_loop_wait(l, deadline, no_sock, NULL, NULL);
        io_uring_queue_exit(&l->ring);
    }
    if (l->buf_ring != NULL)
        munmap(l->buf_ring, l->buf_count * sizeof(struct io_uring_buf));
    free(l->buf_base);
    memset(l, 0, sizeof *l);
}

int ring_sock_connect(struct ring_loop *l, struct ring_sock *s, const struct sockaddr *addr,
                      socklen_t addr_len, bool tls)
{
    s->tls = tls;
    s->recv_armed = s->send_inflight = s->poll_armed = false;
    /* ws:// sockets stay blocking: the ring then waits for room or data itself
     * instead of completing with -EAGAIN */
    s->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | (tls ? SOCK_NONBLOCK : 0), 0);
    if (s->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls) {
        if (connect(s->fd, addr, addr_len) < 0 && errno != EINPROGRESS) {
            int err = errno;
            close(s->fd);
            s->fd = -1;
            return -err;
        }
        ring_sock_poll(l, s, true);
        return 0;
    }
    struct io_uring_sqe *sqe = loop_sqe(l);
    io_uring_prep_connect(sqe, s->fd, addr, addr_len);
    io_uring_sqe_set_data64(sqe, op_data(s, RING_OP_CONNECT));
    return 0;
}

void ring_sock_arm_recv(struct ring_loop *l, struct ring_sock *s)
{
    if (s->recv_armed || s->fd < 0 || s->tls)
        return;
    struct io_uring_sqe *sqe = loop_sqe(l);
    io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUFFER_GROUP;
    io_uring_sqe_set_data64(sqe, op_data(s, RING_OP_RECV));
    s->recv_armed = true;
}

void ring_sock_send(struct ring_loop *l, struct ring_sock *s, const void *buf, size_t len)
{
    if (s->fd < 0 || len == 0)
        return;
    if (s->send_inflight) {
        /* Unsubmitted, the same bytes and more: it takes them all. */
        if (s->send_batch == l->batch && s->send_sqe->addr == (uintptr_t)buf &&
            len > s->send_sqe->len && len <= INT32_MAX)
            s->send_sqe->len = (uint32_t)len;
        return;
    }
    struct io_uring_sqe *sqe = loop_sqe(l);
    io_uring_prep_send(sqe, s->fd, buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, op_data(s, RING_OP_SEND));
    s->send_inflight = true;
    s->send_sqe = sqe;
    s->send_batch = l->batch;
}

void ring_sock_poll(struct ring_loop *l, struct ring_sock *s, bool want_write)
{
    if (s->fd < 0)
        return;
    uint32_t mask = POLLIN | (want_write ? POLLOUT : 0);
    if (s->poll_armed && s->poll_mask == mask)
        return;
    struct io_uring_sqe *sqe = loop_sqe(l);
    if (s->poll_armed) {
        io_uring_prep_poll_update(sqe, op_data(s, RING_OP_POLL), op_data(s, RING_OP_POLL), mask,
                                  IORING_POLL_UPDATE_EVENTS);
        io_uring_sqe_set_data64(sqe, RING_OP_IGNORE);
    } else {
        io_uring_prep_poll_add(sqe, s->fd, mask);
        io_uring_sqe_set_data64(sqe, op_data(s, RING_OP_POLL));
    }
    s->poll_armed = true;
    s->poll_mask = mask;
}

void ring_sock_close(struct ring_loop *l, struct ring_sock *s)
{
    /* an SQE still queued for this fd must reach the kernel while the fd is
     * still this socket: a new socket may get the same number */
    if (s->fd >= 0 && io_uring_sq_ready(&l->ring) > 0)
        loop_submit(l);
    if (s->fd >= 0) {
        shutdown(s->fd, SHUT_RDWR); /* a recv or poll in flight holds the file: this ends it */
        close(s->fd);
    }
    s->fd = -1;
    s->gen++;
    s->recv_armed = s->send_inflight = s->poll_armed = false;
}

static void loop_dispatch(struct ring_loop *l, const struct io_uring_cqe *cqe,
                          ring_sock_fn *sock_of, ring_event_fn *on_event, void *ctx)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more)
        l->ops--;
    enum ring_op op = (enum ring_op)(data & ((1u << OP_BITS) - 1));
    struct ring_event ev = {
        .op = op, .index = (uint32_t)(data >> 32), .res = cqe->res, .more = more};
    bool has_buffer = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    struct ring_sock *s = op == RING_OP_IGNORE ? NULL : sock_of(ctx, ev.index);
    uint32_t gen = (uint32_t)(data >> OP_BITS) & ((1u << GEN_BITS) - 1);
    if (s == NULL || (s->gen & ((1u << GEN_BITS) - 1)) != gen) {
        if (has_buffer)
            loop_return_buffer(l, bid);
        return;
    }
    switch (op) {
    case RING_OP_RECV:
        if (!more)
            s->recv_armed = false;
        if (has_buffer && cqe->res > 0) {
            ev.data = l->buf_base + (size_t)bid * l->buf_size;
            ev.len = (size_t)cqe->res;
        }
        if (cqe->res != -ENOBUFS && cqe->res != -ECANCELED)
            on_event(ctx, &ev);
        if (has_buffer) { /* the scenario copied what it keeps: back to the kernel now */
            loop_return_buffer(l, bid);
            loop_publish_buffers(l);
        }
        /* ENOBUFS (the ring ran dry): the buffers are back before the
         * re-armed recv is submitted */
        if (cqe->res == -ENOBUFS)
            l->recv_dry++;
        if (!s->recv_armed && s->fd >= 0 && s->gen == gen && (cqe->res > 0 || cqe->res == -ENOBUFS))
            ring_sock_arm_recv(l, s);
        return;
    case RING_OP_SEND:
        s->send_inflight = false;
        break;
    case RING_OP_POLL:
        s->poll_armed = false;
        break;
    default:
        break;
    }
    on_event(ctx, &ev);
}

unsigned ring_loop_wait(struct ring_loop *l, uint64_t until, ring_sock_fn *sock_of,
                        ring_event_fn *on_event, void *ctx)
{
    uint64_t now = monotonic_ns();
    loop_publish_buffers(l);
    if (until > now)
        loop_submit_and_wait(l, until - now);
    else
        loop_submit(l);
    unsigned seen = 0;
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&l->ring, &cqe) == 0) {
        loop_dispatch(l, cqe, sock_of, on_event, ctx);
        io_uring_cqe_seen(&l->ring, cqe);
        seen++;
    }
    loop_publish_buffers(l);
    return seen;
}

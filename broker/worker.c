/*
 * worker.c - the per-core io_uring event loop.
 *
 * Every operation's user_data is a pointer (or index) with an operation tag
 * in its low 3 bits, and completions are dispatched by a flat switch on the
 * tag. Operations in flight:
 *   - one multishot accept per listening socket;
 *   - one multishot recv per connection, into the worker's provided-buffer
 *     ring (buffers go back to the ring as soon as conn.c has looked at them);
 *   - at most one sendmsg per connection, gathering up to CONN_SEND_IOV_MAX
 *     queued frames (shared outbufs) into one syscall;
 *   - a timeout that ticks the connection timers, and a read on an eventfd
 *     that wakes the loop for shutdown.
 * Sends and recv (re)arms that conn.c asks for during a batch of completions
 * are collected on the flush list and submitted together before the loop
 * waits again: one io_uring_enter per batch.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ws_handshake.h"

#define RING_ENTRIES    4096
#define RING_CQ_ENTRIES 16384
#define BUFFER_GROUP    0

enum op_tag {
    OP_IGNORE = 0, /* cancels: their completions carry no news */
    OP_ACCEPT = 1, /* user_data = listener index << 3 | tag */
    OP_RECV = 2,   /* user_data = conn pointer | tag */
    OP_SEND = 3,
    OP_TICK = 4,
    OP_WAKE = 5,
};

#define TAG_BITS 3u
#define TAG_MASK ((1u << TAG_BITS) - 1)

static uint64_t op_data(const void *ptr, enum op_tag tag)
{
    return (uint64_t)(uintptr_t)ptr | tag;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t monotonic_ms(void)
{
    return monotonic_ns() / 1000000u;
}

/* An SQE, submitting what is queued first if the submission ring is full. */
static struct io_uring_sqe *worker_sqe(struct worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    while (sqe == NULL) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

/* --- provided receive buffers ---------------------------------------------- */

static int worker_setup_buffers(struct worker *w)
{
    w->buf_count = (unsigned)w->cfg->recv_buffer_count;
    w->buf_size = (size_t)w->cfg->recv_buffer_bytes;
    size_t ring_bytes = w->buf_count * sizeof(struct io_uring_buf);
    void *ring_mem =
        mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED)
        return -errno;
    w->buf_ring = ring_mem;
    w->buf_base = aligned_alloc(4096, w->buf_count * w->buf_size);
    if (w->buf_base == NULL)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)ring_mem,
        .ring_entries = w->buf_count,
        .bgid = BUFFER_GROUP,
    };
    int rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (rc != 0)
        return rc;
    io_uring_buf_ring_init(w->buf_ring);
    unsigned mask = (unsigned)io_uring_buf_ring_mask(w->buf_count);
    for (unsigned i = 0; i < w->buf_count; i++)
        io_uring_buf_ring_add(w->buf_ring, w->buf_base + i * w->buf_size, (unsigned)w->buf_size,
                              (unsigned short)i, (int)mask, (int)i);
    io_uring_buf_ring_advance(w->buf_ring, (int)w->buf_count);
    return 0;
}

static void worker_return_buffer(struct worker *w, unsigned bid)
{
    io_uring_buf_ring_add(w->buf_ring, w->buf_base + bid * w->buf_size, (unsigned)w->buf_size,
                          (unsigned short)bid, io_uring_buf_ring_mask(w->buf_count),
                          (int)w->buf_pending_return++);
}

static void worker_publish_buffers(struct worker *w)
{
    if (w->buf_pending_return > 0) {
        io_uring_buf_ring_advance(w->buf_ring, (int)w->buf_pending_return);
        w->buf_pending_return = 0;
    }
}

/* --- arming operations ------------------------------------------------------ */

static void worker_arm_accept(struct worker *w, unsigned i)
{
    struct io_uring_sqe *sqe = worker_sqe(w);
    io_uring_prep_multishot_accept(sqe, w->listen_fds[i], NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ((uint64_t)i << TAG_BITS) | OP_ACCEPT);
    w->accept_armed[i] = true;
}

static void worker_arm_tick(struct worker *w)
{
    struct io_uring_sqe *sqe = worker_sqe(w);
    io_uring_prep_timeout(sqe, &w->tick, 0, 0);
    io_uring_sqe_set_data64(sqe, OP_TICK);
}

static void worker_arm_wake(struct worker *w)
{
    struct io_uring_sqe *sqe = worker_sqe(w);
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_value, sizeof(w->wake_value), 0);
    io_uring_sqe_set_data64(sqe, OP_WAKE);
}

static bool conn_wants_recv(const struct conn *c)
{
    return c->state != CONN_DEAD && !c->recv_paused && !c->peer_eof;
}

/* Submits whatever a connection's state asks for. */
static void worker_sync_conn(struct worker *w, struct conn *c)
{
    if (c->state == CONN_DEAD) {
        if (c->inflight == 0)
            conn_free(c);
        return;
    }
    if (!c->send_inflight && !send_queue_empty(&c->sendq)) {
        if (c->sendq.count >= SEND_GATHER_MIN_FRAMES)
            send_queue_gather(&c->sendq, &w->pool, &w->gather, &w->release_batch);
        if (c->sendq.count > c->send_iov_cap && c->send_iov_cap < CONN_SEND_IOV_MAX) {
            struct iovec *more = malloc(CONN_SEND_IOV_MAX * sizeof(*more));
            if (more) { /* else: fewer frames per sendmsg */
                c->send_iov = more;
                c->send_iov_cap = CONN_SEND_IOV_MAX;
            }
        }
        unsigned n = send_queue_fill_iov(&c->sendq, c->send_iov, c->send_iov_cap);
        struct io_uring_sqe *sqe = worker_sqe(w);
        if (n == 1) { /* the common case at a modest rate: no msghdr to import */
            io_uring_prep_send(sqe, c->fd, c->send_iov[0].iov_base, c->send_iov[0].iov_len,
                               MSG_NOSIGNAL);
        } else {
            c->send_msg = (struct msghdr){.msg_iov = c->send_iov, .msg_iovlen = n};
            io_uring_prep_sendmsg(sqe, c->fd, &c->send_msg, MSG_NOSIGNAL);
        }
        io_uring_sqe_set_data64(sqe, op_data(c, OP_SEND));
        metric_add(&w->metrics.sends, 1);
        c->send_inflight = true;
        c->inflight++;
    }
    if (conn_wants_recv(c) && !c->recv_armed) {
        struct io_uring_sqe *sqe = worker_sqe(w);
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BUFFER_GROUP;
        io_uring_sqe_set_data64(sqe, op_data(c, OP_RECV));
        c->recv_armed = true;
        c->inflight++;
    } else if (c->recv_paused && c->recv_armed && !c->recv_cancelling) {
        struct io_uring_sqe *sqe = worker_sqe(w);
        io_uring_prep_cancel64(sqe, op_data(c, OP_RECV), 0);
        io_uring_sqe_set_data64(sqe, OP_IGNORE);
        c->recv_cancelling = true;
    }
}

void worker_schedule_io(struct worker *w, struct conn *c)
{
    if (c->on_flush_list)
        return;
    c->on_flush_list = true;
    c->flush_next = w->flush_list;
    w->flush_list = c;
    w->flush_count++;
}

void worker_conn_closed(struct worker *w, struct conn *c)
{
    metric_add(&w->metrics.closed, 1);
    atomic_fetch_sub_explicit(&w->broker->connections, 1, memory_order_relaxed);
    if (c->peer_counted) {
        ip_limit_release(w->broker->ip_limit, &c->peer);
        c->peer_counted = false;
    }
    worker_schedule_io(w, c); /* frees it once nothing is in flight */
}

/*
 * The sends a flush prepares run inside the next io_uring_enter, one
 * connection after another; with hundreds of busy connections that is most
 * of a loop pass, and a publish or a confirm that reaches a mailbox
 * meanwhile waits for the pass after. So a flush is cut into slices of
 * max(connections / WORKER_FLUSH_SLICES, WORKER_FLUSH_SLICE_MIN): after
 * each, what was prepared is submitted (those sends run) and the mailboxes
 * are read, and what arrived - frames for the connections still to come,
 * confirms for publishers - goes out in this pass. A short flush (the
 * latency-sensitive case) is not cut; a long one adds a few submits.
 */
#define WORKER_FLUSH_SLICES    4
#define WORKER_FLUSH_SLICE_MIN 8

static void worker_flush(struct worker *w)
{
    unsigned slice = w->flush_count / WORKER_FLUSH_SLICES, done = 0;
    if (slice < WORKER_FLUSH_SLICE_MIN)
        slice = WORKER_FLUSH_SLICE_MIN;
    while (w->flush_list) {
        if (++done % slice == 0) {
            io_uring_submit(&w->ring);
            router_poll(&w->router);
            router_flush(&w->router);
        }
        struct conn *c = w->flush_list;
        w->flush_list = c->flush_next;
        w->flush_count--;
        /* Encrypt first, c still marked as listed: the records it queues
         * must not put it back, and any other connection it schedules goes
         * on the head of what is left of the list. */
        if (c->ssl && c->state != CONN_DEAD && !send_queue_empty(&c->tls_plain))
            tls_conn_flush(c);
        c->on_flush_list = false;
        worker_sync_conn(w, c);
    }
}

/* --- completions ------------------------------------------------------------ */

static void worker_on_accept(struct worker *w, unsigned i, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        w->accept_armed[i] = false; /* re-armed on the next tick */
    if (cqe->res < 0) {
        if (cqe->res != -ECANCELED && !w->stopping)
            log_warn("worker %u: accept failed: %s", w->id, strerror(-cqe->res));
        return;
    }
    int fd = cqe->res;
    if (w->stopping && !w->cfg->listeners[i].metrics) {
        close(fd);
        return;
    }
    atomic_fetch_add_explicit(&w->broker->connections, 1, memory_order_relaxed);
    metric_add(&w->metrics.accepted, 1);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_storage peer = {0};
    socklen_t peer_len = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0)
        peer.ss_family = AF_UNSPEC; /* already reset: the first recv will say so */
    struct conn *c = conn_create(w, fd, &peer);
    if (c != NULL && w->broker->ip_limit && peer.ss_family != AF_UNSPEC) {
        c->peer_connections = ip_limit_acquire(w->broker->ip_limit, &peer);
        c->peer_counted = c->peer_connections > 0;
    }
    if (log_enabled(LOG_DEBUG)) {
        char who[INET6_ADDRSTRLEN + 8];
        ip_format(&peer, who, sizeof(who));
        log_debug("worker %u: fd %d accepted from %s", w->id, fd, who);
    }
    if (c == NULL) {
        log_warn("worker %u: out of memory accepting a connection", w->id);
        close(fd);
        atomic_fetch_sub_explicit(&w->broker->connections, 1, memory_order_relaxed);
        metric_add(&w->metrics.closed, 1);
        return;
    }
    c->listener = &w->cfg->listeners[i];
    if (conn_refuse_at_accept(c))
        return; /* idle or slow sockets must not pile up to the handshake timeout */
    if (w->cfg->listeners[i].tls && tls_conn_start(w->broker->tls, c) != 0) {
        log_warn("worker %u: out of memory starting TLS", w->id);
        conn_abort(c, NULL);
        return;
    }
    worker_schedule_io(w, c);
}

static void worker_on_recv(struct worker *w, struct conn *c, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        c->recv_armed = false;
        c->recv_cancelling = false;
        c->inflight--;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        metric_add(&w->metrics.bytes_in, cqe->res > 0 ? (uint64_t)cqe->res : 0);
        if (cqe->res > 0 && c->state != CONN_DEAD)
            conn_on_bytes(c, w->buf_base + bid * w->buf_size, (size_t)cqe->res);
        worker_return_buffer(w, bid);
    } else if (cqe->res == 0) {
        if (c->state != CONN_DEAD)
            conn_on_eof(c);
    } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
        conn_abort(c, strerror(-cqe->res));
    }
    /* ENOBUFS ends a multishot recv when the ring ran dry: buffers are back
     * by the time the flush list runs, which re-arms it. */
    worker_schedule_io(w, c);
}

static void worker_on_send(struct worker *w, struct conn *c, const struct io_uring_cqe *cqe)
{
    c->send_inflight = false;
    c->inflight--;
    if (c->state == CONN_DEAD) {
        worker_schedule_io(w, c);
        return;
    }
    if (cqe->res < 0) {
        conn_abort(c, strerror(-cqe->res));
        return;
    }
    metric_add(&w->metrics.bytes_out, (uint64_t)cqe->res);
    conn_on_sent(c, (size_t)cqe->res);
}

static void worker_begin_stop(struct worker *w)
{
    w->stopping = true;
    w->drain_deadline_ms = w->now_ms + w->cfg->drain_timeout_ms;
    for (unsigned i = 0; i < w->listen_count; i++) {
        if (w->cfg->listeners[i].metrics)
            continue; /* /readyz answers 503 there while draining */
        if (w->accept_armed[i]) {
            struct io_uring_sqe *sqe = worker_sqe(w);
            io_uring_prep_cancel64(sqe, ((uint64_t)i << TAG_BITS) | OP_ACCEPT, 0);
            io_uring_sqe_set_data64(sqe, OP_IGNORE);
        }
        /* shutdown() stops listening now: a worker with no connections
         * leaves its loop before the cancel is even submitted, and the
         * ring's reference would keep the socket taking connections. */
        shutdown(w->listen_fds[i], SHUT_RDWR);
        close(w->listen_fds[i]);
        w->listen_fds[i] = -1;
    }
    for (struct conn *c = w->conns; c; c = c->next) {
        if (c->state == CONN_HANDSHAKE)
            conn_abort(c, "shutting down");
        else if (c->state == CONN_OPEN)
            conn_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
        else if (c->state != CONN_DEAD && c->deadline_ms > w->drain_deadline_ms)
            c->deadline_ms = w->drain_deadline_ms;
    }
}

/* Leaving the loop: the metrics listener (open while draining) must not
 * take more connections that nobody would accept. shutdown() takes it out
 * of the SO_REUSEPORT group at once; close() alone would not while the
 * ring's multishot accept still holds it. */
static void worker_close_metrics_listener(struct worker *w)
{
    for (unsigned i = 0; i < w->listen_count; i++) {
        if (w->cfg->listeners[i].metrics && w->listen_fds[i] >= 0) {
            shutdown(w->listen_fds[i], SHUT_RDWR);
            close(w->listen_fds[i]);
            w->listen_fds[i] = -1;
        }
    }
}

static void worker_on_tick(struct worker *w)
{
    uint64_t queued_sum = 0, queued_max = 0;
    for (struct conn *c = w->conns; c; c = c->next) {
        uint64_t queued = conn_queued_bytes(c);
        queued_sum += queued;
        queued_max = queued > queued_max ? queued : queued_max;
        conn_on_tick(c, w->now_ms);
    }
    metric_set(&w->metrics.sendq_bytes_sum, queued_sum);
    metric_set(&w->metrics.sendq_bytes_max, queued_max);
    router_on_tick(&w->router, w->now_ms);
    gather_cache_clear(&w->gather, &w->release_batch); /* holds nothing past a tick */
    if (w->stopping) {
        if (w->now_ms >= w->drain_deadline_ms) {
            for (struct conn *c = w->conns; c; c = c->next)
                conn_abort(c, "drain timeout");
        }
    }
    for (unsigned i = 0; i < w->listen_count; i++) {
        if (!w->accept_armed[i] && w->listen_fds[i] >= 0)
            worker_arm_accept(w, i);
    }
    worker_arm_tick(w);
}

/* SIGHUP: take the configuration main published. Everything reads w->cfg
 * (or the router's copy) afresh, so new values apply from here on. */
static void worker_adopt_config(struct worker *w)
{
    const struct broker_config *next = atomic_load(&w->broker->cfg_next);
    if (next != NULL && next != w->cfg) {
        w->cfg = next;
        w->router.cfg = next;
    }
}

static void worker_on_wake(struct worker *w, const struct io_uring_cqe *cqe)
{
    (void)cqe;
    worker_adopt_config(w);
    if (atomic_load(&w->broker->stopping) && !w->stopping)
        worker_begin_stop(w);
    if (!w->stopping)
        worker_arm_wake(w);
}

static void worker_dispatch(struct worker *w, const struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    void *ptr = (void *)(uintptr_t)(data & ~(uint64_t)TAG_MASK);
    switch ((enum op_tag)(data & TAG_MASK)) {
    case OP_ACCEPT:
        worker_on_accept(w, (unsigned)(data >> TAG_BITS), cqe);
        break;
    case OP_RECV:
        worker_on_recv(w, ptr, cqe);
        break;
    case OP_SEND:
        worker_on_send(w, ptr, cqe);
        break;
    case OP_TICK:
        worker_on_tick(w);
        break;
    case OP_WAKE:
        worker_on_wake(w, cqe);
        break;
    case OP_IGNORE:
        break;
    }
}

/* --- set-up and tear-down --------------------------------------------------- */

/* Tick often enough for the shortest timer to fire within a quarter of it. */
static uint64_t worker_tick_ms(const struct broker_config *cfg)
{
    uint64_t shortest = cfg->handshake_timeout_ms;
    const uint64_t others[] = {cfg->ping_interval_ms, cfg->idle_timeout_ms, cfg->close_timeout_ms};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if (others[i] < shortest)
            shortest = others[i];
    }
    uint64_t tick = shortest / 4;
    return tick < 5 ? 5 : tick > 250 ? 250 : tick;
}

/* A stopping worker with no connections of its own still waits for the
 * others to drain (checking at each tick), so its share of the metrics
 * listener keeps answering /readyz and /metrics meanwhile instead of
 * resetting the probes queued on it; past the drain deadline (plus a
 * second of slack) it leaves regardless. */
static bool worker_may_leave(const struct worker *w)
{
    return atomic_load_explicit(&w->broker->connections, memory_order_relaxed) == 0 ||
           w->now_ms >= w->drain_deadline_ms + 1000;
}

int worker_init(struct worker *w, unsigned id, struct broker *b, const int *listen_fds,
                unsigned listen_count)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->broker = b;
    w->cfg = b->cfg;
    w->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w->wake_fd < 0)
        return -errno;
    w->listen_count = listen_count;
    memcpy(w->listen_fds, listen_fds, sizeof(int) * listen_count);
    outbuf_pool_init(&w->pool);
    gather_cache_init(&w->gather);
    w->tick_ms = worker_tick_ms(w->cfg);
    w->tick.tv_sec = (long long)(w->tick_ms / 1000);
    w->tick.tv_nsec = (long long)(w->tick_ms % 1000) * 1000000;
    pthread_mutex_init(&w->start_lock, NULL);
    pthread_cond_init(&w->start_cond, NULL);
    atomic_init(&w->idle, false);
    return router_init(&w->router, w, &b->mailboxes, &b->topics) == 0 ? 0 : -ENOMEM;
}

/* Creates the ring on the worker's own thread: with SINGLE_ISSUER only the
 * creating thread may submit. */
static int worker_setup_ring(struct worker *w)
{
    struct io_uring_params params = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        .cq_entries = RING_CQ_ENTRIES,
    };
    int rc = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &params);
    if (rc == -EINVAL) { /* kernels before 6.1 */
        params =
            (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = RING_CQ_ENTRIES};
        rc = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &params);
    }
    if (rc < 0)
        return rc;
    w->ring_ready = true;
    return worker_setup_buffers(w);
}

static void worker_report_start(struct worker *w, int status)
{
    pthread_mutex_lock(&w->start_lock);
    w->start_status = status;
    w->start_done = true;
    pthread_cond_signal(&w->start_cond);
    pthread_mutex_unlock(&w->start_lock);
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    int rc = worker_setup_ring(w);
    worker_report_start(w, rc);
    if (rc != 0)
        return NULL;
    log_set_thread_worker((int)w->id);
    w->now_ms = monotonic_ms();
    for (unsigned i = 0; i < w->listen_count; i++)
        worker_arm_accept(w, i);
    worker_arm_tick(w);
    worker_arm_wake(w);
    metric_set(&w->metrics.heartbeat_ms, w->now_ms);
    metric_set(&w->metrics.running, 1);
    uint64_t wait_from = monotonic_ns();
    for (;;) {
        /* Sleep only when no peer has left us messages (see mailbox.h). */
        atomic_store(&w->idle, true);
        if (router_busy(&w->router)) {
            atomic_store(&w->idle, false);
            rc = io_uring_submit_and_get_events(&w->ring);
        } else {
            rc = io_uring_submit_and_wait(&w->ring, 1);
            atomic_store(&w->idle, false);
        }
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            log_error("worker %u: io_uring_submit_and_wait: %s; stopping the broker", w->id,
                      strerror(-rc));
            atomic_store(&w->broker->stopping, true);
            kill(getpid(), SIGTERM); /* wakes main's sigwait */
            break;
        }
        uint64_t woke = monotonic_ns();
        w->now_ms = woke / 1000000u;
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            worker_dispatch(w, cqe);
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
        outbuf_release_flush(&w->release_batch);
        worker_publish_buffers(w);
        router_poll(&w->router);
        router_flush(&w->router);
        worker_flush(w);
        /* Busy: handling this batch. Waiting: inside io_uring_enter, which
         * also submits (and may perform) the previous batch's sends. */
        uint64_t done = monotonic_ns();
        metrics_count_loop(&w->metrics, done - woke, woke - wait_from, w->now_ms);
        wait_from = done;
        if (w->stopping && w->conns == NULL && worker_may_leave(w))
            break;
    }
    worker_close_metrics_listener(w);
    metric_set(&w->metrics.running, 0);
    /* wolfCrypt's per-thread ECC cache: TLS handshakes and ES256 tokens. */
    tls_thread_cleanup();
    return NULL;
}

int worker_start(struct worker *w)
{
    int rc = pthread_create(&w->thread, NULL, worker_run, w);
    if (rc != 0)
        return -rc;
    w->thread_started = true;
    pthread_mutex_lock(&w->start_lock);
    while (!w->start_done)
        pthread_cond_wait(&w->start_cond, &w->start_lock);
    pthread_mutex_unlock(&w->start_lock);
    return w->start_status;
}

void worker_wake(struct worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof(one));
    (void)n;
}

void worker_wake_peer(struct worker *w, unsigned to)
{
    struct worker *peer = &w->broker->workers[to];
    if (atomic_exchange(&peer->idle, false))
        worker_wake(peer);
}

void worker_join(struct worker *w)
{
    if (w->thread_started)
        pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker *w)
{
    while (w->conns) { /* only after a fatal ring error */
        struct conn *c = w->conns;
        conn_abort(c, NULL);
        c->inflight = 0;
        conn_free(c);
    }
    if (w->ring_ready)
        io_uring_queue_exit(&w->ring);
    for (unsigned i = 0; i < w->listen_count; i++) {
        if (w->listen_fds[i] >= 0)
            close(w->listen_fds[i]);
    }
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    if (w->buf_ring)
        munmap(w->buf_ring, w->buf_count * sizeof(struct io_uring_buf));
    free(w->buf_base);
    gather_cache_clear(&w->gather, NULL);
    outbuf_release_flush(&w->release_batch);
    router_destroy(&w->router);
    outbuf_pool_destroy(&w->pool);
}

/*
 * worker.h - one worker thread: an io_uring, the listening sockets it
 * accepts on, and every connection it accepted.
 *
 * Workers share nothing mutable but the broker-wide connection count and the
 * stop flag. Each has its own SO_REUSEPORT listener per configured address
 * (the kernel spreads new connections across them), its own provided-buffer
 * ring for multishot receives, and its own outbuf pool.
 */
#ifndef WSB_WORKER_H
#define WSB_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "conn.h"
#include "metrics.h"
#include "outbuf.h"
#include "router.h"
#include "ip_limit.h"
#include "tls.h"

/* What all workers share, owned by main. */
struct broker {
    const struct broker_config *cfg;
    atomic_uint_fast64_t connections; /* open sockets over all workers */
    atomic_uint_fast64_t topics;      /* topics over all workers */
    atomic_bool stopping;
    atomic_bool ready; /* every worker started and listening (main sets it) */
    struct worker *workers;
    struct mailboxes mailboxes;
    struct tls_server *tls; /* NULL without wss:// listeners */
    /* SIGHUP: the configuration workers switch to at their next wake-up
     * (NULL: keep cfg). Never freed before exit (see main.c). */
    _Atomic(const struct broker_config *) cfg_next;
    _Atomic(struct auth_rules *) auth; /* NULL: every client may do everything */
    struct ip_limit *ip_limit;         /* NULL: connections per IP not counted */
    /* Workers whose fan-out is backlogged (backlog.h); while not 0, no
     * worker reads its publishers. Each worker adds and removes itself. */
    atomic_uint backlogged_workers;
};

struct worker {
    unsigned id;
    struct broker *broker;
    const struct broker_config *cfg;
    pthread_t thread;

    struct io_uring ring;
    int wake_fd; /* eventfd: main pokes it to make the loop look at stopping */
    uint64_t wake_value;

    int listen_fds[CONFIG_MAX_LISTENERS];
    unsigned listen_count;
    bool accept_armed[CONFIG_MAX_LISTENERS];

    struct io_uring_buf_ring *buf_ring; /* provided receive buffers, group 0 */
    uint8_t *buf_base;
    size_t buf_size;
    unsigned buf_count;
    unsigned buf_pending_return; /* re-added, not yet published */

    struct outbuf_pool pool;
    struct outbuf_release_batch release_batch; /* sent frames, released once per loop pass */

    struct conn *conns; /* live (not yet freed) connections */
    unsigned conn_count;
    struct conn *flush_list; /* connections whose I/O needs (re)submitting */
    unsigned flush_count;    /* how many */
    struct __kernel_timespec tick;
    uint64_t tick_ms;

    /* start-up: the thread reports whether its ring came up */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    bool start_done, thread_started, ring_ready;
    int start_status;

    struct router router;
    uint64_t session_serial;  /* last session serial handed out */
    uint8_t tls_plain[16384]; /* decrypted bytes, lent to conn_on_plaintext() */
    uint8_t tls_stage[16384]; /* frames gathered into one record (tls_conn_flush) */
    uint64_t tls_failures, tls_failure_logged_ms;
    uint64_t ip_refusals, ip_refusal_logged_ms; /* over max-connections-per-ip */
    atomic_bool idle; /* about to sleep in io_uring: peers must poke wake_fd */

    uint64_t now_ms;
    bool stopping;
    uint64_t drain_deadline_ms;

    /* Written only by this worker, read by /metrics on any worker (metrics.h).
     * The padding keeps them off the cache line of `idle`, which peers write. */
    char metrics_pad[64];
    struct worker_metrics metrics;

    /* gathered sends shared by subscribers (128 KiB: last, away from the hot fields) */
    struct gather_cache gather;
};

/* Prepares a worker around listening sockets main has bound. The ring and
 * its buffers are created by worker_start() on the worker's thread, which
 * returns once they are up. Both return 0 or a negative errno. */
int worker_init(struct worker *w, unsigned id, struct broker *b, const int *listen_fds,
                unsigned listen_count);
int worker_start(struct worker *w);
void worker_wake(struct worker *w);
/* Wakes worker `to` if it is asleep (after this worker sent it messages). */
void worker_wake_peer(struct worker *w, unsigned to);
void worker_join(struct worker *w);
void worker_destroy(struct worker *w);

/* For conn.c: ask the worker to submit this connection's pending I/O (a
 * send, a recv to arm or cancel) at the end of the current batch. */
void worker_schedule_io(struct worker *w, struct conn *c);
/* For conn.c: the connection's socket is gone; count it out. */
void worker_conn_closed(struct worker *w, struct conn *c);

#endif

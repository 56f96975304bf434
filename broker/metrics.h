/*
 * metrics.h - the broker's counters: one block per worker, written only by
 * that worker, read by whichever worker serves /metrics.
 *
 * Why per worker and not shared: a counter bumped by every worker on every
 * message would bounce one cache line between cores on the hot path. Here
 * each worker owns its block (cache-line aligned inside struct worker), adds
 * to it with a relaxed load and a relaxed store (a plain add on x86 and
 * arm64: no lock prefix, no fence), and the scraper reads every block with
 * relaxed loads. A scrape therefore sees each counter exactly or slightly
 * behind; counters never go backwards.
 *
 * Naming and the text exposition live in metrics_http.c; this file only
 * says what is counted.
 */
#ifndef WSB_METRICS_H
#define WSB_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef atomic_uint_fast64_t metric_t;

/* Why a connection was refused before (or instead of) the upgrade. */
enum metrics_refusal {
    REFUSED_BAD_REQUEST,       /* 400, 405, 426, 431, 505: malformed or unsupported */
    REFUSED_UNAUTHORIZED,      /* 401 */
    REFUSED_FORBIDDEN,         /* 403 */
    REFUSED_NOT_FOUND,         /* 404 */
    REFUSED_RATE_LIMITED,      /* 429 */
    REFUSED_OVER_LIMIT,        /* 503: connection limit */
    REFUSED_HANDSHAKE_TIMEOUT, /* no complete request in handshake-timeout */
    REFUSED_KINDS
};

/* Why a live message was not sent to a subscriber. */
enum metrics_drop {
    DROP_SLOW_CONSUMER, /* policy drop: the subscriber is told by a gap notice */
    DROP_CONFLATED,     /* policy conflate: superseded by a newer message */
    DROP_KINDS
};

/* Upper bounds of the loop-iteration histogram, in microseconds; the last
 * bucket (+Inf) is implicit. */
#define METRICS_LOOP_BUCKETS 10
extern const uint32_t metrics_loop_bucket_us[METRICS_LOOP_BUCKETS];

struct worker_metrics {
    /* connections */
    metric_t accepted;
    metric_t closed;
    metric_t refused[REFUSED_KINDS];
    metric_t http_requests; /* plain GETs answered by http_route.c */
    /* WebSocket traffic */
    metric_t messages_in;  /* data messages received (all fragments = one) */
    metric_t messages_out; /* data frames queued for sending */
    metric_t bytes_in;     /* socket bytes received (TLS records included) */
    metric_t bytes_out;    /* socket bytes sent */
    metric_t sends;        /* socket sends submitted: messages_out / sends = frames per send */
    /* pub/sub */
    metric_t published;   /* messages sequenced by this worker as a topic owner */
    metric_t deliveries;  /* messages queued to subscribers (first sends) */
    metric_t retransmits; /* manual-ack resends (re: true) */
    metric_t gap_notices; /* gap envelopes sent */
    metric_t drops[DROP_KINDS];
    metric_t slow_disconnects; /* policy disconnect: closed with 1008 */
    metric_t publisher_holds;  /* publishers not read because fan-out is backlogged */
    /* gauges, sampled on each timer tick */
    metric_t sendq_bytes_sum; /* bytes queued over this worker's connections */
    metric_t sendq_bytes_max; /* the largest one connection's queue */
    /* the event loop */
    metric_t loop_iterations;
    metric_t loop_busy_ns; /* handling completions and messages */
    metric_t loop_wait_ns; /* inside io_uring's wait */
    metric_t loop_max_ns;  /* the longest single iteration's busy time */
    metric_t loop_hist[METRICS_LOOP_BUCKETS + 1];
    metric_t heartbeat_ms; /* monotonic ms when the loop last came round */
    metric_t running;      /* 1 while the loop runs */
};

/* Owner-thread increments: a plain add, made visible to scrapers. */
static inline void metric_add(metric_t *m, uint64_t n)
{
    atomic_store_explicit(m, atomic_load_explicit(m, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void metric_set(metric_t *m, uint64_t v)
{
    atomic_store_explicit(m, v, memory_order_relaxed);
}

static inline uint64_t metric_read(const metric_t *m)
{
    return atomic_load_explicit((metric_t *)m, memory_order_relaxed);
}

/* Counts a refused handshake by its HTTP status (conn_refuse). */
void metrics_count_refusal(struct worker_metrics *m, int status);

/* Counts a frame queued on an open connection: data frames (text, binary)
 * are messages out; control frames are not. frame is the sealed frame. */
void metrics_count_frame_out(struct worker_metrics *m, const uint8_t *frame);

/* One event-loop iteration: busy_ns handling, wait_ns asleep in io_uring. */
void metrics_count_loop(struct worker_metrics *m, uint64_t busy_ns, uint64_t wait_ns,
                        uint64_t now_ms);

/* True when a running loop has not come round for longer than stall_ms. */
bool metrics_loop_stalled(const struct worker_metrics *m, uint64_t now_ms, uint64_t stall_ms);

#endif

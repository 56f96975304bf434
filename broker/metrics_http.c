/*
 * metrics_http.c - renders the counters of metrics.h as Prometheus text
 * (format 0.0.4) for GET /metrics.
 *
 * One table names every per-worker series once: its metric name, type, help,
 * the counter it reads and an optional extra label. Rows that share a name
 * (a reason label) share one HELP/TYPE header. Every per-worker series
 * carries worker="N"; sum over it for the broker. The loop-time histogram and
 * the broker-wide gauges are written by hand below the table.
 *
 * The scrape runs on the worker that accepted it and reads other workers'
 * counters with relaxed loads: values are each exact at some instant of the
 * scrape, not all at the same instant.
 */
#include "metrics_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "worker.h"

#define NS_PER_S 1e9

struct series {
    const char *name;
    const char *type; /* counter or gauge */
    const char *help;
    size_t offset;     /* of the metric_t in struct worker_metrics */
    const char *label; /* extra label, e.g. reason="conflate"; NULL: none */
    double scale;      /* the value is divided by it: 1, or ns -> s */
};

#define AT(field) offsetof(struct worker_metrics, field)

static const struct series table[] = {
    {"wsbroker_connections_accepted_total", "counter", "TCP connections accepted.", AT(accepted),
     NULL, 1},
    {"wsbroker_connections_closed_total", "counter", "TCP connections closed.", AT(closed), NULL,
     1},
    {"wsbroker_connections_refused_total", "counter",
     "Connections refused before or instead of the upgrade, by reason.",
     AT(refused[REFUSED_BAD_REQUEST]), "reason=\"bad_request\"", 1},
    {"wsbroker_connections_refused_total", NULL, NULL, AT(refused[REFUSED_UNAUTHORIZED]),
     "reason=\"unauthorized\"", 1},
    {"wsbroker_connections_refused_total", NULL, NULL, AT(refused[REFUSED_FORBIDDEN]),
     "reason=\"forbidden\"", 1},
    {"wsbroker_connections_refused_total", NULL, NULL, AT(refused[REFUSED_NOT_FOUND]),
     "reason=\"not_found\"", 1},
    {"wsbroker_connections_refused_total", NULL, NULL, AT(refused[REFUSED_RATE_LIMITED]),
     "reason=\"rate_limited\"", 1},
    {"wsbroker_connections_refused_total", NULL, NULL, AT(refused[REFUSED_OVER_LIMIT]),
     "reason=\"connection_limit\"", 1},
    {"wsbroker_connections_refused_total", NULL, NULL, AT(refused[REFUSED_HANDSHAKE_TIMEOUT]),
     "reason=\"handshake_timeout\"", 1},
    {"wsbroker_http_requests_total", "counter",
     "Plain HTTP requests answered (probes, metrics, pages).", AT(http_requests), NULL, 1},
    {"wsbroker_messages_in_total", "counter", "WebSocket data messages received.", AT(messages_in),
     NULL, 1},
    {"wsbroker_messages_out_total", "counter",
     "WebSocket data frames queued for sending (deliveries, replies, echoes).", AT(messages_out),
     NULL, 1},
    {"wsbroker_socket_sends_total", "counter",
     "Socket sends submitted; one carries what its connection had queued (messages_out / sends: "
     "frames per send).",
     AT(sends), NULL, 1},
    {"wsbroker_bytes_in_total", "counter", "Bytes received from sockets (TLS records included).",
     AT(bytes_in), NULL, 1},
    {"wsbroker_bytes_out_total", "counter", "Bytes written to sockets (TLS records included).",
     AT(bytes_out), NULL, 1},
    {"wsbroker_published_total", "counter",
     "Messages sequenced into topics (counted on the topic's owner worker).", AT(published), NULL,
     1},
    {"wsbroker_deliveries_total", "counter", "Messages queued to subscribers (first sends).",
     AT(deliveries), NULL, 1},
    {"wsbroker_retransmits_total", "counter", "Manual-ack messages sent again (re: true).",
     AT(retransmits), NULL, 1},
    {"wsbroker_gap_notices_total", "counter", "Gap envelopes sent to subscribers.", AT(gap_notices),
     NULL, 1},
    {"wsbroker_drops_total", "counter", "Live messages not sent to a subscriber, by reason.",
     AT(drops[DROP_SLOW_CONSUMER]), "reason=\"slow_consumer\"", 1},
    {"wsbroker_drops_total", NULL, NULL, AT(drops[DROP_CONFLATED]), "reason=\"conflate\"", 1},
    {"wsbroker_slow_consumer_disconnects_total", "counter",
     "Subscribers closed with 1008 by the disconnect policy.", AT(slow_disconnects), NULL, 1},
    {"wsbroker_publisher_holds_total", "counter",
     "Times a publisher's reads were held because fan-out was backlogged.", AT(publisher_holds),
     NULL, 1},
    {"wsbroker_send_queue_bytes", "gauge",
     "Bytes queued for sending over the worker's connections (sampled each tick).",
     AT(sendq_bytes_sum), NULL, 1},
    {"wsbroker_send_queue_max_bytes", "gauge",
     "The largest single connection's send queue (sampled each tick).", AT(sendq_bytes_max), NULL,
     1},
    {"wsbroker_loop_iterations_total", "counter", "Event-loop iterations.", AT(loop_iterations),
     NULL, 1},
    {"wsbroker_loop_busy_seconds_total", "counter",
     "Time the event loop spent handling completions and messages.", AT(loop_busy_ns), NULL,
     NS_PER_S},
    {"wsbroker_loop_wait_seconds_total", "counter",
     "Time the event loop spent in io_uring_enter (waiting, and submitting sends).",
     AT(loop_wait_ns), NULL, NS_PER_S},
    {"wsbroker_loop_max_seconds", "gauge", "The longest single loop iteration since start.",
     AT(loop_max_ns), NULL, NS_PER_S},
    {"wsbroker_worker_running", "gauge", "1 while the worker's event loop runs.", AT(running), NULL,
     1},
};

/* A growing text buffer; failed stays set once an allocation failed. */
struct text {
    char *buf;
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void text_printf(struct text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *p = realloc(t->buf, cap);
        if (p == NULL) {
            t->failed = true;
            return;
        }
        t->buf = p;
        t->cap = cap;
    }
}

static void write_header(struct text *t, const char *name, const char *type, const char *help)
{
    text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t read_at(const struct worker_metrics *m, size_t offset)
{
    return metric_read((const metric_t *)((const char *)m + offset));
}

static void write_table(struct text *t, struct broker *b)
{
    unsigned workers = b->cfg->workers;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct series *s = &table[i];
        if (s->help)
            write_header(t, s->name, s->type, s->help);
        for (unsigned w = 0; w < workers; w++) {
            uint64_t v = read_at(&b->workers[w].metrics, s->offset);
            text_printf(t, "%s{worker=\"%u\"%s%s} ", s->name, w, s->label ? "," : "",
                        s->label ? s->label : "");
            if (s->scale == 1)
                text_printf(t, "%llu\n", (unsigned long long)v);
            else
                text_printf(t, "%.9f\n", (double)v / s->scale);
        }
    }
}

static void write_loop_histogram(struct text *t, struct broker *b)
{
    static const char name[] = "wsbroker_loop_iteration_seconds";
    write_header(t, name, "histogram", "Busy time of one event-loop iteration.");
    for (unsigned w = 0; w < b->cfg->workers; w++) {
        const struct worker_metrics *m = &b->workers[w].metrics;
        uint64_t cumulative = 0;
        for (unsigned i = 0; i <= METRICS_LOOP_BUCKETS; i++) {
            cumulative += metric_read(&m->loop_hist[i]);
            if (i < METRICS_LOOP_BUCKETS)
                text_printf(t, "%s_bucket{worker=\"%u\",le=\"%g\"} %llu\n", name, w,
                            metrics_loop_bucket_us[i] / 1e6, (unsigned long long)cumulative);
            else
                text_printf(t, "%s_bucket{worker=\"%u\",le=\"+Inf\"} %llu\n", name, w,
                            (unsigned long long)cumulative);
        }
        /* Sum and count from the same buckets, so they agree with +Inf. */
        text_printf(t, "%s_sum{worker=\"%u\"} %.9f\n%s_count{worker=\"%u\"} %llu\n", name, w,
                    (double)metric_read(&m->loop_busy_ns) / NS_PER_S, name, w,
                    (unsigned long long)cumulative);
    }
}

static void write_broker_gauges(struct text *t, struct broker *b)
{
    write_header(t, "wsbroker_connections", "gauge", "Open connections over all workers.");
    text_printf(t, "wsbroker_connections %llu\n",
                (unsigned long long)atomic_load_explicit(&(b)->connections, memory_order_relaxed));
    write_header(t, "wsbroker_topics", "gauge", "Topics over all workers.");
    text_printf(t, "wsbroker_topics %llu\n",
                (unsigned long long)atomic_load_explicit(&(b)->topics, memory_order_relaxed));
    write_header(t, "wsbroker_workers", "gauge", "Worker threads configured.");
    text_printf(t, "wsbroker_workers %u\n", b->cfg->workers);
    write_header(t, "wsbroker_ready", "gauge", "1 when /readyz answers 200.");
    bool ready = atomic_load(&(b)->ready) && !atomic_load(&(b)->stopping);
    text_printf(t, "wsbroker_ready %d\n", ready ? 1 : 0);
}

char *metrics_http_render(struct broker *b, size_t *len)
{
    struct text t = {.cap = 16384};
    t.buf = malloc(t.cap);
    if (t.buf == NULL)
        return NULL;
    write_broker_gauges(&t, b);
    write_table(&t, b);
    write_loop_histogram(&t, b);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}

void metrics_http_serve(struct conn *c, const struct ws_handshake_request *req)
{
    (void)req;
    size_t len = 0;
    char *body = metrics_http_render(c->worker->broker, &len);
    if (body == NULL) {
        static const char oom[] = "out of memory\n";
        conn_respond(c, 503, "text/plain; charset=utf-8", oom, sizeof(oom) - 1);
        return;
    }
    conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
    free(body);
}

/*
 * health.c - /healthz and /readyz, answered by whichever worker accepted the
 * probe, from every worker's state.
 *
 * Liveness is about the event loops: each worker stamps a heartbeat when its
 * loop comes round (at least every tick, <= 250 ms, when idle). A worker
 * stuck in a handler for stall-timeout fails /healthz on every other worker;
 * a probe that lands on the stuck worker itself gets no answer, which fails
 * it too. Readiness is about traffic: main marks the broker ready once every
 * worker has started on bound listeners, and SIGTERM (draining) ends it.
 */
#include "health.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "worker.h"

static const char text_plain[] = "text/plain; charset=utf-8";

static void respond_text(struct conn *c, int status, const char *body)
{
    conn_respond(c, status, text_plain, body, strlen(body));
}

void health_serve_live(struct conn *c, const struct ws_handshake_request *req)
{
    (void)req;
    struct worker *self = c->worker;
    struct broker *b = self->broker;
    for (unsigned i = 0; i < b->cfg->workers; i++) {
        const struct worker_metrics *m = &b->workers[i].metrics;
        if (metrics_loop_stalled(m, self->now_ms, b->cfg->stall_timeout_ms)) {
            char body[128];
            snprintf(body, sizeof(body), "stalled: worker %u's loop silent for %llu ms\n", i,
                     (unsigned long long)(self->now_ms - metric_read(&m->heartbeat_ms)));
            respond_text(c, 503, body);
            return;
        }
    }
    respond_text(c, 200, "ok\n");
}

void health_serve_ready(struct conn *c, const struct ws_handshake_request *req)
{
    (void)req;
    struct broker *b = c->worker->broker;
    if (atomic_load(&b->stopping)) {
        respond_text(c, 503, "draining\n");
        return;
    }
    if (!atomic_load(&b->ready)) {
        respond_text(c, 503, "starting\n");
        return;
    }
    for (unsigned i = 0; i < b->cfg->workers; i++) {
        if (metric_read(&b->workers[i].metrics.running) == 0) {
            char body[64];
            snprintf(body, sizeof(body), "worker %u not running\n", i);
            respond_text(c, 503, body);
            return;
        }
    }
    respond_text(c, 200, "ready\n");
}

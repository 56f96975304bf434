/*
 * metrics.c - the few decisions behind the counters in metrics.h: which
 * refusal an HTTP status is, which frames are messages, and the loop-time
 * histogram. Everything here runs on the worker that owns the counters.
 */
#include "metrics.h"

#include "ws_frame.h"

const uint32_t metrics_loop_bucket_us[METRICS_LOOP_BUCKETS] = {
    10, 50, 100, 250, 500, 1000, 5000, 10000, 50000, 100000,
};

void metrics_count_refusal(struct worker_metrics *m, int status)
{
    enum metrics_refusal why;
    switch (status) {
    case 401:
        why = REFUSED_UNAUTHORIZED;
        break;
    case 403:
        why = REFUSED_FORBIDDEN;
        break;
    case 404:
        why = REFUSED_NOT_FOUND;
        break;
    case 429:
        why = REFUSED_RATE_LIMITED;
        break;
    case 503:
        why = REFUSED_OVER_LIMIT;
        break;
    default:
        why = REFUSED_BAD_REQUEST;
        break;
    }
    metric_add(&m->refused[why], 1);
}

void metrics_count_frame_out(struct worker_metrics *m, const uint8_t *frame)
{
    uint8_t opcode = frame[0] & 0x0F;
    if (opcode == WS_OP_TEXT || opcode == WS_OP_BINARY || opcode == WS_OP_CONTINUATION)
        metric_add(&m->messages_out, 1);
}

void metrics_count_loop(struct worker_metrics *m, uint64_t busy_ns, uint64_t wait_ns,
                        uint64_t now_ms)
{
    metric_add(&m->loop_iterations, 1);
    metric_add(&m->loop_busy_ns, busy_ns);
    metric_add(&m->loop_wait_ns, wait_ns);
    if (busy_ns > metric_read(&m->loop_max_ns))
        metric_set(&m->loop_max_ns, busy_ns);
    unsigned i = 0;
    while (i < METRICS_LOOP_BUCKETS && busy_ns > (uint64_t)metrics_loop_bucket_us[i] * 1000u)
        i++;
    metric_add(&m->loop_hist[i], 1);
    metric_set(&m->heartbeat_ms, now_ms);
}

bool metrics_loop_stalled(const struct worker_metrics *m, uint64_t now_ms, uint64_t stall_ms)
{
    if (metric_read(&m->running) == 0)
        return false;
    uint64_t beat = metric_read(&m->heartbeat_ms);
    return now_ms > beat && now_ms - beat > stall_ms;
}

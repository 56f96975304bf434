/*
 * test_metrics.c - the decisions in broker/metrics.c: refusal reasons by
 * HTTP status, which frames count as messages out, the loop-time histogram,
 * and the stall check behind /healthz (which the integration tests cannot
 * provoke: no real loop stalls on demand).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static void refusals_are_classified_by_status(void **state)
{
    (void)state;
    struct worker_metrics m;
    memset(&m, 0, sizeof(m));
    const int statuses[] = {400, 405, 426, 431, 505, 401, 403, 404, 429, 503, 503};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        metrics_count_refusal(&m, statuses[i]);
    assert_int_equal(metric_read(&m.refused[REFUSED_BAD_REQUEST]), 5);
    assert_int_equal(metric_read(&m.refused[REFUSED_UNAUTHORIZED]), 1);
    assert_int_equal(metric_read(&m.refused[REFUSED_FORBIDDEN]), 1);
    assert_int_equal(metric_read(&m.refused[REFUSED_NOT_FOUND]), 1);
    assert_int_equal(metric_read(&m.refused[REFUSED_RATE_LIMITED]), 1);
    assert_int_equal(metric_read(&m.refused[REFUSED_OVER_LIMIT]), 2);
    assert_int_equal(metric_read(&m.refused[REFUSED_HANDSHAKE_TIMEOUT]), 0);
}

static void only_data_frames_are_messages_out(void **state)
{
    (void)state;
    struct worker_metrics m;
    memset(&m, 0, sizeof(m));
    const uint8_t frames[][1] = {{0x81}, {0x82}, {0x02}, {0x80}, {0x88}, {0x89}, {0x8A}};
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
        metrics_count_frame_out(&m, frames[i]);
    assert_int_equal(metric_read(&m.messages_out), 4); /* text, binary, 2 continuations */
}

static void loop_histogram_buckets_by_upper_bound(void **state)
{
    (void)state;
    struct worker_metrics m;
    memset(&m, 0, sizeof(m));
    metrics_count_loop(&m, 10000, 5, 1);     /* exactly 10 us: first bucket (le) */
    metrics_count_loop(&m, 10001, 5, 2);     /* just over: second */
    metrics_count_loop(&m, 200000000, 5, 3); /* 200 ms: +Inf */
    assert_int_equal(metric_read(&m.loop_hist[0]), 1);
    assert_int_equal(metric_read(&m.loop_hist[1]), 1);
    assert_int_equal(metric_read(&m.loop_hist[METRICS_LOOP_BUCKETS]), 1);
    assert_int_equal(metric_read(&m.loop_iterations), 3);
    assert_int_equal(metric_read(&m.loop_busy_ns), 10000 + 10001 + 200000000);
    assert_int_equal(metric_read(&m.loop_wait_ns), 15);
    assert_int_equal(metric_read(&m.loop_max_ns), 200000000);
    assert_int_equal(metric_read(&m.heartbeat_ms), 3);
}

static void stall_needs_a_running_loop_silent_past_the_limit(void **state)
{
    (void)state;
    struct worker_metrics m;
    memset(&m, 0, sizeof(m));
    metric_set(&m.heartbeat_ms, 1000);
    assert_false(metrics_loop_stalled(&m, 100000, 5000)); /* not running: not stalled */
    metric_set(&m.running, 1);
    assert_false(metrics_loop_stalled(&m, 6000, 5000)); /* exactly the limit */
    assert_true(metrics_loop_stalled(&m, 6001, 5000));
    assert_false(metrics_loop_stalled(&m, 900, 5000)); /* the prober's clock behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refusals_are_classified_by_status),
        cmocka_unit_test(only_data_frames_are_messages_out),
        cmocka_unit_test(loop_histogram_buckets_by_upper_bound),
        cmocka_unit_test(stall_needs_a_running_loop_silent_past_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

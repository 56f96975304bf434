/*
 * test_hist.c - the load generator's latency histogram (bench/loadgen.h)
 * against distributions whose percentiles are known exactly: every
 * reported percentile must be the true one within the histogram's promised
 * precision (exact below 128, else at most 1/128 above the true value, never
 * below it, never above the max).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "loadgen.h"

/* The reported value for a true percentile `truth`: truth <= got <= truth * (1 + 1/128). */
static void assert_close(uint64_t got, uint64_t truth)
{
    if (got < truth || (double)got > (double)truth * (1.0 + 1.0 / HIST_SUB_COUNT) + 1) {
        print_error("got %llu, true value %llu\n", (unsigned long long)got,
                    (unsigned long long)truth);
        fail();
    }
}

static struct hist *hist_new(void)
{
    struct hist *h = calloc(1, sizeof *h);
    assert_non_null(h);
    return h;
}

/* Values 1..N, each once: the p-th percentile is ceil(p/100 * N). */
static void test_uniform(void **state)
{
    (void)state;
    struct hist *h = hist_new();
    const uint64_t n = 1000000;
    for (uint64_t v = 1; v <= n; v++)
        hist_record(h, v);
    assert_int_equal(h->total, n);
    assert_int_equal(h->max, n);
    static const double pcts[] = {1, 10, 50, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        assert_close(hist_percentile(h, pcts[i]), (uint64_t)ceil(pcts[i] / 100.0 * (double)n));
    assert_int_equal(hist_percentile(h, 100), n);
    assert_true(fabs(hist_mean(h) - (double)(n + 1) / 2) < 1e-6 * (double)n);
    free(h);
}

/* Below 128 every value has its own bucket. */
static void test_small_values_exact(void **state)
{
    (void)state;
    struct hist *h = hist_new();
    for (uint64_t v = 0; v < 100; v++)
        hist_record(h, v);
    assert_int_equal(hist_percentile(h, 50), 49);
    assert_int_equal(hist_percentile(h, 90), 89);
    assert_int_equal(hist_percentile(h, 99), 98);
    assert_int_equal(hist_percentile(h, 100), 99);
    free(h);
}

/* One value repeated: every percentile is that value exactly (the bucket's
 * top is clamped to the max seen). */
static void test_constant(void **state)
{
    (void)state;
    struct hist *h = hist_new();
    for (int i = 0; i < 1000; i++)
        hist_record(h, 123457);
    assert_int_equal(hist_percentile(h, 0.1), 123457);
    assert_int_equal(hist_percentile(h, 50), 123457);
    assert_int_equal(hist_percentile(h, 99.99), 123457);
    free(h);
}

/* 90% at 100 us, 10% at 10 ms: the percentile flips exactly at rank 90%. */
static void test_bimodal(void **state)
{
    (void)state;
    struct hist *h = hist_new();
    for (int i = 0; i < 9000; i++)
        hist_record(h, 100000);
    for (int i = 0; i < 1000; i++)
        hist_record(h, 10000000);
    assert_close(hist_percentile(h, 50), 100000);
    assert_close(hist_percentile(h, 90), 100000);
    assert_close(hist_percentile(h, 90.01), 10000000);
    assert_int_equal(hist_percentile(h, 99.9), 10000000);
    free(h);
}

/* Exponential with mean 1 ms, sampled at its N quantiles (i + 0.5) / N:
 * percentile p is -ln(1 - p) * mean, to the sample grid's resolution. */
static void test_exponential(void **state)
{
    (void)state;
    struct hist *h = hist_new();
    const int n = 200000;
    const double mean = 1e6;
    for (int i = 0; i < n; i++)
        hist_record(h, (uint64_t)(-log(1.0 - ((double)i + 0.5) / n) * mean));
    static const double pcts[] = {50, 90, 99, 99.9};
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        /* the sample of rank ceil(p * n): index ceil(p * n) - 1 */
        double rank = ceil(pcts[i] / 100.0 * n);
        uint64_t truth = (uint64_t)(-log(1.0 - (rank - 0.5) / n) * mean);
        assert_close(hist_percentile(h, pcts[i]), truth);
    }
    assert_true(fabs(hist_mean(h) - mean) < 0.01 * mean);
    free(h);
}

/* Merging per-thread histograms gives what one histogram of everything gives. */
static void test_merge(void **state)
{
    (void)state;
    struct hist *a = hist_new(), *b = hist_new(), *all = hist_new();
    uint64_t rng = 42;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rng_next(&rng) % 50000000;
        hist_record(i % 2 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->max, all->max);
    for (double p = 1; p < 100; p += 7.3)
        assert_int_equal(hist_percentile(a, p), hist_percentile(all, p));
    free(a);
    free(b);
    free(all);
}

/* Every value lands in a bucket whose top is within 1/128 above it; values
 * past 2^40 ns are clamped into the last bucket, and an empty histogram
 * reports 0. */
static void test_bucket_bounds(void **state)
{
    (void)state;
    for (uint64_t v = 1; v < (1ull << 40); v = v * 3 / 2 + 1) {
        size_t i = hist_index(v);
        assert_true(i < HIST_BUCKETS);
        assert_close(hist_bucket_top(i), v);
    }
    assert_int_equal(hist_index(UINT64_MAX), hist_index((1ull << HIST_MAX_BITS) - 1));
    struct hist *h = hist_new();
    assert_int_equal(hist_percentile(h, 99), 0);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),       cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_constant),      cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_exponential),   cmocka_unit_test(test_merge),
        cmocka_unit_test(test_bucket_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_ramp.c - the open-loop schedule with --ramp (open_loop_due in
 * bench/loadgen.h): without a ramp slots are evenly spaced; with one, the
 * number of slots due by time t follows the linear rate ramp (rate r t / R,
 * so r t^2 / 2R slots by t), the schedule never goes backwards, and after the
 * ramp it runs at the full rate without a jump.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "loadgen.h"

#define T0      1000000000ull
#define SLOT_NS 1000.0     /* full rate: 1 M/s */
#define RAMP_NS 2000000ull /* 2 ms: 1000 slots in the ramp */

static void test_no_ramp_even(void **state)
{
    (void)state;
    for (int k = 0; k < 1000; k++)
        assert_int_equal(open_loop_due(T0, SLOT_NS, 0, k), T0 + (uint64_t)k * 1000);
}

/* Slots due by t during the ramp: r t^2 / 2R with r = 1/SLOT_NS. */
static void test_ramp_follows_the_rate(void **state)
{
    (void)state;
    double r = 1.0 / SLOT_NS;
    for (uint64_t t = 100000; t <= RAMP_NS; t += 100000) {
        double expect = r * (double)t * (double)t / (2.0 * (double)RAMP_NS);
        uint64_t due_by_t = 0;
        while (open_loop_due(T0, SLOT_NS, RAMP_NS, (double)due_by_t) <= T0 + t)
            due_by_t++;
        if (fabs((double)due_by_t - expect) > 1.5) {
            print_error("by %llu ns: %llu slots due, expected %.1f\n", (unsigned long long)t,
                        (unsigned long long)due_by_t, expect);
            fail();
        }
    }
}

static void test_ramp_monotonic_and_continuous(void **state)
{
    (void)state;
    uint64_t prev = open_loop_due(T0, SLOT_NS, RAMP_NS, 0);
    assert_int_equal(prev, T0);
    for (int k = 1; k < 5000; k++) {
        uint64_t due = open_loop_due(T0, SLOT_NS, RAMP_NS, k);
        assert_true(due >= prev);
        prev = due;
    }
    /* 1000 slots in the ramp; from then on one every SLOT_NS */
    assert_int_equal(open_loop_due(T0, SLOT_NS, RAMP_NS, 1000), T0 + RAMP_NS);
    assert_int_equal(open_loop_due(T0, SLOT_NS, RAMP_NS, 1500), T0 + RAMP_NS + 500000);
    /* just before the end of the ramp the spacing is close to the full rate's */
    uint64_t gap =
        open_loop_due(T0, SLOT_NS, RAMP_NS, 999) - open_loop_due(T0, SLOT_NS, RAMP_NS, 998);
    assert_in_range(gap, 900, 1100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_ramp_even),
        cmocka_unit_test(test_ramp_follows_the_rate),
        cmocka_unit_test(test_ramp_monotonic_and_continuous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

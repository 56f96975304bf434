/*
 * test_zipf.c - the market-data scenario's Zipf choices
 * (bench/wsbroker-bench/zipf.c): each rank's share of the table is its Zipf
 * probability within the table's resolution, and picks are deterministic.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "zipf.h"

static void check_shares(uint32_t n, double s)
{
    struct zipf z;
    assert_true(zipf_init(&z, n, s));
    uint32_t *count = calloc(n, sizeof *count);
    assert_non_null(count);
    for (uint32_t j = 0; j < ZIPF_TABLE; j++) {
        assert_true(z.rank[j] < n);
        count[z.rank[j]]++;
    }
    double total = 0;
    for (uint32_t k = 0; k < n; k++)
        total += pow(k + 1.0, -s);
    for (uint32_t k = 0; k < n; k++) {
        double want = pow(k + 1.0, -s) / total * ZIPF_TABLE;
        if (fabs((double)count[k] - want) > 1.0) {
            print_error("n %u s %g: rank %u has %u slots, Zipf wants %.2f\n", n, s, k, count[k],
                        want);
            fail();
        }
    }
    free(count);
    zipf_free(&z);
}

static void test_shares(void **state)
{
    (void)state;
    check_shares(100, 1.0);
    check_shares(10, 0.5);
    check_shares(1000, 1.2);
    check_shares(1, 1.0);
}

/* Picks over many keys follow the shares; the same key gives the same rank. */
static void test_picks(void **state)
{
    (void)state;
    struct zipf z;
    assert_true(zipf_init(&z, 100, 1.0));
    const uint32_t draws = 1000000;
    uint32_t top = 0;
    for (uint64_t key = 0; key < draws; key++) {
        uint32_t r = zipf_pick(&z, key);
        assert_int_equal(r, zipf_pick(&z, key));
        top += r == 0;
    }
    double h100 = 0;
    for (int k = 1; k <= 100; k++)
        h100 += 1.0 / k;
    double share = (double)top / draws; /* rank 0 wants 1 / H(100) = 0.193 */
    assert_true(fabs(share - 1.0 / h100) < 0.005);
    zipf_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares),
        cmocka_unit_test(test_picks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

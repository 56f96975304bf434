/*
 * test_dedup.c - the owner's de-duplication index (broker/dedup.c): it
 * remembers exactly the last DEDUP_SLOTS (session, id) pairs with their
 * seqs, keeps sessions apart, and agrees with a plain array of the same
 * pairs over a long random mix of new publishes and retries (which is what
 * catches a chain left pointing at an overwritten slot).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dedup.h"

static int setup(void **state)
{
    *state = dedup_create();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    dedup_destroy(*state);
    return 0;
}

static void test_empty_knows_nothing(void **state)
{
    struct dedup *d = *state;
    assert_int_equal(dedup_lookup(d, 1, 1), 0);
    assert_int_equal(dedup_lookup(d, 0, 0), 0);
}

static void test_remembers_exactly_the_last_slots(void **state)
{
    struct dedup *d = *state;
    const uint64_t total = DEDUP_SLOTS + 1000;
    for (uint64_t id = 1; id <= total; id++)
        dedup_record(d, 7, id, id + 100);
    const uint64_t oldest = total - DEDUP_SLOTS + 1;
    for (uint64_t id = 1; id < oldest; id++)
        assert_int_equal(dedup_lookup(d, 7, id), 0);
    for (uint64_t id = oldest; id <= total; id++)
        assert_int_equal(dedup_lookup(d, 7, id), id + 100);
}

static void test_sessions_are_kept_apart(void **state)
{
    struct dedup *d = *state;
    dedup_record(d, 1, 42, 10);
    dedup_record(d, 2, 42, 11);
    assert_int_equal(dedup_lookup(d, 1, 42), 10);
    assert_int_equal(dedup_lookup(d, 2, 42), 11);
    assert_int_equal(dedup_lookup(d, 3, 42), 0);
}

/* One session far ahead of another: ids below the highest recorded are
 * still looked up per session, ids above it are new for everyone. */
static void test_a_session_behind_another_is_still_found(void **state)
{
    struct dedup *d = *state;
    for (uint64_t id = 1; id <= 100; id++)
        dedup_record(d, 1, id, id);
    for (uint64_t id = 5; id <= 10; id++)
        dedup_record(d, 2, id, 1000 + id);
    assert_int_equal(dedup_lookup(d, 2, 7), 1007);
    assert_int_equal(dedup_lookup(d, 2, 11), 0);
    assert_int_equal(dedup_lookup(d, 1, 100), 100);
    assert_int_equal(dedup_lookup(d, 1, 101), 0);
    assert_int_equal(dedup_lookup(d, 3, 50), 0);
    dedup_record(d, 2, 500, 2000);
    assert_int_equal(dedup_lookup(d, 2, 500), 2000);
    assert_int_equal(dedup_lookup(d, 1, 500), 0);
}

/* Ids in a stride of 2^44: a hash that took the product's low bits would
 * put them all in one bucket; they must still all be found. */
static void test_strided_ids(void **state)
{
    struct dedup *d = *state;
    for (uint64_t k = 1; k <= DEDUP_SLOTS; k++)
        dedup_record(d, 5, k << 44, k);
    for (uint64_t k = 1; k <= DEDUP_SLOTS; k++)
        assert_int_equal(dedup_lookup(d, 5, k << 44), k);
}

/* Two sessions with the same ids, so that no id is above the highest and
 * every lookup walks a chain, over 2.5 wraps of the 16-bit serials that
 * order a chain's slots: the last DEDUP_SLOTS pairs are found, the pair
 * just before them is not. */
static void test_chains_stay_ordered_across_serial_wraps(void **state)
{
    struct dedup *d = *state;
    uint64_t seq = 0;
    for (uint64_t k = 1; k <= 82000; k++) {
        for (uint64_t session = 1; session <= 2; session++) {
            assert_int_equal(dedup_lookup(d, session, k), 0);
            dedup_record(d, session, k, ++seq);
        }
        if (k % 997 != 0 || seq <= DEDUP_SLOTS)
            continue;
        for (uint64_t back = 0; back < DEDUP_SLOTS; back++) {
            uint64_t s = seq - back;
            assert_int_equal(dedup_lookup(d, 2 - (s % 2), (s + 1) / 2), s);
        }
        uint64_t gone = seq - DEDUP_SLOTS;
        assert_int_equal(dedup_lookup(d, 2 - (gone % 2), (gone + 1) / 2), 0);
    }
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The model: the last DEDUP_SLOTS pairs recorded, in a ring. */
struct model {
    uint64_t session[DEDUP_SLOTS], id[DEDUP_SLOTS], seq[DEDUP_SLOTS];
    unsigned next, used;
};

static uint64_t model_lookup(const struct model *m, uint64_t session, uint64_t id)
{
    for (unsigned i = 0; i < m->used; i++) {
        if (m->session[i] == session && m->id[i] == id)
            return m->seq[i];
    }
    return 0;
}

/* Publishes from 3 sessions with ids from a small space (so retries of
 * remembered and of forgotten ids are both common), looked up and recorded
 * the way the owner does; every answer is checked against the model. */
static void test_agrees_with_a_plain_array(void **state)
{
    struct dedup *d = *state;
    struct model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    uint64_t rnd = 0x9e3779b97f4a7c15ull, seq = 0, retries = 0;
    for (unsigned n = 0; n < 60000; n++) {
        uint64_t session = next_random(&rnd) % 3;
        uint64_t id = next_random(&rnd) % 6000;
        uint64_t seen = dedup_lookup(d, session, id);
        assert_int_equal(seen, model_lookup(m, session, id));
        if (seen) {
            retries++;
            continue;
        }
        dedup_record(d, session, id, ++seq);
        m->session[m->next] = session;
        m->id[m->next] = id;
        m->seq[m->next] = seq;
        m->next = (m->next + 1) % DEDUP_SLOTS;
        m->used += m->used < DEDUP_SLOTS;
    }
    assert_true(retries > 10000); /* both paths were taken many times */
    assert_true(seq > 10000);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_knows_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remembers_exactly_the_last_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_are_kept_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_session_behind_another_is_still_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_strided_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agrees_with_a_plain_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chains_stay_ordered_across_serial_wraps, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

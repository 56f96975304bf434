/*
 * test_send_queue.c - the fan-out send path's bookkeeping on its own
 * (broker/send_queue.c, broker/outbuf.c): gathering small frames at the
 * head of a queue keeps every byte in order and every reference counted;
 * prepaid references and batched releases add up to exactly what one
 * atomic operation per reference would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outbuf.h"
#include "send_queue.h"

static unsigned refs_of(struct outbuf *b)
{
    return atomic_load(&b->refs);
}

/* A shared frame of len bytes, each byte (tag + i) & 0xff. */
static struct outbuf *frame_new(size_t len, uint8_t tag)
{
    struct outbuf *b = outbuf_alloc_shared(len);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++)
        b->data[i] = (uint8_t)(tag + i);
    b->len = len;
    return b;
}

/* A worker's queues (subscribers of one topic: the same published frames
 * queued on several connections), its pool, release batch and gather cache. */
struct share_fixture {
    struct outbuf_pool pool;
    struct outbuf_release_batch batch;
    struct gather_cache cache;
    struct send_queue q[4];
};

static int share_setup(void **state)
{
    struct share_fixture *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    outbuf_pool_init(&s->pool);
    gather_cache_init(&s->cache);
    for (int i = 0; i < 4; i++)
        send_queue_init(&s->q[i]);
    *state = s;
    return 0;
}

static int share_teardown(void **state)
{
    struct share_fixture *s = *state;
    for (int i = 0; i < 4; i++)
        send_queue_destroy(&s->q[i]);
    gather_cache_clear(&s->cache, NULL);
    outbuf_release_flush(&s->batch);
    assert_int_equal(s->pool.allocated, 0); /* every gathered buffer came back */
    outbuf_pool_destroy(&s->pool);
    free(s);
    return 0;
}

static void test_gather_keeps_bytes_order_and_references(void **state)
{
    struct share_fixture *g = *state;

    /* 300 small frames, then a large one, then 3 small (too few to gather) */
    enum { SMALL = 300 };
    struct outbuf *f[SMALL + 4];
    size_t total = 0;
    for (int i = 0; i < SMALL; i++) {
        f[i] = frame_new(60 + (size_t)i % 40, (uint8_t)i);
        assert_int_equal(send_queue_push(&g->q[0], outbuf_ref(f[i])), 0);
        total += f[i]->len;
    }
    f[SMALL] = frame_new(SEND_GATHER_SMALL + 1, 0x77);
    assert_int_equal(send_queue_push(&g->q[0], outbuf_ref(f[SMALL])), 0);
    total += f[SMALL]->len;
    for (int i = SMALL + 1; i < SMALL + 4; i++) {
        f[i] = frame_new(50, (uint8_t)(i * 3));
        assert_int_equal(send_queue_push(&g->q[0], outbuf_ref(f[i])), 0);
        total += f[i]->len;
    }
    /* half of the first frame already sent */
    send_queue_consume(&g->q[0], 30, NULL);
    total -= 30;

    static uint8_t before[65536], after[65536];
    assert_int_equal(send_queue_copy_out(&g->q[0], before, sizeof(before)), total);
    uint32_t count_before = g->q[0].count;

    send_queue_gather(&g->q[0], &g->pool, NULL, &g->batch);
    outbuf_release_flush(&g->batch);

    assert_int_equal(g->q[0].bytes, total);
    assert_int_equal(send_queue_copy_out(&g->q[0], after, sizeof(after)), total);
    assert_memory_equal(before, after, total);
    /* at most SEND_GATHER_BUFFERS buffers replaced whole runs of frames */
    assert_true(g->q[0].count < count_before);
    assert_true(g->pool.allocated >= 1 && g->pool.allocated <= SEND_GATHER_BUFFERS);
    for (uint32_t i = 0; i < g->pool.allocated; i++) {
        const struct send_entry *e = &g->q[0].entries[(g->q[0].head + i) & (g->q[0].capacity - 1)];
        assert_true(e->buf->pool == &g->pool && e->buf->len <= SEND_GATHER_BYTES);
    }
    /* a gathered frame's queue reference is gone, the others' stay */
    unsigned gathered = 0;
    for (int i = 0; i < SMALL + 4; i++) {
        assert_true(refs_of(f[i]) == 1 || refs_of(f[i]) == 2);
        gathered += refs_of(f[i]) == 1;
    }
    assert_int_equal(gathered, count_before - (g->q[0].count - (uint32_t)g->pool.allocated));
    assert_int_equal(refs_of(f[SMALL]), 2); /* too large: still zero-copy */

    /* sending it all releases everything, gather buffers included */
    send_queue_consume(&g->q[0], total, &g->batch);
    outbuf_release_flush(&g->batch);
    assert_true(send_queue_empty(&g->q[0]));
    assert_int_equal(g->pool.allocated, 0);
    for (int i = 0; i < SMALL + 4; i++) {
        assert_int_equal(refs_of(f[i]), 1);
        outbuf_release(f[i]);
    }
}

static void test_gather_leaves_a_short_queue_alone(void **state)
{
    struct share_fixture *g = *state;
    struct outbuf *f[SEND_GATHER_MIN_FRAMES - 1];
    for (int i = 0; i < SEND_GATHER_MIN_FRAMES - 1; i++) {
        f[i] = frame_new(40, (uint8_t)i);
        assert_int_equal(send_queue_push(&g->q[0], outbuf_ref(f[i])), 0);
    }
    send_queue_gather(&g->q[0], &g->pool, NULL, &g->batch);
    assert_int_equal(g->q[0].count, SEND_GATHER_MIN_FRAMES - 1);
    assert_int_equal(g->pool.allocated, 0);
    send_queue_destroy(&g->q[0]);
    for (int i = 0; i < SEND_GATHER_MIN_FRAMES - 1; i++) {
        assert_int_equal(refs_of(f[i]), 1);
        outbuf_release(f[i]);
    }
}

static size_t queue_bytes_out(const struct send_queue *q, uint8_t *out, size_t cap)
{
    size_t n = send_queue_copy_out(q, out, cap);
    assert_int_equal(n, q->bytes);
    return n;
}

static const struct send_entry *entry(const struct send_queue *q, uint32_t i)
{
    return &q->entries[(q->head + i) & (q->capacity - 1)];
}

static void test_identical_queues_share_one_gathered_buffer(void **state)
{
    struct share_fixture *s = *state;
    enum { FRAMES = 400 };
    struct outbuf *f[FRAMES];
    for (int i = 0; i < FRAMES; i++) {
        f[i] = frame_new(90 + (size_t)i % 20, (uint8_t)i);
        for (int k = 0; k < 3; k++) /* q[2] gets only the first 100 */
            if (k < 2 || i < 100)
                assert_int_equal(send_queue_push(&s->q[k], outbuf_ref(f[i])), 0);
    }
    static uint8_t before[65536], after[65536];
    size_t total = queue_bytes_out(&s->q[0], before, sizeof(before));

    send_queue_gather(&s->q[0], &s->pool, &s->cache, &s->batch);
    uint64_t copied = s->pool.allocated;
    assert_true(copied >= 2);
    send_queue_gather(&s->q[1], &s->pool, &s->cache, &s->batch);
    assert_int_equal(s->pool.allocated, copied); /* nothing copied again */
    assert_int_equal(s->q[1].count, s->q[0].count);
    for (uint32_t i = 0; i < copied; i++)
        assert_ptr_equal(entry(&s->q[1], i)->buf, entry(&s->q[0], i)->buf);
    assert_int_equal(queue_bytes_out(&s->q[1], after, sizeof(after)), total);
    assert_memory_equal(before, after, total);

    /* A queue holding only the start of the first run has no whole chunk
     * to share: it copies its own. */
    send_queue_gather(&s->q[2], &s->pool, &s->cache, &s->batch);
    assert_int_equal(s->pool.allocated, copied + 1);
    assert_int_equal(s->q[2].count, 1);
    size_t short_total = queue_bytes_out(&s->q[2], after, sizeof(after));
    assert_memory_equal(before, after, short_total);

    /* The tick empties the cache: the queues keep their shared buffers. */
    gather_cache_clear(&s->cache, &s->batch);
    outbuf_release_flush(&s->batch);
    assert_null(gather_cache_get(&s->cache, f[0]->uid));
    assert_int_equal(s->pool.allocated, copied + 1);
    assert_int_equal(queue_bytes_out(&s->q[1], after, sizeof(after)), total);
    assert_memory_equal(before, after, total);

    /* Sending everything releases every reference, shared buffers included. */
    for (int k = 0; k < 3; k++) {
        send_queue_consume(&s->q[k], s->q[k].bytes, &s->batch);
        assert_true(send_queue_empty(&s->q[k]));
    }
    outbuf_release_flush(&s->batch);
    for (int i = 0; i < FRAMES; i++) {
        assert_int_equal(refs_of(f[i]), 1);
        outbuf_release(f[i]);
    }
}

static void test_only_the_same_whole_frames_are_shared(void **state)
{
    struct share_fixture *s = *state;
    enum { FRAMES = 50 };
    struct outbuf *f[FRAMES], *twin;
    for (int i = 0; i < FRAMES; i++)
        f[i] = frame_new(100, (uint8_t)i);
    twin = frame_new(100, 7); /* the same bytes as f[7], another buffer */
    for (int i = 0; i < FRAMES; i++) {
        assert_int_equal(send_queue_push(&s->q[0], outbuf_ref(f[i])), 0);
        assert_int_equal(send_queue_push(&s->q[1], outbuf_ref(i == 7 ? twin : f[i])), 0);
        assert_int_equal(send_queue_push(&s->q[2], outbuf_ref(f[i])), 0);
    }
    send_queue_consume(&s->q[2], 10, &s->batch); /* its head frame is partly sent */

    send_queue_gather(&s->q[0], &s->pool, &s->cache, &s->batch);
    assert_int_equal(s->pool.allocated, 1);
    send_queue_gather(&s->q[1], &s->pool, &s->cache, &s->batch);
    assert_int_equal(s->pool.allocated, 2); /* one frame differs: its own copy */
    assert_ptr_not_equal(entry(&s->q[1], 0)->buf, entry(&s->q[0], 0)->buf);
    send_queue_gather(&s->q[2], &s->pool, &s->cache, &s->batch);
    assert_int_equal(s->pool.allocated, 3); /* starts mid-frame: its own copy */
    assert_int_equal(s->q[2].bytes, FRAMES * f[0]->len - 10);

    for (int k = 0; k < 3; k++)
        send_queue_consume(&s->q[k], s->q[k].bytes, &s->batch);
    outbuf_release_flush(&s->batch);
    for (int i = 0; i < FRAMES; i++)
        outbuf_release(f[i]);
    outbuf_release(twin);
}

/* A pooled buffer comes back at the same address: never with the same uid. */
static void test_a_reused_buffer_has_a_new_uid(void **state)
{
    (void)state;
    struct outbuf_pool pool;
    outbuf_pool_init(&pool);
    struct outbuf *a = outbuf_alloc(&pool, 100);
    assert_non_null(a);
    uint64_t first = a->uid;
    assert_true(first != 0);
    outbuf_release(a);
    struct outbuf *b = outbuf_alloc(&pool, 100);
    assert_ptr_equal(b, a);
    assert_true(b->uid != first && b->uid != 0);
    outbuf_release(b);
    outbuf_pool_destroy(&pool);
}

static void test_prepaid_references_settle_exactly(void **state)
{
    (void)state;
    struct outbuf *b = frame_new(10, 0);
    struct outbuf *other = frame_new(10, 1);
    struct outbuf_prepaid p = {0};

    outbuf_prepay(&p, b, 5);
    assert_int_equal(refs_of(b), 6);
    struct outbuf *taken[7];
    for (int i = 0; i < 3; i++)
        taken[i] = outbuf_ref_prepaid(&p, b);
    assert_int_equal(refs_of(b), 6);                        /* taken from the prepaid ones */
    assert_ptr_equal(outbuf_ref_prepaid(&p, other), other); /* another buffer: atomic */
    assert_int_equal(refs_of(other), 2);
    outbuf_release(other);
    outbuf_prepay_settle(&p);
    assert_int_equal(refs_of(b), 4); /* ours + 3 taken */
    assert_null(p.buf);
    /* past the prepaid count, references are taken one by one */
    outbuf_prepay(&p, b, 1);
    taken[3] = outbuf_ref_prepaid(&p, b);
    taken[4] = outbuf_ref_prepaid(&p, b);
    outbuf_prepay_settle(&p);
    assert_int_equal(refs_of(b), 6);
    /* prepaying zero takes nothing */
    outbuf_prepay(&p, b, 0);
    outbuf_prepay_settle(&p);
    assert_int_equal(refs_of(b), 6);
    for (int i = 0; i < 5; i++)
        outbuf_release(taken[i]);
    assert_int_equal(refs_of(b), 1);
    outbuf_release(b);
    outbuf_release(other);
}

/* What the owner added (fan_out) is adopted: a surplus goes back through
 * the release batch when settled, a shortfall is added at once. */
static void test_adopted_references_settle_exactly(void **state)
{
    (void)state;
    struct outbuf *b = frame_new(10, 0);
    struct outbuf_prepaid p = {0};
    struct outbuf_release_batch *batch = calloc(1, sizeof(*batch));
    assert_non_null(batch);

    atomic_fetch_add(&b->refs, 4); /* the owner paid for 4 */
    outbuf_prepay_adopt(&p, b, 4, 2);
    struct outbuf *taken[5];
    taken[0] = outbuf_ref_prepaid(&p, b);
    taken[1] = outbuf_refs_prepaid(&p, b, 2);
    assert_int_equal(refs_of(b), 5); /* all three from what was paid */
    outbuf_prepay_settle_batched(&p, batch);
    assert_null(p.buf);
    assert_int_equal(refs_of(b), 5); /* the one left over waits in the batch */
    outbuf_release_flush(batch);
    assert_int_equal(refs_of(b), 4); /* ours + 3 taken */

    atomic_fetch_add(&b->refs, 1); /* paid for 1, 2 needed */
    outbuf_prepay_adopt(&p, b, 1, 2);
    assert_int_equal(refs_of(b), 6);
    taken[3] = outbuf_refs_prepaid(&p, b, 2);
    outbuf_prepay_settle_batched(&p, batch);
    outbuf_release_flush(batch);
    assert_int_equal(refs_of(b), 6); /* nothing left over */

    outbuf_release_batched_n(batch, b, 5); /* the five taken, in one count */
    assert_int_equal(refs_of(b), 6);
    outbuf_release_flush(batch);
    assert_int_equal(refs_of(b), 1);
    (void)taken;
    outbuf_release(b);
    free(batch);
}

static void test_batched_releases_apply_every_count(void **state)
{
    (void)state;
    /* more buffers than slots, interleaved, so slots collide and flush each other */
    enum { N = OUTBUF_RELEASE_SLOTS + 300, REFS = 7 };
    struct outbuf_pool pool;
    outbuf_pool_init(&pool);
    struct outbuf **b = calloc(N, sizeof(*b));
    struct outbuf_release_batch *batch = calloc(1, sizeof(*batch));
    assert_non_null(b);
    assert_non_null(batch);
    for (int i = 0; i < N; i++) {
        b[i] = (i % 2) ? frame_new(32, (uint8_t)i) : outbuf_alloc(&pool, 32);
        assert_non_null(b[i]);
        for (int r = 0; r < REFS; r++)
            outbuf_ref(b[i]);
    }
    for (int r = 0; r < REFS; r++)
        for (int i = 0; i < N; i++)
            outbuf_release_batched(batch, b[i]);
    outbuf_release_flush(batch);
    for (int i = 0; i < N; i++)
        assert_int_equal(refs_of(b[i]), 1);
    /* the last references through the batch free them: pooled ones return */
    for (int i = 0; i < N; i++)
        outbuf_release_batched(batch, b[i]);
    outbuf_release_flush(batch);
    assert_int_equal(pool.allocated, 0);
    free(batch);
    free(b);
    outbuf_pool_destroy(&pool);
}

/* A run of frames allocated one after another, popped from many queues in
 * turn, is counted in the batch until the flush: no frame's counter is
 * touched once per queue (the fan-out case that made the batch). */
static void test_consecutive_frames_do_not_flush_each_other(void **state)
{
    (void)state;
    enum { N = OUTBUF_RELEASE_SLOTS, QUEUES = 5 };
    struct outbuf **b = calloc(N, sizeof(*b));
    struct outbuf_release_batch *batch = calloc(1, sizeof(*batch));
    assert_non_null(b);
    assert_non_null(batch);
    for (int i = 0; i < N; i++) {
        b[i] = frame_new(32, (uint8_t)i);
        assert_non_null(b[i]);
        for (int q = 0; q < QUEUES; q++)
            outbuf_ref(b[i]);
    }
    for (int q = 0; q < QUEUES; q++)
        for (int i = 0; i < N; i++)
            outbuf_release_batched(batch, b[i]);
    for (int i = 0; i < N; i++)
        assert_int_equal(refs_of(b[i]), QUEUES + 1); /* all still counted, none applied */
    assert_int_equal(batch->used_count, N);
    outbuf_release_flush(batch);
    assert_int_equal(batch->used_count, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(refs_of(b[i]), 1);
        outbuf_release(b[i]);
    }
    free(batch);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gather_keeps_bytes_order_and_references, share_setup,
                                        share_teardown),
        cmocka_unit_test_setup_teardown(test_gather_leaves_a_short_queue_alone, share_setup,
                                        share_teardown),
        cmocka_unit_test_setup_teardown(test_identical_queues_share_one_gathered_buffer,
                                        share_setup, share_teardown),
        cmocka_unit_test_setup_teardown(test_only_the_same_whole_frames_are_shared, share_setup,
                                        share_teardown),
        cmocka_unit_test(test_a_reused_buffer_has_a_new_uid),
        cmocka_unit_test(test_prepaid_references_settle_exactly),
        cmocka_unit_test(test_adopted_references_settle_exactly),
        cmocka_unit_test(test_batched_releases_apply_every_count),
        cmocka_unit_test(test_consecutive_frames_do_not_flush_each_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

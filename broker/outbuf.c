/*
 * outbuf.c - the size-class pool behind struct outbuf.
 *
 * Each worker owns one pool. Freed buffers go onto a per-class free list,
 * kept up to a bound so an idle broker gives memory back (to jemalloc).
 */
#include "outbuf.h"

#include <stdlib.h>

static const size_t class_capacity[OUTBUF_CLASS_COUNT] = {256, 2048, 16384, 131072};
/* Free buffers kept per class: about 1 MiB of each class at most, but 4 MiB
 * of 16 KiB ones: send_queue_gather() takes one per busy subscriber per send. */
static const unsigned class_keep[OUTBUF_CLASS_COUNT] = {4096, 512, 256, 8};

void outbuf_pool_init(struct outbuf_pool *pool)
{
    for (int i = 0; i < OUTBUF_CLASS_COUNT; i++) {
        pool->free_list[i] = NULL;
        pool->free_count[i] = 0;
    }
    pool->allocated = 0;
}

void outbuf_pool_destroy(struct outbuf_pool *pool)
{
    for (int i = 0; i < OUTBUF_CLASS_COUNT; i++) {
        while (pool->free_list[i]) {
            struct outbuf *b = pool->free_list[i];
            pool->free_list[i] = b->next_free;
            free(b);
        }
        pool->free_count[i] = 0;
    }
}

/* Uids are handed out in blocks, so taking one is a thread-local add. */
#define UID_BLOCK (1ull << 20)
static atomic_uint_fast64_t uid_blocks_taken;
static _Thread_local uint64_t uid_next, uid_block_end;

static uint64_t next_uid(void)
{
    if (uid_next == uid_block_end) {
        uint64_t block = atomic_fetch_add_explicit(&uid_blocks_taken, 1, memory_order_relaxed);
        uid_next = block * UID_BLOCK + 1; /* + 1: 0 is never a uid */
        uid_block_end = (block + 1) * UID_BLOCK;
    }
    return uid_next++;
}

static int class_for(size_t capacity)
{
    for (int i = 0; i < OUTBUF_CLASS_COUNT; i++) {
        if (capacity <= class_capacity[i])
            return i;
    }
    return OUTBUF_HUGE;
}

struct outbuf *outbuf_alloc_shared(size_t payload_capacity)
{
    struct outbuf *b = malloc(sizeof(*b) + OUTBUF_HEADROOM + payload_capacity);
    if (b == NULL)
        return NULL;
    b->capacity = payload_capacity;
    b->size_class = OUTBUF_HUGE;
    b->pool = NULL;
    atomic_init(&b->refs, 1);
    b->next_free = NULL;
    b->uid = next_uid();
    b->seq = 0;
    b->data = outbuf_payload(b);
    b->len = 0;
    return b;
}

struct outbuf *outbuf_alloc(struct outbuf_pool *pool, size_t payload_capacity)
{
    int cls = class_for(payload_capacity);
    struct outbuf *b = NULL;
    if (cls != OUTBUF_HUGE && pool->free_list[cls]) {
        b = pool->free_list[cls];
        pool->free_list[cls] = b->next_free;
        pool->free_count[cls]--;
    } else {
        size_t cap = cls == OUTBUF_HUGE ? payload_capacity : class_capacity[cls];
        b = malloc(sizeof(*b) + OUTBUF_HEADROOM + cap);
        if (b == NULL)
            return NULL;
        b->capacity = cap;
        b->size_class = (uint8_t)cls;
        b->pool = pool;
    }
    atomic_init(&b->refs, 1);
    b->next_free = NULL;
    b->uid = next_uid();
    b->seq = 0;
    b->data = outbuf_payload(b);
    b->len = 0;
    pool->allocated++;
    return b;
}

void outbuf_release(struct outbuf *b)
{
    outbuf_release_n(b, 1);
}

void outbuf_release_n(struct outbuf *b, uint32_t n)
{
    if (atomic_fetch_sub_explicit(&b->refs, n, memory_order_acq_rel) != n)
        return;
    struct outbuf_pool *pool = b->pool;
    if (pool == NULL) { /* shared */
        free(b);
        return;
    }
    pool->allocated--;
    int cls = b->size_class;
    if (cls == OUTBUF_HUGE || pool->free_count[cls] >= class_keep[cls]) {
        free(b);
        return;
    }
    b->next_free = pool->free_list[cls];
    pool->free_list[cls] = b;
    pool->free_count[cls]++;
}

void outbuf_prepay(struct outbuf_prepaid *p, struct outbuf *b, uint32_t n)
{
    outbuf_prepay_adopt(p, b, 0, n);
}

void outbuf_prepay_adopt(struct outbuf_prepaid *p, struct outbuf *b, uint32_t paid, uint32_t need)
{
    outbuf_prepay_settle(p);
    if (need > paid) {
        outbuf_ref_n(b, need - paid);
        paid = need;
    }
    p->buf = paid ? b : NULL;
    p->left = paid;
}

void outbuf_prepay_settle_batched(struct outbuf_prepaid *p, struct outbuf_release_batch *batch)
{
    if (p->buf != NULL && p->left > 0)
        outbuf_release_batched_n(batch, p->buf, p->left);
    p->buf = NULL;
    p->left = 0;
}

void outbuf_prepay_settle(struct outbuf_prepaid *p)
{
    outbuf_prepay_settle_batched(p, NULL);
}

void outbuf_release_batched_n(struct outbuf_release_batch *batch, struct outbuf *b, uint32_t n)
{
    if (batch == NULL) {
        outbuf_release_n(b, n);
        return;
    }
    unsigned i = (unsigned)(b->uid & (OUTBUF_RELEASE_SLOTS - 1));
    if (batch->buf[i] == b) {
        batch->count[i] += n;
        return;
    }
    if (batch->buf[i] != NULL)
        outbuf_release_n(batch->buf[i], batch->count[i]);
    else
        batch->used[batch->used_count++] = (uint16_t)i;
    batch->buf[i] = b;
    batch->count[i] = n;
}

void outbuf_release_flush(struct outbuf_release_batch *batch)
{
    for (uint32_t k = 0; k < batch->used_count; k++) {
        unsigned i = batch->used[k];
        outbuf_release_n(batch->buf[i], batch->count[i]);
        batch->buf[i] = NULL;
    }
    batch->used_count = 0;
}

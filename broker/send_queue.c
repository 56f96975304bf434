/*
 * send_queue.c - a growable ring of (outbuf, offset) entries.
 */
#include "send_queue.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEND_QUEUE_INITIAL 8

static struct send_entry *entry_at(const struct send_queue *q, uint32_t i)
{
    return &q->entries[(q->head + i) & (q->capacity - 1)];
}

/* Drops the head entry; its reference goes into batch (NULL: released at once). */
static void pop_head(struct send_queue *q, struct outbuf_release_batch *batch)
{
    outbuf_release_batched(batch, q->entries[q->head].buf);
    q->head = (q->head + 1) & (q->capacity - 1);
    q->count--;
}

void send_queue_init(struct send_queue *q)
{
    q->entries = NULL;
    q->capacity = q->head = q->count = 0;
    q->bytes = 0;
}

void send_queue_destroy(struct send_queue *q)
{
    while (q->count > 0)
        pop_head(q, NULL);
    free(q->entries);
    send_queue_init(q);
}

static int send_queue_grow(struct send_queue *q)
{
    uint32_t capacity = q->capacity ? q->capacity * 2 : SEND_QUEUE_INITIAL;
    struct send_entry *entries = malloc(sizeof(*entries) * capacity);
    if (entries == NULL)
        return -1;
    for (uint32_t i = 0; i < q->count; i++)
        entries[i] = *entry_at(q, i);
    free(q->entries);
    q->entries = entries;
    q->capacity = capacity;
    q->head = 0;
    return 0;
}

int send_queue_push(struct send_queue *q, struct outbuf *buf)
{
    if (q->count == q->capacity && send_queue_grow(q) != 0) {
        outbuf_release(buf);
        return -1;
    }
    uint32_t tail = (q->head + q->count) & (q->capacity - 1);
    q->entries[tail] = (struct send_entry){buf, 0};
    q->count++;
    q->bytes += buf->len;
    return 0;
}

unsigned send_queue_fill_iov(const struct send_queue *q, struct iovec *iov, unsigned max)
{
    unsigned n = 0;
    for (; n < max && n < q->count; n++) {
        const struct send_entry *e = entry_at(q, n);
        iov[n].iov_base = e->buf->data + e->offset;
        iov[n].iov_len = e->buf->len - e->offset;
    }
    return n;
}

size_t send_queue_copy_out(const struct send_queue *q, uint8_t *dst, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < q->count && n < cap; i++) {
        const struct send_entry *e = entry_at(q, i);
        size_t left = e->buf->len - e->offset;
        size_t take = left < cap - n ? left : cap - n;
        memcpy(dst + n, e->buf->data + e->offset, take);
        n += take;
    }
    return n;
}

/* How many small entries from the head fit in one gather buffer, and their bytes. */
static uint32_t small_run(const struct send_queue *q, size_t *bytes)
{
    uint32_t n = 0;
    *bytes = 0;
    for (; n < q->count; n++) {
        const struct send_entry *e = entry_at(q, n);
        size_t left = e->buf->len - e->offset;
        if (left > SEND_GATHER_SMALL || *bytes + left > SEND_GATHER_BYTES)
            break;
        *bytes += left;
    }
    return n;
}

/* The cached buffer that holds exactly the whole frames at the head of q,
 * which it pops; NULL (q untouched) when there is none. */
static struct outbuf *take_shared(struct send_queue *q, const struct gather_cache *cache,
                                  struct outbuf_release_batch *batch)
{
    const struct send_entry *head = entry_at(q, 0);
    if (head->offset != 0)
        return NULL;
    const struct gather_chunk *ch = gather_cache_get(cache, head->buf->uid);
    if (ch == NULL || ch->frames > q->count)
        return NULL;
    for (uint32_t i = 1; i < ch->frames; i++) {
        const struct send_entry *e = entry_at(q, i);
        if (e->offset != 0 || e->buf->uid != ch->uid[i])
            return NULL;
    }
    for (uint32_t i = 0; i < ch->frames; i++)
        pop_head(q, batch);
    return outbuf_ref(ch->buf);
}

/* Copies the run frames at the head into a new buffer, which it pops
 * them for, and offers it to cache; NULL (q untouched) when out of memory. */
static struct outbuf *gather_run(struct send_queue *q, uint32_t run, struct outbuf_pool *pool,
                                 struct gather_cache *cache, struct outbuf_release_batch *batch)
{
    struct outbuf *b = outbuf_alloc(pool, SEND_GATHER_BYTES);
    if (b == NULL)
        return NULL;
    /* Only whole published frames are worth sharing: another subscriber
     * can have the same ones queued. */
    bool share = cache != NULL && run <= GATHER_CACHE_FRAMES;
    uint64_t uid[GATHER_CACHE_FRAMES];
    for (uint32_t i = 0; i < run; i++) {
        const struct send_entry *e = entry_at(q, 0);
        size_t left = e->buf->len - e->offset;
        if (share) {
            share = e->offset == 0 && e->buf->pool == NULL;
            uid[i] = e->buf->uid;
        }
        memcpy(b->data + b->len, e->buf->data + e->offset, left);
        b->len += left;
        pop_head(q, batch);
    }
    if (share)
        gather_cache_put(cache, b, uid, run, batch);
    return b;
}

void send_queue_gather(struct send_queue *q, struct outbuf_pool *pool, struct gather_cache *cache,
                       struct outbuf_release_batch *batch)
{
    struct outbuf *made[SEND_GATHER_BUFFERS];
    unsigned nmade = 0;
    while (nmade < SEND_GATHER_BUFFERS && q->count >= SEND_GATHER_MIN_FRAMES) {
        struct outbuf *b = cache ? take_shared(q, cache, batch) : NULL;
        if (b == NULL) {
            size_t bytes;
            uint32_t run = small_run(q, &bytes);
            if (run < SEND_GATHER_MIN_FRAMES)
                break;
            b = gather_run(q, run, pool, cache, batch);
            if (b == NULL)
                break; /* sent as they are */
        }
        made[nmade++] = b;
    }
    /* Back at the head, in order; each took the place of several entries.
     * Unsent bytes are unchanged. */
    while (nmade > 0) {
        q->head = (q->head - 1) & (q->capacity - 1);
        q->entries[q->head] = (struct send_entry){made[--nmade], 0};
        q->count++;
    }
}

void send_queue_consume(struct send_queue *q, size_t sent, struct outbuf_release_batch *batch)
{
    q->bytes -= sent;
    /* Also drops empty entries at the head, so sent == 0 makes progress. */
    while (q->count > 0) {
        struct send_entry *e = &q->entries[q->head];
        size_t left = e->buf->len - e->offset;
        if (sent < left) {
            e->offset += sent;
            return;
        }
        sent -= left;
        pop_head(q, batch);
    }
}

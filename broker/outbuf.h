/*
 * outbuf.h - reference-counted buffers holding one or more encoded frames
 * on their way to sockets.
 *
 * A buffer is allocated with headroom for a server frame header, the payload
 * is written after it, and outbuf_seal_frame() prepends the header in place,
 * so a payload is never copied to be framed. The same buffer may sit in many
 * connections' send queues at once: each queue entry holds one reference.
 * Small buffers come from a per-worker pool of size classes, so the
 * steady-state message path does not call malloc.
 */
#ifndef WSB_OUTBUF_H
#define WSB_OUTBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_frame.h"

#define OUTBUF_HEADROOM    WS_SERVER_FRAME_MAX_HEADER
#define OUTBUF_CLASS_COUNT 4
#define OUTBUF_HUGE        0xff /* not pooled: freed on last release */

struct outbuf_pool;

struct outbuf {
    atomic_uint refs;
    uint8_t size_class; /* index into the pool's classes, or OUTBUF_HUGE */
    struct outbuf_pool *pool;
    struct outbuf *next_free;
    /* Unique to this allocation (never 0, never reused, whatever the
     * address): what gather_cache.h matches frames by. */
    uint64_t uid;
    /* A published frame: the topic seq stamped into it (router.c), which
     * manual-ack bookkeeping reads back instead of storing; else 0. */
    uint64_t seq;
    uint8_t *data;   /* first byte to send */
    size_t len;      /* bytes to send from data */
    size_t capacity; /* payload bytes that fit after the headroom */
    uint8_t storage[];
};

struct outbuf_pool {
    struct outbuf *free_list[OUTBUF_CLASS_COUNT];
    unsigned free_count[OUTBUF_CLASS_COUNT];
    uint64_t allocated; /* live buffers, for leak checks and metrics */
};

void outbuf_pool_init(struct outbuf_pool *pool);
void outbuf_pool_destroy(struct outbuf_pool *pool);

/* A buffer with room for payload_capacity bytes after the headroom; one
 * reference, owned by the caller. NULL when out of memory. */
struct outbuf *outbuf_alloc(struct outbuf_pool *pool, size_t payload_capacity);

/*
 * A buffer that may be released on any worker (a published message shared by
 * the topic owner's log and every subscriber's worker): not pooled, so its
 * last release frees it to jemalloc, whose per-thread caches make that
 * cheap from any thread.
 */
struct outbuf *outbuf_alloc_shared(size_t payload_capacity);

/* Where the caller writes the payload. */
static inline uint8_t *outbuf_payload(struct outbuf *b)
{
    return b->storage + OUTBUF_HEADROOM;
}

/* Frames payload_len bytes at outbuf_payload(b) as one server frame. */
static inline void outbuf_seal_frame(struct outbuf *b, size_t payload_len, uint8_t opcode)
{
    b->data = ws_frame_prepend_header(outbuf_payload(b), payload_len, opcode, true);
    b->len = (size_t)(outbuf_payload(b) + payload_len - b->data);
}

static inline struct outbuf *outbuf_ref_n(struct outbuf *b, uint32_t n)
{
    atomic_fetch_add_explicit(&b->refs, n, memory_order_relaxed);
    return b;
}

static inline struct outbuf *outbuf_ref(struct outbuf *b)
{
    return outbuf_ref_n(b, 1);
}

/* Drops one reference; the last one returns the buffer to the pool it came
 * from. Only the owning worker may release the last reference to a pooled
 * buffer. */
void outbuf_release(struct outbuf *b);

/* Drops n references at once (n >= 1). */
void outbuf_release_n(struct outbuf *b, uint32_t n);

/*
 * A shared frame fanned out to a thousand subscribers on two workers takes
 * and drops a thousand references on each of them, and every one of those
 * atomic operations pulls the frame's cache line from the other core. The
 * two helpers below turn them into one per worker per frame.
 *
 * Prepaid references: before a worker hands one buffer to up to n of its
 * connections, outbuf_prepay() adds n references with one atomic add;
 * outbuf_ref_prepaid() then takes them without touching the counter, and
 * outbuf_prepay_settle() gives back the ones not taken. The caller holds
 * its own reference throughout, so settling never frees the buffer.
 */
struct outbuf_prepaid {
    struct outbuf *buf;
    uint32_t left;
};

void outbuf_prepay(struct outbuf_prepaid *p, struct outbuf *b, uint32_t n);
/* Takes over `paid` references someone added to b in advance (the topic's
 * owner, for a fan-out) as prepaid ones, adding only what is missing for
 * `need`; whatever is left over goes back when settled. */
void outbuf_prepay_adopt(struct outbuf_prepaid *p, struct outbuf *b, uint32_t paid, uint32_t need);

/* n references to b: prepaid ones while enough are left, else one atomic
 * add of n. */
static inline struct outbuf *outbuf_refs_prepaid(struct outbuf_prepaid *p, struct outbuf *b,
                                                 uint32_t n)
{
    if (p->buf == b && p->left >= n) {
        p->left -= n;
        return b;
    }
    return outbuf_ref_n(b, n);
}

static inline struct outbuf *outbuf_ref_prepaid(struct outbuf_prepaid *p, struct outbuf *b)
{
    return outbuf_refs_prepaid(p, b, 1);
}

void outbuf_prepay_settle(struct outbuf_prepaid *p);
struct outbuf_release_batch;
/* The same, with what is left over released into batch. */
void outbuf_prepay_settle_batched(struct outbuf_prepaid *p, struct outbuf_release_batch *batch);

/*
 * Batched releases: a worker's send completions and gathers release the
 * same frames once per connection. outbuf_release_batched() counts releases
 * per buffer in a table and outbuf_release_flush() applies them, one atomic
 * subtract per buffer. The worker flushes before it waits for completions,
 * so a buffer is returned at most one loop pass late.
 *
 * The table is indexed by the low bits of the buffer's uid. Published
 * frames are allocated one after another, so a worker's queues hold runs of
 * nearly consecutive uids, and a run of up to OUTBUF_RELEASE_SLOTS frames
 * lands in distinct slots: popping the same run from a thousand queues
 * touches each frame's counter once. (Hashing the address spread strided
 * allocations over a fraction of 64 slots; every collision flushed the
 * older count, and the atomic subtract on a frame the other worker also
 * releases was a quarter of the broker's time in fan-out.) A collision
 * still only flushes the older buffer's count early.
 */
#define OUTBUF_RELEASE_SLOTS 2048 /* a power of two; > one gather's frames */
_Static_assert((OUTBUF_RELEASE_SLOTS & (OUTBUF_RELEASE_SLOTS - 1)) == 0 &&
                   OUTBUF_RELEASE_SLOTS <= 65536,
               "slots: a power of two that a uint16_t indexes");

struct outbuf_release_batch {
    struct outbuf *buf[OUTBUF_RELEASE_SLOTS];
    uint32_t count[OUTBUF_RELEASE_SLOTS];
    uint16_t used[OUTBUF_RELEASE_SLOTS]; /* slots holding a buffer, for the flush */
    uint32_t used_count;
};

/* Counts n releases of b in batch; with batch NULL, releases them at once. */
void outbuf_release_batched_n(struct outbuf_release_batch *batch, struct outbuf *b, uint32_t n);
static inline void outbuf_release_batched(struct outbuf_release_batch *batch, struct outbuf *b)
{
    outbuf_release_batched_n(batch, b, 1);
}
void outbuf_release_flush(struct outbuf_release_batch *batch);

#endif

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

static inline struct outbuf *outbuf_ref(struct outbuf *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

/* Drops one reference; the last one returns the buffer to the pool it came
 * from. Only the owning worker may release the last reference to a pooled
 * buffer. */
void outbuf_release(struct outbuf *b);

#endif

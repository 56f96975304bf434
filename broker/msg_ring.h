/*
 * msg_ring.h - a FIFO of frame references with a due time each: what
 * manual acks keep per message (delivery.c) - a subscription's unacked
 * messages, those waiting behind its window, and a local topic's sent log.
 *
 * 16-byte entries: a manual-ack subscriber that is not in step writes one
 * per delivery and reads it back on the ack, and a thousand windows do not
 * fit in cache. The seq is the frame's own (outbuf.h); the due time is the
 * low 32 bits of the worker's ms clock, compared wrap-safe: dues are at
 * most ack-backoff-max (an hour) ahead and never left far behind
 * (delivery_retransmit_due).
 */
#ifndef WSB_MSG_RING_H
#define WSB_MSG_RING_H

#include <stddef.h>
#include <stdint.h>

#include "outbuf.h"

struct pending_msg {
    struct outbuf *frame;
    uint32_t due_ms; /* unacked: next retransmission; in a sent log: the first */
    union {
        uint32_t attempts; /* unacked: retransmissions so far */
        /* In a sent log: references held for deliveries in step that have
         * the message waiting, each to take one when it sends it. Like
         * attempts, msg_ring_push starts it at 0. */
        uint32_t banked;
    };
};

struct msg_ring {
    struct pending_msg *items; /* capacity a power of two */
    uint32_t capacity, head, count;
};

/* A ring's array of `size`-byte entries at a new capacity (a power of two,
 * >= count), the entries moved to its front; NULL when out of memory (the
 * old one is kept). For any ring laid out as items, capacity, head, count. */
void *ring_array_resize(void *items, size_t size, uint32_t *capacity, uint32_t *head,
                        uint32_t count, uint32_t new_capacity);

/* The same at twice the capacity (16 at first). */
void *ring_array_grow(void *items, size_t size, uint32_t *capacity, uint32_t *head, uint32_t count);

int msg_ring_resize(struct msg_ring *q, uint32_t capacity);
int msg_ring_grow(struct msg_ring *q);

/* Appends frame (the caller's reference) due at due_ms; -1 when out of
 * memory. Fields, not a struct by value: a struct built on the stack and
 * copied into the slot stalls store forwarding on this per-delivery path. */
static inline int msg_ring_push(struct msg_ring *q, struct outbuf *frame, uint64_t due_ms)
{
    if (q->count == q->capacity && msg_ring_grow(q) != 0)
        return -1;
    struct pending_msg *m = &q->items[(q->head + q->count) & (q->capacity - 1)];
    m->frame = frame;
    m->due_ms = (uint32_t)due_ms;
    m->attempts = 0;
    q->count++;
    return 0;
}

/* A due time in full from its low 32 bits, which are within 2^31 ms of now. */
static inline uint64_t due_ms_in_full(uint32_t due_ms, uint64_t now_ms)
{
    return now_ms + (uint64_t)(int64_t)(int32_t)(due_ms - (uint32_t)now_ms);
}

static inline uint64_t pending_due(const struct pending_msg *m, uint64_t now_ms)
{
    return due_ms_in_full(m->due_ms, now_ms);
}

static inline struct pending_msg *msg_ring_front(struct msg_ring *q)
{
    return &q->items[q->head];
}

static inline struct pending_msg *msg_ring_at(struct msg_ring *q, uint32_t i)
{
    return &q->items[(q->head + i) & (q->capacity - 1)];
}

/* Drops the front entry and hands its frame to the caller. */
static inline struct outbuf *msg_ring_shift(struct msg_ring *q)
{
    struct outbuf *frame = q->items[q->head].frame;
    q->head = (q->head + 1) & (q->capacity - 1);
    q->count--;
    return frame;
}

/* Drops the front entry; its reference goes into batch (outbuf.h) when not
 * NULL: acks release the frames every subscriber of a topic holds, like
 * send completions. */
static inline void msg_ring_pop(struct msg_ring *q, struct outbuf_release_batch *batch)
{
    outbuf_release_batched(batch, msg_ring_shift(q));
}

/* Releases every entry's reference and the array. */
void msg_ring_clear(struct msg_ring *q);

#endif

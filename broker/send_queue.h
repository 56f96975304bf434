/*
 * send_queue.h - one connection's outbound frames, in order, bounded.
 *
 * Entries reference shared outbufs (one reference each), so a frame fanned
 * out to many connections exists once in memory. The queue turns its head
 * into an iovec array for one sendmsg and advances over partial sends.
 */
#ifndef WSB_SEND_QUEUE_H
#define WSB_SEND_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "gather_cache.h"
#include "outbuf.h"

struct send_entry {
    struct outbuf *buf;
    size_t offset; /* bytes of buf->data already sent */
};

struct send_queue {
    struct send_entry *entries; /* ring, capacity a power of two */
    uint32_t capacity, head, count;
    uint64_t bytes; /* unsent bytes queued */
};

void send_queue_init(struct send_queue *q);

/* Releases every queued buffer and the ring itself. */
void send_queue_destroy(struct send_queue *q);

/* Appends buf, taking over the caller's reference. Returns -1 (and releases
 * the reference) only when the ring cannot grow (out of memory). */
int send_queue_push(struct send_queue *q, struct outbuf *buf);

/* Fills up to max iovecs from the head. Returns how many. */
unsigned send_queue_fill_iov(const struct send_queue *q, struct iovec *iov, unsigned max);

/* Copies up to cap bytes from the head into dst without consuming them.
 * Returns how many. */
size_t send_queue_copy_out(const struct send_queue *q, uint8_t *dst, size_t cap);

/*
 * Gathering: the kernel copies a sendmsg's iovecs one by one, and for
 * 100-byte frames the fixed cost of each copy (user-access switching, the
 * copy's start-up) is most of it; a subscriber of a busy topic has hundreds
 * queued. send_queue_gather() copies runs of at least SEND_GATHER_MIN_FRAMES
 * small frames (up to SEND_GATHER_SMALL bytes each) at the head into buffers
 * of SEND_GATHER_BYTES from pool, at most SEND_GATHER_BUFFERS of them, which
 * replace those entries; the frames' references go to batch. Bigger frames,
 * and a queue of a few (the quiet case, where latency counts), stay shared
 * and zero-copy. Only while no send is in flight, since it moves entries.
 * With a cache (gather_cache.h; NULL: none), a run of published frames that
 * another queue on the worker already gathered takes a reference to that
 * buffer instead of copying, and a run of whole published frames it does
 * copy is offered for the next.
 */
#define SEND_GATHER_MIN_FRAMES 4
#define SEND_GATHER_SMALL      512
#define SEND_GATHER_BYTES      16384
#define SEND_GATHER_BUFFERS    4

void send_queue_gather(struct send_queue *q, struct outbuf_pool *pool, struct gather_cache *cache,
                       struct outbuf_release_batch *batch);

/* Marks sent bytes as done, releasing fully sent buffers: into batch when
 * not NULL (outbuf.h), else at once. */
void send_queue_consume(struct send_queue *q, size_t sent, struct outbuf_release_batch *batch);

static inline bool send_queue_empty(const struct send_queue *q)
{
    return q->count == 0;
}

#endif

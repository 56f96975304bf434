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

/* Marks sent bytes as done, releasing fully sent buffers: into batch when
 * not NULL (outbuf.h), else at once. */
void send_queue_consume(struct send_queue *q, size_t sent, struct outbuf_release_batch *batch);

static inline bool send_queue_empty(const struct send_queue *q)
{
    return q->count == 0;
}

#endif

/*
 * xring.h - one single-producer/single-consumer ring of struct xmsg: the
 * channel from one worker to another (mailbox.c keeps one per ordered pair).
 *
 * Why our own ring and not Concurrency Kit's ck_ring: ck orders its slots
 * with fences written in inline assembly, which ThreadSanitizer cannot see,
 * and no annotation placed around ck's calls can sit where the ordering
 * really is (between the slot copy and the index store inside ck). So TSan
 * reported every hand-over as a race, both ways. Here the two indices are
 * C11 atomics and the ordering is stated where it happens:
 *
 *   producer: copy into slot[tail]; store tail+1 (release)
 *   consumer: load tail (acquire); copy out of slot[head]; store head+1 (release)
 *   producer: load head (acquire) before reusing a slot the consumer freed
 *
 * so a slot is written before it is published and read before it is given
 * back, on every architecture and as TSan sees it. On x86 each of these is a
 * plain load or store, as ck's were.
 *
 * Indices run freely (unsigned wrap-around); all `entries` slots are usable.
 */
#ifndef WSB_XRING_H
#define WSB_XRING_H

#include <stdatomic.h>
#include <stdbool.h>

#include "xmsg.h"

struct xring {
    /* written by the consumer, read by the producer */
    _Alignas(64) atomic_uint head;
    /* written by the producer, read by the consumer; own cache line, so the
     * two sides don't bounce one line between cores */
    _Alignas(64) atomic_uint tail;
    /* immutable after xring_init */
    _Alignas(64) unsigned mask;
    struct xmsg *slots;
};

/* `entries` must be a power of two (config.c checks xring-entries).
 * Returns 0, or -1 when the slots cannot be allocated. */
int xring_init(struct xring *r, unsigned entries);
void xring_destroy(struct xring *r);

/* Producer side: copies *m into the ring; false when full. */
bool xring_push(struct xring *r, const struct xmsg *m);

/* Consumer side: copies the oldest message out; false when empty. */
bool xring_pop(struct xring *r, struct xmsg *m);

/* Consumer side: true when a message waits. */
bool xring_nonempty(const struct xring *r);

#endif

/*
 * xring.c - the SPSC ring of struct xmsg between two workers; the memory
 * ordering is explained in xring.h.
 */
#include "xring.h"

#include <stdlib.h>

int xring_init(struct xring *r, unsigned entries)
{
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->mask = entries - 1;
    r->slots = aligned_alloc(64, sizeof(struct xmsg) * entries);
    return r->slots ? 0 : -1;
}

void xring_destroy(struct xring *r)
{
    free(r->slots);
    r->slots = NULL;
}

bool xring_push(struct xring *r, const struct xmsg *m)
{
    /* tail is ours: relaxed. head: acquire, so the consumer's copy out of a
     * slot happens before we overwrite it. */
    unsigned tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    unsigned head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail - head > r->mask)
        return false;
    r->slots[tail & r->mask] = *m;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release); /* publishes the slot */
    return true;
}

bool xring_pop(struct xring *r, struct xmsg *m)
{
    unsigned head = atomic_load_explicit(&r->head, memory_order_relaxed);
    unsigned tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head == tail)
        return false;
    *m = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release); /* gives the slot back */
    return true;
}

bool xring_nonempty(const struct xring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire) !=
           atomic_load_explicit(&r->head, memory_order_relaxed);
}

/*
 * mailbox.c - the SPSC rings between workers (xring.c), with producer-side
 * overflow and the wake-up handshake (see mailbox.h).
 */
#include "mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "xring.h"

int mailboxes_init(struct mailboxes *m, unsigned workers, unsigned entries)
{
    m->workers = workers;
    /* struct xring is cache-line aligned, so its size is a multiple of 64 */
    size_t size = sizeof(*m->rings) * workers * workers;
    m->rings = aligned_alloc(_Alignof(struct xring), size);
    if (m->rings == NULL)
        return -1;
    memset(m->rings, 0, size); /* destroy can run after a partial init */
    for (unsigned i = 0; i < workers * workers; i++) {
        if (i / workers == i % workers)
            continue;
        if (xring_init(&m->rings[i], entries) != 0)
            return -1;
    }
    return 0;
}

void mailboxes_destroy(struct mailboxes *m)
{
    if (m->rings == NULL)
        return;
    for (unsigned i = 0; i < m->workers * m->workers; i++)
        xring_destroy(&m->rings[i]);
    free(m->rings);
    m->rings = NULL;
}

static struct xring *ring_between(struct mailboxes *m, unsigned from, unsigned to)
{
    return &m->rings[from * m->workers + to];
}

int mailbox_port_init(struct mailbox_port *p, struct mailboxes *all, unsigned self)
{
    p->all = all;
    p->self = self;
    p->out = calloc(all->workers, sizeof(*p->out));
    return p->out ? 0 : -1;
}

void mailbox_port_destroy(struct mailbox_port *p)
{
    if (p->out == NULL)
        return;
    for (unsigned i = 0; i < p->all->workers; i++)
        free(p->out[i].items);
    free(p->out);
    p->out = NULL;
}

static int outbox_push(struct mailbox_outbox *o, const struct xmsg *m)
{
    if (o->count == o->capacity) {
        uint32_t capacity = o->capacity ? o->capacity * 2 : 256;
        struct xmsg *items = malloc(sizeof(*items) * capacity);
        if (items == NULL)
            return -1;
        for (uint32_t i = 0; i < o->count; i++)
            items[i] = o->items[(o->head + i) & (o->capacity - 1)];
        free(o->items);
        o->items = items;
        o->capacity = capacity;
        o->head = 0;
    }
    o->items[(o->head + o->count) & (o->capacity - 1)] = *m;
    o->count++;
    return 0;
}

int mailbox_send(struct mailbox_port *p, unsigned to, const struct xmsg *m)
{
    struct mailbox_outbox *o = &p->out[to];
    if (to == p->self) /* a worker's messages to itself wait in a plain FIFO */
        return outbox_push(o, m);
    struct xring *r = ring_between(p->all, p->self, to);
    o->wake = true;
    /* Order: nothing may overtake what already waits in the overflow. */
    if (o->count == 0 && xring_push(r, m))
        return 0;
    return outbox_push(o, m);
}

bool mailbox_flush(struct mailbox_port *p)
{
    bool left = false;
    for (unsigned to = 0; to < p->all->workers; to++) {
        if (to == p->self)
            continue;
        struct mailbox_outbox *o = &p->out[to];
        struct xring *r = ring_between(p->all, p->self, to);
        while (o->count > 0 && xring_push(r, &o->items[o->head])) {
            o->head = (o->head + 1) & (o->capacity - 1);
            o->count--;
            o->wake = true;
        }
        left |= o->count > 0;
    }
    return left;
}

bool mailbox_receive(struct mailbox_port *p, unsigned from, struct xmsg *m)
{
    if (from == p->self) {
        struct mailbox_outbox *o = &p->out[from];
        if (o->count == 0)
            return false;
        *m = o->items[o->head];
        o->head = (o->head + 1) & (o->capacity - 1);
        o->count--;
        return true;
    }
    struct xring *r = ring_between(p->all, from, p->self);
    return xring_pop(r, m);
}

bool mailbox_pending(const struct mailbox_port *p)
{
    /* The consumer's half of the wake-up handshake (mailbox.h): the caller
     * has just set `idle`; this fence orders that store before the loads
     * of the rings' tails below. */
    atomic_thread_fence(memory_order_seq_cst);
    for (unsigned from = 0; from < p->all->workers; from++) {
        if (from == p->self) {
            if (p->out[from].count > 0)
                return true;
            continue;
        }
        struct xring *r = ring_between(p->all, from, p->self);
        if (xring_nonempty(r))
            return true;
    }
    return false;
}

void mailbox_wake_targets(struct mailbox_port *p, void (*wake)(void *ctx, unsigned to), void *ctx)
{
    /* The producer's half of the wake-up handshake (mailbox.h): orders this
     * batch's ring pushes before the loads of the peers' `idle` flags that
     * wake() does. */
    atomic_thread_fence(memory_order_seq_cst);
    for (unsigned to = 0; to < p->all->workers; to++) {
        if (to == p->self) {
            p->out[to].wake = false;
            continue;
        }
        if (p->out[to].wake) {
            p->out[to].wake = false;
            wake(ctx, to);
        }
    }
}

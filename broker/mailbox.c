/*
 * mailbox.c - ck_ring SPSC rings between workers, with producer-side
 * overflow (see mailbox.h).
 */
#include "mailbox.h"

#include <ck_ring.h>
#include <stdlib.h>
#include <string.h>

CK_RING_PROTOTYPE(xmsg, xmsg)

struct mailbox_ring {
    ck_ring_t ring;
    struct xmsg *slots;
    /* pad so producer and consumer indices of neighbours don't share lines */
    char pad[64];
};

/*
 * ck_ring orders its slots with ck_pr fences written in inline assembly,
 * which ThreadSanitizer cannot see; tell it about the same release/acquire
 * pairing so the stress test checks our code, not ck's.
 */
#if defined(__SANITIZE_THREAD__)
#define WSB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WSB_TSAN 1
#endif
#endif
#ifdef WSB_TSAN
#include <sanitizer/tsan_interface.h>
#define ring_released(r) __tsan_release(r)
#define ring_acquired(r) __tsan_acquire(r)
#else
#define ring_released(r) ((void)(r))
#define ring_acquired(r) ((void)(r))
#endif

static bool ring_enqueue(struct mailbox_ring *r, struct xmsg *m)
{
    ring_released(r);
    return ck_ring_enqueue_spsc_xmsg(&r->ring, r->slots, m);
}

static bool ring_dequeue(struct mailbox_ring *r, struct xmsg *m)
{
    if (!ck_ring_dequeue_spsc_xmsg(&r->ring, r->slots, m))
        return false;
    ring_acquired(r);
    return true;
}

int mailboxes_init(struct mailboxes *m, unsigned workers, unsigned entries)
{
    m->workers = workers;
    m->rings = calloc((size_t)workers * workers, sizeof(*m->rings));
    if (m->rings == NULL)
        return -1;
    for (unsigned i = 0; i < workers * workers; i++) {
        if (i / workers == i % workers)
            continue;
        m->rings[i].slots = aligned_alloc(64, sizeof(struct xmsg) * entries);
        if (m->rings[i].slots == NULL)
            return -1;
        ck_ring_init(&m->rings[i].ring, entries);
    }
    return 0;
}

void mailboxes_destroy(struct mailboxes *m)
{
    if (m->rings == NULL)
        return;
    for (unsigned i = 0; i < m->workers * m->workers; i++)
        free(m->rings[i].slots);
    free(m->rings);
    m->rings = NULL;
}

static struct mailbox_ring *ring_between(struct mailboxes *m, unsigned from, unsigned to)
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
    struct mailbox_ring *r = ring_between(p->all, p->self, to);
    o->wake = true;
    /* Order: nothing may overtake what already waits in the overflow. */
    if (o->count == 0 && ring_enqueue(r, (struct xmsg *)m))
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
        struct mailbox_ring *r = ring_between(p->all, p->self, to);
        while (o->count > 0 && ring_enqueue(r, &o->items[o->head])) {
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
    struct mailbox_ring *r = ring_between(p->all, from, p->self);
    return ring_dequeue(r, m);
}

bool mailbox_pending(const struct mailbox_port *p)
{
    for (unsigned from = 0; from < p->all->workers; from++) {
        if (from == p->self) {
            if (p->out[from].count > 0)
                return true;
            continue;
        }
        struct mailbox_ring *r = ring_between(p->all, from, p->self);
        if (ck_ring_size(&r->ring) > 0)
            return true;
    }
    return false;
}

void mailbox_wake_targets(struct mailbox_port *p, void (*wake)(void *ctx, unsigned to), void *ctx)
{
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

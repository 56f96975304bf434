/*
 * mailbox.h - the lock-free rings between workers.
 *
 * One single-producer/single-consumer ring per ordered pair of workers
 * (struct xring, xring.h: C11 atomics, release/acquire), so messages from one
 * worker to another arrive in the order they were sent. When a ring is full
 * the producer keeps the overflow in a private FIFO and retries after each
 * batch; it never blocks, so two workers can't deadlock on each other.
 *
 * A worker's messages to itself go through a plain FIFO (the outbox for its
 * own index) and are handled in the same poll as everyone else's: handlers
 * never run nested inside one another.
 *
 * Wake-up: a worker about to sleep in io_uring sets its `idle` flag, then
 * looks at its inbound rings once more; a producer that finds the flag set
 * after pushing clears it and writes the worker's eventfd. Each side puts a
 * sequentially consistent fence between its store and its load (the flag
 * then the rings; the rings then the flag), so of two racing workers at
 * least one sees the other: a push is never missed.
 */
#ifndef WSB_MAILBOX_H
#define WSB_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "xmsg.h"

struct xring;

/* All rings of a broker with `workers` workers: ring[from][to]. */
struct mailboxes {
    unsigned workers;
    struct xring *rings; /* ring[from * workers + to]; diagonal unused */
};

int mailboxes_init(struct mailboxes *m, unsigned workers, unsigned entries);
void mailboxes_destroy(struct mailboxes *m);

/* One worker's view: its outbound overflow and who needs waking. */
struct mailbox_outbox {
    struct xmsg *items; /* FIFO, power-of-two ring */
    uint32_t head, count, capacity;
    bool wake; /* pushed since the last flush */
};

struct mailbox_port {
    struct mailboxes *all;
    unsigned self;
    struct mailbox_outbox *out; /* [workers] */
};

int mailbox_port_init(struct mailbox_port *p, struct mailboxes *all, unsigned self);
void mailbox_port_destroy(struct mailbox_port *p);

/* Queues m for worker `to` (ring, else overflow). Returns -1 only when the
 * overflow cannot grow (out of memory). */
int mailbox_send(struct mailbox_port *p, unsigned to, const struct xmsg *m);

/* Moves overflow into rings where there is room. Returns a bitmask-free
 * answer: true while some overflow remains. */
bool mailbox_flush(struct mailbox_port *p);

/* Takes the next message from worker `from`. */
bool mailbox_receive(struct mailbox_port *p, unsigned from, struct xmsg *m);

/* True when some inbound ring holds messages. */
bool mailbox_pending(const struct mailbox_port *p);

/* Targets that were sent something since the last call: calls wake(to) for
 * each. */
void mailbox_wake_targets(struct mailbox_port *p, void (*wake)(void *ctx, unsigned to), void *ctx);

#endif

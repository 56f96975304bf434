/*
 * backlog.h - when a worker's fan-out is "backlogged", the signal behind
 * publisher back-pressure (docs/protocol.md 4.4, docs/ARCHITECTURE.md).
 *
 * A subscribing session is *behind* when its connection's queue passed half
 * of slow-consumer-bytes; it is caught up again below a quarter. A worker is
 * backlogged when more than half of its subscribing sessions are behind (and
 * at least BACKLOG_MIN_BEHIND of them: a single slow client never counts),
 * or when what it queued for another worker's full ring (the mailbox
 * overflow) passed that ring's size. It stops being backlogged when the
 * backlog has halved: at most a quarter behind, overflow under half a ring.
 * While any worker is backlogged, publishers are not read (router.c); one
 * slow subscriber among many gets its slow-consumer policy instead.
 *
 * Pure functions: no state, no I/O; router.c and delivery.c feed them.
 */
#ifndef WSB_BACKLOG_H
#define WSB_BACKLOG_H

#include <stdbool.h>
#include <stdint.h>

/* Fewer sessions behind than this never make a worker backlogged. */
#define BACKLOG_MIN_BEHIND 2

/* What a worker knows about its own fan-out, sampled once per loop. */
struct backlog_sample {
    unsigned subscribers; /* open sessions with at least one delivery */
    unsigned behind;      /* of those, how many are behind */
    uint64_t overflow;    /* messages in the fullest outbound overflow */
    uint64_t ring_slots;  /* slots of one worker-to-worker ring */
};

/* The next state, from the previous one (hysteresis) and a sample. */
bool backlog_next(bool backlogged, const struct backlog_sample *s);

/* A session's queue above this many bytes makes it behind... */
static inline uint64_t backlog_behind_bytes(uint64_t slow_consumer_bytes)
{
    return slow_consumer_bytes / 2;
}

/* ...and below this many it has caught up. */
static inline uint64_t backlog_caught_up_bytes(uint64_t slow_consumer_bytes)
{
    return slow_consumer_bytes / 4;
}

#endif

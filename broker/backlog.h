/*
 * backlog.h - when a worker's fan-out is "backlogged", the signal behind
 * publisher back-pressure (docs/protocol.md 4.4, docs/ARCHITECTURE.md).
 *
 * A subscribing session is *behind* while its backlog - its connection's
 * queue, plus the frames waiting behind its full manual-ack windows - is past
 * 1/16 of slow-consumer-bytes but not past slow-consumer-bytes itself: it
 * is being served late, not refusing to read. It is caught up again below
 * 1/32. Past slow-consumer-bytes it is *slow*: its slow-consumer policy
 * handles it, and it no longer counts as behind.
 *
 * A worker is backlogged when more than half of its subscribing sessions
 * are behind (and at least BACKLOG_MIN_BEHIND of them: a single slow client
 * never counts), or when what it queued for another worker's full ring (the
 * mailbox overflow) passed that ring's size. It stops being backlogged when
 * the backlog has halved: at most a quarter behind, overflow under half a
 * ring. While any worker is backlogged, publishers are not read (router.c).
 *
 * A hold never lasts: after publisher-hold-max ms backlogged, a worker
 * drops out for as long again, so publishers are read and clients that do
 * not read at all go past slow-consumer-bytes, where their policy applies.
 * A few stuck clients can slow the feed, never stop it.
 *
 * Pure functions: no state of their own, no I/O; router.c and delivery.c
 * feed them.
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

/* One worker's backlog over time: backlog_next() plus the hold limit. */
struct backlog_state {
    bool on;
    uint64_t since_ms;       /* on since */
    uint64_t cooldown_until; /* off, whatever the sample says, until then */
};

/* Updates st at now_ms; returns st->on. */
bool backlog_update(struct backlog_state *st, const struct backlog_sample *s, uint64_t now_ms,
                    uint64_t hold_max_ms);

/* The marks, as fractions of slow-consumer-bytes: low enough that 1000
 * subscribers' queues drain in a fraction of a second (default 64 KiB and
 * 32 KiB), far enough below slow-consumer-bytes that what the broker took in
 * before the publishers were held fits under it. */
#define BACKLOG_BEHIND_DIVISOR    16
#define BACKLOG_CAUGHT_UP_DIVISOR 32

/* A session's queue above this many bytes makes it behind (up to
 * slow_consumer_bytes, where it is slow)... */
static inline uint64_t backlog_behind_bytes(uint64_t slow_consumer_bytes)
{
    return slow_consumer_bytes / BACKLOG_BEHIND_DIVISOR;
}

/* ...and below this many it has caught up. */
static inline uint64_t backlog_caught_up_bytes(uint64_t slow_consumer_bytes)
{
    return slow_consumer_bytes / BACKLOG_CAUGHT_UP_DIVISOR;
}

#endif

/*
 * backlog.c - the backlogged / not backlogged decision (see backlog.h).
 */
#include "backlog.h"

bool backlog_next(bool backlogged, const struct backlog_sample *s)
{
    uint64_t behind = s->behind, subscribers = s->subscribers;
    if (!backlogged) {
        return (behind >= BACKLOG_MIN_BEHIND && 2 * behind > subscribers) ||
               s->overflow > s->ring_slots;
    }
    /* Stay on until the backlog has halved, so reads don't flap per message. */
    return (behind >= BACKLOG_MIN_BEHIND && 4 * behind > subscribers) ||
           2 * s->overflow > s->ring_slots;
}

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

bool backlog_update(struct backlog_state *st, const struct backlog_sample *s, uint64_t now_ms,
                    uint64_t hold_max_ms)
{
    if (now_ms < st->cooldown_until) {
        st->on = false;
        return false;
    }
    bool on = backlog_next(st->on, s);
    if (on && st->on && now_ms - st->since_ms >= hold_max_ms) {
        /* Held long enough: let publishers through for as long again. */
        st->cooldown_until = now_ms + hold_max_ms;
        on = false;
    }
    if (on && !st->on)
        st->since_ms = now_ms;
    st->on = on;
    return on;
}

/*
 * gather_cache.c - the per-worker table of shared gathered buffers (see
 * gather_cache.h for why and how they are matched).
 */
#include "gather_cache.h"

#include <string.h>

static struct gather_chunk *slot_of(const struct gather_cache *c, uint64_t first_uid)
{
    /* The keys are the first uids of consecutive runs, a run's frame count
     * (times the uids each publish takes) apart: often a multiple of the
     * slot count. A Fibonacci hash's top bits spread them anyway. */
    uint64_t slot = (first_uid * 0x9E3779B97F4A7C15ull) >> (64 - GATHER_CACHE_SLOTS_LOG2);
    return (struct gather_chunk *)&c->slot[slot];
}

void gather_cache_init(struct gather_cache *c)
{
    for (unsigned i = 0; i < GATHER_CACHE_SLOTS; i++)
        c->slot[i].buf = NULL;
}

void gather_cache_clear(struct gather_cache *c, struct outbuf_release_batch *batch)
{
    for (unsigned i = 0; i < GATHER_CACHE_SLOTS; i++) {
        if (c->slot[i].buf)
            outbuf_release_batched(batch, c->slot[i].buf);
        c->slot[i].buf = NULL;
    }
}

const struct gather_chunk *gather_cache_get(const struct gather_cache *c, uint64_t first_uid)
{
    const struct gather_chunk *ch = slot_of(c, first_uid);
    return ch->buf != NULL && ch->uid[0] == first_uid ? ch : NULL;
}

void gather_cache_put(struct gather_cache *c, struct outbuf *buf, const uint64_t *uid,
                      uint32_t frames, struct outbuf_release_batch *batch)
{
    struct gather_chunk *ch = slot_of(c, uid[0]);
    if (ch->buf)
        outbuf_release_batched(batch, ch->buf);
    ch->buf = outbuf_ref(buf);
    ch->frames = frames;
    memcpy(ch->uid, uid, frames * sizeof(*uid));
}

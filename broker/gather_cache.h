/*
 * gather_cache.h - gathered send buffers shared by every subscriber whose
 * queue begins with the same frames.
 *
 * In a fan-out every subscriber on a worker has the same frames queued in
 * the same order, and the ones flushed in one loop pass have the same
 * frames at their heads. send_queue_gather() would copy those bytes into a
 * fresh buffer once per subscriber; with this cache the first subscriber's
 * buffer is remembered, keyed by the uid of its first frame, and each next
 * queue that begins with exactly those frames takes a reference to it
 * instead. The kernel then copies every send from one buffer that is hot in
 * cache rather than from hundreds of cold ones.
 *
 * Only runs of whole published frames (shared, never pooled, none partly
 * sent, at most GATHER_CACHE_FRAMES) are remembered: only those can be
 * queued the same on another connection. Frames are matched by uid
 * (outbuf.h), unique to each allocation, so a buffer freed and reallocated
 * at the same address never matches; a published frame's bytes never
 * change once it is queued. Direct mapped: a new chunk replaces the one in
 * its slot. The worker empties the cache at every tick, so an idle broker
 * holds no gathered buffers and no message bytes past one tick.
 *
 * One per worker, used by that worker's thread only (and destroyed after it
 * has joined); the buffers it holds come from that worker's pool.
 */
#ifndef WSB_GATHER_CACHE_H
#define WSB_GATHER_CACHE_H

#include <stdint.h>

#include "outbuf.h"

#define GATHER_CACHE_SLOTS_LOG2 6 /* 64 slots */
#define GATHER_CACHE_SLOTS      (1u << GATHER_CACHE_SLOTS_LOG2)
#define GATHER_CACHE_FRAMES     256 /* a longer run is gathered, not shared */

struct gather_chunk {
    struct outbuf *buf; /* the gathered bytes; one reference held; NULL: empty */
    uint32_t frames;
    uint64_t uid[GATHER_CACHE_FRAMES]; /* of the frames it holds, in order */
};

struct gather_cache {
    struct gather_chunk slot[GATHER_CACHE_SLOTS];
};

void gather_cache_init(struct gather_cache *c);

/* Releases every buffer held, into batch (NULL: at once), and empties the
 * slots. Called at each tick, and before the pool the buffers came from
 * goes. */
void gather_cache_clear(struct gather_cache *c, struct outbuf_release_batch *batch);

/* The chunk whose first frame has this uid, or NULL. */
const struct gather_chunk *gather_cache_get(const struct gather_cache *c, uint64_t first_uid);

/* Remembers buf as the gathering of frames with these uids (1 to
 * GATHER_CACHE_FRAMES of them), taking a reference; the chunk in its slot,
 * if any, is released into batch. */
void gather_cache_put(struct gather_cache *c, struct outbuf *buf, const uint64_t *uid,
                      uint32_t frames, struct outbuf_release_batch *batch);

#endif

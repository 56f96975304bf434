/*
 * dedup.h - the (session, id) pairs a topic sequenced most recently, so a
 * publisher's retry is confirmed with the seq it already has instead of
 * being sequenced twice. Owned and touched only by the topic's owner worker.
 *
 * A ring of DEDUP_SLOTS entries (the oldest is overwritten) with a chained
 * index. The index keeps each slot's 32-bit hash and bucket beside its
 * chain link, in one dense array, so a lookup walks the index and reads a
 * slot only when a hash matches: a new id (the common case on every
 * publish) reads no slot. The oldest pair is overwritten without being
 * unlinked: a walk stops where a chain leads to a slot recorded since
 * (dedup.c). A pair's bucket is its
 * session's offset plus the id, so a publisher's consecutive ids take
 * consecutive buckets and each publish touches the cache lines the last one
 * did (dedup.c). As many buckets as slots keep chains at about one entry.
 */
#ifndef WSB_DEDUP_H
#define WSB_DEDUP_H

#include <stdint.h>

#define DEDUP_SLOTS 4096 /* a power of two, at most 65535 */

struct dedup;

/* NULL when out of memory (then only de-duplication is lost). About 152 KiB. */
struct dedup *dedup_create(void);
void dedup_destroy(struct dedup *d);

/* The seq recorded for (session, id), or 0 when it is not remembered
 * (seqs start at 1). */
uint64_t dedup_lookup(const struct dedup *d, uint64_t session, uint64_t id);

/* Remembers (session, id) -> seq, forgetting the oldest pair when full.
 * The caller has looked it up first: the pair is not already there. */
void dedup_record(struct dedup *d, uint64_t session, uint64_t id, uint64_t seq);

#endif

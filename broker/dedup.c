/*
 * dedup.c - the recent-publish index of a topic (see dedup.h for why the
 * hashes live in the index and not only in the slots).
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#define DEDUP_BUCKETS DEDUP_SLOTS
#define BUCKET_BITS   12 /* log2(DEDUP_BUCKETS) */
#define NONE          0xffff

_Static_assert((1u << BUCKET_BITS) == DEDUP_BUCKETS, "BUCKET_BITS must match DEDUP_BUCKETS");
_Static_assert(DEDUP_SLOTS < NONE, "slot indices are 16-bit with 0xffff for none");

struct dedup_slot {
    uint64_t session, id, seq;
};

struct dedup_link {
    uint32_t hash; /* of the slot's (session, id); its top bits pick the bucket */
    uint16_t next; /* the next slot in the same bucket, or NONE */
};

struct dedup {
    unsigned next, used;            /* the slot written next; how many are in use */
    uint16_t bucket[DEDUP_BUCKETS]; /* first slot of each bucket, or NONE */
    struct dedup_link link[DEDUP_SLOTS];
    struct dedup_slot slots[DEDUP_SLOTS];
};

/* Fibonacci hashing of a mix of both halves of the key; the top bits of
 * the product are well spread even for ids in any arithmetic progression. */
static uint32_t dedup_hash(uint64_t session, uint64_t id)
{
    uint64_t x = (id ^ (session * 0xff51afd7ed558ccdull)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}

static unsigned bucket_of(uint32_t hash)
{
    return hash >> (32 - BUCKET_BITS);
}

struct dedup *dedup_create(void)
{
    struct dedup *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    memset(d->bucket, 0xff, sizeof(d->bucket));
    d->next = d->used = 0;
    return d;
}

void dedup_destroy(struct dedup *d)
{
    free(d);
}

uint64_t dedup_lookup(const struct dedup *d, uint64_t session, uint64_t id)
{
    uint32_t hash = dedup_hash(session, id);
    for (uint16_t i = d->bucket[bucket_of(hash)]; i != NONE; i = d->link[i].next) {
        if (d->link[i].hash == hash && d->slots[i].id == id && d->slots[i].session == session)
            return d->slots[i].seq;
    }
    return 0;
}

/* Unlinks slot i (about to be overwritten) from its bucket's chain. */
static void dedup_unlink(struct dedup *d, uint16_t i)
{
    uint16_t *link = &d->bucket[bucket_of(d->link[i].hash)];
    while (*link != NONE && *link != i)
        link = &d->link[*link].next;
    if (*link == i)
        *link = d->link[i].next;
}

void dedup_record(struct dedup *d, uint64_t session, uint64_t id, uint64_t seq)
{
    uint16_t i = (uint16_t)d->next;
    if (d->used == DEDUP_SLOTS)
        dedup_unlink(d, i);
    else
        d->used++;
    uint32_t hash = dedup_hash(session, id);
    unsigned b = bucket_of(hash);
    d->slots[i] = (struct dedup_slot){session, id, seq};
    d->link[i] = (struct dedup_link){.hash = hash, .next = d->bucket[b]};
    d->bucket[b] = i;
    d->next = (d->next + 1) & (DEDUP_SLOTS - 1);
}

/*
 * dedup.c - the recent-publish index of a topic (see dedup.h for why the
 * hashes live in the index and not only in the slots).
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#define DEDUP_BUCKETS DEDUP_SLOTS
#define NONE          0xffff

_Static_assert((DEDUP_BUCKETS & (DEDUP_BUCKETS - 1)) == 0, "buckets: a power of two");
_Static_assert(DEDUP_SLOTS < NONE, "slot indices are 16-bit with 0xffff for none");

struct dedup_slot {
    uint64_t session, id, seq;
};

struct dedup_link {
    uint32_t hash;   /* of the slot's (session, id), compared before the slot is read */
    uint16_t next;   /* the next slot in the same bucket, or NONE */
    uint16_t bucket; /* the bucket it is chained in */
};

struct dedup {
    unsigned next, used;            /* the slot written next; how many are in use */
    uint64_t max_id;                /* the highest id ever recorded, of any session */
    uint16_t bucket[DEDUP_BUCKETS]; /* first slot of each bucket, or NONE */
    struct dedup_link link[DEDUP_SLOTS];
    struct dedup_slot slots[DEDUP_SLOTS];
};

/* Fibonacci hashing of a mix of both halves of the key: what a chain entry
 * is compared by before its slot is read. */
static uint32_t dedup_hash(uint64_t session, uint64_t id)
{
    uint64_t x = (id ^ (session * 0xff51afd7ed558ccdull)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}

/*
 * The bucket: the session's own offset plus the id. A publisher numbers
 * its publishes 1, 2, 3..., so its ids walk the buckets in order, as the
 * ring walks the slots: each publish touches the same few cache lines as
 * the one before, where a hashed bucket was a cache miss per publish on
 * every topic (136 KiB each: a hundred busy topics do not stay cached).
 * Sessions start at unrelated offsets; ids that share a bucket (4096
 * apart, or another session's run) only make a chain longer.
 */
static unsigned bucket_of(uint64_t session, uint64_t id)
{
    uint32_t offset = (uint32_t)((session * 0x9E3779B97F4A7C15ull) >> 32);
    return (unsigned)((offset + id) & (DEDUP_BUCKETS - 1));
}

struct dedup *dedup_create(void)
{
    struct dedup *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    memset(d->bucket, 0xff, sizeof(d->bucket));
    d->next = d->used = 0;
    d->max_id = 0;
    return d;
}

void dedup_destroy(struct dedup *d)
{
    free(d);
}

uint64_t dedup_lookup(const struct dedup *d, uint64_t session, uint64_t id)
{
    /* A publisher numbers upwards: its next id was never recorded by
     * anyone, and no index memory need be read to say so. */
    if (id > d->max_id)
        return 0;
    uint32_t hash = dedup_hash(session, id);
    for (uint16_t i = d->bucket[bucket_of(session, id)]; i != NONE; i = d->link[i].next) {
        if (d->link[i].hash == hash && d->slots[i].id == id && d->slots[i].session == session)
            return d->slots[i].seq;
    }
    return 0;
}

/* Unlinks slot i (about to be overwritten) from its bucket's chain. */
static void dedup_unlink(struct dedup *d, uint16_t i)
{
    uint16_t *link = &d->bucket[d->link[i].bucket];
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
    unsigned b = bucket_of(session, id);
    d->slots[i] = (struct dedup_slot){session, id, seq};
    d->link[i] = (struct dedup_link){
        .hash = dedup_hash(session, id), .next = d->bucket[b], .bucket = (uint16_t)b};
    d->bucket[b] = i;
    d->next = (d->next + 1) & (DEDUP_SLOTS - 1);
    if (id > d->max_id)
        d->max_id = id;
}

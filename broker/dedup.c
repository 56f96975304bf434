/*
 * dedup.c - the recent-publish index of a topic (see dedup.h for why the
 * hashes live in the index and not only in the slots).
 */
#include "dedup.h"

#include <stdbool.h>
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
    uint16_t next;   /* the slot that was its bucket's first when it was chained, or NONE */
    uint16_t bucket; /* the bucket it is chained in */
    uint16_t serial; /* when it was recorded, counted in records (mod 2^16) */
};

struct dedup {
    unsigned next;                  /* the slot written next */
    uint16_t serial;                /* records so far (mod 2^16) */
    uint64_t max_id;                /* the highest id ever recorded, of any session */
    uint16_t bucket[DEDUP_BUCKETS]; /* the slot chained in each bucket last, or NONE */
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
 * every topic (152 KiB each: a hundred busy topics do not stay cached).
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
    d->next = 0;
    d->serial = 0;
    d->max_id = 0;
    return d;
}

void dedup_destroy(struct dedup *d)
{
    free(d);
}

/*
 * Chains are never unlinked. The ring forgets its oldest pair first, so a
 * bucket's chain (newest first) holds its live pairs as a prefix: the walk
 * ends at the first slot that is no longer what was chained, which is one
 * now chained in another bucket, or one recorded again after the slot that
 * points to it. Live slots were all recorded within the last DEDUP_SLOTS
 * records, so 16-bit serials order them.
 */
static bool still_chained(const struct dedup *d, uint16_t i, unsigned b)
{
    return i != NONE && d->link[i].bucket == b;
}

static bool recorded_before(const struct dedup *d, uint16_t older, uint16_t newer)
{
    return (int16_t)(uint16_t)(d->link[newer].serial - d->link[older].serial) > 0;
}

uint64_t dedup_lookup(const struct dedup *d, uint64_t session, uint64_t id)
{
    /* A publisher numbers upwards: its next id was never recorded by
     * anyone, and no index memory need be read to say so. */
    if (id > d->max_id)
        return 0;
    uint32_t hash = dedup_hash(session, id);
    unsigned b = bucket_of(session, id);
    uint16_t i = d->bucket[b];
    if (!still_chained(d, i, b))
        return 0;
    for (;;) {
        if (d->link[i].hash == hash && d->slots[i].id == id && d->slots[i].session == session)
            return d->slots[i].seq;
        uint16_t next = d->link[i].next;
        if (!still_chained(d, next, b) || !recorded_before(d, next, i))
            return 0;
        i = next;
    }
}

/* Writes only the slot, its link and its bucket's head: for a publisher
 * numbering upwards all three are next to what the last publish wrote.
 * The pair overwritten is not unlinked (see above). */
void dedup_record(struct dedup *d, uint64_t session, uint64_t id, uint64_t seq)
{
    uint16_t i = (uint16_t)d->next;
    unsigned b = bucket_of(session, id);
    d->slots[i] = (struct dedup_slot){session, id, seq};
    d->link[i] = (struct dedup_link){.hash = dedup_hash(session, id),
                                     .next = d->bucket[b],
                                     .bucket = (uint16_t)b,
                                     .serial = d->serial};
    d->bucket[b] = i;
    d->serial++;
    d->next = (d->next + 1) & (DEDUP_SLOTS - 1);
    if (id > d->max_id)
        d->max_id = id;
}

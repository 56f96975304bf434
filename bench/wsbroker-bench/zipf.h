/*
 * zipf.h - Zipf-distributed choices for the market-data scenario: symbol k
 * (0-based rank) is picked with probability proportional to 1 / (k + 1)^s.
 *
 * A lookup table of ZIPF_TABLE entries (the inverse CDF sampled at
 * (j + 0.5) / ZIPF_TABLE) turns a key into a rank with one hash and one
 * load. The choice is a pure function of the key, so a publisher and the
 * thread that reads its confirms agree on a message's symbol without
 * remembering it, and runs are repeatable.
 */
#ifndef WSB_BENCH_ZIPF_H
#define WSB_BENCH_ZIPF_H

#include <stdbool.h>
#include <stdint.h>

#define ZIPF_TABLE 65536u /* probability resolution 1 / 65536 */

struct zipf {
    uint32_t *rank; /* ZIPF_TABLE entries; owned, freed by zipf_free */
    uint32_t n;
};

/* Builds the table for n ranks and exponent s > 0. False when out of memory. */
bool zipf_init(struct zipf *z, uint32_t n, double s);

/* The rank (0..n-1) chosen for key. */
uint32_t zipf_pick(const struct zipf *z, uint64_t key);

void zipf_free(struct zipf *z);

#endif

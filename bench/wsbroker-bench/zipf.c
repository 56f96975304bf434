/*
 * zipf.c - the inverse-CDF table behind zipf_pick (see zipf.h).
 */
#include "zipf.h"

#include <math.h>
#include <stdlib.h>

/* splitmix64's finaliser: consecutive keys land on unrelated table slots. */
static uint64_t mix_key(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

bool zipf_init(struct zipf *z, uint32_t n, double s)
{
    z->n = n;
    z->rank = malloc(ZIPF_TABLE * sizeof *z->rank);
    if (z->rank == NULL || n == 0)
        return false;
    double total = 0;
    for (uint32_t k = 0; k < n; k++)
        total += pow((double)k + 1, -s);
    double cdf = pow(1.0, -s) / total; /* P(rank <= k) */
    uint32_t k = 0;
    for (uint32_t j = 0; j < ZIPF_TABLE; j++) {
        double u = ((double)j + 0.5) / ZIPF_TABLE;
        while (cdf < u && k + 1 < n) {
            k++;
            cdf += pow((double)k + 1, -s) / total;
        }
        z->rank[j] = k;
    }
    return true;
}

uint32_t zipf_pick(const struct zipf *z, uint64_t key)
{
    return z->rank[mix_key(key) % ZIPF_TABLE];
}

void zipf_free(struct zipf *z)
{
    free(z->rank);
    z->rank = NULL;
}

/*
 * token_bucket.h - the per-connection publish rate limit (--publish-rate,
 * --publish-burst): a bucket of `burst` tokens refilled at `rate` per
 * second; each publish takes one, and a publish that finds the bucket
 * empty is refused. Owned by one session, touched on its worker only.
 */
#ifndef WSB_TOKEN_BUCKET_H
#define WSB_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct token_bucket {
    uint64_t millitokens; /* tokens x 1000, so refills stay integral */
    uint64_t refilled_ms; /* when millitokens was last brought up to date */
    bool started;
};

/* Takes one token at now_ms under rate/s and burst (0: burst = rate).
 * rate 0 means no limit: always true. */
bool token_bucket_take(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms);

#endif

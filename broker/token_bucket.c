/*
 * token_bucket.c - see token_bucket.h. Rate and burst are passed on every
 * call, so a SIGHUP that changes them applies to open connections at once.
 */
#include "token_bucket.h"

bool token_bucket_take(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
    if (rate == 0)
        return true;
    uint64_t cap = (burst ? burst : rate) * 1000;
    if (!b->started) { /* a new connection starts with a full bucket */
        b->started = true;
        b->millitokens = cap;
    } else if (now_ms > b->refilled_ms) {
        uint64_t add = (now_ms - b->refilled_ms) * rate; /* ms x tokens/s = millitokens */
        b->millitokens = add >= cap || b->millitokens + add >= cap ? cap : b->millitokens + add;
    }
    b->refilled_ms = now_ms;
    if (b->millitokens > cap)
        b->millitokens = cap;
    if (b->millitokens < 1000)
        return false;
    b->millitokens -= 1000;
    return true;
}

/*
 * auth_rights.h - what one authenticated client may do: the topic patterns
 * it may publish to and subscribe to (docs/configuration.md,
 * "Authorisation"), and when its token expires.
 *
 * Rights are immutable once built. Built ones are heap copies owned by one
 * session (auth_rights_free at close); the three fixed ones (everything,
 * read-only, nothing) are static and freeing them is a no-op, so a session
 * never needs to know which kind it holds.
 */
#ifndef WSB_AUTH_RIGHTS_H
#define WSB_AUTH_RIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "ws_str.h"

struct auth_rights {
    bool is_static;
    int64_t expires; /* seconds since the epoch; 0: never */
    unsigned pub_count, sub_count;
    const struct ws_str *pub, *sub; /* valid patterns */
};

/* Development mode: publish and subscribe anything. */
extern const struct auth_rights auth_rights_all;
/* anonymous = read: subscribe anything, publish nothing. */
extern const struct auth_rights auth_rights_read;

/*
 * One allocation holding copies of the patterns (which the caller has
 * checked with topic_classify). Returns NULL when out of memory.
 */
struct auth_rights *auth_rights_build(const struct ws_str *pub, unsigned pub_count,
                                      const struct ws_str *sub, unsigned sub_count,
                                      int64_t expires);
/* An owned copy of r (a static r is returned as is). */
struct auth_rights *auth_rights_copy(const struct auth_rights *r);
void auth_rights_free(const struct auth_rights *r);

/* A publish to topic (exact) is allowed when some pub pattern matches it. */
bool auth_may_publish(const struct auth_rights *r, struct ws_str topic);

/*
 * A subscription to topic_or_pattern (and a replay of a topic) is allowed
 * when one sub pattern covers it: every topic it can match is matched by
 * that one granted pattern (topic_pattern_covers). A request that only a
 * union of several grants would cover is refused.
 */
bool auth_may_subscribe(const struct auth_rights *r, struct ws_str topic_or_pattern);

#endif

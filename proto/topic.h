/*
 * topic.h - topic names and NATS-style patterns (docs/protocol.md section 3).
 *
 * A topic is tokens separated by '.'; a pattern may use '*' (exactly one
 * token) and, as its last token, '>' (one or more tokens). Pure functions.
 */
#ifndef WSB_TOPIC_H
#define WSB_TOPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "ws_str.h"

#define WSB_TOPIC_MAX_BYTES  255
#define WSB_TOPIC_MAX_TOKENS 32

enum topic_kind { TOPIC_INVALID, TOPIC_EXACT, TOPIC_PATTERN };

/* Whether s is a valid topic, a valid pattern (has a wildcard), or neither. */
enum topic_kind topic_classify(struct ws_str s);

/* True when topic (exact) matches pattern (exact or wildcard); both are
 * assumed valid. An exact pattern matches only the identical topic. */
bool topic_matches(struct ws_str pattern, struct ws_str topic);

/*
 * True when every topic that `inner` (a topic or pattern) can match is also
 * matched by `outer` (a topic or pattern): authorisation of a subscription
 * to a pattern, and the per-pattern defaults. Token by token: outer `>`
 * covers one or more remaining tokens of any kind; outer `*` covers one
 * literal or `*` token (not `>`, which may stand for several); a literal
 * covers only the same literal. Both are assumed valid (topic_classify).
 */
bool topic_pattern_covers(struct ws_str outer, struct ws_str inner);

/* A stable 64-bit hash of a topic (FNV-1a), used to pick its owner worker. */
uint64_t topic_hash(struct ws_str topic);

#endif

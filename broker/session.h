/*
 * session.h - the /v1 pub/sub endpoint: one session per connection, its
 * subscriptions, and their deliveries (docs/protocol.md).
 *
 * A session turns request envelopes into router calls and router answers
 * into envelopes. Everything here is owned by the connection's worker and
 * touched only on its thread; owners hold pointers to sessions and
 * subscriptions only as opaque return addresses (xmsg.h).
 *
 * Lifetime: a session lives while its connection is open, and after that
 * while owners still owe it answers (confirms, replays, unsubscribe acks):
 * `refs` counts the connection and each of those.
 */
#ifndef WSB_SESSION_H
#define WSB_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "outbuf.h"
#include "route.h"
#include "token_bucket.h"

struct conn;
struct topic;
struct delivery;

struct subscription {
    struct session *session;
    /* immutable once sent to owners */
    char *topic; /* as subscribed: a topic or a pattern, NUL-terminated */
    size_t topic_len;
    bool pattern;
    bool has_id;
    uint64_t id;
    bool has_from;
    uint64_t from;
    bool snapshot;
    enum wsb_ack_mode ack;
    uint32_t window;
    enum wsb_policy policy;
    /* the subscriber's worker only */
    unsigned owners_registering; /* pattern: owners yet to answer X_REGISTERED */
    unsigned owners_pending;     /* owners yet to answer X_UNSUBSCRIBED */
    bool closing;
    struct delivery *deliveries; /* one per attached topic */
    struct subscription *next;   /* in the session */
};

struct session {
    struct conn *conn; /* NULL once the connection has closed */
    struct worker *worker;
    uint64_t id;     /* the protocol's session id (may be resumed by a client) */
    uint64_t serial; /* unique on its worker, never reused */
    bool hello_done;
    unsigned errors;
    unsigned refs;
    unsigned sub_count;
    struct subscription *subs;
    struct delivery *stalled; /* deliveries waiting for the send queue to drain */
    /* What this client may do (auth_rights.h), owned; NULL: nothing yet
     * (anonymous access off and no token so far). */
    const struct auth_rights *rights;
    struct token_bucket publish_budget; /* publish-rate */
    /* publisher back-pressure (backlog.h, router.h) */
    unsigned delivery_count; /* deliveries over all subscriptions */
    uint64_t waiting_bytes;  /* frames waiting behind full manual-ack windows */
    bool behind;             /* counted in the router's behind */
    bool held;               /* on the router's held list: not read */
    struct session *next_held;
};

extern const struct route pubsub_route;

/* --- called by the router (subscriber side) --------------------------- */

void session_on_confirm(struct session *s, uint64_t id, const struct topic *t, uint64_t seq,
                        enum wsb_err code);
/* A fire-and-forget publish was refused; the session, found by its serial,
 * may be gone. */
void session_on_publish_error(struct worker *w, uint64_t serial, bool has_id, uint64_t id,
                              enum wsb_err code);
void session_on_attach(struct subscription *sub, struct topic *t, uint64_t head, uint64_t oldest);
void session_on_registered(struct subscription *sub);
void session_on_unsubscribed(struct subscription *sub);
/* Answers to a replay request. */
void session_on_replay_frame(struct session *s, struct outbuf *frame);
void session_on_replay_gap(struct session *s, const struct topic *t, uint64_t from, uint64_t to);
void session_on_replay_done(struct session *s, void *replay, uint64_t to, uint64_t count);
/* Sends a gap envelope for topic t. */
void session_send_gap(struct session *s, const struct topic *t, uint64_t from, uint64_t to);

#endif

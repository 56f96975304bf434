/*
 * router.h - topics, sequencing and fan-out across workers.
 *
 * Every topic has an owner worker, chosen by hashing its name. The owner
 * alone sequences the topic's messages, keeps its retention log and knows
 * which subscriptions (on which workers) are attached to it. A worker that
 * receives a publish builds the outbound frame once and hands it to the
 * owner; the owner stamps seq and ts into it, appends it to the log and
 * passes one reference to each worker that has subscribers for the topic,
 * which writes it to its local subscribers. Workers talk only through the
 * SPSC mailboxes (mailbox.h); there is no lock on the message path.
 *
 * Both roles live in struct router, one per worker: the owner side (topics,
 * patterns) and the subscriber side (local topics and their deliveries).
 */
#ifndef WSB_ROUTER_H
#define WSB_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "backlog.h"
#include "config.h"
#include "mailbox.h"
#include "topic_log.h"
#include "outbuf.h"
#include "ws_str.h"

struct worker;
struct session;
struct subscription;
struct local_topic;

/* A topic, owned by its owner worker (see xmsg.h for who may read what). */
struct topic {
    char *name; /* immutable, NUL-terminated */
    size_t name_len;
    uint64_t head; /* last seq, 0 before the first message */
    struct topic_log log;
    struct attachment *att; /* subscriptions attached, with their worker */
    unsigned att_count, att_cap;
    /* [workers]: the frame references the attachments from each worker
     * take per message, one each and two with manual acks (0: none there);
     * fan_out() adds them for the subscribers' workers
     * (outbuf_prepay_adopt) */
    uint32_t *worker_takes;
    struct dedup *dedup; /* recent (session, id) -> seq, lazily allocated */
    struct topic *hash_next;
};

struct pattern_reg; /* a pattern subscription registered with an owner */

/* A replay request: made by the session's worker, read (immutable) by the
 * owner, freed by the session's worker after X_REPLAY_DONE. */
struct replay_req {
    struct session *session;
    bool has_id;
    uint64_t id;
    uint64_t from, to;
    size_t topic_len;
    char topic[];
};

/* Live messages of one topic offered in one pass over its subscribers. */
#define ROUTER_DELIVER_BATCH 32

struct router {
    struct worker *worker;
    const struct broker_config *cfg;
    atomic_uint_fast64_t *topic_total; /* topics over all workers (max-topics) */
    unsigned self, workers;
    struct mailbox_port port;

    /* owner side */
    struct topic **topics;
    size_t topic_buckets, topic_count;
    struct pattern_reg *patterns;

    /* subscriber side */
    struct local_topic **locals;
    size_t local_buckets, local_count;

    /* publisher back-pressure (backlog.h), this worker's part */
    unsigned subscribers;         /* open sessions with at least one delivery here */
    unsigned behind;              /* of those, the ones behind (delivery.c keeps both) */
    struct backlog_state backlog; /* on: counted in broker.backlogged_workers */
    struct session *held;         /* publishers not read until no worker is backlogged */

    /* Consecutive X_DELIVERs of one topic, offered together subscriber
     * by subscriber (router_poll); and the references prepaid for them,
     * one per frame, with the one for the frame being offered (NULL: no
     * fan-out in progress; delivery.c). */
    struct deliver_batch {
        struct topic *topic;
        unsigned count;
        struct outbuf *frame[ROUTER_DELIVER_BATCH];
        uint64_t seq[ROUTER_DELIVER_BATCH];
        uint32_t paid[ROUTER_DELIVER_BATCH]; /* references the owner added for us */
    } batch;
    struct outbuf_prepaid prepaid[ROUTER_DELIVER_BATCH];
    struct outbuf_prepaid *prepaid_now;
};

int router_init(struct router *r, struct worker *w, struct mailboxes *boxes,
                atomic_uint_fast64_t *topic_total);
void router_destroy(struct router *r);

/* The worker that owns a topic. */
unsigned router_owner_of(const struct router *r, struct ws_str topic);

/*
 * Publishes data (raw msgpack) to topic on behalf of session. The frame is
 * encoded here, once; the owner sequences it. With XMSG_CONFIRM in flags the
 * session gets session_on_confirm() later. Returns 0, or -1 when out of
 * memory (nothing was sent).
 */
int router_publish(struct router *r, struct session *s, struct ws_str topic, struct ws_str data,
                   uint64_t id, unsigned flags);

/* Sends a new subscription to its owner (exact) or every worker (pattern). */
void router_subscribe(struct router *r, struct subscription *sub);

/* Detaches a subscription everywhere; it is freed once every owner has
 * answered (session_on_unsubscribed). */
void router_unsubscribe(struct router *r, struct subscription *sub);

/* Asks topic's owner for retained messages from..to for session. */
int router_replay(struct router *r, struct session *s, struct ws_str topic, uint64_t from,
                  uint64_t to, bool has_id, uint64_t id);

/* Handles every message waiting in the inbound mailboxes. */
void router_poll(struct router *r);

/* Moves outbound overflow into rings and wakes the workers sent to. */
void router_flush(struct router *r);

/* True when there is inbound or outbound work pending. */
bool router_busy(const struct router *r);

/* The subscriber side's entry for topic t; created on demand when create. */
struct local_topic *router_local_topic(struct router *r, struct topic *t, bool create);
/* Forgets a local topic that has no deliveries left. */
void router_local_topic_drop(struct router *r, struct local_topic *lt);

/* Publisher back-pressure: true while some worker's fan-out is backlogged;
 * a session that publishes then is held (router_hold_publisher). */
bool router_publishers_wait(const struct router *r);
/* Stops reading s's connection until no worker is backlogged any more. */
void router_hold_publisher(struct router *r, struct session *s);
/* s's connection is closing: it is no longer held. */
void router_forget_publisher(struct router *r, struct session *s);

/* The worker's tick: drops expired retention entries, and trims the
 * manual-ack sent logs of the local topics (local_topic_on_tick). */
void router_on_tick(struct router *r, uint64_t now_ms);

#endif

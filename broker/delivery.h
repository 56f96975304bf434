/*
 * delivery.h - how one subscription receives one topic, on the
 * subscriber's worker: duplicate filtering by seq, the slow-consumer
 * policies, and for manual acks the in-flight window, the queue behind it
 * and retransmission with exponential backoff (docs/protocol.md 4.5, 4.6).
 *
 * Frames are shared: a delivery holds references to the very frame the
 * owner sequenced, never a copy; only a retransmission (`re: true`) makes a
 * new frame.
 */
#ifndef WSB_DELIVERY_H
#define WSB_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "msg_ring.h"
#include "outbuf.h"
#include "session.h"

struct router;

/* Manual acks in step: `count` messages from seq `from` that were sent
 * later than they were offered (they waited), due at due_ms (32 bits, as
 * in msg_ring.h). */
struct sent_span {
    uint64_t from;
    uint32_t count;
    uint32_t due_ms;
};

struct span_ring {
    struct sent_span *items; /* capacity a power of two */
    uint32_t capacity, head, count;
};

struct delivery {
    struct subscription *sub;
    struct local_topic *lt;
    struct delivery *next_in_sub;
    struct delivery *next_in_topic, *prev_in_topic;
    uint64_t next_seq;         /* lower seqs are duplicates */
    uint64_t gap_from, gap_to; /* dropped, not yet announced (0: none) */
    struct outbuf *conflated;  /* conflate: the newest message held back */
    struct msg_ring unacked;   /* manual: sent, not acked (<= window) */
    uint64_t unacked_due_ms;   /* manual: no unacked message is due before */
    struct msg_ring waiting;   /* manual: beyond the window (<= sub-queue) */
    /* Manual, in step (delivery.c): the seqs unacked_from .. sent_to - 1
     * are sent and unacked, sent_to .. next_seq - 1 wait; their frames are
     * in the local topic's sent log and both rings are empty. */
    uint64_t unacked_from, sent_to;
    struct span_ring spans; /* of the unacked, those sent after waiting */
    bool in_step;
    bool stalled; /* on the session's stalled list */
    struct delivery *next_stalled;
};

/* Local topics: the subscriber side's index from a topic to its deliveries. */
struct local_topic {
    struct topic *key;
    struct delivery *deliveries;
    uint32_t count;  /* of deliveries */
    uint32_t manual; /* of them, with manual acks (paid two references per frame) */
    /* Manual acks: the frames sent to the deliveries in step, oldest first,
     * each with its first due time, one reference and those banked for
     * the deliveries that have it waiting (delivery.c). */
    struct msg_ring sent;
    uint64_t sent_first; /* the seq of its oldest entry */
    uint32_t in_step;    /* of the deliveries */
    struct local_topic *hash_next;
};

/* Attaches sub to topic t (head: the topic's last seq when attached). */
struct delivery *delivery_create(struct router *r, struct subscription *sub, struct topic *t,
                                 uint64_t head);
void delivery_destroy(struct router *r, struct delivery *d);

/* The worker's tick: the local topic's sent log gives back what no
 * delivery in step needs any more (a topic gone quiet keeps nothing). */
void local_topic_on_tick(struct local_topic *lt, struct outbuf_release_batch *batch);
/* Releases what the local topic's sent log holds (it is being freed). */
void local_topic_clear(struct local_topic *lt);

/* The delivery of sub for topic t, or NULL. */
struct delivery *subscription_delivery(struct subscription *sub, const struct topic *t);

/* A frame for one delivery: live, or backfill (replayed on resume, or the
 * snapshot), which the slow-consumer policy never drops. */
void delivery_offer(struct delivery *d, struct outbuf *frame, uint64_t seq, bool backfill);
/* Offers n live messages of a local topic (in seq order, n <=
 * ROUTER_DELIVER_BATCH) to every delivery of it, one delivery at a time.
 * paid[k]: references to frame[k] the owner added for them (fan_out). */
void local_topic_deliver(struct router *r, struct local_topic *lt, struct outbuf *const *frame,
                         const uint64_t *seq, const uint32_t *paid, unsigned n);
/* The owner could not supply from..to (no longer retained). */
void delivery_on_gap(struct delivery *d, uint64_t from, uint64_t to);
/* Manual ack: everything up to seq. */
void delivery_ack(struct delivery *d, uint64_t seq);
/* Manual ack: resends what is due. */
void delivery_retransmit_due(struct delivery *d, uint64_t now_ms);
/* The connection can take more: flush what slow consumers held back. */
void delivery_resume_stalled(struct session *s);
/* The connection is gone: nothing more will be flushed, and the session
 * no longer counts for publisher back-pressure. */
void delivery_on_session_closed(struct session *s);

#endif

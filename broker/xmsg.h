/*
 * xmsg.h - the messages workers send each other through their SPSC rings.
 *
 * Fixed-size values copied into the ring (no allocation per message). Every
 * pointer in one names an object whose owner and lifetime are stated here:
 *   - struct topic: owned by its owner worker, never freed before shutdown;
 *     its name is immutable, so any worker may read it.
 *   - struct subscription: owned by the subscriber's worker; its pattern and
 *     options are immutable after creation, so an owner may read them; it is
 *     freed only after every owner it was sent to answered X_UNSUBSCRIBED.
 *   - struct session: owned by its connection's worker; only that worker
 *     touches it. Owners pass it back untouched (confirms, replays) and it is
 *     kept alive while such answers are outstanding.
 *   - frame: a shared outbuf; the message carries one reference.
 */
#ifndef WSB_XMSG_H
#define WSB_XMSG_H

#include <stdint.h>

#include "msg_template.h"

struct topic;
struct subscription;
struct session;
struct outbuf;

enum xmsg_kind {
    /* subscriber's / publisher's worker -> topic owner */
    X_PUBLISH,     /* frame, session (serial in u1, id in u2), client id, flags; tmpl */
    X_SUBSCRIBE,   /* sub (pattern or topic inside it) */
    X_UNSUBSCRIBE, /* sub */
    X_REPLAY,      /* replay: a heap request, answered with X_REPLAY_DONE */
    /* topic owner -> subscriber's / publisher's worker */
    X_CONFIRM,      /* session (XMSG_CONFIRM) or its serial (u2), id, topic, seq (u1);
                       code != 0: refused */
    X_ATTACH,       /* sub, topic, head (u1), oldest (u2); topic NULL: refused */
    X_DELIVER,      /* topic, frame, seq (u1): to every local delivery of topic;
                       carries 1 + u2 references to frame (router.c fan_out) */
    X_DELIVER_ONE,  /* sub, topic, frame, seq (u1): to one subscription (replay, snapshot) */
    X_GAP,          /* sub, topic, from (u1), to (u2) */
    X_REGISTERED,   /* sub: a pattern is registered (existing matches attached) */
    X_UNSUBSCRIBED, /* sub: this owner holds no more references to it */
    X_REPLAY_MSG,   /* replay, frame */
    X_REPLAY_DONE,  /* replay, u1 = count */
};

#define XMSG_CONFIRM 0x1 /* X_PUBLISH: answer with X_CONFIRM */
#define XMSG_HAS_ID  0x2 /* X_PUBLISH: id is set (de-duplication) */

struct xmsg {
    uint8_t kind;
    uint8_t flags;
    uint16_t from_worker;
    uint16_t code; /* X_CONFIRM: 0, or the wsb_err of a reject */
    struct topic *topic;
    struct subscription *sub;
    struct session *session;
    struct outbuf *frame;
    void *replay;
    uint64_t id;
    uint64_t u1, u2;
    struct wsb_msg_template tmpl;
};

#endif

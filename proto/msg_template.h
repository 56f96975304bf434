/*
 * msg_template.h - the `msg` envelope built before its seq is known.
 *
 * A publish is encoded once, on the worker that received it, into the frame
 * every subscriber will get; seq and ts are written as fixed-width msgpack
 * uint64 (0xcf + 8 bytes), so the topic's owner can stamp them in place when
 * it sequences the message, without re-encoding. Field order: op, topic, seq,
 * ts, data (docs/protocol.md, `msg`).
 */
#ifndef WSB_MSG_TEMPLATE_H
#define WSB_MSG_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_str.h"

struct wsb_msg_template {
    uint32_t len;          /* envelope bytes */
    uint32_t seq_offset;   /* of the 8 seq bytes */
    uint32_t ts_offset;    /* of the 8 ts bytes */
    uint32_t topic_offset; /* of the topic's bytes */
    uint32_t topic_len;
};

/* Bytes the envelope takes (topic <= 255 bytes). */
size_t wsb_msg_template_size(size_t topic_len, size_t data_len);

/* Writes the envelope with seq = ts = 0. data is raw msgpack. Returns 0, or
 * -1 when cap is too small or the topic is longer than 255 bytes. */
int wsb_msg_template_write(uint8_t *out, size_t cap, struct ws_str topic, struct ws_str data,
                           struct wsb_msg_template *t);

/* Writes seq and ts into an envelope made by wsb_msg_template_write. */
void wsb_msg_stamp(uint8_t *envelope, const struct wsb_msg_template *t, uint64_t seq, uint64_t ts);

/* Reads back the seq stamped into an envelope. */
uint64_t wsb_msg_stamped_seq(const uint8_t *envelope, const struct wsb_msg_template *t);

/* The fields of an envelope read back by wsb_msg_template_parse. */
struct wsb_msg_view {
    struct ws_str topic, data; /* views into the envelope; data is raw msgpack */
    uint64_t seq, ts;
    bool redelivered;
};

/* Reads an envelope laid out exactly as wsb_msg_template_write or
 * wsb_msg_write_redelivery write it (what the broker sends for every
 * message), checking every byte it relies on and that data is one
 * well-formed msgpack value ending where the envelope does. Returns false
 * for anything else, which the general decoder (wsb_event_decode) then
 * judges: this is its fast path, not a second grammar. */
bool wsb_msg_template_parse(const uint8_t *buf, size_t len, struct wsb_msg_view *v);

/* Writes the retransmission of a template envelope: the same map plus
 * `re: true`. Returns its length (len + 4), or 0 if cap is too small. */
size_t wsb_msg_write_redelivery(uint8_t *out, size_t cap, const uint8_t *envelope, size_t len);

#endif

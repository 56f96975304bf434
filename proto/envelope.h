/*
 * envelope.h - the msgpack envelopes of docs/protocol.md, both directions.
 *
 * Decoding is zero-copy: every string, and a publish's `data` value, comes
 * back as a view into the caller's buffer (data as its raw msgpack bytes, so
 * the broker forwards it byte for byte). Decoding validates everything the
 * spec requires of a request - types, required fields, topic grammar,
 * ranges - and names the failure with a stable enum wsb_err.
 *
 * Encoding writes complete envelopes into a caller's buffer; each encoder
 * returns the length written, or 0 when cap is too small.
 *
 * Client-side counterparts (encode requests, decode broker envelopes) are
 * here too, for the C client, the tools and the bench.
 */
#ifndef WSB_ENVELOPE_H
#define WSB_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_str.h"

#define WSB_PROTOCOL_VERSION 1
#define WSB_SUBPROTOCOL      "wsbroker.v1"
#define WSB_DEFAULT_WINDOW   1000
#define WSB_NAME_MAX_BYTES   64

/* Stable error codes (docs/protocol.md section 5). */
enum wsb_err {
    WSB_OK = 0,
    WSB_ERR_BAD_ENVELOPE = 1,
    WSB_ERR_TEXT_MESSAGE = 2,
    WSB_ERR_UNKNOWN_OP = 3,
    WSB_ERR_MISSING_FIELD = 4,
    WSB_ERR_BAD_FIELD = 5,
    WSB_ERR_TOO_LARGE = 6,
    WSB_ERR_BAD_TOPIC = 7,
    WSB_ERR_NOT_SUBSCRIBED = 8,
    WSB_ERR_TOO_MANY_SUBSCRIPTIONS = 9,
    WSB_ERR_HELLO_REQUIRED = 10,
    WSB_ERR_UNSUPPORTED_VERSION = 11,
    WSB_ERR_BAD_RANGE = 12,
    WSB_ERR_ALREADY_SUBSCRIBED = 13,
    WSB_ERR_DUPLICATE_HELLO = 14,
    WSB_ERR_NOT_PERMITTED = 15,
    WSB_ERR_OVERLOADED = 16,
    WSB_ERR_RATE_LIMITED = 17, /* over publish-rate */
    WSB_ERR_AUTH_FAILED = 18,  /* hello token invalid, or none and anonymous off */
};

/* "bad_envelope", ... ; "unknown" for a value outside the enum. */
const char *wsb_err_name(enum wsb_err err);

enum wsb_op {
    WSB_OP_HELLO = 1,
    WSB_OP_SUB,
    WSB_OP_UNSUB,
    WSB_OP_PUB,
    WSB_OP_ACK,
    WSB_OP_REPLAY,
    WSB_OP_PING
};
enum wsb_ack_mode { WSB_ACK_NONE = 0, WSB_ACK_MANUAL = 1 };
enum wsb_policy { WSB_POLICY_DROP = 0, WSB_POLICY_DISCONNECT = 1, WSB_POLICY_CONFLATE = 2 };

/* Defaults of struct wsb_limits (used where limits is NULL). */
#define WSB_DEFAULT_MAX_ENVELOPE      (1024 * 1024)
#define WSB_DEFAULT_MAX_TOPIC         255
#define WSB_DEFAULT_MAX_SUBSCRIPTIONS 1000
#define WSB_DEFAULT_MAX_WINDOW        65536

/* The key of the `error` envelope's "op it refers to": the table in
 * docs/protocol.md calls it `op`, which would collide with the envelope's
 * own `op` key in the same map. */
#define WSB_ERROR_OP_KEY "ref_op"

/* Limits the decoder enforces and `welcome` announces. */
struct wsb_limits {
    uint64_t max_envelope;      /* bytes; larger -> WSB_ERR_TOO_LARGE */
    uint64_t max_topic;         /* bytes, <= WSB_TOPIC_MAX_BYTES */
    uint64_t max_subscriptions; /* per connection */
    uint64_t max_window;        /* largest sub.window */
};

/* A decoded client request; fields not used by op are zero. Views point into
 * the decoded buffer. */
struct wsb_request {
    enum wsb_op op;
    bool has_id;
    uint64_t id;
    struct ws_str topic; /* sub/unsub: topic or pattern; pub/ack/replay: topic */
    /* hello */
    uint64_t version;
    struct ws_str name, token, session; /* absent: ptr NULL */
    /* sub */
    bool has_from;
    uint64_t from; /* sub: resume point; replay: first seq */
    enum wsb_ack_mode ack;
    uint64_t window; /* WSB_DEFAULT_WINDOW when absent */
    bool snapshot;
    enum wsb_policy policy;
    bool has_policy; /* policy was given (else a configured default applies) */
    /* pub */
    struct ws_str data; /* raw msgpack bytes of the value */
    bool confirm;
    /* ack */
    uint64_t seq;
    /* replay */
    bool has_to;
    uint64_t to;
};

/* Why a request was refused, with what could be read of it (for the error
 * envelope's ref and op). */
struct wsb_decode_error {
    enum wsb_err code;
    const char *text; /* static, names the field: "missing field 'topic'" */
    bool has_id;
    uint64_t id;
    struct ws_str op; /* the op string if it could be read */
};

/* Decodes one client envelope. Returns WSB_OK and fills req, or an error
 * code and fills err. */
enum wsb_err wsb_request_decode(const uint8_t *buf, size_t len, const struct wsb_limits *limits,
                                struct wsb_request *req, struct wsb_decode_error *err);

/* --- broker -> client encoders ---------------------------------------- */

/* Upper bound of wsb_encode_msg's output for these sizes. */
size_t wsb_msg_size_bound(size_t topic_len, size_t data_len);

size_t wsb_encode_msg(uint8_t *out, size_t cap, struct ws_str topic, uint64_t seq, uint64_t ts_ns,
                      struct ws_str data, bool redelivered);
size_t wsb_encode_welcome(uint8_t *out, size_t cap, struct ws_str session,
                          const struct wsb_limits *limits);
/* match absent (ptr NULL): the pattern-level confirmation, without match,
 * head and oldest. */
size_t wsb_encode_subscribed(uint8_t *out, size_t cap, bool has_id, uint64_t id,
                             struct ws_str topic, struct ws_str match, uint64_t head,
                             uint64_t oldest);
size_t wsb_encode_confirm(uint8_t *out, size_t cap, uint64_t id, struct ws_str topic, uint64_t seq);
size_t wsb_encode_reject(uint8_t *out, size_t cap, bool has_id, uint64_t id, enum wsb_err code,
                         const char *reason);
size_t wsb_encode_gap(uint8_t *out, size_t cap, struct ws_str topic, uint64_t from, uint64_t to);
size_t wsb_encode_replayed(uint8_t *out, size_t cap, bool has_id, uint64_t id, struct ws_str topic,
                           uint64_t from, uint64_t to, uint64_t count);
/* op may be absent (ptr NULL). */
size_t wsb_encode_error(uint8_t *out, size_t cap, enum wsb_err code, const char *text, bool has_id,
                        uint64_t id, struct ws_str op);
size_t wsb_encode_pong(uint8_t *out, size_t cap, bool has_id, uint64_t id);

/* --- client side -------------------------------------------------------- */

/* Encodes a request (the inverse of wsb_request_decode; fields the op does
 * not use are ignored, optional ones written only when set/non-default). */
size_t wsb_request_encode(uint8_t *out, size_t cap, const struct wsb_request *req);

enum wsb_event_kind {
    WSB_EV_WELCOME = 1,
    WSB_EV_SUBSCRIBED,
    WSB_EV_MSG,
    WSB_EV_CONFIRM,
    WSB_EV_REJECT,
    WSB_EV_GAP,
    WSB_EV_REPLAYED,
    WSB_EV_ERROR,
    WSB_EV_PONG
};

/* A decoded broker envelope; views into the buffer. */
struct wsb_event {
    enum wsb_event_kind kind;
    bool has_id;
    uint64_t id;
    struct ws_str topic, match, session, text; /* text: error text or reject reason */
    struct ws_str op;                          /* error: the op it refers to */
    struct ws_str data;                        /* msg: raw msgpack bytes */
    uint64_t seq, ts, head, oldest, from, to, count, code;
    bool redelivered;
    struct wsb_limits limits; /* welcome */
};

/* Decodes one broker envelope. Returns WSB_OK, or WSB_ERR_BAD_ENVELOPE /
 * WSB_ERR_UNKNOWN_OP / WSB_ERR_MISSING_FIELD / WSB_ERR_BAD_FIELD. */
enum wsb_err wsb_event_decode(const uint8_t *buf, size_t len, struct wsb_event *ev);

/* The same without the fast path for the broker's own `msg` layout
 * (msg_template.h); tests check that both read every envelope alike. */
enum wsb_err wsb_event_decode_general(const uint8_t *buf, size_t len, struct wsb_event *ev);

#endif

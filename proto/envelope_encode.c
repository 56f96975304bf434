/*
 * envelope_encode.c - writes envelopes (docs/protocol.md section 2): the
 * broker's, and the client requests of the C client and the bench.
 *
 * msgpack-c's packer does the msgpack encoding, always in its shortest form,
 * through a write callback into the caller's fixed buffer: no allocation, and
 * an overflow is remembered so every encoder can return 0 when cap is too
 * small (having written garbage into out, which the caller then ignores).
 *
 * A `data` value is already msgpack (the publisher's exact bytes), so it is
 * appended raw through the same callback rather than re-packed; msgpack-c
 * has no raw-append of its own.
 *
 * Key order: `op` first, then the fields in the order of the tables in
 * docs/protocol.md; optional fields are written only when set.
 */
#include "envelope.h"
#include "mp_buffer.h"

#include <msgpack.h>
#include <string.h>

/* One envelope being written: the packer and where it writes. */
struct envelope {
    struct mp_buffer out;
    msgpack_packer pk;
};

static void begin(struct envelope *e, uint8_t *out, size_t cap, size_t nfields, const char *op)
{
    e->out = mp_buffer_over(out, cap);
    msgpack_packer_init(&e->pk, &e->out, mp_buffer_write);
    msgpack_pack_map(&e->pk, nfields);
    msgpack_pack_str_with_body(&e->pk, "op", 2);
    msgpack_pack_str_with_body(&e->pk, op, strlen(op));
}

static size_t finish(const struct envelope *e)
{
    return e->out.overflow ? 0 : e->out.len;
}

static void put_key(struct envelope *e, const char *key)
{
    msgpack_pack_str_with_body(&e->pk, key, strlen(key));
}

static void put_uint(struct envelope *e, const char *key, uint64_t v)
{
    put_key(e, key);
    msgpack_pack_uint64(&e->pk, v);
}

static void put_str(struct envelope *e, const char *key, struct ws_str s)
{
    put_key(e, key);
    msgpack_pack_str_with_body(&e->pk, s.ptr, s.len);
}

static void put_bool(struct envelope *e, const char *key, bool v)
{
    put_key(e, key);
    if (v)
        msgpack_pack_true(&e->pk);
    else
        msgpack_pack_false(&e->pk);
}

/* data is one msgpack value already; an empty view stands for nil. */
static void put_raw(struct envelope *e, const char *key, struct ws_str data)
{
    put_key(e, key);
    if (data.len == 0)
        msgpack_pack_nil(&e->pk);
    else
        mp_buffer_write(&e->out, data.ptr, data.len);
}

static struct ws_str text_of(const char *s)
{
    return (struct ws_str){s ? s : "", s ? strlen(s) : 0};
}

/* ------------------------------------------------------------------------ */
/* Broker to client.                                                        */

/* The fixed part of a msg envelope, at its largest: map header (1); keys
 * "op" (3) "topic" (6) "seq" (4) "ts" (3) "data" (5) "re" (3); "msg" (4);
 * the topic's str header (5 at most); seq and ts (9 each); re's true (1). */
#define MSG_FIXED_BOUND (1 + 3 + 6 + 4 + 3 + 5 + 3 + 4 + 5 + 9 + 9 + 1)

size_t wsb_msg_size_bound(size_t topic_len, size_t data_len)
{
    size_t n = MSG_FIXED_BOUND;
    /* saturate rather than wrap: a bound must never come out small */
    if (topic_len > SIZE_MAX - n || data_len > SIZE_MAX - n - topic_len)
        return SIZE_MAX;
    return n + topic_len + data_len;
}

size_t wsb_encode_msg(uint8_t *out, size_t cap, struct ws_str topic, uint64_t seq, uint64_t ts_ns,
                      struct ws_str data, bool redelivered)
{
    struct envelope e;
    begin(&e, out, cap, 5 + redelivered, "msg");
    put_str(&e, "topic", topic);
    put_uint(&e, "seq", seq);
    put_uint(&e, "ts", ts_ns);
    put_raw(&e, "data", data);
    if (redelivered)
        put_bool(&e, "re", true);
    return finish(&e);
}

size_t wsb_encode_welcome(uint8_t *out, size_t cap, struct ws_str session,
                          const struct wsb_limits *limits)
{
    struct wsb_limits dflt = {WSB_DEFAULT_MAX_ENVELOPE, WSB_DEFAULT_MAX_TOPIC,
                              WSB_DEFAULT_MAX_SUBSCRIPTIONS, WSB_DEFAULT_MAX_WINDOW};
    if (limits == NULL)
        limits = &dflt;
    struct envelope e;
    begin(&e, out, cap, 4, "welcome");
    put_uint(&e, "v", WSB_PROTOCOL_VERSION);
    put_str(&e, "session", session);
    put_key(&e, "limits");
    msgpack_pack_map(&e.pk, 4);
    put_uint(&e, "max_envelope", limits->max_envelope);
    put_uint(&e, "max_topic", limits->max_topic);
    put_uint(&e, "max_subscriptions", limits->max_subscriptions);
    put_uint(&e, "max_window", limits->max_window);
    return finish(&e);
}

size_t wsb_encode_subscribed(uint8_t *out, size_t cap, bool has_id, uint64_t id,
                             struct ws_str topic, struct ws_str match, uint64_t head,
                             uint64_t oldest)
{
    /* Without a match, this confirms a pattern: no per-topic fields. */
    bool per_topic = ws_str_present(match);
    struct envelope e;
    begin(&e, out, cap, 2 + has_id + (per_topic ? 3 : 0), "subscribed");
    if (has_id)
        put_uint(&e, "id", id);
    put_str(&e, "topic", topic);
    if (per_topic) {
        put_str(&e, "match", match);
        put_uint(&e, "head", head);
        put_uint(&e, "oldest", oldest);
    }
    return finish(&e);
}

size_t wsb_encode_confirm(uint8_t *out, size_t cap, uint64_t id, struct ws_str topic, uint64_t seq)
{
    struct envelope e;
    begin(&e, out, cap, 4, "confirm");
    put_uint(&e, "id", id);
    put_str(&e, "topic", topic);
    put_uint(&e, "seq", seq);
    return finish(&e);
}

size_t wsb_encode_reject(uint8_t *out, size_t cap, bool has_id, uint64_t id, enum wsb_err code,
                         const char *reason)
{
    struct envelope e;
    begin(&e, out, cap, 3 + has_id, "reject");
    if (has_id)
        put_uint(&e, "id", id);
    put_uint(&e, "code", (uint64_t)code);
    put_str(&e, "reason", text_of(reason));
    return finish(&e);
}

size_t wsb_encode_gap(uint8_t *out, size_t cap, struct ws_str topic, uint64_t from, uint64_t to)
{
    struct envelope e;
    begin(&e, out, cap, 4, "gap");
    put_str(&e, "topic", topic);
    put_uint(&e, "from", from);
    put_uint(&e, "to", to);
    return finish(&e);
}

size_t wsb_encode_replayed(uint8_t *out, size_t cap, bool has_id, uint64_t id, struct ws_str topic,
                           uint64_t from, uint64_t to, uint64_t count)
{
    struct envelope e;
    begin(&e, out, cap, 5 + has_id, "replayed");
    if (has_id)
        put_uint(&e, "id", id);
    put_str(&e, "topic", topic);
    put_uint(&e, "from", from);
    put_uint(&e, "to", to);
    put_uint(&e, "count", count);
    return finish(&e);
}

size_t wsb_encode_error(uint8_t *out, size_t cap, enum wsb_err code, const char *text, bool has_id,
                        uint64_t id, struct ws_str op)
{
    bool has_op = ws_str_present(op);
    struct envelope e;
    begin(&e, out, cap, 3 + has_id + has_op, "error");
    put_uint(&e, "code", (uint64_t)code);
    put_str(&e, "text", text_of(text));
    if (has_id)
        put_uint(&e, "ref", id);
    if (has_op)
        put_str(&e, WSB_ERROR_OP_KEY, op);
    return finish(&e);
}

size_t wsb_encode_pong(uint8_t *out, size_t cap, bool has_id, uint64_t id)
{
    struct envelope e;
    begin(&e, out, cap, 1 + has_id, "pong");
    if (has_id)
        put_uint(&e, "id", id);
    return finish(&e);
}

/* ------------------------------------------------------------------------ */
/* Client to broker.                                                        */

static const char *const op_names[] = {"hello", "sub", "unsub", "pub", "ack", "replay", "ping"};

/* Counts the fields a request will carry: op plus those given as true. */
static size_t count_fields(int n, const bool *present)
{
    size_t count = 1;
    for (int i = 0; i < n; i++)
        count += present[i];
    return count;
}

size_t wsb_request_encode(uint8_t *out, size_t cap, const struct wsb_request *req)
{
    if (req->op < WSB_OP_HELLO || req->op > WSB_OP_PING)
        return 0;
    const char *op = op_names[req->op - 1];
    struct envelope e;
    switch (req->op) {
    case WSB_OP_HELLO: {
        bool f[] = {true, ws_str_present(req->name), ws_str_present(req->token),
                    ws_str_present(req->session)};
        begin(&e, out, cap, count_fields(4, f), op);
        put_uint(&e, "v", req->version ? req->version : WSB_PROTOCOL_VERSION);
        if (f[1])
            put_str(&e, "name", req->name);
        if (f[2])
            put_str(&e, "token", req->token);
        if (f[3])
            put_str(&e, "session", req->session);
        break;
    }
    case WSB_OP_SUB: {
        static const char *const policies[] = {"drop", "disconnect", "conflate"};
        bool window = req->window != 0 && req->window != WSB_DEFAULT_WINDOW;
        bool policy = req->policy != WSB_POLICY_DROP && (unsigned)req->policy < 3;
        bool f[] = {true,   req->has_id,   req->has_from, req->ack == WSB_ACK_MANUAL,
                    window, req->snapshot, policy};
        begin(&e, out, cap, count_fields(7, f), op);
        put_str(&e, "topic", req->topic);
        if (req->has_id)
            put_uint(&e, "id", req->id);
        if (req->has_from)
            put_uint(&e, "from", req->from);
        if (f[3])
            put_str(&e, "ack", text_of("manual"));
        if (window)
            put_uint(&e, "window", req->window);
        if (req->snapshot)
            put_bool(&e, "snapshot", true);
        if (policy)
            put_str(&e, "policy", text_of(policies[req->policy]));
        break;
    }
    case WSB_OP_UNSUB: {
        bool f[] = {true, req->has_id};
        begin(&e, out, cap, count_fields(2, f), op);
        put_str(&e, "topic", req->topic);
        if (req->has_id)
            put_uint(&e, "id", req->id);
        break;
    }
    case WSB_OP_PUB: {
        bool f[] = {true, true, req->has_id, req->confirm};
        begin(&e, out, cap, count_fields(4, f), op);
        put_str(&e, "topic", req->topic);
        put_raw(&e, "data", req->data);
        if (req->has_id)
            put_uint(&e, "id", req->id);
        if (req->confirm)
            put_bool(&e, "confirm", true);
        break;
    }
    case WSB_OP_ACK:
        begin(&e, out, cap, 3, op);
        put_str(&e, "topic", req->topic);
        put_uint(&e, "seq", req->seq);
        break;
    case WSB_OP_REPLAY: {
        bool f[] = {true, true, req->has_to, req->has_id};
        begin(&e, out, cap, count_fields(4, f), op);
        put_str(&e, "topic", req->topic);
        put_uint(&e, "from", req->from);
        if (req->has_to)
            put_uint(&e, "to", req->to);
        if (req->has_id)
            put_uint(&e, "id", req->id);
        break;
    }
    case WSB_OP_PING:
        begin(&e, out, cap, 1 + req->has_id, op);
        if (req->has_id)
            put_uint(&e, "id", req->id);
        break;
    }
    return finish(&e);
}

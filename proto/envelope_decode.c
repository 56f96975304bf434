/*
 * envelope_decode.c - reads envelopes (docs/protocol.md section 2) with the
 * zero-copy msgpack cursor: client requests, as the broker must judge them,
 * and broker envelopes, for the C client.
 *
 * Decoding runs in two passes. The first walks the whole top-level map once,
 * checking that it is well-formed msgpack (string keys, values nested at most
 * ENVELOPE_DEPTH deep, no bytes after it) and noting where each known key's
 * value lies; unknown keys are stepped over. The second interprets the noted
 * values for the op at hand. Keys may come in any order, and the request's
 * op and id are known before any field is judged, so an error envelope can
 * always carry them (ref and op) whichever field turned out wrong.
 *
 * Every view handed back points into the caller's buffer: strings at their
 * payload, `data` at the exact bytes of the value, forwarded byte for byte.
 */
#include "envelope.h"

#include <string.h>

#include "msg_template.h"
#include "msgpack_reader.h"
#include "topic.h"

/* The envelope map is level 1, so a value inside it may nest this deep. */
#define ENVELOPE_DEPTH (MP_MAX_DEPTH - 1)

/* Every key either direction knows; one list, so the name of a key and the
 * texts naming it in errors cannot drift apart. */
#define ENVELOPE_KEYS(X)                                                                           \
    X(OP, "op")                                                                                    \
    X(V, "v")                                                                                      \
    X(NAME, "name")                                                                                \
    X(TOKEN, "token")                                                                              \
    X(SESSION, "session")                                                                          \
    X(TOPIC, "topic")                                                                              \
    X(ID, "id")                                                                                    \
    X(FROM, "from")                                                                                \
    X(ACK, "ack")                                                                                  \
    X(WINDOW, "window")                                                                            \
    X(SNAPSHOT, "snapshot")                                                                        \
    X(POLICY, "policy")                                                                            \
    X(DATA, "data")                                                                                \
    X(CONFIRM, "confirm")                                                                          \
    X(SEQ, "seq")                                                                                  \
    X(TO, "to")                                                                                    \
    X(LIMITS, "limits")                                                                            \
    X(MATCH, "match")                                                                              \
    X(HEAD, "head")                                                                                \
    X(OLDEST, "oldest")                                                                            \
    X(TS, "ts")                                                                                    \
    X(RE, "re")                                                                                    \
    X(CODE, "code")                                                                                \
    X(REASON, "reason")                                                                            \
    X(TEXT, "text")                                                                                \
    X(REF, "ref")                                                                                  \
    X(REF_OP, WSB_ERROR_OP_KEY)                                                                    \
    X(COUNT, "count")

enum key {
#define X(k, s) K_##k,
    ENVELOPE_KEYS(X)
#undef X
        K_NKEYS
};

#define BIT(k) ((uint32_t)1 << K_##k)

static const char *const missing_text[K_NKEYS] = {
#define X(k, s) "missing field '" s "'",
    ENVELOPE_KEYS(X)
#undef X
};
static const char *const type_text[K_NKEYS] = {
#define X(k, s) "field '" s "' has the wrong type",
    ENVELOPE_KEYS(X)
#undef X
};
static const char *const duplicate_text[K_NKEYS] = {
#define X(k, s) "duplicate field '" s "'",
    ENVELOPE_KEYS(X)
#undef X
};

/* Where each known key's value lies (valid where its bit is in seen). */
struct fields {
    struct ws_str val[K_NKEYS];
    uint32_t seen;
    uint32_t duplicated;
};

/* The longest key; find_key switches on the length, so it must know. */
#define KEY_MAX_LEN 8
#define X(k, s)     _Static_assert(sizeof(s) - 1 <= KEY_MAX_LEN, "key '" s "' longer than KEY_MAX_LEN");
ENVELOPE_KEYS(X)
#undef X

/* Every envelope key passes through here, so it is a switch on the length
 * and, inside it, only the keys of that length, each a memcmp of a constant
 * size (which the compiler turns into one or two integer compares). */
static enum key find_key(struct ws_str k)
{
#define X(key, s)                                                                                  \
    if (sizeof(s) - 1 == LEN && memcmp(k.ptr, s, sizeof(s) - 1) == 0)                              \
        return K_##key;
#define KEYS_OF_LENGTH(n)                                                                          \
    case n: {                                                                                      \
        enum { LEN = n };                                                                          \
        ENVELOPE_KEYS(X)                                                                           \
        break;                                                                                     \
    }
    switch (k.len) {
        KEYS_OF_LENGTH(1)
        KEYS_OF_LENGTH(2)
        KEYS_OF_LENGTH(3)
        KEYS_OF_LENGTH(4)
        KEYS_OF_LENGTH(5)
        KEYS_OF_LENGTH(6)
        KEYS_OF_LENGTH(7)
        KEYS_OF_LENGTH(8)
    default:
        break;
    }
#undef KEYS_OF_LENGTH
#undef X
    return K_NKEYS;
}

static const char *describe_status(enum mp_status st)
{
    switch (st) {
    case MP_TRUNCATED:
        return "truncated msgpack";
    case MP_TOO_DEEP:
        return "msgpack nested too deep";
    default:
        return "malformed msgpack";
    }
}

/* Pass one: the whole map is well-formed; note the known keys' values.
 * Returns NULL, or why the envelope is malformed. */
static const char *scan_envelope(const uint8_t *buf, size_t len, struct fields *f)
{
    struct mp_cursor c = mp_cursor_make(buf, len);
    uint32_t n;
    f->seen = 0;
    f->duplicated = 0;
    enum mp_status st = mp_read_map(&c, &n);
    if (st == MP_WRONG_TYPE)
        return "not a msgpack map";
    if (st != MP_OK)
        return describe_status(st);
    for (uint32_t i = 0; i < n; i++) {
        struct ws_str key, val;
        st = mp_read_str(&c, &key);
        if (st == MP_WRONG_TYPE)
            return "map key is not a string";
        if (st != MP_OK)
            return describe_status(st);
        /* The span from the cursor, not mp_skip's out-parameter: reading back
         * a struct just stored field by field stalls store forwarding. */
        size_t start = c.pos;
        st = mp_skip(&c, ENVELOPE_DEPTH, NULL);
        if (st != MP_OK)
            return describe_status(st);
        val.ptr = (const char *)buf + start;
        val.len = c.pos - start;
        enum key k = find_key(key);
        if (k == K_NKEYS)
            continue;
        uint32_t bit = (uint32_t)1 << k;
        if (f->seen & bit) {
            f->duplicated |= bit; /* the first value stands */
            continue;
        }
        f->seen |= bit;
        f->val[k] = val;
    }
    if (!mp_at_end(&c))
        return "bytes after the envelope";
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Pass two: typed reads of noted values. Each take_* returns false and      */
/* records the failure when the field is wrong; an absent optional field is  */
/* not wrong (and leaves *present false).                                   */

struct judging {
    const struct fields *f;
    enum wsb_err code;
    const char *text;
};

static bool fail(struct judging *j, enum wsb_err code, const char *text)
{
    j->code = code;
    j->text = text;
    return false;
}

static bool has(const struct judging *j, enum key k)
{
    return (j->f->seen >> k) & 1;
}

static struct mp_cursor value_cursor(const struct judging *j, enum key k)
{
    return mp_cursor_make((const uint8_t *)j->f->val[k].ptr, j->f->val[k].len);
}

static bool take_uint(struct judging *j, enum key k, bool required, bool *present, uint64_t *v)
{
    if (present)
        *present = has(j, k);
    if (!has(j, k))
        return required ? fail(j, WSB_ERR_MISSING_FIELD, missing_text[k]) : true;
    struct mp_cursor c = value_cursor(j, k);
    if (mp_read_uint(&c, v) != MP_OK)
        return fail(j, WSB_ERR_BAD_FIELD, type_text[k]);
    return true;
}

static bool take_str(struct judging *j, enum key k, bool required, struct ws_str *s)
{
    if (!has(j, k))
        return required ? fail(j, WSB_ERR_MISSING_FIELD, missing_text[k]) : true;
    struct mp_cursor c = value_cursor(j, k);
    if (mp_read_str(&c, s) != MP_OK)
        return fail(j, WSB_ERR_BAD_FIELD, type_text[k]);
    return true;
}

static bool take_bool(struct judging *j, enum key k, bool *v)
{
    if (!has(j, k))
        return true;
    struct mp_cursor c = value_cursor(j, k);
    if (mp_read_bool(&c, v) != MP_OK)
        return fail(j, WSB_ERR_BAD_FIELD, type_text[k]);
    return true;
}

/* Any value, as its raw bytes. */
static bool take_any(struct judging *j, enum key k, struct ws_str *raw)
{
    if (!has(j, k))
        return fail(j, WSB_ERR_MISSING_FIELD, missing_text[k]);
    *raw = j->f->val[k];
    return true;
}

/* A duplicate of a key this op uses is refused; of any other, ignored. */
static bool check_duplicates(struct judging *j, uint32_t keys)
{
    uint32_t dup = j->f->duplicated & keys;
    if (dup == 0)
        return true;
    int k = 0;
    while (!((dup >> k) & 1))
        k++;
    return fail(j, WSB_ERR_BAD_FIELD, duplicate_text[k]);
}

/* Index + 1 of s in names, or 0. */
static int find_name(struct ws_str s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (names[i][0] == (s.len ? s.ptr[0] : 0) && ws_str_eq(s, names[i]))
            return i + 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Client requests.                                                         */

static const char *const request_ops[] = {"hello", "sub", "unsub", "pub", "ack", "replay", "ping"};
#define N_REQUEST_OPS ((int)(sizeof(request_ops) / sizeof(request_ops[0])))

/* The keys each op reads, by enum wsb_op - 1. */
static const uint32_t request_keys[] = {
    BIT(OP) | BIT(V) | BIT(NAME) | BIT(TOKEN) | BIT(SESSION),
    BIT(OP) | BIT(TOPIC) | BIT(ID) | BIT(FROM) | BIT(ACK) | BIT(WINDOW) | BIT(SNAPSHOT) |
        BIT(POLICY),
    BIT(OP) | BIT(TOPIC) | BIT(ID),
    BIT(OP) | BIT(TOPIC) | BIT(DATA) | BIT(ID) | BIT(CONFIRM),
    BIT(OP) | BIT(TOPIC) | BIT(SEQ),
    BIT(OP) | BIT(TOPIC) | BIT(FROM) | BIT(TO) | BIT(ID),
    BIT(OP) | BIT(ID),
};

static struct wsb_limits resolve_limits(const struct wsb_limits *limits)
{
    if (limits != NULL)
        return *limits;
    struct wsb_limits lim = {WSB_DEFAULT_MAX_ENVELOPE, WSB_DEFAULT_MAX_TOPIC,
                             WSB_DEFAULT_MAX_SUBSCRIPTIONS, WSB_DEFAULT_MAX_WINDOW};
    return lim;
}

/* A topic (or, with pattern_ok, a pattern) within the grammar and limits. */
static bool take_topic(struct judging *j, const struct wsb_limits *lim, bool pattern_ok,
                       struct ws_str *topic)
{
    if (!take_str(j, K_TOPIC, true, topic))
        return false;
    if (topic->len > lim->max_topic)
        return fail(j, WSB_ERR_BAD_TOPIC, "topic too long");
    enum topic_kind kind = topic_classify(*topic);
    if (kind == TOPIC_INVALID)
        return fail(j, WSB_ERR_BAD_TOPIC, "invalid topic");
    if (kind == TOPIC_PATTERN && !pattern_ok)
        return fail(j, WSB_ERR_BAD_TOPIC, "a pattern where a topic is required");
    return true;
}

static bool judge_hello(struct judging *j, struct wsb_request *req)
{
    if (!take_uint(j, K_V, true, NULL, &req->version))
        return false;
    if (req->version != WSB_PROTOCOL_VERSION)
        return fail(j, WSB_ERR_UNSUPPORTED_VERSION, "unsupported protocol version");
    if (!take_str(j, K_NAME, false, &req->name))
        return false;
    if (req->name.len > WSB_NAME_MAX_BYTES)
        return fail(j, WSB_ERR_BAD_FIELD, "field 'name' longer than 64 bytes");
    return take_str(j, K_TOKEN, false, &req->token) && take_str(j, K_SESSION, false, &req->session);
}

static bool judge_sub(struct judging *j, const struct wsb_limits *lim, struct wsb_request *req)
{
    struct ws_str ack = {0}, policy = {0};
    bool has_window;
    if (!take_topic(j, lim, true, &req->topic) ||
        !take_uint(j, K_ID, false, &req->has_id, &req->id) ||
        !take_uint(j, K_FROM, false, &req->has_from, &req->from) ||
        !take_str(j, K_ACK, false, &ack) ||
        !take_uint(j, K_WINDOW, false, &has_window, &req->window) ||
        !take_bool(j, K_SNAPSHOT, &req->snapshot) || !take_str(j, K_POLICY, false, &policy))
        return false;

    static const char *const acks[] = {"none", "manual"};
    if (ws_str_present(ack)) {
        int i = find_name(ack, acks, 2);
        if (i == 0)
            return fail(j, WSB_ERR_BAD_FIELD, "field 'ack' is not \"none\" or \"manual\"");
        req->ack = i == 1 ? WSB_ACK_NONE : WSB_ACK_MANUAL;
    }
    static const char *const policies[] = {"drop", "disconnect", "conflate"};
    if (ws_str_present(policy)) {
        int i = find_name(policy, policies, 3);
        if (i == 0)
            return fail(j, WSB_ERR_BAD_FIELD,
                        "field 'policy' is not \"disconnect\", \"drop\" or \"conflate\"");
        req->policy = (enum wsb_policy)(i - 1);
        req->has_policy = true;
    }
    if (!has_window) {
        /* the default, unless the broker allows less */
        req->window = WSB_DEFAULT_WINDOW < lim->max_window ? WSB_DEFAULT_WINDOW : lim->max_window;
    } else if (req->window == 0 || req->window > lim->max_window) {
        return fail(j, WSB_ERR_BAD_FIELD, "field 'window' out of range");
    }
    return true;
}

static bool judge_pub(struct judging *j, const struct wsb_limits *lim, struct wsb_request *req)
{
    if (!take_topic(j, lim, false, &req->topic) || !take_any(j, K_DATA, &req->data) ||
        !take_uint(j, K_ID, false, &req->has_id, &req->id) ||
        !take_bool(j, K_CONFIRM, &req->confirm))
        return false;
    if (req->confirm && !req->has_id)
        return fail(j, WSB_ERR_MISSING_FIELD, "missing field 'id' (required by 'confirm')");
    return true;
}

static bool judge_replay(struct judging *j, const struct wsb_limits *lim, struct wsb_request *req)
{
    if (!take_topic(j, lim, false, &req->topic) ||
        !take_uint(j, K_FROM, true, &req->has_from, &req->from) ||
        !take_uint(j, K_TO, false, &req->has_to, &req->to) ||
        !take_uint(j, K_ID, false, &req->has_id, &req->id))
        return false;
    if (req->from == 0)
        return fail(j, WSB_ERR_BAD_RANGE, "field 'from' must be at least 1");
    if (req->has_to && req->from > req->to)
        return fail(j, WSB_ERR_BAD_RANGE, "field 'from' is after 'to'");
    return true;
}

static bool judge_request(struct judging *j, const struct wsb_limits *lim, struct wsb_request *req)
{
    switch (req->op) {
    case WSB_OP_HELLO:
        return judge_hello(j, req);
    case WSB_OP_SUB:
        return judge_sub(j, lim, req);
    case WSB_OP_UNSUB:
        return take_topic(j, lim, true, &req->topic) &&
               take_uint(j, K_ID, false, &req->has_id, &req->id);
    case WSB_OP_PUB:
        return judge_pub(j, lim, req);
    case WSB_OP_ACK:
        return take_topic(j, lim, false, &req->topic) && take_uint(j, K_SEQ, true, NULL, &req->seq);
    case WSB_OP_REPLAY:
        return judge_replay(j, lim, req);
    case WSB_OP_PING:
        return take_uint(j, K_ID, false, &req->has_id, &req->id);
    }
    return fail(j, WSB_ERR_UNKNOWN_OP, "unknown op");
}

/* Whatever of op and id is readable, for the error envelope's op and ref;
 * called even when the map turned out malformed after them. */
static void note_op_and_id(const struct fields *f, struct wsb_decode_error *err)
{
    struct judging j = {f, WSB_OK, NULL};
    take_str(&j, K_OP, false, &err->op);
    uint64_t id;
    bool present;
    if (take_uint(&j, K_ID, false, &present, &id) && present) {
        err->has_id = true;
        err->id = id;
    }
}

static enum wsb_err refuse(struct wsb_decode_error *err, enum wsb_err code, const char *text)
{
    err->code = code;
    err->text = text;
    return code;
}

enum wsb_err wsb_request_decode(const uint8_t *buf, size_t len, const struct wsb_limits *limits,
                                struct wsb_request *req, struct wsb_decode_error *err)
{
    struct wsb_limits lim = resolve_limits(limits);
    memset(req, 0, sizeof(*req));
    memset(err, 0, sizeof(*err));
    if (len > lim.max_envelope)
        return refuse(err, WSB_ERR_TOO_LARGE, "envelope too large");

    struct fields f;
    const char *malformed = scan_envelope(buf, len, &f);
    note_op_and_id(&f, err);
    if (malformed)
        return refuse(err, WSB_ERR_BAD_ENVELOPE, malformed);

    struct judging j = {&f, WSB_OK, NULL};
    struct ws_str op = {0};
    if (!take_str(&j, K_OP, true, &op))
        return refuse(err, WSB_ERR_UNKNOWN_OP, j.text);
    req->op = (enum wsb_op)find_name(op, request_ops, N_REQUEST_OPS);
    if (req->op == 0)
        return refuse(err, WSB_ERR_UNKNOWN_OP, "unknown op");
    if (!check_duplicates(&j, request_keys[req->op - 1]) || !judge_request(&j, &lim, req))
        return refuse(err, j.code, j.text);
    return WSB_OK;
}

/* ------------------------------------------------------------------------ */
/* Broker envelopes.                                                        */

static const char *const event_ops[] = {"welcome", "subscribed", "msg",   "confirm", "reject",
                                        "gap",     "replayed",   "error", "pong"};
#define N_EVENT_OPS ((int)(sizeof(event_ops) / sizeof(event_ops[0])))

/* The keys each event has, by enum wsb_event_kind - 1. */
static const uint32_t event_keys[] = {
    BIT(OP) | BIT(V) | BIT(SESSION) | BIT(LIMITS),
    BIT(OP) | BIT(ID) | BIT(TOPIC) | BIT(MATCH) | BIT(HEAD) | BIT(OLDEST),
    BIT(OP) | BIT(TOPIC) | BIT(SEQ) | BIT(TS) | BIT(DATA) | BIT(RE),
    BIT(OP) | BIT(ID) | BIT(TOPIC) | BIT(SEQ),
    BIT(OP) | BIT(ID) | BIT(CODE) | BIT(REASON),
    BIT(OP) | BIT(TOPIC) | BIT(FROM) | BIT(TO),
    BIT(OP) | BIT(ID) | BIT(TOPIC) | BIT(FROM) | BIT(TO) | BIT(COUNT),
    BIT(OP) | BIT(CODE) | BIT(TEXT) | BIT(REF) | BIT(REF_OP),
    BIT(OP) | BIT(ID),
};

/* welcome's limits map; its keys, like the envelope's, in any order. */
static bool take_limits(struct judging *j, struct wsb_limits *lim)
{
    static const char *const names[] = {"max_envelope", "max_topic", "max_subscriptions",
                                        "max_window"};
    static const char *const missing[] = {
        "missing field 'limits.max_envelope'", "missing field 'limits.max_topic'",
        "missing field 'limits.max_subscriptions'", "missing field 'limits.max_window'"};
    uint64_t *slots[] = {&lim->max_envelope, &lim->max_topic, &lim->max_subscriptions,
                         &lim->max_window};
    if (!has(j, K_LIMITS))
        return fail(j, WSB_ERR_MISSING_FIELD, missing_text[K_LIMITS]);
    struct mp_cursor c = value_cursor(j, K_LIMITS);
    uint32_t n, seen = 0;
    if (mp_read_map(&c, &n) != MP_OK)
        return fail(j, WSB_ERR_BAD_FIELD, type_text[K_LIMITS]);
    /* the value was scanned whole already, so only types can be wrong here */
    for (uint32_t i = 0; i < n; i++) {
        struct ws_str key;
        if (mp_read_str(&c, &key) != MP_OK)
            return fail(j, WSB_ERR_BAD_FIELD, type_text[K_LIMITS]);
        int k = find_name(key, names, 4);
        if (k == 0) {
            mp_skip(&c, MP_MAX_DEPTH, NULL);
            continue;
        }
        if ((seen >> k) & 1 || mp_read_uint(&c, slots[k - 1]) != MP_OK)
            return fail(j, WSB_ERR_BAD_FIELD, type_text[K_LIMITS]);
        seen |= 1u << k;
    }
    for (int k = 1; k <= 4; k++)
        if (!((seen >> k) & 1))
            return fail(j, WSB_ERR_MISSING_FIELD, missing[k - 1]);
    return true;
}

static bool judge_event(struct judging *j, struct wsb_event *ev)
{
    uint64_t v;
    switch (ev->kind) {
    case WSB_EV_WELCOME:
        if (!take_uint(j, K_V, true, NULL, &v))
            return false;
        if (v != WSB_PROTOCOL_VERSION)
            return fail(j, WSB_ERR_BAD_FIELD, "unsupported protocol version");
        return take_str(j, K_SESSION, true, &ev->session) && take_limits(j, &ev->limits);
    case WSB_EV_SUBSCRIBED:
        /* Without match it confirms a pattern; with it, head and oldest come too. */
        return take_uint(j, K_ID, false, &ev->has_id, &ev->id) &&
               take_str(j, K_TOPIC, true, &ev->topic) && take_str(j, K_MATCH, false, &ev->match) &&
               take_uint(j, K_HEAD, ws_str_present(ev->match), NULL, &ev->head) &&
               take_uint(j, K_OLDEST, ws_str_present(ev->match), NULL, &ev->oldest);
    case WSB_EV_MSG:
        return take_str(j, K_TOPIC, true, &ev->topic) &&
               take_uint(j, K_SEQ, true, NULL, &ev->seq) &&
               take_uint(j, K_TS, true, NULL, &ev->ts) && take_any(j, K_DATA, &ev->data) &&
               take_bool(j, K_RE, &ev->redelivered);
    case WSB_EV_CONFIRM:
        return take_uint(j, K_ID, true, &ev->has_id, &ev->id) &&
               take_str(j, K_TOPIC, true, &ev->topic) && take_uint(j, K_SEQ, true, NULL, &ev->seq);
    case WSB_EV_REJECT:
        return take_uint(j, K_ID, false, &ev->has_id, &ev->id) &&
               take_uint(j, K_CODE, true, NULL, &ev->code) &&
               take_str(j, K_REASON, true, &ev->text);
    case WSB_EV_GAP:
        return take_str(j, K_TOPIC, true, &ev->topic) &&
               take_uint(j, K_FROM, true, NULL, &ev->from) &&
               take_uint(j, K_TO, true, NULL, &ev->to);
    case WSB_EV_REPLAYED:
        return take_uint(j, K_ID, false, &ev->has_id, &ev->id) &&
               take_str(j, K_TOPIC, true, &ev->topic) &&
               take_uint(j, K_FROM, true, NULL, &ev->from) &&
               take_uint(j, K_TO, true, NULL, &ev->to) &&
               take_uint(j, K_COUNT, true, NULL, &ev->count);
    case WSB_EV_ERROR:
        return take_uint(j, K_CODE, true, NULL, &ev->code) &&
               take_str(j, K_TEXT, true, &ev->text) &&
               take_uint(j, K_REF, false, &ev->has_id, &ev->id) &&
               take_str(j, K_REF_OP, false, &ev->op);
    case WSB_EV_PONG:
        return take_uint(j, K_ID, false, &ev->has_id, &ev->id);
    }
    return fail(j, WSB_ERR_UNKNOWN_OP, "unknown op");
}

enum wsb_err wsb_event_decode(const uint8_t *buf, size_t len, struct wsb_event *ev)
{
    /* Fast path: nearly every envelope a client gets is a `msg` in the
     * layout the broker writes; anything else is judged below. */
    struct wsb_msg_view mv;
    if (wsb_msg_template_parse(buf, len, &mv)) {
        *ev = (struct wsb_event){.kind = WSB_EV_MSG,
                                 .topic = mv.topic,
                                 .data = mv.data,
                                 .seq = mv.seq,
                                 .ts = mv.ts,
                                 .redelivered = mv.redelivered};
        return WSB_OK;
    }
    return wsb_event_decode_general(buf, len, ev);
}

enum wsb_err wsb_event_decode_general(const uint8_t *buf, size_t len, struct wsb_event *ev)
{
    *ev = (struct wsb_event){0};
    struct fields f;
    if (scan_envelope(buf, len, &f) != NULL)
        return WSB_ERR_BAD_ENVELOPE;
    struct judging j = {&f, WSB_OK, NULL};
    struct ws_str op = {0};
    if (!take_str(&j, K_OP, true, &op))
        return WSB_ERR_UNKNOWN_OP;
    ev->kind = (enum wsb_event_kind)find_name(op, event_ops, N_EVENT_OPS);
    if (ev->kind == 0)
        return WSB_ERR_UNKNOWN_OP;
    if (!check_duplicates(&j, event_keys[ev->kind - 1]) || !judge_event(&j, ev))
        return j.code;
    return WSB_OK;
}

/* ------------------------------------------------------------------------ */

const char *wsb_err_name(enum wsb_err err)
{
    static const char *const names[] = {"ok",
                                        "bad_envelope",
                                        "text_message",
                                        "unknown_op",
                                        "missing_field",
                                        "bad_field",
                                        "too_large",
                                        "bad_topic",
                                        "not_subscribed",
                                        "too_many_subscriptions",
                                        "hello_required",
                                        "unsupported_version",
                                        "bad_range",
                                        "already_subscribed",
                                        "duplicate_hello",
                                        "not_permitted",
                                        "overloaded",
                                        "rate_limited",
                                        "auth_failed"};
    if ((unsigned)err >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[err];
}

/*
 * fuzz_envelope.c - libFuzzer target for the envelope path.
 *
 * The input is decoded as a client request (under the default limits and
 * under tight ones) and as a broker envelope, the latter also without the
 * fast path for the broker's own msg layout, which must agree. Whatever the verdict, every
 * view must lie inside the input; a request that decodes is re-encoded with
 * wsb_request_encode and must decode again to an equal request, and a broker
 * envelope likewise through its wsb_encode_* function.
 *
 * The msgpack cursor is also checked against an independent parser, msgpack-c:
 * when msgpack-c reads one complete object at the start of the input,
 * mp_skip must step over the same bytes, and the other way round, within
 * msgpack-c's nesting limit of 32.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "envelope.h"
#include "msgpack_reader.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* msgpack-c's unpacker nests at most this deep (MSGPACK_EMBED_STACK_SIZE). */
#define MSGPACK_C_DEPTH 32

static const uint8_t *in_buf;
static size_t in_len;

static void check_view(struct ws_str s)
{
    if (s.ptr == NULL) {
        CHECK(s.len == 0);
        return;
    }
    CHECK((const uint8_t *)s.ptr >= in_buf);
    CHECK(s.len <= in_len && (const uint8_t *)s.ptr - in_buf <= (ptrdiff_t)(in_len - s.len));
}

static bool same_str(struct ws_str a, struct ws_str b)
{
    return (a.ptr == NULL) == (b.ptr == NULL) && a.len == b.len &&
           (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_request(const struct wsb_request *a, const struct wsb_request *b)
{
    return a->op == b->op && a->has_id == b->has_id && a->id == b->id &&
           same_str(a->topic, b->topic) && a->version == b->version && same_str(a->name, b->name) &&
           same_str(a->token, b->token) && same_str(a->session, b->session) &&
           a->has_from == b->has_from && a->from == b->from && a->ack == b->ack &&
           a->window == b->window && a->snapshot == b->snapshot && a->policy == b->policy &&
           same_str(a->data, b->data) && a->confirm == b->confirm && a->seq == b->seq &&
           a->has_to == b->has_to && a->to == b->to;
}

static void fuzz_request(const struct wsb_limits *lim)
{
    struct wsb_request req;
    struct wsb_decode_error err;
    enum wsb_err rc = wsb_request_decode(in_buf, in_len, lim, &req, &err);
    check_view(err.op);
    if (rc != WSB_OK) {
        CHECK(err.code == rc && err.text != NULL);
        CHECK(rc == WSB_ERR_BAD_ENVELOPE || rc == WSB_ERR_UNKNOWN_OP ||
              rc == WSB_ERR_MISSING_FIELD || rc == WSB_ERR_BAD_FIELD || rc == WSB_ERR_TOO_LARGE ||
              rc == WSB_ERR_BAD_TOPIC || rc == WSB_ERR_UNSUPPORTED_VERSION ||
              rc == WSB_ERR_BAD_RANGE);
        return;
    }
    const struct ws_str views[] = {req.topic, req.name, req.token, req.session, req.data};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
        check_view(views[i]);
    CHECK(req.op >= WSB_OP_HELLO && req.op <= WSB_OP_PING);
    if (req.op == WSB_OP_PUB) {
        /* data is exactly one msgpack value */
        struct mp_cursor c = mp_cursor_make((const uint8_t *)req.data.ptr, req.data.len);
        CHECK(mp_skip(&c, MP_MAX_DEPTH, NULL) == MP_OK && mp_at_end(&c));
    }

    /* the encoder writes shortest forms and omits defaults, so it never
     * needs more than the input plus the few keys it may add back */
    size_t cap = in_len + 64;
    uint8_t *out = malloc(cap);
    CHECK(out);
    size_t n = wsb_request_encode(out, cap, &req);
    CHECK(n > 0);
    struct wsb_request again;
    CHECK(wsb_request_decode(out, n, lim, &again, &err) == WSB_OK);
    CHECK(same_request(&req, &again));
    free(out);
}

/* Re-encodes ev with its wsb_encode_* function. reject and error take the
 * code as an enum and the text as a C string, so those are re-encoded only
 * when the decoded values can be such (a known code, a text without NUL). */
static size_t encode_event(uint8_t *out, size_t cap, const struct wsb_event *ev)
{
    char text[512];
    if (ev->kind == WSB_EV_REJECT || ev->kind == WSB_EV_ERROR) {
        if (ev->code > WSB_ERR_OVERLOADED || ev->text.len >= sizeof(text) ||
            memchr(ev->text.ptr, 0, ev->text.len) != NULL)
            return SIZE_MAX;
        memcpy(text, ev->text.ptr, ev->text.len);
        text[ev->text.len] = '\0';
    }
    switch (ev->kind) {
    case WSB_EV_WELCOME:
        return wsb_encode_welcome(out, cap, ev->session, &ev->limits);
    case WSB_EV_SUBSCRIBED:
        return wsb_encode_subscribed(out, cap, ev->has_id, ev->id, ev->topic, ev->match, ev->head,
                                     ev->oldest);
    case WSB_EV_MSG:
        return wsb_encode_msg(out, cap, ev->topic, ev->seq, ev->ts, ev->data, ev->redelivered);
    case WSB_EV_CONFIRM:
        return wsb_encode_confirm(out, cap, ev->id, ev->topic, ev->seq);
    case WSB_EV_REJECT:
        return wsb_encode_reject(out, cap, ev->has_id, ev->id, (enum wsb_err)ev->code, text);
    case WSB_EV_GAP:
        return wsb_encode_gap(out, cap, ev->topic, ev->from, ev->to);
    case WSB_EV_REPLAYED:
        return wsb_encode_replayed(out, cap, ev->has_id, ev->id, ev->topic, ev->from, ev->to,
                                   ev->count);
    case WSB_EV_ERROR:
        return wsb_encode_error(out, cap, (enum wsb_err)ev->code, text, ev->has_id, ev->id, ev->op);
    case WSB_EV_PONG:
        return wsb_encode_pong(out, cap, ev->has_id, ev->id);
    }
    abort();
}

static bool same_event(const struct wsb_event *a, const struct wsb_event *b)
{
    return a->kind == b->kind && a->has_id == b->has_id && a->id == b->id &&
           same_str(a->topic, b->topic) && same_str(a->match, b->match) &&
           same_str(a->session, b->session) && same_str(a->text, b->text) &&
           same_str(a->op, b->op) && same_str(a->data, b->data) && a->seq == b->seq &&
           a->ts == b->ts && a->head == b->head && a->oldest == b->oldest && a->from == b->from &&
           a->to == b->to && a->count == b->count && a->code == b->code &&
           a->redelivered == b->redelivered &&
           memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0;
}

static void fuzz_event(void)
{
    struct wsb_event ev, general;
    enum wsb_err rc = wsb_event_decode(in_buf, in_len, &ev);
    /* the fast path for the broker's msg layout agrees with the general decoder */
    CHECK(wsb_event_decode_general(in_buf, in_len, &general) == rc);
    CHECK(rc != WSB_OK || same_event(&ev, &general));
    if (rc != WSB_OK) {
        CHECK(rc == WSB_ERR_BAD_ENVELOPE || rc == WSB_ERR_UNKNOWN_OP ||
              rc == WSB_ERR_MISSING_FIELD || rc == WSB_ERR_BAD_FIELD);
        return;
    }
    const struct ws_str views[] = {ev.topic, ev.match, ev.session, ev.text, ev.op, ev.data};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
        check_view(views[i]);

    size_t cap = in_len + 64;
    uint8_t *out = malloc(cap);
    CHECK(out);
    /* a subscribed without match (a pattern's confirmation) is written
     * without head and oldest, whatever the input carried */
    if (ev.kind == WSB_EV_SUBSCRIBED && !ws_str_present(ev.match))
        ev.head = ev.oldest = 0;
    size_t n = encode_event(out, cap, &ev);
    if (n != SIZE_MAX) {
        CHECK(n > 0);
        struct wsb_event again;
        CHECK(wsb_event_decode(out, n, &again) == WSB_OK);
        CHECK(same_event(&ev, &again));
    }
    free(out);
}

/* Whether msgpack-c can be asked about the input: every container header
 * claims no more elements than there are bytes left, walking headers in
 * order until the first failure (msgpack-c allocates a container's elements
 * when it reads its header, so a claim of 2^32 elements in a short input is
 * a multi-gigabyte malloc), and no ext32 claims the largest length. */
static bool claims_plausible(void)
{
    struct mp_cursor c = mp_cursor_make(in_buf, in_len);
    while (!mp_at_end(&c)) {
        enum mp_kind kind;
        uint32_t n;
        /* ext32 of 2^32 - 1 bytes: msgpack-c adds the type byte to the
         * length in 32 bits, wraps to 0 and calls it a parse error; it is
         * truncated in any input that fits in memory */
        if (in_buf[c.pos] == 0xc9 && in_len - c.pos >= 5 &&
            memcmp(in_buf + c.pos + 1, "\xff\xff\xff\xff", 4) == 0)
            return false;
        if (mp_peek_kind(&c, &kind) != MP_OK)
            return true;
        if (kind == MP_MAP || kind == MP_ARRAY) {
            if ((kind == MP_MAP ? mp_read_map(&c, &n) : mp_read_array(&c, &n)) != MP_OK)
                return true;
            if ((uint64_t)n * (kind == MP_MAP ? 2 : 1) > in_len - c.pos)
                return false;
        } else if (mp_skip(&c, 0, NULL) != MP_OK) {
            return true;
        }
    }
    return true;
}

static void cross_check_msgpack_c(void)
{
    if (!claims_plausible())
        return;
    msgpack_unpacked obj;
    msgpack_unpacked_init(&obj);
    size_t off = 0;
    msgpack_unpack_return theirs = msgpack_unpack_next(&obj, (const char *)in_buf, in_len, &off);
    msgpack_unpacked_destroy(&obj);

    struct mp_cursor c = mp_cursor_make(in_buf, in_len);
    enum mp_status ours = mp_skip(&c, MSGPACK_C_DEPTH, NULL);
    switch (ours) {
    case MP_OK:
        CHECK(theirs == MSGPACK_UNPACK_SUCCESS && off == c.pos);
        break;
    case MP_TRUNCATED:
        CHECK(theirs == MSGPACK_UNPACK_CONTINUE);
        break;
    case MP_MALFORMED:
        CHECK(theirs == MSGPACK_UNPACK_PARSE_ERROR);
        break;
    case MP_TOO_DEEP:
        CHECK(theirs == MSGPACK_UNPACK_NOMEM_ERROR);
        break;
    case MP_WRONG_TYPE:
        abort();
    }
    /* deeper limits only ever let more through */
    c.pos = 0;
    enum mp_status deep = mp_skip(&c, MP_MAX_DEPTH, NULL);
    if (ours != MP_TOO_DEEP)
        CHECK(deep == ours);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan catches any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    CHECK(buf);
    memcpy(buf, data, size);
    in_buf = buf;
    in_len = size;

    fuzz_request(NULL);
    const struct wsb_limits tight = {256, 8, 4, 10};
    fuzz_request(&tight);
    fuzz_event();
    cross_check_msgpack_c();

    free(buf);
    return 0;
}

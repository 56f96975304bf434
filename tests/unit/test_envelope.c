/*
 * test_envelope.c - the envelopes of docs/protocol.md section 2, both ways.
 *
 * Round trips: every request through wsb_request_encode -> wsb_request_decode
 * and every broker envelope through wsb_encode_* -> wsb_event_decode. Then
 * envelopes written by an independent encoder (msgpack-c's packer, driven by
 * a small JSON-like notation below, plus hand-made bytes for non-minimal
 * integers and odd values): keys in any order, unknown keys with nested
 * values, `data` of every msgpack type kept byte for byte. Then every error
 * code decode can produce, with err's ref and op; truncation at every byte;
 * and every encoder refusing every cap below its real size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "envelope.h"
#include "msg_template.h"

static struct ws_str str_of(const char *s)
{
    return (struct ws_str){s, strlen(s)};
}

/* ------------------------------------------------------------------------ */
/* An independent encoder: JSON-like text -> msgpack via msgpack-c.          */
/* Values: {..} [..] "str" (\" and \\ escapes) true false null, integers     */
/* (negative ones packed signed), numbers with a '.' as float64, and         */
/* <hex bytes> spliced in raw (for non-minimal or unusual encodings). A text */
/* may hold several values one after the other.                              */

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\n')
        s++;
    return s;
}

static const char *pack_value(msgpack_sbuffer *sb, const char *s);

/* Packs the elements of a container into a buffer of their own first, as
 * the header needs their count. */
static const char *pack_container(msgpack_sbuffer *sb, const char *s, char close)
{
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    size_t n = 0;
    s = skip_ws(s + 1);
    while (*s != close) {
        s = pack_value(&body, s);
        n++;
        s = skip_ws(s);
        if (*s == ',' || *s == ':')
            s = skip_ws(s + 1);
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (close == '}')
        msgpack_pack_map(&pk, n / 2);
    else
        msgpack_pack_array(&pk, n);
    msgpack_sbuffer_write(sb, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    return s + 1;
}

static const char *pack_value(msgpack_sbuffer *sb, const char *s)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    s = skip_ws(s);
    if (*s == '{')
        return pack_container(sb, s, '}');
    if (*s == '[')
        return pack_container(sb, s, ']');
    if (*s == '"') {
        char buf[1024];
        size_t n = 0;
        for (s++; *s != '"'; s++) {
            if (*s == '\\')
                s++;
            buf[n++] = *s;
        }
        msgpack_pack_str_with_body(&pk, buf, n);
        return s + 1;
    }
    if (*s == '<') {
        char *end;
        for (s++; *s != '>';) {
            unsigned long b = strtoul(s, &end, 16);
            char c = (char)b;
            msgpack_sbuffer_write(sb, &c, 1);
            s = skip_ws(end);
        }
        return s + 1;
    }
    if (strncmp(s, "true", 4) == 0) {
        msgpack_pack_true(&pk);
        return s + 4;
    }
    if (strncmp(s, "false", 5) == 0) {
        msgpack_pack_false(&pk);
        return s + 5;
    }
    if (strncmp(s, "null", 4) == 0) {
        msgpack_pack_nil(&pk);
        return s + 4;
    }
    char *end;
    size_t span = strspn(s, "-0123456789.e");
    if (memchr(s, '.', span)) {
        msgpack_pack_double(&pk, strtod(s, &end));
    } else if (*s == '-') {
        msgpack_pack_int64(&pk, strtoll(s, &end, 10));
    } else {
        msgpack_pack_uint64(&pk, strtoull(s, &end, 10));
    }
    assert_true(end > s);
    return end;
}

struct packed {
    uint8_t *buf; /* malloc'd to exactly len, so ASan sees any overread */
    size_t len;
};

static struct packed pack(const char *json)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    /* a sequence of values, for bytes after a map or hand-made headers */
    for (const char *s = skip_ws(json); *s != '\0'; s = skip_ws(s))
        s = pack_value(&sb, s);
    struct packed p = {malloc(sb.size ? sb.size : 1), sb.size};
    memcpy(p.buf, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return p;
}

static struct packed copy_bytes(const uint8_t *b, size_t len)
{
    struct packed p = {malloc(len ? len : 1), len};
    memcpy(p.buf, b, len);
    return p;
}

/* ------------------------------------------------------------------------ */

static void assert_str_same(struct ws_str a, struct ws_str b)
{
    assert_int_equal(a.ptr == NULL, b.ptr == NULL);
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.ptr, b.ptr, a.len);
}

static void assert_request_same(const struct wsb_request *a, const struct wsb_request *b)
{
    assert_int_equal(a->op, b->op);
    assert_int_equal(a->has_id, b->has_id);
    assert_true(a->id == b->id);
    assert_str_same(a->topic, b->topic);
    assert_true(a->version == b->version);
    assert_str_same(a->name, b->name);
    assert_str_same(a->token, b->token);
    assert_str_same(a->session, b->session);
    assert_int_equal(a->has_from, b->has_from);
    assert_true(a->from == b->from);
    assert_int_equal(a->ack, b->ack);
    assert_true(a->window == b->window);
    assert_int_equal(a->snapshot, b->snapshot);
    assert_int_equal(a->policy, b->policy);
    assert_str_same(a->data, b->data);
    assert_int_equal(a->confirm, b->confirm);
    assert_true(a->seq == b->seq);
    assert_int_equal(a->has_to, b->has_to);
    assert_true(a->to == b->to);
}

static void decode_ok(const struct packed *p, struct wsb_request *req)
{
    struct wsb_decode_error err;
    enum wsb_err rc = wsb_request_decode(p->buf, p->len, NULL, req, &err);
    if (rc != WSB_OK)
        fail_msg("decode failed: %s (%s)", wsb_err_name(rc), err.text);
}

/* Every view of a request lies inside [buf, buf + len). */
static void assert_views_inside(const struct wsb_request *r, const struct packed *p)
{
    const struct ws_str views[] = {r->topic, r->name, r->token, r->session, r->data};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        if (views[i].ptr == NULL)
            continue;
        assert_true((const uint8_t *)views[i].ptr >= p->buf);
        assert_true((const uint8_t *)views[i].ptr + views[i].len <= p->buf + p->len);
    }
}

/* Encodes req, checks that every smaller cap is refused and that truncation
 * at every byte is a bad envelope, decodes it back and compares. */
static void round_trip_request(const struct wsb_request *req)
{
    uint8_t big[4096];
    size_t n = wsb_request_encode(big, sizeof(big), req);
    assert_true(n > 0);
    for (size_t cap = 0; cap < n; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        assert_int_equal(wsb_request_encode(small, cap, req), 0);
        free(small);
    }
    struct packed p = copy_bytes(big, n);
    struct wsb_request back;
    decode_ok(&p, &back);
    assert_request_same(req, &back);
    assert_views_inside(&back, &p);
    for (size_t cut = 0; cut < n; cut++) {
        struct packed t = copy_bytes(big, cut);
        struct wsb_decode_error err;
        assert_int_equal(wsb_request_decode(t.buf, t.len, NULL, &back, &err), WSB_ERR_BAD_ENVELOPE);
        assert_non_null(err.text);
        free(t.buf);
    }
    free(p.buf);
}

static void test_request_round_trips(void **state)
{
    (void)state;
    static const uint8_t data_map[] = {0x81, 0xa3, 'b',  'i',  'd',  0xcb, 0x40,
                                       0x67, 0xa3, 0x33, 0x33, 0x33, 0x33, 0x33};
    static const uint8_t data_nil[] = {0xc0};
    struct wsb_request reqs[] = {
        {.op = WSB_OP_HELLO, .version = 1},
        {.op = WSB_OP_HELLO,
         .version = 1,
         .name = str_of("ticker-ui"),
         .token = str_of("t0k3n"),
         .session = str_of("3f9a0c1d2b4e5f60")},
        {.op = WSB_OP_SUB, .topic = str_of("md.*.AAPL"), .window = WSB_DEFAULT_WINDOW},
        {.op = WSB_OP_SUB,
         .topic = str_of("md.>"),
         .has_id = true,
         .id = UINT64_MAX,
         .has_from = true,
         .from = 41,
         .ack = WSB_ACK_MANUAL,
         .window = 1,
         .snapshot = true,
         .policy = WSB_POLICY_CONFLATE},
        {.op = WSB_OP_SUB,
         .topic = str_of("a"),
         .has_from = true,
         .from = 0,
         .window = WSB_DEFAULT_MAX_WINDOW,
         .policy = WSB_POLICY_DISCONNECT},
        {.op = WSB_OP_UNSUB, .topic = str_of("md.*.AAPL")},
        {.op = WSB_OP_UNSUB, .topic = str_of("md.AAPL"), .has_id = true, .id = 3},
        {.op = WSB_OP_PUB,
         .topic = str_of("md.NASDAQ.AAPL"),
         .data = {(const char *)data_map, sizeof(data_map)},
         .has_id = true,
         .id = 7,
         .confirm = true},
        {.op = WSB_OP_PUB, .topic = str_of("x"), .data = {(const char *)data_nil, 1}},
        {.op = WSB_OP_PUB,
         .topic = str_of("x"),
         .data = {(const char *)data_nil, 1},
         .has_id = true,
         .id = 70000},
        {.op = WSB_OP_ACK, .topic = str_of("md.AAPL"), .seq = 1ull << 40},
        {.op = WSB_OP_REPLAY, .topic = str_of("md.AAPL"), .has_from = true, .from = 1},
        {.op = WSB_OP_REPLAY,
         .topic = str_of("md.AAPL"),
         .has_from = true,
         .from = 5,
         .has_to = true,
         .to = 5,
         .has_id = true,
         .id = 0},
        {.op = WSB_OP_PING},
        {.op = WSB_OP_PING, .has_id = true, .id = 255},
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
        round_trip_request(&reqs[i]);
}

static void test_request_bytes(void **state)
{
    (void)state;
    /* op first, then the fields in the table's order; shortest encodings */
    uint8_t out[64];
    struct wsb_request ping = {.op = WSB_OP_PING, .has_id = true, .id = 7};
    uint8_t want_ping[] = {0x82, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0xa2, 'i', 'd', 0x07};
    assert_int_equal(wsb_request_encode(out, sizeof(out), &ping), sizeof(want_ping));
    assert_memory_equal(out, want_ping, sizeof(want_ping));

    struct wsb_request hello = {.op = WSB_OP_HELLO}; /* version 0 means "ours" */
    uint8_t want_hello[] = {0x82, 0xa2, 'o', 'p', 0xa5, 'h', 'e', 'l', 'l', 'o', 0xa1, 'v', 0x01};
    assert_int_equal(wsb_request_encode(out, sizeof(out), &hello), sizeof(want_hello));
    assert_memory_equal(out, want_hello, sizeof(want_hello));

    /* an op outside the enum writes nothing */
    struct wsb_request bad = {.op = (enum wsb_op)99};
    assert_int_equal(wsb_request_encode(out, sizeof(out), &bad), 0);
}

/* ------------------------------------------------------------------------ */
/* Broker envelopes.                                                        */

typedef size_t (*encode_fn)(uint8_t *out, size_t cap, const void *arg);

/* Encodes with fn at every cap below its real size (must give 0), at the
 * real size, then decodes the result; truncations are bad envelopes. */
static struct packed encode_all_caps(encode_fn fn, const void *arg)
{
    uint8_t big[4096];
    size_t n = fn(big, sizeof(big), arg);
    assert_true(n > 0);
    for (size_t cap = 0; cap < n; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        assert_int_equal(fn(small, cap, arg), 0);
        free(small);
    }
    uint8_t *exact = malloc(n);
    assert_int_equal(fn(exact, n, arg), n);
    assert_memory_equal(exact, big, n);
    free(exact);
    for (size_t cut = 0; cut < n; cut++) {
        struct packed t = copy_bytes(big, cut);
        struct wsb_event ev;
        assert_int_equal(wsb_event_decode(t.buf, t.len, &ev), WSB_ERR_BAD_ENVELOPE);
        free(t.buf);
    }
    return copy_bytes(big, n);
}

static struct wsb_event decode_event(const struct packed *p)
{
    struct wsb_event ev;
    enum wsb_err rc = wsb_event_decode(p->buf, p->len, &ev);
    if (rc != WSB_OK)
        fail_msg("event decode: %s", wsb_err_name(rc));
    return ev;
}

struct msg_args {
    const char *topic;
    uint64_t seq, ts;
    struct ws_str data;
    bool re;
};
static size_t enc_msg(uint8_t *o, size_t cap, const void *arg)
{
    const struct msg_args *a = arg;
    return wsb_encode_msg(o, cap, str_of(a->topic), a->seq, a->ts, a->data, a->re);
}

static void test_msg(void **state)
{
    (void)state;
    static const uint8_t data[] = {0x92, 0x01, 0xa1, 'x'};
    for (int re = 0; re <= 1; re++) {
        struct msg_args a = {"md.NASDAQ.AAPL", 42, 1764045600123456789ull,
                             (struct ws_str){(const char *)data, sizeof(data)}, re};
        struct packed p = encode_all_caps(enc_msg, &a);
        struct wsb_event ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_MSG);
        assert_str_same(ev.topic, str_of("md.NASDAQ.AAPL"));
        assert_true(ev.seq == 42 && ev.ts == 1764045600123456789ull);
        assert_int_equal(ev.data.len, sizeof(data));
        assert_memory_equal(ev.data.ptr, data, sizeof(data));
        assert_int_equal(ev.redelivered, re);
        assert_false(ev.has_id);
        assert_true(p.len <= wsb_msg_size_bound(a.topic ? strlen(a.topic) : 0, sizeof(data)));
        free(p.buf);
    }
    /* key order: op, topic, seq, ts, data, re */
    uint8_t out[64];
    size_t n = wsb_encode_msg(out, sizeof(out), str_of("t"), 1, 2,
                              (struct ws_str){(const char *)data, 1}, true);
    uint8_t want[] = {0x86, 0xa2, 'o',  'p', 0xa3, 'm', 's',  'g',  0xa5, 't',  'o', 'p',
                      'i',  'c',  0xa1, 't', 0xa3, 's', 'e',  'q',  0x01, 0xa2, 't', 's',
                      0x02, 0xa4, 'd',  'a', 't',  'a', 0x92, 0xa2, 'r',  'e',  0xc3};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    /* an empty data view is written as nil */
    n = wsb_encode_msg(out, sizeof(out), str_of("t"), 1, 2, (struct ws_str){NULL, 0}, false);
    struct packed p = copy_bytes(out, n);
    struct wsb_event ev = decode_event(&p);
    assert_int_equal(ev.data.len, 1);
    assert_int_equal((uint8_t)ev.data.ptr[0], 0xc0);
    free(p.buf);
}

static void test_msg_size_bound(void **state)
{
    (void)state;
    static uint8_t data[70000];
    static uint8_t out[71000];
    static char topic[256];
    memset(topic, 'a', sizeof(topic));
    size_t data_lens[] = {1, 2, 31, 32, 255, 256, 65535, 65536, 69999};
    for (size_t t = 1; t <= 255; t++) {
        for (size_t d = 0; d < sizeof(data_lens) / sizeof(data_lens[0]); d++) {
            size_t dl = data_lens[d];
            struct ws_str ts = {topic, t}, ds = {(const char *)data, dl};
            size_t bound = wsb_msg_size_bound(t, dl);
            size_t n = wsb_encode_msg(out, sizeof(out), ts, UINT64_MAX, UINT64_MAX, ds, true);
            assert_true(n > 0 && n <= bound);
            assert_int_equal(wsb_encode_msg(out, bound, ts, UINT64_MAX, UINT64_MAX, ds, true), n);
        }
    }
    /* topic lengths beyond the grammar still bounded (str16 header) */
    static char longtopic[70000];
    memset(longtopic, 'b', sizeof(longtopic));
    size_t n = wsb_encode_msg(out, sizeof(out), (struct ws_str){longtopic, 300}, 1, 1,
                              (struct ws_str){(const char *)data, 1}, true);
    assert_true(n > 0 && n <= wsb_msg_size_bound(300, 1));
    assert_true(wsb_msg_size_bound(SIZE_MAX, 1) == SIZE_MAX);
    assert_true(wsb_msg_size_bound(1, SIZE_MAX - 3) == SIZE_MAX);
}

static size_t enc_welcome(uint8_t *o, size_t cap, const void *arg)
{
    return wsb_encode_welcome(o, cap, str_of("3f9a0c1d2b4e5f60"), arg);
}

static void test_welcome(void **state)
{
    (void)state;
    struct wsb_limits lim = {123456789, 100, 7, 1ull << 33};
    struct packed p = encode_all_caps(enc_welcome, &lim);
    struct wsb_event ev = decode_event(&p);
    assert_int_equal(ev.kind, WSB_EV_WELCOME);
    assert_str_same(ev.session, str_of("3f9a0c1d2b4e5f60"));
    assert_memory_equal(&ev.limits, &lim, sizeof(lim));
    free(p.buf);
    p = encode_all_caps(enc_welcome, NULL);
    ev = decode_event(&p);
    assert_true(ev.limits.max_envelope == WSB_DEFAULT_MAX_ENVELOPE);
    assert_true(ev.limits.max_topic == WSB_DEFAULT_MAX_TOPIC);
    assert_true(ev.limits.max_subscriptions == WSB_DEFAULT_MAX_SUBSCRIPTIONS);
    assert_true(ev.limits.max_window == WSB_DEFAULT_MAX_WINDOW);
    free(p.buf);
}

struct id_args {
    bool has_id;
    uint64_t id;
};
static size_t enc_subscribed(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_subscribed(o, cap, a->has_id, a->id, str_of("md.*.AAPL"),
                                 str_of("md.NASDAQ.AAPL"), 41, 1);
}
static size_t enc_subscribed_pattern(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_subscribed(o, cap, a->has_id, a->id, str_of("md.*.AAPL"),
                                 (struct ws_str){NULL, 0}, 41, 1);
}
static size_t enc_confirm(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_confirm(o, cap, a->id, str_of("md.NASDAQ.AAPL"), 42);
}
static size_t enc_reject(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_reject(o, cap, a->has_id, a->id, WSB_ERR_OVERLOADED, "queue full");
}
static size_t enc_gap(uint8_t *o, size_t cap, const void *arg)
{
    (void)arg;
    return wsb_encode_gap(o, cap, str_of("md.AAPL"), 10, 20);
}
static size_t enc_replayed(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_replayed(o, cap, a->has_id, a->id, str_of("md.AAPL"), 3, 9, 7);
}
static size_t enc_error(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_error(o, cap, WSB_ERR_MISSING_FIELD, "missing field 'topic'", a->has_id,
                            a->id, a->has_id ? str_of("pub") : (struct ws_str){NULL, 0});
}
static size_t enc_pong(uint8_t *o, size_t cap, const void *arg)
{
    const struct id_args *a = arg;
    return wsb_encode_pong(o, cap, a->has_id, a->id);
}

static void test_broker_envelopes(void **state)
{
    (void)state;
    const struct id_args ids[] = {{false, 0}, {true, 0}, {true, 9}, {true, UINT64_MAX}};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const struct id_args *a = &ids[i];
        struct packed p = encode_all_caps(enc_subscribed, a);
        struct wsb_event ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_SUBSCRIBED);
        assert_int_equal(ev.has_id, a->has_id);
        assert_true(ev.id == a->id);
        assert_str_same(ev.topic, str_of("md.*.AAPL"));
        assert_str_same(ev.match, str_of("md.NASDAQ.AAPL"));
        assert_true(ev.head == 41 && ev.oldest == 1);
        free(p.buf);

        /* a pattern's own confirmation: no match, head or oldest */
        p = encode_all_caps(enc_subscribed_pattern, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_SUBSCRIBED);
        assert_int_equal(ev.has_id, a->has_id);
        assert_true(ev.id == a->id);
        assert_str_same(ev.topic, str_of("md.*.AAPL"));
        assert_null(ev.match.ptr);
        assert_true(ev.head == 0 && ev.oldest == 0);
        assert_null(memmem(p.buf, p.len, "head", 4));
        free(p.buf);

        p = encode_all_caps(enc_confirm, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_CONFIRM);
        assert_true(ev.has_id && ev.id == a->id);
        assert_str_same(ev.topic, str_of("md.NASDAQ.AAPL"));
        assert_true(ev.seq == 42);
        free(p.buf);

        p = encode_all_caps(enc_reject, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_REJECT);
        assert_int_equal(ev.has_id, a->has_id);
        assert_true(ev.id == a->id);
        assert_true(ev.code == WSB_ERR_OVERLOADED);
        assert_str_same(ev.text, str_of("queue full"));
        free(p.buf);

        p = encode_all_caps(enc_gap, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_GAP);
        assert_str_same(ev.topic, str_of("md.AAPL"));
        assert_true(ev.from == 10 && ev.to == 20);
        free(p.buf);

        p = encode_all_caps(enc_replayed, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_REPLAYED);
        assert_int_equal(ev.has_id, a->has_id);
        assert_true(ev.id == a->id);
        assert_true(ev.from == 3 && ev.to == 9 && ev.count == 7);
        free(p.buf);

        p = encode_all_caps(enc_error, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_ERROR);
        assert_true(ev.code == WSB_ERR_MISSING_FIELD);
        assert_str_same(ev.text, str_of("missing field 'topic'"));
        assert_int_equal(ev.has_id, a->has_id);
        assert_true(ev.id == a->id);
        assert_str_same(ev.op, a->has_id ? str_of("pub") : (struct ws_str){NULL, 0});
        free(p.buf);

        p = encode_all_caps(enc_pong, a);
        ev = decode_event(&p);
        assert_int_equal(ev.kind, WSB_EV_PONG);
        assert_int_equal(ev.has_id, a->has_id);
        assert_true(ev.id == a->id);
        free(p.buf);
    }
    /* a NULL text is written as an empty string */
    uint8_t out[64];
    size_t n = wsb_encode_error(out, sizeof(out), WSB_ERR_OVERLOADED, NULL, false, 0,
                                (struct ws_str){NULL, 0});
    struct packed p = copy_bytes(out, n);
    struct wsb_event ev = decode_event(&p);
    assert_int_equal(ev.text.len, 0);
    free(p.buf);
}

static void test_event_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        enum wsb_err code;
    } cases[] = {
        {"[1]", WSB_ERR_BAD_ENVELOPE},
        {"{\"op\":\"pong\"} <c0>", WSB_ERR_BAD_ENVELOPE},
        {"{\"id\":1}", WSB_ERR_UNKNOWN_OP},
        {"{\"op\":\"hello\"}", WSB_ERR_UNKNOWN_OP},
        {"{\"op\":1}", WSB_ERR_UNKNOWN_OP},
        {"{\"op\":\"msg\",\"topic\":\"a\",\"seq\":1,\"ts\":2}", WSB_ERR_MISSING_FIELD},
        {"{\"op\":\"msg\",\"topic\":\"a\",\"seq\":-1,\"ts\":2,\"data\":null}", WSB_ERR_BAD_FIELD},
        {"{\"op\":\"msg\",\"topic\":\"a\",\"seq\":1,\"ts\":2,\"data\":null,\"re\":1}",
         WSB_ERR_BAD_FIELD},
        {"{\"op\":\"pong\",\"id\":1,\"id\":2}", WSB_ERR_BAD_FIELD},
        {"{\"op\":\"confirm\",\"topic\":\"a\",\"seq\":1}", WSB_ERR_MISSING_FIELD},
        {"{\"op\":\"welcome\",\"v\":2,\"session\":\"s\",\"limits\":{}}", WSB_ERR_BAD_FIELD},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\",\"limits\":[]}", WSB_ERR_BAD_FIELD},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\"}", WSB_ERR_MISSING_FIELD},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\",\"limits\":{\"max_envelope\":1,"
         "\"max_topic\":2,\"max_subscriptions\":3}}",
         WSB_ERR_MISSING_FIELD},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\",\"limits\":{\"max_envelope\":1,"
         "\"max_topic\":2,\"max_subscriptions\":3,\"max_window\":\"x\"}}",
         WSB_ERR_BAD_FIELD},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\",\"limits\":{\"max_envelope\":1,"
         "\"max_topic\":2,\"max_subscriptions\":3,\"max_window\":4,\"max_topic\":2}}",
         WSB_ERR_BAD_FIELD},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\",\"limits\":{\"max_envelope\":1,"
         "\"future\":[1,{}],\"max_topic\":2,\"max_subscriptions\":3,\"max_window\":4}}",
         WSB_OK},
        {"{\"op\":\"welcome\",\"v\":1,\"session\":\"s\",\"limits\":{1:1}}", WSB_ERR_BAD_FIELD},
        {"{\"op\":\"error\",\"code\":1,\"text\":\"t\",\"ref\":\"x\"}", WSB_ERR_BAD_FIELD},
        {"{\"op\":\"subscribed\",\"topic\":\"a.*\"}", WSB_OK},
        {"{\"op\":\"subscribed\",\"topic\":\"a.*\",\"match\":\"a.b\",\"head\":1}",
         WSB_ERR_MISSING_FIELD},
        {"{\"op\":\"subscribed\",\"topic\":\"a.*\",\"match\":1,\"head\":1,\"oldest\":2}",
         WSB_ERR_BAD_FIELD},
        {"{\"op\":\"subscribed\",\"match\":\"a.b\",\"head\":1,\"oldest\":2}",
         WSB_ERR_MISSING_FIELD},
        {"{\"op\":\"error\",\"code\":1,\"text\":\"t\",\"ref\":3,\"extra\":{\"a\":[1,2]}}", WSB_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct packed p = pack(cases[i].json);
        struct wsb_event ev;
        enum wsb_err rc = wsb_event_decode(p.buf, p.len, &ev);
        if (rc != cases[i].code)
            fail_msg("%s: %s, want %s", cases[i].json, wsb_err_name(rc),
                     wsb_err_name(cases[i].code));
        free(p.buf);
    }
}

/* ------------------------------------------------------------------------ */
/* Requests from an independent encoder.                                    */

static void test_decode_independent(void **state)
{
    (void)state;
    struct wsb_request req;
    /* keys in any order, unknown keys with nested values, non-minimal ints */
    struct packed p =
        pack("{\"future\":{\"a\":[1,{\"b\":null},<d4 01 02>],\"c\":-5}, \"confirm\":true,"
             " \"data\":{\"bid\":189.1}, \"id\":<cf 00 00 00 00 00 00 00 07>,"
             " \"topic\":\"md.NASDAQ.AAPL\", \"x\":<c7 03 05 01 02 03>, \"op\":\"pub\"}");
    decode_ok(&p, &req);
    assert_views_inside(&req, &p);
    assert_int_equal(req.op, WSB_OP_PUB);
    assert_str_same(req.topic, str_of("md.NASDAQ.AAPL"));
    assert_true(req.has_id && req.id == 7 && req.confirm);
    struct packed data = pack("{\"bid\":189.1}");
    assert_str_same(req.data, (struct ws_str){(const char *)data.buf, data.len});
    free(data.buf);
    free(p.buf);

    /* positive signed encodings are uints too */
    p = pack("{\"op\":\"sub\",\"topic\":\"md.>\",\"id\":<d3 00 00 00 00 00 00 01 00>,"
             "\"window\":<d1 00 0a>,\"from\":<d0 05>,\"ack\":\"manual\",\"policy\":\"disconnect\","
             "\"snapshot\":false}");
    decode_ok(&p, &req);
    assert_int_equal(req.op, WSB_OP_SUB);
    assert_true(req.has_id && req.id == 256);
    assert_true(req.window == 10);
    assert_true(req.has_from && req.from == 5);
    assert_int_equal(req.ack, WSB_ACK_MANUAL);
    assert_int_equal(req.policy, WSB_POLICY_DISCONNECT);
    assert_false(req.snapshot);
    free(p.buf);

    /* defaults, and str8/str16 encodings of keys and values */
    p = pack("{<d9 02 6f 70>:<da 00 03 73 75 62>,\"topic\":<db 00 00 00 01 61>}");
    decode_ok(&p, &req);
    assert_int_equal(req.op, WSB_OP_SUB);
    assert_str_same(req.topic, str_of("a"));
    assert_false(req.has_id || req.has_from || req.snapshot);
    assert_true(req.window == WSB_DEFAULT_WINDOW);
    assert_int_equal(req.ack, WSB_ACK_NONE);
    assert_int_equal(req.policy, WSB_POLICY_DROP);
    free(p.buf);

    /* map16 / map32 headers for the envelope */
    p = pack("<de 00 01> \"op\" \"ping\"");
    decode_ok(&p, &req);
    assert_int_equal(req.op, WSB_OP_PING);
    free(p.buf);
    p = pack("<df 00 00 00 02> \"id\" 5 \"op\" \"ping\"");
    decode_ok(&p, &req);
    assert_true(req.has_id && req.id == 5);
    free(p.buf);

    /* hello with all fields; an id on an op without one is just unknown */
    p = pack("{\"op\":\"hello\",\"v\":1,\"name\":\"0123456789012345678901234567890123456789"
             "012345678901234567890123\",\"token\":\"\",\"session\":\"s\",\"id\":\"x\"}");
    decode_ok(&p, &req);
    assert_int_equal(req.name.len, 64);
    assert_int_equal(req.token.len, 0);
    assert_non_null(req.token.ptr);
    assert_false(req.has_id);
    free(p.buf);

    /* replay with from = to, ack */
    p = pack("{\"op\":\"replay\",\"topic\":\"a.b\",\"from\":3,\"to\":3}");
    decode_ok(&p, &req);
    assert_true(req.has_from && req.from == 3 && req.has_to && req.to == 3);
    free(p.buf);
    p = pack("{\"op\":\"ack\",\"topic\":\"a.b\",\"seq\":18446744073709551615}");
    decode_ok(&p, &req);
    assert_true(req.seq == UINT64_MAX);
    free(p.buf);

    /* limits: a window up to max_window; a smaller max_window lowers the default */
    struct wsb_limits lim = {1024, 10, 5, 500};
    struct wsb_decode_error err;
    p = pack("{\"op\":\"sub\",\"topic\":\"a\",\"window\":500}");
    assert_int_equal(wsb_request_decode(p.buf, p.len, &lim, &req, &err), WSB_OK);
    assert_true(req.window == 500);
    free(p.buf);
    p = pack("{\"op\":\"sub\",\"topic\":\"0123456789\"}");
    assert_int_equal(wsb_request_decode(p.buf, p.len, &lim, &req, &err), WSB_OK);
    assert_true(req.window == 500);
    free(p.buf);
}

/* `data` of every msgpack type, kept byte for byte, as the last key and not */
static void test_data_every_type(void **state)
{
    (void)state;
    static const char *const values[] = {
        "null",
        "true",
        "false",
        "0",
        "<cc 05>",
        "<cf ff ff ff ff ff ff ff ff>",
        "-1",
        "<d3 80 00 00 00 00 00 00 00>",
        "1.5",
        "<ca 3f 80 00 00>",
        "\"\"",
        "\"text\"",
        "<d9 01 41>",
        "<c4 00>",
        "<c5 00 03 01 02 03>",
        "<c6 00 00 00 01 ff>",
        "<d4 7f 00>",
        "<d8 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f>",
        "<c7 00 01>",
        "<c9 00 00 00 02 ff aa bb>",
        "[]",
        "{}",
        "[[[[[[[[[[]]]]]]]]]]",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":<c4 01 00>}",
        "<dc 00 02 01 02>",
        "<de 00 01 01 02>",
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct packed want = pack(values[i]);
        char json[512];
        for (int last = 0; last <= 1; last++) {
            if (last)
                snprintf(json, sizeof(json), "{\"op\":\"pub\",\"topic\":\"t\",\"data\":%s}",
                         values[i]);
            else
                snprintf(json, sizeof(json), "{\"data\":%s,\"op\":\"pub\",\"topic\":\"t\"}",
                         values[i]);
            struct packed p = pack(json);
            struct wsb_request req;
            decode_ok(&p, &req);
            assert_str_same(req.data, (struct ws_str){(const char *)want.buf, want.len});
            assert_views_inside(&req, &p);

            /* and through the broker's msg and the client's decoder */
            uint8_t out[256];
            size_t n = wsb_encode_msg(out, sizeof(out), req.topic, 1, 2, req.data, false);
            assert_true(n > 0 && n <= wsb_msg_size_bound(req.topic.len, req.data.len));
            struct packed m = copy_bytes(out, n);
            struct wsb_event ev = decode_event(&m);
            assert_str_same(ev.data, (struct ws_str){(const char *)want.buf, want.len});
            free(m.buf);
            free(p.buf);
        }
        free(want.buf);
    }
}

/* ------------------------------------------------------------------------ */
/* Every error code decode produces.                                        */

struct error_case {
    const char *json;
    enum wsb_err code;
    int ref;        /* -1: no ref; else err.has_id and err.id == ref */
    const char *op; /* err.op, or NULL */
};

static void check_error_case(const struct error_case *c, const struct wsb_limits *lim)
{
    struct packed p = pack(c->json);
    struct wsb_request req;
    struct wsb_decode_error err;
    enum wsb_err rc = wsb_request_decode(p.buf, p.len, lim, &req, &err);
    if (rc != c->code)
        fail_msg("%s: %s (%s), want %s", c->json, wsb_err_name(rc), err.text ? err.text : "",
                 wsb_err_name(c->code));
    assert_int_equal(err.code, c->code);
    assert_int_equal(err.text != NULL, c->code != WSB_OK);
    if (err.has_id != (c->ref >= 0) || (c->ref >= 0 && err.id != (uint64_t)c->ref))
        fail_msg("%s: ref %d/%d, want %d", c->json, err.has_id, (int)err.id, c->ref);
    if (c->op)
        assert_str_same(err.op, str_of(c->op));
    else
        assert_null(err.op.ptr);
    free(p.buf);
}

static void test_request_errors(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        /* bad_envelope */
        {"[\"op\",\"ping\"]", WSB_ERR_BAD_ENVELOPE, -1, NULL},
        {"1", WSB_ERR_BAD_ENVELOPE, -1, NULL},
        {"\"op\"", WSB_ERR_BAD_ENVELOPE, -1, NULL},
        {"<c1>", WSB_ERR_BAD_ENVELOPE, -1, NULL},
        {"{\"op\":\"ping\",\"id\":1} <c0>", WSB_ERR_BAD_ENVELOPE, 1, "ping"},
        {"{\"op\":\"ping\",\"id\":1} {}", WSB_ERR_BAD_ENVELOPE, 1, "ping"},
        {"{\"op\":\"ping\",\"id\":2,1:2}", WSB_ERR_BAD_ENVELOPE, 2, "ping"},
        {"{\"op\":\"ping\",<c4 02 69 64>:2}", WSB_ERR_BAD_ENVELOPE, -1, "ping"},
        {"{\"op\":\"ping\",\"id\":3,\"x\":<c1>}", WSB_ERR_BAD_ENVELOPE, 3, "ping"},
        {"<82> \"op\" \"ping\"", WSB_ERR_BAD_ENVELOPE, -1, "ping"},
        /* unknown_op */
        {"{}", WSB_ERR_UNKNOWN_OP, -1, NULL},
        {"{\"id\":4}", WSB_ERR_UNKNOWN_OP, 4, NULL},
        {"{\"op\":1,\"id\":4}", WSB_ERR_UNKNOWN_OP, 4, NULL},
        {"{\"op\":<c4 04 70 69 6e 67>}", WSB_ERR_UNKNOWN_OP, -1, NULL},
        {"{\"op\":\"publish\",\"id\":5}", WSB_ERR_UNKNOWN_OP, 5, "publish"},
        {"{\"op\":\"PING\"}", WSB_ERR_UNKNOWN_OP, -1, "PING"},
        {"{\"op\":\"welcome\"}", WSB_ERR_UNKNOWN_OP, -1, "welcome"},
        {"{\"op\":\"\"}", WSB_ERR_UNKNOWN_OP, -1, ""},
        {"{\"OP\":\"ping\"}", WSB_ERR_UNKNOWN_OP, -1, NULL},
        /* missing_field */
        {"{\"op\":\"hello\"}", WSB_ERR_MISSING_FIELD, -1, "hello"},
        {"{\"op\":\"sub\",\"id\":1}", WSB_ERR_MISSING_FIELD, 1, "sub"},
        {"{\"op\":\"unsub\",\"id\":2}", WSB_ERR_MISSING_FIELD, 2, "unsub"},
        {"{\"op\":\"pub\",\"data\":1,\"id\":3}", WSB_ERR_MISSING_FIELD, 3, "pub"},
        {"{\"op\":\"pub\",\"topic\":\"a\",\"id\":3}", WSB_ERR_MISSING_FIELD, 3, "pub"},
        {"{\"op\":\"pub\",\"topic\":\"a\",\"data\":1,\"confirm\":true}", WSB_ERR_MISSING_FIELD, -1,
         "pub"},
        {"{\"op\":\"ack\",\"seq\":1}", WSB_ERR_MISSING_FIELD, -1, "ack"},
        {"{\"op\":\"ack\",\"topic\":\"a\"}", WSB_ERR_MISSING_FIELD, -1, "ack"},
        {"{\"op\":\"replay\",\"from\":1,\"id\":6}", WSB_ERR_MISSING_FIELD, 6, "replay"},
        {"{\"op\":\"replay\",\"topic\":\"a\",\"to\":1,\"id\":6}", WSB_ERR_MISSING_FIELD, 6,
         "replay"},
        /* bad_field: types */
        {"{\"op\":\"hello\",\"v\":\"1\"}", WSB_ERR_BAD_FIELD, -1, "hello"},
        {"{\"op\":\"hello\",\"v\":1,\"name\":1}", WSB_ERR_BAD_FIELD, -1, "hello"},
        {"{\"op\":\"hello\",\"v\":1,\"token\":<c4 00>}", WSB_ERR_BAD_FIELD, -1, "hello"},
        {"{\"op\":\"hello\",\"v\":1,\"session\":null}", WSB_ERR_BAD_FIELD, -1, "hello"},
        {"{\"op\":\"sub\",\"topic\":1}", WSB_ERR_BAD_FIELD, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":-1}", WSB_ERR_BAD_FIELD, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":1.0}", WSB_ERR_BAD_FIELD, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":7,\"from\":\"1\"}", WSB_ERR_BAD_FIELD, 7, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":7,\"ack\":true}", WSB_ERR_BAD_FIELD, 7, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":7,\"window\":true}", WSB_ERR_BAD_FIELD, 7, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":7,\"snapshot\":1}", WSB_ERR_BAD_FIELD, 7, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"id\":7,\"policy\":0}", WSB_ERR_BAD_FIELD, 7, "sub"},
        {"{\"op\":\"unsub\",\"topic\":[]}", WSB_ERR_BAD_FIELD, -1, "unsub"},
        {"{\"op\":\"unsub\",\"topic\":\"a\",\"id\":\"x\"}", WSB_ERR_BAD_FIELD, -1, "unsub"},
        {"{\"op\":\"pub\",\"topic\":\"a\",\"data\":1,\"id\":8,\"confirm\":\"yes\"}",
         WSB_ERR_BAD_FIELD, 8, "pub"},
        {"{\"op\":\"pub\",\"topic\":\"a\",\"data\":1,\"id\":{}}", WSB_ERR_BAD_FIELD, -1, "pub"},
        {"{\"op\":\"ack\",\"topic\":\"a\",\"seq\":-3}", WSB_ERR_BAD_FIELD, -1, "ack"},
        {"{\"op\":\"replay\",\"topic\":\"a\",\"from\":null}", WSB_ERR_BAD_FIELD, -1, "replay"},
        {"{\"op\":\"replay\",\"topic\":\"a\",\"from\":1,\"to\":\"2\"}", WSB_ERR_BAD_FIELD, -1,
         "replay"},
        {"{\"op\":\"ping\",\"id\":false}", WSB_ERR_BAD_FIELD, -1, "ping"},
        /* bad_field: values */
        {"{\"op\":\"hello\",\"v\":1,\"name\":\"0123456789012345678901234567890123456789"
         "0123456789012345678901234\"}",
         WSB_ERR_BAD_FIELD, -1, "hello"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"ack\":\"auto\",\"id\":9}", WSB_ERR_BAD_FIELD, 9, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"ack\":\"Manual\"}", WSB_ERR_BAD_FIELD, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"policy\":\"block\"}", WSB_ERR_BAD_FIELD, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"window\":0}", WSB_ERR_BAD_FIELD, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"window\":65537}", WSB_ERR_BAD_FIELD, -1, "sub"},
        /* bad_field: duplicates of keys the op uses */
        {"{\"op\":\"ping\",\"id\":1,\"id\":2}", WSB_ERR_BAD_FIELD, 1, "ping"},
        {"{\"op\":\"ping\",\"op\":\"ping\"}", WSB_ERR_BAD_FIELD, -1, "ping"},
        {"{\"op\":\"pub\",\"topic\":\"a\",\"data\":1,\"data\":2}", WSB_ERR_BAD_FIELD, -1, "pub"},
        {"{\"op\":\"sub\",\"topic\":\"a\",\"topic\":\"a\"}", WSB_ERR_BAD_FIELD, -1, "sub"},
        /* bad_topic */
        {"{\"op\":\"sub\",\"topic\":\"\",\"id\":10}", WSB_ERR_BAD_TOPIC, 10, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"a..b\"}", WSB_ERR_BAD_TOPIC, -1, "sub"},
        {"{\"op\":\"sub\",\"topic\":\"md*\"}", WSB_ERR_BAD_TOPIC, -1, "sub"},
        {"{\"op\":\"unsub\",\"topic\":\">.a\"}", WSB_ERR_BAD_TOPIC, -1, "unsub"},
        {"{\"op\":\"pub\",\"topic\":\"md.*\",\"data\":1,\"id\":11}", WSB_ERR_BAD_TOPIC, 11, "pub"},
        {"{\"op\":\"pub\",\"topic\":\"a b\",\"data\":1}", WSB_ERR_BAD_TOPIC, -1, "pub"},
        {"{\"op\":\"ack\",\"topic\":\">\",\"seq\":1}", WSB_ERR_BAD_TOPIC, -1, "ack"},
        {"{\"op\":\"replay\",\"topic\":\"a.*\",\"from\":1}", WSB_ERR_BAD_TOPIC, -1, "replay"},
        /* unsupported_version */
        {"{\"op\":\"hello\",\"v\":2}", WSB_ERR_UNSUPPORTED_VERSION, -1, "hello"},
        {"{\"op\":\"hello\",\"v\":0}", WSB_ERR_UNSUPPORTED_VERSION, -1, "hello"},
        /* bad_range */
        {"{\"op\":\"replay\",\"topic\":\"a\",\"from\":0,\"id\":12}", WSB_ERR_BAD_RANGE, 12,
         "replay"},
        {"{\"op\":\"replay\",\"topic\":\"a\",\"from\":5,\"to\":4}", WSB_ERR_BAD_RANGE, -1,
         "replay"},
        {"{\"op\":\"replay\",\"topic\":\"a\",\"from\":0,\"to\":4}", WSB_ERR_BAD_RANGE, -1,
         "replay"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_error_case(&cases[i], NULL);

    /* topic length against limits and the grammar */
    char json[700], topic[300];
    memset(topic, 'x', sizeof(topic));
    snprintf(json, sizeof(json), "{\"op\":\"pub\",\"topic\":\"%.255s\",\"data\":1}", topic);
    struct error_case ok255 = {json, WSB_OK, -1, "pub"};
    check_error_case(&ok255, NULL);
    snprintf(json, sizeof(json), "{\"op\":\"pub\",\"topic\":\"%.256s\",\"data\":1}", topic);
    struct error_case bad256 = {json, WSB_ERR_BAD_TOPIC, -1, "pub"};
    check_error_case(&bad256, NULL);
    struct wsb_limits lim = {1 << 20, 10, 10, 100};
    struct error_case long11 = {"{\"op\":\"sub\",\"topic\":\"0123456789a\"}", WSB_ERR_BAD_TOPIC, -1,
                                "sub"};
    check_error_case(&long11, &lim);
    struct error_case window = {"{\"op\":\"sub\",\"topic\":\"a\",\"window\":101}",
                                WSB_ERR_BAD_FIELD, -1, "sub"};
    check_error_case(&window, &lim);

    /* nesting: the envelope map is level 1, so data may nest 63 deep */
    for (int depth = 62; depth <= 66; depth++) {
        int n = snprintf(json, sizeof(json), "{\"id\":1,\"op\":\"pub\",\"topic\":\"a\",\"data\":");
        for (int i = 0; i < depth; i++)
            json[n++] = '[';
        for (int i = 0; i < depth; i++)
            json[n++] = ']';
        snprintf(json + n, sizeof(json) - (size_t)n, "}");
        struct error_case deep = {json, depth <= 63 ? WSB_OK : WSB_ERR_BAD_ENVELOPE, 1, "pub"};
        check_error_case(&deep, NULL);
    }
}

static void test_too_large(void **state)
{
    (void)state;
    struct packed p = pack("{\"op\":\"ping\",\"id\":1}");
    struct wsb_limits lim = {p.len, 255, 10, 100};
    struct wsb_request req;
    struct wsb_decode_error err;
    assert_int_equal(wsb_request_decode(p.buf, p.len, &lim, &req, &err), WSB_OK);
    lim.max_envelope = p.len - 1;
    assert_int_equal(wsb_request_decode(p.buf, p.len, &lim, &req, &err), WSB_ERR_TOO_LARGE);
    assert_int_equal(err.code, WSB_ERR_TOO_LARGE);
    /* checked first: the bytes are not even looked at */
    assert_int_equal(wsb_request_decode(NULL, (size_t)1 << 20 | 1, NULL, &req, &err),
                     WSB_ERR_TOO_LARGE);
    free(p.buf);
}

/* Truncation of hand-written envelopes at every byte: always bad_envelope,
 * with whatever ref/op had been read before the cut. */
static void test_truncation_everywhere(void **state)
{
    (void)state;
    struct packed p = pack("{\"op\":\"sub\",\"id\":<cd 01 00>,\"topic\":\"md.*.AAPL\",\"x\":"
                           "{\"y\":[1,2,<c7 01 02 03>]},\"window\":10}");
    for (size_t cut = 0; cut < p.len; cut++) {
        struct packed t = copy_bytes(p.buf, cut);
        struct wsb_request req;
        struct wsb_decode_error err;
        assert_int_equal(wsb_request_decode(t.buf, t.len, NULL, &req, &err), WSB_ERR_BAD_ENVELOPE);
        /* {"op":"sub" is 8 bytes; "id":<cd 01 00> 6 more */
        assert_int_equal(err.op.ptr != NULL, cut >= 8);
        assert_int_equal(err.has_id, cut >= 14);
        if (err.has_id)
            assert_true(err.id == 256);
        free(t.buf);
    }
    free(p.buf);
}

static bool views_equal(struct ws_str a, struct ws_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Both decoders give the same verdict on buf, and the same fields. */
static void assert_decoders_agree(const uint8_t *buf, size_t len)
{
    struct wsb_event fast, general;
    enum wsb_err rc = wsb_event_decode(buf, len, &fast);
    assert_int_equal(rc, wsb_event_decode_general(buf, len, &general));
    if (rc != WSB_OK)
        return;
    assert_int_equal(fast.kind, general.kind);
    assert_true(views_equal(fast.topic, general.topic));
    assert_true(views_equal(fast.data, general.data));
    assert_true(fast.seq == general.seq && fast.ts == general.ts);
    assert_int_equal(fast.redelivered, general.redelivered);
    assert_int_equal(fast.has_id, general.has_id);
}

/* The fast path of wsb_event_decode reads the broker's own msg layout
 * (msg_template.c); it must read exactly what the general decoder reads, on
 * well-formed template envelopes and on every one-byte change of them. */
static void test_msg_template_fast_path_agrees(void **state)
{
    (void)state;
    static const uint8_t nested[] = {0x81, 0xa1, 'k', 0x92, 0x01, 0xc0}; /* {"k": [1, nil]} */
    static const uint8_t bin[] = {0xc4, 3, 1, 2, 3};
    static const uint8_t nil[] = {0xc0};
    const struct ws_str datas[] = {{(const char *)nested, sizeof(nested)},
                                   {(const char *)bin, sizeof(bin)},
                                   {(const char *)nil, sizeof(nil)}};
    char long_topic[255];
    memset(long_topic, 'x', sizeof(long_topic));
    const struct ws_str topics[] = {
        {"a", 1}, {long_topic, 31}, {long_topic, 32}, {long_topic, 255}};
    uint8_t env[400], re[420];
    for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
        for (size_t d = 0; d < sizeof(datas) / sizeof(datas[0]); d++) {
            struct wsb_msg_template tmpl;
            assert_int_equal(wsb_msg_template_write(env, sizeof(env), topics[t], datas[d], &tmpl),
                             0);
            wsb_msg_stamp(env, &tmpl, 0x0102030405060708ull, 1764045600123456789ull);
            size_t re_len = wsb_msg_write_redelivery(re, sizeof(re), env, tmpl.len);
            assert_true(re_len > 0);

            struct wsb_msg_view v;
            assert_true(wsb_msg_template_parse(env, tmpl.len, &v));
            assert_false(v.redelivered);
            assert_true(v.seq == 0x0102030405060708ull && v.ts == 1764045600123456789ull);
            assert_true(views_equal(v.topic, topics[t]) && views_equal(v.data, datas[d]));
            assert_true(wsb_msg_template_parse(re, re_len, &v));
            assert_true(v.redelivered);

            uint8_t *bufs[] = {env, re};
            size_t lens[] = {tmpl.len, re_len};
            for (int b = 0; b < 2; b++) {
                assert_decoders_agree(bufs[b], lens[b]);
                for (size_t cut = 0; cut < lens[b]; cut++)
                    assert_decoders_agree(bufs[b], cut);
                for (size_t i = 0; i < lens[b]; i++) {
                    static const uint8_t values[] = {0x00, 0x7f, 0x80, 0x85, 0x86, 0xa0,
                                                     0xc0, 0xc1, 0xcf, 0xd9, 0xff};
                    uint8_t saved = bufs[b][i];
                    for (size_t k = 0; k < sizeof(values); k++) {
                        bufs[b][i] = values[k];
                        assert_decoders_agree(bufs[b], lens[b]);
                    }
                    bufs[b][i] = saved;
                }
            }
        }
    }
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(wsb_err_name(WSB_ERR_BAD_ENVELOPE), "bad_envelope");
    assert_string_equal(wsb_err_name(WSB_ERR_TEXT_MESSAGE), "text_message");
    assert_string_equal(wsb_err_name(WSB_ERR_UNKNOWN_OP), "unknown_op");
    assert_string_equal(wsb_err_name(WSB_ERR_MISSING_FIELD), "missing_field");
    assert_string_equal(wsb_err_name(WSB_ERR_BAD_FIELD), "bad_field");
    assert_string_equal(wsb_err_name(WSB_ERR_TOO_LARGE), "too_large");
    assert_string_equal(wsb_err_name(WSB_ERR_BAD_TOPIC), "bad_topic");
    assert_string_equal(wsb_err_name(WSB_ERR_NOT_SUBSCRIBED), "not_subscribed");
    assert_string_equal(wsb_err_name(WSB_ERR_TOO_MANY_SUBSCRIPTIONS), "too_many_subscriptions");
    assert_string_equal(wsb_err_name(WSB_ERR_HELLO_REQUIRED), "hello_required");
    assert_string_equal(wsb_err_name(WSB_ERR_UNSUPPORTED_VERSION), "unsupported_version");
    assert_string_equal(wsb_err_name(WSB_ERR_BAD_RANGE), "bad_range");
    assert_string_equal(wsb_err_name(WSB_ERR_ALREADY_SUBSCRIBED), "already_subscribed");
    assert_string_equal(wsb_err_name(WSB_ERR_DUPLICATE_HELLO), "duplicate_hello");
    assert_string_equal(wsb_err_name(WSB_ERR_NOT_PERMITTED), "not_permitted");
    assert_string_equal(wsb_err_name(WSB_ERR_OVERLOADED), "overloaded");
    assert_string_equal(wsb_err_name(WSB_ERR_RATE_LIMITED), "rate_limited");
    assert_string_equal(wsb_err_name(WSB_ERR_AUTH_FAILED), "auth_failed");
    assert_string_equal(wsb_err_name((enum wsb_err)19), "unknown");
    assert_string_equal(wsb_err_name((enum wsb_err) - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trips),
        cmocka_unit_test(test_request_bytes),
        cmocka_unit_test(test_msg),
        cmocka_unit_test(test_msg_size_bound),
        cmocka_unit_test(test_welcome),
        cmocka_unit_test(test_broker_envelopes),
        cmocka_unit_test(test_event_errors),
        cmocka_unit_test(test_decode_independent),
        cmocka_unit_test(test_data_every_type),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_msg_template_fast_path_agrees),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

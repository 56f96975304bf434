/*
 * json_msgpack.c - JSON <-> msgpack for the command-line tools (see
 * json_msgpack.h).
 *
 * JSON -> msgpack streams the pull reader's tokens into msgpack-c's packer
 * (shortest encodings). A container's element count is unknown until its
 * end, so its header is reserved at the largest size (5 bytes) and, at the
 * end, written in its shortest form with the body moved down over the
 * unused bytes; strings likewise reserve the header for their raw length
 * and shrink once decoded. The moves cost O(bytes x depth) at worst, which
 * is nothing for a command line's payloads and bounded by JSON_MAX_DEPTH.
 *
 * msgpack -> JSON walks the value with the msgpack_reader cursor and an
 * explicit stack of open containers, so hostile nesting costs no recursion.
 */
#include "json_msgpack.h"

#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_order.h"
#include "json_reader.h"
#include "mp_buffer.h"
#include "msgpack_reader.h"

#define CONTAINER_HEADER_MAX 5 /* map32 / array32 / str32 */

/* ---- JSON -> msgpack ------------------------------------------------------ */

/* The shortest header for a container or str of n elements/bytes, written
 * at out (room for CONTAINER_HEADER_MAX). Returns its length. */
static size_t write_header(uint8_t *out, enum json_token_type kind, size_t n)
{
    struct mp_buffer o = mp_buffer_over(out, CONTAINER_HEADER_MAX);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, mp_buffer_write);
    if (kind == JSON_OBJECT_BEGIN)
        msgpack_pack_map(&pk, n);
    else if (kind == JSON_ARRAY_BEGIN)
        msgpack_pack_array(&pk, n);
    else
        msgpack_pack_str(&pk, n);
    return o.len;
}

/* Replaces the `reserved` header bytes at start with the shortest header for
 * n, moving what follows (up to o->len) down. */
static void settle_header(struct mp_buffer *o, size_t start, size_t reserved,
                          enum json_token_type kind, size_t n)
{
    uint8_t hdr[CONTAINER_HEADER_MAX];
    size_t h = write_header(hdr, kind, n);
    size_t body = start + reserved;
    memmove(o->buf + start + h, o->buf + body, o->len - body);
    memcpy(o->buf + start, hdr, h);
    o->len -= reserved - h;
}

static size_t str_header_size(size_t n)
{
    return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/* A string or key token, decoded, as msgpack str. */
static void put_string(struct mp_buffer *o, const struct json_token *t)
{
    size_t h = str_header_size(t->raw.len);
    if (o->overflow || h + t->raw.len > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    size_t start = o->len;
    size_t n = json_string_decode(t->raw, (char *)o->buf + start + h, t->raw.len);
    o->len = start + h + n;
    settle_header(o, start, h, JSON_STRING, n);
}

static void put_number(msgpack_packer *pk, struct ws_str raw)
{
    uint64_t u;
    int64_t i;
    double d;
    if (json_number_u64(raw, &u))
        msgpack_pack_uint64(pk, u);
    else if (json_number_i64(raw, &i))
        msgpack_pack_int64(pk, i);
    else if (json_number_double(raw, &d))
        msgpack_pack_double(pk, d);
    else
        msgpack_pack_double(pk, raw.len > 0 && raw.ptr[0] == '-' ? -HUGE_VAL : HUGE_VAL);
}

struct open_container {
    size_t start; /* where its reserved header is */
    size_t count; /* elements (arrays) or keys (maps) so far */
    enum json_token_type kind;
};

struct jm_result json_to_msgpack(const char *json, size_t len, uint8_t *out, size_t cap)
{
    struct json_reader r;
    json_reader_init(&r, json, len);
    struct mp_buffer o = mp_buffer_over(out, cap);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, mp_buffer_write);
    struct open_container stack[JSON_MAX_DEPTH + 1];
    unsigned depth = 0;
    for (;;) {
        struct json_token t;
        enum json_token_type type = json_next(&r, &t);
        if (type == JSON_ERROR)
            return (struct jm_result){JM_BAD_INPUT, 0, r.error, r.error_offset};
        if (type == JSON_END)
            break;
        if (o.overflow)
            continue; /* read on: a grammar error later is the better answer */
        /* an array counts every value; a map counts its keys */
        if (depth > 0 && type != JSON_OBJECT_END && type != JSON_ARRAY_END &&
            (stack[depth - 1].kind == JSON_ARRAY_BEGIN || type == JSON_KEY))
            stack[depth - 1].count++;
        switch (type) {
        case JSON_NULL:
            msgpack_pack_nil(&pk);
            break;
        case JSON_TRUE:
            msgpack_pack_true(&pk);
            break;
        case JSON_FALSE:
            msgpack_pack_false(&pk);
            break;
        case JSON_NUMBER:
            put_number(&pk, t.raw);
            break;
        case JSON_STRING:
        case JSON_KEY:
            put_string(&o, &t);
            break;
        case JSON_OBJECT_BEGIN:
        case JSON_ARRAY_BEGIN:
            if (CONTAINER_HEADER_MAX > o.cap - o.len) {
                o.overflow = true;
                break;
            }
            stack[depth++] = (struct open_container){o.len, 0, type};
            o.len += CONTAINER_HEADER_MAX;
            break;
        case JSON_OBJECT_END:
        case JSON_ARRAY_END: {
            struct open_container *oc = &stack[--depth];
            settle_header(&o, oc->start, CONTAINER_HEADER_MAX, oc->kind, oc->count);
            break;
        }
        default:
            break;
        }
    }
    if (o.overflow)
        return (struct jm_result){JM_NO_SPACE, 0, "the msgpack output buffer is too small", 0};
    return (struct jm_result){JM_OK, o.len, NULL, 0};
}

/* ---- msgpack -> JSON ------------------------------------------------------ */

struct text_out {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
};

static void put_bytes(struct text_out *o, const char *s, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_text(struct text_out *o, const char *s)
{
    put_bytes(o, s, strlen(s));
}

static void put_json_string(struct text_out *o, const char *s, size_t n)
{
    if (o->overflow)
        return;
    size_t room = o->cap - o->len;
    size_t w = json_write_string(o->buf + o->len, room, s, n);
    if (w > room)
        o->overflow = true;
    else
        o->len += w;
}

static void put_base64_string(struct text_out *o, const uint8_t *p, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    put_bytes(o, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
                     i + 1 < n ? alphabet[v >> 6 & 63] : '=', i + 2 < n ? alphabet[v & 63] : '='};
        put_bytes(o, q, 4);
    }
    put_bytes(o, "\"", 1);
}

static void put_double(struct text_out *o, double d)
{
    if (!isfinite(d)) {
        put_text(o, "null");
        return;
    }
    char text[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (strtod(text, NULL) == d)
            break;
    }
    if (strpbrk(text, ".eEn") == NULL)
        strcat(text, ".0");
    put_text(o, text);
}

/* A negative integer or a float at the cursor (mp_peek_kind said which),
 * as JSON. The cursor's bounds were checked by mp_skip over `span`. */
static void put_number_span(struct text_out *o, struct ws_str span)
{
    const uint8_t *p = (const uint8_t *)span.ptr;
    char text[32];
    switch (p[0]) {
    case 0xca: {
        uint32_t bits = (uint32_t)be_read(p + 1, 4);
        float f;
        memcpy(&f, &bits, 4);
        put_double(o, f);
        return;
    }
    case 0xcb: {
        uint64_t bits = be_read(p + 1, 8);
        double d;
        memcpy(&d, &bits, 8);
        put_double(o, d);
        return;
    }
    case 0xd0:
        snprintf(text, sizeof text, "%d", (int8_t)p[1]);
        break;
    case 0xd1:
        snprintf(text, sizeof text, "%d", (int16_t)be_read(p + 1, 2));
        break;
    case 0xd2:
        snprintf(text, sizeof text, "%ld", (long)(int32_t)be_read(p + 1, 4));
        break;
    case 0xd3:
        snprintf(text, sizeof text, "%lld", (long long)(int64_t)be_read(p + 1, 8));
        break;
    default: /* negative fixint */
        snprintf(text, sizeof text, "%d", (int8_t)p[0]);
        break;
    }
    put_text(o, text);
}

/* {"$ext":TYPE,"data":"<base64>"} from the raw bytes of an ext value. */
static void put_ext(struct text_out *o, struct ws_str span)
{
    const uint8_t *p = (const uint8_t *)span.ptr;
    size_t skip = p[0] >= 0xd4 && p[0] <= 0xd8 ? 1 : p[0] == 0xc7 ? 2 : p[0] == 0xc8 ? 3 : 5;
    char text[32];
    snprintf(text, sizeof text, "{\"$ext\":%d,\"data\":", (int8_t)p[skip]);
    put_text(o, text);
    put_base64_string(o, p + skip + 1, span.len - skip - 1);
    put_text(o, "}");
}

struct open_value {
    uint64_t total;     /* values inside: n for an array, 2n for a map */
    uint64_t remaining; /* values not yet written */
    bool map;
};

static struct jm_result bad(const struct mp_cursor *c, const char *why)
{
    return (struct jm_result){JM_BAD_INPUT, 0, why, c->pos};
}

static const char *status_text(enum mp_status st)
{
    switch (st) {
    case MP_TRUNCATED:
        return "truncated msgpack";
    case MP_MALFORMED:
        return "malformed msgpack (byte 0xc1)";
    case MP_TOO_DEEP:
        return "msgpack nested too deep";
    default:
        return "unreadable msgpack";
    }
}

struct jm_result msgpack_to_json(const uint8_t *mp, size_t len, char *out, size_t cap)
{
    struct mp_cursor c = mp_cursor_make(mp, len);
    struct text_out o = {out, cap, 0, false};
    struct open_value stack[MP_MAX_DEPTH];
    unsigned depth = 0;
    for (;;) {
        bool key = false;
        if (depth > 0) {
            struct open_value *top = &stack[depth - 1];
            if (top->remaining == 0) {
                put_text(&o, top->map ? "}" : "]");
                if (--depth == 0)
                    break;
                continue;
            }
            uint64_t idx = top->total - top->remaining--;
            key = top->map && idx % 2 == 0;
            if (top->map && !key)
                put_text(&o, ":");
            else if (idx > 0)
                put_text(&o, ",");
        }
        enum mp_kind kind;
        enum mp_status st = mp_peek_kind(&c, &kind);
        if (st != MP_OK)
            return bad(&c, status_text(st));
        struct ws_str s;
        uint64_t u;
        uint32_t n;
        bool b;
        if (key && kind != MP_STR && kind != MP_UINT && kind != MP_NEGINT)
            return bad(&c, "a map key that is not a string or an integer");
        if (key && kind != MP_STR)
            put_text(&o, "\"");
        switch (kind) {
        case MP_NIL:
            mp_read_nil(&c);
            put_text(&o, "null");
            break;
        case MP_BOOL:
            mp_read_bool(&c, &b);
            put_text(&o, b ? "true" : "false");
            break;
        case MP_UINT: {
            if ((st = mp_read_uint(&c, &u)) != MP_OK)
                return bad(&c, status_text(st));
            char text[24];
            snprintf(text, sizeof text, "%llu", (unsigned long long)u);
            put_text(&o, text);
            break;
        }
        case MP_NEGINT:
        case MP_FLOAT:
            if ((st = mp_skip(&c, 0, &s)) != MP_OK)
                return bad(&c, status_text(st));
            put_number_span(&o, s);
            break;
        case MP_STR:
            if ((st = mp_read_str(&c, &s)) != MP_OK)
                return bad(&c, status_text(st));
            put_json_string(&o, s.ptr, s.len);
            break;
        case MP_BIN:
            if (depth >= JSON_MAX_DEPTH) /* written as an object: one level more */
                return bad(&c, "msgpack nested too deep for JSON");
            if ((st = mp_read_bin(&c, &s)) != MP_OK)
                return bad(&c, status_text(st));
            put_text(&o, "{\"$bin\":");
            put_base64_string(&o, (const uint8_t *)s.ptr, s.len);
            put_text(&o, "}");
            break;
        case MP_EXT:
            if (depth >= JSON_MAX_DEPTH)
                return bad(&c, "msgpack nested too deep for JSON");
            if ((st = mp_skip(&c, 0, &s)) != MP_OK)
                return bad(&c, status_text(st));
            put_ext(&o, s);
            break;
        case MP_ARRAY:
        case MP_MAP:
            if (depth == MP_MAX_DEPTH)
                return bad(&c, "msgpack nested too deep");
            st = kind == MP_MAP ? mp_read_map(&c, &n) : mp_read_array(&c, &n);
            if (st != MP_OK)
                return bad(&c, status_text(st));
            stack[depth++] = (struct open_value){kind == MP_MAP ? 2ull * n : n,
                                                 kind == MP_MAP ? 2ull * n : n, kind == MP_MAP};
            put_text(&o, kind == MP_MAP ? "{" : "[");
            break;
        }
        if (key && kind != MP_STR)
            put_text(&o, "\"");
        if (depth == 0)
            break;
    }
    if (!mp_at_end(&c))
        return bad(&c, "bytes after the msgpack value");
    if (o.overflow)
        return (struct jm_result){JM_NO_SPACE, 0, "the JSON output buffer is too small", 0};
    return (struct jm_result){JM_OK, o.len, NULL, 0};
}

/*
 * msgpack_reader.c - reads msgpack values in place (see msgpack_reader.h).
 *
 * One function, read_head, knows the msgpack format table: it decodes the
 * header of the value at a position into its kind, its number (an integer's
 * value, a container's element count, a bool) and, for str/bin/ext, where
 * the payload lies, having checked that all of it is inside the input. The
 * typed reads and mp_skip are thin layers over it, so the byte layout is
 * written down exactly once.
 */
#include "msgpack_reader.h"

#include "byte_order.h"

struct mp_head {
    enum mp_kind kind;
    uint64_t num;    /* integer bits, element count, or bool */
    size_t body;     /* str/bin: offset of the payload */
    size_t body_len; /* str/bin: payload length */
    size_t next;     /* offset after the value (after the header for containers) */
};

/* A header of hdr bytes followed by a payload whose length is a big-endian
 * integer of lbytes bytes at p + 1 (plus extra bytes: ext's type byte). */
static enum mp_status read_sized(const uint8_t *p, size_t avail, size_t lbytes, size_t extra,
                                 enum mp_kind kind, struct mp_head *h, size_t pos)
{
    if (avail < 1 + lbytes)
        return MP_TRUNCATED;
    size_t n = (size_t)be_read(p + 1, lbytes);
    size_t hdr = 1 + lbytes + extra;
    if (hdr > avail || n > avail - hdr)
        return MP_TRUNCATED;
    h->kind = kind;
    h->body = pos + hdr;
    h->body_len = n;
    h->next = pos + hdr + n;
    return MP_OK;
}

/* A scalar of n bytes after the type byte. */
static enum mp_status read_fixed(const uint8_t *p, size_t avail, size_t n, enum mp_kind kind,
                                 struct mp_head *h, size_t pos)
{
    if (avail < 1 + n)
        return MP_TRUNCATED;
    h->kind = kind;
    h->num = kind == MP_FLOAT || kind == MP_EXT ? 0 : be_read(p + 1, n);
    h->next = pos + 1 + n;
    return MP_OK;
}

static enum mp_status read_count(const uint8_t *p, size_t avail, size_t n, enum mp_kind kind,
                                 struct mp_head *h, size_t pos)
{
    if (avail < 1 + n)
        return MP_TRUNCATED;
    h->kind = kind;
    h->num = be_read(p + 1, n);
    h->next = pos + 1 + n;
    return MP_OK;
}

static inline enum mp_status read_head(const uint8_t *buf, size_t len, size_t pos,
                                       struct mp_head *h)
{
    if (pos >= len)
        return MP_TRUNCATED;
    const uint8_t *p = buf + pos;
    size_t avail = len - pos;
    uint8_t b = p[0];

    h->num = 0;
    h->body = 0;
    h->body_len = 0;
    h->next = pos + 1;
    if (b <= 0x7f) {
        h->kind = MP_UINT;
        h->num = b;
        return MP_OK;
    }
    if (b >= 0xe0) {
        h->kind = MP_NEGINT;
        h->num = (uint64_t)(int64_t)(int8_t)b;
        return MP_OK;
    }
    if (b <= 0x8f) {
        h->kind = MP_MAP;
        h->num = b & 0x0f;
        return MP_OK;
    }
    if (b <= 0x9f) {
        h->kind = MP_ARRAY;
        h->num = b & 0x0f;
        return MP_OK;
    }
    if (b <= 0xbf) {
        size_t n = b & 0x1f;
        if (n > avail - 1)
            return MP_TRUNCATED;
        h->kind = MP_STR;
        h->body = pos + 1;
        h->body_len = n;
        h->next = pos + 1 + n;
        return MP_OK;
    }
    switch (b) {
    case 0xc0:
        h->kind = MP_NIL;
        return MP_OK;
    case 0xc1:
        return MP_MALFORMED;
    case 0xc2:
    case 0xc3:
        h->kind = MP_BOOL;
        h->num = b & 1;
        return MP_OK;
    case 0xc4:
        return read_sized(p, avail, 1, 0, MP_BIN, h, pos);
    case 0xc5:
        return read_sized(p, avail, 2, 0, MP_BIN, h, pos);
    case 0xc6:
        return read_sized(p, avail, 4, 0, MP_BIN, h, pos);
    case 0xc7:
        return read_sized(p, avail, 1, 1, MP_EXT, h, pos);
    case 0xc8:
        return read_sized(p, avail, 2, 1, MP_EXT, h, pos);
    case 0xc9:
        return read_sized(p, avail, 4, 1, MP_EXT, h, pos);
    case 0xca:
        return read_fixed(p, avail, 4, MP_FLOAT, h, pos);
    case 0xcb:
        return read_fixed(p, avail, 8, MP_FLOAT, h, pos);
    case 0xcc:
        return read_fixed(p, avail, 1, MP_UINT, h, pos);
    case 0xcd:
        return read_fixed(p, avail, 2, MP_UINT, h, pos);
    case 0xce:
        return read_fixed(p, avail, 4, MP_UINT, h, pos);
    case 0xcf:
        return read_fixed(p, avail, 8, MP_UINT, h, pos);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t n = (size_t)1 << (b - 0xd0);
        enum mp_status st = read_fixed(p, avail, n, MP_UINT, h, pos);
        if (st != MP_OK)
            return st;
        /* sign-extend; a negative value is its own kind */
        if (n < 8 && (h->num >> (8 * n - 1)) & 1)
            h->num |= ~(uint64_t)0 << (8 * n);
        if (h->num >> 63)
            h->kind = MP_NEGINT;
        return MP_OK;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        /* fixext: a type byte and 1, 2, 4, 8 or 16 data bytes */
        return read_fixed(p, avail, 1 + ((size_t)1 << (b - 0xd4)), MP_EXT, h, pos);
    case 0xd9:
        return read_sized(p, avail, 1, 0, MP_STR, h, pos);
    case 0xda:
        return read_sized(p, avail, 2, 0, MP_STR, h, pos);
    case 0xdb:
        return read_sized(p, avail, 4, 0, MP_STR, h, pos);
    case 0xdc:
        return read_count(p, avail, 2, MP_ARRAY, h, pos);
    case 0xdd:
        return read_count(p, avail, 4, MP_ARRAY, h, pos);
    case 0xde:
        return read_count(p, avail, 2, MP_MAP, h, pos);
    default: /* 0xdf */
        return read_count(p, avail, 4, MP_MAP, h, pos);
    }
}

enum mp_status mp_peek_kind(const struct mp_cursor *c, enum mp_kind *kind)
{
    struct mp_head h;
    enum mp_status st = read_head(c->buf, c->len, c->pos, &h);
    if (st == MP_OK)
        *kind = h.kind;
    return st;
}

/* Reads the head of the next value and, when it is of the wanted kind,
 * moves past it. */
static enum mp_status read_kind(struct mp_cursor *c, enum mp_kind want, struct mp_head *h)
{
    enum mp_status st = read_head(c->buf, c->len, c->pos, h);
    if (st != MP_OK)
        return st;
    if (h->kind != want)
        return MP_WRONG_TYPE;
    c->pos = h->next;
    return MP_OK;
}

enum mp_status mp_read_map(struct mp_cursor *c, uint32_t *count)
{
    if (c->pos < c->len && (c->buf[c->pos] & 0xf0) == 0x80) { /* fast path: fixmap */
        *count = c->buf[c->pos++] & 0x0f;
        return MP_OK;
    }
    struct mp_head h;
    enum mp_status st = read_kind(c, MP_MAP, &h);
    if (st == MP_OK)
        *count = (uint32_t)h.num;
    return st;
}

enum mp_status mp_read_array(struct mp_cursor *c, uint32_t *count)
{
    struct mp_head h;
    enum mp_status st = read_kind(c, MP_ARRAY, &h);
    if (st == MP_OK)
        *count = (uint32_t)h.num;
    return st;
}

static enum mp_status read_body(struct mp_cursor *c, enum mp_kind want, struct ws_str *s)
{
    struct mp_head h;
    enum mp_status st = read_kind(c, want, &h);
    if (st == MP_OK) {
        s->ptr = (const char *)c->buf + h.body;
        s->len = h.body_len;
    }
    return st;
}

enum mp_status mp_read_str(struct mp_cursor *c, struct ws_str *s)
{
    /* fast path: keys and short values are fixstr */
    if (c->pos < c->len && (c->buf[c->pos] & 0xe0) == 0xa0) {
        size_t n = c->buf[c->pos] & 0x1f;
        if (n > c->len - c->pos - 1)
            return MP_TRUNCATED;
        s->ptr = (const char *)c->buf + c->pos + 1;
        s->len = n;
        c->pos += 1 + n;
        return MP_OK;
    }
    return read_body(c, MP_STR, s);
}

enum mp_status mp_read_bin(struct mp_cursor *c, struct ws_str *s)
{
    return read_body(c, MP_BIN, s);
}

enum mp_status mp_read_uint(struct mp_cursor *c, uint64_t *v)
{
    /* fast paths: positive fixint, and uint 64 (the broker's fixed-width seq and ts) */
    if (c->pos < c->len && c->buf[c->pos] <= 0x7f) {
        *v = c->buf[c->pos++];
        return MP_OK;
    }
    if (c->pos < c->len && c->buf[c->pos] == 0xcf && c->len - c->pos >= 9) {
        *v = be_read(c->buf + c->pos + 1, 8);
        c->pos += 9;
        return MP_OK;
    }
    struct mp_head h;
    enum mp_status st = read_kind(c, MP_UINT, &h);
    if (st == MP_OK)
        *v = h.num;
    return st;
}

enum mp_status mp_read_bool(struct mp_cursor *c, bool *v)
{
    struct mp_head h;
    enum mp_status st = read_kind(c, MP_BOOL, &h);
    if (st == MP_OK)
        *v = h.num != 0;
    return st;
}

enum mp_status mp_read_nil(struct mp_cursor *c)
{
    struct mp_head h;
    return read_kind(c, MP_NIL, &h);
}

/* The size of the value at p when it is one of the scalars envelopes are
 * made of (fixint, fixstr, bool, nil, bin 8, str 8, uint 8..64) and all
 * of it is inside avail (> 0) bytes; else 0, and read_head decides. */
static inline size_t common_scalar_size(const uint8_t *p, size_t avail)
{
    uint8_t b = p[0];
    size_t n;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        n = 1;
    else if ((b & 0xe0) == 0xa0)
        n = 1 + (size_t)(b & 0x1f);
    else if ((b == 0xc4 || b == 0xd9) && avail >= 2)
        n = 2 + (size_t)p[1];
    else if (b >= 0xcc && b <= 0xcf)
        n = 1 + ((size_t)1 << (b - 0xcc));
    else
        return 0;
    return n <= avail ? n : 0;
}

enum mp_status mp_skip(struct mp_cursor *c, unsigned max_depth, struct ws_str *span)
{
    size_t scalar = c->pos < c->len ? common_scalar_size(c->buf + c->pos, c->len - c->pos) : 0;
    if (scalar > 0) { /* fast path: most envelope values */
        if (span) {
            span->ptr = (const char *)c->buf + c->pos;
            span->len = scalar;
        }
        c->pos += scalar;
        return MP_OK;
    }

    /* left[d] = values still to read in the container at depth d + 1 once
     * the one being read now is done; pending = values left at this depth. */
    uint64_t left[MP_MAX_DEPTH];
    unsigned depth = 0;
    uint64_t pending = 1;
    size_t pos = c->pos;
    if (max_depth > MP_MAX_DEPTH)
        max_depth = MP_MAX_DEPTH;

    while (pending > 0) {
        struct mp_head h;
        enum mp_status st = read_head(c->buf, c->len, pos, &h);
        if (st != MP_OK)
            return st;
        pos = h.next;
        pending--;
        if (h.kind == MP_MAP || h.kind == MP_ARRAY) {
            if (depth >= max_depth)
                return MP_TOO_DEEP;
            uint64_t n = h.kind == MP_MAP ? 2 * h.num : h.num;
            if (n > 0) {
                left[depth++] = pending;
                pending = n;
            }
        }
        while (pending == 0 && depth > 0)
            pending = left[--depth];
    }
    if (span) {
        span->ptr = (const char *)c->buf + c->pos;
        span->len = pos - c->pos;
    }
    c->pos = pos;
    return MP_OK;
}

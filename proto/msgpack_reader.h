/*
 * msgpack_reader.h - a zero-copy cursor over msgpack bytes.
 *
 * The envelope decoder needs views into the input (strings, and a publish's
 * `data` as its exact raw bytes), so it reads msgpack itself instead of
 * unpacking into msgpack-c's object tree. The cursor reads one value at a
 * time: container headers, scalars, or a whole value skipped as a span.
 *
 * Every read is bounds-checked against len and never reads past it. On any
 * failure the cursor does not move, so a caller may retry with another type.
 * Nothing allocates; skipping is iterative with a fixed stack, so hostile
 * nesting costs neither recursion nor memory.
 */
#ifndef WSB_MSGPACK_READER_H
#define WSB_MSGPACK_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_str.h"

/* The deepest nesting mp_skip can follow: containers within containers,
 * the outermost one counting as 1. */
#define MP_MAX_DEPTH 64

enum mp_status {
    MP_OK = 0,
    MP_TRUNCATED,  /* the value runs past the end of the input */
    MP_MALFORMED,  /* the never-used byte 0xc1 */
    MP_WRONG_TYPE, /* a well-formed value, but not the one asked for */
    MP_TOO_DEEP,   /* nested deeper than the limit given to mp_skip */
};

enum mp_kind {
    MP_NIL,
    MP_BOOL,
    MP_UINT, /* any non-negative integer, in any integer encoding */
    MP_NEGINT,
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
};

struct mp_cursor {
    const uint8_t *buf;
    size_t len;
    size_t pos; /* next byte to read; 0 <= pos <= len */
};

static inline struct mp_cursor mp_cursor_make(const uint8_t *buf, size_t len)
{
    struct mp_cursor c = {buf, len, 0};
    return c;
}

static inline bool mp_at_end(const struct mp_cursor *c)
{
    return c->pos == c->len;
}

/* The kind of the next value (reading only its first byte). */
enum mp_status mp_peek_kind(const struct mp_cursor *c, enum mp_kind *kind);

/* Container headers: the element count (a map of n pairs holds 2n values,
 * which the caller reads after the header). */
enum mp_status mp_read_map(struct mp_cursor *c, uint32_t *count);
enum mp_status mp_read_array(struct mp_cursor *c, uint32_t *count);

/* str / bin: a view of the payload inside the input. */
enum mp_status mp_read_str(struct mp_cursor *c, struct ws_str *s);
enum mp_status mp_read_bin(struct mp_cursor *c, struct ws_str *s);

/* A non-negative integer in any encoding (positive fixint, uint 8..64, and
 * int 8..64 holding a value >= 0). Negative values are MP_WRONG_TYPE. */
enum mp_status mp_read_uint(struct mp_cursor *c, uint64_t *v);

enum mp_status mp_read_bool(struct mp_cursor *c, bool *v);
enum mp_status mp_read_nil(struct mp_cursor *c);

/* Steps over one complete value of any type, containers included, nested at
 * most max_depth deep (clamped to MP_MAX_DEPTH; a scalar has depth 0, an
 * empty or flat container depth 1). span, when not NULL, receives the raw
 * bytes of the value. */
enum mp_status mp_skip(struct mp_cursor *c, unsigned max_depth, struct ws_str *span);

#endif

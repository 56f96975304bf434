/*
 * mp_buffer.h - a caller-owned, fixed-size buffer as msgpack-c's write
 * target.
 *
 * msgpack-c's packer writes through a callback; every encoder in proto/
 * packs into memory the caller owns (an outbuf, a stack array), never
 * growing it. A write that does not fit marks the buffer overflowed and
 * fails, and every later write fails too, so an encoder checks once, at the
 * end, whether its whole output fit.
 */
#ifndef WSB_MP_BUFFER_H
#define WSB_MP_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mp_buffer {
    uint8_t *buf; /* borrowed */
    size_t cap;
    size_t len;
    bool overflow;
};

static inline struct mp_buffer mp_buffer_over(uint8_t *buf, size_t cap)
{
    return (struct mp_buffer){buf, cap, 0, false};
}

/* msgpack_packer's write callback: data is a struct mp_buffer. */
static inline int mp_buffer_write(void *data, const char *bytes, size_t n)
{
    struct mp_buffer *o = data;
    if (n == 0)
        return 0;
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return -1;
    }
    memcpy(o->buf + o->len, bytes, n);
    o->len += n;
    return 0;
}

#endif

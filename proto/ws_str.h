/*
 * ws_str.h - a borrowed view of bytes inside somebody else's buffer.
 *
 * The proto/ parsers never copy: everything they hand back is a (ptr, len)
 * view into the caller's input, valid for as long as that input is.
 */
#ifndef WS_STR_H
#define WS_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct ws_str {
    const char *ptr; /* NULL when absent */
    size_t len;
};

static inline bool ws_str_present(struct ws_str s)
{
    return s.ptr != NULL;
}

static inline bool ws_str_eq(struct ws_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

#endif

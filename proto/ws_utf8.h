/*
 * ws_utf8.h - incremental UTF-8 validation for text messages (RFC 3629).
 *
 * The state carries a partial code point across calls, so a text message can
 * be validated fragment by fragment and rejected at the first byte that can
 * never be part of valid UTF-8 (overlongs, surrogates, > U+10FFFF included).
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_UTF8_ACCEPT 0u /* at a code point boundary */
#define WS_UTF8_REJECT 1u /* invalid; sticky */

/* Feeds len bytes; returns the new state (WS_UTF8_REJECT as soon as invalid). */
uint32_t ws_utf8_feed(uint32_t state, const uint8_t *s, size_t len);

/* Validates a complete string in one go. */
static inline bool ws_utf8_valid(const uint8_t *s, size_t len)
{
    return ws_utf8_feed(WS_UTF8_ACCEPT, s, len) == WS_UTF8_ACCEPT;
}

#endif

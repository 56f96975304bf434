/*
 * ws_close.c - which close codes a peer may send, and the shape of a close
 * frame's payload (RFC 6455 5.5.1 and 7.4).
 *
 * The valid set follows what Autobahn's test suite (cases 7.7.x and 7.9.x)
 * expects: 1000-1003, 1007-1011 and the application ranges 3000-4999.
 * 1004-1006 and 1015 are reserved and never sent; 1012-2999 are left to
 * future RFCs, so an endpoint that does not know them must fail.
 */
#include "ws_close.h"

#include <string.h>

#include "ws_utf8.h"

#define WS_CLOSE_MAX_REASON 123 /* 125-byte control payload minus the code */

int ws_close_code_is_valid(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

enum ws_close_code ws_close_payload_check(const uint8_t *payload, size_t len, uint16_t *code)
{
    *code = WS_CLOSE_NO_STATUS;
    if (len == 0)
        return WS_CLOSE_NONE;
    if (len == 1)
        return WS_CLOSE_PROTOCOL_ERROR;
    uint16_t c = (uint16_t)(payload[0] << 8 | payload[1]);
    if (!ws_close_code_is_valid(c))
        return WS_CLOSE_PROTOCOL_ERROR;
    if (!ws_utf8_valid(payload + 2, len - 2))
        return WS_CLOSE_INVALID_PAYLOAD;
    *code = c;
    return WS_CLOSE_NONE;
}

size_t ws_close_payload_write(uint8_t *out, uint16_t code, const char *reason)
{
    /* "No status" is said by sending no payload at all. */
    if (code == WS_CLOSE_NONE || code == WS_CLOSE_NO_STATUS)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strlen(reason) : 0;
    if (n > WS_CLOSE_MAX_REASON) {
        /* Cut before the code point that straddles the limit: back up over
         * continuation bytes (10xxxxxx) to the byte that starts it. */
        n = WS_CLOSE_MAX_REASON;
        while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(out + 2, reason, n);
    return 2 + n;
}

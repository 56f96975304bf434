/*
 * ws_close.h - WebSocket close codes (RFC 6455 section 7.4) and the rules
 * for a close frame's payload (section 5.5.1).
 */
#ifndef WS_CLOSE_H
#define WS_CLOSE_H

#include <stddef.h>
#include <stdint.h>

enum ws_close_code {
    WS_CLOSE_NONE = 0, /* not a close code: "no error" */
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    WS_CLOSE_MANDATORY_EXTENSION = 1010,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

/* True for a code a peer may send on the wire (1000-1003, 1007-1011, 3000-4999). */
int ws_close_code_is_valid(uint16_t code);

/*
 * Validates a received close frame's payload (already unmasked): empty, or a
 * valid 2-byte code followed by a UTF-8 reason. Returns WS_CLOSE_NONE when
 * valid (and sets *code to the peer's code, or WS_CLOSE_NO_STATUS for an empty
 * payload), WS_CLOSE_PROTOCOL_ERROR for length 1 or a bad code, or
 * WS_CLOSE_INVALID_PAYLOAD for a reason that is not UTF-8.
 */
enum ws_close_code ws_close_payload_check(const uint8_t *payload, size_t len, uint16_t *code);

/* Writes a close payload (code in network order, then reason truncated to fit
 * 123 bytes on a UTF-8 boundary) into out (>= 125 bytes). Returns its length. */
size_t ws_close_payload_write(uint8_t *out, uint16_t code, const char *reason);

#endif

/*
 * ws_frame.h - WebSocket frame header parsing and encoding (RFC 6455 5.2).
 *
 * ws_frame_parse() reads one frame at the start of (buf, len), picohttpparser
 * style: it returns the whole frame's length when the frame is complete, or
 * "incomplete" (having still filled in the header once that much arrived, so a
 * caller can refuse an oversize frame before buffering it). The payload is a
 * view into buf, still masked; unmask it in place with ws_unmask().
 *
 * The encoders write headers for server frames (unmasked) into room the
 * caller reserved in front of the payload, so the payload is never copied, and
 * client frames (masked) for the bench and the tools.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WS_FRAME_INCOMPLETE (-2)
#define WS_FRAME_INVALID    (-1)

#define WS_FRAME_MAX_HEADER        14 /* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_SERVER_FRAME_MAX_HEADER 10 /* server frames carry no mask */
#define WS_CONTROL_MAX_PAYLOAD     125

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

struct ws_frame { /* fin..masked: four bytes in a row (ws_frame.c stores them as one) */
    bool fin;
    uint8_t rsv;    /* RSV1..RSV3 as bits 2..0 (0x4 = RSV1) */
    uint8_t opcode; /* raw 4-bit opcode, not yet checked against known ones */
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;
    uint8_t *payload; /* view into buf; set only when the frame is complete */
};

static inline bool ws_opcode_is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

/*
 * Parses the frame at the start of buf.
 * Returns the frame's total length (header + payload) when it is complete;
 * WS_FRAME_INCOMPLETE when more bytes are needed - f->header_len is then
 * non-zero once the header itself was complete, with every header field set;
 * WS_FRAME_INVALID when the header is malformed (the most significant bit of
 * a 64-bit length set). Opcode, RSV and mask rules are the message layer's.
 */
ssize_t ws_frame_parse(uint8_t *buf, size_t len, struct ws_frame *f);

/* Bytes a frame header takes for a payload of len bytes. */
size_t ws_frame_header_size(uint64_t payload_len, bool masked);

/*
 * Writes a server (unmasked) frame header so that it ends exactly at
 * `payload`; the caller reserved WS_SERVER_FRAME_MAX_HEADER bytes in front.
 * Returns where the frame now starts (payload - header size).
 */
uint8_t *ws_frame_prepend_header(uint8_t *payload, uint64_t payload_len, uint8_t opcode, bool fin);

/* Writes a frame header into out (>= WS_FRAME_MAX_HEADER bytes); mask is NULL
 * for a server frame. Returns the header's length. */
size_t ws_frame_write_header(uint8_t *out, uint64_t payload_len, uint8_t opcode, bool fin,
                             const uint8_t mask[4]);

/*
 * Writes a complete masked client frame (header, then the payload copied and
 * masked) into out. Returns its length, or 0 if cap is too small.
 */
size_t ws_frame_encode_client(uint8_t *out, size_t cap, const uint8_t *payload, size_t len,
                              uint8_t opcode, bool fin, const uint8_t mask[4]);

#endif

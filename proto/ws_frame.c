/*
 * ws_frame.c - reads and writes WebSocket frame headers (RFC 6455 5.2).
 *
 * The parser is a pure function over (buf, len) in the picohttpparser style:
 * it never copies and never allocates, and a frame split anywhere just means
 * "incomplete, call again with more". It checks only what the byte layout
 * itself can get wrong (a 64-bit length with its top bit set); which opcodes,
 * RSV bits and masks are acceptable is ws_message.c's business, so that every
 * protocol rule lives in one place.
 *
 * Lengths need not be minimally encoded: RFC 6455 obliges the sender, and a
 * receiver loses nothing by accepting a 126/127 form of a small length.
 */
#include "ws_frame.h"

#include <string.h>

#include "byte_order.h"
#include "ws_mask.h"

static void write_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

_Static_assert(offsetof(struct ws_frame, rsv) == 1 && offsetof(struct ws_frame, opcode) == 2 &&
                   offsetof(struct ws_frame, masked) == 3 && sizeof(bool) == 1,
               "fin, rsv, opcode, masked: four consecutive bytes");

ssize_t ws_frame_parse(uint8_t *buf, size_t len, struct ws_frame *f)
{
    f->header_len = 0;
    f->payload = NULL;
    if (len < 2)
        return WS_FRAME_INCOMPLETE;

    size_t hlen = 2;
    uint64_t payload_len = buf[1] & 0x7f;
    if (payload_len == 126) {
        hlen = 4;
        if (len < hlen)
            return WS_FRAME_INCOMPLETE;
        payload_len = be_read(buf + 2, 2);
    } else if (payload_len == 127) {
        hlen = 10;
        if (len < hlen)
            return WS_FRAME_INCOMPLETE;
        payload_len = be_read(buf + 2, 8);
        if (payload_len >> 63)
            return WS_FRAME_INVALID;
    }
    bool masked = (buf[1] & 0x80) != 0;
    if (masked) {
        if (len < hlen + 4)
            return WS_FRAME_INCOMPLETE;
        memcpy(f->mask, buf + hlen, 4);
        hlen += 4;
    } else {
        memset(f->mask, 0, 4);
    }

    /* The four one-byte fields in one 4-byte store: callers test them
     * together, and a load that spans four separate byte stores cannot be
     * forwarded from them (a stall per frame, 5% of wsbroker-bench). */
    const uint8_t head[4] = {(buf[0] & 0x80) != 0, (buf[0] >> 4) & 0x7, buf[0] & 0xf, masked};
    memcpy(&f->fin, head, sizeof(head));
    f->payload_len = payload_len;
    f->header_len = hlen;
    /* payload_len < 2^63 here, so this comparison cannot overflow. */
    if (payload_len > len - hlen)
        return WS_FRAME_INCOMPLETE;
    f->payload = buf + hlen;
    return (ssize_t)(hlen + payload_len);
}

size_t ws_frame_header_size(uint64_t payload_len, bool masked)
{
    size_t n = 2;
    if (payload_len > 0xffff)
        n += 8;
    else if (payload_len > WS_CONTROL_MAX_PAYLOAD)
        n += 2;
    return masked ? n + 4 : n;
}

size_t ws_frame_write_header(uint8_t *out, uint64_t payload_len, uint8_t opcode, bool fin,
                             const uint8_t mask[4])
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0xf));
    uint8_t mask_bit = mask ? 0x80 : 0;
    size_t n = 2;
    if (payload_len > 0xffff) {
        out[1] = mask_bit | 127;
        write_be(out + 2, payload_len, 8);
        n += 8;
    } else if (payload_len > WS_CONTROL_MAX_PAYLOAD) {
        out[1] = mask_bit | 126;
        write_be(out + 2, payload_len, 2);
        n += 2;
    } else {
        out[1] = (uint8_t)(mask_bit | payload_len);
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

uint8_t *ws_frame_prepend_header(uint8_t *payload, uint64_t payload_len, uint8_t opcode, bool fin)
{
    uint8_t *start = payload - ws_frame_header_size(payload_len, false);
    ws_frame_write_header(start, payload_len, opcode, fin, NULL);
    return start;
}

size_t ws_frame_encode_client(uint8_t *out, size_t cap, const uint8_t *payload, size_t len,
                              uint8_t opcode, bool fin, const uint8_t mask[4])
{
    size_t hlen = ws_frame_header_size(len, true);
    if (cap < hlen || cap - hlen < len)
        return 0;
    ws_frame_write_header(out, len, opcode, fin, mask);
    if (len > 0) {
        memcpy(out + hlen, payload, len);
        ws_unmask(out + hlen, len, mask, 0);
    }
    return hlen + len;
}

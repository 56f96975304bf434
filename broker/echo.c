/*
 * echo.c - the /echo route, used for conformance testing and load tests:
 * each message is returned as a single frame with the same opcode.
 *
 * The payload is copied once, into a pooled outbuf, behind room for the
 * frame header; the header is then written in place in front of it.
 */
#include "echo.h"

#include <string.h>

#include "conn.h"

static void echo_on_message(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct outbuf *b = conn_alloc_outbuf(c, len);
    if (b == NULL) {
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (len > 0)
        memcpy(outbuf_payload(b), payload, len);
    outbuf_seal_frame(b, len, opcode);
    conn_send(c, b);
}

const struct route echo_route = {
    .path = "/echo",
    .on_message = echo_on_message,
};

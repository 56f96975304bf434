/*
 * ws_upgrade.h - the client side of the WebSocket opening handshake: the
 * upgrade request (with its base64 key) and the check of the 101 response
 * against that key. One copy for the client library (transport.c) and
 * wsbroker-bench, which links wsbclient for it.
 */
#ifndef WSB_CLIENT_WS_UPGRADE_H
#define WSB_CLIENT_WS_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HANDSHAKE_KEY_BYTES    16
#define HANDSHAKE_KEY_LEN      24   /* base64 of 16 bytes */
#define HANDSHAKE_MAX_RESPONSE 4096 /* a longer 101 response head is refused */

/* Writes the base64 of [src, src + len) to out: 4 * ceil(len / 3) characters
 * and a NUL. */
void base64_encode(const uint8_t *src, size_t len, char *out);

/* What an upgrade request says besides its key; subprotocol and token may be
 * NULL (token: sent as `Authorization: Bearer TOKEN`). Borrowed strings. */
struct handshake_request {
    const char *host, *port, *path;
    const char *subprotocol;
    const char *token;
};

/* Writes the upgrade request into out with the key made of the random bytes
 * raw (kept in key, base64, for handshake_check_response). Returns its
 * length, or 0 if cap is too small. */
size_t handshake_write_request(char *out, size_t cap, const struct handshake_request *req,
                               const uint8_t raw[HANDSHAKE_KEY_BYTES],
                               char key[HANDSHAKE_KEY_LEN + 1]);

/* The value of header `name` within the response head [resp, end), or NULL. */
const char *handshake_header_value(const char *resp, const char *end, const char *name,
                                   size_t *vlen);

/* Checks a complete response head [resp, resp + len) against the key that
 * was sent. Returns NULL when it accepts the upgrade, else what is wrong. */
const char *handshake_check_response(const char *resp, size_t len, const char *key);

/* What the bytes received so far say about the answer to an upgrade. */
enum handshake_answer {
    HANDSHAKE_INCOMPLETE, /* no end of the head yet: read more */
    HANDSHAKE_ACCEPTED,   /* the head is head_len bytes; frames may follow */
    HANDSHAKE_TOO_LONG,   /* no end of the head in HANDSHAKE_MAX_RESPONSE bytes */
    HANDSHAKE_REFUSED,    /* not a valid 101 for the key that was sent */
};

#define HANDSHAKE_ERROR_MAX    192
#define HANDSHAKE_STATUS_SHOWN 96 /* bytes of the status line an error quotes */

struct handshake_response {
    size_t head_len; /* ACCEPTED */
    /* TOO_LONG, REFUSED: for an error message, e.g. "HTTP/1.1 404 Not Found
     * (no 101 Switching Protocols)" - the status line and what is wrong */
    char error[HANDSHAKE_ERROR_MAX];
};

/* Reads the response head at the start of [bytes, bytes + len), the bytes
 * received so far, and checks it against key (handshake_check_response). */
enum handshake_answer handshake_read_response(const char *bytes, size_t len, const char *key,
                                              struct handshake_response *out);

#endif

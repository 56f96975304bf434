/*
 * ws_handshake.h - the HTTP/1.1 opening handshake of RFC 6455 section 4.
 *
 * ws_handshake_parse() reads a client's upgrade request from (buf, len) in the
 * picohttpparser style: call it again with more bytes until it stops saying
 * "incomplete". It validates everything section 4.2.1 requires and returns
 * views into buf; it never allocates and never touches a socket.
 *
 * The response builders write the 101 reply (with Sec-WebSocket-Accept,
 * computed with wolfSSL's SHA-1 and base64) or an HTTP error reply.
 */
#ifndef WS_HANDSHAKE_H
#define WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ws_str.h"

#define WS_HANDSHAKE_INCOMPLETE (-2)
#define WS_HANDSHAKE_INVALID    (-1)

#define WS_HANDSHAKE_DEFAULT_MAX_BYTES   8192
#define WS_HANDSHAKE_DEFAULT_MAX_HEADERS 64
#define WS_ACCEPT_KEY_LEN                28 /* base64 of a 20-byte SHA-1 digest */

/* A field left 0 takes its default (as does limits == NULL). */
struct ws_handshake_limits {
    size_t max_bytes;   /* request line + headers + blank line; over -> 431 */
    size_t max_headers; /* header field count; over -> 431 */
};

/* Everything the broker needs from an upgrade request; all views into buf. */
struct ws_handshake_request {
    struct ws_str target; /* request-target as sent: path[?query] */
    struct ws_str path;   /* target up to '?' */
    struct ws_str query;  /* after '?', without it; absent if no '?' */
    struct ws_str host;
    struct ws_str key;           /* Sec-WebSocket-Key, validated: base64 of 16 bytes */
    struct ws_str protocol;      /* Sec-WebSocket-Protocol, raw comma list; may be absent */
    struct ws_str origin;        /* Origin; may be absent */
    struct ws_str authorization; /* Authorization; may be absent */
    struct ws_str extensions;    /* Sec-WebSocket-Extensions; may be absent */
    size_t header_count;
    /* false: a plain HTTP GET (no Upgrade, Connection: upgrade,
     * Sec-WebSocket-Key or -Version at all), for the broker's HTTP endpoints
     * (/healthz ...); key is then absent and no 101 may be written. */
    bool upgrade;
};

/* Why a request was refused: the HTTP status to answer with and a short,
 * static, human-readable reason naming the offending part. */
struct ws_handshake_error {
    int status; /* 400, 405, 426, 431, 505 */
    const char *reason;
};

/*
 * Parses an upgrade request at the start of buf.
 * Returns the number of bytes the request occupies (> 0) when it is complete
 * and valid; WS_HANDSHAKE_INCOMPLETE when more bytes are needed (and the bytes
 * so far are within limits); WS_HANDSHAKE_INVALID with *err filled otherwise.
 * req is only meaningful on success. Bytes after the blank line are not looked
 * at. Each call re-reads buf from the start.
 *
 * Statuses: 505 for a well-formed HTTP version other than 1.1 (HTTP/1.0
 * included); 405 for a method other than GET; 426 for a missing or non-13
 * Sec-WebSocket-Version; 431 when the request is longer than max_bytes (also
 * as soon as len exceeds max_bytes with no complete request in it) or has more
 * than max_headers header lines; 400 for everything else. Lines must end in
 * CRLF: a bare LF or bare CR is refused (400), as are control characters,
 * obs-fold lines and whitespace before a header's colon. Errors in a complete
 * line are reported at once, before the rest of the request has arrived.
 * Host, Sec-WebSocket-Key, -Version, -Protocol, -Extensions, Origin and
 * Authorization must appear at most once (a repeat is 400: views cannot join
 * repeated lines); Upgrade and Connection may repeat and are token lists.
 * A GET carrying none of the WebSocket headers (Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version) is a plain
 * HTTP request: it succeeds with req->upgrade false (Host is still
 * required); one that carries some but not all of them is refused as above.
 */
ssize_t ws_handshake_parse(const char *buf, size_t len, const struct ws_handshake_limits *limits,
                           struct ws_handshake_request *req, struct ws_handshake_error *err);

/* Computes Sec-WebSocket-Accept for a client key: writes exactly
 * WS_ACCEPT_KEY_LEN characters and a NUL to out. Returns 0, or -1 if the
 * crypto library failed. */
int ws_handshake_accept_key(struct ws_str key, char out[WS_ACCEPT_KEY_LEN + 1]);

/*
 * Returns true when the comma-separated token list `list` (an HTTP header
 * value such as a Sec-WebSocket-Protocol offer) contains `token`,
 * case-sensitively for subprotocols (RFC 6455 4.1), ignoring optional
 * whitespace around commas.
 */
int ws_handshake_offers(struct ws_str list, const char *token);

/*
 * Writes the "101 Switching Protocols" reply for req into out (not
 * NUL-terminated). subprotocol is the one the server selected (NULL for none);
 * it must be an HTTP token. Returns the reply's length, or 0 if cap is too
 * small, subprotocol is not a token, or the accept key cannot be computed.
 */
size_t ws_handshake_write_accept(char *out, size_t cap, const struct ws_handshake_request *req,
                                 const char *subprotocol);

/*
 * Writes an HTTP error reply (status line, Content-Type: text/plain,
 * Content-Length, Connection: close, the reason and "\n" as the body) into out
 * (not NUL-terminated). 426 also carries "Upgrade: websocket" and
 * "Sec-WebSocket-Version: 13"; 405 carries "Allow: GET". Any 4xx/5xx status
 * works (unlisted ones get a generic reason phrase); a status outside 400-599
 * is sent as 500. reason NULL means the reason phrase.
 * Returns the reply's length, or 0 if cap is too small.
 */
size_t ws_handshake_write_error(char *out, size_t cap, int status, const char *reason);

/*
 * Writes the head of a plain HTTP reply (status line with its RFC 9110
 * reason phrase, Content-Type, Content-Length: body_len, Connection: close,
 * extra_headers verbatim - each line ending in CRLF, may be NULL - and the
 * blank line) into out, for the body to follow. ws_handshake_write_error()
 * writes its head the same way.
 * Returns the head's length, or 0 if cap is too small.
 */
size_t ws_http_write_head(char *out, size_t cap, int status, const char *content_type,
                          const char *extra_headers, size_t body_len);

#endif

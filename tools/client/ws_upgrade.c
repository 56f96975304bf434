/*
 * ws_upgrade.c - the client side of the WebSocket opening handshake (see
 * ws_upgrade.h).
 */
#include "ws_upgrade.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws_handshake.h"

void base64_encode(const uint8_t *src, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < len ? (uint32_t)src[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

size_t handshake_write_request(char *out, size_t cap, const struct handshake_request *req,
                               const uint8_t raw[HANDSHAKE_KEY_BYTES],
                               char key[HANDSHAKE_KEY_LEN + 1])
{
    base64_encode(raw, HANDSHAKE_KEY_BYTES, key);
    bool v6 = strchr(req->host, ':') != NULL; /* an IPv6 literal goes in brackets */
    const char *sub = req->subprotocol, *token = req->token;
    int n =
        snprintf(out, cap,
                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n%s%s%s%s%s%s\r\n",
                 req->path, v6 ? "[" : "", req->host, v6 ? "]" : "", req->port, key,
                 sub ? "Sec-WebSocket-Protocol: " : "", sub ? sub : "", sub ? "\r\n" : "",
                 token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

const char *handshake_header_value(const char *resp, const char *end, const char *name,
                                   size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *line = memchr(resp, '\n', (size_t)(end - resp)); /* skip the status line */
    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

const char *handshake_check_response(const char *resp, size_t len, const char *key)
{
    static const char status_101[] = "HTTP/1.1 101";
    const char *end = resp + len;
    if (len < sizeof status_101 - 1 || memcmp(resp, status_101, sizeof status_101 - 1) != 0)
        return "no 101 Switching Protocols";
    size_t vlen = 0;
    const char *v = handshake_header_value(resp, end, "Upgrade", &vlen);
    if (v == NULL || vlen != strlen("websocket") || strncasecmp(v, "websocket", vlen) != 0)
        return "missing or wrong Upgrade header";
    char expect[WS_ACCEPT_KEY_LEN + 1];
    struct ws_str k = {.ptr = key, .len = HANDSHAKE_KEY_LEN};
    if (ws_handshake_accept_key(k, expect) != 0)
        return "ws_handshake_accept_key failed";
    v = handshake_header_value(resp, end, "Sec-WebSocket-Accept", &vlen);
    if (v == NULL || vlen != WS_ACCEPT_KEY_LEN || memcmp(v, expect, vlen) != 0)
        return "missing or wrong Sec-WebSocket-Accept";
    return NULL;
}

enum handshake_answer handshake_read_response(const char *bytes, size_t len, const char *key,
                                              struct handshake_response *out)
{
    out->head_len = 0;
    out->error[0] = '\0';
    const char *head_end = memmem(bytes, len, "\r\n\r\n", 4);
    size_t head_len = head_end ? (size_t)(head_end - bytes) + 4 : 0;
    if (head_end == NULL ? len >= HANDSHAKE_MAX_RESPONSE : head_len > HANDSHAKE_MAX_RESPONSE) {
        snprintf(out->error, sizeof out->error, "the response head is over %d bytes",
                 HANDSHAKE_MAX_RESPONSE);
        return HANDSHAKE_TOO_LONG;
    }
    if (head_end == NULL)
        return HANDSHAKE_INCOMPLETE;
    const char *why = handshake_check_response(bytes, head_len, key);
    if (why != NULL) {
        /* The status line, cut short enough that the reason still fits. */
        size_t status_len = strcspn(bytes, "\r\n"); /* the head ends in one */
        int shown = status_len > HANDSHAKE_STATUS_SHOWN ? HANDSHAKE_STATUS_SHOWN : (int)status_len;
        snprintf(out->error, sizeof out->error, "%.*s (%s)", shown, bytes, why);
        return HANDSHAKE_REFUSED;
    }
    out->head_len = head_len;
    return HANDSHAKE_ACCEPTED;
}

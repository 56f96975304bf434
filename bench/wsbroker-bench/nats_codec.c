/*
 * nats_codec.c - NATS protocol writers and the server-message parser (see
 * nats_codec.h). Protocol reference:
 * https://docs.nats.io/reference/reference-protocols/nats-protocol
 */
#include "nats_codec.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static size_t fit(int n, size_t cap)
{
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t nats_write_connect(char *out, size_t cap)
{
    return fit(snprintf(out, cap,
                        "CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"c\","
                        "\"version\":\"wsbroker-bench\",\"protocol\":1}\r\n"),
               cap);
}

size_t nats_write_sub(char *out, size_t cap, const char *subject, size_t len, uint32_t sid)
{
    return fit(snprintf(out, cap, "SUB %.*s %u\r\n", (int)len, subject, sid), cap);
}

size_t nats_write_ping(char *out, size_t cap)
{
    return fit(snprintf(out, cap, "PING\r\n"), cap);
}

size_t nats_write_pub(uint8_t *out, size_t cap, const char *subject, size_t len,
                      const uint8_t *data, size_t data_len)
{
    size_t head =
        fit(snprintf((char *)out, cap, "PUB %.*s %zu\r\n", (int)len, subject, data_len), cap);
    if (head == 0 || cap - head < data_len + 2)
        return 0;
    memcpy(out + head, data, data_len);
    memcpy(out + head + data_len, "\r\n", 2);
    return head + data_len + 2;
}

size_t nats_write_pong(char *out, size_t cap)
{
    return fit(snprintf(out, cap, "PONG\r\n"), cap);
}

/* Whether the line [p, end) starts with op (case-insensitive) followed by
 * a space, a tab or the end of the line. */
static bool line_is(const char *p, const char *end, const char *op)
{
    size_t n = strlen(op);
    return (size_t)(end - p) >= n && strncasecmp(p, op, n) == 0 &&
           ((size_t)(end - p) == n || p[n] == ' ' || p[n] == '\t');
}

/* Splits the arguments of a MSG line into at most 4 tokens. */
static int split_args(const char *p, const char *end, const char *tok[4], size_t tlen[4])
{
    int n = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end)
            break;
        if (n == 4)
            return -1;
        tok[n] = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        tlen[n] = (size_t)(p - tok[n]);
        n++;
    }
    return n;
}

static bool parse_size(const char *p, size_t len, size_t *out)
{
    if (len == 0 || len > 9)
        return false;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (size_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

ssize_t nats_parse(const uint8_t *buf, size_t len, struct peer_event *ev)
{
    const char *s = (const char *)buf;
    const char *nl = memchr(s, '\n', len < NATS_MAX_CONTROL_LINE ? len : NATS_MAX_CONTROL_LINE);
    if (nl == NULL)
        return len >= NATS_MAX_CONTROL_LINE ? PEER_MALFORMED : PEER_INCOMPLETE;
    const char *end = nl > s && nl[-1] == '\r' ? nl - 1 : nl; /* the line without CRLF */
    size_t line_len = (size_t)(nl - s) + 1;
    memset(ev, 0, sizeof *ev);
    if (line_is(s, end, "MSG")) {
        const char *tok[4];
        size_t tlen[4];
        int n = split_args(s + 3, end, tok, tlen);
        size_t bytes;
        if ((n != 3 && n != 4) || !parse_size(tok[n - 1], tlen[n - 1], &bytes))
            return PEER_MALFORMED;
        if (len - line_len < bytes + 2)
            return PEER_INCOMPLETE;
        if (memcmp(buf + line_len + bytes, "\r\n", 2) != 0)
            return PEER_MALFORMED;
        ev->kind = PEER_EV_MSG;
        ev->topic = tok[0];
        ev->topic_len = tlen[0];
        ev->data = buf + line_len;
        ev->data_len = bytes;
        return (ssize_t)(line_len + bytes + 2);
    }
    if (line_is(s, end, "PING"))
        ev->kind = PEER_EV_PING;
    else if (line_is(s, end, "PONG"))
        ev->kind = PEER_EV_PONG;
    else if (line_is(s, end, "INFO") || line_is(s, end, "+OK"))
        ev->kind = PEER_EV_OTHER;
    else if (line_is(s, end, "-ERR")) {
        ev->kind = PEER_EV_REFUSED;
        ev->text = s + 4;
        ev->text_len = (size_t)(end - ev->text);
    } else {
        return PEER_MALFORMED;
    }
    return (ssize_t)line_len;
}

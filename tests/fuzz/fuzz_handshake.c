/*
 * fuzz_handshake.c - libFuzzer target for proto/ws_handshake.c.
 *
 * Feeds the input to the upgrade-request parser under tight and default
 * limits and checks the contract the broker relies on: the result is a length
 * within the input, "incomplete", or a refusal with a writable status; every
 * view lies inside the input; an accepted request can be answered. Short
 * inputs are also parsed at every prefix, which must agree with the whole:
 * before a valid request ends, nothing but "incomplete" is allowed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_handshake.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_view(struct ws_str view, const char *buf, size_t n)
{
    if (view.ptr == NULL)
        return;
    CHECK(view.ptr >= buf && view.len <= n && (size_t)(view.ptr - buf) <= n - view.len);
}

static void check_request(const struct ws_handshake_request *req, const char *buf, size_t n)
{
    const struct ws_str views[] = {req->target, req->path,          req->query,
                                   req->host,   req->key,           req->protocol,
                                   req->origin, req->authorization, req->extensions};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
        check_view(views[i], buf, n);
    CHECK(req->path.len > 0 && req->path.ptr[0] == '/');
    if (!req->upgrade) {
        /* A plain HTTP GET: none of the WebSocket headers were there. */
        CHECK(req->key.ptr == NULL);
        return;
    }
    CHECK(req->key.len == 24);

    char out[1024];
    char accept[WS_ACCEPT_KEY_LEN + 1];
    CHECK(ws_handshake_accept_key(req->key, accept) == 0);
    CHECK(strlen(accept) == WS_ACCEPT_KEY_LEN);
    size_t len = ws_handshake_write_accept(out, sizeof(out), req, NULL);
    CHECK(len > 0 && len <= sizeof(out));
    CHECK(ws_handshake_write_accept(out, len - 1, req, NULL) == 0);
    if (ws_handshake_offers(req->protocol, "chat"))
        CHECK(ws_handshake_write_accept(out, sizeof(out), req, "chat") > len);
}

static void check_error(const struct ws_handshake_error *err)
{
    CHECK(err->status == 400 || err->status == 405 || err->status == 426 || err->status == 431 ||
          err->status == 505);
    CHECK(err->reason != NULL && err->reason[0] != '\0');
    char out[512];
    size_t len = ws_handshake_write_error(out, sizeof(out), err->status, err->reason);
    CHECK(len > 0);
    CHECK(ws_handshake_write_error(out, len - 1, err->status, err->reason) == 0);
}

/* Parses (buf, n), checks the result's invariants and returns it. */
static ssize_t parse_and_check(const char *buf, size_t n, const struct ws_handshake_limits *lim)
{
    struct ws_handshake_request req;
    struct ws_handshake_error err = {0, NULL};
    ssize_t r = ws_handshake_parse(buf, n, lim, &req, &err);
    if (r > 0) {
        CHECK((size_t)r <= n);
        CHECK(lim == NULL || lim->max_bytes == 0 || (size_t)r <= lim->max_bytes);
        CHECK(req.header_count >= (req.upgrade ? 4u : 1u));
        CHECK(r >= 4 && memcmp(buf + r - 4, "\r\n\r\n", 4) == 0);
        check_request(&req, buf, (size_t)r);
    } else if (r == WS_HANDSHAKE_INVALID) {
        check_error(&err);
    } else {
        CHECK(r == WS_HANDSHAKE_INCOMPLETE);
    }
    return r;
}

/* Every prefix of a request that parses whole must wait for more, and every
 * longer prefix must give the same length. */
static void check_prefixes(const char *buf, size_t n, ssize_t whole)
{
    for (size_t k = 0; k < n; k++) {
        ssize_t r = parse_and_check(buf, k, NULL);
        if (whole > 0)
            CHECK((size_t)whole <= k ? r == whole : r == WS_HANDSHAKE_INCOMPLETE);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes, so ASan catches any read past it. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);

    static const struct ws_handshake_limits small = {96, 6};
    parse_and_check(buf, size, &small);
    ssize_t whole = parse_and_check(buf, size, NULL);
    if (size <= 512)
        check_prefixes(buf, size, whole);

    free(buf);
    return 0;
}

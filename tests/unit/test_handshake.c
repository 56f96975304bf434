/*
 * test_handshake.c - proves proto/ws_handshake.c to the byte: the parser's
 * every acceptance and refusal rule, its incremental contract at every split
 * point, its limits, and the exact bytes of the replies it writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ws_handshake.h"

#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define REQUEST_LINE "GET /chat?room=1 HTTP/1.1\r\n"
#define REQUIRED_HEADERS                                                                           \
    "Host: server.example.com\r\n"                                                                 \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Key: " KEY "\r\n"                                                               \
    "Sec-WebSocket-Version: 13\r\n"

/* The RFC 6455 1.3 example request, with every exposed optional header. */
static const char full_request[] =
    REQUEST_LINE REQUIRED_HEADERS "Origin: http://example.com\r\n"
                                  "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                  "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                                  "Authorization: Bearer abc\r\n"
                                  "\r\n";

static ssize_t parse_text(const char *text, struct ws_handshake_request *req,
                          struct ws_handshake_error *err)
{
    return ws_handshake_parse(text, strlen(text), NULL, req, err);
}

/* Parses text (which must be complete) and asserts it is refused with status. */
static void assert_refused(const char *text, int status)
{
    struct ws_handshake_request req;
    struct ws_handshake_error err = {0, NULL};
    ssize_t n = parse_text(text, &req, &err);
    if (n != WS_HANDSHAKE_INVALID || err.status != status)
        fail_msg("expected %d, got n=%zd status=%d (%s) for:\n%s", status, n, err.status,
                 err.reason ? err.reason : "-", text);
    assert_non_null(err.reason);
    assert_true(strlen(err.reason) > 0);
}

static void assert_accepted(const char *text)
{
    struct ws_handshake_request req;
    struct ws_handshake_error err = {0, NULL};
    ssize_t n = parse_text(text, &req, &err);
    if (n != (ssize_t)strlen(text))
        fail_msg("expected success, got n=%zd status=%d (%s) for:\n%s", n, err.status,
                 err.reason ? err.reason : "-", text);
}

static void assert_view(struct ws_str view, const char *buf, size_t offset, const char *text)
{
    assert_ptr_equal(view.ptr, buf + offset);
    assert_int_equal(view.len, strlen(text));
    assert_memory_equal(view.ptr, text, view.len);
}

static size_t offset_of(const char *buf, const char *needle)
{
    const char *at = strstr(buf, needle);
    assert_non_null(at);
    return (size_t)(at - buf);
}

/* --- accept key ------------------------------------------------------------ */

static void test_accept_key_rfc_example(void **state)
{
    (void)state;
    char out[WS_ACCEPT_KEY_LEN + 1];
    assert_int_equal(ws_handshake_accept_key((struct ws_str){KEY, strlen(KEY)}, out), 0);
    assert_string_equal(out, ACCEPT);
}

/* --- a valid request ------------------------------------------------------- */

static void test_parse_valid_request_exposes_views(void **state)
{
    (void)state;
    struct ws_handshake_request req;
    struct ws_handshake_error err = {0, NULL};
    const char *b = full_request;
    ssize_t n = parse_text(b, &req, &err);
    assert_int_equal(n, (ssize_t)strlen(b));
    assert_view(req.target, b, 4, "/chat?room=1");
    assert_view(req.path, b, 4, "/chat");
    assert_view(req.query, b, 10, "room=1");
    assert_view(req.host, b, offset_of(b, "server.example.com"), "server.example.com");
    assert_view(req.key, b, offset_of(b, KEY), KEY);
    assert_view(req.origin, b, offset_of(b, "http://example.com"), "http://example.com");
    assert_view(req.protocol, b, offset_of(b, "chat, superchat"), "chat, superchat");
    assert_view(req.extensions, b, offset_of(b, "permessage-deflate"), "permessage-deflate");
    assert_view(req.authorization, b, offset_of(b, "Bearer abc"), "Bearer abc");
    assert_int_equal(req.header_count, 9);
}

static void test_parse_optional_headers_absent(void **state)
{
    (void)state;
    static const char text[] = "GET /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n";
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(parse_text(text, &req, &err), (ssize_t)strlen(text));
    assert_view(req.path, text, 4, "/chat");
    assert_false(ws_str_present(req.query));
    assert_false(ws_str_present(req.protocol));
    assert_false(ws_str_present(req.origin));
    assert_false(ws_str_present(req.authorization));
    assert_false(ws_str_present(req.extensions));
    assert_int_equal(req.header_count, 5);
}

static void test_parse_empty_query_is_present(void **state)
{
    (void)state;
    static const char text[] = "GET /a? HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n";
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(parse_text(text, &req, &err), (ssize_t)strlen(text));
    assert_view(req.path, text, 4, "/a");
    assert_view(req.query, text, 7, "");
}

static void test_parse_every_split_point(void **state)
{
    (void)state;
    const size_t n = strlen(full_request);
    for (size_t k = 0; k < n; k++) {
        struct ws_handshake_request req;
        struct ws_handshake_error err = {0, NULL};
        ssize_t got = ws_handshake_parse(full_request, k, NULL, &req, &err);
        if (got != WS_HANDSHAKE_INCOMPLETE)
            fail_msg("prefix %zu: got %zd (%s)", k, got, err.reason ? err.reason : "-");
    }
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(ws_handshake_parse(full_request, n, NULL, &req, &err), (ssize_t)n);
}

static void test_parse_leaves_trailing_bytes(void **state)
{
    (void)state;
    char buf[sizeof(full_request) + 16];
    size_t n = strlen(full_request);
    memcpy(buf, full_request, n);
    memcpy(buf + n, "\x81\x85trailing", 10);
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(ws_handshake_parse(buf, n + 10, NULL, &req, &err), (ssize_t)n);
    assert_ptr_equal(req.key.ptr, buf + offset_of(full_request, KEY));
    /* A second request glued on is not looked at either. */
    memcpy(buf + n, "GET", 3);
    assert_int_equal(ws_handshake_parse(buf, n + 3, NULL, &req, &err), (ssize_t)n);
}

/* --- request line ---------------------------------------------------------- */

static void test_parse_refuses_other_methods(void **state)
{
    (void)state;
    assert_refused("POST /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 405);
    assert_refused("get /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 405);
    assert_refused("HEAD /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 405);
}

static void test_parse_refuses_other_versions(void **state)
{
    (void)state;
    assert_refused("GET /chat HTTP/1.0\r\n" REQUIRED_HEADERS "\r\n", 505);
    assert_refused("GET /chat HTTP/2.0\r\n" REQUIRED_HEADERS "\r\n", 505);
    assert_refused("GET /chat HTTP/1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /chat http/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /chat HTTP/1.1 \r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /chat\r\n" REQUIRED_HEADERS "\r\n", 400);
}

static void test_parse_refuses_malformed_request_line(void **state)
{
    (void)state;
    assert_refused("GET  /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /chat  HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused(" GET /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET\t/chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /ch\xc3\xa4t HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("\r\nGET /chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /chat HTTP/1.1\rX\n" REQUIRED_HEADERS "\r\n", 400);
}

static void test_parse_refuses_non_origin_form_target(void **state)
{
    (void)state;
    assert_refused("GET http://h/chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET * HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET chat HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
    assert_refused("GET /chat#frag HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n", 400);
}

/* A bad request line is refused as soon as its CRLF arrives. */
static void test_parse_refuses_early(void **state)
{
    (void)state;
    assert_refused("POST / HTTP/1.1\r\n", 405);
    assert_refused("GET / HTTP/1.0\r\nHost: x\r\n", 505);
    assert_refused("GET / HTTP/1.1\r\nHost x\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n", 400);
    assert_refused("GET / HTTP/1.1\nHost", 400);
    assert_refused("GET / HTTP/1.1\r\nHo\x01", 400);
}

/* A GET with none of the WebSocket headers is a plain HTTP request (for the
 * broker's /healthz and the like); with only some of them it is a broken
 * upgrade and refused. */
static void test_parse_plain_http_get(void **state)
{
    (void)state;
    const char *text = "GET /healthz?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
    struct ws_handshake_request req;
    struct ws_handshake_error err = {0, NULL};
    assert_int_equal(parse_text(text, &req, &err), (ssize_t)strlen(text));
    assert_false(req.upgrade);
    assert_true(ws_str_eq(req.path, "/healthz"));
    assert_true(ws_str_eq(req.query, "x=1"));
    assert_null(req.key.ptr);
    assert_refused("GET / HTTP/1.1\r\n\r\n", 400); /* Host is still required */
    assert_refused("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Version: 13\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", 400);
    /* A complete upgrade request still is one. */
    const char *up = "GET / HTTP/1.1\r\n" REQUIRED_HEADERS "\r\n";
    assert_int_equal(parse_text(up, &req, &err), (ssize_t)strlen(up));
    assert_true(req.upgrade);
}

static void test_write_http_head(void **state)
{
    (void)state;
    char out[256];
    size_t n = ws_http_write_head(out, sizeof(out), 200, "text/plain; version=0.0.4",
                                  "Cache-Control: no-store\r\n", 12);
    const char want[] = "HTTP/1.1 200 OK\r\n"
                        "Content-Type: text/plain; version=0.0.4\r\n"
                        "Content-Length: 12\r\n"
                        "Connection: close\r\n"
                        "Cache-Control: no-store\r\n"
                        "\r\n";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
    assert_int_equal(ws_http_write_head(out, n - 1, 200, "text/plain; version=0.0.4",
                                        "Cache-Control: no-store\r\n", 12),
                     0);
    n = ws_http_write_head(out, sizeof(out), 503, "text/plain", NULL, 0);
    assert_true(n > 0);
    assert_memory_equal(out, "HTTP/1.1 503 Service Unavailable\r\n", 34);
}

/* --- header syntax --------------------------------------------------------- */

static void test_parse_refuses_malformed_header_lines(void **state)
{
    (void)state;
    /* no colon */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-Nothing\r\n\r\n", 400);
    /* empty name */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS ": value\r\n\r\n", 400);
    /* whitespace before the colon */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-A : b\r\n\r\n", 400);
    /* obs-fold and leading whitespace */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-A: b\r\n c\r\n\r\n", 400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "\tX-A: b\r\n\r\n", 400);
    /* bare CR, bare LF */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-A: b\rc\r\n\r\n", 400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-A: b\n\r\n", 400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "\n", 400);
    /* control characters */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-A: b\x7f\r\n\r\n", 400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X-A: \x1b[0m\r\n\r\n", 400);
    /* name characters outside tchar */
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "X(A): b\r\n\r\n", 400);
}

static void test_parse_refuses_nul_byte(void **state)
{
    (void)state;
    static const char text[] = REQUEST_LINE "X-A: b\0c\r\n" REQUIRED_HEADERS "\r\n";
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(ws_handshake_parse(text, sizeof(text) - 1, NULL, &req, &err),
                     WS_HANDSHAKE_INVALID);
    assert_int_equal(err.status, 400);
}

static void test_parse_accepts_odd_but_legal_headers(void **state)
{
    (void)state;
    /* Tabs and non-ASCII in values, empty values, unknown headers. */
    assert_accepted(REQUEST_LINE REQUIRED_HEADERS "X-A:\tv\xc3\xa4 lue\t\r\n"
                                                  "X-Empty:\r\n"
                                                  "User-Agent: test/1.0 (x; y)\r\n\r\n");
}

static void test_parse_trims_value_whitespace(void **state)
{
    (void)state;
    static const char text[] = "GET / HTTP/1.1\r\n"
                               "Host:   h  \r\n"
                               "Upgrade:websocket\r\n"
                               "Connection:\tUpgrade\t\r\n"
                               "Sec-WebSocket-Key: \t" KEY " \r\n"
                               "Sec-WebSocket-Version:13 \r\n\r\n";
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(parse_text(text, &req, &err), (ssize_t)strlen(text));
    assert_view(req.host, text, offset_of(text, "h  \r"), "h");
    assert_view(req.key, text, offset_of(text, KEY), KEY);
}

/* --- the required headers -------------------------------------------------- */

static void test_parse_header_names_ignore_case(void **state)
{
    (void)state;
    assert_accepted("GET / HTTP/1.1\r\n"
                    "HOST: h\r\n"
                    "upgrade: WebSocket\r\n"
                    "CONNECTION: UPGRADE\r\n"
                    "sec-websocket-key: " KEY "\r\n"
                    "SEC-WEBSOCKET-VERSION: 13\r\n\r\n");
}

static void test_parse_host(void **state)
{
    (void)state;
    assert_refused("GET / HTTP/1.1\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "Host: other\r\n\r\n", 400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "host: other\r\n\r\n", 400);
}

static void test_parse_upgrade_token_list(void **state)
{
    (void)state;
#define WITH_UPGRADE(u)                                                                            \
    "GET / HTTP/1.1\r\nHost: h\r\n" u "Connection: Upgrade\r\n"                                    \
    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n"
    assert_accepted(WITH_UPGRADE("Upgrade: websocket\r\n"));
    assert_accepted(WITH_UPGRADE("Upgrade: WEBSOCKET\r\n"));
    assert_accepted(WITH_UPGRADE("Upgrade: h2c, websocket\r\n"));
    assert_accepted(WITH_UPGRADE("Upgrade: h2c\r\nUpgrade: websocket\r\n"));
    assert_refused(WITH_UPGRADE(""), 400);
    assert_refused(WITH_UPGRADE("Upgrade: h2c\r\n"), 400);
    assert_refused(WITH_UPGRADE("Upgrade: websockets\r\n"), 400);
    assert_refused(WITH_UPGRADE("Upgrade: web socket\r\n"), 400);
#undef WITH_UPGRADE
}

static void test_parse_connection_token_list(void **state)
{
    (void)state;
#define WITH_CONNECTION(c)                                                                         \
    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" c "Sec-WebSocket-Key: " KEY              \
    "\r\nSec-WebSocket-Version: 13\r\n\r\n"
    assert_accepted(WITH_CONNECTION("Connection: keep-alive, Upgrade\r\n"));
    assert_accepted(WITH_CONNECTION("Connection: upgrade\r\n"));
    assert_accepted(WITH_CONNECTION("Connection: keep-alive ,\tUPGRADE , \r\n"));
    assert_accepted(WITH_CONNECTION("Connection: ,,Upgrade,\r\n"));
    assert_accepted(WITH_CONNECTION("Connection: keep-alive\r\nConnection: Upgrade\r\n"));
    assert_refused(WITH_CONNECTION(""), 400);
    assert_refused(WITH_CONNECTION("Connection: keep-alive\r\n"), 400);
    assert_refused(WITH_CONNECTION("Connection: Upgraded\r\n"), 400);
    assert_refused(WITH_CONNECTION("Connection: keep-alive Upgrade\r\n"), 400);
#undef WITH_CONNECTION
}

#define WITH_VERSION(v)                                                                            \
    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"                   \
    "Sec-WebSocket-Key: " KEY "\r\n" v "\r\n"

static void test_parse_version(void **state)
{
    (void)state;
    assert_accepted(WITH_VERSION("Sec-WebSocket-Version: 13\r\n"));
    assert_refused(WITH_VERSION(""), 426);
    assert_refused(WITH_VERSION("Sec-WebSocket-Version: 8\r\n"), 426);
    assert_refused(WITH_VERSION("Sec-WebSocket-Version: 14\r\n"), 426);
    assert_refused(WITH_VERSION("Sec-WebSocket-Version: 13, 8\r\n"), 426);
    assert_refused(WITH_VERSION("Sec-WebSocket-Version:\r\n"), 426);
    assert_refused(WITH_VERSION("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n"), 400);
}

#define WITH_KEY(k)                                                                                \
    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" k                 \
    "Sec-WebSocket-Version: 13\r\n\r\n"

static void test_parse_key(void **state)
{
    (void)state;
    assert_accepted(WITH_KEY("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"));
    assert_accepted(WITH_KEY("Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/zw==\r\n"));
    assert_refused(WITH_KEY(""), 400);
    assert_refused(WITH_KEY("Sec-WebSocket-Key:\r\n"), 400);
    /* 23 and 25 characters */
    assert_refused(WITH_KEY("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n"), 400);
    assert_refused(WITH_KEY("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n"), 400);
    /* 24 characters that are not 16 bytes */
    assert_refused(WITH_KEY("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQab\r\n"), 400);
    assert_refused(WITH_KEY("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ===\r\n"), 400);
    /* outside the base64 alphabet */
    assert_refused(WITH_KEY("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-==\r\n"), 400);
    assert_refused(WITH_KEY("Sec-WebSocket-Key: dGhlIHNhbXBsZ SBub25jZ==\r\n"), 400);
    /* present twice */
    assert_refused(WITH_KEY("Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Key: " KEY "\r\n"), 400);
    assert_refused(WITH_KEY("Sec-WebSocket-Key: " KEY "\r\nsec-websocket-key: " KEY "\r\n"), 400);
}

static void test_parse_single_valued_headers_not_repeated(void **state)
{
    (void)state;
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "Origin: a\r\nOrigin: b\r\n\r\n", 400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS "Authorization: a\r\nAuthorization: b\r\n\r\n",
                   400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS
                   "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\n\r\n",
                   400);
    assert_refused(REQUEST_LINE REQUIRED_HEADERS
                   "Sec-WebSocket-Extensions: a\r\nSec-WebSocket-Extensions: b\r\n\r\n",
                   400);
}

/* --- limits ---------------------------------------------------------------- */

static void test_limit_max_bytes(void **state)
{
    (void)state;
    const size_t n = strlen(full_request);
    struct ws_handshake_request req;
    struct ws_handshake_error err;

    struct ws_handshake_limits exact = {n, 0};
    assert_int_equal(ws_handshake_parse(full_request, n, &exact, &req, &err), (ssize_t)n);

    struct ws_handshake_limits short_by_one = {n - 1, 0};
    assert_int_equal(ws_handshake_parse(full_request, n, &short_by_one, &req, &err),
                     WS_HANDSHAKE_INVALID);
    assert_int_equal(err.status, 431);

    /* Incomplete: within the limit waits, past it fails at once. */
    struct ws_handshake_limits small = {40, 0};
    assert_int_equal(ws_handshake_parse(full_request, 40, &small, &req, &err),
                     WS_HANDSHAKE_INCOMPLETE);
    err.status = 0;
    assert_int_equal(ws_handshake_parse(full_request, 41, &small, &req, &err),
                     WS_HANDSHAKE_INVALID);
    assert_int_equal(err.status, 431);
}

static void test_limit_max_bytes_ignores_trailing_bytes(void **state)
{
    (void)state;
    char buf[sizeof(full_request) + 100];
    const size_t n = strlen(full_request);
    memcpy(buf, full_request, n);
    memset(buf + n, 'x', 100);
    struct ws_handshake_limits exact = {n, 0};
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(ws_handshake_parse(buf, n + 100, &exact, &req, &err), (ssize_t)n);
}

static void test_limit_default_max_bytes(void **state)
{
    (void)state;
    static char buf[WS_HANDSHAKE_DEFAULT_MAX_BYTES + 64];
    const size_t head = strlen(REQUEST_LINE REQUIRED_HEADERS);
    memcpy(buf, REQUEST_LINE REQUIRED_HEADERS "X-Pad: ", head + 7);
    memset(buf + head + 7, 'p', sizeof(buf) - head - 7);
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_int_equal(ws_handshake_parse(buf, WS_HANDSHAKE_DEFAULT_MAX_BYTES, NULL, &req, &err),
                     WS_HANDSHAKE_INCOMPLETE);
    assert_int_equal(ws_handshake_parse(buf, sizeof(buf), NULL, &req, &err), WS_HANDSHAKE_INVALID);
    assert_int_equal(err.status, 431);
}

/* Builds the required headers plus `extra` X-N headers into buf. */
static size_t build_with_extra_headers(char *buf, size_t cap, size_t extra)
{
    size_t len = (size_t)snprintf(buf, cap, "%s", REQUEST_LINE REQUIRED_HEADERS);
    for (size_t i = 0; i < extra; i++)
        len += (size_t)snprintf(buf + len, cap - len, "X-%zu: v\r\n", i);
    len += (size_t)snprintf(buf + len, cap - len, "\r\n");
    assert_true(len < cap);
    return len;
}

static void test_limit_max_headers(void **state)
{
    (void)state;
    static char buf[4096];
    struct ws_handshake_request req;
    struct ws_handshake_error err;

    size_t len = build_with_extra_headers(buf, sizeof(buf), 3); /* 8 headers */
    struct ws_handshake_limits eight = {0, 8};
    assert_int_equal(ws_handshake_parse(buf, len, &eight, &req, &err), (ssize_t)len);
    assert_int_equal(req.header_count, 8);
    struct ws_handshake_limits seven = {0, 7};
    assert_int_equal(ws_handshake_parse(buf, len, &seven, &req, &err), WS_HANDSHAKE_INVALID);
    assert_int_equal(err.status, 431);

    len = build_with_extra_headers(buf, sizeof(buf), WS_HANDSHAKE_DEFAULT_MAX_HEADERS - 5);
    assert_int_equal(ws_handshake_parse(buf, len, NULL, &req, &err), (ssize_t)len);
    len = build_with_extra_headers(buf, sizeof(buf), WS_HANDSHAKE_DEFAULT_MAX_HEADERS - 4);
    assert_int_equal(ws_handshake_parse(buf, len, NULL, &req, &err), WS_HANDSHAKE_INVALID);
    assert_int_equal(err.status, 431);
}

/* --- ws_handshake_offers --------------------------------------------------- */

static int offers(const char *list, const char *token)
{
    return ws_handshake_offers((struct ws_str){list, strlen(list)}, token);
}

static void test_offers(void **state)
{
    (void)state;
    assert_true(offers("chat, superchat", "chat"));
    assert_true(offers("chat, superchat", "superchat"));
    assert_true(offers("  chat\t,\tjson  ", "json"));
    assert_true(offers("chat", "chat"));
    assert_true(offers(",,chat,", "chat"));
    assert_false(offers("chat, superchat", "Chat"));
    assert_false(offers("chat, superchat", "cha"));
    assert_false(offers("chat, superchat", "super"));
    assert_false(offers("chat superchat", "chat"));
    assert_false(offers("", "chat"));
    assert_false(ws_handshake_offers((struct ws_str){NULL, 0}, "chat"));
}

/* --- writers --------------------------------------------------------------- */

static const char accept_reply[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                                   "\r\n";

static const char accept_reply_chat[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                        "Upgrade: websocket\r\n"
                                        "Connection: Upgrade\r\n"
                                        "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                                        "Sec-WebSocket-Protocol: chat\r\n"
                                        "\r\n";

static void assert_written(const char *out, size_t n, const char *expected)
{
    assert_int_equal(n, strlen(expected));
    assert_memory_equal(out, expected, n);
}

static void test_write_accept(void **state)
{
    (void)state;
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_true(parse_text(full_request, &req, &err) > 0);
    char out[512];
    assert_written(out, ws_handshake_write_accept(out, sizeof(out), &req, NULL), accept_reply);
    assert_written(out, ws_handshake_write_accept(out, sizeof(out), &req, "chat"),
                   accept_reply_chat);
}

static void test_write_accept_too_small(void **state)
{
    (void)state;
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_true(parse_text(full_request, &req, &err) > 0);
    const size_t n = strlen(accept_reply_chat);
    char out[512];
    for (size_t cap = 0; cap < n; cap++) {
        memset(out, '#', sizeof(out));
        assert_int_equal(ws_handshake_write_accept(out, cap, &req, "chat"), 0);
        assert_int_equal(out[cap], '#'); /* never writes past cap */
    }
    assert_written(out, ws_handshake_write_accept(out, n, &req, "chat"), accept_reply_chat);
    assert_int_equal(ws_handshake_write_accept(NULL, 0, &req, NULL), 0);
}

static void test_write_accept_refuses_non_token_subprotocol(void **state)
{
    (void)state;
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    assert_true(parse_text(full_request, &req, &err) > 0);
    char out[512];
    assert_int_equal(ws_handshake_write_accept(out, sizeof(out), &req, "a\r\nSet-Cookie: x"), 0);
    assert_int_equal(ws_handshake_write_accept(out, sizeof(out), &req, "a b"), 0);
    assert_int_equal(ws_handshake_write_accept(out, sizeof(out), &req, ""), 0);
}

static void assert_error_reply(int status, const char *reason, const char *expected)
{
    char out[512];
    size_t n = ws_handshake_write_error(out, sizeof(out), status, reason);
    assert_written(out, n, expected);
}

static void test_write_error(void **state)
{
    (void)state;
    assert_error_reply(400, "missing Sec-WebSocket-Key",
                       "HTTP/1.1 400 Bad Request\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 26\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "missing Sec-WebSocket-Key\n");
    assert_error_reply(426, "unsupported Sec-WebSocket-Version",
                       "HTTP/1.1 426 Upgrade Required\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 34\r\n"
                       "Connection: close\r\n"
                       "Upgrade: websocket\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "\r\n"
                       "unsupported Sec-WebSocket-Version\n");
    assert_error_reply(405, "method must be GET",
                       "HTTP/1.1 405 Method Not Allowed\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 19\r\n"
                       "Connection: close\r\n"
                       "Allow: GET\r\n"
                       "\r\n"
                       "method must be GET\n");
}

static void test_write_error_status_lines(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *line;
    } cases[] = {
        {404, "HTTP/1.1 404 Not Found\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {503, "HTTP/1.1 503 Service Unavailable\r\n"},
        {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {403, "HTTP/1.1 403 Forbidden\r\n"},
        {418, "HTTP/1.1 418 Client Error\r\n"},
        {599, "HTTP/1.1 599 Server Error\r\n"},
        {200, "HTTP/1.1 500 Internal Server Error\r\n"},
        {-1, "HTTP/1.1 500 Internal Server Error\r\n"},
        {1000, "HTTP/1.1 500 Internal Server Error\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[512];
        size_t n = ws_handshake_write_error(out, sizeof(out), cases[i].status, "why");
        assert_true(n > strlen(cases[i].line));
        assert_memory_equal(out, cases[i].line, strlen(cases[i].line));
        assert_memory_equal(out + n - 8, "\r\n\r\nwhy\n", 8);
    }
}

static void test_write_error_null_reason_uses_phrase(void **state)
{
    (void)state;
    assert_error_reply(503, NULL,
                       "HTTP/1.1 503 Service Unavailable\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 20\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "Service Unavailable\n");
}

static void test_write_error_too_small(void **state)
{
    (void)state;
    char out[512];
    const size_t n = ws_handshake_write_error(out, sizeof(out), 426, "nope");
    assert_true(n > 0);
    for (size_t cap = 0; cap < n; cap++) {
        memset(out, '#', sizeof(out));
        assert_int_equal(ws_handshake_write_error(out, cap, 426, "nope"), 0);
        assert_int_equal(out[cap], '#');
    }
    assert_int_equal(ws_handshake_write_error(out, n, 426, "nope"), n);
}

/* Every refusal the parser makes can be written as a reply. */
static void test_parse_errors_can_be_written(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        WITH_VERSION(""),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ws_handshake_request req;
        struct ws_handshake_error err;
        assert_int_equal(parse_text(bad[i], &req, &err), WS_HANDSHAKE_INVALID);
        char out[512];
        assert_true(ws_handshake_write_error(out, sizeof(out), err.status, err.reason) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc_example),
        cmocka_unit_test(test_parse_valid_request_exposes_views),
        cmocka_unit_test(test_parse_optional_headers_absent),
        cmocka_unit_test(test_parse_empty_query_is_present),
        cmocka_unit_test(test_parse_every_split_point),
        cmocka_unit_test(test_parse_leaves_trailing_bytes),
        cmocka_unit_test(test_parse_refuses_other_methods),
        cmocka_unit_test(test_parse_refuses_other_versions),
        cmocka_unit_test(test_parse_refuses_malformed_request_line),
        cmocka_unit_test(test_parse_refuses_non_origin_form_target),
        cmocka_unit_test(test_parse_refuses_early),
        cmocka_unit_test(test_parse_refuses_malformed_header_lines),
        cmocka_unit_test(test_parse_refuses_nul_byte),
        cmocka_unit_test(test_parse_accepts_odd_but_legal_headers),
        cmocka_unit_test(test_parse_trims_value_whitespace),
        cmocka_unit_test(test_parse_header_names_ignore_case),
        cmocka_unit_test(test_parse_host),
        cmocka_unit_test(test_parse_upgrade_token_list),
        cmocka_unit_test(test_parse_plain_http_get),
        cmocka_unit_test(test_write_http_head),
        cmocka_unit_test(test_parse_connection_token_list),
        cmocka_unit_test(test_parse_version),
        cmocka_unit_test(test_parse_key),
        cmocka_unit_test(test_parse_single_valued_headers_not_repeated),
        cmocka_unit_test(test_limit_max_bytes),
        cmocka_unit_test(test_limit_max_bytes_ignores_trailing_bytes),
        cmocka_unit_test(test_limit_default_max_bytes),
        cmocka_unit_test(test_limit_max_headers),
        cmocka_unit_test(test_offers),
        cmocka_unit_test(test_write_accept),
        cmocka_unit_test(test_write_accept_too_small),
        cmocka_unit_test(test_write_accept_refuses_non_token_subprotocol),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_write_error_status_lines),
        cmocka_unit_test(test_write_error_null_reason_uses_phrase),
        cmocka_unit_test(test_write_error_too_small),
        cmocka_unit_test(test_parse_errors_can_be_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

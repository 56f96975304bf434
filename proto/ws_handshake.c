/*
 * ws_handshake.c - the server side of the RFC 6455 opening handshake.
 *
 * Owns three things: the upgrade-request parser (RFC 6455 4.2.1 on top of the
 * RFC 9112 message syntax), the Sec-WebSocket-Accept computation, and the
 * writers for the 101 reply and for HTTP error replies.
 *
 * The parser is picohttpparser-shaped: it is handed (buf, len), re-reads the
 * request from the start on every call, and answers "complete after n bytes",
 * "incomplete" or "invalid, answer with status S". It never allocates or
 * copies; every string it hands back is a view into buf. Lines are checked as
 * soon as their CRLF arrives, so a bad request line is refused without waiting
 * for the rest of the headers. Only the checks that need the whole header block
 * (missing Host, missing key, ...) wait for the blank line.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/coding.h>

#include "ws_handshake.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* RFC 6455 1.3: appended to the client's key before hashing. */
static const char WS_KEY_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ------------------------------------------------------------------------ */
/* Character classes and comparisons (ASCII only, locale-independent).      */

/* RFC 9110 5.6.2 tchar: what method names and header names are made of. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible ASCII: what a request-target may contain (non-ASCII must be
 * percent-encoded in a URI). */
static bool is_vchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_base64_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
           c == '/';
}

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool equals_text(struct ws_str s, const char *lit, bool ignore_case)
{
    size_t n = strlen(lit);
    if (s.ptr == NULL || s.len != n)
        return false;
    if (!ignore_case)
        return memcmp(s.ptr, lit, n) == 0;
    for (size_t i = 0; i < n; i++) {
        if (lower_ascii(s.ptr[i]) != lower_ascii(lit[i]))
            return false;
    }
    return true;
}

static struct ws_str trim_ows(struct ws_str s)
{
    while (s.len > 0 && is_ows(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_ows(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* RFC 9110 5.6.1 #list: elements separated by commas with optional whitespace
 * around them; empty elements are allowed and ignored. */
static bool list_contains(struct ws_str list, const char *token, bool ignore_case)
{
    if (list.ptr == NULL)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= list.len; i++) {
        if (i < list.len && list.ptr[i] != ',')
            continue;
        struct ws_str element = trim_ows((struct ws_str){list.ptr + start, i - start});
        if (equals_text(element, token, ignore_case))
            return true;
        start = i + 1;
    }
    return false;
}

int ws_handshake_offers(struct ws_str list, const char *token)
{
    return list_contains(list, token, false);
}

/* ------------------------------------------------------------------------ */
/* The request parser.                                                      */

/* What one call of ws_handshake_parse() learns besides the request itself. */
struct parse_state {
    struct ws_handshake_request *req;
    struct ws_handshake_error *err;
    struct ws_str version; /* Sec-WebSocket-Version */
    bool upgrade_websocket;
    bool connection_upgrade;
};

enum line_status { LINE_COMPLETE, LINE_INCOMPLETE, LINE_MALFORMED };

/* Fills *err and returns false, so checks read `return refuse(...)`. */
static bool refuse(struct ws_handshake_error *err, int status, const char *reason)
{
    if (err != NULL) {
        err->status = status;
        err->reason = reason;
    }
    return false;
}

static struct ws_handshake_limits resolve_limits(const struct ws_handshake_limits *limits)
{
    struct ws_handshake_limits lim = {WS_HANDSHAKE_DEFAULT_MAX_BYTES,
                                      WS_HANDSHAKE_DEFAULT_MAX_HEADERS};
    if (limits != NULL && limits->max_bytes != 0)
        lim.max_bytes = limits->max_bytes;
    if (limits != NULL && limits->max_headers != 0)
        lim.max_headers = limits->max_headers;
    return lim;
}

/*
 * Finds the CRLF that ends the line starting at pos, looking no further than
 * end. Bytes are vetted on the way: a CR not followed by LF, a LF without CR
 * and control characters other than HTAB make the line malformed, so garbage
 * is refused as soon as it arrives rather than when the blank line does.
 */
static enum line_status find_line_end(const char *buf, size_t pos, size_t end, size_t *eol,
                                      const char **reason)
{
    for (size_t i = pos; i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\r') {
            if (i + 1 == end)
                return LINE_INCOMPLETE;
            if (buf[i + 1] != '\n') {
                *reason = "bare CR";
                return LINE_MALFORMED;
            }
            *eol = i;
            return LINE_COMPLETE;
        }
        if (c == '\n') {
            *reason = "bare LF";
            return LINE_MALFORMED;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            *reason = "control character in request";
            return LINE_MALFORMED;
        }
    }
    return LINE_INCOMPLETE;
}

/* Takes the run of bytes satisfying `accept` at *pos, advancing *pos. */
static struct ws_str take_while(struct ws_str line, size_t *pos, bool (*accept)(unsigned char))
{
    size_t start = *pos;
    while (*pos < line.len && accept((unsigned char)line.ptr[*pos]))
        (*pos)++;
    return (struct ws_str){line.ptr + start, *pos - start};
}

static bool take_space(struct ws_str line, size_t *pos)
{
    if (*pos >= line.len || line.ptr[*pos] != ' ')
        return false;
    (*pos)++;
    return true;
}

/* RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive). */
static bool is_http_version(struct ws_str v)
{
    return v.len == 8 && memcmp(v.ptr, "HTTP/", 5) == 0 && v.ptr[5] >= '0' && v.ptr[5] <= '9' &&
           v.ptr[6] == '.' && v.ptr[7] >= '0' && v.ptr[7] <= '9';
}

/* Splits an origin-form target ("/" path ["?" query]) into req's views. A
 * fragment never belongs in a request (RFC 6455 3: "MUST NOT" in a ws URI). */
static bool split_target(struct ws_str target, struct ws_handshake_request *req)
{
    if (target.len == 0 || target.ptr[0] != '/' || memchr(target.ptr, '#', target.len) != NULL)
        return false;
    const char *question = memchr(target.ptr, '?', target.len);
    req->target = target;
    req->path = target;
    if (question != NULL) {
        req->path.len = (size_t)(question - target.ptr);
        req->query.ptr = question + 1;
        req->query.len = target.len - req->path.len - 1;
    }
    return true;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3). */
static bool parse_request_line(struct ws_str line, struct parse_state *st)
{
    size_t pos = 0;
    struct ws_str method = take_while(line, &pos, is_tchar);
    if (method.len == 0 || !take_space(line, &pos))
        return refuse(st->err, 400, "malformed request line");
    struct ws_str target = take_while(line, &pos, is_vchar);
    if (target.len == 0 || !take_space(line, &pos))
        return refuse(st->err, 400, "malformed request line");
    struct ws_str version = {line.ptr + pos, line.len - pos};
    if (!is_http_version(version))
        return refuse(st->err, 400, "malformed request line");
    /* The version decides how the rest is to be read, so it is judged first. */
    if (!ws_str_eq(version, "HTTP/1.1"))
        return refuse(st->err, 505, "HTTP version must be 1.1");
    if (!ws_str_eq(method, "GET"))
        return refuse(st->err, 405, "method must be GET");
    if (!split_target(target, st->req))
        return refuse(st->err, 400, "request-target must be a path starting with /");
    return true;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5). Whitespace
 * before the colon and obs-fold continuation lines are refused, as 9112
 * requires of a server that does not want to guess. */
static bool parse_header_line(struct ws_str line, struct ws_str *name, struct ws_str *value,
                              struct ws_handshake_error *err)
{
    if (is_ows(line.ptr[0]))
        return refuse(err, 400, "header line starts with whitespace");
    size_t pos = 0;
    *name = take_while(line, &pos, is_tchar);
    if (name->len == 0 || pos == line.len || line.ptr[pos] != ':')
        return refuse(err, 400, "malformed header line");
    pos++;
    *value = trim_ows((struct ws_str){line.ptr + pos, line.len - pos});
    return true;
}

/*
 * Stores the value of a header the broker reads as a single view. Joining
 * repeated lines would need a copy, and a second Host or key is ambiguous
 * anyway (RFC 6455 4.1 says the key appears once), so a repeat is refused.
 */
static bool record_single(struct ws_str *slot, struct ws_str value, const char *duplicate,
                          struct ws_handshake_error *err)
{
    if (ws_str_present(*slot))
        return refuse(err, 400, duplicate);
    *slot = value;
    return true;
}

static bool record_header(struct parse_state *st, struct ws_str name, struct ws_str value)
{
    struct ws_handshake_request *req = st->req;
    const struct {
        const char *name;
        struct ws_str *slot;
        const char *duplicate;
    } singles[] = {
        {"Host", &req->host, "duplicate Host"},
        {"Sec-WebSocket-Key", &req->key, "duplicate Sec-WebSocket-Key"},
        {"Sec-WebSocket-Version", &st->version, "duplicate Sec-WebSocket-Version"},
        {"Sec-WebSocket-Protocol", &req->protocol, "duplicate Sec-WebSocket-Protocol"},
        {"Sec-WebSocket-Extensions", &req->extensions, "duplicate Sec-WebSocket-Extensions"},
        {"Origin", &req->origin, "duplicate Origin"},
        {"Authorization", &req->authorization, "duplicate Authorization"},
    };
    for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
        if (equals_text(name, singles[i].name, true))
            return record_single(singles[i].slot, value, singles[i].duplicate, st->err);
    }
    /* Upgrade and Connection are lists that may also be split over several
     * lines; the tokens are case-insensitive (RFC 9110 7.6.1, 7.8). */
    if (equals_text(name, "Upgrade", true))
        st->upgrade_websocket |= list_contains(value, "websocket", true);
    else if (equals_text(name, "Connection", true))
        st->connection_upgrade |= list_contains(value, "upgrade", true);
    return true;
}

/* The key is 16 random bytes in base64: 22 significant characters and "==". */
static bool is_valid_key(struct ws_str key)
{
    if (key.len != 24 || key.ptr[22] != '=' || key.ptr[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        if (!is_base64_char((unsigned char)key.ptr[i]))
            return false;
    }
    return true;
}

/* The checks that need the whole header block, in RFC 6455 4.2.1 order. */
static bool check_required_headers(struct parse_state *st)
{
    struct ws_handshake_request *req = st->req;
    if (!ws_str_present(req->host))
        return refuse(st->err, 400, "missing Host");
    if (!st->upgrade_websocket && !st->connection_upgrade && !ws_str_present(req->key) &&
        !ws_str_present(st->version)) {
        req->upgrade = false; /* a plain HTTP GET */
        return true;
    }
    req->upgrade = true;
    if (!st->upgrade_websocket)
        return refuse(st->err, 400, "missing Upgrade: websocket");
    if (!st->connection_upgrade)
        return refuse(st->err, 400, "missing Connection: Upgrade");
    if (!ws_str_present(req->key))
        return refuse(st->err, 400, "missing Sec-WebSocket-Key");
    if (!is_valid_key(req->key))
        return refuse(st->err, 400, "malformed Sec-WebSocket-Key");
    /* 426 tells the client which version to retry with (RFC 6455 4.4). */
    if (!ws_str_present(st->version))
        return refuse(st->err, 426, "missing Sec-WebSocket-Version");
    if (!ws_str_eq(st->version, "13"))
        return refuse(st->err, 426, "unsupported Sec-WebSocket-Version");
    return true;
}

ssize_t ws_handshake_parse(const char *buf, size_t len, const struct ws_handshake_limits *limits,
                           struct ws_handshake_request *req, struct ws_handshake_error *err)
{
    struct ws_handshake_limits lim = resolve_limits(limits);
    struct parse_state st = {.req = req, .err = err};
    memset(req, 0, sizeof(*req));

    /* A request must end within max_bytes, so nothing past that is read; if
     * the caller already holds more than that and still no complete request,
     * waiting for more cannot help. */
    size_t end = len < lim.max_bytes ? len : lim.max_bytes;
    size_t pos = 0;
    bool in_headers = false;
    for (;;) {
        size_t eol = 0;
        const char *reason = NULL;
        enum line_status status = find_line_end(buf, pos, end, &eol, &reason);
        if (status == LINE_MALFORMED) {
            refuse(err, 400, reason);
            return WS_HANDSHAKE_INVALID;
        }
        if (status == LINE_INCOMPLETE) {
            if (len > lim.max_bytes) {
                refuse(err, 431, "request headers too large");
                return WS_HANDSHAKE_INVALID;
            }
            return WS_HANDSHAKE_INCOMPLETE;
        }
        struct ws_str line = {buf + pos, eol - pos};
        pos = eol + 2;
        if (!in_headers) {
            if (!parse_request_line(line, &st))
                return WS_HANDSHAKE_INVALID;
            in_headers = true;
            continue;
        }
        if (line.len == 0)
            break;
        if (++req->header_count > lim.max_headers) {
            refuse(err, 431, "too many headers");
            return WS_HANDSHAKE_INVALID;
        }
        struct ws_str name, value;
        if (!parse_header_line(line, &name, &value, err) || !record_header(&st, name, value))
            return WS_HANDSHAKE_INVALID;
    }
    if (!check_required_headers(&st))
        return WS_HANDSHAKE_INVALID;
    return (ssize_t)pos;
}

/* ------------------------------------------------------------------------ */
/* Sec-WebSocket-Accept.                                                    */

int ws_handshake_accept_key(struct ws_str key, char out[WS_ACCEPT_KEY_LEN + 1])
{
    if (key.len > UINT32_MAX)
        return -1;
    wc_Sha sha;
    byte digest[WC_SHA_DIGEST_SIZE];
    if (wc_InitSha(&sha) != 0)
        return -1;
    int rc = wc_ShaUpdate(&sha, (const byte *)key.ptr, (word32)key.len);
    if (rc == 0)
        rc = wc_ShaUpdate(&sha, (const byte *)WS_KEY_GUID, (word32)(sizeof(WS_KEY_GUID) - 1));
    if (rc == 0)
        rc = wc_ShaFinal(&sha, digest);
    wc_ShaFree(&sha);
    if (rc != 0)
        return -1;

    word32 out_len = WS_ACCEPT_KEY_LEN + 1;
    if (Base64_Encode_NoNl(digest, sizeof(digest), (byte *)out, &out_len) != 0 ||
        out_len != WS_ACCEPT_KEY_LEN)
        return -1;
    out[WS_ACCEPT_KEY_LEN] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reply writers.                                                           */

/* An output cursor that remembers whether anything failed to fit, so the
 * writers can append unconditionally and check once at the end. */
struct reply {
    char *out;
    size_t cap;
    size_t len;
    bool overflow;
};

static void append_bytes(struct reply *r, const char *s, size_t n)
{
    if (r->overflow || n > r->cap - r->len) {
        r->overflow = true;
        return;
    }
    memcpy(r->out + r->len, s, n);
    r->len += n;
}

static void append_text(struct reply *r, const char *s)
{
    append_bytes(r, s, strlen(s));
}

static void append_decimal(struct reply *r, size_t n)
{
    char digits[20];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    append_bytes(r, digits + i, sizeof(digits) - i);
}

static size_t finish_reply(const struct reply *r)
{
    return r->overflow ? 0 : r->len;
}

/* A subprotocol goes into a header verbatim, so it must be a token: anything
 * else could smuggle a CRLF into the reply. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!is_tchar((unsigned char)*s))
            return false;
    }
    return true;
}

size_t ws_handshake_write_accept(char *out, size_t cap, const struct ws_handshake_request *req,
                                 const char *subprotocol)
{
    char accept[WS_ACCEPT_KEY_LEN + 1];
    if (ws_handshake_accept_key(req->key, accept) != 0)
        return 0;
    if (subprotocol != NULL && !is_token(subprotocol))
        return 0;

    struct reply r = {out, cap, 0, false};
    append_text(&r, "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: ");
    append_text(&r, accept);
    append_text(&r, "\r\n");
    if (subprotocol != NULL) {
        append_text(&r, "Sec-WebSocket-Protocol: ");
        append_text(&r, subprotocol);
        append_text(&r, "\r\n");
    }
    append_text(&r, "\r\n");
    return finish_reply(&r);
}

/* RFC 9110 15 reason phrases for the statuses the broker answers with. */
static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Headers a status obliges the reply to carry (RFC 9110 15.5.6, RFC 6455 4.4). */
static const char *status_headers(int status)
{
    switch (status) {
    case 401:
        return "WWW-Authenticate: Bearer\r\n"; /* RFC 6750 */
    case 405:
        return "Allow: GET\r\n";
    case 426:
        return "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    default:
        return "";
    }
}

/* Status line, the common headers, extra_headers and the blank line. */
static void append_head(struct reply *r, int status, const char *content_type,
                        const char *extra_headers, size_t body_len)
{
    append_text(r, "HTTP/1.1 ");
    append_decimal(r, (size_t)status);
    append_text(r, " ");
    append_text(r, reason_phrase(status));
    append_text(r, "\r\nContent-Type: ");
    append_text(r, content_type);
    append_text(r, "\r\nContent-Length: ");
    append_decimal(r, body_len);
    append_text(r, "\r\nConnection: close\r\n");
    if (extra_headers != NULL)
        append_text(r, extra_headers);
    append_text(r, "\r\n");
}

size_t ws_handshake_write_error(char *out, size_t cap, int status, const char *reason)
{
    /* This writer only writes errors; anything else is a caller bug that the
     * client should still see as a well-formed failure. */
    if (status < 400 || status > 599)
        status = 500;
    if (reason == NULL)
        reason = reason_phrase(status);

    struct reply r = {out, cap, 0, false};
    append_head(&r, status, "text/plain", status_headers(status), strlen(reason) + 1);
    append_text(&r, reason);
    append_text(&r, "\n");
    return finish_reply(&r);
}

size_t ws_http_write_head(char *out, size_t cap, int status, const char *content_type,
                          const char *extra_headers, size_t body_len)
{
    struct reply r = {out, cap, 0, false};
    append_head(&r, status, content_type, extra_headers, body_len);
    return finish_reply(&r);
}

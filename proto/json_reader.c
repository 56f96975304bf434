/*
 * json_reader.c - the JSON pull reader and the string literal writer.
 *
 * One state variable says what may come next; containers push one bit each
 * (object or array) on a 64-bit stack, which is why JSON_MAX_DEPTH is 64.
 * Every token is checked completely before it is handed out, so the caller
 * never sees a view of malformed text.
 */
#include "json_reader.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* What the reader expects next. */
enum {
    EXPECT_VALUE,      /* a value: at the top, after ':' or after ',' in an array */
    EXPECT_FIRST_ITEM, /* after '[': a value or ']' */
    EXPECT_FIRST_KEY,  /* after '{': a key or '}' */
    EXPECT_KEY,        /* after ',' in an object */
    EXPECT_SEPARATOR,  /* after a value inside a container: ',' or its closer */
    EXPECT_END,        /* after the top-level value: only whitespace */
    READER_DONE,
    READER_FAILED,
};

void json_reader_init(struct json_reader *r, const char *buf, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->len = len;
    r->state = EXPECT_VALUE;
}

/* ------------------------------------------------------------------------ */
/* UTF-8 and escapes, shared by the reader, the decoder and the writer.     */

/* The length of the valid UTF-8 sequence at s[0..len) (1-4), or 0 when the
 * bytes there are not one (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits at s (which has at least 4 bytes), or -1. */
static long hex4(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Checks the escape starting at s[0] == '\\' within s[0..len): returns its
 * length (2, 6, or 12 for a surrogate pair) and its code point, or 0 when it
 * is malformed (unknown letter, bad hex, lone or reversed surrogate).
 */
static size_t read_escape(const char *s, size_t len, uint32_t *cp)
{
    if (len < 2)
        return 0;
    switch (s[1]) {
    case '"':
        *cp = '"';
        return 2;
    case '\\':
        *cp = '\\';
        return 2;
    case '/':
        *cp = '/';
        return 2;
    case 'b':
        *cp = '\b';
        return 2;
    case 'f':
        *cp = '\f';
        return 2;
    case 'n':
        *cp = '\n';
        return 2;
    case 'r':
        *cp = '\r';
        return 2;
    case 't':
        *cp = '\t';
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    long u = len >= 6 ? hex4(s + 2) : -1;
    if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return 0;
    if (u < 0xD800 || u > 0xDBFF) {
        *cp = (uint32_t)u;
        return 6;
    }
    /* A high surrogate must be followed by an escaped low one. */
    if (len < 12 || s[6] != '\\' || s[7] != 'u')
        return 0;
    long low = hex4(s + 8);
    if (low < 0xDC00 || low > 0xDFFF)
        return 0;
    *cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
    return 12;
}

/* ------------------------------------------------------------------------ */
/* The reader.                                                              */

static enum json_token_type fail(struct json_reader *r, size_t at, const char *why)
{
    r->state = READER_FAILED;
    r->error = why;
    r->error_offset = at;
    return JSON_ERROR;
}

static void skip_whitespace(struct json_reader *r)
{
    while (r->pos < r->len) {
        char c = r->buf[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        r->pos++;
    }
}

static bool is_delimiter(const struct json_reader *r, size_t at)
{
    if (at >= r->len)
        return true;
    char c = r->buf[at];
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' ||
           c == ':';
}

/* Scans the string whose opening quote is at r->pos; on success leaves pos
 * after the closing quote. */
static bool scan_string(struct json_reader *r, struct json_token *t)
{
    size_t start = r->pos + 1, i = start;
    const unsigned char *s = (const unsigned char *)r->buf;
    t->escaped = false;
    while (i < r->len) {
        unsigned char c = s[i];
        if (c == '"') {
            t->raw = (struct ws_str){r->buf + start, i - start};
            r->pos = i + 1;
            return true;
        }
        if (c < 0x20) {
            fail(r, i, "control character in string");
            return false;
        }
        if (c == '\\') {
            uint32_t cp;
            size_t n = read_escape(r->buf + i, r->len - i, &cp);
            if (n == 0) {
                fail(r, i, "invalid escape in string");
                return false;
            }
            t->escaped = true;
            i += n;
            continue;
        }
        size_t n = utf8_sequence_length(s + i, r->len - i);
        if (n == 0) {
            fail(r, i, "invalid UTF-8 in string");
            return false;
        }
        i += n;
    }
    fail(r, r->len, "unterminated string");
    return false;
}

static size_t scan_digits(const struct json_reader *r, size_t i)
{
    while (i < r->len && r->buf[i] >= '0' && r->buf[i] <= '9')
        i++;
    return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? followed by a delimiter. */
static bool scan_number(struct json_reader *r, struct json_token *t)
{
    size_t start = r->pos, i = start;
    if (i < r->len && r->buf[i] == '-')
        i++;
    if (i >= r->len || r->buf[i] < '0' || r->buf[i] > '9') {
        fail(r, i, "invalid number");
        return false;
    }
    if (r->buf[i] == '0')
        i++;
    else
        i = scan_digits(r, i);
    if (i < r->len && r->buf[i] == '.') {
        size_t after = scan_digits(r, i + 1);
        if (after == i + 1) {
            fail(r, i, "invalid number: digits must follow '.'");
            return false;
        }
        i = after;
    }
    if (i < r->len && (r->buf[i] == 'e' || r->buf[i] == 'E')) {
        i++;
        if (i < r->len && (r->buf[i] == '+' || r->buf[i] == '-'))
            i++;
        size_t after = scan_digits(r, i);
        if (after == i) {
            fail(r, i, "invalid number: digits must follow the exponent");
            return false;
        }
        i = after;
    }
    if (!is_delimiter(r, i)) {
        fail(r, i, "invalid number");
        return false;
    }
    t->raw = (struct ws_str){r->buf + start, i - start};
    r->pos = i;
    return true;
}

static bool scan_literal(struct json_reader *r, struct json_token *t, const char *word)
{
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->buf + r->pos, word, n) != 0 ||
        !is_delimiter(r, r->pos + n)) {
        fail(r, r->pos, "invalid literal (expected true, false or null)");
        return false;
    }
    t->raw = (struct ws_str){r->buf + r->pos, n};
    r->pos += n;
    return true;
}

/* The state after a complete value at the current depth. */
static int state_after_value(const struct json_reader *r)
{
    return r->depth == 0 ? EXPECT_END : EXPECT_SEPARATOR;
}

static bool top_is_object(const struct json_reader *r)
{
    return (r->in_object >> (r->depth - 1)) & 1;
}

static enum json_token_type open_container(struct json_reader *r, struct json_token *t, bool object)
{
    if (r->depth >= JSON_MAX_DEPTH)
        return fail(r, r->pos, "nested too deeply");
    uint64_t bit = (uint64_t)1 << r->depth;
    r->in_object = object ? (r->in_object | bit) : (r->in_object & ~bit);
    r->depth++;
    t->raw = (struct ws_str){r->buf + r->pos, 1};
    r->pos++;
    r->state = object ? EXPECT_FIRST_KEY : EXPECT_FIRST_ITEM;
    return t->type = object ? JSON_OBJECT_BEGIN : JSON_ARRAY_BEGIN;
}

static enum json_token_type close_container(struct json_reader *r, struct json_token *t)
{
    bool object = top_is_object(r);
    if (r->buf[r->pos] != (object ? '}' : ']'))
        return fail(r, r->pos, object ? "expected '}'" : "expected ']'");
    t->raw = (struct ws_str){r->buf + r->pos, 1};
    r->pos++;
    r->depth--;
    r->state = state_after_value(r);
    return t->type = object ? JSON_OBJECT_END : JSON_ARRAY_END;
}

static enum json_token_type read_value(struct json_reader *r, struct json_token *t)
{
    if (r->pos >= r->len)
        return fail(r, r->pos, "unexpected end of input (expected a value)");
    bool ok;
    switch (r->buf[r->pos]) {
    case '{':
        return open_container(r, t, true);
    case '[':
        return open_container(r, t, false);
    case '"':
        ok = scan_string(r, t);
        t->type = JSON_STRING;
        break;
    case 't':
        ok = scan_literal(r, t, "true");
        t->type = JSON_TRUE;
        break;
    case 'f':
        ok = scan_literal(r, t, "false");
        t->type = JSON_FALSE;
        break;
    case 'n':
        ok = scan_literal(r, t, "null");
        t->type = JSON_NULL;
        break;
    default:
        ok = scan_number(r, t);
        t->type = JSON_NUMBER;
        break;
    }
    if (!ok)
        return JSON_ERROR;
    r->state = state_after_value(r);
    return t->type;
}

static enum json_token_type read_key(struct json_reader *r, struct json_token *t)
{
    if (r->pos >= r->len)
        return fail(r, r->pos, "unexpected end of input (expected a key)");
    if (r->buf[r->pos] != '"')
        return fail(r, r->pos, "expected a string key");
    if (!scan_string(r, t))
        return JSON_ERROR;
    skip_whitespace(r);
    if (r->pos >= r->len || r->buf[r->pos] != ':')
        return fail(r, r->pos, "expected ':' after key");
    r->pos++;
    r->state = EXPECT_VALUE;
    return t->type = JSON_KEY;
}

enum json_token_type json_next(struct json_reader *r, struct json_token *t)
{
    memset(t, 0, sizeof(*t));
    if (r->state == READER_FAILED)
        return JSON_ERROR;
    if (r->state == READER_DONE)
        return t->type = JSON_END;
    skip_whitespace(r);
    switch (r->state) {
    case EXPECT_VALUE:
        return read_value(r, t);
    case EXPECT_FIRST_ITEM:
        if (r->pos < r->len && r->buf[r->pos] == ']')
            return close_container(r, t);
        return read_value(r, t);
    case EXPECT_FIRST_KEY:
        if (r->pos < r->len && r->buf[r->pos] == '}')
            return close_container(r, t);
        return read_key(r, t);
    case EXPECT_KEY:
        return read_key(r, t);
    case EXPECT_SEPARATOR:
        if (r->pos >= r->len)
            return fail(r, r->pos, "unexpected end of input (unclosed container)");
        if (r->buf[r->pos] == ',') {
            r->pos++;
            skip_whitespace(r);
            if (top_is_object(r))
                return read_key(r, t);
            return read_value(r, t);
        }
        return close_container(r, t);
    case EXPECT_END:
        if (r->pos != r->len)
            return fail(r, r->pos, "unexpected data after the value");
        r->state = READER_DONE;
        return t->type = JSON_END;
    default:
        return fail(r, r->pos, "reader in an unknown state");
    }
}

bool json_skip(struct json_reader *r, const struct json_token *t)
{
    if (t->type != JSON_OBJECT_BEGIN && t->type != JSON_ARRAY_BEGIN)
        return t->type != JSON_ERROR && t->type != JSON_END;
    unsigned outer = r->depth - 1;
    struct json_token inner;
    for (;;) {
        enum json_token_type type = json_next(r, &inner);
        if (type == JSON_ERROR || type == JSON_END)
            return false;
        if ((type == JSON_OBJECT_END || type == JSON_ARRAY_END) && r->depth == outer)
            return true;
    }
}

/* ------------------------------------------------------------------------ */
/* Strings and numbers.                                                     */

/* Decodes the character at raw[*i] (an escape or a literal byte run of one
 * UTF-8 sequence) into out, advancing *i; returns the bytes written. raw was
 * validated by the reader. */
static size_t decode_one(struct ws_str raw, size_t *i, char out[4])
{
    if (raw.ptr[*i] == '\\') {
        uint32_t cp = 0;
        size_t n = read_escape(raw.ptr + *i, raw.len - *i, &cp);
        *i += n ? n : 1;
        return utf8_encode(cp, out);
    }
    out[0] = raw.ptr[*i];
    *i += 1;
    return 1;
}

size_t json_string_decode(struct ws_str raw, char *out, size_t cap)
{
    size_t i = 0, n = 0;
    while (i < raw.len) {
        char ch[4];
        size_t k = decode_one(raw, &i, ch);
        if (n + k > cap)
            return SIZE_MAX;
        memcpy(out + n, ch, k);
        n += k;
    }
    return n;
}

bool json_string_eq(const struct json_token *t, const char *lit)
{
    size_t want = strlen(lit);
    if (!t->escaped)
        return t->raw.len == want && memcmp(t->raw.ptr, lit, want) == 0;
    size_t i = 0, n = 0;
    while (i < t->raw.len) {
        char ch[4];
        size_t k = decode_one(t->raw, &i, ch);
        if (n + k > want || memcmp(lit + n, ch, k) != 0)
            return false;
        n += k;
    }
    return n == want;
}

static bool is_integer_text(struct ws_str raw)
{
    return raw.len > 0 && memchr(raw.ptr, '.', raw.len) == NULL &&
           memchr(raw.ptr, 'e', raw.len) == NULL && memchr(raw.ptr, 'E', raw.len) == NULL;
}

/* The magnitude of the digits raw[start..len); false on overflow. */
static bool digits_u64(struct ws_str raw, size_t start, uint64_t *out)
{
    uint64_t v = 0;
    if (start >= raw.len)
        return false;
    for (size_t i = start; i < raw.len; i++) {
        unsigned d = (unsigned)(raw.ptr[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool json_number_u64(struct ws_str raw, uint64_t *out)
{
    if (!is_integer_text(raw) || raw.ptr[0] == '-')
        return false;
    return digits_u64(raw, 0, out);
}

bool json_number_i64(struct ws_str raw, int64_t *out)
{
    if (!is_integer_text(raw))
        return false;
    bool negative = raw.ptr[0] == '-';
    uint64_t magnitude;
    if (!digits_u64(raw, negative ? 1 : 0, &magnitude))
        return false;
    if (negative) {
        if (magnitude > (uint64_t)INT64_MAX + 1)
            return false;
        *out = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
    } else {
        if (magnitude > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)magnitude;
    }
    return true;
}

bool json_number_double(struct ws_str raw, double *out)
{
    char text[512];
    if (raw.len == 0 || raw.len >= sizeof(text))
        return false;
    memcpy(text, raw.ptr, raw.len);
    text[raw.len] = '\0';
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (end != text + raw.len || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* The writer.                                                              */

/* Appends n bytes at *pos when they fit, and counts them either way. */
static void put(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos + n <= cap)
        memcpy(out + *pos, s, n);
    *pos += n;
}

size_t json_write_string(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0, i = 0;
    put(out, cap, &pos, "\"", 1);
    while (i < len) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(out, cap, &pos, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n'   ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                            : NULL;
            if (named) {
                put(out, cap, &pos, named, 2);
            } else {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(out, cap, &pos, esc, 6);
            }
            i++;
        } else {
            size_t n = utf8_sequence_length(u + i, len - i);
            if (n == 0) {
                put(out, cap, &pos, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                put(out, cap, &pos, s + i, n);
                i += n;
            }
        }
    }
    put(out, cap, &pos, "\"", 1);
    return pos;
}

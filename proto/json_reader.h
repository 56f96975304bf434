/*
 * json_reader.h - a zero-copy pull reader for JSON (RFC 8259).
 *
 * Humans speak JSON to the command-line tools, and JWT claims are JSON, so
 * the broker and the tools need to read it; nothing needs a document tree.
 * The reader hands out one token at a time, as views into the caller's
 * buffer, and checks the grammar as it goes (commas, colons, nesting,
 * number syntax, string escapes and UTF-8), so a caller that reads to
 * JSON_END has read a valid document. Strings come back raw (between the
 * quotes, escapes undecoded); json_string_decode() decodes one when its
 * text is needed. Nothing allocates and nothing recurses: nesting is
 * tracked in a fixed bit stack.
 */
#ifndef WSB_JSON_READER_H
#define WSB_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_str.h"

/* The deepest nesting the reader follows; deeper input is an error. */
#define JSON_MAX_DEPTH 64

enum json_token_type {
    JSON_ERROR = 0, /* malformed input: see reader.error / error_offset */
    JSON_END,       /* the one top-level value is complete (and only whitespace followed) */
    JSON_NULL,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NUMBER, /* raw holds the number's text, RFC 8259 grammar checked */
    JSON_STRING, /* raw holds the text between the quotes, escapes undecoded */
    JSON_KEY,    /* an object member's name; raw as for JSON_STRING */
    JSON_OBJECT_BEGIN,
    JSON_OBJECT_END,
    JSON_ARRAY_BEGIN,
    JSON_ARRAY_END,
};

struct json_token {
    enum json_token_type type;
    struct ws_str raw;
    bool escaped; /* a string or key holding at least one backslash escape */
};

struct json_reader {
    const char *buf;
    size_t len;
    size_t pos;
    unsigned depth;
    uint64_t in_object; /* bit d: the container at depth d+1 is an object */
    int state;          /* private: what may come next */
    const char *error;  /* static text naming the problem, once JSON_ERROR was returned */
    size_t error_offset;
};

/* Reads exactly one JSON value (any type) from buf[0..len). */
void json_reader_init(struct json_reader *r, const char *buf, size_t len);

/*
 * The next token: fills *t and returns its type. After JSON_END or
 * JSON_ERROR every further call returns the same again. Key/value order is
 * KEY then the value's tokens; an object's values may be any type.
 */
enum json_token_type json_next(struct json_reader *r, struct json_token *t);

/*
 * Skips the value whose first token was just read (t): for a container
 * begin token, reads through its matching end; for a scalar, does nothing.
 * Returns false on a JSON error (r->error is set).
 */
bool json_skip(struct json_reader *r, const struct json_token *t);

/*
 * Decodes a JSON_STRING or JSON_KEY's raw text (escapes, including \uXXXX
 * surrogate pairs, to UTF-8) into out. Returns the decoded length, or
 * SIZE_MAX when cap is too small. raw must come from json_next (already
 * validated). The decoded text is at most raw.len bytes long.
 */
size_t json_string_decode(struct ws_str raw, char *out, size_t cap);

/* True when a JSON_STRING/JSON_KEY's raw text equals lit after decoding. */
bool json_string_eq(const struct json_token *t, const char *lit);

/*
 * Number conversions of a JSON_NUMBER's raw text. Each returns false when
 * the number is not representable in that type (a fraction or exponent for
 * the integer forms, out of range, or a negative value for uint64).
 */
bool json_number_u64(struct ws_str raw, uint64_t *out);
bool json_number_i64(struct ws_str raw, int64_t *out);
bool json_number_double(struct ws_str raw, double *out);

/*
 * Writes s as a JSON string literal (quotes included, with the escapes
 * RFC 8259 requires: quote, backslash, control characters) into out. Input
 * bytes that are not valid UTF-8 are written as U+FFFD. Returns the length
 * written, or the length needed when it exceeds cap (nothing past cap is
 * written; call again with a larger buffer).
 */
size_t json_write_string(char *out, size_t cap, const char *s, size_t len);

#endif

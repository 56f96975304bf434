/*
 * json_msgpack.h - converts one JSON value to msgpack and one msgpack value
 * to JSON, for humans at the command line (wsbroker-pub / wsbroker-sub):
 * envelopes' `data` is msgpack on the wire, people type and read JSON.
 *
 * Pure: caller's buffers in, caller's buffers out, no allocation, nesting
 * bounded (JSON_MAX_DEPTH / MP_MAX_DEPTH) and never recursive.
 *
 * JSON -> msgpack: objects -> maps (str keys), arrays -> arrays, strings ->
 * str (escapes decoded), true/false/null, integers -> the shortest int
 * encoding (uint for >= 0, int for < 0), other numbers (fraction, exponent,
 * or beyond 64 bits) -> float64.
 *
 * msgpack -> JSON (compact, one line): nil/bool/ints/str/array as JSON;
 * float32/64 as the shortest text that reads back as the same double
 * (always with '.' or 'e' so it stays a float; NaN and infinities, which
 * JSON lacks, as null); map keys that are str as is, integer keys as their
 * decimal string, other keys are refused; bin as {"$bin":"<base64>"}; ext
 * as {"$ext":TYPE,"data":"<base64>"}; str bytes that are not UTF-8 as
 * U+FFFD.
 */
#ifndef WSB_JSON_MSGPACK_H
#define WSB_JSON_MSGPACK_H

#include <stddef.h>
#include <stdint.h>

enum jm_status {
    JM_OK = 0,
    JM_BAD_INPUT, /* error and offset say what and where */
    JM_NO_SPACE,  /* out is too small: retry with a larger one */
};

struct jm_result {
    enum jm_status status;
    size_t len;        /* JM_OK: bytes written to out */
    const char *error; /* static text, otherwise NULL */
    size_t offset;     /* JM_BAD_INPUT: where in the input */
};

/* One JSON document (a value, surrounding whitespace allowed) to msgpack. */
struct jm_result json_to_msgpack(const char *json, size_t len, uint8_t *out, size_t cap);

/* Exactly one msgpack value (nothing after it) to JSON text (not
 * NUL-terminated). */
struct jm_result msgpack_to_json(const uint8_t *mp, size_t len, char *out, size_t cap);

#endif

/*
 * fuzz_json.c - libFuzzer target for the JSON pull reader.
 *
 * Every token's view must lie inside the input; every string decodes to at
 * most its raw length, and written back with json_write_string it reads
 * again as one string that decodes to the same bytes; number conversions
 * must not crash on any number the reader accepts. json_skip on a container
 * must stop at the same place as reading token by token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_reader.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_string(const uint8_t *in, size_t len, const struct json_token *t)
{
    CHECK((const uint8_t *)t->raw.ptr >= in &&
          (const uint8_t *)t->raw.ptr + t->raw.len <= in + len);
    char *decoded = malloc(t->raw.len + 1);
    size_t n = json_string_decode(t->raw, decoded, t->raw.len);
    CHECK(n != SIZE_MAX && n <= t->raw.len);
    size_t need = json_write_string(NULL, 0, decoded, n);
    char *written = malloc(need);
    CHECK(json_write_string(written, need, decoded, n) == need);
    struct json_reader again;
    struct json_token u;
    json_reader_init(&again, written, need);
    CHECK(json_next(&again, &u) == JSON_STRING);
    char *back = malloc(u.raw.len + 1);
    size_t m = json_string_decode(u.raw, back, u.raw.len);
    CHECK(m == n && memcmp(back, decoded, n) == 0);
    CHECK(json_next(&again, &u) == JSON_END);
    free(back);
    free(written);
    free(decoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_reader r, skipper;
    struct json_token t, s;
    json_reader_init(&r, (const char *)data, size);
    json_reader_init(&skipper, (const char *)data, size);
    /* skipper skips the top-level value in one call. */
    enum json_token_type first = json_next(&skipper, &s);
    bool skipped =
        first != JSON_ERROR && json_skip(&skipper, &s) && json_next(&skipper, &s) == JSON_END;
    for (;;) {
        enum json_token_type type = json_next(&r, &t);
        if (type == JSON_ERROR) {
            CHECK(r.error != NULL && r.error_offset <= size);
            break;
        }
        if (type == JSON_END) {
            CHECK(skipped && skipper.pos == r.pos);
            break;
        }
        if (type == JSON_STRING || type == JSON_KEY)
            check_string(data, size, &t);
        if (type == JSON_NUMBER) {
            uint64_t u;
            int64_t i;
            double d;
            (void)json_number_u64(t.raw, &u);
            (void)json_number_i64(t.raw, &i);
            (void)json_number_double(t.raw, &d);
        }
    }
    return 0;
}

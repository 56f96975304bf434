/*
 * fuzz_json_msgpack.c - libFuzzer target for proto/json_msgpack.c.
 *
 * The input is read both ways: as JSON (converted to msgpack) and as
 * msgpack (converted to JSON). Whatever is accepted must convert back
 * without error: JSON -> msgpack -> JSON -> msgpack gives the same msgpack
 * bytes the second time as the first (the text form is canonical), and
 * msgpack -> JSON must be valid JSON for json_to_msgpack. A too-small output
 * buffer must say JM_NO_SPACE, never write past its end (ASan checks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_msgpack.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* JSON text grows at most ~6x of msgpack (a control byte -> \u00XX) plus
 * base64 and key quoting; msgpack is never larger than JSON + headers. */
#define GROWTH 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = size * GROWTH + 64;
    uint8_t *mp = malloc(cap), *mp2 = malloc(cap);
    char *text = malloc(cap * GROWTH);

    struct jm_result r = json_to_msgpack((const char *)data, size, mp, cap);
    if (r.status == JM_OK) {
        size_t mp_len = r.len;
        struct jm_result t = msgpack_to_json(mp, mp_len, text, cap * GROWTH);
        CHECK(t.status == JM_OK);
        struct jm_result r2 = json_to_msgpack(text, t.len, mp2, cap);
        CHECK(r2.status == JM_OK);
        struct jm_result t2 = msgpack_to_json(mp2, r2.len, text, cap * GROWTH);
        CHECK(t2.status == JM_OK && t2.len == t.len);
        /* a buffer one byte short is refused, not overrun */
        if (mp_len > 0) {
            uint8_t *tight = malloc(mp_len - 1 + 1);
            CHECK(json_to_msgpack((const char *)data, size, tight, mp_len - 1).status ==
                  JM_NO_SPACE);
            free(tight);
        }
    } else {
        CHECK(r.status == JM_BAD_INPUT || r.status == JM_NO_SPACE);
        CHECK(r.status != JM_BAD_INPUT || (r.error != NULL && r.offset <= size));
    }

    struct jm_result t = msgpack_to_json(data, size, text, cap * GROWTH);
    if (t.status == JM_OK) {
        struct jm_result back = json_to_msgpack(text, t.len, mp, cap);
        CHECK(back.status == JM_OK);
        if (t.len > 0) {
            char *tight = malloc(t.len - 1 + 1);
            CHECK(msgpack_to_json(data, size, tight, t.len - 1).status == JM_NO_SPACE);
            free(tight);
        }
    } else {
        CHECK(t.status == JM_BAD_INPUT || t.status == JM_NO_SPACE);
    }
    free(mp);
    free(mp2);
    free(text);
    return 0;
}

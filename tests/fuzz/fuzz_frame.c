/*
 * fuzz_frame.c - libFuzzer target for the frame path: the input is a stream
 * of frames, parsed one after another with ws_frame_parse, unmasked (whole
 * and in two pieces, which must agree), and judged by ws_message_check under
 * two configurations (a server requiring masks, and a client that does not).
 * Each complete payload is also re-encoded, as a server and as a client
 * frame, and must parse back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"
#include "ws_mask.h"
#include "ws_message.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_header_len(const struct ws_frame *f)
{
    /* Lengths may be non-minimal, so the header can be longer than the
     * encoder's, but only by a wider length field. */
    size_t min = ws_frame_header_size(f->payload_len, f->masked);
    size_t base = f->header_len - (f->masked ? 4 : 0);
    CHECK(f->header_len >= min && f->header_len <= WS_FRAME_MAX_HEADER);
    CHECK(base == 2 || base == 4 || base == 10);
    if (base == 4)
        CHECK(f->payload_len <= 0xffff);
}

static void check_round_trip(const struct ws_frame *f)
{
    size_t n = (size_t)f->payload_len;
    struct ws_frame g;

    uint8_t *room = malloc(WS_SERVER_FRAME_MAX_HEADER + n + 1);
    CHECK(room);
    memcpy(room + WS_SERVER_FRAME_MAX_HEADER, f->payload, n);
    uint8_t *start =
        ws_frame_prepend_header(room + WS_SERVER_FRAME_MAX_HEADER, n, f->opcode, f->fin);
    size_t len = (size_t)(room + WS_SERVER_FRAME_MAX_HEADER + n - start);
    CHECK(start >= room);
    CHECK(ws_frame_parse(start, len, &g) == (ssize_t)len);
    CHECK(!g.masked && g.fin == f->fin && g.opcode == f->opcode && g.rsv == 0);
    CHECK(g.payload_len == n && g.header_len == ws_frame_header_size(n, false));
    CHECK(memcmp(g.payload, f->payload, n) == 0);
    free(room);

    uint8_t *out = malloc(n + WS_FRAME_MAX_HEADER);
    CHECK(out);
    static const uint8_t mask[4] = {0xa5, 0x01, 0xff, 0x7e};
    len = ws_frame_encode_client(out, n + WS_FRAME_MAX_HEADER, f->payload, n, f->opcode, f->fin,
                                 mask);
    CHECK(len == ws_frame_header_size(n, true) + n);
    CHECK(ws_frame_parse(out, len, &g) == (ssize_t)len);
    CHECK(g.masked && memcmp(g.mask, mask, 4) == 0 && g.payload_len == n);
    ws_unmask(g.payload, n, g.mask, 0);
    CHECK(memcmp(g.payload, f->payload, n) == 0);
    free(out);
}

struct judge {
    struct ws_message_limits lim;
    struct ws_message_state st;
    bool failed;
};

static void judge_frame(struct judge *j, const struct ws_frame *f)
{
    if (j->failed)
        return;
    const char *reason;
    enum ws_close_code early = ws_message_check_header(&j->st, f, &j->lim, &reason);
    struct ws_message_state before = j->st;
    struct ws_message_verdict v;
    ws_message_check(&j->st, f, &j->lim, &v);
    if (early != WS_CLOSE_NONE)
        CHECK(v.fail == early && v.reason == reason);
    if (v.fail == WS_CLOSE_NONE) {
        CHECK(j->st.size <= j->lim.max_message);
        return;
    }
    CHECK(v.reason != NULL);
    CHECK(v.fail == WS_CLOSE_PROTOCOL_ERROR || v.fail == WS_CLOSE_INVALID_PAYLOAD ||
          v.fail == WS_CLOSE_MESSAGE_TOO_BIG);
    CHECK(memcmp(&before, &j->st, sizeof(before)) == 0);
    j->failed = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    uint8_t *copy = malloc(size ? size : 1);
    if (!buf || !copy)
        abort();
    memcpy(buf, data, size);

    struct judge judges[2] = {
        {.lim = {.max_message = 1 << 16, .allowed_rsv = 0, .require_mask = true}},
        {.lim = {.max_message = 64, .allowed_rsv = 0x4, .require_mask = false}},
    };
    for (size_t i = 0; i < 2; i++)
        ws_message_init(&judges[i].st);

    size_t off = 0;
    while (off < size) {
        struct ws_frame f;
        ssize_t r = ws_frame_parse(buf + off, size - off, &f);
        if (r == WS_FRAME_INVALID)
            break;
        if (r == WS_FRAME_INCOMPLETE) {
            CHECK(f.payload == NULL);
            if (f.header_len != 0) {
                check_header_len(&f);
                CHECK(f.header_len <= size - off);
                CHECK(f.payload_len > size - off - f.header_len);
            }
            break;
        }
        CHECK(r > 0 && (size_t)r <= size - off);
        check_header_len(&f);
        CHECK(f.payload == buf + off + f.header_len);
        CHECK(f.header_len + f.payload_len == (size_t)r);

        /* unmask in two pieces (cut chosen by the data) and whole: same bytes */
        size_t n = (size_t)f.payload_len;
        if (f.masked) {
            memcpy(copy, f.payload, n);
            size_t cut = n ? f.mask[0] % (n + 1) : 0;
            ws_unmask(copy, cut, f.mask, 0);
            ws_unmask(copy + cut, n - cut, f.mask, cut);
            ws_unmask(f.payload, n, f.mask, 0);
            CHECK(memcmp(copy, f.payload, n) == 0);
        }
        for (size_t i = 0; i < 2; i++)
            judge_frame(&judges[i], &f);
        check_round_trip(&f);
        off += (size_t)r;
    }
    free(buf);
    free(copy);
    return 0;
}

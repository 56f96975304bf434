/*
 * test_frame.c - ws_frame_parse and the frame encoders, byte for byte:
 * RFC 6455 section 5.7's examples, every split point of a multi-frame buffer,
 * the malformed 64-bit length, and encoder -> parser round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws_frame.h"
#include "ws_mask.h"

static void test_rfc_unmasked_hello(void **state)
{
    (void)state;
    uint8_t buf[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(buf, sizeof(buf), &f), 7);
    assert_true(f.fin);
    assert_int_equal(f.rsv, 0);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_false(f.masked);
    assert_int_equal(f.payload_len, 5);
    assert_int_equal(f.header_len, 2);
    assert_ptr_equal(f.payload, buf + 2);
    assert_memory_equal(f.payload, "Hello", 5);
}

static void test_rfc_masked_hello(void **state)
{
    (void)state;
    uint8_t buf[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(buf, sizeof(buf), &f), 11);
    assert_true(f.fin);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_true(f.masked);
    uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    assert_memory_equal(f.mask, mask, 4);
    assert_int_equal(f.header_len, 6);
    assert_int_equal(f.payload_len, 5);
    ws_unmask(f.payload, f.payload_len, f.mask, 0);
    assert_memory_equal(f.payload, "Hello", 5);

    /* and the client encoder produces exactly those bytes */
    uint8_t out[32];
    uint8_t expect[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(ws_frame_encode_client(out, sizeof(out), (const uint8_t *)"Hello", 5,
                                            WS_OP_TEXT, true, mask),
                     11);
    assert_memory_equal(out, expect, 11);
}

static void test_rfc_fragmented_hello(void **state)
{
    (void)state;
    uint8_t buf[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(buf, sizeof(buf), &f), 5);
    assert_false(f.fin);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_memory_equal(f.payload, "Hel", 3);
    assert_int_equal(ws_frame_parse(buf + 5, sizeof(buf) - 5, &f), 4);
    assert_true(f.fin);
    assert_int_equal(f.opcode, WS_OP_CONTINUATION);
    assert_memory_equal(f.payload, "lo", 2);
}

static void test_rfc_ping_pong(void **state)
{
    (void)state;
    uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(ping, sizeof(ping), &f), 7);
    assert_int_equal(f.opcode, WS_OP_PING);
    assert_true(f.fin);
    assert_false(f.masked);
    assert_memory_equal(f.payload, "Hello", 5);

    uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(ws_frame_parse(pong, sizeof(pong), &f), 11);
    assert_int_equal(f.opcode, WS_OP_PONG);
    assert_true(f.masked);
    ws_unmask(f.payload, f.payload_len, f.mask, 0);
    assert_memory_equal(f.payload, "Hello", 5);
}

static void test_rfc_256_bytes_16bit_length(void **state)
{
    (void)state;
    uint8_t buf[4 + 256];
    buf[0] = 0x82;
    buf[1] = 0x7e;
    buf[2] = 0x01;
    buf[3] = 0x00;
    for (int i = 0; i < 256; i++)
        buf[4 + i] = (uint8_t)i;
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(buf, sizeof(buf), &f), 260);
    assert_int_equal(f.opcode, WS_OP_BINARY);
    assert_int_equal(f.header_len, 4);
    assert_int_equal(f.payload_len, 256);
    assert_ptr_equal(f.payload, buf + 4);
}

static void test_rfc_64k_64bit_length(void **state)
{
    (void)state;
    size_t n = 65536;
    uint8_t *buf = malloc(10 + n);
    assert_non_null(buf);
    uint8_t head[] = {0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    memcpy(buf, head, 10);
    memset(buf + 10, 0xab, n);
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(buf, 10 + n, &f), 10 + n);
    assert_int_equal(f.header_len, 10);
    assert_int_equal(f.payload_len, n);
    assert_ptr_equal(f.payload, buf + 10);
    /* one byte short: incomplete, header already known */
    assert_int_equal(ws_frame_parse(buf, 10 + n - 1, &f), WS_FRAME_INCOMPLETE);
    assert_int_equal(f.header_len, 10);
    assert_int_equal(f.payload_len, n);
    assert_null(f.payload);
    free(buf);
}

static void test_64bit_length_msb_invalid(void **state)
{
    (void)state;
    uint8_t buf[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0};
    struct ws_frame f;
    for (size_t n = 0; n < sizeof(buf); n++)
        assert_int_equal(ws_frame_parse(buf, n, &f), WS_FRAME_INCOMPLETE);
    assert_int_equal(ws_frame_parse(buf, sizeof(buf), &f), WS_FRAME_INVALID);
    /* the largest legal length is merely incomplete */
    uint8_t big[] = {0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ws_frame_parse(big, sizeof(big), &f), WS_FRAME_INCOMPLETE);
    assert_int_equal(f.payload_len, 0x7fffffffffffffffull);
    assert_int_equal(f.header_len, 10);
}

static void test_non_minimal_lengths_accepted(void **state)
{
    (void)state;
    uint8_t b16[] = {0x82, 0x7e, 0x00, 0x03, 'a', 'b', 'c'};
    uint8_t b64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x03, 'a', 'b', 'c'};
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(b16, sizeof(b16), &f), 7);
    assert_int_equal(f.payload_len, 3);
    assert_int_equal(ws_frame_parse(b64, sizeof(b64), &f), 13);
    assert_int_equal(f.payload_len, 3);
    assert_memory_equal(f.payload, "abc", 3);
}

static void test_header_fields_raw(void **state)
{
    (void)state;
    /* RSV bits and reserved opcodes are reported, not judged, here */
    uint8_t buf[] = {0x7b, 0x00};
    struct ws_frame f;
    assert_int_equal(ws_frame_parse(buf, 2, &f), 2);
    assert_false(f.fin);
    assert_int_equal(f.rsv, 0x7);
    assert_int_equal(f.opcode, 0xb);
    assert_int_equal(f.payload_len, 0);
    assert_non_null(f.payload);
    buf[0] = 0xc1; /* FIN + RSV1 */
    assert_int_equal(ws_frame_parse(buf, 2, &f), 2);
    assert_int_equal(f.rsv, 0x4);
    buf[0] = 0xa1; /* RSV2 */
    assert_int_equal(ws_frame_parse(buf, 2, &f), 2);
    assert_int_equal(f.rsv, 0x2);
    buf[0] = 0x91; /* RSV3 */
    assert_int_equal(ws_frame_parse(buf, 2, &f), 2);
    assert_int_equal(f.rsv, 0x1);
}

static void test_header_len_only_when_header_complete(void **state)
{
    (void)state;
    uint8_t mask[4] = {1, 2, 3, 4};
    uint8_t payload[300];
    memset(payload, 'x', sizeof(payload));
    uint8_t buf[400];
    size_t total = ws_frame_encode_client(buf, sizeof(buf), payload, 300, WS_OP_BINARY, true, mask);
    assert_int_equal(total, 8 + 300);
    struct ws_frame f;
    for (size_t n = 0; n < total; n++) {
        assert_int_equal(ws_frame_parse(buf, n, &f), WS_FRAME_INCOMPLETE);
        assert_null(f.payload);
        if (n < 8) {
            assert_int_equal(f.header_len, 0);
        } else {
            assert_int_equal(f.header_len, 8);
            assert_int_equal(f.payload_len, 300);
            assert_true(f.masked);
            assert_memory_equal(f.mask, mask, 4);
            assert_int_equal(f.opcode, WS_OP_BINARY);
        }
    }
    assert_int_equal(ws_frame_parse(buf, total, &f), total);
}

/* Several frames of every header shape in one buffer. */
static size_t build_stream(uint8_t *buf, size_t cap, size_t *ends, size_t *nframes)
{
    static const size_t lens[] = {0, 5, 125, 126, 300, 1, 70000};
    uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t *payload = malloc(70000);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t at = 0;
    size_t k = 0;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (i % 2 == 0) {
            at += ws_frame_encode_client(buf + at, cap - at, payload, lens[i], WS_OP_BINARY, true,
                                         mask);
        } else {
            size_t h = ws_frame_write_header(buf + at, lens[i], WS_OP_TEXT, i != 3, NULL);
            memcpy(buf + at + h, payload, lens[i]);
            at += h + lens[i];
        }
        ends[k++] = at;
    }
    free(payload);
    *nframes = k;
    return at;
}

static void test_stream_every_split_point(void **state)
{
    (void)state;
    size_t cap = 80000;
    uint8_t *buf = malloc(cap);
    size_t ends[16], nframes;
    size_t total = build_stream(buf, cap, ends, &nframes);

    /* Feed a growing prefix, consuming frames as they complete: a frame is
     * complete exactly when its last byte arrives, never earlier. */
    size_t start = 0, frame = 0;
    struct ws_frame f;
    for (size_t avail = 0; avail <= total; avail++) {
        for (;;) {
            ssize_t r = ws_frame_parse(buf + start, avail - start, &f);
            if (frame < nframes && avail >= ends[frame]) {
                assert_int_equal(r, ends[frame] - start);
                assert_true(f.payload >= buf + start);
                assert_true(f.payload + f.payload_len == buf + ends[frame]);
                assert_int_equal(f.header_len, ws_frame_header_size(f.payload_len, f.masked));
                start = ends[frame++];
                continue;
            }
            assert_int_equal(r, WS_FRAME_INCOMPLETE);
            assert_null(f.payload);
            break;
        }
    }
    assert_int_equal(frame, nframes);
    assert_int_equal(start, total);
    free(buf);
}

static void test_stream_all_in_one_buffer(void **state)
{
    (void)state;
    size_t cap = 80000;
    uint8_t *buf = malloc(cap);
    size_t ends[16], nframes;
    size_t total = build_stream(buf, cap, ends, &nframes);
    static const uint64_t lens[] = {0, 5, 125, 126, 300, 1, 70000};
    size_t at = 0;
    struct ws_frame f;
    for (size_t i = 0; i < nframes; i++) {
        ssize_t r = ws_frame_parse(buf + at, total - at, &f);
        assert_int_equal(r, ends[i] - at);
        assert_int_equal(f.payload_len, lens[i]);
        assert_int_equal(f.masked, i % 2 == 0);
        assert_int_equal(f.fin, i != 3);
        assert_int_equal(f.opcode, i % 2 == 0 ? WS_OP_BINARY : WS_OP_TEXT);
        if (f.masked)
            ws_unmask(f.payload, f.payload_len, f.mask, 0);
        for (size_t j = 0; j < f.payload_len; j++)
            assert_int_equal(f.payload[j], (uint8_t)(j * 7));
        at += (size_t)r;
    }
    assert_int_equal(at, total);
    assert_int_equal(ws_frame_parse(buf + at, 0, &f), WS_FRAME_INCOMPLETE);
    free(buf);
}

static void test_header_size(void **state)
{
    (void)state;
    assert_int_equal(ws_frame_header_size(0, false), 2);
    assert_int_equal(ws_frame_header_size(125, false), 2);
    assert_int_equal(ws_frame_header_size(126, false), 4);
    assert_int_equal(ws_frame_header_size(65535, false), 4);
    assert_int_equal(ws_frame_header_size(65536, false), 10);
    assert_int_equal(ws_frame_header_size(0, true), 6);
    assert_int_equal(ws_frame_header_size(126, true), 8);
    assert_int_equal(ws_frame_header_size(65536, true), 14);
    assert_true(ws_frame_header_size(UINT64_MAX >> 1, true) <= WS_FRAME_MAX_HEADER);
}

static void test_encoder_round_trips(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 125, 126, 65535, 65536};
    uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    uint8_t *payload = malloc(65536);
    uint8_t *out = malloc(65536 + WS_FRAME_MAX_HEADER);
    for (size_t i = 0; i < 65536; i++)
        payload[i] = (uint8_t)(i ^ (i >> 8));
    struct ws_frame f;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        /* server frame: header prepended in the reserved room */
        uint8_t *room = malloc(WS_SERVER_FRAME_MAX_HEADER + n + 1);
        memcpy(room + WS_SERVER_FRAME_MAX_HEADER, payload, n);
        uint8_t *frame =
            ws_frame_prepend_header(room + WS_SERVER_FRAME_MAX_HEADER, n, WS_OP_BINARY, true);
        assert_true(frame >= room);
        size_t flen = (size_t)(room + WS_SERVER_FRAME_MAX_HEADER + n - frame);
        assert_int_equal(ws_frame_parse(frame, flen, &f), flen);
        assert_int_equal(f.header_len, ws_frame_header_size(n, false));
        assert_int_equal(flen, f.header_len + n);
        assert_false(f.masked);
        assert_true(f.fin);
        assert_int_equal(f.opcode, WS_OP_BINARY);
        assert_int_equal(f.payload_len, n);
        assert_ptr_equal(f.payload, room + WS_SERVER_FRAME_MAX_HEADER);
        /* write_header agrees byte for byte with prepend_header */
        uint8_t hdr[WS_FRAME_MAX_HEADER];
        assert_int_equal(ws_frame_write_header(hdr, n, WS_OP_BINARY, true, NULL), f.header_len);
        assert_memory_equal(hdr, frame, f.header_len);
        free(room);

        /* client frame: masked copy */
        size_t clen = ws_frame_encode_client(out, n + WS_FRAME_MAX_HEADER, payload, n, WS_OP_TEXT,
                                             false, mask);
        assert_int_equal(clen, ws_frame_header_size(n, true) + n);
        assert_int_equal(ws_frame_parse(out, clen, &f), clen);
        assert_true(f.masked);
        assert_false(f.fin);
        assert_int_equal(f.opcode, WS_OP_TEXT);
        assert_memory_equal(f.mask, mask, 4);
        assert_int_equal(f.payload_len, n);
        ws_unmask(f.payload, f.payload_len, f.mask, 0);
        if (n > 0)
            assert_memory_equal(f.payload, payload, n);
    }
    free(payload);
    free(out);
}

static void test_encode_client_cap(void **state)
{
    (void)state;
    uint8_t mask[4] = {1, 2, 3, 4};
    uint8_t out[16];
    assert_int_equal(ws_frame_encode_client(out, 11, (const uint8_t *)"Hello", 5, 1, true, mask),
                     11);
    assert_int_equal(ws_frame_encode_client(out, 10, (const uint8_t *)"Hello", 5, 1, true, mask),
                     0);
    assert_int_equal(ws_frame_encode_client(out, 5, (const uint8_t *)"Hello", 5, 1, true, mask), 0);
    assert_int_equal(ws_frame_encode_client(out, 6, NULL, 0, WS_OP_PING, true, mask), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_unmasked_hello),
        cmocka_unit_test(test_rfc_masked_hello),
        cmocka_unit_test(test_rfc_fragmented_hello),
        cmocka_unit_test(test_rfc_ping_pong),
        cmocka_unit_test(test_rfc_256_bytes_16bit_length),
        cmocka_unit_test(test_rfc_64k_64bit_length),
        cmocka_unit_test(test_64bit_length_msb_invalid),
        cmocka_unit_test(test_non_minimal_lengths_accepted),
        cmocka_unit_test(test_header_fields_raw),
        cmocka_unit_test(test_header_len_only_when_header_complete),
        cmocka_unit_test(test_stream_every_split_point),
        cmocka_unit_test(test_stream_all_in_one_buffer),
        cmocka_unit_test(test_header_size),
        cmocka_unit_test(test_encoder_round_trips),
        cmocka_unit_test(test_encode_client_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

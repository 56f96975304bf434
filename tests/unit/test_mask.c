/*
 * test_mask.c - ws_unmask against a byte-at-a-time reference, for every
 * length 0..67 (and some long ones, across the vector block size) at every
 * key offset and buffer alignment, and unmasking in pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws_mask.h"

static void unmask_reference(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(offset + i) % 4];
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 131 + (i >> 3));
}

static void check_one(size_t len, size_t offset, size_t align)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t *a = malloc(len + 64 + 2);
    uint8_t *b = malloc(len + 64 + 2);
    fill(a, len + 64 + 2, (unsigned)(len + offset));
    memcpy(b, a, len + 64 + 2);
    ws_unmask(a + align, len, mask, offset);
    unmask_reference(b + align, len, mask, offset);
    /* equal everywhere: nothing before or after the range was touched */
    assert_memory_equal(a, b, len + 64 + 2);
    free(a);
    free(b);
}

static void test_every_offset_and_length(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 67; len++)
        for (size_t offset = 0; offset < 8; offset++)
            for (size_t align = 0; align < 8; align++)
                check_one(len, offset, align);
}

static void test_long_lengths(void **state)
{
    (void)state;
    static const size_t lens[] = {63, 64, 65, 127, 128, 129, 191, 255, 256, 1000, 4097, 65536};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        for (size_t offset = 0; offset < 4; offset++)
            for (size_t align = 0; align < 4; align++)
                check_one(lens[i], offset, align);
}

static void test_in_pieces(void **state)
{
    (void)state;
    /* unmasking [0, cut) then [cut, n) with offset = cut is the same as all at once */
    static const uint8_t mask[4] = {1, 0x80, 0xff, 0x5a};
    size_t n = 300;
    uint8_t whole[300], pieces[300];
    for (size_t cut = 0; cut <= n; cut++) {
        fill(whole, n, 7);
        memcpy(pieces, whole, n);
        ws_unmask(whole, n, mask, 0);
        ws_unmask(pieces, cut, mask, 0);
        ws_unmask(pieces + cut, n - cut, mask, cut);
        assert_memory_equal(whole, pieces, n);
    }
}

static void test_masking_is_involution(void **state)
{
    (void)state;
    static const uint8_t mask[4] = {9, 8, 7, 6};
    uint8_t orig[200], buf[200];
    fill(orig, sizeof(orig), 3);
    memcpy(buf, orig, sizeof(buf));
    ws_unmask(buf, sizeof(buf), mask, 2);
    ws_unmask(buf, sizeof(buf), mask, 2);
    assert_memory_equal(buf, orig, sizeof(buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_offset_and_length),
        cmocka_unit_test(test_long_lengths),
        cmocka_unit_test(test_in_pieces),
        cmocka_unit_test(test_masking_is_involution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

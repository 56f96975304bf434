/*
 * ws_mask.c - XORs a payload with its 4-byte masking key in place
 * (RFC 6455 5.3).
 *
 * Every byte a client sends passes through here, so the loop works on 64
 * bytes at a time with GCC/Clang vector types: plain SSE2 on any x86-64 (and
 * NEON or scalar words elsewhere), and 32-byte AVX2 lanes when the CPU has
 * them, picked at run time. The key is first rotated by `offset` so a payload
 * that arrives in pieces can be unmasked piece by piece.
 */
#include "ws_mask.h"

#include <string.h>

typedef uint64_t v2u64 __attribute__((vector_size(16)));
typedef uint64_t v4u64 __attribute__((vector_size(32)));

#define MASK_BLOCK 64

/* XORs whole 64-byte blocks of data with the 8-byte key k (the rotated mask,
 * twice); returns how many bytes it did. memcpy does the unaligned loads and
 * stores, which compilers turn into single vector moves. */
static size_t unmask_blocks_sse(uint8_t *data, size_t len, uint64_t k)
{
    v2u64 key = {k, k};
    size_t i = 0;
    for (; len - i >= MASK_BLOCK; i += MASK_BLOCK) {
        v2u64 a, b, c, d;
        memcpy(&a, data + i, 16);
        memcpy(&b, data + i + 16, 16);
        memcpy(&c, data + i + 32, 16);
        memcpy(&d, data + i + 48, 16);
        a ^= key;
        b ^= key;
        c ^= key;
        d ^= key;
        memcpy(data + i, &a, 16);
        memcpy(data + i + 16, &b, 16);
        memcpy(data + i + 32, &c, 16);
        memcpy(data + i + 48, &d, 16);
    }
    return i;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static size_t unmask_blocks_avx2(uint8_t *data, size_t len,
                                                                 uint64_t k)
{
    v4u64 key = {k, k, k, k};
    size_t i = 0;
    for (; len - i >= MASK_BLOCK; i += MASK_BLOCK) {
        v4u64 a, b;
        memcpy(&a, data + i, 32);
        memcpy(&b, data + i + 32, 32);
        a ^= key;
        b ^= key;
        memcpy(data + i, &a, 32);
        memcpy(data + i + 32, &b, 32);
    }
    return i;
}

static size_t unmask_blocks(uint8_t *data, size_t len, uint64_t k)
{
    if (__builtin_cpu_supports("avx2"))
        return unmask_blocks_avx2(data, len, k);
    return unmask_blocks_sse(data, len, k);
}
#else
static size_t unmask_blocks(uint8_t *data, size_t len, uint64_t k)
{
    return unmask_blocks_sse(data, len, k);
}
#endif

void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    /* The key as a word whose bytes in memory are the mask rotated by
     * offset, repeated twice: m[r] m[r+1] m[r+2] m[r+3] m[r] ... */
    uint32_t m;
    memcpy(&m, mask, 4);
    unsigned r = (unsigned)(offset & 3) * 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    m = r ? (m >> r | m << (32 - r)) : m;
#else
    m = r ? (m << r | m >> (32 - r)) : m;
#endif
    uint64_t k = (uint64_t)m * 0x100000001ull;

    size_t done = len >= MASK_BLOCK ? unmask_blocks(data, len, k) : 0;

    /* What is left (< 64 bytes) goes a word, then a byte, at a time; done is
     * a multiple of 8, so the key stays in phase. */
    for (; len - done >= 8; done += 8) {
        uint64_t w;
        memcpy(&w, data + done, 8);
        w ^= k;
        memcpy(data + done, &w, 8);
    }
    uint8_t key[8];
    memcpy(key, &k, 8);
    for (size_t j = 0; done < len; done++, j++)
        data[done] ^= key[j];
}

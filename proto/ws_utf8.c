/*
 * ws_utf8.c - incremental UTF-8 validation (RFC 3629) for text messages.
 *
 * The reference is a 9-state DFA in the "shift" form: each byte's table
 * entry packs the next state for every current state into one 64-bit word,
 * 6 bits apiece, so a step is a load and a shift (the loop is compiled
 * twice, the copy for BMI2 CPUs using SHRX, which measured 1.5x faster on
 * mixed-script text), and runs of ASCII in front of it are skipped 64 bytes
 * at a time by OR-ing vector loads. State values are bit offsets into that
 * word (state * 6); the API's states are the plain numbers, so
 * WS_UTF8_ACCEPT is 0 and WS_UTF8_REJECT is 1 on both sides.
 *
 * The DFA rejects overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates
 * (ED A0-BF), code points above U+10FFFF (F4 90-BF, F5-FF) and stray or
 * missing continuation bytes, each at the first byte that makes the
 * sequence impossible.
 *
 * Being one shift per byte, the DFA does about a byte per cycle on
 * multi-byte text. So inputs of 67 bytes or more first go through a vector
 * validator (Keiser & Lemire, "Validating UTF-8 In Less Than One Instruction
 * Per Byte", 2021, the "lookup" algorithm), AVX2 or SSSE3 as the CPU allows,
 * which checks whole blocks from a code point boundary and can only say
 * "valid so far". The DFA has the last word: it finishes a sequence left open
 * at the end (3 bytes at most), and when a block holds an error it takes
 * over from a boundary before that block and finds the exact byte. So every
 * input, however it is split into calls, ends in the state the DFA alone
 * would reach, and a call returns WS_UTF8_REJECT exactly when it holds the
 * first impossible byte.
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
/* aligned(64), here and on feed_bmi2: their loops are a few dozen bytes,
 * and where the link happened to put one across a 64-byte line it measured
 * 20-40% slower (the 1 KiB ASCII and 16-byte rows of bench/micro). */
__attribute__((target("avx2"), aligned(64))) static size_t skip_ascii_avx2(const uint8_t *s,
                                                                           size_t len)
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
__attribute__((target("bmi2"), aligned(64))) static uint32_t feed_bmi2(uint32_t state,
                                                                       const uint8_t *s, size_t len)
{
    return feed(state, s, len);
}
#endif

/* The DFA alone, from any state. */
static inline __attribute__((always_inline)) uint32_t feed_dfa(uint32_t state, const uint8_t *s,
                                                               size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("bmi2"))
        return feed_bmi2(state, s, len);
#endif
    return feed(state, s, len);
}

#if defined(__x86_64__) || defined(__i386__)

/*
 * The vector validator. Every byte is judged together with the byte before
 * it. Three 16-entry tables, indexed by the high nibble of the byte before,
 * its low nibble and the high nibble of the byte itself, each give the error
 * classes (one bit apiece) that the nibble is compatible with; the pair is
 * wrong exactly when some class survives the AND of all three. PSHUFB does
 * the table look-ups for a whole vector at once.
 *
 * What a pair cannot see is that the third and fourth bytes of a sequence
 * must be continuations. That comes from the bytes two and three back:
 * TWO_CONTS (a continuation after a continuation) must be set exactly where
 * the byte two back is E0-FF or the byte three back is F0-FF, so XOR-ing a
 * mask of those positions in clears the expected TWO_CONTS bits and leaves
 * every other one as an error. Saturating subtracts turn "byte >= E0" and
 * "byte >= F0" into the 0x80 bit.
 */
enum {
    TOO_SHORT = 0x01,  /* a lead byte, then ASCII or another lead */
    TOO_LONG = 0x02,   /* ASCII, then a continuation */
    OVERLONG_3 = 0x04, /* E0, then 80-9F */
    TOO_LARGE = 0x08,  /* F4-FF, then 90-BF */
    SURROGATE = 0x10,  /* ED, then A0-BF */
    OVERLONG_2 = 0x20, /* C0-C1, then a continuation */
    OVERLONG_4 = 0x40, /* F0, then 80-8F */
    /* F5-FF, then 80-8F: shares a bit with OVERLONG_4, as the low-nibble
     * table keeps the two apart (F0 versus F5-FF) */
    TOO_LARGE_1000 = 0x40,
    TWO_CONTS = 0x80, /* a continuation, then another */
};

/* The classes that depend on the high nibbles alone pass any low nibble. */
#define ANY_LOW (TOO_SHORT | TOO_LONG | TWO_CONTS)
/* The classes that any continuation byte (80-BF) completes. */
#define ANY_CONT (TOO_LONG | OVERLONG_2 | TWO_CONTS)

/* By the high nibble of the byte before. */
/* clang-format off */
static const uint8_t before_high_classes[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, /* 0-7 */
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,                                     /* 8-B */
    TOO_SHORT | OVERLONG_2,                                                         /* C */
    TOO_SHORT,                                                                      /* D */
    TOO_SHORT | OVERLONG_3 | SURROGATE,                                             /* E */
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,                            /* F */
};

/* By the low nibble of the byte before. */
static const uint8_t before_low_classes[16] = {
    ANY_LOW | OVERLONG_2 | OVERLONG_3 | OVERLONG_4,   /* C0, E0, F0 */
    ANY_LOW | OVERLONG_2,                             /* C1 */
    ANY_LOW,                                          /* 2 */
    ANY_LOW,                                          /* 3 */
    ANY_LOW | TOO_LARGE,                              /* F4 */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* F5 */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* F6 */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* F7 */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* F8 */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* F9 */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* FA */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* FB */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* FC */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, /* ED, FD */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* FE */
    ANY_LOW | TOO_LARGE | TOO_LARGE_1000,             /* FF */
};

/* By the high nibble of the byte itself. */
static const uint8_t byte_high_classes[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,          /* 0-3 */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,          /* 4-7 */
    ANY_CONT | OVERLONG_3 | OVERLONG_4 | TOO_LARGE_1000, /* 8 */
    ANY_CONT | OVERLONG_3 | TOO_LARGE,                   /* 9 */
    ANY_CONT | SURROGATE | TOO_LARGE,                    /* A */
    ANY_CONT | SURROGATE | TOO_LARGE,                    /* B */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,          /* C-F */
};
/* clang-format on */

/* The largest byte that leaves no sequence open at the end of 32 bytes: the
 * last may not be a lead, the one before not a 3- or 4-byte lead, the one
 * before that not a 4-byte lead. (The SSSE3 loop uses the last 16.) */
static const uint8_t closed_max[32] = {X16(0xff), X8(0xff), X4(0xff), 0xff, 0xef, 0xdf, 0xbf};

/* Bytes per step of the vector loops; shorter inputs go to the DFA alone. */
#define VECTOR_BLOCK 64

/* Where the vectors stop, end, in text that is valid from a code point
 * boundary except perhaps for a sequence left open at the end: returns the
 * start of that open sequence, else end. */
static size_t last_boundary(const uint8_t *s, size_t end)
{
    for (size_t back = 1; back <= 3 && back <= end; back++) {
        uint8_t b = s[end - back];
        if ((b & 0xc0) == 0x80)
            continue;
        size_t need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        return need > back ? end - back : end;
    }
    return end;
}

__attribute__((target("avx2"))) static inline __m256i table_avx2(const uint8_t t[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

__attribute__((target("avx2"))) static inline __m256i load_avx2(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* Nonzero where a byte of cur cannot follow what is before it (before: the
 * 32 bytes in front of cur). */
__attribute__((target("avx2"))) static inline __m256i check_avx2(__m256i cur, __m256i before)
{
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    /* before's high half and cur's low half, for the bytes 1-3 back */
    __m256i joined = _mm256_permute2x128_si256(before, cur, 0x21);
    /* 0x80 where a third or fourth byte is due: E0-FF two back, F0-FF three
     * back (first, while few other values are live) */
    __m256i due = _mm256_subs_epu8(_mm256_alignr_epi8(cur, joined, 14), _mm256_set1_epi8(0x60)) |
                  _mm256_subs_epu8(_mm256_alignr_epi8(cur, joined, 13), _mm256_set1_epi8(0x70));
    due &= _mm256_set1_epi8((char)0x80);
    __m256i back1 = _mm256_alignr_epi8(cur, joined, 15);
    __m256i classes =
        _mm256_shuffle_epi8(table_avx2(before_high_classes), _mm256_srli_epi16(back1, 4) & nibble) &
        _mm256_shuffle_epi8(table_avx2(before_low_classes), back1 & nibble) &
        _mm256_shuffle_epi8(table_avx2(byte_high_classes), _mm256_srli_epi16(cur, 4) & nibble);
    return classes ^ due;
}

/* Validates s (len >= VECTOR_BLOCK, starting at a code point boundary) 64
 * bytes at a time; returns how far it is valid, to a code point boundary:
 * all of it but a sequence left open at the end, or, when a block holds an
 * error, up to a boundary before that block. */
__attribute__((target("avx2"))) static size_t validate_avx2(const uint8_t *s, size_t len)
{
    const __m256i closed = load_avx2(closed_max);
    bool open = false; /* the last block ended inside a sequence */
    size_t i = 0;
    while (len - i >= VECTOR_BLOCK) {
        if (!open) { /* at a boundary, ASCII blocks need no more than this */
            i += skip_ascii_avx2(s + i, len - i);
            if (len - i < VECTOR_BLOCK)
                break;
        }
        /* the 32 bytes before the block are read again rather than kept in
         * a register, which GCC would rather spare; ASCII before the start */
        __m256i before = i ? load_avx2(s + i - 32) : _mm256_setzero_si256();
        __m256i a = load_avx2(s + i), b = load_avx2(s + i + 32);
        __m256i err = check_avx2(a, before) | check_avx2(b, a);
        if (!_mm256_testz_si256(err, err))
            return last_boundary(s, i);
        __m256i rest = _mm256_subs_epu8(b, closed);
        open = !_mm256_testz_si256(rest, rest);
        i += VECTOR_BLOCK;
    }
    /* Under 64 bytes left: check the last one or two vectors over again,
     * overlapping checked bytes (i >= 64, so each has 32 bytes before it). */
    __m256i err = _mm256_setzero_si256();
    for (size_t end = len; end > i; end -= 32)
        err |= check_avx2(load_avx2(s + end - 32), load_avx2(s + end - 64));
    return last_boundary(s, _mm256_testz_si256(err, err) ? len : i);
}

__attribute__((target("ssse3"))) static inline __m128i load_ssse3(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

/* check_avx2 for 16 bytes. */
__attribute__((target("ssse3"))) static inline __m128i check_ssse3(__m128i cur, __m128i before)
{
    const __m128i nibble = _mm_set1_epi8(0x0f);
    __m128i due = _mm_subs_epu8(_mm_alignr_epi8(cur, before, 14), _mm_set1_epi8(0x60)) |
                  _mm_subs_epu8(_mm_alignr_epi8(cur, before, 13), _mm_set1_epi8(0x70));
    due &= _mm_set1_epi8((char)0x80);
    __m128i back1 = _mm_alignr_epi8(cur, before, 15);
    __m128i classes =
        _mm_shuffle_epi8(load_ssse3(before_high_classes), _mm_srli_epi16(back1, 4) & nibble) &
        _mm_shuffle_epi8(load_ssse3(before_low_classes), back1 & nibble) &
        _mm_shuffle_epi8(load_ssse3(byte_high_classes), _mm_srli_epi16(cur, 4) & nibble);
    return classes ^ due;
}

__attribute__((target("ssse3"))) static inline bool any_ssse3(__m128i v)
{
    return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) != 0xffff;
}

/* validate_avx2 with 16-byte vectors, for CPUs without AVX2. */
__attribute__((target("ssse3"))) static size_t validate_ssse3(const uint8_t *s, size_t len)
{
    const __m128i closed = load_ssse3(closed_max + 16);
    bool open = false;
    size_t i = 0;
    while (len - i >= VECTOR_BLOCK) {
        if (!open) {
            i += skip_ascii_sse(s + i, len - i);
            if (len - i < VECTOR_BLOCK)
                break;
        }
        __m128i before = i ? load_ssse3(s + i - 16) : _mm_setzero_si128();
        __m128i a = load_ssse3(s + i), b = load_ssse3(s + i + 16);
        __m128i c = load_ssse3(s + i + 32), d = load_ssse3(s + i + 48);
        __m128i err =
            check_ssse3(a, before) | check_ssse3(b, a) | check_ssse3(c, b) | check_ssse3(d, c);
        if (any_ssse3(err))
            return last_boundary(s, i);
        open = any_ssse3(_mm_subs_epu8(d, closed));
        i += VECTOR_BLOCK;
    }
    __m128i err = _mm_setzero_si128();
    for (size_t end = len; end > i; end -= 16)
        err |= check_ssse3(load_ssse3(s + end - 16), load_ssse3(s + end - 32));
    return last_boundary(s, any_ssse3(err) ? i : len);
}

/* Inputs long enough for the vectors: the DFA only finishes what they leave. */
static __attribute__((noinline)) uint32_t feed_vector(uint32_t state, const uint8_t *s, size_t len,
                                                      bool avx2)
{
    /* The vectors start at a code point boundary: first finish one left
     * open by the previous call, which takes 3 bytes at most. */
    size_t i = 0;
    uint64_t st = (uint64_t)state * 6;
    for (; (st & 63) >= S_CONT1 * 6 && i < 3; i++)
        st = dfa_step(st, s[i]);
    state = (uint32_t)((st & 63) / 6);
    if (state == WS_UTF8_REJECT)
        return WS_UTF8_REJECT;
    if (state == WS_UTF8_ACCEPT) {
        /* ASCII first, without setting up the vector validator's constants */
        i += avx2 ? skip_ascii_avx2(s + i, len - i) : skip_ascii_sse(s + i, len - i);
        if (len - i >= VECTOR_BLOCK)
            i += avx2 ? validate_avx2(s + i, len - i) : validate_ssse3(s + i, len - i);
    }
    /* the rest: a sequence left open at the end, or everything from a
     * boundary before the first block with an error */
    return i == len ? WS_UTF8_ACCEPT : feed_dfa(state, s + i, len - i);
}

#endif

uint32_t ws_utf8_feed(uint32_t state, const uint8_t *s, size_t len)
{
    if (state == WS_UTF8_REJECT)
        return WS_UTF8_REJECT;
#if defined(__x86_64__) || defined(__i386__)
    /* + 3: room for finishing an open code point first */
    if (len >= VECTOR_BLOCK + 3) {
        if (__builtin_cpu_supports("avx2"))
            return feed_vector(state, s, len, true);
        if (__builtin_cpu_supports("ssse3"))
            return feed_vector(state, s, len, false);
    }
#endif
    return feed_dfa(state, s, len);
}

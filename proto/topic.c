/*
 * topic.c - the topic grammar, NATS-style pattern matching and the topic
 * hash (docs/protocol.md section 3).
 *
 * Everything here is a single pass over the bytes with no allocation: the
 * broker classifies every sub/pub topic and matches every pattern against
 * every new topic, so these sit on hot paths. topic_matches trusts that both
 * sides were classified first; it never reads past either view.
 */
#include "topic.h"

#include <stddef.h>

static bool is_token_byte(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '.' && c != '*' && c != '>';
}

enum topic_kind topic_classify(struct ws_str s)
{
    if (s.ptr == NULL || s.len == 0 || s.len > WSB_TOPIC_MAX_BYTES)
        return TOPIC_INVALID;
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t tokens = 0;
    bool wild = false;
    size_t i = 0;
    for (;;) {
        /* one token: [i, end) */
        size_t start = i;
        while (i < s.len && p[i] != '.')
            i++;
        size_t n = i - start;
        if (n == 0)
            return TOPIC_INVALID;
        if (++tokens > WSB_TOPIC_MAX_TOKENS)
            return TOPIC_INVALID;
        if (n == 1 && (p[start] == '*' || p[start] == '>')) {
            /* '>' only as the whole last token */
            if (p[start] == '>' && i != s.len)
                return TOPIC_INVALID;
            wild = true;
        } else {
            for (size_t k = start; k < i; k++)
                if (!is_token_byte(p[k]))
                    return TOPIC_INVALID;
        }
        if (i == s.len)
            break;
        i++; /* the '.'; a trailing one leaves an empty token above */
    }
    return wild ? TOPIC_PATTERN : TOPIC_EXACT;
}

/* Length of the token starting at p[i] (up to the next '.' or the end). */
static size_t token_len(const char *p, size_t len, size_t i)
{
    size_t k = i;
    while (k < len && p[k] != '.')
        k++;
    return k - i;
}

bool topic_matches(struct ws_str pattern, struct ws_str topic)
{
    const char *pp = pattern.ptr, *tp = topic.ptr;
    size_t pi = 0, ti = 0;
    for (;;) {
        size_t pn = token_len(pp, pattern.len, pi);
        size_t tn = token_len(tp, topic.len, ti);
        if (pn == 1 && pp[pi] == '>')
            return tn > 0 || ti < topic.len; /* one or more tokens remain */
        if (pn == 1 && pp[pi] == '*') {
            if (tn == 0)
                return false;
        } else if (pn != tn || memcmp(pp + pi, tp + ti, pn) != 0) {
            return false;
        }
        pi += pn;
        ti += tn;
        bool pend = pi >= pattern.len, tend = ti >= topic.len;
        if (pend || tend)
            return pend && tend;
        pi++; /* skip the '.' on both sides */
        ti++;
    }
}

bool topic_pattern_covers(struct ws_str outer, struct ws_str inner)
{
    const char *op = outer.ptr, *ip = inner.ptr;
    size_t oi = 0, ii = 0;
    for (;;) {
        size_t on = token_len(op, outer.len, oi);
        size_t in = token_len(ip, inner.len, ii);
        if (on == 1 && op[oi] == '>')
            return in > 0; /* inner has one or more tokens left, whatever they are */
        if (in == 1 && ip[ii] == '>')
            return false; /* only an outer '>' covers several tokens */
        if (on == 1 && op[oi] == '*') {
            if (in == 0)
                return false;
        } else if (on != in || memcmp(op + oi, ip + ii, on) != 0) {
            return false; /* a literal covers only itself (not '*') */
        }
        oi += on;
        ii += in;
        bool oend = oi >= outer.len, iend = ii >= inner.len;
        if (oend || iend)
            return oend && iend;
        oi++;
        ii++;
    }
}

uint64_t topic_hash(struct ws_str topic)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)topic.ptr;
    for (size_t i = 0; i < topic.len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/*
 * loadgen.h - the pieces a WebSocket load generator needs whatever it
 * drives: clocks, a cheap PRNG, the open-loop schedule, a log-linear latency
 * histogram and the descriptor limit. The client pieces (ws:// URL parsing
 * and resolution, the opening handshake, TLS for wss://) are the client
 * library's (tools/client/ws_target.h, ws_upgrade.h, tls_client.h; link
 * wsbclient); this header includes them for the generator's files.
 *
 * Header-only, every function static inline: bench/CMakeLists.txt builds
 * every C file in bench/ as its own program, so shared code cannot live in a .c
 * file there. wsbroker-bench's scenario families (bench/wsbroker-bench/echo.c,
 * pubsub.c) and the reference servers use it, so their latency figures share
 * one bucket layout and precision and compare; tests/bench/test_hist.c checks
 * the histogram.
 */
#ifndef WSB_BENCH_LOADGEN_H
#define WSB_BENCH_LOADGEN_H

/* tls_client.h first: wolfSSL wants its build options before anything else of its own. */
#include "tls_client.h"
#include "ws_target.h"
#include "ws_upgrade.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull

/* ---- clocks and randomness -------------------------------------------- */

/* CLOCK_MONOTONIC: one clock for every thread of the process, so a stamp
 * written by a publisher thread can be subtracted on a subscriber thread. */
static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* xorshift64: masks, keys and patterns, not cryptography. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Fills out with len bytes from the generator (a WebSocket key, say). */
static inline void rng_fill(uint64_t *s, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = rng_next(s);
        memcpy(out + i, &r, len - i < 8 ? len - i : 8);
    }
}

static inline uint64_t rng_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed || seed == 0)
        seed = now_ns() | 1;
    return seed;
}

/* ---- open-loop schedule ------------------------------------------------ */

/* When open-loop send slot number `slot` (0, 1, ...) is due, for a schedule
 * that starts at t0 and sends one slot every slot_ns at full rate. With a
 * ramp (ramp_ns > 0) the rate rises linearly from 0 to full over ramp_ns:
 * slots sent by time t are t^2 / (2 ramp_ns slot_ns) during the ramp, so slot
 * k is due at sqrt(2 ramp_ns slot_ns k); after the ramp the schedule goes on
 * at full rate from where the ramp left it (ramp_ns / (2 slot_ns) slots). */
static inline uint64_t open_loop_due(uint64_t t0, double slot_ns, uint64_t ramp_ns, double slot)
{
    if (ramp_ns == 0)
        return t0 + (uint64_t)(slot * slot_ns);
    double ramp = (double)ramp_ns;
    double ramp_slots = ramp / (2.0 * slot_ns);
    if (slot < ramp_slots)
        return t0 + (uint64_t)__builtin_sqrt(2.0 * ramp * slot_ns * slot);
    return t0 + ramp_ns + (uint64_t)((slot - ramp_slots) * slot_ns);
}

/* ---- latency histogram ------------------------------------------------ */

/* Exact below 128 ns, then 128 sub-buckets per power of two (under 0.8%
 * error) up to 2^40 ns (about 18 minutes; longer values are clamped). */
#define HIST_SUB_BITS  7
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS  40
#define HIST_BUCKETS   (HIST_SUB_COUNT * (HIST_MAX_BITS - HIST_SUB_BITS + 1))

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    double sum;
};

static inline size_t hist_index(uint64_t v)
{
    if (v < HIST_SUB_COUNT)
        return (size_t)v;
    if (v >> HIST_MAX_BITS)
        v = (1ull << HIST_MAX_BITS) - 1;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    return (size_t)shift * HIST_SUB_COUNT + (size_t)(v >> shift);
}

/* The largest value that lands in bucket idx (HdrHistogram's "highest
 * equivalent value"). */
static inline uint64_t hist_bucket_top(size_t idx)
{
    if (idx < 2 * HIST_SUB_COUNT)
        return idx;
    unsigned shift = (unsigned)(idx / HIST_SUB_COUNT) - 1;
    uint64_t sub = idx % HIST_SUB_COUNT + HIST_SUB_COUNT;
    return (sub << shift) + (1ull << shift) - 1;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

static inline void hist_merge(struct hist *into, const struct hist *from)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

static inline uint64_t hist_percentile(const struct hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    double exact = pct / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)exact; /* rounded up below */
    if ((double)rank < exact || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t top = hist_bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

static inline double hist_mean(const struct hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

/* Raises the soft RLIMIT_NOFILE to `need` (up to the hard limit). Returns
 * false when the hard limit is lower. */
static inline bool raise_fd_limit(rlim_t need, rlim_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    *hard = rl.rlim_max;
    if (rl.rlim_cur >= need)
        return true;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        return false;
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

#endif

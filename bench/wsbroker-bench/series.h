/*
 * series.h - the --csv time series: per-interval samples (events counted,
 * latencies in a histogram) kept by each load thread without sharing, then
 * merged and written as CSV once the run is over, for bench/plot.gp.
 *
 * Each thread owns its struct series (no locks, no atomics on the hot
 * path); only the run's series_clock is shared, read-only after setup.
 */
#ifndef WSB_BENCH_SERIES_H
#define WSB_BENCH_SERIES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen.h"

#define SERIES_MAX_INTERVALS 600 /* longer runs get longer intervals */

struct series_clock {
    uint64_t t0;          /* start of interval 0 (CLOCK_MONOTONIC ns) */
    uint64_t interval_ns; /* 1 s, or longer to stay within SERIES_MAX_INTERVALS */
    uint32_t count;
    uint64_t t_measure, t_end; /* marks the phase of each row; equal: no fixed end, every row
                                  is measured and the rows end at the last event */
    uint64_t t_ramp_end;       /* rows before it are "ramp" (0: no ramp) */
};

struct series {
    uint64_t *events; /* per interval: publishes or first deliveries; owned */
    struct hist *lat; /* per interval, or NULL when this thread times nothing; owned */
    uint32_t count;
};

/* Sets the intervals for a run that starts at t0 and lasts span_ns. */
void series_clock_init(struct series_clock *c, uint64_t t0, uint64_t span_ns, uint64_t t_measure,
                       uint64_t t_end);

/* Allocates count intervals (with histograms if latency). False when out of memory. */
bool series_init(struct series *s, uint32_t count, bool latency);

/* Counts one event at time now, with its latency when s times anything.
 * Events outside the clock's span land in the first or last interval. */
void series_record(struct series *s, const struct series_clock *c, uint64_t now,
                   uint64_t latency_ns);

/* Writes one CSV row per interval: time, phase, events of `sent` and of
 * the merged `recv` series, rates, and latency percentiles of recv. size is
 * the payload bytes per event (for MB/s). Returns false on a write error. */
bool series_write_csv(FILE *out, const struct series_clock *c, const struct series *sent,
                      const struct series *recv, uint32_t nrecv, size_t size);

void series_free(struct series *s);

#endif

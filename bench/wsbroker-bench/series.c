/*
 * series.c - per-interval samples and their CSV (see series.h).
 */
#include "series.h"

#include <stdlib.h>

void series_clock_init(struct series_clock *c, uint64_t t0, uint64_t span_ns, uint64_t t_measure,
                       uint64_t t_end)
{
    c->t0 = t0;
    c->interval_ns = NS_PER_S;
    uint64_t need = span_ns / c->interval_ns + 1;
    if (need > SERIES_MAX_INTERVALS) {
        c->interval_ns = (span_ns + SERIES_MAX_INTERVALS - 1) / (SERIES_MAX_INTERVALS - 1);
        need = span_ns / c->interval_ns + 1;
    }
    c->count = (uint32_t)need;
    c->t_measure = t_measure;
    c->t_end = t_end;
    c->t_ramp_end = 0;
}

bool series_init(struct series *s, uint32_t count, bool latency)
{
    s->count = count;
    s->events = calloc(count, sizeof *s->events);
    s->lat = latency ? calloc(count, sizeof *s->lat) : NULL;
    return s->events != NULL && (!latency || s->lat != NULL);
}

static uint32_t series_slot(const struct series *s, const struct series_clock *c, uint64_t now)
{
    uint64_t i = now > c->t0 ? (now - c->t0) / c->interval_ns : 0;
    return i < s->count ? (uint32_t)i : s->count - 1;
}

void series_record(struct series *s, const struct series_clock *c, uint64_t now,
                   uint64_t latency_ns)
{
    if (s->events == NULL || s->count == 0)
        return;
    uint32_t i = series_slot(s, c, now);
    s->events[i]++;
    if (s->lat != NULL)
        hist_record(&s->lat[i], latency_ns);
}

static const char *series_phase(const struct series_clock *c, uint64_t start)
{
    if (c->t_end == c->t_measure)
        return "measure"; /* no fixed end (a connection storm): all of it is measured */
    if (start < c->t_ramp_end)
        return "ramp";
    if (start < c->t_measure)
        return "warmup";
    return start < c->t_end ? "measure" : "drain";
}

bool series_write_csv(FILE *out, const struct series_clock *c, const struct series *sent,
                      const struct series *recv, uint32_t nrecv, size_t size)
{
    struct hist *merged = malloc(sizeof *merged);
    if (merged == NULL)
        return false;
    fprintf(out, "t_s,phase,sent,received,received_per_s,mb_per_s,p50_us,p90_us,p99_us,"
                 "p99_9_us,p99_99_us,max_us\n");
    double secs = (double)c->interval_ns / NS_PER_S;
    uint32_t rows = c->count; /* up to the end of measurement or the last event */
    while (rows > 0 && c->t0 + (uint64_t)(rows - 1) * c->interval_ns >= c->t_end) {
        uint64_t events = sent != NULL ? sent->events[rows - 1] : 0;
        for (uint32_t r = 0; r < nrecv; r++)
            events += recv[r].events[rows - 1];
        if (events > 0)
            break;
        rows--;
    }
    for (uint32_t i = 0; i < rows; i++) {
        uint64_t start = c->t0 + (uint64_t)i * c->interval_ns;
        uint64_t received = 0;
        *merged = (struct hist){0};
        for (uint32_t r = 0; r < nrecv; r++) {
            received += recv[r].events[i];
            if (recv[r].lat != NULL)
                hist_merge(merged, &recv[r].lat[i]);
        }
        double rate = (double)received / secs;
        fprintf(out, "%.3f,%s,%llu,%llu,%.1f,%.3f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f\n",
                (double)(start - c->t0) / NS_PER_S, series_phase(c, start),
                (unsigned long long)(sent != NULL ? sent->events[i] : 0),
                (unsigned long long)received, rate, rate * (double)size / 1e6,
                hist_percentile(merged, 50) / 1e3, hist_percentile(merged, 90) / 1e3,
                hist_percentile(merged, 99) / 1e3, hist_percentile(merged, 99.9) / 1e3,
                hist_percentile(merged, 99.99) / 1e3, (double)merged->max / 1e3);
    }
    free(merged);
    return !ferror(out);
}

void series_free(struct series *s)
{
    free(s->events);
    free(s->lat);
    s->events = NULL;
    s->lat = NULL;
}

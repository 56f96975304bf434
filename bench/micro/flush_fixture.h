/*
 * flush_fixture.h - one worker's fan-out queues as the flush finds them:
 * S subscribers with the same published frames queued, each queue gathered
 * (broker/send_queue.c) and then sent, without sockets (bench_send_queue.cc).
 * C, because the broker's headers use C11 atomics.
 */
#ifndef WSB_FLUSH_FIXTURE_H
#define WSB_FLUSH_FIXTURE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct flush_fixture;

/* frames published frames of frame_bytes each, queued on subscribers
 * queues at every flush; with use_cache the worker's gather cache
 * (broker/gather_cache.h) is on. NULL when out of memory. */
struct flush_fixture *flush_fixture_create(unsigned subscribers, unsigned frames,
                                           size_t frame_bytes, int use_cache);

/* Queues the frames on every subscriber, gathers each queue, sends it all
 * and empties the cache (as the worker's tick does). Returns the bytes the
 * queues held, or 0 when a push ran out of memory. */
size_t flush_fixture_flush(struct flush_fixture *f);

void flush_fixture_destroy(struct flush_fixture *f);

#ifdef __cplusplus
}
#endif

#endif

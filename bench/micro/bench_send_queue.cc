// bench_send_queue.cc - a worker's flush of fan-out queues (flush_fixture.h):
// 500 subscribers each with the same 64 published 90-byte frames queued,
// every queue gathered into 16 KiB send buffers, then sent. Without the
// gather cache (arg 0) every queue copies the frames into buffers of its
// own; with it (arg 1, broker/gather_cache.h) the first queue copies and
// the others take references. Items are deliveries (subscribers x frames).
#include <benchmark/benchmark.h>

#include "flush_fixture.h"

static void BM_SendQueueGather(benchmark::State &state)
{
    constexpr unsigned kSubscribers = 500, kFrames = 64;
    flush_fixture *f = flush_fixture_create(kSubscribers, kFrames, 90, state.range(0) != 0);
    if (f == nullptr) {
        state.SkipWithError("out of memory");
        return;
    }
    for (auto _ : state) {
        if (flush_fixture_flush(f) == 0) {
            state.SkipWithError("out of memory");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kSubscribers * kFrames);
    flush_fixture_destroy(f);
}
BENCHMARK(BM_SendQueueGather)->Arg(0)->Arg(1);

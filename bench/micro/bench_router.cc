// bench_router.cc - the router's cost per published message and per
// delivered frame: publish on worker 0, sequence on worker 1 (the owner),
// fan out to subscribers on both workers, through the real SPSC rings, on
// one thread (router_fixture.c). No sockets: this is the broker's own CPU
// cost per message, without the kernel's.
#include <benchmark/benchmark.h>

#include "router_fixture.h"

static void BM_RouterFanOut(benchmark::State &state)
{
    auto *f = router_fixture_create(static_cast<unsigned>(state.range(0)),
                                    static_cast<int>(state.range(1)));
    size_t delivered = 0;
    for (auto _ : state)
        delivered += router_fixture_publish(f);
    state.SetItemsProcessed(static_cast<int64_t>(delivered));
    state.counters["frames/msg"] = static_cast<double>(delivered) / state.iterations();
    router_fixture_destroy(f);
}
// Args: subscribers, ack interval (0: acks off; N: manual acks, each
// subscriber acking cumulatively every N messages).
BENCHMARK(BM_RouterFanOut)
    ->Args({1, 0})
    ->Args({100, 0})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({1000, 32});

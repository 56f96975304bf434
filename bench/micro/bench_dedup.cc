// bench_dedup.cc - the owner's de-duplication index (broker/dedup.c) as a
// publish with an id uses it: a lookup that misses, then a record that
// overwrites the topic's oldest pair. Spread over 1 topic (the index stays
// in cache) and over 64 topics picked at random (about 8.5 MiB of indexes:
// the cache misses a market-data owner pays), plus a retry's lookup that hits.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "dedup.h"
}

namespace
{

struct Topics {
    std::vector<dedup *> index;
    std::vector<uint64_t> seq;
    explicit Topics(size_t n) : index(n), seq(n)
    {
        for (auto &d : index)
            d = dedup_create();
    }
    ~Topics()
    {
        for (auto *d : index)
            dedup_destroy(d);
    }
    bool ok() const
    {
        for (auto *d : index)
            if (d == nullptr)
                return false;
        return true;
    }
};

constexpr uint64_t kSession = 0x5eed;

// xorshift64: which topic the next publish goes to.
uint64_t next_random(uint64_t &x)
{
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

} // namespace

static void BM_DedupPublish(benchmark::State &state)
{
    Topics t(static_cast<size_t>(state.range(0)));
    if (!t.ok()) {
        state.SkipWithError("out of memory");
        return;
    }
    uint64_t id = 0, rnd = 88172645463325252ull;
    // Fill every index first: the steady state overwrites the oldest pair.
    for (size_t i = 0; i < t.index.size(); i++)
        for (unsigned k = 0; k < DEDUP_SLOTS; k++)
            dedup_record(t.index[i], kSession, ++id, ++t.seq[i]);
    for (auto _ : state) {
        size_t i = next_random(rnd) % t.index.size();
        ++id;
        if (dedup_lookup(t.index[i], kSession, id) != 0) {
            state.SkipWithError("a new id was found");
            break;
        }
        dedup_record(t.index[i], kSession, id, ++t.seq[i]);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
// Arg: topics the publishes are spread over.
BENCHMARK(BM_DedupPublish)->Arg(1)->Arg(64);

static void BM_DedupRetry(benchmark::State &state)
{
    Topics t(1);
    if (!t.ok()) {
        state.SkipWithError("out of memory");
        return;
    }
    for (uint64_t id = 1; id <= DEDUP_SLOTS; id++)
        dedup_record(t.index[0], kSession, id, id);
    uint64_t id = 0;
    for (auto _ : state) {
        id = id % DEDUP_SLOTS + 1;
        if (dedup_lookup(t.index[0], kSession, id) != id) {
            state.SkipWithError("a remembered id was not found");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DedupRetry);

// bench_mailbox.cc - the cost of one message through the rings between
// workers (broker/mailbox.c: the xring SPSC ring plus the overflow FIFO), push and
// pop on one thread: a single message, bursts that fit the ring, and bursts
// four times the ring's size (the overflow path). No cross-core cache
// traffic: this is the instructions' cost, a floor for the real thing.
#include <benchmark/benchmark.h>

#include "mailbox_fixture.h"

static constexpr unsigned kRingEntries = 1024;

static void BM_MailboxPushPop(benchmark::State &state)
{
    auto *f = mailbox_fixture_create(kRingEntries);
    const auto burst = static_cast<unsigned>(state.range(0));
    size_t moved = 0;
    for (auto _ : state) {
        size_t n = mailbox_fixture_round(f, burst);
        if (n != burst) {
            state.SkipWithError("messages lost or out of order");
            break;
        }
        moved += n;
    }
    state.SetItemsProcessed(static_cast<int64_t>(moved));
    mailbox_fixture_destroy(f);
}
// Arg: messages pushed before they are popped (4096: 4x the ring, overflow).
BENCHMARK(BM_MailboxPushPop)->Arg(1)->Arg(64)->Arg(1024)->Arg(4096);

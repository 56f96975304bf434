// bench_envelope.cc - Google Benchmark over the envelope hot paths of proto/: decoding a `pub`
// request with 64 bytes of data (every publish pays it on the receiving worker), encoding the
// `msg` envelope with the same data (every delivery pays it, unless the broker stamps a
// pre-built template), and the topic functions the router runs per message: topic_matches of a
// pattern and topic_hash. Each reports time per operation.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "envelope.h"
#include "msg_template.h"
#include "topic.h"
}

namespace
{

ws_str str_of(const char *s)
{
    return ws_str{s, std::strlen(s)};
}

// 64 bytes of data: a bin8 of 62 bytes (2-byte header).
std::vector<uint8_t> data64()
{
    std::vector<uint8_t> d(64, 0x5a);
    d[0] = 0xc4;
    d[1] = 62;
    return d;
}

void BM_decode_pub(benchmark::State &state)
{
    std::vector<uint8_t> data = data64();
    wsb_request req{};
    req.op = WSB_OP_PUB;
    req.topic = str_of("md.NASDAQ.AAPL");
    req.data = ws_str{reinterpret_cast<const char *>(data.data()), data.size()};
    req.has_id = true;
    req.id = 12345;
    req.confirm = true;
    uint8_t buf[256];
    size_t n = wsb_request_encode(buf, sizeof(buf), &req);
    for (auto _ : state) {
        wsb_request out;
        wsb_decode_error err;
        benchmark::DoNotOptimize(wsb_request_decode(buf, n, nullptr, &out, &err));
        benchmark::DoNotOptimize(out);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_decode_pub);

// Decodes the broker's `msg` envelope, as the broker writes it (msg_template: seq and ts
// fixed-width), 64 bytes of data, with decode.
void decode_msg_loop(benchmark::State &state,
                     wsb_err (*decode)(const uint8_t *, size_t, wsb_event *))
{
    std::vector<uint8_t> data = data64();
    ws_str d{reinterpret_cast<const char *>(data.data()), data.size()};
    uint8_t buf[256];
    wsb_msg_template t;
    if (wsb_msg_template_write(buf, sizeof(buf), str_of("md.NASDAQ.AAPL"), d, &t) != 0) {
        state.SkipWithError("template");
        return;
    }
    wsb_msg_stamp(buf, &t, 123456789, 1764045600123456789ull);
    for (auto _ : state) {
        wsb_event ev;
        benchmark::DoNotOptimize(decode(buf, t.len, &ev));
        benchmark::DoNotOptimize(ev);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * t.len));
}

// What every subscriber (the C client, wsbroker-bench) pays per delivery.
void BM_decode_msg(benchmark::State &state)
{
    decode_msg_loop(state, wsb_event_decode);
}
BENCHMARK(BM_decode_msg);

// The same envelope through the general decoder, without the fast path for the broker's layout.
void BM_decode_msg_general(benchmark::State &state)
{
    decode_msg_loop(state, wsb_event_decode_general);
}
BENCHMARK(BM_decode_msg_general);

void BM_encode_msg(benchmark::State &state)
{
    std::vector<uint8_t> data = data64();
    ws_str d{reinterpret_cast<const char *>(data.data()), data.size()};
    ws_str topic = str_of("md.NASDAQ.AAPL");
    uint8_t buf[256];
    uint64_t seq = 1;
    for (auto _ : state) {
        size_t n = wsb_encode_msg(buf, sizeof(buf), topic, seq++, 1764045600123456789ull, d, false);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(
        state.iterations() *
        wsb_encode_msg(buf, sizeof(buf), topic, 1, 1764045600123456789ull, d, false)));
}
BENCHMARK(BM_encode_msg);

void BM_topic_matches(benchmark::State &state)
{
    const ws_str patterns[] = {str_of("md.*.AAPL"), str_of("md.>"), str_of("md.NASDAQ.AAPL"),
                               str_of("orders.*.17")};
    ws_str topic = str_of("md.NASDAQ.AAPL");
    for (auto _ : state) {
        for (const ws_str &p : patterns)
            benchmark::DoNotOptimize(topic_matches(p, topic));
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 4));
}
BENCHMARK(BM_topic_matches);

void BM_topic_hash(benchmark::State &state)
{
    ws_str topic = str_of("md.NASDAQ.AAPL");
    for (auto _ : state)
        benchmark::DoNotOptimize(topic_hash(topic));
}
BENCHMARK(BM_topic_hash);

void BM_topic_classify(benchmark::State &state)
{
    ws_str topic = str_of("md.NASDAQ.AAPL");
    for (auto _ : state)
        benchmark::DoNotOptimize(topic_classify(topic));
}
BENCHMARK(BM_topic_classify);

} // namespace

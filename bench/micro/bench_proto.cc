// bench_proto.cc - Google Benchmark over the frame-level hot paths of proto/:
// frame header parsing, unmasking and UTF-8 validation, each on 16 B, 1 KiB
// and 64 KiB, plus the opening handshake of a typical browser, next to memcpy of the same sizes as
// the yardstick. All report bytes/s (SetBytesProcessed), so a ratio to memcpy reads straight off
// the table. A byte-at-a-time and a word-at-a-time unmask sit alongside ws_unmask to show why
// proto/ws_mask.c uses vector blocks.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "ws_frame.h"
#include "ws_handshake.h"
#include "ws_mask.h"
#include "ws_utf8.h"
}

namespace
{

const uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

void sizes(benchmark::internal::Benchmark *b)
{
    b->Arg(16)->Arg(1024)->Arg(65536);
}

// A buffer of back-to-back masked client frames of 16 bytes each (6-byte
// header + 10-byte payload), as a chatty client sends them.
void BM_frame_parse(benchmark::State &state)
{
    size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> buf(n);
    const uint8_t payload[10] = {'{', '"', 'a', '"', ':', '1', '2', '3', '}', '\n'};
    size_t at = 0;
    while (n - at >= 16)
        at += ws_frame_encode_client(buf.data() + at, n - at, payload, sizeof(payload), WS_OP_TEXT,
                                     true, kMask);
    size_t frames = at / 16;
    for (auto _ : state) {
        size_t off = 0;
        struct ws_frame f;
        for (size_t i = 0; i < frames; i++) {
            ssize_t r = ws_frame_parse(buf.data() + off, at - off, &f);
            benchmark::DoNotOptimize(f);
            off += static_cast<size_t>(r);
        }
        benchmark::DoNotOptimize(off);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * at));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * frames));
}
BENCHMARK(BM_frame_parse)->Apply(sizes);

void BM_unmask(benchmark::State &state)
{
    size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> buf(n, 0x5a);
    for (auto _ : state) {
        ws_unmask(buf.data(), n, kMask, 1);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_unmask)->Apply(sizes);

// The obvious loop, for reference.
__attribute__((noinline)) void unmask_bytewise(uint8_t *d, size_t n, const uint8_t m[4])
{
    for (size_t i = 0; i < n; i++)
        d[i] ^= m[i & 3];
}

// A machine word at a time, the other candidate for ws_unmask (kept from
// being vectorised, or it would measure the same thing).
#if defined(__clang__)
#define SCALAR_ONLY __attribute__((noinline))
#define SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define SCALAR_ONLY __attribute__((noinline, optimize("no-tree-vectorize")))
#define SCALAR_LOOP
#endif
SCALAR_ONLY void unmask_wordwise(uint8_t *d, size_t n, const uint8_t m[4])
{
    uint64_t k;
    uint8_t k8[8] = {m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]};
    std::memcpy(&k, k8, 8);
    size_t i = 0;
    SCALAR_LOOP
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        std::memcpy(&w, d + i, 8);
        w ^= k;
        std::memcpy(d + i, &w, 8);
    }
    for (; i < n; i++)
        d[i] ^= m[i & 3];
}

void BM_unmask_bytewise(benchmark::State &state)
{
    size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> buf(n, 0x5a);
    for (auto _ : state) {
        unmask_bytewise(buf.data(), n, kMask);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_unmask_bytewise)->Apply(sizes);

void BM_unmask_wordwise(benchmark::State &state)
{
    size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> buf(n, 0x5a);
    for (auto _ : state) {
        unmask_wordwise(buf.data(), n, kMask);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_unmask_wordwise)->Apply(sizes);

// Text made by repeating a sample to n bytes, cut back to a code point boundary.
std::vector<uint8_t> make_text(const std::string &sample, size_t n)
{
    std::vector<uint8_t> t;
    while (t.size() < n)
        t.insert(t.end(), sample.begin(), sample.end());
    t.resize(n);
    while (!t.empty() && !ws_utf8_valid(t.data(), t.size()))
        t.pop_back();
    while (t.size() < n)
        t.push_back(' ');
    return t;
}

void run_utf8(benchmark::State &state, const std::string &sample)
{
    size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> text = make_text(sample, n);
    if (!ws_utf8_valid(text.data(), text.size()))
        state.SkipWithError("sample text is not valid UTF-8");
    for (auto _ : state) {
        uint32_t st = ws_utf8_feed(WS_UTF8_ACCEPT, text.data(), text.size());
        benchmark::DoNotOptimize(st);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

// JSON-ish chat traffic: all ASCII.
void BM_utf8_ascii(benchmark::State &state)
{
    run_utf8(state, "{\"topic\":\"prices/eu\",\"seq\":123456,\"data\":{\"bid\":1.0842,"
                    "\"ask\":1.0844,\"note\":\"hello world, the quick brown fox\"}}\n");
}
BENCHMARK(BM_utf8_ascii)->Apply(sizes);

// Mixed scripts: ASCII, Greek, Cyrillic, CJK and emoji (1- to 4-byte code
// points); two thirds of the bytes are in multi-byte sequences.
void BM_utf8_mixed(benchmark::State &state)
{
    run_utf8(state, "{\"msg\":\"Hello \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5, "
                    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
                    "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c "
                    "\xf0\x9f\x98\x80\xf0\x9f\x9a\x80\"}\n");
}
BENCHMARK(BM_utf8_mixed)->Apply(sizes);

void BM_memcpy(benchmark::State &state)
{
    size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> src(n, 'a'), dst(n);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), n);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_memcpy)->Apply(sizes);

// What Chrome sends to open a WebSocket (about 500 bytes).
void BM_handshake_parse(benchmark::State &state)
{
    static const char req[] =
        "GET /ws?topics=prices HTTP/1.1\r\n"
        "Host: broker.example.com:8080\r\n"
        "Connection: Upgrade\r\n"
        "Pragma: no-cache\r\n"
        "Cache-Control: no-cache\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36\r\n"
        "Upgrade: websocket\r\n"
        "Origin: https://app.example.com\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "Accept-Language: en-US,en;q=0.9\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "Sec-WebSocket-Protocol: wsb.v1\r\n"
        "\r\n";
    const size_t n = sizeof(req) - 1;
    const struct ws_handshake_limits lim = {WS_HANDSHAKE_DEFAULT_MAX_BYTES,
                                            WS_HANDSHAKE_DEFAULT_MAX_HEADERS};
    struct ws_handshake_request r;
    struct ws_handshake_error err;
    if (ws_handshake_parse(req, n, &lim, &r, &err) != static_cast<ssize_t>(n))
        state.SkipWithError("the sample request did not parse");
    for (auto _ : state) {
        ssize_t got = ws_handshake_parse(req, n, &lim, &r, &err);
        benchmark::DoNotOptimize(got);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_handshake_parse);

} // namespace

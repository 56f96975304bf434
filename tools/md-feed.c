/*
 * md-feed - a synthetic market-data publisher for demos and benchmarks.
 *
 * N symbols (SYM000, SYM001, ...) each random-walk a mid price; every
 * message is one quote/trade update of one randomly chosen symbol, published
 * fire-and-forget to `<prefix><SYMBOL>` with data = msgpack map
 *   {"sym": str, "bid": float64, "ask": float64, "last": float64,
 *    "bsz": uint, "asz": uint, "lsz": uint,
 *    "t": uint (publisher wall clock, microseconds since the Unix epoch)}
 * so a subscriber can compute end-to-end latency from t (the /demo page
 * does). The total rate is --rate messages per second; --burst F sends
 * bursts of F messages back to back with exponentially distributed gaps
 * averaging F / rate seconds (F = 1: evenly spaced). Seeded: the same
 * --seed gives the same symbol sequence and prices.
 */
#include <math.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_options.h"
#include "topic.h"
#include "wsb_client.h"

#define PROG         "md-feed"
#define MAX_SYMBOLS  100000
#define SYMBOL_BYTES 24
#define TICK         0.01 /* price increment */
#define TICKS_PER_1  100.0

struct symbol {
    char name[SYMBOL_BYTES];
    char topic[WSB_TOPIC_MAX_BYTES + 1];
    double mid;
    double last;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    printf("usage: %s --url URL [options]\n"
           "\n"
           "Publishes random-walk quotes for N symbols to PREFIX<SYMBOL> (md.SYM000, ...),\n"
           "each data a msgpack map {sym, bid, ask, last, bsz, asz, lsz, t} with t the\n"
           "publish time in microseconds since the Unix epoch.\n"
           "\n"
           "feed:\n"
           "  --symbols N            symbols SYM000.. (default 10)\n"
           "  --rate R               messages per second, all symbols together (default 100)\n"
           "  --burst F              bursts of F messages back to back, random gaps averaging\n"
           "                         F/R s (default 1: evenly spaced)\n"
           "  --duration S           stop after S seconds (default: run until interrupted)\n"
           "  --count N              stop after N messages\n"
           "  --prefix P             topic prefix (default md.)\n"
           "  --seed N               random seed (default 1)\n"
           "  -q, --quiet            no summary on stderr\n"
           "\n%s\n%s",
           PROG, CLI_CONNECT_HELP, CLI_EXIT_HELP);
}

/* splitmix64: seeded, reproducible. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) /* (0, 1) */
{
    return ((double)(next_random(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(2.0 * M_PI * uniform(s));
}

static double round_tick(double p)
{
    return round(p * TICKS_PER_1) / TICKS_PER_1; /* 404.59, not 404.59000000000003 */
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_until(double t)
{
    double now = mono_s();
    if (t <= now)
        return;
    double d = t - now;
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One quote update of sym, encoded into sbuf. */
static void encode_quote(msgpack_sbuffer *sbuf, struct symbol *sym, uint64_t *rng)
{
    sym->mid = fmax(TICK * 10, sym->mid * exp(normal(rng) * 0.0005));
    double spread = TICK * (double)(1 + next_random(rng) % 5);
    double bid = round_tick(sym->mid - spread / 2), ask = round_tick(bid + spread);
    uint64_t lsz = 0;
    if (next_random(rng) % 4 == 0) { /* a trade at bid or ask */
        sym->last = next_random(rng) % 2 ? bid : ask;
        lsz = 100 * (1 + next_random(rng) % 10);
    }
    msgpack_sbuffer_clear(sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
#define KEY(k) msgpack_pack_str_with_body(&pk, k, sizeof k - 1)
    KEY("sym");
    msgpack_pack_str_with_body(&pk, sym->name, strlen(sym->name));
    KEY("bid");
    msgpack_pack_double(&pk, bid);
    KEY("ask");
    msgpack_pack_double(&pk, ask);
    KEY("last");
    msgpack_pack_double(&pk, sym->last);
    KEY("bsz");
    msgpack_pack_uint64(&pk, 100 * (1 + next_random(rng) % 50));
    KEY("asz");
    msgpack_pack_uint64(&pk, 100 * (1 + next_random(rng) % 50));
    KEY("lsz");
    msgpack_pack_uint64(&pk, lsz);
    KEY("t");
    msgpack_pack_uint64(&pk, wall_us());
#undef KEY
}

static void on_notice(void *user, const struct wsb_notice *n)
{
    (void)user;
    if (n->kind == WSB_NOTICE_ERROR)
        fprintf(stderr, "%s: broker error %llu: %s\n", PROG, (unsigned long long)n->code, n->text);
    else if (n->kind == WSB_NOTICE_DISCONNECTED)
        fprintf(stderr, "%s: disconnected: %s\n", PROG, n->text);
    else if (n->kind == WSB_NOTICE_RECONNECTED)
        fprintf(stderr, "%s: reconnected\n", PROG);
}

int main(int argc, char **argv)
{
    struct wsb_client_config cfg = {.name = PROG, .reconnect = true, .on_notice = on_notice};
    const char *prefix = "md.";
    uint64_t nsymbols = 10, count = 0, seed = 1;
    double rate = 100, burst = 1, duration = 0;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return CLI_EXIT_OK;
        }
        if (cli_take_connect_option(PROG, argc, argv, &i, &cfg) ||
            cli_take_value(PROG, argc, argv, &i, "--prefix", &prefix))
            continue;
        if (cli_take_value(PROG, argc, argv, &i, "--symbols", &v))
            nsymbols = cli_parse_uint(PROG, "--symbols", v, 1, MAX_SYMBOLS);
        else if (cli_take_value(PROG, argc, argv, &i, "--rate", &v))
            rate = cli_parse_double(PROG, "--rate", v, 0.001, 1e9);
        else if (cli_take_value(PROG, argc, argv, &i, "--burst", &v))
            burst = cli_parse_double(PROG, "--burst", v, 1, 1e6);
        else if (cli_take_value(PROG, argc, argv, &i, "--duration", &v))
            duration = cli_parse_double(PROG, "--duration", v, 0.001, 1e9);
        else if (cli_take_value(PROG, argc, argv, &i, "--count", &v))
            count = cli_parse_uint(PROG, "--count", v, 1, UINT64_MAX);
        else if (cli_take_value(PROG, argc, argv, &i, "--seed", &v))
            seed = cli_parse_uint(PROG, "--seed", v, 0, UINT64_MAX);
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            quiet = true;
        else
            cli_usage_error(PROG, "unknown argument '%s'", a);
    }
    if (cfg.url == NULL)
        cli_usage_error(PROG, "--url is required");
    struct symbol *syms = calloc(nsymbols, sizeof *syms);
    if (syms == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return CLI_EXIT_RUNTIME;
    }
    uint64_t rng = seed;
    for (uint64_t k = 0; k < nsymbols; k++) {
        snprintf(syms[k].name, sizeof syms[k].name, "SYM%03llu", (unsigned long long)k);
        int n = snprintf(syms[k].topic, sizeof syms[k].topic, "%s%s", prefix, syms[k].name);
        if (n < 0 || (size_t)n >= sizeof syms[k].topic ||
            topic_classify((struct ws_str){syms[k].topic, (size_t)n}) != TOPIC_EXACT)
            cli_usage_error(PROG, "--prefix '%s' does not make valid topics (e.g. '%s')", prefix,
                            syms[k].topic);
        syms[k].mid = syms[k].last = 20.0 + (double)(next_random(&rng) % 48000) / 100.0;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct wsb_client *c = cli_connect(PROG, &cfg);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    double start = mono_s(), next = start;
    uint64_t sent = 0;
    int code = CLI_EXIT_OK;
    while (!stop && (count == 0 || sent < count) &&
           (duration == 0 || mono_s() - start < duration)) {
        sleep_until(next);
        /* one burst: up to F messages back to back (fractional F: on average) */
        uint64_t n = (uint64_t)burst + (uniform(&rng) < burst - floor(burst));
        for (uint64_t k = 0; k < n && (count == 0 || sent < count); k++) {
            struct symbol *sym = &syms[next_random(&rng) % nsymbols];
            encode_quote(&sbuf, sym, &rng);
            enum wsb_client_status st =
                wsb_client_publish(c, sym->topic, (const uint8_t *)sbuf.data, sbuf.size);
            if (st != WSB_CLIENT_OK) {
                fprintf(stderr, "%s: %s\n", PROG, wsb_client_last_error(c));
                code = cli_exit_of(st);
                goto done;
            }
            sent++;
        }
        wsb_client_poll(c, 0); /* answer pings, report errors */
        double gap = (double)n / rate;
        next += burst > 1 ? -log(uniform(&rng)) * gap : gap;
        if (next < mono_s() - 1.0)
            next = mono_s(); /* fell behind by over a second: do not catch up in a flood */
    }
    if (wsb_client_flush(c) != WSB_CLIENT_OK) {
        fprintf(stderr, "%s: %s\n", PROG, wsb_client_last_error(c));
        code = CLI_EXIT_RUNTIME;
    }
done:;
    double spent = mono_s() - start;
    if (!quiet)
        fprintf(stderr, "%s: published %llu messages over %llu symbols in %.2f s (%.0f msg/s)\n",
                PROG, (unsigned long long)sent, (unsigned long long)nsymbols, spent,
                spent > 0 ? (double)sent / spent : 0.0);
    wsb_client_close(c);
    msgpack_sbuffer_destroy(&sbuf);
    free(syms);
    return code;
}

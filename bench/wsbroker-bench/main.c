/*
 * main.c - wsbroker-bench's command line: `wsbroker-bench SCENARIO
 * [options]`. A scenario is a family's entry point (scenario.h) plus preset
 * options placed before the user's, so that every preset can be overridden
 * by naming the option again (getopt_long keeps the last value).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

const char *bench_scenario = "";

struct scenario {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *preset[10]; /* options placed before the user's; NULL-terminated */
    const char *what;
};

static const struct scenario scenarios[] = {
    {"fanout",
     pubsub_main,
     {NULL},
     "P publishers -> S subscribers on T topics (default 1 -> 1, 1 topic)"},
    {"fanin",
     pubsub_main,
     {"--publishers", "100", "--subscribers", "1", NULL},
     "many publishers -> one subscriber on one topic (default 100 -> 1)"},
    {"market",
     pubsub_main,
     {"--topics", "100", "--subscribers", "100", "--symbols-per-sub", "10", "--zipf", "1.0", NULL},
     "K symbols, subscribers each on a subset (--symbols-per-sub), Zipf-distributed symbol\n"
     "            popularity and publish rates (default 100 symbols, 100 subscribers x 10 each)"},
    {"reliable",
     pubsub_main,
     {"--ack", "manual", NULL},
     "fan-out with manual acks; redeliveries counted"},
    {"resume",
     pubsub_main,
     {"--resume", NULL},
     "subscribers disconnect, then all reconnect at once resuming from their last seq"},
    {"echo", echo_main, {NULL}, "round trips on /echo, closed or open loop"},
    {"storm",
     echo_main,
     {"--handshakes", "2000", "--connections", "100", NULL},
     "connection storm: connect [+ TLS] + upgrade + close; handshakes/s and latency"},
};
#define SCENARIO_COUNT (sizeof scenarios / sizeof scenarios[0])

static void usage(FILE *to)
{
    fprintf(to, "usage: wsbroker-bench SCENARIO --url ws[s]://HOST:PORT/PATH [options]\n"
                "       wsbroker-bench SCENARIO --help   (that scenario's options)\n"
                "scenarios:\n");
    for (size_t i = 0; i < SCENARIO_COUNT; i++)
        fprintf(to, "  %-9s %s\n", scenarios[i].name, scenarios[i].what);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct scenario *sc = NULL;
    for (size_t i = 0; i < SCENARIO_COUNT; i++)
        if (strcmp(argv[1], scenarios[i].name) == 0)
            sc = &scenarios[i];
    if (sc == NULL) {
        fprintf(stderr, "wsbroker-bench: unknown scenario '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    size_t npreset = 0;
    while (sc->preset[npreset] != NULL)
        npreset++;
    /* argv for the entry point: program, preset, then the user's options */
    char **args = calloc((size_t)argc + npreset + 1, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "wsbroker-bench: out of memory\n");
        return 1;
    }
    int n = 0;
    args[n++] = argv[0];
    for (size_t i = 0; i < npreset; i++)
        args[n++] = (char *)sc->preset[i];
    for (int i = 2; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    bench_scenario = sc->name;
    int status = sc->run(n, args);
    free(args);
    return status;
}

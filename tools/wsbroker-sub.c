/*
 * wsbroker-sub - subscribe to wsbroker topics or patterns from the command
 * line and print what arrives (the counterpart of mosquitto_sub / `nats
 * sub`): JSON lines for humans (msgpack data converted), or the raw msgpack
 * values back to back for pipes. Resume from a seq, manual acks, a message
 * count and a timeout. Reconnects and resumes by itself unless told not to.
 * Usage and exit codes: --help, docs/clients.md.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_options.h"
#include "json_msgpack.h"
#include "topic.h"
#include "wsb_client.h"

#define PROG       "wsbroker-sub"
#define MAX_TOPICS 64

enum format { FORMAT_JSON, FORMAT_RAW };

struct sub {
    struct wsb_client *client;
    enum format fmt;
    bool verbose;
    bool ack;
    uint64_t count; /* 0: unlimited */
    uint64_t received;
    char *text; /* one message as JSON */
    size_t text_cap;
    int exit_code; /* set when a message cannot be shown */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    printf("usage: %s --url URL --topic TOPIC_OR_PATTERN [--topic ...] [options]\n"
           "\n"
           "Subscribes and writes every message to stdout: as one line of JSON (the data\n"
           "converted from msgpack; with -v prefixed by 'TOPIC SEQ '), or with --format raw\n"
           "as the data's msgpack bytes, back to back. Gaps, disconnects and reconnects are\n"
           "reported on stderr.\n"
           "\n"
           "subscription:\n"
           "  -t, --topic T          a topic or pattern (md.AAPL, md.*, md.>); repeatable\n"
           "  --from SEQ             resume: deliver seqs after SEQ of each topic\n"
           "  --snapshot             first the latest retained message of each topic\n"
           "  --ack                  manual acks: ack each message once it is written\n"
           "  --window N             un-acked messages in flight with --ack (default 1000)\n"
           "  -n, --count N          exit 0 after N messages\n"
           "  --timeout S            stop after S seconds: exit 5 if --count was not reached,\n"
           "                         else 0\n"
           "  --format json|raw      output (default json)\n"
           "  -v, --verbose          json: prefix each line with 'TOPIC SEQ '\n"
           "  --no-reconnect         exit 1 when the connection is lost instead of resuming\n"
           "\n%s\n%s",
           PROG, CLI_CONNECT_HELP, CLI_EXIT_HELP);
}

static void show_json(struct sub *s, const struct wsb_message *m)
{
    for (;;) {
        struct jm_result r = msgpack_to_json(m->data, m->data_len, s->text, s->text_cap);
        if (r.status == JM_OK) {
            if (s->verbose)
                printf("%s %llu ", m->topic, (unsigned long long)m->seq);
            fwrite(s->text, 1, r.len, stdout);
            putchar('\n');
            return;
        }
        if (r.status == JM_BAD_INPUT) {
            fprintf(stderr,
                    "%s: %s seq %llu: data cannot be shown as JSON: %s (try --format raw)\n", PROG,
                    m->topic, (unsigned long long)m->seq, r.error);
            s->exit_code = CLI_EXIT_RUNTIME;
            return;
        }
        s->text_cap = s->text_cap ? s->text_cap * 2 : 4096;
        s->text = realloc(s->text, s->text_cap);
        if (s->text == NULL) {
            fprintf(stderr, "%s: out of memory\n", PROG);
            exit(CLI_EXIT_RUNTIME);
        }
    }
}

static void on_message(void *user, const struct wsb_message *m)
{
    struct sub *s = user;
    if (s->count != 0 && s->received >= s->count)
        return; /* more arrived in the same read; not ours to show */
    if (s->fmt == FORMAT_RAW)
        fwrite(m->data, 1, m->data_len, stdout);
    else
        show_json(s, m);
    s->received++;
    if (s->ack) {
        fflush(stdout); /* acked means written */
        enum wsb_client_status st = wsb_client_ack(s->client, m->topic, m->seq);
        if (st != WSB_CLIENT_OK)
            fprintf(stderr, "%s: ack %s %llu: %s\n", PROG, m->topic, (unsigned long long)m->seq,
                    wsb_client_last_error(s->client));
    }
}

static void on_notice(void *user, const struct wsb_notice *n)
{
    (void)user;
    switch (n->kind) {
    case WSB_NOTICE_GAP:
        fprintf(stderr, "%s: gap: %s seqs %llu..%llu will not be delivered\n", PROG, n->topic,
                (unsigned long long)n->from, (unsigned long long)n->to);
        break;
    case WSB_NOTICE_DISCONNECTED:
        fprintf(stderr, "%s: disconnected: %s\n", PROG, n->text);
        break;
    case WSB_NOTICE_RECONNECTED:
        fprintf(stderr, "%s: reconnected, subscriptions resumed\n", PROG);
        break;
    case WSB_NOTICE_ERROR:
        fprintf(stderr, "%s: broker error %llu: %s\n", PROG, (unsigned long long)n->code, n->text);
        break;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct wsb_client_config cfg = {.name = PROG, .reconnect = true, .on_notice = on_notice};
    const char *topics[MAX_TOPICS];
    size_t ntopics = 0;
    const char *from = NULL, *format = "json", *count = NULL, *timeout = NULL, *window = NULL;
    struct sub s = {0};
    struct wsb_sub_options opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return CLI_EXIT_OK;
        }
        if (cli_take_value(PROG, argc, argv, &i, "--topic", &v) ||
            cli_take_value(PROG, argc, argv, &i, "-t", &v)) {
            if (ntopics == MAX_TOPICS)
                cli_usage_error(PROG, "at most %d --topic options", MAX_TOPICS);
            topics[ntopics++] = v;
            continue;
        }
        if (cli_take_connect_option(PROG, argc, argv, &i, &cfg) ||
            cli_take_value(PROG, argc, argv, &i, "--from", &from) ||
            cli_take_value(PROG, argc, argv, &i, "--format", &format) ||
            cli_take_value(PROG, argc, argv, &i, "--count", &count) ||
            cli_take_value(PROG, argc, argv, &i, "-n", &count) ||
            cli_take_value(PROG, argc, argv, &i, "--timeout", &timeout) ||
            cli_take_value(PROG, argc, argv, &i, "--window", &window))
            continue;
        if (strcmp(a, "--snapshot") == 0)
            opt.snapshot = true;
        else if (strcmp(a, "--ack") == 0)
            s.ack = opt.manual_ack = true;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            s.verbose = true;
        else if (strcmp(a, "--no-reconnect") == 0)
            cfg.reconnect = false;
        else
            cli_usage_error(PROG, "unknown argument '%s'", a);
    }
    if (ntopics == 0)
        cli_usage_error(PROG, "--topic is required");
    for (size_t k = 0; k < ntopics; k++)
        if (topic_classify((struct ws_str){topics[k], strlen(topics[k])}) == TOPIC_INVALID)
            cli_usage_error(PROG,
                            "bad topic or pattern '%s': dot-separated tokens of printable "
                            "ASCII; '*' a whole token, '>' only the last",
                            topics[k]);
    if (strcmp(format, "json") == 0)
        s.fmt = FORMAT_JSON;
    else if (strcmp(format, "raw") == 0)
        s.fmt = FORMAT_RAW;
    else
        cli_usage_error(PROG, "--format must be json or raw, not '%s'", format);
    if (from != NULL) {
        opt.has_from = true;
        opt.from = cli_parse_uint(PROG, "--from", from, 0, UINT64_MAX);
    }
    if (window != NULL)
        opt.window = (uint32_t)cli_parse_uint(PROG, "--window", window, 1, UINT32_MAX);
    if (count != NULL)
        s.count = cli_parse_uint(PROG, "--count", count, 1, UINT64_MAX);
    uint64_t deadline = UINT64_MAX;
    if (timeout != NULL)
        deadline =
            now_ms() + (uint64_t)(cli_parse_double(PROG, "--timeout", timeout, 0.001, 1e9) * 1000);
    if (cfg.url == NULL)
        cli_usage_error(PROG, "--url is required");

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    s.client = cli_connect(PROG, &cfg);
    for (size_t k = 0; k < ntopics; k++) {
        enum wsb_client_status st = wsb_client_subscribe(s.client, topics[k], &opt, on_message, &s);
        if (st != WSB_CLIENT_OK) {
            fprintf(stderr, "%s: subscribe %s: %s\n", PROG, topics[k],
                    wsb_client_last_error(s.client));
            wsb_client_close(s.client);
            return cli_exit_of(st);
        }
    }
    int code = CLI_EXIT_OK;
    while (!stop && (s.count == 0 || s.received < s.count)) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            if (s.count != 0) {
                fprintf(stderr, "%s: timed out after %s s with %llu of %llu messages\n", PROG,
                        timeout, (unsigned long long)s.received, (unsigned long long)s.count);
                code = CLI_EXIT_TIMEOUT;
            }
            break;
        }
        uint64_t wait = deadline - now < 200 ? deadline - now : 200;
        enum wsb_client_status st = wsb_client_poll(s.client, (int)wait);
        fflush(stdout); /* once per batch of messages, not per message */
        if (st != WSB_CLIENT_OK) {
            fprintf(stderr, "%s: %s\n", PROG, wsb_client_last_error(s.client));
            code = cli_exit_of(st);
            break;
        }
    }
    wsb_client_close(s.client);
    free(s.text);
    return code != CLI_EXIT_OK ? code : s.exit_code;
}

/*
 * wsbroker-pub - publish messages to a wsbroker topic from the command line
 * (the counterpart of mosquitto_pub / `nats pub`). One message from an
 * argument, or one per line from stdin or a file; JSON converted to msgpack
 * for humans, plain strings, or raw msgpack values for pipes. Usage and exit
 * codes: --help, docs/clients.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "json_msgpack.h"
#include "msgpack_reader.h"
#include "topic.h"
#include "wsb_client.h"

#define PROG          "wsbroker-pub"
#define MAX_DATA      (16 * 1024 * 1024)
#define RAW_READ_STEP (64 * 1024)

enum format { FORMAT_JSON, FORMAT_STRING, FORMAT_RAW };

struct pub {
    struct wsb_client *client;
    const char *topic;
    bool confirm;
    bool quiet;
    uint8_t *mp; /* one message's msgpack */
    size_t mp_cap;
    uint64_t sent;
};

/* Errors the broker reports for fire-and-forget publishes. */
static bool broker_errors;
static void on_notice(void *user, const struct wsb_notice *n)
{
    (void)user;
    if (n->kind == WSB_NOTICE_ERROR) {
        fprintf(stderr, "%s: broker error %llu: %s\n", PROG, (unsigned long long)n->code, n->text);
        broker_errors = true;
    }
}

static void usage(void)
{
    printf("usage: %s --url URL --topic TOPIC (-m DATA | --stdin | --file FILE) [options]\n"
           "\n"
           "Publishes to TOPIC: one message from -m, or one per line from stdin or FILE\n"
           "(empty lines are skipped), or a stream of raw msgpack values with --format raw.\n"
           "\n"
           "message:\n"
           "  -t, --topic TOPIC      the topic (not a pattern)\n"
           "  -m, --message DATA     one message given on the command line\n"
           "  --stdin                read messages from standard input\n"
           "  --file FILE            read messages from FILE\n"
           "  --format json|string|raw\n"
           "                         json (default): each message is JSON, sent as msgpack;\n"
           "                         string: each message is sent as a msgpack string;\n"
           "                         raw: the input is msgpack values back to back (stdin/file)\n"
           "  --count N              publish the -m message N times (default 1)\n"
           "  --confirm              wait for the broker's confirm of every message and print\n"
           "                         'TOPIC SEQ' for each on stdout\n"
           "  -q, --quiet            no summary on stderr\n"
           "\n%s\n%s",
           PROG, CLI_CONNECT_HELP, CLI_EXIT_HELP);
}

static void fail_exit(struct pub *p, enum wsb_client_status st)
{
    fprintf(stderr, "%s: %s\n", PROG, wsb_client_last_error(p->client));
    wsb_client_close(p->client);
    exit(cli_exit_of(st));
}

/* Publishes one msgpack value. */
static void publish(struct pub *p, const uint8_t *data, size_t len)
{
    enum wsb_client_status st;
    if (p->confirm) {
        uint64_t seq = 0;
        st = wsb_client_publish_confirm(p->client, p->topic, data, len, &seq);
        if (st == WSB_CLIENT_OK)
            printf("%s %llu\n", p->topic, (unsigned long long)seq);
    } else {
        st = wsb_client_publish(p->client, p->topic, data, len);
        if (st == WSB_CLIENT_OK)
            st = wsb_client_poll(p->client, 0); /* hear about errors as they happen */
    }
    if (st != WSB_CLIENT_OK)
        fail_exit(p, st);
    p->sent++;
}

/* Converts one text message (JSON or a plain string) and publishes it.
 * where names it in an error ("line 3"). */
static void publish_text(struct pub *p, enum format fmt, const char *text, size_t len,
                         const char *where)
{
    size_t need = len + 16;
    if (need > p->mp_cap) {
        p->mp = realloc(p->mp, need);
        p->mp_cap = need;
        if (p->mp == NULL) {
            fprintf(stderr, "%s: out of memory\n", PROG);
            exit(CLI_EXIT_RUNTIME);
        }
    }
    if (fmt == FORMAT_STRING) {
        /* a msgpack str: the shortest header for len */
        size_t h = len < 32 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : 5;
        uint8_t *o = p->mp;
        if (h == 1)
            o[0] = (uint8_t)(0xa0 | len);
        else if (h == 2)
            o[0] = 0xd9, o[1] = (uint8_t)len;
        else if (h == 3)
            o[0] = 0xda, o[1] = (uint8_t)(len >> 8), o[2] = (uint8_t)len;
        else
            o[0] = 0xdb, o[1] = (uint8_t)(len >> 24), o[2] = (uint8_t)(len >> 16),
            o[3] = (uint8_t)(len >> 8), o[4] = (uint8_t)len;
        memcpy(o + h, text, len);
        publish(p, p->mp, h + len);
        return;
    }
    /* msgpack of a JSON document is never longer than the text + 16 except for
     * numbers: "1" (1 byte) may become up to 9; retry larger then */
    for (;;) {
        struct jm_result r = json_to_msgpack(text, len, p->mp, p->mp_cap);
        if (r.status == JM_OK) {
            publish(p, p->mp, r.len);
            return;
        }
        if (r.status == JM_BAD_INPUT) {
            fprintf(stderr,
                    "%s: %s: not JSON: %s at byte %zu (use --format string to send "
                    "text as is)\n",
                    PROG, where, r.error, r.offset + 1);
            wsb_client_close(p->client);
            exit(CLI_EXIT_USAGE);
        }
        p->mp_cap *= 2;
        p->mp = realloc(p->mp, p->mp_cap);
        if (p->mp == NULL) {
            fprintf(stderr, "%s: out of memory\n", PROG);
            exit(CLI_EXIT_RUNTIME);
        }
    }
}

static void publish_lines(struct pub *p, enum format fmt, FILE *in, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        char where[300];
        snprintf(where, sizeof where, "%s line %llu", name, (unsigned long long)lineno);
        publish_text(p, fmt, line, (size_t)n, where);
    }
    free(line);
}

/* A stream of msgpack values back to back, each published as one message. */
static void publish_raw_stream(struct pub *p, FILE *in, const char *name)
{
    size_t len = 0, cap = RAW_READ_STEP * 2, off = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        exit(CLI_EXIT_RUNTIME);
    }
    bool eof = false;
    uint64_t index = 0;
    for (;;) {
        struct mp_cursor c = mp_cursor_make(buf + off, len - off);
        struct ws_str span;
        enum mp_status st = off < len ? mp_skip(&c, MP_MAX_DEPTH, &span) : MP_TRUNCATED;
        if (st == MP_OK) {
            publish(p, (const uint8_t *)span.ptr, span.len);
            off += span.len;
            index++;
            continue;
        }
        if (st != MP_TRUNCATED) {
            fprintf(stderr, "%s: %s: value %llu is not msgpack (at byte %zu)\n", PROG, name,
                    (unsigned long long)index + 1, off + c.pos);
            wsb_client_close(p->client);
            exit(CLI_EXIT_USAGE);
        }
        if (eof) {
            if (off < len) {
                fprintf(stderr, "%s: %s: truncated msgpack value at the end (byte %zu)\n", PROG,
                        name, off);
                wsb_client_close(p->client);
                exit(CLI_EXIT_USAGE);
            }
            break;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
        off = 0;
        if (len + RAW_READ_STEP > cap) {
            if (cap > MAX_DATA) {
                fprintf(stderr, "%s: %s: a msgpack value over %d bytes\n", PROG, name, MAX_DATA);
                exit(CLI_EXIT_USAGE);
            }
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL) {
                fprintf(stderr, "%s: out of memory\n", PROG);
                exit(CLI_EXIT_RUNTIME);
            }
        }
        size_t n = fread(buf + len, 1, cap - len, in);
        len += n;
        if (n == 0)
            eof = true;
    }
    free(buf);
}

int main(int argc, char **argv)
{
    struct wsb_client_config cfg = {.name = PROG, .on_notice = on_notice};
    const char *message = NULL, *file = NULL, *format = "json", *count_text = NULL;
    bool from_stdin = false, confirm = false, quiet = false;
    struct pub p = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return CLI_EXIT_OK;
        }
        if (cli_take_connect_option(PROG, argc, argv, &i, &cfg) ||
            cli_take_value(PROG, argc, argv, &i, "--topic", &p.topic) ||
            cli_take_value(PROG, argc, argv, &i, "-t", &p.topic) ||
            cli_take_value(PROG, argc, argv, &i, "--message", &message) ||
            cli_take_value(PROG, argc, argv, &i, "-m", &message) ||
            cli_take_value(PROG, argc, argv, &i, "--file", &file) ||
            cli_take_value(PROG, argc, argv, &i, "--format", &format) ||
            cli_take_value(PROG, argc, argv, &i, "--count", &count_text))
            continue;
        if (strcmp(a, "--stdin") == 0)
            from_stdin = true;
        else if (strcmp(a, "--confirm") == 0)
            confirm = true;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            quiet = true;
        else
            cli_usage_error(PROG, "unknown argument '%s'", a);
    }
    enum format fmt;
    if (strcmp(format, "json") == 0)
        fmt = FORMAT_JSON;
    else if (strcmp(format, "string") == 0)
        fmt = FORMAT_STRING;
    else if (strcmp(format, "raw") == 0)
        fmt = FORMAT_RAW;
    else
        cli_usage_error(PROG, "--format must be json, string or raw, not '%s'", format);
    if (p.topic == NULL)
        cli_usage_error(PROG, "--topic is required");
    enum topic_kind kind = topic_classify((struct ws_str){p.topic, strlen(p.topic)});
    if (kind != TOPIC_EXACT)
        cli_usage_error(PROG, "bad topic '%s': %s", p.topic,
                        kind == TOPIC_PATTERN ? "a pattern; publish needs a topic"
                                              : "dot-separated tokens of printable ASCII "
                                                "without '*' and '>', at most 255 bytes");
    if ((message != NULL) + from_stdin + (file != NULL) != 1)
        cli_usage_error(PROG, "give exactly one of --message, --stdin and --file");
    if (fmt == FORMAT_RAW && message != NULL)
        cli_usage_error(PROG, "--format raw reads msgpack from --stdin or --file, not --message");
    uint64_t count = count_text ? cli_parse_uint(PROG, "--count", count_text, 1, UINT32_MAX) : 1;
    if (count_text != NULL && message == NULL)
        cli_usage_error(PROG, "--count repeats a --message");
    if (cfg.url == NULL)
        cli_usage_error(PROG, "--url is required");

    FILE *in = NULL;
    if (file != NULL && (in = fopen(file, "rb")) == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", PROG, file, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    p.client = cli_connect(PROG, &cfg);
    p.confirm = confirm;
    p.quiet = quiet;
    const char *name = file ? file : "stdin";
    if (message != NULL) {
        for (uint64_t k = 0; k < count; k++)
            publish_text(&p, fmt, message, strlen(message), "--message");
    } else if (fmt == FORMAT_RAW) {
        publish_raw_stream(&p, in ? in : stdin, name);
    } else {
        publish_lines(&p, fmt, in ? in : stdin, name);
    }
    if (in != NULL)
        fclose(in);
    /* every error about our publishes is in once the broker answered a ping */
    enum wsb_client_status st = wsb_client_flush(p.client);
    if (st != WSB_CLIENT_OK)
        fail_exit(&p, st);
    if (broker_errors) {
        wsb_client_close(p.client);
        return CLI_EXIT_RUNTIME;
    }
    if (!quiet)
        fprintf(stderr, "%s: published %llu message%s to %s%s\n", PROG, (unsigned long long)p.sent,
                p.sent == 1 ? "" : "s", p.topic, confirm ? " (confirmed)" : "");
    wsb_client_close(p.client);
    free(p.mp);
    return CLI_EXIT_OK;
}

/*
 * client_check.c - drives the C client library (tools/client) through one
 * scenario against a running broker and says whether it behaved:
 *
 *   client_check URL pubsub|confirm|ack|resume|resume-pattern [CA_FILE]
 *
 * test_c_client.py starts the broker and runs every scenario. Exit 0 and
 * "ok: ..." on success; exit 1 and "FAIL: ..." naming what went wrong.
 * Every wait is bounded (a few seconds), every loop by a count.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsb_client.h"

#define WAIT_MS 10000

static const char *url, *ca_file;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
    exit(1);
}

/* What a subscription received, in order. */
struct received {
    uint64_t seqs[4096];
    char topics[4096][32];
    int64_t values[4096];
    size_t n;
};

/* Data values here are small msgpack positive fixints / uint16. */
static int64_t value_of(const uint8_t *d, size_t len)
{
    if (len == 1 && d[0] < 0x80)
        return d[0];
    if (len == 3 && d[0] == 0xcd)
        return d[1] << 8 | d[2];
    return -1;
}

static void on_message(void *user, const struct wsb_message *m)
{
    struct received *r = user;
    if (r->n == sizeof r->seqs / sizeof r->seqs[0])
        die("more messages than expected");
    r->seqs[r->n] = m->seq;
    snprintf(r->topics[r->n], sizeof r->topics[0], "%s", m->topic);
    r->values[r->n] = value_of(m->data, m->data_len);
    r->n++;
}

static struct wsb_client *connect_client(bool reconnect)
{
    struct wsb_client_config cfg = {
        .url = url,
        .ca_file = ca_file,
        .name = "client_check",
        .token = "test-token",
        .reconnect = reconnect,
        .reconnect_give_up_ms = WAIT_MS,
    };
    struct wsb_client *c;
    char why[512];
    enum wsb_client_status st = wsb_client_connect(&cfg, &c, why, sizeof why);
    if (st != WSB_CLIENT_OK)
        die("connect %s: %s: %s", url, wsb_client_status_name(st), why);
    return c;
}

/* msgpack of a uint < 65536 */
static size_t encode_value(uint8_t *out, unsigned v)
{
    if (v < 0x80) {
        out[0] = (uint8_t)v;
        return 1;
    }
    out[0] = 0xcd;
    out[1] = (uint8_t)(v >> 8);
    out[2] = (uint8_t)v;
    return 3;
}

static uint64_t publish(struct wsb_client *c, const char *topic, unsigned v)
{
    uint8_t data[3];
    uint64_t seq = 0;
    enum wsb_client_status st =
        wsb_client_publish_confirm(c, topic, data, encode_value(data, v), &seq);
    if (st != WSB_CLIENT_OK)
        die("publish %s %u: %s: %s", topic, v, wsb_client_status_name(st),
            wsb_client_last_error(c));
    return seq;
}

static void poll_until(struct wsb_client *c, const struct received *r, size_t n)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (r->n < n) {
        enum wsb_client_status st = wsb_client_poll(c, 100);
        if (st != WSB_CLIENT_OK)
            die("poll: %s: %s", wsb_client_status_name(st), wsb_client_last_error(c));
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 > WAIT_MS)
            die("received %zu of %zu messages in %d ms", r->n, n, WAIT_MS);
    }
}

/* Polls for ms milliseconds whatever comes. */
static void poll_for(struct wsb_client *c, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= ms)
            return;
        enum wsb_client_status st = wsb_client_poll(c, (int)(ms - spent));
        if (st != WSB_CLIENT_OK)
            die("poll: %s: %s", wsb_client_status_name(st), wsb_client_last_error(c));
    }
}

/* seqs first..first+n-1 in order, values matching, nothing else. */
static void expect_run(const struct received *r, const char *topic, uint64_t first, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (topic != NULL && strcmp(r->topics[i], topic) != 0)
            continue;
        if (r->seqs[i] != first + k)
            die("%s: message %zu has seq %" PRIu64 ", expected %" PRIu64 " (gap or duplicate)",
                topic ? topic : "", k, r->seqs[i], first + k);
        k++;
    }
    if (k != n)
        die("%s: %zu messages, expected %zu", topic ? topic : "", k, n);
}

static void scenario_pubsub(void)
{
    struct wsb_client *sub = connect_client(false), *pub = connect_client(false);
    static struct received r;
    if (wsb_client_subscribe(sub, "cc.pubsub", NULL, on_message, &r) != WSB_CLIENT_OK)
        die("subscribe: %s", wsb_client_last_error(sub));
    uint8_t data[3];
    for (unsigned i = 0; i < 200; i++)
        if (wsb_client_publish(pub, "cc.pubsub", data, encode_value(data, i)) != WSB_CLIENT_OK)
            die("publish: %s", wsb_client_last_error(pub));
    poll_until(sub, &r, 200);
    expect_run(&r, "cc.pubsub", 1, 200);
    for (size_t i = 0; i < r.n; i++)
        if (r.values[i] != (int64_t)i)
            die("message %zu carries %" PRId64, i, r.values[i]);
    /* bad input is refused with a clear error, not sent */
    if (wsb_client_publish(pub, "cc.*", data, 1) != WSB_CLIENT_ERR_ARG)
        die("publishing to a pattern was not refused");
    if (wsb_client_publish(pub, "cc.x", (const uint8_t *)"\xc1", 1) != WSB_CLIENT_ERR_ARG)
        die("publishing invalid msgpack was not refused");
    wsb_client_close(sub);
    wsb_client_close(pub);
    printf("ok: pubsub 200 messages in order, bad topic/data refused\n");
}

static void scenario_confirm(void)
{
    struct wsb_client *pub = connect_client(false);
    for (unsigned i = 1; i <= 50; i++) {
        uint64_t seq = publish(pub, "cc.confirm", i);
        if (seq != i)
            die("confirm %u carried seq %" PRIu64, i, seq);
    }
    /* an envelope over max_envelope is refused before it is sent */
    size_t big = 2 * 1024 * 1024;
    uint8_t *blob = calloc(1, big);
    blob[0] = 0xc6;
    uint32_t n = (uint32_t)(big - 5);
    blob[1] = (uint8_t)(n >> 24), blob[2] = (uint8_t)(n >> 16), blob[3] = (uint8_t)(n >> 8);
    blob[4] = (uint8_t)n;
    enum wsb_client_status st = wsb_client_publish_confirm(pub, "cc.confirm", blob, big, NULL);
    free(blob);
    if (st == WSB_CLIENT_OK)
        die("a 2 MiB publish was confirmed");
    if (publish(pub, "cc.confirm", 51) != 51)
        die("the connection is unusable after a refused publish");
    wsb_client_close(pub);
    printf("ok: 51 confirms with seqs 1..51, oversize refused (%s)\n", wsb_client_status_name(st));
}

static void scenario_ack(void)
{
    struct wsb_client *sub = connect_client(false), *pub = connect_client(false);
    static struct received r;
    struct wsb_sub_options o = {.manual_ack = true, .window = 4};
    if (wsb_client_subscribe(sub, "cc.ack", &o, on_message, &r) != WSB_CLIENT_OK)
        die("subscribe: %s", wsb_client_last_error(sub));
    for (unsigned i = 1; i <= 20; i++)
        publish(pub, "cc.ack", i);
    poll_until(sub, &r, 4);
    /* the window holds the rest back until acks come; the broker's ack timeout
     * (1 s) passes, so it retransmits, and the client drops those copies */
    poll_for(sub, 2500);
    struct wsb_client_stats s;
    wsb_client_stats(sub, &s);
    if (r.n != 4)
        die("window 4 without acks delivered %zu messages", r.n);
    if (s.duplicates == 0)
        die("no retransmission arrived (or it was not dropped) in 2.5 s");
    for (size_t k = 0; k < 20; k++) {
        poll_until(sub, &r, k + 1);
        if (wsb_client_ack(sub, "cc.ack", r.seqs[k]) != WSB_CLIENT_OK)
            die("ack: %s", wsb_client_last_error(sub));
    }
    expect_run(&r, "cc.ack", 1, 20);
    wsb_client_close(sub);
    wsb_client_close(pub);
    printf("ok: ack window 4 held 16 back, %" PRIu64
           " retransmissions dropped, all 20 after acks\n",
           s.duplicates);
}

static int disconnects, reconnects;
static void on_notice(void *user, const struct wsb_notice *n)
{
    (void)user;
    if (n->kind == WSB_NOTICE_DISCONNECTED)
        disconnects++;
    if (n->kind == WSB_NOTICE_RECONNECTED)
        reconnects++;
    if (n->kind == WSB_NOTICE_GAP)
        die("gap %s %" PRIu64 "..%" PRIu64, n->topic, n->from, n->to);
}

/* Drops the subscriber's connection three times, each time with messages in
 * flight and more published while it is away. */
static void scenario_resume(bool pattern)
{
    static const char *const exact[] = {"cc.r.a"};
    static const char *const matched[] = {"cc.p.a", "cc.p.b", "cc.p.c"};
    const char *const *topics = pattern ? matched : exact;
    size_t ntopics = pattern ? 3 : 1;
    struct wsb_client_config cfg = {.url = url,
                                    .ca_file = ca_file,
                                    .reconnect = true,
                                    .reconnect_give_up_ms = WAIT_MS,
                                    .on_notice = on_notice};
    struct wsb_client *sub, *pub = connect_client(true);
    char why[512];
    if (wsb_client_connect(&cfg, &sub, why, sizeof why) != WSB_CLIENT_OK)
        die("connect: %s", why);
    static struct received r;
    if (wsb_client_subscribe(sub, pattern ? "cc.p.>" : "cc.r.a", NULL, on_message, &r) !=
        WSB_CLIENT_OK)
        die("subscribe: %s", wsb_client_last_error(sub));
    unsigned per_round = 100, rounds = 4, v = 0;
    for (unsigned round = 0; round < rounds; round++) {
        for (unsigned i = 0; i < per_round; i++, v++)
            publish(pub, topics[v % ntopics], v);
        if (round == rounds - 1)
            break;
        poll_for(sub, 5); /* take part of it, leave the rest in flight */
        wsb_client_drop_connection(sub);
        for (unsigned i = 0; i < per_round / 2; i++, v++) /* while it is away */
            publish(pub, topics[v % ntopics], v);
        /* and more: the lost messages are behind these */
        for (unsigned i = 0; i < per_round / 2; i++, v++)
            publish(pub, topics[v % ntopics], v);
    }
    poll_until(sub, &r, v);
    poll_for(sub, 300); /* nothing more may come */
    for (size_t t = 0; t < ntopics; t++)
        expect_run(&r, topics[t], 1, v / ntopics + (t < v % ntopics));
    struct wsb_client_stats s;
    wsb_client_stats(sub, &s);
    if (disconnects != 3 || reconnects != 3 || s.reconnects != 3)
        die("%d disconnects, %d reconnects seen (stats %" PRIu64 "), expected 3 each", disconnects,
            reconnects, s.reconnects);
    wsb_client_close(sub);
    wsb_client_close(pub);
    printf("ok: %s resume: %u messages over %zu topic(s), 3 forced disconnects, no gap, no "
           "duplicate delivered (%" PRIu64 " dropped)\n",
           pattern ? "pattern" : "topic", v, ntopics, s.duplicates);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: client_check URL pubsub|confirm|ack|resume|resume-pattern [CA]\n");
        return 2;
    }
    url = argv[1];
    ca_file = argc > 3 ? argv[3] : NULL;
    const char *s = argv[2];
    if (strcmp(s, "pubsub") == 0)
        scenario_pubsub();
    else if (strcmp(s, "confirm") == 0)
        scenario_confirm();
    else if (strcmp(s, "ack") == 0)
        scenario_ack();
    else if (strcmp(s, "resume") == 0)
        scenario_resume(false);
    else if (strcmp(s, "resume-pattern") == 0)
        scenario_resume(true);
    else
        die("unknown scenario %s", s);
    return 0;
}

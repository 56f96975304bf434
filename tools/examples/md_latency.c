/*
 * md_latency.c - an example program of the C client (tools/client): a
 * market-data subscriber that prints each quote md-feed publishes with its
 * seq and end-to-end latency (now minus the publisher's `t`).
 *
 *   example_md_latency URL [PATTERN [COUNT]]     (default md.> and 20)
 *
 * It shows the whole API a subscriber needs: connect with reconnect on, a
 * notice callback for gaps and reconnects, subscribe with a message
 * callback, and the poll loop. Reading the msgpack map uses proto/'s
 * zero-copy cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msgpack_reader.h"
#include "wsb_client.h"

struct quote {
    struct ws_str sym;
    double bid, ask;
    uint64_t t_us;
};

/* A float64, or any non-negative integer, at the cursor. */
static bool read_number(struct mp_cursor *c, double *out)
{
    uint64_t u;
    if (mp_read_uint(c, &u) == MP_OK) {
        *out = (double)u;
        return true;
    }
    struct ws_str span;
    if (mp_skip(c, 0, &span) != MP_OK || span.len != 9 || (uint8_t)span.ptr[0] != 0xcb)
        return false;
    uint64_t bits = 0;
    for (int i = 1; i < 9; i++)
        bits = bits << 8 | (uint8_t)span.ptr[i];
    memcpy(out, &bits, sizeof *out);
    return true;
}

/* Picks sym, bid, ask and t out of md-feed's map; false if it is not one. */
static bool read_quote(const uint8_t *data, size_t len, struct quote *q)
{
    struct mp_cursor c = mp_cursor_make(data, len);
    uint32_t n;
    if (mp_read_map(&c, &n) != MP_OK)
        return false;
    int found = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct ws_str key;
        double v;
        if (mp_read_str(&c, &key) != MP_OK)
            return false;
        if (ws_str_eq(key, "sym") && mp_read_str(&c, &q->sym) == MP_OK)
            found |= 1;
        else if (ws_str_eq(key, "bid") && read_number(&c, &q->bid))
            found |= 2;
        else if (ws_str_eq(key, "ask") && read_number(&c, &q->ask))
            found |= 4;
        else if (ws_str_eq(key, "t") && read_number(&c, &v))
            q->t_us = (uint64_t)v, found |= 8;
        else if (mp_skip(&c, MP_MAX_DEPTH, NULL) != MP_OK)
            return false;
    }
    return found == 15;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long remaining;

static void on_quote(void *user, const struct wsb_message *m)
{
    (void)user;
    struct quote q;
    if (!read_quote(m->data, m->data_len, &q)) {
        printf("%s %llu (not a quote)\n", m->topic, (unsigned long long)m->seq);
    } else {
        long long lat = (long long)(wall_us() - q.t_us);
        printf("%-12s seq %-6llu %.*s bid %.2f ask %.2f latency %lld us\n", m->topic,
               (unsigned long long)m->seq, (int)q.sym.len, q.sym.ptr, q.bid, q.ask, lat);
    }
    remaining--;
}

static void on_notice(void *user, const struct wsb_notice *n)
{
    (void)user;
    if (n->kind == WSB_NOTICE_GAP)
        printf("gap %s %llu..%llu\n", n->topic, (unsigned long long)n->from,
               (unsigned long long)n->to);
    else if (n->kind == WSB_NOTICE_DISCONNECTED)
        printf("disconnected: %s\n", n->text);
    else if (n->kind == WSB_NOTICE_RECONNECTED)
        printf("reconnected\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [PATTERN [COUNT]]\n", argv[0]);
        return 2;
    }
    const char *pattern = argc > 2 ? argv[2] : "md.>";
    remaining = argc > 3 ? atol(argv[3]) : 20;
    struct wsb_client_config cfg = {
        .url = argv[1], .name = "md_latency", .reconnect = true, .on_notice = on_notice};
    struct wsb_client *c;
    char why[512];
    enum wsb_client_status st = wsb_client_connect(&cfg, &c, why, sizeof why);
    if (st != WSB_CLIENT_OK) {
        fprintf(stderr, "connect: %s\n", why);
        return 3;
    }
    st = wsb_client_subscribe(c, pattern, NULL, on_quote, NULL);
    while (st == WSB_CLIENT_OK && remaining > 0)
        st = wsb_client_poll(c, 1000);
    if (st != WSB_CLIENT_OK)
        fprintf(stderr, "%s\n", wsb_client_last_error(c));
    wsb_client_close(c);
    return st == WSB_CLIENT_OK ? 0 : 1;
}

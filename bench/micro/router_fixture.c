/*
 * router_fixture.c - see router_fixture.h. Connections are real objects on
 * one end of a socketpair, but nothing is written to the socket: frames are
 * taken out of each send queue with conn_on_sent(), as a send completion
 * would.
 */
#include "router_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "envelope.h"
#include "router.h"
#include "session.h"
#include "worker.h"

#define WORKERS      2
#define RING_ENTRIES 4096

struct router_fixture {
    struct broker_config cfg;
    struct broker broker;
    struct worker workers[WORKERS];
    struct conn *publisher;
    struct conn **subscribers;
    int *peer_fds;
    unsigned count; /* subscribers */
    int manual_ack; /* 0: acks off; else ack every manual_ack messages */
    uint64_t next_id;
    char topic[32];
    uint8_t pub[256];
    size_t pub_len;
};

static void fixture_pump(struct router_fixture *f)
{
    for (int round = 0; round < 1000000; round++) {
        int busy = 0;
        for (unsigned i = 0; i < WORKERS; i++) {
            router_poll(&f->workers[i].router);
            router_flush(&f->workers[i].router);
        }
        for (unsigned i = 0; i < WORKERS; i++)
            busy |= router_busy(&f->workers[i].router);
        if (!busy)
            return;
    }
}

static struct conn *fixture_connect(struct router_fixture *f, unsigned worker, int *peer)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    *peer = sv[1];
    atomic_fetch_add(&f->broker.connections, 1);
    struct conn *c = conn_create(&f->workers[worker], sv[0], NULL);
    c->state = CONN_OPEN;
    c->route = &pubsub_route;
    pubsub_route.on_open(c);
    return c;
}

static void fixture_send(struct conn *c, const struct wsb_request *req)
{
    uint8_t buf[512];
    size_t n = wsb_request_encode(buf, sizeof(buf), req);
    pubsub_route.on_message(c, WS_OP_BINARY, buf, n);
}

static void fixture_drain(struct conn *c)
{
    if (c->sendq.bytes > 0)
        conn_on_sent(c, c->sendq.bytes);
}

struct router_fixture *router_fixture_create(unsigned subscribers, int manual_ack)
{
    struct router_fixture *f = calloc(1, sizeof(*f));
    f->subscribers = calloc(subscribers, sizeof(*f->subscribers));
    f->peer_fds = calloc(subscribers + 1, sizeof(int));
    f->count = subscribers;
    f->manual_ack = manual_ack;
    config_init_defaults(&f->cfg);
    f->cfg.workers = WORKERS;
    f->broker.cfg = &f->cfg;
    f->broker.workers = f->workers;
    atomic_init(&f->broker.connections, 0);
    atomic_init(&f->broker.topics, 0);
    atomic_init(&f->broker.stopping, false);
    mailboxes_init(&f->broker.mailboxes, WORKERS, RING_ENTRIES);
    static const int no_listeners[1] = {-1};
    for (unsigned i = 0; i < WORKERS; i++)
        worker_init(&f->workers[i], i, &f->broker, no_listeners, 0);
    /* A topic owned by worker 1; the publisher sits on worker 0. */
    for (unsigned n = 0;; n++) {
        snprintf(f->topic, sizeof(f->topic), "md.SYM%u", n);
        if (router_owner_of(&f->workers[0].router, (struct ws_str){f->topic, strlen(f->topic)}) ==
            1)
            break;
    }
    struct wsb_request hello = {.op = WSB_OP_HELLO, .version = 1};
    f->publisher = fixture_connect(f, 0, &f->peer_fds[subscribers]);
    fixture_send(f->publisher, &hello);
    for (unsigned i = 0; i < subscribers; i++) {
        struct conn *c = fixture_connect(f, i % WORKERS, &f->peer_fds[i]);
        f->subscribers[i] = c;
        fixture_send(c, &hello);
        struct wsb_request sub = {.op = WSB_OP_SUB,
                                  .topic = {f->topic, strlen(f->topic)},
                                  .ack = manual_ack ? WSB_ACK_MANUAL : WSB_ACK_NONE,
                                  .window = WSB_DEFAULT_WINDOW};
        fixture_send(c, &sub);
    }
    fixture_pump(f);
    for (unsigned i = 0; i < subscribers; i++)
        fixture_drain(f->subscribers[i]);
    fixture_drain(f->publisher);
    /* 64 bytes of data: a bin 8 of 62 bytes. */
    static const uint8_t data[64] = {0xc4, 62};
    struct wsb_request pub = {.op = WSB_OP_PUB,
                              .topic = {f->topic, strlen(f->topic)},
                              .data = {(const char *)data, sizeof(data)}};
    f->pub_len = wsb_request_encode(f->pub, sizeof(f->pub), &pub);
    return f;
}

size_t router_fixture_publish(struct router_fixture *f)
{
    pubsub_route.on_message(f->publisher, WS_OP_BINARY, f->pub, f->pub_len);
    fixture_pump(f);
    f->next_id++;
    size_t delivered = 0;
    for (unsigned i = 0; i < f->count; i++) {
        struct conn *c = f->subscribers[i];
        delivered += c->sendq.count;
        fixture_drain(c);
        if (f->manual_ack && f->next_id % (uint64_t)f->manual_ack == 0) {
            struct wsb_request ack = {
                .op = WSB_OP_ACK, .topic = {f->topic, strlen(f->topic)}, .seq = f->next_id};
            fixture_send(c, &ack);
        }
    }
    return delivered;
}

void router_fixture_destroy(struct router_fixture *f)
{
    conn_abort(f->publisher, NULL);
    for (unsigned i = 0; i < f->count; i++)
        conn_abort(f->subscribers[i], NULL);
    fixture_pump(f);
    conn_free(f->publisher);
    for (unsigned i = 0; i < f->count; i++)
        conn_free(f->subscribers[i]);
    for (unsigned i = 0; i <= f->count; i++)
        close(f->peer_fds[i]);
    for (unsigned i = 0; i < WORKERS; i++)
        worker_destroy(&f->workers[i]);
    mailboxes_destroy(&f->broker.mailboxes);
    free(f->subscribers);
    free(f->peer_fds);
    free(f);
}

/*
 * router_fixture.h - a broker with 2 workers and N subscribers, driven on
 * one thread without sockets, for measuring the router's per-message cost
 * (bench_router.cc). C, because the broker's headers use C11 atomics.
 */
#ifndef WSB_ROUTER_FIXTURE_H
#define WSB_ROUTER_FIXTURE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct router_fixture;

/* subscribers spread over both workers, all on one topic owned by the
 * worker the publisher is NOT on (so every message crosses a ring); with
 * manual_ack > 0 the subscribers use manual acks and ack (cumulatively)
 * every manual_ack messages. */
struct router_fixture *router_fixture_create(unsigned subscribers, int manual_ack);

/* One publish, routed and delivered into every subscriber's send queue,
 * which is then emptied as if the socket took it all. Returns the number of
 * frames delivered. */
size_t router_fixture_publish(struct router_fixture *f);

void router_fixture_destroy(struct router_fixture *f);

#ifdef __cplusplus
}
#endif

#endif

/*
 * http_route.h - the plain HTTP GET endpoints the broker serves beside its
 * WebSocket routes (health probes, metrics, static pages).
 *
 * A request that carries none of the WebSocket upgrade headers is looked up
 * here by path (proto/ws_handshake.c marks it req.upgrade == false). The
 * handler answers with conn_respond(), once; the connection then closes.
 * Handlers run on the connection's worker thread and must not block.
 *
 * Operations endpoints (`ops`: /healthz, /readyz, /metrics) are served on
 * every listener, unless `metrics-listen` is set: then they are served only
 * there, and that listener serves nothing else (no WebSocket upgrades).
 */
#ifndef WSB_HTTP_ROUTE_H
#define WSB_HTTP_ROUTE_H

#include <stdbool.h>

#include "config.h"
#include "ws_handshake.h"
#include "ws_str.h"

struct conn;

struct http_route {
    const char *path;
    /* Answer req (borrowed: valid only during the call) with conn_respond. */
    void (*serve)(struct conn *c, const struct ws_handshake_request *req);
    bool ops; /* an operations endpoint: moves to metrics-listen when set */
};

/* The endpoint for path on a connection accepted on listener (NULL: treat
 * as a public listener) under this configuration, or NULL. */
const struct http_route *http_route_find(const struct broker_config *cfg,
                                         const struct listen_addr *listener, struct ws_str path);

/* False on the metrics listener: WebSocket upgrades there get 404. */
bool http_route_serves_websocket(const struct listen_addr *listener);

#endif

/*
 * http_route.h - the plain HTTP GET endpoints the broker serves beside its
 * WebSocket routes (health probes, metrics, static pages).
 *
 * A request that carries none of the WebSocket upgrade headers is looked up
 * here by path (proto/ws_handshake.c marks it req.upgrade == false). The
 * handler answers with conn_respond(), once; the connection then closes.
 * Handlers run on the connection's worker thread and must not block.
 */
#ifndef WSB_HTTP_ROUTE_H
#define WSB_HTTP_ROUTE_H

#include "config.h"
#include "ws_handshake.h"
#include "ws_str.h"

struct conn;

struct http_route {
    const char *path;
    /* Answer req (borrowed: valid only during the call) with conn_respond. */
    void (*serve)(struct conn *c, const struct ws_handshake_request *req);
};

/* The endpoint for path under this configuration, or NULL. */
const struct http_route *http_route_find(const struct broker_config *cfg, struct ws_str path);

#endif

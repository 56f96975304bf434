/*
 * http_route.c - the table of plain HTTP endpoints, and the ones simple
 * enough to live here.
 */
#include "http_route.h"

#include "conn.h"

/* Liveness: the worker that owns this connection is running its loop. */
static void serve_healthz(struct conn *c, const struct ws_handshake_request *req)
{
    (void)req;
    static const char body[] = "ok\n";
    conn_respond(c, 200, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

static const struct http_route routes[] = {
    {"/healthz", serve_healthz},
};

const struct http_route *http_route_find(const struct broker_config *cfg, struct ws_str path)
{
    (void)cfg;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (ws_str_eq(path, routes[i].path))
            return &routes[i];
    }
    return NULL;
}

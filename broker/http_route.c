/*
 * http_route.c - the table of plain HTTP endpoints, and which listener
 * serves which (see http_route.h).
 */
#include "http_route.h"

#include "conn.h"
#include "health.h"
#include "metrics_http.h"
#include "static_files.h"

static const struct http_route routes[] = {
    {"/healthz", health_serve_live, true},  {"/readyz", health_serve_ready, true},
    {"/metrics", metrics_http_serve, true}, {"/wsbroker.js", static_file_serve, false},
    {"/demo", static_file_serve, false},    {"/demo.js", static_file_serve, false},
};

static bool has_metrics_listener(const struct broker_config *cfg)
{
    return cfg->metrics_listen.addr_len != 0;
}

const struct http_route *http_route_find(const struct broker_config *cfg,
                                         const struct listen_addr *listener, struct ws_str path)
{
    bool on_metrics_listener = listener != NULL && listener->metrics;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!ws_str_eq(path, routes[i].path))
            continue;
        if (has_metrics_listener(cfg) && routes[i].ops != on_metrics_listener)
            return NULL;
        return &routes[i];
    }
    return NULL;
}

bool http_route_serves_websocket(const struct listen_addr *listener)
{
    return listener == NULL || !listener->metrics;
}

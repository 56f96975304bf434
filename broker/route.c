/*
 * route.c - the table of paths the broker serves.
 */
#include "route.h"

#include "echo.h"
#include "session.h"

const struct route *route_find(const struct broker_config *cfg, struct ws_str path)
{
    if (cfg->echo && ws_str_eq(path, echo_route.path))
        return &echo_route;
    if (ws_str_eq(path, pubsub_route.path))
        return &pubsub_route;
    return NULL;
}

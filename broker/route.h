/*
 * route.h - what the broker serves at each WebSocket path.
 *
 * A route is chosen once, from the handshake's path, before the upgrade; an
 * unknown path is answered with 404 and never upgraded. Handlers run on the
 * connection's worker thread.
 */
#ifndef WSB_ROUTE_H
#define WSB_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ws_str.h"

struct conn;

struct route {
    const char *path;
    /* Selected when the client offers it; a client that offers others but
     * not this one is refused (400). NULL: the route takes none. */
    const char *subprotocol;
    /* Clients authenticate (auth.h): a bad handshake token is refused 401. */
    bool auth;
    /* The connection was upgraded (may be NULL). */
    void (*on_open)(struct conn *c);
    /*
     * A complete message. payload is borrowed: it points into a receive
     * buffer or the connection's reassembly buffer and is valid only until
     * the handler returns; keep a copy of anything needed later.
     */
    void (*on_message)(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len);
    /* The connection left OPEN (closing or dropped): send nothing more. */
    void (*on_close)(struct conn *c);
    /* The send queue shrank below half of slow-consumer-bytes. */
    void (*on_writable)(struct conn *c);
    /* The worker's timer tick, for an OPEN connection. */
    void (*on_tick)(struct conn *c, uint64_t now_ms);
};

/* The route for path under this configuration, or NULL (404). */
const struct route *route_find(const struct broker_config *cfg, struct ws_str path);

#endif

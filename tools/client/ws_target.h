/*
 * ws_target.h - where a WebSocket client connects: a ws[s]:// URL parsed into
 * host, port, path and TLS, and the address it resolves to. One copy for the
 * client library (transport.c) and wsbroker-bench, which links wsbclient for
 * it.
 */
#ifndef WSB_CLIENT_WS_TARGET_H
#define WSB_CLIENT_WS_TARGET_H

#include <stdbool.h>
#include <sys/socket.h>

struct target {
    char host[256]; /* as written in the URL, for the Host header */
    char port[8];
    char path[1024];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool tls; /* wss:// */
};

/* Parses ws[s]://host[:port][/path] (host may be a bracketed IPv6 literal).
 * Returns NULL, or what is wrong with url. */
const char *target_parse_url(struct target *t, const char *url);

/* Fills t->addr from host and port. Returns NULL, or getaddrinfo's error. */
const char *target_resolve(struct target *t);

#endif

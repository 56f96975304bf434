/*
 * ws_target.c - ws[s]:// URL parsing and resolution (see ws_target.h).
 */
#include "ws_target.h"

#include <netdb.h>
#include <string.h>

const char *target_parse_url(struct target *t, const char *url)
{
    static const char scheme[] = "ws://", scheme_tls[] = "wss://";
    const char *p;
    if (strncmp(url, scheme, sizeof scheme - 1) == 0) {
        t->tls = false;
        p = url + sizeof scheme - 1;
    } else if (strncmp(url, scheme_tls, sizeof scheme_tls - 1) == 0) {
        t->tls = true;
        p = url + sizeof scheme_tls - 1;
    } else {
        return "the URL does not start with ws:// or wss://";
    }
    const char *host_end = *p == '[' ? strchr(p, ']') : p + strcspn(p, ":/");
    if (host_end == NULL || host_end == p)
        return "no host in the URL";
    const char *host = p;
    if (*p == '[') {
        host++;
        p = host_end + 1;
    } else {
        p = host_end;
    }
    if ((size_t)(host_end - host) >= sizeof t->host)
        return "host too long";
    memcpy(t->host, host, (size_t)(host_end - host));
    t->host[host_end - host] = '\0';
    strcpy(t->port, t->tls ? "443" : "80");
    if (*p == ':') {
        size_t plen = strcspn(p + 1, "/");
        if (plen == 0 || plen >= sizeof t->port)
            return "bad port in the URL";
        memcpy(t->port, p + 1, plen);
        t->port[plen] = '\0';
        p += 1 + plen;
    }
    if (strlen(p) >= sizeof t->path)
        return "path too long";
    strcpy(t->path, *p ? p : "/");
    return NULL;
}

const char *target_resolve(struct target *t)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0)
        return gai_strerror(rc);
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return NULL;
}

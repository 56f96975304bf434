/*
 * listener.c - creating SO_REUSEPORT listening sockets.
 */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096

int listener_open(const struct listen_addr *addr)
{
    int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        (addr->addr.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)&addr->addr, addr->addr_len) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int listener_adopt_port(struct listen_addr *addr, int fd)
{
    struct sockaddr_storage bound;
    socklen_t len = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &len) != 0)
        return -errno;
    unsigned port;
    if (bound.ss_family == AF_INET6) {
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        ((struct sockaddr_in6 *)&addr->addr)->sin6_port = htons((uint16_t)port);
    } else {
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        ((struct sockaddr_in *)&addr->addr)->sin_port = htons((uint16_t)port);
    }
    char *colon = strrchr(addr->text, ':');
    if (colon)
        snprintf(colon + 1, sizeof(addr->text) - (size_t)(colon + 1 - addr->text), "%u", port);
    return 0;
}

/*
 * listener.h - listening sockets, one per worker per configured address.
 *
 * Every worker gets its own socket bound to the same address with
 * SO_REUSEPORT, so the kernel load-balances new connections across workers
 * with no shared accept queue. Port 0 is resolved once: the first socket's
 * port is used for the rest, and written back into the config for logging.
 */
#ifndef WSB_LISTENER_H
#define WSB_LISTENER_H

#include "config.h"

/* Opens a bound, listening socket for addr. Returns the fd, or -errno. */
int listener_open(const struct listen_addr *addr);

/* After the first socket of a port-0 address is bound, fixes addr (and its
 * text) to the port the kernel chose. Returns 0 or -errno. */
int listener_adopt_port(struct listen_addr *addr, int fd);

#endif

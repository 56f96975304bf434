/*
 * ip_limit.h - open connections per client IP address, over all workers
 * (--max-connections-per-ip).
 *
 * Every accepted socket is counted under its peer's address (IPv4 as
 * IPv4-mapped IPv6) until it is closed, whether or not a limit is set, so
 * a limit turned on by SIGHUP sees the true counts. The table is shared by
 * the workers and guarded by one mutex: it is touched twice per connection
 * (accept, close), never per message.
 */
#ifndef WSB_IP_LIMIT_H
#define WSB_IP_LIMIT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_count;

struct ip_limit {
    pthread_mutex_t lock;
    struct ip_count **buckets;
    unsigned bucket_count;
};

int ip_limit_init(struct ip_limit *l);
void ip_limit_destroy(struct ip_limit *l);

/* Counts one more connection from peer; returns the count including it. */
uint64_t ip_limit_acquire(struct ip_limit *l, const struct sockaddr_storage *peer);
/* Counts one connection from peer out. */
void ip_limit_release(struct ip_limit *l, const struct sockaddr_storage *peer);

/* "192.0.2.7:51234" / "[2001:db8::1]:51234" for logs. */
void ip_format(const struct sockaddr_storage *peer, char *out, size_t cap);

#endif

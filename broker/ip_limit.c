/*
 * ip_limit.c - the per-address connection counts (see ip_limit.h): a
 * chained hash table keyed by the 16-byte address; an entry is freed when
 * its count drops to zero, so the table holds only connected addresses.
 */
#include "ip_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP_LIMIT_BUCKETS 4096

struct ip_count {
    uint8_t addr[16];
    uint64_t count;
    struct ip_count *next;
};

int ip_limit_init(struct ip_limit *l)
{
    l->bucket_count = IP_LIMIT_BUCKETS;
    l->buckets = calloc(l->bucket_count, sizeof(*l->buckets));
    if (l->buckets == NULL)
        return -1;
    pthread_mutex_init(&l->lock, NULL);
    return 0;
}

void ip_limit_destroy(struct ip_limit *l)
{
    if (l->buckets == NULL)
        return;
    for (unsigned i = 0; i < l->bucket_count; i++) {
        while (l->buckets[i]) {
            struct ip_count *e = l->buckets[i];
            l->buckets[i] = e->next;
            free(e);
        }
    }
    free(l->buckets);
    l->buckets = NULL;
    pthread_mutex_destroy(&l->lock);
}

/* The peer's address as 16 bytes (IPv4-mapped for IPv4); false if neither. */
static bool ip_key(const struct sockaddr_storage *peer, uint8_t key[16])
{
    if (peer->ss_family == AF_INET) {
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        return true;
    }
    if (peer->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
        return true;
    }
    return false;
}

static struct ip_count **ip_slot(struct ip_limit *l, const uint8_t key[16])
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 0x100000001b3ull;
    struct ip_count **pp = &l->buckets[h % l->bucket_count];
    while (*pp && memcmp((*pp)->addr, key, 16) != 0)
        pp = &(*pp)->next;
    return pp;
}

uint64_t ip_limit_acquire(struct ip_limit *l, const struct sockaddr_storage *peer)
{
    uint8_t key[16];
    if (!ip_key(peer, key))
        return 0;
    pthread_mutex_lock(&l->lock);
    struct ip_count **pp = ip_slot(l, key);
    if (*pp == NULL) {
        *pp = calloc(1, sizeof(**pp));
        if (*pp)
            memcpy((*pp)->addr, key, 16);
    }
    /* Out of memory: the connection is not counted (and not limited). */
    uint64_t n = *pp ? ++(*pp)->count : 0;
    pthread_mutex_unlock(&l->lock);
    return n;
}

void ip_limit_release(struct ip_limit *l, const struct sockaddr_storage *peer)
{
    uint8_t key[16];
    if (!ip_key(peer, key))
        return;
    pthread_mutex_lock(&l->lock);
    struct ip_count **pp = ip_slot(l, key);
    struct ip_count *e = *pp;
    if (e && --e->count == 0) {
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&l->lock);
}

void ip_format(const struct sockaddr_storage *peer, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
        snprintf(out, cap, "%s:%u", text, ntohs(in->sin_port));
    } else if (peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        snprintf(out, cap, "[%s]:%u", text, ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "unknown");
    }
}

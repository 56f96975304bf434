/*
 * topic_log.h - a topic's retention log: its most recent messages, bounded
 * by count, bytes and age (struct retention_rule).
 *
 * Entries hold a reference to each message's frame (the very bytes
 * subscribers received), so replay and resume resend them without encoding.
 * Owned and touched only by the topic's owner worker.
 */
#ifndef WSB_TOPIC_LOG_H
#define WSB_TOPIC_LOG_H

#include <stdint.h>

#include "config.h"
#include "outbuf.h"

struct log_entry {
    uint64_t seq;
    uint64_t at_ms; /* monotonic, for the age limit */
    struct outbuf *frame;
};

struct topic_log {
    struct log_entry *entries; /* ring, capacity a power of two */
    uint32_t capacity, head, count;
    uint64_t bytes; /* sum of frame lengths held */
    const struct retention_rule *rule;
};

void topic_log_init(struct topic_log *log, const struct retention_rule *rule);
void topic_log_destroy(struct topic_log *log);

/* Appends (taking over the caller's frame reference), then evicts what the
 * rule no longer allows. Returns -1 if the log cannot grow (out of memory):
 * the message is then still sequenced but not retained. */
int topic_log_append(struct topic_log *log, uint64_t seq, uint64_t now_ms, struct outbuf *frame);

/* Drops entries older than the rule's age limit. */
void topic_log_expire(struct topic_log *log, uint64_t now_ms);

/* Oldest retained seq, or head + 1 when empty. */
uint64_t topic_log_oldest(const struct topic_log *log, uint64_t head);

/* The entry with this seq, or NULL if not retained. */
const struct log_entry *topic_log_find(const struct topic_log *log, uint64_t seq);

/* The newest entry, or NULL. */
const struct log_entry *topic_log_newest(const struct topic_log *log);

#endif

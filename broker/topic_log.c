/*
 * topic_log.c - the retention ring. Seqs in the log are consecutive, so an
 * entry is found by arithmetic, not search.
 */
#include "topic_log.h"

#include <stdlib.h>

#define LOG_INITIAL 16

void topic_log_init(struct topic_log *log, const struct retention_rule *rule)
{
    log->entries = NULL;
    log->capacity = log->head = log->count = 0;
    log->bytes = 0;
    log->rule = rule;
}

static void evict_oldest(struct topic_log *log)
{
    struct log_entry *e = &log->entries[log->head];
    log->bytes -= e->frame->len;
    outbuf_release(e->frame);
    log->head = (log->head + 1) & (log->capacity - 1);
    log->count--;
}

void topic_log_destroy(struct topic_log *log)
{
    while (log->count > 0)
        evict_oldest(log);
    free(log->entries);
    log->entries = NULL;
    log->capacity = 0;
}

static int log_grow(struct topic_log *log)
{
    uint32_t capacity = log->capacity ? log->capacity * 2 : LOG_INITIAL;
    struct log_entry *entries = malloc(sizeof(*entries) * capacity);
    if (entries == NULL)
        return -1;
    for (uint32_t i = 0; i < log->count; i++)
        entries[i] = log->entries[(log->head + i) & (log->capacity - 1)];
    free(log->entries);
    log->entries = entries;
    log->capacity = capacity;
    log->head = 0;
    return 0;
}

void topic_log_expire(struct topic_log *log, uint64_t now_ms)
{
    if (log->rule->age_ms == 0)
        return;
    while (log->count > 0 && now_ms - log->entries[log->head].at_ms > log->rule->age_ms)
        evict_oldest(log);
}

int topic_log_append(struct topic_log *log, uint64_t seq, uint64_t now_ms, struct outbuf *frame)
{
    const struct retention_rule *rule = log->rule;
    if (rule->messages > 0 && log->count >= rule->messages)
        evict_oldest(log);
    if (log->count == log->capacity && log_grow(log) != 0) {
        outbuf_release(frame);
        return -1;
    }
    log->entries[(log->head + log->count) & (log->capacity - 1)] =
        (struct log_entry){seq, now_ms, frame};
    log->count++;
    log->bytes += frame->len;
    while (rule->bytes > 0 && log->bytes > rule->bytes && log->count > 1)
        evict_oldest(log);
    if (rule->bytes > 0 && log->bytes > rule->bytes) /* one message over the limit alone */
        evict_oldest(log);
    topic_log_expire(log, now_ms);
    return 0;
}

uint64_t topic_log_oldest(const struct topic_log *log, uint64_t head)
{
    return log->count ? log->entries[log->head].seq : head + 1;
}

const struct log_entry *topic_log_find(const struct topic_log *log, uint64_t seq)
{
    if (log->count == 0)
        return NULL;
    uint64_t oldest = log->entries[log->head].seq;
    if (seq < oldest || seq - oldest >= log->count)
        return NULL;
    return &log->entries[(log->head + (uint32_t)(seq - oldest)) & (log->capacity - 1)];
}

const struct log_entry *topic_log_newest(const struct topic_log *log)
{
    if (log->count == 0)
        return NULL;
    return &log->entries[(log->head + log->count - 1) & (log->capacity - 1)];
}

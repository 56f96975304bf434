/*
 * seq_table.c - per-topic last-seq table (see seq_table.h): open addressing
 * with linear probing, FNV-1a (topic_hash) as the hash, doubling at 3/4 full.
 * Entries are never removed: a client sees a bounded set of topics.
 */
#include "seq_table.h"

#include <stdlib.h>
#include <string.h>

#include "topic.h"

#define SEQ_TABLE_MIN_CAP 16

static struct seq_entry *probe(struct seq_entry *slots, size_t cap, struct ws_str topic)
{
    size_t i = (size_t)topic_hash(topic) & (cap - 1);
    while (slots[i].topic != NULL &&
           (slots[i].topic_len != topic.len || memcmp(slots[i].topic, topic.ptr, topic.len) != 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static bool grow(struct seq_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : SEQ_TABLE_MIN_CAP;
    struct seq_entry *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        struct seq_entry *e = &t->slots[i];
        if (e->topic != NULL)
            *probe(slots, cap, (struct ws_str){e->topic, e->topic_len}) = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return true;
}

struct seq_entry *seq_table_find(struct seq_table *t, struct ws_str topic, bool create)
{
    if (t->cap == 0 && !create)
        return NULL;
    if ((t->used + 1) * 4 > t->cap * 3 && create && !grow(t))
        return NULL;
    struct seq_entry *e = probe(t->slots, t->cap, topic);
    if (e->topic != NULL || !create)
        return e->topic != NULL ? e : NULL;
    e->topic = malloc(topic.len + 1);
    if (e->topic == NULL)
        return NULL;
    memcpy(e->topic, topic.ptr, topic.len);
    e->topic[topic.len] = '\0';
    e->topic_len = topic.len;
    e->last = 0;
    t->used++;
    return e;
}

bool seq_table_min_matching(const struct seq_table *t, struct ws_str pattern, uint64_t *min)
{
    bool found = false;
    for (size_t i = 0; i < t->cap; i++) {
        const struct seq_entry *e = &t->slots[i];
        if (e->topic == NULL || !topic_matches(pattern, (struct ws_str){e->topic, e->topic_len}))
            continue;
        if (!found || e->last < *min)
            *min = e->last;
        found = true;
    }
    return found;
}

void seq_table_free(struct seq_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].topic);
    free(t->slots);
    *t = (struct seq_table){0};
}

/*
 * seq_table.h - the last seq the client has delivered, per topic.
 *
 * Seqs are per topic (docs/protocol.md 4.1), so this table is what lets the
 * client drop duplicates by (topic, seq) and resume every subscription from
 * where it stopped after a reconnect. One open-addressing hash table keyed
 * by topic name; the table owns copies of the names.
 */
#ifndef WSB_CLIENT_SEQ_TABLE_H
#define WSB_CLIENT_SEQ_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_str.h"

struct seq_entry {
    char *topic; /* owned; NULL: empty slot */
    size_t topic_len;
    uint64_t last; /* the highest seq delivered (or the resume point) */
};

struct seq_table {
    struct seq_entry *slots;
    size_t cap; /* a power of two, or 0 */
    size_t used;
};

/* The entry of topic, created with last = 0 when create is set and it is not
 * there yet. NULL when absent (or out of memory). The pointer is valid until
 * the next insertion. */
struct seq_entry *seq_table_find(struct seq_table *t, struct ws_str topic, bool create);

/* The smallest `last` among the topics that `pattern` matches; false when it
 * matches none. */
bool seq_table_min_matching(const struct seq_table *t, struct ws_str pattern, uint64_t *min);

void seq_table_free(struct seq_table *t);

#endif

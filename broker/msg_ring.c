/*
 * msg_ring.c - growing and clearing the frame FIFOs of manual acks (see
 * msg_ring.h; the per-message operations are inline there).
 */
#include "msg_ring.h"

#include <stdlib.h>
#include <string.h>

void *ring_array_resize(void *items, size_t size, uint32_t *capacity, uint32_t *head,
                        uint32_t count, uint32_t new_capacity)
{
    char *moved = malloc(size * new_capacity);
    if (moved == NULL)
        return NULL;
    for (uint32_t i = 0; i < count; i++)
        memcpy(moved + i * size, (char *)items + ((*head + i) & (*capacity - 1)) * size, size);
    free(items);
    *capacity = new_capacity;
    *head = 0;
    return moved;
}

void *ring_array_grow(void *items, size_t size, uint32_t *capacity, uint32_t *head, uint32_t count)
{
    return ring_array_resize(items, size, capacity, head, count, *capacity ? *capacity * 2 : 16);
}

int msg_ring_resize(struct msg_ring *q, uint32_t capacity)
{
    void *items =
        ring_array_resize(q->items, sizeof(*q->items), &q->capacity, &q->head, q->count, capacity);
    if (items == NULL)
        return -1;
    q->items = items;
    return 0;
}

int msg_ring_grow(struct msg_ring *q)
{
    return msg_ring_resize(q, q->capacity ? q->capacity * 2 : 16);
}

void msg_ring_clear(struct msg_ring *q)
{
    while (q->count > 0)
        msg_ring_pop(q, NULL);
    free(q->items);
    memset(q, 0, sizeof(*q));
}

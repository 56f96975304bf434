/*
 * flush_fixture.c - fan-out queues gathered and sent without sockets (see
 * flush_fixture.h).
 */
#include "flush_fixture.h"

#include <stdlib.h>

#include "gather_cache.h"
#include "send_queue.h"

struct flush_fixture {
    struct outbuf_pool pool;
    struct outbuf_release_batch batch;
    struct gather_cache *cache; /* NULL: gather without it */
    struct outbuf **frames;
    unsigned nframes, nqueues;
    struct send_queue *queues;
};

struct flush_fixture *flush_fixture_create(unsigned subscribers, unsigned frames,
                                           size_t frame_bytes, int use_cache)
{
    struct flush_fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    outbuf_pool_init(&f->pool);
    f->frames = calloc(frames, sizeof(*f->frames));
    f->queues = calloc(subscribers, sizeof(*f->queues));
    f->cache = use_cache ? malloc(sizeof(*f->cache)) : NULL;
    if (f->frames == NULL || f->queues == NULL || (use_cache && f->cache == NULL)) {
        flush_fixture_destroy(f);
        return NULL;
    }
    if (f->cache)
        gather_cache_init(f->cache);
    f->nqueues = subscribers;
    for (unsigned i = 0; i < subscribers; i++)
        send_queue_init(&f->queues[i]);
    for (f->nframes = 0; f->nframes < frames; f->nframes++) {
        struct outbuf *b = outbuf_alloc_shared(frame_bytes);
        if (b == NULL) {
            flush_fixture_destroy(f);
            return NULL;
        }
        for (size_t j = 0; j < frame_bytes; j++)
            b->data[j] = (uint8_t)(f->nframes + j);
        b->len = frame_bytes;
        f->frames[f->nframes] = b;
    }
    return f;
}

size_t flush_fixture_flush(struct flush_fixture *f)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < f->nqueues; i++) {
        struct send_queue *q = &f->queues[i];
        for (unsigned k = 0; k < f->nframes; k++)
            if (send_queue_push(q, outbuf_ref(f->frames[k])) != 0)
                return 0;
        send_queue_gather(q, &f->pool, f->cache, &f->batch);
        bytes += q->bytes;
    }
    for (unsigned i = 0; i < f->nqueues; i++)
        send_queue_consume(&f->queues[i], f->queues[i].bytes, &f->batch);
    if (f->cache)
        gather_cache_clear(f->cache, &f->batch);
    outbuf_release_flush(&f->batch);
    return bytes;
}

void flush_fixture_destroy(struct flush_fixture *f)
{
    if (f->queues)
        for (unsigned i = 0; i < f->nqueues; i++)
            send_queue_destroy(&f->queues[i]);
    if (f->cache) {
        gather_cache_clear(f->cache, NULL);
        free(f->cache);
    }
    outbuf_release_flush(&f->batch);
    for (unsigned k = 0; k < f->nframes; k++)
        outbuf_release(f->frames[k]);
    outbuf_pool_destroy(&f->pool);
    free(f->frames);
    free(f->queues);
    free(f);
}

/*
 * test_delivery_random.c - manual-ack delivery under random operations:
 * five subscribers with random windows, sub-queues and policies on one
 * topic, and a random sequence of publish bursts, acks (cumulative, stale,
 * 0, past the end, near UINT64_MAX), clock jumps with ticks, partial reads
 * (slow connections), unsubscribes and resubscribes (resume from a seq,
 * snapshot), connection aborts, and for some seeds a short retention.
 *
 * After every step the delivery state is checked against its invariants
 * (delivery.c, "manual acks in step"): the count of deliveries in step,
 * their cursors inside the topic's sent log, the references banked on each
 * log entry, and every session's waiting bytes. At the end each subscriber
 * reads and acks everything, and what it received is checked as a client
 * would (docs/protocol.md 4.5, 4.6): within one subscription, first
 * deliveries in rising seq order, no duplicates but `re: true`
 * retransmissions of seqs it was sent, and with the drop policy every seq
 * up to the newest either delivered or named in a gap. LeakSanitizer (the
 * harness frees everything) catches a reference kept.
 *
 * The seeds are fixed, so a failure reproduces; `test_delivery_random SEED`
 * runs one seed with its steps traced on stderr, and DELIVERY_RANDOM_SEEDS=N
 * in the environment runs seeds 1 to N instead of the first 200 (a longer
 * search, by hand).
 */
#include <stdio.h>
#include <stdlib.h>

#include "router_harness.h"

#include "delivery.h"

#define SUBSCRIBERS 5
#define SEEDS       200
#define STEPS       1200

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static bool trace;

struct subscriber {
    struct h_client *cl;
    uint64_t window;
    enum wsb_policy policy;
    bool subscribed;
    size_t scanned;    /* frames already looked at */
    uint64_t max_seen; /* highest seq received, for its acks */
};

/* --- invariants of the delivery state -------------------------------------------------- */

static void check_local_topic(struct local_topic *lt)
{
    uint32_t in_step = 0;
    for (struct delivery *d = lt->deliveries; d; d = d->next_in_topic) {
        if (!d->in_step) {
            assert_int_equal(d->spans.count, 0);
            continue;
        }
        in_step++;
        assert_true(d->unacked.count == 0 && d->waiting.count == 0);
        assert_true(lt->sent_first <= d->unacked_from);
        assert_true(d->unacked_from <= d->sent_to);
        assert_true(d->sent_to <= d->next_seq);
        assert_true(d->next_seq <= lt->sent_first + lt->sent.count);
    }
    assert_int_equal(in_step, lt->in_step);
    for (uint32_t i = 0; i < lt->sent.count; i++) {
        uint64_t seq = lt->sent_first + i;
        uint32_t waiting = 0;
        for (struct delivery *d = lt->deliveries; d; d = d->next_in_topic)
            waiting += d->in_step && seq >= d->sent_to && seq < d->next_seq;
        const struct pending_msg *m = msg_ring_at(&lt->sent, i);
        assert_int_equal(m->frame->seq, seq);
        assert_int_equal(m->banked, waiting);
    }
}

static void check_invariants(struct subscriber *subs)
{
    for (int i = 0; i < SUBSCRIBERS; i++) {
        struct session *s = subs[i].cl->c->app;
        if (s == NULL)
            continue;
        uint64_t waiting_bytes = 0;
        for (struct subscription *sub = s->subs; sub; sub = sub->next) {
            for (struct delivery *d = sub->deliveries; d; d = d->next_in_sub) {
                check_local_topic(d->lt);
                for (uint32_t k = 0; k < d->waiting.count; k++)
                    waiting_bytes += msg_ring_at(&d->waiting, k)->frame->len;
                for (uint64_t seq = d->sent_to; d->in_step && seq < d->next_seq; seq++)
                    waiting_bytes +=
                        msg_ring_at(&d->lt->sent, (uint32_t)(seq - d->lt->sent_first))->frame->len;
            }
        }
        assert_int_equal(s->waiting_bytes, waiting_bytes);
    }
}

/* --- what the clients saw ----------------------------------------------------------------- */

static bool is_open(const struct subscriber *f)
{
    return f->cl->c->state == CONN_OPEN && f->cl->c->app != NULL;
}

static void note_received(struct subscriber *f)
{
    for (; f->scanned < f->cl->count; f->scanned++) {
        const struct h_frame *fr = &f->cl->frames[f->scanned];
        if (fr->opcode == WS_OP_BINARY && fr->decode == WSB_OK && fr->ev.kind == WSB_EV_MSG &&
            fr->ev.seq > f->max_seen)
            f->max_seen = fr->ev.seq;
    }
}

/* Each subscription period (from a `subscribed` on): first deliveries
 * rising, retransmissions only of seqs sent in it, and with the drop
 * policy nothing between the first and the newest missing unannounced. */
static void check_received(const struct subscriber *f, uint64_t published)
{
    bool *sent = calloc(published + 2, sizeof(*sent));
    bool *gap = calloc(published + 2, sizeof(*gap));
    assert_non_null(sent);
    assert_non_null(gap);
    uint64_t first = 0, newest = 0;
    for (size_t k = 0; k <= f->cl->count; k++) {
        const struct h_frame *fr = k < f->cl->count ? &f->cl->frames[k] : NULL;
        bool period_ends = fr == NULL || (fr->opcode == WS_OP_BINARY && fr->decode == WSB_OK &&
                                          fr->ev.kind == WSB_EV_SUBSCRIBED);
        if (period_ends) {
            for (uint64_t seq = first;
                 f->policy == WSB_POLICY_DROP && is_open(f) && first && seq <= newest; seq++) {
                if (!sent[seq] && !gap[seq])
                    fail_msg("seq %llu neither delivered nor in a gap", (unsigned long long)seq);
            }
            memset(sent, 0, (published + 2) * sizeof(*sent));
            memset(gap, 0, (published + 2) * sizeof(*gap));
            first = newest = 0;
            continue;
        }
        if (fr->opcode != WS_OP_BINARY || fr->decode != WSB_OK)
            continue;
        const struct wsb_event *e = &fr->ev;
        if (e->kind == WSB_EV_GAP) {
            for (uint64_t seq = e->from; seq <= e->to && seq <= published; seq++)
                gap[seq] = true;
        } else if (e->kind == WSB_EV_MSG) {
            assert_true(e->seq >= 1 && e->seq <= published);
            assert_int_equal(h_msg_value(e), e->seq);
            if (e->redelivered) {
                if (!sent[e->seq])
                    fail_msg("re-delivery of seq %llu, never sent", (unsigned long long)e->seq);
                continue;
            }
            if (e->seq <= newest)
                fail_msg("seq %llu after %llu", (unsigned long long)e->seq,
                         (unsigned long long)newest);
            sent[e->seq] = true;
            first = first ? first : e->seq;
            newest = e->seq;
        }
    }
    free(sent);
    free(gap);
}

/* --- the random run ------------------------------------------------------------------------ */

static void subscribe(struct subscriber *f, const char *t)
{
    unsigned how = below(4);
    uint64_t from = f->max_seen > 30 ? f->max_seen - below(30) : below(5);
    h_send(f->cl, &(struct wsb_request){.op = WSB_OP_SUB,
                                        .topic = h_str(t),
                                        .ack = WSB_ACK_MANUAL,
                                        .window = f->window,
                                        .has_from = how == 1,
                                        .from = from,
                                        .snapshot = how == 2,
                                        .policy = f->policy});
    f->subscribed = true;
}

static uint64_t ack_seq(const struct subscriber *f)
{
    unsigned how = below(20);
    if (how == 0)
        return 0;
    if (how == 1)
        return UINT64_MAX - below(3);
    if (how == 2)
        return f->max_seen + 1 + below(5);
    if (how < 6 && f->max_seen)
        return f->max_seen - below(f->max_seen < 10 ? (unsigned)f->max_seen : 10);
    return f->max_seen;
}

static void tick_all(struct harness *h, struct subscriber *subs, uint64_t now)
{
    h_set_time(h, now);
    for (int j = 0; j < SUBSCRIBERS; j++) {
        if (is_open(&subs[j]))
            pubsub_route.on_tick(subs[j].cl->c, now);
    }
    for (unsigned w = 0; w < h->nworkers; w++) /* as worker_on_tick does */
        router_on_tick(&h->workers[w].router, now);
    h_pump(h);
}

static void run_seed(uint64_t seed)
{
    struct harness *h = h_create(2);
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    bool big = seed % 2 == 0;
    h->cfg.ack_timeout_ms = 50 + below(100);
    h->cfg.ack_backoff_max_ms = h->cfg.ack_timeout_ms * (1 + below(8));
    h->cfg.sub_queue = 1 + below(big ? 80 : 8);
    if (seed % 3 == 0) { /* resume and snapshot meet a short retention */
        struct retention_rule *r = &h->cfg.retention[h->cfg.retention_count++];
        snprintf(r->pattern, sizeof(r->pattern), "%s", ">");
        r->messages = 5 + below(20);
        r->bytes = 1 << 20;
        r->age_ms = 0;
    }
    char t[32];
    h_topic_owned(h, 1, "rnd.", "", t, sizeof(t));
    h->cfg.slow_consumer_bytes = (3 + below(big ? 200 : 20)) * h_msg_wire_len(t) - 1;
    struct h_client *pub = h_client(h, below(2));
    struct subscriber subs[SUBSCRIBERS];
    for (int i = 0; i < SUBSCRIBERS; i++) {
        subs[i] = (struct subscriber){
            .cl = h_client(h, below(3) ? 0 : 1),
            .window = 1 + below(big ? 40 : 6),
            .policy = below(4) == 0 ? (enum wsb_policy)below(3) : WSB_POLICY_DROP,
        };
        subscribe(&subs[i], t);
    }
    h_pump(h);
    uint64_t published = 0, now = H_START_MS;
    for (unsigned step = 0; step < STEPS; step++) {
        unsigned op = below(100);
        struct subscriber *f = &subs[below(SUBSCRIBERS)];
        if (trace)
            fprintf(stderr, "step %u: op %u, subscriber %td\n", step, op, f - subs);
        if (op < 30) {
            unsigned n = 1 + below(below(4) == 0 ? 70 : 5); /* a burst spans batches */
            for (unsigned k = 0; k < n; k++)
                h_pub(pub, t, ++published);
            h_pump(h);
        } else if (op < 55) {
            if (is_open(f)) {
                h_ack(f->cl, t, ack_seq(f));
                h_pump(h);
            }
        } else if (op < 70) {
            now += below(4) == 0 ? below(2000) : below(120);
            tick_all(h, subs, now);
        } else if (op < 90) {
            h_read_entries(f->cl, below(3) == 0 ? SIZE_MAX : below(6));
            h_pump(h);
        } else if (op < 91) {
            if (is_open(f) && seed % 4 == 1) {
                conn_abort(f->cl->c, "random abort");
                h_pump(h);
            }
        } else if (op < 95) {
            if (is_open(f)) {
                if (f->subscribed) {
                    h_send(f->cl, &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = h_str(t)});
                    f->subscribed = false;
                    if (below(2))
                        h_pump(h);
                }
                if (!f->subscribed && below(2))
                    subscribe(f, t);
                h_pump(h);
            }
        } else {
            for (int j = 0; j < SUBSCRIBERS; j++)
                h_read_entries(subs[j].cl, SIZE_MAX);
            h_drain(pub);
            h_pump(h);
        }
        for (int j = 0; j < SUBSCRIBERS; j++)
            note_received(&subs[j]);
        check_invariants(subs);
    }
    /* Everyone reads and acks all, until nothing more comes: what waited is
     * sent, gaps are announced, retransmissions stop. */
    for (int round = 0; round < 50; round++) {
        size_t before = 0, after = 0;
        for (int j = 0; j < SUBSCRIBERS; j++) {
            before += subs[j].cl->count;
            h_read_entries(subs[j].cl, SIZE_MAX);
            note_received(&subs[j]);
            if (is_open(&subs[j]))
                h_ack(subs[j].cl, t, subs[j].max_seen);
            h_pump(h);
            h_read_entries(subs[j].cl, SIZE_MAX);
            note_received(&subs[j]);
            after += subs[j].cl->count;
        }
        check_invariants(subs);
        if (after == before && round > 2)
            break;
    }
    h_drain(pub);
    for (int j = 0; j < SUBSCRIBERS; j++)
        check_received(&subs[j], published);
    h_destroy(h);
}

static void test_random_manual_acks(void **state)
{
    (void)state;
    const char *only = getenv("DELIVERY_RANDOM_SEED");
    if (only) {
        trace = true;
        run_seed(strtoull(only, NULL, 0));
        return;
    }
    const char *seeds = getenv("DELIVERY_RANDOM_SEEDS");
    uint64_t last = SEEDS;
    if (seeds) {
        char *end;
        last = strtoull(seeds, &end, 0);
        if (end == seeds || *end != '\0' || last == 0)
            fail_msg("DELIVERY_RANDOM_SEEDS=%s: want a count of seeds, 1 or more", seeds);
    }
    for (uint64_t seed = 1; seed <= last; seed++)
        run_seed(seed);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        setenv("DELIVERY_RANDOM_SEED", argv[1], 1);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_manual_acks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

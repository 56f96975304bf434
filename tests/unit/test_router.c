/*
 * test_router.c - the /v1 pub/sub semantics of docs/protocol.md, driven
 * through the real session, router, delivery and topic-log code on one
 * thread (router_harness.h): sequencing, cross-worker fan-out, confirms and
 * de-duplication, wildcards, resume, snapshot, replay, retention, manual
 * acks and retransmission, the slow-consumer policies, and error envelopes.
 *
 * Every expectation is exact: each test reads every frame its clients got.
 * Tests named after a broker bug say so at the top; they stay until it is
 * fixed. Run one test with `test_router NAME` (a cmocka filter).
 */
#include "router_harness.h"

#include "delivery.h"

/* --- sequencing and fan-out ------------------------------------------------------- */

static void test_seqs_start_at_one_per_topic(void **state)
{
    struct harness *h = *state;
    char a[32], b[32];
    h_topic_owned(h, 0, "seq.a", "", a, sizeof(a));
    h_topic_owned(h, 1, "seq.b", "", b, sizeof(b));
    struct h_client *sub = h_client(h, 1);
    struct h_client *pub = h_client(h, 0);
    h_sub(sub, a);
    h_sub(sub, b);
    h_pump(h);
    /* different owners: the two `subscribed` may come in either order */
    const struct wsb_event *first = EXPECT_EVENT(sub, WSB_EV_SUBSCRIBED);
    bool a_first = ws_str_eq(first->topic, a);
    assert_int_equal(first->head, 0);
    assert_int_equal(first->oldest, 1);
    EXPECT_SUBSCRIBED(sub, a_first ? b : a, a_first ? b : a, 0, 1);

    for (uint64_t i = 1; i <= 3; i++) {
        h_pub(pub, a, 100 + i);
        h_pump(h);
        if (i <= 2) {
            h_pub(pub, b, 200 + i);
            h_pump(h);
        }
    }
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, a, 1)), 101);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, b, 1)), 201);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, a, 2)), 102);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, b, 2)), 202);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, a, 3)), 103);
    EXPECT_NOTHING(sub);
    EXPECT_NOTHING(pub);
}

/* Publisher on worker 0, topic owned by worker 1, subscribers on both. */
static void test_cross_worker_fan_out_exactly_once(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "fan.", "", t, sizeof(t));
    assert_int_equal(router_owner_of(&h->workers[0].router, h_str(t)), 1);
    struct h_client *s0 = h_client(h, 0);
    struct h_client *s1 = h_client(h, 1);
    struct h_client *s1b = h_client(h, 1);
    struct h_client *pub = h_client(h, 0);
    h_sub(s0, t);
    h_sub(s1, t);
    h_sub(s1b, t);
    h_pump(h);
    /* burst without pumping in between: order must survive the mailboxes */
    h_pub_range(pub, t, 1, 5);
    struct h_client *subs[] = {s0, s1, s1b};
    for (int i = 0; i < 3; i++) {
        EXPECT_SUBSCRIBED(subs[i], t, t, 0, 1);
        for (uint64_t seq = 1; seq <= 5; seq++) {
            const struct wsb_event *e = EXPECT_MSG(subs[i], t, seq);
            assert_int_equal(h_msg_value(e), seq);
            assert_false(e->redelivered);
            assert_true(e->ts > 0);
        }
        EXPECT_NOTHING(subs[i]);
    }
    EXPECT_NOTHING(pub);
}

/* 300 publishes through 64-entry rings: the overflow keeps them in order. */
static void test_order_through_mailbox_overflow(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "burst.", "", t, sizeof(t));
    struct h_client *s0 = h_client(h, 0);
    struct h_client *s1 = h_client(h, 1);
    struct h_client *pub = h_client(h, 0);
    h_sub(s0, t);
    h_sub(s1, t);
    h_pump(h);
    for (uint64_t v = 1; v <= 300; v++)
        h_pub(pub, t, v);
    assert_true(h->workers[0].router.port.out[1].count > 0); /* the ring overflowed */
    h_pump(h);
    struct h_client *subs[] = {s0, s1};
    for (int i = 0; i < 2; i++) {
        EXPECT_SUBSCRIBED(subs[i], t, t, 0, 1);
        for (uint64_t seq = 1; seq <= 300; seq++)
            assert_int_equal(h_msg_value(EXPECT_MSG(subs[i], t, seq)), seq);
        EXPECT_NOTHING(subs[i]);
    }
}

/* --- confirms and de-duplication ---------------------------------------------------- */

static void test_confirm_carries_seq(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "conf.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 0);
    h_pub(pub, t, 1); /* fire-and-forget: seq 1, no answer */
    h_pub_confirm(pub, t, 2, 7);
    h_pub_confirm(pub, t, 3, 8);
    h_pump(h);
    const struct wsb_event *e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_true(e->has_id);
    assert_int_equal(e->id, 7);
    assert_true(ws_str_eq(e->topic, t));
    assert_int_equal(e->seq, 2);
    e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 8);
    assert_int_equal(e->seq, 3);
    EXPECT_NOTHING(pub);
}

static void test_duplicate_id_sequenced_once(void **state)
{
    struct harness *h = *state;
    char t[32], other[32];
    h_topic_owned(h, 1, "dedup.", "", t, sizeof(t));
    h_topic_owned(h, 0, "dedup.o", "", other, sizeof(other));
    struct h_client *sub = h_client(h, 1);
    struct h_client *pub = h_client(h, 0);
    h_sub(sub, t);
    h_pump(h);
    EXPECT_SUBSCRIBED(sub, t, t, 0, 1);

    h_pub_confirm(pub, t, 10, 5);
    h_pub_confirm(pub, t, 11, 5); /* a retry with the same id */
    h_pub_confirm(pub, t, 12, 6);
    h_pump(h);
    const struct wsb_event *e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 5);
    assert_int_equal(e->seq, 1);
    e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 5);
    assert_int_equal(e->seq, 1); /* the original seq */
    e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 6);
    assert_int_equal(e->seq, 2);
    EXPECT_NOTHING(pub);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, 1)), 10);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, 2)), 12);
    EXPECT_NOTHING(sub);

    /* the same id on another topic is another message */
    h_pub_confirm(pub, other, 13, 5);
    h_pump(h);
    e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_true(ws_str_eq(e->topic, other));
    assert_int_equal(e->seq, 1);

    /* a reconnecting publisher keeps its session, and so the de-duplication */
    struct h_client *again = h_connect(h, 1);
    h_send(again,
           &(struct wsb_request){.op = WSB_OP_HELLO, .version = 1, .session = h_str(pub->session)});
    h_pump(h);
    e = EXPECT_EVENT(again, WSB_EV_WELCOME);
    assert_true(ws_str_eq(e->session, pub->session));
    h_pub_confirm(again, t, 14, 6);
    h_pub_confirm(again, t, 15, 9);
    h_pump(h);
    e = EXPECT_EVENT(again, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 6);
    assert_int_equal(e->seq, 2);
    e = EXPECT_EVENT(again, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 9);
    assert_int_equal(e->seq, 3);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, 3)), 15);
    EXPECT_NOTHING(sub);
    EXPECT_NOTHING(again);
}

/* --- wildcards ---------------------------------------------------------------------- */

/* Reads the `subscribed` a new pattern subscription starts with: one per
 * existing match (any order: they come from different owners), then the
 * pattern-level one. Fails unless exactly `matches` were named. */
static void expect_pattern_subscribed(struct h_client *cl, const char *pattern,
                                      const char *const *matches, const uint64_t *heads, unsigned n)
{
    bool seen[8] = {false};
    assert_true(n <= 8);
    for (unsigned i = 0; i < n; i++) {
        const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_SUBSCRIBED);
        assert_true(ws_str_eq(e->topic, pattern));
        unsigned k = 0;
        while (k < n && !ws_str_eq(e->match, matches[k]))
            k++;
        if (k == n || seen[k])
            fail_msg("unexpected or repeated subscribed match=%.*s", (int)e->match.len,
                     e->match.ptr ? e->match.ptr : "");
        seen[k] = true;
        assert_int_equal(e->head, heads[k]);
        assert_int_equal(e->oldest, 1);
    }
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_SUBSCRIBED);
    assert_true(ws_str_eq(e->topic, pattern));
    /* the pattern-level one names no topic (test_pattern_subscribed_has_no_match
     * checks the exact encoding) */
    assert_int_equal(e->match.len, 0);
}

static void test_wildcard_star_existing_and_new_topics(void **state)
{
    struct harness *h = *state;
    char t0[32], t1[32], later[32], other[32];
    h_topic_owned(h, 0, "md.ex", ".X", t0, sizeof(t0));
    h_topic_owned(h, 1, "md.ex", ".X", t1, sizeof(t1));
    h_topic_owned(h, 0, "md.new", ".X", later, sizeof(later));
    h_topic_owned(h, 1, "md.ex", ".Y", other, sizeof(other));
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, t0, 1, 2);
    h_pub_range(pub, t1, 1, 3);
    h_pub_range(pub, other, 1, 1);
    h_pub_range(pub, "md.X", 1, 1); /* one token short of md.*.X */

    struct h_client *sub = h_client(h, 1);
    h_send(sub,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = S("md.*.X"), .has_id = true, .id = 3});
    h_pump(h);
    const char *const matches[] = {t0, t1};
    const uint64_t heads[] = {2, 3};
    expect_pattern_subscribed(sub, "md.*.X", matches, heads, 2);
    EXPECT_NOTHING(sub); /* no snapshot asked: nothing retained is sent */

    h_pub_range(pub, t1, 4, 4);
    h_pub_range(pub, t0, 3, 3);
    h_pub_range(pub, other, 2, 2);
    h_pub_range(pub, "md.X", 2, 2);
    h_pub_range(pub, later, 1, 2); /* a new matching topic */
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, t1, 4)), 4);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, t0, 3)), 3);
    const struct wsb_event *e = EXPECT_SUBSCRIBED(sub, "md.*.X", later, 0, 1);
    assert_true(e->has_id);
    assert_int_equal(e->id, 3);
    EXPECT_MSG(sub, later, 1);
    EXPECT_MSG(sub, later, 2);
    EXPECT_NOTHING(sub);
}

static void test_wildcard_tail_and_overlap(void **state)
{
    struct harness *h = *state;
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, "md.AAPL", 1, 1);
    h_pub_range(pub, "md", 1, 1);

    struct h_client *sub = h_client(h, 1);
    h_sub(sub, "md.>");
    h_pump(h);
    const char *const matches[] = {"md.AAPL"};
    const uint64_t heads[] = {1};
    expect_pattern_subscribed(sub, "md.>", matches, heads, 1);
    h_sub(sub, "md.AAPL"); /* an exact subscription overlapping the pattern */
    h_pump(h);
    EXPECT_SUBSCRIBED(sub, "md.AAPL", "md.AAPL", 1, 1);

    h_pub_range(pub, "md", 2, 2);
    h_pub_range(pub, "md.AAPL", 2, 2);
    h_pub_range(pub, "md.NASDAQ.AAPL", 1, 1);
    /* once per matching subscription */
    EXPECT_MSG(sub, "md.AAPL", 2);
    EXPECT_MSG(sub, "md.AAPL", 2);
    EXPECT_SUBSCRIBED(sub, "md.>", "md.NASDAQ.AAPL", 0, 1);
    EXPECT_MSG(sub, "md.NASDAQ.AAPL", 1);
    EXPECT_NOTHING(sub);

    /* the pattern gone, the exact subscription still delivers */
    h_send(sub, &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = S("md.>")});
    h_pump(h);
    h_pub_range(pub, "md.AAPL", 3, 3);
    h_pub_range(pub, "md.NASDAQ.AAPL", 2, 2);
    EXPECT_MSG(sub, "md.AAPL", 3);
    EXPECT_NOTHING(sub);
}

/* docs/protocol.md 2.2: the pattern-level `subscribed` has no match, head or
 * oldest, and comes even when nothing matches yet. */
static void test_pattern_subscribed_has_no_match(void **state)
{
    struct harness *h = *state;
    struct h_client *sub = h_client(h, 0);
    h_send(sub,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = S("none.*"), .has_id = true, .id = 4});
    h_pump(h);
    h_drain(sub);
    assert_int_equal(sub->count - sub->seen, 1);
    const struct h_frame *f = &sub->frames[sub->seen++];
    assert_int_equal(f->opcode, WS_OP_BINARY);
    if (f->decode != WSB_OK)
        fail_msg("the pattern-level subscribed does not decode: %s", wsb_err_name(f->decode));
    assert_int_equal(f->ev.kind, WSB_EV_SUBSCRIBED);
    assert_true(ws_str_eq(f->ev.topic, "none.*"));
    assert_true(f->ev.has_id);
    assert_int_equal(f->ev.id, 4);
    if (ws_str_present(f->ev.match))
        fail_msg("the pattern-level subscribed carries match=\"%.*s\" head=%llu oldest=%llu",
                 (int)f->ev.match.len, f->ev.match.ptr, (unsigned long long)f->ev.head,
                 (unsigned long long)f->ev.oldest);
}

/* --- resume, snapshot, replay, retention -------------------------------------------- */

static void test_resume_from_middle_no_dup_at_seam(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "res.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, t, 1, 5);
    struct h_client *sub = h_client(h, 0);
    h_send(sub,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(t), .has_from = true, .from = 2});
    h_pub(pub, t, 6); /* in flight while the subscription attaches */
    h_pump(h);
    h_pub_range(pub, t, 7, 7);
    const struct wsb_event *e = EXPECT_EVENT(sub, WSB_EV_SUBSCRIBED);
    assert_true(e->head == 5 || e->head == 6); /* the owner saw sub and pub in some order */
    assert_int_equal(e->oldest, 1);
    for (uint64_t seq = 3; seq <= 7; seq++)
        assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, seq)), seq);
    EXPECT_NOTHING(sub);
}

static void test_resume_at_or_past_head(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 0, "resh.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 1);
    h_pub_range(pub, t, 1, 5);
    struct h_client *at = h_client(h, 1);
    struct h_client *past = h_client(h, 0);
    h_send(at,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(t), .has_from = true, .from = 5});
    h_send(past, &(struct wsb_request){
                     .op = WSB_OP_SUB, .topic = h_str(t), .has_from = true, .from = 99});
    h_pump(h);
    EXPECT_SUBSCRIBED(at, t, t, 5, 1);
    EXPECT_SUBSCRIBED(past, t, t, 5, 1);
    EXPECT_NOTHING(at);
    EXPECT_NOTHING(past);
    h_pub_range(pub, t, 6, 6);
    EXPECT_MSG(at, t, 6);
    EXPECT_MSG(past, t, 6);
    EXPECT_NOTHING(at);
    EXPECT_NOTHING(past);
}

static void use_retention(struct harness *h, const char *pattern, uint64_t messages, uint64_t bytes,
                          uint64_t age_ms)
{
    struct retention_rule *r = &h->cfg.retention[h->cfg.retention_count++];
    snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
    r->messages = messages;
    r->bytes = bytes;
    r->age_ms = age_ms;
}

static void test_resume_before_retention_gap_first(void **state)
{
    struct harness *h = *state;
    use_retention(h, "ret.>", 3, 0, 0);
    char t[32];
    h_topic_owned(h, 1, "ret.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, t, 1, 6); /* 4, 5, 6 retained */
    struct h_client *a = h_client(h, 0);
    struct h_client *b = h_client(h, 1);
    h_send(a,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(t), .has_from = true, .from = 1});
    h_send(b,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(t), .has_from = true, .from = 0});
    h_pump(h);
    EXPECT_SUBSCRIBED(a, t, t, 6, 4);
    EXPECT_GAP(a, t, 2, 3);
    EXPECT_SUBSCRIBED(b, t, t, 6, 4);
    EXPECT_GAP(b, t, 1, 3);
    for (uint64_t seq = 4; seq <= 6; seq++) {
        EXPECT_MSG(a, t, seq);
        EXPECT_MSG(b, t, seq);
    }
    h_pub_range(pub, t, 7, 7);
    EXPECT_MSG(a, t, 7);
    EXPECT_MSG(b, t, 7);
    EXPECT_NOTHING(a);
    EXPECT_NOTHING(b);
}

static void test_resume_applies_to_every_pattern_match(void **state)
{
    struct harness *h = *state;
    char t0[32], t1[32];
    h_topic_owned(h, 0, "pr.", ".x", t0, sizeof(t0));
    h_topic_owned(h, 1, "pr.", ".x", t1, sizeof(t1));
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, t0, 1, 3);
    h_pub_range(pub, t1, 1, 1);
    struct h_client *sub = h_client(h, 1);
    h_send(sub, &(struct wsb_request){
                    .op = WSB_OP_SUB, .topic = S("pr.*.x"), .has_from = true, .from = 1});
    h_pump(h);
    /* per topic: subscribed, then its backlog; topics interleave freely */
    uint64_t next0 = 0, next1 = 0; /* 0: subscribed not seen yet */
    for (int i = 0; i < 4; i++) {
        const struct h_frame *f = h_next_frame(sub, __FILE__, __LINE__);
        assert_int_equal(f->decode, WSB_OK);
        bool is0 = ws_str_eq(f->ev.kind == WSB_EV_SUBSCRIBED ? f->ev.match : f->ev.topic, t0);
        uint64_t *next = is0 ? &next0 : &next1;
        if (f->ev.kind == WSB_EV_SUBSCRIBED) {
            assert_int_equal(*next, 0);
            assert_int_equal(f->ev.head, is0 ? 3 : 1);
            *next = 2;
        } else {
            assert_int_equal(f->ev.kind, WSB_EV_MSG);
            assert_int_equal(f->ev.seq, *next);
            (*next)++;
        }
    }
    assert_int_equal(next0, 4);
    assert_int_equal(next1, 2);
    const struct wsb_event *e = EXPECT_EVENT(sub, WSB_EV_SUBSCRIBED);
    assert_int_equal(e->match.len, 0);
    EXPECT_NOTHING(sub);
}

static void test_snapshot_latest_first(void **state)
{
    struct harness *h = *state;
    char t[32], empty[32];
    h_topic_owned(h, 1, "snap.", "", t, sizeof(t));
    h_topic_owned(h, 0, "snap.e", "", empty, sizeof(empty));
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, t, 1, 3);
    struct h_client *sub = h_client(h, 0);
    h_send(sub, &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(t), .snapshot = true});
    h_send(sub, &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(empty), .snapshot = true});
    /* with from, snapshot is ignored */
    struct h_client *both = h_client(h, 1);
    h_send(both,
           &(struct wsb_request){
               .op = WSB_OP_SUB, .topic = h_str(t), .snapshot = true, .has_from = true, .from = 1});
    h_pump(h);
    const struct wsb_event *first = EXPECT_EVENT(sub, WSB_EV_SUBSCRIBED);
    if (ws_str_eq(first->topic, t)) {
        assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, 3)), 3);
        EXPECT_SUBSCRIBED(sub, empty, empty, 0, 1);
    } else {
        EXPECT_SUBSCRIBED(sub, t, t, 3, 1);
        assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, 3)), 3);
    }
    EXPECT_NOTHING(sub);
    EXPECT_SUBSCRIBED(both, t, t, 3, 1);
    EXPECT_MSG(both, t, 2);
    EXPECT_MSG(both, t, 3);
    EXPECT_NOTHING(both);

    h_pub_range(pub, t, 4, 4);
    h_pub_range(pub, empty, 1, 1);
    EXPECT_MSG(sub, t, 4);
    EXPECT_MSG(sub, empty, 1);
    EXPECT_MSG(both, t, 4);
    EXPECT_NOTHING(sub);
    EXPECT_NOTHING(both);
}

static void test_replay_range(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "rep.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, t, 1, 5);
    struct h_client *cl = h_client(h, 0); /* replay needs no subscription */
    h_send(cl, &(struct wsb_request){.op = WSB_OP_REPLAY,
                                     .topic = h_str(t),
                                     .from = 2,
                                     .has_to = true,
                                     .to = 4,
                                     .has_id = true,
                                     .id = 9});
    h_pump(h);
    for (uint64_t seq = 2; seq <= 4; seq++)
        assert_int_equal(h_msg_value(EXPECT_MSG(cl, t, seq)), seq);
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_REPLAYED);
    assert_true(e->has_id);
    assert_int_equal(e->id, 9);
    assert_true(ws_str_eq(e->topic, t));
    assert_int_equal(e->from, 2);
    assert_int_equal(e->to, 4);
    assert_int_equal(e->count, 3);

    /* `to` defaults to the head */
    h_send(cl, &(struct wsb_request){.op = WSB_OP_REPLAY, .topic = h_str(t), .from = 4});
    h_pump(h);
    EXPECT_MSG(cl, t, 4);
    EXPECT_MSG(cl, t, 5);
    e = EXPECT_EVENT(cl, WSB_EV_REPLAYED);
    assert_false(e->has_id);
    assert_int_equal(e->from, 4);
    assert_int_equal(e->to, 5);
    assert_int_equal(e->count, 2);
    EXPECT_NOTHING(cl);
}

static void test_replay_before_retention(void **state)
{
    struct harness *h = *state;
    use_retention(h, "repr.>", 3, 0, 0);
    char t[32];
    h_topic_owned(h, 0, "repr.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 1);
    h_pub_range(pub, t, 1, 6);
    struct h_client *cl = h_client(h, 1);
    h_send(cl, &(struct wsb_request){
                   .op = WSB_OP_REPLAY, .topic = h_str(t), .from = 1, .has_to = true, .to = 6});
    h_pump(h);
    EXPECT_GAP(cl, t, 1, 3);
    for (uint64_t seq = 4; seq <= 6; seq++)
        EXPECT_MSG(cl, t, seq);
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_REPLAYED);
    assert_int_equal(e->from, 1);
    assert_int_equal(e->to, 6);
    assert_int_equal(e->count, 3);

    h_send(cl, &(struct wsb_request){
                   .op = WSB_OP_REPLAY, .topic = h_str(t), .from = 1, .has_to = true, .to = 2});
    h_pump(h);
    EXPECT_GAP(cl, t, 1, 2);
    e = EXPECT_EVENT(cl, WSB_EV_REPLAYED);
    assert_int_equal(e->to, 2);
    assert_int_equal(e->count, 0);
    EXPECT_NOTHING(cl);
}

static void test_retention_by_count(void **state)
{
    struct harness *h = *state;
    use_retention(h, "rc.>", 2, 0, 0);
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, "rc.a", 1, 5);
    h_pub_range(pub, "other", 1, 5); /* the default rule: all kept */
    struct h_client *sub = h_client(h, 1);
    h_sub(sub, "rc.a");
    h_pump(h);
    EXPECT_SUBSCRIBED(sub, "rc.a", "rc.a", 5, 4);
    h_sub(sub, "other");
    h_pump(h);
    EXPECT_SUBSCRIBED(sub, "other", "other", 5, 1);
    EXPECT_NOTHING(sub);
}

static void test_retention_by_bytes(void **state)
{
    struct harness *h = *state;
    size_t frame = h_msg_wire_len("rb.a");
    use_retention(h, "rb.>", 0, 3 * frame, 0); /* exactly three frames */
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, "rb.a", 1, 5);
    struct h_client *cl = h_client(h, 1);
    h_send(cl, &(struct wsb_request){.op = WSB_OP_REPLAY, .topic = S("rb.a"), .from = 1});
    h_pump(h);
    EXPECT_GAP(cl, "rb.a", 1, 2);
    for (uint64_t seq = 3; seq <= 5; seq++) {
        EXPECT_MSG(cl, "rb.a", seq);
        assert_int_equal(cl->frames[cl->seen - 1].wire_len, frame);
    }
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_REPLAYED);
    assert_int_equal(e->count, 3);
    EXPECT_NOTHING(cl);
}

static void test_retention_by_age(void **state)
{
    struct harness *h = *state;
    use_retention(h, "ra.>", 0, 0, 100);
    struct h_client *pub = h_client(h, 0);
    h_set_time(h, H_START_MS);
    h_pub_range(pub, "ra.a", 1, 2);
    h_set_time(h, H_START_MS + 50);
    h_pub_range(pub, "ra.a", 3, 3);
    h_set_time(h, H_START_MS + 101); /* 1 and 2 are now too old */
    struct h_client *sub = h_client(h, 1);
    h_send(sub, &(struct wsb_request){
                    .op = WSB_OP_SUB, .topic = S("ra.a"), .has_from = true, .from = 0});
    h_pump(h);
    EXPECT_SUBSCRIBED(sub, "ra.a", "ra.a", 3, 3);
    EXPECT_GAP(sub, "ra.a", 1, 2);
    EXPECT_MSG(sub, "ra.a", 3);
    EXPECT_NOTHING(sub);

    /* the worker's tick expires without any request */
    h_set_time(h, H_START_MS + 151);
    unsigned owner = router_owner_of(&h->workers[0].router, S("ra.a"));
    router_on_tick(&h->workers[owner].router, H_START_MS + 151);
    h_send(sub, &(struct wsb_request){.op = WSB_OP_REPLAY, .topic = S("ra.a"), .from = 1});
    h_pump(h);
    EXPECT_GAP(sub, "ra.a", 1, 3);
    const struct wsb_event *e = EXPECT_EVENT(sub, WSB_EV_REPLAYED);
    assert_int_equal(e->count, 0);
    EXPECT_NOTHING(sub);
}

static void test_unsub_stops_delivery(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "uns.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 1);
    struct h_client *sub = h_client(h, 0);
    h_sub(sub, t);
    h_pump(h);
    h_pub_range(pub, t, 1, 1);
    EXPECT_SUBSCRIBED(sub, t, t, 0, 1);
    EXPECT_MSG(sub, t, 1);
    h_send(sub, &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = h_str(t)});
    h_pub(pub, t, 2); /* in flight while the owner detaches */
    h_pump(h);
    h_pub_range(pub, t, 3, 3);
    EXPECT_NOTHING(sub);
    assert_int_equal(h->workers[0].router.local_count, 0);

    /* and the same topic may be subscribed again */
    h_sub(sub, t);
    h_pump(h);
    h_pub_range(pub, t, 4, 4);
    EXPECT_SUBSCRIBED(sub, t, t, 3, 1);
    EXPECT_MSG(sub, t, 4);
    EXPECT_NOTHING(sub);
}

/* --- manual acks ---------------------------------------------------------------------- */

static void sub_manual(struct h_client *cl, const char *topic, uint64_t window)
{
    h_send(cl,
           &(struct wsb_request){
               .op = WSB_OP_SUB, .topic = h_str(topic), .ack = WSB_ACK_MANUAL, .window = window});
}

/* t: a topic with the given prefix owned by worker `owner`; pub a client
 * on worker pub_worker; sub a client on worker 0 subscribed to t with
 * manual acks and `window`. */
static void manual_setup(struct harness *h, unsigned owner, unsigned pub_worker, const char *prefix,
                         uint64_t window, char *t, size_t t_size, struct h_client **pub,
                         struct h_client **sub)
{
    h_topic_owned(h, owner, prefix, "", t, t_size);
    *pub = h_client(h, pub_worker);
    *sub = h_client(h, 0);
    sub_manual(*sub, t, window);
    h_pump(h);
    EXPECT_SUBSCRIBED(*sub, t, t, 0, 1);
}

static void test_manual_ack_window(void **state)
{
    struct harness *h = *state;
    char t[32];
    struct h_client *pub, *sub;
    manual_setup(h, 1, 1, "win.", 2, t, sizeof(t), &pub, &sub);
    h_pub_range(pub, t, 1, 5);
    EXPECT_MSG(sub, t, 1);
    EXPECT_MSG(sub, t, 2);
    EXPECT_NOTHING(sub); /* 3..5 wait behind the window */

    h_ack(sub, t, 1);
    EXPECT_MSG(sub, t, 3);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 1); /* nothing new acknowledged */
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 3);
    EXPECT_MSG(sub, t, 4);
    EXPECT_MSG(sub, t, 5);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 5);
    h_pub_range(pub, t, 6, 6);
    EXPECT_MSG(sub, t, 6);
    EXPECT_NOTHING(sub);
}

/* A worker offers consecutive deliveries of one topic together, subscriber
 * by subscriber (ROUTER_DELIVER_BATCH at a time): runs longer than a batch
 * and topics alternating message by message still reach each subscriber in
 * the order the owner sequenced them, with acks on or off. */
static void test_batched_deliveries_keep_the_order_across_topics(void **state)
{
    struct harness *h = *state;
    char a[32], b[32];
    h_topic_owned(h, 1, "mixa.", "", a, sizeof(a));
    h_topic_owned(h, 1, "mixb.", "", b, sizeof(b));
    struct h_client *both = h_client(h, 0);
    struct h_client *a_manual = h_client(h, 0);
    struct h_client *b_only = h_client(h, 1);
    struct h_client *pub = h_client(h, 0);
    h_sub(both, a);
    h_sub(both, b);
    sub_manual(a_manual, a, 1000);
    h_sub(b_only, b);
    h_pump(h);
    EXPECT_SUBSCRIBED(both, a, a, 0, 1);
    EXPECT_SUBSCRIBED(both, b, b, 0, 1);
    EXPECT_SUBSCRIBED(a_manual, a, a, 0, 1);
    EXPECT_SUBSCRIBED(b_only, b, b, 0, 1);
    /* 70 on a (two batches and a part), 40 alternating, 40 on b; no pump
     * in between, so the owner's mailbox holds them all at once */
    const char *order[150];
    uint64_t seq_of[150], na = 0, nb = 0;
    for (int i = 0; i < 150; i++) {
        bool on_a = i < 70 || (i < 110 && i % 2 == 0);
        order[i] = on_a ? a : b;
        seq_of[i] = on_a ? ++na : ++nb;
        h_pub(pub, order[i], (uint64_t)i);
    }
    h_pump(h);
    for (int i = 0; i < 150; i++)
        assert_int_equal(h_msg_value(EXPECT_MSG(both, order[i], seq_of[i])), (uint64_t)i);
    EXPECT_NOTHING(both);
    for (int i = 0; i < 150; i++) {
        if (order[i] == a)
            assert_int_equal(h_msg_value(EXPECT_MSG(a_manual, a, seq_of[i])), (uint64_t)i);
        else
            assert_int_equal(h_msg_value(EXPECT_MSG(b_only, b, seq_of[i])), (uint64_t)i);
    }
    EXPECT_NOTHING(a_manual);
    EXPECT_NOTHING(b_only);
}

/* An ack past what was delivered acknowledges only what was delivered: what
 * the window lets through afterwards is still un-acked and retransmitted. */
static void test_ack_beyond_delivered(void **state)
{
    struct harness *h = *state;
    h->cfg.ack_timeout_ms = 100;
    char t[32];
    struct h_client *pub, *sub;
    manual_setup(h, 0, 1, "ackb.", 2, t, sizeof(t), &pub, &sub);
    h_pub_range(pub, t, 1, 4);
    EXPECT_MSG(sub, t, 1);
    EXPECT_MSG(sub, t, 2);
    h_set_time(h, H_START_MS + 10);
    h_ack(sub, t, 100);
    EXPECT_MSG(sub, t, 3);
    EXPECT_MSG(sub, t, 4);
    EXPECT_NOTHING(sub);
    pubsub_route.on_tick(sub->c, H_START_MS + 110);
    assert_true(EXPECT_MSG(sub, t, 3)->redelivered);
    assert_true(EXPECT_MSG(sub, t, 4)->redelivered);
    EXPECT_NOTHING(sub);
}

/* Ack timeout 100 ms, backoff capped at 350; sub subscribed with manual
 * acks (window 10) to t, a topic with the given prefix. */
static void retransmit_setup(struct harness *h, const char *prefix, char *t, size_t t_size,
                             struct h_client **pub, struct h_client **sub)
{
    h->cfg.ack_timeout_ms = 100;
    h->cfg.ack_backoff_max_ms = 350;
    manual_setup(h, 1, 0, prefix, 10, t, t_size, pub, sub);
}

static void test_retransmit_backoff(void **state)
{
    struct harness *h = *state;
    char t[32];
    struct h_client *pub, *sub;
    retransmit_setup(h, "rtx.", t, sizeof(t), &pub, &sub);
    const uint64_t t0 = H_START_MS;
    h_pub_range(pub, t, 77, 77);
    const struct wsb_event *e = EXPECT_MSG(sub, t, 1);
    assert_false(e->redelivered);
    uint64_t ts = e->ts;

    /* retransmissions after 100, then 200, then 350 (capped), 350, ... */
    const uint64_t due[] = {t0 + 100, t0 + 300, t0 + 650, t0 + 1000, t0 + 1350};
    uint64_t last = t0;
    for (size_t i = 0; i < sizeof(due) / sizeof(due[0]); i++) {
        h_set_time(h, due[i] - 1);
        pubsub_route.on_tick(sub->c, due[i] - 1);
        EXPECT_NOTHING(sub);
        h_set_time(h, due[i]);
        pubsub_route.on_tick(sub->c, due[i]);
        e = EXPECT_MSG(sub, t, 1);
        assert_true(e->redelivered);
        assert_int_equal(e->ts, ts); /* the same message, not a new one */
        assert_int_equal(h_msg_value(e), 77);
        EXPECT_NOTHING(sub);
        last = due[i];
    }
    h_ack(sub, t, 1);
    for (uint64_t now = last; now <= last + 5000; now += 50)
        pubsub_route.on_tick(sub->c, now);
    EXPECT_NOTHING(sub);
}

/* A tick at `now`: exactly the messages listed (0-terminated) come again. */
static void expect_retransmitted_at(struct harness *h, struct h_client *sub, const char *t,
                                    uint64_t now, const uint64_t *seqs)
{
    h_set_time(h, now);
    pubsub_route.on_tick(sub->c, now);
    for (; *seqs; seqs++)
        assert_true(EXPECT_MSG(sub, t, *seqs)->redelivered);
    EXPECT_NOTHING(sub);
}

/* An unacked entry keeps the low 32 bits of its due time (delivery.h). Two
 * messages 60 ms apart whose dues fall on either side of a 32-bit wrap of
 * the ms clock (49.7 days) each keep their own schedule: the later one is
 * not taken for overdue when the earlier one is resent. */
static void test_retransmit_across_the_32_bit_wrap(void **state)
{
    struct harness *h = *state;
    const uint64_t t0 = (UINT64_C(1) << 32) - 130;
    h_set_time(h, t0);
    char t[32];
    struct h_client *pub, *sub;
    retransmit_setup(h, "wrap.", t, sizeof(t), &pub, &sub);
    h_pub_range(pub, t, 1, 1); /* due at t0 + 100, before the wrap */
    EXPECT_MSG(sub, t, 1);
    h_set_time(h, t0 + 60);
    h_pub_range(pub, t, 2, 2); /* due at t0 + 160, after it */
    EXPECT_MSG(sub, t, 2);
    const uint64_t none[] = {0}, first[] = {1, 0}, second[] = {2, 0};
    expect_retransmitted_at(h, sub, t, t0 + 99, none);
    expect_retransmitted_at(h, sub, t, t0 + 100, first);
    expect_retransmitted_at(h, sub, t, t0 + 159, none);
    expect_retransmitted_at(h, sub, t, t0 + 160, second);
    expect_retransmitted_at(h, sub, t, t0 + 299, none);
    expect_retransmitted_at(h, sub, t, t0 + 300, first); /* then 200 ms later */
    h_ack(sub, t, 2);
    for (uint64_t now = t0 + 300; now <= t0 + 2000; now += 50)
        expect_retransmitted_at(h, sub, t, now, none);
}

/* --- manual acks in step (delivery.c) ------------------------------------------------ */

/* The delivery of cl's only subscription. */
static struct delivery *sole_delivery(struct h_client *cl)
{
    struct session *s = cl->c->app;
    return s->subs->deliveries;
}

/* A message that waited behind a full window is due ack-timeout after it
 * was sent, not after it was offered: a delivery in step keeps a span for
 * what it sent late. The first retransmission takes it out of step with
 * each message's own due time; once everything is acked, the next message
 * brings it back in step. */
static void test_in_step_waited_messages_are_due_from_their_send(void **state)
{
    struct harness *h = *state;
    const uint64_t t0 = H_START_MS;
    char t[32];
    struct h_client *pub, *sub;
    retransmit_setup(h, "span.", t, sizeof(t), &pub, &sub); /* window 10 */
    h_pub_range(pub, t, 1, 12);
    for (uint64_t seq = 1; seq <= 10; seq++)
        EXPECT_MSG(sub, t, seq);
    EXPECT_NOTHING(sub); /* 11 and 12 wait */
    assert_true(sole_delivery(sub)->in_step);
    h_set_time(h, t0 + 40);
    h_ack(sub, t, 2);
    EXPECT_MSG(sub, t, 11);
    EXPECT_MSG(sub, t, 12);
    EXPECT_NOTHING(sub);
    assert_true(sole_delivery(sub)->in_step);

    const uint64_t none[] = {0}, offered[] = {3, 4, 5, 6, 7, 8, 9, 10, 0}, waited[] = {11, 12, 0};
    expect_retransmitted_at(h, sub, t, t0 + 99, none);
    expect_retransmitted_at(h, sub, t, t0 + 100, offered);
    assert_false(sole_delivery(sub)->in_step);
    expect_retransmitted_at(h, sub, t, t0 + 139, none);
    expect_retransmitted_at(h, sub, t, t0 + 140, waited);

    h_ack(sub, t, 12);
    h_set_time(h, t0 + 200);
    h_pub_range(pub, t, 13, 13);
    EXPECT_MSG(sub, t, 13);
    EXPECT_NOTHING(sub);
    assert_true(sole_delivery(sub)->in_step);
    const uint64_t last[] = {13, 0};
    expect_retransmitted_at(h, sub, t, t0 + 299, none);
    expect_retransmitted_at(h, sub, t, t0 + 300, last);
}

/* Reads seqs first..last of t from cl, each carrying its seq as value. */
static void expect_msgs_with_values(struct h_client *cl, const char *t, uint64_t first,
                                    uint64_t last, bool redelivered)
{
    for (uint64_t seq = first; seq <= last; seq++) {
        const struct wsb_event *e = EXPECT_MSG(cl, t, seq);
        assert_int_equal(h_msg_value(e), seq);
        assert_int_equal(e->redelivered, redelivered);
    }
}

/* Two subscribers in step on one topic, one acking everything and one
 * nothing: the topic's sent log grows and is trimmed over thousands of
 * messages, holds every frame the slow one still needs, intact (ASan would
 * see a frame freed early), and shrinks to about twice what they need once
 * both have acked and are back in step. */
static void test_in_step_log_keeps_what_is_unacked(void **state)
{
    struct harness *h = *state;
    h->cfg.ack_timeout_ms = 100;
    char t[32];
    h_topic_owned(h, 1, "keep.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 0);
    struct h_client *fast = h_client(h, 0);
    struct h_client *slow = h_client(h, 0);
    sub_manual(fast, t, 1000);
    sub_manual(slow, t, 1000);
    h_pump(h);
    EXPECT_SUBSCRIBED(fast, t, t, 0, 1);
    EXPECT_SUBSCRIBED(slow, t, t, 0, 1);
    for (uint64_t first = 1; first <= 3000; first += 100) {
        h_pub_range(pub, t, first, first + 99);
        expect_msgs_with_values(fast, t, first, first + 99, false);
        h_ack(fast, t, first + 99);
    }
    expect_msgs_with_values(slow, t, 1, 1000, false);
    EXPECT_NOTHING(slow); /* 1001..3000 wait */
    struct delivery *d = sole_delivery(slow);
    assert_true(d->in_step && sole_delivery(fast)->in_step);
    assert_true(d->lt->sent.count >= 3000);

    h_set_time(h, H_START_MS + 100);
    pubsub_route.on_tick(fast->c, H_START_MS + 100);
    pubsub_route.on_tick(slow->c, H_START_MS + 100);
    EXPECT_NOTHING(fast);
    expect_msgs_with_values(slow, t, 1, 1000, true); /* from the log's oldest */
    EXPECT_NOTHING(slow);
    assert_false(sole_delivery(slow)->in_step);
    h_ack(slow, t, 1000);
    expect_msgs_with_values(slow, t, 1001, 2000, false);
    h_ack(slow, t, 3000); /* acks 2000: 2001..3000 go, and then are acked */
    expect_msgs_with_values(slow, t, 2001, 3000, false);
    h_ack(slow, t, 3000);

    for (uint64_t first = 3001; first <= 8000; first += 100) {
        h_pub_range(pub, t, first, first + 99);
        expect_msgs_with_values(fast, t, first, first + 99, false);
        expect_msgs_with_values(slow, t, first, first + 99, false);
        h_ack(fast, t, first + 99);
        h_ack(slow, t, first + 99);
    }
    d = sole_delivery(slow);
    assert_true(d->in_step && sole_delivery(fast)->in_step);
    assert_true(d->lt->sent.capacity <= 512); /* shrunk to about twice the 100 needed */
    EXPECT_NOTHING(fast);
    EXPECT_NOTHING(slow);
}

/* Found in review: the log held acked frames until it was full, so after a
 * burst grew it to thousands of entries they stayed referenced while
 * nothing was unacked, on a topic gone quiet until the end. Now each tick
 * trims it to what is needed and shrinks its array, which keeps it small
 * while acks keep up. */
static void test_in_step_log_gives_back_acked_frames(void **state)
{
    struct harness *h = *state;
    char t[32];
    struct h_client *pub, *sub;
    manual_setup(h, 1, 0, "rel.", 1000, t, sizeof(t), &pub, &sub);
    h_pub_range(pub, t, 1, 3000);
    for (uint64_t first = 1; first <= 3000; first += 1000) {
        expect_msgs_with_values(sub, t, first, first + 999, false);
        h_ack(sub, t, first + 999);
    }
    EXPECT_NOTHING(sub);
    struct delivery *d = sole_delivery(sub);
    assert_true(d->in_step && d->unacked_from == 3001 && d->sent_to == 3001);
    assert_true(d->lt->sent.count >= 3000); /* a burst, all acked, then quiet */
    router_on_tick(&h->workers[0].router, H_START_MS + 1);
    assert_int_equal(d->lt->sent.count, 0);
    assert_true(d->lt->sent.capacity <= 64);

    for (uint64_t seq = 3001; seq <= 3500; seq++) { /* acked as they come */
        h_pub_range(pub, t, seq, seq);
        EXPECT_MSG(sub, t, seq);
        h_ack(sub, t, seq);
        assert_true(d->lt->sent.count <= 64 + 1);
    }
    assert_true(d->in_step && d->lt->sent.capacity <= 128);
    EXPECT_NOTHING(sub);
}

/* Unsubscribing while in step with messages waiting: their bytes leave the
 * session's backlog, and their references are given back (LeakSanitizer
 * reports a frame kept). */
static void test_in_step_unsubscribe_with_messages_waiting(void **state)
{
    struct harness *h = *state;
    char t[32];
    struct h_client *pub, *sub;
    manual_setup(h, 1, 0, "unw.", 2, t, sizeof(t), &pub, &sub);
    h_pub_range(pub, t, 1, 5);
    EXPECT_MSG(sub, t, 1);
    EXPECT_MSG(sub, t, 2);
    EXPECT_NOTHING(sub);
    struct session *s = sub->c->app;
    assert_true(sole_delivery(sub)->in_step);
    assert_int_equal(s->waiting_bytes, 3 * h_msg_wire_len(t));
    h_send(sub, &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = h_str(t)});
    h_pump(h);
    assert_int_equal(s->waiting_bytes, 0);
    h_pub_range(pub, t, 6, 6);
    h_drain(sub);
}

/* --- slow consumers ---------------------------------------------------------------------- */

/* A subscriber with `policy` and a publisher; slow-consumer-bytes is set to
 * `frames_until_slow` msg frames minus one byte, so that many frames make
 * the connection slow and the next one meets the policy. */
struct slow {
    struct h_client *sub, *pub;
    char topic[32];
    size_t frame;
};

static void slow_setup(struct harness *h, struct slow *s, enum wsb_policy policy,
                       unsigned frames_until_slow)
{
    h_topic_owned(h, 1, "slow.", "", s->topic, sizeof(s->topic));
    s->frame = h_msg_wire_len(s->topic);
    h->cfg.slow_consumer_bytes = frames_until_slow * s->frame - 1;
    s->pub = h_client(h, 1);
    s->sub = h_client(h, 0);
    h_send(s->sub,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = h_str(s->topic), .policy = policy});
    h_pump(h);
    EXPECT_SUBSCRIBED(s->sub, s->topic, s->topic, 0, 1);
    assert_int_equal(s->sub->c->sendq.bytes, 0);
}

static void test_slow_consumer_disconnect(void **state)
{
    struct harness *h = *state;
    struct slow s;
    slow_setup(h, &s, WSB_POLICY_DISCONNECT, 4);
    h_pub_range(s.pub, s.topic, 1, 4);
    assert_int_equal(s.sub->c->state, CONN_OPEN);
    assert_int_equal(s.sub->c->sendq.bytes, 4 * s.frame);
    h_pub_range(s.pub, s.topic, 5, 6);
    assert_int_not_equal(s.sub->c->state, CONN_OPEN);
    for (uint64_t seq = 1; seq <= 4; seq++)
        EXPECT_MSG(s.sub, s.topic, seq);
    EXPECT_CLOSE(s.sub, WS_CLOSE_POLICY_VIOLATION, "slow consumer");
    EXPECT_NOTHING(s.sub);
    EXPECT_NOTHING(s.pub);
}

static void test_slow_consumer_drop_then_gap(void **state)
{
    struct harness *h = *state;
    struct slow s;
    slow_setup(h, &s, WSB_POLICY_DROP, 4);
    h_pub_range(s.pub, s.topic, 1, 9); /* 5..9 dropped */
    assert_int_equal(s.sub->c->sendq.bytes, 4 * s.frame);

    /* one frame read: still above half, nothing more yet */
    assert_int_equal(h_read_entries(s.sub, 1), 1);
    assert_int_equal(s.sub->c->sendq.bytes, 3 * s.frame);
    h_pub_range(s.pub, s.topic, 10, 10); /* not slow now, but the gap is owed first */
    assert_int_equal(s.sub->c->sendq.bytes, 3 * s.frame);

    for (uint64_t seq = 1; seq <= 4; seq++)
        EXPECT_MSG(s.sub, s.topic, seq);
    EXPECT_GAP(s.sub, s.topic, 5, 10);
    EXPECT_NOTHING(s.sub);
    h_pub_range(s.pub, s.topic, 11, 11);
    EXPECT_MSG(s.sub, s.topic, 11);
    EXPECT_NOTHING(s.sub);
    assert_int_equal(s.sub->c->state, CONN_OPEN);
}

static void test_slow_consumer_conflate(void **state)
{
    struct harness *h = *state;
    struct slow s;
    slow_setup(h, &s, WSB_POLICY_CONFLATE, 3);
    h_pub_range(s.pub, s.topic, 1, 8);
    assert_int_equal(s.sub->c->sendq.bytes, 3 * s.frame);
    for (uint64_t seq = 1; seq <= 3; seq++)
        EXPECT_MSG(s.sub, s.topic, seq);
    assert_int_equal(h_msg_value(EXPECT_MSG(s.sub, s.topic, 8)), 8); /* only the newest */
    EXPECT_NOTHING(s.sub);
    h_pub_range(s.pub, s.topic, 9, 9);
    EXPECT_MSG(s.sub, s.topic, 9);
    EXPECT_NOTHING(s.sub);
}

/* docs/protocol.md 4.6: slow while MORE than slow-consumer-bytes are queued.
 * With exactly that many queued, the next message is still delivered. */
static void test_slow_consumer_threshold_is_more_than(void **state)
{
    struct harness *h = *state;
    struct slow s;
    slow_setup(h, &s, WSB_POLICY_DROP, 3);
    h->cfg.slow_consumer_bytes = 3 * s.frame; /* exactly three frames */
    h_pub_range(s.pub, s.topic, 1, 4);
    for (uint64_t seq = 1; seq <= 4; seq++)
        EXPECT_MSG(s.sub, s.topic, seq);
    EXPECT_NOTHING(s.sub);
}

static void test_slow_manual_ack_drop(void **state)
{
    struct harness *h = *state;
    h->cfg.sub_queue = 2;
    char t[32];
    struct h_client *pub, *sub;
    manual_setup(h, 0, 1, "slowm.", 1, t, sizeof(t), &pub, &sub);
    h_pub_range(pub, t, 1, 6); /* 1 sent, 2 and 3 wait, 4..6 dropped */
    EXPECT_MSG(sub, t, 1);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 1);
    EXPECT_MSG(sub, t, 2);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 2);
    EXPECT_MSG(sub, t, 3);
    EXPECT_GAP(sub, t, 4, 6); /* once the waiting queue has emptied */
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 3);
    h_pub_range(pub, t, 7, 7);
    EXPECT_MSG(sub, t, 7);
    EXPECT_NOTHING(sub);
}

/* Conflate with manual acks: only the newest message waits behind a full
 * window. Every frame dropped from the waiting queue gives back both of the
 * references it took (under ASan, LeakSanitizer reports a frame kept). */
static void test_slow_manual_ack_conflate(void **state)
{
    struct harness *h = *state;
    h->cfg.sub_queue = 2;
    char t[32];
    h_topic_owned(h, 0, "confm.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 1);
    struct h_client *sub = h_client(h, 0);
    h_send(sub, &(struct wsb_request){.op = WSB_OP_SUB,
                                      .topic = h_str(t),
                                      .ack = WSB_ACK_MANUAL,
                                      .window = 1,
                                      .policy = WSB_POLICY_CONFLATE});
    h_pump(h);
    EXPECT_SUBSCRIBED(sub, t, t, 0, 1);
    h_pub_range(pub, t, 1, 6); /* 1 sent; 2, 3 wait; 4 replaces them; 5 waits; 6 replaces */
    EXPECT_MSG(sub, t, 1);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 1);
    assert_int_equal(h_msg_value(EXPECT_MSG(sub, t, 6)), 6);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 6);
    h_pub_range(pub, t, 7, 8); /* the window has room again: 7 goes, 8 waits */
    EXPECT_MSG(sub, t, 7);
    EXPECT_NOTHING(sub);
    h_ack(sub, t, 7);
    EXPECT_MSG(sub, t, 8);
    EXPECT_NOTHING(sub);
}

/* --- errors ------------------------------------------------------------------------------- */

static void test_error_hello_required(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_connect(h, 0);
    h_send(cl, &(struct wsb_request){.op = WSB_OP_SUB, .topic = S("a"), .has_id = true, .id = 5});
    h_pump(h);
    const struct wsb_event *e = EXPECT_ERROR(cl, WSB_ERR_HELLO_REQUIRED);
    assert_true(e->has_id);
    assert_int_equal(e->id, 5);
    assert_true(ws_str_eq(e->op, "sub"));
    EXPECT_NOTHING(cl);
    h_hello(cl); /* still usable */
    h_sub(cl, "a");
    h_pump(h);
    EXPECT_SUBSCRIBED(cl, "a", "a", 0, 1);
}

/* De-duplication remembers the last 4096 ids of a topic: a retry of any of
 * them gets its original seq, even after thousands of later publishes. */
static void test_dedup_remembers_4096_ids(void **state)
{
    struct harness *h = *state;
    char t[32];
    h_topic_owned(h, 1, "dedupmany.", "", t, sizeof(t));
    struct h_client *pub = h_client(h, 0);
    for (uint64_t id = 1; id <= 5000; id++) {
        h_pub_confirm(pub, t, id, id);
        if (id % 500 == 0)
            h_pump(h);
    }
    h_pump(h);
    for (uint64_t id = 1; id <= 5000; id++)
        assert_int_equal(EXPECT_EVENT(pub, WSB_EV_CONFIRM)->seq, id);
    h_pub_confirm(pub, t, 0, 1000); /* 904..5000 are remembered */
    h_pump(h);
    const struct wsb_event *e = EXPECT_EVENT(pub, WSB_EV_CONFIRM);
    assert_int_equal(e->id, 1000);
    assert_int_equal(e->seq, 1000);
    EXPECT_NOTHING(pub);
}

static void test_error_duplicate_hello(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 1);
    h_send(cl, &(struct wsb_request){.op = WSB_OP_HELLO, .version = 1});
    h_pump(h);
    const struct wsb_event *e = EXPECT_ERROR(cl, WSB_ERR_DUPLICATE_HELLO);
    assert_false(e->has_id);
    assert_true(ws_str_eq(e->op, "hello"));
    EXPECT_NOTHING(cl);
}

static void test_error_unknown_op(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 0);
    /* {"op": "nope", "id": 3} */
    static const uint8_t env[] = {0x82, 0xa2, 'o',  'p', 0xa4, 'n', 'o',
                                  'p',  'e',  0xa2, 'i', 'd',  0x03};
    h_send_raw(cl, WS_OP_BINARY, env, sizeof(env));
    const struct wsb_event *e = EXPECT_ERROR(cl, WSB_ERR_UNKNOWN_OP);
    assert_true(e->has_id);
    assert_int_equal(e->id, 3);
    EXPECT_NOTHING(cl);
}

static void test_error_text_message(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 0);
    static const uint8_t text[] = "{\"op\":\"ping\"}";
    h_send_raw(cl, WS_OP_TEXT, text, sizeof(text) - 1);
    const struct wsb_event *e = EXPECT_ERROR(cl, WSB_ERR_TEXT_MESSAGE);
    assert_false(e->has_id);
    EXPECT_NOTHING(cl);
    assert_int_equal(cl->c->state, CONN_OPEN);
}

static void test_error_not_and_already_subscribed(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 1);
    h_send(cl,
           &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = S("x.y"), .has_id = true, .id = 1});
    const struct wsb_event *e = EXPECT_ERROR(cl, WSB_ERR_NOT_SUBSCRIBED);
    assert_int_equal(e->id, 1);
    assert_true(ws_str_eq(e->op, "unsub"));
    h_sub(cl, "x.*");
    h_pump(h);
    EXPECT_EVENT(cl, WSB_EV_SUBSCRIBED);
    h_send(cl, &(struct wsb_request){.op = WSB_OP_SUB, .topic = S("x.*"), .has_id = true, .id = 2});
    e = EXPECT_ERROR(cl, WSB_ERR_ALREADY_SUBSCRIBED);
    assert_int_equal(e->id, 2);
    assert_true(ws_str_eq(e->op, "sub"));
    /* another topic string for overlapping topics is another subscription */
    h_sub(cl, "x.y");
    h_pump(h);
    const struct wsb_event *a = EXPECT_EVENT(cl, WSB_EV_SUBSCRIBED);
    const struct wsb_event *b = EXPECT_EVENT(cl, WSB_EV_SUBSCRIBED);
    if (ws_str_eq(a->topic, "x.*")) { /* the new topic meets the pattern first */
        const struct wsb_event *tmp = a;
        a = b;
        b = tmp;
    }
    assert_true(ws_str_eq(a->topic, "x.y") && ws_str_eq(a->match, "x.y"));
    assert_true(ws_str_eq(b->topic, "x.*") && ws_str_eq(b->match, "x.y"));
    EXPECT_NOTHING(cl);
}

static void test_sixteen_errors_close(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 0);
    for (int i = 1; i <= 15; i++) {
        h_send(cl, &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = S("none")});
        EXPECT_ERROR(cl, WSB_ERR_NOT_SUBSCRIBED);
        assert_int_equal(cl->c->state, CONN_OPEN);
    }
    h_send(cl, &(struct wsb_request){.op = WSB_OP_UNSUB, .topic = S("none")});
    EXPECT_ERROR(cl, WSB_ERR_NOT_SUBSCRIBED);
    EXPECT_CLOSE(cl, WS_CLOSE_POLICY_VIOLATION, "too many protocol errors");
    EXPECT_NOTHING(cl);
    assert_int_not_equal(cl->c->state, CONN_OPEN);
    h_send(cl, &(struct wsb_request){.op = WSB_OP_PING}); /* ignored from now on */
    EXPECT_NOTHING(cl);
}

/* docs/protocol.md 4.4: a pub with an id that fails validation is answered
 * with reject; without an id, with error. */
static void test_invalid_pub_with_id_is_rejected(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 0);
    struct h_data d;
    h_send(cl, &(struct wsb_request){.op = WSB_OP_PUB,
                                     .topic = S("md.*"),
                                     .data = h_data_u64(&d, 1),
                                     .has_id = true,
                                     .id = 12,
                                     .confirm = true});
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_REJECT);
    assert_true(e->has_id);
    assert_int_equal(e->id, 12);
    assert_int_equal(e->code, WSB_ERR_BAD_TOPIC);
    h_send(cl,
           &(struct wsb_request){.op = WSB_OP_PUB, .topic = S("md.*"), .data = h_data_u64(&d, 1)});
    e = EXPECT_ERROR(cl, WSB_ERR_BAD_TOPIC);
    assert_false(e->has_id);
    assert_true(ws_str_eq(e->op, "pub"));
    h_pump(h);
    EXPECT_NOTHING(cl);
    assert_int_equal(atomic_load(&h->broker.topics), 0); /* nothing was sequenced */
}

static void test_ping_pong(void **state)
{
    struct harness *h = *state;
    struct h_client *cl = h_client(h, 1);
    h_send(cl, &(struct wsb_request){.op = WSB_OP_PING, .has_id = true, .id = 42});
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_PONG);
    assert_true(e->has_id);
    assert_int_equal(e->id, 42);
    EXPECT_NOTHING(cl);
}

/* --- the topic limit ----------------------------------------------------------------------- */

static void test_topic_limit_rejects_confirmed_publish(void **state)
{
    struct harness *h = *state;
    h->cfg.max_topics = 1;
    struct h_client *pub = h_client(h, 0);
    h_pub_confirm(pub, "lim.a", 1, 1);
    h_pub_confirm(pub, "lim.b", 2, 2);
    h_pump(h);
    /* lim.a and lim.b may have different owners: answers in either order */
    for (int i = 0; i < 2; i++) {
        const struct h_frame *f = h_next_frame(pub, __FILE__, __LINE__);
        assert_int_equal(f->decode, WSB_OK);
        if (f->ev.kind == WSB_EV_CONFIRM) {
            assert_int_equal(f->ev.id, 1);
            assert_int_equal(f->ev.seq, 1);
        } else {
            assert_int_equal(f->ev.kind, WSB_EV_REJECT);
            assert_int_equal(f->ev.id, 2);
            assert_int_equal(f->ev.code, WSB_ERR_OVERLOADED);
        }
    }
    EXPECT_NOTHING(pub);
}

/* docs/protocol.md 5: `ref` is the request's id "when it had one". */
static void test_topic_limit_error_without_id(void **state)
{
    struct harness *h = *state;
    h->cfg.max_topics = 1;
    struct h_client *pub = h_client(h, 0);
    h_pub_range(pub, "lim.a", 1, 1);
    h_pub_range(pub, "lim.b", 1, 1);
    const struct wsb_event *e = EXPECT_ERROR(pub, WSB_ERR_OVERLOADED);
    assert_true(ws_str_eq(e->op, "pub"));
    if (e->has_id)
        fail_msg("error for a pub without id carries ref=%llu", (unsigned long long)e->id);
    EXPECT_NOTHING(pub);
}

/* docs/protocol.md 5: errors are never silently dropped - a subscription the
 * broker cannot attach (topic limit) must be answered with an error. */
static void test_topic_limit_subscribe_reports_error(void **state)
{
    struct harness *h = *state;
    h->cfg.max_topics = 1;
    struct h_client *cl = h_client(h, 0);
    h_sub(cl, "lim.a");
    h_pump(h);
    EXPECT_SUBSCRIBED(cl, "lim.a", "lim.a", 0, 1);
    h_send(cl,
           &(struct wsb_request){.op = WSB_OP_SUB, .topic = S("lim.b"), .has_id = true, .id = 8});
    h_pump(h);
    const struct wsb_event *e = EXPECT_EVENT(cl, WSB_EV_ERROR);
    assert_true(e->has_id);
    assert_int_equal(e->id, 8);
    EXPECT_NOTHING(cl);
}

/* A fire-and-forget publish refused at the topic limit is answered to its
 * session - which must still exist when the answer arrives, even if the
 * connection closed meanwhile. */
static void test_topic_limit_error_after_close(void **state)
{
    struct harness *h = *state;
    h->cfg.max_topics = 1;
    struct h_client *first = h_client(h, 0);
    h_pub_range(first, "lim.a", 1, 1);
    struct h_client *pub = h_client(h, 0);
    h_pub(pub, "lim.b", 1);
    conn_abort(pub->c, NULL); /* gone before the owner answers */
    h_pump(h);
    EXPECT_NOTHING(first);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
#define T2(f) cmocka_unit_test_setup_teardown(f, h_setup2, h_teardown)
#define T3(f) cmocka_unit_test_setup_teardown(f, h_setup3, h_teardown)
    const struct CMUnitTest tests[] = {
        T2(test_seqs_start_at_one_per_topic),
        T2(test_cross_worker_fan_out_exactly_once),
        T3(test_order_through_mailbox_overflow),
        T2(test_confirm_carries_seq),
        T2(test_duplicate_id_sequenced_once),
        T2(test_dedup_remembers_4096_ids),
        T2(test_wildcard_star_existing_and_new_topics),
        T3(test_wildcard_tail_and_overlap),
        T2(test_pattern_subscribed_has_no_match),
        T2(test_resume_from_middle_no_dup_at_seam),
        T2(test_resume_at_or_past_head),
        T2(test_resume_before_retention_gap_first),
        T2(test_resume_applies_to_every_pattern_match),
        T2(test_snapshot_latest_first),
        T2(test_replay_range),
        T2(test_replay_before_retention),
        T2(test_retention_by_count),
        T2(test_retention_by_bytes),
        T2(test_retention_by_age),
        T2(test_unsub_stops_delivery),
        T2(test_manual_ack_window),
        T2(test_batched_deliveries_keep_the_order_across_topics),
        T2(test_ack_beyond_delivered),
        T2(test_retransmit_backoff),
        T2(test_retransmit_across_the_32_bit_wrap),
        T2(test_in_step_waited_messages_are_due_from_their_send),
        T2(test_in_step_log_keeps_what_is_unacked),
        T2(test_in_step_unsubscribe_with_messages_waiting),
        T2(test_in_step_log_gives_back_acked_frames),
        T2(test_slow_consumer_drop_then_gap),
        T2(test_slow_consumer_conflate),
        T2(test_slow_consumer_threshold_is_more_than),
        T2(test_slow_manual_ack_drop),
        T2(test_slow_manual_ack_conflate),
        T2(test_error_hello_required),
        T2(test_error_duplicate_hello),
        T2(test_error_unknown_op),
        T2(test_error_text_message),
        T2(test_error_not_and_already_subscribed),
        T2(test_sixteen_errors_close),
        T2(test_invalid_pub_with_id_is_rejected),
        T2(test_ping_pong),
        T2(test_topic_limit_rejects_confirmed_publish),
        T2(test_topic_limit_error_without_id),
        T2(test_topic_limit_subscribe_reports_error),
        T2(test_slow_consumer_disconnect),
        /* last: a use-after-free in the broker aborts an ASan run here */
        T2(test_topic_limit_error_after_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * wsb_client.h - the C client library of wsbroker (protocol v1,
 * docs/protocol.md; usage in docs/clients.md).
 *
 * One struct wsb_client is one logical connection to a broker over ws:// or
 * wss://, built on proto/ (frames, handshake accept key, envelopes). It
 * subscribes with a callback per subscription, publishes with or without a
 * confirm, acks, and - when reconnect is on - survives a lost connection:
 * it reconnects with backoff, says `hello` with its earlier session (so
 * confirmed publishes stay de-duplicated), re-sends an unconfirmed publish
 * with its original id, and re-subscribes every subscription from the last
 * seq it delivered of each topic, dropping any duplicate by (topic, seq).
 *
 * Threading: none inside. A client belongs to one thread; the application
 * drives it with wsb_client_poll() (or any blocking call), and callbacks run
 * on that thread from inside those calls. From a callback the application
 * may call wsb_client_publish() and wsb_client_ack(); the blocking calls
 * (subscribe, publish_confirm, poll) return WSB_CLIENT_ERR_ARG there.
 *
 * Memory: every pointer in a struct handed to a callback is borrowed until
 * the callback returns. Strings passed in are copied where kept.
 */
#ifndef WSB_CLIENT_H
#define WSB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wsb_client_status {
    WSB_CLIENT_OK = 0,
    WSB_CLIENT_ERR_ARG,      /* a bad argument or URL; also a blocking call from a callback */
    WSB_CLIENT_ERR_CONNECT,  /* name resolution, TCP connect, or an HTTP refusal of the upgrade */
    WSB_CLIENT_ERR_TLS,      /* TLS setup (CA/cert files) or the TLS handshake */
    WSB_CLIENT_ERR_TIMEOUT,  /* the call's deadline passed */
    WSB_CLIENT_ERR_CLOSED,   /* the connection ended (and reconnect is off or gave up) */
    WSB_CLIENT_ERR_PROTOCOL, /* the broker sent something this client cannot read */
    WSB_CLIENT_ERR_REJECTED, /* the broker refused the request (error / reject envelope) */
    WSB_CLIENT_ERR_NO_MEMORY,
};

/* "ok", "bad argument", ... */
const char *wsb_client_status_name(enum wsb_client_status st);

/* Things the application may want to know that are not messages. */
enum wsb_notice_kind {
    WSB_NOTICE_GAP = 1,      /* seqs from..to of topic will not be delivered */
    WSB_NOTICE_DISCONNECTED, /* text says why; a reconnect follows when enabled */
    WSB_NOTICE_RECONNECTED,  /* the session is back and every subscription resumed */
    WSB_NOTICE_ERROR,        /* an error envelope not tied to a call in progress */
};

struct wsb_notice {
    enum wsb_notice_kind kind;
    const char *topic; /* GAP: the topic (NUL-terminated, borrowed) */
    uint64_t from, to; /* GAP */
    uint64_t code;     /* ERROR: docs/protocol.md section 5 */
    const char *text;  /* DISCONNECTED / ERROR: a sentence (borrowed) */
};

typedef void (*wsb_notice_fn)(void *user, const struct wsb_notice *n);

struct wsb_client_config {
    const char *url;       /* ws://host[:port][/path] or wss://...; path defaults to /v1 */
    const char *token;     /* NULL: none. Sent as Authorization: Bearer and as hello.token */
    const char *name;      /* hello.name, NULL: none (<= 64 bytes) */
    const char *ca_file;   /* wss: CA certificates to trust; NULL: the system store */
    const char *cert_file; /* wss: client certificate (PEM), with key_file */
    const char *key_file;
    int timeout_ms;           /* connect + handshake + hello, and each blocking call; 0: 5000 */
    bool reconnect;           /* reconnect automatically when the connection is lost */
    int reconnect_max_ms;     /* backoff cap (starts at 50 ms, doubles); 0: 2000 */
    int reconnect_give_up_ms; /* stop trying after this long; 0: never */
    wsb_notice_fn on_notice;  /* may be NULL */
    void *notice_user;
};

/* One delivered message. */
struct wsb_message {
    const char *topic; /* NUL-terminated */
    size_t topic_len;
    uint64_t seq;
    uint64_t ts;         /* broker's sequencing time, ns since the Unix epoch */
    const uint8_t *data; /* the publisher's msgpack value, raw bytes */
    size_t data_len;
    bool redelivered; /* never true in practice: duplicates are dropped */
};

typedef void (*wsb_message_fn)(void *user, const struct wsb_message *m);

struct wsb_sub_options {
    bool has_from; /* resume: deliver seqs > from (exact topics and patterns) */
    uint64_t from;
    bool manual_ack; /* ack "manual": call wsb_client_ack() */
    uint32_t window; /* 0: the broker's default (1000) */
    bool snapshot;   /* the latest retained message first */
    int policy;      /* enum wsb_policy of proto/envelope.h; 0 = drop */
};

struct wsb_client;

/* Connects (TCP, TLS, upgrade, hello/welcome) within cfg->timeout_ms. On
 * failure *out is NULL and why (when not NULL) holds a sentence. The config's
 * strings are copied. */
enum wsb_client_status wsb_client_connect(const struct wsb_client_config *cfg,
                                          struct wsb_client **out, char *why, size_t why_cap);

/* Subscribes to a topic or pattern and waits for the broker to confirm it.
 * on_message runs for every message of every topic it matches. */
enum wsb_client_status wsb_client_subscribe(struct wsb_client *c, const char *topic,
                                            const struct wsb_sub_options *opt,
                                            wsb_message_fn on_message, void *user);

/* Fire-and-forget publish of one msgpack value (data, len: raw msgpack
 * bytes; the caller makes sure they hold exactly one value). */
enum wsb_client_status wsb_client_publish(struct wsb_client *c, const char *topic,
                                          const uint8_t *data, size_t len);

/* Publishes and waits for the broker's confirm; *seq (may be NULL) receives
 * the seq it got. Across a reconnect it is re-sent with the same id and the
 * same session, so it is sequenced once. WSB_CLIENT_ERR_REJECTED with the
 * reason in wsb_client_last_error() when the broker refused it. */
enum wsb_client_status wsb_client_publish_confirm(struct wsb_client *c, const char *topic,
                                                  const uint8_t *data, size_t len, uint64_t *seq);

/* Waits until the broker has handled everything sent so far (a ping / pong
 * round trip): after it, every error about earlier fire-and-forget publishes
 * has reached on_notice. */
enum wsb_client_status wsb_client_flush(struct wsb_client *c);

/* Acknowledges every message of topic up to seq (manual-ack subscriptions). */
enum wsb_client_status wsb_client_ack(struct wsb_client *c, const char *topic, uint64_t seq);

/* Waits up to timeout_ms (0: only what is already there) for broker
 * envelopes and runs the callbacks. Reconnects when needed and enabled. */
enum wsb_client_status wsb_client_poll(struct wsb_client *c, int timeout_ms);

/* The last error's sentence ("" when none). Valid until the next call. */
const char *wsb_client_last_error(const struct wsb_client *c);

/* The broker's session id ("" before welcome). */
const char *wsb_client_session(const struct wsb_client *c);

/* Counts since wsb_client_connect. */
struct wsb_client_stats {
    uint64_t delivered;  /* messages handed to callbacks (per subscription) */
    uint64_t duplicates; /* dropped by (topic, seq) */
    uint64_t reconnects;
    uint64_t gaps; /* gap notices */
};
void wsb_client_stats(const struct wsb_client *c, struct wsb_client_stats *st);

/* Cuts the TCP connection without a goodbye, as a network failure would
 * (for tests and demos of reconnect). The next call notices. */
void wsb_client_drop_connection(struct wsb_client *c);

/* Closes the connection (WebSocket close 1000) and frees everything. */
void wsb_client_close(struct wsb_client *c);

#endif

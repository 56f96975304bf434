/*
 * config.h - every setting of the broker, with its default, in one struct.
 *
 * Settings come from the embedded defaults, then a config file (--config,
 * `key = value` lines whose keys are the long flag names), then command-line
 * flags. Every limit the broker enforces is a named field here.
 */
#ifndef WSB_CONFIG_H
#define WSB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "envelope.h"
#include "log.h"

#define CONFIG_MAX_LISTENERS       16
#define CONFIG_MAX_RETENTION_RULES 64
#define CONFIG_MAX_POLICY_RULES    64

/* How much of a topic's log is kept, for topics matching pattern. */
struct retention_rule {
    char pattern[256];
    uint64_t messages; /* 0: no count limit */
    uint64_t bytes;    /* 0: no byte limit */
    uint64_t age_ms;   /* 0: no age limit */
};

/* The slow-consumer policy of subscriptions that do not name one. */
struct policy_rule {
    char pattern[256];
    enum wsb_policy policy;
};

/* Who may do what without a token (docs/configuration.md, "Authentication"). */
enum anonymous_access {
    ANONYMOUS_UNSET, /* not configured: "off", or everything in development mode */
    ANONYMOUS_OFF,   /* a token is required */
    ANONYMOUS_READ,  /* subscribe and replay, no publish */
};

struct listen_addr {
    char text[80]; /* as given, normalised for logs: 127.0.0.1:8080, [::1]:8080 */
    bool tls;      /* wss:// */
    bool metrics;  /* the metrics-listen address: plain HTTP probes and /metrics only */
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

struct broker_config {
    struct listen_addr listeners[CONFIG_MAX_LISTENERS];
    unsigned listener_count;
    unsigned workers;             /* 0 before resolution: one per online CPU */
    bool echo;                    /* serve /echo */
    uint64_t max_message;         /* bytes in one message, all fragments */
    uint64_t max_connections;     /* over the whole broker */
    uint64_t max_handshake_bytes; /* request line + headers */
    uint64_t handshake_timeout_ms;
    uint64_t ping_interval_ms;  /* ping a connection silent this long */
    uint64_t idle_timeout_ms;   /* close a connection silent this long */
    uint64_t close_timeout_ms;  /* wait for the peer's close reply / FIN */
    uint64_t send_queue_bytes;  /* per connection; above it, stop reading */
    uint64_t drain_timeout_ms;  /* on SIGTERM */
    uint64_t recv_buffer_bytes; /* size of each provided receive buffer */
    uint64_t recv_buffer_count; /* provided receive buffers per worker */
    enum log_level log_level;

    /* pub/sub (docs/protocol.md) */
    uint64_t max_envelope;        /* bytes in one envelope */
    uint64_t max_subscriptions;   /* per connection */
    uint64_t max_window;          /* largest manual-ack window */
    uint64_t max_topics;          /* topics over the whole broker */
    uint64_t max_errors;          /* protocol errors before close 1008 */
    uint64_t ack_timeout_ms;      /* first retransmission of an un-acked message */
    uint64_t ack_backoff_max_ms;  /* cap of the doubling retransmission interval */
    uint64_t sub_queue;           /* messages waiting per manual-ack subscription */
    uint64_t slow_consumer_bytes; /* a connection's queued bytes that make it slow */
    uint64_t xring_entries;       /* slots in each worker-to-worker ring */
    struct retention_rule retention[CONFIG_MAX_RETENTION_RULES];
    /* wss:// */
    char tls_cert[256];       /* PEM certificate chain */
    char tls_key[256];        /* PEM private key */
    char tls_ca[256];         /* PEM CA certificates for client verification */
    char tls_ciphers[512];    /* wolfSSL cipher list; empty: wolfSSL's default */
    bool tls_verify_client;   /* mTLS: require a client certificate from tls_ca */
    unsigned tls_min_version; /* 12 or 13 */
    unsigned retention_count; /* the last rule is the default, pattern ">" */
    /* operations: metrics, probes, logs, privileges (docs/deploy.md) */
    struct listen_addr metrics_listen; /* addr_len 0: none (ops endpoints on every listener) */
    enum log_format log_format;
    uint64_t stall_timeout_ms; /* /healthz: a worker loop silent this long is stalled */
    char user[64];             /* drop to this user after binding (empty: stay) */
    char group[64];            /* and this group (empty: the user's) */

    /* slow-consumer policy per topic pattern, first match wins; else drop */
    struct policy_rule policies[CONFIG_MAX_POLICY_RULES];
    unsigned policy_count;

    /* authentication and authorisation (broker/auth.h) */
    char auth_tokens[256];      /* static token file; empty: none */
    char jwt_hs256_secret[256]; /* file holding the HS256 secret; empty: none */
    char jwt_es256_key[256];    /* PEM public key (P-256) for ES256; empty: none */
    enum anonymous_access anonymous;

    /* abuse limits */
    uint64_t max_connections_per_ip; /* 0: no limit */
    uint64_t publish_rate;           /* publishes per second per connection; 0: no limit */
    uint64_t publish_burst;          /* bucket size; 0: the same as publish_rate */

    bool check_config; /* --check-config: validate, report, exit */

    /* publisher back-pressure (docs/protocol.md 4.4): stop reading publishers
     * while a worker's fan-out is backlogged */
    bool publisher_backpressure;
    uint64_t publisher_hold_max_ms; /* longest hold before publishers are read anyway */
};

enum config_result { CONFIG_OK, CONFIG_HELP, CONFIG_ERROR };

void config_init_defaults(struct broker_config *cfg);

/*
 * Applies a config file (if --config is given) and then the flags in argv.
 * On CONFIG_ERROR, err holds a message naming the offending flag or line.
 */
enum config_result config_parse_args(struct broker_config *cfg, int argc, char **argv, char *err,
                                     size_t err_len);

/* True when some listener is wss://. */
bool config_has_tls(const struct broker_config *cfg);

/* Parses ADDR:PORT (IPv4, [IPv6] or a name resolving to one) into out. */
int config_parse_listen(const char *text, struct listen_addr *out, char *err, size_t err_len);

void config_print_help(const char *prog);

/* True when some authentication method (token file, JWT key) is set. */
bool config_has_auth(const struct broker_config *cfg);

/* True when every listener is on a loopback address. */
bool config_loopback_only(const struct broker_config *cfg);

/* Development mode: no auth method, anonymous unset, loopback listeners only:
 * every client may do everything. */
bool config_dev_mode(const struct broker_config *cfg);

/* The default policy for a subscription to topic (or pattern): the first
 * rule whose pattern covers it (topic_pattern_covers), else drop. */
enum wsb_policy config_policy_for(const struct broker_config *cfg, struct ws_str topic);

/* The retention rule for a topic: the first configured pattern it matches. */
const struct retention_rule *config_retention_for(const struct broker_config *cfg,
                                                  const char *topic, size_t len);

#endif

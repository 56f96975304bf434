/*
 * config.c - the option table and the parsers for flags and config files.
 *
 * One table describes every option once: its name (the long flag and the
 * config-file key), its kind, where it lives in struct broker_config, its
 * bounds and its help text. Flags, the config file and --help all read it.
 */
#include "config.h"

#include "topic.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum option_kind {
    OPT_UINT,
    OPT_ONOFF,
    OPT_FLAG, /* no value on the command line; on|off in a file */
    OPT_LISTEN_TLS,
    OPT_STRING,
    OPT_TLS_VERSION,
    OPT_LISTEN,
    OPT_LEVEL,
    OPT_RETENTION,
    OPT_POLICY,
    OPT_ANONYMOUS,
    OPT_CONFIG,
    OPT_HELP,
    OPT_METRICS_LISTEN,
    OPT_LOG_FORMAT
};

struct option_spec {
    const char *name;
    enum option_kind kind;
    size_t offset;
    uint64_t min, max;
    const char *arg, *help;
};

#define FIELD(f) offsetof(struct broker_config, f)
#define MIB      (1024ull * 1024ull)
/* Room for frame headers and control frames on top of one whole message. */
#define SEND_QUEUE_SLACK (64 * 1024)

static const struct option_spec options[] = {
    {"config", OPT_CONFIG, 0, 0, 0, "FILE", "read settings from FILE (key = value lines)"},
    {"listen", OPT_LISTEN, 0, 0, 0, "ADDR:PORT",
     "listen for ws:// on ADDR:PORT; repeatable (default 127.0.0.1:8080)"},
    {"listen-tls", OPT_LISTEN_TLS, 0, 0, 0, "ADDR:PORT",
     "listen for wss:// on ADDR:PORT; repeatable (needs --tls-cert and --tls-key)"},
    {"tls-cert", OPT_STRING, FIELD(tls_cert), 0, sizeof(((struct broker_config *)0)->tls_cert),
     "FILE", "PEM certificate chain for wss:// (reloaded on SIGHUP)"},
    {"tls-key", OPT_STRING, FIELD(tls_key), 0, sizeof(((struct broker_config *)0)->tls_key), "FILE",
     "PEM private key for wss:// (reloaded on SIGHUP)"},
    {"tls-ca", OPT_STRING, FIELD(tls_ca), 0, sizeof(((struct broker_config *)0)->tls_ca), "FILE",
     "PEM CA certificates that client certificates must chain to"},
    {"tls-verify-client", OPT_FLAG, FIELD(tls_verify_client), 0, 1, NULL,
     "require a client certificate signed by --tls-ca (mTLS)"},
    {"tls-min-version", OPT_TLS_VERSION, FIELD(tls_min_version), 0, 0, "1.2|1.3",
     "oldest TLS version accepted (default 1.2; 1.3 is preferred when both sides have it)"},
    {"tls-ciphers", OPT_STRING, FIELD(tls_ciphers), 0,
     sizeof(((struct broker_config *)0)->tls_ciphers), "LIST",
     "cipher suites, wolfSSL/OpenSSL syntax (default: wolfSSL's)"},
    {"workers", OPT_UINT, FIELD(workers), 1, 1024, "N", "worker threads (default: online CPUs)"},
    {"echo", OPT_ONOFF, FIELD(echo), 0, 1, "on|off", "serve the /echo endpoint (default on)"},
    {"max-message", OPT_UINT, FIELD(max_message), 1, 1024 * MIB, "BYTES",
     "largest message accepted, all fragments together (default 16777216)"},
    {"max-connections", OPT_UINT, FIELD(max_connections), 1, 10000000, "N",
     "open connections over the whole broker (default 100000)"},
    {"max-handshake-bytes", OPT_UINT, FIELD(max_handshake_bytes), 256, 1 * MIB, "BYTES",
     "largest HTTP upgrade request (default 8192)"},
    {"handshake-timeout", OPT_UINT, FIELD(handshake_timeout_ms), 1, 3600000, "MS",
     "time allowed to complete the opening handshake (default 10000)"},
    {"ping-interval", OPT_UINT, FIELD(ping_interval_ms), 1, 3600000, "MS",
     "ping a connection that has been silent this long (default 30000)"},
    {"idle-timeout", OPT_UINT, FIELD(idle_timeout_ms), 1, 86400000, "MS",
     "close a connection silent this long (default 60000)"},
    {"close-timeout", OPT_UINT, FIELD(close_timeout_ms), 1, 600000, "MS",
     "wait this long for the peer to finish the close handshake (default 2000)"},
    {"send-queue", OPT_UINT, FIELD(send_queue_bytes), 4096, 4096 * MIB, "BYTES",
     "per-connection outbound queue; above it the broker stops reading (default 33554432)"},
    {"drain-timeout", OPT_UINT, FIELD(drain_timeout_ms), 0, 600000, "MS",
     "on SIGTERM, wait this long for clients to close (default 5000)"},
    {"recv-buffer-size", OPT_UINT, FIELD(recv_buffer_bytes), 1024, 1 * MIB, "BYTES",
     "size of each receive buffer (default 32768)"},
    {"recv-buffers", OPT_UINT, FIELD(recv_buffer_count), 8, 32768, "N",
     "receive buffers per worker, a power of two (default 256)"},
    {"log-level", OPT_LEVEL, FIELD(log_level), 0, 0, "LEVEL", "debug, info, warn or error"},
    {"max-envelope", OPT_UINT, FIELD(max_envelope), 64, 64 * MIB, "BYTES",
     "largest pub/sub envelope (default 1048576)"},
    {"max-subscriptions", OPT_UINT, FIELD(max_subscriptions), 1, 1000000, "N",
     "subscriptions per connection (default 1000)"},
    {"max-window", OPT_UINT, FIELD(max_window), 1, 1000000, "N",
     "largest manual-ack window a subscriber may ask for (default 65536)"},
    {"max-topics", OPT_UINT, FIELD(max_topics), 1, 100000000, "N",
     "topics over the whole broker (default 100000)"},
    {"max-errors", OPT_UINT, FIELD(max_errors), 1, 1000000, "N",
     "protocol errors on one connection before it is closed with 1008 (default 16)"},
    {"ack-timeout", OPT_UINT, FIELD(ack_timeout_ms), 1, 3600000, "MS",
     "first retransmission of an un-acked message (default 1000)"},
    {"ack-backoff-max", OPT_UINT, FIELD(ack_backoff_max_ms), 1, 3600000, "MS",
     "longest interval between retransmissions (default 30000)"},
    {"sub-queue", OPT_UINT, FIELD(sub_queue), 1, 100000000, "N",
     "messages waiting beyond a manual-ack window, per subscription (default 10000)"},
    {"slow-consumer-bytes", OPT_UINT, FIELD(slow_consumer_bytes), 1024, 4096 * MIB, "BYTES",
     "queued bytes that make a subscriber slow: its policy applies (default 1048576)"},
    {"xring-entries", OPT_UINT, FIELD(xring_entries), 64, 1048576, "N",
     "slots in each worker-to-worker ring, a power of two (default 4096)"},
    {"retention", OPT_RETENTION, 0, 0, 0, "'PATTERN [messages=N] [bytes=N] [age=MS]'",
     "retention for matching topics; repeatable, first match wins "
     "(default '> messages=10000 bytes=67108864')"},
    {"metrics-listen", OPT_METRICS_LISTEN, 0, 0, 0, "ADDR:PORT",
     "serve /metrics /healthz /readyz only here, plain HTTP (default: on every listener)"},
    {"log-format", OPT_LOG_FORMAT, FIELD(log_format), 0, 0, "text|json",
     "log lines as text or as JSON objects, one per line (default text)"},
    {"stall-timeout", OPT_UINT, FIELD(stall_timeout_ms), 100, 3600000, "MS",
     "/healthz fails when a worker's loop has not come round for this long (default 5000)"},
    {"user", OPT_STRING, FIELD(user), 0, sizeof(((struct broker_config *)0)->user), "NAME",
     "drop to this user after binding listeners and reading certificates"},
    {"group", OPT_STRING, FIELD(group), 0, sizeof(((struct broker_config *)0)->group), "NAME",
     "with --user: drop to this group (default: the user's primary group)"},
    {"policy", OPT_POLICY, 0, 0, 0, "'PATTERN drop|conflate|disconnect'",
     "slow-consumer policy of subscriptions covered by PATTERN that name none; repeatable, "
     "first match wins (default drop)"},
    {"auth-tokens", OPT_STRING, FIELD(auth_tokens), 0,
     sizeof(((struct broker_config *)0)->auth_tokens), "FILE",
     "static tokens and their rights, one per line (reloaded on SIGHUP)"},
    {"jwt-hs256-secret", OPT_STRING, FIELD(jwt_hs256_secret), 0,
     sizeof(((struct broker_config *)0)->jwt_hs256_secret), "FILE",
     "accept JWTs signed with HS256 and the secret in FILE (reloaded on SIGHUP)"},
    {"jwt-es256-key", OPT_STRING, FIELD(jwt_es256_key), 0,
     sizeof(((struct broker_config *)0)->jwt_es256_key), "FILE",
     "accept JWTs signed with ES256 by the P-256 public key in FILE (PEM; reloaded on SIGHUP)"},
    {"anonymous", OPT_ANONYMOUS, FIELD(anonymous), 0, 0, "off|read",
     "what clients without a token may do: nothing, or subscribe (default off)"},
    {"max-connections-per-ip", OPT_UINT, FIELD(max_connections_per_ip), 0, 10000000, "N",
     "open connections from one IP address; over it: HTTP 429 (default 0: no limit)"},
    {"publish-rate", OPT_UINT, FIELD(publish_rate), 0, 100000000, "N",
     "publishes per second per connection; over it: error 17 (default 0: no limit)"},
    {"publish-burst", OPT_UINT, FIELD(publish_burst), 0, 100000000, "N",
     "publishes a connection may send at once above publish-rate (default 0: publish-rate)"},
    {"publisher-backpressure", OPT_ONOFF, FIELD(publisher_backpressure), 0, 1, "on|off",
     "stop reading publishers while most subscribers of a worker are behind (default on)"},
    {"publisher-hold-max", OPT_UINT, FIELD(publisher_hold_max_ms), 1, 3600000, "MS",
     "longest publisher back-pressure hold; then publishers are read as long again (default 1000)"},
    {"check-config", OPT_FLAG, FIELD(check_config), 0, 1, NULL,
     "check the configuration and the files it names, then exit (0: valid)"},
    {"help", OPT_HELP, 0, 0, 0, NULL, "print this help and exit"},
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

void config_init_defaults(struct broker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->workers = 0;
    cfg->echo = true;
    cfg->max_message = 16 * MIB;
    cfg->max_connections = 100000;
    cfg->max_handshake_bytes = 8192;
    cfg->handshake_timeout_ms = 10000;
    cfg->ping_interval_ms = 30000;
    cfg->idle_timeout_ms = 60000;
    cfg->close_timeout_ms = 2000;
    cfg->send_queue_bytes = 32 * MIB;
    cfg->drain_timeout_ms = 5000;
    cfg->recv_buffer_bytes = 32768;
    cfg->recv_buffer_count = 256;
    cfg->log_level = LOG_INFO;
    cfg->max_envelope = 1 * MIB;
    cfg->max_subscriptions = 1000;
    cfg->max_window = 65536;
    cfg->max_topics = 100000;
    cfg->max_errors = 16;
    cfg->ack_timeout_ms = 1000;
    cfg->ack_backoff_max_ms = 30000;
    cfg->sub_queue = 10000;
    cfg->slow_consumer_bytes = 1 * MIB;
    cfg->xring_entries = 4096;
    cfg->retention_count = 0;
    cfg->tls_min_version = 12;
    cfg->log_format = LOG_FORMAT_TEXT;
    cfg->stall_timeout_ms = 5000;
    cfg->publisher_backpressure = true;
    cfg->publisher_hold_max_ms = 1000;
}

bool config_has_tls(const struct broker_config *cfg)
{
    for (unsigned i = 0; i < cfg->listener_count; i++) {
        if (cfg->listeners[i].tls)
            return true;
    }
    return false;
}

static const struct retention_rule default_retention = {">", 10000, 64 * MIB, 0};

static const struct option_spec *option_find(const char *name, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

int config_parse_listen(const char *text, struct listen_addr *out, char *err, size_t err_len)
{
    char host[64];
    const char *port_text;
    memset(out, 0, sizeof(*out));
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host)) {
            snprintf(err, err_len, "expected [IPV6]:PORT");
            return -1;
        }
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = '\0';
        port_text = end + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL || (size_t)(colon - text) >= sizeof(host) || colon == text) {
            snprintf(err, err_len, "expected ADDR:PORT");
            return -1;
        }
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(port_text, &end, 10);
    if (port_text[0] == '\0' || *end != '\0' || errno != 0 || port > 65535) {
        snprintf(err, err_len, "bad port '%s'", port_text);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, err_len, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
    out->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    char numeric[INET6_ADDRSTRLEN];
    if (out->addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&out->addr)->sin6_addr, numeric,
                  sizeof(numeric));
        snprintf(out->text, sizeof(out->text), "[%s]:%lu", numeric, port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&out->addr)->sin_addr, numeric, sizeof(numeric));
        snprintf(out->text, sizeof(out->text), "%s:%lu", numeric, port);
    }
    return 0;
}

static int parse_uint(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)text[0]))
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Parses "PATTERN [messages=N] [bytes=N] [age=MS]". */
static int parse_retention(const char *text, struct retention_rule *rule, char *why, size_t len)
{
    *rule = default_retention;
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", text);
    char *save = NULL;
    char *word = strtok_r(copy, " \t", &save);
    if (word == NULL || topic_classify((struct ws_str){word, strlen(word)}) == TOPIC_INVALID) {
        snprintf(why, len, "expected a topic pattern first");
        return -1;
    }
    snprintf(rule->pattern, sizeof(rule->pattern), "%s", word);
    while ((word = strtok_r(NULL, " \t", &save)) != NULL) {
        char *eq = strchr(word, '=');
        uint64_t v;
        if (eq == NULL || parse_uint(eq + 1, &v) != 0) {
            snprintf(why, len, "expected messages=N, bytes=N or age=MS, got '%s'", word);
            return -1;
        }
        *eq = '\0';
        if (strcmp(word, "messages") == 0)
            rule->messages = v;
        else if (strcmp(word, "bytes") == 0)
            rule->bytes = v;
        else if (strcmp(word, "age") == 0)
            rule->age_ms = v;
        else {
            snprintf(why, len, "unknown limit '%s' (messages, bytes or age)", word);
            return -1;
        }
    }
    return 0;
}

const struct retention_rule *config_retention_for(const struct broker_config *cfg,
                                                  const char *topic, size_t len)
{
    struct ws_str t = {topic, len};
    for (unsigned i = 0; i < cfg->retention_count; i++) {
        const struct retention_rule *r = &cfg->retention[i];
        if (topic_matches((struct ws_str){r->pattern, strlen(r->pattern)}, t))
            return r;
    }
    return &default_retention;
}

static const char *const policy_names[] = {"drop", "disconnect", "conflate"};

/* Parses "PATTERN drop|conflate|disconnect". */
static int parse_policy(const char *text, struct policy_rule *rule, char *why, size_t len)
{
    char pattern[256], name[32], extra[2];
    int n = sscanf(text, "%255s %31s %1s", pattern, name, extra);
    if (n < 1 || topic_classify((struct ws_str){pattern, strlen(pattern)}) == TOPIC_INVALID) {
        snprintf(why, len, "expected a topic pattern first");
        return -1;
    }
    if (n != 2) {
        snprintf(why, len, "expected 'PATTERN drop|conflate|disconnect'");
        return -1;
    }
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
        if (strcmp(name, policy_names[i]) == 0) {
            snprintf(rule->pattern, sizeof(rule->pattern), "%s", pattern);
            rule->policy = (enum wsb_policy)i;
            return 0;
        }
    }
    snprintf(why, len, "unknown policy '%s' (drop, conflate or disconnect)", name);
    return -1;
}

enum wsb_policy config_policy_for(const struct broker_config *cfg, struct ws_str topic)
{
    for (unsigned i = 0; i < cfg->policy_count; i++) {
        const struct policy_rule *r = &cfg->policies[i];
        if (topic_pattern_covers((struct ws_str){r->pattern, strlen(r->pattern)}, topic))
            return r->policy;
    }
    return WSB_POLICY_DROP;
}

bool config_has_auth(const struct broker_config *cfg)
{
    return cfg->auth_tokens[0] || cfg->jwt_hs256_secret[0] || cfg->jwt_es256_key[0];
}

static bool listen_addr_is_loopback(const struct listen_addr *l)
{
    if (l->addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&l->addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&l->addr)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6))
        return a6->s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(a6);
}

bool config_loopback_only(const struct broker_config *cfg)
{
    /* The metrics listener serves no WebSocket: it does not count. */
    for (unsigned i = 0; i < cfg->listener_count; i++) {
        if (!cfg->listeners[i].metrics && !listen_addr_is_loopback(&cfg->listeners[i]))
            return false;
    }
    return true;
}

bool config_dev_mode(const struct broker_config *cfg)
{
    return !config_has_auth(cfg) && cfg->anonymous == ANONYMOUS_UNSET && config_loopback_only(cfg);
}

/* Where a value came from, for error messages: a flag or a file line. */
struct origin {
    const char *file; /* NULL for the command line */
    unsigned line;
};

static void describe(const struct origin *o, const struct option_spec *opt, char *buf, size_t len)
{
    if (o->file)
        snprintf(buf, len, "%s:%u: %s", o->file, o->line, opt->name);
    else
        snprintf(buf, len, "--%s", opt->name);
}

static int option_apply(struct broker_config *cfg, const struct option_spec *opt, const char *value,
                        const struct origin *o, char *err, size_t err_len)
{
    char where[300];
    describe(o, opt, where, sizeof(where));
    char *field = (char *)cfg + opt->offset;
    switch (opt->kind) {
    case OPT_UINT: {
        uint64_t v;
        if (parse_uint(value, &v) != 0 || v < opt->min || v > opt->max) {
            snprintf(err, err_len,
                     "%s: invalid value '%s' (expected an integer %" PRIu64 "..%" PRIu64 ")", where,
                     value, opt->min, opt->max);
            return -1;
        }
        if (opt->offset == FIELD(workers))
            cfg->workers = (unsigned)v;
        else
            memcpy(field, &v, sizeof(v));
        return 0;
    }
    case OPT_ONOFF:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            snprintf(err, err_len, "%s: invalid value '%s' (expected on or off)", where, value);
            return -1;
        }
        *(bool *)field = strcmp(value, "on") == 0;
        return 0;
    case OPT_LEVEL:
        if (log_level_parse(value, (enum log_level *)field) != 0) {
            snprintf(err, err_len, "%s: invalid value '%s' (expected debug, info, warn or error)",
                     where, value);
            return -1;
        }
        return 0;
    case OPT_FLAG:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            snprintf(err, err_len, "%s: invalid value '%s' (expected on or off)", where, value);
            return -1;
        }
        *(bool *)field = strcmp(value, "on") == 0;
        return 0;
    case OPT_STRING:
        if (strlen(value) >= opt->max || value[0] == '\0') {
            snprintf(err, err_len, "%s: invalid value '%s' (empty or too long)", where, value);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_TLS_VERSION:
        if (strcmp(value, "1.2") != 0 && strcmp(value, "1.3") != 0) {
            snprintf(err, err_len, "%s: invalid value '%s' (expected 1.2 or 1.3)", where, value);
            return -1;
        }
        *(unsigned *)field = strcmp(value, "1.3") == 0 ? 13 : 12;
        return 0;
    case OPT_LISTEN:
    case OPT_LISTEN_TLS: {
        if (cfg->listener_count == CONFIG_MAX_LISTENERS) {
            snprintf(err, err_len, "%s: too many listeners (at most %d)", where,
                     CONFIG_MAX_LISTENERS);
            return -1;
        }
        char why[160];
        if (config_parse_listen(value, &cfg->listeners[cfg->listener_count], why, sizeof(why))) {
            snprintf(err, err_len, "%s: invalid value '%s': %s", where, value, why);
            return -1;
        }
        cfg->listeners[cfg->listener_count].tls = opt->kind == OPT_LISTEN_TLS;
        cfg->listener_count++;
        return 0;
    }
    case OPT_RETENTION: {
        if (cfg->retention_count == CONFIG_MAX_RETENTION_RULES) {
            snprintf(err, err_len, "%s: too many rules (at most %d)", where,
                     CONFIG_MAX_RETENTION_RULES);
            return -1;
        }
        char why[160];
        if (parse_retention(value, &cfg->retention[cfg->retention_count], why, sizeof(why))) {
            snprintf(err, err_len, "%s: invalid value '%s': %s", where, value, why);
            return -1;
        }
        cfg->retention_count++;
        return 0;
    }
    case OPT_METRICS_LISTEN: {
        char why[160];
        if (config_parse_listen(value, &cfg->metrics_listen, why, sizeof(why))) {
            snprintf(err, err_len, "%s: invalid value '%s': %s", where, value, why);
            return -1;
        }
        cfg->metrics_listen.metrics = true;
        return 0;
    }
    case OPT_LOG_FORMAT:
        if (log_format_parse(value, (enum log_format *)field) != 0) {
            snprintf(err, err_len, "%s: invalid value '%s' (expected text or json)", where, value);
            return -1;
        }
        return 0;
    case OPT_POLICY: {
        if (cfg->policy_count == CONFIG_MAX_POLICY_RULES) {
            snprintf(err, err_len, "%s: too many rules (at most %d)", where,
                     CONFIG_MAX_POLICY_RULES);
            return -1;
        }
        char why[160];
        if (parse_policy(value, &cfg->policies[cfg->policy_count], why, sizeof(why))) {
            snprintf(err, err_len, "%s: invalid value '%s': %s", where, value, why);
            return -1;
        }
        cfg->policy_count++;
        return 0;
    }
    case OPT_ANONYMOUS:
        if (strcmp(value, "off") != 0 && strcmp(value, "read") != 0) {
            snprintf(err, err_len, "%s: invalid value '%s' (expected off or read)", where, value);
            return -1;
        }
        cfg->anonymous = strcmp(value, "off") == 0 ? ANONYMOUS_OFF : ANONYMOUS_READ;
        return 0;
    case OPT_CONFIG:
    case OPT_HELP:
        break;
    }
    return 0;
}

/* The metrics listener joins the listeners every worker accepts on, last,
 * marked so that only probes and /metrics are served there. */
static int config_add_metrics_listener(struct broker_config *cfg, char *err, size_t err_len)
{
    if (cfg->metrics_listen.addr_len == 0)
        return 0;
    if (cfg->listener_count == CONFIG_MAX_LISTENERS) {
        snprintf(err, err_len, "--metrics-listen: too many listeners (at most %d in all)",
                 CONFIG_MAX_LISTENERS);
        return -1;
    }
    cfg->listeners[cfg->listener_count++] = cfg->metrics_listen;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int config_load_file(struct broker_config *cfg, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "--config: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    struct origin o = {path, 0};
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        o.line++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, err_len, "%s:%u: expected 'key = value'", path, o.line);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        const struct option_spec *opt = option_find(key, strlen(key));
        if (opt == NULL || opt->kind == OPT_CONFIG || opt->kind == OPT_HELP) {
            snprintf(err, err_len, "%s:%u: unknown setting '%s'", path, o.line, key);
            rc = -1;
            break;
        }
        rc = option_apply(cfg, opt, value, &o, err, err_len);
    }
    fclose(f);
    return rc;
}

/* Splits "--name=value" / "--name value"; returns the option or NULL. */
static const struct option_spec *flag_lookup(const char *arg, const char **inline_value)
{
    if (strncmp(arg, "--", 2) != 0)
        return NULL;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    *inline_value = eq ? eq + 1 : NULL;
    return option_find(name, eq ? (size_t)(eq - name) : strlen(name));
}

enum config_result config_parse_args(struct broker_config *cfg, int argc, char **argv, char *err,
                                     size_t err_len)
{
    /* First pass: --help and --config, so the file applies before the flags. */
    for (int i = 1; i < argc; i++) {
        const char *inline_value;
        const struct option_spec *opt = flag_lookup(argv[i], &inline_value);
        if (opt == NULL) {
            snprintf(err, err_len, "unknown option '%s' (see --help)", argv[i]);
            return CONFIG_ERROR;
        }
        if (opt->kind == OPT_HELP)
            return CONFIG_HELP;
        const char *value = inline_value;
        if (value == NULL && opt->kind == OPT_FLAG)
            continue;
        if (value == NULL) {
            if (i + 1 >= argc) {
                snprintf(err, err_len, "--%s: missing value", opt->name);
                return CONFIG_ERROR;
            }
            value = argv[++i];
        }
        if (opt->kind == OPT_CONFIG && config_load_file(cfg, value, err, err_len) != 0)
            return CONFIG_ERROR;
    }
    /* Listeners on the command line replace those from the file. */
    bool cli_listen = false;
    for (int i = 1; i < argc; i++) {
        const char *inline_value;
        const struct option_spec *opt = flag_lookup(argv[i], &inline_value);
        const char *value = inline_value ? inline_value : opt->kind == OPT_FLAG ? "on" : argv[++i];
        if (opt->kind == OPT_CONFIG)
            continue;
        if ((opt->kind == OPT_LISTEN || opt->kind == OPT_LISTEN_TLS) && !cli_listen) {
            cli_listen = true;
            cfg->listener_count = 0;
        }
        struct origin o = {NULL, 0};
        if (option_apply(cfg, opt, value, &o, err, err_len) != 0)
            return CONFIG_ERROR;
    }
    if (cfg->listener_count == 0) {
        char why[160];
        if (config_parse_listen("127.0.0.1:8080", &cfg->listeners[0], why, sizeof(why)) != 0) {
            snprintf(err, err_len, "default listener: %s", why);
            return CONFIG_ERROR;
        }
        cfg->listener_count = 1;
    }
    if (config_add_metrics_listener(cfg, err, err_len) != 0)
        return CONFIG_ERROR;
    if (cfg->group[0] != '\0' && cfg->user[0] == '\0') {
        snprintf(err, err_len, "--group: needs --user");
        return CONFIG_ERROR;
    }
    if (config_has_tls(cfg) && (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0')) {
        snprintf(err, err_len, "--listen-tls: needs --tls-cert and --tls-key");
        return CONFIG_ERROR;
    }
    if (cfg->tls_verify_client && cfg->tls_ca[0] == '\0') {
        snprintf(err, err_len, "--tls-verify-client: needs --tls-ca");
        return CONFIG_ERROR;
    }
    if ((cfg->xring_entries & (cfg->xring_entries - 1)) != 0) {
        snprintf(err, err_len,
                 "--xring-entries: invalid value '%" PRIu64 "' (must be a power of two)",
                 cfg->xring_entries);
        return CONFIG_ERROR;
    }
    if ((cfg->recv_buffer_count & (cfg->recv_buffer_count - 1)) != 0) {
        snprintf(err, err_len,
                 "--recv-buffers: invalid value '%" PRIu64 "' (must be a power of two)",
                 cfg->recv_buffer_count);
        return CONFIG_ERROR;
    }
    if (!config_has_auth(cfg) && cfg->anonymous == ANONYMOUS_UNSET && !config_loopback_only(cfg)) {
        snprintf(err, err_len,
                 "--anonymous: a listener is not on a loopback address and no authentication "
                 "is configured; set --auth-tokens, --jwt-hs256-secret or --jwt-es256-key, or "
                 "--anonymous read (subscribe only) or off");
        return CONFIG_ERROR;
    }
    if (!config_has_auth(cfg) && cfg->anonymous == ANONYMOUS_OFF) {
        snprintf(err, err_len,
                 "--anonymous: 'off' with no authentication method configured would refuse "
                 "every client; set --auth-tokens, --jwt-hs256-secret or --jwt-es256-key");
        return CONFIG_ERROR;
    }
    if (cfg->publish_burst != 0 && cfg->publish_rate == 0) {
        snprintf(err, err_len, "--publish-burst: needs --publish-rate");
        return CONFIG_ERROR;
    }
    if (cfg->send_queue_bytes < cfg->max_message + SEND_QUEUE_SLACK) {
        /* One whole echoed message must always fit, or the queue could deadlock. */
        cfg->send_queue_bytes = cfg->max_message + SEND_QUEUE_SLACK;
    }
    return CONFIG_OK;
}

void config_print_help(const char *prog)
{
    printf("usage: %s [options]\n\nA WebSocket message broker. With no options it listens on "
           "ws://127.0.0.1:8080.\n\noptions:\n",
           prog);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        printf("  %-28s %s\n", left, options[i].help);
    }
    printf("\nConfig-file keys are the option names without the dashes, e.g. 'workers = 4'.\n");
}

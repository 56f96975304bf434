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

#include "log.h"

#define CONFIG_MAX_LISTENERS 16

struct listen_addr {
    char text[80]; /* as given, normalised for logs: 127.0.0.1:8080, [::1]:8080 */
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
};

enum config_result { CONFIG_OK, CONFIG_HELP, CONFIG_ERROR };

void config_init_defaults(struct broker_config *cfg);

/*
 * Applies a config file (if --config is given) and then the flags in argv.
 * On CONFIG_ERROR, err holds a message naming the offending flag or line.
 */
enum config_result config_parse_args(struct broker_config *cfg, int argc, char **argv, char *err,
                                     size_t err_len);

/* Parses ADDR:PORT (IPv4, [IPv6] or a name resolving to one) into out. */
int config_parse_listen(const char *text, struct listen_addr *out, char *err, size_t err_len);

void config_print_help(const char *prog);

#endif

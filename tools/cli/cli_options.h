/*
 * cli_options.h - what wsbroker-pub, wsbroker-sub and md-feed share on their
 * command lines: the connection options (--url, --token, --name, TLS files,
 * --connect-timeout), reading an option's value, numbers with range checks,
 * and the documented exit codes, one table for all three tools.
 */
#ifndef WSB_CLI_OPTIONS_H
#define WSB_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "wsb_client.h"

/* Exit codes of every tool (docs/clients.md). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_RUNTIME = 1, /* the broker refused something, or the connection was lost */
    CLI_EXIT_USAGE = 2,   /* bad arguments, a bad URL, or unreadable input data */
    CLI_EXIT_CONNECT = 3, /* cannot resolve / connect / upgrade to WebSocket */
    CLI_EXIT_TLS = 4,     /* TLS setup or handshake failed (certificate, CA, protocol) */
    CLI_EXIT_TIMEOUT = 5, /* --timeout passed before the work was done */
};

/* The help lines of the connection options. */
extern const char CLI_CONNECT_HELP[];
/* The help lines of the exit codes. */
extern const char CLI_EXIT_HELP[];

/* The exit code for a client status. */
enum cli_exit cli_exit_of(enum wsb_client_status st);

/*
 * If argv[*i] is the option `name` ("--name VALUE" or "--name=VALUE"), sets
 * *value, advances *i past it and returns true. A missing value prints an
 * error and exits with CLI_EXIT_USAGE.
 */
bool cli_take_value(const char *prog, int argc, char **argv, int *i, const char *name,
                    const char **value);

/* Parses an unsigned number (decimal) within [min, max], or prints an error
 * naming the option and exits with CLI_EXIT_USAGE. */
uint64_t cli_parse_uint(const char *prog, const char *option, const char *text, uint64_t min,
                        uint64_t max);
double cli_parse_double(const char *prog, const char *option, const char *text, double min,
                        double max);

/* Takes argv[*i] when it is a connection option (filling cfg; strings are
 * borrowed from argv). */
bool cli_take_connect_option(const char *prog, int argc, char **argv, int *i,
                             struct wsb_client_config *cfg);

/* Prints "prog: message" and "Try 'prog --help'." to stderr, exits 2. */
_Noreturn void cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Connects with cfg or prints why and exits with the matching code. */
struct wsb_client *cli_connect(const char *prog, const struct wsb_client_config *cfg);

#endif

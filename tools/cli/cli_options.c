/*
 * cli_options.c - the command-line pieces the tools share (cli_options.h).
 */
#include "cli_options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char CLI_CONNECT_HELP[] =
    "connection:\n"
    "  --url URL              ws://host[:port][/path] or wss://... (path defaults to /v1)\n"
    "  --token TOKEN          sent as Authorization: Bearer and in hello\n"
    "  --name NAME            the client name in hello (<= 64 bytes)\n"
    "  --ca FILE              wss: CA certificates to trust (default: the system store)\n"
    "  --cert FILE --key FILE wss: client certificate and key (PEM)\n"
    "  --connect-timeout S    connect + TLS + upgrade + hello, and each request (default 5)\n";

const char CLI_EXIT_HELP[] =
    "exit codes:\n"
    "  0 ok   1 broker refusal or connection lost   2 bad arguments or input\n"
    "  3 cannot connect (resolve, refused, upgrade refused)   4 TLS failure   5 timeout\n";

enum cli_exit cli_exit_of(enum wsb_client_status st)
{
    switch (st) {
    case WSB_CLIENT_OK:
        return CLI_EXIT_OK;
    case WSB_CLIENT_ERR_ARG:
        return CLI_EXIT_USAGE;
    case WSB_CLIENT_ERR_CONNECT:
        return CLI_EXIT_CONNECT;
    case WSB_CLIENT_ERR_TLS:
        return CLI_EXIT_TLS;
    case WSB_CLIENT_ERR_TIMEOUT:
        return CLI_EXIT_TIMEOUT;
    default:
        return CLI_EXIT_RUNTIME;
    }
}

void cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    exit(CLI_EXIT_USAGE);
}

bool cli_take_value(const char *prog, int argc, char **argv, int *i, const char *name,
                    const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    if (arg[n] != '\0')
        return false;
    if (*i + 1 >= argc)
        cli_usage_error(prog, "option %s needs a value", name);
    *value = argv[++*i];
    return true;
}

uint64_t cli_parse_uint(const char *prog, const char *option, const char *text, uint64_t min,
                        uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 || v < min || v > max)
        cli_usage_error(prog, "%s: '%s' is not a whole number from %llu to %llu", option, text,
                        (unsigned long long)min, (unsigned long long)max);
    return v;
}

double cli_parse_double(const char *prog, const char *option, const char *text, double min,
                        double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max)
        cli_usage_error(prog, "%s: '%s' is not a number from %g to %g", option, text, min, max);
    return v;
}

bool cli_take_connect_option(const char *prog, int argc, char **argv, int *i,
                             struct wsb_client_config *cfg)
{
    const char *v;
    if (cli_take_value(prog, argc, argv, i, "--url", &cfg->url))
        return true;
    if (cli_take_value(prog, argc, argv, i, "--token", &cfg->token))
        return true;
    if (cli_take_value(prog, argc, argv, i, "--name", &cfg->name))
        return true;
    if (cli_take_value(prog, argc, argv, i, "--ca", &cfg->ca_file))
        return true;
    if (cli_take_value(prog, argc, argv, i, "--cert", &cfg->cert_file))
        return true;
    if (cli_take_value(prog, argc, argv, i, "--key", &cfg->key_file))
        return true;
    if (cli_take_value(prog, argc, argv, i, "--connect-timeout", &v)) {
        cfg->timeout_ms = (int)(cli_parse_double(prog, "--connect-timeout", v, 0.001, 3600) * 1000);
        return true;
    }
    return false;
}

struct wsb_client *cli_connect(const char *prog, const struct wsb_client_config *cfg)
{
    if (cfg->url == NULL)
        cli_usage_error(prog, "--url is required");
    if ((cfg->cert_file == NULL) != (cfg->key_file == NULL))
        cli_usage_error(prog, "--cert and --key go together");
    struct wsb_client *c;
    char why[600];
    enum wsb_client_status st = wsb_client_connect(cfg, &c, why, sizeof why);
    if (st != WSB_CLIENT_OK) {
        fprintf(stderr, "%s: %s\n", prog, why);
        if (st == WSB_CLIENT_ERR_ARG)
            fprintf(stderr, "Try '%s --help'.\n", prog);
        exit(cli_exit_of(st));
    }
    return c;
}

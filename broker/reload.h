/*
 * reload.h - SIGHUP: re-read the configuration and apply what can change
 * while the broker runs (docs/configuration.md, "Reloading").
 *
 * main's thread parses the config file and flags again into a new struct
 * broker_config, loads new auth rules from it and reloads the TLS
 * certificate. Settings that need a restart (listeners, workers, receive
 * buffers, ring sizes) are logged as such and keep their running values in
 * the new config. If anything fails to parse or load, the error is logged
 * and the running configuration stays, whole.
 *
 * Hand-off: the new config and rules are immutable once published through
 * struct broker's atomic pointers (cfg_next, auth); each worker switches to
 * the new config at its next wake-up (main wakes them all), and reads the
 * auth rules afresh for each new handshake or hello. Replaced configs and
 * rules are retired here, not freed, until exit: a worker may be reading
 * one at the moment it is replaced, and reloads are rare.
 */
#ifndef WSB_RELOAD_H
#define WSB_RELOAD_H

#include "config.h"
#include "worker.h"

struct reload {
    struct broker *broker;
    int argc;
    char **argv; /* main's, borrowed for the process's life */
    /* The restart-only settings as first configured (before port 0 was
     * resolved), to tell whether a reload changed them. */
    struct broker_config as_started;
    const struct broker_config *current; /* what the workers use */
    void **retired;                      /* replaced configs and auth rules */
    bool *retired_is_auth;
    unsigned retired_count;
};

/* as_started: the config as parsed at start, before listeners resolved
 * port 0; running: the one the workers use (main's, not freed here). */
void reload_init(struct reload *r, struct broker *b, const struct broker_config *as_started,
                 const struct broker_config *running, int argc, char **argv);
/* Re-reads and applies the configuration; logs what happened. */
void reload_apply(struct reload *r);
/* Frees every config and auth rules the reloads replaced (after the
 * workers have stopped), and the current config if a reload made it. */
void reload_destroy(struct reload *r);

#endif

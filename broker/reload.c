/*
 * reload.c - SIGHUP handling (see reload.h).
 */
#include "reload.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "tls.h"

void reload_init(struct reload *r, struct broker *b, const struct broker_config *as_started,
                 const struct broker_config *running, int argc, char **argv)
{
    memset(r, 0, sizeof(*r));
    r->broker = b;
    r->argc = argc;
    r->argv = argv;
    r->as_started = *as_started;
    r->current = running;
}

static void reload_retire(struct reload *r, void *p, bool is_auth)
{
    void **retired = realloc(r->retired, sizeof(*retired) * (r->retired_count + 1));
    bool *kinds = realloc(r->retired_is_auth, sizeof(*kinds) * (r->retired_count + 1));
    if (retired)
        r->retired = retired;
    if (kinds)
        r->retired_is_auth = kinds;
    if (retired == NULL || kinds == NULL) {
        log_warn("SIGHUP: out of memory retiring the old configuration; it is leaked");
        return;
    }
    r->retired[r->retired_count] = p;
    r->retired_is_auth[r->retired_count] = is_auth;
    r->retired_count++;
}

static bool listeners_equal(const struct broker_config *a, const struct broker_config *b)
{
    if (a->listener_count != b->listener_count)
        return false;
    for (unsigned i = 0; i < a->listener_count; i++) {
        if (a->listeners[i].tls != b->listeners[i].tls ||
            strcmp(a->listeners[i].text, b->listeners[i].text) != 0)
            return false;
    }
    return true;
}

/* Settings fixed at start: logs each one the new config changes, then
 * gives it the running value. */
static void keep_restart_only(const struct reload *r, struct broker_config *next)
{
    const struct broker_config *was = &r->as_started, *run = r->current;
    if (!listeners_equal(was, next))
        log_warn("SIGHUP: 'listen'/'listen-tls' changed: needs a restart; ignored");
    if (next->workers != was->workers)
        log_warn("SIGHUP: 'workers' changed: needs a restart; ignored");
    if (next->recv_buffer_bytes != was->recv_buffer_bytes)
        log_warn("SIGHUP: 'recv-buffer-size' changed: needs a restart; ignored");
    if (next->recv_buffer_count != was->recv_buffer_count)
        log_warn("SIGHUP: 'recv-buffers' changed: needs a restart; ignored");
    if (next->xring_entries != was->xring_entries)
        log_warn("SIGHUP: 'xring-entries' changed: needs a restart; ignored");
    if (next->handshake_timeout_ms != was->handshake_timeout_ms ||
        next->ping_interval_ms != was->ping_interval_ms ||
        next->idle_timeout_ms != was->idle_timeout_ms ||
        next->close_timeout_ms != was->close_timeout_ms)
        log_info("SIGHUP: timeouts changed: applied, checked at the tick chosen at start");
    if (strcmp(next->metrics_listen.text, was->metrics_listen.text) != 0)
        log_warn("SIGHUP: 'metrics-listen' changed: needs a restart; ignored");
    if (strcmp(next->user, was->user) != 0 || strcmp(next->group, was->group) != 0)
        log_warn("SIGHUP: 'user'/'group' changed: needs a restart; ignored");
    if (next->log_format != was->log_format)
        log_warn("SIGHUP: 'log-format' changed: needs a restart; ignored");
    next->metrics_listen = run->metrics_listen;
    memcpy(next->user, run->user, sizeof(next->user));
    memcpy(next->group, run->group, sizeof(next->group));
    next->log_format = run->log_format;
    memcpy(next->listeners, run->listeners, sizeof(next->listeners));
    next->listener_count = run->listener_count;
    next->workers = run->workers;
    next->recv_buffer_bytes = run->recv_buffer_bytes;
    next->recv_buffer_count = run->recv_buffer_count;
    next->xring_entries = run->xring_entries;
}

void reload_apply(struct reload *r)
{
    struct broker *b = r->broker;
    char err[512];
    struct broker_config *next = malloc(sizeof(*next));
    if (next == NULL) {
        log_error("SIGHUP: out of memory; configuration not reloaded");
        return;
    }
    config_init_defaults(next);
    if (config_parse_args(next, r->argc, r->argv, err, sizeof(err)) != CONFIG_OK) {
        log_error("SIGHUP: configuration not reloaded, keeping the running one: %s", err);
        free(next);
        return;
    }
    /* First the settings that stay as they run (the listeners above all),
     * then every decision that depends on them: development mode is judged
     * on the listeners actually open, not on the ones the new file names. */
    keep_restart_only(r, next);
    if (!config_has_auth(next) && next->anonymous == ANONYMOUS_UNSET &&
        !config_loopback_only(next)) {
        log_error("SIGHUP: configuration not reloaded, keeping the running one: a listener "
                  "is not on a loopback address and the new configuration has no "
                  "authentication method and no 'anonymous' setting");
        free(next);
        return;
    }
    struct auth_rules *auth = auth_rules_load(next, err, sizeof(err));
    if (auth == NULL) {
        log_error("SIGHUP: configuration not reloaded, keeping the running one: %s", err);
        free(next);
        return;
    }
    if (b->tls) {
        b->tls->cfg = next; /* read by tls_server_reload only, on this thread */
        if (tls_server_reload(b->tls, err, sizeof(err)) != 0)
            log_error("SIGHUP: TLS reload failed, keeping the current certificate: %s", err);
        else
            log_info("SIGHUP: TLS certificate and key reloaded");
    }
    log_set_level(next->log_level);
    reload_retire(r, atomic_exchange(&b->auth, auth), true);
    atomic_store(&b->cfg_next, next);
    if (r->current != b->cfg) /* main's own config is not ours to free */
        reload_retire(r, (void *)r->current, false);
    r->current = next;
    for (unsigned w = 0; w < next->workers; w++)
        worker_wake(&b->workers[w]);
    if (auth->dev_mode)
        log_warn("no authentication configured: every client may publish and subscribe to "
                 "everything (development mode: loopback listeners only)");
    log_info("SIGHUP: configuration reloaded (auth rules: %u static tokens%s%s; anonymous %s)",
             auth->tokens.count, auth->hs256_secret ? ", HS256 key" : "",
             auth->es256 ? ", ES256 key" : "",
             auth->dev_mode                      ? "everything (development mode)"
             : next->anonymous == ANONYMOUS_READ ? "read"
                                                 : "off");
}

void reload_destroy(struct reload *r)
{
    for (unsigned i = 0; i < r->retired_count; i++) {
        if (r->retired_is_auth[i])
            auth_rules_free(r->retired[i]);
        else
            free(r->retired[i]);
    }
    free(r->retired);
    free(r->retired_is_auth);
    if (r->current != r->broker->cfg)
        free((void *)r->current);
    memset(r, 0, sizeof(*r));
}

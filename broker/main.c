/*
 * main.c - wsbroker's entry point: reads the configuration, binds the
 * listeners, starts one worker per core and waits for SIGINT/SIGTERM, then
 * lets the workers drain (close 1001 to every client) and exits 0.
 *
 * The main thread does no I/O of its own after start-up: it blocks the
 * signals for every thread and takes them synchronously with sigwait().
 * SIGHUP re-reads the configuration (reload.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ip_limit.h"
#include "listener.h"
#include "log.h"
#include "privileges.h"
#include "reload.h"
#include "tls.h"
#include "worker.h"

static int open_listeners(struct broker_config *cfg, unsigned workers, int *fds)
{
    for (unsigned l = 0; l < cfg->listener_count; l++) {
        for (unsigned w = 0; w < workers; w++) {
            int fd = listener_open(&cfg->listeners[l]);
            if (fd < 0) {
                log_error("cannot listen on %s: %s", cfg->listeners[l].text, strerror(-fd));
                return -1;
            }
            fds[w * CONFIG_MAX_LISTENERS + l] = fd;
            if (w == 0 && listener_adopt_port(&cfg->listeners[l], fd) != 0) {
                log_error("cannot read the port of %s: %s", cfg->listeners[l].text,
                          strerror(errno));
                return -1;
            }
        }
    }
    return 0;
}

/*
 * After the workers have stopped, messages may still sit in their rings
 * (unsubscribe answers, fan-out to closed connections). Handling them here,
 * single-threaded, releases every frame and frees every session and
 * subscription, so nothing leaks at exit.
 */
static void drain_mailboxes(struct worker *workers, unsigned count)
{
    for (unsigned round = 0; round < 1000; round++) {
        for (unsigned w = 0; w < count; w++) {
            router_poll(&workers[w].router);
            router_flush(&workers[w].router);
        }
        /* Only after the whole round: a worker polled later in it may have
         * answered one polled earlier (an owner's X_UNSUBSCRIBED), and
         * that answer must be handled too, or its session leaks. */
        bool busy = false;
        for (unsigned w = 0; w < count; w++)
            busy |= router_busy(&workers[w].router);
        if (!busy)
            return;
    }
    log_warn("messages still queued between workers at exit");
}

/* Takes signals until SIGINT or SIGTERM: SIGHUP reloads the configuration,
 * the auth rules and the TLS certificate, leaving open connections as they
 * are. */
static int wait_for_stop(const sigset_t *signals, struct reload *reload)
{
    for (;;) {
        int sig = 0;
        if (sigwait(signals, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        reload_apply(reload);
    }
}

/* Waits until each started worker has entered its event loop (it sets its
 * `running` gauge first thing), at most 5 s; the loop is short. */
static void wait_for_workers_running(struct worker *workers, unsigned count)
{
    for (int tries = 0; tries < 5000; tries++) {
        unsigned up = 0;
        for (unsigned w = 0; w < count; w++)
            up += metric_read(&workers[w].metrics.running) != 0;
        if (up == count)
            return;
        usleep(1000);
    }
    log_warn("not every worker reported running within 5 s");
}

/* Drops root when `user` is set (warns when running as root without it).
 * False when the drop failed: the broker must not serve as root by mistake. */
static bool start_unprivileged(const struct broker_config *cfg)
{
    if (cfg->user[0] == '\0') {
        if (geteuid() == 0)
            log_warn("running as root: set 'user' to drop privileges after binding "
                     "(docs/deploy.md)");
        return true;
    }
    char err[256];
    if (privileges_drop(cfg->user, cfg->group, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return false;
    }
    log_info("running as user %s", cfg->user);
    return true;
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int main(int argc, char **argv)
{
    /* Signals are taken by sigwait() below; workers inherit the mask. Blocked
     * first thing, so a SIGTERM during start-up is still a clean stop. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct broker_config cfg;
    config_init_defaults(&cfg);
    char err[512];
    switch (config_parse_args(&cfg, argc, argv, err, sizeof(err))) {
    case CONFIG_HELP:
        config_print_help(argv[0]);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "wsbroker: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    /* The restart-only settings as configured, before port 0 and
     * the worker count are resolved. */
    static struct broker_config as_started;
    as_started = cfg;
    log_set_level(cfg.log_level);
    log_set_format(cfg.log_format);
    if (cfg.workers == 0)
        cfg.workers = online_cpus();
    struct auth_rules *auth = auth_rules_load(&cfg, err, sizeof(err));
    if (auth == NULL) {
        fprintf(stderr, "wsbroker: %s\n", err);
        return 2;
    }

    int *fds = calloc((size_t)cfg.workers * CONFIG_MAX_LISTENERS, sizeof(int));
    struct worker *workers = calloc(cfg.workers, sizeof(*workers));
    if (fds == NULL || workers == NULL) {
        log_error("out of memory");
        return 1;
    }
    static struct tls_server tls;
    if (config_has_tls(&cfg) && tls_server_init(&tls, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "wsbroker: %s\n", err);
        auth_rules_free(auth);
        free(workers);
        free(fds);
        return 2;
    }
    if (cfg.check_config) {
        /* Everything the files hold has been read and parsed: report, exit. */
        if (config_has_tls(&cfg))
            tls_server_destroy(&tls);
        auth_rules_free(auth);
        free(workers);
        free(fds);
        printf("wsbroker: configuration OK\n");
        return 0;
    }
    if (auth->dev_mode)
        log_warn("no authentication configured: every client may publish and subscribe to "
                 "everything (development mode: loopback listeners only)");
    static struct ip_limit ip_limit;
    if (ip_limit_init(&ip_limit) != 0) {
        log_error("out of memory");
        return 1;
    }
    if (open_listeners(&cfg, cfg.workers, fds) != 0)
        return 1;

    struct broker broker = {
        .cfg = &cfg, .workers = workers, .tls = config_has_tls(&cfg) ? &tls : NULL};
    atomic_init(&broker.connections, 0);
    atomic_init(&broker.topics, 0);
    atomic_init(&broker.stopping, false);
    atomic_init(&broker.ready, false);
    atomic_init(&broker.cfg_next, NULL);
    atomic_init(&broker.auth, auth);
    broker.ip_limit = &ip_limit;
    struct reload reload;
    reload_init(&reload, &broker, &as_started, &cfg, argc, argv);
    if (mailboxes_init(&broker.mailboxes, cfg.workers, (unsigned)cfg.xring_entries) != 0) {
        log_error("out of memory for the worker rings");
        return 1;
    }
    /* Every worker is set up before any starts: a running worker may send
     * to (and wake) any other as soon as it has a connection. */
    for (unsigned w = 0; w < cfg.workers; w++) {
        int rc = worker_init(&workers[w], w, &broker, &fds[w * CONFIG_MAX_LISTENERS],
                             cfg.listener_count);
        if (rc != 0) {
            log_error("cannot set up worker %u: %s", w, strerror(-rc));
            return 1;
        }
    }
    /* Privileges go before any worker runs, so no client is ever served as
     * root; the rings are set up (their memory is locked under our limits),
     * the listeners bound and the certificates read. */
    bool dropped = start_unprivileged(&cfg);
    unsigned started = 0;
    for (unsigned w = 0; dropped && w < cfg.workers; w++) {
        int rc = worker_start(&workers[w]);
        if (rc != 0) {
            log_error("cannot start worker %u: %s", w, strerror(-rc));
            atomic_store(&broker.stopping, true);
            break;
        }
        started++;
    }
    if (dropped && started == cfg.workers) {
        /* Ready (and "listening on") only once every worker runs its loop:
         * a probe or a client that reads the line must find them all up. */
        wait_for_workers_running(workers, cfg.workers);
        atomic_store(&broker.ready, true); /* before the lines tests and tools wait for */
        log_info("wsbroker %s: %u workers", "0.1.0", cfg.workers);
        for (unsigned l = 0; l < cfg.listener_count; l++) {
            if (cfg.listeners[l].metrics)
                log_info("metrics on http://%s (/metrics /healthz /readyz)", cfg.listeners[l].text);
            else
                log_info("listening on %s://%s", cfg.listeners[l].tls ? "wss" : "ws",
                         cfg.listeners[l].text);
        }
        int sig = wait_for_stop(&signals, &reload);
        atomic_store(&broker.stopping, true); /* /readyz: 503 from here on */
        log_info("received %s: closing connections (drain timeout %llu ms)", strsignal(sig),
                 (unsigned long long)cfg.drain_timeout_ms);
    }
    atomic_store(&broker.stopping, true);
    for (unsigned w = 0; w < started; w++)
        worker_wake(&workers[w]);
    for (unsigned w = 0; w < started; w++)
        worker_join(&workers[w]);
    drain_mailboxes(workers, started);
    for (unsigned w = 0; w < started; w++)
        worker_destroy(&workers[w]);
    /* Messages still in the rings hold frame references: drop them. */
    mailboxes_destroy(&broker.mailboxes);
    if (broker.tls)
        tls_server_destroy(broker.tls);
    reload_destroy(&reload); /* the retired configs and auth rules */
    auth_rules_free(atomic_load(&broker.auth));
    ip_limit_destroy(&ip_limit);
    free(workers);
    free(fds);
    if (!dropped || started < cfg.workers)
        return 1;
    log_info("stopped");
    return 0;
}

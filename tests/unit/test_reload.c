/*
 * test_reload.c - SIGHUP's decisions (broker/reload.c), on real config
 * files and a broker struct with no threads: which settings a reload may
 * change, and that development mode (everything allowed, no tokens) is
 * judged on the listeners that are actually open, never on the ones a new
 * config file names but a reload cannot open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "reload.h"
#include "worker.h"

struct fixture {
    char dir[64];
    char conf[128];
    char tokens[128];
    char *argv[3];
    struct broker_config running;
    struct broker broker;
    struct worker worker;
    struct reload reload;
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Starts "a broker" on config text `conf` (no sockets: only what main does
 * with the config before binding). */
static struct fixture *start(const char *conf)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/wsb-reload-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->conf, sizeof(f->conf), "%s/wsb.conf", f->dir);
    snprintf(f->tokens, sizeof(f->tokens), "%s/tokens", f->dir);
    write_file(f->tokens, "feed-token pub=md.> sub=md.>\n");
    char text[512];
    snprintf(text, sizeof(text), conf, f->tokens);
    write_file(f->conf, text);
    f->argv[0] = "wsbroker";
    f->argv[1] = "--config";
    f->argv[2] = f->conf;
    char err[512];
    config_init_defaults(&f->running);
    assert_int_equal(config_parse_args(&f->running, 3, f->argv, err, sizeof(err)), CONFIG_OK);
    struct auth_rules *rules = auth_rules_load(&f->running, err, sizeof(err));
    assert_non_null(rules);
    f->worker.wake_fd = eventfd(0, EFD_CLOEXEC);
    f->broker.cfg = &f->running;
    f->broker.workers = &f->worker;
    atomic_init(&f->broker.auth, rules);
    atomic_init(&f->broker.cfg_next, NULL);
    reload_init(&f->reload, &f->broker, &f->running, &f->running, 3, f->argv);
    return f;
}

static void rewrite(struct fixture *f, const char *conf)
{
    char text[512];
    snprintf(text, sizeof(text), conf, f->tokens);
    write_file(f->conf, text);
}

static void stop(struct fixture *f)
{
    reload_destroy(&f->reload);
    auth_rules_free(atomic_load(&f->broker.auth));
    close(f->worker.wake_fd);
    unlink(f->conf);
    unlink(f->tokens);
    rmdir(f->dir);
    free(f);
}

/* The attack: a broker open on a public address with tokens; the file is
 * changed to name only a loopback listener and no auth. The listener
 * cannot change without a restart, so the broker must not fall into
 * development mode - it keeps its rules. */
static void test_new_loopback_listener_does_not_open_a_public_broker(void **state)
{
    (void)state;
    struct fixture *f = start("listen = 0.0.0.0:0\nworkers = 1\nauth-tokens = %s\n");
    struct auth_rules *before = atomic_load(&f->broker.auth);
    assert_false(before->dev_mode);
    rewrite(f, "listen = 127.0.0.1:0\nworkers = 1\n");
    reload_apply(&f->reload);
    struct auth_rules *after = atomic_load(&f->broker.auth);
    assert_ptr_equal(after, before); /* refused: nothing changed */
    assert_false(after->dev_mode);
    assert_null(atomic_load(&f->broker.cfg_next));
    stop(f);
}

/* On a loopback broker the same change is legitimate development mode. */
static void test_loopback_broker_may_drop_auth(void **state)
{
    (void)state;
    struct fixture *f = start("listen = 127.0.0.1:0\nworkers = 1\nauth-tokens = %s\n");
    rewrite(f, "listen = 127.0.0.1:0\nworkers = 1\n");
    reload_apply(&f->reload);
    struct auth_rules *after = atomic_load(&f->broker.auth);
    assert_true(after->dev_mode);
    assert_non_null(atomic_load(&f->broker.cfg_next));
    stop(f);
}

/* A public broker may switch to read-only anonymous access; the new
 * listener it names is ignored (needs a restart). */
static void test_public_broker_reload_keeps_running_listeners(void **state)
{
    (void)state;
    struct fixture *f = start("listen = 0.0.0.0:0\nworkers = 1\nauth-tokens = %s\n");
    rewrite(f, "listen = 127.0.0.1:0\nworkers = 1\nanonymous = read\nauth-tokens = %s\n");
    reload_apply(&f->reload);
    const struct broker_config *next = atomic_load(&f->broker.cfg_next);
    assert_non_null(next);
    assert_string_equal(next->listeners[0].text, "0.0.0.0:0");
    assert_false(atomic_load(&f->broker.auth)->dev_mode);
    stop(f);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* the refused reload logs an error: expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_loopback_listener_does_not_open_a_public_broker),
        cmocka_unit_test(test_loopback_broker_may_drop_auth),
        cmocka_unit_test(test_public_broker_reload_keeps_running_listeners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

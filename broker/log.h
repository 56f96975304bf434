/*
 * log.h - the broker's log: one line per event on stderr, with a level.
 *
 * Lines look like `2026-11-25T04:21:12.345Z wsbroker info: listening on ...`.
 * Thread-safe (one write(2) per line); the level is set at start-up and on SIGHUP.
 */
#ifndef WSB_LOG_H
#define WSB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
int log_enabled(enum log_level level);
/* text (the default) or json: {"ts":..,"level":..,"msg":..} plus the fields
 * a message starts with ("fd 12: ...", "worker 3: ...", "session ...: ...")
 * and the worker of the thread that logs. Set once at start-up. */
void log_set_format(enum log_format format);
int log_format_parse(const char *name, enum log_format *out);
/* Called by a worker thread once: its lines carry "worker": id in JSON. */
void log_set_thread_worker(int id);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_write(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif

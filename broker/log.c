/*
 * log.c - formats a log line into a stack buffer and writes it with a single
 * write(2), so lines from different workers never interleave.
 *
 * Two formats over the same calls: text (`<ts> wsbroker <level>: <msg>`) and
 * JSON lines (`{"ts":..,"level":..,"msg":..,...}`) for log shippers. The JSON
 * form keeps msg exactly as the text form prints it, and lifts the subject a
 * message starts with ("fd 12: ", "worker 3: ", "session 00ab..: ") into a
 * field, so existing log calls need no change to be structured.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json_reader.h"

/* Atomic: SIGHUP may change it while workers log. */
static _Atomic enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_FORMAT_TEXT;
static _Thread_local int thread_worker = -1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"text", "json"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_set_format(enum log_format f)
{
    format = f;
}

void log_set_thread_worker(int id)
{
    thread_worker = id;
}

static int name_index(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

int log_level_parse(const char *name, enum log_level *out)
{
    int i = name_index(name, level_names, sizeof(level_names) / sizeof(level_names[0]));
    if (i < 0)
        return -1;
    *out = (enum log_level)i;
    return 0;
}

int log_format_parse(const char *name, enum log_format *out)
{
    int i = name_index(name, format_names, sizeof(format_names) / sizeof(format_names[0]));
    if (i < 0)
        return -1;
    *out = (enum log_format)i;
    return 0;
}

int log_enabled(enum log_level level)
{
    return level >= min_level;
}

/* The subjects a message may start with, lifted into JSON fields. */
static const struct {
    const char *prefix; /* "fd " */
    const char *field;  /* "fd" */
    bool numeric;
} subjects[] = {{"fd ", "fd", true}, {"worker ", "worker", true}, {"session ", "session", false}};

/* Appends `,"field":value` for a leading "subject VALUE: " of msg. */
static size_t json_subject(char *out, size_t cap, const char *msg, bool *has_worker)
{
    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        size_t plen = strlen(subjects[i].prefix);
        if (strncmp(msg, subjects[i].prefix, plen) != 0)
            continue;
        const char *v = msg + plen;
        size_t vlen = strspn(v, "0123456789abcdefABCDEF-");
        if (vlen == 0 || vlen > 32 || v[vlen] != ':')
            return 0;
        if (subjects[i].numeric && strspn(v, "0123456789-") != vlen)
            return 0;
        *has_worker |= strcmp(subjects[i].field, "worker") == 0;
        int n = snprintf(out, cap, subjects[i].numeric ? ",\"%s\":%.*s" : ",\"%s\":\"%.*s\"",
                         subjects[i].field, (int)vlen, v);
        return n > 0 && (size_t)n < cap ? (size_t)n : 0;
    }
    return 0;
}

static size_t format_json(char *line, size_t cap, const char *ts, enum log_level level,
                          const char *msg)
{
    size_t n = (size_t)snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
                                level_names[level]);
    size_t room = cap - n - 96; /* kept for the fields and the closing brace */
    size_t w = json_write_string(line + n, room, msg, strlen(msg));
    if (w > room) /* did not fit: say so rather than cut a string in half */
        w = (size_t)snprintf(line + n, room, "\"(log message too long)\"");
    n += w;
    bool has_worker = false;
    n += json_subject(line + n, cap - n, msg, &has_worker);
    if (thread_worker >= 0 && !has_worker)
        n += (size_t)snprintf(line + n, cap - n, ",\"worker\":%d", thread_worker);
    line[n++] = '}';
    return n;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[1024], ts[80], line[7168]; /* msg escaped may grow 6-fold */
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len;
    if (format == LOG_FORMAT_JSON) {
        len = format_json(line, sizeof(line) - 1, ts, level, msg);
    } else {
        int n = snprintf(line, sizeof(line) - 1, "%s wsbroker %s: %s", ts, level_names[level], msg);
        len = n < 0 ? 0 : (size_t)n > sizeof(line) - 2 ? sizeof(line) - 2 : (size_t)n;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

/*
 * metrics_http.h - GET /metrics: every worker's counters in the Prometheus
 * text exposition format, version 0.0.4.
 */
#ifndef WSB_METRICS_HTTP_H
#define WSB_METRICS_HTTP_H

#include <stddef.h>

#include "ws_handshake.h"

struct conn;
struct broker;

void metrics_http_serve(struct conn *c, const struct ws_handshake_request *req);

/* Writes the exposition of broker b into a malloc'd buffer (the caller
 * frees it) and sets *len; NULL when out of memory. */
char *metrics_http_render(struct broker *b, size_t *len);

#endif

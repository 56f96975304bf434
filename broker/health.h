/*
 * health.h - the probes: /healthz (liveness) and /readyz (readiness).
 */
#ifndef WSB_HEALTH_H
#define WSB_HEALTH_H

#include "ws_handshake.h"

struct conn;

/* 200 "ok" while every running worker's loop comes round within
 * stall-timeout; 503 naming the stalled worker otherwise. */
void health_serve_live(struct conn *c, const struct ws_handshake_request *req);

/* 200 once every worker runs and the listeners are up, until SIGTERM; 503
 * while starting or draining. */
void health_serve_ready(struct conn *c, const struct ws_handshake_request *req);

#endif

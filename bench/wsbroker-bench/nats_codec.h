/*
 * nats_codec.h - the client side of the NATS text protocol, as much as
 * wsbroker-bench needs to drive nats-server over WebSocket: CONNECT, SUB,
 * PUB, PING/PONG out; INFO, MSG, PING, PONG, +OK, -ERR in. Pure functions
 * over buffers (peer_event.h has the parsing contract); the WebSocket
 * framing is the caller's, and NATS does not align its messages with frames.
 */
#ifndef WSB_BENCH_NATS_CODEC_H
#define WSB_BENCH_NATS_CODEC_H

#include "peer_event.h"

#define NATS_MAX_CONTROL_LINE 4096 /* nats-server's default max_control_line */

/* Each writer returns the bytes written to out, or 0 when cap is too small. */

/* CONNECT with verbose and pedantic off (no +OK per command). */
size_t nats_write_connect(char *out, size_t cap);

/* SUB subject sid. */
size_t nats_write_sub(char *out, size_t cap, const char *subject, size_t len, uint32_t sid);

/* PING: the server answers PONG once it has processed everything before it
 * (so after CONNECT and SUB, the PONG says the subscription is in place). */
size_t nats_write_ping(char *out, size_t cap);

size_t nats_write_pub(uint8_t *out, size_t cap, const char *subject, size_t len,
                      const uint8_t *data, size_t data_len);

size_t nats_write_pong(char *out, size_t cap);

/* Reads one server message from buf. */
ssize_t nats_parse(const uint8_t *buf, size_t len, struct peer_event *ev);

#endif

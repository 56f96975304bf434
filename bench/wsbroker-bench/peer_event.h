/*
 * peer_event.h - what the codecs of other brokers' protocols (nats_codec.c,
 * mqtt_codec.c) read out of their byte streams, in one vocabulary, so that
 * pubsub.c drives every peer the same way.
 *
 * Parsers follow picohttpparser's contract: they take (buf, len), return the
 * bytes one complete unit took (> 0), PEER_INCOMPLETE when more bytes are
 * needed, or PEER_MALFORMED; the event's pointers point into buf (borrowed:
 * valid until the caller moves or overwrites those bytes).
 */
#ifndef WSB_BENCH_PEER_EVENT_H
#define WSB_BENCH_PEER_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PEER_INCOMPLETE 0
#define PEER_MALFORMED  (-1)

enum peer_event_kind {
    PEER_EV_CONNECTED,  /* MQTT CONNACK accepted */
    PEER_EV_SUBSCRIBED, /* MQTT SUBACK granted */
    PEER_EV_PONG,       /* NATS PONG: everything sent before the PING was processed */
    PEER_EV_PING,       /* NATS PING: answer PONG */
    PEER_EV_MSG,        /* a message: topic and data */
    PEER_EV_REFUSED,    /* -ERR, a refused CONNACK or SUBACK: text says why */
    PEER_EV_OTHER,      /* INFO, +OK, PINGRESP ...: nothing to do */
};

struct peer_event {
    enum peer_event_kind kind;
    const char *topic; /* MSG: subject or topic name, topic_len bytes */
    size_t topic_len;
    const uint8_t *data; /* MSG: payload, data_len bytes */
    size_t data_len;
    const char *text; /* REFUSED: a reason, text_len bytes (may point into buf) */
    size_t text_len;
};

#endif

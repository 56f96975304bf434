/*
 * mqtt_codec.h - the client side of MQTT 3.1.1, as much as wsbroker-bench
 * needs to drive mosquitto over WebSocket (subprotocol "mqtt"): CONNECT,
 * SUBSCRIBE and QoS 0 PUBLISH out; CONNACK, SUBACK, PUBLISH (any QoS) and
 * PINGRESP in. Pure functions over buffers (peer_event.h has the parsing
 * contract); an MQTT packet may span WebSocket frames, so the caller feeds
 * the reassembled stream. Spec: MQTT Version 3.1.1, OASIS Standard, 2014.
 */
#ifndef WSB_BENCH_MQTT_CODEC_H
#define WSB_BENCH_MQTT_CODEC_H

#include "peer_event.h"

#define MQTT_SUBPROTOCOL   "mqtt"
#define MQTT_MAX_REMAINING 268435455u /* the largest Remaining Length, 4 bytes */

/* Each writer returns the bytes written to out, or 0 when cap is too small
 * (or a string is over 65535 bytes). */

/* CONNECT, clean session, keep-alive off, client_id as given. */
size_t mqtt_write_connect(uint8_t *out, size_t cap, const char *client_id, size_t len);

/* SUBSCRIBE to one topic filter at QoS 0. */
size_t mqtt_write_subscribe(uint8_t *out, size_t cap, uint16_t packet_id, const char *topic,
                            size_t len);

/* PUBLISH at QoS 0, not retained. */
size_t mqtt_write_publish(uint8_t *out, size_t cap, const char *topic, size_t len,
                          const uint8_t *data, size_t data_len);

/* Reads one packet from the server. */
ssize_t mqtt_parse(const uint8_t *buf, size_t len, struct peer_event *ev);

#endif

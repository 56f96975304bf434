/*
 * mqtt_codec.c - MQTT 3.1.1 packet writers and the server-packet parser (see
 * mqtt_codec.h).
 */
#include "mqtt_codec.h"

#include <string.h>

enum {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_PINGRESP = 13,
};

/* The fixed header: type and flags, then Remaining Length (1-4 bytes, 7 bits
 * each, low first). Returns its size, or 0 when it does not fit. */
static size_t write_fixed_header(uint8_t *out, size_t cap, uint8_t type_flags, size_t remaining)
{
    if (remaining > MQTT_MAX_REMAINING || cap < 5)
        return 0;
    size_t n = 0;
    out[n++] = type_flags;
    do {
        uint8_t byte = remaining & 0x7f;
        remaining >>= 7;
        out[n++] = byte | (remaining ? 0x80 : 0);
    } while (remaining);
    return n;
}

static size_t write_string(uint8_t *out, const char *s, size_t len)
{
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    memcpy(out + 2, s, len);
    return len + 2;
}

size_t mqtt_write_connect(uint8_t *out, size_t cap, const char *client_id, size_t len)
{
    static const uint8_t variable[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02 /* clean session */,
                                       0, 0 /* keep alive off */};
    if (len > 65535)
        return 0;
    size_t remaining = sizeof variable + 2 + len;
    size_t h = write_fixed_header(out, cap, MQTT_CONNECT << 4, remaining);
    if (h == 0 || cap - h < remaining)
        return 0;
    memcpy(out + h, variable, sizeof variable);
    write_string(out + h + sizeof variable, client_id, len);
    return h + remaining;
}

size_t mqtt_write_subscribe(uint8_t *out, size_t cap, uint16_t packet_id, const char *topic,
                            size_t len)
{
    if (len > 65535)
        return 0;
    size_t remaining = 2 + 2 + len + 1;
    size_t h = write_fixed_header(out, cap, MQTT_SUBSCRIBE << 4 | 0x2, remaining);
    if (h == 0 || cap - h < remaining)
        return 0;
    uint8_t *p = out + h;
    *p++ = (uint8_t)(packet_id >> 8);
    *p++ = (uint8_t)packet_id;
    p += write_string(p, topic, len);
    *p = 0; /* requested QoS */
    return h + remaining;
}

size_t mqtt_write_publish(uint8_t *out, size_t cap, const char *topic, size_t len,
                          const uint8_t *data, size_t data_len)
{
    if (len > 65535)
        return 0;
    size_t remaining = 2 + len + data_len;
    size_t h = write_fixed_header(out, cap, MQTT_PUBLISH << 4, remaining);
    if (h == 0 || cap - h < remaining)
        return 0;
    size_t t = write_string(out + h, topic, len);
    memcpy(out + h + t, data, data_len);
    return h + remaining;
}

ssize_t mqtt_parse(const uint8_t *buf, size_t len, struct peer_event *ev)
{
    if (len < 2)
        return PEER_INCOMPLETE;
    size_t remaining = 0, h = 1;
    for (unsigned shift = 0;; shift += 7) {
        if (h >= len)
            return PEER_INCOMPLETE;
        if (h > 4)
            return PEER_MALFORMED; /* Remaining Length over 4 bytes */
        remaining |= (size_t)(buf[h] & 0x7f) << shift;
        if (!(buf[h++] & 0x80))
            break;
    }
    if (len - h < remaining)
        return PEER_INCOMPLETE;
    const uint8_t *p = buf + h;
    unsigned type = buf[0] >> 4;
    memset(ev, 0, sizeof *ev);
    switch (type) {
    case MQTT_CONNACK:
        if (remaining != 2)
            return PEER_MALFORMED;
        ev->kind = p[1] == 0 ? PEER_EV_CONNECTED : PEER_EV_REFUSED;
        ev->text = "CONNACK refused the connection";
        ev->text_len = p[1] == 0 ? 0 : strlen(ev->text);
        break;
    case MQTT_SUBACK:
        if (remaining < 3)
            return PEER_MALFORMED;
        ev->kind = p[2] == 0x80 ? PEER_EV_REFUSED : PEER_EV_SUBSCRIBED;
        ev->text = "SUBACK refused the subscription";
        ev->text_len = p[2] == 0x80 ? strlen(ev->text) : 0;
        break;
    case MQTT_PUBLISH: {
        unsigned qos = buf[0] >> 1 & 3;
        if (remaining < 2 || qos == 3)
            return PEER_MALFORMED;
        size_t tlen = (size_t)p[0] << 8 | p[1];
        size_t head = 2 + tlen + (qos > 0 ? 2 : 0); /* topic, then a packet id at QoS 1-2 */
        if (head > remaining)
            return PEER_MALFORMED;
        ev->kind = PEER_EV_MSG;
        ev->topic = (const char *)p + 2;
        ev->topic_len = tlen;
        ev->data = p + head;
        ev->data_len = remaining - head;
        break;
    }
    case MQTT_PINGRESP:
        ev->kind = PEER_EV_OTHER;
        break;
    default:
        return PEER_MALFORMED;
    }
    return (ssize_t)(h + remaining);
}

/*
 * test_mqtt_codec.c - the MQTT 3.1.1 codec of wsbroker-bench
 * (bench/wsbroker-bench/mqtt_codec.c): packets written byte for byte as the
 * spec lays them out, the Remaining Length varint at its boundaries, and
 * server packets read whole, split at every byte, and malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_codec.h"

static void test_connect(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = mqtt_write_connect(out, sizeof out, "b", 1);
    static const uint8_t want[] = {0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 1, 'b'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(mqtt_write_connect(out, 10, "b", 1), 0);
}

static void test_subscribe(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = mqtt_write_subscribe(out, sizeof out, 0x0102, "a/b", 3);
    static const uint8_t want[] = {0x82, 8, 1, 2, 0, 3, 'a', '/', 'b', 0};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
}

/* Remaining Length: 127 takes one byte, 128 two, 16383 two, 16384 three. */
static void test_publish_lengths(void **state)
{
    (void)state;
    static const struct {
        size_t remaining;
        size_t header;
        uint8_t bytes[4];
    } cases[] = {
        {127, 2, {0x7f}},
        {128, 3, {0x80, 0x01}},
        {16383, 3, {0xff, 0x7f}},
        {16384, 4, {0x80, 0x80, 0x01}},
    };
    uint8_t *out = malloc(20000), *data = calloc(1, 20000);
    assert_non_null(out);
    assert_non_null(data);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t data_len = cases[i].remaining - 2 - 1; /* topic "t" */
        size_t n = mqtt_write_publish(out, 20000, "t", 1, data, data_len);
        assert_int_equal(n, cases[i].header + cases[i].remaining);
        assert_int_equal(out[0], 0x30);
        assert_memory_equal(out + 1, cases[i].bytes, cases[i].header - 1);
        struct peer_event ev;
        assert_int_equal(mqtt_parse(out, n, &ev), (ssize_t)n);
        assert_int_equal(ev.kind, PEER_EV_MSG);
        assert_int_equal(ev.topic_len, 1);
        assert_int_equal(ev.data_len, data_len);
    }
    free(out);
    free(data);
}

static void test_parse_acks(void **state)
{
    (void)state;
    struct peer_event ev;
    static const uint8_t connack_ok[] = {0x20, 2, 0, 0}, connack_no[] = {0x20, 2, 0, 5};
    static const uint8_t suback_ok[] = {0x90, 3, 0, 1, 0}, suback_no[] = {0x90, 3, 0, 1, 0x80};
    static const uint8_t pingresp[] = {0xd0, 0};
    assert_int_equal(mqtt_parse(connack_ok, 4, &ev), 4);
    assert_int_equal(ev.kind, PEER_EV_CONNECTED);
    assert_int_equal(mqtt_parse(connack_no, 4, &ev), 4);
    assert_int_equal(ev.kind, PEER_EV_REFUSED);
    assert_int_equal(mqtt_parse(suback_ok, 5, &ev), 5);
    assert_int_equal(ev.kind, PEER_EV_SUBSCRIBED);
    assert_int_equal(mqtt_parse(suback_no, 5, &ev), 5);
    assert_int_equal(ev.kind, PEER_EV_REFUSED);
    assert_int_equal(mqtt_parse(pingresp, 2, &ev), 2);
    assert_int_equal(ev.kind, PEER_EV_OTHER);
}

/* A QoS 1 PUBLISH carries a packet id after the topic; it is not data. */
static void test_parse_publish_qos1(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x32, 8, 0, 1, 't', 0, 7, 'x', 'y', 'z'};
    struct peer_event ev;
    assert_int_equal(mqtt_parse(in, sizeof in, &ev), sizeof in);
    assert_int_equal(ev.kind, PEER_EV_MSG);
    assert_int_equal(ev.data_len, 3);
    assert_memory_equal(ev.data, "xyz", 3);
}

static void test_parse_split(void **state)
{
    (void)state;
    uint8_t pkt[300], data[200];
    memset(data, 7, sizeof data);
    size_t n = mqtt_write_publish(pkt, sizeof pkt, "md/x", 4, data, sizeof data);
    struct peer_event ev;
    for (size_t len = 0; len < n; len++)
        assert_int_equal(mqtt_parse(pkt, len, &ev), PEER_INCOMPLETE);
    assert_int_equal(mqtt_parse(pkt, n, &ev), (ssize_t)n);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    struct peer_event ev;
    static const uint8_t long_len[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t topic_past_end[] = {0x30, 3, 0, 9, 'a'};
    static const uint8_t qos3[] = {0x36, 3, 0, 1, 'a'};
    static const uint8_t connack_len[] = {0x20, 3, 0, 0, 0};
    static const uint8_t unknown[] = {0xf0, 0};
    assert_int_equal(mqtt_parse(long_len, sizeof long_len, &ev), PEER_MALFORMED);
    assert_int_equal(mqtt_parse(topic_past_end, sizeof topic_past_end, &ev), PEER_MALFORMED);
    assert_int_equal(mqtt_parse(qos3, sizeof qos3, &ev), PEER_MALFORMED);
    assert_int_equal(mqtt_parse(connack_len, sizeof connack_len, &ev), PEER_MALFORMED);
    assert_int_equal(mqtt_parse(unknown, sizeof unknown, &ev), PEER_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_publish_lengths),
        cmocka_unit_test(test_parse_acks),
        cmocka_unit_test(test_parse_publish_qos1),
        cmocka_unit_test(test_parse_split),
        cmocka_unit_test(test_parse_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

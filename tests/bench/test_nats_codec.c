/*
 * test_nats_codec.c - the NATS codec of wsbroker-bench
 * (bench/wsbroker-bench/nats_codec.c): the bytes it writes, byte for byte,
 * and what it reads from server messages whole, split at every byte, and
 * malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nats_codec.h"

static void test_writers(void **state)
{
    (void)state;
    char out[256];
    size_t n = nats_write_sub(out, sizeof out, "md.AAPL", 7, 42);
    assert_int_equal(n, strlen("SUB md.AAPL 42\r\n"));
    assert_memory_equal(out, "SUB md.AAPL 42\r\n", n);
    n = nats_write_ping(out, sizeof out);
    assert_memory_equal(out, "PING\r\n", n);
    n = nats_write_pong(out, sizeof out);
    assert_memory_equal(out, "PONG\r\n", n);
    n = nats_write_connect(out, sizeof out);
    assert_true(n > 0 && strncmp(out, "CONNECT {", 9) == 0);
    assert_memory_equal(out + n - 3, "}\r\n", 3);
    assert_non_null(strstr(out, "\"verbose\":false"));
    const uint8_t data[] = {0, 1, '\r', '\n', 0xff};
    n = nats_write_pub((uint8_t *)out, sizeof out, "a.b", 3, data, sizeof data);
    assert_int_equal(n, strlen("PUB a.b 5\r\n") + 5 + 2);
    assert_memory_equal(out, "PUB a.b 5\r\n", 11);
    assert_memory_equal(out + 11, data, 5);
    assert_memory_equal(out + 16, "\r\n", 2);
    /* too small: 0, never a partial command */
    assert_int_equal(nats_write_pub((uint8_t *)out, 15, "a.b", 3, data, sizeof data), 0);
    assert_int_equal(nats_write_sub(out, 8, "md.AAPL", 7, 42), 0);
}

static void test_parse_msg(void **state)
{
    (void)state;
    static const char in[] = "MSG md.AAPL 9 5\r\nhe\r\nx\r\nPING\r\n";
    struct peer_event ev;
    ssize_t n = nats_parse((const uint8_t *)in, sizeof in - 1, &ev);
    assert_int_equal(n, strlen("MSG md.AAPL 9 5\r\nhe\r\nx\r\n"));
    assert_int_equal(ev.kind, PEER_EV_MSG);
    assert_int_equal(ev.topic_len, 7);
    assert_memory_equal(ev.topic, "md.AAPL", 7);
    assert_int_equal(ev.data_len, 5);
    assert_memory_equal(ev.data, "he\r\nx", 5); /* payload bytes are not parsed */
    n = nats_parse((const uint8_t *)in + n, sizeof in - 1 - (size_t)n, &ev);
    assert_int_equal(n, 6);
    assert_int_equal(ev.kind, PEER_EV_PING);
    /* with a reply subject */
    static const char reply[] = "MSG a 1 _INBOX.x 2\r\nok\r\n";
    assert_int_equal(nats_parse((const uint8_t *)reply, sizeof reply - 1, &ev), sizeof reply - 1);
    assert_int_equal(ev.data_len, 2);
    assert_memory_equal(ev.topic, "a", 1);
}

/* Every prefix of a complete message is incomplete, never an error. */
static void test_parse_split(void **state)
{
    (void)state;
    static const char in[] = "MSG md.AAPL 9 5\r\nhello\r\n";
    struct peer_event ev;
    for (size_t len = 0; len < sizeof in - 1; len++)
        assert_int_equal(nats_parse((const uint8_t *)in, len, &ev), PEER_INCOMPLETE);
    assert_int_equal(nats_parse((const uint8_t *)in, sizeof in - 1, &ev), sizeof in - 1);
}

static void test_parse_control(void **state)
{
    (void)state;
    struct peer_event ev;
    static const char info[] = "INFO {\"server_id\":\"x\"}\r\n";
    assert_int_equal(nats_parse((const uint8_t *)info, sizeof info - 1, &ev), sizeof info - 1);
    assert_int_equal(ev.kind, PEER_EV_OTHER);
    assert_int_equal(nats_parse((const uint8_t *)"PONG\r\n", 6, &ev), 6);
    assert_int_equal(ev.kind, PEER_EV_PONG);
    assert_int_equal(nats_parse((const uint8_t *)"+OK\r\n", 5, &ev), 5);
    assert_int_equal(ev.kind, PEER_EV_OTHER);
    static const char err[] = "-ERR 'Slow Consumer'\r\n";
    assert_int_equal(nats_parse((const uint8_t *)err, sizeof err - 1, &ev), sizeof err - 1);
    assert_int_equal(ev.kind, PEER_EV_REFUSED);
    assert_int_equal(ev.text_len, strlen(" 'Slow Consumer'"));
    assert_int_equal(nats_parse((const uint8_t *)"ping\r\n", 6, &ev), 6); /* any case */
    assert_int_equal(ev.kind, PEER_EV_PING);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    struct peer_event ev;
    static const char *const bad[] = {
        "HELLO\r\n",               /* unknown op */
        "MSG a 1\r\n",             /* no size */
        "MSG a 1 x\r\nx\r\n",      /* size not a number */
        "MSG a 1 b c 2\r\nok\r\n", /* too many arguments */
        "MSG a 1 2\r\nokXX",       /* payload not followed by CRLF */
        "PINGPONG\r\n",            /* op glued to more letters */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nats_parse((const uint8_t *)bad[i], strlen(bad[i]), &ev), PEER_MALFORMED);
    /* a control line longer than the limit with no end */
    static uint8_t line[NATS_MAX_CONTROL_LINE + 10];
    memset(line, 'A', sizeof line);
    assert_int_equal(nats_parse(line, sizeof line, &ev), PEER_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writers),         cmocka_unit_test(test_parse_msg),
        cmocka_unit_test(test_parse_split),     cmocka_unit_test(test_parse_control),
        cmocka_unit_test(test_parse_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_ws_upgrade.c - proves the client's reading of the 101 answer
 * (tools/client/ws_upgrade.c), which the client library and wsbroker-bench
 * share: accepted at every split point with the frames that follow left
 * alone, refused with the status line and what is wrong, and bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ws_upgrade.h"

#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static const char accepted_head[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                    "Upgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n"
                                    "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                                    "\r\n";

static enum handshake_answer read_text(const char *text, size_t len, struct handshake_response *out)
{
    return handshake_read_response(text, len, KEY, out);
}

static void test_accepted_with_a_frame_behind_it(void **state)
{
    (void)state;
    char bytes[sizeof accepted_head + 8];
    size_t head = sizeof accepted_head - 1;
    memcpy(bytes, accepted_head, head);
    memcpy(bytes + head, "\x81\x02hi", 4); /* a text frame in the same read */
    struct handshake_response out;
    assert_int_equal(read_text(bytes, head + 4, &out), HANDSHAKE_ACCEPTED);
    assert_int_equal(out.head_len, head);
    assert_string_equal(out.error, "");
}

static void test_incomplete_at_every_split_point(void **state)
{
    (void)state;
    size_t head = sizeof accepted_head - 1;
    for (size_t len = 0; len < head; len++) {
        struct handshake_response out;
        assert_int_equal(read_text(accepted_head, len, &out), HANDSHAKE_INCOMPLETE);
    }
}

static void test_refused_names_the_status_line(void **state)
{
    (void)state;
    static const char forbidden[] = "HTTP/1.1 403 Forbidden\r\n"
                                    "Content-Length: 0\r\n"
                                    "\r\n";
    struct handshake_response out;
    assert_int_equal(read_text(forbidden, sizeof forbidden - 1, &out), HANDSHAKE_REFUSED);
    assert_string_equal(out.error, "HTTP/1.1 403 Forbidden (no 101 Switching Protocols)");
}

static void test_refused_when_the_accept_key_is_wrong(void **state)
{
    (void)state;
    static const char wrong[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
                                "\r\n";
    struct handshake_response out;
    assert_int_equal(read_text(wrong, sizeof wrong - 1, &out), HANDSHAKE_REFUSED);
    assert_string_equal(out.error,
                        "HTTP/1.1 101 Switching Protocols (missing or wrong Sec-WebSocket-Accept)");
}

static void test_refused_without_upgrade_header(void **state)
{
    (void)state;
    static const char no_upgrade[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                     "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                                     "\r\n";
    struct handshake_response out;
    assert_int_equal(read_text(no_upgrade, sizeof no_upgrade - 1, &out), HANDSHAKE_REFUSED);
    assert_string_equal(out.error,
                        "HTTP/1.1 101 Switching Protocols (missing or wrong Upgrade header)");
}

static void test_a_long_status_line_leaves_room_for_the_reason(void **state)
{
    (void)state;
    char head[1024] = "HTTP/1.1 400 ";
    size_t len = strlen(head);
    memset(head + len, 'x', 500);
    len += 500;
    memcpy(head + len, "\r\n\r\n", 4);
    len += 4;
    struct handshake_response out;
    assert_int_equal(read_text(head, len, &out), HANDSHAKE_REFUSED);
    const char *reason = " (no 101 Switching Protocols)";
    size_t error_len = strlen(out.error);
    assert_int_equal(error_len, HANDSHAKE_STATUS_SHOWN + strlen(reason));
    assert_string_equal(out.error + HANDSHAKE_STATUS_SHOWN, reason);
}

static void test_a_head_of_exactly_the_limit_is_read(void **state)
{
    (void)state;
    /* accepted_head padded with a header to HANDSHAKE_MAX_RESPONSE bytes */
    static char head[HANDSHAKE_MAX_RESPONSE];
    size_t base = sizeof accepted_head - 1 - 2; /* without the final CRLF */
    memcpy(head, accepted_head, base);
    size_t pad = HANDSHAKE_MAX_RESPONSE - base - strlen("X-Pad: \r\n\r\n");
    memcpy(head + base, "X-Pad: ", 7);
    memset(head + base + 7, 'p', pad);
    memcpy(head + base + 7 + pad, "\r\n\r\n", 4);
    struct handshake_response out;
    assert_int_equal(read_text(head, sizeof head, &out), HANDSHAKE_ACCEPTED);
    assert_int_equal(out.head_len, HANDSHAKE_MAX_RESPONSE);
}

static void test_a_head_without_end_is_bounded(void **state)
{
    (void)state;
    static char endless[HANDSHAKE_MAX_RESPONSE + 16];
    memset(endless, 'x', sizeof endless);
    memcpy(endless, "HTTP/1.1 101 ", 13);
    struct handshake_response out;
    assert_int_equal(read_text(endless, HANDSHAKE_MAX_RESPONSE - 1, &out), HANDSHAKE_INCOMPLETE);
    assert_int_equal(read_text(endless, HANDSHAKE_MAX_RESPONSE, &out), HANDSHAKE_TOO_LONG);
    assert_string_equal(out.error, "the response head is over 4096 bytes");
    /* an end found past the limit is still too long */
    memcpy(endless + HANDSHAKE_MAX_RESPONSE + 2, "\r\n\r\n", 4);
    assert_int_equal(read_text(endless, sizeof endless, &out), HANDSHAKE_TOO_LONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_with_a_frame_behind_it),
        cmocka_unit_test(test_incomplete_at_every_split_point),
        cmocka_unit_test(test_refused_names_the_status_line),
        cmocka_unit_test(test_refused_when_the_accept_key_is_wrong),
        cmocka_unit_test(test_refused_without_upgrade_header),
        cmocka_unit_test(test_a_long_status_line_leaves_room_for_the_reason),
        cmocka_unit_test(test_a_head_of_exactly_the_limit_is_read),
        cmocka_unit_test(test_a_head_without_end_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

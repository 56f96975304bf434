/*
 * test_ring_loop.c - the load generator's send coalescing
 * (bench/wsbroker-bench/ring_loop.c), on a real socket pair: bytes a
 * connection queues after its send was prepared, but before the batch is
 * submitted, leave in that same send; bytes queued after the submit wait for
 * the send's completion and go in a second one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ring_loop.h"

struct fixture {
    struct ring_loop loop;
    struct ring_sock sock;
    int peer;
    int sends;     /* send completions seen */
    int last_sent; /* the bytes the last one took */
};

static uint64_t now_plus_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ms * 1000000ull;
}

static struct ring_sock *sock_of(void *ctx, uint32_t index)
{
    (void)index;
    return &((struct fixture *)ctx)->sock;
}

static void on_event(void *ctx, const struct ring_event *ev)
{
    struct fixture *f = ctx;
    if (ev->op == RING_OP_SEND) {
        f->sends++;
        f->last_sent = ev->res;
    }
}

/* Waits (at most a second) until n send completions have come. */
static void wait_sends(struct fixture *f, int n)
{
    uint64_t until = now_plus_ms(1000);
    while (f->sends < n && now_plus_ms(0) < until)
        ring_loop_wait(&f->loop, until, sock_of, on_event, f);
    assert_int_equal(f->sends, n);
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(ring_loop_init(&f.loop, 4, 4096), 0);
    f.sock.fd = fds[0];
    f.peer = fds[1];
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ring_sock_close(&f->loop, &f->sock);
    ring_loop_free(&f->loop);
    close(f->peer);
    return 0;
}

static void test_bytes_queued_before_the_submit_share_its_send(void **state)
{
    struct fixture *f = *state;
    static const char out[] = "ack 1;ack 2;ack 3;";
    ring_sock_send(&f->loop, &f->sock, out, 6);
    ring_sock_send(&f->loop, &f->sock, out, 12); /* more, same start */
    ring_sock_send(&f->loop, &f->sock, out, 18);
    wait_sends(f, 1);
    assert_int_equal(f->last_sent, 18);
    char in[64];
    assert_int_equal(read(f->peer, in, sizeof in), 18);
    assert_memory_equal(in, out, 18);
}

/* Fills the socket until it takes no more, so that a send stays in flight. */
static size_t fill_socket(int fd)
{
    static const char junk[4096];
    size_t filled = 0;
    ssize_t n;
    while ((n = send(fd, junk, sizeof junk, MSG_DONTWAIT)) > 0)
        filled += (size_t)n;
    return filled;
}

/* Reads exactly len bytes from fd into buf (NULL: discards them). */
static void read_exactly(int fd, char *buf, size_t len)
{
    char scratch[4096];
    while (len > 0) {
        char *to = buf ? buf : scratch;
        ssize_t n = read(fd, to, buf ? len : (len < sizeof scratch ? len : sizeof scratch));
        assert_true(n > 0);
        len -= (size_t)n;
        if (buf)
            buf += n;
    }
}

static void test_bytes_queued_after_the_submit_wait_for_the_completion(void **state)
{
    struct fixture *f = *state;
    static const char out[] = "first;second;";
    size_t filled = fill_socket(f->sock.fd);
    ring_sock_send(&f->loop, &f->sock, out, 6);
    /* Submitted; the full socket keeps it in flight, and the kernel owns
     * its SQE now. */
    ring_loop_wait(&f->loop, 0, sock_of, on_event, f);
    assert_int_equal(f->sends, 0);
    /* Its slot may hold another operation by now: it must stay untouched. */
    struct io_uring_sqe slot = *f->sock.send_sqe;
    ring_sock_send(&f->loop, &f->sock, out, 13);
    assert_memory_equal(&slot, f->sock.send_sqe, sizeof slot);
    read_exactly(f->peer, NULL, filled);
    wait_sends(f, 1);
    assert_int_equal(f->last_sent, 6);
    ring_sock_send(&f->loop, &f->sock, out + 6, 7); /* what the caller sends next */
    wait_sends(f, 2);
    assert_int_equal(f->last_sent, 7);
    char in[13];
    read_exactly(f->peer, in, sizeof in);
    assert_memory_equal(in, out, 13);
}

static void test_another_buffer_is_not_merged(void **state)
{
    struct fixture *f = *state;
    static const char a[] = "aaaa", b[] = "bbbbbbbb";
    ring_sock_send(&f->loop, &f->sock, a, 4);
    ring_sock_send(&f->loop, &f->sock, b, 8); /* not the same start: ignored */
    wait_sends(f, 1);
    assert_int_equal(f->last_sent, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bytes_queued_before_the_submit_share_its_send, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bytes_queued_after_the_submit_wait_for_the_completion,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_buffer_is_not_merged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

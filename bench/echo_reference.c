/*
 * echo_reference.c - the simplest WebSocket echo server we can write, as a
 * yardstick for wsbroker-bench echo (formerly bench/echo_load).
 *
 *   echo_reference [--listen ADDR:PORT] [--workers N]
 *
 * It exists to show what the echo scenario can drive on a given machine: if the load
 * generator reaches more messages per second against this server than against
 * wsbroker, the generator was not what limited the broker's numbers. So it
 * does only what /echo needs and nothing else: one epoll loop per worker over
 * its own SO_REUSEPORT listener, the opening handshake via proto/, and every
 * complete frame echoed back unmasked with its opcode (ping -> pong, close ->
 * close, then hang up). No fragmentation, UTF-8 or timeout handling; frames
 * larger than the receive buffer (16 KiB) end the connection.
 *
 * Logs `listening on ws://ADDR:PORT` on stderr like wsbroker; SIGTERM or
 * SIGINT stops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ws_frame.h"
#include "ws_handshake.h"
#include "ws_mask.h"

#define DEFAULT_LISTEN "127.0.0.1:0"
#define MAX_WORKERS    64
#define LISTEN_BACKLOG 4096
#define CONN_BUF_BYTES (16 * 1024) /* per connection, each direction; the largest frame */
#define EPOLL_BATCH    256
#define STOP_POLL_MS   100 /* how often a worker looks at the stop flag */

struct conn {
    int fd;
    bool open;       /* past the handshake */
    bool closing;    /* hang up once the output is flushed */
    bool want_write; /* EPOLLOUT registered */
    size_t in_len;
    size_t out_off, out_len;
    uint8_t in[CONN_BUF_BYTES];
    uint8_t out[CONN_BUF_BYTES];
};

struct worker {
    pthread_t tid;
    int listen_fd;
    int epfd;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void conn_drop(struct conn *c)
{
    close(c->fd);
    free(c);
}

static void conn_want_write(struct worker *w, struct conn *c, bool on)
{
    if (c->want_write == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = on;
}

/* Writes what it can; returns false when the connection is gone. */
static bool conn_flush(struct worker *w, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            conn_want_write(w, c, true);
            return true;
        } else {
            conn_drop(c);
            return false;
        }
    }
    c->out_off = c->out_len = 0;
    conn_want_write(w, c, false);
    if (c->closing) {
        conn_drop(c);
        return false;
    }
    return true;
}

/* Room for n output bytes at the end of c->out, or NULL (caller waits). */
static uint8_t *conn_out_room(struct conn *c, size_t n)
{
    if (sizeof c->out - c->out_len < n && c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    return sizeof c->out - c->out_len >= n ? c->out + c->out_len : NULL;
}

static void conn_handshake(struct conn *c)
{
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    ssize_t n = ws_handshake_parse((const char *)c->in, c->in_len, NULL, &req, &err);
    if (n == WS_HANDSHAKE_INCOMPLETE)
        return;
    size_t len =
        n > 0 ? ws_handshake_write_accept((char *)c->out, sizeof c->out, &req, NULL)
              : ws_handshake_write_error((char *)c->out, sizeof c->out, err.status, err.reason);
    c->out_len = len;
    if (n < 0 || len == 0) {
        c->closing = true;
        return;
    }
    memmove(c->in, c->in + n, c->in_len - (size_t)n);
    c->in_len -= (size_t)n;
    c->open = true;
}

/* Echoes one complete frame; false when there is no room for it yet. */
static bool conn_echo_frame(struct conn *c, struct ws_frame *f)
{
    if (f->opcode == WS_OP_PONG)
        return true; /* a pong needs no answer */
    uint8_t opcode = f->opcode == WS_OP_PING ? WS_OP_PONG : f->opcode;
    uint8_t *dst = conn_out_room(c, WS_SERVER_FRAME_MAX_HEADER + f->payload_len);
    if (dst == NULL)
        return false;
    size_t h = ws_frame_write_header(dst, f->payload_len, opcode, true, NULL);
    memcpy(dst + h, f->payload, f->payload_len);
    if (f->masked)
        ws_unmask(dst + h, f->payload_len, f->mask, 0);
    c->out_len += h + f->payload_len;
    if (opcode == WS_OP_CLOSE)
        c->closing = true;
    return true;
}

/* Echoes every complete frame in c->in that fits in the output; returns
 * false when the connection must be dropped. */
static bool conn_echo_frames(struct conn *c)
{
    size_t off = 0;
    while (!c->closing) {
        struct ws_frame f;
        memset(&f, 0, sizeof f);
        ssize_t n = ws_frame_parse(c->in + off, c->in_len - off, &f);
        if (n == WS_FRAME_INCOMPLETE && f.header_len + f.payload_len > sizeof c->in)
            return false;
        if (n == WS_FRAME_INCOMPLETE)
            break;
        if (n < 0 || !f.fin)
            return false;
        if (!conn_echo_frame(c, &f))
            break;
        off += (size_t)n;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return true;
}

static void conn_on_event(struct worker *w, struct conn *c, uint32_t events)
{
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->in_len < sizeof c->in) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_drop(c);
            return;
        }
        if (n > 0)
            c->in_len += (size_t)n;
    }
    if (c->out_off < c->out_len && !conn_flush(w, c))
        return;
    if (!c->open && !c->closing)
        conn_handshake(c);
    if (c->open && !conn_echo_frames(c)) {
        conn_drop(c);
        return;
    }
    conn_flush(w, c);
}

static void worker_accept(struct worker *w)
{
    for (;;) {
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the kernel queue keeps it */
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Connections still open at stop are left to process exit. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[EPOLL_BATCH];
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listen_fd, &lev);
    while (!g_stop) {
        int n = epoll_wait(w->epfd, evs, EPOLL_BATCH, STOP_POLL_MS);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                worker_accept(w);
            else
                conn_on_event(w, evs[i].data.ptr, evs[i].events);
        }
    }
    return NULL;
}

/* Binds a listener on addr (port 0 is filled in with the one chosen). */
static int listen_on(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = sizeof *addr;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
        perror("echo_reference: listen");
        exit(1);
    }
    return fd;
}

static void parse_listen(const char *s, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host) {
        fprintf(stderr, "echo_reference: --listen: expected IPV4:PORT, got '%s'\n", s);
        exit(2);
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (*end != '\0' || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
        fprintf(stderr, "echo_reference: --listen: expected IPV4:PORT, got '%s'\n", s);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_arg = DEFAULT_LISTEN;
    int nworkers = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'l') {
            listen_arg = optarg;
        } else if (opt == 'w' && atoi(optarg) >= 1 && atoi(optarg) <= MAX_WORKERS) {
            nworkers = atoi(optarg);
        } else {
            fprintf(stderr, "usage: echo_reference [--listen IPV4:PORT] [--workers 1..%d]\n",
                    MAX_WORKERS);
            return 2;
        }
    }
    struct sockaddr_in addr;
    parse_listen(listen_arg, &addr);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct worker workers[MAX_WORKERS];
    for (int i = 0; i < nworkers; i++) {
        workers[i].listen_fd = listen_on(&addr); /* later ones reuse the chosen port */
        workers[i].epfd = epoll_create1(EPOLL_CLOEXEC);
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    fprintf(stderr, "echo_reference: listening on ws://%s:%u\n", ip, ntohs(addr.sin_port));
    for (int i = 0; i < nworkers; i++)
        pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i].tid, NULL);
    return 0;
}

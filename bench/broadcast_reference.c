/*
 * broadcast_reference.c - the simplest WebSocket broadcast server we can
 * write, as a yardstick for wsbroker-bench's fan-out (`--adapter raw`).
 *
 *   broadcast_reference [--listen IPV4:PORT] [--max-queue BYTES]
 *
 * It shows what the load generator can take in on a given machine: every
 * complete data frame a client sends is framed once (unmasked, same opcode)
 * and that one pre-encoded frame is written to every other connection. No
 * topics, no envelopes, no sequencing, no per-subscriber state beyond an
 * output buffer. If wsbroker-bench delivers more messages per second from
 * this server than from wsbroker in the same configuration, the generator was
 * not what limited wsbroker's figure.
 *
 * One thread, one epoll loop, level-triggered. A connection whose unsent
 * output passes --max-queue (default 4 MiB) is dropped, like a slow
 * consumer. Frames larger than the receive buffer (64 KiB) end the
 * connection. Logs `listening on ws://ADDR:PORT` on stderr like wsbroker;
 * SIGTERM or SIGINT stops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/* An unmasked frame of payload into out (WS_FRAME_MAX_HEADER + len bytes);
 * returns its length. */
static size_t frame_encode_server(uint8_t *out, const uint8_t *payload, size_t len, uint8_t op)
{
    size_t h = ws_frame_write_header(out, len, op, true, NULL);
    memmove(out + h, payload, len);
    return h + len;
}
#include "ws_handshake.h"
#include "ws_mask.h"

#define DEFAULT_LISTEN    "127.0.0.1:0"
#define DEFAULT_MAX_QUEUE (4u << 20) /* unsent bytes per connection before it is dropped */
#define LISTEN_BACKLOG    4096
#define IN_BYTES          (64 * 1024) /* per connection: the largest frame */
#define EPOLL_BATCH       256
#define STOP_POLL_MS      100
#define MAX_CONNS         100000

struct conn {
    int fd;
    bool dropped; /* closed; freed after the current epoll batch */
    struct conn *next_dropped;
    uint32_t slot;   /* index in g_conns */
    bool open;       /* past the handshake */
    bool want_write; /* EPOLLOUT registered */
    size_t in_len;
    uint8_t in[IN_BYTES];
    uint8_t *out; /* unsent bytes [out_off, out_len); grows up to max_queue */
    size_t out_off, out_len, out_cap;
};

static struct conn *g_conns[MAX_CONNS];
static struct conn *g_dropped; /* freed after each batch: later events may name them */
static uint32_t g_nconns;
static int g_epfd;
static size_t g_max_queue = DEFAULT_MAX_QUEUE;
static uint8_t *g_frame; /* the broadcast frame being written to everyone */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void conn_drop(struct conn *c)
{
    if (c->dropped)
        return;
    close(c->fd);
    g_conns[c->slot] = g_conns[--g_nconns];
    g_conns[c->slot]->slot = c->slot;
    c->dropped = true;
    c->next_dropped = g_dropped;
    g_dropped = c;
}

static void free_dropped(void)
{
    while (g_dropped != NULL) {
        struct conn *c = g_dropped;
        g_dropped = c->next_dropped;
        free(c->out);
        free(c);
    }
}

static void conn_want_write(struct conn *c, bool on)
{
    if (c->want_write == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = on;
}

/* Writes what is queued; false when the connection was dropped. */
static bool conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            conn_want_write(c, true);
            return true;
        } else {
            conn_drop(c);
            return false;
        }
    }
    c->out_off = c->out_len = 0;
    conn_want_write(c, false);
    return true;
}

/* Appends bytes to c's output; false (and c dropped) past --max-queue. */
static bool conn_queue(struct conn *c, const uint8_t *bytes, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len - c->out_off + len > g_max_queue) {
        conn_drop(c);
        return false;
    }
    if (c->out_cap - c->out_len < len) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_cap - c->out_len < len) {
            size_t cap = c->out_cap ? c->out_cap : 4096;
            while (cap - c->out_len < len)
                cap *= 2;
            uint8_t *out = realloc(c->out, cap);
            if (out == NULL) {
                conn_drop(c);
                return false;
            }
            c->out = out;
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, bytes, len);
    c->out_len += len;
    return true;
}

/* Queues the one pre-encoded frame for every open connection but the
 * sender; flush_all writes them once the sender's whole read is handled, so
 * a read of many frames costs each receiver one send(). */
static void broadcast(const struct conn *from, const uint8_t *frame, size_t len)
{
    for (uint32_t i = 0; i < g_nconns;) {
        struct conn *c = g_conns[i];
        if (c != from && c->open && !conn_queue(c, frame, len))
            continue; /* dropped: slot i now holds another connection */
        i++;
    }
}

/* Writes every connection's queued output that is not waiting for EPOLLOUT. */
static void flush_all(void)
{
    for (uint32_t i = 0; i < g_nconns;) {
        struct conn *c = g_conns[i];
        if (c->out_len > c->out_off && !c->want_write && !conn_flush(c))
            continue;
        i++;
    }
}

static void conn_handshake(struct conn *c)
{
    struct ws_handshake_request req;
    struct ws_handshake_error err;
    ssize_t n = ws_handshake_parse((const char *)c->in, c->in_len, NULL, &req, &err);
    if (n == WS_HANDSHAKE_INCOMPLETE)
        return;
    char resp[1024];
    size_t len = n > 0 ? ws_handshake_write_accept(resp, sizeof resp, &req, NULL)
                       : ws_handshake_write_error(resp, sizeof resp, err.status, err.reason);
    if (n < 0 || len == 0) { /* refused: the error response, then hang up */
        send(c->fd, resp, len, MSG_NOSIGNAL);
        conn_drop(c);
        return;
    }
    if (!conn_queue(c, (const uint8_t *)resp, len))
        return;
    memmove(c->in, c->in + n, c->in_len - (size_t)n);
    c->in_len -= (size_t)n;
    c->open = true;
}

/* Handles the complete frames in c->in; false when c was dropped. */
static bool conn_read_frames(struct conn *c)
{
    size_t off = 0;
    for (;;) {
        struct ws_frame f;
        memset(&f, 0, sizeof f);
        ssize_t n = ws_frame_parse(c->in + off, c->in_len - off, &f);
        if (n == WS_FRAME_INCOMPLETE && f.header_len + f.payload_len <= sizeof c->in)
            break;
        if (n <= 0 || !f.masked) {
            conn_drop(c);
            return false;
        }
        uint8_t *payload = (uint8_t *)f.payload;
        ws_unmask(payload, (size_t)f.payload_len, f.mask, 0);
        if (f.opcode == WS_OP_CLOSE) {
            size_t len = frame_encode_server(g_frame, payload, (size_t)f.payload_len, WS_OP_CLOSE);
            send(c->fd, g_frame, len, MSG_NOSIGNAL);
            conn_drop(c);
            return false;
        }
        if (f.opcode == WS_OP_PING || f.opcode == WS_OP_BINARY || f.opcode == WS_OP_TEXT) {
            uint8_t op = f.opcode == WS_OP_PING ? WS_OP_PONG : f.opcode;
            size_t len = frame_encode_server(g_frame, payload, (size_t)f.payload_len, op);
            if (op == WS_OP_PONG) {
                if (!conn_queue(c, g_frame, len))
                    return false;
            } else {
                broadcast(c, g_frame, len);
            }
        }
        off += (size_t)n;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return true;
}

static void conn_on_event(struct conn *c, uint32_t events)
{
    if (c->dropped)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_drop(c);
            return;
        }
        if (n > 0) {
            c->in_len += (size_t)n;
            if (!c->open) {
                conn_handshake(c);
                if (!c->open)
                    return;
            }
            bool alive = conn_read_frames(c);
            flush_all();
            if (!alive)
                return;
        }
    }
    conn_flush(c);
}

static void accept_all(int listen_fd)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct conn *c = g_nconns < MAX_CONNS ? calloc(1, sizeof *c) : NULL;
        if (c == NULL) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->slot = g_nconns;
        g_conns[g_nconns++] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void parse_listen(const char *s, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || (size_t)(colon - s) >= sizeof host || *end != '\0' || port < 0 ||
        port > 65535) {
        fprintf(stderr, "broadcast_reference: --listen: expected IPV4:PORT, got '%s'\n", s);
        exit(2);
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
        fprintf(stderr, "broadcast_reference: --listen: '%s' is not an IPv4 address\n", host);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"max-queue", required_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_arg = DEFAULT_LISTEN;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'l') {
            listen_arg = optarg;
        } else if (opt == 'q' && atol(optarg) >= 4096) {
            g_max_queue = (size_t)atol(optarg);
        } else {
            fprintf(stderr, "usage: broadcast_reference [--listen IPV4:PORT] "
                            "[--max-queue BYTES (>= 4096)]\n");
            return 2;
        }
    }
    struct sockaddr_in addr;
    parse_listen(listen_arg, &addr);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    g_frame = malloc(WS_FRAME_MAX_HEADER + IN_BYTES);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t alen = sizeof addr;
    if (g_frame == NULL || lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, LISTEN_BACKLOG) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("broadcast_reference: listen");
        return 1;
    }
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, lfd, &lev);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    fprintf(stderr, "broadcast_reference: listening on ws://%s:%u\n", ip, ntohs(addr.sin_port));
    struct epoll_event evs[EPOLL_BATCH];
    while (!g_stop) {
        int n = epoll_wait(g_epfd, evs, EPOLL_BATCH, STOP_POLL_MS);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                accept_all(lfd);
            else
                conn_on_event(evs[i].data.ptr, evs[i].events);
        }
        free_dropped();
    }
    while (g_nconns > 0)
        conn_drop(g_conns[0]);
    free_dropped();
    close(lfd);
    close(g_epfd);
    free(g_frame);
    return 0;
}

/*
 * transport.c - TCP + optional TLS + the WebSocket upgrade for the client
 * (see transport.h).
 *
 * URL parsing (ws_target.c), the TLS session setup and its recv/send contract
 * (tls_client.c), and the upgrade request and 101 check (ws_upgrade.c) are
 * the library's pieces wsbroker-bench uses too; this file adds what a long-lived client needs on
 * top: deadlines, trying every resolved address, certificate verification
 * by default (system store), client certificates, and the Authorization
 * header.
 */
#include "transport.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "envelope.h"
#include "tls_client.h"
#include "ws_target.h"
#include "ws_upgrade.h"

#define NS_PER_MS 1000000ull

uint64_t transport_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Milliseconds left until deadline, for poll(); 0 once it passed. */
static int ms_until(uint64_t deadline_ns)
{
    uint64_t now = transport_now_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Waits for events on fd; false on timeout. */
static bool wait_fd(int fd, short events, uint64_t deadline_ns)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int rc = poll(&p, 1, ms_until(deadline_ns));
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        if (errno != EINTR)
            return true; /* let the following read/write report the error */
    }
}

enum wsb_client_status transport_parse_url(struct transport_target *t, const char *url, char *why,
                                           size_t why_cap)
{
    struct target lt;
    memset(&lt, 0, sizeof lt);
    const char *err = url ? target_parse_url(&lt, url) : "no URL given";
    if (err == NULL && strspn(lt.port, "0123456789") != strlen(lt.port))
        err = "the port in the URL is not a number";
    if (err == NULL && (atoi(lt.port) < 1 || atoi(lt.port) > 65535))
        err = "the port in the URL is out of range (1-65535)";
    if (err != NULL) {
        snprintf(why, why_cap, "bad URL '%s': %s (expected ws://host[:port][/path] or wss://...)",
                 url ? url : "", err);
        return WSB_CLIENT_ERR_ARG;
    }
    memcpy(t->host, lt.host, sizeof t->host);
    memcpy(t->port, lt.port, sizeof t->port);
    /* target_parse_url writes "/" for an empty path: the protocol's is /v1 */
    const char *rest = strstr(url, "://") + 3;
    bool has_path = strchr(rest, '/') != NULL;
    snprintf(t->path, sizeof t->path, "%s", has_path ? lt.path : "/v1");
    t->tls = lt.tls;
    return WSB_CLIENT_OK;
}

static const char *tls_error_text(int err, char *buf)
{
    return wolfSSL_ERR_error_string((unsigned long)err, buf);
}

struct WOLFSSL_CTX *transport_tls_ctx_new(const char *ca_file, const char *cert_file,
                                          const char *key_file, char *why, size_t why_cap)
{
    char msg[WOLFSSL_MAX_ERROR_SZ];
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        snprintf(why, why_cap, "TLS: wolfSSL_Init failed");
        return NULL;
    }
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLS_client_method());
    if (ctx == NULL) {
        snprintf(why, why_cap, "TLS: cannot create a client context");
        return NULL;
    }
    int rc = ca_file ? wolfSSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : wolfSSL_CTX_load_system_CA_certs(ctx);
    if (rc != WOLFSSL_SUCCESS) {
        snprintf(why, why_cap, "TLS: cannot load CA certificates from %s: %s",
                 ca_file ? ca_file : "the system store", tls_error_text(rc, msg));
        goto fail;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    if ((cert_file == NULL) != (key_file == NULL)) {
        snprintf(why, why_cap, "TLS: a client certificate needs both a cert and a key file");
        goto fail;
    }
    if (cert_file != NULL) {
        rc = wolfSSL_CTX_use_certificate_chain_file(ctx, cert_file);
        if (rc != WOLFSSL_SUCCESS) {
            snprintf(why, why_cap, "TLS: cannot load client certificate %s: %s", cert_file,
                     tls_error_text(rc, msg));
            goto fail;
        }
        rc = wolfSSL_CTX_use_PrivateKey_file(ctx, key_file, WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) {
            snprintf(why, why_cap, "TLS: cannot load client key %s: %s", key_file,
                     tls_error_text(rc, msg));
            goto fail;
        }
    }
    return ctx;
fail:
    wolfSSL_CTX_free(ctx);
    return NULL;
}

void transport_tls_ctx_free(struct WOLFSSL_CTX *ctx)
{
    if (ctx != NULL)
        wolfSSL_CTX_free(ctx);
}

/* TCP to the first address of t that accepts, before the deadline. */
static enum wsb_client_status connect_tcp(struct transport *tr, const struct transport_target *t,
                                          uint64_t deadline_ns, char *why, size_t why_cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0) {
        snprintf(why, why_cap, "cannot resolve %s:%s: %s", t->host, t->port, gai_strerror(rc));
        return WSB_CLIENT_ERR_CONNECT;
    }
    int last_errno = 0;
    bool timed_out = false;
    for (struct addrinfo *ai = res; ai != NULL && tr->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int err = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                err = errno;
            } else if (!wait_fd(fd, POLLOUT, deadline_ns)) {
                timed_out = true;
                close(fd);
                break;
            } else {
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            }
        }
        if (err != 0) {
            last_errno = err;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        tr->fd = fd;
    }
    freeaddrinfo(res);
    if (tr->fd >= 0)
        return WSB_CLIENT_OK;
    if (timed_out) {
        snprintf(why, why_cap, "cannot connect to %s:%s: timed out", t->host, t->port);
        return WSB_CLIENT_ERR_TIMEOUT;
    }
    snprintf(why, why_cap, "cannot connect to %s:%s: %s", t->host, t->port, strerror(last_errno));
    return WSB_CLIENT_ERR_CONNECT;
}

static enum wsb_client_status handshake_tls(struct transport *tr, const struct transport_target *t,
                                            uint64_t deadline_ns, char *why, size_t why_cap)
{
    struct target lt = {.tls = true};
    memcpy(lt.host, t->host, sizeof lt.host);
    tr->ssl = tls_conn_new(tr->ctx, tr->fd, &lt, true);
    if (tr->ssl == NULL) {
        snprintf(why, why_cap, "TLS: cannot create a session");
        return WSB_CLIENT_ERR_TLS;
    }
    char step_why[256];
    for (;;) {
        enum tls_step st = tls_connect_step(tr->ssl, step_why, sizeof step_why);
        if (st == TLS_STEP_DONE)
            return WSB_CLIENT_OK;
        if (st == TLS_STEP_FAILED) {
            snprintf(why, why_cap, "TLS with %s:%s failed: %s", t->host, t->port, step_why);
            return WSB_CLIENT_ERR_TLS;
        }
        if (!wait_fd(tr->fd, st == TLS_STEP_WANT_READ ? POLLIN : POLLOUT, deadline_ns)) {
            snprintf(why, why_cap, "TLS with %s:%s: handshake timed out", t->host, t->port);
            return WSB_CLIENT_ERR_TIMEOUT;
        }
    }
}

enum wsb_client_status transport_send(struct transport *tr, const void *buf, size_t len,
                                      uint64_t deadline_ns, char *why, size_t why_cap)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = stream_send(tr->fd, tr->ssl, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(tr->fd, tr->ssl ? POLLIN | POLLOUT : POLLOUT, deadline_ns)) {
                snprintf(why, why_cap, "sending timed out");
                return WSB_CLIENT_ERR_TIMEOUT;
            }
            continue;
        }
        snprintf(why, why_cap, "connection lost while sending: %s",
                 errno ? strerror(errno) : "closed");
        return WSB_CLIENT_ERR_CLOSED;
    }
    return WSB_CLIENT_OK;
}

ssize_t transport_recv(struct transport *tr, void *buf, size_t cap, uint64_t deadline_ns, char *why,
                       size_t why_cap)
{
    if (tr->fd < 0) {
        snprintf(why, why_cap, "not connected");
        return -1;
    }
    for (;;) {
        ssize_t n = stream_recv(tr->fd, tr->ssl, buf, cap);
        if (n > 0)
            return n;
        if (n == 0) {
            snprintf(why, why_cap, "the broker closed the connection");
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(why, why_cap, "connection lost: %s",
                     errno == EPROTO ? "TLS error" : strerror(errno));
            return -1;
        }
        if (tls_has_pending(tr->ssl))
            continue;
        if (!wait_fd(tr->fd, POLLIN, deadline_ns))
            return 0;
    }
}

/* Writes the upgrade request with a fresh key. */
static size_t write_upgrade(char *out, size_t cap, const struct transport_target *t,
                            const char *token, char key[HANDSHAKE_KEY_LEN + 1])
{
    uint8_t raw[HANDSHAKE_KEY_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) /* a key, not a secret */
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (uint8_t)(transport_now_ns() >> (i % 8 * 8));
    struct handshake_request req = {.host = t->host,
                                    .port = t->port,
                                    .path = t->path,
                                    .subprotocol = WSB_SUBPROTOCOL,
                                    .token = token};
    return handshake_write_request(out, cap, &req, raw, key);
}

static enum wsb_client_status upgrade(struct transport *tr, const struct transport_target *t,
                                      const char *token, uint64_t deadline_ns, uint8_t *extra,
                                      size_t extra_cap, size_t *extra_len, char *why,
                                      size_t why_cap)
{
    char req[2048], key[HANDSHAKE_KEY_LEN + 1];
    if (token != NULL && strpbrk(token, "\r\n") != NULL) {
        snprintf(why, why_cap, "the token must not contain line breaks");
        return WSB_CLIENT_ERR_ARG;
    }
    size_t len = write_upgrade(req, sizeof req, t, token, key);
    if (len == 0) {
        snprintf(why, why_cap, "the upgrade request is too long (path or token)");
        return WSB_CLIENT_ERR_ARG;
    }
    enum wsb_client_status st = transport_send(tr, req, len, deadline_ns, why, why_cap);
    if (st != WSB_CLIENT_OK)
        return st;
    char resp[HANDSHAKE_MAX_RESPONSE];
    size_t got = 0;
    for (;;) {
        char rwhy[128];
        ssize_t n = transport_recv(tr, resp + got, HANDSHAKE_MAX_RESPONSE - got, deadline_ns, rwhy,
                                   sizeof rwhy);
        if (n == 0) {
            snprintf(why, why_cap, "no WebSocket upgrade answer from %s:%s in time", t->host,
                     t->port);
            return WSB_CLIENT_ERR_TIMEOUT;
        }
        if (n < 0) {
            snprintf(why, why_cap, "WebSocket upgrade to %s:%s%s failed: %s", t->host, t->port,
                     t->path, rwhy);
            return WSB_CLIENT_ERR_CONNECT;
        }
        got += (size_t)n;
        struct handshake_response answer;
        enum handshake_answer a = handshake_read_response(resp, got, key, &answer);
        if (a == HANDSHAKE_INCOMPLETE)
            continue;
        if (a != HANDSHAKE_ACCEPTED) {
            snprintf(why, why_cap, "WebSocket upgrade to %s:%s%s refused: %s", t->host, t->port,
                     t->path, answer.error);
            return a == HANDSHAKE_TOO_LONG ? WSB_CLIENT_ERR_PROTOCOL : WSB_CLIENT_ERR_CONNECT;
        }
        size_t head = answer.head_len;
        size_t rest = got - head;
        if (rest > extra_cap) {
            snprintf(why, why_cap, "too many bytes after the upgrade answer");
            return WSB_CLIENT_ERR_PROTOCOL;
        }
        memcpy(extra, resp + head, rest);
        *extra_len = rest;
        return WSB_CLIENT_OK;
    }
}

enum wsb_client_status transport_open(struct transport *tr, const struct transport_target *t,
                                      struct WOLFSSL_CTX *ctx, const char *token,
                                      uint64_t deadline_ns, uint8_t *extra, size_t extra_cap,
                                      size_t *extra_len, char *why, size_t why_cap)
{
    signal(SIGPIPE, SIG_IGN); /* wolfSSL's socket writes do not pass MSG_NOSIGNAL */
    *tr = (struct transport){.fd = -1, .ssl = NULL, .ctx = ctx};
    enum wsb_client_status st = connect_tcp(tr, t, deadline_ns, why, why_cap);
    if (st == WSB_CLIENT_OK && t->tls)
        st = handshake_tls(tr, t, deadline_ns, why, why_cap);
    if (st == WSB_CLIENT_OK)
        st = upgrade(tr, t, token, deadline_ns, extra, extra_cap, extra_len, why, why_cap);
    if (st != WSB_CLIENT_OK)
        transport_close(tr);
    return st;
}

void transport_shutdown(struct transport *tr)
{
    if (tr->fd >= 0)
        shutdown(tr->fd, SHUT_RDWR);
}

void transport_close(struct transport *tr)
{
    tls_conn_free(&tr->ssl);
    if (tr->fd >= 0)
        close(tr->fd);
    tr->fd = -1;
}

/*
 * transport.h - one client connection's byte stream: TCP (with a connect
 * timeout), optionally TLS over it (wolfSSL), and the WebSocket opening
 * handshake on top. Below the client state machine (wsb_client.c), above the
 * socket. Every call is bounded by a deadline (CLOCK_MONOTONIC ns).
 *
 * The socket is non-blocking; waits are poll(). Errors come back as an
 * enum wsb_client_status plus a sentence in the caller's `why` buffer.
 */
#ifndef WSB_CLIENT_TRANSPORT_H
#define WSB_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wsb_client.h"

struct WOLFSSL_CTX;
struct WOLFSSL;

/* Where to connect: the parsed URL (ws[s]://host[:port][/path]). */
struct transport_target {
    char host[256];
    char port[8];
    char path[1024]; /* "/v1" when the URL has none */
    int tls;
};

struct transport {
    int fd;                  /* -1 when closed */
    struct WOLFSSL *ssl;     /* NULL for ws:// */
    struct WOLFSSL_CTX *ctx; /* borrowed from the client (shared by reconnects) */
};

/* Parses url. Returns WSB_CLIENT_OK, or WSB_CLIENT_ERR_ARG with why set. */
enum wsb_client_status transport_parse_url(struct transport_target *t, const char *url, char *why,
                                           size_t why_cap);

/* A TLS client context: verifies the server against ca_file (or the system
 * trust store when NULL) and presents cert_file/key_file when given. Returns
 * NULL with why set. Free with transport_tls_ctx_free. */
struct WOLFSSL_CTX *transport_tls_ctx_new(const char *ca_file, const char *cert_file,
                                          const char *key_file, char *why, size_t why_cap);
void transport_tls_ctx_free(struct WOLFSSL_CTX *ctx);

/*
 * Connects, runs TLS when t->tls, and completes the WebSocket upgrade
 * (offering the wsbroker.v1 subprotocol, with `Authorization: Bearer token`
 * when token is not NULL). Bytes the server sent after the 101 head are
 * copied to extra (at most extra_cap; *extra_len says how many).
 */
enum wsb_client_status transport_open(struct transport *tr, const struct transport_target *t,
                                      struct WOLFSSL_CTX *ctx, const char *token,
                                      uint64_t deadline_ns, uint8_t *extra, size_t extra_cap,
                                      size_t *extra_len, char *why, size_t why_cap);

/* Writes all of buf before the deadline. */
enum wsb_client_status transport_send(struct transport *tr, const void *buf, size_t len,
                                      uint64_t deadline_ns, char *why, size_t why_cap);

/* Reads what is available, waiting until the deadline for something: > 0
 * bytes, 0 on timeout, -1 when the connection ended or failed (why set). */
ssize_t transport_recv(struct transport *tr, void *buf, size_t cap, uint64_t deadline_ns, char *why,
                       size_t why_cap);

/* Cuts the connection without a closing handshake (reconnect tests use it
 * to simulate a network failure). */
void transport_shutdown(struct transport *tr);

void transport_close(struct transport *tr);

/* CLOCK_MONOTONIC in ns. */
uint64_t transport_now_ns(void);

#endif

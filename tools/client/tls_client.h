/*
 * tls_client.h - the client side of TLS for wss:// (wolfSSL over a
 * non-blocking socket, wolfSSL's own socket I/O): a context, a session per
 * connection, a non-blocking handshake step, and recv()/send() contracts over
 * the session. One copy for the client library (transport.c) and
 * wsbroker-bench, which links wsbclient for it.
 *
 * Ownership: the caller owns the context and each session (free them with
 * tls_client_ctx_free / tls_conn_free); a session borrows the socket.
 */
#ifndef WSB_CLIENT_TLS_CLIENT_H
#define WSB_CLIENT_TLS_CLIENT_H

/* wolfSSL wants its build options before anything else of its own. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ws_target.h"

/* A client context for every connection of the run. With ca_file the server's
 * chain must verify against it (and a host name in the URL must match the
 * certificate); without, nothing is verified and a warning says so. Returns
 * NULL after printing why. */
WOLFSSL_CTX *tls_client_ctx_new(const char *prog, const char *ca_file);

/* Frees the context made by tls_client_ctx_new (NULL is fine) and wolfSSL's
 * global state; after every thread that used it is done. */
void tls_client_ctx_free(WOLFSSL_CTX *ctx);

/* A thread that ran TLS handshakes calls this before it exits: wolfSSL keeps
 * a per-thread cache of ECC points (FP_ECC) that nothing else frees. */
void tls_thread_end(void);

/* A TLS session over the non-blocking socket fd (wolfSSL's own socket I/O),
 * or NULL. With verify, a host that is a name must match the certificate
 * (IP literals are left to the chain check). */
WOLFSSL *tls_conn_new(WOLFSSL_CTX *ctx, int fd, const struct target *t, bool verify);

/* Ends a session: one non-blocking close_notify attempt, then frees it. */
void tls_conn_free(WOLFSSL **ssl);

/* wss:// reads per readiness event before a connection must yield to the
 * others (it still drains what wolfSSL holds). */
#define TLS_READ_BUDGET 64

enum tls_step { TLS_STEP_DONE, TLS_STEP_WANT_READ, TLS_STEP_WANT_WRITE, TLS_STEP_FAILED };

/* One non-blocking go at the TLS handshake; on failure why says what. */
enum tls_step tls_connect_step(WOLFSSL *ssl, char *why, size_t why_cap);

/* recv()'s contract over TLS: > 0 bytes, 0 at the end of the stream
 * (close_notify or TCP end), -1 with errno EAGAIN when wolfSSL wants the
 * socket again, else -1 with errno EPROTO. */
ssize_t tls_recv(WOLFSSL *ssl, void *buf, size_t cap);

/* send()'s contract over TLS. After -1/EAGAIN the caller must offer the same
 * bytes again (more may follow them): wolfSSL has already taken some. */
ssize_t tls_send(WOLFSSL *ssl, const void *buf, size_t len);

/* Whether wolfSSL holds received bytes (decrypted or not) that a read would
 * return without the socket becoming readable again: a poll will not report
 * them, so a reader must go on reading while this is true. */
bool tls_has_pending(WOLFSSL *ssl);

/* The socket, or TLS over it when ssl is set. */
ssize_t stream_recv(int fd, WOLFSSL *ssl, void *buf, size_t cap);

ssize_t stream_send(int fd, WOLFSSL *ssl, const void *buf, size_t len);

#endif

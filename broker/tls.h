/*
 * tls.h - wss:// with wolfSSL, driven by the io_uring workers.
 *
 * wolfSSL never touches a socket: its I/O callbacks read ciphertext from the
 * receive buffer the worker lends to the connection, and write ciphertext
 * into pooled outbufs on the connection's send queue. So the handshake is
 * non-blocking by construction and TLS rides the same io_uring path as
 * plain ws://. The server context (certificate, key, CA, versions) is shared
 * by all workers and replaced as a whole on SIGHUP.
 */
#ifndef WSB_TLS_H
#define WSB_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct conn;

struct tls_server {
    const struct broker_config *cfg;
    _Atomic(void *) ctx; /* WOLFSSL_CTX *, current */
    void **retired;      /* contexts replaced by reloads, freed at exit */
    unsigned retired_count;
};

/* Loads the certificate, key and CA named in cfg. Returns 0, or -1 with a
 * message naming the file and the problem in err. */
int tls_server_init(struct tls_server *t, const struct broker_config *cfg, char *err,
                    size_t err_len);
/* Builds a new context from the same files and swaps it in; connections
 * already open keep theirs. Returns 0, or -1 (the old one stays) with err. */
int tls_server_reload(struct tls_server *t, char *err, size_t err_len);
void tls_server_destroy(struct tls_server *t);

/* Frees what wolfSSL caches per thread (the ECC fixed-point cache); called
 * by each worker thread before it exits. */
void tls_thread_cleanup(void);

/* Starts TLS on a new connection. Returns 0 or -1 (out of memory). */
int tls_conn_start(struct tls_server *t, struct conn *c);
void tls_conn_free(struct conn *c);

/* Feeds received ciphertext: runs the handshake, then hands plaintext to
 * conn_on_plaintext(). A fatal TLS error drops the connection. */
void tls_conn_on_ciphertext(struct conn *c, uint8_t *data, size_t len);

/* Encrypts the frames waiting in c->tls_plain, gathered into records of up
 * to 16 KiB; the records land on the send queue. */
void tls_conn_flush(struct conn *c);

/* Encrypts what is still waiting, then queues close_notify. */
void tls_conn_shutdown(struct conn *c);

#endif

/*
 * tls_client.c - the client side of TLS for wss:// (see tls_client.h).
 */
#include "tls_client.h"

#include <wolfssl/wolfcrypt/ecc.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

WOLFSSL_CTX *tls_client_ctx_new(const char *prog, const char *ca_file)
{
    signal(SIGPIPE, SIG_IGN); /* wolfSSL's own socket writes do not pass MSG_NOSIGNAL */
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        fprintf(stderr, "%s: wolfSSL_Init failed\n", prog);
        return NULL;
    }
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLS_client_method());
    if (ctx == NULL) {
        fprintf(stderr, "%s: wolfSSL_CTX_new failed\n", prog);
        return NULL;
    }
    if (ca_file != NULL) {
        int rc = wolfSSL_CTX_load_verify_locations(ctx, ca_file, NULL);
        if (rc != WOLFSSL_SUCCESS) {
            char msg[WOLFSSL_MAX_ERROR_SZ];
            fprintf(stderr, "%s: cannot load CA file %s: %s\n", prog, ca_file,
                    wolfSSL_ERR_error_string((unsigned long)rc, msg));
            wolfSSL_CTX_free(ctx);
            return NULL;
        }
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    } else {
        fprintf(stderr, "%s: warning: no --ca given, the server certificate is NOT verified\n",
                prog);
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

void tls_client_ctx_free(WOLFSSL_CTX *ctx)
{
    if (ctx == NULL)
        return;
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
}

void tls_thread_end(void)
{
    wc_ecc_fp_free();
}

WOLFSSL *tls_conn_new(WOLFSSL_CTX *ctx, int fd, const struct target *t, bool verify)
{
    WOLFSSL *ssl = wolfSSL_new(ctx);
    if (ssl == NULL)
        return NULL;
    if (wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS) {
        wolfSSL_free(ssl);
        return NULL;
    }
    bool is_ip = strchr(t->host, ':') != NULL || strspn(t->host, "0123456789.") == strlen(t->host);
    if (!is_ip)
        wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, t->host, (unsigned short)strlen(t->host));
    if (verify && !is_ip)
        wolfSSL_check_domain_name(ssl, t->host);
    return ssl;
}

void tls_conn_free(WOLFSSL **ssl)
{
    if (*ssl == NULL)
        return;
    wolfSSL_shutdown(*ssl);
    wolfSSL_free(*ssl);
    *ssl = NULL;
}

enum tls_step tls_connect_step(WOLFSSL *ssl, char *why, size_t why_cap)
{
    int rc = wolfSSL_connect(ssl);
    if (rc == WOLFSSL_SUCCESS)
        return TLS_STEP_DONE;
    int err = wolfSSL_get_error(ssl, rc);
    if (err == WOLFSSL_ERROR_WANT_READ)
        return TLS_STEP_WANT_READ;
    if (err == WOLFSSL_ERROR_WANT_WRITE)
        return TLS_STEP_WANT_WRITE;
    char msg[WOLFSSL_MAX_ERROR_SZ];
    snprintf(why, why_cap, "TLS handshake: %s (%d)",
             wolfSSL_ERR_error_string((unsigned long)err, msg), err);
    return TLS_STEP_FAILED;
}

ssize_t tls_recv(WOLFSSL *ssl, void *buf, size_t cap)
{
    int n = wolfSSL_read(ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (n > 0)
        return n;
    int err = wolfSSL_get_error(ssl, n);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (err == WOLFSSL_ERROR_ZERO_RETURN || err == SOCKET_PEER_CLOSED_E || n == 0)
        return 0;
    errno = EPROTO;
    return -1;
}

ssize_t tls_send(WOLFSSL *ssl, const void *buf, size_t len)
{
    int n = wolfSSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    int err = wolfSSL_get_error(ssl, n);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    errno = EPIPE;
    return -1;
}

bool tls_has_pending(WOLFSSL *ssl)
{
    return ssl != NULL && wolfSSL_has_pending(ssl);
}

ssize_t stream_recv(int fd, WOLFSSL *ssl, void *buf, size_t cap)
{
    return ssl != NULL ? tls_recv(ssl, buf, cap) : recv(fd, buf, cap, 0);
}

ssize_t stream_send(int fd, WOLFSSL *ssl, const void *buf, size_t len)
{
    return ssl != NULL ? tls_send(ssl, buf, len) : send(fd, buf, len, MSG_NOSIGNAL);
}

/*
 * tls.c - wolfSSL over the connection's buffers (see tls.h).
 */
#include "tls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "worker.h"

/*
 * The server's cipher preference when --tls-ciphers is not given. A wolfSSL
 * built without AES-NI (Debian's is) does AES-GCM in table-driven C, and
 * then ChaCha20-Poly1305 costs the broker half as much per byte: measured
 * 517k against 242k deliveries/s over wss in one fan-out run (bench/RESULTS.md).
 * Every subscriber's copy is encrypted separately, so this is the broker's
 * main TLS cost. The server's order wins over the client's in wolfSSL.
 */
#ifdef WOLFSSL_AESNI
#define TLS_DEFAULT_CIPHERS NULL /* wolfSSL's own order: AES-GCM first */
#else
#define TLS_DEFAULT_CIPHERS                                                                        \
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"              \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
#endif

/* Plaintext is read in pieces of at most one TLS record. */
#define TLS_PLAIN_CHUNK 16384

static int tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    struct conn *c = ctx;
    if (c->tls_in_len == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < c->tls_in_len ? (size_t)sz : c->tls_in_len;
    memcpy(buf, c->tls_in, n);
    c->tls_in += n;
    c->tls_in_len -= n;
    return (int)n;
}

static int tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    struct conn *c = ctx;
    if (c->state == CONN_DEAD || c->state == CONN_LINGER)
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    struct outbuf *b = conn_alloc_outbuf(c, (size_t)sz);
    if (b == NULL)
        return WOLFSSL_CBIO_ERR_GENERAL;
    memcpy(outbuf_payload(b), buf, (size_t)sz);
    b->data = outbuf_payload(b);
    b->len = (size_t)sz;
    conn_queue_bytes(c, b);
    return sz;
}

static const char *tls_version_name(int v)
{
    return v == WOLFSSL_TLSV1_3 ? "1.3" : "1.2";
}

static WOLFSSL_CTX *tls_context_new(const struct broker_config *cfg, char *err, size_t err_len)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (ctx == NULL) {
        snprintf(err, err_len, "cannot create a TLS context");
        return NULL;
    }
    int min = cfg->tls_min_version == 13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
    const char *what = NULL, *file = NULL;
    if (wolfSSL_CTX_SetMinVersion(ctx, min) != WOLFSSL_SUCCESS) {
        what = "cannot set the minimum TLS version";
        file = tls_version_name(min);
    } else if (wolfSSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != WOLFSSL_SUCCESS) {
        what = "--tls-cert: cannot load the certificate chain (PEM)";
        file = cfg->tls_cert;
    } else if (wolfSSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, WOLFSSL_FILETYPE_PEM) !=
               WOLFSSL_SUCCESS) {
        what = "--tls-key: cannot load the private key (PEM)";
        file = cfg->tls_key;
    } else if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
        what = "--tls-key: the key does not match the certificate";
        file = cfg->tls_key;
    } else if (cfg->tls_ca[0] &&
               wolfSSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != WOLFSSL_SUCCESS) {
        what = "--tls-ca: cannot load the CA certificates (PEM)";
        file = cfg->tls_ca;
    } else if (cfg->tls_ciphers[0] &&
               wolfSSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != WOLFSSL_SUCCESS) {
        what = "--tls-ciphers: no usable cipher suite in the list";
        file = cfg->tls_ciphers;
    } else if (!cfg->tls_ciphers[0] && TLS_DEFAULT_CIPHERS != NULL &&
               wolfSSL_CTX_set_cipher_list(ctx, TLS_DEFAULT_CIPHERS) != WOLFSSL_SUCCESS) {
        what = "cannot set the default cipher suites";
        file = TLS_DEFAULT_CIPHERS;
    }
    if (what) {
        snprintf(err, err_len, "%s '%s'", what, file);
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->tls_verify_client)
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               NULL);
    else
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    wolfSSL_CTX_SetIORecv(ctx, tls_recv_cb);
    wolfSSL_CTX_SetIOSend(ctx, tls_send_cb);
    return ctx;
}

int tls_server_init(struct tls_server *t, const struct broker_config *cfg, char *err,
                    size_t err_len)
{
    memset(t, 0, sizeof(*t));
    t->cfg = cfg;
    wolfSSL_Init();
    WOLFSSL_CTX *ctx = tls_context_new(cfg, err, err_len);
    if (ctx == NULL)
        return -1;
    atomic_init(&t->ctx, ctx);
    return 0;
}

int tls_server_reload(struct tls_server *t, char *err, size_t err_len)
{
    WOLFSSL_CTX *ctx = tls_context_new(t->cfg, err, err_len);
    if (ctx == NULL)
        return -1;
    void **retired = realloc(t->retired, sizeof(*retired) * (t->retired_count + 1));
    if (retired == NULL) {
        wolfSSL_CTX_free(ctx);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    t->retired = retired;
    /* A worker may be between loading the old pointer and wolfSSL_new():
     * the old context stays allocated until exit (reloads are rare). */
    t->retired[t->retired_count++] = atomic_exchange(&t->ctx, ctx);
    return 0;
}

void tls_server_destroy(struct tls_server *t)
{
    for (unsigned i = 0; i < t->retired_count; i++)
        wolfSSL_CTX_free(t->retired[i]);
    free(t->retired);
    if (atomic_load(&t->ctx))
        wolfSSL_CTX_free(atomic_load(&t->ctx));
    wolfSSL_Cleanup();
}

void tls_thread_cleanup(void)
{
    wc_ecc_fp_free();
}

int tls_conn_start(struct tls_server *t, struct conn *c)
{
    WOLFSSL *ssl = wolfSSL_new(atomic_load(&t->ctx));
    if (ssl == NULL)
        return -1;
    wolfSSL_SetIOReadCtx(ssl, c);
    wolfSSL_SetIOWriteCtx(ssl, c);
    static const char alpn[] = "http/1.1";
    wolfSSL_UseALPN(ssl, (char *)alpn, sizeof(alpn) - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
    c->ssl = ssl;
    return 0;
}

void tls_conn_free(struct conn *c)
{
    if (c->ssl) {
        wolfSSL_free(c->ssl);
        c->ssl = NULL;
    }
}

/* Logs a failed connection, at most once a second per worker. */
static void tls_log_failure(struct conn *c, const char *stage, int err)
{
    struct worker *w = c->worker;
    w->tls_failures++;
    if (w->now_ms - w->tls_failure_logged_ms < 1000)
        return;
    char reason[WOLFSSL_MAX_ERROR_SZ] = "plain HTTP sent to the TLS port";
    if (err != 0)
        wolfSSL_ERR_error_string_n((unsigned long)err, reason, sizeof(reason));
    log_info("worker %u: TLS %s failed: %s (%llu failures so far on this worker)", w->id, stage,
             reason, (unsigned long long)w->tls_failures);
    w->tls_failure_logged_ms = w->now_ms;
}

/* A fatal TLS error: wolfSSL has queued its alert (if it sends one); that
 * goes out, then FIN. Nothing more is read or encrypted. */
static void tls_fail(struct conn *c, const char *stage, int err)
{
    tls_log_failure(c, stage, err);
    c->tls_failed = true;
    send_queue_destroy(&c->tls_plain);
    conn_end_after_flush(c, "TLS error");
}

/* The first bytes on a TLS port look like an HTTP request line, not a TLS
 * record (which starts with content type 0x16): somebody used ws:// or
 * http:// against a wss:// port. */
static bool looks_like_plain_http(const uint8_t *data, size_t len)
{
    static const char *const methods[] = {"GET ", "POST ", "HEAD ", "PUT ", "OPTIONS "};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t n = strlen(methods[i]);
        if (len >= n && memcmp(data, methods[i], n) == 0)
            return true;
    }
    return false;
}

void tls_conn_on_ciphertext(struct conn *c, uint8_t *data, size_t len)
{
    WOLFSSL *ssl = c->ssl;
    if (c->tls_failed)
        return; /* draining until FIN */
    if (c->state == CONN_HANDSHAKE && !c->tls_seen_bytes && looks_like_plain_http(data, len)) {
        /* Answer in plain HTTP, which that client can read. */
        c->tls_failed = true;
        tls_log_failure(c, "handshake", 0);
        conn_refuse(c, 400, "this port speaks TLS: use wss:// (or https://)");
        return;
    }
    c->tls_seen_bytes = true;
    c->tls_in = data;
    c->tls_in_len = len;
    if (!wolfSSL_is_init_finished(ssl)) {
        int rc = wolfSSL_accept(ssl);
        if (rc != WOLFSSL_SUCCESS) {
            int err = wolfSSL_get_error(ssl, rc);
            if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE)
                tls_fail(c, "handshake", err);
            c->tls_in_len = 0;
            return;
        }
    }
    uint8_t *plain = c->worker->tls_plain;
    while (c->state != CONN_DEAD) {
        int n = wolfSSL_read(ssl, plain, TLS_PLAIN_CHUNK);
        if (n > 0) {
            conn_on_plaintext(c, plain, (size_t)n);
            continue;
        }
        int err = wolfSSL_get_error(ssl, n);
        if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
            break;
        if (err == WOLFSSL_ERROR_ZERO_RETURN) { /* close_notify: like EOF */
            conn_on_eof(c);
            break;
        }
        tls_fail(c, "read", err);
        break;
    }
    c->tls_in_len = 0;
}

void tls_conn_flush(struct conn *c)
{
    uint8_t *stage = c->worker->tls_stage;
    while (c->state != CONN_DEAD && !c->tls_failed && !send_queue_empty(&c->tls_plain)) {
        size_t len = send_queue_copy_out(&c->tls_plain, stage, sizeof(c->worker->tls_stage));
        send_queue_consume(&c->tls_plain, len, NULL);
        /* Within the record size, wolfSSL writes all of it or fails: the
         * I/O callback never pushes back. */
        int n = wolfSSL_write(c->ssl, stage, (int)len);
        if (n != (int)len) {
            tls_fail(c, "write", wolfSSL_get_error(c->ssl, n));
            return;
        }
    }
}

void tls_conn_shutdown(struct conn *c)
{
    if (c->ssl && !c->tls_failed && wolfSSL_is_init_finished(c->ssl)) {
        tls_conn_flush(c);
        if (c->state != CONN_DEAD)
            wolfSSL_shutdown(c->ssl);
    }
}

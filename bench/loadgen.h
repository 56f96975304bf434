/*
 * loadgen.h - the pieces a WebSocket load generator needs whatever it
 * drives: clocks, a cheap PRNG, a log-linear latency histogram, ws:// URL
 * parsing and resolution, the descriptor limit, the client side of the
 * opening handshake, and the client side of TLS for wss:// (wolfSSL).
 *
 * Header-only, every function static inline: bench/CMakeLists.txt builds
 * every C file in bench/ as its own program, so shared code cannot live in a .c
 * file there. wsbroker-bench's scenario families (bench/wsbroker-bench/echo.c,
 * pubsub.c) and the reference servers use it, so their latency figures share
 * one bucket layout and precision and compare; tests/bench/test_hist.c checks
 * the histogram.
 */
#ifndef WSB_BENCH_LOADGEN_H
#define WSB_BENCH_LOADGEN_H

/* wolfSSL wants its build options before anything else of its own. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "ws_handshake.h"

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull

#define HANDSHAKE_KEY_BYTES    16
#define HANDSHAKE_KEY_LEN      24   /* base64 of 16 bytes */
#define HANDSHAKE_MAX_RESPONSE 4096 /* a longer 101 response head is refused */

/* ---- clocks and randomness -------------------------------------------- */

/* CLOCK_MONOTONIC: one clock for every thread of the process, so a stamp
 * written by a publisher thread can be subtracted on a subscriber thread. */
static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* xorshift64: masks, keys and patterns, not cryptography. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline uint64_t rng_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed || seed == 0)
        seed = now_ns() | 1;
    return seed;
}

/* ---- open-loop schedule ------------------------------------------------ */

/* When open-loop send slot number `slot` (0, 1, ...) is due, for a schedule
 * that starts at t0 and sends one slot every slot_ns at full rate. With a
 * ramp (ramp_ns > 0) the rate rises linearly from 0 to full over ramp_ns:
 * slots sent by time t are t^2 / (2 ramp_ns slot_ns) during the ramp, so slot
 * k is due at sqrt(2 ramp_ns slot_ns k); after the ramp the schedule goes on
 * at full rate from where the ramp left it (ramp_ns / (2 slot_ns) slots). */
static inline uint64_t open_loop_due(uint64_t t0, double slot_ns, uint64_t ramp_ns, double slot)
{
    if (ramp_ns == 0)
        return t0 + (uint64_t)(slot * slot_ns);
    double ramp = (double)ramp_ns;
    double ramp_slots = ramp / (2.0 * slot_ns);
    if (slot < ramp_slots)
        return t0 + (uint64_t)__builtin_sqrt(2.0 * ramp * slot_ns * slot);
    return t0 + ramp_ns + (uint64_t)((slot - ramp_slots) * slot_ns);
}

/* ---- latency histogram ------------------------------------------------ */

/* Exact below 128 ns, then 128 sub-buckets per power of two (under 0.8%
 * error) up to 2^40 ns (about 18 minutes; longer values are clamped). */
#define HIST_SUB_BITS  7
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS  40
#define HIST_BUCKETS   (HIST_SUB_COUNT * (HIST_MAX_BITS - HIST_SUB_BITS + 1))

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    double sum;
};

static inline size_t hist_index(uint64_t v)
{
    if (v < HIST_SUB_COUNT)
        return (size_t)v;
    if (v >> HIST_MAX_BITS)
        v = (1ull << HIST_MAX_BITS) - 1;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    return (size_t)shift * HIST_SUB_COUNT + (size_t)(v >> shift);
}

/* The largest value that lands in bucket idx (HdrHistogram's "highest
 * equivalent value"). */
static inline uint64_t hist_bucket_top(size_t idx)
{
    if (idx < 2 * HIST_SUB_COUNT)
        return idx;
    unsigned shift = (unsigned)(idx / HIST_SUB_COUNT) - 1;
    uint64_t sub = idx % HIST_SUB_COUNT + HIST_SUB_COUNT;
    return (sub << shift) + (1ull << shift) - 1;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

static inline void hist_merge(struct hist *into, const struct hist *from)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

static inline uint64_t hist_percentile(const struct hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    double exact = pct / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)exact; /* rounded up below */
    if ((double)rank < exact || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t top = hist_bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

static inline double hist_mean(const struct hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

/* ---- where to connect ------------------------------------------------- */

struct target {
    char host[256]; /* as written in the URL, for the Host header */
    char port[8];
    char path[1024];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool tls; /* wss:// */
};

/* Parses ws[s]://host[:port][/path] (host may be a bracketed IPv6 literal).
 * Returns NULL, or what is wrong with url. */
static inline const char *target_parse_url(struct target *t, const char *url)
{
    static const char scheme[] = "ws://", scheme_tls[] = "wss://";
    const char *p;
    if (strncmp(url, scheme, sizeof scheme - 1) == 0) {
        t->tls = false;
        p = url + sizeof scheme - 1;
    } else if (strncmp(url, scheme_tls, sizeof scheme_tls - 1) == 0) {
        t->tls = true;
        p = url + sizeof scheme_tls - 1;
    } else {
        return "the URL does not start with ws:// or wss://";
    }
    const char *host_end = *p == '[' ? strchr(p, ']') : p + strcspn(p, ":/");
    if (host_end == NULL || host_end == p)
        return "no host in the URL";
    const char *host = p;
    if (*p == '[') {
        host++;
        p = host_end + 1;
    } else {
        p = host_end;
    }
    if ((size_t)(host_end - host) >= sizeof t->host)
        return "host too long";
    memcpy(t->host, host, (size_t)(host_end - host));
    t->host[host_end - host] = '\0';
    strcpy(t->port, t->tls ? "443" : "80");
    if (*p == ':') {
        size_t plen = strcspn(p + 1, "/");
        if (plen == 0 || plen >= sizeof t->port)
            return "bad port in the URL";
        memcpy(t->port, p + 1, plen);
        t->port[plen] = '\0';
        p += 1 + plen;
    }
    if (strlen(p) >= sizeof t->path)
        return "path too long";
    strcpy(t->path, *p ? p : "/");
    return NULL;
}

/* Fills t->addr from host and port. Returns NULL, or getaddrinfo's error. */
static inline const char *target_resolve(struct target *t)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0)
        return gai_strerror(rc);
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return NULL;
}

/* Raises the soft RLIMIT_NOFILE to `need` (up to the hard limit). Returns
 * false when the hard limit is lower. */
static inline bool raise_fd_limit(rlim_t need, rlim_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    *hard = rl.rlim_max;
    if (rl.rlim_cur >= need)
        return true;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        return false;
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* ---- TLS client (wss://) ------------------------------------------------ */

/* A client context for every connection of the run. With ca_file the server's
 * chain must verify against it (and a host name in the URL must match the
 * certificate); without, nothing is verified and a warning says so. Returns
 * NULL after printing why. */
static inline WOLFSSL_CTX *tls_client_ctx_new(const char *prog, const char *ca_file)
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

/* Frees the context made by tls_client_ctx_new (NULL is fine) and wolfSSL's
 * global state; after every thread that used it is done. */
static inline void tls_client_ctx_free(WOLFSSL_CTX *ctx)
{
    if (ctx == NULL)
        return;
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
}

/* A thread that ran TLS handshakes calls this before it exits: wolfSSL keeps
 * a per-thread cache of ECC points (FP_ECC) that nothing else frees. */
static inline void tls_thread_end(void)
{
    wc_ecc_fp_free();
}

/* A TLS session over the non-blocking socket fd (wolfSSL's own socket I/O),
 * or NULL. With verify, a host that is a name must match the certificate
 * (IP literals are left to the chain check). */
static inline WOLFSSL *tls_conn_new(WOLFSSL_CTX *ctx, int fd, const struct target *t, bool verify)
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

/* Ends a session: one non-blocking close_notify attempt, then frees it. */
static inline void tls_conn_free(WOLFSSL **ssl)
{
    if (*ssl == NULL)
        return;
    wolfSSL_shutdown(*ssl);
    wolfSSL_free(*ssl);
    *ssl = NULL;
}

/* wss:// reads per readiness event before a connection must yield to the
 * others (it still drains what wolfSSL holds); see conn_on_readable. */
#define TLS_READ_BUDGET 64

enum tls_step { TLS_STEP_DONE, TLS_STEP_WANT_READ, TLS_STEP_WANT_WRITE, TLS_STEP_FAILED };

/* One non-blocking go at the TLS handshake; on failure why says what. */
static inline enum tls_step tls_connect_step(WOLFSSL *ssl, char *why, size_t why_cap)
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

/* recv()'s contract over TLS: > 0 bytes, 0 at the end of the stream
 * (close_notify or TCP end), -1 with errno EAGAIN when wolfSSL wants the
 * socket again, else -1 with errno EPROTO. */
static inline ssize_t tls_recv(WOLFSSL *ssl, void *buf, size_t cap)
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

/* send()'s contract over TLS. After -1/EAGAIN the caller must offer the same
 * bytes again (more may follow them): wolfSSL has already taken some. */
static inline ssize_t tls_send(WOLFSSL *ssl, const void *buf, size_t len)
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

/* Whether wolfSSL holds received bytes (decrypted or not) that a read would
 * return without the socket becoming readable again: epoll will not report
 * them, so a reader must go on reading while this is true. */
static inline bool tls_has_pending(WOLFSSL *ssl)
{
    return ssl != NULL && wolfSSL_has_pending(ssl);
}

/* The socket, or TLS over it when ssl is set. */
static inline ssize_t lg_recv(int fd, WOLFSSL *ssl, void *buf, size_t cap)
{
    return ssl != NULL ? tls_recv(ssl, buf, cap) : recv(fd, buf, cap, 0);
}

static inline ssize_t lg_send(int fd, WOLFSSL *ssl, const void *buf, size_t len)
{
    return ssl != NULL ? tls_send(ssl, buf, len) : send(fd, buf, len, MSG_NOSIGNAL);
}

/* ---- client side of the opening handshake ----------------------------- */

static inline void base64_encode(const uint8_t *src, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < len ? (uint32_t)src[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* Writes the upgrade request with a fresh random key (kept in key, for
 * handshake_check_response) into out. subprotocol may be NULL. Returns its
 * length, or 0 if cap is too small. */
static inline size_t handshake_write_request(char *out, size_t cap, const struct target *t,
                                             const char *subprotocol, uint64_t *rng,
                                             char key[HANDSHAKE_KEY_LEN + 1])
{
    uint8_t raw[HANDSHAKE_KEY_BYTES];
    for (size_t i = 0; i < sizeof raw; i += 8) {
        uint64_t r = rng_next(rng);
        memcpy(raw + i, &r, 8);
    }
    base64_encode(raw, sizeof raw, key);
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     t->path, t->host, t->port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The value of header `name` within the response head [resp, end), or NULL. */
static inline const char *handshake_header_value(const char *resp, const char *end,
                                                 const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *line = memchr(resp, '\n', (size_t)(end - resp)); /* skip the status line */
    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

/* Checks a complete response head [resp, resp + len) against the key that
 * was sent. Returns NULL when it accepts the upgrade, else what is wrong. */
static inline const char *handshake_check_response(const char *resp, size_t len, const char *key)
{
    static const char status_101[] = "HTTP/1.1 101";
    const char *end = resp + len;
    if (len < sizeof status_101 - 1 || memcmp(resp, status_101, sizeof status_101 - 1) != 0)
        return "no 101 Switching Protocols";
    size_t vlen = 0;
    const char *v = handshake_header_value(resp, end, "Upgrade", &vlen);
    if (v == NULL || vlen != strlen("websocket") || strncasecmp(v, "websocket", vlen) != 0)
        return "missing or wrong Upgrade header";
    char expect[WS_ACCEPT_KEY_LEN + 1];
    struct ws_str k = {.ptr = key, .len = HANDSHAKE_KEY_LEN};
    if (ws_handshake_accept_key(k, expect) != 0)
        return "ws_handshake_accept_key failed";
    v = handshake_header_value(resp, end, "Sec-WebSocket-Accept", &vlen);
    if (v == NULL || vlen != WS_ACCEPT_KEY_LEN || memcmp(v, expect, vlen) != 0)
        return "missing or wrong Sec-WebSocket-Accept";
    return NULL;
}

#endif

/*
 * auth.c - loading the authentication rules and checking tokens (see
 * auth.h).
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "topic.h"

/* HS256 secrets shorter than the hash are refused (RFC 7518 section 3.2). */
#define HS256_MIN_SECRET 32
#define KEY_FILE_MAX     (64 * 1024)

/* Reads a whole small file into a NUL-terminated heap buffer. */
static char *read_small_file(const char *option, const char *path, size_t *len, char *err,
                             size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "--%s: cannot open '%s': %s", option, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
    bool bad = buf == NULL || ferror(f) || n > KEY_FILE_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, err_len, "--%s: cannot read '%s' (unreadable or over 64 KiB)", option, path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int load_hs256(struct auth_rules *r, const char *path, char *err, size_t err_len)
{
    size_t len;
    char *secret = read_small_file("jwt-hs256-secret", path, &len, err, err_len);
    if (secret == NULL)
        return -1;
    while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
        len--; /* a trailing newline is not part of the secret */
    if (len < HS256_MIN_SECRET) {
        snprintf(err, err_len, "--jwt-hs256-secret: '%s' holds %zu bytes; at least %d needed", path,
                 len, HS256_MIN_SECRET);
        free(secret);
        return -1;
    }
    r->hs256_secret = (uint8_t *)secret;
    r->hs256_secret_len = len;
    return 0;
}

static int load_es256(struct auth_rules *r, const char *path, char *err, size_t err_len)
{
    size_t len;
    char *pem = read_small_file("jwt-es256-key", path, &len, err, err_len);
    if (pem == NULL)
        return -1;
    r->es256 = malloc(sizeof(*r->es256));
    const char *why = "out of memory";
    int rc = r->es256 ? jwt_es256_key_from_pem(pem, len, r->es256, &why) : -1;
    free(pem);
    if (rc != 0) {
        snprintf(err, err_len, "--jwt-es256-key: '%s': %s", path, why);
        return -1;
    }
    return 0;
}

struct auth_rules *auth_rules_load(const struct broker_config *cfg, char *err, size_t err_len)
{
    struct auth_rules *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    r->dev_mode = config_dev_mode(cfg);
    r->anonymous = cfg->anonymous;
    if ((cfg->auth_tokens[0] && auth_tokens_load(&r->tokens, cfg->auth_tokens, err, err_len)) ||
        (cfg->jwt_hs256_secret[0] && load_hs256(r, cfg->jwt_hs256_secret, err, err_len)) ||
        (cfg->jwt_es256_key[0] && load_es256(r, cfg->jwt_es256_key, err, err_len))) {
        auth_rules_free(r);
        return NULL;
    }
    return r;
}

void auth_rules_free(struct auth_rules *r)
{
    if (r == NULL)
        return;
    auth_tokens_free(&r->tokens);
    free(r->hs256_secret);
    free(r->es256);
    free(r);
}

const struct auth_rights *auth_anonymous_rights(const struct auth_rules *r)
{
    if (r == NULL || r->dev_mode)
        return &auth_rights_all;
    return r->anonymous == ANONYMOUS_READ ? &auth_rights_read : NULL;
}

int64_t auth_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* Rights from a verified JWT's claims; NULL with *why. */
static struct auth_rights *rights_from_claims(const struct jwt_claims *c, const char **why)
{
    for (unsigned i = 0; i < c->pub_count + c->sub_count; i++) {
        struct ws_str p = i < c->pub_count ? c->pub[i] : c->sub[i - c->pub_count];
        if (topic_classify(p) == TOPIC_INVALID) {
            *why = "token grants an invalid topic pattern";
            return NULL;
        }
    }
    struct auth_rights *rights =
        auth_rights_build(c->pub, c->pub_count, c->sub, c->sub_count, c->has_exp ? c->exp : 0);
    if (rights == NULL)
        *why = "out of memory";
    return rights;
}

static struct auth_rights *authenticate_jwt(const struct auth_rules *r, struct ws_str token,
                                            int64_t now, const char **why)
{
    if (r->hs256_secret == NULL && r->es256 == NULL) {
        *why = "JWTs are not accepted (no JWT key configured)";
        return NULL;
    }
    struct jwt *jwt = malloc(sizeof(*jwt));
    if (jwt == NULL) {
        *why = "out of memory";
        return NULL;
    }
    struct auth_rights *rights = NULL;
    bool verified = false;
    if (jwt_decode(token, jwt, why) == 0) {
        if (jwt->alg == JWT_ALG_HS256 && r->hs256_secret)
            verified = jwt_verify_hs256(jwt, r->hs256_secret, r->hs256_secret_len);
        else if (jwt->alg == JWT_ALG_ES256 && r->es256)
            verified = jwt_verify_es256(jwt, r->es256);
        else
            *why = "token algorithm has no configured key";
        if (verified) {
            if (jwt_check_time(&jwt->claims, now, why) == 0)
                rights = rights_from_claims(&jwt->claims, why);
        } else if (jwt->alg == JWT_ALG_HS256 ? r->hs256_secret != NULL : r->es256 != NULL) {
            *why = "bad token signature";
        }
    }
    free(jwt);
    return rights;
}

struct auth_rights *auth_authenticate(const struct auth_rules *r, struct ws_str token, int64_t now,
                                      const char **why)
{
    if (r->dev_mode)
        return (struct auth_rights *)&auth_rights_all; /* tokens are not checked */
    size_t dots = 0;
    for (size_t i = 0; i < token.len; i++)
        dots += token.ptr[i] == '.';
    if (dots == 2)
        return authenticate_jwt(r, token, now, why);
    const struct auth_rights *found = auth_tokens_find(&r->tokens, token);
    if (found == NULL) {
        *why = "unknown token";
        return NULL;
    }
    struct auth_rights *copy = auth_rights_copy(found);
    if (copy == NULL)
        *why = "out of memory";
    return copy;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes a query value into buf; -1 when malformed or too long. */
static int percent_decode(struct ws_str in, char *buf, size_t cap, struct ws_str *out)
{
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.ptr[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? hex_value(in.ptr[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(in.ptr[i + 2]) : -1;
            if (lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (n == cap)
            return -1;
        buf[n++] = c;
    }
    *out = (struct ws_str){buf, n};
    return 0;
}

int auth_token_from_request(const struct ws_handshake_request *req, char *buf, size_t cap,
                            struct ws_str *token, const char **why)
{
    if (ws_str_present(req->authorization)) {
        struct ws_str a = req->authorization;
        if (a.len < 7 || strncasecmp(a.ptr, "Bearer ", 7) != 0) {
            *why = "Authorization is not 'Bearer TOKEN'";
            return -1;
        }
        size_t i = 7;
        while (i < a.len && a.ptr[i] == ' ')
            i++;
        if (i == a.len) {
            *why = "Authorization: Bearer with no token";
            return -1;
        }
        *token = (struct ws_str){a.ptr + i, a.len - i};
        return 1;
    }
    if (!ws_str_present(req->query))
        return 0;
    const char *p = req->query.ptr, *end = p + req->query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop - p >= 6 && memcmp(p, "token=", 6) == 0) {
            if (percent_decode((struct ws_str){p + 6, (size_t)(stop - p - 6)}, buf, cap, token) !=
                    0 ||
                token->len == 0) {
                *why = "query parameter 'token' is empty, malformed or too long";
                return -1;
            }
            return 1;
        }
        p = stop + 1;
    }
    return 0;
}

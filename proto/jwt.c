/*
 * jwt.c - compact JWT decoding and HS256/ES256 verification (see jwt.h).
 *
 * The header and claims are read with the pull JSON reader; nothing is
 * trusted until jwt_verify_* says so, and the algorithm comes from the
 * header only to pick which of the configured keys to try (a token whose
 * alg has no configured key is refused by the caller, so "alg": "none" and
 * HS256-with-the-public-key confusions cannot happen).
 */
#include "jwt.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "json_reader.h"

static int base64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t jwt_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 == 1)
        return SIZE_MAX;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap)
        return SIZE_MAX;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = base64url_value((unsigned char)in[i]);
        if (v < 0)
            return SIZE_MAX;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: leftover bits must be zero */
        return SIZE_MAX;
    return n;
}

/* Reads the header: {"alg": "HS256"|"ES256", "typ"?: ..., ...}. */
static int decode_header(const char *json, size_t len, struct jwt *jwt, const char **why)
{
    struct json_reader r;
    struct json_token t;
    json_reader_init(&r, json, len);
    if (json_next(&r, &t) != JSON_OBJECT_BEGIN) {
        *why = "token header is not a JSON object";
        return -1;
    }
    jwt->alg = JWT_ALG_UNSUPPORTED;
    bool have_alg = false;
    while (json_next(&r, &t) == JSON_KEY) {
        bool is_alg = json_string_eq(&t, "alg"), is_crit = json_string_eq(&t, "crit");
        if (json_next(&r, &t) == JSON_ERROR)
            break;
        if (is_crit) {
            *why = "token header has 'crit' extensions";
            return -1;
        }
        if (is_alg) {
            if (t.type != JSON_STRING) {
                *why = "token header 'alg' is not a string";
                return -1;
            }
            have_alg = true;
            jwt->alg = json_string_eq(&t, "HS256")   ? JWT_ALG_HS256
                       : json_string_eq(&t, "ES256") ? JWT_ALG_ES256
                                                     : JWT_ALG_UNSUPPORTED;
        } else if (!json_skip(&r, &t)) {
            break;
        }
    }
    if (t.type != JSON_OBJECT_END || json_next(&r, &t) != JSON_END) {
        *why = "token header is not valid JSON";
        return -1;
    }
    if (!have_alg || jwt->alg == JWT_ALG_UNSUPPORTED) {
        *why = "token algorithm is not HS256 or ES256";
        return -1;
    }
    return 0;
}

/* A NumericDate: an integer, or a number with a fraction (truncated toward zero). */
static bool read_date(const struct json_token *t, int64_t *out)
{
    if (t->type != JSON_NUMBER)
        return false;
    if (json_number_i64(t->raw, out))
        return true;
    double d;
    if (!json_number_double(t->raw, &d) || !(d > -9.2e18 && d < 9.2e18))
        return false;
    *out = (int64_t)d;
    return true;
}

/* Reads an array of strings into list; escaped strings are decoded into
 * jwt->text starting at *text_used. */
static int read_grants(struct json_reader *r, struct jwt *jwt, struct ws_str *list, unsigned *count,
                       size_t *text_used, const char **why)
{
    struct json_token t;
    while (json_next(r, &t) == JSON_STRING) {
        if (*count == JWT_MAX_GRANTS) {
            *why = "token grants more than 64 patterns in one claim";
            return -1;
        }
        struct ws_str s = t.raw;
        if (t.escaped) {
            size_t n =
                json_string_decode(t.raw, jwt->text + *text_used, sizeof(jwt->text) - *text_used);
            if (n == SIZE_MAX) {
                *why = "token claims too long";
                return -1;
            }
            s = (struct ws_str){jwt->text + *text_used, n};
            *text_used += n;
        }
        list[(*count)++] = s;
    }
    if (t.type != JSON_ARRAY_END) {
        *why = "token claims 'pub' and 'sub' must be arrays of strings";
        return -1;
    }
    return 0;
}

static int decode_claims(struct jwt *jwt, const char **why)
{
    struct jwt_claims *c = &jwt->claims;
    memset(c, 0, sizeof(*c));
    struct json_reader r;
    struct json_token t;
    json_reader_init(&r, jwt->payload, jwt->payload_len);
    if (json_next(&r, &t) != JSON_OBJECT_BEGIN) {
        *why = "token claims are not a JSON object";
        return -1;
    }
    size_t text_used = 0;
    while (json_next(&r, &t) == JSON_KEY) {
        bool exp = json_string_eq(&t, "exp"), nbf = json_string_eq(&t, "nbf");
        bool pub = json_string_eq(&t, "pub"), sub = json_string_eq(&t, "sub");
        if (json_next(&r, &t) == JSON_ERROR)
            break;
        if (exp || nbf) {
            if (!read_date(&t, exp ? &c->exp : &c->nbf)) {
                *why = exp ? "token claim 'exp' is not a number of seconds"
                           : "token claim 'nbf' is not a number of seconds";
                return -1;
            }
            *(exp ? &c->has_exp : &c->has_nbf) = true;
        } else if ((pub || sub) && t.type == JSON_ARRAY_BEGIN) {
            if (read_grants(&r, jwt, pub ? c->pub : c->sub, pub ? &c->pub_count : &c->sub_count,
                            &text_used, why) != 0)
                return -1;
        } else if (pub) {
            *why = "token claim 'pub' is not an array of strings";
            return -1;
        } else if (!json_skip(&r, &t)) {
            break; /* a string "sub" is the registered subject claim: skipped */
        }
    }
    if (t.type != JSON_OBJECT_END || json_next(&r, &t) != JSON_END) {
        *why = "token claims are not valid JSON";
        return -1;
    }
    return 0;
}

int jwt_decode(struct ws_str token, struct jwt *jwt, const char **why)
{
    if (token.len == 0 || token.len > JWT_MAX_TOKEN) {
        *why = "token is empty or longer than 4096 bytes";
        return -1;
    }
    const char *p = token.ptr, *end = p + token.len;
    const char *dot1 = memchr(p, '.', token.len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL) {
        *why = "token is not a JWT (header.payload.signature)";
        return -1;
    }
    char header[512];
    size_t hlen = jwt_base64url_decode(p, (size_t)(dot1 - p), (uint8_t *)header, sizeof(header));
    if (hlen == SIZE_MAX) {
        *why = "token header is not base64url (or too long)";
        return -1;
    }
    if (decode_header(header, hlen, jwt, why) != 0)
        return -1;
    jwt->payload_len = jwt_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1),
                                            (uint8_t *)jwt->payload, sizeof(jwt->payload));
    if (jwt->payload_len == SIZE_MAX) {
        *why = "token claims are not base64url (or too long)";
        return -1;
    }
    jwt->sig_len =
        jwt_base64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), jwt->sig, sizeof(jwt->sig));
    size_t want = jwt->alg == JWT_ALG_HS256 ? 32 : 64;
    if (jwt->sig_len != want) {
        *why = "token signature has the wrong length for its algorithm";
        return -1;
    }
    jwt->signing_input = (struct ws_str){p, (size_t)(dot2 - p)};
    return decode_claims(jwt, why);
}

static bool equal_constant_time(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

bool jwt_verify_hs256(const struct jwt *jwt, const uint8_t *key, size_t key_len)
{
    if (jwt->alg != JWT_ALG_HS256 || jwt->sig_len != WC_SHA256_DIGEST_SIZE)
        return false;
    Hmac hmac;
    uint8_t mac[WC_SHA256_DIGEST_SIZE];
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0)
        return false;
    bool ok = wc_HmacSetKey(&hmac, WC_SHA256, key, (word32)key_len) == 0 &&
              wc_HmacUpdate(&hmac, (const byte *)jwt->signing_input.ptr,
                            (word32)jwt->signing_input.len) == 0 &&
              wc_HmacFinal(&hmac, mac) == 0;
    wc_HmacFree(&hmac);
    return ok && equal_constant_time(mac, jwt->sig, sizeof(mac));
}

/* Decodes the DER key into a fresh ecc_key; 0 or -1. */
static int es256_key_load(const struct jwt_es256_key *key, ecc_key *out)
{
    if (wc_ecc_init(out) != 0)
        return -1;
    word32 idx = 0;
    if (wc_EccPublicKeyDecode(key->der, &idx, out, (word32)key->der_len) != 0 ||
        wc_ecc_get_curve_id(out->idx) != ECC_SECP256R1) {
        wc_ecc_free(out);
        return -1;
    }
    return 0;
}

int jwt_es256_key_from_pem(const char *pem, size_t len, struct jwt_es256_key *key, const char **why)
{
    int n = wc_PubKeyPemToDer((const unsigned char *)pem, (int)len, key->der, sizeof(key->der));
    if (n <= 0) {
        *why = "not a PEM public key (-----BEGIN PUBLIC KEY-----)";
        return -1;
    }
    key->der_len = (size_t)n;
    ecc_key k;
    if (es256_key_load(key, &k) != 0) {
        *why = "not an EC P-256 (prime256v1) public key";
        return -1;
    }
    wc_ecc_free(&k);
    return 0;
}

bool jwt_verify_es256(const struct jwt *jwt, const struct jwt_es256_key *key)
{
    if (jwt->alg != JWT_ALG_ES256 || jwt->sig_len != 64)
        return false;
    uint8_t hash[WC_SHA256_DIGEST_SIZE];
    if (wc_Sha256Hash((const byte *)jwt->signing_input.ptr, (word32)jwt->signing_input.len, hash) !=
        0)
        return false;
    uint8_t der[80];
    word32 der_len = sizeof(der);
    if (wc_ecc_rs_raw_to_sig(jwt->sig, 32, jwt->sig + 32, 32, der, &der_len) != 0)
        return false;
    ecc_key k;
    if (es256_key_load(key, &k) != 0)
        return false;
    int verified = 0;
    int rc = wc_ecc_verify_hash(der, der_len, hash, sizeof(hash), &verified, &k);
    wc_ecc_free(&k);
    return rc == 0 && verified == 1;
}

int jwt_check_time(const struct jwt_claims *claims, int64_t now, const char **why)
{
    if (claims->has_exp && now >= claims->exp) {
        *why = "token expired";
        return -1;
    }
    if (claims->has_nbf && now < claims->nbf) {
        *why = "token not yet valid (nbf)";
        return -1;
    }
    return 0;
}

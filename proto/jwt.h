/*
 * jwt.h - JSON Web Tokens (RFC 7519) as the broker accepts them: compact
 * serialisation, HS256 (HMAC-SHA256) or ES256 (ECDSA P-256, SHA-256),
 * verified with wolfSSL's crypto; claims exp, nbf and the broker's grants
 * `pub` and `sub` (arrays of topic patterns, docs/configuration.md).
 *
 * Pure: no I/O, no globals, no allocation. jwt_decode() copies what it
 * needs out of the token into struct jwt (decoded header, payload and
 * signature); the claims are views into that struct, so they live as long
 * as it does. Verification is separate from decoding, and both must pass
 * before any claim is trusted.
 */
#ifndef WSB_JWT_H
#define WSB_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_str.h"

#define JWT_MAX_TOKEN   4096 /* bytes of the compact form */
#define JWT_MAX_GRANTS  64   /* patterns per claim (pub, sub) */
#define JWT_MAX_PAYLOAD 3072 /* decoded claims JSON */

enum jwt_alg { JWT_ALG_UNSUPPORTED = 0, JWT_ALG_HS256, JWT_ALG_ES256 };

struct jwt_claims {
    bool has_exp, has_nbf;
    int64_t exp, nbf; /* NumericDate: seconds since the epoch */
    /* Grants: topic patterns, views into struct jwt's text (not checked
     * against the topic grammar here: the caller does). */
    struct ws_str pub[JWT_MAX_GRANTS], sub[JWT_MAX_GRANTS];
    unsigned pub_count, sub_count;
};

struct jwt {
    enum jwt_alg alg;
    struct ws_str signing_input; /* header.payload: a view into the token */
    uint8_t sig[64];
    size_t sig_len;
    char payload[JWT_MAX_PAYLOAD]; /* decoded claims JSON */
    size_t payload_len;
    char text[JWT_MAX_PAYLOAD]; /* decoded grant strings that held escapes */
    struct jwt_claims claims;
};

/*
 * Decodes base64url without padding (RFC 7515 section 2) into out. Returns
 * the decoded length, or SIZE_MAX for a byte outside the alphabet, an
 * impossible length, non-zero trailing bits, or cap too small.
 */
size_t jwt_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/*
 * Splits and decodes a compact JWT: the header (alg must be HS256 or ES256;
 * `crit` is refused), the claims, the signature. Returns 0, or -1 with *why
 * a static text naming the problem. The token's bytes must stay valid while
 * jwt->signing_input is used.
 */
int jwt_decode(struct ws_str token, struct jwt *jwt, const char **why);

/* HS256: true when the signature is the HMAC-SHA256 of the signing input
 * under key (compared in constant time). */
bool jwt_verify_hs256(const struct jwt *jwt, const uint8_t *key, size_t key_len);

/* An ES256 public key, validated: its SubjectPublicKeyInfo DER. */
struct jwt_es256_key {
    uint8_t der[256];
    size_t der_len;
};

/* Reads a PEM "PUBLIC KEY" holding a P-256 key. Returns 0, or -1 with *why. */
int jwt_es256_key_from_pem(const char *pem, size_t len, struct jwt_es256_key *key,
                           const char **why);

/* ES256: true when the raw r||s signature verifies under key. Thread-safe:
 * the key is decoded from its DER per call. */
bool jwt_verify_es256(const struct jwt *jwt, const struct jwt_es256_key *key);

/* Checks exp and nbf against now (seconds since the epoch): 0 when the
 * token is valid now, else -1 with *why ("token expired", ...). */
int jwt_check_time(const struct jwt_claims *claims, int64_t now, const char **why);

#endif

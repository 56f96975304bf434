/*
 * fuzz_jwt.c - libFuzzer target for JWT decoding and verification.
 *
 * Any input: jwt_decode must not crash or read outside the token; when it
 * accepts, the signing input is a prefix of the token, the signature has
 * its algorithm's length, every grant lies inside the decoded claims (or
 * the decoded-escapes store), and verification with a fixed HS256 key and a
 * fixed P-256 key runs to a yes/no. A random input must never verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const char es_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4kjoBsrtUjQsNMCZTe4qDwWEm7R0\n"
                             "f93XP2bSu4p6GuQFwGIERAgiKCnLC8aH1e0z91A2p0trV2aVl8OJY2m4aQ==\n"
                             "-----END PUBLIC KEY-----\n";

static bool inside(struct ws_str s, const char *base, size_t len)
{
    return s.ptr >= base && s.ptr + s.len <= base + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jwt jwt;
    static struct jwt_es256_key key;
    static bool key_loaded;
    if (!key_loaded) {
        const char *why;
        CHECK(jwt_es256_key_from_pem(es_pub, sizeof(es_pub) - 1, &key, &why) == 0);
        key_loaded = true;
    }
    uint8_t out[64];
    size_t n = jwt_base64url_decode((const char *)data, size < 80 ? size : 80, out, sizeof(out));
    CHECK(n == SIZE_MAX || n <= sizeof(out));

    /* a copy, so reads past the end are caught by ASan */
    char *token = malloc(size ? size : 1);
    memcpy(token, data, size);
    const char *why = NULL;
    if (jwt_decode((struct ws_str){token, size}, &jwt, &why) == 0) {
        CHECK(jwt.signing_input.ptr == token && jwt.signing_input.len < size);
        CHECK(jwt.sig_len == (jwt.alg == JWT_ALG_HS256 ? 32u : 64u));
        for (unsigned i = 0; i < jwt.claims.pub_count + jwt.claims.sub_count; i++) {
            struct ws_str g = i < jwt.claims.pub_count ? jwt.claims.pub[i]
                                                       : jwt.claims.sub[i - jwt.claims.pub_count];
            CHECK(inside(g, jwt.payload, jwt.payload_len) || inside(g, jwt.text, sizeof(jwt.text)));
        }
        static const uint8_t secret[] = "fuzz-secret-of-at-least-32-bytes!!";
        bool hs = jwt_verify_hs256(&jwt, secret, sizeof(secret) - 1);
        bool es = jwt_verify_es256(&jwt, &key);
        CHECK(!(hs && es));
        jwt_check_time(&jwt.claims, 1800000000, &why);
    } else {
        CHECK(why != NULL);
    }
    free(token);
    return 0;
}

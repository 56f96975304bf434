/*
 * test_jwt.c - proto/jwt.c against tokens made by real tools, not by the
 * code under test: the HS256 token was signed with Python's hmac/hashlib,
 * the ES256 key pair made by `openssl ecparam -name prime256v1 -genkey` and
 * the token signed by `openssl dgst -sha256 -sign` (DER turned into raw
 * r||s). Then every way a token can be wrong: tampered, wrong key, wrong
 * algorithm, bad base64url, bad JSON, bad claims, time limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jwt.h"

#define HS_SECRET "unit-test-secret-of-at-least-32-bytes"

/* {"alg":"HS256","typ":"JWT"} . {"exp":4102444800,"nbf":1700000000,
 * "pub":["md.>"],"sub":["md.*","news.\u0041"],"iss":"x"} */
static const char hs_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJleHAiOjQxMDI0NDQ4MDAsIm5iZiI6MTcwMDAwMDAwMCwicHViIjpbIm1kLj4iXSwic3ViIjpbIm1kLioiLCJuZXdz"
    "Llx1MDA0MSJdLCJpc3MiOiJ4In0.ygueH1ngHPWswQ_g_HnM1LpcnbR34qGNn0oFBbZtnkE";

static const char es_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4kjoBsrtUjQsNMCZTe4qDwWEm7R0\n"
                             "f93XP2bSu4p6GuQFwGIERAgiKCnLC8aH1e0z91A2p0trV2aVl8OJY2m4aQ==\n"
                             "-----END PUBLIC KEY-----\n";

/* {"alg": "ES256", "typ": "JWT"} . {"exp": 4102444800, "pub": ["a.b"]} */
static const char es_token[] =
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogIkpXVCJ9.eyJleHAiOiA0MTAyNDQ0ODAwLCAicHViIjogWyJhLmIiXX0."
    "sTm4NfLDmhNCRkTYoL3DYnL93eOOdBuMP2QqZshMTtT5Xmpyi5ENzfAHRiJ7HgrM3EygXt7pWSXzF8vv5d7rqQ";

static struct ws_str str_of(const char *s)
{
    return (struct ws_str){s, strlen(s)};
}

static bool str_is(struct ws_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static struct jwt *decode_ok(const char *token)
{
    static struct jwt jwt;
    const char *why = NULL;
    if (jwt_decode(str_of(token), &jwt, &why) != 0)
        fail_msg("jwt_decode(%s) failed: %s", token, why);
    return &jwt;
}

static void expect_decode_error(const char *token, const char *want_why)
{
    static struct jwt jwt;
    const char *why = NULL;
    if (jwt_decode(str_of(token), &jwt, &why) == 0)
        fail_msg("jwt_decode(%s) accepted it", token);
    if (want_why && strcmp(why, want_why) != 0)
        fail_msg("jwt_decode(%s): '%s', want '%s'", token, why, want_why);
}

static void test_base64url(void **state)
{
    (void)state;
    uint8_t out[16];
    assert_int_equal(jwt_base64url_decode("", 0, out, sizeof(out)), 0);
    assert_int_equal(jwt_base64url_decode("Zm9v", 4, out, sizeof(out)), 3);
    assert_memory_equal(out, "foo", 3);
    assert_int_equal(jwt_base64url_decode("Zm8", 3, out, sizeof(out)), 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(jwt_base64url_decode("_-8", 3, out, sizeof(out)), 2);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(out[1], 0xef);
    assert_int_equal(jwt_base64url_decode("Zg==", 4, out, sizeof(out)), SIZE_MAX); /* padding */
    assert_int_equal(jwt_base64url_decode("Zm+v", 4, out, sizeof(out)), SIZE_MAX); /* base64 */
    assert_int_equal(jwt_base64url_decode("Z", 1, out, sizeof(out)), SIZE_MAX);    /* length */
    assert_int_equal(jwt_base64url_decode("Zh", 2, out, sizeof(out)), SIZE_MAX);   /* bits */
    assert_int_equal(jwt_base64url_decode("Zm9vZm9v", 8, out, 5), SIZE_MAX);       /* cap */
}

static void test_hs256_known_good(void **state)
{
    (void)state;
    struct jwt *jwt = decode_ok(hs_token);
    assert_int_equal(jwt->alg, JWT_ALG_HS256);
    assert_true(jwt_verify_hs256(jwt, (const uint8_t *)HS_SECRET, strlen(HS_SECRET)));
    assert_false(jwt_verify_hs256(jwt, (const uint8_t *)HS_SECRET, strlen(HS_SECRET) - 1));
    assert_false(jwt_verify_es256(jwt, &(struct jwt_es256_key){{0}, 0}));
    const struct jwt_claims *c = &jwt->claims;
    assert_true(c->has_exp && c->has_nbf);
    assert_int_equal(c->exp, 4102444800);
    assert_int_equal(c->nbf, 1700000000);
    assert_int_equal(c->pub_count, 1);
    assert_true(str_is(c->pub[0], "md.>"));
    assert_int_equal(c->sub_count, 2);
    assert_true(str_is(c->sub[0], "md.*"));
    assert_true(str_is(c->sub[1], "news.A")); /* the \u0041 escape decoded */
    const char *why = NULL;
    assert_int_equal(jwt_check_time(c, 1800000000, &why), 0);
    assert_int_equal(jwt_check_time(c, 4102444800, &why), -1);
    assert_string_equal(why, "token expired");
    assert_int_equal(jwt_check_time(c, 1699999999, &why), -1);
    assert_string_equal(why, "token not yet valid (nbf)");
}

static void test_hs256_tampered(void **state)
{
    (void)state;
    /* one byte of the signing input changed: same length, same JSON shape */
    char t[sizeof(hs_token)];
    memcpy(t, hs_token, sizeof(t));
    char *p = strchr(t, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    static struct jwt jwt;
    const char *why;
    if (jwt_decode(str_of(t), &jwt, &why) == 0)
        assert_false(jwt_verify_hs256(&jwt, (const uint8_t *)HS_SECRET, strlen(HS_SECRET)));
    /* the signature's last byte changed */
    memcpy(t, hs_token, sizeof(t));
    t[sizeof(t) - 3] = t[sizeof(t) - 3] == 'k' ? 'l' : 'k';
    struct jwt *ok = decode_ok(t);
    assert_false(jwt_verify_hs256(ok, (const uint8_t *)HS_SECRET, strlen(HS_SECRET)));
}

static void test_es256_known_good(void **state)
{
    (void)state;
    struct jwt_es256_key key;
    const char *why = NULL;
    assert_int_equal(jwt_es256_key_from_pem(es_pub, strlen(es_pub), &key, &why), 0);
    struct jwt *jwt = decode_ok(es_token);
    assert_int_equal(jwt->alg, JWT_ALG_ES256);
    assert_true(jwt_verify_es256(jwt, &key));
    assert_false(jwt_verify_hs256(jwt, (const uint8_t *)HS_SECRET, strlen(HS_SECRET)));
    assert_int_equal(jwt->claims.pub_count, 1);
    assert_true(str_is(jwt->claims.pub[0], "a.b"));
    assert_int_equal(jwt->claims.sub_count, 0);
    /* a flipped bit in s */
    jwt->sig[63] ^= 1;
    assert_false(jwt_verify_es256(jwt, &key));
    jwt->sig[63] ^= 1;
    /* r = 0 */
    memset(jwt->sig, 0, 32);
    assert_false(jwt_verify_es256(jwt, &key));
}

static void test_es256_key_errors(void **state)
{
    (void)state;
    struct jwt_es256_key key;
    const char *why = NULL;
    assert_int_equal(jwt_es256_key_from_pem("hello", 5, &key, &why), -1);
    assert_non_null(strstr(why, "PEM public key"));
    /* a P-384 key (openssl ecparam -name secp384r1 -genkey | openssl ec -pubout) */
    static const char p384[] = "-----BEGIN PUBLIC KEY-----\n"
                               "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAELfaTSsCN84d7dBFh1fV2pBLeoVYfLV1N\n"
                               "K6UKF6yRLHeLPeyRYCDTDgMqo4HoUKMjSXy7Bhk4usbon/c/rDh5oAOQAckoS8aP\n"
                               "E2+8kM44JMsfHdiLxvKyM/lL5WNgLOK8\n"
                               "-----END PUBLIC KEY-----\n";
    assert_int_equal(jwt_es256_key_from_pem(p384, strlen(p384), &key, &why), -1);
    assert_string_equal(why, "not an EC P-256 (prime256v1) public key");
}

static void test_decode_errors(void **state)
{
    (void)state;
    expect_decode_error("", "token is empty or longer than 4096 bytes");
    expect_decode_error("abc", "token is not a JWT (header.payload.signature)");
    expect_decode_error("a.b.c.d", "token is not a JWT (header.payload.signature)");
    expect_decode_error("!!.e30.AA", "token header is not base64url (or too long)");
    /* {"alg":"none"} */
    expect_decode_error("eyJhbGciOiJub25lIn0.e30.", "token algorithm is not HS256 or ES256");
    /* {"typ":"JWT"}: no alg */
    expect_decode_error("eyJ0eXAiOiJKV1QifQ.e30.", "token algorithm is not HS256 or ES256");
    /* {"alg":"HS256","crit":["b64"]} */
    expect_decode_error("eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiYjY0Il19.e30.",
                        "token header has 'crit' extensions");
    /* [1]: not an object */
    expect_decode_error("WzFd.e30.", "token header is not a JSON object");
    /* {"alg":"HS256"} . {} . 3 bytes of signature */
    expect_decode_error("eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
                        "token signature has the wrong length for its algorithm");
    static const char sig32[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char t[256];
    /* {"alg":"HS256"} . {"exp":"soon"} */
    snprintf(t, sizeof(t), "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiJzb29uIn0.%s", sig32);
    expect_decode_error(t, "token claim 'exp' is not a number of seconds");
    /* {"alg":"HS256"} . {"pub":"md.>"} */
    snprintf(t, sizeof(t), "eyJhbGciOiJIUzI1NiJ9.eyJwdWIiOiJtZC4-In0.%s", sig32);
    expect_decode_error(t, "token claim 'pub' is not an array of strings");
    /* {"alg":"HS256"} . {"pub":[1]} */
    snprintf(t, sizeof(t), "eyJhbGciOiJIUzI1NiJ9.eyJwdWIiOlsxXX0.%s", sig32);
    expect_decode_error(t, "token claims 'pub' and 'sub' must be arrays of strings");
    /* {"alg":"HS256"} . {"exp":1, (truncated JSON) */
    snprintf(t, sizeof(t), "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEs.%s", sig32);
    expect_decode_error(t, "token claims are not valid JSON");
    /* {"alg":"HS256"} . {"exp":1.5,"sub":"me"}: a fraction, a subject */
    snprintf(t, sizeof(t), "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEuNSwic3ViIjoibWUifQ.%s", sig32);
    struct jwt *jwt = decode_ok(t);
    assert_int_equal(jwt->claims.exp, 1);
    assert_int_equal(jwt->claims.sub_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url),        cmocka_unit_test(test_hs256_known_good),
        cmocka_unit_test(test_hs256_tampered),   cmocka_unit_test(test_es256_known_good),
        cmocka_unit_test(test_es256_key_errors), cmocka_unit_test(test_decode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

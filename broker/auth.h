/*
 * auth.h - authentication: who a client is, from the token it presents
 * (docs/configuration.md, "Authentication").
 *
 * struct auth_rules is everything the broker needs to check a token: the
 * static token table, the HS256 secret, the ES256 public key, and what
 * clients without a token may do. main builds one at start and a new one
 * on every SIGHUP; once published (struct broker.auth) it is immutable and
 * read by every worker without locks. A replaced one is retired, not freed,
 * until exit: a worker may still be reading it (reloads are rare, so the
 * memory kept is small).
 *
 * Tokens come from the handshake (`Authorization: Bearer TOKEN`, or
 * `?token=TOKEN` for browsers) or from hello's `token`. A token with two
 * dots is a JWT; anything else is looked up in the token file.
 */
#ifndef WSB_AUTH_H
#define WSB_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth_rights.h"
#include "auth_tokens.h"
#include "config.h"
#include "jwt.h"
#include "ws_handshake.h"

struct auth_rules {
    bool dev_mode; /* no method configured, loopback only: everything allowed */
    enum anonymous_access anonymous;
    struct auth_token_table tokens;
    uint8_t *hs256_secret; /* NULL: HS256 tokens are refused */
    size_t hs256_secret_len;
    struct jwt_es256_key *es256; /* NULL: ES256 tokens are refused */
};

/* Loads the files cfg names. Returns the rules, or NULL with err naming
 * the option and file. */
struct auth_rules *auth_rules_load(const struct broker_config *cfg, char *err, size_t err_len);
void auth_rules_free(struct auth_rules *r);

/* What a client without a token may do: everything (development mode),
 * read, or nothing (NULL). Static: never freed. */
const struct auth_rights *auth_anonymous_rights(const struct auth_rules *r);

/*
 * Checks token at time now (seconds since the epoch). On success returns
 * rights the caller owns (auth_rights_free); on failure NULL with *why a
 * static reason ("token expired", "unknown token", "bad signature", ...).
 * *why is "out of memory" when that was the failure.
 */
struct auth_rights *auth_authenticate(const struct auth_rules *r, struct ws_str token, int64_t now,
                                      const char **why);

/*
 * The token of an upgrade request: `Authorization: Bearer TOKEN` (scheme
 * case-insensitive), else the query parameter `token` (percent-decoded into
 * buf). Returns 1 with *token set (a view into the request or into buf), 0
 * when the request carries none, -1 when one is there but malformed (*why).
 */
int auth_token_from_request(const struct ws_handshake_request *req, char *buf, size_t cap,
                            struct ws_str *token, const char **why);

/* Seconds since the epoch (the clock exp and nbf are compared with). */
int64_t auth_now(void);

#endif

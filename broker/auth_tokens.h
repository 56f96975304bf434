/*
 * auth_tokens.h - the static token file (--auth-tokens): one token per line
 * with the rights it grants.
 *
 *     # token                      rights
 *     feed-7c1e0b9a4f2d4e61a8     pub=md.> sub=md.>
 *     ui-3b5d9f00c1e24a7792       sub=md.>,news.*
 *
 * A line is a token (1..512 bytes of printable ASCII, no spaces) followed
 * by words `pub=PATTERN[,PATTERN...]` and `sub=PATTERN[,...]` (either may
 * repeat or be left out: no word, no right of that kind). `#` starts a
 * comment. A bad line is an error naming FILE:LINE; a duplicate token too.
 */
#ifndef WSB_AUTH_TOKENS_H
#define WSB_AUTH_TOKENS_H

#include <stddef.h>

#include "auth_rights.h"
#include "ws_str.h"

#define AUTH_TOKEN_MAX_BYTES 512

struct auth_token_entry {
    char *token; /* owned */
    size_t len;
    struct auth_rights *rights; /* owned */
};

struct auth_token_table {
    struct auth_token_entry *entries;
    unsigned count;
};

/* Reads path into t (empty on entry). Returns 0, or -1 with err naming
 * the file and line; t is then empty. */
int auth_tokens_load(struct auth_token_table *t, const char *path, char *err, size_t err_len);
void auth_tokens_free(struct auth_token_table *t);

/* The rights of token, or NULL. Every entry is compared in constant time,
 * so the time taken does not tell how much of a guess was right. */
const struct auth_rights *auth_tokens_find(const struct auth_token_table *t, struct ws_str token);

#endif

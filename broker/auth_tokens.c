/*
 * auth_tokens.c - reading the static token file and looking tokens up (see
 * auth_tokens.h).
 */
#include "auth_tokens.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "topic.h"

/* Longer than any valid line (a 512-byte token, 2 x 64 patterns of 255
 * bytes): a bigger one is a mistake, said so. */
#define AUTH_TOKENS_MAX_LINE 65536

/* Adds the comma-separated patterns of text to list. */
static int take_patterns(char *text, struct ws_str *list, unsigned *count, const char **why)
{
    char *save = NULL;
    for (char *p = strtok_r(text, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (*count == JWT_MAX_GRANTS) {
            *why = "more than 64 patterns of one kind";
            return -1;
        }
        struct ws_str s = {p, strlen(p)};
        if (topic_classify(s) == TOPIC_INVALID) {
            *why = "invalid topic pattern";
            return -1;
        }
        list[(*count)++] = s;
    }
    return 0;
}

static bool token_text_valid(const char *s, size_t len)
{
    if (len == 0 || len > AUTH_TOKEN_MAX_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    }
    return true;
}

/* Parses one non-empty line into an entry; returns 0 or -1 with *why. */
static int parse_line(char *line, struct auth_token_entry *e, const char **why)
{
    struct ws_str pub[JWT_MAX_GRANTS], sub[JWT_MAX_GRANTS];
    unsigned pub_count = 0, sub_count = 0;
    char *save = NULL;
    char *token = strtok_r(line, " \t", &save);
    if (!token_text_valid(token, strlen(token))) {
        *why = "a token is 1..512 bytes of printable ASCII";
        return -1;
    }
    for (char *w = strtok_r(NULL, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        int rc;
        if (strncmp(w, "pub=", 4) == 0)
            rc = take_patterns(w + 4, pub, &pub_count, why);
        else if (strncmp(w, "sub=", 4) == 0)
            rc = take_patterns(w + 4, sub, &sub_count, why);
        else {
            *why = "expected pub=PATTERNS or sub=PATTERNS after the token";
            rc = -1;
        }
        if (rc != 0)
            return -1;
    }
    e->len = strlen(token);
    e->token = strdup(token);
    e->rights = auth_rights_build(pub, pub_count, sub, sub_count, 0);
    if (e->token == NULL || e->rights == NULL) {
        free(e->token);
        auth_rights_free(e->rights);
        *why = "out of memory";
        return -1;
    }
    return 0;
}

static bool token_equal(const struct auth_token_entry *e, struct ws_str token)
{
    if (e->len != token.len)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < token.len; i++)
        diff |= (unsigned char)(e->token[i] ^ token.ptr[i]);
    return diff == 0;
}

int auth_tokens_load(struct auth_token_table *t, const char *path, char *err, size_t err_len)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "--auth-tokens: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    /* Whole lines, however long (a line may hold 2 x 64 patterns of 255
     * bytes): a line read in pieces would turn its tail into a token. */
    char *line = NULL;
    size_t line_cap = 0;
    unsigned lineno = 0, cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &line_cap, f) != -1) {
        lineno++;
        if (strlen(line) > AUTH_TOKENS_MAX_LINE) {
            snprintf(err, err_len, "--auth-tokens: %s:%u: line longer than %d bytes", path, lineno,
                     AUTH_TOKENS_MAX_LINE);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        if (t->count == cap) {
            cap = cap ? cap * 2 : 16;
            struct auth_token_entry *grown = realloc(t->entries, cap * sizeof(*grown));
            if (grown == NULL) {
                snprintf(err, err_len, "--auth-tokens: out of memory");
                rc = -1;
                break;
            }
            t->entries = grown;
        }
        const char *why = NULL;
        struct auth_token_entry *e = &t->entries[t->count];
        if (parse_line(line, e, &why) != 0) {
            snprintf(err, err_len, "--auth-tokens: %s:%u: %s", path, lineno, why);
            rc = -1;
            break;
        }
        t->count++;
        if (auth_tokens_find(t, (struct ws_str){e->token, e->len}) != e->rights) {
            snprintf(err, err_len, "--auth-tokens: %s:%u: duplicate token", path, lineno);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, err_len, "--auth-tokens: cannot read '%s'", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc != 0)
        auth_tokens_free(t);
    return rc;
}

void auth_tokens_free(struct auth_token_table *t)
{
    for (unsigned i = 0; i < t->count; i++) {
        free(t->entries[i].token);
        auth_rights_free(t->entries[i].rights);
    }
    free(t->entries);
    memset(t, 0, sizeof(*t));
}

const struct auth_rights *auth_tokens_find(const struct auth_token_table *t, struct ws_str token)
{
    const struct auth_rights *found = NULL;
    for (unsigned i = 0; i < t->count; i++) {
        if (token_equal(&t->entries[i], token) && found == NULL)
            found = t->entries[i].rights;
    }
    return found;
}

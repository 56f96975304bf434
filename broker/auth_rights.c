/*
 * auth_rights.c - building rights and checking requests against them (see
 * auth_rights.h). Checks are a linear scan of the grants: a client holds a
 * handful of patterns, and each check runs once per publish or subscribe.
 */
#include "auth_rights.h"

#include <stdlib.h>
#include <string.h>

#include "topic.h"

static const struct ws_str everything[] = {{">", 1}};

const struct auth_rights auth_rights_all = {
    .is_static = true, .pub_count = 1, .sub_count = 1, .pub = everything, .sub = everything};
const struct auth_rights auth_rights_read = {
    .is_static = true, .pub_count = 0, .sub_count = 1, .pub = NULL, .sub = everything};

struct auth_rights *auth_rights_build(const struct ws_str *pub, unsigned pub_count,
                                      const struct ws_str *sub, unsigned sub_count, int64_t expires)
{
    size_t text = 0;
    for (unsigned i = 0; i < pub_count; i++)
        text += pub[i].len;
    for (unsigned i = 0; i < sub_count; i++)
        text += sub[i].len;
    size_t views = (size_t)(pub_count + sub_count) * sizeof(struct ws_str);
    struct auth_rights *r = malloc(sizeof(*r) + views + text);
    if (r == NULL)
        return NULL;
    struct ws_str *list = (struct ws_str *)(r + 1);
    char *store = (char *)(list + pub_count + sub_count);
    *r = (struct auth_rights){.expires = expires,
                              .pub_count = pub_count,
                              .sub_count = sub_count,
                              .pub = list,
                              .sub = list + pub_count};
    for (unsigned i = 0; i < pub_count + sub_count; i++) {
        struct ws_str src = i < pub_count ? pub[i] : sub[i - pub_count];
        memcpy(store, src.ptr, src.len);
        list[i] = (struct ws_str){store, src.len};
        store += src.len;
    }
    return r;
}

struct auth_rights *auth_rights_copy(const struct auth_rights *r)
{
    if (r->is_static)
        return (struct auth_rights *)r;
    return auth_rights_build(r->pub, r->pub_count, r->sub, r->sub_count, r->expires);
}

void auth_rights_free(const struct auth_rights *r)
{
    if (r && !r->is_static)
        free((void *)r);
}

bool auth_may_publish(const struct auth_rights *r, struct ws_str topic)
{
    for (unsigned i = 0; r && i < r->pub_count; i++) {
        if (topic_matches(r->pub[i], topic))
            return true;
    }
    return false;
}

bool auth_may_subscribe(const struct auth_rights *r, struct ws_str topic_or_pattern)
{
    for (unsigned i = 0; r && i < r->sub_count; i++) {
        if (topic_pattern_covers(r->sub[i], topic_or_pattern))
            return true;
    }
    return false;
}

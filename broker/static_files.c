/*
 * static_files.c - looks up the embedded files (static_files.h) and serves
 * them through conn_respond(). The bytes live in static_files_data.c, which
 * broker/embed_files.cmake generates from the committed sources.
 */
#include "static_files.h"

#include "conn.h"

const struct static_file *static_file_find(struct ws_str path)
{
    for (size_t i = 0; i < static_file_count; i++) {
        if (ws_str_eq(path, static_files[i].path))
            return &static_files[i];
    }
    return NULL;
}

void static_file_serve(struct conn *c, const struct ws_handshake_request *req)
{
    const struct static_file *f = static_file_find(req->path);
    if (f == NULL) {
        /* A route in http_route.c with no embedded file behind it. */
        static const char body[] = "no embedded file at this path\n";
        conn_respond(c, 404, "text/plain; charset=utf-8", body, sizeof(body) - 1);
        return;
    }
    conn_respond(c, 200, f->content_type, f->data, f->len);
}

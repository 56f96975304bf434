/*
 * static_files.h - the files the broker serves over plain HTTP GET: the
 * JavaScript client (/wsbroker.js) and the live demo page (/demo, /demo.js).
 *
 * They are compiled in, not read from disk at run time: the build embeds the
 * committed files (tools/js/dist/wsbroker.js, tools/demo/) as C arrays
 * (broker/static_files.cmake), so a deployed binary serves exactly the
 * client it was built with and needs no file paths or npm.
 */
#ifndef WSB_STATIC_FILES_H
#define WSB_STATIC_FILES_H

#include <stddef.h>

#include "ws_handshake.h"
#include "ws_str.h"

struct conn;

struct static_file {
    const char *path;         /* URL path, e.g. "/demo" */
    const char *content_type; /* from the source file's extension */
    const unsigned char *data;
    size_t len;
};

/* The embedded files, generated at build time (static_files_data.c). */
extern const struct static_file static_files[];
extern const size_t static_file_count;

/* The embedded file served at path, or NULL. */
const struct static_file *static_file_find(struct ws_str path);

/* An http_route handler: answers with the file at req->path (404 if none). */
void static_file_serve(struct conn *c, const struct ws_handshake_request *req);

#endif

/* webfiles.h - the dashboard's files (HTML, JavaScript, CSS, images), read once at start
 * and served from memory.
 *
 * The directory (gateway_web_dir, else submit/web beside the program: base/finddir.h)
 * is read when the gateway starts: every regular file whose name is made of
 * [A-Za-z0-9._-] (not starting with '.') is loaded, up to 256 files and 32 MiB in all.
 * A request names a file only by that exact name, looked up in the table: no part of a
 * URL ever reaches the file system.
 *
 * Ownership: webfiles_load allocates, webfiles_free frees. Read-only after loading. */
#ifndef MLHEP_GW_WEBFILES_H
#define MLHEP_GW_WEBFILES_H

#include <stddef.h>

#include "base/err.h"

typedef struct webfiles webfiles;

typedef struct webfile {
    const char *name;
    const char *content_type;
    const char *data;
    size_t len;
    char etag[24];  /* a hash of the content, quoted, for If-None-Match */
} webfile;

int webfiles_load(const char *configured_dir, webfiles **out, mlhep_err *e);
void webfiles_free(webfiles *w);

/* The file of that exact name, or NULL. */
const webfile *webfiles_get(const webfiles *w, const char *name);

/* The directory the files came from (for the start-up log). */
const char *webfiles_dir(const webfiles *w);

#endif

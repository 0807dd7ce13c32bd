/* source_open.h - opening a byte source by path or URL: the table of back ends.
 *
 * Each URL scheme names a back end: plain paths and file:// are local files
 * (source.h), root://, roots:// and xroot:// go to XRootD (source_xrootd.h), http://
 * and https:// to libcurl (source_http.h); any other scheme is refused with a clear
 * message. Remote sources also keep their first and last bytes from the open on
 * (source_load_edges). The back ends implement source.h and this file sits above
 * them, so no back end header is included by source.c.
 *
 * Remote access (srcaccess.h): a program that reads inputs on behalf of others
 * (mlhep-worker) installs its access once at start (source_set_access, before any
 * source is opened or any thread started: configuration read once): its data_hosts
 * policy (every root:// and http(s):// source is then checked against it, hostpolicy.h:
 * by name, then by address when it connects), retry policy, CA and service
 * credential. Without one (mlhep-run, mlhep-root: a user's own process) any host is
 * read with the environment's settings. A read that carries a job's own credential
 * opens its sources with source_open_with and that job's access.
 *
 * Ownership: the source returned is freed by source_close(). */
#ifndef MLHEP_SOURCE_OPEN_H
#define MLHEP_SOURCE_OPEN_H

#include "base/err.h"
#include "root/hostpolicy.h"
#include "root/source.h"
#include "root/srcaccess.h"

/* Opens with the process's access (source_set_access, else the environment's). */
int source_open(const char *path_or_url, source **out, mlhep_err *e);

/* Opens with acc (NULL: as source_open). */
int source_open_with(const char *path_or_url, const srcaccess *acc, source **out, mlhep_err *e);

/* The access every remote source of this process uses unless it is opened with its
 * own (NULL: the environment's). The caller keeps a (and what it points to) alive
 * until no source is opened any more. */
void source_set_access(const srcaccess *a);

/* The installed access, or NULL. */
const srcaccess *source_access(void);

#endif

/* source_open.h - opening a byte source by path or URL: the table of back ends.
 *
 * Each URL scheme names a back end: plain paths and file:// are local files
 * (source.h), root://, roots:// and xroot:// go to XRootD (source_xrootd.h), http://
 * and https:// to libcurl (source_http.h); any other scheme is refused with a clear
 * message. Remote sources also keep their first and last bytes from the open on
 * (source_load_edges). The back ends implement source.h and this file sits above
 * them, so no back end header is included by source.c.
 *
 * Remote hosts: a program that reads inputs on behalf of others (mlhep-worker) installs
 * its data_hosts policy once at start (source_set_hostpolicy, before any source is
 * opened or any thread started: configuration read once); every root:// and http(s)://
 * source is then checked against it (hostpolicy.h: by name, then by address when it
 * connects). Without one (mlhep-run, mlhep-root: a user's own process) any host is read.
 *
 * Ownership: the source returned is freed by source_close(). */
#ifndef MLHEP_SOURCE_OPEN_H
#define MLHEP_SOURCE_OPEN_H

#include "base/err.h"
#include "root/hostpolicy.h"
#include "root/source.h"

int source_open(const char *path_or_url, source **out, mlhep_err *e);

/* The policy every remote source of this process is checked against (NULL: none).
 * The caller keeps p alive until no source is opened any more. */
void source_set_hostpolicy(const hostpolicy *p);

#endif

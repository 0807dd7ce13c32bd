/* artstream.h - a job's artifacts downloaded as streams: one file, or the listed files
 * as one .tar.gz produced piece by piece while it is sent.
 *
 * The job endpoints (jobsapi.c) answer GET /v1/jobs/{id}/artifacts/{file} and
 * /v1/jobs/{id}/archive with a gw_reader over an artstream, so a download holds a read
 * buffer and zlib's state (a few hundred kilobytes) whatever the artifacts' size, and
 * nothing caps their size. Files are opened under the job's directory one path segment
 * at a time without following links (artstream_open_under), as regular files only.
 *
 * The archive is a ustar stream (POSIX.1-1988 headers; a pax extended header carries a
 * path longer than 100 bytes), gzip-compressed (deflate level 6). Every file's size is
 * taken when the stream is made, because its tar header comes before its bytes: a file
 * that is gone or has another size when its turn comes ends the stream with an error
 * (the client sees a truncated download, never a silently different one). Artifacts
 * do not change once their job has succeeded.
 *
 * Ownership: artstream_free releases everything (it is the reader's free function). */
#ifndef MLHEP_GW_ARTSTREAM_H
#define MLHEP_GW_ARTSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

typedef struct artstream artstream;

/* Opens dfd/name for reading (a name artifacts_name_valid accepts), walking it one
 * directory at a time so that no link is followed anywhere on the way; -1 otherwise. */
int artstream_open_under(int dfd, const char *name);

/* A stream of the regular file dfd/name; *size is its length (the response's
 * Content-Length). MLHEP_ENOTFOUND when it is missing, a link or not a regular file. */
int artstream_file(int dfd, const char *name, artstream **out, uint64_t *size, mlhep_err *e);

/* A .tar.gz of the n files dfd/names[i], each stored as PREFIX/NAME. Every file is
 * looked at now (MLHEP_ENOTFOUND naming the first one missing); names are copied. dfd
 * is duplicated: the caller keeps its own. */
int artstream_archive(int dfd, const char *const *names, size_t n, const char *prefix, artstream **out,
                      mlhep_err *e);

/* gw_reader: up to max bytes at pos (pos must be where the last read ended). Returns
 * the bytes written, GW_READER_END at the end, GW_READER_ERROR on a read error. */
ssize_t artstream_read(void *cls, uint64_t pos, char *buf, size_t max);
void artstream_free(void *cls);

#endif

/* source_http.h - http:// and https:// byte sources over libcurl.
 *
 * read_at is one GET with a Range header; readv sends multi-range GETs
 * ("Range: bytes=a-b,c-d,...", at most HTTP_MAX_RANGES ranges each, several at once)
 * and parses the multipart/byteranges answer straight into the callers' buffers. A
 * server that answers a multi-range request with a single range or the whole file
 * (200) is remembered and the remaining ranges are fetched as parallel single-range
 * GETs. Connections are kept alive and reused. The size comes from HEAD, or from the
 * Content-Range of a one-byte range when HEAD gives none.
 *
 * Failures (refused connection, time-out, 5xx, 401/403) are retried with backoff
 * (netretry.h); 404 and 416 are not. Messages name the URL and the cause.
 *
 * Credentials (https:// only; never sent over plain http://): the bearer token is
 * the first of $MLHEP_HTTP_TOKEN, $BEARER_TOKEN, the content of $BEARER_TOKEN_FILE
 * (whitespace trimmed), sent as "Authorization: Bearer ...". $X509_USER_PROXY is
 * used as client certificate and key, $X509_CERT_DIR as CA directory.
 *
 * Ownership: source_open_http() returns a source freed by source_close(). */
#ifndef MLHEP_SOURCE_HTTP_H
#define MLHEP_SOURCE_HTTP_H

#include <stddef.h>

#include "root/hostpolicy.h"
#include "root/source.h"

/* Ranges per multi-range request (keeps the header well under servers' 8 KiB). */
#define HTTP_MAX_RANGES 128
/* Transfers in flight at once for one readv. */
#define HTTP_PARALLEL 8

/* hosts (may be NULL): the host is checked by name, resolved once and its addresses
 * checked; libcurl connects only to those (CURLOPT_RESOLVE) and every socket it opens,
 * redirects included, is checked again (hostpolicy_socket_ok). */
int source_open_http(const char *url, const hostpolicy *hosts, source **out, mlhep_err *e);

/* Parses one answer to a range request held in memory exactly as a transfer's
 * callbacks do (for tests and fuzzing): head is the status line and header lines
 * ("\r\n" separated), the body is fed in pieces of `piece` bytes (0: at once);
 * r[0..n) are the ranges asked for, sorted and non-overlapping, len > 0. Returns 0
 * when every range got all its bytes, 1 when the server sent fewer ranges than asked
 * (a reader then fetches the rest one by one), or a negative MLHEP_E* code with the
 * cause in e ("HTTP 404 Not Found", "malformed multipart answer: ..."). */
int http_parse_answer(const char *head, size_t headlen, const void *body, size_t bodylen, size_t piece,
                      source_range *r, size_t n, mlhep_err *e);

/* The bearer token the environment provides for HTTPS (see above) into buf
 * (NUL-terminated); 0 and "" if none; MLHEP_EINVAL if it does not fit or contains
 * characters not allowed in a header; MLHEP_EIO if the token file cannot be read. */
int http_bearer_token(char *buf, size_t n, mlhep_err *e);

#endif

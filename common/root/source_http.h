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
 * Failures that may pass (refused connection, time-out, 5xx, 408, 429, a short
 * answer) are retried with backoff (netretry.h); final ones fail at once with the
 * cause: 401/403 (saying whether a bearer token was sent, where it came from, or that
 * it was not forwarded to a redirect target, plus the server's WWW-Authenticate
 * error_description), 404, 416, a redirect loop, a server certificate that does not
 * verify against the CA (remote_ca_bundle / remote_ca_dir / X509_CERT_DIR), a refused
 * client certificate, an expired X.509 proxy or JWT bearer token (checked before
 * anything is sent). Messages name the URL and the cause.
 *
 * Credentials (srcaccess.h has where they come from; https:// only, never sent over
 * plain http://): the bearer token as "Authorization: Bearer ...", the X.509 proxy as
 * client certificate and key.
 *
 * Redirects: the open follows them one hop at a time (at most 8, a loop is an error);
 * each hop is checked against data_hosts, and the bearer token goes to a hop only when
 * it is the host:port asked for or remote_token_forward lists it (an explicit opt-in
 * for storage that redirects to its data nodes: libcurl's own rule drops the token on
 * any change of host or port). Later transfers go straight to the last hop.
 *
 * Ownership: source_open_http() returns a source freed by source_close(). */
#ifndef MLHEP_SOURCE_HTTP_H
#define MLHEP_SOURCE_HTTP_H

#include <stddef.h>

#include "root/hostpolicy.h"
#include "root/source.h"
#include "root/srcaccess.h"

/* Ranges per multi-range request (keeps the header well under servers' 8 KiB). */
#define HTTP_MAX_RANGES 128
/* Transfers in flight at once for one readv. */
#define HTTP_PARALLEL 8

/* acc (NULL: the environment's): acc->hosts (may be NULL): the host is checked by
 * name, resolved once and its addresses checked; libcurl connects only to those
 * (CURLOPT_RESOLVE) and every socket it opens, redirects included, is checked again
 * (hostpolicy_socket_ok). */
int source_open_http(const char *url, const srcaccess *acc, source **out, mlhep_err *e);

/* Parses one answer to a range request held in memory exactly as a transfer's
 * callbacks do (for tests and fuzzing): head is the status line and header lines
 * ("\r\n" separated), the body is fed in pieces of `piece` bytes (0: at once);
 * r[0..n) are the ranges asked for, sorted and non-overlapping, len > 0. Returns 0
 * when every range got all its bytes, 1 when the server sent fewer ranges than asked
 * (a reader then fetches the rest one by one), or a negative MLHEP_E* code with the
 * cause in e ("HTTP 404 Not Found", "malformed multipart answer: ..."). */
int http_parse_answer(const char *head, size_t headlen, const void *body, size_t bodylen, size_t piece,
                      source_range *r, size_t n, mlhep_err *e);

/* The bearer token the environment provides for HTTPS (srcaccess_token with no
 * access) into buf (NUL-terminated); 0 and "" if none; MLHEP_EINVAL if it does not fit
 * or contains characters not allowed in a header; MLHEP_EIO if the token file cannot
 * be read; MLHEP_EAUTH if it is a JWT that has expired. */
int http_bearer_token(char *buf, size_t n, mlhep_err *e);

#endif

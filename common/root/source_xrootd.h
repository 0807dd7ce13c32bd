/* source_xrootd.h - root:// byte sources over XRootD.
 *
 * Two layers: a thin extern "C" shim over the C++ client library XrdCl
 * (source_xrootd.cc: open, read, vector read, close, each call classified into an
 * mlhep error code and a "retrying may help" flag), and the source implementation
 * in C on top of it (source_xrd.c: retries with backoff, splitting vector reads to
 * the server's limits, messages naming the URL). Credentials are XrdCl's own: an
 * X.509 proxy (X509_USER_PROXY) or a token (BEARER_TOKEN, BEARER_TOKEN_FILE) from
 * the environment, and XRD_* settings override our time-out defaults.
 *
 * Ownership: xrdc_open() allocates, xrdc_close() frees; chunk buffers are the
 * caller's. An xrdc_file may be read from several threads at once. */
#ifndef MLHEP_SOURCE_XROOTD_H
#define MLHEP_SOURCE_XROOTD_H

#include <stddef.h>
#include <stdint.h>

#include "root/hostpolicy.h"
#include "root/source.h"
#include "root/srcaccess.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Server limits of one kXR_readv (XrdCl defaults; servers may allow more). */
#define XRDC_MAX_CHUNKS 1024
#define XRDC_MAX_CHUNK_BYTES 2097136u

typedef struct xrdc_file xrdc_file;

typedef struct xrdc_chunk {
    uint64_t off;
    uint32_t len;
    void *buf;
} xrdc_chunk;

/* Outcome of a failed call: code (MLHEP_E*), whether another attempt may succeed,
 * and the cause in words ("connection refused", "no such file or directory"). */
typedef struct xrdc_status {
    int code;
    int retry;
    int conn; /* the connection to the server failed (XrdCl does not say why) */
    char msg[640];
} xrdc_status;

/* Applies our time-out defaults to XrdCl once per process (XRD_* variables set in
 * the environment win): connection window = timeout_s, one connection attempt
 * (we retry ourselves), request time-out = timeout_s. */
void xrdc_configure(unsigned timeout_s);

int xrdc_open(const char *url, unsigned timeout_s, xrdc_file **out, uint64_t *size, xrdc_status *st);
/* Reads up to len bytes; *got says how many arrived (fewer only at end of file). */
int xrdc_read(xrdc_file *x, uint64_t off, uint32_t len, void *buf, unsigned timeout_s, uint32_t *got,
              xrdc_status *st);
/* One kXR_readv: n <= XRDC_MAX_CHUNKS chunks, each len <= XRDC_MAX_CHUNK_BYTES, all
 * read completely or the call fails. */
int xrdc_readv(xrdc_file *x, const xrdc_chunk *c, size_t n, unsigned timeout_s, xrdc_status *st);
void xrdc_close(xrdc_file *x);

/* The root:// source (source_xrd.c). Time-out per operation and attempts come from
 * acc->retry (netretry.h). acc->hosts (may be NULL): the host is checked by name and
 * its addresses resolved and checked just before the open (hostpolicy.h; XrdCl then
 * resolves it again itself). An X.509 proxy (srcaccess_proxy) that has expired fails
 * the open at once. Auth failures (kXR_NotAuthorized, GSI/token login) are final. */
int source_open_xrootd(const char *url, const srcaccess *acc, source **out, mlhep_err *e);

#ifdef __cplusplus
}
#endif

#endif

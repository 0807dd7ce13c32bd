/* credbox.h - a user's storage credential sealed for one job (AES-256-GCM).
 *
 * Issue 18, per-user delegation: a user hands a job a short-lived storage credential
 * (a bearer token or an X.509 proxy) at submission; it must be unreadable at rest and
 * usable only by the worker running that job. This module is the sealing: the box is
 * AES-256-GCM under a key derived from the service key (msgsig.h: held by workers and
 * the gateway, never by users), with the job id, the owner and the credential's kind as
 * associated data, so a box copied to another job or another user's job, or altered in
 * any byte, does not open. Used for per-user delegation of a bearer token (docs/grid.md):
 * jobpub_submit seals, the worker running the job opens (worker/mlhep_worker.c).
 *
 * Format (text, fits a JSON string or a Redis value): "cb1." + base64url(nonce 12 bytes
 * || ciphertext || tag 16 bytes). The key is HMAC-SHA256(service key, "mlhep credbox
 * v1"), so the box key differs from the message-signing use of the same secret.
 *
 * Ownership: credbox_seal returns a malloc'ed string (free it); credbox_open writes into
 * the caller's buffer and wipes its temporaries. Credentials are never put in messages
 * in clear: the box travels in the job's signed message (job.h, storage_cred). */
#ifndef MLHEP_CREDBOX_H
#define MLHEP_CREDBOX_H

#include <stddef.h>

#include "base/err.h"

/* largest credential sealed (an X.509 proxy with its key is 4-8 KiB) */
#define CREDBOX_MAX 16384

/* Seals cred[0..len) for job `job_id` of `owner`; kind is "token" or "x509". */
int credbox_seal(const char *service_key, const char *job_id, const char *owner, const char *kind, const void *cred,
                 size_t len, char **out, mlhep_err *e);

/* Opens a box into buf (n bytes; NUL-terminated, *len without it). MLHEP_EAUTH "the
 * storage credential does not belong to this job (or was altered)" when the key, the
 * job id, the owner or the kind differ or a byte was changed; MLHEP_EFORMAT when it is
 * not a box; MLHEP_EINVAL when buf is too small. */
int credbox_open(const char *service_key, const char *job_id, const char *owner, const char *kind, const char *box,
                 char *buf, size_t n, size_t *len, mlhep_err *e);

#endif

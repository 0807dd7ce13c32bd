/* rpcbatch.h - several prediction requests (or their replies) in one broker message.
 *
 * Under load the gateway has many small predictions of one user waiting to go to
 * mlhep-infer at the same moment (64 TFaaS clients asking one row each). Each broker
 * message costs the broker and both ends a fixed amount whatever it carries (frames,
 * routing, a delivery, an ack, a wake-up): for a one-row request that is most of the
 * work. So the gateway sends the requests that are waiting together, when they share
 * the token (the worker checks it once for all of them, and a request never travels under
 * another user's token), as one message of type RPCBATCH_TYPE; the worker handles each
 * item exactly as it would handle it alone (same code, same checks, same errors) and
 * answers one message holding the item replies in the same order. A failure of the
 * whole message (a refused token, no worker, a timeout) is each item's failure.
 *
 * Wire format, version 1 (written by rpcbatch_begin/add/end, read by rpcbatch_parse);
 * the same for requests and replies; integers little-endian:
 *
 *   offset  size  field
 *   0       4     magic "MLHB"
 *   4       2     format version (1); any other version is refused
 *   6       2     reserved, 0
 *   8       4     n: number of items, 1..RPCBATCH_MAX_ITEMS
 *   12      ...   n items, each:
 *                   1   t: length of the item's content type, 0..RPCBATCH_CTYPE_MAX
 *                       (0: application/json)
 *                   t   the content type, printable ASCII
 *                   4   b: the item's body length
 *                   b   the body: exactly what a single message would carry
 *   end-8   8     XXH64 (seed 0) of every byte before it
 *
 * Nothing may follow the checksum. The message's AMQP content type is
 * RPCBATCH_CONTENT_TYPE; its type property RPCBATCH_TYPE (requests). */
#ifndef MLHEP_SERVICE_RPCBATCH_H
#define MLHEP_SERVICE_RPCBATCH_H

#include <stddef.h>

#include "base/err.h"
#include "base/wbuf.h"

#define RPCBATCH_TYPE "predict-batch"
#define RPCBATCH_CONTENT_TYPE "application/x-mlhep-batch"
#define RPCBATCH_MAX_ITEMS 4096
#define RPCBATCH_CTYPE_MAX 63

typedef struct rpcbatch_item {
    const void *body; /* points into the parsed buffer */
    size_t len;
    char content_type[RPCBATCH_CTYPE_MAX + 1]; /* "" when the item had none */
} rpcbatch_item;

/* Writing: begin, add each item, end. w is reset by begin; errors (memory, a content
 * type too long or not printable, too many items) are reported by end. */
void rpcbatch_begin(wbuf *w);
void rpcbatch_add(wbuf *w, const char *content_type, const void *body, size_t len);
int rpcbatch_end(wbuf *w, mlhep_err *e);

/* Reading: 0 with *items (malloc'ed, n of them, bodies pointing into buf: keep buf) or
 * MLHEP_EFORMAT saying what is wrong (magic, version, count, a truncated item, the
 * checksum, bytes after it) / MLHEP_ENOMEM. */
int rpcbatch_parse(const void *buf, size_t len, rpcbatch_item **items, size_t *n, mlhep_err *e);

#endif

/* msgsig.h - provenance of the service's internal broker messages: who may have written
 * a job, cancel or sub-task message.
 *
 * Anyone holding a broker account that can publish to the `jobs` exchange (or to the
 * default exchange) can put bytes into the worker's queues; the bearer token inside a
 * message says who the job is for, but not that the message came from the service (a
 * garbage token still names a job id, and dead-lettered or sub-task messages carry no
 * token at all). So every message the worker acts on is signed with the service key, a
 * secret shared by the gateway, the workers and operators' mlhep-submit (config
 * `service_key`, normally `service_key_file`; users never hold it), and the worker
 * verifies the signature before it reads or writes any job record. A message without a
 * valid signature is dropped (acked, one log line) and changes nothing.
 *
 * Who signs what (kind):
 *   job     the gateway's and mlhep-submit's job messages (jobpub.h), routed by the
 *           broker to jobs.train and jobs.registry; dead-lettered copies keep it
 *   cancel  cancel requests (jobpub.h) on jobs.control
 *   specs   the coordinator's fanned-out sub-tasks (fanout.h) on jobs.specs; dead-lettered
 *           copies keep it
 *
 * Wire format, version 1 (written by msgsig_sign, read by msgsig_verify). The signature
 * travels in the AMQP message header MSGSIG_HEADER (a longstr; RabbitMQ keeps headers
 * when it dead-letters a message), the body is left as it is:
 *
 *   mlhepsig1.<kind>.<mac>
 *
 *   "mlhepsig"  magic: says what the header holds
 *   "1"         format version; any other version is refused
 *   <kind>      job | cancel | specs (see above): a message signed as one kind is never
 *               accepted as another (a signed cancel body cannot pass as a job)
 *   <mac>       64 lower-case hex digits: HMAC-SHA256 keyed with the service key over
 *               the bytes "mlhepsig1" 0x00 <kind> 0x00 <body>, where <body> is the whole
 *               message body exactly as published (JSON; its fields are described in
 *               job.h and fanout.h: job id, user, token, workflow, lease, ...)
 *
 * The MAC covers the body whole, so every field that matters (job id, user, token,
 * workflow, sub-task lease and slice) is bound to the kind. Broker-set headers
 * (x-death, x-first-death-reason, x-delivery-count) are not covered: they are written by
 * the broker, which only service accounts can make dead-letter a message.
 *
 * Replays. A signature proves where a message came from, not that it is new: a copy of a
 * valid message (same job id) is harmless by the job lifecycle (job.h): a finished job
 * is never left (a replayed job is skipped, a replayed cancel of a finished job is
 * refused, a replayed registration finds the record), sub-tasks are keyed by the
 * coordinator's lease and rewrite the same value.
 *
 * Keys. The key is the first line of service_key_file, at least MSGSIG_KEY_MIN
 * characters (deploy/local/up.sh writes 64 random hex digits into
 * secrets/service.key). Rotating it: give every gateway, worker and operator the new
 * file and restart them together; messages queued under the old key are then dropped
 * (re-submit them). */
#ifndef MLHEP_MSGSIG_H
#define MLHEP_MSGSIG_H

#include <stddef.h>

#include "base/err.h"
#include "service/config.h"

#define MSGSIG_HEADER "x-mlhep-sig" /* the AMQP header holding the signature */
#define MSGSIG_MAX 96               /* bytes of a signature string, NUL included */
#define MSGSIG_KEY_MIN 32           /* characters of a service key, at least */

#define MSGSIG_JOB "job"
#define MSGSIG_CANCEL "cancel"
#define MSGSIG_SPECS "specs"

/* The service key of cfg (service_key), checked: MLHEP_EINVAL naming the key when it is
 * missing or shorter than MSGSIG_KEY_MIN. *key points into cfg. what: the program, for
 * the message ("mlhep-worker needs ..."). */
int msgsig_key(const mlhep_config *cfg, const char *what, const char **key, mlhep_err *e);

/* Signs body as kind (one of MSGSIG_JOB/CANCEL/SPECS) into out. */
int msgsig_sign(const char *key, const char *kind, const void *body, size_t len, char out[MSGSIG_MAX],
                mlhep_err *e);

/* Checks sig (the header's value; NULL or "" = unsigned) over body. want: the kind the
 * caller accepts, or NULL for any of the three. On success the kind is copied into
 * kind_out (may be NULL). MLHEP_EAUTH with the reason (unsigned, malformed, wrong
 * version or kind, bad signature) otherwise. Comparison in constant time. */
int msgsig_verify(const char *key, const char *want, const char *sig, const void *body, size_t len,
                  char kind_out[16], mlhep_err *e);

#endif

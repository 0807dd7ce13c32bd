/* jobpub.h - publishing jobs and cancel requests to the broker, as the service's front
 * door does it (the gateway, and mlhep-submit's operator mode inside the cluster).
 *
 * One connection with publisher confirms (exchange `jobs`, persistent, mandatory):
 * jobpub_submit returns only once the broker has taken the job (routing key `train`,
 * which the broker also routes to the registry queue that creates the job's status
 * record), so an id handed to a user always names a queued job. The connection is kept
 * open between calls and re-opened once when a publish finds it broken (the broker
 * restarted); a mutex serialises callers, so many threads may share one jobpub.
 * Every message is signed with the service key (msgsig.h: kind job or cancel), which
 * the worker checks before it touches any record; jobpub_open refuses a configuration
 * without service_key.
 *
 * Ownership: jobpub_open allocates, jobpub_close frees. */
#ifndef MLHEP_JOBPUB_H
#define MLHEP_JOBPUB_H

#include <jansson.h>

#include "base/err.h"
#include "service/config.h"
#include "service/job.h"

typedef struct jobpub jobpub;

/* Reads the amqp_* keys and service_key of cfg. connect_now: connect at once (an unreachable broker is
 * then an error here: a command line fails before doing anything); else at first use
 * (a server starts while the broker is still coming up). */
int jobpub_open(const mlhep_config *cfg, int connect_now, jobpub **out, mlhep_err *e);
void jobpub_close(jobpub *p);

/* Publishes a job of user (token carried for the worker's check) with workflow. id:
 * the job id to use (a retried submission keeps its id), or NULL for a new one; the id
 * used is written to id_out. MLHEP_ENOMEM when the message would exceed
 * JOB_MESSAGE_MAX (job.h; the message names the limit: nothing is queued). MLHEP_ENET
 * when the broker cannot be reached or refuses the message (nothing is queued then, or - a lost confirm - the job may be queued:
 * a retry with the same id is safe). storage_cred: NULL, or the user's storage
 * credential for the job's reads (per-user delegation, docs/grid.md) of kind
 * storage_kind ("token": a bearer token, "x509": the PEM text of an X.509 proxy), checked
 * by the caller (jobpub_storage_token, srcaccess_check_proxy_pem) and sealed here for
 * this job id, user and kind (credbox.h) into the message's storage_cred: it is never in
 * a message in clear. */
int jobpub_submit(jobpub *p, const char *user, const char *token, json_t *workflow, const char *id,
                  const char *storage_kind, const char *storage_cred, char id_out[JOB_ID_HEX + 1], mlhep_err *e);

/* Checks a storage token a user hands a job (text of a file or a request field; the
 * surrounding white space is dropped in place): MLHEP_EINVAL when it is empty, longer
 * than SRCACCESS_TOKEN_MAX or holds characters not allowed in an HTTP header;
 * MLHEP_EAUTH "the storage token expired at <UTC time>" when it is a JWT whose exp has
 * passed. Messages never quote the token. */
int jobpub_storage_token(char *tok, mlhep_err *e);

/* Publishes a cancel request for job id of user. */
int jobpub_cancel(jobpub *p, const char *user, const char *token, const char *id, mlhep_err *e);

/* 0 if the connection is open, or could be opened now (readiness); else why not. */
int jobpub_ready(jobpub *p, mlhep_err *e);

#endif

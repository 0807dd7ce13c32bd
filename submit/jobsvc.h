/* jobsvc.h - where mlhep-submit's job commands (submit, status, watch, list, cancel,
 * logs, result) read and write: program code, linked from build/libmlhep-cli.a.
 *
 * Two ways in, chosen by the configuration:
 *   - gateway_url set (MLHEP_GATEWAY_URL too): HTTPS to mlhep-gateway with the user's
 *     bearer token (gateway/gwclient.h). This is the users' way: their configuration
 *     holds the gateway's URL and CA and no broker or Redis account. The gateway checks
 *     the token and the workflow before anything is queued and answers for the token's
 *     user only; its refusals keep their text, and a refused token still gives exit
 *     20 + the verifier's reason (read from the gateway's "token refused (REASON)").
 *   - otherwise, directly (operators inside the cluster): the token is checked here,
 *     jobs and cancel requests are published to the broker (service/jobpub.h) and
 *     records read from Redis (service/jobstore.h) with the operator's accounts.
 * Records come back in one form either way: the store's, every field a string (the
 * gateway's numbers are turned back into their shortest text, its booleans into "1"
 * and "0") plus heartbeat_ttl_ms as an integer (jobstore.h), so printing is the same.
 *
 * Every function prints its own error (infer_svc_fail) and returns mlhep-submit's exit
 * code (JX_*, listed in mlhep-submit --help). */
#ifndef MLHEP_JOBSVC_H
#define MLHEP_JOBSVC_H

#include <jansson.h>

#include "base/err.h"
#include "service/config.h"
#include "service/job.h"

enum {
    JX_OK = 0,
    JX_USAGE = 2,
    JX_CONFIG = 3,
    JX_AUTH = 4,
    JX_WORKFLOW = 5,
    JX_BROKER = 6,      /* submit/cancel could not be queued (broker or gateway) */
    JX_STORE = 7,       /* records could not be read (Redis or gateway) */
    JX_NOTFOUND = 8,
    JX_JOBFAILED = 9,
    JX_JOBCANCELLED = 10,
    JX_NOTREADY = 11,
    JX_ARTIFACTS = 12,
    JX_FINISHED = 13,
    JX_TIMEOUT = 14,    /* watch: --timeout reached */
    JX_PATH = 15,
    /* 16: predict/models got no reply from the inference service in time
     * (INFER_X_NOREPLY, infer_svc.h) */
    JX_TOKEN_BASE = 20, /* + jwt_reason (1..12): the token was refused */
};

typedef struct jobsvc jobsvc;

/* Opens the way in described above for token (kept by the caller until jobsvc_close).
 * Directly, the token is verified first. Returns an exit code. */
int jobsvc_open(const mlhep_config *cfg, const char *token, jobsvc **out);
void jobsvc_close(jobsvc *s); /* NULL is fine */

/* 1 when the gateway is the way in. */
int jobsvc_gateway(const jobsvc *s);

/* Queues workflow wf (read from path, named in messages). Directly and unless
 * unchecked, the workflow is checked here first as the worker will (paths lexically);
 * through the gateway, the gateway checks it. storage_cred: NULL, or a storage
 * credential for the job's reads of kind storage_kind ("token": a bearer token checked
 * with jobpub_storage_token; "x509": an X.509 proxy's PEM text checked with
 * srcaccess_check_proxy_pem), sealed for the job by the gateway or here (docs/grid.md).
 * id gets the job's id. */
int jobsvc_submit(jobsvc *s, json_t *wf, const char *path, int unchecked, const char *storage_kind,
                  const char *storage_cred, char id[JOB_ID_HEX + 1]);

/* The record of job id: 0 with *rec, or the exit code (no such job for this user: 8). */
int jobsvc_get(jobsvc *s, const char *id, json_t **rec);
/* The same without a message when the job is not there: 1 then (*rec NULL). */
int jobsvc_peek(jobsvc *s, const char *id, json_t **rec);
/* The user's records, newest first, at most limit (an array). */
int jobsvc_list(jobsvc *s, int limit, json_t **recs);
/* The job's log lines (an array of strings). */
int jobsvc_logs(jobsvc *s, const char *id, json_t **lines);
/* Sends a cancel request for job id (which the caller has found unfinished). */
int jobsvc_cancel(jobsvc *s, const char *id);

/* The JSON artifact `name` of succeeded job id, whose record names its directory dir
 * (read there directly; through the gateway, fetched). 0 with *doc, else -1 and why
 * filled (nothing printed: the caller decides). */
int jobsvc_artifact_json(jobsvc *s, const char *id, const char *dir, const char *name, json_t **doc,
                         mlhep_err *why);
/* Every artifact of job id (directory dir in its record) into dst. */
int jobsvc_fetch(jobsvc *s, const char *id, const char *dir, const char *dst);

/* Called with each new record of a watched job: -1 to go on, else the exit code to
 * stop with. */
typedef int (*jobsvc_watch_fn)(void *cls, json_t *rec);

/* Follows job id until fn stops (its code returned), the job turns out not to exist
 * after a grace of 5 s for its registration (8, printed), or timeout_s (> 0) passes:
 * JX_TIMEOUT, nothing printed. Directly the record is read every 100 ms; through the
 * gateway its live event stream is followed. */
int jobsvc_watch(jobsvc *s, const char *id, double timeout_s, jobsvc_watch_fn fn, void *cls);

#endif

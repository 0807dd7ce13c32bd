/* gwclient.h - the client of mlhep-gateway: every job, model and prediction endpoint
 * over HTTPS (libcurl), for mlhep-submit and any other program.
 *
 * Where: configuration keys (config.h) gateway_url (https://host:port; plain http://
 * only to a loopback host, since the bearer token goes with every request) and
 * gateway_ca (the CA that signed the gateway's certificate; "" = the system's
 * store). Certificates and host names are always verified, redirects never followed
 * (the token stays with the gateway).
 *
 * Errors: a refused request becomes an mlhep error carrying the gateway's own "error"
 * text, its code set by the HTTP status: 401 and 403 MLHEP_EAUTH, 404 MLHEP_ENOTFOUND,
 * 409 MLHEP_ECONFLICT, 413 MLHEP_ENOMEM, any other 4xx MLHEP_EINVAL, 5xx MLHEP_ENET (a 504
 * - the gateway waited too long for mlhep-infer - and a reply that does not come within
 * the client's own time limit read "no reply within ...", as in predict_rpc.h). Model
 * and prediction calls relay mlhep-infer's replies: their errors read "CODE: message",
 * exactly as predict_rpc.h's do, so a program sees the same errors over either path. A
 * connection that fails is MLHEP_ENET naming the gateway.
 *
 * Retries (the caller sees only the outcome):
 *   - 429 Too Many Requests: waits for its Retry-After (1 s when absent, at most
 *     GWCLIENT_RETRY_AFTER_MAX s) and tries again, at most GWCLIENT_429_RETRIES times,
 *     then fails with MLHEP_ENET and the gateway's text;
 *   - a failed connection: tried again with root/netretry.h's backoff and attempts
 *     (MLHEP_REMOTE_ATTEMPTS, default 3) when repeating is safe - every read, prediction,
 *     cancel, share and delete, and a submission, which carries an Idempotency-Key made
 *     for that submission and reused on its retries (the gateway queues the job once;
 *     409 "in progress" on such a retry is waited out like a 429). Tagging a model (it
 *     makes a new version) is repeated only when the connection was never made. A
 *     refused certificate is never retried.
 *
 * Threads: one gwclient serves one thread; open one per thread. Predictions may be
 * pipelined on it (gwclient_send / gwclient_recv: any number in flight on one curl
 * multi handle, replies taken in the order they complete), which is how
 * infer/treescore.h scores a ROOT tree through the gateway (gwclient_treescore).
 * Connections stay open between calls.
 *
 * Ownership: gwclient_open allocates (it keeps a copy of the token, wiped on close);
 * documents (json_decref) and buffers (free) handed out are the caller's. */
#ifndef MLHEP_GW_CLIENT_H
#define MLHEP_GW_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/wbuf.h"
#include "infer/colreq.h"
#include "infer/predict_rpc.h"
#include "infer/treescore.h"
#include "service/config.h"
#include "service/job.h"

#define GWCLIENT_TIMEOUT_MS_DEFAULT 60000 /* longest wait for one answer */
#define GWCLIENT_429_RETRIES 5
#define GWCLIENT_RETRY_AFTER_MAX 30       /* seconds */
#define GWCLIENT_BODY_MAX ((size_t)2 << 30) /* largest answer kept in memory (an artifact in
                                                fetch); an archive goes to its file, any size */

/* gwclient_follow's results besides 0 (the job ended) and errors */
#define GWCLIENT_STOPPED 1 /* the callback asked to stop */
#define GWCLIENT_TIMEOUT 2 /* the deadline came first */

typedef struct gwclient gwclient;

/* Reads gateway_url and gateway_ca of cfg; token is copied (NULL: no
 * Authorization header, for the open routes). Nothing is sent yet. A missing or
 * unusable URL is MLHEP_EINVAL naming the key. */
int gwclient_open(const mlhep_config *cfg, const char *token, gwclient **out, mlhep_err *e);
void gwclient_close(gwclient *c); /* NULL is fine */

/* Longest wait for one answer in ms (0: none); live streams are not bound by it. */
void gwclient_set_timeout(gwclient *c, int timeout_ms);

/* The gateway's base URL as configured (for messages). */
const char *gwclient_url(const gwclient *c);

/* ---- jobs (scope mlhep.submit) -------------------------------------------------- */

/* POST /v1/jobs: workflow is the workflow document's JSON text. id_out gets the job id
 * and *doc (may be NULL) the answer {"id","state","status_url","events_url"}. */
int gwclient_submit(gwclient *c, const char *workflow, size_t len, char id_out[JOB_ID_HEX + 1], json_t **doc,
                    mlhep_err *e);
/* The same handing the job a storage credential for its reads (per-user delegation,
 * docs/grid.md): kind "token" (sent in the GW_STORAGE_TOKEN_HEADER header, jobsapi.h) or
 * "x509" (the proxy's PEM text, sent base64-encoded in GW_STORAGE_PROXY_HEADER); cred
 * NULL: none. */
int gwclient_submit_with(gwclient *c, const char *workflow, size_t len, const char *kind, const char *cred,
                         char id_out[JOB_ID_HEX + 1], json_t **doc, mlhep_err *e);
/* GET /v1/jobs/{id}: the status record (numbers as numbers). */
int gwclient_job(gwclient *c, const char *id, json_t **rec, mlhep_err *e);
/* GET /v1/jobs?limit=N: the caller's records, newest first (an array). */
int gwclient_jobs(gwclient *c, int limit, json_t **jobs, mlhep_err *e);
/* GET /v1/jobs/{id}/logs: the log lines (an array of strings). */
int gwclient_logs(gwclient *c, const char *id, json_t **lines, mlhep_err *e);
/* POST /v1/jobs/{id}/cancel; MLHEP_ECONFLICT when the job has already finished. */
int gwclient_cancel(gwclient *c, const char *id, json_t **doc, mlhep_err *e);
/* GET /v1/jobs/{id}/artifacts: {"id","files":[{"name","bytes","sha256","url",...}],
 * "archive_url"}; MLHEP_ECONFLICT while the job has not succeeded. */
int gwclient_artifacts(gwclient *c, const char *id, json_t **doc, mlhep_err *e);
/* GET /v1/jobs/{id}/artifacts/{name}: the file's bytes (*data malloc'ed, NUL after). */
int gwclient_artifact(gwclient *c, const char *id, const char *name, char **data, size_t *len, mlhep_err *e);
/* GET /v1/jobs/{id}/archive into the file path (.tar.gz; replaced if it exists). */
int gwclient_archive(gwclient *c, const char *id, const char *path, mlhep_err *e);
/* Every file of the job's MANIFEST.json, and the manifest itself, into directory dir
 * (created if missing): sizes and SHA-256 checked against the manifest, names that are
 * not plain file names refused (nothing is written outside dir). */
int gwclient_fetch(gwclient *c, const char *id, const char *dir, mlhep_err *e);

/* What a live stream delivers: "status" (the record, as gwclient_job gives it), "log"
 * ({"n": line number, "line": text}), "end" ({"state"}, or {"error"} if the record
 * vanished). */
typedef enum gwclient_event { GWCLIENT_EV_STATUS, GWCLIENT_EV_LOG, GWCLIENT_EV_END } gwclient_event;
/* Called for each event (data borrowed); a nonzero return stops the stream. */
typedef int (*gwclient_event_fn)(void *cls, gwclient_event kind, const json_t *data);

/* Follows job id until it ends: GET /v1/jobs/{id}/events (Server-Sent Events; a
 * stream that breaks is opened again, log lines already delivered are not repeated),
 * or with poll_ms > 0 by reading the record every poll_ms (status and end events only).
 * timeout_s > 0 bounds the whole wait. Returns 0 after the end event, GWCLIENT_STOPPED,
 * GWCLIENT_TIMEOUT, or an error (MLHEP_ENOTFOUND: no such job, yet). */
int gwclient_follow(gwclient *c, const char *id, int poll_ms, double timeout_s, gwclient_event_fn fn, void *cls,
                    mlhep_err *e);

/* ---- models (scope mlhep.predict) ------------------------------------------------- */

/* GET /v1/models: {"models": [...], "jobs": [...]} (mlhep-infer's listing). */
int gwclient_models(gwclient *c, json_t **doc, mlhep_err *e);
/* GET /v1/models/{ref}: {"name", "features": the features document, "registry"}. */
int gwclient_model(gwclient *c, const char *ref, json_t **doc, mlhep_err *e);
/* What model ref needs, as predict_rpc_features gives it (from gwclient_model). */
int gwclient_features(gwclient *c, const char *ref, predict_rpc_model *m, mlhep_err *e);
/* POST /v1/models {"job","name","shared"}: *doc {"model": "NAME@V", ...}. */
int gwclient_model_tag(gwclient *c, const char *job, const char *name, int shared, json_t **doc, mlhep_err *e);
/* POST /v1/models/{name}/share {"shared"}. */
int gwclient_model_share(gwclient *c, const char *name, int shared, json_t **doc, mlhep_err *e);
/* DELETE /v1/models/{ref} (NAME@VERSION, or NAME with every version). */
int gwclient_model_delete(gwclient *c, const char *ref, json_t **doc, mlhep_err *e);

/* ---- predictions (scope mlhep.predict): POST /v1/predict ------------------------------ */

/* A predict-request document (JSON text): *reply (the answer's text, may be NULL if not
 * wanted) and *doc, as predict_rpc_json gives them. */
int gwclient_predict_json(gwclient *c, const char *body, size_t len, char **reply, json_t **doc, mlhep_err *e);
/* A binary columnar request (colreq.h): the decoded answer (colresp_free). */
int gwclient_predict_columns(gwclient *c, const wbuf *req, colresp *r, mlhep_err *e);

/* Pipelined: sends one request (binary: a colreq, else a JSON document; body copied)
 * and returns at once; *seq names it. */
int gwclient_send(gwclient *c, int binary, const void *body, size_t len, uint64_t *seq, mlhep_err *e);
/* The next answer to come in: *seq of its request and its body (*reply malloc'ed, NUL
 * after; a binary answer or a JSON document, as predict_rpc_recv's replies); an answer
 * that is an error (non-2xx) is returned as that error. Waits at most timeout_ms. */
int gwclient_recv(gwclient *c, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e);

/* A transport for treescore_remote_via over this client (c must outlive it). */
void gwclient_treescore(gwclient *c, treescore_transport *t);

#endif

/* jobsapi.h - the gateway's job endpoints: submit, list, status, live events, logs,
 * artifacts, cancel; and the MLaaS4HEP service's job calls (/submit, /status_docker,
 * /logs, /model).
 *
 * Every lookup is made under the caller's own key prefix in Redis and the caller's own
 * directory of the artifact store, so another user's job id is simply "not found".
 * A submission is checked (JSON, workflow schema and rules, the same code as the
 * worker) before anything is queued, and published with publisher confirms; with an
 * Idempotency-Key header a retried submission returns the first one's job instead of
 * queueing another (jobstore_idem_*). Artifact files are served only when the job's
 * MANIFEST.json lists them, opened without following links; the archive is a .tar.gz
 * built from the same list.
 *
 * Each function answers one route; the router (gateway.c) has checked the token and the
 * method, and m holds the path's parameters. */
#ifndef MLHEP_GW_JOBSAPI_H
#define MLHEP_GW_JOBSAPI_H

#include "gateway/gwctx.h"
#include "gateway/gwhttp.h"
typedef struct gw_stream gw_stream;
#include "gateway/route.h"

/* The request header of POST /v1/jobs (and MLaaS4HEP's /submit) that hands the job a
 * storage bearer token for its reads (per-user delegation, docs/grid.md): checked,
 * sealed for the job (jobpub_submit), never logged, stored or echoed in clear. */
#define GW_STORAGE_TOKEN_HEADER "X-Storage-Token"
/* The same for an X.509 proxy: the x509up file (PEM: proxy certificate, key, chain)
 * base64-encoded on one line (`base64 -w0`); checked (a certificate, its key, not
 * expired) and handled like the token. At most one of the two per job. */
#define GW_STORAGE_PROXY_HEADER "X-Storage-Proxy"

int jobsapi_submit(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_mlaas_submit(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_list(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_status(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_events(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_logs(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_artifacts(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_artifact(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_archive(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_cancel(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
/* MLaaS4HEP's GET /status_docker?process_name=, /logs?process_name=, /model?process_name= */
int jobsapi_mlaas_status(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_mlaas_logs(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int jobsapi_mlaas_model(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);

/* The thread feeding live event streams (every SSE_POLL_MS it looks at each stream's
 * record and log in Redis and wakes the streams that have news). */
int jobsapi_streams_start(gw_ctx *g, mlhep_err *e);
void jobsapi_streams_stop(gw_ctx *g);

/* Job counts by state over every user (for /metrics). */
int jobsapi_counts(gw_ctx *g, long long counts[JOB_NSTATES], mlhep_err *e);

#endif

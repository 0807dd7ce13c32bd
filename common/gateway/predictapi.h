/* predictapi.h - the gateway's model and prediction endpoints, forwarded over the broker
 * to mlhep-infer (gateway/rpcmux.h), which keeps scaling on its own.
 *
 *   POST /v1/predict                mlhep's JSON request (keys/values, rows, columns) or
 *                                   the binary columnar form (Content-Type
 *                                   application/x-mlhep-columns); the reply as the
 *                                   service gives it
 *   POST /json, /predict/json       TFaaS: {"keys","values","model"} -> [0.086]
 *   GET  /models                    TFaaS's model list
 *   GET  /v1/models                 the caller's models (and those shared with them)
 *   GET  /v1/models/{name}          one model: versions, metrics and its features document
 *   POST /v1/models                 tag a job's model: {"job","name","shared"}
 *   POST /v1/models/{name}/share    {"shared": true|false}
 *   DELETE /v1/models/{ref}         a version (name@v) or the whole name
 *   KServe v2 (gateway/kserve.h): GET /v2, /v2/health/live, /v2/health/ready,
 *   /v2/models/{name}[/versions/{v}], .../ready; POST .../infer
 *
 * The caller's token travels with each request and mlhep-infer checks it again
 * (scope mlhep.predict), so the gateway adds no authority of its own here. Errors of
 * the service keep their message; their code sets the HTTP status. */
#ifndef MLHEP_GW_PREDICTAPI_H
#define MLHEP_GW_PREDICTAPI_H

#include "gateway/gwctx.h"
#include "gateway/gwhttp.h"
#include "gateway/gwtask.h"
#include "gateway/route.h"

/* Predictions (mlhep's and TFaaS's): the RPC is queued and its reply finishes t. */
void predictapi_predict_async(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_task *t);
void predictapi_tfaas_async(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_task *t);
/* The rest may wait (RPCs for model management, v2's conversion): run on worker threads. */
int predictapi_tfaas_models(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_models(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_model_show(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_model_tag(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_model_share(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_model_delete(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_v2_server(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_v2_live(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_v2_ready(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_v2_model(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_v2_model_ready(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
int predictapi_v2_infer(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
/* The body sink of a v2 infer request of len bytes with the binary extension (its
 * Inference-Header-Content-Length read through header): 1 and *out set when the body
 * is taken while it arrives (kserve_stream), 0 when it is kept whole. */
int predictapi_v2_sink(const gw_match *m, const char *(*header)(void *cls, const char *name), void *hcls,
                       size_t len, gw_sink *out);

#endif

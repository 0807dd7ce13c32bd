/* predict_rpc.h - the prediction service's client API: talk to the inference workers
 * (mlhep-infer) over the broker from any program. `mlhep-submit predict` and
 * `mlhep-submit models` (submit/predict_cmd.c, submit/models_cmd.c) are built on it,
 * and so are ROOT-tree scoring (infer/treescore.h) and the load benchmark
 * (bench/infer_load.c); an analysis tool uses it the same way.
 *
 * Requests go to exchange "predict" with routing key "predict" (broker/definitions.json)
 * over amqp_rpc.h, replies come back on the connection's direct reply-to queue; the
 * bearer token travels in the `authorization` header and is checked by the worker.
 * Every request of a connection gets a sequence number (its AMQP correlation id), so
 * several may be in flight and their replies matched in any order.
 *
 * Message types (the AMQP `type` property):
 *   "predict"  a predict-request document (schemas/predict-request.json: keys/values,
 *              rows or columns), answered by {"model", "predictions", ...}; or a binary
 *              columnar request (colreq.h, content type application/x-mlhep-columns),
 *              answered by a binary response (colresp)
 *   "models"   {"op":"list"} | {"op":"features","model":REF} | {"op":"tag",...} |
 *              {"op":"delete",...} | {"op":"share",...} (worker/mlhep_infer.c)
 * Any failure is answered by {"error": MESSAGE, "code": CODE}.
 *
 * Typical use:
 *   predict_rpc *c;
 *   predict_rpc_open(&cfg, token, &c, &e);                    // config.h + the bearer token
 *   predict_rpc_json(c, "predict", body, len, &text, &doc, 60000, &e);    // one JSON round trip
 *   colreq_begin(&cb, "ttH@2", n, ncol, &e); colreq_add(...); colreq_end(&cb, &e);
 *   predict_rpc_columns(c, &cb, &resp, 60000, &e);           // one binary round trip
 *   predict_rpc_close(c);
 * Pipelined: predict_rpc_send / predict_rpc_send_columns, then predict_rpc_recv and
 * predict_rpc_reply_json / predict_rpc_reply_columns on each reply.
 *
 * Errors (mlhep_err codes): a service error reply becomes "CODE: message" with
 * MLHEP_EAUTH (unauthorized, forbidden), MLHEP_ENOTFOUND (unknown_model), MLHEP_EINVAL
 * (bad_request, unknown_branch, too_large) or MLHEP_EUNSUPPORTED (any other code, or
 * none: "error: message"); a JSON reply that is not JSON, or a reply of the wrong shape,
 * is MLHEP_EUNSUPPORTED; an unreadable binary reply is MLHEP_EFORMAT; no reply in time
 * is MLHEP_ENET "no reply within ..."; a request the broker refused because the
 * prediction queue is full is MLHEP_ENET "the prediction queue is full ..." (at once,
 * nothing queued); other broker failures MLHEP_ENET. Every request expires on the
 * broker when its caller stops waiting (the timeout given, or predict_rpc_expire for
 * pipelined sends): nobody computes an answer that no one will read.
 *
 * Ownership: predict_rpc_open allocates the connection (predict_rpc_close frees it; it
 * keeps a copy of the token, wiped on close); reply texts are malloc'ed for the caller,
 * documents are the caller's references (json_decref). One connection serves one thread. */
#ifndef MLHEP_PREDICT_RPC_H
#define MLHEP_PREDICT_RPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "infer/colreq.h"
#include "service/config.h"

#define PREDICT_RPC_EXCHANGE "predict"
#define PREDICT_RPC_ROUTING_KEY "predict"

typedef struct predict_rpc predict_rpc;

/* Connects with cfg's amqp_* settings; token is copied (may be NULL). */
int predict_rpc_open(const mlhep_config *cfg, const char *token, predict_rpc **out, mlhep_err *e);
void predict_rpc_close(predict_rpc *c); /* NULL is fine */

/* ---- pipelined: send several requests, then take their replies as they come ---- */

/* Requests sent from now on expire on the broker after ms (0: only the queue's
 * x-message-ttl); the one-round-trip calls below set it to their timeout. */
void predict_rpc_expire(predict_rpc *c, int ms);

/* Sends one JSON request (type "predict" or "models"); *seq (may be NULL) identifies
 * its reply. */
int predict_rpc_send(predict_rpc *c, const char *type, const char *body, size_t len, uint64_t *seq,
                     mlhep_err *e);
/* Sends a binary columnar request built with colreq_begin / colreq_add / colreq_end. */
int predict_rpc_send_columns(predict_rpc *c, const wbuf *req, uint64_t *seq, mlhep_err *e);
/* The next reply of this connection: *seq of its request, *reply malloc'ed
 * (NUL-terminated, caller frees), *len its bytes. */
int predict_rpc_recv(predict_rpc *c, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e);

/* A JSON reply: 0 and *doc (caller decrefs) if it is a success, else the service's
 * error (see the top of this file) and *doc NULL. */
int predict_rpc_reply_json(const char *reply, size_t len, json_t **doc, mlhep_err *e);
/* The reply to a binary request into r (colresp_free releases it); a JSON error reply
 * becomes the service's error, an unreadable reply MLHEP_EFORMAT. */
int predict_rpc_reply_columns(const char *reply, size_t len, colresp *r, mlhep_err *e);

/* ---- one round trip (late replies of earlier requests are skipped) ---- */

/* send + the raw reply of that request (*reply malloc'ed, caller frees). */
int predict_rpc_call(predict_rpc *c, const char *type, const char *body, size_t len, char **reply, size_t *rlen,
                     int timeout_ms, mlhep_err *e);
/* send + reply + predict_rpc_reply_json: 0 with *reply (the text, caller frees; may be
 * NULL if not wanted) and *doc (caller decrefs). */
int predict_rpc_json(predict_rpc *c, const char *type, const char *body, size_t len, char **reply, json_t **doc,
                     int timeout_ms, mlhep_err *e);
/* send_columns + reply + predict_rpc_reply_columns. */
int predict_rpc_columns(predict_rpc *c, const wbuf *req, colresp *r, int timeout_ms, mlhep_err *e);

/* ---- the model registry ---- */

/* What a model needs, from op "features": its canonical reference ("ttH@2"), the
 * number of outputs (1 score or k class probabilities) and its input branches. */
typedef struct predict_rpc_feature {
    char *name;
    int jagged; /* 1: a list per entry (jagged or fixed-size array branch) */
} predict_rpc_feature;

typedef struct predict_rpc_model {
    char *model;
    size_t outputs;
    size_t nfeatures;
    predict_rpc_feature *features;
} predict_rpc_model;

/* Asks the service what model REF needs; m is filled (predict_rpc_model_free). A reply
 * without features or outputs is MLHEP_EUNSUPPORTED. */
int predict_rpc_features(predict_rpc *c, const char *model, predict_rpc_model *m, int timeout_ms, mlhep_err *e);
/* The same from a features document received otherwise (the gateway's model page):
 * {"model", "outputs", "features": [{"name", "kind"}, ...]}. */
int predict_rpc_model_from_doc(const json_t *d, predict_rpc_model *m, mlhep_err *e);
void predict_rpc_model_free(predict_rpc_model *m);

/* The registry's listing for the token's user (op "list"): *doc is {"models": [...],
 * "jobs": [...]} (see mlhep_infer.c), caller decrefs; *reply (may be NULL) as for
 * predict_rpc_json. */
int predict_rpc_models(predict_rpc *c, char **reply, json_t **doc, int timeout_ms, mlhep_err *e);

#endif

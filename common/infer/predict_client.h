/* predict_client.h - the client side of the prediction service, behind
 * `mlhep-submit predict ...` and `mlhep-submit models ...`.
 *
 *   mlhep-submit [opts] predict --model REF [INPUT.json | -]
 *       sends the request document (predict-request schema; "model" is filled from
 *       --model) to the prediction queue and prints one line per row: the score, or the
 *       class probabilities separated by spaces (--json: the reply document); an
 *       input starting with "MLHC" is a binary columnar request (colreq.h), sent as it
 *       is (--model replaces the model reference in its header)
 *   mlhep-submit [opts] predict --model REF --root FILE.root --tree T --out SCORES.root
 *       [--batch N] [--window W] [--branch NAME] [--local] [--wire binary|json]
 *       scores every entry of tree T: reads the model's branches from the file (the
 *       model's feature list comes from the worker, op "features"), sends columnar
 *       batches of N entries (W in flight; binary columnar requests, colreq.h, or
 *       with --wire json the JSON "columns" form), and writes tree T into SCORES.root with one
 *       branch NAME/F (or NAME[k]/F for k class probabilities) whose entries line up
 *       with the input's: a friend tree. --local predicts in this process instead
 *       (REF is then a model file path, or a model of the artifact store configured
 *       in artifact_dir, resolved for the token's user).
 *   mlhep-submit [opts] models [list] | delete REF | tag JOB_ID NAME [--shared]
 *       | share NAME on|off
 *
 * Options shared with the rest of mlhep-submit: --config, --token-file, --json,
 * --timeout SEC (reply wait, default 60). Requests go to exchange "predict" with routing
 * key "predict" (broker/definitions.json) over amqp_rpc.h; the bearer token travels in
 * the `authorization` header and is checked by the worker.
 *
 * Exit codes (as mlhep-submit's): 0 ok, 1 internal error, 2 usage, 3 configuration,
 * 4 token refused / model forbidden, 5 bad input (bad request, unknown branch, too
 * large), 6 broker, 8 unknown model, 12 file error (ROOT input/output), 14 timeout. */
#ifndef MLHEP_PREDICT_CLIENT_H
#define MLHEP_PREDICT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "infer/colreq.h"
#include "service/config.h"
#include "base/err.h"

#define PCLIENT_EXCHANGE "predict"
#define PCLIENT_ROUTING_KEY "predict"

/* 1 if argv's first non-option argument is "predict" or "models" (mlhep-submit then
 * hands the whole command line to predict_client_main). */
int predict_client_wants(int argc, char **argv);

/* Runs the command; returns the process exit code. */
int predict_client_main(int argc, char **argv);

/* ---- library use (bench, tests) ---- */
typedef struct pclient pclient;

/* Connects with cfg's amqp_* settings; token is copied (may be NULL). */
int pclient_open(const mlhep_config *cfg, const char *token, pclient **out, mlhep_err *e);
void pclient_close(pclient *c);

/* Sends one request (type "predict" or "models"); *seq identifies its reply. */
int pclient_send(pclient *c, const char *type, const char *body, size_t len, uint64_t *seq, mlhep_err *e);
/* Next reply: *seq of its request, *reply malloc'ed (NUL-terminated, caller frees).
 * MLHEP_ENET on timeout ("no reply within ...") or broker error. */
int pclient_recv(pclient *c, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e);
/* send + recv of that reply. */
int pclient_call(pclient *c, const char *type, const char *body, size_t len, char **reply, size_t *rlen,
                 int timeout_ms, mlhep_err *e);

/* Binary columnar prediction (colreq.h): build the request with colreq_begin /
 * colreq_add / colreq_end, send it with pclient_send_columns (content type
 * application/x-mlhep-columns), and decode its reply with pclient_columns_reply. */
int pclient_send_columns(pclient *c, const colbuf *req, uint64_t *seq, mlhep_err *e);
/* The reply to a binary request into r. A JSON error reply of the service becomes an
 * error "CODE: message" with MLHEP_EAUTH (unauthorized, forbidden), MLHEP_ENOTFOUND
 * (unknown_model), MLHEP_EINVAL (bad_request, unknown_branch, too_large) or
 * MLHEP_EUNSUPPORTED (anything else); an unreadable reply is MLHEP_EFORMAT. */
int pclient_columns_reply(const char *reply, size_t len, colresp *r, mlhep_err *e);
/* send + wait for that reply + decode. */
int pclient_predict_columns(pclient *c, const colbuf *req, colresp *r, int timeout_ms, mlhep_err *e);

#endif

/* predict.h - in-process prediction: a model file in, scores for raw branch values out.
 *
 * How it fits: a trained job leaves model.mlhep (modelfile.h container, kind mlp or
 * gbdt) with a "features" section (featmap.h). predict_model_load_* reads it once;
 * predict_request() turns a prediction request document (predict-request schema:
 * keys/values, rows or columns of RAW branch values) into normalised rows with the
 * featmap and runs the model; predict_format_response() writes the reply document
 * (predict-response schema) straight into a reusable text buffer. The inference worker
 * (worker/mlhep_infer.c), the client's --local mode and the tests all go through here,
 * so "in-process" and "over the broker" give the same numbers.
 *
 * Outputs per row: MLP binary (sigmoid, 1 unit): probability of class 1; MLP
 * categorical (softmax, k units): k class probabilities; MLP mse: the prediction;
 * GBDT: probability of signal. The response carries one number per row when the model
 * has one output, else a list of k probabilities, plus "classes" when the features
 * document names them. Non-finite outputs are refused (JSON cannot carry them).
 *
 * Threading: a predict_model holds an MLP whose scratch buffers make it single-threaded;
 * use one model (and one predict_ctx) per thread. Ownership: *_load_* allocate,
 * predict_model_free frees; a predict_ctx is a caller struct (zero it) released with
 * predict_ctx_free. */
#ifndef MLHEP_PREDICT_H
#define MLHEP_PREDICT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "infer/colreq.h"
#include "base/err.h"
#include "data/featmap.h"

typedef struct predict_model predict_model;

int predict_model_load_file(const char *path, predict_model **out, mlhep_err *e);
int predict_model_load_buffer(const uint8_t *buf, size_t len, predict_model **out, mlhep_err *e);
void predict_model_free(predict_model *m);

const featmap *predict_model_featmap(const predict_model *m);
/* The model file's whole features document (featmap.h), as JSON text. */
const char *predict_model_features_json(const predict_model *m);
size_t predict_model_outputs(const predict_model *m);
const char *predict_model_kind(const predict_model *m); /* "mlp" or "gbdt" */
size_t predict_model_bytes(const predict_model *m);    /* approximate memory held */

/* nrows rows of width featmap->width -> out[nrows x outputs]. */
int predict_rows(predict_model *m, const float *x, size_t nrows, float *out, mlhep_err *e);

typedef struct predict_ctx {
    featmap_batch batch;
    float *out;        /* nrows x outputs of the last predict_request */
    size_t out_cap;
    size_t nrows;
    char *buf;         /* the last formatted response */
    size_t len, cap;
    colreq creq;       /* the last binary request (predict_columns) */
    wbuf bin;          /* the last binary response (predict_format_binary) */
} predict_ctx;

void predict_ctx_free(predict_ctx *c);

/* Rows from the request (featmap_from_request) and the model's outputs into c->out.
 * Errors: those of featmap_from_request, MLHEP_EINVAL for non-finite outputs. */
int predict_request(predict_model *m, const json_t *req, predict_ctx *c, mlhep_err *e);

/* The model over rows already in c->batch (filled by featmap_from_request or
 * reqparse_rows) into c->out; non-finite outputs are refused (MLHEP_EINVAL), as JSON
 * cannot carry them. predict_request = featmap_from_request + predict_batch. */
int predict_batch(predict_model *m, predict_ctx *c, mlhep_err *e);

/* Binary columnar request (colreq.h, parsed into c->creq by the caller with
 * colreq_parse) -> rows -> outputs in c->out. Non-finite outputs are kept (the binary
 * response carries them, as local scoring does). Errors: those of colreq_rows. */
int predict_columns(predict_model *m, predict_ctx *c, mlhep_err *e);

/* The binary response (colresp_write) for out into c->bin. */
int predict_format_binary(const predict_model *m, const char *name, const float *out, size_t nrows,
                          double elapsed_us, predict_ctx *c, mlhep_err *e);

/* {"model":name,"predictions":[...],("classes":[...]),("elapsed_us":t)} into c->buf
 * (elapsed_us < 0: left out). name must be a model reference (no characters that
 * need escaping; others are replaced by '?'). */
int predict_format_response(const predict_model *m, const char *name, const float *out, size_t nrows,
                            double elapsed_us, predict_ctx *c, mlhep_err *e);

/* The response schema's error code for an MLHEP_E* code from the request path:
 * ENOTFOUND -> "unknown_branch", EAUTH -> "forbidden", ENOMEM -> "too_large",
 * EINVAL/EFORMAT -> "bad_request", else "internal". */
const char *predict_error_code(int code);

/* {"error":msg,"code":code(,"model":model)} as malloc'ed text (NULL if out of memory). */
char *predict_error_json(const char *code, const char *model, const char *msg);

#endif

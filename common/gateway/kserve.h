/* kserve.h - the KServe / Open Inference Protocol v2 REST format (the protocol of
 * Triton and KServe), translated to and from mlhep's binary columnar requests.
 *
 * Request (POST /v2/models/{name}[/versions/{v}]/infer), JSON:
 *   {"id": "...", "parameters": {...},
 *    "inputs": [{"name": BRANCH, "datatype": "FP32", "shape": [N] | [N, 1] | [N, L],
 *                "data": [...] (flat or nested, row-major)
 *                | "parameters": {"binary_data_size": BYTES}}, ...],
 *    "outputs": [{"name": "output", "parameters": {"binary_data": true}}]}
 * optionally followed by the binary tensor data of the inputs that declare
 * binary_data_size, in input order (the "binary tensor data" extension: the HTTP header
 * Inference-Header-Content-Length gives the JSON part's length). One input per branch
 * of the model, by the branch's name, with the branch's values RAW (as in the ROOT file):
 * a flat branch has shape [N] or [N, 1]; a jagged branch has shape [N, L]: row r's
 * values are its first L values, ending early at the first NaN for floating types (so
 * a client pads short rows with NaN, written null in JSON data); integer jagged rows use
 * all L values.
 * Datatypes: BOOL, INT8/16/32/64, UINT8/16/32/64, FP32, FP64 (FP16, BF16 and BYTES are
 * refused by name).
 *
 * Response: {"model_name", "model_version", "id" (echoed), "outputs": [{"name":
 * "output", "datatype": "FP32", "shape": [N, K], "data": [...]}]} with K scores per row
 * (1 for binary classifiers and regression, the class probabilities otherwise), or the
 * same with the output as binary data when the request asked for it (then the JSON part's
 * length is returned for the Inference-Header-Content-Length header).
 *
 * Pure functions over caller memory; fuzzed by fuzz/fuzz_kserve.c. */
#ifndef MLHEP_GW_KSERVE_H
#define MLHEP_GW_KSERVE_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "base/wbuf.h"
#include "infer/colreq.h"

#define KSERVE_MAX_INPUTS 4096
#define KSERVE_MAX_RANK 2

/* What the caller knows of the model's inputs: 0 flat, 1 jagged, -1 no such input
 * (then the request is refused naming the model's inputs, given in names). */
typedef int (*kserve_kind_fn)(void *cls, const char *name);

typedef struct kserve_request {
    char id[128];           /* the request's "id" (echoed), "" if none */
    int binary_output;      /* the caller asked for the output as binary data */
    char output_name[64];   /* the requested output's name ("output" by default) */
    size_t nrows;
} kserve_request;

/* Parses a v2 infer request of len bytes, of which the first json_len are JSON (0: all
 * of it), and writes the equivalent columnar request for model_ref into out. kind says
 * which inputs are jagged (NULL: decided by the shape: rank 1 or [N, 1] flat, else
 * jagged). Errors are MLHEP_EINVAL with a message naming the input and the problem. */
int kserve_parse_infer(const char *body, size_t len, size_t json_len, const char *model_ref,
                       kserve_kind_fn kind, void *kind_cls, wbuf *out, kserve_request *rq,
                       mlhep_err *e);

/* The same for a request taken while it arrives (the gateway feeds it from the
 * connection's buffer, so the body is never kept whole): a binary request's values
 * are cut and packed into the columnar request chunk by chunk, in the CPU's cache,
 * with the kinds their shapes suggest; kserve_stream_finish then applies the model's
 * kinds (refusing as kserve_parse_infer does), adds the [N] and [N, 1] tensors (kept
 * aside: their kind is the model's) and moves the request into out. A request with JSON
 * data in some input is kept whole and parsed by kserve_parse_infer at the end.
 * kserve_stream_new: NULL when json_len is 0, above len or above KSERVE_STREAM_MAX_JSON
 * (a JSON part that large is read on a worker thread, not on the connection's), or out
 * of memory. Feeding is never refused: an error is kept and given by finish. */
#define KSERVE_STREAM_MAX_JSON (1u << 20)
#define KSERVE_REF_MAX 512
typedef struct kserve_stream kserve_stream;
kserve_stream *kserve_stream_new(const char *model_ref, size_t len, size_t json_len);
int kserve_stream_feed(kserve_stream *s, const void *data, size_t n);
int kserve_stream_finish(kserve_stream *s, kserve_kind_fn kind, void *kind_cls, wbuf *out, kserve_request *rq,
                         mlhep_err *e);
void kserve_stream_free(kserve_stream *s);

/* Writes the v2 response for scores[nrows x k] into w (w->len reset). *json_len is the
 * length of the JSON part (== w->len unless the output is binary). */
int kserve_write_response(const kserve_request *rq, const char *model_name, const char *version,
                          const float *scores, size_t nrows, size_t k, wbuf *w, size_t *json_len,
                          mlhep_err *e);

/* Model metadata (GET /v2/models/{name}) from the features document of the
 * prediction service's "features" reply ({"model","kind","outputs","width","features":
 * [{"name","kind","len"}],"classes"}): {"name","versions","platform":"mlhep",
 * "inputs":[{"name","datatype":"FP32","shape":[-1] | [-1, len]}],"outputs":[...]}. */
int kserve_model_metadata(const char *name, const json_t *features, json_t **out, mlhep_err *e);

#endif

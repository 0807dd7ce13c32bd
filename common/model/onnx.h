/* onnx.h - ONNX export of trained models - the MLP and the boosted trees - that run
 * anywhere: ONNX Runtime (Python, C++, CMSSW's ONNX Runtime wrapper), ROOT's TMVA SOFIE,
 * Triton.
 *
 * Writes an ONNX ModelProto (IR version 7, default-domain opset 13, ai.onnx.ml opset 1
 * for trees) with our own small protobuf encoder (no libprotobuf).
 *
 * Input "input" float [N, width]. With opts->prep the graph takes RAW rows and does the
 * data layer's work itself, so a client needs nothing but the .onnx file:
 *   column j = (float)((double(x_j) - sub_j) * scale_j)   computed in double, exactly as
 *              mlhep builds rows (featmap.h), then rounded to float;
 *   NaN in the input = a missing slot (a jagged list shorter than its padded length):
 *              the row gets the pad value there, as mlhep's padding does.
 *   Nodes: Cast(double) -> Sub -> Mul -> Cast(float); IsNaN -> Where(pad).
 * Without prep the graph takes rows already normalised and padded (tests, the fuzzer).
 *
 * MLP: Dense -> Gemm (or MatMul without bias), activations -> Relu / LeakyRelu / Elu /
 * Tanh / Sigmoid / Softmax(axis=-1), batch norm -> BatchNormalization in inference form
 * (running statistics), dropout left out (the identity at inference). Output "output"
 * float [N, k]: what mlp_predict returns (probabilities for classifiers, the value for
 * regression).
 * GBDT: ai.onnx.ml TreeEnsembleClassifier (binary logistic and multiclass softmax) or
 * TreeEnsembleRegressor (squared error), as gbdt.h's objective says: nodes
 * BRANCH_LT (x < threshold goes to the true branch = our left child), NaN follows the
 * learnt default direction (nodes_missing_value_tracks_true), leaf values as class
 * weights, post_transform LOGISTIC. The base margin is the leaf of a first one-node tree,
 * so the sum runs in gbdt_predict's order (base, tree 0, tree 1, ...); multiclass: tree t
 * adds to class t % K, the base tree gives every class the base margin, post_transform
 * SOFTMAX; regression: post_transform NONE. Outputs "output" float [N, k] as
 * gbdt_predict: the probability of class 1 ([N, 1], binary), the K class probabilities
 * ([N, K], multiclass) or the value ([N, 1], regression); the classifiers also give
 * "label" int64 [N] and "probabilities" float [N, max(K, 2)] (their own).
 * Both: opts->meta become the model's metadata_props (key/value strings), opts->doc the
 * graph's doc string, opts->input_doc the input's doc string. */
#ifndef MLHEP_ONNX_H
#define MLHEP_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/gbdt.h"
#include "model/mlp.h"

/* The raw-row pre-processing put in front of the model (arrays of width entries). */
typedef struct onnx_prep {
    size_t width;
    const double *sub, *scale;
    float pad;
} onnx_prep;

typedef struct onnx_meta {
    const char *key, *value;
} onnx_meta;

typedef struct onnx_opts {
    const char *graph_name;   /* NULL: "mlhep_mlp" / "mlhep_gbdt" */
    const char *doc;          /* graph doc_string, or NULL */
    const char *input_doc;    /* the input's doc_string, or NULL */
    const onnx_prep *prep;    /* NULL: the graph takes normalised rows */
    const onnx_meta *meta;
    size_t nmeta;
} onnx_opts;

/* Encodes the model; *buf is malloc'ed (caller frees). o may be NULL (no prep, no
 * metadata). prep->width must equal the model's input width. */
int onnx_export_mlp(const mlp *m, const onnx_opts *o, uint8_t **buf, size_t *len, mlhep_err *e);
int onnx_export_gbdt(const gbdt_model *g, const onnx_opts *o, uint8_t **buf, size_t *len, mlhep_err *e);

/* Writes bytes to path (through a temporary file renamed into place). */
int onnx_write_file(const char *path, const uint8_t *buf, size_t len, mlhep_err *e);

#endif

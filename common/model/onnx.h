/* onnx.h - ONNX export of a trained MLP, so ONNX Runtime, ROOT's TMVA SOFIE or Triton can
 * serve it.
 *
 * Writes an ONNX ModelProto (IR version 7, default-domain opset 13) with our own small
 * protobuf encoder (no libprotobuf). Graph: input "input" float [N, n_inputs], output
 * "output" float [N, n_outputs]. Dense -> Gemm (or MatMul without bias), activations ->
 * Relu / LeakyRelu / Elu / Tanh / Sigmoid / Softmax(axis=-1), batch norm ->
 * BatchNormalization in inference form (running statistics), dropout is left out (it
 * is the identity at inference). The output is what mlp_predict returns: probabilities
 * for classifiers, the value for regression. */
#ifndef MLHEP_ONNX_H
#define MLHEP_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/mlp.h"

/* Encodes the model; *buf is malloc'ed (caller frees). graph_name may be NULL. */
int onnx_export_mlp(const mlp *m, const char *graph_name, uint8_t **buf, size_t *len, mlhep_err *e);
/* The same, written to path. */
int onnx_save_mlp(const mlp *m, const char *graph_name, const char *path, mlhep_err *e);

#endif

/* mlp.h - multi-layer perceptron built from a JSON spec, trained on in-memory float rows.
 *
 * The training driver hands batches of rows (already normalised by the data layer:
 * the model knows nothing of normalisation) to mlp_train_batch and asks mlp_predict
 * for scores. Layers run on the numeric core (nncore.h). All weights, biases and batch
 * norm parameters live in ONE contiguous float array (trainable values first, then the
 * batch norm running statistics), gradients in a second array of the same layout,
 * optimiser state in a third; save, load and the optimiser step are each one loop.
 *
 * Spec (ours, Keras-like):
 *   {"type":"mlp",
 *    "layers":[{"dense":128,"activation":"relu"}, {"dropout":0.5},
 *              {"batchnorm":{"momentum":0.99,"epsilon":0.001}}, {"activation":"tanh"},
 *              {"dense":1,"activation":"sigmoid"}],
 *    "optimizer":{"adam":{"lr":0.001,"beta1":0.9,"beta2":0.999,"epsilon":1e-7}}
 *              | {"sgd":{"lr":0.01,"momentum":0.9,"nesterov":false}} | "adam" | "sgd",
 *    "loss":"binary_crossentropy" | "categorical_crossentropy" | "mse",
 *    "l2":0.0, "init":"glorot_uniform"|"glorot_normal"|"he_uniform"|"he_normal",
 *    "seed":42, "class_weight":[1.0, 3.0] (or {"0":1.0,"1":3.0}), "metrics":[...]}
 *   Dense options: "activation" (default linear), "alpha" (leaky_relu/elu), "use_bias"
 *   (default true), "l2" (per layer, overrides the global one), "init".
 *   Top-level keys not listed here (epochs, batch_size, ... used by the driver) are
 *   ignored; unknown keys inside a layer are an error.
 * Keras: a Sequential model.to_json() document (class_name "Sequential") is accepted
 *   either as the whole spec or under "keras" in our spec (in place of "layers"):
 *   InputLayer, Dense (units, activation, use_bias, kernel_initializer,
 *   kernel_regularizer L2), Dropout (rate), Activation, BatchNormalization (momentum,
 *   epsilon, center, scale), ReLU, LeakyReLU, ELU, Softmax, Flatten (no-op). Optimiser
 *   and loss come from our keys next to it (or a Keras "training_config"); without
 *   them: adam(lr 0.001) and a loss chosen by the output (sigmoid with 1 unit ->
 *   binary_crossentropy, softmax -> categorical_crossentropy, else mse).
 *
 * Labels (y): binary_crossentropy: 0/1 (values in [0,1] allowed) with one output unit;
 * categorical_crossentropy: class index 0..k-1 (k = output units); mse: the target of
 * one output unit. Sample weights w (NULL = all 1) multiply each row's loss; class
 * weights multiply too. The loss is averaged over the batch rows (sum w l / n).
 *
 * When the last layer's activation is sigmoid with binary cross-entropy, or softmax with
 * categorical cross-entropy, the loss is computed from the logits (stable and exact).
 *
 * Threading: a model is used by one thread at a time (predict uses the model's scratch
 * buffers). Scratch buffers grow to the largest batch seen (or mlp_reserve) and are
 * then reused; the batch loop does not allocate. With a team (mlp_set_team) a training
 * step is data-parallel: each thread of the team takes a slice of the batch (its own
 * scratch and gradient array; BLAS runs one thread per caller, nn_blas_one_thread), the
 * slices' gradients are summed in thread order and each thread updates a range of the
 * parameters. Dropout masks then come from one stream per thread, seeded from the
 * model's RNG at every step: a seed gives the same model for a given number of threads
 * (not the same as one thread). Models with batch normalisation (statistics over the
 * whole batch) and batches of fewer than 32 rows train in the calling thread. */
#ifndef MLHEP_MLP_H
#define MLHEP_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/team.h"
#include "model/nncore.h"

/* Limits of a spec. The workflow schema says the same (layers maxItems, dense maximum,
 * lr maximum; test_workflow checks they agree), so a workflow is refused when submitted;
 * the parameter cap needs the input width and is checked by mlp_spec_check (with the
 * width a spec declares, else one input) and again by mlp_build. */
#define MLP_MAX_LAYERS 1024          /* entries in a spec's (or a Keras document's) layer list */
#define MLP_MAX_UNITS 1000000        /* units of a dense layer, input features */
#define MLP_MAX_PARAMS ((size_t)1 << 26) /* weights, biases and batch norm values */
#define MLP_MAX_LR 10.0              /* learning rate: (0, MLP_MAX_LR] */

typedef struct mlp mlp;

typedef enum mlp_loss {
    MLP_LOSS_BCE = 0, /* binary_crossentropy */
    MLP_LOSS_CCE,     /* categorical_crossentropy (sparse labels: class index) */
    MLP_LOSS_MSE,     /* mean_squared_error */
} mlp_loss;

/* Builds a model for rows of n_inputs features from a JSON spec (ours or a Keras
 * Sequential document). Weights are initialised from the spec's seed (default 0).
 * On error returns a negative code and a message naming the layer index and problem.
 * Free with mlp_free. */
int mlp_build(const char *spec_json, size_t n_inputs, mlp **out, mlhep_err *e);
void mlp_free(mlp *m);

/* Checks a spec (a parsed JSON object, ours or Keras) without building the model: every
 * rule mlp_build applies - layers, activations, units, losses, optimisers and their
 * settings, class weights, the loss against the output units, the parameter cap -
 * computed with n_inputs features (0 = not known yet: the width the spec declares, else
 * one). What the model will be is written to *info. For the workflow checks made before
 * any data is read. */
typedef struct mlp_spec_info {
    size_t n_inputs, n_outputs;
    mlp_loss loss;
    size_t n_params;
    size_t n_class_weights; /* 0 without class_weight */
} mlp_spec_info;
struct json_t;
int mlp_spec_check(const struct json_t *spec, size_t n_inputs, mlp_spec_info *info, mlhep_err *e);

/* One optimiser step on a batch: X is nrows x n_inputs row-major, y nrows labels, w
 * nrows weights or NULL. *loss (may be NULL) receives the batch loss before the step,
 * including the L2 term. */
int mlp_train_batch(mlp *m, const float *X, const float *y, const float *w, size_t nrows,
                    double *loss, mlhep_err *e);

/* Inference (no dropout, batch norm running statistics): out is nrows x
 * mlp_n_outputs(m); binary: probability of class 1; categorical: class probabilities;
 * mse: the prediction. Any nrows (processed in slices of the reserved batch size). */
int mlp_predict(mlp *m, const float *X, size_t nrows, float *out, mlhep_err *e);

/* Loss of a batch in inference mode (for validation), no parameter change. */
int mlp_eval_loss(mlp *m, const float *X, const float *y, const float *w, size_t nrows,
                  double *loss, mlhep_err *e);

/* Forward + backward in training mode without an optimiser step: fills the gradient
 * array (mlp_grads) and *loss. Uses and advances the model's dropout RNG. For tests
 * (numerical gradient checks) and for drivers that accumulate gradients. */
int mlp_compute_gradients(mlp *m, const float *X, const float *y, const float *w,
                          size_t nrows, double *loss, mlhep_err *e);

/* Grows the scratch buffers for batches up to max_rows (optional: done on demand). */
int mlp_reserve(mlp *m, size_t max_rows, mlhep_err *e);

/* Trains with team t (not owned: it must outlive the training calls; NULL or a team of
 * 1: the calling thread alone). Allocates a workspace and a gradient array per thread. */
int mlp_set_team(mlp *m, team *t, mlhep_err *e);

size_t mlp_n_inputs(const mlp *m);
size_t mlp_n_outputs(const mlp *m);
mlp_loss mlp_get_loss(const mlp *m);
/* The parameter array: mlp_n_params() floats in total, the first mlp_n_trainable() are
 * trained (the rest are batch norm running means/variances). Writable: loading
 * parameters is a memcpy into it. */
float *mlp_params(mlp *m);
const float *mlp_grads(const mlp *m);
size_t mlp_n_params(const mlp *m);
size_t mlp_n_trainable(const mlp *m);
/* Optimiser steps taken so far. */
long mlp_steps(const mlp *m);

/* The dropout RNG (tests replay the same masks by saving and restoring it). */
void mlp_get_rng(const mlp *m, rng *out);
void mlp_set_rng(mlp *m, const rng *in);

/* The optimiser's state, for training checkpoints (train/checkpoint.h): which 0 is the
 * first moment (Adam's m, SGD's velocity), 1 the second (Adam's v; NULL for SGD); each
 * mlp_n_trainable() floats, writable. With mlp_steps/mlp_set_steps and the dropout RNG
 * it is all a resumed training needs besides the parameters. */
float *mlp_opt_state(mlp *m, int which);
void mlp_set_steps(mlp *m, long steps);

/* Normalised architecture (our spec, every default spelled out, plus "n_inputs") as a
 * JSON string; mlp_build of it gives the same model layout. Caller frees with free(). */
char *mlp_arch_json(const mlp *m);

/* ---- layer description, for exporters (ONNX) ---- */
typedef enum mlp_layer_kind {
    MLP_LAYER_DENSE = 0,
    MLP_LAYER_DROPOUT,
    MLP_LAYER_BATCHNORM,
    MLP_LAYER_ACTIVATION,
} mlp_layer_kind;

typedef struct mlp_layer_info {
    mlp_layer_kind kind;
    size_t in, out;      /* feature widths */
    nn_act act;          /* dense / activation */
    float alpha;         /* leaky_relu / elu */
    float rate;          /* dropout */
    float eps;           /* batchnorm */
    const float *kernel; /* dense: [in x out] */
    const float *bias;   /* dense: [out] or NULL */
    const float *gamma, *beta, *run_mean, *run_var; /* batchnorm; gamma/beta may be NULL */
} mlp_layer_info;

size_t mlp_n_layers(const mlp *m);
void mlp_layer_get(const mlp *m, size_t i, mlp_layer_info *info);

/* ---- model files (modelfile.h container, kind mlp) ---- */
/* Saves architecture ("arch"), parameters ("params", float32 little-endian) and, if not
 * NULL, the data layer's opaque features document ("features", JSON text) to path
 * (written to a temporary file and renamed). */
int mlp_save_file(const mlp *m, const char *features_json, const char *path, mlhep_err *e);
/* Loads a model saved by mlp_save_file; *features_json receives a malloc'ed copy of the
 * features document or NULL when the file has none (features_json may be NULL if the
 * caller does not want it). The loaded model predicts exactly as the saved one. */
int mlp_load_file(const char *path, mlp **out, char **features_json, mlhep_err *e);
/* The same on memory (used by the file functions and the fuzzer). *buf is malloc'ed. */
int mlp_save_buffer(const mlp *m, const char *features_json, uint8_t **buf, size_t *len,
                    mlhep_err *e);
int mlp_load_buffer(const uint8_t *buf, size_t len, mlp **out, char **features_json,
                    mlhep_err *e);

#endif

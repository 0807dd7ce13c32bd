/* nncore.h - numeric core for neural networks: dense layers on cblas_sgemm, bias and
 * activations, dropout masks, batch normalisation, losses with gradients, L2, Adam and
 * SGD optimisers and weight initialisation (random numbers: base/rng.h).
 *
 * This module knows nothing of models: every function works on caller-owned,
 * row-major float32 arrays (a batch is n rows of `cols` floats) and never allocates.
 * mlp.c builds a model out of these pieces; a model keeps all its parameters in one
 * contiguous array so the optimisers below run one loop over all of them.
 *
 * Conventions
 * - Dense kernels are stored [in x out] row-major (the Keras layout): Y = X W + b.
 * - Activations are applied in place and their backward pass only needs the
 *   activation OUTPUT y (true for every activation here), so no pre-activation copy
 *   is kept.
 * - Losses are averaged over the n rows of the batch, each row's loss multiplied by its
 *   sample weight (w == NULL means 1): loss = sum_i w_i l_i / n (Keras
 *   "sum_over_batch_size"). Loss sums are accumulated in double.
 * - The RNG is passed explicitly: there is no global random state. */
#ifndef MLHEP_NNCORE_H
#define MLHEP_NNCORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

/* ---- labels ---- */
/* y as a class index in [0, k) (labels are whole numbers stored as floats): 0, or
 * MLHEP_EINVAL naming the row and the label. The losses below and model/metrics use it. */
int nn_class_index(float y, size_t k, size_t row, size_t *out, mlhep_err *e);

/* ---- activations ---- */
typedef enum nn_act {
    NN_ACT_LINEAR = 0,
    NN_ACT_RELU,
    NN_ACT_LEAKY_RELU, /* y = x > 0 ? x : alpha x  (alpha > 0; Keras default 0.3) */
    NN_ACT_ELU,        /* y = x > 0 ? x : alpha (e^x - 1)  (alpha > 0; default 1) */
    NN_ACT_TANH,
    NN_ACT_SIGMOID,
    NN_ACT_SOFTMAX, /* over each row */
} nn_act;

/* Name <-> enum ("relu", "leaky_relu", ...; also "linear" for none). Parsing accepts
 * a few aliases ("leakyrelu", "swish" is not supported). Returns 0 or MLHEP_EINVAL. */
int nn_act_parse(const char *name, nn_act *out);
const char *nn_act_name(nn_act a);
/* Default alpha for an activation (0.3 leaky_relu, 1 elu, 0 otherwise). */
float nn_act_default_alpha(nn_act a);

/* Y[n x cols] = act(Y + b) in place (b may be NULL: no bias). One pass, fused. */
void nn_bias_act_forward(float *Y, size_t n, size_t cols, const float *b, nn_act act, float alpha);
/* dY[n x cols] *= act'(.) in place, computed from the activation output Y. For softmax
 * this is the row-wise Jacobian-vector product dY <- Y * (dY - sum(dY * Y)). */
void nn_act_backward(float *dY, const float *Y, size_t n, size_t cols, nn_act act, float alpha);

/* ---- dense layer (kernel W is [in x out] row-major) ---- */
/* Y[n x out] = X[n x in] W (beta = 0: Y need not be initialised). Bias and activation
 * come after through nn_bias_act_forward. */
void nn_dense_forward(const float *X, size_t n, size_t in, const float *W, size_t out, float *Y);
/* Given dY[n x out]: dW[in x out] = X^T dY (overwritten), db[out] = column sums of dY
 * (overwritten; db may be NULL), and dX[n x in] = dY W^T (overwritten; dX may be NULL
 * when the input gradient is not needed, as for the first layer). */
void nn_dense_backward(const float *X, size_t n, size_t in, const float *W, size_t out,
                       const float *dY, float *dW, float *db, float *dX);
/* Column sums of A[n x cols] into out[cols] (overwrites). */
void nn_colsum(const float *A, size_t n, size_t cols, float *out);

/* ---- dropout (inverted: kept units are scaled by 1/(1-rate) in training) ---- */
/* Fills mask[count] with 0 or 1/(1-rate); rate in [0, 1), applied with a resolution of
 * 1/65536 (16 random bits per unit). */
void nn_dropout_mask(rng *r, float rate, float *mask, size_t count);
/* acc[i] += x[i] (the sum of the team threads' gradients). */
void nn_add(float *acc, const float *x, size_t count);
/* out[i] = in[i] * mask[i] (forward; also the backward pass, with dY as in). */
void nn_mul(const float *in, const float *mask, float *out, size_t count);
/* Both at once: the mask of nn_dropout_mask (the same values from the same RNG state)
 * and out[i] = in[i] * mask[i], in one pass (in and out may be the same array). */
void nn_dropout_forward(rng *r, float rate, const float *in, float *mask, float *out, size_t count);
/* The value of a kept unit, 1/(1-rate) (0 when rate >= 1). */
float nn_dropout_keep(float rate);
/* A dense layer's relu and the dropout after it in one pass, without a mask array:
 * Y[n x cols] = max(Y + b, 0) * mask in place (b may be NULL), the mask values those
 * nn_dropout_mask draws for n * cols units from the same RNG state (and the same values
 * as nn_bias_act_forward then nn_dropout_forward). The backward pass needs no mask: where
 * the output is > 0 the unit was kept (nn_relu_backward_colsum with scale = keep). */
void nn_bias_relu_dropout_forward(rng *r, float rate, float *Y, size_t n, size_t cols, const float *b);
/* The backward pass of relu, or of relu then dropout, from the layer's output Y[n x cols]:
 * dY = Y > 0 ? dY * scale : 0 (scale 1 for relu alone, nn_dropout_keep(rate) after
 * nn_bias_relu_dropout_forward), and db[cols] = the column sums of the result (db may be
 * NULL), in one pass (db the values nn_colsum gives). */
void nn_relu_backward_colsum(float *dY, const float *Y, size_t n, size_t cols, float scale, float *db);

/* ---- BLAS threads ---- */
/* Our threads are the parallelism (the trainer's team, the inference consumers): BLAS
 * runs one thread per calling thread, whatever OPENBLAS_NUM_THREADS says (extra BLAS
 * threads spin on a loaded machine: 1.4-1.9x slower training, issue 21). The training
 * driver and the inference model loader call this; process-wide, idempotent. */
void nn_blas_one_thread(void);

/* ---- batch normalisation over the rows of X[n x cols] ---- */
/* Training mode: normalises with the batch mean and (biased) variance, writes
 * xhat[n x cols] and inv_std[cols] for the backward pass, Y = gamma xhat + beta
 * (gamma/beta may be NULL meaning 1/0), and updates the running statistics:
 * run = momentum run + (1 - momentum) batch (Keras convention, momentum ~0.99).
 * X and Y may be the same array. Needs n >= 1. */
void nn_batchnorm_forward_train(const float *X, size_t n, size_t cols, const float *gamma,
                                const float *beta, float eps, float momentum, float *run_mean,
                                float *run_var, float *xhat, float *inv_std, float *Y);
/* Inference mode: Y = gamma (X - run_mean) / sqrt(run_var + eps) + beta. */
void nn_batchnorm_forward_infer(const float *X, size_t n, size_t cols, const float *gamma,
                                const float *beta, float eps, const float *run_mean,
                                const float *run_var, float *Y);
/* Backward of the training-mode forward: dgamma/dbeta overwritten (may be NULL when
 * the layer has no scale/centre), dX[n x cols] overwritten (may alias dY). */
void nn_batchnorm_backward(const float *dY, const float *xhat, const float *inv_std,
                           const float *gamma, size_t n, size_t cols, float *dgamma,
                           float *dbeta, float *dX);

/* ---- losses: return 0, or MLHEP_EINVAL (bad label/target) with a message ---- */
/* Binary cross-entropy from logits z[n] (fused with the sigmoid, numerically stable):
 * l = max(z,0) - z y + log(1 + e^-|z|); dz = w (sigmoid(z) - y) / n. Labels y in [0, 1]. */
int nn_loss_bce_logits(const float *z, const float *y, const float *w, size_t n, float *dz,
                       double *loss, mlhep_err *e);
/* Binary cross-entropy from probabilities p[n] (clipped to [1e-7, 1 - 1e-7]). */
int nn_loss_bce_prob(const float *p, const float *y, const float *w, size_t n, float *dp,
                     double *loss, mlhep_err *e);
/* Categorical cross-entropy fused with softmax, logits z[n x k], labels y[n] = class
 * index (an integer-valued float in [0, k)). dz = w (softmax(z) - onehot(y)) / n. */
int nn_loss_cce_logits(const float *z, size_t k, const float *y, const float *w, size_t n,
                       float *dz, double *loss, mlhep_err *e);
/* Categorical cross-entropy from probabilities p[n x k] (clipped like bce_prob). */
int nn_loss_cce_prob(const float *p, size_t k, const float *y, const float *w, size_t n,
                     float *dp, double *loss, mlhep_err *e);
/* Mean squared error of a single output: l = (yhat - y)^2, dyhat = 2 w (yhat - y) / n.
 * Targets must be finite. */
int nn_loss_mse(const float *yhat, const float *y, const float *w, size_t n, float *dyhat,
                double *loss, mlhep_err *e);

/* Stable logistic function and softmax of one row (used for inference). */
float nn_sigmoid(float x);
void nn_softmax_row(float *row, size_t k);

/* ---- regularisation ---- */
/* Adds 2 lambda W to G and returns lambda sum(W^2) (the loss term), over count values. */
double nn_l2_add(const float *W, float *G, size_t count, float lambda);

/* ---- optimisers: ONE loop over the whole contiguous parameter array ---- */
typedef struct nn_adam {
    float lr, beta1, beta2, eps;
} nn_adam;
/* Adam (Kingma & Ba, bias-corrected as in PyTorch/Keras): t is the step number of this
 * update, starting at 1. m and v (the moment estimates, count floats each, initially 0)
 * are updated; p -= lr/(1-b1^t) m / (sqrt(v/(1-b2^t)) + eps). */
void nn_adam_step(const nn_adam *o, long t, float *p, const float *g, float *m, float *v,
                  size_t count);

typedef struct nn_sgd {
    float lr, momentum;
    int nesterov;
} nn_sgd;
/* SGD with momentum (Keras form): vel = momentum vel - lr g; p += vel, or with Nesterov
 * p += momentum vel - lr g. vel (count floats, initially 0) may be NULL if momentum is 0. */
void nn_sgd_step(const nn_sgd *o, float *p, const float *g, float *vel, size_t count);

/* ---- initialisation of a kernel W[fan_in x fan_out] ---- */
typedef enum nn_init {
    NN_INIT_GLOROT_UNIFORM = 0, /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras default) */
    NN_INIT_GLOROT_NORMAL,      /* N(0, 2 / (fan_in + fan_out)) */
    NN_INIT_HE_UNIFORM,         /* U(-l, l), l = sqrt(6 / fan_in) */
    NN_INIT_HE_NORMAL,          /* N(0, 2 / fan_in) */
} nn_init;
int nn_init_parse(const char *name, nn_init *out);
const char *nn_init_name(nn_init i);
void nn_init_kernel(rng *r, nn_init kind, size_t fan_in, size_t fan_out, float *W);

#endif

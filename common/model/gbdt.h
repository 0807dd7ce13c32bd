/* gbdt.h - histogram-based gradient-boosted decision trees, the HEP classic (TMVA BDT,
 * XGBoost tree_method="hist"), for every target kind: binary classification (logistic
 * loss; labels in [0,1]), multi-class classification (softmax cross-entropy, one tree
 * per class and round as XGBoost's multi:softprob; labels are class indices) and
 * regression (squared error; labels are the targets).
 *
 * How it fits: the data layer produces float rows; the training driver hands them to
 * this module and stores the serialised model as a section of the model file (whose
 * container - magic, version, checksum, feature names, pre-processing - is written
 * elsewhere). Inference needs only gbdt_deserialize() + gbdt_predict() on raw float
 * rows laid out like the training rows.
 *
 * Algorithm: every feature is cut into at most max_bins-1 quantile bins (cuts taken
 * from a sample of rows) plus one bin for missing values (NaN), so the training set is
 * held as one byte per value. Trees grow level-wise to max_depth; at each level the
 * gradient/hessian histogram is built only for the smaller child of each split, the
 * larger one is parent minus sibling. Split gain and leaf values are XGBoost's
 * (second-order, L2 lambda, min_child_weight, gamma); for each split the direction of
 * missing values is learnt (tried both ways). Work is shared by n_threads threads:
 * histograms over (node, feature block), splits over nodes, binning/gradients over
 * row blocks. Every sum is taken in a fixed order, so the model is bit-identical for
 * any thread count; with a fixed seed, training is reproducible.
 *
 * Handing the data over: either gbdt_train_dense() with the whole training set as one
 * row-major float matrix, or - when the data layer streams chunks - build a
 * gbdt_dataset: gbdt_dataset_new() takes a representative sample (e.g. the first
 * chunk, the data layer mixes files into every chunk) to fix the bin cuts, then
 * gbdt_dataset_append() bins each chunk (the float chunk can be freed right after),
 * and gbdt_train() runs on the binned set. Memory: one byte per value plus 8 bytes per
 * row for labels and weights, plus 8 bytes of gradient and 4 of margin per row. */
#ifndef MLHEP_GBDT_H
#define MLHEP_GBDT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Objectives (gbdt_params.objective), named as in workflows (gbdt_objective_name). */
enum { GBDT_OBJ_BINARY = 1, GBDT_OBJ_MULTICLASS = 2, GBDT_OBJ_REGRESSION = 3 };
#define GBDT_MAX_CLASSES 1000

typedef struct gbdt_params {
    int n_trees;            /* boosting rounds; default 100 */
    int max_depth;          /* 1..24; default 6 */
    float learning_rate;    /* eta, (0,1]; default 0.3 */
    float min_child_weight; /* minimum hessian sum in a child; default 1 */
    float lambda;           /* L2 regularisation of leaf values; default 1 */
    float gamma;            /* minimum loss reduction to split; default 0 */
    float subsample;        /* fraction of rows drawn for each tree, (0,1]; default 1 */
    float colsample_bytree; /* fraction of features drawn for each tree, (0,1]; default 1 */
    int max_bins;           /* bins per feature including the missing-value bin, 3..256;
                               default 256 (so up to 255 value bins) */
    size_t sketch_rows;     /* at most this many sample rows set the cuts; default 1<<20 */
    float base_score;       /* initial probability, (0,1); default 0.5 */
    int n_threads;          /* worker threads; <= 0: all online cores; default 1 */
    uint64_t seed;          /* row/feature sampling; default 0 */
    int early_stopping_rounds; /* stop when validation loss has not improved for this
                                  many rounds and keep the best; 0 = off (default) */
    int objective;          /* GBDT_OBJ_*; default binary */
    int n_classes;          /* multiclass: 2 .. GBDT_MAX_CLASSES (one tree per class and
                               round); otherwise unused */
    /* Optional: called after every round with the mean training and validation log
     * loss (NaN without validation set); a non-zero return stops training early (the
     * trees so far are kept). For progress reports and cancellation. */
    int (*progress)(void *ctx, int round, double train_loss, double valid_loss);
    void *progress_ctx;
} gbdt_params;

/* Fills p with the defaults above. */
void gbdt_params_default(gbdt_params *p);

/* Checks ranges; fails with MLHEP_EINVAL naming the parameter. */
int gbdt_params_check(const gbdt_params *p, mlhep_err *e);

/* The defaults overridden by a workflow's model object ({"type":"gbdt","trees":200,
 * "depth":6,"learning_rate":0.1,"min_child_weight","lambda","subsample",
 * "colsample_bytree","bins","early_stopping_rounds","objective"}): types checked here,
 * ranges by gbdt_params_check (the workflow schema repeats them). n_classes is left 0
 * (the caller knows the classes). */
struct json_t;
int gbdt_params_from_json(const struct json_t *spec, gbdt_params *p, mlhep_err *e);

/* "binary", "multiclass", "regression"; parse also takes XGBoost's names
 * (binary:logistic, multi:softprob, multi:softmax, reg:squarederror). */
const char *gbdt_objective_name(int objective);
int gbdt_objective_parse(const char *s, int *objective);

/* ---- binned data set ---- */

typedef struct gbdt_dataset gbdt_dataset;

/* Creates an empty data set with ncols features whose bin cuts are quantiles of the
 * sample rows (row-major nsample x ncols floats; NaN = missing; if nsample exceeds
 * p->sketch_rows an evenly spaced subset is used). Uses p->max_bins, p->sketch_rows and
 * p->n_threads. Free with gbdt_dataset_free(). */
int gbdt_dataset_new(const gbdt_params *p, const float *sample, size_t nsample, size_t ncols,
                     gbdt_dataset **out, mlhep_err *e);

/* Creates an empty data set with the same cuts as ref (for the validation set). */
int gbdt_dataset_new_like(const gbdt_dataset *ref, gbdt_dataset **out, mlhep_err *e);

/* Bins and appends nrows rows: x row-major nrows x ncols, labels y (binary: in [0,1],
 * 1 = signal; multiclass: class indices; regression: finite targets), optional weights
 * w (NULL = 1; must be finite and >= 0). x, y, w are copied and may be freed afterwards.
 * Bad labels or weights are refused (nothing appended). The objective is the params' of
 * gbdt_dataset_new. */
int gbdt_dataset_append(gbdt_dataset *ds, const float *x, const float *y, const float *w,
                        size_t nrows, mlhep_err *e);

size_t gbdt_dataset_rows(const gbdt_dataset *ds);
/* The labels and the weights appended so far (gbdt_dataset_rows of each); the weights
 * may be rescaled in place before training (finite, >= 0). */
const float *gbdt_dataset_labels(const gbdt_dataset *ds);
float *gbdt_dataset_weights(gbdt_dataset *ds);
size_t gbdt_dataset_cols(const gbdt_dataset *ds);
void gbdt_dataset_free(gbdt_dataset *ds);

/* ---- training ---- */

typedef struct gbdt_model gbdt_model;

/* Per-round history of a training run. Arrays are owned; gbdt_history_free(). */
typedef struct gbdt_history {
    int n_rounds;       /* rounds trained */
    int n_kept;         /* trees in the returned model (best round with early stopping) */
    double *train_loss; /* n_rounds: weighted mean loss on the training rows: log loss
                           (binary), cross-entropy (multiclass), squared error (regression) */
    double *valid_loss; /* n_rounds, or NULL without validation set */
} gbdt_history;

void gbdt_history_free(gbdt_history *h);

/* Trains on train (and evaluates on valid, which may be NULL and must come from
 * gbdt_dataset_new_like(train) or share its cuts). On success *out is a new model
 * (gbdt_model_free()) and, if hist != NULL, *hist is filled (gbdt_history_free()). */
int gbdt_train(const gbdt_params *p, const gbdt_dataset *train, const gbdt_dataset *valid,
               gbdt_model **out, gbdt_history *hist, mlhep_err *e);

/* Convenience: cuts from x, bins x (and xv if nvalid > 0) and trains. */
int gbdt_train_dense(const gbdt_params *p, const float *x, const float *y, const float *w,
                     size_t nrows, size_t ncols, const float *xv, const float *yv,
                     const float *wv, size_t nvalid, gbdt_model **out, gbdt_history *hist,
                     mlhep_err *e);

/* ---- model ---- */

enum { GBDT_MARGIN = 0, GBDT_PROBABILITY = 1 };

/* Predicts nrows rows of x (row-major, ncols must equal the model's feature count):
 * out holds gbdt_model_outputs(m) values per row: binary: the raw margin (log-odds) or
 * the probability of signal; multiclass: the margins or the softmax probabilities of
 * each class; regression: the prediction (both kinds). NaN is a missing value and
 * follows the learnt default direction; +-inf compare as ordinary values. */
int gbdt_predict(const gbdt_model *m, const float *x, size_t nrows, size_t ncols, int kind,
                 float *out, mlhep_err *e);

size_t gbdt_model_features(const gbdt_model *m);
int gbdt_model_trees(const gbdt_model *m);
size_t gbdt_model_outputs(const gbdt_model *m); /* classes (multiclass), else 1 */
int gbdt_model_objective(const gbdt_model *m);

/* Feature importance: out[f] for f < gbdt_model_features(m): total split gain
 * (GBDT_IMPORTANCE_GAIN), total cover - the hessian sum of the rows reaching the
 * splits - (GBDT_IMPORTANCE_COVER) or number of splits (GBDT_IMPORTANCE_SPLITS) on
 * feature f. Divided by the splits they are XGBoost's "gain" and "cover". */
enum { GBDT_IMPORTANCE_GAIN = 0, GBDT_IMPORTANCE_SPLITS = 1, GBDT_IMPORTANCE_COVER = 2 };
void gbdt_importance(const gbdt_model *m, int kind, double *out);

/* Serialised bytes (format described in gbdt.c above gbdt_serialize). *buf is
 * malloc'd, the caller frees it. */
int gbdt_serialize(const gbdt_model *m, uint8_t **buf, size_t *len, mlhep_err *e);

/* Parses bytes made by gbdt_serialize; refuses truncated, oversized or inconsistent
 * input (bad magic/version, node indices that do not form trees, features out of
 * range, NaN thresholds or values) with MLHEP_EFORMAT and a message saying what is
 * wrong. On success *out is a new model (gbdt_model_free()). */
int gbdt_deserialize(const uint8_t *buf, size_t len, gbdt_model **out, mlhep_err *e);

void gbdt_model_free(gbdt_model *m);

#endif

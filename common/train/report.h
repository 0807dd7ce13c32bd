/* report.h - what a training run reports: metrics.json, the plots and report.html.
 *
 * What it is for: a physicist judges a model on numbers an analysis can use. The
 * training driver (train.c) hands over what it measured - the per-epoch figures, the
 * scored rows of the test set, the validation set and a sample of the training set
 * (evalset.h), the rows and weights of every split and class, the feature ranking and
 * the input correlations - and this module turns them into:
 *   metrics.json  "epochs" (per epoch: training loss, and the end-of-epoch model's
 *                 accuracy/AUC on the training sample and on validation), "final" (the
 *                 final model on the test set, or on validation without one: binary:
 *                 log loss, accuracy and confusion at the threshold, ROC AUC, the ROC
 *                 curve, working points = signal efficiency at 1% and 10% background
 *                 efficiency; multiclass: cross-entropy, accuracy, one-vs-rest AUCs
 *                 and their mean, the confusion matrix; regression: MSE, RMSE, MAE,
 *                 mean and spread of the residuals), "validation" (the same on the
 *                 validation rows), "overtraining" (training-sample vs test score
 *                 distributions per class with Kolmogorov-Smirnov tests), "ranking",
 *                 "correlations", "splits" (rows and weights per class), "weights",
 *                 "warnings" and "timing". Every figure uses the event weights.
 *   plots         loss.svg, auc.svg (binary), roc.svg, rejection.svg (binary:
 *                 background rejection vs signal efficiency), scores*.svg,
 *                 overtraining*.svg, confusion.svg, ranking.svg,
 *                 correlation_CLASS.svg, resolution.svg and pred_vs_true.svg
 *                 (regression)
 *   report.html   one self-contained page: the metrics tables, every plot (inline,
 *                 the input histograms too), the inputs and the ranking.
 *
 * Ownership: report_write only reads what it is given. */
#ifndef MLHEP_REPORT_H
#define MLHEP_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "data/specs.h"
#include "service/workflow.h"
#include "train/evalset.h"

/* One epoch (or boosting round) as measured with the model at its end. */
typedef struct report_epoch {
    double loss;              /* mean training loss of the epoch's batches */
    double acc, auc;          /* the training sample */
    double val_loss, val_acc, val_auc;
    double seconds;
} report_epoch;

/* One feature of the ranking. */
typedef struct report_rank {
    const char *name;
    double importance;        /* what the ranking is sorted by */
    double gain, cover, splits; /* boosted trees: totals over the splits on the feature */
    double score;             /* permutation: the metric with the feature permuted */
} report_rank;

typedef struct report_data {
    const workflow *wf;
    const specs *sp;
    const char *model_kind;        /* "mlp", "gbdt" */
    size_t nout;                   /* scores per row */
    size_t nclass;                 /* binary 2, multiclass nout, regression 1 */
    const char *const *class_names; /* nclass names */
    const report_epoch *ep;
    int nep;
    const char *epoch_unit;        /* "epoch", "tree" */
    int epochs_have_auc;           /* draw auc.svg */
    /* scored rows: the test set (n 0 without one), validation, the training sample */
    const evalset *test, *val, *trsub;
    /* rows and sums of event weights per split (DP_SPLIT_*) and class: [split][class] */
    const double *split_rows, *split_weights;
    const double *train_factor;    /* per class: training weight factor */
    int weighted;                  /* event weights other than 1 */
    /* ranking, sorted by importance */
    const char *rank_method;       /* "gain" (boosted trees) or "permutation" */
    const char *rank_metric;       /* permutation: "auc", "mean_auc", "mse" */
    double rank_base;              /* permutation: the metric unpermuted */
    size_t rank_rows;              /* permutation: rows used */
    const report_rank *rank;
    size_t nrank;
    /* input correlations: ncorr_sets matrices of ncorr x ncorr (one per class, or one) */
    const char *const *corr_names;
    size_t ncorr;
    const double *corr;
    const char *const *corr_set_names;
    size_t ncorr_sets;
    size_t corr_rows;
    json_t *warnings;              /* array of strings (borrowed) */
    json_t *timing;                /* object (borrowed) */
    const char *hist_dir;          /* sub-directory with the input histograms, or NULL */
} report_data;

/* Writes metrics.json, the plots and report.html into dir. */
int report_write(const report_data *d, const char *dir, mlhep_err *e);

#endif

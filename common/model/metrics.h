/* metrics.h - evaluation metrics for trained models: binary log loss, accuracy and
 * confusion matrix at a threshold, exact ROC AUC and ROC curve, multi-class accuracy
 * and categorical cross-entropy, mean squared error.
 *
 * Everything works on in-memory float arrays as the training driver holds them
 * (labels, model outputs, optional per-row weights; weights == NULL means 1 for every
 * row). Binary labels are 0/1 floats (a label >= 0.5 counts as signal/positive);
 * multi-class labels are class indices stored as floats (0, 1, ..., k-1).
 *
 * The per-row metrics (loss, accuracy, confusion counts) can be accumulated chunk by
 * chunk with metrics_binary_add(); the ROC AUC needs every score at once (it sorts
 * them) and is exact: ties are handled as one trapezoid per group of equal scores, so
 * the result equals sklearn.metrics.roc_auc_score (with sample_weight). */
#ifndef MLHEP_METRICS_H
#define MLHEP_METRICS_H

#include <stddef.h>

#include "base/err.h"

/* Probabilities are clipped to [METRICS_EPS, 1 - METRICS_EPS] before taking logs
 * (double machine epsilon, as sklearn.metrics.log_loss does for float64 input). */
#define METRICS_EPS 2.220446049250313e-16

/* Weighted confusion matrix of a binary classifier at a threshold (score >= threshold
 * is predicted positive). With weights == NULL the entries are row counts. */
typedef struct metrics_confusion {
    double tp, fp, tn, fn;
} metrics_confusion;

/* Streaming accumulator for binary classification: add chunks of (label, probability)
 * and read the weighted mean log loss, accuracy and confusion matrix at any time.
 * Plain value type, no allocation: initialise with metrics_binary_init(). */
typedef struct metrics_binary {
    double threshold;
    double sum_w;    /* total weight seen */
    double sum_loss; /* weighted sum of per-row log loss */
    double sum_sq;   /* weighted sum of squared errors (label - probability)^2 */
    metrics_confusion cm;
} metrics_binary;

void metrics_binary_init(metrics_binary *m, double threshold);
/* Adds n rows. Probabilities are clipped for the loss; a NaN probability counts as a
 * wrong prediction with the maximal clipped loss -log(METRICS_EPS). */
void metrics_binary_add(metrics_binary *m, const float *label, const float *prob, const float *w,
                        size_t n);
double metrics_binary_logloss(const metrics_binary *m); /* NaN when no weight was added */
double metrics_binary_accuracy(const metrics_binary *m); /* NaN when no weight was added */

/* One-shot helpers (same definitions as the accumulator). Return NaN for n == 0 or a
 * zero total weight. */
double metrics_logloss(const float *label, const float *prob, const float *w, size_t n);
double metrics_accuracy(const float *label, const float *prob, const float *w, size_t n,
                        double threshold);
metrics_confusion metrics_confusion_at(const float *label, const float *score, const float *w,
                                       size_t n, double threshold);
double metrics_mse(const float *target, const float *pred, const float *w, size_t n);

/* Multi-class: prob is row-major n x k (each row the class probabilities, or any
 * scores for the accuracy). Accuracy counts argmax == label (first maximum wins).
 * Cross-entropy is the weighted mean of -log(clip(prob[label])). A label that is not
 * an integer in [0,k) is refused with MLHEP_EINVAL. */
int metrics_mc_accuracy(const float *label, const float *prob, const float *w, size_t n, size_t k,
                        double *out, mlhep_err *e);
int metrics_mc_xent(const float *label, const float *prob, const float *w, size_t n, size_t k,
                    double *out, mlhep_err *e);

/* Exact ROC AUC, O(n log n) (one radix sort of the scores). Fails with MLHEP_EINVAL
 * when a score is NaN, a weight is negative or not finite, or when one class has no
 * (positive) weight: the AUC is then undefined. */
int metrics_roc_auc(const float *label, const float *score, const float *w, size_t n, double *auc,
                    mlhep_err *e);

/* ROC curve: points (fpr[i], tpr[i]) for "predict positive when score >= thr[i]",
 * from (0,0) at thr = +inf up to (1,1) at the lowest score, one point per distinct
 * score (as sklearn.metrics.roc_curve with drop_intermediate=False, except that the
 * first threshold is +inf). auc is the exact AUC of the full curve. */
typedef struct metrics_roc {
    size_t n;
    double *fpr, *tpr, *thr; /* n each; owned, free with metrics_roc_free() */
    double auc;
} metrics_roc;

/* Computes the curve; with max_points >= 3 the curve is thinned to at most max_points
 * points for plotting (first and last kept, points spaced along the curve by at least
 * 2/(max_points-2) in fpr+tpr), while auc stays the exact value of the full curve.
 * max_points == 0 keeps every point; 1 or 2 is refused. On success the caller frees
 * *out with metrics_roc_free(). Errors as metrics_roc_auc(). */
int metrics_roc_curve(const float *label, const float *score, const float *w, size_t n,
                      size_t max_points, metrics_roc *out, mlhep_err *e);
void metrics_roc_free(metrics_roc *roc);

#endif

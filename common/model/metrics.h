/* metrics.h - evaluation metrics for trained models: binary log loss, accuracy and
 * confusion matrix at a threshold, exact ROC AUC and ROC curve, working points (signal
 * efficiency at a background efficiency), multi-class accuracy, categorical
 * cross-entropy, one-vs-rest AUC and confusion matrix, mean squared and absolute
 * errors, the two-sample Kolmogorov-Smirnov test of the overtraining check, and
 * weighted input correlations.
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
#include <stdint.h>

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

/* HEP working point: the signal efficiency (tpr) at background efficiency (fpr)
 * bkg_eff, on a full curve (metrics_roc_curve with max_points 0): the highest tpr of
 * the points with fpr <= bkg_eff, interpolated linearly towards the next point; *thr is
 * the threshold of that point (score >= thr is selected). -1 (NaNs) for an empty curve
 * or bkg_eff outside [0, 1]. Background rejection is 1 / bkg_eff. */
int metrics_sig_eff_at(const metrics_roc *roc, double bkg_eff, double *sig_eff, double *thr);

/* Two-sample Kolmogorov-Smirnov test of weighted samples a and b (weights NULL = 1;
 * finite, >= 0; values not NaN): d = max |Fa - Fb| of the weighted empirical CDFs,
 * compared after each distinct value (as scipy.stats.ks_2samp's statistic without
 * weights); the p-value is Kolmogorov's asymptotic distribution at
 * z = d sqrt(na nb / (na + nb)) with the effective sizes n = (sum w)^2 / sum w^2 (the
 * sample sizes without weights) - ROOT's TMath::KolmogorovProb, as TMVA's overtraining
 * check, = scipy.stats.kstwobign.sf(z). */
typedef struct metrics_ks {
    double d, pvalue;
    double n_eff_a, n_eff_b;
} metrics_ks;
int metrics_ks_2samp(const float *a, const float *wa, size_t na, const float *b, const float *wb,
                     size_t nb, metrics_ks *out, mlhep_err *e);
/* P(K > z) of Kolmogorov's distribution (scipy.special.kolmogorov). */
double metrics_kolmogorov_sf(double z);

/* Multi-class: cm[k x k] (row = true class, column = the argmax of prob; weighted
 * counts); one-vs-rest ROC AUC of class cls (score prob[:, cls], positive = label cls).
 * Labels as metrics_mc_accuracy. */
int metrics_mc_confusion(const float *label, const float *prob, const float *w, size_t n, size_t k,
                         double *cm, mlhep_err *e);
int metrics_ovr_auc(const float *label, const float *prob, const float *w, size_t n, size_t k,
                    size_t cls, double *auc, mlhep_err *e);

/* Regression: weighted mean absolute error (metrics_mse for the squared error). */
double metrics_mae(const float *target, const float *pred, const float *w, size_t n);

/* Weighted Pearson correlations of columns cols[0..ncols) of rows x (n rows of stride
 * floats): out[a * ncols + b], each pair over the rows where both values are real
 * (mask NULL or 0 there) and finite; NaN when a column is constant over those rows. */
void metrics_correlation(const float *x, const uint8_t *mask, const float *w, size_t n,
                         size_t stride, const size_t *cols, size_t ncols, double *out);

#endif

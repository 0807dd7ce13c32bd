/* metrics.c - see metrics.h. The ROC code sorts (score, row) pairs once with an LSD
 * radix sort on an order-preserving integer image of the float score, then walks the
 * groups of equal scores from the highest down, accumulating weighted true and false
 * positives; each group adds one trapezoid, which is what makes ties exact. */
#include "model/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/sort.h"
#include "model/nncore.h"

static double clip_prob(double p)
{
    if (!(p >= METRICS_EPS)) /* also catches NaN */
        return METRICS_EPS;
    if (p > 1.0 - METRICS_EPS)
        return 1.0 - METRICS_EPS;
    return p;
}

void metrics_binary_init(metrics_binary *m, double threshold)
{
    memset(m, 0, sizeof *m);
    m->threshold = threshold;
}

void metrics_binary_add(metrics_binary *m, const float *label, const float *prob, const float *w,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        double y = label[i];
        int pos = y >= 0.5;
        m->sum_w += wi;
        if (isnan(prob[i])) { /* no prediction: always wrong, worst clipped loss */
            m->sum_loss -= wi * log(METRICS_EPS);
            m->sum_sq += wi;
            if (pos)
                m->cm.fn += wi;
            else
                m->cm.fp += wi;
            continue;
        }
        double p = clip_prob(prob[i]);
        m->sum_loss -= wi * (y * log(p) + (1.0 - y) * log(1.0 - p));
        double d = y - (double)prob[i];
        m->sum_sq += wi * d * d;
        int pred = prob[i] >= m->threshold;
        if (pos) {
            if (pred)
                m->cm.tp += wi;
            else
                m->cm.fn += wi;
        } else {
            if (pred)
                m->cm.fp += wi;
            else
                m->cm.tn += wi;
        }
    }
}

double metrics_binary_logloss(const metrics_binary *m)
{
    return m->sum_w > 0 ? m->sum_loss / m->sum_w : NAN;
}

double metrics_binary_accuracy(const metrics_binary *m)
{
    return m->sum_w > 0 ? (m->cm.tp + m->cm.tn) / m->sum_w : NAN;
}

double metrics_logloss(const float *label, const float *prob, const float *w, size_t n)
{
    metrics_binary m;
    metrics_binary_init(&m, 0.5);
    metrics_binary_add(&m, label, prob, w, n);
    return metrics_binary_logloss(&m);
}

double metrics_accuracy(const float *label, const float *prob, const float *w, size_t n,
                        double threshold)
{
    metrics_binary m;
    metrics_binary_init(&m, threshold);
    metrics_binary_add(&m, label, prob, w, n);
    return metrics_binary_accuracy(&m);
}

metrics_confusion metrics_confusion_at(const float *label, const float *score, const float *w,
                                       size_t n, double threshold)
{
    metrics_binary m;
    metrics_binary_init(&m, threshold);
    metrics_binary_add(&m, label, score, w, n);
    return m.cm;
}

double metrics_mse(const float *target, const float *pred, const float *w, size_t n)
{
    double s = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        double d = (double)target[i] - (double)pred[i];
        s += wi * d * d;
        sw += wi;
    }
    return sw > 0 ? s / sw : NAN;
}

int metrics_mc_accuracy(const float *label, const float *prob, const float *w, size_t n, size_t k,
                        double *out, mlhep_err *e)
{
    if (k == 0)
        return err_set(e, MLHEP_EINVAL, "multi-class accuracy: zero classes");
    double ok = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        int rc = nn_class_index(label[i], k, i, &c, e);
        if (rc)
            return rc;
        const float *p = prob + i * k;
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (p[j] > p[best] || (isnan(p[best]) && !isnan(p[j])))
                best = j;
        double wi = w ? w[i] : 1.0;
        sw += wi;
        if (best == c && !isnan(p[best]))
            ok += wi;
    }
    *out = sw > 0 ? ok / sw : NAN;
    return 0;
}

int metrics_mc_xent(const float *label, const float *prob, const float *w, size_t n, size_t k,
                    double *out, mlhep_err *e)
{
    if (k == 0)
        return err_set(e, MLHEP_EINVAL, "categorical cross-entropy: zero classes");
    double s = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        int rc = nn_class_index(label[i], k, i, &c, e);
        if (rc)
            return rc;
        double wi = w ? w[i] : 1.0;
        s -= wi * log(clip_prob(prob[i * k + c]));
        sw += wi;
    }
    *out = sw > 0 ? s / sw : NAN;
    return 0;
}

/* ---- ROC ---- */

/* Sorted pairs + class totals. On success *sorted holds n entries (key << 32 | row)
 * in ascending score order; caller frees. */
static int roc_prepare(const float *label, const float *score, const float *w, size_t n,
                       uint64_t **sorted, double *tot_pos, double *tot_neg, mlhep_err *e)
{
    *sorted = NULL;
    if (n > UINT32_MAX)
        return err_set(e, MLHEP_ENOMEM, "ROC: %zu rows is more than the 2^32 supported", n);
    double P = 0, N = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i]))
            return err_set(e, MLHEP_EINVAL, "ROC: score of row %zu is NaN", i);
        double wi = w ? w[i] : 1.0;
        if (!(wi >= 0) || isinf(wi))
            return err_set(e, MLHEP_EINVAL, "ROC: weight of row %zu is %g (must be finite, >= 0)",
                           i, wi);
        if (label[i] >= 0.5f)
            P += wi;
        else
            N += wi;
    }
    if (!(P > 0) || !(N > 0))
        return err_set(e, MLHEP_EINVAL,
                       "ROC AUC undefined: %s class has no rows (or zero total weight)",
                       P > 0 ? "the negative (background)" : "the positive (signal)");
    uint64_t *v = malloc(n * sizeof *v + 1);
    if (!v)
        return err_set(e, MLHEP_ENOMEM, "ROC: out of memory for %zu rows", n);
    uint64_t *tmp = malloc(n * sizeof *tmp + 1);
    if (!tmp) {
        free(v);
        return err_set(e, MLHEP_ENOMEM, "ROC: out of memory for %zu rows", n);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = ((uint64_t)sort_float_key(score[i]) << 32) | (uint64_t)i;
    sort_radix_u64(v, tmp, n, 32, 32);
    free(tmp);
    *sorted = v;
    *tot_pos = P;
    *tot_neg = N;
    return 0;
}

/* Walks groups of equal score from the top. Calls emit(ctx, fp, tp, score) after each
 * group (unnormalised weights) when emit != NULL; returns the exact AUC. */
typedef void (*roc_emit_fn)(void *ctx, double fp, double tp, float score);

static double roc_walk(const uint64_t *v, size_t n, const float *label, const float *w, double P,
                       double N, roc_emit_fn emit, void *ctx)
{
    double tp = 0, fp = 0, area = 0;
    size_t i = n;
    while (i > 0) {
        uint32_t key = (uint32_t)(v[i - 1] >> 32);
        double tp0 = tp, fp0 = fp;
        while (i > 0 && (uint32_t)(v[i - 1] >> 32) == key) {
            uint32_t r = (uint32_t)v[i - 1];
            double wi = w ? w[r] : 1.0;
            if (label[r] >= 0.5f)
                tp += wi;
            else
                fp += wi;
            i--;
        }
        area += (fp - fp0) * (tp + tp0) * 0.5;
        if (emit)
            emit(ctx, fp, tp, sort_key_float(key));
    }
    return area / (P * N);
}

int metrics_roc_auc(const float *label, const float *score, const float *w, size_t n, double *auc,
                    mlhep_err *e)
{
    uint64_t *v;
    double P, N;
    int rc = roc_prepare(label, score, w, n, &v, &P, &N, e);
    if (rc)
        return rc;
    *auc = roc_walk(v, n, label, w, P, N, NULL, NULL);
    free(v);
    return 0;
}

typedef struct roc_build {
    metrics_roc *roc;
    double P, N;
} roc_build;

static void roc_emit_point(void *ctx, double fp, double tp, float score)
{
    roc_build *b = ctx;
    metrics_roc *r = b->roc;
    r->fpr[r->n] = fp / b->N;
    r->tpr[r->n] = tp / b->P;
    r->thr[r->n] = score;
    r->n++;
}

int metrics_roc_curve(const float *label, const float *score, const float *w, size_t n,
                      size_t max_points, metrics_roc *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    if (max_points == 1 || max_points == 2)
        return err_set(e, MLHEP_EINVAL, "ROC curve: max_points %zu too small (0 or >= 3)",
                       max_points);
    uint64_t *v;
    double P, N;
    int rc = roc_prepare(label, score, w, n, &v, &P, &N, e);
    if (rc)
        return rc;
    out->fpr = malloc((n + 1) * sizeof(double));
    out->tpr = malloc((n + 1) * sizeof(double));
    out->thr = malloc((n + 1) * sizeof(double));
    if (!out->fpr || !out->tpr || !out->thr) {
        free(v);
        metrics_roc_free(out);
        return err_set(e, MLHEP_ENOMEM, "ROC curve: out of memory for %zu points", n + 1);
    }
    out->fpr[0] = 0;
    out->tpr[0] = 0;
    out->thr[0] = INFINITY;
    out->n = 1;
    roc_build b = {out, P, N};
    out->auc = roc_walk(v, n, label, w, P, N, roc_emit_point, &b);
    free(v);
    if (max_points >= 3 && out->n > max_points) {
        double step = 2.0 / (double)(max_points - 2);
        size_t k = 1;
        double last = 0; /* fpr + tpr of the last kept point (the first is (0,0)) */
        for (size_t i = 1; i + 1 < out->n; i++) {
            double s = out->fpr[i] + out->tpr[i];
            if (s - last >= step) {
                out->fpr[k] = out->fpr[i];
                out->tpr[k] = out->tpr[i];
                out->thr[k] = out->thr[i];
                last = s;
                k++;
            }
        }
        out->fpr[k] = out->fpr[out->n - 1];
        out->tpr[k] = out->tpr[out->n - 1];
        out->thr[k] = out->thr[out->n - 1];
        out->n = k + 1;
    }
    return 0;
}

void metrics_roc_free(metrics_roc *roc)
{
    if (!roc)
        return;
    free(roc->fpr);
    free(roc->tpr);
    free(roc->thr);
    roc->fpr = roc->tpr = roc->thr = NULL;
    roc->n = 0;
}

/* ---- working points ---- */

int metrics_sig_eff_at(const metrics_roc *roc, double bkg_eff, double *sig_eff, double *thr)
{
    if (!roc || roc->n < 2 || !(bkg_eff >= 0 && bkg_eff <= 1)) {
        *sig_eff = *thr = NAN;
        return -1;
    }
    /* last point with fpr <= bkg_eff: the best signal efficiency reachable there */
    size_t i = 0;
    while (i + 1 < roc->n && roc->fpr[i + 1] <= bkg_eff)
        i++;
    *thr = roc->thr[i];
    if (i + 1 >= roc->n || roc->fpr[i] >= bkg_eff) {
        *sig_eff = roc->tpr[i];
        return 0;
    }
    double f = (bkg_eff - roc->fpr[i]) / (roc->fpr[i + 1] - roc->fpr[i]);
    *sig_eff = roc->tpr[i] + f * (roc->tpr[i + 1] - roc->tpr[i]);
    return 0;
}

/* ---- two-sample Kolmogorov-Smirnov ---- */

double metrics_kolmogorov_sf(double z)
{
    if (!(z > 0))
        return 1.0;
    if (z < 0.04)
        return 1.0;
    if (z < 1.18) { /* the series of the CDF converges fast for small z */
        const double pi2_8 = M_PI * M_PI / 8.0;
        double q = exp(-pi2_8 / (z * z)), s = 0;
        for (int k = 1; k <= 9; k += 2)
            s += pow(q, (double)(k * k));
        return 1.0 - sqrt(2 * M_PI) / z * s;
    }
    double s = 0, sign = 1;
    for (int k = 1; k <= 100; k++) {
        double t = exp(-2.0 * k * k * z * z);
        s += sign * t;
        if (t < 1e-18)
            break;
        sign = -sign;
    }
    double p = 2 * s;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* Rows sorted by value: (key << 32 | row). Caller frees; NULL when out of memory. */
static uint64_t *sorted_keys(const float *v, size_t n)
{
    uint64_t *a = malloc(n * sizeof *a + 1), *tmp = malloc(n * sizeof *tmp + 1);
    if (!a || !tmp) {
        free(a);
        free(tmp);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = ((uint64_t)sort_float_key(v[i]) << 32) | (uint64_t)i;
    sort_radix_u64(a, tmp, n, 32, 32);
    free(tmp);
    return a;
}

static int ks_sums(const float *v, const float *w, size_t n, const char *what, double *sw, double *sw2,
                   mlhep_err *e)
{
    *sw = *sw2 = 0;
    if (n > UINT32_MAX)
        return err_set(e, MLHEP_ENOMEM, "KS test: %zu rows is more than the 2^32 supported", n);
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            return err_set(e, MLHEP_EINVAL, "KS test: %s value %zu is NaN", what, i);
        double wi = w ? w[i] : 1.0;
        if (!(wi >= 0) || isinf(wi))
            return err_set(e, MLHEP_EINVAL, "KS test: %s weight %zu is %g (must be finite, >= 0)", what, i, wi);
        *sw += wi;
        *sw2 += wi * wi;
    }
    if (!(*sw > 0))
        return err_set(e, MLHEP_EINVAL, "KS test: the %s sample is empty (or has zero weight)", what);
    return 0;
}

int metrics_ks_2samp(const float *a, const float *wa, size_t na, const float *b, const float *wb, size_t nb,
                     metrics_ks *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    double sa, sa2, sb, sb2;
    int rc = ks_sums(a, wa, na, "first", &sa, &sa2, e);
    if (!rc)
        rc = ks_sums(b, wb, nb, "second", &sb, &sb2, e);
    if (rc)
        return rc;
    uint64_t *ka = sorted_keys(a, na), *kb = sorted_keys(b, nb);
    if (!ka || !kb) {
        free(ka);
        free(kb);
        return err_set(e, MLHEP_ENOMEM, "KS test: out of memory for %zu + %zu rows", na, nb);
    }
    /* walk both samples in value order; the ECDFs are compared after every distinct
     * value (all rows equal to it counted, as scipy's searchsorted(side='right')) */
    size_t i = 0, j = 0;
    double ca = 0, cb = 0, d = 0;
    while (i < na || j < nb) {
        uint32_t x;
        if (j >= nb || (i < na && (uint32_t)(ka[i] >> 32) <= (uint32_t)(kb[j] >> 32)))
            x = (uint32_t)(ka[i] >> 32);
        else
            x = (uint32_t)(kb[j] >> 32);
        while (i < na && (uint32_t)(ka[i] >> 32) == x) {
            ca += wa ? wa[(uint32_t)ka[i]] : 1.0;
            i++;
        }
        while (j < nb && (uint32_t)(kb[j] >> 32) == x) {
            cb += wb ? wb[(uint32_t)kb[j]] : 1.0;
            j++;
        }
        double diff = fabs(ca / sa - cb / sb);
        if (diff > d)
            d = diff;
    }
    free(ka);
    free(kb);
    double ea = sa * sa / sa2, eb = sb * sb / sb2; /* effective sizes: n without weights */
    out->d = d;
    out->n_eff_a = ea;
    out->n_eff_b = eb;
    out->pvalue = metrics_kolmogorov_sf(d * sqrt(ea * eb / (ea + eb)));
    return 0;
}

/* ---- multi-class ---- */

int metrics_mc_confusion(const float *label, const float *prob, const float *w, size_t n, size_t k,
                         double *cm, mlhep_err *e)
{
    if (k == 0)
        return err_set(e, MLHEP_EINVAL, "confusion matrix: zero classes");
    memset(cm, 0, k * k * sizeof *cm);
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        int rc = nn_class_index(label[i], k, i, &c, e);
        if (rc)
            return rc;
        const float *p = prob + i * k;
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (p[j] > p[best] || (isnan(p[best]) && !isnan(p[j])))
                best = j;
        cm[c * k + best] += w ? w[i] : 1.0;
    }
    return 0;
}

int metrics_ovr_auc(const float *label, const float *prob, const float *w, size_t n, size_t k, size_t cls,
                    double *auc, mlhep_err *e)
{
    *auc = NAN;
    if (cls >= k)
        return err_set(e, MLHEP_EINVAL, "one-vs-rest AUC: class %zu of %zu", cls, k);
    float *y = malloc(n * sizeof *y + 1), *s = malloc(n * sizeof *s + 1);
    int rc = 0;
    if (!y || !s)
        rc = err_set(e, MLHEP_ENOMEM, "one-vs-rest AUC: out of memory for %zu rows", n);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t c = 0;
        rc = nn_class_index(label[i], k, i, &c, e);
        y[i] = c == cls ? 1.0f : 0.0f;
        s[i] = prob[i * k + cls];
    }
    if (!rc)
        rc = metrics_roc_auc(y, s, w, n, auc, e);
    free(y);
    free(s);
    return rc;
}

double metrics_mae(const float *target, const float *pred, const float *w, size_t n)
{
    double s = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        s += wi * fabs((double)target[i] - (double)pred[i]);
        sw += wi;
    }
    return sw > 0 ? s / sw : NAN;
}

/* ---- input correlations ---- */

void metrics_correlation(const float *x, const uint8_t *mask, const float *w, size_t n, size_t stride,
                         const size_t *cols, size_t ncols, double *out)
{
    /* one pass over the rows (each row's values gathered once), six sums per pair */
    size_t np = ncols * ncols;
    double *acc = calloc(6 * np + 1, sizeof *acc);
    double *v = malloc((ncols + 1) * sizeof *v);
    uint8_t *ok = malloc(ncols + 1);
    if (!acc || !v || !ok) {
        for (size_t i = 0; i < np; i++)
            out[i] = NAN;
        free(acc);
        free(v);
        free(ok);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (wi == 0)
            continue;
        for (size_t a = 0; a < ncols; a++) {
            size_t c = i * stride + cols[a];
            v[a] = x[c];
            ok[a] = (!mask || !mask[c]) && isfinite(v[a]);
        }
        for (size_t a = 0; a < ncols; a++) {
            if (!ok[a])
                continue;
            double xa = v[a], wxa = wi * xa;
            double *p = acc + 6 * (a * ncols + a + 1);
            for (size_t b = a + 1; b < ncols; b++, p += 6) {
                if (!ok[b])
                    continue;
                double xb = v[b];
                p[0] += wi;
                p[1] += wxa;
                p[2] += wi * xb;
                p[3] += wxa * xa;
                p[4] += wi * xb * xb;
                p[5] += wxa * xb;
            }
        }
    }
    for (size_t a = 0; a < ncols; a++) {
        out[a * ncols + a] = 1.0;
        for (size_t b = a + 1; b < ncols; b++) {
            const double *p = acc + 6 * (a * ncols + b);
            double r = NAN;
            if (p[0] > 0) {
                double mx = p[1] / p[0], my = p[2] / p[0];
                double vx = p[3] / p[0] - mx * mx, vy = p[4] / p[0] - my * my, cxy = p[5] / p[0] - mx * my;
                if (vx > 0 && vy > 0)
                    r = cxy / sqrt(vx * vy);
                if (r > 1)
                    r = 1;
                if (r < -1)
                    r = -1;
            }
            out[a * ncols + b] = out[b * ncols + a] = r;
        }
    }
    free(acc);
    free(v);
    free(ok);
}

/* report.c - metrics.json, the plots and report.html of a training run; see report.h.
 *
 * Layout: figures of a scored set per task (set_figures), the overtraining check, the
 * JSON sections, the plots (each kept in memory too, so the page embeds them), the page.
 * Conventions: a binary model's score is P(signal) (class 1); a multiclass model gives
 * one probability per class; a regression model its prediction. The class of a row is
 * label >= 0.5 (binary), the label (multiclass), none (regression). */
#include "train/report.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/npy.h"
#include "base/svgplot.h"
#include "base/wbuf.h"
#include "data/dataparams.h"
#include "data/feathist.h"
#include "model/metrics.h"

#define ROC_POINTS 200
#define SCORE_BINS 50
#define SCATTER_MAX 4000
#define MAX_PLOTS 64

static const double WORKING_POINTS[] = {0.01, 0.1}; /* background efficiencies */
#define N_WP (sizeof WORKING_POINTS / sizeof *WORKING_POINTS)

/* A plot written to the directory and kept for the page. */
typedef struct plot {
    char name[128];
    char caption[200];
    char *svg;
    size_t len;
} plot;

typedef struct rep {
    const report_data *d;
    const char *dir;
    wf_task task;
    const evalset *fin;   /* the set the final figures come from */
    const char *fin_name; /* "test" or "validation" */
    plot plots[MAX_PLOTS];
    int nplots;
    json_t *mj;
} rep;

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static int class_of(wf_task task, float y, size_t nclass)
{
    if (task == WF_TASK_REGRESSION)
        return 0;
    if (task == WF_TASK_BINARY)
        return y >= 0.5f ? 1 : 0;
    return y >= 0 && y < (float)nclass ? (int)y : -1;
}

/* Keeps the document and writes it to dir/name. Takes svg. */
static int add_plot(rep *r, const char *name, const char *caption, char *svg, size_t len, int rc, mlhep_err *e)
{
    if (rc) {
        free(svg);
        return rc;
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    rc = svgplot_write(path, svg, len, e);
    if (rc || r->nplots == MAX_PLOTS) {
        free(svg);
        return rc;
    }
    plot *p = &r->plots[r->nplots++];
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->caption, sizeof p->caption, "%s", caption);
    p->svg = svg;
    p->len = len;
    return 0;
}

/* ---- figures of a scored set ------------------------------------------------------- */

/* The score column of a binary model as probabilities in a contiguous array: the set's
 * own scores (nout 1). */
static const float *binary_scores(const evalset *s)
{
    return s->score;
}

static double sum_w(const evalset *s)
{
    double w = 0;
    for (size_t i = 0; i < s->n; i++)
        w += s->w[i];
    return w;
}

/* Figures of set s into o; the full ROC curve (binary) into *roc_out when not NULL
 * (the caller frees it). */
static int set_figures(rep *r, const evalset *s, json_t *o, metrics_roc *roc_out, mlhep_err *e)
{
    const report_data *d = r->d;
    json_object_set_new(o, "rows", json_integer((json_int_t)s->n));
    json_object_set_new(o, "sum_weights", num(sum_w(s)));
    if (roc_out)
        memset(roc_out, 0, sizeof *roc_out);
    if (s->n == 0)
        return 0;
    mlhep_err ignore;
    if (r->task == WF_TASK_BINARY) {
        const float *p = binary_scores(s);
        double thr = d->wf->params.metrics_threshold;
        json_object_set_new(o, "loss", num(metrics_logloss(s->y, p, s->w, s->n)));
        json_object_set_new(o, "accuracy", num(metrics_accuracy(s->y, p, s->w, s->n, thr)));
        double auc = NAN;
        if (metrics_roc_auc(s->y, p, s->w, s->n, &auc, &ignore))
            auc = NAN;
        json_object_set_new(o, "auc", num(auc));
        metrics_confusion cm = metrics_confusion_at(s->y, p, s->w, s->n, thr);
        json_t *c = json_object();
        json_object_set_new(c, "threshold", json_real(thr));
        json_object_set_new(c, "tp", json_real(cm.tp));
        json_object_set_new(c, "fp", json_real(cm.fp));
        json_object_set_new(c, "tn", json_real(cm.tn));
        json_object_set_new(c, "fn", json_real(cm.fn));
        json_object_set_new(o, "confusion", c);
        metrics_roc full;
        if (metrics_roc_curve(s->y, p, s->w, s->n, 0, &full, &ignore) == 0) {
            json_t *wps = json_array();
            for (size_t k = 0; k < N_WP; k++) {
                double se, th;
                metrics_sig_eff_at(&full, WORKING_POINTS[k], &se, &th);
                json_t *wp = json_object();
                json_object_set_new(wp, "background_efficiency", json_real(WORKING_POINTS[k]));
                json_object_set_new(wp, "background_rejection", json_real(1.0 / WORKING_POINTS[k]));
                json_object_set_new(wp, "signal_efficiency", num(se));
                json_object_set_new(wp, "threshold", num(th));
                json_array_append_new(wps, wp);
            }
            json_object_set_new(o, "working_points", wps);
            metrics_roc thin;
            if (metrics_roc_curve(s->y, p, s->w, s->n, ROC_POINTS, &thin, &ignore) == 0) {
                json_t *rj = json_object(), *fp = json_array(), *tp = json_array(), *th = json_array();
                for (size_t i = 0; i < thin.n; i++) {
                    json_array_append_new(fp, json_real(thin.fpr[i]));
                    json_array_append_new(tp, json_real(thin.tpr[i]));
                    json_array_append_new(th, num(thin.thr[i]));
                }
                json_object_set_new(rj, "fpr", fp);
                json_object_set_new(rj, "tpr", tp);
                json_object_set_new(rj, "thresholds", th);
                json_object_set_new(o, "roc", rj);
                if (roc_out)
                    *roc_out = thin;
                else
                    metrics_roc_free(&thin);
            }
            metrics_roc_free(&full);
        }
        return 0;
    }
    if (r->task == WF_TASK_MULTICLASS) {
        size_t k = d->nout;
        double acc = NAN, xent = NAN;
        int rc = metrics_mc_accuracy(s->y, s->score, s->w, s->n, k, &acc, e);
        if (!rc)
            rc = metrics_mc_xent(s->y, s->score, s->w, s->n, k, &xent, e);
        if (rc)
            return rc;
        json_object_set_new(o, "loss", num(xent));
        json_object_set_new(o, "accuracy", num(acc));
        json_t *pc = json_array();
        double sum = 0;
        size_t nauc = 0;
        for (size_t c = 0; c < k; c++) {
            double auc = NAN;
            if (metrics_ovr_auc(s->y, s->score, s->w, s->n, k, c, &auc, &ignore))
                auc = NAN;
            if (isfinite(auc)) {
                sum += auc;
                nauc++;
            }
            json_t *cj = json_object();
            json_object_set_new(cj, "class", json_string(d->class_names[c]));
            json_object_set_new(cj, "auc", num(auc));
            json_array_append_new(pc, cj);
        }
        json_object_set_new(o, "auc", num(nauc == k ? sum / (double)k : NAN));
        json_object_set_new(o, "per_class", pc);
        double *cm = calloc(k * k, sizeof *cm);
        if (!cm)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        if ((rc = metrics_mc_confusion(s->y, s->score, s->w, s->n, k, cm, e))) {
            free(cm);
            return rc;
        }
        json_t *m = json_array();
        for (size_t i = 0; i < k; i++) {
            json_t *row = json_array();
            for (size_t j = 0; j < k; j++)
                json_array_append_new(row, json_real(cm[i * k + j]));
            json_array_append_new(m, row);
        }
        json_object_set_new(o, "confusion_matrix", m);
        free(cm);
        return 0;
    }
    /* regression */
    double mse = metrics_mse(s->y, s->score, s->w, s->n), sw = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < s->n; i++) {
        double res = (double)s->score[i] - s->y[i];
        sw += s->w[i];
        s1 += s->w[i] * res;
        s2 += s->w[i] * res * res;
    }
    double mean = sw > 0 ? s1 / sw : NAN;
    json_object_set_new(o, "loss", num(mse));
    json_object_set_new(o, "mse", num(mse));
    json_object_set_new(o, "rmse", num(sqrt(mse)));
    json_object_set_new(o, "mae", num(metrics_mae(s->y, s->score, s->w, s->n)));
    json_object_set_new(o, "residual_mean", num(mean));
    json_object_set_new(o, "residual_std", num(sw > 0 ? sqrt(fmax(0, s2 / sw - mean * mean)) : NAN));
    return 0;
}

/* ---- the overtraining check --------------------------------------------------------- */

/* Values of set s for class c (or every row with c < 0): the class's score, or the
 * residual for a regression; weights alongside. Returns the count. */
static size_t class_values(const rep *r, const evalset *s, int c, float *v, float *w)
{
    size_t n = 0, nout = r->d->nout;
    for (size_t i = 0; i < s->n; i++) {
        if (r->task != WF_TASK_REGRESSION && class_of(r->task, s->y[i], r->d->nclass) != c)
            continue;
        if (r->task == WF_TASK_REGRESSION)
            v[n] = s->score[i] - s->y[i];
        else if (r->task == WF_TASK_BINARY)
            v[n] = s->score[i];
        else
            v[n] = s->score[i * nout + (size_t)c];
        w[n++] = s->w[i];
    }
    return n;
}

/* Histogram range of the residuals: mean +- 4 standard deviations of the test rows. */
static void residual_range(const evalset *s, double *lo, double *hi)
{
    double sw = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x = (double)s->score[i] - s->y[i];
        sw += s->w[i];
        s1 += s->w[i] * x;
        s2 += s->w[i] * x * x;
    }
    double m = sw > 0 ? s1 / sw : 0, sd = sw > 0 ? sqrt(fmax(0, s2 / sw - m * m)) : 1;
    if (!(sd > 0))
        sd = fabs(m) > 0 ? fabs(m) : 1;
    *lo = m - 4 * sd;
    *hi = m + 4 * sd;
}

static int overtraining(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    const evalset *tr = d->trsub, *te = r->fin;
    json_t *ot = json_object();
    json_object_set_new(r->mj, "overtraining", ot);
    json_object_set_new(ot, "compared", json_string(r->fin_name));
    json_object_set_new(ot, "train_rows", json_integer((json_int_t)tr->n));
    json_object_set_new(ot, "test_rows", json_integer((json_int_t)te->n));
    json_object_set_new(ot, "method", json_string("two-sample Kolmogorov-Smirnov on the model's scores (regression: residuals), "
                                                   "weighted; p-value from Kolmogorov's asymptotic distribution"));
    if (!tr->n || !te->n)
        return 0;
    size_t nmax = tr->n > te->n ? tr->n : te->n;
    float *va = malloc(nmax * sizeof *va), *wa = malloc(nmax * sizeof *wa);
    float *vb = malloc(nmax * sizeof *vb), *wb = malloc(nmax * sizeof *wb);
    int ncls = r->task == WF_TASK_REGRESSION ? 1 : (int)d->nclass;
    double (*hs)[SCORE_BINS] = calloc((size_t)ncls * 2, sizeof *hs);
    int rc = 0;
    if (!va || !wa || !vb || !wb || !hs)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    double lo = 0, hi = 1;
    if (r->task == WF_TASK_REGRESSION)
        residual_range(te, &lo, &hi);
    double edges[SCORE_BINS + 1];
    svgplot_edges_uniform(lo, hi, SCORE_BINS, edges);
    json_t *cl = json_array();
    json_object_set_new(ot, "classes", cl);
    char labels[2 * 16][96];
    double pmin = 1;
    for (int c = 0; c < ncls && !rc; c++) {
        /* binary: signal first (drawn filled) */
        int cls = r->task == WF_TASK_BINARY ? 1 - c : c;
        size_t na = class_values(r, tr, r->task == WF_TASK_REGRESSION ? -1 : cls, va, wa);
        size_t nb = class_values(r, te, r->task == WF_TASK_REGRESSION ? -1 : cls, vb, wb);
        json_t *cj = json_object();
        json_object_set_new(cj, "class", json_string(r->task == WF_TASK_REGRESSION ? "all" : d->class_names[cls]));
        json_object_set_new(cj, "train_rows", json_integer((json_int_t)na));
        json_object_set_new(cj, "test_rows", json_integer((json_int_t)nb));
        metrics_ks ks = {NAN, NAN, 0, 0};
        mlhep_err ke;
        if (na && nb && metrics_ks_2samp(va, wa, na, vb, wb, nb, &ks, &ke) != 0)
            ks.d = ks.pvalue = NAN;
        json_object_set_new(cj, "ks_statistic", num(ks.d));
        json_object_set_new(cj, "ks_pvalue", num(ks.pvalue));
        json_array_append_new(cl, cj);
        if (isfinite(ks.pvalue) && ks.pvalue < pmin)
            pmin = ks.pvalue;
        svgplot_fill(edges, SCORE_BINS, va, wa, na, hs[2 * c]);
        svgplot_fill(edges, SCORE_BINS, vb, wb, nb, hs[2 * c + 1]);
        if (c < 16) {
            const char *nm = r->task == WF_TASK_REGRESSION ? "residual" : d->class_names[cls];
            snprintf(labels[2 * c], sizeof labels[0], "%.40s (train)", nm);
            snprintf(labels[2 * c + 1], sizeof labels[0], "%.40s (%s, KS p = %.3g)", nm, r->fin_name, ks.pvalue);
        }
    }
    if (r->task == WF_TASK_BINARY && !rc) {
        double a = NAN, b = NAN;
        mlhep_err ig;
        if (metrics_roc_auc(tr->y, tr->score, tr->w, tr->n, &a, &ig))
            a = NAN;
        if (metrics_roc_auc(te->y, te->score, te->w, te->n, &b, &ig))
            b = NAN;
        json_object_set_new(ot, "train_auc", num(a));
        json_object_set_new(ot, "test_auc", num(b));
    }
    json_object_set_new(ot, "min_pvalue", num(pmin));
    /* plots: binary and regression one, multiclass one per class */
    for (int c = 0; c < ncls && !rc; c++) {
        if (r->task == WF_TASK_MULTICLASS || c == 0) {
            svgplot_hist h[4];
            size_t nh = 0;
            int first = r->task == WF_TASK_MULTICLASS ? c : 0, last = r->task == WF_TASK_MULTICLASS ? c : ncls - 1;
            for (int k = first; k <= last && k < 16; k++) {
                h[nh++] = (svgplot_hist){labels[2 * k], hs[2 * k]};
                h[nh++] = (svgplot_hist){labels[2 * k + 1], hs[2 * k + 1]};
            }
            char title[160], name[160];
            if (r->task == WF_TASK_MULTICLASS) {
                snprintf(title, sizeof title, "Overtraining check: P(%.40s), class %.40s", d->class_names[c], d->class_names[c]);
                snprintf(name, sizeof name, "overtraining_%d.svg", c);
            } else {
                snprintf(title, sizeof title, "Overtraining check: training sample vs %s", r->fin_name);
                snprintf(name, sizeof name, "overtraining.svg");
            }
            svgplot_opts o = {.title = title,
                              .xlabel = r->task == WF_TASK_REGRESSION ? "prediction - target" : "model score",
                              .logy = d->wf->params.log_scale};
            char *svg = NULL;
            size_t len = 0;
            rc = add_plot(r, name, title, svg, len, svgplot_hists(&o, edges, SCORE_BINS, h, nh, 1, &svg, &len, e), e);
        }
    }
    free(va);
    free(wa);
    free(vb);
    free(wb);
    free(hs);
    return rc;
}

/* ---- plots of the final set ---------------------------------------------------------- */

static int epoch_plots(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    if (d->nep <= 0)
        return 0;
    double *l = calloc((size_t)d->nep, sizeof *l), *vl = calloc((size_t)d->nep, sizeof *vl);
    double *a = calloc((size_t)d->nep, sizeof *a), *va = calloc((size_t)d->nep, sizeof *va);
    int rc = 0;
    if (!l || !vl || !a || !va)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int i = 0; i < d->nep && !rc; i++) {
        l[i] = d->ep[i].loss;
        vl[i] = d->ep[i].val_loss;
        a[i] = d->ep[i].auc;
        va[i] = d->ep[i].val_auc;
    }
    char *svg = NULL;
    size_t len = 0;
    if (!rc) {
        svgplot_series s[2] = {{"training", NULL, l, (size_t)d->nep}, {"validation", NULL, vl, (size_t)d->nep}};
        char title[64];
        snprintf(title, sizeof title, "Loss per %s", d->epoch_unit);
        svgplot_opts o = {.title = title, .xlabel = d->epoch_unit, .ylabel = "loss"};
        rc = add_plot(r, "loss.svg", title, svg, len, svgplot_lines(&o, s, 2, &svg, &len, e), e);
    }
    if (!rc && d->epochs_have_auc) {
        svgplot_series s[2] = {{"training sample", NULL, a, (size_t)d->nep},
                               {"validation", NULL, va, (size_t)d->nep}};
        svgplot_opts o = {.title = "ROC AUC per epoch", .xlabel = d->epoch_unit, .ylabel = "AUC"};
        svg = NULL;
        rc = add_plot(r, "auc.svg", "ROC AUC per epoch (end-of-epoch model)", svg, len, svgplot_lines(&o, s, 2, &svg, &len, e), e);
    }
    free(l);
    free(vl);
    free(a);
    free(va);
    return rc;
}

static int binary_plots(rep *r, const metrics_roc *roc, mlhep_err *e)
{
    const report_data *d = r->d;
    const evalset *s = r->fin;
    int rc = 0;
    char *svg = NULL;
    size_t len = 0;
    char title[128];
    if (roc->n) {
        svgplot_series cs = {r->fin_name, roc->fpr, roc->tpr, roc->n};
        snprintf(title, sizeof title, "ROC curve (%s set)", r->fin_name);
        svgplot_opts o = {.title = title, .xlabel = "background efficiency (false positive rate)",
                          .ylabel = "signal efficiency (true positive rate)"};
        rc = add_plot(r, "roc.svg", title, svg, len, svgplot_roc(&o, &cs, &roc->auc, 1, &svg, &len, e), e);
        /* background rejection 1/eps_B against signal efficiency eps_S */
        double *x = malloc(roc->n * sizeof *x), *y = malloc(roc->n * sizeof *y);
        size_t m = 0;
        for (size_t i = 0; x && y && i < roc->n; i++)
            if (roc->fpr[i] > 0) {
                x[m] = roc->tpr[i];
                y[m++] = 1.0 / roc->fpr[i];
            }
        if (!rc && x && y) {
            svgplot_series rs = {r->fin_name, x, y, m};
            snprintf(title, sizeof title, "Background rejection vs signal efficiency (%s set)", r->fin_name);
            svgplot_opts o = {.title = title, .xlabel = "signal efficiency", .ylabel = "background rejection 1/eff(B)",
                              .logy = 1};
            svg = NULL;
            rc = add_plot(r, "rejection.svg", title, svg, len, svgplot_lines(&o, &rs, 1, &svg, &len, e), e);
        }
        free(x);
        free(y);
    }
    /* score distributions per class */
    double edges[SCORE_BINS + 1], hs[SCORE_BINS] = {0}, hb[SCORE_BINS] = {0};
    svgplot_edges_uniform(0, 1, SCORE_BINS, edges);
    for (size_t i = 0; i < s->n; i++) {
        double *h = s->y[i] >= 0.5f ? hs : hb;
        svgplot_fill(edges, SCORE_BINS, &s->score[i], &s->w[i], 1, h);
    }
    svgplot_hist h[2] = {{d->class_names[1], hs}, {d->class_names[0], hb}};
    snprintf(title, sizeof title, "Score distributions (%s set)", r->fin_name);
    svgplot_opts o = {.title = title, .xlabel = "model score", .logy = d->wf->params.log_scale};
    svg = NULL;
    if (!rc)
        rc = add_plot(r, "scores.svg", title, svg, len, svgplot_hists(&o, edges, SCORE_BINS, h, 2, 1, &svg, &len, e), e);
    return rc;
}

static int confusion_plot(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    const evalset *s = r->fin;
    size_t k = d->nclass;
    double *cm = calloc(k * k, sizeof *cm);
    if (!cm)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        int c = class_of(r->task, s->y[i], k);
        if (c < 0)
            continue;
        size_t p = 0;
        if (r->task == WF_TASK_BINARY) {
            p = s->score[i] >= d->wf->params.metrics_threshold;
        } else {
            const float *sc = s->score + i * d->nout;
            for (size_t j = 1; j < k; j++)
                if (sc[j] > sc[p])
                    p = j;
        }
        cm[(size_t)c * k + p] += s->w[i];
    }
    /* rows normalised: the fraction of each true class predicted as each class */
    for (size_t i = 0; i < k; i++) {
        double t = 0;
        for (size_t j = 0; j < k; j++)
            t += cm[i * k + j];
        for (size_t j = 0; j < k; j++)
            cm[i * k + j] = t > 0 ? cm[i * k + j] / t : NAN;
    }
    char title[128];
    snprintf(title, sizeof title, "Confusion matrix (%s set)", r->fin_name);
    svgplot_opts o = {.title = title, .xlabel = "predicted class (each row: fractions of a true class)", .ylabel = "true class"};
    char *svg = NULL;
    size_t len = 0;
    int rc = add_plot(r, "confusion.svg", title, svg, len,
                      svgplot_matrix(&o, d->class_names, d->class_names, cm, k, k, 0, 1, 0, 1, &svg, &len, e), e);
    free(cm);
    return rc;
}

static int multiclass_plots(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    const evalset *s = r->fin;
    size_t k = d->nout;
    int rc = 0;
    svgplot_series *cs = calloc(k, sizeof *cs);
    double *aucs = calloc(k, sizeof *aucs);
    metrics_roc *rocs = calloc(k, sizeof *rocs);
    float *y = malloc((s->n + 1) * sizeof *y), *sc = malloc((s->n + 1) * sizeof *sc);
    double (*hs)[SCORE_BINS] = calloc(k, sizeof *hs);
    if (!cs || !aucs || !rocs || !y || !sc || !hs)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t ncurves = 0;
    for (size_t c = 0; c < k && !rc; c++) {
        for (size_t i = 0; i < s->n; i++) {
            y[i] = class_of(r->task, s->y[i], k) == (int)c;
            sc[i] = s->score[i * k + c];
        }
        mlhep_err ig;
        if (metrics_roc_curve(y, sc, s->w, s->n, ROC_POINTS, &rocs[c], &ig) == 0) {
            cs[ncurves] = (svgplot_series){d->class_names[c], rocs[c].fpr, rocs[c].tpr, rocs[c].n};
            aucs[ncurves++] = rocs[c].auc;
        }
        /* distribution of P(c) for each true class */
        memset(hs, 0, k * sizeof *hs);
        double edges[SCORE_BINS + 1];
        svgplot_edges_uniform(0, 1, SCORE_BINS, edges);
        for (size_t i = 0; i < s->n; i++) {
            int t = class_of(r->task, s->y[i], k);
            if (t >= 0)
                svgplot_fill(edges, SCORE_BINS, &sc[i], &s->w[i], 1, hs[t]);
        }
        svgplot_hist *h = calloc(k, sizeof *h);
        if (!h) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        /* the class itself first (filled) */
        size_t nh = 0;
        h[nh++] = (svgplot_hist){d->class_names[c], hs[c]};
        for (size_t t = 0; t < k; t++)
            if (t != c)
                h[nh++] = (svgplot_hist){d->class_names[t], hs[t]};
        char title[160], name[64], xl[96];
        snprintf(title, sizeof title, "Score P(%.40s) per true class (%s set)", d->class_names[c], r->fin_name);
        snprintf(name, sizeof name, "scores_%zu.svg", c);
        snprintf(xl, sizeof xl, "P(%.60s)", d->class_names[c]);
        svgplot_opts o = {.title = title, .xlabel = xl, .logy = d->wf->params.log_scale};
        char *svg = NULL;
        size_t len = 0;
        rc = add_plot(r, name, title, svg, len, svgplot_hists(&o, edges, SCORE_BINS, h, nh, 1, &svg, &len, e), e);
        free(h);
    }
    if (!rc) {
        char title[128];
        snprintf(title, sizeof title, "One-vs-rest ROC curves (%s set)", r->fin_name);
        svgplot_opts o = {.title = title, .xlabel = "false positive rate (other classes)",
                          .ylabel = "true positive rate (the class)"};
        char *svg = NULL;
        size_t len = 0;
        rc = add_plot(r, "roc.svg", title, svg, len, svgplot_roc(&o, cs, aucs, ncurves, &svg, &len, e), e);
    }
    for (size_t c = 0; rocs && c < k; c++)
        metrics_roc_free(&rocs[c]);
    free(rocs);
    free(cs);
    free(aucs);
    free(y);
    free(sc);
    free(hs);
    return rc;
}

static int regression_plots(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    const evalset *s = r->fin;
    double lo, hi, edges[SCORE_BINS + 1], h[SCORE_BINS] = {0};
    residual_range(s, &lo, &hi);
    svgplot_edges_uniform(lo, hi, SCORE_BINS, edges);
    for (size_t i = 0; i < s->n; i++) {
        float res = s->score[i] - s->y[i];
        svgplot_fill(edges, SCORE_BINS, &res, &s->w[i], 1, h);
    }
    char title[128];
    snprintf(title, sizeof title, "Resolution: prediction - target (%s set)", r->fin_name);
    svgplot_hist hh = {r->fin_name, h};
    svgplot_opts o = {.title = title, .xlabel = "prediction - target", .logy = d->wf->params.log_scale};
    char *svg = NULL;
    size_t len = 0;
    int rc = add_plot(r, "resolution.svg", title, svg, len, svgplot_hists(&o, edges, SCORE_BINS, &hh, 1, 0, &svg, &len, e), e);
    /* predicted vs true: at most SCATTER_MAX evenly spaced rows, and the diagonal */
    size_t n = s->n < SCATTER_MAX ? s->n : SCATTER_MAX;
    double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
    if (!rc && (!x || !y))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; !rc && i < n; i++) {
        size_t j = s->n <= SCATTER_MAX ? i : (size_t)((double)i * (double)s->n / SCATTER_MAX);
        x[i] = s->y[j];
        y[i] = s->score[j];
        mn = fmin(mn, fmin(x[i], y[i]));
        mx = fmax(mx, fmax(x[i], y[i]));
    }
    if (!rc) {
        double dx[2] = {mn, mx};
        svgplot_series ss[2] = {{r->fin_name, x, y, n}, {"prediction = target", dx, dx, isfinite(mn) ? 2 : 0}};
        snprintf(title, sizeof title, "Prediction vs target (%s set)", r->fin_name);
        svgplot_opts po = {.title = title, .xlabel = "target", .ylabel = "prediction", .scatter = 1, .dashed = 2};
        svg = NULL;
        rc = add_plot(r, "pred_vs_true.svg", title, svg, len, svgplot_lines(&po, ss, 2, &svg, &len, e), e);
    }
    free(x);
    free(y);
    return rc;
}

/* ---- JSON sections ----------------------------------------------------------------- */

static void epochs_json(rep *r)
{
    const report_data *d = r->d;
    json_t *ea = json_array();
    for (int i = 0; i < d->nep; i++) {
        const report_epoch *p = &d->ep[i];
        json_t *o = json_object();
        json_object_set_new(o, "epoch", json_integer(i + 1));
        json_object_set_new(o, "loss", num(p->loss));
        json_object_set_new(o, "accuracy", num(p->acc));
        json_object_set_new(o, "auc", num(p->auc));
        json_object_set_new(o, "val_loss", num(p->val_loss));
        json_object_set_new(o, "val_accuracy", num(p->val_acc));
        json_object_set_new(o, "val_auc", num(p->val_auc));
        json_object_set_new(o, "seconds", num(p->seconds));
        json_array_append_new(ea, o);
    }
    json_object_set_new(r->mj, "epochs", ea);
}

static void splits_json(rep *r)
{
    const report_data *d = r->d;
    static const char *const names[3] = {"train", "validation", "test"};
    json_t *sj = json_object();
    for (int s = 0; s < 3; s++) {
        json_t *o = json_object(), *cl = json_array();
        double rows = 0, w = 0;
        for (size_t c = 0; c < d->nclass; c++) {
            double nr = d->split_rows[(size_t)s * d->nclass + c], nw = d->split_weights[(size_t)s * d->nclass + c];
            rows += nr;
            w += nw;
            if (r->task == WF_TASK_REGRESSION)
                continue;
            json_t *cj = json_object();
            json_object_set_new(cj, "class", json_string(d->class_names[c]));
            json_object_set_new(cj, "rows", json_integer((json_int_t)nr));
            json_object_set_new(cj, "sum_weights", num(nw));
            json_array_append_new(cl, cj);
        }
        json_object_set_new(o, "rows", json_integer((json_int_t)rows));
        json_object_set_new(o, "sum_weights", num(w));
        if (r->task != WF_TASK_REGRESSION)
            json_object_set_new(o, "classes", cl);
        else
            json_decref(cl);
        json_object_set_new(sj, names[s], o);
    }
    json_object_set_new(r->mj, "splits", sj);
    const wf_params *p = &d->wf->params;
    json_t *wj = json_object();
    json_object_set_new(wj, "expression", p->weight ? json_string(p->weight) : json_null());
    int scales = 0;
    for (size_t i = 0; i < d->wf->nfiles; i++)
        scales |= d->wf->files[i].scale != 1.0;
    json_object_set_new(wj, "file_scales", json_boolean(scales));
    json_object_set_new(wj, "negative_weights", json_string(dp_negw_name(p->negative_weights)));
    json_object_set_new(wj, "balance_classes", json_boolean(p->balance_classes));
    json_t *tf = json_array();
    for (size_t c = 0; c < d->nclass; c++)
        json_array_append_new(tf, num(d->train_factor[c]));
    json_object_set_new(wj, "training_factors", tf);
    json_object_set_new(r->mj, "weights", wj);
}

static int ranking(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    if (!d->nrank)
        return 0;
    json_t *rj = json_object(), *fa = json_array();
    json_object_set_new(rj, "method", json_string(d->rank_method));
    if (!strcmp(d->rank_method, "permutation")) {
        json_object_set_new(rj, "metric", json_string(d->rank_metric));
        json_object_set_new(rj, "set", json_string(r->fin_name));
        json_object_set_new(rj, "rows", json_integer((json_int_t)d->rank_rows));
        json_object_set_new(rj, "unpermuted", num(d->rank_base));
    }
    for (size_t i = 0; i < d->nrank; i++) {
        const report_rank *k = &d->rank[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(k->name));
        json_object_set_new(o, "importance", num(k->importance));
        if (!strcmp(d->rank_method, "gain")) {
            json_object_set_new(o, "gain", num(k->gain));
            json_object_set_new(o, "cover", num(k->cover));
            json_object_set_new(o, "splits", num(k->splits));
        } else {
            json_object_set_new(o, "permuted", num(k->score));
        }
        json_array_append_new(fa, o);
    }
    json_object_set_new(rj, "features", fa);
    json_object_set_new(r->mj, "ranking", rj);
    size_t n = d->nrank < 40 ? d->nrank : 40;
    const char **labels = calloc(n + 1, sizeof *labels);
    double *v = calloc(n + 1, sizeof *v);
    if (!labels || !v) {
        free(labels);
        free(v);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        labels[i] = d->rank[i].name;
        v[i] = d->rank[i].importance;
    }
    char title[160];
    if (!strcmp(d->rank_method, "gain"))
        snprintf(title, sizeof title, "Ranking: share of the split gain%s", d->nrank > n ? " (top 40)" : "");
    else
        snprintf(title, sizeof title, "Ranking: %s when permuted (%s set%s)",
                 !strcmp(d->rank_metric, "mse") ? "MSE rise" : "AUC drop", r->fin_name, d->nrank > n ? ", top 40" : "");
    svgplot_opts o = {.title = title, .xlabel = !strcmp(d->rank_method, "gain") ? "gain share" : "importance"};
    char *svg = NULL;
    size_t len = 0;
    int rc = add_plot(r, "ranking.svg", title, svg, len, svgplot_bars(&o, labels, v, n, &svg, &len, e), e);
    free(labels);
    free(v);
    return rc;
}

static int correlations(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    if (!d->ncorr || !d->ncorr_sets)
        return 0;
    json_t *cj = json_object(), *names = json_array(), *sets = json_array();
    for (size_t i = 0; i < d->ncorr; i++)
        json_array_append_new(names, json_string(d->corr_names[i]));
    json_object_set_new(cj, "features", names);
    json_object_set_new(cj, "rows", json_integer((json_int_t)d->corr_rows));
    json_object_set_new(cj, "note", json_string("weighted Pearson correlations of the normalised inputs, jagged "
                                                  "branches by their first element, padding left out"));
    int rc = 0;
    for (size_t s = 0; s < d->ncorr_sets && !rc; s++) {
        const double *m = d->corr + s * d->ncorr * d->ncorr;
        json_t *o = json_object(), *mj = json_array();
        for (size_t i = 0; i < d->ncorr; i++) {
            json_t *row = json_array();
            for (size_t j = 0; j < d->ncorr; j++)
                json_array_append_new(row, num(m[i * d->ncorr + j]));
            json_array_append_new(mj, row);
        }
        json_object_set_new(o, "class", json_string(d->corr_set_names[s]));
        json_object_set_new(o, "matrix", mj);
        json_array_append_new(sets, o);
        char title[160], name[200], fname[160];
        snprintf(title, sizeof title, "Input correlations: %.60s", d->corr_set_names[s]);
        feathist_file_name(d->corr_set_names[s], fname, sizeof fname);
        snprintf(name, sizeof name, "correlation_%s", fname);
        svgplot_opts o2 = {.title = title};
        char *svg = NULL;
        size_t len = 0;
        rc = add_plot(r, name, title, svg, len,
                      svgplot_matrix(&o2, d->corr_names, d->corr_names, m, d->ncorr, d->ncorr, -1, 1, 1, 1, &svg,
                                     &len, e),
                      e);
    }
    json_object_set_new(cj, "classes", sets);
    json_object_set_new(r->mj, "correlations", cj);
    return rc;
}

/* ---- report.html ------------------------------------------------------------------- */

static void html_esc(wbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': wbuf_printf(b, "&lt;"); break;
        case '>': wbuf_printf(b, "&gt;"); break;
        case '&': wbuf_printf(b, "&amp;"); break;
        case '"': wbuf_printf(b, "&quot;"); break;
        default: wbuf_put(b, s, 1);
        }
    }
}

/* <img> with the SVG as a base64 data URI: each plot stays a separate document (their
 * element ids cannot clash) and the page needs no other file. */
static void html_img(wbuf *b, const char *svg, size_t len, const char *alt, const char *cls)
{
    wbuf_printf(b, "<img class=\"%s\" alt=\"", cls);
    html_esc(b, alt);
    wbuf_printf(b, "\" src=\"data:image/svg+xml;base64,");
    size_t out = 4 * ((len + 2) / 3);
    uint8_t *p = wbuf_reserve(b, out + 1);
    if (p) {
        EVP_EncodeBlock(p, (const unsigned char *)svg, (int)len);
        b->len += out;
    }
    wbuf_printf(b, "\">\n");
}

static void html_num(wbuf *b, const json_t *v)
{
    if (json_is_integer(v))
        wbuf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        wbuf_printf(b, "%.5g", json_real_value(v));
    else if (json_is_string(v))
        html_esc(b, json_string_value(v));
    else if (json_is_boolean(v))
        wbuf_printf(b, "%s", json_is_true(v) ? "yes" : "no");
    else
        wbuf_printf(b, "&ndash;");
}

/* A row per scalar member of o; objects/arrays are left to their own tables. */
static void html_kv(wbuf *b, const json_t *o, const char *const *keys)
{
    for (const char *const *k = keys; *k; k++) {
        const json_t *v = json_object_get(o, *k);
        if (!v)
            continue;
        wbuf_printf(b, "<tr><th>%s</th><td>", *k);
        html_num(b, v);
        wbuf_printf(b, "</td></tr>\n");
    }
}

static const plot *find_plot(const rep *r, const char *name)
{
    for (int i = 0; i < r->nplots; i++)
        if (!strcmp(r->plots[i].name, name))
            return &r->plots[i];
    return NULL;
}

static void html_plot(wbuf *b, const rep *r, const char *name)
{
    const plot *p = find_plot(r, name);
    if (!p)
        return;
    wbuf_printf(b, "<figure>");
    html_img(b, p->svg, p->len, p->caption, "plot");
    wbuf_printf(b, "<figcaption>");
    html_esc(b, p->caption);
    wbuf_printf(b, " <a href=\"%s\">%s</a></figcaption></figure>\n", p->name, p->name);
}

static void html_plots_prefix(wbuf *b, const rep *r, const char *prefix)
{
    for (int i = 0; i < r->nplots; i++)
        if (!strncmp(r->plots[i].name, prefix, strlen(prefix)))
            html_plot(b, r, r->plots[i].name);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && n < (1 << 24) && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            *len = fread(buf, 1, (size_t)n, f);
            buf[*len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

static const char *const FIG_KEYS[] = {"rows", "sum_weights", "loss", "accuracy", "auc", "mse", "rmse", "mae",
                                       "residual_mean", "residual_std", NULL};

static int write_html(rep *r, mlhep_err *e)
{
    const report_data *d = r->d;
    const workflow *wf = d->wf;
    wbuf b = {0};
    wbuf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>mlhep report: ");
    html_esc(&b, wf->name);
    wbuf_printf(&b, "</title>\n<style>\n"
                    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1500px}\n"
                    "h1{font-size:24px}h2{font-size:19px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}\n"
                    "table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 9px;"
                    "text-align:left;font-size:13px}th{background:#f3f3f3}td.n{text-align:right}\n"
                    "figure{display:inline-block;margin:6px;vertical-align:top}img.plot{width:520px;border:1px solid #ddd}"
                    "img.hist{width:330px;border:1px solid #eee}figcaption{font-size:12px;color:#555;max-width:520px}\n"
                    ".warn{background:#fff4d6;border:1px solid #e0b84c;padding:6px 10px;margin:6px 0}\n"
                    ".grid{display:flex;flex-wrap:wrap}\n</style></head>\n<body>\n");
    wbuf_printf(&b, "<h1>Training report: ");
    html_esc(&b, wf->name);
    wbuf_printf(&b, "</h1>\n<table>\n");
    wbuf_printf(&b, "<tr><th>model</th><td>%s (%s)</td></tr>\n", d->model_kind, wf_task_name(r->task));
    wbuf_printf(&b, "<tr><th>procedure</th><td>%s, %d %s%s</td></tr>\n", wf_training_name(wf->params.training),
                d->nep, d->epoch_unit, d->nep == 1 ? "" : "s");
    wbuf_printf(&b, "<tr><th>input files</th><td>%zu, tree ", wf->nfiles);
    html_esc(&b, wf->tree);
    wbuf_printf(&b, "</td></tr>\n<tr><th>features</th><td>%zu branches, rows of %d values</td></tr>\n",
                d->sp->nfeat, d->sp->width);
    const json_t *sp = json_object_get(r->mj, "splits");
    wbuf_printf(&b, "<tr><th>rows</th><td>training %lld, validation %lld, test %lld</td></tr>\n",
                (long long)json_integer_value(json_object_get(json_object_get(sp, "train"), "rows")),
                (long long)json_integer_value(json_object_get(json_object_get(sp, "validation"), "rows")),
                (long long)json_integer_value(json_object_get(json_object_get(sp, "test"), "rows")));
    wbuf_printf(&b, "<tr><th>event weights</th><td>");
    if (wf->params.weight) {
        html_esc(&b, wf->params.weight);
        wbuf_printf(&b, " &times; file scale");
    } else {
        wbuf_printf(&b, "file scale only%s", d->weighted ? "" : " (all 1)");
    }
    wbuf_printf(&b, "; negative weights: %s; balance classes: %s</td></tr>\n",
                dp_negw_name(wf->params.negative_weights), wf->params.balance_classes ? "yes" : "no");
    wbuf_printf(&b, "</table>\n");
    size_t nw = json_array_size(d->warnings);
    for (size_t i = 0; i < nw; i++) {
        wbuf_printf(&b, "<div class=\"warn\">");
        html_esc(&b, json_string_value(json_array_get(d->warnings, i)));
        wbuf_printf(&b, "</div>\n");
    }
    /* metrics */
    wbuf_printf(&b, "<h2>Metrics</h2>\n<table><tr><th></th><th>%s set (final)</th><th>validation set</th></tr>\n",
                r->fin_name);
    const json_t *fin = json_object_get(r->mj, "final"), *val = json_object_get(r->mj, "validation");
    for (const char *const *k = FIG_KEYS; *k; k++) {
        if (!json_object_get(fin, *k))
            continue;
        wbuf_printf(&b, "<tr><th>%s</th><td class=\"n\">", *k);
        html_num(&b, json_object_get(fin, *k));
        wbuf_printf(&b, "</td><td class=\"n\">");
        html_num(&b, json_object_get(val, *k));
        wbuf_printf(&b, "</td></tr>\n");
    }
    wbuf_printf(&b, "</table>\n");
    const json_t *wps = json_object_get(fin, "working_points");
    if (json_array_size(wps)) {
        wbuf_printf(&b, "<table><tr><th>background efficiency</th><th>background rejection</th>"
                        "<th>signal efficiency</th><th>score threshold</th></tr>\n");
        size_t i;
        const json_t *wp;
        json_array_foreach(wps, i, wp) {
            wbuf_printf(&b, "<tr><td class=\"n\">");
            html_num(&b, json_object_get(wp, "background_efficiency"));
            wbuf_printf(&b, "</td><td class=\"n\">");
            html_num(&b, json_object_get(wp, "background_rejection"));
            wbuf_printf(&b, "</td><td class=\"n\">");
            html_num(&b, json_object_get(wp, "signal_efficiency"));
            wbuf_printf(&b, "</td><td class=\"n\">");
            html_num(&b, json_object_get(wp, "threshold"));
            wbuf_printf(&b, "</td></tr>\n");
        }
        wbuf_printf(&b, "</table>\n");
    }
    const json_t *pc = json_object_get(fin, "per_class");
    if (json_array_size(pc)) {
        wbuf_printf(&b, "<table><tr><th>class</th><th>one-vs-rest AUC</th></tr>\n");
        size_t i;
        const json_t *c;
        json_array_foreach(pc, i, c) {
            wbuf_printf(&b, "<tr><td>");
            html_esc(&b, json_string_value(json_object_get(c, "class")));
            wbuf_printf(&b, "</td><td class=\"n\">");
            html_num(&b, json_object_get(c, "auc"));
            wbuf_printf(&b, "</td></tr>\n");
        }
        wbuf_printf(&b, "</table>\n");
    }
    wbuf_printf(&b, "<div class=\"grid\">\n");
    html_plot(&b, r, "roc.svg");
    html_plot(&b, r, "rejection.svg");
    html_plot(&b, r, "scores.svg");
    html_plots_prefix(&b, r, "scores_");
    html_plot(&b, r, "confusion.svg");
    html_plot(&b, r, "resolution.svg");
    html_plot(&b, r, "pred_vs_true.svg");
    wbuf_printf(&b, "</div>\n");
    /* overtraining */
    const json_t *ot = json_object_get(r->mj, "overtraining");
    wbuf_printf(&b, "<h2>Overtraining check</h2>\n<p>Score distributions of a sample of the training rows "
                    "(%lld rows) and of the %s set (%lld rows), per class, with the Kolmogorov-Smirnov test.</p>\n",
                (long long)json_integer_value(json_object_get(ot, "train_rows")), r->fin_name,
                (long long)json_integer_value(json_object_get(ot, "test_rows")));
    wbuf_printf(&b, "<table><tr><th>class</th><th>KS statistic</th><th>KS p-value</th></tr>\n");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(ot, "classes"), i, c) {
        wbuf_printf(&b, "<tr><td>");
        html_esc(&b, json_string_value(json_object_get(c, "class")));
        wbuf_printf(&b, "</td><td class=\"n\">");
        html_num(&b, json_object_get(c, "ks_statistic"));
        wbuf_printf(&b, "</td><td class=\"n\">");
        html_num(&b, json_object_get(c, "ks_pvalue"));
        wbuf_printf(&b, "</td></tr>\n");
    }
    static const char *const OT_KEYS[] = {"train_auc", "test_auc", NULL};
    html_kv(&b, ot, OT_KEYS);
    wbuf_printf(&b, "</table>\n<div class=\"grid\">\n");
    html_plots_prefix(&b, r, "overtraining");
    wbuf_printf(&b, "</div>\n");
    /* training */
    wbuf_printf(&b, "<h2>Training</h2>\n<table><tr><th>%s</th><th>loss</th><th>accuracy</th><th>AUC</th>"
                    "<th>val_loss</th><th>val_accuracy</th><th>val_AUC</th><th>seconds</th></tr>\n",
                d->epoch_unit);
    int step = d->nep > 60 ? (d->nep + 59) / 60 : 1;
    for (int k = 0; k < d->nep; k++) {
        if (k % step && k != d->nep - 1)
            continue;
        const report_epoch *p = &d->ep[k];
        double v[7] = {p->loss, p->acc, p->auc, p->val_loss, p->val_acc, p->val_auc, p->seconds};
        wbuf_printf(&b, "<tr><td class=\"n\">%d</td>", k + 1);
        for (int j = 0; j < 7; j++)
            wbuf_printf(&b, isfinite(v[j]) ? "<td class=\"n\">%.4f</td>" : "<td class=\"n\">&ndash;</td>", v[j]);
        wbuf_printf(&b, "</tr>\n");
    }
    wbuf_printf(&b, "</table>\n<div class=\"grid\">\n");
    html_plot(&b, r, "loss.svg");
    html_plot(&b, r, "auc.svg");
    wbuf_printf(&b, "</div>\n");
    /* ranking */
    const json_t *rk = json_object_get(r->mj, "ranking");
    if (rk) {
        wbuf_printf(&b, "<h2>Feature ranking</h2>\n<p>");
        if (!strcmp(d->rank_method, "gain"))
            wbuf_printf(&b, "Share of the total split gain of the trees (gain and cover are totals over the "
                            "splits on the feature, as XGBoost's total_gain and total_cover).");
        else
            wbuf_printf(&b, "Permutation importance on %zu rows of the %s set: how much the %s changes when the "
                            "feature's values are shuffled between rows (unpermuted: %.4f).",
                        d->rank_rows, r->fin_name, d->rank_metric, d->rank_base);
        wbuf_printf(&b, "</p>\n<div class=\"grid\"><div><table><tr><th>#</th><th>feature</th><th>importance</th>%s</tr>\n",
                    !strcmp(d->rank_method, "gain") ? "<th>gain</th><th>cover</th><th>splits</th>" : "<th>permuted</th>");
        for (size_t k = 0; k < d->nrank; k++) {
            const report_rank *q = &d->rank[k];
            wbuf_printf(&b, "<tr><td class=\"n\">%zu</td><td>", k + 1);
            html_esc(&b, q->name);
            wbuf_printf(&b, "</td><td class=\"n\">%.5g</td>", q->importance);
            if (!strcmp(d->rank_method, "gain"))
                wbuf_printf(&b, "<td class=\"n\">%.5g</td><td class=\"n\">%.5g</td><td class=\"n\">%.0f</td>", q->gain,
                            q->cover, q->splits);
            else
                wbuf_printf(&b, "<td class=\"n\">%.5g</td>", q->score);
            wbuf_printf(&b, "</tr>\n");
        }
        wbuf_printf(&b, "</table></div>\n");
        html_plot(&b, r, "ranking.svg");
        wbuf_printf(&b, "</div>\n");
    }
    if (d->ncorr) {
        wbuf_printf(&b, "<h2>Input correlations</h2>\n<p>Weighted linear correlation coefficients of the inputs "
                        "(%zu rows of the %s set; jagged branches by their first element).</p>\n<div class=\"grid\">\n",
                    d->corr_rows, r->fin_name);
        html_plots_prefix(&b, r, "correlation_");
        wbuf_printf(&b, "</div>\n");
    }
    /* inputs */
    wbuf_printf(&b, "<h2>Inputs</h2>\n<table><tr><th>feature</th><th>kind</th><th>slots</th><th>min</th>"
                    "<th>max</th><th>mean</th><th>std</th></tr>\n");
    for (size_t k = 0; k < d->sp->nfeat; k++) {
        const specs_feature *f = &d->sp->feat[k];
        wbuf_printf(&b, "<tr><td>");
        html_esc(&b, f->name);
        wbuf_printf(&b, "</td><td>%s%s</td><td class=\"n\">%d</td><td class=\"n\">%.5g</td><td class=\"n\">%.5g</td>"
                        "<td class=\"n\">%.5g</td><td class=\"n\">%.5g</td></tr>\n",
                    f->jagged ? "jagged" : "flat", f->is_new ? ", new" : "", f->len, f->min, f->max, f->mean, f->std);
    }
    wbuf_printf(&b, "</table>\n");
    if (d->hist_dir) {
        wbuf_printf(&b, "<p>Input distributions per class (event weights applied; every file also in ");
        html_esc(&b, d->hist_dir);
        wbuf_printf(&b, "/):</p>\n<div class=\"grid\">\n");
        for (size_t k = 0; k < d->sp->nfeat && k < FEATHIST_MAX_FEATURES; k++) {
            char fname[300], path[4700];
            feathist_file_name(d->sp->feat[k].name, fname, sizeof fname);
            snprintf(path, sizeof path, "%s/%s/%s", r->dir, d->hist_dir, fname);
            size_t len = 0;
            char *svg = read_file(path, &len);
            if (!svg)
                continue;
            html_img(&b, svg, len, d->sp->feat[k].name, "hist");
            free(svg);
        }
        wbuf_printf(&b, "</div>\n");
    }
    /* timing */
    const json_t *tm = json_object_get(r->mj, "timing");
    if (tm) {
        wbuf_printf(&b, "<h2>Timing</h2>\n<table>\n");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)tm, k, v) {
            wbuf_printf(&b, "<tr><th>");
            html_esc(&b, k);
            wbuf_printf(&b, "</th><td class=\"n\">");
            html_num(&b, v);
            wbuf_printf(&b, "</td></tr>\n");
        }
        wbuf_printf(&b, "</table>\n");
    }
    wbuf_printf(&b, "<p style=\"color:#777;font-size:12px\">metrics.json has every number of this page.</p>\n"
                    "</body></html>\n");
    int rc = 0;
    if (!wbuf_ok(&b)) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory writing report.html");
    } else {
        char path[4300];
        snprintf(path, sizeof path, "%s/report.html", r->dir);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.p, 1, b.len, f) != b.len)
            rc = err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(errno));
        if (f && fclose(f) != 0 && !rc)
            rc = err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    wbuf_free(&b);
    return rc;
}

/* ---- scored rows ------------------------------------------------------------------- */

/* NAME.npy: float32 rows (label, event weight, the model's scores...) of a scored set,
 * for checks and plots of one's own (numpy.load). */
static int write_scores(const rep *r, const char *name, const evalset *s, mlhep_err *e)
{
    size_t cols = 2 + r->d->nout;
    float *a = malloc((s->n * cols + 1) * sizeof *a);
    if (!a)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        a[i * cols] = s->y[i];
        a[i * cols + 1] = s->w[i];
        memcpy(a + i * cols + 2, s->score + i * r->d->nout, r->d->nout * sizeof *a);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    int rc = npy_write(path, "<f4", a, sizeof *a, s->n, cols, 2, e);
    free(a);
    return rc;
}

/* ---- entry point ------------------------------------------------------------------- */

static double report_now(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int report_write(const report_data *d, const char *dir, mlhep_err *e)
{
    double t0 = report_now(CLOCK_MONOTONIC), c0 = report_now(CLOCK_PROCESS_CPUTIME_ID);
    rep r = {.d = d, .dir = dir, .task = d->wf->task};
    r.fin = d->test && d->test->n ? d->test : d->val;
    r.fin_name = d->test && d->test->n ? "test" : "validation";
    r.mj = json_object();
    json_object_set_new(r.mj, "format", json_string("mlhep-metrics"));
    json_object_set_new(r.mj, "version", json_integer(2));
    json_object_set_new(r.mj, "model", json_string(d->model_kind));
    json_object_set_new(r.mj, "procedure", json_string(wf_training_name(d->wf->params.training)));
    json_object_set_new(r.mj, "task", json_string(wf_task_name(r.task)));
    if (r.task != WF_TASK_REGRESSION) {
        json_t *cn = json_array();
        for (size_t c = 0; c < d->nclass; c++)
            json_array_append_new(cn, json_string(d->class_names[c]));
        json_object_set_new(r.mj, "classes", cn);
    }
    epochs_json(&r);
    splits_json(&r);
    int rc = epoch_plots(&r, e);
    json_t *fin = json_object(), *val = json_object();
    json_object_set_new(r.mj, "final", fin);
    json_object_set_new(r.mj, "validation", val);
    json_object_set_new(fin, "set", json_string(r.fin_name));
    json_object_set_new(val, "set", json_string("validation"));
    metrics_roc roc = {0};
    if (!rc)
        rc = set_figures(&r, r.fin, fin, &roc, e);
    if (!rc)
        json_object_set_new(fin, "validation_rows", json_integer((json_int_t)d->val->n)); /* older readers */
    if (!rc)
        rc = set_figures(&r, d->val, val, NULL, e);
    if (!rc && r.fin->n) {
        if (r.task == WF_TASK_BINARY)
            rc = binary_plots(&r, &roc, e);
        else if (r.task == WF_TASK_MULTICLASS)
            rc = multiclass_plots(&r, e);
        else
            rc = regression_plots(&r, e);
        if (!rc && r.task != WF_TASK_REGRESSION)
            rc = confusion_plot(&r, e);
    }
    metrics_roc_free(&roc);
    if (!rc)
        rc = overtraining(&r, e);
    if (!rc)
        rc = ranking(&r, e);
    if (!rc)
        rc = correlations(&r, e);
    if (!rc && d->warnings)
        json_object_set(r.mj, "warnings", d->warnings);
    if (!rc && d->timing)
        json_object_set(r.mj, "timing", d->timing);
    if (!rc && d->test && d->test->n)
        rc = write_scores(&r, "scores_test.npy", d->test, e);
    if (!rc)
        rc = write_scores(&r, "scores_validation.npy", d->val, e);
    if (!rc)
        rc = write_scores(&r, "scores_train_sample.npy", d->trsub, e);
    if (!rc)
        rc = write_html(&r, e);
    /* metrics.json last: its timing includes writing everything else */
    if (!rc && d->timing) {
        json_t *tm = json_deep_copy(d->timing);
        json_object_set_new(tm, "report_s", json_real(report_now(CLOCK_MONOTONIC) - t0));
        json_object_set_new(tm, "cpu_report_s", json_real(report_now(CLOCK_PROCESS_CPUTIME_ID) - c0));
        json_object_set_new(r.mj, "timing", tm);
    }
    if (!rc) {
        char path[4200], tmp[4300];
        snprintf(path, sizeof path, "%s/metrics.json", dir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (json_dump_file(r.mj, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) != 0 || rename(tmp, path) != 0)
            rc = err_set(e, MLHEP_EIO, "cannot write %s", path);
    }
    for (int i = 0; i < r.nplots; i++)
        free(r.plots[i].svg);
    json_decref(r.mj);
    return rc;
}

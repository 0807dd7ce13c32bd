/* train.c - the training driver (see train.h): specs -> chunks -> model -> reports. */
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "data/dataset.h"
#include "data/featmap.h"
#include "base/team.h"
#include "data/feathist.h"
#include "model/gbdt.h"
#include "model/metrics.h"
#include "model/mlp.h"
#include "model/modelfile.h"
#include "model/onnx.h"
#include "data/specs.h"
#include "base/svgplot.h"
#include "base/version.h"
#include "base/wbuf.h"

#define ROC_POINTS 200

/* Growable arrays of (score, label) for exact AUCs over a whole epoch. */
typedef struct scores {
    float *s, *y;
    size_t n, cap;
} scores;

static int scores_add(scores *a, const float *s, const float *y, size_t n)
{
    if (a->n + n > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->n + n)
            cap *= 2;
        float *ns = realloc(a->s, cap * sizeof *ns);
        if (ns) a->s = ns;
        float *ny = realloc(a->y, cap * sizeof *ny);
        if (ny) a->y = ny;
        if (!ns || !ny)
            return -1;
        a->cap = cap;
    }
    memcpy(a->s + a->n, s, n * sizeof *s);
    memcpy(a->y + a->n, y, n * sizeof *y);
    a->n += n;
    return 0;
}

static void scores_free(scores *a)
{
    free(a->s);
    free(a->y);
    memset(a, 0, sizeof *a);
}

/* One epoch's figures. */
typedef struct epoch_rec {
    int chunk;                 /* -1 for the standard procedure */
    double loss, acc, auc;
    double val_loss, val_acc, val_auc;
    double seconds;
} epoch_rec;

typedef struct run {
    const workflow *wf;
    const train_opts *o;
    specs *sp;
    preproc *pp;
    dataset *ds;
    double t0;
    int binary;                /* labels 0/1 and one output: AUC and ROC make sense */
    epoch_rec *ep;
    int nep, capep;
    int stopped;
    /* per-feature histograms per class when params.hist (first pass over the data) */
    feathist *fh;
    /* buffers */
    float *tx, *ty, *vx, *vy, *pred;
    size_t bufrows;
} run;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int report(run *r, const char *phase, double frac, int64_t events, int epoch, int epochs, double loss,
                  double vloss, double vauc, const char *msg)
{
    if (!r->o->progress)
        return 0;
    train_progress p = {phase, frac, events, epoch, epochs, loss, vloss, vauc, msg};
    if (r->o->progress(r->o->ctx, &p)) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

static void specs_progress(void *ctx, size_t file, size_t nfiles, int64_t done, int64_t total)
{
    run *r = ctx;
    double f = nfiles ? ((double)file + (total ? (double)done / (double)total : 1)) / (double)nfiles : 1;
    char msg[128];
    snprintf(msg, sizeof msg, "specs: file %zu/%zu, %lld/%lld entries", file + 1, nfiles, (long long)done,
             (long long)total);
    report(r, "specs", 0.1 * f, done, 0, 0, NAN, NAN, NAN, msg);
}

static int add_epoch(run *r, const epoch_rec *x)
{
    if (r->nep == r->capep) {
        int cap = r->capep ? r->capep * 2 : 16;
        epoch_rec *v = realloc(r->ep, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        r->ep = v;
        r->capep = cap;
    }
    r->ep[r->nep++] = *x;
    return 0;
}

/* Splits a chunk into contiguous training and validation rows. */
static int split_chunk(run *r, const ds_chunk *c, size_t *ntr, size_t *nva, mlhep_err *e)
{
    size_t w = (size_t)c->width;
    if (c->nrows > r->bufrows) {
        size_t n = c->nrows;
        float *a = realloc(r->tx, n * w * sizeof *a);
        if (a) r->tx = a;
        float *b = realloc(r->ty, n * sizeof *b);
        if (b) r->ty = b;
        float *d = realloc(r->vx, n * w * sizeof *d);
        if (d) r->vx = d;
        float *f = realloc(r->vy, n * sizeof *f);
        if (f) r->vy = f;
        float *g = realloc(r->pred, n * 16 * sizeof *g);
        if (g) r->pred = g;
        if (!a || !b || !d || !f || !g)
            return err_set(e, MLHEP_ENOMEM, "out of memory for a chunk of %zu rows", n);
        r->bufrows = n;
    }
    size_t t = 0, v = 0;
    for (size_t i = 0; i < c->nrows; i++) {
        if (c->split[i]) {
            memcpy(r->vx + v * w, c->x + i * w, w * sizeof(float));
            r->vy[v++] = c->y[i];
        } else {
            memcpy(r->tx + t * w, c->x + i * w, w * sizeof(float));
            r->ty[t++] = c->y[i];
        }
    }
    *ntr = t;
    *nva = v;
    return 0;
}

/* Loss, accuracy, AUC of probabilities p against labels y. */
static void eval_binary(const float *y, const float *p, size_t n, double *loss, double *acc, double *auc)
{
    *loss = n ? metrics_logloss(y, p, NULL, n) : NAN;
    *acc = n ? metrics_accuracy(y, p, NULL, n, 0.5) : NAN;
    mlhep_err ignore;
    if (!n || metrics_roc_auc(y, p, NULL, n, auc, &ignore) != 0)
        *auc = NAN;
}

/* ---------------------------------------------------------------- MLP */

static int mlp_epoch_pass(run *r, mlp *m, int epoch, int epochs, scores *tr, scores *va, double *loss_sum,
                          size_t *loss_n, int fit_times, int chunk_index, mlhep_err *e)
{
    ds_chunk c;
    int got;
    int64_t rows = 0;
    size_t bs = (size_t)r->wf->params.batch_size;
    int chunkno = 0;
    (void)chunk_index;
    while ((got = dataset_next(r->ds, &c, e)) == 1) {
        if (epoch == 1 && r->fh)
            feathist_fill(r->fh, &c);
        size_t nt, nv;
        if (split_chunk(r, &c, &nt, &nv, e))
            return e->code;
        size_t w = (size_t)c.width;
        for (int rep = 0; rep < fit_times; rep++) {
            for (size_t b = 0; b < nt; b += bs) {
                size_t n = nt - b < bs ? nt - b : bs;
                double l;
                int rc = mlp_train_batch(m, r->tx + b * w, r->ty + b, NULL, n, &l, e);
                if (rc)
                    return err_prefix(e, "training");
                *loss_sum += l * (double)n;
                *loss_n += n;
            }
        }
        /* training-row metrics from the model after this chunk, validation rows too */
        if (nt) {
            if (mlp_predict(m, r->tx, nt, r->pred, e))
                return e->code;
            if (r->binary && scores_add(tr, r->pred, r->ty, nt))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        if (nv) {
            if (mlp_predict(m, r->vx, nv, r->pred, e))
                return e->code;
            if (r->binary && scores_add(va, r->pred, r->vy, nv))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        rows += (int64_t)c.nrows;
        chunkno++;
        double tot = (double)(r->sp->total_events > 0 ? r->sp->total_events : 1);
        double frac = 0.1 + 0.85 * (((double)epoch - 1) + fmin(1.0, (double)rows / tot)) / (double)epochs;
        char msg[160];
        snprintf(msg, sizeof msg, "epoch %d/%d: %lld rows, loss %.4f", epoch, epochs, (long long)rows,
                 *loss_n ? *loss_sum / (double)*loss_n : NAN);
        if (report(r, "training", frac, rows, epoch, epochs, *loss_n ? *loss_sum / (double)*loss_n : NAN, NAN, NAN,
                   msg))
            return TRAIN_STOPPED;
    }
    return got < 0 ? got : 0;
}

static int train_mlp(run *r, mlp **out_model, mlhep_err *e)
{
    const workflow *wf = r->wf;
    char *spec = json_dumps(wf->model, JSON_COMPACT);
    if (!spec)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    mlp *m;
    int rc = mlp_build(spec, (size_t)r->sp->width, &m, e);
    free(spec);
    if (rc)
        return err_prefix(e, "model");
    r->binary = mlp_get_loss(m) == MLP_LOSS_BCE && mlp_n_outputs(m) == 1;
    int epochs = wf->params.epochs;
    int patience = 0;
    json_t *es = json_object_get(wf->model, "early_stopping");
    if (json_is_object(es))
        patience = (int)json_integer_value(json_object_get(es, "patience"));
    else if (json_is_integer(es))
        patience = (int)json_integer_value(es);
    size_t np = mlp_n_params(m);
    float *best = malloc(np * sizeof *best);
    if (!best) {
        mlp_free(m);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    double best_val = INFINITY;
    int since_best = 0, have_best = 0;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.mlhep", r->o->outdir);
    int standard = wf->params.training == WF_TRAIN_STANDARD;
    int passes = standard ? epochs : 1;
    for (int ep = 1; ep <= passes && !rc; ep++) {
        double t0 = now();
        if (ep > 1 && (rc = dataset_rewind(r->ds, e)))
            break;
        scores tr = {0}, va = {0};
        double ls = 0;
        size_t ln = 0;
        rc = mlp_epoch_pass(r, m, ep, passes, &tr, &va, &ls, &ln, standard ? 1 : epochs, -1, e);
        if (!rc) {
            epoch_rec x = {.chunk = -1, .seconds = now() - t0};
            double dummy;
            if (r->binary) {
                eval_binary(tr.y, tr.s, tr.n, &dummy, &x.acc, &x.auc);
                eval_binary(va.y, va.s, va.n, &x.val_loss, &x.val_acc, &x.val_auc);
            } else {
                x.acc = x.auc = x.val_loss = x.val_acc = x.val_auc = NAN;
            }
            x.loss = ln ? ls / (double)ln : NAN;
            if (add_epoch(r, &x))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            char msg[200];
            snprintf(msg, sizeof msg, "epoch %d/%d: loss %.4f val_loss %.4f val_auc %.4f (%.1f s)", ep, passes,
                     x.loss, x.val_loss, x.val_auc, x.seconds);
            if (!rc && report(r, "training", 0.1 + 0.85 * ep / passes, 0, ep, passes, x.loss, x.val_loss, x.val_auc,
                              msg))
                rc = TRAIN_STOPPED;
            /* checkpoint every epoch; keep the best for early stopping */
            if (!rc && mlp_save_file(m, "{}", ckpt, e) != 0)
                rc = e->code;
            double crit = isfinite(x.val_loss) ? x.val_loss : x.loss;
            if (!rc && crit < best_val) {
                best_val = crit;
                memcpy(best, mlp_params(m), np * sizeof *best);
                have_best = 1;
                since_best = 0;
            } else if (!rc && patience > 0 && ++since_best >= patience) {
                char m2[128];
                snprintf(m2, sizeof m2, "early stopping after epoch %d (best validation loss %.4f)", ep, best_val);
                report(r, "training", 0.1 + 0.85 * ep / passes, 0, ep, passes, x.loss, x.val_loss, x.val_auc, m2);
                scores_free(&tr);
                scores_free(&va);
                break;
            }
        }
        scores_free(&tr);
        scores_free(&va);
    }
    if (!rc && patience > 0 && have_best)
        memcpy(mlp_params(m), best, np * sizeof *best);
    free(best);
    remove(ckpt);
    if (rc) {
        mlp_free(m);
        return rc;
    }
    *out_model = m;
    return 0;
}

/* ---------------------------------------------------------------- GBDT */

static int gbdt_progress(void *ctx, int round, double tl, double vl)
{
    run *r = ctx;
    char msg[160];
    snprintf(msg, sizeof msg, "tree %d: train loss %.4f, validation loss %.4f", round, tl, vl);
    return report(r, "training", 0.5, 0, round, 0, tl, vl, NAN, msg);
}

static int train_gbdt(run *r, gbdt_model **out, gbdt_history *hist, mlhep_err *e)
{
    const json_t *ms = r->wf->model;
    gbdt_params p;
    gbdt_params_default(&p);
    json_t *v;
    if ((v = json_object_get(ms, "trees"))) p.n_trees = (int)json_integer_value(v);
    if ((v = json_object_get(ms, "depth"))) p.max_depth = (int)json_integer_value(v);
    if ((v = json_object_get(ms, "learning_rate"))) p.learning_rate = (float)json_number_value(v);
    if ((v = json_object_get(ms, "min_child_weight"))) p.min_child_weight = (float)json_number_value(v);
    if ((v = json_object_get(ms, "subsample"))) p.subsample = (float)json_number_value(v);
    if ((v = json_object_get(ms, "colsample_bytree"))) p.colsample_bytree = (float)json_number_value(v);
    if ((v = json_object_get(ms, "bins"))) p.max_bins = (int)json_integer_value(v);
    if ((v = json_object_get(ms, "lambda"))) p.lambda = (float)json_number_value(v);
    if ((v = json_object_get(ms, "early_stopping_rounds"))) p.early_stopping_rounds = (int)json_integer_value(v);
    p.seed = r->wf->params.seed;
    p.n_threads = r->o->nthreads > 0 ? r->o->nthreads : team_ncpu();
    p.progress = gbdt_progress;
    p.progress_ctx = r;
    int rc = gbdt_params_check(&p, e);
    if (rc)
        return err_prefix(e, "model");
    r->binary = 1;
    gbdt_dataset *tr = NULL, *va = NULL;
    ds_chunk c;
    int got;
    int64_t rows = 0;
    while (!rc && (got = dataset_next(r->ds, &c, e)) == 1) {
        if (r->fh)
            feathist_fill(r->fh, &c);
        size_t nt, nv;
        if ((rc = split_chunk(r, &c, &nt, &nv, e)))
            break;
        if (!tr) {
            rc = gbdt_dataset_new(&p, r->tx, nt, (size_t)c.width, &tr, e);
            if (!rc)
                rc = gbdt_dataset_new_like(tr, &va, e);
        }
        if (!rc && nt)
            rc = gbdt_dataset_append(tr, r->tx, r->ty, NULL, nt, e);
        if (!rc && nv)
            rc = gbdt_dataset_append(va, r->vx, r->vy, NULL, nv, e);
        rows += (int64_t)c.nrows;
        char msg[128];
        snprintf(msg, sizeof msg, "binning: %lld rows", (long long)rows);
        if (!rc && report(r, "training", 0.1 + 0.2 * (double)rows / (double)(r->sp->total_events + 1), rows, 0, 0,
                          NAN, NAN, NAN, msg))
            rc = TRAIN_STOPPED;
    }
    if (!rc && got < 0)
        rc = got;
    if (!rc && !tr)
        rc = err_set(e, MLHEP_EINVAL, "no training rows (every event was cut or went to validation)");
    if (!rc)
        rc = gbdt_train(&p, tr, gbdt_dataset_rows(va) ? va : NULL, out, hist, e);
    if (r->stopped)
        rc = TRAIN_STOPPED;
    gbdt_dataset_free(tr);
    gbdt_dataset_free(va);
    return rc;
}

/* ---------------------------------------------------------------- reports */

static int write_svg(const char *dir, const char *name, char *svg, size_t len, int rc_in, mlhep_err *e)
{
    if (rc_in) {
        free(svg);
        return rc_in;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = svgplot_write(path, svg, len, e);
    free(svg);
    return rc;
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static int final_reports(run *r, const float *vs, const float *vy, size_t nv, const char *model_kind, mlhep_err *e)
{
    const char *dir = r->o->outdir;
    json_t *mj = json_object();
    json_object_set_new(mj, "format", json_string("mlhep-metrics"));
    json_object_set_new(mj, "model", json_string(model_kind));
    json_object_set_new(mj, "procedure",
                        json_string(wf_training_name(r->wf->params.training)));
    json_t *ea = json_array();
    double *x = calloc((size_t)r->nep + 1, sizeof *x);
    double *l = calloc((size_t)r->nep + 1, sizeof *l), *vl = calloc((size_t)r->nep + 1, sizeof *vl);
    double *a = calloc((size_t)r->nep + 1, sizeof *a), *va = calloc((size_t)r->nep + 1, sizeof *va);
    if (!x || !l || !vl || !a || !va) {
        free(x); free(l); free(vl); free(a); free(va);
        json_decref(mj);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (int i = 0; i < r->nep; i++) {
        const epoch_rec *p = &r->ep[i];
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
        x[i] = i + 1;
        l[i] = p->loss;
        vl[i] = p->val_loss;
        a[i] = p->auc;
        va[i] = p->val_auc;
    }
    json_object_set_new(mj, "epochs", ea);
    int rc = 0;
    char *svg = NULL;
    size_t len = 0;
    if (r->nep > 0) {
        svgplot_series s[2] = {{"training", x, l, (size_t)r->nep}, {"validation", x, vl, (size_t)r->nep}};
        svgplot_opts o = {.title = "Loss per epoch", .xlabel = r->wf->model && !strcmp(model_kind, "gbdt") ? "trees" : "epoch", .ylabel = "loss"};
        rc = write_svg(dir, "loss.svg", svg, len, svgplot_lines(&o, s, 2, &svg, &len, e), e);
        if (!rc && r->binary) {
            svgplot_series s2[2] = {{"training", x, a, (size_t)r->nep}, {"validation", x, va, (size_t)r->nep}};
            svgplot_opts o2 = {.title = "ROC AUC per epoch", .xlabel = "epoch", .ylabel = "AUC"};
            svg = NULL;
            rc = write_svg(dir, "auc.svg", svg, len, svgplot_lines(&o2, s2, 2, &svg, &len, e), e);
        }
    }
    free(x); free(l); free(vl); free(a); free(va);
    /* final validation figures */
    json_t *fin = json_object();
    json_object_set_new(fin, "validation_rows", json_integer((json_int_t)nv));
    if (!rc && r->binary && nv > 0) {
        double loss, acc, auc;
        eval_binary(vy, vs, nv, &loss, &acc, &auc);
        double thr = r->wf->params.metrics_threshold;
        metrics_confusion cm = metrics_confusion_at(vy, vs, NULL, nv, thr);
        json_object_set_new(fin, "loss", num(loss));
        json_object_set_new(fin, "accuracy", num(acc));
        json_object_set_new(fin, "auc", num(auc));
        json_t *c = json_object();
        json_object_set_new(c, "threshold", json_real(thr));
        json_object_set_new(c, "tp", json_real(cm.tp));
        json_object_set_new(c, "fp", json_real(cm.fp));
        json_object_set_new(c, "tn", json_real(cm.tn));
        json_object_set_new(c, "fn", json_real(cm.fn));
        json_object_set_new(fin, "confusion", c);
        metrics_roc roc;
        mlhep_err re;
        if (metrics_roc_curve(vy, vs, NULL, nv, ROC_POINTS, &roc, &re) == 0) {
            json_t *rj = json_object(), *fp = json_array(), *tp = json_array(), *th = json_array();
            for (size_t i = 0; i < roc.n; i++) {
                json_array_append_new(fp, json_real(roc.fpr[i]));
                json_array_append_new(tp, json_real(roc.tpr[i]));
                json_array_append_new(th, num(roc.thr[i]));
            }
            json_object_set_new(rj, "fpr", fp);
            json_object_set_new(rj, "tpr", tp);
            json_object_set_new(rj, "thresholds", th);
            json_object_set_new(fin, "roc", rj);
            svgplot_series cs = {"validation", roc.fpr, roc.tpr, roc.n};
            svgplot_opts o = {.title = "ROC curve (validation)", .xlabel = "background efficiency (false positive rate)",
                              .ylabel = "signal efficiency (true positive rate)"};
            svg = NULL;
            rc = write_svg(dir, "roc.svg", svg, len, svgplot_roc(&o, &cs, &roc.auc, 1, &svg, &len, e), e);
            metrics_roc_free(&roc);
        }
        /* score distributions */
        double edges[51], hs[50] = {0}, hb[50] = {0};
        svgplot_edges_uniform(0, 1, 50, edges);
        for (size_t i = 0; i < nv; i++) {
            int b = (int)(vs[i] * 50);
            if (b < 0) b = 0;
            if (b > 49) b = 49;
            if (vy[i] > 0.5f) hs[b] += 1; else hb[b] += 1;
        }
        svgplot_hist h[2] = {{"signal", hs}, {"background", hb}};
        svgplot_opts o = {.title = "Score distributions (validation)", .xlabel = "model score", .ylabel = "density"};
        svg = NULL;
        if (!rc)
            rc = write_svg(dir, "scores.svg", svg, len, svgplot_hists(&o, edges, 50, h, 2, 1, &svg, &len, e), e);
    }
    json_object_set_new(mj, "final", fin);
    /* per-feature histograms, in the directory params.hist names */
    if (!rc && r->fh) {
        char hd[4400];
        snprintf(hd, sizeof hd, "%s/%s", dir, r->wf->params.hist);
        rc = feathist_write(r->fh, hd, NULL, e);
    }
    if (!rc) {
        char path[4200], tmp[4300];
        snprintf(path, sizeof path, "%s/metrics.json", dir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (json_dump_file(mj, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) != 0 || rename(tmp, path) != 0)
            rc = err_set(e, MLHEP_EIO, "cannot write %s", path);
    }
    json_decref(mj);
    return rc;
}

/* ---------------------------------------------------------------- ONNX */

#define ONNX_INPUT_DOC                                                                                              \
    "float32 [N, width]: RAW branch values, one row per event: the flat features, then each jagged feature's "    \
    "first len values (metadata mlhep.columns names every column; mlhep.features gives each feature's offset, "   \
    "len, sub and scale). A slot a shorter list leaves empty (a missing value) is NaN. The graph normalises "     \
    "((x - sub) * scale, computed in double) and writes the pad value (mlhep.pad) where the input is NaN."

/* model.onnx for raw rows (onnx.h): the features document fj gives the normalisation and
 * padding the graph applies; it, the column layout and mlhep's version are the model's
 * metadata_props. */
static int export_onnx(const workflow *wf, mlp *m, gbdt_model *g, const char *fj, const char *path, mlhep_err *e)
{
    featmap *fm = NULL;
    int rc = featmap_load_text(fj, strlen(fj), &fm, e);
    if (rc)
        return err_prefix(e, "ONNX export");
    size_t w = (size_t)fm->width;
    double *sub = malloc((w ? w : 1) * sizeof *sub), *scale = malloc((w ? w : 1) * sizeof *scale);
    wbuf cols = WBUF_INIT, pad = WBUF_INIT;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!sub || !scale) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto out;
    }
    featmap_column_coeffs(fm, sub, scale);
    wbuf_printf(&cols, "%s", "");
    for (size_t i = 0; i < fm->nfeat; i++) {
        const featmap_feature *f = &fm->feat[i];
        if (!f->jagged)
            wbuf_printf(&cols, "%s%s", cols.len ? "," : "", f->name);
        for (int k = 0; f->jagged && k < f->len; k++)
            wbuf_printf(&cols, "%s%s[%d]", cols.len ? "," : "", f->name, k);
    }
    wbuf_printf(&pad, "%.9g", (double)fm->pad);
    if (!wbuf_ok(&cols) || !wbuf_ok(&pad)) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto out;
    }
    const char *out = "probability of class 1 (signal), [N, 1]";
    if (m && mlp_get_loss(m) == MLP_LOSS_CCE)
        out = "probability of each class, [N, k] (classes in mlhep.features order)";
    else if (m && mlp_get_loss(m) == MLP_LOSS_MSE)
        out = "the regression value, [N, 1]";
    const onnx_meta meta[] = {
        {"mlhep.version", MLHEP_VERSION},
        {"mlhep.kind", m ? "mlp" : "gbdt"},
        {"mlhep.input", ONNX_INPUT_DOC},
        {"mlhep.columns", (const char *)cols.p},
        {"mlhep.pad", (const char *)pad.p},
        {"mlhep.output", out},
        {"mlhep.features", fj},
    };
    onnx_prep prep = {w, sub, scale, fm->pad};
    onnx_opts oo = {wf->name, "mlhep model: raw branch values in (see the metadata: mlhep.input, mlhep.columns)",
                    ONNX_INPUT_DOC, &prep, meta, sizeof meta / sizeof meta[0]};
    rc = m ? onnx_export_mlp(m, &oo, &buf, &len, e) : onnx_export_gbdt(g, &oo, &buf, &len, e);
    if (!rc)
        rc = onnx_write_file(path, buf, len, e);
out:
    free(buf);
    free(sub);
    free(scale);
    wbuf_free(&cols);
    wbuf_free(&pad);
    featmap_free(fm);
    return rc;
}

/* Streams the data again and collects validation predictions of the final model. */
static int final_validation(run *r, mlp *m, gbdt_model *g, scores *va, mlhep_err *e)
{
    int rc = dataset_rewind(r->ds, e);
    ds_chunk c;
    int got;
    while (!rc && (got = dataset_next(r->ds, &c, e)) == 1) {
        size_t nt, nv;
        if ((rc = split_chunk(r, &c, &nt, &nv, e)) || !nv)
            continue;
        if (m)
            rc = mlp_predict(m, r->vx, nv, r->pred, e);
        else
            rc = gbdt_predict(g, r->vx, nv, (size_t)c.width, GBDT_PROBABILITY, r->pred, e);
        if (!rc && scores_add(va, r->pred, r->vy, nv))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (!rc && got < 0)
        rc = got;
    return rc;
}

int train_run(const workflow *wf, const train_opts *o, mlhep_err *e)
{
    run r = {.wf = wf, .o = o, .t0 = now()};
    int rc = 0;
    mlp *m = NULL;
    gbdt_model *g = NULL;
    gbdt_history gh = {0};
    json_t *feat = NULL;
    scores va = {0};
    const char *type = json_string_value(json_object_get(wf->model, "type"));
    int is_gbdt = type && (!strcmp(type, "gbdt") || !strcmp(type, "bdt"));
    if (!wf->model)
        return err_set(e, MLHEP_EINVAL, "workflow has no model");
    const dataparams *dp = &wf->data;
    if ((rc = specs_preproc(dp, &r.pp, e)))
        goto out;
    char fp[65];
    if ((rc = specs_fingerprint(dp, fp, e)))
        goto out;
    if (!(o->specs_cache && specs_load(o->specs_cache, fp, &r.sp, e) == 0)) {
        report(&r, "specs", 0, 0, 0, 0, NAN, NAN, NAN, "specs pass");
        if (o->specs_fn && (rc = o->specs_fn(o->specs_ctx, wf, r.pp, &r.sp, e)))
            goto out;
        if (!r.sp && !r.stopped && (rc = specs_compute(dp, r.pp, specs_progress, &r, &r.sp, e)))
            goto out;
    }
    if (r.stopped) {
        rc = TRAIN_STOPPED;
        goto out;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/specs.json", o->outdir);
    if ((rc = specs_save(r.sp, path, e)))
        goto out;
    if (r.sp->total_events == 0) {
        rc = err_set(e, MLHEP_EINVAL, "no events left after the cuts: nothing to train on");
        goto out;
    }
    if (wf->params.hist && (rc = feathist_new(dp, r.sp, &r.fh, e)))
        goto out;
    if ((rc = dataset_open(dp, r.pp, r.sp, &r.ds, e)))
        goto out;
    if (is_gbdt) {
        rc = train_gbdt(&r, &g, &gh, e);
        for (int i = 0; !rc && i < gh.n_rounds; i++) {
            epoch_rec x = {.chunk = -1, .loss = gh.train_loss[i], .val_loss = gh.valid_loss ? gh.valid_loss[i] : NAN,
                           .acc = NAN, .auc = NAN, .val_acc = NAN, .val_auc = NAN};
            if (add_epoch(&r, &x))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    } else {
        rc = train_mlp(&r, &m, e);
    }
    if (rc)
        goto out;
    report(&r, "export", 0.96, 0, 0, 0, NAN, NAN, NAN, "final validation, reports and model files");
    if ((rc = final_validation(&r, m, g, &va, e)))
        goto out;
    if ((rc = final_reports(&r, va.s, va.y, va.n, is_gbdt ? "gbdt" : "mlp", e)))
        goto out;
    /* the features document (featmap.h): what turns raw branch values into rows */
    if ((rc = featmap_from_specs(r.sp, dp->norm, dp->nan_value, &feat, e)))
        goto out;
    if ((rc = featmap_set_outputs(feat, m ? (int)mlp_n_outputs(m) : 1, (const char *const *)wf->class_names,
                                  wf->class_names ? wf->nclasses : 0, e)))
        goto out;
    char *fj = json_dumps(feat, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!fj) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "%s/model.mlhep", o->outdir);
    if (m) {
        rc = mlp_save_file(m, fj, path, e);
    } else {
        uint8_t *gb = NULL;
        size_t gl = 0;
        modelfile *mf = modelfile_new(MODELFILE_KIND_GBDT);
        rc = mf ? gbdt_serialize(g, &gb, &gl, e) : err_set(e, MLHEP_ENOMEM, "out of memory");
        if (!rc)
            rc = modelfile_add(mf, "gbdt", gb, gl, e);
        if (!rc)
            rc = modelfile_add(mf, "features", fj, strlen(fj), e);
        if (!rc)
            rc = modelfile_write(mf, path, e);
        free(gb);
        modelfile_free(mf);
    }
    if (!rc) {
        char op[4200];
        snprintf(op, sizeof op, "%s/model.onnx", o->outdir);
        rc = export_onnx(wf, m, g, fj, op, e);
    }
    free(fj);
    if (!rc) {
        char msg[200];
        snprintf(msg, sizeof msg, "done in %.1f s", now() - r.t0);
        report(&r, "done", 1.0, 0, 0, 0, NAN, NAN, NAN, msg);
    }
out:
    if (r.stopped && rc >= 0)
        rc = TRAIN_STOPPED;
    scores_free(&va);
    json_decref(feat);
    gbdt_history_free(&gh);
    gbdt_model_free(g);
    mlp_free(m);
    dataset_free(r.ds);
    specs_free(r.sp);
    preproc_free(r.pp);
    free(r.ep);
    feathist_free(r.fh);
    free(r.tx); free(r.ty); free(r.vx); free(r.vy); free(r.pred);
    return rc;
}

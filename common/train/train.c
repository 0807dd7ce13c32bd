/* train.c - the training driver (see train.h): specs -> chunks -> model -> reports.
 *
 * Layout: the run and its bookkeeping; the first pass over the data (statistics per
 * split and class, the rows kept for evaluation, the input histograms); the training
 * weights; the MLP (epochs, end-of-epoch evaluation, early stopping) and the boosted
 * trees; the final scores, the ranking and the correlations; train_run. */
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/progress.h"
#include "base/rng.h"
#include "base/team.h"
#include "data/dataset.h"
#include "data/featmap.h"
#include "data/feathist.h"
#include "data/specs.h"
#include "model/gbdt.h"
#include "model/metrics.h"
#include "model/mlp.h"
#include "model/modelfile.h"
#include "model/onnx.h"
#include "train/checkpoint.h"
#include "train/evalset.h"
#include "train/report.h"
#include "base/version.h"
#include "base/wbuf.h"

#define EVAL_MAX_BYTES ((size_t)256 << 20) /* per set of rows kept for evaluation */
#define PERM_ROW_EVALS ((size_t)1 << 16)   /* permutation importance: rows x features scored */
#define PERM_MIN_ROWS 1000
#define CORR_MAX_FEATURES 30               /* the highest ranked */
#define CORR_MAX_ROWS 20000
#define IMBALANCE_WARN 10.0                /* class weight ratio that earns a warning */

typedef struct run {
    const workflow *wf;
    const train_opts *o;
    specs *sp;
    preproc *pp;
    dataset *ds;
    double t0, c0;
    wf_task task;
    size_t nout, nclass;
    char (*cname)[64];
    const char **class_names;
    report_epoch *ep;
    int nep, capep;
    int stopped;
    feathist *fh;
    /* rows kept for evaluation, and the whole splits scored when those were truncated */
    evalset val, test, trsub;
    evalset fval, ftest, ftrsub;
    int first_pass_done;
    double sub_lo, sub_hi;     /* hash range of the training sample */
    double *stat_rows, *stat_w; /* [split][class] */
    double *factor;            /* per class: training weight factor */
    int weighted;              /* weights other than 1 reach the loss */
    int factors_set;
    float *tx, *ty, *tw, *pred;
    size_t bufrows;
    json_t *warnings;
    double epoch_eval_s;
    double cpu_epoch_val, cpu_epoch_trsub; /* of which CPU: validation, training sample */
    double last_frac;
    float *vx, *vy, *vw;       /* validation rows of a chunk (boosted trees) */
    char fp[65];               /* the inputs' specs fingerprint (checkpoints) */
    progress_files spf;        /* the specs pass's fraction of all entries */
} run;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int report(run *r, const char *phase, double frac, int64_t events, int epoch, int epochs, double loss,
                  double vloss, double vauc, int epoch_end, const char *msg)
{
    if (frac < 0)
        frac = r->last_frac;
    r->last_frac = frac;
    if (!r->o->progress)
        return 0;
    train_progress p = {phase, frac, events, epoch, epochs, loss, vloss, vauc, msg, epoch_end};
    if (r->o->progress(r->o->ctx, &p)) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

static void specs_progress(void *ctx, size_t file, size_t nfiles, int64_t done, int64_t total)
{
    run *r = ctx;
    double f = progress_files_fraction(&r->spf, file, nfiles, done, total);
    char msg[128];
    snprintf(msg, sizeof msg, "specs: file %zu/%zu, %lld/%lld entries", file + 1, nfiles, (long long)done,
             (long long)total);
    report(r, "specs", 0.1 * f, done, 0, 0, NAN, NAN, NAN, 0, msg);
}

static int add_epoch(run *r, const report_epoch *x)
{
    if (r->nep == r->capep) {
        int cap = r->capep ? r->capep * 2 : 16;
        report_epoch *v = realloc(r->ep, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        r->ep = v;
        r->capep = cap;
    }
    r->ep[r->nep++] = *x;
    return 0;
}

static void warn(run *r, const char *msg)
{
    json_array_append_new(r->warnings, json_string(msg));
    report(r, "training", -1, 0, 0, 0, NAN, NAN, NAN, 1, msg);
}

/* The class of a label: signal/background at 0.5, the class index, or 0 (regression);
 * -1 for a label that is no class. */
static int class_of(const run *r, float y)
{
    if (r->task == WF_TASK_REGRESSION)
        return 0;
    if (r->task == WF_TASK_BINARY)
        return y >= 0.5f ? 1 : 0;
    return y >= 0 && y < (float)r->nclass && y == floorf(y) ? (int)y : -1;
}

/* ---------------------------------------------------------------- first pass */

/* Statistics per split and class, the rows kept for evaluation, the histograms. */
static int first_pass(run *r, const ds_chunk *c, mlhep_err *e)
{
    if (r->fh)
        feathist_fill(r->fh, c);
    size_t w = (size_t)c->width;
    uint64_t seed = r->wf->data.seed;
    for (size_t i = 0; i < c->nrows; i++) {
        int k = class_of(r, c->y[i]);
        int s = c->split[i];
        if (k >= 0) {
            r->stat_rows[(size_t)s * r->nclass + (size_t)k] += 1;
            r->stat_w[(size_t)s * r->nclass + (size_t)k] += c->w[i];
        }
        const float *x = c->x + i * w;
        const uint8_t *m = c->mask + i * w;
        int rc = 0;
        if (s == DP_SPLIT_VALIDATION) {
            rc = evalset_add(&r->val, x, m, c->y[i], c->w[i]);
        } else if (s == DP_SPLIT_TEST) {
            rc = evalset_add(&r->test, x, m, c->y[i], c->w[i]);
        } else {
            double u = dataset_split_u(seed, c->file[i], c->entry[i]);
            if (u >= r->sub_lo && u < r->sub_hi)
                rc = evalset_add(&r->trsub, x, m, c->y[i], c->w[i]);
        }
        if (rc)
            return err_set(e, MLHEP_ENOMEM, "out of memory for the evaluation rows");
    }
    return 0;
}

/* After the first pass: a classifier needs two classes in training; imbalance warns. */
static int first_pass_end(run *r, mlhep_err *e)
{
    r->first_pass_done = 1;
    if (r->task == WF_TASK_REGRESSION)
        return 0;
    const double *tw = r->stat_w + DP_SPLIT_TRAIN * r->nclass, *tr = r->stat_rows + DP_SPLIT_TRAIN * r->nclass;
    size_t present = 0;
    double lo = INFINITY, hi = 0;
    for (size_t k = 0; k < r->nclass; k++) {
        if (tr[k] > 0 && tw[k] > 0)
            present++;
        lo = fmin(lo, tw[k]);
        hi = fmax(hi, tw[k]);
    }
    if (present < 2)
        return err_set(e, MLHEP_EINVAL, "the training rows hold %s: a classifier needs two classes or more "
                       "(check the labels%s)",
                       present ? "one class only" : "no class with a positive weight",
                       r->wf->label_branch ? " branch" : "");
    int cw = r->wf->model && json_object_get(r->wf->model, "class_weight") != NULL;
    if (!r->wf->params.balance_classes && !cw && lo > 0 && hi / lo >= IMBALANCE_WARN) {
        char msg[300];
        snprintf(msg, sizeof msg, "warning: the classes are imbalanced %.1f:1 (sum of training weights); "
                 "consider \"balance_classes\": true in params (or the model's class_weight)", hi / lo);
        warn(r, msg);
    }
    return 0;
}

/* ---------------------------------------------------------------- training weights */

/* Training weights are the event weights times a factor per class: one factor for all
 * classes that makes the mean training weight 1 (so learning rates and min_child_weight
 * keep their meaning), or with balance_classes one per class that gives every class the
 * same sum. Exact from the first pass's sums when they are known before training
 * (boosted trees, balance_classes), else from the first chunk's training rows (the MLP
 * trains while it reads them; every chunk mixes all files). */
static void set_factors(run *r, const double *rows, const double *sumw)
{
    double n = 0, s = 0;
    size_t present = 0;
    for (size_t k = 0; k < r->nclass; k++) {
        n += rows[k];
        s += sumw[k];
        present += sumw[k] > 0;
    }
    for (size_t k = 0; k < r->nclass; k++) {
        if (r->wf->params.balance_classes)
            r->factor[k] = sumw[k] > 0 ? n / (double)present / sumw[k] : 1.0;
        else
            r->factor[k] = s > 0 ? n / s : 1.0;
    }
    r->factors_set = 1;
}

static void factors_from_chunk(run *r, const ds_chunk *c)
{
    double *rows = calloc(r->nclass, sizeof *rows), *sw = calloc(r->nclass, sizeof *sw);
    if (!rows || !sw) { /* keep factor 1: training still correct, only unnormalised */
        free(rows);
        free(sw);
        r->factors_set = 1;
        return;
    }
    for (size_t i = 0; i < c->nrows; i++) {
        int k = class_of(r, c->y[i]);
        if (c->split[i] == DP_SPLIT_TRAIN && k >= 0) {
            rows[k] += 1;
            sw[k] += c->w[i];
        }
    }
    set_factors(r, rows, sw);
    free(rows);
    free(sw);
}

/* Training rows of a chunk into tx, ty, tw (event weight x factor); with nva, the
 * validation rows into vx, vy, vw too (event weights). */
static int train_rows(run *r, const ds_chunk *c, size_t *ntr, size_t *nva, mlhep_err *e)
{
    size_t w = (size_t)c->width;
    if (c->nrows > r->bufrows) {
        size_t n = c->nrows;
        float *a = realloc(r->tx, n * w * sizeof *a);
        if (a) r->tx = a;
        float *b = realloc(r->ty, n * sizeof *b);
        if (b) r->ty = b;
        float *d = realloc(r->tw, n * sizeof *d);
        if (d) r->tw = d;
        float *g = realloc(r->pred, n * (r->nout ? r->nout : 1) * sizeof *g);
        if (g) r->pred = g;
        float *vx = nva ? realloc(r->vx, n * w * sizeof *vx) : r->vx;
        if (vx) r->vx = vx;
        float *vy = nva ? realloc(r->vy, n * sizeof *vy) : r->vy;
        if (vy) r->vy = vy;
        float *vw = nva ? realloc(r->vw, n * sizeof *vw) : r->vw;
        if (vw) r->vw = vw;
        if (!a || !b || !d || !g || (nva && (!vx || !vy || !vw)))
            return err_set(e, MLHEP_ENOMEM, "out of memory for a chunk of %zu rows", n);
        r->bufrows = n;
    }
    if (!r->factors_set)
        factors_from_chunk(r, c);
    size_t t = 0, v = 0;
    for (size_t i = 0; i < c->nrows; i++) {
        if (c->split[i] == DP_SPLIT_VALIDATION && nva) {
            memcpy(r->vx + v * w, c->x + i * w, w * sizeof(float));
            r->vy[v] = c->y[i];
            r->vw[v++] = c->w[i];
        }
        if (c->split[i] != DP_SPLIT_TRAIN)
            continue;
        int k = class_of(r, c->y[i]);
        memcpy(r->tx + t * w, c->x + i * w, w * sizeof(float));
        r->ty[t] = c->y[i];
        r->tw[t++] = (float)(c->w[i] * (k >= 0 ? r->factor[k] : 1.0));
    }
    *ntr = t;
    if (nva)
        *nva = v;
    return 0;
}

/* Streams the data once before training (balance_classes with an MLP): the first pass,
 * so the class sums are exact before the first step. */
static int prepass(run *r, mlhep_err *e)
{
    ds_chunk c;
    int got, rc = 0;
    report(r, "training", 0.1, 0, 0, 0, NAN, NAN, NAN, 0, "reading the data once for the class sums (balance_classes)");
    while (!rc && (got = dataset_next(r->ds, &c, e)) == 1)
        rc = first_pass(r, &c, e);
    if (!rc && got < 0)
        rc = got;
    if (!rc)
        rc = first_pass_end(r, e);
    if (!rc)
        set_factors(r, r->stat_rows + DP_SPLIT_TRAIN * r->nclass, r->stat_w + DP_SPLIT_TRAIN * r->nclass);
    if (!rc)
        rc = dataset_rewind(r->ds, e);
    return rc;
}

/* ---------------------------------------------------------------- evaluation helpers */

typedef struct model_ref {
    mlp *m;
    gbdt_model *g;
    size_t width;
} model_ref;

static int predict(void *ctx, const float *x, size_t n, float *out, mlhep_err *e)
{
    model_ref *mr = ctx;
    if (mr->m)
        return mlp_predict(mr->m, x, n, out, e);
    return gbdt_predict(mr->g, x, n, mr->width, GBDT_PROBABILITY, out, e);
}

/* AUC of a scored set: binary, or the mean of the one-vs-rest AUCs; NaN for a
 * regression or when undefined. */
static double set_auc(const run *r, const float *y, const float *s, const float *w, size_t n)
{
    mlhep_err ig;
    double auc = NAN;
    if (!n || r->task == WF_TASK_REGRESSION)
        return NAN;
    if (r->task == WF_TASK_BINARY)
        return metrics_roc_auc(y, s, w, n, &auc, &ig) ? NAN : auc;
    double sum = 0;
    for (size_t k = 0; k < r->nout; k++) {
        if (metrics_ovr_auc(y, s, w, n, r->nout, k, &auc, &ig))
            return NAN;
        sum += auc;
    }
    return sum / (double)r->nout;
}

static double set_acc(const run *r, const evalset *s)
{
    if (!s->n || r->task == WF_TASK_REGRESSION)
        return NAN;
    if (r->task == WF_TASK_BINARY)
        return metrics_accuracy(s->y, s->score, s->w, s->n, r->wf->params.metrics_threshold);
    double a;
    mlhep_err ig;
    return metrics_mc_accuracy(s->y, s->score, s->w, s->n, r->nout, &a, &ig) ? NAN : a;
}

/* The loss with the training weights (comparable with the training loss). */
static double set_loss(const run *r, const evalset *s)
{
    if (!s->n)
        return NAN;
    float *tw = malloc(s->n * sizeof *tw);
    if (!tw)
        return NAN;
    for (size_t i = 0; i < s->n; i++) {
        int k = class_of(r, s->y[i]);
        tw[i] = (float)(s->w[i] * (k >= 0 ? r->factor[k] : 1.0));
    }
    double l = NAN;
    mlhep_err ig;
    if (r->task == WF_TASK_BINARY)
        l = metrics_logloss(s->y, s->score, tw, s->n);
    else if (r->task == WF_TASK_MULTICLASS && metrics_mc_xent(s->y, s->score, tw, s->n, r->nout, &l, &ig))
        l = NAN;
    else if (r->task == WF_TASK_REGRESSION)
        l = metrics_mse(s->y, s->score, tw, s->n);
    free(tw);
    return l;
}

/* ---------------------------------------------------------------- MLP */

static int mlp_epoch_pass(run *r, mlp *m, int epoch, int epochs, double *loss_sum, size_t *loss_n, int fit_times,
                          int64_t *rows_out, mlhep_err *e)
{
    ds_chunk c;
    int got;
    int64_t rows = 0;
    size_t bs = (size_t)r->wf->params.batch_size;
    while ((got = dataset_next(r->ds, &c, e)) == 1) {
        if (!r->first_pass_done && first_pass(r, &c, e))
            return e->code;
        size_t nt;
        if (train_rows(r, &c, &nt, NULL, e))
            return e->code;
        size_t w = (size_t)c.width;
        const float *tw = r->weighted ? r->tw : NULL;
        for (int rep = 0; rep < fit_times; rep++) {
            for (size_t b = 0; b < nt; b += bs) {
                size_t n = nt - b < bs ? nt - b : bs;
                double l;
                int rc = mlp_train_batch(m, r->tx + b * w, r->ty + b, tw ? tw + b : NULL, n, &l, e);
                if (rc)
                    return err_prefix(e, "training");
                *loss_sum += l * (double)n;
                *loss_n += n;
            }
        }
        rows += (int64_t)c.nrows;
        *rows_out = rows;
        double tot = (double)(r->sp->total_events > 0 ? r->sp->total_events : 1);
        double frac = 0.1 + 0.85 * (((double)epoch - 1) + fmin(1.0, (double)rows / tot)) / (double)epochs;
        char msg[160];
        double ml = *loss_n ? *loss_sum / (double)*loss_n : NAN;
        snprintf(msg, sizeof msg, "epoch %d/%d: %lld rows, mean loss so far %.4f", epoch, epochs, (long long)rows, ml);
        if (report(r, "training", frac, rows, epoch, epochs, ml, NAN, NAN, 0, msg))
            return TRAIN_STOPPED;
    }
    return got < 0 ? got : 0;
}

/* A resumed training (checkpoint.h): the first pass again - the statistics, the rows
 * kept for evaluation, the histograms and the training weight factors the epochs in the
 * checkpoint made the first time - streaming every chunk once without training. */
static int replay_first_pass(run *r, mlhep_err *e)
{
    ds_chunk c;
    int got, rc = 0;
    int64_t rows = 0;
    while (!rc && (got = dataset_next(r->ds, &c, e)) == 1) {
        rc = first_pass(r, &c, e);
        if (!rc && !r->factors_set)
            factors_from_chunk(r, &c); /* what train_rows does on the first chunk */
        rows += (int64_t)c.nrows;
        if (!rc && report(r, "training", 0.1, rows, 0, 0, NAN, NAN, NAN, 0,
                          "resuming: reading the data once for the evaluation rows"))
            rc = TRAIN_STOPPED;
    }
    if (!rc && got < 0)
        rc = got;
    if (!rc)
        rc = first_pass_end(r, e);
    if (!rc)
        rc = dataset_rewind(r->ds, e);
    return rc;
}

/* Loads the checkpoint into m and the run's bookkeeping (o->resume). *loaded = 0 when
 * there was none to use (TRAIN_RESUME_IF_ANY: the training starts over). */
static int resume_load(run *r, mlp *m, const char *path, const char *key, ckpt_state *cs, int *loaded,
                       mlhep_err *e)
{
    *loaded = 0;
    int rc = ckpt_load(path, key, r->fp, m, cs, e);
    if (rc && r->o->resume == TRAIN_RESUME_IF_ANY) {
        if (rc != MLHEP_ENOTFOUND) {
            char msg[sizeof e->msg + 32];
            snprintf(msg, sizeof msg, "warning: starting over: %s", e->msg);
            warn(r, msg);
        }
        err_clear(e);
        return 0;
    }
    if (rc)
        return rc;
    for (int i = 0; i < cs->nep; i++)
        if (add_epoch(r, &cs->ep[i]))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
    *loaded = 1;
    char msg[200];
    snprintf(msg, sizeof msg, "resuming from %s: epoch %d/%d done", CKPT_FILE, cs->epoch, cs->epochs);
    report(r, "training", 0.1 + 0.85 * cs->epoch / (cs->epochs ? cs->epochs : 1), 0, cs->epoch, cs->epochs,
           NAN, NAN, NAN, 1, msg);
    return r->first_pass_done ? 0 : replay_first_pass(r, e);
}

/* The end-of-epoch model on the validation rows and the training sample. */
static int epoch_figures(run *r, model_ref *mr, report_epoch *x, mlhep_err *e)
{
    double t = now(), c0 = cpu_now();
    int rc = evalset_score(&r->val, predict, mr, e);
    if (rc)
        return rc;
    x->val_loss = set_loss(r, &r->val);
    x->val_acc = set_acc(r, &r->val);
    x->val_auc = set_auc(r, r->val.y, r->val.score, r->val.w, r->val.n);
    double c1 = cpu_now();
    if ((rc = evalset_score(&r->trsub, predict, mr, e)))
        return rc;
    x->acc = set_acc(r, &r->trsub);
    x->auc = set_auc(r, r->trsub.y, r->trsub.score, r->trsub.w, r->trsub.n);
    r->cpu_epoch_val += c1 - c0;
    r->cpu_epoch_trsub += cpu_now() - c1;
    r->epoch_eval_s += now() - t;
    return 0;
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
    if (mlp_n_outputs(m) != r->nout) {
        mlp_free(m);
        return err_set(e, MLHEP_EINVAL, "model: %zu outputs, the workflow check expected %zu", mlp_n_outputs(m),
                       r->nout);
    }
    /* both cores on the batches: data-parallel steps on the trainer's own team */
    team *tm = NULL;
    int nth = r->o->nthreads > 0 ? r->o->nthreads : team_ncpu();
    if (nth > 1 && ((rc = team_new(nth, &tm, e)) || (rc = mlp_set_team(m, tm, e)))) {
        team_free(tm);
        mlp_free(m);
        return rc;
    }
    model_ref mr = {m, NULL, (size_t)r->sp->width};
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
        team_free(tm);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    double best_val = INFINITY;
    int since_best = 0, have_best = 0;
    char ckpt[4200], key[CKPT_KEY_LEN + 1];
    snprintf(ckpt, sizeof ckpt, "%s/" CKPT_FILE, r->o->outdir);
    int standard = wf->params.training == WF_TRAIN_STANDARD;
    int passes = standard ? epochs : 1;
    int rewound = 0, start = 1, finished = 0;
    rc = ckpt_key(wf, key, e);
    if (!rc && r->weighted && wf->params.balance_classes) {
        rc = prepass(r, e);
        rewound = 1;
    }
    if (!rc && r->o->resume) {
        ckpt_state cs;
        int loaded;
        rc = resume_load(r, m, ckpt, key, &cs, &loaded, e);
        if (!rc && loaded) {
            start = cs.epoch + 1;
            finished = cs.finished;
            best_val = cs.best_val;
            since_best = cs.since_best;
            have_best = cs.have_best;
            if (have_best)
                memcpy(best, cs.best, np * sizeof *best);
            rewound = 1;
        }
        if (loaded)
            ckpt_state_free(&cs);
    }
    for (int ep = start; ep <= passes && !rc && !finished; ep++) {
        double t0 = now();
        if ((ep > 1 || rewound) && (rc = dataset_rewind(r->ds, e)))
            break;
        rewound = 0;
        double ls = 0;
        size_t ln = 0;
        int64_t rows = 0; /* the epoch's: its summary line carries them */
        rc = mlp_epoch_pass(r, m, ep, passes, &ls, &ln, standard ? 1 : epochs, &rows, e);
        if (!rc && !r->first_pass_done)
            rc = first_pass_end(r, e);
        report_epoch x = {.loss = ln ? ls / (double)ln : NAN};
        if (!rc)
            rc = epoch_figures(r, &mr, &x, e);
        if (rc)
            break;
        x.seconds = now() - t0;
        if (add_epoch(r, &x)) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        /* keep the best for early stopping; then the checkpoint (the model with its
         * optimiser state and this bookkeeping), before anything may stop the run */
        double crit = isfinite(x.val_loss) ? x.val_loss : x.loss;
        int stop_early = 0;
        if (crit < best_val) {
            best_val = crit;
            memcpy(best, mlp_params(m), np * sizeof *best);
            have_best = 1;
            since_best = 0;
        } else if (patience > 0 && ++since_best >= patience) {
            stop_early = 1;
        }
        ckpt_state cs = {ep, passes, stop_early, best_val, since_best, have_best, best, r->ep, r->nep};
        if (ckpt_save(ckpt, m, &cs, key, r->fp, wf, r->o->ckpt_note, e) != 0) {
            rc = e->code;
            break;
        }
        char msg[200];
        snprintf(msg, sizeof msg, "epoch %d/%d: loss %.4f val_loss %.4f val_auc %.4f (%.1f s)", ep, passes, x.loss,
                 x.val_loss, x.val_auc, x.seconds);
        if (report(r, "training", 0.1 + 0.85 * ep / passes, rows, ep, passes, x.loss, x.val_loss, x.val_auc, 1, msg)) {
            rc = TRAIN_STOPPED;
            break;
        }
        if (stop_early) {
            snprintf(msg, sizeof msg, "early stopping after epoch %d (best validation loss %.4f)", ep, best_val);
            report(r, "training", 0.1 + 0.85 * ep / passes, rows, ep, passes, x.loss, x.val_loss, x.val_auc, 1, msg);
            break;
        }
    }
    if (!rc && patience > 0 && have_best)
        memcpy(mlp_params(m), best, np * sizeof *best);
    free(best);
    /* the checkpoint stays on a stop or an error (a refused one is untouched); train_run
     * removes it once the model files are written */
    mlp_set_team(m, NULL, e); /* the team goes: the model trains in the caller from here */
    team_free(tm);
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
    return report(r, "training", 0.5, 0, round, 0, tl, vl, NAN, 1, msg);
}

/* Multiplies the weights of a binned set by the class factors. */
static void scale_gbdt_weights(run *r, gbdt_dataset *ds)
{
    if (!ds)
        return;
    const float *y = gbdt_dataset_labels(ds);
    float *w = gbdt_dataset_weights(ds);
    for (size_t i = 0; i < gbdt_dataset_rows(ds); i++) {
        int k = class_of(r, y[i]);
        w[i] = (float)(w[i] * (k >= 0 ? r->factor[k] : 1.0));
    }
}

static int train_gbdt(run *r, gbdt_model **out, gbdt_history *hist, mlhep_err *e)
{
    gbdt_params p;
    int rc = gbdt_params_from_json(r->wf->model, &p, e);
    if (rc)
        return err_prefix(e, "model");
    p.objective = r->task == WF_TASK_MULTICLASS   ? GBDT_OBJ_MULTICLASS
                  : r->task == WF_TASK_REGRESSION ? GBDT_OBJ_REGRESSION
                                                  : GBDT_OBJ_BINARY;
    p.n_classes = r->task == WF_TASK_MULTICLASS ? (int)r->nout : 0;
    p.seed = r->wf->params.seed;
    p.n_threads = r->o->nthreads > 0 ? r->o->nthreads : team_ncpu();
    p.progress = gbdt_progress;
    p.progress_ctx = r;
    if ((rc = gbdt_params_check(&p, e)))
        return err_prefix(e, "model");
    gbdt_dataset *tr = NULL, *va = NULL;
    ds_chunk c;
    int got;
    int64_t rows = 0;
    r->factors_set = 1; /* event weights now; the factors once every row is in */
    while (!rc && (got = dataset_next(r->ds, &c, e)) == 1) {
        if ((rc = first_pass(r, &c, e)))
            break;
        size_t nt = 0, nv = 0, w = (size_t)c.width;
        if ((rc = train_rows(r, &c, &nt, &nv, e)))
            break;
        if (!tr && nt) {
            rc = gbdt_dataset_new(&p, r->tx, nt, w, &tr, e);
            if (!rc)
                rc = gbdt_dataset_new_like(tr, &va, e);
        }
        if (!rc && nt)
            rc = gbdt_dataset_append(tr, r->tx, r->ty, r->tw, nt, e);
        if (!rc && va && nv)
            rc = gbdt_dataset_append(va, r->vx, r->vy, r->vw, nv, e);
        rows += (int64_t)c.nrows;
        char msg[128];
        snprintf(msg, sizeof msg, "binning: %lld rows", (long long)rows);
        if (!rc && report(r, "training", 0.1 + 0.2 * (double)rows / (double)(r->sp->total_events + 1), rows, 0, 0,
                          NAN, NAN, NAN, 0, msg))
            rc = TRAIN_STOPPED;
    }
    if (!rc && got < 0)
        rc = got;
    if (!rc)
        rc = first_pass_end(r, e);
    if (!rc && !tr)
        rc = err_set(e, MLHEP_EINVAL, "no training rows (every event was cut or went to validation or test)");
    if (!rc && r->weighted) {
        set_factors(r, r->stat_rows + DP_SPLIT_TRAIN * r->nclass, r->stat_w + DP_SPLIT_TRAIN * r->nclass);
        scale_gbdt_weights(r, tr);
        scale_gbdt_weights(r, va);
    }
    if (!rc)
        rc = gbdt_train(&p, tr, gbdt_dataset_rows(va) ? va : NULL, out, hist, e);
    if (r->stopped)
        rc = TRAIN_STOPPED;
    gbdt_dataset_free(tr);
    gbdt_dataset_free(va);
    return rc;
}

/* ---------------------------------------------------------------- after training */

/* Scores the kept sets with the final model and, for those that could not keep every
 * row, the whole split in one more pass. */
static int final_scores(run *r, model_ref *mr, mlhep_err *e)
{
    int rc = evalset_score(&r->val, predict, mr, e);
    if (!rc)
        rc = evalset_score(&r->test, predict, mr, e);
    if (!rc)
        rc = evalset_score(&r->trsub, predict, mr, e);
    int tv = evalset_truncated(&r->val), tt = evalset_truncated(&r->test), ts = evalset_truncated(&r->trsub);
    if (rc || (!tv && !tt && !ts))
        return rc;
    report(r, "export", 0.96, 0, 0, 0, NAN, NAN, NAN, 0, "scoring the whole validation/test splits (more rows than kept)");
    uint64_t seed = r->wf->data.seed;
    size_t w = (size_t)r->sp->width;
    rc = dataset_rewind(r->ds, e);
    ds_chunk c;
    int got = 0;
    float *x = NULL, *y = NULL, *wt = NULL;
    size_t cap = 0;
    while (!rc && (got = dataset_next(r->ds, &c, e)) == 1) {
        if (c.nrows > cap) {
            free(x);
            free(y);
            free(wt);
            cap = c.nrows;
            x = malloc(cap * w * sizeof *x);
            y = malloc(cap * sizeof *y);
            wt = malloc(cap * sizeof *wt);
            if (!x || !y || !wt) {
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                break;
            }
        }
        for (int which = 0; which < 3 && !rc; which++) {
            evalset *full = which == 0 ? &r->fval : which == 1 ? &r->ftest : &r->ftrsub;
            if (!(which == 0 ? tv : which == 1 ? tt : ts))
                continue;
            size_t n = 0;
            for (size_t i = 0; i < c.nrows; i++) {
                int s = c.split[i], in;
                if (which == 0)
                    in = s == DP_SPLIT_VALIDATION;
                else if (which == 1)
                    in = s == DP_SPLIT_TEST;
                else {
                    double u = dataset_split_u(seed, c.file[i], c.entry[i]);
                    in = s == DP_SPLIT_TRAIN && u >= r->sub_lo && u < r->sub_hi;
                }
                if (!in)
                    continue;
                memcpy(x + n * w, c.x + i * w, w * sizeof *x);
                y[n] = c.y[i];
                wt[n++] = c.w[i];
            }
            if (n && !(rc = predict(mr, x, n, r->pred, e)) && evalset_add_scored(full, y, wt, r->pred, n))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    }
    if (!rc && got < 0)
        rc = got;
    free(x);
    free(y);
    free(wt);
    return rc;
}

/* The set the final figures, the ranking and the correlations use (rows with features). */
static const evalset *final_kept(const run *r)
{
    return r->test.n ? &r->test : &r->val;
}

static int cmp_rank(const void *a, const void *b)
{
    double x = ((const report_rank *)a)->importance, y = ((const report_rank *)b)->importance;
    if (!(x == x))
        x = -INFINITY;
    if (!(y == y))
        y = -INFINITY;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The metric of the permutation importance on n rows: AUC (mean one-vs-rest for
 * multiclass) or MSE (regression). */
static double rank_metric(const run *r, const float *y, const float *s, const float *w, size_t n)
{
    if (r->task == WF_TASK_REGRESSION)
        return metrics_mse(y, s, w, n);
    return set_auc(r, y, s, w, n);
}

static int ranking(run *r, model_ref *mr, report_data *d, report_rank **out, mlhep_err *e)
{
    const specs *sp = r->sp;
    report_rank *v = calloc(sp->nfeat + 1, sizeof *v);
    if (!v)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    *out = v;
    for (size_t f = 0; f < sp->nfeat; f++)
        v[f].name = sp->feat[f].name;
    d->rank = v;
    d->nrank = sp->nfeat;
    if (mr->g) {
        size_t nc = gbdt_model_features(mr->g);
        double *g = calloc(nc, sizeof *g), *cv = calloc(nc, sizeof *cv), *sp_ = calloc(nc, sizeof *sp_);
        if (!g || !cv || !sp_) {
            free(g);
            free(cv);
            free(sp_);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        gbdt_importance(mr->g, GBDT_IMPORTANCE_GAIN, g);
        gbdt_importance(mr->g, GBDT_IMPORTANCE_COVER, cv);
        gbdt_importance(mr->g, GBDT_IMPORTANCE_SPLITS, sp_);
        double tot = 0;
        size_t col = 0;
        for (size_t f = 0; f < sp->nfeat; f++)
            for (int j = 0; j < sp->feat[f].len && col < nc; j++, col++) {
                v[f].gain += g[col];
                v[f].cover += cv[col];
                v[f].splits += sp_[col];
                tot += g[col];
            }
        for (size_t f = 0; f < sp->nfeat; f++)
            v[f].importance = tot > 0 ? v[f].gain / tot : 0;
        free(g);
        free(cv);
        free(sp_);
        d->rank_method = "gain";
    } else {
        /* permutation importance on the kept test rows */
        const evalset *s = final_kept(r);
        size_t n = PERM_ROW_EVALS / (sp->nfeat ? sp->nfeat : 1);
        if (n < PERM_MIN_ROWS)
            n = PERM_MIN_ROWS;
        if (n > s->n)
            n = s->n;
        d->rank_method = "permutation";
        d->rank_metric = r->task == WF_TASK_REGRESSION ? "mse" : r->task == WF_TASK_MULTICLASS ? "mean_auc" : "auc";
        d->rank_rows = n;
        size_t w = s->width;
        float *x = malloc((n * w + 1) * sizeof *x), *pr = malloc((n * r->nout + 1) * sizeof *pr);
        size_t *perm = malloc((n + 1) * sizeof *perm);
        if (!x || !pr || !perm) {
            free(x);
            free(pr);
            free(perm);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        memcpy(x, s->x, n * w * sizeof *x);
        uint64_t st = r->wf->data.seed ^ 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(rng_splitmix(&st) % i), t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        double base = rank_metric(r, s->y, s->score, s->w, n);
        d->rank_base = base;
        int rc = 0;
        size_t off = 0;
        for (size_t f = 0; f < sp->nfeat && !rc; f++) {
            size_t len = (size_t)sp->feat[f].len;
            for (size_t i = 0; i < n; i++)
                memcpy(x + i * w + off, s->x + perm[i] * w + off, len * sizeof *x);
            rc = predict(mr, x, n, pr, e);
            double m = rc ? NAN : rank_metric(r, s->y, pr, s->w, n);
            v[f].score = m;
            v[f].importance = r->task == WF_TASK_REGRESSION ? m - base : base - m;
            for (size_t i = 0; i < n; i++)
                memcpy(x + i * w + off, s->x + i * w + off, len * sizeof *x);
            off += len;
        }
        free(x);
        free(pr);
        free(perm);
        if (rc)
            return rc;
    }
    qsort(v, sp->nfeat, sizeof *v, cmp_rank);
    return 0;
}

/* Correlations of the CORR_MAX_FEATURES highest ranked features (jagged: their first
 * slot) per class, on the kept test rows. */
static int correlations(run *r, report_data *d, double **out, const char ***names, mlhep_err *e)
{
    const specs *sp = r->sp;
    const evalset *s = final_kept(r);
    size_t nf = sp->nfeat < CORR_MAX_FEATURES ? sp->nfeat : CORR_MAX_FEATURES;
    size_t n = s->n < CORR_MAX_ROWS ? s->n : CORR_MAX_ROWS;
    size_t nsets = r->task == WF_TASK_REGRESSION ? 1 : r->nclass;
    size_t *cols = malloc((nf + 1) * sizeof *cols);
    const char **nm = calloc(nf + 1, sizeof *nm);
    double *m = malloc((nsets * nf * nf + 1) * sizeof *m);
    float *w = malloc((n + 1) * sizeof *w);
    *out = m;
    *names = nm;
    if (!cols || !nm || !m || !w) {
        free(cols);
        free(w);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t f = 0; f < nf; f++) {
        int k = d->nrank > f ? specs_find(sp, d->rank[f].name) : (int)f;
        size_t off = 0;
        for (int j = 0; j < k; j++)
            off += (size_t)sp->feat[j].len;
        cols[f] = off;
        nm[f] = sp->feat[k].name;
    }
    /* each class's rows, their selected columns only, then one pass each */
    float *cx = malloc((n * nf + 1) * sizeof *cx);
    uint8_t *cm = malloc(n * nf + 1);
    size_t *idx = malloc((nf + 1) * sizeof *idx);
    if (!cx || !cm || !idx) {
        free(cols);
        free(w);
        free(cx);
        free(cm);
        free(idx);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t f = 0; f < nf; f++)
        idx[f] = f;
    for (size_t k = 0; k < nsets; k++) {
        size_t nk = 0;
        for (size_t i = 0; i < n; i++) {
            if (r->task != WF_TASK_REGRESSION && class_of(r, s->y[i]) != (int)k)
                continue;
            for (size_t f = 0; f < nf; f++) {
                cx[nk * nf + f] = s->x[i * s->width + cols[f]];
                cm[nk * nf + f] = s->mask[i * s->width + cols[f]];
            }
            w[nk++] = s->w[i];
        }
        metrics_correlation(cx, cm, w, nk, nf, idx, nf, m + k * nf * nf);
    }
    free(cx);
    free(cm);
    free(idx);
    free(cols);
    free(w);
    d->corr = m;
    d->corr_names = nm;
    d->ncorr = nf;
    d->ncorr_sets = nsets;
    d->corr_rows = n;
    return 0;
}

/* ---------------------------------------------------------------- train_run */

static void run_free(run *r)
{
    dataset_free(r->ds);
    specs_free(r->sp);
    preproc_free(r->pp);
    free(r->ep);
    feathist_free(r->fh);
    evalset_free(&r->val);
    evalset_free(&r->test);
    evalset_free(&r->trsub);
    evalset_free(&r->fval);
    evalset_free(&r->ftest);
    evalset_free(&r->ftrsub);
    free(r->stat_rows);
    free(r->stat_w);
    free(r->factor);
    free(r->cname);
    free(r->class_names);
    free(r->tx);
    free(r->ty);
    free(r->tw);
    free(r->pred);
    free(r->vx);
    free(r->vy);
    free(r->vw);
    json_decref(r->warnings);
}

/* Task, outputs, classes, weights and the kept sets, once the specs are known. */
static int run_setup(run *r, mlhep_err *e)
{
    const workflow *wf = r->wf;
    r->task = wf->task;
    r->nout = wf->noutputs > 0 ? (size_t)wf->noutputs : 1;
    r->nclass = r->task == WF_TASK_BINARY ? 2 : r->task == WF_TASK_MULTICLASS ? r->nout : 1;
    r->cname = calloc(r->nclass, sizeof *r->cname);
    r->class_names = calloc(r->nclass, sizeof *r->class_names);
    r->stat_rows = calloc(3 * r->nclass, sizeof *r->stat_rows);
    r->stat_w = calloc(3 * r->nclass, sizeof *r->stat_w);
    r->factor = malloc(r->nclass * sizeof *r->factor);
    r->warnings = json_array();
    if (!r->cname || !r->class_names || !r->stat_rows || !r->stat_w || !r->factor || !r->warnings)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t k = 0; k < r->nclass; k++) {
        if (r->task == WF_TASK_REGRESSION)
            snprintf(r->cname[k], sizeof r->cname[k], "all");
        else if (wf->class_names && k < wf->nclasses)
            snprintf(r->cname[k], sizeof r->cname[k], "%s", wf->class_names[k]);
        else if (r->task == WF_TASK_BINARY)
            snprintf(r->cname[k], sizeof r->cname[k], "%s", k ? "signal" : "background");
        else
            snprintf(r->cname[k], sizeof r->cname[k], "class %zu", k);
        r->class_names[k] = r->cname[k];
        r->factor[k] = 1.0;
    }
    int scales = 0;
    for (size_t i = 0; i < wf->nfiles; i++)
        scales |= wf->files[i].scale != 1.0;
    r->weighted = wf->params.weight || scales || wf->params.balance_classes;
    r->factors_set = !r->weighted;
    /* the training sample: half as many rows as the test set (else the validation set):
     * enough for the overtraining check, and cheap to score every epoch */
    double vf = wf->params.validation_fraction, tf = wf->params.test_fraction;
    r->sub_lo = vf + tf;
    r->sub_hi = r->sub_lo + 0.5 * (tf > 0 ? tf : vf > 0 ? vf : 0.2);
    size_t wd = (size_t)r->sp->width;
    evalset_init(&r->val, wd, r->nout, 1, EVAL_MAX_BYTES);
    evalset_init(&r->test, wd, r->nout, 1, EVAL_MAX_BYTES);
    evalset_init(&r->trsub, wd, r->nout, 0, EVAL_MAX_BYTES);
    evalset_init(&r->fval, 0, r->nout, 0, (size_t)-1);
    evalset_init(&r->ftest, 0, r->nout, 0, (size_t)-1);
    evalset_init(&r->ftrsub, 0, r->nout, 0, (size_t)-1);
    return 0;
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
    if (m ? mlp_get_loss(m) == MLP_LOSS_CCE : gbdt_model_objective(g) == GBDT_OBJ_MULTICLASS)
        out = "probability of each class, [N, k] (classes in mlhep.features order)";
    else if (m ? mlp_get_loss(m) == MLP_LOSS_MSE : gbdt_model_objective(g) == GBDT_OBJ_REGRESSION)
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

static int write_model(run *r, mlp *m, gbdt_model *g, mlhep_err *e)
{
    const workflow *wf = r->wf;
    const dataparams *dp = &wf->data;
    json_t *feat = NULL;
    /* the features document (featmap.h): what turns raw branch values into rows */
    int rc = featmap_from_specs(r->sp, dp->norm, dp->nan_value, &feat, e);
    if (!rc)
        rc = featmap_set_outputs(feat, (int)r->nout, (const char *const *)wf->class_names,
                                 wf->class_names ? wf->nclasses : 0, e);
    char *fj = rc ? NULL : json_dumps(feat, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(feat);
    if (!rc && !fj)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (rc)
        return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.mlhep", r->o->outdir);
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
        snprintf(op, sizeof op, "%s/model.onnx", r->o->outdir);
        rc = export_onnx(wf, m, g, fj, op, e);
    }
    free(fj);
    return rc;
}

int train_run(const workflow *wf, const train_opts *o, mlhep_err *e)
{
    run r = {.wf = wf, .o = o, .t0 = now(), .c0 = cpu_now()};
    int rc = 0;
    mlp *m = NULL;
    gbdt_model *g = NULL;
    gbdt_history gh = {0};
    report_rank *rank = NULL;
    double *corr = NULL;
    const char **corr_names = NULL;
    json_t *timing = NULL;
    const char *type = json_string_value(json_object_get(wf->model, "type"));
    int is_gbdt = type && !strcmp(type, "gbdt");
    if (!wf->model)
        return err_set(e, MLHEP_EINVAL, "workflow has no model");
    nn_blas_one_thread(); /* our threads are the parallelism (nncore.h) */
    const dataparams *dp = &wf->data;
    char ckpt_path[4200], specs_kept[4200];
    snprintf(ckpt_path, sizeof ckpt_path, "%s/" CKPT_FILE, o->outdir);
    snprintf(specs_kept, sizeof specs_kept, "%s/specs.json", o->outdir);
    if (is_gbdt && o->resume == TRAIN_RESUME_MUST)
        return err_set(e, MLHEP_EINVAL, "boosted trees keep no checkpoint: nothing to resume (run the workflow again)");
    /* resuming: the specs the stopped run saved, when the inputs are unchanged */
    const char *specs_cache = o->specs_cache ? o->specs_cache : o->resume ? specs_kept : NULL;
    if ((rc = specs_preproc(dp, &r.pp, e)))
        goto out;
    char fp[65];
    if ((rc = specs_fingerprint(dp, fp, e)))
        goto out;
    memcpy(r.fp, fp, sizeof r.fp);
    if (!(specs_cache && specs_load(specs_cache, fp, &r.sp, e) == 0)) {
        report(&r, "specs", 0, 0, 0, 0, NAN, NAN, NAN, 0, "specs pass");
        if (o->specs_fn && (rc = o->specs_fn(o->specs_ctx, wf, r.pp, &r.sp, e)))
            goto out;
        if (!r.sp && !r.stopped && (rc = specs_compute(dp, r.pp, specs_progress, &r, &r.sp, e)))
            goto out;
    }
    if (r.stopped) {
        rc = TRAIN_STOPPED;
        goto out;
    }
    double t_specs = now() - r.t0, c_specs = cpu_now() - r.c0;
    char path[4200];
    snprintf(path, sizeof path, "%s/specs.json", o->outdir);
    if ((rc = specs_save(r.sp, path, e)))
        goto out;
    if (r.sp->total_events == 0) {
        rc = err_set(e, MLHEP_EINVAL, "no events left after the cuts: nothing to train on");
        goto out;
    }
    if ((rc = run_setup(&r, e)))
        goto out;
    if (wf->params.hist && (rc = feathist_new(dp, r.sp, &r.fh, e)))
        goto out;
    if (r.fh)
        feathist_set_logy(r.fh, wf->params.log_scale);
    if ((rc = dataset_open(dp, r.pp, r.sp, &r.ds, e)))
        goto out;
    double t1 = now(), c1 = cpu_now();
    if (is_gbdt) {
        rc = train_gbdt(&r, &g, &gh, e);
        for (int i = 0; !rc && i < gh.n_rounds; i++) {
            report_epoch x = {.loss = gh.train_loss[i], .val_loss = gh.valid_loss ? gh.valid_loss[i] : NAN,
                              .acc = NAN, .auc = NAN, .val_acc = NAN, .val_auc = NAN, .seconds = NAN};
            if (add_epoch(&r, &x))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    } else {
        rc = train_mlp(&r, &m, e);
    }
    if (rc)
        goto out;
    double t2 = now(), c2 = cpu_now();
    report(&r, "export", 0.96, 0, 0, 0, NAN, NAN, NAN, 0, "final evaluation, reports and model files");
    model_ref mr = {m, g, (size_t)r.sp->width};
    report_data d = {.wf = wf,
                     .sp = r.sp,
                     .model_kind = is_gbdt ? "gbdt" : "mlp",
                     .nout = r.nout,
                     .nclass = r.nclass,
                     .class_names = r.class_names,
                     .epoch_unit = is_gbdt ? "tree" : "epoch",
                     .epochs_have_auc = !is_gbdt && r.task != WF_TASK_REGRESSION,
                     .split_rows = r.stat_rows,
                     .split_weights = r.stat_w,
                     .train_factor = r.factor,
                     .weighted = r.weighted,
                     .warnings = r.warnings,
                     .hist_dir = wf->params.hist};
    double ta = cpu_now();
    if ((rc = final_scores(&r, &mr, e)))
        goto out;
    double tb = cpu_now();
    if ((rc = ranking(&r, &mr, &d, &rank, e)))
        goto out;
    double tc = cpu_now();
    if ((rc = correlations(&r, &d, &corr, &corr_names, e)))
        goto out;
    double td = cpu_now();
    d.val = evalset_truncated(&r.val) ? &r.fval : &r.val;
    d.test = evalset_truncated(&r.test) ? &r.ftest : &r.test;
    d.trsub = evalset_truncated(&r.trsub) ? &r.ftrsub : &r.trsub;
    d.ep = r.ep;
    d.nep = r.nep;
    d.corr_set_names = r.class_names;
    /* per-feature histograms, in the directory params.hist names (the page embeds them) */
    if (r.fh) {
        char hd[4400];
        snprintf(hd, sizeof hd, "%s/%s", o->outdir, wf->params.hist);
        if ((rc = feathist_write(r.fh, hd, NULL, e)))
            goto out;
    }
    double t3 = now(), c3 = cpu_now();
    timing = json_object();
    json_object_set_new(timing, "cpu_final_scores_s", json_real(tb - ta));
    json_object_set_new(timing, "cpu_ranking_s", json_real(tc - tb));
    json_object_set_new(timing, "cpu_correlations_s", json_real(td - tc));
    json_object_set_new(timing, "cpu_histograms_s", json_real(c3 - td));
    json_object_set_new(timing, "cpu_epoch_validation_s", json_real(r.cpu_epoch_val));
    json_object_set_new(timing, "cpu_epoch_train_sample_s", json_real(r.cpu_epoch_trsub));
    json_object_set_new(timing, "specs_s", json_real(t_specs));
    json_object_set_new(timing, "training_s", json_real(t2 - t1));
    json_object_set_new(timing, "epoch_evaluation_s", json_real(r.epoch_eval_s));
    json_object_set_new(timing, "final_evaluation_s", json_real(t3 - t2));
    json_object_set_new(timing, "cpu_specs_s", json_real(c_specs));
    json_object_set_new(timing, "cpu_training_s", json_real(c2 - c1));
    json_object_set_new(timing, "cpu_final_evaluation_s", json_real(c3 - c2));
    d.timing = timing;
    if ((rc = report_write(&d, o->outdir, e)))
        goto out;
    if ((rc = write_model(&r, m, g, e)))
        goto out;
    char msg[200];
    snprintf(msg, sizeof msg, "done in %.1f s", now() - r.t0);
    report(&r, "done", 1.0, 0, 0, 0, NAN, NAN, NAN, 0, msg);
    if (!r.stopped)
        remove(ckpt_path); /* the model files are written: nothing left to resume */
out:
    if (r.stopped && rc >= 0)
        rc = TRAIN_STOPPED;
    json_decref(timing);
    free(rank);
    free(corr);
    free(corr_names);
    gbdt_history_free(&gh);
    gbdt_model_free(g);
    mlp_free(m);
    run_free(&r);
    return rc;
}

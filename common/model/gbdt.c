/* gbdt.c - histogram gradient-boosted trees; see gbdt.h for the algorithm and how the
 * training driver uses it. Layout of this file: threads, quantile cuts and binned
 * data set, tree growth, boosting loop, prediction, serialisation. */
#include "model/gbdt.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "base/rng.h"
#include "base/sort.h"
#include "base/team.h"
#include "base/wbuf.h"

#define GBDT_ROW_BLOCK 8192 /* rows per task for binning / gradient passes (fixed: sums
                               are reduced block by block, independent of thread count) */

/* Threads: a base/team; work is cut into numbered tasks (row blocks, feature blocks,
 * nodes) that team_tasks hands to whichever thread is free. */

/* Row passes (binning, gradients) are cut into blocks of GBDT_ROW_BLOCK rows, one task
 * each: how many blocks n rows make, and the rows [*r0, *r1) of block `task`. */
static size_t row_blocks(size_t n)
{
    return (n + GBDT_ROW_BLOCK - 1) / GBDT_ROW_BLOCK;
}

static void row_block(size_t task, size_t n, size_t *r0, size_t *r1)
{
    *r0 = task * GBDT_ROW_BLOCK;
    *r1 = *r0 + GBDT_ROW_BLOCK < n ? *r0 + GBDT_ROW_BLOCK : n;
}

/* n_threads as given (<= 0: every online core); team_new clamps to TEAM_MAX */
static int resolve_threads(int n)
{
    return n <= 0 ? team_ncpu() : n;
}

/* ------------------------------------------------------------------------------ */
/* Parameters */

void gbdt_params_default(gbdt_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_trees = 100;
    p->max_depth = 6;
    p->learning_rate = 0.3f;
    p->min_child_weight = 1.0f;
    p->lambda = 1.0f;
    p->gamma = 0.0f;
    p->subsample = 1.0f;
    p->colsample_bytree = 1.0f;
    p->max_bins = 256;
    p->sketch_rows = (size_t)1 << 20;
    p->base_score = 0.5f;
    p->n_threads = 1;
    p->seed = 0;
    p->early_stopping_rounds = 0;
    p->objective = GBDT_OBJ_BINARY;
    p->n_classes = 0;
}

int gbdt_params_check(const gbdt_params *p, mlhep_err *e)
{
    if (p->n_trees < 1 || p->n_trees > 1000000)
        return err_set(e, MLHEP_EINVAL, "gbdt: n_trees %d out of range [1, 1000000]", p->n_trees);
    if (p->max_depth < 1 || p->max_depth > 24)
        return err_set(e, MLHEP_EINVAL, "gbdt: max_depth %d out of range [1, 24]", p->max_depth);
    if (!(p->learning_rate > 0 && p->learning_rate <= 1))
        return err_set(e, MLHEP_EINVAL, "gbdt: learning_rate %g out of range (0, 1]",
                       (double)p->learning_rate);
    if (!(p->min_child_weight >= 0) || isinf(p->min_child_weight))
        return err_set(e, MLHEP_EINVAL, "gbdt: min_child_weight %g must be finite and >= 0",
                       (double)p->min_child_weight);
    if (!(p->lambda >= 0) || isinf(p->lambda))
        return err_set(e, MLHEP_EINVAL, "gbdt: lambda %g must be finite and >= 0",
                       (double)p->lambda);
    if (!(p->gamma >= 0) || isinf(p->gamma))
        return err_set(e, MLHEP_EINVAL, "gbdt: gamma %g must be finite and >= 0", (double)p->gamma);
    if (!(p->subsample > 0 && p->subsample <= 1))
        return err_set(e, MLHEP_EINVAL, "gbdt: subsample %g out of range (0, 1]",
                       (double)p->subsample);
    if (!(p->colsample_bytree > 0 && p->colsample_bytree <= 1))
        return err_set(e, MLHEP_EINVAL, "gbdt: colsample_bytree %g out of range (0, 1]",
                       (double)p->colsample_bytree);
    if (p->max_bins < 3 || p->max_bins > 256)
        return err_set(e, MLHEP_EINVAL, "gbdt: max_bins %d out of range [3, 256]", p->max_bins);
    if (p->sketch_rows < 1)
        return err_set(e, MLHEP_EINVAL, "gbdt: sketch_rows must be >= 1");
    if (!(p->base_score > 0 && p->base_score < 1))
        return err_set(e, MLHEP_EINVAL, "gbdt: base_score %g out of range (0, 1)",
                       (double)p->base_score);
    if (p->early_stopping_rounds < 0)
        return err_set(e, MLHEP_EINVAL, "gbdt: early_stopping_rounds %d must be >= 0",
                       p->early_stopping_rounds);
    if (p->objective != GBDT_OBJ_BINARY && p->objective != GBDT_OBJ_MULTICLASS &&
        p->objective != GBDT_OBJ_REGRESSION)
        return err_set(e, MLHEP_EINVAL, "gbdt: unknown objective %d", p->objective);
    if (p->objective == GBDT_OBJ_MULTICLASS && (p->n_classes < 2 || p->n_classes > GBDT_MAX_CLASSES))
        return err_set(e, MLHEP_EINVAL, "gbdt: multiclass needs 2..%d classes, not %d",
                       GBDT_MAX_CLASSES, p->n_classes);
    return 0;
}

static const struct {
    const char *name;
    int objective;
} objective_names[] = {{"binary", GBDT_OBJ_BINARY},         {"binary:logistic", GBDT_OBJ_BINARY},
                       {"multiclass", GBDT_OBJ_MULTICLASS}, {"multi:softprob", GBDT_OBJ_MULTICLASS},
                       {"multi:softmax", GBDT_OBJ_MULTICLASS}, {"regression", GBDT_OBJ_REGRESSION},
                       {"reg:squarederror", GBDT_OBJ_REGRESSION}};

const char *gbdt_objective_name(int objective)
{
    for (size_t i = 0; i < sizeof objective_names / sizeof *objective_names; i++)
        if (objective_names[i].objective == objective)
            return objective_names[i].name;
    return "?";
}

int gbdt_objective_parse(const char *s, int *objective)
{
    for (size_t i = 0; s && i < sizeof objective_names / sizeof *objective_names; i++)
        if (!strcmp(s, objective_names[i].name)) {
            *objective = objective_names[i].objective;
            return 0;
        }
    return -1;
}

/* One key of a spec: an integer (or integral number) / a number, range-checked later. */
static int spec_int(const json_t *spec, const char *k, int *out, mlhep_err *e)
{
    const json_t *v = json_object_get(spec, k);
    if (!v)
        return 0;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d == floor(d)) || fabs(d) > 2e9)
        return err_set(e, MLHEP_EINVAL, "gbdt: \"%s\" must be an integer", k);
    *out = (int)d;
    return 0;
}

static int spec_num(const json_t *spec, const char *k, float *out, mlhep_err *e)
{
    const json_t *v = json_object_get(spec, k);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return err_set(e, MLHEP_EINVAL, "gbdt: \"%s\" must be a number", k);
    *out = (float)json_number_value(v);
    return 0;
}

int gbdt_params_from_json(const json_t *spec, gbdt_params *p, mlhep_err *e)
{
    gbdt_params_default(p);
    int rc;
    if ((rc = spec_int(spec, "trees", &p->n_trees, e)) || (rc = spec_int(spec, "depth", &p->max_depth, e)) ||
        (rc = spec_num(spec, "learning_rate", &p->learning_rate, e)) ||
        (rc = spec_num(spec, "min_child_weight", &p->min_child_weight, e)) ||
        (rc = spec_num(spec, "subsample", &p->subsample, e)) ||
        (rc = spec_num(spec, "colsample_bytree", &p->colsample_bytree, e)) ||
        (rc = spec_int(spec, "bins", &p->max_bins, e)) || (rc = spec_num(spec, "lambda", &p->lambda, e)) ||
        (rc = spec_int(spec, "early_stopping_rounds", &p->early_stopping_rounds, e)))
        return rc;
    const json_t *o = json_object_get(spec, "objective");
    if (o && gbdt_objective_parse(json_string_value(o), &p->objective))
        return err_set(e, MLHEP_EINVAL, "gbdt: objective %s%s%s is not one of binary, multiclass, regression",
                       json_is_string(o) ? "\"" : "", json_is_string(o) ? json_string_value(o) : "(not a string)",
                       json_is_string(o) ? "\"" : "");
    return 0;
}

/* ------------------------------------------------------------------------------ */
/* Quantile cuts and the binned data set.
 *
 * Feature f has ncut[f] = cut_off[f+1]-cut_off[f] ascending cuts c_0 < c_1 < ...; a
 * value v gets the code 1 + #{cuts <= v} (1 .. ncut+1), NaN the code 0. A split "code
 * <= k goes left" is therefore "v < c_{k-1} goes left", which is what the model
 * stores, so binned training and raw-float prediction route rows identically. The
 * histogram of feature f occupies slots hoff[f] .. hoff[f] + ncut[f] + 1. */

struct gbdt_dataset {
    size_t ncols;
    int n_threads;
    int objective, n_classes; /* what labels are valid (gbdt_params) */
    uint32_t *cut_off; /* ncols + 1 */
    float *cuts;
    uint32_t *hoff; /* ncols + 1; hoff[ncols] = histogram slots */
    uint8_t *bins;  /* nrows x ncols codes */
    float *y, *w;
    size_t nrows, cap;
};

typedef struct sketch_ctx {
    const float *x;
    size_t nsample, ncols, step_num, step_den; /* sample row i = i * step_num / step_den */
    int max_vbins;
    uint32_t *scratch; /* per thread 2 * nsample */
    float *cuts;       /* ncols x (max_vbins - 1) */
    uint32_t *ncut;
} sketch_ctx;

static void sketch_task(void *vctx, size_t f, int tid)
{
    sketch_ctx *c = vctx;
    uint32_t *keys = c->scratch + (size_t)tid * 2 * c->nsample, *tmp = keys + c->nsample;
    size_t m = 0;
    for (size_t i = 0; i < c->nsample; i++) {
        size_t row = (size_t)((unsigned __int128)i * c->step_num / c->step_den);
        float v = c->x[row * c->ncols + f];
        if (!isnan(v))
            keys[m++] = sort_float_key(v);
    }
    sort_radix_u32(keys, tmp, m);
    float *cut = c->cuts + f * (size_t)(c->max_vbins - 1);
    uint32_t nc = 0;
    if (m > 0) {
        size_t distinct = 1;
        for (size_t i = 1; i < m; i++)
            distinct += keys[i] != keys[i - 1];
        if (distinct <= (size_t)c->max_vbins) {
            for (size_t i = 1; i < m; i++)
                if (keys[i] != keys[i - 1])
                    cut[nc++] = sort_key_float(keys[i]);
        } else {
            for (int j = 1; j < c->max_vbins; j++) {
                size_t r = (size_t)((double)j * (double)m / c->max_vbins);
                if (r >= m)
                    r = m - 1;
                if (keys[r] > keys[0] && (nc == 0 || keys[r] > sort_float_key(cut[nc - 1])))
                    cut[nc++] = sort_key_float(keys[r]);
            }
        }
    }
    c->ncut[f] = nc;
}

int gbdt_dataset_new(const gbdt_params *p, const float *sample, size_t nsample, size_t ncols,
                     gbdt_dataset **out, mlhep_err *e)
{
    *out = NULL;
    int rc = gbdt_params_check(p, e);
    if (rc)
        return rc;
    if (ncols == 0 || ncols > (1u << 24))
        return err_set(e, MLHEP_EINVAL, "gbdt: %zu features (need 1 .. 16777216)", ncols);
    if (nsample == 0)
        return err_set(e, MLHEP_EINVAL, "gbdt: no sample rows to compute the bin cuts from");
    size_t ns = nsample < p->sketch_rows ? nsample : p->sketch_rows;
    if (ns > UINT32_MAX / 2)
        ns = UINT32_MAX / 2;
    int nt = resolve_threads(p->n_threads);
    if ((size_t)nt > ncols)
        nt = (int)ncols;
    int mvb = p->max_bins - 1;
    gbdt_dataset *ds = calloc(1, sizeof *ds);
    sketch_ctx c = {sample, ns, ncols, nsample, ns, mvb, NULL, NULL, NULL};
    c.scratch = malloc((size_t)nt * 2 * ns * sizeof(uint32_t));
    c.cuts = malloc(ncols * (size_t)(mvb - 1) * sizeof(float));
    c.ncut = malloc(ncols * sizeof(uint32_t));
    team *tm = NULL;
    if (!ds || !c.scratch || !c.cuts || !c.ncut || team_new(nt, &tm, e)) {
        rc = err_set(e, MLHEP_ENOMEM, "gbdt: out of memory computing bin cuts (%zu x %zu)", ns,
                     ncols);
        goto done;
    }
    ds->ncols = ncols;
    ds->n_threads = p->n_threads;
    ds->objective = p->objective;
    ds->n_classes = p->n_classes;
    team_tasks(tm, sketch_task, &c, ncols);
    ds->cut_off = malloc((ncols + 1) * sizeof(uint32_t));
    ds->hoff = malloc((ncols + 1) * sizeof(uint32_t));
    size_t tot = 0;
    for (size_t f = 0; f < ncols; f++)
        tot += c.ncut[f];
    ds->cuts = malloc((tot + 1) * sizeof(float));
    if (!ds->cut_off || !ds->hoff || !ds->cuts) {
        rc = err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for bin cuts");
        goto done;
    }
    uint32_t co = 0, ho = 0;
    for (size_t f = 0; f < ncols; f++) {
        ds->cut_off[f] = co;
        ds->hoff[f] = ho;
        memcpy(ds->cuts + co, c.cuts + f * (size_t)(mvb - 1), c.ncut[f] * sizeof(float));
        co += c.ncut[f];
        ho += c.ncut[f] + 2;
    }
    ds->cut_off[ncols] = co;
    ds->hoff[ncols] = ho;
done:
    team_free(tm);
    free(c.scratch);
    free(c.cuts);
    free(c.ncut);
    if (rc) {
        gbdt_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int gbdt_dataset_new_like(const gbdt_dataset *ref, gbdt_dataset **out, mlhep_err *e)
{
    *out = NULL;
    gbdt_dataset *ds = calloc(1, sizeof *ds);
    size_t nc = ref->cut_off[ref->ncols];
    if (ds) {
        ds->ncols = ref->ncols;
        ds->n_threads = ref->n_threads;
        ds->objective = ref->objective;
        ds->n_classes = ref->n_classes;
        ds->cut_off = malloc((ref->ncols + 1) * sizeof(uint32_t));
        ds->hoff = malloc((ref->ncols + 1) * sizeof(uint32_t));
        ds->cuts = malloc((nc + 1) * sizeof(float));
    }
    if (!ds || !ds->cut_off || !ds->hoff || !ds->cuts) {
        gbdt_dataset_free(ds);
        return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory copying bin cuts");
    }
    memcpy(ds->cut_off, ref->cut_off, (ref->ncols + 1) * sizeof(uint32_t));
    memcpy(ds->hoff, ref->hoff, (ref->ncols + 1) * sizeof(uint32_t));
    memcpy(ds->cuts, ref->cuts, nc * sizeof(float));
    *out = ds;
    return 0;
}

static inline uint8_t bin_value(const float *cuts, uint32_t n, float v)
{
    if (isnan(v))
        return 0;
    if (n == 0)
        return 1;
    /* branchless search for #{cuts <= v} */
    const float *base = cuts;
    uint32_t len = n;
    while (len > 1) {
        uint32_t half = len / 2;
        base += (size_t)(base[half - 1] <= v) * half; /* arithmetic, not a branch */
        len -= half;
    }
    return (uint8_t)((uint32_t)(base - cuts) + (*base <= v) + 1);
}

typedef struct bin_ctx {
    gbdt_dataset *ds;
    const float *x;
    size_t nrows, base;
} bin_ctx;

static void bin_task(void *vctx, size_t t, int tid)
{
    (void)tid;
    bin_ctx *c = vctx;
    const gbdt_dataset *ds = c->ds;
    size_t r0, r1;
    row_block(t, c->nrows, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        const float *xr = c->x + r * ds->ncols;
        uint8_t *b = ds->bins + (c->base + r) * ds->ncols;
        for (size_t f = 0; f < ds->ncols; f++)
            b[f] = bin_value(ds->cuts + ds->cut_off[f], ds->cut_off[f + 1] - ds->cut_off[f],
                             xr[f]);
    }
}

int gbdt_dataset_append(gbdt_dataset *ds, const float *x, const float *y, const float *w,
                        size_t nrows, mlhep_err *e)
{
    if (nrows == 0)
        return 0;
    for (size_t i = 0; i < nrows; i++) {
        if (ds->objective == GBDT_OBJ_BINARY && !(y[i] >= 0 && y[i] <= 1))
            return err_set(e, MLHEP_EINVAL, "gbdt: row %zu: label %g is not in [0, 1]",
                           ds->nrows + i, (double)y[i]);
        if (ds->objective == GBDT_OBJ_MULTICLASS &&
            !(y[i] >= 0 && y[i] < (float)ds->n_classes && y[i] == floorf(y[i])))
            return err_set(e, MLHEP_EINVAL, "gbdt: row %zu: label %g is not a class index in [0, %d)",
                           ds->nrows + i, (double)y[i], ds->n_classes);
        if (ds->objective == GBDT_OBJ_REGRESSION && !isfinite(y[i]))
            return err_set(e, MLHEP_EINVAL, "gbdt: row %zu: target %g is not finite", ds->nrows + i,
                           (double)y[i]);
        if (w && (!(w[i] >= 0) || isinf(w[i])))
            return err_set(e, MLHEP_EINVAL, "gbdt: row %zu: weight %g must be finite and >= 0",
                           ds->nrows + i, (double)w[i]);
    }
    if (ds->nrows + nrows > UINT32_MAX)
        return err_set(e, MLHEP_ENOMEM, "gbdt: more than 2^32 training rows");
    if (ds->nrows + nrows > ds->cap) {
        size_t cap = ds->cap ? ds->cap : 1024;
        while (cap < ds->nrows + nrows)
            cap *= 2;
        uint8_t *b = realloc(ds->bins, cap * ds->ncols);
        if (b)
            ds->bins = b;
        float *ny = realloc(ds->y, cap * sizeof(float));
        if (ny)
            ds->y = ny;
        float *nw = realloc(ds->w, cap * sizeof(float));
        if (nw)
            ds->w = nw;
        if (!b || !ny || !nw)
            return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for %zu rows x %zu features",
                           cap, ds->ncols);
        ds->cap = cap;
    }
    memcpy(ds->y + ds->nrows, y, nrows * sizeof(float));
    for (size_t i = 0; i < nrows; i++)
        ds->w[ds->nrows + i] = w ? w[i] : 1.0f;
    bin_ctx c = {ds, x, nrows, ds->nrows};
    size_t ntasks = row_blocks(nrows);
    int nt = resolve_threads(ds->n_threads);
    team *tm = NULL;
    if (nt > 1 && ntasks > 1 && team_new(nt, &tm, NULL) != 0)
        tm = NULL; /* out of memory for the team: the caller bins alone */
    team_tasks(tm, bin_task, &c, ntasks);
    team_free(tm);
    ds->nrows += nrows;
    return 0;
}

size_t gbdt_dataset_rows(const gbdt_dataset *ds) { return ds->nrows; }
const float *gbdt_dataset_labels(const gbdt_dataset *ds) { return ds->y; }
float *gbdt_dataset_weights(gbdt_dataset *ds) { return ds->w; }
size_t gbdt_dataset_cols(const gbdt_dataset *ds) { return ds->ncols; }

void gbdt_dataset_free(gbdt_dataset *ds)
{
    if (!ds)
        return;
    free(ds->cut_off);
    free(ds->cuts);
    free(ds->hoff);
    free(ds->bins);
    free(ds->y);
    free(ds->w);
    free(ds);
}

/* ------------------------------------------------------------------------------ */
/* Model */

typedef struct gbdt_node {
    int32_t feature; /* -1: leaf */
    uint8_t default_left;
    float threshold; /* internal: x < threshold goes left */
    float value;     /* leaf: margin contribution (learning rate applied) */
    uint32_t left, right;
    float gain, cover;
} gbdt_node;

struct gbdt_model {
    uint32_t n_features, n_trees;
    uint32_t objective, n_outputs; /* GBDT_OBJ_*; n_outputs classes (multiclass), else 1:
                                      tree t adds to output t % n_outputs */
    float base_margin;
    uint32_t *tree_off; /* n_trees + 1 offsets into nodes */
    gbdt_node *nodes;
};

void gbdt_model_free(gbdt_model *m)
{
    if (!m)
        return;
    free(m->tree_off);
    free(m->nodes);
    free(m);
}

size_t gbdt_model_features(const gbdt_model *m) { return m->n_features; }
int gbdt_model_trees(const gbdt_model *m) { return (int)m->n_trees; }
size_t gbdt_model_outputs(const gbdt_model *m) { return m->n_outputs; }
int gbdt_model_objective(const gbdt_model *m) { return (int)m->objective; }
float gbdt_model_base_margin(const gbdt_model *m) { return m->base_margin; }
size_t gbdt_tree_size(const gbdt_model *m, int t) { return m->tree_off[t + 1] - m->tree_off[t]; }

void gbdt_node_get(const gbdt_model *m, int t, size_t node, gbdt_node_info *out)
{
    const gbdt_node *n = &m->nodes[m->tree_off[t] + node];
    *out = (gbdt_node_info){n->feature, n->default_left, n->threshold, n->value, n->left, n->right};
}

static inline float tree_value(const gbdt_node *nd, const float *x)
{
    uint32_t i = 0;
    while (nd[i].feature >= 0) {
        float v = x[nd[i].feature];
        int left = isnan(v) ? nd[i].default_left : v < nd[i].threshold;
        i = left ? nd[i].left : nd[i].right;
    }
    return nd[i].value;
}

int gbdt_predict(const gbdt_model *m, const float *x, size_t nrows, size_t ncols, int kind,
                 float *out, mlhep_err *e)
{
    if (ncols != m->n_features)
        return err_set(e, MLHEP_EINVAL, "gbdt: rows have %zu features, the model expects %u",
                       ncols, m->n_features);
    if (kind != GBDT_MARGIN && kind != GBDT_PROBABILITY)
        return err_set(e, MLHEP_EINVAL, "gbdt: unknown prediction kind %d", kind);
    if (m->objective == GBDT_OBJ_MULTICLASS) {
        size_t K = m->n_outputs;
        for (size_t r = 0; r < nrows; r++) {
            const float *xr = x + r * ncols;
            float *o = out + r * K;
            for (size_t k = 0; k < K; k++)
                o[k] = m->base_margin;
            for (uint32_t t = 0; t < m->n_trees; t++)
                o[t % K] += tree_value(m->nodes + m->tree_off[t], xr);
            if (kind == GBDT_PROBABILITY) {
                float mx = o[0], sum = 0;
                for (size_t k = 1; k < K; k++)
                    mx = fmaxf(mx, o[k]);
                for (size_t k = 0; k < K; k++)
                    sum += (o[k] = expf(o[k] - mx));
                for (size_t k = 0; k < K; k++)
                    o[k] /= sum;
            }
        }
        return 0;
    }
    for (size_t r = 0; r < nrows; r++) {
        const float *xr = x + r * ncols;
        float s = m->base_margin;
        for (uint32_t t = 0; t < m->n_trees; t++)
            s += tree_value(m->nodes + m->tree_off[t], xr);
        out[r] = kind == GBDT_MARGIN || m->objective == GBDT_OBJ_REGRESSION ? s : 1.0f / (1.0f + expf(-s));
    }
    return 0;
}

void gbdt_importance(const gbdt_model *m, int kind, double *out)
{
    memset(out, 0, m->n_features * sizeof *out);
    size_t nn = m->tree_off[m->n_trees];
    for (size_t i = 0; i < nn; i++) {
        const gbdt_node *n = &m->nodes[i];
        if (n->feature >= 0)
            out[n->feature] += kind == GBDT_IMPORTANCE_SPLITS  ? 1.0
                               : kind == GBDT_IMPORTANCE_COVER ? (double)n->cover
                                                               : (double)n->gain;
    }
}

/* ------------------------------------------------------------------------------ */
/* Training */

typedef struct gpair {
    float g, h;
} gpair;

typedef struct tnode {
    uint32_t begin, end; /* rows idx[begin, end) */
    double G, H;
    int hist;    /* histogram buffer, -1 none */
    int sibling; /* for a node whose histogram is parent - sibling: the sibling, else -1 */
    int depth;
    /* best split (feature < 0: none) */
    int feature, bin, default_left;
    double gain, GL, HL;
    int left, right; /* children, -1 for a leaf */
} tnode;

typedef struct trainer {
    const gbdt_params *p;
    const gbdt_dataset *ds;
    team *tm;
    size_t n, ncols;
    gpair *gh;     /* gradients of the tree being grown (a slice of gh_all) */
    gpair *gh_all; /* n x K, class-major: class k's rows at gh_all + k * n */
    float *margin; /* n x K, row-major */
    int K, cls;    /* outputs (trees per round) and the class of the tree being grown */
    uint32_t *idx, *tmp;
    uint32_t nidx;
    uint32_t *sel; /* selected features, ascending */
    uint32_t nsel;
    size_t hslots;
    double **bufs;
    int nbufs, *freeb, nfree;
    tnode *nodes;
    int nnodes, capnodes;
    int *work; /* node lists per phase */
    int nwork;
    int fblocks;
    double lambda, mcw;
} trainer;

static int get_buf(trainer *t)
{
    if (t->nfree > 0)
        return t->freeb[--t->nfree];
    double **nb = realloc(t->bufs, (size_t)(t->nbufs + 1) * sizeof *nb);
    int *nf = realloc(t->freeb, (size_t)(t->nbufs + 1) * sizeof *nf);
    if (nb)
        t->bufs = nb;
    if (nf)
        t->freeb = nf;
    if (!nb || !nf)
        return -1;
    double *b = malloc(t->hslots * 2 * sizeof(double));
    if (!b)
        return -1;
    t->bufs[t->nbufs] = b;
    return t->nbufs++;
}

static void put_buf(trainer *t, int b)
{
    if (b >= 0)
        t->freeb[t->nfree++] = b;
}

static int new_node(trainer *t)
{
    if (t->nnodes == t->capnodes) {
        int cap = t->capnodes ? t->capnodes * 2 : 64;
        tnode *n = realloc(t->nodes, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        t->nodes = n;
        int *w = realloc(t->work, (size_t)cap * sizeof *w); /* lists distinct nodes */
        if (!w)
            return -1;
        t->work = w;
        t->capnodes = cap;
    }
    tnode *n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof *n);
    n->hist = -1;
    n->sibling = -1;
    n->feature = -1;
    n->left = n->right = -1;
    return t->nnodes++;
}

#define HIST_PF 16 /* rows of prefetch distance in hist_task */
#if defined(__SSE2__)
#define HIST_PAIR_DECL(G, H) const __m128d gh2 = _mm_set_pd((H), (G))
#define HIST_PAIR_ADD(p)                                          \
    do {                                                          \
        double *s_ = (p);                                         \
        _mm_storeu_pd(s_, _mm_add_pd(_mm_loadu_pd(s_), gh2));     \
    } while (0)
#else
#define HIST_PAIR_DECL(G, H) const double g2_ = (G), h2_ = (H)
#define HIST_PAIR_ADD(p)  \
    do {                  \
        double *s_ = (p); \
        s_[0] += g2_;     \
        s_[1] += h2_;     \
    } while (0)
#endif

/* Histogram of node work[task / fblocks] over its feature block task % fblocks. */
static void hist_task(void *vctx, size_t task, int tid)
{
    (void)tid;
    trainer *t = vctx;
    const tnode *nd = &t->nodes[t->work[task / (size_t)t->fblocks]];
    size_t blk = task % (size_t)t->fblocks;
    uint32_t j0 = (uint32_t)(blk * t->nsel / (size_t)t->fblocks);
    uint32_t j1 = (uint32_t)((blk + 1) * t->nsel / (size_t)t->fblocks);
    double *h = t->bufs[nd->hist];
    const uint32_t *hoff = t->ds->hoff;
    for (uint32_t j = j0; j < j1; j++) {
        uint32_t f = t->sel[j];
        memset(h + 2 * (size_t)hoff[f], 0, 2 * (size_t)(hoff[f + 1] - hoff[f]) * sizeof(double));
    }
    const uint8_t *bins = t->ds->bins;
    const size_t ncols = t->ncols;
    const uint32_t *idx = t->idx;
    const gpair *gh = t->gh;
    /* The rows of a node are scattered (idx after partitioning): the row's bins and its
     * gradient pair are prefetched HIST_PF rows ahead. Each (g, h) bin pair is added
     * as one 128-bit pair where SSE2 is there (the same two additions). */
    if (t->nsel == ncols) { /* all features: contiguous slice of each row */
        const uint32_t *ho = hoff + j0;
        uint32_t nf = j1 - j0;
        for (uint32_t i = nd->begin; i < nd->end; i++) {
            uint32_t r = idx[i];
            if (i + HIST_PF < nd->end) {
                uint32_t rp = idx[i + HIST_PF];
                __builtin_prefetch(bins + (size_t)rp * ncols + j0);
                __builtin_prefetch(&gh[rp]);
            }
            const uint8_t *b = bins + (size_t)r * ncols + j0;
            HIST_PAIR_DECL(gh[r].g, gh[r].h);
            for (uint32_t k = 0; k < nf; k++)
                HIST_PAIR_ADD(h + 2 * (size_t)(ho[k] + b[k]));
        }
    } else {
        const uint32_t *sel = t->sel;
        for (uint32_t i = nd->begin; i < nd->end; i++) {
            uint32_t r = idx[i];
            if (i + HIST_PF < nd->end) {
                uint32_t rp = idx[i + HIST_PF];
                __builtin_prefetch(bins + (size_t)rp * ncols);
                __builtin_prefetch(&gh[rp]);
            }
            const uint8_t *b = bins + (size_t)r * ncols;
            HIST_PAIR_DECL(gh[r].g, gh[r].h);
            for (uint32_t j = j0; j < j1; j++) {
                uint32_t f = sel[j];
                HIST_PAIR_ADD(h + 2 * (size_t)(hoff[f] + b[f]));
            }
        }
    }
}

static inline double score(double G, double H, double lambda)
{
    return G * G / (H + lambda);
}

/* For node work[task]: derive its histogram by subtraction if needed, find its split. */
static void split_task(void *vctx, size_t task, int tid)
{
    (void)tid;
    trainer *t = vctx;
    tnode *nd = &t->nodes[t->work[task]];
    double *h = t->bufs[nd->hist];
    const uint32_t *hoff = t->ds->hoff;
    if (nd->sibling >= 0) {
        const double *s = t->bufs[t->nodes[nd->sibling].hist];
        for (uint32_t j = 0; j < t->nsel; j++) {
            uint32_t f = t->sel[j];
            for (size_t k = 2 * (size_t)hoff[f]; k < 2 * (size_t)hoff[f + 1]; k++)
                h[k] -= s[k];
        }
    }
    const double G = nd->G, H = nd->H, lambda = t->lambda, mcw = t->mcw;
    const double parent = score(G, H, lambda);
    double best = 0, bGL = 0, bHL = 0;
    int bf = -1, bbin = 0, bdl = 0;
    for (uint32_t j = 0; j < t->nsel; j++) {
        uint32_t f = t->sel[j];
        const double *hs = h + 2 * (size_t)hoff[f];
        uint32_t nv = hoff[f + 1] - hoff[f] - 1; /* value bins: codes 1..nv */
        double mg = hs[0], mh = hs[1];
        double gl = 0, hl = 0;
        if (mh > 0 && mh >= mcw && H - mh >= mcw && H - mh > 0) {
            /* missing values alone to the left, every value to the right (bin 0) */
            double gain = score(mg, mh, lambda) + score(G - mg, H - mh, lambda) - parent;
            if (gain > best) {
                best = gain;
                bf = (int)f;
                bbin = 0;
                bdl = 1;
                bGL = mg;
                bHL = mh;
            }
        }
        for (uint32_t k = 1; k < nv; k++) {
            gl += hs[2 * k];
            hl += hs[2 * k + 1];
            /* missing values go right */
            double HL = hl, HR = H - hl;
            if (HL >= mcw && HR >= mcw && HL > 0 && HR > 0) {
                double gain = score(gl, HL, lambda) + score(G - gl, HR, lambda) - parent;
                if (gain > best) {
                    best = gain;
                    bf = (int)f;
                    bbin = (int)k;
                    bdl = 0;
                    bGL = gl;
                    bHL = HL;
                }
            }
            if (mh > 0) { /* missing values go left */
                double GL2 = gl + mg, HL2 = hl + mh, HR2 = H - HL2;
                if (HL2 >= mcw && HR2 >= mcw && HR2 > 0) {
                    double gain = score(GL2, HL2, lambda) + score(G - GL2, HR2, lambda) - parent;
                    if (gain > best) {
                        best = gain;
                        bf = (int)f;
                        bbin = (int)k;
                        bdl = 1;
                        bGL = GL2;
                        bHL = HL2;
                    }
                }
            }
        }
        if (bf == (int)f && mh <= 0) /* no missing seen here: send unseen NaN to the bigger side */
            bdl = bHL >= H - bHL;
    }
    nd->feature = best > 1e-6 && best > t->p->gamma ? bf : -1;
    nd->bin = bbin;
    nd->default_left = bdl;
    nd->gain = best;
    nd->GL = bGL;
    nd->HL = bHL;
}

static void partition_task(void *vctx, size_t task, int tid)
{
    (void)tid;
    trainer *t = vctx;
    tnode *nd = &t->nodes[t->work[task]];
    const uint8_t *bins = t->ds->bins + nd->feature;
    const size_t ncols = t->ncols;
    const uint8_t k = (uint8_t)nd->bin, dl = (uint8_t)nd->default_left;
    uint32_t w = nd->begin, nr = 0;
    uint32_t *idx = t->idx, *tmp = t->tmp + nd->begin;
    /* branch-free (a row goes left about half the time: a branch mispredicts), the
     * rows' bytes prefetched ahead: the same order as the branchy loop */
    for (uint32_t i = nd->begin; i < nd->end; i++) {
        uint32_t r = idx[i];
        if (i + HIST_PF < nd->end)
            __builtin_prefetch(bins + (size_t)idx[i + HIST_PF] * ncols);
        uint8_t c = bins[(size_t)r * ncols];
        uint32_t left = c == 0 ? dl : c <= k;
        idx[w] = r;
        tmp[nr] = r;
        w += left;
        nr += 1 - left;
    }
    memcpy(idx + w, tmp, nr * sizeof *idx);
    t->nodes[nd->left].begin = nd->begin;
    t->nodes[nd->left].end = w;
    t->nodes[nd->right].begin = w;
    t->nodes[nd->right].end = nd->end;
}

/* Grows one tree into t->nodes (node 0 = root, children after parents). */
static int grow_tree(trainer *t, mlhep_err *e)
{
    t->nnodes = 0;
    int root = new_node(t);
    if (root < 0)
        return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for tree nodes");
    tnode *rn = &t->nodes[root];
    rn->begin = 0;
    rn->end = t->nidx;
    double G = 0, H = 0;
    for (uint32_t i = 0; i < t->nidx; i++) {
        G += t->gh[t->idx[i]].g;
        H += t->gh[t->idx[i]].h;
    }
    rn->G = G;
    rn->H = H;
    rn->hist = get_buf(t);
    if (rn->hist < 0)
        return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for histograms");
    int nt = team_size(t->tm);
    t->work[0] = root;
    t->nwork = 1;
    t->fblocks = nt > 1 ? (int)(t->nsel < (uint32_t)(2 * nt) ? t->nsel : (uint32_t)(2 * nt)) : 1;
    team_tasks(t->tm, hist_task, t, (size_t)t->fblocks);
    team_tasks(t->tm, split_task, t, 1);
    int lvl_begin = 0, lvl_end = 1;
    for (int depth = 0; depth < t->p->max_depth; depth++) {
        /* split the nodes of this level that found a split */
        t->nwork = 0;
        for (int i = lvl_begin; i < lvl_end; i++) {
            if (t->nodes[i].feature < 0) {
                put_buf(t, t->nodes[i].hist);
                t->nodes[i].hist = -1;
                continue;
            }
            int l = new_node(t), r = new_node(t);
            if (l < 0 || r < 0)
                return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for tree nodes");
            tnode *nd = &t->nodes[i];
            nd->left = l;
            nd->right = r;
            t->nodes[l].depth = t->nodes[r].depth = depth + 1;
            t->nodes[l].G = nd->GL;
            t->nodes[l].H = nd->HL;
            t->nodes[r].G = nd->G - nd->GL;
            t->nodes[r].H = nd->H - nd->HL;
            t->work[t->nwork++] = i;
        }
        if (t->nwork == 0)
            break;
        team_tasks(t->tm, partition_task, t, (size_t)t->nwork);
        int nsplit = t->nwork;
        int next_begin = lvl_end, next_end = t->nnodes;
        if (depth + 1 == t->p->max_depth) {
            for (int j = 0; j < nsplit; j++) {
                put_buf(t, t->nodes[t->work[j]].hist);
                t->nodes[t->work[j]].hist = -1;
            }
            break;
        }
        /* smaller child gets a fresh histogram, larger one inherits the parent's */
        int nbuild = 0;
        for (int j = 0; j < nsplit; j++) {
            tnode *nd = &t->nodes[t->work[j]];
            tnode *l = &t->nodes[nd->left], *r = &t->nodes[nd->right];
            int lsmall = (l->end - l->begin) <= (r->end - r->begin);
            tnode *sm = lsmall ? l : r, *lg = lsmall ? r : l;
            lg->hist = nd->hist;
            lg->sibling = lsmall ? nd->left : nd->right;
            nd->hist = -1;
            sm->hist = get_buf(t);
            if (sm->hist < 0)
                return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for histograms");
            t->work[nbuild++] = lsmall ? nd->left : nd->right;
        }
        t->nwork = nbuild;
        t->fblocks = nt > 1 && nbuild < 2 * nt
                         ? (int)(t->nsel < (uint32_t)(2 * nt) ? t->nsel : (uint32_t)(2 * nt))
                         : 1;
        team_tasks(t->tm, hist_task, t, (size_t)nbuild * (size_t)t->fblocks);
        t->nwork = 0;
        for (int i = next_begin; i < next_end; i++)
            t->work[t->nwork++] = i;
        team_tasks(t->tm, split_task, t, (size_t)t->nwork);
        lvl_begin = next_begin;
        lvl_end = next_end;
    }
    for (int i = 0; i < t->nnodes; i++) {
        put_buf(t, t->nodes[i].hist);
        t->nodes[i].hist = -1;
    }
    return 0;
}

/* Binned traversal of the tree being built (same routing as the float model). */
static inline int tnode_leaf(const tnode *nodes, const uint8_t *row)
{
    int i = 0;
    while (nodes[i].left >= 0) {
        uint8_t c = row[nodes[i].feature];
        int left = c == 0 ? nodes[i].default_left : c <= (uint8_t)nodes[i].bin;
        i = left ? nodes[i].left : nodes[i].right;
    }
    return i;
}

/* Adds leaf values to the margins of the rows each leaf holds (when every row took
 * part in the tree, the partition already knows each row's leaf). */
typedef struct leafadd_ctx {
    const trainer *t;
    const float *leafval;
} leafadd_ctx;

static void leafadd_task(void *vctx, size_t task, int tid)
{
    (void)tid;
    leafadd_ctx *c = vctx;
    const trainer *t = c->t;
    const tnode *nd = &t->nodes[task];
    if (nd->left >= 0)
        return;
    float v = c->leafval[task];
    const size_t K = (size_t)t->K, k = (size_t)t->cls;
    for (uint32_t i = nd->begin; i < nd->end; i++)
        t->margin[(size_t)t->idx[i] * K + k] += v;
}

typedef struct update_ctx {
    const tnode *nodes;   /* NULL: no tree to add, only gradients/loss */
    const float *leafval; /* per tnode */
    const gbdt_dataset *ds;
    float *margin;        /* nrows x K */
    gpair *gh;            /* NULL: no gradients (validation set); else nrows x K, class-major */
    double *loss, *wsum;  /* per block */
    int K, cls;           /* the tree adds to output cls */
    int compute;          /* 0: only add the tree (not the last class of a round) */
} update_ctx;

/* For a block of rows: add the tree to the margins, then the loss and the next
 * gradients of the objective: logistic (binary), softmax cross-entropy (multiclass:
 * h = 2p(1-p) as XGBoost), squared error (regression: g = m - y, h = 1), each times the
 * row's weight. */
static void update_task(void *vctx, size_t task, int tid)
{
    (void)tid;
    update_ctx *c = vctx;
    const gbdt_dataset *ds = c->ds;
    size_t r0, r1;
    row_block(task, ds->nrows, &r0, &r1);
    double loss = 0, ws = 0;
    const size_t K = (size_t)c->K, n = ds->nrows;
    for (size_t r = r0; r < r1; r++) {
        float *mr = c->margin + r * K;
        if (c->nodes)
            mr[c->cls] += c->leafval[tnode_leaf(c->nodes, ds->bins + r * ds->ncols)];
        if (!c->compute)
            continue;
        float y = ds->y[r], w = ds->w[r];
        ws += w;
        if (ds->objective == GBDT_OBJ_REGRESSION) {
            float d = mr[0] - y;
            loss += (double)w * d * d;
            if (c->gh) {
                c->gh[r].g = d * w;
                c->gh[r].h = w;
            }
            continue;
        }
        if (ds->objective == GBDT_OBJ_MULTICLASS) {
            float mx = mr[0], sum = 0;
            for (size_t k = 1; k < K; k++)
                mx = fmaxf(mx, mr[k]);
            for (size_t k = 0; k < K; k++)
                sum += expf(mr[k] - mx);
            size_t yk = (size_t)y;
            loss += (double)w * ((double)logf(sum) + mx - mr[yk]);
            for (size_t k = 0; c->gh && k < K; k++) {
                float p = expf(mr[k] - mx) / sum;
                c->gh[k * n + r].g = (p - (k == yk ? 1.0f : 0.0f)) * w;
                c->gh[k * n + r].h = fmaxf(2.0f * p * (1.0f - p), 1e-16f) * w;
            }
            continue;
        }
        float m = mr[0];
        float ex = expf(-fabsf(m));
        float p = m >= 0 ? 1.0f / (1.0f + ex) : ex / (1.0f + ex);
        float l1p = logf(1.0f + ex); /* ex in (0,1]: accurate enough for the loss report */
        loss += (double)w * (y * (fmaxf(-m, 0) + l1p) + (1 - y) * (fmaxf(m, 0) + l1p));
        if (c->gh) {
            c->gh[r].g = (p - y) * w;
            c->gh[r].h = fmaxf(p * (1.0f - p), 1e-16f) * w;
        }
    }
    c->loss[task] = loss;
    c->wsum[task] = ws;
}

static double run_update(team *tm, update_ctx *c)
{
    size_t nb = row_blocks(c->ds->nrows);
    team_tasks(tm, update_task, c, nb);
    double l = 0, w = 0;
    for (size_t b = 0; b < nb; b++) {
        l += c->loss[b];
        w += c->wsum[b];
    }
    return w > 0 ? l / w : NAN;
}

/* Appends the finished tree to the model arrays. */
static int append_tree(gbdt_model *m, size_t *capnodes, const trainer *t, const float *leafval)
{
    size_t base = m->tree_off[m->n_trees];
    if (base + (size_t)t->nnodes > *capnodes) {
        size_t cap = *capnodes ? *capnodes : 1024;
        while (cap < base + (size_t)t->nnodes)
            cap *= 2;
        gbdt_node *nn = realloc(m->nodes, cap * sizeof *nn);
        if (!nn)
            return -1;
        m->nodes = nn;
        *capnodes = cap;
    }
    const gbdt_dataset *ds = t->ds;
    for (int i = 0; i < t->nnodes; i++) {
        const tnode *s = &t->nodes[i];
        gbdt_node *d = &m->nodes[base + (size_t)i];
        memset(d, 0, sizeof *d);
        d->cover = (float)s->H;
        if (s->left >= 0) {
            d->feature = s->feature;
            d->default_left = (uint8_t)s->default_left;
            /* bin 0 (only missing values go left): no value is < -inf */
            d->threshold = s->bin == 0 ? -INFINITY
                                       : ds->cuts[ds->cut_off[s->feature] + (uint32_t)s->bin - 1];
            d->left = (uint32_t)s->left;
            d->right = (uint32_t)s->right;
            d->gain = (float)s->gain;
        } else {
            d->feature = -1;
            d->value = leafval[i];
        }
    }
    m->tree_off[m->n_trees + 1] = (uint32_t)(base + (size_t)t->nnodes);
    m->n_trees++;
    return 0;
}

void gbdt_history_free(gbdt_history *h)
{
    if (!h)
        return;
    free(h->train_loss);
    free(h->valid_loss);
    h->train_loss = h->valid_loss = NULL;
    h->n_rounds = h->n_kept = 0;
}

int gbdt_train(const gbdt_params *p, const gbdt_dataset *train, const gbdt_dataset *valid,
               gbdt_model **out, gbdt_history *hist, mlhep_err *e)
{
    *out = NULL;
    if (hist)
        memset(hist, 0, sizeof *hist);
    int rc = gbdt_params_check(p, e);
    if (rc)
        return rc;
    if (train->nrows == 0)
        return err_set(e, MLHEP_EINVAL, "gbdt: no training rows");
    if (valid && (valid->ncols != train->ncols ||
                  memcmp(valid->hoff, train->hoff, (train->ncols + 1) * sizeof(uint32_t)) != 0 ||
                  memcmp(valid->cuts, train->cuts,
                         train->cut_off[train->ncols] * sizeof(float)) != 0))
        return err_set(e, MLHEP_EINVAL,
                       "gbdt: validation set does not share the training set's bin cuts "
                       "(make it with gbdt_dataset_new_like)");
    if (valid && valid->nrows == 0)
        valid = NULL;
    if (p->early_stopping_rounds > 0 && !valid)
        return err_set(e, MLHEP_EINVAL, "gbdt: early_stopping_rounds needs a validation set");

    if (valid && (valid->objective != train->objective || valid->n_classes != train->n_classes))
        return err_set(e, MLHEP_EINVAL, "gbdt: the validation set was made for another objective");
    if (train->objective != p->objective || train->n_classes != p->n_classes)
        return err_set(e, MLHEP_EINVAL, "gbdt: the training set was made for another objective");

    trainer t;
    memset(&t, 0, sizeof t);
    t.p = p;
    t.ds = train;
    t.n = train->nrows;
    t.K = p->objective == GBDT_OBJ_MULTICLASS ? p->n_classes : 1;
    const size_t K = (size_t)t.K;
    t.ncols = train->ncols;
    t.hslots = train->hoff[train->ncols];
    t.lambda = p->lambda;
    t.mcw = p->min_child_weight;
    size_t nblk = row_blocks(t.n);
    size_t nvblk = valid ? row_blocks(valid->nrows) : 0;
    size_t maxblk = nblk > nvblk ? nblk : nvblk;
    gbdt_model *m = calloc(1, sizeof *m);
    double *bl = malloc(2 * maxblk * sizeof(double));
    float *vmargin = valid ? malloc(valid->nrows * K * sizeof(float)) : NULL;
    float *leafval = NULL;
    size_t capnodes = 0;
    t.gh_all = malloc(t.n * K * sizeof *t.gh_all);
    t.gh = t.gh_all;
    t.margin = malloc(t.n * K * sizeof(float));
    t.idx = malloc(t.n * sizeof(uint32_t));
    t.tmp = malloc(t.n * sizeof(uint32_t));
    t.sel = malloc(t.ncols * sizeof(uint32_t));
    if (hist) {
        hist->train_loss = malloc((size_t)p->n_trees * sizeof(double));
        if (valid)
            hist->valid_loss = malloc((size_t)p->n_trees * sizeof(double));
    }
    if (m) {
        m->tree_off = malloc(((size_t)p->n_trees * K + 1) * sizeof(uint32_t));
        m->n_features = (uint32_t)t.ncols;
        m->objective = (uint32_t)p->objective;
        m->n_outputs = (uint32_t)K;
        if (p->objective == GBDT_OBJ_BINARY) {
            m->base_margin = logf(p->base_score / (1.0f - p->base_score));
        } else if (p->objective == GBDT_OBJ_REGRESSION) { /* the weighted mean target */
            double sy = 0, sw = 0;
            for (size_t r = 0; r < t.n; r++) {
                sy += (double)train->w[r] * train->y[r];
                sw += train->w[r];
            }
            m->base_margin = sw > 0 ? (float)(sy / sw) : 0.0f;
        }
    }
    if (!m || !m->tree_off || !bl || (valid && !vmargin) || team_new(resolve_threads(p->n_threads), &t.tm, NULL) || !t.gh_all || !t.margin ||
        !t.idx || !t.tmp || !t.sel ||
        (hist && (!hist->train_loss || (valid && !hist->valid_loss)))) {
        rc = err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for training on %zu rows", t.n);
        goto done;
    }
    m->tree_off[0] = 0;
    for (size_t r = 0; r < t.n * K; r++)
        t.margin[r] = m->base_margin;
    for (size_t r = 0; valid && r < valid->nrows * K; r++)
        vmargin[r] = m->base_margin;
    update_ctx uc = {NULL, NULL, train, t.margin, t.gh_all, bl, bl + maxblk, t.K, 0, 1};
    run_update(t.tm, &uc); /* initial gradients */
    uint64_t draw = p->seed ^ 0x6a09e667f3bcc908ull; /* splitmix64 state: row and feature sampling */
    double best_loss = INFINITY;
    int best_round = -1;
    int rounds = 0;
    for (int round = 0; round < p->n_trees; round++) {
        /* rows and features for this tree */
        t.nidx = 0;
        if (p->subsample < 1) {
            for (size_t r = 0; r < t.n; r++)
                if (rng_to_unit(rng_splitmix(&draw)) < p->subsample)
                    t.idx[t.nidx++] = (uint32_t)r;
            if (t.nidx == 0)
                t.idx[t.nidx++] = (uint32_t)(rng_splitmix(&draw) % t.n);
        } else {
            for (size_t r = 0; r < t.n; r++)
                t.idx[r] = (uint32_t)r;
            t.nidx = (uint32_t)t.n;
        }
        uint32_t k = (uint32_t)lround((double)p->colsample_bytree * (double)t.ncols);
        if (k < 1)
            k = 1;
        if (k > t.ncols)
            k = (uint32_t)t.ncols;
        for (uint32_t f = 0; f < t.ncols; f++)
            t.sel[f] = f;
        if (k < t.ncols) {
            for (uint32_t i = 0; i < k; i++) { /* partial Fisher-Yates */
                uint32_t j = i + (uint32_t)(rng_splitmix(&draw) % (t.ncols - i));
                uint32_t tmp = t.sel[i];
                t.sel[i] = t.sel[j];
                t.sel[j] = tmp;
            }
            /* ascending order for memory locality (insertion sort: k is small) */
            for (uint32_t i = 1; i < k; i++) {
                uint32_t v = t.sel[i], j = i;
                while (j > 0 && t.sel[j - 1] > v) {
                    t.sel[j] = t.sel[j - 1];
                    j--;
                }
                t.sel[j] = v;
            }
        }
        t.nsel = k;

        /* one tree per output (class) on the gradients of the round's start; the loss and
         * the next gradients once the round's last tree is added */
        double tl = NAN, vl = NAN;
        for (int cls = 0; cls < t.K; cls++) {
            t.cls = cls;
            t.gh = t.gh_all + (size_t)cls * t.n;
            rc = grow_tree(&t, e);
            if (rc)
                goto done;
            float *lv = realloc(leafval, (size_t)t.nnodes * sizeof(float));
            if (!lv) {
                rc = err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for leaf values");
                goto done;
            }
            leafval = lv;
            for (int i = 0; i < t.nnodes; i++) {
                const tnode *nd = &t.nodes[i];
                leafval[i] = nd->left >= 0 ? 0.0f
                                           : (float)(-nd->G / (nd->H + t.lambda) * p->learning_rate);
            }
            if (append_tree(m, &capnodes, &t, leafval) != 0) {
                rc = err_set(e, MLHEP_ENOMEM, "gbdt: out of memory for the model");
                goto done;
            }
            int last = cls == t.K - 1;
            update_ctx u = {t.nodes, leafval, train, t.margin, t.gh_all, bl, bl + maxblk, t.K, cls, last};
            if (t.nidx == t.n) { /* all rows are in the leaves' ranges: no traversal needed */
                leafadd_ctx la = {&t, leafval};
                team_tasks(t.tm, leafadd_task, &la, (size_t)t.nnodes);
                u.nodes = NULL;
            }
            if (u.nodes || last)
                tl = run_update(t.tm, &u);
            if (valid) {
                update_ctx v = {t.nodes, leafval, valid, vmargin, NULL, bl, bl + maxblk, t.K, cls, last};
                vl = run_update(t.tm, &v);
            }
        }
        if (hist) {
            hist->train_loss[round] = tl;
            if (valid)
                hist->valid_loss[round] = vl;
        }
        rounds = round + 1;
        if (valid && vl < best_loss) {
            best_loss = vl;
            best_round = round;
        }
        if (p->early_stopping_rounds > 0 && round - best_round >= p->early_stopping_rounds)
            break;
        if (p->progress && p->progress(p->progress_ctx, round, tl, vl) != 0)
            break;
    }
    if (p->early_stopping_rounds > 0 && best_round >= 0)
        m->n_trees = ((uint32_t)best_round + 1) * (uint32_t)K;
    if (hist) {
        hist->n_rounds = rounds;
        hist->n_kept = (int)m->n_trees;
    }
done:
    for (int i = 0; i < t.nbufs; i++)
        free(t.bufs[i]);
    free(t.bufs);
    free(t.freeb);
    free(t.nodes);
    free(t.work);
    free(t.sel);
    free(t.tmp);
    free(t.idx);
    free(t.margin);
    free(t.gh_all);
    team_free(t.tm);
    free(leafval);
    free(vmargin);
    free(bl);
    if (rc) {
        gbdt_model_free(m);
        if (hist)
            gbdt_history_free(hist);
        return rc;
    }
    *out = m;
    return 0;
}

int gbdt_train_dense(const gbdt_params *p, const float *x, const float *y, const float *w,
                     size_t nrows, size_t ncols, const float *xv, const float *yv,
                     const float *wv, size_t nvalid, gbdt_model **out, gbdt_history *hist,
                     mlhep_err *e)
{
    *out = NULL;
    gbdt_dataset *tr = NULL, *va = NULL;
    int rc = gbdt_dataset_new(p, x, nrows, ncols, &tr, e);
    if (!rc)
        rc = gbdt_dataset_append(tr, x, y, w, nrows, e);
    if (!rc && nvalid > 0) {
        rc = gbdt_dataset_new_like(tr, &va, e);
        if (!rc)
            rc = gbdt_dataset_append(va, xv, yv, wv, nvalid, e);
        if (rc)
            err_prefix(e, "validation set");
    }
    if (!rc)
        rc = gbdt_train(p, tr, va, out, hist, e);
    gbdt_dataset_free(tr);
    gbdt_dataset_free(va);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* Serialisation. All integers little-endian, floats IEEE-754 binary32 little-endian.
 *
 *   offset  size  field
 *   0       4     magic "GBDT"
 *   4       4     u32 version: 1 (binary models, as every model before objectives other
 *                 than the logistic existed) or 2
 *   8       4     u32 objective: 1 binary logistic (probability = sigmoid(margin)),
 *                 2 multiclass softmax, 3 regression (squared error; the prediction is
 *                 the margin); version 1 only 1
 *   12      4     u32 n_features (>= 1)
 *   16      4     u32 n_trees (multiclass: a multiple of n_outputs; tree t adds to the
 *                 margin of class t % n_outputs)
 *   20      4     f32 base_margin (finite; added to the sum of the trees, of each class)
 *   version 2 only:
 *   24      4     u32 n_outputs (multiclass: 2 .. GBDT_MAX_CLASSES; else 1)
 *   then    4*T   u32 node count of each tree (>= 1)
 *   then every node of tree 0, tree 1, ..., NODE_BYTES = 29 bytes each:
 *           i32 feature (-1 = leaf, else 0 .. n_features-1)
 *           u8  default_left (0/1: where NaN goes)
 *           f32 threshold (internal: x < threshold goes left; not NaN)
 *           f32 value (leaf: margin contribution; finite)
 *           u32 left, u32 right (internal: child indices within the tree, each greater
 *               than the node's own index; every node except the root is the child of
 *               exactly one node)
 *           f32 gain, f32 cover (split gain and hessian sum, for importance only)
 *   The buffer ends exactly after the last node. The model-file container around
 *   these bytes carries the file magic, version and checksum. */

#define GBDT_VERSION 2 /* written for objectives other than binary; binary models are
                          written as version 1, byte for byte as before */
#define GBDT_NODE_BYTES 29

int gbdt_serialize(const gbdt_model *m, uint8_t **buf, size_t *len, mlhep_err *e)
{
    size_t nn = m->tree_off[m->n_trees];
    int v1 = m->objective == GBDT_OBJ_BINARY;
    size_t n = (v1 ? 24 : 28) + 4 * (size_t)m->n_trees + GBDT_NODE_BYTES * nn;
    wbuf w = WBUF_INIT;
    wbuf_reserve(&w, n);
    wbuf_put(&w, "GBDT", 4);
    wbuf_le32(&w, v1 ? 1 : GBDT_VERSION);
    wbuf_le32(&w, m->objective);
    wbuf_le32(&w, m->n_features);
    wbuf_le32(&w, m->n_trees);
    wbuf_lef32(&w, m->base_margin);
    if (!v1)
        wbuf_le32(&w, m->n_outputs);
    for (uint32_t t = 0; t < m->n_trees; t++)
        wbuf_le32(&w, m->tree_off[t + 1] - m->tree_off[t]);
    for (size_t i = 0; i < nn; i++) {
        const gbdt_node *d = &m->nodes[i];
        wbuf_le32(&w, (uint32_t)d->feature);
        wbuf_u8(&w, d->default_left);
        wbuf_lef32(&w, d->threshold);
        wbuf_lef32(&w, d->value);
        wbuf_le32(&w, d->left);
        wbuf_le32(&w, d->right);
        wbuf_lef32(&w, d->gain);
        wbuf_lef32(&w, d->cover);
    }
    if (!wbuf_ok(&w)) {
        wbuf_free(&w);
        return err_set(e, MLHEP_ENOMEM, "gbdt: out of memory serialising %zu nodes", nn);
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}

int gbdt_deserialize(const uint8_t *buf, size_t len, gbdt_model **out, mlhep_err *e)
{
    *out = NULL;
    cursor r;
    cur_init(&r, buf, len);
    if (len < 24)
        return err_set(e, MLHEP_EFORMAT, "gbdt model: %zu bytes, too short for the header", len);
    if (memcmp(buf, "GBDT", 4) != 0)
        return err_set(e, MLHEP_EFORMAT, "gbdt model: bad magic (not a GBDT section)");
    cur_seek(&r, 4);
    uint32_t ver = cur_le32(&r), obj = cur_le32(&r), nf = cur_le32(&r), nt = cur_le32(&r);
    float base = cur_lef32(&r);
    if (ver != 1 && ver != GBDT_VERSION)
        return err_set(e, MLHEP_EFORMAT, "gbdt model: version %u not supported (this build reads 1 and %d)",
                       ver, GBDT_VERSION);
    uint32_t nout = ver == 1 ? 1 : cur_le32(&r);
    if (!cur_ok(&r))
        return err_set(e, MLHEP_EFORMAT, "gbdt model: %zu bytes, too short for the header", len);
    if (obj != GBDT_OBJ_BINARY && (ver == 1 || (obj != GBDT_OBJ_MULTICLASS && obj != GBDT_OBJ_REGRESSION)))
        return err_set(e, MLHEP_EFORMAT, "gbdt model: unknown objective %u", obj);
    if (obj == GBDT_OBJ_BINARY && ver != 1) /* one encoding per model: binary is written as version 1 */
        return err_set(e, MLHEP_EFORMAT, "gbdt model: a binary model is version 1, not %u", ver);
    if (obj == GBDT_OBJ_MULTICLASS ? nout < 2 || nout > GBDT_MAX_CLASSES || nt % nout != 0 : nout != 1)
        return err_set(e, MLHEP_EFORMAT, "gbdt model: %u outputs and %u trees do not fit objective %u",
                       nout, nt, obj);
    if (nf == 0 || nf > (1u << 24))
        return err_set(e, MLHEP_EFORMAT, "gbdt model: %u features out of range", nf);
    if (!isfinite(base))
        return err_set(e, MLHEP_EFORMAT, "gbdt model: base margin is not finite");
    if ((size_t)nt > cur_left(&r) / 4)
        return err_set(e, MLHEP_EFORMAT, "gbdt model: %u trees but only %zu bytes left "
                       "(truncated or corrupt)", nt, cur_left(&r));
    gbdt_model *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(e, MLHEP_ENOMEM, "gbdt model: out of memory");
    m->n_features = nf;
    m->base_margin = base;
    m->objective = obj;
    m->n_outputs = nout;
    m->tree_off = malloc(((size_t)nt + 1) * sizeof(uint32_t));
    uint8_t *seen = NULL;
    int rc = 0;
    if (!m->tree_off) {
        rc = err_set(e, MLHEP_ENOMEM, "gbdt model: out of memory for %u trees", nt);
        goto fail;
    }
    size_t total = 0, maxcnt = 0;
    size_t room = (cur_left(&r) - 4 * (size_t)nt) / GBDT_NODE_BYTES;
    m->tree_off[0] = 0;
    for (uint32_t t = 0; t < nt; t++) {
        uint32_t c = cur_le32(&r);
        if (c == 0) {
            rc = err_set(e, MLHEP_EFORMAT, "gbdt model: tree %u has no nodes", t);
            goto fail;
        }
        total += c;
        if (total > room) {
            rc = err_set(e, MLHEP_EFORMAT,
                         "gbdt model: node counts exceed the %zu bytes present (truncated or "
                         "corrupt)", len);
            goto fail;
        }
        m->tree_off[t + 1] = (uint32_t)total;
        if (c > maxcnt)
            maxcnt = c;
    }
    m->nodes = malloc((total + 1) * sizeof *m->nodes);
    seen = calloc(maxcnt + 1, 1);
    if (!m->nodes || !seen) {
        rc = err_set(e, MLHEP_ENOMEM, "gbdt model: out of memory for %zu nodes", total);
        goto fail;
    }
    for (uint32_t t = 0; t < nt; t++) {
        uint32_t c = m->tree_off[t + 1] - m->tree_off[t];
        memset(seen, 0, c);
        for (uint32_t i = 0; i < c; i++) {
            gbdt_node *d = &m->nodes[m->tree_off[t] + i];
            d->feature = (int32_t)cur_le32(&r);
            d->default_left = cur_u8(&r);
            d->threshold = cur_lef32(&r);
            d->value = cur_lef32(&r);
            d->left = cur_le32(&r);
            d->right = cur_le32(&r);
            d->gain = cur_lef32(&r);
            d->cover = cur_lef32(&r);
            if (!cur_ok(&r)) {
                rc = err_set(e, MLHEP_EFORMAT, "gbdt model: truncated in tree %u", t);
                goto fail;
            }
            if (d->default_left > 1) {
                rc = err_set(e, MLHEP_EFORMAT, "gbdt model: tree %u node %u: bad flags %u", t,
                             i, d->default_left);
                goto fail;
            }
            if (d->feature == -1) {
                if (!isfinite(d->value)) {
                    rc = err_set(e, MLHEP_EFORMAT, "gbdt model: tree %u leaf %u: value not finite",
                                 t, i);
                    goto fail;
                }
                continue;
            }
            if (d->feature < 0 || (uint32_t)d->feature >= nf) {
                rc = err_set(e, MLHEP_EFORMAT,
                             "gbdt model: tree %u node %u: feature %d out of range [0, %u)", t, i,
                             d->feature, nf);
                goto fail;
            }
            if (isnan(d->threshold)) {
                rc = err_set(e, MLHEP_EFORMAT, "gbdt model: tree %u node %u: threshold is NaN",
                             t, i);
                goto fail;
            }
            if (d->left <= i || d->right <= i || d->left >= c || d->right >= c ||
                d->left == d->right || seen[d->left] || seen[d->right]) {
                rc = err_set(e, MLHEP_EFORMAT,
                             "gbdt model: tree %u node %u: bad children %u, %u (tree of %u nodes)",
                             t, i, d->left, d->right, c);
                goto fail;
            }
            seen[d->left] = seen[d->right] = 1;
        }
        for (uint32_t i = 1; i < c; i++)
            if (!seen[i]) {
                rc = err_set(e, MLHEP_EFORMAT, "gbdt model: tree %u node %u is unreachable", t, i);
                goto fail;
            }
    }
    if (r.pos != len) {
        rc = err_set(e, MLHEP_EFORMAT, "gbdt model: %zu unexpected bytes after the last tree",
                     len - r.pos);
        goto fail;
    }
    m->n_trees = nt;
    free(seen);
    *out = m;
    return 0;
fail:
    free(seen);
    gbdt_model_free(m);
    return rc;
}

/* treescore.c - score a ROOT tree through a predictor into a friend tree (see
 * treescore.h). */
#include "infer/treescore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/featmap.h"
#include "root/basket.h"
#include "root/rootfile.h"
#include "root/rootwrite.h"
#include "root/ttree.h"

typedef struct feat {
    char *name;
    int jagged;
    const tbranch *b;
    column *colp;  /* into the contiguous cols array (basket_read_many) */
    double *dv;    /* local: values as double */
    size_t dcap;
    int64_t *off;  /* offsets for fixed-size arrays */
    size_t ocap;
} feat;

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

/* One batch between its read and its write. */
typedef struct slot {
    uint64_t seq;
    int64_t first;
    size_t n;
    int busy, done;
    float *scores;
    size_t cap;
} slot;

typedef struct scorer {
    const treescore_opts *o;
    treescore_result *r;
    predict_model *pm;                 /* local */
    const treescore_transport *tp;     /* remote */
    char *model;       /* remote: the canonical reference, sent in every request */
    int timeout_ms;
    long B, W;
    size_t nf, k;
    feat *fs;
    column *cols;
    const tbranch **brs;
    slot *slots;
    sbuf sb;
    wbuf cb;
    colresp cr;
    featmap_col *fcols;
    float *xrows;
    rootfile *rf;
    ttree *t;
    rootw_file *wf;
    rootw_tree *wt;
} scorer;

/* ---- JSON "columns" requests ---- */

static int sb_grow(sbuf *s, size_t more)
{
    if (s->n + more <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 1 << 16;
    while (cap < s->n + more)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p)
        return -1;
    s->p = p;
    s->cap = cap;
    return 0;
}

static void sb_put(sbuf *s, const char *t, size_t n)
{
    memcpy(s->p + s->n, t, n);
    s->n += n;
}

static size_t fmt_i64(char *p, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        p[k++] = '-';
    while (n)
        p[k++] = tmp[--n];
    return k;
}

/* One value of a column as JSON text (at most 32 bytes); -1 if not finite. */
static int fmt_value(const column *c, size_t i, char *p)
{
    const void *v = c->values;
    switch (c->dt) {
    case DT_BOOL:
    case DT_U8: return (int)fmt_i64(p, ((const uint8_t *)v)[i]);
    case DT_I8: return (int)fmt_i64(p, ((const int8_t *)v)[i]);
    case DT_I16: return (int)fmt_i64(p, ((const int16_t *)v)[i]);
    case DT_U16: return (int)fmt_i64(p, ((const uint16_t *)v)[i]);
    case DT_I32: return (int)fmt_i64(p, ((const int32_t *)v)[i]);
    case DT_U32: return (int)fmt_i64(p, ((const uint32_t *)v)[i]);
    case DT_I64: return (int)fmt_i64(p, (long long)((const int64_t *)v)[i]);
    case DT_U64: return snprintf(p, 32, "%llu", (unsigned long long)((const uint64_t *)v)[i]);
    case DT_F32: {
        float f = ((const float *)v)[i];
        if (!isfinite(f))
            return -1;
        if (f == (float)(int32_t)f && fabsf(f) < 1e9f)
            return (int)fmt_i64(p, (int32_t)f);
        return snprintf(p, 32, "%.9g", (double)f);
    }
    case DT_F64: {
        double d = ((const double *)v)[i];
        if (!isfinite(d))
            return -1;
        if (d == (double)(int64_t)d && fabs(d) < 1e15)
            return (int)fmt_i64(p, (long long)(int64_t)d);
        return snprintf(p, 32, "%.17g", d);
    }
    default: return -1;
    }
}

/* Columnar request text for entries [0, n) of the columns just read. */
static int build_columns(const char *model, feat *fs, size_t nf, size_t n, int64_t first, sbuf *s, mlhep_err *e)
{
    s->n = 0;
    if (sb_grow(s, 64 + strlen(model)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->n = (size_t)sprintf(s->p, "{\"model\":\"%s\",\"columns\":{", model);
    for (size_t i = 0; i < nf; i++) {
        feat *f = &fs[i];
        const column *c = f->colp;
        size_t per = c->jagged ? 0 : (size_t)(c->per_entry > 0 ? c->per_entry : 1);
        if (sb_grow(s, strlen(f->name) + 8 + c->nvalues * 33 + n * 4))
            return err_set(e, MLHEP_ENOMEM, "out of memory for a batch of %zu entries", n);
        if (i)
            s->p[s->n++] = ',';
        s->p[s->n++] = '"';
        sb_put(s, f->name, strlen(f->name));
        sb_put(s, "\":[", 3);
        for (size_t r = 0; r < n; r++) {
            if (r)
                s->p[s->n++] = ',';
            size_t lo, hi;
            if (c->jagged) {
                lo = (size_t)c->offsets[r];
                hi = (size_t)c->offsets[r + 1];
            } else {
                lo = r * per;
                hi = lo + per;
            }
            if (f->jagged)
                s->p[s->n++] = '[';
            for (size_t k = lo; k < hi; k++) {
                if (k > lo)
                    s->p[s->n++] = ',';
                int w = fmt_value(c, k, s->p + s->n);
                if (w < 0)
                    return err_set(e, MLHEP_EINVAL,
                                   "entry %lld: branch '%s' holds a non-finite value, which JSON cannot carry "
                                   "(score this file with --local)",
                                   (long long)(first + (int64_t)r), f->name);
                s->n += (size_t)w;
            }
            if (f->jagged)
                s->p[s->n++] = ']';
        }
        s->p[s->n++] = ']';
    }
    if (sb_grow(s, 4))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    sb_put(s, "}}", 3);
    s->n--; /* keep the NUL out of the length */
    return 0;
}

/* ---- binary requests ---- */

static int coltype_of(dtype t)
{
    switch (t) {
    case DT_BOOL: return COL_BOOL;
    case DT_I8: return COL_I8;
    case DT_I16: return COL_I16;
    case DT_I32: return COL_I32;
    case DT_I64: return COL_I64;
    case DT_U8: return COL_U8;
    case DT_U16: return COL_U16;
    case DT_U32: return COL_U32;
    case DT_U64: return COL_U64;
    case DT_F32: return COL_F32;
    case DT_F64: return COL_F64;
    default: return 0;
    }
}

/* Offsets r * per_entry for a fixed-size array column of n entries, in f->off. */
static int fixed_offsets(feat *f, const column *c, size_t n, mlhep_err *e)
{
    if (n + 1 > f->ocap) {
        int64_t *of = realloc(f->off, (n + 1) * sizeof *of);
        if (!of)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        f->off = of;
        f->ocap = n + 1;
    }
    for (size_t r = 0; r <= n; r++)
        f->off[r] = (int64_t)r * c->per_entry;
    return 0;
}

/* Binary columnar request (colreq.h) for entries [0, n) of the columns just read:
 * values are sent in the file's own types, fixed-size arrays as jagged lists. */
static int build_binary(const char *model, feat *fs, size_t nf, size_t n, wbuf *cb, mlhep_err *e)
{
    int rc = colreq_begin(cb, model, n, nf, e);
    for (size_t i = 0; !rc && i < nf; i++) {
        feat *f = &fs[i];
        const column *c = f->colp;
        const int64_t *off = NULL;
        if (f->jagged && c->jagged) {
            off = c->offsets;
        } else if (f->jagged) {
            if ((rc = fixed_offsets(f, c, n, e)))
                return rc;
            off = f->off;
        }
        rc = colreq_add(cb, f->name, coltype_of(c->dt), c->values, off, n, e);
    }
    return rc;
}

/* ---- scores ---- */

static int slot_reserve(slot *sl, size_t n, mlhep_err *e)
{
    if (sl->cap >= n)
        return 0;
    float *s = realloc(sl->scores, n * sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    sl->scores = s;
    sl->cap = n;
    return 0;
}

/* Scores of a JSON reply into the slot. */
static int json_scores(const char *text, size_t len, size_t n, size_t k, slot *sl, mlhep_err *e)
{
    json_t *d;
    int rc = predict_rpc_reply_json(text, len, &d, e);
    if (rc)
        return rc;
    const json_t *p = json_object_get(d, "predictions");
    int bad = !json_is_array(p) || json_array_size(p) != n;
    if (!bad && slot_reserve(sl, n * k, e))
        bad = 1;
    for (size_t r = 0; !bad && r < n; r++) {
        const json_t *v = json_array_get(p, r);
        if (k == 1) {
            bad = !json_is_number(v);
            if (!bad)
                sl->scores[r] = (float)json_number_value(v);
        } else {
            bad = !json_is_array(v) || json_array_size(v) != k;
            for (size_t j = 0; !bad && j < k; j++)
                sl->scores[r * k + j] = (float)json_number_value(json_array_get(v, j));
        }
    }
    json_decref(d);
    if (bad)
        return err_set(e, MLHEP_EUNSUPPORTED, "the service replied with predictions of the wrong shape");
    return 0;
}

/* Scores of a binary reply into the slot. */
static int bin_scores(const char *reply, size_t len, size_t n, size_t k, slot *sl, colresp *cr, mlhep_err *e)
{
    int rc = predict_rpc_reply_columns(reply, len, cr, e);
    if (rc)
        return rc;
    if (cr->nrows != n || cr->k != k)
        return err_set(e, MLHEP_EUNSUPPORTED, "the service replied with %zu x %zu predictions for %zu x %zu",
                       cr->nrows, cr->k, n, k);
    if ((rc = slot_reserve(sl, n * k, e)))
        return rc;
    memcpy(sl->scores, cr->scores, n * k * sizeof *sl->scores);
    return 0;
}

static void col_to_double(const column *c, double *out)
{
    const void *v = c->values;
    size_t n = c->nvalues;
    switch (c->dt) {
    case DT_BOOL:
    case DT_U8: for (size_t i = 0; i < n; i++) out[i] = ((const uint8_t *)v)[i]; break;
    case DT_I8: for (size_t i = 0; i < n; i++) out[i] = ((const int8_t *)v)[i]; break;
    case DT_I16: for (size_t i = 0; i < n; i++) out[i] = ((const int16_t *)v)[i]; break;
    case DT_U16: for (size_t i = 0; i < n; i++) out[i] = ((const uint16_t *)v)[i]; break;
    case DT_I32: for (size_t i = 0; i < n; i++) out[i] = ((const int32_t *)v)[i]; break;
    case DT_U32: for (size_t i = 0; i < n; i++) out[i] = ((const uint32_t *)v)[i]; break;
    case DT_I64: for (size_t i = 0; i < n; i++) out[i] = (double)((const int64_t *)v)[i]; break;
    case DT_U64: for (size_t i = 0; i < n; i++) out[i] = (double)((const uint64_t *)v)[i]; break;
    case DT_F32: for (size_t i = 0; i < n; i++) out[i] = ((const float *)v)[i]; break;
    case DT_F64: memcpy(out, v, n * sizeof *out); break;
    default: memset(out, 0, n * sizeof *out); break;
    }
}

/* Local: scores the n entries just read into sl. */
static int score_local(scorer *s, slot *sl, size_t n, mlhep_err *e)
{
    const featmap *fm = predict_model_featmap(s->pm);
    if (!s->fcols && !(s->fcols = calloc(s->nf, sizeof *s->fcols)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    float *xr = realloc(s->xrows, n * (size_t)(fm->width ? fm->width : 1) * sizeof *xr);
    if (!xr)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->xrows = xr;
    for (size_t i = 0; i < s->nf; i++) {
        feat *f = &s->fs[i];
        column *cc = f->colp;
        if (cc->nvalues + 1 > f->dcap) {
            double *d = realloc(f->dv, (cc->nvalues + 1) * sizeof *d);
            if (!d)
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            f->dv = d;
            f->dcap = cc->nvalues + 1;
        }
        col_to_double(cc, f->dv);
        s->fcols[i].values = f->dv;
        s->fcols[i].offsets = NULL;
        if (f->jagged && cc->jagged) {
            s->fcols[i].offsets = cc->offsets;
        } else if (f->jagged) {
            int rc = fixed_offsets(f, cc, n, e);
            if (rc)
                return rc;
            s->fcols[i].offsets = f->off;
        }
    }
    int rc = slot_reserve(sl, n * s->k, e);
    if (!rc)
        rc = featmap_rows(fm, s->fcols, n, s->xrows, NULL, e);
    if (!rc)
        rc = predict_rows(s->pm, s->xrows, n, sl->scores, e);
    return rc;
}

/* ---- the pipeline ---- */

static int file_error(scorer *s, int rc)
{
    s->r->failed = TREESCORE_FAILED_FILE;
    return rc;
}

/* The input tree and the model's branches in it, the output file and its tree. */
static int open_files(scorer *s, mlhep_err *e)
{
    const treescore_opts *o = s->o;
    s->cols = calloc(s->nf, sizeof *s->cols);
    s->brs = calloc(s->nf, sizeof *s->brs);
    if (!s->cols || !s->brs)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nf; i++)
        column_init(&s->cols[i]);
    int rc = rootfile_open(o->input, &s->rf, e);
    if (!rc)
        rc = ttree_open(s->rf, o->tree, &s->t, e);
    if (rc)
        return file_error(s, rc);
    for (size_t i = 0; i < s->nf; i++) {
        feat *f = &s->fs[i];
        f->colp = &s->cols[i];
        f->b = s->brs[i] = ttree_branch(s->t, f->name);
        if (!f->b || (f->b->kind != TK_FLAT && f->b->kind != TK_FIXED && f->b->kind != TK_JAGGED)) {
            const char *near = f->b ? NULL : ttree_branch_closest(s->t, f->name);
            return err_set(e, MLHEP_EINVAL, "%s: tree '%s' has no numeric branch '%s', which the model needs%s%s%s",
                           o->input, o->tree, f->name,
                           near ? " (did you mean '" : f->b ? "" : " (computed by the pre-processing? such models score JSON input only)",
                           near ? near : "", near ? "'?)" : "");
        }
        int jag = f->b->kind != TK_FLAT;
        if (jag != f->jagged)
            return err_set(e, MLHEP_EINVAL, "%s: branch '%s' is %s in the file but %s in the model", o->input,
                           f->name, jag ? "an array" : "flat", f->jagged ? "jagged" : "flat");
    }
    if ((rc = rootw_open(o->output, NULL, &s->wf, e)) ||
        (rc = rootw_tree_new(s->wf, o->tree, "mlhep scores (friend tree)", &s->wt, e)))
        return file_error(s, rc);
    const char *bname = o->branch ? o->branch : "score";
    if (s->k == 1)
        snprintf(s->r->spec, sizeof s->r->spec, "%.200s/F", bname);
    else
        snprintf(s->r->spec, sizeof s->r->spec, "%.200s[%zu]/F", bname, s->k);
    if ((rc = rootw_branch(s->wt, s->r->spec, e)) < 0) {
        s->r->failed = TREESCORE_FAILED_BRANCH;
        return rc;
    }
    s->slots = calloc((size_t)s->W, sizeof *s->slots);
    if (!s->slots)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    return 0;
}

static int run(scorer *s, mlhep_err *e)
{
    int rc = open_files(s, e);
    if (rc)
        return rc;
    const int local = s->pm != NULL;
    const int64_t N = s->t->entries;
    const long W = s->W;
    int64_t next_read = 0, next_write = 0;
    size_t widx = 0, ridx = 0;
    while (next_write < N) {
        /* read and send while there is room: a slot stays taken until its batch is
           WRITTEN (in order), not just answered, since replies from several workers
           arrive out of order */
        while (next_read < N && !s->slots[ridx].busy) {
            int64_t z = next_read + s->B < N ? next_read + s->B : N;
            size_t n = (size_t)(z - next_read);
            if ((rc = basket_read_many(s->rf, s->brs, (int)s->nf, next_read, z, s->cols, 2, e)))
                return file_error(s, err_prefix(e, "%s", s->o->input));
            slot *sl = &s->slots[ridx];
            if (local) {
                if ((rc = score_local(s, sl, n, e)))
                    return rc;
                sl->busy = sl->done = 1;
            } else {
                if (s->o->wire_json) {
                    rc = build_columns(s->model, s->fs, s->nf, n, next_read, &s->sb, e);
                    if (!rc)
                        rc = s->tp->send(s->tp->cls, 0, s->sb.p, s->sb.n, &sl->seq, e);
                } else {
                    rc = build_binary(s->model, s->fs, s->nf, n, &s->cb, e);
                    if (!rc)
                        rc = s->tp->send(s->tp->cls, 1, s->cb.p, s->cb.len, &sl->seq, e);
                }
                if (rc)
                    return rc;
                sl->busy = 1;
                sl->done = 0;
            }
            sl->n = n;
            sl->first = next_read;
            next_read = z;
            ridx = (ridx + 1) % (size_t)W;
            if (local)
                break;
        }
        /* receive until the oldest batch is in */
        while (!local && !s->slots[widx].done) {
            uint64_t seq;
            char *reply;
            size_t rlen;
            if ((rc = s->tp->recv(s->tp->cls, &seq, &reply, &rlen, s->timeout_ms, e)))
                return rc;
            for (long i = 0; i < W && !rc; i++) {
                slot *sl = &s->slots[i];
                if (sl->busy && !sl->done && sl->seq == seq) {
                    rc = s->o->wire_json ? json_scores(reply, rlen, sl->n, s->k, sl, e)
                                         : bin_scores(reply, rlen, sl->n, s->k, sl, &s->cr, e);
                    sl->done = !rc;
                }
            }
            free(reply); /* (a reply matching no slot: a redelivered request answered twice) */
            if (rc)
                return rc;
        }
        /* write the finished batches in order */
        while (s->slots[widx].busy && s->slots[widx].done) {
            slot *sl = &s->slots[widx];
            rootw_col col = {ROOTW_F32, sl->scores};
            if ((rc = rootw_append(s->wt, (int64_t)sl->n, &col, e)))
                return file_error(s, err_prefix(e, "%s", s->o->output));
            next_write += (int64_t)sl->n;
            sl->busy = sl->done = 0;
            widx = (widx + 1) % (size_t)W;
        }
    }
    rootw_file *f = s->wf;
    s->wf = NULL;
    if ((rc = rootw_close(f, e)))
        return file_error(s, err_prefix(e, "%s", s->o->output));
    s->r->entries = N;
    return 0;
}

static void scorer_free(scorer *s)
{
    rootw_abort(s->wf);
    for (size_t i = 0; s->fs && i < s->nf; i++) {
        free(s->fs[i].name);
        if (s->cols)
            column_free(&s->cols[i]);
        free(s->fs[i].dv);
        free(s->fs[i].off);
    }
    free(s->fs);
    free(s->cols);
    free(s->brs);
    for (long i = 0; s->slots && i < s->W; i++)
        free(s->slots[i].scores);
    free(s->slots);
    free(s->sb.p);
    wbuf_free(&s->cb);
    colresp_free(&s->cr);
    free(s->fcols);
    free(s->xrows);
    ttree_free(s->t);
    rootfile_close(s->rf);
    free(s->model);
}

static int scorer_init(scorer *s, const treescore_opts *o, treescore_result *r, mlhep_err *e)
{
    memset(s, 0, sizeof *s);
    memset(r, 0, sizeof *r);
    s->o = o;
    s->r = r;
    s->B = o->batch ? o->batch : TREESCORE_BATCH_DEFAULT;
    s->W = o->window ? o->window : TREESCORE_WINDOW_DEFAULT;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : TREESCORE_TIMEOUT_MS_DEFAULT;
    if (!o->input || !o->tree || !o->output)
        return err_set(e, MLHEP_EINVAL, "scoring a tree needs an input file, a tree and an output file");
    if (s->B < 1 || s->B > TREESCORE_BATCH_MAX)
        return err_set(e, MLHEP_EINVAL, "batch of %ld entries: out of range (1 to %d)", s->B, TREESCORE_BATCH_MAX);
    if (s->W < 1 || s->W > TREESCORE_WINDOW_MAX)
        return err_set(e, MLHEP_EINVAL, "window of %ld requests: out of range (1 to %d)", s->W,
                       TREESCORE_WINDOW_MAX);
    return 0;
}

int treescore_local(predict_model *pm, const treescore_opts *o, treescore_result *r, mlhep_err *e)
{
    scorer s;
    int rc = scorer_init(&s, o, r, e);
    if (rc)
        return rc;
    const featmap *fm = predict_model_featmap(pm);
    s.pm = pm;
    s.nf = fm->nfeat;
    s.k = r->outputs = predict_model_outputs(pm);
    s.fs = calloc(s.nf ? s.nf : 1, sizeof *s.fs);
    if (!s.fs)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < s.nf; i++) {
        s.fs[i].jagged = fm->feat[i].jagged;
        if (!(s.fs[i].name = strdup(fm->feat[i].name)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = run(&s, e);
    scorer_free(&s);
    return rc;
}

/* ---- the broker as a transport (predict_rpc.h) ---- */

static int rpc_features(void *cls, const char *model, predict_rpc_model *m, int timeout_ms, mlhep_err *e)
{
    return predict_rpc_features(cls, model, m, timeout_ms, e);
}

static int rpc_send(void *cls, int binary, const void *body, size_t len, uint64_t *seq, mlhep_err *e)
{
    if (!binary)
        return predict_rpc_send(cls, "predict", body, len, seq, e);
    const wbuf w = {(uint8_t *)body, len, len, 0}; /* a read-only view */
    return predict_rpc_send_columns(cls, &w, seq, e);
}

static int rpc_recv(void *cls, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e)
{
    return predict_rpc_recv(cls, seq, reply, len, timeout_ms, e);
}

int treescore_remote(predict_rpc *c, const char *model, const treescore_opts *o, treescore_result *r,
                     mlhep_err *e)
{
    const treescore_transport t = {c, rpc_features, rpc_send, rpc_recv};
    /* a request nobody takes in time is dropped by the broker */
    predict_rpc_expire(c, o->timeout_ms > 0 ? o->timeout_ms : TREESCORE_TIMEOUT_MS_DEFAULT);
    return treescore_remote_via(&t, model, o, r, e);
}

int treescore_remote_via(const treescore_transport *t, const char *model, const treescore_opts *o,
                         treescore_result *r, mlhep_err *e)
{
    scorer s;
    int rc = scorer_init(&s, o, r, e);
    if (rc)
        return rc;
    predict_rpc_model m;
    if ((rc = t->features(t->cls, model, &m, s.timeout_ms, e)))
        return rc;
    s.tp = t;
    snprintf(r->model, sizeof r->model, "%s", m.model);
    s.model = m.model; /* taken */
    m.model = NULL;
    s.nf = m.nfeatures;
    s.k = r->outputs = m.outputs;
    s.fs = calloc(s.nf, sizeof *s.fs);
    if (!s.fs)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < s.nf; i++) {
        s.fs[i].jagged = m.features[i].jagged;
        s.fs[i].name = m.features[i].name; /* taken */
        m.features[i].name = NULL;
    }
    predict_rpc_model_free(&m);
    if (!rc)
        rc = run(&s, e);
    scorer_free(&s);
    return rc;
}

/* evsource.c - see evsource.h. Remote files (sources with native vector reads) are
 * read through a readahead (readplan.h): each block's baskets arrive in a few vector
 * reads, and the next block's while this one decodes. Local files read each basket
 * with one pread, which measured faster than staging the block (bench_remote.sh). */
#include "data/evsource.h"

#include <stdlib.h>
#include <string.h>

#include "root/basket.h"
#include "root/readplan.h"
#include "root/rootfile.h"
#include "root/ttree.h"

struct evsource {
    rootfile *f;
    ttree *t;
    const preproc *pp;
    preproc_ws *ws;       /* thread 0's workspace (the only one with one thread) */
    preproc_ws *pws[TEAM_MAX]; /* threads 1..: their own */
    team *tm;
    int nthreads;
    basket_ctx *ctx[TEAM_MAX]; /* one per team thread, kept across blocks */
    int64_t *bounds;      /* entries where every branch read starts a basket, ascending */
    size_t nbounds;
    int *order;           /* branch indices grouped by thread: thread t decodes */
    int part[TEAM_MAX + 1]; /* order[part[t] .. part[t+1]) */
    size_t nb;
    const tbranch **b;
    readahead *ra;        /* remote files: created at the first read */
    column *raw;          /* typed columns from the reader */
    uint8_t *need;        /* per branch: the preproc reads it (double copy made) */
    double **vals;        /* double values of the needed branches */
    size_t *valcap;
    int64_t **offs;       /* offsets of fixed-array branches (k * per_entry) */
    size_t *offcap;
    evcol *cols;          /* nb inputs + new columns */
    expr_column *pcols;   /* the needed inputs, for preproc_apply */
    size_t npcols;
    uint8_t *mask;
    size_t maskcap;
    /* preproc on several threads: thread t takes events [pa[t], pa[t+1]) */
    size_t pa[TEAM_MAX + 1];
    expr_column *tcols[TEAM_MAX]; /* thread t's inputs (jagged offsets rebased to 0) */
    int64_t *toff[TEAM_MAX];      /* rebased offsets, npcols x (events + 1) */
    size_t toffcap[TEAM_MAX];
    const expr_column *tnew[TEAM_MAX];
    int prc[TEAM_MAX];
    mlhep_err perr[TEAM_MAX];
    double **nvals;       /* new columns joined from the threads' parts */
    size_t *nvalcap;
    int64_t **noffs;
    size_t *noffcap;
    /* per-read job state */
    int64_t ja, jz;
    const readplan *jplan;
    int jrc[TEAM_MAX];
    mlhep_err jerr[TEAM_MAX];
};

static int is_numeric(const tbranch *b)
{
    return b->kind == TK_FLAT || b->kind == TK_FIXED || b->kind == TK_JAGGED;
}

int evsource_schema(const char *path, const srcaccess *acc, const char *tree, expr_schema **out, mlhep_err *e)
{
    *out = NULL;
    rootfile *f;
    int rc = rootfile_open_with(path, acc, &f, e);
    if (rc)
        return rc;
    ttree *t;
    rc = ttree_open(f, tree, &t, e);
    if (rc) {
        err_prefix(e, "file %s", path);
        rootfile_close(f);
        return rc;
    }
    expr_schema *s = expr_schema_new();
    if (!s)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int i = 0; s && i < t->nbranches && !rc; i++) {
        const tbranch *b = t->branches[i];
        if (!is_numeric(b))
            continue;
        mlhep_err ignore;
        /* names an expression cannot spell (with '/' or '.') are simply not offered */
        expr_schema_add(s, b->name, b->kind == TK_FLAT ? EXPR_FLAT : EXPR_JAGGED, &ignore);
    }
    ttree_free(t);
    rootfile_close(f);
    if (rc) {
        expr_schema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void evsource_free(evsource *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nb; i++) {
        if (s->raw)
            column_free(&s->raw[i]);
        if (s->vals)
            free(s->vals[i]);
        if (s->offs)
            free(s->offs[i]);
    }
    free(s->raw);
    free(s->need);
    free(s->vals);
    free(s->valcap);
    free(s->offs);
    free(s->offcap);
    free(s->cols);
    free(s->pcols);
    free(s->order);
    free(s->bounds);
    free(s->b);
    free(s->mask);
    readahead_free(s->ra);
    preproc_ws_free(s->ws);
    for (int t = 0; t < TEAM_MAX; t++) {
        preproc_ws_free(s->pws[t]);
        free(s->tcols[t]);
        free(s->toff[t]);
    }
    size_t nnew = s->pp ? preproc_nnew(s->pp) : 0;
    for (size_t k = 0; k < nnew; k++) {
        if (s->nvals)
            free(s->nvals[k]);
        if (s->noffs)
            free(s->noffs[k]);
    }
    free(s->nvals);
    free(s->nvalcap);
    free(s->noffs);
    free(s->noffcap);
    for (int i = 0; i < TEAM_MAX; i++)
        basket_ctx_free(s->ctx[i]);
    ttree_free(s->t);
    rootfile_close(s->f);
    free(s);
}

/* Splits the branches between the threads by size (largest first, each to the least
 * loaded thread), so that every thread decompresses and decodes about as much. */
static void partition(evsource *s)
{
    size_t nb = s->nb;
    int nt = s->nthreads;
    double load[TEAM_MAX] = {0};
    int *owner = calloc(nb + 1, sizeof *owner);
    double *size = calloc(nb + 1, sizeof *size);
    int *byid = calloc(nb + 1, sizeof *byid);
    if (!owner || !size || !byid) { /* fall back to round robin */
        for (size_t i = 0; i < nb; i++)
            s->order[i] = (int)i;
        for (int t = 0; t <= nt; t++)
            s->part[t] = (int)((size_t)t * nb / (size_t)nt);
        free(owner), free(size), free(byid);
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        /* work ~ bytes read and inflated + bytes decoded: the branch's compressed plus
         * uncompressed totals when the file records them, else its basket sizes */
        const tbranch *b = s->b[i];
        if (b->tot_bytes > 0 && b->zip_bytes > 0)
            size[i] = (double)b->tot_bytes + (double)b->zip_bytes;
        else
            for (int k = 0; k < b->nbaskets; k++)
                size[i] += b->baskets[k].seek ? (double)b->baskets[k].nbytes : 0;
        byid[i] = (int)i;
    }
    /* sort by size, descending (insertion sort: a few hundred branches at most) */
    for (size_t i = 1; i < nb; i++) {
        int x = byid[i];
        size_t j = i;
        while (j > 0 && size[byid[j - 1]] < size[x]) {
            byid[j] = byid[j - 1];
            j--;
        }
        byid[j] = x;
    }
    for (size_t k = 0; k < nb; k++) {
        int best = 0;
        for (int t = 1; t < nt; t++)
            if (load[t] < load[best])
                best = t;
        owner[byid[k]] = best;
        load[best] += size[byid[k]] + 1;
    }
    size_t pos = 0;
    for (int t = 0; t < nt; t++) {
        s->part[t] = (int)pos;
        for (size_t i = 0; i < nb; i++)
            if (owner[i] == t)
                s->order[pos++] = (int)i;
    }
    s->part[nt] = (int)pos;
    free(owner), free(size), free(byid);
}

/* The entries where every branch read starts a new basket (cluster boundaries, in files
 * written with ROOT's auto-flush): candidates are the basket starts of the branch with
 * the fewest baskets. Without memory for them, blocks are not aligned (still correct). */
static void common_bounds(evsource *s)
{
    if (s->nb == 0)
        return;
    size_t few = 0;
    for (size_t i = 1; i < s->nb; i++)
        if (s->b[i]->nbaskets < s->b[few]->nbaskets)
            few = i;
    const tbranch *fb = s->b[few];
    if (fb->nbaskets < 2 || !(s->bounds = malloc((size_t)fb->nbaskets * sizeof *s->bounds)))
        return;
    int64_t last = 0;
    for (int k = 1; k < fb->nbaskets; k++) {
        int64_t x = fb->baskets[k].first;
        if (x <= last || x >= s->t->entries)
            continue;
        size_t i = 0;
        for (; i < s->nb; i++) {
            int idx = tbranch_find_basket(s->b[i], x);
            if (idx < 0 || s->b[i]->baskets[idx].first != x)
                break;
        }
        if (i == s->nb)
            s->bounds[s->nbounds++] = last = x;
    }
}

int64_t evsource_block_end(const evsource *s, int64_t a, int64_t z)
{
    /* the last bound <= z, if it lies after a */
    size_t lo = 0, hi = s->nbounds;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (s->bounds[m] <= z)
            lo = m + 1;
        else
            hi = m;
    }
    return lo > 0 && s->bounds[lo - 1] > a && z < s->t->entries ? s->bounds[lo - 1] : z;
}

int evsource_open(const char *path, const srcaccess *acc, const char *tree, const char *const *branches, size_t nb,
                  const preproc *pp, team *tm, evsource **out, mlhep_err *e)
{
    *out = NULL;
    evsource *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->pp = pp;
    s->tm = tm;
    s->nthreads = team_size(tm);
    for (int i = 0; i < s->nthreads; i++)
        if (!(s->ctx[i] = basket_ctx_new_big())) {
            evsource_free(s);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    int rc = rootfile_open_with(path, acc, &s->f, e);
    if (rc) {
        evsource_free(s);
        return rc;
    }
    rc = ttree_open(s->f, tree, &s->t, e);
    if (rc) {
        err_prefix(e, "file %s", path);
        evsource_free(s);
        return rc;
    }
    size_t nnew = pp ? preproc_nnew(pp) : 0;
    s->nb = nb;
    s->b = calloc(nb + 1, sizeof *s->b);
    s->raw = calloc(nb + 1, sizeof *s->raw);
    s->need = calloc(nb + 1, 1);
    s->vals = calloc(nb + 1, sizeof *s->vals);
    s->valcap = calloc(nb + 1, sizeof *s->valcap);
    s->offs = calloc(nb + 1, sizeof *s->offs);
    s->offcap = calloc(nb + 1, sizeof *s->offcap);
    s->cols = calloc(nb + nnew + 1, sizeof *s->cols);
    s->pcols = calloc(nb + 1, sizeof *s->pcols);
    s->order = calloc(nb + 1, sizeof *s->order);
    if (!s->b || !s->raw || !s->need || !s->vals || !s->valcap || !s->offs || !s->offcap || !s->cols || !s->pcols ||
        !s->order) {
        evsource_free(s);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nb; i++) {
        const tbranch *b = ttree_branch(s->t, branches[i]);
        if (!b) {
            const char *near = ttree_branch_closest(s->t, branches[i]);
            rc = err_set(e, MLHEP_ENOTFOUND, "file %s: branch '%s' not found in tree '%s'%s%s%s", path, branches[i], tree,
                         near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            break;
        }
        if (!is_numeric(b)) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "file %s: tree '%s': branch '%s' (C++ type %s) cannot be read: %s", path,
                         tree, branches[i], tbranch_cxx_type(b),
                         b->skip_reason ? b->skip_reason : "it only groups sub-branches");
            break;
        }
        if (b->entries < s->t->entries) {
            rc = err_set(e, MLHEP_EFORMAT, "file %s: tree '%s': branch '%s' has %lld entries, the tree %lld", path,
                         tree, branches[i], (long long)b->entries, (long long)s->t->entries);
            break;
        }
        s->b[i] = b;
        for (size_t k = 0; pp && k < preproc_nneeded(pp); k++)
            if (!strcmp(preproc_needed(pp, k), branches[i]))
                s->need[i] = 1;
        if (s->need[i]) {
            expr_column *pc = &s->pcols[s->npcols++];
            pc->name = b->name;
            pc->kind = b->kind == TK_FLAT ? EXPR_FLAT : EXPR_JAGGED;
        }
    }
    if (!rc && pp && !(s->ws = preproc_ws_new(pp)))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int t = 1; !rc && pp && t < s->nthreads; t++)
        if (!(s->pws[t] = preproc_ws_new(pp)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int t = 0; !rc && pp && t < s->nthreads; t++)
        if (!(s->tcols[t] = calloc(s->npcols + 1, sizeof *s->tcols[t])))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (!rc && pp && s->nthreads > 1) {
        s->nvals = calloc(nnew + 1, sizeof *s->nvals);
        s->nvalcap = calloc(nnew + 1, sizeof *s->nvalcap);
        s->noffs = calloc(nnew + 1, sizeof *s->noffs);
        s->noffcap = calloc(nnew + 1, sizeof *s->noffcap);
        if (!s->nvals || !s->nvalcap || !s->noffs || !s->noffcap)
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (rc) {
        evsource_free(s);
        return rc;
    }
    partition(s);
    common_bounds(s);
    /* each branch's column lives in the arena of the thread that decodes it */
    for (int t = 0; t < s->nthreads; t++)
        for (int k = s->part[t]; k < s->part[t + 1]; k++)
            s->raw[s->order[k]].arena = basket_ctx_arena(s->ctx[t]);
    *out = s;
    return 0;
}

int64_t evsource_entries(const evsource *s)
{
    return s->t->entries;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* typed -> double, one loop per type */
static void to_double(const column *c, double *d)
{
    size_t n = c->nvalues;
    const void *v = c->values;
#define CONV(T)                                                                                                        \
    for (size_t i = 0; i < n; i++)                                                                                     \
        d[i] = (double)((const T *)v)[i];                                                                              \
    break;
    switch (c->dt) {
    case DT_BOOL: case DT_U8: CONV(uint8_t)
    case DT_I8: CONV(int8_t)
    case DT_I16: CONV(int16_t)
    case DT_U16: CONV(uint16_t)
    case DT_I32: CONV(int32_t)
    case DT_U32: CONV(uint32_t)
    case DT_I64: CONV(int64_t)
    case DT_U64: CONV(uint64_t)
    case DT_F32: CONV(float)
    case DT_F64: memcpy(d, v, n * sizeof *d); break;
    default: break;
    }
#undef CONV
}

/* Decodes branch i for [ja, jz) and prepares its views (on the thread that owns it). */
static int read_branch(evsource *s, size_t i, basket_ctx *ctx, mlhep_err *e)
{
    column *c = &s->raw[i];
    int rc = basket_read(s->f, s->b[i], s->ja, s->jz, c, ctx, e);
    if (rc)
        return rc;
    size_t n = (size_t)(s->jz - s->ja);
    evcol *ec = &s->cols[i];
    ec->dt = c->dt;
    ec->values = c->values;
    ec->offsets = NULL;
    if (s->b[i]->kind != TK_FLAT) {
        if (c->jagged) {
            ec->offsets = c->offsets;
        } else {
            if (grow((void **)&s->offs[i], &s->offcap[i], n + 1, sizeof(int64_t)))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            for (size_t k = 0; k <= n; k++)
                s->offs[i][k] = (int64_t)k * c->per_entry;
            ec->offsets = s->offs[i];
        }
    }
    if (s->need[i]) {
        if (grow((void **)&s->vals[i], &s->valcap[i], c->nvalues + 1, sizeof(double)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        to_double(c, s->vals[i]);
    }
    return 0;
}

static void read_job(void *arg, int tid, int nthreads)
{
    evsource *s = arg;
    (void)nthreads;
    basket_ctx *ctx = s->ctx[tid];
    basket_ctx_set_plan(ctx, s->jplan);
    s->jrc[tid] = 0;
    for (int k = s->part[tid]; k < s->part[tid + 1]; k++)
        if ((s->jrc[tid] = read_branch(s, (size_t)s->order[k], ctx, &s->jerr[tid])))
            break;
    basket_ctx_set_plan(ctx, NULL);
}

/* Blocks of at least this many events are pre-processed on all threads. */
#define PP_SPLIT_MIN 2048

/* Thread tid applies the preproc to its events [pa[tid], pa[tid+1]): its inputs are
 * views of the block's columns (jagged offsets copied and rebased to start at 0, as
 * the expression layer wants), its mask part is written in place. */
static void pp_job(void *arg, int tid, int nthreads)
{
    (void)nthreads;
    evsource *s = arg;
    size_t a = s->pa[tid], n = s->pa[tid + 1] - a;
    s->prc[tid] = 0;
    if (grow((void **)&s->toff[tid], &s->toffcap[tid], (n + 1) * (s->npcols ? s->npcols : 1), sizeof(int64_t))) {
        s->prc[tid] = err_set(&s->perr[tid], MLHEP_ENOMEM, "out of memory");
        return;
    }
    for (size_t k = 0; k < s->npcols; k++) {
        const expr_column *c = &s->pcols[k];
        expr_column *tc = &s->tcols[tid][k];
        *tc = *c;
        if (c->kind == EXPR_FLAT) {
            tc->values = c->values + a;
        } else {
            int64_t base = c->offsets[a];
            int64_t *o = s->toff[tid] + k * (n + 1);
            for (size_t i = 0; i <= n; i++)
                o[i] = c->offsets[a + i] - base;
            tc->offsets = o;
            tc->values = c->values + base;
        }
    }
    s->prc[tid] = preproc_apply(s->pp, tid ? s->pws[tid] : s->ws, s->tcols[tid], s->npcols, n, &s->tnew[tid],
                                s->mask + a, &s->perr[tid]);
}

/* The preproc over n events on the team, then each new column joined from the
 * threads' parts (values in order, jagged offsets shifted). */
static int apply_split(evsource *s, size_t n, mlhep_err *e)
{
    int nt = s->nthreads;
    for (int t = 0; t <= nt; t++)
        s->pa[t] = n * (size_t)t / (size_t)nt;
    team_run(s->tm, pp_job, s);
    for (int t = 0; t < nt; t++)
        if (s->prc[t]) {
            *e = s->perr[t];
            return e->code;
        }
    size_t nnew = preproc_nnew(s->pp);
    for (size_t k = 0; k < nnew; k++) {
        int jag = s->tnew[0][k].kind == EXPR_JAGGED;
        size_t total = 0;
        for (int t = 0; t < nt; t++)
            total += jag ? (size_t)s->tnew[t][k].offsets[s->pa[t + 1] - s->pa[t]] : s->pa[t + 1] - s->pa[t];
        if (grow((void **)&s->nvals[k], &s->nvalcap[k], total + 1, sizeof(double)) ||
            (jag && grow((void **)&s->noffs[k], &s->noffcap[k], n + 1, sizeof(int64_t))))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        size_t pos = 0;
        if (jag)
            s->noffs[k][0] = 0;
        for (int t = 0; t < nt; t++) {
            const expr_column *c = &s->tnew[t][k];
            size_t m = s->pa[t + 1] - s->pa[t], cnt = jag ? (size_t)c->offsets[m] : m;
            if (cnt)
                memcpy(s->nvals[k] + pos, c->values, cnt * sizeof(double));
            if (jag)
                for (size_t i = 1; i <= m; i++)
                    s->noffs[k][s->pa[t] + i] = (int64_t)pos + c->offsets[i];
            pos += cnt;
        }
        s->cols[s->nb + k].dt = DT_F64;
        s->cols[s->nb + k].values = s->nvals[k];
        s->cols[s->nb + k].offsets = jag ? s->noffs[k] : NULL;
    }
    return 0;
}

int evsource_read(evsource *s, int64_t a, int64_t b, evblock *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    if (b > s->t->entries)
        b = s->t->entries;
    if (a < 0 || a > b)
        return err_set(e, MLHEP_EINVAL, "entry range [%lld, %lld) is invalid", (long long)a, (long long)b);
    size_t n = (size_t)(b - a);
    int rc = 0;
    if (!s->ra && s->f->src->ops->readv)
        rc = readahead_new(s->f, s->b, (int)s->nb, s->t->entries, NULL, &s->ra, e);
    const readplan *plan = NULL;
    if (!rc && s->ra)
        rc = readahead_get(s->ra, a, b, &plan, e);
    if (rc)
        return err_prefix(e, "file %s: tree '%s'", s->f->src->name, s->t->path);
    s->ja = a;
    s->jz = b;
    s->jplan = plan;
    team_run(s->nthreads > 1 ? s->tm : NULL, read_job, s);
    s->jplan = NULL;
    for (int t = 0; t < s->nthreads; t++)
        if (s->jrc[t]) {
            *e = s->jerr[t];
            return err_prefix(e, "file %s: tree '%s'", s->f->src->name, s->t->path);
        }
    if (grow((void **)&s->mask, &s->maskcap, n + 1, 1))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t ncols = s->nb;
    if (s->pp) {
        for (size_t i = 0, k = 0; i < s->nb; i++)
            if (s->need[i]) {
                s->pcols[k].values = s->vals[i];
                s->pcols[k].offsets = s->cols[i].offsets;
                k++;
            }
        size_t nnew = preproc_nnew(s->pp);
        if (s->nthreads > 1 && n >= PP_SPLIT_MIN) {
            rc = apply_split(s, n, e);
        } else {
            const expr_column *nc = NULL;
            rc = preproc_apply(s->pp, s->ws, s->pcols, s->npcols, n, &nc, s->mask, e);
            for (size_t k = 0; !rc && k < nnew; k++) {
                s->cols[s->nb + k].dt = DT_F64;
                s->cols[s->nb + k].values = nc[k].values;
                s->cols[s->nb + k].offsets = nc[k].kind == EXPR_FLAT ? NULL : nc[k].offsets;
            }
        }
        if (rc)
            return err_prefix(e, "file %s: entries %lld..%lld", s->f->src->name, (long long)a, (long long)b);
        ncols += nnew;
    } else {
        memset(s->mask, 1, n);
    }
    out->n = n;
    out->cols = s->cols;
    out->ncols = ncols;
    out->mask = s->mask;
    return 0;
}

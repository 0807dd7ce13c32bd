/* evsource.c - see evsource.h. Remote files (sources with native vector reads) are
 * read through a readahead (readplan.h): each block's baskets arrive in a few vector
 * reads, and the next block's while this one decodes. Local files read each basket
 * with one pread, which measured faster than staging the block (bench_remote.sh). */
#include "evsource.h"

#include <stdlib.h>
#include <string.h>

#include "basket.h"
#include "readplan.h"
#include "rootfile.h"
#include "ttree.h"

struct evsource {
    rootfile *f;
    ttree *t;
    const preproc *pp;
    preproc_ws *ws;
    int nthreads;
    basket_ctx *ctx[8];   /* one per reader thread, kept across blocks */
    size_t nb;
    const tbranch **b;
    readahead *ra;        /* remote files: created at the first read */
    column *raw;          /* typed columns from the reader */
    double **vals;        /* converted values per branch */
    size_t *valcap;
    int64_t **offs;       /* offsets per branch (jagged and fixed) */
    size_t *offcap;
    expr_column *cols;    /* nb inputs + new columns */
    uint8_t *mask;
    size_t maskcap;
};

static int is_numeric(const tbranch *b)
{
    return b->kind == TK_FLAT || b->kind == TK_FIXED || b->kind == TK_JAGGED;
}

int evsource_schema(const char *path, const char *tree, expr_schema **out, mlhep_err *e)
{
    *out = NULL;
    rootfile *f;
    int rc = rootfile_open(path, &f, e);
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
    free(s->vals);
    free(s->valcap);
    free(s->offs);
    free(s->offcap);
    free(s->cols);
    free(s->b);
    free(s->mask);
    readahead_free(s->ra);
    preproc_ws_free(s->ws);
    for (int i = 0; i < 8; i++)
        basket_ctx_free(s->ctx[i]);
    ttree_free(s->t);
    rootfile_close(s->f);
    free(s);
}

int evsource_open(const char *path, const char *tree, const char *const *branches, size_t nb, const preproc *pp,
                  int nthreads, evsource **out, mlhep_err *e)
{
    *out = NULL;
    evsource *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->pp = pp;
    s->nthreads = nthreads > 0 ? (nthreads < 8 ? nthreads : 8) : 1;
    for (int i = 0; i < s->nthreads; i++)
        if (!(s->ctx[i] = basket_ctx_new())) {
            evsource_free(s);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    int rc = rootfile_open(path, &s->f, e);
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
    s->vals = calloc(nb + 1, sizeof *s->vals);
    s->valcap = calloc(nb + 1, sizeof *s->valcap);
    s->offs = calloc(nb + 1, sizeof *s->offs);
    s->offcap = calloc(nb + 1, sizeof *s->offcap);
    s->cols = calloc(nb + nnew + 1, sizeof *s->cols);
    if (!s->b || !s->raw || !s->vals || !s->valcap || !s->offs || !s->offcap || !s->cols) {
        evsource_free(s);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nb; i++) {
        const tbranch *b = ttree_branch(s->t, branches[i]);
        if (!b) {
            rc = err_set(e, MLHEP_ENOTFOUND, "file %s: branch '%s' not found in tree '%s'", path, branches[i], tree);
            break;
        }
        if (!is_numeric(b)) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "file %s: tree '%s': branch '%s' is not numeric (%s)", path, tree,
                         branches[i], b->skip_reason ? b->skip_reason : tkind_name(b->kind));
            break;
        }
        if (b->entries < s->t->entries) {
            rc = err_set(e, MLHEP_EFORMAT, "file %s: tree '%s': branch '%s' has %lld entries, the tree %lld", path,
                         tree, branches[i], (long long)b->entries, (long long)s->t->entries);
            break;
        }
        s->b[i] = b;
        s->cols[i].name = b->name;
        s->cols[i].kind = b->kind == TK_FLAT ? EXPR_FLAT : EXPR_JAGGED;
    }
    if (!rc && pp && !(s->ws = preproc_ws_new(pp)))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (rc) {
        evsource_free(s);
        return rc;
    }
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
    if (!rc)
        rc = basket_read_many_plan(s->f, s->b, (int)s->nb, a, b, s->raw, s->ctx, s->nthreads, plan, e);
    if (rc)
        return err_prefix(e, "file %s: tree '%s'", s->f->src->name, s->t->path);
    for (size_t i = 0; i < s->nb; i++) {
        const column *c = &s->raw[i];
        if (grow((void **)&s->vals[i], &s->valcap[i], c->nvalues + 1, sizeof(double)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        to_double(c, s->vals[i]);
        s->cols[i].values = s->vals[i];
        s->cols[i].offsets = NULL;
        if (s->b[i]->kind != TK_FLAT) {
            if (grow((void **)&s->offs[i], &s->offcap[i], n + 1, sizeof(int64_t)))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            if (c->jagged)
                memcpy(s->offs[i], c->offsets, (n + 1) * sizeof(int64_t));
            else
                for (size_t k = 0; k <= n; k++)
                    s->offs[i][k] = (int64_t)k * c->per_entry;
            s->cols[i].offsets = s->offs[i];
        }
    }
    if (grow((void **)&s->mask, &s->maskcap, n + 1, 1))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t ncols = s->nb;
    if (s->pp) {
        const expr_column *nc = NULL;
        rc = preproc_apply(s->pp, s->ws, s->cols, s->nb, n, &nc, s->mask, e);
        if (rc)
            return err_prefix(e, "file %s: entries %lld..%lld", s->f->src->name, (long long)a, (long long)b);
        size_t nnew = preproc_nnew(s->pp);
        for (size_t k = 0; k < nnew; k++)
            s->cols[s->nb + k] = nc[k];
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

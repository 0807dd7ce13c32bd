/* rootstats.c - see rootstats.h. */
#include "root/rootstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "root/basket.h"

#define NFIRST 5
#define DEFAULT_CHUNK 200000

typedef struct bstats {
    int64_t count;
    __int128 isum;
    long double fsum, fcomp;
    double fmin, fmax;
    int64_t imin, imax;
    uint64_t umin, umax;
    int have;
    json_t *first;
} bstats;

static json_t *u64_json(uint64_t u);

static json_t *value_json(const column *c, size_t i)
{
    const void *v = c->values;
    switch (c->dt) {
    case DT_BOOL: return json_boolean(((const uint8_t *)v)[i]);
    case DT_U64:
        return u64_json(((const uint64_t *)v)[i]);
    case DT_F32: case DT_F64: {
        double d = column_get(c, i);
        if (isnan(d))
            return json_string("nan"); /* as the oracle files write non-finite values */
        if (isinf(d))
            return json_string(d > 0 ? "inf" : "-inf");
        return json_real(d);
    }
    default:
        return json_integer((json_int_t)column_get(c, i));
    }
}

/* nested list of a fixed array entry according to dims */
static json_t *fixed_json(const column *c, size_t base, const int *dims, int ndim)
{
    json_t *a = json_array();
    if (ndim <= 1) {
        int n = ndim ? dims[0] : 1;
        for (int k = 0; k < n; k++)
            json_array_append_new(a, value_json(c, base + (size_t)k));
        return a;
    }
    size_t inner = 1;
    for (int d = 1; d < ndim; d++)
        inner *= (size_t)dims[d];
    for (int k = 0; k < dims[0]; k++)
        json_array_append_new(a, fixed_json(c, base + (size_t)k * inner, dims + 1, ndim - 1));
    return a;
}

static void accumulate(bstats *s, const column *c)
{
    size_t n = c->nvalues;
    s->count += (int64_t)n;
    switch (c->dt) {
    case DT_F32: case DT_F64:
        for (size_t i = 0; i < n; i++) {
            double x = column_get(c, i);
            if (isnan(x))
                continue;
            long double t = s->fsum + x;
            if (fabsl(s->fsum) >= fabsl((long double)x))
                s->fcomp += (s->fsum - t) + x;
            else
                s->fcomp += ((long double)x - t) + s->fsum;
            s->fsum = t;
            if (!s->have || x < s->fmin) s->fmin = x;
            if (!s->have || x > s->fmax) s->fmax = x;
            s->have = 1;
        }
        break;
    case DT_U64:
        for (size_t i = 0; i < n; i++) {
            uint64_t x = ((const uint64_t *)c->values)[i];
            s->isum += x;
            if (!s->have || x < s->umin) s->umin = x;
            if (!s->have || x > s->umax) s->umax = x;
            s->have = 1;
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) {
            int64_t x = (int64_t)column_get(c, i);
            s->isum += x;
            if (!s->have || x < s->imin) s->imin = x;
            if (!s->have || x > s->imax) s->imax = x;
            s->have = 1;
        }
    }
}

/* uint64 as a JSON integer; past INT64_MAX (beyond jansson's integers) as a real */
static json_t *u64_json(uint64_t u)
{
    return u <= INT64_MAX ? json_integer((json_int_t)u) : json_real((double)u);
}

static json_t *int128_json(__int128 v)
{
    if (v >= INT64_MIN && v <= INT64_MAX)
        return json_integer((json_int_t)v);
    return json_real((double)v);
}

static json_t *branch_json(const tbranch *b)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(b->name));
    json_object_set_new(o, "kind", json_string(tkind_name(b->kind)));
    json_object_set_new(o, "type", json_string(b->type_name ? b->type_name : ""));
    if (b->kind == TK_SKIPPED)
        json_object_set_new(o, "reason", json_string(b->skip_reason ? b->skip_reason : ""));
    if (b->kind != TK_SKIPPED && b->kind != TK_GROUP)
        json_object_set_new(o, "dtype", json_string(dtype_name(b->dt)));
    if (b->kind == TK_FIXED) {
        json_t *sh = json_array();
        for (int i = 0; i < b->ndim; i++)
            json_array_append_new(sh, json_integer(b->dims[i]));
        json_object_set_new(o, "shape", sh);
    }
    if (b->kind == TK_JAGGED) {
        json_object_set_new(o, "counter", b->counter ? json_string(b->counter->name) : json_null());
        json_object_set_new(o, "header_bytes", json_integer(b->header_bytes));
    }
    return o;
}

int rootstats_tree(rootfile *f, ttree *t, int64_t chunk, int nthreads, json_t **out, mlhep_err *e)
{
    *out = NULL;
    if (chunk <= 0)
        chunk = DEFAULT_CHUNK;
    json_t *tj = json_object();
    json_object_set_new(tj, "path", json_string(t->path));
    json_object_set_new(tj, "num_entries", json_integer(t->entries));
    json_t *arr = json_array();
    json_object_set_new(tj, "branches", arr);

    /* the numeric branches, read together chunk by chunk */
    int nb = 0;
    const tbranch **num = malloc(((size_t)t->nbranches + 1) * sizeof *num);
    bstats *st = calloc((size_t)t->nbranches + 1, sizeof *st);
    column *cols = calloc((size_t)t->nbranches + 1, sizeof *cols);
    int *which = malloc(((size_t)t->nbranches + 1) * sizeof *which);
    if (!num || !st || !cols || !which) {
        free(num); free(st); free(cols); free(which);
        json_decref(tj);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (int i = 0; i < t->nbranches; i++) {
        const tbranch *b = t->branches[i];
        if (b->kind == TK_FLAT || b->kind == TK_FIXED || b->kind == TK_JAGGED) {
            which[i] = nb;
            st[nb].first = json_array();
            num[nb++] = b;
        } else {
            which[i] = -1;
        }
    }
    /* branches that hold fewer entries than the tree (e.g. empty sub-branches) are
     * read on their own, over their entries only */
    const tbranch **full = malloc(((size_t)nb + 1) * sizeof *full);
    column *fcols = calloc((size_t)nb + 1, sizeof *fcols);
    int *fk = malloc(((size_t)nb + 1) * sizeof *fk);
    int nfull = 0;
    if (!full || !fcols || !fk) {
        free(full); free(fcols); free(fk);
        for (int k = 0; k < nb; k++)
            json_decref(st[k].first);
        free(num); free(st); free(cols); free(which);
        json_decref(tj);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (int k = 0; k < nb; k++)
        if (num[k]->entries >= t->entries) {
            fk[nfull] = k;
            full[nfull++] = num[k];
        }
    int rc = 0;
    for (int64_t a = 0; a < t->entries && !rc && nb; a += chunk) {
        int64_t z = a + chunk < t->entries ? a + chunk : t->entries;
        if (nfull) {
            rc = basket_read_many(f, full, nfull, a, z, fcols, nthreads, e);
            for (int j = 0; j < nfull; j++) { /* lend the columns to their branches' slots */
                column tmp = cols[fk[j]];
                cols[fk[j]] = fcols[j];
                fcols[j] = tmp;
            }
        }
        for (int k = 0; k < nb && !rc; k++) {
            const tbranch *b = num[k];
            column *c = &cols[k];
            if (b->entries < t->entries) {
                c->n = 0;
                c->nvalues = 0;
                if (a < b->entries) {
                    int64_t bz = z < b->entries ? z : b->entries;
                    rc = basket_read(f, b, a, bz, c, NULL, e);
                    if (rc)
                        break;
                }
            }
            accumulate(&st[k], c);
            for (int64_t i = 0; i < c->n && json_array_size(st[k].first) < NFIRST; i++) {
                if (b->kind == TK_FLAT) {
                    json_array_append_new(st[k].first, value_json(c, (size_t)i));
                } else if (b->kind == TK_FIXED) {
                    json_array_append_new(st[k].first, fixed_json(c, (size_t)(i * c->per_entry), b->dims, b->ndim));
                } else if (c->per_entry > 1) { /* x[n][3]: a list per element */
                    json_t *l = json_array();
                    for (int64_t j = c->offsets[i]; j + c->per_entry <= c->offsets[i + 1]; j += c->per_entry)
                        json_array_append_new(l, fixed_json(c, (size_t)j, b->dims, b->ndim));
                    json_array_append_new(st[k].first, l);
                } else {
                    json_t *l = json_array();
                    for (int64_t j = c->offsets[i]; j < c->offsets[i + 1]; j++)
                        json_array_append_new(l, value_json(c, (size_t)j));
                    json_array_append_new(st[k].first, l);
                }
            }
        }
        if (nfull) /* and take them back for the next chunk */
            for (int j = 0; j < nfull; j++) {
                column tmp = cols[fk[j]];
                cols[fk[j]] = fcols[j];
                fcols[j] = tmp;
            }
    }
    for (int j = 0; j < nfull; j++)
        column_free(&fcols[j]);
    free(full); free(fcols); free(fk);
    for (int i = 0; i < t->nbranches; i++) {
        const tbranch *b = t->branches[i];
        json_t *o = branch_json(b);
        int k = which[i];
        if (k >= 0 && !rc) {
            bstats *s = &st[k];
            json_object_set_new(o, "count", json_integer(s->count));
            if (dtype_is_float(b->dt)) {
                json_object_set_new(o, "sum", json_real((double)(s->fsum + s->fcomp)));
                json_object_set_new(o, "min", s->have ? json_real(s->fmin) : json_null());
                json_object_set_new(o, "max", s->have ? json_real(s->fmax) : json_null());
            } else {
                json_object_set_new(o, "sum", int128_json(s->isum));
                if (b->dt == DT_U64) {
                    json_object_set_new(o, "min", s->have ? u64_json(s->umin) : json_null());
                    json_object_set_new(o, "max", s->have ? u64_json(s->umax) : json_null());
                } else {
                    json_object_set_new(o, "min", s->have ? json_integer(s->imin) : json_null());
                    json_object_set_new(o, "max", s->have ? json_integer(s->imax) : json_null());
                }
            }
            json_object_set(o, "first", s->first);
        }
        json_array_append_new(arr, o);
    }
    for (int k = 0; k < nb; k++) {
        json_decref(st[k].first);
        column_free(&cols[k]);
    }
    free(num); free(st); free(cols); free(which);
    if (rc) {
        json_decref(tj);
        return err_prefix(e, "tree '%s'", t->path);
    }
    *out = tj;
    return 0;
}

int rootstats_file(const char *path, const char *tree_path, int nthreads, json_t **out, mlhep_err *e)
{
    *out = NULL;
    rootfile *f;
    int rc = rootfile_open(path, &f, e);
    if (rc)
        return rc;
    rootfile_tree *trees = NULL;
    size_t nt = 0;
    if (tree_path) {
        trees = calloc(1, sizeof *trees);
        if (!trees) {
            rootfile_close(f);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        rc = rootfile_find_tree(f, tree_path, &trees[0].key, e);
        snprintf(trees[0].path, sizeof trees[0].path, "%s", tree_path);
        nt = 1;
    } else {
        rc = rootfile_list_trees(f, &trees, &nt, e);
        char rnt[400];
        mlhep_err ignore;
        if (!rc && nt == 0 && rootfile_rntuples(f, rnt, sizeof rnt, &ignore) > 0)
            rc = err_set(e, MLHEP_EUNSUPPORTED,
                         "no TTree: the file holds RNTuple %s, ROOT's newer columnar format, which mlhep does not "
                         "read (only TTrees)", rnt);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "file", json_string(path));
    json_t *ta = json_array();
    json_object_set_new(doc, "trees", ta);
    for (size_t i = 0; i < nt && !rc; i++) {
        ttree *t;
        rc = ttree_open_key(f, &trees[i].key, trees[i].path, &t, e);
        if (rc)
            break;
        json_t *tj;
        rc = rootstats_tree(f, t, 0, nthreads, &tj, e);
        ttree_free(t);
        if (!rc)
            json_array_append_new(ta, tj);
    }
    free(trees);
    rootfile_close(f);
    if (rc) {
        json_decref(doc);
        return err_prefix(e, "file %s", path);
    }
    *out = doc;
    return 0;
}

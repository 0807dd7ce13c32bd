/* dataset.c - see dataset.h. */
#include "dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evsource.h"

#define READ_BLOCK 8192

/* Rows already flattened for one file but not yet handed out. */
typedef struct fstream {
    evsource *src;
    int64_t next_entry;   /* next raw entry to read */
    int64_t entries;
    int64_t target;       /* events this file contributes in total */
    int64_t taken;        /* events handed out so far */
    /* pending rows */
    size_t npend, cappend, pos;
    float *x;
    uint8_t *mask;
    float *y;
    int64_t *ids, *entry;
} fstream;

struct dataset {
    const workflow *wf;
    const preproc *pp;
    const specs *sp;
    int width;
    size_t nid;
    int *colidx;          /* evblock column of each feature */
    int *ididx;
    int labelidx;
    int *offset;          /* first row column of each feature */
    double *sub, *scale;  /* normalisation per feature: (x - sub) * scale */
    float pad;
    fstream *fs;
    size_t nfiles;
    int64_t chunk;        /* rows per chunk */
    int64_t total_target;
    ds_chunk c;
    size_t cap;           /* rows allocated in c */
    uint64_t rng;
    int64_t *perm_tmp;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double dataset_split_u(uint64_t seed, uint32_t file, int64_t entry)
{
    uint64_t s = seed ^ ((uint64_t)file * 0xD1B54A32D192ED03ull) ^ ((uint64_t)entry * 0x8CB92BA72F3D8DD7ull);
    return (double)(splitmix(&s) >> 11) * 0x1.0p-53;
}

void dataset_column_name(const specs *sp, int k, char *buf, size_t n)
{
    for (size_t i = 0; i < sp->nfeat; i++) {
        if (k < sp->feat[i].len) {
            if (sp->feat[i].jagged)
                snprintf(buf, n, "%s[%d]", sp->feat[i].name, k);
            else
                snprintf(buf, n, "%s", sp->feat[i].name);
            return;
        }
        k -= sp->feat[i].len;
    }
    snprintf(buf, n, "?");
}

static void fstream_clear(fstream *f)
{
    evsource_free(f->src);
    free(f->x);
    free(f->mask);
    free(f->y);
    free(f->ids);
    free(f->entry);
    memset(f, 0, sizeof *f);
}

void dataset_free(dataset *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nfiles; i++)
        fstream_clear(&d->fs[i]);
    free(d->fs);
    free(d->colidx);
    free(d->ididx);
    free(d->offset);
    free(d->sub);
    free(d->scale);
    free(d->c.x);
    free(d->c.mask);
    free(d->c.y);
    free(d->c.ids);
    free(d->c.file);
    free(d->c.entry);
    free(d->c.split);
    free(d->perm_tmp);
    free(d);
}

static int find_read(const specs *sp, const char *name)
{
    for (size_t i = 0; i < sp->nread; i++)
        if (!strcmp(sp->read[i], name))
            return (int)i;
    return -1;
}

static int open_streams(dataset *d, mlhep_err *e)
{
    const workflow *wf = d->wf;
    for (size_t i = 0; i < d->nfiles; i++) {
        fstream *f = &d->fs[i];
        fstream_clear(f);
        int rc = evsource_open(wf->files[i].path, wf->tree, (const char *const *)d->sp->read, d->sp->nread, d->pp, 2,
                               &f->src, e);
        if (rc)
            return rc;
        f->entries = evsource_entries(f->src);
    }
    /* how many events each file gives: all passing events, or its share of nevts */
    int64_t total = d->sp->total_events;
    int64_t want = d->wf->params.nevts > 0 && d->wf->params.nevts < total ? d->wf->params.nevts : total;
    int64_t given = 0;
    size_t last = 0;
    for (size_t i = 0; i < d->nfiles; i++)
        if (d->sp->events[i] > 0)
            last = i;
    for (size_t i = 0; i < d->nfiles; i++) {
        int64_t ev = d->sp->events[i];
        int64_t t = total > 0 ? (int64_t)llround((double)want * (double)ev / (double)total) : 0;
        if (i == last)
            t = want - given;
        if (t > ev)
            t = ev;
        if (t < 0)
            t = 0;
        d->fs[i].target = t;
        given += t;
    }
    d->total_target = given;
    d->rng = d->wf->params.seed * 0x2545F4914F6CDD1Dull + 1;
    return 0;
}

int dataset_open(const workflow *wf, const preproc *pp, const specs *sp, dataset **out, mlhep_err *e)
{
    *out = NULL;
    if (sp->nfiles != wf->nfiles)
        return err_set(e, MLHEP_EINVAL, "specs were made for %zu files, the workflow has %zu", sp->nfiles, wf->nfiles);
    dataset *d = calloc(1, sizeof *d);
    if (!d)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    d->wf = wf;
    d->pp = pp;
    d->sp = sp;
    d->width = sp->width;
    d->nid = sp->nid;
    d->nfiles = wf->nfiles;
    double pad = wf->params.nan_value;
    d->pad = isfinite(pad) ? (float)pad : 0.0f;
    d->fs = calloc(d->nfiles + 1, sizeof *d->fs);
    d->colidx = calloc(sp->nfeat + 1, sizeof *d->colidx);
    d->offset = calloc(sp->nfeat + 1, sizeof *d->offset);
    d->sub = calloc(sp->nfeat + 1, sizeof *d->sub);
    d->scale = calloc(sp->nfeat + 1, sizeof *d->scale);
    d->ididx = calloc(sp->nid + 1, sizeof *d->ididx);
    int rc = 0;
    if (!d->fs || !d->colidx || !d->offset || !d->sub || !d->scale || !d->ididx)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    int off = 0;
    for (size_t i = 0; i < sp->nfeat && !rc; i++) {
        const specs_feature *ft = &sp->feat[i];
        int k = -1;
        if (ft->is_new) {
            for (size_t j = 0; pp && j < preproc_nnew(pp); j++)
                if (!strcmp(preproc_new_name(pp, j), ft->name))
                    k = (int)(sp->nread + j);
        } else {
            k = find_read(sp, ft->name);
        }
        if (k < 0)
            rc = err_set(e, MLHEP_EINVAL, "feature '%s' of the specs is not produced by the workflow", ft->name);
        d->colidx[i] = k;
        d->offset[i] = off;
        off += ft->len;
        if (wf->params.normalisation == WF_NORM_STANDARD) {
            d->sub[i] = ft->mean;
            d->scale[i] = ft->std > 0 ? 1.0 / ft->std : 1.0;
        } else {
            d->sub[i] = ft->max > ft->min ? ft->min : 0.0;
            d->scale[i] = ft->max > ft->min ? 1.0 / (ft->max - ft->min) : 1.0;
        }
    }
    for (size_t i = 0; i < sp->nid && !rc; i++)
        if ((d->ididx[i] = find_read(sp, sp->ids[i])) < 0)
            rc = err_set(e, MLHEP_EINVAL, "identifier '%s' is not read", sp->ids[i]);
    d->labelidx = wf->label_branch ? find_read(sp, wf->label_branch) : -1;
    if (!rc && wf->label_branch && d->labelidx < 0)
        rc = err_set(e, MLHEP_EINVAL, "label branch '%s' is not read", wf->label_branch);
    if (!rc && off != d->width)
        rc = err_set(e, MLHEP_EINVAL, "specs row width %d does not match its features (%d)", d->width, off);
    if (!rc)
        rc = open_streams(d, e);
    int64_t cs = wf->params.chunk_size;
    d->chunk = cs > 0 ? cs : (d->total_target > 0 ? d->total_target : 1);
    if (rc) {
        dataset_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int dataset_rewind(dataset *d, mlhep_err *e)
{
    return open_streams(d, e);
}

static int ensure_rows(dataset *d, size_t rows, mlhep_err *e)
{
    if (rows <= d->cap)
        return 0;
    size_t w = (size_t)d->width, ni = d->nid ? d->nid : 1;
    ds_chunk *c = &d->c;
    float *x = realloc(c->x, rows * w * sizeof *x);
    if (x) c->x = x;
    uint8_t *m = realloc(c->mask, rows * w);
    if (m) c->mask = m;
    float *y = realloc(c->y, rows * sizeof *y);
    if (y) c->y = y;
    int64_t *ids = realloc(c->ids, rows * ni * sizeof *ids);
    if (ids) c->ids = ids;
    uint32_t *fl = realloc(c->file, rows * sizeof *fl);
    if (fl) c->file = fl;
    int64_t *en = realloc(c->entry, rows * sizeof *en);
    if (en) c->entry = en;
    uint8_t *sp = realloc(c->split, rows);
    if (sp) c->split = sp;
    int64_t *pt = realloc(d->perm_tmp, rows * sizeof *pt);
    if (pt) d->perm_tmp = pt;
    if (!x || !m || !y || !ids || !fl || !en || !sp || !pt)
        return err_set(e, MLHEP_ENOMEM, "out of memory for a chunk of %zu rows x %zu", rows, w);
    d->cap = rows;
    return 0;
}

/* Reads the next block of file i and flattens the passing events into its pending rows. */
static int refill(dataset *d, size_t fi, mlhep_err *e)
{
    fstream *f = &d->fs[fi];
    const specs *sp = d->sp;
    size_t w = (size_t)d->width, ni = d->nid ? d->nid : 1;
    f->npend = f->pos = 0;
    while (f->npend == 0 && f->next_entry < f->entries) {
        evblock blk;
        int64_t a = f->next_entry;
        int rc = evsource_read(f->src, a, a + READ_BLOCK, &blk, e);
        if (rc)
            return rc;
        f->next_entry = a + (int64_t)blk.n;
        size_t npass = 0;
        for (size_t k = 0; k < blk.n; k++)
            npass += blk.mask[k];
        if (npass > f->cappend) {
            size_t cap = npass;
            float *x = realloc(f->x, cap * w * sizeof *x);
            if (x) f->x = x;
            uint8_t *m = realloc(f->mask, cap * w);
            if (m) f->mask = m;
            float *y = realloc(f->y, cap * sizeof *y);
            if (y) f->y = y;
            int64_t *ids = realloc(f->ids, cap * ni * sizeof *ids);
            if (ids) f->ids = ids;
            int64_t *en = realloc(f->entry, cap * sizeof *en);
            if (en) f->entry = en;
            if (!x || !m || !y || !ids || !en)
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            f->cappend = cap;
        }
        /* which events pass: row r <- event ev[r] */
        size_t r = 0;
        for (size_t k = 0; k < blk.n; k++)
            if (blk.mask[k])
                f->entry[r++] = a + (int64_t)k;
        /* features, column by column within tiles of rows that stay in cache */
        for (size_t t0 = 0; t0 < npass; t0 += 64) {
        size_t t1 = t0 + 64 < npass ? t0 + 64 : npass;
        for (size_t i = 0; i < sp->nfeat; i++) {
            const specs_feature *ft = &sp->feat[i];
            const expr_column *c = &blk.cols[d->colidx[i]];
            double sub = d->sub[i], scale = d->scale[i];
            size_t off = (size_t)d->offset[i];
            if (!ft->jagged) {
                for (size_t rr = t0; rr < t1; rr++) {
                    size_t k = (size_t)(f->entry[rr] - a);
                    f->x[rr * w + off] = (float)((c->values[k] - sub) * scale);
                    f->mask[rr * w + off] = 0;
                }
            } else {
                size_t L = (size_t)ft->len;
                for (size_t rr = t0; rr < t1; rr++) {
                    size_t k = (size_t)(f->entry[rr] - a);
                    size_t lo = (size_t)c->offsets[k], n = (size_t)(c->offsets[k + 1] - c->offsets[k]);
                    if (n > L)
                        n = L;
                    float *xr = f->x + rr * w + off;
                    uint8_t *mr = f->mask + rr * w + off;
                    for (size_t j = 0; j < n; j++) {
                        xr[j] = (float)((c->values[lo + j] - sub) * scale);
                        mr[j] = 0;
                    }
                    for (size_t j = n; j < L; j++) {
                        xr[j] = d->pad;
                        mr[j] = 1;
                    }
                }
            }
        }
        }
        for (size_t rr = 0; rr < npass; rr++) {
            size_t k = (size_t)(f->entry[rr] - a);
            for (size_t j = 0; j < d->nid; j++)
                f->ids[rr * ni + j] = (int64_t)blk.cols[d->ididx[j]].values[k];
            f->y[rr] = d->labelidx >= 0 ? (float)blk.cols[d->labelidx].values[k] : (float)d->wf->files[fi].label;
        }
        f->npend = npass;
    }
    return 0;
}

int dataset_next(dataset *d, ds_chunk *out, mlhep_err *e)
{
    int64_t remaining = 0;
    for (size_t i = 0; i < d->nfiles; i++)
        remaining += d->fs[i].target - d->fs[i].taken;
    if (remaining <= 0)
        return 0;
    int64_t rows = d->chunk < remaining ? d->chunk : remaining;
    if (ensure_rows(d, (size_t)rows, e))
        return e->code;
    /* quota per file in proportion to what it still has to give; the last absorbs rounding */
    size_t w = (size_t)d->width, ni = d->nid ? d->nid : 1;
    ds_chunk *c = &d->c;
    size_t filled = 0;
    int64_t assigned = 0;
    size_t lastf = 0;
    for (size_t i = 0; i < d->nfiles; i++)
        if (d->fs[i].target > d->fs[i].taken)
            lastf = i;
    for (size_t i = 0; i < d->nfiles; i++) {
        fstream *f = &d->fs[i];
        int64_t left = f->target - f->taken;
        if (left <= 0)
            continue;
        int64_t q = i == lastf ? rows - assigned : (int64_t)llround((double)rows * (double)left / (double)remaining);
        if (q > left)
            q = left;
        if (q < 0)
            q = 0;
        assigned += q;
        while (q > 0) {
            if (f->pos >= f->npend) {
                int rc = refill(d, i, e);
                if (rc)
                    return rc;
                if (f->npend == 0) {
                    /* fewer passing events than the specs counted: the file changed */
                    return err_set(e, MLHEP_EFORMAT,
                                   "file %s: ran out of events (%lld of %lld): it changed since the specs pass",
                                   d->wf->files[i].path, (long long)f->taken, (long long)f->target);
                }
            }
            size_t take = f->npend - f->pos;
            if ((int64_t)take > q)
                take = (size_t)q;
            memcpy(c->x + filled * w, f->x + f->pos * w, take * w * sizeof *c->x);
            memcpy(c->mask + filled * w, f->mask + f->pos * w, take * w);
            memcpy(c->y + filled, f->y + f->pos, take * sizeof *c->y);
            memcpy(c->ids + filled * ni, f->ids + f->pos * ni, take * ni * sizeof *c->ids);
            memcpy(c->entry + filled, f->entry + f->pos, take * sizeof *c->entry);
            for (size_t r = 0; r < take; r++) {
                c->file[filled + r] = (uint32_t)i;
                c->split[filled + r] =
                    dataset_split_u(d->wf->params.seed, (uint32_t)i, c->entry[filled + r]) <
                    d->wf->params.validation_fraction;
            }
            f->pos += take;
            f->taken += (int64_t)take;
            filled += take;
            q -= (int64_t)take;
        }
    }
    c->nrows = filled;
    c->width = d->width;
    c->nid = d->nid;
    if (d->wf->params.shuffle && filled > 1) {
        /* Fisher-Yates on row indices, then apply the permutation row by row through the
         * scratch index buffer (cycle-following keeps memory at one row) */
        int64_t *perm = d->perm_tmp;
        for (size_t r = 0; r < filled; r++)
            perm[r] = (int64_t)r;
        for (size_t r = filled - 1; r > 0; r--) {
            size_t j = (size_t)(splitmix(&d->rng) % (r + 1));
            int64_t t = perm[r];
            perm[r] = perm[j];
            perm[j] = t;
        }
        float *rowx = malloc(w * sizeof *rowx);
        uint8_t *rowm = malloc(w);
        int64_t *rowi = malloc(ni * sizeof *rowi);
        if (!rowx || !rowm || !rowi) {
            free(rowx); free(rowm); free(rowi);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        /* position r receives row perm[r] */
        for (size_t start = 0; start < filled; start++) {
            if (perm[start] < 0 || (size_t)perm[start] == start)
                continue;
            memcpy(rowx, c->x + start * w, w * sizeof *rowx);
            memcpy(rowm, c->mask + start * w, w);
            memcpy(rowi, c->ids + start * ni, ni * sizeof *rowi);
            float ty = c->y[start];
            uint32_t tf = c->file[start];
            int64_t te = c->entry[start];
            uint8_t ts = c->split[start];
            size_t cur = start;
            for (;;) {
                size_t src = (size_t)perm[cur];
                perm[cur] = -1;
                if (src == start) {
                    memcpy(c->x + cur * w, rowx, w * sizeof *rowx);
                    memcpy(c->mask + cur * w, rowm, w);
                    memcpy(c->ids + cur * ni, rowi, ni * sizeof *rowi);
                    c->y[cur] = ty;
                    c->file[cur] = tf;
                    c->entry[cur] = te;
                    c->split[cur] = ts;
                    break;
                }
                memcpy(c->x + cur * w, c->x + src * w, w * sizeof *rowx);
                memcpy(c->mask + cur * w, c->mask + src * w, w);
                memcpy(c->ids + cur * ni, c->ids + src * ni, ni * sizeof *rowi);
                c->y[cur] = c->y[src];
                c->file[cur] = c->file[src];
                c->entry[cur] = c->entry[src];
                c->split[cur] = c->split[src];
                cur = src;
            }
        }
        free(rowx); free(rowm); free(rowi);
    }
    *out = *c;
    return 1;
}

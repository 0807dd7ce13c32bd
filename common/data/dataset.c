/* dataset.c - see dataset.h. */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigbuf.h"
#include "base/rng.h"
#include "data/evsource.h"

#define READ_BLOCK 16384   /* most entries decoded at once from one file */
#define MIN_BLOCK 1024     /* fewest */
/* rows flattened together, feature after feature: 256 rows of the ttH shape (331
 * values, 424 KB with their masks) stay in a core's L2 while each feature column is
 * read in longer runs; 256 took 10-20% less CPU than 64, 128, 512 or 1024 (shared
 * machine, 2026-12-07) */
#define TILE 256
#define EMIT_SPLIT_MIN 128 /* fewest rows of one file flattened on all threads */

/* One input file: its source and the block being handed out. */
typedef struct fstream {
    evsource *src;
    int64_t next_entry;   /* next raw entry to read */
    int64_t entries;
    int64_t target;       /* events this file contributes in total */
    int64_t taken;        /* events handed out so far */
    evblock blk;          /* current block, entries [blk_a, blk_a + blk.n) */
    int64_t blk_a;
    int64_t block;        /* entries decoded per refill: about four chunks' share of this
                             file, so that many open files do not each hold a big block */
    uint32_t *pass;       /* events of the block that pass the cuts */
    size_t npass, passcap, pos; /* pass[pos..npass) not handed out yet */
} fstream;

struct dataset {
    const dataparams *dp;
    const preproc *pp;
    const specs *sp;
    int width;
    size_t nid;
    int *colidx;          /* evblock column of each feature */
    int *ididx;
    int labelidx;
    int weightidx;        /* evblock column of the event weight, -1 none */
    int *offset;          /* first row column of each feature */
    double *sub, *scale;  /* normalisation per feature: (x - sub) * scale */
    float pad;
    fstream *fs;
    size_t nfiles;
    int64_t chunk;        /* rows per chunk */
    int64_t total_target;
    ds_chunk c;
    size_t cap;           /* rows allocated in c */
    ds_chunk kept;        /* the chunk dataset_keep() holds for the caller, and its rows */
    size_t kept_cap;
    uint64_t rng;
    int64_t *perm_tmp;
    size_t perm_cap;      /* rows allocated in perm_tmp and dest: the most any chunk had */
    size_t *dest;         /* chunk row of each row handed out, in hand-out order */
    int64_t *quota;       /* rows of the current chunk per file */
    team *tm;
};

double dataset_split_u(uint64_t seed, uint32_t file, int64_t entry)
{
    uint64_t s = seed ^ ((uint64_t)file * 0xD1B54A32D192ED03ull) ^ ((uint64_t)entry * 0x8CB92BA72F3D8DD7ull);
    return rng_to_unit(rng_splitmix(&s));
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
    free(f->pass);
    memset(f, 0, sizeof *f);
}

static void chunk_free(ds_chunk *c, size_t cap, size_t w)
{
    bigbuf_free(c->x, cap * w * sizeof *c->x);
    bigbuf_free(c->mask, cap * w);
    free(c->y);
    free(c->ids);
    free(c->file);
    free(c->entry);
    free(c->split);
    free(c->w);
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
    chunk_free(&d->c, d->cap, (size_t)d->width);
    chunk_free(&d->kept, d->kept_cap, (size_t)d->width);
    free(d->perm_tmp);
    free(d->dest);
    free(d->quota);
    team_free(d->tm);
    free(d);
}

static int find_read(const specs *sp, const char *name)
{
    for (size_t i = 0; i < sp->nread; i++)
        if (!strcmp(sp->read[i], name))
            return (int)i;
    return -1;
}

/* Opens the files once (a rewind keeps them open, with their warm buffers). */
static int open_files(dataset *d, mlhep_err *e)
{
    const dataparams *dp = d->dp;
    for (size_t i = 0; i < d->nfiles; i++) {
        fstream *f = &d->fs[i];
        int rc = evsource_open(dp->files[i].path, dp->access, dp->tree, (const char *const *)d->sp->read, d->sp->nread, d->pp,
                               d->tm, &f->src, e);
        if (rc)
            return rc;
        f->entries = evsource_entries(f->src);
    }
    return 0;
}

/* Back to the first event of every file, with each file's share of the events. */
static void start_streams(dataset *d)
{
    for (size_t i = 0; i < d->nfiles; i++) {
        fstream *f = &d->fs[i];
        f->next_entry = 0;
        f->taken = 0;
        f->npass = f->pos = 0;
        f->blk.n = 0;
    }
    /* how many events each file gives: all passing events, or its share of nevts */
    int64_t total = d->sp->total_events;
    int64_t want = d->dp->nevts > 0 && d->dp->nevts < total ? d->dp->nevts : total;
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
    d->rng = d->dp->seed * 0x2545F4914F6CDD1Dull + 1;
}

int dataset_open(const dataparams *dp, const preproc *pp, const specs *sp, dataset **out, mlhep_err *e)
{
    *out = NULL;
    if (sp->nfiles != dp->nfiles)
        return err_set(e, MLHEP_EINVAL, "specs were made for %zu files, the workflow has %zu", sp->nfiles, dp->nfiles);
    dataset *d = calloc(1, sizeof *d);
    if (!d)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    d->dp = dp;
    d->pp = pp;
    d->sp = sp;
    d->width = sp->width;
    d->nid = sp->nid;
    d->nfiles = dp->nfiles;
    d->pad = dp_pad(dp->nan_value);
    d->fs = calloc(d->nfiles + 1, sizeof *d->fs);
    d->colidx = calloc(sp->nfeat + 1, sizeof *d->colidx);
    d->offset = calloc(sp->nfeat + 1, sizeof *d->offset);
    d->sub = calloc(sp->nfeat + 1, sizeof *d->sub);
    d->scale = calloc(sp->nfeat + 1, sizeof *d->scale);
    d->ididx = calloc(sp->nid + 1, sizeof *d->ididx);
    d->quota = calloc(d->nfiles + 1, sizeof *d->quota);
    int rc = 0;
    if (!d->fs || !d->colidx || !d->offset || !d->sub || !d->scale || !d->ididx || !d->quota)
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
        dp_norm_coeffs(dp->norm, ft->min, ft->max, ft->mean, ft->std, &d->sub[i], &d->scale[i]);
    }
    for (size_t i = 0; i < sp->nid && !rc; i++)
        if ((d->ididx[i] = find_read(sp, sp->ids[i])) < 0)
            rc = err_set(e, MLHEP_EINVAL, "identifier '%s' is not read", sp->ids[i]);
    d->labelidx = dp->label_branch ? find_read(sp, dp->label_branch) : -1;
    d->weightidx = preproc_weight_index(pp) >= 0 ? (int)sp->nread + preproc_weight_index(pp) : -1;
    if (!rc && dp->weight && d->weightidx < 0)
        rc = err_set(e, MLHEP_EINVAL, "the event weight expression was not compiled into the pre-processing");
    if (!rc && dp->label_branch && d->labelidx < 0)
        rc = err_set(e, MLHEP_EINVAL, "label branch '%s' is not read", dp->label_branch);
    if (!rc && off != d->width)
        rc = err_set(e, MLHEP_EINVAL, "specs row width %d does not match its features (%d)", d->width, off);
    if (!rc)
        rc = team_new(dp->threads > 0 ? dp->threads : team_ncpu(), &d->tm, e);
    if (!rc)
        rc = open_files(d, e);
    if (!rc)
        start_streams(d);
    int64_t cs = dp->chunk_size;
    d->chunk = cs > 0 ? cs : (d->total_target > 0 ? d->total_target : 1);
    /* Block per file: a chunk takes chunk * target / total rows from a file, so a block
     * of four times that (rounded up to MIN_BLOCK, at most READ_BLOCK) serves about four
     * chunks (fewer, larger blocks keep the team's hand-overs rare). Every file stays open with its block decoded, so with many files this
     * keeps memory near the chunk's size instead of files x READ_BLOCK events. */
    for (size_t i = 0; i < d->nfiles && !rc; i++) {
        fstream *f = &d->fs[i];
        double share = d->total_target > 0 ? (double)f->target / (double)d->total_target : 1.0;
        int64_t b = (int64_t)(4.0 * (double)d->chunk * share) + 1;
        b = (b + MIN_BLOCK - 1) / MIN_BLOCK * MIN_BLOCK;
        f->block = b < MIN_BLOCK ? MIN_BLOCK : b > READ_BLOCK ? READ_BLOCK : b;
    }
    if (rc) {
        dataset_free(d);
        return rc;
    }
    *out = d;
    return 0;
}


int64_t dataset_rows(const dataset *d) { return d->total_target; }

int64_t dataset_chunks(const dataset *d)
{
    return d->total_target > 0 ? (d->total_target + d->chunk - 1) / d->chunk : 0;
}

int dataset_rewind(dataset *d, mlhep_err *e)
{
    (void)e;
    start_streams(d);
    return 0;
}

static int ensure_rows(dataset *d, size_t rows, mlhep_err *e)
{
    if (rows <= d->cap)
        return 0;
    size_t w = (size_t)d->width, ni = d->nid ? d->nid : 1;
    ds_chunk *c = &d->c;
    /* rows and mask are rebuilt for every chunk: new buffers, nothing to keep */
    bigbuf_free(c->x, d->cap * w * sizeof *c->x);
    bigbuf_free(c->mask, d->cap * w);
    c->x = NULL;
    c->mask = NULL;
    d->cap = 0;
    float *x = c->x = bigbuf_alloc(rows * w * sizeof *x);
    uint8_t *m = c->mask = bigbuf_alloc(rows * w);
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
    float *cw = realloc(c->w, rows * sizeof *cw);
    if (cw) c->w = cw;
    /* shared by both buffers of dataset_keep(): grown to the largest chunk, never shrunk */
    int64_t *pt = rows > d->perm_cap ? realloc(d->perm_tmp, rows * sizeof *pt) : d->perm_tmp;
    if (pt) d->perm_tmp = pt;
    size_t *ds = rows > d->perm_cap ? realloc(d->dest, rows * sizeof *ds) : d->dest;
    if (ds) d->dest = ds;
    if (!x || !m || !y || !ids || !fl || !en || !sp || !cw || !pt || !ds) {
        bigbuf_free(c->x, rows * w * sizeof *c->x);
        bigbuf_free(c->mask, rows * w);
        c->x = NULL;
        c->mask = NULL;
        return err_set(e, MLHEP_ENOMEM, "out of memory for a chunk of %zu rows x %zu", rows, w);
    }
    d->cap = rows;
    if (rows > d->perm_cap)
        d->perm_cap = rows;
    return 0;
}

void dataset_keep(dataset *d)
{
    ds_chunk t = d->c;
    d->c = d->kept;
    d->kept = t;
    size_t k = d->cap;
    d->cap = d->kept_cap;
    d->kept_cap = k;
}

/* Reads the next block of file fi that has passing events (f->npass == 0 at the end). */
static int refill(dataset *d, size_t fi, mlhep_err *e)
{
    fstream *f = &d->fs[fi];
    f->npass = f->pos = 0;
    while (f->npass == 0 && f->next_entry < f->entries) {
        int64_t a = f->next_entry;
        int rc = evsource_read(f->src, a, evsource_block_end(f->src, a, a + f->block), &f->blk, e);
        if (rc)
            return rc;
        f->blk_a = a;
        f->next_entry = a + (int64_t)f->blk.n;
        if (f->blk.n > f->passcap) {
            uint32_t *p = realloc(f->pass, f->blk.n * sizeof *p);
            if (!p)
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            f->pass = p;
            f->passcap = f->blk.n;
        }
        size_t r = 0;
        for (size_t k = 0; k < f->blk.n; k++) {
            f->pass[r] = (uint32_t)k;
            r += f->blk.mask[k];
        }
        f->npass = r;
    }
    return 0;
}

/* Rows pass[0..n) of a block go to chunk rows dest[0..n): the threads of the team
 * take equal slices of the rows. */
typedef struct emit_job {
    dataset *d;
    size_t fi;
    const evblock *blk;
    int64_t blk_a;
    const uint32_t *pass;
    const size_t *dest;
    size_t n;
    int64_t bad_entry[TEAM_MAX]; /* per thread: first entry whose weight is not finite, -1 */
} emit_job;

/* Flattening and normalisation write straight into each row's place in the chunk
 * (dest[r]), one feature column after the other over a tile of TILE rows: the column is
 * read in order, and the tile's destination rows (TILE x (4 width + width) bytes) stay
 * in the cache until every feature has been written. Every value is computed as
 * (float)(((double)x - sub) * scale), in double precision and rounded once, whatever
 * the path (vector or scalar), so the rows are the same bit for bit.
 *
 * Jagged columns of float or int values take a vector path (SSE2, which every x86-64
 * has; for L > 4, eight lanes at a time with AVX2 where the CPU has it, the same values
 * and stores): each row's first L values are converted four at a time, lanes past the
 * event's count replaced by the pad value, without a branch on the count (a branch per
 * slot mispredicts on every event whose count differs from the last). A vector store
 * may write up to three slots past the feature's L: the features of a row are written
 * in column order, so the next feature overwrites them; the row's last feature
 * stores exactly. Loads past the event's values stay inside the block's column (the
 * vector path is taken only when they do). The mask of L slots comes from a table of
 * 0s then 1s (64 of each), in one 8-byte store when L <= 8. */
static const uint8_t mask01[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* mask slots [0, L) of a jagged feature holding cnt (<= L) values: 1 from cnt on */
static inline void jag_mask(uint8_t *mr, size_t cnt, size_t L, int room8)
{
    if (L <= 8 && room8) {
        memcpy(mr, mask01 + 64 - cnt, 8); /* slots L..7 belong to later features */
    } else if (L <= 64) {
        memcpy(mr, mask01 + 64 - cnt, L);
    } else {
        memset(mr, 0, cnt);
        memset(mr + cnt, 1, L - cnt);
    }
}

/* What one feature column of a tile needs. */
typedef struct emit_feat {
    const evcol *c;
    double sub, scale;
    size_t off, L;      /* first row column; slots (jagged) */
    size_t total;       /* jagged: values in the block's column */
} emit_feat;

#if defined(__SSE2__)
#include <emmintrin.h>
#define EMIT_SIMD 1

/* four normalised lanes from four doubles' worth of input (two halves) */
static inline __m128 norm4(__m128d a, __m128d b, __m128d vsub, __m128d vsc)
{
    a = _mm_mul_pd(_mm_sub_pd(a, vsub), vsc);
    b = _mm_mul_pd(_mm_sub_pd(b, vsub), vsc);
    return _mm_movelh_ps(_mm_cvtpd_ps(a), _mm_cvtpd_ps(b));
}

/* Jagged float (is_int 0) or int32 (is_int 1) column over the nr rows of a tile: row r
 * is event pass[r] of the block and goes to chunk row dest[r]. */
static void jag_simd(const emit_feat *f, int is_int, const uint32_t *pass, const size_t *dest, size_t nr, float *X,
                     uint8_t *M, size_t w, float pad)
{
    const int64_t *offs = f->c->offsets;
    const float *vf = f->c->values;
    const int32_t *vi = f->c->values;
    size_t L = f->L, off = f->off;
    /* vector groups per row: all of L when the row has room for the overshoot */
    size_t Lr = (L + 3) & ~(size_t)3;
    size_t Lv = off + Lr <= w ? Lr : L & ~(size_t)3;
    int room8 = off + 8 <= w;
    const __m128d vsub = _mm_set1_pd(f->sub), vsc = _mm_set1_pd(f->scale);
    const __m128 vpad = _mm_set1_ps(pad);
    const __m128i lanes = _mm_set_epi32(3, 2, 1, 0);
    double sub = f->sub, scale = f->scale;
    for (size_t r = 0; r < nr; r++) {
        size_t k = pass[r];
        size_t lo = (size_t)offs[k], cnt = (size_t)(offs[k + 1] - offs[k]);
        if (cnt > L)
            cnt = L;
        float *xr = X + dest[r] * w + off;
        uint8_t *mr = M + dest[r] * w + off;
        size_t j = 0;
        if (lo + Lv <= f->total) {
            const __m128i vcnt = _mm_set1_epi32((int)cnt);
            for (; j < Lv; j += 4) {
                __m128d a, b;
                if (is_int) {
                    __m128i in = _mm_loadu_si128((const __m128i *)(vi + lo + j));
                    a = _mm_cvtepi32_pd(in);
                    b = _mm_cvtepi32_pd(_mm_shuffle_epi32(in, _MM_SHUFFLE(1, 0, 3, 2)));
                } else {
                    __m128 in = _mm_loadu_ps(vf + lo + j);
                    a = _mm_cvtps_pd(in);
                    b = _mm_cvtps_pd(_mm_movehl_ps(in, in));
                }
                __m128 o = norm4(a, b, vsub, vsc);
                __m128 keep = _mm_castsi128_ps(_mm_cmplt_epi32(_mm_add_epi32(lanes, _mm_set1_epi32((int)j)), vcnt));
                o = _mm_or_ps(_mm_and_ps(keep, o), _mm_andnot_ps(keep, vpad));
                _mm_storeu_ps(xr + j, o);
            }
        }
        for (; j < L; j++) /* the row's last feature, or the block's last events */
            xr[j] = j < cnt ? (float)(((is_int ? (double)vi[lo + j] : (double)vf[lo + j]) - sub) * scale) : pad;
        jag_mask(mr, cnt, L, room8);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define EMIT_AVX2 1

/* jag_simd with eight lanes at a time where the CPU has AVX2 (checked by the caller):
 * the same vector groups (Lv, a multiple of 4: the same loads, the same overshoot of
 * at most three slots), eight at a time then a last four; the same operations per
 * value in double precision, so the rows are the same bit for bit. */
__attribute__((target("avx2"))) static void jag_avx2(const emit_feat *f, int is_int, const uint32_t *pass,
                                                     const size_t *dest, size_t nr, float *X, uint8_t *M, size_t w,
                                                     float pad)
{
    const int64_t *offs = f->c->offsets;
    const float *vf = f->c->values;
    const int32_t *vi = f->c->values;
    size_t L = f->L, off = f->off;
    size_t Lr = (L + 3) & ~(size_t)3;
    size_t Lv = off + Lr <= w ? Lr : L & ~(size_t)3;
    int room8 = off + 8 <= w;
    const __m256d vsub = _mm256_set1_pd(f->sub), vsc = _mm256_set1_pd(f->scale);
    const __m256 vpad = _mm256_set1_ps(pad);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    double sub = f->sub, scale = f->scale;
    for (size_t r = 0; r < nr; r++) {
        size_t k = pass[r];
        size_t lo = (size_t)offs[k], cnt = (size_t)(offs[k + 1] - offs[k]);
        if (cnt > L)
            cnt = L;
        float *xr = X + dest[r] * w + off;
        uint8_t *mr = M + dest[r] * w + off;
        size_t j = 0;
        if (lo + Lv <= f->total) {
            const __m256i vcnt = _mm256_set1_epi32((int)cnt);
            for (; j < Lv; j += 8) {
                __m256d a, b;
                if (j + 8 > Lv) { /* the last group of four */
                    if (is_int) {
                        __m128i in = _mm_loadu_si128((const __m128i *)(vi + lo + j));
                        a = _mm256_cvtepi32_pd(in);
                    } else {
                        a = _mm256_cvtps_pd(_mm_loadu_ps(vf + lo + j));
                    }
                    __m128 o = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(a, vsub), vsc));
                    __m128 keep = _mm_castsi128_ps(
                        _mm_cmpgt_epi32(_mm256_castsi256_si128(vcnt), _mm_add_epi32(_mm256_castsi256_si128(lanes),
                                                                                   _mm_set1_epi32((int)j))));
                    _mm_storeu_ps(xr + j, _mm_blendv_ps(_mm256_castps256_ps128(vpad), o, keep));
                    break;
                }
                if (is_int) {
                    __m256i in = _mm256_loadu_si256((const __m256i *)(vi + lo + j));
                    a = _mm256_cvtepi32_pd(_mm256_castsi256_si128(in));
                    b = _mm256_cvtepi32_pd(_mm256_extracti128_si256(in, 1));
                } else {
                    __m256 in = _mm256_loadu_ps(vf + lo + j);
                    a = _mm256_cvtps_pd(_mm256_castps256_ps128(in));
                    b = _mm256_cvtps_pd(_mm256_extractf128_ps(in, 1));
                }
                __m128 oa = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(a, vsub), vsc));
                __m128 ob = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(b, vsub), vsc));
                __m256 o = _mm256_insertf128_ps(_mm256_castps128_ps256(oa), ob, 1);
                __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(vcnt, _mm256_add_epi32(lanes, _mm256_set1_epi32((int)j))));
                _mm256_storeu_ps(xr + j, _mm256_blendv_ps(vpad, o, keep));
            }
            j = Lv;
        }
        for (; j < L; j++) /* the row's last feature, or the block's last events */
            xr[j] = j < cnt ? (float)(((is_int ? (double)vi[lo + j] : (double)vf[lo + j]) - sub) * scale) : pad;
        jag_mask(mr, cnt, L, room8);
    }
}
#endif
#endif

/* Flattens and normalises feature columns into the rows (one loop per value type,
 * chosen once per feature and tile of rows). */
#define FLAT_LOOP(T)                                                                                                   \
    {                                                                                                                  \
        const T *v = (const T *)c->values;                                                                             \
        for (size_t r = 0; r < nr; r++) {                                                                              \
            size_t o = dest[r] * w + off;                                                                              \
            X[o] = (float)(((double)v[pass[r]] - sub) * scale);                                                        \
            M[o] = 0;                                                                                                  \
        }                                                                                                              \
    }                                                                                                                  \
    break;
#define JAG_LOOP(T)                                                                                                    \
    {                                                                                                                  \
        const T *v = (const T *)c->values;                                                                             \
        for (size_t r = 0; r < nr; r++) {                                                                              \
            size_t k = pass[r];                                                                                        \
            size_t lo = (size_t)c->offsets[k], cnt = (size_t)(c->offsets[k + 1] - c->offsets[k]);                      \
            if (cnt > L)                                                                                               \
                cnt = L;                                                                                               \
            float *xr = X + dest[r] * w + off;                                                                         \
            for (size_t j = 0; j < cnt; j++)                                                                           \
                xr[j] = (float)(((double)v[lo + j] - sub) * scale);                                                    \
            for (size_t j = cnt; j < L; j++)                                                                           \
                xr[j] = pad;                                                                                           \
            jag_mask(M + dest[r] * w + off, cnt, L, room8);                                                            \
        }                                                                                                              \
    }                                                                                                                  \
    break;
#define BY_TYPE(LOOP)                                                                                                  \
    switch (c->dt) {                                                                                                   \
    case DT_BOOL: case DT_U8: LOOP(uint8_t)                                                                            \
    case DT_I8: LOOP(int8_t)                                                                                           \
    case DT_I16: LOOP(int16_t)                                                                                         \
    case DT_U16: LOOP(uint16_t)                                                                                        \
    case DT_I32: LOOP(int32_t)                                                                                         \
    case DT_U32: LOOP(uint32_t)                                                                                        \
    case DT_I64: LOOP(int64_t)                                                                                         \
    case DT_U64: LOOP(uint64_t)                                                                                        \
    case DT_F32: LOOP(float)                                                                                           \
    case DT_F64: LOOP(double)                                                                                          \
    default: break;                                                                                                    \
    }

static void emit_rows(void *arg, int tid, int nthreads)
{
    emit_job *j = arg;
    dataset *d = j->d;
    const specs *sp = d->sp;
    size_t w = (size_t)d->width, ni = d->nid ? d->nid : 1;
    size_t lo = j->n * (size_t)tid / (size_t)nthreads, hi = j->n * (size_t)(tid + 1) / (size_t)nthreads;
    float pad = d->pad;
    float *X = d->c.x;
    uint8_t *M = d->c.mask;
    for (size_t r0 = lo; r0 < hi; r0 += TILE) {
        size_t nr = r0 + TILE < hi ? TILE : hi - r0;
        const uint32_t *pass = j->pass + r0;
        const size_t *dest = j->dest + r0;
        for (size_t i = 0; i < sp->nfeat; i++) {
            const evcol *c = &j->blk->cols[d->colidx[i]];
            double sub = d->sub[i], scale = d->scale[i];
            size_t off = (size_t)d->offset[i];
            if (!sp->feat[i].jagged) {
                BY_TYPE(FLAT_LOOP)
                continue;
            }
            size_t L = (size_t)sp->feat[i].len;
            int room8 = off + 8 <= w;
#ifdef EMIT_SIMD
            if (c->dt == DT_F32 || c->dt == DT_I32) {
                emit_feat f = {.c = c, .sub = sub, .scale = scale, .off = off, .L = L,
                               .total = (size_t)c->offsets[j->blk->n]};
#ifdef EMIT_AVX2
                if (L > 4 && __builtin_cpu_supports("avx2")) {
                    jag_avx2(&f, c->dt == DT_I32, pass, dest, nr, X, M, w, pad);
                    continue;
                }
#endif
                jag_simd(&f, c->dt == DT_I32, pass, dest, nr, X, M, w, pad);
                continue;
            }
#endif
            BY_TYPE(JAG_LOOP)
        }
    }
    const uint32_t *pass = j->pass;
    const size_t *dest = j->dest;
    ds_chunk *c = &d->c;
    const dataparams *dp = d->dp;
    for (size_t r = lo; r < hi; r++) {
        size_t k = pass[r], o = dest[r];
        for (size_t q = 0; q < d->nid; q++)
            c->ids[o * ni + q] = evcol_get_i64(&j->blk->cols[d->ididx[q]], k);
        c->y[o] = d->labelidx >= 0 ? (float)evcol_get(&j->blk->cols[d->labelidx], k) : (float)dp->files[j->fi].label;
        c->file[o] = (uint32_t)j->fi;
        c->entry[o] = j->blk_a + (int64_t)k;
        c->split[o] = (uint8_t)dp_split(dp, dataset_split_u(dp->seed, (uint32_t)j->fi, c->entry[o]));
        double wv = d->weightidx >= 0 ? evcol_get(&j->blk->cols[d->weightidx], k) : 1.0;
        if (!isfinite(wv) && j->bad_entry[tid] < 0)
            j->bad_entry[tid] = c->entry[o];
        c->w[o] = (float)dp_event_weight(dp, dp->files[j->fi].scale, wv);
    }
}
#undef FLAT_LOOP
#undef JAG_LOOP
#undef BY_TYPE

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
    int64_t assigned = 0;
    size_t lastf = 0;
    for (size_t i = 0; i < d->nfiles; i++)
        if (d->fs[i].target > d->fs[i].taken)
            lastf = i;
    for (size_t i = 0; i < d->nfiles; i++) {
        fstream *f = &d->fs[i];
        int64_t left = f->target - f->taken;
        int64_t q = 0;
        if (left > 0) {
            q = i == lastf ? rows - assigned : (int64_t)llround((double)rows * (double)left / (double)remaining);
            if (q > left)
                q = left;
            if (q > rows - assigned) /* many files each rounding up: never more than the chunk */
                q = rows - assigned;
            if (q < 0)
                q = 0;
        }
        d->quota[i] = q;
        assigned += q;
    }
    /* where each row goes: in order, or shuffled (Fisher-Yates on row indices:
     * position r receives the perm[r]-th row handed out, so row q goes to dest[q]) */
    size_t nr = (size_t)assigned;
    if (d->dp->shuffle && nr > 1) {
        int64_t *perm = d->perm_tmp;
        for (size_t r = 0; r < nr; r++)
            perm[r] = (int64_t)r;
        for (size_t r = nr - 1; r > 0; r--) {
            size_t j = (size_t)(rng_splitmix(&d->rng) % (r + 1));
            int64_t t = perm[r];
            perm[r] = perm[j];
            perm[j] = t;
        }
        for (size_t r = 0; r < nr; r++)
            d->dest[perm[r]] = r;
    } else {
        for (size_t r = 0; r < nr; r++)
            d->dest[r] = r;
    }
    ds_chunk *c = &d->c;
    size_t filled = 0;
    for (size_t i = 0; i < d->nfiles; i++) {
        fstream *f = &d->fs[i];
        int64_t q = d->quota[i];
        while (q > 0) {
            if (f->pos >= f->npass) {
                int rc = refill(d, i, e);
                if (rc)
                    return rc;
                if (f->npass == 0) {
                    /* fewer passing events than the specs counted: the file changed */
                    return err_set(e, MLHEP_EFORMAT,
                                   "file %s: ran out of events (%lld of %lld): it changed since the specs pass",
                                   d->dp->files[i].path, (long long)f->taken, (long long)f->target);
                }
            }
            size_t take = f->npass - f->pos;
            if ((int64_t)take > q)
                take = (size_t)q;
            emit_job j = {.d = d, .fi = i, .blk = &f->blk, .blk_a = f->blk_a, .pass = f->pass + f->pos,
                          .dest = d->dest + filled, .n = take};
            for (int t = 0; t < TEAM_MAX; t++)
                j.bad_entry[t] = -1;
            team_run(take >= EMIT_SPLIT_MIN ? d->tm : NULL, emit_rows, &j);
            for (int t = 0; t < TEAM_MAX; t++)
                if (j.bad_entry[t] >= 0)
                    return err_set(e, MLHEP_EINVAL, "file %s entry %lld: the event weight (%s) is not a finite "
                                   "number", d->dp->files[i].path, (long long)j.bad_entry[t], d->dp->weight);
            f->pos += take;
            f->taken += (int64_t)take;
            filled += take;
            q -= (int64_t)take;
        }
    }
    c->nrows = filled;
    c->width = d->width;
    c->nid = d->nid;
    *out = *c;
    return 1;
}

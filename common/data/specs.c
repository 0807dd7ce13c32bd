/* specs.c - see specs.h. */
#include "data/specs.h"

#include <float.h>
#include <fnmatch.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/evsource.h"
#include "base/team.h"
#include "root/rootfile.h"
#include "root/ttree.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLOCK 16384

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void specs_free(specs *s)
{
    if (!s)
        return;
    free(s->tree);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->entries);
    free(s->events);
    for (size_t i = 0; i < s->nfeat; i++) {
        free(s->feat[i].name);
        free(s->feat[i].len_hist);
    }
    free(s->feat);
    for (size_t i = 0; i < s->nread; i++)
        free(s->read[i]);
    free(s->read);
    for (size_t i = 0; i < s->nid; i++)
        free(s->ids[i]);
    free(s->ids);
    free(s);
}

int specs_find(const specs *s, const char *name)
{
    for (size_t i = 0; i < s->nfeat; i++)
        if (!strcmp(s->feat[i].name, name))
            return (int)i;
    return -1;
}

static int in_list(const char *const *l, size_t n, const char *x)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i], x))
            return 1;
    return 0;
}

static int add_unique(char ***l, size_t *n, const char *x)
{
    if (in_list((const char *const *)*l, *n, x))
        return 0;
    char **v = realloc(*l, (*n + 1) * sizeof *v);
    if (!v)
        return -1;
    *l = v;
    if (!(v[*n] = strdup(x)))
        return -1;
    (*n)++;
    return 0;
}

int specs_preproc(const dataparams *dp, preproc **out, mlhep_err *e)
{
    *out = NULL;
    int nodoc = !dp->preproc || (json_is_object(dp->preproc) && json_object_size(dp->preproc) == 0);
    if (nodoc && !dp->weight)
        return 0;
    if (dp->nfiles == 0)
        return err_set(e, MLHEP_EINVAL, "workflow has no input files");
    expr_schema *sc;
    int rc = evsource_schema(dp->files[0].path, dp->access, dp->tree, &sc, e);
    if (rc)
        return rc;
    rc = preproc_compile_weighted(nodoc ? NULL : dp->preproc, dp->weight, sc, out, e);
    expr_schema_free(sc);
    return rc;
}

/* Branch lists (selected_branches, exclude_branches) hold names or shell patterns
 * ("GenPart_*", "LHE*": fnmatch(3), when the entry has *, ? or [). */
static int is_pattern(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

static int name_matches(const char *entry, const char *name)
{
    return is_pattern(entry) ? fnmatch(entry, name, 0) == 0 : strcmp(entry, name) == 0;
}

static int in_patterns(const char *const *l, size_t n, const char *x)
{
    for (size_t i = 0; i < n; i++)
        if (name_matches(l[i], x))
            return 1;
    return 0;
}

/* Every entry of a branch list must match a branch of the tree (or a new branch of the
 * pre-processing): a typo would otherwise be silently ignored. */
static int check_list(const dataparams *dp, const ttree *t, const preproc *pp, const char *key,
                      const char *const *l, size_t n, mlhep_err *e)
{
    for (size_t i = 0; i < n; i++) {
        int hit = 0;
        for (int b = 0; b < t->nbranches && !hit; b++)
            hit = name_matches(l[i], t->branches[b]->name);
        for (size_t k = 0; pp && k < preproc_nnew(pp) && !hit; k++)
            hit = (int)k != preproc_weight_index(pp) && name_matches(l[i], preproc_new_name(pp, k));
        if (hit)
            continue;
        const char *near = ttree_branch_closest(t, l[i]);
        return err_set(e, MLHEP_ENOTFOUND, "params.%s: '%s' matches no branch of tree '%s' in %s%s%s%s",
                       key, l[i], dp->tree, dp->files[0].path, near ? " (did you mean '" : "",
                       near ? near : "", near ? "'?)" : "");
    }
    return 0;
}

int specs_plan(const dataparams *dp, const preproc *pp, specs **out, mlhep_err *e)
{
    *out = NULL;
    if (dp->nfiles == 0)
        return err_set(e, MLHEP_EINVAL, "workflow has no input files");
    rootfile *f;
    int rc = rootfile_open_with(dp->files[0].path, dp->access, &f, e);
    if (rc)
        return rc;
    ttree *t;
    rc = ttree_open(f, dp->tree, &t, e);
    if (rc) {
        err_prefix(e, "file %s", dp->files[0].path);
        rootfile_close(f);
        return rc;
    }
    specs *s = calloc(1, sizeof *s);
    if (!s) {
        ttree_free(t);
        rootfile_close(f);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    s->tree = xstrdup(dp->tree);
    /* every selected and excluded name (or pattern) matches something */
    rc = check_list(dp, t, pp, "selected_branches", dp->selected, dp->n_selected, e);
    if (!rc)
        rc = check_list(dp, t, pp, "exclude_branches", dp->exclude, dp->n_exclude, e);
    /* selected branches (named, not patterns) must be numeric */
    for (size_t i = 0; i < dp->n_selected && !rc; i++) {
        const tbranch *b = is_pattern(dp->selected[i]) ? NULL : ttree_branch(t, dp->selected[i]);
        if (!b)
            continue;
        if (b->kind == TK_SKIPPED || b->kind == TK_GROUP)
            rc = err_set(e, MLHEP_EUNSUPPORTED, "file %s: selected branch '%s' (C++ type %s) cannot be read: %s",
                         dp->files[0].path, dp->selected[i], tbranch_cxx_type(b),
                         b->skip_reason ? b->skip_reason : "it only groups sub-branches");
    }
    for (size_t i = 0; i < dp->n_identifier && !rc; i++) {
        const tbranch *b = ttree_branch(t, dp->identifier[i]);
        if (b && b->kind == TK_FLAT)
            rc = add_unique(&s->ids, &s->nid, b->name) ? err_set(e, MLHEP_ENOMEM, "out of memory") : 0;
        else if (!dp->identifier_optional)
        {
            const char *near = b ? NULL : ttree_branch_closest(t, dp->identifier[i]);
            rc = err_set(e, MLHEP_ENOTFOUND, "file %s: identifier branch '%s' not found (or not flat) in tree '%s'%s%s%s",
                         dp->files[0].path, dp->identifier[i], dp->tree, near ? " (did you mean '" : "",
                         near ? near : "", near ? "'?)" : "");
        }
    }
    if (!rc && dp->label_branch) {
        const tbranch *b = ttree_branch(t, dp->label_branch);
        const char *near = b ? NULL : ttree_branch_closest(t, dp->label_branch);
        if (!b || b->kind != TK_FLAT)
            rc = err_set(e, MLHEP_ENOTFOUND, "file %s: label branch '%s' not found (or not flat) in tree '%s'%s%s%s",
                         dp->files[0].path, dp->label_branch, dp->tree, near ? " (did you mean '" : "",
                         near ? near : "", near ? "'?)" : "");
    }
    /* features: input branches, flat first then jagged */
    size_t cap = (size_t)t->nbranches + (pp ? preproc_nnew(pp) : 0) + 1;
    s->feat = calloc(cap, sizeof *s->feat);
    if (!s->feat && !rc)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int i = 0; i < t->nbranches && !rc; i++) {
            const tbranch *b = t->branches[i];
            if (b->kind != TK_FLAT && b->kind != TK_FIXED && b->kind != TK_JAGGED)
                continue;
            int jag = b->kind != TK_FLAT;
            if (jag != pass)
                continue;
            if (dp->n_selected && !in_patterns(dp->selected, dp->n_selected, b->name))
                continue;
            if (in_patterns(dp->exclude, dp->n_exclude, b->name) || in_list((const char *const *)s->ids, s->nid, b->name))
                continue;
            if (dp->label_branch && !strcmp(dp->label_branch, b->name))
                continue;
            if (pp && preproc_is_removed(pp, b->name))
                continue;
            specs_feature *ft = &s->feat[s->nfeat++];
            ft->name = strdup(b->name);
            ft->jagged = jag;
            ft->len = 1;
            snprintf(ft->type, sizeof ft->type, "%s", b->enc == ENC_D32_FLOAT ? "float32" : dtype_name(b->dt));
        }
        for (size_t k = 0; pp && k < preproc_nnew(pp) && !rc; k++) {
            int jag = preproc_new_kind(pp, k) == EXPR_JAGGED;
            if (jag != pass || preproc_is_removed(pp, preproc_new_name(pp, k)) ||
                in_patterns(dp->exclude, dp->n_exclude, preproc_new_name(pp, k)))
                continue;
            specs_feature *ft = &s->feat[s->nfeat++];
            ft->name = strdup(preproc_new_name(pp, k));
            ft->jagged = jag;
            ft->is_new = 1;
            ft->len = 1;
        }
    }
    if (!rc && s->nfeat == 0)
        rc = err_set(e, MLHEP_EINVAL, "tree '%s': no numeric feature branches left after selection and exclusion",
                     dp->tree);
    /* branches to read */
    for (size_t i = 0; i < s->nfeat && !rc; i++)
        if (!s->feat[i].is_new && add_unique(&s->read, &s->nread, s->feat[i].name))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; pp && i < preproc_nneeded(pp) && !rc; i++)
        if (add_unique(&s->read, &s->nread, preproc_needed(pp, i)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nid && !rc; i++)
        if (add_unique(&s->read, &s->nread, s->ids[i]))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (!rc && dp->label_branch && add_unique(&s->read, &s->nread, dp->label_branch))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    ttree_free(t);
    rootfile_close(f);
    if (rc) {
        specs_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Index of a column in an evblock for feature ft: inputs in read order, then new. */
static int column_of(const specs *s, const preproc *pp, const specs_feature *ft)
{
    if (ft->is_new) {
        for (size_t k = 0; pp && k < preproc_nnew(pp); k++)
            if (!strcmp(preproc_new_name(pp, k), ft->name))
                return (int)(s->nread + k);
        return -1;
    }
    for (size_t i = 0; i < s->nread; i++)
        if (!strcmp(s->read[i], ft->name))
            return (int)i;
    return -1;
}

static int user_cap(const dataparams *dp, const char *name)
{
    for (size_t i = 0; i < dp->ncaps; i++)
        if (!strcmp(dp->caps[i].branch, name))
            return dp->caps[i].max_length;
    return dp->max_jagged_length;
}

int specs_fingerprint(const dataparams *dp, char out[65], mlhep_err *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return err_set(e, MLHEP_ENOMEM, "cannot initialise sha256");
    }
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "mlhep-specs-v1\ntree=%s\nlabel_branch=%s\n", dp->tree,
                     dp->label_branch ? dp->label_branch : "");
    EVP_DigestUpdate(md, buf, (size_t)n);
    for (size_t i = 0; i < dp->nfiles; i++) {
        struct stat st;
        long long size = -1, mt = -1;
        if (dp->files[i].local && stat(dp->files[i].path, &st) == 0) {
            size = (long long)st.st_size;
            mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        }
        n = snprintf(buf, sizeof buf, "file=%s size=%lld mtime=%lld label=%d\n", dp->files[i].path, size, mt,
                     dp->files[i].label);
        EVP_DigestUpdate(md, buf, (size_t)n);
    }
    for (size_t i = 0; i < dp->n_selected; i++)
        EVP_DigestUpdate(md, "sel=", 4), EVP_DigestUpdate(md, dp->selected[i], strlen(dp->selected[i]) + 1);
    for (size_t i = 0; i < dp->n_exclude; i++)
        EVP_DigestUpdate(md, "exc=", 4), EVP_DigestUpdate(md, dp->exclude[i], strlen(dp->exclude[i]) + 1);
    for (size_t i = 0; i < dp->n_identifier; i++)
        EVP_DigestUpdate(md, "id=", 3), EVP_DigestUpdate(md, dp->identifier[i], strlen(dp->identifier[i]) + 1);
    for (size_t i = 0; i < dp->ncaps; i++) {
        n = snprintf(buf, sizeof buf, "cap=%s:%d\n", dp->caps[i].branch, dp->caps[i].max_length);
        EVP_DigestUpdate(md, buf, (size_t)n);
    }
    n = snprintf(buf, sizeof buf, "maxlen=%d\n", dp->max_jagged_length);
    EVP_DigestUpdate(md, buf, (size_t)n);
    if (dp->weight) /* the branches read depend on it */
        EVP_DigestUpdate(md, "weight=", 7), EVP_DigestUpdate(md, dp->weight, strlen(dp->weight) + 1);
    if (dp->preproc) {
        char *pj = json_dumps(dp->preproc, JSON_SORT_KEYS | JSON_COMPACT);
        if (pj) {
            EVP_DigestUpdate(md, pj, strlen(pj));
            free(pj);
        }
    }
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    return 0;
}

static const char *jstr(json_t *o, const char *k);

/* ---- the pass in parts ------------------------------------------------------------
 * Sums of values and of squares are accumulated per block in double by typed kernels
 * (one feature on one thread, so the order of additions does not depend on the number
 * of threads), the block sums added in long double into one sum per accumulation
 * unit (SPECS_UNIT_ENTRIES entries of one file), and the unit sums added into the total sum in (file, unit) order. That order is
 * the same whether one process streams every file (specs_compute) or sub-tasks compute
 * the units on several workers and the folder adds them (fanout.h), so both give
 * bit-identical specs. */

static int64_t units_of(int64_t entries)
{
    return entries <= 0 ? 0 : (entries + SPECS_UNIT_ENTRIES - 1) / SPECS_UNIT_ENTRIES;
}

void specs_part_free(specs_part *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nfeat; i++) {
        free(p->feat[i].len_hist);
        free(p->feat[i].sum);
        free(p->feat[i].sumsq);
    }
    free(p->feat);
    free(p);
}

static specs_part *part_new(const specs *plan, size_t file, int64_t unit0, int64_t nunits)
{
    specs_part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->file = file;
    p->unit0 = unit0;
    p->nunits = nunits;
    p->nfeat = plan->nfeat;
    p->feat = calloc(plan->nfeat + 1, sizeof *p->feat);
    if (!p->feat) {
        free(p);
        return NULL;
    }
    for (size_t i = 0; i < plan->nfeat; i++) {
        specs_part_feat *f = &p->feat[i];
        f->min = INFINITY;
        f->max = -INFINITY;
        f->sum = calloc((size_t)nunits + 1, sizeof *f->sum);
        f->sumsq = calloc((size_t)nunits + 1, sizeof *f->sumsq);
        if (!f->sum || !f->sumsq ||
            (plan->feat[i].jagged && !(f->len_hist = calloc(SPECS_LEN_BINS, sizeof *f->len_hist)))) {
            p->nfeat = i + 1;
            specs_part_free(p);
            return NULL;
        }
    }
    return p;
}


/* Events [r0, r1) pass the cuts: one run. */
typedef struct run {
    size_t r0, r1;
} run;

typedef struct stats_job {
    const specs *plan;
    specs_part *part;
    int64_t unit;        /* the block's accumulation unit within the part */
    const int *colidx;
    const evblock *blk;
    const run *runs;
    size_t nruns;
    int next; /* atomic: next feature (a feature is one thread's, so its sums do not
                 depend on the number of threads) */
} stats_job;

/* Block statistics over values v[lo, hi) of one type: NaN values are skipped (they
 * fail every comparison, so min and max skip them by themselves). Two interleaved
 * accumulators keep the additions independent. */
#define STATS_KERNEL(NAME, T, ISFLOAT)                                                                                 \
    static void NAME(const void *vp, size_t lo, size_t hi, double *mn, double *mx, double *s1, double *s2,        \
                     int64_t *cnt)                                                                                     \
    {                                                                                                                  \
        const T *v = (const T *)vp;                                                                                    \
        double a1 = 0, b1 = 0, a2 = 0, b2 = 0, lmn = *mn, lmx = *mx;                                                   \
        int64_t c = 0;                                                                                                 \
        size_t j = lo;                                                                                                 \
        for (; j + 2 <= hi; j += 2) {                                                                                  \
            double x0 = (double)v[j], x1 = (double)v[j + 1];                                                           \
            lmn = x0 < lmn ? x0 : lmn;                                                                                 \
            lmx = x0 > lmx ? x0 : lmx;                                                                                 \
            lmn = x1 < lmn ? x1 : lmn;                                                                                 \
            lmx = x1 > lmx ? x1 : lmx;                                                                                 \
            double d0 = x0, d1 = x1;                                                                                   \
            if (ISFLOAT) {                                                                                             \
                int o0 = x0 == x0, o1 = x1 == x1;                                                                      \
                d0 = o0 ? d0 : 0;                                                                                      \
                d1 = o1 ? d1 : 0;                                                                                      \
                c += o0 + o1;                                                                                          \
            } else {                                                                                                   \
                c += 2;                                                                                                \
            }                                                                                                          \
            a1 += d0;                                                                                                  \
            b1 += d1;                                                                                                  \
            a2 += d0 * d0;                                                                                             \
            b2 += d1 * d1;                                                                                             \
        }                                                                                                              \
        for (; j < hi; j++) {                                                                                          \
            double x0 = (double)v[j];                                                                                  \
            if (ISFLOAT && x0 != x0)                                                                                   \
                continue;                                                                                              \
            lmn = x0 < lmn ? x0 : lmn;                                                                                 \
            lmx = x0 > lmx ? x0 : lmx;                                                                                 \
            double d0 = x0;                                                                                            \
            a1 += d0;                                                                                                  \
            a2 += d0 * d0;                                                                                             \
            c++;                                                                                                       \
        }                                                                                                              \
        *mn = lmn;                                                                                                     \
        *mx = lmx;                                                                                                     \
        *s1 += a1 + b1;                                                                                                \
        *s2 += a2 + b2;                                                                                                \
        *cnt += c;                                                                                                     \
    }
STATS_KERNEL(stats_u8, uint8_t, 0)
STATS_KERNEL(stats_i8, int8_t, 0)
STATS_KERNEL(stats_i16, int16_t, 0)
STATS_KERNEL(stats_u16, uint16_t, 0)
STATS_KERNEL(stats_i32, int32_t, 0)
STATS_KERNEL(stats_u32, uint32_t, 0)
STATS_KERNEL(stats_i64, int64_t, 0)
STATS_KERNEL(stats_u64, uint64_t, 0)
STATS_KERNEL(stats_f32, float, 1)
STATS_KERNEL(stats_f64, double, 1)
#undef STATS_KERNEL

#ifdef __SSE2__
/* stats_f32 four floats at a time (SSE2): minps/maxps return their second operand
 * when the first is NaN, so NaN values leave min and max alone; the sums take them as
 * 0 and the count skips them. Two double lanes per accumulator, so the additions
 * group differently from the scalar kernel (same rounding class, deterministic). */
static const uint8_t nbits4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

static void stats_f32_sse2(const void *vp, size_t lo, size_t hi, double *mn, double *mx, double *s1, double *s2,
                           int64_t *cnt)
{
    const float *v = (const float *)vp;
    size_t j = lo;
    if (hi - lo >= 8 && *mn >= -FLT_MAX && *mx <= FLT_MAX) {
        /* running min/max in float are exact: every value is a float */
        __m128 vmn = _mm_set1_ps(*mn == INFINITY ? INFINITY : (float)*mn);
        __m128 vmx = _mm_set1_ps(*mx == -INFINITY ? -INFINITY : (float)*mx);
        __m128d a1 = _mm_setzero_pd(), b1 = _mm_setzero_pd(), a2 = _mm_setzero_pd(), b2 = _mm_setzero_pd();
        int64_t c = 0;
        for (; j + 4 <= hi; j += 4) {
            __m128 x = _mm_loadu_ps(v + j);
            vmn = _mm_min_ps(x, vmn);
            vmx = _mm_max_ps(x, vmx);
            __m128 ok = _mm_cmpord_ps(x, x);
            c += nbits4[_mm_movemask_ps(ok)]; /* not __builtin_popcount: a libgcc call without -mpopcnt */
            x = _mm_and_ps(x, ok); /* NaN -> 0 */
            __m128d xl = _mm_cvtps_pd(x), xh = _mm_cvtps_pd(_mm_movehl_ps(x, x));
            __m128d dl = xl, dh = xh;
            a1 = _mm_add_pd(a1, dl);
            b1 = _mm_add_pd(b1, dh);
            a2 = _mm_add_pd(a2, _mm_mul_pd(dl, dl));
            b2 = _mm_add_pd(b2, _mm_mul_pd(dh, dh));
        }
        float fm[4], fx[4];
        double d1[2], d2[2];
        _mm_storeu_ps(fm, vmn);
        _mm_storeu_ps(fx, vmx);
        double lmn = *mn, lmx = *mx;
        for (int k = 0; k < 4; k++) {
            lmn = fm[k] < lmn ? fm[k] : lmn;
            lmx = fx[k] > lmx ? fx[k] : lmx;
        }
        *mn = lmn;
        *mx = lmx;
        _mm_storeu_pd(d1, _mm_add_pd(a1, b1));
        _mm_storeu_pd(d2, _mm_add_pd(a2, b2));
        *s1 += d1[0] + d1[1];
        *s2 += d2[0] + d2[1];
        *cnt += c;
    }
    if (j < hi)
        stats_f32(v, j, hi, mn, mx, s1, s2, cnt);
}
#endif

typedef void (*stats_kernel)(const void *, size_t, size_t, double *, double *, double *, double *, int64_t *);

static stats_kernel kernel_of(dtype dt)
{
    switch (dt) {
    case DT_BOOL:
    case DT_U8: return stats_u8;
    case DT_I8: return stats_i8;
    case DT_I16: return stats_i16;
    case DT_U16: return stats_u16;
    case DT_I32: return stats_i32;
    case DT_U32: return stats_u32;
    case DT_I64: return stats_i64;
    case DT_U64: return stats_u64;
#ifdef __SSE2__
    case DT_F32: return stats_f32_sse2;
#else
    case DT_F32: return stats_f32;
#endif
    case DT_F64: return stats_f64;
    default: return NULL;
    }
}

/* One feature over one block (the kernel is chosen once per feature and block, and
 * called once per run of passing events). The block's sums, in double, are added to
 * the unit's long double sums. */
static void stats_feature(stats_job *j, size_t i)
{
    const specs_feature *ft = &j->plan->feat[i];
    specs_part_feat *pf = &j->part->feat[i];
    const evcol *c = &j->blk->cols[j->colidx[i]];
    stats_kernel k = kernel_of(c->dt);
    if (!k)
        return;
    double mn = pf->min, mx = pf->max, s1 = 0, s2 = 0;
    int64_t cnt = 0;
    for (size_t r = 0; r < j->nruns; r++) {
        size_t r0 = j->runs[r].r0, r1 = j->runs[r].r1;
        if (ft->jagged) {
            const int64_t *o = c->offsets;
            int max_len = pf->max_len;
            for (size_t ev = r0; ev < r1; ev++) {
                size_t len = (size_t)(o[ev + 1] - o[ev]);
                pf->len_hist[len < SPECS_LEN_BINS - 1 ? len : SPECS_LEN_BINS - 1]++;
                if ((int)len > max_len)
                    max_len = (int)len;
            }
            pf->max_len = max_len;
            k(c->values, (size_t)o[r0], (size_t)o[r1], &mn, &mx, &s1, &s2, &cnt);
        } else {
            k(c->values, r0, r1, &mn, &mx, &s1, &s2, &cnt);
        }
    }
    pf->min = mn;
    pf->max = mx;
    pf->sum[j->unit] += s1;
    pf->sumsq[j->unit] += s2;
    pf->count += cnt;
}

static void stats_job_run(void *arg, int tid, int nthreads)
{
    (void)tid;
    (void)nthreads;
    stats_job *j = arg;
    for (;;) {
        int i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= (int)j->plan->nfeat)
            break;
        stats_feature(j, (size_t)i);
    }
}

/* specs_part_compute on the given team (specs_compute keeps one for all its files). */
static int part_compute(const dataparams *dp, const preproc *pp, const specs *plan, size_t file, int64_t unit0,
                        int64_t nunits, specs_progress_fn progress, void *pctx, team *tm, specs_part **out,
                        mlhep_err *e)
{
    *out = NULL;
    if (file >= dp->nfiles || unit0 < 0)
        return err_set(e, MLHEP_EINVAL, "specs part: file %zu / unit %lld out of range", file,
                       (long long)unit0);
    int *colidx = calloc(plan->nfeat + 1, sizeof *colidx);
    run *runs = malloc((BLOCK / 2 + 2) * sizeof *runs);
    if (!colidx || !runs) {
        free(colidx);
        free(runs);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < plan->nfeat; i++)
        colidx[i] = column_of(plan, pp, &plan->feat[i]);
    evsource *src = NULL;
    specs_part *p = NULL;
    int rc = evsource_open(dp->files[file].path, dp->access, dp->tree, (const char *const *)plan->read, plan->nread, pp, tm,
                           &src, e);
    int64_t n = 0, first = 0, last = 0;
    if (!rc) {
        n = evsource_entries(src);
        int64_t nu = units_of(n);
        if (unit0 > nu || (unit0 == nu && nu > 0))
            rc = err_set(e, MLHEP_EINVAL, "file %s: unit %lld is past its %lld entries", dp->files[file].path,
                         (long long)unit0, (long long)n);
        else if (nunits < 0 || unit0 + nunits > nu)
            nunits = nu - unit0;
    }
    if (!rc && !(p = part_new(plan, file, unit0, nunits)))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (!rc) {
        p->entries = n;
        first = unit0 * SPECS_UNIT_ENTRIES;
        last = (unit0 + nunits) * SPECS_UNIT_ENTRIES;
        if (last > n)
            last = n;
    }
    /* BLOCK == SPECS_UNIT_ENTRIES: one block is one unit, read from its first entry,
     * so a unit's sums are the same whichever worker computes it */
    for (int64_t a = first; a < last && !rc; a += BLOCK) {
        int64_t b = a + BLOCK < last ? a + BLOCK : last;
        evblock blk;
        rc = evsource_read(src, a, b, &blk, e);
        if (rc)
            break;
        /* runs of passing events (one run when nothing is cut) */
        size_t nruns = 0;
        for (size_t k = 0; k < blk.n;) {
            while (k < blk.n && !blk.mask[k])
                k++;
            size_t r0 = k;
            while (k < blk.n && blk.mask[k])
                k++;
            if (k > r0) {
                runs[nruns].r0 = r0;
                runs[nruns].r1 = k;
                nruns++;
                p->events += (int64_t)(k - r0);
            }
        }
        stats_job j = {.plan = plan, .part = p, .unit = (a - first) / SPECS_UNIT_ENTRIES, .colidx = colidx,
                       .blk = &blk, .runs = runs, .nruns = nruns};
        team_run(tm, stats_job_run, &j);
        if (progress)
            progress(pctx, file, dp->nfiles, b - first, last - first);
    }
    evsource_free(src);
    free(colidx);
    free(runs);
    if (rc) {
        specs_part_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int specs_part_compute(const dataparams *dp, const preproc *pp, const specs *plan, size_t file,
                       int64_t unit0, int64_t nunits, specs_progress_fn progress, void *pctx,
                       specs_part **out, mlhep_err *e)
{
    *out = NULL;
    team *tm;
    int rc = team_new(dp->threads > 0 ? dp->threads : team_ncpu(), &tm, e);
    if (!rc)
        rc = part_compute(dp, pp, plan, file, unit0, nunits, progress, pctx, tm, out, e);
    team_free(tm);
    return rc;
}

struct specs_folder {
    specs *s;             /* the plan being filled (owned until finish) */
    long double *sum, *sumsq;
    size_t next_file;     /* the part expected next: file and first unit */
    int64_t next_unit;
    int64_t file_units;   /* units of next_file (-1: not known yet) */
};

void specs_folder_free(specs_folder *f)
{
    if (!f)
        return;
    specs_free(f->s);
    free(f->sum);
    free(f->sumsq);
    free(f);
}

int specs_folder_new(const dataparams *dp, specs *plan, specs_folder **out, mlhep_err *e)
{
    *out = NULL;
    specs_folder *f = calloc(1, sizeof *f);
    if (!f) {
        specs_free(plan);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    f->s = plan;
    f->file_units = -1;
    specs *s = plan;
    int rc = specs_fingerprint(dp, s->fingerprint, e);
    s->nfiles = dp->nfiles;
    s->files = calloc(dp->nfiles + 1, sizeof *s->files);
    s->entries = calloc(dp->nfiles + 1, sizeof *s->entries);
    s->events = calloc(dp->nfiles + 1, sizeof *s->events);
    f->sum = calloc(s->nfeat + 1, sizeof *f->sum);
    f->sumsq = calloc(s->nfeat + 1, sizeof *f->sumsq);
    if (!rc && (!s->files || !s->entries || !s->events || !f->sum || !f->sumsq))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < dp->nfiles && !rc; i++)
        if (!(s->files[i] = strdup(dp->files[i].path)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nfeat && !rc; i++) {
        specs_feature *ft = &s->feat[i];
        ft->min = INFINITY;
        ft->max = -INFINITY;
        if (ft->jagged && !ft->len_hist && !(ft->len_hist = calloc(SPECS_LEN_BINS, sizeof *ft->len_hist)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (rc) {
        specs_folder_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int specs_folder_add(specs_folder *f, const specs_part *p, mlhep_err *e)
{
    specs *s = f->s;
    if (p->nfeat != s->nfeat)
        return err_set(e, MLHEP_EINVAL, "specs part of file %zu has %zu features, the plan %zu",
                       p->file, p->nfeat, s->nfeat);
    if (p->file != f->next_file || p->unit0 != f->next_unit)
        return err_set(e, MLHEP_EINVAL, "specs part out of order: file %zu unit %lld, expected file "
                       "%zu unit %lld", p->file, (long long)p->unit0, f->next_file,
                       (long long)f->next_unit);
    int64_t nu = units_of(p->entries);
    if (p->nunits < 0 || p->unit0 + p->nunits > nu || (f->file_units >= 0 && f->file_units != nu))
        return err_set(e, MLHEP_EINVAL, "specs part of file %zu: units %lld+%lld do not fit the "
                       "file's %lld entries", p->file, (long long)p->unit0, (long long)p->nunits,
                       (long long)p->entries);
    s->entries[p->file] = p->entries;
    s->events[p->file] += p->events;
    s->total_events += p->events;
    for (size_t i = 0; i < s->nfeat; i++) {
        specs_feature *ft = &s->feat[i];
        const specs_part_feat *pf = &p->feat[i];
        if (pf->min < ft->min) ft->min = pf->min;
        if (pf->max > ft->max) ft->max = pf->max;
        ft->count += pf->count;
        if (ft->jagged) {
            if (!pf->len_hist)
                return err_set(e, MLHEP_EINVAL, "specs part: jagged feature '%s' without length "
                               "histogram", ft->name);
            for (int b = 0; b < SPECS_LEN_BINS; b++)
                ft->len_hist[b] += pf->len_hist[b];
            if (pf->max_len > ft->max_len)
                ft->max_len = pf->max_len;
        }
        for (int64_t u = 0; u < p->nunits; u++) {
            f->sum[i] += pf->sum[u];
            f->sumsq[i] += pf->sumsq[u];
        }
    }
    f->next_unit = p->unit0 + p->nunits;
    f->file_units = nu;
    if (f->next_unit >= nu) {
        f->next_file++;
        f->next_unit = 0;
        f->file_units = -1;
    }
    return 0;
}

int specs_folder_finish(specs_folder *f, const dataparams *dp, specs **out, mlhep_err *e)
{
    *out = NULL;
    specs *s = f->s;
    if (f->next_file != s->nfiles)
        return err_set(e, MLHEP_EINVAL, "specs: parts cover %zu of %zu files", f->next_file, s->nfiles);
    int width = 0;
    for (size_t i = 0; i < s->nfeat; i++) {
        specs_feature *ft = &s->feat[i];
        if (ft->count == 0) {
            ft->min = ft->max = ft->mean = ft->std = 0;
        } else {
            long double m = f->sum[i] / ft->count;
            long double var = f->sumsq[i] / ft->count - m * m;
            ft->mean = (double)m;
            ft->std = var > 0 ? sqrt((double)var) : 0;
        }
        if (ft->jagged) {
            int cap = user_cap(dp, ft->name);
            if (cap > 0) {
                ft->len = cap;
            } else {
                int64_t nev = 0, acc_ev = 0;
                for (int b = 0; b < SPECS_LEN_BINS; b++)
                    nev += ft->len_hist[b];
                int L = 0;
                while (L < SPECS_LEN_BINS - 1 && (acc_ev += ft->len_hist[L]) < (int64_t)ceil(0.995 * (double)nev))
                    L++;
                if (L > ft->max_len)
                    L = ft->max_len;
                if (L > SPECS_MAX_JAGGED_DEFAULT)
                    L = SPECS_MAX_JAGGED_DEFAULT;
                ft->len = L > 0 ? L : 1;
            }
        }
        width += ft->len;
    }
    s->width = width;
    *out = s;
    f->s = NULL;
    specs_folder_free(f);
    return 0;
}

int specs_compute(const dataparams *dp, const preproc *pp, specs_progress_fn progress, void *pctx, specs **out,
                  mlhep_err *e)
{
    *out = NULL;
    specs *plan;
    int rc = specs_plan(dp, pp, &plan, e);
    if (rc)
        return rc;
    specs_folder *f;
    if ((rc = specs_folder_new(dp, plan, &f, e)))
        return rc;
    const specs *pl = f->s;
    team *tm;
    rc = team_new(dp->threads > 0 ? dp->threads : team_ncpu(), &tm, e);
    for (size_t fi = 0; fi < dp->nfiles && !rc; fi++) {
        specs_part *p;
        rc = part_compute(dp, pp, pl, fi, 0, -1, progress, pctx, tm, &p, e);
        if (!rc)
            rc = specs_folder_add(f, p, e);
        specs_part_free(p);
    }
    team_free(tm);
    if (rc) {
        specs_folder_free(f);
        return rc;
    }
    return specs_folder_finish(f, dp, out, e);
}

/* ---- the part as JSON (a sub-task's result) -----------------------------------------
 * {"format":"mlhep-specs-part", "version":1,
 *  "file":  index of the file in the inputs (dataparams.files),
 *  "unit0": first accumulation unit, "nunits": units covered (SPECS_UNIT_ENTRIES each),
 *  "entries": the file's raw entries, "events": events passing the cuts in these units,
 *  "features": [ per plan feature, in plan order:
 *     {"name", "min", "max": C99 hex floats ("%a", "inf"/"-inf" when no value),
 *      "count", "max_len" (jagged),
 *      "hist": jagged only: [[bin, count], ...] for the non-empty length bins,
 *      "sum", "sumsq": per unit, long double hex floats ("%La") so the fold is exact}]}
 * Floats travel as hex strings: decimal JSON numbers would round the long doubles. */

static json_t *hexf(double v)
{
    char b[64];
    snprintf(b, sizeof b, "%a", v);
    return json_string(b);
}

static json_t *hexl(long double v)
{
    char b[64];
    snprintf(b, sizeof b, "%La", v);
    return json_string(b);
}

json_t *specs_part_to_json(const specs *plan, const specs_part *p)
{
    json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I}", "format", "mlhep-specs-part", "version",
                          1, "file", (json_int_t)p->file, "unit0", (json_int_t)p->unit0, "nunits",
                          (json_int_t)p->nunits, "entries", (json_int_t)p->entries, "events",
                          (json_int_t)p->events);
    json_t *fa = json_array();
    if (!o || !fa) {
        json_decref(o);
        json_decref(fa);
        return NULL;
    }
    for (size_t i = 0; i < p->nfeat; i++) {
        const specs_part_feat *pf = &p->feat[i];
        json_t *f = json_object(), *su = json_array(), *sq = json_array();
        json_object_set_new(f, "name", json_string(plan->feat[i].name));
        json_object_set_new(f, "min", hexf(pf->min));
        json_object_set_new(f, "max", hexf(pf->max));
        json_object_set_new(f, "count", json_integer(pf->count));
        if (pf->len_hist) {
            json_t *h = json_array();
            for (int b = 0; b < SPECS_LEN_BINS; b++)
                if (pf->len_hist[b])
                    json_array_append_new(h, json_pack("[i, I]", b, (json_int_t)pf->len_hist[b]));
            json_object_set_new(f, "hist", h);
            json_object_set_new(f, "max_len", json_integer(pf->max_len));
        }
        for (int64_t u = 0; u < p->nunits; u++) {
            json_array_append_new(su, hexl(pf->sum[u]));
            json_array_append_new(sq, hexl(pf->sumsq[u]));
        }
        json_object_set_new(f, "sum", su);
        json_object_set_new(f, "sumsq", sq);
        json_array_append_new(fa, f);
    }
    json_object_set_new(o, "features", fa);
    return o;
}

static int get_hex(json_t *o, const char *k, long double *out)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s || !*s || strlen(s) > 60)
        return -1;
    char *end;
    *out = strtold(s, &end);
    return *end ? -1 : 0;
}

static int get_int(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

int specs_part_from_json(const json_t *doc, const specs *plan, specs_part **out, mlhep_err *e)
{
    *out = NULL;
    json_t *o = (json_t *)doc;
    int64_t file, unit0, nunits, entries, events;
    if (strcmp(jstr(o, "format"), "mlhep-specs-part") || json_integer_value(json_object_get(o, "version")) != 1)
        return err_set(e, MLHEP_EINVAL, "specs part: not an mlhep-specs-part document (version 1)");
    if (get_int(o, "file", 0, (int64_t)plan->nfiles - 1, &file) ||
        get_int(o, "entries", 0, INT64_MAX / 2, &entries) ||
        get_int(o, "unit0", 0, units_of(entries), &unit0) ||
        get_int(o, "nunits", 0, units_of(entries) - unit0, &nunits) ||
        get_int(o, "events", 0, entries, &events))
        return err_set(e, MLHEP_EINVAL, "specs part: file, unit0, nunits, entries or events missing or "
                       "out of range");
    json_t *fa = json_object_get(o, "features");
    if (json_array_size(fa) != plan->nfeat)
        return err_set(e, MLHEP_EINVAL, "specs part: %zu features, the plan has %zu", json_array_size(fa),
                       plan->nfeat);
    specs_part *p = part_new(plan, (size_t)file, unit0, nunits);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    p->entries = entries;
    p->events = events;
    int rc = 0;
    for (size_t i = 0; i < plan->nfeat && !rc; i++) {
        json_t *f = json_array_get(fa, i);
        specs_part_feat *pf = &p->feat[i];
        long double mn, mx;
        int64_t cnt, ml = 0;
        json_t *su = json_object_get(f, "sum"), *sq = json_object_get(f, "sumsq");
        if (strcmp(jstr(f, "name"), plan->feat[i].name) || get_hex(f, "min", &mn) ||
            get_hex(f, "max", &mx) || get_int(f, "count", 0, INT64_MAX / 2, &cnt) ||
            json_array_size(su) != (size_t)nunits || json_array_size(sq) != (size_t)nunits ||
            (plan->feat[i].jagged && get_int(f, "max_len", 0, INT32_MAX, &ml))) {
            rc = err_set(e, MLHEP_EINVAL, "specs part: feature %zu ('%s') is malformed or not the "
                         "plan's '%s'", i, jstr(f, "name"), plan->feat[i].name);
            break;
        }
        pf->min = (double)mn;
        pf->max = (double)mx;
        pf->count = cnt;
        pf->max_len = (int)ml;
        for (int64_t u = 0; u < nunits && !rc; u++) {
            json_t *x = json_array_get(su, (size_t)u), *y = json_array_get(sq, (size_t)u);
            char *end1 = NULL, *end2 = NULL;
            const char *a = json_string_value(x), *b = json_string_value(y);
            if (!a || !b || !*a || !*b)
                rc = -1;
            else {
                pf->sum[u] = strtold(a, &end1);
                pf->sumsq[u] = strtold(b, &end2);
                if (*end1 || *end2)
                    rc = -1;
            }
            if (rc)
                rc = err_set(e, MLHEP_EINVAL, "specs part: feature '%s': bad sum of unit %lld",
                             plan->feat[i].name, (long long)u);
        }
        if (pf->len_hist) {
            json_t *h = json_object_get(f, "hist"), *bin;
            size_t k;
            if (!json_is_array(h))
                rc = err_set(e, MLHEP_EINVAL, "specs part: jagged feature '%s' has no hist",
                             plan->feat[i].name);
            json_array_foreach(h, k, bin) {
                if (rc)
                    break;
                json_t *bi = json_array_get(bin, 0), *bc = json_array_get(bin, 1);
                if (json_array_size(bin) != 2 || !json_is_integer(bi) || !json_is_integer(bc) ||
                    json_integer_value(bi) < 0 || json_integer_value(bi) >= SPECS_LEN_BINS ||
                    json_integer_value(bc) < 0 || json_integer_value(bc) > entries)
                    rc = err_set(e, MLHEP_EINVAL, "specs part: feature '%s': bad hist bin %zu",
                                 plan->feat[i].name, k);
                else
                    pf->len_hist[json_integer_value(bi)] += json_integer_value(bc);
            }
        }
    }
    if (rc) {
        specs_part_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

json_t *specs_to_json(const specs *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("mlhep-specs"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "fingerprint", json_string(s->fingerprint));
    json_object_set_new(o, "tree", json_string(s->tree ? s->tree : ""));
    json_t *fl = json_array();
    for (size_t i = 0; i < s->nfiles; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(s->files[i]));
        json_object_set_new(f, "entries", json_integer(s->entries[i]));
        json_object_set_new(f, "events", json_integer(s->events[i]));
        json_array_append_new(fl, f);
    }
    json_object_set_new(o, "files", fl);
    json_object_set_new(o, "total_events", json_integer(s->total_events));
    json_object_set_new(o, "width", json_integer(s->width));
    json_t *ids = json_array(), *rd = json_array();
    for (size_t i = 0; i < s->nid; i++)
        json_array_append_new(ids, json_string(s->ids[i]));
    for (size_t i = 0; i < s->nread; i++)
        json_array_append_new(rd, json_string(s->read[i]));
    json_object_set_new(o, "identifiers", ids);
    json_object_set_new(o, "read", rd);
    json_t *fa = json_array();
    for (size_t i = 0; i < s->nfeat; i++) {
        const specs_feature *ft = &s->feat[i];
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(ft->name));
        json_object_set_new(f, "kind", json_string(ft->jagged ? "jagged" : "flat"));
        if (ft->is_new)
            json_object_set_new(f, "new", json_true());
        if (ft->type[0])
            json_object_set_new(f, "type", json_string(ft->type));
        json_object_set_new(f, "min", json_real(ft->min));
        json_object_set_new(f, "max", json_real(ft->max));
        json_object_set_new(f, "mean", json_real(ft->mean));
        json_object_set_new(f, "std", json_real(ft->std));
        json_object_set_new(f, "count", json_integer(ft->count));
        if (ft->jagged) {
            json_object_set_new(f, "max_len", json_integer(ft->max_len));
            json_object_set_new(f, "len", json_integer(ft->len));
        }
        json_array_append_new(fa, f);
    }
    json_object_set_new(o, "features", fa);
    return o;
}

int specs_save(const specs *s, const char *path, mlhep_err *e)
{
    json_t *o = specs_to_json(s);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(o, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (rc != 0 || rename(tmp, path) != 0)
        return err_set(e, MLHEP_EIO, "cannot write specs file %s", path);
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

int specs_load(const char *path, const char *want, specs **out, mlhep_err *e)
{
    *out = NULL;
    json_error_t je;
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(e, MLHEP_ENOTFOUND, "specs file %s does not exist", path);
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return err_set(e, MLHEP_EINVAL, "specs file %s: line %d: %s", path, je.line, je.text);
    if (strcmp(jstr(o, "format"), "mlhep-specs") || json_integer_value(json_object_get(o, "version")) != 1) {
        json_decref(o);
        return err_set(e, MLHEP_EINVAL, "specs file %s: not an mlhep specs file (version 1)", path);
    }
    if (want && strcmp(jstr(o, "fingerprint"), want)) {
        json_decref(o);
        return err_set(e, MLHEP_EINVAL, "specs file %s is stale: it was made for other inputs (files, tree, "
                       "branches or pre-processing changed)", path);
    }
    specs *s = calloc(1, sizeof *s);
    int rc = s ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
    if (!rc) {
        snprintf(s->fingerprint, sizeof s->fingerprint, "%s", jstr(o, "fingerprint"));
        s->tree = strdup(jstr(o, "tree"));
        json_t *fl = json_object_get(o, "files"), *fa = json_object_get(o, "features");
        size_t nf = json_array_size(fl), nx = json_array_size(fa);
        s->files = calloc(nf + 1, sizeof *s->files);
        s->entries = calloc(nf + 1, sizeof *s->entries);
        s->events = calloc(nf + 1, sizeof *s->events);
        s->feat = calloc(nx + 1, sizeof *s->feat);
        if (!s->files || !s->entries || !s->events || !s->feat)
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        for (size_t i = 0; i < nf && !rc; i++) {
            json_t *f = json_array_get(fl, i);
            s->files[i] = strdup(jstr(f, "path"));
            s->entries[i] = json_integer_value(json_object_get(f, "entries"));
            s->events[i] = json_integer_value(json_object_get(f, "events"));
            s->nfiles++;
        }
        s->total_events = json_integer_value(json_object_get(o, "total_events"));
        s->width = (int)json_integer_value(json_object_get(o, "width"));
        json_t *ids = json_object_get(o, "identifiers"), *rd = json_object_get(o, "read");
        for (size_t i = 0; i < json_array_size(ids) && !rc; i++)
            if (add_unique(&s->ids, &s->nid, json_string_value(json_array_get(ids, i)) ?: ""))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(rd) && !rc; i++)
            if (add_unique(&s->read, &s->nread, json_string_value(json_array_get(rd, i)) ?: ""))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        int width = 0;
        for (size_t i = 0; i < nx && !rc; i++) {
            json_t *f = json_array_get(fa, i);
            specs_feature *ft = &s->feat[s->nfeat++];
            ft->name = strdup(jstr(f, "name"));
            ft->jagged = !strcmp(jstr(f, "kind"), "jagged");
            ft->is_new = json_is_true(json_object_get(f, "new"));
            snprintf(ft->type, sizeof ft->type, "%s", jstr(f, "type"));
            if (!ft->is_new && !ft->type[0]) {
                rc = err_set(e, MLHEP_EINVAL, "specs file %s records no value type for '%s' (written by an older "
                             "mlhep)", path, ft->name);
                break;
            }
            ft->min = json_number_value(json_object_get(f, "min"));
            ft->max = json_number_value(json_object_get(f, "max"));
            ft->mean = json_number_value(json_object_get(f, "mean"));
            ft->std = json_number_value(json_object_get(f, "std"));
            ft->count = json_integer_value(json_object_get(f, "count"));
            ft->max_len = (int)json_integer_value(json_object_get(f, "max_len"));
            ft->len = ft->jagged ? (int)json_integer_value(json_object_get(f, "len")) : 1;
            if (ft->len < 1 || ft->len > DP_MAX_LEN || !ft->name[0])
                rc = err_set(e, MLHEP_EINVAL, "specs file %s: feature %zu is malformed", path, i);
            width += ft->len;
        }
        if (!rc && (width != s->width || s->nfeat == 0))
            rc = err_set(e, MLHEP_EINVAL, "specs file %s: row width %d does not match its features (%d)", path,
                         s->width, width);
    }
    json_decref(o);
    if (rc) {
        specs_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* specs_merge.c - see specs_merge.h. */
#include "specs_merge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static char **copy_list(char *const *l, size_t n)
{
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++) {
        if (!(c[i] = strdup(l[i]))) {
            for (size_t j = 0; j < i; j++)
                free(c[j]);
            free(c);
            return NULL;
        }
    }
    return c;
}

/* The jagged-length cap the user gave for a branch (0: none), as specs_compute reads it. */
static int user_cap(const workflow *wf, const char *name)
{
    for (size_t i = 0; i < wf->params.n_branch_max_length; i++)
        if (!strcmp(wf->params.branch_max_length[i].branch, name))
            return wf->params.branch_max_length[i].max_length;
    return wf->params.max_jagged_length;
}

/* Padded length of a jagged feature from its (merged) histogram: specs_compute's rule. */
static int padded_length(const workflow *wf, const specs_feature *ft)
{
    int cap = user_cap(wf, ft->name);
    if (cap > 0)
        return cap;
    int64_t nev = 0, acc = 0;
    for (int b = 0; b < SPECS_LEN_BINS; b++)
        nev += ft->len_hist[b];
    int L = 0;
    while (L < SPECS_LEN_BINS - 1 && (acc += ft->len_hist[L]) < (int64_t)ceil(0.995 * (double)nev))
        L++;
    if (L > ft->max_len)
        L = ft->max_len;
    if (L > SPECS_MAX_JAGGED_DEFAULT)
        L = SPECS_MAX_JAGGED_DEFAULT;
    return L > 0 ? L : 1;
}

static int check_parts(specs *const *p, size_t n, mlhep_err *e)
{
    if (n == 0)
        return err_set(e, MLHEP_EINVAL, "specs merge: no parts");
    for (size_t k = 0; k < n; k++)
        if (!p[k])
            return err_set(e, MLHEP_EINVAL, "specs merge: part %zu is missing", k);
    for (size_t k = 1; k < n; k++) {
        if (strcmp(p[k]->tree ? p[k]->tree : "", p[0]->tree ? p[0]->tree : "") != 0)
            return err_set(e, MLHEP_EINVAL, "specs merge: part %zu reads tree '%s', part 0 '%s'", k,
                           p[k]->tree ? p[k]->tree : "", p[0]->tree ? p[0]->tree : "");
        if (p[k]->nfeat != p[0]->nfeat)
            return err_set(e, MLHEP_EINVAL, "specs merge: part %zu has %zu features, part 0 has %zu",
                           k, p[k]->nfeat, p[0]->nfeat);
        for (size_t i = 0; i < p[0]->nfeat; i++) {
            const specs_feature *a = &p[0]->feat[i], *b = &p[k]->feat[i];
            if (strcmp(a->name, b->name) != 0 || a->jagged != b->jagged || a->is_new != b->is_new)
                return err_set(e, MLHEP_EINVAL,
                               "specs merge: feature %zu is '%s' in part 0 but '%s' in part %zu "
                               "(the parts come from different plans)", i, a->name, b->name, k);
            if (a->jagged && (!a->len_hist || !b->len_hist))
                return err_set(e, MLHEP_EINVAL, "specs merge: jagged feature '%s' without length histogram",
                               a->name);
        }
        if (!same_list(p[k]->read, p[k]->nread, p[0]->read, p[0]->nread))
            return err_set(e, MLHEP_EINVAL, "specs merge: part %zu reads other branches than part 0", k);
        if (!same_list(p[k]->ids, p[k]->nid, p[0]->ids, p[0]->nid))
            return err_set(e, MLHEP_EINVAL, "specs merge: part %zu has other identifier branches", k);
    }
    return 0;
}

int specs_merge(const workflow *wf, specs *const *parts, size_t nparts, specs **out, mlhep_err *e)
{
    *out = NULL;
    int rc = check_parts(parts, nparts, e);
    if (rc)
        return rc;
    const specs *p0 = parts[0];
    specs *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t nfiles = 0;
    for (size_t k = 0; k < nparts; k++)
        nfiles += parts[k]->nfiles;
    s->tree = strdup(p0->tree ? p0->tree : "");
    s->files = calloc(nfiles + 1, sizeof *s->files);
    s->entries = calloc(nfiles + 1, sizeof *s->entries);
    s->events = calloc(nfiles + 1, sizeof *s->events);
    s->feat = calloc(p0->nfeat + 1, sizeof *s->feat);
    s->read = copy_list(p0->read, p0->nread);
    s->ids = copy_list(p0->ids, p0->nid);
    if (!s->tree || !s->files || !s->entries || !s->events || !s->feat || !s->read || !s->ids) {
        specs_free(s);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    s->nread = p0->nread;
    s->nid = p0->nid;
    /* files in part order */
    for (size_t k = 0; k < nparts && !rc; k++) {
        for (size_t f = 0; f < parts[k]->nfiles; f++) {
            if (!(s->files[s->nfiles] = strdup(parts[k]->files[f] ? parts[k]->files[f] : ""))) {
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                break;
            }
            s->entries[s->nfiles] = parts[k]->entries[f];
            s->events[s->nfiles] = parts[k]->events[f];
            s->total_events += parts[k]->events[f];
            s->nfiles++;
        }
    }
    /* features */
    for (size_t i = 0; i < p0->nfeat && !rc; i++) {
        specs_feature *ft = &s->feat[i];
        s->nfeat = i + 1;
        if (!(ft->name = strdup(p0->feat[i].name))) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        ft->jagged = p0->feat[i].jagged;
        ft->is_new = p0->feat[i].is_new;
        ft->len = 1;
        if (ft->jagged && !(ft->len_hist = calloc(SPECS_LEN_BINS, sizeof *ft->len_hist))) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        double mn = INFINITY, mx = -INFINITY;
        long double mean = 0, m2 = 0;
        int64_t n = 0;
        for (size_t k = 0; k < nparts; k++) {
            const specs_feature *pf = &parts[k]->feat[i];
            if (ft->jagged) {
                for (int b = 0; b < SPECS_LEN_BINS; b++)
                    ft->len_hist[b] += pf->len_hist[b];
                if (pf->max_len > ft->max_len)
                    ft->max_len = pf->max_len;
            }
            if (pf->count <= 0)
                continue; /* a part without values (specs_compute zeroes its min/max) */
            if (pf->min < mn)
                mn = pf->min;
            if (pf->max > mx)
                mx = pf->max;
            long double nb = (long double)pf->count, na = (long double)n;
            long double delta = (long double)pf->mean - mean;
            long double m2b = (long double)pf->std * pf->std * nb;
            n += pf->count;
            mean += delta * nb / (na + nb);
            m2 += m2b + delta * delta * na * nb / (na + nb);
        }
        ft->count = n;
        if (n == 0) {
            ft->min = ft->max = ft->mean = ft->std = 0;
        } else {
            ft->min = mn;
            ft->max = mx;
            ft->mean = (double)mean;
            ft->std = m2 > 0 ? sqrt((double)(m2 / (long double)n)) : 0;
        }
        if (ft->jagged)
            ft->len = padded_length(wf, ft);
        s->width += ft->len;
    }
    if (!rc)
        rc = specs_fingerprint(wf, s->fingerprint, e);
    if (rc) {
        specs_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

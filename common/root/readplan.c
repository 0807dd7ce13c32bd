/* readplan.c - basket read planning and block prefetch (see readplan.h). */
#include "root/readplan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct readplan {
    rootfile *f;
    rp_range *r;
    size_t nr, nreq;
    size_t *bufoff; /* range i lives at buf + bufoff[i] */
    uint8_t *buf;
    uint64_t total;
    int fetched;
    readplan_info info;
};

void readplan_limits_default(readplan_limits *l)
{
    l->max_gap = 32 * 1024;
    l->max_ranges = 1024;
    l->max_request = 16 * 1024 * 1024;
}

static int cmp_span(const void *a, const void *b)
{
    const rp_span *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->len < y->len ? -1 : x->len > y->len;
}

int readplan_coalesce(rp_span *s, size_t n, const readplan_limits *lim, rp_range **out, size_t *nout, size_t *nreq,
                      mlhep_err *e)
{
    *out = NULL;
    *nout = 0;
    *nreq = 0;
    readplan_limits def;
    if (!lim) {
        readplan_limits_default(&def);
        lim = &def;
    }
    size_t maxr = lim->max_ranges ? lim->max_ranges : 1;
    if (n == 0)
        return 0;
    qsort(s, n, sizeof *s, cmp_span);
    rp_range *r = malloc(n * sizeof *r);
    if (!r)
        return err_set(e, MLHEP_ENOMEM, "out of memory planning %zu reads", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].len == 0)
            continue;
        uint64_t end = s[i].off + s[i].len;
        if (m) {
            rp_range *c = &r[m - 1];
            uint64_t cend = c->off + c->len;
            uint64_t nend = end > cend ? end : cend;
            int overlap = s[i].off < cend;
            int near = s[i].off - cend <= lim->max_gap && nend - c->off <= lim->max_request;
            if (overlap || near) {
                c->len = nend - c->off;
                continue;
            }
        }
        r[m++] = (rp_range){s[i].off, s[i].len, 0};
    }
    /* requests: consecutive ranges while both limits hold */
    size_t req = 0, inreq = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < m; i++) {
        if (inreq && (inreq == maxr || bytes + r[i].len > lim->max_request)) {
            req++;
            inreq = 0;
            bytes = 0;
        }
        r[i].req = req;
        inreq++;
        bytes += r[i].len;
    }
    if (m == 0) {
        free(r);
        return 0;
    }
    *out = r;
    *nout = m;
    *nreq = req + 1;
    return 0;
}

static int add_branch(const rootfile *f, const tbranch *b, int64_t a, int64_t z, rp_span **sp, size_t *ns, size_t *cap,
                      readplan_info *info)
{
    if (!b || a >= z || !b->baskets)
        return 0;
    int idx = tbranch_find_basket(b, a);
    for (; idx >= 0 && idx < b->nbaskets && b->baskets[idx].first < z; idx++) {
        const tbasket *bk = &b->baskets[idx];
        if (!bk->seek || bk->nbytes < 30 || bk->seek >= f->src->size || bk->nbytes > f->src->size - bk->seek)
            continue;
        if (*ns == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            rp_span *q = realloc(*sp, nc * sizeof *q);
            if (!q)
                return -1;
            *sp = q;
            *cap = nc;
        }
        (*sp)[(*ns)++] = (rp_span){bk->seek, bk->nbytes};
        info->baskets++;
        info->useful += bk->nbytes;
    }
    return 0;
}

int readplan_build(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, const readplan_limits *lim,
                   readplan **out, mlhep_err *e)
{
    *out = NULL;
    readplan *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    p->f = f;
    rp_span *sp = NULL;
    size_t ns = 0, cap = 0;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (add_branch(f, b[i], a, z, &sp, &ns, &cap, &p->info) ||
            (b[i]->kind == TK_JAGGED && add_branch(f, b[i]->counter, a, z, &sp, &ns, &cap, &p->info)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = readplan_coalesce(sp, ns, lim, &p->r, &p->nr, &p->nreq, e);
    free(sp);
    if (!rc && p->nr) {
        p->bufoff = malloc(p->nr * sizeof *p->bufoff);
        if (!p->bufoff)
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < p->nr; i++) {
            p->bufoff[i] = (size_t)p->total;
            p->total += p->r[i].len;
        }
        if (!rc && !(p->buf = malloc((size_t)p->total)))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory for %llu bytes of baskets", (unsigned long long)p->total);
    }
    if (rc) {
        readplan_free(p);
        return rc;
    }
    p->info.ranges = p->nr;
    p->info.requests = p->nreq;
    p->info.fetched = p->total;
    *out = p;
    return 0;
}

int readplan_fetch(readplan *p, mlhep_err *e)
{
    size_t i = 0;
    while (i < p->nr) {
        size_t j = i;
        while (j < p->nr && p->r[j].req == p->r[i].req)
            j++;
        source_range sr[64], *v = sr;
        if (j - i > 64 && !(v = malloc((j - i) * sizeof *v)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        for (size_t k = i; k < j; k++)
            v[k - i] = (source_range){p->r[k].off, (size_t)p->r[k].len, p->buf + p->bufoff[k]};
        int rc = source_readv(p->f->src, v, j - i, e);
        if (v != sr)
            free(v);
        if (rc)
            return rc;
        i = j;
    }
    p->fetched = 1;
    return 0;
}

const uint8_t *readplan_find(const readplan *p, uint64_t off, uint64_t len)
{
    if (!p || !p->fetched || !p->nr)
        return NULL;
    size_t lo = 0, hi = p->nr;
    while (lo < hi) { /* first range starting after off */
        size_t m = (lo + hi) / 2;
        if (p->r[m].off <= off)
            lo = m + 1;
        else
            hi = m;
    }
    if (lo == 0)
        return NULL;
    const rp_range *r = &p->r[lo - 1];
    if (off + len > r->off + r->len || off + len < off)
        return NULL;
    return p->buf + p->bufoff[lo - 1] + (off - r->off);
}

void readplan_get_info(const readplan *p, readplan_info *out)
{
    *out = p->info;
}

void readplan_free(readplan *p)
{
    if (!p)
        return;
    free(p->r);
    free(p->bufoff);
    free(p->buf);
    free(p);
}

/* ------------------------------------------------------------ readahead */

struct readahead {
    rootfile *f;
    const tbranch **b;
    int n;
    int64_t entries;
    readplan_limits lim;
    readplan *cur;
    readplan *next;       /* being fetched by th while running */
    int64_t na, nz;
    pthread_t th;
    int running;
    int nrc;
    mlhep_err nerr;
    uint64_t hits, misses;
};

int readahead_new(rootfile *f, const tbranch *const *b, int n, int64_t entries, const readplan_limits *lim,
                  readahead **out, mlhep_err *e)
{
    *out = NULL;
    readahead *r = calloc(1, sizeof *r);
    if (!r || !(r->b = malloc(((size_t)n + 1) * sizeof *r->b))) {
        free(r);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    memcpy(r->b, b, (size_t)n * sizeof *b);
    r->f = f;
    r->n = n;
    r->entries = entries;
    if (lim)
        r->lim = *lim;
    else
        readplan_limits_default(&r->lim);
    *out = r;
    return 0;
}

static void *prefetch_main(void *arg)
{
    readahead *r = arg;
    r->nrc = readplan_fetch(r->next, &r->nerr);
    return NULL;
}

static void join_prefetch(readahead *r)
{
    if (r->running) {
        pthread_join(r->th, NULL);
        r->running = 0;
    }
}

int readahead_get(readahead *r, int64_t a, int64_t z, const readplan **plan, mlhep_err *e)
{
    *plan = NULL;
    readplan_free(r->cur); /* the previous block is decoded */
    r->cur = NULL;
    if (r->next) {
        join_prefetch(r);
        if (r->na == a && r->nz == z) {
            if (r->nrc) {
                *e = r->nerr;
                readplan_free(r->next);
                r->next = NULL;
                return e->code;
            }
            r->cur = r->next;
            r->hits++;
        } else {
            readplan_free(r->next);
        }
        r->next = NULL;
    }
    if (!r->cur) {
        int rc = readplan_build(r->f, r->b, r->n, a, z, &r->lim, &r->cur, e);
        if (!rc && (rc = readplan_fetch(r->cur, e)) != 0) {
            readplan_free(r->cur);
            r->cur = NULL;
        }
        if (rc)
            return rc;
        r->misses++;
    }
    /* start the next block: same size, right after this one */
    int64_t nz = z + (z - a) < r->entries ? z + (z - a) : r->entries;
    if (z > a && z < nz) {
        mlhep_err ignore;
        if (readplan_build(r->f, r->b, r->n, z, nz, &r->lim, &r->next, &ignore) == 0) {
            r->na = z;
            r->nz = nz;
            r->nrc = 0;
            if (pthread_create(&r->th, NULL, prefetch_main, r) == 0) {
                r->running = 1;
            } else {
                readplan_free(r->next);
                r->next = NULL;
            }
        }
    }
    *plan = r->cur;
    return 0;
}

void readahead_stats(const readahead *r, uint64_t *prefetched, uint64_t *on_demand)
{
    *prefetched = r->hits;
    *on_demand = r->misses;
}

void readahead_free(readahead *r)
{
    if (!r)
        return;
    join_prefetch(r);
    readplan_free(r->next);
    readplan_free(r->cur);
    free(r->b);
    free(r);
}

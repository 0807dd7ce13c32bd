/* reqparse.c - see reqparse.h. */
#include "infer/reqparse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OTHER REQPARSE_OTHER
#define MAX_LIST 100000     /* schema: maxItems of keys, values and a jagged list */
#define MAX_ROWS 1000000    /* schema: maxItems of rows */
#define MAX_DEPTH 64

/* The bounds-checked reader: p never passes end, every access checks. */
typedef struct rd {
    const char *p, *end;
} rd;

static inline void ws(rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static inline int peek(const rd *r)
{
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

/* Skips whitespace, then consumes c if it is next. */
static inline int eat(rd *r, int c)
{
    ws(r);
    if (peek(r) != c)
        return 0;
    r->p++;
    return 1;
}

/* A string of bytes 0x21..0x7e other than '"', '\\' and ','. */
static int str(rd *r, const char **s, size_t *n)
{
    if (!eat(r, '"'))
        return OTHER;
    const char *b = r->p;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x21 || c > 0x7e || c == '\\' || c == ',')
            return OTHER;
        r->p++;
    }
    if (r->p >= r->end)
        return OTHER;
    *s = b;
    *n = (size_t)(r->p - b);
    r->p++;
    return 0;
}

static inline int digit(const rd *r, const char *q)
{
    return q < r->end && *q >= '0' && *q <= '9';
}

/* A JSON number, converted as jansson converts it. */
static int num(rd *r, double *v)
{
    ws(r);
    const char *s = r->p, *q = s;
    int real = 0;
    if (q < r->end && *q == '-')
        q++;
    if (!digit(r, q))
        return OTHER;
    if (*q == '0')
        q++;
    else
        while (digit(r, q))
            q++;
    if (q < r->end && *q == '.') {
        real = 1;
        q++;
        if (!digit(r, q))
            return OTHER;
        while (digit(r, q))
            q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        real = 1;
        q++;
        if (q < r->end && (*q == '+' || *q == '-'))
            q++;
        if (!digit(r, q))
            return OTHER;
        while (digit(r, q))
            q++;
    }
    size_t n = (size_t)(q - s);
    if (real) {
        /* Clinger's fast path: a mantissa below 2^53 times or over an exact power of ten
         * up to 1e22 is one correctly rounded IEEE operation, so it equals strtod's */
        static const double P10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        const char *t = s;
        int neg = *t == '-';
        t += neg;
        uint64_t m = 0;
        int digits = 0, frac = 0, ok = 1;
        for (; t < q && *t >= '0' && *t <= '9'; t++)
            if ((m || *t != '0') && ++digits <= 19)
                m = m * 10 + (uint64_t)(*t - '0');
        if (t < q && *t == '.')
            for (t++; t < q && *t >= '0' && *t <= '9'; t++) {
                frac++;
                if ((m || *t != '0') && ++digits <= 19)
                    m = m * 10 + (uint64_t)(*t - '0');
            }
        long ex = 0;
        if (t < q) { /* e or E */
            t++;
            int eneg = t < q && *t == '-';
            if (t < q && (*t == '-' || *t == '+'))
                t++;
            for (; t < q; t++)
                if (ex < 100000)
                    ex = ex * 10 + (*t - '0');
            if (eneg)
                ex = -ex;
        }
        long k = ex - frac;
        ok = digits <= 19 && m <= ((uint64_t)1 << 53) && k >= -22 && k <= 22;
        if (ok) {
            double d = (double)m;
            d = k >= 0 ? d * P10[k] : d / P10[-k];
            *v = neg ? -d : d;
            r->p = q;
            return 0;
        }
    }
    char buf[64];
    if (n >= sizeof buf)
        return OTHER;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    if (!real) {
        long long x = strtoll(buf, NULL, 10);
        if (errno)
            return OTHER;
        *v = (double)x;
    } else {
        double d = strtod(buf, NULL);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            return OTHER;
        *v = d;
    }
    r->p = q;
    return 0;
}

/* Skips one value structurally (its content is checked in pass 2). */
static int skip(rd *r)
{
    int depth = 0;
    ws(r);
    do {
        int c = peek(r);
        if (c < 0)
            return OTHER;
        if (c == '"') {
            const char *s;
            size_t n;
            if (str(r, &s, &n))
                return OTHER;
        } else if (c == '[' || c == '{') {
            if (++depth > MAX_DEPTH)
                return OTHER;
            r->p++;
        } else if (c == ']' || c == '}') {
            if (--depth < 0)
                return OTHER;
            r->p++;
        } else {
            r->p++; /* numbers, literals, commas, colons, whitespace */
        }
    } while (depth > 0);
    return 0;
}

static int model_ok(const char *s, size_t n)
{
    if (n < 1 || n > 160)
        return 0;
    size_t i = 0, at = n;
    for (size_t k = 0; k < n; k++)
        if (s[k] == '@') {
            at = k;
            break;
        }
    for (; i < at; i++) {
        char c = s[i];
        int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return 0;
    }
    if (at == 0)
        return 0;
    if (at == n)
        return 1;
    const char *v = s + at + 1;
    size_t vn = n - at - 1;
    if (vn == 6 && !memcmp(v, "latest", 6))
        return 1;
    if (!vn)
        return 0;
    for (size_t k = 0; k < vn; k++)
        if (v[k] < '0' || v[k] > '9')
            return 0;
    return 1;
}

void reqparse_free(reqparse *p)
{
    if (p) {
        free(p->kidx);
        memset(p, 0, sizeof *p);
    }
}

int reqparse_scan(reqparse *p, const char *buf, size_t len)
{
    rd r = {buf, buf + len};
    p->model[0] = '\0';
    p->keys = p->values = p->rows = NULL;
    int have_model = 0;
    if (!eat(&r, '{'))
        return OTHER;
    do {
        const char *k, *s;
        size_t kn, sn;
        if (str(&r, &k, &kn) || !eat(&r, ':'))
            return OTHER;
        if (kn == 5 && !memcmp(k, "model", 5)) {
            if (have_model || str(&r, &s, &sn) || !model_ok(s, sn))
                return OTHER;
            memcpy(p->model, s, sn);
            p->model[sn] = '\0';
            have_model = 1;
            continue;
        }
        const char **b, **e;
        if (kn == 4 && !memcmp(k, "keys", 4))
            b = &p->keys, e = &p->keys_end;
        else if (kn == 6 && !memcmp(k, "values", 6))
            b = &p->values, e = &p->values_end;
        else if (kn == 4 && !memcmp(k, "rows", 4))
            b = &p->rows, e = &p->rows_end;
        else
            return OTHER;
        ws(&r);
        const char *start = r.p;
        if (*b || skip(&r))
            return OTHER;
        *b = start;
        *e = r.p;
    } while (eat(&r, ','));
    if (!eat(&r, '}'))
        return OTHER;
    ws(&r);
    if (r.p != r.end || !have_model)
        return OTHER;
    if (!(p->rows ? !p->keys && !p->values : p->keys && p->values))
        return OTHER;
    return 0;
}

/* One value of feature ft into the row. */
static int value(rd *r, const featmap *fm, const featmap_feature *ft, float *xr)
{
    double v;
    if (!ft->jagged) {
        if (num(r, &v))
            return OTHER;
        xr[ft->offset] = featmap_norm(v, ft->f32, ft->sub, ft->scale);
        return 0;
    }
    if (!eat(r, '['))
        return OTHER;
    size_t n = 0, L = (size_t)ft->len;
    float *x = xr + ft->offset;
    if (!eat(r, ']')) {
        do {
            if (num(r, &v) || ++n > MAX_LIST)
                return OTHER;
            if (n <= L)
                x[n - 1] = featmap_norm(v, ft->f32, ft->sub, ft->scale);
        } while (eat(r, ','));
        if (!eat(r, ']'))
            return OTHER;
    }
    for (size_t j = n; j < L; j++)
        x[j] = fm->pad;
    return 0;
}

/* The span of a member must be consumed exactly. */
static int at_end(rd *r, const char *end)
{
    ws(r);
    return r->p == end;
}

static int keys_values(reqparse *p, const featmap *fm, featmap_batch *b)
{
    mlhep_err e;
    if (featmap_batch_reserve(b, fm, 1, &e))
        return OTHER;
    if (fm->nfeat > p->kcap) {
        int32_t *k = realloc(p->kidx, fm->nfeat * sizeof *k);
        if (!k)
            return MLHEP_ENOMEM;
        p->kidx = k;
        p->kcap = fm->nfeat;
    }
    memset(b->seen, 0, fm->nfeat);
    rd r = {p->keys, p->keys_end};
    size_t nk = 0;
    if (!eat(&r, '['))
        return OTHER;
    do {
        const char *s;
        size_t n;
        if (str(&r, &s, &n) || nk >= fm->nfeat)
            return OTHER;
        int fi = featmap_find(fm, s, n);
        if (fi < 0 || b->seen[fi])
            return OTHER;
        b->seen[fi] = 1;
        p->kidx[nk++] = fi;
    } while (eat(&r, ','));
    if (!eat(&r, ']') || !at_end(&r, p->keys_end) || nk != fm->nfeat)
        return OTHER;
    rd v = {p->values, p->values_end};
    size_t nv = 0;
    if (!eat(&v, '['))
        return OTHER;
    do {
        if (nv >= nk || value(&v, fm, &fm->feat[p->kidx[nv]], b->x))
            return OTHER;
        nv++;
    } while (eat(&v, ','));
    if (!eat(&v, ']') || !at_end(&v, p->values_end) || nv != nk)
        return OTHER;
    b->nrows = 1;
    return 0;
}

static int rows(reqparse *p, const featmap *fm, featmap_batch *b)
{
    mlhep_err e;
    rd r = {p->rows, p->rows_end};
    size_t nr = 0, w = (size_t)fm->width;
    if (!eat(&r, '['))
        return OTHER;
    do {
        if (nr >= MAX_ROWS || featmap_batch_reserve(b, fm, nr + 1, &e) || !eat(&r, '{'))
            return OTHER;
        memset(b->seen, 0, fm->nfeat);
        float *xr = b->x + nr * w;
        size_t got = 0;
        do {
            const char *s;
            size_t n;
            if (str(&r, &s, &n) || !eat(&r, ':'))
                return OTHER;
            int fi = featmap_find(fm, s, n);
            if (fi < 0 || b->seen[fi])
                return OTHER;
            b->seen[fi] = 1;
            got++;
            if (value(&r, fm, &fm->feat[fi], xr))
                return OTHER;
        } while (eat(&r, ','));
        if (!eat(&r, '}') || got != fm->nfeat)
            return OTHER;
        nr++;
    } while (eat(&r, ','));
    if (!eat(&r, ']') || !at_end(&r, p->rows_end))
        return OTHER;
    b->nrows = nr;
    return 0;
}

int reqparse_rows(reqparse *p, const featmap *fm, featmap_batch *b)
{
    if (!fm->nfeat)
        return OTHER;
    return p->rows ? rows(p, fm, b) : keys_values(p, fm, b);
}

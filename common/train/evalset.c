/* evalset.c - rows kept for evaluation; see evalset.h. */
#include "train/evalset.h"

#include <stdlib.h>
#include <string.h>

void evalset_init(evalset *s, size_t width, size_t nout, int keep_mask, size_t max_bytes)
{
    memset(s, 0, sizeof *s);
    s->width = width;
    s->nout = nout ? nout : 1;
    s->keep_mask = keep_mask && width;
    size_t per = width * sizeof(float) + (s->keep_mask ? width : 0) + 2 * sizeof(float) + s->nout * sizeof(float);
    s->max_rows = max_bytes / per;
}

void evalset_free(evalset *s)
{
    free(s->x);
    free(s->mask);
    free(s->y);
    free(s->w);
    free(s->score);
    memset(s, 0, sizeof *s);
}

void evalset_clear(evalset *s)
{
    s->n = s->offered = 0;
}

static int grow(evalset *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > s->max_rows && s->max_rows >= need)
        cap = s->max_rows;
    if (s->width) {
        float *x = realloc(s->x, cap * s->width * sizeof *x);
        if (!x)
            return -1;
        s->x = x;
        if (s->keep_mask) {
            uint8_t *m = realloc(s->mask, cap * s->width);
            if (!m)
                return -1;
            s->mask = m;
        }
    }
    float *y = realloc(s->y, cap * sizeof *y);
    if (!y)
        return -1;
    s->y = y;
    float *w = realloc(s->w, cap * sizeof *w);
    if (!w)
        return -1;
    s->w = w;
    float *sc = realloc(s->score, cap * s->nout * sizeof *sc);
    if (!sc)
        return -1;
    s->score = sc;
    s->cap = cap;
    return 0;
}

int evalset_add(evalset *s, const float *x, const uint8_t *mask, float y, float w)
{
    s->offered++;
    if (s->n >= s->max_rows)
        return 0;
    if (grow(s, s->n + 1))
        return -1;
    if (s->width) {
        memcpy(s->x + s->n * s->width, x, s->width * sizeof *x);
        if (s->keep_mask)
            memcpy(s->mask + s->n * s->width, mask, s->width);
    }
    s->y[s->n] = y;
    s->w[s->n] = w;
    s->n++;
    return 0;
}

int evalset_truncated(const evalset *s)
{
    return s->offered > s->n;
}

int evalset_score(evalset *s, evalset_predict_fn predict, void *ctx, mlhep_err *e)
{
    for (size_t a = 0; a < s->n; a += 65536) {
        size_t k = s->n - a < 65536 ? s->n - a : 65536;
        int rc = predict(ctx, s->x + a * s->width, k, s->score + a * s->nout, e);
        if (rc)
            return rc;
    }
    return 0;
}

int evalset_add_scored(evalset *s, const float *y, const float *w, const float *score, size_t n)
{
    s->offered += n;
    if (grow(s, s->n + n))
        return -1;
    memcpy(s->y + s->n, y, n * sizeof *y);
    memcpy(s->w + s->n, w, n * sizeof *w);
    memcpy(s->score + s->n * s->nout, score, n * s->nout * sizeof *score);
    s->n += n;
    return 0;
}

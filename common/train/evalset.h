/* evalset.h - rows kept in memory to evaluate a model on: a split's features, labels
 * and event weights, and the model's scores once computed.
 *
 * What it is for: the training driver (train.c) judges the model at the end of every
 * epoch on the validation rows, on a sample of the training rows and, at the end, on
 * the test rows; the permutation importance and the input correlations need the test
 * rows' features. Keeping those rows from the first pass over the data means no extra
 * pass per epoch and none at the end. Memory is bounded: a set keeps at most the rows
 * that fit in max_bytes (the first ones offered: every chunk mixes all files, so they
 * are a fair sample); when rows are refused the set is "truncated" and the driver
 * scores the whole split in one more streaming pass into a set that keeps no features
 * (width 0: labels, weights and scores only).
 *
 * Ownership: evalset_init prepares a caller-owned struct, evalset_free releases its
 * arrays. Not thread-safe (one driver thread). */
#ifndef MLHEP_EVALSET_H
#define MLHEP_EVALSET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct evalset {
    size_t width, nout;   /* features per row (0: none kept), scores per row */
    int keep_mask;        /* keep the padding mask too (for the correlations) */
    size_t max_rows;      /* how many rows may be kept */
    size_t n, cap;        /* rows kept, allocated */
    size_t offered;       /* rows offered (kept or not) */
    float *x;             /* n x width */
    uint8_t *mask;        /* n x width when keep_mask */
    float *y, *w;         /* labels, event weights */
    float *score;         /* n x nout, filled by evalset_score */
} evalset;

/* max_bytes bounds x, mask, y, w and score together (0: no rows). */
void evalset_init(evalset *s, size_t width, size_t nout, int keep_mask, size_t max_bytes);
void evalset_free(evalset *s);
/* Forgets the rows (keeps the arrays). */
void evalset_clear(evalset *s);

/* Offers one row; kept while there is room. -1 only when out of memory. */
int evalset_add(evalset *s, const float *x, const uint8_t *mask, float y, float w);

/* Some offered rows were not kept. */
int evalset_truncated(const evalset *s);

/* Scores every kept row with predict(ctx, x, nrows, out, e) (out: nrows x nout), in
 * slices of at most 65536 rows. */
typedef int (*evalset_predict_fn)(void *ctx, const float *x, size_t nrows, float *out, mlhep_err *e);
int evalset_score(evalset *s, evalset_predict_fn predict, void *ctx, mlhep_err *e);

/* Appends rows that were scored elsewhere (a set of width 0): labels, weights, scores. */
int evalset_add_scored(evalset *s, const float *y, const float *w, const float *score, size_t n);

#endif

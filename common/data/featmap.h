/* featmap.h - the "features" document stored in every model file, and the hot path
 * that turns RAW branch values into the normalised, padded rows a model was trained on.
 *
 * How it fits: the training driver (train.c) calls featmap_from_specs() with the specs
 * pass (specs.h) and the normalisation and padding (dataparams.h), and stores the JSON text
 * as the model file's "features" section (mlp_save_file / modelfile "features"). The
 * inference side (predict.h, mlhep-infer, mlhep-submit predict) loads it with
 * featmap_load() and builds rows from raw values given by branch name, so a client never
 * normalises anything itself (TFaaS required pre-normalised input).
 *
 * Rows are built EXACTLY as dataset.c builds training rows:
 *   - flat features first, then jagged ones, in the specs' order; a jagged feature
 *     takes `len` slots: its first len values, then the pad value;
 *   - value -> (float)((x - sub) * scale) computed in double, with (dp_norm_coeffs)
 *       minmax:   sub = min, scale = 1/(max-min) when max > min, else sub = 0, scale = 1
 *       standard: sub = mean, scale = 1/std when std > 0, else sub = mean, scale = 1
 *   - padding slots hold the pad value (params.nan if finite, else 0: dp_pad), mask 1;
 *     real values have mask 0.
 * sub and scale are stored as JSON numbers printed with 17 significant digits, so they
 * round-trip bit for bit.
 *
 * The document (version 1), one object:
 *   {"format": "mlhep-features", "version": 1,
 *    "normalisation": "minmax" | "standard",
 *    "pad": <finite number>,                 padding value written into rows
 *    "width": <int>,                         floats per row = sum of len
 *    "features": [ {"name": "Jet_pt",        branch name (unique)
 *                   "kind": "flat" | "jagged",
 *                   "len": <int>,            1 for flat, padded length for jagged
 *                   "offset": <int>,         first row column of this feature
 *                   "sub": <num>, "scale": <num>,   normalisation (x - sub) * scale
 *                   "min", "max", "mean", "std": <num>,   the specs (information)
 *                   "new": true              optional: computed by the workflow's
 *                                            pre-processing (a client must send it)
 *                   "type": "float32"        optional: the values' type in the ROOT file
 *                                            (dtype_name; absent for new features) } ],
 *    "outputs": <int>,                       optional: model outputs per row
 *    "classes": [<string>...]}               optional: class names (index order)
 * featmap_load() refuses documents that break any of these rules (unknown format or
 * version, duplicate or empty names, offsets that do not tile the row, non-finite
 * numbers, absurd sizes) with a message naming the problem.
 *
 * Raw input, three shapes (all checked, errors name the row and the branch):
 *   - featmap_rows(): columns, one featmap_col per feature in featmap order (the ROOT
 *     scoring path and the data-layer equivalence test);
 *   - featmap_from_request(): a prediction request document (predict-request schema):
 *     {"keys":[names],"values":[...]} one row, {"rows":[{name: value}]} or
 *     {"columns":{name: [value per row]}}; a flat branch takes a number, a jagged one
 *     a list of numbers (truncated to len, padded). Unknown and missing branches,
 *     wrong shapes (list for a flat branch, number for a jagged one, columns of
 *     different lengths) and non-numbers are refused: MLHEP_ENOTFOUND for unknown or
 *     missing branches, MLHEP_EINVAL for shapes and values, MLHEP_ENOMEM when the
 *     batch exceeds FEATMAP_MAX_CELLS.
 * Values of a "float32" feature are rounded to float32 before normalising, whatever
 * the shape (featmap_norm): a ROOT file cannot hold anything else, and a request that
 * writes them in short decimal form ("0.1", as `mlhep-root dump` prints them) then gives
 * bit for bit the row the ROOT path gives (read as a double, "0.1" is not the float
 * 0.1f, and a tree's threshold can fall between the two).
 * The hot loops do not allocate: a featmap_batch keeps its buffers between requests.
 *
 * Ownership: featmap_load() allocates a featmap freed with featmap_free(); a featmap is
 * read-only after loading and may be shared by threads. featmap_batch is a caller
 * struct (zero-initialise it) whose buffers are released by featmap_batch_free(). */
#ifndef MLHEP_FEATMAP_H
#define MLHEP_FEATMAP_H

#include <float.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "data/specs.h"
#include "data/dataparams.h"

#define FEATMAP_FORMAT "mlhep-features"
#define FEATMAP_VERSION 1
#define FEATMAP_MAX_FEATURES 100000
#define FEATMAP_MAX_LEN DP_MAX_LEN     /* padded length of one jagged feature */
#define FEATMAP_MAX_WIDTH (1 << 22)    /* floats per row */
#define FEATMAP_MAX_CELLS ((size_t)1 << 27) /* rows x width in one batch (512 MiB of floats) */

typedef struct featmap_feature {
    char *name;
    int jagged;       /* 0 flat, 1 jagged */
    int is_new;       /* computed by the pre-processing */
    int len;          /* slots in the row (1 for flat) */
    int offset;       /* first slot */
    int f32;          /* "type": "float32": values are rounded to float32 (featmap_norm) */
    double sub, scale;
} featmap_feature;

/* The one normalisation formula, shared by every path that builds rows (featmap.c,
 * colreq.c, reqparse.c; dataset.c computes the same for training rows): x rounded to
 * float32 first when f32 (finite values within float range; others are left alone), then
 * (float)((x - sub) * scale) computed in double. */
static inline float featmap_norm(double x, int f32, double sub, double scale)
{
    if (f32 && x >= -FLT_MAX && x <= FLT_MAX)
        x = (double)(float)x;
    return (float)((x - sub) * scale);
}

typedef struct featmap {
    dp_norm norm;
    float pad;
    int width;
    size_t nfeat;
    featmap_feature *feat;  /* flat first, then jagged */
    int noutputs;           /* 0 when the document does not say */
    size_t nclasses;
    char **classes;         /* NULL when absent */
    /* name lookup (open addressing, indexes into feat + 1; 0 = empty) */
    uint32_t *htab;
    size_t hmask;
} featmap;

/* The document for a specs pass: normalisation `norm`, padding nan_value (the
 * workflow's params.nan: used when finite, else 0). *out is a new reference. */
int featmap_from_specs(const specs *sp, dp_norm norm, double nan_value, json_t **out,
                       mlhep_err *e);

/* Adds "outputs" and (if classes != NULL) "classes" to a document (for the trainer). */
int featmap_set_outputs(json_t *doc, int noutputs, const char *const *classes, size_t nclasses,
                        mlhep_err *e);

/* Parses and checks a document (borrowed). *out: featmap_free(). */
int featmap_load(const json_t *doc, featmap **out, mlhep_err *e);
/* Same from JSON text (as stored in the model file's "features" section). */
int featmap_load_text(const char *text, size_t len, featmap **out, mlhep_err *e);
void featmap_free(featmap *fm);

/* The normalisation of every row column: sub[c], scale[c] of the feature owning column
 * c, for c < width (for exporters whose graphs normalise raw rows themselves: ONNX). */
void featmap_column_coeffs(const featmap *fm, double *sub, double *scale);

/* Index of a feature by name (name need not be NUL-terminated: n bytes), or -1. */
int featmap_find(const featmap *fm, const char *name, size_t n);

/* The error of a request that lacks some of the model's branches: "<where>missing N
 * branch(es) the model needs: 'a', 'b', ..." (MLHEP_ENOTFOUND); 0 when seen[i] is set
 * for every feature. */
int featmap_missing(const featmap *fm, const uint8_t *seen, const char *where, mlhep_err *e);
/* The error of a branch the model does not have (name: n bytes, need not end in NUL),
 * with the closest of the model's branches when one is close (base/suggest.h). */
int featmap_unknown(const featmap *fm, const char *key, size_t n, const char *where, mlhep_err *e);

/* Raw values of one feature for nrows rows. Flat: values[r]. Jagged: row r holds
 * values[offsets[r] .. offsets[r+1]) (offsets has nrows+1 entries, non-decreasing;
 * offsets[0] need not be 0). */
typedef struct featmap_col {
    const double *values;
    const int64_t *offsets; /* NULL for flat features */
} featmap_col;

/* Builds nrows rows into x (nrows x width) and mask (nrows x width, may be NULL) from
 * cols[fm->nfeat]. Refuses a jagged feature given without offsets (or a flat one with
 * offsets) and decreasing offsets. */
int featmap_rows(const featmap *fm, const featmap_col *cols, size_t nrows, float *x,
                 uint8_t *mask, mlhep_err *e);

/* Reusable row buffers for requests. */
typedef struct featmap_batch {
    size_t nrows;     /* rows held */
    float *x;         /* nrows x width */
    uint8_t *mask;    /* nrows x width, 1 = padding */
    size_t cap;       /* cells allocated */
    uint8_t *seen;    /* per feature: given in the current row */
    size_t seen_cap;
} featmap_batch;

/* Grows b for nrows rows of fm (refuses more than FEATMAP_MAX_CELLS cells). */
int featmap_batch_reserve(featmap_batch *b, const featmap *fm, size_t nrows, mlhep_err *e);
void featmap_batch_free(featmap_batch *b);

/* Fills b from a request object (keys/values, rows or columns; the "model" member and
 * any other member are ignored here: schema validation comes first). */
int featmap_from_request(const featmap *fm, const json_t *req, featmap_batch *b, mlhep_err *e);

/* Number of rows a request holds (0 and an error if none of the three forms). */
int featmap_request_rows(const json_t *req, size_t *nrows, mlhep_err *e);

#endif

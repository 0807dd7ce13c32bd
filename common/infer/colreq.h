/* colreq.h - the binary columnar prediction request and its binary response
 * (AMQP content type application/x-mlhep-columns), for large batches.
 *
 * How it fits: JSON requests (predict.h, featmap_from_request) cost ~2 KB of text and a
 * jansson tree per row of a 71-branch model; a client that already holds columns (the
 * ROOT scoring path, treescore.h, and analysis tools through predict_rpc.h)
 * sends them as raw little-endian arrays instead. The worker (mlhep_infer.c) parses the
 * request with colreq_parse() (every field bounds-checked through cursor.h, nothing
 * copied: columns point into the message), builds rows with colreq_rows() (the same
 * normalisation as featmap_rows, bit for bit, reading each dtype directly) and answers
 * with colresp_write() (float32 scores). Errors are answered with the usual JSON error
 * document (predict_error_json), which a client tells apart by its first byte '{'.
 *
 * The byte layouts are described field by field above colreq_parse() and
 * colresp_parse() in colreq.c. There is no checksum: the message travels over TCP
 * inside one AMQP message and is never stored.
 *
 * Ownership: colreq / colresp are caller structs (zero them) whose reusable arrays are
 * released with colreq_free / colresp_free; the parsed views point into the parsed
 * buffer, which must outlive them. Requests and responses are written into a base/wbuf. */
#ifndef MLHEP_COLREQ_H
#define MLHEP_COLREQ_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/wbuf.h"
#include "data/featmap.h"

#define COLREQ_CONTENT_TYPE "application/x-mlhep-columns"
#define COLREQ_MAGIC "MLHC"
#define COLRESP_MAGIC "MLHR"
#define COLREQ_VERSION 1
#define COLREQ_MAX_ROWS 100000000u  /* rows in one request */
#define COLREQ_MAX_COLS 100000u     /* columns in one request */
#define COLREQ_MAX_NAME 1024u       /* bytes of a column name */
#define COLREQ_MAX_MODEL 200u       /* bytes of the model reference */

/* Value types on the wire (one byte). */
typedef enum coltype {
    COL_BOOL = 1, /* 1 byte, 0 or 1 (any non-zero reads as 1) */
    COL_I8 = 2,
    COL_I16 = 3,
    COL_I32 = 4,
    COL_I64 = 5,
    COL_U8 = 6,
    COL_U16 = 7,
    COL_U32 = 8,
    COL_U64 = 9,
    COL_F32 = 10,
    COL_F64 = 11,
} coltype;

size_t coltype_size(int t);        /* bytes per value, 0 for an unknown type */
const char *coltype_name(int t);   /* "float32", ... or "?" */

/* One column of a parsed request (views into the request bytes). */
typedef struct colreq_col {
    const char *name;          /* not NUL-terminated */
    size_t name_len;
    int type;                  /* coltype */
    int jagged;
    const uint8_t *offsets;    /* jagged: nrows+1 little-endian u32, checked; else NULL */
    const uint8_t *values;     /* nvalues little-endian values of type */
    size_t nvalues;
} colreq_col;

typedef struct colreq {
    char model[COLREQ_MAX_MODEL + 1]; /* NUL-terminated copy of the model reference */
    size_t nrows, ncols;
    colreq_col *cols;          /* ncols entries (reused between requests) */
    size_t cap;
    int32_t *fidx;             /* scratch for colreq_rows: feature -> column */
    size_t fidx_cap;
} colreq;

/* Parses and checks a request. Errors (MLHEP_EFORMAT) name the problem and the
 * byte offset: bad magic or version, truncated header or column, zero or absurd
 * counts, unknown type or kind, non-zero reserved flags, offsets that do not start at
 * 0, decrease or do not end at the number of values, bytes after the last column. */
int colreq_parse(const void *buf, size_t len, colreq *q, mlhep_err *e);
void colreq_free(colreq *q);

/* Rows of fm from a parsed request into b (b->x; b->mask is not filled). Every
 * feature must be given exactly once, with the model's kind: unknown or missing
 * branches are MLHEP_ENOTFOUND, a duplicate or a flat/jagged mismatch MLHEP_EINVAL,
 * too many cells MLHEP_ENOMEM. Values are taken as they are (NaN stays NaN, as in
 * local scoring). */
int colreq_rows(const featmap *fm, colreq *q, featmap_batch *b, mlhep_err *e);
/* The two halves of colreq_rows, for filling a large request in slices: colreq_match
 * checks the columns against fm (errors as above); colreq_fill then writes rows
 * [first, end) into x (end - first rows of fm->width floats). */
int colreq_match(const featmap *fm, colreq *q, mlhep_err *e);
void colreq_fill(const featmap *fm, const colreq *q, size_t first, size_t end, float *x);

/* ---- writing requests (clients), into a base/wbuf ---- */

/* Starts a request in b (b->len reset): model reference, row and column counts. */
int colreq_begin(wbuf *b, const char *model, size_t nrows, size_t ncols, mlhep_err *e);
/* Appends one column of nrows rows: values in host order of type. Flat: offsets NULL,
 * nrows values. Jagged: offsets[nrows+1] (int64, non-decreasing, any start), row r
 * holds values[offsets[r] .. offsets[r+1]). */
int colreq_add(wbuf *b, const char *name, int type, const void *values, const int64_t *offsets, size_t nrows,
               mlhep_err *e);
/* The same for a jagged column given padded: row r is the first lens[r] values at
 * values + r * stride bytes (what a [N, L] tensor with shorter rows holds); written
 * straight into b, no compacted copy. */
int colreq_add_padded(wbuf *b, const char *name, int type, const void *values, size_t stride, const uint32_t *lens,
                      size_t nrows, mlhep_err *e);
/* A jagged column written in place by its producer (one pass over the source, no
 * compacted copy): colreq_jagged_begin writes the column's head and gives where its
 * nrows + 1 offsets (little-endian u32, the first 0) and its values (host order ==
 * little-endian) go, with room for maxvals values; the producer fills offsets[0..nrows]
 * and the first n values, may scribble on the rest of that room and on COLREQ_JAG_SLACK
 * bytes after it (vector stores of a row's last values), and calls
 * colreq_jagged_end(b, &j, n, e), which checks the offsets (0 first, non-decreasing, the
 * last n) and takes the column in. Nothing may be written to b in between (the
 * pointers are into b). */
#define COLREQ_JAG_SLACK 64
typedef struct colreq_jag {
    uint8_t *offsets;
    uint8_t *values;
    size_t nrows, maxvals, tsz, count_at; /* count_at: where the value count goes */
    const char *name;
} colreq_jag;
int colreq_jagged_begin(wbuf *b, const char *name, int type, size_t nrows, size_t maxvals, colreq_jag *j,
                        mlhep_err *e);
int colreq_jagged_end(wbuf *b, const colreq_jag *j, size_t n, mlhep_err *e);
/* Checks that exactly the announced columns were added (0 or MLHEP_EINVAL). */
int colreq_end(wbuf *b, mlhep_err *e);

/* ---- responses ---- */
typedef struct colresp {
    char model[COLREQ_MAX_MODEL + 1]; /* the model used ("ttH@3") */
    size_t nrows, k;                  /* k outputs per row */
    float elapsed_us;                 /* the worker's time, < 0 unknown */
    float *scores;                    /* nrows x k (reused between responses) */
    size_t cap;
} colresp;

/* Writes the response for out[nrows x k] into b (b->len reset). */
int colresp_write(wbuf *b, const char *model, const float *out, size_t nrows, size_t k, double elapsed_us,
                  mlhep_err *e);
/* Parses a response (MLHEP_EFORMAT naming the problem). */
int colresp_parse(const void *buf, size_t len, colresp *r, mlhep_err *e);
void colresp_free(colresp *r);

#endif

/* evsource.h - one input file as a stream of event blocks for the data layer.
 *
 * Sits on the reader (rootfile, ttree, basket) and the pre-processing (preproc):
 * evsource_read() reads raw entries [a, b) of the branches the data layer needs
 * (several branches on two threads), converts them to double columns in the
 * expression layer's form (expr_column: flat = N values, jagged = offsets + values;
 * fixed arrays become jagged with a constant length), runs the compiled preproc
 * (new branches, event mask) and hands back a view of everything. Buffers are reused
 * from block to block, so memory is bounded by the block size.
 *
 * Ownership: evsource_open() returns an evsource that owns its file and buffers;
 * the evblock views are valid until the next evsource_read() or evsource_free(). */
#ifndef MLHEP_EVSOURCE_H
#define MLHEP_EVSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "expr.h"
#include "preproc.h"

typedef struct evsource evsource;

typedef struct evblock {
    size_t n;                 /* events in the block */
    const expr_column *cols;  /* input columns (in the order asked for), then new ones */
    size_t ncols;
    const uint8_t *mask;      /* 1 = event passes every cut (all 1 without preproc) */
} evblock;

/* Opens tree `tree` of file `path` to read the named branches (each must be a numeric
 * flat, fixed-array or jagged branch). pp may be NULL; it is not owned. */
int evsource_open(const char *path, const char *tree, const char *const *branches, size_t nbranches,
                  const preproc *pp, int nthreads, evsource **out, mlhep_err *e);
void evsource_free(evsource *s);

int64_t evsource_entries(const evsource *s);

/* Reads entries [a, b) and applies the preproc. */
int evsource_read(evsource *s, int64_t a, int64_t b, evblock *out, mlhep_err *e);

/* The branch schema of a tree (numeric branches with kinds, fixed arrays as jagged)
 * for compiling expressions; *out is new (expr_schema_free). */
int evsource_schema(const char *path, const char *tree, expr_schema **out, mlhep_err *e);

#endif

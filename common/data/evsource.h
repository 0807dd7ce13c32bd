/* evsource.h - one input file as a stream of event blocks for the data layer.
 *
 * Sits on the reader (rootfile, ttree, basket) and the pre-processing (preproc):
 * evsource_read() reads raw entries [a, b) of the branches the data layer needs,
 * decoding the branches on the threads of a team (team.h; branches are split
 * between threads by their compressed size, each thread keeping its branches and its
 * basket cache from block to block), and hands back typed columns (evcol: the
 * values as stored, in host order, no conversion). Only the branches the compiled
 * preproc reads are converted to double columns for the expression layer
 * (expr_column); the preproc then computes the new branches (double columns) and the
 * event mask. Fixed arrays come out as jagged columns of constant length. Buffers
 * are reused from block to block, so memory is bounded by the block size.
 *
 * Ownership: evsource_open() returns an evsource that owns its file and buffers;
 * the evblock views are valid until the next evsource_read() or evsource_free().
 * The team is not owned; it must outlive the evsource's reads. */
#ifndef MLHEP_EVSOURCE_H
#define MLHEP_EVSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "data/expr.h"
#include "data/preproc.h"
#include "base/team.h"
#include "root/srcaccess.h"
#include "root/ttree.h"

/* One column of a block: values of type dt (DT_F64 for new branches), flat (offsets
 * NULL: value k is event k's) or jagged (event k's values are
 * [offsets[k], offsets[k+1]), offsets[0] == 0). */
typedef struct evcol {
    dtype dt;
    const void *values;
    const int64_t *offsets;
} evcol;

typedef struct evblock {
    size_t n;                 /* events in the block */
    const evcol *cols;        /* input columns (in the order asked for), then new ones */
    size_t ncols;
    const uint8_t *mask;      /* 1 = event passes every cut (all 1 without preproc) */
} evblock;

typedef struct evsource evsource;

/* Opens tree `tree` of file `path` (with acc, NULL: the process's access) to read the
 * named branches (each must be a numeric flat, fixed-array or jagged branch). pp may be NULL; it is not owned. tm may be
 * NULL (the caller's thread does everything). */
int evsource_open(const char *path, const srcaccess *acc, const char *tree, const char *const *branches,
                  size_t nbranches, const preproc *pp, team *tm, evsource **out, mlhep_err *e);
void evsource_free(evsource *s);

int64_t evsource_entries(const evsource *s);

/* Reads entries [a, b) and applies the preproc. */
int evsource_read(evsource *s, int64_t a, int64_t b, evblock *out, mlhep_err *e);
/* Where a block of entries [a, z) had best end: the last entry in (a, z] at which every
 * branch read starts a new basket (a cluster boundary), so that no basket is split
 * between two blocks and each is decompressed straight into the columns; z itself when
 * there is none or z reaches the last entry. */
int64_t evsource_block_end(const evsource *s, int64_t a, int64_t z);

/* The branch schema of a tree (numeric branches with kinds, fixed arrays as jagged)
 * for compiling expressions; *out is new (expr_schema_free). */
int evsource_schema(const char *path, const srcaccess *acc, const char *tree, expr_schema **out, mlhep_err *e);

/* Value i of a column as double / as int64 (identifiers, labels: not for hot loops). */
static inline double evcol_get(const evcol *c, size_t i)
{
    return dtype_value(c->dt, c->values, i);
}

static inline int64_t evcol_get_i64(const evcol *c, size_t i)
{
    switch (c->dt) {
    case DT_I64: return ((const int64_t *)c->values)[i];
    case DT_U64: return (int64_t)((const uint64_t *)c->values)[i];
    case DT_F32:
    case DT_F64: return (int64_t)evcol_get(c, i);
    default: return (int64_t)evcol_get(c, i); /* exact for integers of 32 bits or less */
    }
}

#endif

/* h5table.h - an HDF5 file of appendable tables, written as data streams.
 *
 * How it fits: mlhep-prep exports training rows as HDF5 (data/rowexport.h), the format
 * many HEP trainings read through h5py. This module knows nothing of rows: it creates a
 * file of 1-D or 2-D datasets (N x cols) whose first dimension grows as blocks of rows
 * are appended, chunked (optionally gzip-compressed, with the byte shuffle filter), so
 * memory stays bounded by one block whatever the file size; plus attributes (strings,
 * numbers) on the file or on a dataset. Strings are variable-length UTF-8 (h5py reads
 * them as str). The file uses the 1.8 format or later, so large attributes (thousands
 * of column names) are stored densely instead of failing at 64 KiB.
 *
 * Errors: every HDF5 call is checked; the library's own error printing is switched off
 * while this module calls it, and a failure becomes MLHEP_EIO with a message naming the
 * file, what was being done, the system's reason when there is one (disk full, quota,
 * not writable, ...) with what to do about it, and HDF5's innermost message.
 *
 * Ownership: h5table_create() returns a handle closed (and freed) by h5table_close(),
 * which reports errors of the final flush; h5table_abort() frees without reporting. */
#ifndef MLHEP_H5TABLE_H
#define MLHEP_H5TABLE_H

#include <stddef.h>

#include "base/err.h"

#define H5TABLE_MAX_SETS 16

typedef enum h5table_type { H5TABLE_F32 = 1, H5TABLE_U8, H5TABLE_I64, H5TABLE_U32 } h5table_type;

typedef struct h5table h5table;

/* Creates (truncates) path. */
int h5table_create(const char *path, h5table **out, mlhep_err *e);

/* A dataset `name` of `type` with `cols` columns (cols 0: 1-D, N values; else N x cols),
 * chunked by chunk_rows rows, gzip level 0 (none) .. 9. *id: its index for appending. */
int h5table_add(h5table *h, const char *name, h5table_type type, size_t cols, size_t chunk_rows, int gzip, int *id,
                mlhep_err *e);

/* Appends nrows rows (row-major, nrows x max(cols, 1) values of the dataset's type). */
int h5table_append(h5table *h, int id, const void *data, size_t nrows, mlhep_err *e);

/* Attributes on dataset `on` (NULL: the file's root group). */
int h5table_attr_strings(h5table *h, const char *on, const char *name, const char *const *v, size_t n,
                         mlhep_err *e);
int h5table_attr_string(h5table *h, const char *on, const char *name, const char *v, mlhep_err *e);
int h5table_attr_doubles(h5table *h, const char *on, const char *name, const double *v, size_t n, mlhep_err *e);
int h5table_attr_double(h5table *h, const char *on, const char *name, double v, mlhep_err *e); /* a scalar */

/* Flushes and closes everything; errors of the last writes show here. Frees h. */
int h5table_close(h5table *h, mlhep_err *e);
/* Closes without reporting (after an error). NULL is fine. */
void h5table_abort(h5table *h);

#endif

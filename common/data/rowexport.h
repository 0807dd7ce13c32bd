/* rowexport.h - training rows written as HDF5 and CSV, chunk by chunk as they stream.
 *
 * How it fits: mlhep-prep writes every chunk of the dataset (dataset.h) as NumPy files
 * itself; with --format it also (or instead) hands each chunk to a rowexport, which
 * appends it to one HDF5 file and/or one CSV file, so memory stays bounded by a chunk
 * whatever the size of the data.
 *
 * HDF5 (base/h5table.h; read with h5py), one file:
 *   /rows     float32 N x W   the normalised rows (W = specs width), chunked, optionally
 *                             gzip-compressed (with the shuffle filter);
 *             attributes: columns (W names, "Jet_pt[3]" for jagged slots), sub and scale
 *             (W numbers: row value = (raw - sub) * scale, dp_norm_coeffs), features (the
 *             feature branches) with feature_min, feature_max, feature_mean, feature_std
 *             (the specs pass's figures), normalisation ("minmax" | "standard"), pad;
 *   /mask     uint8 N x W     1 where the slot is padding, 0 where it holds a value;
 *   /labels   float32 N       class index, or the label branch's value;
 *   /weights  float32 N       event weights;
 *   /ids      int64 N x K     identifier branches (attribute names), only when K > 0;
 *   /file     uint32 N        index of the input file (root attribute files);
 *   /entry    int64 N         entry in that file;
 *   /split    uint8 N         0 training, 1 validation, 2 test;
 *   root attributes: format "mlhep-rows", version 1, tree, files, classes (when the
 *   labels are classes of files).
 * CSV, one file: a header line, then one line per row: the W row values, label, weight,
 * the identifiers, file, entry, split. Floats are printed with %.9g, which reads back
 * as exactly the same float32; names holding a comma, quote or line break are quoted
 * (RFC 4180).
 *
 * Errors name the file and what to do (disk full, path not writable); a failed export
 * leaves its partial files behind (mlhep-prep stops with exit 3).
 *
 * Ownership: rowexport_open() returns an exporter that rowexport_close() finishes and
 * frees (reporting the final flush's errors) and rowexport_abort() frees after an error.
 * The specs and dataparams are borrowed for the exporter's lifetime. */
#ifndef MLHEP_ROWEXPORT_H
#define MLHEP_ROWEXPORT_H

#include "base/err.h"
#include "data/dataparams.h"
#include "data/dataset.h"
#include "data/specs.h"

/* Output formats (bit set). */
enum { ROWEXPORT_NPY = 1, ROWEXPORT_HDF5 = 2, ROWEXPORT_CSV = 4 };

/* "npy,hdf5,csv" (any non-empty subset, comma-separated; "h5" for hdf5) into *formats. */
int rowexport_parse_formats(const char *list, unsigned *formats, mlhep_err *e);

typedef struct rowexport_opts {
    const char *hdf5_path; /* NULL: no HDF5 */
    const char *csv_path;  /* NULL: no CSV */
    int gzip;              /* HDF5 compression level 0 (none) .. 9 */
} rowexport_opts;

typedef struct rowexport rowexport;

int rowexport_open(const rowexport_opts *o, const dataparams *dp, const specs *sp, rowexport **out, mlhep_err *e);
int rowexport_chunk(rowexport *x, const ds_chunk *c, mlhep_err *e);
int rowexport_close(rowexport *x, mlhep_err *e);
void rowexport_abort(rowexport *x);

#endif

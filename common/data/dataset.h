/* dataset.h - training rows from ROOT trees: flattening, normalisation, mixing.
 *
 * Given the data parameters (dataparams.h), the compiled preproc and the specs
 * (specs.h), a dataset streams chunks of rows:
 *   - each event becomes one fixed-length row: the flat features, then each jagged
 *     feature's first `len` values, padded with the pad value; mask[i] = 1 where the
 *     row holds padding (MLaaS4HEP's convention), 0 where it holds a real value;
 *   - values are normalised with the specs: minmax (x-min)/(max-min), standard
 *     (x-mean)/std, with scale 1 when the range is zero (dp_norm_coeffs); padding stays
 *     the pad value (nan_value if finite, else 0: dp_pad);
 *   - identifiers (run, event, ...) travel beside the rows, never as features;
 *   - every chunk draws from every file in proportion to its number of events that
 *     pass the cuts (the last file absorbs rounding), so labels are mixed; rows are
 *     shuffled within the chunk with the seed when `shuffle` is on;
 *   - `nevts` > 0 takes exactly that many events in total, shared by file size;
 *   - each row has a split (dp_split): 1 (validation) when a hash of (seed, file, entry)
 *     falls below validation_fraction, 2 (test) below validation_fraction +
 *     test_fraction, else 0 (training): stable across epochs and runs;
 *   - each row has a weight: its file's scale times the weight expression (1 without
 *     one), with the negative-weight policy applied (dp_event_weight); a weight that is
 *     not a finite number stops the chunk with an error naming the file and entry.
 * Memory is bounded by the chunk size times the row width plus one read block per
 * file, whatever the file sizes.
 *
 * Ownership: dataset_open() returns a dataset the caller frees with dataset_free();
 * the chunk buffers belong to the dataset and are valid until the next call (one call
 * more after dataset_keep()). */
#ifndef MLHEP_DATASET_H
#define MLHEP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "data/preproc.h"
#include "data/specs.h"
#include "data/dataparams.h"

typedef struct ds_chunk {
    size_t nrows;
    int width;          /* floats per row */
    size_t nid;         /* identifiers per row */
    float *x;           /* nrows x width, row-major */
    uint8_t *mask;      /* nrows x width: 1 = padding */
    float *y;           /* nrows labels (class index, or the label branch's value) */
    int64_t *ids;       /* nrows x nid */
    uint32_t *file;     /* nrows: index of the input file */
    int64_t *entry;     /* nrows: entry in that file */
    uint8_t *split;     /* nrows: DP_SPLIT_TRAIN, _VALIDATION or _TEST */
    float *w;           /* nrows: event weights (>= 0) */
} ds_chunk;

typedef struct dataset dataset;

int dataset_open(const dataparams *dp, const preproc *pp, const specs *sp, dataset **out, mlhep_err *e);
void dataset_free(dataset *d);

/* Next chunk: returns 1 with *c filled, 0 at the end of the data, or an error (<0). */
int dataset_next(dataset *d, ds_chunk *c, mlhep_err *e);

/* Keeps the chunk the last dataset_next() returned valid through the next call: that
 * one fills a second set of buffers (allocated at its first use, so a kept chunk costs
 * the memory of two), and the next dataset_keep() hands this set back. With one keep
 * after every dataset_next(), chunk k stays valid until the call that returns chunk
 * k + 2: a caller can write chunk k out on another thread while chunk k + 1 is built. */
void dataset_keep(dataset *d);
/* Back to the first chunk (a new epoch); the same chunks come again in the same order. */
int dataset_rewind(dataset *d, mlhep_err *e);

/* Rows one pass yields (every chunk together) and the number of chunks they come in:
 * totals for progress counters. */
int64_t dataset_rows(const dataset *d);
int64_t dataset_chunks(const dataset *d);
/* Feature name of row column k ("Jet_pt[3]" for jagged slots), into buf. */
void dataset_column_name(const specs *sp, int k, char *buf, size_t n);

/* Stable split hash in [0, 1) of (seed, file, entry). */
double dataset_split_u(uint64_t seed, uint32_t file, int64_t entry);

#endif

/* feathist - per-feature histograms of the training rows, one curve per class.
 *
 * What it is for: the workflow's `hist` option (MLaaS4HEP's params key, which there
 * only named a directory of PDFs). A physicist checks the inputs before trusting a
 * model: does each feature separate signal from background, are there spikes at the
 * padding value, overflows, a branch that is all zeros? feathist fills one histogram
 * per feature and class from the rows the data layer produces and writes them as SVG
 * (one file per feature) plus an index.html that shows them all in a browser. Each
 * entry counts with its event weight (dataset.h), so the curves are the physical
 * distributions.
 *
 * How it fits: mlhep-prep (data layer alone) and the training driver (train.c) open a
 * feathist after the specs pass, call feathist_fill on every chunk of the first pass
 * over the data, and feathist_write at the end. Rows arrive normalised; the binning
 * runs over each feature's [min, max] from the specs and the axis is labelled in the
 * branch's own units (the normalisation is undone per bin, not per value). Padding
 * slots (mask = 1) are not counted; jagged branches pool all their real slots.
 *
 * Classes: the class names (dataparams) when labels are names; with integer labels
 * 0/1, "background"/"signal"; otherwise "class k" up to FEATHIST_MAX_CLASSES (labels
 * from a branch are split at 0.5, as training does).
 *
 * Ownership: feathist_new allocates, feathist_free frees; the specs and the dataparams
 * must outlive the feathist. */
#ifndef MLHEP_FEATHIST_H
#define MLHEP_FEATHIST_H

#include <stddef.h>

#include "data/dataset.h"
#include "base/err.h"
#include "data/specs.h"
#include "data/dataparams.h"

#define FEATHIST_BINS 50
#define FEATHIST_MAX_CLASSES 8
#define FEATHIST_MAX_FEATURES 1024

typedef struct feathist feathist;

int feathist_new(const dataparams *dp, const specs *sp, feathist **out, mlhep_err *e);
void feathist_free(feathist *h);

/* Adds every row of the chunk (every split alike), each with its event weight. */
void feathist_fill(feathist *h, const ds_chunk *c);

/* Draws the plots with a logarithmic y axis (params.log_scale). */
void feathist_set_logy(feathist *h, int logy);

/* The file name of a feature's plot in the directory ('/' and anything outside
 * [A-Za-z0-9_.-] become '_', a leading '.' too; ".svg" appended). */
void feathist_file_name(const char *name, char *buf, size_t n);

/* Writes DIR/<feature>.svg for every feature ('/' in names becomes '_') and
 * DIR/index.html; creates DIR. *nwritten (may be NULL) gets the number of plots. */
int feathist_write(const feathist *h, const char *dir, size_t *nwritten, mlhep_err *e);

/* Rows counted so far. */
size_t feathist_rows(const feathist *h);

/* Counts[FEATHIST_BINS] of feature f for class k (class index as in the labels), and
 * the raw-unit range of its bins; NULL when f or k is out of range. */
const double *feathist_counts(const feathist *h, size_t f, int k, double *lo, double *hi);

#endif

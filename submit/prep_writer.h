/* prep_writer.h - mlhep-prep's output side on its own thread: each chunk's .npy files,
 * its HDF5/CSV rows (data/rowexport) and its histogram counts (data/feathist), written
 * while the data layer builds the next chunk (dataset_keep keeps the chunk valid that
 * long). Chunks are written in the order they are put. Program code, linked from
 * build/libmlhep-cli.a. */
#ifndef MLHEP_PREP_WRITER_H
#define MLHEP_PREP_WRITER_H

#include "base/err.h"
#include "data/dataset.h"
#include "data/feathist.h"
#include "data/rowexport.h"

typedef struct prep_writer prep_writer;

/* outdir gets chunk_NNNN_*.npy when npy is set; rx and fh may be NULL. The writer
 * borrows rx and fh until prep_writer_finish. */
int prep_writer_start(const char *outdir, int npy, rowexport *rx, feathist *fh, prep_writer **out, mlhep_err *e);
/* Waits for the chunk put before (returning its error, if any), then starts writing c
 * as chunk number n; c's buffers must stay valid until the next put or finish. */
int prep_writer_put(prep_writer *w, const ds_chunk *c, long n, mlhep_err *e);
/* Waits for the last chunk, stops the thread and frees the writer (NULL: nothing);
 * returns the first error of any chunk not yet reported. */
int prep_writer_finish(prep_writer *w, mlhep_err *e);

#endif

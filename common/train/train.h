/* train.h - the training driver: a workflow in, a trained model and its reports out.
 *
 * train_run() is the whole ML pipeline, shared by the embedded runner (mlhep-run) and
 * the service worker (pipeline.c): specs pass (specs.h), chunks of rows (dataset.h),
 * training of the workflow's model - an MLP (mlp.h, our Keras-like spec or a Keras
 * Sequential document) or boosted trees (gbdt.h), for a binary, multiclass or
 * regression task (workflow.task) - with MLaaS4HEP's two procedures
 * (params.training "standard": every epoch streams all chunks; "chunk": each chunk is
 * fitted `epochs` times in turn), and a checkpoint per epoch (checkpoint.h: the model
 * with its optimiser state, kept when the run is stopped; o->resume continues from it to
 * the same final weights as a run never stopped).
 * Splits (dataset.h): training rows train; the validation rows give the per-epoch
 * figures - computed with the model as it is at the end of the epoch - and early
 * stopping; the test rows are never used until the final report. Event weights
 * (params.weight x the file's scale, negative ones per params.negative_weights) enter
 * the loss and the gradients as training weights (normalised to mean 1, or balanced
 * per class with params.balance_classes), and every metric and histogram as they are.
 * The first pass over the data keeps the validation rows, the test rows and a sample
 * of the training rows (half as many as the test rows) in memory (evalset.h, bounded), so
 * the per-epoch evaluation and the final report need no extra pass. It writes into
 * o->outdir:
 *   model.mlhep    the model file (modelfile.h) with the "features" section: feature
 *                  names, normalisation and padding (featmap.h), so raw branch values
 *                  plus this file are all a prediction needs
 *   model.onnx     MLPs only: the ONNX export (onnx.h)
 *   specs.json     the specs pass (reusable when inputs are unchanged)
 *   metrics.json, report.html and the plots (report.h): per-epoch figures, the final
 *                  figures on the test set, the overtraining check, the feature ranking
 *                  (boosted trees: gain and cover; MLP: permutation importance on the
 *                  test rows), the input correlations, the splits and the timing
 *   hist/NAME.svg  per-feature histograms per class when params.hist is set
 * Progress goes through o->progress (may be NULL); a non-zero return from it stops
 * the run cleanly (cancel), and train_run() returns TRAIN_STOPPED. */
#ifndef MLHEP_TRAIN_H
#define MLHEP_TRAIN_H

#include <stdint.h>

#include "base/err.h"
#include "service/workflow.h"

#define TRAIN_STOPPED 1

/* train_opts.resume: what to do with OUTDIR/checkpoint.mlhep (train/checkpoint.h). */
#define TRAIN_RESUME_NO 0     /* start over (a checkpoint there is overwritten) */
#define TRAIN_RESUME_MUST 1   /* continue from it; refuse when it is missing, corrupt, of
                                 another workflow or of changed inputs (mlhep-run --resume) */
#define TRAIN_RESUME_IF_ANY 2 /* continue from it when there is one of this workflow, else
                                 start over (a redelivered service job) */

struct preproc;
struct specs;

typedef struct train_progress {
    const char *phase;     /* "specs", "training", "export", "done" */
    double fraction;       /* 0..1 of the whole run */
    int64_t events;        /* events (rows) processed in this phase so far */
    int epoch, epochs;     /* 1-based epoch when training */
    double loss;           /* last training loss (NAN if none yet) */
    double val_loss;       /* last validation loss (NAN if none yet) */
    double val_auc;        /* last validation ROC AUC (NAN if none yet) */
    const char *message;   /* one line for logs */
    int epoch_end;         /* 1: the message sums up an epoch (or a boosting round), or is
                              a warning: the lines a job log keeps; 0: progress within one */
} train_progress;

typedef int (*train_progress_fn)(void *ctx, const train_progress *p);

typedef struct train_opts {
    const char *outdir;        /* must exist; artifacts are written here */
    int nthreads;              /* training threads: boosting, and the MLP's data-parallel
                                  steps (0 = one per CPU; BLAS runs one thread per
                                  thread of ours); the data layer takes wf->data.threads */
    train_progress_fn progress;
    void *ctx;
    const char *specs_cache;   /* optional specs.json to reuse when its fingerprint matches */
    /* optional: computes the specs pass elsewhere (the worker's fan-out, fanout.h). Returns
     * 0 with *out set, 0 with *out NULL (not done: compute here), TRAIN_STOPPED, or a
     * negative error. */
    int (*specs_fn)(void *ctx, const workflow *wf, const struct preproc *pp, struct specs **out,
                    mlhep_err *e);
    void *specs_ctx;
    int resume;                /* TRAIN_RESUME_* (0: start over) */
    const char *ckpt_note;     /* kept in the checkpoint for the caller (JSON text; may
                                  be NULL; checkpoint.h "note") */
} train_opts;

/* 0, TRAIN_STOPPED, or a negative MLHEP_E* with the message in e. */
int train_run(const workflow *wf, const train_opts *o, mlhep_err *e);

#endif

/* checkpoint.h - the training checkpoint: what an interrupted MLP training needs to go on.
 *
 * train.c writes OUTDIR/checkpoint.mlhep at the end of every epoch (the training
 * procedure "standard"; "chunk" has one pass, so its checkpoint comes at its end) and
 * removes it once the model files are written. A stopped run (SIGINT, SIGTERM, a
 * cancelled or redelivered job, a crash) leaves it, and a run with train_opts.resume
 * continues from it to the same final weights as a run that was never stopped: the
 * parameters, the optimiser's moments and step count (the learning rate is constant: no
 * schedule position to keep), the dropout RNG, the epochs done with their figures, the
 * early-stopping bookkeeping and the best parameters so far. The data's order needs no
 * state: every epoch streams the same chunks, shuffled the same way (dataset_rewind).
 *
 * The file is a model file (modelfile.h, kind mlp: "arch" and "params", so
 * `mlp_load_file` still reads it as the model of its last epoch) with more sections:
 *   "resume"    the training state, binary, laid out field by field in checkpoint.c
 *   "opt.m"     the optimiser's first moment (Adam m, SGD velocity), float32 LE
 *   "opt.v"     Adam's second moment (Adam only), float32 LE
 *   "best"      the best parameters so far (early stopping; when there are some)
 *   "workflow"  the workflow document the run was started with (JSON text)
 *   "note"      what the program that ran the training wants back to resume it (JSON
 *               text, opaque here: mlhep-run's job id and data roots; optional)
 * A checkpoint belongs to one workflow: its "resume" section holds a hash of the
 * workflow (ckpt_key: the document without its name and description) and the specs
 * fingerprint of the inputs (files with size and modification time, cuts...); resuming
 * refuses a checkpoint whose hash or fingerprint differs, with a message saying which. */
#ifndef MLHEP_CHECKPOINT_H
#define MLHEP_CHECKPOINT_H

#include <stddef.h>

#include "base/err.h"
#include "model/mlp.h"
#include "service/workflow.h"
#include "train/report.h"

#define CKPT_FILE "checkpoint.mlhep"
#define CKPT_KEY_LEN 16 /* hex digits of the workflow hash */

typedef struct ckpt_state {
    int epoch;          /* epochs (passes) finished */
    int epochs;         /* passes in the run */
    int finished;       /* 1: no epoch left (early stopping fired after `epoch`) */
    double best_val;    /* early stopping: the best criterion so far (INFINITY if none) */
    int since_best;     /* epochs since the best */
    int have_best;      /* best[] holds parameters */
    const float *best;  /* save: n_params floats (NULL when !have_best) */
    const report_epoch *ep; /* save: the figures of every epoch done (nep of them) */
    int nep;
} ckpt_state;

/* What a checkpoint says about itself (ckpt_info_read). */
typedef struct ckpt_info {
    int epoch, epochs, finished;
    char key[CKPT_KEY_LEN + 1];
    char fingerprint[65];
    char *workflow;     /* the workflow document (JSON text, malloc'ed) */
    char *note;         /* the caller's note (JSON text, malloc'ed), NULL if none */
} ckpt_info;

/* The workflow's hash (CKPT_KEY_LEN hex digits + NUL into out): XXH64 of the document
 * with sorted keys and without "name" and "description" (they change no number). */
int ckpt_key(const workflow *wf, char out[CKPT_KEY_LEN + 1], mlhep_err *e);

/* Writes the checkpoint of model m (after `s->epoch` epochs) to path (a temporary file
 * renamed over path: a reader never sees half a checkpoint). note may be NULL. */
int ckpt_save(const char *path, mlp *m, const ckpt_state *s, const char *key, const char *fingerprint,
              const workflow *wf, const char *note, mlhep_err *e);

/* Loads path into the model m (built from the same workflow): parameters, optimiser
 * state, steps and RNG; fills *s (s->ep and s->best are malloc'ed: the caller frees
 * them with ckpt_state_free). Refuses (MLHEP_EINVAL, message naming the file and what
 * differs) a checkpoint of another workflow (key), of changed inputs (fingerprint) or
 * of another architecture; MLHEP_ENOTFOUND when there is none; MLHEP_EFORMAT when it
 * is corrupt. */
int ckpt_load(const char *path, const char *key, const char *fingerprint, mlp *m, ckpt_state *s, mlhep_err *e);
void ckpt_state_free(ckpt_state *s);

/* Reads what a checkpoint says about itself (no model needed). Free with ckpt_info_clear. */
int ckpt_info_read(const char *path, ckpt_info *out, mlhep_err *e);
void ckpt_info_clear(ckpt_info *i);

#endif

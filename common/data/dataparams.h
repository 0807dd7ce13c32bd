/* dataparams.h - what the data layer is told about a job: its inputs and the settings
 * that shape the rows.
 *
 * What it is for: the specs pass (specs.h), the chunks of rows (dataset.h), the input
 * histograms (feathist.h) and the features document (featmap.h) take a dataparams, not
 * the service's workflow, so the data layer does not depend on how a workflow is written,
 * parsed or validated. It holds the input files (path, label, local or not), the tree,
 * the labels (per file or from a branch, class names), the branch selection and
 * identifiers, the caps on jagged lengths, event count, chunk size, normalisation,
 * padding value, validation and test fractions, shuffle, seed, threads, the
 * pre-processing document and the event weights (an expression, a scale per file, the
 * negative-weight policy).
 *
 * How it fits: workflow.c (service) fills the dataparams of every loaded workflow
 * (workflow.data) in one function, from the typed params; tests fill one by hand. The
 * defaults and ranges of the values are the workflow schema's (schemas/
 * workflow.schema.json); this header only says what the data layer does with them.
 * Besides the types, this module holds the rules on normalisation, padding, splits and
 * event weights that the dataset, the histograms and the features document must apply
 * identically.
 *
 * Ownership: a dataparams points into memory owned by whoever filled it (the workflow),
 * which must outlive every use; the data layer only reads it. */
#ifndef MLHEP_DATAPARAMS_H
#define MLHEP_DATAPARAMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "root/srcaccess.h"

/* Largest padded length of one jagged feature: a user cap (max_jagged_length,
 * branch_max_length: the workflow schema's maximum for both is this value, which
 * test_workflow checks), a specs.json or a features document beyond it is refused. */
#define DP_MAX_LEN 100000

/* How feature values are scaled into rows (names as in workflows and the features
 * document: dp_norm_name). */
typedef enum dp_norm { DP_NORM_MINMAX = 0, DP_NORM_STANDARD = 1 } dp_norm;
#define DP_NORM_COUNT 2

typedef struct dp_file {
    const char *path;  /* what to open: local path or URL */
    int label;         /* class index; -1 when labels come from label_branch */
    int local;         /* 1: a local file (its size and mtime enter the specs fingerprint) */
    double scale;      /* per-file weight factor (cross-section x luminosity / sum of
                          generator weights), > 0; 1 when the workflow gives none */
} dp_file;

/* What happens to an event whose weight (scale x weight expression) is negative
 * (generator weights at NLO): "zero" gives it weight 0 (it takes no part in training
 * nor in any metric or histogram: TMVA's IgnoreNegWeightsInTraining, applied to the
 * evaluation too, so a model is trained and judged on the same events), "abs" uses |w|.
 * The weights the loss, the gradients, the metrics and the histograms see are therefore
 * never negative (dp_event_weight). */
typedef enum dp_negw { DP_NEGW_ZERO = 0, DP_NEGW_ABS = 1 } dp_negw;
#define DP_NEGW_COUNT 2

/* Row splits: a stable hash u in [0, 1) of (seed, file, entry) (dataset_split_u) puts a
 * row in validation when u < validation_fraction, in the test set when u <
 * validation_fraction + test_fraction, else in training (dp_split). The validation rows
 * are those of a workflow without a test set, whatever test_fraction is. */
enum { DP_SPLIT_TRAIN = 0, DP_SPLIT_VALIDATION = 1, DP_SPLIT_TEST = 2 };

typedef struct dp_cap {
    const char *branch;
    int max_length;    /* 1..DP_MAX_LEN */
} dp_cap;

typedef struct dataparams {
    const dp_file *files;
    size_t nfiles;
    const char *tree;                 /* name or path of the tree in every file */
    const char *label_branch;         /* per-event labels from this branch, else NULL */
    const char *const *class_names;   /* class index -> name; NULL when labels are integers */
    size_t nclasses;                  /* distinct classes (0 with label_branch) */
    const char *const *selected;      /* feature branches to keep; none = all */
    size_t n_selected;
    const char *const *exclude;       /* branches never used as features */
    size_t n_exclude;
    const char *const *identifier;    /* identifier branches (run, event, ...) */
    size_t n_identifier;
    int identifier_optional;          /* 1: identifiers absent from the tree are skipped
                                         (the default list); 0: each must exist */
    int max_jagged_length;            /* cap for every jagged feature; 0 = automatic (specs.h) */
    const dp_cap *caps;               /* per-branch caps, override max_jagged_length */
    size_t ncaps;
    long long nevts;                  /* events in total, -1 = all */
    long long chunk_size;             /* rows per chunk, -1 = one chunk */
    dp_norm norm;
    double nan_value;                 /* padding: used when finite, else 0 (dp_pad) */
    double validation_fraction;       /* share of rows with split = 1 (validation) */
    double test_fraction;             /* share of rows with split = 2 (test) */
    const char *weight;               /* per-event weight expression (expr.h language,
                                         one value per event) or NULL: weight 1 */
    dp_negw negative_weights;         /* policy for negative weights */
    int shuffle;                      /* shuffle rows within each chunk */
    uint64_t seed;                    /* split hash and shuffling */
    int threads;                      /* execution setting: threads for decoding (0 = one
                                         per CPU); set by the runner, not the document */
    const json_t *preproc;            /* the pre-processing document (preproc.h) or NULL */
    const srcaccess *access;          /* execution setting: how this run's remote inputs
                                         are reached (a job's delegated credential,
                                         srcaccess.h), or NULL: the process's access;
                                         set by the runner, never by the document */
} dataparams;

/* "minmax", "standard". */
const char *dp_norm_name(dp_norm n);
/* The kind named s; -1 if s names none (0 and *out set otherwise). */
int dp_norm_parse(const char *s, dp_norm *out);

/* The normalisation of one feature: row value = (float)((x - *sub) * *scale), from the
 * feature's specs. minmax: sub = min, scale = 1/(max-min) when max > min, else sub = 0,
 * scale = 1; standard: sub = mean, scale = 1/std when std > 0, else 1. */
void dp_norm_coeffs(dp_norm n, double min, double max, double mean, double std, double *sub,
                    double *scale);

/* The value written into padding slots: nan_value when finite, else 0. */
float dp_pad(double nan_value);

/* "zero", "abs" / parse (0 and *out set, -1 if s names none). */
const char *dp_negw_name(dp_negw p);
int dp_negw_parse(const char *s, dp_negw *out);

/* The weight of an event: scale x w with the negative-weight policy applied. */
static inline double dp_event_weight(const dataparams *dp, double scale, double w)
{
    double x = scale * w;
    if (x < 0)
        x = dp->negative_weights == DP_NEGW_ABS ? -x : 0.0;
    return x;
}

/* The split of a row whose hash is u (DP_SPLIT_*). */
static inline int dp_split(const dataparams *dp, double u)
{
    if (u < dp->validation_fraction)
        return DP_SPLIT_VALIDATION;
    if (u < dp->validation_fraction + dp->test_fraction)
        return DP_SPLIT_TEST;
    return DP_SPLIT_TRAIN;
}

#endif

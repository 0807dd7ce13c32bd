/* workflow.h - load, validate and normalise a workflow.json.
 *
 * A workflow is what a physicist submits (see schemas/workflow.schema.json): a name,
 * input files with labels (either [{"path","label"}] or MLaaS4HEP's parallel "files"
 * and "labels"), the tree, MLaaS4HEP-compatible params, a pre-processing document and
 * a model. mlhep-submit loads it before anything is queued and mlhep-worker loads it
 * again from the job (user machines are not trusted); mlhep-run loads it in-process.
 *
 * Loading = parse JSON -> validate against the workflow schema (same file for everyone)
 * -> checks a schema cannot express (labels count, label kinds, duplicate files, tree
 * vs params.branch, validation + test fractions, at least two classes, every class
 * with a file) -> normalise files to one list of (path, label, scale) -> classify paths
 * and apply MLaaS4HEP's redirector rule -> confine local paths to the data roots ->
 * typed params with MLaaS4HEP's defaults -> the model checked without data (the MLP
 * spec parsed by mlp_spec_check: layers, activations, units, loss, optimiser, the
 * parameter cap; the boosted trees' parameters by gbdt_params_check) and against the
 * labels (the task: binary needs two classes, a softmax as many units as classes,
 * balance_classes a classifier) -> the data layer's view (workflow.data). So every
 * mistake in a model is refused before anything is queued or read.
 *
 * One place per rule: the ranges of the params and their defaults are written in the
 * schema only ("minimum"/"maximum"/"enum"/"pattern" and "default"); the loader converts
 * what the schema has validated and takes every default from the schema document
 * (wf_opts.schema), refusing to load if the schema lacks one. The limit on the number of
 * classes is the schema's largest integer label + 1, for class names too.
 *
 * Local paths. Relative paths are relative to the data roots (first root holding the
 * file). A path containing a ".." component is refused outright. An absolute path
 * that is not lexically under a data root is refused before the file system is
 * touched (so error messages never reveal whether files outside the roots exist).
 * With check_local set, the path is then resolved with realpath(3): it must exist, be
 * a regular readable file, and still lie under a data root after every symbolic link
 * is followed. /etc/shadow can never be accepted. Without check_local (a submitter on
 * a machine that does not see the worker's file system) only the lexical checks run.
 * The stored path is the resolved one; open it with workflow_open_local(), which
 * refuses the file if anything on the path was swapped for a symlink since the check.
 *
 * Remote paths: root://host//path (XRootD) and http(s)://host/path are kept as given.
 * LFNs "/store/..." (MLaaS4HEP's rule) become params.redirector + "/" + path
 * ("root://cms-xrd-global.cern.ch//store/...") unless the path lies under a data root
 * (decided lexically, the same way on the submitter and the worker).
 *
 * Error messages: "workflow: <json pointer>: <problem>", e.g.
 *   "workflow: /files/2/path: '../x.root': '..' is not allowed in file paths".
 * Codes: MLHEP_EFORMAT not JSON; MLHEP_EINVAL schema or semantic error;
 * MLHEP_EAUTH path outside the data roots; MLHEP_ENOTFOUND missing local file;
 * MLHEP_EIO unreadable workflow file or data root.
 *
 * Ownership: workflow_load_* allocate *out; workflow_free frees it and everything in
 * it. json_t members (doc, preproc, model) are owned by the workflow: incref them to
 * keep them longer. */
#ifndef MLHEP_WORKFLOW_H
#define MLHEP_WORKFLOW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/jsonschema.h"
#include "data/dataparams.h"

#define WF_MAX_DOC_BYTES (16u << 20) /* a workflow file larger than this is refused */

typedef enum wf_kind { WF_LOCAL = 0, WF_XROOTD = 1, WF_HTTP = 2 } wf_kind;
/* MLaaS4HEP's training procedures, named as in params.training (wf_training_name). */
typedef enum wf_training { WF_TRAIN_STANDARD = 0, WF_TRAIN_CHUNK = 1, WF_TRAIN_COUNT } wf_training;

typedef struct wf_file {
    char *path;       /* what to open: resolved local path, or full URL */
    char *given;      /* as written in the workflow */
    wf_kind kind;
    int label;        /* class index; -1 when labels come from a branch (label_branch) */
    double scale;     /* event weight factor of the file ("scale" / "scales"), 1 if none */
} wf_file;

typedef struct wf_maxlen {
    char *branch;
    int max_length;
} wf_maxlen;

/* params.json, typed, with the schema's defaults filled in (the schema's "default" of
 * each key says what a missing key means; MLaaS4HEP's values). Lists are NULL-free arrays
 * of strdup'd names. */
typedef struct wf_params {
    long long nevts;          /* -1 = all events */
    long long chunk_size;     /* events per chunk, -1 = one chunk */
    int epochs;
    long long batch_size;
    int shuffle;
    char **identifier;        /* identifier branches; from the default list, those absent
                                 from the tree are skipped */
    size_t n_identifier;
    int identifier_is_default; /* absent or [] in the document: the schema's list */
    char **selected_branches; /* empty = all */
    size_t n_selected;
    char **exclude_branches;
    size_t n_exclude;
    char *hist;               /* output sub-directory for histograms, NULL = none */
    char *redirector;         /* trailing '/' removed */
    int verbose;
    double nan_value;         /* padding value; null in the document = NAN */
    int metrics;              /* print/record metrics per chunk (fork key) */
    double metrics_threshold;
    wf_training training;     /* standard: every epoch streams all chunks */
    dp_norm normalisation;
    double validation_fraction;
    double test_fraction;     /* validation_fraction + test_fraction <= WF_MAX_HELD_OUT */
    char *weight;             /* event weight expression, NULL = 1 */
    dp_negw negative_weights;
    int balance_classes;      /* training weights rescaled so every class has the same sum */
    int log_scale;            /* distributions drawn with a logarithmic y axis */
    uint64_t seed;
    int max_jagged_length;    /* 0 = not given: the data layer chooses (specs.h) */
    wf_maxlen *branch_max_length; /* per-branch caps, override max_jagged_length */
    size_t n_branch_max_length;
} wf_params;

/* What the model learns, from the model and the labels (workflow_load checks they fit). */
typedef enum wf_task { WF_TASK_BINARY = 0, WF_TASK_MULTICLASS = 1, WF_TASK_REGRESSION = 2 } wf_task;
const char *wf_task_name(wf_task t); /* "binary", "multiclass", "regression" */

/* Most of the rows validation and test may take together: the rest trains. */
#define WF_MAX_HELD_OUT 0.9

typedef struct workflow {
    char *name;
    char *description;        /* NULL if absent */
    char *tree;               /* "tree", else params.branch, else "Events" */
    wf_file *files;
    size_t nfiles;
    char *label_branch;       /* "labels":"branch" form: per-event labels, else NULL */
    char **class_names;       /* labels given as names: index -> name (first-appearance
                                 order); NULL when labels are integers */
    size_t nclasses;          /* distinct classes: max label + 1, or number of names;
                                 0 with label_branch */
    wf_params params;
    wf_task task;             /* from the model (loss / objective) and the labels */
    int noutputs;             /* model outputs per row (classes for multiclass, else 1) */
    json_t *preproc;          /* the "preproc" object or NULL (owned by the workflow) */
    json_t *model;            /* the "model" object or NULL (owned by the workflow) */
    json_t *doc;              /* the whole document (owned by the workflow) */
    /* What the data layer is given (dataparams.h), filled at load from the fields above
     * and pointing into them. data.threads is an execution setting, not from the
     * document: the threads the data layer may use (0 = one per CPU), set by the runner. */
    dataparams data;
    dp_file *data_files;      /* storage of data.files */
    dp_cap *data_caps;        /* storage of data.caps */
} workflow;

typedef struct wf_opts {
    const jschema *schema;          /* required: workflow.schema.json, loaded once */
    const char *const *data_roots;  /* directories local inputs must lie under */
    size_t n_data_roots;            /* 0 = no local inputs allowed */
    int check_local;                /* 1: realpath/existence/regular file checks */
} wf_opts;

/* From a file (at most WF_MAX_DOC_BYTES). */
int workflow_load_file(const char *path, const wf_opts *o, workflow **out, mlhep_err *e);
/* From bytes (e.g. a job message body). */
int workflow_load_buffer(const char *buf, size_t n, const wf_opts *o, workflow **out,
                         mlhep_err *e);
/* From a parsed document (a reference is taken). */
int workflow_load_json(json_t *doc, const wf_opts *o, workflow **out, mlhep_err *e);

void workflow_free(workflow *w);

/* Opens a WF_LOCAL file of a loaded workflow for reading, refusing it unless the file
 * opened is the regular file that was checked at load time (nothing on its path was
 * replaced by a symbolic link since). Returns an fd >= 0 or a negative MLHEP_E code. */
int workflow_open_local(const wf_file *f, mlhep_err *e);

const char *wf_kind_name(wf_kind k); /* "local", "xrootd", "http" */
const char *wf_training_name(wf_training t); /* "standard", "chunk" */

#endif

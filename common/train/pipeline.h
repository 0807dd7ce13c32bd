/* pipeline.h - runs one job's work: the single entry point the worker and mlhep-run call.
 *
 * Job kinds, by workflow.model.type:
 *   "mlp", "gbdt", "keras" (or a bare Keras document): the real ML pipeline. The workflow
 *       is loaded and validated by workflow.h against schemas/workflow.schema.json - the
 *       same rules and schema file for the submitter, the worker and mlhep-run - and run
 *       by train_run() (train.h): specs, chunks, training, export. Local input paths are
 *       confined to the data roots: lexically on the submitter (check_local 0, it may not
 *       see the worker's disks), fully on the worker and in mlhep-run (check_local 1:
 *       realpath, symlinks, regular file), so a job can never make a worker read
 *       /etc/shadow.
 *   "sleep": a trivial built-in job that exercises the service plumbing:
 *       {"name": "...", "model": {"type": "sleep", "seconds": S, "fail": false,
 *        "crash": false}}
 *       It sleeps S seconds (0 <= S <= 3600) in steps, reporting progress at each step,
 *       then writes model.json and metrics.json. "fail": true makes it fail half way;
 *       "crash": true kills the worker process half way (SIGKILL). The whole kind is a
 *       test hook: it holds a worker for up to an hour and reads no data, so it is only
 *       accepted with test hooks (config test_hooks=1; mlhep-run, the user's own
 *       process, always has them); otherwise it is refused. It names no files and is
 *       not a workflow of the schema (it has no inputs); pipeline_validate checks its
 *       model by hand and its name and description with the workflow schema's rules.
 *
 * Progress: the step callback receives a pipeline_progress per step (training jobs:
 * events, epoch, loss and AUC from train_progress); a non-zero return stops the run
 * (cancel, lost lease, shutdown) and pipeline_run returns PIPELINE_STOPPED. */
#ifndef MLHEP_PIPELINE_H
#define MLHEP_PIPELINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "service/job.h"
#include "base/jsonschema.h"
#include "service/workflow.h"

/* Returned by pipeline_run when a callback asked it to stop (not an error). */
#define PIPELINE_STOPPED 1

/* Validation context, loaded once per program (pipeline_env_open). */
typedef struct pipeline_env {
    jschema *schema;        /* workflow.schema.json (owned) */
    char **data_roots;      /* owned, n_data_roots entries */
    size_t n_data_roots;
    int check_local;        /* 1 on the worker and in mlhep-run */
    int test_hooks;         /* 1: accept the sleep kind and honour its "crash": true */
    int nthreads;           /* data-layer and boosting threads (0 = one per CPU, the
                               default); copied into each validated workflow's
                               data.threads */
    hostpolicy *hosts;      /* data_hosts (owned; NULL: remote hosts not limited, as in
                               mlhep-run): workflows' remote inputs are checked by name */
    char schema_dir[4096];
} pipeline_env;

/* Loads the workflow schema (schemas_dir: configured directory or NULL/"" for
 * jschema_find_dir's search) and splits data_roots (colon-separated, may be NULL/"").
 * *out is freed with pipeline_env_free. */
int pipeline_env_open(const char *schemas_dir, const char *data_roots, int check_local,
                      int test_hooks, pipeline_env **out, mlhep_err *e);
void pipeline_env_free(pipeline_env *env);

/* Limits remote inputs to the hosts of a data_hosts list (root/hostpolicy.h); the
 * policy is kept in env->hosts (a program that reads inputs itself also installs it
 * with source_set_access). */
int pipeline_env_hosts(pipeline_env *env, const char *data_hosts, mlhep_err *e);

/* Adds one data root (copied). */
int pipeline_env_add_root(pipeline_env *env, const char *dir, mlhep_err *e);

/* 1 if the workflow is the built-in sleep job. */
int pipeline_is_sleep(const json_t *wf);

/* The workflow's name if it follows the workflow schema's name rule (#/properties/name:
 * what records, logs and listings may show), else "" (and e says why, e may be NULL).
 * The returned pointer lives as long as wf. */
const char *pipeline_job_name(const json_t *wf, const pipeline_env *env, mlhep_err *e);

/* Checks that the workflow describes a job this pipeline can run, before any data is
 * read: the one validation mlhep-submit, the gateway and the worker (and mlhep-run)
 * share. Training workflows are loaded with workflow.h (schema, semantics - the model
 * checked without data and against the labels, unknown keys refused with a "did you
 * mean" - paths per env->check_local) and, if out is not NULL, returned in *out (caller
 * frees with workflow_free); for the sleep job *out is NULL. Where the inputs can be
 * opened (check_local: the worker, mlhep-run) pipeline_check_inputs runs too; a
 * submitter or gateway that may not see the files leaves that to the worker, which
 * refuses the job before it reads any event. Error codes as workflow.h (MLHEP_EAUTH: a
 * path outside the data roots; MLHEP_ENOTFOUND: a branch name that matches nothing). */
int pipeline_validate(const json_t *wf, const pipeline_env *env, workflow **out, mlhep_err *e);
/* The same for a job that reads with its own access (a delegated credential,
 * srcaccess.h; NULL: the process's): the input checks and, in *out's data.access, the
 * run itself read with acc, which must outlive *out. */
int pipeline_validate_with(const json_t *wf, const pipeline_env *env, const srcaccess *acc, workflow **out,
                           mlhep_err *e);
/* The same for one part of a job (a fan-out sub-task: the job's workflow with a slice of
 * its files): the checks of the whole file set (every class has a file, the classes match
 * the model) belong to the job and are skipped (wf_opts.part). */
int pipeline_validate_part(const json_t *wf, const pipeline_env *env, workflow **out, mlhep_err *e);

/* What needs the first input's tree (its metadata only, no entries): the
 * pre-processing and the weight expression compile against its branches, every
 * selected_branches / exclude_branches entry matches a branch ("did you mean"
 * otherwise), identifiers and the label branch exist (specs_preproc, specs_plan). */
int pipeline_check_inputs(const workflow *w, mlhep_err *e);

/* The input checks where the files may not be visible (mlhep-submit, a gateway: check_local
 * 0): when every input is a local file this machine sees under the same data roots (one
 * host, or a shared file system: the worker's view), the workflow is loaded again with the
 * full path checks and pipeline_check_inputs runs, so a branch name that matches nothing or
 * an expression that does not compile is refused before the job is queued. Remote inputs,
 * files not found here or unreadable here: returns 0 and leaves the check to the worker
 * (which refuses the job before reading any event). Only refusals the worker would make on
 * the same file are returned (MLHEP_ENOTFOUND, MLHEP_EINVAL); a sleep job returns 0. */
int pipeline_check_inputs_if_visible(const json_t *wf, const pipeline_env *env, mlhep_err *e);

typedef struct pipeline_progress {
    const char *phase;     /* "prepare", "specs", "training", "export", "train" (sleep) */
    double fraction;       /* 0..1 of the whole job */
    const char *message;   /* one short line */
    int64_t events;        /* events processed in this phase, -1 if not applicable */
    int epoch, epochs;     /* 0 when not training */
    double loss, val_loss, val_auc; /* NAN when unknown */
    int epoch_end;         /* 1: the message sums up an epoch or is a warning (a line to
                              keep on screen), 0: progress within a step */
} pipeline_progress;

struct preproc;
struct specs;

typedef struct pipeline_callbacks {
    /* Called once per step. Return 0 to go on, nonzero to stop: pipeline_run then
     * returns PIPELINE_STOPPED promptly. May be NULL. */
    int (*step)(void *ctx, const pipeline_progress *p);
    /* A line for the job's log. May be NULL. */
    void (*log)(void *ctx, const char *line);
    void *ctx;
    /* Optional: the specs pass of a training job done elsewhere (train_opts.specs_fn,
     * same contract, PIPELINE_STOPPED for a stop). May be NULL. */
    int (*specs)(void *ctx, const workflow *wf, const struct preproc *pp, struct specs **out,
                 mlhep_err *e);
    /* A training job: TRAIN_RESUME_* (train.h): continue from the checkpoint a stopped
     * run of this job left in artifact_dir (checkpoint.h) - required (mlhep-run
     * --resume) or when there is one (a redelivered service job). 0: start over. */
    int resume;
    /* JSON text kept in a training's checkpoint (checkpoint.h "note"); NULL: {"job": ID}. */
    const char *ckpt_note;
} pipeline_callbacks;

/* Runs job j, writing its artifacts into artifact_dir (an existing, empty directory the
 * caller owns). The caller has validated j->workflow with pipeline_validate (with the
 * same env) and passes what it returned: wf, the loaded training workflow, or NULL for
 * the sleep job; nothing is parsed or validated again, so a job's workflow is loaded
 * exactly once. Returns 0, PIPELINE_STOPPED, or a negative error with e filled. */
int pipeline_run(const job *j, const workflow *wf, const pipeline_env *env,
                 const pipeline_callbacks *cb, const char *artifact_dir, mlhep_err *e);

#endif

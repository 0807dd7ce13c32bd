/* pipeline.h - runs one job's work: the single entry point the worker calls.
 *
 * For now it knows one built-in job kind, the trivial "sleep" model used to exercise
 * the service plumbing:
 *   {"name": "...", "model": {"type": "sleep", "seconds": S, "fail": false, "crash": false}}
 * It sleeps S seconds (0 <= S <= 3600) in steps, reporting progress at each step,
 * then writes model.json and metrics.json into the artifact directory. "fail": true
 * makes it fail half way with an error; "crash": true kills the worker process half way
 * (SIGKILL) but only when test hooks are enabled (config test_hooks=1), else the job
 * is refused. The real pipeline (specs -> chunks -> training -> export) plugs in here
 * as another model type; callers do not change. */
#ifndef MLHEP_PIPELINE_H
#define MLHEP_PIPELINE_H

#include <jansson.h>

#include "err.h"
#include "job.h"

/* Returned by pipeline_run when a callback asked it to stop (not an error). */
#define PIPELINE_STOPPED 1

typedef struct pipeline_callbacks {
    /* Called once per step with the phase name ("prepare", "train", "export"), the
     * overall fraction done in [0,1] and a short message. Return 0 to go on, nonzero
     * to stop: pipeline_run then returns PIPELINE_STOPPED promptly. May be NULL. */
    int (*step)(void *ctx, const char *phase, double fraction, const char *message);
    /* A line for the job's log. May be NULL. */
    void (*log)(void *ctx, const char *line);
    void *ctx;
    int test_hooks; /* 1: honour "crash": true */
} pipeline_callbacks;

/* Checks that the workflow describes a job this pipeline can run (model kind and its
 * parameters). Same rules in the submitter and the worker. */
int pipeline_check(const json_t *workflow, int test_hooks, mlhep_err *e);

/* Runs the job, writing its artifacts into artifact_dir (an existing, empty directory
 * the caller owns). Returns 0, PIPELINE_STOPPED, or a negative error with e filled. */
int pipeline_run(const job *j, const pipeline_callbacks *cb, const char *artifact_dir,
                 mlhep_err *e);

#endif

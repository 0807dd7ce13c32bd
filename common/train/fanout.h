/* fanout.h - the fanned-out specs pass: a training job over many files has its specs pass
 * (specs.h) split into sub-tasks that go through the broker to idle workers, while the
 * worker that took the job (the coordinator) waits, helps, and folds the results; training
 * then proceeds on the coordinator alone.
 *
 * Sub-task lifecycle:
 *  1. Plan. The coordinator (the worker running job J under lease L, in its job thread;
 *     the job has at least fanout_min_files files) makes one sub-task per input file; a
 *     local file over fanout_split_mb MiB is split into runs of whole accumulation units
 *     (SPECS_UNIT_ENTRIES entries) of about that size. It publishes them all in one batch
 *     with publisher confirms to the durable quorum queue jobs.specs (default exchange).
 *     If the broker cannot take them, the coordinator computes the specs itself.
 *     Message (JSON, version 1; only workers may publish to jobs.specs, so no token):
 *       {"v":1, "kind":"specs", "id":"<job id>", "user":"<user>", "lease":L,
 *        "task":n, "ntasks":N, "file":i, "unit0":u, "nunits":k (-1: to the end),
 *        "workflow":{...the job's workflow...}}
 *  2. Take. Idle workers consume jobs.specs (prefetch 1; a worker running a job does not);
 *     the coordinator takes sub-tasks itself with basic.get while it waits, so a single
 *     worker still finishes and nothing deadlocks. The taker checks that J is still
 *     `running` under lease L (else the sub-task is stale: acked and dropped), loads the
 *     workflow with its own data roots (same path confinement as a job), computes the part
 *     and writes it to Redis (jobstore.h: hash mlhep:u:<user>:specs:<J>:<L>, field n), then
 *     acks. A sub-task run twice (redelivered, duplicated) writes the same value again.
 *  3. Fail. A sub-task that fails (corrupt or missing file) records "file F: reason" as
 *     the hash's "error" (first one wins) and is acked: the coordinator fails the job with
 *     that reason. A worker that dies mid-sub-task leaves it unacked: the broker redelivers
 *     it to another worker; after the queue's x-delivery-limit it is dead-lettered to
 *     jobs.dead, whose handler records "sub-task ... kills or hangs its workers" as the
 *     error (fanout_task_dead).
 *  4. Wait and fold. The coordinator polls the hash (count and error), writes "specs
 *     k/N files" into the job record through its step callback (which also reports cancel
 *     and lost lease: it then returns stopped; the remaining sub-tasks turn stale), and
 *     runs queued sub-tasks itself. With all N parts it folds them in (file, unit) order
 *     (specs_folder: bit-identical to one process's specs_compute), deletes the hash, and
 *     returns the specs; train.c saves specs.json and trains.
 *
 * Ownership: nothing here keeps state between calls; *out specs are freed by the caller. */
#ifndef MLHEP_FANOUT_H
#define MLHEP_FANOUT_H

#include <stddef.h>

#include "service/config.h"
#include "base/err.h"
#include "service/jobstore.h"
#include "train/pipeline.h"
#include "data/preproc.h"
#include "data/specs.h"
#include "service/workflow.h"

#define FANOUT_QUEUE "jobs.specs"

/* What a worker brings: its configuration, validation context and a Redis connection
 * the calling thread owns. */
typedef struct fanout_env {
    const mlhep_config *cfg;
    const pipeline_env *penv;
    jobstore *js;
} fanout_env;

/* The job being coordinated. step: progress (done of total sub-tasks, a message);
 * nonzero return = stop (cancel, lost lease, shutdown). log: a line for the job's log. */
typedef struct fanout_job {
    const char *id, *user;
    long long lease;
    const json_t *workflow; /* the job's workflow document */
    int (*step)(void *ctx, long long done, long long total, const char *msg);
    void (*log)(void *ctx, const char *line);
    void *ctx;
} fanout_job;

/* 1 if the job should fan out (a training workflow with >= fanout_min_files files). */
int fanout_wanted(const mlhep_config *cfg, const workflow *wf);

/* The coordinator (steps 1 and 4). Returns 0 with *out, PIPELINE_STOPPED, or a negative
 * error (a failed sub-task's reason, store errors). */
int fanout_specs(const fanout_env *fe, const fanout_job *fj, const workflow *wf, const preproc *pp,
                 specs **out, mlhep_err *e);

/* Runs one sub-task message (step 2/3). Returns 0 when the delivery may be acked (part
 * stored, failure recorded, stale, or undecodable: info says which), or MLHEP_ENET when
 * Redis could not be written (requeue it). info: one line for the worker's log. */
int fanout_task_run(const fanout_env *fe, const void *body, size_t len, char *info, size_t infosz);

/* A dead-lettered message: if it is a sub-task, records its failure with the broker's
 * reason and returns 1; 0 if it is not a sub-task; MLHEP_ENET if Redis is away. */
int fanout_task_dead(jobstore *js, const void *body, size_t len, const char *reason, mlhep_err *e);

#endif

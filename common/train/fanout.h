/* fanout.h - the fanned-out specs pass: a training job over many files has its specs pass
 * (specs.h) split into sub-tasks that go through the broker to idle workers, while the
 * worker that took the job (the coordinator) waits, helps, and folds the results; training
 * then proceeds on the coordinator alone.
 *
 * Sub-task lifecycle:
 *  1. Plan. The coordinator (the worker running job J under lease L, in its job thread;
 *     the job has at least fanout_min_files files) cuts the input into sub-tasks: runs of
 *     consecutive whole files - one file each up to FANOUT_MAX_TASKS files, else
 *     ceil(files / FANOUT_MAX_TASKS) each, so a job never has much more than
 *     FANOUT_MAX_TASKS sub-tasks - and a local file over fanout_split_mb MiB gets
 *     sub-tasks of its own, each a run of whole accumulation units (SPECS_UNIT_ENTRIES
 *     entries) of about that size. It stores the workflow the sub-tasks share once in
 *     Redis (jobstore_specs_doc_put: the job's workflow with only its first file, which
 *     every specs plan reads), then publishes the sub-tasks with publisher confirms to
 *     the durable quorum queue jobs.specs (default exchange), FANOUT_PUBLISH_BATCH at a
 *     time: a sub-task message carries a reference (job, lease) and its slice of files,
 *     never the whole file list, so its size does not grow with the job (at most
 *     FANOUT_TASK_MAX bytes) and the coordinator's memory stays bounded. If the broker
 *     or Redis cannot take them, the coordinator computes the specs itself.
 *     Message (JSON, version 2), signed with the service key (msgsig.h, kind specs; the
 *     taker checks the signature before anything else):
 *       {"v":2, "kind":"specs", "id":"<job id>", "user":"<user>", "lease":L,
 *        "task":n, "ntasks":N, "file":i, "unit0":u, "nunits":k (-1: to the end),
 *        "files":[...], "labels":[...]}
 *     "file" is the index of the slice's first file in the job, "files" the slice's
 *     entries exactly as the workflow writes them, "labels" their labels when the
 *     workflow gives labels as a parallel list (absent otherwise); unit0/nunits cut a
 *     single split file (a slice of several files is read whole: unit0 0, nunits -1).
 *  2. Take. Idle workers consume jobs.specs (prefetch 1; a worker running a job does not);
 *     the coordinator takes sub-tasks itself with basic.get while it waits, so a single
 *     worker still finishes and nothing deadlocks. The taker checks the signature, then
 *     that J is still `running` under lease L (else the sub-task is stale: acked and
 *     dropped), reads the shared workflow, appends its slice, loads that workflow with
 *     its own data roots (same path confinement as a job), computes one part per file
 *     of the slice and writes them to Redis (jobstore.h: hash
 *     mlhep:u:<user>:specs:<J>:<L>, field n = a JSON array of the parts), then acks. A
 *     sub-task run twice (redelivered, duplicated, replayed) writes the same value.
 *  3. Fail. A sub-task that fails (corrupt or missing file) records "file F: reason" as
 *     the hash's "error" (first one wins) and is acked: the coordinator fails the job with
 *     that reason. A worker that dies mid-sub-task leaves it unacked: the broker redelivers
 *     it to another worker; after the queue's x-delivery-limit it is dead-lettered to
 *     jobs.dead, whose handler (after checking the signature) records "sub-task ... kills
 *     or hangs its workers" as the error (fanout_task_dead).
 *  4. Wait and fold. The coordinator polls the hash (count and error), writes "specs
 *     k/N files" into the job record through its step callback (which also reports cancel
 *     and lost lease: it then returns stopped; the remaining sub-tasks turn stale), and
 *     runs queued sub-tasks itself. With all N results it folds them in (file, unit) order
 *     (specs_folder: bit-identical to one process's specs_compute), reading
 *     JOBSTORE_PARTS_BATCH results at a time, deletes the hash and the shared workflow,
 *     and returns the specs; train.c saves specs.json and trains.
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
#define FANOUT_MAX_TASKS 1024      /* sub-tasks of whole files per job, about (step 1) */
#define FANOUT_PUBLISH_BATCH 256   /* sub-task messages built and confirmed at a time */
#define FANOUT_TASK_MAX (256u << 10) /* largest sub-task message, bytes (encode and decode) */

/* What a worker brings: its configuration, validation context, a Redis connection the
 * calling thread owns, and the service key (msgsig.h) that signs and checks sub-tasks. */
typedef struct fanout_env {
    const mlhep_config *cfg;
    const pipeline_env *penv;
    jobstore *js;
    const char *key;
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

/* Runs one sub-task message (step 2/3); sig: its MSGSIG_HEADER header. Returns 0 when
 * the delivery may be acked (part stored, failure recorded, stale, unsigned or
 * undecodable: info says which; an unsigned message touches nothing), or MLHEP_ENET
 * when Redis could not be read or written (requeue it). info: one line for the
 * worker's log. */
int fanout_task_run(const fanout_env *fe, const void *body, size_t len, const char *sig, char *info,
                    size_t infosz);

/* A dead-lettered message whose signature the caller has checked (kind specs): if it
 * is a sub-task, records its failure with the broker's reason and returns 1; 0 if it
 * is not a sub-task; MLHEP_ENET if Redis is away. */
int fanout_task_dead(jobstore *js, const void *body, size_t len, const char *reason, mlhep_err *e);

#endif

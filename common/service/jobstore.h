/* jobstore.h - job status in Redis (hiredis 0.14): the record users poll and the
 * lease that fences workers.
 *
 * Key layout (everything of a user under one prefix, so a Redis ACL can confine a
 * user's read-only account to exactly their own jobs):
 *   mlhep:u:<user>:job:<id>   hash: id user name state phase progress message attempts
 *                             worker lease submitted started finished updated heartbeat
 *                             error artifacts cancel_requested deliveries registered
 *                             handbacks (training jobs also: events epoch epochs loss
 *                             val_loss val_auc)
 *                             `registered` is the worker's clock when the record was
 *                             created (trusted, unlike `submitted` from the message);
 *                             `handbacks` counts attempts a worker gave back on shutdown
 *   mlhep:u:<user>:jobs       sorted set of the user's job ids, score = submit time
 *   mlhep:u:<user>:log:<id>   list: the job's log lines (capped)
 *   mlhep:u:<user>:hb:<id>    string worker:lease with a TTL = lease_ttl (liveness)
 *   mlhep:w:<worker>          string with TTL: the worker process is alive
 * Workers have read-write access to mlhep:*; each CLI user has a read-only account on
 * mlhep:u:<user>:* (deploy/local/up.sh writes the ACL file). The CLI never writes:
 * the record is created by a worker from the broker message (jobstore_register), and
 * cancel goes through the broker as a control message.
 *
 * Every state change is one Lua script, so it is atomic and checked against the
 * lifecycle in job.h (the Lua transition table is generated from job_transition_ok).
 * Fencing: each time a worker takes a delivery the job's `lease` counter is
 * incremented and returned; every later write by that worker (heartbeat, progress,
 * log, finish) carries it and is refused once another worker holds a newer lease, so a
 * stale worker (crashed-and-redelivered, cut off, paused) can neither overwrite a
 * finished job nor publish its artifacts.
 *
 * Store unavailable: every function returns JOBSTORE_UNAVAILABLE when Redis cannot
 * record or answer now - connection refused or lost, or a transient state (LOADING after
 * a restart, BUSY, MASTERDOWN, TRYAGAIN, READONLY, CLUSTERDOWN, NOREPLICAS, OOM, MISCONF).
 * Nothing may then be taken as recorded: a caller holding a broker message keeps it
 * (unacked, or requeued where the queue has no delivery limit) and retries once the store
 * answers again; it never acks on a guess. Other negative codes are lasting errors.
 *
 * Retention (record_ttl_days, log_ttl_days): the script that moves a job into a terminal
 * state gives its hash and its log an EXPIRE; a log line written later gives a log with
 * no TTL one. The user's index keeps an expired job's id until a writer prunes it:
 * registering a job of that user looks at the next 16 ids older than the TTL (a cursor,
 * mlhep:u:<user>:jobs:prune, walks the index) and removes those whose record is gone;
 * jobstore_list never returns an id whose record is gone. */
#ifndef MLHEP_JOBSTORE_H
#define MLHEP_JOBSTORE_H

#include <jansson.h>
#include <stddef.h>

#include "service/config.h"
#include "base/err.h"
#include "service/job.h"

typedef struct jobstore jobstore;

/* The store cannot record or answer now (see above); the same value as MLHEP_ENET. */
#define JOBSTORE_UNAVAILABLE MLHEP_ENET

enum {
    JS_OK = 0,        /* beat/progress/finish done; lease still ours */
    JS_LOST = 1,      /* a newer lease exists or the job left `running`: stop, write nothing */
    JS_CANCEL = 2,    /* beat: the owner asked to cancel; stop at this step */
    JS_TAKEN = 3,     /* take: the lease is ours */
    JS_SKIP = 4,      /* take: the job is already terminal (state in result) */
    JS_CANCELLED = 5, /* take: it was cancelled while queued; now recorded cancelled
                         (cancel: queued job cancelled; handback: cancel was requested,
                         recorded cancelled instead of queued) */
    JS_EXHAUSTED = 6, /* take: attempts reached max_deliveries; now recorded failed */
    JS_REFUSED = 7,   /* finish/cancel/handback: transition not allowed from the current state */
    JS_MISSING = 8,   /* no such job for this user */
    JS_REQUESTED = 9, /* cancel: running job asked to stop */
};

typedef struct jobstore_take {
    int outcome;       /* JS_TAKEN, JS_SKIP, JS_CANCELLED, JS_EXHAUSTED */
    long long lease;   /* JS_TAKEN: our fencing token */
    int attempts;      /* attempts so far including this one */
    char state[16];    /* state found before the take */
} jobstore_take;

/* Connects and authenticates with cfg's redis_* settings. */
int jobstore_connect(jobstore **out, const mlhep_config *cfg, mlhep_err *e);
void jobstore_close(jobstore *js);

/* Creates the `queued` record and index entry if the job has none (idempotent).
 * Returns 0 (created or already present). name: the job's name as the record shows it,
 * checked by the caller against the workflow schema's name rule (pipeline_job_name;
 * "" when the workflow's name breaks it): records never hold what the rule refuses. */
int jobstore_register(jobstore *js, const job *j, const char *name, mlhep_err *e);

/* Takes the job for this delivery (see enum). Creates the record if the registration
 * has not arrived yet (name as for jobstore_register). Exhausted: attempts minus
 * handbacks reached max_attempts. */
int jobstore_take_lease(jobstore *js, const job *j, const char *name, const char *worker, double lease_ttl,
                        int max_attempts, int deliveries, jobstore_take *out, mlhep_err *e);

/* Heartbeat plus optional progress (phase NULL: heartbeat only). Returns JS_OK,
 * JS_LOST or JS_CANCEL, or a negative error. */
int jobstore_beat(jobstore *js, const char *user, const char *id, long long lease,
                  double lease_ttl, const char *phase, double progress, const char *message,
                  mlhep_err *e);

/* Same, also setting training progress fields: kv holds nkv strings, alternately a
 * field name (one of events epoch epochs loss val_loss val_auc) and its value; at most
 * JOBSTORE_MAX_FIELDS pairs; needs phase. */
#define JOBSTORE_MAX_FIELDS 8
int jobstore_beat_fields(jobstore *js, const char *user, const char *id, long long lease,
                         double lease_ttl, const char *phase, double progress,
                         const char *message, const char *const *kv, size_t nkv, mlhep_err *e);

/* Appends a log line if lease matches (lease < 0: unconditional). */
int jobstore_log(jobstore *js, const char *user, const char *id, long long lease, const char *line,
                 mlhep_err *e);

/* Moves the job to state `to` if lease matches (lease < 0: any lease, for the
 * dead-letter handler) and the lifecycle allows it. error/artifacts may be NULL.
 * Returns JS_OK, JS_LOST, JS_REFUSED, JS_MISSING or a negative error. */
int jobstore_finish(jobstore *js, const char *user, const char *id, long long lease, job_state to,
                    const char *error, const char *artifacts, const char *message, mlhep_err *e);

/* Owner's cancel: queued -> cancelled now (JS_CANCELLED), running -> flag the worker
 * (JS_REQUESTED), terminal -> JS_REFUSED, no record -> JS_MISSING. */
int jobstore_cancel(jobstore *js, const char *user, const char *id, mlhep_err *e);

/* The worker holding lease gives the job back on shutdown: running -> queued in one step
 * (worker cleared, progress 0, message set, `handbacks` + 1, so that the attempt does not
 * count against max_deliveries when the job is taken again). Returns JS_OK, JS_LOST (not
 * running under this lease), JS_CANCELLED (its owner had asked to cancel it: recorded
 * cancelled, nothing to hand back) or a negative error. */
int jobstore_handback(jobstore *js, const char *user, const char *id, long long lease,
                      const char *message, mlhep_err *e);

/* ---- results of a fanned-out specs pass (fanout.h) -------------------------------------
 *   mlhep:u:<user>:specs:<id>:<lease>   hash: sub-task number -> its result (JSON), and
 *                                       the field "error" -> the first failure's reason
 *   mlhep:u:<user>:specs:<id>:<lease>:wf  string: the workflow the sub-tasks share (the
 *                                       job's, with only its first file): sub-task
 *                                       messages carry their slice of files and refer
 *                                       to this instead of repeating the file list
 * Both with a TTL of 1 day. Keyed by the coordinator's lease, so sub-tasks of an older
 * attempt write where nobody reads. Writing a part twice stores the same value
 * (idempotent). */
int jobstore_part_put(jobstore *js, const char *user, const char *id, long long lease,
                      const char *field, const char *value, mlhep_err *e);
/* Records a failure; only the first one is kept (HSETNX). */
int jobstore_part_fail(jobstore *js, const char *user, const char *id, long long lease,
                       const char *reason, mlhep_err *e);
/* Number of parts stored (not counting "error") and the error, if any, into why
 * (empty string when none). */
int jobstore_parts_status(jobstore *js, const char *user, const char *id, long long lease,
                          long long *nparts, char *why, size_t whysz, mlhep_err *e);
/* Results first .. first + n - 1 (1 <= n <= JOBSTORE_PARTS_BATCH: the coordinator folds
 * batch by batch, never holding every result): *out is a new JSON array of n entries,
 * each the stored string or null when missing. */
#define JOBSTORE_PARTS_BATCH 64
int jobstore_parts_get(jobstore *js, const char *user, const char *id, long long lease, size_t first,
                       size_t n, json_t **out, mlhep_err *e);
/* The sub-tasks' shared workflow document: put (TTL as the results), get (*doc malloc'ed;
 * JS_MISSING when there is none: the pass is over or was never planned). */
int jobstore_specs_doc_put(jobstore *js, const char *user, const char *id, long long lease, const char *doc,
                           mlhep_err *e);
int jobstore_specs_doc_get(jobstore *js, const char *user, const char *id, long long lease, char **doc,
                           mlhep_err *e);
/* Deletes the results and the shared workflow. */
int jobstore_parts_drop(jobstore *js, const char *user, const char *id, long long lease,
                        mlhep_err *e);
/* 1 if the job is `running` under exactly this lease, 0 if not (finished, cancelled,
 * taken again, missing), negative on error. */
int jobstore_lease_current(jobstore *js, const char *user, const char *id, long long lease,
                           mlhep_err *e);

/* Marks the worker process alive for ttl seconds. */
int jobstore_worker_alive(jobstore *js, const char *worker, double ttl, mlhep_err *e);

/* Read side (works with the read-only account). *out is a new JSON object of the hash
 * fields (strings), plus "heartbeat_ttl_ms" (integer, -2 when no live heartbeat).
 * Returns JS_MISSING (and *out NULL) if the user has no such job. */
int jobstore_get(jobstore *js, const char *user, const char *id, json_t **out, mlhep_err *e);

/* The user's job ids, newest first (at most limit; <= 0: all), without ids whose record
 * has expired. *out: new JSON array of strings. */
int jobstore_list(jobstore *js, const char *user, int limit, json_t **out, mlhep_err *e);

/* The job's log lines. *out: new JSON array of strings. */
int jobstore_logs(jobstore *js, const char *user, const char *id, json_t **out, mlhep_err *e);

/* ---- idempotency keys of submissions (the gateway's Idempotency-Key header) ----
 * A submission with a key first claims it: JS_TAKEN means the key was new and now
 * names job `id` ("pending"); JS_SKIP means an earlier request claimed it: found is
 * that request's job id and *published says whether its job reached the broker
 * (jobstore_idem_done) or is still pending since *claimed_at (unix seconds; the
 * earlier request is in flight, or its gateway died before publishing). The key lives
 * ttl_s seconds (default 1 day). jobstore_idem_retake re-claims a stale pending key
 * for the same id (its job is published again: duplicates of one id are harmless, a
 * worker runs an id once); jobstore_idem_release forgets a key whose job could not be
 * published, so that the client's retry starts afresh. */
int jobstore_idem_claim(jobstore *js, const char *user, const char *key, const char *id, int ttl_s,
                        char found[JOB_ID_HEX + 1], int *published, double *claimed_at, mlhep_err *e);
int jobstore_idem_done(jobstore *js, const char *user, const char *key, const char *id, mlhep_err *e);
int jobstore_idem_retake(jobstore *js, const char *user, const char *key, const char *id, mlhep_err *e);
int jobstore_idem_release(jobstore *js, const char *user, const char *key, mlhep_err *e);

/* The gateway's word that it queued job id (the broker confirmed it) before any worker
 * has registered it: mlhep:u:<user>:idem:queued:<id> = submitted time, for ttl_s seconds
 * (default 1 day), under the gateway's write rights (mlhep:u:*:idem:*). A status read
 * that finds no record but this mark answers `queued` instead of "no such job".
 * jobstore_queued_get: 0 with *submitted, JS_MISSING, or an error. */
int jobstore_queued_mark(jobstore *js, const char *user, const char *id, double submitted, int ttl_s,
                         mlhep_err *e);
int jobstore_queued_get(jobstore *js, const char *user, const char *id, double *submitted, mlhep_err *e);
/* Removes the mark (best effort): jobstore_register and jobstore_take_lease do, and the
 * gateway when the broker did not take the job. The gateway writes the mark before it
 * publishes, so a worker's registration always comes after it. */
void jobstore_queued_clear(jobstore *js, const char *user, const char *id);

/* Jobs in each state now (counts[JOB_NSTATES], indexed by job_state), over every user:
 * the state-changing scripts count, in the hash JOBSTORE_STATS_KEY, how many jobs
 * entered and left each state. For /metrics. */
#define JOBSTORE_STATS_KEY "mlhep:stats:jobs"
int jobstore_state_counts(jobstore *js, long long counts[JOB_NSTATES], mlhep_err *e);

/* PING: 0 when Redis answers (readiness probes). */
int jobstore_ping(jobstore *js, mlhep_err *e);

/* Writes the Lua transition table generated from job_transition_ok (the prefix of
 * every state-changing script) into out; JOBSTORE_LUA_PREFIX_MAX bytes are enough. */
#define JOBSTORE_LUA_PREFIX_MAX 2048
void jobstore_lua_transitions(char *out, size_t outsz);

#endif

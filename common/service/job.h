/* job.h - the job: identity, lifecycle states and the broker message that carries it.
 *
 * Lifecycle (the only states a job has; job_transition_ok is the single authority,
 * and jobstore generates its Redis-side Lua check from it):
 *
 *   queued    -> running     a worker took a delivery and holds the lease
 *   queued    -> cancelled   the owner cancelled before any worker started it
 *   queued    -> failed      dead-lettered or refused before running (bad token,
 *                            attempts exhausted)
 *   running   -> running     redelivery after a crash / lost lease: a new lease
 *                            (fencing token) replaces the old one, attempts + 1
 *   running   -> queued      the worker gave the job back (SIGTERM: requeued)
 *   running   -> succeeded   artifacts stored, then acked
 *   running   -> failed      the pipeline failed, or dead-lettered after N deliveries
 *   running   -> cancelled   the owner cancelled; the worker stopped at a progress step
 *   succeeded, failed, cancelled: terminal, nothing leaves them.
 *
 * Job ids are 128 bits from getrandom(), written as 32 lower-case hex digits. They are
 * unguessable, but access control does not rely on that (see jobstore.h).
 *
 * Broker message (JSON, UTF-8, one object), version 1:
 *   {"v":1, "id":"<32 hex>", "user":"<user>", "token":"<bearer token>",
 *    "submitted":<unix seconds, number>, "workflow":{...}}
 * Control message for cancel: {"v":1, "op":"cancel", "id", "user", "token"}.
 * Both are signed with the service key (msgsig.h, kinds job and cancel; the signature
 * travels in a header): the worker checks the signature before anything else, then
 * re-checks the token (it says who the job is for). */
#ifndef MLHEP_JOB_H
#define MLHEP_JOB_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

typedef enum job_state {
    JOB_QUEUED = 0,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_CANCELLED,
    JOB_NSTATES
} job_state;

#define JOB_ID_HEX 32     /* characters in a job id */
#define JOB_USER_MAX 64   /* characters in a user name */
/* Largest job message on the broker, bytes (the workflow, file list included, plus id,
 * user, token): refused when encoded - at submission, by the gateway (413) and
 * mlhep-submit (exit 5), naming this limit, before anything is queued - and when
 * decoded. 8 MiB holds the schema's 10,000 files with paths of ~700 characters (a
 * 10,000-file workflow of typical XRootD paths is ~2 MB); messages this large stay
 * cheap for the broker's quorum queues (two copies: jobs.train and jobs.registry).
 * Fan-out sub-tasks carry a reference and one file instead (FANOUT_TASK_MAX, fanout.h).
 * All of the service's size limits are listed in docs/service.md ("Limits"). */
#define JOB_MESSAGE_MAX (8u << 20)
/* Longest sealed storage credential in a job message (credbox.h's text form of a
 * CREDBOX_MAX credential: base64url of 12 + CREDBOX_MAX + 16 bytes, "cb1." prefix). */
#define JOB_CRED_MAX 21904u

typedef struct job {
    char id[JOB_ID_HEX + 1];
    char user[JOB_USER_MAX + 1];
    char *token;       /* owned; the raw bearer token */
    json_t *workflow;  /* owned reference */
    double submitted;  /* unix seconds */
    char *storage_cred; /* owned or NULL: the user's delegated storage credential sealed
                           for this job and user (credbox.h, never in clear); message field
                           "storage_cred" */
    char storage_kind[8]; /* its kind, credbox's: "token" (also when the message names
                             none) or "x509" (an X.509 proxy); message field
                             "storage_cred_kind" */
} job;

/* Name of a state ("queued"...); "?" for out-of-range values. */
const char *job_state_name(job_state s);

/* Parses a state name; returns 0 and sets *out, or MLHEP_EINVAL. */
int job_state_parse(const char *name, job_state *out);

/* 1 if from -> to is allowed by the lifecycle above, else 0. */
int job_transition_ok(job_state from, job_state to);

/* 1 for succeeded, failed, cancelled. */
int job_state_terminal(job_state s);

/* A fresh random id (getrandom) into out[JOB_ID_HEX + 1]. */
int job_new_id(char out[JOB_ID_HEX + 1], mlhep_err *e);

/* 1 if s is exactly 32 lower-case hex digits. */
int job_id_valid(const char *s);

/* 1 if s is a valid user name: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
 * User names become parts of Redis keys and directory names, so this is strict. */
int job_user_valid(const char *s);

/* Builds a job (new id, now as submitted time); takes a new reference to workflow. */
int job_init(job *j, const char *user, const char *token, json_t *workflow, mlhep_err *e);

/* Releases what the job owns (not the struct itself). */
void job_clear(job *j);

/* Encodes the broker message; *out is malloc'ed (caller frees), *len its length.
 * MLHEP_ENOMEM, naming the size and JOB_MESSAGE_MAX, when it would exceed the limit (a
 * worker would refuse it). */
int job_message_encode(const job *j, char **out, size_t *len, mlhep_err *e);

/* Decodes and checks a broker message (untrusted bytes). On success fills j
 * (caller calls job_clear). */
int job_message_decode(const void *data, size_t len, job *j, mlhep_err *e);

/* Control messages. op is "cancel". */
int job_control_encode(const char *op, const char *id, const char *user, const char *token,
                       char **out, size_t *len, mlhep_err *e);
/* Decodes a control message; op, id, user are copied into the given buffers and the
 * token is returned malloc'ed in *token (caller frees). */
int job_control_decode(const void *data, size_t len, char op[16], char id[JOB_ID_HEX + 1],
                       char user[JOB_USER_MAX + 1], char **token, mlhep_err *e);

/* Current wall-clock time in unix seconds. */
double job_now(void);

#endif

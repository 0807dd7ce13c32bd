/* mlhep_worker.c - the stateless job worker: takes jobs from RabbitMQ, runs them
 * through pipeline_run, keeps their status in Redis and stores their artifacts.
 *
 * One process = one job at a time (prefetch 1 on jobs.train, manual ack). Threads: the
 * main thread owns the broker connection and a Redis connection (consuming, heartbeats,
 * lease refresh, acks); a job thread runs the pipeline and writes progress and log
 * lines with its own Redis connection. The main thread also consumes three small
 * queues on a second channel: jobs.registry (records `queued` for every submitted job;
 * the CLI has no Redis write rights), jobs.control (cancel requests, token re-checked)
 * and jobs.dead (dead-lettered jobs are marked `failed` with the reason).
 *
 * Provenance first (msgsig.h): every message the worker acts on - a job, its registry
 * copy, a cancel, a dead-lettered job or sub-task, a sub-task - must carry the service's
 * signature, checked before any job record is read or written; a message without one
 * is acked, logged and changes nothing. The bearer token is checked after that (it says
 * who the job is for).
 *
 * Delivery contract (details in docs/service.md): at-least-once delivery; each take
 * bumps the job's lease (fencing token) in Redis; artifacts go to a private temp dir
 * and are published by one rename, only while the lease is ours and only if no set
 * exists yet; the delivery is acked after that. SIGTERM/SIGINT: the running job stops
 * at its next progress step, is put back to `queued` and nacked with requeue; the
 * worker then exits 0. A crash leaves the delivery unacked: the broker redelivers it,
 * and after x-delivery-limit returns dead-letters it.
 *
 * Fanned-out specs pass (fanout.h has the sub-task lifecycle): the job thread of a job with
 * at least fanout_min_files files becomes the coordinator through the pipeline's specs
 * hook. While the worker runs nothing, the main thread also consumes jobs.specs (third
 * channel, prefetch 1) and runs each sub-task on a sub-task thread (with the job thread's
 * Redis connection, idle then); a job delivery arriving meanwhile is held until the
 * sub-task is done. Starting a job cancels that consumer, so a busy worker never sits on
 * a sub-task (the coordinator takes sub-tasks itself while it waits). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/logline.h"
#include "service/amqp_client.h"
#include "service/artifacts.h"
#include "service/auth_glue.h"
#include "service/config.h"
#include "train/fanout.h"
#include "service/job.h"
#include "service/jobstore.h"
#include "root/source_open.h"
#include "service/msgsig.h"
#include "train/pipeline.h"

#define CH_JOBS 1
#define CH_AUX 2
#define CH_SPECS 3

enum { STOP_NONE = 0, STOP_CANCEL, STOP_LOST, STOP_SHUTDOWN };

static volatile sig_atomic_t g_signal; /* set by SIGTERM/SIGINT handler only */

static void on_signal(int s)
{
    g_signal = s;
}

typedef struct worker {
    const mlhep_config *cfg;
    auth_ctx *auth;       /* token verifier, loaded once */
    const char *key;      /* the service key (msgsig.h), in cfg */
    pipeline_env *env;    /* workflow schema + data roots, check_local = 1 */
    amqpc *mq;
    jobstore *js;     /* main thread */
    jobstore *js_job; /* job thread */
    int consuming_jobs;
    int consuming_specs;
    /* Redis unreachable: consumers are cancelled (nothing is taken, acked or dead-lettered
     * on a guess) and Redis is probed with backoff; a job delivery that arrived meanwhile
     * is held unacked (a requeue would count against the queue's delivery limit). */
    int store_down;
    double store_probe_at, store_backoff;
    amqpc_delivery held;
    int holding;
} worker;

typedef struct run {
    worker *w;
    job j;
    workflow *wf; /* j's workflow, loaded and validated once (NULL: the sleep job) */
    amqpc_delivery d;
    long long lease;
    int attempts;
    char tmpdir[4096];
    FILE *log;
    pthread_t th;
    atomic_int done;
    atomic_int stop;
    int rc;
    mlhep_err err;
    int wake[2]; /* pipe: the job thread writes one byte when it is done */
    double last_write;
    double last_frac;
    int last_epoch;
    char last_phase[32];
} run;

static void wlog(const worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(const worker *w, const char *fmt, ...)
{
    char who[96];
    snprintf(who, sizeof who, "mlhep-worker[%s]", w->cfg->worker_id);
    va_list ap;
    va_start(ap, fmt);
    logline_vprintf(stderr, who, fmt, ap);
    va_end(ap);
}

/* ---- job thread ------------------------------------------------------------------ */

static void job_logline(void *ctx, const char *line)
{
    run *r = ctx;
    if (r->log) {
        fprintf(r->log, "%s\n", line);
        fflush(r->log);
    }
    mlhep_err e;
    if (jobstore_log(r->w->js_job, r->j.user, r->j.id, r->lease, line, &e) < 0)
        wlog(r->w, "job %s: cannot write log line to Redis: %s", r->j.id, e.msg);
}

static int job_step(void *ctx, const pipeline_progress *p)
{
    run *r = ctx;
    if (atomic_load(&r->stop))
        return 1;
    double now = job_now(), frac = p->fraction;
    /* progress writes are throttled (but a new phase or epoch and every validation
     * report are always written); the main thread keeps the heartbeat */
    int report = p->val_auc == p->val_auc || p->val_loss == p->val_loss; /* epoch end */
    if (now - r->last_write < 0.1 && frac < 1 && frac - r->last_frac < 0.1 &&
        p->epoch == r->last_epoch && !report && strcmp(p->phase, r->last_phase) == 0)
        return 0;
    snprintf(r->last_phase, sizeof r->last_phase, "%s", p->phase);
    r->last_write = now;
    r->last_frac = frac;
    r->last_epoch = p->epoch;
    /* training fields for `mlhep-submit watch` (schemas/job-status.schema.json names) */
    char vals[6][32];
    const char *kv[12];
    size_t nkv = 0;
#define KV(name, fmt, val)                                   \
    do {                                                     \
        snprintf(vals[nkv / 2], sizeof vals[0], fmt, val);   \
        kv[nkv] = name;                                      \
        kv[nkv + 1] = vals[nkv / 2];                         \
        nkv += 2;                                            \
    } while (0)
    if (p->events > 0) /* validation steps report 0: keep the last count */
        KV("events", "%lld", (long long)p->events);
    if (p->epochs > 0) {
        KV("epoch", "%d", p->epoch);
        KV("epochs", "%d", p->epochs);
    }
    if (p->loss == p->loss)
        KV("loss", "%.6g", p->loss);
    if (p->val_loss == p->val_loss)
        KV("val_loss", "%.6g", p->val_loss);
    if (p->val_auc == p->val_auc)
        KV("val_auc", "%.6g", p->val_auc);
#undef KV
    mlhep_err e;
    int rc = jobstore_beat_fields(r->w->js_job, r->j.user, r->j.id, r->lease, r->w->cfg->lease_ttl,
                                  p->phase, frac, p->message, kv, nkv, &e);
    if (rc == JS_LOST) {
        int none = STOP_NONE;
        atomic_compare_exchange_strong(&r->stop, &none, STOP_LOST);
    } else if (rc == JS_CANCEL) {
        int none = STOP_NONE;
        atomic_compare_exchange_strong(&r->stop, &none, STOP_CANCEL);
    } else if (rc < 0) {
        wlog(r->w, "job %s: progress not recorded: %s", r->j.id, e.msg);
    }
    return atomic_load(&r->stop) != STOP_NONE;
}

/* fanout_job.step: the coordinator's progress ("specs k/N files") through job_step */
static int fan_step(void *ctx, long long done, long long total, const char *msg)
{
    pipeline_progress p = {"specs", total > 0 ? 0.1 * (double)done / (double)total : 0, msg, -1,
                           0, 0, NAN, NAN, NAN};
    return job_step(ctx, &p);
}

/* pipeline_callbacks.specs: fan the specs pass out when the job has enough files */
static int job_specs(void *ctx, const workflow *wf, const preproc *pp, specs **out, mlhep_err *e)
{
    run *r = ctx;
    *out = NULL;
    if (!fanout_wanted(r->w->cfg, wf))
        return 0;
    fanout_env fe = {r->w->cfg, r->w->env, r->w->js_job, r->w->key};
    fanout_job fj = {r->j.id, r->j.user, r->lease, r->j.workflow, fan_step, job_logline, r};
    return fanout_specs(&fe, &fj, wf, pp, out, e);
}

static void *job_thread(void *arg)
{
    run *r = arg;
    pipeline_callbacks cb = {job_step, job_logline, r, job_specs};
    err_clear(&r->err);
    r->rc = pipeline_run(&r->j, r->wf, r->w->env, &cb, r->tmpdir, &r->err);
    atomic_store(&r->done, 1);
    char one = 1;
    if (write(r->wake[1], &one, 1) < 0) { /* the main loop also polls `done` */
    }
    return NULL;
}

/* ---- sub-task thread ---------------------------------------------------------------- */

typedef struct subrun {
    worker *w;
    amqpc_delivery d;
    pthread_t th;
    atomic_int done;
    int rc;
    int wake[2];
    char info[1600];
} subrun;

static void *sub_thread(void *arg)
{
    subrun *s = arg;
    fanout_env fe = {s->w->cfg, s->w->env, s->w->js_job, s->w->key};
    s->rc = fanout_task_run(&fe, s->d.body, s->d.len, s->d.sig, s->info, sizeof s->info);
    atomic_store(&s->done, 1);
    char one = 1;
    if (write(s->wake[1], &one, 1) < 0) {
    }
    return NULL;
}

/* ---- broker plumbing --------------------------------------------------------------- */

static int consume_aux(worker *w, mlhep_err *e)
{
    int rc = amqpc_consume(w->mq, CH_AUX, "jobs.registry", "reg", 32, e);
    if (!rc)
        rc = amqpc_consume(w->mq, CH_AUX, "jobs.control", "ctl", 32, e);
    if (!rc)
        rc = amqpc_consume(w->mq, CH_AUX, "jobs.dead", "dead", 8, e);
    return rc;
}

static int setup_channels(worker *w, mlhep_err *e)
{
    w->consuming_jobs = 0;
    w->consuming_specs = 0;
    int rc = amqpc_channel_open(w->mq, CH_JOBS, e);
    if (!rc)
        rc = amqpc_channel_open(w->mq, CH_AUX, e);
    if (!rc)
        rc = amqpc_channel_open(w->mq, CH_SPECS, e);
    if (!rc && !w->store_down) /* else consume_aux once Redis is back */
        rc = consume_aux(w, e);
    return rc;
}

static int start_jobs_consumer(worker *w, mlhep_err *e)
{
    if (w->consuming_jobs)
        return 0;
    int rc = amqpc_consume(w->mq, CH_JOBS, "jobs.train", "job", 1, e);
    if (!rc)
        w->consuming_jobs = 1;
    return rc;
}

/* One reconnect attempt; on failure the next one is scheduled with backoff (0.1 s
 * doubling to 2 s). Never blocks for long: a running job keeps its heartbeat, and a
 * job that finishes while the broker is away is still stored and recorded. */
static void try_reconnect(worker *w, double *next_try, double *backoff)
{
    double now = job_now();
    if (now < *next_try)
        return;
    mlhep_err e;
    err_clear(&e);
    if (amqpc_reconnect(w->mq, &e) == 0 && setup_channels(w, &e) == 0) {
        wlog(w, "connected to broker %s:%d", w->cfg->amqp_host, w->cfg->amqp_port);
        *backoff = 0.1;
        return;
    }
    wlog(w, "broker unavailable (%s); retrying in %.1f s", e.msg, *backoff);
    *next_try = now + *backoff;
    *backoff = *backoff * 2 > 2 ? 2 : *backoff * 2;
}

/* Acks/nacks only if the delivery belongs to the current connection; a delivery of a
 * dropped connection is already back in the queue. */
static void settle(worker *w, amqpc_delivery *d, int how /* 0 ack, 1 requeue, 2 dead-letter */)
{
    mlhep_err e;
    if (d->generation != amqpc_generation(w->mq) || !amqpc_is_open(w->mq)) {
        wlog(w, "delivery %llu belongs to a lost connection: the broker redelivers it",
             (unsigned long long)d->tag);
        return;
    }
    int rc = how == 0   ? amqpc_ack(w->mq, d->channel, d->tag, &e)
             : how == 1 ? amqpc_nack(w->mq, d->channel, d->tag, 1, &e)
                        : amqpc_reject(w->mq, d->channel, d->tag, 0, &e);
    if (rc)
        wlog(w, "cannot settle delivery: %s", e.msg);
}

/* Redis unreachable: stop consuming until a probe succeeds (see worker.store_down). */
static void store_went_down(worker *w, const char *why)
{
    if (w->store_down)
        return;
    w->store_down = 1;
    w->store_backoff = 0.2;
    w->store_probe_at = job_now() + w->store_backoff;
    wlog(w, "status store unavailable (%s): pausing consumption until Redis answers", why);
    if (!amqpc_is_open(w->mq))
        return;
    mlhep_err e;
    amqpc_cancel(w->mq, CH_AUX, "reg", &e);
    amqpc_cancel(w->mq, CH_AUX, "ctl", &e);
    amqpc_cancel(w->mq, CH_AUX, "dead", &e);
    if (w->consuming_jobs && amqpc_cancel(w->mq, CH_JOBS, "job", &e) == 0)
        w->consuming_jobs = 0;
    if (w->consuming_specs && amqpc_cancel(w->mq, CH_SPECS, "spec", &e) == 0)
        w->consuming_specs = 0;
}

/* ---- auxiliary queues ------------------------------------------------------------ */

/* 1 when d carries the service's signature of kind want (NULL: any; the kind is copied
 * into kind), else one log line and 0: the caller acks the message and does nothing
 * else with it (no record is read or written for an unproven message). */
static int provenance(worker *w, const amqpc_delivery *d, const char *want, const char *where, char kind[16])
{
    mlhep_err e;
    if (msgsig_verify(w->key, want, d->sig, d->body, d->len, kind, &e) == 0)
        return 1;
    wlog(w, "%s: dropped a message that does not come from the service (%s; %zu bytes, message id '%.64s'): "
         "nothing recorded", where, e.msg, d->len, d->message_id);
    return 0;
}

/* The name a record may show: the workflow's if it follows the schema's name rule. */
static const char *record_name(worker *w, const job *j)
{
    mlhep_err e;
    const char *n = pipeline_job_name(j->workflow, w->env, &e);
    if (!*n)
        wlog(w, "job %s: its name is not recorded (%s)", j->id, e.msg);
    return n;
}

static void handle_registry(worker *w, amqpc_delivery *d)
{
    job j;
    mlhep_err e;
    if (!provenance(w, d, MSGSIG_JOB, "registry", NULL)) {
        settle(w, d, 0);
        return;
    }
    if (job_message_decode(d->body, d->len, &j, &e) == 0) {
        /* only a job whose token is valid now gets a record (and its registration time,
         * which the queue-expiry grace relies on): forged or stale messages leave no
         * trace in the owner's list */
        auth_result ar;
        int rc = 0;
        if (auth_check(w->auth, j.token, (int64_t)job_now(), AUTH_SCOPE_SUBMIT, &ar, &e) != 0)
            wlog(w, "registry: job %s not registered: %s", j.id, e.msg);
        else if (strcmp(ar.user, j.user) != 0)
            wlog(w, "registry: job %s not registered: token of '%s' used for user '%s'", j.id,
                 ar.user, j.user);
        else
            rc = jobstore_register(w->js, &j, record_name(w, &j), &e);
        job_clear(&j);
        if (rc == MLHEP_ENET) {
            settle(w, d, 1); /* jobs.registry has no delivery limit */
            store_went_down(w, e.msg);
            return;
        }
        if (rc < 0)
            wlog(w, "cannot register job: %s", e.msg);
    } else {
        wlog(w, "registry: dropping undecodable message: %s", e.msg);
    }
    settle(w, d, 0);
}

static void handle_control(worker *w, amqpc_delivery *d)
{
    char op[16], id[JOB_ID_HEX + 1], user[JOB_USER_MAX + 1], who[JOB_USER_MAX + 1];
    char *token = NULL;
    auth_result ar;
    mlhep_err e;
    if (!provenance(w, d, MSGSIG_CANCEL, "control", NULL)) {
        settle(w, d, 0);
        return;
    }
    if (job_control_decode(d->body, d->len, op, id, user, &token, &e)) {
        wlog(w, "control: dropping undecodable message: %s", e.msg);
    } else if (auth_check(w->auth, token, (int64_t)job_now(), AUTH_SCOPE_SUBMIT, &ar, &e)) {
        wlog(w, "control: cancel of job %s refused: %s", id, e.msg);
    } else if (strcpy(who, ar.user), strcmp(who, user) != 0) {
        wlog(w, "control: cancel of job %s refused: token of '%s' used for user '%s'", id, who, user);
    } else {
        /* keys live under the token's user: another user's job is simply not found */
        int rc = jobstore_cancel(w->js, who, id, &e);
        if (rc == MLHEP_ENET) {
            memset(token, 0, strlen(token));
            free(token);
            settle(w, d, 1);
            store_went_down(w, e.msg);
            return;
        }
        const char *what = rc == JS_CANCELLED   ? "cancelled (was queued)"
                           : rc == JS_REQUESTED ? "cancel requested (running)"
                           : rc == JS_MISSING   ? "no such job for this user"
                           : rc == JS_REFUSED   ? "already finished"
                                                : e.msg;
        wlog(w, "control: cancel job %s of %s: %s", id, who, what);
        if (rc == JS_CANCELLED || rc == JS_REQUESTED)
            jobstore_log(w->js, who, id, -1, "cancel requested by the owner", &e);
    }
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    settle(w, d, 0);
}

static void handle_dead(worker *w, amqpc_delivery *d)
{
    job j;
    mlhep_err e;
    char kind[16] = "";
    /* a dead-lettered message keeps its body and headers: the same signature as when it
     * was published, or none (a message published straight into jobs.dead, or one
     * forged with a short expiry to get itself dead-lettered) */
    if (!provenance(w, d, NULL, "dead-letter", kind) || !strcmp(kind, MSGSIG_CANCEL)) {
        if (!strcmp(kind, MSGSIG_CANCEL))
            wlog(w, "dead-letter: a cancel request expired unprocessed: dropped");
        settle(w, d, 0);
        return;
    }
    int sub = strcmp(kind, MSGSIG_SPECS) ? 0 : fanout_task_dead(w->js, d->body, d->len, d->death_reason, &e);
    if (sub == 1) {
        wlog(w, "dead-letter: a specs sub-task (reason %s): its job fails",
             d->death_reason[0] ? d->death_reason : "unknown");
        settle(w, d, 0);
        return;
    }
    if (sub < 0) {
        settle(w, d, 1);
        store_went_down(w, e.msg);
        return;
    }
    if (!strcmp(kind, MSGSIG_SPECS)) { /* signed, but not a sub-task we can read */
        wlog(w, "dead-letter: dropping an unreadable sub-task message");
        settle(w, d, 0);
        return;
    }
    if (job_message_decode(d->body, d->len, &j, &e)) {
        wlog(w, "dead-letter: dropping undecodable message: %s", e.msg);
        settle(w, d, 0);
        return;
    }
    json_t *rec = NULL;
    char last[160] = "";
    int attempts = 0;
    if (jobstore_get(w->js, j.user, j.id, &rec, &e) == 0 && rec) {
        const char *wk = json_string_value(json_object_get(rec, "worker"));
        const char *at = json_string_value(json_object_get(rec, "attempts"));
        if (wk && *wk)
            snprintf(last, sizeof last, "; last worker %s", wk);
        attempts = at ? atoi(at) : 0;
        json_decref(rec);
    }
    char reason[512];
    if (strcmp(d->death_reason, "delivery_limit") == 0)
        snprintf(reason, sizeof reason,
                 "dead-lettered by the broker: delivered more times than the queue's delivery "
                 "limit without finishing (%d attempts recorded%s); the job kills or hangs its "
                 "worker",
                 attempts, last);
    else
        snprintf(reason, sizeof reason, "dead-lettered by the broker (reason: %s, %d attempts%s)",
                 d->death_reason[0] ? d->death_reason : "unknown", attempts, last);
    int rc = jobstore_finish(w->js, j.user, j.id, -1, JOB_FAILED, reason, NULL, NULL, &e);
    if (rc == JS_OK) {
        jobstore_log(w->js, j.user, j.id, -1, reason, &e);
        wlog(w, "job %s: %s", j.id, reason);
    } else if (rc == MLHEP_ENET) {
        /* not recorded: keep the message (jobs.dead has no delivery limit) */
        job_clear(&j);
        settle(w, d, 1);
        store_went_down(w, e.msg);
        return;
    } else if (rc < 0) {
        wlog(w, "job %s: cannot record dead-lettering: %s", j.id, e.msg);
    }
    job_clear(&j);
    settle(w, d, 0);
}

/* ---- one job --------------------------------------------------------------------- */

/* Removes temp dirs of earlier attempts (.tmp-<id>-L<n>-*) with n < lease. */
static void remove_stale_tmpdirs(worker *w, const run *r)
{
    char udir[4096], prefix[64];
    snprintf(udir, sizeof udir, "%s/%s", w->cfg->artifact_dir, r->j.user);
    int np = snprintf(prefix, sizeof prefix, ".tmp-%s-L", r->j.id);
    DIR *d = opendir(udir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, (size_t)np) != 0)
            continue;
        long long n = atoll(de->d_name + np);
        if (n >= r->lease)
            continue;
        char path[4608];
        snprintf(path, sizeof path, "%s/%s", udir, de->d_name);
        mlhep_err e;
        if (artifacts_remove(path, &e) == 0)
            wlog(w, "job %s: removed temp dir of stale attempt (lease %lld)", r->j.id, n);
    }
    closedir(d);
}


/* Releases a run and what it holds (wake pipe, workflow, job, delivery). */
static void run_free(run *r)
{
    if (r->wake[0] >= 0) {
        close(r->wake[0]);
        close(r->wake[1]);
    }
    workflow_free(r->wf);
    job_clear(&r->j);
    amqpc_delivery_free(&r->d);
    free(r);
}

static void start_job(worker *w, amqpc_delivery *d, run **out)
{
    *out = NULL;
    run *r = calloc(1, sizeof *r);
    mlhep_err e;
    if (!r) {
        settle(w, d, 1);
        return;
    }
    r->w = w;
    r->wake[0] = r->wake[1] = -1;
    r->d = *d; /* take ownership of the delivery */
    memset(d, 0, sizeof *d);
    if (!provenance(w, &r->d, MSGSIG_JOB, "jobs.train", NULL)) {
        settle(w, &r->d, 0);
        goto drop;
    }
    if (job_message_decode(r->d.body, r->d.len, &r->j, &e)) {
        wlog(w, "rejecting undecodable job message (dead-lettered): %s", e.msg);
        settle(w, &r->d, 2);
        goto drop;
    }
    /* the token again (user machines are not trusted), with the queue-expiry grace:
     * the registration time comes from the record a worker created (auth_glue.h) */
    double registered = 0;
    json_t *rec = NULL;
    if (job_user_valid(r->j.user) && jobstore_get(w->js, r->j.user, r->j.id, &rec, &e) == 0) {
        const char *rs = json_string_value(json_object_get(rec, "registered"));
        registered = rs ? atof(rs) : 0;
        json_decref(rec);
    }
    auth_result ar;
    err_clear(&e);
    int arc = auth_check_job(w->auth, r->j.token, (int64_t)job_now(), registered, &ar, &e);
    if (arc || strcmp(ar.user, r->j.user) != 0) {
        char why[1200];
        snprintf(why, sizeof why, "token refused by the worker: %s",
                 arc ? e.msg : "token does not belong to the job's user");
        wlog(w, "job %s: %s", r->j.id, why);
        jobstore_finish(w->js, r->j.user, r->j.id, -1, JOB_FAILED, why, NULL, NULL, &e);
        jobstore_log(w->js, r->j.user, r->j.id, -1, why, &e);
        settle(w, &r->d, 0);
        goto drop;
    }
    if (ar.in_grace)
        wlog(w, "job %s: token expired %lld s ago but was valid when the job was registered: "
             "accepted (jwt_queue_grace %d s)", r->j.id, (long long)(job_now() - (double)ar.exp),
             w->cfg->jwt_queue_grace);
    jobstore_take tk;
    int deliveries = (int)r->d.delivery_count + 1;
    int trc = jobstore_take_lease(w->js, &r->j, record_name(w, &r->j), w->cfg->worker_id, w->cfg->lease_ttl,
                                  w->cfg->max_deliveries, deliveries, &tk, &e);
    if (trc == MLHEP_ENET && !w->holding) {
        /* Redis away: hold the delivery unacked and retry once Redis answers; a
         * requeue would count against the delivery limit and could dead-letter it */
        wlog(w, "job %s: cannot take lease (%s); holding the delivery until Redis is back",
             r->j.id, e.msg);
        w->held = r->d;
        w->holding = 1;
        memset(&r->d, 0, sizeof r->d);
        store_went_down(w, e.msg);
        goto drop;
    }
    if (trc) {
        wlog(w, "job %s: cannot take lease (%s); requeueing", r->j.id, e.msg);
        settle(w, &r->d, 1);
        goto drop;
    }
    if (tk.outcome != JS_TAKEN) {
        wlog(w, "job %s: not run: %s (state was %s)", r->j.id,
             tk.outcome == JS_SKIP ? "already finished (duplicate delivery)"
             : tk.outcome == JS_CANCELLED ? "cancelled while queued"
                                          : "attempts exhausted, marked failed",
             tk.state);
        settle(w, &r->d, 0);
        goto drop;
    }
    r->lease = tk.lease;
    r->attempts = tk.attempts;
    wlog(w, "job %s of %s: attempt %d, lease %lld, delivery %d%s", r->j.id, r->j.user, tk.attempts,
         tk.lease, deliveries, r->d.redelivered ? " (redelivered)" : "");
    char line[256];
    snprintf(line, sizeof line, "attempt %d on worker %s (lease %lld)", tk.attempts,
             w->cfg->worker_id, tk.lease);
    jobstore_log(w->js, r->j.user, r->j.id, r->lease, line, &e);
    if (pipeline_validate(r->j.workflow, w->env, &r->wf, &e)) {
        char why[1200];
        snprintf(why, sizeof why, "workflow refused by the worker: %s", e.msg);
        wlog(w, "job %s: %s", r->j.id, why);
        jobstore_log(w->js, r->j.user, r->j.id, r->lease, why, &e);
        jobstore_finish(w->js, r->j.user, r->j.id, r->lease, JOB_FAILED, why, NULL, NULL, &e);
        settle(w, &r->d, 0);
        goto drop;
    }
    if (artifacts_tmpdir(w->cfg->artifact_dir, r->j.user, r->j.id, r->lease, r->tmpdir,
                         sizeof r->tmpdir, &e)) {
        wlog(w, "job %s: %s; requeueing", r->j.id, e.msg);
        jobstore_finish(w->js, r->j.user, r->j.id, r->lease, JOB_QUEUED, NULL, NULL,
                        "requeued: artifact store unavailable", &e);
        settle(w, &r->d, 1);
        goto drop;
    }
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/job.log", r->tmpdir);
    r->log = fopen(logpath, "w");
    r->last_write = 0;
    r->last_frac = -1;
    /* the job thread must not take SIGTERM/SIGINT: block them while creating it (the
     * new thread inherits the mask), then restore ours */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int prc = pipe2(r->wake, O_CLOEXEC | O_NONBLOCK);
    if (prc == 0)
        prc = pthread_create(&r->th, NULL, job_thread, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        wlog(w, "job %s: cannot start job thread; requeueing", r->j.id);
        if (r->log)
            fclose(r->log);
        artifacts_remove(r->tmpdir, &e);
        jobstore_finish(w->js, r->j.user, r->j.id, r->lease, JOB_QUEUED, NULL, NULL, "requeued", &e);
        settle(w, &r->d, 1);
        goto drop;
    }
    *out = r;
    return;
drop:
    run_free(r);
}

static void finish_job(worker *w, run *r)
{
    pthread_join(r->th, NULL);
    if (r->log)
        fclose(r->log);
    r->log = NULL;
    mlhep_err e;
    int stop = atomic_load(&r->stop);
    const char *id = r->j.id, *user = r->j.user;
    int settle_how = 0;
    if (r->rc == 0 && stop == STOP_NONE) {
        /* complete: manifest, fence check, publish by rename */
        json_t *info = json_pack("{s:s, s:s, s:I, s:i, s:s, s:f}", "job", id, "user", user, "lease",
                                 (json_int_t)r->lease, "attempt", r->attempts, "worker",
                                 w->cfg->worker_id, "finished", job_now());
        int rc = artifacts_manifest(r->tmpdir, info, &e);
        json_decref(info);
        int beat = rc ? rc : jobstore_beat(w->js, user, id, r->lease, w->cfg->lease_ttl, "export", 0.99,
                                           "publishing artifacts", &e);
        char final[4096] = "";
        if (rc == 0 && beat == JS_OK) {
            remove_stale_tmpdirs(w, r);
            rc = artifacts_final_path(w->cfg->artifact_dir, user, id, final, sizeof final, &e);
            if (!rc)
                rc = artifacts_commit(r->tmpdir, final, &e);
            if (rc == ARTIFACTS_EXISTS) {
                wlog(w, "job %s: a complete artifact set is already stored; keeping it", id);
                artifacts_remove(r->tmpdir, &e);
                rc = 0;
            }
            if (rc) {
                wlog(w, "job %s: cannot store artifacts: %s; requeueing", id, e.msg);
                artifacts_remove(r->tmpdir, &e);
                jobstore_finish(w->js, user, id, r->lease, JOB_QUEUED, NULL, NULL,
                                "requeued: artifact store failed", &e);
                settle_how = 1;
            } else {
                jobstore_log(w->js, user, id, r->lease, "artifacts stored", &e);
                int f = jobstore_finish(w->js, user, id, r->lease, JOB_SUCCEEDED, NULL, final,
                                        "done", &e);
                wlog(w, "job %s: succeeded%s", id, f == JS_OK ? "" : " (record owned by a newer lease)");
            }
        } else {
            if (beat == JS_CANCEL) {
                artifacts_remove(r->tmpdir, &e);
                jobstore_finish(w->js, user, id, r->lease, JOB_CANCELLED, NULL, NULL,
                                "cancelled by its owner", &e);
                wlog(w, "job %s: cancelled", id);
            } else {
                wlog(w, "job %s: lease lost or store failed before publishing (%s): discarding "
                     "this attempt's artifacts", id, beat < 0 ? e.msg : "lease lost");
                artifacts_remove(r->tmpdir, &e);
                /* the lease could not be confirmed (Redis away): give the job back rather
                 * than ack it unrecorded; a stale connection's delivery is ignored anyway */
                if (beat < 0)
                    settle_how = 1;
            }
        }
    } else {
        artifacts_remove(r->tmpdir, &e);
        if (stop == STOP_LOST) {
            wlog(w, "job %s: lease lost (another worker took the job); stopped, nothing written", id);
        } else if (stop == STOP_CANCEL) {
            jobstore_finish(w->js, user, id, r->lease, JOB_CANCELLED, NULL, NULL,
                            "cancelled by its owner", &e);
            jobstore_log(w->js, user, id, r->lease, "stopped: cancelled by its owner", &e);
            wlog(w, "job %s: cancelled while running", id);
        } else if (stop == STOP_SHUTDOWN) {
            jobstore_log(w->js, user, id, r->lease, "worker shutting down: job requeued", &e);
            jobstore_finish(w->js, user, id, r->lease, JOB_QUEUED, NULL, NULL,
                            "requeued: worker shut down", &e);
            wlog(w, "job %s: requeued (shutdown)", id);
            settle_how = 1;
        } else {
            char why[1100];
            snprintf(why, sizeof why, "%s", r->err.msg[0] ? r->err.msg : "pipeline failed");
            jobstore_log(w->js, user, id, r->lease, why, &e);
            int f = jobstore_finish(w->js, user, id, r->lease, JOB_FAILED, why, NULL, NULL, &e);
            wlog(w, "job %s: failed: %s%s", id, why, f == JS_OK ? "" : " (record owned by a newer lease)");
        }
    }
    settle(w, &r->d, settle_how);
    run_free(r);
}

/* ---- sub-tasks of fanned-out specs passes ------------------------------------------ */

static int start_specs_consumer(worker *w, mlhep_err *e)
{
    if (w->consuming_specs)
        return 0;
    int rc = amqpc_consume(w->mq, CH_SPECS, FANOUT_QUEUE, "spec", 1, e);
    if (!rc)
        w->consuming_specs = 1;
    return rc;
}

static void stop_specs_consumer(worker *w)
{
    mlhep_err e;
    if (w->consuming_specs && amqpc_is_open(w->mq)) {
        if (amqpc_cancel(w->mq, CH_SPECS, "spec", &e))
            wlog(w, "cannot stop consuming %s: %s", FANOUT_QUEUE, e.msg);
    }
    w->consuming_specs = 0;
}

static void start_sub(worker *w, amqpc_delivery *d, subrun **out)
{
    *out = NULL;
    subrun *s = calloc(1, sizeof *s);
    if (!s) {
        settle(w, d, 1);
        return;
    }
    s->w = w;
    s->d = *d; /* take ownership of the delivery */
    memset(d, 0, sizeof *d);
    wlog(w, "specs sub-task taken (message %s%s)", s->d.message_id[0] ? s->d.message_id : "?",
         s->d.redelivered ? ", redelivered" : "");
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int prc = pipe2(s->wake, O_CLOEXEC | O_NONBLOCK);
    if (prc == 0 && (prc = pthread_create(&s->th, NULL, sub_thread, s)) != 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        wlog(w, "cannot start a sub-task thread; requeueing the sub-task");
        settle(w, &s->d, 1);
        amqpc_delivery_free(&s->d);
        free(s);
        return;
    }
    *out = s;
}

static void finish_sub(worker *w, subrun *s)
{
    pthread_join(s->th, NULL);
    wlog(w, "%s%s", s->info, s->d.redelivered ? " (redelivered)" : "");
    settle(w, &s->d, s->rc == MLHEP_ENET ? 1 : 0);
    if (s->rc == MLHEP_ENET)
        store_went_down(w, "sub-task result not stored");
    close(s->wake[0]);
    close(s->wake[1]);
    amqpc_delivery_free(&s->d);
    free(s);
}

/* ---- main loop ------------------------------------------------------------------- */

static int run_worker(worker *w)
{
    run *cur = NULL;
    subrun *sub = NULL;
    double last_beat = 0, next_try = 0, backoff = 0.1;
    int stopping = 0;
    for (;;) {
        if (g_signal && !stopping) {
            stopping = 1;
            wlog(w, "signal %d: %s", (int)g_signal,
                 cur ? "stopping the current job at its next step and requeueing it" : "exiting");
            if (cur) {
                int none = STOP_NONE;
                atomic_compare_exchange_strong(&cur->stop, &none, STOP_SHUTDOWN);
            }
            if (w->consuming_jobs && amqpc_is_open(w->mq)) {
                mlhep_err e;
                amqpc_cancel(w->mq, CH_JOBS, "job", &e);
                w->consuming_jobs = 0;
            }
        }
        if (stopping && w->holding) {
            settle(w, &w->held, 1);
            amqpc_delivery_free(&w->held);
            w->holding = 0;
        }
        if (stopping && !cur && !sub)
            return 0;
        mlhep_err e;
        if (w->store_down && job_now() >= w->store_probe_at) {
            if (jobstore_worker_alive(w->js, w->cfg->worker_id, w->cfg->lease_ttl, &e) == 0) {
                w->store_down = 0;
                wlog(w, "status store reachable again: resuming");
                if (amqpc_is_open(w->mq) && consume_aux(w, &e))
                    wlog(w, "cannot resume the auxiliary consumers: %s", e.msg);
            } else {
                w->store_backoff = w->store_backoff * 2 > 2 ? 2 : w->store_backoff * 2;
                w->store_probe_at = job_now() + w->store_backoff;
            }
        }
        if (w->holding && !w->store_down && !cur && !sub && !stopping) {
            amqpc_delivery held = w->held;
            w->holding = 0;
            memset(&w->held, 0, sizeof w->held);
            if (held.generation != amqpc_generation(w->mq)) {
                wlog(w, "held delivery belongs to a lost connection: the broker redelivers it");
            } else {
                start_job(w, &held, &cur);
                last_beat = job_now();
            }
            amqpc_delivery_free(&held); /* no-op if start_job took it */
        }
        int rc = AMQPC_TIMEOUT;
        amqpc_delivery d;
        if (!amqpc_is_open(w->mq))
            try_reconnect(w, &next_try, &backoff);
        if (!amqpc_is_open(w->mq)) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        } else if (!cur && !stopping && !w->consuming_jobs && !w->store_down && !w->holding &&
                   start_jobs_consumer(w, &e)) {
            wlog(w, "cannot consume jobs.train: %s", e.msg);
        } else if (!cur && !sub && !stopping && !w->consuming_specs && !w->store_down &&
                   !w->holding && start_specs_consumer(w, &e)) {
            wlog(w, "cannot consume %s: %s", FANOUT_QUEUE, e.msg);
        } else {
            if (cur && w->consuming_specs) /* busy: leave sub-tasks to idle workers */
                stop_specs_consumer(w);
            /* sleep until the broker sends something or the job/sub-task finishes */
            int ev = amqpc_poll(w->mq, cur ? cur->wake[0] : sub ? sub->wake[0] : -1, 100, &e);
            if (ev < 0)
                rc = ev;
            else if (ev & 1)
                rc = amqpc_next(w->mq, &d, 0, &e);
        }
        if (rc < 0) {
            wlog(w, "broker connection lost: %s", e.msg);
        } else if (rc == 0) {
            if (!strcmp(d.consumer_tag, "job")) {
                if (cur || stopping) { /* cannot happen with prefetch 1; be safe */
                    settle(w, &d, 1);
                    amqpc_delivery_free(&d);
                } else if (sub || w->holding) {
                    /* a sub-task is running: start the job once it is done */
                    if (w->holding) {
                        settle(w, &d, 1);
                        amqpc_delivery_free(&d);
                    } else {
                        w->held = d;
                        w->holding = 1;
                    }
                } else {
                    start_job(w, &d, &cur);
                    amqpc_delivery_free(&d); /* no-op if start_job took it */
                    last_beat = job_now();
                }
            } else if (!strcmp(d.consumer_tag, "spec")) {
                if (cur || sub || stopping || w->store_down) {
                    /* sent before our consumer was cancelled: give it back */
                    settle(w, &d, 1);
                    amqpc_delivery_free(&d);
                } else {
                    start_sub(w, &d, &sub);
                    amqpc_delivery_free(&d); /* no-op if start_sub took it */
                }
            } else {
                if (!strcmp(d.consumer_tag, "reg"))
                    handle_registry(w, &d);
                else if (!strcmp(d.consumer_tag, "ctl"))
                    handle_control(w, &d);
                else if (!strcmp(d.consumer_tag, "dead"))
                    handle_dead(w, &d);
                else
                    settle(w, &d, 1);
                amqpc_delivery_free(&d);
            }
        }
        double now = job_now();
        if (now - last_beat >= w->cfg->heartbeat_interval) {
            last_beat = now;
            jobstore_worker_alive(w->js, w->cfg->worker_id, w->cfg->lease_ttl, &e);
            if (cur && !atomic_load(&cur->done)) {
                int b = jobstore_beat(w->js, cur->j.user, cur->j.id, cur->lease, w->cfg->lease_ttl,
                                      NULL, 0, NULL, &e);
                int none = STOP_NONE;
                if (b == JS_LOST)
                    atomic_compare_exchange_strong(&cur->stop, &none, STOP_LOST);
                else if (b == JS_CANCEL)
                    atomic_compare_exchange_strong(&cur->stop, &none, STOP_CANCEL);
                else if (b < 0)
                    wlog(w, "job %s: heartbeat failed: %s", cur->j.id, e.msg);
            }
        }
        if (cur && atomic_load(&cur->done)) {
            finish_job(w, cur);
            cur = NULL;
        }
        if (sub && atomic_load(&sub->done)) {
            finish_sub(w, sub);
            sub = NULL;
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlhep-worker [--config FILE] [--check] [--print-config] [--queue-depth Q]\n"
            "  Runs jobs from the broker (queue jobs.train) one at a time until SIGTERM/SIGINT.\n"
            "  --config FILE   key=value configuration (default $MLHEP_CONFIG); MLHEP_* variables\n"
            "                  override it (see common/service/config.h for every key)\n"
            "  --check         connect to the broker and Redis, then exit 0 (healthy) or 1\n"
            "  --print-config  print the effective configuration (secrets masked) and exit\n"
            "  --queue-depth Q print the number of ready messages in queue Q (e.g. jobs.train)\n"
            "                  and its consumer count, then exit (for probes and autoscaling)\n"
            "exit codes: 0 clean stop, 1 cannot connect (--check), 2 usage, 3 configuration\n");
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    int check = 0, print = 0;
    const char *depthq = NULL;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check", no_argument, 0, 'k'},
                                         {"print-config", no_argument, 0, 'p'},
                                         {"queue-depth", required_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': cfgpath = optarg; break;
        case 'k': check = 1; break;
        case 'p': print = 1; break;
        case 'q': depthq = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    mlhep_config cfg;
    mlhep_err e;
    err_clear(&e);
    if (config_load(&cfg, cfgpath, &e)) {
        fprintf(stderr, "mlhep-worker: configuration: %s\n", e.msg);
        return 3;
    }
    if (print) {
        config_print(&cfg, stdout);
        config_free(&cfg);
        return 0;
    }
    worker w = {.cfg = &cfg};
    if (!print && !depthq && !check) {
        if (msgsig_key(&cfg, "mlhep-worker", &w.key, &e) || auth_open(&cfg, &w.auth, &e) ||
            pipeline_env_open(cfg.schemas_dir, cfg.data_roots, 1, cfg.test_hooks, &w.env, &e)) {
            fprintf(stderr, "mlhep-worker: configuration: %s\n", e.msg);
            auth_close(w.auth);
            config_free(&cfg);
            return 3;
        }
        w.env->nthreads = cfg.worker_threads;
        if (pipeline_env_hosts(w.env, cfg.data_hosts, &e)) {
            fprintf(stderr, "mlhep-worker: configuration: %s\n", e.msg);
            auth_close(w.auth);
            pipeline_env_free(w.env);
            config_free(&cfg);
            return 3;
        }
        /* every remote input this process opens is checked (configuration read once,
         * before any thread) */
        source_set_hostpolicy(w.env->hosts);
    }
    amqpc_params p = {cfg.amqp_host, cfg.amqp_port, cfg.amqp_user, cfg.amqp_password,
                      cfg.amqp_vhost, cfg.amqp_heartbeat, 5000};
    if (depthq) {
        uint32_t msgs = 0, cons = 0;
        int rc = amqpc_connect(&w.mq, &p, &e);
        if (!rc)
            rc = amqpc_channel_open(w.mq, 1, &e);
        if (!rc)
            rc = amqpc_queue_depth(w.mq, 1, depthq, &msgs, &cons, &e);
        if (rc)
            fprintf(stderr, "mlhep-worker --queue-depth: %s\n", e.msg);
        else
            printf("%u %u\n", msgs, cons);
        amqpc_close(w.mq);
        config_free(&cfg);
        return rc ? 1 : 0;
    }
    if (check) {
        int ok = amqpc_connect(&w.mq, &p, &e) == 0 && jobstore_connect(&w.js, &cfg, &e) == 0 &&
                 jobstore_worker_alive(w.js, cfg.worker_id, cfg.lease_ttl, &e) == 0;
        if (!ok)
            fprintf(stderr, "mlhep-worker --check: %s\n", e.msg);
        else
            printf("ok\n");
        amqpc_close(w.mq);
        jobstore_close(w.js);
        config_free(&cfg);
        return ok ? 0 : 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    if (jobstore_connect(&w.js, &cfg, &e) || jobstore_connect(&w.js_job, &cfg, &e)) {
        fprintf(stderr, "mlhep-worker: status store: %s\n", e.msg);
        rc = 1;
    }
    /* first connection: retry like later reconnects (the broker may still be booting) */
    /* (a refused login is retried too: a booting broker may not have its users yet) */
    while (!rc && amqpc_connect(&w.mq, &p, &e)) {
        wlog(&w, "waiting for broker: %s", e.msg);
        if (g_signal) {
            rc = 0;
            break;
        }
        sleep(1);
    }
    if (!rc && w.mq && !g_signal) {
        if (setup_channels(&w, &e))
            wlog(&w, "channel setup failed (%s); reconnecting", e.msg);
        wlog(&w, "ready: artifact store %s, heartbeat %.2g s, lease %.2g s", cfg.artifact_dir,
             cfg.heartbeat_interval, cfg.lease_ttl);
        rc = run_worker(&w);
        wlog(&w, "stopped");
    }
    if (w.holding)
        amqpc_delivery_free(&w.held);
    amqpc_close(w.mq);
    jobstore_close(w.js);
    jobstore_close(w.js_job);
    auth_close(w.auth);
    pipeline_env_free(w.env);
    config_free(&cfg);
    return rc;
}

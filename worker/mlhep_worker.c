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
 * exists yet; the delivery is acked only once the outcome is recorded. A crash leaves
 * the delivery unacked: the broker redelivers it, and after x-delivery-limit returns
 * dead-letters it.
 *
 * Store unavailable (jobstore.h: connection lost or refused, LOADING, BUSY, READONLY...):
 * nothing is acked on a guess. The worker cancels its consumers and probes Redis with
 * backoff; a job delivery not yet taken is held unacked, a finished job keeps its outcome
 * (and its published artifact set) until the record is written, a sub-task delivery is
 * held and run again; registry, control and dead-letter messages (queues without a
 * delivery limit) are requeued.
 *
 * SIGTERM/SIGINT (preemption): the worker stops taking jobs at once. The running job may
 * go on for worker_stop_grace seconds; if it finishes, it is recorded as usual. Past the
 * grace it stops at its next progress step and is handed back without burning its
 * delivery count (a nack would count toward x-delivery-limit): the record goes running
 * -> queued in one step (jobstore_handback: the attempt is not counted against
 * max_deliveries), a copy of the message (same body, same id) is published to jobs.train
 * with a confirm on the worker's own connection, then the original is acked. The worker
 * then exits 0. A job delivery held but not started is given back the same way.
 *
 * Health (worker_health_path): the main loop rewrites the file every heartbeat_interval;
 * `--check=live` only asks that it be fresh (the process is not stuck: an outage of the
 * broker or Redis must not restart workers), `--check=ready` also that the broker and
 * Redis answer and the worker accepts jobs (not stopping).
 *
 * Temp dirs of attempts that crashed: removed at publish time (the job's earlier
 * leases), when a job ends failed or dead-lettered, and at worker start (every temp dir
 * in the store older than 2 x lease_ttl, and at least a minute, whose attempt's lease is
 * no longer current).
 *
 * Test hook (test_hooks = 1 and test_hold_dir set): while the file
 * <test_hold_dir>/<job name> exists, the job waits at its progress steps after writing
 * them; the file's first line chooses which: empty or "any" every step, "report" a step
 * with validation numbers (an epoch's end), else a phase name; while
 * <test_hold_dir>/.specs-subtasks exists, sub-tasks taken from jobs.specs wait before they
 * run. Tests observe a running job or sub-task this way instead of racing it.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/logline.h"
#include "base/numarg.h"
#include "service/amqp_client.h"
#include "service/artifacts.h"
#include "service/auth_glue.h"
#include "service/config.h"
#include "service/credbox.h"
#include "train/fanout.h"
#include "service/job.h"
#include "service/jobpub.h"
#include "service/jobstore.h"
#include "root/source_open.h"
#include "root/srcaccess.h"
#include "service/msgsig.h"
#include "train/checkpoint.h"
#include "train/pipeline.h"
#include "train/train.h"

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
    srcaccess access;     /* remote reads: data_hosts, remote_* keys (source_set_access) */
    hostpolicy *token_hosts; /* remote_token_forward */
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
    char store_why[MLHEP_ERR_MAX]; /* the last reason logged while the store is down */
    amqpc_delivery held;
    int holding;
    amqpc_delivery held_sub; /* a sub-task whose result could not be stored: run again */
    int holding_sub;
    amqpc *pub; /* hand-backs: publisher connection with confirms, opened when needed */
    /* shutdown (SIGTERM/SIGINT, or --max-jobs reached) */
    int stopping;
    double stop_at;
    /* --max-jobs N, --idle-exit S (a worker per KEDA ScaledJob pod) */
    long max_jobs, jobs_done;
    double idle_exit, idle_since;
    double health_at;
} worker;

/* What finish_job still has to do for a finished run (it resumes there when the store
 * was unavailable). */
enum { FIN_DECIDE, FIN_PUBLISH, FIN_SUCCEEDED, FIN_FAILED, FIN_CANCELLED, FIN_HANDBACK,
       FIN_REQUEUE, FIN_ACK, FIN_NACK };

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
    int has_thread;
    int fin;            /* FIN_* */
    char why[1100];     /* FIN_FAILED: the reason; FIN_REQUEUE: the record's message */
    char final[4096];   /* FIN_SUCCEEDED: the published artifact set */
    int logged;         /* the outcome's log line is written */
    char *stoken;       /* the job's delegated storage token, opened from its box
                           (credbox.h), or NULL; wiped in run_free */
    char proxydir[4096]; /* the job's delegated X.509 proxy: a private directory (0700)
                            holding it as x509up (0600), "" when none; removed in run_free */
    char proxypath[4200];
    int delegated;      /* r->acc holds the job's own credential */
    srcaccess acc;      /* the worker's access with .token = stoken: this job's reads
                           only (wf->data.access), never the process's */
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

/* The test hook (see the top of this file): waits while <test_hold_dir>/<job name> exists
 * and selects this step, or until the job is told to stop. */
static void test_hold(run *r, const pipeline_progress *p)
{
    const mlhep_config *cfg = r->w->cfg;
    if (!cfg->test_hooks || !cfg->test_hold_dir || !*cfg->test_hold_dir)
        return;
    const char *name = json_string_value(json_object_get(r->j.workflow, "name"));
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return;
    char path[4600];
    snprintf(path, sizeof path, "%s/%s", cfg->test_hold_dir, name);
    int said = 0;
    while (!atomic_load(&r->stop)) {
        FILE *f = fopen(path, "r");
        if (!f)
            return;
        char mode[64] = "";
        if (!fgets(mode, sizeof mode, f))
            mode[0] = '\0';
        fclose(f);
        mode[strcspn(mode, "\r\n")] = '\0';
        int report = p->val_auc == p->val_auc || p->val_loss == p->val_loss;
        if (!(!mode[0] || !strcmp(mode, "any") || (!strcmp(mode, "report") && report) ||
              !strcmp(mode, p->phase)))
            return;
        if (!said++)
            wlog(r->w, "job %s: held at step '%s' by the test hook (%s)", r->j.id, p->phase, path);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
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
    test_hold(r, p);
    return atomic_load(&r->stop) != STOP_NONE;
}

/* fanout_job.step: the coordinator's progress ("specs k/N files") through job_step */
static int fan_step(void *ctx, long long done, long long total, const char *msg)
{
    pipeline_progress p = {"specs", total > 0 ? 0.1 * (double)done / (double)total : 0, msg, -1,
                           0, 0, NAN, NAN, NAN, 0};
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
    /* a training continues from the checkpoint an earlier attempt left (carry_checkpoint) */
    pipeline_callbacks cb = {job_step, job_logline, r, job_specs, TRAIN_RESUME_IF_ANY, NULL};
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
    const mlhep_config *cfg = s->w->cfg;
    if (cfg->test_hooks && cfg->test_hold_dir && *cfg->test_hold_dir) {
        /* the test hook: <test_hold_dir>/.specs-subtasks holds sub-tasks before they run */
        char path[4600];
        snprintf(path, sizeof path, "%s/.specs-subtasks", cfg->test_hold_dir);
        if (access(path, F_OK) == 0)
            wlog(s->w, "specs sub-task held by the test hook (%s)", path);
        while (access(path, F_OK) == 0) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
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
    snprintf(w->store_why, sizeof w->store_why, "%s", why);
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

/* The publisher connection for hand-backs (confirm mode on channel 1): a consuming
 * connection must not wait for confirms (amqp_client.h). */
static int pub_open(worker *w, mlhep_err *e)
{
    if (w->pub && amqpc_is_open(w->pub))
        return 0;
    amqpc_close(w->pub);
    w->pub = NULL;
    const mlhep_config *c = w->cfg;
    amqpc_params p = {c->amqp_host, c->amqp_port, c->amqp_user, c->amqp_password, c->amqp_vhost,
                      c->amqp_heartbeat, 5000};
    int rc = amqpc_connect(&w->pub, &p, e);
    if (!rc)
        rc = amqpc_channel_open(w->pub, 1, e);
    if (!rc)
        rc = amqpc_confirm_select(w->pub, 1, e);
    if (rc) {
        amqpc_close(w->pub);
        w->pub = NULL;
    }
    return rc;
}

/* Gives a delivery back to queue without burning its delivery count (a nack or a dropped
 * connection counts toward x-delivery-limit): publishes a copy - same body, same message
 * id - on the default exchange with a publisher confirm, then acks the original. If the
 * copy cannot be published the delivery is requeued (that counts). A delivery of a lost
 * connection is back in its queue already. Returns 1 when the copy was published. */
static int give_back(worker *w, amqpc_delivery *d, const char *queue)
{
    if (d->generation != amqpc_generation(w->mq) || !amqpc_is_open(w->mq)) {
        wlog(w, "delivery %llu belongs to a lost connection: the broker redelivers it",
             (unsigned long long)d->tag);
        return 0;
    }
    mlhep_err e;
    err_clear(&e);
    int rc = 1;
    for (int attempt = 0; attempt < 2 && rc; attempt++) { /* a stale connection: once more */
        rc = pub_open(w, &e);
        if (!rc)
            rc = amqpc_publish(w->pub, 1, "", queue, d->body, d->len, d->message_id[0] ? d->message_id : NULL,
                               d->sig[0] ? d->sig : NULL, &e); /* the signature covers the body only */
        if (rc) {
            amqpc_close(w->pub);
            w->pub = NULL;
        }
    }
    if (rc) {
        wlog(w, "cannot hand a delivery back to %s (%s): requeueing it (counts as a delivery)",
             queue, e.msg);
        settle(w, d, 1);
        return 0;
    }
    settle(w, d, 0);
    return 1;
}

/* worker_health_path: key=value lines, replaced atomically (written aside, renamed). */
static void health_write(worker *w, const char *job_id)
{
    const char *path = w->cfg->worker_health_path;
    if (!path || !*path)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "pid=%ld\nworker=%s\nupdated=%.3f\nbroker=%s\nstore=%s\naccepting=%d\njob=%s\n",
            (long)getpid(), w->cfg->worker_id, job_now(), amqpc_is_open(w->mq) ? "up" : "down",
            w->store_down ? "down" : "up", !w->stopping, job_id && *job_id ? job_id : "-");
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path))
        unlink(tmp);
    w->health_at = job_now();
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
        if (rc == JOBSTORE_UNAVAILABLE) {
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
        if (rc == JOBSTORE_UNAVAILABLE) {
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

/* ---- temp dirs of attempts ---------------------------------------------------------- */

/* Removes the temp dirs .tmp-<id>-L<n>-* of job id with n < below (earlier attempts). */
static void remove_job_tmpdirs(worker *w, const char *user, const char *id, long long below)
{
    char udir[4096];
    snprintf(udir, sizeof udir, "%s/%s", w->cfg->artifact_dir, user);
    DIR *d = opendir(udir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char tid[JOB_ID_HEX + 1];
        long long n;
        if (!artifacts_tmpdir_parse(de->d_name, tid, &n) || strcmp(tid, id) != 0 || n >= below)
            continue;
        char path[4608];
        snprintf(path, sizeof path, "%s/%s", udir, de->d_name);
        mlhep_err e;
        if (artifacts_remove(path, &e) == 0)
            wlog(w, "job %s: removed temp dir of stale attempt (lease %lld)", id, n);
    }
    closedir(d);
}

/* A stopped (SIGTERM: handed back) or crashed attempt of a training leaves its temp dir
 * with the checkpoint of its last finished epoch (train/checkpoint.h). The newest such
 * dir of job id below lease `below` gives this attempt's dir `dir` its checkpoint and
 * specs.json (moved), so the training goes on from there instead of starting over (train.c
 * checks the checkpoint is this workflow's, on the same inputs). Returns the epoch
 * carried, 0 if none. */
static int carry_checkpoint(worker *w, const char *user, const char *id, long long below, const char *dir)
{
    char udir[4096], best[4608] = "";
    snprintf(udir, sizeof udir, "%s/%s", w->cfg->artifact_dir, user);
    DIR *d = opendir(udir);
    if (!d)
        return 0;
    long long top = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char tid[JOB_ID_HEX + 1], ck[4700];
        long long n;
        struct stat st;
        if (!artifacts_tmpdir_parse(de->d_name, tid, &n) || strcmp(tid, id) != 0 || n >= below || n <= top)
            continue;
        snprintf(ck, sizeof ck, "%s/%s/" CKPT_FILE, udir, de->d_name);
        if (stat(ck, &st) == 0 && S_ISREG(st.st_mode)) {
            top = n;
            snprintf(best, sizeof best, "%s/%s", udir, de->d_name);
        }
    }
    closedir(d);
    if (top < 0)
        return 0;
    char from[4700], to[4700];
    ckpt_info ki;
    mlhep_err e;
    snprintf(from, sizeof from, "%s/" CKPT_FILE, best);
    if (ckpt_info_read(from, &ki, &e) != 0) {
        wlog(w, "job %s: the checkpoint of attempt (lease %lld) is unusable (%s): starting over", id, top, e.msg);
        return 0;
    }
    ckpt_info_clear(&ki);
    snprintf(to, sizeof to, "%s/" CKPT_FILE, dir);
    if (rename(from, to) != 0) {
        wlog(w, "job %s: cannot take the checkpoint of attempt (lease %lld): %s: starting over", id, top,
             strerror(errno));
        return 0;
    }
    snprintf(from, sizeof from, "%s/specs.json", best);
    snprintf(to, sizeof to, "%s/specs.json", dir);
    if (rename(from, to) != 0) { /* optional: the specs pass runs again */
    }
    return ki.epoch > 0 ? ki.epoch : 1;
}

/* At start: every temp dir in the store older than min_age seconds whose attempt's lease
 * is no longer current (the job ended, or another attempt took it) is left over by a
 * crashed or cut-off worker: removed. A dir whose lease is current belongs to a running
 * attempt; if Redis cannot tell, the dir is kept (the next start or publish removes it). */
static void sweep_tmpdirs(worker *w, double min_age)
{
    DIR *root = opendir(w->cfg->artifact_dir);
    if (!root)
        return;
    int removed = 0, kept = 0;
    double now = job_now();
    struct dirent *ue;
    while ((ue = readdir(root))) {
        if (!job_user_valid(ue->d_name))
            continue;
        char udir[4096];
        snprintf(udir, sizeof udir, "%s/%s", w->cfg->artifact_dir, ue->d_name);
        DIR *d = opendir(udir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            char id[JOB_ID_HEX + 1], path[4608];
            long long lease;
            struct stat st;
            if (!artifacts_tmpdir_parse(de->d_name, id, &lease))
                continue;
            snprintf(path, sizeof path, "%s/%s", udir, de->d_name);
            if (lstat(path, &st) || !S_ISDIR(st.st_mode) || now - (double)st.st_mtime < min_age) {
                kept++;
                continue;
            }
            mlhep_err e;
            int cur = jobstore_lease_current(w->js, ue->d_name, id, lease, &e);
            if (cur == 0 && artifacts_remove(path, &e) == 0)
                removed++;
            else
                kept++;
        }
        closedir(d);
    }
    closedir(root);
    if (removed || kept)
        wlog(w, "temp dirs of earlier attempts: %d removed, %d kept (running, younger than %.0f s, "
             "or not checkable)", removed, kept, min_age);
}

/* ---- dead letters ---------------------------------------------------------------------- */

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
    if (sub == JOBSTORE_UNAVAILABLE) { /* jobs.dead has no delivery limit */
        settle(w, d, 1);
        store_went_down(w, e.msg);
        return;
    }
    if (sub < 0) {
        wlog(w, "dead-letter: a specs sub-task whose failure cannot be recorded: %s", e.msg);
        settle(w, d, 0);
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
    int grc = jobstore_get(w->js, j.user, j.id, &rec, &e);
    if (grc == JOBSTORE_UNAVAILABLE) {
        job_clear(&j);
        settle(w, d, 1); /* jobs.dead has no delivery limit */
        store_went_down(w, e.msg);
        return;
    }
    if (grc == 0 && rec) {
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
    if (rc == JS_MISSING) {
        /* its registration was lost (never recorded): the user still learns its fate */
        rc = jobstore_register(w->js, &j, record_name(w, &j), &e);
        if (!rc)
            rc = jobstore_finish(w->js, j.user, j.id, -1, JOB_FAILED, reason, NULL, NULL, &e);
    }
    if (rc == JS_OK) {
        jobstore_log(w->js, j.user, j.id, -1, reason, &e);
        wlog(w, "job %s: %s", j.id, reason);
        remove_job_tmpdirs(w, j.user, j.id, INT64_MAX); /* no attempt runs any more */
    } else if (rc == JOBSTORE_UNAVAILABLE) {
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
    if (r->stoken) {
        memset(r->stoken, 0, strlen(r->stoken));
        free(r->stoken);
    }
    if (r->proxydir[0]) { /* the job's proxy goes with the job */
        unlink(r->proxypath);
        rmdir(r->proxydir);
    }
    free(r);
}

/* Keeps a job delivery unacked until Redis answers again (a requeue would count against
 * the queue's delivery limit); start_job runs it again then. */
static void hold_delivery(worker *w, amqpc_delivery *d, const char *id, const char *what,
                          const char *why)
{
    wlog(w, "job %s: %s (%s); holding the delivery until Redis is back", id, what, why);
    w->held = *d;
    w->holding = 1;
    memset(d, 0, sizeof *d);
    store_went_down(w, why);
}

/* Makes r the current run with nothing to execute: finish_job records its outcome (fin). */
static void run_settle_later(run *r, int fin, run **out)
{
    r->fin = fin;
    atomic_store(&r->done, 1);
    *out = r;
}

/* Per-user delegation (docs/grid.md): opens the storage token the job's owner sealed
 * for this job (bound to its id and owner: a box copied to another job or user, or
 * altered, does not open) into r->stoken and r->acc, which this job's reads only use
 * (pipeline_validate_with: its workflow's data.access, source_open_with); no other job
 * and no environment variable sees it. Messages never quote it. */
static int delegated_token(worker *w, run *r, mlhep_err *e)
{
    r->stoken = malloc(SRCACCESS_TOKEN_MAX);
    if (!r->stoken)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t len = 0;
    int rc = credbox_open(w->key, r->j.id, r->j.user, "token", r->j.storage_cred, r->stoken, SRCACCESS_TOKEN_MAX,
                          &len, e);
    if (rc) {
        memset(r->stoken, 0, SRCACCESS_TOKEN_MAX);
        free(r->stoken);
        r->stoken = NULL;
        return err_prefix(e, "delegated storage token refused");
    }
    /* the submitter's checks again (it may have expired while the job was queued) */
    if ((rc = jobpub_storage_token(r->stoken, e)))
        return err_prefix(e, "delegated storage token refused (nothing was read)");
    const srcaccess *base = source_access();
    if (base)
        r->acc = *base;
    else
        srcaccess_from_env(&r->acc);
    r->acc.token = r->stoken;
    r->acc.token_file = NULL;
    r->acc.token_origin = "the job's delegated token";
    r->delegated = 1;
    jobstore_log(w->js, r->j.user, r->j.id, r->lease, "reading with the storage token its owner delegated to this job",
                 &(mlhep_err){0});
    return 0;
}

/* The same for an X.509 proxy (kind "x509"): opened, checked again (it may have expired
 * while the job was queued), and written to x509up (0600) in a directory of its own
 * (mkdtemp, 0700, under $TMPDIR or /tmp: systemd's PrivateTmp keeps it to this worker),
 * removed with the run. r->acc.proxy names it: this job's https:// handles use it as
 * client certificate, its root:// opens name it to XrdCl (xrd.gsiusrpxy), so they log
 * in on connections of their own; no environment variable is set. */
static int delegated_proxy(worker *w, run *r, mlhep_err *e)
{
    char *pem = malloc(CREDBOX_MAX + 1);
    if (!pem)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t len = 0;
    int rc = credbox_open(w->key, r->j.id, r->j.user, "x509", r->j.storage_cred, pem, CREDBOX_MAX + 1, &len, e);
    if (rc)
        err_prefix(e, "delegated X.509 proxy refused");
    else if ((rc = srcaccess_check_proxy_pem(pem, len, NULL, e)))
        err_prefix(e, "delegated X.509 proxy refused (nothing was read)");
    if (!rc) {
        const char *td = getenv("TMPDIR");
        snprintf(r->proxydir, sizeof r->proxydir, "%s/mlhep-cred.XXXXXX", td && *td ? td : "/tmp");
        if (!mkdtemp(r->proxydir)) {
            rc = err_set(e, MLHEP_EIO, "cannot make a private directory for the job's X.509 proxy in %s: %s",
                         td && *td ? td : "/tmp", strerror(errno));
            r->proxydir[0] = 0;
        }
    }
    if (!rc) {
        snprintf(r->proxypath, sizeof r->proxypath, "%s/x509up", r->proxydir);
        int fd = open(r->proxypath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        ssize_t put = fd >= 0 ? write(fd, pem, len) : -1;
        if (fd < 0 || put != (ssize_t)len || fsync(fd) != 0)
            rc = err_set(e, MLHEP_EIO, "cannot write the job's X.509 proxy in %s: %s", r->proxydir, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    memset(pem, 0, CREDBOX_MAX + 1);
    free(pem);
    if (rc)
        return rc;
    const srcaccess *base = source_access();
    if (base)
        r->acc = *base;
    else
        srcaccess_from_env(&r->acc);
    r->acc.proxy = r->proxypath;
    r->acc.proxy_origin = "the job's delegated X.509 proxy";
    r->delegated = 1;
    jobstore_log(w->js, r->j.user, r->j.id, r->lease,
                 "reading with the X.509 proxy its owner delegated to this job", &(mlhep_err){0});
    return 0;
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
    if (job_user_valid(r->j.user)) {
        int grc = jobstore_get(w->js, r->j.user, r->j.id, &rec, &e);
        if (grc == JOBSTORE_UNAVAILABLE) {
            hold_delivery(w, &r->d, r->j.id, "cannot read its record", e.msg);
            goto drop;
        }
        if (grc == 0 && rec) {
            const char *rs = json_string_value(json_object_get(rec, "registered"));
            registered = rs ? atof(rs) : 0;
        }
        json_decref(rec);
    }
    auth_result ar;
    err_clear(&e);
    int arc = auth_check_job(w->auth, r->j.token, (int64_t)job_now(), registered, &ar, &e);
    if (arc || strcmp(ar.user, r->j.user) != 0) {
        char why[1200];
        snprintf(why, sizeof why, "token refused by the worker: %s",
                 arc ? e.msg : "token does not belong to the job's user");
        if (jobstore_finish(w->js, r->j.user, r->j.id, -1, JOB_FAILED, why, NULL, NULL, &e) ==
            JOBSTORE_UNAVAILABLE) {
            hold_delivery(w, &r->d, r->j.id, "cannot record a refused token", e.msg);
            goto drop;
        }
        wlog(w, "job %s: %s", r->j.id, why);
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
    if (trc == JOBSTORE_UNAVAILABLE) {
        hold_delivery(w, &r->d, r->j.id, "cannot take lease", e.msg);
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
    /* from here on the lease is ours: every outcome goes through finish_job, which
     * records it (waiting for Redis if needed) before settling the delivery */
    if (r->j.storage_cred && !pipeline_is_sleep(r->j.workflow) &&
        (!strcmp(r->j.storage_kind, "x509") ? delegated_proxy(w, r, &e) : delegated_token(w, r, &e))) {
        snprintf(r->why, sizeof r->why, "%s", e.msg);
        wlog(w, "job %s: %s", r->j.id, e.msg);
        run_settle_later(r, FIN_FAILED, out);
        return;
    }
    if (pipeline_validate_with(r->j.workflow, w->env, r->delegated ? &r->acc : NULL, &r->wf, &e)) {
        snprintf(r->why, sizeof r->why, "workflow refused by the worker: %s", e.msg);
        run_settle_later(r, FIN_FAILED, out);
        return;
    }
    if (artifacts_tmpdir(w->cfg->artifact_dir, r->j.user, r->j.id, r->lease, r->tmpdir,
                         sizeof r->tmpdir, &e)) {
        wlog(w, "job %s: %s; requeueing", r->j.id, e.msg);
        r->tmpdir[0] = '\0';
        snprintf(r->why, sizeof r->why, "requeued: artifact store unavailable");
        run_settle_later(r, FIN_REQUEUE, out);
        return;
    }
    int carried = r->wf ? carry_checkpoint(w, r->j.user, r->j.id, r->lease, r->tmpdir) : 0;
    if (carried) {
        snprintf(line, sizeof line, "continuing from the checkpoint of an earlier attempt (epoch %d done)", carried);
        wlog(w, "job %s: %s", r->j.id, line);
        jobstore_log(w->js, r->j.user, r->j.id, r->lease, line, &e);
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
    if (prc == 0 && (prc = pthread_create(&r->th, NULL, job_thread, r)) != 0) {
        close(r->wake[0]);
        close(r->wake[1]);
        r->wake[0] = r->wake[1] = -1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        wlog(w, "job %s: cannot start job thread; requeueing", r->j.id);
        if (r->log)
            fclose(r->log);
        r->log = NULL;
        artifacts_remove(r->tmpdir, &e);
        r->tmpdir[0] = '\0';
        snprintf(r->why, sizeof r->why, "requeued");
        run_settle_later(r, FIN_REQUEUE, out);
        return;
    }
    r->has_thread = 1;
    *out = r;
    return;
drop:
    run_free(r);
}

/* Records a finished run's outcome and settles its delivery. Returns 0 when done (r is
 * freed), 1 when Redis was unavailable: r keeps what is left to do (r->fin; its artifact
 * set stays published) and the main loop calls again once Redis answers. */
static int finish_job(worker *w, run *r)
{
    mlhep_err e;
    const char *id = r->j.id, *user = r->j.user;
    if (r->fin == FIN_DECIDE) {
        if (r->has_thread) {
            pthread_join(r->th, NULL);
            r->has_thread = 0;
        }
        if (r->log)
            fclose(r->log);
        r->log = NULL;
        int stop = atomic_load(&r->stop);
        if (r->rc == 0 && (stop == STOP_NONE || stop == STOP_SHUTDOWN)) {
            r->fin = FIN_PUBLISH; /* complete: a shutdown asked at the last step changes nothing */
        } else {
            /* a training handed back at shutdown keeps its checkpoint for the next
             * attempt (carry_checkpoint); everything else of the attempt goes */
            char ck[4200];
            struct stat st;
            snprintf(ck, sizeof ck, "%s/" CKPT_FILE, r->tmpdir);
            if (stop == STOP_SHUTDOWN && stat(ck, &st) == 0)
                wlog(w, "job %s: stopped; its checkpoint stays in %s for the next attempt", id, r->tmpdir);
            else
                artifacts_remove(r->tmpdir, &e);
            r->tmpdir[0] = '\0';
            if (stop == STOP_LOST) {
                wlog(w, "job %s: lease lost (another worker took the job); stopped, nothing written", id);
                r->fin = FIN_ACK;
            } else if (stop == STOP_CANCEL) {
                r->fin = FIN_CANCELLED;
            } else if (stop == STOP_SHUTDOWN) {
                r->fin = FIN_HANDBACK;
            } else {
                snprintf(r->why, sizeof r->why, "%s", r->err.msg[0] ? r->err.msg : "pipeline failed");
                r->fin = FIN_FAILED;
            }
        }
    }
    for (;;) {
        int rc;
        switch (r->fin) {
        case FIN_PUBLISH: {
            /* complete: manifest, fence check, publish by rename */
            json_t *info = json_pack("{s:s, s:s, s:I, s:i, s:s, s:f}", "job", id, "user", user, "lease",
                                     (json_int_t)r->lease, "attempt", r->attempts, "worker",
                                     w->cfg->worker_id, "finished", job_now());
            rc = artifacts_manifest(r->tmpdir, info, &e);
            json_decref(info);
            if (rc) {
                wlog(w, "job %s: cannot write the manifest (%s): discarding this attempt's artifacts",
                     id, e.msg);
                artifacts_remove(r->tmpdir, &e);
                r->fin = FIN_NACK;
                break;
            }
            int beat = jobstore_beat(w->js, user, id, r->lease, w->cfg->lease_ttl, "export", 0.99,
                                     "publishing artifacts", &e);
            if (beat == JOBSTORE_UNAVAILABLE) {
                /* the lease cannot be confirmed now: keep the finished set and wait */
                wlog(w, "job %s: finished, but the lease cannot be confirmed (%s): waiting for Redis",
                     id, e.msg);
                store_went_down(w, e.msg);
                return 1;
            }
            if (beat == JS_CANCEL || beat == JS_LOST || beat < 0) {
                artifacts_remove(r->tmpdir, &e);
                r->tmpdir[0] = '\0';
                if (beat == JS_CANCEL) {
                    r->fin = FIN_CANCELLED;
                } else {
                    wlog(w, "job %s: %s before publishing: discarding this attempt's artifacts", id,
                         beat == JS_LOST ? "lease lost" : e.msg);
                    r->fin = beat == JS_LOST ? FIN_ACK : FIN_NACK;
                }
                break;
            }
            remove_job_tmpdirs(w, user, id, r->lease);
            rc = artifacts_final_path(w->cfg->artifact_dir, user, id, r->final, sizeof r->final, &e);
            if (!rc)
                rc = artifacts_commit(r->tmpdir, r->final, &e);
            if (rc == ARTIFACTS_EXISTS) {
                wlog(w, "job %s: a complete artifact set is already stored; keeping it", id);
                artifacts_remove(r->tmpdir, &e);
                rc = 0;
            }
            if (rc) {
                wlog(w, "job %s: cannot store artifacts: %s; requeueing", id, e.msg);
                artifacts_remove(r->tmpdir, &e);
                snprintf(r->why, sizeof r->why, "requeued: artifact store failed");
                r->fin = FIN_REQUEUE;
            } else {
                r->fin = FIN_SUCCEEDED;
            }
            r->tmpdir[0] = '\0'; /* published, or removed */
            break;
        }
        case FIN_SUCCEEDED:
            if (!r->logged)
                r->logged = jobstore_log(w->js, user, id, r->lease, "artifacts stored", &e) == 0;
            rc = jobstore_finish(w->js, user, id, r->lease, JOB_SUCCEEDED, NULL, r->final, "done", &e);
            if (rc == JOBSTORE_UNAVAILABLE) {
                wlog(w, "job %s: artifacts stored, success not recorded yet (%s): waiting for Redis",
                     id, e.msg);
                store_went_down(w, e.msg);
                return 1;
            }
            wlog(w, "job %s: succeeded%s", id, rc == JS_OK ? "" : " (record owned by a newer lease)");
            r->fin = FIN_ACK;
            break;
        case FIN_FAILED:
            if (!r->logged)
                r->logged = jobstore_log(w->js, user, id, r->lease, r->why, &e) == 0;
            rc = jobstore_finish(w->js, user, id, r->lease, JOB_FAILED, r->why, NULL, NULL, &e);
            if (rc == JOBSTORE_UNAVAILABLE) {
                store_went_down(w, e.msg);
                return 1;
            }
            if (rc == JS_OK)
                remove_job_tmpdirs(w, user, id, r->lease); /* the job is over */
            wlog(w, "job %s: failed: %s%s", id, r->why, rc == JS_OK ? "" : " (record owned by a newer lease)");
            r->fin = FIN_ACK;
            break;
        case FIN_CANCELLED:
            rc = jobstore_finish(w->js, user, id, r->lease, JOB_CANCELLED, NULL, NULL,
                                 "cancelled by its owner", &e);
            if (rc == JOBSTORE_UNAVAILABLE) {
                store_went_down(w, e.msg);
                return 1;
            }
            jobstore_log(w->js, user, id, r->lease, "stopped: cancelled by its owner", &e);
            wlog(w, "job %s: cancelled while running", id);
            r->fin = FIN_ACK;
            break;
        case FIN_HANDBACK: {
            char msg[256];
            snprintf(msg, sizeof msg, "handed back: worker %s shut down (attempt %d)",
                     w->cfg->worker_id, r->attempts);
            rc = jobstore_handback(w->js, user, id, r->lease, msg, &e);
            if (rc == JOBSTORE_UNAVAILABLE) {
                store_went_down(w, e.msg);
                return 1;
            }
            if (rc == JS_OK) {
                jobstore_log(w->js, user, id, r->lease, "worker shutting down: job handed back to the queue", &e);
                if (give_back(w, &r->d, "jobs.train"))
                    wlog(w, "job %s: handed back (shutdown; delivery count kept)", id);
                else
                    wlog(w, "job %s: requeued (shutdown)", id);
                amqpc_delivery_free(&r->d); /* settled */
                r->fin = FIN_ACK;
            } else if (rc == JS_CANCELLED) {
                wlog(w, "job %s: cancelled while running (asked before the shutdown)", id);
                r->fin = FIN_ACK;
            } else {
                wlog(w, "job %s: not handed back (%s): %s", id,
                     rc == JS_LOST ? "lease lost: another worker has it" : e.msg,
                     rc == JS_LOST ? "acked" : "requeued");
                r->fin = rc == JS_LOST ? FIN_ACK : FIN_NACK;
            }
            break;
        }
        case FIN_REQUEUE:
            rc = jobstore_finish(w->js, user, id, r->lease, JOB_QUEUED, NULL, NULL, r->why, &e);
            if (rc == JOBSTORE_UNAVAILABLE) {
                store_went_down(w, e.msg);
                return 1;
            }
            r->fin = FIN_NACK;
            break;
        case FIN_ACK:
        case FIN_NACK:
        default:
            if (r->d.tag) /* not settled yet (give_back settles and frees it) */
                settle(w, &r->d, r->fin == FIN_NACK ? 1 : 0);
            run_free(r);
            return 0;
        }
    }
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

/* A sub-task whose result could not be stored (Redis unavailable) is held, unacked, and
 * run again once Redis answers: a requeue would count against jobs.specs' delivery
 * limit. */
static void finish_sub(worker *w, subrun *s)
{
    pthread_join(s->th, NULL);
    wlog(w, "%s%s", s->info, s->d.redelivered ? " (redelivered)" : "");
    if (s->rc == JOBSTORE_UNAVAILABLE && !w->holding_sub) {
        w->held_sub = s->d;
        w->holding_sub = 1;
        memset(&s->d, 0, sizeof s->d);
        store_went_down(w, "sub-task result not stored");
    } else {
        settle(w, &s->d, s->rc == JOBSTORE_UNAVAILABLE ? 1 : 0);
    }
    close(s->wake[0]);
    close(s->wake[1]);
    amqpc_delivery_free(&s->d);
    free(s);
}

/* ---- main loop ------------------------------------------------------------------- */

/* 1 while the worker may take another job (not stopping, --max-jobs not reached). */
static int want_jobs(const worker *w, const run *cur)
{
    return !w->stopping && !(w->max_jobs > 0 && w->jobs_done + (cur ? 1 : 0) >= w->max_jobs);
}

static void stop_jobs_consumer(worker *w)
{
    mlhep_err e;
    if (w->consuming_jobs && amqpc_is_open(w->mq))
        amqpc_cancel(w->mq, CH_JOBS, "job", &e);
    w->consuming_jobs = 0;
}

/* Shutdown begins: no new job or sub-task; the running job has worker_stop_grace seconds
 * to finish before it is stopped at its next progress step and handed back. */
static void begin_stop(worker *w, run *cur, const char *why)
{
    w->stopping = 1;
    w->stop_at = job_now();
    if (cur && !atomic_load(&cur->done))
        wlog(w, "%s: job %s may finish within %g s (worker_stop_grace), else it is handed back "
             "at its next step", why, cur->j.id, w->cfg->worker_stop_grace);
    else
        wlog(w, "%s: %s", why, cur ? "recording the finished job, then exiting" : "exiting");
    stop_jobs_consumer(w);
    stop_specs_consumer(w);
}

static int run_worker(worker *w)
{
    run *cur = NULL;
    subrun *sub = NULL;
    double last_beat = 0, next_try = 0, backoff = 0.1;
    int health_state = -1;
    w->idle_since = job_now();
    for (;;) {
        double now = job_now();
        if (!w->stopping) {
            char why[64];
            if (g_signal) {
                snprintf(why, sizeof why, "signal %d", (int)g_signal);
                begin_stop(w, cur, why);
            } else if (!want_jobs(w, NULL) && !cur) {
                begin_stop(w, cur, "--max-jobs reached");
            } else if (w->idle_exit > 0 && !cur && !sub && !w->holding && !w->holding_sub &&
                       now - w->idle_since >= w->idle_exit) {
                begin_stop(w, cur, "idle for --idle-exit seconds");
            }
        }
        if (w->stopping && cur && !atomic_load(&cur->done) &&
            now >= w->stop_at + w->cfg->worker_stop_grace) {
            int none = STOP_NONE;
            if (atomic_compare_exchange_strong(&cur->stop, &none, STOP_SHUTDOWN))
                wlog(w, "job %s: stop grace over: handing it back at its next step", cur->j.id);
        }
        if (w->stopping && w->holding) { /* taken from the queue but never started */
            give_back(w, &w->held, "jobs.train");
            amqpc_delivery_free(&w->held);
            w->holding = 0;
        }
        if (w->stopping && w->holding_sub) {
            give_back(w, &w->held_sub, FANOUT_QUEUE);
            amqpc_delivery_free(&w->held_sub);
            w->holding_sub = 0;
        }
        if (w->stopping && !cur && !sub)
            return 0;
        if (w->stopping && cur && atomic_load(&cur->done) && w->store_down &&
            now >= w->stop_at + w->cfg->worker_stop_grace + 10) {
            /* the outcome cannot be recorded before we must go: leave the delivery to the
             * broker (it redelivers it; a published artifact set is kept by the next attempt) */
            wlog(w, "job %s: outcome not recorded (status store unavailable); exiting without "
                 "settling its delivery: the broker redelivers it", cur->j.id);
            if (cur->has_thread)
                pthread_join(cur->th, NULL);
            if (cur->log)
                fclose(cur->log);
            run_free(cur);
            cur = NULL;
            if (!sub)
                return 0;
        }
        mlhep_err e;
        if (w->store_down && now >= w->store_probe_at) {
            if (jobstore_worker_alive(w->js, w->cfg->worker_id, w->cfg->lease_ttl, &e) == 0) {
                w->store_down = 0;
                wlog(w, "status store reachable again: resuming");
                if (amqpc_is_open(w->mq) && consume_aux(w, &e))
                    wlog(w, "cannot resume the auxiliary consumers: %s", e.msg);
            } else {
                if (strcmp(e.msg, w->store_why) != 0) { /* e.g. refused, then LOADING */
                    snprintf(w->store_why, sizeof w->store_why, "%s", e.msg);
                    wlog(w, "status store still unavailable: %s", e.msg);
                }
                w->store_backoff = w->store_backoff * 2 > 2 ? 2 : w->store_backoff * 2;
                w->store_probe_at = job_now() + w->store_backoff;
            }
        }
        /* held deliveries, once Redis answers: a sub-task first (its coordinator waits) */
        if (w->holding_sub && !w->store_down && !cur && !sub && !w->stopping) {
            amqpc_delivery held = w->held_sub;
            w->holding_sub = 0;
            memset(&w->held_sub, 0, sizeof w->held_sub);
            if (held.generation != amqpc_generation(w->mq))
                wlog(w, "held sub-task belongs to a lost connection: the broker redelivers it");
            else
                start_sub(w, &held, &sub);
            amqpc_delivery_free(&held); /* no-op if start_sub took it */
        }
        if (w->holding && !w->store_down && !cur && !sub && !w->stopping) {
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
        if (cur && !want_jobs(w, cur))
            stop_jobs_consumer(w); /* --max-jobs: this is the last one */
        int rc = AMQPC_TIMEOUT;
        amqpc_delivery d;
        int idle_ok = !w->store_down && !w->holding && !w->holding_sub;
        if (!amqpc_is_open(w->mq))
            try_reconnect(w, &next_try, &backoff);
        if (!amqpc_is_open(w->mq)) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        } else if (!cur && want_jobs(w, NULL) && !w->consuming_jobs && idle_ok &&
                   start_jobs_consumer(w, &e)) {
            wlog(w, "cannot consume jobs.train: %s", e.msg);
        } else if (!cur && !sub && !w->stopping && !w->consuming_specs && idle_ok &&
                   start_specs_consumer(w, &e)) {
            wlog(w, "cannot consume %s: %s", FANOUT_QUEUE, e.msg);
        } else {
            if (cur && w->consuming_specs) /* busy: leave sub-tasks to idle workers */
                stop_specs_consumer(w);
            /* sleep until the broker sends something or the job/sub-task finishes */
            int fd = cur ? cur->wake[0] : sub ? sub->wake[0] : -1;
            int ev = amqpc_poll(w->mq, fd, 100, &e);
            if (ev < 0)
                rc = ev;
            else if (ev & 1)
                rc = amqpc_next(w->mq, &d, 0, &e);
        }
        if (rc < 0) {
            wlog(w, "broker connection lost: %s", e.msg);
        } else if (rc == 0) {
            if (!strcmp(d.consumer_tag, "job")) {
                if (cur || !want_jobs(w, NULL)) {
                    /* sent before our consumer was cancelled: give it back */
                    give_back(w, &d, "jobs.train");
                } else if (sub || w->holding || w->holding_sub || w->store_down) {
                    /* start the job once the sub-task is done (or Redis is back) */
                    if (w->holding) {
                        give_back(w, &d, "jobs.train");
                    } else {
                        w->held = d;
                        w->holding = 1;
                        memset(&d, 0, sizeof d);
                    }
                } else {
                    start_job(w, &d, &cur);
                    last_beat = job_now();
                }
                amqpc_delivery_free(&d); /* no-op if it was taken */
            } else if (!strcmp(d.consumer_tag, "spec")) {
                if (cur || sub || w->stopping || w->store_down || w->holding_sub) {
                    /* sent before our consumer was cancelled: give it back */
                    give_back(w, &d, FANOUT_QUEUE);
                } else {
                    start_sub(w, &d, &sub);
                    w->idle_since = job_now();
                }
                amqpc_delivery_free(&d); /* no-op if start_sub took it */
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
        now = job_now();
        if (now - last_beat >= w->cfg->heartbeat_interval) {
            last_beat = now;
            int a = jobstore_worker_alive(w->js, w->cfg->worker_id, w->cfg->lease_ttl, &e);
            if (a == JOBSTORE_UNAVAILABLE)
                store_went_down(w, e.msg);
            if (cur && !atomic_load(&cur->done) && a == 0) {
                int b = jobstore_beat(w->js, cur->j.user, cur->j.id, cur->lease, w->cfg->lease_ttl,
                                      NULL, 0, NULL, &e);
                int none = STOP_NONE;
                if (b == JS_LOST)
                    atomic_compare_exchange_strong(&cur->stop, &none, STOP_LOST);
                else if (b == JS_CANCEL)
                    atomic_compare_exchange_strong(&cur->stop, &none, STOP_CANCEL);
                else if (b < 0)
                    wlog(w, "job %s: heartbeat failed: %s", cur->j.id, e.msg);
                if (b == JOBSTORE_UNAVAILABLE)
                    store_went_down(w, e.msg);
            }
            health_write(w, cur ? cur->j.id : NULL);
        }
        int hs = amqpc_is_open(w->mq) | w->store_down << 1 | w->stopping << 2 | (cur != NULL) << 3;
        if (hs != health_state) {
            health_state = hs;
            health_write(w, cur ? cur->j.id : NULL);
        }
        if (cur && atomic_load(&cur->done) && !w->store_down) {
            if (finish_job(w, cur) == 0) {
                cur = NULL;
                w->jobs_done++;
                w->idle_since = job_now();
            }
        }
        if (sub && atomic_load(&sub->done)) {
            finish_sub(w, sub);
            sub = NULL;
            w->idle_since = job_now();
        }
    }
}

/* --check=live / --check=ready: the running worker's state from worker_health_path. */
static int check_health(const mlhep_config *cfg, int ready)
{
    const char *form = ready ? "ready" : "live";
    const char *path = cfg->worker_health_path;
    if (!path || !*path) {
        fprintf(stderr, "mlhep-worker --check=%s: worker_health_path is not set (the worker "
                "writes its state there)\n", form);
        return 1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mlhep-worker --check=%s: %s: %s (worker not started yet?)\n", form, path,
                strerror(errno));
        return 1;
    }
    char line[256], broker[16] = "", store[16] = "", job_id[64] = "-";
    long pid = 0;
    int accepting = 0;
    double updated = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, '=');
        if (!v)
            continue;
        *v++ = '\0';
        if (!strcmp(line, "pid"))
            pid = strtol(v, NULL, 10);
        else if (!strcmp(line, "updated"))
            updated = strtod(v, NULL);
        else if (!strcmp(line, "broker"))
            snprintf(broker, sizeof broker, "%s", v);
        else if (!strcmp(line, "store"))
            snprintf(store, sizeof store, "%s", v);
        else if (!strcmp(line, "accepting"))
            accepting = !strcmp(v, "1");
        else if (!strcmp(line, "job"))
            snprintf(job_id, sizeof job_id, "%s", v);
    }
    fclose(f);
    /* the main loop writes at least every heartbeat_interval; it may block for a while on a
     * connection attempt (timeouts of 5 s) */
    double age = job_now() - updated, limit = fmax(30, 4 * cfg->heartbeat_interval);
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
        fprintf(stderr, "mlhep-worker --check=%s: the worker (pid %ld in %s) is not running\n", form,
                pid, path);
        return 1;
    }
    if (age > limit) {
        fprintf(stderr, "mlhep-worker --check=%s: the worker (pid %ld) last wrote its state %.0f s "
                "ago (limit %.0f s): stuck\n", form, pid, age, limit);
        return 1;
    }
    if (ready && (strcmp(broker, "up") || strcmp(store, "up") || !accepting)) {
        fprintf(stderr, "mlhep-worker --check=ready: not ready: broker %s, status store %s%s\n",
                broker, store, accepting ? "" : ", shutting down");
        return 1;
    }
    printf("%s (pid %ld, job %s, broker %s, status store %s)\n", form, pid, job_id, broker, store);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlhep-worker [--config FILE] [--max-jobs N] [--idle-exit SEC]\n"
            "       mlhep-worker [--config FILE] --check[=live|ready] | --print-config | --queue-depth Q\n"
            "  Runs jobs from the broker (queue jobs.train) one at a time until SIGTERM/SIGINT\n"
            "  (the running job gets worker_stop_grace seconds to finish, else it is handed back).\n"
            "\n"
            "options:\n"
            "  --config FILE   key=value configuration (default $MLHEP_CONFIG); MLHEP_* variables\n"
            "                  override it (every key: docs/operations.md)\n"
            "  --max-jobs N    exit 0 after N jobs (one per pod of a KEDA ScaledJob: N = 1)\n"
            "  --idle-exit SEC exit 0 after SEC seconds without a job or sub-task\n"
            "  --check         connect to the broker and Redis, then exit 0 (both answer) or 1\n"
            "  --check=live    liveness: exit 0 if the running worker's state file\n"
            "                  (worker_health_path) is fresh; broker and Redis outages do not count\n"
            "  --check=ready   readiness: also the broker and Redis answer and it accepts jobs\n"
            "  --print-config  print the effective configuration (secrets masked) and exit\n"
            "  --queue-depth Q print the number of ready messages in queue Q (e.g. jobs.train)\n"
            "                  and its consumer count, then exit (for probes and autoscaling)\n"
            "  -h, --help      this text\n"
            "\n"
            "examples:\n"
            "  mlhep-worker --config /etc/mlhep/worker.conf\n"
            "  mlhep-worker --config /etc/mlhep/worker.conf --max-jobs 1      # one job per pod\n"
            "  mlhep-worker --config /etc/mlhep/worker.conf --check=ready && echo ready\n"
            "  mlhep-worker --config /etc/mlhep/worker.conf --queue-depth jobs.train\n"
            "\n"
            "exit codes: 0 clean stop, 1 cannot connect or not healthy (--check), 2 usage,\n"
            "3 configuration\n");
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    int check = 0, print = 0; /* check: 1 connectivity, 2 live, 3 ready */
    const char *depthq = NULL;
    long max_jobs = 0;
    double idle_exit = 0;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check", optional_argument, 0, 'k'},
                                         {"print-config", no_argument, 0, 'p'},
                                         {"queue-depth", required_argument, 0, 'q'},
                                         {"max-jobs", required_argument, 0, 'm'},
                                         {"idle-exit", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    mlhep_err e;
    err_clear(&e);
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': cfgpath = optarg; break;
        case 'k':
            check = !optarg ? 1 : !strcmp(optarg, "live") ? 2 : !strcmp(optarg, "ready") ? 3 : -1;
            if (check < 0) {
                fprintf(stderr, "mlhep-worker: --check=%s: expected --check, --check=live or "
                        "--check=ready\n", optarg);
                return 2;
            }
            break;
        case 'p': print = 1; break;
        case 'q': depthq = optarg; break;
        case 'm':
            if (numarg_long("--max-jobs", optarg, 1, 1000000000L, &max_jobs, &e)) {
                fprintf(stderr, "mlhep-worker: %s\n", e.msg);
                return 2;
            }
            break;
        case 'i':
            if (numarg_double("--idle-exit", optarg, 0.1, 1e9, &idle_exit, &e)) {
                fprintf(stderr, "mlhep-worker: %s\n", e.msg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    mlhep_config cfg;
    if (config_load(&cfg, cfgpath, &e)) {
        fprintf(stderr, "mlhep-worker: configuration: %s\n", e.msg);
        return 3;
    }
    if (print) {
        config_print(&cfg, stdout);
        config_free(&cfg);
        return 0;
    }
    if (check >= 2) {
        int rc = check_health(&cfg, check == 3);
        config_free(&cfg);
        return rc;
    }
    worker w = {.cfg = &cfg, .max_jobs = max_jobs, .idle_exit = idle_exit};
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
        /* every remote input this process opens is checked and read with the remote_*
         * settings (configuration read once, before any thread) */
        if (config_srcaccess(&cfg, w.env->hosts, &w.access, &w.token_hosts, &e)) {
            fprintf(stderr, "mlhep-worker: configuration: %s\n", e.msg);
            auth_close(w.auth);
            pipeline_env_free(w.env);
            config_free(&cfg);
            return 3;
        }
        source_set_access(&w.access);
        /* XrdCl's security plugins read their credentials from the environment only */
        if (*cfg.remote_x509_proxy)
            setenv("X509_USER_PROXY", cfg.remote_x509_proxy, 1);
        if (*cfg.remote_ca_dir)
            setenv("X509_CERT_DIR", cfg.remote_ca_dir, 1);
        if (*cfg.remote_token_path)
            setenv("BEARER_TOKEN_FILE", cfg.remote_token_path, 1);
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
    if (!rc) /* what crashed attempts left behind (their lease is no longer current) */
        sweep_tmpdirs(&w, fmax(60, 2 * cfg.lease_ttl));
    /* first connection: retry like later reconnects (the broker may still be booting) */
    /* (a refused login is retried too: a booting broker may not have its users yet) */
    while (!rc && amqpc_connect(&w.mq, &p, &e)) {
        wlog(&w, "waiting for broker: %s", e.msg);
        health_write(&w, NULL);
        if (g_signal) {
            rc = 0;
            break;
        }
        sleep(1);
    }
    if (!rc && w.mq && !g_signal) {
        if (setup_channels(&w, &e))
            wlog(&w, "channel setup failed (%s); reconnecting", e.msg);
        wlog(&w, "ready: artifact store %s, heartbeat %.2g s, lease %.2g s, stop grace %g s",
             cfg.artifact_dir, cfg.heartbeat_interval, cfg.lease_ttl, cfg.worker_stop_grace);
        rc = run_worker(&w);
        wlog(&w, "stopped");
    }
    if (w.holding)
        amqpc_delivery_free(&w.held);
    if (w.holding_sub)
        amqpc_delivery_free(&w.held_sub);
    if (*cfg.worker_health_path)
        unlink(cfg.worker_health_path); /* a stopped worker is neither live nor ready */
    amqpc_close(w.pub);
    amqpc_close(w.mq);
    jobstore_close(w.js);
    jobstore_close(w.js_job);
    auth_close(w.auth);
    pipeline_env_free(w.env);
    hostpolicy_free(w.token_hosts);
    config_free(&cfg);
    return rc;
}

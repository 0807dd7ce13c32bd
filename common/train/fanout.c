/* fanout.c - see fanout.h (the sub-task lifecycle is described there). */
#include "train/fanout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "service/amqp_client.h"
#include "service/job.h"
#include "root/rootfile.h"
#include "root/ttree.h"

#define CH_PUB 1 /* confirm mode: the batch of sub-tasks */
#define CH_GET 2 /* basic.get while waiting */

typedef struct task {
    char id[JOB_ID_HEX + 1];
    char user[JOB_USER_MAX + 1];
    long long lease;
    long long n, ntasks;
    long long file, unit0, nunits;
    json_t *workflow; /* owned */
} task;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int fanout_wanted(const mlhep_config *cfg, const workflow *wf)
{
    return cfg->fanout_min_files > 0 && wf->nfiles >= (size_t)cfg->fanout_min_files;
}

/* ---- the sub-task message ---------------------------------------------------------- */

/* The message of sub-task n; NULL when out of memory, or when it would exceed
 * JOB_MESSAGE_MAX (then *len is its size): the coordinator computes the pass itself. */
static char *task_encode(const fanout_job *fj, long long n, long long ntasks, long long file,
                         long long unit0, long long nunits, size_t *len)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:O}", "v", 1, "kind", "specs",
                          "id", fj->id, "user", fj->user, "lease", (json_int_t)fj->lease, "task",
                          (json_int_t)n, "ntasks", (json_int_t)ntasks, "file", (json_int_t)file, "unit0",
                          (json_int_t)unit0, "nunits", (json_int_t)nunits, "workflow", fj->workflow);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    *len = s ? strlen(s) : 0;
    if (*len > JOB_MESSAGE_MAX) { /* task_decode would refuse it */
        free(s);
        s = NULL;
    }
    return s;
}

static int get_ll(json_t *o, const char *k, long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

/* 0 and t filled (task_clear), 1 if the message is valid JSON but not a sub-task,
 * negative if malformed. */
static int task_decode(const void *body, size_t len, task *t, mlhep_err *e)
{
    memset(t, 0, sizeof *t);
    if (len > JOB_MESSAGE_MAX)
        return err_set(e, MLHEP_EINVAL, "sub-task message too large (%zu bytes)", len);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return err_set(e, MLHEP_EFORMAT, "sub-task message is not JSON: %s", je.text);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (!kind || strcmp(kind, "specs")) {
        json_decref(o);
        return 1;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *user = json_string_value(json_object_get(o, "user"));
    json_t *wf = json_object_get(o, "workflow");
    int rc = 0;
    if (json_integer_value(json_object_get(o, "v")) != 1 || !id || !job_id_valid(id) || !user ||
        !job_user_valid(user) || !json_is_object(wf) ||
        get_ll(o, "lease", 1, INT64_MAX, &t->lease) || get_ll(o, "ntasks", 1, 1000000, &t->ntasks) ||
        get_ll(o, "task", 0, t->ntasks - 1, &t->n) || get_ll(o, "file", 0, 1000000, &t->file) ||
        get_ll(o, "unit0", 0, INT64_MAX / 2, &t->unit0) || get_ll(o, "nunits", -1, INT64_MAX / 2, &t->nunits))
        rc = err_set(e, MLHEP_EINVAL, "malformed sub-task message (version 1 expected)");
    if (!rc) {
        snprintf(t->id, sizeof t->id, "%s", id);
        snprintf(t->user, sizeof t->user, "%s", user);
        t->workflow = json_incref(wf);
    }
    json_decref(o);
    return rc;
}

static void task_clear(task *t)
{
    json_decref(t->workflow);
    t->workflow = NULL;
}

/* ---- step 2/3: running a sub-task -------------------------------------------------- */

int fanout_task_run(const fanout_env *fe, const void *body, size_t len, char *info, size_t infosz)
{
    task t;
    mlhep_err e;
    err_clear(&e);
    int rc = task_decode(body, len, &t, &e);
    if (rc) {
        snprintf(info, infosz, "dropping a message that is not a sub-task: %s",
                 rc == 1 ? "no \"kind\":\"specs\"" : e.msg);
        return 0;
    }
    double t0 = now_s();
    int cur = jobstore_lease_current(fe->js, t.user, t.id, t.lease, &e);
    if (cur <= 0) {
        if (cur < 0)
            snprintf(info, infosz, "sub-task %lld/%lld of job %s: status store unavailable (%s): "
                     "requeueing", t.n + 1, t.ntasks, t.id, e.msg);
        else
            snprintf(info, infosz, "sub-task %lld/%lld of job %s: stale (the job is no longer "
                     "running under lease %lld): dropped", t.n + 1, t.ntasks, t.id, t.lease);
        task_clear(&t);
        return cur < 0 ? MLHEP_ENET : 0;
    }
    workflow *wf = NULL;
    preproc *pp = NULL;
    specs *plan = NULL;
    specs_part *p = NULL;
    char *doc = NULL;
    const char *what = "workflow";
    rc = pipeline_validate(t.workflow, fe->penv, &wf, &e);
    if (!rc && !wf)
        rc = err_set(&e, MLHEP_EINVAL, "the workflow has no input files");
    if (!rc && (size_t)t.file >= wf->nfiles)
        rc = err_set(&e, MLHEP_EINVAL, "file index %lld out of range (%zu files)", t.file, wf->nfiles);
    if (!rc) {
        what = wf->files[t.file].given ? wf->files[t.file].given : wf->files[t.file].path;
        rc = specs_preproc(&wf->data, &pp, &e);
    }
    if (!rc)
        rc = specs_plan(&wf->data, pp, &plan, &e);
    if (!rc)
        rc = specs_part_compute(&wf->data, pp, plan, (size_t)t.file, t.unit0, t.nunits, NULL, NULL, &p, &e);
    if (!rc) {
        json_t *o = specs_part_to_json(plan, p);
        doc = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!doc)
            rc = err_set(&e, MLHEP_ENOMEM, "out of memory");
    }
    int ret = 0;
    mlhep_err se;
    err_clear(&se);
    if (!rc) {
        char field[32];
        snprintf(field, sizeof field, "%lld", t.n);
        if (jobstore_part_put(fe->js, t.user, t.id, t.lease, field, doc, &se)) {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s: result not stored (%s): requeueing",
                     t.n + 1, t.ntasks, t.id, se.msg);
            ret = MLHEP_ENET;
        } else {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s: file %lld units %lld+%lld: %lld "
                     "events in %.2f s", t.n + 1, t.ntasks, t.id, t.file, (long long)p->unit0,
                     (long long)p->nunits, (long long)p->events, now_s() - t0);
        }
    } else {
        char why[1200];
        snprintf(why, sizeof why, "%s %s: %s", wf ? "file" : "sub-task", what, e.msg);
        if (jobstore_part_fail(fe->js, t.user, t.id, t.lease, why, &se)) {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s failed (%s) and the failure was not "
                     "recorded (%s): requeueing", t.n + 1, t.ntasks, t.id, why, se.msg);
            ret = MLHEP_ENET;
        } else {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s failed: %s", t.n + 1, t.ntasks, t.id, why);
        }
    }
    free(doc);
    specs_part_free(p);
    specs_free(plan);
    preproc_free(pp);
    workflow_free(wf);
    task_clear(&t);
    return ret;
}

int fanout_task_dead(jobstore *js, const void *body, size_t len, const char *reason, mlhep_err *e)
{
    task t;
    mlhep_err de;
    if (task_decode(body, len, &t, &de) != 0)
        return 0;
    const char *path = json_string_value(
        json_object_get(json_array_get(json_object_get(t.workflow, "files"), (size_t)t.file), "path"));
    char why[600];
    snprintf(why, sizeof why, "sub-task %lld/%lld (file %s) dead-lettered by the broker (%s): it "
             "kills or hangs its workers", t.n + 1, t.ntasks, path ? path : "?",
             reason && *reason ? reason : "unknown reason");
    int rc = jobstore_part_fail(js, t.user, t.id, t.lease, why, e);
    task_clear(&t);
    return rc ? rc : 1;
}

/* ---- step 1: the plan of sub-tasks ------------------------------------------------- */

typedef struct run_span {
    long long file, unit0, nunits;
} run_span;

/* One span per file, or several for a local file over the split size. */
static int make_spans(const fanout_env *fe, const workflow *wf, run_span **out, size_t *n, mlhep_err *e)
{
    size_t cap = wf->nfiles + 16, k = 0;
    run_span *v = malloc(cap * sizeof *v);
    if (!v)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    long long split = (long long)fe->cfg->fanout_split_mb << 20;
    for (size_t i = 0; i < wf->nfiles; i++) {
        struct stat st;
        long long nparts = 1, units = 0;
        if (split > 0 && wf->files[i].kind == WF_LOCAL && stat(wf->files[i].path, &st) == 0 &&
            (long long)st.st_size > split) {
            rootfile *f;
            ttree *t;
            mlhep_err ie;
            if (rootfile_open(wf->files[i].path, &f, &ie) == 0) {
                if (ttree_open(f, wf->tree, &t, &ie) == 0) {
                    units = (t->entries + SPECS_UNIT_ENTRIES - 1) / SPECS_UNIT_ENTRIES;
                    ttree_free(t);
                }
                rootfile_close(f);
            }
            nparts = ((long long)st.st_size + split - 1) / split;
            if (nparts > units)
                nparts = units > 0 ? units : 1;
        }
        long long per = nparts > 1 ? (units + nparts - 1) / nparts : -1;
        for (long long j = 0; j < nparts; j++) {
            if (k == cap) {
                run_span *nv = realloc(v, (cap *= 2) * sizeof *v);
                if (!nv) {
                    free(v);
                    return err_set(e, MLHEP_ENOMEM, "out of memory");
                }
                v = nv;
            }
            long long u0 = per > 0 ? j * per : 0;
            if (per > 0 && u0 >= units)
                break;
            v[k++] = (run_span){(long long)i, u0, per > 0 && j < nparts - 1 ? per : -1};
        }
    }
    *out = v;
    *n = k;
    return 0;
}

static int publish_tasks(amqpc *mq, const fanout_job *fj, const run_span *sp, size_t n, mlhep_err *e)
{
    char **bodies = calloc(n + 1, sizeof *bodies);
    size_t *lens = calloc(n + 1, sizeof *lens);
    char (*ids)[96] = calloc(n + 1, sizeof *ids);
    const char **idp = calloc(n + 1, sizeof *idp);
    int rc = bodies && lens && ids && idp ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        if (!(bodies[i] = task_encode(fj, (long long)i, (long long)n, sp[i].file, sp[i].unit0, sp[i].nunits,
                                      &lens[i])))
            rc = lens[i] > JOB_MESSAGE_MAX
                     ? err_set(e, MLHEP_EINVAL, "a sub-task message would be %zu bytes (limit %u)", lens[i],
                               JOB_MESSAGE_MAX)
                     : err_set(e, MLHEP_ENOMEM, "out of memory");
        snprintf(ids[i], sizeof ids[i], "%s:%lld:%zu", fj->id, fj->lease, i);
        idp[i] = ids[i];
    }
    if (!rc)
        rc = amqpc_publish_batch(mq, CH_PUB, "", FANOUT_QUEUE, (const void *const *)bodies, lens, idp, n, e);
    for (size_t i = 0; bodies && i < n; i++)
        free(bodies[i]);
    free(bodies);
    free(lens);
    free(ids);
    free(idp);
    return rc;
}

/* ---- step 4: the coordinator ------------------------------------------------------- */

static void jlog(const fanout_job *fj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jlog(const fanout_job *fj, const char *fmt, ...)
{
    if (!fj->log)
        return;
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fj->log(fj->ctx, line);
}

static amqpc *connect_broker(const mlhep_config *cfg, mlhep_err *e)
{
    amqpc_params p = {cfg->amqp_host, cfg->amqp_port, cfg->amqp_user, cfg->amqp_password,
                      cfg->amqp_vhost, cfg->amqp_heartbeat, 5000};
    amqpc *mq = NULL;
    int rc = amqpc_connect(&mq, &p, e);
    if (!rc)
        rc = amqpc_channel_open(mq, CH_PUB, e);
    if (!rc)
        rc = amqpc_channel_open(mq, CH_GET, e);
    if (!rc)
        rc = amqpc_confirm_select(mq, CH_PUB, e);
    if (rc) {
        amqpc_close(mq);
        return NULL;
    }
    return mq;
}

/* Reads the N parts and folds them in order. */
static int fold_parts(const fanout_env *fe, const fanout_job *fj, const workflow *wf, const preproc *pp,
                      size_t n, specs **out, mlhep_err *e)
{
    json_t *all = NULL;
    specs *plan = NULL;
    specs_folder *f = NULL;
    int rc = jobstore_parts_get(fe->js, fj->user, fj->id, fj->lease, &all, e);
    if (!rc)
        rc = specs_plan(&wf->data, pp, &plan, e);
    if (!rc) {
        rc = specs_folder_new(&wf->data, plan, &f, e); /* owns plan from here */
        if (rc)
            plan = NULL;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        char field[32];
        snprintf(field, sizeof field, "%zu", i);
        const char *s = json_string_value(json_object_get(all, field));
        json_error_t je;
        json_t *doc = s ? json_loads(s, 0, &je) : NULL;
        specs_part *p = NULL;
        if (!doc)
            rc = err_set(e, MLHEP_EINVAL, "specs sub-task %zu: result %s", i, s ? je.text : "missing");
        else
            rc = specs_part_from_json(doc, plan, &p, e);
        if (!rc)
            rc = specs_folder_add(f, p, e);
        if (rc)
            err_prefix(e, "specs sub-task %zu of %zu", i + 1, n);
        specs_part_free(p);
        json_decref(doc);
    }
    json_decref(all);
    if (!rc) {
        rc = specs_folder_finish(f, &wf->data, out, e);
        if (!rc)
            f = NULL;
    }
    specs_folder_free(f);
    return rc;
}

int fanout_specs(const fanout_env *fe, const fanout_job *fj, const workflow *wf, const preproc *pp,
                 specs **out, mlhep_err *e)
{
    *out = NULL;
    double t0 = now_s();
    run_span *sp = NULL;
    size_t n = 0;
    int rc = make_spans(fe, wf, &sp, &n, e);
    if (rc)
        return rc;
    mlhep_err be;
    err_clear(&be);
    amqpc *mq = connect_broker(fe->cfg, &be);
    if (!mq || publish_tasks(mq, fj, sp, n, &be)) {
        jlog(fj, "specs fan-out unavailable (%s): computing the specs pass on this worker", be.msg);
        amqpc_close(mq);
        free(sp);
        return 0;
    }
    free(sp);
    if (n == wf->nfiles)
        jlog(fj, "specs pass fanned out: %zu sub-tasks (one per file) on queue %s", n, FANOUT_QUEUE);
    else
        jlog(fj, "specs pass fanned out: %zu sub-tasks for %zu files on queue %s", n, wf->nfiles,
             FANOUT_QUEUE);
    long long done = 0, mine = 0;
    amqpc_delivery held = {0};
    int holding = 0;
    double next_conn = 0;
    int naps = 0;
    char why[1024], msg[160];
    for (;;) {
        mlhep_err se;
        if (jobstore_parts_status(fe->js, fj->user, fj->id, fj->lease, &done, why, sizeof why, &se)) {
            done = -1; /* Redis away for a moment: keep waiting (the step reports a lost lease) */
        } else if (why[0]) {
            rc = err_set(e, MLHEP_EINVAL, "specs pass failed: %s", why);
            break;
        } else if (done >= (long long)n) {
            break;
        }
        if (n == wf->nfiles)
            snprintf(msg, sizeof msg, "specs %lld/%zu files", done < 0 ? 0 : done, n);
        else
            snprintf(msg, sizeof msg, "specs %lld/%zu sub-tasks (%zu files)", done < 0 ? 0 : done, n, wf->nfiles);
        if (fj->step && fj->step(fj->ctx, done < 0 ? 0 : done, (long long)n, msg)) {
            rc = PIPELINE_STOPPED;
            break;
        }
        /* help: take a queued sub-task (of this job or another) and run it here */
        if (!mq && now_s() >= next_conn) {
            mq = connect_broker(fe->cfg, &be);
            next_conn = now_s() + 2;
        }
        if (mq) {
            amqpc_delivery d;
            int g = 0;
            if (holding) { /* its result could not be stored: run it again */
                d = held;
                holding = 0;
            } else {
                g = amqpc_get(mq, CH_GET, FANOUT_QUEUE, &d, &be);
            }
            if (g == 0) {
                char info[1600];
                int tr = fanout_task_run(fe, d.body, d.len, info, sizeof info);
                if (d.redelivered)
                    jlog(fj, "specs: ran a redelivered sub-task here: %s", info);
                if (tr == MLHEP_ENET) {
                    /* Redis unavailable: keep it unacked and run it again after a nap (a
                     * requeue would count against the queue's delivery limit) */
                    held = d;
                    holding = 1;
                    nap_ms(200);
                    continue;
                }
                amqpc_ack(mq, CH_GET, d.tag, &be);
                amqpc_delivery_free(&d);
                mine++;
                naps = 0;
                continue;
            }
            if (g < 0) {
                jlog(fj, "specs: lost the broker connection while waiting (%s); still waiting", be.msg);
                amqpc_close(mq);
                mq = NULL;
            }
        }
        nap_ms(naps < 10 ? 20 : 100); /* short naps first: small sub-tasks finish quickly */
        naps++;
    }
    if (holding) { /* stopped while holding one: back to the queue */
        amqpc_nack(mq, CH_GET, held.tag, 1, &be);
        amqpc_delivery_free(&held);
    }
    amqpc_close(mq);
    if (!rc) {
        rc = fold_parts(fe, fj, wf, pp, n, out, e);
        if (!rc)
            jlog(fj, "specs pass: %zu sub-tasks merged in %.2f s (%lld run by this worker)", n,
                 now_s() - t0, mine);
    }
    mlhep_err de;
    jobstore_parts_drop(fe->js, fj->user, fj->id, fj->lease, &de);
    return rc;
}

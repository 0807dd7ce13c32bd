/* fanout.c - see fanout.h (the sub-task lifecycle is described there). */
#include "train/fanout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "service/amqp_client.h"
#include "service/job.h"
#include "service/msgsig.h"
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
    json_t *files;  /* the slice's entries (owned) */
    json_t *labels; /* their labels, or NULL (owned) */
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
    /* a job with its own delegated credential reads every file itself: the credential
     * is opened for that job's thread only and never carried to sub-tasks */
    if (wf->data.access)
        return 0;
    return cfg->fanout_min_files > 0 && wf->nfiles >= (size_t)cfg->fanout_min_files;
}

/* ---- the plan: spans of files and units ------------------------------------------- */

/* Sub-task n covers files [file, file + nfiles); a split file (nfiles 1) only its
 * units [unit0, unit0 + nunits). */
typedef struct run_span {
    long long file, nfiles, unit0, nunits;
} run_span;

/* ---- the sub-task message ---------------------------------------------------------- */

/* The message of sub-task n (format in fanout.h) into *out (malloc'ed); MLHEP_ENOMEM
 * naming the size when it would exceed FANOUT_TASK_MAX (then the coordinator computes
 * the pass itself). */
static int task_encode(const fanout_job *fj, long long n, long long ntasks, const run_span *sp, char **out,
                       size_t *len, mlhep_err *e)
{
    *out = NULL;
    const json_t *files = json_object_get(fj->workflow, "files"), *labels = json_object_get(fj->workflow, "labels");
    json_t *fs = json_array(), *ls = json_is_array(labels) ? json_array() : NULL;
    for (long long i = sp->file; fs && i < sp->file + sp->nfiles; i++) {
        json_array_append(fs, json_array_get(files, (size_t)i));
        if (ls)
            json_array_append(ls, json_array_get(labels, (size_t)i));
    }
    json_t *o = fs ? json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "v", 2, "kind", "specs",
                               "id", fj->id, "user", fj->user, "lease", (json_int_t)fj->lease, "task",
                               (json_int_t)n, "ntasks", (json_int_t)ntasks, "file", (json_int_t)sp->file, "unit0",
                               (json_int_t)sp->unit0, "nunits", (json_int_t)sp->nunits, "files", fs)
                   : NULL;
    if (o && ls)
        json_object_set_new(o, "labels", ls);
    else
        json_decref(ls);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    *len = strlen(s);
    if (*len > FANOUT_TASK_MAX) { /* task_decode would refuse it */
        free(s);
        return err_set(e, MLHEP_ENOMEM, "sub-task %lld would be %zu bytes (FANOUT_TASK_MAX %u)", n + 1, *len,
                       FANOUT_TASK_MAX);
    }
    *out = s;
    return 0;
}

static int get_ll(json_t *o, const char *k, long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static void task_clear(task *t)
{
    json_decref(t->files);
    json_decref(t->labels);
    t->files = t->labels = NULL;
}

/* 0 and t filled (task_clear), 1 if the message is valid JSON but not a sub-task,
 * negative if malformed. */
static int task_decode(const void *body, size_t len, task *t, mlhep_err *e)
{
    memset(t, 0, sizeof *t);
    if (len > FANOUT_TASK_MAX)
        return err_set(e, MLHEP_EINVAL, "sub-task message too large (%zu bytes, FANOUT_TASK_MAX %u)", len,
                       FANOUT_TASK_MAX);
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
    json_t *files = json_object_get(o, "files"), *labels = json_object_get(o, "labels");
    size_t nf = json_array_size(files);
    int rc = 0;
    if (json_integer_value(json_object_get(o, "v")) != 2 || !id || !job_id_valid(id) || !user ||
        !job_user_valid(user) || !json_is_array(files) || nf == 0 ||
        (labels && (!json_is_array(labels) || json_array_size(labels) != nf)) ||
        get_ll(o, "lease", 1, INT64_MAX, &t->lease) || get_ll(o, "ntasks", 1, 1000000, &t->ntasks) ||
        get_ll(o, "task", 0, t->ntasks - 1, &t->n) || get_ll(o, "file", 0, 1000000, &t->file) ||
        get_ll(o, "unit0", 0, INT64_MAX / 2, &t->unit0) || get_ll(o, "nunits", -1, INT64_MAX / 2, &t->nunits) ||
        (nf > 1 && (t->unit0 != 0 || t->nunits != -1)))
        rc = err_set(e, MLHEP_EINVAL, "malformed sub-task message (version 2 expected)");
    if (!rc) {
        snprintf(t->id, sizeof t->id, "%s", id);
        snprintf(t->user, sizeof t->user, "%s", user);
        t->files = json_incref(files);
        t->labels = json_incref(labels);
    }
    json_decref(o);
    return rc;
}

/* The path of a slice entry (an object {"path", ...} or a bare path). */
static const char *entry_path(const json_t *v)
{
    const char *p = json_string_value(v);
    return p ? p : json_string_value(json_object_get(v, "path"));
}

/* The workflow a sub-task runs: the shared one (the job's with its first file only)
 * plus the slice; *first: the index, in it, of the slice's first file. */
static json_t *task_workflow(const char *shared, const task *t, size_t *first, mlhep_err *e)
{
    json_error_t je;
    json_t *wf = json_loads(shared, JSON_REJECT_DUPLICATES, &je);
    json_t *files = json_object_get(wf, "files"), *labels = json_object_get(wf, "labels");
    if (!json_is_object(wf) || json_array_size(files) != 1 || (t->labels && json_array_size(labels) != 1) ||
        (!t->labels && json_is_array(labels))) {
        json_decref(wf);
        err_set(e, MLHEP_EFORMAT, "the sub-tasks' shared workflow is not what the coordinator writes");
        return NULL;
    }
    *first = t->file == 0 ? 0 : 1;
    size_t nf = json_array_size(t->files);
    for (size_t i = t->file == 0 ? 1 : 0; i < nf; i++) { /* file 0 is there already */
        json_array_append(files, json_array_get(t->files, i));
        if (t->labels)
            json_array_append(labels, json_array_get(t->labels, i));
    }
    return wf;
}

/* ---- step 2/3: running a sub-task -------------------------------------------------- */

int fanout_task_run(const fanout_env *fe, const void *body, size_t len, const char *sig, char *info,
                    size_t infosz)
{
    task t;
    mlhep_err e;
    err_clear(&e);
    /* provenance first: nothing is read or written for a message the service did not sign */
    if (msgsig_verify(fe->key, MSGSIG_SPECS, sig, body, len, NULL, &e)) {
        snprintf(info, infosz, "dropped a jobs.specs message that does not come from the service (%s): "
                 "nothing recorded", e.msg);
        return 0;
    }
    int rc = task_decode(body, len, &t, &e);
    if (rc) {
        snprintf(info, infosz, "dropping a message that is not a sub-task: %s",
                 rc == 1 ? "no \"kind\":\"specs\"" : e.msg);
        return 0;
    }
    double t0 = now_s();
    int cur = jobstore_lease_current(fe->js, t.user, t.id, t.lease, &e);
    char *shared = NULL;
    if (cur > 0) {
        int g = jobstore_specs_doc_get(fe->js, t.user, t.id, t.lease, &shared, &e);
        cur = g == JS_MISSING ? 0 : g < 0 ? g : 1;
    }
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
    json_t *parts = json_array();
    char *doc = NULL;
    size_t first = 0, nf = json_array_size(t.files);
    const char *what = entry_path(json_array_get(t.files, 0));
    json_t *twf = task_workflow(shared, &t, &first, &e);
    free(shared);
    rc = twf ? pipeline_validate_part(twf, fe->penv, &wf, &e) : e.code;
    json_decref(twf);
    if (!rc && !wf)
        rc = err_set(&e, MLHEP_EINVAL, "the workflow has no input files");
    if (!rc && first + nf != wf->nfiles)
        rc = err_set(&e, MLHEP_EINVAL, "the sub-task's workflow has %zu files, %zu expected", wf->nfiles, first + nf);
    if (!rc)
        rc = specs_preproc(&wf->data, &pp, &e);
    if (!rc)
        rc = specs_plan(&wf->data, pp, &plan, &e);
    long long events = 0;
    for (size_t i = 0; i < nf && !rc; i++) {
        specs_part *p = NULL;
        what = wf->files[first + i].given ? wf->files[first + i].given : wf->files[first + i].path;
        rc = specs_part_compute(&wf->data, pp, plan, first + i, t.unit0, t.nunits, NULL, NULL, &p, &e);
        if (!rc) {
            p->file = (size_t)(t.file + (long long)i); /* the file's index in the job */
            events += p->events;
            json_t *o = specs_part_to_json(plan, p);
            if (!o || !parts || json_array_append_new(parts, o))
                rc = err_set(&e, MLHEP_ENOMEM, "out of memory");
        }
        specs_part_free(p);
    }
    if (!rc && !(doc = json_dumps(parts, JSON_COMPACT)))
        rc = err_set(&e, MLHEP_ENOMEM, "out of memory");
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
        } else if (nf == 1) {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s: file %lld units %lld+%lld: %lld "
                     "events in %.2f s", t.n + 1, t.ntasks, t.id, t.file, t.unit0, t.nunits, events,
                     now_s() - t0);
        } else {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s: files %lld-%lld: %lld events in %.2f s",
                     t.n + 1, t.ntasks, t.id, t.file, t.file + (long long)nf - 1, events, now_s() - t0);
        }
    } else {
        char why[1200];
        snprintf(why, sizeof why, "%s %s: %s", wf ? "file" : "sub-task", what ? what : "?", e.msg);
        if (jobstore_part_fail(fe->js, t.user, t.id, t.lease, why, &se)) {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s failed (%s) and the failure was not "
                     "recorded (%s): requeueing", t.n + 1, t.ntasks, t.id, why, se.msg);
            ret = MLHEP_ENET;
        } else {
            snprintf(info, infosz, "sub-task %lld/%lld of job %s failed: %s", t.n + 1, t.ntasks, t.id, why);
        }
    }
    free(doc);
    json_decref(parts);
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
    const char *path = entry_path(json_array_get(t.files, 0));
    char why[600];
    size_t nf = json_array_size(t.files);
    snprintf(why, sizeof why, "sub-task %lld/%lld (file %s%s) dead-lettered by the broker (%s): it "
             "kills or hangs its workers", t.n + 1, t.ntasks, path ? path : "?", nf > 1 ? " and the next ones" : "",
             reason && *reason ? reason : "unknown reason");
    int rc = jobstore_part_fail(js, t.user, t.id, t.lease, why, e);
    task_clear(&t);
    return rc ? rc : 1;
}

/* ---- step 1: the plan of sub-tasks ------------------------------------------------- */

/* Units of a local file over the split size, else 0 (the file is read whole). */
static long long split_units(const fanout_env *fe, const workflow *wf, size_t i, long long *nparts)
{
    long long split = (long long)fe->cfg->fanout_split_mb << 20;
    struct stat st;
    *nparts = 1;
    if (split <= 0 || wf->files[i].kind != WF_LOCAL || stat(wf->files[i].path, &st) != 0 ||
        (long long)st.st_size <= split)
        return 0;
    long long units = 0;
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
    *nparts = ((long long)st.st_size + split - 1) / split;
    if (*nparts > units)
        *nparts = units > 0 ? units : 1;
    return *nparts > 1 ? units : 0;
}

/* Runs of whole files (at most per_task each, never across a split file) and the
 * pieces of split files, in (file, unit) order. */
static int make_spans(const fanout_env *fe, const workflow *wf, run_span **out, size_t *n, mlhep_err *e)
{
    long long per_task = ((long long)wf->nfiles + FANOUT_MAX_TASKS - 1) / FANOUT_MAX_TASKS;
    size_t cap = wf->nfiles / (size_t)per_task + 16, k = 0;
    run_span *v = malloc(cap * sizeof *v);
    if (!v)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < wf->nfiles; i++) {
        long long nparts, units = split_units(fe, wf, i, &nparts);
        long long per = units > 0 ? (units + nparts - 1) / nparts : -1;
        for (long long j = 0; j < nparts; j++) {
            long long u0 = per > 0 ? j * per : 0;
            if (per > 0 && u0 >= units)
                break;
            if (per < 0 && k > 0 && v[k - 1].unit0 == 0 && v[k - 1].nunits < 0 && v[k - 1].nfiles < per_task &&
                v[k - 1].file + v[k - 1].nfiles == (long long)i) {
                v[k - 1].nfiles++; /* a whole file joins the run before it */
                continue;
            }
            if (k == cap) {
                run_span *nv = realloc(v, (cap *= 2) * sizeof *v);
                if (!nv) {
                    free(v);
                    return err_set(e, MLHEP_ENOMEM, "out of memory");
                }
                v = nv;
            }
            v[k++] = (run_span){(long long)i, 1, u0, per > 0 && j < nparts - 1 ? per : -1};
        }
    }
    *out = v;
    *n = k;
    return 0;
}

/* The workflow the sub-tasks share (fanout.h step 1): the job's with its first file. */
static char *shared_workflow(const fanout_job *fj)
{
    json_t *wf = json_deep_copy(fj->workflow);
    json_t *files = json_object_get(wf, "files"), *labels = json_object_get(wf, "labels");
    if (!wf || !json_is_array(files) || json_array_size(files) == 0) {
        json_decref(wf);
        return NULL;
    }
    json_t *f0 = json_incref(json_array_get(files, 0));
    json_array_clear(files);
    json_array_append_new(files, f0);
    if (json_is_array(labels)) {
        json_t *l0 = json_incref(json_array_get(labels, 0));
        json_array_clear(labels);
        json_array_append_new(labels, l0);
    }
    char *s = json_dumps(wf, JSON_COMPACT);
    json_decref(wf);
    return s;
}

/* Publishes the n sub-tasks, FANOUT_PUBLISH_BATCH at a time, each signed. */
static int publish_tasks(const fanout_env *fe, amqpc *mq, const fanout_job *fj, const run_span *sp, size_t n,
                         mlhep_err *e)
{
    enum { B = FANOUT_PUBLISH_BATCH };
    char **bodies = calloc(B, sizeof *bodies);
    size_t *lens = calloc(B, sizeof *lens);
    char (*ids)[96] = calloc(B, sizeof *ids);
    char (*sigs)[MSGSIG_MAX] = calloc(B, sizeof *sigs);
    const char **idp = calloc(B, sizeof *idp), **sigp = calloc(B, sizeof *sigp);
    int rc = bodies && lens && ids && sigs && idp && sigp ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t at = 0; at < n && !rc; at += B) {
        size_t m = n - at < B ? n - at : B;
        for (size_t i = 0; i < m && !rc; i++) {
            rc = task_encode(fj, (long long)(at + i), (long long)n, &sp[at + i], &bodies[i], &lens[i], e);
            if (!rc)
                rc = msgsig_sign(fe->key, MSGSIG_SPECS, bodies[i], lens[i], sigs[i], e);
            snprintf(ids[i], sizeof ids[i], "%s:%lld:%zu", fj->id, fj->lease, at + i);
            idp[i] = ids[i];
            sigp[i] = sigs[i];
        }
        if (!rc)
            rc = amqpc_publish_batch(mq, CH_PUB, "", FANOUT_QUEUE, (const void *const *)bodies, lens, idp, sigp, m, e);
        for (size_t i = 0; i < m; i++) {
            free(bodies[i]);
            bodies[i] = NULL;
        }
    }
    free(bodies);
    free(lens);
    free(ids);
    free(sigs);
    free(idp);
    free(sigp);
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

/* Reads the N results, JOBSTORE_PARTS_BATCH at a time, and folds their parts in order. */
static int fold_parts(const fanout_env *fe, const fanout_job *fj, const workflow *wf, const preproc *pp,
                      size_t n, specs **out, mlhep_err *e)
{
    specs *plan = NULL;
    specs_folder *f = NULL;
    int rc = specs_plan(&wf->data, pp, &plan, e);
    if (!rc) {
        rc = specs_folder_new(&wf->data, plan, &f, e); /* owns plan from here */
        if (rc)
            plan = NULL;
    }
    for (size_t at = 0; at < n && !rc; at += JOBSTORE_PARTS_BATCH) {
        size_t m = n - at < JOBSTORE_PARTS_BATCH ? n - at : JOBSTORE_PARTS_BATCH;
        json_t *batch = NULL;
        rc = jobstore_parts_get(fe->js, fj->user, fj->id, fj->lease, at, m, &batch, e);
        for (size_t i = 0; i < m && !rc; i++) {
            const char *s = json_string_value(json_array_get(batch, i));
            json_error_t je;
            json_t *doc = s ? json_loads(s, 0, &je) : NULL;
            if (!json_is_array(doc) || json_array_size(doc) == 0)
                rc = err_set(e, MLHEP_EINVAL, "result %s", s ? (doc ? "is not a list of parts" : je.text) : "missing");
            for (size_t k = 0; !rc && k < json_array_size(doc); k++) {
                specs_part *p = NULL;
                rc = specs_part_from_json(json_array_get(doc, k), plan, &p, e);
                if (!rc)
                    rc = specs_folder_add(f, p, e);
                specs_part_free(p);
            }
            if (rc)
                err_prefix(e, "specs sub-task %zu of %zu", at + i + 1, n);
            json_decref(doc);
        }
        json_decref(batch);
    }
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
    char *shared = shared_workflow(fj);
    amqpc *mq = NULL;
    if (!shared)
        err_set(&be, MLHEP_ENOMEM, "out of memory");
    else if (jobstore_specs_doc_put(fe->js, fj->user, fj->id, fj->lease, shared, &be) == 0)
        mq = connect_broker(fe->cfg, &be);
    free(shared);
    if (!mq || publish_tasks(fe, mq, fj, sp, n, &be)) {
        jlog(fj, "specs fan-out unavailable (%s): computing the specs pass on this worker", be.msg);
        amqpc_close(mq);
        free(sp);
        mlhep_err de;
        jobstore_parts_drop(fe->js, fj->user, fj->id, fj->lease, &de); /* sub-tasks queued turn stale */
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
                int tr = fanout_task_run(fe, d.body, d.len, d.sig, info, sizeof info);
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
        struct rusage ru;
        long peak_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024 : -1;
        if (!rc) /* the peak so far is the fan-out's (bounded whatever the job's size) */
            jlog(fj, "specs pass: %zu sub-tasks merged in %.2f s (%lld run by this worker; its peak memory "
                 "so far %ld MiB)", n, now_s() - t0, mine, peak_mb);
    }
    mlhep_err de;
    jobstore_parts_drop(fe->js, fj->user, fj->id, fj->lease, &de);
    return rc;
}

/* pipeline.c - see pipeline.h. */
#include "train/pipeline.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/specs.h"
#include "train/train.h"

/* ---- environment ------------------------------------------------------------------ */

int pipeline_env_add_root(pipeline_env *env, const char *dir, mlhep_err *e)
{
    char **n = realloc(env->data_roots, (env->n_data_roots + 1) * sizeof *n);
    if (!n)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    env->data_roots = n;
    if (!(n[env->n_data_roots] = strdup(dir)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    env->n_data_roots++;
    return 0;
}

int pipeline_env_open(const char *schemas_dir, const char *data_roots, int check_local,
                      int test_hooks, pipeline_env **out, mlhep_err *e)
{
    *out = NULL;
    pipeline_env *env = calloc(1, sizeof *env);
    if (!env)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    env->check_local = check_local;
    env->test_hooks = test_hooks;
    env->nthreads = 0; /* one per CPU */
    int rc = jschema_find_dir(schemas_dir && *schemas_dir ? schemas_dir : NULL, env->schema_dir,
                              sizeof env->schema_dir, e);
    if (!rc)
        rc = jschema_load_named(env->schema_dir, "workflow", &env->schema, e);
    for (const char *p = data_roots ? data_roots : ""; !rc && *p;) {
        size_t n = strcspn(p, ":");
        if (n) {
            char dir[4096];
            if (n >= sizeof dir) {
                rc = err_set(e, MLHEP_EINVAL, "data_roots: a directory name is too long");
                break;
            }
            memcpy(dir, p, n);
            dir[n] = '\0';
            rc = pipeline_env_add_root(env, dir, e);
        }
        p += n + (p[n] == ':');
    }
    if (rc) {
        pipeline_env_free(env);
        return rc;
    }
    *out = env;
    return 0;
}

int pipeline_env_hosts(pipeline_env *env, const char *data_hosts, mlhep_err *e)
{
    hostpolicy *p;
    int rc = hostpolicy_parse(data_hosts, &p, e);
    if (rc)
        return rc;
    hostpolicy_free(env->hosts);
    env->hosts = p;
    return 0;
}

void pipeline_env_free(pipeline_env *env)
{
    if (!env)
        return;
    hostpolicy_free(env->hosts);
    jschema_free(env->schema);
    for (size_t i = 0; i < env->n_data_roots; i++)
        free(env->data_roots[i]);
    free(env->data_roots);
    free(env);
}

/* ---- validation ------------------------------------------------------------------- */

int pipeline_is_sleep(const json_t *wf)
{
    const char *type = json_string_value(json_object_get(json_object_get(wf, "model"), "type"));
    return type && strcmp(type, "sleep") == 0;
}

const char *pipeline_job_name(const json_t *wf, const pipeline_env *env, mlhep_err *e)
{
    json_t *name = json_object_get(wf, "name");
    if (!name) {
        err_set(e, MLHEP_EINVAL, "workflow: /: missing required property \"name\"");
        return "";
    }
    if (!env || jschema_validate_at(env->schema, "#/properties/name", "/name", name, "workflow", e))
        return "";
    return json_string_value(name);
}

static int check_sleep(const json_t *wf, const pipeline_env *env, mlhep_err *e)
{
    if (!env->test_hooks)
        return err_set(e, MLHEP_EINVAL, "workflow: model type 'sleep' is a test hook (it holds a worker "
                       "without doing any work) and is disabled on this service (test_hooks=0)");
    /* name and description: the workflow schema's rules (the job record shows them) */
    const jschema *schema = env->schema;
    json_t *desc = json_object_get(wf, "description");
    mlhep_err ne = {0};
    if (!*pipeline_job_name(wf, env, &ne))
        return err_set(e, ne.code ? ne.code : MLHEP_EINVAL, "%s", ne.msg);
    int rc = 0;
    if (desc)
        rc = jschema_validate_at(schema, "#/properties/description", "/description", desc,
                                 "workflow", e);
    if (rc)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)wf, k, v) {
        if (strcmp(k, "name") && strcmp(k, "model") && strcmp(k, "description"))
            return err_set(e, MLHEP_EINVAL, "workflow: '%s' is not allowed in a sleep job (it "
                           "only has name, description and model)", k);
    }
    json_t *model = json_object_get(wf, "model");
    json_object_foreach(model, k, v) {
        if (strcmp(k, "type") && strcmp(k, "seconds") && strcmp(k, "fail") && strcmp(k, "crash"))
            return err_set(e, MLHEP_EINVAL, "model: unknown key '%s' for type 'sleep'", k);
    }
    json_t *s = json_object_get(model, "seconds");
    if (s && (!json_is_number(s) || !(json_number_value(s) >= 0 && json_number_value(s) <= 3600)))
        return err_set(e, MLHEP_EINVAL, "model.seconds must be a number in [0, 3600]");
    json_t *f = json_object_get(model, "fail"), *c = json_object_get(model, "crash");
    if (f && !json_is_boolean(f))
        return err_set(e, MLHEP_EINVAL, "model.fail must be true or false");
    if (c && !json_is_boolean(c))
        return err_set(e, MLHEP_EINVAL, "model.crash must be true or false");
    return 0;
}

int pipeline_check_inputs(const workflow *w, mlhep_err *e)
{
    preproc *pp = NULL;
    specs *plan = NULL;
    int rc = specs_preproc(&w->data, &pp, e);
    if (!rc)
        rc = specs_plan(&w->data, pp, &plan, e);
    specs_free(plan);
    preproc_free(pp);
    return rc ? err_prefix(e, "workflow") : 0;
}

int pipeline_check_inputs_if_visible(const json_t *wf, const pipeline_env *env, mlhep_err *e)
{
    if (!env || !json_is_object(wf) || pipeline_is_sleep(wf))
        return 0;
    if (env->check_local) /* pipeline_validate has run them */
        return 0;
    wf_opts o = {.schema = env->schema,
                 .data_roots = (const char *const *)env->data_roots,
                 .n_data_roots = env->n_data_roots,
                 .check_local = 1};
    workflow *w = NULL;
    mlhep_err le;
    if (workflow_load_json((json_t *)wf, &o, &w, &le)) /* not visible here: the worker's */
        return 0;
    int visible = w->nfiles > 0;
    for (size_t i = 0; i < w->nfiles && visible; i++)
        visible = w->files[i].kind == WF_LOCAL;
    int rc = visible ? pipeline_check_inputs(w, &le) : 0;
    workflow_free(w);
    if (rc == MLHEP_ENOTFOUND || rc == MLHEP_EINVAL) {
        *e = le;
        return rc;
    }
    return 0;
}

static int validate(const json_t *wf, const pipeline_env *env, int part, const srcaccess *acc, workflow **out,
                    mlhep_err *e)
{
    if (out)
        *out = NULL;
    if (!json_is_object(wf))
        return err_set(e, MLHEP_EINVAL, "workflow must be a JSON object");
    if (!env)
        return err_set(e, MLHEP_EINVAL, "pipeline_validate: no environment");
    if (pipeline_is_sleep(wf))
        return check_sleep(wf, env, e);
    wf_opts o = {.schema = env->schema,
                 .data_roots = (const char *const *)env->data_roots,
                 .n_data_roots = env->n_data_roots,
                 .check_local = env->check_local,
                 .hosts = env->hosts,
                 .part = part};
    workflow *w = NULL;
    int rc = workflow_load_json((json_t *)wf, &o, &w, e);
    if (!rc)
        w->data.access = acc;
    if (!rc && env->check_local)
        rc = pipeline_check_inputs(w, e);
    if (rc) {
        workflow_free(w);
        return rc;
    }
    w->data.threads = env->nthreads;
    if (out)
        *out = w;
    else
        workflow_free(w);
    return 0;
}

int pipeline_validate(const json_t *wf, const pipeline_env *env, workflow **out, mlhep_err *e)
{
    return validate(wf, env, 0, NULL, out, e);
}

int pipeline_validate_with(const json_t *wf, const pipeline_env *env, const srcaccess *acc, workflow **out,
                           mlhep_err *e)
{
    return validate(wf, env, 0, acc, out, e);
}

int pipeline_validate_part(const json_t *wf, const pipeline_env *env, workflow **out, mlhep_err *e)
{
    return validate(wf, env, 1, NULL, out, e);
}

/* ---- the sleep job ---------------------------------------------------------------- */

static int write_json(const char *dir, const char *name, json_t *o, mlhep_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = o ? json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS) : -1;
    json_decref(o);
    if (rc)
        return err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int step(const pipeline_callbacks *cb, const char *phase, double frac, const char *msg)
{
    pipeline_progress p = {phase, frac, msg, -1, 0, 0, NAN, NAN, NAN, 0};
    return cb && cb->step ? cb->step(cb->ctx, &p) : 0;
}

static void logline(const pipeline_callbacks *cb, const char *line)
{
    if (cb && cb->log)
        cb->log(cb->ctx, line);
}

static int run_sleep(const job *j, const json_t *model, const pipeline_callbacks *cb,
                     int test_hooks, const char *dir, mlhep_err *e)
{
    double secs = json_number_value(json_object_get(model, "seconds"));
    int fail = json_is_true(json_object_get(model, "fail"));
    int crash = json_is_true(json_object_get(model, "crash"));
    int n = (int)lround(secs * 10);
    if (n < 1)
        n = 1;
    if (n > 1000)
        n = 1000;
    double dt = secs / n;
    char msg[128];
    snprintf(msg, sizeof msg, "sleep job: %g s in %d steps", secs, n);
    logline(cb, msg);
    if (step(cb, "prepare", 0.0, msg))
        return PIPELINE_STOPPED;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        struct timespec ts = {(time_t)dt, (long)((dt - (time_t)dt) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        if (i == n / 2 && crash && test_hooks) {
            logline(cb, "crash requested by the workflow (test hook): killing the worker");
            raise(SIGKILL);
        }
        if (i == n / 2 && fail) {
            snprintf(msg, sizeof msg, "failing at step %d/%d as requested (model.fail)", i + 1, n);
            logline(cb, msg);
            return err_set(e, MLHEP_EINVAL, "job failed as requested by model.fail at step %d/%d",
                           i + 1, n);
        }
        snprintf(msg, sizeof msg, "step %d/%d", i + 1, n);
        if (step(cb, "train", 0.95 * (i + 1) / n, msg))
            return PIPELINE_STOPPED;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (step(cb, "export", 0.97, "writing artifacts"))
        return PIPELINE_STOPPED;
    const char *name = json_string_value(json_object_get(j->workflow, "name"));
    int rc = write_json(dir, "model.json",
                        json_pack("{s:s, s:s, s:f, s:s}", "job", j->id, "name", name ? name : "",
                                  "seconds", secs, "type", "sleep"),
                        e);
    if (!rc)
        rc = write_json(dir, "metrics.json",
                        json_pack("{s:i, s:f}", "steps", n, "elapsed_seconds", elapsed), e);
    if (!rc)
        logline(cb, "artifacts written: model.json metrics.json");
    return rc;
}

/* ---- training jobs ---------------------------------------------------------------- */

typedef struct train_bridge {
    const pipeline_callbacks *cb;
    char last_phase[32];
} train_bridge;

static int on_train(void *ctx, const train_progress *t)
{
    train_bridge *b = ctx;
    const char *phase = t->phase ? t->phase : "training";
    /* the log keeps each phase's first line and every epoch's summary (the epoch's mean
     * loss and its validation figures), not the progress within an epoch */
    if (b->cb && b->cb->log && t->message && *t->message &&
        (strcmp(phase, b->last_phase) != 0 || t->epoch_end))
        b->cb->log(b->cb->ctx, t->message);
    snprintf(b->last_phase, sizeof b->last_phase, "%s", phase);
    pipeline_progress p = {phase,      t->fraction, t->message ? t->message : "", t->events,
                           t->epoch,   t->epochs,   t->loss,    t->val_loss,   t->val_auc, t->epoch_end};
    return b->cb && b->cb->step ? b->cb->step(b->cb->ctx, &p) : 0;
}

static int run_training(const job *j, const workflow *w, const pipeline_env *env, const pipeline_callbacks *cb,
                        const char *dir, mlhep_err *e)
{
    train_bridge b = {cb, ""};
    char note[128];
    snprintf(note, sizeof note, "{\"job\": \"%s\"}", j->id);
    train_opts o = {.outdir = dir,
                    .resume = cb ? cb->resume : 0,
                    .ckpt_note = cb && cb->ckpt_note ? cb->ckpt_note : note,
                    .nthreads = env->nthreads,
                    .progress = on_train,
                    .ctx = &b,
                    .specs_fn = cb ? cb->specs : NULL,
                    .specs_ctx = cb ? cb->ctx : NULL};
    char line[256];
    snprintf(line, sizeof line, "training %s: %zu input file(s), model %s", w->name, w->nfiles,
             json_string_value(json_object_get(w->model, "type")) ? json_string_value(json_object_get(w->model, "type")) : "keras");
    if (cb && cb->log)
        cb->log(cb->ctx, line);
    int rc = train_run(w, &o, e);
    if (rc == TRAIN_STOPPED)
        return PIPELINE_STOPPED;
    if (rc == 0 && cb && cb->log)
        cb->log(cb->ctx, "training finished; artifacts written");
    return rc;
}

int pipeline_run(const job *j, const workflow *wf, const pipeline_env *env,
                 const pipeline_callbacks *cb, const char *dir, mlhep_err *e)
{
    if (wf)
        return run_training(j, wf, env, cb, dir, e);
    if (!pipeline_is_sleep(j->workflow))
        return err_set(e, MLHEP_EINVAL, "pipeline_run: job %s: a training job needs the workflow "
                       "pipeline_validate loaded", j->id);
    return run_sleep(j, json_object_get(j->workflow, "model"), cb, env->test_hooks, dir, e);
}

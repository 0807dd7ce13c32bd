/* pipeline.c - see pipeline.h. */
#include "pipeline.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int check_sleep(const json_t *model, int test_hooks, mlhep_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)model, k, v) {
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
    if (json_is_true(c) && !test_hooks)
        return err_set(e, MLHEP_EINVAL,
                       "model.crash is a test hook and is disabled on this service (test_hooks=0)");
    return 0;
}

int pipeline_check(const json_t *wf, int test_hooks, mlhep_err *e)
{
    if (!json_is_object(wf))
        return err_set(e, MLHEP_EINVAL, "workflow must be a JSON object");
    json_t *name = json_object_get(wf, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 200)
        return err_set(e, MLHEP_EINVAL, "workflow.name must be a non-empty string (at most 200 characters)");
    json_t *model = json_object_get(wf, "model");
    if (!json_is_object(model))
        return err_set(e, MLHEP_EINVAL, "workflow.model must be an object");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type)
        return err_set(e, MLHEP_EINVAL, "workflow.model.type must be a string");
    if (strcmp(type, "sleep") == 0)
        return check_sleep(model, test_hooks, e);
    return err_set(e, MLHEP_EUNSUPPORTED,
                   "workflow.model.type '%s' is not supported by this service yet (known: sleep)", type);
}

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
    return cb && cb->step ? cb->step(cb->ctx, phase, frac, msg) : 0;
}

static void logline(const pipeline_callbacks *cb, const char *line)
{
    if (cb && cb->log)
        cb->log(cb->ctx, line);
}

static int run_sleep(const job *j, const json_t *model, const pipeline_callbacks *cb,
                     const char *dir, mlhep_err *e)
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
        if (i == n / 2 && crash && cb && cb->test_hooks) {
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

int pipeline_run(const job *j, const pipeline_callbacks *cb, const char *dir, mlhep_err *e)
{
    int rc = pipeline_check(j->workflow, cb ? cb->test_hooks : 0, e);
    if (rc)
        return rc;
    json_t *model = json_object_get(j->workflow, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (strcmp(type, "sleep") == 0)
        return run_sleep(j, model, cb, dir, e);
    return err_set(e, MLHEP_EUNSUPPORTED, "model type '%s' not supported", type);
}

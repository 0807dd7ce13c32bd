/* jobsvc.c - mlhep-submit's job commands' way to the service: the gateway, or the broker
 * and Redis directly (see jobsvc.h). */
#include "jobsvc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gwclient.h"
#include "infer_svc.h"
#include "service/artifacts.h"
#include "service/auth_glue.h"
#include "service/jobpub.h"
#include "service/jobstore.h"
#include "service/workflow.h"
#include "train/pipeline.h"

#define LIST_MAX 1000           /* jobs listed at most */
#define REGISTER_GRACE_S 5.0    /* watch: how long a job may take to be registered */
#define POLL_NS (100 * 1000 * 1000)

struct jobsvc {
    const mlhep_config *cfg;
    const char *token;
    gwclient *gw;                     /* through the gateway */
    char user[JOB_USER_MAX + 1];      /* directly: the token's user */
    jobstore *js;                     /* directly, opened at first use */
    jobpub *pub;                      /* directly, opened at first use */
};

/* ---- exit codes -------------------------------------------------------------------- */

/* A refused token: 4 when there is no usable token at all, 20 + the verifier's reason
 * otherwise (stable: jwt_reason values are fixed), 3 for a verifier configuration
 * problem. */
static int auth_exit(int reason)
{
    if (reason == JWT_E_CONFIG)
        return JX_CONFIG;
    if (reason >= JWT_E_MALFORMED && reason < JWT_E_CONFIG)
        return JX_TOKEN_BASE + reason;
    return JX_AUTH;
}

/* The same for a refusal received as text (the gateway's): "token refused (NAME): ..."
 * names the reason by jwt_reason_name. */
static int auth_exit_text(const char *msg)
{
    const char *p = strstr(msg, "token refused (");
    if (p) {
        p += strlen("token refused (");
        for (int r = JWT_E_MALFORMED; r <= JWT_E_CONFIG; r++) {
            const char *n = jwt_reason_name((jwt_reason)r);
            size_t k = strlen(n);
            if (!strncmp(p, n, k) && p[k] == ')')
                return auth_exit(r);
        }
    }
    return JX_AUTH;
}

/* Prints a gateway error of a read; returns its exit code. */
static int read_fail(const mlhep_err *e)
{
    int x = e->code == MLHEP_EAUTH      ? auth_exit_text(e->msg)
            : e->code == MLHEP_ENOTFOUND ? JX_NOTFOUND
                                         : JX_STORE;
    return infer_svc_fail(x, "%s", e->msg);
}

/* ---- records in the store's form ----------------------------------------------------- */

/* v as text: the shortest that reads back as the same number. */
static json_t *number_text(const json_t *v)
{
    char b[40];
    if (json_is_integer(v)) {
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
        return json_string(b);
    }
    double d = json_real_value(v);
    for (int p = 1; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, d);
        if (strtod(b, NULL) == d)
            break;
    }
    return json_string(b);
}

/* The gateway's record (numbers as numbers) in the store's form (jobsvc.h). */
static void store_form(json_t *rec)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(rec, tmp, k, v) {
        if (!strcmp(k, "heartbeat_ttl_ms"))
            continue;
        if (json_is_number(v))
            json_object_set_new(rec, k, number_text(v));
        else if (json_is_boolean(v))
            json_object_set_new(rec, k, json_string(json_is_true(v) ? "1" : "0"));
        else if (json_is_null(v))
            json_object_set_new(rec, k, json_string(""));
    }
}

/* ---- open / close ---------------------------------------------------------------------- */

int jobsvc_open(const mlhep_config *cfg, const char *token, jobsvc **out)
{
    *out = NULL;
    jobsvc *s = calloc(1, sizeof *s);
    if (!s)
        return infer_svc_fail(JX_CONFIG, "out of memory");
    s->cfg = cfg;
    s->token = token;
    mlhep_err e;
    err_clear(&e);
    int x = JX_OK;
    if (cfg->gateway_url && *cfg->gateway_url) {
        if (gwclient_open(cfg, token, &s->gw, &e))
            x = infer_svc_fail(e.code == MLHEP_EAUTH ? JX_AUTH : JX_CONFIG, "configuration: %s", e.msg);
    } else {
        auth_ctx *auth = NULL;
        auth_result ar = {0};
        if (auth_open(cfg, &auth, &e))
            x = infer_svc_fail(JX_CONFIG, "configuration: %s", e.msg);
        else if (auth_check(auth, token, (int64_t)time(NULL), AUTH_SCOPE_SUBMIT, &ar, &e))
            x = infer_svc_fail(auth_exit(ar.reason), "%s", e.msg);
        else
            snprintf(s->user, sizeof s->user, "%s", ar.user);
        auth_close(auth);
    }
    if (x) {
        jobsvc_close(s);
        return x;
    }
    *out = s;
    return JX_OK;
}

void jobsvc_close(jobsvc *s)
{
    if (!s)
        return;
    gwclient_close(s->gw);
    jobstore_close(s->js);
    jobpub_close(s->pub);
    free(s);
}

int jobsvc_gateway(const jobsvc *s)
{
    return s->gw != NULL;
}

/* Directly: the status store, connected at first use. */
static int store(jobsvc *s)
{
    if (s->js)
        return 0;
    mlhep_err e;
    if (jobstore_connect(&s->js, s->cfg, &e))
        return infer_svc_fail(e.code == MLHEP_EAUTH ? JX_AUTH : JX_STORE, "status store: %s", e.msg);
    return 0;
}

/* Directly: the publisher, connected at first use. */
static int publisher(jobsvc *s)
{
    if (s->pub)
        return 0;
    mlhep_err e;
    int rc = jobpub_open(s->cfg, 1, &s->pub, &e);
    if (rc) /* no service key in the configuration: 3; a refused login: 6 */
        return infer_svc_fail(rc == MLHEP_EINVAL ? JX_CONFIG : JX_BROKER, "%s", e.msg);
    return 0;
}

/* ---- submit ------------------------------------------------------------------------------ */

int jobsvc_submit(jobsvc *s, json_t *wf, const char *path, int unchecked, const char *storage_kind,
                  const char *storage_cred, char id[JOB_ID_HEX + 1])
{
    mlhep_err e;
    err_clear(&e);
    if (s->gw) {
        char *text = json_dumps(wf, JSON_COMPACT);
        if (!text)
            return infer_svc_fail(JX_WORKFLOW, "%s: out of memory", path);
        int rc = gwclient_submit_with(s->gw, text, strlen(text), storage_kind, storage_cred, id, NULL, &e);
        free(text);
        if (!rc)
            return JX_OK;
        /* the gateway checked the workflow as the worker will: its message says why */
        if ((rc == MLHEP_EINVAL || rc == MLHEP_EAUTH) && workflow_path_refused(e.msg))
            return infer_svc_fail(JX_PATH, "%s: %s", path, e.msg);
        if (rc == MLHEP_EINVAL || rc == MLHEP_ENOMEM)
            return infer_svc_fail(JX_WORKFLOW, "%s: %s", path, e.msg);
        if (rc == MLHEP_EAUTH)
            return infer_svc_fail(auth_exit_text(e.msg), "%s", e.msg);
        return infer_svc_fail(JX_BROKER, "%s", e.msg);
    }
    if (!unchecked) {
        /* same schema and rules as the worker; paths checked lexically against the data
         * roots (this machine may not see the worker's disks). Test hooks (model.crash)
         * are the worker's decision: let them through here. */
        pipeline_env *env = NULL;
        if (pipeline_env_open(s->cfg->schemas_dir, s->cfg->data_roots, 0, 1, &env, &e))
            return infer_svc_fail(JX_CONFIG, "%s", e.msg);
        int rc = pipeline_env_hosts(env, s->cfg->data_hosts, &e);
        if (rc) {
            pipeline_env_free(env);
            return infer_svc_fail(JX_CONFIG, "%s", e.msg);
        }
        rc = pipeline_validate(wf, env, NULL, &e);
        if (!rc) /* branch names and expressions, when the inputs are visible here */
            rc = pipeline_check_inputs_if_visible(wf, env, &e);
        pipeline_env_free(env);
        if (rc)
            return infer_svc_fail(rc == MLHEP_EAUTH ? JX_PATH : JX_WORKFLOW, "%s: %s; nothing was queued", path,
                                  e.msg);
    }
    int x = publisher(s);
    if (x)
        return x;
    int rc = jobpub_submit(s->pub, s->user, s->token, wf, NULL, storage_kind, storage_cred, id, &e);
    if (rc) /* too large: the limit is named; nothing was queued */
        return infer_svc_fail(rc == MLHEP_ENOMEM || rc == MLHEP_EINVAL ? JX_WORKFLOW : JX_BROKER, "%s%s", e.msg,
                              rc == MLHEP_ENOMEM || rc == MLHEP_EINVAL ? "; nothing was queued" : "");
    return JX_OK;
}

/* ---- records ------------------------------------------------------------------------------ */

int jobsvc_peek(jobsvc *s, const char *id, json_t **rec)
{
    *rec = NULL;
    mlhep_err e;
    err_clear(&e);
    if (s->gw) {
        int rc = gwclient_job(s->gw, id, rec, &e);
        if (rc == MLHEP_ENOTFOUND)
            return 1;
        if (rc)
            return read_fail(&e);
        store_form(*rec);
        return 0;
    }
    int x = store(s);
    if (x)
        return x;
    int rc = jobstore_get(s->js, s->user, id, rec, &e);
    if (rc == JS_MISSING)
        return 1;
    if (rc < 0)
        return infer_svc_fail(e.code == MLHEP_EAUTH ? JX_AUTH : JX_STORE, "%s", e.msg);
    return 0;
}

int jobsvc_get(jobsvc *s, const char *id, json_t **rec)
{
    *rec = NULL;
    if (s->gw) {
        /* the gateway's own "not found" says it all */
        mlhep_err e;
        err_clear(&e);
        if (gwclient_job(s->gw, id, rec, &e))
            return read_fail(&e);
        store_form(*rec);
        return 0;
    }
    int x = jobsvc_peek(s, id, rec);
    if (x == 1)
        return infer_svc_fail(JX_NOTFOUND, "no job %s for user '%s' (it does not exist, is not registered yet, or "
                                           "belongs to someone else)", id, s->user);
    return x;
}

int jobsvc_list(jobsvc *s, int limit, json_t **recs)
{
    *recs = NULL;
    mlhep_err e;
    err_clear(&e);
    if (limit <= 0 || limit > LIST_MAX)
        limit = LIST_MAX;
    if (s->gw) {
        if (gwclient_jobs(s->gw, limit, recs, &e))
            return read_fail(&e);
        size_t i;
        json_t *r;
        json_array_foreach(*recs, i, r)
            store_form(r);
        return 0;
    }
    int x = store(s);
    if (x)
        return x;
    json_t *ids;
    if (jobstore_list(s->js, s->user, limit, &ids, &e))
        return infer_svc_fail(e.code == MLHEP_EAUTH ? JX_AUTH : JX_STORE, "%s", e.msg);
    *recs = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        json_t *rec;
        if (jobstore_get(s->js, s->user, json_string_value(v), &rec, &e) == 0)
            json_array_append_new(*recs, rec);
    }
    json_decref(ids);
    return 0;
}

int jobsvc_logs(jobsvc *s, const char *id, json_t **lines)
{
    *lines = NULL;
    mlhep_err e;
    err_clear(&e);
    if (s->gw)
        return gwclient_logs(s->gw, id, lines, &e) ? read_fail(&e) : 0;
    json_t *rec;
    int x = jobsvc_get(s, id, &rec);
    if (x)
        return x;
    json_decref(rec);
    if (jobstore_logs(s->js, s->user, id, lines, &e))
        return infer_svc_fail(JX_STORE, "%s", e.msg);
    return 0;
}

int jobsvc_cancel(jobsvc *s, const char *id)
{
    mlhep_err e;
    err_clear(&e);
    if (s->gw) {
        int rc = gwclient_cancel(s->gw, id, NULL, &e);
        if (!rc)
            return 0;
        if (rc == MLHEP_ECONFLICT) /* finished since the caller looked */
            return infer_svc_fail(JX_FINISHED, "%s", e.msg);
        if (rc == MLHEP_ENOTFOUND || rc == MLHEP_EAUTH)
            return read_fail(&e);
        return infer_svc_fail(JX_BROKER, "%s", e.msg);
    }
    int x = publisher(s);
    if (x)
        return x;
    if (jobpub_cancel(s->pub, s->user, s->token, id, &e))
        return infer_svc_fail(JX_BROKER, "%s", e.msg);
    return 0;
}

/* ---- artifacts ---------------------------------------------------------------------------- */

int jobsvc_artifact_json(jobsvc *s, const char *id, const char *dir, const char *name, json_t **doc,
                         mlhep_err *why)
{
    *doc = NULL;
    if (s->gw) {
        char *data;
        size_t len;
        if (gwclient_artifact(s->gw, id, name, &data, &len, why))
            return -1;
        json_error_t je;
        *doc = json_loadb(data, len, 0, &je);
        free(data);
        if (!*doc)
            return err_set(why, MLHEP_EFORMAT, "%s: %s", name, je.text), -1;
        return 0;
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    json_error_t je;
    if (!(*doc = json_load_file(p, 0, &je)))
        return err_set(why, MLHEP_EIO, "%s", je.text), -1;
    return 0;
}

int jobsvc_fetch(jobsvc *s, const char *id, const char *dir, const char *dst)
{
    mlhep_err e;
    err_clear(&e);
    int rc = s->gw ? gwclient_fetch(s->gw, id, dst, &e) : artifacts_copy(dir, dst, &e);
    if (rc)
        return infer_svc_fail(JX_ARTIFACTS, "fetch: %s", e.msg);
    return 0;
}

/* ---- watch -------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct watch {
    jobsvc_watch_fn fn;
    void *cls;
    int code;     /* fn's exit code once it stopped */
    int vanished; /* the stream ended without the job */
} watch;

static int on_event(void *cls, gwclient_event kind, const json_t *data)
{
    watch *w = cls;
    if (kind == GWCLIENT_EV_END) {
        w->vanished = json_object_get(data, "error") != NULL;
        return 0;
    }
    if (kind != GWCLIENT_EV_STATUS)
        return 0;
    json_t *rec = json_deep_copy(data);
    if (!rec)
        return 0;
    store_form(rec);
    int x = w->fn(w->cls, rec);
    json_decref(rec);
    if (x < 0)
        return 0;
    w->code = x;
    return 1;
}

static int watch_gateway(jobsvc *s, const char *id, double timeout_s, jobsvc_watch_fn fn, void *cls)
{
    double t0 = now_s();
    watch w = {fn, cls, -1, 0};
    mlhep_err e;
    for (;;) {
        err_clear(&e);
        double left = timeout_s > 0 ? timeout_s - (now_s() - t0) : 0;
        if (timeout_s > 0 && left <= 0)
            return JX_TIMEOUT;
        int rc = gwclient_follow(s->gw, id, 0, timeout_s > 0 ? left : 0, on_event, &w, &e);
        if (rc == GWCLIENT_STOPPED)
            return w.code;
        if (rc == GWCLIENT_TIMEOUT)
            return JX_TIMEOUT;
        if (rc == 0 && !w.vanished) { /* ended without a last status that stopped fn */
            json_t *rec;
            int x = jobsvc_get(s, id, &rec);
            if (!x) {
                x = fn(cls, rec);
                json_decref(rec);
            }
            return x >= 0 ? x : JX_STORE;
        }
        if (rc == 0 || rc == MLHEP_ENOTFOUND) {
            /* registration is asynchronous: allow a moment */
            if (now_s() - t0 > REGISTER_GRACE_S) {
                json_t *rec;
                int x = jobsvc_get(s, id, &rec);
                if (x)
                    return x;
                json_decref(rec); /* there now: follow it */
            }
            w.vanished = 0;
            struct timespec ts = {0, POLL_NS};
            nanosleep(&ts, NULL);
            continue;
        }
        return read_fail(&e);
    }
}

int jobsvc_watch(jobsvc *s, const char *id, double timeout_s, jobsvc_watch_fn fn, void *cls)
{
    if (s->gw)
        return watch_gateway(s, id, timeout_s, fn, cls);
    double t0 = now_s();
    for (;;) {
        json_t *rec;
        int x = jobsvc_peek(s, id, &rec);
        if (x > 1)
            return x;
        double waited = now_s() - t0;
        if (x == 1) {
            if (waited > REGISTER_GRACE_S && (x = jobsvc_get(s, id, &rec)))
                return x;
            json_decref(rec); /* (there by now: read again below) */
        } else {
            x = fn(cls, rec);
            json_decref(rec);
            if (x >= 0)
                return x;
        }
        if (timeout_s > 0 && waited > timeout_s)
            return JX_TIMEOUT;
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
}

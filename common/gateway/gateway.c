/* gateway.c - see gateway.h. */
#include "gateway/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "gateway/gwtask.h"
#include "gateway/jobsapi.h"
#include "gateway/predictapi.h"
#include "gateway/route.h"
#include "service/job.h"

/* Who may call a route. */
enum { OPEN = 0, SUBMIT, PREDICT };

/* Where its handler runs: INLINE on the server's event loop (it answers from memory at
 * once), POOL on a worker thread (it may block on Redis, files or an RPC), ASYNC on the
 * event loop, queueing an RPC whose pump finishes the task (predictions). */
enum { INLINE = 0, POOL, ASYNC };

static int ops_healthz(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_readyz(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_metrics(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_web(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_whoami(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);

typedef struct api_route {
    gw_route r;         /* methods, pattern */
    const char *name;   /* label of the route in /metrics */
    int scope;
    int where;
    gw_handler_fn fn;   /* INLINE, POOL */
    gw_async_fn afn;    /* ASYNC */
} api_route;

static const api_route routes[] = {
    {{GW_GET, "/healthz"}, "healthz", OPEN, INLINE, ops_healthz, NULL},
    {{GW_GET, "/readyz"}, "readyz", OPEN, POOL, ops_readyz, NULL},
    {{GW_GET, "/metrics"}, "metrics", OPEN, POOL, ops_metrics, NULL},
    {{GW_GET, "/"}, "web", OPEN, INLINE, ops_web, NULL},
    {{GW_GET, "/ui/{file}"}, "web", OPEN, INLINE, ops_web, NULL},
    {{GW_GET, "/v1/whoami"}, "whoami", SUBMIT, INLINE, ops_whoami, NULL},
    /* jobs */
    {{GW_POST, "/v1/jobs"}, "jobs_submit", SUBMIT, POOL, jobsapi_submit, NULL},
    {{GW_GET, "/v1/jobs"}, "jobs_list", SUBMIT, POOL, jobsapi_list, NULL},
    {{GW_GET, "/v1/jobs/{id}"}, "job_status", SUBMIT, POOL, jobsapi_status, NULL},
    {{GW_GET, "/v1/jobs/{id}/events"}, "job_events", SUBMIT, POOL, jobsapi_events, NULL},
    {{GW_GET, "/v1/jobs/{id}/logs"}, "job_logs", SUBMIT, POOL, jobsapi_logs, NULL},
    {{GW_GET, "/v1/jobs/{id}/artifacts"}, "job_artifacts", SUBMIT, POOL, jobsapi_artifacts, NULL},
    {{GW_GET, "/v1/jobs/{id}/artifacts/{file*}"}, "job_artifact", SUBMIT, POOL, jobsapi_artifact, NULL},
    {{GW_GET, "/v1/jobs/{id}/archive"}, "job_archive", SUBMIT, POOL, jobsapi_archive, NULL},
    {{GW_POST, "/v1/jobs/{id}/cancel"}, "job_cancel", SUBMIT, POOL, jobsapi_cancel, NULL},
    /* MLaaS4HEP service */
    {{GW_POST, "/submit"}, "mlaas_submit", SUBMIT, POOL, jobsapi_mlaas_submit, NULL},
    {{GW_GET, "/status_docker"}, "mlaas_status", SUBMIT, POOL, jobsapi_mlaas_status, NULL},
    {{GW_GET, "/logs"}, "mlaas_logs", SUBMIT, POOL, jobsapi_mlaas_logs, NULL},
    {{GW_GET, "/model"}, "mlaas_model", SUBMIT, POOL, jobsapi_mlaas_model, NULL},
    /* models */
    {{GW_GET, "/v1/models"}, "models_list", PREDICT, POOL, predictapi_models, NULL},
    {{GW_POST, "/v1/models"}, "model_tag", PREDICT, POOL, predictapi_model_tag, NULL},
    {{GW_GET, "/v1/models/{name}"}, "model_show", PREDICT, POOL, predictapi_model_show, NULL},
    {{GW_DELETE, "/v1/models/{name}"}, "model_delete", PREDICT, POOL, predictapi_model_delete, NULL},
    {{GW_POST, "/v1/models/{name}/share"}, "model_share", PREDICT, POOL, predictapi_model_share, NULL},
    /* predictions: mlhep, TFaaS */
    {{GW_POST, "/v1/predict"}, "predict", PREDICT, ASYNC, NULL, predictapi_predict_async},
    {{GW_POST, "/json"}, "tfaas_json", PREDICT, ASYNC, NULL, predictapi_tfaas_async},
    {{GW_POST, "/predict/json"}, "tfaas_json", PREDICT, ASYNC, NULL, predictapi_tfaas_async},
    {{GW_GET, "/models"}, "tfaas_models", PREDICT, POOL, predictapi_tfaas_models, NULL},
    /* KServe / Open Inference Protocol v2 */
    {{GW_GET, "/v2"}, "v2_server", OPEN, INLINE, predictapi_v2_server, NULL},
    {{GW_GET, "/v2/health/live"}, "v2_live", OPEN, INLINE, predictapi_v2_live, NULL},
    {{GW_GET, "/v2/health/ready"}, "v2_ready", OPEN, INLINE, predictapi_v2_ready, NULL},
    {{GW_GET, "/v2/models/{name}"}, "v2_model", PREDICT, POOL, predictapi_v2_model, NULL},
    {{GW_GET, "/v2/models/{name}/versions/{version}"}, "v2_model", PREDICT, POOL, predictapi_v2_model, NULL},
    {{GW_GET, "/v2/models/{name}/ready"}, "v2_model_ready", PREDICT, POOL, predictapi_v2_model_ready, NULL},
    {{GW_GET, "/v2/models/{name}/versions/{version}/ready"}, "v2_model_ready", PREDICT, POOL, predictapi_v2_model_ready, NULL},
    {{GW_POST, "/v2/models/{name}/infer"}, "v2_infer", PREDICT, POOL, predictapi_v2_infer, NULL},
    {{GW_POST, "/v2/models/{name}/versions/{version}/infer"}, "v2_infer", PREDICT, POOL, predictapi_v2_infer, NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static const char *const scope_names[] = {NULL, AUTH_SCOPE_SUBMIT, "mlhep.predict"};

int gateway_open(const mlhep_config *cfg, gw_ctx **out, mlhep_err *e)
{
    static const char *names[NROUTES];
    for (size_t i = 0; i < NROUTES; i++)
        names[i] = routes[i].name;
    gw_ctx *g;
    int rc = gwctx_open(cfg, names, NROUTES, &g, e);
    if (rc)
        return rc;
    rc = gwpool_start(g, cfg->gateway_workers, e);
    if (!rc)
        rc = jobsapi_streams_start(g, e);
    if (rc) {
        gateway_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gateway_quiesce(gw_ctx *g)
{
    if (!g)
        return;
    atomic_store(&g->stopping, 1);
    rpcmux_stop(g->rpc);       /* pending predictions end now (503) */
    jobsapi_streams_stop(g);   /* live streams end */
    gwpool_stop(g);            /* queued handlers run, then the threads end */
}

void gateway_close(gw_ctx *g)
{
    if (!g)
        return;
    gateway_quiesce(g);
    gwctx_close(g);
}

void gateway_print_routes(FILE *out)
{
    for (size_t i = 0; i < NROUTES; i++) {
        char m[64];
        gw_methods_text(routes[i].r.methods, m, sizeof m);
        fprintf(out, "%-7s %-48s %s\n", m, routes[i].r.pattern, routes[i].scope ? scope_names[routes[i].scope] : "open");
    }
}

int gateway_route_match(const char *method, const char *path, gw_match *m, const char **name)
{
    int i = gw_route_match(&routes[0].r, NROUTES, sizeof routes[0], method, path, m);
    if (name)
        *name = i >= 0 ? routes[i].name : NULL;
    return i;
}

/* ---- operations ------------------------------------------------------------------- */

static int ops_healthz(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    (void)m;
    (void)c;
    return gw_resp_json(o, 200, json_pack("{s:s, s:f}", "status", "ok", "uptime_s", job_now() - g->started));
}

static int ops_readyz(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    (void)m;
    (void)c;
    mlhep_err e = {0};
    if (gwctx_ready(g, &e))
        return gw_resp_json(o, 503, json_pack("{s:s, s:s}", "status", "not ready", "reason", e.msg));
    return gw_resp_json(o, 200, json_pack("{s:s}", "status", "ready"));
}

static int ops_metrics(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    (void)m;
    (void)c;
    promstats_gauge gs[JOB_NSTATES + 12];
    char labels[JOB_NSTATES][48];
    size_t ng = 0;
    long long counts[JOB_NSTATES];
    mlhep_err e = {0};
    if (jobsapi_counts(g, counts, &e) == 0)
        for (int s = 0; s < JOB_NSTATES; s++) {
            if (counts[s] < 0)
                continue; /* not known (a store without the counters) */
            snprintf(labels[s], sizeof labels[s], "state=\"%s\"", job_state_name((job_state)s));
            gs[ng++] = (promstats_gauge){"mlhep_jobs", "Jobs in each state (every user).", labels[s],
                                         (double)counts[s], "gauge"};
        }
    unsigned long long hits, verifies;
    auth_cache_stats(g->auth, &hits, &verifies);
    gs[ng++] = (promstats_gauge){"mlhep_gateway_token_cache_hits_total", "Requests whose token was verified before.",
                                 "", (double)hits, "counter"};
    gs[ng++] = (promstats_gauge){"mlhep_gateway_token_verifications_total", "Token signatures checked in full.", "",
                                 (double)verifies, "counter"};
    gs[ng++] = (promstats_gauge){"mlhep_gateway_broker_connections", "Prediction broker connections up.", "",
                                 (double)rpcmux_connected(g->rpc), "gauge"};
    unsigned long long msgs, batches, batched;
    rpcmux_stats(g->rpc, &msgs, &batches, &batched);
    gs[ng++] = (promstats_gauge){"mlhep_gateway_predict_messages_total",
                                 "Broker messages sent for predictions and model management.", "", (double)msgs,
                                 "counter"};
    gs[ng++] = (promstats_gauge){"mlhep_gateway_predict_batches_total",
                                 "Of those, batch messages (small predictions of one user sent together).", "",
                                 (double)batches, "counter"};
    gs[ng++] = (promstats_gauge){"mlhep_gateway_predict_batched_total", "Predictions that travelled in a batch.",
                                 "", (double)batched, "counter"};
    int cons = rpcmux_consumers(g->rpc);
    long long depth = rpcmux_depth(g->rpc);
    if (cons >= 0)
        gs[ng++] = (promstats_gauge){"mlhep_queue_consumers", "Consumers of a broker queue (last look, about every second).",
                                     "queue=\"predict.requests\"", (double)cons, "gauge"};
    if (depth >= 0)
        gs[ng++] = (promstats_gauge){"mlhep_queue_messages", "Ready messages in a broker queue (last look).",
                                     "queue=\"predict.requests\"", (double)depth, "gauge"};
    char *page = NULL;
    size_t len = 0;
    if (promstats_render(g->stats, gs, ng, &page, &len, &e))
        return gw_resp_error(o, 500, "internal", "%s", e.msg);
    return gw_resp_take(o, 200, "text/plain; version=0.0.4; charset=utf-8", page, len);
}

static int ops_web(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)c;
    const char *name = gw_param(m, "file");
    const webfile *f = webfiles_get(g->web, name ? name : "index.html");
    if (!f)
        return gw_resp_error(o, 404, "not_found", "no such page");
    const char *inm = gw_header(r, "If-None-Match");
    if (inm && !strcmp(inm, f->etag)) {
        gw_resp_bytes(o, 304, f->content_type, "", 0);
    } else {
        gw_resp_bytes(o, 200, f->content_type, f->data, f->len);
    }
    gw_resp_header(o, "ETag", f->etag);
    gw_resp_header(o, "Cache-Control", "no-cache");
    gw_resp_header(o, "Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; "
                                                 "frame-src 'self' blob:; object-src 'none'; base-uri 'none'");
    gw_resp_header(o, "X-Content-Type-Options", "nosniff");
    gw_resp_header(o, "X-Frame-Options", "DENY");
    return 0;
}

static int ops_whoami(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)g;
    (void)r;
    (void)m;
    return gw_resp_json(o, 200, json_pack("{s:s}", "user", c->user));
}

/* ---- the checks around every handler ------------------------------------------------ */

int gateway_body_sink(gw_ctx *g, const char *method, const char *path,
                      const char *(*header)(void *cls, const char *name), void *hcls, size_t len, gw_sink *out)
{
    (void)g;
    memset(out, 0, sizeof *out);
    /* the one route with a sink takes v2 binary tensors, announced by this header: other
     * requests (every /json) are not routed twice */
    if (len == 0 || !header(hcls, "Inference-Header-Content-Length"))
        return 0;
    gw_match m;
    int route = gw_route_match(&routes[0].r, NROUTES, sizeof routes[0], method, path, &m);
    if (route >= 0 && routes[route].fn == predictapi_v2_infer) /* packed while they come */
        return predictapi_v2_sink(&m, header, hcls, len, out);
    return 0;
}

void gateway_start(gw_ctx *g, const gw_req *r, FILE *log, gateway_done_fn done, void *cls)
{
    double t0 = gwtask_now();
    promstats_inflight(g->stats, 1);
    gw_task *t = gwtask_new(g, r, log, done, cls, t0);
    if (!t) {
        gw_resp o;
        memset(&o, 0, sizeof o);
        gw_resp_error(&o, 503, "unavailable", "the gateway is out of memory");
        promstats_request(g->stats, -1, 503, 0);
        promstats_inflight(g->stats, -1);
        done(cls, &o);
        return;
    }
    gw_resp *o = &t->resp;
    int route = gw_route_match(&routes[0].r, NROUTES, sizeof routes[0], r->method, r->path, &t->m);
    if (route < 0) {
        unsigned allowed = route == GW_ROUTE_METHOD ? t->m.allowed : 0;
        char mt[64];
        gw_methods_text(allowed, mt, sizeof mt);
        if (allowed && r->method && !strcmp(r->method, "OPTIONS") && g->cfg->gateway_cors_origin &&
            *g->cfg->gateway_cors_origin) {
            gw_resp_bytes(o, 204, "text/plain", "", 0);
            gw_resp_header(o, "Access-Control-Allow-Methods", mt);
            gw_resp_header(o, "Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, "
                                                              "Inference-Header-Content-Length");
            gw_resp_header(o, "Access-Control-Max-Age", "600");
        } else if (allowed) {
            gw_resp_error(o, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", r->method, r->path, mt);
            gw_resp_header(o, "Allow", mt);
        } else {
            gw_resp_error(o, 404, "not_found", "no such endpoint: %s", r->path);
        }
        gwtask_finish(t);
        return;
    }
    t->route = route;
    const api_route *ar = &routes[route];
    if (ar->scope != OPEN) {
        const char *tok = gw_bearer(r);
        auth_result ares;
        mlhep_err e = {0};
        if (!tok) {
            gw_resp_error(o, 401, "unauthorized", "a bearer token is required (header Authorization: Bearer TOKEN)");
            gw_resp_header(o, "WWW-Authenticate", "Bearer realm=\"mlhep\"");
            gwtask_finish(t);
            return;
        }
        if (auth_check(g->auth, tok, (int64_t)time(NULL), scope_names[ar->scope], &ares, &e)) {
            int scope = ares.reason == JWT_E_SCOPE;
            gw_resp_error(o, scope ? 403 : 401, scope ? "forbidden" : "unauthorized", "%s", e.msg);
            char h[160];
            snprintf(h, sizeof h, "Bearer realm=\"mlhep\", error=\"%s\"%s%s%s",
                     scope ? "insufficient_scope" : "invalid_token", scope ? ", scope=\"" : "",
                     scope ? scope_names[ar->scope] : "", scope ? "\"" : "");
            gw_resp_header(o, "WWW-Authenticate", h);
            gwtask_finish(t);
            return;
        }
        snprintf(t->caller.user, sizeof t->caller.user, "%s", ares.user);
        t->caller.token = tok;
        double retry = 0;
        int lim = ratelimit_enter(g->rl, t->caller.user, t0, &retry);
        if (lim != RL_OK) {
            char ra[32];
            snprintf(ra, sizeof ra, "%d", (int)(retry + 0.999) > 0 ? (int)(retry + 0.999) : 1);
            gw_resp_error(o, 429, "too_many_requests",
                          lim == RL_RATE ? "too many requests from '%s': the limit is %g per second"
                                         : "too many requests from '%s' at once (the limit is %g)",
                          t->caller.user,
                          lim == RL_RATE ? g->cfg->gateway_rate : (double)g->cfg->gateway_concurrency);
            gw_resp_header(o, "Retry-After", ra);
            gwtask_finish(t);
            return;
        }
        t->admitted = 1;
    }
    switch (ar->where) {
    case INLINE:
        ar->fn(g, r, &t->m, &t->caller, o);
        gwtask_finish(t);
        break;
    case POOL:
        t->fn = ar->fn;
        gwpool_submit(g, t);
        break;
    default:
        ar->afn(g, r, &t->m, &t->caller, t);
        break;
    }
}

/* ---- the synchronous form ---- */

typedef struct syncwait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    gw_resp *o;
} syncwait;

static void sync_done(void *cls, gw_resp *o)
{
    syncwait *w = cls;
    pthread_mutex_lock(&w->mu);
    *w->o = *o;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void gateway_handle(gw_ctx *g, const gw_req *r, gw_resp *o, FILE *log)
{
    syncwait w;
    memset(&w, 0, sizeof w);
    memset(o, 0, sizeof *o);
    w.o = o;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    gateway_start(g, r, log, sync_done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

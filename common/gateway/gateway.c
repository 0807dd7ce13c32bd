/* gateway.c - see gateway.h. */
#include "gateway/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/jobsapi.h"
#include "gateway/predictapi.h"
#include "gateway/route.h"
#include "service/job.h"

typedef int (*handler_fn)(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);

/* Who may call a route. */
enum { OPEN = 0, SUBMIT, PREDICT };

static int ops_healthz(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_readyz(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_metrics(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_web(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);
static int ops_whoami(gw_ctx *, const gw_req *, const gw_match *, const gw_caller *, gw_resp *);

typedef struct api_route {
    gw_route r;         /* methods, pattern */
    const char *name;   /* label of the route in /metrics */
    int scope;
    handler_fn fn;
} api_route;

static const api_route routes[] = {
    {{GW_GET, "/healthz"}, "healthz", OPEN, ops_healthz},
    {{GW_GET, "/readyz"}, "readyz", OPEN, ops_readyz},
    {{GW_GET, "/metrics"}, "metrics", OPEN, ops_metrics},
    {{GW_GET, "/"}, "web", OPEN, ops_web},
    {{GW_GET, "/ui/{file}"}, "web", OPEN, ops_web},
    {{GW_GET, "/v1/whoami"}, "whoami", SUBMIT, ops_whoami},
    /* jobs */
    {{GW_POST, "/v1/jobs"}, "jobs_submit", SUBMIT, jobsapi_submit},
    {{GW_GET, "/v1/jobs"}, "jobs_list", SUBMIT, jobsapi_list},
    {{GW_GET, "/v1/jobs/{id}"}, "job_status", SUBMIT, jobsapi_status},
    {{GW_GET, "/v1/jobs/{id}/events"}, "job_events", SUBMIT, jobsapi_events},
    {{GW_GET, "/v1/jobs/{id}/logs"}, "job_logs", SUBMIT, jobsapi_logs},
    {{GW_GET, "/v1/jobs/{id}/artifacts"}, "job_artifacts", SUBMIT, jobsapi_artifacts},
    {{GW_GET, "/v1/jobs/{id}/artifacts/{file}"}, "job_artifact", SUBMIT, jobsapi_artifact},
    {{GW_GET, "/v1/jobs/{id}/archive"}, "job_archive", SUBMIT, jobsapi_archive},
    {{GW_POST, "/v1/jobs/{id}/cancel"}, "job_cancel", SUBMIT, jobsapi_cancel},
    /* MLaaS4HEP service */
    {{GW_POST, "/submit"}, "mlaas_submit", SUBMIT, jobsapi_mlaas_submit},
    {{GW_GET, "/status_docker"}, "mlaas_status", SUBMIT, jobsapi_mlaas_status},
    {{GW_GET, "/logs"}, "mlaas_logs", SUBMIT, jobsapi_mlaas_logs},
    {{GW_GET, "/model"}, "mlaas_model", SUBMIT, jobsapi_mlaas_model},
    /* models */
    {{GW_GET, "/v1/models"}, "models_list", PREDICT, predictapi_models},
    {{GW_POST, "/v1/models"}, "model_tag", PREDICT, predictapi_model_tag},
    {{GW_GET, "/v1/models/{name}"}, "model_show", PREDICT, predictapi_model_show},
    {{GW_DELETE, "/v1/models/{name}"}, "model_delete", PREDICT, predictapi_model_delete},
    {{GW_POST, "/v1/models/{name}/share"}, "model_share", PREDICT, predictapi_model_share},
    /* predictions: mlhep, TFaaS */
    {{GW_POST, "/v1/predict"}, "predict", PREDICT, predictapi_predict},
    {{GW_POST, "/json"}, "tfaas_json", PREDICT, predictapi_tfaas},
    {{GW_POST, "/predict/json"}, "tfaas_json", PREDICT, predictapi_tfaas},
    {{GW_GET, "/models"}, "tfaas_models", PREDICT, predictapi_tfaas_models},
    /* KServe / Open Inference Protocol v2 */
    {{GW_GET, "/v2"}, "v2_server", OPEN, predictapi_v2_server},
    {{GW_GET, "/v2/health/live"}, "v2_live", OPEN, predictapi_v2_live},
    {{GW_GET, "/v2/health/ready"}, "v2_ready", OPEN, predictapi_v2_ready},
    {{GW_GET, "/v2/models/{name}"}, "v2_model", PREDICT, predictapi_v2_model},
    {{GW_GET, "/v2/models/{name}/versions/{version}"}, "v2_model", PREDICT, predictapi_v2_model},
    {{GW_GET, "/v2/models/{name}/ready"}, "v2_model_ready", PREDICT, predictapi_v2_model_ready},
    {{GW_GET, "/v2/models/{name}/versions/{version}/ready"}, "v2_model_ready", PREDICT, predictapi_v2_model_ready},
    {{GW_POST, "/v2/models/{name}/infer"}, "v2_infer", PREDICT, predictapi_v2_infer},
    {{GW_POST, "/v2/models/{name}/versions/{version}/infer"}, "v2_infer", PREDICT, predictapi_v2_infer},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static const char *const scope_names[] = {NULL, AUTH_SCOPE_SUBMIT, "mlhep.predict"};

int gateway_open(const mlhep_config *cfg, gw_ctx **out, mlhep_err *e)
{
    static const char *names[NROUTES];
    for (size_t i = 0; i < NROUTES; i++)
        names[i] = routes[i].name;
    return gwctx_open(cfg, names, NROUTES, out, e);
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
    promstats_gauge gs[JOB_NSTATES + 8];
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

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cors(gw_ctx *g, const gw_req *r, gw_resp *o)
{
    const char *want = g->cfg->gateway_cors_origin;
    const char *origin = gw_header(r, "Origin");
    if (!want || !*want || !origin || strcmp(origin, want))
        return;
    gw_resp_header(o, "Access-Control-Allow-Origin", want);
    gw_resp_header(o, "Vary", "Origin");
}

/* A streamed answer (live events) keeps its request counted against the caller's
 * concurrency limit until the stream ends: the reader is wrapped so that its free
 * callback also leaves the limiter. */
typedef struct held_stream {
    gw_ctx *g;
    char user[JOB_USER_MAX + 1];
    gw_reader read;
    void *cls;
    void (*free)(void *cls);
} held_stream;

static ssize_t held_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    held_stream *h = cls;
    return h->read(h->cls, pos, buf, max);
}

static void held_free(void *cls)
{
    held_stream *h = cls;
    if (h->free)
        h->free(h->cls);
    ratelimit_leave(h->g->rl, h->user);
    free(h);
}

/* 1 if the stream of o now holds the caller's place (left when it ends). */
static int hold_stream(gw_ctx *g, const char *user, gw_resp *o)
{
    held_stream *h = malloc(sizeof *h);
    if (!h)
        return 0;
    h->g = g;
    snprintf(h->user, sizeof h->user, "%s", user);
    h->read = o->reader;
    h->cls = o->reader_cls;
    h->free = o->reader_free;
    o->reader = held_read;
    o->reader_cls = h;
    o->reader_free = held_free;
    return 1;
}

void gateway_handle(gw_ctx *g, const gw_req *r, gw_resp *o, FILE *log)
{
    double t0 = mono_now();
    memset(o, 0, sizeof *o);
    promstats_inflight(g->stats, 1);
    gw_match m;
    int route = gw_route_match(&routes[0].r, NROUTES, sizeof routes[0], r->method, r->path, &m);
    unsigned allowed = route == GW_ROUTE_METHOD ? m.allowed : 0;
    gw_caller caller;
    memset(&caller, 0, sizeof caller);
    int admitted = 0;
    if (route < 0) {
        if (allowed && r->method && !strcmp(r->method, "OPTIONS") && g->cfg->gateway_cors_origin &&
            *g->cfg->gateway_cors_origin) {
            char mt[64];
            gw_methods_text(allowed, mt, sizeof mt);
            gw_resp_bytes(o, 204, "text/plain", "", 0);
            gw_resp_header(o, "Access-Control-Allow-Methods", mt);
            gw_resp_header(o, "Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, "
                                                              "Inference-Header-Content-Length");
            gw_resp_header(o, "Access-Control-Max-Age", "600");
        } else if (allowed) {
            char mt[64];
            gw_methods_text(allowed, mt, sizeof mt);
            gw_resp_error(o, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", r->method, r->path, mt);
            gw_resp_header(o, "Allow", mt);
        } else {
            gw_resp_error(o, 404, "not_found", "no such endpoint: %s", r->path);
        }
        goto done;
    }
    const api_route *ar = &routes[route];
    if (ar->scope != OPEN) {
        const char *tok = gw_bearer(r);
        auth_result ares;
        mlhep_err e = {0};
        if (!tok) {
            gw_resp_error(o, 401, "unauthorized", "a bearer token is required (header Authorization: Bearer TOKEN)");
            gw_resp_header(o, "WWW-Authenticate", "Bearer realm=\"mlhep\"");
            goto done;
        }
        if (auth_check(g->auth, tok, (int64_t)time(NULL), scope_names[ar->scope], &ares, &e)) {
            int scope = ares.reason == JWT_E_SCOPE;
            gw_resp_error(o, scope ? 403 : 401, scope ? "forbidden" : "unauthorized", "%s", e.msg);
            char h[160];
            snprintf(h, sizeof h, "Bearer realm=\"mlhep\", error=\"%s\"%s%s%s",
                     scope ? "insufficient_scope" : "invalid_token", scope ? ", scope=\"" : "",
                     scope ? scope_names[ar->scope] : "", scope ? "\"" : "");
            gw_resp_header(o, "WWW-Authenticate", h);
            goto done;
        }
        snprintf(caller.user, sizeof caller.user, "%s", ares.user);
        caller.token = tok;
        double retry = 0;
        int lim = ratelimit_enter(g->rl, caller.user, t0, &retry);
        if (lim != RL_OK) {
            char ra[32];
            snprintf(ra, sizeof ra, "%d", (int)(retry + 0.999) > 0 ? (int)(retry + 0.999) : 1);
            gw_resp_error(o, 429, "too_many_requests",
                          lim == RL_RATE ? "too many requests from '%s': the limit is %g per second"
                                         : "too many requests from '%s' at once (the limit is %g)",
                          caller.user,
                          lim == RL_RATE ? g->cfg->gateway_rate : (double)g->cfg->gateway_concurrency);
            gw_resp_header(o, "Retry-After", ra);
            goto done;
        }
        admitted = 1;
    }
    ar->fn(g, r, &m, &caller, o);
    if (!o->status)
        gw_resp_error(o, 500, "internal", "the handler gave no answer");
    if (admitted && o->reader && hold_stream(g, caller.user, o))
        admitted = 0; /* left when the stream ends */
done:
    cors(g, r, o);
    if (admitted)
        ratelimit_leave(g->rl, caller.user);
    double dt = mono_now() - t0;
    promstats_request(g->stats, route, o->status, dt);
    promstats_inflight(g->stats, -1);
    if (log) {
        char ts[32];
        gw_log_stamp(ts);
        /* the path and method are the client's bytes: escaped, so that they cannot
         * start a line or forge a field (the user comes from a verified token) */
        char path[300], method[24];
        gw_log_text(path, sizeof path, r->path);
        gw_log_text(method, sizeof method, r->method);
        fprintf(log, "%s %s %s %s %s %d %zu %.1fms%s%s\n", ts, r->peer ? r->peer : "-",
                caller.user[0] ? caller.user : "-", method, path, o->status, o->reader ? (size_t)0 : o->len,
                dt * 1e3, o->code ? " " : "", o->code ? o->code : "");
    }
}

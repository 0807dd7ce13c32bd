/* predictapi.c - see predictapi.h. */
#include "gateway/predictapi.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/wbuf.h"
#include "gateway/kserve.h"
#include "gateway/tfaas.h"
#include "infer/colreq.h"
#include "service/job.h"

#define PREDICT_EXCHANGE "predict"
#define PREDICT_ROUTING_KEY "predict"
#define FEATURES_TTL 1.0 /* seconds a model's features are reused (the worker re-checks as often) */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One RPC to mlhep-infer; on failure o holds the error response and -1 is returned. */
static int call(gw_ctx *g, const gw_caller *c, const char *type, const char *ctype, const void *body, size_t len,
                rpcmux_reply *rep, gw_resp *o)
{
    rpcmux_req rq = {PREDICT_EXCHANGE, PREDICT_ROUTING_KEY, type, ctype, c->token, body, len};
    mlhep_err e = {0};
    double t0 = mono_now();
    int rc = rpcmux_call(g->rpc, &rq, g->cfg->gateway_predict_timeout, rep, &e);
    double dt = mono_now() - t0;
    if (rc == 0) {
        promstats_infer(g->stats, PS_INFER_OK, dt);
        return 0;
    }
    if (rc == RPCMUX_TIMEOUT) {
        promstats_infer(g->stats, PS_INFER_TIMEOUT, dt);
        gw_resp_error(o, 504, "timeout", "%s", e.msg);
    } else if (rc == RPCMUX_REFUSED) { /* the queue is full: said at once, nothing queued */
        promstats_infer(g->stats, PS_INFER_UNAVAILABLE, dt);
        gw_resp_header(o, "Retry-After", "1");
        gw_resp_error(o, 503, "unavailable", "%s", e.msg);
    } else if (rc == MLHEP_ENOTFOUND) {
        promstats_infer(g->stats, PS_INFER_UNAVAILABLE, dt);
        gw_resp_error(o, 503, "unavailable", "the prediction service is not deployed (%s)", e.msg);
    } else {
        promstats_infer(g->stats, PS_INFER_UNAVAILABLE, dt);
        gw_resp_error(o, 503, "unavailable", "%s", e.msg);
    }
    return -1;
}

/* A JSON reply of the service: 0 with *doc, or -1 with o set (its error, with the status
 * its code gives). */
static int json_reply(const rpcmux_reply *rep, json_t **doc, gw_resp *o)
{
    json_t *d = json_loadb(rep->body, rep->len, 0, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        gw_resp_error(o, 502, "internal", "the prediction service sent a reply that is not JSON");
        return -1;
    }
    const char *err = json_string_value(json_object_get(d, "error"));
    if (err) {
        const char *code = json_string_value(json_object_get(d, "code"));
        int st = tfaas_status_for_code(code);
        gw_resp_json(o, st, d);
        o->code = "service_error";
        return -1;
    }
    *doc = d;
    return 0;
}

/* Sends {"op":..,...} as a models request; 0 with *doc. */
static int models_op(gw_ctx *g, const gw_caller *c, json_t *req, json_t **doc, gw_resp *o)
{
    char *t = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!t)
        return gw_resp_error(o, 500, "internal", "out of memory"), -1;
    rpcmux_reply rep;
    int rc = call(g, c, "models", NULL, t, strlen(t), &rep, o);
    free(t);
    if (rc)
        return -1;
    rc = json_reply(&rep, doc, o);
    rpcmux_reply_free(&rep);
    return rc;
}

/* ---- mlhep and TFaaS predictions: answered by the RPC pump (no thread waits) ------- */

typedef struct pending {
    gw_task *t;
    int tfaas;   /* answer in TFaaS's form */
    double t0;
} pending;

/* The service's reply (or the failure) as the HTTP answer of a prediction. */
static void answer(gw_ctx *g, gw_resp *o, int tfaas, int rc, const mlhep_err *e, rpcmux_reply *rep, double dt)
{
    if (rc) {
        int st = 503;
        const char *code = "unavailable";
        char msg[MLHEP_ERR_MAX + 64];
        if (rc == RPCMUX_TIMEOUT) {
            promstats_infer(g->stats, PS_INFER_TIMEOUT, dt);
            st = 504;
            code = "timeout";
            snprintf(msg, sizeof msg, "%s", e->msg);
        } else {
            promstats_infer(g->stats, PS_INFER_UNAVAILABLE, dt);
            if (rc == RPCMUX_REFUSED) /* the queue is full: said at once, nothing queued */
                gw_resp_header(o, "Retry-After", "1");
            if (rc == MLHEP_ENOTFOUND)
                snprintf(msg, sizeof msg, "the prediction service is not deployed (%s)", e->msg);
            else
                snprintf(msg, sizeof msg, "%s", e->msg);
        }
        if (tfaas)
            gw_resp_json(o, st, json_pack("{s:s}", "error", msg));
        else
            gw_resp_error(o, st, code, "%s", msg);
        o->code = code;
        return;
    }
    promstats_infer(g->stats, PS_INFER_OK, dt);
    if (tfaas) {
        char *out = NULL;
        size_t len = 0;
        int status = 500;
        if (tfaas_answer(rep->body, rep->len, &out, &len, &status))
            gw_resp_error(o, 500, "internal", "out of memory");
        else
            gw_resp_take(o, status, "application/json", out, len);
        rpcmux_reply_free(rep);
        return;
    }
    int status = 200;
    const char *ctype = rep->content_type[0] ? rep->content_type : "application/json";
    if (rep->len && rep->body[0] == '{') {
        /* a JSON document: an error's code sets the status (a success starts with
         * {"model": and is passed on without a parse) */
        if (rep->len < 9 || memcmp(rep->body, "{\"model\":", 9)) {
            json_t *d = json_loadb(rep->body, rep->len, 0, NULL);
            if (json_object_get(d, "error"))
                status = tfaas_status_for_code(json_string_value(json_object_get(d, "code")));
            json_decref(d);
        }
        ctype = "application/json";
    }
    gw_resp_take(o, status, ctype, rep->body, rep->len);
    rep->body = NULL;
}

static void on_reply(void *cls, int rc, const mlhep_err *e, rpcmux_reply *rep)
{
    pending *p = cls;
    gw_task *t = p->t;
    answer(t->g, &t->resp, p->tfaas, rc, e, rep, gwtask_now() - p->t0);
    free(p);
    gwtask_finish(t);
}

static void predict_start(gw_ctx *g, const gw_req *r, const gw_caller *c, gw_task *t, int tfaas)
{
    if (!r->body_len) {
        if (tfaas)
            gw_resp_json(&t->resp, 400, json_pack("{s:s}", "error", "the request has no body"));
        else
            gw_resp_error(&t->resp, 400, "bad_request", "the request has no body");
        gwtask_finish(t);
        return;
    }
    int binary = !tfaas && (gw_content_type_is(r, COLREQ_CONTENT_TYPE) ||
                            (r->body_len >= 4 && !memcmp(r->body, COLREQ_MAGIC, 4)));
    pending *p = malloc(sizeof *p);
    if (!p) {
        gw_resp_error(&t->resp, 503, "unavailable", "the gateway is out of memory");
        gwtask_finish(t);
        return;
    }
    p->t = t;
    p->tfaas = tfaas;
    p->t0 = gwtask_now();
    rpcmux_req rq = {PREDICT_EXCHANGE, PREDICT_ROUTING_KEY, "predict", binary ? COLREQ_CONTENT_TYPE : NULL,
                     c->token, r->body, r->body_len};
    mlhep_err e = {0};
    int rc = rpcmux_send(g->rpc, &rq, g->cfg->gateway_predict_timeout, on_reply, p, &e);
    if (rc) {
        answer(g, &t->resp, tfaas, rc, &e, NULL, 0);
        free(p);
        gwtask_finish(t);
    }
}

void predictapi_predict_async(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_task *t)
{
    (void)m;
    predict_start(g, r, c, t, 0);
}

void predictapi_tfaas_async(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_task *t)
{
    (void)m;
    predict_start(g, r, c, t, 1);
}

int predictapi_tfaas_models(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    (void)m;
    json_t *doc;
    if (models_op(g, c, json_pack("{s:s}", "op", "list"), &doc, o))
        return 0;
    json_t *arr = NULL;
    mlhep_err e = {0};
    int rc = tfaas_models(doc, &arr, &e);
    json_decref(doc);
    if (rc)
        return gw_resp_error(o, 502, "internal", "%s", e.msg);
    return gw_resp_json(o, 200, arr);
}

/* ---- model management --------------------------------------------------------------- */

int predictapi_models(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    (void)m;
    json_t *doc;
    if (models_op(g, c, json_pack("{s:s}", "op", "list"), &doc, o))
        return 0;
    json_object_del(doc, "ok");
    return gw_resp_json(o, 200, doc);
}

int predictapi_model_show(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    const char *name = gw_param(m, "name");
    json_t *feat, *list;
    /* the whole features document too (normalisation, padding: what a client needs to
     * reproduce the model's inputs), as "document" */
    if (models_op(g, c, json_pack("{s:s, s:s, s:b}", "op", "features", "model", name, "full", 1), &feat, o))
        return 0;
    if (models_op(g, c, json_pack("{s:s}", "op", "list"), &list, o)) {
        json_decref(feat);
        return 0;
    }
    json_object_del(feat, "ok");
    /* the registry entry of this name (versions, owner, metrics), if it is a name */
    char base[160];
    snprintf(base, sizeof base, "%s", name);
    char *at = strchr(base, '@');
    if (at)
        *at = '\0';
    json_t *entry = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(list, "models"), i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (n && !strcmp(n, base))
            entry = x;
    }
    json_t *out = json_pack("{s:s, s:O, s:O}", "name", name, "features", feat, "registry",
                            entry ? entry : json_null());
    json_decref(feat);
    json_decref(list);
    return gw_resp_json(o, 200, out);
}

static json_t *body_object(const gw_req *r, gw_resp *o)
{
    json_t *j = r->body_len ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        gw_resp_error(o, 400, "bad_request", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

int predictapi_model_tag(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    json_t *b = body_object(r, o);
    if (!b)
        return 0;
    json_t *job = json_object_get(b, "job"), *name = json_object_get(b, "name"), *sh = json_object_get(b, "shared");
    if (!json_is_string(job) || !json_is_string(name) || (sh && !json_is_boolean(sh))) {
        json_decref(b);
        return gw_resp_error(o, 400, "bad_request", "tag needs {\"job\": ID, \"name\": NAME, \"shared\": bool (optional)}");
    }
    json_t *req = json_pack("{s:s, s:O, s:O}", "op", "tag", "job", job, "name", name);
    if (sh)
        json_object_set(req, "shared", sh);
    json_decref(b);
    json_t *doc;
    if (models_op(g, c, req, &doc, o))
        return 0;
    json_object_del(doc, "ok");
    return gw_resp_json(o, 201, doc);
}

int predictapi_model_share(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    json_t *b = body_object(r, o);
    if (!b)
        return 0;
    json_t *sh = json_object_get(b, "shared");
    if (!json_is_boolean(sh)) {
        json_decref(b);
        return gw_resp_error(o, 400, "bad_request", "share needs {\"shared\": true|false}");
    }
    json_t *req = json_pack("{s:s, s:s, s:O}", "op", "share", "model", gw_param(m, "name"), "shared", sh);
    json_decref(b);
    json_t *doc;
    if (models_op(g, c, req, &doc, o))
        return 0;
    json_object_del(doc, "ok");
    return gw_resp_json(o, 200, doc);
}

int predictapi_model_delete(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    json_t *doc;
    if (models_op(g, c, json_pack("{s:s, s:s}", "op", "delete", "model", gw_param(m, "name")), &doc, o))
        return 0;
    json_object_del(doc, "ok");
    return gw_resp_json(o, 200, doc);
}

/* ---- KServe v2 -------------------------------------------------------------------------- */

int predictapi_v2_server(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)g;
    (void)r;
    (void)m;
    (void)c;
    return gw_resp_json(o, 200, json_pack("{s:s, s:s, s:[s]}", "name", "mlhep", "version", "1",
                                          "extensions", "binary_tensor_data"));
}

int predictapi_v2_live(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)g;
    (void)r;
    (void)m;
    (void)c;
    return gw_resp_json(o, 200, json_pack("{s:b}", "live", 1));
}

int predictapi_v2_ready(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    (void)m;
    (void)c;
    int ready = rpcmux_connected(g->rpc) > 0;
    return gw_resp_json(o, ready ? 200 : 503, json_pack("{s:b}", "ready", ready));
}

/* The model reference of a v2 path: name, or name@version. */
static void v2_ref(const gw_match *m, char *ref, size_t n)
{
    const char *name = gw_param(m, "name"), *v = gw_param(m, "version");
    if (v)
        snprintf(ref, n, "%s@%s", name, v);
    else
        snprintf(ref, n, "%s", name);
}

_Static_assert(GW_REF_MAX > 2 * GW_PARAM_MAX, "a v2 model reference fits GW_REF_MAX");
_Static_assert(GW_REF_MAX <= KSERVE_REF_MAX, "a v2 model reference fits a kserve_stream");

/* Features of a model, through the context's small cache (FEATURES_TTL). */
static int features(gw_ctx *g, const gw_caller *c, const char *ref, json_t **doc, gw_resp *o)
{
    double now = mono_now();
    pthread_mutex_lock(&g->fmu);
    for (int i = 0; i < GW_FCACHE; i++) {
        gw_fentry *f = &g->fcache[i];
        if (f->doc && now - f->at < FEATURES_TTL && !strcmp(f->user, c->user) && !strcmp(f->ref, ref)) {
            *doc = json_incref(f->doc);
            pthread_mutex_unlock(&g->fmu);
            return 0;
        }
    }
    pthread_mutex_unlock(&g->fmu);
    if (models_op(g, c, json_pack("{s:s, s:s}", "op", "features", "model", ref), doc, o))
        return -1;
    pthread_mutex_lock(&g->fmu);
    gw_fentry *f = &g->fcache[g->fnext++ % GW_FCACHE];
    json_decref(f->doc);
    snprintf(f->user, sizeof f->user, "%s", c->user);
    snprintf(f->ref, sizeof f->ref, "%s", ref);
    f->doc = json_incref(*doc);
    f->at = now;
    pthread_mutex_unlock(&g->fmu);
    return 0;
}

int predictapi_v2_model(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    char ref[GW_REF_MAX];
    v2_ref(m, ref, sizeof ref);
    json_t *f;
    if (features(g, c, ref, &f, o)) {
        if (o->status == 404 || o->status == 400)
            gw_resp_error(o, 404, "not_found", "no model '%s' for you", ref);
        return 0;
    }
    json_t *meta = NULL;
    mlhep_err e = {0};
    int rc = kserve_model_metadata(gw_param(m, "name"), f, &meta, &e);
    json_decref(f);
    if (rc)
        return gw_resp_error(o, 502, "internal", "%s", e.msg);
    return gw_resp_json(o, 200, meta);
}

int predictapi_v2_model_ready(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    char ref[GW_REF_MAX];
    v2_ref(m, ref, sizeof ref);
    json_t *f;
    if (features(g, c, ref, &f, o)) {
        gw_resp_json(o, o->status == 503 || o->status == 504 ? o->status : 404,
                     json_pack("{s:s, s:b}", "name", ref, "ready", 0));
        return 0;
    }
    json_decref(f);
    return gw_resp_json(o, 200, json_pack("{s:s, s:b}", "name", ref, "ready", 1));
}

typedef struct kinds {
    json_t *features;
} kinds;

static int kind_of(void *cls, const char *name)
{
    kinds *k = cls;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(k->features, "features"), i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (n && !strcmp(n, name)) {
            const char *kd = json_string_value(json_object_get(x, "kind"));
            return kd && !strcmp(kd, "jagged");
        }
    }
    return -1;
}

static void sink_feed(void *s, const void *p, size_t n)
{
    kserve_stream_feed(s, p, n); /* an error stays in the stream, given by kserve_stream_finish */
}

static void sink_release(void *s)
{
    kserve_stream_free(s);
}

int predictapi_v2_sink(const gw_match *m, const char *(*header)(void *cls, const char *name), void *hcls,
                       size_t len, gw_sink *out)
{
    const char *hl = header(hcls, "Inference-Header-Content-Length");
    char *end;
    if (!hl || !*hl)
        return 0;
    unsigned long long v = strtoull(hl, &end, 10);
    if (*end || v == 0 || v > len)
        return 0; /* the handler refuses it */
    char ref[GW_REF_MAX];
    v2_ref(m, ref, sizeof ref);
    kserve_stream *s = kserve_stream_new(ref, len, (size_t)v);
    if (!s)
        return 0;
    *out = (gw_sink){s, sink_feed, sink_release};
    return 1;
}

int predictapi_v2_infer(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    char ref[GW_REF_MAX];
    v2_ref(m, ref, sizeof ref);
    json_t *f;
    if (features(g, c, ref, &f, o))
        return 0;
    size_t json_len = 0;
    const char *hl = gw_header(r, "Inference-Header-Content-Length");
    if (hl) {
        char *end;
        unsigned long long v = strtoull(hl, &end, 10);
        if (!*hl || *end || v > r->body_len) {
            json_decref(f);
            return gw_resp_error(o, 400, "bad_request", "Inference-Header-Content-Length '%s' is not a length within "
                                                        "the body", hl);
        }
        json_len = (size_t)v;
    }
    wbuf cb = WBUF_INIT;
    kserve_request kr;
    kinds k = {f};
    mlhep_err e = {0};
    int rc = r->sink ? kserve_stream_finish(r->sink->s, kind_of, &k, &cb, &kr, &e)
                     : kserve_parse_infer(r->body ? r->body : "", r->body_len, json_len, ref, kind_of, &k, &cb, &kr, &e);
    json_decref(f);
    if (rc) {
        wbuf_free(&cb);
        if (rc == MLHEP_ENOTFOUND)
            return gw_resp_error(o, 400, "unknown_branch", "%s", e.msg);
        int st;
        const char *code;
        gw_status_for(rc, &st, &code);
        return gw_resp_error(o, st, code, "%s", e.msg);
    }
    rpcmux_reply rep;
    rc = call(g, c, "predict", COLREQ_CONTENT_TYPE, cb.p, cb.len, &rep, o);
    wbuf_free(&cb);
    if (rc)
        return 0;
    if (rep.len && rep.body[0] == '{') {
        json_t *d;
        if (json_reply(&rep, &d, o) == 0) { /* a JSON success to a binary request: unexpected */
            json_decref(d);
            gw_resp_error(o, 502, "internal", "the prediction service answered a binary request with JSON");
        }
        rpcmux_reply_free(&rep);
        return 0;
    }
    colresp cr = {0};
    rc = colresp_parse(rep.body, rep.len, &cr, &e);
    rpcmux_reply_free(&rep);
    if (rc) {
        colresp_free(&cr);
        return gw_resp_error(o, 502, "internal", "the prediction service's reply is unreadable: %s", e.msg);
    }
    const char *at = strrchr(cr.model, '@');
    wbuf w = WBUF_INIT;
    size_t jl = 0;
    rc = kserve_write_response(&kr, gw_param(m, "name"), at ? at + 1 : "", cr.scores, cr.nrows, cr.k, &w, &jl, &e);
    colresp_free(&cr);
    if (rc) {
        wbuf_free(&w);
        return gw_resp_error(o, 500, "internal", "%s", e.msg);
    }
    if (kr.binary_output) {
        char n[32];
        snprintf(n, sizeof n, "%zu", jl);
        gw_resp_take(o, 200, "application/octet-stream", (char *)w.p, w.len);
        gw_resp_header(o, "Inference-Header-Content-Length", n);
    } else {
        gw_resp_take(o, 200, "application/json", (char *)w.p, w.len);
    }
    return 0;
}

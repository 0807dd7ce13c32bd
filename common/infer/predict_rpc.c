/* predict_rpc.c - the prediction service's client API (see predict_rpc.h). */
#include "infer/predict_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "service/amqp_rpc.h"

struct predict_rpc {
    rpc_conn *rc;
    char *token;
    uint64_t seq;
    char prefix[24]; /* correlation ids are "<prefix>-<seq>" */
    int expire_ms;   /* requests expire on the broker after the last call's timeout */
};

int predict_rpc_open(const mlhep_config *cfg, const char *token, predict_rpc **out, mlhep_err *e)
{
    *out = NULL;
    predict_rpc *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    if (token && !(c->token = strdup(token))) {
        free(c);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    uint8_t r[6] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, (int)getpid(), sizeof r);
    snprintf(c->prefix, sizeof c->prefix, "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
    amqpc_params p = {cfg->amqp_host, cfg->amqp_port, cfg->amqp_user, cfg->amqp_password, cfg->amqp_vhost, 0, 10000};
    int rc = rpc_connect(&p, &c->rc, e);
    if (!rc)
        rc = rpc_client_start(c->rc, e);
    if (rc) {
        predict_rpc_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void predict_rpc_close(predict_rpc *c)
{
    if (!c)
        return;
    rpc_close(c->rc);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c);
}

void predict_rpc_expire(predict_rpc *c, int ms)
{
    c->expire_ms = ms > 0 ? ms : 0;
}

int predict_rpc_send(predict_rpc *c, const char *type, const char *body, size_t len, uint64_t *seq, mlhep_err *e)
{
    char corr[64];
    uint64_t s = ++c->seq;
    snprintf(corr, sizeof corr, "%s-%llu", c->prefix, (unsigned long long)s);
    int rc = rpc_call_send(c->rc, PREDICT_RPC_EXCHANGE, PREDICT_RPC_ROUTING_KEY, type, c->token, corr, c->expire_ms,
                           body, len, e);
    if (!rc && seq)
        *seq = s;
    return rc;
}

int predict_rpc_send_columns(predict_rpc *c, const wbuf *req, uint64_t *seq, mlhep_err *e)
{
    char corr[64];
    uint64_t s = ++c->seq;
    snprintf(corr, sizeof corr, "%s-%llu", c->prefix, (unsigned long long)s);
    int rc = rpc_call_send_as(c->rc, PREDICT_RPC_EXCHANGE, PREDICT_RPC_ROUTING_KEY, "predict", COLREQ_CONTENT_TYPE,
                              c->token, corr, c->expire_ms, req->p, req->len, e);
    if (!rc && seq)
        *seq = s;
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int predict_rpc_recv(predict_rpc *c, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e)
{
    *reply = NULL;
    double end = now_s() + timeout_ms / 1000.0;
    size_t pl = strlen(c->prefix);
    for (;;) {
        int left = (int)((end - now_s()) * 1000);
        if (left <= 0)
            return err_set(e, MLHEP_ENET, "no reply within %.1f s (is an inference worker running?)",
                           timeout_ms / 1000.0);
        rpc_msg m;
        int rc = rpc_next(c->rc, &m, left, e);
        if (rc == RPC_TIMEOUT)
            continue;
        if (rc == RPC_REFUSED) /* ours (one client per connection): the queue is full */
            return MLHEP_ENET;
        if (rc < 0)
            return rc;
        /* ours? "<prefix>-<seq>" */
        if (strncmp(m.corr_id, c->prefix, pl) || m.corr_id[pl] != '-') {
            rpc_msg_free(&m);
            continue;
        }
        char *t = malloc(m.len + 1);
        if (!t) {
            rpc_msg_free(&m);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        memcpy(t, m.body, m.len);
        t[m.len] = '\0';
        *len = m.len;
        *seq = strtoull(m.corr_id + pl + 1, NULL, 10);
        *reply = t;
        rpc_msg_free(&m);
        return 0;
    }
}

/* The service's error document {"error": MESSAGE, "code": CODE} as an mlhep error. */
static int service_error(const char *code, const char *msg, mlhep_err *e)
{
    int ec = !code                                                         ? MLHEP_EUNSUPPORTED
             : !strcmp(code, "unauthorized") || !strcmp(code, "forbidden") ? MLHEP_EAUTH
             : !strcmp(code, "unknown_model")                              ? MLHEP_ENOTFOUND
             : !strcmp(code, "bad_request") || !strcmp(code, "unknown_branch") || !strcmp(code, "too_large")
                 ? MLHEP_EINVAL
                 : MLHEP_EUNSUPPORTED;
    return err_set(e, ec, "%s: %s", code ? code : "error", msg);
}

int predict_rpc_reply_json(const char *reply, size_t len, json_t **doc, mlhep_err *e)
{
    json_error_t je;
    *doc = json_loadb(reply, len, 0, &je);
    if (!*doc)
        return err_set(e, MLHEP_EUNSUPPORTED, "the service sent an unreadable reply: %s", je.text);
    const char *msg = json_string_value(json_object_get(*doc, "error"));
    if (!msg)
        return 0;
    int rc = service_error(json_string_value(json_object_get(*doc, "code")), msg, e);
    json_decref(*doc);
    *doc = NULL;
    return rc;
}

int predict_rpc_reply_columns(const char *reply, size_t len, colresp *r, mlhep_err *e)
{
    if (len >= 4 && !memcmp(reply, COLRESP_MAGIC, 4))
        return colresp_parse(reply, len, r, e);
    json_t *d = json_loadb(reply, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(d, "error"));
    const char *code = json_string_value(json_object_get(d, "code"));
    int rc;
    if (!msg || !code)
        rc = err_set(e, MLHEP_EFORMAT, "the service sent an unreadable reply to a binary request (%zu bytes)", len);
    else
        rc = service_error(code, msg, e);
    json_decref(d);
    return rc;
}

int predict_rpc_call(predict_rpc *c, const char *type, const char *body, size_t len, char **reply, size_t *rlen,
                     int timeout_ms, mlhep_err *e)
{
    uint64_t want, got;
    *reply = NULL;
    predict_rpc_expire(c, timeout_ms);
    int rc = predict_rpc_send(c, type, body, len, &want, e);
    while (!rc) {
        rc = predict_rpc_recv(c, &got, reply, rlen, timeout_ms, e);
        if (rc || got == want)
            return rc;
        free(*reply); /* a late reply of an earlier request */
        *reply = NULL;
    }
    return rc;
}

int predict_rpc_json(predict_rpc *c, const char *type, const char *body, size_t len, char **reply, json_t **doc,
                     int timeout_ms, mlhep_err *e)
{
    char *text;
    size_t tlen;
    *doc = NULL;
    if (reply)
        *reply = NULL;
    int rc = predict_rpc_call(c, type, body, len, &text, &tlen, timeout_ms, e);
    if (!rc)
        rc = predict_rpc_reply_json(text, tlen, doc, e);
    if (!rc && reply)
        *reply = text;
    else
        free(text);
    return rc;
}

int predict_rpc_columns(predict_rpc *c, const wbuf *req, colresp *r, int timeout_ms, mlhep_err *e)
{
    uint64_t want, got;
    char *reply = NULL;
    size_t rlen;
    predict_rpc_expire(c, timeout_ms);
    int rc = predict_rpc_send_columns(c, req, &want, e);
    while (!rc) {
        rc = predict_rpc_recv(c, &got, &reply, &rlen, timeout_ms, e);
        if (!rc && got == want) {
            rc = predict_rpc_reply_columns(reply, rlen, r, e);
            free(reply);
            return rc;
        }
        free(reply); /* a late reply of an earlier request */
        reply = NULL;
    }
    return rc;
}

/* A "models" request built from q (taken). */
static int models_call(predict_rpc *c, json_t *q, char **reply, json_t **doc, int timeout_ms, mlhep_err *e)
{
    *doc = NULL;
    if (reply)
        *reply = NULL;
    char *body = q ? json_dumps(q, JSON_COMPACT) : NULL;
    json_decref(q);
    if (!body)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = predict_rpc_json(c, "models", body, strlen(body), reply, doc, timeout_ms, e);
    free(body);
    return rc;
}

void predict_rpc_model_free(predict_rpc_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->features && i < m->nfeatures; i++)
        free(m->features[i].name);
    free(m->features);
    free(m->model);
    memset(m, 0, sizeof *m);
}

int predict_rpc_features(predict_rpc *c, const char *model, predict_rpc_model *m, int timeout_ms, mlhep_err *e)
{
    memset(m, 0, sizeof *m);
    json_t *d;
    int rc = models_call(c, json_pack("{s:s, s:s}", "op", "features", "model", model), NULL, &d, timeout_ms, e);
    if (rc)
        return rc;
    rc = predict_rpc_model_from_doc(d, m, e);
    json_decref(d);
    return rc;
}

int predict_rpc_model_from_doc(const json_t *d, predict_rpc_model *m, mlhep_err *e)
{
    memset(m, 0, sizeof *m);
    int rc = 0;
    const json_t *arr = json_object_get(d, "features");
    const char *canon = json_string_value(json_object_get(d, "model"));
    json_int_t k = json_integer_value(json_object_get(d, "outputs"));
    size_t nf = json_array_size(arr);
    if (!canon || !nf || k < 1)
        return err_set(e, MLHEP_EUNSUPPORTED, "the service described the model without features");
    m->outputs = (size_t)k;
    m->model = strdup(canon);
    m->features = calloc(nf, sizeof *m->features);
    if (m->model && m->features) {
        m->nfeatures = nf;
        for (size_t i = 0; i < nf; i++) {
            const json_t *f = json_array_get(arr, i);
            const char *name = json_string_value(json_object_get(f, "name"));
            const char *kind = json_string_value(json_object_get(f, "kind"));
            m->features[i].jagged = kind && !strcmp(kind, "jagged");
            if (!(m->features[i].name = strdup(name ? name : "?")))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    } else {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (rc)
        predict_rpc_model_free(m);
    return rc;
}

int predict_rpc_models(predict_rpc *c, char **reply, json_t **doc, int timeout_ms, mlhep_err *e)
{
    return models_call(c, json_pack("{s:s}", "op", "list"), reply, doc, timeout_ms, e);
}

/* predict_client.c - see predict_client.h. */
#include "infer/predict_client.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service/amqp_rpc.h"
#include "service/auth_glue.h"
#include "root/basket.h"
#include "data/featmap.h"
#include "infer/modelstore.h"
#include "infer/predict.h"
#include "root/rootfile.h"
#include "root/rootwrite.h"
#include "root/ttree.h"

#define MAX_INPUT ((size_t)256 << 20)

enum {
    PX_OK = 0,
    PX_INTERNAL = 1,
    PX_USAGE = 2,
    PX_CONFIG = 3,
    PX_AUTH = 4,
    PX_INPUT = 5,
    PX_BROKER = 6,
    PX_NOTFOUND = 8,
    PX_FILE = 12,
    PX_TIMEOUT = 14,
};

/* ---- the RPC client ---- */

struct pclient {
    rpc_conn *rc;
    char *token;
    uint64_t seq;
    char prefix[24];
};

int pclient_open(const mlhep_config *cfg, const char *token, pclient **out, mlhep_err *e)
{
    *out = NULL;
    pclient *c = calloc(1, sizeof *c);
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
        pclient_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void pclient_close(pclient *c)
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

int pclient_send(pclient *c, const char *type, const char *body, size_t len, uint64_t *seq, mlhep_err *e)
{
    char corr[64];
    uint64_t s = ++c->seq;
    snprintf(corr, sizeof corr, "%s-%llu", c->prefix, (unsigned long long)s);
    int rc = rpc_call_send(c->rc, PCLIENT_EXCHANGE, PCLIENT_ROUTING_KEY, type, c->token, corr, body, len, e);
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

int pclient_recv(pclient *c, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e)
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

int pclient_call(pclient *c, const char *type, const char *body, size_t len, char **reply, size_t *rlen,
                 int timeout_ms, mlhep_err *e)
{
    uint64_t want, got;
    int rc = pclient_send(c, type, body, len, &want, e);
    while (!rc) {
        rc = pclient_recv(c, &got, reply, rlen, timeout_ms, e);
        if (rc || got == want)
            return rc;
        free(*reply); /* a late reply of an earlier request */
        *reply = NULL;
    }
    return rc;
}

int pclient_send_columns(pclient *c, const colbuf *req, uint64_t *seq, mlhep_err *e)
{
    char corr[64];
    uint64_t s = ++c->seq;
    snprintf(corr, sizeof corr, "%s-%llu", c->prefix, (unsigned long long)s);
    int rc = rpc_call_send_as(c->rc, PCLIENT_EXCHANGE, PCLIENT_ROUTING_KEY, "predict", COLREQ_CONTENT_TYPE, c->token,
                              corr, req->p, req->n, e);
    if (!rc && seq)
        *seq = s;
    return rc;
}

int pclient_columns_reply(const char *reply, size_t len, colresp *r, mlhep_err *e)
{
    if (len >= 4 && !memcmp(reply, COLRESP_MAGIC, 4))
        return colresp_parse(reply, len, r, e);
    json_t *d = json_loadb(reply, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(d, "error"));
    const char *code = json_string_value(json_object_get(d, "code"));
    int rc;
    if (!msg || !code) {
        rc = err_set(e, MLHEP_EFORMAT, "the service sent an unreadable reply to a binary request (%zu bytes)", len);
    } else {
        int ec = !strcmp(code, "unauthorized") || !strcmp(code, "forbidden") ? MLHEP_EAUTH
                 : !strcmp(code, "unknown_model")                           ? MLHEP_ENOTFOUND
                 : !strcmp(code, "bad_request") || !strcmp(code, "unknown_branch") || !strcmp(code, "too_large")
                     ? MLHEP_EINVAL
                     : MLHEP_EUNSUPPORTED;
        rc = err_set(e, ec, "%s: %s", code, msg);
    }
    json_decref(d);
    return rc;
}

int pclient_predict_columns(pclient *c, const colbuf *req, colresp *r, int timeout_ms, mlhep_err *e)
{
    uint64_t want, got;
    char *reply = NULL;
    size_t rlen;
    int rc = pclient_send_columns(c, req, &want, e);
    while (!rc) {
        rc = pclient_recv(c, &got, &reply, &rlen, timeout_ms, e);
        if (!rc && got == want) {
            rc = pclient_columns_reply(reply, rlen, r, e);
            free(reply);
            return rc;
        }
        free(reply); /* a late reply of an earlier request */
        reply = NULL;
    }
    return rc;
}

/* ---- command line ---- */

typedef struct opts {
    const char *config, *tokfile, *model, *root, *tree, *out, *branch;
    int json, local, shared, wire_json;
    long batch, window;
    double timeout;
    mlhep_config cfg;
    char *token;
} opts;

static int perr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mlhep-submit: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

static int code_exit(const char *code)
{
    if (!code)
        return PX_INTERNAL;
    if (!strcmp(code, "unauthorized") || !strcmp(code, "forbidden"))
        return PX_AUTH;
    if (!strcmp(code, "unknown_model"))
        return PX_NOTFOUND;
    if (!strcmp(code, "bad_request") || !strcmp(code, "unknown_branch") || !strcmp(code, "too_large"))
        return PX_INPUT;
    return PX_INTERNAL;
}

static int err_exit(const mlhep_err *e)
{
    switch (e->code) {
    case MLHEP_EAUTH: return PX_AUTH;
    case MLHEP_ENOTFOUND: return PX_NOTFOUND;
    case MLHEP_EINVAL:
    case MLHEP_EFORMAT: return PX_INPUT;
    case MLHEP_ENET: return strstr(e->msg, "no reply within") ? PX_TIMEOUT : PX_BROKER;
    case MLHEP_EIO: return PX_FILE;
    default: return PX_INTERNAL;
    }
}

/* A reply document: 0 and *doc if it is not an error; else prints it, returns the exit. */
static int check_reply(const char *text, json_t **doc)
{
    json_error_t je;
    *doc = json_loads(text, 0, &je);
    if (!*doc)
        return perr(PX_INTERNAL, "the service sent an unreadable reply: %s", je.text);
    const char *err = json_string_value(json_object_get(*doc, "error"));
    if (!err)
        return 0;
    const char *code = json_string_value(json_object_get(*doc, "code"));
    int x = perr(code_exit(code), "%s: %s", code ? code : "error", err);
    json_decref(*doc);
    *doc = NULL;
    return x;
}

/* Sends the JSON body (taken: freed here; NULL means it could not be built) on queue
 * and checks the reply, opening *c first when it is NULL (the caller closes it). 0 with
 * *reply (raw text, caller frees) and *doc (caller decrefs); else the exit code, with
 * the message printed. */
static int json_call(const opts *o, pclient **c, const char *queue, char *body, char **reply, json_t **doc)
{
    *reply = NULL;
    *doc = NULL;
    if (!body)
        return perr(PX_INTERNAL, "out of memory");
    mlhep_err e;
    err_clear(&e);
    size_t rlen;
    int x = 0;
    if ((!*c && pclient_open(&o->cfg, o->token, c, &e)) ||
        pclient_call(*c, queue, body, strlen(body), reply, &rlen, (int)(o->timeout * 1000), &e))
        x = perr(err_exit(&e), "%s", e.msg);
    else
        x = check_reply(*reply, doc);
    free(body);
    if (x) {
        free(*reply);
        *reply = NULL;
    }
    return x;
}

static char *read_all(const char *path, size_t *len, mlhep_err *e)
{
    FILE *f = (!path || !strcmp(path, "-")) ? stdin : fopen(path, "rb");
    if (!f) {
        err_set(e, MLHEP_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= MAX_INPUT) {
            free(b);
            b = NULL;
            err_set(e, MLHEP_ENOMEM, "input larger than 256 MiB");
            break;
        }
        char *nb = realloc(b, cap * 2 + 1);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (f != stdin)
        fclose(f);
    if (b) {
        b[n] = '\0';
        *len = n;
    } else if (!e->msg[0]) {
        err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    return b;
}

static void print_predictions(const json_t *preds)
{
    size_t i;
    const json_t *v;
    json_array_foreach(preds, i, v) {
        if (json_is_array(v)) {
            size_t j;
            const json_t *p;
            json_array_foreach(v, j, p)
                printf("%s%.9g", j ? " " : "", json_number_value(p));
            printf("\n");
        } else {
            printf("%.9g\n", json_number_value(v));
        }
    }
}

/* Local model: a file path, or REF resolved in the configured artifact store. */
static int local_model(opts *o, predict_model **pm, mlhep_err *e)
{
    struct stat st;
    if (!stat(o->model, &st) && S_ISREG(st.st_mode))
        return predict_model_load_file(o->model, pm, e);
    char user[JOB_USER_MAX + 1];
    int rc = auth_check_submit(&o->cfg, o->token, user, e);
    if (rc)
        return rc;
    modelstore *ms;
    if ((rc = modelstore_open(o->cfg.artifact_dir, &ms, e)))
        return rc;
    ms_ref r;
    rc = modelstore_resolve(ms, user, o->model, &r, e);
    if (!rc)
        rc = predict_model_load_file(r.path, pm, e);
    modelstore_close(ms);
    return rc;
}

static void print_scores(const colresp *r)
{
    for (size_t i = 0; i < r->nrows; i++)
        for (size_t j = 0; j < r->k; j++)
            printf("%.9g%s", (double)r->scores[i * r->k + j], j + 1 < r->k ? " " : "\n");
}

static void print_scores_json(const colresp *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->nrows; i++) {
        if (r->k == 1) {
            json_array_append_new(a, json_real(r->scores[i]));
            continue;
        }
        json_t *p = json_array();
        for (size_t j = 0; j < r->k; j++)
            json_array_append_new(p, json_real(r->scores[i * r->k + j]));
        json_array_append_new(a, p);
    }
    json_t *d = json_pack("{s:s, s:o}", "model", r->model, "predictions", a);
    char *t = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (t)
        printf("%s\n", t);
    free(t);
    json_decref(d);
}

/* A binary columnar request file (starts with "MLHC", colreq.h) sent as it is; --model
 * replaces the model reference in its header. */
static int cmd_predict_binary(opts *o, uint8_t *buf, size_t len)
{
    mlhep_err e;
    err_clear(&e);
    colbuf cb = {buf, len, len};
    uint8_t *nb = NULL;
    if (o->model && len >= 18) {
        size_t old = (size_t)buf[16] | (size_t)buf[17] << 8, ml = strlen(o->model);
        if (ml < 1 || ml > COLREQ_MAX_MODEL)
            return perr(PX_USAGE, "--model: a reference of 1..%u bytes", COLREQ_MAX_MODEL);
        if (18 + old <= len && (nb = malloc(len - old + ml))) {
            memcpy(nb, buf, 16);
            nb[16] = (uint8_t)ml;
            nb[17] = (uint8_t)(ml >> 8);
            memcpy(nb + 18, o->model, ml);
            memcpy(nb + 18 + ml, buf + 18 + old, len - 18 - old);
            cb = (colbuf){nb, len - old + ml, len - old + ml};
        }
    }
    int x = PX_OK;
    colresp r = {0};
    if (o->local) {
        predict_model *pm = NULL;
        predict_ctx pc = {0};
        int rc = colreq_parse(cb.p, cb.n, &pc.creq, &e);
        if (!rc) {
            if (!o->model)
                o->model = pc.creq.model;
            rc = local_model(o, &pm, &e);
        }
        if (rc || predict_columns(pm, &pc, &e) ||
            colresp_write(&pc.bin, o->model, pc.out, pc.nrows, predict_model_outputs(pm), -1, &e) ||
            colresp_parse(pc.bin.p, pc.bin.n, &r, &e))
            x = perr(err_exit(&e), "%s", e.msg);
        predict_ctx_free(&pc);
        predict_model_free(pm);
    } else {
        pclient *c = NULL;
        if (pclient_open(&o->cfg, o->token, &c, &e) || pclient_predict_columns(c, &cb, &r, (int)(o->timeout * 1000), &e))
            x = perr(err_exit(&e), "%s", e.msg);
        pclient_close(c);
    }
    if (!x && o->json)
        print_scores_json(&r);
    else if (!x)
        print_scores(&r);
    colresp_free(&r);
    free(nb);
    return x;
}

static int cmd_predict_json(opts *o, const char *input)
{
    mlhep_err e;
    err_clear(&e);
    size_t len;
    char *text = read_all(input, &len, &e);
    if (!text)
        return perr(PX_FILE, "%s", e.msg);
    if (len >= 4 && !memcmp(text, COLREQ_MAGIC, 4)) {
        int x = cmd_predict_binary(o, (uint8_t *)text, len);
        free(text);
        return x;
    }
    json_error_t je;
    json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!req)
        return perr(PX_INPUT, "%s:%d:%d: invalid JSON: %s", input ? input : "stdin", je.line, je.column, je.text);
    if (!json_is_object(req)) {
        json_decref(req);
        return perr(PX_INPUT, "the input must be a JSON object (keys/values, rows or columns)");
    }
    if (o->model)
        json_object_set_new(req, "model", json_string(o->model));
    if (!json_is_string(json_object_get(req, "model"))) {
        json_decref(req);
        return perr(PX_USAGE, "no model: give --model REF or a \"model\" member");
    }
    int x = PX_OK;
    if (o->local) {
        predict_model *pm = NULL;
        predict_ctx pc = {0};
        if (!o->model)
            o->model = json_string_value(json_object_get(req, "model"));
        if (local_model(o, &pm, &e) || predict_request(pm, req, &pc, &e) ||
            predict_format_response(pm, o->model, pc.out, pc.nrows, -1, &pc, &e)) {
            x = perr(err_exit(&e), "%s", e.msg);
        } else if (o->json) {
            printf("%s\n", pc.buf);
        } else {
            json_t *d = json_loads(pc.buf, 0, NULL);
            print_predictions(json_object_get(d, "predictions"));
            json_decref(d);
        }
        predict_ctx_free(&pc);
        predict_model_free(pm);
        json_decref(req);
        return x;
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    pclient *c = NULL;
    char *reply;
    json_t *d;
    if (!(x = json_call(o, &c, "predict", body, &reply, &d))) {
        if (o->json)
            printf("%s\n", reply);
        else
            print_predictions(json_object_get(d, "predictions"));
        json_decref(d);
        free(reply);
    }
    pclient_close(c);
    return x;
}

/* ---- ROOT scoring ---- */

typedef struct feat {
    char *name;
    int jagged;
    const tbranch *b;
    column *colp;    /* into the contiguous cols array (basket_read_many) */
    double *dv;      /* local: values as double */
    size_t dcap;
    int64_t *off;    /* local: offsets for fixed arrays */
    size_t ocap;
} feat;

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_grow(sbuf *s, size_t more)
{
    if (s->n + more <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 1 << 16;
    while (cap < s->n + more)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p)
        return -1;
    s->p = p;
    s->cap = cap;
    return 0;
}

static void sb_put(sbuf *s, const char *t, size_t n)
{
    memcpy(s->p + s->n, t, n);
    s->n += n;
}

static size_t fmt_i64(char *p, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        p[k++] = '-';
    while (n)
        p[k++] = tmp[--n];
    return k;
}

/* One value of a column as JSON text (at most 32 bytes); -1 if not finite. */
static int fmt_value(const column *c, size_t i, char *p)
{
    const void *v = c->values;
    switch (c->dt) {
    case DT_BOOL:
    case DT_U8: return (int)fmt_i64(p, ((const uint8_t *)v)[i]);
    case DT_I8: return (int)fmt_i64(p, ((const int8_t *)v)[i]);
    case DT_I16: return (int)fmt_i64(p, ((const int16_t *)v)[i]);
    case DT_U16: return (int)fmt_i64(p, ((const uint16_t *)v)[i]);
    case DT_I32: return (int)fmt_i64(p, ((const int32_t *)v)[i]);
    case DT_U32: return (int)fmt_i64(p, ((const uint32_t *)v)[i]);
    case DT_I64: return (int)fmt_i64(p, (long long)((const int64_t *)v)[i]);
    case DT_U64: return snprintf(p, 32, "%llu", (unsigned long long)((const uint64_t *)v)[i]);
    case DT_F32: {
        float f = ((const float *)v)[i];
        if (!isfinite(f))
            return -1;
        if (f == (float)(int32_t)f && fabsf(f) < 1e9f)
            return (int)fmt_i64(p, (int32_t)f);
        return snprintf(p, 32, "%.9g", (double)f);
    }
    case DT_F64: {
        double d = ((const double *)v)[i];
        if (!isfinite(d))
            return -1;
        if (d == (double)(int64_t)d && fabs(d) < 1e15)
            return (int)fmt_i64(p, (long long)(int64_t)d);
        return snprintf(p, 32, "%.17g", d);
    }
    default: return -1;
    }
}

static void col_to_double(const column *c, double *out)
{
    const void *v = c->values;
    size_t n = c->nvalues;
    switch (c->dt) {
    case DT_BOOL:
    case DT_U8: for (size_t i = 0; i < n; i++) out[i] = ((const uint8_t *)v)[i]; break;
    case DT_I8: for (size_t i = 0; i < n; i++) out[i] = ((const int8_t *)v)[i]; break;
    case DT_I16: for (size_t i = 0; i < n; i++) out[i] = ((const int16_t *)v)[i]; break;
    case DT_U16: for (size_t i = 0; i < n; i++) out[i] = ((const uint16_t *)v)[i]; break;
    case DT_I32: for (size_t i = 0; i < n; i++) out[i] = ((const int32_t *)v)[i]; break;
    case DT_U32: for (size_t i = 0; i < n; i++) out[i] = ((const uint32_t *)v)[i]; break;
    case DT_I64: for (size_t i = 0; i < n; i++) out[i] = (double)((const int64_t *)v)[i]; break;
    case DT_U64: for (size_t i = 0; i < n; i++) out[i] = (double)((const uint64_t *)v)[i]; break;
    case DT_F32: for (size_t i = 0; i < n; i++) out[i] = ((const float *)v)[i]; break;
    case DT_F64: memcpy(out, v, n * sizeof *out); break;
    default: memset(out, 0, n * sizeof *out); break;
    }
}

/* Columnar request text for entries [0, n) of the columns just read. */
static int build_columns(const char *model, feat *fs, size_t nf, size_t n, int64_t first, sbuf *s, mlhep_err *e)
{
    s->n = 0;
    if (sb_grow(s, 64 + strlen(model)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->n = (size_t)sprintf(s->p, "{\"model\":\"%s\",\"columns\":{", model);
    for (size_t i = 0; i < nf; i++) {
        feat *f = &fs[i];
        const column *c = f->colp;
        size_t per = c->jagged ? 0 : (size_t)(c->per_entry > 0 ? c->per_entry : 1);
        if (sb_grow(s, strlen(f->name) + 8 + c->nvalues * 33 + n * 4))
            return err_set(e, MLHEP_ENOMEM, "out of memory for a batch of %zu entries", n);
        if (i)
            s->p[s->n++] = ',';
        s->p[s->n++] = '"';
        sb_put(s, f->name, strlen(f->name));
        sb_put(s, "\":[", 3);
        for (size_t r = 0; r < n; r++) {
            if (r)
                s->p[s->n++] = ',';
            size_t lo, hi;
            if (c->jagged) {
                lo = (size_t)c->offsets[r];
                hi = (size_t)c->offsets[r + 1];
            } else {
                lo = r * per;
                hi = lo + per;
            }
            if (f->jagged)
                s->p[s->n++] = '[';
            for (size_t k = lo; k < hi; k++) {
                if (k > lo)
                    s->p[s->n++] = ',';
                int w = fmt_value(c, k, s->p + s->n);
                if (w < 0)
                    return err_set(e, MLHEP_EINVAL,
                                   "entry %lld: branch '%s' holds a non-finite value, which JSON cannot carry "
                                   "(score this file with --local)",
                                   (long long)(first + (int64_t)r), f->name);
                s->n += (size_t)w;
            }
            if (f->jagged)
                s->p[s->n++] = ']';
        }
        s->p[s->n++] = ']';
    }
    if (sb_grow(s, 4))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    sb_put(s, "}}", 3);
    s->n--; /* keep the NUL out of the length */
    return 0;
}

static int coltype_of(dtype t)
{
    switch (t) {
    case DT_BOOL: return COL_BOOL;
    case DT_I8: return COL_I8;
    case DT_I16: return COL_I16;
    case DT_I32: return COL_I32;
    case DT_I64: return COL_I64;
    case DT_U8: return COL_U8;
    case DT_U16: return COL_U16;
    case DT_U32: return COL_U32;
    case DT_U64: return COL_U64;
    case DT_F32: return COL_F32;
    case DT_F64: return COL_F64;
    default: return 0;
    }
}

/* Binary columnar request (colreq.h) for entries [0, n) of the columns just read:
 * values are sent in the file's own types, fixed-size arrays as jagged lists. */
static int build_binary(const char *model, feat *fs, size_t nf, size_t n, colbuf *cb, mlhep_err *e)
{
    int rc = colreq_begin(cb, model, n, nf, e);
    for (size_t i = 0; !rc && i < nf; i++) {
        feat *f = &fs[i];
        const column *c = f->colp;
        const int64_t *off = NULL;
        if (f->jagged && c->jagged) {
            off = c->offsets;
        } else if (f->jagged) {
            if (n + 1 > f->ocap) {
                int64_t *of = realloc(f->off, (n + 1) * sizeof *of);
                if (!of)
                    return err_set(e, MLHEP_ENOMEM, "out of memory");
                f->off = of;
                f->ocap = n + 1;
            }
            for (size_t r = 0; r <= n; r++)
                f->off[r] = (int64_t)r * c->per_entry;
            off = f->off;
        }
        rc = colreq_add(cb, f->name, coltype_of(c->dt), c->values, off, n, e);
    }
    return rc;
}

typedef struct slot {
    uint64_t seq;
    int64_t first;
    size_t n;
    int busy, done;
    float *scores;
    size_t cap;
} slot;

static int parse_scores(const char *text, size_t n, size_t k, slot *sl, int *xcode)
{
    json_t *d;
    *xcode = check_reply(text, &d);
    if (*xcode)
        return -1;
    const json_t *p = json_object_get(d, "predictions");
    int bad = !json_is_array(p) || json_array_size(p) != n;
    if (!bad && sl->cap < n * k) {
        float *s = realloc(sl->scores, n * k * sizeof *s);
        if (!s)
            bad = 1;
        else {
            sl->scores = s;
            sl->cap = n * k;
        }
    }
    for (size_t r = 0; !bad && r < n; r++) {
        const json_t *v = json_array_get(p, r);
        if (k == 1) {
            bad = !json_is_number(v);
            if (!bad)
                sl->scores[r] = (float)json_number_value(v);
        } else {
            bad = !json_is_array(v) || json_array_size(v) != k;
            for (size_t j = 0; !bad && j < k; j++)
                sl->scores[r * k + j] = (float)json_number_value(json_array_get(v, j));
        }
    }
    json_decref(d);
    if (bad) {
        *xcode = perr(PX_INTERNAL, "the service replied with predictions of the wrong shape");
        return -1;
    }
    return 0;
}

/* Scores of a binary reply into the slot; -1 with *xcode set on error. */
static int bin_scores(const char *reply, size_t len, size_t n, size_t k, slot *sl, colresp *cr, int *xcode)
{
    mlhep_err e;
    err_clear(&e);
    if (pclient_columns_reply(reply, len, cr, &e)) {
        *xcode = perr(err_exit(&e), "%s", e.msg);
        return -1;
    }
    if (cr->nrows != n || cr->k != k) {
        *xcode = perr(PX_INTERNAL, "the service replied with %zu x %zu predictions for %zu x %zu", cr->nrows, cr->k, n,
                      k);
        return -1;
    }
    if (sl->cap < n * k) {
        float *s = realloc(sl->scores, n * k * sizeof *s);
        if (!s) {
            *xcode = perr(PX_INTERNAL, "out of memory");
            return -1;
        }
        sl->scores = s;
        sl->cap = n * k;
    }
    memcpy(sl->scores, cr->scores, n * k * sizeof *sl->scores);
    return 0;
}

static int write_slot(rootw_tree *t, const slot *sl, mlhep_err *e)
{
    rootw_col col = {ROOTW_F32, sl->scores};
    return rootw_append(t, (int64_t)sl->n, &col, e);
}

static int cmd_predict_root(opts *o)
{
    mlhep_err e;
    err_clear(&e);
    if (!o->tree || !o->out)
        return perr(PX_USAGE, "--root needs --tree TREE and --out SCORES.root");
    long B = o->batch > 0 ? o->batch : 10000, W = o->window > 0 ? o->window : 4;
    const char *bname = o->branch ? o->branch : "score";
    int x = PX_OK;
    pclient *c = NULL;
    predict_model *pm = NULL;
    json_t *fdoc = NULL;
    rootfile *rf = NULL;
    ttree *t = NULL;
    rootw_file *wf = NULL;
    rootw_tree *wt = NULL;
    feat *fs = NULL;
    size_t nf = 0, k = 1;
    const char *canon = o->model;
    slot *slots = NULL;
    sbuf sb = {0};
    colbuf cb = {0};
    colresp cr = {0};
    featmap_col *fcols = NULL;
    float *xrows = NULL;
    column *cols = NULL;
    const tbranch **brs = NULL;
    double t0 = now_s();
    /* 1. the model's branches */
    if (o->local) {
        if (local_model(o, &pm, &e)) {
            x = perr(err_exit(&e), "%s", e.msg);
            goto out;
        }
        const featmap *fm = predict_model_featmap(pm);
        nf = fm->nfeat;
        k = predict_model_outputs(pm);
        fs = calloc(nf, sizeof *fs);
        for (size_t i = 0; fs && i < nf; i++) {
            fs[i].name = strdup(fm->feat[i].name);
            fs[i].jagged = fm->feat[i].jagged;
        }
    } else {
        char *reply;
        json_t *q = json_pack("{s:s, s:s}", "op", "features", "model", o->model);
        char *body = json_dumps(q, JSON_COMPACT);
        json_decref(q);
        if ((x = json_call(o, &c, "models", body, &reply, &fdoc)))
            goto out;
        free(reply);
        json_t *arr = json_object_get(fdoc, "features");
        canon = json_string_value(json_object_get(fdoc, "model"));
        k = (size_t)json_integer_value(json_object_get(fdoc, "outputs"));
        nf = json_array_size(arr);
        if (!canon || !nf || k < 1) {
            x = perr(PX_INTERNAL, "the service described the model without features");
            goto out;
        }
        fs = calloc(nf, sizeof *fs);
        for (size_t i = 0; fs && i < nf; i++) {
            json_t *f = json_array_get(arr, i);
            fs[i].name = strdup(json_string_value(json_object_get(f, "name")) ?: "?");
            fs[i].jagged = !strcmp(json_string_value(json_object_get(f, "kind")) ?: "", "jagged");
        }
    }
    cols = fs ? calloc(nf, sizeof *cols) : NULL;
    brs = fs ? calloc(nf, sizeof *brs) : NULL;
    if (!fs || !cols || !brs) {
        x = perr(PX_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nf; i++)
        column_init(&cols[i]);
    /* 2. the input tree and its branches */
    if (rootfile_open(o->root, &rf, &e) || ttree_open(rf, o->tree, &t, &e)) {
        x = perr(e.code == MLHEP_ENOTFOUND ? PX_FILE : PX_FILE, "%s", e.msg);
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        feat *f = &fs[i];
        f->colp = &cols[i];
        f->b = brs[i] = ttree_branch(t, f->name);
        if (!f->b || (f->b->kind != TK_FLAT && f->b->kind != TK_FIXED && f->b->kind != TK_JAGGED)) {
            x = perr(PX_INPUT, "%s: tree '%s' has no numeric branch '%s', which the model needs%s", o->root, o->tree,
                     f->name, f->b ? "" : " (computed by the pre-processing? such models score JSON input only)");
            goto out;
        }
        int jag = f->b->kind != TK_FLAT;
        if (jag != f->jagged) {
            x = perr(PX_INPUT, "%s: branch '%s' is %s in the file but %s in the model", o->root, f->name,
                     jag ? "an array" : "flat", f->jagged ? "jagged" : "flat");
            goto out;
        }
    }
    /* 3. the friend tree */
    if (rootw_open(o->out, NULL, &wf, &e) || rootw_tree_new(wf, o->tree, "mlhep scores (friend tree)", &wt, &e)) {
        x = perr(PX_FILE, "%s", e.msg);
        goto out;
    }
    char spec[300];
    if (k == 1)
        snprintf(spec, sizeof spec, "%.200s/F", bname);
    else
        snprintf(spec, sizeof spec, "%.200s[%zu]/F", bname, k);
    if (rootw_branch(wt, spec, &e) < 0) {
        x = perr(PX_USAGE, "--branch: %s", e.msg);
        goto out;
    }
    int64_t N = t->entries;
    slots = calloc((size_t)W, sizeof *slots);
    if (!slots) {
        x = perr(PX_INTERNAL, "out of memory");
        goto out;
    }
    int64_t next_read = 0, next_write = 0;
    size_t widx = 0, ridx = 0;
    while (next_write < N && !x) {
        /* send while there is room */
        /* a slot stays taken until its batch is WRITTEN (in order), not just answered:
           replies from several workers arrive out of order */
        while (!x && next_read < N && !slots[ridx].busy) {
            int64_t z = next_read + B < N ? next_read + B : N;
            size_t n = (size_t)(z - next_read);
            if (basket_read_many(rf, brs, (int)nf, next_read, z, cols, 2, &e)) {
                x = perr(PX_FILE, "%s: %s", o->root, e.msg);
                break;
            }
            slot *sl = &slots[ridx];
            if (o->local) {
                const featmap *fm = predict_model_featmap(pm);
                if (!fcols)
                    fcols = calloc(nf, sizeof *fcols);
                float *xr = realloc(xrows, n * (size_t)(fm->width ? fm->width : 1) * sizeof *xr);
                if (!fcols || !xr) {
                    x = perr(PX_INTERNAL, "out of memory");
                    break;
                }
                xrows = xr;
                for (size_t i = 0; i < nf && !x; i++) {
                    feat *f = &fs[i];
                    column *cc = f->colp;
                    if (cc->nvalues + 1 > f->dcap) {
                        double *d = realloc(f->dv, (cc->nvalues + 1) * sizeof *d);
                        if (!d) {
                            x = perr(PX_INTERNAL, "out of memory");
                            break;
                        }
                        f->dv = d;
                        f->dcap = cc->nvalues + 1;
                    }
                    col_to_double(cc, f->dv);
                    fcols[i].values = f->dv;
                    fcols[i].offsets = NULL;
                    if (f->jagged) {
                        if (cc->jagged) {
                            fcols[i].offsets = cc->offsets;
                        } else {
                            if (n + 1 > f->ocap) {
                                int64_t *of = realloc(f->off, (n + 1) * sizeof *of);
                                if (!of) {
                                    x = perr(PX_INTERNAL, "out of memory");
                                    break;
                                }
                                f->off = of;
                                f->ocap = n + 1;
                            }
                            for (size_t r = 0; r <= n; r++)
                                f->off[r] = (int64_t)r * cc->per_entry;
                            fcols[i].offsets = f->off;
                        }
                    }
                }
                if (x)
                    break;
                if (sl->cap < n * k) {
                    float *s = realloc(sl->scores, n * k * sizeof *s);
                    if (!s) {
                        x = perr(PX_INTERNAL, "out of memory");
                        break;
                    }
                    sl->scores = s;
                    sl->cap = n * k;
                }
                if (featmap_rows(fm, fcols, n, xrows, NULL, &e) || predict_rows(pm, xrows, n, sl->scores, &e)) {
                    x = perr(err_exit(&e), "%s", e.msg);
                    break;
                }
                sl->n = n;
                sl->first = next_read;
                sl->busy = sl->done = 1;
            } else {
                if (o->wire_json ? build_columns(canon, fs, nf, n, next_read, &sb, &e) ||
                                       pclient_send(c, "predict", sb.p, sb.n, &sl->seq, &e)
                                 : build_binary(canon, fs, nf, n, &cb, &e) ||
                                       pclient_send_columns(c, &cb, &sl->seq, &e)) {
                    x = perr(err_exit(&e), "%s", e.msg);
                    break;
                }
                sl->n = n;
                sl->first = next_read;
                sl->busy = 1;
                sl->done = 0;
            }
            next_read = z;
            ridx = (ridx + 1) % (size_t)W;
            if (o->local)
                break;
        }
        if (x)
            break;
        /* receive until the oldest batch is in */
        while (!o->local && !slots[widx].done) {
            uint64_t seq;
            char *reply;
            size_t rlen;
            if (pclient_recv(c, &seq, &reply, &rlen, (int)(o->timeout * 1000), &e)) {
                x = perr(err_exit(&e), "%s", e.msg);
                break;
            }
            for (long s = 0; s < W; s++) {
                slot *sl = &slots[s];
                if (sl->busy && !sl->done && sl->seq == seq) {
                    if (o->wire_json ? parse_scores(reply, sl->n, k, sl, &x)
                                     : bin_scores(reply, rlen, sl->n, k, sl, &cr, &x))
                        break;
                    sl->done = 1;
                }
            }
            free(reply);
        }
        if (x)
            break;
        /* write the finished batches in order */
        while (slots[widx].busy && slots[widx].done) {
            if (write_slot(wt, &slots[widx], &e)) {
                x = perr(PX_FILE, "%s: %s", o->out, e.msg);
                break;
            }
            next_write += (int64_t)slots[widx].n;
            slots[widx].busy = slots[widx].done = 0;
            widx = (widx + 1) % (size_t)W;
        }
    }
    if (!x) {
        rootw_file *f = wf;
        wf = NULL;
        if (rootw_close(f, &e))
            x = perr(PX_FILE, "%s: %s", o->out, e.msg);
    }
    if (!x) {
        double dt = now_s() - t0;
        fprintf(stderr, "scored %lld entries of %s:%s with %s in %.3f s (%.0f entries/s): %s, tree '%s', branch %s\n",
                (long long)N, o->root, o->tree, canon, dt, dt > 0 ? (double)N / dt : 0.0, o->out, o->tree, spec);
    }
out:
    rootw_abort(wf);
    for (size_t i = 0; fs && i < nf; i++) {
        free(fs[i].name);
        if (cols)
            column_free(&cols[i]);
        free(fs[i].dv);
        free(fs[i].off);
    }
    free(fs);
    free(cols);
    free(brs);
    for (long s = 0; slots && s < W; s++)
        free(slots[s].scores);
    free(slots);
    free(sb.p);
    colbuf_free(&cb);
    colresp_free(&cr);
    free(fcols);
    free(xrows);
    ttree_free(t);
    rootfile_close(rf);
    json_decref(fdoc);
    predict_model_free(pm);
    pclient_close(c);
    return x;
}

/* ---- models ---- */

static void print_models(const json_t *d)
{
    const json_t *models = json_object_get(d, "models"), *jobs = json_object_get(d, "jobs"), *m;
    size_t i;
    printf("%-28s %-12s %-6s %-20s %-5s %8s  %s\n", "MODEL", "OWNER", "SHARED", "CREATED", "KIND", "FEATURES",
           "METRICS");
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const json_t *vs = json_object_get(m, "versions"), *v;
        size_t j;
        json_array_foreach(vs, j, v) {
            char ref[200], ts[32] = "?", met[256] = "";
            snprintf(ref, sizeof ref, "%s@%lld", name ? name : "?",
                     (long long)json_integer_value(json_object_get(v, "version")));
            time_t t = (time_t)json_integer_value(json_object_get(v, "created"));
            struct tm tm;
            if (gmtime_r(&t, &tm))
                strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            const char *k;
            const json_t *x;
            size_t mn = 0;
            json_object_foreach((json_t *)json_object_get(v, "metrics"), k, x)
                if (json_is_number(x) && mn < sizeof met - 40)
                    mn += (size_t)snprintf(met + mn, sizeof met - mn, "%s%.20s=%.4g", mn ? " " : "", k,
                                           json_number_value(x));
            printf("%-28s %-12s %-6s %-20s %-5s %8zu  %s\n", ref, json_string_value(json_object_get(m, "owner")),
                   json_is_true(json_object_get(m, "shared")) ? "yes" : "no", ts,
                   json_string_value(json_object_get(v, "kind")) ?: "?",
                   json_array_size(json_object_get(v, "features")), met);
        }
    }
    json_array_foreach(jobs, i, m) {
        char ts[32] = "?";
        time_t t = (time_t)json_integer_value(json_object_get(m, "created"));
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-28s %-12s %-6s %-20s %-5s %8zu  %s\n", json_string_value(json_object_get(m, "id")), "(job)", "-", ts,
               json_string_value(json_object_get(m, "kind")) ?: "?", json_array_size(json_object_get(m, "features")),
               json_string_value(json_object_get(m, "error")) ?: "");
    }
}

static int cmd_models(opts *o, int nargs, char **args)
{
    const char *op = nargs >= 1 ? args[0] : "list";
    json_t *q = NULL;
    if (!strcmp(op, "list") && nargs <= 1)
        q = json_pack("{s:s}", "op", "list");
    else if (!strcmp(op, "delete") && nargs == 2)
        q = json_pack("{s:s, s:s}", "op", "delete", "model", args[1]);
    else if (!strcmp(op, "tag") && nargs == 3) {
        q = json_pack("{s:s, s:s, s:s}", "op", "tag", "job", args[1], "name", args[2]);
        if (o->shared)
            json_object_set_new(q, "shared", json_true());
    } else if (!strcmp(op, "share") && nargs == 3 && (!strcmp(args[2], "on") || !strcmp(args[2], "off")))
        q = json_pack("{s:s, s:s, s:b}", "op", "share", "model", args[1], "shared", !strcmp(args[2], "on"));
    else if (!strcmp(op, "features") && nargs == 2)
        q = json_pack("{s:s, s:s}", "op", "features", "model", args[1]);
    else
        return perr(PX_USAGE, "usage: models [list] | delete REF | tag JOB_ID NAME [--shared] | share NAME on|off | "
                              "features REF");
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    pclient *c = NULL;
    char *reply;
    json_t *d;
    int x = json_call(o, &c, "models", body, &reply, &d);
    if (!x) {
        if (o->json)
            printf("%s\n", reply);
        else if (!strcmp(op, "list"))
            print_models(d);
        else if (!strcmp(op, "tag"))
            printf("%s\n", json_string_value(json_object_get(d, "model")));
        else if (!strcmp(op, "delete"))
            printf("deleted %s\n", args[1]);
        else if (!strcmp(op, "share"))
            printf("%s shared: %s\n", args[1], args[2]);
        else
            printf("%s\n", reply);
        json_decref(d);
        free(reply);
    }
    pclient_close(c);
    return x;
}

/* ---- dispatch ---- */

static const struct option lopts[] = {{"config", required_argument, 0, 'c'},
                                      {"token-file", required_argument, 0, 't'},
                                      {"json", no_argument, 0, 'j'},
                                      {"timeout", required_argument, 0, 'T'},
                                      {"model", required_argument, 0, 'm'},
                                      {"root", required_argument, 0, 'r'},
                                      {"tree", required_argument, 0, 'R'},
                                      {"out", required_argument, 0, 'o'},
                                      {"branch", required_argument, 0, 'b'},
                                      {"batch", required_argument, 0, 'B'},
                                      {"window", required_argument, 0, 'W'},
                                      {"local", no_argument, 0, 'l'},
                                      {"wire", required_argument, 0, 'w'},
                                      {"shared", no_argument, 0, 's'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};

int predict_client_wants(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return i + 1 < argc && (!strcmp(argv[i + 1], "predict") || !strcmp(argv[i + 1], "models"));
        if (a[0] == '-') {
            /* options taking a separate value */
            if (!strchr(a, '=') && (!strcmp(a, "-c") || !strcmp(a, "-t") || !strcmp(a, "--config") ||
                                    !strcmp(a, "--token-file") || !strcmp(a, "--timeout") || !strcmp(a, "--fetch") ||
                                    !strcmp(a, "--model")))
                i++;
            continue;
        }
        return !strcmp(a, "predict") || !strcmp(a, "models");
    }
    return 0;
}

int predict_client_main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.timeout = 60;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:h", lopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': o.config = optarg; break;
        case 't': o.tokfile = optarg; break;
        case 'j': o.json = 1; break;
        case 'T':
            o.timeout = strtod(optarg, &end);
            if (*end || !(o.timeout > 0))
                return perr(PX_USAGE, "--timeout needs a positive number of seconds");
            break;
        case 'm': o.model = optarg; break;
        case 'r': o.root = optarg; break;
        case 'R': o.tree = optarg; break;
        case 'o': o.out = optarg; break;
        case 'b': o.branch = optarg; break;
        case 'B':
            o.batch = strtol(optarg, &end, 10);
            if (*end || o.batch < 1 || o.batch > 10000000)
                return perr(PX_USAGE, "--batch needs 1..10000000 entries");
            break;
        case 'W':
            o.window = strtol(optarg, &end, 10);
            if (*end || o.window < 1 || o.window > 1024)
                return perr(PX_USAGE, "--window needs 1..1024");
            break;
        case 'l': o.local = 1; break;
        case 'w':
            if (strcmp(optarg, "binary") && strcmp(optarg, "json"))
                return perr(PX_USAGE, "--wire takes binary or json");
            o.wire_json = !strcmp(optarg, "json");
            break;
        case 's': o.shared = 1; break;
        case 'h':
            printf("see the top of common/infer/predict_client.h:\n"
                   "  predict --model REF [INPUT.json|-] | predict --model REF --root F --tree T --out S.root\n"
                   "  models [list] | delete REF | tag JOB_ID NAME [--shared] | share NAME on|off\n");
            return PX_OK;
        default: return PX_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1)
        return perr(PX_USAGE, "no command");
    mlhep_err e;
    err_clear(&e);
    int predict = !strcmp(args[0], "predict");
    if (predict && !o.model && o.root)
        return perr(PX_USAGE, "predict --root needs --model REF");
    if (predict && nargs > 2)
        return perr(PX_USAGE, "predict takes at most one input file");
    if (config_load(&o.cfg, o.config, &e))
        return perr(PX_CONFIG, "configuration: %s", e.msg);
    int x;
    if (auth_token_load(o.tokfile, &o.token, &e)) {
        x = perr(PX_AUTH, "%s", e.msg);
    } else if (predict) {
        x = o.root ? cmd_predict_root(&o) : cmd_predict_json(&o, nargs == 2 ? args[1] : NULL);
    } else {
        x = cmd_models(&o, nargs - 1, args + 1);
    }
    if (o.token) {
        memset(o.token, 0, strlen(o.token));
        free(o.token);
    }
    config_free(&o.cfg);
    return x;
}

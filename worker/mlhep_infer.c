/* mlhep_infer.c - the inference worker: serves trained models from the prediction queue.
 *
 *   mlhep-infer [--config FILE] [--queue predict.requests] [--prefetch 64] [--threads N]
 *               [--auth auth.json] [--cache-models 16] [--cache-mb 1024] [--check]
 *
 * N consumer threads (--threads, configuration key infer_threads, default one per
 * online CPU up to 4), each with its own broker connection (amqp_rpc.h), model cache
 * and buffers (a loaded model is single-threaded); BLAS is set to one thread, so each
 * consumer thread is one BLAS thread. Each consumes the prediction queue with prefetch N and
 * manual acks (batched: one multiple ack for the requests handled while more were
 * already buffered); for each request it verifies the bearer token (header
 * `authorization`: JWT with scope mlhep.predict against the --auth configuration, or a
 * `dev:<user>` token when auth_mode=dev; verified tokens are cached, keyed by the whole
 * token, until their exp), then:
 *   - content type application/x-mlhep-columns: a binary columnar request (colreq.h,
 *     layout above colreq_parse), answered with a binary response of float32 scores
 *     (content type application/x-mlhep-columns, layout above colresp_parse);
 *   - otherwise JSON: keys/values and rows documents within reqparse.h's strict subset
 *     go straight to rows (no jansson tree); everything else (columns, anything
 *     unusual, every error) is validated against schemas/predict-request.schema.json
 *     (the envelope and first row, see schema_view; featmap checks every value); the
 *     answer is the predict-response document.
 * Either way it resolves the model for that user through the LRU cache (modelstore.h),
 * predicts (predict.h) and publishes the reply to reply_to with the
 * request's correlation_id, then acks. Replies go only to direct reply-to addresses
 * (amq.rabbitmq.reply-to.*, rpc_reply_to_ok): a request naming any other reply_to
 * (jobs.train, a queue of the requester's choice) is acked, logged and never answered,
 * so a prediction request cannot make this worker publish into the service's queues. Every failure (bad JSON or binary layout, schema, unknown model or
 * branch, wrong shapes, non-numbers, forbidden model, bad token) gets a JSON error reply
 * naming the problem and the request is acked: a bad request never kills or wedges the
 * worker. A crash or kill before the ack leaves the request to be redelivered. Several
 * instances side by side share the queue.
 *
 * Message type "predict-batch" (RPCBATCH_TYPE, service/rpcbatch.h: the gateway's small
 * predictions of one token that waited together): the token is checked once, each item
 * is handled as above exactly as if it had come alone (its own content type, errors and
 * model), and one reply of content type application/x-mlhep-batch holds the items'
 * answers in order; a batch that does not parse gets one error reply.
 *
 * Message type "models" (property `type`) carries model management:
 *   {"op":"list"} | {"op":"tag","job":ID,"name":NAME,"shared":bool}
 *   | {"op":"delete","model":"NAME[@N]"} | {"op":"share","model":NAME,"shared":bool}
 *   | {"op":"features","model":REF[,"full":true]} (the model's branches, for clients scoring
 *     ROOT files; "full": also the whole features document - normalisation and padding
 *     too - as "document")
 * answered {"ok":true,...} or an error document.
 *
 * SIGTERM/SIGINT: every thread finishes the request in hand, acks, closes its connection (unacked
 * prefetched requests return to the queue) and exits 0. --check: connects, checks the
 * queue, the artifact store and the schema, prints one line, exits 0 or 1. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/bigbuf.h"
#include "base/logline.h"
#include "base/numarg.h"
#include "service/amqp_rpc.h"
#include "infer/colreq.h"
#include "service/config.h"
#include "service/job.h"
#include "service/rpcbatch.h"
#include "base/jsonschema.h"
#include "service/auth_glue.h"
#include "service/jwt.h"
#include "infer/modelstore.h"
#include "infer/predict.h"
#include "infer/reqparse.h"
#include "model/nncore.h"

#define MAX_REQUEST_BYTES ((size_t)256 << 20)
#define TOKCACHE 1024

static volatile sig_atomic_t g_signal;

static void on_signal(int s)
{
    g_signal = s;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct tokent {
    uint64_t h;
    char *tok;
    size_t len;
    char user[JOB_USER_MAX + 1];
    int64_t exp;
} tokent;

/* Read once at start, shared read-only by the consumer threads (jwt_config and jschema
 * are documented as shareable). */
typedef struct shared {
    mlhep_config cfg;
    const char *queue;
    int prefetch;
    int verbose;
    int threads;
    jwt_config *jwt;
    int dev;
    jschema *schema;
    mscache_opts co;
    amqpc_params ap;
} shared;

/* One consumer thread: its own broker connection, model cache (a predict_model is
 * single-threaded), buffers and token cache. */
typedef struct infer {
    const shared *s;
    int id;
    const char *queue;
    int verbose;
    jwt_config *jwt;
    int dev;
    jschema *schema;
    modelstore *ms;
    mscache *cache;
    rpc_conn *rc;
    predict_ctx pc;
    reqparse rp;         /* the fast JSON path's state */
    uint64_t ack_tag;    /* last handled, not yet acked delivery */
    int ack_pending;
    int failed;
    wbuf *bout;          /* a batch's reply being written (handle_batch), else NULL */
    tokent tok[TOKCACHE];
    uint64_t served, errors, tok_hits, tok_verifies, fast, dropped;
} infer;

static void ilog(const infer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ilog(const infer *w, const char *fmt, ...)
{
    char who[96];
    if (w->id > 1)
        snprintf(who, sizeof who, "mlhep-infer[%s.t%d]", w->s->cfg.worker_id, w->id);
    else
        snprintf(who, sizeof who, "mlhep-infer[%s]", w->s->cfg.worker_id);
    va_list ap;
    va_start(ap, fmt);
    logline_vprintf(stderr, who, fmt, ap);
    va_end(ap);
}

/* ---- tokens ---- */

/* Who the token belongs to. 0, or MLHEP_EAUTH with the reason. */
static int check_token(infer *w, const char *tok, size_t len, char user[JOB_USER_MAX + 1], mlhep_err *e)
{
    if (!tok || !len)
        return err_set(e, MLHEP_EAUTH, "no bearer token (header 'authorization')");
    if (len > RPC_TOKEN_MAX)
        return err_set(e, MLHEP_EAUTH, "token too long");
    char buf[RPC_TOKEN_MAX + 1];
    memcpy(buf, tok, len);
    buf[len] = '\0';
    char *t = jwt_trim_token(buf);
    size_t tl = strlen(t);
    if (w->dev && !strncmp(t, "dev:", 4)) {
        if (!job_user_valid(t + 4))
            return err_set(e, MLHEP_EAUTH, "token refused: bad user name in dev token");
        strcpy(user, t + 4);
        return 0;
    }
    if (!w->jwt)
        return err_set(e, MLHEP_EAUTH, w->dev ? "token refused: auth_mode=dev accepts only 'dev:<user>' tokens"
                                              : "token refused: no JWT verification configured on this worker");
    int64_t now = (int64_t)time(NULL);
    uint64_t h = XXH3_64bits(t, tl);
    tokent *c = &w->tok[h % TOKCACHE];
    if (c->tok && c->h == h && c->len == tl && !memcmp(c->tok, t, tl) && now < c->exp) {
        w->tok_hits++;
        strcpy(user, c->user);
        return 0;
    }
    jwt_claims cl;
    w->tok_verifies++;
    int rc = jwt_verify(w->jwt, t, now, "mlhep.predict", &cl, e);
    if (rc)
        return rc;
    if (!job_user_valid(cl.sub))
        return err_set(e, MLHEP_EAUTH, "token refused: subject is not a valid user name");
    strcpy(user, cl.sub);
    char *copy = malloc(tl + 1);
    if (copy) { /* cache it (a verified token: only its own holder can hit this entry) */
        memcpy(copy, t, tl + 1);
        free(c->tok);
        c->tok = copy;
        c->len = tl;
        c->h = h;
        c->exp = cl.exp;
        strcpy(c->user, cl.sub);
    }
    return 0;
}

/* ---- replies ---- */

/* The answer to request m: published to its reply_to, or, for an item of a batch, added
 * to the batch's reply (sent once every item has its answer). */
static void answer(infer *w, const rpc_msg *m, const char *content_type, const void *body, size_t len)
{
    if (w->bout) {
        rpcbatch_add(w->bout, content_type ? content_type : "", body, len);
        return;
    }
    mlhep_err e;
    if (rpc_reply_as(w->rc, m, content_type, body, len, &e))
        ilog(w, "reply failed: %s", e.msg);
}

static void reply_error(infer *w, const rpc_msg *m, const char *code, const char *model, const char *msg)
{
    w->errors++;
    char *t = predict_error_json(code, model, msg);
    if (t)
        answer(w, m, NULL, t, strlen(t));
    else if (w->bout) /* the item still gets an answer: out of memory */
        w->bout->err = 1;
    if (w->verbose || !t)
        ilog(w, "request %s: %s: %s", m->corr_id, code, msg);
    free(t);
}

static const char *model_code(int rc)
{
    return rc == MLHEP_ENOTFOUND ? "unknown_model"
           : rc == MLHEP_EAUTH   ? "forbidden"
           : rc == MLHEP_EINVAL  ? "bad_request"
                                 : "internal";
}

/* The document the schema sees: a shallow stand-in of the request holding only the
 * first row ("rows"), the first value of each column ("columns"), or the first key and
 * value ("keys"/"values"). The schema then checks the envelope (model reference, exactly
 * one form, keys with values, member types, branch-name rules, the first row's value
 * types) at a cost independent of the batch size; featmap_from_request then checks EVERY
 * value and shape against the model (stricter than the schema: exact branch names, flat
 * vs jagged, duplicate keys, equal lengths), so nothing unchecked reaches a model.
 * Validating whole requests cost ~35x the prediction (200 us for one 71-branch row). */
static json_t *first_of(json_t *a)
{
    return json_is_array(a) && json_array_size(a) > 1 ? json_pack("[O]", json_array_get(a, 0)) : json_incref(a);
}

static json_t *schema_view(json_t *req)
{
    json_t *v = json_copy(req);
    if (!v)
        return NULL;
    json_t *cols = json_object_get(req, "columns");
    const char *arrays[3] = {"rows", "keys", "values"};
    for (int i = 0; i < 3; i++) {
        json_t *a = json_object_get(req, arrays[i]);
        if (a)
            json_object_set_new(v, arrays[i], first_of(a));
    }
    if (json_is_object(cols)) {
        json_t *c = json_object();
        const char *k;
        json_t *a;
        json_object_foreach(cols, k, a)
            json_object_set_new(c, k, first_of(a));
        json_object_set_new(v, "columns", c);
    }
    return v;
}

/* A binary columnar request (colreq.h) -> a binary response, or a JSON error reply. */
static void handle_columns(infer *w, const rpc_msg *m, const char *user, double t0)
{
    mlhep_err e;
    err_clear(&e);
    predict_ctx *pc = &w->pc;
    if (colreq_parse(m->body, m->len, &pc->creq, &e)) {
        reply_error(w, m, "bad_request", NULL, e.msg);
        return;
    }
    predict_model *pm;
    const char *canon;
    const char *ref = pc->creq.model;
    int rc = mscache_get(w->cache, user, ref, mono(), &pm, &canon, &e);
    if (rc) {
        reply_error(w, m, model_code(rc), ref, e.msg);
        return;
    }
    if ((rc = predict_columns(pm, pc, &e))) {
        reply_error(w, m, predict_error_code(rc), canon, e.msg);
        return;
    }
    double us = (mono() - t0) * 1e6;
    if (predict_format_binary(pm, canon, pc->out, pc->nrows, us, pc, &e)) {
        reply_error(w, m, "internal", canon, e.msg);
        return;
    }
    answer(w, m, COLREQ_CONTENT_TYPE, pc->bin.p, pc->bin.len);
    w->served++;
}

/* The fast path for keys/values and rows (reqparse.h): 1 if it answered, 0 if the
 * request is for the general path (anything unusual, every error, and a model that
 * does not resolve: the general path answers those exactly as before). */
static int fast_predict(infer *w, const rpc_msg *m, const char *user, double t0)
{
    reqparse *rp = &w->rp;
    if (reqparse_scan(rp, m->body, m->len))
        return 0;
    predict_model *pm;
    const char *canon;
    mlhep_err e;
    if (mscache_get(w->cache, user, rp->model, mono(), &pm, &canon, &e) ||
        reqparse_rows(rp, predict_model_featmap(pm), &w->pc.batch))
        return 0;
    if (predict_batch(pm, &w->pc, &e)) {
        reply_error(w, m, predict_error_code(e.code), canon, e.msg);
        return 1;
    }
    double us = (mono() - t0) * 1e6;
    if (predict_format_response(pm, canon, w->pc.out, w->pc.nrows, us, &w->pc, &e)) {
        reply_error(w, m, "internal", canon, e.msg);
        return 1;
    }
    answer(w, m, NULL, w->pc.buf, w->pc.len);
    w->served++;
    w->fast++;
    return 1;
}

static void handle_predict(infer *w, const rpc_msg *m, const char *user, double t0)
{
    if (!strcmp(m->content_type, COLREQ_CONTENT_TYPE)) {
        handle_columns(w, m, user, t0);
        return;
    }
    if (fast_predict(w, m, user, t0))
        return;
    json_error_t je;
    json_t *req = json_loadb(m->body, m->len, JSON_REJECT_DUPLICATES, &je);
    mlhep_err e;
    err_clear(&e);
    if (!req) {
        char msg[300];
        snprintf(msg, sizeof msg, "request is not valid JSON (line %d column %d): %s", je.line, je.column, je.text);
        reply_error(w, m, "bad_request", NULL, msg);
        return;
    }
    const char *ref = json_string_value(json_object_get(req, "model"));
    json_t *view = schema_view(req);
    if (!view || jschema_validate(w->schema, view, "request", &e)) {
        json_decref(view);
        reply_error(w, m, "bad_request", ref, view ? e.msg : "out of memory");
        json_decref(req);
        return;
    }
    json_decref(view);
    predict_model *pm;
    const char *canon;
    int rc = mscache_get(w->cache, user, ref, mono(), &pm, &canon, &e);
    if (rc) {
        reply_error(w, m, model_code(rc), ref, e.msg);
        json_decref(req);
        return;
    }
    rc = predict_request(pm, req, &w->pc, &e);
    json_decref(req);
    if (rc) {
        reply_error(w, m, predict_error_code(rc), canon, e.msg);
        return;
    }
    double us = (mono() - t0) * 1e6;
    if (predict_format_response(pm, canon, w->pc.out, w->pc.nrows, us, &w->pc, &e)) {
        reply_error(w, m, "internal", canon, e.msg);
        return;
    }
    answer(w, m, NULL, w->pc.buf, w->pc.len);
    w->served++;
}

static void reply_json(infer *w, const rpc_msg *m, json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT);
    mlhep_err e;
    if (t && rpc_reply(w->rc, m, t, strlen(t), &e))
        ilog(w, "reply failed: %s", e.msg);
    free(t);
}

static void handle_models(infer *w, const rpc_msg *m, const char *user)
{
    json_error_t je;
    json_t *req = json_loadb(m->body, m->len, JSON_REJECT_DUPLICATES, &je);
    const char *op = json_string_value(json_object_get(req, "op"));
    mlhep_err e;
    err_clear(&e);
    int rc = 0;
    json_t *out = NULL;
    if (!req || !json_is_object(req) || !op) {
        reply_error(w, m, "bad_request", NULL, "models request must be a JSON object with \"op\"");
        json_decref(req);
        return;
    }
    const char *model = json_string_value(json_object_get(req, "model"));
    json_t *sh = json_object_get(req, "shared");
    if (!strcmp(op, "list")) {
        rc = modelstore_list(w->ms, user, &out, &e);
    } else if (!strcmp(op, "tag")) {
        const char *job = json_string_value(json_object_get(req, "job"));
        const char *name = json_string_value(json_object_get(req, "name"));
        int version = 0;
        if (!job || !name)
            rc = err_set(&e, MLHEP_EINVAL, "tag needs \"job\" and \"name\"");
        else
            rc = modelstore_tag(w->ms, user, job, name, sh ? json_is_true(sh) : -1, &version, &e);
        if (!rc) {
            char ref[MS_REF_MAX];
            snprintf(ref, sizeof ref, "%s@%d", name, version);
            out = json_pack("{s:s, s:i}", "model", ref, "version", version);
        }
    } else if (!strcmp(op, "delete")) {
        rc = model ? modelstore_delete(w->ms, user, model, &e) : err_set(&e, MLHEP_EINVAL, "delete needs \"model\"");
        if (!rc)
            out = json_pack("{s:s}", "deleted", model);
    } else if (!strcmp(op, "share")) {
        rc = model && json_is_boolean(sh) ? modelstore_share(w->ms, user, model, json_is_true(sh), &e)
                                          : err_set(&e, MLHEP_EINVAL, "share needs \"model\" and \"shared\": bool");
        if (!rc)
            out = json_pack("{s:s, s:b}", "model", model, "shared", json_is_true(sh));
    } else if (!strcmp(op, "features")) {
        predict_model *pm;
        const char *canon;
        rc = model ? mscache_get(w->cache, user, model, mono(), &pm, &canon, &e)
                   : err_set(&e, MLHEP_EINVAL, "features needs \"model\"");
        if (!rc) {
            const featmap *fm = predict_model_featmap(pm);
            json_t *fa = json_array(), *cl = json_array();
            for (size_t i = 0; i < fm->nfeat; i++)
                json_array_append_new(fa, json_pack("{s:s, s:s, s:i}", "name", fm->feat[i].name, "kind",
                                                    fm->feat[i].jagged ? "jagged" : "flat", "len", fm->feat[i].len));
            for (size_t i = 0; i < fm->nclasses; i++)
                json_array_append_new(cl, json_string(fm->classes[i]));
            out = json_pack("{s:s, s:s, s:I, s:i, s:o, s:o}", "model", canon, "kind", predict_model_kind(pm),
                            "outputs", (json_int_t)predict_model_outputs(pm), "width", fm->width, "features", fa,
                            "classes", cl);
            if (out && json_is_true(json_object_get(req, "full")))
                json_object_set_new(out, "document", json_loads(predict_model_features_json(pm), 0, NULL));
        }
    } else {
        rc = err_set(&e, MLHEP_EINVAL, "unknown op '%.40s' (list, tag, delete, share, features)", op);
    }
    if (rc) {
        reply_error(w, m, model_code(rc), model, e.msg);
    } else {
        json_object_set_new(out, "ok", json_true());
        reply_json(w, m, out);
        if (strcmp(op, "features"))
            ilog(w, "models %s by %s: ok", op, user);
    }
    json_decref(out);
    json_decref(req);
}

/* A batch of predictions (service/rpcbatch.h; the gateway's, one token for all): each
 * item handled exactly as a message of its own with the same properties, the answers
 * sent together in one reply, in item order. A batch that does not parse gets one error
 * reply (the gateway gives it to each request). */
static void handle_batch(infer *w, const rpc_msg *m, const char *user)
{
    rpcbatch_item *items;
    size_t n;
    mlhep_err e;
    if (rpcbatch_parse(m->body, m->len, &items, &n, &e)) {
        reply_error(w, m, "bad_request", NULL, e.msg);
        return;
    }
    wbuf out = WBUF_INIT;
    rpcbatch_begin(&out);
    w->bout = &out;
    for (size_t i = 0; i < n; i++) {
        rpc_msg one = *m;
        one.body = items[i].body;
        one.len = items[i].len;
        snprintf(one.type, sizeof one.type, "predict");
        snprintf(one.content_type, sizeof one.content_type, "%s", items[i].content_type);
        handle_predict(w, &one, user, mono());
    }
    w->bout = NULL;
    free(items);
    if (rpcbatch_end(&out, &e))
        reply_error(w, m, "internal", NULL, e.msg);
    else
        answer(w, m, RPCBATCH_CONTENT_TYPE, out.p, out.len);
    wbuf_free(&out);
}

static void handle(infer *w, const rpc_msg *m)
{
    double t0 = mono();
    if (!rpc_reply_to_ok(m->reply_to)) { /* acked by the caller, never answered */
        w->dropped++;
        ilog(w, "request %.64s dropped: reply_to '%.64s' is not a direct reply-to address (%s.*): nothing "
             "published", m->corr_id, m->reply_to, RPC_REPLY_TO);
        return;
    }
    char user[JOB_USER_MAX + 1];
    mlhep_err e;
    if (m->len > MAX_REQUEST_BYTES) {
        reply_error(w, m, "too_large", NULL, "request larger than 256 MiB");
        return;
    }
    if (check_token(w, m->token, m->token_len, user, &e)) {
        reply_error(w, m, "unauthorized", NULL, e.msg);
        return;
    }
    if (!m->type[0] || !strcmp(m->type, "predict"))
        handle_predict(w, m, user, t0);
    else if (!strcmp(m->type, RPCBATCH_TYPE))
        handle_batch(w, m, user);
    else if (!strcmp(m->type, "models"))
        handle_models(w, m, user);
    else
        reply_error(w, m, "bad_request", NULL, "unknown message type (predict, " RPCBATCH_TYPE " or models)");
}

#define ACK_BATCH 16

/* Acks every handled delivery up to the last one (one multiple ack). */
static void flush_acks(infer *w)
{
    mlhep_err e;
    if (w->ack_pending && rpc_ack_multiple(w->rc, w->ack_tag, &e))
        ilog(w, "ack failed: %s (the requests will be redelivered)", e.msg);
    w->ack_pending = 0;
}

/* Handles requests until a signal. Acks are batched: after a request, the ack waits
 * while more deliveries are already buffered (at most ACK_BATCH of them), and is sent
 * before the thread could block; a crash before the ack redelivers the requests whose
 * ack was pending (their replies may then be sent twice: clients match replies by
 * correlation id and drop the extra one). */
static int serve(infer *w)
{
    mlhep_err e;
    double last_report = mono();
    while (!g_signal) {
        if (!rpc_is_open(w->rc)) {
            w->ack_pending = 0; /* tags of the lost connection are void */
            if (rpc_reconnect(w->rc, &e) || rpc_serve(w->rc, w->queue, w->s->prefetch, &e)) {
                ilog(w, "broker: %s; retrying in 1 s", e.msg);
                sleep(1);
                continue;
            }
            ilog(w, "reconnected; consuming %s", w->queue);
        }
        if (w->ack_pending && !rpc_buffered(w->rc))
            flush_acks(w);
        rpc_msg m;
        int rc = rpc_next(w->rc, &m, 1000, &e);
        if (rc == RPC_TIMEOUT)
            continue;
        if (rc < 0) {
            if (!g_signal)
                ilog(w, "broker: %s; reconnecting", e.msg);
            continue;
        }
        handle(w, &m);
        w->ack_tag = m.tag;
        if (++w->ack_pending >= ACK_BATCH)
            flush_acks(w);
        rpc_msg_free(&m);
        if (w->verbose && mono() - last_report > 10) {
            last_report = mono();
            mscache_stats st;
            mscache_get_stats(w->cache, &st);
            ilog(w, "served %llu, errors %llu, cache %zu models %zu bytes (hits %llu, loads %llu)",
                 (unsigned long long)w->served, (unsigned long long)w->errors, st.models, st.bytes,
                 (unsigned long long)st.hits, (unsigned long long)st.loads);
        }
    }
    if (rpc_is_open(w->rc))
        flush_acks(w);
    return 0;
}

static void *thread_main(void *arg)
{
    infer *w = arg;
    const shared *s = w->s;
    mlhep_err e;
    if (modelstore_open(s->cfg.artifact_dir, &w->ms, &e) || mscache_new(w->ms, &s->co, &w->cache, &e)) {
        ilog(w, "%s", e.msg);
        w->failed = 1;
        g_signal = SIGTERM; /* the others stop too: exit 3 */
        return NULL;
    }
    while (!g_signal && (rpc_connect(&s->ap, &w->rc, &e) || rpc_serve(w->rc, w->queue, s->prefetch, &e))) {
        ilog(w, "waiting for broker: %s", e.msg);
        rpc_close(w->rc);
        w->rc = NULL;
        sleep(1);
    }
    if (!g_signal) {
        ilog(w, "ready: consuming %s (prefetch %d, thread %d of %d), artifact store %s, auth %s, cache %zu models / "
                "%zu MiB",
             w->queue, s->prefetch, w->id, s->threads, s->cfg.artifact_dir, s->jwt ? "jwt" : "dev", s->co.max_models,
             s->co.max_bytes >> 20);
        serve(w);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mlhep-infer [--config FILE] [--queue NAME] [--prefetch N] [--threads N] [--auth auth.json]\n"
               "                   [--cache-models N] [--cache-mb MB] [--schemas DIR] [--verbose] [--check]\n"
               "\n"
               "The inference worker: serves prediction requests (JSON or binary columnar) and model\n"
               "management (list, tag, share, delete, features) from the broker's queue, for models\n"
               "of the artifact store, until SIGTERM/SIGINT (the requests in hand are answered first).\n"
               "\n"
               "options:\n"
               "  --config FILE      key=value configuration (default $MLHEP_CONFIG); MLHEP_* variables\n"
               "                     override it (amqp_*, artifact_dir, auth_mode, jwt_*, infer_threads;\n"
               "                     every key: docs/operations.md)\n"
               "  --queue NAME       the request queue (default predict.requests)\n"
               "  --prefetch N       unacknowledged requests per thread, 1..65535 (default 64)\n"
               "  --threads N        consumer threads, one broker connection each, 1..64 (default:\n"
               "                     configuration key infer_threads, else one per CPU up to 4)\n"
               "  --auth FILE        token verifier as JSON: {\"alg\", \"public_key\"|\"jwks\"|\"secret_file\",\n"
               "                     \"issuer\", \"audience\"} (default: the configuration's jwt_* keys;\n"
               "                     with auth_mode=dev, 'dev:<user>' tokens are accepted)\n"
               "  --cache-models N   loaded models kept per thread (default 16)\n"
               "  --cache-mb MB      memory for loaded models per thread (default 1024)\n"
               "  --schemas DIR      the JSON schemas (default: found beside the program or in\n"
               "                     $MLHEP_SCHEMAS)\n"
               "  --verbose          a log line per request\n"
               "  --check            connect, check the queue, the artifact store and the schema, print\n"
               "                     one line and exit\n"
               "  -h, --help         this text\n"
               "\n"
               "examples:\n"
               "  mlhep-infer --config /etc/mlhep/infer.conf --threads 2\n"
               "  mlhep-infer --config state/infer.conf --check\n"
               "  (prints: ok: broker HOST:PORT queue predict.requests (N ready, N consumers),\n"
               "  artifact store DIR, auth MODE)\n"
               "\n"
               "exit codes: 0 clean stop (--check: all answer), 1 cannot connect or not healthy,\n"
               "2 usage, 3 configuration (schemas, auth, artifact store)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"queue", required_argument, 0, 'q'},
                                         {"prefetch", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 'T'},
                                         {"auth", required_argument, 0, 'a'},
                                         {"cache-models", required_argument, 0, 'm'},
                                         {"cache-mb", required_argument, 0, 'M'},
                                         {"schemas", required_argument, 0, 's'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"check", no_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cfgpath = NULL, *authpath = NULL, *schemas = NULL;
    int check = 0, threads = -1;
    static shared w;
    w.queue = "predict.requests";
    w.prefetch = 64;
    w.co = (mscache_opts){16, (size_t)1 << 30, 1.0};
    int o;
    long models, mb;
    mlhep_err e;
    err_clear(&e);
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        int rc = 0;
        switch (o) {
        case 'c': cfgpath = optarg; break;
        case 'q': w.queue = optarg; break;
        case 'p': rc = numarg_int("--prefetch", optarg, 1, 65535, &w.prefetch, &e); break;
        case 'T': rc = numarg_int("--threads", optarg, 1, 64, &threads, &e); break;
        case 'a': authpath = optarg; break;
        case 'm':
            if (!(rc = numarg_long("--cache-models", optarg, 1, 1000000, &models, &e)))
                w.co.max_models = (size_t)models;
            break;
        case 'M':
            if (!(rc = numarg_long("--cache-mb", optarg, 1, 1L << 24, &mb, &e)))
                w.co.max_bytes = (size_t)mb << 20;
            break;
        case 's': schemas = optarg; break;
        case 'v': w.verbose = 1; break;
        case 'k': check = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) {
            fprintf(stderr, "mlhep-infer: %s\n", e.msg);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (config_load(&w.cfg, cfgpath, &e)) {
        fprintf(stderr, "mlhep-infer: configuration: %s\n", e.msg);
        return 3;
    }
    bigbuf_retain_freed(); /* requests of many MB: their buffers are reused, not re-faulted */
    if (threads < 0)
        threads = w.cfg.infer_threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > 4 ? 4 : (int)n;
    }
    w.threads = threads;
    /* our threads are the parallelism: one BLAS thread per consumer thread, whatever
     * OPENBLAS_NUM_THREADS says (set before the consumers start; loading a model does
     * it too, nncore.h) */
    nn_blas_one_thread();
    int rc = 0;
    w.dev = w.cfg.auth_mode && !strcmp(w.cfg.auth_mode, "dev");
    if (authpath) {
        json_error_t je;
        json_t *a = json_load_file(authpath, JSON_REJECT_DUPLICATES, &je);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", authpath);
        char *sl = strrchr(dir, '/');
        if (sl)
            *sl = '\0';
        if (!a) {
            fprintf(stderr, "mlhep-infer: %s: %s\n", authpath, je.text);
            rc = 3;
        } else if (jwt_config_from_json(a, sl ? dir : NULL, &w.jwt, &e)) {
            fprintf(stderr, "mlhep-infer: %s: %s\n", authpath, e.msg);
            rc = 3;
        }
        json_decref(a);
    } else if (!w.dev && auth_jwt_config(&w.cfg, &w.jwt, &e)) {
        /* without --auth: the service configuration's jwt_* keys, as mlhep-worker */
        fprintf(stderr, "mlhep-infer: auth_mode=%s needs --auth FILE or the jwt_* keys in the "
                        "configuration: %s\n", w.cfg.auth_mode ? w.cfg.auth_mode : "?", e.msg);
        rc = 3;
    }
    if (!rc && jschema_load_named(schemas, "predict-request", &w.schema, &e)) {
        fprintf(stderr, "mlhep-infer: %s\n", e.msg);
        rc = 3;
    }
    struct stat st;
    if (!rc && (stat(w.cfg.artifact_dir, &st) || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "mlhep-infer: artifact store %s is not a directory\n", w.cfg.artifact_dir);
        rc = 3;
    }
    modelstore *ms = NULL;
    if (!rc && modelstore_open(w.cfg.artifact_dir, &ms, &e)) { /* checked once here; each thread opens its own */
        fprintf(stderr, "mlhep-infer: %s\n", e.msg);
        rc = 3;
    }
    modelstore_close(ms);
    w.ap = (amqpc_params){w.cfg.amqp_host, w.cfg.amqp_port, w.cfg.amqp_user, w.cfg.amqp_password, w.cfg.amqp_vhost,
                          30, 5000};
    infer *ws = rc ? NULL : calloc((size_t)threads, sizeof *ws);
    if (!rc && !ws) {
        fprintf(stderr, "mlhep-infer: out of memory\n");
        rc = 1;
    }
    for (int i = 0; ws && i < threads; i++) {
        ws[i].s = &w;
        ws[i].id = i + 1;
        ws[i].queue = w.queue;
        ws[i].verbose = w.verbose;
        ws[i].jwt = w.jwt;
        ws[i].dev = w.dev;
        ws[i].schema = w.schema;
    }
    if (!rc && check) {
        uint32_t msgs = 0, cons = 0;
        if (rpc_connect(&w.ap, &ws[0].rc, &e) || rpc_queue_depth(ws[0].rc, w.queue, &msgs, &cons, &e)) {
            fprintf(stderr, "mlhep-infer --check: %s\n", e.msg);
            rc = 1;
        } else {
            printf("ok: broker %s:%d queue %s (%u ready, %u consumers), artifact store %s, auth %s\n",
                   w.cfg.amqp_host, w.cfg.amqp_port, w.queue, msgs, cons, w.cfg.artifact_dir,
                   w.jwt ? "jwt" : "dev");
        }
    } else if (!rc) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        pthread_t *tid = calloc((size_t)threads, sizeof *tid);
        int started = 0;
        for (int i = 1; tid && i < threads; i++) {
            if (pthread_create(&tid[i], NULL, thread_main, &ws[i])) {
                ilog(&ws[0], "cannot start thread %d; serving with %d", i + 1, i);
                break;
            }
            started = i;
        }
        thread_main(&ws[0]);
        for (int i = 1; i <= started; i++)
            pthread_join(tid[i], NULL);
        free(tid);
        uint64_t served = 0, errors = 0, tv = 0, th = 0, loads = 0, fast = 0, dropped = 0;
        for (int i = 0; i < threads; i++) {
            mscache_stats cs = {0};
            if (ws[i].cache)
                mscache_get_stats(ws[i].cache, &cs);
            served += ws[i].served;
            fast += ws[i].fast;
            errors += ws[i].errors;
            dropped += ws[i].dropped;
            tv += ws[i].tok_verifies;
            th += ws[i].tok_hits;
            loads += cs.loads;
            if (ws[i].failed)
                rc = 3;
        }
        ilog(&ws[0], "signal %d: stopping; served %llu (JSON fast path %llu), errors %llu, dropped %llu (reply_to "
                     "not a direct reply-to), tokens verified %llu (cache hits %llu), models loaded %llu (%d threads)",
             (int)g_signal, (unsigned long long)served, (unsigned long long)fast, (unsigned long long)errors,
             (unsigned long long)dropped,
             (unsigned long long)tv,
             (unsigned long long)th, (unsigned long long)loads, threads);
    }
    for (int i = 0; ws && i < threads; i++) {
        rpc_close(ws[i].rc);
        predict_ctx_free(&ws[i].pc);
        reqparse_free(&ws[i].rp);
        mscache_free(ws[i].cache);
        modelstore_close(ws[i].ms);
        for (size_t j = 0; j < TOKCACHE; j++)
            free(ws[i].tok[j].tok);
    }
    free(ws);
    jschema_free(w.schema);
    jwt_config_free(w.jwt);
    config_free(&w.cfg);
    return rc;
}

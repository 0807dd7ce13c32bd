/* jobsapi.c - see jobsapi.h. */
#include "gateway/jobsapi.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdatomic.h>

#include "base/logline.h"
#include "base/numarg.h"
#include "base/wbuf.h"
#include "gateway/artstream.h"
#include "gateway/gwtask.h"
#include "gateway/tfaas.h"
#include "root/srcaccess.h"
#include "service/artifacts.h"
#include "service/job.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define IDEM_TTL 86400        /* seconds an Idempotency-Key is remembered */
#define SSE_POLL_MS 250       /* how often a live stream looks at the record */
#define SSE_KEEPALIVE 15.0    /* seconds between comments on a quiet stream */

/* ---- helpers ---------------------------------------------------------------------- */

static int store_error(gw_resp *o, const mlhep_err *e)
{
    return gw_resp_error(o, 503, "unavailable", "status store: %s", e->msg);
}

/* The caller's record of job id: 0 with *rec, or an error response already in o. */
static int load_record(gw_ctx *g, const gw_caller *c, const char *id, json_t **rec, gw_resp *o)
{
    *rec = NULL;
    if (!id || !job_id_valid(id)) {
        gw_resp_error(o, 400, "bad_request", "'%s' is not a job id (32 lower-case hex digits)", id ? id : "");
        return -1;
    }
    jobstore *js;
    mlhep_err e = {0};
    if (gwctx_store_get(g, &js, &e)) {
        store_error(o, &e);
        return -1;
    }
    int rc = jobstore_get(js, c->user, id, rec, &e);
    if (rc == JS_MISSING) { /* queued by a gateway, not yet registered by a worker? */
        double sub = 0;
        int q = jobstore_queued_get(js, c->user, id, &sub, &e);
        if (q == 0) {
            char t[32];
            snprintf(t, sizeof t, "%.3f", sub);
            *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "user", c->user, "state", "queued",
                             "phase", "queued", "progress", "0", "submitted", t, "message",
                             "queued in the broker; a worker registers it");
            rc = *rec ? 0 : err_set(&e, MLHEP_ENOMEM, "out of memory");
        } else if (q < 0) {
            rc = q;
        }
    }
    gwctx_store_put(g, js, rc >= 0);
    if (rc == JS_MISSING) {
        gw_resp_error(o, 404, "not_found", "no job %s for user '%s' (it does not exist, is not registered yet, "
                                           "or belongs to someone else)", id, c->user);
        return -1;
    }
    if (rc < 0) {
        store_error(o, &e);
        return -1;
    }
    return 0;
}

/* The record with its numbers as numbers (Redis keeps strings). */
static json_t *record_view(json_t *rec)
{
    static const char *const nums[] = {"progress", "submitted", "started", "finished", "updated", "heartbeat",
                                       "registered", "loss", "val_loss", "val_auc"};
    static const char *const ints[] = {"attempts", "events", "epoch", "epochs", "deliveries", "lease"};
    json_t *v = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(rec, k, x) {
        json_t *val = json_incref(x);
        const char *s = json_string_value(x);
        if (s) {
            for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
                if (!strcmp(k, nums[i])) {
                    char *end;
                    double d = strtod(s, &end);
                    json_decref(val);
                    val = (*s && !*end && isfinite(d)) ? json_real(d) : json_null();
                }
            for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
                if (!strcmp(k, ints[i])) {
                    char *end;
                    long long d = strtoll(s, &end, 10);
                    json_decref(val);
                    val = (*s && !*end) ? json_integer(d) : json_null();
                }
            if (!strcmp(k, "cancel_requested")) {
                json_decref(val);
                val = json_boolean(!strcmp(s, "1"));
            }
        }
        if (!strcmp(k, "artifacts")) {
            /* the worker records where the set lies on the service's disk: users get its URL */
            json_decref(val);
            const char *id = json_string_value(json_object_get(rec, "id"));
            char url[96];
            snprintf(url, sizeof url, "/v1/jobs/%.40s/artifacts", id ? id : "");
            val = json_string(url);
        }
        json_object_set_new(v, k, val);
    }
    return v;
}

static const char *rec_field(json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(rec, k));
    return s ? s : "";
}

/* A job's log lines as text, one per line, their control characters escaped
 * (logline_escape): a line holding a newline or a terminal escape cannot forge lines or
 * reach a terminal raw. */
static void logs_text(const json_t *lines, wbuf *w)
{
    size_t i;
    json_t *x;
    json_array_foreach(lines, i, x) {
        const char *l = json_string_value(x) ? json_string_value(x) : "";
        size_t cap = 4 * strlen(l) + 1;
        char *clean = malloc(cap);
        if (!clean) {
            w->err = 1;
            return;
        }
        logline_escape(l, clean, cap);
        wbuf_str(w, clean);
        wbuf_str(w, "\n");
        free(clean);
    }
}

/* ---- submit ----------------------------------------------------------------------- */

static void maybe_crash(gw_ctx *g, const gw_req *r, const char *point)
{
    if (!g->cfg->test_hooks)
        return;
    const char *h = gw_header(r, "X-Mlhep-Test-Crash");
    if (h && !strcmp(h, point)) {
        fprintf(stderr, "mlhep-gateway: test hook: dying %s\n", point);
        fflush(stderr);
        raise(SIGKILL);
    }
}

/* The X-Storage-Proxy header's proxy: base64 of the PEM, decoded into *pem (malloc'ed,
 * NUL-terminated; the caller wipes and frees it) and checked (srcaccess_check_proxy_pem).
 * Messages never quote it. */
static int proxy_header(const char *h, char **pem, mlhep_err *e)
{
    *pem = NULL;
    size_t l = strlen(h);
    while (l && (h[l - 1] == ' ' || h[l - 1] == '\t'))
        l--;
    while (l && (*h == ' ' || *h == '\t'))
        h++, l--;
    if (l == 0 || l % 4 || l > 4 * ((SRCACCESS_PROXY_MAX + 2) / 3))
        return err_set(e, MLHEP_EINVAL, "%s must be the x509up file base64-encoded on one line (base64 -w0), at most "
                       "%d bytes before encoding", GW_STORAGE_PROXY_HEADER, SRCACCESS_PROXY_MAX);
    unsigned char *raw = malloc(l / 4 * 3 + 1);
    if (!raw)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int got = EVP_DecodeBlock(raw, (const unsigned char *)h, (int)l);
    if (got >= 0) /* EVP_DecodeBlock counts the padding as bytes */
        got -= (h[l - 1] == '=') + (h[l - 2] == '=');
    int rc = got <= 0 || memchr(raw, 0, (size_t)got)
                 ? err_set(e, MLHEP_EINVAL, "%s is not base64 of a PEM file", GW_STORAGE_PROXY_HEADER)
                 : srcaccess_check_proxy_pem((const char *)raw, (size_t)got, NULL, e);
    if (rc) {
        OPENSSL_cleanse(raw, l / 4 * 3 + 1);
        free(raw);
        return rc;
    }
    raw[got] = 0;
    *pem = (char *)raw;
    return 0;
}

static void wipe_free(char *p)
{
    if (p) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

/* Validates wf and queues it; answers 202 with the job id, through ok_body (which
 * builds the success document from the id). */
static int submit_workflow(gw_ctx *g, const gw_req *r, const gw_caller *c, json_t *wf, gw_resp *o,
                           json_t *(*ok_body)(const char *id, const json_t *wf))
{
    mlhep_err e = {0};
    int rc = pipeline_validate(wf, g->penv, NULL, &e);
    if (!rc) /* branch names and expressions, when the gateway sees the inputs (local files
              * under its data roots): a typo is refused now, not by the worker later */
        rc = pipeline_check_inputs_if_visible(wf, g->penv, &e);
    if (rc)
        return gw_resp_error(o, 400, "bad_request", "%s; nothing was queued", e.msg);
    /* per-user delegation (docs/grid.md): a storage token for this job's reads, sealed
     * for the job by jobpub_submit; never logged, stored or echoed in clear */
    char stok[SRCACCESS_TOKEN_MAX + 2];
    const char *sh = gw_header(r, GW_STORAGE_TOKEN_HEADER);
    if (sh) {
        size_t sl = strlen(sh);
        if (sl >= sizeof stok)
            return gw_resp_error(o, 400, "bad_request", "the storage token is too long (%zu bytes, at most %d); "
                                 "nothing was queued", sl, SRCACCESS_TOKEN_MAX - 1);
        memcpy(stok, sh, sl + 1);
        if ((rc = jobpub_storage_token(stok, &e))) {
            memset(stok, 0, sizeof stok);
            return gw_resp_error(o, 400, "bad_request", "%s; nothing was queued", e.msg);
        }
    }
    const char *ph = gw_header(r, GW_STORAGE_PROXY_HEADER);
    if (ph && sh) {
        memset(stok, 0, sizeof stok);
        return gw_resp_error(o, 400, "bad_request", "give the job %s or %s, not both; nothing was queued",
                             GW_STORAGE_TOKEN_HEADER, GW_STORAGE_PROXY_HEADER);
    }
    if (ph) { /* checked now; decoded again just before it is sealed */
        char *pem = NULL;
        rc = proxy_header(ph, &pem, &e);
        wipe_free(pem);
        if (rc)
            return gw_resp_error(o, 400, "bad_request", "%s; nothing was queued", e.msg);
    }
    const char *key = gw_header(r, "Idempotency-Key");
    char id[JOB_ID_HEX + 1];
    if ((rc = job_new_id(id, &e)))
        return gw_resp_error(o, 500, "internal", "%s", e.msg);
    jobstore *js = NULL;
    int replay = 0;
    if (key) {
        if (gwctx_store_get(g, &js, &e))
            return store_error(o, &e);
        char found[JOB_ID_HEX + 1];
        int published = 0;
        double at = 0;
        rc = jobstore_idem_claim(js, c->user, key, id, IDEM_TTL, found, &published, &at, &e);
        if (rc < 0) {
            gwctx_store_put(g, js, 0);
            if (rc == MLHEP_EINVAL)
                return gw_resp_error(o, 400, "bad_request", "%s", e.msg);
            return store_error(o, &e);
        }
        if (rc == JS_SKIP) {
            if (published) {
                gwctx_store_put(g, js, 1);
                json_t *b = ok_body(found, wf);
                gw_resp_header(o, "Idempotent-Replayed", "true");
                char loc[64];
                snprintf(loc, sizeof loc, "/v1/jobs/%s", found);
                gw_resp_header(o, "Location", loc);
                return gw_resp_json(o, 200, b);
            }
            if (job_now() - at < g->cfg->gateway_idem_stale) {
                gwctx_store_put(g, js, 1);
                gw_resp_header(o, "Retry-After", "1");
                return gw_resp_error(o, 409, "conflict",
                                     "a submission with this Idempotency-Key is in progress (job %s); retry in a "
                                     "moment", found);
            }
            /* the first request's gateway died before it knew whether the broker took the
             * job: publish it again under the same id (a worker runs an id once) */
            if (jobstore_idem_retake(js, c->user, key, found, &e)) {
                gwctx_store_put(g, js, 0);
                return store_error(o, &e);
            }
            memcpy(id, found, sizeof id);
            replay = 1;
        }
    }
    maybe_crash(g, r, "before-publish");
    /* until a worker registers it, status reads answer `queued` (not "no such job"); the
     * mark comes first, so that the worker's registration (which clears it) follows it */
    if (js || gwctx_store_get(g, &js, &(mlhep_err){0}) == 0) {
        mlhep_err qe = {0};
        if (jobstore_queued_mark(js, c->user, id, job_now(), IDEM_TTL, &qe))
            fprintf(stderr, "mlhep-gateway: job %s: its queued mark could not be written: %s\n", id, qe.msg);
    }
    char used[JOB_ID_HEX + 1];
    char *pem = NULL;
    rc = ph ? proxy_header(ph, &pem, &e) : 0;
    if (!rc)
        rc = jobpub_submit(g->pub, c->user, c->token, wf, id, ph ? "x509" : "token", ph ? pem : sh ? stok : NULL,
                           used, &e);
    memset(stok, 0, sizeof stok);
    wipe_free(pem);
    if (rc) {
        if (js && key && !replay)
            jobstore_idem_release(js, c->user, key, &(mlhep_err){0});
        if (js && !replay) /* not known to be queued (if the broker did take it, the worker registers it) */
            jobstore_queued_clear(js, c->user, id);
        gwctx_store_put(g, js, 1);
        int st;
        const char *code;
        /* too large (ENOMEM: 413 naming the limit), refused, or the broker is away */
        int refused = rc == MLHEP_EINVAL || rc == MLHEP_ENOMEM;
        gw_status_for(refused ? rc : MLHEP_ENET, &st, &code);
        if (refused) /* refused before publishing: certain */
            return gw_resp_error(o, st, code, "%s; nothing was queued", e.msg);
        return gw_resp_error(o, st, code, "the job could not be queued: %s", e.msg);
    }
    maybe_crash(g, r, "after-publish");
    if (js && key) {
        mlhep_err de = {0};
        if (jobstore_idem_done(js, c->user, key, used, &de))
            fprintf(stderr, "mlhep-gateway: job %s queued, but its Idempotency-Key could not be recorded: %s\n", used,
                    de.msg);
    }
    if (js)
        gwctx_store_put(g, js, 1);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", used);
    gw_resp_header(o, "Location", loc);
    return gw_resp_json(o, 202, ok_body(used, wf));
}

static json_t *parse_body(const gw_req *r, gw_resp *o)
{
    if (!r->body || !r->body_len) {
        gw_resp_error(o, 400, "bad_request", "the request has no body (a JSON document is expected)");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        gw_resp_error(o, 400, "bad_request", "the body is not valid JSON: %s (line %d, column %d); nothing was queued",
                      je.text, je.line, je.column);
    return j;
}

static json_t *v1_body(const char *id, const json_t *wf)
{
    (void)wf;
    char u[64], ev[80];
    snprintf(u, sizeof u, "/v1/jobs/%s", id);
    snprintf(ev, sizeof ev, "/v1/jobs/%s/events", id);
    return json_pack("{s:s, s:s, s:s, s:s}", "id", id, "state", "queued", "status_url", u, "events_url", ev);
}

int jobsapi_submit(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    json_t *wf = parse_body(r, o);
    if (!wf)
        return 0;
    int rc = submit_workflow(g, r, c, wf, o, v1_body);
    json_decref(wf);
    return rc;
}

static json_t *mlaas_body(const char *id, const json_t *wf)
{
    char pn[200];
    snprintf(pn, sizeof pn, "%s_%.8s", json_string_value(json_object_get(wf, "name")), id);
    return json_pack("{s:s, s:s}", "process_name", pn, "job_id", id);
}

int jobsapi_mlaas_submit(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    json_t *body = parse_body(r, o);
    if (!body)
        return 0;
    json_t *wf = NULL;
    mlhep_err e = {0};
    int rc;
    if (tfaas_submit_workflow(body, &wf, &e))
        rc = gw_resp_error(o, 400, "bad_request", "%s; nothing was queued", e.msg);
    else
        rc = submit_workflow(g, r, c, wf, o, mlaas_body);
    json_decref(wf);
    json_decref(body);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

int jobsapi_list(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    long limit = LIST_DEFAULT;
    const char *ls = gw_query(r, "limit");
    mlhep_err e = {0};
    if (ls && numarg_long("limit", ls, 1, LIST_MAX, &limit, &e))
        return gw_resp_error(o, 400, "bad_request", "%s", e.msg);
    jobstore *js;
    if (gwctx_store_get(g, &js, &e))
        return store_error(o, &e);
    json_t *ids = NULL;
    int rc = jobstore_list(js, c->user, (int)limit, &ids, &e);
    json_t *jobs = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(ids, i, x) {
        if (rc < 0)
            break;
        json_t *rec = NULL;
        int k = jobstore_get(js, c->user, json_string_value(x), &rec, &e);
        if (k < 0) {
            rc = k;
            break;
        }
        if (k == 0)
            json_array_append_new(jobs, record_view(rec));
        json_decref(rec);
    }
    json_decref(ids);
    gwctx_store_put(g, js, rc >= 0);
    if (rc < 0) {
        json_decref(jobs);
        return store_error(o, &e);
    }
    return gw_resp_json(o, 200, json_pack("{s:s, s:o}", "user", c->user, "jobs", jobs));
}

int jobsapi_status(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    json_t *rec;
    if (load_record(g, c, gw_param(m, "id"), &rec, o))
        return 0;
    json_t *v = record_view(rec);
    json_decref(rec);
    return gw_resp_json(o, 200, v);
}

int jobsapi_logs(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    json_t *rec;
    const char *id = gw_param(m, "id");
    if (load_record(g, c, id, &rec, o))
        return 0;
    json_decref(rec);
    jobstore *js;
    mlhep_err e = {0};
    if (gwctx_store_get(g, &js, &e))
        return store_error(o, &e);
    json_t *lines = NULL;
    int rc = jobstore_logs(js, c->user, id, &lines, &e);
    gwctx_store_put(g, js, rc >= 0);
    if (rc < 0)
        return store_error(o, &e);
    const char *fmt = gw_query(r, "format");
    if (fmt && !strcmp(fmt, "text")) {
        wbuf w = WBUF_INIT;
        logs_text(lines, &w);
        json_decref(lines);
        if (!wbuf_ok(&w)) {
            wbuf_free(&w);
            return gw_resp_error(o, 500, "internal", "out of memory");
        }
        if (!w.p)
            return gw_resp_bytes(o, 200, "text/plain; charset=utf-8", "", 0);
        return gw_resp_take(o, 200, "text/plain; charset=utf-8", (char *)w.p, w.len);
    }
    return gw_resp_json(o, 200, json_pack("{s:s, s:o}", "id", id, "lines", lines));
}

int jobsapi_cancel(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    json_t *rec;
    const char *id = gw_param(m, "id");
    if (load_record(g, c, id, &rec, o))
        return 0;
    job_state st;
    int known = job_state_parse(rec_field(rec, "state"), &st) == 0;
    if (known && job_state_terminal(st)) {
        int rc = gw_resp_error(o, 409, "conflict", "job %s has already finished (%s)", id, rec_field(rec, "state"));
        json_decref(rec);
        return rc;
    }
    json_decref(rec);
    mlhep_err e = {0};
    if (jobpub_cancel(g->pub, c->user, c->token, id, &e))
        return gw_resp_error(o, 503, "unavailable", "the cancel request could not be queued: %s", e.msg);
    return gw_resp_json(o, 202, json_pack("{s:s, s:s}", "id", id, "cancel", "requested"));
}

/* ---- live events (Server-Sent Events) ---------------------------------------------- */

/* One stream: the feeder thread polls the record and the log, appends events to out and
 * wakes the server; the server's reader (event loop) only copies out. */
struct gw_stream {
    gw_ctx *g;
    char user[JOB_USER_MAX + 1];
    char id[JOB_ID_HEX + 1];
    pthread_mutex_t mu;
    wbuf out;            /* bytes produced, not yet handed to the server */
    size_t off;
    int ended;           /* nothing more after out */
    char *last;          /* the last status document sent (feeder only) */
    size_t nlog;         /* log lines sent (feeder only) */
    double last_sent;    /* feeder only */
    gw_wakeup w;
    int attached;
    struct gw_stream *next;
};

static void stream_free(void *cls)
{
    gw_stream *s = cls;
    if (!s)
        return;
    gw_streams *ss = &s->g->streams;
    pthread_mutex_lock(&ss->mu);
    for (gw_stream **p = &ss->list; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&ss->mu);
    if (s->attached && s->w.release)
        s->w.release(s->w.srv);
    free(s->last);
    wbuf_free(&s->out);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void stream_attach(void *cls, const gw_wakeup *w)
{
    gw_stream *s = cls;
    s->w = *w;
    s->attached = 1;
    gw_streams *ss = &s->g->streams;
    pthread_mutex_lock(&ss->mu);
    s->next = ss->list;
    ss->list = s;
    pthread_mutex_unlock(&ss->mu);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    gw_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    ssize_t n = 0;
    if (s->off < s->out.len) {
        size_t k = s->out.len - s->off;
        if (k > max)
            k = max;
        memcpy(buf, s->out.p + s->off, k);
        s->off += k;
        if (s->off == s->out.len) {
            s->off = 0;
            wbuf_reset(&s->out);
        }
        n = (ssize_t)k;
    } else if (s->ended) {
        n = GW_READER_END;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The feeder's look at one stream: new log lines, a changed status, the end. Returns 1
 * when something was added. Runs without the stream's lock except to append. */
static int stream_poll(gw_stream *s, double now)
{
    wbuf add = WBUF_INIT;
    int ended = 0;
    jobstore *js;
    mlhep_err e = {0};
    if (atomic_load(&s->g->stopping)) {
        wbuf_str(&add, "event: end\ndata: {\"error\":\"the gateway is shutting down\"}\n\n");
        ended = 1;
    } else if (gwctx_store_get(s->g, &js, &e) == 0) {
        json_t *rec = NULL, *lines = NULL;
        int rc = jobstore_get(js, s->user, s->id, &rec, &e);
        if (rc == 0)
            rc = jobstore_logs(js, s->user, s->id, &lines, &e);
        int queued = 0; /* queued by a gateway, not yet registered: the stream waits */
        double sub;
        if (rc == JS_MISSING && jobstore_queued_get(js, s->user, s->id, &sub, &e) == 0)
            queued = 1;
        gwctx_store_put(s->g, js, rc >= 0);
        if (queued) {
            /* nothing yet */
        } else if (rc == JS_MISSING) {
            wbuf_str(&add, "event: end\ndata: {\"error\":\"no such job\"}\n\n");
            ended = 1;
        } else if (rc == 0) {
            size_t n = json_array_size(lines);
            if (n < s->nlog)
                s->nlog = 0; /* the log was trimmed: send what it holds now */
            for (size_t i = s->nlog; i < n; i++) {
                json_t *l = json_pack("{s:I, s:O}", "n", (json_int_t)i, "line", json_array_get(lines, i));
                char *t = json_dumps(l, JSON_COMPACT);
                json_decref(l);
                if (t)
                    wbuf_printf(&add, "event: log\ndata: %s\n\n", t);
                free(t);
            }
            s->nlog = n;
            json_t *v = record_view(rec);
            json_object_del(v, "heartbeat_ttl_ms"); /* changes at every poll: not news */
            char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(v);
            if (t && (!s->last || strcmp(t, s->last))) {
                wbuf_printf(&add, "event: status\ndata: %s\n\n", t);
                free(s->last);
                s->last = t;
                t = NULL;
            }
            free(t);
            job_state st;
            if (job_state_parse(rec_field(rec, "state"), &st) == 0 && job_state_terminal(st)) {
                wbuf_printf(&add, "event: end\ndata: {\"state\":\"%s\"}\n\n", rec_field(rec, "state"));
                ended = 1;
            }
        }
        json_decref(rec);
        json_decref(lines);
    }
    if (!add.len && now - s->last_sent >= SSE_KEEPALIVE)
        wbuf_str(&add, ": keep-alive\n\n");
    if (!add.len && !ended) {
        wbuf_free(&add);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    if (add.len)
        wbuf_put(&s->out, add.p, add.len);
    if (ended)
        s->ended = 1;
    pthread_mutex_unlock(&s->mu);
    wbuf_free(&add);
    s->last_sent = now;
    return 1;
}

static void *streams_main(void *arg)
{
    gw_ctx *g = arg;
    gw_streams *ss = &g->streams;
    for (;;) {
        int stop = atomic_load(&ss->stop);
        double now = gwtask_now();
        pthread_mutex_lock(&ss->mu);
        for (gw_stream *s = ss->list; s; s = s->next) {
            int ended;
            pthread_mutex_lock(&s->mu);
            ended = s->ended;
            pthread_mutex_unlock(&s->mu);
            if (ended) {
                s->w.wake(s->w.srv); /* let the reader see the end it may not have read */
                continue;
            }
            if (stream_poll(s, now))
                s->w.wake(s->w.srv);
        }
        pthread_mutex_unlock(&ss->mu);
        if (stop)
            break;
        struct timespec ts = {0, SSE_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int jobsapi_streams_start(gw_ctx *g, mlhep_err *e)
{
    if (pthread_create(&g->streams.ticker, NULL, streams_main, g))
        return err_set(e, MLHEP_ENOMEM, "cannot start the live streams' thread");
    g->streams.started = 1;
    return 0;
}

void jobsapi_streams_stop(gw_ctx *g)
{
    if (!g->streams.started)
        return;
    atomic_store(&g->streams.stop, 1);
    pthread_join(g->streams.ticker, NULL);
    g->streams.started = 0;
}

int jobsapi_events(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    json_t *rec;
    const char *id = gw_param(m, "id");
    if (load_record(g, c, id, &rec, o))
        return 0;
    json_decref(rec);
    gw_stream *s = calloc(1, sizeof *s);
    if (!s)
        return gw_resp_error(o, 500, "internal", "out of memory");
    s->g = g;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->user, sizeof s->user, "%s", c->user);
    snprintf(s->id, sizeof s->id, "%s", id);
    s->last_sent = gwtask_now();
    wbuf_str(&s->out, "retry: 2000\n\n");
    stream_poll(s, s->last_sent); /* the state as it is now, at once */
    gw_resp_clear(o);
    o->status = 200;
    snprintf(o->content_type, sizeof o->content_type, "text/event-stream");
    o->reader = stream_read;
    o->reader_cls = s;
    o->reader_free = stream_free;
    o->stream_attach = stream_attach;
    gw_resp_header(o, "Cache-Control", "no-cache");
    gw_resp_header(o, "X-Accel-Buffering", "no");
    return 0;
}

/* ---- artifacts -------------------------------------------------------------------- */

_Static_assert(ARTIFACTS_NAME_MAX <= GW_PARAM_MAX, "every artifact name fits the {file*} route parameter");

/* Opens the job's artifact directory (no links followed) and reads its manifest. */
static int open_artifacts(gw_ctx *g, const gw_caller *c, const char *id, int *dfd, json_t **files, gw_resp *o)
{
    json_t *rec;
    if (load_record(g, c, id, &rec, o))
        return -1;
    const char *state = rec_field(rec, "state");
    if (strcmp(state, "succeeded")) {
        gw_resp_error(o, 409, "conflict", "job %s has no artifacts: it is %s", id, state);
        json_decref(rec);
        return -1;
    }
    json_decref(rec);
    char dir[4096];
    mlhep_err e = {0};
    if (artifacts_final_path(g->cfg->artifact_dir, c->user, id, dir, sizeof dir, &e)) {
        gw_resp_error(o, 500, "internal", "%s", e.msg);
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        gw_resp_error(o, 404, "not_found", "the artifacts of job %s are not in the gateway's artifact store (%s)", id,
                      strerror(errno));
        return -1;
    }
    int mfd = openat(fd, "MANIFEST.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = mfd >= 0 ? fdopen(mfd, "r") : NULL;
    json_t *man = f ? json_loadf(f, 0, NULL) : NULL;
    if (f)
        fclose(f);
    else if (mfd >= 0)
        close(mfd);
    json_t *fl = json_object_get(man, "files");
    if (!json_is_array(fl)) {
        json_decref(man);
        close(fd);
        gw_resp_error(o, 500, "internal", "job %s: MANIFEST.json is missing or unreadable", id);
        return -1;
    }
    *files = json_incref(fl);
    json_decref(man);
    *dfd = fd;
    return 0;
}

static const char *artifact_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".json"))
        return "application/json";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".log") || !strcmp(dot, ".txt") || !strcmp(dot, ".csv"))
        return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

int jobsapi_artifacts(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    const char *id = gw_param(m, "id");
    int dfd;
    json_t *files;
    if (open_artifacts(g, c, id, &dfd, &files, o))
        return 0;
    close(dfd);
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(files, i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (!n)
            continue;
        char url[512];
        snprintf(url, sizeof url, "/v1/jobs/%s/artifacts/%s", id, n);
        json_t *y = json_deep_copy(x);
        json_object_set_new(y, "url", json_string(url));
        json_object_set_new(y, "content_type", json_string(artifact_type(n)));
        json_array_append_new(out, y);
    }
    json_decref(files);
    char arch[96];
    snprintf(arch, sizeof arch, "/v1/jobs/%s/archive", id);
    return gw_resp_json(o, 200, json_pack("{s:s, s:o, s:s}", "id", id, "files", out, "archive_url", arch));
}

static int listed(json_t *files, const char *name)
{
    size_t i;
    json_t *x;
    if (!strcmp(name, "MANIFEST.json"))
        return 1;
    json_array_foreach(files, i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (n && !strcmp(n, name))
            return 1;
    }
    return 0;
}

/* Artifacts are the job's output, shown as documents, never as part of the dashboard. */
static void artifact_headers(gw_resp *o)
{
    gw_resp_header(o, "Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src "
                                                 "'unsafe-inline'");
    gw_resp_header(o, "X-Content-Type-Options", "nosniff");
}

/* o answers with the stream s (which it then owns). */
static void resp_stream(gw_resp *o, artstream *s, const char *ctype)
{
    gw_resp_clear(o);
    o->status = 200;
    snprintf(o->content_type, sizeof o->content_type, "%s", ctype);
    o->reader = artstream_read;
    o->reader_cls = s;
    o->reader_free = artstream_free;
}

int jobsapi_artifact(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    const char *id = gw_param(m, "id"), *name = gw_param(m, "file");
    int dfd;
    json_t *files;
    if (open_artifacts(g, c, id, &dfd, &files, o))
        return 0;
    int ok = name && listed(files, name);
    json_decref(files);
    artstream *s = NULL;
    uint64_t size = 0;
    mlhep_err e = {0};
    if (!ok || artstream_file(dfd, name, &s, &size, &e)) {
        close(dfd);
        return gw_resp_error(o, 404, "not_found", "job %s has no artifact '%s' (GET /v1/jobs/%s/artifacts lists them)",
                             id, name ? name : "", id);
    }
    close(dfd);
    resp_stream(o, s, artifact_type(name));
    o->reader_sized = 1;
    o->reader_size = size;
    artifact_headers(o);
    return 0;
}

int jobsapi_archive(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)r;
    const char *id = gw_param(m, "id");
    int dfd;
    json_t *files;
    if (open_artifacts(g, c, id, &dfd, &files, o))
        return 0;
    size_t n = json_array_size(files), k = 0;
    const char **names = calloc(n + 1, sizeof *names);
    if (!names) {
        close(dfd);
        json_decref(files);
        return gw_resp_error(o, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(files, i), "name"));
        if (name)
            names[k++] = name;
    }
    names[k++] = "MANIFEST.json";
    artstream *s = NULL;
    mlhep_err e = {0};
    int rc = artstream_archive(dfd, names, k, id, &s, &e);
    free(names);
    close(dfd);
    json_decref(files);
    if (rc)
        return gw_resp_error(o, 500, "internal", "job %s: the artifacts could not be read into an archive: %s", id,
                             e.msg);
    resp_stream(o, s, "application/gzip");
    char cd[128];
    snprintf(cd, sizeof cd, "attachment; filename=\"mlhep-%s.tar.gz\"", id);
    gw_resp_header(o, "Content-Disposition", cd);
    return 0;
}

/* ---- MLaaS4HEP's job calls, by process_name (NAME_ID8 or the job id) -------------- */

/* The job id a process_name names: the full id, or NAME_<first 8 hex> looked up among the
 * caller's jobs. */
static int mlaas_id(gw_ctx *g, const gw_req *r, const gw_caller *c, char id[JOB_ID_HEX + 1], gw_resp *o)
{
    const char *pn = gw_query(r, "process_name");
    if (!pn || !*pn)
        return gw_resp_error(o, 400, "bad_request", "process_name is required"), -1;
    if (job_id_valid(pn)) {
        memcpy(id, pn, JOB_ID_HEX + 1);
        return 0;
    }
    const char *us = strrchr(pn, '_');
    if (!us || strlen(us + 1) != 8)
        return gw_resp_error(o, 404, "not_found", "no job with process_name '%s'", pn), -1;
    jobstore *js;
    mlhep_err e = {0};
    if (gwctx_store_get(g, &js, &e))
        return store_error(o, &e), -1;
    json_t *ids = NULL;
    int rc = jobstore_list(js, c->user, LIST_MAX, &ids, &e);
    gwctx_store_put(g, js, rc >= 0);
    if (rc < 0)
        return store_error(o, &e), -1;
    int found = 0;
    size_t i;
    json_t *x;
    json_array_foreach(ids, i, x) {
        const char *s = json_string_value(x);
        if (s && !strncmp(s, us + 1, 8)) {
            memcpy(id, s, JOB_ID_HEX + 1);
            found = 1;
            break;
        }
    }
    json_decref(ids);
    if (!found)
        return gw_resp_error(o, 404, "not_found", "no job with process_name '%s'", pn), -1;
    return 0;
}

int jobsapi_mlaas_status(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    char id[JOB_ID_HEX + 1];
    if (mlaas_id(g, r, c, id, o))
        return 0;
    json_t *rec;
    if (load_record(g, c, id, &rec, o))
        return 0;
    json_t *v = json_pack("{s:s, s:s, s:s}", "process_name", gw_query(r, "process_name"), "status",
                          rec_field(rec, "state"), "job_id", id);
    json_decref(rec);
    return gw_resp_json(o, 200, v);
}

int jobsapi_mlaas_logs(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    char id[JOB_ID_HEX + 1];
    if (mlaas_id(g, r, c, id, o))
        return 0;
    gw_match mm = {0};
    mm.nparams = 1;
    snprintf(mm.name[0], sizeof mm.name[0], "id");
    snprintf(mm.value[0], sizeof mm.value[0], "%s", id);
    gw_req rr = *r;
    rr.query = NULL; /* text format */
    int rc = jobsapi_logs(g, &rr, &mm, c, o);
    if (o->status == 200) {
        json_t *j = json_loadb(o->body, o->len, 0, NULL);
        wbuf w = WBUF_INIT;
        logs_text(json_object_get(j, "lines"), &w);
        json_decref(j);
        gw_resp_take(o, 200, "text/plain; charset=utf-8", w.p ? (char *)w.p : strdup(""), w.len);
        char cd[128];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s.log\"", id);
        gw_resp_header(o, "Content-Disposition", cd);
    }
    return rc;
}

int jobsapi_mlaas_model(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o)
{
    (void)m;
    char id[JOB_ID_HEX + 1];
    if (mlaas_id(g, r, c, id, o))
        return 0;
    gw_match mm = {0};
    mm.nparams = 1;
    snprintf(mm.name[0], sizeof mm.name[0], "id");
    snprintf(mm.value[0], sizeof mm.value[0], "%s", id);
    return jobsapi_archive(g, r, &mm, c, o);
}

int jobsapi_counts(gw_ctx *g, long long counts[JOB_NSTATES], mlhep_err *e)
{
    for (int i = 0; i < JOB_NSTATES; i++)
        counts[i] = -1;
    jobstore *js;
    int rc = gwctx_store_get(g, &js, e);
    if (rc)
        return rc;
    rc = jobstore_state_counts(js, counts, e);
    gwctx_store_put(g, js, rc >= 0);
    return rc < 0 ? rc : 0;
}

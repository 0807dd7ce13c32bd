/* gwclient.c - the gateway's client over libcurl (see gwclient.h).
 *
 * One request is described by a `req` (method, path, body, what may be retried) and
 * answered into a `resp` (status, body, the headers we use). Synchronous calls run on
 * the client's easy handle (call()); pipelined predictions on its multi handle, one
 * `xfer` per request in flight; both set a transfer up with setup() and turn a refusal
 * into an error with status_error(), so they behave alike. Live streams (follow) parse
 * Server-Sent Events as they arrive. */
#include "gateway/gwclient.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root/netretry.h"
#include "gateway/jobsapi.h"
#include "service/artifacts.h"

#define PATH_MAX_LEN 2048

struct gwclient {
    char *base;      /* scheme://host:port[/prefix], no trailing slash */
    char *ca;        /* CA file, or NULL for the system's store */
    char *auth;      /* "Authorization: Bearer TOKEN", or NULL */
    int timeout_ms;
    netretry pol;
    CURL *h;         /* synchronous calls */
    CURLM *multi;    /* pipelined predictions */
    struct xfer **xs;
    size_t nxs;
    uint64_t seq;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- requests and answers ------------------------------------------------------------ */

typedef struct req {
    const char *method;  /* GET, POST, DELETE */
    char path[PATH_MAX_LEN];
    const char *ctype;   /* of the body, or NULL */
    const void *body;
    size_t len;
    const char *idem;    /* Idempotency-Key, or NULL */
    const char *stoken;  /* the job's delegated storage credential, or NULL: a token
                            (X-Storage-Token), or with sproxy the PEM of an X.509 proxy
                            (X-Storage-Proxy, base64) */
    int sproxy;
    int service;         /* errors are mlhep-infer's: "CODE: message" */
    int repeatable;      /* safe to send again after a connection broke mid-way */
    int stream;          /* a live stream or a download: no overall time limit, only a stall limit */
} req;

typedef struct resp {
    long status;
    wbuf body;
    char ctype[96];
    double retry_after;  /* seconds; < 0 when absent */
    int replayed;        /* Idempotent-Replayed: true */
    FILE *sink;          /* a 2xx answer's body goes here instead (archives) */
    int too_big, sink_err;
    int hstatus;         /* the status line's code, known before the body arrives */
} resp;

static void resp_reset(resp *r)
{
    wbuf_reset(&r->body);
    r->status = 0;
    r->ctype[0] = '\0';
    r->retry_after = -1;
    r->replayed = r->too_big = r->sink_err = r->hstatus = 0;
    if (r->sink) {
        rewind(r->sink);
        if (ftruncate(fileno(r->sink), 0))
            r->sink_err = 1;
    }
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
    resp *r = cls;
    size_t len = size * n;
    char line[256];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = '\0';
    while (k && (line[k - 1] == '\r' || line[k - 1] == '\n' || line[k - 1] == ' '))
        line[--k] = '\0';
    if (!strncmp(line, "HTTP/", 5)) { /* a new answer (after a 100 Continue): forget the last */
        const char *sp = strchr(line, ' ');
        r->hstatus = sp ? atoi(sp + 1) : 0;
        r->ctype[0] = '\0';
        r->retry_after = -1;
        r->replayed = 0;
    } else if (!strncasecmp(line, "Content-Type:", 13)) {
        const char *v = line + 13;
        while (*v == ' ')
            v++;
        snprintf(r->ctype, sizeof r->ctype, "%.95s", v);
    } else if (!strncasecmp(line, "Retry-After:", 12)) {
        char *end;
        double v = strtod(line + 12, &end);
        r->retry_after = end != line + 12 && isfinite(v) && v >= 0 ? v : 1; /* an HTTP date: 1 s */
    } else if (!strncasecmp(line, "Idempotent-Replayed:", 20)) {
        r->replayed = strstr(line + 20, "true") != NULL;
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
    resp *r = cls;
    size_t len = size * n;
    if (r->sink && r->hstatus >= 200 && r->hstatus < 300) { /* an error's text stays in body */
        if (fwrite(p, 1, len, r->sink) != len) {
            r->sink_err = 1;
            return 0;
        }
        return len;
    }
    if (r->body.len + len > GWCLIENT_BODY_MAX) {
        r->too_big = 1;
        return 0;
    }
    wbuf_put(&r->body, p, len);
    return wbuf_ok(&r->body) ? len : 0;
}

/* Sets h up for q, answering into r; *hd (the header list) is the caller's to free. */
static int setup(gwclient *c, CURL *h, const req *q, resp *r, char *errbuf, struct curl_slist **hd, mlhep_err *e)
{
    char url[PATH_MAX_LEN + 512];
    if ((size_t)snprintf(url, sizeof url, "%s%s", c->base, q->path) >= sizeof url)
        return err_set(e, MLHEP_EINVAL, "request path too long");
    curl_easy_reset(h);
    struct curl_slist *l = NULL, *t;
    char line[128];
    int ok = 1;
#define ADD(s) (ok = ok && (t = curl_slist_append(l, (s))) && (l = t))
    if (c->auth)
        ADD(c->auth);
    if (q->ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", q->ctype);
        ADD(line);
    }
    if (q->idem) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", q->idem);
        ADD(line);
    }
    if (q->stoken && q->sproxy) { /* copied by curl_slist_append; ours is wiped */
        size_t cl = strlen(q->stoken), n = strlen(GW_STORAGE_PROXY_HEADER) + 4 * ((cl + 2) / 3) + 3;
        char *sl = malloc(n);
        ok = ok && sl;
        if (sl) {
            int hl = snprintf(sl, n, "%s: ", GW_STORAGE_PROXY_HEADER);
            EVP_EncodeBlock((unsigned char *)sl + hl, (const unsigned char *)q->stoken, (int)cl);
            ADD(sl);
            memset(sl, 0, n);
            free(sl);
        }
    } else if (q->stoken) {
        size_t n = strlen(GW_STORAGE_TOKEN_HEADER) + strlen(q->stoken) + 3;
        char *sl = malloc(n);
        ok = ok && sl;
        if (sl) {
            snprintf(sl, n, "%s: %s", GW_STORAGE_TOKEN_HEADER, q->stoken);
            ADD(sl);
            memset(sl, 0, n);
            free(sl);
        }
    }
    ADD("Expect:"); /* no 100-continue round trip before a body */
#undef ADD
    if (!ok) {
        curl_slist_free_all(l);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    *hd = l;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mlhep-gwclient/1");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->pol.timeout_s * 1000L);
    if (!q->stream && c->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    if (q->stream) { /* a quiet stream still gets a comment every 15 s; a download never stalls 60 s */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    }
    if (c->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    if (!q->repeatable) /* libcurl resends a request whose kept-alive connection died */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    if (!strcmp(q->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->len : 0));
    } else if (strcmp(q->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    return 0;
}

/* The mlhep error for an HTTP status. */
static int code_for_status(long st)
{
    if (st == 401 || st == 403)
        return MLHEP_EAUTH;
    if (st == 404)
        return MLHEP_ENOTFOUND;
    if (st == 409)
        return MLHEP_ECONFLICT;
    if (st == 413)
        return MLHEP_ENOMEM;
    if (st == 429 || st >= 500 || st < 400)
        return MLHEP_ENET;
    return MLHEP_EINVAL;
}

/* A refused request as an error: the gateway's {"error","code"} text. */
static int status_error(const gwclient *c, const req *q, const resp *r, int retries, mlhep_err *e)
{
    json_t *d = json_loadb(r->body.len ? (const char *)r->body.p : "", r->body.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(d, "error"));
    const char *code = json_string_value(json_object_get(d, "code"));
    char text[600];
    if (!msg) { /* not the gateway's JSON (a proxy's page?): the first line of the body */
        size_t k = 0;
        while (k < r->body.len && k < 300 && r->body.p[k] != '\n' && r->body.p[k] != '\r')
            k++;
        if (k)
            snprintf(text, sizeof text, "%s answered HTTP %ld: %.*s", c->base, r->status, (int)k,
                     (const char *)r->body.p);
        else
            snprintf(text, sizeof text, "%s answered HTTP %ld", c->base, r->status);
        msg = text;
        code = NULL;
    }
    int ec = code_for_status(r->status), rc;
    if (r->status == 504)
        rc = err_set(e, ec, "no reply within the gateway's time limit: %s", msg);
    else if (r->status == 429)
        rc = err_set(e, ec, "%s (still refused after %d retries)", msg, retries);
    else if (q->service && code)
        rc = err_set(e, ec, "%s: %s", code, msg);
    else
        rc = err_set(e, ec, "%s", msg);
    json_decref(d);
    return rc;
}

/* The request never reached the gateway: sending it again cannot do anything twice. */
static int never_sent(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* A connection that broke: worth another try for a repeatable request. */
static int transient(CURLcode cc)
{
    return never_sent(cc) || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
           cc == CURLE_PARTIAL_FILE || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

static int transport_error(const gwclient *c, CURLcode cc, const resp *r, const char *errbuf, int attempts,
                           mlhep_err *e)
{
    if (r->too_big)
        return err_set(e, MLHEP_ENOMEM, "%s: the answer is larger than %zu bytes", c->base, GWCLIENT_BODY_MAX);
    if (r->sink_err)
        return err_set(e, MLHEP_EIO, "cannot write the answer: %s", strerror(errno));
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return err_set(e, MLHEP_ENET, "%s: no reply within %.1f s", c->base, c->timeout_ms / 1000.0);
    const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
    const char *hint = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE
                           ? " (gateway_ca must name the CA that signed the gateway's certificate)"
                           : "";
    if (attempts > 1)
        return err_set(e, MLHEP_ENET, "gateway %s: %s%s (after %d attempts)", c->base, why, hint, attempts);
    return err_set(e, MLHEP_ENET, "gateway %s: %s%s", c->base, why, hint);
}

/* Waits out a 429, or a 409 "in progress" to a submission (its key is new, so what is in
 * progress is this very submission, sent again after a broken connection by us or by
 * libcurl): 1 if it did and the request should go again, 0 if the answer stands. */
static int wait_retry_after(const req *q, const resp *r, int *nwait)
{
    int again = r->status == 429 || (r->status == 409 && q->idem && r->retry_after >= 0);
    if (!again || *nwait >= GWCLIENT_429_RETRIES)
        return 0;
    (*nwait)++;
    double s = r->retry_after >= 0 ? r->retry_after : 1;
    sleep_s(s > GWCLIENT_RETRY_AFTER_MAX ? GWCLIENT_RETRY_AFTER_MAX : s);
    return 1;
}

/* One request on the easy handle, retried as gwclient.h says; 0 for a 2xx answer. */
static int call(gwclient *c, const req *q, resp *r, mlhep_err *e)
{
    int attempt = 0, nwait = 0;
    for (;;) {
        resp_reset(r);
        struct curl_slist *hd = NULL;
        int rc = setup(c, c->h, q, r, c->errbuf, &hd, e);
        if (rc)
            return rc;
        CURLcode cc = curl_easy_perform(c->h);
        curl_slist_free_all(hd);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
            if (wait_retry_after(q, r, &nwait))
                continue;
            if (r->status >= 200 && r->status < 300)
                return 0;
            return status_error(c, q, r, nwait, e);
        }
        attempt++;
        if (r->too_big || r->sink_err || attempt >= c->pol.attempts ||
            !(never_sent(cc) || (q->repeatable && transient(cc))))
            return transport_error(c, cc, r, c->errbuf, attempt, e);
        netretry_backoff(&c->pol, attempt);
    }
}

/* call() of a JSON answer: *doc (caller decrefs). */
static int call_json(gwclient *c, const req *q, json_t **doc, mlhep_err *e)
{
    *doc = NULL;
    resp r = {0};
    int rc = call(c, q, &r, e);
    if (!rc) {
        json_error_t je;
        *doc = json_loadb(r.body.len ? (const char *)r.body.p : "", r.body.len, 0, &je);
        if (!*doc)
            rc = err_set(e, MLHEP_EUNSUPPORTED, "%s sent an answer that is not JSON: %s", c->base, je.text);
    }
    wbuf_free(&r.body);
    return rc;
}

/* Appends s percent-encoded (everything but unreserved characters) to q->path. */
static int path_add(req *q, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(q->path);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '.' || *p == '_' || *p == '~';
        if (n + (plain ? 1 : 3) >= sizeof q->path)
            return -1;
        if (plain) {
            q->path[n++] = (char)*p;
        } else {
            q->path[n++] = '%';
            q->path[n++] = hex[*p >> 4];
            q->path[n++] = hex[*p & 15];
        }
    }
    q->path[n] = '\0';
    return 0;
}

/* Appends s to q->path as it is (a separator). */
static int path_add_raw(req *q, const char *s)
{
    size_t n = strlen(q->path), k = strlen(s);
    if (n + k >= sizeof q->path)
        return -1;
    memcpy(q->path + n, s, k + 1);
    return 0;
}

/* q->path = a + escaped(b) + c (b may be NULL). */
static int path_of(req *q, const char *a, const char *b, const char *c, mlhep_err *e)
{
    snprintf(q->path, sizeof q->path, "%s", a);
    if ((b && path_add(q, b)) || strlen(q->path) + strlen(c) >= sizeof q->path)
        return err_set(e, MLHEP_EINVAL, "name too long for a request path");
    strcat(q->path, c);
    return 0;
}

/* ---- open / close ---------------------------------------------------------------------- */

/* host, as a URL gives it ("[::1]" for an IPv6 address), is this machine: localhost,
 * 127.0.0.0/8 or ::1 (the rule of the gateway's httpd_is_loopback, which is not called
 * here: httpd.c would bring libmicrohttpd into every client program). */
static int loopback_host(const char *host)
{
    char h[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        host++, n -= 2;
    if (n >= sizeof h)
        return 0;
    memcpy(h, host, n);
    h[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(h, "localhost"))
        return 1;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int gwclient_open(const mlhep_config *cfg, const char *token, gwclient **out, mlhep_err *e)
{
    *out = NULL;
    const char *url = cfg->gateway_url;
    if (!url || !*url)
        return err_set(e, MLHEP_EINVAL, "gateway_url is not set (https://HOST:PORT of mlhep-gateway)");
    pthread_once(&curl_once, curl_init_once);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = 0;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        rc = err_set(e, MLHEP_EINVAL, "gateway_url '%s' is not a URL (https://HOST:PORT)", url);
    else if (strcmp(scheme, "https") && strcmp(scheme, "http"))
        rc = err_set(e, MLHEP_EINVAL, "gateway_url '%s': only https:// (or http:// to this machine)", url);
    else if (!strcmp(scheme, "http") && !loopback_host(host))
        rc = err_set(e, MLHEP_EINVAL, "gateway_url '%s': plain http would send the token in clear; use https://",
                     url);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (rc)
        return rc;
    if (token) {
        size_t l = strlen(token);
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)token[i] < 0x21 || (unsigned char)token[i] > 0x7e)
                return err_set(e, MLHEP_EAUTH, "the bearer token contains a character not allowed in a header");
    }
    gwclient *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->timeout_ms = GWCLIENT_TIMEOUT_MS_DEFAULT;
    /* the configuration's remote_attempts, remote_timeout and remote_backoff_ms (the
     * user's file or MLHEP_REMOTE_*); a configuration built by hand (zeroes) keeps the
     * defaults */
    netretry_from_env(&c->pol);
    if (cfg->remote_attempts > 0)
        c->pol.attempts = cfg->remote_attempts;
    if (cfg->remote_timeout > 0)
        c->pol.timeout_s = (unsigned)cfg->remote_timeout;
    if (cfg->remote_backoff_ms > 0)
        c->pol.backoff_ms = (unsigned)cfg->remote_backoff_ms;
    c->base = strdup(url);
    if (c->base) {
        size_t n = strlen(c->base);
        while (n > 0 && c->base[n - 1] == '/')
            c->base[--n] = '\0';
    }
    if (cfg->gateway_ca && *cfg->gateway_ca)
        c->ca = strdup(cfg->gateway_ca);
    if (token && (c->auth = malloc(strlen(token) + 32)))
        sprintf(c->auth, "Authorization: Bearer %s", token);
    c->h = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->base || (cfg->gateway_ca && *cfg->gateway_ca && !c->ca) || (token && !c->auth) || !c->h ||
        !c->multi) {
        gwclient_close(c);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (c->ca && access(c->ca, R_OK)) {
        rc = err_set(e, MLHEP_EIO, "gateway_ca %s: %s", c->ca, strerror(errno));
        gwclient_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

typedef struct xfer {
    CURL *h;
    int state; /* X_FREE, X_RUNNING, X_WAITING (to be sent again at `due`), X_DONE */
    uint64_t seq;
    req q;
    resp r;
    char *body;
    struct curl_slist *hd;
    int attempt, nwait;
    double due;
    int rc;
    mlhep_err err;
    char errbuf[CURL_ERROR_SIZE];
} xfer;
enum { X_FREE = 0, X_RUNNING, X_WAITING, X_DONE };

static void xfer_idle(gwclient *c, xfer *x)
{
    if (x->state == X_RUNNING)
        curl_multi_remove_handle(c->multi, x->h);
    curl_slist_free_all(x->hd);
    x->hd = NULL;
    free(x->body);
    x->body = NULL;
    x->state = X_FREE;
}

void gwclient_close(gwclient *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nxs; i++) {
        xfer_idle(c, c->xs[i]);
        wbuf_free(&c->xs[i]->r.body);
        curl_easy_cleanup(c->xs[i]->h);
        free(c->xs[i]);
    }
    free(c->xs);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->h)
        curl_easy_cleanup(c->h);
    if (c->auth) {
        memset(c->auth, 0, strlen(c->auth));
        free(c->auth);
    }
    free(c->base);
    free(c->ca);
    free(c);
}

void gwclient_set_timeout(gwclient *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

const char *gwclient_url(const gwclient *c)
{
    return c->base;
}

/* ---- jobs -------------------------------------------------------------------------- */

int gwclient_submit(gwclient *c, const char *workflow, size_t len, char id_out[JOB_ID_HEX + 1], json_t **doc,
                    mlhep_err *e)
{
    return gwclient_submit_with(c, workflow, len, NULL, NULL, id_out, doc, e);
}

int gwclient_submit_with(gwclient *c, const char *workflow, size_t len, const char *kind, const char *cred,
                         char id_out[JOB_ID_HEX + 1], json_t **doc, mlhep_err *e)
{
    if (doc)
        *doc = NULL;
    char key[JOB_ID_HEX + 1];
    int rc = job_new_id(key, e); /* a fresh random key per submission, kept over its retries */
    if (rc)
        return rc;
    req q = {.method = "POST", .path = "/v1/jobs", .ctype = "application/json", .body = workflow, .len = len,
             .idem = key, .stoken = cred, .sproxy = kind && !strcmp(kind, "x509"), .repeatable = 1};
    json_t *d;
    if ((rc = call_json(c, &q, &d, e)))
        return rc;
    const char *id = json_string_value(json_object_get(d, "id"));
    if (!id || !job_id_valid(id)) {
        json_decref(d);
        return err_set(e, MLHEP_EUNSUPPORTED, "%s accepted the job but named no job id", c->base);
    }
    memcpy(id_out, id, JOB_ID_HEX + 1);
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return 0;
}

/* GET of a job's sub-resource (suffix "" for the record). */
static int job_get(gwclient *c, const char *id, const char *suffix, json_t **doc, mlhep_err *e)
{
    req q = {.method = "GET", .repeatable = 1};
    int rc = path_of(&q, "/v1/jobs/", id, suffix, e);
    return rc ? rc : call_json(c, &q, doc, e);
}

int gwclient_job(gwclient *c, const char *id, json_t **rec, mlhep_err *e)
{
    return job_get(c, id, "", rec, e);
}

/* member k of *d (an array) taken in place of *d */
static int take_array(gwclient *c, json_t **d, const char *k, mlhep_err *e)
{
    json_t *a = json_object_get(*d, k);
    if (!json_is_array(a)) {
        json_decref(*d);
        *d = NULL;
        return err_set(e, MLHEP_EUNSUPPORTED, "%s answered without \"%s\"", c->base, k);
    }
    json_incref(a);
    json_decref(*d);
    *d = a;
    return 0;
}

int gwclient_jobs(gwclient *c, int limit, json_t **jobs, mlhep_err *e)
{
    req q = {.method = "GET", .repeatable = 1};
    snprintf(q.path, sizeof q.path, "/v1/jobs?limit=%d", limit > 0 ? limit : 100);
    int rc = call_json(c, &q, jobs, e);
    return rc ? rc : take_array(c, jobs, "jobs", e);
}

int gwclient_logs(gwclient *c, const char *id, json_t **lines, mlhep_err *e)
{
    int rc = job_get(c, id, "/logs", lines, e);
    return rc ? rc : take_array(c, lines, "lines", e);
}

int gwclient_cancel(gwclient *c, const char *id, json_t **doc, mlhep_err *e)
{
    req q = {.method = "POST", .repeatable = 1};
    int rc = path_of(&q, "/v1/jobs/", id, "/cancel", e);
    json_t *d = NULL;
    if (!rc)
        rc = call_json(c, &q, &d, e);
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return rc;
}

int gwclient_artifacts(gwclient *c, const char *id, json_t **doc, mlhep_err *e)
{
    return job_get(c, id, "/artifacts", doc, e);
}

int gwclient_artifact(gwclient *c, const char *id, const char *name, char **data, size_t *len, mlhep_err *e)
{
    *data = NULL;
    *len = 0;
    req q = {.method = "GET", .repeatable = 1};
    int rc = path_of(&q, "/v1/jobs/", id, "/artifacts/", e);
    /* a name in a sub-directory travels as path segments, each escaped on its own */
    for (const char *g = name; !rc && g;) {
        const char *ge = strchr(g, '/');
        char seg[ARTIFACTS_NAME_MAX];
        size_t gl = ge ? (size_t)(ge - g) : strlen(g);
        if (gl >= sizeof seg || path_add(&q, (memcpy(seg, g, gl), seg[gl] = '\0', seg)) ||
            (ge && path_add_raw(&q, "/")))
            rc = err_set(e, MLHEP_EINVAL, "artifact name too long");
        g = ge ? ge + 1 : NULL;
    }
    resp r = {0};
    if (!rc)
        rc = call(c, &q, &r, e);
    if (!rc) {
        wbuf_zero(&r.body, 1); /* the NUL after the bytes */
        if (!wbuf_ok(&r.body)) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        } else {
            *len = r.body.len - 1;
            *data = (char *)r.body.p;
            r.body = (wbuf)WBUF_INIT;
        }
    }
    wbuf_free(&r.body);
    return rc;
}

int gwclient_archive(gwclient *c, const char *id, const char *path, mlhep_err *e)
{
    /* any size: the gateway compresses it while sending, and it goes straight to path */
    req q = {.method = "GET", .repeatable = 1, .stream = 1};
    int rc = path_of(&q, "/v1/jobs/", id, "/archive", e);
    if (rc)
        return rc;
    resp r = {0};
    if (!(r.sink = fopen(path, "wb")))
        return err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(errno));
    rc = call(c, &q, &r, e);
    if (fclose(r.sink) && !rc)
        rc = err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(errno));
    if (rc)
        unlink(path);
    wbuf_free(&r.body);
    return rc;
}

/* Writes data into dir/name (name as artifacts_name_valid allows: sub-directories are
 * created), never through a link anywhere on the way. */
static int write_into(const char *dir, const char *name, const char *data, size_t len, mlhep_err *e)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int at = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
    const char *g = name;
    for (const char *ge; at >= 0 && (ge = strchr(g, '/')); g = ge + 1) {
        char seg[ARTIFACTS_NAME_MAX];
        memcpy(seg, g, (size_t)(ge - g));
        seg[ge - g] = '\0';
        if (mkdirat(at, seg, 0755) && errno != EEXIST) {
            close(at);
            at = -1;
            break;
        }
        int nd = openat(at, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(at);
        at = nd;
    }
    if (at >= 0) {
        fd = openat(at, g, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        close(at);
    }
    if (fd < 0)
        return err_set(e, MLHEP_EIO, "cannot write %s: %s", p, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, data + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    int bad = done != len;
    if (close(fd))
        bad = 1;
    return bad ? err_set(e, MLHEP_EIO, "cannot write %s: %s", p, strerror(errno)) : 0;
}

int gwclient_fetch(gwclient *c, const char *id, const char *dir, mlhep_err *e)
{
    char *man = NULL;
    size_t mlen = 0;
    int rc = gwclient_artifact(c, id, "MANIFEST.json", &man, &mlen, e);
    if (rc)
        return rc;
    json_t *m = json_loadb(man, mlen, 0, NULL);
    const json_t *files = json_object_get(m, "files");
    if (!json_is_array(files))
        rc = err_set(e, MLHEP_EFORMAT, "job %s: MANIFEST.json is not a manifest", id);
    if (!rc)
        rc = artifacts_mkdirs(dir, e);
    size_t i;
    const json_t *f;
    json_array_foreach(files, i, f) {
        if (rc)
            break;
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        json_int_t bytes = json_integer_value(json_object_get(f, "bytes"));
        if (!artifacts_name_valid(name) || !strcmp(name, "MANIFEST.json")) {
            rc = err_set(e, MLHEP_EFORMAT, "job %s: the manifest names a file '%s' that is not an artifact name "
                                           "(1-3 segments of [A-Za-z0-9._@-], none . or ..)", id, name ? name : "");
            break;
        }
        char *data;
        size_t len;
        if ((rc = gwclient_artifact(c, id, name, &data, &len, e)))
            break;
        unsigned char md[32];
        char hex[65];
        EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
        for (int k = 0; k < 32; k++)
            sprintf(hex + 2 * k, "%02x", md[k]);
        if ((json_int_t)len != bytes || !sha || strcmp(sha, hex))
            rc = err_set(e, MLHEP_EFORMAT, "job %s: %s arrived with %zu bytes and sha256 %.16s..., the manifest "
                                           "says %lld bytes and %.16s...", id, name, len, hex, (long long)bytes,
                         sha ? sha : "?");
        else
            rc = write_into(dir, name, data, len, e);
        free(data);
    }
    if (!rc)
        rc = write_into(dir, "MANIFEST.json", man, mlen, e);
    json_decref(m);
    free(man);
    return rc;
}

/* ---- live events ---------------------------------------------------------------------- */

typedef struct sse {
    gwclient *c;
    resp *r;
    gwclient_event_fn fn;
    void *cls;
    wbuf line;            /* the line being received */
    char event[16];
    wbuf data;
    long long next_log;   /* log lines below this number were delivered already */
    double deadline;      /* monotonic; 0: none */
    int is_stream, known, stopped, ended, timed_out, events;
} sse;

static void sse_dispatch(sse *s)
{
    if (s->data.len && s->event[0]) {
        gwclient_event kind = !strcmp(s->event, "status") ? GWCLIENT_EV_STATUS
                              : !strcmp(s->event, "log")  ? GWCLIENT_EV_LOG
                              : !strcmp(s->event, "end")  ? GWCLIENT_EV_END
                                                          : (gwclient_event)-1;
        json_t *d = (int)kind >= 0 ? json_loadb((const char *)s->data.p, s->data.len, 0, NULL) : NULL;
        int skip = !d;
        if (d && kind == GWCLIENT_EV_LOG) {
            json_int_t n = json_integer_value(json_object_get(d, "n"));
            if (n < s->next_log)
                skip = 1; /* sent again by a stream opened anew */
            else
                s->next_log = n + 1;
        }
        if (!skip) {
            s->events++;
            if (s->fn(s->cls, kind, d))
                s->stopped = 1;
            if (kind == GWCLIENT_EV_END)
                s->ended = 1;
        }
        json_decref(d);
    }
    s->event[0] = '\0';
    wbuf_reset(&s->data);
}

/* One complete line of the stream (without its end of line). */
static void sse_line(sse *s, const char *l, size_t n)
{
    if (n == 0) {
        sse_dispatch(s);
        return;
    }
    if (l[0] == ':')
        return; /* a comment: keep-alive */
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    if (v < l + n && *v == ' ')
        v++;
    size_t vl = (size_t)(l + n - v);
    if (fl == 5 && !memcmp(l, "event", 5)) {
        snprintf(s->event, sizeof s->event, "%.*s", (int)(vl < sizeof s->event ? vl : sizeof s->event - 1), v);
    } else if (fl == 4 && !memcmp(l, "data", 4)) {
        if (s->data.len)
            wbuf_u8(&s->data, '\n');
        wbuf_put(&s->data, v, vl);
    }
}

static size_t sse_body(char *p, size_t size, size_t n, void *cls)
{
    sse *s = cls;
    size_t len = size * n;
    if (!s->known) {
        s->known = 1;
        curl_easy_getinfo(s->c->h, CURLINFO_RESPONSE_CODE, &s->r->status);
        s->is_stream = s->r->status == 200 && !strncmp(s->r->ctype, "text/event-stream", 17);
    }
    if (!s->is_stream)
        return on_body(p, size, n, s->r); /* an error document */
    for (size_t i = 0; i < len && !s->stopped && !s->ended; i++) {
        if (p[i] == '\n') {
            size_t k = s->line.len;
            if (k && s->line.p[k - 1] == '\r')
                k--;
            sse_line(s, (const char *)s->line.p, k);
            wbuf_reset(&s->line);
        } else {
            wbuf_u8(&s->line, (uint8_t)p[i]);
        }
    }
    if (!wbuf_ok(&s->line) || !wbuf_ok(&s->data) || s->line.len > (1u << 20))
        return 0;
    return s->stopped || s->ended ? 0 : len;
}

static int sse_progress(void *cls, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    sse *s = cls;
    if (s->deadline > 0 && mono_now() >= s->deadline) {
        s->timed_out = 1;
        return 1;
    }
    return 0;
}

static int follow_poll(gwclient *c, const char *id, int poll_ms, double deadline, gwclient_event_fn fn, void *cls,
                       mlhep_err *e)
{
    char *last = NULL;
    int rc = 0;
    for (;;) {
        json_t *rec;
        if ((rc = gwclient_job(c, id, &rec, e)))
            break;
        char *t = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
        int stop = 0;
        if (t && (!last || strcmp(t, last))) {
            stop = fn(cls, GWCLIENT_EV_STATUS, rec);
            free(last);
            last = t;
        } else {
            free(t);
        }
        job_state st;
        const char *state = json_string_value(json_object_get(rec, "state"));
        int end = state && job_state_parse(state, &st) == 0 && job_state_terminal(st);
        if (!stop && end) {
            json_t *d = json_pack("{s:s}", "state", state);
            stop = fn(cls, GWCLIENT_EV_END, d);
            json_decref(d);
        }
        json_decref(rec);
        if (stop || end) {
            rc = end && !stop ? 0 : GWCLIENT_STOPPED;
            break;
        }
        double left = deadline > 0 ? deadline - mono_now() : 1e9;
        if (left <= 0) {
            rc = GWCLIENT_TIMEOUT;
            break;
        }
        sleep_s(poll_ms / 1000.0 < left ? poll_ms / 1000.0 : left);
    }
    free(last);
    return rc;
}

int gwclient_follow(gwclient *c, const char *id, int poll_ms, double timeout_s, gwclient_event_fn fn, void *cls,
                    mlhep_err *e)
{
    double deadline = timeout_s > 0 ? mono_now() + timeout_s : 0;
    if (poll_ms > 0)
        return follow_poll(c, id, poll_ms, deadline, fn, cls, e);
    req q = {.method = "GET", .repeatable = 1, .stream = 1};
    int rc = path_of(&q, "/v1/jobs/", id, "/events", e);
    if (rc)
        return rc;
    resp r = {0};
    sse s = {.c = c, .r = &r, .fn = fn, .cls = cls, .deadline = deadline};
    int fails = 0, nwait = 0;
    for (;;) {
        resp_reset(&r);
        wbuf_reset(&s.line);
        wbuf_reset(&s.data);
        s.event[0] = '\0';
        s.known = s.is_stream = 0;
        int before = s.events;
        struct curl_slist *hd = NULL;
        if ((rc = setup(c, c->h, &q, &r, c->errbuf, &hd, e)))
            break;
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sse_body);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, sse_progress);
        curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &s);
        curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
        CURLcode cc = curl_easy_perform(c->h);
        curl_slist_free_all(hd);
        if (s.ended) {
            rc = s.stopped ? GWCLIENT_STOPPED : 0;
            break;
        }
        if (s.stopped) {
            rc = GWCLIENT_STOPPED;
            break;
        }
        if (s.timed_out) {
            rc = GWCLIENT_TIMEOUT;
            break;
        }
        if (cc == CURLE_OK || !s.known)
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r.status);
        if (cc == CURLE_OK && !s.is_stream) { /* an answer, not a stream */
            if (wait_retry_after(&q, &r, &nwait))
                continue;
            rc = r.status >= 200 && r.status < 300
                     ? err_set(e, MLHEP_EUNSUPPORTED, "%s did not answer with an event stream", c->base)
                     : status_error(c, &q, &r, nwait, e);
            break;
        }
        /* the stream broke or closed before the end: open it again */
        fails = s.events > before ? 1 : fails + 1;
        if (fails >= c->pol.attempts || (cc != CURLE_OK && !transient(cc))) {
            rc = cc == CURLE_OK ? err_set(e, MLHEP_ENET, "gateway %s: the event stream of job %s keeps closing", c->base,
                                          id)
                                : transport_error(c, cc, &r, c->errbuf, fails, e);
            break;
        }
        netretry_backoff(&c->pol, fails);
    }
    wbuf_free(&s.line);
    wbuf_free(&s.data);
    wbuf_free(&r.body);
    return rc;
}

/* ---- models --------------------------------------------------------------------------- */

int gwclient_models(gwclient *c, json_t **doc, mlhep_err *e)
{
    req q = {.method = "GET", .path = "/v1/models", .service = 1, .repeatable = 1};
    return call_json(c, &q, doc, e);
}

int gwclient_model(gwclient *c, const char *ref, json_t **doc, mlhep_err *e)
{
    req q = {.method = "GET", .service = 1, .repeatable = 1};
    int rc = path_of(&q, "/v1/models/", ref, "", e);
    return rc ? rc : call_json(c, &q, doc, e);
}

int gwclient_features(gwclient *c, const char *ref, predict_rpc_model *m, mlhep_err *e)
{
    memset(m, 0, sizeof *m);
    json_t *d;
    int rc = gwclient_model(c, ref, &d, e);
    if (rc)
        return rc;
    rc = predict_rpc_model_from_doc(json_object_get(d, "features"), m, e);
    json_decref(d);
    return rc;
}

/* A JSON body from j (taken), sent with q. */
static int call_with(gwclient *c, req *q, json_t *j, json_t **doc, mlhep_err *e)
{
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!t)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    q->ctype = "application/json";
    q->body = t;
    q->len = strlen(t);
    json_t *d = NULL;
    int rc = call_json(c, q, &d, e);
    free(t);
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return rc;
}

int gwclient_model_tag(gwclient *c, const char *job, const char *name, int shared, json_t **doc, mlhep_err *e)
{
    req q = {.method = "POST", .path = "/v1/models", .service = 1, .repeatable = 0};
    return call_with(c, &q, json_pack("{s:s, s:s, s:b}", "job", job, "name", name, "shared", shared), doc, e);
}

int gwclient_model_share(gwclient *c, const char *name, int shared, json_t **doc, mlhep_err *e)
{
    req q = {.method = "POST", .service = 1, .repeatable = 1};
    int rc = path_of(&q, "/v1/models/", name, "/share", e);
    return rc ? rc : call_with(c, &q, json_pack("{s:b}", "shared", shared), doc, e);
}

int gwclient_model_delete(gwclient *c, const char *ref, json_t **doc, mlhep_err *e)
{
    req q = {.method = "DELETE", .service = 1, .repeatable = 1};
    int rc = path_of(&q, "/v1/models/", ref, "", e);
    json_t *d = NULL;
    if (!rc)
        rc = call_json(c, &q, &d, e);
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return rc;
}

/* ---- predictions ------------------------------------------------------------------------ */

static void predict_req(req *q, int binary, const void *body, size_t len)
{
    memset(q, 0, sizeof *q);
    q->method = "POST";
    snprintf(q->path, sizeof q->path, "/v1/predict");
    q->ctype = binary ? COLREQ_CONTENT_TYPE : "application/json";
    q->body = body;
    q->len = len;
    q->service = 1;
    q->repeatable = 1; /* a prediction changes nothing */
}

int gwclient_predict_json(gwclient *c, const char *body, size_t len, char **reply, json_t **doc, mlhep_err *e)
{
    *doc = NULL;
    if (reply)
        *reply = NULL;
    req q;
    predict_req(&q, 0, body, len);
    resp r = {0};
    int rc = call(c, &q, &r, e);
    if (!rc) {
        wbuf_zero(&r.body, 1);
        rc = wbuf_ok(&r.body) ? predict_rpc_reply_json((const char *)r.body.p, r.body.len - 1, doc, e)
                              : err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if (!rc && reply) {
        *reply = (char *)r.body.p;
        r.body = (wbuf)WBUF_INIT;
    }
    wbuf_free(&r.body);
    return rc;
}

int gwclient_predict_columns(gwclient *c, const wbuf *w, colresp *out, mlhep_err *e)
{
    req q;
    predict_req(&q, 1, w->p, w->len);
    resp r = {0};
    int rc = call(c, &q, &r, e);
    if (!rc)
        rc = predict_rpc_reply_columns((const char *)r.body.p, r.body.len, out, e);
    wbuf_free(&r.body);
    return rc;
}

/* ---- pipelined predictions (the multi handle) --------------------------------------------- */

static int xfer_start(gwclient *c, xfer *x, mlhep_err *e)
{
    resp_reset(&x->r);
    int rc = setup(c, x->h, &x->q, &x->r, x->errbuf, &x->hd, e);
    if (rc)
        return rc;
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(c->multi, x->h) != CURLM_OK)
        return err_set(e, MLHEP_ENOMEM, "cannot start a transfer");
    x->state = X_RUNNING;
    return 0;
}

int gwclient_send(gwclient *c, int binary, const void *body, size_t len, uint64_t *seq, mlhep_err *e)
{
    xfer *x = NULL;
    for (size_t i = 0; i < c->nxs && !x; i++)
        if (c->xs[i]->state == X_FREE)
            x = c->xs[i];
    if (!x) {
        xfer **xs = realloc(c->xs, (c->nxs + 1) * sizeof *xs);
        if (!xs)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        c->xs = xs;
        if (!(x = calloc(1, sizeof *x)) || !(x->h = curl_easy_init())) {
            free(x);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        c->xs[c->nxs++] = x;
    }
    if (!(x->body = malloc(len ? len : 1)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    memcpy(x->body, body, len);
    predict_req(&x->q, binary, x->body, len);
    x->seq = ++c->seq;
    x->attempt = x->nwait = 0;
    x->rc = 0;
    int rc = xfer_start(c, x, e);
    if (rc) {
        xfer_idle(c, x);
        return rc;
    }
    if (seq)
        *seq = x->seq;
    return 0;
}

/* A transfer of the multi handle finished with cc: done, or waiting to go again. */
static void xfer_finished(gwclient *c, xfer *x, CURLcode cc)
{
    curl_multi_remove_handle(c->multi, x->h);
    curl_slist_free_all(x->hd);
    x->hd = NULL;
    x->state = X_DONE;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->r.status);
        if ((x->r.status == 429) && x->nwait < GWCLIENT_429_RETRIES) {
            x->nwait++;
            double s = x->r.retry_after >= 0 ? x->r.retry_after : 1;
            x->due = mono_now() + (s > GWCLIENT_RETRY_AFTER_MAX ? GWCLIENT_RETRY_AFTER_MAX : s);
            x->state = X_WAITING;
        } else if (x->r.status < 200 || x->r.status >= 300) {
            x->rc = status_error(c, &x->q, &x->r, x->nwait, &x->err);
        }
        return;
    }
    x->attempt++;
    if (!x->r.too_big && x->attempt < c->pol.attempts && transient(cc)) {
        x->due = mono_now() + netretry_delay_ms(&c->pol, x->attempt) / 1000.0;
        x->state = X_WAITING;
        return;
    }
    x->rc = transport_error(c, cc, &x->r, x->errbuf, x->attempt, &x->err);
}

int gwclient_recv(gwclient *c, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e)
{
    *reply = NULL;
    *len = 0;
    double end = mono_now() + timeout_ms / 1000.0;
    for (;;) {
        int active = 0;
        double next_due = 0;
        for (size_t i = 0; i < c->nxs; i++) {
            xfer *x = c->xs[i];
            if (x->state == X_DONE) {
                *seq = x->seq;
                int rc = x->rc;
                if (rc) {
                    err_set(e, rc, "%s", x->err.msg);
                } else {
                    wbuf_zero(&x->r.body, 1);
                    if (!wbuf_ok(&x->r.body)) {
                        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                    } else {
                        *len = x->r.body.len - 1;
                        *reply = (char *)x->r.body.p;
                        x->r.body = (wbuf)WBUF_INIT;
                    }
                }
                xfer_idle(c, x);
                return rc;
            }
            if (x->state == X_WAITING && x->due <= mono_now()) {
                int rc = xfer_start(c, x, e);
                if (rc) {
                    xfer_idle(c, x);
                    return rc;
                }
            }
            if (x->state == X_WAITING && (!next_due || x->due < next_due))
                next_due = x->due;
            active += x->state == X_RUNNING || x->state == X_WAITING;
        }
        if (!active)
            return err_set(e, MLHEP_EINVAL, "no request in flight to wait for");
        int running;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left_msgs, done = 0;
        while ((m = curl_multi_info_read(c->multi, &left_msgs)))
            if (m->msg == CURLMSG_DONE) {
                char *pv = NULL;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &pv);
                xfer *x = (xfer *)pv;
                if (x) {
                    xfer_finished(c, x, m->data.result);
                    done = 1;
                }
            }
        if (done)
            continue;
        double now = mono_now(), left = end - now;
        if (left <= 0)
            return err_set(e, MLHEP_ENET, "%s: no reply within %.1f s", c->base, timeout_ms / 1000.0);
        double wait = left;
        if (next_due && next_due - now < wait)
            wait = next_due - now > 0 ? next_due - now : 0;
        if (wait > 1)
            wait = 1;
        curl_multi_poll(c->multi, NULL, 0, (int)(wait * 1000) + 1, NULL);
    }
}

/* ---- treescore over the gateway ------------------------------------------------------------ */

static int ts_features(void *cls, const char *model, predict_rpc_model *m, int timeout_ms, mlhep_err *e)
{
    (void)timeout_ms; /* the client's own limit applies */
    return gwclient_features(cls, model, m, e);
}

static int ts_send(void *cls, int binary, const void *body, size_t len, uint64_t *seq, mlhep_err *e)
{
    return gwclient_send(cls, binary, body, len, seq, e);
}

static int ts_recv(void *cls, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e)
{
    return gwclient_recv(cls, seq, reply, len, timeout_ms, e);
}

void gwclient_treescore(gwclient *c, treescore_transport *t)
{
    t->cls = c;
    t->features = ts_features;
    t->send = ts_send;
    t->recv = ts_recv;
}

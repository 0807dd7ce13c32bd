/* test_gateway_http.c - the gateway's request handling without a server or backends:
 * gwhttp's header parsing (bearer token, content type), responses and log escaping; and
 * gateway_handle on hand-made requests (header and query callbacks) with a context of
 * its own (HS256 tokens, no broker, a Redis port nobody listens on, two worker threads): 404, 405 with Allow,
 * HEAD, 401 with WWW-Authenticate for missing/forged/expired/wrong-audience/alg-none
 * tokens, 403 for a missing scope, 429 with Retry-After, 400 before anything is queued
 * (bad JSON, bad workflow, bad job id), /readyz 503 naming what is down, /metrics
 * counting what was asked, the dashboard's files with ETag/304 and no path to the file
 * system, CORS only for the configured origin, and an access log that never holds a
 * token or a raw control character. */
#include "gateway/gateway.h"
#include "gateway/gwhttp.h"
#include "test.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* requests are written as {{{"Header", "value"}}}: the rest of a fake is zero */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static const char SECRET[] = "gateway-test-secret-0123456789abcdef";
static char tmpdir[] = "/tmp/mlhep-test-gw.XXXXXX";

/* ---- requests by hand ----------------------------------------------------------------- */

typedef struct kv {
    const char *k, *v;
} kv;

typedef struct fake {
    kv h[8];
    kv q[4];
} fake;

static const char *fake_header(void *cls, const char *name)
{
    fake *f = cls;
    for (int i = 0; i < 8 && f->h[i].k; i++)
        if (!strcasecmp(f->h[i].k, name))
            return f->h[i].v;
    return NULL;
}

static const char *fake_query(void *cls, const char *name)
{
    fake *f = cls;
    for (int i = 0; i < 4 && f->q[i].k; i++)
        if (!strcmp(f->q[i].k, name))
            return f->q[i].v;
    return NULL;
}

static gw_req req(const char *method, const char *path, fake *f, const char *body)
{
    gw_req r = {0};
    r.method = method;
    r.path = path;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.peer = "127.0.0.1";
    r.header = fake_header;
    r.query = fake_query;
    r.cls = f;
    return r;
}

static const char *resp_header(const gw_resp *o, const char *name)
{
    for (int i = 0; i < o->nheaders; i++)
        if (!strcasecmp(o->hname[i], name))
            return o->hvalue[i];
    return NULL;
}

/* ---- tokens ---------------------------------------------------------------------------- */

static char *mint_with(const char *hdr, const char *sub, const char *aud, const char *scope, long ttl,
                       const char *secret)
{
    char pl[512];
    long now = (long)time(NULL);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"https://iam.example\",\"aud\":\"%s\",\"sub\":\"%s\",\"exp\":%ld,\"iat\":%ld,\"nbf\":%ld,"
             "\"scope\":\"%s\"}",
             aud, sub, now + ttl, now - 10, now - 10, scope);
    size_t cap = 4096;
    char *t = malloc(cap);
    long n = jwt_b64url_encode((const unsigned char *)hdr, strlen(hdr), t, cap);
    t[n++] = '.';
    n += jwt_b64url_encode((const unsigned char *)pl, strlen(pl), t + n, cap - (size_t)n);
    size_t silen = (size_t)n;
    t[n++] = '.';
    t[n] = '\0';
    if (secret) {
        unsigned char sig[64];
        size_t siglen = 0;
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret), (unsigned char *)t, silen, sig,
                  sizeof sig, &siglen);
        jwt_b64url_encode(sig, siglen, t + n, cap - (size_t)n);
    }
    return t;
}

static char *mint(const char *sub, const char *scope)
{
    return mint_with("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", sub, "mlhep", scope, 3600, SECRET);
}

/* ---- a context without backends ---------------------------------------------------------- */

typedef struct env {
    mlhep_config cfg;
    gw_ctx *g;
    FILE *log;
    char logpath[256];
} env;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    return 1; /* tcpmux: never served on a test machine, and connecting fails at once */
}

static int env_open(env *v, const char *extra)
{
    memset(v, 0, sizeof *v);
    char sp[300], cp[300], web[300], text[2048];
    snprintf(sp, sizeof sp, "%s/secret", tmpdir);
    write_file(sp, SECRET);
    snprintf(web, sizeof web, "%s/web", tmpdir);
    mkdir(web, 0755);
    char f[400];
    snprintf(f, sizeof f, "%s/index.html", web);
    write_file(f, "<!doctype html><title>mlhep</title>");
    snprintf(f, sizeof f, "%s/app.js", web);
    write_file(f, "console.log('mlhep');");
    snprintf(text, sizeof text,
             "auth_mode = jwt\njwt_alg = HS256\njwt_secret_file = %s\njwt_issuer = https://iam.example\n"
             "jwt_audience = mlhep\njwt_leeway = 0\nredis_host = 127.0.0.1\nredis_port = %d\n"
             "amqp_host = 127.0.0.1\namqp_port = %d\ngateway_web_dir = %s\n%s",
             sp, dead_port(), dead_port(), web, extra ? extra : "");
    snprintf(cp, sizeof cp, "%s/gw.conf", tmpdir);
    write_file(cp, text);
    unsetenv("MLHEP_CONFIG");
    mlhep_err e = {0};
    if (config_load(&v->cfg, cp, &e)) {
        printf("  config: %s\n", e.msg);
        return -1;
    }
    gw_ctx *g = calloc(1, sizeof *g);
    g->cfg = &v->cfg;
    g->max_body = (size_t)v->cfg.gateway_max_body_mb << 20;
    pthread_mutex_init(&g->store_mu, NULL);
    pthread_mutex_init(&g->fmu, NULL);
    pthread_mutex_init(&g->pool.mu, NULL);
    pthread_cond_init(&g->pool.cv, NULL);
    pthread_mutex_init(&g->streams.mu, NULL);
    int rc = auth_open(&v->cfg, &g->auth, &e);
    if (!rc)
        rc = pipeline_env_open(v->cfg.schemas_dir, v->cfg.data_roots, 0, 0, &g->penv, &e);
    if (!rc)
        rc = webfiles_load(v->cfg.gateway_web_dir, &g->web, &e);
    if (!rc)
        rc = promstats_new(NULL, 0, &g->stats, &e);
    if (!rc)
        rc = ratelimit_new(v->cfg.gateway_rate, v->cfg.gateway_burst, v->cfg.gateway_concurrency, 64, &g->rl, &e);
    if (!rc)
        rc = gwpool_start(g, 2, &e); /* the handlers that may wait run there */
    v->g = g;
    if (rc) {
        printf("  context: %s\n", e.msg);
        return -1;
    }
    snprintf(v->logpath, sizeof v->logpath, "%s/access.log", tmpdir);
    v->log = fopen(v->logpath, "w+");
    return 0;
}

static void env_close(env *v)
{
    gateway_close(v->g);
    config_free(&v->cfg);
    if (v->log)
        fclose(v->log);
}

/* The access log written so far (malloc'ed). */
static char *log_text(env *v)
{
    fflush(v->log);
    long n = ftell(v->log);
    char *s = calloc(1, (size_t)n + 1);
    rewind(v->log);
    if (fread(s, 1, (size_t)n, v->log) != (size_t)n)
        s[0] = '\0';
    fseek(v->log, 0, SEEK_END);
    return s;
}

/* Handles one request; the response in o (gw_resp_clear it). */
static void handle(env *v, const char *method, const char *path, fake *f, const char *body, gw_resp *o)
{
    fake none = {0};
    gw_req r = req(method, path, f ? f : &none, body);
    gateway_handle(v->g, &r, o, v->log);
}

static json_t *body_json(const gw_resp *o)
{
    return json_loadb(o->body ? o->body : "", o->len, 0, NULL);
}

/* The response is a JSON error with this status and code, its message holding needle. */
static int is_error(const gw_resp *o, int status, const char *code, const char *needle)
{
    json_t *j = body_json(o);
    const char *msg = json_string_value(json_object_get(j, "error"));
    const char *c = json_string_value(json_object_get(j, "code"));
    int ok = o->status == status && msg && c && !strcmp(c, code) && (!needle || strstr(msg, needle)) &&
             !strcmp(o->content_type, "application/json");
    if (!ok)
        printf("  got %d %s: %.*s\n", o->status, o->content_type, (int)o->len, o->body ? o->body : "");
    json_decref(j);
    return ok;
}

/* ---- gwhttp ----------------------------------------------------------------------------- */

TEST(bearer_parsing)
{
    static const struct {
        const char *h, *want;
    } cases[] = {
        {"Bearer abc.def.ghi", "abc.def.ghi"},
        {"bearer abc", "abc"},
        {"BEARER   abc", "abc"},
        {"Bearer\tabc", "abc"},
        {"  Bearer abc", "abc"},
        {"Bearer", NULL},
        {"Bearer ", NULL},
        {"Bearer \t ", NULL},
        {"Bearerabc", NULL},
        {"Basic YWxpY2U6cHc=", NULL},
        {"Token abc", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f = {{{"Authorization", cases[i].h}}};
        gw_req r = req("GET", "/", &f, NULL);
        const char *t = gw_bearer(&r);
        CHECKF(cases[i].want ? (t && !strcmp(t, cases[i].want)) : t == NULL, "'%s' -> '%s'", cases[i].h,
               t ? t : "(null)");
    }
    fake none = {0};
    gw_req r = req("GET", "/", &none, NULL);
    CHECK(gw_bearer(&r) == NULL);
    r.header = NULL; /* no header callback at all */
    CHECK(gw_bearer(&r) == NULL && gw_header(&r, "X") == NULL && gw_query(&r, "x") == NULL);
}

TEST(content_type_parsing)
{
    static const struct {
        const char *h;
        int json;
    } cases[] = {
        {"application/json", 1},
        {"Application/JSON", 1},
        {"application/json; charset=utf-8", 1},
        {"application/json;charset=utf-8", 1},
        {"  application/json", 1},
        {"application/json ", 1},
        {"application/jsonx", 0},
        {"application/json-seq", 0},
        {"text/json", 0},
        {"application/x-mlhep-columns", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f = {{{"Content-Type", cases[i].h}}};
        gw_req r = req("POST", "/", &f, NULL);
        CHECKF(gw_content_type_is(&r, "application/json") == cases[i].json, "'%s'", cases[i].h);
    }
    fake none = {0};
    gw_req r = req("POST", "/", &none, NULL);
    CHECK(!gw_content_type_is(&r, "application/json"));
}

TEST(responses_and_statuses)
{
    gw_resp o;
    memset(&o, 0, sizeof o);
    CHECK(gw_resp_error(&o, 418, "bad_request", "a \"quoted\" %s", "word") == 0);
    CHECK(is_error(&o, 418, "bad_request", "a \"quoted\" word"));
    CHECK(!strcmp(o.code, "bad_request"));
    /* a body replaces the last one */
    CHECK(gw_resp_bytes(&o, 200, "text/plain", "hi", 2) == 0);
    CHECK(o.status == 200 && o.len == 2 && !memcmp(o.body, "hi", 3));
    CHECK(gw_resp_json(&o, 201, json_pack("{s:i}", "n", 1)) == 0);
    CHECK(o.status == 201 && !strcmp(o.body, "{\"n\":1}"));
    /* at most GW_MAX_HEADERS headers; values cut to fit */
    char big[400];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < GW_MAX_HEADERS + 3; i++)
        gw_resp_header(&o, "X-H", big);
    CHECK_EQ_INT(o.nheaders, GW_MAX_HEADERS);
    CHECK_EQ_INT(strlen(o.hvalue[0]), sizeof o.hvalue[0] - 1);
    gw_resp_clear(&o);
    CHECK(o.body == NULL && o.status == 0 && o.nheaders == 0);
    /* a JSON document that cannot be written: a 500, not a crash */
    CHECK(gw_resp_json(&o, 200, NULL) == MLHEP_ENOMEM);
    CHECK(is_error(&o, 500, "internal", "out of memory"));
    gw_resp_clear(&o);
    static const struct {
        int code, status;
        const char *name;
    } map[] = {{MLHEP_EINVAL, 400, "bad_request"}, {MLHEP_EFORMAT, 400, "bad_request"},
               {MLHEP_EAUTH, 403, "forbidden"},    {MLHEP_ENOTFOUND, 404, "not_found"},
               {MLHEP_ENOMEM, 413, "too_large"},   {MLHEP_ENET, 503, "unavailable"},
               {MLHEP_EIO, 500, "internal"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int st = 0;
        const char *c = NULL;
        gw_status_for(map[i].code, &st, &c);
        CHECK(st == map[i].status && !strcmp(c, map[i].name));
    }
}

TEST(log_escaping)
{
    char out[64];
    gw_log_text(out, sizeof out, "/v1/jobs/abc");
    CHECK(!strcmp(out, "/v1/jobs/abc"));
    gw_log_text(out, sizeof out, "/x\n2026-01-01T00:00:00Z 1.2.3.4 bob GET /");
    CHECKF(!strchr(out, '\n') && !strchr(out, ' ') && !strncmp(out, "/x%0A2026", 9), "%s", out);
    gw_log_text(out, sizeof out, "a b\"c%d\\e\x7f\xc3\xa9\r\t");
    CHECKF(!strcmp(out, "a%20b%22c%25d%5Ce%7F%C3%A9%0D%09"), "%s", out);
    gw_log_text(out, sizeof out, NULL);
    CHECK(!strcmp(out, "-"));
    char longp[300];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    gw_log_text(out, sizeof out, longp);
    CHECKF(strlen(out) == sizeof out - 1 && !strcmp(out + sizeof out - 4, "..."), "%s", out);
    char tiny[3];
    gw_log_text(tiny, sizeof tiny, "abcdef");
    CHECK(strlen(tiny) == 2);
    gw_log_text(tiny, 0, "abc"); /* nothing written, no crash */
}

TEST(unescaping)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"/v1/jobs/abc", "/v1/jobs/abc"},
        {"/v1/jobs/%2e%2e", "/v1/jobs/.."},          /* decoded; the router refuses ".." */
        {"/v1/jobs/a%2Fb", "/v1/jobs/a%2Fb"},        /* an encoded slash stays one segment */
        {"/v1/jobs/a%2fb", "/v1/jobs/a%2fb"},
        {"/v1/jobs/x%00.json", "/v1/jobs/x%00.json"}, /* no NUL to cut the path short */
        {"/ui/app%2Ejs", "/ui/app.js"},
        {"%41%62%7e", "Ab~"},
        {"%", "%"},
        {"%4", "%4"},
        {"%zz%4g", "%zz%4g"},
        {"100%", "100%"},
        {"%0d%0a", "\r\n"},                          /* decoded; the router refuses it, the log escapes it */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        size_t n = gw_unescape(buf);
        CHECKF(n == strlen(cases[i].out) && !strcmp(buf, cases[i].out), "'%s' -> '%s'", cases[i].in, buf);
    }
    /* a path with an encoded slash or NUL matches no route */
    gw_match m;
    char p1[] = "/v1/jobs/0123456789abcdef0123456789abcdef%2Fartifacts";
    gw_unescape(p1);
    CHECK_EQ_INT(gateway_route_match("GET", p1, &m, NULL), GW_ROUTE_NOTFOUND);
    char p2[] = "/v1/jobs/0123456789abcdef0123456789abcdef%00/x";
    gw_unescape(p2);
    CHECK_EQ_INT(gateway_route_match("GET", p2, &m, NULL), GW_ROUTE_NOTFOUND);
    const char *name = NULL;
    CHECK(gateway_route_match("GET", "/v1/jobs/0123456789abcdef0123456789abcdef/artifacts", &m, &name) >= 0);
    CHECK(name && !strcmp(name, "job_artifacts") && !strcmp(gw_param(&m, "id"), "0123456789abcdef0123456789abcdef"));
}

/* ---- gateway_handle ------------------------------------------------------------------------ */

TEST(routing_statuses)
{
    env v;
    CHECK(env_open(&v, NULL) == 0);
    gw_resp o;
    handle(&v, "GET", "/healthz", NULL, NULL, &o);
    json_t *j = body_json(&o);
    CHECK(o.status == 200 && !strcmp(json_string_value(json_object_get(j, "status")), "ok"));
    json_decref(j);
    gw_resp_clear(&o);
    handle(&v, "HEAD", "/healthz", NULL, NULL, &o);
    CHECK_EQ_INT(o.status, 200);
    gw_resp_clear(&o);
    handle(&v, "GET", "/no/such/thing", NULL, NULL, &o);
    CHECK(is_error(&o, 404, "not_found", "no such endpoint: /no/such/thing"));
    gw_resp_clear(&o);
    handle(&v, "PUT", "/v1/jobs", NULL, NULL, &o);
    CHECK(is_error(&o, 405, "method_not_allowed", "PUT is not allowed on /v1/jobs"));
    CHECKF(resp_header(&o, "Allow") && !strcmp(resp_header(&o, "Allow"), "GET, HEAD, POST"), "%s",
           resp_header(&o, "Allow"));
    gw_resp_clear(&o);
    handle(&v, "DELETE", "/healthz", NULL, NULL, &o);
    CHECK(o.status == 405 && !strcmp(resp_header(&o, "Allow"), "GET, HEAD"));
    gw_resp_clear(&o);
    handle(&v, "GET", "/v1/jobs/x/cancel", NULL, NULL, &o);
    CHECK(o.status == 405 && !strcmp(resp_header(&o, "Allow"), "POST"));
    gw_resp_clear(&o);
    /* no CORS: OPTIONS is just another method, no Access-Control headers */
    fake origin = {{{"Origin", "https://evil.example"}}};
    handle(&v, "OPTIONS", "/v1/jobs", &origin, NULL, &o);
    CHECK(o.status == 405 && !resp_header(&o, "Access-Control-Allow-Origin"));
    gw_resp_clear(&o);
    handle(&v, "GET", "/healthz", &origin, NULL, &o);
    CHECK(o.status == 200 && !resp_header(&o, "Access-Control-Allow-Origin"));
    gw_resp_clear(&o);
    /* KServe's server calls are open */
    handle(&v, "GET", "/v2", NULL, NULL, &o);
    j = body_json(&o);
    CHECK(o.status == 200 && !strcmp(json_string_value(json_object_get(j, "name")), "mlhep"));
    json_decref(j);
    gw_resp_clear(&o);
    handle(&v, "GET", "/v2/health/live", NULL, NULL, &o);
    CHECK(o.status == 200 && strstr(o.body, "\"live\":true"));
    gw_resp_clear(&o);
    handle(&v, "GET", "/v2/health/ready", NULL, NULL, &o); /* no broker connection */
    CHECK(o.status == 503 && strstr(o.body, "\"ready\":false"));
    gw_resp_clear(&o);
    /* readiness names what is down */
    handle(&v, "GET", "/readyz", NULL, NULL, &o);
    j = body_json(&o);
    CHECK(o.status == 503 && json_string_value(json_object_get(j, "reason")));
    json_decref(j);
    gw_resp_clear(&o);
    env_close(&v);
}

TEST(tokens_and_scopes)
{
    env v;
    CHECK(env_open(&v, NULL) == 0);
    gw_resp o;
    /* no token */
    handle(&v, "GET", "/v1/jobs", NULL, NULL, &o);
    CHECK(is_error(&o, 401, "unauthorized", "a bearer token is required"));
    CHECK(resp_header(&o, "WWW-Authenticate") && !strcmp(resp_header(&o, "WWW-Authenticate"), "Bearer realm=\"mlhep\""));
    gw_resp_clear(&o);
    /* another scheme */
    fake basic = {{{"Authorization", "Basic YWxpY2U6cHc="}}};
    handle(&v, "GET", "/v1/jobs", &basic, NULL, &o);
    CHECK(o.status == 401 && resp_header(&o, "WWW-Authenticate"));
    gw_resp_clear(&o);
    /* forged: garbage, another key, alg none, expired, wrong audience: 401 invalid_token */
    char *forged[6];
    forged[0] = strdup("not.a.jwt");
    forged[1] = mint_with("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "alice", "mlhep", "mlhep.submit", 3600,
                          "another-secret-of-the-same-length-xx");
    forged[2] = mint_with("{\"alg\":\"none\",\"typ\":\"JWT\"}", "alice", "mlhep", "mlhep.submit", 3600, NULL);
    forged[3] = mint_with("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "alice", "mlhep", "mlhep.submit", -60, SECRET);
    forged[4] = mint_with("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "alice", "someone-else", "mlhep.submit", 3600, SECRET);
    forged[5] = strdup("dev:alice");
    for (int i = 0; i < 6; i++) {
        char h[4200];
        snprintf(h, sizeof h, "Bearer %s", forged[i]);
        fake f = {{{"Authorization", h}}};
        handle(&v, "GET", "/v1/jobs", &f, NULL, &o);
        const char *w = resp_header(&o, "WWW-Authenticate");
        CHECKF(o.status == 401 && w && strstr(w, "error=\"invalid_token\"") && !strstr(o.body, forged[i]),
               "#%d: %d %s", i, o.status, o.body);
        gw_resp_clear(&o);
    }
    /* a valid token without the route's scope: 403 naming the scope */
    char *sub_only = mint("alice", "openid mlhep.submit");
    char h[4200];
    snprintf(h, sizeof h, "Bearer %s", sub_only);
    fake f = {{{"Authorization", h}}};
    handle(&v, "GET", "/v1/models", &f, NULL, &o);
    CHECK(is_error(&o, 403, "forbidden", "mlhep.predict"));
    CHECKF(strstr(resp_header(&o, "WWW-Authenticate"), "error=\"insufficient_scope\", scope=\"mlhep.predict\""), "%s",
           resp_header(&o, "WWW-Authenticate"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/v2/models/m/infer", &f, "{}", &o);
    CHECK_EQ_INT(o.status, 403);
    gw_resp_clear(&o);
    /* ... and with it, the caller is the token's subject */
    handle(&v, "GET", "/v1/whoami", &f, NULL, &o);
    CHECK(o.status == 200 && !strcmp(o.body, "{\"user\":\"alice\"}"));
    gw_resp_clear(&o);
    char *pred_only = mint("bob", "mlhep.predict");
    snprintf(h, sizeof h, "Bearer %s", pred_only);
    handle(&v, "POST", "/v1/jobs", &f, "{}", &o);
    CHECK(is_error(&o, 403, "forbidden", "mlhep.submit"));
    gw_resp_clear(&o);
    /* the access log: one line per request, users named, no token ever */
    char *log = log_text(&v);
    for (int i = 0; i < 6; i++)
        CHECKF(!strstr(log, forged[i]), "token %d in the log", i);
    CHECK(!strstr(log, sub_only) && !strstr(log, pred_only) && !strstr(log, "Bearer"));
    CHECK(strstr(log, " alice GET /v1/whoami 200 "));
    CHECK(strstr(log, " - GET /v1/jobs 401 ") && strstr(log, " unauthorized\n"));
    free(log);
    for (int i = 0; i < 6; i++)
        free(forged[i]);
    free(sub_only);
    free(pred_only);
    env_close(&v);
}

TEST(checked_before_anything_is_queued)
{
    env v;
    CHECK(env_open(&v, NULL) == 0);
    char *tok = mint("alice", "mlhep.submit mlhep.predict");
    char h[4200];
    snprintf(h, sizeof h, "Bearer %s", tok);
    fake f = {{{"Authorization", h}, {"Idempotency-Key", "k1"}}};
    gw_resp o;
    /* (no broker, no Redis: these answers come before either is needed) */
    handle(&v, "POST", "/v1/jobs", &f, NULL, &o);
    CHECK(is_error(&o, 400, "bad_request", "the request has no body"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/v1/jobs", &f, "{\"name\": \"x\",", &o);
    CHECK(is_error(&o, 400, "bad_request", "the body is not valid JSON"));
    CHECK(strstr(o.body, "line 1") && strstr(o.body, "nothing was queued"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/v1/jobs", &f, "{\"name\":\"x\",\"name\":\"y\",\"model\":{\"type\":\"sleep\"}}", &o);
    CHECK(is_error(&o, 400, "bad_request", "nothing was queued"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/v1/jobs", &f, "{\"name\":\"x\",\"files\":[{\"path\":\"a.root\",\"label\":1}],"
                                       "\"model\":{\"type\":\"bdt\"}}", &o);
    CHECK(is_error(&o, 400, "bad_request", "/model/type"));
    CHECK(strstr(o.body, "nothing was queued"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/v1/jobs", &f, "{\"model\":{\"type\":\"sleep\",\"seconds\":1}}", &o);
    CHECK(is_error(&o, 400, "bad_request", "nothing was queued"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/submit", &f, "{\"name\":\"n\",\"files\":[],\"labels\":[],\"model\":\"m.py\"}", &o);
    CHECK(is_error(&o, 400, "bad_request", "names a file ('m.py')"));
    gw_resp_clear(&o);
    handle(&v, "POST", "/submit", &f, "not json", &o);
    CHECK(is_error(&o, 400, "bad_request", "not valid JSON"));
    gw_resp_clear(&o);
    /* job ids are checked before any lookup */
    static const char *const paths[] = {"/v1/jobs/notanid", "/v1/jobs/ABCDEF0123456789ABCDEF0123456789/logs",
                                        "/v1/jobs/0123/artifacts", "/v1/jobs/0123/archive",
                                        "/v1/jobs/x.y/events", "/v1/jobs/0123/artifacts/model.json"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        handle(&v, "GET", paths[i], &f, NULL, &o);
        CHECKF(is_error(&o, 400, "bad_request", "is not a job id"), "%s", paths[i]);
        gw_resp_clear(&o);
    }
    handle(&v, "POST", "/v1/jobs/zz/cancel", &f, NULL, &o);
    CHECK(is_error(&o, 400, "bad_request", "is not a job id"));
    gw_resp_clear(&o);
    /* list with a bad limit; MLaaS4HEP calls without process_name */
    fake fl = {{{"Authorization", h}}, {{"limit", "0"}}};
    handle(&v, "GET", "/v1/jobs", &fl, NULL, &o);
    CHECK(is_error(&o, 400, "bad_request", "limit"));
    gw_resp_clear(&o);
    fake fl2 = {{{"Authorization", h}}, {{"limit", "12abc"}}};
    handle(&v, "GET", "/v1/jobs", &fl2, NULL, &o);
    CHECK_EQ_INT(o.status, 400);
    gw_resp_clear(&o);
    handle(&v, "GET", "/status_docker", &f, NULL, &o);
    CHECK(is_error(&o, 400, "bad_request", "process_name is required"));
    gw_resp_clear(&o);
    /* no Redis: a lookup is 503, not a crash or a 500 */
    handle(&v, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef", &f, NULL, &o);
    CHECK(is_error(&o, 503, "unavailable", "status store"));
    gw_resp_clear(&o);
    /* predictions without a broker: 503; v2 model refs are never cut */
    handle(&v, "POST", "/json", &f, "{\"keys\":[\"a\"],\"values\":[1],\"model\":\"m\"}", &o);
    CHECK(o.status == 503 && strstr(o.body, "\"error\"") && !strstr(o.body, "\"code\"")); /* TFaaS: {"error"} */
    gw_resp_clear(&o);
    handle(&v, "POST", "/json", &f, NULL, &o);
    CHECK(o.status == 400 && !strcmp(o.body, "{\"error\":\"the request has no body\"}"));
    gw_resp_clear(&o);
    free(tok);
    env_close(&v);
}

TEST(rate_limit)
{
    env v;
    CHECK(env_open(&v, "gateway_rate = 1\ngateway_burst = 2\n") == 0);
    char *tok = mint("alice", "mlhep.submit");
    char h[4200];
    snprintf(h, sizeof h, "Bearer %s", tok);
    fake f = {{{"Authorization", h}}};
    gw_resp o;
    handle(&v, "GET", "/v1/whoami", &f, NULL, &o);
    CHECK_EQ_INT(o.status, 200);
    gw_resp_clear(&o);
    handle(&v, "GET", "/v1/whoami", &f, NULL, &o);
    CHECK_EQ_INT(o.status, 200);
    gw_resp_clear(&o);
    handle(&v, "GET", "/v1/whoami", &f, NULL, &o);
    CHECK(is_error(&o, 429, "too_many_requests", "too many requests from 'alice': the limit is 1 per second"));
    const char *ra = resp_header(&o, "Retry-After");
    CHECKF(ra && atoi(ra) >= 1 && atoi(ra) <= 2, "%s", ra ? ra : "(none)");
    gw_resp_clear(&o);
    /* open routes are not limited; refused tokens do not spend alice's budget */
    for (int i = 0; i < 5; i++) {
        handle(&v, "GET", "/healthz", &f, NULL, &o);
        CHECK_EQ_INT(o.status, 200);
        gw_resp_clear(&o);
    }
    /* /metrics counts what was asked, by route and status */
    handle(&v, "GET", "/metrics", NULL, NULL, &o);
    CHECK(o.status == 200 && !strncmp(o.content_type, "text/plain; version=0.0.4", 25));
    CHECKF(strstr(o.body, "mlhep_gateway_requests_total{route=\"none\",code=\"429\"} 1"), "%s", o.body);
    CHECK(strstr(o.body, "code=\"200\"} 7"));
    CHECK(strstr(o.body, "mlhep_gateway_token_verifications_total 1\n"));
    CHECK(strstr(o.body, "mlhep_gateway_token_cache_hits_total 2\n"));
    CHECK(!strstr(o.body, "mlhep_jobs{")); /* no Redis: job counts left out */
    gw_resp_clear(&o);
    free(tok);
    env_close(&v);
}

TEST(dashboard_files)
{
    env v;
    CHECK(env_open(&v, NULL) == 0);
    gw_resp o;
    handle(&v, "GET", "/", NULL, NULL, &o);
    CHECK(o.status == 200 && !strcmp(o.content_type, "text/html; charset=utf-8") && strstr(o.body, "<title>mlhep"));
    const char *etag = resp_header(&o, "ETag");
    CHECK(etag && etag[0] == '"');
    CHECK(resp_header(&o, "Content-Security-Policy") && resp_header(&o, "X-Content-Type-Options"));
    char tag[64];
    snprintf(tag, sizeof tag, "%s", etag);
    gw_resp_clear(&o);
    fake inm = {{{"If-None-Match", tag}}};
    handle(&v, "GET", "/", &inm, NULL, &o);
    CHECK(o.status == 304 && o.len == 0);
    gw_resp_clear(&o);
    handle(&v, "GET", "/ui/app.js", NULL, NULL, &o);
    CHECK(o.status == 200 && !strncmp(o.content_type, "text/javascript", 15));
    gw_resp_clear(&o);
    /* only the loaded files, by exact name: nothing reaches the file system */
    static const char *const missing[] = {"/ui/index.htm", "/ui/..", "/ui/.", "/ui/../gw.conf", "/ui/gw.conf",
                                          "/ui/secret", "/ui/app.js/", "/ui//etc/passwd", "/ui/%2e%2e"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        handle(&v, "GET", missing[i], NULL, NULL, &o);
        CHECKF(o.status == 404, "%s: %d", missing[i], o.status);
        gw_resp_clear(&o);
    }
    env_close(&v);
}

TEST(cors_only_for_the_configured_origin)
{
    env v;
    CHECK(env_open(&v, "gateway_cors_origin = https://dash.example\n") == 0);
    gw_resp o;
    fake good = {{{"Origin", "https://dash.example"}}}, other = {{{"Origin", "https://evil.example"}}};
    handle(&v, "OPTIONS", "/v1/jobs", &good, NULL, &o);
    CHECK(o.status == 204);
    CHECK(resp_header(&o, "Access-Control-Allow-Origin") &&
          !strcmp(resp_header(&o, "Access-Control-Allow-Origin"), "https://dash.example"));
    CHECK(!strcmp(resp_header(&o, "Access-Control-Allow-Methods"), "GET, HEAD, POST"));
    CHECK(strstr(resp_header(&o, "Access-Control-Allow-Headers"), "Authorization"));
    gw_resp_clear(&o);
    handle(&v, "OPTIONS", "/v1/jobs", &other, NULL, &o);
    CHECK(o.status == 204 && !resp_header(&o, "Access-Control-Allow-Origin"));
    gw_resp_clear(&o);
    handle(&v, "GET", "/v1/jobs", &other, NULL, &o);
    CHECK(o.status == 401 && !resp_header(&o, "Access-Control-Allow-Origin"));
    gw_resp_clear(&o);
    handle(&v, "GET", "/v1/jobs", &good, NULL, &o);
    CHECK(o.status == 401 && resp_header(&o, "Access-Control-Allow-Origin") && resp_header(&o, "Vary"));
    gw_resp_clear(&o);
    env_close(&v);
}

TEST(log_lines_are_escaped)
{
    env v;
    CHECK(env_open(&v, NULL) == 0);
    gw_resp o;
    handle(&v, "GET", "/x\n2026-01-01T00:00:00Z 6.6.6.6 root GET /admin 200 0 0.1ms", NULL, NULL, &o);
    CHECK_EQ_INT(o.status, 404);
    gw_resp_clear(&o);
    char *log = log_text(&v);
    int lines = 0;
    for (char *s = log; *s; s++)
        lines += *s == '\n';
    CHECKF(lines == 1 && strstr(log, "/x%0A2026") && !strstr(log, " root "), "%s", log);
    free(log);
    env_close(&v);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(bearer_parsing);
    RUN(content_type_parsing);
    RUN(responses_and_statuses);
    RUN(log_escaping);
    RUN(unescaping);
    RUN(routing_statuses);
    RUN(tokens_and_scopes);
    RUN(checked_before_anything_is_queued);
    RUN(rate_limit);
    RUN(dashboard_files);
    RUN(cors_only_for_the_configured_origin);
    RUN(log_lines_are_escaped);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", tmpdir);
    return test_summary();
}

/* test_gwclient.c - the gateway's client (gateway/gwclient.h) against a scripted HTTP
 * server in this process (libmicrohttpd on loopback, plain http: the client allows it
 * only there). Each request takes the next scripted answer and is recorded (method,
 * path, Idempotency-Key, Authorization, body), so the tests see what went over the
 * wire: HTTP status -> error code with the server's text, 429 retried after
 * Retry-After, a dropped connection retried with the same Idempotency-Key (and not for
 * a model tag), live events (order, comments, CRLF, a stream opened again without
 * repeating log lines, a deadline), following by polling, pipelined predictions
 * answered out of order, fetching artifacts with their checksums checked, and the
 * configuration refused where it must be. */
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/gwclient.h"
#include "test.h"

/* ---- the scripted server ---------------------------------------------------------- */

enum { A_REPLY = 0, A_DROP, A_STREAM_HOLD };

typedef struct answer {
    int action;
    unsigned status;
    const char *ctype;
    const char *body;
    const char *retry_after;
    int delay_ms;       /* before answering */
    const char *when;   /* answer only a request whose body contains this (else the next) */
} answer;

typedef struct seen {
    char method[8];
    char url[256];
    char idem[80];
    char auth[160];
    char body[256];
} seen;

#define NSCRIPT 32
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    answer script[NSCRIPT];
    int nscript, next;
    seen log[64];
    int nlog;
    struct MHD_Daemon *d;
    char url[64];
} srv;

static void script(const answer *a, int n)
{
    pthread_mutex_lock(&srv_mu);
    memcpy(srv.script, a, (size_t)n * sizeof *a);
    srv.nscript = n;
    srv.next = 0;
    srv.nlog = 0;
    pthread_mutex_unlock(&srv_mu);
}

typedef struct upload {
    char body[1 << 16];
    size_t len;
} upload;

static ssize_t hold_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)buf;
    (void)max;
    if (pos == 0) {
        memcpy(buf, ": hi\n\n", 6);
        return 6;
    }
    struct timespec ts = {0, 50 * 1000 * 1000}; /* a quiet stream */
    nanosleep(&ts, NULL);
    return 0;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        size_t k = *data_size < sizeof u->body - 1 - u->len ? *data_size : sizeof u->body - 1 - u->len;
        memcpy(u->body + u->len, data, k);
        u->len += k;
        *data_size = 0;
        return MHD_YES;
    }
    answer a = {A_REPLY, 500, "application/json", "{\"error\":\"no script\",\"code\":\"internal\"}", NULL, 0, NULL};
    pthread_mutex_lock(&srv_mu);
    int pick = -1;
    for (int i = srv.next; i < srv.nscript && pick < 0; i++)
        if (srv.script[i].when && strstr(u->body, srv.script[i].when))
            pick = i;
    for (int i = srv.next; i < srv.nscript && pick < 0; i++)
        if (!srv.script[i].when)
            pick = i;
    if (pick >= 0) {
        a = srv.script[pick];
        srv.script[pick].when = "\x01never"; /* used */
        srv.script[pick].action = -1;
        while (srv.next < srv.nscript && srv.script[srv.next].action == -1)
            srv.next++;
    }
    if (srv.nlog < 64) {
        seen *s = &srv.log[srv.nlog++];
        memset(s, 0, sizeof *s);
        const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
        snprintf(s->method, sizeof s->method, "%s", method);
        snprintf(s->url, sizeof s->url, "%s%s%s", url, q ? "?limit=" : "", q ? q : "");
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
        snprintf(s->idem, sizeof s->idem, "%s", h ? h : "");
        h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        snprintf(s->auth, sizeof s->auth, "%s", h ? h : "");
        snprintf(s->body, sizeof s->body, "%.*s", (int)(u->len < 255 ? u->len : 255), u->body);
    }
    pthread_mutex_unlock(&srv_mu);
    if (a.delay_ms) {
        struct timespec ts = {a.delay_ms / 1000, (a.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (a.action == A_DROP)
        return MHD_NO; /* the connection is closed without an answer */
    struct MHD_Response *r;
    if (a.action == A_STREAM_HOLD)
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, hold_reader, NULL, NULL);
    else
        r = MHD_create_response_from_buffer(strlen(a.body), (void *)a.body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", a.ctype);
    if (a.retry_after)
        MHD_add_response_header(r, "Retry-After", a.retry_after);
    enum MHD_Result rc = MHD_queue_response(conn, a.status, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    free(*con_cls);
    *con_cls = NULL;
}

static int server_start(void)
{
    srv.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL,
                             NULL, on_req, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!srv.d)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(srv.url, sizeof srv.url, "http://127.0.0.1:%u", (unsigned)di->port);
    return 0;
}

static gwclient *client(const char *token)
{
    mlhep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gateway_url = srv.url;
    cfg.gateway_ca = "";
    gwclient *c = NULL;
    mlhep_err e;
    if (gwclient_open(&cfg, token, &c, &e))
        printf("  gwclient_open: %s\n", e.msg);
    return c;
}

#define ID "0123456789abcdef0123456789abcdef"
#define JSON "application/json"

static int nlog(void)
{
    pthread_mutex_lock(&srv_mu);
    int n = srv.nlog;
    pthread_mutex_unlock(&srv_mu);
    return n;
}

/* ---- tests --------------------------------------------------------------------------- */

TEST(status_to_error_code)
{
    static const struct {
        unsigned st;
        int code;
    } m[] = {{400, MLHEP_EINVAL}, {401, MLHEP_EAUTH}, {403, MLHEP_EAUTH}, {404, MLHEP_ENOTFOUND}, {405, MLHEP_EINVAL},
             {409, MLHEP_ECONFLICT}, {413, MLHEP_ENOMEM}, {500, MLHEP_ENET}, {503, MLHEP_ENET}};
    gwclient *c = client("tok-1");
    CHECK(c);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        answer a = {A_REPLY, m[i].st, JSON, "{\"error\":\"the gateway's own words\",\"code\":\"some_code\"}", 0, 0, 0};
        script(&a, 1);
        json_t *rec = NULL;
        mlhep_err e;
        int rc = gwclient_job(c, ID, &rec, &e);
        CHECKF(rc == m[i].code && !rec && !strcmp(e.msg, "the gateway's own words"), "status %u: rc %d msg %s",
               m[i].st, rc, e.msg);
    }
    /* the request itself: path, bearer token */
    CHECK(!strcmp(srv.log[0].method, "GET") && !strcmp(srv.log[0].url, "/v1/jobs/" ID));
    CHECK(!strcmp(srv.log[0].auth, "Bearer tok-1"));
    /* mlhep-infer's errors relayed: "CODE: message", as over the broker */
    answer a = {A_REPLY, 404, JSON, "{\"error\":\"unknown model 'nope'\",\"code\":\"unknown_model\"}", 0, 0, 0};
    script(&a, 1);
    json_t *d = NULL;
    mlhep_err e;
    CHECK(gwclient_predict_json(c, "{}", 2, NULL, &d, &e) == MLHEP_ENOTFOUND);
    CHECKF(!strcmp(e.msg, "unknown_model: unknown model 'nope'"), "%s", e.msg);
    /* the gateway's time limit reads as a time-out; a page that is not the gateway's JSON */
    answer b[] = {{A_REPLY, 504, JSON, "{\"error\":\"no answer within 30 s\",\"code\":\"timeout\"}", 0, 0, 0},
                  {A_REPLY, 502, "text/html", "<html>Bad gateway</html>\n", 0, 0, 0}};
    script(b, 2);
    CHECK(gwclient_predict_json(c, "{}", 2, NULL, &d, &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "no reply within") && strstr(e.msg, "no answer within 30 s"), "%s", e.msg);
    CHECK(gwclient_models(c, &d, &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "answered HTTP 502: <html>Bad gateway</html>"), "%s", e.msg);
    /* a success that is not JSON */
    answer nj = {A_REPLY, 200, JSON, "not json", 0, 0, 0};
    script(&nj, 1);
    CHECK(gwclient_job(c, ID, &d, &e) == MLHEP_EUNSUPPORTED && !d);
    gwclient_close(c);
}

TEST(retry_after_429)
{
    gwclient *c = client("t");
    CHECK(c);
    answer a[] = {{A_REPLY, 429, JSON, "{\"error\":\"slow down\",\"code\":\"too_many_requests\"}", "0", 0, 0},
                  {A_REPLY, 429, JSON, "{\"error\":\"slow down\",\"code\":\"too_many_requests\"}", "0", 0, 0},
                  {A_REPLY, 200, JSON, "{\"user\":\"alice\",\"jobs\":[{\"id\":\"" ID "\"}]}", 0, 0, 0}};
    script(a, 3);
    json_t *jobs = NULL;
    mlhep_err e;
    CHECKF(gwclient_jobs(c, 7, &jobs, &e) == 0, "%s", e.msg);
    CHECK(json_array_size(jobs) == 1 && nlog() == 3 && !strcmp(srv.log[2].url, "/v1/jobs?limit=7"));
    json_decref(jobs);
    /* refused again and again: an error after GWCLIENT_429_RETRIES retries */
    answer b[GWCLIENT_429_RETRIES + 2];
    for (int i = 0; i < GWCLIENT_429_RETRIES + 2; i++)
        b[i] = a[0];
    script(b, GWCLIENT_429_RETRIES + 2);
    CHECK(gwclient_jobs(c, 0, &jobs, &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "slow down") && strstr(e.msg, "retries"), "%s", e.msg);
    CHECK(nlog() == GWCLIENT_429_RETRIES + 1);
    gwclient_close(c);
}

TEST(idempotency_key_kept_on_retry)
{
    gwclient *c = client("t");
    CHECK(c);
    const char *ok = "{\"id\":\"" ID "\",\"state\":\"queued\"}";
    answer a[] = {{A_DROP, 0, JSON, "", 0, 0, 0}, {A_REPLY, 202, JSON, ok, 0, 0, 0}, {A_REPLY, 202, JSON, ok, 0, 0, 0}};
    script(a, 3);
    char id[JOB_ID_HEX + 1];
    mlhep_err e;
    const char *wf = "{\"name\":\"x\"}";
    CHECKF(gwclient_submit(c, wf, strlen(wf), id, NULL, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(id, ID) && nlog() == 2);
    CHECK(strlen(srv.log[0].idem) == 32 && !strcmp(srv.log[0].idem, srv.log[1].idem));
    CHECK(!strcmp(srv.log[0].method, "POST") && !strcmp(srv.log[1].body, wf));
    /* the next submission has a key of its own */
    CHECK(gwclient_submit(c, wf, strlen(wf), id, NULL, &e) == 0);
    CHECK(nlog() == 3 && strlen(srv.log[2].idem) == 32 && strcmp(srv.log[2].idem, srv.log[0].idem));
    /* a retried submission still "in progress" at the gateway (409 + Retry-After): waited out */
    answer b[] = {{A_DROP, 0, JSON, "", 0, 0, 0},
                  {A_REPLY, 409, JSON, "{\"error\":\"in progress\",\"code\":\"conflict\"}", "0", 0, 0},
                  {A_REPLY, 200, JSON, ok, 0, 0, 0}};
    script(b, 3);
    CHECKF(gwclient_submit(c, wf, strlen(wf), id, NULL, &e) == 0, "%s", e.msg);
    CHECK(nlog() == 3 && !strcmp(srv.log[0].idem, srv.log[2].idem));
    /* tagging a model makes a new version: a connection dropped after sending is not repeated */
    answer t[] = {{A_DROP, 0, JSON, "", 0, 0, 0}, {A_REPLY, 201, JSON, "{\"model\":\"ttH@1\"}", 0, 0, 0}};
    script(t, 2);
    json_t *d = NULL;
    CHECK(gwclient_model_tag(c, ID, "ttH", 1, &d, &e) == MLHEP_ENET && nlog() == 1);
    CHECK(strstr(srv.log[0].body, "\"shared\": true") || strstr(srv.log[0].body, "\"shared\":true"));
    gwclient_close(c);
}

typedef struct events {
    char kinds[64];
    int n;
    char last_state[16];
    int stop_after;
} events;

static int on_ev(void *cls, gwclient_event kind, const json_t *data)
{
    events *v = cls;
    if (v->n < 60)
        v->kinds[v->n++] = kind == GWCLIENT_EV_STATUS ? 's' : kind == GWCLIENT_EV_LOG ? 'l' : 'e';
    v->kinds[v->n] = '\0';
    if (kind == GWCLIENT_EV_LOG)
        v->kinds[v->n - 1] = (char)('0' + json_integer_value(json_object_get(data, "n")));
    const char *st = json_string_value(json_object_get(data, "state"));
    if (st)
        snprintf(v->last_state, sizeof v->last_state, "%s", st);
    return v->stop_after && v->n >= v->stop_after;
}

TEST(live_events)
{
    gwclient *c = client("t");
    CHECK(c);
    const char *stream = "retry: 2000\n\n"
                         "event: status\ndata: {\"state\":\"running\",\"progress\":0.5}\n\n"
                         ": keep-alive\n\n"
                         "event: log\r\ndata: {\"n\":0,\"line\":\"a\"}\r\n\r\n"
                         "event: error\ndata: {\"error\":\"status store unreachable\"}\n\n"
                         "event: status\ndata: {\"state\":\"succeeded\"}\n\n"
                         "event: end\ndata: {\"state\":\"succeeded\"}\n\n";
    answer a = {A_REPLY, 200, "text/event-stream", stream, 0, 0, 0};
    script(&a, 1);
    events v = {0};
    mlhep_err e;
    CHECKF(gwclient_follow(c, ID, 0, 10, on_ev, &v, &e) == 0, "%s", e.msg);
    CHECKF(!strcmp(v.kinds, "s0se") && !strcmp(v.last_state, "succeeded"), "%s", v.kinds);
    CHECK(!strcmp(srv.log[0].url, "/v1/jobs/" ID "/events"));
    /* a stream that closes before the end is opened again; log 0 is not delivered twice */
    answer b[] = {{A_REPLY, 200, "text/event-stream",
                   "event: status\ndata: {\"state\":\"running\"}\n\nevent: log\ndata: {\"n\":0,\"line\":\"a\"}\n\n", 0, 0, 0},
                  {A_REPLY, 200, "text/event-stream",
                   "event: status\ndata: {\"state\":\"running\"}\n\nevent: log\ndata: {\"n\":0,\"line\":\"a\"}\n\n"
                   "event: log\ndata: {\"n\":1,\"line\":\"b\"}\n\nevent: end\ndata: {\"state\":\"failed\"}\n\n", 0, 0, 0}};
    script(b, 2);
    memset(&v, 0, sizeof v);
    CHECKF(gwclient_follow(c, ID, 0, 10, on_ev, &v, &e) == 0, "%s", e.msg);
    CHECKF(!strcmp(v.kinds, "s0s1e") && !strcmp(v.last_state, "failed") && nlog() == 2, "%s", v.kinds);
    /* the caller stops it */
    script(&a, 1);
    memset(&v, 0, sizeof v);
    v.stop_after = 1;
    CHECK(gwclient_follow(c, ID, 0, 10, on_ev, &v, &e) == GWCLIENT_STOPPED && !strcmp(v.kinds, "s"));
    /* no such job (yet): the gateway's 404 */
    answer nf = {A_REPLY, 404, JSON, "{\"error\":\"no job " ID " for user 'bob'\",\"code\":\"not_found\"}", 0, 0, 0};
    script(&nf, 1);
    CHECK(gwclient_follow(c, ID, 0, 10, on_ev, &v, &e) == MLHEP_ENOTFOUND && strstr(e.msg, "for user 'bob'"));
    /* a quiet stream and a deadline */
    answer q = {A_STREAM_HOLD, 200, "text/event-stream", "", 0, 0, 0};
    script(&q, 1);
    memset(&v, 0, sizeof v);
    time_t t0 = time(NULL);
    CHECK(gwclient_follow(c, ID, 0, 0.3, on_ev, &v, &e) == GWCLIENT_TIMEOUT && v.n == 0);
    CHECK(time(NULL) - t0 <= 3);
    gwclient_close(c);
}

TEST(follow_by_polling)
{
    gwclient *c = client("t");
    CHECK(c);
    answer a[] = {{A_REPLY, 200, JSON, "{\"state\":\"queued\"}", 0, 0, 0},
                  {A_REPLY, 200, JSON, "{\"state\":\"queued\"}", 0, 0, 0},
                  {A_REPLY, 200, JSON, "{\"state\":\"running\",\"progress\":0.5}", 0, 0, 0},
                  {A_REPLY, 200, JSON, "{\"state\":\"cancelled\"}", 0, 0, 0}};
    script(a, 4);
    events v = {0};
    mlhep_err e;
    CHECKF(gwclient_follow(c, ID, 5, 10, on_ev, &v, &e) == 0, "%s", e.msg);
    CHECKF(!strcmp(v.kinds, "ssse") && !strcmp(v.last_state, "cancelled") && nlog() == 4, "%s", v.kinds);
    CHECK(!strcmp(srv.log[3].url, "/v1/jobs/" ID));
    gwclient_close(c);
}

TEST(pipelined_predictions)
{
    gwclient *c = client("t");
    CHECK(c);
    /* the first request is answered last; a 429 on the way is retried */
    answer a[] = {{A_REPLY, 200, JSON, "{\"r\":1}", 0, 300, "q1"},
                  {A_REPLY, 429, JSON, "{\"error\":\"busy\",\"code\":\"too_many_requests\"}", "0", 0, "q2"},
                  {A_REPLY, 200, JSON, "{\"r\":2}", 0, 0, "q2"},
                  {A_REPLY, 200, JSON, "{\"r\":3}", 0, 100, "q3"}};
    script(a, 4);
    uint64_t s1, s2, s3, got[3];
    mlhep_err e;
    CHECK(gwclient_send(c, 0, "q1", 2, &s1, &e) == 0 && gwclient_send(c, 1, "q2", 2, &s2, &e) == 0 &&
          gwclient_send(c, 0, "q3", 2, &s3, &e) == 0);
    CHECK(s1 != s2 && s2 != s3);
    for (int i = 0; i < 3; i++) {
        char *r;
        size_t n;
        CHECKF(gwclient_recv(c, &got[i], &r, &n, 5000, &e) == 0, "%s", e.msg);
        char want[16];
        snprintf(want, sizeof want, "{\"r\":%d}", got[i] == s1 ? 1 : got[i] == s2 ? 2 : 3);
        CHECKF(!strcmp(r, want) && n == strlen(want), "%s", r);
        free(r);
    }
    CHECKF(got[0] == s2 && got[1] == s3 && got[2] == s1, "%llu %llu %llu", (unsigned long long)got[0],
           (unsigned long long)got[1], (unsigned long long)got[2]);
    /* an error answer is that request's error; nothing in flight, nothing to wait for */
    answer b = {A_REPLY, 400, JSON, "{\"error\":\"branch 'x' is flat\",\"code\":\"bad_request\"}", 0, 0, 0};
    script(&b, 1);
    CHECK(gwclient_send(c, 1, "q", 1, &s1, &e) == 0);
    char *r = NULL;
    size_t n;
    CHECK(gwclient_recv(c, &got[0], &r, &n, 5000, &e) == MLHEP_EINVAL && got[0] == s1 && !r);
    CHECKF(!strcmp(e.msg, "bad_request: branch 'x' is flat"), "%s", e.msg);
    CHECK(gwclient_recv(c, &got[0], &r, &n, 100, &e) == MLHEP_EINVAL);
    /* no answer in time */
    answer slow = {A_REPLY, 200, JSON, "{}", 0, 1500, 0};
    script(&slow, 1);
    CHECK(gwclient_send(c, 1, "q", 1, &s1, &e) == 0);
    CHECK(gwclient_recv(c, &got[0], &r, &n, 200, &e) == MLHEP_ENET && strstr(e.msg, "no reply within 0.2 s"));
    gwclient_close(c); /* with the request still in flight */
}

static void sha_hex(const char *d, size_t n, char hex[65])
{
    unsigned char md[32];
    EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

TEST(fetch_artifacts)
{
    gwclient *c = client("t");
    CHECK(c);
    static char man[512], badman[512], evil[512];
    char h1[65], h2[65];
    sha_hex("model", 5, h1);
    sha_hex("{\"auc\":1}", 9, h2);
    snprintf(man, sizeof man,
             "{\"job\":\"" ID "\",\"files\":[{\"name\":\"model.json\",\"bytes\":5,\"sha256\":\"%s\"},"
             "{\"name\":\"metrics.json\",\"bytes\":9,\"sha256\":\"%s\"}]}", h1, h2);
    answer a[] = {{A_REPLY, 200, JSON, man, 0, 0, 0}, {A_REPLY, 200, JSON, "model", 0, 0, 0},
                  {A_REPLY, 200, JSON, "{\"auc\":1}", 0, 0, 0}};
    script(a, 3);
    char dir[] = "/tmp/mlhep-gwc.XXXXXX";
    CHECK(mkdtemp(dir));
    char out[256], p[320];
    snprintf(out, sizeof out, "%s/" ID, dir);
    mlhep_err e;
    CHECKF(gwclient_fetch(c, ID, out, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(srv.log[0].url, "/v1/jobs/" ID "/artifacts/MANIFEST.json"));
    CHECK(!strcmp(srv.log[2].url, "/v1/jobs/" ID "/artifacts/metrics.json"));
    struct stat st;
    snprintf(p, sizeof p, "%s/model.json", out);
    CHECK(stat(p, &st) == 0 && st.st_size == 5);
    snprintf(p, sizeof p, "%s/MANIFEST.json", out);
    CHECK(stat(p, &st) == 0 && st.st_size == (off_t)strlen(man));
    /* a file that does not match its checksum */
    snprintf(badman, sizeof badman, "{\"files\":[{\"name\":\"model.json\",\"bytes\":5,\"sha256\":\"%s\"}]}", h2);
    answer b[] = {{A_REPLY, 200, JSON, badman, 0, 0, 0}, {A_REPLY, 200, JSON, "model", 0, 0, 0}};
    script(b, 2);
    CHECK(gwclient_fetch(c, ID, out, &e) == MLHEP_EFORMAT && strstr(e.msg, "model.json arrived with 5 bytes"));
    /* a name that would write outside the directory */
    snprintf(evil, sizeof evil, "{\"files\":[{\"name\":\"../escape\",\"bytes\":5,\"sha256\":\"%s\"}]}", h1);
    answer v = {A_REPLY, 200, JSON, evil, 0, 0, 0};
    script(&v, 1);
    CHECK(gwclient_fetch(c, ID, out, &e) == MLHEP_EFORMAT && strstr(e.msg, "not an artifact name") && nlog() == 1);
    snprintf(p, sizeof p, "%s/escape", dir);
    CHECK(stat(p, &st) != 0);
    /* a file in a sub-directory (params.hist): fetched by its path, written below out */
    static char subman[512];
    snprintf(subman, sizeof subman, "{\"files\":[{\"name\":\"hists/a.svg\",\"bytes\":5,\"sha256\":\"%s\"}]}", h1);
    answer sub[] = {{A_REPLY, 200, JSON, subman, 0, 0, 0}, {A_REPLY, 200, JSON, "model", 0, 0, 0}};
    script(sub, 2);
    CHECKF(gwclient_fetch(c, ID, out, &e) == 0, "%s", e.msg);
    CHECKF(!strcmp(srv.log[1].url, "/v1/jobs/" ID "/artifacts/hists/a.svg"), "%s", srv.log[1].url);
    snprintf(p, sizeof p, "%s/hists/a.svg", out);
    CHECK(stat(p, &st) == 0 && st.st_size == 5);
    /* ... never through a link planted where the sub-directory goes */
    char out2[300], link[400];
    snprintf(out2, sizeof out2, "%s/second", dir);
    CHECK(mkdir(out2, 0755) == 0);
    snprintf(link, sizeof link, "%s/hists", out2);
    CHECK(symlink(dir, link) == 0);
    script(sub, 2);
    CHECK(gwclient_fetch(c, ID, out2, &e) == MLHEP_EIO && strstr(e.msg, "cannot write"));
    snprintf(p, sizeof p, "%s/a.svg", dir);
    CHECK(stat(p, &st) != 0);
    /* one artifact, with its name escaped in the path */
    answer one = {A_REPLY, 200, "image/svg+xml", "<svg/>", 0, 0, 0};
    script(&one, 1);
    char *data;
    size_t n;
    CHECK(gwclient_artifact(c, ID, "roc plot.svg", &data, &n, &e) == 0 && n == 6 && !strcmp(data, "<svg/>"));
    free(data);
    CHECKF(!strcmp(srv.log[0].url, "/v1/jobs/" ID "/artifacts/roc plot.svg"), "%s", srv.log[0].url);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    gwclient_close(c);
}

TEST(archive_to_a_file)
{
    gwclient *c = client("t");
    CHECK(c);
    char dir[] = "/tmp/mlhep-gwc.XXXXXX";
    CHECK(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/job.tar.gz", dir);
    mlhep_err e;
    answer ok = {A_REPLY, 200, "application/gzip", "GZIPPED BYTES", 0, 0, 0};
    script(&ok, 1);
    CHECKF(gwclient_archive(c, ID, path, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(srv.log[0].url, "/v1/jobs/" ID "/archive"));
    FILE *f = fopen(path, "rb");
    char buf[64] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    CHECK(n == 13 && !strcmp(buf, "GZIPPED BYTES"));
    /* a refusal is an error with the gateway's text, not a file holding that text */
    answer no = {A_REPLY, 409, JSON, "{\"error\":\"job " ID " has no artifacts: it is running\",\"code\":\"conflict\"}",
                 0, 0, 0};
    script(&no, 1);
    CHECK(gwclient_archive(c, ID, path, &e) == MLHEP_ECONFLICT);
    CHECKF(strstr(e.msg, "has no artifacts: it is running"), "%s", e.msg);
    struct stat st;
    CHECK(stat(path, &st) != 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    gwclient_close(c);
}

TEST(configuration_refused)
{
    mlhep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    gwclient *c = NULL;
    mlhep_err e;
    cfg.gateway_url = "";
    CHECK(gwclient_open(&cfg, "t", &c, &e) == MLHEP_EINVAL && strstr(e.msg, "gateway_url is not set") && !c);
    cfg.gateway_url = "http://gateway.example.org:8443";
    CHECK(gwclient_open(&cfg, "t", &c, &e) == MLHEP_EINVAL && strstr(e.msg, "in clear") && !c);
    cfg.gateway_url = "ftp://127.0.0.1/";
    CHECK(gwclient_open(&cfg, "t", &c, &e) == MLHEP_EINVAL && !c);
    cfg.gateway_url = "not a url";
    CHECK(gwclient_open(&cfg, "t", &c, &e) == MLHEP_EINVAL && !c);
    cfg.gateway_url = "http://[::1]:8443/";
    CHECK(gwclient_open(&cfg, "t", &c, &e) == 0 && c && !strcmp(gwclient_url(c), "http://[::1]:8443"));
    gwclient_close(c);
    c = NULL;
    cfg.gateway_url = "https://gateway.example.org";
    CHECK(gwclient_open(&cfg, "bad\ntoken", &c, &e) == MLHEP_EAUTH && !c);
    cfg.gateway_ca = "/nonexistent/ca.pem";
    CHECK(gwclient_open(&cfg, "t", &c, &e) == MLHEP_EIO && strstr(e.msg, "gateway_ca") && !c);
}

TEST(connection_refused)
{
    /* nothing listens: ENET naming the gateway, after the configured attempts */
    mlhep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gateway_url = "http://127.0.0.1:1";
    gwclient *c = NULL;
    mlhep_err e;
    CHECK(gwclient_open(&cfg, "t", &c, &e) == 0);
    json_t *d;
    CHECK(gwclient_job(c, ID, &d, &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "gateway http://127.0.0.1:1") && strstr(e.msg, "after 2 attempts"), "%s", e.msg);
    gwclient_close(c);
    /* the configuration's remote_attempts (a user's file) is the policy */
    cfg.remote_attempts = 4;
    CHECK(gwclient_open(&cfg, "t", &c, &e) == 0);
    CHECK(gwclient_job(c, ID, &d, &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "after 4 attempts"), "%s", e.msg);
    gwclient_close(c);
}

int main(void)
{
    setenv("MLHEP_REMOTE_BACKOFF_MS", "0", 1);
    setenv("MLHEP_REMOTE_ATTEMPTS", "2", 1);
    if (server_start()) {
        printf("FAIL test_gwclient.c: cannot start the scripted server\n");
        return 1;
    }
    RUN(status_to_error_code);
    RUN(retry_after_429);
    RUN(idempotency_key_kept_on_retry);
    RUN(live_events);
    RUN(follow_by_polling);
    RUN(pipelined_predictions);
    RUN(fetch_artifacts);
    RUN(archive_to_a_file);
    RUN(configuration_refused);
    RUN(connection_refused);
    MHD_stop_daemon(srv.d);
    return test_summary();
}

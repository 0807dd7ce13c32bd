/* httpd.c - see httpd.h. */
#include "gateway/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>

#include "base/logline.h"
#include "gateway/gateway.h"
#include "gateway/route.h"

#define PEM_MAX (1u << 20)
#define GW_CONN_MEMORY (128 * 1024) /* a connection's memory in libmicrohttpd: see httpd_start */

struct httpd {
    gw_ctx *g;
    FILE *log;
    struct MHD_Daemon *d;
    char *key, *cert;
    unsigned port;
    _Atomic int waiting;   /* connections suspended for an answer */
    _Atomic int parked;    /* connections parked by a streamed answer */
};

int httpd_is_loopback(const char *addr)
{
    if (!addr)
        return 0;
    if (!strcmp(addr, "localhost"))
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* Header and query lookups for gw_req (valid while the request is not completed: the
 * connection is suspended while another thread answers). */
static const char *hdr(void *cls, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)cls, MHD_HEADER_KIND, name);
}

static const char *qarg(void *cls, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)cls, MHD_GET_ARGUMENT_KIND, name);
}

/* One request: received by the event loop, answered by gateway_start's callback (on
 * this or another thread), sent by the event loop. The lock orders the hand-over:
 * the event loop suspends the connection only if the answer has not come yet, and the
 * answer resumes it only if it was suspended. A streamed answer may park the connection
 * again until its producer wakes it. References: the server's (until the request is
 * completed) and a streamed body's producer (until it releases the wakeup). */
typedef struct reqstate {
    httpd *h;
    struct MHD_Connection *conn;
    pthread_mutex_t mu;
    int refs;
    char *body;
    size_t len, cap;
    size_t want;          /* the Content-Length announced (0: none): the body's buffer size */
    gw_sink sink;         /* the route takes the body while it arrives (gateway_body_sink) */
    int too_large;
    int started, done, suspended, closed;
    int parked, pending_wake;  /* streamed answers */
    char peer[INET6_ADDRSTRLEN + 8];
    gw_req req;
    gw_resp resp;              /* the answer, once done */
} reqstate;

static void st_unref(reqstate *st)
{
    pthread_mutex_lock(&st->mu);
    int left = --st->refs;
    pthread_mutex_unlock(&st->mu);
    if (left)
        return;
    gw_resp_clear(&st->resp);
    if (st->sink.release)
        st->sink.release(st->sink.s);
    free(st->body);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* ---- streamed bodies: parked while nothing is ready ---- */

static ssize_t stream_tramp(void *cls, uint64_t pos, char *buf, size_t max)
{
    reqstate *st = cls;
    gw_resp *o = &st->resp;
    ssize_t n = o->reader(o->reader_cls, pos, buf, max);
    if (n != 0)
        return n;
    pthread_mutex_lock(&st->mu);
    if (st->pending_wake) {
        st->pending_wake = 0; /* woken meanwhile: look again at the next call */
    } else {
        st->parked = 1;
        atomic_fetch_add(&st->h->parked, 1);
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static void stream_wake(void *srv)
{
    reqstate *st = srv;
    int resume = 0;
    pthread_mutex_lock(&st->mu);
    if (!st->closed) {
        if (st->parked) {
            st->parked = 0;
            resume = 1;
        } else {
            st->pending_wake = 1;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (resume) {
        atomic_fetch_sub(&st->h->parked, 1);
        MHD_resume_connection(st->conn);
    }
}

static void stream_release(void *srv)
{
    st_unref(srv);
}

static void stream_free_tramp(void *cls)
{
    reqstate *st = cls;
    gw_resp *o = &st->resp;
    if (o->reader_free)
        o->reader_free(o->reader_cls);
    o->reader_free = NULL;
    o->reader = NULL;
    st_unref(st);
}

static enum MHD_Result send_resp(reqstate *st)
{
    struct MHD_Connection *conn = st->conn;
    gw_resp *o = &st->resp;
    struct MHD_Response *resp;
    if (o->reader) {
        pthread_mutex_lock(&st->mu);
        st->refs++; /* the response's, released by stream_free_tramp */
        if (o->stream_attach)
            st->refs++; /* the producer's, released through the wakeup */
        pthread_mutex_unlock(&st->mu);
        if (o->stream_attach) {
            gw_wakeup w = {stream_wake, stream_release, st};
            o->stream_attach(o->reader_cls, &w);
        }
        resp = MHD_create_response_from_callback(o->reader_sized ? o->reader_size : MHD_SIZE_UNKNOWN, 65536,
                                                 stream_tramp, st, stream_free_tramp);
        if (!resp) {
            stream_free_tramp(st);
            return MHD_NO;
        }
    } else {
        resp = MHD_create_response_from_buffer(o->len, o->body ? o->body : (void *)"",
                                               o->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        o->body = NULL;
    }
    if (o->content_type[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, o->content_type);
    for (int i = 0; i < o->nheaders; i++)
        MHD_add_response_header(resp, o->hname[i], o->hvalue[i]);
    MHD_add_response_header(resp, "Server", "mlhep-gateway");
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)o->status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result refuse_now(reqstate *st, int status, const char *code, const char *msg, const char *method,
                                  const char *url)
{
    gw_resp_clear(&st->resp);
    gw_resp_error(&st->resp, status, code, "%s", msg);
    if (st->h->log) {
        char path[300], meth[24];
        gw_log_text(path, sizeof path, url);
        gw_log_text(meth, sizeof meth, method);
        logline_printf(st->h->log, "gateway", "- - %s %s %d 0 0.0ms %s", meth, path, status, code);
    }
    promstats_request(st->h->g->stats, -1, status, 0);
    return send_resp(st);
}

/* gateway_start's callback: the answer, from any thread. */
static void on_answer(void *cls, gw_resp *o)
{
    reqstate *st = cls;
    int resume = 0;
    pthread_mutex_lock(&st->mu);
    st->resp = *o;
    st->done = 1;
    if (st->suspended) {
        st->suspended = 0;
        resume = 1;
    }
    pthread_mutex_unlock(&st->mu);
    if (resume) {
        atomic_fetch_sub(&st->h->waiting, 1);
        MHD_resume_connection(st->conn);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    httpd *h = cls;
    reqstate *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        pthread_mutex_init(&st->mu, NULL);
        st->refs = 1;
        st->h = h;
        st->conn = conn;
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (*end || v > h->g->max_body) {
                char msg[160];
                snprintf(msg, sizeof msg, "the request body is larger than the gateway takes (%zu MiB)",
                         h->g->max_body >> 20);
                st->too_large = 1;
                st->started = st->done = 1;
                return refuse_now(st, 413, "too_large", msg, method, url);
            }
            st->want = (size_t)v;
            gateway_body_sink(h->g, method, url, hdr, conn, st->want, &st->sink);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large) {
            if (st->len + *upload_size > h->g->max_body) {
                st->too_large = 1;
            } else if (st->sink.s) {
                st->sink.feed(st->sink.s, upload, *upload_size);
                st->len += *upload_size;
            } else {
                if (st->len + *upload_size + 1 > st->cap) {
                    /* the announced length at once (one buffer, no copies), else doubling */
                    size_t need = st->len + *upload_size + 1;
                    size_t nc = st->want + 1 >= need ? st->want + 1 : st->cap ? st->cap * 2 : 8192;
                    if (nc < need)
                        nc = need;
                    char *nb = realloc(st->body, nc);
                    if (!nb)
                        return MHD_NO;
                    st->body = nb;
                    st->cap = nc;
                }
                memcpy(st->body + st->len, upload, *upload_size);
                st->len += *upload_size;
                st->body[st->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->started) {
        /* resumed: the answer has come */
        if (!st->done)
            return MHD_YES; /* cannot happen: resumed only when done */
        return send_resp(st);
    }
    if (st->too_large) {
        char msg[160];
        snprintf(msg, sizeof msg, "the request body is larger than the gateway takes (%zu MiB)", h->g->max_body >> 20);
        st->started = st->done = 1;
        return refuse_now(st, 413, "too_large", msg, method, url);
    }
    snprintf(st->peer, sizeof st->peer, "-");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, st->peer, sizeof st->peer);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, st->peer, sizeof st->peer);
    }
    gw_req *r = &st->req;
    r->method = method;
    r->path = url;
    r->body = st->body;
    r->body_len = st->len;
    r->sink = st->sink.s ? &st->sink : NULL;
    r->peer = st->peer;
    r->tls = h->key != NULL;
    r->header = hdr;
    r->query = qarg;
    r->cls = conn;
    st->started = 1;
    gateway_start(h->g, r, h->log, on_answer, st);
    pthread_mutex_lock(&st->mu);
    int done = st->done;
    if (!done) {
        st->suspended = 1;
        atomic_fetch_add(&h->waiting, 1);
        MHD_suspend_connection(conn);
    }
    pthread_mutex_unlock(&st->mu);
    return done ? send_resp(st) : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)conn;
    (void)t;
    reqstate *st = *con_cls;
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->closed = 1;
    pthread_mutex_unlock(&st->mu);
    *con_cls = NULL;
    st_unref(st);
}

/* gw_unescape as libmicrohttpd's unescaper (paths and query arguments) */
static size_t unescape_cb(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return gw_unescape(s);
}

/* libmicrohttpd's own errors: to the access log, or stderr with the log off (--quiet) */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    httpd *h = cls;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    logline_printf(h->log ? h->log : stderr, "gateway", "http: %s", msg);
}

static int read_pem(const char *path, char **out, mlhep_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX, f) : 0;
    int big = buf && n == PEM_MAX && fgetc(f) != EOF;
    fclose(f);
    if (!buf || big || n == 0) {
        free(buf);
        return err_set(e, MLHEP_EINVAL, "%s: empty, unreadable or larger than 1 MiB", path);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

int httpd_start(gw_ctx *g, FILE *log, httpd **out, mlhep_err *e)
{
    const mlhep_config *cfg = g->cfg;
    int tls = cfg->gateway_tls_cert && *cfg->gateway_tls_cert;
    if (tls != (cfg->gateway_tls_key && *cfg->gateway_tls_key))
        return err_set(e, MLHEP_EINVAL, "gateway_tls_cert and gateway_tls_key go together");
    if (!tls && !httpd_is_loopback(cfg->gateway_bind))
        return err_set(e, MLHEP_EINVAL,
                       "gateway_bind = %s is not a loopback address: the gateway serves it only over TLS "
                       "(set gateway_tls_cert and gateway_tls_key)", cfg->gateway_bind);
    httpd *h = calloc(1, sizeof *h);
    if (!h)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    h->g = g;
    h->log = log;
    int rc = 0;
    if (tls) {
        rc = read_pem(cfg->gateway_tls_key, &h->key, e);
        if (!rc)
            rc = read_pem(cfg->gateway_tls_cert, &h->cert, e);
        if (rc) {
            httpd_stop(h);
            return rc;
        }
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    const char *bind = !strcmp(cfg->gateway_bind, "localhost") ? "127.0.0.1" : cfg->gateway_bind;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (tls ? MHD_USE_TLS : 0);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)cfg->gateway_port);
    } else if (inet_pton(AF_INET6, bind, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)cfg->gateway_port);
        flags |= MHD_USE_IPv6;
    } else {
        httpd_stop(h);
        return err_set(e, MLHEP_EINVAL, "gateway_bind = %s: give a numeric IPv4 or IPv6 address", cfg->gateway_bind);
    }
    struct MHD_OptionItem opts[16];
    int k = 0;
    /* the logger first: libmicrohttpd logs the options that follow through it */
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_error, h};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->gateway_connections, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, cfg->gateway_idle_timeout, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_cb, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
    /* a connection's memory (request line and headers, and the read buffer): a body is
     * read about half of it per recv(2) and epoll_wait(2) pair, and libmicrohttpd
     * clears all of it after every request. Measured against 32 KiB (alternated, load
     * about 2): a 15 MB v2 request 7.4-7.6 ms of the gateway's CPU instead of 8.9 (it
     * took about 975 recv and 740 epoll_wait calls), a one-row /json request 34.5-37.6
     * us instead of 32.0-32.6 (the clearing), requests/s the same within the noise */
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, GW_CONN_MEMORY, NULL};
    if (cfg->gateway_http_threads > 1)
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->gateway_http_threads, NULL};
    if (tls) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
    }
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->d) {
        rc = err_set(e, MLHEP_EIO, "cannot listen on %s:%d (in use, or not an address of this host)",
                     cfg->gateway_bind, cfg->gateway_port);
        httpd_stop(h);
        return rc;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : (unsigned)cfg->gateway_port;
    *out = h;
    return 0;
}

void httpd_stop(httpd *h)
{
    if (!h)
        return;
    if (h->d) {
        /* every suspended connection must be resumed before the daemon stops: end what
         * is in flight (answers come, streams end), then wait for the connections */
        gateway_quiesce(h->g);
        for (int i = 0; i < 400 && (atomic_load(&h->waiting) > 0 || atomic_load(&h->parked) > 0); i++) {
            struct timespec ts = {0, 25 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(h->d);
    }
    if (h->key) {
        memset(h->key, 0, strlen(h->key));
        free(h->key);
    }
    free(h->cert);
    free(h);
}

unsigned httpd_port(const httpd *h)
{
    return h ? h->port : 0;
}

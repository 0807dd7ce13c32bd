/* source_http.c - http(s):// byte sources over libcurl (see source_http.h).
 *
 * One transfer (an xfer) asks for a sorted list of ranges. Its body is parsed as it
 * streams in: a multipart/byteranges answer part by part (boundary lines, each part's
 * Content-Range, then the bytes), a single-range 206 or a 200 as one run of bytes
 * starting at the Content-Range start or at 0. Either way every byte is copied to the
 * requested ranges it overlaps (fill()), and the transfer is complete when each range
 * got all its bytes. A 200 is cut off as soon as the wanted bytes have arrived.
 *
 * Single transfers (read_at) run on pooled easy handles from any thread; readv runs
 * its transfers HTTP_PARALLEL at a time on the source's multi handle (one readv at a
 * time). Both keep their connections open between calls. */
#include "root/source_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "root/netretry.h"

#define POOL_MAX 16
#define MAX_REDIRS 8

typedef struct http_impl {
    netretry pol;
    int https;
    char url[sizeof((source *)0)->name]; /* where transfers go: the URL after the redirects seen at open */
    char origin[300];        /* host:port of the URL asked for */
    char ca_file[512], ca_dir[512], proxy[512]; /* "" = none */
    struct curl_slist *hdrs; /* Authorization, if any */
    int send_token;          /* hdrs go to url's host (the origin, or a remote_token_forward host) */
    int token_dropped;       /* a redirect target outside remote_token_forward did not get the token */
    char token_from[64];     /* where the token came from (messages) */
    pthread_mutex_t lock;    /* pool */
    CURL *pool[POOL_MAX];
    int npool;
    pthread_mutex_t mlock;   /* the multi path */
    CURLM *multi;
    CURL *mh[HTTP_PARALLEL];
    int no_multirange;       /* atomic: the server answered a multi-range request otherwise */
    const hostpolicy *hosts; /* data_hosts, or NULL */
    hostpolicy_addrs pins;   /* the addresses checked at open */
    struct curl_slist *resolve; /* host:port:addresses for CURLOPT_RESOLVE */
    atomic_int refused;      /* a socket to an address data_hosts refuses was not opened */
} http_impl;

enum { ST_START, ST_IGNORE, ST_RUN, ST_MP_LINE, ST_MP_HDRS, ST_MP_DATA, ST_MP_END };

typedef struct xfer {
    source_range *r; /* sorted by off, non-overlapping, len > 0 */
    size_t n;
    size_t *filled;
    char *range;     /* "a-b,c-d" */
    uint64_t need, got;
    /* response */
    long status;
    int multipart;
    char boundary[96];
    int crange_ok;
    uint64_t ca, cb, ctotal;
    /* body parser */
    int state;
    uint64_t pos, remain;
    char line[512];
    size_t linelen;
    int part_ok;
    uint64_t pa, pb;
    int perr;        /* malformed answer */
    int stop;        /* cut off on purpose (200 with everything wanted) */
    char www_auth[200]; /* WWW-Authenticate's error_description or error, if any */
    /* outcome */
    int code, retry, partial;
    char msg[400];
} xfer;

/* ---------------------------------------------------------------- parsing */

/* "bytes a-b/total" (total may be "*": *t = 0) */
static int parse_crange(const char *v, uint64_t *a, uint64_t *b, uint64_t *t)
{
    while (*v == ' ')
        v++;
    if (strncasecmp(v, "bytes", 5) != 0)
        return -1;
    v += 5;
    while (*v == ' ' || *v == '=')
        v++;
    unsigned long long x, y;
    if (sscanf(v, "%llu-%llu", &x, &y) != 2 || y < x)
        return -1;
    *a = x;
    *b = y;
    const char *sl = strchr(v, '/');
    *t = sl ? strtoull(sl + 1, NULL, 10) : 0;
    return 0;
}

static void fill(xfer *x, uint64_t pos, const char *data, size_t k)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) { /* first range ending after pos */
        size_t m = (lo + hi) / 2;
        if (x->r[m].off + x->r[m].len <= pos)
            lo = m + 1;
        else
            hi = m;
    }
    for (size_t i = lo; i < x->n && x->r[i].off < pos + k; i++) {
        uint64_t a = x->r[i].off > pos ? x->r[i].off : pos;
        uint64_t b = x->r[i].off + x->r[i].len < pos + k ? x->r[i].off + x->r[i].len : pos + k;
        if (b <= a)
            continue;
        memcpy((char *)x->r[i].buf + (a - x->r[i].off), data + (a - pos), (size_t)(b - a));
        if (x->filled[i] + (b - a) <= x->r[i].len) {
            x->filled[i] += (size_t)(b - a);
            x->got += b - a;
        }
    }
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    char h[512];
    size_t l = n < sizeof h - 1 ? n : sizeof h - 1;
    memcpy(h, p, l);
    h[l] = 0;
    while (l && (h[l - 1] == '\r' || h[l - 1] == '\n'))
        h[--l] = 0;
    if (strncmp(h, "HTTP/", 5) == 0) { /* a new response (redirect, 100 Continue) */
        const char *sp = strchr(h, ' ');
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->multipart = 0;
        x->crange_ok = 0;
        x->boundary[0] = 0;
    } else if (strncasecmp(h, "content-type:", 13) == 0) {
        const char *v = h + 13;
        while (*v == ' ')
            v++;
        if (strncasecmp(v, "multipart/byteranges", 20) == 0) {
            const char *b = strstr(v, "boundary=");
            if (b) {
                b += 9;
                int q = *b == '"';
                b += q;
                size_t bl = 0;
                while (b[bl] && bl < sizeof x->boundary - 1 && (q ? b[bl] != '"' : b[bl] != ';' && b[bl] != ' '))
                    bl++;
                memcpy(x->boundary, b, bl);
                x->boundary[bl] = 0;
                x->multipart = bl > 0;
            }
        }
    } else if (strncasecmp(h, "content-range:", 14) == 0) {
        x->crange_ok = parse_crange(h + 14, &x->ca, &x->cb, &x->ctotal) == 0;
    } else if (strncasecmp(h, "www-authenticate:", 17) == 0) {
        const char *v = strstr(h, "error_description=\"");
        size_t k = 19;
        if (!v) {
            v = strstr(h, "error=\"");
            k = 7;
        }
        if (v) {
            v += k;
            size_t l = 0;
            while (v[l] && v[l] != '"' && l < sizeof x->www_auth - 1)
                l++;
            memcpy(x->www_auth, v, l);
            x->www_auth[l] = 0;
        }
    }
    return n;
}

static void mp_line(xfer *x)
{
    char *l = x->line;
    size_t n = x->linelen;
    if (n && l[n - 1] == '\r')
        l[--n] = 0;
    size_t bl = strlen(x->boundary);
    if (x->state == ST_MP_LINE) {
        if (n >= bl + 2 && l[0] == '-' && l[1] == '-' && memcmp(l + 2, x->boundary, bl) == 0) {
            if (n >= bl + 4 && l[bl + 2] == '-' && l[bl + 3] == '-')
                x->state = ST_MP_END;
            else {
                x->state = ST_MP_HDRS;
                x->part_ok = 0;
            }
        }
        return;
    }
    /* part headers */
    if (n == 0) {
        if (!x->part_ok) {
            x->perr = 1;
            snprintf(x->msg, sizeof x->msg, "malformed multipart answer: a part without Content-Range");
            return;
        }
        x->state = ST_MP_DATA;
        x->pos = x->pa;
        x->remain = x->pb - x->pa + 1;
    } else if (strncasecmp(l, "content-range:", 14) == 0) {
        uint64_t t;
        x->part_ok = parse_crange(l + 14, &x->pa, &x->pb, &t) == 0;
    }
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm, all = n;
    if (x->state == ST_START) {
        if (x->status == 206 && x->multipart) {
            x->state = ST_MP_LINE;
        } else if (x->status == 206 && x->crange_ok) {
            x->state = ST_RUN;
            x->pos = x->ca;
            x->remain = x->cb - x->ca + 1;
        } else if (x->status == 200) {
            x->state = ST_RUN;
            x->pos = 0;
            x->remain = UINT64_MAX;
        } else {
            x->state = ST_IGNORE;
        }
    }
    while (n > 0 && !x->perr) {
        switch (x->state) {
        case ST_RUN:
        case ST_MP_DATA: {
            size_t k = x->remain < n ? (size_t)x->remain : n;
            fill(x, x->pos, p, k);
            x->pos += k;
            x->remain -= k;
            p += k;
            n -= k;
            if (x->remain == 0)
                x->state = x->state == ST_MP_DATA ? ST_MP_LINE : ST_IGNORE;
            break;
        }
        case ST_MP_LINE:
        case ST_MP_HDRS: {
            char *nl = memchr(p, '\n', n);
            size_t k = nl ? (size_t)(nl - p) : n;
            size_t room = sizeof x->line - 1 - x->linelen;
            memcpy(x->line + x->linelen, p, k < room ? k : room);
            x->linelen += k < room ? k : room;
            x->line[x->linelen] = 0;
            p += k;
            n -= k;
            if (nl) {
                p++;
                n--;
                mp_line(x);
                x->linelen = 0;
            }
            break;
        }
        default: /* ST_IGNORE, ST_MP_END: error bodies, epilogue */
            n = 0;
            break;
        }
    }
    if (x->perr)
        return 0;
    if (x->status == 200 && x->got == x->need) { /* no need to download the rest of the file */
        x->stop = 1;
        return 0;
    }
    return all;
}

/* ---------------------------------------------------------------- transfers */

static void xfer_reset(xfer *x)
{
    memset(x->filled, 0, x->n * sizeof *x->filled);
    x->got = 0;
    x->status = 0;
    x->multipart = x->crange_ok = 0;
    x->state = ST_START;
    x->linelen = 0;
    x->perr = x->stop = 0;
    x->code = x->retry = x->partial = 0;
    x->msg[0] = 0;
    x->www_auth[0] = 0;
}

/* Sets up x for ranges r[0..n) (sorted, len > 0); 0 or -1 (out of memory). */
static int xfer_init(xfer *x, source_range *r, size_t n)
{
    memset(x, 0, sizeof *x);
    x->r = r;
    x->n = n;
    x->filled = calloc(n, sizeof *x->filled);
    x->range = malloc(n * 44 + 1);
    if (!x->filled || !x->range)
        return -1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        pos += (size_t)sprintf(x->range + pos, "%s%llu-%llu", i ? "," : "", (unsigned long long)r[i].off,
                               (unsigned long long)(r[i].off + r[i].len - 1));
        x->need += r[i].len;
    }
    return 0;
}

static void xfer_free(xfer *x)
{
    free(x->filled);
    free(x->range);
}

static void set_http_status(xfer *x)
{
    long s = x->status;
    x->retry = 1;
    if (s == 401 || s == 403) {
        x->code = MLHEP_EAUTH; /* final: the same credential will be refused again */
        x->retry = 0;
    } else if (s == 404 || s == 410) {
        x->code = MLHEP_ENOTFOUND;
        x->retry = 0;
    } else if (s == 416) {
        x->code = MLHEP_EFORMAT;
        x->retry = 0;
    } else if (s >= 500 || s == 408 || s == 429) {
        x->code = MLHEP_ENET;
    } else {
        x->code = MLHEP_EIO;
        x->retry = 0;
    }
    const char *what = s == 401 ? " Unauthorized" : s == 403 ? " Forbidden" : s == 404 ? " Not Found"
                     : s == 416 ? " Range Not Satisfiable" : s == 500 ? " Internal Server Error"
                     : s == 502 ? " Bad Gateway" : s == 503 ? " Service Unavailable" : "";
    if (x->www_auth[0])
        snprintf(x->msg, sizeof x->msg, "HTTP %ld%s (%s)", s, what, x->www_auth);
    else
        snprintf(x->msg, sizeof x->msg, "HTTP %ld%s", s, what);
}

/* Judges a finished transfer: x->code 0 (complete, or x->partial: the server sent
 * fewer ranges than asked) or an error with x->retry and x->msg. */
static void xfer_finish(xfer *x, CURL *h, CURLcode cc, const char *errbuf)
{
    if (x->perr) {
        x->code = MLHEP_ENET;
        x->retry = 1;
        return;
    }
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && x->stop)) {
        long oserr = 0;
        if (h)
            curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        x->code = MLHEP_ENET;
        x->retry = 1;
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
            snprintf(x->msg, sizeof x->msg, "%s", oserr == ECONNREFUSED ? "connection refused"
                                                  : errbuf[0]            ? errbuf
                                                                         : curl_easy_strerror(cc));
            break;
        case CURLE_OPERATION_TIMEDOUT: snprintf(x->msg, sizeof x->msg, "timed out (%s)", errbuf); break;
        case CURLE_TOO_MANY_REDIRECTS:
            x->retry = 0;
            x->code = MLHEP_EIO;
            snprintf(x->msg, sizeof x->msg, "redirect loop (more than %d redirects)", MAX_REDIRS);
            break;
        case CURLE_PEER_FAILED_VERIFICATION:
            x->retry = 0;
            x->code = MLHEP_EAUTH;
            snprintf(x->msg, sizeof x->msg, "TLS: the server's certificate does not verify (%s): wrong or missing CA? "
                     "(remote_ca_bundle, remote_ca_dir, X509_CERT_DIR)", errbuf[0] ? errbuf : curl_easy_strerror(cc));
            break;
        case CURLE_SSL_CONNECT_ERROR: /* a refused client certificate is an alert; a reset is transient */
            if (strstr(errbuf, "alert") || strstr(errbuf, "certificate")) {
                x->retry = 0;
                x->code = MLHEP_EAUTH;
                snprintf(x->msg, sizeof x->msg, "TLS handshake refused (%s): client certificate or proxy not accepted?",
                         errbuf);
            } else {
                snprintf(x->msg, sizeof x->msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
            }
            break;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_LOGIN_DENIED:
        case CURLE_AUTH_ERROR:
            x->retry = 0;
            x->code = cc == CURLE_COULDNT_RESOLVE_HOST ? MLHEP_ENET : MLHEP_EAUTH;
            if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
                x->code = MLHEP_EINVAL;
            /* fall through */
        default:
            snprintf(x->msg, sizeof x->msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
            break;
        }
        return;
    }
    if (x->status != 200 && x->status != 206) {
        set_http_status(x);
        return;
    }
    if (x->got == x->need)
        return;
    if (x->n > 1 && (x->status == 200 || !x->multipart)) {
        x->partial = 1; /* the server does not do multi-range: fetch the rest one by one */
        return;
    }
    x->code = MLHEP_ENET;
    x->retry = 1;
    snprintf(x->msg, sizeof x->msg, "short answer: %llu of %llu bytes (HTTP %ld)", (unsigned long long)x->got,
             (unsigned long long)x->need, x->status);
}

int http_parse_answer(const char *head, size_t headlen, const void *body, size_t bodylen, size_t piece,
                      source_range *r, size_t n, mlhep_err *e)
{
    if (n == 0)
        return err_set(e, MLHEP_EINVAL, "no ranges");
    for (size_t i = 0; i < n; i++)
        if (!r[i].len || (i && r[i].off < r[i - 1].off + r[i - 1].len))
            return err_set(e, MLHEP_EINVAL, "ranges must be sorted, disjoint and non-empty");
    xfer x;
    if (xfer_init(&x, r, n)) {
        xfer_free(&x);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    xfer_reset(&x);
    for (size_t i = 0; i < headlen;) {
        const char *nl = memchr(head + i, '\n', headlen - i);
        size_t l = nl ? (size_t)(nl - (head + i)) + 1 : headlen - i;
        on_header((char *)head + i, 1, l, &x);
        i += l;
    }
    CURLcode cc = CURLE_OK;
    if (!piece)
        piece = bodylen ? bodylen : 1;
    for (size_t i = 0; i < bodylen; i += piece) {
        size_t l = bodylen - i < piece ? bodylen - i : piece;
        if (on_body((char *)body + i, 1, l, &x) != l) {
            cc = CURLE_WRITE_ERROR;
            break;
        }
    }
    if (x.state == ST_START) /* empty body: decide the answer's kind anyway */
        on_body(NULL, 1, 0, &x);
    xfer_finish(&x, NULL, cc, "");
    int rc = x.code ? err_set(e, x.code, "%s", x.msg) : x.partial;
    xfer_free(&x);
    return rc;
}

/* CURLOPT_OPENSOCKETFUNCTION: every connection, redirects included, goes only to an
 * address data_hosts allows. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    http_impl *hi = ctx;
    (void)purpose;
    if (hi->hosts && !hostpolicy_socket_ok(hi->hosts, &hi->pins, &a->addr)) {
        atomic_store(&hi->refused, 1);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* xfer_finish, plus a refused socket: final, and said as such */
static void finish_checked(http_impl *hi, xfer *x, CURL *h, CURLcode cc, const char *errbuf)
{
    xfer_finish(x, h, cc, errbuf);
    if (x->code == MLHEP_EAUTH && (x->status == 401 || x->status == 403)) { /* say what was sent */
        size_t l = strlen(x->msg);
        if (hi->send_token)
            snprintf(x->msg + l, sizeof x->msg - l, ": a bearer token (%s) was sent and refused", hi->token_from);
        else if (hi->token_dropped)
            snprintf(x->msg + l, sizeof x->msg - l, ": the bearer token was not forwarded to the redirect target %.200s "
                     "(not in remote_token_forward)", hi->url);
        else if (!hi->https && hi->hdrs)
            snprintf(x->msg + l, sizeof x->msg - l, ": no bearer token was sent (tokens go over https:// only)");
        else
            snprintf(x->msg + l, sizeof x->msg - l, ": no bearer token was sent");
    }
    if (atomic_exchange(&hi->refused, 0) && x->code) {
        x->code = MLHEP_EAUTH;
        x->retry = 0;
        snprintf(x->msg, sizeof x->msg, "a connection to an address data_hosts does not allow (a redirect to a "
                 "loopback, private or unlisted address?) was refused");
    }
}

static int hi_setup(http_impl *hi, CURL *h, const char *url)
{
    CURLcode c = CURLE_OK;
#define SET(opt, val) (c = c != CURLE_OK ? c : curl_easy_setopt(h, opt, val))
    SET(CURLOPT_URL, url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 1L); /* later hops than those seen at open: libcurl drops the token */
    SET(CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_CONNECTTIMEOUT, (long)hi->pol.timeout_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, (long)hi->pol.timeout_s);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_USERAGENT, "mlhep");
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    if (hi->hosts) {
        SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
        SET(CURLOPT_OPENSOCKETDATA, hi);
        if (hi->resolve)
            SET(CURLOPT_RESOLVE, hi->resolve);
    }
    SET(CURLOPT_HTTPHEADER, hi->send_token ? hi->hdrs : NULL);
    if (hi->proxy[0]) {
        SET(CURLOPT_SSLCERT, hi->proxy);
        SET(CURLOPT_SSLKEY, hi->proxy);
    }
    if (hi->ca_dir[0])
        SET(CURLOPT_CAPATH, hi->ca_dir);
    if (hi->ca_file[0])
        SET(CURLOPT_CAINFO, hi->ca_file);
#undef SET
    return c == CURLE_OK ? 0 : -1;
}

static CURL *pool_get(source *s)
{
    http_impl *hi = s->impl;
    CURL *h = NULL;
    pthread_mutex_lock(&hi->lock);
    if (hi->npool)
        h = hi->pool[--hi->npool];
    pthread_mutex_unlock(&hi->lock);
    if (h)
        return h;
    h = curl_easy_init();
    if (h && hi_setup(hi, h, hi->url)) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

static void pool_put(source *s, CURL *h)
{
    http_impl *hi = s->impl;
    pthread_mutex_lock(&hi->lock);
    if (hi->npool < POOL_MAX) {
        hi->pool[hi->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&hi->lock);
    if (h)
        curl_easy_cleanup(h);
}

static void xfer_bind(xfer *x, CURL *h, char *errbuf)
{
    xfer_reset(x);
    errbuf[0] = 0;
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_RANGE, x->range);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

static int fail_msg(source *s, mlhep_err *e, const xfer *x, const char *what, int attempts)
{
    if (attempts > 1)
        return err_set(e, x->code, "%s: %s: %s after %d attempts", s->name, what, x->msg, attempts);
    return err_set(e, x->code, "%s: %s: %s", s->name, what, x->msg);
}

/* One transfer on a pooled handle, with retries. */
static int run_one(source *s, xfer *x, const char *what, mlhep_err *e)
{
    http_impl *hi = s->impl;
    CURL *h = pool_get(s);
    if (!h)
        return err_set(e, MLHEP_ENOMEM, "%s: cannot set up a transfer", s->name);
    char errbuf[CURL_ERROR_SIZE];
    for (int k = 0;;) {
        xfer_bind(x, h, errbuf);
        CURLcode cc = curl_easy_perform(h);
        finish_checked(hi, x, h, cc, errbuf);
        if (!x->code)
            break;
        if (!x->retry || ++k >= hi->pol.attempts) {
            curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
            pool_put(s, h);
            return fail_msg(s, e, x, what, k + (x->retry ? 0 : 1));
        }
        netretry_backoff(&hi->pol, k);
    }
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    pool_put(s, h);
    return 0;
}

/* Runs transfers x[0..n) HTTP_PARALLEL at a time on the multi handle; failed ones
 * that may succeed later run again after a backoff (all together), up to the
 * attempts of the policy. Caller holds mlock. */
static int run_many(source *s, xfer *x, size_t n, const char *what, mlhep_err *e)
{
    http_impl *hi = s->impl;
    char errbuf[HTTP_PARALLEL][CURL_ERROR_SIZE];
    size_t *todo = malloc(n * sizeof *todo);
    if (!todo)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        todo[i] = i;
    size_t ntodo = n;
    int rc = 0;
    for (int k = 0; ntodo && !rc;) {
        xfer *slot[HTTP_PARALLEL] = {0};
        size_t next = 0, active = 0, nfail = 0;
        while ((next < ntodo || active) && !rc) {
            for (int j = 0; j < HTTP_PARALLEL && next < ntodo; j++) {
                if (slot[j])
                    continue;
                if (!hi->mh[j] && (!(hi->mh[j] = curl_easy_init()) || hi_setup(hi, hi->mh[j], hi->url))) {
                    rc = err_set(e, MLHEP_ENOMEM, "%s: cannot set up a transfer", s->name);
                    break;
                }
                slot[j] = &x[todo[next++]];
                xfer_bind(slot[j], hi->mh[j], errbuf[j]);
                curl_easy_setopt(hi->mh[j], CURLOPT_PRIVATE, slot[j]);
                curl_multi_add_handle(hi->multi, hi->mh[j]);
                active++;
            }
            if (rc)
                break;
            int running = 0;
            CURLMcode mc = curl_multi_perform(hi->multi, &running);
            if (mc == CURLM_OK && running)
                mc = curl_multi_poll(hi->multi, NULL, 0, 1000, NULL);
            if (mc != CURLM_OK) {
                rc = err_set(e, MLHEP_ENET, "%s: %s", s->name, curl_multi_strerror(mc));
                break;
            }
            CURLMsg *m;
            int q;
            while ((m = curl_multi_info_read(hi->multi, &q))) {
                if (m->msg != CURLMSG_DONE)
                    continue;
                int j = 0;
                while (j < HTTP_PARALLEL && hi->mh[j] != m->easy_handle)
                    j++;
                CURLcode cc = m->data.result;
                curl_multi_remove_handle(hi->multi, m->easy_handle);
                if (j == HTTP_PARALLEL || !slot[j])
                    continue;
                xfer *t = slot[j];
                slot[j] = NULL;
                active--;
                finish_checked(hi, t, hi->mh[j], cc, errbuf[j]);
                if (t->code) {
                    if (!t->retry || k + 1 >= hi->pol.attempts) {
                        rc = fail_msg(s, e, t, what, k + 1);
                    } else {
                        todo[nfail++] = (size_t)(t - x); /* todo[0..next) is consumed: safe to reuse */
                    }
                }
            }
        }
        for (int j = 0; j < HTTP_PARALLEL; j++)
            if (slot[j]) {
                curl_multi_remove_handle(hi->multi, hi->mh[j]);
                slot[j] = NULL;
            }
        ntodo = nfail;
        if (ntodo && !rc)
            netretry_backoff(&hi->pol, ++k);
    }
    for (int j = 0; j < HTTP_PARALLEL; j++)
        if (hi->mh[j])
            curl_easy_setopt(hi->mh[j], CURLOPT_ERRORBUFFER, NULL);
    free(todo);
    return rc;
}

/* ---------------------------------------------------------------- source ops */

static int http_read_at(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e)
{
    if (len == 0)
        return 0;
    source_range r = {off, len, buf};
    xfer x;
    if (xfer_init(&x, &r, 1)) {
        xfer_free(&x);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    char what[96];
    snprintf(what, sizeof what, "read of %zu bytes at offset %llu", len, (unsigned long long)off);
    int rc = run_one(s, &x, what, e);
    xfer_free(&x);
    return rc;
}

static int cmp_off(const void *a, const void *b)
{
    const source_range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int http_readv(source *s, source_range *rin, size_t nin, mlhep_err *e)
{
    http_impl *hi = s->impl;
    source_range *r = malloc((nin + 1) * sizeof *r);
    if (!r)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < nin; i++)
        if (rin[i].len)
            r[n++] = rin[i];
    qsort(r, n, sizeof *r, cmp_off);
    for (size_t i = 1; i < n; i++)
        if (r[i].off < r[i - 1].off + r[i - 1].len) { /* overlaps: fetch one by one */
            free(r);
            for (size_t j = 0; j < nin; j++) {
                int rc = http_read_at(s, rin[j].off, rin[j].len, rin[j].buf, e);
                if (rc)
                    return rc;
            }
            return 0;
        }
    int multi = !__atomic_load_n(&hi->no_multirange, __ATOMIC_RELAXED);
    size_t per = multi ? HTTP_MAX_RANGES : 1;
    size_t nx = (n + per - 1) / per;
    xfer *x = calloc(nx + 1, sizeof *x);
    int rc = x ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < nx && !rc; i++)
        if (xfer_init(&x[i], r + i * per, i + 1 < nx ? per : n - i * per))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    char what[96];
    snprintf(what, sizeof what, "vector read of %zu range%s", n, n == 1 ? "" : "s");
    if (!rc) {
        pthread_mutex_lock(&hi->mlock);
        rc = nx == 1 ? run_one(s, &x[0], what, e) : run_many(s, x, nx, what, e);
        size_t issued = nx;
        /* ranges a non-multi-range server left out: one request each */
        size_t miss = 0;
        for (size_t i = 0; i < nx && !rc; i++)
            if (x[i].partial)
                for (size_t j = 0; j < x[i].n; j++)
                    miss += x[i].filled[j] < x[i].r[j].len;
        if (miss && !rc) {
            __atomic_store_n(&hi->no_multirange, 1, __ATOMIC_RELAXED);
            xfer *y = calloc(miss, sizeof *y);
            size_t ny = 0;
            rc = y ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
            for (size_t i = 0; i < nx && !rc; i++)
                for (size_t j = 0; x[i].partial && j < x[i].n && !rc; j++)
                    if (x[i].filled[j] < x[i].r[j].len && xfer_init(&y[ny++], &x[i].r[j], 1))
                        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            if (!rc)
                rc = ny == 1 ? run_one(s, &y[0], what, e) : run_many(s, y, ny, what, e);
            issued += ny;
            for (size_t i = 0; i < ny; i++)
                xfer_free(&y[i]);
            free(y);
        }
        pthread_mutex_unlock(&hi->mlock);
        if (issued > 1)
            __atomic_add_fetch(&s->n_requests, issued - 1, __ATOMIC_RELAXED);
    }
    for (size_t i = 0; x && i < nx; i++)
        xfer_free(&x[i]);
    free(x);
    free(r);
    return rc;
}

static void http_close(source *s)
{
    http_impl *hi = s->impl;
    if (!hi)
        return;
    for (int i = 0; i < hi->npool; i++)
        curl_easy_cleanup(hi->pool[i]);
    for (int j = 0; j < HTTP_PARALLEL; j++)
        if (hi->mh[j])
            curl_easy_cleanup(hi->mh[j]);
    if (hi->multi)
        curl_multi_cleanup(hi->multi);
    curl_slist_free_all(hi->hdrs);
    curl_slist_free_all(hi->resolve);
    pthread_mutex_destroy(&hi->lock);
    pthread_mutex_destroy(&hi->mlock);
    free(hi);
}

static const source_ops http_ops = {http_read_at, http_readv, http_close};

int http_bearer_token(char *buf, size_t n, mlhep_err *e)
{
    const char *from;
    return srcaccess_token(NULL, buf, n, &from, e);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* host:port of url (default port from the scheme) into out; "" when there is none */
static void url_hostport(const char *url, char *out, size_t n)
{
    char host[256];
    int port = 0;
    mlhep_err e;
    out[0] = 0;
    if (hostpolicy_url_host(url, strncmp(url, "https://", 8) == 0 ? 443 : 80, host, sizeof host, &port, &e) == 0)
        snprintf(out, n, "%s:%d", host, port);
}

/* data_hosts: the host by name, then its addresses, once; CURLOPT_RESOLVE pins them
 * (every host a redirect seen at open leads to is added) */
static int pin_host(http_impl *hi, const char *url, mlhep_err *e)
{
    char host[256];
    int port;
    int rc = hostpolicy_url_host(url, strncmp(url, "https://", 8) == 0 ? 443 : 80, host, sizeof host, &port, e);
    if (!rc)
        rc = hostpolicy_resolve(hi->hosts, host, port, &hi->pins, e);
    if (rc)
        return rc;
    unsigned char lit[16];
    if (inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1)
        return 0; /* an IP literal: nothing to resolve */
    char line[300 + HOSTPOLICY_MAX_ADDRS * 50];
    int n = snprintf(line, sizeof line, "%s:%d:", host, port);
    for (size_t i = 0; i < hi->pins.n; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, strchr(hi->pins.text[i], ':') ? "%s[%s]" : "%s%s",
                      i ? "," : "", hi->pins.text[i]);
    struct curl_slist *l = curl_slist_append(hi->resolve, line);
    if (!l)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    hi->resolve = l;
    return 0;
}

/* Whether the token goes to url: https only; the host:port asked for, or one that
 * remote_token_forward lists (opt-in: a redirect to another host or port gets no token
 * otherwise - libcurl's rule, kept). */
static void choose_token(http_impl *hi, const srcaccess *acc, const char *url)
{
    char hp[300];
    url_hostport(url, hp, sizeof hp);
    int https = strncmp(url, "https://", 8) == 0;
    mlhep_err e;
    int same = hp[0] && strcmp(hp, hi->origin) == 0;
    int listed = acc && acc->token_hosts && hostpolicy_check_url(acc->token_hosts, url, &e) == 0;
    hi->send_token = hi->hdrs && https && (same || listed);
    hi->token_dropped = hi->hdrs && !hi->send_token;
}

/* A 3xx seen while the size is asked for: the next hop, checked (data_hosts, loops,
 * count) and chosen a token for. 0, or a final error in x. */
static int redirect_hop(source *s, const srcaccess *acc, CURL *h, xfer *x, int *hops, mlhep_err *e)
{
    http_impl *hi = s->impl;
    char *loc = NULL;
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc || !*loc)
        return err_set(e, MLHEP_EIO, "HTTP %ld redirect without a Location", x->status);
    if (++*hops > MAX_REDIRS)
        return err_set(e, MLHEP_EIO, "redirect loop (more than %d redirects)", MAX_REDIRS);
    if (strncmp(loc, "https://", 8) != 0 && strncmp(loc, "http://", 7) != 0)
        return err_set(e, MLHEP_EINVAL, "redirect to %.200s: only http:// and https:// are followed", loc);
    if (strlen(loc) >= sizeof hi->url)
        return err_set(e, MLHEP_EINVAL, "redirect target is too long (%zu bytes)", strlen(loc));
    if (strcmp(loc, hi->url) == 0 || strcmp(loc, s->name) == 0)
        return err_set(e, MLHEP_EIO, "redirect loop: %.200s redirects to itself or back to the start", hi->url);
    if (hi->hosts) {
        int rc = pin_host(hi, loc, e);
        if (rc)
            return err_prefix(e, "redirect to %.200s", loc);
    }
    snprintf(hi->url, sizeof hi->url, "%s", loc);
    choose_token(hi, acc, hi->url);
    curl_easy_setopt(h, CURLOPT_URL, hi->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hi->send_token ? hi->hdrs : NULL);
    if (hi->resolve)
        curl_easy_setopt(h, CURLOPT_RESOLVE, hi->resolve);
    return 0;
}

/* The size: HEAD's Content-Length, else the total of a one-byte range's Content-Range.
 * Redirects are followed here one hop at a time (each hop checked, the token sent only
 * where choose_token allows); later transfers go straight to the last hop. */
static int http_size(source *s, const srcaccess *acc, uint64_t *size, mlhep_err *e)
{
    http_impl *hi = s->impl;
    CURL *h = pool_get(s);
    if (!h)
        return err_set(e, MLHEP_ENOMEM, "cannot set up a transfer");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    char errbuf[CURL_ERROR_SIZE];
    char one;
    source_range r = {0, 1, &one};
    xfer x;
    int rc = 0, hops = 0;
    if (xfer_init(&x, &r, 1)) {
        xfer_free(&x);
        pool_put(s, h);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (int k = 0;;) {
        /* HEAD */
        xfer_reset(&x);
        errbuf[0] = 0;
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_RANGE, NULL);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        CURLcode cc = curl_easy_perform(h);
        curl_off_t cl = -1;
        curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
        if (cc == CURLE_OK && x.status >= 300 && x.status < 400 && x.status != 304) {
            if ((rc = redirect_hop(s, acc, h, &x, &hops, e)) != 0)
                break;
            continue;
        }
        if (cc == CURLE_OK && x.status == 200 && cl >= 0) {
            *size = (uint64_t)cl;
            break;
        }
        if (cc == CURLE_OK && x.status != 404 && x.status != 401 && x.status != 403 && x.status < 500) {
            /* no usable HEAD: ask for one byte and read the total from Content-Range */
            xfer_bind(&x, h, errbuf);
            cc = curl_easy_perform(h);
            finish_checked(s->impl, &x, h, cc, errbuf);
            if (x.status >= 300 && x.status < 400 && x.status != 304) {
                if ((rc = redirect_hop(s, acc, h, &x, &hops, e)) != 0)
                    break;
                continue;
            }
            if (!x.code && x.status == 206) {
                if (x.crange_ok && x.ctotal > 0) {
                    *size = x.ctotal;
                    break;
                }
                x.code = MLHEP_EUNSUPPORTED;
                x.retry = 0;
                snprintf(x.msg, sizeof x.msg, "the server gives no file size (no Content-Length, no Content-Range)");
            } else if (!x.code) {
                x.code = MLHEP_EUNSUPPORTED;
                x.retry = 0;
                snprintf(x.msg, sizeof x.msg, "the server does not support range requests (HTTP %ld to a Range GET)",
                         x.status);
            }
        } else {
            finish_checked(s->impl, &x, h, cc, errbuf);
            if (!x.code) {
                x.code = MLHEP_EUNSUPPORTED;
                x.retry = 0;
                snprintf(x.msg, sizeof x.msg, "HEAD gives no Content-Length");
            }
        }
        if (!x.retry || ++k >= hi->pol.attempts) {
            int tries = k + (x.retry ? 0 : 1);
            rc = tries > 1 ? err_set(e, x.code, "%s after %d attempts", x.msg, tries) : err_set(e, x.code, "%s", x.msg);
            break;
        }
        netretry_backoff(&hi->pol, k);
    }
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    xfer_free(&x);
    pool_put(s, h);
    return rc;
}

static void copy_opt(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v ? v : "");
}

int source_open_http(const char *url, const srcaccess *acc, source **out, mlhep_err *e)
{
    *out = NULL;
    if (strlen(url) >= sizeof((source *)0)->name)
        return err_set(e, MLHEP_EINVAL, "URL is too long (%zu bytes)", strlen(url));
    pthread_once(&curl_once, curl_init_once);
    source *s;
    int rc = source_new(&http_ops, url, sizeof(http_impl), &s, e);
    if (rc)
        return rc;
    http_impl *hi = s->impl;
    pthread_mutex_init(&hi->lock, NULL);
    pthread_mutex_init(&hi->mlock, NULL);
    if (acc)
        hi->pol = acc->retry;
    else
        netretry_from_env(&hi->pol);
    hi->https = strncmp(url, "https://", 8) == 0;
    hi->hosts = acc ? acc->hosts : NULL;
    snprintf(hi->url, sizeof hi->url, "%s", url);
    url_hostport(url, hi->origin, sizeof hi->origin);
    copy_opt(hi->ca_file, sizeof hi->ca_file, acc ? acc->ca_file : NULL);
    copy_opt(hi->ca_dir, sizeof hi->ca_dir, srcaccess_ca_dir(acc));
    copy_opt(hi->proxy, sizeof hi->proxy, srcaccess_proxy(acc));
    if (hi->hosts && (rc = pin_host(hi, url, e))) {
        source_close(s);
        return err_prefix(e, "%s", url);
    }
    if (hi->https && hi->proxy[0])
        /* an expired proxy: said now, not as a TLS alert */
        rc = srcaccess_check_proxy(hi->proxy, acc && acc->proxy && *acc->proxy ? acc->proxy_origin : NULL, e);
    if (!rc && hi->https) {
        char tok[SRCACCESS_TOKEN_MAX + 32];
        const char *from = NULL;
        rc = srcaccess_token(acc, tok + 22, sizeof tok - 22, &from, e);
        if (!rc && tok[22]) {
            memcpy(tok, "Authorization: Bearer ", 22);
            if (!(hi->hdrs = curl_slist_append(NULL, tok)))
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            snprintf(hi->token_from, sizeof hi->token_from, "%s", from ? from : "?");
            hi->send_token = 1;
        }
        memset(tok, 0, sizeof tok);
    }
    if (!rc && !(hi->multi = curl_multi_init()))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (!rc)
        rc = http_size(s, acc, &s->size, e);
    if (rc) {
        source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

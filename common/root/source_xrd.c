/* source_xrd.c - the root:// byte source in C over the XrdCl shim (source_xrootd.h).
 *
 * read_at is one kXR_read; readv turns any number of ranges into kXR_readv requests
 * within the server's limits (<= XRDC_MAX_CHUNKS chunks, <= XRDC_MAX_CHUNK_BYTES per
 * chunk: longer ranges are split). Every call is retried with backoff (netretry.h)
 * while the failure may be transient; the final message names the URL, the cause and
 * the number of attempts. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "root/netretry.h"
#include "root/srcaccess.h"
#include "root/source_xrootd.h"

typedef struct xrd_impl {
    xrdc_file *x;
    netretry pol;
} xrd_impl;

/* XrdCl reports a failed connection without the cause: find it with one TCP
 * connection attempt to the URL's host and port (default 1094), into st->msg. */
static void probe_connect(const char *url, unsigned timeout_s, xrdc_status *st)
{
    const char *hp = strstr(url, "://");
    if (!hp)
        return;
    hp += 3;
    const char *at = strchr(hp, '@'), *slash = strchr(hp, '/');
    if (at && (!slash || at < slash))
        hp = at + 1;
    size_t l = slash ? (size_t)(slash - hp) : strlen(hp);
    char host[256], port[16] = "1094";
    if (l == 0 || l >= sizeof host)
        return;
    memcpy(host, hp, l);
    host[l] = 0;
    char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
    if (colon) {
        snprintf(port, sizeof port, "%s", colon + (host[0] == '[' ? 2 : 1));
        *colon = host[0] == '[' ? ']' : 0;
        if (host[0] == '[')
            colon[1] = 0;
    }
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(h, port, &hints, &ai);
    if (g) {
        snprintf(st->msg, sizeof st->msg, "cannot resolve host %.100s: %s", h, gai_strerror(g));
        return;
    }
    int err = 0;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        int fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, p->ai_addr, p->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd pf = {fd, POLLOUT, 0};
            rc = poll(&pf, 1, (int)timeout_s * 1000);
            socklen_t sl = sizeof err;
            if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0)
                rc = err ? -1 : 0;
            else
                err = rc == 0 ? ETIMEDOUT : errno, rc = -1;
        } else if (rc != 0) {
            err = errno;
        }
        close(fd);
        if (rc == 0) {
            err = 0;
            break;
        }
    }
    freeaddrinfo(ai);
    if (err == ECONNREFUSED)
        snprintf(st->msg, sizeof st->msg, "connection refused");
    else if (err == ETIMEDOUT)
        snprintf(st->msg, sizeof st->msg, "connection timed out");
    else if (err)
        snprintf(st->msg, sizeof st->msg, "cannot connect: %s", strerror(err));
}

static int give_up(mlhep_err *e, const source *s, const char *what, xrdc_status *st, int attempts)
{
    if (st->conn)
        probe_connect(s->name, ((const xrd_impl *)s->impl)->pol.timeout_s, st);
    if (attempts > 1)
        return err_set(e, st->code, "%s: %s%s%s after %d attempts", s->name, what, *what ? ": " : "", st->msg,
                       attempts);
    return err_set(e, st->code, "%s: %s%s%s", s->name, what, *what ? ": " : "", st->msg);
}

static int xrd_read_at(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e)
{
    xrd_impl *xi = s->impl;
    size_t done = 0;
    while (done < len) {
        uint32_t want = len - done > (1u << 30) ? (1u << 30) : (uint32_t)(len - done);
        xrdc_status st;
        uint32_t got = 0;
        int k = 0;
        for (;;) {
            int rc = xrdc_read(xi->x, off + done, want, (char *)buf + done, xi->pol.timeout_s, &got, &st);
            if (!rc)
                break;
            if (!st.retry || ++k >= xi->pol.attempts) {
                char what[96];
                snprintf(what, sizeof what, "read of %u bytes at offset %llu", want, (unsigned long long)(off + done));
                return give_up(e, s, what, &st, k + (st.retry ? 0 : 1));
            }
            netretry_backoff(&xi->pol, k);
        }
        if (got == 0)
            return err_set(e, MLHEP_EFORMAT, "%s: file is truncated: wanted %zu bytes at offset %llu, got %zu", s->name,
                           len, (unsigned long long)off, done);
        done += got;
    }
    return 0;
}

/* One kXR_readv with retries. */
static int xrd_readv_once(source *s, const xrdc_chunk *c, size_t n, mlhep_err *e)
{
    xrd_impl *xi = s->impl;
    xrdc_status st;
    for (int k = 0;;) {
        if (!xrdc_readv(xi->x, c, n, xi->pol.timeout_s, &st))
            return 0;
        if (!st.retry || ++k >= xi->pol.attempts) {
            char what[96];
            snprintf(what, sizeof what, "vector read of %zu chunk%s", n, n == 1 ? "" : "s");
            return give_up(e, s, what, &st, k + (st.retry ? 0 : 1));
        }
        netretry_backoff(&xi->pol, k);
    }
}

static int xrd_readv(source *s, source_range *r, size_t n, mlhep_err *e)
{
    xrdc_chunk c[XRDC_MAX_CHUNKS];
    size_t nc = 0, sent = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t done = 0; done < r[i].len;) {
            size_t piece = r[i].len - done;
            if (piece > XRDC_MAX_CHUNK_BYTES)
                piece = XRDC_MAX_CHUNK_BYTES;
            c[nc++] = (xrdc_chunk){r[i].off + done, (uint32_t)piece, (char *)r[i].buf + done};
            done += piece;
            if (nc == XRDC_MAX_CHUNKS) {
                int rc = xrd_readv_once(s, c, nc, e);
                if (rc)
                    return rc;
                sent++;
                nc = 0;
            }
        }
    }
    if (nc) {
        int rc = xrd_readv_once(s, c, nc, e);
        if (rc)
            return rc;
        sent++;
    }
    /* source_readv counted one request; count the extra ones the limits forced */
    if (sent > 1)
        __atomic_add_fetch(&s->n_requests, sent - 1, __ATOMIC_RELAXED);
    return 0;
}

static void xrd_close(source *s)
{
    xrd_impl *xi = s->impl;
    if (xi) {
        xrdc_close(xi->x);
        free(xi);
    }
}

static const source_ops xrd_ops = {xrd_read_at, xrd_readv, xrd_close};

/* A refused login or access: says whether XrdCl had a bearer token to send (ztn) and
 * whether it is a JWT that has expired, never the token itself. */
static void ztn_note(xrdc_status *st)
{
    char tok[SRCACCESS_TOKEN_MAX + 1];
    const char *from = NULL;
    srcaccess_ztn_token(tok, sizeof tok, &from);
    size_t l = strlen(st->msg);
    if (!tok[0] || !from) {
        snprintf(st->msg + l, sizeof st->msg - l, "; no bearer token for a token (ztn) login");
    } else {
        char *t = tok, *end = tok + strlen(tok);
        while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
            t++;
        while (end > t && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
            *--end = 0;
        long long exp = srcaccess_jwt_exp(t);
        char when[64];
        if (exp >= 0 && exp < (long long)time(NULL)) {
            srcaccess_utc(exp, when, sizeof when);
            snprintf(st->msg + l, sizeof st->msg - l, "; the bearer token (%s) expired at %s: renew it", from, when);
        } else {
            snprintf(st->msg + l, sizeof st->msg - l, "; a bearer token (%s) was there to send", from);
        }
    }
    memset(tok, 0, sizeof tok);
}

int source_open_xrootd(const char *url, const srcaccess *acc, source **out, mlhep_err *e)
{
    const hostpolicy *hosts = acc ? acc->hosts : NULL;
    *out = NULL;
    if (strlen(url) >= sizeof((source *)0)->name)
        return err_set(e, MLHEP_EINVAL, "URL is too long (%zu bytes)", strlen(url));
    const char *hp = strstr(url, "://") + 3;
    const char *path = strchr(hp, '/');
    if (path == hp || !path || path[1] != '/')
        return err_set(e, MLHEP_EINVAL, "not a root://host[:port]//path URL");
    if (hosts) { /* data_hosts: the name, then every address it resolves to */
        char host[256];
        int port;
        hostpolicy_addrs ok;
        int prc = hostpolicy_url_host(url, 1094, host, sizeof host, &port, e);
        if (!prc)
            prc = hostpolicy_resolve(hosts, host, port, &ok, e);
        if (prc)
            return err_prefix(e, "%s", url);
    }
    /* The proxy for a GSI login goes in the URL (xrd.gsiusrpxy), never through the
     * environment: XrdCl keys its connections by it (URL::GetChannelId), so a job's
     * proxy logs in on connections of its own that no other job's open shares, and the
     * GSI plugin takes it from there at each login. A URL's own xrd.* / xrdcl.* settings
     * are refused: a workflow must not pick another job's connection or credential. */
    const char *q = strchr(path, '?');
    if (q && (strstr(q, "?xrd") || strstr(q, "&xrd")))
        return err_set(e, MLHEP_EINVAL, "%s: xrd.* / xrdcl.* settings in a root:// URL are not allowed (the "
                       "credential is the service's or the job's own)", url);
    char proxy[512], xurl[sizeof((source *)0)->name + 600];
    srcaccess_gsi_proxy(acc, proxy, sizeof proxy);
    int from_acc = acc && acc->proxy && *acc->proxy;
    const char *pname = from_acc && acc->proxy_origin ? acc->proxy_origin : NULL;
    if (strpbrk(proxy, "&?#= \t\r\n%"))
        return err_set(e, MLHEP_EINVAL, "%s: the X.509 proxy path %s has a character a root:// URL cannot carry",
                       url, pname ? "(the job's)" : proxy);
    /* a job's own proxy (proxy_origin set): GSI only, so the job never logs in with the
     * service's token instead */
    snprintf(xurl, sizeof xurl, "%s%cxrd.gsiusrpxy=%s%s", url, q ? '&' : '?', proxy, pname ? "&xrd.wantprot=gsi" : "");
    /* XrdCl's GSI plugin reads the proxy itself; an expired one is said as such here
     * instead of XrdCl's "Auth failed" after its attempts */
    if (access(proxy, F_OK) == 0 && srcaccess_check_proxy(proxy, pname, e) == MLHEP_EAUTH)
        return err_prefix(e, "%s", url);
    source *s;
    int rc = source_new(&xrd_ops, url, sizeof(xrd_impl), &s, e);
    if (rc)
        return rc;
    xrd_impl *xi = s->impl;
    if (acc)
        xi->pol = acc->retry;
    else
        netretry_from_env(&xi->pol);
    xrdc_configure(xi->pol.timeout_s);
    xrdc_status st;
    uint64_t size = 0;
    for (int k = 0;;) {
        if (!xrdc_open(xurl, xi->pol.timeout_s, &xi->x, &size, &st))
            break;
        if (!st.retry || ++k >= xi->pol.attempts) {
            int tries = k + (st.retry ? 0 : 1);
            if (st.conn)
                probe_connect(url, xi->pol.timeout_s, &st);
            source_close(s);
            if (st.code == MLHEP_EAUTH)
                ztn_note(&st);
            if (tries > 1)
                return err_set(e, st.code, "%s after %d attempts", st.msg, tries);
            return err_set(e, st.code, "%s", st.msg);
        }
        netretry_backoff(&xi->pol, k);
    }
    s->size = size;
    *out = s;
    return 0;
}

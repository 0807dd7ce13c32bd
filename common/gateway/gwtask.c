/* gwtask.c - see gwtask.h. */
#include "gateway/gwtask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/logline.h"

double gwtask_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

gw_task *gwtask_new(gw_ctx *g, const gw_req *r, FILE *log, gateway_done_fn done, void *cls, double t0)
{
    gw_task *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->g = g;
    t->r = r;
    t->log = log;
    t->done = done;
    t->done_cls = cls;
    t->t0 = t0;
    t->route = -1;
    return t;
}

/* A streamed answer (live events) keeps its request counted against the caller's
 * concurrency limit until the stream ends: the reader is wrapped so that its free
 * callback also leaves the limiter. */
typedef struct held_stream {
    gw_ctx *g;
    char user[JOB_USER_MAX + 1];
    gw_reader read;
    void *cls;
    void (*free)(void *cls);
    void (*attach)(void *cls, const gw_wakeup *w);
} held_stream;

static ssize_t held_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    held_stream *h = cls;
    return h->read(h->cls, pos, buf, max);
}

static void held_attach(void *cls, const gw_wakeup *w)
{
    held_stream *h = cls;
    h->attach(h->cls, w);
}

static void held_free(void *cls)
{
    held_stream *h = cls;
    if (h->free)
        h->free(h->cls);
    ratelimit_leave(h->g->rl, h->user);
    free(h);
}

/* 1 if the stream of o now holds the caller's place (left when it ends). */
static int hold_stream(gw_ctx *g, const char *user, gw_resp *o)
{
    held_stream *h = malloc(sizeof *h);
    if (!h)
        return 0;
    h->g = g;
    snprintf(h->user, sizeof h->user, "%s", user);
    h->read = o->reader;
    h->cls = o->reader_cls;
    h->free = o->reader_free;
    h->attach = o->stream_attach;
    o->reader = held_read;
    o->reader_cls = h;
    o->reader_free = held_free;
    o->stream_attach = h->attach ? held_attach : NULL;
    return 1;
}

void gwtask_finish(gw_task *t)
{
    gw_ctx *g = t->g;
    const gw_req *r = t->r;
    gw_resp *o = &t->resp;
    if (!o->status)
        gw_resp_error(o, 500, "internal", "the handler gave no answer");
    if (g->cfg->gateway_cors_origin && *g->cfg->gateway_cors_origin) {
        const char *origin = gw_header(r, "Origin");
        if (origin && !strcmp(origin, g->cfg->gateway_cors_origin)) {
            gw_resp_header(o, "Access-Control-Allow-Origin", g->cfg->gateway_cors_origin);
            gw_resp_header(o, "Vary", "Origin");
        }
    }
    if (t->admitted && !(o->reader && hold_stream(g, t->caller.user, o)))
        ratelimit_leave(g->rl, t->caller.user);
    double dt = gwtask_now() - t->t0;
    promstats_request(g->stats, t->route, o->status, dt);
    promstats_inflight(g->stats, -1);
    if (t->log) {
        /* the path and method are the client's bytes: escaped, so that they cannot
         * start a line or forge a field (the user comes from a verified token) */
        char path[300], method[24];
        gw_log_text(path, sizeof path, r->path);
        gw_log_text(method, sizeof method, r->method);
        logline_printf(t->log, "gateway", "%s %s %s %s %d %zu %.1fms%s%s", r->peer ? r->peer : "-",
                       t->caller.user[0] ? t->caller.user : "-", method, path, o->status,
                       o->reader ? (size_t)0 : o->len, dt * 1e3, o->code ? " " : "", o->code ? o->code : "");
    }
    gateway_done_fn done = t->done;
    void *cls = t->done_cls;
    gw_resp out = *o;
    free(t);
    done(cls, &out);
}

static void *pool_main(void *arg)
{
    gw_ctx *g = arg;
    gw_pool *p = &g->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        gw_task *t = p->head;
        if (!t)
            break; /* stopping and nothing left */
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        t->fn(g, t->r, &t->m, &t->caller, &t->resp);
        gwtask_finish(t);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void gwpool_submit(gw_ctx *g, gw_task *t)
{
    gw_pool *p = &g->pool;
    pthread_mutex_lock(&p->mu);
    if (p->stop || !p->n) {
        pthread_mutex_unlock(&p->mu);
        gw_resp_error(&t->resp, 503, "unavailable", "the gateway is shutting down");
        gwtask_finish(t);
        return;
    }
    t->next = NULL;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int gwpool_start(gw_ctx *g, int n, mlhep_err *e)
{
    gw_pool *p = &g->pool;
    if (n < 1)
        n = 1;
    if (n > 256)
        n = 256;
    p->th = calloc((size_t)n, sizeof *p->th);
    if (!p->th)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->th[i], NULL, pool_main, g)) {
            gwpool_stop(g);
            return err_set(e, MLHEP_ENOMEM, "cannot start the gateway's worker threads");
        }
        p->n = i + 1;
    }
    return 0;
}

void gwpool_stop(gw_ctx *g)
{
    gw_pool *p = &g->pool;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    p->th = NULL;
    p->n = 0;
}

/* rpcmux.c - see rpcmux.h. */
#include "gateway/rpcmux.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/wbuf.h"
#include "service/amqp_rpc.h"
#include "service/rpcbatch.h"

#define MAXPUMPS 16
#define NBUCKETS 4096
#define EXPIRE_CHECK 0.05 /* seconds between scans for requests past their deadline */
#define WATCH_EVERY 1.0   /* seconds between looks at the watched queue's consumers */
#define SPREAD_LEN 65536 /* requests larger than this are spread over the pumps */
#define RECHECK 0.1      /* seconds: with no worker seen, a request looks again (through
                          * pump 0) unless the last look is this recent */
#define BATCH_BYTES (1 << 20) /* a batch message carries at most this many body bytes */
#define WATCH_GRACE 5.0   /* seconds without a consumer before requests fail at once: a
                           * restarting inference worker is back within it, and the
                           * requests sent meanwhile wait in the queue for it */

typedef struct call {
    char corr[48];
    rpcmux_req rq;
    double deadline;         /* monotonic seconds */
    double timeout;          /* seconds, for the message */
    double arrival;          /* monotonic seconds, when rpcmux_send took it */
    int check;               /* sent while no worker was seen: pump 0 looks again first */
    int expire_ms;           /* the caller's wait: the request's expiration on the broker */
    rpcmux_done_fn fn;
    void *cls;
    struct call *qnext;      /* send queue */
    struct call *hnext;      /* pending table */
    struct call *dnext;      /* list of calls to complete (outside the lock) */
    int rc;
    mlhep_err err;
    rpcmux_reply rep;
    struct call *members;    /* a batch (fn NULL): the requests it carries, in item order */
    struct call *mnext;
    size_t nmembers;
    wbuf bbody;              /* a batch: its message body */
} call;

typedef struct pump {
    struct rpcmux *mux;
    int idx;
    rpc_conn *c;
    _Atomic int open;
    _Atomic int sleeping;    /* in poll(): a new request must write the eventfd, or be sent
                              * by its caller (rpcmux_send) */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_mutex_t sendmu;  /* the connection (c): held by the pump except while it
                              * waits in poll(); a caller that gets it then sends its
                              * request itself instead of waking the pump */
    call *qhead, *qtail;     /* queued, not sent */
    call *bucket[NBUCKETS];  /* sent (or being sent), waiting for a reply */
    size_t npending;
    unsigned long long seq;
    unsigned long long bseq; /* batch correlation ids (the pump thread's own) */
    call **turn;             /* group()'s scratch: a turn's calls, then one batch's */
    size_t turncap;
    int efd;
} pump;

struct rpcmux {
    amqpc_params p;
    char watch[128];          /* queue whose consumers are watched ("" none) */
    _Atomic int consumers;    /* its consumers at the last look, -1 unknown */
    _Atomic long long none_since_ms; /* monotonic ms since when it has had none (0: it has) */
    _Atomic long long depth;  /* its ready messages at the last look, -1 unknown */
    double looked_at;         /* monotonic seconds of the last look (pump 0's) */
    int n;
    pump pumps[MAXPUMPS];
    _Atomic unsigned rr;
    _Atomic int stop;
    int batch_max;            /* requests per batch message (1: no batches) */
    _Atomic unsigned long long nmsg, nbatch, nbatched; /* rpcmux_stats */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned hash_corr(const char *s)
{
    return (unsigned)(XXH64(s, strlen(s), 0) % NBUCKETS);
}

/* 1 when the watched queue has had no consumer for WATCH_GRACE at the last look */
static int no_consumer(rpcmux *m)
{
    long long since = atomic_load(&m->none_since_ms);
    return atomic_load(&m->consumers) == 0 && since && mono() * 1000 - (double)since >= WATCH_GRACE * 1000;
}

/* ---- with the pump's lock held ---- */

static void table_add(pump *pp, call *c)
{
    unsigned b = hash_corr(c->corr);
    c->hnext = pp->bucket[b];
    pp->bucket[b] = c;
    pp->npending++;
}

static call *table_take(pump *pp, const char *corr)
{
    for (call **pc = &pp->bucket[hash_corr(corr)]; *pc; pc = &(*pc)->hnext)
        if (!strcmp((*pc)->corr, corr)) {
            call *c = *pc;
            *pc = c->hnext;
            pp->npending--;
            return c;
        }
    return NULL;
}

/* Moves every call (queued and pending) to *done with rc and err. */
static void take_all(pump *pp, int rc, const mlhep_err *err, call **done)
{
    for (call *c = pp->qhead, *next; c; c = next) {
        next = c->qnext;
        c->rc = rc;
        c->err = *err;
        c->dnext = *done;
        *done = c;
    }
    pp->qhead = pp->qtail = NULL;
    for (int b = 0; b < NBUCKETS; b++)
        while (pp->bucket[b]) {
            call *c = pp->bucket[b];
            pp->bucket[b] = c->hnext;
            c->rc = rc;
            c->err = *err;
            c->dnext = *done;
            *done = c;
        }
    pp->npending = 0;
}

/* Moves the calls past their deadline to *done. */
static void take_expired(pump *pp, double now, call **done)
{
    for (int b = 0; b < NBUCKETS; b++)
        for (call **pc = &pp->bucket[b]; *pc;) {
            call *c = *pc;
            if (c->deadline <= now) {
                *pc = c->hnext;
                pp->npending--;
                c->rc = RPCMUX_TIMEOUT;
                err_set(&c->err, RPCMUX_TIMEOUT, "no answer from the prediction service within %g s", c->timeout);
                c->dnext = *done;
                *done = c;
            } else {
                pc = &c->hnext;
            }
        }
}

/* ---- outside the lock ---- */

/* A batch's outcome as each of its requests' outcome: the item replies in order; a
 * reply that is not a batch (the worker refused the message as a whole: a bad token, an
 * error document) goes to each request as it is; a failure is each one's failure. */
static void complete_batch(call *b)
{
    rpcbatch_item *items = NULL;
    size_t n = 0;
    int whole = 0;
    if (b->rc == 0) {
        if (strcmp(b->rep.content_type, RPCBATCH_CONTENT_TYPE)) {
            whole = 1;
        } else if (rpcbatch_parse(b->rep.body, b->rep.len, &items, &n, &b->err) || n != b->nmembers) {
            if (n != b->nmembers && items)
                err_set(&b->err, MLHEP_EFORMAT, "the prediction service answered %zu of %zu batched requests", n,
                        b->nmembers);
            b->rc = MLHEP_EFORMAT;
        }
    }
    size_t i = 0;
    for (call *c = b->members, *next; c; c = next, i++) {
        next = c->mnext;
        c->rc = b->rc;
        c->err = b->err;
        if (c->rc == 0) {
            const void *body = whole ? b->rep.body : items[i].body;
            size_t len = whole ? b->rep.len : items[i].len;
            c->rep.body = malloc(len + 1);
            if (c->rep.body) {
                memcpy(c->rep.body, body, len);
                c->rep.body[len] = '\0';
                c->rep.len = len;
                snprintf(c->rep.content_type, sizeof c->rep.content_type, "%s",
                         whole ? b->rep.content_type : items[i].content_type);
            } else {
                c->rc = err_set(&c->err, MLHEP_ENOMEM, "out of memory for a prediction reply");
            }
        }
        c->fn(c->cls, c->rc, &c->err, c->rc == 0 ? &c->rep : NULL);
        free(c);
    }
    free(items);
    free(b->rep.body);
    wbuf_free(&b->bbody);
}

static void complete(call *done)
{
    for (call *c = done, *next; c; c = next) {
        next = c->dnext;
        if (c->members)
            complete_batch(c);
        else
            c->fn(c->cls, c->rc, &c->err, c->rc == 0 ? &c->rep : NULL);
        free(c);
    }
}

static int do_connect(pump *pp, mlhep_err *e)
{
    int rc = pp->c ? rpc_reconnect(pp->c, e) : rpc_connect(&pp->mux->p, &pp->c, e);
    if (rc == 0)
        rc = rpc_client_start(pp->c, e);
    atomic_store(&pp->open, rc == 0);
    return rc;
}

static void drain_efd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) == (ssize_t)sizeof v)
        ;
}

static void fail_pump(pump *pp, const mlhep_err *e)
{
    call *done = NULL;
    pthread_mutex_lock(&pp->mu);
    take_all(pp, e->code ? e->code : MLHEP_ENET, e, &done);
    pthread_mutex_unlock(&pp->mu);
    complete(done);
}

/* Fails the calls sent and waiting for a reply (the connection they went on is lost). */
static void fail_sent(pump *pp)
{
    call *done = NULL;
    pthread_mutex_lock(&pp->mu);
    for (int b = 0; b < NBUCKETS && pp->npending; b++)
        while (pp->bucket[b]) {
            call *c = pp->bucket[b];
            pp->bucket[b] = c->hnext;
            pp->npending--;
            c->rc = MLHEP_ENET;
            err_set(&c->err, MLHEP_ENET, "the broker connection was lost before the prediction service answered");
            c->dnext = done;
            done = c;
        }
    pthread_mutex_unlock(&pp->mu);
    complete(done);
}

/* Pump 0 looks at the watched queue now and then: with no consumer a request fails at
 * once (the service is not deployed, or all its workers are gone) instead of waiting
 * for its timeout. 0, or -1 when the connection broke doing it. */
static int watch_queue(pump *pp, double *next)
{
    rpcmux *m = pp->mux;
    if (pp->idx != 0 || !m->watch[0] || mono() < *next)
        return 0;
    *next = mono() + WATCH_EVERY;
    m->looked_at = mono();
    uint32_t msgs = 0, cons = 0;
    mlhep_err e = {0};
    if (rpc_queue_depth(pp->c, m->watch, &msgs, &cons, &e)) {
        /* the queue is missing (the channel is closed then) or the connection failed */
        atomic_store(&m->consumers, e.code == MLHEP_ENOTFOUND ? 0 : -1);
        if (e.code == MLHEP_ENOTFOUND) /* no such queue: not deployed, no grace */
            atomic_store(&m->none_since_ms, 1);
        atomic_store(&m->depth, -1);
        atomic_store(&pp->open, 0);
        fail_pump(pp, &e);
        return -1;
    }
    atomic_store(&m->consumers, (int)cons);
    atomic_store(&m->depth, (long long)msgs);
    if (cons > 0)
        atomic_store(&m->none_since_ms, 0);
    else if (atomic_load(&m->none_since_ms) == 0)
        atomic_store(&m->none_since_ms, (long long)(mono() * 1000));
    return 0;
}

/* ---- batches (service/rpcbatch.h) ---- */

#define SCAN_AHEAD 256 /* calls looked at for companions of one request */

static int batchable(const rpcmux *m, const call *c)
{
    const rpcmux_req *r = &c->rq;
    return m->batch_max > 1 && !c->check && r->len <= SPREAD_LEN &&
           (!r->type || !*r->type || !strcmp(r->type, "predict")) &&
           (!r->content_type || strlen(r->content_type) <= RPCBATCH_CTYPE_MAX);
}

static int same(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* b may travel with a: the same destination, token and expiration */
static int companions(const call *a, const call *b)
{
    return a->expire_ms == b->expire_ms && same(a->rq.exchange, b->rq.exchange) &&
           same(a->rq.routing_key, b->rq.routing_key) && same(a->rq.token, b->rq.token);
}

/* The batch message of the n calls in v (n >= 2), or NULL (out of memory: they go one by
 * one). The members keep their callbacks; the batch's outcome is theirs (complete). */
static call *make_batch(pump *pp, call **v, size_t n)
{
    call *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    rpcbatch_begin(&b->bbody);
    for (size_t i = 0; i < n; i++)
        rpcbatch_add(&b->bbody, v[i]->rq.content_type, v[i]->rq.body, v[i]->rq.len);
    mlhep_err e;
    if (rpcbatch_end(&b->bbody, &e)) {
        wbuf_free(&b->bbody);
        free(b);
        return NULL;
    }
    b->rq = v[0]->rq;
    b->rq.type = RPCBATCH_TYPE;
    b->rq.content_type = RPCBATCH_CONTENT_TYPE;
    b->rq.body = b->bbody.p;
    b->rq.len = b->bbody.len;
    b->expire_ms = v[0]->expire_ms;
    b->timeout = v[0]->timeout;
    b->deadline = v[0]->deadline;
    b->arrival = v[0]->arrival;
    snprintf(b->corr, sizeof b->corr, "g%d-b%llu", pp->idx, ++pp->bseq);
    call **tail = &b->members;
    for (size_t i = 0; i < n; i++) {
        if (v[i]->deadline < b->deadline)
            b->deadline = v[i]->deadline;
        v[i]->mnext = NULL;
        *tail = v[i];
        tail = &v[i]->mnext;
    }
    b->nmembers = n;
    return b;
}

/* The list q (linked by qnext, in arrival order) as the messages to send: each run of
 * companion requests (up to batch_max of them and BATCH_BYTES) becomes one batch
 * message; the others, and any request alone, go as they are. */
static call *group(pump *pp, call *q)
{
    rpcmux *m = pp->mux;
    size_t n = 0;
    for (call *c = q; c; c = c->qnext)
        n++;
    if (n < 2 || m->batch_max < 2)
        return q;
    size_t need = n + (size_t)m->batch_max; /* the turn's calls, then one group */
    if (need > pp->turncap) {
        call **t = realloc(pp->turn, need * sizeof *t);
        if (!t)
            return q; /* each alone */
        pp->turn = t;
        pp->turncap = need;
    }
    call **v = pp->turn, **grp = pp->turn + n;
    size_t k = 0;
    for (call *c = q; c; c = c->qnext)
        v[k++] = c;
    call *out = NULL, **tail = &out;
    unsigned long long nb = 0, nmem = 0;
    for (size_t i = 0; i < n; i++) {
        call *c = v[i];
        if (!c)
            continue; /* already in a batch */
        size_t g = 0, bytes = c->rq.len;
        if (batchable(m, c)) {
            grp[g++] = c;
            for (size_t j = i + 1; j < n && j <= i + SCAN_AHEAD && g < (size_t)m->batch_max; j++) {
                call *d = v[j];
                if (d && batchable(m, d) && companions(c, d) && bytes + d->rq.len <= BATCH_BYTES) {
                    grp[g++] = d;
                    bytes += d->rq.len;
                    v[j] = NULL;
                }
            }
        }
        call *b = g >= 2 ? make_batch(pp, grp, g) : NULL;
        if (b) {
            nb++;
            nmem += g;
            b->qnext = NULL;
            *tail = b;
            tail = &b->qnext;
        } else { /* alone, or its batch could not be written: each as it is */
            if (g == 0)
                grp[g++] = c;
            for (size_t x = 0; x < g; x++) {
                grp[x]->qnext = NULL;
                *tail = grp[x];
                tail = &grp[x]->qnext;
            }
        }
        v[i] = NULL;
    }
    atomic_fetch_add(&m->nbatch, nb);
    atomic_fetch_add(&m->nbatched, nmem);
    return out;
}

static void *pump_main(void *arg)
{
    pump *pp = arg;
    rpcmux *m = pp->mux;
    double backoff = 0.1, next_expire = mono() + EXPIRE_CHECK, next_watch = 0;
    pthread_mutex_lock(&pp->sendmu);
    while (!atomic_load(&m->stop)) {
        if (!atomic_load(&pp->open)) {
            mlhep_err e = {0};
            /* what was sent on the lost connection gets no reply on a new one */
            fail_sent(pp);
            if (do_connect(pp, &e)) {
                fail_pump(pp, &e);
                struct timespec ts = {(time_t)backoff, (long)((backoff - (double)(long)backoff) * 1e9)};
                pthread_mutex_unlock(&pp->sendmu);
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&pp->sendmu);
                backoff = backoff * 2 > 2 ? 2 : backoff * 2;
                continue;
            }
            backoff = 0.1;
        }
        /* send what callers queued; the calls enter the pending table first, so a reply
         * that comes back at once finds its call. A call taken while no worker was seen
         * is sent only if a look at the queue made after it came (or within RECHECK)
         * finds one now, else it fails at once; the look comes first when needed. */
        pthread_mutex_lock(&pp->mu);
        int look = 0;
        double tq = mono();
        for (call *c = pp->qhead; c && !look && pp->idx == 0; c = c->qnext)
            look = c->check && m->looked_at < c->arrival && tq - m->looked_at >= RECHECK;
        call *q = NULL, *qt = NULL, *nocons = NULL;
        if (!look) {
            for (call *c = pp->qhead, *next; c; c = next) {
                next = c->qnext;
                c->qnext = NULL;
                if (c->check && no_consumer(m)) {
                    c->rc = MLHEP_ENOTFOUND;
                    err_set(&c->err, MLHEP_ENOTFOUND, "no worker consumes %s", m->watch);
                    c->dnext = nocons;
                    nocons = c;
                    continue;
                }
                if (qt)
                    qt->qnext = c;
                else
                    q = c;
                qt = c;
            }
            pp->qhead = pp->qtail = NULL;
        }
        pthread_mutex_unlock(&pp->mu);
        complete(nocons);
        if (look) {
            next_watch = 0; /* now */
            watch_queue(pp, &next_watch);
            continue;
        }
        /* small requests of one token waiting together travel as one message */
        q = group(pp, q);
        pthread_mutex_lock(&pp->mu);
        for (call *c = q; c; c = c->qnext)
            table_add(pp, c);
        pthread_mutex_unlock(&pp->mu);
        mlhep_err se = {0};
        int broken = 0;
        unsigned long long nmsg = 0;
        /* the turn's requests leave in one write */
        for (call *c = q; c && !broken; c = c->qnext, nmsg++) {
            const rpcmux_req *r = &c->rq;
            if (rpc_call_queue_as(pp->c, r->exchange, r->routing_key, r->type, r->content_type, r->token, c->corr,
                                  c->expire_ms, r->body, r->len, &se))
                broken = 1;
        }
        atomic_fetch_add(&m->nmsg, nmsg);
        if (!broken && rpc_flush(pp->c, &se))
            broken = 1;
        if (broken) {
            atomic_store(&pp->open, 0);
            fail_pump(pp, &se);
            continue;
        }
        if (watch_queue(pp, &next_watch))
            continue;
        /* wait for replies or new requests */
        if (!rpc_buffered(pp->c)) {
            atomic_store(&pp->sleeping, 1);
            pthread_mutex_lock(&pp->mu);
            int queued = pp->qhead != NULL;
            pthread_mutex_unlock(&pp->mu);
            if (!queued) {
                struct pollfd fds[2] = {{rpc_fd(pp->c), POLLIN, 0}, {pp->efd, POLLIN, 0}};
                pthread_mutex_unlock(&pp->sendmu);
                int pr = poll(fds, 2, (int)(EXPIRE_CHECK * 1000));
                pthread_mutex_lock(&pp->sendmu);
                atomic_store(&pp->sleeping, 0);
                if (pr > 0 && (fds[1].revents & POLLIN))
                    drain_efd(pp->efd);
                if (pr < 0 && errno != EINTR)
                    continue;
            }
            atomic_store(&pp->sleeping, 0);
        }
        call *done = NULL;
        for (int k = 0; k < 1024; k++) {
            rpc_msg msg;
            mlhep_err e = {0};
            int rc = rpc_next(pp->c, &msg, 0, &e);
            if (rc == RPC_TIMEOUT)
                break;
            if ((rc == MLHEP_ENOTFOUND || rc == RPC_REFUSED) && msg.corr_id[0]) {
                pthread_mutex_lock(&pp->mu);
                call *c = table_take(pp, msg.corr_id);
                pthread_mutex_unlock(&pp->mu);
                if (c) { /* unroutable, or refused by a full queue: that call only */
                    c->rc = rc == RPC_REFUSED ? RPCMUX_REFUSED : MLHEP_ENOTFOUND;
                    c->err = e;
                    c->dnext = done;
                    done = c;
                }
                continue;
            }
            if (rc) {
                atomic_store(&pp->open, 0);
                complete(done);
                done = NULL;
                fail_pump(pp, &e);
                break;
            }
            pthread_mutex_lock(&pp->mu);
            call *c = table_take(pp, msg.corr_id);
            pthread_mutex_unlock(&pp->mu);
            if (c) {
                c->rep.body = malloc(msg.len + 1);
                if (c->rep.body) {
                    memcpy(c->rep.body, msg.body, msg.len);
                    c->rep.body[msg.len] = '\0';
                    c->rep.len = msg.len;
                    snprintf(c->rep.content_type, sizeof c->rep.content_type, "%s", msg.content_type);
                    c->rc = 0;
                } else {
                    c->rc = err_set(&c->err, MLHEP_ENOMEM, "out of memory for a prediction reply");
                }
                c->dnext = done;
                done = c;
            }
            rpc_msg_free(&msg);
        }
        double now = mono();
        if (now >= next_expire) {
            pthread_mutex_lock(&pp->mu);
            if (pp->npending)
                take_expired(pp, now, &done);
            pthread_mutex_unlock(&pp->mu);
            next_expire = now + EXPIRE_CHECK;
        }
        complete(done);
    }
    pthread_mutex_unlock(&pp->sendmu);
    mlhep_err se = {MLHEP_ENET, "the gateway is shutting down"};
    fail_pump(pp, &se);
    return NULL;
}

int rpcmux_open(const amqpc_params *p, int nconn, int batch_max, const char *watch_queue, rpcmux **out,
                mlhep_err *e)
{
    if (nconn < 1)
        nconn = 1;
    if (nconn > MAXPUMPS)
        nconn = MAXPUMPS;
    rpcmux *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    m->p = *p;
    m->batch_max = batch_max < 1 ? 1 : batch_max > RPCBATCH_MAX_ITEMS ? RPCBATCH_MAX_ITEMS : batch_max;
    snprintf(m->watch, sizeof m->watch, "%s", watch_queue ? watch_queue : "");
    atomic_store(&m->consumers, -1);
    atomic_store(&m->depth, -1);
    int rc = 0;
    for (int i = 0; i < nconn; i++) {
        pump *pp = &m->pumps[i];
        pp->mux = m;
        pp->idx = i;
        pp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (pp->efd < 0) {
            rc = err_set(e, MLHEP_EIO, "eventfd: %s", strerror(errno));
            break;
        }
        pthread_mutex_init(&pp->mu, NULL);
        pthread_mutex_init(&pp->sendmu, NULL);
        m->n = i + 1;
        mlhep_err ce = {0};
        if (do_connect(pp, &ce) && i == 0 && e)
            *e = ce; /* the pumps keep trying; say why the first one failed */
    }
    for (int i = 0; !rc && i < m->n; i++) {
        int pe = pthread_create(&m->pumps[i].th, NULL, pump_main, &m->pumps[i]);
        if (pe) {
            m->pumps[i].th = 0;
            rc = err_set(e, MLHEP_EIO, "cannot start a prediction pump thread: %s", strerror(pe));
        }
    }
    if (rc) {
        rpcmux_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

static void wake(pump *pp)
{
    uint64_t one = 1;
    if (write(pp->efd, &one, sizeof one) < 0) {
        /* the eventfd cannot overflow here; the pump polls with a timeout anyway */
    }
}

void rpcmux_stop(rpcmux *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, 1);
    for (int i = 0; i < m->n; i++)
        wake(&m->pumps[i]);
    for (int i = 0; i < m->n; i++) {
        if (m->pumps[i].th) {
            pthread_join(m->pumps[i].th, NULL);
            m->pumps[i].th = 0;
        }
    }
}

void rpcmux_close(rpcmux *m)
{
    if (!m)
        return;
    rpcmux_stop(m);
    for (int i = 0; i < m->n; i++) {
        if (m->pumps[i].c)
            rpc_close(m->pumps[i].c);
        close(m->pumps[i].efd);
        free(m->pumps[i].turn);
        pthread_mutex_destroy(&m->pumps[i].mu);
        pthread_mutex_destroy(&m->pumps[i].sendmu);
    }
    free(m);
}

int rpcmux_connected(rpcmux *m)
{
    int k = 0;
    for (int i = 0; m && i < m->n; i++)
        k += atomic_load(&m->pumps[i].open) ? 1 : 0;
    return k;
}

int rpcmux_consumers(rpcmux *m)
{
    return m ? atomic_load(&m->consumers) : -1;
}

long long rpcmux_depth(rpcmux *m)
{
    return m ? atomic_load(&m->depth) : -1;
}

void rpcmux_stats(rpcmux *m, unsigned long long *messages, unsigned long long *batches,
                  unsigned long long *batched)
{
    *messages = m ? atomic_load(&m->nmsg) : 0;
    *batches = m ? atomic_load(&m->nbatch) : 0;
    *batched = m ? atomic_load(&m->nbatched) : 0;
}

int rpcmux_send(rpcmux *m, const rpcmux_req *rq, double timeout_s, rpcmux_done_fn fn, void *cls, mlhep_err *e)
{
    if (!m)
        return err_set(e, MLHEP_ENET, "no broker connection for predictions");
    if (atomic_load(&m->stop))
        return err_set(e, MLHEP_ENET, "the gateway is shutting down");
    /* no worker at the last look: pump 0 looks again before it sends or refuses this
     * one (the look may be a second old, and a worker may have come meanwhile) */
    int check = no_consumer(m);
    pump *pp = check ? &m->pumps[0] : NULL; /* (if reconnecting: once it is back) */
    /* a small request goes to the first pump connected: under load it stays awake and
     * sends and reads in large batches (each further pump would wake for its own share);
     * large ones are spread over the pumps (a pump writing one blocks while it does) */
    unsigned start = rq->len > SPREAD_LEN && !check ? atomic_fetch_add(&m->rr, 1) : 0;
    for (int i = 0; i < m->n && !pp; i++) {
        pump *cand = &m->pumps[(start + (unsigned)i) % (unsigned)m->n];
        if (atomic_load(&cand->open)) {
            pp = cand;
            break;
        }
    }
    if (!pp)
        return err_set(e, MLHEP_ENET, "the broker is not reachable from the gateway (reconnecting)");
    call *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->rq = *rq;
    c->fn = fn;
    c->cls = cls;
    c->check = check;
    c->arrival = mono();
    c->deadline = c->arrival + timeout_s;
    c->timeout = timeout_s;
    c->expire_ms = timeout_s > 0 && timeout_s < 86400 ? (int)(timeout_s * 1000) + 1 : 0;
    pthread_mutex_lock(&pp->mu);
    snprintf(c->corr, sizeof c->corr, "g%d-%llu", pp->idx, ++pp->seq);
    /* the pump waits in poll(): send it from here (one write) rather than wake it to
     * send (a write to its eventfd, its wake-up, a read); it wakes for the reply. But
     * while replies are awaited (under load), a small request is left to the pump, which
     * sends it with the others that came meanwhile: in one batch message */
    int alone = rq->len > SPREAD_LEN || m->batch_max < 2 || pp->npending == 0;
    if (!check && alone && atomic_load(&pp->sleeping) && pthread_mutex_trylock(&pp->sendmu) == 0) {
        table_add(pp, c); /* before the send: the reply may come at once */
        pthread_mutex_unlock(&pp->mu);
        mlhep_err se = {0};
        int rc = atomic_load(&pp->open) ? rpc_call_send_as(pp->c, rq->exchange, rq->routing_key, rq->type,
                                                           rq->content_type, rq->token, c->corr, c->expire_ms,
                                                           rq->body, rq->len, &se)
                                        : err_set(&se, MLHEP_ENET, "the broker connection is down (reconnecting)");
        if (rc)
            atomic_store(&pp->open, 0); /* the pump fails what was sent on it and reconnects */
        pthread_mutex_unlock(&pp->sendmu);
        if (!rc) {
            atomic_fetch_add(&m->nmsg, 1);
            return 0;
        }
        wake(pp);
        pthread_mutex_lock(&pp->mu);
        call *mine = table_take(pp, c->corr);
        pthread_mutex_unlock(&pp->mu);
        if (!mine)
            return 0; /* the pump failed it already: fn is called */
        free(c);
        if (e)
            *e = se;
        return se.code ? se.code : MLHEP_ENET;
    }
    if (pp->qtail)
        pp->qtail->qnext = c;
    else
        pp->qhead = c;
    pp->qtail = c;
    pthread_mutex_unlock(&pp->mu);
    if (atomic_load(&pp->sleeping))
        wake(pp);
    return 0;
}

/* ---- the blocking form ---- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    mlhep_err err;
    rpcmux_reply rep;
} waiter;

static void wake_waiter(void *cls, int rc, const mlhep_err *e, rpcmux_reply *rep)
{
    waiter *w = cls;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    if (rc && e)
        w->err = *e;
    if (rc == 0 && rep)
        w->rep = *rep;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int rpcmux_call(rpcmux *m, const rpcmux_req *rq, double timeout_s, rpcmux_reply *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    waiter w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = rpcmux_send(m, rq, timeout_s, wake_waiter, &w, e);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.rc;
        if (rc && e)
            *e = w.err;
        if (rc == 0)
            *out = w.rep;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

void rpcmux_reply_free(rpcmux_reply *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

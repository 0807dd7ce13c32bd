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

#include "service/amqp_rpc.h"

#define MAXPUMPS 16
#define NBUCKETS 1024

enum { C_QUEUED = 0, C_SENDING, C_SENT, C_DONE };

typedef struct call {
    char corr[48];
    const rpcmux_req *rq;
    int expire_ms; /* the caller's wait: the request's expiration on the broker */
    int state;
    int rc;
    mlhep_err err;
    rpcmux_reply rep;
    pthread_cond_t cv;
    struct call *qnext;  /* send queue */
    struct call *hnext;  /* pending table */
} call;

typedef struct pump {
    struct rpcmux *mux;
    int idx;
    rpc_conn *c;
    _Atomic int open;
    pthread_t th;
    pthread_mutex_t mu;
    call *qhead, *qtail;
    call *bucket[NBUCKETS];
    unsigned long long seq;
    int efd;
} pump;

struct rpcmux {
    amqpc_params p;
    int n;
    pump pumps[MAXPUMPS];
    _Atomic unsigned rr;
    _Atomic int stop;
};

static unsigned hash_corr(const char *s)
{
    return (unsigned)(XXH64(s, strlen(s), 0) % NBUCKETS);
}

/* with the pump's lock held */
static void table_remove(pump *pp, call *c)
{
    call **pc = &pp->bucket[hash_corr(c->corr)];
    for (; *pc; pc = &(*pc)->hnext)
        if (*pc == c) {
            *pc = c->hnext;
            return;
        }
}

static call *table_find(pump *pp, const char *corr)
{
    for (call *c = pp->bucket[hash_corr(corr)]; c; c = c->hnext)
        if (!strcmp(c->corr, corr))
            return c;
    return NULL;
}

/* with the lock held: completes c (removes it from the table and wakes its caller) */
static void finish(pump *pp, call *c, int rc, const mlhep_err *err)
{
    table_remove(pp, c);
    c->rc = rc;
    if (err)
        c->err = *err;
    c->state = C_DONE;
    pthread_cond_broadcast(&c->cv);
}

/* with the lock held: fails every call of the pump (connection lost) */
static void fail_all(pump *pp, const mlhep_err *err)
{
    for (int b = 0; b < NBUCKETS; b++)
        while (pp->bucket[b]) {
            call *c = pp->bucket[b];
            if (c->state == C_SENDING) {
                /* the pump thread itself is the sender, so nothing is SENDING here;
                 * kept for clarity */
                c->state = C_SENT;
            }
            finish(pp, c, err->code ? err->code : MLHEP_ENET, err);
        }
    pp->qhead = pp->qtail = NULL;
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

static void *pump_main(void *arg)
{
    pump *pp = arg;
    rpcmux *m = pp->mux;
    double backoff = 0.1;
    while (!atomic_load(&m->stop)) {
        if (!atomic_load(&pp->open)) {
            mlhep_err e = {0};
            if (do_connect(pp, &e)) {
                pthread_mutex_lock(&pp->mu);
                fail_all(pp, &e);
                pthread_mutex_unlock(&pp->mu);
                struct timespec ts = {(time_t)backoff, (long)((backoff - (long)backoff) * 1e9)};
                nanosleep(&ts, NULL);
                backoff = backoff * 2 > 2 ? 2 : backoff * 2;
                continue;
            }
            backoff = 0.1;
        }
        /* send what callers queued */
        pthread_mutex_lock(&pp->mu);
        call *q = pp->qhead;
        pp->qhead = pp->qtail = NULL;
        for (call *c = q; c; c = c->qnext)
            c->state = C_SENDING;
        pthread_mutex_unlock(&pp->mu);
        int broken = 0;
        mlhep_err se = {0};
        for (call *c = q, *next; c; c = next) {
            next = c->qnext;
            int rc = 0;
            if (!broken) {
                const rpcmux_req *r = c->rq;
                rc = rpc_call_send_as(pp->c, r->exchange, r->routing_key, r->type, r->content_type, r->token,
                                      c->corr, c->expire_ms, r->body, r->len, &se);
                if (rc)
                    broken = 1;
            }
            pthread_mutex_lock(&pp->mu);
            c->state = C_SENT;
            if (broken)
                finish(pp, c, rc ? rc : MLHEP_ENET, &se);
            else
                pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&pp->mu);
        }
        if (broken) {
            atomic_store(&pp->open, 0);
            pthread_mutex_lock(&pp->mu);
            fail_all(pp, &se);
            pthread_mutex_unlock(&pp->mu);
            continue;
        }
        /* wait for replies or new requests */
        if (!rpc_buffered(pp->c)) {
            struct pollfd fds[2] = {{rpc_fd(pp->c), POLLIN, 0}, {pp->efd, POLLIN, 0}};
            int pr = poll(fds, 2, 200);
            if (pr < 0 && errno != EINTR)
                continue;
            if (fds[1].revents & POLLIN)
                drain_efd(pp->efd);
            if (!(fds[0].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
        }
        for (int k = 0; k < 256; k++) {
            rpc_msg msg;
            mlhep_err e = {0};
            int rc = rpc_next(pp->c, &msg, 0, &e);
            if (rc == RPC_TIMEOUT)
                break;
            if ((rc == MLHEP_ENOTFOUND || rc == RPC_REFUSED) && msg.corr_id[0]) {
                pthread_mutex_lock(&pp->mu);
                call *c = table_find(pp, msg.corr_id);
                if (c) /* unroutable, or refused by a full queue: that call only */
                    finish(pp, c, rc == RPC_REFUSED ? RPCMUX_REFUSED : MLHEP_ENOTFOUND, &e);
                pthread_mutex_unlock(&pp->mu);
                continue;
            }
            if (rc) {
                atomic_store(&pp->open, 0);
                pthread_mutex_lock(&pp->mu);
                fail_all(pp, &e);
                pthread_mutex_unlock(&pp->mu);
                break;
            }
            pthread_mutex_lock(&pp->mu);
            call *c = table_find(pp, msg.corr_id);
            if (c) {
                c->rep.body = malloc(msg.len + 1);
                if (c->rep.body) {
                    memcpy(c->rep.body, msg.body, msg.len);
                    c->rep.body[msg.len] = '\0';
                    c->rep.len = msg.len;
                    snprintf(c->rep.content_type, sizeof c->rep.content_type, "%s", msg.content_type);
                    finish(pp, c, 0, NULL);
                } else {
                    mlhep_err oe = {MLHEP_ENOMEM, "out of memory for a prediction reply"};
                    finish(pp, c, MLHEP_ENOMEM, &oe);
                }
            }
            pthread_mutex_unlock(&pp->mu);
            rpc_msg_free(&msg);
        }
    }
    pthread_mutex_lock(&pp->mu);
    mlhep_err se = {MLHEP_ENET, "gateway shutting down"};
    fail_all(pp, &se);
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

int rpcmux_open(const amqpc_params *p, int nconn, rpcmux **out, mlhep_err *e)
{
    if (nconn < 1)
        nconn = 1;
    if (nconn > MAXPUMPS)
        nconn = MAXPUMPS;
    rpcmux *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    m->p = *p;
    for (int i = 0; i < nconn; i++) {
        pump *pp = &m->pumps[i];
        pp->mux = m;
        pp->idx = i;
        pthread_mutex_init(&pp->mu, NULL);
        pp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        mlhep_err ce = {0};
        if (do_connect(pp, &ce) && i == 0 && e)
            *e = ce; /* the pumps keep trying; say why the first one failed */
        m->n = i + 1;
    }
    for (int i = 0; i < m->n; i++)
        pthread_create(&m->pumps[i].th, NULL, pump_main, &m->pumps[i]);
    *out = m;
    return 0;
}

void rpcmux_close(rpcmux *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, 1);
    for (int i = 0; i < m->n; i++) {
        uint64_t one = 1;
        if (write(m->pumps[i].efd, &one, sizeof one) < 0) {
            /* the pump wakes within its poll timeout anyway */
        }
        pthread_join(m->pumps[i].th, NULL);
        if (m->pumps[i].c)
            rpc_close(m->pumps[i].c);
        close(m->pumps[i].efd);
        pthread_mutex_destroy(&m->pumps[i].mu);
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

int rpcmux_call(rpcmux *m, const rpcmux_req *rq, double timeout_s, rpcmux_reply *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    pump *pp = NULL;
    unsigned start = atomic_fetch_add(&m->rr, 1);
    for (int i = 0; i < m->n; i++) {
        pump *cand = &m->pumps[(start + (unsigned)i) % (unsigned)m->n];
        if (atomic_load(&cand->open)) {
            pp = cand;
            break;
        }
    }
    if (!pp)
        return err_set(e, MLHEP_ENET, "the broker is not reachable from the gateway (reconnecting)");
    call c;
    memset(&c, 0, sizeof c);
    c.rq = rq;
    c.expire_ms = timeout_s > 0 && timeout_s < 86400 ? (int)(timeout_s * 1000) + 1 : 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c.cv, &ca);
    pthread_condattr_destroy(&ca);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    double whole = (double)(long)timeout_s;
    dl.tv_sec += (time_t)whole;
    dl.tv_nsec += (long)((timeout_s - whole) * 1e9);
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pp->mu);
    snprintf(c.corr, sizeof c.corr, "g%d-%llu", pp->idx, ++pp->seq);
    unsigned b = hash_corr(c.corr);
    c.hnext = pp->bucket[b];
    pp->bucket[b] = &c;
    if (pp->qtail)
        pp->qtail->qnext = &c;
    else
        pp->qhead = &c;
    pp->qtail = &c;
    pthread_mutex_unlock(&pp->mu);
    uint64_t one = 1;
    if (write(pp->efd, &one, sizeof one) < 0) {
        /* eventfd full cannot happen below 2^64-1; the pump polls anyway */
    }
    pthread_mutex_lock(&pp->mu);
    int timed_out = 0;
    while (c.state != C_DONE) {
        if (timed_out) {
            if (c.state == C_SENDING) { /* the pump reads rq now: wait until it is sent */
                pthread_cond_wait(&c.cv, &pp->mu);
                continue;
            }
            break;
        }
        if (pthread_cond_timedwait(&c.cv, &pp->mu, &dl) == ETIMEDOUT)
            timed_out = 1;
    }
    int rc;
    if (c.state == C_DONE) {
        rc = c.rc;
        if (rc && e)
            *e = c.err;
        if (rc == 0)
            *out = c.rep;
    } else {
        /* still queued or sent: take it out so the pump forgets it */
        table_remove(pp, &c);
        if (c.state == C_QUEUED) {
            call **pq = &pp->qhead;
            call *prev = NULL;
            for (; *pq; prev = *pq, pq = &(*pq)->qnext)
                if (*pq == &c) {
                    *pq = c.qnext;
                    if (pp->qtail == &c)
                        pp->qtail = prev;
                    break;
                }
        }
        rc = err_set(e, RPCMUX_TIMEOUT, "no answer from the prediction service within %g s", timeout_s);
    }
    pthread_mutex_unlock(&pp->mu);
    pthread_cond_destroy(&c.cv);
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

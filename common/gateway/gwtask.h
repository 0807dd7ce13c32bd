/* gwtask.h - a request being answered, and the threads that answer the slow ones.
 *
 * The HTTP server's event loop (httpd.c) must never wait: it hands each request to
 * gateway_start (gateway.h), which decides on the spot (404, 401, 429...), or starts a
 * task. A task is answered either by a handler that waits for nothing itself (a
 * prediction: it queues an RPC and the RPC pump finishes the task when the reply
 * comes), or by a handler that may block (Redis, files, model management RPCs), which
 * runs on one of the pool's threads. Either way gwtask_finish is called exactly once:
 * it records the figures of /metrics, writes the access-log line, releases the caller's
 * rate/concurrency slot and hands the response to the server.
 *
 * Ownership: gwtask_new allocates; gwtask_finish frees the task (the response goes to
 * the server's callback, which owns it from then on). The pool: gwpool_start /
 * gwpool_stop (stop runs what is queued, then joins). */
#ifndef MLHEP_GW_TASK_H
#define MLHEP_GW_TASK_H

#include <pthread.h>
#include <stdio.h>

#include "gateway/gwctx.h"
#include "gateway/gwhttp.h"
#include "gateway/route.h"

/* The server's continuation: the response for its request (the callee owns *o). */
typedef void (*gateway_done_fn)(void *cls, gw_resp *o);

typedef struct gw_task gw_task;
typedef int (*gw_handler_fn)(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_resp *o);
typedef void (*gw_async_fn)(gw_ctx *g, const gw_req *r, const gw_match *m, const gw_caller *c, gw_task *t);

struct gw_task {
    gw_ctx *g;
    const gw_req *r;
    gw_match m;
    gw_caller caller;
    gw_resp resp;        /* filled by the handler */
    int route;           /* index in the route table, -1 none */
    int admitted;        /* holds a rate/concurrency slot of caller.user */
    double t0;           /* monotonic arrival time */
    FILE *log;
    gateway_done_fn done;
    void *done_cls;
    gw_handler_fn fn;    /* pool tasks */
    struct gw_task *next;
};

gw_task *gwtask_new(gw_ctx *g, const gw_req *r, FILE *log, gateway_done_fn done, void *cls, double t0);

/* The response in t->resp is complete: figures, log line, limits, then the server's
 * callback; t is freed. */
void gwtask_finish(gw_task *t);

/* Runs t->fn(g, r, &t->m, &t->caller, &t->resp) on a pool thread, then finishes t.
 * When the pool is stopping, t is answered 503 at once. */
void gwpool_submit(gw_ctx *g, gw_task *t);

/* Starts n threads (1..256) in g->pool; gwpool_stop runs what is queued, then joins. */
int gwpool_start(gw_ctx *g, int n, mlhep_err *e);
void gwpool_stop(gw_ctx *g);

/* Monotonic seconds. */
double gwtask_now(void);

#endif

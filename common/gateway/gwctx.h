/* gwctx.h - what the gateway holds while it runs, shared by every request handler.
 *
 * Opened once at start from the configuration: the token verifier, the job publisher
 * (its own broker account), the prediction RPC pumps, a small pool of read-mostly Redis
 * connections (the gateway's own account: it reads job records and writes only
 * idempotency keys), the workflow validator (same schema and rules as the worker), the
 * dashboard's files, the limiter and the figures for /metrics. Handlers borrow from it;
 * nothing in it changes after start except through its own locks.
 *
 * Ownership: gwctx_open allocates, gwctx_close frees. Thread-safe. */
#ifndef MLHEP_GW_CTX_H
#define MLHEP_GW_CTX_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/err.h"
#include "gateway/promstats.h"
#include "gateway/ratelimit.h"
#include "gateway/rpcmux.h"
#include "gateway/webfiles.h"
#include "service/auth_glue.h"
#include "service/config.h"
#include "service/jobpub.h"
#include "service/jobstore.h"
#include "train/pipeline.h"

#define GW_STORE_POOL 16

/* Test hooks (config test_hooks = 1 only): the gateway exits at a chosen point of a
 * submission, so tests can check what a client sees when the gateway dies there. Set
 * by the test through the request header X-Mlhep-Test-Crash. */
enum { GW_CRASH_NONE = 0, GW_CRASH_BEFORE_PUBLISH, GW_CRASH_AFTER_PUBLISH };

/* Who is calling: the verified token's user, and the token itself (forwarded to the
 * workers, which check it again). */
typedef struct gw_caller {
    char user[JOB_USER_MAX + 1];
    const char *token;
} gw_caller;

/* A model's features document as the prediction service gave it (v2 metadata and the
 * flat/jagged kinds of v2 inputs), kept briefly per user and model reference. */
#define GW_FCACHE 64
#define GW_REF_MAX 400 /* "name@version" from two path parameters (route.h: < 192 each) */
typedef struct gw_fentry {
    char user[JOB_USER_MAX + 1];
    char ref[GW_REF_MAX];
    json_t *doc;
    double at;  /* monotonic seconds */
} gw_fentry;

struct gw_task;
struct gw_stream;

/* Threads answering the handlers that may block (gateway/gwtask.h). */
typedef struct gw_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gw_task *head, *tail;
    pthread_t *th;
    int n;
    int stop;
} gw_pool;

/* Live event streams and the thread that feeds them (gateway/jobsapi.h). */
typedef struct gw_streams {
    pthread_mutex_t mu;
    struct gw_stream *list;
    pthread_t ticker;
    int started;
    _Atomic int stop;
} gw_streams;

typedef struct gw_ctx {
    const mlhep_config *cfg;
    _Atomic int stopping;  /* set at shutdown: streams end at their next poll */
    auth_ctx *auth;
    jobpub *pub;
    rpcmux *rpc;
    promstats *stats;
    ratelimit *rl;
    pipeline_env *penv;
    webfiles *web;
    size_t max_body;
    double started;  /* unix seconds */
    pthread_mutex_t store_mu;
    jobstore *store[GW_STORE_POOL];
    int nstore;
    pthread_mutex_t fmu;
    gw_fentry fcache[GW_FCACHE];
    unsigned fnext;
    gw_pool pool;
    gw_streams streams;
} gw_ctx;

/* route_names (ids 0..nroutes-1) label the figures of /metrics. */
int gwctx_open(const mlhep_config *cfg, const char *const *route_names, size_t nroutes, gw_ctx **out,
               mlhep_err *e);
void gwctx_close(gw_ctx *g);

/* Borrows a Redis connection (opens one when the pool is empty); give it back with
 * gwctx_store_put (ok = 0 when it failed: it is then closed rather than reused). */
int gwctx_store_get(gw_ctx *g, jobstore **js, mlhep_err *e);
void gwctx_store_put(gw_ctx *g, jobstore *js, int ok);

/* Readiness: 0 when the broker (publisher and prediction pumps) and Redis answer,
 * else an error naming what does not. */
int gwctx_ready(gw_ctx *g, mlhep_err *e);

#endif

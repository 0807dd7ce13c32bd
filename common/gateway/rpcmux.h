/* rpcmux.h - many threads' prediction requests over a few broker connections.
 *
 * The gateway answers each HTTP connection on its own thread; a prediction becomes an
 * RPC to mlhep-infer (service/amqp_rpc.h: direct reply-to, correlation id, the user's
 * token in the `authorization` header). rpc_conn is owned by one thread, so the
 * gateway runs a few pump threads, each with one connection: a caller hands its
 * request to a pump (round robin among the connected ones) and sleeps until the reply
 * with its correlation id arrives, the broker returns the request as unroutable (no
 * inference queue) or refuses it (the queue is full), the connection fails, or its time
 * runs out. The pump sends what
 * callers queued and reads replies in one poll loop; a pump whose connection failed
 * fails its pending calls at once and reconnects with backoff (0.1 s to 2 s).
 *
 * Ownership: rpcmux_open allocates, rpcmux_close stops the pumps and frees. A reply's
 * body is malloc'ed and belongs to the caller (rpcmux_reply_free). Thread-safe. */
#ifndef MLHEP_GW_RPCMUX_H
#define MLHEP_GW_RPCMUX_H

#include <stddef.h>

#include "base/err.h"
#include "service/amqp_client.h"

typedef struct rpcmux rpcmux;

typedef struct rpcmux_req {
    const char *exchange;     /* "predict" */
    const char *routing_key;  /* "request" */
    const char *type;         /* AMQP type property ("models" for management), or NULL */
    const char *content_type; /* NULL: application/json */
    const char *token;        /* bearer token forwarded to the worker, or NULL */
    const void *body;
    size_t len;
} rpcmux_req;

typedef struct rpcmux_reply {
    char *body;
    size_t len;
    char content_type[64];
} rpcmux_reply;

/* Starts nconn pumps (1..16), each connecting now and again after every failure: the
 * gateway may start before the broker. Fails only for lack of memory. e (if given)
 * says why the first connection failed, when it did (rpcmux_connected tells). */
int rpcmux_open(const amqpc_params *p, int nconn, rpcmux **out, mlhep_err *e);
void rpcmux_close(rpcmux *m);

/* Sends rq and waits at most timeout_s for the reply (the request expires on the broker
 * after that time too: nobody answers it later). 0 with *out filled;
 * MLHEP_ENOTFOUND: no queue took the request (inference not deployed);
 * MLHEP_ENET: no broker connection, or it failed while waiting;
 * RPCMUX_TIMEOUT (positive): no reply in time;
 * RPCMUX_REFUSED (positive): the request queue is full and the broker refused it
 * (nothing was queued: retry later). The message says which. */
#define RPCMUX_TIMEOUT 1
#define RPCMUX_REFUSED 2
int rpcmux_call(rpcmux *m, const rpcmux_req *rq, double timeout_s, rpcmux_reply *out, mlhep_err *e);
void rpcmux_reply_free(rpcmux_reply *r);

/* Number of pumps connected now (readiness). */
int rpcmux_connected(rpcmux *m);

#endif

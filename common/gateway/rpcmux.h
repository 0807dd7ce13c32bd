/* rpcmux.h - the gateway's predictions over a few broker connections, answered
 * asynchronously.
 *
 * A prediction becomes an RPC to mlhep-infer (service/amqp_rpc.h: direct reply-to,
 * correlation id, the user's token in the `authorization` header). rpc_conn is owned by
 * one thread, so the gateway runs a few pump threads, each with one connection: a request
 * is handed to a pump with a callback (a small one to the first pump connected, so that
 * under load one pump stays awake and works in large batches; large ones round robin);
 * the pump sends what was queued (all of it in one write; small requests of one token
 * that wait together as one batch message, service/rpcbatch.h, which mlhep-infer answers
 * item by item), reads replies, and calls each
 * request's callback once: with the reply, or when the broker returns the request as
 * unroutable (no inference queue), when the connection fails, or when its time runs out.
 * A caller never waits for a thread to wake: when the pump sleeps in poll(), the caller
 * writes its request on the pump's connection itself (under the connection's lock, which
 * the pump holds whenever it is not waiting) instead of waking the pump to do it, unless
 * replies are awaited on that connection (under load) and the request is small: then the
 * pump sends it with those that came meanwhile; the
 * HTTP server's event loop hands a request over and goes on (gateway/httpd.h). A pump
 * whose connection failed fails its pending calls at once and reconnects with backoff
 * (0.1 s to 2 s).
 *
 * Ownership: rpcmux_open allocates, rpcmux_close fails what is pending, stops the pumps
 * and frees. A reply's body is malloc'ed and belongs to the callback (rpcmux_reply_free).
 * Thread-safe. */
#ifndef MLHEP_GW_RPCMUX_H
#define MLHEP_GW_RPCMUX_H

#include <stddef.h>

#include "base/err.h"
#include "service/amqp_client.h"

typedef struct rpcmux rpcmux;

typedef struct rpcmux_req {
    const char *exchange;     /* "predict" */
    const char *routing_key;  /* "predict" */
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

#define RPCMUX_TIMEOUT 1 /* positive: no reply in time */
#define RPCMUX_REFUSED 2 /* positive: the request queue is full and the broker refused it
                          * (nothing was queued: retry later) */

/* Called once per request, on a pump thread: rc 0 with *rep (the callback owns
 * rep->body), MLHEP_ENOTFOUND (no queue took the request: inference not deployed),
 * MLHEP_ENET (no connection, or it failed), RPCMUX_TIMEOUT; e says which. */
typedef void (*rpcmux_done_fn)(void *cls, int rc, const mlhep_err *e, rpcmux_reply *rep);

/* Starts nconn pumps (1..16), each connecting now and again after every failure: the
 * gateway may start before the broker. Fails only for lack of memory or threads. e (if
 * given) says why the first connection failed, when it did (rpcmux_connected tells).
 * watch_queue (NULL: none): the queue the requests end up in; the first pump looks at
 * its consumers about every second (a passive declare), and once it has had none for
 * WATCH_GRACE seconds (rpcmux.c; a restarting worker comes back within it) a request
 * fails at once with MLHEP_ENOTFOUND instead of waiting for its timeout: the first pump
 * looks again before it refuses or sends it (a worker may have come since the last
 * look), at most every RECHECK (0.1 s). batch_max (1..RPCBATCH_MAX_ITEMS; 1: never):
 * the most small requests one batch message carries (service/rpcbatch.h). */
int rpcmux_open(const amqpc_params *p, int nconn, int batch_max, const char *watch_queue, rpcmux **out,
                mlhep_err *e);
void rpcmux_close(rpcmux *m);

/* Queues rq (its strings and body must stay valid until fn is called); fn is called
 * once, later, from a pump thread (MLHEP_ENOTFOUND among its outcomes: the watched queue
 * still had no consumer when the first pump looked again). Returns 0, or at once (fn not
 * called) MLHEP_ENET when no pump is connected, the mux is stopping or the request could
 * not be written. */
int rpcmux_send(rpcmux *m, const rpcmux_req *rq, double timeout_s, rpcmux_done_fn fn, void *cls, mlhep_err *e);

/* The same, waiting for the outcome on this thread: 0 with *out filled, or the error. */
int rpcmux_call(rpcmux *m, const rpcmux_req *rq, double timeout_s, rpcmux_reply *out, mlhep_err *e);
void rpcmux_reply_free(rpcmux_reply *r);

/* Fails every pending request with MLHEP_ENET "shutting down" and refuses new ones
 * (the server's shutdown: nothing may stay waiting). */
void rpcmux_stop(rpcmux *m);

/* Broker messages sent, how many of them were batches and how many requests those
 * carried (counters since rpcmux_open; /metrics). */
void rpcmux_stats(rpcmux *m, unsigned long long *messages, unsigned long long *batches,
                  unsigned long long *batched);

/* Number of pumps connected now (readiness). */
int rpcmux_connected(rpcmux *m);

/* Consumers and ready messages of the watched queue at the last look (-1: unknown, or
 * none watched). */
int rpcmux_consumers(rpcmux *m);
long long rpcmux_depth(rpcmux *m);

#endif

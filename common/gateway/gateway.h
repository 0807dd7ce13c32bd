/* gateway.h - the front door's routing: which URL does what, who may call it, and the
 * checks every request passes before its handler runs.
 *
 * For each request gw_handle: matches the route table (404, or 405 with Allow); answers
 * CORS preflights only for the configured origin (none by default); checks the bearer
 * token for the route's scope (401 with WWW-Authenticate when missing or invalid, 403
 * when the scope is missing), except on the open routes (health, metrics, the
 * dashboard's files, KServe's server and health calls); applies the caller's rate and
 * concurrency limits (429 with Retry-After; a live event stream counts against the
 * concurrency limit until it ends); runs the handler; records the figures of
 * /metrics and writes one access-log line (method, path, user, status, bytes, time;
 * never a token, never a body).
 *
 * The route table is the API's one list: docs/gateway.md and the dashboard follow it. */
#ifndef MLHEP_GW_GATEWAY_H
#define MLHEP_GW_GATEWAY_H

#include <stdio.h>

#include "gateway/gwctx.h"
#include "gateway/gwhttp.h"
#include "gateway/route.h"
#include "gateway/gwtask.h"

/* Opens the context for cfg (route names for the figures), starts the worker threads
 * (gateway_workers) and the live streams' feeder. */
int gateway_open(const mlhep_config *cfg, gw_ctx **out, mlhep_err *e);

/* Ends what is in flight before the server stops: pending predictions fail (503), live
 * streams end, queued handlers run and the worker threads exit. New requests get 503. */
void gateway_quiesce(gw_ctx *g);

/* gateway_quiesce, then frees everything. */
void gateway_close(gw_ctx *g);

/* Starts answering r (never fails: every problem becomes an error response). done is
 * called exactly once with the response: on this thread before gateway_start returns
 * (quick answers and refusals), or later on a worker thread or an RPC pump. r and what
 * it points to (body, header and query lookups) must stay valid until then. log:
 * where the access-log line goes (NULL: none). */
void gateway_start(gw_ctx *g, const gw_req *r, FILE *log, gateway_done_fn done, void *cls);
/* Asked by the server once a request's headers are in, before its body of len bytes
 * (announced by Content-Length): 1 and *out set when the request's route takes the body
 * while it arrives (then the server feeds it there and hands the sink over in
 * gw_req.sink), 0 when the body is to be kept whole. Nothing is checked here (the
 * token, limits and everything else are checked by gateway_start as always). */
int gateway_body_sink(gw_ctx *g, const char *method, const char *path,
                      const char *(*header)(void *cls, const char *name), void *hcls, size_t len, gw_sink *out);

/* The same, waiting for the response on this thread (tests, fuzzing). */
void gateway_handle(gw_ctx *g, const gw_req *r, gw_resp *o, FILE *log);

/* The routes as "METHOD PATTERN" lines (for --routes and the docs check). */
void gateway_print_routes(FILE *out);

/* Matches method + path against the route table (gw_route_match; tests, fuzzers): the
 * route's index, GW_ROUTE_NOTFOUND or GW_ROUTE_METHOD; its metrics name in *name. */
int gateway_route_match(const char *method, const char *path, gw_match *m, const char **name);

#endif

/* promstats.h - the gateway's operational figures in Prometheus text format (/metrics).
 *
 * Counters and latency histograms are kept per route and HTTP status code with atomic
 * adds (no lock on the request path); the inference round trip (gateway -> broker ->
 * mlhep-infer -> gateway) has its own histogram and counters by outcome. Gauges that
 * live elsewhere (jobs by state, queue depths) are passed in when the page is rendered.
 *
 * Exposition (text format 0.0.4):
 *   mlhep_gateway_requests_total{route="jobs_submit",code="202"} 12
 *   mlhep_gateway_request_seconds_bucket{route="jobs_submit",le="0.005"} 10 ... _sum _count
 *   mlhep_gateway_inference_seconds_bucket{le=...}, mlhep_gateway_inference_total{outcome=}
 *   mlhep_gateway_inflight, plus the caller's gauges.
 *
 * Ownership: promstats_new allocates, promstats_free frees. Safe for many threads. */
#ifndef MLHEP_GW_PROMSTATS_H
#define MLHEP_GW_PROMSTATS_H

#include <stddef.h>

#include "base/err.h"

typedef struct promstats promstats;

/* Outcomes of an inference round trip. */
enum { PS_INFER_OK = 0, PS_INFER_ERROR, PS_INFER_TIMEOUT, PS_INFER_UNAVAILABLE, PS_INFER_NOUTCOMES };

/* route_names[i] names route id i (ids 0..nroutes-1); the strings must outlive ps. */
int promstats_new(const char *const *route_names, size_t nroutes, promstats **out, mlhep_err *e);
void promstats_free(promstats *ps);

/* One finished request: route id (-1: no route matched), status, seconds taken. */
void promstats_request(promstats *ps, int route, int status, double seconds);

/* Requests in flight (+1 at start, -1 at the end). */
void promstats_inflight(promstats *ps, int delta);

/* One inference round trip. */
void promstats_infer(promstats *ps, int outcome, double seconds);

/* A line of the caller's for render: name{labels} value (labels may be ""), of
 * Prometheus type `type` ("gauge" when NULL; "counter" for totals, named *_total). */
typedef struct promstats_gauge {
    const char *name;
    const char *help;
    const char *labels;
    double value;
    const char *type;
} promstats_gauge;

/* Writes the whole page into a malloc'd *out (*len bytes, NUL-terminated). Gauges with
 * the same name must be adjacent (one HELP/TYPE header each). */
int promstats_render(promstats *ps, const promstats_gauge *g, size_t ng, char **out, size_t *len,
                     mlhep_err *e);

#endif

/* promstats.c - see promstats.h. */
#include "gateway/promstats.h"

#include "base/wbuf.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets, seconds (upper bounds; +Inf is the count). */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NB (sizeof buckets / sizeof buckets[0])
#define NCODES 600 /* status codes 0..599 */

typedef struct hist {
    _Atomic unsigned long long b[NB];
    _Atomic unsigned long long count;
    _Atomic unsigned long long sum_us; /* sum in microseconds */
} hist;

typedef struct route_stats {
    _Atomic unsigned long long code[NCODES];
    hist h;
} route_stats;

struct promstats {
    const char *const *names;
    size_t n;
    route_stats *r; /* n + 1: the last one is "no route" */
    hist infer;
    _Atomic unsigned long long infer_out[PS_INFER_NOUTCOMES];
    _Atomic long long inflight;
};

int promstats_new(const char *const *route_names, size_t nroutes, promstats **out, mlhep_err *e)
{
    promstats *ps = calloc(1, sizeof *ps);
    if (ps)
        ps->r = calloc(nroutes + 1, sizeof *ps->r);
    if (!ps || !ps->r) {
        free(ps);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    ps->names = route_names;
    ps->n = nroutes;
    *out = ps;
    return 0;
}

void promstats_free(promstats *ps)
{
    if (!ps)
        return;
    free(ps->r);
    free(ps);
}

static void hist_add(hist *h, double s)
{
    for (size_t i = 0; i < NB; i++)
        if (s <= buckets[i])
            atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    double us = s * 1e6;
    atomic_fetch_add_explicit(&h->sum_us, us > 0 ? (unsigned long long)us : 0, memory_order_relaxed);
}

void promstats_request(promstats *ps, int route, int status, double seconds)
{
    if (!ps)
        return;
    route_stats *r = &ps->r[(route >= 0 && (size_t)route < ps->n) ? (size_t)route : ps->n];
    if (status < 0 || status >= NCODES)
        status = 0;
    atomic_fetch_add_explicit(&r->code[status], 1, memory_order_relaxed);
    hist_add(&r->h, seconds);
}

void promstats_inflight(promstats *ps, int delta)
{
    if (ps)
        atomic_fetch_add_explicit(&ps->inflight, delta, memory_order_relaxed);
}

void promstats_infer(promstats *ps, int outcome, double seconds)
{
    if (!ps || outcome < 0 || outcome >= PS_INFER_NOUTCOMES)
        return;
    atomic_fetch_add_explicit(&ps->infer_out[outcome], 1, memory_order_relaxed);
    hist_add(&ps->infer, seconds);
}

static void hist_render(wbuf *s, const char *name, const char *labels, const hist *h)
{
    const char *sep = labels[0] ? "," : "";
    for (size_t i = 0; i < NB; i++)
        wbuf_printf(s, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, buckets[i],
                  (unsigned long long)atomic_load_explicit(&h->b[i], memory_order_relaxed));
    unsigned long long c = atomic_load_explicit(&h->count, memory_order_relaxed);
    wbuf_printf(s, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, c);
    const char *lb = labels[0] ? "{" : "", *rb = labels[0] ? "}" : "";
    wbuf_printf(s, "%s_sum%s%s%s %.6f\n", name, lb, labels, rb,
                (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    wbuf_printf(s, "%s_count%s%s%s %llu\n", name, lb, labels, rb, c);
}

/* A sample value as the text format writes it (NaN, +Inf, -Inf are spelled so). */
static void number_text(double v, char *out, size_t n)
{
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, n, "%.17g", v);
}

static const char *route_name(const promstats *ps, size_t i)
{
    return i < ps->n ? ps->names[i] : "none";
}

int promstats_render(promstats *ps, const promstats_gauge *g, size_t ng, char **out, size_t *len,
                     mlhep_err *e)
{
    wbuf s = WBUF_INIT;
    wbuf_reserve(&s, 16384);
    wbuf_printf(&s, "# HELP mlhep_gateway_requests_total HTTP requests answered, by route and status code.\n"
                  "# TYPE mlhep_gateway_requests_total counter\n");
    for (size_t i = 0; i <= ps->n; i++)
        for (int c = 0; c < NCODES; c++) {
            unsigned long long v = atomic_load_explicit(&ps->r[i].code[c], memory_order_relaxed);
            if (v)
                wbuf_printf(&s, "mlhep_gateway_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                          route_name(ps, i), c, v);
        }
    wbuf_printf(&s, "# HELP mlhep_gateway_request_seconds Time from the request's arrival to its answer, by route.\n"
                  "# TYPE mlhep_gateway_request_seconds histogram\n");
    for (size_t i = 0; i <= ps->n; i++) {
        if (!atomic_load_explicit(&ps->r[i].h.count, memory_order_relaxed))
            continue;
        char lab[128];
        snprintf(lab, sizeof lab, "route=\"%s\"", route_name(ps, i));
        hist_render(&s, "mlhep_gateway_request_seconds", lab, &ps->r[i].h);
    }
    static const char *const outcomes[PS_INFER_NOUTCOMES] = {"ok", "error", "timeout", "unavailable"};
    wbuf_printf(&s, "# HELP mlhep_gateway_inference_total Prediction round trips through the broker, by outcome.\n"
                  "# TYPE mlhep_gateway_inference_total counter\n");
    for (int i = 0; i < PS_INFER_NOUTCOMES; i++)
        wbuf_printf(&s, "mlhep_gateway_inference_total{outcome=\"%s\"} %llu\n", outcomes[i],
                  (unsigned long long)atomic_load_explicit(&ps->infer_out[i], memory_order_relaxed));
    wbuf_printf(&s, "# HELP mlhep_gateway_inference_seconds Prediction round trip: gateway -> broker -> "
                  "mlhep-infer -> gateway.\n# TYPE mlhep_gateway_inference_seconds histogram\n");
    hist_render(&s, "mlhep_gateway_inference_seconds", "", &ps->infer);
    wbuf_printf(&s, "# HELP mlhep_gateway_inflight Requests being answered now.\n"
                  "# TYPE mlhep_gateway_inflight gauge\nmlhep_gateway_inflight %lld\n",
              (long long)atomic_load_explicit(&ps->inflight, memory_order_relaxed));
    for (size_t i = 0; i < ng; i++) {
        if (i == 0 || strcmp(g[i].name, g[i - 1].name))
            wbuf_printf(&s, "# HELP %s %s\n# TYPE %s %s\n", g[i].name, g[i].help ? g[i].help : "", g[i].name,
                        g[i].type ? g[i].type : "gauge");
        char v[40];
        number_text(g[i].value, v, sizeof v);
        if (g[i].labels && g[i].labels[0])
            wbuf_printf(&s, "%s{%s} %s\n", g[i].name, g[i].labels, v);
        else
            wbuf_printf(&s, "%s %s\n", g[i].name, v);
    }
    if (!wbuf_ok(&s)) {
        wbuf_free(&s);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    *out = (char *)s.p;
    *len = s.len;
    return 0;
}

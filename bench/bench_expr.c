/* bench_expr.c - events/s of the expression evaluator (common/data/expr.c) and of a
 * preproc jagged cut (common/data/preproc.c) against plain C loops computing the same
 * thing, measured in the same run on the same synthetic chunk. Built and run by
 * bench/bench_expr.sh.
 *
 *   bench_expr [NEVENTS [CHUNK [WHICH]]]   default 1000000 events, chunks of 100000,
 *                                          WHICH 0..2 runs one of the three only
 *
 * Data: MET_px, MET_py flat; Jet_pt, Jet_eta jagged with 0..10 jets per event
 * (mean 5), each jagged branch with its own offsets array as a reader produces.
 * Each figure is the best of 6 repetitions over all chunks (a 7th keeps the results). Outputs are compared
 * with the baseline's and the program fails on any difference. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/expr.h"
#include "data/preproc.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rs = 0x853c49e6748fea9bull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

typedef struct data {
    size_t n;
    double *px, *py, *pt, *eta;
    int64_t *off_pt, *off_eta;
} data;

/* Columns of the chunk [e0, e0+m): jagged offsets rebased to start at 0 (o1, o2 hold
 * m+1 entries each), as a reader hands them over. */
static void chunk_cols(const data *d, size_t e0, size_t m, int64_t *o1, int64_t *o2, expr_column *c)
{
    int64_t b = d->off_pt[e0];
    for (size_t i = 0; i <= m; i++) {
        o1[i] = d->off_pt[e0 + i] - b;
        o2[i] = d->off_eta[e0 + i] - b;
    }
    c[0] = (expr_column){"MET_px", EXPR_FLAT, NULL, d->px + e0};
    c[1] = (expr_column){"MET_py", EXPR_FLAT, NULL, d->py + e0};
    c[2] = (expr_column){"Jet_pt", EXPR_JAGGED, o1, d->pt + b};
    c[3] = (expr_column){"Jet_eta", EXPR_JAGGED, o2, d->eta + b};
}

static void base_met(const data *d, double *out)
{
    for (size_t i = 0; i < d->n; i++)
        out[i] = sqrt(d->px[i] * d->px[i] + d->py[i] * d->py[i]);
}

static void base_cut(const data *d, uint8_t *out)
{
    const int64_t *o = d->off_pt;
    for (size_t i = 0; i < d->n; i++) {
        uint8_t a = 0;
        for (int64_t j = o[i]; j < o[i + 1]; j++)
            if (d->pt[j] > 30 && fabs(d->eta[j]) < 2.4) {
                a = 1;
                break;
            }
        out[i] = a;
    }
}

static void base_sum(const data *d, double *out)
{
    const int64_t *o = d->off_pt;
    for (size_t i = 0; i < d->n; i++) {
        double s = 0;
        for (int64_t j = o[i]; j < o[i + 1]; j++)
            s += d->pt[j];
        out[i] = s;
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    size_t chunk = argc > 2 ? (size_t)atol(argv[2]) : 100000;
    int only = argc > 3 ? atoi(argv[3]) : -1;
    if (n == 0 || chunk == 0)
        return 2;
    data d = {.n = n};
    d.px = malloc(n * sizeof(double));
    d.py = malloc(n * sizeof(double));
    d.off_pt = malloc((n + 1) * sizeof(int64_t));
    d.off_eta = malloc((n + 1) * sizeof(int64_t));
    d.off_pt[0] = d.off_eta[0] = 0;
    for (size_t i = 0; i < n; i++) {
        d.px[i] = urand() * 200 - 100;
        d.py[i] = urand() * 200 - 100;
        d.off_pt[i + 1] = d.off_eta[i + 1] = d.off_pt[i] + (int64_t)(urand() * 11);
    }
    size_t nj = (size_t)d.off_pt[n];
    d.pt = malloc(nj * sizeof(double));
    d.eta = malloc(nj * sizeof(double));
    for (size_t j = 0; j < nj; j++) {
        d.pt[j] = -log(1 - urand()) * 25; /* falling spectrum, ~30% above 30 GeV */
        d.eta[j] = urand() * 10 - 5;
    }
    printf("bench_expr: %zu events, %.2f jets/event, chunks of %zu events, best of 6\n", n,
           (double)nj / (double)n, chunk);

    expr_schema *s = expr_schema_new();
    expr_schema_add(s, "MET_px", EXPR_FLAT, NULL);
    expr_schema_add(s, "MET_py", EXPR_FLAT, NULL);
    expr_schema_add(s, "Jet_pt", EXPR_JAGGED, NULL);
    expr_schema_add(s, "Jet_eta", EXPR_JAGGED, NULL);
    mlhep_err e = {0};
    expr *met = NULL, *sum = NULL;
    preproc *pp = NULL;
    const char *doc = "{\"jagged_cut\": {\"Jet_pt\": {\"cut\": [\"Jet_pt > 30 and abs(Jet_eta) < 2.4\", \"any\"]}}}";
    if (expr_compile("sqrt(MET_px**2+MET_py**2)", s, NULL, &met, &e) ||
        expr_compile("sum(Jet_pt)", s, NULL, &sum, &e) ||
        preproc_compile(doc, strlen(doc), s, &pp, &e)) {
        fprintf(stderr, "bench_expr: %s\n", e.msg);
        return 1;
    }
    double *ref = malloc(n * sizeof(double)), *got = malloc(n * sizeof(double));
    uint8_t *mref = malloc(n), *mgot = malloc(n);
    /* the chunks' columns are prepared before timing (the reader's job) */
    size_t nch = (n + chunk - 1) / chunk;
    int64_t *o1 = malloc((n + nch) * sizeof(int64_t)), *o2 = malloc((n + nch) * sizeof(int64_t));
    expr_column(*cc)[4] = malloc(nch * sizeof *cc);
    for (size_t k = 0; k < nch; k++) {
        size_t e0 = k * chunk, m = n - e0 < chunk ? n - e0 : chunk;
        chunk_cols(&d, e0, m, o1 + e0 + k, o2 + e0 + k, cc[k]);
    }
    expr_ws *ws = expr_ws_new();
    preproc_ws *pws = preproc_ws_new(pp);
    const char *names[3] = {"sqrt(MET_px**2+MET_py**2)", "jagged cut [Jet_pt > 30 and abs(Jet_eta) < 2.4, \"any\"]",
                            "sum(Jet_pt)"};
    int fails = 0;
    for (int t = 0; t < 3; t++) {
        if (only >= 0 && t != only)
            continue;
        double best_b = 1e30, best_x = 1e30;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = now();
            if (t == 0)
                base_met(&d, ref);
            else if (t == 1)
                base_cut(&d, mref);
            else
                base_sum(&d, ref);
            double t1 = now();
            /* timed: evaluation only; the last repetition also keeps the results */
            for (size_t k = 0; k < nch; k++) {
                size_t e0 = k * chunk, m = n - e0 < chunk ? n - e0 : chunk;
                expr_column r;
                int rc;
                if (t == 1) {
                    const expr_column *nc;
                    rc = preproc_apply(pp, pws, cc[k], 4, m, &nc, mgot + e0, &e);
                } else {
                    rc = expr_eval(t == 0 ? met : sum, cc[k], 4, m, ws, &r, &e);
                    if (rc == 0 && rep == 6)
                        memcpy(got + e0, r.values, m * sizeof(double));
                }
                if (rc) {
                    fprintf(stderr, "bench_expr: %s\n", e.msg);
                    return 1;
                }
            }
            double t2 = now();
            if (t1 - t0 < best_b)
                best_b = t1 - t0;
            if (t2 - t1 < best_x && rep < 6)
                best_x = t2 - t1;
        }
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += t == 1 ? mref[i] != mgot[i] : ref[i] != got[i];
        if (bad) {
            fprintf(stderr, "bench_expr: %s: %zu events differ from the baseline\n", names[t], bad);
            fails++;
        }
        printf("  %-58s expr %7.1f Mevents/s  plain C %7.1f Mevents/s  ratio %.2f (expr time / C time)\n",
               names[t], (double)n / best_x / 1e6, (double)n / best_b / 1e6, best_x / best_b);
    }
    expr_ws_free(ws);
    preproc_ws_free(pws);
    expr_free(met);
    expr_free(sum);
    preproc_free(pp);
    expr_schema_free(s);
    free(ref); free(got); free(mref); free(mgot); free(o1); free(o2); free(cc);
    free(d.px); free(d.py); free(d.pt); free(d.eta); free(d.off_pt); free(d.off_eta);
    return fails ? 1 : 0;
}

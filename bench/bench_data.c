/* bench_data.c - data layer speed (issue 4): events/s of the specs pass, of chunk
 * creation (read + flatten + normalise + mix + shuffle) and of chunk creation with a
 * jagged cut and a new branch, each against the raw decompression of the same
 * baskets measured in the same run (one thread, as the issue defines the ceiling;
 * the two-thread figure is printed beside it).
 *
 *   bench_data SIGNAL.root BACKGROUND.root   (generated ttH-like files, tree Events)
 *
 * Each figure is the best of BENCH_REPEAT runs (default 3): the machine is shared,
 * and the best run is the one least disturbed. "cold" is the first pass of a new
 * dataset (every buffer touched for the first time), "warm" a second epoch of the
 * same dataset (dataset_rewind: buffers reused, as in training). cores = CPU time /
 * wall time of the measured pass.
 *
 * bench_data --prep SIGNAL.root BACKGROUND.root: the full preparation as mlhep-prep runs
 * it (chunk 100,000): one line "prep EVENTS RAW1 SPECS CHUNKS" with the seconds of 1-thread
 * raw decompression of the baskets read, of the specs pass and of one cold pass of chunk
 * creation (all threads), for bench_prep.sh to extrapolate.
 *
 * BENCH_PROFILE=1: only the specs pass and 5 x BENCH_REPEAT warm chunk passes, each
 * printed (for perf record). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "root/basket.h"
#include "data/dataset.h"
#include "base/jsonschema.h"
#include "data/specs.h"
#include "service/workflow.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long faults(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_minflt + r.ru_majflt;
}

static double cpu(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + 1e-6 * (double)r.ru_utime.tv_usec + (double)r.ru_stime.tv_sec +
           1e-6 * (double)r.ru_stime.tv_usec;
}

/* Wall time, CPU time (all threads) and page faults of a measured pass. */
typedef struct timing {
    double wall, cpu;
    long faults;
} timing;

static timing mark(void)
{
    return (timing){now(), cpu(), faults()};
}

static timing since(timing m)
{
    timing t = mark();
    return (timing){t.wall - m.wall, t.cpu - m.cpu, t.faults - m.faults};
}

static void die(const mlhep_err *e)
{
    fprintf(stderr, "%s\n", e->msg);
    exit(1);
}

static workflow *load(const char *s, const char *b, const char *preproc, int chunk)
{
    char doc[8192], dir[4096];
    snprintf(dir, sizeof dir, "%s", s);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    snprintf(doc, sizeof doc,
             "{\"name\":\"bench\",\"files\":[{\"path\":\"%s\",\"label\":1},{\"path\":\"%s\",\"label\":0}],"
             "\"params\":{\"chunk_size\":%d,\"shuffle\":true,\"max_jagged_length\":6}%s%s,"
             "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
             s, b, chunk, preproc ? ",\"preproc\":" : "", preproc ? preproc : "");
    mlhep_err e;
    jschema *sch;
    if (jschema_load_named(NULL, "workflow", &sch, &e))
        die(&e);
    const char *roots[] = {dir};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e))
        die(&e);
    jschema_free(sch);
    return wf;
}

/* Raw decompression of the baskets of the branches the data layer reads: thread tid
 * of n inflates branches tid, tid+n, ... of every file. */
typedef struct inflate_arg {
    const workflow *wf;
    const specs *sp;
    int tid, n;
    int64_t events;
} inflate_arg;

static void *inflate_thread(void *p)
{
    inflate_arg *a = p;
    a->events = 0;
    for (size_t fi = 0; fi < a->wf->nfiles; fi++) {
        mlhep_err e;
        rootfile *f;
        ttree *t;
        if (rootfile_open(a->wf->files[fi].path, &f, &e) || ttree_open(f, a->wf->tree, &t, &e))
            die(&e);
        basket_ctx *ctx = basket_ctx_new();
        uint64_t bytes = 0;
        for (size_t i = (size_t)a->tid; i < a->sp->nread; i += (size_t)a->n)
            if (basket_inflate_only(f, ttree_branch(t, a->sp->read[i]), 0, t->entries, ctx, &bytes, &e))
                die(&e);
        a->events += t->entries;
        basket_ctx_free(ctx);
        ttree_free(t);
        rootfile_close(f);
    }
    return NULL;
}

static timing inflate_only(const workflow *wf, const specs *sp, int nthreads, int64_t *events)
{
    pthread_t th[8];
    inflate_arg a[8];
    timing m = mark();
    for (int i = 0; i < nthreads; i++) {
        a[i] = (inflate_arg){.wf = wf, .sp = sp, .tid = i, .n = nthreads};
        if (i > 0)
            pthread_create(&th[i], NULL, inflate_thread, &a[i]);
    }
    inflate_thread(&a[0]);
    for (int i = 1; i < nthreads; i++)
        pthread_join(th[i], NULL);
    *events = a[0].events;
    return since(m);
}

static timing pass(dataset *ds, int64_t *rows)
{
    mlhep_err e;
    ds_chunk c;
    *rows = 0;
    int got;
    timing m = mark();
    while ((got = dataset_next(ds, &c, &e)) == 1)
        *rows += (int64_t)c.nrows;
    if (got < 0)
        die(&e);
    return since(m);
}

/* Best cold (first epoch of a new dataset) and warm (second epoch) times. */
static void keep_best(timing *best, timing t)
{
    if (t.wall < best->wall)
        *best = t;
}

static void chunks(const workflow *wf, const preproc *pp, const specs *sp, int repeat, timing *cold, timing *warm,
                   int64_t *rows)
{
    cold->wall = warm->wall = INFINITY;
    for (int r = 0; r < repeat; r++) {
        mlhep_err e;
        dataset *ds;
        if (dataset_open(&wf->data, pp, sp, &ds, &e))
            die(&e);
        keep_best(cold, pass(ds, rows));
        if (dataset_rewind(ds, &e))
            die(&e);
        keep_best(warm, pass(ds, rows));
        dataset_free(ds);
    }
}

/* events/s, ratio to raw decompression (wall), CPU time per event, ratio of CPU
 * times (what the ratio would be with one core each), cores used */
static void line(const char *what, double ev, timing t, timing raw, const char *extra)
{
    printf("  %-38s %8.0f ev/s  ratio %.2f  cpu %4.2f us/ev  cpu ratio %.2f  cores %.2f  faults/1k ev %4.0f%s\n",
           what, ev / t.wall, raw.wall / t.wall, 1e6 * t.cpu / ev, raw.cpu / t.cpu, t.cpu / t.wall,
           1e3 * (double)t.faults / ev, extra ? extra : "");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_data SIGNAL.root BACKGROUND.root\n");
        return 1;
    }
    const char *rs = getenv("BENCH_REPEAT");
    int repeat = rs && atoi(rs) > 0 ? atoi(rs) : 3;
    double la0[3] = {0}, la1[3] = {0};
    getloadavg(la0, 3);
    mlhep_err e;
    if (!strcmp(argv[1], "--prep") && argc >= 4) {
        workflow *wf = load(argv[2], argv[3], NULL, 100000);
        specs *sp;
        timing ts = mark();
        if (specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e))
            die(&e);
        ts = since(ts);
        int64_t ev = 0, rows = 0;
        timing tr = inflate_only(wf, sp, 1, &ev);
        dataset *ds;
        timing tc = mark();
        if (dataset_open(&wf->data, NULL, sp, &ds, &e))
            die(&e);
        pass(ds, &rows);
        dataset_free(ds);
        tc = since(tc);
        printf("prep %lld %.3f %.3f %.3f\n", (long long)rows, tr.wall, ts.wall, tc.wall);
        specs_free(sp);
        workflow_free(wf);
        return 0;
    }
    workflow *wf = load(argv[1], argv[2], NULL, 10000);
    if (getenv("BENCH_PROFILE")) { /* for perf record: only warm chunk passes */
        specs *s;
        if (specs_compute(&wf->data, NULL, NULL, NULL, &s, &e))
            die(&e);
        dataset *ds;
        if (dataset_open(&wf->data, NULL, s, &ds, &e))
            die(&e);
        int64_t rows;
        for (int r = 0; r < 5 * repeat; r++) {
            timing t = pass(ds, &rows);
            printf("warm pass: %.0f ev/s, cpu %.2f us/ev\n", (double)rows / t.wall, 1e6 * t.cpu / (double)rows);
            if (dataset_rewind(ds, &e))
                die(&e);
        }
        dataset_free(ds);
        specs_free(s);
        workflow_free(wf);
        return 0;
    }
    specs *sp = NULL;
    timing t_specs = {INFINITY, 0, 0};
    for (int r = 0; r < repeat; r++) {
        specs *s;
        timing m = mark();
        if (specs_compute(&wf->data, NULL, NULL, NULL, &s, &e))
            die(&e);
        keep_best(&t_specs, since(m));
        specs_free(sp);
        sp = s;
    }
    int64_t ev = 0, rows = 0, rows_cut = 0;
    timing t_raw = {INFINITY, 0, 0}, t_raw2 = {INFINITY, 0, 0};
    for (int r = 0; r < repeat; r++) {
        keep_best(&t_raw, inflate_only(wf, sp, 1, &ev));
        keep_best(&t_raw2, inflate_only(wf, sp, 2, &ev));
    }
    timing t_cold, t_warm;
    chunks(wf, NULL, sp, repeat, &t_cold, &t_warm, &rows);
    const char *pp_doc = "{\"new_branch\":{\"ht_jets\":{\"def\":\"sum(Jet_pt)\",\"type\":\"flat\"}},"
                         "\"jagged_cut\":{\"Jet_pt\":{\"cut\":[\"Jet_pt > 60 and abs(Jet_eta) < 2.4\",\"any\"]}}}";
    workflow *wf2 = load(argv[1], argv[2], pp_doc, 10000);
    preproc *pp;
    specs *sp2;
    if (specs_preproc(&wf2->data, &pp, &e) || specs_compute(&wf2->data, pp, NULL, NULL, &sp2, &e))
        die(&e);
    timing tc_cold, tc_warm;
    chunks(wf2, pp, sp2, repeat, &tc_cold, &tc_warm, &rows_cut);
    getloadavg(la1, 3);
    printf("data layer on %lld events (2 files), %zu branches read, row width %d, best of %d runs\n", (long long)ev,
           sp->nread, sp->width, repeat);
    line("raw decompression, 1 thread (ceiling)", (double)ev, t_raw, t_raw, NULL);
    line("raw decompression, 2 threads", (double)ev, t_raw2, t_raw, NULL);
    line("specs pass", (double)ev, t_specs, t_raw, NULL);
    line("chunks, cold (new dataset)", (double)rows, t_cold, t_raw, NULL);
    line("chunks, warm (next epoch)", (double)rows, t_warm, t_raw, NULL);
    char x[160];
    snprintf(x, sizeof x, "  cost %+.0f%%", 100 * (tc_cold.wall / t_cold.wall - 1));
    line("chunks with cuts, cold", (double)ev, tc_cold, t_raw, x);
    snprintf(x, sizeof x, "  cost %+.0f%% (cpu %+.0f%%)", 100 * (tc_warm.wall / t_warm.wall - 1),
             100 * (tc_warm.cpu / t_warm.cpu - 1));
    line("chunks with cuts, warm", (double)ev, tc_warm, t_raw, x);
    printf("  chunks: read+flatten+normalise+mix+shuffle into rows; cuts: jagged cut on Jet_pt/Jet_eta and new\n"
           "  branch sum(Jet_pt), %lld of %lld events pass (events/s counts input events); cold: first pass of a\n"
           "  new dataset, warm: next epoch (buffers reused); cpu ratio: raw CPU time / CPU time\n",
           (long long)rows_cut, (long long)ev);
    printf("  load average before %.2f %.2f %.2f, after %.2f %.2f %.2f (2 cores)\n", la0[0], la0[1], la0[2], la1[0],
           la1[1], la1[2]);
    printf("  MLaaS4HEP reference (issue 4): specs 8.4k-13.7k, chunks 1.1k-1.2k, with jagged cuts ~900 events/s\n");
    specs_free(sp);
    specs_free(sp2);
    preproc_free(pp);
    workflow_free(wf);
    workflow_free(wf2);
    return 0;
}

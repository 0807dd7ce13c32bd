/* bench_data.c - data layer speed (issue 4): events/s of the specs pass, of chunk
 * creation (read + flatten + normalise + mix) and of chunk creation with a jagged cut
 * and a new branch, against the raw decompression of the same baskets in the same run.
 *
 *   bench_data SIGNAL.root BACKGROUND.root   (generated ttH-like files, tree Events) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basket.h"
#include "dataset.h"
#include "jsonschema.h"
#include "specs.h"
#include "workflow.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static workflow *load(const char *s, const char *b, const char *preproc)
{
    char doc[8192], dir[4096];
    snprintf(dir, sizeof dir, "%s", s);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    snprintf(doc, sizeof doc,
             "{\"name\":\"bench\",\"files\":[{\"path\":\"%s\",\"label\":1},{\"path\":\"%s\",\"label\":0}],"
             "\"params\":{\"chunk_size\":10000,\"shuffle\":true,\"max_jagged_length\":6}%s%s,"
             "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
             s, b, preproc ? ",\"preproc\":" : "", preproc ? preproc : "");
    mlhep_err e;
    jschema *sch;
    if (jschema_load_named(NULL, "workflow", &sch, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    const char *roots[] = {dir};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    jschema_free(sch);
    return wf;
}

static double inflate_only(const workflow *wf, const specs *sp, int64_t *events)
{
    double t0 = now();
    *events = 0;
    for (size_t fi = 0; fi < wf->nfiles; fi++) {
        mlhep_err e;
        rootfile *f;
        ttree *t;
        if (rootfile_open(wf->files[fi].path, &f, &e) || ttree_open(f, wf->tree, &t, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
        basket_ctx *ctx = basket_ctx_new();
        uint64_t bytes = 0;
        for (size_t i = 0; i < sp->nread; i++)
            basket_inflate_only(f, ttree_branch(t, sp->read[i]), 0, t->entries, ctx, &bytes, &e);
        *events += t->entries;
        basket_ctx_free(ctx);
        ttree_free(t);
        rootfile_close(f);
    }
    return now() - t0;
}

static double chunks(const workflow *wf, const preproc *pp, const specs *sp, int64_t *rows)
{
    mlhep_err e;
    dataset *ds;
    if (dataset_open(wf, pp, sp, &ds, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    double t0 = now();
    ds_chunk c;
    *rows = 0;
    int got;
    while ((got = dataset_next(ds, &c, &e)) == 1)
        *rows += (int64_t)c.nrows;
    if (got < 0) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    double t = now() - t0;
    dataset_free(ds);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_data SIGNAL.root BACKGROUND.root\n");
        return 1;
    }
    mlhep_err e;
    workflow *wf = load(argv[1], argv[2], NULL);
    specs *sp;
    double t0 = now();
    if (specs_compute(wf, NULL, NULL, NULL, &sp, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double t_specs = now() - t0;
    int64_t ev, rows, rows_cut;
    double t_inf = inflate_only(wf, sp, &ev);
    double t_chunk = chunks(wf, NULL, sp, &rows);
    const char *pp_doc = "{\"new_branch\":{\"ht_jets\":{\"def\":\"sum(Jet_pt)\",\"type\":\"flat\"}},"
                         "\"jagged_cut\":{\"Jet_pt\":{\"cut\":[\"Jet_pt > 60 and abs(Jet_eta) < 2.4\",\"any\"]}}}";
    workflow *wf2 = load(argv[1], argv[2], pp_doc);
    preproc *pp;
    specs *sp2;
    if (specs_preproc(wf2, &pp, &e) || specs_compute(wf2, pp, NULL, NULL, &sp2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double t_cut = chunks(wf2, pp, sp2, &rows_cut);
    printf("data layer on %lld events, %zu branches read, row width %d (2 reader threads)\n", (long long)ev,
           sp->nread, sp->width);
    printf("  %-44s %10.0f events/s\n", "raw decompression of the same baskets", ev / t_inf);
    printf("  %-44s %10.0f events/s  ratio %.2f\n", "specs pass", ev / t_specs, t_inf / t_specs);
    printf("  %-44s %10.0f events/s  ratio %.2f\n", "chunks (read+flatten+normalise+mix+shuffle)", rows / t_chunk,
           t_inf / t_chunk);
    printf("  %-44s %10.0f events/s  ratio %.2f  (%lld of %lld events pass; cost vs no cuts %+.0f%%)\n",
           "chunks with a jagged cut and a new branch", ev / t_cut, t_inf / t_cut, (long long)rows_cut,
           (long long)ev, 100 * (t_cut / t_chunk - 1));
    printf("  MLaaS4HEP reference (issue 4): specs 8.4k-13.7k, chunks 1.1k-1.2k, with jagged cuts ~900 events/s\n");
    specs_free(sp);
    specs_free(sp2);
    preproc_free(pp);
    workflow_free(wf);
    workflow_free(wf2);
    return 0;
}

/* test_dataset.c - the data layer (specs, flattening, normalisation, mixing, split,
 * preproc cuts) against values read independently: the oracle .expected.json values
 * of ../shared/data/root/uproot-HZZ.root (reader-independent) and direct reads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "root/basket.h"
#include "data/dataset.h"
#include "data/evsource.h"
#include "root/evgen.h"
#include "base/jsonschema.h"
#include "root/rootfile.h"
#include "data/preproc.h"
#include "data/specs.h"
#include "root/ttree.h"
#include "test.h"
#include "service/workflow.h"

static char root_dir[1024];

static workflow *load_wf_sel(const char *sel, const char *params_extra, const char *preproc)
{
    const char *sh = getenv("MLHEP_SHARED");
    snprintf(root_dir, sizeof root_dir, "%s/data/root", sh ? sh : "../shared");
    char doc[16384];
    snprintf(doc, sizeof doc,
             "{\"name\":\"t\",\"tree\":\"events\",\"files\":[{\"path\":\"%s/uproot-HZZ.root\",\"label\":1},"
             "{\"path\":\"%s/uproot-HZZ-zstd.root\",\"label\":0}],"
             "\"params\":{\"selected_branches\":[%s],"
             "\"chunk_size\":1000%s}%s%s,\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
             root_dir, root_dir, sel, params_extra, preproc ? ",\"preproc\":" : "", preproc ? preproc : "");
    mlhep_err e;
    jschema *sch;
    if (jschema_load_named(NULL, "workflow", &sch, &e)) {
        printf("  schema: %s\n", e.msg);
        return NULL;
    }
    const char *roots[] = {root_dir};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf = NULL;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e))
        printf("  workflow: %s\n", e.msg);
    jschema_free(sch);
    return wf;
}

#define SEL "\"NJet\",\"Jet_Px\",\"MET_px\",\"NMuon\",\"Muon_Px\""
static workflow *load_wf(const char *params_extra, const char *preproc)
{
    return load_wf_sel(SEL, params_extra, preproc);
}

/* The workflow doc (its files under root) loaded and checked, and its specs computed:
 * 0, or the error in e. */
static int load_specs(const char *doc, const char *root, workflow **wf, specs **sp, mlhep_err *e)
{
    jschema *sch;
    int rc = jschema_load_named(NULL, "workflow", &sch, e);
    if (rc)
        return rc;
    const char *roots[] = {root};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    rc = workflow_load_buffer(doc, strlen(doc), &o, wf, e);
    jschema_free(sch);
    return rc ? rc : specs_compute(&(*wf)->data, NULL, NULL, NULL, sp, e);
}

TEST(specs_match_oracle)
{
    workflow *wf = load_wf(",\"shuffle\":false", NULL);
    CHECK(wf);
    mlhep_err e;
    specs *sp;
    CHECKF(specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e) == 0, "%s", e.msg);
    CHECK(sp->nfiles == 2 && sp->events[0] == 2421 && sp->events[1] == 2421 && sp->total_events == 4842);
    CHECK(sp->nfeat == 5);
    /* flat first, then jagged, in tree order */
    CHECK(!strcmp(sp->feat[0].name, "NJet") && !sp->feat[0].jagged);
    CHECK(!strcmp(sp->feat[3].name, "Jet_Px") && sp->feat[3].jagged);
    int k = specs_find(sp, "MET_px");
    CHECK(k >= 0);
    CHECK(sp->feat[k].min == (double)(float)-223.8364715576172 && sp->feat[k].max == (double)(float)335.3335876464844);
    CHECK(sp->feat[k].count == 2 * 2421);
    k = specs_find(sp, "Jet_Px");
    CHECK(sp->feat[k].min == (double)(float)-440.31866455078125 && sp->feat[k].count == 2 * 2773);
    CHECK(sp->feat[k].len >= 1 && sp->feat[k].len <= sp->feat[k].max_len);
    int w = 0;
    for (size_t i = 0; i < sp->nfeat; i++)
        w += sp->feat[i].len;
    CHECK(w == sp->width);
    /* specs.json round trip and staleness */
    char path[256];
    snprintf(path, sizeof path, "/tmp/mlhep-test-specs-%d.json", (int)getpid());
    CHECK(specs_save(sp, path, &e) == 0);
    specs *back;
    CHECKF(specs_load(path, sp->fingerprint, &back, &e) == 0, "%s", e.msg);
    CHECK(back->width == sp->width && back->nfeat == sp->nfeat && back->feat[k].min == sp->feat[k].min);
    specs_free(back);
    workflow *wf2 = load_wf(",\"shuffle\":false,\"max_jagged_length\":3", NULL);
    char fp2[65];
    CHECK(wf2 && specs_fingerprint(&wf2->data, fp2, &e) == 0);
    CHECK(strcmp(fp2, sp->fingerprint) != 0);
    CHECK(specs_load(path, fp2, &back, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "stale"), "%s", e.msg);
    unlink(path);
    workflow_free(wf2);
    specs_free(sp);
    workflow_free(wf);
}

TEST(rows_reproduce_oracle_values)
{
    workflow *wf = load_wf(",\"max_jagged_length\":3,\"shuffle\":false", NULL);
    CHECK(wf);
    mlhep_err e;
    specs *sp;
    CHECK(specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e) == 0);
    CHECK(sp->width == 3 + 3 + 3);
    dataset *ds;
    CHECKF(dataset_open(&wf->data, NULL, sp, &ds, &e) == 0, "%s", e.msg);
    ds_chunk c;
    CHECK(dataset_next(ds, &c, &e) == 1);
    CHECK(c.nrows == 1000 && c.width == 9);
    /* no shuffle: 500 rows of file 0 (entries 0..499), then 500 of file 1 */
    CHECK(c.file[0] == 0 && c.entry[0] == 0 && c.file[499] == 0 && c.entry[499] == 499);
    CHECK(c.file[500] == 1 && c.entry[500] == 0);
    CHECK(c.y[0] == 1.0f && c.y[500] == 0.0f);
    /* oracle first entries: NJet 0,1; Jet_Px [], [-38.87471389770508]; Muon_Px [-52.899.., 37.737..] */
    int kn = specs_find(sp, "NJet"), kj = specs_find(sp, "Jet_Px"), km = specs_find(sp, "Muon_Px");
    double n0 = c.x[0 * 9 + 0] * (sp->feat[kn].max - sp->feat[kn].min) + sp->feat[kn].min;
    double n1 = c.x[1 * 9 + 0] * (sp->feat[kn].max - sp->feat[kn].min) + sp->feat[kn].min;
    CHECK_NEAR(n0, 0, 1e-5);
    CHECK_NEAR(n1, 1, 1e-5);
    int oj = 3, om = 6; /* flat NJet, MET_px, NMuon; then Jet_Px[3], Muon_Px[3] */
    (void)kj;
    CHECK(c.mask[0 * 9 + oj] == 1 && c.mask[0 * 9 + oj + 1] == 1 && c.x[0 * 9 + oj] == 0.0f); /* empty list: padding */
    double jx = c.x[1 * 9 + oj] * (sp->feat[kj].max - sp->feat[kj].min) + sp->feat[kj].min;
    CHECK_NEAR(jx, -38.87471389770508, 1e-3);
    CHECK(c.mask[1 * 9 + oj] == 0 && c.mask[1 * 9 + oj + 1] == 1);
    double m0 = c.x[0 * 9 + om] * (sp->feat[km].max - sp->feat[km].min) + sp->feat[km].min;
    double m1 = c.x[0 * 9 + om + 1] * (sp->feat[km].max - sp->feat[km].min) + sp->feat[km].min;
    CHECK_NEAR(m0, -52.89945602416992, 1e-3);
    CHECK_NEAR(m1, 37.7377815246582, 1e-3);
    /* all values normalised into [0,1] (minmax over the same data) */
    for (size_t i = 0; i < c.nrows * 9; i++)
        CHECK(c.x[i] >= -1e-6f && c.x[i] <= 1.0f + 1e-6f);
    /* every event exactly once over all chunks */
    size_t total = c.nrows;
    int got;
    while ((got = dataset_next(ds, &c, &e)) == 1)
        total += c.nrows;
    CHECK(got == 0 && total == 4842);
    dataset_free(ds);
    specs_free(sp);
    workflow_free(wf);
}

TEST(nevts_shuffle_and_split)
{
    workflow *wf = load_wf(",\"nevts\":1001,\"shuffle\":true,\"seed\":7,\"max_jagged_length\":4", NULL);
    CHECK(wf);
    mlhep_err e;
    specs *sp;
    CHECK(specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e) == 0);
    dataset *ds;
    CHECK(dataset_open(&wf->data, NULL, sp, &ds, &e) == 0);
    ds_chunk c;
    size_t total = 0, nval = 0, nfile0 = 0;
    uint64_t sig1 = 0;
    while (dataset_next(ds, &c, &e) == 1) {
        total += c.nrows;
        for (size_t r = 0; r < c.nrows; r++) {
            nval += c.split[r] == DP_SPLIT_VALIDATION;
            nfile0 += c.file[r] == 0;
            sig1 = sig1 * 31 + (uint64_t)c.entry[r] * 2 + c.file[r];
            double u = dataset_split_u(7, c.file[r], c.entry[r]); /* validation 0.2, test 0.2 */
            CHECK(c.split[r] == (u < 0.2 ? DP_SPLIT_VALIDATION : u < 0.4 ? DP_SPLIT_TEST : DP_SPLIT_TRAIN));
            CHECK(c.w[r] == 1.0f); /* no weights */
            CHECK(c.y[r] == (c.file[r] == 0 ? 1.0f : 0.0f));
        }
    }
    CHECK(total == 1001);            /* nevts exactly */
    CHECK(nfile0 == 500 || nfile0 == 501); /* in proportion to file sizes */
    CHECK(nval > 120 && nval < 280);  /* about 20% validation */
    /* a new epoch gives the same rows in the same order */
    CHECK(dataset_rewind(ds, &e) == 0);
    uint64_t sig2 = 0;
    while (dataset_next(ds, &c, &e) == 1)
        for (size_t r = 0; r < c.nrows; r++)
            sig2 = sig2 * 31 + (uint64_t)c.entry[r] * 2 + c.file[r];
    CHECK(sig1 == sig2);
    dataset_free(ds);
    specs_free(sp);
    workflow_free(wf);
}

/* More files than rows in a chunk: each file's share rounds up, and the shares must
 * still never exceed the chunk (five files, chunks of 2 rows: shares of 0.4 each used to
 * add up to 4 rows and write past the chunk's buffers). */
TEST(more_files_than_chunk_rows)
{
    const char *sh = getenv("MLHEP_SHARED");
    snprintf(root_dir, sizeof root_dir, "%s/data/root", sh ? sh : "../shared");
    static const char *const variants[] = {"", "-zstd", "-zlib", "-lzma", "-uncompressed"};
    char files[4096] = "";
    for (int i = 0; i < 5; i++)
        snprintf(files + strlen(files), sizeof files - strlen(files), "%s{\"path\":\"%s/uproot-HZZ%s.root\",\"label\":%d}",
                 i ? "," : "", root_dir, variants[i], i % 2);
    char doc[8192];
    snprintf(doc, sizeof doc,
             "{\"name\":\"t\",\"tree\":\"events\",\"files\":[%s],\"params\":{\"selected_branches\":[\"NJet\",\"MET_px\"],"
             "\"chunk_size\":2,\"nevts\":3000,\"shuffle\":true},\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,"
             "\"activation\":\"sigmoid\"}]}}",
             files);
    mlhep_err e;
    jschema *sch;
    CHECK(jschema_load_named(NULL, "workflow", &sch, &e) == 0);
    const char *roots[] = {root_dir};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf = NULL;
    CHECKF(workflow_load_buffer(doc, strlen(doc), &o, &wf, &e) == 0, "%s", e.msg);
    jschema_free(sch);
    specs *sp;
    CHECKF(specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e) == 0, "%s", e.msg);
    dataset *ds;
    CHECKF(dataset_open(&wf->data, NULL, sp, &ds, &e) == 0, "%s", e.msg);
    ds_chunk c;
    size_t total = 0, chunks = 0, over = 0;
    while (dataset_next(ds, &c, &e) == 1) {
        total += c.nrows;
        chunks++;
        over += c.nrows > 2;
    }
    CHECKF(total == 3000 && over == 0 && chunks >= 1500, "%zu rows in %zu chunks, %zu too big", total, chunks, over);
    dataset_free(ds);
    specs_free(sp);
    workflow_free(wf);
}

TEST(preproc_cuts_and_new_branches)
{
    const char *pp_doc = "{\"new_branch\":{\"jet_sum\":{\"def\":\"sum(Jet_Px)\",\"type\":\"flat\"}},"
                         "\"flat_cut\":{\"NJet\":{\"cut\":\"NJet>=2\"}},"
                         "\"jagged_cut\":{\"Muon_Px\":{\"cut\":[\"Muon_Px > 0\",\"any\"]}}}";
    workflow *wf = load_wf(",\"max_jagged_length\":2,\"shuffle\":false", pp_doc);
    CHECK(wf);
    mlhep_err e;
    preproc *pp;
    CHECKF(specs_preproc(&wf->data, &pp, &e) == 0 && pp, "%s", e.msg);
    specs *sp;
    CHECKF(specs_compute(&wf->data, pp, NULL, NULL, &sp, &e) == 0, "%s", e.msg);
    /* independent count: read NJet and Muon_Px directly */
    rootfile *f;
    char p[4200];
    snprintf(p, sizeof p, "%s/uproot-HZZ.root", root_dir);
    CHECK(rootfile_open(p, &f, &e) == 0);
    ttree *t;
    CHECK(ttree_open(f, "events", &t, &e) == 0);
    column nj, mu, jp;
    column_init(&nj);
    column_init(&mu);
    column_init(&jp);
    CHECK(basket_read(f, ttree_branch(t, "NJet"), 0, t->entries, &nj, NULL, &e) == 0);
    CHECK(basket_read(f, ttree_branch(t, "Muon_Px"), 0, t->entries, &mu, NULL, &e) == 0);
    CHECK(basket_read(f, ttree_branch(t, "Jet_Px"), 0, t->entries, &jp, NULL, &e) == 0);
    int64_t pass = 0;
    double first_sum = NAN;
    for (int64_t i = 0; i < t->entries; i++) {
        int anypos = 0;
        for (int64_t j = mu.offsets[i]; j < mu.offsets[i + 1]; j++)
            anypos |= ((float *)mu.values)[j] > 0;
        if (((int32_t *)nj.values)[i] >= 2 && anypos) {
            if (pass == 0) {
                first_sum = 0;
                for (int64_t j = jp.offsets[i]; j < jp.offsets[i + 1]; j++)
                    first_sum += ((float *)jp.values)[j];
            }
            pass++;
        }
    }
    CHECKF(sp->events[0] == pass, "%lld vs %lld", (long long)sp->events[0], (long long)pass);
    CHECK(pass > 0 && pass < 2421);
    int ks = specs_find(sp, "jet_sum");
    CHECK(ks >= 0 && !sp->feat[ks].jagged && sp->feat[ks].is_new);
    dataset *ds;
    CHECK(dataset_open(&wf->data, pp, sp, &ds, &e) == 0);
    ds_chunk c;
    CHECK(dataset_next(ds, &c, &e) == 1);
    /* first row of file 0 is the first passing event; its jet_sum de-normalised */
    int off = 0;
    for (int i = 0; i < ks; i++)
        off += sp->feat[i].len;
    double v = c.x[off] * (sp->feat[ks].max - sp->feat[ks].min) + sp->feat[ks].min;
    CHECK_NEAR(v, first_sum, 1e-3 * (1 + fabs(first_sum)));
    dataset_free(ds);
    column_free(&nj);
    column_free(&mu);
    column_free(&jp);
    ttree_free(t);
    rootfile_close(f);
    specs_free(sp);
    preproc_free(pp);
    workflow_free(wf);
}

/* Every value type, flat, fixed-array and jagged (uproot-sample: int8..uint64, bool,
 * float, double; baskets of 2 to 30 entries, so read blocks span many baskets), in
 * shuffled chunks of 7 rows (blocks split across chunks): each row equals, bit for bit,
 * the value read directly with basket_read and normalised with the specs' min and max,
 * padding and mask included; the specs' min, max and counts equal the direct ones. */
/* Every feature of every row equals, bit for bit, the value normalised from a direct
 * read (padding and mask included), for padded lengths that are and are not multiples
 * of the vector width of the row builder (its vector stores may run past a feature's
 * slots only where a later feature overwrites them; the row's last feature is jagged). */
static void direct_reads_case(int maxlen, int chunk)
{
    printf("  max_jagged_length %d, chunk %d\n", maxlen, chunk);
    const char *sh = getenv("MLHEP_SHARED");
    snprintf(root_dir, sizeof root_dir, "%s/data/root", sh ? sh : "../shared");
    const char *names[2] = {"uproot-sample-6.20.04-lz4.root", "uproot-sample-6.14.00-zlib.root"};
    char doc[8192];
    snprintf(doc, sizeof doc,
             "{\"name\":\"t\",\"tree\":\"sample\",\"files\":[{\"path\":\"%s/%s\",\"label\":1},"
             "{\"path\":\"%s/%s\",\"label\":0}],\"params\":{\"exclude_branches\":[\"str\"],\"chunk_size\":%d,"
             "\"shuffle\":true,\"seed\":3,\"max_jagged_length\":%d,\"nan\":-7},"
             "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
             root_dir, names[0], root_dir, names[1], chunk, maxlen);
    mlhep_err e;
    workflow *wf = NULL;
    specs *sp = NULL;
    CHECKF(load_specs(doc, root_dir, &wf, &sp, &e) == 0, "%s", e.msg);
    CHECK(sp->nfeat == 34 && sp->total_events == 60 && sp->feat[sp->nfeat - 1].jagged);
    /* direct reads of every feature of both files */
    rootfile *f[2];
    ttree *t[2];
    column *col[2];
    for (int fi = 0; fi < 2; fi++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/%s", root_dir, names[fi]);
        CHECKF(rootfile_open(p, &f[fi], &e) == 0 && ttree_open(f[fi], "sample", &t[fi], &e) == 0, "%s", e.msg);
        col[fi] = calloc(sp->nfeat, sizeof(column));
        for (size_t i = 0; i < sp->nfeat; i++)
            CHECKF(basket_read(f[fi], ttree_branch(t[fi], sp->feat[i].name), 0, t[fi]->entries, &col[fi][i], NULL,
                               &e) == 0,
                   "%s", e.msg);
    }
    /* specs against the direct values */
    for (size_t i = 0; i < sp->nfeat; i++) {
        double mn = INFINITY, mx = -INFINITY;
        int64_t cnt = 0;
        for (int fi = 0; fi < 2; fi++)
            for (size_t k = 0; k < col[fi][i].nvalues; k++, cnt++) {
                double v = column_get(&col[fi][i], k);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
        CHECKF(sp->feat[i].min == mn && sp->feat[i].max == mx && sp->feat[i].count == cnt,
               "%s: min %g/%g max %g/%g count %lld/%lld", sp->feat[i].name, sp->feat[i].min, mn, sp->feat[i].max, mx,
               (long long)sp->feat[i].count, (long long)cnt);
    }
    dataset *ds;
    CHECKF(dataset_open(&wf->data, NULL, sp, &ds, &e) == 0, "%s", e.msg);
    ds_chunk c;
    int got, nrows = 0, seen[2][30] = {{0}};
    size_t w = (size_t)sp->width;
    while ((got = dataset_next(ds, &c, &e)) == 1) {
        CHECK(c.nrows <= (size_t)chunk);
        for (size_t r = 0; r < c.nrows; r++, nrows++) {
            int fi = (int)c.file[r];
            int64_t k = c.entry[r];
            CHECK(fi >= 0 && fi < 2 && k >= 0 && k < 30 && !seen[fi][k]);
            seen[fi][k] = 1;
            CHECK(c.y[r] == (fi == 0 ? 1.0f : 0.0f));
            size_t off = 0;
            for (size_t i = 0; i < sp->nfeat; i++) {
                const specs_feature *ft = &sp->feat[i];
                const column *cl = &col[fi][i];
                double sub = ft->max > ft->min ? ft->min : 0.0, scale = ft->max > ft->min ? 1.0 / (ft->max - ft->min) : 1.0;
                size_t lo = cl->jagged ? (size_t)cl->offsets[k] : (size_t)k * (size_t)cl->per_entry;
                size_t n = cl->jagged ? (size_t)(cl->offsets[k + 1] - cl->offsets[k]) : (size_t)cl->per_entry;
                for (size_t j = 0; j < (size_t)ft->len; j++) {
                    float want = j < n ? (float)((column_get(cl, lo + j) - sub) * scale) : -7.0f;
                    float have = c.x[r * w + off + j];
                    CHECKF(!memcmp(&want, &have, sizeof want) && c.mask[r * w + off + j] == (j >= n),
                           "file %d entry %lld %s[%zu]: %.9g vs %.9g mask %d", fi, (long long)k, ft->name, j,
                           (double)have, (double)want, c.mask[r * w + off + j]);
                }
                off += (size_t)ft->len;
            }
        }
    }
    CHECKF(got == 0 && nrows == 60, "%s (%d rows)", got < 0 ? e.msg : "", nrows);
    dataset_free(ds);
    for (int fi = 0; fi < 2; fi++) {
        for (size_t i = 0; i < sp->nfeat; i++)
            column_free(&col[fi][i]);
        free(col[fi]);
        ttree_free(t[fi]);
        rootfile_close(f[fi]);
    }
    specs_free(sp);
    workflow_free(wf);
}

TEST(all_value_types_match_direct_reads)
{
    static const int lens[][2] = {{4, 7}, {1, 7}, {3, 60}, {5, 13}, {6, 60}, {9, 7}, {13, 60}};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0] && !test_failed_; i++)
        direct_reads_case(lens[i][0], lens[i][1]);
}

/* The pre-processing runs on both threads (each takes half of a block, jagged offsets
 * rebased) and the new columns are joined: a jagged new branch equals, bit for bit,
 * the value computed from a direct read, a flat one to rounding, and the cut keeps
 * exactly the events a direct read says. */
TEST(preproc_on_threads_matches_direct)
{
    const char *pp_doc = "{\"new_branch\":{\"jx2\":{\"def\":\"Jet_Px * 2\",\"type\":\"jagged\"},"
                         "\"ht\":{\"def\":\"sum(Jet_Px)\",\"type\":\"flat\"}},"
                         "\"flat_cut\":{\"NJet\":{\"cut\":\"NJet>=1\"}}}";
    workflow *wf = load_wf(",\"max_jagged_length\":3,\"shuffle\":false", pp_doc);
    CHECK(wf);
    mlhep_err e;
    preproc *pp;
    CHECKF(specs_preproc(&wf->data, &pp, &e) == 0 && pp, "%s", e.msg);
    specs *sp;
    CHECKF(specs_compute(&wf->data, pp, NULL, NULL, &sp, &e) == 0, "%s", e.msg);
    int kx = specs_find(sp, "jx2"), kh = specs_find(sp, "ht");
    CHECK(kx >= 0 && kh >= 0 && sp->feat[kx].jagged && !sp->feat[kh].jagged);
    size_t ox = 0, oh = 0, w = (size_t)sp->width;
    for (int i = 0; i < kx; i++)
        ox += (size_t)sp->feat[i].len;
    for (int i = 0; i < kh; i++)
        oh += (size_t)sp->feat[i].len;
    column nj[2], jp[2];
    rootfile *f[2];
    ttree *t[2];
    const char *names[2] = {"uproot-HZZ.root", "uproot-HZZ-zstd.root"};
    int64_t pass[2] = {0, 0};
    for (int fi = 0; fi < 2; fi++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", root_dir, names[fi]);
        CHECK(rootfile_open(p, &f[fi], &e) == 0 && ttree_open(f[fi], "events", &t[fi], &e) == 0);
        column_init(&nj[fi]);
        column_init(&jp[fi]);
        CHECK(basket_read(f[fi], ttree_branch(t[fi], "NJet"), 0, t[fi]->entries, &nj[fi], NULL, &e) == 0);
        CHECK(basket_read(f[fi], ttree_branch(t[fi], "Jet_Px"), 0, t[fi]->entries, &jp[fi], NULL, &e) == 0);
        for (int64_t k = 0; k < t[fi]->entries; k++)
            pass[fi] += ((int32_t *)nj[fi].values)[k] >= 1;
        CHECKF(sp->events[fi] == pass[fi], "%lld vs %lld", (long long)sp->events[fi], (long long)pass[fi]);
    }
    CHECK(t[0]->entries >= 2048); /* a block big enough to be split between the threads */
    const specs_feature *fx = &sp->feat[kx], *fh = &sp->feat[kh];
    double sx = fx->max > fx->min ? fx->min : 0, cx = fx->max > fx->min ? 1 / (fx->max - fx->min) : 1;
    dataset *ds;
    CHECK(dataset_open(&wf->data, pp, sp, &ds, &e) == 0);
    ds_chunk c;
    int got;
    int64_t rows = 0;
    while ((got = dataset_next(ds, &c, &e)) == 1)
        for (size_t r = 0; r < c.nrows; r++, rows++) {
            int fi = (int)c.file[r];
            int64_t k = c.entry[r];
            CHECK(((int32_t *)nj[fi].values)[k] >= 1);
            const float *v = (const float *)jp[fi].values;
            int64_t lo = jp[fi].offsets[k], n = jp[fi].offsets[k + 1] - lo;
            double sum = 0;
            for (int64_t j = 0; j < n; j++)
                sum += v[lo + j];
            for (int64_t j = 0; j < fx->len; j++) {
                float want = j < n ? (float)(((double)v[lo + j] * 2 - sx) * cx) : 0.0f;
                float have = c.x[r * w + ox + (size_t)j];
                CHECKF(!memcmp(&want, &have, sizeof want) && c.mask[r * w + ox + (size_t)j] == (j >= n),
                       "file %d entry %lld jx2[%lld]: %.9g vs %.9g", fi, (long long)k, (long long)j, (double)have,
                       (double)want);
            }
            double h = c.x[r * w + oh] * (fh->max - fh->min) + fh->min;
            CHECK_NEAR(h, sum, 1e-3 * (1 + fabs(sum)));
        }
    CHECKF(got == 0 && rows == pass[0] + pass[1], "%s %lld rows", got < 0 ? e.msg : "", (long long)rows);
    dataset_free(ds);
    for (int fi = 0; fi < 2; fi++) {
        column_free(&nj[fi]);
        column_free(&jp[fi]);
        ttree_free(t[fi]);
        rootfile_close(f[fi]);
    }
    specs_free(sp);
    preproc_free(pp);
    workflow_free(wf);
}

/* FNV-1a over bytes, chained. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* The thread count (wf->data.threads: mlhep-run --threads, worker_threads) changes nothing:
 * specs bit for bit, every row, mask, label and entry of every chunk the same, with a
 * pre-processing step (jagged cut and new branch) that runs on the team. */
TEST(thread_counts_give_identical_results)
{
    const char *pre = "{\"new_branch\":{\"pxsum\":{\"def\":\"sum(Jet_Px)\",\"type\":\"flat\"}},"
                      "\"jagged_cut\":{\"Jet_Px\":{\"cut\":[\"Jet_Px > -50\",\"any\"]}}}";
    uint64_t ref_specs = 0, ref_rows = 0;
    for (int t = 1; t <= 3; t++) {
        workflow *wf = load_wf(",\"shuffle\":true,\"seed\":3,\"max_jagged_length\":3", pre);
        CHECK(wf);
        wf->data.threads = t;
        mlhep_err e;
        preproc *pp = NULL;
        CHECKF(specs_preproc(&wf->data, &pp, &e) == 0, "%s", e.msg);
        specs *sp;
        CHECKF(specs_compute(&wf->data, pp, NULL, NULL, &sp, &e) == 0, "%s", e.msg);
        uint64_t hs = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < sp->nfeat; i++) {
            const specs_feature *f = &sp->feat[i];
            double v[4] = {f->min, f->max, f->mean, f->std};
            hs = fnv(hs, v, sizeof v);
            hs = fnv(hs, &f->count, sizeof f->count);
            hs = fnv(hs, &f->len, sizeof f->len);
        }
        hs = fnv(hs, &sp->total_events, sizeof sp->total_events);
        dataset *ds;
        CHECKF(dataset_open(&wf->data, pp, sp, &ds, &e) == 0, "%s", e.msg);
        ds_chunk c;
        uint64_t hr = 0xcbf29ce484222325ull;
        size_t rows = 0;
        int got;
        while ((got = dataset_next(ds, &c, &e)) == 1) {
            hr = fnv(hr, c.x, c.nrows * (size_t)c.width * sizeof *c.x);
            hr = fnv(hr, c.mask, c.nrows * (size_t)c.width);
            hr = fnv(hr, c.y, c.nrows * sizeof *c.y);
            hr = fnv(hr, c.entry, c.nrows * sizeof *c.entry);
            rows += c.nrows;
        }
        CHECKF(got == 0, "%s", e.msg);
        CHECK(rows > 1000 && rows < 4842);
        if (t == 1) {
            ref_specs = hs;
            ref_rows = hr;
        } else {
            CHECKF(hs == ref_specs, "specs with %d threads differ from 1 thread", t);
            CHECKF(hr == ref_rows, "rows with %d threads differ from 1 thread", t);
        }
        dataset_free(ds);
        specs_free(sp);
        preproc_free(pp);
        workflow_free(wf);
    }
}

static uint64_t chunk_hash(const ds_chunk *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, c->x, c->nrows * (size_t)c->width * sizeof *c->x);
    h = fnv(h, c->mask, c->nrows * (size_t)c->width);
    h = fnv(h, c->y, c->nrows * sizeof *c->y);
    h = fnv(h, c->w, c->nrows * sizeof *c->w);
    h = fnv(h, c->file, c->nrows * sizeof *c->file);
    h = fnv(h, c->entry, c->nrows * sizeof *c->entry);
    h = fnv(h, c->split, c->nrows);
    return fnv(h, &c->nrows, sizeof c->nrows);
}

/* dataset_keep (mlhep-prep writes chunk k while chunk k + 1 is built): a kept chunk is
 * unchanged after the next dataset_next, and the chunks are the same as without keeping
 * (chunks of 1000 rows and a last one of 301, so the two buffer sets differ in size). */
TEST(kept_chunks_stay_valid)
{
    uint64_t plain[8] = {0}, kept[8] = {0};
    for (int keep = 0; keep < 2; keep++) {
        workflow *wf = load_wf(",\"nevts\":3301,\"shuffle\":true,\"seed\":5,\"max_jagged_length\":4", NULL);
        CHECK(wf);
        mlhep_err e;
        specs *sp;
        CHECKF(specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e) == 0, "%s", e.msg);
        dataset *ds;
        CHECKF(dataset_open(&wf->data, NULL, sp, &ds, &e) == 0, "%s", e.msg);
        for (int epoch = 0; epoch < 2; epoch++) {
            ds_chunk c, prev = {0};
            uint64_t prev_h = 0;
            int n = 0, got;
            while ((got = dataset_next(ds, &c, &e)) == 1 && n < 8) {
                uint64_t h = chunk_hash(&c);
                if (keep) {
                    if (n > 0)
                        CHECKF(chunk_hash(&prev) == prev_h, "kept chunk %d changed by the next call", n - 1);
                    CHECK(n == 0 || c.x != prev.x);
                    dataset_keep(ds);
                    prev = c;
                    prev_h = h;
                    kept[n] = h;
                } else {
                    plain[n] = h;
                }
                n++;
            }
            CHECKF(got == 0 && n == 4, "got %d, %d chunks: %s", got, n, e.msg);
            CHECK(dataset_rewind(ds, &e) == 0);
        }
        dataset_free(ds);
        specs_free(sp);
        workflow_free(wf);
    }
    for (int i = 0; i < 4; i++)
        CHECKF(plain[i] == kept[i], "chunk %d differs when kept", i);
}

/* Read blocks end where every branch read starts a basket (evsource_block_end), so that
 * baskets are decompressed straight into the columns: on a generated file with clusters
 * of 700 entries and small baskets (several per cluster for the big branches, one for
 * the small ones), the end is the last such entry in (a, z], or z when there is none;
 * and a dataset over the file (twice, as both classes) still hands out every entry
 * once, with its values. */
TEST(blocks_end_on_basket_boundaries)
{
    char path[128], path2[128];
    snprintf(path, sizeof path, "/tmp/mlhep-test-blocks-%d.root", (int)getpid());
    snprintf(path2, sizeof path2, "/tmp/mlhep-test-blocks-%d-b.root", (int)getpid());
    evgen_opts go = {.events = 3000, .signal = 1, .out = path, .seed = 9, .cluster_entries = 700, .basket_bytes = 2048,
                     .compression = "lz4:4"};
    mlhep_err e;
    CHECKF(evgen_write(&go, &e) == 0, "%s", e.msg);
    go.out = path2;
    go.signal = 0;
    CHECKF(evgen_write(&go, &e) == 0, "%s", e.msg);
    rootfile *f;
    ttree *t;
    CHECKF(rootfile_open(path, &f, &e) == 0 && ttree_open(f, "Events", &t, &e) == 0, "%s", e.msg);
    const char *names[] = {"nJet", "MET_pt", "Jet_pt", "Jet_eta", "event"};
    size_t nb = sizeof names / sizeof names[0];
    evsource *src;
    CHECKF(evsource_open(path, NULL, "Events", names, nb, NULL, NULL, &src, &e) == 0, "%s", e.msg);
    int inner = 0; /* baskets starting inside a cluster: the test needs some */
    for (size_t i = 0; i < nb; i++) {
        const tbranch *b = ttree_branch(t, names[i]);
        for (int k = 0; b && k < b->nbaskets; k++)
            inner += b->baskets[k].first % 700 != 0;
    }
    CHECK(inner > 0);
    static const int64_t as[] = {0, 1, 699, 700, 1000, 2100, 2999};
    static const int64_t lens[] = {1, 300, 701, 1500, 5000};
    for (size_t ia = 0; ia < sizeof as / sizeof as[0]; ia++)
        for (size_t il = 0; il < sizeof lens / sizeof lens[0]; il++) {
            int64_t a = as[ia], z = a + lens[il], r = evsource_block_end(src, a, z), want = z;
            for (int64_t x = z < 3000 ? z : 2999; x > a && z < 3000; x--) {
                size_t i = 0;
                for (; i < nb; i++) {
                    const tbranch *b = ttree_branch(t, names[i]);
                    int idx = tbranch_find_basket(b, x);
                    if (idx < 0 || b->baskets[idx].first != x)
                        break;
                }
                if (i == nb) {
                    want = x;
                    break;
                }
            }
            CHECKF(r == want, "block [%lld, %lld): ends at %lld, want %lld", (long long)a, (long long)z, (long long)r,
                   (long long)want);
            if (a == 0 && z == 1500)
                CHECK(r == 1400);
        }
    evsource_free(src);
    /* the dataset over it: every entry once, its MET_pt in the row */
    char doc[2048];
    snprintf(doc, sizeof doc,
             "{\"name\":\"t\",\"tree\":\"Events\",\"files\":[{\"path\":\"%s\",\"label\":1},"
             "{\"path\":\"%s\",\"label\":0}],"
             "\"params\":{\"selected_branches\":[\"MET_pt\",\"nJet\",\"Jet_pt\"],\"chunk_size\":1000,\"shuffle\":true,"
             "\"seed\":2,\"max_jagged_length\":4},"
             "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}", path, path2);
    workflow *wf = NULL;
    specs *sp = NULL;
    CHECKF(load_specs(doc, "/tmp", &wf, &sp, &e) == 0, "%s", e.msg);
    column met[2];
    rootfile *f2;
    ttree *t2;
    CHECKF(rootfile_open(path2, &f2, &e) == 0 && ttree_open(f2, "Events", &t2, &e) == 0, "%s", e.msg);
    column_init(&met[0]);
    column_init(&met[1]);
    CHECKF(basket_read(f, ttree_branch(t, "MET_pt"), 0, 3000, &met[0], NULL, &e) == 0 &&
               basket_read(f2, ttree_branch(t2, "MET_pt"), 0, 3000, &met[1], NULL, &e) == 0,
           "%s", e.msg);
    int fm = -1, off = 0;
    for (size_t i = 0; i < sp->nfeat; i++) {
        if (!strcmp(sp->feat[i].name, "MET_pt"))
            fm = (int)i;
        else if (fm < 0)
            off += sp->feat[i].len;
    }
    CHECK(fm >= 0);
    const specs_feature *ft = &sp->feat[fm];
    double sub = ft->max > ft->min ? ft->min : 0.0, scale = ft->max > ft->min ? 1.0 / (ft->max - ft->min) : 1.0;
    dataset *ds;
    CHECKF(dataset_open(&wf->data, NULL, sp, &ds, &e) == 0, "%s", e.msg);
    static char seen[2][3000];
    memset(seen, 0, sizeof seen);
    ds_chunk c;
    int got, n = 0;
    while ((got = dataset_next(ds, &c, &e)) == 1)
        for (size_t r = 0; r < c.nrows; r++, n++) {
            int64_t k = c.entry[r];
            uint32_t fi = c.file[r];
            CHECK(fi < 2 && k >= 0 && k < 3000 && !seen[fi][k]);
            seen[fi][k] = 1;
            float want = (float)((column_get(&met[fi], (size_t)k) - sub) * scale);
            CHECKF(!memcmp(&want, &c.x[r * (size_t)c.width + (size_t)off], 4), "entry %lld", (long long)k);
        }
    CHECKF(got == 0 && n == 6000, "%d rows: %s", n, got ? e.msg : "");
    dataset_free(ds);
    column_free(&met[0]);
    column_free(&met[1]);
    specs_free(sp);
    workflow_free(wf);
    ttree_free(t);
    rootfile_close(f);
    ttree_free(t2);
    rootfile_close(f2);
    unlink(path);
    unlink(path2);
}

/* The event weights of one run, row by row (the same rows in the same order every run). */
static float *weights_of(const char *params_extra, size_t *n)
{
    *n = 0;
    workflow *wf = load_wf(params_extra, NULL);
    if (!wf)
        return NULL;
    mlhep_err e;
    preproc *pp = NULL;
    specs *sp = NULL;
    dataset *ds = NULL;
    float *w = NULL;
    if (specs_preproc(&wf->data, &pp, &e) || specs_compute(&wf->data, pp, NULL, NULL, &sp, &e) ||
        dataset_open(&wf->data, pp, sp, &ds, &e)) {
        printf("  %s\n", e.msg);
    } else {
        ds_chunk c;
        size_t cap = 0;
        int rc;
        while ((rc = dataset_next(ds, &c, &e)) == 1) {
            if (*n + c.nrows > cap) {
                cap = 2 * (*n + c.nrows);
                w = realloc(w, cap * sizeof *w);
            }
            memcpy(w + *n, c.w, c.nrows * sizeof *w);
            *n += c.nrows;
        }
        if (rc < 0)
            printf("  %s\n", e.msg);
    }
    dataset_free(ds);
    specs_free(sp);
    preproc_free(pp);
    workflow_free(wf);
    return w;
}

/* The negative-weight policies against the expression written out by hand: "zero" is
 * max(w, 0), "abs" is |w|; a weight is never negative. */
TEST(negative_weight_policies)
{
    size_t nz, na, nrz, nra;
    float *z = weights_of(",\"seed\":3,\"weight\":\"MET_px / 10\"", &nz);
    float *a = weights_of(",\"seed\":3,\"weight\":\"MET_px / 10\",\"negative_weights\":\"abs\"", &na);
    float *rz = weights_of(",\"seed\":3,\"weight\":\"max(MET_px / 10, 0)\"", &nrz);
    float *ra = weights_of(",\"seed\":3,\"weight\":\"abs(MET_px / 10)\"", &nra);
    CHECK(z && a && rz && ra);
    CHECKF(nz > 4000 && nz == na && nz == nrz && nz == nra, "%zu %zu %zu %zu rows", nz, na, nrz, nra);
    size_t zeros = 0, bad = 0;
    for (size_t i = 0; z && a && rz && ra && i < nz && i < na && i < nrz && i < nra; i++) {
        zeros += z[i] == 0.0f;
        bad += z[i] != rz[i] || a[i] != ra[i] || z[i] < 0 || (z[i] > 0 && z[i] != a[i]);
    }
    CHECKF(zeros > nz / 5, "%zu of %zu weights are zero: the negative ones are not exercised", zeros, nz);
    CHECKF(bad == 0, "%zu rows differ from the written-out policy", bad);
    free(z);
    free(a);
    free(rz);
    free(ra);
}

TEST(bad_inputs_are_reported)
{
    workflow *wf = load_wf("", "{\"flat_cut\":{\"NJet\":{\"cut\":\"NJett>=2\"}}}");
    CHECK(wf);
    mlhep_err e;
    preproc *pp;
    CHECK(specs_preproc(&wf->data, &pp, &e) != 0);
    CHECKF(strstr(e.msg, "NJett") && strstr(e.msg, "column"), "%s", e.msg);
    workflow_free(wf);
    wf = load_wf_sel("\"NJet\",\"nope\"", "", NULL);
    CHECK(wf);
    {
        specs *sp;
        CHECK(specs_compute(&wf->data, NULL, NULL, NULL, &sp, &e) == MLHEP_ENOTFOUND);
        CHECKF(strstr(e.msg, "'nope'"), "%s", e.msg);
        workflow_free(wf);
    }
}

int main(void)
{
    RUN(specs_match_oracle);
    RUN(rows_reproduce_oracle_values);
    RUN(nevts_shuffle_and_split);
    RUN(more_files_than_chunk_rows);
    RUN(preproc_cuts_and_new_branches);
    RUN(all_value_types_match_direct_reads);
    RUN(preproc_on_threads_matches_direct);
    RUN(thread_counts_give_identical_results);
    RUN(kept_chunks_stay_valid);
    RUN(blocks_end_on_basket_boundaries);
    RUN(negative_weight_policies);
    RUN(bad_inputs_are_reported);
    return test_summary();
}

/* test_specs_merge.c - the merge of per-file specs (the reduce step of a fanned-out specs
 * pass) equals one specs_compute pass over all files: counts, min, max and length
 * histograms exactly, mean and std to rounding, padded lengths, widths and per-file
 * event counts identical; with and without a pre-processing cut and per-branch caps.
 * Parts from different plans are refused. Input: three synthetic ttH files (evgen). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evgen.h"
#include "jsonschema.h"
#include "specs.h"
#include "specs_merge.h"
#include "test.h"
#include "workflow.h"

static char T[64] = "/tmp/mlhep-specs-merge.XXXXXX";
static jschema *schema;
static const int64_t NEV[3] = {1500, 900, 700};

static int setup(void)
{
    if (!mkdtemp(T))
        return -1;
    for (int i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/f%d.root", T, i);
        evgen_opts o = {.events = NEV[i], .signal = i != 1, .out = p, .seed = 100 + (uint64_t)i};
        mlhep_err e;
        if (evgen_write(&o, &e)) {
            printf("  evgen: %s\n", e.msg);
            return -1;
        }
    }
    mlhep_err e;
    if (jschema_load_named(NULL, "workflow", &schema, &e)) {
        printf("  schema: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* Loads a workflow over files[0..n) (indices into f0..f2) with extra JSON members. */
static workflow *load(const int *files, int n, const char *extra)
{
    char doc[4096];
    int k = snprintf(doc, sizeof doc, "{\"name\":\"m\",\"tree\":\"Events\",\"files\":[");
    for (int i = 0; i < n; i++)
        k += snprintf(doc + k, sizeof doc - (size_t)k, "%s{\"path\":\"%s/f%d.root\",\"label\":%d}",
                      i ? "," : "", T, files[i], files[i] != 1);
    snprintf(doc + k, sizeof doc - (size_t)k, "]%s}", extra);
    const char *roots[] = {T};
    wf_opts o = {.schema = schema, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf = NULL;
    mlhep_err e;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e)) {
        printf("  workflow: %s\n", e.msg);
        return NULL;
    }
    return wf;
}

static specs *compute(const workflow *wf)
{
    preproc *pp = NULL;
    specs *s = NULL;
    mlhep_err e;
    if (specs_preproc(wf, &pp, &e) || specs_compute(wf, pp, NULL, NULL, &s, &e))
        printf("  specs: %s\n", e.msg);
    preproc_free(pp);
    return s;
}

static int close_rel(double a, double b)
{
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= 1e-9 * m + 1e-12;
}

/* Whole pass vs merged per-file parts; returns the number of mismatches (printed). */
static int compare(const char *extra)
{
    const int all[3] = {0, 1, 2};
    workflow *wf = load(all, 3, extra);
    if (!wf)
        return 1;
    specs *whole = compute(wf), *parts[3] = {0};
    workflow *pw[3] = {0};
    int bad = !whole;
    for (int i = 0; i < 3 && !bad; i++) {
        pw[i] = load(&all[i], 1, extra);
        parts[i] = pw[i] ? compute(pw[i]) : NULL;
        bad |= !parts[i];
    }
    specs *m = NULL;
    mlhep_err e;
    if (!bad && specs_merge(wf, parts, 3, &m, &e)) {
        printf("  merge: %s\n", e.msg);
        bad = 1;
    }
    if (!bad) {
        if (strcmp(m->fingerprint, whole->fingerprint) || m->nfiles != 3 || m->width != whole->width ||
            m->total_events != whole->total_events || m->nfeat != whole->nfeat || m->nread != whole->nread) {
            printf("  header differs: width %d/%d events %lld/%lld nfeat %zu/%zu\n", m->width, whole->width,
                   (long long)m->total_events, (long long)whole->total_events, m->nfeat, whole->nfeat);
            bad++;
        }
        for (size_t f = 0; f < 3 && !bad; f++)
            if (m->entries[f] != whole->entries[f] || m->events[f] != whole->events[f] ||
                strcmp(m->files[f], whole->files[f]))
                bad++;
        for (size_t i = 0; i < whole->nfeat && !bad; i++) {
            const specs_feature *a = &m->feat[i], *b = &whole->feat[i];
            int ok = !strcmp(a->name, b->name) && a->count == b->count && a->min == b->min &&
                     a->max == b->max && close_rel(a->mean, b->mean) && close_rel(a->std, b->std) &&
                     a->len == b->len && a->max_len == b->max_len;
            if (ok && a->jagged)
                ok = !memcmp(a->len_hist, b->len_hist, SPECS_LEN_BINS * sizeof *a->len_hist);
            if (!ok) {
                printf("  feature %s: count %lld/%lld min %g/%g max %g/%g mean %.17g/%.17g std %.17g/%.17g "
                       "len %d/%d\n", b->name, (long long)a->count, (long long)b->count, a->min, b->min,
                       a->max, b->max, a->mean, b->mean, a->std, b->std, a->len, b->len);
                bad++;
            }
        }
    }
    specs_free(m);
    specs_free(whole);
    for (int i = 0; i < 3; i++) {
        specs_free(parts[i]);
        workflow_free(pw[i]);
    }
    workflow_free(wf);
    return bad;
}

TEST(merge_equals_one_pass)
{
    CHECK(compare("") == 0);
}

TEST(merge_equals_one_pass_with_cut_and_caps)
{
    /* a cut removes events (per-file event counts, masked values) and a cap fixes one
     * padded length while the others come from the merged histograms */
    CHECK(compare(",\"preproc\":{\"new_branch\":{\"ht\":{\"def\":\"sum(Jet_pt)\",\"type\":\"flat\","
                  "\"cut\":\"ht>250\"}}},\"params\":{\"branch_max_length\":{\"Jet_eta\":3}}") == 0);
}

TEST(different_plans_refused)
{
    const int one[1] = {0};
    workflow *a = load(one, 1, ""), *b = load(one, 1, ",\"params\":{\"selected_branches\":[\"Jet_pt\",\"nJet\"]}");
    CHECK(a && b);
    specs *sa = compute(a), *sb = compute(b), *m = NULL;
    mlhep_err e;
    int rc = sa && sb ? specs_merge(a, (specs *const[]){sa, sb}, 2, &m, &e) : 0;
    int rc0 = specs_merge(a, NULL, 0, &m, &e);
    specs_free(sa);
    specs_free(sb);
    workflow_free(a);
    workflow_free(b);
    CHECK(rc == MLHEP_EINVAL && strstr(e.msg, "specs merge") == e.msg);
    CHECK(rc0 == MLHEP_EINVAL && m == NULL);
}

int main(void)
{
    if (setup()) {
        printf("FAIL test_specs_merge: setup\n");
        return 1;
    }
    RUN(merge_equals_one_pass);
    RUN(merge_equals_one_pass_with_cut_and_caps);
    RUN(different_plans_refused);
    jschema_free(schema);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", T);
    return test_summary();
}

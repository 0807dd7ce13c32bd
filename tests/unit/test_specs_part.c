/* test_specs_part.c - the specs pass in parts (the unit of the fanned-out specs pass,
 * fanout.h): parts computed per file or per run of accumulation units, sent through their
 * JSON form and folded in order give exactly the specs of one specs_compute pass - the
 * same specs.json text, bit for bit - with and without a pre-processing cut. Parts out of
 * order, missing, past the end of a file or malformed are refused. Input: three synthetic
 * ttH files (evgen), the first spanning three units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "root/evgen.h"
#include "base/jsonschema.h"
#include "data/specs.h"
#include "test.h"
#include "service/workflow.h"

static char T[64] = "/tmp/mlhep-specs-part.XXXXXX";
static jschema *schema;
static const int64_t NEV[3] = {2 * SPECS_UNIT_ENTRIES + 2232, 3000, 1200};

static int setup(void)
{
    if (!mkdtemp(T))
        return -1;
    for (int i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/f%d.root", T, i);
        evgen_opts o = {.events = NEV[i], .signal = i != 1, .out = p, .seed = 7 + (uint64_t)i};
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

static workflow *load(const char *extra)
{
    char doc[4096];
    int k = snprintf(doc, sizeof doc, "{\"name\":\"m\",\"tree\":\"Events\",\"files\":[");
    for (int i = 0; i < 3; i++)
        k += snprintf(doc + k, sizeof doc - (size_t)k, "%s{\"path\":\"%s/f%d.root\",\"label\":%d}",
                      i ? "," : "", T, i, i != 1);
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

static char *dump(const specs *s)
{
    json_t *o = specs_to_json(s);
    char *t = json_dumps(o, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(o);
    return t;
}

/* A part through its JSON text and back (what a sub-task result goes through). */
static specs_part *roundtrip(const specs *plan, const specs_part *p)
{
    json_t *o = specs_part_to_json(plan, p);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_error_t je;
    json_t *back = t ? json_loads(t, 0, &je) : NULL;
    free(t);
    specs_part *q = NULL;
    mlhep_err e;
    if (!back || specs_part_from_json(back, plan, &q, &e))
        printf("  part from json: %s\n", back ? e.msg : je.text);
    json_decref(back);
    return q;
}

/* One pass vs parts: file 0 as units [0,1), [1,2), [2,end), files 1 and 2 whole. */
static int compare(const char *extra)
{
    workflow *wf = load(extra);
    if (!wf)
        return 1;
    preproc *pp = NULL;
    specs *whole = NULL, *plan = NULL, *folded = NULL;
    specs_folder *f = NULL;
    mlhep_err e;
    int bad = specs_preproc(&wf->data, &pp, &e) || specs_compute(&wf->data, pp, NULL, NULL, &whole, &e) ||
              specs_plan(&wf->data, pp, &plan, &e) || specs_folder_new(&wf->data, plan, &f, &e);
    if (bad)
        printf("  setup: %s\n", e.msg);
    const struct { size_t file; int64_t u0, nu; } runs[] = {{0, 0, 1}, {0, 1, 1}, {0, 2, -1}, {1, 0, -1}, {2, 0, 5}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0] && !bad; r++) {
        specs_part *p = NULL, *q = NULL;
        if (specs_part_compute(&wf->data, pp, plan, runs[r].file, runs[r].u0, runs[r].nu, NULL, NULL, &p, &e)) {
            printf("  part %zu: %s\n", r, e.msg);
            bad = 1;
        } else if (!(q = roundtrip(plan, p)) || specs_folder_add(f, q, &e)) {
            printf("  fold part %zu: %s\n", r, q ? e.msg : "no part");
            bad = 1;
        }
        specs_part_free(p);
        specs_part_free(q);
    }
    if (!bad && specs_folder_finish(f, &wf->data, &folded, &e)) {
        printf("  finish: %s\n", e.msg);
        bad = 1;
    } else if (!bad) {
        f = NULL;
    }
    if (!bad) {
        char *a = dump(whole), *b = dump(folded);
        if (!a || !b || strcmp(a, b)) {
            printf("  specs.json differs:\n  one pass %.300s\n  folded   %.300s\n", a, b);
            bad = 1;
        }
        free(a);
        free(b);
        if (whole->total_events <= 0 || whole->entries[0] != NEV[0])
            bad = 1;
    }
    specs_folder_free(f);
    specs_free(whole);
    specs_free(folded);
    preproc_free(pp);
    workflow_free(wf);
    return bad;
}

TEST(fold_equals_one_pass_exactly)
{
    CHECK(compare("") == 0);
}

TEST(fold_equals_one_pass_with_cut_and_caps)
{
    CHECK(compare(",\"preproc\":{\"new_branch\":{\"ht\":{\"def\":\"sum(Jet_pt)\",\"type\":\"flat\","
                  "\"cut\":\"ht>250\"}}},\"params\":{\"branch_max_length\":{\"Jet_eta\":3}}") == 0);
}

TEST(bad_parts_refused)
{
    workflow *wf = load(",\"params\":{\"selected_branches\":[\"Jet_pt\",\"nJet\",\"MET_pt\"]}");
    CHECK(wf != NULL);
    if (!wf)
        return;
    specs *plan = NULL;
    specs_folder *f = NULL;
    specs_part *p1 = NULL, *p0 = NULL, *q = NULL;
    mlhep_err e;
    CHECK(specs_plan(&wf->data, NULL, &plan, &e) == 0);
    CHECK(specs_part_compute(&wf->data, NULL, plan, 1, 0, -1, NULL, NULL, &p1, &e) == 0);
    CHECK(specs_part_compute(&wf->data, NULL, plan, 0, 0, 1, NULL, NULL, &p0, &e) == 0);
    /* a unit past the end of the file, a file out of range */
    CHECK(specs_part_compute(&wf->data, NULL, plan, 1, 1, 1, NULL, NULL, &q, &e) == MLHEP_EINVAL && !q);
    CHECK(specs_part_compute(&wf->data, NULL, plan, 3, 0, 1, NULL, NULL, &q, &e) == MLHEP_EINVAL && !q);
    /* malformed documents */
    json_t *o = specs_part_to_json(plan, p1);
    json_t *c = json_deep_copy(o);
    json_object_set_new(json_array_get(json_object_get(c, "features"), 0), "name", json_string("x"));
    CHECK(specs_part_from_json(c, plan, &q, &e) == MLHEP_EINVAL && !q);
    json_decref(c);
    c = json_deep_copy(o);
    json_object_set_new(json_array_get(json_object_get(c, "features"), 0), "min", json_string("0x1p+2junk"));
    CHECK(specs_part_from_json(c, plan, &q, &e) == MLHEP_EINVAL && !q);
    json_decref(c);
    c = json_deep_copy(o);
    json_object_set_new(c, "events", json_integer(NEV[1] + 1));
    CHECK(specs_part_from_json(c, plan, &q, &e) == MLHEP_EINVAL && !q);
    json_decref(c);
    c = json_deep_copy(o);
    json_object_set_new(c, "nunits", json_integer(2));
    CHECK(specs_part_from_json(c, plan, &q, &e) == MLHEP_EINVAL && !q);
    json_decref(c);
    c = json_deep_copy(o);
    json_array_append_new(json_object_get(json_array_get(json_object_get(c, "features"), 2), "hist"),
                          json_pack("[i, i]", SPECS_LEN_BINS, 1));
    CHECK(specs_part_from_json(c, plan, &q, &e) == MLHEP_EINVAL && !q);
    json_decref(c);
    json_decref(o);
    /* out of order: file 1 before file 0 */
    CHECK(specs_folder_new(&wf->data, plan, &f, &e) == 0);
    CHECK(specs_folder_add(f, p1, &e) == MLHEP_EINVAL && strstr(e.msg, "out of order"));
    /* missing parts: file 0 has three units, only the first is added */
    CHECK(specs_folder_add(f, p0, &e) == 0);
    specs *out = NULL;
    CHECK(specs_folder_finish(f, &wf->data, &out, &e) == MLHEP_EINVAL && !out);
    specs_folder_free(f);
    specs_part_free(p0);
    specs_part_free(p1);
    workflow_free(wf);
}

int main(void)
{
    if (setup()) {
        printf("FAIL test_specs_part: setup\n");
        return 1;
    }
    RUN(fold_equals_one_pass_exactly);
    RUN(fold_equals_one_pass_with_cut_and_caps);
    RUN(bad_parts_refused);
    jschema_free(schema);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", T);
    if (system(cmd)) {
    }
    return test_summary();
}

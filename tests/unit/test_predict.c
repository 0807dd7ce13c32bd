/* test_predict.c - in-process prediction, the model store and its cache.
 *
 * Test models are made here from real rows (the data layer over uproot-HZZ.root label 1
 * and uproot-HZZ-zstd.root label 0): an MLP (mlp_build + a few mlp_train_batch steps,
 * saved with mlp_save_file and the featmap document), a 3-class MLP with class names,
 * and boosted trees (modelfile with "gbdt" + "features"). Checks: every request form
 * gives bit-identical scores to mlp_predict / gbdt_predict on the data layer's rows of
 * the same events; responses validate against predict-response.schema.json and read
 * back to the same floats; broken model files are refused; names, versions, sharing,
 * deletion and listing in the model store; the LRU cache evicts by count and bytes and
 * sees new versions after its ttl. Scoring a ROOT tree in process (treescore_local):
 * one score per entry in a friend tree, bit-identical to predict_rows on the data
 * layer's rows; missing branches, unreadable files and bad branch names refused.
 *
 * Also a helper for the script tests and the benchmark: `test_predict --make-models DIR
 * [SIGNAL.root BACKGROUND.root TREE]` writes
 * DIR/mlp.mlhep, DIR/mlp3.mlhep and DIR/gbdt.mlhep (same recipes) and the raw request
 * documents DIR/req-{values,rows,columns}.json (entries 0..24 of uproot-HZZ.root; values:
 * entry 0) and exits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root/basket.h"
#include "data/dataset.h"
#include "data/featmap.h"
#include "model/gbdt.h"
#include "base/jsonschema.h"
#include "model/mlp.h"
#include "model/modelfile.h"
#include "infer/modelstore.h"
#include "infer/predict.h"
#include "infer/treescore.h"
#include "root/rootfile.h"
#include "data/specs.h"
#include "test.h"
#include "root/ttree.h"
#include "service/workflow.h"

static char data_dir[1024];

static const char *data(void)
{
    if (!data_dir[0]) {
        const char *d = getenv("MLHEP_SHARED");
        snprintf(data_dir, sizeof data_dir, "%s/data/root", d ? d : "../shared");
    }
    return data_dir;
}

/* The shared fixture: specs, features document and the first chunk of rows. */
typedef struct fixture {
    workflow *wf;
    preproc *pp;
    specs *sp;
    dataset *ds;
    ds_chunk c;
    char *features; /* JSON text */
    json_t *fdoc;
    int ok;
} fixture;

static fixture FX;

/* Input of the fixture: the two HZZ files, or (--make-models DIR S.root B.root TREE,
 * for the benchmark) a signal and a background file. */
static const char *fx_sig, *fx_bkg, *fx_tree = "events";

static int fixture_init(void)
{
    if (FX.ok)
        return 0;
    char sdir[1024], doc[4096];
    mlhep_err e;
    jschema *sch = NULL;
    if (jschema_find_dir(NULL, sdir, sizeof sdir, &e) || jschema_load_named(sdir, "workflow", &sch, &e)) {
        printf("  schema: %s\n", e.msg);
        return -1;
    }
    char sig[1100], bkg[1100];
    snprintf(sig, sizeof sig, "%s/uproot-HZZ.root", data());
    snprintf(bkg, sizeof bkg, "%s/uproot-HZZ-zstd.root", data());
    snprintf(doc, sizeof doc,
             "{\"name\":\"pr\",\"tree\":\"%s\",\"files\":[{\"path\":\"%s\",\"label\":1},"
             "{\"path\":\"%s\",\"label\":0}],\"params\":{\"chunk_size\":4842,\"shuffle\":false,"
             "\"max_jagged_length\":4},\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1}]}}",
             fx_tree, fx_sig ? fx_sig : sig, fx_bkg ? fx_bkg : bkg);
    char sdir2[1100];
    snprintf(sdir2, sizeof sdir2, "%s", fx_sig ? fx_sig : data());
    if (fx_sig && strrchr(sdir2, '/'))
        *strrchr(sdir2, '/') = '\0';
    const char *roots[1] = {sdir2};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    int rc = workflow_load_buffer(doc, strlen(doc), &o, &FX.wf, &e);
    jschema_free(sch);
    if (rc || specs_preproc(&FX.wf->data, &FX.pp, &e) || specs_compute(&FX.wf->data, FX.pp, NULL, NULL, &FX.sp, &e) ||
        dataset_open(&FX.wf->data, FX.pp, FX.sp, &FX.ds, &e) || dataset_next(FX.ds, &FX.c, &e) != 1 ||
        featmap_from_specs(FX.sp, FX.wf->data.norm, FX.wf->data.nan_value, &FX.fdoc, &e)) {
        printf("  fixture: %s\n", e.msg);
        return -1;
    }
    FX.features = json_dumps(FX.fdoc, JSON_COMPACT);
    FX.ok = 1;
    return 0;
}

static void fixture_free(void)
{
    free(FX.features);
    json_decref(FX.fdoc);
    dataset_free(FX.ds);
    specs_free(FX.sp);
    preproc_free(FX.pp);
    workflow_free(FX.wf);
    memset(&FX, 0, sizeof FX);
}

static int make_mlp(const char *path, int classes, mlhep_err *e)
{
    const char *spec2 = "{\"type\":\"mlp\",\"layers\":[{\"dense\":16,\"activation\":\"relu\"},{\"dense\":1,"
                        "\"activation\":\"sigmoid\"}],\"optimizer\":{\"adam\":{\"lr\":0.01}},\"loss\":"
                        "\"binary_crossentropy\",\"seed\":3}";
    const char *spec3 = "{\"type\":\"mlp\",\"layers\":[{\"dense\":8,\"activation\":\"tanh\"},{\"dense\":3,"
                        "\"activation\":\"softmax\"}],\"optimizer\":{\"adam\":{\"lr\":0.01}},\"loss\":"
                        "\"categorical_crossentropy\",\"seed\":4}";
    mlp *m = NULL;
    int rc = mlp_build(classes > 1 ? spec3 : spec2, (size_t)FX.c.width, &m, e);
    size_t w = (size_t)FX.c.width, B = 100;
    float *y = malloc(B * sizeof *y);
    for (int step = 0; !rc && step < 20; step++) {
        size_t a = ((size_t)step * B) % (FX.c.nrows - B);
        for (size_t i = 0; i < B; i++)
            y[i] = classes > 1 ? (float)((a + i) % 3) : FX.c.y[a + i];
        rc = mlp_train_batch(m, FX.c.x + a * w, y, NULL, B, NULL, e);
    }
    free(y);
    char *feat = NULL;
    if (!rc && classes > 1) {
        json_t *d = json_deep_copy(FX.fdoc);
        const char *names[3] = {"bkg", "ttH", "ttbb"};
        rc = featmap_set_outputs(d, 3, names, 3, e);
        feat = json_dumps(d, JSON_COMPACT);
        json_decref(d);
    }
    if (!rc)
        rc = mlp_save_file(m, feat ? feat : FX.features, path, e);
    free(feat);
    mlp_free(m);
    return rc;
}

static int make_gbdt(const char *path, mlhep_err *e)
{
    size_t n = FX.c.nrows, w = (size_t)FX.c.width;
    float *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) /* a learnable label: one normalised feature above 0.5 */
        y[i] = FX.c.x[i * w + 20] > 0.5f ? 1.0f : 0.0f;
    gbdt_params p;
    gbdt_params_default(&p);
    p.n_trees = 10;
    p.max_depth = 3;
    gbdt_model *g = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    modelfile *mf = modelfile_new(MODELFILE_KIND_GBDT);
    int rc = gbdt_train_dense(&p, FX.c.x, y, NULL, n, w, NULL, NULL, NULL, 0, &g, NULL, e);
    if (!rc)
        rc = gbdt_serialize(g, &buf, &len, e);
    if (!rc)
        rc = modelfile_add(mf, "gbdt", buf, len, e);
    if (!rc)
        rc = modelfile_add(mf, "features", FX.features, strlen(FX.features), e);
    if (!rc)
        rc = modelfile_write(mf, path, e);
    modelfile_free(mf);
    free(buf);
    gbdt_model_free(g);
    free(y);
    return rc;
}

static char tmpdir[256];

static const char *tmp(const char *name)
{
    static char p[4][512];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test_predict.XXXXXX");
        if (!mkdtemp(tmpdir))
            return "/nonexistent";
    }
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* Raw values of entries [0, n) of file 0, as a request document of the given form. */
static json_t *raw_request(const featmap *fm, size_t n, const char *form)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/uproot-HZZ.root", data());
    mlhep_err e;
    rootfile *f;
    ttree *t;
    if (rootfile_open(fx_sig ? fx_sig : path, &f, &e) || ttree_open(f, fx_tree, &t, &e))
        return NULL;
    json_t *cols = json_object();
    column c;
    column_init(&c);
    for (size_t i = 0; i < fm->nfeat; i++) {
        const tbranch *b = ttree_branch(t, fm->feat[i].name);
        json_t *arr = json_array();
        if (b && !basket_read(f, b, 0, (int64_t)n, &c, NULL, &e)) {
            for (size_t r = 0; r < n; r++) {
                if (!fm->feat[i].jagged) {
                    json_array_append_new(arr, json_real(column_get(&c, r)));
                    continue;
                }
                size_t lo = c.jagged ? (size_t)c.offsets[r] : r * (size_t)c.per_entry;
                size_t hi = c.jagged ? (size_t)c.offsets[r + 1] : lo + (size_t)c.per_entry;
                json_t *l = json_array();
                for (size_t k = lo; k < hi; k++)
                    json_array_append_new(l, json_real(column_get(&c, k)));
                json_array_append_new(arr, l);
            }
        }
        json_object_set_new(cols, fm->feat[i].name, arr);
    }
    column_free(&c);
    ttree_free(t);
    rootfile_close(f);
    json_t *req = json_object();
    json_object_set_new(req, "model", json_string("m"));
    if (!strcmp(form, "columns")) {
        json_object_set_new(req, "columns", cols);
        return req;
    }
    json_t *rows = json_array();
    for (size_t r = 0; r < n; r++) {
        json_t *row = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(cols, k, v) json_object_set(row, k, json_array_get(v, r));
        json_array_append_new(rows, row);
    }
    json_decref(cols);
    if (!strcmp(form, "rows")) {
        json_object_set_new(req, "rows", rows);
        return req;
    }
    /* keys/values: row 0 only */
    json_t *keys = json_array(), *vals = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_array_get(rows, 0), k, v) {
        json_array_append_new(keys, json_string(k));
        json_array_append(vals, v);
    }
    json_decref(rows);
    json_object_set_new(req, "keys", keys);
    json_object_set_new(req, "values", vals);
    return req;
}

static void check_model_forms(const char *path, int is_gbdt)
{
    mlhep_err e;
    predict_model *pm = NULL;
    CHECKF(!predict_model_load_file(path, &pm, &e), "%s", e.msg);
    const featmap *fm = predict_model_featmap(pm);
    CHECK_EQ_INT(fm->width, FX.c.width);
    size_t k = predict_model_outputs(pm), n = 25;
    /* reference: the data layer's rows of entries 0..n-1 of file 0 (unshuffled chunk) */
    float *want = malloc(n * k * sizeof *want);
    CHECK(FX.c.file[0] == 0 && FX.c.entry[n - 1] == (int64_t)(n - 1));
    CHECKF(!predict_rows(pm, FX.c.x, n, want, &e), "%s", e.msg);
    if (is_gbdt) {
        mlhep_err e2;
        modelfile *mf;
        gbdt_model *g;
        size_t gl;
        CHECK(!modelfile_read(path, &mf, &e2));
        const uint8_t *gb = modelfile_get(mf, "gbdt", &gl);
        CHECK(gb && !gbdt_deserialize(gb, gl, &g, &e2));
        float *o2 = malloc(n * sizeof *o2);
        CHECK(!gbdt_predict(g, FX.c.x, n, (size_t)FX.c.width, GBDT_PROBABILITY, o2, &e2));
        CHECK(!memcmp(o2, want, n * sizeof *o2));
        free(o2);
        gbdt_model_free(g);
        modelfile_free(mf);
    }
    const char *forms[3] = {"values", "rows", "columns"};
    predict_ctx pc = {0};
    for (int f = 0; f < 3; f++) {
        CHECK(!predict_rows(pm, FX.c.x, n, want, &e));
        json_t *req = raw_request(fm, n, forms[f]);
        CHECK(req);
        int rc = predict_request(pm, req, &pc, &e);
        json_decref(req);
        CHECKF(!rc, "%s: %s", forms[f], e.msg);
        size_t rows = f == 0 ? 1 : n;
        CHECK_EQ_INT(pc.nrows, rows);
        /* the rows are the data layer's, bit for bit ... */
        size_t w = (size_t)fm->width;
        for (size_t i = 0; i < rows * w; i++)
            CHECKF(!memcmp(&pc.batch.x[i], &FX.c.x[i], sizeof(float)), "%s row %zu col %zu: %.9g vs %.9g", forms[f],
                   i / w, i % w, pc.batch.x[i], FX.c.x[i]);
        /* ... and so are the scores (same batch size: BLAS kernels differ in the last bits
           between a 1-row and a 25-row product) */
        if (rows != n)
            CHECK(!predict_rows(pm, FX.c.x, rows, want, &e));
        for (size_t i = 0; i < rows * k; i++)
            CHECKF(!memcmp(&pc.out[i], &want[i], sizeof(float)), "%s output %zu: %.9g vs %.9g", forms[f], i,
                   pc.out[i], want[i]);
        /* the response text reads back to the same floats and fits the schema */
        CHECKF(!predict_format_response(pm, "m@1", pc.out, pc.nrows, 12.5, &pc, &e), "%s", e.msg);
        json_t *resp = json_loads(pc.buf, 0, NULL);
        CHECK(resp);
        jschema *rs;
        CHECK(!jschema_load_named(NULL, "predict-response", &rs, &e));
        int vr = jschema_validate(rs, resp, "response", &e);
        jschema_free(rs);
        CHECKF(!vr, "%s: %s", e.msg, pc.buf);
        json_t *p = json_object_get(resp, "predictions");
        for (size_t r = 0; r < rows; r++) {
            for (size_t j = 0; j < k; j++) {
                json_t *v = k == 1 ? json_array_get(p, r) : json_array_get(json_array_get(p, r), j);
                CHECK((float)json_number_value(v) == want[r * k + j]);
            }
        }
        if (k > 1)
            CHECK(!strcmp(json_string_value(json_array_get(json_object_get(resp, "classes"), 1)), "ttH"));
        json_decref(resp);
    }
    predict_ctx_free(&pc);
    free(want);
    predict_model_free(pm);
}

TEST(mlp_every_form_matches_data_layer_rows)
{
    CHECK(!fixture_init());
    mlhep_err e;
    CHECKF(!make_mlp(tmp("mlp.mlhep"), 1, &e), "%s", e.msg);
    check_model_forms(tmp("mlp.mlhep"), 0);
}

TEST(mlp_classes_every_form)
{
    CHECK(!fixture_init());
    mlhep_err e;
    CHECKF(!make_mlp(tmp("mlp3.mlhep"), 3, &e), "%s", e.msg);
    check_model_forms(tmp("mlp3.mlhep"), 0);
}

TEST(gbdt_every_form_matches)
{
    CHECK(!fixture_init());
    mlhep_err e;
    CHECKF(!make_gbdt(tmp("gbdt.mlhep"), &e), "%s", e.msg);
    check_model_forms(tmp("gbdt.mlhep"), 1);
}

TEST(broken_model_files_refused)
{
    CHECK(!fixture_init());
    mlhep_err e;
    predict_model *pm = NULL;
    /* an MLP without a features section */
    mlp *m;
    CHECK(!mlp_build("{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}", 3, &m, &e));
    CHECK(!mlp_save_file(m, NULL, tmp("nofeat.mlhep"), &e));
    CHECK(predict_model_load_file(tmp("nofeat.mlhep"), &pm, &e) == MLHEP_EFORMAT && strstr(e.msg, "no \"features\""));
    /* width mismatch: 3 inputs vs the HZZ rows */
    CHECK(!mlp_save_file(m, FX.features, tmp("width.mlhep"), &e));
    CHECK(predict_model_load_file(tmp("width.mlhep"), &pm, &e) == MLHEP_EFORMAT && strstr(e.msg, "takes 3 inputs"));
    mlp_free(m);
    /* truncated file */
    FILE *f = fopen(tmp("width.mlhep"), "r+b");
    CHECK(f);
    CHECK(!ftruncate(fileno(f), 40));
    fclose(f);
    CHECK(predict_model_load_file(tmp("width.mlhep"), &pm, &e) < 0);
    CHECK(predict_model_load_file(tmp("absent.mlhep"), &pm, &e) == MLHEP_ENOTFOUND);
    CHECK(!pm);
}

TEST(error_documents_fit_schema)
{
    mlhep_err e;
    jschema *rs;
    CHECK(!jschema_load_named(NULL, "predict-response", &rs, &e));
    const char *codes[3] = {"bad_request", "unknown_model", "internal"};
    for (int i = 0; i < 3; i++) {
        char *t = predict_error_json(codes[i], i ? "ttH@2" : NULL, "row 3: branch 'x' is flat");
        json_t *d = json_loads(t, 0, NULL);
        CHECKF(d && !jschema_validate(rs, d, "error", &e), "%s", t);
        json_decref(d);
        free(t);
    }
    /* a message cut inside a UTF-8 sequence still gives a valid document */
    char msg[8] = {'a', (char)0xc3, 0};
    char *t = predict_error_json("internal", NULL, msg);
    CHECK(t && strstr(t, "\"error\""));
    free(t);
    CHECK(!strcmp(predict_error_code(MLHEP_ENOTFOUND), "unknown_branch"));
    jschema_free(rs);
}

/* ---- model store ---- */

static void put_job(const char *root, const char *user, const char *id, const char *model)
{
    char d[1024], p[1100], cmd[3000];
    snprintf(d, sizeof d, "%s/%s/%s", root, user, id);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/model.mlhep'", d, model, d);
    if (system(cmd))
        printf("  cannot place job\n");
    snprintf(p, sizeof p, "%s/metrics.json", d);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "{\"auc\":0.75,\"epochs\":[{\"loss\":1}],\"final\":{\"val_loss\":0.5}}");
        fclose(f);
    }
}

#define JA "0123456789abcdef0123456789abcdef"
#define JB "fedcba9876543210fedcba9876543210"

TEST(store_names_versions_sharing)
{
    CHECK(!fixture_init());
    mlhep_err e;
    CHECK(!make_mlp(tmp("s-mlp.mlhep"), 1, &e));
    CHECK(!make_gbdt(tmp("s-gbdt.mlhep"), &e));
    char root[600];
    snprintf(root, sizeof root, "%s", tmp("store"));
    mkdir(root, 0755);
    put_job(root, "alice", JA, tmp("s-mlp.mlhep"));
    put_job(root, "alice", JB, tmp("s-gbdt.mlhep"));
    put_job(root, "bob", JA, tmp("s-gbdt.mlhep"));
    modelstore *ms;
    CHECK(!modelstore_open(root, &ms, &e));
    ms_ref r;
    CHECKF(!modelstore_resolve(ms, "alice", JA, &r, &e), "%s", e.msg);
    CHECK(!strcmp(r.canonical, JA) && !strcmp(r.owner, "alice"));
    CHECK(modelstore_resolve(ms, "carol", JA, &r, &e) == MLHEP_ENOTFOUND);
    int v = 0;
    CHECKF(!modelstore_tag(ms, "alice", JA, "ttH", -1, &v, &e), "%s", e.msg);
    CHECK_EQ_INT(v, 1);
    CHECK(!modelstore_tag(ms, "alice", JB, "ttH", -1, &v, &e));
    CHECK_EQ_INT(v, 2);
    CHECK(!modelstore_resolve(ms, "alice", "ttH", &r, &e) && !strcmp(r.canonical, "ttH@2"));
    CHECK(!modelstore_resolve(ms, "alice", "ttH@latest", &r, &e) && r.version == 2);
    CHECK(!modelstore_resolve(ms, "alice", "ttH@1", &r, &e) && !strcmp(r.canonical, "ttH@1"));
    CHECK(modelstore_resolve(ms, "alice", "ttH@3", &r, &e) == MLHEP_ENOTFOUND && strstr(e.msg, "version 3"));
    CHECK(modelstore_resolve(ms, "alice", "nope", &r, &e) == MLHEP_ENOTFOUND && strstr(e.msg, "unknown model 'nope'"));
    CHECK(modelstore_resolve(ms, "alice", "ttH@x", &r, &e) == MLHEP_EINVAL);
    CHECK(modelstore_resolve(ms, "alice", "../x", &r, &e) == MLHEP_EINVAL);
    /* bob: not shared -> forbidden; he cannot take the name nor delete it */
    CHECK(modelstore_resolve(ms, "bob", "ttH", &r, &e) == MLHEP_EAUTH && strstr(e.msg, "not shared"));
    CHECK(modelstore_tag(ms, "bob", JA, "ttH", -1, &v, &e) == MLHEP_EAUTH);
    CHECK(modelstore_delete(ms, "bob", "ttH@1", &e) == MLHEP_EAUTH);
    CHECK(modelstore_share(ms, "bob", "ttH", 1, &e) == MLHEP_EAUTH);
    /* bob cannot tag a job of alice's (job ids resolve in the caller's own directory) */
    CHECK(modelstore_tag(ms, "bob", JB, "mine", -1, &v, &e) == MLHEP_ENOTFOUND);
    json_t *l;
    CHECK(!modelstore_list(ms, "bob", &l, &e));
    CHECK_EQ_INT(json_array_size(json_object_get(l, "models")), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(l, "jobs")), 1);
    json_decref(l);
    /* shared: bob resolves, lists, but still cannot delete */
    CHECK(!modelstore_share(ms, "alice", "ttH", 1, &e));
    CHECK(!modelstore_resolve(ms, "bob", "ttH@1", &r, &e) && r.shared && !strcmp(r.owner, "alice"));
    CHECK(modelstore_delete(ms, "bob", "ttH", &e) == MLHEP_EAUTH);
    CHECK(!modelstore_list(ms, "bob", &l, &e));
    CHECK_EQ_INT(json_array_size(json_object_get(l, "models")), 1);
    json_decref(l);
    /* listing with metadata */
    CHECK(!modelstore_list(ms, "alice", &l, &e));
    json_t *m0 = json_array_get(json_object_get(l, "models"), 0);
    json_t *v1 = json_array_get(json_object_get(m0, "versions"), 0);
    CHECK(!strcmp(json_string_value(json_object_get(m0, "owner")), "alice"));
    CHECK(json_is_true(json_object_get(m0, "mine")));
    CHECK(!strcmp(json_string_value(json_object_get(v1, "kind")), "mlp"));
    CHECK_EQ_INT(json_array_size(json_object_get(v1, "features")), FX.sp->nfeat);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(v1, "metrics"), "auc")), 0.75, 0);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(v1, "metrics"), "val_loss")), 0.5, 0);
    CHECK_EQ_INT(json_array_size(json_object_get(l, "jobs")), 2);
    json_decref(l);
    /* delete one version, then the name */
    CHECK(!modelstore_delete(ms, "alice", "ttH@2", &e));
    CHECK(!modelstore_resolve(ms, "alice", "ttH", &r, &e) && r.version == 1);
    CHECK(modelstore_delete(ms, "alice", "ttH@2", &e) == MLHEP_ENOTFOUND);
    CHECK(modelstore_delete(ms, "alice", JA, &e) == MLHEP_EINVAL);
    CHECK(!modelstore_delete(ms, "alice", "ttH", &e));
    CHECK(modelstore_resolve(ms, "alice", "ttH", &r, &e) == MLHEP_ENOTFOUND);
    /* names: rules */
    CHECK(modelstore_name_valid("ttH-v2.final_x"));
    CHECK(!modelstore_name_valid(".hidden") && !modelstore_name_valid("a/b") && !modelstore_name_valid(JA) &&
          !modelstore_name_valid("") && !modelstore_name_valid("a b"));
    modelstore_close(ms);
}

TEST(cache_lru_and_ttl)
{
    CHECK(!fixture_init());
    mlhep_err e;
    char root[600];
    snprintf(root, sizeof root, "%s", tmp("cache"));
    mkdir(root, 0755);
    CHECK(!make_mlp(tmp("c-mlp.mlhep"), 1, &e));
    CHECK(!make_gbdt(tmp("c-gbdt.mlhep"), &e));
    put_job(root, "alice", JA, tmp("c-mlp.mlhep"));
    put_job(root, "alice", JB, tmp("c-gbdt.mlhep"));
    modelstore *ms;
    CHECK(!modelstore_open(root, &ms, &e));
    CHECK(!modelstore_tag(ms, "alice", JA, "a", -1, NULL, &e));
    CHECK(!modelstore_tag(ms, "alice", JA, "b", -1, NULL, &e));
    CHECK(!modelstore_tag(ms, "alice", JB, "c", -1, NULL, &e));
    mscache_opts o = {2, (size_t)1 << 30, 10.0};
    mscache *c;
    CHECK(!mscache_new(ms, &o, &c, &e));
    predict_model *m;
    const char *canon;
    double t = 100;
    CHECK(!mscache_get(c, "alice", "a", t, &m, &canon, &e) && !strcmp(canon, "a@1"));
    CHECK(!mscache_get(c, "alice", "a", t, &m, &canon, &e));
    CHECK(!mscache_get(c, "alice", "b", t, &m, &canon, &e));
    CHECK(!mscache_get(c, "alice", "a", t, &m, &canon, &e)); /* a is now the most recent */
    CHECK(!mscache_get(c, "alice", "c", t, &m, &canon, &e)); /* evicts b */
    mscache_stats st;
    mscache_get_stats(c, &st);
    CHECK_EQ_INT(st.models, 2);
    CHECK_EQ_INT(st.loads, 3);
    CHECK_EQ_INT(st.evictions, 1);
    CHECK_EQ_INT(st.hits, 2);
    CHECK(!mscache_get(c, "alice", "a", t, &m, &canon, &e)); /* still there */
    mscache_get_stats(c, &st);
    CHECK_EQ_INT(st.loads, 3);
    /* a new version: seen only after the ttl */
    CHECK(!modelstore_tag(ms, "alice", JB, "a", -1, NULL, &e));
    CHECK(!mscache_get(c, "alice", "a", t + 1, &m, &canon, &e) && !strcmp(canon, "a@1"));
    CHECK(!mscache_get(c, "alice", "a", t + 11, &m, &canon, &e) && !strcmp(canon, "a@2"));
    CHECK(!strcmp(predict_model_kind(m), "gbdt"));
    /* errors are not cached; another user is refused */
    CHECK(mscache_get(c, "bob", "a", t + 11, &m, &canon, &e) == MLHEP_EAUTH);
    CHECK(mscache_get(c, "alice", "zz", t + 11, &m, &canon, &e) == MLHEP_ENOTFOUND);
    /* the byte budget: one model at a time */
    mscache_free(c);
    mscache_opts o2 = {8, 1, 10.0};
    CHECK(!mscache_new(ms, &o2, &c, &e));
    CHECK(!mscache_get(c, "alice", "a@1", t, &m, &canon, &e));
    CHECK(!mscache_get(c, "alice", "c", t, &m, &canon, &e));
    mscache_get_stats(c, &st);
    CHECK_EQ_INT(st.models, 1);
    CHECK_EQ_INT(st.evictions, 1);
    mscache_free(c);
    modelstore_close(ms);
}

/* Scores of a friend tree written by treescore, entries [0, n). */
static int read_scores(const char *path, const char *tree, int64_t *entries, float *out, size_t n, size_t k)
{
    mlhep_err e;
    rootfile *f = NULL;
    ttree *t = NULL;
    column c;
    column_init(&c);
    int rc = rootfile_open(path, &f, &e);
    if (!rc)
        rc = ttree_open(f, tree, &t, &e);
    const tbranch *b = rc ? NULL : ttree_branch(t, "score");
    if (!rc)
        *entries = t->entries;
    if (!rc && (!b || basket_read(f, b, 0, (int64_t)n, &c, NULL, &e) || c.dt != DT_F32 || c.nvalues != n * k))
        rc = -1;
    if (!rc)
        memcpy(out, c.values, n * k * sizeof *out);
    column_free(&c);
    ttree_free(t);
    rootfile_close(f);
    return rc;
}

TEST(treescore_local_friend_tree)
{
    CHECK(!fixture_init());
    mlhep_err e;
    CHECKF(!make_mlp(tmp("ts3.mlhep"), 3, &e), "%s", e.msg);
    predict_model *pm = NULL;
    CHECKF(!predict_model_load_file(tmp("ts3.mlhep"), &pm, &e), "%s", e.msg);
    char in[1100];
    snprintf(in, sizeof in, "%s/uproot-HZZ.root", data());
    const size_t n = 25, k = 3;
    treescore_opts o = {.input = in, .tree = "events", .output = tmp("friend.root"), .batch = (long)n};
    treescore_result r;
    CHECKF(!treescore_local(pm, &o, &r, &e), "%s", e.msg);
    CHECK(r.entries == 2421 && r.outputs == k && !strcmp(r.spec, "score[3]/F") && !r.model[0]);
    /* entry i of the friend tree is the score of input entry i: the data layer's rows of
       entries 0..24 of this file, scored in one batch of the same size */
    float want[25 * 3], got[25 * 3];
    int64_t entries = 0;
    CHECK(FX.c.file[0] == 0 && FX.c.entry[n - 1] == (int64_t)(n - 1));
    CHECKF(!predict_rows(pm, FX.c.x, n, want, &e), "%s", e.msg);
    CHECK(!read_scores(o.output, "events", &entries, got, n, k));
    CHECK(entries == 2421);
    CHECK(!memcmp(got, want, sizeof want));
    /* refusals: what failed is told apart from the error code */
    snprintf(in, sizeof in, "%s/uproot-Zmumu.root", data());
    CHECK(treescore_local(pm, &o, &r, &e) == MLHEP_EINVAL && !r.failed);
    CHECKF(strstr(e.msg, "has no numeric branch"), "%s", e.msg);
    o.input = tmp("none.root");
    CHECK(treescore_local(pm, &o, &r, &e) < 0 && r.failed == TREESCORE_FAILED_FILE);
    snprintf(in, sizeof in, "%s/uproot-HZZ.root", data());
    o.input = in;
    o.output = "/nonexistent/dir/s.root";
    CHECK(treescore_local(pm, &o, &r, &e) < 0 && r.failed == TREESCORE_FAILED_FILE);
    o.output = tmp("friend2.root");
    o.branch = "a b";
    CHECK(treescore_local(pm, &o, &r, &e) == MLHEP_EINVAL && r.failed == TREESCORE_FAILED_BRANCH);
    o.branch = NULL;
    o.batch = TREESCORE_BATCH_MAX + 1;
    CHECK(treescore_local(pm, &o, &r, &e) == MLHEP_EINVAL && !r.failed);
    predict_model_free(pm);
}

int main(int argc, char **argv)
{
    if ((argc == 3 || argc == 6) && !strcmp(argv[1], "--make-models")) {
        if (argc == 6) {
            fx_sig = argv[3];
            fx_bkg = argv[4];
            fx_tree = argv[5];
        }
        mlhep_err e;
        char p[3][1100];
        snprintf(p[0], sizeof p[0], "%s/mlp.mlhep", argv[2]);
        snprintf(p[1], sizeof p[1], "%s/mlp3.mlhep", argv[2]);
        snprintf(p[2], sizeof p[2], "%s/gbdt.mlhep", argv[2]);
        int rc = fixture_init() || make_mlp(p[0], 1, &e) || make_mlp(p[1], 3, &e) || make_gbdt(p[2], &e);
        /* raw request documents of entries 0..24 of uproot-HZZ.root (model "m") */
        featmap *fm = NULL;
        const char *forms[3] = {"values", "rows", "columns"};
        if (!rc && !(rc = featmap_load(FX.fdoc, &fm, &e))) {
            for (int f = 0; f < 3 && !rc; f++) {
                char rp[1100];
                snprintf(rp, sizeof rp, "%s/req-%s.json", argv[2], forms[f]);
                json_t *req = raw_request(fm, 25, forms[f]);
                rc = !req || json_dump_file(req, rp, JSON_COMPACT);
                json_decref(req);
            }
        }
        featmap_free(fm);
        if (rc)
            fprintf(stderr, "test_predict --make-models: %s\n", FX.ok ? e.msg : "fixture failed");
        fixture_free();
        return rc ? 1 : 0;
    }
    RUN(mlp_every_form_matches_data_layer_rows);
    RUN(mlp_classes_every_form);
    RUN(gbdt_every_form_matches);
    RUN(broken_model_files_refused);
    RUN(error_documents_fit_schema);
    RUN(store_names_versions_sharing);
    RUN(cache_lru_and_ttl);
    RUN(treescore_local_friend_tree);
    fixture_free();
    if (tmpdir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd))
            printf("  could not remove %s\n", tmpdir);
    }
    return test_summary();
}

/* test_train.c - the training driver end to end on generated ttH-like files: an MLP and
 * boosted trees reach a sensible AUC, every artifact is written, the model file
 * predicts what the trained model predicted, seeds reproduce, cancel stops. On files
 * written here with known content: event weights and the three splits, the per-epoch
 * figures of the end-of-epoch model, a planted informative feature ranked first (MLP
 * permutation importance, boosted-tree gain), multiclass and regression reports for
 * both models, a training set with one class refused, the imbalance warning and
 * balance_classes; the submitter's input checks where it sees the files; a training
 * stopped after an epoch and resumed from its checkpoint ends bit-identical to one never
 * stopped, and resuming refuses what it must.
 * tests/cli/physics_sklearn.sh checks the numbers against sklearn and
 * scipy. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rng.h"
#include "root/evgen.h"
#include "root/rootwrite.h"
#include "base/jsonschema.h"
#include "model/mlp.h"
#include "model/modelfile.h"
#include "infer/predict.h"
#include "test.h"
#include "train/checkpoint.h"
#include "train/pipeline.h"
#include "train/train.h"
#include "service/workflow.h"

static char dir[256];
static char last_error[MLHEP_ERR_MAX]; /* of the last workflow wf_for refused */
static workflow *wf_doc(const char *doc);

static int make_inputs(void)
{
    snprintf(dir, sizeof dir, "/tmp/mlhep-test-train-%d", (int)getpid());
    mkdir(dir, 0755);
    char s[300], b[300];
    snprintf(s, sizeof s, "%s/sig.root", dir);
    snprintf(b, sizeof b, "%s/bkg.root", dir);
    evgen_opts o = {.events = 4000, .signal = 1, .out = s, .seed = 11, .compression = "lz4:1"};
    mlhep_err e;
    if (evgen_write(&o, &e)) {
        printf("  %s\n", e.msg);
        return -1;
    }
    o.signal = 0;
    o.out = b;
    o.seed = 12;
    return evgen_write(&o, &e);
}

/* A file of n events with float branches x0..x4 (normal; x3 shifted by +-shift3, x4 by
 * shift4), w (a weight in [-0.5, 2), mostly positive) and t = 2 x1 + x2 + noise (a
 * regression target), and int c = the class given. */
static int write_planted(const char *name, int n, double shift3, double shift4, int cls, uint64_t seed)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rootw_file *f;
    rootw_tree *t;
    mlhep_err e;
    if (rootw_open(path, NULL, &f, &e) || rootw_tree_new(f, "Events", NULL, &t, &e))
        return -1;
    static const char *specs[] = {"x0/F", "x1/F", "x2/F", "x3/F", "x4/F", "w/F", "t/F", "c/I"};
    for (size_t i = 0; i < 8; i++)
        if (rootw_branch(t, specs[i], &e) < 0)
            return -1;
    float *v[7];
    int32_t *c = malloc((size_t)n * sizeof *c);
    rng r;
    rng_seed(&r, seed);
    for (int k = 0; k < 7; k++)
        v[k] = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 5; k++) { /* Box-Muller */
            double u1 = (rng_next(&r) >> 11) * 0x1.0p-53 + 1e-12, u2 = (rng_next(&r) >> 11) * 0x1.0p-53;
            v[k][i] = (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
        }
        v[3][i] += (float)shift3;
        v[4][i] += (float)shift4;
        double u = (rng_next(&r) >> 11) * 0x1.0p-53;
        v[5][i] = (float)(u < 0.05 ? -0.5 : 0.25 + 1.75 * u);
        v[6][i] = 2 * v[1][i] + v[2][i] + 0.3f * v[0][i];
        c[i] = cls;
    }
    rootw_col cols[8];
    for (int k = 0; k < 7; k++)
        cols[k] = (rootw_col){ROOTW_F32, v[k]};
    cols[7] = (rootw_col){ROOTW_I32, c};
    int rc = rootw_append(t, n, cols, &e) || rootw_close(f, &e);
    for (int k = 0; k < 7; k++)
        free(v[k]);
    free(c);
    if (rc)
        printf("  %s\n", e.msg);
    return rc;
}

/* Loads a workflow document given whole. */
static workflow *wf_doc(const char *doc)
{
    mlhep_err e;
    jschema *sch;
    if (jschema_load_named(NULL, "workflow", &sch, &e))
        return NULL;
    const char *roots[] = {dir};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf = NULL;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e)) {
        snprintf(last_error, sizeof last_error, "%s", e.msg);
        printf("  workflow: %s\n", e.msg);
    }
    jschema_free(sch);
    return wf;
}

static json_t *run_doc(const char *doc, const char *sub, int *rc_out, mlhep_err *e)
{
    workflow *wf = wf_doc(doc);
    if (!wf)
        return NULL;
    char out[300], p[600];
    snprintf(out, sizeof out, "%s/%s", dir, sub);
    mkdir(out, 0755);
    train_opts o = {.outdir = out};
    *rc_out = train_run(wf, &o, e);
    workflow_free(wf);
    if (*rc_out)
        return NULL;
    snprintf(p, sizeof p, "%s/metrics.json", out);
    return json_load_file(p, 0, NULL);
}

static workflow *wf_for(const char *model, const char *extra)
{
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"name\":\"tth\",\"tree\":\"Events\",\"files\":[{\"path\":\"%s/sig.root\",\"label\":1},"
             "{\"path\":\"%s/bkg.root\",\"label\":0}],\"params\":{\"epochs\":4,\"batch_size\":100,"
             "\"chunk_size\":2000,\"seed\":3,\"max_jagged_length\":4%s},\"model\":%s}",
             dir, dir, extra, model);
    mlhep_err e;
    jschema *sch;
    if (jschema_load_named(NULL, "workflow", &sch, &e))
        return NULL;
    const char *roots[] = {dir};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf = NULL;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e))
        snprintf(last_error, sizeof last_error, "%s", e.msg);
    jschema_free(sch);
    return wf;
}

static int exists(const char *d, const char *f)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", d, f);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

static double final_auc(const char *d)
{
    char p[600];
    snprintf(p, sizeof p, "%s/metrics.json", d);
    json_error_t je;
    json_t *m = json_load_file(p, 0, &je);
    double auc = json_number_value(json_object_get(json_object_get(m, "final"), "auc"));
    json_decref(m);
    return auc;
}

static const char *MLP = "{\"type\":\"mlp\",\"layers\":[{\"dense\":32,\"activation\":\"relu\"},{\"dropout\":0.1},"
                         "{\"dense\":1,\"activation\":\"sigmoid\"}],\"optimizer\":{\"adam\":{\"lr\":0.003}},"
                         "\"loss\":\"binary_crossentropy\",\"seed\":5}";

static int stop_at_training(void *ctx, const train_progress *p)
{
    (void)ctx;
    return !strcmp(p->phase, "training");
}

TEST(mlp_end_to_end)
{
    workflow *wf = wf_for(MLP, ",\"hist\":\"hist\"");
    CHECK(wf);
    char out[300];
    snprintf(out, sizeof out, "%s/mlp", dir);
    mkdir(out, 0755);
    train_opts o = {.outdir = out};
    mlhep_err e;
    int rc = train_run(wf, &o, &e);
    CHECKF(rc == 0, "%s", e.msg);
    const char *files[] = {"model.mlhep", "model.onnx", "specs.json", "metrics.json", "loss.svg", "auc.svg",
                           "roc.svg", "scores.svg", "hist/nJet.svg", "report.html", "rejection.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECKF(exists(out, files[i]), "%s missing", files[i]);
    double auc = final_auc(out);
    CHECKF(auc > 0.7 && auc < 0.99, "validation AUC %.3f", auc);
    /* the model file carries the features document and loads */
    char p[600];
    snprintf(p, sizeof p, "%s/model.mlhep", out);
    mlp *m;
    char *fj;
    CHECKF(mlp_load_file(p, &m, &fj, &e) == 0, "%s", e.msg);
    json_error_t je;
    json_t *f = json_loads(fj, 0, &je);
    CHECK(f && json_integer_value(json_object_get(f, "width")) > 10);
    CHECK(json_array_size(json_object_get(f, "features")) > 10);
    json_decref(f);
    free(fj);
    mlp_free(m);
    predict_model *pm;
    CHECKF(predict_model_load_file(p, &pm, &e) == 0, "%s", e.msg);
    predict_model_free(pm);
    /* same seed, same result */
    char out2[300];
    snprintf(out2, sizeof out2, "%s/mlp2", dir);
    mkdir(out2, 0755);
    train_opts o2 = {.outdir = out2};
    CHECK(train_run(wf, &o2, &e) == 0);
    CHECK(final_auc(out2) == auc);
    /* cancel through the progress callback */
    char out3[300];
    snprintf(out3, sizeof out3, "%s/mlp3", dir);
    mkdir(out3, 0755);
    train_opts o3 = {.outdir = out3, .progress = stop_at_training};
    CHECK(train_run(wf, &o3, &e) == TRAIN_STOPPED);
    CHECK(!exists(out3, "model.mlhep"));
    workflow_free(wf);
}

/* --- resume (train/checkpoint.h) */

static char *slurp(const char *d, const char *f, size_t *n)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", d, f);
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = b && fread(b, 1, (size_t)len, fp) == (size_t)len ? (size_t)len : 0;
    fclose(fp);
    return b;
}

static int same_file(const char *d1, const char *d2, const char *f)
{
    size_t n1 = 0, n2 = 0;
    char *a = slurp(d1, f, &n1), *b = slurp(d2, f, &n2);
    int same = a && b && n1 == n2 && n1 > 0 && memcmp(a, b, n1) == 0;
    free(a);
    free(b);
    return same;
}

static int stop_epoch; /* stop_after_epoch: stop at the first step of the epoch after it */
static int stop_after_epoch(void *ctx, const train_progress *p)
{
    (void)ctx;
    return p->epoch > stop_epoch;
}

/* the per-epoch figures of two metrics.json agree (all but the seconds) */
static int same_epochs(const char *d1, const char *d2)
{
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/metrics.json", d1);
    snprintf(p2, sizeof p2, "%s/metrics.json", d2);
    json_t *a = json_load_file(p1, 0, NULL), *b = json_load_file(p2, 0, NULL);
    const json_t *ea = json_object_get(a, "epochs"), *eb = json_object_get(b, "epochs");
    int same = json_array_size(ea) > 0 && json_array_size(ea) == json_array_size(eb);
    for (size_t i = 0; same && i < json_array_size(ea); i++) {
        json_t *x = json_deep_copy(json_array_get(ea, i)), *y = json_deep_copy(json_array_get(eb, i));
        json_object_del(x, "seconds");
        json_object_del(y, "seconds");
        same = json_equal(x, y);
        json_decref(x);
        json_decref(y);
    }
    json_decref(a);
    json_decref(b);
    return same;
}

static const char *RESUME_DOC =
    "{\"name\":\"%s\",\"tree\":\"Events\",\"files\":[{\"path\":\"%s/sig.root\",\"label\":1,\"scale\":0.3},"
    "{\"path\":\"%s/bkg.root\",\"label\":0}],\"params\":{\"epochs\":5,\"batch_size\":100,"
    "\"chunk_size\":1500,\"seed\":3,\"max_jagged_length\":4},\"model\":{\"type\":\"mlp\",\"layers\":"
    "[{\"dense\":16,\"activation\":\"relu\"},{\"dropout\":0.2},{\"batchnorm\":{}},{\"dense\":1,"
    "\"activation\":\"sigmoid\"}],\"optimizer\":{\"adam\":{\"lr\":%s}},\"early_stopping\":3,\"seed\":5}}";

static workflow *resume_wf(const char *name, const char *lr)
{
    char doc[4096];
    snprintf(doc, sizeof doc, RESUME_DOC, name, dir, dir, lr);
    return wf_doc(doc);
}

TEST(resume_continues_to_the_same_weights)
{
    /* file scales make the training weights come from the first chunk (the factors a
     * resumed run must find again); dropout and batch norm make the RNG and the running
     * statistics matter; Adam's moments and step count too */
    workflow *wf = resume_wf("r", "0.01"), *other = resume_wf("renamed", "0.02");
    workflow *renamed = resume_wf("renamed", "0.01");
    CHECK(wf && other && renamed);
    char full[300], part[300];
    snprintf(full, sizeof full, "%s/rfull", dir);
    snprintf(part, sizeof part, "%s/rpart", dir);
    mkdir(full, 0755);
    mkdir(part, 0755);
    mlhep_err e;
    train_opts o = {.outdir = full};
    CHECKF(train_run(wf, &o, &e) == 0, "%s", e.msg);
    CHECK(!exists(full, CKPT_FILE)); /* a finished run leaves none */
    /* resuming with no checkpoint: refused (must), or a fresh start (if any) */
    train_opts om = {.outdir = part, .resume = TRAIN_RESUME_MUST};
    CHECK(train_run(wf, &om, &e) == MLHEP_ENOTFOUND && strstr(e.msg, "no checkpoint"));
    /* stopped once epoch 2 is done: the checkpoint stays, with its state */
    stop_epoch = 2;
    train_opts os = {.outdir = part, .progress = stop_after_epoch, .ckpt_note = "{\"job\":\"x\"}"};
    CHECK(train_run(wf, &os, &e) == TRAIN_STOPPED);
    CHECK(exists(part, CKPT_FILE) && !exists(part, "model.mlhep"));
    char cp[600];
    snprintf(cp, sizeof cp, "%s/" CKPT_FILE, part);
    ckpt_info ki;
    CHECKF(ckpt_info_read(cp, &ki, &e) == 0, "%s", e.msg);
    CHECK(ki.epoch == 2 && ki.epochs == 5 && !ki.finished && ki.note && !strcmp(ki.note, "{\"job\":\"x\"}"));
    char key[CKPT_KEY_LEN + 1], key2[CKPT_KEY_LEN + 1], key3[CKPT_KEY_LEN + 1];
    CHECK(ckpt_key(wf, key, &e) == 0 && ckpt_key(other, key2, &e) == 0 && ckpt_key(renamed, key3, &e) == 0);
    CHECK(!strcmp(ki.key, key) && strcmp(key, key2) != 0 && !strcmp(key, key3)); /* the name changes no number */
    ckpt_info_clear(&ki);
    /* the checkpoint is still a model file: the model of epoch 2 */
    mlp *m;
    CHECKF(mlp_load_file(cp, &m, NULL, &e) == 0, "%s", e.msg);
    mlp_free(m);
    /* another workflow's: refused, the checkpoint untouched */
    train_opts oo = {.outdir = part, .resume = TRAIN_RESUME_MUST};
    CHECK(train_run(other, &oo, &e) == MLHEP_EINVAL && strstr(e.msg, "another workflow"));
    CHECK(exists(part, CKPT_FILE));
    /* resumed: the same weights, the same figures for every epoch */
    train_opts orr = {.outdir = part, .resume = TRAIN_RESUME_MUST};
    CHECKF(train_run(wf, &orr, &e) == 0, "%s", e.msg);
    CHECK(!exists(part, CKPT_FILE));
    CHECK(same_file(full, part, "model.mlhep"));
    CHECK(same_file(full, part, "model.onnx"));
    CHECK(same_epochs(full, part));
    /* a corrupt checkpoint: refused with the reason (must), a fresh start (if any) */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/rbad", dir);
    mkdir(bad, 0755);
    stop_epoch = 1;
    train_opts ob = {.outdir = bad, .progress = stop_after_epoch};
    CHECK(train_run(wf, &ob, &e) == TRAIN_STOPPED);
    snprintf(cp, sizeof cp, "%s/" CKPT_FILE, bad);
    FILE *f = fopen(cp, "r+b");
    CHECK(f);
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    train_opts obm = {.outdir = bad, .resume = TRAIN_RESUME_MUST};
    CHECK(train_run(wf, &obm, &e) == MLHEP_EFORMAT && strstr(e.msg, "checksum"));
    train_opts obi = {.outdir = bad, .resume = TRAIN_RESUME_IF_ANY};
    CHECKF(train_run(wf, &obi, &e) == 0, "%s", e.msg);
    CHECK(same_file(full, bad, "model.mlhep")); /* started over: still the same model */
    /* boosted trees keep none */
    workflow *g = wf_for("{\"type\":\"gbdt\",\"trees\":5}", "");
    CHECK(g);
    train_opts og = {.outdir = bad, .resume = TRAIN_RESUME_MUST};
    CHECK(train_run(g, &og, &e) == MLHEP_EINVAL && strstr(e.msg, "boosted trees keep no checkpoint"));
    workflow_free(g);
    workflow_free(wf);
    workflow_free(other);
    workflow_free(renamed);
}

/* Training runs BLAS on one thread per thread of ours (nn_blas_one_thread), whatever
 * it ran on before: checked from the progress callback while the MLP trains on a team
 * of 2; the data-parallel run reproduces with its seed. */
static int blas_seen = -1;
static int note_blas(void *ctx, const train_progress *p)
{
    (void)ctx;
    if (!strcmp(p->phase, "training"))
        blas_seen = openblas_get_num_threads();
    return 0;
}

TEST(one_blas_thread_while_training)
{
    workflow *wf = wf_for(MLP, "");
    CHECK(wf);
    openblas_set_num_threads(2);
    int before = openblas_get_num_threads();
    char out[300], out2[300];
    snprintf(out, sizeof out, "%s/blas", dir);
    snprintf(out2, sizeof out2, "%s/blas2", dir);
    mkdir(out, 0755);
    mkdir(out2, 0755);
    train_opts o = {.outdir = out, .nthreads = 2, .progress = note_blas};
    mlhep_err e;
    CHECKF(train_run(wf, &o, &e) == 0, "%s", e.msg);
    if (before != 2)
        printf("  (OpenBLAS here cannot run 2 threads: it ran %d before training)\n", before);
    CHECKF(blas_seen == 1, "BLAS ran %d threads during training", blas_seen);
    double auc = final_auc(out);
    CHECKF(auc > 0.7 && auc < 0.99, "validation AUC %.3f on 2 threads", auc);
    o.outdir = out2;
    CHECK(train_run(wf, &o, &e) == 0);
    CHECK(final_auc(out2) == auc);
    workflow_free(wf);
}

TEST(gbdt_end_to_end)
{
    workflow *wf = wf_for("{\"type\":\"gbdt\",\"trees\":30,\"depth\":4,\"learning_rate\":0.3}", ",\"training\":\"chunk\"");
    CHECK(wf);
    char out[300];
    snprintf(out, sizeof out, "%s/gbdt", dir);
    mkdir(out, 0755);
    train_opts o = {.outdir = out};
    mlhep_err e;
    CHECKF(train_run(wf, &o, &e) == 0, "%s", e.msg);
    double auc = final_auc(out);
    CHECKF(auc > 0.7 && auc < 0.99, "validation AUC %.3f", auc);
    char p[600];
    snprintf(p, sizeof p, "%s/model.mlhep", out);
    modelfile *mf;
    CHECKF(modelfile_read(p, &mf, &e) == 0, "%s", e.msg);
    size_t n;
    CHECK(modelfile_get(mf, "gbdt", &n) && n > 0);
    CHECK(modelfile_get(mf, "features", &n) && n > 0);
    modelfile_free(mf);
    /* the inference side loads what training wrote */
    predict_model *pm;
    CHECKF(predict_model_load_file(p, &pm, &e) == 0, "%s", e.msg);
    predict_model_free(pm);
    workflow_free(wf);
}

TEST(bad_model_is_refused)
{
    /* refused when the workflow is loaded, before anything is read (test_workflow has
     * every kind of mistake) */
    workflow *wf = wf_for("{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoidd\"}]}", "");
    CHECK(!wf);
    CHECKF(strstr(last_error, "sigmoidd") && strstr(last_error, "did you mean \"sigmoid\""), "%s", last_error);
}

static const char *MLP_SMALL = "{\"type\":\"mlp\",\"layers\":[{\"dense\":16,\"activation\":\"relu\"},"
                               "{\"dense\":1,\"activation\":\"sigmoid\"}],\"optimizer\":{\"adam\":{\"lr\":0.01}},\"seed\":2}";

static double num_at(const json_t *m, const char *a, const char *b)
{
    const json_t *o = json_object_get(m, a);
    return json_number_value(b ? json_object_get(o, b) : o);
}

/* Two planted files: sig (x3 shifted up) and bkg (down), labels 1/0. */
static char pdoc[4096];
static const char *planted_doc(const char *name, const char *params, const char *model)
{
    snprintf(pdoc, sizeof pdoc,
             "{\"name\":\"%s\",\"files\":[{\"path\":\"%s/ps.root\",\"label\":1,\"scale\":0.5},"
             "{\"path\":\"%s/pb.root\",\"label\":0,\"scale\":2}],\"params\":{\"epochs\":4,\"batch_size\":64,"
             "\"chunk_size\":1500,\"seed\":5,\"exclude_branches\":[\"w\",\"t\",\"c\"]%s},\"model\":%s}",
             name, dir, dir, params, model);
    return pdoc;
}

TEST(weights_splits_and_end_of_epoch_figures)
{
    mlhep_err e;
    int rc;
    json_t *m = run_doc(planted_doc("w", ",\"weight\":\"w\",\"test_fraction\":0.25", MLP_SMALL), "w", &rc, &e);
    CHECKF(m, "%s", rc ? e.msg : last_error);
    /* the splits: every row somewhere, 25% test, weights as the file scale times w
     * with the negative ones at zero */
    const json_t *sp = json_object_get(m, "splits");
    double rows = 0, sw = 0;
    static const char *names[] = {"train", "validation", "test"};
    for (int i = 0; i < 3; i++) {
        rows += num_at(sp, names[i], "rows");
        sw += num_at(sp, names[i], "sum_weights");
    }
    CHECKF(rows == 6000, "%g rows", rows);
    CHECKF(num_at(sp, "test", "rows") > 1300 && num_at(sp, "test", "rows") < 1700, "%g", num_at(sp, "test", "rows"));
    /* sum of weights: 3000 x 0.5 x E[w+] + 3000 x 2 x E[w+], E[w+] = 0.95 x (0.25 + 1.75 x 0.525) */
    CHECKF(fabs(sw - 7500 * 0.95 * (0.25 + 1.75 * 0.525)) < 250, "sum of weights %g", sw);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(m, "weights"), "expression")), "w"));
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(m, "final"), "set")), "test"));
    /* the last epoch's validation figures are the final model's */
    const json_t *ep = json_object_get(m, "epochs");
    CHECK(json_array_size(ep) == 4);
    double last = json_number_value(json_object_get(json_array_get(ep, 3), "val_auc"));
    CHECKF(last == num_at(m, "validation", "auc"), "last epoch %.10f, final model on validation %.10f", last,
           num_at(m, "validation", "auc"));
    CHECKF(num_at(m, "final", "auc") > 0.8, "test AUC %g", num_at(m, "final", "auc"));
    /* overtraining check, working points, ranking: the planted x3 first */
    const json_t *ot = json_object_get(json_object_get(m, "overtraining"), "classes");
    CHECK(json_array_size(ot) == 2);
    for (size_t i = 0; i < 2; i++) {
        double p = json_number_value(json_object_get(json_array_get(ot, i), "ks_pvalue"));
        CHECKF(p >= 0 && p <= 1, "KS p %g", p);
    }
    const json_t *wp = json_object_get(json_object_get(m, "final"), "working_points");
    CHECK(json_array_size(wp) == 2);
    double e1 = json_number_value(json_object_get(json_array_get(wp, 0), "signal_efficiency"));
    double e10 = json_number_value(json_object_get(json_array_get(wp, 1), "signal_efficiency"));
    CHECKF(e1 > 0 && e1 < e10 && e10 <= 1, "%g %g", e1, e10);
    const json_t *rk = json_object_get(m, "ranking");
    CHECK(!strcmp(json_string_value(json_object_get(rk, "method")), "permutation"));
    CHECKF(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(rk, "features"), 0), "name")), "x3"),
           "first: %s", json_string_value(json_object_get(json_array_get(json_object_get(rk, "features"), 0), "name")));
    const json_t *co = json_object_get(m, "correlations");
    CHECK(json_array_size(json_object_get(co, "classes")) == 2);
    json_decref(m);
    char p[600];
    static const char *files[] = {"report.html", "roc.svg", "rejection.svg", "overtraining.svg", "ranking.svg",
                                  "scores.svg", "loss.svg", "auc.svg", "confusion.svg", "scores_test.npy",
                                  "scores_train_sample.npy", "model.mlhep"};
    snprintf(p, sizeof p, "%s/w", dir);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECKF(exists(p, files[i]), "%s missing", files[i]);
}

TEST(gbdt_gain_ranks_the_planted_feature_first)
{
    mlhep_err e;
    int rc;
    json_t *m = run_doc(planted_doc("g", "", "{\"type\":\"gbdt\",\"trees\":20,\"depth\":3}"), "g", &rc, &e);
    CHECKF(m, "%s", rc ? e.msg : last_error);
    const json_t *rk = json_object_get(m, "ranking");
    CHECK(!strcmp(json_string_value(json_object_get(rk, "method")), "gain"));
    const json_t *f0 = json_array_get(json_object_get(rk, "features"), 0);
    CHECK(!strcmp(json_string_value(json_object_get(f0, "name")), "x3"));
    CHECKF(json_number_value(json_object_get(f0, "importance")) > 0.5, "x3's gain share %g",
           json_number_value(json_object_get(f0, "importance")));
    CHECK(json_number_value(json_object_get(f0, "cover")) > 0 && json_number_value(json_object_get(f0, "splits")) > 0);
    json_decref(m);
}

TEST(multiclass_for_mlp_and_gbdt)
{
    static const char *models[] = {
        "{\"type\":\"mlp\",\"layers\":[{\"dense\":16,\"activation\":\"relu\"},{\"dense\":3,\"activation\":\"softmax\"}],"
        "\"optimizer\":{\"adam\":{\"lr\":0.01}}}",
        "{\"type\":\"gbdt\",\"trees\":15,\"depth\":3}"};
    for (int k = 0; k < 2; k++) {
        char doc[2048], sub[16];
        snprintf(doc, sizeof doc,
                 "{\"name\":\"mc\",\"files\":[{\"path\":\"%s/m0.root\",\"label\":\"left\"},"
                 "{\"path\":\"%s/m1.root\",\"label\":\"middle\"},{\"path\":\"%s/m2.root\",\"label\":\"right\"}],"
                 "\"params\":{\"epochs\":3,\"chunk_size\":1000,\"exclude_branches\":[\"w\",\"t\",\"c\"]},\"model\":%s}",
                 dir, dir, dir, models[k]);
        snprintf(sub, sizeof sub, "mc%d", k);
        mlhep_err e;
        int rc;
        json_t *m = run_doc(doc, sub, &rc, &e);
        CHECKF(m, "%s", rc ? e.msg : last_error);
        CHECK(!strcmp(json_string_value(json_object_get(m, "task")), "multiclass"));
        const json_t *fin = json_object_get(m, "final");
        CHECK(json_array_size(json_object_get(fin, "per_class")) == 3);
        CHECK(json_array_size(json_object_get(fin, "confusion_matrix")) == 3);
        CHECKF(num_at(m, "final", "auc") > 0.8, "mean one-vs-rest AUC %g", num_at(m, "final", "auc"));
        CHECK(json_array_size(json_object_get(json_object_get(m, "overtraining"), "classes")) == 3);
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, sub);
        CHECK(exists(p, "confusion.svg") && exists(p, "roc.svg") && exists(p, "scores_1.svg") &&
              exists(p, "overtraining_2.svg") && exists(p, "report.html"));
        /* the model file serves three class probabilities */
        snprintf(p, sizeof p, "%s/%s/model.mlhep", dir, sub);
        predict_model *pm;
        CHECKF(predict_model_load_file(p, &pm, &e) == 0, "%s", e.msg);
        CHECK(predict_model_outputs(pm) == 3);
        predict_model_free(pm);
        json_decref(m);
    }
}

TEST(regression_for_mlp_and_gbdt)
{
    static const char *models[] = {
        "{\"type\":\"mlp\",\"layers\":[{\"dense\":16,\"activation\":\"relu\"},{\"dense\":1}],\"loss\":\"mse\","
        "\"optimizer\":{\"adam\":{\"lr\":0.01}}}",
        "{\"type\":\"gbdt\",\"objective\":\"regression\",\"trees\":40,\"depth\":4}"};
    for (int k = 0; k < 2; k++) {
        char doc[2048], sub[16];
        snprintf(doc, sizeof doc,
                 "{\"name\":\"reg\",\"files\":[\"%s/ps.root\",\"%s/pb.root\"],\"labels\":\"t\","
                 "\"params\":{\"epochs\":6,\"chunk_size\":-1,\"normalisation\":\"standard\","
                 "\"exclude_branches\":[\"w\",\"c\"]},\"model\":%s}", dir, dir, models[k]);
        snprintf(sub, sizeof sub, "reg%d", k);
        mlhep_err e;
        int rc;
        json_t *m = run_doc(doc, sub, &rc, &e);
        CHECKF(m, "%s", rc ? e.msg : last_error);
        CHECK(!strcmp(json_string_value(json_object_get(m, "task")), "regression"));
        /* t = 2 x1 + x2 + 0.3 x0 has variance 5.09: a model explains most of it */
        CHECKF(num_at(m, "final", "mse") < 1.5, "test MSE %g", num_at(m, "final", "mse"));
        CHECK(num_at(m, "final", "mae") > 0 && fabs(num_at(m, "final", "residual_mean")) < 0.5);
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, sub);
        CHECK(exists(p, "resolution.svg") && exists(p, "pred_vs_true.svg") && exists(p, "overtraining.svg"));
        const json_t *f0 = json_array_get(json_object_get(json_object_get(m, "ranking"), "features"), 0);
        CHECKF(!strcmp(json_string_value(json_object_get(f0, "name")), "x1"), "first: %s",
               json_string_value(json_object_get(f0, "name")));
        json_decref(m);
    }
}

TEST(one_class_refused_imbalance_warned)
{
    /* labels from a branch that holds one class only: refused after the first pass */
    char doc[2048];
    snprintf(doc, sizeof doc,
             "{\"name\":\"one\",\"files\":[\"%s/ps.root\"],\"labels\":\"c\",\"params\":{\"epochs\":1,"
             "\"exclude_branches\":[\"w\",\"t\"]},\"model\":%s}", dir, MLP_SMALL);
    mlhep_err e;
    int rc;
    json_t *m = run_doc(doc, "one", &rc, &e);
    CHECK(!m && rc < 0);
    CHECKF(strstr(e.msg, "one class only"), "%s", e.msg);
    /* 1:20: a warning, and with balance_classes none and equal class sums in training */
    snprintf(doc, sizeof doc,
             "{\"name\":\"imb\",\"files\":[{\"path\":\"%s/ps.root\",\"label\":1,\"scale\":0.05},"
             "{\"path\":\"%s/pb.root\",\"label\":0}],\"params\":{\"epochs\":1,"
             "\"exclude_branches\":[\"w\",\"t\",\"c\"]%%s},\"model\":%s}", dir, dir, MLP_SMALL);
    char d2[2100];
    snprintf(d2, sizeof d2, doc, "");
    m = run_doc(d2, "imb0", &rc, &e);
    CHECKF(m, "%s", e.msg);
    const json_t *w = json_object_get(m, "warnings");
    CHECKF(json_array_size(w) == 1 && strstr(json_string_value(json_array_get(w, 0)), "classes are imbalanced"), "%s",
           json_string_value(json_array_get(w, 0)));
    json_decref(m);
    snprintf(d2, sizeof d2, doc, ",\"balance_classes\":true");
    m = run_doc(d2, "imb1", &rc, &e);
    CHECKF(m, "%s", e.msg);
    CHECK(json_array_size(json_object_get(m, "warnings")) == 0);
    const json_t *tf = json_object_get(json_object_get(m, "weights"), "training_factors");
    const json_t *cl = json_object_get(json_object_get(json_object_get(m, "splits"), "train"), "classes");
    double s0 = json_number_value(json_object_get(json_array_get(cl, 0), "sum_weights")) *
                json_number_value(json_array_get(tf, 0));
    double s1 = json_number_value(json_object_get(json_array_get(cl, 1), "sum_weights")) *
                json_number_value(json_array_get(tf, 1));
    CHECKF(fabs(s0 - s1) < 1e-6 * s0, "balanced class sums %g %g", s0, s1);
    json_decref(m);
}

/* The submitter's input checks (check_local 0): run where the inputs are visible, left to
 * the worker otherwise - remote inputs, data roots or files absent here. */
TEST(submitter_checks_inputs_it_can_see)
{
    static const char *cases[][3] = {
        /* files, exclude_branches, data roots: the expected outcome in the name */
        {"[{\"path\":\"ps.root\",\"label\":1},{\"path\":\"pb.root\",\"label\":0}]", "\"x3\",\"ww\"", "refused"},
        {"[{\"path\":\"ps.root\",\"label\":1},{\"path\":\"pb.root\",\"label\":0}]", "\"x3\",\"w\"", "passes"},
        {"[{\"path\":\"ps.root\",\"label\":1},{\"path\":\"root://host.invalid//pb.root\",\"label\":0}]",
         "\"x3\",\"ww\"", "remote: the worker's"},
        {"[{\"path\":\"nothere.root\",\"label\":1},{\"path\":\"pb.root\",\"label\":0}]", "\"ww\"",
         "not here: the worker's"},
    };
    char roots[600];
    snprintf(roots, sizeof roots, "%s", dir);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char doc[2048];
        snprintf(doc, sizeof doc, "{\"name\":\"v\",\"files\":%s,\"params\":{\"exclude_branches\":[%s]},"
                 "\"model\":{\"type\":\"gbdt\"}}", cases[k][0], cases[k][1]);
        json_t *j = json_loads(doc, 0, NULL);
        pipeline_env *env = NULL;
        mlhep_err e;
        CHECK(j && pipeline_env_open(NULL, roots, 0, 0, &env, &e) == 0);
        if (!j || !env)
            continue;
        CHECKF(pipeline_validate(j, env, NULL, &e) == 0, "%s: %s", cases[k][2], e.msg);
        int rc = pipeline_check_inputs_if_visible(j, env, &e);
        if (k == 0)
            CHECKF(rc == MLHEP_ENOTFOUND && strstr(e.msg, "'ww' matches no branch") && strstr(e.msg, "did you mean 'w'"),
                   "rc %d: %s", rc, e.msg);
        else
            CHECKF(rc == 0, "%s: rc %d %s", cases[k][2], rc, e.msg);
        pipeline_env_free(env);
        json_decref(j);
    }
    /* the data roots absent on this machine: the worker's */
    pipeline_env *env = NULL;
    mlhep_err e;
    json_t *j = json_loads("{\"name\":\"v\",\"files\":[{\"path\":\"ps.root\",\"label\":1},"
                           "{\"path\":\"pb.root\",\"label\":0}],\"params\":{\"exclude_branches\":[\"ww\"]},"
                           "\"model\":{\"type\":\"gbdt\"}}", 0, NULL);
    CHECK(j && pipeline_env_open(NULL, "/nonexistent/mlhep-data", 0, 0, &env, &e) == 0);
    if (j && env)
        CHECKF(pipeline_check_inputs_if_visible(j, env, &e) == 0, "%s", e.msg);
    pipeline_env_free(env);
    json_decref(j);
}

int main(void)
{
    if (make_inputs()) {
        printf("FAIL cannot generate inputs\n");
        return 1;
    }
    RUN(mlp_end_to_end);
    RUN(one_blas_thread_while_training);
    RUN(gbdt_end_to_end);
    RUN(bad_model_is_refused);
    RUN(resume_continues_to_the_same_weights);
    if (write_planted("ps.root", 3000, 1.0, 0, 1, 21) || write_planted("pb.root", 3000, -1.0, 0, 0, 22) ||
        write_planted("m0.root", 2000, 0, -2.0, 0, 23) || write_planted("m1.root", 2000, 0, 0, 1, 24) ||
        write_planted("m2.root", 2000, 0, 2.0, 2, 25)) {
        printf("FAIL cannot write the planted files\n");
        return 1;
    }
    RUN(weights_splits_and_end_of_epoch_figures);
    RUN(gbdt_gain_ranks_the_planted_feature_first);
    RUN(multiclass_for_mlp_and_gbdt);
    RUN(regression_for_mlp_and_gbdt);
    RUN(one_class_refused_imbalance_warned);
    RUN(submitter_checks_inputs_it_can_see);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", dir);
    return test_summary();
}

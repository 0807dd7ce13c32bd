/* test_train.c - the training driver end to end on generated ttH-like files: an MLP and
 * boosted trees reach a sensible AUC, every artifact is written, the model file
 * predicts what the trained model predicted, seeds reproduce, cancel stops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root/evgen.h"
#include "base/jsonschema.h"
#include "model/mlp.h"
#include "model/modelfile.h"
#include "infer/predict.h"
#include "test.h"
#include "train/train.h"
#include "service/workflow.h"

static char dir[256];
static char last_error[MLHEP_ERR_MAX]; /* of the last workflow wf_for refused */

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
                           "roc.svg", "scores.svg", "hist/nJet.svg"};
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

int main(void)
{
    if (make_inputs()) {
        printf("FAIL cannot generate inputs\n");
        return 1;
    }
    RUN(mlp_end_to_end);
    RUN(gbdt_end_to_end);
    RUN(bad_model_is_refused);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", dir);
    return test_summary();
}

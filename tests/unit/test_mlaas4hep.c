/* test_mlaas4hep.c - MLaaS4HEP's inputs -> workflow (service/mlaas4hep.h): list files
 * line by line ('#' lines, blank lines, CRLF and blanks around entries), comma lists,
 * labels as numbers, class names or a label branch, params.json taken from the current
 * directory when not given, preproc.json, model.py or a .json model; the workflow built
 * loads with workflow.h; every refusal names the flag and the file. */
#include "service/mlaas4hep.h"
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/workflow.h"

static char T[] = "/tmp/mlhep-test-m4h.XXXXXX";
static jschema *schema;

static void put(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", T, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char *path(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", T, name);
    return p[k];
}

static const char *MODEL = "from tensorflow import keras\n"
                           "def model(idim):\n"
                           "    m = keras.Sequential([keras.layers.Dense(8, activation='relu'),\n"
                           "                          keras.layers.Dense(1, activation='sigmoid')])\n"
                           "    m.compile(optimizer='adam', loss='binary_crossentropy')\n"
                           "    return m\n";

static int builds(const mlaas4hep_args *a, json_t **doc)
{
    mlhep_err e;
    int rc = mlaas4hep_workflow(a, doc, &e);
    if (rc)
        printf("  %s\n", e.msg);
    return rc == 0;
}

static int refused(const mlaas4hep_args *a, int code, const char *what)
{
    json_t *doc = NULL;
    mlhep_err e;
    int rc = mlaas4hep_workflow(a, &doc, &e);
    int ok = rc == code && !doc && strstr(e.msg, what);
    if (!ok)
        printf("  rc %d (want %d): %s (want '%s')\n", rc, code, rc ? e.msg : "(built)", what);
    json_decref(doc);
    return ok;
}

TEST(files_and_labels_line_by_line)
{
    put("files.txt", "# the inputs\r\n  a.root  \r\n\r\n\tb.root\r\n# end\r\n");
    put("labels.txt", "1\n\n0\n");
    put("model.py", MODEL);
    put("params.json", "{\"epochs\": 3, \"redirector\": \"\", \"identifier\": \"\", \"branch\": \"events\"}");
    put("preproc.json", "{\"flat_cut\": {\"NJet\": {\"cut\": \"NJet>=1\", \"remove\": \"False\"}}}");
    put("a.root", "x");
    put("b.root", "x");
    mlaas4hep_args a = {path("files.txt"), path("labels.txt"), path("model.py"), path("params.json"),
                        path("preproc.json"), NULL};
    json_t *doc = NULL;
    CHECK(builds(&a, &doc));
    json_t *want = json_pack("{s:s, s:[s,s], s:[i,i]}", "name", "model", "files", "a.root", "b.root", "labels", 1, 0);
    CHECK(json_equal(json_object_get(doc, "files"), json_object_get(want, "files")));
    CHECK(json_equal(json_object_get(doc, "labels"), json_object_get(want, "labels")));
    CHECK(json_equal(json_object_get(doc, "name"), json_object_get(want, "name")));
    json_decref(want);
    CHECK(json_integer_value(json_object_get(json_object_get(doc, "params"), "epochs")) == 3);
    CHECK(json_is_object(json_object_get(json_object_get(doc, "preproc"), "flat_cut")));
    const json_t *m = json_object_get(doc, "model");
    CHECK(!strcmp(json_string_value(json_object_get(m, "type")), "mlp") && json_array_size(json_object_get(m, "layers")) == 2);
    CHECK(strstr(json_string_value(json_object_get(doc, "description")), "--files"));
    /* what mlhep-run does next: the workflow loads, its files under the data root */
    const char *roots[] = {T};
    wf_opts o = {.schema = schema, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *w = NULL;
    mlhep_err e;
    CHECKF(workflow_load_json(doc, &o, &w, &e) == 0, "%s", e.msg);
    CHECK(w->nfiles == 2 && w->files[0].label == 1 && w->files[1].label == 0 && !strcmp(w->tree, "events"));
    CHECK(w->params.epochs == 3 && w->params.redirector[0] == '\0' && w->preproc && w->model);
    workflow_free(w);
    json_decref(doc);
}

TEST(comma_lists_names_and_branches)
{
    json_t *doc = NULL;
    mlaas4hep_args a = {"a.root, b.root", "signal,background", path("model.py"), NULL, NULL, "my-job"};
    CHECK(builds(&a, &doc));
    CHECK(!strcmp(json_string_value(json_object_get(doc, "name")), "my-job"));
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(doc, "files"), 1)), "b.root"));
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(doc, "labels"), 0)), "signal"));
    json_decref(doc);
    /* one name: the branch holding each event's label; one number: a list of one */
    mlaas4hep_args b = {"a.root,b.root", "is_signal", path("model.py"), NULL, NULL, NULL};
    CHECK(builds(&b, &doc));
    CHECK(!strcmp(json_string_value(json_object_get(doc, "labels")), "is_signal"));
    json_decref(doc);
    mlaas4hep_args c = {"a.root", "1", path("model.py"), NULL, NULL, NULL};
    CHECK(builds(&c, &doc));
    CHECK(json_integer_value(json_array_get(json_object_get(doc, "labels"), 0)) == 1);
    CHECK(json_array_size(json_object_get(doc, "files")) == 1);
    json_decref(doc);
    /* a model document in JSON; a name from an odd file name */
    put("gbdt model.v2.json", "{\"type\": \"gbdt\", \"trees\": 5}");
    mlaas4hep_args d = {"a.root", "1", path("gbdt model.v2.json"), NULL, NULL, NULL};
    CHECK(builds(&d, &doc));
    CHECK(!strcmp(json_string_value(json_object_get(doc, "name")), "gbdt_model"));
    CHECK(json_integer_value(json_object_get(json_object_get(doc, "model"), "trees")) == 5);
    json_decref(doc);
}

TEST(params_json_from_the_current_directory)
{
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(T) == 0);
    json_t *doc = NULL;
    mlaas4hep_args a = {"a.root", "1", "model.py", NULL, NULL, NULL};
    int ok = builds(&a, &doc) && json_integer_value(json_object_get(json_object_get(doc, "params"), "epochs")) == 3;
    json_decref(doc);
    doc = NULL;
    unlink("params.json");
    ok = ok && builds(&a, &doc) && !json_object_get(doc, "params");
    json_decref(doc);
    put("params.json", "{\"epochs\": 3, \"redirector\": \"\", \"identifier\": \"\", \"branch\": \"events\"}");
    CHECK(chdir(cwd) == 0);
    CHECK(ok);
}

TEST(refusals_name_flag_and_file)
{
    put("empty.txt", "# nothing\n\n");
    mlaas4hep_args b = {path("empty.txt"), "1", path("model.py"), NULL, NULL, NULL};
    CHECK(refused(&b, MLHEP_EINVAL, "empty.txt: no entries"));
    mlaas4hep_args c = {"a.root,,b.root", "1,0", path("model.py"), NULL, NULL, NULL};
    CHECK(refused(&c, MLHEP_EINVAL, "--files: entry 2 of the comma-separated list is empty"));
    mlaas4hep_args d = {"a.root", "1", path("missing.py"), NULL, NULL, NULL};
    CHECK(refused(&d, MLHEP_ENOTFOUND, "--model "));
    put("bad.json", "{\"epochs\": 3,\n \"oops\" }");
    mlaas4hep_args f = {"a.root", "1", path("model.py"), path("bad.json"), NULL, NULL};
    CHECK(refused(&f, MLHEP_EINVAL, "bad.json:2:"));
    put("list.json", "[1, 2]");
    mlaas4hep_args g = {"a.root", "1", path("model.py"), NULL, path("list.json"), NULL};
    CHECK(refused(&g, MLHEP_EINVAL, "--preproc ") && refused(&g, MLHEP_EINVAL, "expected a JSON object"));
    put("conv.py", "from keras import layers, Sequential\nm = Sequential()\nm.add(layers.Conv1D(3, 2))\n");
    mlaas4hep_args h = {"a.root", "1", path("conv.py"), NULL, NULL, NULL};
    CHECK(refused(&h, MLHEP_EUNSUPPORTED, "conv.py:3: Conv1D is not supported"));
    put("ctl.txt", "a.root\nb\x01.root\n");
    mlaas4hep_args k = {path("ctl.txt"), "1,0", path("model.py"), NULL, NULL, NULL};
    CHECK(refused(&k, MLHEP_EINVAL, "line 2: control character"));
    mlaas4hep_args l = {"a.root", NULL, path("model.py"), NULL, NULL, NULL};
    CHECK(refused(&l, MLHEP_EINVAL, "need --files, --labels and --model"));
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!mkdtemp(T))
        return 1;
    mlhep_err e;
    if (jschema_load_named(NULL, "workflow", &schema, &e)) {
        printf("FAIL %s: schema: %s\n", __FILE__, e.msg);
        return 1;
    }
    RUN(files_and_labels_line_by_line);
    RUN(comma_lists_names_and_branches);
    RUN(params_json_from_the_current_directory);
    RUN(refusals_name_flag_and_file);
    jschema_free(schema);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", T);
    if (system(cmd) != 0)
        printf("could not remove %s\n", T);
    return test_summary();
}

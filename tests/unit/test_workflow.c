/* test_workflow.c - workflow loading: both file-list forms, params defaults, the
 * redirector rule (an empty redirector too), a model named by file (a hint), and every refusal of a local path that would leave the data roots
 * ("..", symlinks out, absolute paths elsewhere, /etc/shadow), each with its message.
 * Also the places where a rule has to be written twice (the schema for submitters, C for
 * the library that enforces it again): each pair is checked to agree, so they cannot
 * drift apart; and the defaults, written in the schema only, are checked to be values
 * the schema itself accepts. */
#include "service/workflow.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/featmap.h"
#include "model/gbdt.h"
#include "model/mlp.h"
#include "model/nncore.h"

static char T[] = "/tmp/mlhep-test-wf.XXXXXX";
static char DATA[256], DATA2[256], OUT[256], ROOTLINK[256];
static jschema *schema;

static void touch(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("root\n", f);
        fclose(f);
    }
}

static void setup(void)
{
    char p[512];
    if (!mkdtemp(T))
        exit(1);
    snprintf(DATA, sizeof DATA, "%s/data", T);
    snprintf(DATA2, sizeof DATA2, "%s/data2", T);
    snprintf(OUT, sizeof OUT, "%s/outside", T);
    snprintf(ROOTLINK, sizeof ROOTLINK, "%s/rootlink", T);
    mkdir(DATA, 0755);
    mkdir(DATA2, 0755);
    mkdir(OUT, 0755);
    snprintf(p, sizeof p, "%s/sub", DATA);
    mkdir(p, 0755);
    touch(DATA, "a.root");
    touch(DATA, "b.root");
    touch(p, "c.root");
    touch(DATA2, "d.root");
    touch(OUT, "x.root");
    touch(OUT, "c.root");
    snprintf(p, sizeof p, "%s/dir.root", DATA);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/link_in.root", DATA);
    if (symlink("sub/c.root", p)) {}
    snprintf(p, sizeof p, "%s/link_out.root", DATA);
    if (symlink("../outside/x.root", p)) {}
    snprintf(p, sizeof p, "%s/shadow_link", DATA);
    if (symlink("/etc/shadow", p)) {}
    snprintf(p, sizeof p, "%s/etc_dir", DATA);
    if (symlink("/etc", p)) {}
    snprintf(p, sizeof p, "%s/pipe.root", DATA);
    mkfifo(p, 0644);
    if (symlink(DATA, ROOTLINK)) {}
}

static wf_opts opts(int check)
{
    static const char *roots[2];
    roots[0] = DATA;
    roots[1] = DATA2;
    wf_opts o = {.schema = schema, .data_roots = roots, .n_data_roots = 2, .check_local = check};
    return o;
}

/* Loads text with options; returns rc, fills *w (caller frees) and e. */
static int load(const char *text, const wf_opts *o, workflow **w, mlhep_err *e)
{
    err_clear(e);
    *w = NULL;
    return workflow_load_buffer(text, strlen(text), o, w, e);
}

/* Expects refusal with code and message substring. */
static int refuse(const char *text, const wf_opts *o, int code, const char *msg)
{
    workflow *w;
    mlhep_err e;
    int rc = load(text, o, &w, &e);
    if (rc == 0) {
        printf("  accepted: %s\n", text);
        workflow_free(w);
        return 0;
    }
    if (rc != code || !strstr(e.msg, msg)) {
        printf("  %s\n  -> rc %d (want %d) msg \"%s\" (want \"%s\")\n", text, rc, code, e.msg, msg);
        return 0;
    }
    return 1;
}

static char doc[8192];
/* One-file workflow in the objects form with the given path. */
static const char *one(const char *path)
{
    snprintf(doc, sizeof doc, "{\"name\":\"t\",\"files\":[{\"path\":\"%s\",\"label\":1}]}", path);
    return doc;
}

TEST(objects_form_all_path_kinds)
{
    char text[4096], rp[4096];
    snprintf(text, sizeof text,
             "{\"name\":\"HZZ\",\"files\":["
             "{\"path\":\"a.root\",\"label\":1},"
             "{\"path\":\"%s/sub//./c.root\",\"label\":0},"
             "{\"path\":\"d.root\",\"label\":0},"
             "{\"path\":\"root://eospublic.cern.ch//eos/opendata/x.root\",\"label\":1},"
             "{\"path\":\"https://example.org/f/zz.root\",\"label\":0},"
             "{\"path\":\"/store/mc/ttH/x.root\",\"label\":1},"
             "{\"path\":\"b.root\",\"label\":2}],"
             "\"tree\":\"events\",\"params\":{\"epochs\":3,\"redirector\":\"root://xrd.example:1094//\"},"
             "\"preproc\":{\"flat_cut\":{\"MET\":{\"cut\":\"MET>10\"}}},"
             "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1}]}}", DATA);
    wf_opts o = opts(1);
    workflow *w;
    mlhep_err e;
    CHECKF(load(text, &o, &w, &e) == 0, "%s", e.msg);
    CHECK(strcmp(w->name, "HZZ") == 0 && strcmp(w->tree, "events") == 0);
    CHECK_EQ_INT(w->nfiles, 7);
    CHECK(realpath(DATA, rp));
    char want[4200];
    snprintf(want, sizeof want, "%s/a.root", rp);
    CHECKF(strcmp(w->files[0].path, want) == 0, "%s", w->files[0].path);
    CHECK(w->files[0].kind == WF_LOCAL && w->files[0].label == 1);
    snprintf(want, sizeof want, "%s/sub/c.root", rp);
    CHECKF(strcmp(w->files[1].path, want) == 0, "%s", w->files[1].path);
    CHECK(strstr(w->files[2].path, "/data2/d.root") != NULL); /* second root */
    CHECK(w->files[3].kind == WF_XROOTD && strcmp(w->files[3].path, w->files[3].given) == 0);
    CHECK(w->files[4].kind == WF_HTTP);
    CHECKF(strcmp(w->files[5].path, "root://xrd.example:1094//store/mc/ttH/x.root") == 0, "%s",
           w->files[5].path);
    CHECK(w->files[5].kind == WF_XROOTD && strcmp(w->files[5].given, "/store/mc/ttH/x.root") == 0);
    CHECK(w->files[6].label == 2 && strstr(w->files[6].path, "/data/b.root") != NULL);
    CHECK_EQ_INT(w->nclasses, 3);
    CHECK(w->class_names == NULL && w->label_branch == NULL);
    CHECK(w->params.epochs == 3);
    CHECK(json_is_object(w->preproc) && json_is_object(w->model));
    CHECK(strcmp(json_string_value(json_object_get(w->model, "type")), "mlp") == 0);
    workflow_free(w);
}

TEST(link_inside_root_is_the_same_file)
{
    /* link_in.root -> sub/c.root: accepted alone, but listing both is a duplicate */
    char text[1024];
    wf_opts o = opts(1);
    snprintf(text, sizeof text, "{\"name\":\"t\",\"files\":[{\"path\":\"sub/c.root\",\"label\":0},"
             "{\"path\":\"link_in.root\",\"label\":1}]}");
    CHECK(refuse(text, &o, MLHEP_EINVAL, "workflow: /files/1: 'link_in.root' is the same file as /files/0"));
    workflow *w;
    mlhep_err e;
    CHECKF(load(one("link_in.root"), &o, &w, &e) == 0, "%s", e.msg);
    CHECK(strstr(w->files[0].path, "/sub/c.root") != NULL);
    workflow_free(w);
}

TEST(parallel_form_mlaas4hep)
{
    const char *text = "{\"name\":\"ttH\",\"files\":[\"a.root\",\"b.root\",\"sub/c.root\"],"
                       "\"labels\":[\"signal\",\"background\",\"signal\"],"
                       "\"params\":{\"branch\":\"Events\",\"identifier\":\"run, event\","
                       "\"exclude_branches\":\"Muon_Charge,, Jet_btag ,\",\"selected_branches\":[],"
                       "\"hist\":\"pdfs\",\"shuffle\":0,\"verbose\":true,\"split\":0.3,"
                       "\"training\":\"chunk\",\"normalisation\":\"standard\","
                       "\"branch_max_length\":{\"Jet_pt\":6},\"max_jagged_length\":20,"
                       "\"nan\":-999,\"metrics\":{\"threshold\":0.7},\"seed\":7,"
                       "\"validation_fraction\":0.25,\"nevts\":5000,\"chunk_size\":-1}}";
    wf_opts o = opts(1);
    workflow *w;
    mlhep_err e;
    CHECKF(load(text, &o, &w, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(w->nfiles, 3);
    CHECK_EQ_INT(w->nclasses, 2);
    CHECK(strcmp(w->class_names[0], "signal") == 0 && strcmp(w->class_names[1], "background") == 0);
    CHECK(w->files[0].label == 0 && w->files[1].label == 1 && w->files[2].label == 0);
    CHECK(strcmp(w->tree, "Events") == 0);
    const wf_params *p = &w->params;
    CHECK(p->n_identifier == 2 && !p->identifier_is_default);
    CHECK(strcmp(p->identifier[0], "run") == 0 && strcmp(p->identifier[1], "event") == 0);
    CHECK_EQ_INT(p->n_exclude, 2);
    CHECK(strcmp(p->exclude_branches[0], "Muon_Charge") == 0 && strcmp(p->exclude_branches[1], "Jet_btag") == 0);
    CHECK(p->n_selected == 0);
    CHECK(p->hist && strcmp(p->hist, "pdfs") == 0);
    CHECK(p->shuffle == 0 && p->verbose == 1);
    CHECK(p->training == WF_TRAIN_CHUNK && p->normalisation == DP_NORM_STANDARD);
    CHECK(p->n_branch_max_length == 1 && p->branch_max_length[0].max_length == 6);
    CHECK(strcmp(p->branch_max_length[0].branch, "Jet_pt") == 0 && p->max_jagged_length == 20);
    CHECK(p->nan_value == -999 && p->metrics && p->metrics_threshold == 0.7);
    CHECK(p->seed == 7 && p->validation_fraction == 0.25 && p->nevts == 5000 && p->chunk_size == -1);
    workflow_free(w);

    /* labels from a branch */
    CHECKF(load("{\"name\":\"m\",\"files\":[\"a.root\",\"b.root\"],\"labels\":\"is_signal\"}", &o,
                &w, &e) == 0, "%s", e.msg);
    CHECK(w->label_branch && strcmp(w->label_branch, "is_signal") == 0);
    CHECK(w->files[0].label == -1 && w->nclasses == 0);
    workflow_free(w);
}

TEST(mlaas4hep_defaults)
{
    wf_opts o = opts(1);
    workflow *w;
    mlhep_err e;
    CHECKF(load(one("a.root"), &o, &w, &e) == 0, "%s", e.msg);
    const wf_params *p = &w->params;
    CHECK(p->nevts == -1 && p->chunk_size == 1000 && p->epochs == 10 && p->batch_size == 50);
    CHECK(p->shuffle == 1 && p->verbose == 0 && p->hist == NULL);
    CHECK(p->n_identifier == 3 && p->identifier_is_default);
    CHECK(strcmp(p->identifier[0], "run") == 0 && strcmp(p->identifier[1], "event") == 0 &&
          strcmp(p->identifier[2], "luminosityBlock") == 0);
    CHECK(strcmp(p->redirector, "root://cms-xrd-global.cern.ch") == 0);
    CHECK(strcmp(w->tree, "Events") == 0);
    CHECK(p->training == WF_TRAIN_STANDARD && p->normalisation == DP_NORM_MINMAX);
    CHECK(p->validation_fraction == 0.2 && p->seed == 21 && p->max_jagged_length == 0);
    CHECK(isnan(p->nan_value) && !p->metrics && p->n_selected == 0 && p->n_exclude == 0);
    CHECK(w->preproc == NULL && w->model == NULL && w->description == NULL);
    workflow_free(w);
    /* MLaaS4HEP: an empty identifier list means the default */
    CHECKF(load("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":0}],\"params\":"
                "{\"identifier\":[]}}", &o, &w, &e) == 0, "%s", e.msg);
    CHECK(w->params.n_identifier == 3 && w->params.identifier_is_default);
    workflow_free(w);
}

TEST(path_escapes_refused)
{
    wf_opts o = opts(1);
    char p[1024];
    CHECK(refuse(one("../outside/x.root"), &o, MLHEP_EAUTH,
                 "workflow: /files/0/path: '../outside/x.root': '..' is not allowed in file paths"));
    CHECK(refuse(one("sub/../../outside/x.root"), &o, MLHEP_EAUTH, "'..' is not allowed"));
    CHECK(refuse(one("sub/../a.root"), &o, MLHEP_EAUTH, "'..' is not allowed")); /* even if inside */
    snprintf(p, sizeof p, "%s/../outside/x.root", DATA);
    CHECK(refuse(one(p), &o, MLHEP_EAUTH, "'..' is not allowed"));
    snprintf(p, sizeof p, "%s/x.root", OUT);
    CHECK(refuse(one(p), &o, MLHEP_EAUTH, "is outside the data roots"));
    CHECK(refuse(one("/etc/shadow"), &o, MLHEP_EAUTH,
                 "workflow: /files/0/path: '/etc/shadow' is outside the data roots"));
    CHECK(refuse(one("/etc/nonexistent-file"), &o, MLHEP_EAUTH, "is outside the data roots"));
    CHECK(refuse(one("/dev/zero"), &o, MLHEP_EAUTH, "is outside the data roots"));
    CHECK(refuse(one("/proc/self/environ"), &o, MLHEP_EAUTH, "is outside the data roots"));
    snprintf(p, sizeof p, "%sX/a.root", DATA); /* prefix but not the root directory */
    CHECK(refuse(one(p), &o, MLHEP_EAUTH, "is outside the data roots"));
    CHECK(refuse(one("/store/../etc/shadow"), &o, MLHEP_EAUTH, "'..' is not allowed"));
}

TEST(symlinks_out_refused)
{
    wf_opts o = opts(1);
    CHECK(refuse(one("link_out.root"), &o, MLHEP_EAUTH,
                 "workflow: /files/0/path: 'link_out.root' leads outside the data roots through a "
                 "symbolic link"));
    CHECK(refuse(one("etc_dir/shadow"), &o, MLHEP_EAUTH, "leads outside the data roots"));
    CHECK(refuse(one("etc_dir/passwd"), &o, MLHEP_EAUTH, "leads outside the data roots"));
    char p[512];
    snprintf(p, sizeof p, "%s/shadow_link", DATA);
    /* /etc/shadow may not exist or be unreadable here: either way it is refused */
    workflow *w;
    mlhep_err e;
    int rc = load(one(p), &o, &w, &e);
    CHECKF(rc == MLHEP_EAUTH || rc == MLHEP_ENOTFOUND, "rc %d: %s", rc, e.msg);
    CHECK(w == NULL);
    rc = load(one("shadow_link"), &o, &w, &e);
    CHECKF(rc == MLHEP_EAUTH || rc == MLHEP_ENOTFOUND, "rc %d: %s", rc, e.msg);
}

TEST(missing_and_special_files_refused)
{
    wf_opts o = opts(1);
    char p[512];
    CHECK(refuse(one("nope.root"), &o, MLHEP_ENOTFOUND,
                 "workflow: /files/0/path: 'nope.root': no such file under the data roots"));
    snprintf(p, sizeof p, "%s/nope.root", DATA);
    CHECK(refuse(one(p), &o, MLHEP_ENOTFOUND, "no such file"));
    CHECK(refuse(one("a.root/x"), &o, MLHEP_ENOTFOUND, "no such file"));
    CHECK(refuse(one("dir.root"), &o, MLHEP_EINVAL, "'dir.root' is not a regular file"));
    CHECK(refuse(one("pipe.root"), &o, MLHEP_EINVAL, "'pipe.root' is not a regular file"));
    CHECK(refuse(one("."), &o, MLHEP_EINVAL, "is not a usable file path"));
    /* no data roots: local files are not allowed at all */
    wf_opts none = {.schema = schema, .check_local = 1};
    CHECK(refuse(one("a.root"), &none, MLHEP_EAUTH, "local files are not allowed here"));
    workflow *w;
    mlhep_err e;
    CHECKF(load(one("root://h//x.root"), &none, &w, &e) == 0, "%s", e.msg);
    workflow_free(w);
}

TEST(labels_and_structure_refused)
{
    wf_opts o = opts(1);
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":0},"
                 "{\"path\":\"b.root\",\"label\":1},{\"path\":\"sub/c.root\",\"label\":[1]}]}",
                 &o, MLHEP_EINVAL, "workflow: /files/2/label: expected integer or string"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1.5}]}", &o,
                 MLHEP_EINVAL, "workflow: /files/0/label: expected integer or string"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":true}]}", &o,
                 MLHEP_EINVAL, "workflow: /files/0/label: expected integer or string"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1000}]}", &o,
                 MLHEP_EINVAL, "workflow: /files/0/label: 1000 is greater than the maximum 999"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":0},"
                 "{\"path\":\"b.root\",\"label\":\"sig\"}]}", &o, MLHEP_EINVAL,
                 "workflow: /files/1/label: labels mix integers and class names"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[\"a.root\",\"b.root\"],\"labels\":[1]}", &o,
                 MLHEP_EINVAL, "workflow: /labels: has 1 entries but /files has 2"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[\"a.root\"],\"labels\":[1,0]}", &o, MLHEP_EINVAL,
                 "/labels: has 2 entries but /files has 1"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[\"a.root\"]}", &o, MLHEP_EINVAL,
                 "workflow: /: missing required property \"labels\""));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"bogus\":1}", &o,
                 MLHEP_EINVAL, "workflow: /bogus: unknown property"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],"
                 "\"params\":{\"epoch\":1}}", &o, MLHEP_EINVAL, "workflow: /params/epoch: unknown property"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1},"
                 "{\"path\":\"a.root\",\"label\":0}]}", &o, MLHEP_EINVAL,
                 "workflow: /files/1: 'a.root' is the same file as /files/0"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"tree\":\"A\","
                 "\"params\":{\"branch\":\"B\"}}", &o, MLHEP_EINVAL,
                 "workflow: /tree: 'A' disagrees with /params/branch 'B'"));
    CHECK(refuse("{\"name\":\"t\",", &o, MLHEP_EFORMAT, "workflow: not valid JSON: line 1"));
    CHECK(refuse("{\"name\":\"t\",\"name\":\"u\",\"files\":[]}", &o, MLHEP_EFORMAT, "duplicate"));
    CHECK(refuse("[]", &o, MLHEP_EINVAL, "workflow: /: expected object, got array"));
    /* MLaaS4HEP's model.py named instead of a model: a hint, not a type error */
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"model\":\"keras_model.py\"}", &o,
                 MLHEP_EINVAL, "workflow: /model: \"keras_model.py\" names a file, but a workflow holds the model itself"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"model\":\"m.py\"}", &o,
                 MLHEP_EINVAL, "--files files.txt --labels labels.txt --model m.py"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],"
                 "\"params\":{\"hist\":\"..\"}}", &o, MLHEP_EINVAL,
                 "workflow: /params/hist: must name a sub-directory of the output"));
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],"
                 "\"params\":{\"hist\":\"a/b\"}}", &o, MLHEP_EINVAL, "/params/hist"));
}

TEST(urls)
{
    wf_opts o = opts(1);
    CHECK(refuse(one("ftp://example.org/a.root"), &o, MLHEP_EINVAL,
                 "workflow: /files/0/path: \"ftp://example.org/a.root\" does not match the pattern"));
    CHECK(refuse(one("file:///etc/shadow"), &o, MLHEP_EINVAL, "does not match the pattern"));
    CHECK(refuse(one("root://user:pw@host//x.root"), &o, MLHEP_EINVAL,
                 "credentials in URLs are not allowed"));
    CHECK(refuse(one("root:///x.root"), &o, MLHEP_EINVAL, "does not match the pattern"));
    workflow *w;
    mlhep_err e;
    /* LFN with a https redirector becomes an http input */
    CHECKF(load("{\"name\":\"t\",\"files\":[{\"path\":\"/store/a.root\",\"label\":1}],"
                "\"params\":{\"redirector\":\"https://cache.example/\"}}", &o, &w, &e) == 0, "%s", e.msg);
    CHECK(w->files[0].kind == WF_HTTP);
    CHECKF(strcmp(w->files[0].path, "https://cache.example//store/a.root") == 0, "%s", w->files[0].path);
    workflow_free(w);
    /* MLaaS4HEP's example params.json has "redirector": "": nothing goes in front, the LFN
     * stays a local path (refused here: /store is not a data root) */
    const char *empty = "{\"name\":\"t\",\"files\":[{\"path\":\"/store/a.root\",\"label\":1}],"
                        "\"params\":{\"redirector\":\"\"}}";
    CHECK(refuse(empty, &o, MLHEP_EAUTH, "'/store/a.root' is outside the data roots"));
    wf_opts lex = opts(0);
    CHECK(refuse(empty, &lex, MLHEP_EAUTH, "outside the data roots"));
    CHECKF(load("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"params\":{\"redirector\":\"\"}}",
                &o, &w, &e) == 0, "%s", e.msg);
    CHECK(w->params.redirector[0] == '\0' && w->files[0].kind == WF_LOCAL);
    workflow_free(w);
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"params\":{\"redirector\":\" \"}}",
                 &o, MLHEP_EINVAL, "/params/redirector"));
    CHECK(strcmp(wf_kind_name(WF_XROOTD), "xrootd") == 0);
}

TEST(data_root_configuration)
{
    workflow *w;
    mlhep_err e;
    const char *bad1[] = {"/nonexistent-root-dir"};
    wf_opts o = {.schema = schema, .data_roots = bad1, .n_data_roots = 1, .check_local = 1};
    CHECK(refuse(one("a.root"), &o, MLHEP_EIO, "data root /nonexistent-root-dir"));
    const char *sys[][1] = {{"/"}, {"/etc"}, {"/etc/ssl"}, {"/proc"}, {"relative/dir"}, {"/x/../etc"}, {"/root"}, {"/root/.ssh"}};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) {
        wf_opts s = {.schema = schema, .data_roots = sys[i], .n_data_roots = 1, .check_local = 1};
        int rc = load(one("shadow"), &s, &w, &e);
        CHECKF(rc == MLHEP_EINVAL && w == NULL, "root %s: rc %d %s", sys[i][0], rc, e.msg);
    }
    /* a root that is a symlink to /etc is refused by its resolved path */
    char p[512];
    snprintf(p, sizeof p, "%s/etc_dir", DATA);
    const char *lr[] = {p};
    wf_opts l = {.schema = schema, .data_roots = lr, .n_data_roots = 1, .check_local = 1};
    CHECK(refuse(one("shadow"), &l, MLHEP_EINVAL, "resolves to the system directory '/etc'"));
    /* a root given through a symlink works with either spelling of the path */
    const char *sr[] = {ROOTLINK};
    wf_opts s = {.schema = schema, .data_roots = sr, .n_data_roots = 1, .check_local = 1};
    char text[2048];
    snprintf(text, sizeof text, "{\"name\":\"t\",\"files\":[{\"path\":\"%s/a.root\",\"label\":1},"
             "{\"path\":\"%s/b.root\",\"label\":0}]}", ROOTLINK, DATA);
    CHECKF(load(text, &s, &w, &e) == 0, "%s", e.msg);
    workflow_free(w);
    CHECK(load(text, &(wf_opts){.data_roots = sr, .n_data_roots = 1}, &w, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "no schema loaded") != NULL, "%s", e.msg);
}

TEST(lexical_mode_for_remote_submitters)
{
    /* The submitter may not see the worker's file system: only lexical checks. */
    const char *roots[] = {"/data/mlhep"};
    wf_opts o = {.schema = schema, .data_roots = roots, .n_data_roots = 1, .check_local = 0};
    workflow *w;
    mlhep_err e;
    CHECKF(load("{\"name\":\"t\",\"files\":[{\"path\":\"x/a.root\",\"label\":1},"
                "{\"path\":\"/data/mlhep//y/./b.root\",\"label\":0},"
                "{\"path\":\"/store/mc/c.root\",\"label\":0}]}", &o, &w, &e) == 0, "%s", e.msg);
    CHECK(strcmp(w->files[0].path, "/data/mlhep/x/a.root") == 0);
    CHECK(strcmp(w->files[1].path, "/data/mlhep/y/b.root") == 0);
    CHECK(strcmp(w->files[2].path, "root://cms-xrd-global.cern.ch//store/mc/c.root") == 0);
    workflow_free(w);
    CHECK(refuse(one("/etc/shadow"), &o, MLHEP_EAUTH, "is outside the data roots (/data/mlhep)"));
    CHECK(refuse(one("x/../../../etc/shadow"), &o, MLHEP_EAUTH, "'..' is not allowed"));
    /* an LFN that lies under a data root is a local file */
    const char *sroots[] = {"/store/user"};
    wf_opts so = {.schema = schema, .data_roots = sroots, .n_data_roots = 1};
    CHECKF(load(one("/store/user/me/f.root"), &so, &w, &e) == 0, "%s", e.msg);
    CHECK(w->files[0].kind == WF_LOCAL && strcmp(w->files[0].path, "/store/user/me/f.root") == 0);
    workflow_free(w);
}

TEST(open_local_detects_swapped_symlinks)
{
    wf_opts o = opts(1);
    workflow *w;
    mlhep_err e;
    char text[1024];
    snprintf(text, sizeof text, "{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1},"
             "{\"path\":\"sub/c.root\",\"label\":0},{\"path\":\"root://h//x\",\"label\":0}]}");
    CHECKF(load(text, &o, &w, &e) == 0, "%s", e.msg);
    int fd = workflow_open_local(&w->files[0], &e);
    CHECKF(fd >= 0, "%s", e.msg);
    char b[8] = {0};
    CHECK(read(fd, b, 4) == 4 && memcmp(b, "root", 4) == 0);
    close(fd);
    CHECK(workflow_open_local(&w->files[2], &e) == MLHEP_EINVAL);
    /* after the check, sub/ is replaced by a symlink to a directory outside the roots */
    char sub[512], old[512];
    snprintf(sub, sizeof sub, "%s/sub", DATA);
    snprintf(old, sizeof old, "%s/sub.old", DATA);
    CHECK(rename(sub, old) == 0);
    CHECK(symlink(OUT, sub) == 0);
    fd = workflow_open_local(&w->files[1], &e);
    CHECKF(fd == MLHEP_EAUTH, "fd %d", fd);
    CHECKF(strstr(e.msg, "sub/c.root: its path changed") != NULL, "%s", e.msg);
    unlink(sub);
    CHECK(rename(old, sub) == 0);
    fd = workflow_open_local(&w->files[1], &e);
    CHECK(fd >= 0);
    close(fd);
    /* final component replaced by a symlink: O_NOFOLLOW */
    char c[512], c2[512];
    snprintf(c, sizeof c, "%s/sub/c.root", DATA);
    snprintf(c2, sizeof c2, "%s/sub/c.root.real", DATA);
    CHECK(rename(c, c2) == 0);
    CHECK(symlink("/etc/passwd", c) == 0);
    fd = workflow_open_local(&w->files[1], &e);
    CHECKF(fd < 0 && strstr(e.msg, "symbolic link"), "fd %d %s", fd, e.msg);
    unlink(c);
    CHECK(rename(c2, c) == 0);
    workflow_free(w);
}

TEST(load_file_prefixes_path)
{
    char p[512];
    snprintf(p, sizeof p, "%s/wf.json", T);
    FILE *f = fopen(p, "w");
    fputs("{\"name\":\"t\",\"files\":[{\"path\":\"../x\",\"label\":1}]}", f);
    fclose(f);
    wf_opts o = opts(1);
    workflow *w;
    mlhep_err e;
    CHECK(workflow_load_file(p, &o, &w, &e) == MLHEP_EAUTH && w == NULL);
    char want[600];
    snprintf(want, sizeof want, "workflow %s: /files/0/path: '../x': '..' is not allowed", p);
    CHECKF(strstr(e.msg, want) != NULL, "%s", e.msg);
    CHECK(workflow_load_file("/nonexistent/wf.json", &o, &w, &e) == MLHEP_ENOTFOUND);
    CHECK(workflow_load_file(T, &o, &w, &e) == MLHEP_EIO); /* a directory */
    f = fopen(p, "w");
    fputs("{\"name\":\"ok\",\"files\":[{\"path\":\"a.root\",\"label\":1}]}", f);
    fclose(f);
    CHECKF(workflow_load_file(p, &o, &w, &e) == 0, "%s", e.msg);
    CHECK(strcmp(w->name, "ok") == 0);
    workflow_free(w);
}

TEST(schema_good_examples_load)
{
    /* Every good workflow example also passes the loader's own checks (lexically). */
    char dir[4096], sub[4200];
    mlhep_err e;
    CHECK(jschema_find_dir(NULL, dir, sizeof dir, &e) == 0);
    snprintf(sub, sizeof sub, "%s/examples/workflow/good", dir);
    const char *roots[] = {"/data/mlhep"};
    wf_opts o = {.schema = schema, .data_roots = roots, .n_data_roots = 1};
    DIR *d = opendir(sub);
    CHECK(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", sub, de->d_name);
        workflow *w;
        int rc = workflow_load_file(p, &o, &w, &e);
        if (rc)
            closedir(d);
        CHECKF(rc == 0, "%s", e.msg);
        workflow_free(w);
        n++;
    }
    closedir(d);
    CHECK(n >= 5);
}


/* ---- one place per rule ------------------------------------------------------------ */

static const json_t *node(const jschema *s, const char *ref)
{
    const json_t *n = jschema_node(s, ref);
    if (!n)
        printf("  schema has no %s\n", ref);
    return n;
}

static long long node_int(const jschema *s, const char *ref)
{
    const json_t *n = node(s, ref);
    return json_is_integer(n) ? json_integer_value(n) : LLONG_MIN;
}

/* enum at ref holds exactly the names name(0..count-1) */
static int same_names(const jschema *s, const char *ref, const char *(*name)(int), int count)
{
    const json_t *en = node(s, ref);
    if (!json_is_array(en) || json_array_size(en) != (size_t)count)
        return 0;
    for (int i = 0; i < count; i++) {
        int found = 0;
        for (size_t k = 0; k < json_array_size(en); k++)
            found |= !strcmp(json_string_value(json_array_get(en, k)) ?: "", name(i));
        if (!found) {
            printf("  %s lacks \"%s\"\n", ref, name(i));
            return 0;
        }
    }
    return 1;
}

static const char *norm_name(int i) { return dp_norm_name((dp_norm)i); }
static const char *training_name(int i) { return wf_training_name((wf_training)i); }
static const char *negw_name(int i) { return dp_negw_name((dp_negw)i); }

TEST(schema_and_c_agree)
{
    /* jagged lengths: the schema's caps, specs.json and the features document */
    CHECK_EQ_INT(node_int(schema, "#/$defs/params/properties/max_jagged_length/maximum"), DP_MAX_LEN);
    CHECK_EQ_INT(node_int(schema, "#/$defs/params/properties/branch_max_length/additionalProperties/maximum"),
                 DP_MAX_LEN);
    CHECK_EQ_INT(FEATMAP_MAX_LEN, DP_MAX_LEN);
    /* params held in C ints: the schema's maximum must fit */
    static const char *ints[] = {"epochs", "verbose", "max_jagged_length"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        char ref[128];
        snprintf(ref, sizeof ref, "#/$defs/params/properties/%s/maximum", ints[i]);
        long long m = node_int(schema, ref);
        CHECKF(m != LLONG_MIN && m <= INT_MAX, "%s: %lld", ref, m);
    }
    long long lmax = node_int(schema, "#/$defs/label/maximum"); /* labels are C ints */
    CHECKF(lmax >= 1 && lmax < INT_MAX, "%lld", lmax);
    /* names of the enums */
    CHECK(same_names(schema, "#/$defs/params/properties/normalisation/enum", norm_name, DP_NORM_COUNT));
    CHECK(same_names(schema, "#/$defs/params/properties/training/enum", training_name, WF_TRAIN_COUNT));
    CHECK(same_names(schema, "#/$defs/params/properties/negative_weights/enum", negw_name, DP_NEGW_COUNT));
    /* the MLP's limits */
    CHECK_EQ_INT(node_int(schema, "#/$defs/mlp/properties/layers/maxItems"), MLP_MAX_LAYERS);
    CHECK_EQ_INT(node_int(schema, "#/$defs/kerasDocument/properties/config/properties/layers/maxItems"),
                 MLP_MAX_LAYERS);
    CHECK_EQ_INT(node_int(schema, "#/$defs/mlpLayer/properties/dense/maximum"), MLP_MAX_UNITS);
    CHECK_EQ_INT(node_int(schema, "#/$defs/mlp/properties/n_inputs/maximum"), MLP_MAX_UNITS);
    CHECK(json_number_value(node(schema, "#/$defs/learningRate/maximum")) == MLP_MAX_LR);
    /* activation names: every name of the schema parses, every activation is named */
    const json_t *acts = node(schema, "#/$defs/activation/enum");
    CHECK(json_is_array(acts));
    size_t i;
    const json_t *a;
    int seen[64] = {0};
    json_array_foreach(acts, i, a) {
        nn_act act;
        CHECKF(nn_act_parse(json_string_value(a), &act) == 0, "activation %s", json_string_value(a));
        if ((unsigned)act < 64)
            seen[act] = 1;
    }
    for (int k = 0; k < 64; k++) {
        const char *nm = nn_act_name((nn_act)k);
        nn_act back;
        if (nm && nn_act_parse(nm, &back) == 0 && (int)back == k)
            CHECKF(seen[k], "activation %s is not in the schema", nm);
    }
    /* gbdt objectives and classes */
    json_array_foreach(node(schema, "#/$defs/gbdt/properties/objective/enum"), i, a) {
        int obj;
        CHECKF(gbdt_objective_parse(json_string_value(a), &obj) == 0, "objective %s", json_string_value(a));
    }
    CHECK_EQ_INT(node_int(schema, "#/$defs/gbdt/properties/num_class/maximum"), GBDT_MAX_CLASSES);
}

/* The MLP defaults the schema documents are the ones mlp_build applies: a spec written
 * with them out gives the architecture of one that leaves them out. */
TEST(mlp_defaults_agree_with_the_schema)
{
    const char *bare = "{\"type\":\"mlp\",\"layers\":[{\"dense\":4,\"activation\":\"relu\"},"
                       "{\"batchnorm\":true},{\"dense\":1,\"activation\":\"sigmoid\"}]}";
    json_t *full = json_loads(bare, 0, NULL);
    CHECK(full);
    static const char *top[] = {"l2", "init", "seed"};
    for (size_t k = 0; k < sizeof top / sizeof *top; k++) {
        char ref[128];
        snprintf(ref, sizeof ref, "#/$defs/mlp/properties/%s/default", top[k]);
        json_object_set(full, top[k], (json_t *)node(schema, ref));
    }
    json_t *adam = json_object();
    static const char *ak[] = {"lr", "beta1", "beta2", "epsilon"};
    for (size_t k = 0; k < sizeof ak / sizeof *ak; k++) {
        char ref[160];
        snprintf(ref, sizeof ref, "#/$defs/optimizer/anyOf/1/properties/adam/properties/%s/default", ak[k]);
        json_object_set(adam, ak[k], (json_t *)node(schema, ref));
    }
    json_object_set_new(full, "optimizer", json_pack("{s:o}", "adam", adam));
    json_t *l0 = json_array_get(json_object_get(full, "layers"), 0);
    json_object_set(l0, "use_bias", (json_t *)node(schema, "#/$defs/mlpLayer/properties/use_bias/default"));
    json_t *bn = json_object();
    static const char *bk[] = {"momentum", "epsilon", "center", "scale"};
    for (size_t k = 0; k < sizeof bk / sizeof *bk; k++) {
        char ref[160];
        snprintf(ref, sizeof ref, "#/$defs/mlpLayer/properties/batchnorm/anyOf/1/properties/%s/default", bk[k]);
        json_object_set(bn, bk[k], (json_t *)node(schema, ref));
    }
    json_object_set_new(json_array_get(json_object_get(full, "layers"), 1), "batchnorm", bn);
    char *fs = json_dumps(full, JSON_COMPACT);
    json_decref(full);
    mlp *a = NULL, *b = NULL;
    mlhep_err e;
    CHECKF(fs && mlp_build(fs, 3, &a, &e) == 0, "%s", e.msg);
    CHECKF(mlp_build(bare, 3, &b, &e) == 0, "%s", e.msg);
    char *ja = mlp_arch_json(a), *jb = mlp_arch_json(b);
    CHECKF(ja && jb && !strcmp(ja, jb), "\n  defaults written out: %s\n  defaults left out:   %s", ja, jb);
    free(ja);
    free(jb);
    free(fs);
    mlp_free(a);
    mlp_free(b);
    /* sgd's */
    json_t *sgd = json_object();
    static const char *sk[] = {"lr", "momentum", "nesterov"};
    for (size_t k = 0; k < sizeof sk / sizeof *sk; k++) {
        char ref[160];
        snprintf(ref, sizeof ref, "#/$defs/optimizer/anyOf/1/properties/sgd/properties/%s/default", sk[k]);
        json_object_set(sgd, sk[k], (json_t *)node(schema, ref));
    }
    json_t *s1 = json_pack("{s:s, s:[{s:i, s:s}], s:{s:o}}", "type", "mlp", "layers", "dense", 1, "activation",
                           "sigmoid", "optimizer", "sgd", sgd);
    json_t *s2 = json_pack("{s:s, s:[{s:i, s:s}], s:s}", "type", "mlp", "layers", "dense", 1, "activation",
                           "sigmoid", "optimizer", "sgd");
    char *t1 = json_dumps(s1, JSON_COMPACT), *t2 = json_dumps(s2, JSON_COMPACT);
    CHECK(mlp_build(t1, 3, &a, &e) == 0 && mlp_build(t2, 3, &b, &e) == 0);
    ja = mlp_arch_json(a);
    jb = mlp_arch_json(b);
    CHECKF(ja && jb && !strcmp(ja, jb), "\n  sgd defaults written out: %s\n  left out: %s", ja, jb);
    free(ja);
    free(jb);
    free(t1);
    free(t2);
    json_decref(s1);
    json_decref(s2);
    mlp_free(a);
    mlp_free(b);
}

/* Model mistakes are refused when the workflow is loaded - by mlhep-submit, the gateway
 * and the worker alike - before any data is read, each with a message naming it. */
static char mdoc[8192];
static const char *with_model(const char *model, const char *params, const char *files)
{
    snprintf(mdoc, sizeof mdoc,
             "{\"name\":\"t\",\"files\":%s,\"params\":{%s},\"model\":%s}",
             files ? files : "[{\"path\":\"a.root\",\"label\":1},{\"path\":\"b.root\",\"label\":0}]",
             params ? params : "", model);
    return mdoc;
}

#define L2 "\"layers\":[{\"dense\":8,\"activation\":\"relu\"},{\"dense\":1,\"activation\":\"sigmoid\"}]"

TEST(model_mistakes_refused)
{
    wf_opts o = opts(0);
    static const struct {
        const char *model, *params, *files, *msg;
    } bad[] = {
        /* the eleven */
        {"{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoidd\"}]}", NULL, NULL,
         "did you mean \"sigmoid\""},
        {"{\"type\":\"mlp\",\"layers\":[{\"dens\":8},{\"dense\":1,\"activation\":\"sigmoid\"}]}", NULL, NULL,
         "/model/layers/0/dens: unknown property (did you mean \"dense\"?"},
        {"{\"type\":\"mlp\",\"layers\":[{\"dense\":0},{\"dense\":1,\"activation\":\"sigmoid\"}]}", NULL, NULL,
         "/model/layers/0/dense: 0 is less than the minimum 1"},
        {"{\"type\":\"mlp\",\"layers\":[{\"dense\":1000000000},{\"dense\":1,\"activation\":\"sigmoid\"}]}", NULL,
         NULL, "/model/layers/0/dense: 1000000000 is greater than the maximum 1000000"},
        {"{\"type\":\"mlp\"," L2 "}", "\"max_jagged_length\":1000000000", NULL,
         "/params/max_jagged_length: 1000000000 is greater than the maximum 100000"},
        {"{\"type\":\"mlp\"," L2 ",\"loss\":\"binary_crossentropyy\"}", NULL, NULL,
         "did you mean \"binary_crossentropy\""},
        {"{\"type\":\"mlp\"," L2 ",\"optimizer\":\"adamw\"}", NULL, NULL, "/model/optimizer"},
        {"{\"type\":\"mlp\"," L2 ",\"optimizer\":{\"adam\":{\"lr\":-1}}}", NULL, NULL, "/model/optimizer/adam/lr"},
        {"{\"type\":\"mlp\"," L2 ",\"optimizer\":{\"sgd\":{\"lr\":1e9}}}", NULL, NULL, "/model/optimizer/sgd/lr"},
        {"{\"type\":\"mlp\"," L2 ",\"optimizer\":{\"adam\":{\"lr\":0}}}", NULL, NULL, "/model/optimizer/adam/lr"},
        {"{\"type\":\"gbdt\",\"depth\":64}", NULL, NULL, "/model/depth: 64 is greater than the maximum 24"},
        /* the silent typos */
        {"{\"type\":\"mlp\"," L2 ",\"class_weights\":[1,3]}", NULL, NULL, "did you mean \"class_weight\""},
        {"{\"type\":\"mlp\"," L2 ",\"early_stoping\":3}", NULL, NULL, "did you mean \"early_stopping\""},
        {"{\"type\":\"mlp\"," L2 ",\"dropout_rate\":0.5}", NULL, NULL, "/model/dropout_rate: unknown property"},
        {"{\"type\":\"mlp\"," L2 "}", "\"exclude_branch\":[\"x\"]", NULL, "did you mean \"exclude_branches\""},
        /* what only the model's own parser knows */
        {"{\"type\":\"mlp\",\"layers\":[{\"dense\":3,\"activation\":\"sigmoid\"}],\"loss\":\"binary_crossentropy\"}",
         NULL, NULL, "binary_crossentropy needs 1 output unit"},
        {"{\"type\":\"mlp\",\"layers\":[{\"dense\":100000},{\"dense\":100000},{\"dense\":1,\"activation\":\"sigmoid\"}]}",
         NULL, NULL, "parameters"},
        {"{\"type\":\"mlp\",\"layers\":[{\"dropout\":0.5,\"dense\":3}]}", NULL, NULL, "layers[0]"},
        {"{\"type\":\"mlp\"," L2 ",\"class_weight\":[1,2,3]}", NULL, NULL, "class_weight has 3 entries"},
        /* the labels against the model */
        {"{\"type\":\"mlp\"," L2 "}", NULL, "[{\"path\":\"a.root\",\"label\":0},{\"path\":\"b.root\",\"label\":0}]",
         "a classifier needs two classes"},
        {"{\"type\":\"mlp\"," L2 "}", NULL, "[{\"path\":\"a.root\",\"label\":\"sig\"},{\"path\":\"b.root\",\"label\":\"sig\"}]",
         "every file has the label sig: a classifier needs two classes"},
        {"{\"type\":\"mlp\"," L2 "}", NULL, "[{\"path\":\"a.root\",\"label\":1},{\"path\":\"b.root\",\"label\":1}]",
         "no file has label 0"},
        {"{\"type\":\"mlp\"," L2 "}", NULL, "[{\"path\":\"a.root\",\"label\":0},{\"path\":\"b.root\",\"label\":2}]",
         "no file has label 1"},
        {"{\"type\":\"mlp\"," L2 "}", NULL,
         "[{\"path\":\"a.root\",\"label\":0},{\"path\":\"b.root\",\"label\":1},{\"path\":\"sub/c.root\",\"label\":2}]",
         "a binary classifier (one output) separates two classes, the files have 3"},
        {"{\"type\":\"mlp\",\"layers\":[{\"dense\":4,\"activation\":\"softmax\"}]}", NULL,
         "[{\"path\":\"a.root\",\"label\":0},{\"path\":\"b.root\",\"label\":1},{\"path\":\"sub/c.root\",\"label\":2}]",
         "the model has 4 outputs, the files have 3 classes"},
        {"{\"type\":\"gbdt\",\"objective\":\"binary\"}", NULL,
         "[{\"path\":\"a.root\",\"label\":0},{\"path\":\"b.root\",\"label\":1},{\"path\":\"sub/c.root\",\"label\":2}]",
         "a binary classifier"},
        {"{\"type\":\"gbdt\",\"objective\":\"regression\"}", "\"balance_classes\":true", NULL,
         "a regression has no classes to balance"},
        {"{\"type\":\"gbdt\",\"objective\":\"multiclass\"}", NULL, NULL, NULL}, /* 2 classes: fine */
        {"{\"type\":\"mlp\"," L2 "}", "\"validation_fraction\":0.5,\"test_fraction\":0.5", NULL,
         "leave less than 0.1 of the rows for training"},
        {"{\"type\":\"mlp\"," L2 "}", "\"negative_weights\":\"drop\"", NULL, "/params/negative_weights"},
        {"{\"type\":\"mlp\"," L2 "}", NULL, "[{\"path\":\"a.root\",\"label\":1,\"scale\":0},{\"path\":\"b.root\",\"label\":0}]",
         "/files/0/scale"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *text = with_model(bad[i].model, bad[i].params, bad[i].files);
        workflow *w;
        mlhep_err e;
        int rc = load(text, &o, &w, &e);
        if (!bad[i].msg) {
            CHECKF(rc == 0, "%s: %s", text, e.msg);
            workflow_free(w);
            continue;
        }
        CHECKF(rc == MLHEP_EINVAL || rc == MLHEP_EUNSUPPORTED, "%s: rc %d", text, rc);
        CHECKF(rc && strstr(e.msg, bad[i].msg), "%s\n  -> %s\n  (want \"%s\")", text, e.msg, bad[i].msg);
        workflow_free(rc ? NULL : w);
    }
    /* what a loaded workflow says about its model */
    workflow *w;
    mlhep_err e;
    CHECKF(load(with_model("{\"type\":\"mlp\"," L2 "}", "\"weight\":\"genWeight\",\"test_fraction\":0.3",
                           "[{\"path\":\"a.root\",\"label\":1,\"scale\":2.5},{\"path\":\"b.root\",\"label\":0}]"),
                &o, &w, &e) == 0, "%s", e.msg);
    CHECK(w->task == WF_TASK_BINARY && w->noutputs == 1);
    CHECK(w->data.files[0].scale == 2.5 && w->data.files[1].scale == 1.0);
    CHECK(w->data.weight && !strcmp(w->data.weight, "genWeight") && w->data.test_fraction == 0.3);
    CHECK(w->data.negative_weights == DP_NEGW_ZERO);
    workflow_free(w);
    CHECKF(load(with_model("{\"type\":\"gbdt\"}", NULL,
                           "[{\"path\":\"a.root\",\"label\":\"ttH\"},{\"path\":\"b.root\",\"label\":\"ttbb\"},"
                           "{\"path\":\"sub/c.root\",\"label\":\"ttcc\"}]"),
                &o, &w, &e) == 0, "%s", e.msg);
    CHECK(w->task == WF_TASK_MULTICLASS && w->noutputs == 3); /* more than two classes: multiclass */
    workflow_free(w);
    /* one part of a job (a fan-out sub-task's files): the whole file set's checks are the
     * job's; a part holding one class, or fewer classes than the model's outputs, loads */
    {
        wf_opts po = o;
        po.part = 1;
        const char *one = with_model("{\"type\":\"mlp\"," L2 "}", NULL,
                                     "[{\"path\":\"a.root\",\"label\":1},{\"path\":\"b.root\",\"label\":1}]");
        CHECK(load(one, &o, &w, &e) == MLHEP_EINVAL && strstr(e.msg, "no file has label 0"));
        CHECKF(load(one, &po, &w, &e) == 0, "%s", e.msg);
        CHECK(w->task == WF_TASK_BINARY);
        workflow_free(w);
        CHECKF(load(with_model("{\"type\":\"mlp\",\"layers\":[{\"dense\":3,\"activation\":\"softmax\"}]}", NULL,
                               "[{\"path\":\"a.root\",\"label\":0},{\"path\":\"b.root\",\"label\":1}]"),
                    &po, &w, &e) == 0, "%s", e.msg);
        CHECK(w->task == WF_TASK_MULTICLASS && w->noutputs == 3);
        workflow_free(w);
    }
}

/* gbdt_params_check with one parameter set to v (schema key k). */
static int gbdt_ok(const char *k, double v)
{
    gbdt_params p;
    gbdt_params_default(&p);
    if (!strcmp(k, "trees")) p.n_trees = (int)v;
    else if (!strcmp(k, "depth")) p.max_depth = (int)v;
    else if (!strcmp(k, "learning_rate")) p.learning_rate = (float)v;
    else if (!strcmp(k, "min_child_weight")) p.min_child_weight = (float)v;
    else if (!strcmp(k, "lambda")) p.lambda = (float)v;
    else if (!strcmp(k, "subsample")) p.subsample = (float)v;
    else if (!strcmp(k, "colsample_bytree")) p.colsample_bytree = (float)v;
    else if (!strcmp(k, "bins")) p.max_bins = (int)v;
    else if (!strcmp(k, "early_stopping_rounds")) p.early_stopping_rounds = (int)v;
    else if (!strcmp(k, "num_class")) { p.objective = GBDT_OBJ_MULTICLASS; p.n_classes = (int)v; }
    else return -1;
    mlhep_err e;
    return gbdt_params_check(&p, &e) == 0;
}

TEST(gbdt_ranges_agree_with_the_schema)
{
    /* every bound the schema writes for a gbdt key is gbdt_params_check's: the bound is
     * accepted (or refused when exclusive) and the value just beyond it refused */
    const json_t *props = node(schema, "#/$defs/gbdt/properties");
    CHECK(json_is_object(props) && json_object_size(props) >= 9);
    const char *k;
    json_t *r;
    json_object_foreach((json_t *)props, k, r) {
        if (!strcmp(k, "type") || !strcmp(k, "objective"))
            continue; /* names, checked in schema_and_c_agree */
        int integer = !strcmp(json_string_value(json_object_get(r, "type")) ?: "", "integer");
        double step = integer ? 1 : 1e-3;
        json_t *lo = json_object_get(r, "minimum"), *xlo = json_object_get(r, "exclusiveMinimum");
        json_t *hi = json_object_get(r, "maximum");
        CHECKF(gbdt_ok(k, 0.5) >= 0, "schema key %s is not a gbdt parameter", k);
        CHECKF(lo || xlo, "%s: no lower bound in the schema", k);
        if (lo) {
            CHECKF(gbdt_ok(k, json_number_value(lo)) == 1, "%s: schema minimum refused by gbdt", k);
            CHECKF(gbdt_ok(k, json_number_value(lo) - step) == 0, "%s: gbdt accepts below the schema's minimum", k);
        } else {
            CHECKF(gbdt_ok(k, json_number_value(xlo)) == 0, "%s: gbdt accepts the schema's exclusive minimum", k);
            CHECKF(gbdt_ok(k, json_number_value(xlo) + step) == 1, "%s: gbdt refuses above the exclusive minimum", k);
        }
        json_t *dflt = json_object_get(r, "default");
        if (dflt) { /* the schema's default is gbdt_params_default's */
            gbdt_params p;
            gbdt_params_default(&p);
            json_t *one = json_object();
            json_object_set(one, k, dflt);
            gbdt_params q;
            mlhep_err e;
            CHECK(gbdt_params_from_json(one, &q, &e) == 0);
            json_decref(one);
            CHECKF(!memcmp(&p, &q, sizeof p), "%s: the schema's default is not gbdt_params_default's", k);
            json_t *none = json_object();
            CHECK(gbdt_params_from_json(none, &q, &e) == 0 && !memcmp(&p, &q, sizeof p));
            json_decref(none);
        }
        if (hi) {
            CHECKF(gbdt_ok(k, json_number_value(hi)) == 1, "%s: schema maximum refused by gbdt", k);
            if (strcmp(k, "early_stopping_rounds")) /* gbdt: no upper bound (the schema's keeps an int) */
                CHECKF(gbdt_ok(k, json_number_value(hi) + step) == 0, "%s: gbdt accepts above the schema's maximum", k);
        }
    }
}

TEST(job_record_name_is_the_workflow_name)
{
    /* job-status.schema.json repeats the workflow's name rule (schemas cannot refer to
     * each other): the two must be the same rule */
    jschema *st;
    mlhep_err e;
    CHECKF(jschema_load_named(NULL, "job-status", &st, &e) == 0, "%s", e.msg);
    const json_t *a = node(schema, "#/properties/name"), *b = node(st, "#/properties/name");
    static const char *keys[] = {"type", "minLength", "maxLength", "pattern"};
    int same = a && b;
    for (size_t i = 0; same && i < sizeof keys / sizeof *keys; i++)
        same = json_equal(json_object_get(a, keys[i]), json_object_get(b, keys[i]));
    jschema_free(st);
    CHECK(same);
}

/* The params of a document that writes every default out, the typed params of one that
 * writes none: equal, so each default is a value the schema accepts and means what a
 * missing key means. */
TEST(schema_defaults_are_valid_values)
{
    const json_t *props = node(schema, "#/$defs/params/properties");
    CHECK(props);
    json_t *params = json_object();
    const char *k;
    json_t *r;
    int n = 0;
    json_object_foreach((json_t *)props, k, r) {
        json_t *d = json_object_get(r, "default");
        if (d) {
            json_object_set(params, k, d);
            n++;
        }
    }
    json_object_set_new(params, "metrics", json_pack("{s:O}", "threshold",
                        json_object_get(node(schema, "#/$defs/metricsOptions/properties/threshold"), "default")));
    CHECK(n >= 14);
    json_t *full = json_pack("{s:s, s:[{s:s, s:i}], s:O, s:o}", "name", "d", "files", "path", "a.root", "label", 1,
                             "tree", json_object_get(node(schema, "#/properties/tree"), "default"), "params", params);
    json_t *bare = json_pack("{s:s, s:[{s:s, s:i}]}", "name", "d", "files", "path", "a.root", "label", 1);
    wf_opts o = opts(1);
    workflow *a = NULL, *b = NULL;
    mlhep_err e;
    int ra = workflow_load_json(full, &o, &a, &e);
    if (ra)
        printf("  every default written out: %s\n", e.msg);
    int rb = workflow_load_json(bare, &o, &b, &e);
    json_decref(full);
    json_decref(bare);
    int same = !ra && !rb;
    if (same) {
        const wf_params *p = &a->params, *q = &b->params;
        same = p->nevts == q->nevts && p->chunk_size == q->chunk_size && p->epochs == q->epochs &&
               p->batch_size == q->batch_size && p->shuffle == q->shuffle && p->verbose == q->verbose &&
               isnan(p->nan_value) == isnan(q->nan_value) && p->metrics_threshold == q->metrics_threshold &&
               p->training == q->training && p->normalisation == q->normalisation &&
               p->validation_fraction == q->validation_fraction && p->seed == q->seed &&
               p->test_fraction == q->test_fraction && p->negative_weights == q->negative_weights &&
               p->balance_classes == q->balance_classes && p->log_scale == q->log_scale && !q->weight &&
               p->n_identifier == q->n_identifier && !strcmp(p->redirector, q->redirector) &&
               !strcmp(a->tree, b->tree) && q->identifier_is_default;
        /* the default list written out is a list the user chose: each must exist */
        for (size_t i = 0; same && i < p->n_identifier; i++)
            same = !strcmp(p->identifier[i], q->identifier[i]);
    }
    workflow_free(a);
    workflow_free(b);
    CHECK(same);
}

TEST(a_schema_without_a_default_is_refused)
{
    /* the loader has no defaults of its own: a schema that lacks one cannot be used */
    char dir[4096], path[4200];
    mlhep_err e;
    CHECK(jschema_find_dir(NULL, dir, sizeof dir, &e) == 0);
    snprintf(path, sizeof path, "%s/workflow.schema.json", dir);
    json_t *doc = json_load_file(path, 0, NULL);
    CHECK(doc);
    json_object_del(json_object_get(json_object_get(json_object_get(json_object_get(doc, "$defs"), "params"),
                                                    "properties"), "batch_size"), "default");
    jschema *s2;
    CHECKF(jschema_load_json(doc, "workflow", &s2, &e) == 0, "%s", e.msg);
    json_decref(doc);
    wf_opts o = opts(1);
    o.schema = s2;
    workflow *w;
    int rc = load(one("a.root"), &o, &w, &e);
    jschema_free(s2);
    CHECK(rc == MLHEP_EINVAL && w == NULL);
    CHECKF(strstr(e.msg, "/$defs/params/properties/batch_size/default is missing"), "%s", e.msg);
}

int main(void)
{
    setup();
    mlhep_err e;
    if (jschema_load_named(NULL, "workflow", &schema, &e) != 0) {
        printf("FAIL test_workflow: %s\n", e.msg);
        return 1;
    }
    RUN(objects_form_all_path_kinds);
    RUN(link_inside_root_is_the_same_file);
    RUN(parallel_form_mlaas4hep);
    RUN(mlaas4hep_defaults);
    RUN(path_escapes_refused);
    RUN(symlinks_out_refused);
    RUN(missing_and_special_files_refused);
    RUN(labels_and_structure_refused);
    RUN(urls);
    RUN(data_root_configuration);
    RUN(lexical_mode_for_remote_submitters);
    RUN(open_local_detects_swapped_symlinks);
    RUN(load_file_prefixes_path);
    RUN(schema_good_examples_load);
    RUN(schema_and_c_agree);
    RUN(mlp_defaults_agree_with_the_schema);
    RUN(model_mistakes_refused);
    RUN(gbdt_ranges_agree_with_the_schema);
    RUN(job_record_name_is_the_workflow_name);
    RUN(schema_defaults_are_valid_values);
    RUN(a_schema_without_a_default_is_refused);
    jschema_free(schema);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", T);
    return test_summary();
}

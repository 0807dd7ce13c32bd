/* test_workflow.c - workflow loading: both file-list forms, params defaults, the
 * redirector rule, and every refusal of a local path that would leave the data roots
 * ("..", symlinks out, absolute paths elsewhere, /etc/shadow), each with its message. */
#include "service/workflow.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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
    CHECK(refuse("{\"name\":\"t\",\"files\":[{\"path\":\"a.root\",\"label\":1}],"
                 "\"params\":{\"hist\":\"..\"}}", &o, MLHEP_EINVAL,
                 "params.hist: '..' must name a sub-directory of the output"));
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
    CHECK(strcmp(wf_kind_name(WF_XROOTD), "xrootd") == 0);
}

TEST(data_root_configuration)
{
    workflow *w;
    mlhep_err e;
    const char *bad1[] = {"/nonexistent-root-dir"};
    wf_opts o = {.schema = schema, .data_roots = bad1, .n_data_roots = 1, .check_local = 1};
    CHECK(refuse(one("a.root"), &o, MLHEP_EIO, "data root /nonexistent-root-dir"));
    const char *sys[][1] = {{"/"}, {"/etc"}, {"/etc/ssl"}, {"/proc"}, {"relative/dir"}, {"/x/../etc"}};
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
    jschema_free(schema);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", T);
    return test_summary();
}

/* predict_cmd.c - `mlhep-submit predict` (see predict_cmd.h): reads the input (a JSON
 * document, a binary columnar request, or a ROOT tree), has it scored by the service
 * (through the gateway or the broker: infer_cmd.h's infer_svc) or in this process,
 * prints the scores or writes the friend tree, and turns errors into exit codes. */
#include "predict_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "infer/colreq.h"
#include "infer/modelstore.h"
#include "infer/predict.h"
#include "infer/treescore.h"
#include "service/auth_glue.h"

#define MAX_INPUT ((size_t)256 << 20) /* bytes of a request file */

void predict_cmd_usage(FILE *f)
{
    fprintf(f,
"usage: mlhep-submit [options] predict --model REF [INPUT.json | INPUT.bin | -]\n"
"       mlhep-submit [options] predict --model REF --root FILE.root --tree TREE --out SCORES.root\n"
"                    [--branch NAME] [--batch N] [--window W] [--wire binary|json]\n"
"\n"
"Sends INPUT (default: stdin) to the inference service (through mlhep-gateway when\n"
"gateway_url is set, else over the broker) and prints one line per row:\n"
"the score, or the class probabilities separated by spaces. INPUT is a predict-request\n"
"document (keys/values, rows or columns; its \"model\" member is set by --model), or a\n"
"binary columnar request (a file starting with \"MLHC\", sent as it is; --model replaces\n"
"the model reference in its header).\n"
"With --root, scores every entry of TREE and writes SCORES.root: a tree TREE with one\n"
"branch NAME/F (NAME[k]/F for k class probabilities) whose entries line up with the\n"
"input's, to be used as a friend tree. The model's branches are read batch by batch\n"
"and sent as columnar requests, several in flight.\n"
"\n"
"options:\n"
"  --model REF        the model: NAME, NAME@VERSION or a job id (see `models list`)\n"
"  --local            predict in this process instead of the service; REF is then a\n"
"                     model file (no token needed), or a model of the artifact store\n"
"                     (artifact_dir) resolved for the token's user\n"
"  --json             print the reply document instead of the scores\n"
"  --root FILE        score a ROOT file (path or root://, http(s):// URL)\n"
"  --tree TREE        the tree to score (also the name of the output tree)\n"
"  --out FILE         the scores file to write\n"
"  --branch NAME      name of the score branch (default score)\n"
"  --batch N          entries per request, 1..%d (default %d)\n"
"  --window W         requests in flight, 1..%d (default %d)\n"
"  --wire binary|json binary columnar requests (default) or JSON \"columns\" documents\n"
"  --timeout SEC      wait at most SEC seconds for each reply (default 60)\n"
"  --config FILE      key=value configuration (default $MLHEP_CONFIG)\n"
"  --token-file FILE  bearer token from FILE (default: $MLHEP_TOKEN)\n"
"  -h, --help         this text\n"
"\n"
"exit codes: 0 ok, 1 internal error, 2 usage, 3 configuration, 4 token refused or model\n"
"not yours, 5 bad input (request, unknown or missing branch, too large), 6 broker or\n"
"gateway, 8 unknown model, 12 file error (ROOT input or output), 16 no reply in time\n"
"(14 is only watch's --timeout)\n"
"\n"
"A request file from the model's features (`models features REF` lists the branches\n"
"a request must give, each flat or jagged; docs/programs/mlhep-submit.md has the\n"
"forms and a Python writer):\n"
"  mlhep-submit models features ttH > features.json\n"
"  jq '{keys: [.features[].name], values: [.features[] | if .kind == \"jagged\"\n"
"       then [] else 0 end]}' features.json > request.json   # then put real values in\n"
"\n"
"examples:\n"
"  mlhep-submit predict --model ttH@2 request.json\n"
"  mlhep-submit predict --local --model run/model.mlhep request.json\n"
"  mlhep-submit predict --model ttH --root events.root --tree Events --out scores.root\n",
            TREESCORE_BATCH_MAX, TREESCORE_BATCH_DEFAULT, TREESCORE_WINDOW_MAX, TREESCORE_WINDOW_DEFAULT);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *len, mlhep_err *e)
{
    FILE *f = (!path || !strcmp(path, "-")) ? stdin : fopen(path, "rb");
    if (!f) {
        err_set(e, MLHEP_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= MAX_INPUT) {
            free(b);
            b = NULL;
            err_set(e, MLHEP_ENOMEM, "input larger than 256 MiB");
            break;
        }
        char *nb = realloc(b, cap * 2 + 1);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (f != stdin)
        fclose(f);
    if (b) {
        b[n] = '\0';
        *len = n;
    } else if (!e->msg[0]) {
        err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    return b;
}

static void print_predictions(const json_t *preds)
{
    size_t i;
    const json_t *v;
    json_array_foreach(preds, i, v) {
        if (json_is_array(v)) {
            size_t j;
            const json_t *p;
            json_array_foreach(v, j, p)
                printf("%s%.9g", j ? " " : "", json_number_value(p));
            printf("\n");
        } else {
            printf("%.9g\n", json_number_value(v));
        }
    }
}

/* Local model: a file path, or REF resolved in the configured artifact store. */
static int local_model(infer_svc_opts *o, predict_model **pm, mlhep_err *e)
{
    struct stat st;
    if (!stat(o->model, &st) && S_ISREG(st.st_mode))
        return predict_model_load_file(o->model, pm, e);
    char user[JOB_USER_MAX + 1];
    int rc = auth_check_submit(&o->cfg, o->token, user, e);
    if (rc)
        return rc;
    modelstore *ms;
    if ((rc = modelstore_open(o->cfg.artifact_dir, &ms, e)))
        return rc;
    ms_ref r;
    rc = modelstore_resolve(ms, user, o->model, &r, e);
    if (!rc)
        rc = predict_model_load_file(r.path, pm, e);
    modelstore_close(ms);
    return rc;
}

static void print_scores(const colresp *r)
{
    for (size_t i = 0; i < r->nrows; i++)
        for (size_t j = 0; j < r->k; j++)
            printf("%.9g%s", (double)r->scores[i * r->k + j], j + 1 < r->k ? " " : "\n");
}

static void print_scores_json(const colresp *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->nrows; i++) {
        if (r->k == 1) {
            json_array_append_new(a, json_real(r->scores[i]));
            continue;
        }
        json_t *p = json_array();
        for (size_t j = 0; j < r->k; j++)
            json_array_append_new(p, json_real(r->scores[i * r->k + j]));
        json_array_append_new(a, p);
    }
    json_t *d = json_pack("{s:s, s:o}", "model", r->model, "predictions", a);
    char *t = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (t)
        printf("%s\n", t);
    free(t);
    json_decref(d);
}

/* A binary columnar request file (starts with "MLHC", colreq.h) sent as it is; --model
 * replaces the model reference in its header. */
static int cmd_predict_binary(infer_svc_opts *o, uint8_t *buf, size_t len)
{
    mlhep_err e;
    err_clear(&e);
    wbuf cb = {(uint8_t *)buf, len, len, 0};
    uint8_t *nb = NULL;
    if (o->model && len >= 18) {
        size_t old = (size_t)buf[16] | (size_t)buf[17] << 8, ml = strlen(o->model);
        if (ml < 1 || ml > COLREQ_MAX_MODEL)
            return infer_svc_fail(INFER_X_USAGE, "--model: a reference of 1..%u bytes", COLREQ_MAX_MODEL);
        if (18 + old <= len && (nb = malloc(len - old + ml))) {
            memcpy(nb, buf, 16);
            nb[16] = (uint8_t)ml;
            nb[17] = (uint8_t)(ml >> 8);
            memcpy(nb + 18, o->model, ml);
            memcpy(nb + 18 + ml, buf + 18 + old, len - 18 - old);
            cb = (wbuf){nb, len - old + ml, len - old + ml, 0};
        }
    }
    int x = INFER_X_OK;
    colresp r = {0};
    if (o->local) {
        predict_model *pm = NULL;
        predict_ctx pc = {0};
        int rc = colreq_parse(cb.p, cb.len, &pc.creq, &e);
        if (!rc) {
            if (!o->model)
                o->model = pc.creq.model;
            rc = local_model(o, &pm, &e);
        }
        if (rc || predict_columns(pm, &pc, &e) ||
            colresp_write(&pc.bin, o->model, pc.out, pc.nrows, predict_model_outputs(pm), -1, &e) ||
            colresp_parse(pc.bin.p, pc.bin.len, &r, &e))
            x = infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
        predict_ctx_free(&pc);
        predict_model_free(pm);
    } else {
        infer_svc svc = {0};
        if (!(x = infer_svc_connect(o, &svc)) &&
            (svc.gw ? gwclient_predict_columns(svc.gw, &cb, &r, &e)
                    : predict_rpc_columns(svc.rpc, &cb, &r, infer_svc_timeout_ms(o), &e)))
            x = infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
        infer_svc_disconnect(&svc);
    }
    if (!x && o->json)
        print_scores_json(&r);
    else if (!x)
        print_scores(&r);
    colresp_free(&r);
    free(nb);
    return x;
}

static int cmd_predict_json(infer_svc_opts *o, const char *input)
{
    mlhep_err e;
    err_clear(&e);
    size_t len;
    char *text = read_all(input, &len, &e);
    if (!text)
        return infer_svc_fail(INFER_X_FILE, "%s", e.msg);
    if (len >= 4 && !memcmp(text, COLREQ_MAGIC, 4)) {
        int x = cmd_predict_binary(o, (uint8_t *)text, len);
        free(text);
        return x;
    }
    json_error_t je;
    json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!req)
        return infer_svc_fail(INFER_X_INPUT, "%s:%d:%d: invalid JSON: %s", input ? input : "stdin", je.line, je.column, je.text);
    if (!json_is_object(req)) {
        json_decref(req);
        return infer_svc_fail(INFER_X_INPUT, "the input must be a JSON object (keys/values, rows or columns)");
    }
    if (o->model)
        json_object_set_new(req, "model", json_string(o->model));
    if (!json_is_string(json_object_get(req, "model"))) {
        json_decref(req);
        return infer_svc_fail(INFER_X_USAGE, "no model: give --model REF or a \"model\" member");
    }
    int x = INFER_X_OK;
    if (o->local) {
        predict_model *pm = NULL;
        predict_ctx pc = {0};
        if (!o->model)
            o->model = json_string_value(json_object_get(req, "model"));
        if (local_model(o, &pm, &e) || predict_request(pm, req, &pc, &e) ||
            predict_format_response(pm, o->model, pc.out, pc.nrows, -1, &pc, &e)) {
            x = infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
        } else if (o->json) {
            printf("%s\n", pc.buf);
        } else {
            json_t *d = json_loads(pc.buf, 0, NULL);
            print_predictions(json_object_get(d, "predictions"));
            json_decref(d);
        }
        predict_ctx_free(&pc);
        predict_model_free(pm);
        json_decref(req);
        return x;
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    infer_svc svc = {0};
    char *reply;
    json_t *d;
    if (!(x = infer_svc_json(o, &svc, "predict", body, &reply, &d))) {
        if (o->json)
            printf("%s\n", reply);
        else
            print_predictions(json_object_get(d, "predictions"));
        json_decref(d);
        free(reply);
    }
    infer_svc_disconnect(&svc);
    return x;
}


/* --root: the tree scored into a friend tree (infer/treescore.h), a summary on stderr. */
static int cmd_predict_root(infer_svc_opts *o)
{
    if (!o->tree || !o->out)
        return infer_svc_fail(INFER_X_USAGE, "--root needs --tree TREE and --out SCORES.root");
    mlhep_err e;
    err_clear(&e);
    double t0 = now_s();
    treescore_opts so = {.input = o->root,
                         .tree = o->tree,
                         .output = o->out,
                         .branch = o->branch,
                         .batch = o->batch,
                         .window = o->window,
                         .wire_json = o->wire_json,
                         .timeout_ms = infer_svc_timeout_ms(o)};
    treescore_result r;
    memset(&r, 0, sizeof r);
    predict_model *pm = NULL;
    infer_svc svc = {0};
    int rc;
    if (o->local) {
        rc = local_model(o, &pm, &e);
        if (!rc)
            rc = treescore_local(pm, &so, &r, &e);
    } else {
        int x = infer_svc_connect(o, &svc);
        if (x)
            return x;
        if (svc.gw) { /* the same batches and window, as HTTPS requests to the gateway */
            treescore_transport t;
            gwclient_treescore(svc.gw, &t);
            rc = treescore_remote_via(&t, o->model, &so, &r, &e);
        } else {
            rc = treescore_remote(svc.rpc, o->model, &so, &r, &e);
        }
    }
    predict_model_free(pm);
    infer_svc_disconnect(&svc);
    if (rc) {
        if (r.failed == TREESCORE_FAILED_FILE)
            return infer_svc_fail(INFER_X_FILE, "%s", e.msg);
        if (r.failed == TREESCORE_FAILED_BRANCH)
            return infer_svc_fail(INFER_X_USAGE, "--branch: %s", e.msg);
        return infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
    }
    double dt = now_s() - t0;
    fprintf(stderr, "scored %lld entries of %s:%s with %s in %.3f s (%.0f entries/s): %s, tree '%s', branch %s\n",
            (long long)r.entries, o->root, o->tree, r.model[0] ? r.model : o->model, dt,
            dt > 0 ? (double)r.entries / dt : 0.0, o->out, o->tree, r.spec);
    return INFER_X_OK;
}

int predict_cmd_check(const infer_svc_opts *o, int nargs)
{
    if (!o->model && o->root)
        return infer_svc_fail(INFER_X_USAGE, "predict --root needs --model REF");
    if (nargs > 1)
        return infer_svc_fail(INFER_X_USAGE, "predict takes at most one input file");
    return 0;
}

int predict_cmd_run(infer_svc_opts *o, int nargs, char **args)
{
    return o->root ? cmd_predict_root(o) : cmd_predict_json(o, nargs == 1 ? args[0] : NULL);
}

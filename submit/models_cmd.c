/* models_cmd.c - `mlhep-submit models` (see models_cmd.h): one request to the inference
 * service per command (a "models" message over the broker, or the gateway's model
 * endpoint), its reply printed as a table or line (--json: as it came). */
#include "models_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer/predict.h"

void models_cmd_usage(FILE *f)
{
    fprintf(f,
"usage: mlhep-submit [options] models [list]\n"
"       mlhep-submit [options] models tag JOB_ID NAME [--shared]\n"
"       mlhep-submit [options] models delete REF | share NAME on|off | features REF\n"
"\n"
"The model registry of the inference service (your models, and models shared with you),\n"
"through mlhep-gateway when gateway_url is set, else over the broker:\n"
"  list                  your models (every version: owner, shared, created, kind,\n"
"                        number of features, metrics) and your jobs that made a model\n"
"  tag JOB_ID NAME       name the model of a succeeded job: it becomes NAME@1, or the\n"
"                        next version of NAME (printed); --shared shares NAME too\n"
"  delete REF            delete one version (NAME@VERSION) or a name with all its\n"
"                        versions (NAME)\n"
"  share NAME on|off     let every user predict with NAME (or stop)\n"
"  features REF          what the model needs: its branches, kinds and outputs (JSON)\n"
"  features REF --full   the model's whole features document (JSON): every branch with\n"
"                        its offset and length in the row, normalisation (sub, scale),\n"
"                        range, the pad value, outputs and classes - what a client of\n"
"                        model.onnx needs (docs/inference.md)\n"
"REF is NAME, NAME@VERSION or a job id; with --local, a model file (model.mlhep).\n"
"\n"
"options:\n"
"  --shared           tag: share NAME with every user as well\n"
"  --full             features: the whole features document\n"
"  --local            features: REF is a model file read here (no service needed)\n"
"  --json             print the service's reply document\n"
"  --timeout SEC      wait at most SEC seconds for the reply (default 60)\n"
"  --config FILE      key=value configuration (default $MLHEP_CONFIG)\n"
"  --token-file FILE  bearer token from FILE (default: $MLHEP_TOKEN)\n"
"  -h, --help         this text\n"
"\n"
"exit codes: 0 ok, 1 internal error, 2 usage, 3 configuration, 4 token refused or model\n"
"not yours, 5 bad request, 6 broker or gateway, 8 unknown model or job, 16 no reply in time\n"
"\n"
"examples:\n"
"  mlhep-submit models tag 0123456789abcdef0123456789abcdef ttH --shared\n"
"  mlhep-submit models features ttH@1     # as below, with \"model\":\"ttH@1\"\n"
"  mlhep-submit models features --local run/model.mlhep\n"
"  {\"model\":\"run/model.mlhep\",\"kind\":\"mlp\",\"outputs\":1,\"width\":16,\"features\":[{\"name\":\n"
"  \"nJet\",\"kind\":\"flat\",\"len\":1},{\"name\":\"nBJet\",\"kind\":\"flat\",\"len\":1},{\"name\":\n"
"  \"MET_pt\",\"kind\":\"flat\",\"len\":1},{\"name\":\"HT\",\"kind\":\"flat\",\"len\":1},{\"name\":\n"
"  \"Jet_pt\",\"kind\":\"jagged\",\"len\":4},{\"name\":\"Jet_eta\",\"kind\":\"jagged\",\"len\":4},\n"
"  {\"name\":\"Jet_btagDeepB\",\"kind\":\"jagged\",\"len\":4}],\"classes\":[]}\n"
"A request file from these features: mlhep-submit predict --help.\n");
}

static void print_models(const json_t *d)
{
    const json_t *models = json_object_get(d, "models"), *jobs = json_object_get(d, "jobs"), *m;
    size_t i;
    printf("%-28s %-12s %-6s %-20s %-5s %8s  %s\n", "MODEL", "OWNER", "SHARED", "CREATED", "KIND", "FEATURES",
           "METRICS");
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const json_t *vs = json_object_get(m, "versions"), *v;
        size_t j;
        json_array_foreach(vs, j, v) {
            char ref[200], ts[32] = "?", met[256] = "";
            snprintf(ref, sizeof ref, "%s@%lld", name ? name : "?",
                     (long long)json_integer_value(json_object_get(v, "version")));
            time_t t = (time_t)json_integer_value(json_object_get(v, "created"));
            struct tm tm;
            if (gmtime_r(&t, &tm))
                strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            const char *k;
            const json_t *x;
            size_t mn = 0;
            json_object_foreach((json_t *)json_object_get(v, "metrics"), k, x)
                if (json_is_number(x) && mn < sizeof met - 40)
                    mn += (size_t)snprintf(met + mn, sizeof met - mn, "%s%.20s=%.4g", mn ? " " : "", k,
                                           json_number_value(x));
            printf("%-28s %-12s %-6s %-20s %-5s %8zu  %s\n", ref, json_string_value(json_object_get(m, "owner")),
                   json_is_true(json_object_get(m, "shared")) ? "yes" : "no", ts,
                   json_string_value(json_object_get(v, "kind")) ?: "?",
                   json_array_size(json_object_get(v, "features")), met);
        }
    }
    json_array_foreach(jobs, i, m) {
        char ts[32] = "?";
        time_t t = (time_t)json_integer_value(json_object_get(m, "created"));
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-28s %-12s %-6s %-20s %-5s %8zu  %s\n", json_string_value(json_object_get(m, "id")), "(job)", "-", ts,
               json_string_value(json_object_get(m, "kind")) ?: "?", json_array_size(json_object_get(m, "features")),
               json_string_value(json_object_get(m, "error")) ?: "");
    }
}

/* Through the gateway: the REST call for q's op; *reply and *doc as the broker's
 * "models" replies give them (features: the features document itself). */
static int models_gateway(gwclient *gw, const json_t *q, char **reply, json_t **doc)
{
    const char *op = json_string_value(json_object_get(q, "op"));
    const char *model = json_string_value(json_object_get(q, "model"));
    mlhep_err e;
    err_clear(&e);
    json_t *d = NULL;
    int rc;
    if (!strcmp(op, "list"))
        rc = gwclient_models(gw, &d, &e);
    else if (!strcmp(op, "tag"))
        rc = gwclient_model_tag(gw, json_string_value(json_object_get(q, "job")),
                                json_string_value(json_object_get(q, "name")),
                                json_is_true(json_object_get(q, "shared")), &d, &e);
    else if (!strcmp(op, "share"))
        rc = gwclient_model_share(gw, model, json_is_true(json_object_get(q, "shared")), &d, &e);
    else if (!strcmp(op, "delete"))
        rc = gwclient_model_delete(gw, model, &d, &e);
    else if (!(rc = gwclient_model(gw, model, &d, &e))) { /* features */
        json_t *f = json_incref(json_object_get(d, "features"));
        json_decref(d);
        d = f;
        if (d && !json_is_true(json_object_get(q, "full"))) /* as the broker's answer without --full */
            json_object_del(d, "document");
    }
    if (rc)
        return infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
    *reply = d ? json_dumps(d, JSON_COMPACT) : NULL;
    if (!*reply) {
        json_decref(d);
        return infer_svc_fail(INFER_X_INTERNAL, "the gateway's answer cannot be printed");
    }
    *doc = d;
    return 0;
}

static void print_document(const json_t *doc)
{
    char *t = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (t)
        printf("%s\n", t);
    free(t);
}

/* features of a model file, read here (--local): the whole document with --full. */
static int features_local(infer_svc_opts *o, const char *path)
{
    predict_model *pm = NULL;
    mlhep_err e;
    err_clear(&e);
    if (predict_model_load_file(path, &pm, &e))
        return infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
    json_t *doc = json_loads(predict_model_features_json(pm), 0, NULL);
    if (o->full) {
        print_document(doc);
    } else {
        const featmap *fm = predict_model_featmap(pm);
        json_t *fa = json_array();
        for (size_t i = 0; i < fm->nfeat; i++)
            json_array_append_new(fa, json_pack("{s:s, s:s, s:i}", "name", fm->feat[i].name, "kind",
                                                fm->feat[i].jagged ? "jagged" : "flat", "len", fm->feat[i].len));
        json_t *cl = json_object_get(doc, "classes");
        cl = cl ? json_incref(cl) : json_array();
        json_t *out = json_pack("{s:s, s:s, s:I, s:i, s:o, s:o}", "model", path, "kind", predict_model_kind(pm),
                                "outputs", (json_int_t)predict_model_outputs(pm), "width", fm->width, "features", fa,
                                "classes", cl);
        char *t = json_dumps(out, JSON_COMPACT);
        if (t)
            printf("%s\n", t);
        free(t);
        json_decref(out);
    }
    json_decref(doc);
    predict_model_free(pm);
    return INFER_X_OK;
}

int models_cmd_run(infer_svc_opts *o, int nargs, char **args)
{
    const char *op = nargs >= 1 ? args[0] : "list";
    json_t *q = NULL;
    if (!strcmp(op, "list") && nargs <= 1)
        q = json_pack("{s:s}", "op", "list");
    else if (!strcmp(op, "delete") && nargs == 2)
        q = json_pack("{s:s, s:s}", "op", "delete", "model", args[1]);
    else if (!strcmp(op, "tag") && nargs == 3) {
        q = json_pack("{s:s, s:s, s:s}", "op", "tag", "job", args[1], "name", args[2]);
        if (o->shared)
            json_object_set_new(q, "shared", json_true());
    } else if (!strcmp(op, "share") && nargs == 3 && (!strcmp(args[2], "on") || !strcmp(args[2], "off")))
        q = json_pack("{s:s, s:s, s:b}", "op", "share", "model", args[1], "shared", !strcmp(args[2], "on"));
    else if (!strcmp(op, "features") && nargs == 2 && o->local)
        return features_local(o, args[1]);
    else if (!strcmp(op, "features") && nargs == 2)
        q = json_pack("{s:s, s:s, s:b}", "op", "features", "model", args[1], "full", o->full);
    else
        return infer_svc_fail(INFER_X_USAGE, "usage: models [list] | delete REF | tag JOB_ID NAME [--shared] | "
                                             "share NAME on|off | features REF");
    if (!q)
        return infer_svc_fail(INFER_X_INTERNAL, "out of memory");
    infer_svc svc = {0};
    char *reply = NULL;
    json_t *d = NULL;
    int x = infer_svc_connect(o, &svc);
    if (!x && svc.gw) {
        x = models_gateway(svc.gw, q, &reply, &d);
    } else if (!x && !strcmp(op, "list")) {
        mlhep_err e;
        err_clear(&e);
        if (predict_rpc_models(svc.rpc, &reply, &d, infer_svc_timeout_ms(o), &e))
            x = infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
    } else if (!x) {
        x = infer_svc_json(o, &svc, "models", json_dumps(q, JSON_COMPACT), &reply, &d);
    }
    json_decref(q);
    if (!x) {
        if (o->json)
            printf("%s\n", reply);
        else if (!strcmp(op, "list"))
            print_models(d);
        else if (!strcmp(op, "tag"))
            printf("%s\n", json_string_value(json_object_get(d, "model")));
        else if (!strcmp(op, "delete"))
            printf("deleted %s\n", args[1]);
        else if (!strcmp(op, "share"))
            printf("%s shared: %s\n", args[1], args[2]);
        else if (o->full && json_is_object(json_object_get(d, "document")))
            print_document(json_object_get(d, "document"));
        else
            printf("%s\n", reply);
        json_decref(d);
        free(reply);
    }
    infer_svc_disconnect(&svc);
    return x;
}

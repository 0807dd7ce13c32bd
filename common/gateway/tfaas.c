/* tfaas.c - see tfaas.h. */
#include "gateway/tfaas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tfaas_status_for_code(const char *code)
{
    if (!code)
        return 500;
    if (!strcmp(code, "unknown_model"))
        return 404;
    if (!strcmp(code, "bad_request") || !strcmp(code, "unknown_branch"))
        return 400;
    if (!strcmp(code, "unauthorized"))
        return 401;
    if (!strcmp(code, "forbidden"))
        return 403;
    if (!strcmp(code, "too_large"))
        return 413;
    return 500;
}

static int error_doc(const char *msg, int status, char **out, size_t *outlen, int *st)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return MLHEP_ENOMEM;
    *out = s;
    *outlen = strlen(s);
    *st = status;
    return 0;
}

int tfaas_answer(const char *reply, size_t len, char **out, size_t *outlen, int *status)
{
    json_t *r = json_loadb(reply, len, 0, NULL);
    int rc;
    if (!json_is_object(r)) {
        rc = error_doc("the prediction service sent a reply that is not JSON", 502, out, outlen, status);
        json_decref(r);
        return rc;
    }
    const char *err = json_string_value(json_object_get(r, "error"));
    if (err) {
        rc = error_doc(err, tfaas_status_for_code(json_string_value(json_object_get(r, "code"))), out, outlen,
                       status);
        json_decref(r);
        return rc;
    }
    json_t *p = json_object_get(r, "predictions");
    json_t *row = json_array_get(p, 0);
    json_t *arr = NULL;
    if (json_is_number(row))
        arr = json_pack("[O]", row);
    else if (json_is_array(row))
        arr = json_incref(row);
    if (!arr) {
        rc = error_doc("the prediction service's reply holds no prediction", 502, out, outlen, status);
        json_decref(r);
        return rc;
    }
    char *s = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(arr);
    json_decref(r);
    if (!s)
        return MLHEP_ENOMEM;
    *out = s;
    *outlen = strlen(s);
    *status = 200;
    return 0;
}

int tfaas_models(const json_t *list_reply, json_t **out, mlhep_err *e)
{
    json_t *models = json_object_get(list_reply, "models");
    if (!json_is_array(models))
        return err_set(e, MLHEP_EFORMAT, "models reply without \"models\"");
    json_t *a = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!name)
            continue;
        json_t *versions = json_object_get(m, "versions");
        json_t *last = json_array_get(versions, json_array_size(versions) ? json_array_size(versions) - 1 : 0);
        json_t *o = json_pack("{s:s, s:s}", "name", name, "model", "model.mlhep");
        json_t *cl = json_object_get(last, "classes");
        json_object_set_new(o, "labels", json_is_array(cl) ? json_incref(cl) : json_array());
        json_t *kind = json_object_get(last, "kind");
        char desc[160];
        snprintf(desc, sizeof desc, "mlhep %s model, %zu version(s)", json_is_string(kind) ? json_string_value(kind) : "",
                 json_array_size(versions));
        json_object_set_new(o, "description", json_string(desc));
        json_t *created = json_object_get(last, "created");
        json_object_set_new(o, "timestamp", json_is_number(created) || json_is_string(created)
                                                ? json_incref(created) : json_string(""));
        json_array_append_new(a, o);
    }
    *out = a;
    return 0;
}

int tfaas_submit_workflow(const json_t *body, json_t **out, mlhep_err *e)
{
    if (!json_is_object(body))
        return err_set(e, MLHEP_EINVAL, "/submit: the body must be a JSON object");
    static const char *const known[] = {"name", "files", "labels", "model", "params", "preproc", "device",
                                        "memory", "cpus", "description", "tree"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        size_t i;
        for (i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!strcmp(k, known[i]))
                break;
        if (i == sizeof known / sizeof known[0])
            return err_set(e, MLHEP_EINVAL, "/submit: unknown key '%s' (MLaaS4HEP's keys are name, files, labels, "
                                            "model, params, preproc, device, memory, cpus)", k);
    }
    json_t *name = json_object_get(body, "name");
    json_t *files = json_object_get(body, "files");
    json_t *labels = json_object_get(body, "labels");
    json_t *model = json_object_get(body, "model");
    json_t *params = json_object_get(body, "params");
    if (!json_is_string(name))
        return err_set(e, MLHEP_EINVAL, "/submit: \"name\" (a string) is required");
    if (!files || !labels)
        return err_set(e, MLHEP_EINVAL, "/submit: \"files\" and \"labels\" are required");
    if (json_is_string(model))
        return err_set(e, MLHEP_EINVAL, "/submit: \"model\" names a file ('%s'); give the model itself as a JSON "
                                        "object (mlhep's {\"type\":\"mlp\",...} or a Keras model.to_json() document)",
                       json_string_value(model));
    if (!json_is_object(model))
        return err_set(e, MLHEP_EINVAL, "/submit: \"model\" (a JSON object) is required");
    if (json_is_string(params))
        return err_set(e, MLHEP_EINVAL, "/submit: \"params\" names a file ('%s'); give the params.json content "
                                        "itself as a JSON object", json_string_value(params));
    if (params && !json_is_object(params))
        return err_set(e, MLHEP_EINVAL, "/submit: \"params\" must be a JSON object");
    json_t *w = json_object();
    json_object_set(w, "name", name);
    json_object_set_new(w, "files", json_is_string(files) ? json_pack("[O]", files) : json_incref(files));
    json_object_set(w, "labels", labels); /* a list, or (mlhep) the name of a label branch */
    json_object_set(w, "model", model);
    if (params)
        json_object_set(w, "params", params);
    static const char *const copied[] = {"preproc", "description", "tree"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        json_t *x = json_object_get(body, copied[i]);
        if (x)
            json_object_set(w, copied[i], x);
    }
    *out = w;
    return 0;
}

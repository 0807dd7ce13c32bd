/* test_gateway_tfaas.c - TFaaS and MLaaS4HEP formats (gateway/tfaas.h): the bare-array
 * answer from a prediction reply (binary score, class probabilities, service errors with
 * their HTTP status, replies that are not predictions), the TFaaS model list, and the
 * MLaaS4HEP /submit body turned into an mlhep workflow (with every refusal). */
#include "gateway/tfaas.h"
#include "test.h"

#include <stdlib.h>

/* tfaas_answer on text; the answer in out (freed by the caller). */
static int answer(const char *reply, char **out, int *status)
{
    size_t len = 0;
    return tfaas_answer(reply, strlen(reply), out, &len, status);
}

TEST(answers)
{
    char *out = NULL;
    int st = 0;
    CHECK_EQ_INT(answer("{\"model\":\"m@1\",\"predictions\":[0.086]}", &out, &st), 0);
    CHECK_EQ_INT(st, 200);
    CHECKF(!strcmp(out, "[0.086]"), "%s", out); /* TFaaS's bare array */
    free(out);
    /* a float32 score keeps the 9 digits that tell it apart */
    CHECK_EQ_INT(answer("{\"predictions\":[0.123456791043281555]}", &out, &st), 0);
    CHECKF(!strcmp(out, "[0.123456791]"), "%s", out);
    free(out);
    CHECK_EQ_INT(answer("{\"predictions\":[[0.1,0.2,0.7],[1,0,0]],\"classes\":[\"a\",\"b\",\"c\"]}", &out, &st), 0);
    CHECK_EQ_INT(st, 200);
    CHECKF(!strcmp(out, "[0.1,0.2,0.7]"), "%s", out); /* the first row only */
    free(out);
    /* service errors keep their message; the code sets the status */
    static const struct {
        const char *code;
        int status;
    } codes[] = {{"unknown_model", 404}, {"bad_request", 400}, {"unknown_branch", 400}, {"unauthorized", 401},
                 {"forbidden", 403},     {"too_large", 413},   {"internal", 500},       {"whatever", 500}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char r[200];
        snprintf(r, sizeof r, "{\"error\":\"it \\\"broke\\\"\",\"code\":\"%s\"}", codes[i].code);
        CHECK_EQ_INT(answer(r, &out, &st), 0);
        CHECKF(st == codes[i].status && !strcmp(out, "{\"error\":\"it \\\"broke\\\"\"}"), "%s: %d %s", codes[i].code,
               st, out);
        free(out);
    }
    CHECK_EQ_INT(answer("{\"error\":\"no code\"}", &out, &st), 0);
    CHECK_EQ_INT(st, 500);
    free(out);
    /* not a prediction: 502 naming it */
    static const char *const junk[] = {"", "[0.5]", "not json", "{\"predictions\":[]}", "{\"predictions\":[\"x\"]}",
                                       "{\"predictions\":0.5}", "{}", "{\"error\":5}"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        CHECK_EQ_INT(answer(junk[i], &out, &st), 0);
        CHECKF(st == 502 && strstr(out, "\"error\""), "'%s': %d %s", junk[i], st, out);
        free(out);
    }
    CHECK_EQ_INT(tfaas_status_for_code(NULL), 500);
}

TEST(model_list)
{
    json_t *reply = json_loads(
        "{\"ok\":true,\"models\":["
        "{\"name\":\"ttH\",\"owner\":\"alice\",\"versions\":[{\"version\":1,\"kind\":\"mlp\",\"created\":1700000000},"
        "{\"version\":2,\"kind\":\"gbdt\",\"created\":1700000100,\"classes\":[\"bkg\",\"sig\"]}]},"
        "{\"name\":\"solo\",\"versions\":[]},{\"owner\":\"nameless\"}]}",
        0, NULL);
    json_t *out = NULL;
    mlhep_err e = {0};
    CHECKF(tfaas_models(reply, &out, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(json_array_size(out), 2);
    json_t *a = json_array_get(out, 0);
    CHECK(!strcmp(json_string_value(json_object_get(a, "name")), "ttH"));
    CHECK(!strcmp(json_string_value(json_object_get(a, "model")), "model.mlhep"));
    CHECK_EQ_INT(json_array_size(json_object_get(a, "labels")), 2);
    CHECKF(!strcmp(json_string_value(json_object_get(a, "description")), "mlhep gbdt model, 2 version(s)"), "%s",
           json_string_value(json_object_get(a, "description")));
    CHECK(json_integer_value(json_object_get(a, "timestamp")) == 1700000100);
    json_t *b = json_array_get(out, 1);
    CHECK(json_array_size(json_object_get(b, "labels")) == 0 && json_is_string(json_object_get(b, "timestamp")));
    json_decref(out);
    json_decref(reply);
    reply = json_loads("{\"ok\":true}", 0, NULL);
    CHECK_EQ_INT(tfaas_models(reply, &out, &e), MLHEP_EFORMAT);
    json_decref(reply);
}

/* tfaas_submit_workflow on text: the workflow (compact, sorted) or NULL with e. */
static char *convert(const char *body, mlhep_err *e)
{
    json_t *b = json_loads(body, 0, NULL);
    json_t *w = NULL;
    int rc = tfaas_submit_workflow(b, &w, e);
    json_decref(b);
    if (rc)
        return NULL;
    char *t = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(w);
    return t;
}

TEST(mlaas_submit)
{
    mlhep_err e = {0};
    char *w = convert("{\"name\":\"demo\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"labels\":[1,0],"
                      "\"model\":{\"type\":\"mlp\"},\"params\":{\"epochs\":2},\"preproc\":{\"x\":1},"
                      "\"device\":\"gpu\",\"memory\":\"4G\",\"cpus\":4,\"tree\":\"events\",\"description\":\"d\"}",
                      &e);
    CHECKF(w, "%s", e.msg);
    CHECKF(!strcmp(w, "{\"description\":\"d\",\"files\":[{\"label\":1,\"path\":\"a.root\"}],\"labels\":[1,0],"
                      "\"model\":{\"type\":\"mlp\"},\"name\":\"demo\",\"params\":{\"epochs\":2},\"preproc\":{\"x\":1},"
                      "\"tree\":\"events\"}"),
           "%s", w);
    free(w);
    /* one file as a string, labels naming a branch, no params */
    w = convert("{\"name\":\"n\",\"files\":\"f.root\",\"labels\":\"isSignal\",\"model\":{\"class_name\":\"Sequential\"}}",
                &e);
    CHECKF(w && !strcmp(w, "{\"files\":[\"f.root\"],\"labels\":\"isSignal\",\"model\":{\"class_name\":\"Sequential\"},"
                           "\"name\":\"n\"}"),
           "%s", w ? w : e.msg);
    free(w);
    static const struct {
        const char *body, *needle;
    } bad[] = {
        {"[1]", "the body must be a JSON object"},
        {"{\"name\":\"n\",\"files\":[],\"labels\":[],\"model\":{},\"gpu\":1}", "unknown key 'gpu'"},
        {"{\"files\":[],\"labels\":[],\"model\":{}}", "\"name\" (a string) is required"},
        {"{\"name\":5,\"files\":[],\"labels\":[],\"model\":{}}", "\"name\" (a string) is required"},
        {"{\"name\":\"n\",\"labels\":[],\"model\":{}}", "\"files\" and \"labels\" are required"},
        {"{\"name\":\"n\",\"files\":[],\"model\":{}}", "\"files\" and \"labels\" are required"},
        {"{\"name\":\"n\",\"files\":[],\"labels\":[],\"model\":\"model.py\"}", "names a file ('model.py')"},
        {"{\"name\":\"n\",\"files\":[],\"labels\":[]}", "\"model\" (a JSON object) is required"},
        {"{\"name\":\"n\",\"files\":[],\"labels\":[],\"model\":{},\"params\":\"params.json\"}",
         "\"params\" names a file ('params.json')"},
        {"{\"name\":\"n\",\"files\":[],\"labels\":[],\"model\":{},\"params\":[1]}", "\"params\" must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = (mlhep_err){0};
        w = convert(bad[i].body, &e);
        CHECKF(!w && e.code == MLHEP_EINVAL && strstr(e.msg, bad[i].needle) && !strncmp(e.msg, "/submit: ", 9),
               "%s: %s", bad[i].body, w ? w : e.msg);
    }
    json_t *out = NULL;
    CHECK_EQ_INT(tfaas_submit_workflow(NULL, &out, &e), MLHEP_EINVAL);
}

int main(void)
{
    RUN(answers);
    RUN(model_list);
    RUN(mlaas_submit);
    return test_summary();
}

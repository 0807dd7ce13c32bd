/* test_gateway_kserve.c - the KServe / Open Inference Protocol v2 format (gateway/kserve.h):
 * requests parsed into binary columnar requests and read back with colreq_parse (every
 * datatype, flat and nested data, [N, 1], jagged rows cut at the first NaN written as
 * null, the binary tensor extension with the JSON length), every refusal with a message
 * naming the input, responses in JSON and binary, and model metadata; jagged inputs of no
 * values. FP64 tensors of a float32 branch (decimal text of float32 values) give the rows
 * of its FP32 tensor. */
#include "gateway/kserve.h"
#include "data/featmap.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Parses the request text (all JSON) with shape-decided kinds; the columnar request is
 * parsed back into q (views into *cb). */
static int parse(const char *body, wbuf *cb, colreq *q, kserve_request *rq, mlhep_err *e)
{
    int rc = kserve_parse_infer(body, strlen(body), 0, "m@1", NULL, NULL, cb, rq, e);
    if (rc)
        return rc;
    return colreq_parse(cb->p, cb->len, q, e);
}

static const colreq_col *col(const colreq *q, const char *name)
{
    for (size_t i = 0; i < q->ncols; i++)
        if (q->cols[i].name_len == strlen(name) && !memcmp(q->cols[i].name, name, q->cols[i].name_len))
            return &q->cols[i];
    return NULL;
}

static uint32_t off_at(const colreq_col *c, size_t i)
{
    uint32_t v;
    memcpy(&v, c->offsets + 4 * i, 4);
    return v;
}

TEST(flat_fp32_and_nested_data)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    kserve_request rq;
    mlhep_err e = {0};
    /* [N], [N, 1] with nested rows, integers written for FP32 */
    const char *req = "{\"id\":\"r-1\",\"inputs\":["
                      "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1.5,-2,3e2]},"
                      "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[3,1],\"data\":[[4],[5],[6.25]]}]}";
    CHECKF(parse(req, &cb, &q, &rq, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(q.model, "m@1"));
    CHECK_EQ_INT(q.nrows, 3);
    CHECK_EQ_INT(q.ncols, 2);
    CHECK_EQ_INT(rq.nrows, 3);
    CHECK(!strcmp(rq.id, "r-1"));
    CHECK(!rq.binary_output);
    CHECK(!strcmp(rq.output_name, "output"));
    const colreq_col *a = col(&q, "a"), *b = col(&q, "b");
    CHECK(a && b && !a->jagged && !b->jagged && a->type == COL_F32 && a->nvalues == 3 && b->nvalues == 3);
    float f[3];
    memcpy(f, a->values, 12);
    CHECK(f[0] == 1.5f && f[1] == -2.0f && f[2] == 300.0f);
    memcpy(f, b->values, 12);
    CHECK(f[0] == 4.0f && f[1] == 5.0f && f[2] == 6.25f);
    colreq_free(&q);
    wbuf_free(&cb);
}

TEST(jagged_rows_cut_at_null)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    kserve_request rq;
    mlhep_err e = {0};
    /* [N, L] FP32 rows padded with null (NaN), nested and flat data; FP64 too; an
     * integer jagged input uses all L values */
    const char *req = "{\"inputs\":["
                      "{\"name\":\"j\",\"datatype\":\"FP32\",\"shape\":[3,3],"
                      "\"data\":[[1,2,null],[null,null,null],[3,4,5]]},"
                      "{\"name\":\"d\",\"datatype\":\"FP64\",\"shape\":[3,2],\"data\":[0.5,null,1,2,null,7]},"
                      "{\"name\":\"k\",\"datatype\":\"INT32\",\"shape\":[3,2],\"data\":[[1,2],[3,4],[5,6]]}]}";
    CHECKF(parse(req, &cb, &q, &rq, &e) == 0, "%s", e.msg);
    const colreq_col *j = col(&q, "j"), *d = col(&q, "d"), *k = col(&q, "k");
    CHECK(j && d && k && j->jagged && d->jagged && k->jagged);
    CHECK_EQ_INT(j->nvalues, 5);
    CHECK(off_at(j, 0) == 0 && off_at(j, 1) == 2 && off_at(j, 2) == 2 && off_at(j, 3) == 5);
    float f[5];
    memcpy(f, j->values, sizeof f);
    CHECK(f[0] == 1 && f[1] == 2 && f[2] == 3 && f[3] == 4 && f[4] == 5);
    CHECK_EQ_INT(d->nvalues, 3); /* [0.5], [1, 2], [] : the last row stops at its first value */
    CHECK(off_at(d, 1) == 1 && off_at(d, 2) == 3 && off_at(d, 3) == 3);
    double x[3];
    memcpy(x, d->values, sizeof x);
    CHECK(x[0] == 0.5 && x[1] == 1 && x[2] == 2);
    CHECK_EQ_INT(k->nvalues, 6);
    CHECK(off_at(k, 3) == 6);
    colreq_free(&q);
    wbuf_free(&cb);
}

/* Rows of no values at all ([N, 0], and rows that start with NaN): an empty jagged
 * column, offsets all 0 (the packing of jagged rows has nothing to copy). */
TEST(jagged_with_no_values)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    kserve_request rq;
    mlhep_err e = {0};
    const char *req = "{\"inputs\":[{\"name\":\"z\",\"datatype\":\"FP32\",\"shape\":[2,0],\"data\":[]},"
                      "{\"name\":\"n\",\"datatype\":\"FP32\",\"shape\":[2,2],\"data\":[[null,1],[null,null]]}]}";
    CHECKF(parse(req, &cb, &q, &rq, &e) == 0, "%s", e.msg);
    const colreq_col *z = col(&q, "z"), *n = col(&q, "n");
    CHECK(z && n && z->jagged && n->jagged);
    CHECK_EQ_INT(z->nvalues, 0);
    CHECK_EQ_INT(n->nvalues, 0);
    CHECK(off_at(z, 2) == 0 && off_at(n, 1) == 0 && off_at(n, 2) == 0);
    colreq_free(&q);
    /* the only jagged input holds nothing: nothing to pack into */
    const char *r2 = "{\"inputs\":[{\"name\":\"z\",\"datatype\":\"FP32\",\"shape\":[3,0],\"data\":[]}]}";
    memset(&q, 0, sizeof q);
    CHECKF(parse(r2, &cb, &q, &rq, &e) == 0, "%s", e.msg);
    z = col(&q, "z");
    CHECK(z && z->jagged && z->nvalues == 0 && off_at(z, 3) == 0);
    colreq_free(&q);
    wbuf_free(&cb);
}

/* The model of kinds_from_the_model: "flat" flat, "jag" jagged, nothing else. */
static int kind_fn(void *cls, const char *name)
{
    (*(int *)cls)++;
    if (!strcmp(name, "flat"))
        return 0;
    if (!strcmp(name, "jag"))
        return 1;
    return -1;
}

TEST(kinds_from_the_model)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    kserve_request rq;
    mlhep_err e = {0};
    int calls = 0;
    const char *req = "{\"inputs\":[{\"name\":\"flat\",\"datatype\":\"FP32\",\"shape\":[2,1],\"data\":[1,2]},"
                      "{\"name\":\"jag\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[7,null]}]}";
    CHECKF(kserve_parse_infer(req, strlen(req), 0, "m", kind_fn, &calls, &cb, &rq, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(calls, 2);
    CHECKF(colreq_parse(cb.p, cb.len, &q, &e) == 0, "%s", e.msg);
    const colreq_col *f = col(&q, "flat"), *j = col(&q, "jag");
    CHECK(f && !f->jagged && f->nvalues == 2);
    CHECK(j && j->jagged && j->nvalues == 1 && off_at(j, 1) == 1 && off_at(j, 2) == 1);
    colreq_free(&q);
    /* a flat branch sent as [N, L > 1]: refused */
    const char *r2 = "{\"inputs\":[{\"name\":\"flat\",\"datatype\":\"FP32\",\"shape\":[1,2],\"data\":[1,2]}]}";
    CHECK_EQ_INT(kserve_parse_infer(r2, strlen(r2), 0, "m", kind_fn, &calls, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "'flat' is a flat branch") && strstr(e.msg, "[1, 2]"), "%s", e.msg);
    /* not a branch of the model: MLHEP_ENOTFOUND naming the input and where the model's are listed */
    const char *r3 = "{\"inputs\":[{\"name\":\"bogus\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}";
    CHECK_EQ_INT(kserve_parse_infer(r3, strlen(r3), 0, "ttH@2", kind_fn, &calls, &cb, &rq, &e), MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "'bogus'") && strstr(e.msg, "/v2/models/ttH@2"), "%s", e.msg);
    wbuf_free(&cb);
}

/* One input of datatype dt with the given data, parsed; the column's values copied out. */
static int one(const char *dt, const char *data, const char *shape, wbuf *cb, colreq *q, mlhep_err *e)
{
    char req[1024];
    snprintf(req, sizeof req, "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"%s\",\"shape\":%s,\"data\":%s}]}", dt,
             shape, data);
    kserve_request rq;
    colreq_free(q);
    memset(q, 0, sizeof *q);
    int rc = kserve_parse_infer(req, strlen(req), 0, "m", NULL, NULL, cb, &rq, e);
    if (rc)
        return rc;
    return colreq_parse(cb->p, cb->len, q, e);
}

TEST(every_datatype)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    mlhep_err e = {0};
    CHECKF(one("BOOL", "[true,false,true]", "[3]", &cb, &q, &e) == 0, "%s", e.msg);
    CHECK(q.cols[0].type == COL_BOOL && q.cols[0].values[0] == 1 && q.cols[0].values[1] == 0);
    CHECKF(one("INT8", "[-128,127]", "[2]", &cb, &q, &e) == 0, "%s", e.msg);
    CHECK(q.cols[0].type == COL_I8 && (int8_t)q.cols[0].values[0] == -128 && (int8_t)q.cols[0].values[1] == 127);
    CHECKF(one("UINT8", "[0,255]", "[2]", &cb, &q, &e) == 0, "%s", e.msg);
    CHECK(q.cols[0].type == COL_U8 && q.cols[0].values[1] == 255);
    int16_t i16[2];
    CHECKF(one("INT16", "[-32768,32767]", "[2]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(i16, q.cols[0].values, 4);
    CHECK(q.cols[0].type == COL_I16 && i16[0] == -32768 && i16[1] == 32767);
    uint16_t u16[1];
    CHECKF(one("UINT16", "[65535]", "[1]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(u16, q.cols[0].values, 2);
    CHECK(q.cols[0].type == COL_U16 && u16[0] == 65535);
    int32_t i32[2];
    CHECKF(one("INT32", "[-2147483648,2147483647]", "[2]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(i32, q.cols[0].values, 8);
    CHECK(q.cols[0].type == COL_I32 && i32[0] == INT32_MIN && i32[1] == INT32_MAX);
    uint32_t u32[1];
    CHECKF(one("UINT32", "[4294967295]", "[1]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(u32, q.cols[0].values, 4);
    CHECK(q.cols[0].type == COL_U32 && u32[0] == UINT32_MAX);
    int64_t i64[2];
    CHECKF(one("INT64", "[-9223372036854775808,9223372036854775807]", "[2]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(i64, q.cols[0].values, 16);
    CHECK(q.cols[0].type == COL_I64 && i64[0] == INT64_MIN && i64[1] == INT64_MAX);
    uint64_t u64[1];
    CHECKF(one("UINT64", "[9223372036854775807]", "[1]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(u64, q.cols[0].values, 8);
    CHECK(q.cols[0].type == COL_U64 && u64[0] == (uint64_t)INT64_MAX);
    double f64[2];
    CHECKF(one("FP64", "[1e-300,null]", "[2]", &cb, &q, &e) == 0, "%s", e.msg);
    memcpy(f64, q.cols[0].values, 16);
    CHECK(q.cols[0].type == COL_F64 && f64[0] == 1e-300 && isnan(f64[1]));
    float f32[1];
    CHECKF(one("FP32", "[null]", "[1]", &cb, &q, &e) == 0, "%s", e.msg); /* flat: null is NaN, kept */
    memcpy(f32, q.cols[0].values, 4);
    CHECK(isnan(f32[0]));
    colreq_free(&q);
    wbuf_free(&cb);
}

TEST(datatype_refusals)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    mlhep_err e = {0};
    static const struct {
        const char *dt, *data, *needle;
    } bad[] = {
        {"INT8", "[128]", "element 0 = 128 is out of range for"},
        {"INT8", "[-129]", "out of range"},
        {"UINT8", "[-1]", "out of range"},
        {"UINT8", "[256]", "out of range"},
        {"INT16", "[32768]", "out of range"},
        {"UINT16", "[65536]", "out of range"},
        {"INT32", "[2147483648]", "out of range"},
        {"UINT32", "[4294967296]", "out of range"},
        {"UINT64", "[-1]", "out of range"},
        {"INT32", "[1.5]", "element 0 is not an integer"},
        {"INT64", "[null]", "not an integer"},
        {"BOOL", "[1]", "BOOL data must be true or false"},
        {"FP32", "[\"1\"]", "element 0 is not a number (or null for a missing value)"},
        {"FP64", "[true]", "not a number"},
        {"FP16", "[1]", "datatype FP16 is not supported"},
        {"BF16", "[1]", "datatype BF16 is not supported"},
        {"BYTES", "[\"a\"]", "datatype BYTES is not supported"},
        {"fp32", "[1]", "datatype fp32 is not supported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = one(bad[i].dt, bad[i].data, "[1]", &cb, &q, &e);
        CHECKF(rc == MLHEP_EINVAL && strstr(e.msg, "'x'") && strstr(e.msg, bad[i].needle), "%s %s: rc %d: %s",
               bad[i].dt, bad[i].data, rc, e.msg);
    }
    colreq_free(&q);
    wbuf_free(&cb);
}

TEST(request_refusals)
{
    wbuf cb = WBUF_INIT;
    kserve_request rq;
    mlhep_err e = {0};
    static const struct {
        const char *req, *needle;
        int code;
    } bad[] = {
        {"", "not valid JSON", MLHEP_EINVAL},
        {"[1]", "non-empty \"inputs\" array", MLHEP_EINVAL},
        {"{\"inputs\":[]}", "non-empty \"inputs\" array", MLHEP_EINVAL},
        {"{\"inputs\":{}}", "non-empty \"inputs\" array", MLHEP_EINVAL},
        {"{\"inputs\":[1]}", "input 0 needs \"name\", \"datatype\" and \"shape\"", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", "input 0 needs",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"data\":[1]}]}", "\"shape\" must be [N] or [N, L]",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,1,1],\"data\":[1]}]}", "must be [N] or",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[1]}]}", "whole numbers >= 0",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1.5],\"data\":[1]}]}", "whole numbers",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[100000000000],\"data\":[1]}]}", "too large",
         MLHEP_ENOMEM},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[100000,100000],\"data\":[1]}]}", "too large",
         MLHEP_ENOMEM},
        /* a large shape with a small body: refused before any memory is taken for it */
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP64\",\"shape\":[1000000,900],\"data\":[1]}]}",
         "data holds fewer elements than shape [1000000, 900] says", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1]}]}",
         "data holds 1 elements, shape says 2", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1,2]}]}",
         "data holds more elements than shape [1] says", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[[[1]]]}]}",
         "nested deeper than its shape", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1]}]}", "needs \"data\" (an array)",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":1}]}", "needs \"data\"",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[0],\"data\":[]}]}", "no rows (N = 0)",
         MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
         "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "input 'a' is given twice", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
         "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]}]}",
         "input 'b' has 2 rows, input 'a' has 1", MLHEP_EINVAL},
        {"{\"id\":7,\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "\"id\" must be a string", MLHEP_EINVAL},
        {"{\"outputs\":[{\"name\":\"prob\"}],\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],"
         "\"data\":[1]}]}", "unknown output 'prob'", MLHEP_EINVAL},
        {"{\"outputs\":[{\"name\":\"output\"},{\"name\":\"output\"}],\"inputs\":[{\"name\":\"a\",\"datatype\":"
         "\"FP32\",\"shape\":[1],\"data\":[1]}]}", "at most one output", MLHEP_EINVAL},
        {"{\"inputs\":[{\"name\":\"a\",\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "not valid JSON", MLHEP_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = kserve_parse_infer(bad[i].req, strlen(bad[i].req), 0, "m", NULL, NULL, &cb, &rq, &e);
        CHECKF(rc == bad[i].code && strstr(e.msg, bad[i].needle), "#%zu: rc %d: %s", i, rc, e.msg);
    }
    /* an id of 127 bytes is echoed, 128 is refused */
    char req[512], id[129];
    memset(id, 'i', 128);
    id[128] = '\0';
    snprintf(req, sizeof req, "{\"id\":\"%s\",\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],"
                              "\"data\":[1]}]}", id);
    CHECK_EQ_INT(kserve_parse_infer(req, strlen(req), 0, "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    id[127] = '\0';
    snprintf(req, sizeof req, "{\"id\":\"%s\",\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],"
                              "\"data\":[1]}]}", id);
    CHECKF(kserve_parse_infer(req, strlen(req), 0, "m", NULL, NULL, &cb, &rq, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(rq.id, id));
    /* a model reference the columnar format cannot carry */
    char ref[400];
    memset(ref, 'm', sizeof ref - 1);
    ref[sizeof ref - 1] = '\0';
    const char *ok = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}";
    CHECK(kserve_parse_infer(ok, strlen(ok), 0, ref, NULL, NULL, &cb, &rq, &e) != 0);
    wbuf_free(&cb);
}

/* JSON part + binary tensors, as a v2 client with the binary extension sends them. */
static size_t binary_request(char *out, size_t cap, const char *json, const void *bin, size_t binlen)
{
    size_t jl = strlen(json);
    if (jl + binlen > cap)
        return 0;
    memcpy(out, json, jl);
    memcpy(out + jl, bin, binlen);
    return jl + binlen;
}

TEST(binary_tensor_extension)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    kserve_request rq;
    mlhep_err e = {0};
    float a[3] = {1.5f, 2.5f, -3.0f};
    float j[6] = {1, NAN, 4, 5, NAN, NAN}; /* rows [1], [4, 5], [] */
    int64_t k[3] = {7, 8, 9};
    uint8_t bin[12 + 24 + 24];
    memcpy(bin, a, 12);
    memcpy(bin + 12, j, 24);
    memcpy(bin + 36, k, 24);
    const char *json = "{\"inputs\":["
                       "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[3],\"parameters\":{\"binary_data_size\":12}},"
                       "{\"name\":\"j\",\"datatype\":\"FP32\",\"shape\":[3,2],\"parameters\":{\"binary_data_size\":24}},"
                       "{\"name\":\"k\",\"datatype\":\"INT64\",\"shape\":[3],\"parameters\":{\"binary_data_size\":24}}],"
                       "\"outputs\":[{\"name\":\"output\",\"parameters\":{\"binary_data\":true}}]}";
    char body[4096];
    size_t len = binary_request(body, sizeof body, json, bin, sizeof bin);
    CHECKF(kserve_parse_infer(body, len, strlen(json), "m", NULL, NULL, &cb, &rq, &e) == 0, "%s", e.msg);
    CHECK(rq.binary_output);
    CHECKF(colreq_parse(cb.p, cb.len, &q, &e) == 0, "%s", e.msg);
    const colreq_col *ca = col(&q, "a"), *cj = col(&q, "j"), *ck = col(&q, "k");
    CHECK(ca && !memcmp(ca->values, a, 12));
    CHECK(cj && cj->jagged && cj->nvalues == 3 && off_at(cj, 1) == 1 && off_at(cj, 2) == 3 && off_at(cj, 3) == 3);
    float jv[3];
    memcpy(jv, cj->values, 12);
    CHECK(jv[0] == 1 && jv[1] == 4 && jv[2] == 5);
    CHECK(ck && ck->type == COL_I64 && !memcmp(ck->values, k, 24));
    colreq_free(&q);

    /* mixed: one input in JSON, one binary; the request-level binary_data_output */
    const char *mixed = "{\"parameters\":{\"binary_data_output\":true},\"inputs\":["
                        "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2,3]},"
                        "{\"name\":\"k\",\"datatype\":\"INT64\",\"shape\":[3],\"parameters\":{\"binary_data_size\":24}}]}";
    len = binary_request(body, sizeof body, mixed, k, 24);
    CHECKF(kserve_parse_infer(body, len, strlen(mixed), "m", NULL, NULL, &cb, &rq, &e) == 0, "%s", e.msg);
    CHECK(rq.binary_output);

    /* refusals: length beyond the body, short data, bytes left over, wrong size, both */
    CHECK_EQ_INT(kserve_parse_infer(body, len, len + 1, "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "Inference-Header-Content-Length"), "%s", e.msg);
    CHECK_EQ_INT(kserve_parse_infer(body, len - 1, strlen(mixed), "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "input 'k': binary data ends early (23 bytes left, 24 needed)"), "%s", e.msg);
    char longer[4096];
    memcpy(longer, body, len);
    longer[len] = 0;
    CHECK_EQ_INT(kserve_parse_infer(longer, len + 1, strlen(mixed), "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "1 bytes after the last input's binary data"), "%s", e.msg);
    /* without the JSON length the whole body is taken as JSON: not valid JSON */
    CHECK_EQ_INT(kserve_parse_infer(body, len, 0, "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    const char *wrong = "{\"inputs\":[{\"name\":\"k\",\"datatype\":\"INT64\",\"shape\":[3],"
                        "\"parameters\":{\"binary_data_size\":12}}]}";
    len = binary_request(body, sizeof body, wrong, k, 12);
    CHECK_EQ_INT(kserve_parse_infer(body, len, strlen(wrong), "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "binary_data_size must be 24 (shape x 8 bytes)"), "%s", e.msg);
    const char *both = "{\"inputs\":[{\"name\":\"k\",\"datatype\":\"INT64\",\"shape\":[3],\"data\":[1,2,3],"
                       "\"parameters\":{\"binary_data_size\":24}}]}";
    len = binary_request(body, sizeof body, both, k, 24);
    CHECK_EQ_INT(kserve_parse_infer(body, len, strlen(both), "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "both \"data\" and binary_data_size"), "%s", e.msg);
    /* a huge binary shape with a few bytes of data: refused before allocating */
    const char *huge = "{\"inputs\":[{\"name\":\"k\",\"datatype\":\"FP64\",\"shape\":[100000000,10],"
                       "\"parameters\":{\"binary_data_size\":8000000000}}]}";
    len = binary_request(body, sizeof body, huge, k, 24);
    CHECK_EQ_INT(kserve_parse_infer(body, len, strlen(huge), "m", NULL, NULL, &cb, &rq, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "binary data ends early"), "%s", e.msg);
    wbuf_free(&cb);
}

/* Binary jagged tensors of every width 1..13 with rows cut at every place (the SSE2
 * groups of four, their tails, no NaN, NaN first): the packed rows equal a scalar
 * reference, for FP32, FP64 and INT32 (integer rows kept whole). */
static int all_jagged(void *cls, const char *name)
{
    (void)cls;
    (void)name;
    return 1;
}

TEST(binary_jagged_cut_everywhere)
{
    wbuf cb = WBUF_INIT;
    colreq q = {0};
    kserve_request rq;
    mlhep_err e = {0};
    enum { N = 14, LMAX = 13 };
    static char body[16384];
    for (int dt = 0; dt < 3; dt++) {
        size_t sz = dt == 1 ? 8 : 4;
        for (size_t l = 1; l <= LMAX; l++) {
            uint8_t bin[N * LMAX * 8], want[N * LMAX * 8];
            uint32_t wofs[N + 1] = {0};
            size_t nw = 0;
            for (size_t r = 0; r < N; r++) {
                size_t cut = r % (l + 1); /* 0..l; l: no NaN */
                for (size_t c = 0; c < l; c++) {
                    double v = c >= cut && dt != 2 ? NAN : (double)(r * 100 + c) + 0.5 * (dt != 2);
                    uint8_t *p = bin + (r * l + c) * sz;
                    if (dt == 0) {
                        float f = (float)v;
                        memcpy(p, &f, 4);
                    } else if (dt == 1) {
                        memcpy(p, &v, 8);
                    } else {
                        int32_t k = (int32_t)v;
                        memcpy(p, &k, 4);
                    }
                    if (dt == 2 || c < cut)
                        memcpy(want + nw++ * sz, p, sz);
                }
                wofs[r + 1] = (uint32_t)nw;
            }
            char json[512];
            snprintf(json, sizeof json,
                     "{\"inputs\":[{\"name\":\"j\",\"datatype\":\"%s\",\"shape\":[%d,%zu],"
                     "\"parameters\":{\"binary_data_size\":%zu}}]}",
                     dt == 0 ? "FP32" : dt == 1 ? "FP64" : "INT32", N, l, N * l * sz);
            size_t len = binary_request(body, sizeof body, json, bin, N * l * sz);
            char *exact = malloc(len); /* the body's own size: a read past it is ASan's to see */
            memcpy(exact, body, len);
            int prc = kserve_parse_infer(exact, len, strlen(json), "m", all_jagged, NULL, &cb, &rq, &e);
            free(exact);
            CHECKF(prc == 0, "%s", e.msg);
            CHECKF(colreq_parse(cb.p, cb.len, &q, &e) == 0, "%s", e.msg);
            const colreq_col *cj = col(&q, "j");
            CHECKF(cj && cj->jagged && cj->nvalues == nw, "dt %d l %zu: %zu values, want %zu", dt, l,
                   cj ? cj->nvalues : 0, nw);
            for (size_t r = 0; cj && r <= N; r++)
                CHECKF(off_at(cj, r) == wofs[r], "dt %d l %zu row %zu", dt, l, r);
            CHECKF(cj && !memcmp(cj->values, want, nw * sz), "dt %d l %zu: values differ", dt, l);
        }
    }
    colreq_free(&q);
    wbuf_free(&cb);
}

/* A kind function over a fixed list: "name:k" entries, anything else -1. */
static int listed_kind(void *cls, const char *name)
{
    for (const char *const *p = cls; *p; p++) {
        size_t n = strlen(name);
        if (!strncmp(*p, name, n) && (*p)[n] == ':')
            return (*p)[n + 1] - '0';
    }
    return -1;
}

/* Feeds body to a stream in chunks of step bytes (0: all at once) and finishes it. */
static int streamed(const char *body, size_t len, size_t json_len, size_t step, kserve_kind_fn kind, void *cls,
                    wbuf *out, kserve_request *rq, mlhep_err *e)
{
    kserve_stream *s = kserve_stream_new("m@1", len, json_len);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "no stream");
    for (size_t at = 0; at < len;) {
        size_t k = step && len - at > step ? step : len - at;
        kserve_stream_feed(s, body + at, k);
        at += k;
    }
    int rc = kserve_stream_finish(s, kind, cls, out, rq, e);
    kserve_stream_free(s);
    return rc;
}

/* A request taken while it arrives gives the same columns as the whole body parsed at
 * once (compared column by column: the stream writes the [N] tensors last), fed in
 * chunks of 1 byte to all at once; its refusals are the whole parse's. */
TEST(stream_equals_whole)
{
    enum { N = 9 };
    float a[N], j[N * 5], f[N];
    int32_t k[N * 3];
    double d[N * 2];
    for (int r = 0; r < N; r++) {
        a[r] = (float)r * 1.5f;
        f[r] = r % 3 ? (float)r : NAN; /* a [N] tensor of a jagged branch: rows of 0 or 1 values */
        for (int c = 0; c < 5; c++)
            j[r * 5 + c] = c < r % 6 ? (float)(r * 10 + c) : NAN;
        for (int c = 0; c < 3; c++)
            k[r * 3 + c] = r * 3 + c;
        for (int c = 0; c < 2; c++)
            d[r * 2 + c] = c < r % 3 ? r + 0.25 * c : NAN;
    }
    uint8_t bin[sizeof a + sizeof j + sizeof k + sizeof f + sizeof d];
    size_t o = 0;
    memcpy(bin + o, a, sizeof a), o += sizeof a;
    memcpy(bin + o, j, sizeof j), o += sizeof j;
    memcpy(bin + o, k, sizeof k), o += sizeof k;
    memcpy(bin + o, f, sizeof f), o += sizeof f;
    memcpy(bin + o, d, sizeof d), o += sizeof d;
    char json[1024];
    snprintf(json, sizeof json,
             "{\"id\":\"s1\",\"inputs\":["
             "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[%d],\"parameters\":{\"binary_data_size\":%zu}},"
             "{\"name\":\"j\",\"datatype\":\"FP32\",\"shape\":[%d,5],\"parameters\":{\"binary_data_size\":%zu}},"
             "{\"name\":\"z\",\"datatype\":\"FP32\",\"shape\":[%d,0],\"parameters\":{\"binary_data_size\":0}},"
             "{\"name\":\"k\",\"datatype\":\"INT32\",\"shape\":[%d,3],\"parameters\":{\"binary_data_size\":%zu}},"
             "{\"name\":\"f\",\"datatype\":\"FP32\",\"shape\":[%d,1],\"parameters\":{\"binary_data_size\":%zu}},"
             "{\"name\":\"d\",\"datatype\":\"FP64\",\"shape\":[%d,2],\"parameters\":{\"binary_data_size\":%zu}}],"
             "\"outputs\":[{\"name\":\"output\",\"parameters\":{\"binary_data\":true}}]}",
             N, sizeof a, N, sizeof j, N, N, sizeof k, N, sizeof f, N, sizeof d);
    static char body[8192];
    size_t len = binary_request(body, sizeof body, json, bin, sizeof bin), jl = strlen(json);
    const char *kinds[] = {"a:0", "j:1", "z:1", "k:1", "f:1", "d:1", NULL};
    wbuf w = WBUF_INIT, sw = WBUF_INIT;
    colreq qw = {0}, qs = {0};
    kserve_request rw, rs;
    mlhep_err e = {0};
    CHECKF(kserve_parse_infer(body, len, jl, "m@1", listed_kind, (void *)kinds, &w, &rw, &e) == 0, "%s", e.msg);
    CHECKF(colreq_parse(w.p, w.len, &qw, &e) == 0, "%s", e.msg);
    size_t steps[] = {1, 3, 7, 64, 100, 0};
    for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
        CHECKF(streamed(body, len, jl, steps[si], listed_kind, (void *)kinds, &sw, &rs, &e) == 0, "step %zu: %s",
               steps[si], e.msg);
        CHECK(sw.len == w.len && rs.binary_output && !strcmp(rs.id, "s1") && rs.nrows == N);
        CHECKF(colreq_parse(sw.p, sw.len, &qs, &e) == 0, "%s", e.msg);
        CHECK(qs.ncols == qw.ncols && !strcmp(qs.model, "m@1"));
        for (size_t c = 0; c < qw.ncols; c++) {
            char nm[8] = {0};
            memcpy(nm, qw.cols[c].name, qw.cols[c].name_len);
            const colreq_col *x = &qw.cols[c], *y = col(&qs, nm);
            CHECKF(y && y->type == x->type && y->jagged == x->jagged && y->nvalues == x->nvalues &&
                       !memcmp(y->values, x->values, x->nvalues * coltype_size(x->type)) &&
                       (!x->jagged || !memcmp(y->offsets, x->offsets, 4 * (N + 1))),
                   "step %zu: column %s differs", steps[si], nm);
        }
    }
    /* f is jagged in the model: its NaN rows are empty */
    const colreq_col *cf = col(&qs, "f");
    CHECK(cf && cf->jagged && cf->nvalues == 6);

    /* refusals, as the whole parse gives them */
    const char *unknown[] = {"a:0", "j:1", "z:1", "k:1", "f:1", NULL};            /* d is not a branch */
    const char *flat[] = {"a:0", "j:0", "z:1", "k:1", "f:1", "d:1", NULL};        /* j is flat */
    const char *const *bad[] = {unknown, flat};
    for (size_t b = 0; b < 2; b++) {
        mlhep_err e1 = {0}, e2 = {0};
        int r1 = kserve_parse_infer(body, len, jl, "m@1", listed_kind, (void *)bad[b], &w, &rw, &e1);
        int r2 = streamed(body, len, jl, 5, listed_kind, (void *)bad[b], &sw, &rs, &e2);
        CHECKF(r1 && r1 == r2 && !strcmp(e1.msg, e2.msg), "case %zu: %s / %s", b, e1.msg, e2.msg);
    }
    /* a JSON part that is not JSON; a binary size that the body does not hold */
    char broken[8192];
    memcpy(broken, body, len);
    broken[0] = '[';
    mlhep_err e1 = {0}, e2 = {0};
    CHECK(kserve_parse_infer(broken, len, jl, "m@1", NULL, NULL, &w, &rw, &e1) == MLHEP_EINVAL);
    CHECK(streamed(broken, len, jl, 11, NULL, NULL, &sw, &rs, &e2) == MLHEP_EINVAL && !strcmp(e1.msg, e2.msg));
    CHECK(kserve_parse_infer(body, len - 4, jl, "m@1", NULL, NULL, &w, &rw, &e1) == MLHEP_EINVAL);
    CHECK(streamed(body, len - 4, jl, 11, NULL, NULL, &sw, &rs, &e2) == MLHEP_EINVAL && !strcmp(e1.msg, e2.msg));
    CHECKF(strstr(e2.msg, "binary data ends early"), "%s", e2.msg);

    /* an input with JSON data: kept whole, parsed at the end */
    const char *mixed = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2,3]},"
                        "{\"name\":\"k\",\"datatype\":\"INT32\",\"shape\":[3],\"parameters\":{\"binary_data_size\":12}}]}";
    len = binary_request(body, sizeof body, mixed, k, 12);
    CHECKF(kserve_parse_infer(body, len, strlen(mixed), "m@1", NULL, NULL, &w, &rw, &e) == 0, "%s", e.msg);
    CHECKF(streamed(body, len, strlen(mixed), 2, NULL, NULL, &sw, &rs, &e) == 0, "%s", e.msg);
    CHECK(sw.len == w.len && !memcmp(sw.p, w.p, w.len));
    CHECK(!kserve_stream_new("m", 10, 0) && !kserve_stream_new("m", 10, 11) &&
          !kserve_stream_new("m", KSERVE_STREAM_MAX_JSON + 10, KSERVE_STREAM_MAX_JSON + 1));
    colreq_free(&qw);
    colreq_free(&qs);
    wbuf_free(&w);
    wbuf_free(&sw);
}

TEST(responses)
{
    kserve_request rq = {0};
    snprintf(rq.output_name, sizeof rq.output_name, "output");
    snprintf(rq.id, sizeof rq.id, "q\"1");
    float s[4] = {0.25f, 0.75f, NAN, 1e-3f};
    wbuf w = WBUF_INIT;
    size_t jl = 0;
    mlhep_err e = {0};
    CHECKF(kserve_write_response(&rq, "ttH", "2", s, 2, 2, &w, &jl, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(jl, w.len);
    json_error_t je;
    json_t *doc = json_loadb((const char *)w.p, w.len, 0, &je);
    CHECKF(doc, "%s: %.*s", je.text, (int)w.len, (const char *)w.p);
    CHECK(!strcmp(json_string_value(json_object_get(doc, "model_name")), "ttH"));
    CHECK(!strcmp(json_string_value(json_object_get(doc, "model_version")), "2"));
    CHECK(!strcmp(json_string_value(json_object_get(doc, "id")), "q\"1"));
    json_t *o = json_array_get(json_object_get(doc, "outputs"), 0);
    CHECK(!strcmp(json_string_value(json_object_get(o, "name")), "output"));
    CHECK(!strcmp(json_string_value(json_object_get(o, "datatype")), "FP32"));
    json_t *sh = json_object_get(o, "shape");
    CHECK(json_integer_value(json_array_get(sh, 0)) == 2 && json_integer_value(json_array_get(sh, 1)) == 2);
    json_t *d = json_object_get(o, "data");
    CHECK_EQ_INT(json_array_size(d), 4);
    CHECK((float)json_number_value(json_array_get(d, 0)) == 0.25f);
    CHECK(json_is_null(json_array_get(d, 2))); /* NaN has no JSON number */
    CHECK((float)json_number_value(json_array_get(d, 3)) == 1e-3f);
    json_decref(doc);
    /* binary output: the JSON part names the size, the scores follow as raw FP32 */
    rq.binary_output = 1;
    rq.id[0] = '\0';
    CHECKF(kserve_write_response(&rq, "ttH", "", s, 2, 2, &w, &jl, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(w.len, jl + 16);
    doc = json_loadb((const char *)w.p, jl, 0, &je);
    CHECKF(doc, "%s", je.text);
    CHECK(json_object_get(doc, "id") == NULL);
    o = json_array_get(json_object_get(doc, "outputs"), 0);
    CHECK(json_object_get(o, "data") == NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "parameters"), "binary_data_size")), 16);
    CHECK(!memcmp(w.p + jl, s, 8) && !memcmp(w.p + jl + 12, &s[3], 4));
    json_decref(doc);
    wbuf_free(&w);
}

TEST(model_metadata)
{
    json_t *f = json_loads("{\"model\":\"ttH@3\",\"kind\":\"mlp\",\"outputs\":3,\"width\":9,"
                           "\"features\":[{\"name\":\"NJet\",\"kind\":\"flat\"},"
                           "{\"name\":\"Jet_Px\",\"kind\":\"jagged\",\"len\":4},{\"kind\":\"flat\"}],"
                           "\"classes\":[\"a\",\"b\",\"c\"]}", 0, NULL);
    json_t *m = NULL;
    mlhep_err e = {0};
    CHECKF(kserve_model_metadata("ttH", f, &m, &e) == 0, "%s", e.msg);
    char *t = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    CHECKF(!strcmp(t, "{\"inputs\":[{\"datatype\":\"FP32\",\"name\":\"NJet\",\"shape\":[-1]},"
                      "{\"datatype\":\"FP32\",\"name\":\"Jet_Px\",\"shape\":[-1,4]}],\"name\":\"ttH\","
                      "\"outputs\":[{\"datatype\":\"FP32\",\"name\":\"output\",\"shape\":[-1,3]}],"
                      "\"parameters\":{\"classes\":[\"a\",\"b\",\"c\"]},\"platform\":\"mlhep\",\"versions\":[\"3\"]}"),
           "%s", t);
    free(t);
    json_decref(m);
    json_decref(f);
    /* a binary classifier (no outputs field: one score), no version in the name */
    f = json_loads("{\"model\":\"0123\",\"features\":[]}", 0, NULL);
    CHECKF(kserve_model_metadata("x", f, &m, &e) == 0, "%s", e.msg);
    json_t *sh = json_object_get(json_array_get(json_object_get(m, "outputs"), 0), "shape");
    CHECK(json_integer_value(json_array_get(sh, 1)) == 1);
    CHECK_EQ_INT(json_array_size(json_object_get(m, "versions")), 0);
    json_decref(m);
    json_decref(f);
    f = json_loads("{\"model\":\"x\"}", 0, NULL);
    CHECK_EQ_INT(kserve_model_metadata("x", f, &m, &e), MLHEP_EFORMAT);
    json_decref(f);
}

/* The same decimal text as FP32 and as FP64 for a float32 branch: the rows (colreq_rows:
 * featmap_norm rounds float32 branches) are the float values' rows; a document that does
 * not know the type would read the FP64 values as doubles and differ. */
TEST(fp64_data_of_a_float32_branch)
{
    const char *doc = "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"standard\",\"pad\":0,"
                      "\"width\":1,\"features\":[{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,"
                      "\"sub\":0.1,\"scale\":100000,\"type\":\"float32\"}]}";
    const char *data = "[0.100000001,2.29999995,-7.0999999,0.333333343]";
    const float want[4] = {0.1f, 2.3f, -7.1f, 1.0f / 3.0f};
    featmap *fm = NULL, *untyped = NULL;
    mlhep_err e = {0};
    CHECKF(!featmap_load_text(doc, strlen(doc), &fm, &e), "%s", e.msg);
    char doc2[512];
    snprintf(doc2, sizeof doc2, "%s", doc);
    *strstr(doc2, ",\"type\":\"float32\"") = 0;
    strcat(doc2, "}]}");
    CHECKF(!featmap_load_text(doc2, strlen(doc2), &untyped, &e), "%s", e.msg);
    float rows[3][4];
    const char *dts[2] = {"FP32", "FP64"};
    for (int k = 0; k < 3; k++) {
        wbuf cb = WBUF_INIT;
        colreq q = {0};
        kserve_request rq;
        featmap_batch b = {0};
        char req[256];
        snprintf(req, sizeof req, "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"%s\",\"shape\":[4],\"data\":%s}]}",
                 dts[k > 0], data);
        CHECKF(parse(req, &cb, &q, &rq, &e) == 0 && colreq_rows(k < 2 ? fm : untyped, &q, &b, &e) == 0, "%s",
               e.msg);
        memcpy(rows[k], b.x, sizeof rows[k]);
        featmap_batch_free(&b);
        colreq_free(&q);
        wbuf_free(&cb);
    }
    int same = 1, differ = 0;
    for (int i = 0; i < 4; i++) {
        same &= rows[0][i] == featmap_norm(want[i], 0, 0.1, 100000) && rows[1][i] == rows[0][i];
        differ += rows[2][i] != rows[0][i];
    }
    CHECK(same);
    CHECK(differ > 0);
    featmap_free(fm);
    featmap_free(untyped);
}

int main(void)
{
    RUN(flat_fp32_and_nested_data);
    RUN(jagged_rows_cut_at_null);
    RUN(jagged_with_no_values);
    RUN(kinds_from_the_model);
    RUN(every_datatype);
    RUN(datatype_refusals);
    RUN(request_refusals);
    RUN(binary_tensor_extension);
    RUN(binary_jagged_cut_everywhere);
    RUN(stream_equals_whole);
    RUN(responses);
    RUN(model_metadata);
    RUN(fp64_data_of_a_float32_branch);
    return test_summary();
}

/* kserve.c - see kserve.h. */
#include "gateway/kserve.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int type;
} dtypes[] = {
    {"BOOL", COL_BOOL}, {"INT8", COL_I8},   {"INT16", COL_I16},  {"INT32", COL_I32},
    {"INT64", COL_I64}, {"UINT8", COL_U8},  {"UINT16", COL_U16}, {"UINT32", COL_U32},
    {"UINT64", COL_U64}, {"FP32", COL_F32}, {"FP64", COL_F64},
};

static int dtype_of(const char *s)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(s, dtypes[i].name))
            return dtypes[i].type;
    return 0;
}

/* One input being converted. */
typedef struct tin {
    const char *name;
    int type;
    size_t n, l;        /* shape [n] (l = 1, rank 1) or [n, l] */
    int rank;
    int jagged;
    uint8_t *vals;      /* n * l values of type, host order (owned unless borrowed) */
    int borrowed;       /* vals points into the request body (binary data) */
    size_t binsize;     /* binary_data_size, 0 if data is in JSON */
} tin;

/* Stores JSON value v as element i of t->vals; 0 or an error naming the input. */
static int put_value(tin *t, size_t i, const json_t *v, mlhep_err *e)
{
    uint8_t *p = t->vals + i * coltype_size(t->type);
    if (t->type == COL_BOOL) {
        if (!json_is_boolean(v))
            return err_set(e, MLHEP_EINVAL, "input '%s': element %zu: BOOL data must be true or false", t->name, i);
        *p = json_is_true(v) ? 1 : 0;
        return 0;
    }
    if (t->type == COL_F32 || t->type == COL_F64) {
        if (!json_is_number(v) && !json_is_null(v))
            return err_set(e, MLHEP_EINVAL, "input '%s': element %zu is not a number (or null for a missing value)",
                           t->name, i);
        double d = json_is_null(v) ? NAN : json_number_value(v); /* JSON has no NaN: null stands for it */
        if (t->type == COL_F32) {
            float f = (float)d;
            memcpy(p, &f, 4);
        } else {
            memcpy(p, &d, 8);
        }
        return 0;
    }
    if (!json_is_integer(v))
        return err_set(e, MLHEP_EINVAL, "input '%s': element %zu is not an integer", t->name, i);
    json_int_t x = json_integer_value(v);
    long long lo, hi;
    switch (t->type) {
    case COL_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case COL_I16: lo = INT16_MIN; hi = INT16_MAX; break;
    case COL_I32: lo = INT32_MIN; hi = INT32_MAX; break;
    case COL_U8: lo = 0; hi = UINT8_MAX; break;
    case COL_U16: lo = 0; hi = UINT16_MAX; break;
    case COL_U32: lo = 0; hi = UINT32_MAX; break;
    case COL_U64: lo = 0; hi = INT64_MAX; break; /* JSON integers above 2^63 are not read */
    default: lo = INT64_MIN; hi = INT64_MAX; break;
    }
    if (x < lo || x > hi)
        return err_set(e, MLHEP_EINVAL, "input '%s': element %zu = %lld is out of range for %s", t->name, i,
                       (long long)x, coltype_name(t->type));
    switch (t->type) {
    case COL_I8: { int8_t y = (int8_t)x; memcpy(p, &y, 1); break; }
    case COL_I16: { int16_t y = (int16_t)x; memcpy(p, &y, 2); break; }
    case COL_I32: { int32_t y = (int32_t)x; memcpy(p, &y, 4); break; }
    case COL_U8: { uint8_t y = (uint8_t)x; memcpy(p, &y, 1); break; }
    case COL_U16: { uint16_t y = (uint16_t)x; memcpy(p, &y, 2); break; }
    case COL_U32: { uint32_t y = (uint32_t)x; memcpy(p, &y, 4); break; }
    case COL_U64: { uint64_t y = (uint64_t)x; memcpy(p, &y, 8); break; }
    default: { int64_t y = (int64_t)x; memcpy(p, &y, 8); break; }
    }
    return 0;
}

/* "[N]" or "[N, L]" as the input's shape was given. */
static const char *shape_text(const tin *t, char *buf, size_t n)
{
    if (t->rank == 2)
        snprintf(buf, n, "[%zu, %zu]", t->n, t->l);
    else
        snprintf(buf, n, "[%zu]", t->n);
    return buf;
}

/* Flattens nested JSON arrays (row-major) into t->vals; *k counts elements. */
static int flatten(tin *t, const json_t *a, int depth, size_t *k, size_t total, mlhep_err *e)
{
    if (depth > KSERVE_MAX_RANK)
        return err_set(e, MLHEP_EINVAL, "input '%s': data nested deeper than its shape", t->name);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_array(v)) {
            int rc = flatten(t, v, depth + 1, k, total, e);
            if (rc)
                return rc;
            continue;
        }
        if (*k >= total) {
            char sh[64];
            return err_set(e, MLHEP_EINVAL, "input '%s': data holds more elements than shape %s says", t->name,
                           shape_text(t, sh, sizeof sh));
        }
        int rc = put_value(t, *k, v, e);
        if (rc)
            return rc;
        (*k)++;
    }
    return 0;
}

static void free_inputs(tin *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!in[i].borrowed)
            free(in[i].vals);
    free(in);
}

/* Reads "shape" into t (rank 1 or 2, whole non-negative numbers). */
static int read_shape(tin *t, const json_t *sh, mlhep_err *e)
{
    size_t r = json_array_size(sh);
    if (!json_is_array(sh) || r < 1 || r > 2)
        return err_set(e, MLHEP_EINVAL, "input '%s': \"shape\" must be [N] or [N, L]", t->name);
    json_int_t d[2] = {0, 1};
    for (size_t i = 0; i < r; i++) {
        json_t *x = json_array_get(sh, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return err_set(e, MLHEP_EINVAL, "input '%s': shape dimensions must be whole numbers >= 0", t->name);
        d[i] = json_integer_value(x);
    }
    if (d[0] > (json_int_t)COLREQ_MAX_ROWS || d[1] > 1000000 || (d[0] * d[1]) > 1000000000)
        return err_set(e, MLHEP_ENOMEM, "input '%s': shape [%lld, %lld] is too large", t->name, (long long)d[0],
                       (long long)d[1]);
    t->rank = (int)r;
    t->n = (size_t)d[0];
    t->l = (size_t)d[1];
    return 0;
}

/* Copies a float32 row of l values to dst up to its first NaN and returns how many
 * were kept: four at a time where SSE2 is there (an unordered compare of the values
 * with themselves finds a NaN). Each group of four is stored whole before it is
 * checked, so up to three values past the kept ones are written: dst has room for l. */
static size_t cut_row_f32(uint8_t *dst, const uint8_t *row, size_t l)
{
    size_t j = 0;
#ifdef __SSE2__
    for (; j + 4 <= l; j += 4) {
        __m128 v = _mm_loadu_ps((const float *)(const void *)(row + 4 * j));
        _mm_storeu_ps((float *)(void *)(dst + 4 * j), v);
        int mask = _mm_movemask_ps(_mm_cmpunord_ps(v, v));
        if (mask)
            return j + (size_t)__builtin_ctz((unsigned)mask);
    }
#endif
    for (; j < l; j++) {
        float f;
        memcpy(&f, row + j * 4, 4);
        if (isnan(f))
            return j;
        memcpy(dst + j * 4, &f, 4);
    }
    return l;
}

static size_t cut_row_f64(uint8_t *dst, const uint8_t *row, size_t l)
{
    for (size_t j = 0; j < l; j++) {
        double d;
        memcpy(&d, row + j * 8, 8);
        if (isnan(d))
            return j;
        memcpy(dst + j * 8, &d, 8);
    }
    return l;
}

/* Turns t into a colreq column: flat, or jagged with rows cut at the first NaN (float
 * types; integer rows are kept whole). A jagged tensor's rows are cut and packed in one
 * pass straight into the request (the request's bytes are read once and written once:
 * a 10,000-row tensor is far larger than the caches). */
static int add_column(wbuf *out, tin *t, mlhep_err *e)
{
    if (!t->jagged)
        return colreq_add(out, t->name, t->type, t->vals, NULL, t->n, e);
    size_t sz = coltype_size(t->type), at = 0;
    colreq_jag j;
    int rc = colreq_jagged_begin(out, t->name, t->type, t->n, t->n * t->l, &j, e);
    if (rc)
        return rc;
    wbuf_store_le32(j.offsets, 0);
    for (size_t r = 0; r < t->n; r++) {
        const uint8_t *row = t->vals + r * t->l * sz;
        uint8_t *dst = j.values + at * sz;
        size_t m = t->l;
        if (t->type == COL_F32)
            m = cut_row_f32(dst, row, t->l);
        else if (t->type == COL_F64)
            m = cut_row_f64(dst, row, t->l);
        else if (m)
            memcpy(dst, row, m * sz);
        at += m;
        wbuf_store_le32(j.offsets + 4 * (r + 1), (uint32_t)at);
    }
    return colreq_jagged_end(out, &j, at, e);
}

int kserve_parse_infer(const char *body, size_t len, size_t json_len, const char *model_ref,
                       kserve_kind_fn kind, void *kind_cls, wbuf *out, kserve_request *rq,
                       mlhep_err *e)
{
    memset(rq, 0, sizeof *rq);
    snprintf(rq->output_name, sizeof rq->output_name, "output");
    if (json_len == 0)
        json_len = len;
    if (json_len > len)
        return err_set(e, MLHEP_EINVAL, "Inference-Header-Content-Length (%zu) is larger than the body (%zu bytes)",
                       json_len, len);
    json_error_t je;
    json_t *doc = json_loadb(body, json_len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, MLHEP_EINVAL, "request is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                       je.column);
    int rc = 0;
    tin *in = NULL;
    size_t nin = 0;
    json_t *inputs = json_object_get(doc, "inputs");
    if (!json_is_object(doc) || !json_is_array(inputs) || json_array_size(inputs) == 0) {
        rc = err_set(e, MLHEP_EINVAL, "request must be an object with a non-empty \"inputs\" array");
        goto done;
    }
    json_t *id = json_object_get(doc, "id");
    if (id) {
        if (!json_is_string(id) || json_string_length(id) >= sizeof rq->id) {
            rc = err_set(e, MLHEP_EINVAL, "\"id\" must be a string of at most %zu bytes", sizeof rq->id - 1);
            goto done;
        }
        memcpy(rq->id, json_string_value(id), json_string_length(id) + 1);
    }
    json_t *params = json_object_get(doc, "parameters");
    if (json_is_true(json_object_get(params, "binary_data_output")))
        rq->binary_output = 1;
    json_t *outs = json_object_get(doc, "outputs");
    if (outs) {
        if (!json_is_array(outs) || json_array_size(outs) > 1) {
            rc = err_set(e, MLHEP_EINVAL, "\"outputs\" must be an array of at most one output (the model has one: "
                                          "\"output\")");
            goto done;
        }
        json_t *o0 = json_array_get(outs, 0);
        if (o0) {
            const char *on = json_string_value(json_object_get(o0, "name"));
            if (!on || strcmp(on, "output")) {
                rc = err_set(e, MLHEP_EINVAL, "unknown output '%s' (the model's only output is \"output\")",
                             on ? on : "(no name)");
                goto done;
            }
            if (json_is_true(json_object_get(json_object_get(o0, "parameters"), "binary_data")))
                rq->binary_output = 1;
        }
    }
    nin = json_array_size(inputs);
    if (nin > KSERVE_MAX_INPUTS) {
        rc = err_set(e, MLHEP_EINVAL, "too many inputs (%zu; at most %d)", nin, KSERVE_MAX_INPUTS);
        goto done;
    }
    in = calloc(nin, sizeof *in);
    if (!in) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        nin = 0;
        goto done;
    }
    size_t binpos = json_len;
    for (size_t i = 0; i < nin; i++) {
        json_t *x = json_array_get(inputs, i);
        tin *t = &in[i];
        t->name = json_string_value(json_object_get(x, "name"));
        const char *dt = json_string_value(json_object_get(x, "datatype"));
        if (!json_is_object(x) || !t->name || !t->name[0] || !dt) {
            rc = err_set(e, MLHEP_EINVAL, "input %zu needs \"name\", \"datatype\" and \"shape\"", i);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(in[j].name, t->name)) {
                rc = err_set(e, MLHEP_EINVAL, "input '%s' is given twice", t->name);
                goto done;
            }
        t->type = dtype_of(dt);
        if (!t->type) {
            rc = err_set(e, MLHEP_EINVAL, "input '%s': datatype %s is not supported (BOOL, INT8..INT64, "
                                          "UINT8..UINT64, FP32, FP64)", t->name, dt);
            goto done;
        }
        if ((rc = read_shape(t, json_object_get(x, "shape"), e)))
            goto done;
        if (i == 0)
            rq->nrows = t->n;
        else if (t->n != rq->nrows) {
            rc = err_set(e, MLHEP_EINVAL, "input '%s' has %zu rows, input '%s' has %zu: all inputs need the same N",
                         t->name, t->n, in[0].name, rq->nrows);
            goto done;
        }
        int k = kind ? kind(kind_cls, t->name) : (t->rank == 2 && t->l != 1);
        if (k < 0) {
            rc = err_set(e, MLHEP_ENOTFOUND, "input '%s' is not a branch of the model (GET /v2/models/%s lists its "
                                             "inputs)", t->name, model_ref);
            goto done;
        }
        t->jagged = k;
        if (!t->jagged && t->rank == 2 && t->l != 1) {
            rc = err_set(e, MLHEP_EINVAL, "input '%s' is a flat branch: shape must be [N] or [N, 1], not [%zu, %zu]",
                         t->name, t->n, t->l);
            goto done;
        }
        size_t count = t->n * t->l, sz = coltype_size(t->type);
        json_t *bs = json_object_get(json_object_get(x, "parameters"), "binary_data_size");
        json_t *data = json_object_get(x, "data");
        /* the values must be in the body before any memory is taken for them: a shape
         * alone cannot make the gateway allocate (each JSON value takes at least one byte) */
        if (bs) {
            if (!json_is_integer(bs) || json_integer_value(bs) < 0 ||
                (size_t)json_integer_value(bs) != count * sz) {
                rc = err_set(e, MLHEP_EINVAL, "input '%s': binary_data_size must be %zu (shape x %zu bytes)", t->name,
                             count * sz, sz);
                goto done;
            }
            if (data) {
                rc = err_set(e, MLHEP_EINVAL, "input '%s' has both \"data\" and binary_data_size", t->name);
                goto done;
            }
            if (len - binpos < count * sz) {
                rc = err_set(e, MLHEP_EINVAL, "input '%s': binary data ends early (%zu bytes left, %zu needed)",
                             t->name, len - binpos, count * sz);
                goto done;
            }
        } else if (json_is_array(data) && count > json_len) {
            char sh[64];
            rc = err_set(e, MLHEP_EINVAL, "input '%s': data holds fewer elements than shape %s says", t->name,
                         shape_text(t, sh, sizeof sh));
            goto done;
        }
        if (bs) { /* the values stay where they are, in the body (read in place) */
            t->vals = (uint8_t *)(uintptr_t)(body + binpos);
            t->borrowed = 1;
            binpos += count * sz;
            t->binsize = count * sz;
            continue;
        }
        t->vals = malloc(count * sz + 1);
        if (!t->vals) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory for input '%s'", t->name);
            goto done;
        }
        {
            if (!json_is_array(data)) {
                rc = err_set(e, MLHEP_EINVAL, "input '%s' needs \"data\" (an array) or binary_data_size", t->name);
                goto done;
            }
            size_t got = 0;
            if ((rc = flatten(t, data, 1, &got, count, e)))
                goto done;
            if (got != count) {
                rc = err_set(e, MLHEP_EINVAL, "input '%s': data holds %zu elements, shape says %zu", t->name, got,
                             count);
                goto done;
            }
        }
    }
    if (binpos != len) {
        rc = err_set(e, MLHEP_EINVAL, "%zu bytes after the last input's binary data", len - binpos);
        goto done;
    }
    if (rq->nrows == 0) {
        rc = err_set(e, MLHEP_EINVAL, "no rows (N = 0)");
        goto done;
    }
    /* the whole request's size, reserved once (no copies while it grows) */
    size_t total = 18 + strlen(model_ref);
    for (size_t i = 0; i < nin; i++)
        total += 8 + strlen(in[i].name) + (in[i].n + 1) * 4 + in[i].n * in[i].l * coltype_size(in[i].type);
    if ((rc = colreq_begin(out, model_ref, rq->nrows, nin, e)))
        goto done;
    if (!wbuf_reserve(out, total)) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory for a request of %zu bytes", total);
        goto done;
    }
    for (size_t i = 0; i < nin && !rc; i++)
        rc = add_column(out, &in[i], e);
    if (!rc)
        rc = colreq_end(out, e);
done:
    free_inputs(in, nin);
    json_decref(doc);
    return rc;
}

int kserve_write_response(const kserve_request *rq, const char *model_name, const char *version,
                          const float *scores, size_t nrows, size_t k, wbuf *w, size_t *json_len,
                          mlhep_err *e)
{
    wbuf_reset(w);
    json_t *head = json_pack("{s:s, s:s}", "model_name", model_name, "model_version", version);
    if (head && rq->id[0])
        json_object_set_new(head, "id", json_string(rq->id));
    char *hs = head ? json_dumps(head, JSON_COMPACT) : NULL;
    json_decref(head);
    if (!hs)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    /* {"model_name":..,"model_version":..,"id":.., "outputs":[...]} */
    size_t hl = strlen(hs);
    wbuf_put(w, hs, hl - 1); /* without the closing brace */
    free(hs);
    wbuf_printf(w, ",\"outputs\":[{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[%zu,%zu]", rq->output_name,
                nrows, k);
    size_t count = nrows * k;
    if (rq->binary_output) {
        wbuf_printf(w, ",\"parameters\":{\"binary_data_size\":%zu}}]}", count * 4);
        *json_len = w->len;
        wbuf_put(w, scores, count * 4);
    } else {
        wbuf_str(w, ",\"data\":[");
        for (size_t i = 0; i < count; i++) {
            float f = scores[i];
            if (isfinite(f))
                wbuf_printf(w, i ? ",%.9g" : "%.9g", (double)f);
            else
                wbuf_str(w, i ? ",null" : "null");
        }
        wbuf_str(w, "]}]}");
        *json_len = w->len;
    }
    if (!wbuf_ok(w))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    return 0;
}

int kserve_model_metadata(const char *name, const json_t *f, json_t **out, mlhep_err *e)
{
    json_t *feats = json_object_get(f, "features");
    if (!json_is_array(feats))
        return err_set(e, MLHEP_EFORMAT, "features reply without \"features\"");
    json_t *inputs = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(feats, i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        const char *kd = json_string_value(json_object_get(x, "kind"));
        json_int_t l = json_integer_value(json_object_get(x, "len"));
        if (!n || !kd)
            continue;
        json_t *shape = !strcmp(kd, "jagged") ? json_pack("[i, I]", -1, l) : json_pack("[i]", -1);
        json_array_append_new(inputs, json_pack("{s:s, s:s, s:o}", "name", n, "datatype", "FP32", "shape", shape));
    }
    json_int_t k = json_integer_value(json_object_get(f, "outputs"));
    const char *canon = json_string_value(json_object_get(f, "model"));
    const char *at = canon ? strrchr(canon, '@') : NULL;
    json_t *versions = json_array();
    if (at)
        json_array_append_new(versions, json_string(at + 1));
    json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:[{s:s, s:s, s:[i, I]}]}", "name", name, "versions", versions,
                          "platform", "mlhep", "inputs", inputs, "outputs", "name", "output", "datatype", "FP32",
                          "shape", -1, k > 0 ? k : 1);
    if (!o)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    json_t *cl = json_object_get(f, "classes");
    if (json_is_array(cl) && json_array_size(cl) > 0)
        json_object_set_new(o, "parameters", json_pack("{s:O}", "classes", cl));
    *out = o;
    return 0;
}

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
    int binary;         /* the values are binary data (binary_data_size) */
    size_t binsize;     /* binary_data_size, 0 if data is in JSON */
    size_t binoff;      /* where in the body the binary values begin */
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

/* Cuts and packs nrows rows of l values of type (sz bytes each) from src into dst,
 * each at its first NaN for the floating types (integer rows are kept whole), and
 * stores the running count after each row at offs (little-endian u32, offs[0] after the
 * first row), starting from at; returns the count after the last row. dst has room for
 * nrows * l values. One loop per type: rows are short, so nothing is called per row. */
static size_t cut_rows(int type, size_t sz, uint8_t *dst, uint8_t *offs, size_t at, const uint8_t *src, size_t l,
                       size_t nrows)
{
    size_t rb = l * sz;
    if (type == COL_F32) {
        size_t r = 0;
#ifdef __SSE2__
        /* rows of up to 16 values without a branch that depends on them (where a row
         * ends is as random as the jet count): the whole row is loaded and stored four
         * values at a time, its NaN lanes gathered in one mask with a stop bit at l, and
         * the count advanced by the mask's lowest bit. A row's last group may read into
         * the next row (not past the source: the rows that end within the last 16 bytes
         * take the loop below) and write up to 3 values past the row's room (within
         * COLREQ_JAG_SLACK). */
        size_t groups = (l + 3) / 4;
        if (l >= 1 && l <= 16) {
            size_t safe = nrows * rb >= groups * 16 ? nrows - (groups * 16 - rb + rb - 1) / rb : 0;
            for (; r < safe; r++, src += rb) {
                uint32_t bits = 1u << l;
                for (size_t g = 0; g < groups; g++) {
                    __m128 v = _mm_loadu_ps((const float *)(const void *)(src + 16 * g));
                    _mm_storeu_ps((float *)(void *)(dst + 4 * at + 16 * g), v);
                    bits |= (uint32_t)_mm_movemask_ps(_mm_cmpunord_ps(v, v)) << (4 * g);
                }
                at += (size_t)__builtin_ctz(bits);
                wbuf_store_le32(offs + 4 * r, (uint32_t)at);
            }
        }
#endif
        for (; r < nrows; r++, src += rb) {
            at += cut_row_f32(dst + at * 4, src, l);
            wbuf_store_le32(offs + 4 * r, (uint32_t)at);
        }
    } else if (type == COL_F64) {
        for (size_t r = 0; r < nrows; r++, src += rb) {
            at += cut_row_f64(dst + at * 8, src, l);
            wbuf_store_le32(offs + 4 * r, (uint32_t)at);
        }
    } else {
        if (rb)
            memcpy(dst + at * sz, src, nrows * rb);
        for (size_t r = 0; r < nrows; r++) {
            at += l;
            wbuf_store_le32(offs + 4 * r, (uint32_t)at);
        }
    }
    return at;
}

/* Turns t into a colreq column: flat, or jagged with rows cut at the first NaN (float
 * types; integer rows are kept whole). A jagged tensor's rows are cut and packed in one
 * pass straight into the request (the request's bytes are read once and written once:
 * a 10,000-row tensor is far larger than the caches). */
static int add_column(wbuf *out, tin *t, mlhep_err *e)
{
    if (!t->jagged)
        return colreq_add(out, t->name, t->type, t->vals, NULL, t->n, e);
    colreq_jag j;
    int rc = colreq_jagged_begin(out, t->name, t->type, t->n, t->n * t->l, &j, e);
    if (rc)
        return rc;
    wbuf_store_le32(j.offsets, 0);
    size_t at = cut_rows(t->type, coltype_size(t->type), j.values, j.offsets + 4, 0, t->vals, t->l, t->n);
    return colreq_jagged_end(out, &j, at, e);
}

/* The kind an input's shape suggests: rank 1 or [N, 1] flat, else jagged. */
static int shape_kind(const tin *t)
{
    return t->rank == 2 && t->l != 1;
}

/* Takes the model's kind k (kserve_kind_fn) for t, or refuses it. */
static int apply_kind(tin *t, int k, const char *model_ref, mlhep_err *e)
{
    if (k < 0)
        return err_set(e, MLHEP_ENOTFOUND, "input '%s' is not a branch of the model (GET /v2/models/%s lists its "
                                           "inputs)", t->name, model_ref);
    t->jagged = k;
    if (!t->jagged && t->rank == 2 && t->l != 1)
        return err_set(e, MLHEP_EINVAL, "input '%s' is a flat branch: shape must be [N] or [N, 1], not [%zu, %zu]",
                       t->name, t->n, t->l);
    return 0;
}

/* A request's JSON part, read and checked: everything but the binary values, which
 * need only be announced (len is the whole body's length; the body itself may hold
 * only the JSON part, for a request still arriving). JSON data is converted into the
 * inputs' own arrays; binary inputs say where their bytes are (binoff). */
typedef struct khead {
    json_t *doc;
    tin *in;
    size_t nin;
} khead;

static void khead_free(khead *h)
{
    free_inputs(h->in, h->nin);
    json_decref(h->doc);
    memset(h, 0, sizeof *h);
}

static int parse_head(const char *body, size_t len, size_t json_len, const char *model_ref, kserve_kind_fn kind,
                      void *kind_cls, khead *h, kserve_request *rq, mlhep_err *e)
{
    memset(h, 0, sizeof *h);
    memset(rq, 0, sizeof *rq);
    snprintf(rq->output_name, sizeof rq->output_name, "output");
    json_error_t je;
    json_t *doc = h->doc = json_loadb(body, json_len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, MLHEP_EINVAL, "request is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                       je.column);
    int rc = 0;
    json_t *inputs = json_object_get(doc, "inputs");
    if (!json_is_object(doc) || !json_is_array(inputs) || json_array_size(inputs) == 0)
        return err_set(e, MLHEP_EINVAL, "request must be an object with a non-empty \"inputs\" array");
    json_t *id = json_object_get(doc, "id");
    if (id) {
        if (!json_is_string(id) || json_string_length(id) >= sizeof rq->id)
            return err_set(e, MLHEP_EINVAL, "\"id\" must be a string of at most %zu bytes", sizeof rq->id - 1);
        memcpy(rq->id, json_string_value(id), json_string_length(id) + 1);
    }
    json_t *params = json_object_get(doc, "parameters");
    if (json_is_true(json_object_get(params, "binary_data_output")))
        rq->binary_output = 1;
    json_t *outs = json_object_get(doc, "outputs");
    if (outs) {
        if (!json_is_array(outs) || json_array_size(outs) > 1)
            return err_set(e, MLHEP_EINVAL, "\"outputs\" must be an array of at most one output (the model has one: "
                                            "\"output\")");
        json_t *o0 = json_array_get(outs, 0);
        if (o0) {
            const char *on = json_string_value(json_object_get(o0, "name"));
            if (!on || strcmp(on, "output"))
                return err_set(e, MLHEP_EINVAL, "unknown output '%s' (the model's only output is \"output\")",
                               on ? on : "(no name)");
            if (json_is_true(json_object_get(json_object_get(o0, "parameters"), "binary_data")))
                rq->binary_output = 1;
        }
    }
    size_t nin = json_array_size(inputs);
    if (nin > KSERVE_MAX_INPUTS)
        return err_set(e, MLHEP_EINVAL, "too many inputs (%zu; at most %d)", nin, KSERVE_MAX_INPUTS);
    tin *in = h->in = calloc(nin, sizeof *in);
    if (!in)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    h->nin = nin;
    size_t binpos = json_len;
    for (size_t i = 0; i < nin; i++) {
        json_t *x = json_array_get(inputs, i);
        tin *t = &in[i];
        t->name = json_string_value(json_object_get(x, "name"));
        const char *dt = json_string_value(json_object_get(x, "datatype"));
        if (!json_is_object(x) || !t->name || !t->name[0] || !dt)
            return err_set(e, MLHEP_EINVAL, "input %zu needs \"name\", \"datatype\" and \"shape\"", i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(in[j].name, t->name))
                return err_set(e, MLHEP_EINVAL, "input '%s' is given twice", t->name);
        t->type = dtype_of(dt);
        if (!t->type)
            return err_set(e, MLHEP_EINVAL, "input '%s': datatype %s is not supported (BOOL, INT8..INT64, "
                                            "UINT8..UINT64, FP32, FP64)", t->name, dt);
        if ((rc = read_shape(t, json_object_get(x, "shape"), e)))
            return rc;
        if (i == 0)
            rq->nrows = t->n;
        else if (t->n != rq->nrows)
            return err_set(e, MLHEP_EINVAL, "input '%s' has %zu rows, input '%s' has %zu: all inputs need the same N",
                           t->name, t->n, in[0].name, rq->nrows);
        if ((rc = apply_kind(t, kind ? kind(kind_cls, t->name) : shape_kind(t), model_ref, e)))
            return rc;
        size_t count = t->n * t->l, sz = coltype_size(t->type);
        json_t *bs = json_object_get(json_object_get(x, "parameters"), "binary_data_size");
        json_t *data = json_object_get(x, "data");
        /* the values must be in the body before any memory is taken for them: a shape
         * alone cannot make the gateway allocate (each JSON value takes at least one byte) */
        if (bs) {
            if (!json_is_integer(bs) || json_integer_value(bs) < 0 || (size_t)json_integer_value(bs) != count * sz)
                return err_set(e, MLHEP_EINVAL, "input '%s': binary_data_size must be %zu (shape x %zu bytes)",
                               t->name, count * sz, sz);
            if (data)
                return err_set(e, MLHEP_EINVAL, "input '%s' has both \"data\" and binary_data_size", t->name);
            if (len - binpos < count * sz)
                return err_set(e, MLHEP_EINVAL, "input '%s': binary data ends early (%zu bytes left, %zu needed)",
                               t->name, len - binpos, count * sz);
            t->binary = 1;
            t->borrowed = 1;
            t->binoff = binpos;
            t->binsize = count * sz;
            binpos += count * sz;
            continue;
        }
        if (json_is_array(data) && count > json_len) {
            char sh[64];
            return err_set(e, MLHEP_EINVAL, "input '%s': data holds fewer elements than shape %s says", t->name,
                           shape_text(t, sh, sizeof sh));
        }
        t->vals = malloc(count * sz + 1);
        if (!t->vals)
            return err_set(e, MLHEP_ENOMEM, "out of memory for input '%s'", t->name);
        if (!json_is_array(data))
            return err_set(e, MLHEP_EINVAL, "input '%s' needs \"data\" (an array) or binary_data_size", t->name);
        size_t got = 0;
        if ((rc = flatten(t, data, 1, &got, count, e)))
            return rc;
        if (got != count)
            return err_set(e, MLHEP_EINVAL, "input '%s': data holds %zu elements, shape says %zu", t->name, got,
                           count);
    }
    if (binpos != len)
        return err_set(e, MLHEP_EINVAL, "%zu bytes after the last input's binary data", len - binpos);
    if (rq->nrows == 0)
        return err_set(e, MLHEP_EINVAL, "no rows (N = 0)");
    return 0;
}

/* Starts the columnar request of h in out, with room for all of it reserved once (no
 * copies while it grows). */
static int begin_request(const khead *h, const char *model_ref, size_t nrows, wbuf *out, mlhep_err *e)
{
    size_t total = 18 + strlen(model_ref) + COLREQ_JAG_SLACK;
    for (size_t i = 0; i < h->nin; i++)
        total += 8 + strlen(h->in[i].name) + (h->in[i].n + 1) * 4 + h->in[i].n * h->in[i].l * coltype_size(h->in[i].type);
    int rc = colreq_begin(out, model_ref, nrows, h->nin, e);
    if (rc)
        return rc;
    if (!wbuf_reserve(out, total))
        return err_set(e, MLHEP_ENOMEM, "out of memory for a request of %zu bytes", total);
    return 0;
}

int kserve_parse_infer(const char *body, size_t len, size_t json_len, const char *model_ref,
                       kserve_kind_fn kind, void *kind_cls, wbuf *out, kserve_request *rq,
                       mlhep_err *e)
{
    if (json_len == 0)
        json_len = len;
    if (json_len > len) {
        memset(rq, 0, sizeof *rq);
        return err_set(e, MLHEP_EINVAL, "Inference-Header-Content-Length (%zu) is larger than the body (%zu bytes)",
                       json_len, len);
    }
    khead h;
    int rc = parse_head(body, len, json_len, model_ref, kind, kind_cls, &h, rq, e);
    if (!rc)
        rc = begin_request(&h, model_ref, rq->nrows, out, e);
    for (size_t i = 0; i < h.nin && !rc; i++) {
        if (h.in[i].binary) /* the values stay where they are, in the body (read in place) */
            h.in[i].vals = (uint8_t *)(uintptr_t)(body + h.in[i].binoff);
        rc = add_column(out, &h.in[i], e);
    }
    if (!rc)
        rc = colreq_end(out, e);
    khead_free(&h);
    return rc;
}

/* ---- a request taken while it arrives ---- */

enum { KS_HEAD, KS_DATA, KS_WHOLE, KS_FAILED };

struct kserve_stream {
    char ref[KSERVE_REF_MAX];
    size_t len, json_len, got;
    int state;
    char *buf;                /* the JSON part (KS_WHOLE: the whole body) */
    khead h;                  /* KS_DATA: the inputs, kinds by their shapes */
    kserve_request rq;
    wbuf out;                 /* the columnar request being written */
    size_t cur, pos;          /* the input whose bytes come next; its bytes seen */
    colreq_jag j;             /* that input, when jagged: its column in out */
    size_t at, row;           /* values and rows of it written */
    uint8_t *carry;           /* a row cut by a chunk's end */
    size_t ncarry;
    uint8_t *small;           /* the [N] and [N, 1] tensors, kept to the end (their kind is the model's) */
    size_t nsmall;
    int rc;
    mlhep_err err;
};

static int ks_fail(kserve_stream *s, int rc)
{
    s->state = KS_FAILED;
    s->rc = rc;
    wbuf_free(&s->out);
    return rc;
}

/* Begins input s->cur: a jagged one's column is opened in out. */
static int ks_begin_input(kserve_stream *s)
{
    tin *t = &s->h.in[s->cur];
    s->pos = s->at = s->row = s->ncarry = 0;
    if (!t->jagged)
        return 0;
    int rc = colreq_jagged_begin(&s->out, t->name, t->type, t->n, t->n * t->l, &s->j, &s->err);
    if (!rc)
        wbuf_store_le32(s->j.offsets, 0);
    return rc;
}

/* Whole rows of the current jagged input. */
static void ks_rows(kserve_stream *s, const tin *t, const uint8_t *rows, size_t nrows)
{
    s->at = cut_rows(t->type, coltype_size(t->type), s->j.values, s->j.offsets + 4 * (s->row + 1), s->at, rows,
                     t->l, nrows);
    s->row += nrows;
}

/* Ends the inputs whose bytes have all come (a jagged one's column closed) and begins
 * the next. */
static int ks_advance(kserve_stream *s)
{
    while (s->cur < s->h.nin && s->pos == s->h.in[s->cur].binsize) {
        tin *t = &s->h.in[s->cur];
        if (t->jagged) {
            while (s->row < t->n) /* rows of no bytes (L = 0) */
                wbuf_store_le32(s->j.offsets + 4 * ++s->row, (uint32_t)s->at);
            int rc = colreq_jagged_end(&s->out, &s->j, s->at, &s->err);
            if (rc)
                return rc;
        }
        if (++s->cur < s->h.nin) {
            int rc = ks_begin_input(s);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int ks_data(kserve_stream *s, const uint8_t *p, size_t n)
{
    while (n && s->cur < s->h.nin) {
        tin *t = &s->h.in[s->cur];
        size_t take = t->binsize - s->pos < n ? t->binsize - s->pos : n;
        if (!t->jagged) {
            memcpy(s->small + s->nsmall, p, take);
            s->nsmall += take;
        } else {
            size_t rb = t->l * coltype_size(t->type), k = take;
            const uint8_t *q = p;
            if (s->ncarry) {
                size_t c = rb - s->ncarry < k ? rb - s->ncarry : k;
                memcpy(s->carry + s->ncarry, q, c);
                s->ncarry += c;
                q += c;
                k -= c;
                if (s->ncarry == rb) {
                    ks_rows(s, t, s->carry, 1);
                    s->ncarry = 0;
                }
            }
            if (rb && k >= rb) {
                ks_rows(s, t, q, k / rb);
                q += k / rb * rb;
                k %= rb;
            }
            if (k) {
                memcpy(s->carry, q, k);
                s->ncarry = k;
            }
        }
        s->pos += take;
        p += take;
        n -= take;
        int rc = ks_advance(s);
        if (rc)
            return rc;
    }
    return n ? err_set(&s->err, MLHEP_EINVAL, "%zu bytes after the last input's binary data", n) : 0;
}

/* The JSON part has come: read it (kinds by the shapes) and get ready for the values,
 * or, if some input's values are JSON data, keep the whole body for the end. */
static int ks_start(kserve_stream *s)
{
    int rc = parse_head(s->buf, s->len, s->json_len, s->ref, NULL, NULL, &s->h, &s->rq, &s->err);
    if (rc)
        return rc;
    size_t small = 0, carry = 0;
    for (size_t i = 0; i < s->h.nin; i++) {
        const tin *t = &s->h.in[i];
        if (!t->binary) { /* JSON data: the whole request is read at the end */
            khead_free(&s->h);
            char *nb = realloc(s->buf, s->len + 1);
            if (!nb)
                return err_set(&s->err, MLHEP_ENOMEM, "out of memory for a request of %zu bytes", s->len);
            s->buf = nb;
            s->state = KS_WHOLE;
            return 0;
        }
        size_t rb = t->l * coltype_size(t->type);
        if (t->jagged && rb > carry)
            carry = rb;
        else if (!t->jagged)
            small += t->binsize;
    }
    s->small = malloc(small + 1);
    s->carry = malloc(carry + 1);
    if (!s->small || !s->carry)
        return err_set(&s->err, MLHEP_ENOMEM, "out of memory for a request of %zu bytes", s->len);
    if ((rc = begin_request(&s->h, s->ref, s->rq.nrows, &s->out, &s->err)) || (rc = ks_begin_input(s)) ||
        (rc = ks_advance(s)))
        return rc;
    s->state = KS_DATA;
    return 0;
}

kserve_stream *kserve_stream_new(const char *model_ref, size_t len, size_t json_len)
{
    if (!model_ref || strlen(model_ref) >= KSERVE_REF_MAX || json_len == 0 || json_len > len ||
        json_len > KSERVE_STREAM_MAX_JSON)
        return NULL;
    kserve_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->buf = malloc(json_len + 1))) {
        free(s);
        return NULL;
    }
    snprintf(s->ref, sizeof s->ref, "%s", model_ref);
    s->len = len;
    s->json_len = json_len;
    return s;
}

int kserve_stream_feed(kserve_stream *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (s->state == KS_FAILED)
        return s->rc;
    if (n > s->len - s->got)
        return ks_fail(s, err_set(&s->err, MLHEP_EINVAL, "the body is longer than its Content-Length (%zu bytes)",
                                  s->len));
    int rc = 0;
    if (s->state == KS_HEAD) {
        size_t k = s->json_len - s->got < n ? s->json_len - s->got : n;
        memcpy(s->buf + s->got, p, k);
        s->got += k;
        p += k;
        n -= k;
        if (s->got == s->json_len && (rc = ks_start(s)))
            return ks_fail(s, rc);
    }
    if (!n)
        return 0;
    if (s->state == KS_WHOLE) {
        memcpy(s->buf + s->got, p, n);
        s->got += n;
        return 0;
    }
    s->got += n;
    if ((rc = ks_data(s, p, n)))
        return ks_fail(s, rc);
    return 0;
}

int kserve_stream_finish(kserve_stream *s, kserve_kind_fn kind, void *kind_cls, wbuf *out, kserve_request *rq,
                         mlhep_err *e)
{
    if (s->state == KS_FAILED) {
        *rq = s->rq;
        *e = s->err;
        return s->rc;
    }
    if (s->got != s->len)
        return err_set(e, MLHEP_EINVAL, "the request ended after %zu of its %zu bytes", s->got, s->len);
    if (s->state == KS_WHOLE)
        return kserve_parse_infer(s->buf, s->len, s->json_len, s->ref, kind, kind_cls, out, rq, e);
    /* KS_DATA, all bytes in: the model's kinds now, then the small tensors */
    *rq = s->rq;
    int rc = 0;
    for (size_t i = 0; i < s->h.nin && !rc; i++) {
        tin *t = &s->h.in[i];
        rc = apply_kind(t, kind ? kind(kind_cls, t->name) : t->jagged, s->ref, e);
    }
    size_t at = 0;
    for (size_t i = 0; i < s->h.nin && !rc; i++) {
        tin *t = &s->h.in[i];
        if (shape_kind(t))
            continue; /* written while it came */
        t->vals = s->small + at;
        at += t->binsize;
        rc = add_column(&s->out, t, e);
    }
    if (!rc)
        rc = colreq_end(&s->out, e);
    if (rc)
        return rc;
    wbuf_free(out);
    *out = s->out;
    s->out = (wbuf)WBUF_INIT;
    return 0;
}

void kserve_stream_free(kserve_stream *s)
{
    if (!s)
        return;
    khead_free(&s->h);
    wbuf_free(&s->out);
    free(s->buf);
    free(s->carry);
    free(s->small);
    free(s);
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

/* predict.c - see predict.h. */
#include "infer/predict.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/gbdt.h"
#include "model/mlp.h"
#include "model/modelfile.h"

#define MAX_MODEL_FILE ((size_t)1 << 31)

struct predict_model {
    modelfile_kind kind;
    mlp *mlp;
    gbdt_model *gbdt;
    featmap *fm;
    char *ftext;      /* the features document, as stored */
    size_t nout;
    size_t bytes;
};

void predict_model_free(predict_model *m)
{
    if (!m)
        return;
    mlp_free(m->mlp);
    gbdt_model_free(m->gbdt);
    featmap_free(m->fm);
    free(m->ftext);
    free(m);
}

int predict_model_load_buffer(const uint8_t *buf, size_t len, predict_model **out, mlhep_err *e)
{
    *out = NULL;
    modelfile *mf = NULL;
    int rc = modelfile_decode(buf, len, &mf, e);
    if (rc)
        return rc;
    predict_model *m = calloc(1, sizeof *m);
    if (!m) {
        modelfile_free(mf);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    m->kind = modelfile_get_kind(mf);
    m->bytes = len + sizeof *m;
    size_t flen = 0;
    const uint8_t *ftext = modelfile_get(mf, "features", &flen);
    if (!ftext) {
        rc = err_set(e, MLHEP_EFORMAT, "model file has no \"features\" section (was it written by the training driver?)");
    } else if ((rc = featmap_load_text((const char *)ftext, flen, &m->fm, e))) {
        err_prefix(e, "model file");
    } else if (!(m->ftext = strndup((const char *)ftext, flen))) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    } else if (m->kind == MODELFILE_KIND_MLP) {
        if (!(rc = mlp_load_buffer(buf, len, &m->mlp, NULL, e))) {
            nn_blas_one_thread(); /* the callers' threads are the parallelism (nncore.h) */
            m->nout = mlp_n_outputs(m->mlp);
            if (mlp_n_inputs(m->mlp) != (size_t)m->fm->width)
                rc = err_set(e, MLHEP_EFORMAT, "model file: the network takes %zu inputs but the features make rows of %d",
                             mlp_n_inputs(m->mlp), m->fm->width);
        }
    } else if (m->kind == MODELFILE_KIND_GBDT) {
        size_t glen = 0;
        const uint8_t *g = modelfile_get(mf, "gbdt", &glen);
        if (!g)
            rc = err_set(e, MLHEP_EFORMAT, "model file of kind gbdt has no \"gbdt\" section");
        else if (!(rc = gbdt_deserialize(g, glen, &m->gbdt, e))) {
            m->nout = gbdt_model_outputs(m->gbdt);
            if (gbdt_model_features(m->gbdt) != (size_t)m->fm->width)
                rc = err_set(e, MLHEP_EFORMAT, "model file: the trees take %zu features but the features make rows of %d",
                             gbdt_model_features(m->gbdt), m->fm->width);
        }
    } else {
        rc = err_set(e, MLHEP_EUNSUPPORTED, "model file kind %d is not supported", (int)m->kind);
    }
    if (!rc && m->fm->noutputs && (size_t)m->fm->noutputs != m->nout)
        rc = err_set(e, MLHEP_EFORMAT, "model file: the features document says %d outputs, the model has %zu",
                     m->fm->noutputs, m->nout);
    modelfile_free(mf);
    if (rc) {
        predict_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int predict_model_load_file(const char *path, predict_model **out, mlhep_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EIO, "model file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_MODEL_FILE) {
        fclose(f);
        return err_set(e, MLHEP_EIO, "model file %s: not a regular file of at most 2 GiB", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return err_set(e, MLHEP_ENOMEM, "out of memory for model file %s", path);
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    int rc = got != n ? err_set(e, MLHEP_EIO, "model file %s: short read", path)
                      : predict_model_load_buffer(buf, n, out, e);
    free(buf);
    if (rc && got == n)
        err_prefix(e, "%s", path);
    return rc;
}

const featmap *predict_model_featmap(const predict_model *m)
{
    return m->fm;
}

const char *predict_model_features_json(const predict_model *m)
{
    return m->ftext;
}

size_t predict_model_outputs(const predict_model *m)
{
    return m->nout;
}

const char *predict_model_kind(const predict_model *m)
{
    return modelfile_kind_name(m->kind);
}

size_t predict_model_bytes(const predict_model *m)
{
    return m->bytes;
}

int predict_rows(predict_model *m, const float *x, size_t nrows, float *out, mlhep_err *e)
{
    if (nrows == 0)
        return 0;
    if (m->mlp)
        return mlp_predict(m->mlp, x, nrows, out, e);
    return gbdt_predict(m->gbdt, x, nrows, (size_t)m->fm->width, GBDT_PROBABILITY, out, e);
}

void predict_ctx_free(predict_ctx *c)
{
    if (!c)
        return;
    featmap_batch_free(&c->batch);
    colreq_free(&c->creq);
    wbuf_free(&c->bin);
    free(c->out);
    free(c->buf);
    memset(c, 0, sizeof *c);
}

/* Room in c->out for the outputs of n rows. */
static int reserve_out(const predict_model *m, predict_ctx *c, size_t n, mlhep_err *e)
{
    size_t need = n * m->nout;
    if (need > c->out_cap) {
        float *o = realloc(c->out, need * sizeof *o);
        if (!o)
            return err_set(e, MLHEP_ENOMEM, "out of memory for %zu outputs", need);
        c->out = o;
        c->out_cap = need;
    }
    return 0;
}

/* The model over c->batch into c->out. */
static int run_batch(predict_model *m, predict_ctx *c, mlhep_err *e)
{
    int rc = reserve_out(m, c, c->batch.nrows, e);
    return rc ? rc : predict_rows(m, c->batch.x, c->batch.nrows, c->out, e);
}

/* Rows are built and predicted a slice at a time (the slice's rows stay in cache). The
 * slices are aligned on mlp_predict's own 1024-row chunks, so the outputs are
 * bit-identical to predicting the whole batch at once (BLAS results depend on the
 * GEMM's row count). */
#define SLICE 1024

int predict_columns(predict_model *m, predict_ctx *c, mlhep_err *e)
{
    c->nrows = 0;
    colreq *q = &c->creq;
    size_t n = q->nrows;
    int rc = colreq_match(m->fm, q, e);
    if (rc || (rc = featmap_batch_reserve(&c->batch, m->fm, n < SLICE ? n : SLICE, e)) ||
        (rc = reserve_out(m, c, n, e)))
        return rc;
    for (size_t r = 0; r < n; r += SLICE) {
        size_t z = r + SLICE < n ? r + SLICE : n;
        colreq_fill(m->fm, q, r, z, c->batch.x);
        if ((rc = predict_rows(m, c->batch.x, z - r, c->out + r * m->nout, e)))
            return rc;
    }
    c->nrows = n;
    return 0;
}

int predict_format_binary(const predict_model *m, const char *name, const float *out, size_t nrows,
                          double elapsed_us, predict_ctx *c, mlhep_err *e)
{
    return colresp_write(&c->bin, name, out, nrows, m->nout, elapsed_us, e);
}

int predict_request(predict_model *m, const json_t *req, predict_ctx *c, mlhep_err *e)
{
    c->nrows = 0;
    int rc = featmap_from_request(m->fm, req, &c->batch, e);
    return rc ? rc : predict_batch(m, c, e);
}

int predict_batch(predict_model *m, predict_ctx *c, mlhep_err *e)
{
    c->nrows = 0;
    int rc = run_batch(m, c, e);
    if (rc)
        return rc;
    size_t n = c->batch.nrows, need = n * m->nout;
    for (size_t i = 0; i < need; i++)
        if (!isfinite(c->out[i]))
            return err_set(e, MLHEP_EINVAL, "row %zu: the model produced a non-finite output (input values far outside "
                                            "the training range?)",
                           i / m->nout);
    c->nrows = n;
    return 0;
}

static int grow(predict_ctx *c, size_t more)
{
    if (c->len + more <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + more)
        cap *= 2;
    char *b = realloc(c->buf, cap);
    if (!b)
        return -1;
    c->buf = b;
    c->cap = cap;
    return 0;
}

static void put(predict_ctx *c, const char *s, size_t n)
{
    memcpy(c->buf + c->len, s, n);
    c->len += n;
}

/* Shortest "%.9g"-equivalent text of a float that reads back to the same float. */
static size_t fmt_float(char *p, float v)
{
    int n = snprintf(p, 32, "%.9g", (double)v);
    return n > 0 ? (size_t)n : 0;
}

int predict_format_response(const predict_model *m, const char *name, const float *out, size_t nrows,
                            double elapsed_us, predict_ctx *c, mlhep_err *e)
{
    size_t k = m->nout;
    const featmap *fm = m->fm;
    size_t est = 64 + strlen(name) + nrows * (k * 18 + 4);
    for (size_t i = 0; i < fm->nclasses; i++)
        est += strlen(fm->classes[i]) * 6 + 4;
    c->len = 0;
    if (grow(c, est))
        return err_set(e, MLHEP_ENOMEM, "out of memory for the response");
    put(c, "{\"model\":\"", 10);
    for (const char *s = name; *s && c->len < 200; s++) {
        char ch = *s;
        c->buf[c->len++] = (ch >= 0x20 && ch != '"' && ch != '\\' && (unsigned char)ch < 0x7f) ? ch : '?';
    }
    put(c, "\",\"predictions\":[", 17);
    for (size_t r = 0; r < nrows; r++) {
        if (r)
            c->buf[c->len++] = ',';
        if (k == 1) {
            c->len += fmt_float(c->buf + c->len, out[r]);
            continue;
        }
        c->buf[c->len++] = '[';
        for (size_t j = 0; j < k; j++) {
            if (j)
                c->buf[c->len++] = ',';
            c->len += fmt_float(c->buf + c->len, out[r * k + j]);
        }
        c->buf[c->len++] = ']';
    }
    c->buf[c->len++] = ']';
    if (fm->nclasses) {
        put(c, ",\"classes\":", 11);
        json_t *a = json_array();
        for (size_t i = 0; a && i < fm->nclasses; i++)
            json_array_append_new(a, json_string(fm->classes[i]));
        char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        if (!t || grow(c, strlen(t) + 64)) {
            free(t);
            return err_set(e, MLHEP_ENOMEM, "out of memory for the response");
        }
        put(c, t, strlen(t));
        free(t);
    }
    if (elapsed_us >= 0) {
        char tb[48];
        int n = snprintf(tb, sizeof tb, ",\"elapsed_us\":%.1f", elapsed_us);
        put(c, tb, (size_t)n);
    }
    c->buf[c->len++] = '}';
    c->buf[c->len] = '\0';
    return 0;
}

const char *predict_error_code(int code)
{
    switch (code) {
    case MLHEP_ENOTFOUND: return "unknown_branch";
    case MLHEP_EAUTH: return "forbidden";
    case MLHEP_ENOMEM: return "too_large";
    case MLHEP_EINVAL:
    case MLHEP_EFORMAT: return "bad_request";
    default: return "internal";
    }
}

char *predict_error_json(const char *code, const char *model, const char *msg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char m[4097];
    snprintf(m, sizeof m, "%s", msg && *msg ? msg : "error");
    json_t *js = json_string(m);
    if (!js) { /* a message cut inside a UTF-8 sequence: keep it ASCII */
        for (char *p = m; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        js = json_string(m);
    }
    json_object_set_new(o, "error", js);
    json_object_set_new(o, "code", json_string(code));
    json_t *jm = model && *model && strlen(model) <= 160 ? json_string(model) : NULL;
    if (jm)
        json_object_set_new(o, "model", jm);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return t;
}

/* fuzz_kserve.c - fuzzes the KServe / Open Inference Protocol v2 request parser
 * (gateway/kserve.h: JSON inputs, nested data, every datatype, the binary tensor
 * extension) on arbitrary bodies and JSON lengths, checks that what it accepts is a
 * columnar request colreq_parse reads back, writes a response for it (JSON and binary),
 * and feeds the body to kserve_model_metadata as a features document.
 *
 * Input: 4 bytes - the JSON length (little-endian u16 in bytes 0-1, taken modulo the
 * body's length + 1; 0 = all JSON), flags in byte 2 (bit 0: the model's kinds decide:
 * inputs named j* are jagged, x* unknown, others flat), byte 3: the chunk size (1-255,
 * 0 = 256) in which the same body is fed to a kserve_stream, whose request must be
 * accepted exactly when the whole parse's is and hold the same columns - then the
 * body. Corpus: fuzz/corpus/kserve. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/kserve.h"

static int kind_fn(void *cls, const char *name)
{
    (void)cls;
    if (name[0] == 'j')
        return 1;
    if (name[0] == 'x')
        return -1;
    return 0;
}

/* The same columns (by name: the stream writes [N] tensors last), or abort. */
static void same_columns(const wbuf *a, const wbuf *b)
{
    colreq qa = {0}, qb = {0};
    mlhep_err e;
    if (colreq_parse(a->p, a->len, &qa, &e) || colreq_parse(b->p, b->len, &qb, &e) || qa.ncols != qb.ncols ||
        qa.nrows != qb.nrows || strcmp(qa.model, qb.model))
        abort();
    for (size_t i = 0; i < qa.ncols; i++) {
        const colreq_col *x = &qa.cols[i], *y = NULL;
        for (size_t j = 0; j < qb.ncols && !y; j++)
            if (qb.cols[j].name_len == x->name_len && !memcmp(qb.cols[j].name, x->name, x->name_len))
                y = &qb.cols[j];
        if (!y || y->type != x->type || y->jagged != x->jagged || y->nvalues != x->nvalues ||
            memcmp(y->values, x->values, x->nvalues * coltype_size(x->type)) ||
            (x->jagged && memcmp(y->offsets, x->offsets, 4 * (qa.nrows + 1))))
            abort(); /* streamed and whole requests differ */
    }
    colreq_free(&qa);
    colreq_free(&qb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t jl = (size_t)data[0] | ((size_t)data[1] << 8);
    int kinds = data[2] & 1;
    const char *body = (const char *)data + 4;
    size_t len = size - 4;
    jl %= len + 1;
    wbuf cb = WBUF_INIT;
    kserve_request rq;
    mlhep_err e = {0};
    int rc = kserve_parse_infer(body, len, jl, "m@1", kinds ? kind_fn : NULL, NULL, &cb, &rq, &e);
    kserve_stream *ks = kserve_stream_new("m@1", len, jl);
    if (ks) {
        size_t step = data[3] ? data[3] : 256;
        for (size_t at = 0; at < len; at += step)
            kserve_stream_feed(ks, body + at, len - at < step ? len - at : step);
        wbuf sb = WBUF_INIT;
        kserve_request srq;
        mlhep_err se = {0};
        int src = kserve_stream_finish(ks, kinds ? kind_fn : NULL, NULL, &sb, &srq, &se);
        if ((rc == 0) != (src == 0) || (src && !se.msg[0]))
            abort(); /* the stream accepts what the whole parse refuses, or the other way */
        if (rc == 0 && (srq.nrows != rq.nrows || srq.binary_output != rq.binary_output || strcmp(srq.id, rq.id)))
            abort();
        if (rc == 0)
            same_columns(&cb, &sb);
        wbuf_free(&sb);
        kserve_stream_free(ks);
    }
    if (rc == 0) {
        colreq q = {0};
        if (colreq_parse(cb.p, cb.len, &q, &e) != 0 || q.nrows != rq.nrows || q.nrows == 0)
            abort(); /* the parser accepted what the columnar format refuses */
        size_t n = rq.nrows < 4096 ? rq.nrows : 4096;
        float *scores = calloc(n * 2, sizeof *scores);
        if (scores) {
            wbuf w = WBUF_INIT;
            size_t jlen = 0;
            for (int bin = 0; bin < 2; bin++) {
                rq.binary_output = bin;
                if (kserve_write_response(&rq, "m", "1", scores, n, 2, &w, &jlen, &e) == 0) {
                    json_t *d = json_loadb((const char *)w.p, jlen, 0, NULL);
                    if (!d)
                        abort(); /* the JSON part must be JSON */
                    json_decref(d);
                }
            }
            wbuf_free(&w);
            free(scores);
        }
        colreq_free(&q);
    } else if (!e.msg[0]) {
        abort(); /* every refusal says why */
    }
    wbuf_free(&cb);
    json_t *f = json_loadb(body, len, 0, NULL);
    if (f) {
        json_t *meta = NULL;
        if (kserve_model_metadata("m", f, &meta, &e) == 0)
            json_decref(meta);
        json_decref(f);
    }
    return 0;
}

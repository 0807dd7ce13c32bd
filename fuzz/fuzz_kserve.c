/* fuzz_kserve.c - fuzzes the KServe / Open Inference Protocol v2 request parser
 * (gateway/kserve.h: JSON inputs, nested data, every datatype, the binary tensor
 * extension) on arbitrary bodies and JSON lengths, checks that what it accepts is a
 * columnar request colreq_parse reads back, writes a response for it (JSON and binary),
 * and feeds the body to kserve_model_metadata as a features document.
 *
 * Input: 4 bytes - the JSON length (little-endian u16 in bytes 0-1, taken modulo the
 * body's length + 1; 0 = all JSON), flags in byte 2 (bit 0: the model's kinds decide:
 * inputs named j* are jagged, x* unknown, others flat), byte 3 unused - then the body.
 * Corpus: fuzz/corpus/kserve. */
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

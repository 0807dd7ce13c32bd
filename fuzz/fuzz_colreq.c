/* fuzz_colreq.c - fuzzes the binary columnar request and response parsers
 * (common/infer/colreq.c), which the inference worker and its clients run on bytes from the
 * network.
 *
 * Input: the bytes of a request. colreq_parse; when it parses, colreq_rows with a fixed
 * features document (flat a, b; jagged j of length 3) and every cell touched (ASan
 * catches a short buffer). The same bytes also go through colresp_parse.
 * Corpus: fuzz/corpus/colreq (valid requests of several types and shapes, a response). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer/colreq.h"
#include "data/featmap.h"

static const char DOC[] =
    "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":-1,\"width\":5,"
    "\"features\":[{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":1,\"scale\":0.5},"
    "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0,\"scale\":1},"
    "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":3,\"offset\":2,\"sub\":10,\"scale\":0.1}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static featmap *fm;
    mlhep_err e;
    if (!fm && featmap_load_text(DOC, strlen(DOC), &fm, &e))
        abort();
    colreq q = {0};
    featmap_batch b = {0};
    if (!colreq_parse(data, size, &q, &e) && q.nrows <= 100000 && !colreq_rows(fm, &q, &b, &e)) {
        volatile float s = 0;
        for (size_t i = 0; i < b.nrows * (size_t)fm->width; i++)
            s += b.x[i];
        (void)s;
    }
    featmap_batch_free(&b);
    colreq_free(&q);
    colresp r = {0};
    if (!colresp_parse(data, size, &r, &e)) {
        volatile float s = 0;
        for (size_t i = 0; i < r.nrows * r.k; i++)
            s += r.scores[i];
        (void)s;
    }
    colresp_free(&r);
    return 0;
}

/* fuzz_featmap.c - fuzzes the features document loader and the request -> rows path
 * (common/data/featmap.c), the parsers the inference worker runs on outside input.
 *
 * Input: one mode byte, then data.
 *   mode 0: data is a features document (JSON text) given to featmap_load_text; when it
 *           loads, a small fixed request is turned into rows with it;
 *   mode 1: data is a prediction request (JSON text) turned into rows with a fixed
 *           features document (flat a, b; jagged j of length 3), through both
 *           featmap_from_request and featmap_request_rows.
 * Corpus: fuzz/corpus/featmap (first byte '0' or '1'). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/featmap.h"

static const char DOC[] =
    "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":-1,\"width\":5,"
    "\"features\":[{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":1,\"scale\":0.5},"
    "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0,\"scale\":1},"
    "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":3,\"offset\":2,\"sub\":10,\"scale\":0.1}]}";

static void rows_of(const featmap *fm, const char *text, size_t len)
{
    json_t *req = json_loadb(text, len, 0, NULL);
    if (!req)
        return;
    featmap_batch b = {0};
    mlhep_err e;
    size_t n;
    featmap_request_rows(req, &n, &e);
    if (featmap_from_request(fm, req, &b, &e) == 0 && b.nrows) {
        volatile float s = 0; /* touch every cell: ASan catches a short buffer */
        for (size_t i = 0; i < b.nrows * (size_t)fm->width; i++)
            s += b.x[i] + b.mask[i];
        (void)s;
    }
    featmap_batch_free(&b);
    json_decref(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    mlhep_err e;
    featmap *fm = NULL;
    const char *text = (const char *)data + 1;
    if (data[0] == '0') {
        if (featmap_load_text(text, size - 1, &fm, &e) == 0) {
            static const char REQ[] = "{\"rows\":[{\"a\":1},{\"a\":2,\"b\":[1,2]}]}";
            rows_of(fm, REQ, sizeof REQ - 1);
            if (fm->nfeat)
                featmap_find(fm, fm->feat[0].name, strlen(fm->feat[0].name));
        }
    } else {
        if (featmap_load_text(DOC, sizeof DOC - 1, &fm, &e) == 0)
            rows_of(fm, text, size - 1);
    }
    featmap_free(fm);
    return 0;
}

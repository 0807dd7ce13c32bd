/* fuzz_reqparse.c - fuzzes the worker's fast JSON request parser (common/infer/reqparse.c)
 * DIFFERENTIALLY against the general path it stands in for: whenever reqparse accepts
 * a document, jansson (JSON_REJECT_DUPLICATES, as the worker) must parse it, its
 * "model" must be the same string, and featmap_from_request must give bit-identical
 * rows; any difference aborts. Features: flat a, b; jagged j of length 3.
 * Corpus: fuzz/corpus/reqparse (keys/values and rows documents, good and bad). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/featmap.h"
#include "infer/reqparse.h"

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
    reqparse p = {0};
    featmap_batch fast = {0}, slow = {0};
    if (!reqparse_scan(&p, (const char *)data, size) && !reqparse_rows(&p, fm, &fast)) {
        json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
        const char *model = json_string_value(json_object_get(req, "model"));
        if (!req || !model || strcmp(model, p.model) || featmap_from_request(fm, req, &slow, &e) ||
            slow.nrows != fast.nrows || memcmp(slow.x, fast.x, fast.nrows * (size_t)fm->width * sizeof(float)))
            abort();
        json_decref(req);
    }
    featmap_batch_free(&fast);
    featmap_batch_free(&slow);
    reqparse_free(&p);
    return 0;
}

/* fuzz_specs_part.c - a specs part (common/data/specs.h) is what a sub-task of a fanned-out
 * specs pass writes to Redis and the coordinator reads back (fanout.h): bytes another
 * process produced. Each input is parsed as JSON and checked against a fixed plan (one
 * flat and one jagged feature, two files) with specs_part_from_json; an accepted part is
 * written out again with specs_part_to_json and must be accepted again with the same
 * values. Must never crash, leak or read out of bounds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/specs.h"

static specs plan;
static specs_feature feats[2];
static char *names[2] = {"MET_pt", "Jet_pt"};

static void setup(void)
{
    if (plan.nfeat)
        return;
    feats[0].name = names[0];
    feats[0].len = 1;
    feats[1].name = names[1];
    feats[1].jagged = 1;
    feats[1].len = 4;
    plan.nfeat = 2;
    plan.feat = feats;
    plan.nfiles = 2;
}

static int same(const specs_part *a, const specs_part *b)
{
    if (a->file != b->file || a->unit0 != b->unit0 || a->nunits != b->nunits || a->entries != b->entries ||
        a->events != b->events || a->nfeat != b->nfeat)
        return 0;
    for (size_t i = 0; i < a->nfeat; i++) {
        const specs_part_feat *x = &a->feat[i], *y = &b->feat[i];
        if (x->count != y->count || x->max_len != y->max_len ||
            (memcmp(&x->min, &y->min, sizeof x->min) && !(isnan(x->min) && isnan(y->min))) ||
            (memcmp(&x->max, &y->max, sizeof x->max) && !(isnan(x->max) && isnan(y->max))))
            return 0;
        for (int64_t u = 0; u < a->nunits; u++)
            if ((x->sum[u] != y->sum[u] && !(isnan(x->sum[u]) && isnan(y->sum[u]))) ||
                (x->sumsq[u] != y->sumsq[u] && !(isnan(x->sumsq[u]) && isnan(y->sumsq[u]))))
                return 0;
        if (x->len_hist && memcmp(x->len_hist, y->len_hist, SPECS_LEN_BINS * sizeof *x->len_hist))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, 0, &je);
    if (!doc)
        return 0;
    specs_part *p = NULL, *q = NULL;
    mlhep_err e;
    if (specs_part_from_json(doc, &plan, &p, &e) == 0) {
        json_t *o = specs_part_to_json(&plan, p);
        if (!o || specs_part_from_json(o, &plan, &q, &e) != 0 || !same(p, q))
            abort();
        json_decref(o);
    }
    specs_part_free(p);
    specs_part_free(q);
    json_decref(doc);
    return 0;
}

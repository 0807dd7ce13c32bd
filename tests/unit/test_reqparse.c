/* test_reqparse.c - the worker's fast JSON request parser (common/infer/reqparse.c): the
 * documents it accepts give rows bit-identical to the general path (jansson +
 * featmap_from_request), with the model reference; everything outside its strict subset
 * (other members or forms, escapes, duplicate or unknown or missing branches, wrong
 * shapes, numbers jansson refuses or reads differently, trailing bytes, model references
 * the schema refuses) is handed back (REQPARSE_OTHER) for the general path to answer. */
#include <stdlib.h>
#include <string.h>

#include "data/featmap.h"
#include "infer/reqparse.h"
#include "test.h"

static const char DOC[] =
    "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"standard\",\"pad\":-1,\"width\":5,"
    "\"features\":[{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":1,\"scale\":0.5},"
    "{\"name\":\"Jet.b_2\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0.1,\"scale\":3},"
    "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":3,\"offset\":2,\"sub\":10,\"scale\":0.1}]}";

static const char *GOOD[] = {
    "{\"model\":\"ttH@3\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2.5e-3,[1,2,3,4]]}",
    "{\"keys\":[\"j\",\"a\",\"Jet.b_2\"],\"values\":[[],-0,1E+2],\"model\":\"m\"}",
    "{\"model\":\"m@latest\",\"rows\":[{\"a\":1,\"Jet.b_2\":2,\"j\":[5]},{\"j\":[1,2,3],\"Jet.b_2\":-1.5,\"a\":0}]}",
    " { \"model\" : \"0abc-d.e_f\" ,\n\t\"rows\" : [ { \"a\" : 1 , \"Jet.b_2\" : 2 , \"j\" : [ ] } ] } \r\n",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[0.1,123456789012345678,[1e-320,-2.5E-3,7]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[-9223372036854775808,1.7976931348623157e308,[3]]}",
};

static const char *OTHER[] = {
    "",
    "[]",
    "{\"model\":\"m\"}",
    "{\"model\":\"m\",\"columns\":{\"a\":[1],\"Jet.b_2\":[2],\"j\":[[3]]}}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]],\"extra\":1}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]],\"rows\":[]}",
    "{\"model\":\"m\",\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]} x",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3],4]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\",\"a\"],\"values\":[1,2,[3],4]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\"],\"values\":[1,2]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"zz\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[[1],2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,3]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[\"1\",2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[01,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1.,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[.5,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[+1,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[NaN,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1e400,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[9223372036854775808,2,[3]]}",
    "{\"model\":\"m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3,]]}",
    "{\"model\":\"m\",\"keys\":[\"\\u0061\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"-m\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"m@\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"m@x\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"m n\",\"keys\":[\"a\",\"Jet.b_2\",\"j\"],\"values\":[1,2,[3]]}",
    "{\"model\":\"m\",\"rows\":[]}",
    "{\"model\":\"m\",\"rows\":[{\"a\":1,\"Jet.b_2\":2,\"j\":[5],\"a\":3}]}",
    "{\"model\":\"m\",\"rows\":[{\"a\":1,\"Jet.b_2\":2,\"j\":[5]},{\"a\":1,\"j\":[5]}]}",
    "{\"model\":\"m\",\"rows\":[{\"a\":1,\"Jet.b_2\":2,\"j\":[5]},]}",
};

TEST(same_rows_as_general_path)
{
    featmap *fm = NULL;
    mlhep_err e;
    CHECK(!featmap_load_text(DOC, strlen(DOC), &fm, &e));
    reqparse p = {0};
    featmap_batch fast = {0}, slow = {0};
    int bad = 0;
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) {
        json_t *req = json_loads(GOOD[i], JSON_REJECT_DUPLICATES, NULL);
        int rc = reqparse_scan(&p, GOOD[i], strlen(GOOD[i]));
        if (!rc)
            rc = reqparse_rows(&p, fm, &fast);
        int src = !req || featmap_from_request(fm, req, &slow, &e);
        if (rc || src || fast.nrows != slow.nrows ||
            memcmp(fast.x, slow.x, fast.nrows * (size_t)fm->width * sizeof(float)) ||
            strcmp(p.model, json_string_value(json_object_get(req, "model")))) {
            printf("  good document %zu: fast %d general %d: %s\n", i, rc, src, GOOD[i]);
            bad++;
        }
        json_decref(req);
    }
    featmap_batch_free(&fast);
    featmap_batch_free(&slow);
    reqparse_free(&p);
    featmap_free(fm);
    CHECK_EQ_INT(bad, 0);
}

TEST(everything_else_handed_back)
{
    featmap *fm = NULL;
    mlhep_err e;
    CHECK(!featmap_load_text(DOC, strlen(DOC), &fm, &e));
    reqparse p = {0};
    featmap_batch b = {0};
    int bad = 0;
    for (size_t i = 0; i < sizeof OTHER / sizeof *OTHER; i++) {
        int rc = reqparse_scan(&p, OTHER[i], strlen(OTHER[i]));
        if (!rc)
            rc = reqparse_rows(&p, fm, &b);
        if (rc != REQPARSE_OTHER) {
            printf("  accepted (%d): %s\n", rc, OTHER[i]);
            bad++;
        }
    }
    /* every prefix of a good document is handed back, and read within its bounds */
    const char *g = GOOD[2];
    for (size_t n = 0; n < strlen(g); n++) {
        char *cp = malloc(n ? n : 1); /* exact size: ASan catches a read past the end */
        memcpy(cp, g, n);
        int rc = reqparse_scan(&p, cp, n);
        if (!rc)
            rc = reqparse_rows(&p, fm, &b);
        free(cp);
        if (rc != REQPARSE_OTHER) {
            printf("  prefix of %zu bytes accepted\n", n);
            bad++;
        }
    }
    featmap_batch_free(&b);
    reqparse_free(&p);
    featmap_free(fm);
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN(same_rows_as_general_path);
    RUN(everything_else_handed_back);
    return test_summary();
}

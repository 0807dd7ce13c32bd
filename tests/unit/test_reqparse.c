/* test_reqparse.c - the worker's fast JSON request parser (common/infer/reqparse.c): the
 * documents it accepts give rows bit-identical to the general path (jansson +
 * featmap_from_request), with the model reference; everything outside its strict subset
 * (other members or forms, escapes, duplicate or unknown or missing branches, wrong
 * shapes, numbers jansson refuses or reads differently, trailing bytes, model references
 * the schema refuses) is handed back (REQPARSE_OTHER) for the general path to answer.
 * Values of "float32" features written in short decimal form give, on both parsers and
 * through binary float64 columns (colreq), exactly the rows of the float32 values
 * themselves (the ROOT path), where reading them as doubles would not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/featmap.h"
#include "infer/colreq.h"
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

/* float32 features: "a" flat, "j" jagged; "i" (int32) is left as it is. sub is a double
 * that is no float32, scale large: a value read as a double instead of its float32
 * lands elsewhere. */
static const char DOC32[] =
    "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"standard\",\"pad\":0,\"width\":4,"
    "\"features\":[{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":0.1,\"scale\":1000,"
    "\"type\":\"float32\"},"
    "{\"name\":\"i\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0.5,\"scale\":3,\"type\":\"int32\"},"
    "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":2,\"offset\":2,\"sub\":-1.3,\"scale\":77.7,\"type\":\"float32\"}]}";

TEST(float32_values_round_like_root)
{
    featmap *fm = NULL;
    mlhep_err e;
    CHECKF(!featmap_load_text(DOC32, strlen(DOC32), &fm, &e), "%s", e.msg);
    CHECK(fm->feat[0].f32 && !fm->feat[1].f32 && fm->feat[2].f32);
    enum { N = 2000 };
    static float a[N], j[2 * N];
    static double ad[N], id[N], jd[2 * N], as[N], js[2 * N];
    static int64_t jo[N + 1];
    static char text[N][200];
    rng r;
    rng_seed(&r, 20);
    size_t differ = 0;
    for (size_t k = 0; k < N; k++) {
        a[k] = (float)(rng_unit(&r) * 20 - 10);
        j[2 * k] = (float)(rng_unit(&r) * 3);
        j[2 * k + 1] = (float)(rng_unit(&r) * 1e-3);
        ad[k] = a[k];
        id[k] = (double)(k % 7) - 3;
        jd[2 * k] = j[2 * k];
        jd[2 * k + 1] = j[2 * k + 1];
        jo[k + 1] = 2 * (int64_t)(k + 1);
        char sa[32], s0[32], s1[32];
        /* the shortest decimal that reads back as the float (what mlhep-root dump prints) */
        for (int prec = 1; prec <= 9; prec++) {
            snprintf(sa, sizeof sa, "%.*g", prec, (double)a[k]);
            if (strtof(sa, NULL) == a[k])
                break;
        }
        for (int prec = 1; prec <= 9; prec++) {
            snprintf(s0, sizeof s0, "%.*g", prec, (double)j[2 * k]);
            if (strtof(s0, NULL) == j[2 * k])
                break;
        }
        for (int prec = 1; prec <= 9; prec++) {
            snprintf(s1, sizeof s1, "%.*g", prec, (double)j[2 * k + 1]);
            if (strtof(s1, NULL) == j[2 * k + 1])
                break;
        }
        as[k] = strtod(sa, NULL);
        js[2 * k] = strtod(s0, NULL);
        js[2 * k + 1] = strtod(s1, NULL);
        if (featmap_norm(as[k], 0, 0.1, 1000) != featmap_norm(ad[k], 0, 0.1, 1000))
            differ++;
        snprintf(text[k], sizeof text[k], "{\"model\":\"m\",\"keys\":[\"a\",\"i\",\"j\"],\"values\":[%s,%g,[%s,%s]]}",
                 sa, id[k], s0, s1);
    }
    /* the ROOT path: columns of the float values */
    featmap_col cols[3] = {{ad, NULL}, {id, NULL}, {jd, jo}};
    float *want = malloc(sizeof(float) * 4 * N);
    CHECKF(!featmap_rows(fm, cols, N, want, NULL, &e), "%s", e.msg);
    reqparse p = {0};
    featmap_batch fast = {0}, slow = {0}, bin = {0};
    int bad = 0;
    for (size_t k = 0; k < N; k++) {
        json_t *req = json_loads(text[k], 0, NULL);
        int rc = reqparse_scan(&p, text[k], strlen(text[k]));
        if (!rc)
            rc = reqparse_rows(&p, fm, &fast);
        int src = !req || featmap_from_request(fm, req, &slow, &e);
        if (rc || src || memcmp(fast.x, want + 4 * k, 4 * sizeof(float)) ||
            memcmp(slow.x, want + 4 * k, 4 * sizeof(float))) {
            if (bad++ < 5)
                printf("  row %zu: fast %d general %d: %s\n", k, rc, src, text[k]);
        }
        json_decref(req);
    }
    /* binary columns of float64 values parsed from the same text */
    wbuf b = {0};
    colreq q = {0};
    int rc = colreq_begin(&b, "m", N, 3, &e) || colreq_add(&b, "a", COL_F64, as, NULL, N, &e) ||
             colreq_add(&b, "i", COL_F64, id, NULL, N, &e) || colreq_add(&b, "j", COL_F64, js, jo, N, &e) ||
             colreq_end(&b, &e) || colreq_parse(b.p, b.len, &q, &e) || colreq_rows(fm, &q, &bin, &e);
    CHECKF(!rc, "%s", e.msg);
    CHECK(!memcmp(bin.x, want, sizeof(float) * 4 * N));
    printf("  %zu of %d values of 'a' read as doubles would give another row value\n", differ, N);
    CHECK(differ > 0);
    colreq_free(&q);
    wbuf_free(&b);
    featmap_batch_free(&fast);
    featmap_batch_free(&slow);
    featmap_batch_free(&bin);
    reqparse_free(&p);
    featmap_free(fm);
    free(want);
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN(same_rows_as_general_path);
    RUN(everything_else_handed_back);
    RUN(float32_values_round_like_root);
    return test_summary();
}

/* test_colreq.c - the binary columnar request/response (common/infer/colreq.c).
 *
 * Requests written with the C writer parse back to the same columns (every type, flat
 * and jagged, offsets not starting at 0); colreq_rows gives rows bit-identical to
 * featmap_rows on the same values converted to double (the JSON and local paths), for
 * every type; every malformed request is refused with a message naming the problem
 * (every truncation length, trailing bytes, bad header fields, bad offsets, unknown
 * type or kind, unknown / missing / duplicate branches, flat/jagged mismatches); the
 * response round-trips and truncated or corrupt responses are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer/colreq.h"
#include "data/featmap.h"
#include "test.h"

/* flat a (sub 1 scale 0.5), flat b, jagged j (len 3, pad -1) */
static const char DOC[] =
    "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":-1,\"width\":5,"
    "\"features\":[{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":1,\"scale\":0.5},"
    "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0.1,\"scale\":3},"
    "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":3,\"offset\":2,\"sub\":10,\"scale\":0.1}]}";

static featmap *fm_load(void)
{
    featmap *fm = NULL;
    mlhep_err e;
    if (featmap_load_text(DOC, strlen(DOC), &fm, &e))
        printf("  featmap: %s\n", e.msg);
    return fm;
}

/* 4 rows: a float32, b int16, j float64 with lists of 0, 2, 5, 1 values, given with
 * offsets starting at 3 (the writer rebases them). */
static const float A[4] = {1.5f, -2.25f, 1e6f, 0.1f};
static const int16_t B[4] = {-3, 0, 7, 32767};
static const double JV[3 + 8] = {99, 99, 99, 1.5, 2.5, -1, 0, 1e10, 3.25, 4, 5};
static const int64_t JO[5] = {3, 3, 5, 10, 11};

static int build(wbuf *b, mlhep_err *e)
{
    return colreq_begin(b, "ttH@3", 4, 3, e) || colreq_add(b, "a", COL_F32, A, NULL, 4, e) ||
           colreq_add(b, "b", COL_I16, B, NULL, 4, e) || colreq_add(b, "j", COL_F64, JV, JO, 4, e) ||
           colreq_end(b, e);
}

TEST(roundtrip)
{
    wbuf b = WBUF_INIT;
    colreq q = {0};
    mlhep_err e;
    CHECKF(!build(&b, &e), "%s", e.msg);
    CHECKF(!colreq_parse(b.p, b.len, &q, &e), "%s", e.msg);
    CHECK(!strcmp(q.model, "ttH@3"));
    CHECK_EQ_INT(q.nrows, 4);
    CHECK_EQ_INT(q.ncols, 3);
    CHECK(q.cols[0].name_len == 1 && q.cols[0].name[0] == 'a' && q.cols[0].type == COL_F32 && !q.cols[0].jagged);
    CHECK(!memcmp(q.cols[0].values, A, sizeof A));
    CHECK(q.cols[1].type == COL_I16 && !memcmp(q.cols[1].values, B, sizeof B));
    CHECK(q.cols[2].jagged && q.cols[2].type == COL_F64);
    CHECK_EQ_INT(q.cols[2].nvalues, 8);
    CHECK(!memcmp(q.cols[2].values, JV + 3, 8 * sizeof(double)));
    uint32_t o[5];
    memcpy(o, q.cols[2].offsets, sizeof o);
    CHECK(o[0] == 0 && o[1] == 0 && o[2] == 2 && o[3] == 7 && o[4] == 8);
    /* header bytes as documented */
    CHECK(!memcmp(b.p, "MLHC", 4) && b.p[4] == 1 && b.p[5] == 0 && b.p[8] == 4 && b.p[12] == 3 && b.p[16] == 5);
    colreq_free(&q);
    wbuf_free(&b);
}

TEST(rows_match_featmap)
{
    featmap *fm = fm_load();
    CHECK(fm);
    wbuf b = WBUF_INIT;
    colreq q = {0};
    featmap_batch fb = {0};
    mlhep_err e;
    int ok = !build(&b, &e) && !colreq_parse(b.p, b.len, &q, &e) && !colreq_rows(fm, &q, &fb, &e);
    if (!ok)
        printf("  %s\n", e.msg);
    /* the reference: featmap_rows over doubles */
    double ad[4], bd[4];
    for (int i = 0; i < 4; i++) {
        ad[i] = A[i];
        bd[i] = B[i];
    }
    featmap_col cols[3] = {{ad, NULL}, {bd, NULL}, {JV, JO}};
    float ref[4 * 5];
    int rrc = featmap_rows(fm, cols, 4, ref, NULL, &e);
    int same = ok && !rrc && fb.nrows == 4 && !memcmp(fb.x, ref, sizeof ref);
    /* row 0: j empty -> 3 pads; row 2: j truncated to 3 */
    int pads = ok && fb.x[2] == -1.0f && fb.x[3] == -1.0f && fb.x[4] == -1.0f &&
               fb.x[2 * 5 + 2] == (float)((-1.0 - 10) * 0.1) && fb.x[2 * 5 + 4] == (float)((1e10 - 10) * 0.1);
    featmap_batch_free(&fb);
    colreq_free(&q);
    wbuf_free(&b);
    featmap_free(fm);
    CHECK(ok);
    CHECK(same);
    CHECK(pads);
}

/* Every type: one flat column "a" of that type (others fixed) equals featmap_rows. */
TEST(every_type)
{
    featmap *fm = fm_load();
    CHECK(fm);
    int bad = 0;
    for (int t = COL_BOOL; t <= COL_F64; t++) {
        uint8_t raw[4 * 8];
        double ref_a[4];
        for (int r = 0; r < 4; r++) {
            double v = t == COL_BOOL ? (r & 1) : (t >= COL_U8 && t <= COL_U64 ? r * 3 + 1 : r * 3 - 5) + (t >= COL_F32 ? 0.5 : 0);
            ref_a[r] = v;
            switch (t) {
            case COL_BOOL: case COL_U8: ((uint8_t *)raw)[r] = (uint8_t)v; break;
            case COL_I8: ((int8_t *)raw)[r] = (int8_t)v; break;
            case COL_I16: { int16_t x = (int16_t)v; memcpy(raw + 2 * r, &x, 2); } break;
            case COL_U16: { uint16_t x = (uint16_t)v; memcpy(raw + 2 * r, &x, 2); } break;
            case COL_I32: { int32_t x = (int32_t)v; memcpy(raw + 4 * r, &x, 4); } break;
            case COL_U32: { uint32_t x = (uint32_t)v; memcpy(raw + 4 * r, &x, 4); } break;
            case COL_I64: { int64_t x = (int64_t)v; memcpy(raw + 8 * r, &x, 8); } break;
            case COL_U64: { uint64_t x = (uint64_t)v; memcpy(raw + 8 * r, &x, 8); } break;
            case COL_F32: { float x = (float)v; memcpy(raw + 4 * r, &x, 4); } break;
            default: memcpy(raw + 8 * r, &v, 8); break;
            }
        }
        wbuf b = WBUF_INIT;
        colreq q = {0};
        featmap_batch fb = {0};
        mlhep_err e;
        double bd[4] = {1, 2, 3, 4};
        int rc = colreq_begin(&b, "m", 4, 3, &e) || colreq_add(&b, "j", COL_F64, JV, JO, 4, &e) ||
                 colreq_add(&b, "a", t, raw, NULL, 4, &e) || colreq_add(&b, "b", COL_F64, bd, NULL, 4, &e) ||
                 colreq_parse(b.p, b.len, &q, &e) || colreq_rows(fm, &q, &fb, &e);
        featmap_col cols[3] = {{ref_a, NULL}, {bd, NULL}, {JV, JO}};
        float ref[20];
        rc = rc || featmap_rows(fm, cols, 4, ref, NULL, &e);
        if (rc || memcmp(ref, fb.x, sizeof ref)) {
            printf("  type %s: %s\n", coltype_name(t), rc ? e.msg : "rows differ");
            bad++;
        }
        featmap_batch_free(&fb);
        colreq_free(&q);
        wbuf_free(&b);
    }
    featmap_free(fm);
    CHECK_EQ_INT(bad, 0);
}

static int refused(const uint8_t *p, size_t n, const char *needle)
{
    colreq q = {0};
    mlhep_err e;
    err_clear(&e);
    int rc = colreq_parse(p, n, &q, &e);
    colreq_free(&q);
    if (!rc || rc != MLHEP_EFORMAT || !strstr(e.msg, needle)) {
        printf("  expected a refusal naming '%s', got rc %d: %s\n", needle, rc, e.msg);
        return 0;
    }
    return 1;
}

TEST(malformed)
{
    wbuf b = WBUF_INIT;
    mlhep_err e;
    CHECK(!build(&b, &e));
    /* every truncation is refused (ASan: no read past the end) */
    for (size_t n = 0; n < b.len; n++) {
        colreq q = {0};
        int rc = colreq_parse(b.p, n, &q, &e);
        colreq_free(&q);
        CHECKF(rc == MLHEP_EFORMAT, "prefix of %zu bytes accepted", n);
    }
    uint8_t *m = malloc(b.len + 8);
    CHECK(m);
#define MUT(stmt, nbytes, needle)                                                                                         \
    do {                                                                                                               \
        memcpy(m, b.p, b.len);                                                                                           \
        stmt;                                                                                                          \
        CHECK(refused(m, nbytes, needle));                                                                                \
    } while (0)
    MUT(m[0] = 'X', b.len, "bad magic");
    MUT(m[4] = 2, b.len, "version 2 not supported");
    MUT(m[6] = 1, b.len, "reserved flags");
    MUT(memset(m + 8, 0, 4), b.len, "row count 0");
    MUT(memset(m + 8, 0xff, 4), b.len, "row count 4294967295");
    MUT(memset(m + 12, 0, 4), b.len, "column count 0");
    MUT(m[14] = 1, b.len, "columns announced");                 /* 65539 columns: more than the bytes */
    MUT(m[16] = 0, b.len, "model reference length 0");
    MUT(m[18] = 0, b.len, "NUL byte in the model reference");
    MUT(memcpy(m + b.len, "ab", 2), b.len + 2, "2 bytes after the last column");
    /* column a starts at 23: u16 1, 'a', type, kind */
    MUT(m[23] = 0, b.len, "name of 0 bytes");
    MUT(m[26] = 0, b.len, "unknown type 0");
    MUT(m[26] = 12, b.len, "unknown type 12");
    MUT(m[27] = 2, b.len, "unknown kind 2");
    /* column j: after a (5 + 16 bytes) and b (5 + 8): at 23 + 21 + 13 = 57: u16, 'j', type, kind, nvalues, offsets */
    size_t j = 57;
    CHECK(b.p[j] == 1 && b.p[j + 2] == 'j' && b.p[j + 4] == 1);
    MUT(m[j + 9] = 1, b.len, "offsets[0] is 1");
    MUT(m[j + 17] = 9, b.len, "offsets decrease at row 2");     /* offsets[2] = 9 > offsets[3] = 7 */
    MUT(m[j + 25] = 9, b.len, "offsets end at 9");
    MUT(m[j + 5] = 9, b.len, "offsets end at 8 but the column has 9 values");
    MUT(m[j + 4] = 0, b.len, "");                                /* jagged as flat: the layout no longer adds up */
#undef MUT
    free(m);
    wbuf_free(&b);
}

static int rows_refused(wbuf *b, int code, const char *needle)
{
    featmap *fm = fm_load();
    colreq q = {0};
    featmap_batch fb = {0};
    mlhep_err e;
    err_clear(&e);
    int rc = colreq_parse(b->p, b->len, &q, &e);
    if (!rc)
        rc = colreq_rows(fm, &q, &fb, &e);
    featmap_batch_free(&fb);
    colreq_free(&q);
    featmap_free(fm);
    wbuf_free(b);
    if (rc != code || !strstr(e.msg, needle)) {
        printf("  expected %d naming '%s', got %d: %s\n", code, needle, rc, e.msg);
        return 0;
    }
    return 1;
}

TEST(branches)
{
    wbuf b = WBUF_INIT;
    mlhep_err e;
    double d[4] = {0};
    int64_t o[5] = {0, 1, 1, 1, 1};
    CHECK(!colreq_begin(&b, "m", 4, 3, &e) && !colreq_add(&b, "a", COL_F64, d, NULL, 4, &e) &&
          !colreq_add(&b, "zz", COL_F64, d, NULL, 4, &e) && !colreq_add(&b, "j", COL_F64, d, o, 4, &e));
    CHECK(rows_refused(&b, MLHEP_ENOTFOUND, "unknown branch 'zz'"));
    CHECK(!colreq_begin(&b, "m", 4, 2, &e) && !colreq_add(&b, "a", COL_F64, d, NULL, 4, &e) &&
          !colreq_add(&b, "j", COL_F64, d, o, 4, &e));
    CHECK(rows_refused(&b, MLHEP_ENOTFOUND, "missing 1 branch the model needs: 'b'"));
    CHECK(!colreq_begin(&b, "m", 4, 4, &e) && !colreq_add(&b, "a", COL_F64, d, NULL, 4, &e) &&
          !colreq_add(&b, "b", COL_F64, d, NULL, 4, &e) && !colreq_add(&b, "a", COL_F64, d, NULL, 4, &e) &&
          !colreq_add(&b, "j", COL_F64, d, o, 4, &e));
    CHECK(rows_refused(&b, MLHEP_EINVAL, "branch 'a' given twice"));
    CHECK(!colreq_begin(&b, "m", 4, 3, &e) && !colreq_add(&b, "a", COL_F64, d, o, 4, &e) &&
          !colreq_add(&b, "b", COL_F64, d, NULL, 4, &e) && !colreq_add(&b, "j", COL_F64, d, o, 4, &e));
    CHECK(rows_refused(&b, MLHEP_EINVAL, "branch 'a' is flat in the model"));
    CHECK(!colreq_begin(&b, "m", 4, 3, &e) && !colreq_add(&b, "a", COL_F64, d, NULL, 4, &e) &&
          !colreq_add(&b, "b", COL_F64, d, NULL, 4, &e) && !colreq_add(&b, "j", COL_F64, d, NULL, 4, &e));
    CHECK(rows_refused(&b, MLHEP_EINVAL, "branch 'j' is jagged in the model"));
}

TEST(writer_errors)
{
    wbuf b = WBUF_INIT;
    mlhep_err e;
    double d[4] = {0};
    int64_t dec[5] = {0, 2, 1, 3, 4};
    CHECK(colreq_add(&b, "a", COL_F64, d, NULL, 4, &e) == MLHEP_EINVAL);    /* before begin */
    CHECK(colreq_begin(&b, "", 4, 1, &e) == MLHEP_EINVAL);
    CHECK(colreq_begin(&b, "m", 0, 1, &e) == MLHEP_EINVAL);
    CHECK(!colreq_begin(&b, "m", 4, 2, &e));
    CHECK(colreq_add(&b, "a", COL_F64, d, NULL, 3, &e) == MLHEP_EINVAL && strstr(e.msg, "3 rows"));
    CHECK(colreq_add(&b, "a", 42, d, NULL, 4, &e) == MLHEP_EINVAL);
    CHECK(colreq_add(&b, "a", COL_F64, d, dec, 4, &e) == MLHEP_EINVAL && strstr(e.msg, "decrease"));
    CHECK(!colreq_add(&b, "a", COL_F64, d, NULL, 4, &e));
    CHECK(colreq_end(&b, &e) == MLHEP_EINVAL && strstr(e.msg, "1 of the 2 announced")); /* one of two */
    CHECK(!colreq_add(&b, "b", COL_F64, d, NULL, 4, &e) && !colreq_end(&b, &e));
    CHECK(!colreq_add(&b, "c", COL_F64, d, NULL, 4, &e)); /* one more than announced */
    CHECK(colreq_end(&b, &e) == MLHEP_EINVAL && strstr(e.msg, "3 of the 2 announced"));
    b.len -= 37 + 8; /* the third column (37 bytes) gone, the second cut short */
    CHECK(colreq_end(&b, &e) == MLHEP_EINVAL && strstr(e.msg, "column 2 (of 2 announced) is cut short"));
    wbuf_free(&b);
}

/* A jagged column written in place (colreq_jagged_begin/end) is the same bytes as
 * colreq_add's; what the producer wrote wrongly is refused, naming the column. */
TEST(jagged_in_place)
{
    wbuf ref = WBUF_INIT, b = WBUF_INIT;
    mlhep_err e;
    CHECKF(!build(&ref, &e), "%s", e.msg);
    colreq_jag j;
    CHECKF(!colreq_begin(&b, "ttH@3", 4, 3, &e) && !colreq_add(&b, "a", COL_F32, A, NULL, 4, &e) &&
               !colreq_add(&b, "b", COL_I16, B, NULL, 4, &e) &&
               !colreq_jagged_begin(&b, "j", COL_F64, 4, 20, &j, &e),
           "%s", e.msg);
    memset(j.values, 0xee, 20 * sizeof(double)); /* the producer may scribble on its room */
    uint32_t o[5] = {0, 0, 2, 7, 8};
    memcpy(j.offsets, o, sizeof o);
    memcpy(j.values, JV + 3, 8 * sizeof(double));
    CHECKF(!colreq_jagged_end(&b, &j, 8, &e), "%s", e.msg);
    CHECKF(!colreq_end(&b, &e), "%s", e.msg);
    CHECK(b.len == ref.len && !memcmp(b.p, ref.p, b.len));

    struct {
        uint32_t o[3];
        size_t n;
        const char *msg;
    } bad[] = {
        {{1, 1, 2}, 2, "the first offset is 1"},
        {{0, 3, 2}, 2, "offsets decrease at row 1"},
        {{0, 1, 2}, 3, "the last offset is 2, 3 values"},
        {{0, 5, 11}, 11, "11 values, room was made for 10"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wbuf_reset(&b);
        CHECKF(!colreq_begin(&b, "m", 2, 1, &e) && !colreq_jagged_begin(&b, "jj", COL_F32, 2, 10, &j, &e), "%s",
               e.msg);
        memcpy(j.offsets, bad[i].o, sizeof bad[i].o);
        int rc = colreq_jagged_end(&b, &j, bad[i].n, &e);
        CHECKF(rc == MLHEP_EINVAL && strstr(e.msg, bad[i].msg) && strstr(e.msg, "'jj'"), "case %zu: %s", i, e.msg);
    }
    /* a decrease anywhere (in the four-at-a-time part and the rest): named at its row */
    for (size_t nr = 2; nr <= 13; nr++)
        for (size_t at = 2; at <= nr; at++) {
            wbuf_reset(&b);
            CHECK(!colreq_begin(&b, "m", nr, 1, &e) && !colreq_jagged_begin(&b, "d", COL_F32, nr, 64, &j, &e));
            wbuf_store_le32(j.offsets, 0);
            for (size_t r = 1; r <= nr; r++) /* 13, 16, ... and 4 less from row `at` on */
                wbuf_store_le32(j.offsets + 4 * r, (uint32_t)(10 + 3 * r - (r >= at ? 4 : 0)));
            char want[64];
            snprintf(want, sizeof want, "offsets decrease at row %zu", at - 1);
            int rc = colreq_jagged_end(&b, &j, 10 + 3 * nr - 4, &e);
            CHECKF(rc == MLHEP_EINVAL && strstr(e.msg, want), "%zu rows, at %zu: %s", nr, at, e.msg);
        }
    /* offsets on both sides of 2^31 (the four-at-a-time compare is signed, the offsets
     * unsigned): sorted ones pass to the last-offset check, a decrease across is found */
    uint32_t big[2][7] = {{0, 5, 0x80000000u, 0x80000001u, 0xF0000000u, 0xF0000000u, 0xFFFFFFFFu},
                          {0, 0x80000000u, 5, 6, 7, 8, 9}};
    for (int k = 0; k < 2; k++) {
        wbuf_reset(&b);
        CHECK(!colreq_begin(&b, "m", 6, 1, &e) && !colreq_jagged_begin(&b, "u", COL_F32, 6, 16, &j, &e));
        memcpy(j.offsets, big[k], sizeof big[k]);
        int rc = colreq_jagged_end(&b, &j, 9, &e);
        CHECKF(rc == MLHEP_EINVAL && strstr(e.msg, k ? "offsets decrease at row 1" : "the last offset is 4294967295"),
               "case %d: %s", k, e.msg);
    }
    wbuf_reset(&b);
    CHECK(!colreq_begin(&b, "m", 2, 1, &e));
    CHECK(colreq_jagged_begin(&b, "big", COL_F32, 2, (size_t)UINT32_MAX + 1, &j, &e) == MLHEP_EINVAL &&
          strstr(e.msg, "at most 2^32-1"));
    CHECK(colreq_jagged_begin(&b, "x", 99, 2, 4, &j, &e) != 0); /* unknown type */
    CHECK(colreq_jagged_begin(&b, "x", COL_F32, 3, 4, &j, &e) != 0); /* not the request's rows */
    wbuf_free(&ref);
    wbuf_free(&b);
}

TEST(response)
{
    float s[6] = {0.1f, 0.9f, 0.25f, 0.75f, NAN, 1};
    wbuf b = WBUF_INIT;
    colresp r = {0};
    mlhep_err e;
    CHECK(!colresp_write(&b, "ttH@2", s, 3, 2, 12.5, &e));
    CHECKF(!colresp_parse(b.p, b.len, &r, &e), "%s", e.msg);
    CHECK(r.nrows == 3 && r.k == 2 && !strcmp(r.model, "ttH@2") && r.elapsed_us == 12.5f);
    CHECK(!memcmp(r.scores, s, 4 * sizeof *s) && isnan(r.scores[4]) && r.scores[5] == 1);
    for (size_t n = 0; n < b.len; n++)
        CHECKF(colresp_parse(b.p, n, &r, &e) == MLHEP_EFORMAT, "prefix of %zu bytes accepted", n);
    b.p[0] = '{';
    CHECK(colresp_parse(b.p, b.len, &r, &e) == MLHEP_EFORMAT && strstr(e.msg, "bad magic"));
    b.p[0] = 'M';
    b.p[12] = 3; /* 3 outputs: the scores no longer add up */
    CHECK(colresp_parse(b.p, b.len, &r, &e) == MLHEP_EFORMAT && strstr(e.msg, "bytes of scores"));
    colresp_free(&r);
    wbuf_free(&b);
}

int main(void)
{
    RUN(roundtrip);
    RUN(rows_match_featmap);
    RUN(every_type);
    RUN(malformed);
    RUN(branches);
    RUN(writer_errors);
    RUN(jagged_in_place);
    RUN(response);
    return test_summary();
}

/* test_featmap.c - the features document and raw values -> rows.
 *
 * The central check: for a real workflow over two sample files (uproot-HZZ.root label 1,
 * uproot-HZZ-zstd.root label 0), every row the data layer produces (specs_compute +
 * dataset_next, shuffled chunks) is bit-identical, values and mask, to the row featmap
 * builds from the same event's raw values read independently with basket_read - for
 * minmax and standard normalisation, NaN and finite padding. Then the three request
 * forms give the same rows, and bad documents / bad requests are refused with messages
 * naming the problem. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "root/basket.h"
#include "data/dataset.h"
#include "data/featmap.h"
#include "base/jsonschema.h"
#include "root/rootfile.h"
#include "data/specs.h"
#include "test.h"
#include "root/ttree.h"
#include "service/workflow.h"

static char data_dir[1024];

static const char *data(void)
{
    if (!data_dir[0]) {
        const char *d = getenv("MLHEP_SHARED");
        snprintf(data_dir, sizeof data_dir, "%s/data/root", d ? d : "../shared");
    }
    return data_dir;
}

static workflow *load_wf(const char *params)
{
    char sdir[1024], doc[4096];
    mlhep_err e;
    if (jschema_find_dir(NULL, sdir, sizeof sdir, &e)) {
        printf("  schemas: %s\n", e.msg);
        return NULL;
    }
    jschema *sch;
    if (jschema_load_named(sdir, "workflow", &sch, &e)) {
        printf("  schema: %s\n", e.msg);
        return NULL;
    }
    snprintf(doc, sizeof doc,
             "{\"name\":\"fm\",\"tree\":\"events\",\"files\":[{\"path\":\"%s/uproot-HZZ.root\",\"label\":1},"
             "{\"path\":\"%s/uproot-HZZ-zstd.root\",\"label\":0}],\"params\":%s,"
             "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
             data(), data(), params);
    const char *roots[1] = {data()};
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *wf = NULL;
    if (workflow_load_buffer(doc, strlen(doc), &o, &wf, &e))
        printf("  workflow: %s\n", e.msg);
    jschema_free(sch);
    return wf;
}

/* Raw values of every feature of one file, as featmap columns. */
typedef struct rawfile {
    size_t n;
    double **vals;
    int64_t **offs;
    featmap_col *cols;
    size_t nfeat;
} rawfile;

static void rawfile_free(rawfile *r)
{
    for (size_t i = 0; i < r->nfeat; i++) {
        free(r->vals[i]);
        free(r->offs[i]);
    }
    free(r->vals);
    free(r->offs);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

static int read_raw(const char *path, const featmap *fm, rawfile *r)
{
    mlhep_err e;
    rootfile *f;
    ttree *t;
    memset(r, 0, sizeof *r);
    if (rootfile_open(path, &f, &e) || ttree_open(f, "events", &t, &e)) {
        printf("  %s\n", e.msg);
        return -1;
    }
    r->nfeat = fm->nfeat;
    r->vals = calloc(fm->nfeat, sizeof *r->vals);
    r->offs = calloc(fm->nfeat, sizeof *r->offs);
    r->cols = calloc(fm->nfeat, sizeof *r->cols);
    r->n = (size_t)t->entries;
    column c;
    column_init(&c);
    int rc = 0;
    for (size_t i = 0; i < fm->nfeat && !rc; i++) {
        const tbranch *b = ttree_branch(t, fm->feat[i].name);
        if (!b || basket_read(f, b, 0, t->entries, &c, NULL, &e)) {
            printf("  branch %s: %s\n", fm->feat[i].name, b ? e.msg : "missing");
            rc = -1;
            break;
        }
        r->vals[i] = malloc((c.nvalues + 1) * sizeof(double));
        for (size_t k = 0; k < c.nvalues; k++)
            r->vals[i][k] = column_get(&c, k);
        r->cols[i].values = r->vals[i];
        if (fm->feat[i].jagged) {
            r->offs[i] = malloc((r->n + 1) * sizeof(int64_t));
            for (size_t k = 0; k <= r->n; k++)
                r->offs[i][k] = c.jagged ? c.offsets[k] : (int64_t)k * c.per_entry;
            r->cols[i].offsets = r->offs[i];
        }
    }
    column_free(&c);
    ttree_free(t);
    rootfile_close(f);
    return rc;
}

/* Runs the data layer and compares every row with featmap's. Returns rows compared. */
static long compare_with_dataset(const char *params, dp_norm norm, double nan_value)
{
    workflow *wf = load_wf(params);
    if (!wf)
        return -1;
    mlhep_err e;
    preproc *pp = NULL;
    specs *sp = NULL;
    dataset *ds = NULL;
    json_t *doc = NULL;
    featmap *fm = NULL;
    rawfile raw[2];
    memset(raw, 0, sizeof raw);
    long compared = -1;
    float *xr = NULL;
    uint8_t *mr = NULL;
    if (specs_preproc(&wf->data, &pp, &e) || specs_compute(&wf->data, pp, NULL, NULL, &sp, &e) ||
        dataset_open(&wf->data, pp, sp, &ds, &e)) {
        printf("  data layer: %s\n", e.msg);
        goto out;
    }
    if (featmap_from_specs(sp, norm, nan_value, &doc, &e) || featmap_load(doc, &fm, &e)) {
        printf("  featmap: %s\n", e.msg);
        goto out;
    }
    if (fm->width != sp->width || fm->nfeat != sp->nfeat) {
        printf("  width %d vs %d\n", fm->width, sp->width);
        goto out;
    }
    for (int k = 0; k < 2; k++)
        if (read_raw(wf->files[k].path, fm, &raw[k]))
            goto out;
    size_t w = (size_t)fm->width;
    float *all_x[2];
    uint8_t *all_m[2];
    for (int k = 0; k < 2; k++) {
        all_x[k] = malloc(raw[k].n * w * sizeof(float));
        all_m[k] = malloc(raw[k].n * w);
        if (featmap_rows(fm, raw[k].cols, raw[k].n, all_x[k], all_m[k], &e)) {
            printf("  featmap_rows: %s\n", e.msg);
            goto out2;
        }
    }
    ds_chunk c;
    int got;
    long n = 0, labels_ok = 1;
    while ((got = dataset_next(ds, &c, &e)) == 1) {
        for (size_t r = 0; r < c.nrows; r++) {
            uint32_t fi = c.file[r];
            int64_t en = c.entry[r];
            if (fi > 1 || en < 0 || (size_t)en >= raw[fi].n) {
                printf("  bad file/entry %u/%lld\n", fi, (long long)en);
                goto out2;
            }
            const float *a = c.x + r * w, *b = all_x[fi] + (size_t)en * w;
            const uint8_t *ma = c.mask + r * w, *mb = all_m[fi] + (size_t)en * w;
            for (size_t j = 0; j < w; j++) {
                int same = (isnan(a[j]) && isnan(b[j])) || memcmp(&a[j], &b[j], sizeof(float)) == 0;
                if (!same || ma[j] != mb[j]) {
                    char nm[300];
                    dataset_column_name(sp, (int)j, nm, sizeof nm);
                    printf("  file %u entry %lld column %zu (%s): dataset %.9g/%d featmap %.9g/%d\n", fi,
                           (long long)en, j, nm, a[j], ma[j], b[j], mb[j]);
                    goto out2;
                }
            }
            if (c.y[r] != (fi == 0 ? 1.0f : 0.0f))
                labels_ok = 0;
            n++;
        }
    }
    if (got < 0)
        printf("  dataset_next: %s\n", e.msg);
    else if (labels_ok)
        compared = n;
out2:
    for (int k = 0; k < 2; k++) {
        free(all_x[k]);
        free(all_m[k]);
    }
out:
    free(xr);
    free(mr);
    for (int k = 0; k < 2; k++)
        rawfile_free(&raw[k]);
    featmap_free(fm);
    json_decref(doc);
    dataset_free(ds);
    specs_free(sp);
    preproc_free(pp);
    workflow_free(wf);
    return compared;
}

TEST(rows_equal_dataset_minmax_nan_pad)
{
    long n = compare_with_dataset("{\"chunk_size\":700,\"shuffle\":true}", DP_NORM_MINMAX, NAN);
    CHECKF(n == 2 * 2421, "compared %ld rows", n);
}

TEST(rows_equal_dataset_standard_finite_pad)
{
    long n = compare_with_dataset("{\"chunk_size\":1000,\"normalisation\":\"standard\",\"nan\":-7.5,"
                                  "\"max_jagged_length\":3}",
                                  DP_NORM_STANDARD, -7.5);
    CHECKF(n == 2 * 2421, "compared %ld rows", n);
}

/* ---- small hand-made document ---- */

static const char *SMALL =
    "{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":-1,\"width\":5,"
    "\"features\":["
    "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":1,\"scale\":0.5},"
    "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0,\"scale\":1},"
    "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":3,\"offset\":2,\"sub\":10,\"scale\":0.1}],"
    "\"outputs\":1,\"classes\":[\"bkg\",\"sig\"]}";

static featmap *small(void)
{
    featmap *fm = NULL;
    mlhep_err e;
    if (featmap_load_text(SMALL, strlen(SMALL), &fm, &e))
        printf("  %s\n", e.msg);
    return fm;
}

static int req(const featmap *fm, const char *text, featmap_batch *b, mlhep_err *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        return err_set(e, MLHEP_EINVAL, "test JSON: %s", je.text);
    int rc = featmap_from_request(fm, j, b, e);
    json_decref(j);
    return rc;
}

TEST(load_small_and_lookup)
{
    featmap *fm = small();
    CHECK(fm);
    CHECK_EQ_INT(fm->width, 5);
    CHECK_EQ_INT(fm->nfeat, 3);
    CHECK_EQ_INT(featmap_find(fm, "j", 1), 2);
    CHECK_EQ_INT(featmap_find(fm, "jx", 2), -1);
    CHECK_EQ_INT(featmap_find(fm, "ab", 1), 0);
    CHECK_EQ_INT(fm->noutputs, 1);
    CHECK(fm->nclasses == 2 && !strcmp(fm->classes[1], "sig"));
    featmap_free(fm);
}

TEST(three_forms_same_rows)
{
    featmap *fm = small();
    CHECK(fm);
    featmap_batch b1 = {0}, b2 = {0}, b3 = {0};
    mlhep_err e;
    CHECKF(!req(fm, "{\"keys\":[\"j\",\"a\",\"b\"],\"values\":[[11,12,13,14],3,-2]}", &b1, &e), "%s", e.msg);
    float want[5] = {1.0f, -2.0f, (float)((11.0 - 10) * 0.1), (float)((12.0 - 10) * 0.1), (float)((13.0 - 10) * 0.1)};
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(b1.x[i], want[i], 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(b1.mask[i], 0);
    CHECKF(!req(fm, "{\"rows\":[{\"a\":3,\"b\":-2,\"j\":[11,12,13,14]},{\"a\":1,\"b\":0,\"j\":[20]}]}", &b2, &e),
           "%s", e.msg);
    CHECKF(!req(fm, "{\"columns\":{\"b\":[-2,0],\"j\":[[11,12,13,14],[20]],\"a\":[3,1]}}", &b3, &e), "%s", e.msg);
    CHECK_EQ_INT(b2.nrows, 2);
    CHECK_EQ_INT(b3.nrows, 2);
    CHECK(!memcmp(b1.x, b2.x, 5 * sizeof(float)));
    CHECK(!memcmp(b2.x, b3.x, 10 * sizeof(float)));
    CHECK(!memcmp(b2.mask, b3.mask, 10));
    CHECK_NEAR(b2.x[5 + 2], 1.0, 0);
    CHECK_NEAR(b2.x[5 + 3], -1.0, 0); /* padding value */
    CHECK(b2.mask[5 + 3] == 1 && b2.mask[5 + 4] == 1 && b2.mask[5 + 2] == 0);
    /* the columns form through featmap_rows gives the same */
    double a[2] = {3, 1}, bb[2] = {-2, 0}, jv[5] = {11, 12, 13, 14, 20};
    int64_t jo[3] = {0, 4, 5};
    featmap_col cols[3] = {{a, NULL}, {bb, NULL}, {jv, jo}};
    float x[10];
    uint8_t m[10];
    CHECKF(!featmap_rows(fm, cols, 2, x, m, &e), "%s", e.msg);
    CHECK(!memcmp(x, b3.x, sizeof x));
    CHECK(!memcmp(m, b3.mask, sizeof m));
    featmap_batch_free(&b1);
    featmap_batch_free(&b2);
    featmap_batch_free(&b3);
    featmap_free(fm);
}

#define BAD(text, code, needle)                                                                  \
    do {                                                                                         \
        mlhep_err e_;                                                                            \
        err_clear(&e_);                                                                          \
        int rc_ = req(fm, text, &b, &e_);                                                        \
        CHECKF(rc_ == (code) && strstr(e_.msg, needle), "%s -> %d '%s'", text, rc_, e_.msg);     \
    } while (0)

TEST(bad_requests_named)
{
    featmap *fm = small();
    CHECK(fm);
    featmap_batch b = {0};
    BAD("{\"keys\":[\"a\",\"b\",\"j\",\"zz\"],\"values\":[1,2,[3],4]}", MLHEP_ENOTFOUND, "unknown branch 'zz'");
    BAD("{\"keys\":[\"a\",\"j\"],\"values\":[1,[3]]}", MLHEP_ENOTFOUND, "missing 1 branch the model needs: 'b'");
    BAD("{\"keys\":[\"a\",\"b\",\"j\"],\"values\":[1,2]}", MLHEP_EINVAL, "\"keys\" has 3 names but \"values\" has 2");
    BAD("{\"keys\":[\"a\",\"b\",\"j\"],\"values\":[[1],2,[3]]}", MLHEP_EINVAL, "branch 'a' is flat: expected a number, got a list");
    BAD("{\"keys\":[\"a\",\"b\",\"j\"],\"values\":[1,2,3]}", MLHEP_EINVAL, "branch 'j' is jagged");
    BAD("{\"keys\":[\"a\",\"b\",\"j\"],\"values\":[1,\"x\",[3]]}", MLHEP_EINVAL, "branch 'b' is flat: expected a number, got a string");
    BAD("{\"keys\":[\"a\",\"b\",\"j\"],\"values\":[1,2,[3,null]]}", MLHEP_EINVAL, "branch 'j'[1]: expected a number, got null");
    BAD("{\"rows\":[{\"a\":1,\"b\":2,\"j\":[]},{\"a\":1,\"j\":[]}]}", MLHEP_ENOTFOUND, "row 1: missing 1 branch the model needs: 'b'");
    BAD("{\"rows\":[{\"a\":1,\"b\":2,\"j\":[]},{\"a\":1,\"b\":true,\"j\":[]}]}", MLHEP_EINVAL, "row 1: branch 'b' is flat: expected a number, got a boolean");
    BAD("{\"rows\":[{\"a\":1,\"b\":2,\"j\":[],\"c\":1}]}", MLHEP_ENOTFOUND, "row 0: unknown branch 'c'");
    BAD("{\"rows\":[3]}", MLHEP_EINVAL, "row 0: expected an object");
    BAD("{\"columns\":{\"a\":[1,2],\"b\":[1],\"j\":[[],[]]}}", MLHEP_EINVAL, "has 1 values, other columns have 2");
    BAD("{\"columns\":{\"a\":[1,2],\"b\":[1,2],\"j\":[[],5]}}", MLHEP_EINVAL, "row 1: branch 'j' is jagged");
    BAD("{\"columns\":{\"a\":[1,2],\"b\":[1,{}]," "\"j\":[[],[]]}}", MLHEP_EINVAL, "row 1: branch 'b' is flat: expected a number, got an object");
    BAD("{\"columns\":{\"a\":[1,2],\"j\":[[],[]]}}", MLHEP_ENOTFOUND, "missing 1 branch");
    BAD("{\"columns\":{\"a\":5}}", MLHEP_EINVAL, "column 'a': expected a list");
    BAD("{\"model\":\"x\"}", MLHEP_EINVAL, "exactly one of");
    BAD("{\"rows\":[],\"columns\":{}}", MLHEP_EINVAL, "exactly one of");
    featmap_batch_free(&b);
    featmap_free(fm);
}

TEST(bad_documents_refused)
{
    struct {
        const char *doc, *needle;
    } cases[] = {
        {"[]", "not a JSON object"},
        {"{\"format\":\"x\"}", "\"format\""},
        {"{\"format\":\"mlhep-features\",\"version\":2}", "version"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"zscore\",\"pad\":0,\"width\":1,\"features\":[]}",
         "normalisation"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":1,\"features\":[]}",
         "list of 1.."},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":2,\"features\":["
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":0,\"scale\":1},"
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0,\"scale\":1}]}",
         "appears twice"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":3,\"features\":["
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":0,\"scale\":1},"
         "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":1,\"sub\":0,\"scale\":1}]}",
         "not the sum"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":2,\"features\":["
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":0,\"scale\":1},"
         "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":0,\"scale\":1}]}",
         "\"offset\" must be 1"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":3,\"features\":["
         "{\"name\":\"j\",\"kind\":\"jagged\",\"len\":2,\"offset\":0,\"sub\":0,\"scale\":1},"
         "{\"name\":\"b\",\"kind\":\"flat\",\"len\":1,\"offset\":2,\"sub\":0,\"scale\":1}]}",
         "after a jagged"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":2,\"features\":["
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":2,\"offset\":0,\"sub\":0,\"scale\":1}]}",
         "bad \"len\""},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":1,\"features\":["
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":\"0\",\"scale\":1}]}",
         "finite numbers"},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":1,\"features\":["
         "{\"name\":\"a\",\"kind\":\"list\",\"len\":1,\"offset\":0,\"sub\":0,\"scale\":1}]}",
         "\"kind\""},
        {"{\"format\":\"mlhep-features\",\"version\":1,\"normalisation\":\"minmax\",\"pad\":0,\"width\":1,\"features\":["
         "{\"name\":\"a\",\"kind\":\"flat\",\"len\":1,\"offset\":0,\"sub\":0,\"scale\":1}],\"outputs\":0}",
         "\"outputs\""},
        {"{\"format\":\"mlhep-features\",", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        featmap *fm = NULL;
        mlhep_err e;
        err_clear(&e);
        int rc = featmap_load_text(cases[i].doc, strlen(cases[i].doc), &fm, &e);
        CHECKF(rc == MLHEP_EFORMAT && !fm && strstr(e.msg, cases[i].needle), "case %zu: rc %d '%s'", i, rc, e.msg);
    }
}

TEST(too_large_refused)
{
    featmap *fm = small();
    CHECK(fm);
    featmap_batch b = {0};
    mlhep_err e;
    CHECK(featmap_batch_reserve(&b, fm, FEATMAP_MAX_CELLS, &e) == MLHEP_ENOMEM);
    CHECK(strstr(e.msg, "too large"));
    featmap_batch_free(&b);
    featmap_free(fm);
}

int main(void)
{
    RUN(rows_equal_dataset_minmax_nan_pad);
    RUN(rows_equal_dataset_standard_finite_pad);
    RUN(load_small_and_lookup);
    RUN(three_forms_same_rows);
    RUN(bad_requests_named);
    RUN(bad_documents_refused);
    RUN(too_large_refused);
    return test_summary();
}

/* test_feathist - per-feature histograms: binning in raw units under both
 * normalisations, class split, padding and NaN skipped, files written with safe names. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/feathist.h"
#include "test.h"

/* Two features: flat "a" in [0, 10], jagged "j/k" (len 2) in [-1, 1]. */
static specs make_specs(specs_feature *f)
{
    memset(f, 0, 2 * sizeof *f);
    f[0] = (specs_feature){.name = "a", .min = 0, .max = 10, .mean = 4, .std = 2, .len = 1};
    f[1] = (specs_feature){.name = "j/k", .jagged = 1, .min = -1, .max = 1, .mean = 0, .std = 0.5, .len = 2};
    specs s;
    memset(&s, 0, sizeof s);
    s.nfeat = 2;
    s.feat = f;
    s.width = 3;
    return s;
}

/* Normalises raw as dataset.c does. */
static float norm(const specs_feature *f, int standard, double raw)
{
    if (standard)
        return (float)((raw - f->mean) / f->std);
    return (float)((raw - f->min) / (f->max - f->min));
}

static void run_case(int standard)
{
    specs_feature ft[2];
    specs sp = make_specs(ft);
    dataparams dp = {.nclasses = 2, .norm = standard ? DP_NORM_STANDARD : DP_NORM_MINMAX};
    feathist *h;
    mlhep_err e;
    CHECKF(feathist_new(&dp, &sp, &h, &e) == 0, "%s", e.msg);
    /* rows: a, j0, j1, label, mask of j1 */
    double raw[][5] = {{0, -1, 0.99, 1, 0}, {5, 0, 0, 0, 1}, {10, 1, NAN, 1, 0}, {2.5, 0.5, 0, 0, 1},
                       {12, -3, 0, 1, 1}};
    size_t n = sizeof raw / sizeof raw[0];
    float x[15], y[5];
    uint8_t m[15];
    for (size_t i = 0; i < n; i++) {
        x[i * 3] = norm(&ft[0], standard, raw[i][0]);
        x[i * 3 + 1] = norm(&ft[1], standard, raw[i][1]);
        x[i * 3 + 2] = isnan(raw[i][2]) ? NAN : norm(&ft[1], standard, raw[i][2]);
        m[i * 3] = m[i * 3 + 1] = 0;
        m[i * 3 + 2] = (uint8_t)raw[i][4];
        y[i] = (float)raw[i][3];
    }
    ds_chunk c = {.nrows = n, .width = 3, .x = x, .mask = m, .y = y};
    feathist_fill(h, &c);
    CHECK_EQ_INT(feathist_rows(h), 5);
    double lo, hi;
    const double *s0 = feathist_counts(h, 0, 1, &lo, &hi), *b0 = feathist_counts(h, 0, 0, NULL, NULL);
    CHECK(s0 && b0 && lo == 0 && hi == 10);
    CHECK(!feathist_counts(h, 2, 0, NULL, NULL) && !feathist_counts(h, 0, 2, NULL, NULL));
    /* signal a: 0 -> bin 0, 10 -> last bin, 12 (beyond max) -> last bin */
    CHECKF(s0[0] == 1 && s0[FEATHIST_BINS - 1] == 2, "s0[0]=%g s0[last]=%g", s0[0], s0[FEATHIST_BINS - 1]);
    /* background a: 5 -> bin 25, 2.5 -> bin 12 */
    CHECKF(b0[25] == 1 && b0[12] == 1, "b0[25]=%g b0[12]=%g", b0[25], b0[12]);
    double ts = 0, tb = 0;
    for (int b = 0; b < FEATHIST_BINS; b++) {
        ts += s0[b];
        tb += b0[b];
    }
    CHECK(ts == 3 && tb == 2);
    /* jagged: signal slots -1, 0.99, 1, (NaN skipped), -3 (below -> bin 0); padding not counted */
    const double *s1 = feathist_counts(h, 1, 1, &lo, &hi), *b1 = feathist_counts(h, 1, 0, NULL, NULL);
    CHECK(lo == -1 && hi == 1);
    CHECKF(s1[0] == 2 && s1[FEATHIST_BINS - 1] == 2, "s1[0]=%g s1[last]=%g", s1[0], s1[FEATHIST_BINS - 1]);
    ts = tb = 0;
    for (int b = 0; b < FEATHIST_BINS; b++) {
        ts += s1[b];
        tb += b1[b];
    }
    CHECKF(ts == 4 && tb == 2, "signal %g background %g", ts, tb);
    CHECK(b1[25] == 1 && b1[37] == 1); /* 0 -> 25, 0.5 -> 37 */
    /* files */
    char dir[] = "/tmp/mlhep-feathist.XXXXXX";
    CHECK(mkdtemp(dir));
    char out[300], p[400];
    snprintf(out, sizeof out, "%s/h", dir);
    size_t nw;
    CHECKF(feathist_write(h, out, &nw, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(nw, 2);
    struct stat st;
    snprintf(p, sizeof p, "%s/a.svg", out);
    CHECK(stat(p, &st) == 0 && st.st_size > 500);
    snprintf(p, sizeof p, "%s/j_k.svg", out);
    CHECK(stat(p, &st) == 0 && st.st_size > 500);
    snprintf(p, sizeof p, "%s/index.html", out);
    FILE *f = fopen(p, "r");
    CHECK(f);
    char buf[8192];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    CHECK(strstr(buf, "src=\"j_k.svg\"") && strstr(buf, "signal 3") && strstr(buf, "background 2"));
    /* a directory that cannot be created is an error, not a crash */
    snprintf(p, sizeof p, "%s/a.svg/x", out);
    CHECK(feathist_write(h, p, NULL, &e) != 0 && strstr(e.msg, "cannot create"));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    feathist_free(h);
}

TEST(minmax_binning)
{
    run_case(0);
}

TEST(standard_binning)
{
    run_case(1);
}

/* Integer values sit on bin edges (0..10 over 50 bins): each must land in the bin it
 * starts, whatever the float rounding of the normalisation. */
static void integers_case(int standard)
{
    specs_feature ft[2];
    specs sp = make_specs(ft);
    dataparams dp = {.nclasses = 2, .norm = standard ? DP_NORM_STANDARD : DP_NORM_MINMAX};
    feathist *h;
    mlhep_err e;
    CHECKF(feathist_new(&dp, &sp, &h, &e) == 0, "%s", e.msg);
    float x[33], y[11];
    uint8_t m[33] = {0};
    for (int v = 0; v <= 10; v++) {
        x[v * 3] = norm(&ft[0], standard, v);
        x[v * 3 + 1] = x[v * 3 + 2] = 0;
        y[v] = 1;
    }
    ds_chunk c = {.nrows = 11, .width = 3, .x = x, .mask = m, .y = y};
    feathist_fill(h, &c);
    const double *s0 = feathist_counts(h, 0, 1, NULL, NULL);
    for (int v = 0; v < 10; v++)
        CHECKF(s0[v * 5] == 1, "value %d: bin %d has %g", v, v * 5, s0[v * 5]);
    CHECK(s0[FEATHIST_BINS - 1] == 1);
    feathist_free(h);
}

TEST(integers_on_edges)
{
    integers_case(0);
    if (test_failed_)
        return;
    integers_case(1);
}

TEST(multiclass_names_and_constant_feature)
{
    specs_feature ft[2];
    specs sp = make_specs(ft);
    ft[0].min = ft[0].max = 3; /* constant */
    const char *names[] = {"ttH", "ttbar", "QCD"};
    dataparams dp = {.nclasses = 3, .class_names = names};
    feathist *h;
    mlhep_err e;
    CHECKF(feathist_new(&dp, &sp, &h, &e) == 0, "%s", e.msg);
    float x[] = {3, 0.5f, 0.5f, 3, 0.5f, 0.5f, 3, 0.5f, 0.5f, 3, 0, 0}; /* constant: sub 0, scale 1 */
    uint8_t m[12] = {0};
    float y[] = {0, 2, 2, 7}; /* 7: not a plotted class */
    ds_chunk c = {.nrows = 4, .width = 3, .x = x, .mask = m, .y = y};
    feathist_fill(h, &c);
    CHECK_EQ_INT(feathist_rows(h), 3);
    double lo, hi;
    const double *c2 = feathist_counts(h, 0, 2, &lo, &hi);
    CHECK(c2 && lo < 3 && hi > 3);
    CHECKF(c2[FEATHIST_BINS / 2] == 2, "constant feature lands mid-range: %g", c2[FEATHIST_BINS / 2]);
    /* jagged slots at raw 0 -> bin 25: two for class 0, four for class 2, none for 1 */
    CHECK(feathist_counts(h, 1, 0, NULL, NULL)[25] == 2 && feathist_counts(h, 1, 2, NULL, NULL)[25] == 4);
    CHECK(feathist_counts(h, 1, 1, NULL, NULL)[25] == 0);
    feathist_free(h);
}

int main(void)
{
    RUN(minmax_binning);
    RUN(standard_binning);
    RUN(integers_on_edges);
    RUN(multiclass_names_and_constant_feature);
    return test_summary();
}

/* test_gbdt.c - boosted trees: hand-computed tree, learning a non-linear problem
 * beyond a linear model, reproducibility (seed, thread count, chunked input), model
 * bytes round trip and refusal of corrupt bytes, missing values, early stopping,
 * parameter and input validation. */
#include "model/gbdt.h"
#include "model/metrics.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rs;
static double urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* "Ring" problem: signal inside the unit circle of (x0, x1) ~ N(0,1), 10% labels
 * flipped, ncols-2 noise features; x2 missing (NaN) in 20% of rows. No linear score
 * separates it (symmetric), trees do. */
static void make_ring(float *x, float *y, size_t n, size_t ncols, uint64_t seed)
{
    rs = seed;
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * ncols;
        for (size_t f = 0; f < ncols; f++)
            r[f] = (float)nrand();
        int s = r[0] * r[0] + r[1] * r[1] < 1.0f;
        if (urand() < 0.1)
            s = !s;
        y[i] = (float)s;
        if (ncols > 2 && urand() < 0.2)
            r[2] = NAN;
    }
}

static void small_params(gbdt_params *p)
{
    gbdt_params_default(p);
    p->n_trees = 30;
    p->max_depth = 4;
    p->learning_rate = 0.3f;
}

static int model_bytes_equal(const gbdt_model *a, const gbdt_model *b)
{
    uint8_t *ba, *bb;
    size_t la, lb;
    mlhep_err e;
    if (gbdt_serialize(a, &ba, &la, &e) || gbdt_serialize(b, &bb, &lb, &e))
        return -1;
    int eq = la == lb && memcmp(ba, bb, la) == 0;
    free(ba);
    free(bb);
    return eq;
}

TEST(hand_computed_stump)
{
    /* x = 1,2,3,4, y = 0,0,1,1, base 0.5: g = p - y = +-0.5, h = 0.25. One split at
     * x < 3 (the cut is the value 3); lambda 0, eta 1: leaf = -G/H = -+0.5*2/(0.5) = -+2. */
    float x[] = {1, 2, 3, 4}, y[] = {0, 0, 1, 1};
    gbdt_params p;
    gbdt_params_default(&p);
    p.n_trees = 1;
    p.max_depth = 1;
    p.learning_rate = 1;
    p.lambda = 0;
    p.min_child_weight = 0;
    gbdt_model *m;
    mlhep_err e;
    CHECK(gbdt_train_dense(&p, x, y, NULL, 4, 1, NULL, NULL, NULL, 0, &m, NULL, &e) == 0);
    float out[6], q[] = {1, 2, 2.999f, 3, 4, NAN};
    CHECK(gbdt_predict(m, q, 6, 1, GBDT_MARGIN, out, &e) == 0);
    CHECK_NEAR(out[0], -2, 1e-6);
    CHECK_NEAR(out[1], -2, 1e-6);
    CHECK_NEAR(out[2], -2, 1e-6);
    CHECK_NEAR(out[3], 2, 1e-6);
    CHECK_NEAR(out[4], 2, 1e-6);
    CHECK(fabsf(out[5]) == 2.0f); /* NaN follows a default direction */
    CHECK(gbdt_predict(m, q, 1, 1, GBDT_PROBABILITY, out, &e) == 0);
    CHECK_NEAR(out[0], 1 / (1 + exp(2.0)), 1e-6);
    double imp[1];
    gbdt_importance(m, GBDT_IMPORTANCE_SPLITS, imp);
    CHECK(imp[0] == 1);
    /* gain = GL^2/HL + GR^2/HR - G^2/H = 1/0.5 + 1/0.5 - 0 = 4 */
    gbdt_importance(m, GBDT_IMPORTANCE_GAIN, imp);
    CHECK_NEAR(imp[0], 4, 1e-5);
    gbdt_model_free(m);
}

TEST(learns_nonlinear_beyond_linear)
{
    enum { N = 20000, NT = 10000, C = 5 };
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N);
    float *xt = malloc(sizeof(float) * NT * C), *yt = malloc(sizeof(float) * NT);
    float *pt = malloc(sizeof(float) * NT), *lin = malloc(sizeof(float) * NT);
    CHECK(x && y && xt && yt && pt && lin);
    make_ring(x, y, N, C, 1);
    make_ring(xt, yt, NT, C, 2);
    /* linear baseline: least squares fit of y on (1, x0, x1) */
    double A[3][4] = {{0}};
    for (int i = 0; i < N; i++) {
        double v[3] = {1, x[i * C], x[i * C + 1]};
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++)
                A[a][b] += v[a] * v[b];
            A[a][3] += v[a] * y[i];
        }
    }
    for (int c = 0; c < 3; c++) /* Gauss-Jordan */
        for (int r = 0; r < 3; r++)
            if (r != c) {
                double f = A[r][c] / A[c][c];
                for (int k = 0; k < 4; k++)
                    A[r][k] -= f * A[c][k];
            }
    for (int i = 0; i < NT; i++)
        lin[i] = (float)(A[1][3] / A[1][1] * xt[i * C] + A[2][3] / A[2][2] * xt[i * C + 1]);
    double auc_lin, auc;
    mlhep_err e;
    CHECK(metrics_roc_auc(yt, lin, NULL, NT, &auc_lin, &e) == 0);
    gbdt_params p;
    small_params(&p);
    gbdt_model *m;
    gbdt_history h;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, xt, yt, NULL, NT, &m, &h, &e) == 0);
    CHECK(gbdt_predict(m, xt, NT, C, GBDT_PROBABILITY, pt, &e) == 0);
    CHECK(metrics_roc_auc(yt, pt, NULL, NT, &auc, &e) == 0);
    printf("  ring: gbdt test AUC %.4f, linear %.4f, valid loss %.4f -> %.4f\n", auc, auc_lin,
           h.valid_loss[0], h.valid_loss[h.n_rounds - 1]);
    /* Bayes optimum with 10% flips is about 0.85; linear stays near 0.5 */
    CHECK(auc > 0.83);
    CHECK(auc_lin < 0.55);
    CHECK(h.n_rounds == 30 && h.n_kept == 30 && h.valid_loss);
    CHECK(h.train_loss[29] < h.train_loss[0] && h.valid_loss[29] < h.valid_loss[0]);
    /* training loss after the last round (computed on the binned rows) equals the log
     * loss of the float model on the same rows: binned and raw routing agree */
    float *ptr = malloc(sizeof(float) * N);
    CHECK(ptr);
    CHECK(gbdt_predict(m, x, N, C, GBDT_PROBABILITY, ptr, &e) == 0);
    double ll = metrics_logloss(y, ptr, NULL, N);
    free(ptr);
    CHECK_NEAR(ll, h.train_loss[29], 1e-4);
    /* informative features carry the gain */
    double imp[C];
    gbdt_importance(m, GBDT_IMPORTANCE_GAIN, imp);
    for (int f = 2; f < C; f++)
        CHECK(imp[0] > 5 * imp[f] && imp[1] > 5 * imp[f]);
    gbdt_history_free(&h);
    gbdt_model_free(m);
    free(x);
    free(y);
    free(xt);
    free(yt);
    free(pt);
    free(lin);
}

TEST(reproducible_seed_threads_chunks)
{
    enum { N = 6000, C = 6 };
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N);
    CHECK(x && y);
    make_ring(x, y, N, C, 3);
    mlhep_err e;
    gbdt_params p;
    small_params(&p);
    p.subsample = 0.7f;
    p.colsample_bytree = 0.67f;
    p.seed = 42;
    gbdt_model *a, *b, *c, *d, *f;
    p.n_threads = 1;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &a, NULL, &e) == 0);
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &b, NULL, &e) == 0);
    p.n_threads = 2;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &c, NULL, &e) == 0);
    p.n_threads = 3;
    gbdt_dataset *ds;
    CHECK(gbdt_dataset_new(&p, x, N, C, &ds, &e) == 0);
    CHECK(gbdt_dataset_append(ds, x, y, NULL, 1000, &e) == 0); /* three chunks */
    CHECK(gbdt_dataset_append(ds, x + 1000 * C, y + 1000, NULL, 4000, &e) == 0);
    CHECK(gbdt_dataset_append(ds, x + 5000 * C, y + 5000, NULL, 1000, &e) == 0);
    CHECK(gbdt_dataset_rows(ds) == N && gbdt_dataset_cols(ds) == C);
    CHECK(gbdt_train(&p, ds, NULL, &d, NULL, &e) == 0);
    gbdt_dataset_free(ds);
    p.n_threads = 1;
    p.seed = 43;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &f, NULL, &e) == 0);
    CHECK(model_bytes_equal(a, b) == 1);
    CHECK(model_bytes_equal(a, c) == 1);
    CHECK(model_bytes_equal(a, d) == 1);
    CHECK(model_bytes_equal(a, f) == 0); /* the seed matters */
    gbdt_model_free(a);
    gbdt_model_free(b);
    gbdt_model_free(c);
    gbdt_model_free(d);
    gbdt_model_free(f);
    free(x);
    free(y);
}

TEST(serialize_round_trip)
{
    enum { N = 4000, C = 4 };
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N);
    float *p1 = malloc(sizeof(float) * N), *p2 = malloc(sizeof(float) * N);
    CHECK(x && y && p1 && p2);
    make_ring(x, y, N, C, 4);
    x[5 * C + 0] = INFINITY;
    x[6 * C + 1] = -INFINITY;
    x[7 * C + 0] = NAN;
    mlhep_err e;
    gbdt_params p;
    small_params(&p);
    gbdt_model *m, *m2;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &m, NULL, &e) == 0);
    uint8_t *buf, *buf2;
    size_t len, len2;
    CHECK(gbdt_serialize(m, &buf, &len, &e) == 0);
    CHECK(gbdt_deserialize(buf, len, &m2, &e) == 0);
    CHECK(gbdt_model_trees(m2) == 30 && gbdt_model_features(m2) == C);
    CHECK(gbdt_predict(m, x, N, C, GBDT_MARGIN, p1, &e) == 0);
    CHECK(gbdt_predict(m2, x, N, C, GBDT_MARGIN, p2, &e) == 0);
    CHECK(memcmp(p1, p2, sizeof(float) * N) == 0);
    for (int i = 0; i < N; i++)
        CHECK(isfinite(p1[i]));
    CHECK(gbdt_serialize(m2, &buf2, &len2, &e) == 0);
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    free(buf2);
    free(buf);
    gbdt_model_free(m);
    gbdt_model_free(m2);
    free(x);
    free(y);
    free(p1);
    free(p2);
}

/* Writes a u32 little-endian at off. */
static void poke32(uint8_t *b, size_t off, uint32_t v)
{
    b[off] = (uint8_t)v;
    b[off + 1] = (uint8_t)(v >> 8);
    b[off + 2] = (uint8_t)(v >> 16);
    b[off + 3] = (uint8_t)(v >> 24);
}

TEST(corrupt_bytes_rejected)
{
    enum { N = 2000, C = 3 };
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N);
    CHECK(x && y);
    make_ring(x, y, N, C, 5);
    mlhep_err e;
    gbdt_params p;
    small_params(&p);
    p.n_trees = 3;
    p.max_depth = 2;
    gbdt_model *m, *m2;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &m, NULL, &e) == 0);
    uint8_t *buf;
    size_t len;
    CHECK(gbdt_serialize(m, &buf, &len, &e) == 0);
    gbdt_model_free(m);
    uint8_t *c = malloc(len + 1);
    CHECK(c);
    /* every truncation */
    for (size_t l = 0; l < len; l++) {
        memcpy(c, buf, l);
        m2 = NULL;
        CHECKF(gbdt_deserialize(c, l, &m2, &e) == MLHEP_EFORMAT, "length %zu accepted", l);
        CHECK(m2 == NULL);
    }
    /* a trailing byte */
    memcpy(c, buf, len);
    c[len] = 0;
    CHECK(gbdt_deserialize(c, len + 1, &m2, &e) == MLHEP_EFORMAT);
    CHECK(strstr(e.msg, "after the last tree"));
    /* header fields */
    memcpy(c, buf, len);
    c[0] = 'X';
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "magic"));
    memcpy(c, buf, len);
    poke32(c, 4, 3); /* versions 1 and 2 exist */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "version"));
    memcpy(c, buf, len);
    poke32(c, 16, 0xffffffffu); /* huge tree count must not allocate */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT);
    memcpy(c, buf, len);
    poke32(c, 24, 0xfffffff0u); /* huge node count */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT);
    memcpy(c, buf, len);
    poke32(c, 20, 0x7fc00000u); /* NaN base margin */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT);
    /* root node of tree 0 (internal with depth 2): its fields start after the counts */
    size_t node0 = 24 + 4 * 3, nb = 29;
    memcpy(c, buf, len);
    poke32(c, node0, 7); /* feature out of range */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "feature"));
    memcpy(c, buf, len);
    poke32(c, node0 + 13, 0); /* left child points at itself: a cycle */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "children"));
    memcpy(c, buf, len);
    poke32(c, node0 + 17, 1000); /* right child beyond the tree */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "children"));
    memcpy(c, buf, len);
    poke32(c, node0 + 17, 1); /* both children the same node */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT);
    memcpy(c, buf, len);
    poke32(c, node0 + 5, 0x7fc00000u); /* NaN threshold */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "NaN"));
    memcpy(c, buf, len);
    c[node0 + 4] = 2; /* bad flags */
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT);
    /* a leaf with an infinite value: find the last node (a leaf) */
    memcpy(c, buf, len);
    poke32(c, len - nb + 9, 0x7f800000u);
    CHECK(gbdt_deserialize(c, len, &m2, &e) == MLHEP_EFORMAT && strstr(e.msg, "finite"));
    /* random single-byte corruption: refused or a valid model, never a crash */
    rs = 99;
    int refused = 0;
    for (int t = 0; t < 3000; t++) {
        memcpy(c, buf, len);
        c[(size_t)(urand() * len)] ^= (uint8_t)(1 + urand() * 255);
        if (gbdt_deserialize(c, len, &m2, &e) == 0) {
            float o[4];
            size_t nf = gbdt_model_features(m2);
            int prc = nf == C ? gbdt_predict(m2, x, 4, C, GBDT_MARGIN, o, &e) : 0;
            gbdt_model_free(m2);
            CHECK(prc == 0);
        } else {
            refused++;
        }
    }
    CHECK(refused > 100);
    free(c);
    free(buf);
    free(x);
    free(y);
}

TEST(missing_values_learned)
{
    /* x0 is missing for 60% of signal and 10% of background; otherwise uninformative.
     * The model must send NaN towards signal. A column that is all NaN is harmless. */
    enum { N = 8000, C = 3 };
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N);
    CHECK(x && y);
    rs = 6;
    for (int i = 0; i < N; i++) {
        int s = urand() < 0.5;
        y[i] = (float)s;
        x[i * C] = urand() < (s ? 0.6 : 0.1) ? NAN : (float)nrand();
        x[i * C + 1] = (float)nrand();
        x[i * C + 2] = NAN;
    }
    mlhep_err e;
    gbdt_params p;
    small_params(&p);
    p.n_trees = 10;
    gbdt_model *m;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &m, NULL, &e) == 0);
    float q[] = {NAN, 0, NAN, 0.1f, 0, NAN, NAN, NAN, NAN}, o[3];
    CHECK(gbdt_predict(m, q, 3, C, GBDT_PROBABILITY, o, &e) == 0);
    /* P(s | x0 missing) = 0.6/0.7 ~ 0.86; P(s | present) = 0.4/1.3 ~ 0.31 */
    CHECKF(o[0] > 0.75 && o[1] < 0.45 && o[2] > 0.75, "%g %g %g", o[0], o[1], o[2]);
    double imp[C];
    gbdt_importance(m, GBDT_IMPORTANCE_SPLITS, imp);
    CHECK(imp[2] == 0);
    gbdt_model_free(m);
    free(x);
    free(y);
}

TEST(early_stopping_keeps_best)
{
    /* pure noise labels: validation loss rises soon after the first rounds */
    enum { N = 3000, C = 4 };
    float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N);
    CHECK(x && y);
    rs = 7;
    for (int i = 0; i < N * C; i++)
        x[i] = (float)nrand();
    for (int i = 0; i < N; i++)
        y[i] = urand() < 0.5;
    mlhep_err e;
    gbdt_params p;
    small_params(&p);
    p.n_trees = 200;
    p.max_depth = 6;
    p.early_stopping_rounds = 5;
    gbdt_model *m;
    gbdt_history h;
    CHECK(gbdt_train_dense(&p, x, y, NULL, 2000, C, x + 2000 * C, y + 2000, NULL, 1000, &m, &h,
                           &e) == 0);
    CHECK(h.n_rounds < 200);
    int best = 0;
    for (int r = 1; r < h.n_rounds; r++)
        if (h.valid_loss[r] < h.valid_loss[best])
            best = r;
    CHECK_EQ_INT(h.n_kept, best + 1);
    CHECK_EQ_INT(h.n_rounds, best + 1 + 5);
    CHECK_EQ_INT(gbdt_model_trees(m), best + 1);
    gbdt_history_free(&h);
    gbdt_model_free(m);
    /* early stopping without a validation set is refused */
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &m, &h, &e) ==
          MLHEP_EINVAL);
    CHECK(strstr(e.msg, "validation"));
    free(x);
    free(y);
}

static int stop_after_3(void *ctx, int round, double tl, double vl)
{
    (void)tl;
    (void)vl;
    *(int *)ctx = round;
    return round >= 2;
}

TEST(progress_callback_stops)
{
    enum { N = 1000, C = 2 };
    float x[N * C], y[N];
    make_ring(x, y, N, C, 8);
    gbdt_params p;
    small_params(&p);
    int last = -1;
    p.progress = stop_after_3;
    p.progress_ctx = &last;
    gbdt_model *m;
    gbdt_history h;
    mlhep_err e;
    CHECK(gbdt_train_dense(&p, x, y, NULL, N, C, NULL, NULL, NULL, 0, &m, &h, &e) == 0);
    CHECK(last == 2 && gbdt_model_trees(m) == 3 && h.n_rounds == 3 && !h.valid_loss);
    CHECK(isnan(h.train_loss[0]) == 0);
    gbdt_history_free(&h);
    gbdt_model_free(m);
}

TEST(bad_params_and_input)
{
    float x[] = {1, 2, 3, 4}, y[] = {0, 1, 0, 1}, out[4];
    gbdt_params p;
    gbdt_model *m = NULL;
    mlhep_err e;
    struct {
        int field;
        const char *word;
    } cases[] = {{0, "n_trees"}, {1, "max_depth"}, {2, "learning_rate"}, {3, "max_bins"},
                 {4, "subsample"}, {5, "lambda"}, {6, "base_score"}, {7, "colsample"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        small_params(&p);
        switch (cases[i].field) {
        case 0: p.n_trees = 0; break;
        case 1: p.max_depth = 0; break;
        case 2: p.learning_rate = NAN; break;
        case 3: p.max_bins = 1000; break;
        case 4: p.subsample = 0; break;
        case 5: p.lambda = -1; break;
        case 6: p.base_score = 1; break;
        case 7: p.colsample_bytree = 2; break;
        }
        CHECK(gbdt_train_dense(&p, x, y, NULL, 4, 1, NULL, NULL, NULL, 0, &m, NULL, &e) ==
              MLHEP_EINVAL);
        CHECKF(strstr(e.msg, cases[i].word) != NULL, "%s", e.msg);
        CHECK(m == NULL);
    }
    small_params(&p);
    float ybad[] = {0, 1, 2, 1};
    CHECK(gbdt_train_dense(&p, x, ybad, NULL, 4, 1, NULL, NULL, NULL, 0, &m, NULL, &e) ==
          MLHEP_EINVAL);
    CHECK(strstr(e.msg, "row 2") && strstr(e.msg, "label"));
    float wbad[] = {1, 1, -1, 1};
    CHECK(gbdt_train_dense(&p, x, y, wbad, 4, 1, NULL, NULL, NULL, 0, &m, NULL, &e) ==
          MLHEP_EINVAL);
    CHECK(gbdt_train_dense(&p, x, y, NULL, 0, 1, NULL, NULL, NULL, 0, &m, NULL, &e) ==
          MLHEP_EINVAL);
    CHECK(gbdt_train_dense(&p, x, y, NULL, 4, 1, NULL, NULL, NULL, 0, &m, NULL, &e) == 0);
    CHECK(gbdt_predict(m, x, 2, 2, GBDT_MARGIN, out, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "expects 1"));
    CHECK(gbdt_predict(m, x, 2, 1, 7, out, &e) == MLHEP_EINVAL);
    gbdt_model_free(m);
    /* validation set with other cuts is refused */
    gbdt_dataset *a, *b;
    CHECK(gbdt_dataset_new(&p, x, 4, 1, &a, &e) == 0);
    float x2[] = {10, 20, 30, 40};
    CHECK(gbdt_dataset_new(&p, x2, 4, 1, &b, &e) == 0);
    CHECK(gbdt_dataset_append(a, x, y, NULL, 4, &e) == 0);
    CHECK(gbdt_dataset_append(b, x2, y, NULL, 4, &e) == 0);
    CHECK(gbdt_train(&p, a, b, &m, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "cuts"));
    gbdt_dataset_free(a);
    gbdt_dataset_free(b);
}

TEST(weights_shift_predictions)
{
    /* uninformative feature; signal weighted 3x -> predicted probability ~ 0.75 */
    enum { N = 4000 };
    float x[N], y[N], w[N], o;
    rs = 9;
    for (int i = 0; i < N; i++) {
        x[i] = (float)nrand();
        y[i] = (float)(i & 1);
        w[i] = y[i] > 0 ? 3.0f : 1.0f;
    }
    gbdt_params p;
    small_params(&p);
    p.max_depth = 1;
    p.min_child_weight = 200;
    gbdt_model *m;
    mlhep_err e;
    CHECK(gbdt_train_dense(&p, x, y, w, N, 1, NULL, NULL, NULL, 0, &m, NULL, &e) == 0);
    float q = 0;
    CHECK(gbdt_predict(m, &q, 1, 1, GBDT_PROBABILITY, &o, &e) == 0);
    CHECKF(fabs(o - 0.75) < 0.06, "%g", o);
    gbdt_model_free(m);
}

int main(void)
{
    RUN(hand_computed_stump);
    RUN(learns_nonlinear_beyond_linear);
    RUN(reproducible_seed_threads_chunks);
    RUN(serialize_round_trip);
    RUN(corrupt_bytes_rejected);
    RUN(missing_values_learned);
    RUN(early_stopping_keeps_best);
    RUN(progress_callback_stops);
    RUN(bad_params_and_input);
    RUN(weights_shift_predictions);
    return test_summary();
}

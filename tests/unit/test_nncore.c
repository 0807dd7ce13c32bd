/* test_nncore.c - numeric core: gradients of every primitive checked against central
 * finite differences, optimiser updates against hand-computed values, RNG, dropout and
 * initialisation statistics, bad labels refused. */
#include <stdlib.h>

#include "model/nncore.h"
#include "test.h"

/* Finite-difference agreement: |num - ana| <= atol + rtol |ana|. */
#define GRAD_OK(num, ana) (fabs((num) - (ana)) <= 2e-3 + 2e-2 * fabs(ana))

static void fill(rng *r, float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * rng_unitf(r);
}

/* f(x) = sum R * act(x) for one activation, as a double. */
static double act_obj(const float *x, const float *R, size_t n, size_t cols, nn_act act, float alpha)
{
    float y[64];
    memcpy(y, x, n * cols * sizeof *y);
    nn_bias_act_forward(y, n, cols, NULL, act, alpha);
    double s = 0;
    for (size_t i = 0; i < n * cols; i++)
        s += (double)R[i] * y[i];
    return s;
}

TEST(activation_gradients)
{
    rng r;
    rng_seed(&r, 1);
    const size_t n = 4, cols = 5;
    for (int a = NN_ACT_LINEAR; a <= NN_ACT_SOFTMAX; a++) {
        float x[20], R[20], y[20], d[20];
        float alpha = nn_act_default_alpha((nn_act)a);
        fill(&r, x, n * cols, -2, 2);
        for (size_t i = 0; i < n * cols; i++) /* keep away from relu's kink */
            if (fabsf(x[i]) < 0.05f)
                x[i] = 0.3f;
        fill(&r, R, n * cols, -1, 1);
        memcpy(y, x, sizeof y);
        nn_bias_act_forward(y, n, cols, NULL, (nn_act)a, alpha);
        memcpy(d, R, sizeof d);
        nn_act_backward(d, y, n, cols, (nn_act)a, alpha);
        for (size_t i = 0; i < n * cols; i++) {
            float xp[20], xm[20];
            const float h = 1e-2f;
            memcpy(xp, x, sizeof xp);
            memcpy(xm, x, sizeof xm);
            xp[i] += h;
            xm[i] -= h;
            double num = (act_obj(xp, R, n, cols, (nn_act)a, alpha) - act_obj(xm, R, n, cols, (nn_act)a, alpha)) /
                         (2.0 * h);
            CHECKF(GRAD_OK(num, d[i]), "%s x[%zu]: numeric %g analytic %g", nn_act_name((nn_act)a), i, num,
                   (double)d[i]);
        }
    }
}

TEST(activation_values)
{
    float y[7] = {-1, 0, 2, -1, 1, -1000, 1000};
    nn_bias_act_forward(y, 1, 3, NULL, NN_ACT_RELU, 0);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 2);
    nn_bias_act_forward(y + 3, 1, 2, NULL, NN_ACT_LEAKY_RELU, 0.1f);
    CHECK_NEAR(y[3], -0.1, 1e-7);
    CHECK(y[4] == 1);
    nn_bias_act_forward(y + 5, 1, 2, NULL, NN_ACT_SIGMOID, 0);
    CHECK(y[5] == 0 && y[6] == 1); /* no overflow to NaN */
    float s[3] = {1000, 1000, 0};
    nn_bias_act_forward(s, 1, 3, NULL, NN_ACT_SOFTMAX, 0);
    CHECK_NEAR(s[0], 0.5, 1e-6);
    CHECK_NEAR(s[2], 0, 1e-6);
    float b[2] = {1, -1}, z[4] = {0, 0, 1, 1};
    nn_bias_act_forward(z, 2, 2, b, NN_ACT_ELU, 1.0f);
    CHECK_NEAR(z[0], 1, 1e-7);
    CHECK_NEAR(z[1], expm1(-1.0), 1e-6);
    CHECK_NEAR(z[3], 0, 1e-7);
    nn_act a;
    CHECK(nn_act_parse("relu", &a) == 0 && a == NN_ACT_RELU);
    CHECK(nn_act_parse("selu", &a) == MLHEP_EINVAL);
}

TEST(dense_matches_naive)
{
    rng r;
    rng_seed(&r, 2);
    enum { N = 7, IN = 5, OUT = 3 };
    float X[N * IN], W[IN * OUT], dY[N * OUT], Y[N * OUT], dW[IN * OUT], db[OUT], dX[N * IN];
    fill(&r, X, N * IN, -1, 1);
    fill(&r, W, IN * OUT, -1, 1);
    fill(&r, dY, N * OUT, -1, 1);
    nn_dense_forward(X, N, IN, W, OUT, Y);
    nn_dense_backward(X, N, IN, W, OUT, dY, dW, db, dX);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OUT; o++) {
            double s = 0;
            for (int k = 0; k < IN; k++)
                s += (double)X[i * IN + k] * W[k * OUT + o];
            CHECK_NEAR(Y[i * OUT + o], s, 1e-5);
        }
    for (int k = 0; k < IN; k++)
        for (int o = 0; o < OUT; o++) {
            double s = 0;
            for (int i = 0; i < N; i++)
                s += (double)X[i * IN + k] * dY[i * OUT + o];
            CHECK_NEAR(dW[k * OUT + o], s, 1e-5);
        }
    for (int o = 0; o < OUT; o++) {
        double s = 0;
        for (int i = 0; i < N; i++)
            s += dY[i * OUT + o];
        CHECK_NEAR(db[o], s, 1e-5);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < IN; k++) {
            double s = 0;
            for (int o = 0; o < OUT; o++)
                s += (double)dY[i * OUT + o] * W[k * OUT + o];
            CHECK_NEAR(dX[i * IN + k], s, 1e-5);
        }
}

/* BN objective: sum R * BN_train(X) */
static double bn_obj(const float *X, size_t n, size_t c, const float *g, const float *b, const float *R)
{
    float rm[8] = {0}, rv[8] = {0}, xh[64], is[8], Y[64];
    nn_batchnorm_forward_train(X, n, c, g, b, 1e-3f, 0.9f, rm, rv, xh, is, Y);
    double s = 0;
    for (size_t i = 0; i < n * c; i++)
        s += (double)R[i] * Y[i];
    return s;
}

TEST(batchnorm_gradients_and_stats)
{
    rng r;
    rng_seed(&r, 3);
    enum { N = 6, C = 4 };
    float X[N * C], R[N * C], g[C], b[C], rm[C] = {0}, rv[C] = {1, 1, 1, 1}, xh[N * C], is[C], Y[N * C];
    fill(&r, X, N * C, -2, 3);
    fill(&r, R, N * C, -1, 1);
    fill(&r, g, C, 0.5f, 1.5f);
    fill(&r, b, C, -0.5f, 0.5f);
    nn_batchnorm_forward_train(X, N, C, g, b, 1e-3f, 0.9f, rm, rv, xh, is, Y);
    /* normalised columns: mean 0, variance ~1 */
    for (int j = 0; j < C; j++) {
        double m = 0, v = 0, mx = 0;
        for (int i = 0; i < N; i++)
            m += xh[i * C + j], mx += X[i * C + j];
        for (int i = 0; i < N; i++)
            v += (double)xh[i * C + j] * xh[i * C + j];
        CHECK_NEAR(m / N, 0, 1e-5);
        CHECK_NEAR(v / N, 1, 1e-2);
        CHECK_NEAR(rm[j], 0.1 * mx / N, 1e-5); /* 0.9 * 0 + 0.1 * batch mean */
    }
    float dX[N * C], dg[C], db[C];
    nn_batchnorm_backward(R, xh, is, g, N, C, dg, db, dX);
    const float h = 1e-2f;
    for (int i = 0; i < N * C; i++) {
        float xp[N * C], xm[N * C];
        memcpy(xp, X, sizeof xp);
        memcpy(xm, X, sizeof xm);
        xp[i] += h;
        xm[i] -= h;
        double num = (bn_obj(xp, N, C, g, b, R) - bn_obj(xm, N, C, g, b, R)) / (2 * h);
        CHECKF(GRAD_OK(num, dX[i]), "dX[%d]: numeric %g analytic %g", i, num, (double)dX[i]);
    }
    for (int j = 0; j < C; j++) {
        float gp[C], gm[C], bp[C], bm[C];
        memcpy(gp, g, sizeof gp);
        memcpy(gm, g, sizeof gm);
        memcpy(bp, b, sizeof bp);
        memcpy(bm, b, sizeof bm);
        gp[j] += h, gm[j] -= h, bp[j] += h, bm[j] -= h;
        double ng = (bn_obj(X, N, C, gp, b, R) - bn_obj(X, N, C, gm, b, R)) / (2 * h);
        double nb = (bn_obj(X, N, C, g, bp, R) - bn_obj(X, N, C, g, bm, R)) / (2 * h);
        CHECKF(GRAD_OK(ng, dg[j]), "dgamma[%d]: %g vs %g", j, ng, (double)dg[j]);
        CHECKF(GRAD_OK(nb, db[j]), "dbeta[%d]: %g vs %g", j, nb, (double)db[j]);
    }
    /* inference with the running stats equals the formula */
    float Yi[C];
    nn_batchnorm_forward_infer(X, 1, C, g, b, 1e-3f, rm, rv, Yi);
    for (int j = 0; j < C; j++)
        CHECK_NEAR(Yi[j], g[j] * (X[j] - rm[j]) / sqrt(rv[j] + 1e-3) + b[j], 1e-5);
}

typedef int (*loss_fn)(const float *out, size_t k, const float *y, const float *w, size_t n, float *d,
                       double *loss, mlhep_err *e);
static int l_bce_logits(const float *o, size_t k, const float *y, const float *w, size_t n, float *d, double *l,
                        mlhep_err *e)
{
    (void)k;
    return nn_loss_bce_logits(o, y, w, n, d, l, e);
}
static int l_bce_prob(const float *o, size_t k, const float *y, const float *w, size_t n, float *d, double *l,
                      mlhep_err *e)
{
    (void)k;
    return nn_loss_bce_prob(o, y, w, n, d, l, e);
}
static int l_mse(const float *o, size_t k, const float *y, const float *w, size_t n, float *d, double *l,
                 mlhep_err *e)
{
    (void)k;
    return nn_loss_mse(o, y, w, n, d, l, e);
}

static void check_loss_grad(loss_fn f, const char *name, const float *out, size_t k, const float *y,
                            const float *w, size_t n)
{
    float d[64], dd[64], o2[64];
    double l, lp, lm;
    mlhep_err e;
    CHECKF(f(out, k, y, w, n, d, &l, &e) == 0, "%s: %s", name, e.msg);
    for (size_t i = 0; i < n * k; i++) {
        /* step relative to the value: 1/p losses are very curved near small p */
        const float h = fabsf(out[i]) < 0.1f ? 1e-4f : 1e-3f;
        memcpy(o2, out, n * k * sizeof *o2);
        o2[i] += h;
        f(o2, k, y, w, n, dd, &lp, &e);
        o2[i] -= 2 * h;
        f(o2, k, y, w, n, dd, &lm, &e);
        double num = (lp - lm) / (2 * h);
        CHECKF(GRAD_OK(num, d[i]), "%s out[%zu]: numeric %g analytic %g", name, i, num, (double)d[i]);
    }
}

TEST(loss_gradients_with_weights)
{
    rng r;
    rng_seed(&r, 4);
    enum { N = 6, K = 3 };
    float z[N * K], p[N], y01[N] = {0, 1, 1, 0, 1, 0}, ycls[N] = {0, 2, 1, 1, 0, 2}, w[N], t[N];
    fill(&r, z, N * K, -3, 3);
    fill(&r, p, N, 0.05f, 0.95f);
    fill(&r, w, N, 0.2f, 2.0f);
    fill(&r, t, N, -2, 2);
    for (int pass = 0; pass < 2; pass++) {
        const float *ww = pass ? w : NULL;
        check_loss_grad(l_bce_logits, "bce_logits", z, 1, y01, ww, N);
        check_loss_grad(l_bce_prob, "bce_prob", p, 1, y01, ww, N);
        check_loss_grad(nn_loss_cce_logits, "cce_logits", z, K, ycls, ww, N);
        float pk[N * K];
        memcpy(pk, z, sizeof pk);
        for (int i = 0; i < N; i++)
            nn_softmax_row(pk + i * K, K);
        check_loss_grad(nn_loss_cce_prob, "cce_prob", pk, K, ycls, ww, N);
        check_loss_grad(l_mse, "mse", z, 1, t, ww, N);
        if (test_failed_)
            return;
    }
}

TEST(loss_values_and_bad_labels)
{
    float z0 = 0, y1 = 1, d;
    double l;
    mlhep_err e;
    CHECK(nn_loss_bce_logits(&z0, &y1, NULL, 1, &d, &l, &e) == 0);
    CHECK_NEAR(l, log(2.0), 1e-9);
    CHECK_NEAR(d, -0.5, 1e-7);
    float big = 200; /* stable: no inf/NaN for large logits */
    float y0 = 0;
    CHECK(nn_loss_bce_logits(&big, &y0, NULL, 1, &d, &l, &e) == 0);
    CHECK_NEAR(l, 200, 1e-6);
    float p = 0.25f, w2 = 2;
    CHECK(nn_loss_bce_prob(&p, &y1, &w2, 1, &d, &l, &e) == 0);
    CHECK_NEAR(l, -2 * log(0.25), 1e-6);
    float zz[2] = {1, 1}, c1 = 1;
    CHECK(nn_loss_cce_logits(zz, 2, &c1, NULL, 1, zz, &l, &e) == 0);
    CHECK_NEAR(l, log(2.0), 1e-7);
    float yh[2] = {1, 3}, tg[2] = {0, 1};
    CHECK(nn_loss_mse(yh, tg, NULL, 2, yh, &l, &e) == 0);
    CHECK_NEAR(l, 2.5, 1e-9);
    /* bad input */
    float bad = 2;
    CHECK(nn_loss_bce_logits(&z0, &bad, NULL, 1, &d, &l, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "binary label 2") != NULL);
    float frac = 0.5f, zz3[3] = {0};
    CHECK(nn_loss_cce_logits(zz3, 3, &frac, NULL, 1, zz3, &l, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "not an integer in [0, 3)") != NULL);
    float three = 3;
    CHECK(nn_loss_cce_prob(zz3, 3, &three, NULL, 1, zz3, &l, &e) == MLHEP_EINVAL);
    float nw = -1;
    CHECK(nn_loss_mse(&z0, &y0, &nw, 1, &d, &l, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "sample weight") != NULL);
    float inf = INFINITY;
    CHECK(nn_loss_mse(&z0, &inf, NULL, 1, &d, &l, &e) == MLHEP_EINVAL);
}

TEST(adam_known_steps)
{
    nn_adam o = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    float p[2] = {1, -1}, g[2] = {0.5f, -2}, m[2] = {0}, v[2] = {0};
    /* reference in double */
    double rp[2] = {1, -1}, rm[2] = {0}, rv[2] = {0};
    for (long t = 1; t <= 3; t++) {
        nn_adam_step(&o, t, p, g, m, v, 2);
        for (int i = 0; i < 2; i++) {
            rm[i] = 0.9 * rm[i] + 0.1 * g[i];
            rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
            double mh = rm[i] / (1 - pow(0.9, (double)t)), vh = rv[i] / (1 - pow(0.999, (double)t));
            rp[i] -= 0.1 * mh / (sqrt(vh) + 1e-8);
            CHECK_NEAR(p[i], rp[i], 1e-6);
        }
    }
    /* constant gradient: each step moves by ~lr against its sign */
    CHECK_NEAR(p[0], 0.7, 1e-5);
    CHECK_NEAR(p[1], -0.7, 1e-5);
}

TEST(sgd_momentum_known_steps)
{
    nn_sgd o = {.lr = 0.1f, .momentum = 0.9f, .nesterov = 0};
    float p = 1, g = 1, vel = 0;
    nn_sgd_step(&o, &p, &g, &vel, 1);
    CHECK_NEAR(p, 0.9, 1e-7);
    nn_sgd_step(&o, &p, &g, &vel, 1);
    CHECK_NEAR(p, 0.71, 1e-6); /* v = 0.9 * -0.1 - 0.1 = -0.19 */
    o.nesterov = 1;
    p = 1, vel = 0;
    nn_sgd_step(&o, &p, &g, &vel, 1);
    CHECK_NEAR(p, 0.81, 1e-6); /* 1 + 0.9 * -0.1 - 0.1 */
    o.momentum = 0;
    p = 1;
    nn_sgd_step(&o, &p, &g, NULL, 1);
    CHECK_NEAR(p, 0.9, 1e-7);
}

TEST(l2_term_and_gradient)
{
    float W[3] = {1, -2, 0.5f}, G[3] = {0.1f, 0, 0};
    double pen = nn_l2_add(W, G, 3, 0.01f);
    CHECK_NEAR(pen, 0.01 * 5.25, 1e-8);
    CHECK_NEAR(G[0], 0.1 + 0.02, 1e-7);
    CHECK_NEAR(G[1], -0.04, 1e-7);
}

TEST(rng_dropout_init)
{
    rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int same = 1, diff = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);
        same &= x == y;
        diff += x != z;
    }
    CHECK(same);
    CHECK(diff == 100);
    double s = 0;
    for (int i = 0; i < 100000; i++) {
        float u = rng_unitf(&a);
        CHECK(u >= 0 && u < 1);
        s += u;
    }
    CHECK_NEAR(s / 100000, 0.5, 0.01);

    enum { M = 100001 };
    float *mask = malloc(M * sizeof *mask);
    CHECK(mask);
    nn_dropout_mask(&a, 0.3f, mask, M);
    size_t zeros = 0;
    int values_ok = 1;
    for (size_t i = 0; i < M; i++) {
        zeros += mask[i] == 0;
        values_ok &= mask[i] == 0 || fabsf(mask[i] - 1 / 0.7f) < 1e-6f;
    }
    nn_dropout_mask(&a, 0.0f, mask, M);
    int all_one = 1;
    for (size_t i = 0; i < M; i++)
        all_one &= mask[i] == 1;
    free(mask);
    CHECK(values_ok && all_one);
    CHECK_NEAR((double)zeros / M, 0.3, 0.01);

    float W[200 * 100];
    nn_init_kernel(&a, NN_INIT_GLOROT_UNIFORM, 200, 100, W);
    float lim = sqrtf(6.0f / 300), mx = 0;
    for (int i = 0; i < 20000; i++)
        mx = fabsf(W[i]) > mx ? fabsf(W[i]) : mx;
    CHECK(mx <= lim && mx > 0.95f * lim);
    nn_init_kernel(&a, NN_INIT_HE_NORMAL, 200, 100, W);
    double v = 0;
    for (int i = 0; i < 20000; i++)
        v += (double)W[i] * W[i];
    CHECK_NEAR(v / 20000, 2.0 / 200, 0.001);
    nn_init ii;
    CHECK(nn_init_parse("he_uniform", &ii) == 0 && ii == NN_INIT_HE_UNIFORM);
    CHECK(nn_init_parse("orthogonal", &ii) != 0);
}

/* The fused relu + dropout pass and its backward give the values of the separate
 * primitives (bias + relu, dropout with a mask, mask product, relu backward, column
 * sums) and leave the RNG where they do, at row widths that are and are not multiples
 * of the vector width and of the four units per draw. */
TEST(fused_relu_dropout_matches_separate)
{
    static const size_t shapes[][2] = {{1, 1}, {3, 13}, {7, 5}, {5, 64}, {17, 9}, {2, 200}, {300, 7}, {100, 128}};
    static const float rates[] = {0.5f, 0.3f, 0.9f};
    rng g;
    rng_seed(&g, 11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t q = 0; q < sizeof rates / sizeof rates[0]; q++) {
            size_t n = shapes[s][0], cols = shapes[s][1], cnt = n * cols;
            float rate = rates[q], keep = nn_dropout_keep(rate);
            float *x = malloc(cnt * sizeof *x), *a = malloc(cnt * sizeof *a), *mask = malloc(cnt * sizeof *mask);
            float *mask2 = malloc(cnt * sizeof *mask2), *b = malloc(cnt * sizeof *b), *bias = malloc(cols * sizeof *bias);
            float *da = malloc(cnt * sizeof *da), *db = malloc(cnt * sizeof *db), *dy = malloc(cnt * sizeof *dy);
            float *sa = malloc(cols * sizeof *sa), *sb = malloc(cols * sizeof *sb);
            CHECK(x && a && mask && mask2 && b && bias && da && db && dy && sa && sb);
            fill(&g, x, cnt, -1, 1);
            fill(&g, bias, cols, -0.3f, 0.3f);
            fill(&g, dy, cnt, -1, 1);
            rng r1, r2, r3;
            rng_seed(&r1, 100 + s * 10 + q);
            r2 = r3 = r1;
            /* separate: bias + relu, then dropout (out of place, with its mask) */
            float *pre = malloc(cnt * sizeof *pre);
            CHECK(pre);
            memcpy(pre, x, cnt * sizeof *x);
            nn_bias_act_forward(pre, n, cols, bias, NN_ACT_RELU, 0);
            nn_dropout_forward(&r1, rate, pre, mask, a, cnt);
            nn_dropout_mask(&r3, rate, mask2, cnt);
            /* fused, in place */
            memcpy(b, x, cnt * sizeof *x);
            nn_bias_relu_dropout_forward(&r2, rate, b, n, cols, bias);
            int same_out = 1, same_mask = 1;
            for (size_t i = 0; i < cnt; i++) {
                same_out &= memcmp(&a[i], &b[i], sizeof a[i]) == 0;
                same_mask &= memcmp(&mask[i], &mask2[i], sizeof mask[i]) == 0 && a[i] == pre[i] * mask[i];
            }
            CHECKF(same_out, "forward n=%zu cols=%zu rate=%g", n, cols, (double)rate);
            CHECKF(same_mask, "mask n=%zu cols=%zu rate=%g", n, cols, (double)rate);
            uint64_t n1 = rng_next(&r1), n2 = rng_next(&r2), n3 = rng_next(&r3);
            CHECK(n1 == n2 && n1 == n3);
            /* backward: mask product, relu backward from the pre-dropout output, column sums */
            memcpy(da, dy, cnt * sizeof *dy);
            memcpy(db, dy, cnt * sizeof *dy);
            nn_mul(da, mask, da, cnt);
            nn_act_backward(da, pre, n, cols, NN_ACT_RELU, 0);
            nn_colsum(da, n, cols, sa);
            nn_relu_backward_colsum(db, b, n, cols, keep, sb);
            int same_d = 1, same_s = 1;
            for (size_t i = 0; i < cnt; i++)
                same_d &= da[i] == db[i];
            for (size_t j = 0; j < cols; j++)
                same_s &= sa[j] == sb[j];
            CHECKF(same_d && same_s, "backward n=%zu cols=%zu rate=%g", n, cols, (double)rate);
            /* relu alone: scale 1, no column sums asked */
            memcpy(da, dy, cnt * sizeof *dy);
            memcpy(db, dy, cnt * sizeof *dy);
            nn_act_backward(da, pre, n, cols, NN_ACT_RELU, 0);
            nn_relu_backward_colsum(db, pre, n, cols, 1.0f, NULL);
            same_d = 1;
            for (size_t i = 0; i < cnt; i++)
                same_d &= memcmp(&da[i], &db[i], sizeof da[i]) == 0;
            CHECKF(same_d, "relu backward n=%zu cols=%zu", n, cols);
            free(x), free(a), free(mask), free(mask2), free(b), free(bias), free(da), free(db), free(dy);
            free(sa), free(sb), free(pre);
        }
}

int main(void)
{
    RUN(activation_gradients);
    RUN(activation_values);
    RUN(dense_matches_naive);
    RUN(batchnorm_gradients_and_stats);
    RUN(loss_gradients_with_weights);
    RUN(loss_values_and_bad_labels);
    RUN(adam_known_steps);
    RUN(sgd_momentum_known_steps);
    RUN(l2_term_and_gradient);
    RUN(rng_dropout_init);
    RUN(fused_relu_dropout_matches_separate);
    return test_summary();
}

/* test_metrics.c - metrics against hand-computed cases and a brute-force O(n^2)
 * pair-counting AUC (ties count 1/2), including weights and heavy ties. */
#include "model/metrics.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 12345;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Weighted Mann-Whitney: sum over (pos, neg) pairs of w_p w_n [s_p > s_n] + 1/2 [==]. */
static double brute_auc(const float *y, const float *s, const float *w, size_t n)
{
    double num = 0, P = 0, N = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (y[i] >= 0.5f)
            P += wi;
        else
            N += wi;
    }
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0.5f)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (y[j] >= 0.5f)
                continue;
            double ww = (w ? w[i] : 1) * (w ? w[j] : 1);
            if (s[i] > s[j])
                num += ww;
            else if (s[i] == s[j])
                num += 0.5 * ww;
        }
    }
    return num / (P * N);
}

TEST(auc_hand_cases)
{
    mlhep_err e;
    double auc;
    /* sklearn docs example: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75 */
    float y1[] = {0, 0, 1, 1}, s1[] = {0.1f, 0.4f, 0.35f, 0.8f};
    CHECK(metrics_roc_auc(y1, s1, NULL, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 0.75, 1e-12);
    /* perfect, inverted, all tied */
    float s2[] = {0.1f, 0.2f, 0.3f, 0.4f};
    CHECK(metrics_roc_auc(y1, s2, NULL, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 1.0, 1e-12);
    float s3[] = {0.4f, 0.3f, 0.2f, 0.1f};
    CHECK(metrics_roc_auc(y1, s3, NULL, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 0.0, 1e-12);
    float s4[] = {0.5f, 0.5f, 0.5f, 0.5f};
    CHECK(metrics_roc_auc(y1, s4, NULL, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 0.5, 1e-12);
    /* one tie across classes: pairs (p=.3,.9) vs (n=.3,.1): .9>.3,.9>.1,.3==.3 (1/2),.3>.1 -> 3.5/4 */
    float y5[] = {1, 0, 1, 0}, s5[] = {0.3f, 0.3f, 0.9f, 0.1f};
    CHECK(metrics_roc_auc(y5, s5, NULL, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 0.875, 1e-12);
    /* -0 and +0 are the same score (a tie) */
    float y6[] = {1, 0}, s6[] = {-0.0f, 0.0f};
    CHECK(metrics_roc_auc(y6, s6, NULL, 2, &auc, &e) == 0);
    CHECK_NEAR(auc, 0.5, 1e-12);
    /* weights: sklearn roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8],sample_weight=[1,2,3,4])
     * pairs: p.35(3) vs n.1(1):3, vs n.4(2):0; p.8(4): 4+8 -> 15 / (7*3) */
    float w1[] = {1, 2, 3, 4};
    CHECK(metrics_roc_auc(y1, s1, w1, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 15.0 / 21.0, 1e-12);
    /* infinities are ordinary scores */
    float s7[] = {-INFINITY, 0.4f, 0.35f, INFINITY};
    CHECK(metrics_roc_auc(y1, s7, NULL, 4, &auc, &e) == 0);
    CHECK_NEAR(auc, 0.75, 1e-12);
}

TEST(auc_bad_input)
{
    mlhep_err e;
    double auc = -1;
    float y[] = {1, 1, 1}, s[] = {0.1f, 0.2f, 0.3f};
    CHECK(metrics_roc_auc(y, s, NULL, 3, &auc, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "negative") != NULL);
    float y2[] = {0, 1, 1}, s2[] = {0.1f, NAN, 0.3f};
    CHECK(metrics_roc_auc(y2, s2, NULL, 3, &auc, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "NaN") != NULL);
    float w[] = {1, -1, 1};
    CHECK(metrics_roc_auc(y2, s, w, 3, &auc, &e) == MLHEP_EINVAL);
    float w0[] = {0, 1, 1}; /* negatives carry zero weight */
    CHECK(metrics_roc_auc(y2, s, w0, 3, &auc, &e) == MLHEP_EINVAL);
    CHECK(metrics_roc_auc(y2, s, NULL, 0, &auc, &e) == MLHEP_EINVAL);
    metrics_roc roc;
    CHECK(metrics_roc_curve(y2, s, NULL, 3, 2, &roc, &e) == MLHEP_EINVAL);
    CHECK(roc.fpr == NULL);
}

TEST(auc_vs_brute_force_random)
{
    mlhep_err e;
    enum { N = 1500 };
    static float y[N], s[N], w[N];
    for (int trial = 0; trial < 12; trial++) {
        int levels = trial % 3 == 0 ? 5 : trial % 3 == 1 ? 50 : 0; /* heavy ties, some, none */
        for (int i = 0; i < N; i++) {
            y[i] = urand() < 0.3 ? 1.0f : 0.0f;
            double x = urand() + 0.3 * y[i];
            s[i] = levels ? (float)((int)(x * levels) / (double)levels) : (float)x;
            if (trial == 11)
                s[i] = -s[i]; /* negative scores through the sign handling of the sort */
            w[i] = (float)(0.1 + 2 * urand());
        }
        const float *wp = trial & 1 ? w : NULL;
        double auc, ref = brute_auc(y, s, wp, N);
        CHECK(metrics_roc_auc(y, s, wp, N, &auc, &e) == 0);
        CHECKF(fabs(auc - ref) < 1e-10, "trial %d: %.15f vs brute %.15f", trial, auc, ref);
        metrics_roc roc;
        CHECK(metrics_roc_curve(y, s, wp, N, 0, &roc, &e) == 0);
        CHECK_NEAR(roc.auc, ref, 1e-10);
        /* trapezoid over the returned points reproduces the AUC; curve is monotone */
        double a = 0;
        for (size_t i = 1; i < roc.n; i++) {
            CHECK(roc.fpr[i] >= roc.fpr[i - 1] && roc.tpr[i] >= roc.tpr[i - 1]);
            CHECK(roc.thr[i] < roc.thr[i - 1]);
            a += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2;
        }
        CHECK_NEAR(a, ref, 1e-10);
        CHECK(roc.fpr[0] == 0 && roc.tpr[0] == 0 && isinf(roc.thr[0]));
        CHECK_NEAR(roc.fpr[roc.n - 1], 1.0, 1e-12);
        CHECK_NEAR(roc.tpr[roc.n - 1], 1.0, 1e-12);
        if (levels)
            CHECK(roc.n <= (size_t)levels * 2 + 3);
        metrics_roc_free(&roc);
        /* thinned curve keeps the exact AUC and at most K points, ends at (1,1) */
        CHECK(metrics_roc_curve(y, s, wp, N, 20, &roc, &e) == 0);
        CHECK(roc.n <= 20);
        CHECK_NEAR(roc.auc, ref, 1e-10);
        CHECK_NEAR(roc.fpr[roc.n - 1], 1.0, 1e-12);
        if (!levels)
            CHECK(roc.n >= 10); /* thinning keeps a usable curve */
        metrics_roc_free(&roc);
    }
}

TEST(roc_curve_points)
{
    mlhep_err e;
    float y[] = {0, 0, 1, 1}, s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    metrics_roc roc;
    CHECK(metrics_roc_curve(y, s, NULL, 4, 0, &roc, &e) == 0);
    /* sklearn: fpr [0,0,.5,.5,1], tpr [0,.5,.5,1,1], thr [inf,.8,.4,.35,.1] */
    double fpr[] = {0, 0, 0.5, 0.5, 1}, tpr[] = {0, 0.5, 0.5, 1, 1}, thr[] = {0, 0.8, 0.4, 0.35, 0.1};
    CHECK_EQ_INT(roc.n, 5);
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(roc.fpr[i], fpr[i], 1e-12);
        CHECK_NEAR(roc.tpr[i], tpr[i], 1e-12);
        if (i)
            CHECK_NEAR(roc.thr[i], thr[i], 1e-7);
    }
    metrics_roc_free(&roc);
    metrics_roc_free(&roc); /* idempotent */
}

TEST(logloss_accuracy_confusion)
{
    float y[] = {1, 0, 1, 0}, p[] = {0.9f, 0.2f, 0.4f, 0.6f};
    double ref = -(log((double)0.9f) + log(1.0 - (double)0.2f) + log((double)0.4f) + log(1.0 - (double)0.6f)) / 4;
    CHECK_NEAR(metrics_logloss(y, p, NULL, 4), ref, 1e-12);
    CHECK_NEAR(metrics_accuracy(y, p, NULL, 4, 0.5), 0.5, 1e-12);
    CHECK_NEAR(metrics_accuracy(y, p, NULL, 4, 0.3), 0.75, 1e-12);
    CHECK_NEAR(metrics_accuracy(y, p, NULL, 4, 0.7), 0.75, 1e-12);
    metrics_confusion cm = metrics_confusion_at(y, p, NULL, 4, 0.5);
    CHECK(cm.tp == 1 && cm.fn == 1 && cm.tn == 1 && cm.fp == 1);
    float w[] = {2, 1, 1, 1};
    double refw = -(2 * log((double)0.9f) + log(1.0 - (double)0.2f) + log((double)0.4f) + log(1.0 - (double)0.6f)) / 5;
    CHECK_NEAR(metrics_logloss(y, p, w, 4), refw, 1e-12);
    CHECK_NEAR(metrics_accuracy(y, p, w, 4, 0.5), 3.0 / 5, 1e-12);
    /* clipping: p = 0 for a positive gives -log(eps), not inf */
    float y0[] = {1}, p0[] = {0};
    CHECK_NEAR(metrics_logloss(y0, p0, NULL, 1), -log(METRICS_EPS), 1e-9);
    float pn[] = {NAN};
    CHECK_NEAR(metrics_logloss(y0, pn, NULL, 1), -log(METRICS_EPS), 1e-9);
    CHECK_NEAR(metrics_accuracy(y0, pn, NULL, 1, 0.5), 0, 0);
    CHECK(isnan(metrics_logloss(y, p, NULL, 0)));
    /* streaming in two chunks == one shot */
    metrics_binary m;
    metrics_binary_init(&m, 0.5);
    metrics_binary_add(&m, y, p, w, 2);
    metrics_binary_add(&m, y + 2, p + 2, w + 2, 2);
    CHECK_NEAR(metrics_binary_logloss(&m), refw, 1e-12);
    CHECK_NEAR(metrics_binary_accuracy(&m), 3.0 / 5, 1e-12);
    CHECK(m.cm.tp == 2 && m.cm.fn == 1);
}

TEST(multiclass_and_mse)
{
    mlhep_err e;
    float lab[] = {0, 2, 1};
    float p[] = {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f, 0.5f, 0.4f, 0.1f};
    double acc, xe;
    CHECK(metrics_mc_accuracy(lab, p, NULL, 3, 3, &acc, &e) == 0);
    CHECK_NEAR(acc, 2.0 / 3, 1e-12);
    CHECK(metrics_mc_xent(lab, p, NULL, 3, 3, &xe, &e) == 0);
    CHECK_NEAR(xe, -(log(0.7f) + log(0.6f) + log((double)0.4f)) / 3, 1e-12);
    float w[] = {1, 1, 2};
    CHECK(metrics_mc_accuracy(lab, p, w, 3, 3, &acc, &e) == 0);
    CHECK_NEAR(acc, 0.5, 1e-12);
    float bad[] = {0, 3, 1};
    CHECK(metrics_mc_accuracy(bad, p, NULL, 3, 3, &acc, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "row 1") != NULL);
    float frac[] = {0, 1.5f, 1};
    CHECK(metrics_mc_xent(frac, p, NULL, 3, 3, &xe, &e) == MLHEP_EINVAL);
    float nanl[] = {NAN, 1, 1};
    CHECK(metrics_mc_xent(nanl, p, NULL, 3, 3, &xe, &e) == MLHEP_EINVAL);
    float t[] = {1, 2, 3}, q[] = {1.5f, 2, 2};
    CHECK_NEAR(metrics_mse(t, q, NULL, 3), (0.25 + 0 + 1) / 3, 1e-12);
    CHECK(isnan(metrics_mse(t, q, NULL, 0)));
}

TEST(auc_large_is_fast_and_exact_on_ties)
{
    /* 200k rows with 1000 distinct score levels: exact AUC vs a counting formula
     * computed per level (independent of the sort). */
    enum { N = 200000, L = 1000 };
    float *y = malloc(N * sizeof *y), *s = malloc(N * sizeof *s);
    static double pos[L], neg[L];
    CHECK(y && s);
    for (int i = 0; i < N; i++) {
        y[i] = urand() < 0.5 ? 1.0f : 0.0f;
        int lv = (int)((urand() + 0.2 * y[i]) / 1.2 * L);
        if (lv >= L)
            lv = L - 1;
        s[i] = (float)lv / L;
        if (y[i] > 0)
            pos[lv]++;
        else
            neg[lv]++;
    }
    double num = 0, negbelow = 0, P = 0, Nn = 0;
    for (int l = 0; l < L; l++) {
        num += pos[l] * (negbelow + 0.5 * neg[l]);
        negbelow += neg[l];
        P += pos[l];
        Nn += neg[l];
    }
    double auc;
    mlhep_err e;
    int rc = metrics_roc_auc(y, s, NULL, N, &auc, &e);
    free(y);
    free(s);
    CHECK(rc == 0);
    CHECK_NEAR(auc, num / (P * Nn), 1e-12);
}

/* `--eval FILE`: FILE holds n rows of float32 (label, score, weight); prints the
 * metrics for tests/cli/metrics_sklearn.sh to compare with scikit-learn. */
static int eval_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f) / 12;
    fseek(f, 0, SEEK_SET);
    float *v = malloc(n * 12 + 1), *y = malloc(n * 4 + 1), *s = malloc(n * 4 + 1),
          *w = malloc(n * 4 + 1);
    if (!v || !y || !s || !w || fread(v, 12, n, f) != n)
        return 1;
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        y[i] = v[3 * i];
        s[i] = v[3 * i + 1];
        w[i] = v[3 * i + 2];
    }
    mlhep_err e;
    double auc, aucw;
    metrics_roc roc;
    if (metrics_roc_auc(y, s, NULL, n, &auc, &e) || metrics_roc_auc(y, s, w, n, &aucw, &e) ||
        metrics_roc_curve(y, s, NULL, n, 0, &roc, &e)) {
        printf("error %s\n", e.msg);
        return 1;
    }
    metrics_confusion cm = metrics_confusion_at(y, s, NULL, n, 0.5);
    printf("auc %.17g\nauc_weighted %.17g\nlogloss %.17g\nlogloss_weighted %.17g\n"
           "accuracy %.17g\nroc_points %zu\ntn %.0f\nfp %.0f\nfn %.0f\ntp %.0f\n",
           auc, aucw, metrics_logloss(y, s, NULL, n), metrics_logloss(y, s, w, n),
           metrics_accuracy(y, s, NULL, n, 0.5), roc.n, cm.tn, cm.fp, cm.fn, cm.tp);
    for (size_t i = 0; i < roc.n; i++)
        printf("roc %.17g %.17g %.9g\n", roc.fpr[i], roc.tpr[i], roc.thr[i]);
    metrics_roc_free(&roc);
    /* working points, plain and weighted */
    for (int wtd = 0; wtd < 2; wtd++) {
        if (metrics_roc_curve(y, s, wtd ? w : NULL, n, 0, &roc, &e)) {
            printf("error %s\n", e.msg);
            return 1;
        }
        static const double eff[] = {0.01, 0.1, 0.3};
        for (int k = 0; k < 3; k++) {
            double se, th;
            metrics_sig_eff_at(&roc, eff[k], &se, &th);
            printf("wp%s_%g %.17g\n", wtd ? "_weighted" : "", eff[k], se);
        }
        metrics_roc_free(&roc);
    }
    /* two-sample KS of the signal scores against the background scores */
    float *a = malloc(n * 4 + 1), *b = malloc(n * 4 + 1), *wa = malloc(n * 4 + 1), *wb = malloc(n * 4 + 1);
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= 0.5f) {
            a[na] = s[i];
            wa[na++] = w[i];
        } else {
            b[nb] = s[i];
            wb[nb++] = w[i];
        }
    }
    metrics_ks ks, ksw;
    if (metrics_ks_2samp(a, NULL, na, b, NULL, nb, &ks, &e) || metrics_ks_2samp(a, wa, na, b, wb, nb, &ksw, &e)) {
        printf("error %s\n", e.msg);
        return 1;
    }
    printf("ks_d %.17g\nks_p %.17g\nks_d_weighted %.17g\nks_p_weighted %.17g\n", ks.d, ks.pvalue, ksw.d, ksw.pvalue);
    free(a);
    free(b);
    free(wa);
    free(wb);
    free(v);
    free(y);
    free(s);
    free(w);
    return 0;
}

TEST(ks_working_points_correlation_hand_cases)
{
    /* identical samples: d 0, p 1; disjoint: d 1, p ~ 0 */
    float a[] = {1, 2, 3, 4}, b[] = {1, 2, 3, 4}, c[] = {5, 6, 7, 8};
    metrics_ks ks;
    mlhep_err e;
    CHECK(metrics_ks_2samp(a, NULL, 4, b, NULL, 4, &ks, &e) == 0 && ks.d == 0 && ks.pvalue == 1);
    CHECK(metrics_ks_2samp(a, NULL, 4, c, NULL, 4, &ks, &e) == 0 && ks.d == 1 && fabs(ks.pvalue - metrics_kolmogorov_sf(sqrt(2.0))) < 1e-15);
    /* ties across the samples count together: {1,1,2} vs {1,2,2}: d = 1/3 */
    float t1[] = {1, 1, 2}, t2[] = {1, 2, 2};
    CHECK(metrics_ks_2samp(t1, NULL, 3, t2, NULL, 3, &ks, &e) == 0 && fabs(ks.d - 1.0 / 3) < 1e-15);
    /* weights: a weight of 2 is a row given twice */
    float w1[] = {2, 1, 1, 1}, d1[] = {1, 1, 2, 3, 4};
    metrics_ks k2;
    CHECK(metrics_ks_2samp(a, w1, 4, c, NULL, 4, &ks, &e) == 0 && metrics_ks_2samp(d1, NULL, 5, c, NULL, 4, &k2, &e) == 0);
    CHECK(fabs(ks.d - k2.d) < 1e-15);
    CHECK(metrics_ks_2samp(a, NULL, 0, c, NULL, 4, &ks, &e) == MLHEP_EINVAL);
    /* Kolmogorov's distribution: values of scipy.special.kolmogorov */
    CHECK_NEAR(metrics_kolmogorov_sf(0.5), 0.9639452436648751, 1e-13);
    CHECK_NEAR(metrics_kolmogorov_sf(1.0), 0.26999967167735456, 1e-13);
    CHECK_NEAR(metrics_kolmogorov_sf(1.5), 0.022217962616525127, 1e-13);
    CHECK_NEAR(metrics_kolmogorov_sf(2.5), 7.453306344157342e-06, 1e-16);
    /* working points on a hand curve: 4 background at 0.1 0.2 0.3 0.4, signal at 0.35 0.5 */
    float y[] = {0, 0, 0, 0, 1, 1}, sc[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.35f, 0.5f};
    metrics_roc roc;
    CHECK(metrics_roc_curve(y, sc, NULL, 6, 0, &roc, &e) == 0);
    double se, th;
    CHECK(metrics_sig_eff_at(&roc, 0.0, &se, &th) == 0 && se == 0.5 && th == 0.5f);
    CHECK(metrics_sig_eff_at(&roc, 0.125, &se, &th) == 0 && se == 0.5); /* flat from (0, 0.5) to (0.25, 0.5) */
    CHECK(metrics_sig_eff_at(&roc, 0.25, &se, &th) == 0 && se == 1.0);
    metrics_roc_free(&roc);
    /* correlations: x, 2x, -x and a column whose padding must not count */
    float x[] = {1, 2, -1, 9, 2, 4, -2, 9, 3, 6, -3, 0, 4, 8, -4, 9};
    uint8_t mask[16] = {0};
    mask[3] = mask[7] = mask[15] = 1; /* column 3 real only in row 2 */
    size_t cols[] = {0, 1, 2, 3};
    double r[16];
    metrics_correlation(x, mask, NULL, 4, 4, cols, 4, r);
    CHECK_NEAR(r[1], 1, 1e-12);
    CHECK_NEAR(r[2], -1, 1e-12);
    CHECK_NEAR(r[6], -1, 1e-12);
    CHECK(r[0] == 1 && isnan(r[3])); /* one real value: undefined */
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--eval") == 0)
        return eval_file(argv[2]);
    RUN(auc_hand_cases);
    RUN(auc_bad_input);
    RUN(auc_vs_brute_force_random);
    RUN(roc_curve_points);
    RUN(logloss_accuracy_confusion);
    RUN(multiclass_and_mse);
    RUN(auc_large_is_fast_and_exact_on_ties);
    RUN(ks_working_points_correlation_hand_cases);
    return test_summary();
}

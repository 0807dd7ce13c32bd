/* test_mlp.c - the MLP: whole-model gradients against finite differences for every
 * layer/activation/loss combination (with batch norm, dropout, sample and class weights,
 * L2), seeded reproducibility, learning on small synthetic problems, Keras JSON import,
 * bad specs refused with messages naming the layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/mlp.h"
#include "test.h"

static mlp *build(const char *spec, size_t nin)
{
    mlp *m = NULL;
    mlhep_err e;
    err_clear(&e);
    if (mlp_build(spec, nin, &m, &e) != 0)
        printf("  build failed: %s\n", e.msg);
    return m;
}

static void fill_data(rng *r, float *X, size_t n, size_t nin, float *y, mlp_loss loss, size_t nout)
{
    for (size_t i = 0; i < n * nin; i++)
        X[i] = 2 * rng_unitf(r) - 1;
    for (size_t i = 0; i < n; i++) {
        if (loss == MLP_LOSS_BCE)
            y[i] = (float)(i % 2);
        else if (loss == MLP_LOSS_CCE)
            y[i] = (float)(i % nout);
        else
            y[i] = 2 * rng_unitf(r) - 1;
    }
}

/* Checks every trainable parameter's analytic gradient against central differences
 * of the training-mode loss (same dropout masks: the RNG is restored before every
 * evaluation). */
static void grad_check(const char *name, const char *spec, int use_weights)
{
    enum { NIN = 5, N = 8 };
    mlp *m = build(spec, NIN);
    CHECKF(m != NULL, "%s", name);
    rng r, r0;
    rng_seed(&r, 99);
    float X[N * NIN], y[N], w[N];
    fill_data(&r, X, N, NIN, y, mlp_get_loss(m), mlp_n_outputs(m));
    for (int i = 0; i < N; i++)
        w[i] = 0.25f + 1.5f * rng_unitf(&r);
    const float *wp = use_weights ? w : NULL;
    mlhep_err e;
    double loss, lp, lm;
    mlp_get_rng(m, &r0);
    int rc = mlp_compute_gradients(m, X, y, wp, N, &loss, &e);
    if (rc)
        mlp_free(m);
    CHECKF(rc == 0, "%s: %s", name, e.msg);
    size_t np = mlp_n_trainable(m);
    float *G = malloc(np * sizeof *G);
    memcpy(G, mlp_grads(m), np * sizeof *G);
    float *P = mlp_params(m);
    size_t bad = 0, worst = 0;
    double worst_num = 0, worst_err = 0;
    for (size_t j = 0; j < np; j++) {
        const float h = 3e-3f, p0 = P[j];
        P[j] = p0 + h;
        mlp_set_rng(m, &r0);
        mlp_compute_gradients(m, X, y, wp, N, &lp, &e);
        P[j] = p0 - h;
        mlp_set_rng(m, &r0);
        mlp_compute_gradients(m, X, y, wp, N, &lm, &e);
        P[j] = p0;
        double num = (lp - lm) / (2.0 * h), err = fabs(num - G[j]);
        if (!(err <= 1e-3 + 3e-2 * fabs(G[j]))) {
            bad++;
            if (err > worst_err)
                worst_err = err, worst = j, worst_num = num;
        }
    }
    double gw = G[worst];
    free(G);
    mlp_free(m);
    CHECKF(bad == 0, "%s: %zu of %zu gradients wrong, worst param %zu numeric %g analytic %g", name, bad, np,
           worst, worst_num, gw);
}

TEST(gradients_relu_bce_logits_weights)
{
    grad_check("relu+bce", "{\"layers\":[{\"dense\":6,\"activation\":\"relu\"},{\"dense\":1,\"activation\":\"sigmoid\"}],"
                           "\"loss\":\"binary_crossentropy\",\"seed\":1}", 1);
}
TEST(gradients_leaky_dropout_bce)
{
    grad_check("leaky+dropout", "{\"layers\":[{\"dense\":6,\"activation\":\"leaky_relu\",\"alpha\":0.2},{\"dropout\":0.3},"
                                "{\"dense\":1,\"activation\":\"sigmoid\"}],\"loss\":\"binary_crossentropy\",\"seed\":2}", 0);
}
TEST(gradients_elu_batchnorm_cce_class_weights)
{
    grad_check("elu+bn+cce", "{\"layers\":[{\"dense\":6,\"activation\":\"elu\"},{\"batchnorm\":{}},"
                              "{\"dense\":3,\"activation\":\"softmax\"}],\"loss\":\"categorical_crossentropy\","
                              "\"class_weight\":[1,2.5,0.5],\"seed\":3}", 1);
}
TEST(gradients_tanh_l2_mse)
{
    grad_check("tanh+l2+mse", "{\"layers\":[{\"dense\":6,\"activation\":\"tanh\"},{\"dense\":1}],"
                               "\"loss\":\"mse\",\"l2\":0.05,\"seed\":4}", 1);
}
TEST(gradients_sigmoid_activation_layer_cce_prob_dropout)
{
    /* dropout after the softmax: the loss uses probabilities, not logits */
    grad_check("sigmoid+cce_prob", "{\"layers\":[{\"dense\":6},{\"activation\":\"sigmoid\"},"
                                   "{\"dense\":4,\"activation\":\"softmax\"},{\"dropout\":0.2}],"
                                   "\"loss\":\"categorical_crossentropy\",\"seed\":5}", 1);
}
TEST(gradients_bce_prob_batchnorm_nocenter)
{
    grad_check("bce_prob", "{\"layers\":[{\"dense\":6,\"activation\":\"relu\"},{\"batchnorm\":{\"center\":false}},"
                           "{\"dense\":1,\"activation\":\"sigmoid\"},{\"activation\":\"linear\"}],"
                           "\"loss\":\"binary_crossentropy\",\"seed\":6}", 1);
}
TEST(gradients_softmax_hidden_nobias_bn_noscale)
{
    grad_check("softmax hidden", "{\"layers\":[{\"dense\":5,\"activation\":\"softmax\",\"use_bias\":false},"
                                 "{\"batchnorm\":{\"scale\":false}},{\"dense\":4,\"activation\":\"tanh\",\"l2\":0.1},"
                                 "{\"dense\":2,\"activation\":\"softmax\"}],\"loss\":\"categorical_crossentropy\",\"seed\":7}",
               0);
}
TEST(gradients_keras_import)
{
    grad_check("keras", "{\"class_name\":\"Sequential\",\"config\":{\"layers\":["
                        "{\"class_name\":\"Dense\",\"config\":{\"units\":4,\"activation\":\"linear\"}},"
                        "{\"class_name\":\"LeakyReLU\",\"config\":{\"alpha\":0.1}},"
                        "{\"class_name\":\"Dense\",\"config\":{\"units\":1}},"
                        "{\"class_name\":\"Activation\",\"config\":{\"activation\":\"sigmoid\"}}]},\"seed\":8}",
               1);
}

/* y = 1 inside a circle in the first two of NIN features: needs the hidden layers. */
static void circle_data(rng *r, float *X, float *y, size_t n, size_t nin)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < nin; j++)
            X[i * nin + j] = 2 * rng_unitf(r) - 1;
        float a = X[i * nin], b = X[i * nin + 1];
        y[i] = a * a + b * b < 0.5f ? 1.0f : 0.0f;
    }
}

static void train_epochs(mlp *m, const float *X, const float *y, size_t n, size_t nin, size_t bs, int epochs,
                         double *last_loss)
{
    mlhep_err e;
    for (int ep = 0; ep < epochs; ep++)
        for (size_t r = 0; r + bs <= n; r += bs)
            if (mlp_train_batch(m, X + r * nin, y + r, NULL, bs, last_loss, &e)) {
                printf("  train: %s\n", e.msg);
                return;
            }
}

static void learn_binary(const char *opt)
{
    enum { NIN = 6, N = 4000 };
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"type\":\"mlp\",\"layers\":[{\"dense\":32,\"activation\":\"relu\"},{\"dropout\":0.1},"
             "{\"dense\":16,\"activation\":\"relu\"},{\"dense\":1,\"activation\":\"sigmoid\"}],"
             "\"optimizer\":%s,\"loss\":\"binary_crossentropy\",\"init\":\"he_uniform\",\"seed\":11}",
             opt);
    mlp *m = build(spec, NIN);
    CHECK(m);
    float *X = malloc(N * NIN * sizeof *X), *y = malloc(N * sizeof *y), *p = malloc(N * sizeof *p);
    rng r;
    rng_seed(&r, 5);
    circle_data(&r, X, y, N, NIN);
    double l0, l1, last;
    mlhep_err e;
    mlp_eval_loss(m, X, y, NULL, N, &l0, &e);
    train_epochs(m, X, y, N, NIN, 50, 30, &last);
    mlp_eval_loss(m, X, y, NULL, N, &l1, &e);
    mlp_predict(m, X, N, p, &e);
    size_t right = 0;
    for (size_t i = 0; i < N; i++)
        right += (p[i] > 0.5f) == (y[i] > 0.5f);
    free(X);
    free(y);
    free(p);
    mlp_free(m);
    CHECKF(l0 > 0.55 && l1 < 0.15 && right > 0.95 * N, "%s: loss %g -> %g, accuracy %g", opt, l0, l1,
           (double)right / N);
}

TEST(learns_circle_adam) { learn_binary("{\"adam\":{\"lr\":0.005}}"); }
TEST(learns_circle_sgd_momentum) { learn_binary("{\"sgd\":{\"lr\":0.1,\"momentum\":0.9}}"); }

TEST(learns_three_classes_and_regression)
{
    enum { NIN = 4, N = 3000 };
    float *X = malloc(N * NIN * sizeof *X), *y = malloc(N * sizeof *y), *t = malloc(N * sizeof *t),
          *p = malloc(3 * N * sizeof *p);
    rng r;
    rng_seed(&r, 6);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < NIN; j++)
            X[i * NIN + j] = 2 * rng_unitf(&r) - 1;
        float a = X[i * NIN], b = X[i * NIN + 1];
        y[i] = a + b > 0.5f ? 2.0f : a - b > 0 ? 1.0f : 0.0f;
        t[i] = sinf(3 * a) + 0.5f * b;
    }
    mlp *m = build("{\"layers\":[{\"dense\":32,\"activation\":\"tanh\"},{\"batchnorm\":{}},{\"dense\":3,"
                   "\"activation\":\"softmax\"}],\"loss\":\"categorical_crossentropy\",\"optimizer\":{\"adam\":{\"lr\":0.01}}}",
                   NIN);
    CHECK(m);
    double last, l;
    mlhep_err e;
    train_epochs(m, X, y, N, NIN, 100, 30, &last);
    CHECK(mlp_predict(m, X, N, p, &e) == 0);
    size_t right = 0;
    for (size_t i = 0; i < N; i++) {
        int best = 0;
        for (int k = 1; k < 3; k++)
            best = p[i * 3 + k] > p[i * 3 + best] ? k : best;
        right += best == (int)y[i];
        CHECK_NEAR(p[i * 3] + p[i * 3 + 1] + p[i * 3 + 2], 1, 1e-5);
    }
    mlp_free(m);
    CHECKF(right > 0.95 * N, "3-class accuracy %g", (double)right / N);

    m = build("{\"layers\":[{\"dense\":32,\"activation\":\"elu\"},{\"dense\":1}],\"loss\":\"mse\","
              "\"optimizer\":{\"adam\":{\"lr\":0.01}}}",
              NIN);
    CHECK(m);
    train_epochs(m, X, t, N, NIN, 50, 40, &last);
    CHECK(mlp_eval_loss(m, X, t, NULL, N, &l, &e) == 0);
    mlp_free(m);
    free(X);
    free(y);
    free(t);
    free(p);
    CHECKF(l < 0.02, "regression mse %g", l);
}

static const char *REF_SPEC =
    "{\"type\":\"mlp\",\"layers\":[{\"dense\":32,\"activation\":\"relu\"},{\"dropout\":0.5},"
    "{\"batchnorm\":{}},{\"dense\":16,\"activation\":\"relu\"},{\"dropout\":0.5},{\"dense\":1,\"activation\":\"sigmoid\"}],"
    "\"optimizer\":{\"adam\":{\"lr\":0.001}},\"loss\":\"binary_crossentropy\",\"metrics\":[\"accuracy\",\"auc\"],"
    "\"seed\":%d}";

static mlp *train_seeded(int seed, const float *X, const float *y, size_t n, size_t nin)
{
    char spec[512];
    snprintf(spec, sizeof spec, REF_SPEC, seed);
    mlp *m = build(spec, nin);
    double l;
    if (m)
        train_epochs(m, X, y, n, nin, 25, 2, &l);
    return m;
}

TEST(reproducible_with_seed)
{
    enum { NIN = 8, N = 500 };
    float X[N * NIN], y[N];
    rng r;
    rng_seed(&r, 7);
    circle_data(&r, X, y, N, NIN);
    mlp *a = train_seeded(42, X, y, N, NIN), *b = train_seeded(42, X, y, N, NIN), *c = train_seeded(43, X, y, N, NIN);
    CHECK(a && b && c);
    CHECK(mlp_steps(a) == 40);
    size_t np = mlp_n_params(a);
    int same = memcmp(mlp_params(a), mlp_params(b), np * sizeof(float)) == 0;
    int differ = memcmp(mlp_params(a), mlp_params(c), np * sizeof(float)) != 0;
    /* and the training changed the weights */
    mlp *fresh = build("{\"layers\":[{\"dense\":32,\"activation\":\"relu\"},{\"dropout\":0.5},{\"batchnorm\":{}},"
                       "{\"dense\":16,\"activation\":\"relu\"},{\"dropout\":0.5},{\"dense\":1,\"activation\":\"sigmoid\"}],"
                       "\"seed\":42}",
                       NIN);
    int trained = fresh && memcmp(mlp_params(a), mlp_params(fresh), np * sizeof(float)) != 0;
    int init_same = fresh && memcmp(mlp_params(b), mlp_params(a), np * sizeof(float)) == 0;
    mlp_free(a);
    mlp_free(b);
    mlp_free(c);
    mlp_free(fresh);
    CHECK(same && init_same);
    CHECK(differ);
    CHECK(trained);
}

TEST(predict_slices_and_eval)
{
    enum { NIN = 3, N = 2500 };
    float *X = malloc(N * NIN * sizeof *X), y[N], *p = malloc(N * sizeof *p);
    rng r;
    rng_seed(&r, 8);
    circle_data(&r, X, y, N, NIN);
    mlp *m = build("{\"layers\":[{\"dense\":8,\"activation\":\"tanh\"},{\"dense\":1,\"activation\":\"sigmoid\"}]}", NIN);
    CHECK(m);
    CHECK(mlp_get_loss(m) == MLP_LOSS_BCE); /* inferred from a 1-unit sigmoid output */
    double l;
    mlhep_err e;
    CHECK(mlp_train_batch(m, X, y, NULL, 10, &l, &e) == 0);
    CHECK(mlp_predict(m, X, N, p, &e) == 0); /* 2500 rows in slices */
    double maxd = 0, ll = 0;
    for (size_t i = 0; i < N; i += 97) {
        float one;
        CHECK(mlp_predict(m, X + i * NIN, 1, &one, &e) == 0);
        maxd = fmax(maxd, fabs(one - p[i]));
    }
    for (size_t i = 0; i < N; i++) {
        double q = p[i];
        ll += -(y[i] * log(q) + (1 - y[i]) * log(1 - q));
    }
    CHECK(mlp_eval_loss(m, X, y, NULL, N, &l, &e) == 0);
    mlp_free(m);
    free(X);
    free(p);
    CHECK(maxd < 1e-6);
    CHECK_NEAR(l, ll / N, 1e-5);
}

TEST(class_weight_equals_sample_weight)
{
    enum { NIN = 3, N = 40 };
    float X[N * NIN], y[N], w[N];
    rng r;
    rng_seed(&r, 9);
    circle_data(&r, X, y, N, NIN);
    for (int i = 0; i < N; i++)
        w[i] = y[i] > 0.5f ? 3.0f : 1.0f;
    mlp *a = build("{\"layers\":[{\"dense\":4,\"activation\":\"relu\"},{\"dense\":1,\"activation\":\"sigmoid\"}],"
                   "\"class_weight\":{\"0\":1,\"1\":3}}",
                   NIN);
    mlp *b = build("{\"layers\":[{\"dense\":4,\"activation\":\"relu\"},{\"dense\":1,\"activation\":\"sigmoid\"}]}", NIN);
    CHECK(a && b);
    double la, lb, lu;
    mlhep_err e;
    CHECK(mlp_compute_gradients(a, X, y, NULL, N, &la, &e) == 0);
    CHECK(mlp_compute_gradients(b, X, y, w, N, &lb, &e) == 0);
    CHECK(memcmp(mlp_grads(a), mlp_grads(b), mlp_n_trainable(a) * sizeof(float)) == 0);
    CHECK(mlp_compute_gradients(b, X, y, NULL, N, &lu, &e) == 0);
    mlp_free(a);
    mlp_free(b);
    CHECK(la == lb && la != lu);
}

TEST(bad_labels_refused)
{
    mlp *m = build("{\"layers\":[{\"dense\":2,\"activation\":\"softmax\"}],\"loss\":\"categorical_crossentropy\"}", 2);
    CHECK(m);
    float X[4] = {0, 1, 1, 0}, y[2] = {1, 2};
    mlhep_err e;
    double l;
    int rc = mlp_train_batch(m, X, y, NULL, 2, &l, &e);
    long steps = mlp_steps(m);
    mlp_free(m);
    CHECK(rc == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "row 1: class label 2 is not an integer in [0, 2)") != NULL);
    CHECK(steps == 0);
}

static const char *KERAS2 =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 5], \"dtype\": \"float32\", "
    "\"sparse\": false, \"ragged\": false, \"name\": \"input_1\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"trainable\": true, \"dtype\": \"float32\", "
    "\"units\": 16, \"activation\": \"relu\", \"use_bias\": true, \"kernel_initializer\": {\"class_name\": "
    "\"GlorotUniform\", \"config\": {\"seed\": null}}, \"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, "
    "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.001}}, \"bias_regularizer\": null, "
    "\"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": null}},"
    "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"trainable\": true, \"dtype\": \"float32\", "
    "\"rate\": 0.5, \"noise_shape\": null, \"seed\": null}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"batch_normalization\", \"axis\": [1], "
    "\"momentum\": 0.9, \"epsilon\": 0.001, \"center\": true, \"scale\": true}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 8, \"activation\": \"linear\", "
    "\"use_bias\": false, \"kernel_initializer\": {\"class_name\": \"HeNormal\", \"config\": {\"seed\": null}}}},"
    "{\"class_name\": \"Activation\", \"config\": {\"name\": \"act\", \"activation\": \"tanh\"}},"
    "{\"class_name\": \"ELU\", \"config\": {\"name\": \"elu\", \"alpha\": 0.7}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 1, \"activation\": \"sigmoid\"}}"
    "]}, \"keras_version\": \"2.4.0\", \"backend\": \"tensorflow\"}";

TEST(keras_sequential_import)
{
    mlp *m = build(KERAS2, 5);
    CHECK(m);
    mlp_layer_info L;
    int ok = mlp_n_layers(m) == 7 && mlp_n_outputs(m) == 1 && mlp_get_loss(m) == MLP_LOSS_BCE;
    mlp_layer_get(m, 0, &L);
    ok &= L.kind == MLP_LAYER_DENSE && L.in == 5 && L.out == 16 && L.act == NN_ACT_RELU && L.bias;
    mlp_layer_get(m, 1, &L);
    ok &= L.kind == MLP_LAYER_DROPOUT && L.rate == 0.5f;
    mlp_layer_get(m, 2, &L);
    ok &= L.kind == MLP_LAYER_BATCHNORM && L.gamma && L.beta && L.eps == 0.001f;
    mlp_layer_get(m, 3, &L);
    ok &= L.kind == MLP_LAYER_DENSE && !L.bias && L.out == 8;
    mlp_layer_get(m, 5, &L);
    ok &= L.kind == MLP_LAYER_ACTIVATION && L.act == NN_ACT_ELU && L.alpha == 0.7f;
    /* 5*16+16 + 16+16 + 16*8 (+ 32 running stats) */
    ok &= mlp_n_trainable(m) == 80 + 16 + 32 + 128 + 8 + 1 && mlp_n_params(m) == mlp_n_trainable(m) + 32;
    char *arch = mlp_arch_json(m);
    int has = arch && strstr(arch, "\"l2\":0.00100000005") && strstr(arch, "\"init\":\"he_normal\"") &&
              strstr(arch, "\"momentum\":0.899999976");
    if (!has)
        printf("  arch: %s\n", arch ? arch : "(null)");
    free(arch);
    mlp_free(m);
    CHECK(ok);
    CHECK(has);

    /* Keras 3 style (module keys, batch_shape), nested in our spec with optimizer/loss */
    const char *k3 =
        "{\"type\":\"mlp\",\"optimizer\":{\"class_name\":\"SGD\",\"config\":{\"learning_rate\":0.05,\"momentum\":0.5,"
        "\"nesterov\":true,\"clipnorm\":null}},\"loss\":\"mse\",\"keras\":{\"module\":\"keras\",\"class_name\":\"Sequential\","
        "\"config\":{\"name\":\"s\",\"layers\":[{\"module\":\"keras.layers\",\"class_name\":\"InputLayer\",\"config\":"
        "{\"batch_shape\":[null,3],\"dtype\":\"float32\",\"name\":\"in\"}},{\"module\":\"keras.layers\",\"class_name\":\"Dense\","
        "\"config\":{\"name\":\"d\",\"units\":4,\"activation\":\"leaky_relu\"}},{\"class_name\":\"ReLU\",\"config\":{"
        "\"max_value\":null,\"negative_slope\":0.0,\"threshold\":0.0}},{\"class_name\":\"Dense\",\"config\":{\"units\":1}}]}}}";
    m = build(k3, 3);
    CHECK(m);
    char *a3 = mlp_arch_json(m);
    int ok3 = mlp_get_loss(m) == MLP_LOSS_MSE && mlp_n_layers(m) == 3 && a3 &&
              strstr(a3, "\"sgd\":{\"lr\":0.0500000007,\"momentum\":0.5,\"nesterov\":true}");
    if (!ok3)
        printf("  arch: %s\n", a3 ? a3 : "(null)");
    free(a3);
    mlp_free(m);
    CHECK(ok3);
}

TEST(arch_json_round_trip)
{
    mlp *m = build("{\"layers\":[{\"dense\":7,\"activation\":\"leaky_relu\",\"alpha\":0.05,\"init\":\"he_normal\"},"
                   "{\"batchnorm\":{\"momentum\":0.9,\"center\":false}},{\"dropout\":0.25},{\"activation\":\"elu\"},"
                   "{\"dense\":3,\"activation\":\"softmax\",\"l2\":0.01}],\"optimizer\":{\"sgd\":{\"lr\":0.02,"
                   "\"momentum\":0.8}},\"class_weight\":[1,2,3],\"seed\":5,\"metrics\":[\"accuracy\"],\"epochs\":3}",
                   4);
    CHECK(m);
    char *a1 = mlp_arch_json(m);
    mlp *m2 = build(a1, 4);
    char *a2 = m2 ? mlp_arch_json(m2) : NULL;
    int same = a1 && a2 && strcmp(a1, a2) == 0;
    int same_init = m2 && memcmp(mlp_params(m), mlp_params(m2), mlp_n_params(m) * 4) == 0;
    if (!same)
        printf("  %s\n  %s\n", a1, a2 ? a2 : "(null)");
    free(a1);
    free(a2);
    mlp_free(m);
    mlp_free(m2);
    CHECK(same);
    CHECK(same_init);
    /* the arch carries n_inputs: building it for another width is refused */
    mlp *m3 = NULL;
    mlhep_err e;
    m = build("{\"layers\":[{\"dense\":1}]}", 4);
    CHECK(m);
    a1 = mlp_arch_json(m);
    int rc = mlp_build(a1, 5, &m3, &e);
    free(a1);
    mlp_free(m);
    CHECK(rc == MLHEP_EINVAL && strstr(e.msg, "spec is for 4 input features but 5 were given"));
}

TEST(bad_specs_rejected)
{
    static const struct {
        const char *spec, *want;
    } cases[] = {
        {"not json", "not valid JSON"},
        {"[1,2]", "must be a JSON object"},
        {"{\"type\":\"mlp\"}", "needs a \"layers\" array"},
        {"{\"type\":\"gbdt\",\"layers\":[]}", "model type \"gbdt\" is not an MLP"},
        {"{\"layers\":[]}", "model needs 1..1024 layers, has 0"},
        {"{\"layers\":[{\"dense\":0}]}", "layers[0]: units must be an integer"},
        {"{\"layers\":[{\"dense\":4,\"activation\":\"selu\"}]}", "layers[0]: activation \"selu\" is not supported"},
        {"{\"layers\":[{\"dense\":4},{\"dropout\":1.5}]}", "layers[1]: \"dropout\" = 1.5 is out of range [0, 1)"},
        {"{\"layers\":[{\"dense\":4},{\"conv\":3}]}", "layers[1]: unknown layer type \"conv\""},
        {"{\"layers\":[{\"dense\":4,\"units\":3}]}", "layers[0]: unknown key \"units\""},
        {"{\"layers\":[{\"dense\":4,\"activation\":\"leaky_relu\",\"alpha\":-1}]}", "layers[0]: \"alpha\" = -1 is out of range"},
        {"{\"layers\":[{\"dense\":1},{\"batchnorm\":{\"eps\":1}}]}", "layers[1]: unknown key \"eps\""},
        {"{\"layers\":[{\"dropout\":0.5}]}", "model has no dense layer"},
        {"{\"layers\":[{\"dense\":1}],\"optimizer\":{\"rmsprop\":{}}}", "optimizer \"rmsprop\" is not supported"},
        {"{\"layers\":[{\"dense\":1}],\"optimizer\":{\"adam\":{\"lr\":-1}}}", "optimizer adam: \"lr\" = -1 is out of range"},
        {"{\"layers\":[{\"dense\":1}],\"optimizer\":{\"adam\":{\"momentum\":0.9}}}", "optimizer adam: unknown key \"momentum\""},
        {"{\"layers\":[{\"dense\":1}],\"optimizer\":{\"adam\":{\"epsilon\":1e-87}}}",
         "optimizer adam: \"epsilon\" = 1e-87 is out of range"}, /* would be 0 as a float (fuzzer find) */
        {"{\"layers\":[{\"dense\":1}],\"loss\":\"hinge\"}", "loss \"hinge\" is not supported"},
        {"{\"layers\":[{\"dense\":3}],\"loss\":\"binary_crossentropy\"}", "binary_crossentropy needs 1 output unit"},
        {"{\"layers\":[{\"dense\":1}],\"loss\":\"categorical_crossentropy\"}", "categorical_crossentropy needs >= 2"},
        {"{\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}],\"class_weight\":[1,2,3]}", "class_weight has 3 entries"},
        {"{\"layers\":[{\"dense\":1}],\"class_weight\":[1,2]}", "class_weight makes no sense with the mse loss"},
        {"{\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}],\"class_weight\":{\"x\":1}}", "key \"x\" is not a class index"},
        {"{\"layers\":[{\"dense\":1}],\"seed\":-1}", "seed must be an integer >= 0"},
        {"{\"layers\":[{\"dense\":1,\"activation\":\"relu\",\"activation\":\"tanh\"}]}", "not valid JSON"},
        {"{\"layers\":[{\"dense\":100000},{\"dense\":1000},{\"dense\":1}]}", "more than 67108864 parameters"},
        {"{\"class_name\":\"Functional\",\"config\":{}}", "only Sequential"},
        {"{\"class_name\":\"Sequential\",\"config\":{\"layers\":[{\"class_name\":\"Dense\",\"config\":{\"units\":2}},"
         "{\"class_name\":\"Conv2D\",\"config\":{\"name\":\"conv\"}}]}}",
         "Keras layers[1] (Conv2D 'conv'): layer type \"Conv2D\" is not supported"},
        {"{\"class_name\":\"Sequential\",\"config\":{\"layers\":[{\"class_name\":\"InputLayer\",\"config\":"
         "{\"batch_input_shape\":[null,7]}},{\"class_name\":\"Dense\",\"config\":{\"units\":2}}]}}",
         "Keras layers[0] (InputLayer): model expects 7 input features but the data has 5"},
        {"{\"class_name\":\"Sequential\",\"config\":{\"layers\":[{\"class_name\":\"Dense\",\"config\":{\"units\":2,"
         "\"activation\":\"swish\"}}]}}",
         "Keras layers[0] (Dense): activation \"swish\" is not supported"},
        {"{\"class_name\":\"Sequential\",\"config\":{\"layers\":[{\"class_name\":\"Dense\",\"config\":{\"units\":2,"
         "\"kernel_regularizer\":{\"class_name\":\"L1L2\",\"config\":{\"l1\":0.1,\"l2\":0}}}}]}}",
         "L1 regularisation is not supported"},
        {"{\"class_name\":\"Sequential\",\"config\":{\"layers\":[{\"class_name\":\"Dropout\",\"config\":{}}]}}",
         "Keras layers[0] (Dropout): Dropout needs \"rate\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mlp *m = (mlp *)1;
        mlhep_err e;
        err_clear(&e);
        int rc = mlp_build(cases[i].spec, 5, &m, &e);
        if (rc == 0)
            mlp_free(m);
        CHECKF(rc < 0 && m == NULL, "case %zu accepted: %s", i, cases[i].spec);
        CHECKF(strstr(e.msg, cases[i].want) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i, e.msg, cases[i].want);
        CHECKF(strncmp(e.msg, "model spec: ", 12) == 0, "case %zu: %s", i, e.msg);
    }
}

/* The data-parallel step (mlp_set_team): without dropout the summed slice gradients are
 * the batch gradient (L2 and sample weights included) and the step lands where the
 * one-thread step does; with dropout a seed gives the same model for a team of 2 every
 * time, and the team learns as well as one thread. */
static const char *PAR_SPEC =
    "{\"type\":\"mlp\",\"layers\":[{\"dense\":24,\"activation\":\"relu\"},%s"
    "{\"dense\":12,\"activation\":\"tanh\",\"l2\":0.01},{\"dense\":1,\"activation\":\"sigmoid\"}],"
    "\"optimizer\":{\"adam\":{\"lr\":0.01}},\"loss\":\"binary_crossentropy\",\"seed\":3}";

TEST(team_step_equals_one_thread_step)
{
    enum { NIN = 7, N = 101 };
    char spec[600];
    snprintf(spec, sizeof spec, PAR_SPEC, "");
    mlp *a = build(spec, NIN), *b = build(spec, NIN);
    CHECK(a && b);
    team *t = NULL;
    mlhep_err e;
    CHECK(team_new(2, &t, &e) == 0);
    CHECK(mlp_set_team(b, t, &e) == 0);
    float X[N * NIN], y[N], w[N];
    rng r;
    rng_seed(&r, 9);
    circle_data(&r, X, y, N, NIN);
    for (size_t i = 0; i < N; i++)
        w[i] = 0.5f + rng_unitf(&r);
    double la = 0, lb = 0;
    CHECK(mlp_compute_gradients(a, X, y, w, N, &la, &e) == 0);
    CHECKF(mlp_train_batch(b, X, y, w, N, &lb, &e) == 0, "%s", e.msg);
    size_t nt = mlp_n_trainable(a);
    double worst = 0;
    for (size_t i = 0; i < nt; i++) {
        double d = fabs((double)mlp_grads(a)[i] - mlp_grads(b)[i]) / (1e-4 + fabs((double)mlp_grads(a)[i]));
        worst = d > worst ? d : worst;
    }
    CHECKF(worst < 1e-4, "gradients differ by %g (relative)", worst);
    CHECKF(fabs(la - lb) < 1e-6 * (1 + fabs(la)), "loss %.9g vs %.9g", la, lb);
    CHECK(mlp_train_batch(a, X, y, w, N, &la, &e) == 0); /* the same gradient again, then the step */
    double pd = 0;
    for (size_t i = 0; i < nt; i++)
        pd = fmax(pd, fabs((double)mlp_params(a)[i] - mlp_params(b)[i]));
    CHECKF(pd < 1e-6, "parameters after one step differ by %g", pd);
    CHECK(mlp_steps(b) == 1);
    /* a bad label is reported with the batch's row number, the model left as it was */
    float yb[N];
    memcpy(yb, y, sizeof yb);
    yb[77] = 3;
    long st = mlp_steps(b);
    CHECK(mlp_train_batch(b, X, yb, NULL, N, &lb, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "row 77") != NULL, "%s", e.msg);
    CHECK(mlp_steps(b) == st);
    mlp_free(a);
    mlp_free(b);
    team_free(t);
}

static mlp *train_team(int nthreads, const float *X, const float *y, size_t n, size_t nin)
{
    char spec[600];
    snprintf(spec, sizeof spec, PAR_SPEC, "{\"dropout\":0.3},");
    mlp *m = build(spec, nin);
    team *t = NULL;
    mlhep_err e;
    if (!m || team_new(nthreads, &t, &e) || mlp_set_team(m, t, &e)) {
        mlp_free(m);
        team_free(t);
        return NULL;
    }
    double l;
    train_epochs(m, X, y, n, nin, 100, 15, &l);
    mlp_set_team(m, NULL, &e);
    team_free(t);
    return m;
}

TEST(team_training_reproducible_and_learns)
{
    enum { NIN = 6, N = 3000 };
    float *X = malloc(N * NIN * sizeof *X), *y = malloc(N * sizeof *y), *p = malloc(N * sizeof *p);
    rng r;
    rng_seed(&r, 21);
    circle_data(&r, X, y, N, NIN);
    mlp *a = train_team(2, X, y, N, NIN), *b = train_team(2, X, y, N, NIN), *c = train_team(1, X, y, N, NIN);
    CHECK(a && b && c);
    size_t np = mlp_n_params(a);
    CHECK(memcmp(mlp_params(a), mlp_params(b), np * sizeof(float)) == 0);
    CHECK(memcmp(mlp_params(a), mlp_params(c), np * sizeof(float)) != 0); /* other dropout streams */
    mlhep_err e;
    double acc[2];
    mlp *ms[2] = {a, c};
    for (int k = 0; k < 2; k++) {
        mlp_predict(ms[k], X, N, p, &e);
        size_t right = 0;
        for (size_t i = 0; i < N; i++)
            right += (p[i] > 0.5f) == (y[i] > 0.5f);
        acc[k] = (double)right / N;
    }
    CHECKF(acc[0] > 0.9 && fabs(acc[0] - acc[1]) < 0.03, "accuracy: 2 threads %.3f, 1 thread %.3f", acc[0], acc[1]);
    mlp_free(a);
    mlp_free(b);
    mlp_free(c);
    free(X);
    free(y);
    free(p);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    RUN(gradients_relu_bce_logits_weights);
    RUN(gradients_leaky_dropout_bce);
    RUN(gradients_elu_batchnorm_cce_class_weights);
    RUN(gradients_tanh_l2_mse);
    RUN(gradients_sigmoid_activation_layer_cce_prob_dropout);
    RUN(gradients_bce_prob_batchnorm_nocenter);
    RUN(gradients_softmax_hidden_nobias_bn_noscale);
    RUN(gradients_keras_import);
    RUN(learns_circle_adam);
    RUN(learns_circle_sgd_momentum);
    RUN(learns_three_classes_and_regression);
    RUN(reproducible_with_seed);
    RUN(predict_slices_and_eval);
    RUN(class_weight_equals_sample_weight);
    RUN(bad_labels_refused);
    RUN(keras_sequential_import);
    RUN(arch_json_round_trip);
    RUN(bad_specs_rejected);
    RUN(team_step_equals_one_thread_step);
    RUN(team_training_reproducible_and_learns);
    return test_summary();
}

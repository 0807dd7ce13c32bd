/* test_onnx.c - ONNX export checked by the real ONNX checker and by a numpy reference.
 *
 * Builds and briefly trains models covering every exported op (Gemm, MatMul, Relu,
 * LeakyRelu, Elu, Tanh, Sigmoid, Softmax, BatchNormalization, dropout left out),
 * writes NAME.onnx plus inputs and mlp_predict outputs to a temp dir and runs
 * tests/unit/onnx_ref.py with /usr/bin/python3 (Debian's python3-onnx). A missing
 * python3-onnx makes the test FAIL, never skip.
 * Raw rows: an MLP and boosted trees exported with the pre-processing in the graph
 * (Cast, Sub, Mul in double, IsNaN, Where) are fed raw values with NaN for missing
 * slots and must give what the model gives on rows normalised and padded in C; the
 * trees' sums of leaf values (post_transform left out by the reference) must equal
 * gbdt_predict's margins bit for bit, NaN must follow each node's default direction
 * (trees exported without pre-processing, fed NaN), and the metadata must be there. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/rng.h"
#include "model/gbdt.h"
#include "model/mlp.h"
#include "model/onnx.h"
#include "test.h"

static const struct {
    const char *name, *spec;
    size_t nin;
} MODELS[] = {
    {"reference",
     "{\"layers\":[{\"dense\":32,\"activation\":\"relu\"},{\"dropout\":0.5},{\"dense\":16,\"activation\":\"relu\"},"
     "{\"dropout\":0.5},{\"dense\":1,\"activation\":\"sigmoid\"}],\"loss\":\"binary_crossentropy\",\"seed\":1}",
     12},
    {"bn_leaky_softmax",
     "{\"layers\":[{\"dense\":10,\"activation\":\"leaky_relu\",\"alpha\":0.2},{\"batchnorm\":{\"momentum\":0.5}},"
     "{\"dense\":8,\"activation\":\"elu\",\"alpha\":0.7,\"use_bias\":false},{\"batchnorm\":{\"center\":false,\"scale\":false}},"
     "{\"dense\":4,\"activation\":\"softmax\"}],\"loss\":\"categorical_crossentropy\",\"seed\":2}",
     7},
    {"tanh_regression",
     "{\"layers\":[{\"dense\":9,\"activation\":\"tanh\"},{\"activation\":\"sigmoid\"},{\"dense\":1}],\"loss\":\"mse\",\"seed\":3}",
     5},
};

static int write_f32(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(v, sizeof *v, n, f); /* this test runs on little-endian x86_64 */
    return fclose(f) == 0 && w == n ? 0 : -1;
}

TEST(encoding_header)
{
    mlp *m = NULL;
    mlhep_err e;
    CHECK(mlp_build(MODELS[0].spec, MODELS[0].nin, &m, &e) == 0);
    uint8_t *b;
    size_t n;
    int rc = onnx_export_mlp(m, NULL, &b, &n, &e);
    mlp_free(m);
    CHECK(rc == 0);
    /* field 1 (ir_version) varint 7 first; the producer name inside */
    int ok = n > 100 && b[0] == 0x08 && b[1] == 7 && memmem(b, n, "mlhep", 5) && memmem(b, n, "Gemm", 4) &&
             !memmem(b, n, "Dropout", 7);
    free(b);
    CHECK(ok);
}

TEST(onnx_checker_and_numpy_reference)
{
    char dir[] = "/tmp/mlhep-onnx-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char names[512] = "";
    enum { N = 50 };
    int built = 1;
    for (size_t k = 0; k < sizeof MODELS / sizeof MODELS[0] && built; k++) {
        mlp *m = NULL;
        mlhep_err e;
        size_t nin = MODELS[k].nin;
        if (mlp_build(MODELS[k].spec, nin, &m, &e)) {
            printf("  %s: %s\n", MODELS[k].name, e.msg);
            built = 0;
            break;
        }
        size_t nout = mlp_n_outputs(m);
        float *X = malloc(N * nin * sizeof *X), *y = malloc(N * sizeof *y), *out = malloc(N * nout * sizeof *out);
        rng r;
        rng_seed(&r, k + 10);
        for (size_t i = 0; i < N * nin; i++)
            X[i] = 2 * rng_normalf(&r);
        for (size_t i = 0; i < N; i++)
            y[i] = mlp_get_loss(m) == MLP_LOSS_MSE ? rng_normalf(&r) : (float)(i % (nout > 1 ? nout : 2));
        double l;
        for (int s = 0; s < 20; s++) /* moves weights, biases and batch norm statistics */
            built &= mlp_train_batch(m, X, y, NULL, N, &l, &e) == 0;
        built &= mlp_predict(m, X, N, out, &e) == 0;
        char p[600];
        snprintf(p, sizeof p, "%s/%s.onnx", dir, MODELS[k].name);
        onnx_opts oo = {.graph_name = MODELS[k].name};
        uint8_t *ob = NULL;
        size_t on = 0;
        int xrc = onnx_export_mlp(m, &oo, &ob, &on, &e);
        if (!xrc)
            xrc = onnx_write_file(p, ob, on, &e);
        free(ob);
        if (xrc) {
            printf("  export %s: %s\n", MODELS[k].name, e.msg);
            built = 0;
        }
        snprintf(p, sizeof p, "%s/%s.in", dir, MODELS[k].name);
        built &= write_f32(p, X, N * nin) == 0;
        snprintf(p, sizeof p, "%s/%s.out", dir, MODELS[k].name);
        built &= write_f32(p, out, N * nout) == 0;
        strcat(names, " ");
        strcat(names, MODELS[k].name);
        free(X);
        free(y);
        free(out);
        mlp_free(m);
    }
    CHECK(built);
    const char *top = getenv("MLHEP_TOP");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s%stests/unit/onnx_ref.py %s%s 2>&1", top ? top : "", top ? "/" : "",
             dir, names);
    FILE *pp = popen(cmd, "r");
    CHECK(pp != NULL);
    char line[1024];
    int oks = 0;
    while (fgets(line, sizeof line, pp)) {
        printf("  %s", line); /* indented: shown by tests/run.sh */
        oks += strncmp(line, "OK onnx ", 8) == 0;
    }
    int st = pclose(pp);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", dir);
    CHECKF(st == 0, "onnx_ref.py failed (exit status %d); is Debian's python3-onnx installed?", st);
    CHECK_EQ_INT(oks, (int)(sizeof MODELS / sizeof MODELS[0]));
}

/* Runs onnx_ref.py on dir for names; returns the number of "OK onnx" lines, -1 if it
 * failed. */
static int run_reference(const char *dir, const char *names)
{
    const char *top = getenv("MLHEP_TOP");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s%stests/unit/onnx_ref.py %s%s 2>&1", top ? top : "", top ? "/" : "",
             dir, names);
    FILE *pp = popen(cmd, "r");
    if (!pp)
        return -1;
    char line[1024];
    int oks = 0;
    while (fgets(line, sizeof line, pp)) {
        printf("  %s", line);
        oks += strncmp(line, "OK onnx ", 8) == 0;
    }
    int st = pclose(pp);
    return st == 0 ? oks : -1;
}

static int save(const char *dir, const char *name, const char *ext, const float *v, size_t n)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s.%s", dir, name, ext);
    return write_f32(p, v, n);
}

static int save_onnx(const char *dir, const char *name, const mlp *m, const gbdt_model *g, const onnx_opts *o)
{
    uint8_t *b = NULL;
    size_t n = 0;
    mlhep_err e;
    char p[600];
    snprintf(p, sizeof p, "%s/%s.onnx", dir, name);
    int rc = m ? onnx_export_mlp(m, o, &b, &n, &e) : onnx_export_gbdt(g, o, &b, &n, &e);
    if (!rc)
        rc = onnx_write_file(p, b, n, &e);
    if (rc)
        printf("  export %s: %s\n", name, e.msg);
    free(b);
    return rc;
}

TEST(raw_rows_and_trees)
{
    enum { NIN = 6, N = 300 };
    char dir[] = "/tmp/mlhep-onnx-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static float raw[N * NIN], rows[N * NIN], y[N], out[N], margin[N];
    double sub[NIN], scale[NIN];
    rng r;
    rng_seed(&r, 99);
    for (int j = 0; j < NIN; j++) {
        sub[j] = 100.0 * rng_normalf(&r);
        scale[j] = 1.0 / (1.0 + 50.0 * (rng_normalf(&r) * rng_normalf(&r)));
    }
    const float pad = -0.5f;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < NIN; j++) {
            float x = (float)(sub[j] + 3.0 * rng_normalf(&r) / scale[j]);
            int missing = j >= 3 && (i + j) % 4 == 0; /* jagged-like slots left empty */
            raw[i * NIN + j] = missing ? NAN : x;
            rows[i * NIN + j] = missing ? pad : (float)(((double)x - sub[j]) * scale[j]);
        }
        y[i] = rows[i * NIN] + rows[i * NIN + 4] > 0;
    }
    onnx_prep prep = {NIN, sub, scale, pad};
    onnx_meta meta[] = {{"test.key", "test value"}, {"mlhep.version", "x"}};
    onnx_opts o = {.graph_name = "raw", .doc = "doc", .input_doc = "raw values", .prep = &prep, .meta = meta,
                   .nmeta = 2};
    mlhep_err e;
    int ok = 1;
    /* an MLP on raw rows */
    mlp *m = NULL;
    CHECK(mlp_build(MODELS[1].spec, NIN, &m, &e) == 0);
    double l;
    for (int s = 0; s < 10; s++)
        ok &= mlp_train_batch(m, rows, y, NULL, N, &l, &e) == 0;
    float *pm = malloc(N * mlp_n_outputs(m) * sizeof *pm);
    ok &= pm && mlp_predict(m, rows, N, pm, &e) == 0;
    ok &= save_onnx(dir, "mlp_raw", m, NULL, &o) == 0 && save(dir, "mlp_raw", "in", raw, N * NIN) == 0 &&
          save(dir, "mlp_raw", "out", pm, N * mlp_n_outputs(m)) == 0;
    free(pm);
    mlp_free(m);
    /* boosted trees on raw rows; and on rows holding NaN (default directions) */
    gbdt_params p;
    gbdt_params_default(&p);
    p.n_trees = 25;
    p.max_depth = 4;
    static float tx[N * NIN];
    memcpy(tx, rows, sizeof tx);
    for (int i = 0; i < N; i += 3) /* NaN in training: every split learns where it goes */
        tx[i * NIN + (i % NIN)] = NAN;
    gbdt_model *g = NULL;
    CHECK(gbdt_train_dense(&p, tx, y, NULL, N, NIN, NULL, NULL, NULL, 0, &g, NULL, &e) == 0);
    ok &= gbdt_predict(g, rows, N, NIN, GBDT_PROBABILITY, out, &e) == 0 &&
          gbdt_predict(g, rows, N, NIN, GBDT_MARGIN, margin, &e) == 0;
    ok &= save_onnx(dir, "gbdt_raw", NULL, g, &o) == 0 && save(dir, "gbdt_raw", "in", raw, N * NIN) == 0 &&
          save(dir, "gbdt_raw", "out", out, N) == 0 && save(dir, "gbdt_raw", "margin", margin, N) == 0;
    ok &= gbdt_predict(g, tx, N, NIN, GBDT_PROBABILITY, out, &e) == 0 &&
          gbdt_predict(g, tx, N, NIN, GBDT_MARGIN, margin, &e) == 0;
    ok &= save_onnx(dir, "gbdt_nan", NULL, g, NULL) == 0 && save(dir, "gbdt_nan", "in", tx, N * NIN) == 0 &&
          save(dir, "gbdt_nan", "out", out, N) == 0 && save(dir, "gbdt_nan", "margin", margin, N) == 0;
    /* a width that is not the model's is refused */
    onnx_prep bad = {NIN + 1, sub, scale, pad};
    onnx_opts ob = {.prep = &bad};
    uint8_t *b = NULL;
    size_t n;
    int refused = onnx_export_gbdt(g, &ob, &b, &n, &e) == MLHEP_EINVAL && strstr(e.msg, "rows of 7 values");
    free(b);
    gbdt_model_free(g);
    CHECK(ok && refused);
    int oks = run_reference(dir, " mlp_raw gbdt_raw gbdt_nan");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", dir);
    CHECK_EQ_INT(oks, 3);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    RUN(encoding_header);
    RUN(onnx_checker_and_numpy_reference);
    RUN(raw_rows_and_trees);
    return test_summary();
}

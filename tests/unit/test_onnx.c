/* test_onnx.c - ONNX export checked by the real ONNX checker and by a numpy reference.
 *
 * Builds and briefly trains models covering every exported op (Gemm, MatMul, Relu,
 * LeakyRelu, Elu, Tanh, Sigmoid, Softmax, BatchNormalization, dropout left out),
 * writes NAME.onnx plus inputs and mlp_predict outputs to a temp dir and runs
 * tests/unit/onnx_ref.py with /usr/bin/python3 (Debian's python3-onnx). A missing
 * python3-onnx makes the test FAIL, never skip. */
#include <stdlib.h>
#include <unistd.h>

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

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    RUN(encoding_header);
    RUN(onnx_checker_and_numpy_reference);
    return test_summary();
}

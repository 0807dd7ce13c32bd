/* fuzz_mlpspec.c - fuzzes the MLP spec parser (ours and Keras Sequential JSON).
 * Input: JSON text, built for 5 input features. A spec that builds must also: give an
 * architecture JSON that rebuilds to the same architecture, train one small batch,
 * predict finite-or-not values without crashing, export to ONNX and survive a model
 * file round trip with identical predictions. Violations abort (a crash for libFuzzer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/mlp.h"
#include "model/onnx.h"

#define NIN 5
#define ROWS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mlp *m = NULL;
    mlhep_err e;
    int rc = mlp_build(s, NIN, &m, &e);
    free(s);
    if (rc) {
        if (m || e.msg[0] == '\0')
            abort(); /* failure must leave no model and say why */
        return 0;
    }
    char *arch = mlp_arch_json(m);
    mlp *m2 = NULL;
    if (!arch || mlp_build(arch, NIN, &m2, &e) != 0) {
        fprintf(stderr, "arch does not rebuild: %s\n%s\n", e.msg, arch ? arch : "(null)");
        abort();
    }
    char *arch2 = mlp_arch_json(m2);
    if (!arch2 || strcmp(arch, arch2) != 0)
        abort();
    free(arch);
    free(arch2);
    mlp_free(m2);
    if (mlp_n_params(m) <= 200000) {
        size_t nout = mlp_n_outputs(m);
        float X[ROWS * NIN], y[ROWS], *p1 = malloc(ROWS * nout * sizeof *p1), *p2 = malloc(ROWS * nout * sizeof *p2);
        for (int i = 0; i < ROWS * NIN; i++)
            X[i] = (float)(i % 7) - 3.0f;
        for (int i = 0; i < ROWS; i++)
            y[i] = mlp_get_loss(m) == MLP_LOSS_CCE ? (float)(i % nout) : (float)(i % 2);
        double l;
        if (mlp_train_batch(m, X, y, NULL, ROWS, &l, &e) != 0 && !e.msg[0])
            abort();
        if (mlp_predict(m, X, ROWS, p1, &e) != 0)
            abort();
        uint8_t *b;
        size_t n;
        if (onnx_export_mlp(m, NULL, &b, &n, &e) != 0)
            abort();
        free(b);
        if (mlp_save_buffer(m, "{}", &b, &n, &e) != 0)
            abort();
        char *feat = NULL;
        if (mlp_load_buffer(b, n, &m2, &feat, &e) != 0) {
            fprintf(stderr, "saved model does not load: %s\n", e.msg);
            abort();
        }
        free(b);
        if (mlp_predict(m2, X, ROWS, p2, &e) != 0 || memcmp(p1, p2, ROWS * nout * sizeof *p1) != 0 || !feat ||
            strcmp(feat, "{}") != 0)
            abort();
        free(feat);
        mlp_free(m2);
        free(p1);
        free(p2);
    }
    mlp_free(m);
    return 0;
}

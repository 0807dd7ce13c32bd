/* fuzz_modelfile.c - fuzzes the model file decoder and the MLP loader on top of it.
 * Each input is tried as is, and again with its length field and XXH64 checksum
 * repaired, so mutations reach the section and architecture parsers behind the
 * checksum. A file that loads must predict and re-save to a file that loads again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/mlp.h"
#include "model/modelfile.h"
#include "modelfile_repair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_load(const uint8_t *buf, size_t len)
{
    mlhep_err e;
    modelfile *mf = NULL;
    if (modelfile_decode(buf, len, &mf, &e) == 0) {
        for (size_t i = 0; i < modelfile_n_sections(mf); i++) {
            size_t n;
            if (!modelfile_get(mf, modelfile_section_name(mf, i), &n))
                abort();
        }
        modelfile_free(mf);
    } else if (mf || !e.msg[0]) {
        abort();
    }
    mlp *m = NULL;
    char *feat = NULL;
    if (mlp_load_buffer(buf, len, &m, &feat, &e) != 0) {
        if (m || feat || !e.msg[0])
            abort();
        return;
    }
    size_t nin = mlp_n_inputs(m), nout = mlp_n_outputs(m);
    if (mlp_n_params(m) <= 200000 && nin <= 4096) {
        float *X = calloc(2 * nin, sizeof *X), *p = malloc(2 * nout * sizeof *p);
        for (size_t i = 0; i < 2 * nin; i++)
            X[i] = (float)i * 0.01f;
        if (mlp_predict(m, X, 2, p, &e) != 0)
            abort();
        free(X);
        free(p);
    }
    uint8_t *b;
    size_t n;
    if (mlp_save_buffer(m, feat, &b, &n, &e) != 0)
        abort();
    mlp *m2 = NULL;
    if (mlp_load_buffer(b, n, &m2, NULL, &e) != 0) {
        fprintf(stderr, "re-saved model does not load: %s\n", e.msg);
        abort();
    }
    if (mlp_n_params(m2) != mlp_n_params(m) ||
        memcmp(mlp_params(m2), mlp_params(m), mlp_n_params(m) * sizeof(float)) != 0)
        abort();
    mlp_free(m2);
    free(b);
    free(feat);
    mlp_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    fuzz_modelfile_both(data, size, try_load);
    return 0;
}

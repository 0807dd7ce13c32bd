/* fuzz_gbdt.c - libFuzzer target for gbdt_deserialize (model bytes come from files
 * users hand us). A parsed model must re-serialise to the same bytes, predict rows of
 * ordinary, infinite and missing values without faults (one value per row, or one per
 * class for multiclass models) and export to ONNX (model/onnx.h) or refuse with a
 * message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt.h"
#include "model/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gbdt_model *m = NULL;
    mlhep_err e;
    if (gbdt_deserialize(data, size, &m, &e) != 0) {
        if (m || e.code != MLHEP_EFORMAT || !e.msg[0])
            abort(); /* failure must leave no model and say why */
        return 0;
    }
    uint8_t *b;
    size_t n;
    if (gbdt_serialize(m, &b, &n, &e) != 0)
        abort();
    if (n != size || memcmp(b, data, n) != 0)
        abort(); /* round trip must be exact */
    free(b);
    size_t nf = gbdt_model_features(m), nout = gbdt_model_outputs(m);
    if (nf <= 64 && nout <= GBDT_MAX_CLASSES) {
        float x[4 * 64], out[4 * GBDT_MAX_CLASSES];
        for (size_t i = 0; i < 4 * nf; i++)
            x[i] = i % 4 == 0 ? NAN : i % 4 == 1 ? INFINITY : i % 4 == 2 ? -1.5f : 1e30f;
        if (gbdt_predict(m, x, 4, nf, GBDT_PROBABILITY, out, &e) != 0)
            abort();
    }
    if (onnx_export_gbdt(m, NULL, &b, &n, &e) == 0)
        free(b);
    else if (!e.msg[0])
        abort();
    gbdt_model_free(m);
    return 0;
}

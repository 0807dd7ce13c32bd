/* fuzz_modelpy.c - fuzzes the model.py reader (model/modelpy.h): Python text in, an MLP
 * spec or an error out. Properties: a failure leaves no spec and says why, naming the
 * file; a success gives a {"type":"mlp","layers":[...]} object, the same one when read
 * again (no hidden state), and a spec mlp_build either builds or refuses with a
 * message (built for its n_inputs, or 5 inputs); a model that builds exports to ONNX.
 * Violations abort (a crash for libFuzzer). Seeds: fuzz/corpus/modelpy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/mlp.h"
#include "model/modelpy.h"
#include "model/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    json_t *spec = NULL;
    mlhep_err e;
    int rc = modelpy_read((const char *)data, size, "model.py", &spec, &e);
    if (rc) {
        if (spec || strncmp(e.msg, "model.py", 8) != 0 || rc != e.code)
            abort(); /* failure must leave no spec and name the file */
        return 0;
    }
    const json_t *layers = json_object_get(spec, "layers");
    const char *type = json_string_value(json_object_get(spec, "type"));
    if (!json_is_array(layers) || json_array_size(layers) == 0 || !type || strcmp(type, "mlp"))
        abort();
    json_t *again = NULL;
    if (modelpy_read((const char *)data, size, "model.py", &again, &e) != 0 || !json_equal(spec, again))
        abort();
    json_decref(again);
    char *s = json_dumps(spec, JSON_COMPACT);
    if (!s)
        abort();
    json_t *nin = json_object_get(spec, "n_inputs");
    size_t n = json_is_integer(nin) ? (size_t)json_integer_value(nin) : 5;
    mlp *m = NULL;
    if (n <= 4096 && mlp_build(s, n, &m, &e) != 0 && !e.msg[0])
        abort();
    if (m && mlp_n_params(m) <= 200000) {
        uint8_t *b = NULL;
        size_t len = 0;
        if (onnx_export_mlp(m, NULL, &b, &len, &e) != 0)
            abort();
        free(b);
    }
    mlp_free(m);
    free(s);
    json_decref(spec);
    return 0;
}

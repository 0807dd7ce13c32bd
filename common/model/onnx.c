/* onnx.c - ONNX export of an MLP with a minimal protobuf encoder (see onnx.h).
 *
 * Only the encoder side of protobuf is needed: varints, 32-bit floats, and
 * length-delimited fields. Nested messages are encoded into their own buffer first and
 * then appended with their length. Field numbers follow onnx.proto (ONNX 1.x):
 *   ModelProto:      ir_version=1 producer_name=2 producer_version=3 graph=7 opset_import=8
 *   OperatorSetId:   domain=1 version=2
 *   GraphProto:      node=1 name=2 initializer=5 input=11 output=12
 *   NodeProto:       input=1 output=2 name=3 op_type=4 attribute=5
 *   AttributeProto:  name=1 f=2 i=3 type=20 (FLOAT=1, INT=2)
 *   TensorProto:     dims=1 data_type=2 (FLOAT=1) name=8 raw_data=9 (little-endian)
 *   ValueInfoProto:  name=1 type=2; TypeProto: tensor_type=1; Tensor: elem_type=1 shape=2
 *   TensorShapeProto: dim=1; Dimension: dim_value=1 dim_param=2 */
#include "model/onnx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/wbuf.h"

/* Protocol buffers written into a base/wbuf (sticky error: checked once at the end). */

static void pb_varint(wbuf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        t[n++] = c | (v ? 0x80 : 0);
    } while (v);
    wbuf_put(b, t, n);
}

static void pb_tag(wbuf *b, unsigned field, unsigned wire) { pb_varint(b, ((uint64_t)field << 3) | wire); }
static void pb_int(wbuf *b, unsigned field, int64_t v)
{
    pb_tag(b, field, 0);
    pb_varint(b, (uint64_t)v);
}
static void pb_bytes(wbuf *b, unsigned field, const void *d, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    wbuf_put(b, d, n);
}
static void pb_str(wbuf *b, unsigned field, const char *s) { pb_bytes(b, field, s, strlen(s)); }
static void pb_float(wbuf *b, unsigned field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t t[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    pb_tag(b, field, 5);
    wbuf_put(b, t, 4);
}
/* Appends sub-message s as field `field` of b and frees s. */
static void pb_msg(wbuf *b, unsigned field, wbuf *s)
{
    if (s->err)
        b->err = 1;
    else
        pb_bytes(b, field, s->p, s->len);
    free(s->p);
    memset(s, 0, sizeof *s);
}

/* ---- ONNX pieces ---- */

static void tensor_f32(wbuf *graph, const char *name, const size_t *dims, int ndims, const float *data,
                       const float *fill)
{
    wbuf t = {0};
    size_t count = 1;
    for (int i = 0; i < ndims; i++) {
        pb_int(&t, 1, (int64_t)dims[i]);
        count *= dims[i];
    }
    pb_int(&t, 2, 1); /* FLOAT */
    pb_str(&t, 8, name);
    pb_tag(&t, 9, 2);
    pb_varint(&t, count * 4);
    for (size_t i = 0; i < count; i++) {
        float f = data ? data[i] : *fill;
        uint32_t u;
        memcpy(&u, &f, 4);
        uint8_t q[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        wbuf_put(&t, q, 4);
    }
    pb_msg(graph, 5, &t);
}

static void value_info(wbuf *graph, unsigned field, const char *name, size_t width)
{
    wbuf d0 = {0}, d1 = {0}, shape = {0}, tt = {0}, type = {0}, vi = {0};
    pb_str(&d0, 2, "N");
    pb_int(&d1, 1, (int64_t)width);
    pb_msg(&shape, 1, &d0);
    pb_msg(&shape, 1, &d1);
    pb_int(&tt, 1, 1); /* FLOAT */
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(graph, field, &vi);
}

typedef struct attr {
    const char *name;
    int is_int;
    float f;
    int64_t i;
} attr;

static void node(wbuf *graph, const char *op, const char *name, const char *const *inputs, int nin,
                 const char *output, const attr *attrs, int nattr)
{
    wbuf nd = {0};
    for (int i = 0; i < nin; i++)
        pb_str(&nd, 1, inputs[i]);
    pb_str(&nd, 2, output);
    pb_str(&nd, 3, name);
    pb_str(&nd, 4, op);
    for (int i = 0; i < nattr; i++) {
        wbuf a = {0};
        pb_str(&a, 1, attrs[i].name);
        if (attrs[i].is_int) {
            pb_int(&a, 3, attrs[i].i);
            pb_int(&a, 20, 2);
        } else {
            pb_float(&a, 2, attrs[i].f);
            pb_int(&a, 20, 1);
        }
        pb_msg(&nd, 5, &a);
    }
    pb_msg(graph, 1, &nd);
}

/* Emits the activation node for act on tensor `in`; returns 0 if act is linear (no node). */
static int act_node(wbuf *graph, nn_act act, float alpha, const char *in, const char *out, int idx)
{
    char name[64];
    const char *op = NULL;
    attr a[1];
    int na = 0;
    switch (act) {
    case NN_ACT_LINEAR: return 0;
    case NN_ACT_RELU: op = "Relu"; break;
    case NN_ACT_LEAKY_RELU:
        op = "LeakyRelu";
        a[na++] = (attr){"alpha", 0, alpha, 0};
        break;
    case NN_ACT_ELU:
        op = "Elu";
        a[na++] = (attr){"alpha", 0, alpha, 0};
        break;
    case NN_ACT_TANH: op = "Tanh"; break;
    case NN_ACT_SIGMOID: op = "Sigmoid"; break;
    case NN_ACT_SOFTMAX:
        op = "Softmax";
        a[na++] = (attr){"axis", 1, 0, 1};
        break;
    }
    snprintf(name, sizeof name, "%s_%d", op, idx);
    node(graph, op, name, &in, 1, out, a, na);
    return 1;
}

/* Plans tensor names: every node writes "t<k>", and the very last node "output". To
 * know which node is last we count the nodes first (pass 0) and emit them (pass 1). */
int onnx_export_mlp(const mlp *m, const char *graph_name, uint8_t **buf, size_t *len, mlhep_err *e)
{
    *buf = NULL;
    *len = 0;
    size_t nl = mlp_n_layers(m);
    int total_nodes = 0;
    wbuf graph = {0};
    for (int pass = 0; pass < 2; pass++) {
        int k = 0; /* nodes emitted */
        char cur[32] = "input", next[32], nm[64], w[64], bb[64], mean[64], var[64];
        for (size_t i = 0; i < nl; i++) {
            mlp_layer_info L;
            mlp_layer_get(m, i, &L);
#define NEXT_NAME() (k + 1 == total_nodes ? snprintf(next, sizeof next, "output") : snprintf(next, sizeof next, "t%d", k + 1))
            switch (L.kind) {
            case MLP_LAYER_DENSE:
                if (pass) {
                    NEXT_NAME();
                    snprintf(w, sizeof w, "layer%zu_kernel", i);
                    size_t dims[2] = {L.in, L.out};
                    tensor_f32(&graph, w, dims, 2, L.kernel, NULL);
                    if (L.bias) {
                        snprintf(bb, sizeof bb, "layer%zu_bias", i);
                        tensor_f32(&graph, bb, &L.out, 1, L.bias, NULL);
                        const char *in[3] = {cur, w, bb};
                        snprintf(nm, sizeof nm, "Gemm_%zu", i);
                        node(&graph, "Gemm", nm, in, 3, next, NULL, 0);
                    } else {
                        const char *in[2] = {cur, w};
                        snprintf(nm, sizeof nm, "MatMul_%zu", i);
                        node(&graph, "MatMul", nm, in, 2, next, NULL, 0);
                    }
                    memcpy(cur, next, sizeof cur);
                }
                k++;
                __attribute__((fallthrough)); /* to the dense layer's own activation */
            case MLP_LAYER_ACTIVATION:
                if (L.act != NN_ACT_LINEAR) {
                    if (pass) {
                        NEXT_NAME();
                        act_node(&graph, L.act, L.alpha, cur, next, (int)i);
                        memcpy(cur, next, sizeof cur);
                    }
                    k++;
                }
                break;
            case MLP_LAYER_DROPOUT: break; /* identity at inference */
            case MLP_LAYER_BATCHNORM:
                if (pass) {
                    NEXT_NAME();
                    float one = 1.0f, zero = 0.0f;
                    snprintf(w, sizeof w, "layer%zu_scale", i);
                    snprintf(bb, sizeof bb, "layer%zu_bias", i);
                    snprintf(mean, sizeof mean, "layer%zu_mean", i);
                    snprintf(var, sizeof var, "layer%zu_var", i);
                    tensor_f32(&graph, w, &L.out, 1, L.gamma, &one);
                    tensor_f32(&graph, bb, &L.out, 1, L.beta, &zero);
                    tensor_f32(&graph, mean, &L.out, 1, L.run_mean, NULL);
                    tensor_f32(&graph, var, &L.out, 1, L.run_var, NULL);
                    const char *in[5] = {cur, w, bb, mean, var};
                    attr a = {"epsilon", 0, L.eps, 0};
                    snprintf(nm, sizeof nm, "BatchNormalization_%zu", i);
                    node(&graph, "BatchNormalization", nm, in, 5, next, &a, 1);
                    memcpy(cur, next, sizeof cur);
                }
                k++;
                break;
            }
#undef NEXT_NAME
        }
        total_nodes = k;
        if (total_nodes == 0)
            return err_set(e, MLHEP_EINVAL, "ONNX export: the model has no layers");
    }
    pb_str(&graph, 2, graph_name ? graph_name : "mlhep_mlp");
    value_info(&graph, 11, "input", mlp_n_inputs(m));
    value_info(&graph, 12, "output", mlp_n_outputs(m));

    wbuf model = {0}, opset = {0};
    pb_int(&model, 1, 7); /* IR version 7 goes with opset 13 */
    pb_str(&model, 2, "mlhep");
    pb_str(&model, 3, "1");
    pb_msg(&model, 7, &graph);
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    pb_msg(&model, 8, &opset);
    if (model.err) {
        free(model.p);
        return err_set(e, MLHEP_ENOMEM, "ONNX export: out of memory");
    }
    *buf = model.p;
    *len = model.len;
    return 0;
}

int onnx_save_mlp(const mlp *m, const char *graph_name, const char *path, mlhep_err *e)
{
    uint8_t *b;
    size_t n;
    int rc = onnx_export_mlp(m, graph_name, &b, &n, e);
    if (rc)
        return rc;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return err_set(e, MLHEP_EIO, "cannot create %s: %s", path, strerror(errno));
    }
    size_t w = fwrite(b, 1, n, f);
    int bad = fclose(f) != 0 || w != n;
    free(b);
    if (bad)
        return err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

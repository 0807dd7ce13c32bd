/* onnx.c - ONNX export of an MLP or boosted trees with a minimal protobuf encoder (see
 * onnx.h).
 *
 * Only the encoder side of protobuf is needed: varints, 32-bit floats, and
 * length-delimited fields. Nested messages are encoded into their own buffer first and
 * then appended with their length; repeated numbers are written packed (proto2 parsers
 * read packed and unpacked alike). Field numbers follow onnx.proto (ONNX 1.x):
 *   ModelProto:      ir_version=1 producer_name=2 producer_version=3 doc_string=6 graph=7
 *                    opset_import=8 metadata_props=14
 *   StringStringEntryProto: key=1 value=2
 *   OperatorSetId:   domain=1 version=2
 *   GraphProto:      node=1 name=2 initializer=5 doc_string=10 input=11 output=12
 *   NodeProto:       input=1 output=2 name=3 op_type=4 attribute=5 domain=7
 *   AttributeProto:  name=1 f=2 i=3 s=4 floats=7 ints=8 strings=9 type=20
 *                    (FLOAT=1 INT=2 STRING=3 FLOATS=6 INTS=7 STRINGS=8)
 *   TensorProto:     dims=1 data_type=2 (FLOAT=1 INT64=7 DOUBLE=11) name=8 raw_data=9
 *                    (little-endian)
 *   ValueInfoProto:  name=1 type=2 doc_string=3; TypeProto: tensor_type=1;
 *                    Tensor: elem_type=1 shape=2
 *   TensorShapeProto: dim=1; Dimension: dim_value=1 dim_param=2 */
#include "model/onnx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/version.h"
#include "base/wbuf.h"

enum { T_FLOAT = 1, T_INT64 = 7, T_BOOL = 9, T_DOUBLE = 11 };
enum { A_FLOAT = 1, A_INT = 2, A_STRING = 3, A_FLOATS = 6, A_INTS = 7, A_STRINGS = 8 };

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
    pb_tag(b, field, 5);
    wbuf_lef32(b, f);
}
/* Appends sub-message s as field `field` of b and frees s. */
static void pb_msg(wbuf *b, unsigned field, wbuf *s)
{
    if (s->err)
        b->err = 1;
    else
        pb_bytes(b, field, s->p, s->len);
    wbuf_free(s);
}

/* ---- ONNX pieces ---- */

/* A float tensor from data (or count copies of *fill when data is NULL). */
static void tensor_f32(wbuf *graph, const char *name, const size_t *dims, int ndims, const float *data,
                       const float *fill)
{
    wbuf t = WBUF_INIT;
    size_t count = 1;
    for (int i = 0; i < ndims; i++) {
        pb_int(&t, 1, (int64_t)dims[i]);
        count *= dims[i];
    }
    pb_int(&t, 2, T_FLOAT);
    pb_str(&t, 8, name);
    pb_tag(&t, 9, 2);
    pb_varint(&t, count * 4);
    for (size_t i = 0; i < count; i++)
        wbuf_lef32(&t, data ? data[i] : *fill);
    pb_msg(graph, 5, &t);
}

static void tensor_f64(wbuf *graph, const char *name, size_t n, const double *data)
{
    wbuf t = WBUF_INIT;
    pb_int(&t, 1, (int64_t)n);
    pb_int(&t, 2, T_DOUBLE);
    pb_str(&t, 8, name);
    pb_tag(&t, 9, 2);
    pb_varint(&t, n * 8);
    for (size_t i = 0; i < n; i++)
        wbuf_lef64(&t, data[i]);
    pb_msg(graph, 5, &t);
}

static void tensor_i64(wbuf *graph, const char *name, int64_t v)
{
    wbuf t = WBUF_INIT;
    pb_int(&t, 1, 1);
    pb_int(&t, 2, T_INT64);
    pb_str(&t, 8, name);
    pb_tag(&t, 9, 2);
    pb_varint(&t, 8);
    for (int i = 0; i < 8; i++)
        wbuf_u8(&t, (uint8_t)((uint64_t)v >> (8 * i)));
    pb_msg(graph, 5, &t);
}

/* ValueInfoProto: elem type, shape [N] or [N, width] (width 0: rank 1). */
static void value_info(wbuf *graph, unsigned field, const char *name, int elem, size_t width, const char *doc)
{
    wbuf d0 = WBUF_INIT, d1 = WBUF_INIT, shape = WBUF_INIT, tt = WBUF_INIT, type = WBUF_INIT, vi = WBUF_INIT;
    pb_str(&d0, 2, "N");
    pb_msg(&shape, 1, &d0);
    if (width) {
        pb_int(&d1, 1, (int64_t)width);
        pb_msg(&shape, 1, &d1);
    }
    pb_int(&tt, 1, elem);
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    if (doc && *doc)
        pb_str(&vi, 3, doc);
    pb_msg(graph, field, &vi);
}

typedef struct attr {
    const char *name;
    int type;
    float f;
    int64_t i;
    const char *s;
    /* lists */
    const float *fv;
    const int64_t *iv;
    const char *const *sv;
    size_t n;
} attr;

static void node(wbuf *graph, const char *domain, const char *op, const char *name, const char *const *inputs,
                 int nin, const char *const *outputs, int nout, const attr *attrs, int nattr)
{
    wbuf nd = WBUF_INIT;
    for (int i = 0; i < nin; i++)
        pb_str(&nd, 1, inputs[i]);
    for (int i = 0; i < nout; i++)
        pb_str(&nd, 2, outputs[i]);
    pb_str(&nd, 3, name);
    pb_str(&nd, 4, op);
    for (int i = 0; i < nattr; i++) {
        const attr *x = &attrs[i];
        wbuf a = WBUF_INIT, pk = WBUF_INIT;
        pb_str(&a, 1, x->name);
        switch (x->type) {
        case A_FLOAT: pb_float(&a, 2, x->f); break;
        case A_INT: pb_int(&a, 3, x->i); break;
        case A_STRING: pb_str(&a, 4, x->s); break;
        case A_FLOATS:
            for (size_t k = 0; k < x->n; k++)
                wbuf_lef32(&pk, x->fv[k]);
            if (x->n)
                pb_bytes(&a, 7, pk.p, pk.len);
            break;
        case A_INTS:
            for (size_t k = 0; k < x->n; k++)
                pb_varint(&pk, (uint64_t)x->iv[k]);
            if (x->n)
                pb_bytes(&a, 8, pk.p, pk.len);
            break;
        case A_STRINGS:
            for (size_t k = 0; k < x->n; k++)
                pb_str(&a, 9, x->sv[k]);
            break;
        }
        if (pk.err)
            a.err = 1;
        wbuf_free(&pk);
        pb_int(&a, 20, x->type);
        pb_msg(&nd, 5, &a);
    }
    if (domain)
        pb_str(&nd, 7, domain);
    pb_msg(graph, 1, &nd);
}

static void node1(wbuf *graph, const char *op, const char *name, const char *const *inputs, int nin,
                  const char *output, const attr *attrs, int nattr)
{
    node(graph, NULL, op, name, inputs, nin, &output, 1, attrs, nattr);
}

/* The raw-row pre-processing; returns the name of the tensor holding the model's rows. */
static const char *prep_nodes(wbuf *graph, const onnx_prep *p)
{
    if (!p)
        return "input";
    float pad = p->pad;
    tensor_f64(graph, "prep_sub", p->width, p->sub);
    tensor_f64(graph, "prep_scale", p->width, p->scale);
    tensor_f32(graph, "prep_pad", NULL, 0, &pad, NULL); /* a scalar: broadcast by Where */
    attr to64 = {.name = "to", .type = A_INT, .i = T_DOUBLE}, to32 = {.name = "to", .type = A_INT, .i = T_FLOAT};
    const char *in0[] = {"input"}, *in1[] = {"prep_raw64", "prep_sub"}, *in2[] = {"prep_centred", "prep_scale"},
               *in3[] = {"prep_scaled64"}, *in4[] = {"input"}, *in5[] = {"prep_missing", "prep_pad", "prep_scaled"};
    node1(graph, "Cast", "prep_cast_double", in0, 1, "prep_raw64", &to64, 1);
    node1(graph, "Sub", "prep_sub", in1, 2, "prep_centred", NULL, 0);
    node1(graph, "Mul", "prep_scale", in2, 2, "prep_scaled64", NULL, 0);
    node1(graph, "Cast", "prep_cast_float", in3, 1, "prep_scaled", &to32, 1);
    node1(graph, "IsNaN", "prep_isnan", in4, 1, "prep_missing", NULL, 0);
    node1(graph, "Where", "prep_pad", in5, 3, "rows", NULL, 0);
    return "rows";
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
        a[na++] = (attr){.name = "alpha", .type = A_FLOAT, .f = alpha};
        break;
    case NN_ACT_ELU:
        op = "Elu";
        a[na++] = (attr){.name = "alpha", .type = A_FLOAT, .f = alpha};
        break;
    case NN_ACT_TANH: op = "Tanh"; break;
    case NN_ACT_SIGMOID: op = "Sigmoid"; break;
    case NN_ACT_SOFTMAX:
        op = "Softmax";
        a[na++] = (attr){.name = "axis", .type = A_INT, .i = 1};
        break;
    }
    snprintf(name, sizeof name, "%s_%d", op, idx);
    node1(graph, op, name, &in, 1, out, a, na);
    return 1;
}

/* The ModelProto around a finished graph (taken); opsets: default 13, and ai.onnx.ml 1
 * when ml is set. */
static int finish(wbuf *graph, const onnx_opts *o, int ml, uint8_t **buf, size_t *len, mlhep_err *e)
{
    wbuf model = WBUF_INIT, opset = WBUF_INIT, mlset = WBUF_INIT;
    pb_int(&model, 1, 7); /* IR version 7 goes with opset 13 */
    pb_str(&model, 2, "mlhep");
    pb_str(&model, 3, MLHEP_VERSION);
    pb_msg(&model, 7, graph);
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    pb_msg(&model, 8, &opset);
    if (ml) {
        pb_str(&mlset, 1, "ai.onnx.ml");
        pb_int(&mlset, 2, 1);
        pb_msg(&model, 8, &mlset);
    }
    for (size_t i = 0; o && i < o->nmeta; i++) {
        wbuf kv = WBUF_INIT;
        pb_str(&kv, 1, o->meta[i].key);
        pb_str(&kv, 2, o->meta[i].value);
        pb_msg(&model, 14, &kv);
    }
    if (model.err) {
        wbuf_free(&model);
        return err_set(e, MLHEP_ENOMEM, "ONNX export: out of memory");
    }
    *buf = model.p;
    *len = model.len;
    return 0;
}

static void graph_header(wbuf *graph, const onnx_opts *o, const char *def_name)
{
    pb_str(graph, 2, o && o->graph_name ? o->graph_name : def_name);
    if (o && o->doc)
        pb_str(graph, 10, o->doc);
}

/* Plans tensor names: every node writes "t<k>", and the very last node "output". To
 * know which node is last we count the nodes first (pass 0) and emit them (pass 1). */
int onnx_export_mlp(const mlp *m, const onnx_opts *o, uint8_t **buf, size_t *len, mlhep_err *e)
{
    *buf = NULL;
    *len = 0;
    const onnx_prep *prep = o ? o->prep : NULL;
    if (prep && prep->width != mlp_n_inputs(m))
        return err_set(e, MLHEP_EINVAL, "ONNX export: rows of %zu values but the network takes %zu", prep->width,
                       mlp_n_inputs(m));
    size_t nl = mlp_n_layers(m);
    int total_nodes = 0;
    wbuf graph = WBUF_INIT;
    for (int pass = 0; pass < 2; pass++) {
        int k = 0; /* nodes emitted */
        char cur[32] = "input", next[32], nm[64], w[64], bb[64], mean[64], var[64];
        if (pass)
            snprintf(cur, sizeof cur, "%s", prep_nodes(&graph, prep));
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
                        node1(&graph, "Gemm", nm, in, 3, next, NULL, 0);
                    } else {
                        const char *in[2] = {cur, w};
                        snprintf(nm, sizeof nm, "MatMul_%zu", i);
                        node1(&graph, "MatMul", nm, in, 2, next, NULL, 0);
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
                    attr a = {.name = "epsilon", .type = A_FLOAT, .f = L.eps};
                    snprintf(nm, sizeof nm, "BatchNormalization_%zu", i);
                    node1(&graph, "BatchNormalization", nm, in, 5, next, &a, 1);
                    memcpy(cur, next, sizeof cur);
                }
                k++;
                break;
            }
#undef NEXT_NAME
        }
        total_nodes = k;
        if (total_nodes == 0) {
            wbuf_free(&graph);
            return err_set(e, MLHEP_EINVAL, "ONNX export: the model has no layers");
        }
    }
    graph_header(&graph, o, "mlhep_mlp");
    value_info(&graph, 11, "input", T_FLOAT, mlp_n_inputs(m), o ? o->input_doc : NULL);
    value_info(&graph, 12, "output", T_FLOAT, mlp_n_outputs(m), NULL);
    return finish(&graph, o, 0, buf, len, e);
}

int onnx_export_gbdt(const gbdt_model *g, const onnx_opts *o, uint8_t **buf, size_t *len, mlhep_err *e)
{
    *buf = NULL;
    *len = 0;
    const onnx_prep *prep = o ? o->prep : NULL;
    size_t nf = gbdt_model_features(g);
    if (prep && prep->width != nf)
        return err_set(e, MLHEP_EINVAL, "ONNX export: rows of %zu values but the trees take %zu", prep->width, nf);
    int obj = gbdt_model_objective(g);
    if (obj != GBDT_OBJ_BINARY && obj != GBDT_OBJ_MULTICLASS && obj != GBDT_OBJ_REGRESSION)
        return err_set(e, MLHEP_EUNSUPPORTED, "ONNX export: unknown boosted-trees objective %d", obj);
    /* multiclass: tree t adds to class t % K (gbdt.h); the others have one output */
    size_t K = obj == GBDT_OBJ_MULTICLASS ? gbdt_model_outputs(g) : 1;
    if (K < 1 || K > 100000)
        return err_set(e, MLHEP_EINVAL, "ONNX export: %zu classes", K);
    int nt = gbdt_model_trees(g);
    size_t nn = 1, nleaf = K; /* the base-margin tree: one leaf, one weight per output */
    for (int t = 0; t < nt; t++) {
        size_t s = gbdt_tree_size(g, t);
        nn += s;
        for (size_t i = 0; i < s; i++) {
            gbdt_node_info ni;
            gbdt_node_get(g, t, i, &ni);
            nleaf += ni.feature < 0;
        }
    }
    int64_t *tree = malloc(nn * sizeof *tree), *id = malloc(nn * sizeof *id), *feat = malloc(nn * sizeof *feat),
            *tn = malloc(nn * sizeof *tn), *fn = malloc(nn * sizeof *fn), *miss = malloc(nn * sizeof *miss),
            *ltree = malloc(nleaf * sizeof *ltree), *lnode = malloc(nleaf * sizeof *lnode),
            *lclass = calloc(nleaf, sizeof *lclass), *labels = malloc((K > 1 ? K : 2) * sizeof *labels);
    float *thr = malloc(nn * sizeof *thr), *lw = malloc(nleaf * sizeof *lw);
    const char **mode = malloc(nn * sizeof *mode);
    int rc = 0;
    if (!tree || !id || !feat || !tn || !fn || !miss || !ltree || !lnode || !lclass || !labels || !thr || !lw ||
        !mode) {
        rc = err_set(e, MLHEP_ENOMEM, "ONNX export: out of memory for %zu tree nodes", nn);
        goto out;
    }
    /* tree 0: the base margin alone (for every output), so each sum starts where
     * gbdt_predict's does */
    size_t k = 0, l = 0;
    tree[k] = 0, id[k] = 0, feat[k] = 0, tn[k] = 0, fn[k] = 0, miss[k] = 0, thr[k] = 0, mode[k] = "LEAF";
    k++;
    for (size_t c = 0; c < K; c++, l++)
        ltree[l] = 0, lnode[l] = 0, lclass[l] = (int64_t)c, lw[l] = gbdt_model_base_margin(g);
    for (int t = 0; t < nt; t++) {
        size_t s = gbdt_tree_size(g, t);
        for (size_t i = 0; i < s; i++, k++) {
            gbdt_node_info ni;
            gbdt_node_get(g, t, i, &ni);
            tree[k] = t + 1;
            id[k] = (int64_t)i;
            if (ni.feature < 0) {
                feat[k] = 0, tn[k] = 0, fn[k] = 0, miss[k] = 0, thr[k] = 0, mode[k] = "LEAF";
                ltree[l] = t + 1, lnode[l] = (int64_t)i, lclass[l] = (int64_t)((size_t)t % K), lw[l] = ni.value;
                l++;
            } else {
                /* x < threshold goes left: the true branch of BRANCH_LT */
                feat[k] = ni.feature, tn[k] = ni.left, fn[k] = ni.right, miss[k] = ni.default_left;
                thr[k] = ni.threshold, mode[k] = "BRANCH_LT";
            }
        }
    }
    for (size_t c = 0; c < (K > 1 ? K : 2); c++)
        labels[c] = (int64_t)c;
    int reg = obj == GBDT_OBJ_REGRESSION;
    attr a[] = {
        {.name = "nodes_treeids", .type = A_INTS, .iv = tree, .n = nn},
        {.name = "nodes_nodeids", .type = A_INTS, .iv = id, .n = nn},
        {.name = "nodes_featureids", .type = A_INTS, .iv = feat, .n = nn},
        {.name = "nodes_modes", .type = A_STRINGS, .sv = mode, .n = nn},
        {.name = "nodes_values", .type = A_FLOATS, .fv = thr, .n = nn},
        {.name = "nodes_truenodeids", .type = A_INTS, .iv = tn, .n = nn},
        {.name = "nodes_falsenodeids", .type = A_INTS, .iv = fn, .n = nn},
        {.name = "nodes_missing_value_tracks_true", .type = A_INTS, .iv = miss, .n = nn},
        {.name = reg ? "target_treeids" : "class_treeids", .type = A_INTS, .iv = ltree, .n = nleaf},
        {.name = reg ? "target_nodeids" : "class_nodeids", .type = A_INTS, .iv = lnode, .n = nleaf},
        {.name = reg ? "target_ids" : "class_ids", .type = A_INTS, .iv = lclass, .n = nleaf},
        {.name = reg ? "target_weights" : "class_weights", .type = A_FLOATS, .fv = lw, .n = nleaf},
        {.name = "post_transform", .type = A_STRING,
         .s = reg ? "NONE" : obj == GBDT_OBJ_MULTICLASS ? "SOFTMAX" : "LOGISTIC"},
        {.name = reg ? "n_targets" : "classlabels_int64s", .type = reg ? A_INT : A_INTS, .i = 1, .iv = labels,
         .n = K > 1 ? K : 2},
        {.name = "aggregate_function", .type = A_STRING, .s = "SUM"},
    };
    int na = (int)(sizeof a / sizeof a[0]) - (reg ? 0 : 1); /* aggregate_function: the regressor's */
    wbuf graph = WBUF_INIT;
    const char *rows = prep_nodes(&graph, prep);
    if (reg) {
        /* "output": the prediction, [N, 1] as the MLP's */
        const char *outs[1] = {"output"};
        node(&graph, "ai.onnx.ml", "TreeEnsembleRegressor", "trees", &rows, 1, outs, 1, a, na);
    } else {
        const char *outs[2] = {"label", "probabilities"};
        node(&graph, "ai.onnx.ml", "TreeEnsembleClassifier", "trees", &rows, 1, outs, 2, a, na);
    }
    if (obj == GBDT_OBJ_BINARY) {
        /* "output": the probability of class 1, [N, 1] as the MLP's */
        tensor_i64(&graph, "slice_start", 1);
        tensor_i64(&graph, "slice_end", 2);
        tensor_i64(&graph, "slice_axis", 1);
        const char *sin[] = {"probabilities", "slice_start", "slice_end", "slice_axis"};
        node1(&graph, "Slice", "signal_probability", sin, 4, "output", NULL, 0);
    } else if (obj == GBDT_OBJ_MULTICLASS) {
        /* "output": every class's probability, [N, K] as the softmax MLP's */
        const char *pin[] = {"probabilities"};
        node1(&graph, "Identity", "class_probabilities", pin, 1, "output", NULL, 0);
    }
    graph_header(&graph, o, "mlhep_gbdt");
    value_info(&graph, 11, "input", T_FLOAT, nf, o ? o->input_doc : NULL);
    value_info(&graph, 12, "output", T_FLOAT, K,
               reg ? "the regression value" : K > 1 ? "probability of each class" : "probability of class 1 (signal)");
    if (!reg) {
        value_info(&graph, 12, "label", T_INT64, 0, NULL);
        value_info(&graph, 12, "probabilities", T_FLOAT, K > 1 ? K : 2, NULL);
    }
    rc = finish(&graph, o, 1, buf, len, e);
out:
    free(tree), free(id), free(feat), free(tn), free(fn), free(miss), free(ltree), free(lnode), free(lclass);
    free(labels), free(thr), free(lw), free(mode);
    return rc;
}

int onnx_write_file(const char *path, const uint8_t *b, size_t n, mlhep_err *e)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot create %s: %s", tmp, strerror(errno));
    size_t w = fwrite(b, 1, n, f);
    int bad = fclose(f) != 0 || w != n;
    if (bad || rename(tmp, path) != 0) {
        int er = errno;
        unlink(tmp);
        return err_set(e, MLHEP_EIO, "cannot write %s: %s", path, strerror(er));
    }
    return 0;
}

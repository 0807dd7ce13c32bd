/* mlp.c - multi-layer perceptron: spec parsing (ours and Keras Sequential JSON),
 * parameter layout, training step, inference, model files (see mlp.h). */
#include "model/mlp.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "base/wbuf.h"
#include "model/modelfile.h"

#define NO_OFF ((size_t)-1)

typedef struct layer {
    mlp_layer_kind kind;
    size_t in, out;
    /* dense / activation */
    nn_act act;
    float alpha;
    int use_bias;
    float l2;     /* dense: L2 factor on the kernel */
    nn_init init; /* dense */
    /* dropout */
    float rate;
    /* batchnorm */
    float bn_eps, bn_momentum;
    int bn_center, bn_scale;
    /* offsets into params (NO_OFF when absent) */
    size_t w_off, b_off; /* dense kernel, bias; batchnorm gamma, beta */
    size_t rm_off, rv_off;
} layer;

/* A workspace: the scratch of one forward/backward pass. The model has one (ws[0], used
 * by predict and single-threaded training); with a team (mlp_set_team) each thread of
 * the team has its own, and its own gradient array (ws[0]'s is the model's). */
typedef struct ws {
    size_t cap;      /* rows the scratch holds */
    float *scratch;  /* one allocation: the per-layer arrays, d0, d1, wbuf */
    float **y, **mask, **xhat, **inv_std; /* per layer (inside ptrs) */
    void *ptrs;      /* the four per-layer pointer tables and outp, one allocation */
    const float **outp; /* per layer: where its output of the current pass lives */
    float *d0, *d1, *wbuf;
    float *grads;    /* ws[0]: m->grads (not owned); others own theirs */
    rng rng;         /* dropout stream of a team thread (ws[0] draws from m->rng) */
    /* a team thread's result for one step */
    size_t r0, r1;   /* its rows of the batch */
    double loss, l2;
    int rc;
    mlhep_err e;
} ws;

enum { OPT_ADAM = 0, OPT_SGD = 1 };

struct mlp {
    size_t n_in, n_out, nl;
    layer *L;
    float *params, *grads, *opt1, *opt2;
    size_t n_params, n_train;
    mlp_loss loss;
    int opt;
    nn_adam adam;
    nn_sgd sgd;
    long steps;
    float l2;
    nn_init init;
    uint64_t seed;
    float *class_weight;
    size_t n_cw;
    json_t *metrics;
    rng rng;
    int fuse_last;
    int has_bn_train; /* a batch norm layer: batch statistics span the whole batch */
    ws *ws;           /* nws workspaces, ws[0] always */
    int nws;
    team *team;       /* not owned (mlp_set_team) */
};

/* ------------------------------------------------------------------ JSON helpers */

static int get_num(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return 0;
    }
    return -1;
}

/* Reads optional number `key` from obj into *out (unchanged when absent or null).
 * Checks lo <= v <= hi (or lo < v when lo_open). */
static int opt_num(const json_t *obj, const char *key, float *out, double lo, int lo_open,
                   double hi, int hi_open, const char *ctx, mlhep_err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    double d;
    if (get_num(v, &d))
        return err_set(e, MLHEP_EINVAL, "%s: \"%s\" must be a number", ctx, key);
    /* judged as the float it will be stored as (1e-87 would become 0) */
    double f = (double)(float)d;
    if (!isfinite(f) || (lo_open ? f <= lo : f < lo) || (hi_open ? f >= hi : f > hi))
        return err_set(e, MLHEP_EINVAL, "%s: \"%s\" = %g is out of range %c%g, %g%c", ctx, key, d,
                       lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
    *out = (float)d;
    return 0;
}

static int opt_bool(const json_t *obj, const char *key, int *out, const char *ctx, mlhep_err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return err_set(e, MLHEP_EINVAL, "%s: \"%s\" must be true or false", ctx, key);
    *out = json_is_true(v);
    return 0;
}

/* Error if obj has a key not in the NULL-terminated list. */
static int only_keys(const json_t *obj, const char *const *allowed, const char *ctx, mlhep_err *e)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(k, *a) == 0;
        if (!ok) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 3);
                if (a[1])
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return err_set(e, MLHEP_EINVAL, "%s: unknown key \"%.64s\" (allowed: %s)", ctx, k, list);
        }
    }
    return 0;
}

static const char SUPPORTED_ACTS[] = "linear, relu, leaky_relu, elu, tanh, sigmoid, softmax";

static int parse_act(const json_t *v, nn_act *act, const char *ctx, mlhep_err *e)
{
    if (!v || json_is_null(v)) {
        *act = NN_ACT_LINEAR;
        return 0;
    }
    if (!json_is_string(v))
        return err_set(e, MLHEP_EINVAL, "%s: activation must be a string (one of %s)", ctx,
                       SUPPORTED_ACTS);
    if (nn_act_parse(json_string_value(v), act))
        return err_set(e, MLHEP_EUNSUPPORTED, "%s: activation \"%.64s\" is not supported (use one of %s)",
                       ctx, json_string_value(v), SUPPORTED_ACTS);
    return 0;
}

static int parse_units(const json_t *v, size_t *out, const char *ctx, mlhep_err *e)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MLP_MAX_UNITS)
        return err_set(e, MLHEP_EINVAL, "%s: units must be an integer in [1, %d]", ctx, MLP_MAX_UNITS);
    *out = (size_t)json_integer_value(v);
    return 0;
}

static void layer_defaults(layer *L, mlp_layer_kind kind)
{
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->act = NN_ACT_LINEAR;
    L->use_bias = 1;
    L->l2 = -1; /* unset: the model's global l2 */
    L->init = (nn_init)-1;
    L->bn_eps = 1e-3f;
    L->bn_momentum = 0.99f;
    L->bn_center = L->bn_scale = 1;
    L->w_off = L->b_off = L->rm_off = L->rv_off = NO_OFF;
}

static int check_alpha(layer *L, int alpha_given, const char *ctx, mlhep_err *e)
{
    if (!alpha_given)
        L->alpha = nn_act_default_alpha(L->act);
    if ((L->act == NN_ACT_LEAKY_RELU || L->act == NN_ACT_ELU) && !(L->alpha > 0))
        return err_set(e, MLHEP_EINVAL, "%s: alpha of %s must be > 0", ctx, nn_act_name(L->act));
    if (L->act != NN_ACT_LEAKY_RELU && L->act != NN_ACT_ELU)
        L->alpha = 0;
    return 0;
}

/* ------------------------------------------------------------------ our spec */

static int parse_our_layer(const json_t *jl, layer *L, const char *ctx, mlhep_err *e)
{
    int rc;
    if (!json_is_object(jl))
        return err_set(e, MLHEP_EINVAL, "%s: a layer must be a JSON object", ctx);
    const json_t *v;
    if ((v = json_object_get(jl, "dense"))) {
        static const char *const keys[] = {"dense", "activation", "alpha", "use_bias", "l2", "init", NULL};
        layer_defaults(L, MLP_LAYER_DENSE);
        if ((rc = only_keys(jl, keys, ctx, e)) || (rc = parse_units(v, &L->out, ctx, e)) ||
            (rc = parse_act(json_object_get(jl, "activation"), &L->act, ctx, e)) ||
            (rc = opt_num(jl, "alpha", &L->alpha, 0, 1, 1e6, 0, ctx, e)) ||
            (rc = opt_bool(jl, "use_bias", &L->use_bias, ctx, e)) ||
            (rc = opt_num(jl, "l2", &L->l2, 0, 0, 1e6, 0, ctx, e)) ||
            (rc = check_alpha(L, json_object_get(jl, "alpha") != NULL, ctx, e)))
            return rc;
        const json_t *in = json_object_get(jl, "init");
        if (in && !json_is_null(in)) {
            nn_init ii;
            if (!json_is_string(in) || nn_init_parse(json_string_value(in), &ii))
                return err_set(e, MLHEP_EUNSUPPORTED,
                               "%s: init must be one of glorot_uniform, glorot_normal, he_uniform, he_normal",
                               ctx);
            L->init = ii;
        }
        return 0;
    }
    if ((v = json_object_get(jl, "dropout"))) {
        static const char *const keys[] = {"dropout", NULL};
        layer_defaults(L, MLP_LAYER_DROPOUT);
        if ((rc = only_keys(jl, keys, ctx, e)) ||
            (rc = opt_num(jl, "dropout", &L->rate, 0, 0, 1, 1, ctx, e)))
            return rc;
        return 0;
    }
    if ((v = json_object_get(jl, "batchnorm"))) {
        static const char *const keys[] = {"batchnorm", NULL};
        static const char *const bkeys[] = {"momentum", "epsilon", "center", "scale", NULL};
        layer_defaults(L, MLP_LAYER_BATCHNORM);
        if ((rc = only_keys(jl, keys, ctx, e)))
            return rc;
        if (json_is_true(v))
            return 0;
        if (!json_is_object(v))
            return err_set(e, MLHEP_EINVAL, "%s: \"batchnorm\" must be an object ({} for defaults)", ctx);
        if ((rc = only_keys(v, bkeys, ctx, e)) ||
            (rc = opt_num(v, "momentum", &L->bn_momentum, 0, 0, 1, 1, ctx, e)) ||
            (rc = opt_num(v, "epsilon", &L->bn_eps, 0, 1, 1e3, 0, ctx, e)) ||
            (rc = opt_bool(v, "center", &L->bn_center, ctx, e)) ||
            (rc = opt_bool(v, "scale", &L->bn_scale, ctx, e)))
            return rc;
        return 0;
    }
    if ((v = json_object_get(jl, "activation"))) {
        static const char *const keys[] = {"activation", "alpha", NULL};
        layer_defaults(L, MLP_LAYER_ACTIVATION);
        if ((rc = only_keys(jl, keys, ctx, e)) || (rc = parse_act(v, &L->act, ctx, e)) ||
            (rc = opt_num(jl, "alpha", &L->alpha, 0, 1, 1e6, 0, ctx, e)) ||
            (rc = check_alpha(L, json_object_get(jl, "alpha") != NULL, ctx, e)))
            return rc;
        return 0;
    }
    const char *k0 = "";
    const char *k;
    const json_t *vv;
    json_object_foreach((json_t *)jl, k, vv)
    {
        (void)vv;
        k0 = k;
        break;
    }
    return err_set(e, MLHEP_EUNSUPPORTED,
                   "%s: unknown layer type \"%.64s\" (expected a \"dense\", \"dropout\", \"batchnorm\" or \"activation\" key)",
                   ctx, k0);
}

/* ------------------------------------------------------------------ Keras Sequential */

static int keras_shape_check(const json_t *cfg, size_t n_inputs, const char *ctx, mlhep_err *e)
{
    static const char *const names[] = {"batch_input_shape", "batch_shape", NULL};
    for (const char *const *nm = names; *nm; nm++) {
        const json_t *s = json_object_get(cfg, *nm);
        if (!s || json_is_null(s))
            continue;
        if (!json_is_array(s) || json_array_size(s) != 2 || !json_is_integer(json_array_get(s, 1)))
            return err_set(e, MLHEP_EUNSUPPORTED,
                           "%s: input shape must be [null, n_features] (only flat feature rows are supported)",
                           ctx);
        long long d = json_integer_value(json_array_get(s, 1));
        if (d != (long long)n_inputs)
            return err_set(e, MLHEP_EINVAL,
                           "%s: model expects %lld input features but the data has %zu", ctx, d, n_inputs);
    }
    return 0;
}

static int keras_init(const json_t *ki, nn_init *out)
{
    const char *cn = NULL;
    if (json_is_string(ki))
        cn = json_string_value(ki);
    else if (json_is_object(ki) && json_is_string(json_object_get(ki, "class_name")))
        cn = json_string_value(json_object_get(ki, "class_name"));
    if (!cn)
        return -1;
    static const struct {
        const char *n;
        nn_init i;
    } map[] = {{"GlorotUniform", NN_INIT_GLOROT_UNIFORM}, {"glorot_uniform", NN_INIT_GLOROT_UNIFORM},
               {"GlorotNormal", NN_INIT_GLOROT_NORMAL},   {"glorot_normal", NN_INIT_GLOROT_NORMAL},
               {"HeUniform", NN_INIT_HE_UNIFORM},         {"he_uniform", NN_INIT_HE_UNIFORM},
               {"HeNormal", NN_INIT_HE_NORMAL},           {"he_normal", NN_INIT_HE_NORMAL}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(cn, map[i].n) == 0) {
            *out = map[i].i;
            return 0;
        }
    return -1;
}

static int keras_not_null(const json_t *cfg, const char *key, const char *ctx, mlhep_err *e)
{
    const json_t *v = json_object_get(cfg, key);
    if (v && !json_is_null(v))
        return err_set(e, MLHEP_EUNSUPPORTED, "%s: \"%s\" is not supported (must be null)", ctx, key);
    return 0;
}

/* Parses one Keras layer. *skip = 1 for layers that do nothing here (InputLayer, Flatten). */
static int parse_keras_layer(const json_t *jl, size_t n_inputs, layer *L, int *skip,
                             const char *ctx0, mlhep_err *e)
{
    int rc;
    *skip = 0;
    const json_t *cnv = json_object_get(jl, "class_name");
    const json_t *cfg = json_object_get(jl, "config");
    if (!json_is_object(jl) || !json_is_string(cnv))
        return err_set(e, MLHEP_EINVAL, "%s: a Keras layer needs a \"class_name\" string", ctx0);
    if (cfg && !json_is_object(cfg))
        return err_set(e, MLHEP_EINVAL, "%s: \"config\" must be an object", ctx0);
    json_t *empty = NULL;
    if (!cfg)
        cfg = empty = json_object();
    const char *cn = json_string_value(cnv);
    const json_t *nm = json_object_get(cfg, "name");
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s (%.40s%s%.40s%s)", ctx0, cn, json_is_string(nm) ? " '" : "",
             json_is_string(nm) ? json_string_value(nm) : "", json_is_string(nm) ? "'" : "");
    rc = keras_shape_check(cfg, n_inputs, ctx, e);
    if (rc)
        goto out;
    if (strcmp(cn, "InputLayer") == 0 || strcmp(cn, "Flatten") == 0) {
        *skip = 1;
    } else if (strcmp(cn, "Dense") == 0) {
        layer_defaults(L, MLP_LAYER_DENSE);
        if ((rc = parse_units(json_object_get(cfg, "units"), &L->out, ctx, e)) ||
            (rc = parse_act(json_object_get(cfg, "activation"), &L->act, ctx, e)) ||
            (rc = opt_bool(cfg, "use_bias", &L->use_bias, ctx, e)) ||
            (rc = check_alpha(L, 0, ctx, e)) ||
            (rc = keras_not_null(cfg, "bias_regularizer", ctx, e)) ||
            (rc = keras_not_null(cfg, "activity_regularizer", ctx, e)) ||
            (rc = keras_not_null(cfg, "kernel_constraint", ctx, e)) ||
            (rc = keras_not_null(cfg, "bias_constraint", ctx, e)))
            goto out;
        const json_t *ki = json_object_get(cfg, "kernel_initializer");
        nn_init ii;
        if (ki && !json_is_null(ki) && keras_init(ki, &ii) == 0)
            L->init = ii; /* other initialisers: the model's default (documented) */
        const json_t *kr = json_object_get(cfg, "kernel_regularizer");
        if (kr && !json_is_null(kr)) {
            const json_t *rcfg = json_object_get(kr, "config");
            float l1 = 0, l2 = 0;
            if (!json_is_object(rcfg) ||
                (rc = opt_num(rcfg, "l1", &l1, 0, 0, 1e6, 0, ctx, e)) ||
                (rc = opt_num(rcfg, "l2", &l2, 0, 0, 1e6, 0, ctx, e))) {
                if (!rc)
                    rc = err_set(e, MLHEP_EUNSUPPORTED, "%s: kernel_regularizer must be an L2 regularizer object", ctx);
                goto out;
            }
            if (l1 != 0) {
                rc = err_set(e, MLHEP_EUNSUPPORTED, "%s: L1 regularisation is not supported", ctx);
                goto out;
            }
            L->l2 = l2;
        }
    } else if (strcmp(cn, "Dropout") == 0) {
        layer_defaults(L, MLP_LAYER_DROPOUT);
        if (!json_object_get(cfg, "rate")) {
            rc = err_set(e, MLHEP_EINVAL, "%s: Dropout needs \"rate\"", ctx);
            goto out;
        }
        if ((rc = opt_num(cfg, "rate", &L->rate, 0, 0, 1, 1, ctx, e)) ||
            (rc = keras_not_null(cfg, "noise_shape", ctx, e)))
            goto out;
    } else if (strcmp(cn, "Activation") == 0) {
        layer_defaults(L, MLP_LAYER_ACTIVATION);
        if ((rc = parse_act(json_object_get(cfg, "activation"), &L->act, ctx, e)) ||
            (rc = check_alpha(L, 0, ctx, e)))
            goto out;
    } else if (strcmp(cn, "ReLU") == 0) {
        layer_defaults(L, MLP_LAYER_ACTIVATION);
        float slope = 0, thr = 0;
        L->act = NN_ACT_RELU;
        if ((rc = keras_not_null(cfg, "max_value", ctx, e)) ||
            (rc = opt_num(cfg, "negative_slope", &slope, 0, 0, 1e6, 0, ctx, e)) ||
            (rc = opt_num(cfg, "threshold", &thr, -1e30, 0, 1e30, 0, ctx, e)))
            goto out;
        if (thr != 0) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "%s: ReLU threshold must be 0", ctx);
            goto out;
        }
        if (slope > 0) {
            L->act = NN_ACT_LEAKY_RELU;
            L->alpha = slope;
        }
    } else if (strcmp(cn, "LeakyReLU") == 0 || strcmp(cn, "ELU") == 0) {
        layer_defaults(L, MLP_LAYER_ACTIVATION);
        L->act = cn[0] == 'L' ? NN_ACT_LEAKY_RELU : NN_ACT_ELU;
        L->alpha = nn_act_default_alpha(L->act);
        if ((rc = opt_num(cfg, "alpha", &L->alpha, 0, 1, 1e6, 0, ctx, e)) ||
            (rc = opt_num(cfg, "negative_slope", &L->alpha, 0, 1, 1e6, 0, ctx, e)))
            goto out;
    } else if (strcmp(cn, "Softmax") == 0) {
        layer_defaults(L, MLP_LAYER_ACTIVATION);
        L->act = NN_ACT_SOFTMAX;
        const json_t *ax = json_object_get(cfg, "axis");
        if (ax && !(json_is_integer(ax) && (json_integer_value(ax) == -1 || json_integer_value(ax) == 1))) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "%s: Softmax axis must be -1", ctx);
            goto out;
        }
    } else if (strcmp(cn, "BatchNormalization") == 0) {
        layer_defaults(L, MLP_LAYER_BATCHNORM);
        const json_t *ax = json_object_get(cfg, "axis");
        if (json_is_array(ax) && json_array_size(ax) == 1)
            ax = json_array_get(ax, 0);
        if (ax && !(json_is_integer(ax) && (json_integer_value(ax) == -1 || json_integer_value(ax) == 1))) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "%s: BatchNormalization axis must be -1 (the features)", ctx);
            goto out;
        }
        if ((rc = opt_num(cfg, "momentum", &L->bn_momentum, 0, 0, 1, 1, ctx, e)) ||
            (rc = opt_num(cfg, "epsilon", &L->bn_eps, 0, 1, 1e3, 0, ctx, e)) ||
            (rc = opt_bool(cfg, "center", &L->bn_center, ctx, e)) ||
            (rc = opt_bool(cfg, "scale", &L->bn_scale, ctx, e)))
            goto out;
    } else {
        rc = err_set(e, MLHEP_EUNSUPPORTED,
                     "%s: layer type \"%.64s\" is not supported (supported: InputLayer, Dense, Dropout, "
                     "Activation, BatchNormalization, ReLU, LeakyReLU, ELU, Softmax, Flatten)",
                     ctx, cn);
    }
out:
    json_decref(empty);
    return rc;
}

/* ------------------------------------------------------------------ top level */

static int parse_loss(const json_t *v, mlp_loss *out, int *given, mlhep_err *e)
{
    *given = 0;
    if (!v || json_is_null(v))
        return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s && (!strcmp(s, "binary_crossentropy") || !strcmp(s, "bce")))
        *out = MLP_LOSS_BCE;
    else if (s && (!strcmp(s, "categorical_crossentropy") ||
                   !strcmp(s, "sparse_categorical_crossentropy") || !strcmp(s, "cce")))
        *out = MLP_LOSS_CCE;
    else if (s && (!strcmp(s, "mse") || !strcmp(s, "mean_squared_error")))
        *out = MLP_LOSS_MSE;
    else
        return err_set(e, MLHEP_EUNSUPPORTED,
                       "loss %s%.64s%s is not supported (use binary_crossentropy, "
                       "categorical_crossentropy or mse)",
                       s ? "\"" : "", s ? s : "(not a string)", s ? "\"" : "");
    *given = 1;
    return 0;
}

static int parse_optimizer(const json_t *v, mlp *m, mlhep_err *e)
{
    int rc = 0;
    m->opt = OPT_ADAM;
    m->adam = (nn_adam){.lr = 0.001f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f};
    m->sgd = (nn_sgd){.lr = 0.01f, .momentum = 0.0f, .nesterov = 0};
    if (!v || json_is_null(v))
        return 0;
    const char *name = NULL;
    const json_t *cfg = NULL;
    int keras = 0;
    if (json_is_string(v)) {
        name = json_string_value(v);
    } else if (json_is_object(v) && json_is_string(json_object_get(v, "class_name"))) {
        name = json_string_value(json_object_get(v, "class_name"));
        cfg = json_object_get(v, "config");
        keras = 1;
    } else if (json_is_object(v) && json_object_size(v) == 1) {
        const char *k;
        const json_t *vv;
        json_object_foreach((json_t *)v, k, vv)
        {
            name = k;
            cfg = vv;
        }
    }
    if (!name)
        return err_set(e, MLHEP_EINVAL,
                       "optimizer: expected \"adam\", \"sgd\", {\"adam\":{...}} or {\"sgd\":{...}}");
    if (cfg && !json_is_object(cfg))
        return err_set(e, MLHEP_EINVAL, "optimizer %.32s: settings must be an object", name);
    json_t *empty = NULL;
    if (!cfg)
        cfg = empty = json_object();
    if (!strcasecmp(name, "adam")) {
        static const char *const keys[] = {"lr", "learning_rate", "beta1", "beta2", "beta_1", "beta_2", "epsilon", NULL};
        const json_t *ams = json_object_get(cfg, "amsgrad");
        if (keras && ams && json_is_true(ams))
            rc = err_set(e, MLHEP_EUNSUPPORTED, "optimizer adam: amsgrad is not supported");
        else if ((!keras && (rc = only_keys(cfg, keys, "optimizer adam", e))) ||
                 (rc = opt_num(cfg, "lr", &m->adam.lr, 0, 1, MLP_MAX_LR, 0, "optimizer adam", e)) ||
                 (rc = opt_num(cfg, "learning_rate", &m->adam.lr, 0, 1, MLP_MAX_LR, 0, "optimizer adam", e)) ||
                 (rc = opt_num(cfg, "beta1", &m->adam.beta1, 0, 0, 1, 1, "optimizer adam", e)) ||
                 (rc = opt_num(cfg, "beta_1", &m->adam.beta1, 0, 0, 1, 1, "optimizer adam", e)) ||
                 (rc = opt_num(cfg, "beta2", &m->adam.beta2, 0, 0, 1, 1, "optimizer adam", e)) ||
                 (rc = opt_num(cfg, "beta_2", &m->adam.beta2, 0, 0, 1, 1, "optimizer adam", e)) ||
                 (rc = opt_num(cfg, "epsilon", &m->adam.eps, 0, 1, 1, 0, "optimizer adam", e))) {
            /* rc and message set */
        }
    } else if (!strcasecmp(name, "sgd")) {
        static const char *const keys[] = {"lr", "learning_rate", "momentum", "nesterov", NULL};
        m->opt = OPT_SGD;
        if ((!keras && (rc = only_keys(cfg, keys, "optimizer sgd", e))) ||
            (rc = opt_num(cfg, "lr", &m->sgd.lr, 0, 1, MLP_MAX_LR, 0, "optimizer sgd", e)) ||
            (rc = opt_num(cfg, "learning_rate", &m->sgd.lr, 0, 1, MLP_MAX_LR, 0, "optimizer sgd", e)) ||
            (rc = opt_num(cfg, "momentum", &m->sgd.momentum, 0, 0, 1, 1, "optimizer sgd", e)) ||
            (rc = opt_bool(cfg, "nesterov", &m->sgd.nesterov, "optimizer sgd", e))) {
            /* rc and message set */
        }
    } else {
        rc = err_set(e, MLHEP_EUNSUPPORTED, "optimizer \"%.64s\" is not supported (use adam or sgd)", name);
    }
    if (!rc && keras) {
        static const char *const unsup[] = {"clipnorm", "clipvalue", "global_clipnorm", NULL};
        for (const char *const *u = unsup; *u && !rc; u++)
            rc = keras_not_null(cfg, *u, "optimizer", e);
    }
    json_decref(empty);
    return rc;
}

static int parse_class_weight(const json_t *v, mlp *m, mlhep_err *e)
{
    if (!v || json_is_null(v))
        return 0;
    size_t n = 0;
    double w[1024];
    if (json_is_array(v)) {
        n = json_array_size(v);
        if (n == 0 || n > 1024)
            return err_set(e, MLHEP_EINVAL, "class_weight: expected 1..1024 weights");
        for (size_t i = 0; i < n; i++)
            if (get_num(json_array_get(v, i), &w[i]))
                return err_set(e, MLHEP_EINVAL, "class_weight[%zu] is not a number", i);
    } else if (json_is_object(v)) {
        const char *k;
        const json_t *vv;
        for (size_t i = 0; i < 1024; i++)
            w[i] = 1.0;
        json_object_foreach((json_t *)v, k, vv)
        {
            char *end;
            long c = strtol(k, &end, 10);
            if (*end || end == k || c < 0 || c >= 1024)
                return err_set(e, MLHEP_EINVAL, "class_weight: key \"%.32s\" is not a class index", k);
            if (get_num(vv, &w[c]))
                return err_set(e, MLHEP_EINVAL, "class_weight[\"%.32s\"] is not a number", k);
            if ((size_t)c + 1 > n)
                n = (size_t)c + 1;
        }
        if (n == 0)
            return 0;
    } else {
        return err_set(e, MLHEP_EINVAL, "class_weight must be an array or an object {\"0\": w0, ...}");
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            return err_set(e, MLHEP_EINVAL, "class_weight[%zu] = %g must be a finite value >= 0", i, w[i]);
    m->class_weight = malloc(n * sizeof *m->class_weight);
    if (!m->class_weight)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        m->class_weight[i] = (float)w[i];
    m->n_cw = n;
    return 0;
}

static void ws_release(ws *w, int own_grads)
{
    free(w->scratch);
    free(w->ptrs);
    if (own_grads)
        free(w->grads);
    memset(w, 0, sizeof *w);
}

void mlp_free(mlp *m)
{
    if (!m)
        return;
    free(m->L);
    for (int i = 0; m->ws && i < m->nws; i++)
        ws_release(&m->ws[i], i > 0);
    free(m->ws);
    free(m->params);
    free(m->grads);
    free(m->opt1);
    free(m->opt2);
    free(m->class_weight);
    json_decref(m->metrics);
    free(m);
}

/* Lays the parameters out (trainable first, then running stats): offsets and counts,
 * refused beyond MLP_MAX_PARAMS. */
static int layout_params(mlp *m, mlhep_err *e)
{
    size_t off = 0;
    for (size_t i = 0; i < m->nl; i++) {
        layer *L = &m->L[i];
        if (L->kind == MLP_LAYER_DENSE) {
            L->w_off = off;
            off += L->in * L->out;
            if (L->use_bias) {
                L->b_off = off;
                off += L->out;
            }
        } else if (L->kind == MLP_LAYER_BATCHNORM) {
            if (L->bn_scale) {
                L->w_off = off;
                off += L->out;
            }
            if (L->bn_center) {
                L->b_off = off;
                off += L->out;
            }
        }
        if (off > MLP_MAX_PARAMS)
            return err_set(e, MLHEP_EINVAL, "layers[%zu]: the model has more than %zu parameters "
                           "(%zu so far; the limit is %zu)", i, MLP_MAX_PARAMS, off, MLP_MAX_PARAMS);
    }
    m->n_train = off;
    for (size_t i = 0; i < m->nl; i++) {
        layer *L = &m->L[i];
        if (L->kind == MLP_LAYER_BATCHNORM) {
            L->rm_off = off;
            L->rv_off = off + L->out;
            off += 2 * L->out;
        }
    }
    if (off > MLP_MAX_PARAMS)
        return err_set(e, MLHEP_EINVAL, "the model has more than %zu parameters", MLP_MAX_PARAMS);
    m->n_params = off;
    return 0;
}

/* Allocates the laid-out arrays and initialises them from the seed. */
static int allocate_params(mlp *m, mlhep_err *e)
{
    size_t off = m->n_params;
    size_t nt = m->n_train ? m->n_train : 1;
    m->params = calloc(off ? off : 1, sizeof(float));
    m->grads = calloc(off ? off : 1, sizeof(float));
    m->opt1 = calloc(nt, sizeof(float));
    m->opt2 = m->opt == OPT_ADAM ? calloc(nt, sizeof(float)) : NULL;
    m->ws = calloc(1, sizeof *m->ws);
    if (!m->params || !m->grads || !m->opt1 || (m->opt == OPT_ADAM && !m->opt2) || !m->ws)
        return err_set(e, MLHEP_ENOMEM, "out of memory for %zu parameters", off);
    m->nws = 1;
    m->ws[0].grads = m->grads;
    rng_seed(&m->rng, m->seed);
    for (size_t i = 0; i < m->nl; i++) {
        layer *L = &m->L[i];
        if (L->kind == MLP_LAYER_DENSE) {
            nn_init_kernel(&m->rng, L->init, L->in, L->out, m->params + L->w_off);
        } else if (L->kind == MLP_LAYER_BATCHNORM) {
            if (L->w_off != NO_OFF)
                for (size_t j = 0; j < L->out; j++)
                    m->params[L->w_off + j] = 1.0f;
            for (size_t j = 0; j < L->out; j++)
                m->params[L->rv_off + j] = 1.0f;
        }
    }
    return 0;
}

/* check_only: the spec is only checked (no parameters allocated; *out set all the
 * same, freed by the caller); n_inputs 0 = not known yet (a Keras input shape gives it,
 * else the parameter count is that of one input feature). */
static int build_from_json(const json_t *root, size_t n_inputs, int check_only, mlp **out,
                           mlhep_err *e)
{
    int rc = 0;
    if (!json_is_object(root))
        return err_set(e, MLHEP_EINVAL, "must be a JSON object");
    if ((n_inputs < 1 && !check_only) || n_inputs > MLP_MAX_UNITS)
        return err_set(e, MLHEP_EINVAL, "number of input features %zu is not in [1, %d]", n_inputs,
                       MLP_MAX_UNITS);
    const json_t *keras = NULL, *layers = NULL, *top = root;
    const json_t *cn = json_object_get(root, "class_name");
    if (json_is_string(cn)) {
        keras = root;
    } else {
        const json_t *ty = json_object_get(root, "type");
        if (ty && !(json_is_string(ty) && (!strcmp(json_string_value(ty), "mlp") ||
                                           !strcmp(json_string_value(ty), "keras"))))
            return err_set(e, MLHEP_EUNSUPPORTED, "model type %s%.32s%s is not an MLP (expected \"mlp\")",
                           json_is_string(ty) ? "\"" : "", json_is_string(ty) ? json_string_value(ty) : "?",
                           json_is_string(ty) ? "\"" : "");
        keras = json_object_get(root, "keras");
        if (keras && !json_is_object(keras))
            return err_set(e, MLHEP_EINVAL, "\"keras\" must be a Keras model.to_json() object");
        if (!keras) {
            layers = json_object_get(root, "layers");
            if (!json_is_array(layers))
                return err_set(e, MLHEP_EINVAL, "needs a \"layers\" array (or a \"keras\" document)");
        }
    }
    if (keras) {
        const json_t *kcn = json_object_get(keras, "class_name");
        if (!json_is_string(kcn) || strcmp(json_string_value(kcn), "Sequential") != 0)
            return err_set(e, MLHEP_EUNSUPPORTED,
                           "Keras model class \"%.64s\" is not supported (only Sequential)",
                           json_is_string(kcn) ? json_string_value(kcn) : "?");
        const json_t *cfg = json_object_get(keras, "config");
        layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
        if (!json_is_array(layers))
            return err_set(e, MLHEP_EINVAL, "Keras Sequential document has no config.layers array");
    }
    const json_t *nin = json_object_get(top, "n_inputs");
    if (check_only && n_inputs == 0) { /* the width the spec declares, if any */
        if (json_is_integer(nin) && json_integer_value(nin) >= 1 && json_integer_value(nin) <= MLP_MAX_UNITS)
            n_inputs = (size_t)json_integer_value(nin);
        const json_t *l0 = keras ? json_object_get(json_array_get(layers, 0), "config") : NULL;
        const json_t *sh = json_object_get(l0, "batch_input_shape");
        if (!sh)
            sh = json_object_get(l0, "batch_shape");
        if (json_is_array(sh) && json_array_size(sh) == 2 && json_is_integer(json_array_get(sh, 1)) &&
            json_integer_value(json_array_get(sh, 1)) >= 1 && json_integer_value(json_array_get(sh, 1)) <= MLP_MAX_UNITS)
            n_inputs = (size_t)json_integer_value(json_array_get(sh, 1));
        if (n_inputs == 0)
            n_inputs = 1;
    }
    if (nin && (!json_is_integer(nin) || json_integer_value(nin) != (long long)n_inputs))
        return err_set(e, MLHEP_EINVAL, "spec is for %lld input features but %zu were given",
                       json_is_integer(nin) ? json_integer_value(nin) : -1LL, n_inputs);
    size_t njl = json_array_size(layers);
    if (njl == 0 || njl > MLP_MAX_LAYERS)
        return err_set(e, MLHEP_EINVAL, "model needs 1..%d layers, has %zu", MLP_MAX_LAYERS, njl);

    mlp *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    m->L = calloc(njl, sizeof *m->L);
    if (!m->L) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto fail;
    }
    m->n_in = n_inputs;

    /* global options first: layers resolve their l2/init defaults against them */
    const json_t *tc = NULL;
    if (keras) {
        tc = json_object_get(top, "training_config");
        if (!tc)
            tc = json_object_get(keras, "training_config");
    }
    m->l2 = 0;
    if ((rc = opt_num(top, "l2", &m->l2, 0, 0, 1e6, 0, "l2", e)))
        goto fail;
    m->init = NN_INIT_GLOROT_UNIFORM;
    const json_t *ji = json_object_get(top, "init");
    if (ji && !json_is_null(ji) && (!json_is_string(ji) || nn_init_parse(json_string_value(ji), &m->init))) {
        rc = err_set(e, MLHEP_EUNSUPPORTED,
                     "init must be one of glorot_uniform, glorot_normal, he_uniform, he_normal");
        goto fail;
    }
    const json_t *js = json_object_get(top, "seed");
    if (js && !json_is_null(js)) {
        if (!json_is_integer(js) || json_integer_value(js) < 0) {
            rc = err_set(e, MLHEP_EINVAL, "seed must be an integer >= 0");
            goto fail;
        }
        m->seed = (uint64_t)json_integer_value(js);
    }
    const json_t *jo = json_object_get(top, "optimizer");
    if (!jo && json_is_object(tc))
        jo = json_object_get(tc, "optimizer_config");
    if ((rc = parse_optimizer(jo, m, e)))
        goto fail;
    const json_t *jloss = json_object_get(top, "loss");
    if (!jloss && json_is_object(tc))
        jloss = json_object_get(tc, "loss");
    int loss_given;
    if ((rc = parse_loss(jloss, &m->loss, &loss_given, e)))
        goto fail;
    const json_t *jm = json_object_get(top, "metrics");
    if (jm && !json_is_null(jm)) {
        size_t i;
        const json_t *x;
        if (!json_is_array(jm)) {
            rc = err_set(e, MLHEP_EINVAL, "metrics must be an array of names");
            goto fail;
        }
        json_array_foreach(jm, i, x) if (!json_is_string(x))
        {
            rc = err_set(e, MLHEP_EINVAL, "metrics[%zu] is not a string", i);
            goto fail;
        }
        m->metrics = json_deep_copy(jm);
    }

    size_t width = n_inputs;
    for (size_t i = 0; i < njl; i++) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, keras ? "Keras layers[%zu]" : "layers[%zu]", i);
        layer *L = &m->L[m->nl];
        int skip = 0;
        if (keras)
            rc = parse_keras_layer(json_array_get(layers, i), n_inputs, L, &skip, ctx, e);
        else
            rc = parse_our_layer(json_array_get(layers, i), L, ctx, e);
        if (rc)
            goto fail;
        if (skip)
            continue;
        L->in = width;
        if (L->kind != MLP_LAYER_DENSE)
            L->out = width;
        if (L->kind == MLP_LAYER_DENSE) {
            if (L->l2 < 0)
                L->l2 = m->l2;
            if ((int)L->init < 0)
                L->init = m->init;
        }
        width = L->out;
        m->nl++;
    }
    size_t ndense = 0;
    for (size_t i = 0; i < m->nl; i++)
        ndense += m->L[i].kind == MLP_LAYER_DENSE;
    if (ndense == 0) {
        rc = err_set(e, MLHEP_EINVAL, "model has no dense layer");
        goto fail;
    }
    m->n_out = width;
    /* the output activation: the last dense/activation layer's */
    nn_act out_act = NN_ACT_LINEAR;
    size_t last_act_layer = 0;
    for (size_t i = 0; i < m->nl; i++)
        if (m->L[i].kind == MLP_LAYER_DENSE || m->L[i].kind == MLP_LAYER_ACTIVATION) {
            out_act = m->L[i].act;
            last_act_layer = i;
        }
    if (!loss_given)
        m->loss = out_act == NN_ACT_SOFTMAX ? MLP_LOSS_CCE
                  : (out_act == NN_ACT_SIGMOID && m->n_out == 1) ? MLP_LOSS_BCE
                                                                  : MLP_LOSS_MSE;
    if (m->loss == MLP_LOSS_BCE && m->n_out != 1)
        rc = err_set(e, MLHEP_EINVAL,
                     "binary_crossentropy needs 1 output unit, the last layer has %zu "
                     "(use categorical_crossentropy with softmax for several classes)",
                     m->n_out);
    else if (m->loss == MLP_LOSS_CCE && m->n_out < 2)
        rc = err_set(e, MLHEP_EINVAL, "categorical_crossentropy needs >= 2 output units, the last layer has %zu",
                     m->n_out);
    else if (m->loss == MLP_LOSS_MSE && m->n_out != 1)
        rc = err_set(e, MLHEP_EINVAL, "mse supports 1 output unit, the last layer has %zu", m->n_out);
    if (rc)
        goto fail;
    m->fuse_last = last_act_layer == m->nl - 1 &&
                   ((out_act == NN_ACT_SIGMOID && m->loss == MLP_LOSS_BCE) ||
                    (out_act == NN_ACT_SOFTMAX && m->loss == MLP_LOSS_CCE));
    const json_t *jcw = json_object_get(top, "class_weight");
    if ((rc = parse_class_weight(jcw, m, e)))
        goto fail;
    if (m->n_cw) {
        size_t ncls = m->loss == MLP_LOSS_BCE ? 2 : m->n_out;
        if (m->loss == MLP_LOSS_MSE)
            rc = err_set(e, MLHEP_EINVAL, "class_weight makes no sense with the mse loss");
        else if (m->n_cw != ncls)
            rc = err_set(e, MLHEP_EINVAL, "class_weight has %zu entries, the model has %zu classes", m->n_cw,
                         ncls);
        if (rc)
            goto fail;
    }
    for (size_t i = 0; i < m->nl; i++)
        m->has_bn_train |= m->L[i].kind == MLP_LAYER_BATCHNORM;
    if ((rc = layout_params(m, e)) || (!check_only && (rc = allocate_params(m, e))))
        goto fail;
    *out = m;
    return 0;
fail:
    mlp_free(m);
    return rc;
}

int mlp_spec_check(const json_t *spec, size_t n_inputs, mlp_spec_info *info, mlhep_err *e)
{
    memset(info, 0, sizeof *info);
    mlp *m = NULL;
    int rc = build_from_json(spec, n_inputs, 1, &m, e);
    if (rc)
        return err_prefix(e, "model spec");
    info->n_outputs = m->n_out;
    info->n_inputs = m->n_in;
    info->loss = m->loss;
    info->n_params = m->n_params;
    info->n_class_weights = m->n_cw;
    mlp_free(m);
    return 0;
}

int mlp_build(const char *spec_json, size_t n_inputs, mlp **out, mlhep_err *e)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loads(spec_json, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(e, MLHEP_EINVAL, "model spec: not valid JSON: %s (line %d, column %d)", je.text,
                       je.line, je.column);
    int rc = build_from_json(root, n_inputs, 0, out, e);
    json_decref(root);
    if (rc)
        err_prefix(e, "model spec");
    return rc;
}

/* ------------------------------------------------------------------ scratch */

/* Grows workspace w to batches of `rows` rows (the buffers are reused after that). */
static int ws_reserve(mlp *m, ws *w, size_t rows, mlhep_err *e)
{
    if (rows <= w->cap)
        return 0;
    if (rows > ((size_t)1 << 24))
        return err_set(e, MLHEP_EINVAL, "batch of %zu rows is too large (at most %zu)", rows,
                       (size_t)1 << 24);
    size_t maxw = m->n_in, total = 0;
    for (size_t i = 0; i < m->nl; i++) {
        layer *L = &m->L[i];
        maxw = L->out > maxw ? L->out : maxw;
        total += rows * L->out; /* y */
        if (L->kind == MLP_LAYER_DROPOUT)
            total += rows * L->out;
        if (L->kind == MLP_LAYER_BATCHNORM)
            total += rows * L->out + L->out;
    }
    total += 2 * rows * maxw + rows;
    if (total > ((size_t)1 << 30))
        return err_set(e, MLHEP_ENOMEM, "batch of %zu rows needs too much scratch memory", rows);
    float *s = malloc(total * sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory for scratch buffers of %zu rows", rows);
    if (!w->ptrs) {
        w->ptrs = calloc(5 * (m->nl ? m->nl : 1), sizeof(float *));
        if (!w->ptrs) {
            free(s);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        float **pt = w->ptrs;
        w->y = pt;
        w->mask = pt + m->nl;
        w->xhat = pt + 2 * m->nl;
        w->inv_std = pt + 3 * m->nl;
        w->outp = (const float **)(pt + 4 * m->nl);
    }
    free(w->scratch);
    w->scratch = s;
    w->cap = rows;
    for (size_t i = 0; i < m->nl; i++) {
        layer *L = &m->L[i];
        w->y[i] = s;
        s += rows * L->out;
        w->mask[i] = w->xhat[i] = w->inv_std[i] = NULL;
        if (L->kind == MLP_LAYER_DROPOUT) {
            w->mask[i] = s;
            s += rows * L->out;
        }
        if (L->kind == MLP_LAYER_BATCHNORM) {
            w->xhat[i] = s;
            s += rows * L->out;
            w->inv_std[i] = s;
            s += L->out;
        }
    }
    w->d0 = s;
    s += rows * maxw;
    w->d1 = s;
    s += rows * maxw;
    w->wbuf = s;
    return 0;
}

int mlp_reserve(mlp *m, size_t rows, mlhep_err *e)
{
    return ws_reserve(m, &m->ws[0], rows, e);
}

int mlp_set_team(mlp *m, team *t, mlhep_err *e)
{
    int n = team_size(t);
    if (n > m->nws) {
        ws *nw = realloc(m->ws, (size_t)n * sizeof *nw);
        if (!nw)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        m->ws = nw;
        for (int k = m->nws; k < n; k++) {
            memset(&m->ws[k], 0, sizeof m->ws[k]);
            m->ws[k].grads = calloc(m->n_params ? m->n_params : 1, sizeof(float));
            if (!m->ws[k].grads)
                return err_set(e, MLHEP_ENOMEM, "out of memory for the gradients of %d threads", n);
            m->nws = k + 1;
        }
    }
    m->team = n > 1 ? t : NULL;
    return 0;
}

/* ------------------------------------------------------------------ forward / backward */

/* A dense relu layer i followed by a dropout layer that drops: in training the two run
 * as one pass (nn_bias_relu_dropout_forward) and the dropout needs no mask. */
static int relu_dropout_pair(const mlp *m, size_t i)
{
    return i + 1 < m->nl && m->L[i].kind == MLP_LAYER_DENSE && m->L[i].act == NN_ACT_RELU &&
           m->L[i + 1].kind == MLP_LAYER_DROPOUT && m->L[i + 1].rate > 0;
}

/* Runs the layers on X[n] in workspace w. train: dropout on (masks drawn from r), batch
 * norm on batch statistics. skip_out_act: the last layer's sigmoid/softmax is left out
 * (the loss takes logits). Returns the output (n x n_out), inside the workspace or X. */
static const float *forward(mlp *m, ws *w, rng *r, const float *X, size_t n, int train, int skip_out_act)
{
    const float *x = X;
    float *P = m->params;
    for (size_t i = 0; i < m->nl; i++) {
        layer *L = &m->L[i];
        float *Y = w->y[i];
        int skip = skip_out_act && i == m->nl - 1;
        switch (L->kind) {
        case MLP_LAYER_DENSE:
            nn_dense_forward(x, n, L->in, P + L->w_off, L->out, Y);
            if (train && relu_dropout_pair(m, i)) { /* this layer's and the dropout's output */
                nn_bias_relu_dropout_forward(r, m->L[i + 1].rate, Y, n, L->out,
                                             L->b_off != NO_OFF ? P + L->b_off : NULL);
                w->outp[i++] = Y;
            } else
                nn_bias_act_forward(Y, n, L->out, L->b_off != NO_OFF ? P + L->b_off : NULL,
                                    skip ? NN_ACT_LINEAR : L->act, L->alpha);
            x = Y;
            break;
        case MLP_LAYER_DROPOUT:
            if (train && L->rate > 0) {
                nn_dropout_forward(r, L->rate, x, w->mask[i], Y, n * L->out);
                x = Y;
            }
            break;
        case MLP_LAYER_BATCHNORM: {
            const float *g = L->w_off != NO_OFF ? P + L->w_off : NULL;
            const float *b = L->b_off != NO_OFF ? P + L->b_off : NULL;
            if (train)
                nn_batchnorm_forward_train(x, n, L->out, g, b, L->bn_eps, L->bn_momentum, P + L->rm_off,
                                           P + L->rv_off, w->xhat[i], w->inv_std[i], Y);
            else
                nn_batchnorm_forward_infer(x, n, L->out, g, b, L->bn_eps, P + L->rm_off, P + L->rv_off, Y);
            x = Y;
            break;
        }
        case MLP_LAYER_ACTIVATION:
            if (skip || L->act == NN_ACT_LINEAR)
                break;
            memcpy(Y, x, n * L->out * sizeof *x);
            nn_bias_act_forward(Y, n, L->out, NULL, L->act, L->alpha);
            x = Y;
            break;
        }
        w->outp[i] = x;
    }
    return x;
}

/* Effective per-row weights (sample weight x class weight) into w->wbuf, or NULL when
 * every weight is 1. */
static const float *row_weights(mlp *m, ws *ws_, const float *y, const float *w, size_t n, mlhep_err *e)
{
    if (!m->n_cw)
        return w;
    for (size_t i = 0; i < n; i++) {
        float c = y[i];
        size_t k;
        if (m->loss == MLP_LOSS_BCE)
            k = c >= 0.5f ? 1 : 0;
        else if (c >= 0 && c < (float)m->n_cw && c == floorf(c))
            k = (size_t)c;
        else {
            err_set(e, MLHEP_EINVAL, "row %zu: class label %g is not an integer in [0, %zu)", i,
                    (double)c, m->n_cw);
            return NULL;
        }
        ws_->wbuf[i] = (w ? w[i] : 1.0f) * m->class_weight[k];
    }
    return ws_->wbuf;
}

/* Loss of output `out` (logits when m->fuse_last and logits is set); gradient into d. */
static int loss_grad(mlp *m, const float *out, int logits, const float *y, const float *w, size_t n,
                     float *d, double *loss, mlhep_err *e)
{
    switch (m->loss) {
    case MLP_LOSS_BCE:
        return logits ? nn_loss_bce_logits(out, y, w, n, d, loss, e) : nn_loss_bce_prob(out, y, w, n, d, loss, e);
    case MLP_LOSS_CCE:
        return logits ? nn_loss_cce_logits(out, m->n_out, y, w, n, d, loss, e)
                      : nn_loss_cce_prob(out, m->n_out, y, w, n, d, loss, e);
    case MLP_LOSS_MSE: return nn_loss_mse(out, y, w, n, d, loss, e);
    }
    return MLHEP_EINVAL;
}

static int check_batch(mlp *m, const float *X, const float *y, size_t n, mlhep_err *e)
{
    if (!X || !y || n == 0)
        return err_set(e, MLHEP_EINVAL, "empty batch (X, y and nrows > 0 are needed)");
    return mlp_reserve(m, n, e);
}

/* Forward and backward in training mode over the n rows X of a batch of `total` rows,
 * in workspace w (dropout masks from r): the gradient of the batch loss restricted to
 * these rows into w->grads (the loss gradient scaled by n / total, so the parts of a
 * batch sum to its gradient), *loss = these rows' mean loss, without the L2 term. */
static int grad_pass(mlp *m, ws *w, rng *r, const float *X, const float *y, const float *wi, size_t n,
                     size_t total, double *loss, mlhep_err *e)
{
    int rc;
    mlhep_err e2;
    err_clear(&e2);
    const float *wt = row_weights(m, w, y, wi, n, &e2);
    if (e2.code)
        return err_set(e, e2.code, "%s", e2.msg);
    const float *out = forward(m, w, r, X, n, 1, m->fuse_last);
    float *cur = w->d0, *other = w->d1;
    if ((rc = loss_grad(m, out, m->fuse_last, y, wt, n, cur, loss, e)))
        return rc;
    if (n != total) {
        float f = (float)n / (float)total;
        for (size_t i = 0; i < n * m->n_out; i++)
            cur[i] *= f;
    }
    float *P = m->params, *G = w->grads;
    /* layers before the first one with parameters need no input gradient */
    size_t first_param = m->nl;
    for (size_t i = 0; i < m->nl && first_param == m->nl; i++)
        if (m->L[i].kind == MLP_LAYER_DENSE ||
            (m->L[i].kind == MLP_LAYER_BATCHNORM && (m->L[i].bn_scale || m->L[i].bn_center)))
            first_param = i;
    for (size_t ii = m->nl; ii-- > 0;) {
        layer *L = &m->L[ii];
        const float *xin = ii ? w->outp[ii - 1] : X;
        int skip = m->fuse_last && ii == m->nl - 1;
        int need_dx = ii > first_param;
        switch (L->kind) {
        case MLP_LAYER_DENSE: {
            float *db = L->b_off != NO_OFF ? G + L->b_off : NULL;
            if (!skip && L->act == NN_ACT_RELU) { /* the bias gradient in the same pass */
                float scale = relu_dropout_pair(m, ii) ? nn_dropout_keep(m->L[ii + 1].rate) : 1.0f;
                nn_relu_backward_colsum(cur, w->y[ii], n, L->out, scale, db);
                db = NULL;
            } else if (!skip)
                nn_act_backward(cur, w->y[ii], n, L->out, L->act, L->alpha);
            nn_dense_backward(xin, n, L->in, P + L->w_off, L->out, cur, G + L->w_off, db, need_dx ? other : NULL);
            {
                float *t = cur;
                cur = other;
                other = t;
            }
            break;
        }
        case MLP_LAYER_DROPOUT: /* after a dense relu: done by its backward pass */
            if (L->rate > 0 && need_dx && !(ii > 0 && relu_dropout_pair(m, ii - 1)))
                nn_mul(cur, w->mask[ii], cur, n * L->out);
            break;
        case MLP_LAYER_BATCHNORM:
            nn_batchnorm_backward(cur, w->xhat[ii], w->inv_std[ii], L->w_off != NO_OFF ? P + L->w_off : NULL, n,
                                  L->out, L->w_off != NO_OFF ? G + L->w_off : NULL,
                                  L->b_off != NO_OFF ? G + L->b_off : NULL, cur);
            break;
        case MLP_LAYER_ACTIVATION:
            if (!skip && need_dx)
                nn_act_backward(cur, w->outp[ii], n, L->out, L->act, L->alpha);
            break;
        }
        if (!need_dx)
            break;
    }
    return 0;
}

/* The L2 terms of the dense kernels whose values lie in [lo, hi) of the parameters:
 * added to the gradient G, their loss returned (last layer first). */
static double l2_range(mlp *m, float *G, size_t lo, size_t hi)
{
    double l = 0;
    for (size_t ii = m->nl; ii-- > 0;) {
        const layer *L = &m->L[ii];
        if (L->kind != MLP_LAYER_DENSE || !(L->l2 > 0))
            continue;
        size_t a = L->w_off > lo ? L->w_off : lo, b = L->w_off + L->in * L->out;
        b = b < hi ? b : hi;
        if (a < b)
            l += nn_l2_add(m->params + a, G + a, b - a, L->l2);
    }
    return l;
}

int mlp_compute_gradients(mlp *m, const float *X, const float *y, const float *w, size_t n,
                          double *loss, mlhep_err *e)
{
    int rc = check_batch(m, X, y, n, e);
    if (rc)
        return rc;
    double l = 0;
    if ((rc = grad_pass(m, &m->ws[0], &m->rng, X, y, w, n, n, &l, e)))
        return rc;
    l += l2_range(m, m->grads, 0, m->n_train);
    if (loss)
        *loss = l;
    return 0;
}

static void optimiser_step(mlp *m, long t, size_t lo, size_t hi)
{
    if (m->opt == OPT_ADAM)
        nn_adam_step(&m->adam, t, m->params + lo, m->grads + lo, m->opt1 + lo, m->opt2 + lo, hi - lo);
    else
        nn_sgd_step(&m->sgd, m->params + lo, m->grads + lo, m->opt1 ? m->opt1 + lo : NULL, hi - lo);
}

/* ---- data-parallel step: each thread of the team its slice of the batch ---- */

typedef struct par_step {
    mlp *m;
    const float *X, *y, *w;
    size_t n;
    int nt;        /* threads with rows (<= team size) */
    uint64_t base; /* the step's dropout seed */
    long t;        /* the optimiser step number */
} par_step;

/* Sums the threads' gradients (in thread order: deterministic) into m->grads, adds the
 * L2 terms and takes the optimiser step, each thread on its range of the parameters. */
static void par_update(par_step *j, int tid, int nthreads)
{
    mlp *m = j->m;
    size_t P = m->n_train;
    size_t lo = (P * (size_t)tid / (size_t)nthreads) & ~(size_t)15;
    size_t hi = tid == nthreads - 1 ? P : (P * (size_t)(tid + 1) / (size_t)nthreads) & ~(size_t)15;
    float *G = m->grads;
    for (int k = 1; k < j->nt; k++)
        nn_add(G + lo, m->ws[k].grads + lo, hi - lo);
    m->ws[tid].l2 = l2_range(m, G, lo, hi);
    optimiser_step(m, j->t, lo, hi);
}

/* One run of the team per step (a wake-up costs more than a small batch's half-step):
 * each thread the gradient of its slice of the batch, a barrier, then, if no slice
 * failed, each thread the update of its range of the parameters. */
static void par_step_run(void *arg, int tid, int nthreads)
{
    par_step *j = arg;
    mlp *m = j->m;
    ws *w = &m->ws[tid];
    w->rc = 0;
    if (tid < j->nt) {
        size_t r0 = j->n * (size_t)tid / (size_t)j->nt, r1 = j->n * (size_t)(tid + 1) / (size_t)j->nt;
        w->r0 = r0;
        w->r1 = r1;
        rng_seed(&w->rng, j->base + (uint64_t)tid);
        err_clear(&w->e);
        w->rc = grad_pass(m, w, &w->rng, j->X + r0 * m->n_in, j->y + r0, j->w ? j->w + r0 : NULL, r1 - r0, j->n,
                          &w->loss, &w->e);
    }
    team_barrier(m->team);
    for (int k = 0; k < j->nt; k++)
        if (m->ws[k].rc)
            return;
    par_update(j, tid, nthreads);
}

/* Rows per thread below which a batch is not split (the GEMMs get too thin). */
#define MLP_MIN_SLICE_ROWS 16

static int train_batch_team(mlp *m, const float *X, const float *y, const float *w, size_t n, double *loss,
                            mlhep_err *e)
{
    int nt = team_size(m->team);
    if ((size_t)nt > n / MLP_MIN_SLICE_ROWS)
        nt = (int)(n / MLP_MIN_SLICE_ROWS);
    size_t slice = (n + (size_t)nt - 1) / (size_t)nt;
    int rc;
    for (int k = 0; k < nt; k++)
        if ((rc = ws_reserve(m, &m->ws[k], slice, e)))
            return rc;
    par_step j = {m, X, y, w, n, nt, rng_next(&m->rng), m->steps + 1};
    team_run(m->team, par_step_run, &j);
    for (int k = 0; k < nt; k++)
        if (m->ws[k].rc) {
            /* the parameters are unchanged: the whole batch again in one thread gives
             * the error with the batch's own row numbers */
            rc = mlp_compute_gradients(m, X, y, w, n, NULL, e);
            return rc ? rc : err_set(e, m->ws[k].rc, "%s", m->ws[k].e.msg);
        }
    m->steps++;
    double l = 0;
    for (int k = 0; k < nt; k++)
        l += m->ws[k].loss * (double)(m->ws[k].r1 - m->ws[k].r0) / (double)n;
    for (int k = 0; k < team_size(m->team); k++)
        l += m->ws[k].l2;
    if (loss)
        *loss = l;
    return 0;
}

int mlp_train_batch(mlp *m, const float *X, const float *y, const float *w, size_t n, double *loss,
                    mlhep_err *e)
{
    if (m->team && !m->has_bn_train && X && y && n >= 2 * MLP_MIN_SLICE_ROWS)
        return train_batch_team(m, X, y, w, n, loss, e);
    int rc = mlp_compute_gradients(m, X, y, w, n, loss, e);
    if (rc)
        return rc;
    m->steps++;
    optimiser_step(m, m->steps, 0, m->n_train);
    return 0;
}

int mlp_predict(mlp *m, const float *X, size_t n, float *out, mlhep_err *e)
{
    if (n == 0)
        return 0;
    if (!X || !out)
        return err_set(e, MLHEP_EINVAL, "predict: X and out are needed");
    size_t want = n < 1024 ? n : 1024;
    int rc = mlp_reserve(m, want, e);
    if (rc)
        return rc;
    ws *w = &m->ws[0];
    for (size_t r = 0; r < n; r += w->cap) {
        size_t k = n - r < w->cap ? n - r : w->cap;
        const float *o = forward(m, w, NULL, X + r * m->n_in, k, 0, 0);
        memcpy(out + r * m->n_out, o, k * m->n_out * sizeof *o);
    }
    return 0;
}

int mlp_eval_loss(mlp *m, const float *X, const float *y, const float *w, size_t n, double *loss,
                  mlhep_err *e)
{
    if (!X || !y || n == 0)
        return err_set(e, MLHEP_EINVAL, "empty batch (X, y and nrows > 0 are needed)");
    int rc = mlp_reserve(m, n < 1024 ? n : 1024, e);
    if (rc)
        return rc;
    ws *ws0 = &m->ws[0];
    double sum = 0;
    for (size_t r = 0; r < n; r += ws0->cap) {
        size_t k = n - r < ws0->cap ? n - r : ws0->cap;
        mlhep_err e2;
        err_clear(&e2);
        const float *wt = row_weights(m, ws0, y + r, w ? w + r : NULL, k, &e2);
        if (e2.code)
            return err_set(e, e2.code, "%s", e2.msg);
        const float *o = forward(m, ws0, NULL, X + r * m->n_in, k, 0, m->fuse_last);
        double l;
        if ((rc = loss_grad(m, o, m->fuse_last, y + r, wt, k, ws0->d0, &l, e)))
            return rc;
        sum += l * (double)k;
    }
    double l2 = 0;
    for (size_t i = 0; i < m->nl; i++) {
        const layer *L = &m->L[i];
        if (L->kind == MLP_LAYER_DENSE && L->l2 > 0) {
            const float *W = m->params + L->w_off;
            double s = 0;
            for (size_t j = 0; j < L->in * L->out; j++)
                s += (double)W[j] * W[j];
            l2 += L->l2 * s;
        }
    }
    *loss = sum / (double)n + l2;
    return 0;
}

/* ------------------------------------------------------------------ accessors */

size_t mlp_n_inputs(const mlp *m) { return m->n_in; }
size_t mlp_n_outputs(const mlp *m) { return m->n_out; }
mlp_loss mlp_get_loss(const mlp *m) { return m->loss; }
float *mlp_params(mlp *m) { return m->params; }
const float *mlp_grads(const mlp *m) { return m->grads; }
size_t mlp_n_params(const mlp *m) { return m->n_params; }
size_t mlp_n_trainable(const mlp *m) { return m->n_train; }
long mlp_steps(const mlp *m) { return m->steps; }
void mlp_get_rng(const mlp *m, rng *out) { *out = m->rng; }
void mlp_set_rng(mlp *m, const rng *in) { m->rng = *in; }
size_t mlp_n_layers(const mlp *m) { return m->nl; }

void mlp_layer_get(const mlp *m, size_t i, mlp_layer_info *info)
{
    memset(info, 0, sizeof *info);
    if (i >= m->nl)
        return;
    const layer *L = &m->L[i];
    const float *P = m->params;
    info->kind = L->kind;
    info->in = L->in;
    info->out = L->out;
    info->act = L->act;
    info->alpha = L->alpha;
    info->rate = L->rate;
    info->eps = L->bn_eps;
    if (L->kind == MLP_LAYER_DENSE) {
        info->kernel = P + L->w_off;
        info->bias = L->b_off != NO_OFF ? P + L->b_off : NULL;
    } else if (L->kind == MLP_LAYER_BATCHNORM) {
        info->gamma = L->w_off != NO_OFF ? P + L->w_off : NULL;
        info->beta = L->b_off != NO_OFF ? P + L->b_off : NULL;
        info->run_mean = P + L->rm_off;
        info->run_var = P + L->rv_off;
    }
}

static const char *loss_name(mlp_loss l)
{
    return l == MLP_LOSS_BCE ? "binary_crossentropy" : l == MLP_LOSS_CCE ? "categorical_crossentropy" : "mse";
}

char *mlp_arch_json(const mlp *m)
{
    json_t *root = json_object(), *layers = json_array();
    json_object_set_new(root, "type", json_string("mlp"));
    json_object_set_new(root, "n_inputs", json_integer((json_int_t)m->n_in));
    for (size_t i = 0; i < m->nl; i++) {
        const layer *L = &m->L[i];
        json_t *jl = json_object();
        switch (L->kind) {
        case MLP_LAYER_DENSE:
            json_object_set_new(jl, "dense", json_integer((json_int_t)L->out));
            json_object_set_new(jl, "activation", json_string(nn_act_name(L->act)));
            if (L->act == NN_ACT_LEAKY_RELU || L->act == NN_ACT_ELU)
                json_object_set_new(jl, "alpha", json_real(L->alpha));
            json_object_set_new(jl, "use_bias", json_boolean(L->use_bias));
            json_object_set_new(jl, "l2", json_real(L->l2));
            json_object_set_new(jl, "init", json_string(nn_init_name(L->init)));
            break;
        case MLP_LAYER_DROPOUT: json_object_set_new(jl, "dropout", json_real(L->rate)); break;
        case MLP_LAYER_BATCHNORM: {
            json_t *b = json_object();
            json_object_set_new(b, "momentum", json_real(L->bn_momentum));
            json_object_set_new(b, "epsilon", json_real(L->bn_eps));
            json_object_set_new(b, "center", json_boolean(L->bn_center));
            json_object_set_new(b, "scale", json_boolean(L->bn_scale));
            json_object_set_new(jl, "batchnorm", b);
            break;
        }
        case MLP_LAYER_ACTIVATION:
            json_object_set_new(jl, "activation", json_string(nn_act_name(L->act)));
            if (L->act == NN_ACT_LEAKY_RELU || L->act == NN_ACT_ELU)
                json_object_set_new(jl, "alpha", json_real(L->alpha));
            break;
        }
        json_array_append_new(layers, jl);
    }
    json_object_set_new(root, "layers", layers);
    json_t *opt = json_object(), *oc = json_object();
    if (m->opt == OPT_ADAM) {
        json_object_set_new(oc, "lr", json_real(m->adam.lr));
        json_object_set_new(oc, "beta1", json_real(m->adam.beta1));
        json_object_set_new(oc, "beta2", json_real(m->adam.beta2));
        json_object_set_new(oc, "epsilon", json_real(m->adam.eps));
        json_object_set_new(opt, "adam", oc);
    } else {
        json_object_set_new(oc, "lr", json_real(m->sgd.lr));
        json_object_set_new(oc, "momentum", json_real(m->sgd.momentum));
        json_object_set_new(oc, "nesterov", json_boolean(m->sgd.nesterov));
        json_object_set_new(opt, "sgd", oc);
    }
    json_object_set_new(root, "optimizer", opt);
    json_object_set_new(root, "loss", json_string(loss_name(m->loss)));
    json_object_set_new(root, "l2", json_real(m->l2));
    json_object_set_new(root, "init", json_string(nn_init_name(m->init)));
    json_object_set_new(root, "seed", json_integer((json_int_t)(m->seed & 0x7fffffffffffffffull)));
    if (m->n_cw) {
        json_t *cw = json_array();
        for (size_t i = 0; i < m->n_cw; i++)
            json_array_append_new(cw, json_real(m->class_weight[i]));
        json_object_set_new(root, "class_weight", cw);
    }
    if (m->metrics)
        json_object_set(root, "metrics", m->metrics);
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    return s;
}

/* ------------------------------------------------------------------ model files */

/* Builds the container for a model: "arch", "params", optional "features". */
static int to_container(const mlp *m, const char *features_json, modelfile **out, mlhep_err *e)
{
    int rc;
    *out = NULL;
    modelfile *mf = modelfile_new(MODELFILE_KIND_MLP);
    char *arch = mlp_arch_json(m);
    uint8_t *pb = malloc(m->n_params * 4 + 1);
    if (!mf || !arch || !pb) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory saving the model");
        goto done;
    }
    wbuf_store_lef32_array(pb, m->params, m->n_params);
    if ((rc = modelfile_add(mf, "arch", arch, strlen(arch), e)) ||
        (rc = modelfile_add(mf, "params", pb, m->n_params * 4, e)) ||
        (features_json && (rc = modelfile_add(mf, "features", features_json, strlen(features_json), e))))
        goto done;
    *out = mf;
    mf = NULL;
done:
    free(pb);
    free(arch);
    modelfile_free(mf);
    return rc;
}

int mlp_save_buffer(const mlp *m, const char *features_json, uint8_t **buf, size_t *len, mlhep_err *e)
{
    modelfile *mf;
    int rc = to_container(m, features_json, &mf, e);
    if (rc)
        return rc;
    rc = modelfile_encode(mf, buf, len, e);
    modelfile_free(mf);
    return rc;
}

int mlp_save_file(const mlp *m, const char *features_json, const char *path, mlhep_err *e)
{
    modelfile *mf;
    int rc = to_container(m, features_json, &mf, e);
    if (rc)
        return err_prefix(e, "%s", path);
    rc = modelfile_write(mf, path, e);
    modelfile_free(mf);
    return rc;
}

static int load_from_container(const modelfile *mf, mlp **out, char **features_json, mlhep_err *e)
{
    *out = NULL;
    if (features_json)
        *features_json = NULL;
    if (modelfile_get_kind(mf) != MODELFILE_KIND_MLP)
        return err_set(e, MLHEP_EINVAL, "model file holds a %s model, not an mlp",
                       modelfile_kind_name(modelfile_get_kind(mf)));
    size_t alen, plen, flen = 0;
    const uint8_t *arch = modelfile_get(mf, "arch", &alen);
    const uint8_t *pb = modelfile_get(mf, "params", &plen);
    const uint8_t *feat = modelfile_get(mf, "features", &flen);
    if (!arch || !pb)
        return err_set(e, MLHEP_EFORMAT, "model file has no \"%s\" section", arch ? "params" : "arch");
    json_error_t je;
    json_t *root = json_loadb((const char *)arch, alen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(e, MLHEP_EFORMAT, "model file \"arch\" is not valid JSON: %s", je.text);
    const json_t *nin = json_object_get(root, "n_inputs");
    if (!json_is_integer(nin) || json_integer_value(nin) < 1) {
        json_decref(root);
        return err_set(e, MLHEP_EFORMAT, "model file \"arch\" has no valid n_inputs");
    }
    mlp *m;
    int rc = build_from_json(root, (size_t)json_integer_value(nin), 0, &m, e);
    json_decref(root);
    if (rc)
        return err_prefix(e, "model file \"arch\"");
    if (plen != m->n_params * 4) {
        size_t np = m->n_params;
        mlp_free(m);
        return err_set(e, MLHEP_EFORMAT,
                       "model file is inconsistent: \"params\" has %zu bytes, the architecture needs %zu floats (%zu bytes)",
                       plen, np, np * 4);
    }
    cursor pc;
    cur_init(&pc, pb, plen);
    cur_lef32_array(&pc, m->params, m->n_params);
    if (feat && features_json) {
        *features_json = malloc(flen + 1);
        if (!*features_json) {
            mlp_free(m);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        memcpy(*features_json, feat, flen);
        (*features_json)[flen] = '\0';
    }
    *out = m;
    return 0;
}

int mlp_load_buffer(const uint8_t *buf, size_t len, mlp **out, char **features_json, mlhep_err *e)
{
    modelfile *mf;
    *out = NULL;
    if (features_json)
        *features_json = NULL;
    int rc = modelfile_decode(buf, len, &mf, e);
    if (rc)
        return rc;
    rc = load_from_container(mf, out, features_json, e);
    modelfile_free(mf);
    return rc;
}

int mlp_load_file(const char *path, mlp **out, char **features_json, mlhep_err *e)
{
    modelfile *mf;
    *out = NULL;
    if (features_json)
        *features_json = NULL;
    int rc = modelfile_read(path, &mf, e);
    if (rc)
        return rc;
    rc = load_from_container(mf, out, features_json, e);
    modelfile_free(mf);
    if (rc)
        err_prefix(e, "%s", path);
    return rc;
}

/* ------------------------------------------------------------------ optimiser state */

float *mlp_opt_state(mlp *m, int which)
{
    return which == 0 ? m->opt1 : which == 1 ? m->opt2 : NULL;
}

void mlp_set_steps(mlp *m, long steps) { m->steps = steps; }

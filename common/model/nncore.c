/* nncore.c - numeric core for neural networks (see nncore.h).
 *
 * The element-wise loops here (bias + activation, dropout, column sums) are a large
 * part of a small-batch training step; the project builds at -O2, where GCC vectorises
 * little, so this file asks for O3 (no -ffast-math: IEEE semantics are kept). The Adam
 * loop uses SSE intrinsics (baseline on x86-64) because sqrtf's errno check keeps GCC
 * from vectorising it; other targets use the scalar loop. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "model/nncore.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- activations */

/* Name <-> enum tables: the canonical name of a value comes first, aliases after. */
typedef struct named {
    const char *name;
    int value;
} named;

static int named_parse(const named *t, size_t n, const char *name, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, t[i].name) == 0) {
            *out = t[i].value;
            return 0;
        }
    return MLHEP_EINVAL;
}

static const char *named_name(const named *t, size_t n, int value)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == value)
            return t[i].name;
    return "?";
}

static const named act_names[] = {
    {"linear", NN_ACT_LINEAR},   {"relu", NN_ACT_RELU},         {"leaky_relu", NN_ACT_LEAKY_RELU},
    {"elu", NN_ACT_ELU},         {"tanh", NN_ACT_TANH},         {"sigmoid", NN_ACT_SIGMOID},
    {"softmax", NN_ACT_SOFTMAX}, {"leakyrelu", NN_ACT_LEAKY_RELU}, {"none", NN_ACT_LINEAR},
    {"identity", NN_ACT_LINEAR},
};
#define N_ACT_NAMES (sizeof act_names / sizeof act_names[0])

int nn_act_parse(const char *name, nn_act *out)
{
    int v;
    int rc = named_parse(act_names, N_ACT_NAMES, name, &v);
    if (!rc)
        *out = (nn_act)v;
    return rc;
}

const char *nn_act_name(nn_act a)
{
    return named_name(act_names, N_ACT_NAMES, a);
}

float nn_act_default_alpha(nn_act a)
{
    return a == NN_ACT_LEAKY_RELU ? 0.3f : a == NN_ACT_ELU ? 1.0f : 0.0f;
}

float nn_sigmoid(float x)
{
    if (x >= 0) {
        float z = expf(-x);
        return 1.0f / (1.0f + z);
    }
    float z = expf(x);
    return z / (1.0f + z);
}

void nn_softmax_row(float *row, size_t k)
{
    float mx = row[0];
    for (size_t j = 1; j < k; j++)
        mx = row[j] > mx ? row[j] : mx;
    float s = 0;
    for (size_t j = 0; j < k; j++) {
        row[j] = expf(row[j] - mx);
        s += row[j];
    }
    float inv = 1.0f / s;
    for (size_t j = 0; j < k; j++)
        row[j] *= inv;
}

/* The activation is chosen once per call (switch outside the loops); the bias add is
 * fused into the same pass over Y. */
void nn_bias_act_forward(float *Y, size_t n, size_t cols, const float *b, nn_act act, float alpha)
{
    for (size_t i = 0; i < n; i++) {
        float *y = Y + i * cols;
        if (b)
            for (size_t j = 0; j < cols; j++)
                y[j] += b[j];
        switch (act) {
        case NN_ACT_LINEAR: break;
        case NN_ACT_RELU:
            for (size_t j = 0; j < cols; j++)
                y[j] = y[j] > 0 ? y[j] : 0;
            break;
        case NN_ACT_LEAKY_RELU:
            for (size_t j = 0; j < cols; j++)
                y[j] = y[j] > 0 ? y[j] : alpha * y[j];
            break;
        case NN_ACT_ELU:
            for (size_t j = 0; j < cols; j++)
                y[j] = y[j] > 0 ? y[j] : alpha * expm1f(y[j]);
            break;
        case NN_ACT_TANH:
            for (size_t j = 0; j < cols; j++)
                y[j] = tanhf(y[j]);
            break;
        case NN_ACT_SIGMOID:
            for (size_t j = 0; j < cols; j++)
                y[j] = nn_sigmoid(y[j]);
            break;
        case NN_ACT_SOFTMAX: nn_softmax_row(y, cols); break;
        }
    }
}

void nn_act_backward(float *dY, const float *Y, size_t n, size_t cols, nn_act act, float alpha)
{
    size_t cnt = n * cols;
    switch (act) {
    case NN_ACT_LINEAR: return;
    case NN_ACT_RELU:
        for (size_t i = 0; i < cnt; i++)
            dY[i] = Y[i] > 0 ? dY[i] : 0;
        return;
    case NN_ACT_LEAKY_RELU: /* alpha > 0 so sign(y) == sign(x) */
        for (size_t i = 0; i < cnt; i++)
            dY[i] = Y[i] > 0 ? dY[i] : alpha * dY[i];
        return;
    case NN_ACT_ELU: /* for x <= 0: dy/dx = alpha e^x = y + alpha */
        for (size_t i = 0; i < cnt; i++)
            dY[i] = Y[i] > 0 ? dY[i] : (Y[i] + alpha) * dY[i];
        return;
    case NN_ACT_TANH:
        for (size_t i = 0; i < cnt; i++)
            dY[i] *= 1.0f - Y[i] * Y[i];
        return;
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < cnt; i++)
            dY[i] *= Y[i] * (1.0f - Y[i]);
        return;
    case NN_ACT_SOFTMAX:
        for (size_t i = 0; i < n; i++) {
            float *d = dY + i * cols;
            const float *y = Y + i * cols;
            float s = 0;
            for (size_t j = 0; j < cols; j++)
                s += d[j] * y[j];
            for (size_t j = 0; j < cols; j++)
                d[j] = y[j] * (d[j] - s);
        }
        return;
    }
}

/* ---------------------------------------------------------------- dense */

void nn_dense_forward(const float *X, size_t n, size_t in, const float *W, size_t out, float *Y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)out, (blasint)in,
                1.0f, X, (blasint)in, W, (blasint)out, 0.0f, Y, (blasint)out);
}

void nn_colsum(const float *A, size_t n, size_t cols, float *out)
{
    memcpy(out, A, cols * sizeof *out);
    for (size_t i = 1; i < n; i++) {
        const float *a = A + i * cols;
        for (size_t j = 0; j < cols; j++)
            out[j] += a[j];
    }
}

void nn_dense_backward(const float *X, size_t n, size_t in, const float *W, size_t out,
                       const float *dY, float *dW, float *db, float *dX)
{
    /* dW[in x out] = X^T[in x n] dY[n x out] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)in, (blasint)out, (blasint)n,
                1.0f, X, (blasint)in, dY, (blasint)out, 0.0f, dW, (blasint)out);
    if (db)
        nn_colsum(dY, n, out, db);
    /* dX[n x in] = dY[n x out] W^T[out x in] */
    if (dX)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n, (blasint)in,
                    (blasint)out, 1.0f, dY, (blasint)out, W, (blasint)out, 0.0f, dX, (blasint)in);
}

/* ---------------------------------------------------------------- dropout */

/* keep when a 16-bit uniform integer >= rate * 2^16 (rate resolution 1/65536), four
 * draws per 64-bit output: unit i of a call takes bits 16 (i % 4) .. 16 (i % 4) + 15 of
 * the call's (i / 4)-th rng_next() output, i.e. the (i % 4)-th 16-bit word of it in
 * little-endian order. Branch-free: the kept value's bits are selected with an integer
 * mask (a branch per unit mispredicts half the time: it was a fifth of a training
 * step). The values are those of keep * (u >= thr): keep or +0. */
static inline float drop_unit(uint32_t u, uint32_t thr, uint32_t keepbits)
{
    uint32_t sel = 0u - (uint32_t)(u >= thr);
    uint32_t b = keepbits & sel;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline void drop_params(float rate, uint32_t *thr, uint32_t *keepbits)
{
    *thr = (uint32_t)((double)rate * 65536.0 + 0.5);
    float keep = nn_dropout_keep(rate);
    memcpy(keepbits, &keep, sizeof keep);
}

float nn_dropout_keep(float rate)
{
    return rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
}

/* One dropout pass over a segment of len units: v = in[j] (+ b[j]) (then max(v, 0) when
 * relu: the values of nn_bias_act_forward's relu), mask value mk = keep or +0 from u[j],
 * mask[j] = mk (mask may be NULL), out[j] = v * mk (out may be in). The body is written
 * once and compiled twice (AVX2 where the CPU has it, chosen at run time; no FMA: every
 * value is the one the scalar loop computes). */
static inline __attribute__((always_inline)) void drop_seg_body(const float *in, const float *b, int relu,
                                                                const uint16_t *u, uint32_t thr,
                                                                uint32_t keepbits, float *mask, float *out,
                                                                size_t len)
{
    for (size_t j = 0; j < len; j++) {
        float v = in[j];
        if (b)
            v += b[j];
        if (relu)
            v = v > 0 ? v : 0;
        float mk = drop_unit(u[j], thr, keepbits);
        if (mask)
            mask[j] = mk;
        out[j] = v * mk;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void drop_seg_avx2(const float *in, const float *b, int relu,
                                                          const uint16_t *u, uint32_t thr, uint32_t keepbits,
                                                          float *mask, float *out, size_t len)
{
    const __m256i vthr = _mm256_set1_epi32((int)thr - 1), vkeep = _mm256_set1_epi32((int)keepbits);
    const __m256 zero = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 8 <= len; j += 8) {
        __m256 v = _mm256_loadu_ps(in + j);
        if (b)
            v = _mm256_add_ps(v, _mm256_loadu_ps(b + j));
        if (relu)
            v = _mm256_max_ps(v, zero); /* v > 0 ? v : +0 (NaN and -0 give +0, as the scalar test) */
        __m256i uu = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(u + j)));
        __m256 mk = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(uu, vthr), vkeep));
        if (mask)
            _mm256_storeu_ps(mask + j, mk);
        _mm256_storeu_ps(out + j, _mm256_mul_ps(v, mk));
    }
    drop_seg_body(in + j, b ? b + j : NULL, relu, u + j, thr, keepbits, mask ? mask + j : NULL, out + j, len - j);
}
#endif

static void drop_seg(const float *in, const float *b, int relu, const uint16_t *u, uint32_t thr, uint32_t keepbits,
                     float *mask, float *out, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2")) {
        drop_seg_avx2(in, b, relu, u, thr, keepbits, mask, out, len);
        return;
    }
#endif
    drop_seg_body(in, b, relu, u, thr, keepbits, mask, out, len);
}

#define DROP_DRAWS 256 /* rng outputs drawn ahead, four units each */

/* Draws up to DROP_DRAWS outputs (enough for `units` units, no more) into u as 16-bit
 * words in unit order; returns the units they cover. */
static size_t drop_draw(rng *r, uint16_t *u, size_t units)
{
    size_t draws = (units + 3) / 4;
    draws = draws < DROP_DRAWS ? draws : DROP_DRAWS;
    for (size_t k = 0; k < draws; k++) {
        uint64_t x = rng_next(r);
        u[4 * k] = (uint16_t)x;
        u[4 * k + 1] = (uint16_t)(x >> 16);
        u[4 * k + 2] = (uint16_t)(x >> 32);
        u[4 * k + 3] = (uint16_t)(x >> 48);
    }
    return 4 * draws;
}

/* The dropout of n rows of `cols` units (unit order row-major, as one flat array: the
 * draws do not restart at a row), with the bias b[cols] (may be NULL) and relu applied
 * first when asked; see drop_seg_body for mask and out. */
static void drop_rows(rng *r, float rate, const float *in, size_t n, size_t cols, const float *b, int relu,
                      float *mask, float *out)
{
    uint32_t thr, kb;
    drop_params(rate, &thr, &kb);
    uint16_t u[4 * DROP_DRAWS];
    size_t left = n * cols, have = 0, at = 0; /* units not yet drawn; drawn and unused from u + at */
    for (size_t i = 0; i < n; i++) {
        size_t off = i * cols;
        for (size_t j = 0; j < cols;) {
            if (at == have) {
                have = drop_draw(r, u, left);
                left -= have < left ? have : left;
                at = 0;
            }
            size_t len = cols - j < have - at ? cols - j : have - at;
            drop_seg(in + off + j, b ? b + j : NULL, relu, u + at, thr, kb, mask ? mask + off + j : NULL,
                     out + off + j, len);
            j += len;
            at += len;
        }
    }
}

void nn_dropout_mask(rng *r, float rate, float *mask, size_t count)
{
    uint32_t thr, kb;
    drop_params(rate, &thr, &kb);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        uint64_t x = rng_next(r);
        for (int k = 0; k < 4; k++)
            mask[i + (size_t)k] = drop_unit((uint32_t)(x >> (16 * k)) & 0xffffu, thr, kb);
    }
    if (i < count) {
        uint64_t x = rng_next(r);
        for (int k = 0; i < count; i++, k++)
            mask[i] = drop_unit((uint32_t)(x >> (16 * k)) & 0xffffu, thr, kb);
    }
}

void nn_dropout_forward(rng *r, float rate, const float *in, float *mask, float *out, size_t count)
{
    drop_rows(r, rate, in, 1, count, NULL, 0, mask, out);
}

void nn_bias_relu_dropout_forward(rng *r, float rate, float *Y, size_t n, size_t cols, const float *b)
{
    drop_rows(r, rate, Y, n, cols, b, 1, NULL, Y);
}

/* dY = Y > 0 ? dY * scale : 0 and db = column sums of the result, in one pass over the
 * rows (db summed in row order, as nn_colsum). Compiled twice as drop_seg. */
static inline __attribute__((always_inline)) void relu_bwd_body(float *dY, const float *Y, size_t n, size_t cols,
                                                                float scale, float *db)
{
    for (size_t i = 0; i < n; i++) {
        float *d = dY + i * cols;
        const float *y = Y + i * cols;
        if (scale != 1.0f)
            for (size_t j = 0; j < cols; j++) {
                float t = d[j] * scale; /* unconditional: the loop is then vectorised */
                d[j] = y[j] > 0 ? t : 0;
            }
        else
            for (size_t j = 0; j < cols; j++)
                d[j] = y[j] > 0 ? d[j] : 0;
        if (db) {
            if (i == 0)
                memcpy(db, d, cols * sizeof *db);
            else
                for (size_t j = 0; j < cols; j++)
                    db[j] += d[j];
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void relu_bwd_avx2(float *dY, const float *Y, size_t n, size_t cols,
                                                          float scale, float *db)
{
    const __m256 vs = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
    size_t c8 = cols & ~(size_t)7;
    for (size_t i = 0; i < n; i++) {
        float *d = dY + i * cols;
        const float *y = Y + i * cols;
        for (size_t j = 0; j < c8; j += 8) {
            __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(y + j), zero, _CMP_GT_OQ);
            __m256 v = _mm256_and_ps(keep, _mm256_mul_ps(_mm256_loadu_ps(d + j), vs));
            _mm256_storeu_ps(d + j, v);
            if (db)
                _mm256_storeu_ps(db + j, i ? _mm256_add_ps(_mm256_loadu_ps(db + j), v) : v);
        }
        for (size_t j = c8; j < cols; j++) {
            float t = d[j] * scale;
            d[j] = y[j] > 0 ? t : 0;
            if (db)
                db[j] = i ? db[j] + d[j] : d[j];
        }
    }
}
#endif

void nn_relu_backward_colsum(float *dY, const float *Y, size_t n, size_t cols, float scale, float *db)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2")) {
        relu_bwd_avx2(dY, Y, n, cols, scale, db);
        return;
    }
#endif
    relu_bwd_body(dY, Y, n, cols, scale, db);
}

void nn_add(float *restrict acc, const float *restrict x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        acc[i] += x[i];
}

void nn_mul(const float *in, const float *mask, float *out, size_t count)
{
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] * mask[i];
}

void nn_blas_one_thread(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

/* ---------------------------------------------------------------- batch norm */

void nn_batchnorm_forward_train(const float *X, size_t n, size_t cols, const float *gamma,
                                const float *beta, float eps, float momentum, float *run_mean,
                                float *run_var, float *xhat, float *inv_std, float *Y)
{
    /* Two passes per column block, statistics in double for accuracy: mean, then
     * variance of the centred values. Row-major walk for cache friendliness. */
    double mean_acc[256], var_acc[256];
    for (size_t j0 = 0; j0 < cols; j0 += 256) {
        size_t jn = cols - j0 < 256 ? cols - j0 : 256;
        for (size_t j = 0; j < jn; j++)
            mean_acc[j] = var_acc[j] = 0;
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * cols + j0;
            for (size_t j = 0; j < jn; j++)
                mean_acc[j] += x[j];
        }
        for (size_t j = 0; j < jn; j++)
            mean_acc[j] /= (double)n;
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * cols + j0;
            for (size_t j = 0; j < jn; j++) {
                double d = x[j] - mean_acc[j];
                var_acc[j] += d * d;
            }
        }
        for (size_t j = 0; j < jn; j++) {
            double var = var_acc[j] / (double)n;
            inv_std[j0 + j] = (float)(1.0 / sqrt(var + eps));
            run_mean[j0 + j] = momentum * run_mean[j0 + j] + (1 - momentum) * (float)mean_acc[j];
            run_var[j0 + j] = momentum * run_var[j0 + j] + (1 - momentum) * (float)var;
            var_acc[j] = mean_acc[j]; /* reuse as float mean below */
        }
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * cols + j0;
            float *xh = xhat + i * cols + j0, *y = Y + i * cols + j0;
            for (size_t j = 0; j < jn; j++) {
                float h = (float)(x[j] - var_acc[j]) * inv_std[j0 + j];
                xh[j] = h;
                y[j] = (gamma ? gamma[j0 + j] : 1.0f) * h + (beta ? beta[j0 + j] : 0.0f);
            }
        }
    }
}

void nn_batchnorm_forward_infer(const float *X, size_t n, size_t cols, const float *gamma,
                                const float *beta, float eps, const float *run_mean,
                                const float *run_var, float *Y)
{
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * cols;
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++) {
            float s = (gamma ? gamma[j] : 1.0f) / sqrtf(run_var[j] + eps);
            y[j] = (x[j] - run_mean[j]) * s + (beta ? beta[j] : 0.0f);
        }
    }
}

void nn_batchnorm_backward(const float *dY, const float *xhat, const float *inv_std,
                           const float *gamma, size_t n, size_t cols, float *dgamma,
                           float *dbeta, float *dX)
{
    double sg[256], sb[256];
    for (size_t j0 = 0; j0 < cols; j0 += 256) {
        size_t jn = cols - j0 < 256 ? cols - j0 : 256;
        for (size_t j = 0; j < jn; j++)
            sg[j] = sb[j] = 0;
        for (size_t i = 0; i < n; i++) {
            const float *d = dY + i * cols + j0, *h = xhat + i * cols + j0;
            for (size_t j = 0; j < jn; j++) {
                sg[j] += (double)d[j] * h[j];
                sb[j] += d[j];
            }
        }
        for (size_t j = 0; j < jn; j++) {
            if (dgamma)
                dgamma[j0 + j] = (float)sg[j];
            if (dbeta)
                dbeta[j0 + j] = (float)sb[j];
        }
        /* dx = gamma inv_std / n (n dy - sum dy - xhat sum(dy xhat)) */
        for (size_t i = 0; i < n; i++) {
            const float *d = dY + i * cols + j0, *h = xhat + i * cols + j0;
            float *dx = dX + i * cols + j0;
            for (size_t j = 0; j < jn; j++) {
                float k = (gamma ? gamma[j0 + j] : 1.0f) * inv_std[j0 + j] / (float)n;
                dx[j] = k * ((float)n * d[j] - (float)sb[j] - h[j] * (float)sg[j]);
            }
        }
    }
}

/* ---------------------------------------------------------------- losses */

static int check_weights(const float *w, size_t n, mlhep_err *e)
{
    if (!w)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(w[i] >= 0) || isinf(w[i]))
            return err_set(e, MLHEP_EINVAL, "row %zu: sample weight %g is not a finite value >= 0",
                           i, (double)w[i]);
    return 0;
}

int nn_loss_bce_logits(const float *z, const float *y, const float *w, size_t n, float *dz,
                       double *loss, mlhep_err *e)
{
    int rc = check_weights(w, n, e);
    if (rc)
        return rc;
    double s = 0;
    float invn = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float t = y[i], x = z[i], wi = w ? w[i] : 1.0f;
        if (!(t >= 0 && t <= 1))
            return err_set(e, MLHEP_EINVAL, "row %zu: binary label %g is not in [0, 1]", i,
                           (double)t);
        double l = (x > 0 ? x : 0) - (double)x * t + log1p(exp(-fabs((double)x)));
        s += wi * l;
        dz[i] = wi * (nn_sigmoid(x) - t) * invn;
    }
    *loss = s / (double)n;
    return 0;
}

#define PROB_EPS 1e-7f

int nn_loss_bce_prob(const float *p, const float *y, const float *w, size_t n, float *dp,
                     double *loss, mlhep_err *e)
{
    int rc = check_weights(w, n, e);
    if (rc)
        return rc;
    double s = 0;
    float invn = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float t = y[i], wi = w ? w[i] : 1.0f;
        if (!(t >= 0 && t <= 1))
            return err_set(e, MLHEP_EINVAL, "row %zu: binary label %g is not in [0, 1]", i,
                           (double)t);
        float q = p[i];
        int clipped = !(q > PROB_EPS && q < 1 - PROB_EPS);
        q = q < PROB_EPS ? PROB_EPS : q > 1 - PROB_EPS ? 1 - PROB_EPS : q;
        if (q != q)
            q = 0.5f;
        s += wi * -((double)t * log(q) + (1.0 - t) * log(1.0 - q));
        dp[i] = clipped ? 0.0f : wi * (-t / q + (1 - t) / (1 - q)) * invn;
    }
    *loss = s / (double)n;
    return 0;
}

int nn_class_index(float y, size_t k, size_t row, size_t *out, mlhep_err *e)
{
    if (!(y >= 0) || y != floorf(y) || (double)y >= (double)k)
        return err_set(e, MLHEP_EINVAL, "row %zu: class label %g is not an integer in [0, %zu)",
                       row, (double)y, k);
    *out = (size_t)y;
    return 0;
}

int nn_loss_cce_logits(const float *z, size_t k, const float *y, const float *w, size_t n,
                       float *dz, double *loss, mlhep_err *e)
{
    int rc = check_weights(w, n, e);
    if (rc)
        return rc;
    double s = 0;
    float invn = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        if ((rc = nn_class_index(y[i], k, i, &c, e)))
            return rc;
        const float *zi = z + i * k;
        float *d = dz + i * k;
        float mx = zi[0];
        for (size_t j = 1; j < k; j++)
            mx = zi[j] > mx ? zi[j] : mx;
        double se = 0;
        for (size_t j = 0; j < k; j++) {
            d[j] = expf(zi[j] - mx);
            se += d[j];
        }
        float wi = w ? w[i] : 1.0f;
        s += wi * (log(se) - ((double)zi[c] - mx));
        float f = wi * invn / (float)se;
        for (size_t j = 0; j < k; j++)
            d[j] *= f;
        d[c] -= wi * invn;
    }
    *loss = s / (double)n;
    return 0;
}

int nn_loss_cce_prob(const float *p, size_t k, const float *y, const float *w, size_t n,
                     float *dp, double *loss, mlhep_err *e)
{
    int rc = check_weights(w, n, e);
    if (rc)
        return rc;
    double s = 0;
    float invn = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        if ((rc = nn_class_index(y[i], k, i, &c, e)))
            return rc;
        float wi = w ? w[i] : 1.0f;
        memset(dp + i * k, 0, k * sizeof *dp);
        float q = p[i * k + c];
        int clipped = !(q > PROB_EPS);
        q = clipped ? PROB_EPS : q;
        s += wi * -log(q);
        dp[i * k + c] = clipped ? 0.0f : -wi / q * invn;
    }
    *loss = s / (double)n;
    return 0;
}

int nn_loss_mse(const float *yhat, const float *y, const float *w, size_t n, float *dyhat,
                double *loss, mlhep_err *e)
{
    int rc = check_weights(w, n, e);
    if (rc)
        return rc;
    double s = 0;
    float invn = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return err_set(e, MLHEP_EINVAL, "row %zu: regression target %g is not finite", i,
                           (double)y[i]);
        float wi = w ? w[i] : 1.0f, d = yhat[i] - y[i];
        s += wi * (double)d * d;
        dyhat[i] = 2.0f * wi * d * invn;
    }
    *loss = s / (double)n;
    return 0;
}

/* ---------------------------------------------------------------- L2, optimisers */

double nn_l2_add(const float *W, float *G, size_t count, float lambda)
{
    double s = 0;
    float k = 2.0f * lambda;
    for (size_t i = 0; i < count; i++) {
        s += (double)W[i] * W[i];
        G[i] += k * W[i];
    }
    return lambda * s;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same operations eight at a time where the CPU has AVX (chosen at run time; no
 * fused multiply-add, so every value is the one the SSE and scalar loops compute): the
 * optimiser step is one pass over every parameter per batch, ~10% of a small-batch step. */
__attribute__((target("avx"))) static size_t adam_avx(float b1, float b2, float c1, float c2, float step,
                                                      float vscale, float eps, float *p, const float *g,
                                                      float *m, float *v, size_t count)
{
    const __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), vc1 = _mm256_set1_ps(c1),
                 vc2 = _mm256_set1_ps(c2);
    const __m256 vstep = _mm256_set1_ps(step), vvs = _mm256_set1_ps(vscale), veps = _mm256_set1_ps(eps);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vc1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 den = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), vvs), veps);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), _mm256_div_ps(_mm256_mul_ps(vstep, mi), den)));
    }
    return i;
}
#endif

void nn_adam_step(const nn_adam *o, long t, float *p, const float *g, float *m, float *v,
                  size_t count)
{
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    const float step = (float)(o->lr / (1.0 - pow(b1, (double)t)));
    const float vscale = (float)(1.0 / sqrt(1.0 - pow(b2, (double)t)));
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx"))
        i = adam_avx(b1, b2, c1, c2, step, vscale, eps, p, g, m, v, count);
#endif
#if defined(__SSE2__)
    const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2);
    const __m128 vstep = _mm_set1_ps(step), vvs = _mm_set1_ps(vscale), veps = _mm_set1_ps(eps);
    for (; i + 4 <= count; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i);
        __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(vc1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(vc2, _mm_mul_ps(gi, gi)));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), vvs), veps);
        _mm_storeu_ps(p + i, _mm_sub_ps(_mm_loadu_ps(p + i), _mm_div_ps(_mm_mul_ps(vstep, mi), den)));
    }
#endif
    for (; i < count; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) * vscale + eps);
    }
}

void nn_sgd_step(const nn_sgd *o, float *p, const float *g, float *vel, size_t count)
{
    const float lr = o->lr, mu = o->momentum;
    if (mu == 0 || !vel) {
        for (size_t i = 0; i < count; i++)
            p[i] -= lr * g[i];
        return;
    }
    if (o->nesterov) {
        for (size_t i = 0; i < count; i++) {
            float v = mu * vel[i] - lr * g[i];
            vel[i] = v;
            p[i] += mu * v - lr * g[i];
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            float v = mu * vel[i] - lr * g[i];
            vel[i] = v;
            p[i] += v;
        }
    }
}

/* ---------------------------------------------------------------- init */

static const named init_names[] = {
    {"glorot_uniform", NN_INIT_GLOROT_UNIFORM}, {"glorot_normal", NN_INIT_GLOROT_NORMAL},
    {"he_uniform", NN_INIT_HE_UNIFORM},         {"he_normal", NN_INIT_HE_NORMAL},
    {"xavier_uniform", NN_INIT_GLOROT_UNIFORM}, {"xavier_normal", NN_INIT_GLOROT_NORMAL},
};
#define N_INIT_NAMES (sizeof init_names / sizeof init_names[0])

int nn_init_parse(const char *name, nn_init *out)
{
    int v;
    int rc = named_parse(init_names, N_INIT_NAMES, name, &v);
    if (!rc)
        *out = (nn_init)v;
    return rc;
}

const char *nn_init_name(nn_init i)
{
    return named_name(init_names, N_INIT_NAMES, i);
}

void nn_init_kernel(rng *r, nn_init kind, size_t fan_in, size_t fan_out, float *W)
{
    size_t cnt = fan_in * fan_out;
    double fi = (double)fan_in, fo = (double)fan_out;
    switch (kind) {
    case NN_INIT_GLOROT_UNIFORM:
    case NN_INIT_HE_UNIFORM: {
        float l = (float)(kind == NN_INIT_HE_UNIFORM ? sqrt(6.0 / fi) : sqrt(6.0 / (fi + fo)));
        for (size_t i = 0; i < cnt; i++)
            W[i] = (2.0f * rng_unitf(r) - 1.0f) * l;
        break;
    }
    case NN_INIT_GLOROT_NORMAL:
    case NN_INIT_HE_NORMAL: {
        float sd = (float)(kind == NN_INIT_HE_NORMAL ? sqrt(2.0 / fi) : sqrt(2.0 / (fi + fo)));
        for (size_t i = 0; i < cnt; i++)
            W[i] = rng_normalf(r) * sd;
        break;
    }
    }
}

/* bench_mlp.c - helper of bench/bench_mlp.sh (compiled by it): trains the reference MLP
 * (dense 128 relu, dropout 0.5, dense 64 relu, dropout 0.5, dense 1 sigmoid; Adam lr
 * 0.001, binary cross-entropy) with mlhep on synthetic data, one epoch = every training
 * row once in shuffled batches, and prints samples/s and validation ROC AUC.
 *
 *   bench_mlp gen DIR NTRAIN NVAL NFEAT      writes DIR/train.bin, DIR/val.bin
 *   bench_mlp train DIR NFEAT BATCH EPOCHS   prints "mlhep batch=B samples_per_s=S auc=A"
 *                                            (THREADS=k: data-parallel on a team of k)
 *   bench_mlp ceiling NFEAT BATCH STEPS      the GEMMs of a training step alone
 *
 * Data file: float32 rows of NFEAT features followed by the label, little-endian. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/mlp.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of this process: robust against other processes sharing the cores. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double thread_cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int gen(const char *dir, size_t ntrain, size_t nval, size_t nf)
{
    rng r;
    rng_seed(&r, 2024);
    float *coef = malloc(nf * sizeof *coef), *row = malloc((nf + 1) * sizeof *row);
    for (size_t j = 0; j < nf; j++)
        coef[j] = rng_normalf(&r) / sqrtf((float)nf); /* the linear part has variance ~1 at any width */
    for (int part = 0; part < 2; part++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s.bin", dir, part ? "val" : "train");
        FILE *f = fopen(p, "wb");
        if (!f)
            return 1;
        size_t n = part ? nval : ntrain;
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < nf; j++) {
                row[j] = rng_normalf(&r);
                s += coef[j] * row[j];
            }
            /* non-linear signal: a quadratic and a product term plus noise */
            s += 0.8 * (row[0] * row[0] - 1) + 0.8 * row[1] * row[2] + 0.6 * rng_normalf(&r);
            row[nf] = s > 0 ? 1.0f : 0.0f;
            fwrite(row, sizeof *row, nf + 1, f);
        }
        fclose(f);
    }
    free(coef);
    free(row);
    return 0;
}

static float *load(const char *path, size_t nf, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *d = malloc((size_t)sz);
    if (fread(d, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(d);
        return NULL;
    }
    fclose(f);
    *n = (size_t)sz / ((nf + 1) * sizeof(float));
    return d;
}

typedef struct {
    float s, y;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

/* Exact ROC AUC (Mann-Whitney, ties count one half). */
static double auc(const float *s, const float *y, size_t n)
{
    scored *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (scored){s[i], y[i]};
    qsort(v, n, sizeof *v, cmp_scored);
    double rank_sum = 0, npos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double avg = (double)(i + j + 1) / 2.0; /* ranks i+1..j */
        for (size_t k = i; k < j; k++)
            if (v[k].y > 0.5f) {
                rank_sum += avg;
                npos++;
            }
        i = j;
    }
    double nneg = (double)n - npos;
    free(v);
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

static const char *SPEC =
    "{\"type\":\"mlp\",\"layers\":[{\"dense\":128,\"activation\":\"relu\"},{\"dropout\":0.5},"
    "{\"dense\":64,\"activation\":\"relu\"},{\"dropout\":0.5},{\"dense\":1,\"activation\":\"sigmoid\"}],"
    "\"optimizer\":{\"adam\":{\"lr\":0.001}},\"loss\":\"binary_crossentropy\",\"metrics\":[\"accuracy\",\"auc\"],"
    "\"seed\":%d}";

static int train(const char *dir, size_t nf, size_t bs, int epochs)
{
    char p[1024];
    size_t n, nv;
    snprintf(p, sizeof p, "%s/train.bin", dir);
    float *tr = load(p, nf, &n);
    snprintf(p, sizeof p, "%s/val.bin", dir);
    float *va = load(p, nf, &nv);
    if (!tr || !va) {
        fprintf(stderr, "bench_mlp: cannot read data in %s\n", dir);
        return 1;
    }
    /* split into X and y once (the data layer hands the model such arrays) */
    float *X = malloc(n * nf * sizeof *X), *y = malloc(n * sizeof *y);
    float *Xv = malloc(nv * nf * sizeof *Xv), *yv = malloc(nv * sizeof *yv), *pv = malloc(nv * sizeof *pv);
    for (size_t i = 0; i < n; i++) {
        memcpy(X + i * nf, tr + i * (nf + 1), nf * sizeof *X);
        y[i] = tr[i * (nf + 1) + nf];
    }
    for (size_t i = 0; i < nv; i++) {
        memcpy(Xv + i * nf, va + i * (nf + 1), nf * sizeof *X);
        yv[i] = va[i * (nf + 1) + nf];
    }
    mlp *m;
    mlhep_err e;
    char spec[1024];
    const char *seed_env = getenv("SEED");
    int seed = seed_env ? atoi(seed_env) : 1;
    snprintf(spec, sizeof spec, SPEC, seed);
    if (mlp_build(spec, nf, &m, &e)) {
        fprintf(stderr, "bench_mlp: %s\n", e.msg);
        return 1;
    }
    /* THREADS=k: the data-parallel step on a team of k (the training driver's way) */
    const char *th_env = getenv("THREADS");
    int nth = th_env ? atoi(th_env) : 1;
    team *tm = NULL;
    if (nth > 1 && (team_new(nth, &tm, &e) || mlp_set_team(m, tm, &e))) {
        fprintf(stderr, "bench_mlp: %s\n", e.msg);
        return 1;
    }
    size_t *perm = malloc(n * sizeof *perm);
    float *xb = malloc(bs * nf * sizeof *xb), *yb = malloc(bs * sizeof *yb);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    rng r;
    rng_seed(&r, 7 + (uint64_t)seed);
    double t_train = 0, cpu_train = 0, cpu_step = 0, loss = 0;
    size_t seen = 0;
    for (int ep = 0; ep < epochs; ep++) {
        double t0 = now(), c0 = cpu_now();
        for (size_t i = n - 1; i > 0; i--) { /* shuffle every epoch, gather each batch */
            size_t j = (size_t)(rng_next(&r) % (i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t b = 0; b + bs <= n; b += bs) {
            for (size_t k = 0; k < bs; k++) {
                memcpy(xb + k * nf, X + perm[b + k] * nf, nf * sizeof *xb);
                yb[k] = y[perm[b + k]];
            }
            double s0 = thread_cpu_now();
            if (mlp_train_batch(m, xb, yb, NULL, bs, &loss, &e)) {
                fprintf(stderr, "bench_mlp: %s\n", e.msg);
                return 1;
            }
            cpu_step += thread_cpu_now() - s0;
            seen += bs;
        }
        t_train += now() - t0;
        cpu_train += cpu_now() - c0;
    }
    mlp_predict(m, Xv, nv, pv, &e);
    /* step_cpu_samples_per_s: the training steps alone (mlp_train_batch, CPU time of the
     * calling thread: with THREADS=1 the whole step, to set against the ceiling) */
    printf("mlhep batch=%zu threads=%d samples_per_s=%.0f cpu_samples_per_s=%.0f step_cpu_samples_per_s=%.0f "
           "auc=%.4f epochs=%d last_loss=%.4f\n",
           bs, nth, (double)seen / t_train, (double)seen / cpu_train, (double)seen / cpu_step, auc(pv, yv, nv),
           epochs, loss);
    mlp_free(m);
    team_free(tm);
    free(tr);
    free(va);
    free(X);
    free(y);
    free(Xv);
    free(yv);
    free(pv);
    free(perm);
    free(xb);
    free(yb);
    return 0;
}

/* The ceiling: the GEMMs of one training step of the reference model alone (forward
 * X W for the three dense layers, backward dW = X^T dY for the three and dX = dY W^T
 * for the upper two), same OpenBLAS, same shapes, on the same number of rows, STEPS
 * times; prints samples/s (wall and per CPU second of this thread: the process's CPU
 * time would also count the threads OpenBLAS started before nn_blas_one_thread() set it
 * to one, which wait idle but not free, and the step it is set against is timed on the
 * calling thread too). */
static int ceiling(size_t nf, size_t bs, size_t steps)
{
    const size_t u[4] = {nf, 128, 64, 1};
    float *W[3], *dW[3], *A[4], *D[4];
    for (int l = 0; l < 3; l++) {
        W[l] = calloc(u[l] * u[l + 1], sizeof(float));
        dW[l] = calloc(u[l] * u[l + 1], sizeof(float));
        for (size_t i = 0; i < u[l] * u[l + 1]; i++)
            W[l][i] = 0.01f * (float)((i * 7) % 13);
    }
    for (int l = 0; l < 4; l++) {
        A[l] = calloc(bs * u[l], sizeof(float));
        D[l] = calloc(bs * u[l], sizeof(float));
        for (size_t i = 0; i < bs * u[l]; i++)
            A[l][i] = D[l][i] = 0.01f * (float)((i * 5) % 11);
    }
    double t0 = now(), c0 = thread_cpu_now();
    for (size_t s = 0; s < steps; s++) {
        for (int l = 0; l < 3; l++)
            nn_dense_forward(A[l], bs, u[l], W[l], u[l + 1], A[l + 1]);
        for (int l = 2; l >= 0; l--)
            nn_dense_backward(A[l], bs, u[l], W[l], u[l + 1], D[l + 1], dW[l], NULL, l ? D[l] : NULL);
    }
    double t = now() - t0, c = thread_cpu_now() - c0;
    printf("ceiling batch=%zu samples_per_s=%.0f cpu_samples_per_s=%.0f\n", bs, (double)(steps * bs) / t,
           (double)(steps * bs) / c);
    for (int l = 0; l < 4; l++) {
        free(A[l]);
        free(D[l]);
        if (l < 3) {
            free(W[l]);
            free(dW[l]);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    nn_blas_one_thread(); /* as the training driver does: one BLAS thread per thread of ours */
    if (argc == 5 && strcmp(argv[1], "ceiling") == 0)
        return ceiling(strtoul(argv[2], 0, 10), strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10));
    if (argc == 6 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10), strtoul(argv[5], 0, 10));
    if (argc == 6 && strcmp(argv[1], "train") == 0)
        return train(argv[2], strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10), atoi(argv[5]));
    if (argc == 2 && strcmp(argv[1], "corename") == 0) {
        printf("%s threads=%d\n", openblas_get_corename(), openblas_get_num_threads());
        return 0;
    }
    fprintf(stderr, "usage: bench_mlp gen DIR NTRAIN NVAL NFEAT | train DIR NFEAT BATCH EPOCHS | corename\n");
    return 2;
}

/* gbdt_bench.c - helper of bench/bench_gbdt.sh (built by it, not by the Makefile).
 *
 * usage: gbdt_bench DIR NCOLS N_TREES MAX_DEPTH ETA MAX_BINS THREADS
 * Reads DIR/train_x.f32 (row-major float32), DIR/train_y.f32, DIR/test_x.f32, and
 * writes DIR/test_pred_mlhep.f32 (probabilities). Prints "train_seconds S" (binning +
 * training, wall clock), "train_cpu_seconds S" (all threads) and "predict_seconds S". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "model/gbdt.h"

static float *read_f32(const char *dir, const char *name, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *v = malloc((size_t)len + 4);
    if (!v || fread(v, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *n = (size_t)len / 4;
    return v;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) /* user + system time of all threads */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: gbdt_bench DIR NCOLS N_TREES MAX_DEPTH ETA MAX_BINS THREADS\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t ncols = (size_t)atol(argv[2]);
    gbdt_params p;
    gbdt_params_default(&p);
    p.n_trees = atoi(argv[3]);
    p.max_depth = atoi(argv[4]);
    p.learning_rate = (float)atof(argv[5]);
    p.max_bins = atoi(argv[6]);
    p.n_threads = atoi(argv[7]);
    size_t nx, ny, ntx;
    float *x = read_f32(dir, "train_x.f32", &nx);
    float *y = read_f32(dir, "train_y.f32", &ny);
    float *tx = read_f32(dir, "test_x.f32", &ntx);
    if (nx != ny * ncols || ntx % ncols) {
        fprintf(stderr, "sizes do not match %zu columns\n", ncols);
        return 1;
    }
    mlhep_err e;
    gbdt_model *m;
    double c0 = cpu_now(), t0 = now();
    if (gbdt_train_dense(&p, x, y, NULL, ny, ncols, NULL, NULL, NULL, 0, &m, NULL, &e)) {
        fprintf(stderr, "train: %s\n", e.msg);
        return 1;
    }
    double t1 = now(), c1 = cpu_now();
    size_t nt = ntx / ncols;
    float *pred = malloc(nt * sizeof *pred);
    if (gbdt_predict(m, tx, nt, ncols, GBDT_PROBABILITY, pred, &e)) {
        fprintf(stderr, "predict: %s\n", e.msg);
        return 1;
    }
    double t2 = now();
    char path[4096];
    snprintf(path, sizeof path, "%s/test_pred_mlhep.f32", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(pred, sizeof *pred, nt, f) != nt) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    fclose(f);
    printf("train_seconds %.4f\ntrain_cpu_seconds %.4f\npredict_seconds %.4f\ntrees %d\n",
           t1 - t0, c1 - c0, t2 - t1,
           gbdt_model_trees(m));
    gbdt_model_free(m);
    free(x);
    free(y);
    free(tx);
    free(pred);
    return 0;
}

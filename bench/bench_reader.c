/* bench_reader.c - ROOT reader throughput against the raw decompression of the same
 * baskets, measured in the same run (issue 2's speed targets).
 *
 *   bench_reader [--chunk N] [--reps R] FILE[:TREE] ...
 *
 * For each file: (1) inflate-only: every basket of every numeric branch decompressed,
 * nothing decoded (the ceiling); (2) full read with 1 thread: the same baskets
 * decompressed and decoded into columns, chunk by chunk; (3) the same with 2 threads.
 * Prints MB/s of uncompressed basket bytes, entries/s, decode/inflate ratio (target
 * >= 0.9), the same ratio by CPU time (the process's, over the same passes: on a
 * machine shared with other work, time spent waiting for a core is left out),
 * 2-thread/1-thread ratio, and the peak RSS of the process.
 *
 * Each measurement starts with one untimed pass over the file with the same contexts
 * and columns (the steady state of a reader that streams chunk after chunk, as
 * evsource does: buffers sized and touched once); on a loaded machine a timed pass
 * can last longer than the 0.3 s repeat window, and the first touch of fresh column
 * buffers would then be most of what the decode figure measures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "root/basket.h"
#include "root/rootfile.h"
#include "root/ttree.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_maxrss;
}

typedef struct target {
    rootfile *f;
    ttree *t;
    const tbranch **b;
    int nb;
} target;

static int open_target(const char *spec, target *x)
{
    char path[2048];
    snprintf(path, sizeof path, "%s", spec);
    char *colon = strrchr(path, ':');
    const char *tree = NULL;
    if (colon && colon > path + 1) {
        *colon = 0;
        tree = colon + 1;
    }
    mlhep_err e;
    if (rootfile_open(path, &x->f, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    rootfile_tree *ts;
    size_t nt;
    if (!tree) {
        if (rootfile_list_trees(x->f, &ts, &nt, &e) || nt == 0) {
            fprintf(stderr, "%s: no tree\n", path);
            return -1;
        }
        /* the tree with most entries */
        size_t best = 0;
        int rc = ttree_open_key(x->f, &ts[0].key, ts[0].path, &x->t, &e);
        for (size_t i = 1; i < nt && !rc; i++) {
            ttree *o;
            if (ttree_open_key(x->f, &ts[i].key, ts[i].path, &o, &e) == 0) {
                if (o->entries > x->t->entries) {
                    ttree_free(x->t);
                    x->t = o;
                    best = i;
                } else {
                    ttree_free(o);
                }
            }
        }
        (void)best;
        free(ts);
        if (rc) {
            fprintf(stderr, "%s\n", e.msg);
            return -1;
        }
    } else if (ttree_open(x->f, tree, &x->t, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    x->b = malloc(sizeof *x->b * (size_t)(x->t->nbranches + 1));
    x->nb = 0;
    for (int i = 0; i < x->t->nbranches; i++) {
        const tbranch *b = x->t->branches[i];
        if ((b->kind == TK_FLAT || b->kind == TK_FIXED || b->kind == TK_JAGGED) && b->entries == x->t->entries)
            x->b[x->nb++] = b;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int64_t chunk = 100000;
    int reps = 3;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first += 2) {
        if (!strcmp(argv[first], "--chunk") && first + 1 < argc)
            chunk = atoll(argv[first + 1]);
        else if (!strcmp(argv[first], "--reps") && first + 1 < argc)
            reps = atoi(argv[first + 1]);
    }
    printf("%-34s %9s %9s %9s %9s %11s %7s %7s %7s\n", "file", "MB", "inflate", "decode1", "decode2", "entries/s",
           "dec/inf", "2t/1t", "cpu d/i");
    printf("%-34s %9s %9s %9s %9s %11s %7s %7s %7s\n", "", "(uncomp)", "MB/s", "MB/s", "MB/s", "(1 thread)", "", "",
           "");
    for (int a = first; a < argc; a++) {
        target x = {0};
        if (open_target(argv[a], &x))
            return 1;
        mlhep_err e;
        uint64_t bytes = 0;
        double best_inf = 1e99, best1 = 1e99, best2 = 1e99, cpu_inf = 1e99, cpu1 = 1e99;
        /* each measurement repeats the whole pass until it has run >= 0.3 s */
        for (int r = 0; r < reps; r++) {
            basket_ctx *ctx = basket_ctx_new();
            double t0 = 0, t1, c0 = 0;
            int loops = -1; /* pass -1: the untimed warm-up */
            do {
                if (loops == 0) {
                    t0 = now();
                    c0 = cpu_now();
                }
                bytes = 0;
                for (int i = 0; i < x.nb; i++)
                    for (int64_t s = 0; s < x.t->entries; s += chunk) {
                        int64_t z = s + chunk < x.t->entries ? s + chunk : x.t->entries;
                        if (basket_inflate_only(x.f, x.b[i], s, z, ctx, &bytes, &e)) {
                            fprintf(stderr, "%s\n", e.msg);
                            return 1;
                        }
                    }
                loops++;
            } while (loops == 0 || (t1 = now() - t0) < 0.3);
            t1 /= loops;
            c0 = (cpu_now() - c0) / loops;
            basket_ctx_free(ctx);
            if (t1 < best_inf)
                best_inf = t1;
            if (c0 < cpu_inf)
                cpu_inf = c0;
            for (int th = 1; th <= 2; th++) {
                column *cols = calloc((size_t)x.nb + 1, sizeof *cols);
                basket_ctx *ctxs[2] = {basket_ctx_new(), basket_ctx_new()}; /* kept across chunks, as evsource does */
                team *tm; /* likewise */
                if (team_new(th, &tm, &e)) {
                    fprintf(stderr, "%s\n", e.msg);
                    return 1;
                }
                double t;
                loops = -1;
                do {
                    if (loops == 0) {
                        t0 = now();
                        c0 = cpu_now();
                    }
                    for (int64_t s = 0; s < x.t->entries; s += chunk) {
                        int64_t z = s + chunk < x.t->entries ? s + chunk : x.t->entries;
                        if (basket_read_many_ctx(x.f, x.b, x.nb, s, z, cols, ctxs, tm, &e)) {
                            fprintf(stderr, "%s\n", e.msg);
                            return 1;
                        }
                    }
                    loops++;
                } while (loops == 0 || (t = now() - t0) < 0.3);
                t /= loops;
                c0 = (cpu_now() - c0) / loops;
                for (int i = 0; i < x.nb; i++)
                    column_free(&cols[i]);
                free(cols);
                team_free(tm);
                basket_ctx_free(ctxs[0]);
                basket_ctx_free(ctxs[1]);
                if (th == 1 && t < best1)
                    best1 = t;
                if (th == 1 && c0 < cpu1)
                    cpu1 = c0;
                if (th == 2 && t < best2)
                    best2 = t;
            }
        }
        double mb = (double)bytes / 1e6;
        const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        printf("%-34.34s %9.1f %9.0f %9.0f %9.0f %11.0f %7.2f %7.2f %7.2f\n", name, mb, mb / best_inf, mb / best1,
               mb / best2, (double)x.t->entries / best1, best_inf / best1, best1 / best2, cpu_inf / cpu1);
        ttree_free(x.t);
        rootfile_close(x.f);
        free(x.b);
    }
    printf("peak RSS %ld MiB (chunk %lld entries)\n", peak_rss_kb() / 1024, (long long)chunk);
    return 0;
}

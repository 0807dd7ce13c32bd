/* bench_remote.c - reading all numeric branches of a file, block by block, in three
 * ways, for bench_remote.sh (issue 8):
 *
 *   bench_remote [--block N] [--threads T] [--reps R] [--max-entries N] MODE FILE_OR_URL
 *   MODE: naive     one source request per basket (basket_read_many_plan, no plan)
 *         plan      per block, one readplan (coalesced vector reads), then decode
 *         prefetch  readahead: the next block's plan is fetched while this one decodes
 *
 * Prints one line of key=value: events/s (best of R), requests per block, bytes read,
 * time to open (metadata walk) and a checksum of all values (must agree across
 * modes and sources). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "root/basket.h"
#include "root/readplan.h"
#include "root/rootfile.h"
#include "root/ttree.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int64_t block = 20000;
    int threads = 2, reps = 1;
    int64_t max_entries = -1;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (!strcmp(argv[i], "--block"))
            block = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-entries"))
            max_entries = atoll(argv[i + 1]);
    }
    if (argc - i != 2 || block < 1) {
        fprintf(stderr, "usage: bench_remote [--block N] [--threads T] [--reps R] [--max-entries N] "
                        "naive|plan|prefetch FILE\n");
        return 1;
    }
    const char *mode = argv[i], *path = argv[i + 1];
    int m = !strcmp(mode, "naive") ? 0 : !strcmp(mode, "plan") ? 1 : !strcmp(mode, "prefetch") ? 2 : -1;
    if (m < 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 1;
    }
    double best = 0, open_s = 0, sum = 0;
    uint64_t reqs = 0, bytes = 0, nblocks = 0, open_reqs = 0;
    int64_t entries = 0;
    for (int r = 0; r < reps; r++) {
        mlhep_err e;
        double t0 = now();
        rootfile *f;
        if (rootfile_open(path, &f, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 2;
        }
        rootfile_tree *ts;
        size_t nt;
        ttree *t;
        if (rootfile_list_trees(f, &ts, &nt, &e) || nt == 0 || ttree_open_key(f, &ts[0].key, ts[0].path, &t, &e)) {
            fprintf(stderr, "%s: %s\n", path, nt ? e.msg : "no tree");
            return 2;
        }
        free(ts);
        int64_t nent = max_entries >= 0 && max_entries < t->entries ? max_entries : t->entries;
        double t1 = now();
        open_reqs = f->src->n_requests;
        const tbranch **b = malloc((size_t)t->nbranches * sizeof *b);
        int nb = 0;
        for (int k = 0; k < t->nbranches; k++)
            if (t->branches[k]->kind == TK_FLAT || t->branches[k]->kind == TK_FIXED ||
                t->branches[k]->kind == TK_JAGGED)
                b[nb++] = t->branches[k];
        column *cols = calloc((size_t)nb + 1, sizeof *cols);
        /* persistent per-thread contexts, as the data layer keeps them */
        basket_ctx *ctxs[TEAM_MAX] = {0};
        team *tm;
        if (team_new(threads, &tm, &e))
            return 2;
        threads = team_size(tm);
        for (int k = 0; k < threads; k++)
            if (!(ctxs[k] = basket_ctx_new()))
                return 2;
        readahead *ra = NULL;
        if (m == 2 && readahead_new(f, b, nb, nent, NULL, &ra, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 2;
        }
        sum = 0;
        nblocks = 0;
        for (int64_t a = 0; a < nent; a += block) {
            int64_t z = a + block < nent ? a + block : nent;
            int rc;
            readplan *p = NULL;
            const readplan *cp = NULL;
            if (m == 0) {
                rc = basket_read_many_plan(f, b, nb, a, z, cols, ctxs, tm, NULL, &e);
            } else if (m == 1) {
                rc = readplan_build(f, b, nb, a, z, NULL, &p, &e);
                if (!rc)
                    rc = readplan_fetch(p, &e);
                if (!rc)
                    rc = basket_read_many_plan(f, b, nb, a, z, cols, ctxs, tm, p, &e);
                readplan_free(p);
            } else {
                rc = readahead_get(ra, a, z, &cp, &e);
                if (!rc)
                    rc = basket_read_many_plan(f, b, nb, a, z, cols, ctxs, tm, cp, &e);
            }
            if (rc) {
                fprintf(stderr, "%s: %s\n", path, e.msg);
                return 2;
            }
            for (int k = 0; k < nb; k++)
                if (cols[k].nvalues)
                    sum += column_get(&cols[k], 0) + column_get(&cols[k], cols[k].nvalues - 1);
            nblocks++;
        }
        double t2 = now();
        double evs = (double)nent / (t2 - t1);
        if (evs > best) {
            best = evs;
            open_s = t1 - t0;
        }
        reqs = f->src->n_requests - open_reqs;
        bytes = f->src->n_bytes;
        entries = nent;
        readahead_free(ra);
        team_free(tm);
        for (int k = 0; k < threads; k++)
            basket_ctx_free(ctxs[k]);
        for (int k = 0; k < nb; k++)
            column_free(&cols[k]);
        free(cols);
        free(b);
        ttree_free(t);
        rootfile_close(f);
    }
    printf("mode=%s entries=%lld blocks=%llu events_per_s=%.0f requests=%llu requests_per_block=%.1f "
           "open_requests=%llu open_ms=%.1f MB_read=%.1f checksum=%.17g\n",
           mode, (long long)entries, (unsigned long long)nblocks, best, (unsigned long long)reqs,
           nblocks ? (double)reqs / (double)nblocks : 0.0, (unsigned long long)open_reqs, open_s * 1e3,
           (double)bytes / 1e6, sum);
    return 0;
}

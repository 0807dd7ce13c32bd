/* gen_bench.c - helper of bench/bench_gen.sh (built by it, not by make).
 *
 *   gen_bench fill N                 time evgen_fill alone (no file): events/s
 *   gen_bench zipraw FILE SPEC       compress every basket payload of an uncompressed
 *                                    ROOT file with SPEC (e.g. zlib:1) through
 *                                    compress_zip: the raw codec speed on the very bytes
 *                                    the writer compresses, basket by basket
 * Prints one "key=value ..." line; times are wall and CPU (process) seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "root/compress.h"
#include "base/cursor.h"
#include "root/evgen.h"

static double clk(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    mlhep_err e = {0};
    if (argc == 3 && !strcmp(argv[1], "fill")) {
        long long n = atoll(argv[2]);
        evgen *g;
        if (evgen_new("tth", 1, 1, &g, &e))
            return 1;
        rootw_col *c = calloc((size_t)evgen_nbranches(g), sizeof *c);
        double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
        for (long long d = 0; d < n; d += 10000)
            if (evgen_fill(g, d, n - d < 10000 ? n - d : 10000, c, &e))
                return 1;
        double w = clk(CLOCK_MONOTONIC) - w0, cp = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
        printf("fill events=%lld wall_s=%.3f cpu_s=%.3f events_per_cpu_s=%.0f\n", n, w, cp, (double)n / cp);
        free(c);
        evgen_free(g);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "zipraw")) {
        int alg, level;
        if (compress_parse(argv[3], &alg, &level, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        FILE *f = fopen(argv[2], "rb");
        if (!f)
            return 1;
        fseek(f, 0, SEEK_END);
        size_t n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *b = malloc(n);
        if (fread(b, 1, n, f) != n)
            return 1;
        fclose(f);
        compress_ctx *cz = compress_ctx_new();
        size_t cap = 64 << 20;
        uint8_t *z = malloc(cap);
        uint64_t in = 0, outb = 0;
        double cpu = 0, wall = 0;
        cursor c;
        cur_init(&c, b, n);
        cur_seek(&c, 12);
        uint64_t end = cur_u32(&c); /* small header: fEND */
        uint64_t pos = 100;
        while (pos < end && pos + 26 < n) {
            cur_init(&c, b + pos, n - pos);
            int32_t nbytes = cur_i32(&c);
            int ver = cur_i16(&c);
            uint32_t objlen = cur_u32(&c);
            cur_u32(&c);
            uint32_t keylen = cur_u16(&c);
            cur_skip(&c, 2 + (ver > 1000 ? 16 : 8));
            size_t l;
            const char *cls = cur_rootstr(&c, &l);
            if (nbytes <= 0 || !cur_ok(&c))
                return 1;
            if (l == 7 && !memcmp(cls, "TBasket", 7) && objlen == (uint32_t)nbytes - keylen && objlen > 0) {
                size_t zl;
                double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
                if (compress_zip(cz, alg, level, b + pos + keylen, objlen, z, cap, &zl, &e))
                    return 1;
                wall += clk(CLOCK_MONOTONIC) - w0;
                cpu += clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
                in += objlen;
                outb += zl ? zl : objlen;
            }
            pos += (uint64_t)nbytes;
        }
        printf("zipraw codec=%s in_mb=%.1f out_mb=%.1f wall_s=%.3f cpu_s=%.3f mb_per_cpu_s=%.1f\n", argv[3],
               (double)in / 1e6, (double)outb / 1e6, wall, cpu, (double)in / 1e6 / cpu);
        compress_ctx_free(cz);
        free(z);
        free(b);
        return 0;
    }
    fprintf(stderr, "usage: gen_bench fill N | zipraw FILE SPEC\n");
    return 2;
}

/* fuzz_expr.c - libFuzzer target for the expression language (common/data/expr.c).
 *
 * Input: byte 0 selects options (bits 0-1 want flat/jagged/any, bits 2-3 reduce
 * none/any/all, bit 4 a chunk spanning several evaluation blocks), the rest is the
 * expression text. Whatever compiles is evaluated on a chunk built from a hash of
 * the input (flat a, b, x.y; jagged J and K with equal lengths, M with different
 * lengths; values include 0, negatives, NaN and inf), and the result is checked
 * against the compiled kind and read in full so the sanitizers see every byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/expr.h"

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double value(uint64_t *s)
{
    uint64_t r = mix(s);
    switch (r % 16) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return __builtin_nan("");
    case 3: return __builtin_inf();
    case 4: return -__builtin_inf();
    case 5: return (double)(int)(r >> 8 & 7);
    default: return ((double)(r >> 11) / 9007199254740992.0 - 0.3) * 200.0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > EXPR_MAX_LEN + 2)
        return 0;
    uint8_t fl = data[0];
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    expr_schema *s = expr_schema_new();
    expr_schema_add(s, "a", EXPR_FLAT, NULL);
    expr_schema_add(s, "b", EXPR_FLAT, NULL);
    expr_schema_add(s, "x.y", EXPR_FLAT, NULL);
    expr_schema_add(s, "J", EXPR_JAGGED, NULL);
    expr_schema_add(s, "K", EXPR_JAGGED, NULL);
    expr_schema_add(s, "M", EXPR_JAGGED, NULL);
    expr_opts o = {.want = (expr_want)((fl & 3) % 3), .reduce = (expr_reduce)(((fl >> 2) & 3) % 3)};
    expr *x = NULL;
    mlhep_err e = {0};
    int rc = expr_compile(text, s, &o, &x, &e);
    if (rc == 0) {
        if (e.code != 0)
            __builtin_trap();
        uint64_t seed = size;
        for (size_t i = 0; i < size; i++)
            seed = seed * 131 + data[i];
        size_t n = (fl & 16) ? 2500 + (size_t)(mix(&seed) % 3000) : (size_t)(mix(&seed) % 9);
        int64_t *jo = malloc((n + 1) * sizeof *jo), *mo = malloc((n + 1) * sizeof *mo);
        jo[0] = mo[0] = 0;
        for (size_t i = 0; i < n; i++) {
            jo[i + 1] = jo[i] + (int64_t)(mix(&seed) % 5);
            mo[i + 1] = mo[i] + (int64_t)(mix(&seed) % 4);
        }
        size_t nj = (size_t)jo[n], nm = (size_t)mo[n];
        double *fa = malloc((n + 1) * sizeof(double)), *fb = malloc((n + 1) * sizeof(double));
        double *fc = malloc((n + 1) * sizeof(double));
        double *vj = malloc((nj + 1) * sizeof(double)), *vk = malloc((nj + 1) * sizeof(double));
        double *vm = malloc((nm + 1) * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            fa[i] = value(&seed);
            fb[i] = value(&seed);
            fc[i] = value(&seed);
        }
        for (size_t i = 0; i < nj; i++) {
            vj[i] = value(&seed);
            vk[i] = value(&seed);
        }
        for (size_t i = 0; i < nm; i++)
            vm[i] = value(&seed);
        expr_column c[6] = {
            {"a", EXPR_FLAT, NULL, fa},    {"b", EXPR_FLAT, NULL, fb},
            {"x.y", EXPR_FLAT, NULL, fc},  {"J", EXPR_JAGGED, jo, vj},
            {"K", EXPR_JAGGED, jo, vk},    {"M", EXPR_JAGGED, mo, vm},
        };
        expr_ws *ws = expr_ws_new();
        expr_column r;
        for (int pass = 0; pass < 2; pass++) { /* the second pass reuses the workspace */
            rc = expr_eval(x, c, 6, n, ws, &r, &e);
            if (rc != 0)
                break;
            if (r.kind != expr_result_kind(x))
                __builtin_trap();
            size_t total = n;
            if (r.kind == EXPR_JAGGED) {
                if (r.offsets[0] != 0)
                    __builtin_trap();
                for (size_t i = 0; i < n; i++)
                    if (r.offsets[i + 1] < r.offsets[i])
                        __builtin_trap();
                total = (size_t)r.offsets[n];
                if (total != nj && total != nm)
                    __builtin_trap();
            }
            volatile double sink = 0;
            for (size_t i = 0; i < total; i++)
                sink += r.values[i];
            (void)sink;
            if (o.want == EXPR_WANT_FLAT && r.kind != EXPR_FLAT)
                __builtin_trap();
        }
        expr_ws_free(ws);
        free(jo);
        free(mo);
        free(fa);
        free(fb);
        free(fc);
        free(vj);
        free(vk);
        free(vm);
    } else if (e.msg[0] == '\0' || x != NULL) {
        __builtin_trap(); /* every failure explains itself */
    }
    expr_free(x);
    expr_schema_free(s);
    free(text);
    return 0;
}

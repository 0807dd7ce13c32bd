/* writegen.c - test-only program: writes a ROOT file with every branch kind rootwrite
 * supports, and the values it wrote as JSON, for an independent reader to compare.
 *
 *   writegen OUT.root EXPECTED.json [--compression SPEC] [--tree PATH] [--entries N]
 *            [--cluster N] [--basket-bytes N] [--big] [--seed S]
 *
 * Tree PATH (default "Events") gets: one scalar branch of every type, fixed arrays
 * (x[3]/F, m[2][2]/S, d[2]/D, ob[3]/O, u8a[4]/b), a counter n/I with a jagged branch of
 * every type, a uint32 counter nu/i with a jagged float branch, a uint8 counter nb/b with
 * a jagged double branch. A second tree "Aux" (same directory) holds two branches.
 * Entries are appended in chunks of irregular sizes so chunks, baskets and clusters all
 * cross. EXPECTED.json: {"tree": PATH, "entries": N, "aux": "Aux", "branches": {name:
 * [per-entry value or array of values]}, "float32": [float branch names], "aux_branches": {...}}. int64 values are kept
 * exactly representable as doubles (JSROOT returns JS numbers). Built and run by
 * tests/cli/jsroot_roundtrip.sh.
 *
 *   writegen OUT.root EXPECTED.json --packed [--compression SPEC] [--entries N]
 *
 * writes instead tree "Packed": a split object `obj` of class MlhepPacked whose members
 * are Double32_t / Float16_t with every kind of range ROOT knows (none, [min,max,nbits],
 * pi bounds, [0,0,nbits], fixed array) beside a plain double and int; tree "Leaves" holds
 * plain Double32_t/Float16_t leaves (pd, pf, pa, pq). EXPECTED.json lists the object's members
 * with the values ROOT decodes from what was written (JSROOT reads split members; it has
 * no TLeafD32/TLeafF16), "tolerance" for the member whose step is not a power of two,
 * "original" the values before packing, and "leaves" the plain leaves likewise (read
 * back by test_rootwrite and root_sanitized.sh through mlhep's reader). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "root/packfloat.h"
#include "root/rootwrite.h"

#define NB 48

static const char *SPECS[] = {
    "s_bool/O", "s_i8/B", "s_u8/b", "s_i16/S", "s_u16/s", "s_i32/I", "s_u32/i", "s_i64/L", "s_u64/l", "s_f32/F",
    "s_f64/D", "x[3]/F", "m[2][2]/S", "d[2]/D", "ob[3]/O", "u8a[4]/b", "n/I", "j_bool[n]/O", "j_i8[n]/B",
    "j_u8[n]/b", "j_i16[n]/S", "j_u16[n]/s", "j_i32[n]/I", "j_u32[n]/i", "j_i64[n]/L", "j_u64[n]/l", "j_f32[n]/F",
    "j_f64[n]/D", "nu/i", "v[nu]/F", "nb/b", "w[nb]/D",
};
#define NSPEC ((int)(sizeof SPECS / sizeof SPECS[0]))

/* value number k of entry i of branch with type t, as a double (exact for every type) */
static double val(int br, rootw_type t, int64_t i, int k)
{
    int64_t a = i * 31 + k * 7 + br * 13;
    switch (t) {
    case ROOTW_BOOL: return (double)((a % 3) == 0);
    case ROOTW_I8: return (double)(int8_t)(a % 256 - 128);
    case ROOTW_U8: return (double)(uint8_t)(a % 256);
    case ROOTW_I16: return (double)(int16_t)((a * 1237) % 65536 - 32768);
    case ROOTW_U16: return (double)(uint16_t)((a * 1237) % 65536);
    case ROOTW_I32: return (double)(int32_t)(uint32_t)(a * 2654435761u);
    case ROOTW_U32: return (double)(uint32_t)(a * 2654435761u);
    case ROOTW_I64: return (double)((a * 1234567) * 4096 * (a % 2 ? -1 : 1));
    case ROOTW_U64: return (double)(((uint64_t)(a + 1) << 40) + (uint64_t)k);
    case ROOTW_F32: return (double)(float)((double)a * 0.37 - 100.0);
    default: return (double)a * 3.14159e-3 - 1e10 * (double)(k % 3);
    }
}

static void store(void *dst, size_t idx, rootw_type t, double v)
{
    switch (t) {
    case ROOTW_BOOL: ((uint8_t *)dst)[idx] = (uint8_t)v; break;
    case ROOTW_I8: ((int8_t *)dst)[idx] = (int8_t)v; break;
    case ROOTW_U8: ((uint8_t *)dst)[idx] = (uint8_t)v; break;
    case ROOTW_I16: ((int16_t *)dst)[idx] = (int16_t)v; break;
    case ROOTW_U16: ((uint16_t *)dst)[idx] = (uint16_t)v; break;
    case ROOTW_I32: ((int32_t *)dst)[idx] = (int32_t)v; break;
    case ROOTW_U32: ((uint32_t *)dst)[idx] = (uint32_t)v; break;
    case ROOTW_I64: ((int64_t *)dst)[idx] = (int64_t)v; break;
    case ROOTW_U64: ((uint64_t *)dst)[idx] = (uint64_t)v; break;
    case ROOTW_F32: ((float *)dst)[idx] = (float)v; break;
    default: ((double *)dst)[idx] = v;
    }
}

static void jnum(FILE *o, rootw_type t, double v)
{
    if (t == ROOTW_F32 || t == ROOTW_F64)
        fprintf(o, "%.17g", v);
    else
        fprintf(o, "%.0f", v);
}

typedef struct spec {
    const char *name; /* branch name (owned by SPECS text copy) */
    rootw_type type;
    int flen, counter; /* counter: index into SPECS or -1 */
} spec;

static rootw_type letter(char c)
{
    const char *L = "ObBSsIiLlFD";
    const rootw_type T[] = {ROOTW_BOOL, ROOTW_U8, ROOTW_I8, ROOTW_I16, ROOTW_U16, ROOTW_I32,
                            ROOTW_U32,  ROOTW_I64, ROOTW_U64, ROOTW_F32, ROOTW_F64};
    const char *p = strchr(L, c);
    /* 'b' is unsigned, 'B' signed: L lists 'b' before 'B' */
    return p ? T[p - L] : ROOTW_NTYPES;
}

static int64_t count_of(int br, int64_t i)
{
    if (i % 97 == 5)
        return 40 + br % 3; /* some long entries */
    return (i * 7 + br) % 6; /* 0..5, zeros included */
}

/* ---- --packed ---- */

static const char *PMEMBERS[] = {"fD64/D",          "fD32/d",          "fS16/d[0,16,16]", "fPhi/d[-pi,pi,20]",
                                 "fR10/d[0,0,10]",  "fF16/f",          "fF16r/f[0,8,10]", "fArr[3]/d[0,4,12]",
                                 "fI/I",            "fPi32/d[-pi,pi]"};
#define NPM ((int)(sizeof PMEMBERS / sizeof PMEMBERS[0]))
static const char *PLEAVES[] = {"pd/d[-10,10,14]", "pf/f", "pa[2]/d[0,0,8]", "pq/f[-1,1]"};
#define NPL ((int)(sizeof PLEAVES / sizeof PLEAVES[0]))

/* the original value k of entry i for member/leaf number m (in each one's range) */
static double pval(int m, int64_t i, int k)
{
    double u = (double)((i * 7919 + k * 104729 + m * 31) % 100003) / 100003.0; /* [0, 1) */
    switch (m) {
    case 2: return 16 * u;                         /* fS16 */
    case 3: case 9: return -3.14159 + 6.28318 * u; /* fPhi, fPi32 */
    case 6: return 8 * u;                          /* fF16r */
    case 7: return 4 * u;                          /* fArr */
    case 8: return (double)((i * 37 + 11) % 1000 - 500); /* fI */
    case 100: return -10 + 20 * u;                 /* pd */
    case 103: return -1 + 2 * u;                   /* pq */
    default: return (u - 0.5) * 1000.0;            /* unbounded */
    }
}

/* what ROOT reads back for x packed as spec's type and range */
static double decoded(const char *spec, double x)
{
    const char *sl = strrchr(spec, '/');
    if (sl[1] == 'D' || sl[1] == 'I')
        return x;
    packfloat p;
    const char *why;
    if (packfloat_from_title(sl[1] == 'f', sl[2] == '[' ? sl + 2 : "", &p, &why))
        return NAN;
    if (sl[1] == 'f')
        x = (float)x;
    uint8_t b[4];
    packfloat_put(&p, x, b);
    double y = packfloat_get(&p, b);
    return sl[1] == 'f' ? (double)(float)y : y;
}

static int flen_of(const char *spec)
{
    const char *lb = strchr(spec, '[');
    return lb && lb < strchr(spec, '/') ? atoi(lb + 1) : 1;
}

static void put_list(FILE *out, const char *name, const char *spec, int m, int64_t N, int original)
{
    int fl = flen_of(spec);
    fprintf(out, "\"%s\": [", name);
    for (int64_t i = 0; i < N; i++) {
        fprintf(out, "%s%s", i ? "," : "", fl > 1 ? "[" : "");
        for (int k = 0; k < fl; k++) {
            double x = pval(m, i, k);
            fprintf(out, "%s%.17g", k ? "," : "", original ? x : decoded(spec, x));
        }
        fprintf(out, "%s", fl > 1 ? "]" : "");
    }
    fprintf(out, "]");
}

static int packed_main(const char *path, const char *json, rootw_opts *o, int64_t N)
{
    mlhep_err e = {0};
    rootw_file *f;
    rootw_tree *t, *aux, *lt;
    if (rootw_open(path, o, &f, &e) || rootw_tree_new(f, "Packed", "packed floats", &t, &e) ||
        rootw_tree_new(f, "Aux", NULL, &aux, &e) || rootw_tree_new(f, "Leaves", NULL, &lt, &e) ||
        rootw_object(t, "obj", "MlhepPacked", PMEMBERS, NPM, &e) != 0 || rootw_branch(aux, "k/L", &e) != 0) {
        fprintf(stderr, "writegen: %s\n", e.msg);
        return 1;
    }
    for (int l = 0; l < NPL; l++)
        if (rootw_branch(lt, PLEAVES[l], &e) != l) {
            fprintf(stderr, "writegen: %s\n", e.msg);
            return 1;
        }
    for (int64_t done = 0; done < N;) {
        int64_t k = N - done < 777 ? N - done : 777;
        void *bufs[NPM + NPL];
        rootw_col cols[NPM + NPL];
        for (int m = 0; m < NPM + NPL; m++) {
            const char *spec = m < NPM ? PMEMBERS[m] : PLEAVES[m - NPM];
            int mm = m < NPM ? m : 100 + m - NPM, fl = flen_of(spec);
            char ty = strrchr(spec, '/')[1];
            bufs[m] = malloc((size_t)(k * fl) * 8);
            for (int64_t i = 0; i < k; i++)
                for (int j = 0; j < fl; j++) {
                    double x = pval(mm, done + i, j);
                    size_t at = (size_t)(i * fl + j);
                    if (ty == 'f')
                        ((float *)bufs[m])[at] = (float)x;
                    else if (ty == 'I')
                        ((int32_t *)bufs[m])[at] = (int32_t)x;
                    else
                        ((double *)bufs[m])[at] = x;
                }
            cols[m].type = ty == 'f' ? ROOTW_F16 : ty == 'd' ? ROOTW_D32 : ty == 'I' ? ROOTW_I32 : ROOTW_F64;
            cols[m].data = bufs[m];
        }
        int64_t kk[777];
        for (int64_t i = 0; i < k; i++)
            kk[i] = done + i;
        rootw_col ac[1] = {{ROOTW_I64, kk}};
        int rc = rootw_append(t, k, cols, &e);
        if (!rc)
            rc = rootw_append(lt, k, cols + NPM, &e);
        if (!rc)
            rc = rootw_append(aux, k, ac, &e);
        for (int m = 0; m < NPM + NPL; m++)
            free(bufs[m]);
        if (rc) {
            fprintf(stderr, "writegen: %s\n", e.msg);
            rootw_abort(f);
            return 1;
        }
        done += k;
    }
    if (rootw_close(f, &e)) {
        fprintf(stderr, "writegen: %s\n", e.msg);
        return 1;
    }
    FILE *out = fopen(json, "w");
    if (!out)
        return 1;
    fprintf(out, "{\"tree\": \"Packed\", \"aux\": \"Aux\", \"entries\": %" PRId64 ", \"float32\": [], ", N);
    /* members are named "obj.member" as ROOT and JSROOT look them up; the tolerance
     * (absolute, a few ulps of pi) is for the two pi ranges */
    fprintf(out, "\"tolerance\": {\"obj.fPhi\": 4e-15, \"obj.fPi32\": 4e-15},\n\"branches\": {");
    for (int m = 0; m < NPM; m++) {
        char name[64];
        snprintf(name, sizeof name, "obj.%.*s", (int)strcspn(PMEMBERS[m], "[/"), PMEMBERS[m]);
        fprintf(out, "%s\n", m ? "," : "");
        put_list(out, name, PMEMBERS[m], m, N, 0);
    }
    fprintf(out, "},\n\"original\": {");
    for (int m = 0; m < NPM; m++) {
        char name[64];
        snprintf(name, sizeof name, "obj.%.*s", (int)strcspn(PMEMBERS[m], "[/"), PMEMBERS[m]);
        fprintf(out, "%s\n", m ? "," : "");
        put_list(out, name, PMEMBERS[m], m, N, 1);
    }
    fprintf(out, "},\n\"leaves\": {");
    for (int l = 0; l < NPL; l++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(PLEAVES[l], "[/"), PLEAVES[l]);
        fprintf(out, "%s\n", l ? "," : "");
        put_list(out, name, PLEAVES[l], 100 + l, N, 0);
    }
    fprintf(out, "},\n\"aux_branches\": {\"k\": [");
    for (int64_t i = 0; i < N; i++)
        fprintf(out, "%s%" PRId64, i ? "," : "", i);
    fprintf(out, "]}}\n");
    return fclose(out) != 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: writegen OUT.root EXPECTED.json [options]\n");
        return 2;
    }
    rootw_opts o = {0};
    const char *tree = "Events";
    int64_t N = 2500;
    o.cluster_entries = 1000;
    o.basket_bytes = 700;
    o.compression = "zlib:1";
    int packed = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--packed"))
            packed = 1;
        else if (!strcmp(argv[i], "--big"))
            o.force_big = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--compression"))
            o.compression = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--tree"))
            tree = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--entries"))
            N = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--cluster"))
            o.cluster_entries = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--basket-bytes"))
            o.basket_bytes = (size_t)atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--seed"))
            o.seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "writegen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (packed)
        return packed_main(argv[1], argv[2], &o, N);
    spec sp[NSPEC];
    char names[NSPEC][64];
    for (int b = 0; b < NSPEC; b++) {
        const char *s = SPECS[b];
        size_t nl = strcspn(s, "[/");
        memcpy(names[b], s, nl);
        names[b][nl] = 0;
        sp[b].name = names[b];
        sp[b].type = letter(strchr(s, '/')[1]);
        sp[b].flen = 1;
        sp[b].counter = -1;
        const char *lb = strchr(s, '[');
        while (lb && lb < strchr(s, '/')) {
            if (lb[1] >= '0' && lb[1] <= '9')
                sp[b].flen *= atoi(lb + 1);
            else
                for (int c = 0; c < b; c++)
                    if (!strncmp(names[c], lb + 1, strlen(names[c])) && lb[1 + strlen(names[c])] == ']')
                        sp[b].counter = c;
            lb = strchr(lb + 1, '[');
        }
    }
    mlhep_err e = {0};
    rootw_file *f;
    rootw_tree *t, *aux;
    if (rootw_open(argv[1], &o, &f, &e)) {
        fprintf(stderr, "writegen: %s\n", e.msg);
        return 1;
    }
    char auxpath[512];
    snprintf(auxpath, sizeof auxpath, "%s", tree);
    char *sl = strrchr(auxpath, '/');
    snprintf(sl ? sl + 1 : auxpath, sizeof auxpath - (size_t)(sl ? sl + 1 - auxpath : 0), "Aux");
    if (rootw_tree_new(f, tree, "all branch kinds", &t, &e) || rootw_tree_new(f, auxpath, NULL, &aux, &e)) {
        fprintf(stderr, "writegen: %s\n", e.msg);
        rootw_abort(f);
        return 1;
    }
    for (int b = 0; b < NSPEC; b++)
        if (rootw_branch(t, SPECS[b], &e) != b) {
            fprintf(stderr, "writegen: %s\n", e.msg);
            rootw_abort(f);
            return 1;
        }
    if (rootw_branch(aux, "k/L", &e) != 0 || rootw_branch(aux, "r/D", &e) != 1) {
        fprintf(stderr, "writegen: %s\n", e.msg);
        rootw_abort(f);
        return 1;
    }
    /* append in irregular chunks */
    static const int64_t chunks[] = {1, 7, 333, 1000, 2, 600, 59, 998};
    int64_t done = 0;
    for (int c = 0; done < N; c++) {
        int64_t k = chunks[c % 8];
        if (k > N - done)
            k = N - done;
        void *bufs[NSPEC];
        rootw_col cols[NSPEC];
        for (int b = 0; b < NSPEC; b++) {
            size_t nv = 0;
            for (int64_t i = done; i < done + k; i++)
                nv += sp[b].counter >= 0 ? (size_t)count_of(sp[b].counter, i) : (size_t)sp[b].flen;
            bufs[b] = malloc((nv ? nv : 1) * 8);
            size_t idx = 0;
            for (int64_t i = done; i < done + k; i++) {
                if (sp[b].counter < 0 && b < NSPEC && (strcmp(sp[b].name, "n") == 0 || strcmp(sp[b].name, "nu") == 0 ||
                                                       strcmp(sp[b].name, "nb") == 0))
                    store(bufs[b], idx++, sp[b].type, (double)count_of(b, i));
                else {
                    int64_t m = sp[b].counter >= 0 ? count_of(sp[b].counter, i) : sp[b].flen;
                    for (int j = 0; j < m; j++)
                        store(bufs[b], idx++, sp[b].type, val(b, sp[b].type, i, j));
                }
            }
            cols[b].type = sp[b].type;
            cols[b].data = bufs[b];
        }
        int rc = rootw_append(t, k, cols, &e);
        int64_t kk[1000];
        double rr[1000];
        for (int64_t i = 0; i < k; i++) {
            kk[i] = (done + i) * 1000003 - 77;
            rr[i] = sqrt((double)(done + i));
        }
        rootw_col ac[2] = {{ROOTW_I64, kk}, {ROOTW_F64, rr}};
        if (!rc)
            rc = rootw_append(aux, k, ac, &e);
        for (int b = 0; b < NSPEC; b++)
            free(bufs[b]);
        if (rc) {
            fprintf(stderr, "writegen: %s\n", e.msg);
            rootw_abort(f);
            return 1;
        }
        done += k;
    }
    if (rootw_close(f, &e)) {
        fprintf(stderr, "writegen: %s\n", e.msg);
        return 1;
    }
    FILE *out = fopen(argv[2], "w");
    if (!out)
        return 1;
    fprintf(out, "{\"tree\": \"%s\", \"aux\": \"%s\", \"entries\": %" PRId64 ", \"float32\": [", tree, auxpath, N);
    for (int b = 0, nf = 0; b < NSPEC; b++)
        if (sp[b].type == ROOTW_F32)
            fprintf(out, "%s\"%s\"", nf++ ? "," : "", sp[b].name);
    fprintf(out, "], \"branches\": {");
    for (int b = 0; b < NSPEC; b++) {
        fprintf(out, "%s\n\"%s\": [", b ? "," : "", sp[b].name);
        int is_cnt = !strcmp(sp[b].name, "n") || !strcmp(sp[b].name, "nu") || !strcmp(sp[b].name, "nb");
        for (int64_t i = 0; i < N; i++) {
            if (i)
                fputc(',', out);
            if (is_cnt) {
                fprintf(out, "%" PRId64, count_of(b, i));
                continue;
            }
            int arr = sp[b].counter >= 0 || sp[b].flen > 1;
            int64_t m = sp[b].counter >= 0 ? count_of(sp[b].counter, i) : sp[b].flen;
            if (arr)
                fputc('[', out);
            for (int j = 0; j < m; j++) {
                if (j)
                    fputc(',', out);
                jnum(out, sp[b].type, val(b, sp[b].type, i, j));
            }
            if (arr)
                fputc(']', out);
        }
        fputc(']', out);
    }
    fprintf(out, "},\n\"aux_branches\": {\"k\": [");
    for (int64_t i = 0; i < N; i++)
        fprintf(out, "%s%" PRId64, i ? "," : "", i * 1000003 - 77);
    fprintf(out, "], \"r\": [");
    for (int64_t i = 0; i < N; i++)
        fprintf(out, "%s%.17g", i ? "," : "", sqrt((double)i));
    fprintf(out, "]}}\n");
    return fclose(out) != 0;
}

/* test_reader.c - the ROOT reader beyond the oracle values: entry ranges across
 * basket boundaries, decoding only overlapping baskets, bounded memory, and clear
 * errors on bad input. Uses the sample files in ../shared/data/root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "root/basket.h"
#include "root/packfloat.h"
#include "base/cursor.h"
#include "root/rootfile.h"
#include "root/rootstats.h"
#include "root/rootwrite.h"
#include "test.h"
#include "root/ttree.h"

static char path_buf[4096];
static const char *data(const char *name)
{
    const char *d = getenv("MLHEP_SHARED");
    snprintf(path_buf, sizeof path_buf, "%s/data/root/%s", d ? d : "../shared", name);
    return path_buf;
}

static int same_columns(const column *a, const column *b)
{
    if (a->n != b->n || a->nvalues != b->nvalues || a->dt != b->dt || a->jagged != b->jagged)
        return 0;
    if (memcmp(a->values, b->values, a->nvalues * dtype_size(a->dt)) != 0)
        return 0;
    if (a->jagged)
        for (int64_t i = 0; i <= a->n; i++)
            if (a->offsets[i] != b->offsets[i])
                return 0;
    return 1;
}

/* Appends chunk c to acc (same dtype), rebasing offsets. */
static void append(column *acc, const column *c)
{
    size_t vs = dtype_size(c->dt);
    acc->dt = c->dt;
    acc->jagged = c->jagged;
    acc->values = realloc(acc->values, (acc->nvalues + c->nvalues) * vs + 1);
    memcpy((char *)acc->values + acc->nvalues * vs, c->values, c->nvalues * vs);
    if (c->jagged) {
        acc->offsets = realloc(acc->offsets, (size_t)(acc->n + c->n + 1) * sizeof(int64_t));
        if (acc->n == 0)
            acc->offsets[0] = 0;
        for (int64_t i = 1; i <= c->n; i++)
            acc->offsets[acc->n + i] = (int64_t)acc->nvalues + c->offsets[i];
    }
    acc->nvalues += c->nvalues;
    acc->n += c->n;
}

static int chunked_equals_full(const char *file, int64_t step, int *nchecked)
{
    mlhep_err e;
    rootfile *f;
    if (rootfile_open(data(file), &f, &e))
        return 0;
    rootfile_tree *trees;
    size_t nt;
    int ok = rootfile_list_trees(f, &trees, &nt, &e) == 0;
    for (size_t i = 0; ok && i < nt; i++) {
        ttree *t;
        if (ttree_open_key(f, &trees[i].key, trees[i].path, &t, &e)) {
            ok = 0;
            break;
        }
        for (int j = 0; ok && j < t->nbranches; j++) {
            const tbranch *b = t->branches[j];
            if (b->kind != TK_FLAT && b->kind != TK_FIXED && b->kind != TK_JAGGED)
                continue;
            column full, part, acc;
            column_init(&full);
            column_init(&part);
            column_init(&acc);
            if (basket_read(f, b, 0, b->entries, &full, NULL, &e)) {
                printf("  %s %s: %s\n", file, b->name, e.msg);
                ok = 0;
            }
            basket_ctx *ctx = basket_ctx_new();
            for (int64_t a = 0; ok && a < b->entries; a += step) {
                int64_t z = a + step < b->entries ? a + step : b->entries;
                if (basket_read(f, b, a, z, &part, ctx, &e)) {
                    printf("  %s %s [%lld,%lld): %s\n", file, b->name, (long long)a, (long long)z, e.msg);
                    ok = 0;
                    break;
                }
                append(&acc, &part);
            }
            if (ok && !same_columns(&full, &acc)) {
                printf("  %s %s: chunked read (step %lld) differs from full read\n", file, b->name, (long long)step);
                ok = 0;
            }
            (*nchecked)++;
            basket_ctx_free(ctx);
            column_free(&full);
            column_free(&part);
            column_free(&acc);
        }
        ttree_free(t);
    }
    free(trees);
    rootfile_close(f);
    return ok;
}

TEST(entry_ranges_match_full_reads)
{
    const char *files[] = {"uproot-HZZ.root", "uproot-sample-6.20.04-lz4.root", "uproot-sample-5.23.02-zlib.root",
                           "uproot-issue-816.root", "uproot-issue21.root", "uproot-nesteddirs.root",
                           "uproot-small-flat-tree.root", "uproot-HZZ-lzma.root"};
    int n = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        CHECKF(chunked_equals_full(files[i], 7, &n), "%s step 7", files[i]);
        CHECKF(chunked_equals_full(files[i], 1000, &n), "%s step 1000", files[i]);
    }
    CHECK(n > 100);
}

TEST(only_overlapping_baskets_are_decoded)
{
    mlhep_err e;
    rootfile *f;
    CHECK(rootfile_open(data("uproot-issue412.root"), &f, &e) == 0);
    ttree *t;
    CHECK(ttree_open(f, "test", &t, &e) == 0);
    CHECK(t->nbranches == 2);
    const tbranch *b = t->branches[0];
    CHECKF(b->nbaskets == 100, "%d baskets", b->nbaskets);
    basket_ctx *ctx = basket_ctx_new();
    column c;
    column_init(&c);
    int64_t mid = b->baskets[50].first + 3;
    CHECK(basket_read(f, b, mid, mid + 10, &c, ctx, &e) == 0);
    CHECK(c.n == 10);
    /* one basket of 10000 int64 values (80 kB) was inflated, not the whole branch */
    uint64_t one = basket_ctx_bytes(ctx);
    CHECKF(one > 0 && one <= 2 * 8 * (uint64_t)b->baskets[50].n + 1000, "%llu bytes", (unsigned long long)one);
    /* a range across a boundary decodes exactly two */
    int64_t edge = b->baskets[60].first - 5;
    CHECK(basket_read(f, b, edge, edge + 10, &c, ctx, &e) == 0);
    CHECK(basket_ctx_bytes(ctx) - one <= 2 * (2 * 8 * (uint64_t)b->baskets[50].n + 1000));
    column full;
    column_init(&full);
    CHECK(basket_read(f, b, 0, b->entries, &full, NULL, &e) == 0);
    for (int i = 0; i < 10; i++)
        CHECK(((int64_t *)c.values)[i] == ((int64_t *)full.values)[edge + i]);
    column_free(&full);
    column_free(&c);
    basket_ctx_free(ctx);
    ttree_free(t);
    rootfile_close(f);
}

TEST(threads_give_same_columns)
{
    mlhep_err e;
    rootfile *f;
    CHECK(rootfile_open(data("uproot-HZZ-zstd.root"), &f, &e) == 0);
    ttree *t;
    CHECK(ttree_open(f, "events", &t, &e) == 0);
    const tbranch *bs[64];
    int n = 0;
    for (int i = 0; i < t->nbranches && n < 64; i++)
        if (t->branches[i]->kind != TK_SKIPPED && t->branches[i]->dt != DT_NONE)
            bs[n++] = t->branches[i];
    column one[64], two[64];
    for (int i = 0; i < n; i++) {
        column_init(&one[i]);
        column_init(&two[i]);
    }
    CHECK(basket_read_many(f, bs, n, 100, 2000, one, 1, &e) == 0);
    CHECK(basket_read_many(f, bs, n, 100, 2000, two, 2, &e) == 0);
    for (int i = 0; i < n; i++) {
        CHECK(same_columns(&one[i], &two[i]));
        column_free(&one[i]);
        column_free(&two[i]);
    }
    ttree_free(t);
    rootfile_close(f);
}

/* The basket cache keeps one basket per branch: reading the next entry range of 51
 * branches through one context inflates nothing again; with more branches than cache
 * slots (three files' trees through one context) values stay right. Columns whose
 * buffers come from the context's huge-page arena equal malloc'd ones. */
TEST(basket_cache_is_per_branch)
{
    mlhep_err e;
    const char *files[3] = {"uproot-HZZ.root", "uproot-HZZ-zstd.root", "uproot-HZZ-zlib.root"};
    rootfile *f[3];
    ttree *t[3];
    for (int i = 0; i < 3; i++) {
        CHECK(rootfile_open(data(files[i]), &f[i], &e) == 0);
        CHECK(ttree_open(f[i], "events", &t[i], &e) == 0);
    }
    basket_ctx *ctx = basket_ctx_new_big();
    CHECK(ctx && basket_ctx_arena(ctx));
    column a, b;
    column_init(&a);
    column_init(&b);
    a.arena = basket_ctx_arena(ctx);
    for (int i = 0; i < t[0]->nbranches; i++)
        CHECK(basket_read(f[0], t[0]->branches[i], 0, 10, &a, ctx, &e) == 0);
    uint64_t first = basket_ctx_bytes(ctx);
    for (int i = 0; i < t[0]->nbranches; i++)
        CHECK(basket_read(f[0], t[0]->branches[i], 10, 20, &a, ctx, &e) == 0);
    CHECKF(basket_ctx_bytes(ctx) == first, "%llu bytes inflated again",
           (unsigned long long)(basket_ctx_bytes(ctx) - first));
    /* 153 branches, 128 slots: eviction, values still those of a fresh read */
    for (int round = 0; round < 2; round++)
        for (int fi = 0; fi < 3; fi++)
            for (int i = 0; i < t[fi]->nbranches; i++) {
                const tbranch *br = t[fi]->branches[i];
                int64_t lo = 100 * round + i, hi = lo + 50;
                CHECK(basket_read(f[fi], br, lo, hi, &a, ctx, &e) == 0);
                CHECK(basket_read(f[fi], br, lo, hi, &b, NULL, &e) == 0);
                CHECKF(same_columns(&a, &b), "file %s branch %s", files[fi], br->name);
            }
    column_free(&a);
    CHECK(a.values == NULL && a.arena == NULL);
    column_free(&b);
    basket_ctx_free(ctx);
    for (int i = 0; i < 3; i++) {
        ttree_free(t[i]);
        rootfile_close(f[i]);
    }
}

/* Bulk byte swapping (SIMD bodies, scalar tail): every width, count and alignment, into
 * another buffer, in place and moved forwards, without touching the bytes after the
 * array. */
TEST(swap_array_matches_bytewise)
{
    uint8_t src[8 * 40 + 16], dst[8 * 40 + 16];
    unsigned s = 12345;
    for (int w = 1; w <= 8; w *= 2)
        for (size_t n = 0; n < 40; n++)
            for (size_t off = 0; off < 4; off++) {
                for (size_t i = 0; i < sizeof src; i++)
                    src[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
                memset(dst, 0xAA, sizeof dst);
                cur_swap_array(dst + off, src + off, n, w);
                for (size_t i = 0; i < n; i++)
                    for (int k = 0; k < w; k++)
                        CHECKF(dst[off + i * (size_t)w + (size_t)k] == src[off + i * (size_t)w + (size_t)(w - 1 - k)],
                               "width %d count %zu offset %zu", w, n, off);
                CHECK(dst[off + n * (size_t)w] == 0xAA);
                /* in place, and moved forwards by a few bytes (values decoded where a
                 * basket was expanded, its data starting after the column's end) */
                for (size_t shift = 0; shift <= 8; shift += (shift < 2 ? 1 : 3)) {
                    memcpy(dst, src, sizeof src);
                    cur_swap_array(dst + off, dst + off + shift, n, w);
                    for (size_t i = 0; i < n; i++)
                        for (int k = 0; k < w; k++)
                            CHECKF(dst[off + i * (size_t)w + (size_t)k] ==
                                       src[off + shift + i * (size_t)w + (size_t)(w - 1 - k)],
                                   "width %d count %zu offset %zu moved by %zu", w, n, off, shift);
                }
            }
    /* no values: an empty basket or column may hand NULL buffers (no memmove(NULL, ...)) */
    for (int w = 1; w <= 8; w *= 2) {
        cur_swap_array(dst, NULL, 0, w);
        cur_swap_array(NULL, NULL, 0, w);
    }
}

/* cur_be32_offsets (a jagged basket's entry-offset array straight into the column's
 * offsets): the AVX2 path and the scalar loop agree with a plain reading of the array
 * on every count, width and bias, and both refuse a start before the data, past its
 * end, going backwards or splitting a value, wherever it sits in the array. */
static void put_be32(uint8_t *p, int64_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
}

TEST(be32_offsets_simd_matches_scalar)
{
    enum { N = 70 };
    uint8_t arr[4 * N];
    int64_t st[N + 1], o0[N + 1], o1[N + 1];
    unsigned r = 777;
    for (int wsh = 0; wsh <= 3; wsh++)
        for (size_t n = 0; n < N; n++)
            for (int fault = -1; fault < 5; fault++) {
                int32_t bias = (int32_t)(r % 300), w = 1 << wsh;
                int64_t pos = (r >> 4) % 3 * w;
                for (size_t i = 0; i < n; i++) {
                    st[i] = pos;
                    r = r * 1103515245u + 12345u;
                    pos += (int64_t)((r >> 16) % 5) * w;
                }
                int32_t end = (int32_t)pos;
                size_t at = n ? (size_t)(r >> 8) % n : 0;
                if (n && fault == 0)
                    st[at] = -1 - (int64_t)(r % 3); /* before the data */
                else if (n && fault == 1)
                    st[at] = end + 1 + (int64_t)(r % 9); /* past the end */
                else if (n && fault == 2 && at + 1 < n && st[at + 1] > st[at])
                    st[at + 1] = st[at] - w; /* backwards */
                else if (n && fault == 3 && w > 1)
                    st[at] += 1; /* splits a value */
                else if (n && fault == 4)
                    st[at] = (int64_t)INT32_MIN + 1 - bias; /* wraps when the bias is taken off */
                for (size_t i = 0; i < n; i++)
                    put_be32(arr + 4 * i, st[i] + bias);
                st[n] = end;
                int want = 0;
                for (size_t i = 0; i < n; i++) {
                    int64_t s = (int64_t)(int32_t)(uint32_t)(st[i] + bias) - bias, t = i + 1 < n ? st[i + 1] : end;
                    if (s < 0 || s > end || t < s || (t - s) % w)
                        want = -1;
                }
                int32_t f0 = -9, f1 = -9;
                memset(o0, 0x5a, sizeof o0);
                memset(o1, 0x5a, sizeof o1);
                int r0 = cur_be32_offsets(arr, n, bias, end, wsh, 1000, o0, &f0, 0);
                int r1 = cur_be32_offsets(arr, n, bias, end, wsh, 1000, o1, &f1, 1);
                CHECKF(r0 == want && r1 == want, "wsh %d n %zu fault %d: scalar %d simd %d want %d", wsh, n, fault, r0,
                       r1, want);
                if (want == 0) {
                    CHECK(f0 == (n ? st[0] : end) && f1 == f0);
                    for (size_t i = 0; i < n; i++)
                        CHECKF(o0[i] == 1000 + ((i + 1 < n ? st[i + 1] : end) - st[0]) / w && o1[i] == o0[i],
                               "wsh %d n %zu entry %zu: %lld %lld", wsh, n, i, (long long)o0[i], (long long)o1[i]);
                }
                CHECK(o0[n] == o1[n]); /* nothing written past n */
            }
}

static const char *write_temp(const uint8_t *buf, size_t n)
{
    static char p[64];
    snprintf(p, sizeof p, "/tmp/mlhep-test-reader-%d.root", (int)getpid());
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    return p;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

TEST(bad_input_gives_clear_errors)
{
    mlhep_err e;
    rootfile *f;
    CHECK(rootfile_open("/nonexistent/x.root", &f, &e) == MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "/nonexistent/x.root") != NULL, "%s", e.msg);

    uint8_t junk[200] = "this is not a ROOT file at all";
    const char *p = write_temp(junk, sizeof junk);
    CHECK(rootfile_open(p, &f, &e) == MLHEP_EFORMAT);
    CHECKF(strstr(e.msg, "not a ROOT file") != NULL, "%s", e.msg);

    size_t n;
    uint8_t *whole = slurp(data("uproot-HZZ.root"), &n);
    CHECK(whole != NULL);
    p = write_temp(whole, n / 2); /* truncated copy */
    int rc = rootfile_open(p, &f, &e);
    CHECK(rc == MLHEP_EFORMAT);
    CHECKF(strstr(e.msg, "truncated") != NULL, "%s", e.msg);

    CHECK(rootfile_open(data("uproot-HZZ.root"), &f, &e) == 0);
    ttree *t;
    CHECK(ttree_open(f, "Events", &t, &e) == MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "tree 'Events' not found") && strstr(e.msg, "events"), "%s", e.msg);
    CHECK(ttree_open(f, "events", &t, &e) == 0);
    CHECK(ttree_branch(t, "Jet_pt") == NULL);
    ttree_free(t);
    rootfile_close(f);

    /* corrupt every basket region: errors, never crashes or wrong sizes */
    for (size_t off = 2000; off + 64 < n; off += 997)
        whole[off] ^= 0xA5;
    p = write_temp(whole, n);
    if (rootfile_open(p, &f, &e) == 0) {
        if (ttree_open(f, "events", &t, &e) == 0) {
            int errors = 0;
            column c;
            column_init(&c);
            for (int i = 0; i < t->nbranches; i++)
                if (t->branches[i]->kind != TK_SKIPPED && t->branches[i]->dt != DT_NONE &&
                    basket_read(f, t->branches[i], 0, t->branches[i]->entries, &c, NULL, &e) != 0) {
                    errors++;
                    CHECKF(strstr(e.msg, "branch '") != NULL, "%s", e.msg);
                }
            CHECK(errors > 0);
            column_free(&c);
            ttree_free(t);
        }
        rootfile_close(f);
    }
    free(whole);
    unlink(p);
}

TEST(skipped_branches_are_refused_by_name)
{
    mlhep_err e;
    rootfile *f;
    CHECK(rootfile_open(data("uproot-Zmumu.root"), &f, &e) == 0);
    ttree *t;
    CHECK(ttree_open(f, "events", &t, &e) == 0);
    tbranch *b = ttree_branch(t, "Type");
    CHECK(b && b->kind == TK_SKIPPED);
    column c;
    column_init(&c);
    CHECK(basket_read(f, b, 0, 10, &c, NULL, &e) == MLHEP_EUNSUPPORTED);
    CHECKF(strstr(e.msg, "'Type'") && strstr(e.msg, "string"), "%s", e.msg);
    column_free(&c);
    ttree_free(t);
    rootfile_close(f);
}

/* Double32_t / Float16_t: the range forms ROOT knows and how each is stored. */
TEST(packed_float_ranges_as_root_reads_them)
{
    const double pi = 3.14159265358979323846;
    double xmin, xmax, factor;
    packfloat_range("[-pi,pi]    saved as a 32 bit unsigned int", &xmin, &xmax, &factor);
    CHECK(xmin == -pi && xmax == pi && factor == 4294967295.0 / (2 * pi)); /* 32 bits: 2^32 - 1 steps */
    packfloat_range("[-pi,pi, 8] comment", &xmin, &xmax, &factor);
    CHECK(xmin == -pi && factor == 256 / (2 * pi));
    packfloat_range("[0, 2pi, 12]", &xmin, &xmax, &factor);
    CHECK(xmin == 0 && xmax == 2 * pi);
    packfloat_range("[-pi/2,pi/4]", &xmin, &xmax, &factor);
    CHECK(xmin == -pi / 2 && xmax == pi / 4);
    packfloat_range("[0,  0, 14] saved as a float with 14 bits", &xmin, &xmax, &factor);
    CHECK(factor == 0 && xmin == 14.1); /* truncated mantissa: xmin carries the bits */
    packfloat_range("fArr[3][0,4,12]", &xmin, &xmax, &factor); /* first bracket: a dimension */
    CHECK(xmin == 0 && xmax == 4 && factor == 4096 / 4.0);
    packfloat_range("[0,1,40]", &xmin, &xmax, &factor); /* bad bit count: 32 */
    CHECK(factor == 4294967295.0);
    packfloat_range("no range", &xmin, &xmax, &factor);
    CHECK(xmin == 0 && xmax == 0 && factor == 0);

    packfloat p;
    const char *why = NULL;
    CHECK(packfloat_from_title(0, "", &p, &why) == 0 && p.kind == PF_FLOAT32 && packfloat_width(&p) == 4);
    CHECK(packfloat_from_title(1, "", &p, &why) == 0 && p.kind == PF_TRUNC && p.nbits == 12 && packfloat_width(&p) == 3);
    CHECK(packfloat_from_title(0, "[0,0,10]", &p, &why) == 0 && p.kind == PF_TRUNC && p.nbits == 10);
    CHECK(packfloat_from_title(0, "[0,0,20]", &p, &why) == 0 && p.kind == PF_FLOAT32); /* ROOT: nbits >= 15 ignored */
    CHECK(packfloat_from_title(0, "[0,16,16]", &p, &why) == 0 && p.kind == PF_SCALED && p.step == 1.0 / 4096);
    CHECK(packfloat_from_title(0, "[30,40]", &p, &why) == 0 && p.kind == PF_SCALED);
    CHECK(packfloat_from_title(0, "[40,30]", &p, &why) == -1 && why); /* xmin 40: no usable bit count */
    /* leaf titles: ROOT 6 "name[dims]/d[range]", older "d[range]" */
    CHECK(packfloat_from_leaf_title(0, "x[3]/d[0,16,16]", &p, &why) == 0 && p.kind == PF_SCALED && p.xmax == 16);
    CHECK(packfloat_from_leaf_title(0, "d[-2.71,10,32]", &p, &why) == 0 && p.kind == PF_SCALED && p.xmin == -2.71);
    CHECK(packfloat_from_leaf_title(1, "x/f[0,0,6]", &p, &why) == 0 && p.kind == PF_TRUNC && p.nbits == 6);

    /* pack and unpack: within half a step; truncated mantissa keeps nbits */
    uint8_t b[4];
    CHECK(packfloat_from_title(0, "[-pi,pi,20]", &p, &why) == 0);
    for (double x = -3.1; x < 3.1; x += 0.0137) {
        packfloat_put(&p, x, b);
        CHECKF(fabs(packfloat_get(&p, b) - x) <= 0.5 * 2 * pi / (1 << 20) * 1.0000001, "%.17g", x);
    }
    packfloat_put(&p, 99, b); /* out of range: clamped as ROOT does */
    CHECK(fabs(packfloat_get(&p, b) - pi) < 1e-5);
    CHECK(packfloat_from_title(0, "[0,0,8]", &p, &why) == 0);
    packfloat_put(&p, -1.5, b);
    CHECK(packfloat_get(&p, b) == -1.5);
    packfloat_put(&p, 1000.3, b);
    CHECK(fabs(packfloat_get(&p, b) - 1000.3) / 1000.3 < 1.0 / 256);
}

/* stats of a uint64 branch: the minimum stays right after values >= 2^63 */
TEST(uint64_min_after_large_values)
{
    char path[] = "/tmp/mlhep-u64-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    mlhep_err e;
    rootw_file *f;
    rootw_tree *t;
    CHECK(rootw_open(path, NULL, &f, &e) == 0);
    CHECK(rootw_tree_new(f, "T", NULL, &t, &e) == 0 && rootw_branch(t, "u/l", &e) == 0);
    uint64_t v[5] = {5, ((uint64_t)1 << 63) + 7, 3, UINT64_MAX, 9};
    rootw_col col = {ROOTW_U64, v};
    CHECK(rootw_append(t, 5, &col, &e) == 0 && rootw_close(f, &e) == 0);
    json_t *doc;
    CHECK(rootstats_file(path, NULL, 1, &doc, &e) == 0);
    unlink(path);
    json_t *b = json_array_get(json_object_get(json_array_get(json_object_get(doc, "trees"), 0), "branches"), 0);
    CHECKF(json_integer_value(json_object_get(b, "min")) == 3, "min %lld",
           (long long)json_integer_value(json_object_get(b, "min")));
    CHECK(json_real_value(json_object_get(b, "max")) == 18446744073709551615.0);
    json_decref(doc);
}

/* A jagged basket whose entry offsets are out of order (each still inside the data):
 * refused with the entry named, whether the basket is decoded straight into the column
 * (read whole) or through the cache (read from its middle). */
TEST(jagged_offsets_out_of_order_are_refused)
{
    char path[] = "/tmp/mlhep-jag-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    mlhep_err e;
    rootw_file *f;
    rootw_tree *t;
    rootw_opts o = {.compression = "none"};
    CHECK(rootw_open(path, &o, &f, &e) == 0);
    CHECK(rootw_tree_new(f, "T", NULL, &t, &e) == 0 && rootw_branch(t, "n/I", &e) == 0 &&
          rootw_branch(t, "x[n]/F", &e) == 1);
    int32_t cnt[40];
    float x[200];
    size_t nx = 0;
    for (int i = 0; i < 40; i++) {
        cnt[i] = i % 4 + 1;
        for (int k = 0; k < cnt[i]; k++, nx++)
            x[nx] = (float)nx;
    }
    rootw_col cols[2] = {{ROOTW_I32, cnt}, {ROOTW_F32, x}};
    CHECK(rootw_append(t, 40, cols, &e) == 0 && rootw_close(f, &e) == 0);
    size_t n;
    uint8_t *buf = slurp(path, &n);
    CHECK(buf != NULL);
    /* the entry offsets: big-endian, their differences 4 bytes times the counts */
    size_t at = 0, found = 0;
    for (size_t p = 0; p + 4 * 40 <= n; p++) {
        int k = 0;
        for (; k < 39; k++) {
            uint32_t a = (uint32_t)buf[p + 4 * k] << 24 | (uint32_t)buf[p + 4 * k + 1] << 16 |
                         (uint32_t)buf[p + 4 * k + 2] << 8 | buf[p + 4 * k + 3];
            uint32_t b = (uint32_t)buf[p + 4 * k + 4] << 24 | (uint32_t)buf[p + 4 * k + 5] << 16 |
                         (uint32_t)buf[p + 4 * k + 6] << 8 | buf[p + 4 * k + 7];
            if (b - a != 4u * (uint32_t)cnt[k])
                break;
        }
        if (k == 39) {
            at = p;
            found++;
        }
    }
    CHECKF(found == 1, "offset array found %zu times", found);
    uint8_t tmp[4]; /* entries 2 and 3 swapped: entry 2 ends before it starts */
    memcpy(tmp, buf + at + 8, 4);
    memcpy(buf + at + 8, buf + at + 12, 4);
    memcpy(buf + at + 12, tmp, 4);
    FILE *w = fopen(path, "wb");
    CHECK(w && fwrite(buf, 1, n, w) == n);
    fclose(w);
    free(buf);
    rootfile *rf;
    ttree *tt;
    CHECK(rootfile_open(path, &rf, &e) == 0);
    CHECK(ttree_open(rf, "T", &tt, &e) == 0);
    const tbranch *b = ttree_branch(tt, "x");
    CHECK(b && b->kind == TK_JAGGED);
    column c;
    column_init(&c);
    basket_ctx *ctx = basket_ctx_new();
    CHECK(basket_read(rf, b, 0, 40, &c, ctx, &e) == MLHEP_EFORMAT);
    CHECKF(strstr(e.msg, "entry 2 has a corrupt size") != NULL, "%s", e.msg);
    CHECK(basket_read(rf, b, 1, 40, &c, ctx, &e) == MLHEP_EFORMAT);
    CHECKF(strstr(e.msg, "entry 2 has a corrupt size") != NULL, "%s", e.msg);
    CHECK(basket_read(rf, ttree_branch(tt, "n"), 0, 40, &c, ctx, &e) == 0 && c.n == 40);
    basket_ctx_free(ctx);
    column_free(&c);
    ttree_free(tt);
    rootfile_close(rf);
    unlink(path);
}

int main(void)
{
    RUN(entry_ranges_match_full_reads);
    RUN(only_overlapping_baskets_are_decoded);
    RUN(threads_give_same_columns);
    RUN(basket_cache_is_per_branch);
    RUN(swap_array_matches_bytewise);
    RUN(be32_offsets_simd_matches_scalar);
    RUN(bad_input_gives_clear_errors);
    RUN(skipped_branches_are_refused_by_name);
    RUN(packed_float_ranges_as_root_reads_them);
    RUN(uint64_min_after_large_values);
    RUN(jagged_offsets_out_of_order_are_refused);
    return test_summary();
}

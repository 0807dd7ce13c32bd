/* test_rootwrite.c - structure of the ROOT files common/root/rootwrite writes, parsed back
 * with our cursor (header, directory, keys list, StreamerInfo, free segments, every
 * record in file order, basket extensions and offset arrays), plus refusal of bad
 * branch specs, tree paths, column types and counts, and I/O failures; and full
 * read-back of every type and compression through our own reader (rootfile/ttree/
 * basket); and the event generator (common/root/evgen): branch layout, determinism,
 * signal/background separation, files it writes. The independent check is
 * tests/cli/jsroot_roundtrip.sh (JSROOT). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root/basket.h"
#include "root/compress.h"
#include "base/cursor.h"
#include "root/evgen.h"
#include "root/rootfile.h"
#include "root/packfloat.h"
#include "root/rootwrite.h"
#include "root/streamerinfo_blob.h"
#include "test.h"

static char tmpdir[] = "/tmp/test_rootwrite.XXXXXX";

/* cursor reads have side effects: evaluate once, then compare */
#define CHECK_READ(expr, want)                                                       \
    do {                                                                             \
        long long v_ = (long long)(expr);                                            \
        CHECK_EQ_INT(v_, want);                                                      \
    } while (0)

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

typedef struct key {
    int32_t nbytes;
    int version;
    uint32_t objlen, keylen;
    int cycle;
    uint64_t seek, pdir;
    char cls[64], name[256], title[256];
    size_t end; /* offset after the three strings */
} key;

static int parse_key(const uint8_t *b, size_t n, uint64_t pos, key *k)
{
    cursor c;
    if (pos >= n)
        return -1;
    cur_init(&c, b + pos, n - pos);
    k->nbytes = cur_i32(&c);
    k->version = cur_i16(&c);
    k->objlen = cur_u32(&c);
    cur_u32(&c);
    k->keylen = cur_u16(&c);
    k->cycle = cur_i16(&c);
    if (k->version > 1000) {
        k->seek = cur_u64(&c);
        k->pdir = cur_u64(&c);
    } else {
        k->seek = cur_u32(&c);
        k->pdir = cur_u32(&c);
    }
    cur_rootstr_copy(&c, k->cls, sizeof k->cls);
    cur_rootstr_copy(&c, k->name, sizeof k->name);
    cur_rootstr_copy(&c, k->title, sizeof k->title);
    k->end = pos + c.pos;
    return cur_ok(&c) ? 0 : -1;
}

/* payload of a record, decompressed if needed (malloc'd) */
static uint8_t *payload(const uint8_t *b, size_t n, uint64_t pos, const key *k)
{
    if (pos + (uint64_t)k->nbytes > n || k->keylen > (uint32_t)k->nbytes)
        return NULL;
    uint8_t *out = malloc(k->objlen ? k->objlen : 1);
    size_t stored = (size_t)k->nbytes - k->keylen;
    mlhep_err e;
    if (stored == k->objlen)
        memcpy(out, b + pos + k->keylen, stored);
    else if (compress_unzip(NULL, b + pos + k->keylen, stored, out, k->objlen, &e)) {
        printf("  unzip: %s\n", e.msg);
        free(out);
        return NULL;
    }
    return out;
}

typedef struct hdr {
    int version, big;
    uint64_t end, seek_free, seek_info;
    uint32_t nbytes_free, nfree, nbytes_name, nbytes_info, compress;
    int units;
} hdr;

static int parse_header(const uint8_t *b, size_t n, hdr *h)
{
    cursor c;
    cur_init(&c, b, n);
    const uint8_t *m = cur_take(&c, 4);
    if (!m || memcmp(m, "root", 4))
        return -1;
    h->version = cur_i32(&c);
    h->big = h->version >= 1000000;
    if (cur_i32(&c) != 100)
        return -1;
    h->end = h->big ? cur_u64(&c) : cur_u32(&c);
    h->seek_free = h->big ? cur_u64(&c) : cur_u32(&c);
    h->nbytes_free = cur_u32(&c);
    h->nfree = cur_u32(&c);
    h->nbytes_name = cur_u32(&c);
    h->units = cur_u8(&c);
    h->compress = cur_u32(&c);
    h->seek_info = h->big ? cur_u64(&c) : cur_u32(&c);
    h->nbytes_info = cur_u32(&c);
    return cur_ok(&c) ? 0 : -1;
}

typedef struct dirrec {
    int version;
    uint32_t nbytes_keys, nbytes_name;
    uint64_t seek_dir, seek_parent, seek_keys;
} dirrec;

static int parse_dir(const uint8_t *b, size_t n, uint64_t pos, dirrec *d)
{
    cursor c;
    if (pos + 60 > n)
        return -1;
    cur_init(&c, b + pos, 60);
    d->version = cur_i16(&c);
    cur_u32(&c);
    cur_u32(&c);
    d->nbytes_keys = cur_u32(&c);
    d->nbytes_name = cur_u32(&c);
    int big = d->version > 1000;
    d->seek_dir = big ? cur_u64(&c) : cur_u32(&c);
    d->seek_parent = big ? cur_u64(&c) : cur_u32(&c);
    d->seek_keys = big ? cur_u64(&c) : cur_u32(&c);
    return cur_u16(&c) == 1 && cur_ok(&c) ? 0 : -1;
}

/* Writes a tree "Events" (optionally in dir "sub") with n entries: i/I, f[2]/F, cnt/i,
 * j[cnt]/D; plus a tree "T2" at top level with one branch. */
static int write_sample(const char *path, rootw_opts *o, int64_t n, int subdir, mlhep_err *e)
{
    rootw_file *f;
    rootw_tree *t, *t2;
    int rc = rootw_open(path, o, &f, e);
    if (rc)
        return rc;
    if ((rc = rootw_tree_new(f, subdir ? "sub/Events" : "Events", "test tree", &t, e)) ||
        (rc = rootw_tree_new(f, "T2", NULL, &t2, e))) {
        rootw_abort(f);
        return rc;
    }
    if (rootw_branch(t, "i/I", e) != 0 || rootw_branch(t, "f[2]/F", e) != 1 || rootw_branch(t, "cnt/i", e) != 2 ||
        rootw_branch(t, "j[cnt]/D", e) != 3 || rootw_branch(t2, "x/S", e) != 0) {
        rootw_abort(f);
        return -1;
    }
    int32_t *iv = malloc((size_t)n * 4);
    float *fv = malloc((size_t)n * 8);
    uint32_t *cv = malloc((size_t)n * 4);
    double *jv = malloc((size_t)n * 8 * 8);
    int16_t *xv = malloc((size_t)n * 2);
    size_t nj = 0;
    for (int64_t i = 0; i < n; i++) {
        iv[i] = (int32_t)i;
        fv[2 * i] = (float)i;
        fv[2 * i + 1] = -(float)i;
        cv[i] = (uint32_t)(i % 5);
        for (uint32_t k = 0; k < cv[i]; k++)
            jv[nj++] = (double)i + k / 10.0;
        xv[i] = (int16_t)(i * 3);
    }
    /* two appends so chunks cross clusters */
    int64_t h = n / 3;
    size_t nj1 = 0;
    for (int64_t i = 0; i < h; i++)
        nj1 += cv[i];
    rootw_col c1[4] = {{ROOTW_I32, iv}, {ROOTW_F32, fv}, {ROOTW_U32, cv}, {ROOTW_F64, jv}};
    rootw_col c2[4] = {{ROOTW_I32, iv + h}, {ROOTW_F32, fv + 2 * h}, {ROOTW_U32, cv + h}, {ROOTW_F64, jv + nj1}};
    rootw_col x1[1] = {{ROOTW_I16, xv}}, x2[1] = {{ROOTW_I16, xv + h}};
    rc = rootw_append(t, h, c1, e);
    if (!rc)
        rc = rootw_append(t, n - h, c2, e);
    if (!rc)
        rc = rootw_append(t2, h, x1, e);
    if (!rc)
        rc = rootw_append(t2, n - h, x2, e);
    free(iv);
    free(fv);
    free(cv);
    free(jv);
    free(xv);
    if (rc) {
        rootw_abort(f);
        return rc;
    }
    return rootw_close(f, e);
}

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

/* Walks every record from 100 to fEND; checks self-pointers, counts baskets, checks each
 * basket's extension, payload size and offset array. */
static void walk_records(const uint8_t *b, size_t n, const hdr *h, int64_t cluster, int *nbaskets, int *ok)
{
    *ok = 0;
    *nbaskets = 0;
    uint64_t pos = 100;
    while (pos < h->end) {
        key k;
        if (parse_key(b, n, pos, &k) || k.nbytes <= 0 || k.seek != pos) {
            printf("  bad record at %llu\n", (unsigned long long)pos);
            return;
        }
        if (!strcmp(k.cls, "TBasket")) {
            cursor c;
            cur_init(&c, b + k.end, n - k.end);
            int bv = cur_i16(&c);
            cur_u32(&c);
            int32_t nevbufsize = cur_i32(&c);
            int32_t nev = cur_i32(&c);
            uint32_t last = cur_u32(&c);
            int flag = cur_u8(&c);
            if (!cur_ok(&c) || bv != 3 || flag != 0 || k.version != 1004 || k.end + 19 != pos + k.keylen ||
                nev <= 0 || nev > cluster || last > k.keylen + k.objlen || nevbufsize <= 0) {
                printf("  bad basket at %llu (v%d flag %d nev %d)\n", (unsigned long long)pos, bv, flag, nev);
                return;
            }
            uint8_t *p = payload(b, n, pos, &k);
            if (!p)
                return;
            size_t border = last - k.keylen;
            if (border < k.objlen) { /* jagged: offset array */
                cursor oc;
                cur_init(&oc, p + border, k.objlen - border);
                int32_t cnt = cur_i32(&oc);
                int good = cnt == nev + 1 && k.objlen - border == 4 + 4 * (size_t)cnt;
                int32_t prev = (int32_t)k.keylen;
                for (int32_t i = 0; good && i < cnt; i++) {
                    int32_t off = cur_i32(&oc);
                    good = off >= prev && (uint32_t)off <= last && (i < cnt - 1 || (uint32_t)off == last);
                    prev = off;
                }
                if (!good || !cur_ok(&oc)) {
                    printf("  bad offsets in basket at %llu\n", (unsigned long long)pos);
                    free(p);
                    return;
                }
            } else if (border % (size_t)nev) {
                printf("  fixed basket not a multiple of its entries\n");
                free(p);
                return;
            }
            free(p);
            (*nbaskets)++;
        }
        pos += (uint64_t)k.nbytes;
    }
    *ok = pos == h->end;
}

TEST(layout_small)
{
    char path[256];
    path_of(path, sizeof path, "small.root");
    rootw_opts o = {.compression = "zlib:1", .cluster_entries = 100, .basket_bytes = 300};
    mlhep_err e = {0};
    CHECKF(write_sample(path, &o, 1000, 1, &e) == 0, "%s", e.msg);
    size_t n;
    uint8_t *b = slurp(path, &n);
    hdr h;
    CHECK(b && parse_header(b, n, &h) == 0);
    CHECK_EQ_INT(h.version, 62400);
    CHECK_EQ_INT(h.units, 4);
    CHECK_EQ_INT(h.compress, 101);
    CHECK_EQ_INT(h.end, n);
    CHECK_EQ_INT(h.nfree, 1);
    /* top directory */
    key top;
    CHECK(parse_key(b, n, 100, &top) == 0);
    CHECK(!strcmp(top.cls, "TFile") && !strcmp(top.name, "small.root") && top.pdir == 0);
    CHECK_EQ_INT(h.nbytes_name, top.end - 100 + 1 + strlen("small.root") + 1);
    dirrec d;
    CHECK(parse_dir(b, n, 100 + h.nbytes_name, &d) == 0);
    CHECK_EQ_INT(d.version, 5);
    CHECK_EQ_INT(d.seek_dir, 100);
    CHECK_EQ_INT(d.seek_parent, 0);
    CHECK_EQ_INT(d.nbytes_name, h.nbytes_name);
    /* StreamerInfo: ROOT's payload behind a 64-byte key */
    key si;
    CHECK(parse_key(b, n, h.seek_info, &si) == 0);
    CHECK(!strcmp(si.cls, "TList") && !strcmp(si.name, "StreamerInfo"));
    CHECK_EQ_INT(si.keylen, 64);
    CHECK_EQ_INT(si.nbytes, h.nbytes_info);
    uint8_t *sp = payload(b, n, h.seek_info, &si);
    CHECK(sp);
    cursor c;
    cur_init(&c, sp, si.objlen);
    CHECK_READ(cur_u32(&c), 0x40000000u | (si.objlen - 4));
    CHECK_READ(cur_u16(&c), 5);
    cur_skip(&c, 10);
    size_t ln;
    cur_rootstr(&c, &ln);
    CHECK_READ(cur_i32(&c), STREAMERINFO_BLOB_NCLASSES + 1);
    free(sp);
    /* keys list: Events in sub/, T2 at top; copies identical to the records' keys */
    key kl;
    CHECK(parse_key(b, n, d.seek_keys, &kl) == 0);
    CHECK_EQ_INT(kl.nbytes, d.nbytes_keys);
    cur_init(&c, b + kl.end, n - kl.end);
    int32_t nkeys = cur_i32(&c);
    CHECK_EQ_INT(nkeys, 2);
    size_t kp = kl.end + 4;
    int seen_sub = 0, seen_t2 = 0;
    uint64_t sub_seek = 0;
    for (int i = 0; i < nkeys; i++) {
        key k, at;
        CHECK(parse_key(b, n, kp, &k) == 0 && parse_key(b, n, k.seek, &at) == 0);
        CHECK_EQ_INT(k.keylen, k.end - kp);
        CHECK(memcmp(b + kp, b + k.seek, k.keylen) == 0);
        CHECK_EQ_INT(k.pdir, 100);
        if (!strcmp(k.cls, "TDirectory") && !strcmp(k.name, "sub")) {
            seen_sub = 1;
            sub_seek = k.seek;
        }
        if (!strcmp(k.cls, "TTree") && !strcmp(k.name, "T2"))
            seen_t2 = 1;
        kp = k.end;
    }
    CHECK(seen_sub && seen_t2);
    /* subdirectory record and its keys list */
    key sk;
    CHECK(parse_key(b, n, sub_seek, &sk) == 0 && sk.objlen == 60);
    dirrec sd;
    CHECK(parse_dir(b, n, sub_seek + sk.keylen, &sd) == 0);
    CHECK_EQ_INT(sd.seek_dir, sub_seek);
    CHECK_EQ_INT(sd.seek_parent, 100);
    CHECK_EQ_INT(sd.nbytes_name, sk.keylen);
    key skl, tk;
    CHECK(parse_key(b, n, sd.seek_keys, &skl) == 0 && !strcmp(skl.cls, "TDirectory"));
    CHECK_EQ_INT(skl.nbytes, sd.nbytes_keys);
    cur_init(&c, b + skl.end, n - skl.end);
    CHECK_READ(cur_i32(&c), 1);
    CHECK(parse_key(b, n, skl.end + 4, &tk) == 0 && !strcmp(tk.cls, "TTree") && !strcmp(tk.name, "Events"));
    CHECK_EQ_INT(tk.pdir, sub_seek);
    /* TTree object: v20, fEntries, fAutoFlush */
    uint8_t *tp = payload(b, n, tk.seek, &tk);
    CHECK(tp);
    cur_init(&c, tp, tk.objlen);
    CHECK_READ(cur_u32(&c), 0x40000000u | (tk.objlen - 4));
    CHECK_READ(cur_u16(&c), 20);
    uint32_t named = cur_u32(&c) & ~0x40000000u;
    cur_skip(&c, named + 12 + 10 + 14);
    CHECK_READ(cur_i64(&c), 1000);                     /* fEntries */
    cur_skip(&c, 8 * 4 + 8 + 4 * 5 + 8 * 4);
    CHECK_READ(cur_i64(&c), 100);                      /* fAutoFlush */
    CHECK(cur_ok(&c));
    free(tp);
    /* free segments */
    key fk;
    CHECK(parse_key(b, n, h.seek_free, &fk) == 0 && fk.nbytes == (int32_t)h.nbytes_free);
    cur_init(&c, b + fk.end, n - fk.end);
    CHECK_READ(cur_u16(&c), 1);
    CHECK_READ(cur_u32(&c), h.end);
    CHECK_READ(cur_u32(&c), 2000000000u);
    /* every record, in order, with consistent baskets: 4 branches x 10 clusters at
     * least, plus early flushes because of basket_bytes, plus T2 */
    int nb, ok;
    walk_records(b, n, &h, 100, &nb, &ok);
    CHECK(ok);
    CHECKF(nb > 50, "%d baskets", nb);
    free(b);
}

TEST(layout_forced_big)
{
    char path[256];
    path_of(path, sizeof path, "big.root");
    rootw_opts o = {.compression = "zstd:3", .cluster_entries = 64, .force_big = 1};
    mlhep_err e = {0};
    CHECKF(write_sample(path, &o, 500, 1, &e) == 0, "%s", e.msg);
    size_t n;
    uint8_t *b = slurp(path, &n);
    hdr h;
    CHECK(b && parse_header(b, n, &h) == 0);
    CHECK_EQ_INT(h.version, 1062400);
    CHECK(h.big);
    CHECK_EQ_INT(h.units, 8);
    CHECK_EQ_INT(h.end, n);
    CHECK_EQ_INT(h.compress, 503);
    dirrec d;
    CHECK(parse_dir(b, n, 100 + h.nbytes_name, &d) == 0);
    CHECK_EQ_INT(d.version, 1005);
    key kl, si;
    CHECK(parse_key(b, n, d.seek_keys, &kl) == 0 && kl.version == 1004);
    CHECK(parse_key(b, n, h.seek_info, &si) == 0 && si.version == 4 && si.keylen == 64);
    key fk;
    CHECK(parse_key(b, n, h.seek_free, &fk) == 0 && fk.version == 1004);
    cursor c;
    cur_init(&c, b + fk.end, n - fk.end);
    CHECK_READ(cur_u16(&c), 1001);
    CHECK_READ(cur_u64(&c), h.end);
    int nb, ok;
    walk_records(b, n, &h, 64, &nb, &ok);
    CHECK(ok);
    free(b);
}

TEST(clusters_align_baskets)
{
    /* with a large basket_bytes every basket is one cluster: fNevBuf 100 except the last */
    char path[256];
    path_of(path, sizeof path, "clusters.root");
    rootw_opts o = {.compression = "lz4:1", .cluster_entries = 100, .basket_bytes = 1 << 20};
    mlhep_err e = {0};
    CHECKF(write_sample(path, &o, 1050, 0, &e) == 0, "%s", e.msg);
    size_t n;
    uint8_t *b = slurp(path, &n);
    hdr h;
    CHECK(b && parse_header(b, n, &h) == 0);
    uint64_t pos = 100;
    int per_branch[5] = {0};
    int64_t sum[5] = {0};
    const char *names[5] = {"i", "f", "cnt", "j", "x"};
    while (pos < h.end) {
        key k;
        CHECK(parse_key(b, n, pos, &k) == 0 && k.nbytes > 0);
        if (!strcmp(k.cls, "TBasket")) {
            cursor c;
            cur_init(&c, b + k.end + 10, 4);
            int32_t nev = cur_i32(&c);
            for (int i = 0; i < 5; i++)
                if (!strcmp(k.name, names[i])) {
                    CHECK_EQ_INT(k.cycle, per_branch[i]);
                    per_branch[i]++;
                    CHECKF(nev == 100 || (sum[i] == 1000 && nev == 50), "%s basket %d: %d entries", k.name,
                           per_branch[i], nev);
                    sum[i] += nev;
                }
        }
        pos += (uint64_t)k.nbytes;
    }
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(per_branch[i], 11);
        CHECK_EQ_INT(sum[i], 1050);
    }
    free(b);
}

TEST(deterministic)
{
    char p1[256], p2[256], p3[256];
    path_of(p1, sizeof p1, "d1/same.root");
    path_of(p2, sizeof p2, "d2/same.root");
    path_of(p3, sizeof p3, "d3/same.root");
    char dd[256];
    for (int i = 1; i <= 3; i++) {
        snprintf(dd, sizeof dd, "%s/d%d", tmpdir, i);
        mkdir(dd, 0700);
    }
    rootw_opts o = {.compression = "zstd:5", .cluster_entries = 77, .seed = 42};
    mlhep_err e = {0};
    CHECK(write_sample(p1, &o, 300, 1, &e) == 0);
    CHECK(write_sample(p2, &o, 300, 1, &e) == 0);
    o.seed = 43;
    CHECK(write_sample(p3, &o, 300, 1, &e) == 0);
    size_t n1, n2, n3;
    uint8_t *a = slurp(p1, &n1), *b = slurp(p2, &n2), *c = slurp(p3, &n3);
    CHECK(a && b && c && n1 == n2 && n1 == n3);
    CHECK(memcmp(a, b, n1) == 0);
    CHECK(memcmp(a, c, n1) != 0); /* UUID follows the seed */
    free(a);
    free(b);
    free(c);
}

TEST(bad_branch_specs_refused)
{
    char path[256];
    path_of(path, sizeof path, "bad.root");
    rootw_file *f;
    rootw_tree *t;
    mlhep_err e = {0};
    CHECK(rootw_open(path, NULL, &f, &e) == 0);
    CHECK(rootw_tree_new(f, "T", NULL, &t, &e) == 0);
    CHECK_EQ_INT(rootw_branch(t, "n/I", &e), 0);
    CHECK_EQ_INT(rootw_branch(t, "fl/F", &e), 1);
    CHECK_EQ_INT(rootw_branch(t, "arr[2]/I", &e), 2);
    static const char *bad[] = {"x",        "x/Q",        "/F",          "x[/F",     "x[]/F",      "x[0]/F",
                                "x[nope]/F", "x[fl]/F",   "x[n][3]/F",   "x[3][n]/F", "n/I",       "a b/F",
                                "x[3]x/F",  "x/FF",       "x[arr]/F",    "x[-1]/F",  "x[2000000]/F", "x/",
                                "x[n]/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        int rc = rootw_branch(t, bad[i], &e);
        CHECKF(rc == MLHEP_EINVAL && e.msg[0], "spec '%s' gave %d", bad[i], rc);
    }
    CHECK(strstr(e.msg, "x[n]/") != NULL);
    /* bad tree paths */
    static const char *badpaths[] = {"", "/a", "a/", "a//b", "a b", "T"};
    for (size_t i = 0; i < sizeof badpaths / sizeof badpaths[0]; i++) {
        rootw_tree *t2;
        err_clear(&e);
        CHECKF(rootw_tree_new(f, badpaths[i], NULL, &t2, &e) == MLHEP_EINVAL && t2 == NULL, "path '%s'", badpaths[i]);
    }
    /* wrong column type, negative count: refused, nothing appended */
    int32_t nv[2] = {1, -1};
    float fv[2] = {1, 2};
    int32_t av[4] = {1, 2, 3, 4};
    rootw_col wrong[3] = {{ROOTW_I32, nv}, {ROOTW_F64, fv}, {ROOTW_I32, av}};
    CHECK(rootw_append(t, 2, wrong, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "'fl'") && strstr(e.msg, "double"));
    CHECK_EQ_INT(rootw_branch(t, "jag[n]/F", &e), 3);
    float jv[1] = {5};
    rootw_col neg[4] = {{ROOTW_I32, nv}, {ROOTW_F32, fv}, {ROOTW_I32, av}, {ROOTW_F32, jv}};
    CHECK(rootw_append(t, 2, neg, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "count -1") != NULL);
    CHECK(rootw_append(t, -1, neg, &e) == MLHEP_EINVAL);
    CHECK(rootw_append(t, 1, NULL, &e) == MLHEP_EINVAL);
    CHECK_EQ_INT(rootw_tree_entries(t), 0);
    /* a good append, then declaring a branch is refused */
    CHECK(rootw_append(t, 1, neg, &e) == 0);
    CHECK_EQ_INT(rootw_tree_entries(t), 1);
    CHECK(rootw_branch(t, "late/F", &e) == MLHEP_EINVAL);
    CHECK(rootw_close(f, &e) == 0);
    /* bad options */
    rootw_opts o = {.compression = "gzip:3"};
    CHECK(rootw_open(path, &o, &f, &e) == MLHEP_EINVAL && f == NULL);
    o.compression = "zlib:12";
    CHECK(rootw_open(path, &o, &f, &e) == MLHEP_EINVAL);
}

/* Double32_t / Float16_t leaves and split objects: specs refused or accepted as ROOT's
 * rules say, and what is written reads back through the reader (ttree/basket), the
 * object's members with their ranges from the StreamerInfo. */
TEST(packed_floats_and_objects)
{
    char path[256];
    path_of(path, sizeof path, "packed.root");
    rootw_file *f;
    rootw_tree *t;
    mlhep_err e = {0};
    CHECK(rootw_open(path, NULL, &f, &e) == 0);
    CHECK(rootw_tree_new(f, "T", NULL, &t, &e) == 0);
    CHECK_EQ_INT(rootw_branch(t, "n/I", &e), 0);
    static const char *bad[] = {"x/d[0,1", "x/d[]", "x/d[5]", "x/D[0,1]", "x/d[40,30]", "x/dd", "x/f[0,1]junk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        CHECKF(rootw_branch(t, bad[i], &e) == MLHEP_EINVAL && e.msg[0], "spec '%s'", bad[i]);
    }
    CHECK_EQ_INT(rootw_branch(t, "p/d", &e), 1);
    CHECK_EQ_INT(rootw_branch(t, "q[2]/d[0,16,16]", &e), 2);
    CHECK_EQ_INT(rootw_branch(t, "r/f[-pi/2,pi/2]", &e), 3);
    const char *jag[] = {"a/D", "j[n]/F"};
    CHECK(rootw_object(t, "o", "Cls", jag, 2, &e) == MLHEP_EINVAL && strstr(e.msg, "variable-size"));
    CHECK_EQ_INT(rootw_tree_nbranches(t), 4); /* the refused object left nothing behind */
    const char *clash[] = {"p/D"};
    CHECK(rootw_object(t, "o", "Cls", clash, 1, &e) == MLHEP_EINVAL);
    CHECK(rootw_object(t, "o", "Bad.Cls", jag, 1, &e) == MLHEP_EINVAL);
    const char *mem[] = {"m0/D", "m1/d[-pi,pi,12]", "m2[3]/f[0,0,6]", "m3/d"};
    CHECK_EQ_INT(rootw_object(t, "obj", "PackedCls", mem, 4, &e), 4);
    CHECK(rootw_object(t, "obj", "PackedCls", mem, 1, &e) == MLHEP_EINVAL);
    enum { N = 300 };
    static int32_t nv[N];
    static double pv[N], qv[2 * N], m0[N], m1[N], m3[N];
    static float rv[N], m2[3 * N];
    for (int i = 0; i < N; i++) {
        nv[i] = i % 3;
        pv[i] = i * 0.37 - 50;
        qv[2 * i] = (i % 160) * 0.1;
        qv[2 * i + 1] = 15.99;
        rv[i] = (float)((i % 100) * 0.03 - 1.5);
        m0[i] = i * 1.5;
        m1[i] = (i % 60) * 0.1 - 3;
        for (int k = 0; k < 3; k++)
            m2[3 * i + k] = (float)(i * 0.25 - k);
        m3[i] = 1.0 / (i + 1);
    }
    rootw_col cols[8] = {{ROOTW_I32, nv}, {ROOTW_D32, pv}, {ROOTW_D32, qv}, {ROOTW_F16, rv},
                         {ROOTW_F64, m0}, {ROOTW_D32, m1}, {ROOTW_F16, m2}, {ROOTW_D32, m3}};
    CHECK(rootw_append(t, N, cols, &e) == 0);
    CHECK(rootw_close(f, &e) == 0);

    rootfile *rf;
    ttree *rt;
    CHECK(rootfile_open(path, &rf, &e) == 0);
    CHECK(ttree_open(rf, "T", &rt, &e) == 0);
    static const struct { const char *name, *spec; const void *v; int f16, per; } want[] = {
        {"p", "", pv, 0, 1}, {"q", "[0,16,16]", qv, 0, 2}, {"r", "[-pi/2,pi/2]", rv, 1, 1},
        {"obj/m1", "[-pi,pi,12]", m1, 0, 1}, {"obj/m2", "[0,0,6]", m2, 1, 3}, {"obj/m3", "", m3, 0, 1}};
    column c;
    column_init(&c);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const tbranch *b = ttree_branch(rt, want[k].name);
        CHECKF(b && b->kind != TK_SKIPPED, "%s: %s", want[k].name, b && b->skip_reason ? b->skip_reason : "missing");
        CHECK(basket_read(rf, b, 0, N, &c, NULL, &e) == 0);
        packfloat pk;
        const char *why;
        CHECK(packfloat_from_title(want[k].f16, want[k].spec, &pk, &why) == 0);
        for (int i = 0; i < N * want[k].per; i++) {
            double x = want[k].f16 ? ((const float *)want[k].v)[i] : ((const double *)want[k].v)[i];
            uint8_t buf[4];
            packfloat_put(&pk, want[k].f16 ? (float)x : x, buf);
            double exp = packfloat_get(&pk, buf);
            if (want[k].f16)
                exp = (float)exp;
            CHECKF(column_get(&c, (size_t)i) == exp, "%s value %d: %.17g, expected %.17g (written %.17g)",
                   want[k].name, i, column_get(&c, (size_t)i), exp, x);
        }
    }
    const tbranch *m0b = ttree_branch(rt, "obj/m0");
    CHECK(m0b && m0b->dt == DT_F64 && basket_read(rf, m0b, 0, N, &c, NULL, &e) == 0 && column_get(&c, 7) == 10.5);
    column_free(&c);
    ttree_free(rt);
    rootfile_close(rf);
}

TEST(io_errors_reported)
{
    mlhep_err e = {0};
    rootw_file *f;
    CHECK(rootw_open("/nonexistent-dir/x.root", NULL, &f, &e) == MLHEP_EIO && f == NULL);
    CHECK(strstr(e.msg, "/nonexistent-dir/x.root") != NULL);
    if (access("/dev/full", W_OK) == 0) { /* disk full: every write fails with ENOSPC */
        rootw_opts o = {.compression = "none", .cluster_entries = 10};
        rootw_tree *t;
        int rc = rootw_open("/dev/full", &o, &f, &e);
        if (rc == 0) {
            CHECK(rootw_tree_new(f, "T", NULL, &t, &e) == 0 && rootw_branch(t, "x/D", &e) == 0);
            static double v[200000];
            rootw_col c[1] = {{ROOTW_F64, v}};
            rc = rootw_append(t, 200000, c, &e); /* 1.6 MB: more than the stdio buffer */
            if (rc == 0)
                rc = rootw_close(f, &e);
            else
                rootw_close(f, NULL);
        }
        CHECKF(rc == MLHEP_EIO && strstr(e.msg, "No space"), "rc %d: %s", rc, e.msg);
    }
}

TEST(empty_tree)
{
    char path[256];
    path_of(path, sizeof path, "empty.root");
    rootw_file *f;
    rootw_tree *t;
    mlhep_err e = {0};
    CHECK(rootw_open(path, NULL, &f, &e) == 0);
    CHECK(rootw_tree_new(f, "E", NULL, &t, &e) == 0 && rootw_branch(t, "x/F", &e) == 0);
    CHECK(rootw_close(f, &e) == 0);
    size_t n;
    uint8_t *b = slurp(path, &n);
    hdr h;
    CHECK(b && parse_header(b, n, &h) == 0 && h.end == n);
    int nb, ok;
    walk_records(b, n, &h, 1, &nb, &ok);
    CHECK(ok && nb == 0);
    free(b);
}

TEST(streamerinfo_blob_is_roots)
{
    uint8_t *p = malloc(STREAMERINFO_BLOB_OBJLEN);
    mlhep_err e;
    CHECK(compress_unzip(NULL, streamerinfo_blob, STREAMERINFO_BLOB_LEN, p, STREAMERINFO_BLOB_OBJLEN, &e) == 0);
    /* the first element is TStreamerInfo with kNewClassTag; the class tag of the second
     * element refers to it by position + 64 (fKeyLen) + 2 */
    CHECK(memcmp(p + 29, "TStreamerInfo", 13) == 0);
    cursor c;
    cur_init(&c, p, STREAMERINFO_BLOB_OBJLEN);
    cur_seek(&c, 21);
    uint32_t bc = cur_u32(&c) & ~0x40000000u;
    cur_seek(&c, 21 + 4 + bc + 1); /* skip element 0 and its option string */
    cur_u32(&c);
    CHECK_READ(cur_u32(&c), 0x80000000u | (25 + 64 + 2));
    free(p);
}


/* ---- read-back through our reader ---- */

typedef struct rb_col {
    const char *spec;
    rootw_type t;
    int flen;    /* values per entry (fixed arrays) */
    int counter; /* index of the counter column, -1 */
} rb_col;

static const rb_col RB[] = {
    {"n/I", ROOTW_I32, 1, -1},       {"o/O", ROOTW_BOOL, 1, -1},      {"b/B", ROOTW_I8, 1, -1},
    {"ub/b", ROOTW_U8, 1, -1},       {"s/S", ROOTW_I16, 1, -1},       {"us/s", ROOTW_U16, 1, -1},
    {"i/I", ROOTW_I32, 1, -1},       {"ui/i", ROOTW_U32, 1, -1},      {"l/L", ROOTW_I64, 1, -1},
    {"ul/l", ROOTW_U64, 1, -1},      {"f/F", ROOTW_F32, 1, -1},       {"d/D", ROOTW_F64, 1, -1},
    {"fa[3]/F", ROOTW_F32, 3, -1},   {"sa[2][2]/S", ROOTW_I16, 4, -1}, {"oa[2]/O", ROOTW_BOOL, 2, -1},
    {"la[2]/l", ROOTW_U64, 2, -1},   {"jo[n]/O", ROOTW_BOOL, 1, 0},   {"jb[n]/B", ROOTW_I8, 1, 0},
    {"jub[n]/b", ROOTW_U8, 1, 0},    {"js[n]/S", ROOTW_I16, 1, 0},    {"jus[n]/s", ROOTW_U16, 1, 0},
    {"ji[n]/I", ROOTW_I32, 1, 0},    {"jui[n]/i", ROOTW_U32, 1, 0},   {"jl[n]/L", ROOTW_I64, 1, 0},
    {"jul[n]/l", ROOTW_U64, 1, 0},   {"jf[n]/F", ROOTW_F32, 1, 0},    {"jd[n]/D", ROOTW_F64, 1, 0},
    {"nu/b", ROOTW_U8, 1, -1},       {"w[nu]/D", ROOTW_F64, 1, 27},
};
#define NRB ((int)(sizeof RB / sizeof RB[0]))

static dtype dtype_of(rootw_type t)
{
    static const dtype m[] = {DT_BOOL, DT_I8, DT_U8, DT_I16, DT_U16, DT_I32, DT_U32, DT_I64, DT_U64, DT_F32, DT_F64};
    return m[t];
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

static int64_t rb_count(int c, int64_t i) { return c == 0 ? (i % 53 == 7 ? 30 : (i * 7) % 9 % 6) : i % 4; }

/* the expected columns: values (typed, host order) and per-entry counts */
typedef struct rb_data {
    void *v[NRB];
    size_t nv[NRB];
} rb_data;

static void rb_make(rb_data *d, int64_t n)
{
    for (int c = 0; c < NRB; c++) {
        size_t w = (size_t)rootw_type_size(RB[c].t), nv = 0;
        for (int64_t i = 0; i < n; i++)
            nv += RB[c].counter >= 0 ? (size_t)rb_count(RB[c].counter, i) : (size_t)RB[c].flen;
        uint8_t *p = malloc(nv * w + 8);
        size_t k = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t m = RB[c].counter >= 0 ? rb_count(RB[c].counter, i) : RB[c].flen;
            for (int64_t j = 0; j < m; j++, k++) {
                uint64_t r = mix((uint64_t)c << 40 ^ (uint64_t)i << 8 ^ (uint64_t)j);
                if (c == 0 || c == 27) { /* counters */
                    if (c == 0) { int32_t v = (int32_t)rb_count(0, i); memcpy(p + 4 * k, &v, 4); }
                    else p[k] = (uint8_t)rb_count(1, i);
                } else if (RB[c].t == ROOTW_BOOL) {
                    p[k] = (uint8_t)(r & 1);
                } else if (RB[c].t == ROOTW_F32) {
                    float v = (float)((double)(int32_t)r / 65536.0);
                    memcpy(p + 4 * k, &v, 4);
                } else if (RB[c].t == ROOTW_F64) {
                    double v = (double)(int64_t)r / 3.0e6;
                    memcpy(p + 8 * k, &v, 8);
                } else {
                    memcpy(p + w * k, &r, w); /* low bytes on this little-endian host */
                }
            }
        }
        d->v[c] = p;
        d->nv[c] = nv;
    }
}

static void rb_free(rb_data *d)
{
    for (int c = 0; c < NRB; c++)
        free(d->v[c]);
}

static int rb_write(const char *path, const char *tree, rootw_opts *o, const rb_data *d, int64_t n, mlhep_err *e)
{
    rootw_file *f;
    rootw_tree *t;
    int rc = rootw_open(path, o, &f, e);
    if (rc)
        return rc;
    if ((rc = rootw_tree_new(f, tree, "read-back", &t, e))) {
        rootw_abort(f);
        return rc;
    }
    for (int c = 0; c < NRB; c++)
        if (rootw_branch(t, RB[c].spec, e) != c) {
            rootw_abort(f);
            return -1;
        }
    size_t off[NRB] = {0};
    for (int64_t done = 0; done < n;) {
        int64_t k = n - done < 700 ? n - done : 700;
        rootw_col cols[NRB];
        for (int c = 0; c < NRB; c++) {
            cols[c].type = RB[c].t;
            cols[c].data = (const uint8_t *)d->v[c] + off[c] * (size_t)rootw_type_size(RB[c].t);
            for (int64_t i = done; i < done + k; i++)
                off[c] += RB[c].counter >= 0 ? (size_t)rb_count(RB[c].counter, i) : (size_t)RB[c].flen;
        }
        if ((rc = rootw_append(t, k, cols, e))) {
            rootw_abort(f);
            return rc;
        }
        done += k;
    }
    return rootw_close(f, e);
}

/* Reads entries [a, z) of every branch and compares with the expected values. */
static int rb_check(const char *path, const char *tree, const rb_data *d, int64_t n, int64_t cluster, int64_t a,
                    int64_t z, char *why, size_t whylen)
{
    mlhep_err e = {0};
    rootfile *f = NULL;
    ttree *t = NULL;
    int bad = 0;
    column col;
    column_init(&col);
    if (rootfile_open(path, &f, &e) || ttree_open(f, tree, &t, &e)) {
        snprintf(why, whylen, "open: %s", e.msg);
        bad = 1;
    }
    if (!bad && (t->entries != n || t->autoflush != cluster || t->nbranches != NRB)) {
        snprintf(why, whylen, "tree: %lld entries, autoflush %lld, %d branches", (long long)t->entries,
                 (long long)t->autoflush, t->nbranches);
        bad = 1;
    }
    for (int c = 0; c < NRB && !bad; c++) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(RB[c].spec, "[/"), RB[c].spec);
        tbranch *b = ttree_branch(t, name);
        size_t w = (size_t)rootw_type_size(RB[c].t);
        if (!b || b->dt != dtype_of(RB[c].t) || b->entries != n ||
            b->kind != (RB[c].counter >= 0 ? TK_JAGGED : RB[c].flen > 1 ? TK_FIXED : TK_FLAT) ||
            (RB[c].counter >= 0 && (!b->counter || b->entry_offset_len <= 0 ||
                                    strcmp(b->counter->name, RB[c].counter ? "nu" : "n")))) {
            snprintf(why, whylen, "branch %s: metadata differs", name);
            bad = 1;
            break;
        }
        /* a fresh column per branch: basket.c (main 385fbcc) keeps cap_values in values,
         * so reusing a column for a wider dtype overflows; reported to the lead */
        column_free(&col);
        column_init(&col);
        if (basket_read(f, b, a, z, &col, NULL, &e)) {
            snprintf(why, whylen, "branch %s: %s", name, e.msg);
            bad = 1;
            break;
        }
        /* expected values of entries [a, z) */
        size_t first = 0, cnt = 0;
        for (int64_t i = 0; i < z; i++) {
            size_t m = RB[c].counter >= 0 ? (size_t)rb_count(RB[c].counter, i) : (size_t)RB[c].flen;
            if (i < a)
                first += m;
            else
                cnt += m;
        }
        if (col.n != z - a || col.nvalues != cnt ||
            memcmp(col.values, (const uint8_t *)d->v[c] + first * w, cnt * w) != 0) {
            snprintf(why, whylen, "branch %s: values differ (%zu values, expected %zu)", name, col.nvalues, cnt);
            bad = 1;
            break;
        }
        if (RB[c].counter >= 0) {
            int64_t acc = 0;
            for (int64_t i = a; i < z && !bad; i++) {
                if (col.offsets[i - a] != acc) {
                    snprintf(why, whylen, "branch %s: offset of entry %lld differs", name, (long long)i);
                    bad = 1;
                }
                acc += rb_count(RB[c].counter, i);
            }
        }
    }
    column_free(&col);
    ttree_free(t);
    rootfile_close(f);
    return bad;
}

TEST(readback_every_type_and_compression)
{
    const int64_t N = 2100;
    rb_data d;
    rb_make(&d, N);
    static const struct {
        const char *comp, *tree;
        int64_t cluster;
        size_t basket_bytes;
        int big;
    } cases[] = {
        {"none", "Events", 500, 0, 0},        {"zlib:1", "Events", 500, 600, 0}, {"zlib:9", "Events", 1000, 0, 0},
        {"lz4:1", "Events", 300, 900, 0},     {"lz4:6", "Events", 500, 0, 0},    {"zstd:1", "a/Events", 500, 0, 0},
        {"zstd:9", "Events", 700, 2000, 0},   {"lzma:1", "Events", 500, 0, 0},   {"zlib:4", "x/y/T", 250, 512, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], why[512] = "";
        snprintf(path, sizeof path, "%s/rb%zu.root", tmpdir, i);
        rootw_opts o = {.compression = cases[i].comp, .cluster_entries = cases[i].cluster,
                        .basket_bytes = cases[i].basket_bytes, .force_big = cases[i].big};
        mlhep_err e = {0};
        int rc = rb_write(path, cases[i].tree, &o, &d, N, &e);
        if (rc)
            rb_free(&d);
        CHECKF(rc == 0, "%s: %s", cases[i].comp, e.msg);
        int bad = rb_check(path, cases[i].tree, &d, N, cases[i].cluster, 0, N, why, sizeof why);
        /* a chunk starting at a cluster boundary (a basket boundary in every branch, what
         * readers chunk on) and ending inside baskets */
        if (!bad)
            bad = rb_check(path, cases[i].tree, &d, N, cases[i].cluster, cases[i].cluster, 1777, why, sizeof why);
        if (bad)
            rb_free(&d);
        CHECKF(!bad, "%s %s: %s", cases[i].comp, cases[i].tree, why);
    }
    rb_free(&d);
}

/* ---- event generator ---- */

static double colv(const rootw_col *c, size_t i)
{
    switch (c->type) {
    case ROOTW_F32: return ((const float *)c->data)[i];
    case ROOTW_F64: return ((const double *)c->data)[i];
    case ROOTW_I32: return ((const int32_t *)c->data)[i];
    case ROOTW_U32: return ((const uint32_t *)c->data)[i];
    case ROOTW_U64: return (double)((const uint64_t *)c->data)[i];
    default: return ((const uint8_t *)c->data)[i];
    }
}

TEST(evgen_branches)
{
    evgen *g;
    mlhep_err e = {0};
    CHECK(evgen_new("tth", 1, 1, &g, &e) == 0);
    int flat = 0, jag = 0;
    for (int i = 0; i < evgen_nbranches(g); i++)
        strchr(evgen_branch_spec(g, i), '[') ? jag++ : flat++;
    CHECK_EQ_INT(flat, 22);
    CHECK_EQ_INT(jag, 52);
    CHECK(evgen_branch_index(g, "Jet_pt") >= 0 && evgen_branch_index(g, "run") == 0 &&
          evgen_branch_index(g, "Jet") < 0);
    evgen_free(g);
    CHECK(evgen_new("nanoaod", 0, 1, &g, &e) == 0);
    CHECKF(evgen_nbranches(g) > 150, "%d", evgen_nbranches(g));
    evgen_free(g);
    CHECK(evgen_new("cms", 0, 1, &g, &e) == MLHEP_EINVAL && g == NULL);
}

TEST(evgen_chunking_does_not_matter)
{
    evgen *g;
    mlhep_err e = {0};
    CHECK(evgen_new("tth", 0, 5, &g, &e) == 0);
    int nb = evgen_nbranches(g), ipt = evgen_branch_index(g, "Jet_pt"), inj = evgen_branch_index(g, "nJet"),
        iht = evgen_branch_index(g, "HT");
    rootw_col *c = calloc((size_t)nb, sizeof *c);
    CHECK(evgen_fill(g, 0, 100, c, &e) == 0);
    double ht[100], pt[2000];
    size_t npt = 0, skip = 0;
    for (int i = 0; i < 100; i++) {
        ht[i] = colv(&c[iht], (size_t)i);
        if (i < 60)
            skip += (size_t)colv(&c[inj], (size_t)i);
    }
    for (size_t i = 0; i < 2000 && c[ipt].data; i++) {
        size_t tot = 0;
        for (int k = 0; k < 100; k++)
            tot += (size_t)colv(&c[inj], (size_t)k);
        if (i >= tot)
            break;
        pt[npt++] = colv(&c[ipt], i);
    }
    CHECK(evgen_fill(g, 60, 40, c, &e) == 0);
    int same = 1;
    for (int i = 0; i < 40; i++)
        same &= colv(&c[iht], (size_t)i) == ht[60 + i];
    for (size_t i = skip; i < npt; i++)
        same &= colv(&c[ipt], i - skip) == pt[i];
    free(c);
    evgen_free(g);
    CHECK(same);
}

static int cmp_score(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* ROC AUC of scores s (n rows of {score, label}) by rank sum */
static double auc(double (*s)[2], int n)
{
    qsort(s, (size_t)n, sizeof *s, cmp_score);
    double rank_pos = 0, npos = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && s[j][0] == s[i][0])
            j++;
        for (int k = i; k < j; k++)
            if (s[k][1] > 0.5) {
                rank_pos += (i + j - 1) / 2.0 + 1;
                npos++;
            }
        i = j;
    }
    return (rank_pos - npos * (npos + 1) / 2) / (npos * (n - npos));
}

TEST(evgen_separation_is_partial)
{
    /* logistic regression on event-level features and the six leading jets: the classes
     * must be separable (AUC >= 0.75) but not trivially (AUC <= 0.95); single features
     * alone are weak (<= 0.75) */
    enum { NEV = 3000, NF = 27 };
    static double X[2 * NEV][NF], y[2 * NEV];
    const char *flat[] = {"nJet", "nBJet", "HT", "ST", "MET_pt", "nLepton"};
    mlhep_err e = {0};
    for (int s = 0; s < 2; s++) {
        evgen *g;
        CHECK(evgen_new("tth", s, 11, &g, &e) == 0);
        rootw_col *c = calloc((size_t)evgen_nbranches(g), sizeof *c);
        CHECK(evgen_fill(g, 0, NEV, c, &e) == 0);
        int inj = evgen_branch_index(g, "nJet"), ipt = evgen_branch_index(g, "Jet_pt"),
            ibt = evgen_branch_index(g, "Jet_btagDeepB"), ie = evgen_branch_index(g, "Jet_eta"),
            ihf = evgen_branch_index(g, "Jet_hadronFlavour");
        size_t jo = 0;
        for (int i = 0; i < NEV; i++) {
            double *x = X[s * NEV + i];
            int k = 0;
            for (int f = 0; f < 6; f++)
                x[k++] = colv(&c[evgen_branch_index(g, flat[f])], (size_t)i);
            int nj = (int)colv(&c[inj], (size_t)i);
            for (int j = 0; j < 6; j++) { /* leading six jets, zero-padded */
                x[k++] = j < nj ? colv(&c[ipt], jo + (size_t)j) : 0.0;
                x[k++] = j < nj ? colv(&c[ibt], jo + (size_t)j) : 0.0;
                x[k++] = j < nj ? colv(&c[ihf], jo + (size_t)j) == 5 : 0.0;
            }
            x[k++] = fabs(colv(&c[ie], jo));
            x[k++] = fabs(colv(&c[ie], jo + 1));
            x[k++] = 1.0; /* bias */
            jo += (size_t)nj;
            y[s * NEV + i] = s;
        }
        free(c);
        evgen_free(g);
    }
    /* standardise, then shuffle deterministically into train (even) / test (odd) */
    for (int f = 0; f < NF - 1; f++) {
        double m = 0, v = 0;
        for (int i = 0; i < 2 * NEV; i++)
            m += X[i][f];
        m /= 2 * NEV;
        for (int i = 0; i < 2 * NEV; i++)
            v += (X[i][f] - m) * (X[i][f] - m);
        v = sqrt(v / (2 * NEV)) + 1e-12;
        for (int i = 0; i < 2 * NEV; i++)
            X[i][f] = (X[i][f] - m) / v;
    }
    double w[NF] = {0};
    for (int it = 0; it < 500; it++) {
        double gr[NF] = {0};
        for (int i = 0; i < 2 * NEV; i += 2) {
            double z = 0;
            for (int f = 0; f < NF; f++)
                z += w[f] * X[i][f];
            double p = 1.0 / (1.0 + exp(-z));
            for (int f = 0; f < NF; f++)
                gr[f] += (p - y[i]) * X[i][f];
        }
        for (int f = 0; f < NF; f++)
            w[f] -= 0.5 * gr[f] / NEV;
    }
    static double sc[NEV][2];
    for (int i = 1, k = 0; i < 2 * NEV; i += 2, k++) {
        double z = 0;
        for (int f = 0; f < NF; f++)
            z += w[f] * X[i][f];
        sc[k][0] = z;
        sc[k][1] = y[i];
    }
    double a = auc(sc, NEV);
    CHECKF(a >= 0.75 && a <= 0.95, "logistic regression AUC %.3f", a);
    for (int f = 0; f < 6; f++) {
        for (int i = 1, k = 0; i < 2 * NEV; i += 2, k++) {
            sc[k][0] = X[i][f];
            sc[k][1] = y[i];
        }
        double a1 = auc(sc, NEV);
        CHECKF(a1 <= 0.75 && a1 < a, "%s alone has AUC %.3f", flat[f], a1);
    }
    printf("  evgen: logistic regression test AUC %.3f\n", a);
}

TEST(evgen_writes_readable_deterministic_files)
{
    char p1[256], p2[256], p3[256];
    path_of(p1, sizeof p1, "gen1.root");
    path_of(p2, sizeof p2, "gen2.root");
    path_of(p3, sizeof p3, "gen3.root");
    mlhep_err e = {0};
    evgen_opts o = {.events = 2500, .signal = 1, .out = p1, .seed = 3, .cluster_entries = 1000};
    CHECKF(evgen_write(&o, &e) == 0, "%s", e.msg);
    o.out = p3;
    o.seed = 4;
    CHECK(evgen_write(&o, &e) == 0);
    /* same options, other chunking of the file (cluster) changes layout but not values;
     * same everything gives the same bytes */
    char d2[256];
    snprintf(d2, sizeof d2, "%s/g2", tmpdir);
    mkdir(d2, 0700);
    snprintf(p2, sizeof p2, "%s/g2/gen1.root", tmpdir);
    o.out = p2;
    o.seed = 3;
    CHECK(evgen_write(&o, &e) == 0);
    size_t n1, n2, n3;
    uint8_t *a = slurp(p1, &n1), *b = slurp(p2, &n2), *c = slurp(p3, &n3);
    int same = a && b && n1 == n2 && memcmp(a, b, n1) == 0;
    int differ = c && (n1 != n3 || memcmp(a, c, n1) != 0);
    free(a);
    free(b);
    free(c);
    CHECK(same);
    CHECK(differ);
    /* our reader sees 74 branches, 2500 entries, and the generator's HT values */
    rootfile *f;
    ttree *t;
    CHECKF(rootfile_open(p1, &f, &e) == 0, "%s", e.msg);
    if (ttree_open(f, "Events", &t, &e)) {
        rootfile_close(f);
        CHECKF(0, "%s", e.msg);
    }
    int ok = t->entries == 2500 && t->nbranches == 74 && t->autoflush == 1000;
    tbranch *ht = ttree_branch(t, "HT"), *jpt = ttree_branch(t, "Jet_pt");
    ok = ok && ht && jpt && jpt->kind == TK_JAGGED && jpt->counter && !strcmp(jpt->counter->name, "nJet");
    column col;
    column_init(&col);
    if (ok)
        ok = basket_read(f, ht, 0, 2500, &col, NULL, &e) == 0;
    evgen *g = NULL;
    rootw_col *cols = NULL;
    if (ok && evgen_new("tth", 1, 3, &g, &e) == 0 && (cols = calloc((size_t)evgen_nbranches(g), sizeof *cols)) &&
        evgen_fill(g, 0, 2500, cols, &e) == 0) {
        int iht = evgen_branch_index(g, "HT");
        for (int i = 0; i < 2500 && ok; i++)
            ok = ((const float *)col.values)[i] == colv(&cols[iht], (size_t)i);
    } else {
        ok = 0;
    }
    free(cols);
    evgen_free(g);
    column_free(&col);
    ttree_free(t);
    rootfile_close(f);
    CHECKF(ok, "%s", e.msg);
    /* bad options */
    evgen_opts bad = {.events = 0, .out = p1};
    CHECK(evgen_write(&bad, &e) == MLHEP_EINVAL);
    bad.events = 10;
    bad.preset = "nope";
    CHECK(evgen_write(&bad, &e) == MLHEP_EINVAL);
    bad.preset = NULL;
    bad.compression = "zip";
    CHECK(evgen_write(&bad, &e) == MLHEP_EINVAL);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(layout_small);
    RUN(layout_forced_big);
    RUN(clusters_align_baskets);
    RUN(deterministic);
    RUN(bad_branch_specs_refused);
    RUN(packed_floats_and_objects);
    RUN(io_errors_reported);
    RUN(empty_tree);
    RUN(streamerinfo_blob_is_roots);
    RUN(readback_every_type_and_compression);
    RUN(evgen_branches);
    RUN(evgen_chunking_does_not_matter);
    RUN(evgen_separation_is_partial);
    RUN(evgen_writes_readable_deterministic_files);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return test_summary();
}
